"""Monitoring console pages in a real browser (Chromium + Playwright) over the demo region with a heavy episode at
呼图壁: the network now (map and table coloured by AQI, grey when offline), station detail (series + calendar), county
ranking, completeness, the alarm list with acknowledge, and the alarms on the problem list (问题清单)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from e2e.harness import ARTIFACTS, chart_tooltip, chromium, running_server
from forecast.episode import set_pm

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def db(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bogda.monitoring.alarms import run_alarms
    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.store import connect
    from bogda.timeutil import floor_to, now_utc

    folder = tmp_path_factory.mktemp("mon_console")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    set_pm(st, ["CJ-HT01"], 260.0)  # 呼图壁县's station in a heavy episode: its alarms, and its county's
    end = floor_to(now_utc(), "hour")
    update_aqi(st, start=end - timedelta(days=8), end=end)
    run_alarms(st)
    st.dispose()
    return db


@pytest.fixture(scope="module")
def server(db: Path) -> Iterator[str]:
    with running_server(db, db.parent) as base:
        yield base


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[object]:
    with chromium() as b:
        pg = b.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        pg.goto(f"{server}/monitoring")
        pg.fill("#login", "operator")
        pg.fill("#password", "operator-pass-1")
        pg.click("button[type=submit]")
        pg.wait_for_url("**/monitoring")
        yield pg


def test_network_now_table_and_map(page: object, server: str) -> None:
    pg = page
    pg.goto(f"{server}/monitoring")  # type: ignore[attr-defined]
    pg.wait_for_selector(".bogda-monitoring-table")  # type: ignore[attr-defined]
    rows = pg.locator(".bogda-monitoring-table tbody tr")  # type: ignore[attr-defined]
    assert rows.count() >= 15
    assert pg.get_by_text("离线").first.is_visible()  # type: ignore[attr-defined]
    assert pg.locator(".bogda-monitoring-map canvas").count() >= 1  # type: ignore[attr-defined]
    # the legend in the official colours (Quasar's bg-primary once painted it all blue), white text on the dark two
    look = "els => els.map(e => [e.innerText, getComputedStyle(e).backgroundColor, getComputedStyle(e).color])"
    legend = pg.locator(".bogda-aqi-legend .q-badge").evaluate_all(look)  # type: ignore[attr-defined]
    black, white = "rgb(0, 0, 0)", "rgb(255, 255, 255)"
    assert legend[:6] == [
        ["优", "rgb(0, 228, 0)", black],
        ["良", "rgb(255, 255, 0)", black],
        ["轻度污染", "rgb(255, 126, 0)", black],
        ["中度污染", "rgb(255, 0, 0)", black],
        ["重度污染", "rgb(153, 0, 76)", white],
        ["严重污染", "rgb(126, 0, 35)", white],
    ]
    dark = {"rgb(153, 0, 76)", "rgb(126, 0, 35)"}
    cells = pg.locator(".bogda-monitoring-table tbody .q-badge").evaluate_all(look)  # type: ignore[attr-defined]
    assert cells and all((bg in dark) == (fg == white) for _, bg, fg in cells)
    assert any(bg in dark for _, bg, _ in cells)  # 呼图壁's station (AQI > 300) among them
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "monitoring_now.png"))  # type: ignore[attr-defined]


def test_station_detail_charts(page: object, server: str) -> None:
    pg = page
    pg.goto(f"{server}/monitoring/station/2691A")  # type: ignore[attr-defined]
    pg.wait_for_selector(".bogda-station-series canvas", timeout=30_000)  # type: ignore[attr-defined]
    pg.wait_for_selector(".bogda-station-calendar canvas", timeout=30_000)  # type: ignore[attr-defined]
    assert pg.get_by_text("2691A").first.is_visible()  # type: ignore[attr-defined]


def test_station_chart_reads_beijing_time_in_a_browser_on_urumqi_time(page: object, server: str, db: Path) -> None:
    """A machine in Xinjiang may run on Urumqi time (UTC+6); the chart's times are Beijing time, as is the rest of
    the platform (architecture.md §4): the tooltip of the newest PM2.5 hour names its Beijing hour."""
    from bogda.monitoring.load import read_qa
    from bogda.monitoring.stations import station_sites
    from bogda.store import connect
    from bogda.timeutil import now_utc, to_beijing

    st = connect(f"sqlite:///{db}")
    try:
        sid = station_sites(st).filter(pl.col("code") == "2691A")["site_id"][0]
        qa = read_qa(st, sites=[int(sid)], start=now_utc() - timedelta(days=15))
    finally:
        st.dispose()
    pm = qa.filter((pl.col("parameter") == "a34004") & pl.col("flag").is_in(["valid", "suspect"]))
    newest = to_beijing(pm["ts"].max()).strftime("%Y-%m-%d %H:%M:%S")
    browser = page.context.browser  # type: ignore[attr-defined]  # the module's: one Playwright per thread
    pg = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN", timezone_id="Asia/Urumqi")
    try:
        assert pg.evaluate("new Date(Date.UTC(2026, 0, 1, 12)).getHours()") == 18  # the browser is on UTC+6
        pg.goto(f"{server}/monitoring/station/2691A")
        pg.fill("#login", "operator")
        pg.fill("#password", "operator-pass-1")
        pg.click("button[type=submit]")
        lines = chart_tooltip(pg, ".bogda-station-series", 0, -1)  # PM2.5's newest hour
    finally:
        pg.close()
    assert lines[0] == newest, (lines, newest)


def test_ranking_completeness_and_alarms(page: object, server: str) -> None:
    pg = page
    for path, sel in (
        ("/monitoring/ranking", ".bogda-ranking"),
        ("/monitoring/completeness", ".bogda-completeness"),
        ("/monitoring/alarms", ".bogda-alarms"),
    ):
        pg.goto(f"{server}{path}")  # type: ignore[attr-defined]
        pg.wait_for_selector(sel, timeout=30_000)  # type: ignore[attr-defined]


def test_alarms_on_the_problem_list_in_words_and_by_place(page: object, server: str) -> None:
    """The alarms the engine filed, on the problem list: by the station's or area's name, with the county, and the
    kind, severity and state in words (forecast.md §3.7, governance §3.1)."""
    pg = page
    pg.goto(f"{server}/findings")  # type: ignore[attr-defined]
    pg.wait_for_selector(".bogda-findings-table tbody tr")  # type: ignore[attr-defined]
    texts = pg.locator(".bogda-findings-table tbody tr").all_inner_texts()  # type: ignore[attr-defined]
    rows = [r.split("\t") for r in texts]
    station = next(r for r in rows if "呼图壁县呼图壁镇站（模拟）（CJ-HT01）" in r[3])
    assert station[1] in ("高", "严重") and station[2] == "当日报警" and station[4] == "呼图壁县", station
    assert station[5] == "待处理", station  # filed, not yet routed (no scheduler runs under the test server)
    county = [r for r in rows if r[3].startswith("呼图壁县（652323） ")]
    assert county and all(r[4] == "呼图壁县" for r in county), county
    assert not any(r[1] in ("low", "medium", "high", "critical") for r in rows)
    pg.screenshot(path=str(ARTIFACTS / "findings_page.png"), full_page=True)  # type: ignore[attr-defined]
