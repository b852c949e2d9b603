"""Sand/dust days (monitoring.md §3.6, forecast.md §3.8): the candidate rule on synthetic and real hours (the
2019-05-03 dust over Changji), official days from the bureau's list, and assessments with dust exclusion using them
(the day's PM values and the day itself leave the statistics) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import select

from bogda import jobs
from bogda.monitoring.aqi_tables import update_aqi
from bogda.monitoring.assessment import assess_store
from bogda.monitoring.dust import (
    dust_candidates,
    import_official,
    list_dust_days,
    mark_candidates,
    read_official_list,
    record_official,
)
from bogda.monitoring.ingest import FileRefused, ReadResult
from bogda.monitoring.load import load_result
from bogda.registry.places import load_prefecture
from bogda.store import Store
from bogda.store.schema import aqi_daily, assessment

T = datetime(2019, 5, 2, 16, tzinfo=UTC)  # 2019-05-03 00:00 Beijing


@pytest.mark.parametrize(
    ("pm10", "pm25", "dust"),
    [
        (301.0, 100.0, True),  # ratio 0.332
        (300.0, 30.0, False),  # PM10 must exceed 300
        (400.0, 140.0, False),  # ratio 0.35 is not below 0.35
        (400.0, 139.0, True),
        (900.0, 500.0, False),  # smog with coarse dust: fine particles dominate
        (None, 10.0, False),
    ],
)
def test_candidate_hour_rule(pm10: float | None, pm25: float, dust: bool) -> None:
    hourly = pl.DataFrame({"target_code": ["X"], "ts": [T], "c_pm10": [pm10], "c_pm25": [pm25]})
    assert (dust_candidates(hourly).height == 1) is dust


def test_candidate_days_are_beijing_days_and_need_min_hours() -> None:
    ts = [T - timedelta(hours=1), T, T + timedelta(hours=1)]  # 23:00 of May 2 and 00:00, 01:00 of May 3 Beijing
    hourly = pl.DataFrame({"target_code": "X", "ts": ts, "c_pm10": [500.0] * 3, "c_pm25": [50.0] * 3})
    days = dust_candidates(hourly)
    assert dict(days.select("day", "dust_hours").iter_rows()) == {date(2019, 5, 2): 1, date(2019, 5, 3): 2}
    assert dust_candidates(hourly, min_hours=2)["day"].to_list() == [date(2019, 5, 3)]


def test_official_list_reader_reports_bad_rows() -> None:
    text = "place_code,date,source,note\n652300,2019-05-03,CNEMC 2019-05,沙尘\n652301,2019-13-01,x,\n,2019-05-04,,\n"
    rows, rejected = read_official_list(text.encode(), name="list.csv")
    assert rows.select("place_code", "day").rows() == [("652300", date(2019, 5, 3))]
    assert [(r.line, r.column) for r in rejected] == [(3, "date"), (4, "place_code")]
    assert "bad date '2019-13-01'" in rejected[0].reason
    with pytest.raises(FileRefused, match="dust-day list"):
        read_official_list(b"a,b\n1,2\n", name="x.csv")


@pytest.fixture
def may(store: Store, cnemc_2019: ReadResult, station_list_path) -> Store:
    """May 2019 (Beijing) of the Changji stations loaded, AQI tables computed."""
    lo, hi = datetime(2019, 4, 30, 16, tzinfo=UTC), datetime(2019, 5, 31, 16, tzinfo=UTC)
    codes = ("2690A", "2691A", "2692A")
    frame = cnemc_2019.frame.filter(pl.col("site_code").is_in(codes) & pl.col("ts").is_between(lo, hi, closed="left"))
    load_prefecture(store, "652300")
    load_result(
        store,
        replace(cnemc_2019, frame=frame, sites=codes, rejected=[], incomplete_row_sets=None),
        station_list=station_list_path,
    )
    update_aqi(store, start=lo, end=hi)
    return store


def test_real_dust_day_marked_recorded_and_excluded(may: Store, tmp_path) -> None:
    st = may
    rep = mark_candidates(st, start=datetime(2019, 4, 30, 16, tzinfo=UTC), end=datetime(2019, 5, 31, 16, tzinfo=UTC))
    assert rep.written > 0
    days = list_dust_days(st)
    cand = {(p, d): s for p, d, s in days.select("place_code", "day", "status").iter_rows()}
    # hand check (area = mean of 2691A and 2692A; the Tianchi control site is no member): rows 2019-05-03 H 1..10
    # (16:00-02:00 UTC) have PM10 561, 588.5, 502, 428 … 356 with PM2.5/PM10 0.12-0.19 → 11 dust hours;
    # row 2019-05-02 H 23 (PM10 380.5, PM2.5 31.5) makes 2019-05-02 a candidate too
    for place in ("652301", "652300"):
        assert cand[(place, date(2019, 5, 3))] == "candidate"
        assert cand[(place, date(2019, 5, 2))] == "candidate"
    ev = days.filter((pl.col("place_code") == "652301") & (pl.col("day") == date(2019, 5, 3)))["evidence"][0]
    evidence = json.loads(ev)
    assert evidence["dust_hours"] == 11 and evidence["max_pm10"] in (588, 589)
    assert evidence["rule"] == {"pm10_min": 300.0, "ratio_max": 0.35, "min_hours": 1}
    assert all(s == "candidate" for s in cand.values())
    # Fukang has only the control site: no area value, no candidate
    assert not any(p == "652302" for p, _ in cand)

    before = assess_store(st, start=datetime(2019, 4, 30, 16, tzinfo=UTC), end=datetime(2019, 5, 31, 16, tzinfo=UTC))
    pm_before = _figures(before, "652301", "mean_pm10")
    assert pm_before["with_dust"] == pm_before["dust_excluded"]  # candidates are shown, never excluded

    # the bureau records the official list: the prefecture on May 3 (upgrading the candidate)
    listed = tmp_path / "dust.csv"
    listed.write_text("place_code,date,source\n652300,2019-05-03,CNEMC 沙尘扣除 2019-05\n999999,2019-05-04,x\n")
    rep = import_official(st, listed, by="tester")
    assert (rep.upgraded, len(rep.rejected)) == (1, 1) and "unknown place code" in rep.rejected[0].reason
    row = list_dust_days(st).filter((pl.col("place_code") == "652300") & (pl.col("day") == date(2019, 5, 3)))
    assert row["status"][0] == "official" and '"candidate"' in row["evidence"][0]
    # a candidate never demotes an official day
    assert mark_candidates(st, start=datetime(2019, 5, 2, 16, tzinfo=UTC), end=T + timedelta(days=1)).kept_official
    assert list_dust_days(st).filter(pl.col("place_code") == "652300")["status"].to_list().count("official") == 1

    res = assess_store(st, start=datetime(2019, 4, 30, 16, tzinfo=UTC), end=datetime(2019, 5, 31, 16, tzinfo=UTC))
    # the prefecture's official day covers its county (Changji city) too
    for code in ("652300", "652301"):
        pm10 = _figures(res, code, "mean_pm10")
        assert pm10["dust_excluded"][1] == pm10["with_dust"][1] - 1  # one day fewer of PM10
        assert pm10["dust_excluded"][0] < pm10["with_dust"][0]
        # the official day leaves the day counts (numerator and denominator of the good-day ratio) as well
        with st.engine.connect() as conn:
            aqi3 = conn.execute(
                select(aqi_daily.c.aqi).where(aqi_daily.c.target_code == code, aqi_daily.c.ts == int(T.timestamp()))
            ).scalar()
        valid = _figures(res, code, "valid_days")
        assert valid["dust_excluded"][0] == valid["with_dust"][0] - 1
        good = _figures(res, code, "good_days")
        assert good["dust_excluded"][0] == good["with_dust"][0] - (1 if aqi3 <= 100 else 0)
    # the excluded mean is the mean of the county's other daily PM10 values
    with st.engine.connect() as conn:
        daily = conn.execute(
            select(aqi_daily.c.ts, aqi_daily.c.c_pm10).where(
                aqi_daily.c.target_code == "652301", aqi_daily.c.c_pm10.is_not(None)
            )
        ).all()
        stored = conn.execute(
            select(assessment.c.value).where(
                assessment.c.target_code == "652301",
                assessment.c.metric == "mean_pm10",
                assessment.c.dust_mode == "dust_excluded",
            )
        ).scalar()
    may3 = int(T.timestamp())
    others = [v for t, v in daily if t != may3]
    assert len(others) == len(daily) - 1
    assert stored == pytest.approx(sum(others) / len(others), abs=0.5)


def _figures(res: pl.DataFrame, code: str, metric: str) -> dict[str, tuple[float, float]]:
    part = res.filter((pl.col("target_code") == code) & (pl.col("metric") == metric))
    return {m: (v, n) for m, v, n in part.select("dust_mode", "value", "numerator").iter_rows()}


def test_record_official_checks_place_and_source(may: Store) -> None:
    with pytest.raises(ValueError, match="unknown place code"):
        record_official(may, "000000", [date(2019, 5, 3)], source="x")
    with pytest.raises(ValueError, match="needs its source"):
        record_official(may, "652301", [date(2019, 5, 3)], source=" ")
    rep = record_official(may, "652301", [date(2019, 5, 3), date(2019, 5, 3)], source="notice", note="n")
    assert rep.written == 1
    again = record_official(may, "652301", [date(2019, 5, 3)], source="notice", note="n")
    assert (again.written, again.unchanged) == (0, 1)


def test_dust_candidate_job_is_scheduled(may: Store) -> None:
    spec = {s.name: s for s in jobs.DEFAULT_JOBS}["monitoring.dust"]
    run = jobs.run_once(may, spec, now=datetime(2019, 5, 3, 10, tzinfo=UTC))
    assert run["status"] == "ok" and run["rows"] >= 2  # May 2 and 3 for the county and the prefecture


def test_cli_dust_commands(tmp_path) -> None:
    from typer.testing import CliRunner

    from bogda.cli import app
    from bogda.registry.places import upsert_place
    from bogda.store import connect

    url = f"sqlite:///{tmp_path / 'd.db'}"
    run = CliRunner()
    assert run.invoke(app, ["init", "--database-url", url]).exit_code == 0
    st = connect(url)
    with st.begin() as conn:
        upsert_place(conn, code="652300", name="昌吉州", level=1, kind="prefecture")
    out = run.invoke(
        app,
        [
            "monitoring",
            "dust",
            "record",
            "--place",
            "652300",
            "--date",
            "2019-05-03",
            "--source",
            "通知",
            "--database-url",
            url,
        ],
    )
    assert out.exit_code == 0 and "1 new" in out.output, out.output
    bad = run.invoke(
        app,
        [
            "monitoring",
            "dust",
            "record",
            "--place",
            "000000",
            "--date",
            "2019-05-03",
            "--source",
            "x",
            "--database-url",
            url,
        ],
    )
    assert bad.exit_code == 2 and "unknown place code" in bad.output
    listed = tmp_path / "l.csv"
    listed.write_text("place_code,date\n652300,2019-05-04\n652300,05/04\n")
    out = run.invoke(app, ["monitoring", "dust", "import", str(listed), "--database-url", url])
    text = " ".join(out.output.split())  # Rich wraps long lines
    assert out.exit_code == 0 and "1 new or changed" in text and "1 rejected" in text and "bad date '05/04'" in text
    assert list_dust_days(st)["day"].to_list() == [date(2019, 5, 3), date(2019, 5, 4)]
    st.dispose()
