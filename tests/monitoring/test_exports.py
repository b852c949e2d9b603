"""Exports of 2691A January 2019 round-trip in CSV, Excel and Parquet with metadata; background jobs."""

from __future__ import annotations

import json

import polars as pl
import pytest
from openpyxl import load_workbook

from bogda.monitoring.exports import build_frame, job_state, run_job, submit_job, to_wide, write_export
from bogda.monitoring.ingest import POLLUTANT_UNITS, ReadResult
from bogda.monitoring.load import load_result
from bogda.store import Store

QUERY = {"kind": "series", "sites": ["2691A"], "start": "2019-01-01T00:00:00+08:00", "end": "2019-02-01T00:00:00+08:00"}


@pytest.fixture
def loaded(sqlite_store: Store, changji_january: ReadResult, station_list_path) -> Store:
    load_result(sqlite_store, changji_january, station_list=station_list_path)
    return sqlite_store


def test_round_trip_csv_xlsx_parquet(loaded: Store, changji_january: ReadResult, tmp_path) -> None:
    frame, meta = build_frame(loaded, QUERY)
    src = changji_january.frame.filter(
        (pl.col("site_code") == "2691A") & pl.col("parameter").is_in(list(POLLUTANT_UNITS))
    )
    assert frame.height == src.height == 4399  # every 1-h value of the six pollutants
    assert {"interval_start_utc", "interval_end_utc", "interval_start_bjt", "unit", "validity"} <= set(frame.columns)
    assert frame["interval_start_utc"][0] == "2018-12-31T16:00:00Z"
    csv = write_export(frame, tmp_path / "x.csv", "csv", meta=meta)
    assert csv[0].read_bytes()[:3] == b"\xef\xbb\xbf"  # UTF-8 with BOM
    back = pl.read_csv(csv[0], infer_schema_length=None)
    assert back["value"].to_list() == frame["value"].to_list()
    assert json.loads(csv[1].read_text(encoding="utf-8"))["interval_convention"] == "start, [start, end), UTC"
    pq = write_export(frame, tmp_path / "x.parquet", "parquet", meta=meta)[0]
    assert pl.read_parquet(pq).equals(frame)
    import pyarrow.parquet as papq

    assert b"interval_convention" in papq.read_schema(pq).metadata
    xl = write_export(frame, tmp_path / "x.xlsx", "xlsx", meta=meta)[0]
    wb = load_workbook(xl, read_only=True)
    assert wb.sheetnames == ["数据", "说明"]
    rows = list(wb["数据"].iter_rows(values_only=True))
    assert rows[0] == tuple(frame.columns) and len(rows) == frame.height + 1
    assert [r[12] for r in rows[1:]] == frame["value"].to_list()
    gb = write_export(frame, tmp_path / "g.csv", "csv", meta=meta, encoding="gb18030")[0]
    assert "州监测站" in gb.read_bytes().decode("gb18030")


def test_wide_layout_has_units_in_headers(loaded: Store) -> None:
    frame, _ = build_frame(loaded, QUERY)
    wide = to_wide(frame)
    assert "PM2.5 [µg/m³]" in wide.columns and "CO [mg/m³]" in wide.columns and "PM2.5_flags" in wide.columns
    assert wide.height == 31 * 24


def test_background_job(loaded: Store, tmp_path) -> None:
    jid = submit_job(loaded, {**QUERY, "kind": "aqi_hourly"}, "parquet", tmp_path, by="tester", run=False)
    assert job_state(loaded, jid)["state"] == "queued"
    run_job(loaded, jid, tmp_path)
    st = job_state(loaded, jid)
    assert st["state"] == "done" and st["progress"] == 1.0
    bad = submit_job(loaded, {"kind": "nope", "start": "2019-01-01", "end": "2019-01-02"}, "csv", tmp_path, run=False)
    run_job(loaded, bad, tmp_path)
    assert job_state(loaded, bad)["state"] == "failed"
