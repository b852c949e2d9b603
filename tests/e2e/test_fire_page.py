"""The satellite fire page in a real browser (Chromium + Playwright) over the demo region (Changji) with a real
FIRMS MODIS global 24 h file ingested: the operator signs in, sees the map (detections, events, heat sources) and the
lists, records a "false" verdict for the Jimsar event and sees, in place (no reload), the event verified, its pixel
labelled and the map's markers updated; the page asks nothing of any host but this one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.harness import ARTIFACTS, chromium, outside, running_server

pytestmark = pytest.mark.browser

FILES = ("firms_modis_c61_global_24h_2025-11-18.csv",)

MAP_STATE = """() => {
  const el = document.querySelector('.bogda-fire-map');
  if (!el) return null;
  return import('nicegui-echart').then(({ echarts }) => {
    const chart = echarts.getInstanceByDom(el);
    if (!chart) return null;
    const o = chart.getOption();
    return {
      map: o.geo[0].map,
      series: o.series.map(s => ({
        name: s.name, type: s.type, n: s.data.length,
        colors: s.data.map(d => (d && d.itemStyle && d.itemStyle.color) || null),
      })),
    };
  });
}"""


@pytest.fixture(scope="module")
def loaded(demo_template: Path, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    from bogda.fire.service import ingest_files
    from bogda.store import connect

    folder = tmp_path_factory.mktemp("fire_page")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    report = ingest_files(st, [shared_data / "fire" / f for f in FILES])
    st.dispose()
    return folder, {"stored": report.n_stored, "events": report.events_total, "findings": report.findings}


@pytest.fixture(scope="module")
def server(loaded: tuple[Path, dict]) -> Iterator[str]:
    folder, _ = loaded
    with running_server(folder / "demo.db", folder) as base:
        yield base


def test_operator_sees_fire_points_and_records_a_verdict(server: str, loaded: tuple[Path, dict]) -> None:
    _, report = loaded
    assert report["stored"] >= 1 and report["findings"].get("created", 0) >= 1  # the Jimsar pixel (fire.md §8.5)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))

        page.goto(f"{server}/fire")
        assert "/login" in page.url
        page.fill("#login", "operator")
        page.fill("#password", "operator-pass-1")
        page.click("button[type=submit]")
        page.wait_for_url("**/fire")
        page.wait_for_selector(".bogda-fire-map canvas", timeout=60_000)
        page.get_by_text("卫星火点").first.wait_for()

        state = page.evaluate(MAP_STATE)
        assert state is not None
        by_name = {s["name"]: s for s in state["series"]}
        assert by_name["有效火点"]["n"] == 1  # the one screened pixel in Changji on 2025-11-18 (fire.md §8.5)
        assert by_name["火点事件"]["n"] >= 1

        events = page.locator(".bogda-fire-events tbody tr")
        jimsar = events.filter(has_text="652327")
        assert jimsar.count() == 1 and "待核查" in jimsar.inner_text()
        event_id = jimsar.locator("td").first.inner_text().strip()
        dets = page.locator(".bogda-fire-detections tbody tr").filter(has_text="652327")
        assert dets.count() >= 1 and "有效火点" in dets.first.inner_text()

        # verdict: the site visit found nothing → "false"
        page.locator(".bogda-fire-verdict-event").click()
        page.get_by_role("option", name=event_id).click()
        page.locator(".bogda-fire-verdict-value").click()
        page.get_by_role("option", name="误报（现场无火无迹）").click()
        assert "#d50000" in by_name["火点事件"]["colors"]  # pending: red
        assert not errors, "\n".join(errors)  # the first load, apart from what the verdict does
        page.evaluate("() => { window.bogdaBeforeVerdict = true; }")
        page.locator(".bogda-fire-verdict-save").click()
        # the lists and the map show the new state in place: no reload (the marker survives), the toast confirms
        page.get_by_text(f"已记录：{event_id}").wait_for(timeout=30_000)
        row = page.locator(".bogda-fire-events tbody tr").filter(has_text=event_id)
        row.filter(has_text="已核查").wait_for(timeout=30_000)
        assert "false" in row.inner_text()
        page.locator(".bogda-fire-detections tbody tr").filter(has_text="核查为误报").first.wait_for(timeout=30_000)
        assert page.evaluate("() => window.bogdaBeforeVerdict === true")
        # the map's event marker turns from pending red to verified green (its options updated, not rebuilt)
        for _ in range(60):
            after = {s["name"]: s for s in page.evaluate(MAP_STATE)["series"]}
            if "#2e7d32" in after["火点事件"]["colors"]:
                break
            page.wait_for_timeout(500)
        assert "#2e7d32" in after["火点事件"]["colors"], after["火点事件"]
        # the one screened pixel is now labelled verified false on the map too
        assert (after["有效火点"]["n"], after["核查为误报"]["n"]) == (0, by_name["核查为误报"]["n"] + 1)

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "fire_page.png"), full_page=True)
        assert not errors, "\n".join(errors)
        assert requests and not outside(requests), f"requests left the server: {outside(requests)}"


@pytest.mark.parametrize(
    ("path", "selector"), [("/fire", ".bogda-fire-map"), ("/map", ".bogda-map"), ("/bigscreen", ".bs-map")]
)
def test_maps_draw_before_the_utility_css_arrives(server: str, path: str, selector: str) -> None:
    """NiceGUI generates Tailwind's CSS in the browser; on a loaded machine it can come after ECharts has set up a
    map. A map sized by Tailwind's classes alone is then 0 × 0 and ECharts' geo layout throws (seen in CI as
    "Cannot read properties of null (reading '0')"). With Tailwind's script withheld altogether, each map must still
    draw at a real size and raise nothing (map_page.map_style)."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
        withheld: list[str] = []
        page.route("**/tailwindcss.min.js", lambda r: (withheld.append(r.request.url), r.abort()))
        page.goto(f"{server}{path}")
        page.fill("#login", "operator")
        page.fill("#password", "operator-pass-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"**{path}")
        page.wait_for_selector(f"{selector} canvas", timeout=60_000)
        size = page.evaluate(
            f"() => {{ const r = document.querySelector('{selector}').getBoundingClientRect(); "
            "return [r.width, r.height]; }"
        )
        page.wait_for_timeout(1000)  # a later resize must not throw either
        assert withheld, "the test did not withhold Tailwind's script"
        assert size[0] >= 200 and size[1] >= 50, size
        assert not errors, "\n".join(errors)
