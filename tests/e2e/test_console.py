"""The console in a real browser (Debian Chromium driven by Playwright): log in as the operator, open the map,
check that the seven counties are shown in Chinese — in the ECharts option, in the map registered with ECharts
and as visible text — that stations are drawn, and that the browser never asked for anything beyond this server.
A screenshot goes to ``test-artifacts/console_map.png``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
COUNTIES = ("昌吉市", "阜康市", "呼图壁县", "玛纳斯县", "奇台县", "吉木萨尔县", "木垒哈萨克自治县")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _need(condition: bool, reason: str) -> None:
    if not condition:
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bogda web server in a subprocess over a copy of the demo region; yields its base URL."""
    folder = tmp_path_factory.mktemp("console")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    port = _free_port()
    env = {
        **os.environ,
        "BOGDA_DATABASE_URL": f"sqlite:///{db}",
        "BOGDA_DATA_DIR": str(folder / "data"),
        "BOGDA_GATEWAY__HOST": "127.0.0.1",  # an ephemeral gateway port: servers of parallel workers never collide
        "BOGDA_GATEWAY__PORT": "0",
        "NICEGUI_STORAGE_PATH": str(folder / "nicegui"),
    }
    code = (
        f"from bogda.config import Settings; from bogda.web.server import serve; serve(Settings(), '127.0.0.1', {port})"
    )
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urlopen(f"{base}/api/v1/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"server did not start: {(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _need(CHROMIUM.exists(), f"{CHROMIUM} not installed (apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright (Python) is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


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
    outside = sorted({u for u in requests if urlsplit(u).hostname not in LOCAL_HOSTS and not u.startswith("data:")})
    assert requests and not outside, f"requests left the server: {outside}"
    page.close()
