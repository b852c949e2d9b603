"""Whole-batch policy of the observation loader (forecast.md §6 beside monitoring.md §5).

``batch="rows"`` (the default) rejects bad rows and loads the rest; ``batch="whole"`` refuses a batch with an
unknown station or a conflicting duplicate — nothing stored, the raw bytes and a JSON error list quarantined — and
keeps the row rule for every other rejection (a non-numeric cell)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import bogda.monitoring.load as load_mod
from bogda.monitoring.ingest import CONFLICTING_DUPLICATE, UNKNOWN_STATION, read_cnemc
from bogda.monitoring.load import LoadReport, load_aqistudy, load_cnemc, load_result
from bogda.store import Store
from bogda.store.schema import aqi_dirty, observation, observation_revision, qa_flag, series, site

STATIONS = """station_code,station_name,city,longitude,latitude,is_control
2691A,州监测站,昌吉州,87.2997,44.0114,N
X-01,园区微站,昌吉州,87.3,44.0,N
"""
GOOD = """date,hour,type,2691A,X-01
20190101,1,PM2.5,100,20
20190101,1,PM10,150,30
20190101,2,PM2.5,-5,21
20190101,2,PM10,150,30
"""
UNKNOWN = """date,hour,type,2691A,X-01,9999A
20190102,1,PM2.5,101,20,7
20190102,1,PM10,150,30,8
20190102,2,PM2.5,60,21,
20190102,2,PM10,150,30,
"""
"""A day of the two listed stations and a column of 9999A, a code neither the registry nor the list knows."""
DUPLICATE = """date,hour,type,2691A,X-01
20190102,1,PM2.5,101,20
20190102,1,PM10,150,30
20190102,1,PM2.5,999,20
20190102,2,PM2.5,60,21
"""
"""Line 4 repeats (20190102, 1, PM2.5): identical for X-01, a conflicting 999 for 2691A."""
NON_NUMERIC = """date,hour,type,2691A,X-01
20190102,1,PM2.5,101,20
20190102,1,PM10,abc,30
"""
STAMPED = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-(?P<name>.+)$")


def _stations(tmp_path: Path) -> Path:
    p = tmp_path / "stations.csv"
    p.write_text(STATIONS, encoding="utf-8")
    return p


def _snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every row of the tables a load writes."""
    with store.engine.connect() as conn:
        return {
            t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr)
            for t in (site, series, observation, observation_revision, qa_flag, aqi_dirty)
        }


def _forbid_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the QA and dirty-day steps fail if a refused batch reaches them."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a quarantined batch must not reach QA or the dirty days")

    for name in ("mark_dirty", "store_verdicts", "requalify", "ensure_stations", "ensure_city_feeds"):
        monkeypatch.setattr(load_mod, name, boom)


def _quarantined(folder: Path, report: LoadReport, name: str) -> tuple[bytes, dict]:
    assert report.quarantined is not None and report.quarantined.parent == folder
    m = STAMPED.match(report.quarantined.name)
    assert m is not None and m["name"] == name, report.quarantined.name
    errors = report.quarantined.with_name(report.quarantined.name + ".errors.json")
    assert sorted(p.name for p in folder.iterdir()) == [report.quarantined.name, errors.name]
    return report.quarantined.read_bytes(), json.loads(errors.read_text(encoding="utf-8"))


