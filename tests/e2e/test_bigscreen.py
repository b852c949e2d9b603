"""The command-centre big screen and the public AQI page in a real browser (Debian Chromium driven by Playwright)
over a copy of the demo region with its AQI tables and alarms computed.

Big screen at 1920×1080: the map draws the counties and the station layer coloured by AQI (grey when offline),
the panels show the same figures as the services, the grid layer can be switched on, and a finding written into
the database while the page is open shows up without a reload. Public page at 390×844 (a phone): no login, the
prefecture's AQI and health advice, county table, station map, the zh/en switch. Neither page asks anything of a
host other than this server. Screenshots go to ``test-artifacts/bigscreen.png`` and ``public_phone.png``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.request import urlopen

import pytest

from e2e.harness import ARTIFACTS, chromium, outside, running_server
from forecast_rows import add_daily_aqi_run

pytestmark = pytest.mark.browser

COUNTIES = {"昌吉市", "阜康市", "呼图壁县", "玛纳斯县", "奇台县", "吉木萨尔县", "木垒哈萨克自治县"}


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The web server in a subprocess over a demo copy with AQI and alarms; yields (base URL, database file)."""
    from bogda.monitoring.alarms import run_alarms
    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.store import connect
    from bogda.timeutil import floor_to, now_utc

    folder = tmp_path_factory.mktemp("bigscreen")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    end = floor_to(now_utc(), "hour")
    update_aqi(st, start=end - timedelta(days=2), end=end)
    run_alarms(st)
    add_daily_aqi_run(st, FORECAST)
    st.dispose()
    with running_server(db, folder) as base:
        yield base, db


FORECAST = [(45.0, 30.0, 60.0), (95.0, 70.0, 130.0), (180.0, 120.0, 240.0)]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def _public_figures(base: str) -> dict:
    with urlopen(f"{base}/public/api/v1/stations", timeout=10) as r:
        return json.loads(r.read())


def _live_findings(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT count(*) FROM finding WHERE status IN ('open','acknowledged','dispatched')"
        ).fetchone()[0]


def _raise_finding(db: Path) -> None:
    from bogda.findings import FindingDraft, raise_finding
    from bogda.store import connect

    st = connect(f"sqlite:///{db}")
    with st.begin() as conn:
        raise_finding(
            conn,
            FindingDraft(
                kind="incident",
                severity="high",
                title="大屏测试：群众举报异味",
                dedupe_key="bigscreen-e2e-1",
                lon=87.30,
                lat=44.01,
            ),
        )
    st.dispose()


