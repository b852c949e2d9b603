"""Monitoring console pages in a real browser (Chromium + Playwright) over the demo region: the network now (map
and table coloured by AQI, grey when offline), station detail (series + calendar), county ranking, completeness and
the alarm list with acknowledge."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _need(ok: bool, reason: str) -> None:
    if not ok:
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(reason)


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from bogda.monitoring.alarms import run_alarms
    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.store import connect
    from bogda.timeutil import floor_to, now_utc

    folder = tmp_path_factory.mktemp("mon_console")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    end = floor_to(now_utc(), "hour")
    update_aqi(st, start=end - timedelta(days=8), end=end)
    run_alarms(st)
    st.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
                pytest.fail(f"server did not start: {(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[object]:
    _need(CHROMIUM.exists(), f"{CHROMIUM} not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = b.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        pg.goto(f"{server}/monitoring")
        pg.fill("#login", "operator")
        pg.fill("#password", "operator-pass-1")
        pg.click("button[type=submit]")
        pg.wait_for_url("**/monitoring")
        yield pg
        b.close()


def test_network_now_table_and_map(page: object, server: str) -> None:
    pg = page
    pg.goto(f"{server}/monitoring")  # type: ignore[attr-defined]
    pg.wait_for_selector(".bogda-monitoring-table")  # type: ignore[attr-defined]
    rows = pg.locator(".bogda-monitoring-table tbody tr")  # type: ignore[attr-defined]
    assert rows.count() >= 15
    assert pg.get_by_text("离线").first.is_visible()  # type: ignore[attr-defined]
    assert pg.locator(".bogda-monitoring-map canvas").count() >= 1  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "monitoring_now.png"))  # type: ignore[attr-defined]


def test_station_detail_charts(page: object, server: str) -> None:
    pg = page
    pg.goto(f"{server}/monitoring/station/2691A")  # type: ignore[attr-defined]
    pg.wait_for_selector(".bogda-station-series canvas", timeout=30_000)  # type: ignore[attr-defined]
    pg.wait_for_selector(".bogda-station-calendar canvas", timeout=30_000)  # type: ignore[attr-defined]
    assert pg.get_by_text("2691A").first.is_visible()  # type: ignore[attr-defined]


def test_ranking_completeness_and_alarms(page: object, server: str) -> None:
    pg = page
    for path, sel in (
        ("/monitoring/ranking", ".bogda-ranking"),
        ("/monitoring/completeness", ".bogda-completeness"),
        ("/monitoring/alarms", ".bogda-alarms"),
    ):
        pg.goto(f"{server}{path}")  # type: ignore[attr-defined]
        pg.wait_for_selector(sel, timeout=30_000)  # type: ignore[attr-defined]