def test_unknown_station_in_whole_mode_stores_nothing_and_quarantines(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sl, q = _stations(tmp_path), tmp_path / "q"
    load_cnemc(store, GOOD.encode(), name="day1.csv", station_list=sl)  # stored data the refusal must not touch
    before = _snapshot(store)
    assert len(before["observation"]) == 8 and before["aqi_dirty"]
    _forbid_writes(monkeypatch)
    rep = load_cnemc(store, UNKNOWN.encode(), name="day2.csv", station_list=sl, batch="whole", quarantine_dir=q)
    assert _snapshot(store) == before
    assert (rep.values, rep.inserted, rep.corrected, rep.dirty_days, rep.flagged) == (0, 0, 0, 0, {})
    data, doc = _quarantined(q, rep, "day2.csv")
    assert data == UNKNOWN.encode()
    assert doc["file"] == "day2.csv" and doc["source"] == "cnemc"
    assert [(e["line"], e["column"], e["code"]) for e in doc["errors"]] == [(1, "9999A", UNKNOWN_STATION)]
    assert "unknown station code" in doc["errors"][0]["reason"]


def test_unknown_station_in_rows_mode_loads_the_good_rows(store: Store, tmp_path: Path) -> None:
    q = tmp_path / "q"
    rep = load_cnemc(store, UNKNOWN.encode(), name="day2.csv", station_list=_stations(tmp_path), quarantine_dir=q)
    assert rep.quarantined is None and not q.exists()
    assert rep.inserted == 8 and sorted(rep.created_sites) == ["2691A", "X-01"]
    assert [(r.column, r.kind) for r in rep.rejected] == [("9999A", UNKNOWN_STATION)]
    assert len(_snapshot(store)["observation"]) == 8


def test_code_unknown_only_to_the_registry_quarantines_before_registering(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader given no known codes leaves the check to the loader; the listed stations are not registered."""
    before = _snapshot(store)
    _forbid_writes(monkeypatch)
    res = read_cnemc(UNKNOWN.encode(), name="day2.csv")
    q = tmp_path / "q"
    rep = load_result(
        store, res, station_list=_stations(tmp_path), batch="whole", raw=UNKNOWN.encode(), quarantine_dir=q
    )
    assert _snapshot(store) == before and not rep.created_sites
    data, doc = _quarantined(q, rep, "day2.csv")
    assert data == UNKNOWN.encode()
    assert [(e["line"], e["column"], e["code"]) for e in doc["errors"]] == [(None, "9999A", UNKNOWN_STATION)]
    assert "2 values not loaded" in doc["errors"][0]["reason"]


def test_conflicting_duplicate_whole_quarantines_rows_loads(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sl, q = _stations(tmp_path), tmp_path / "q"
    load_cnemc(store, GOOD.encode(), name="day1.csv", station_list=sl)
    before = _snapshot(store)
    with monkeypatch.context() as mp:
        _forbid_writes(mp)
        rep = load_cnemc(store, DUPLICATE.encode(), name="day2.csv", station_list=sl, batch="whole", quarantine_dir=q)
    assert _snapshot(store) == before
    data, doc = _quarantined(q, rep, "day2.csv")
    assert data == DUPLICATE.encode()
    assert [(e["line"], e["column"], e["code"]) for e in doc["errors"]] == [(4, "2691A", CONFLICTING_DUPLICATE)]
    assert doc["errors"][0]["reason"] == "conflicting duplicate of line 2 (101.0 vs 999.0)"

    rows = load_cnemc(store, DUPLICATE.encode(), name="day2.csv", station_list=sl)  # the default rule
    assert rows.quarantined is None and rows.inserted == 6  # 2691A: 101, 150, 60; X-01: 20, 30, 21
    assert [(r.line, r.kind) for r in rows.rejected] == [(4, CONFLICTING_DUPLICATE)]
    with store.engine.connect() as conn:
        assert 999.0 not in conn.execute(select(observation.c.value)).scalars().all()


def test_non_numeric_cell_keeps_the_row_rule_in_whole_mode(store: Store, tmp_path: Path) -> None:
    q = tmp_path / "q"
    rep = load_cnemc(
        store, NON_NUMERIC.encode(), name="day2.csv", station_list=_stations(tmp_path), batch="whole", quarantine_dir=q
    )
    assert rep.quarantined is None and not q.exists()
    assert rep.inserted == 3
    assert [(r.line, r.column, r.kind) for r in rep.rejected] == [(3, "2691A", None)]
    assert rep.dirty_days == 2  # the two stations' Beijing day is marked for the AQI tables


def test_gzip_file_is_quarantined_as_its_own_bytes(store: Store, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "20190102.csv.gz"
    path.write_bytes(gzip.compress(DUPLICATE.encode()))
    rep = load_cnemc(store, path, register_unknown=True, batch="whole", quarantine_dir=tmp_path / "q")
    data, _ = _quarantined(tmp_path / "q", rep, "20190102.csv.gz")
    assert data == path.read_bytes()


def test_aqistudy_unknown_city_quarantines(store: Store, tmp_path: Path) -> None:
    text = (
        "city,date,aqi,aqi_range,quality_level,pm25,pm10,so2,co,no2,o3,rank\n"
        "昌吉州,2015-01-01,120,80~150,轻度污染,90,120,30,2.5,50,20,0\n"
        "哈密,2015-01-01,50,40~60,优,20,40,5,0.5,20,50,3\n"
    )
    before = _snapshot(store)
    rep = load_aqistudy(store, text.encode(), name="city.csv", batch="whole", quarantine_dir=tmp_path / "q")
    assert _snapshot(store) == before  # not even the city feed site of 昌吉州
    _, doc = _quarantined(tmp_path / "q", rep, "city.csv")
    assert [(e["line"], e["column"], e["code"]) for e in doc["errors"]] == [(3, "city", UNKNOWN_STATION)]


def test_whole_mode_without_raw_bytes_refuses_to_start(store: Store) -> None:
    res = read_cnemc(GOOD.encode(), name="not-a-file.csv")
    with pytest.raises(ValueError, match="raw batch"):
        load_result(store, res, register_unknown=True, batch="whole")
    with pytest.raises(ValueError, match="batch must be"):
        load_result(store, res, batch="all")  # type: ignore[arg-type]
    assert _snapshot(store)["site"] == []


def test_cli_whole_batch_exits_1_and_names_the_quarantine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bogda.cli import app
    from bogda.config import get_settings
    from bogda.store import connect

    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert CliRunner().invoke(app, ["init", "--database-url", url]).exit_code == 0
    f = tmp_path / "day2.csv"
    f.write_text(UNKNOWN, encoding="utf-8")
    sl = _stations(tmp_path)
    monkeypatch.setenv("BOGDA_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        args = ["ingest", "cnemc", str(f), "--stations", str(sl), "--database-url", url]
        out = CliRunner().invoke(app, [*args, "--whole-batch"])
        assert out.exit_code == 1, out.output
        folder = tmp_path / "data" / "quarantine" / "observations"
        (copy,) = [p for p in folder.iterdir() if not p.name.endswith(".errors.json")]
        assert copy.read_bytes() == f.read_bytes()
        assert f"batch  {copy}\n" in out.output and f"errors {copy}.errors.json\n" in out.output
        st = connect(url)
        try:
            assert _snapshot(st)["observation"] == []
        finally:
            st.dispose()
        out = CliRunner().invoke(app, args)  # the default rule loads the good rows
        assert out.exit_code == 0, out.output
        assert len(list(folder.iterdir())) == 2
    finally:
        get_settings.cache_clear()


def test_hj212_unregistered_device_quarantines_the_records_as_json_lines(store: Store, tmp_path: Path) -> None:
    from datetime import datetime

    from bogda.monitoring.load import load_hj212

    recs = [
        {"site_code": "MS-09", "cn": "2061", "data_time": datetime(2026, 5, 1, h), "values": {"a34004": {"Avg": "40"}}}
        for h in (8, 9)
    ]
    before = _snapshot(store)
    rep = load_hj212(store, iter(recs), batch="whole", quarantine_dir=tmp_path / "q")  # an iterator: read once
    assert _snapshot(store) == before
    data, doc = _quarantined(tmp_path / "q", rep, "hj212")
    lines = [json.loads(x) for x in data.decode().splitlines()]
    assert [(x["site_code"], x["data_time"]) for x in lines] == [
        ("MS-09", "2026-05-01 08:00:00"),
        ("MS-09", "2026-05-01 09:00:00"),
    ]
    assert [(e["column"], e["code"]) for e in doc["errors"]] == [("MS-09", UNKNOWN_STATION)]
    placed = load_hj212(store, recs, register_unknown=True, batch="whole", quarantine_dir=tmp_path / "q2")
    assert placed.inserted == 2 and placed.quarantined is None  # registered as a placeholder: loads
