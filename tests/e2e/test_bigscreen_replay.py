"""The big screen's replay, forecast strip, targets panel and area filtering in a real browser (Debian Chromium
driven by Playwright) over a copy of the demo region with three days of AQI, a forecast run and an annual target.

At 1920×1080: the 7-day strip shows the run's values; the targets panel shows the API's year-to-date figures; the
replay slider scrubs to 72 h ago and the map then shows the stations as they were at that hour (equal to the
replay API's frame), play advances the hour, 「实时」 returns to the live picture. A county user's screen holds only
their county, as the API does. Every request outside this machine is aborted and fails the test. Screenshots:
``test-artifacts/bigscreen_replay.png``, ``bigscreen_county.png``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

from e2e.harness import ARTIFACTS, LOCAL_HOSTS, chromium, running_server
from forecast_rows import add_daily_aqi_run

pytestmark = pytest.mark.browser

COUNTY_LOGIN, COUNTY_PASSWORD = "county-e2e", "county-e2e-pass-1"
FORECAST = [(48.0, 30.0, 70.0), (55.0, 35.0, 80.0), (61.0, 40.0, 90.0), (72.0, 45.0, 101.0), (90.0, 60.0, 130.0)]
FORECAST += [(120.0, 80.0, 160.0), (66.0, 40.0, 95.0)]


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from sqlalchemy import select

    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.registry.people import add_user
    from bogda.store import connect
    from bogda.store.schema import air_target, place, warning
    from bogda.timeutil import beijing_date, floor_to, now_utc

    folder = tmp_path_factory.mktemp("bigscreen_replay")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    now = now_utc()
    end = floor_to(now, "hour")
    update_aqi(st, start=end - timedelta(days=4), end=end)
    today = beijing_date(now)
    add_daily_aqi_run(st, FORECAST, now=now)
    with st.begin() as conn:
        county = conn.execute(select(place.c.id).where(place.c.code == "652301")).scalar_one()
        add_user(conn, login=COUNTY_LOGIN, password=COUNTY_PASSWORD, roles=["county_operator"], scope_place_id=county)
        conn.execute(
            warning.insert().values(
                area_code="652302",
                rule_set="2024",
                level="orange",
                cause="pm25",
                start_date=today,
                end_date=today + timedelta(days=2),
                state="issued",
                evidence={},
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            air_target.insert().values(
                place_code="652300", year=today.year, metric="pm25_mean", comparison="<=", value=33.0
            )
        )
    st.dispose()
    with running_server(db, folder) as base:
        yield base, db


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def _api(base: str, path: str, login: tuple[str, str]) -> dict:
    import base64

    token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
    with urlopen(Request(f"{base}{path}", headers={"Authorization": f"Basic {token}"}), timeout=30) as r:
        return json.loads(r.read())


def _guarded_page(browser: object, **kwargs: object) -> tuple[object, list[str], list[str]]:
    """A page whose requests to any host but this machine are aborted and recorded (the test then fails)."""
    from urllib.parse import urlsplit

    page = browser.new_page(**kwargs)  # type: ignore[attr-defined]
    outside: list[str] = []
    errors: list[str] = []

    def route(r: object) -> None:
        url = r.request.url  # type: ignore[attr-defined]
        if url.startswith("data:") or urlsplit(url.removeprefix("blob:")).hostname in LOCAL_HOSTS:
            r.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(url)
            r.abort()  # type: ignore[attr-defined]

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, outside, errors


def _login(page: object, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("#login", login)  # type: ignore[attr-defined]
    page.fill("#password", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]


STATE = """async () => {
  const { echarts } = await import('nicegui-echart');
  const el = document.querySelector('.bs-map');
  const chart = el && echarts.getInstanceByDom(el);
  if (!chart) return null;
  const o = chart.getOption();
  const map = echarts.getMap(o.geo[0].map);
  return {
    regions: (o.geo[0].regions || []).filter(r => r.itemStyle && r.itemStyle.areaColor)
      .map(r => [r.name, r.itemStyle.areaColor]),
    registered: map ? map.geoJSON.features.map(f => f.properties.name) : [],
    series: Object.fromEntries(o.series.map(s => [s.name, {
      n: s.data.length, names: s.data.map(d => d.name),
      colors: s.data.map(d => d.itemStyle && d.itemStyle.color)}])),
  };
}"""


def _wait(page: object, predicate, timeout_s: float = 30.0) -> object:
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(300)  # type: ignore[attr-defined]
    return value


def _open_screen(page: object, base: str) -> dict:
    page.goto(f"{base}/bigscreen")  # type: ignore[attr-defined]
    page.wait_for_selector(".bs-map", timeout=120_000)  # type: ignore[attr-defined]
    state = _wait(
        page, lambda: (s := page.evaluate(STATE)) and s["registered"] and s["series"]["stations"]["n"] and s, 60
    )
    assert state, "no map with stations on the big screen"
    return state  # type: ignore[return-value]


def test_forecast_targets_and_replay(server: tuple[str, Path], browser: object) -> None:
    base, _ = server
    page, outside, errors = _guarded_page(browser, viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    _login(page, base, "operator", "operator-pass-1")
    live = _open_screen(page, base)

    # the county under the orange warning is filled; today's good-day status equals the API's
    assert [r[0] for r in live["regions"]] == ["阜康市"] and "249,115,22" in live["regions"][0][1]
    figs = _api(base, "/api/v1/bigscreen/figures", ("operator", "operator-pass-1"))
    today = figs["today"].get("652300")
    want_today = (
        "—" if not today or today["aqi"] is None else f"{today['aqi']} · {'优良' if today['good'] else '非优良'}"
    )
    assert page.locator(".bs-today").inner_text().strip() == want_today

    # the 7-day strip: the run's values and their p10-p90 range (read after the map is up)
    days = page.locator(".bs-forecast-day")
    assert _wait(page, lambda: days.count() == 7, 60)
    assert days.count() == 7
    for i, (mean, p10, p90) in enumerate(FORECAST):
        text = days.nth(i).inner_text()
        assert f"{mean:.0f}" in text and f"{p10:.0f}–{p90:.0f}" in text, text

    # the targets panel: the API's year-to-date figures and the entered target
    prog = _api(base, "/api/v1/bigscreen/progress", ("operator", "operator-pass-1"))
    ytd = prog["windows"]["ytd"]
    want = "—" if ytd["good_day_ratio"] is None else f"{ytd['good_day_ratio']:.1f}"
    assert page.locator(".bs-progress-good-2").inner_text().strip() == want
    assert page.locator(".bs-progress-pm25-4").inner_text().strip() == "≤33"

    # replay: scrub to the oldest hour; the stations are drawn as the replay API's frame has them
    frame0 = _api(base, "/api/v1/bigscreen/replay?step=0", ("operator", "operator-pass-1"))
    slider = page.locator(".bs-replay-slider")
    box = slider.bounding_box()
    slider.click(position={"x": 1, "y": box["height"] / 2})
    assert _wait(page, lambda: page.locator(".bs-replay-time").inner_text().startswith("回放"), 20)
    want_colours = sorted(s["colour"] for s in frame0["stations"] if s["lon"] is not None)
    assert _wait(page, lambda: sorted(page.evaluate(STATE)["series"]["stations"]["colors"]) == want_colours, 15)
    label0 = page.locator(".bs-replay-time").inner_text()
    assert f"问题 {frame0['findings_open']}" in page.locator(".bs-replay-counts").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "bigscreen_replay.png"))

    # play advances hour by hour, pause stops
    page.locator(".bs-replay-play").click()
    assert _wait(page, lambda: page.locator(".bs-replay-time").inner_text() != label0, 10)
    page.locator(".bs-replay-play").click()
    # back to live
    page.locator(".bs-replay-live").click()
    assert _wait(page, lambda: page.locator(".bs-replay-time").inner_text() == "实时画面", 10)
    assert _wait(
        page, lambda: page.evaluate(STATE)["series"]["stations"]["colors"] == live["series"]["stations"]["colors"], 15
    )

    assert not errors, errors
    assert not outside, f"requests left the server: {outside}"
    page.close()


def test_a_county_user_sees_only_the_county(server: tuple[str, Path], browser: object) -> None:
    base, _ = server
    page, outside, errors = _guarded_page(browser, viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    _login(page, base, COUNTY_LOGIN, COUNTY_PASSWORD)
    state = _open_screen(page, base)
    api = _api(base, "/api/v1/bigscreen/figures", (COUNTY_LOGIN, COUNTY_PASSWORD))
    assert state["registered"] == ["昌吉市"]
    assert sorted(state["series"]["stations"]["names"]) == sorted(s["name"] for s in api["stations"] if s["lon"])
    assert {s["county_code"] for s in api["stations"]} == {"652301"}
    ranking = page.locator(".bs-county-ranking").inner_text()
    assert "昌吉市" in ranking and "阜康市" not in ranking
    assert "昌吉市" in page.locator(".bs-pref-name").inner_text()
    assert page.locator(".bs-scope-note").count() == 1
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "bigscreen_county.png"))
    assert not errors, errors
    assert not outside, f"requests left the server: {outside}"
    page.close()
