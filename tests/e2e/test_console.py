"""The console in a real browser (Debian Chromium driven by Playwright): log in as the operator, open the map,
check that the seven counties are shown in Chinese — in the ECharts option, in the map registered with ECharts
and as visible text — that stations are drawn, and that the browser never asked for anything beyond this server.
A screenshot goes to ``test-artifacts/console_map.png``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.harness import ARTIFACTS, chromium, outside, running_server, signed_in

pytestmark = pytest.mark.browser

NO_AREA = ("no-area", "no-area-pass-1")
"""An operator whose administrator has not yet set the area (scope place) they watch."""
COUNTIES = ("昌吉市", "阜康市", "呼图壁县", "玛纳斯县", "奇台县", "吉木萨尔县", "木垒哈萨克自治县")


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bogda web server in a subprocess over a copy of the demo region; yields its base URL."""
    folder = tmp_path_factory.mktemp("console")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    from bogda.registry.people import add_user
    from bogda.store import connect

    with connect(f"sqlite:///{db}").begin() as conn:
        add_user(conn, login=NO_AREA[0], password=NO_AREA[1], roles=["prefecture_operator"])
    with running_server(db, folder) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


CHART_STATE = """async () => {
  const { echarts } = await import('nicegui-echart');
  const el = document.querySelector('.bogda-map');
  const chart = el && echarts.getInstanceByDom(el);
  if (!chart) return null;
  const o = chart.getOption();
  const map = echarts.getMap(o.geo[0].map);
  return {
    map: o.geo[0].map,
    labelShown: o.geo[0].label.show,
    regions: o.geo[0].regions.map(r => r.name),
    registered: map ? map.geoJSON.features.map(f => f.properties.name) : [],
    series: o.series.map(s => ({ type: s.type, name: s.name, n: s.data.length,
                                 colors: s.data.map(d => d.itemStyle && d.itemStyle.color).filter(Boolean) })),
    width: el.clientWidth, height: el.clientHeight,
  };
}"""


def test_operator_sees_the_changji_map_in_chinese_offline(server: str, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1500, "height": 950}, locale="zh-CN")  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{server}/map")
    assert "/login" in page.url  # anonymous visitors are sent to the login form
    page.fill("#login", "operator")
    page.fill("#password", "operator-pass-1")
    page.click("button[type=submit]")
    page.wait_for_url("**/map")
    page.wait_for_selector(".bogda-map", timeout=30_000)

    state = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = page.evaluate(CHART_STATE)
        if state and state["registered"] and any(s["type"] == "scatter" and s["n"] for s in state["series"]):
            break
        page.wait_for_timeout(300)
    assert state is not None, "no ECharts instance on the map page"
    page.wait_for_timeout(1000)  # let the canvas paint before the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console_map.png"))

    # the chart draws the registered boundary map with labels on, and both name the seven counties in Chinese
    assert state["map"] == "bogda-region" and state["labelShown"] is True
    assert sorted(state["registered"]) == sorted(COUNTIES)
    assert sorted(state["regions"]) == sorted(COUNTIES)
    assert state["width"] > 600 and state["height"] > 400
    # stations are drawn, coloured (AQI colours or grey when offline)
    stations = next(s for s in state["series"] if s["type"] == "scatter" and s["n"] > 1)
    assert stations["n"] == len(stations["colors"]) >= 15
    assert "#9E9E9E" in stations["colors"]  # the demo's offline station
    # the same names are visible as text beside the map
    listed = [x.strip() for x in page.locator(".bogda-county").all_inner_texts()]
    assert listed == list(COUNTIES)
    for name in COUNTIES:
        assert page.get_by_text(name, exact=True).first.is_visible()
    assert page.get_by_text("bogda 生态环境监管指挥调度平台").is_visible()
    assert page.get_by_text("演示数据为模拟数据").is_visible()
    for nav in ("地图", "站点", "问题清单"):
        assert page.get_by_text(nav, exact=True).first.is_visible()

    # the grid can be shown
    page.locator(".bogda-grid-switch").click()
    deadline = time.monotonic() + 20
    grid_lines = 0
    while time.monotonic() < deadline and not grid_lines:
        page.wait_for_timeout(300)
        grid_lines = page.evaluate(CHART_STATE)["series"][0]["n"]
    assert grid_lines > 100

    # the station table answers too, still in Chinese
    page.goto(f"{server}/stations")
    page.wait_for_selector(".bogda-station-table")
    assert page.locator(".bogda-station-table tbody tr").count() >= 15
    assert page.get_by_text("离线").first.is_visible()

    assert not errors, errors
    assert requests and not outside(requests), f"requests left the server: {outside(requests)}"
    page.close()


def test_an_operator_without_an_area_is_told_why_the_pages_are_empty(server: str, browser: object) -> None:
    """A non-administrator without a scope place sees no place (auth.scope_of): every page says so, and the map page
    draws no chart (ECharts' geo layout fails on a map without features) instead of raising in the browser."""
    errors: list[str] = []
    page, requests = signed_in(browser, server, NO_AREA, "/map", errors=errors)
    page.wait_for_selector(".bogda-map-empty", timeout=30_000)
    assert page.get_by_text("没有可显示的区域。").is_visible()
    assert page.locator(".bogda-map").count() == 0
    for path in ("/map", "/stations", "/monitoring", "/forecast"):
        if path != "/map":
            page.goto(f"{server}{path}")
        banner = page.locator(".bogda-no-scope")
        banner.wait_for(timeout=30_000)
        assert "尚未设置管辖区域" in banner.inner_text(), path
    page.wait_for_timeout(1000)  # late chart errors surface here
    assert not errors, errors
    assert requests and not outside(requests), f"requests left the server: {outside(requests)}"
    page.close()
