"""The forecast page's publication panel in a real browser (预报发布, HJ 633-2026): today's duty, the grid prefilled
from the latest run, a correction published by the forecaster and shown with its level words and its mark, a bad
cell refused with its area and day named, and a reader who sees the publication but gets no grid."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bogda.store import Store
from console_users import add_issuer_and_reader
from e2e.harness import ARTIFACTS, chart_tooltip, chromium, outside, running_server, signed_in
from forecast.episode import publication_days, set_daily_aqi, set_pm

pytestmark = pytest.mark.browser
FORECASTER = ("duty", "duty-pass-123")
READER = ("reader", "reader-pass-123")


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:

    from bogda.forecast import service as sv
    from bogda.store import connect

    folder = tmp_path_factory.mktemp("forecast_publication_page")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    set_pm(st, ["CJ-HT01"], 260.0)
    sv.refresh(st, models=None)
    with st.begin() as conn:
        add_issuer_and_reader(conn, FORECASTER, READER, capability="forecaster")
    past_publication(st)
    n_days = publication_days(st)
    st.dispose()
    with running_server(db, folder) as base:
        yield base, n_days


def past_publication(st: Store) -> None:
    """A publication issued 5 days ago whose 昌吉市 ranges (60–80) held the observed AQI 70 where the model's drafts
    (135) did not: the scores table's material."""
    from bogda.forecast import publication as pb
    from bogda.forecast import service as sv
    from bogda.timeutil import beijing_date, day_start_utc, now_utc

    issue = beijing_date(now_utc()) - timedelta(days=5)
    for k in (1, 2, 3):
        set_daily_aqi(st, "652301", issue + timedelta(days=k), 70, "PM2.5")
    areas = [t.code for t in sv.registry(st).areas]
    entries = [
        pb.DayEntry(c, issue + timedelta(days=k), 60, 80, "PM2.5", 135.0, "PM10") for c in areas for k in (1, 2, 3)
    ]
    pb.publish(st, entries, by="duty", issue_date=issue, now=day_start_utc(issue) + timedelta(hours=18))


def test_forecaster_corrects_and_publishes_reader_sees_it(server: tuple[str, int]) -> None:
    server, n_days = server
    with chromium() as b:
        pg, urls = signed_in(b, server, FORECASTER, "/forecast")
        status = pg.locator(".bogda-publication-status").inner_text()
        assert "预报尚未发布" in status or "已过 20:00" in status, status
        cells = pg.locator(".bogda-publication-cell input")
        # the prefecture and 7 counties, D+1..D+7 (D+6 in the hour after midnight), prefilled from the run's draft
        assert cells.count() == 8 * n_days
        first = pg.locator("[class*='bogda-cell-652323-'] input").first  # 呼图壁县, D+1, in its 260 µg/m³ episode
        drafted = first.input_value()
        lo, hi = (int(x) for x in drafted.split()[0].split("-"))
        assert lo > 200 and hi - lo in (50, 100) and drafted.endswith("PM2.5"), drafted
        # a cell that is not a range: refused, its area and day named, nothing published
        first.fill("about 250")
        pg.locator(".bogda-publish").click()
        problem = pg.locator(".bogda-publication-problems").first
        problem.wait_for()
        assert "652323 " in problem.inner_text() and "60-80 PM2.5" in problem.inner_text()
        assert "预报尚未发布" in pg.locator(".bogda-publication-status").inner_text() or "已过" in status
        # the forecaster's correction: a cold front a day early
        first.fill("180-210 PM2.5")
        pg.locator(".bogda-publication-note input").fill("冷空气提前一天")
        pg.locator(".bogda-publish").click()
        pg.wait_for_selector(".bogda-publication")
        status = pg.locator(".bogda-publication-status").inner_text()
        assert "预报已发布" in status and "发布人 duty" in status, status
        table = pg.locator(".bogda-publication").inner_text()
        assert "180–210" in table and "中度污染至重度污染" in table and "呼图壁" in table
        assert pg.locator(".bogda-corrected").count() == 1  # only the cell the forecaster changed
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "forecast_publication.png"), full_page=True)
        assert outside(urls) == []
        # a reader sees the publication, not the grid
        pg2, urls2 = signed_in(b, server, READER, "/forecast")
        pg2.wait_for_selector(".bogda-publication")
        assert "180–210" in pg2.locator(".bogda-publication").inner_text()
        assert pg2.locator(".bogda-publication-cell").count() == 0 and pg2.locator(".bogda-publish").count() == 0
        # the last 30 days scored, published against the model's drafts, with what the corrections gained
        scores = pg2.locator(".bogda-publication-scores").inner_text()
        assert "订正增益" in scores and "1.00 / 0.00" in scores and "+1.00 (—)" in scores, scores
        assert outside(urls2) == []


def test_series_tooltip_reads_beijing_time_and_the_band_as_its_range(server: tuple[str, int]) -> None:
    """On a machine on Urumqi time (UTC+6) the forecast chart's tooltip names the Beijing hour the API gives, and
    reads the p10–p90 band as its range (the chart stacks it as p10 plus a width, which once showed as the band)."""
    base, _ = server
    with chromium() as b:
        pg, urls = signed_in(b, base, READER, "/forecast", timezone="Asia/Urumqi")
        assert pg.evaluate("new Date(Date.UTC(2026, 0, 1, 12)).getHours()") == 18  # the browser is on UTC+6
        payload = pg.request.get(f"{base}/api/v1/forecast/series/652300?item=a34004").json()
        point = payload["forecast"][payload["primary"]][5]
        lines = chart_tooltip(pg, ".bogda-series", 3, 5)  # series 3: the primary forecast
        assert lines[0] == point["t"]["local"][:19].replace("T", " "), (lines, point)
        band = next(x for x in lines if x.startswith("10%–90% 区间 "))
        lo, hi = (float(v) for v in band.removeprefix("10%–90% 区间 ").split("–"))
        assert lo == pytest.approx(point["p10"], abs=0.06) and hi == pytest.approx(point["p90"], abs=0.11), band
        assert not any(x.startswith("p10") for x in lines)  # the band's floor is no line of its own
        assert outside(urls) == []
