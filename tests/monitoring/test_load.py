"""Loading read files into the store: registration, idempotent re-load, corrections, QA flags, manual overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import func, select

from bogda.monitoring.ingest import read_cnemc
from bogda.monitoring.load import load_cnemc, load_result, read_qa, set_flag
from bogda.monitoring.stations import station_sites
from bogda.store import Store
from bogda.store.schema import observation_revision, qa_flag

CSV = """date,hour,type,2691A,X-01,9999A
20190101,1,PM2.5,100,20,
20190101,1,PM10,150,30,
20190101,2,PM2.5,-5,21,
20190101,2,PM10,150,30,
"""
STATIONS = """station_code,station_name,city,longitude,latitude,is_control
2691A,州监测站,昌吉州,87.2997,44.0114,N
X-01,园区微站,昌吉州,87.3,44.0,N
"""


def _stations(tmp_path):
    p = tmp_path / "stations.csv"
    p.write_text(STATIONS, encoding="utf-8")
    return p


def test_load_registers_known_codes_and_rejects_unknown(store: Store, tmp_path) -> None:
    rep = load_cnemc(store, CSV.encode(), name="day.csv", station_list=_stations(tmp_path))
    assert sorted(rep.created_sites) == ["2691A", "X-01"]  # a non-national code is first-class
    reasons = [r.reason for r in rep.rejected]
    assert any("unknown station code" in r for r in reasons) and rep.rejected[0].column == "9999A"
    assert rep.inserted == 8 and rep.flagged == {"invalid": 1}  # the negative PM2.5
    sites = station_sites(store).sort("code")
    assert sites["code"].to_list() == ["2691A", "X-01"]
    assert sites.filter(pl.col("code") == "X-01")["network"][0] == "provincial"


def test_register_unknown_makes_a_placeholder_outside_every_area(store: Store) -> None:
    rep = load_cnemc(store, CSV.encode(), name="day.csv", register_unknown=True)
    assert sorted(rep.placeholders) == ["2691A", "9999A", "X-01"]
    sites = station_sites(store)
    assert sites["place_id"].null_count() == 3 and not sites["evaluation"].any()
    assert sites.filter(pl.col("code") == "X-01")["network"][0] == "unregistered"


def test_reload_is_idempotent_and_a_changed_value_is_a_kept_correction(store: Store, tmp_path) -> None:
    sl = _stations(tmp_path)
    load_cnemc(store, CSV.encode(), name="day.csv", station_list=sl)
    again = load_cnemc(store, CSV.encode(), name="day.csv", station_list=sl)
    assert (again.inserted, again.corrected, again.unchanged) == (0, 0, 8)
    changed = load_cnemc(store, CSV.replace("100,20", "101,20").encode(), name="day-v2.csv", station_list=sl)
    assert changed.corrected == 1
    with store.engine.connect() as conn:
        rows = conn.execute(select(observation_revision.c.value, observation_revision.c.reason)).all()
    assert rows == [(100.0, "re-fetch day-v2.csv")]


def test_manual_flag_survives_a_qa_rerun(store: Store, tmp_path) -> None:
    sl = _stations(tmp_path)
    load_cnemc(store, CSV.encode(), name="day.csv", station_list=sl)
    sid = int(station_sites(store).filter(pl.col("code") == "2691A")["site_id"][0])
    t = datetime(2019, 1, 1, 1, tzinfo=UTC) - timedelta(hours=8)  # row (20190101, H 2) = 01:00-02:00 Beijing
    set_flag(store, site_id=sid, parameter="a34004", ts=t, severity="valid", by="zhang", reason="checked on site")
    load_cnemc(store, CSV.encode(), name="day.csv", station_list=sl)  # QA runs again over the window
    qa = read_qa(store, sites=[sid], parameters=["a34004"])
    assert qa.sort("ts")["flag"].to_list() == ["valid", "valid"]
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(qa_flag).where(qa_flag.c.set_by == "zhang")).scalar() == 1


def test_hour_convention_end_labelled(store: Store) -> None:
    res = read_cnemc(CSV.encode(), name="day.csv")
    load_result(store, res, register_unknown=True)
    qa = read_qa(store)
    # row (2019-01-01, H 1) is 00:00-01:00 Beijing = 2018-12-31 16:00 UTC (monitoring.md §2.1)
    assert qa["ts"].min() == datetime(2018, 12, 31, 16, tzinfo=UTC)


def test_hj212_minutes_become_hours_with_source_flags(store: Store) -> None:
    from bogda.monitoring.load import load_hj212

    t0 = datetime(2026, 5, 1, 8)  # naive = Beijing (HJ 212 DataTime)
    recs = [
        {
            "site_code": "MS-01",
            "cn": "2051",
            "data_time": t0 + timedelta(minutes=m),
            "values": {"a34004": {"Avg": "40", "Flag": "N"}},
        }
        for m in range(0, 50)
    ] + [
        {
            "site_code": "MS-01",
            "cn": "2061",
            "data_time": t0 + timedelta(hours=1),
            "values": {"a34004": {"Avg": "55", "Flag": "M"}},
        }
    ]
    rep = load_hj212(store, recs, register_unknown=True)
    assert rep.placeholders == ["MS-01"] and rep.flagged == {"maintenance": 1}
    qa = read_qa(store, parameters=["a34004"]).sort("ts")
    assert qa["value"].to_list() == [40.0, 55.0]  # 50 valid minutes ≥ 45 → an hour; the 2061 hour as sent
    assert qa["flag"].to_list() == ["valid", "maintenance"]
    assert qa["ts"][0] == datetime(2026, 5, 1, 0, tzinfo=UTC)


def test_bulk_reload_of_part_of_a_month_keeps_the_qa_of_the_rest(
    sqlite_store: Store, changji_january, station_list_path
) -> None:
    """A month-long load into an empty span computes QA from the file beside the write; a second month-long file
    over stored values (here PM2.5 only) must not judge the stored PM10, SO2 … without their neighbours: QA then
    reads the span back, and the verdicts equal those of the first load."""
    from dataclasses import replace

    first = load_result(sqlite_store, changji_january, station_list=station_list_path)
    with sqlite_store.engine.connect() as conn:
        before = set(conn.execute(select(qa_flag.c.series_id, qa_flag.c.ts, qa_flag.c.severity, qa_flag.c.rule)).all())
    assert first.flagged and len(before) == sum(first.flagged.values())
    pm25 = changji_january.frame.filter(pl.col("parameter") == "a34004")
    again = load_result(sqlite_store, replace(changji_january, frame=pm25))
    assert again.inserted == again.corrected == 0
    with sqlite_store.engine.connect() as conn:
        after = set(conn.execute(select(qa_flag.c.series_id, qa_flag.c.ts, qa_flag.c.severity, qa_flag.c.rule)).all())
    assert after == before