SCREEN_STATE = """async () => {
  const { echarts } = await import('nicegui-echart');
  const el = document.querySelector('.bs-map');
  const chart = el && echarts.getInstanceByDom(el);
  if (!chart) return null;
  const o = chart.getOption();
  const map = echarts.getMap(o.geo[0].map);
  return {
    registered: map ? map.geoJSON.features.map(f => f.properties.name) : [],
    series: Object.fromEntries(o.series.map(s => [s.name, {
      n: s.data.length, colors: s.data.map(d => d.itemStyle && d.itemStyle.color).filter(Boolean)}])),
    width: el.clientWidth, height: el.clientHeight,
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


def test_big_screen_shows_live_figures_on_a_wall(server: tuple[str, Path], browser: object) -> None:
    base, db = server
    page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/bigscreen")
    assert "/login" in page.url  # the wall is part of the console: operators only
    page.fill("#login", "operator")
    page.fill("#password", "operator-pass-1")
    page.click("button[type=submit]")
    page.goto(f"{base}/bigscreen")
    page.wait_for_selector(".bs-map", timeout=120_000)
    state = _wait(
        page, lambda: (s := page.evaluate(SCREEN_STATE)) and s["registered"] and s["series"]["stations"]["n"] and s
    )
    assert state, "no map with stations on the big screen"

    figures = _public_figures(base)
    # the map: seven counties, every located station drawn, offline ones grey
    assert set(state["registered"]) == COUNTIES
    assert state["series"]["stations"]["n"] == len(figures["stations"]) >= 15
    assert "#BFBFBF" in state["series"]["stations"]["colors"]
    assert state["width"] > 1000 and state["height"] > 700
    # panels equal the services' figures
    pref = figures["areas"][0]
    assert page.locator(".bs-pref-aqi").inner_text().strip() == str(pref["aqi"])
    online = sum(1 for s in figures["stations"] if s["online"])
    assert page.locator(".bs-stations-online").inner_text().strip() == f"{online} / {len(figures['stations'])}"
    before = _live_findings(db)
    assert page.locator(".bs-findings-total").inner_text().strip() == str(before)
    ranking = page.locator(".bs-county-ranking").inner_text()
    for name in COUNTIES:
        assert name in ranking

    # layers: the grid switches on, the station layer off and on again
    page.locator(".bs-layer-grid").click()
    assert _wait(page, lambda: page.evaluate(SCREEN_STATE)["series"]["grid"]["n"] > 100, 20)
    page.locator(".bs-layer-stations").click()
    assert _wait(page, lambda: page.evaluate(SCREEN_STATE)["series"]["stations"]["n"] == 0, 10)
    page.locator(".bs-layer-stations").click()
    assert _wait(page, lambda: page.evaluate(SCREEN_STATE)["series"]["stations"]["n"] > 0, 10)

    # new data arrive: a finding written into the database reaches the open page without a reload
    n_points = page.evaluate(SCREEN_STATE)["series"]["findings"]["n"]
    url = page.url
    _raise_finding(db)
    assert _live_findings(db) == before + 1
    assert _wait(page, lambda: page.locator(".bs-findings-total").inner_text().strip() == str(before + 1), 20)
    assert _wait(page, lambda: page.evaluate(SCREEN_STATE)["series"]["findings"]["n"] == n_points + 1, 10)
    assert page.url == url

    page.wait_for_timeout(800)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "bigscreen.png"))
    assert not errors, errors
    assert requests and not outside(requests), f"requests left the server: {outside(requests)}"
    page.close()


def test_public_page_on_a_phone_needs_no_login(server: tuple[str, Path], browser: object) -> None:
    base, _ = server
    ctx = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, locale="zh-CN"
    )
    page = ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/public")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    figures = _public_figures(base)
    pref = figures["areas"][0]
    assert page.locator("#pref-aqi").inner_text().strip() == str(pref["aqi"])
    advice = figures["advice"][str(pref["level"])]
    assert advice["advice_zh"] in page.locator("#advice").inner_text()
    assert page.locator("tr.county").count() == 7
    assert page.locator("tr.station").count() == len(figures["stations"])
    days = page.locator("tr.forecast-day")  # the 7-day strip: mean, category and the p10-p90 range per day
    assert days.count() == len(FORECAST)
    assert [days.nth(i).locator("td.num").inner_text() for i in range(len(FORECAST))] == ["45", "95", "180"]
    assert "可能范围 120–240" in days.nth(2).inner_text()
    assert "中度污染" in days.nth(2).inner_text()
    n = page.evaluate("() => window.bogdaPublicChart.getOption().series[0].data.length")
    assert n == len(figures["stations"])
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, "no horizontal scrolling on a phone"
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "public_phone.png"), full_page=True)

    page.get_by_role("button", name="English").click()
    assert page.locator("#title").inner_text() == "Changji air quality now"
    assert advice["advice_en"] in page.locator("#advice").inner_text()
    assert page.evaluate("() => document.documentElement.lang") == "en"

    assert not errors, errors
    assert requests and not outside(requests), f"requests left the server: {outside(requests)}"
    ctx.close()


def test_public_page_shows_the_published_forecast(server: tuple[str, Path], browser: object) -> None:
    """Once the duty forecaster publishes today's forecast (预报发布), the public page shows its AQI ranges with the
    primary pollutant and says it was published, instead of the model's forecast with its likely range."""
    from bogda.forecast import publication as pb
    from bogda.forecast.service import registry
    from bogda.store import connect
    from bogda.timeutil import beijing_date, now_utc

    base, db = server
    st = connect(f"sqlite:///{db}")
    today = beijing_date(now_utc())
    ranges = [(35, 55, "PM2.5"), (90, 120, "PM2.5,PM10"), (140, 170, "PM2.5")]
    entries = [
        pb.DayEntry(t.code, today + timedelta(days=k), lo, hi, p)
        for t in registry(st).areas
        for k, (lo, hi, p) in enumerate(ranges, 1)
    ]
    pb.publish(st, entries, by="duty")
    st.dispose()
    page = browser.new_page(locale="zh-CN")  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    def shown() -> list[str] | None:
        page.goto(f"{base}/public")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        days = page.locator("tr.forecast-day")
        texts = [days.nth(i).inner_text() for i in range(days.count())]
        return texts if texts and "90–120" in texts[1] else None

    texts = _wait(page, shown)
    assert texts, "the published forecast never reached the public page"
    assert "35–55" in texts[0] and "首要污染物 PM2.5" in texts[0] and "可能范围" not in texts[0]
    assert "首要污染物 PM2.5、PM10" in texts[1] and "中度污染" in texts[2]
    assert page.locator("#forecast-issued").inner_text().startswith("预报员发布时间")
    assert requests and not outside(requests)
    page.close()
