"""The problem list (问题清单) in a real browser over the demo region: a same-day alarm filed by the alarm engine is
shown with its kind, severity and state in words and its area by name (forecast.md §3.7, governance §3.1)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from e2e.harness import ARTIFACTS, chromium, outside, running_server, signed_in
from forecast.episode import set_pm

pytestmark = pytest.mark.browser
OPERATOR = ("operator", "operator-pass-1")


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from bogda.monitoring.alarms import run_alarms
    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.store import connect
    from bogda.timeutil import floor_to, now_utc

    folder = tmp_path_factory.mktemp("findings_page")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    set_pm(st, ["CJ-HT01"], 260.0)  # 呼图壁县's station in a heavy episode: its alarms, and its county's
    end = floor_to(now_utc(), "hour")
    update_aqi(st, start=end - timedelta(days=2), end=end)
    run_alarms(st)
    st.dispose()
    with running_server(db, folder) as base:
        yield base


def test_alarms_on_the_problem_list_in_words_and_by_place(server: str) -> None:
    with chromium() as b:
        pg, urls = signed_in(b, server, OPERATOR, "/findings")
        pg.wait_for_selector(".bogda-findings-table tbody tr")
        rows = [r.split("\t") for r in pg.locator(".bogda-findings-table tbody tr").all_inner_texts()]
        station = next(r for r in rows if "呼图壁县呼图壁镇站（模拟）（CJ-HT01）" in r[3])
        # severity, kind and state in words; the station's county from its place
        assert station[1] in ("高", "严重") and station[2] == "当日报警" and station[4] == "呼图壁县", station
        assert station[5] == "待处理", station  # filed, not yet routed (no scheduler runs under the test server)
        county = [r for r in rows if r[3].startswith("呼图壁县（652323） ")]
        assert county and all(r[4] == "呼图壁县" for r in county), county
        assert not any(r[1] in ("low", "medium", "high", "critical") for r in rows)
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "findings_page.png"), full_page=True)
        assert outside(urls) == []
