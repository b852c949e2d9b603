"""The whole 2019 CNEMC Xinjiang file and a Beijing PRSA file through the store (slow: millions of values).

monitoring.md §7: every value loads (no rejected cell), Changji's 2019 figures and January assessment, the silent
Urumqi station 1495A offline at 0 %, the Beijing CO declared in µg/m³ converted to mg/m³."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import select

from bogda.monitoring.aqi_tables import update_aqi
from bogda.monitoring.assessment import assess_store
from bogda.monitoring.ingest import ReadResult, read_prsa
from bogda.monitoring.load import load_result, read_qa
from bogda.monitoring.status import completeness_report, stations_status
from bogda.registry.places import load_prefecture
from bogda.store import Store
from bogda.store.schema import aqi_daily
from sharedata import require_shared

pytestmark = pytest.mark.slow
START, END = datetime(2018, 12, 31, 16, tzinfo=UTC), datetime(2019, 11, 14, 16, tzinfo=UTC)


def test_whole_2019_file(sqlite_store: Store, cnemc_2019: ReadResult, station_list_path) -> None:
    store = sqlite_store
    load_prefecture(store, "652300")
    rep = load_result(store, cnemc_2019, station_list=station_list_path)
    assert (rep.values, rep.inserted, len(rep.rejected), len(rep.created_sites)) == (4_306_603, 4_306_603, 0, 42)
    assert rep.incomplete_row_sets == 2
    update_aqi(store, hourly=False)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(aqi_daily.c.aqi, aqi_daily.c.status).where(aqi_daily.c.target_code == "652301")
        ).all()
    complete = [a for a, s in rows if s == "complete"]
    assert (len(complete), sum(a <= 100 for a in complete)) == (293, 228)  # 77.8 % good days
    res = assess_store(store, start=START, end=END, period="month", write=True)
    jan = res.filter((pl.col("period") == "2019-01") & (pl.col("dust_mode") == "with_dust"))
    fig = {(c, m): v for c, m, v in jan.select("target_code", "metric", "value").iter_rows()}
    assert (fig[("2691A", "mean_pm25")], fig[("2692A", "mean_pm25")], fig[("652301", "mean_pm25")]) == (186, 121, 153)
    _, summary = completeness_report(store, start=START, end=END, write=False)
    s = summary.filter(pl.col("site_code") == "1495A").row(0, named=True)
    assert (s["rate"], s["never_reported"]) == (0.0, True)
    assert summary.filter(pl.col("site_code") == "2690A")["offline_days"][0] == 10
    st = stations_status(store, now=END).filter(pl.col("code") == "1495A")
    assert st["status"][0] == "never_reported"


def test_beijing_file_loads_with_co_converted(sqlite_store: Store) -> None:
    path = require_shared("beijing", "PRSA_Data_Dongsi_20130301-20170228.csv.gz")
    res = read_prsa(path, weather=False)
    rep = load_result(sqlite_store, res, register_unknown=True)
    assert rep.values == res.frame.height and not rep.rejected and rep.placeholders == ["1003A"]
    co = read_qa(
        sqlite_store,
        parameters=["a21005"],
        start=datetime(2013, 2, 28, 16, tzinfo=UTC),
        end=datetime(2013, 3, 1, 16, tzinfo=UTC),
    )
    assert co["value"].max() < 20  # mg/m³ after the declared µg/m³ → mg/m³ conversion
    assert co["ts"].min() == datetime(2013, 2, 28, 16, tzinfo=UTC)  # hour_label = start: 00:00 Beijing
    undeclared = read_prsa(path, weather=False, units={})
    assert any("undeclared unit" in r.reason for r in undeclared.rejected)
