"""Days avoided: BLH, radiation and cloud from the stored NWP runs (forecast.md §3.9 step 2 "BLH, radiation and
cloud when available") on the stored-data path (``evaluate_stored``, ``evaluate_stored_aqi``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import avoided as av
from bogda.forecast.avoided import evaluation
from forecast.test_avoided import _estimate, _store_stations


def _runs(first_day: date, days: int, *, hour: int, leads: int, variables: dict[str, float]) -> pl.DataFrame:
    """``nwp_value`` rows at station T: one run a day at ``hour`` UTC; value = base + lead, so the run and the lead
    behind a value can be read back."""
    rows = []
    for k in range(days):
        run = datetime(first_day.year, first_day.month, first_day.day, hour, tzinfo=UTC) + timedelta(days=k)
        for lead in range(leads):
            t = run + timedelta(hours=lead)
            rows += [("test", run, t, t + timedelta(hours=1), "T", var, base + lead) for var, base in variables.items()]
    utc = pl.Datetime("us", "UTC")
    names = ("source", "run_time", "valid_start", "valid_end", "location_id", "variable", "value")
    types = (pl.Utf8, utc, utc, utc, pl.Utf8, pl.Utf8, pl.Float64)
    return pl.DataFrame(rows, schema=dict(zip(names, types, strict=True)), orient="row")


def _fake_result(window, params):
    est = _estimate(0.0, -1.0, 1.0)
    return est, (), av.result_record(est, (), label="x", targets=["T"], controls=["C1"], window=window, params=params)


def test_each_hour_takes_the_latest_run_issued_before_its_local_day() -> None:
    # 12 UTC runs (20 h Beijing, the evening before) with base 0, and 00 UTC runs (08 h Beijing, inside the day)
    # with base 1000: a run issued during the day must never describe that day, though it precedes its later hours
    evening = _runs(date(2015, 1, 1), 3, hour=12, leads=60, variables={"blh": 0.0, "tcc": 0.5})
    morning = _runs(date(2015, 1, 2), 3, hour=0, leads=60, variables={"blh": 1000.0})
    h = av.nwp_analysis_hourly(pl.concat([evening, morning]))
    assert h.columns == ["ts", "blh", "tcc"]
    local = h.with_columns(pl.col("ts").dt.convert_time_zone("Asia/Shanghai").alias("lt"))
    day3 = local.filter(pl.col("lt").dt.date() == date(2015, 1, 3))
    # 3 Jan Beijing = 2 Jan 16 UTC .. 3 Jan 15 UTC: the run of 2 Jan 12 UTC, leads 4..27 (not 2 Jan 00 UTC's 16..39,
    # nor 3 Jan 00 UTC's, issued at 08 h that day)
    assert day3.height == 24 and day3["blh"].to_list() == [float(x) for x in range(4, 28)]
    by_day = local.group_by(pl.col("lt").dt.date().alias("d")).agg(pl.col("blh").min().alias("lo"), pl.col("blh").max())
    lo = dict(zip(by_day["d"].to_list(), by_day["lo"].to_list(), strict=True))
    hi = dict(zip(by_day["d"].to_list(), by_day["blh"].to_list(), strict=True))
    # while an evening run exists for the day before, no morning run (issued inside a day) describes a day
    assert all(hi[date(2015, 1, d)] < 1000.0 for d in (2, 3, 4))
    # 5 Jan has no run of 4 Jan 12 UTC: the latest before it is 4 Jan 00 UTC (leads 16..39), never a later one
    assert (lo[date(2015, 1, 5)], hi[date(2015, 1, 5)]) == (1016.0, 1039.0)
    # the last run (4 Jan 00 UTC) goes to lead 59, but an hour is taken only up to the 48 h lead limit
    assert h["ts"].max() - datetime(2015, 1, 4, 0, tzinfo=UTC) == timedelta(hours=av.NWP_MAX_LEAD_H)
    assert av.nwp_analysis_hourly(evening.filter(pl.col("variable") == "ssrd")).columns == ["ts"]


def test_a_variable_is_used_only_when_it_covers_the_reference_and_the_window() -> None:
    full = av.nwp_analysis_hourly(_runs(date(2014, 12, 31), 40, hour=12, leads=36, variables={"blh": 0.0}))
    part = av.nwp_analysis_hourly(_runs(date(2015, 1, 15), 16, hour=12, leads=36, variables={"ssrd": 0.0}))
    hourly = full.join(part, on="ts", how="left")
    spans = {"reference": (date(2015, 1, 1), date(2015, 1, 31)), "window": (date(2015, 2, 1), date(2015, 2, 5))}
    extra, info = av.nwp_inputs(hourly, spans)
    assert extra.columns == ["ts", "blh"] and info["used"] == ["blh"]
    assert info["coverage"]["blh"] == {"reference": 1.0, "window": 1.0}
    assert info["coverage"]["ssrd"]["reference"] == 16 / 31 and info["coverage"]["ssrd"]["window"] == 0.0
    assert info["left_out"]["ssrd"].startswith("stored runs cover reference 52 %, window 0 % of the days")
    _, none = av.nwp_inputs(pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC")}), spans)
    assert none["used"] == [] and "no stored NWP" in none["reason"]


def _capture(monkeypatch) -> list[av.FeatureTable]:
    seen: list[av.FeatureTable] = []

    def fake(table, window, reference, placebo_windows, params, **kw):  # the real read path runs, the model does not
        seen.append(table)
        return _fake_result(window, params)

    monkeypatch.setattr(evaluation, "evaluate_intervention", fake)
    return seen


def test_stored_runs_join_the_station_weather_only_when_they_cover_the_windows(sqlite_store, monkeypatch) -> None:
    from bogda.forecast.nwp import load_nwp

    _store_stations(sqlite_store, days=400)  # 2014-01-01 .. 2015-02-04
    seen = _capture(monkeypatch)
    window = (date(2015, 1, 1), date(2015, 1, 31))
    params = av.AvoidedParams()
    _, _, plain = av.evaluate_stored(sqlite_store, "T", ["C1"], window, params, reference_years=1)
    assert plain.placebo["nwp"]["stations"]["T"]["used"] == []  # nothing stored: the inputs of before
    # runs from mid-2014 only: the reference is half covered, so the columns stay out and say why
    load_nwp(sqlite_store, _runs(date(2014, 7, 1), 220, hour=12, leads=36, variables={"blh": 300.0, "tcc": 0.2}))
    _, _, partial = av.evaluate_stored(sqlite_store, "T", ["C1"], window, params, reference_years=1)
    why = partial.placebo["nwp"]["stations"]["T"]["left_out"]
    assert set(why) == {"blh", "tcc"} and "reference" in why["blh"] and "need ≥ 98 %" in why["blh"]
    # the whole span covered: blh, ssrd and tcc become inputs, each day from the run of 12 UTC the day before
    load_nwp(
        sqlite_store,
        _runs(date(2013, 12, 29), 404, hour=12, leads=36, variables={"blh": 300.0, "ssrd": 100.0, "tcc": 0.2}),
    )
    _, _, full = av.evaluate_stored(sqlite_store, "T", ["C1"], window, params, reference_years=1)
    assert full.placebo["nwp"]["stations"]["T"]["used"] == ["blh", "ssrd", "tcc"]
    assert full.placebo["nwp"]["stations"]["C1"]["used"] == []  # a control is judged at its own location
    t0, t1, t2 = seen
    assert t0.names == t1.names and np.array_equal(t0.x, t1.x) and np.array_equal(t0.dates, t1.dates)
    assert {"blh_mean", "night_blh", "day_blh", "blh_mean_lag1", "ssrd_mean", "tcc_mean"} <= set(t2.names)
    assert np.array_equal(t0.dates, t2.dates)  # a covering archive drops no day
    # leads 4..27 over a Beijing day: mean lead 15.5
    assert np.allclose(t2.x[:, t2.names.index("blh_mean")], 315.5)
    assert np.allclose(t2.x[:, t2.names.index("tcc_mean")], 15.7)

    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    args = ["forecast", "avoided", "--target", "T", "--control", "C1", "--start", "2015-01-01", "--end", "2015-01-31"]
    r = CliRunner().invoke(
        app, [*args, "--reference-years", "1", "--no-store", "--no-sensitivity", "--database-url", url]
    )
    said = " ".join(r.output.split())
    assert r.exit_code == 0, r.output
    assert "NWP BLH/radiation/cloud at T: blh, ssrd, tcc" in said and "at C1: no stored NWP run" in said


def test_stored_aqi_events_use_the_same_stored_runs(sqlite_store, monkeypatch) -> None:
    from bogda.forecast.nwp import load_nwp
    from forecast.test_avoided_events import _store_aqi_stations

    _store_aqi_stations(sqlite_store, days=400)  # 2014-01-01 .. 2015-02-04
    load_nwp(sqlite_store, _runs(date(2013, 12, 29), 404, hour=12, leads=36, variables={"ssrd": 100.0}))
    seen: list[dict[str, av.FeatureTable]] = []

    def fake(tables, window, reference, placebo_windows, params, **kw):
        seen.append(tables)
        return _fake_result(window, params)

    monkeypatch.setattr(evaluation, "evaluate_aqi_intervention", fake)
    window = (date(2015, 1, 1), date(2015, 1, 31))
    _, _, rec = av.evaluate_stored_aqi(sqlite_store, "T", ["C1"], window, av.AvoidedParams(), reference_years=1)
    assert rec.placebo["nwp"]["stations"]["T"]["used"] == ["ssrd"]
    tables = seen[0]
    assert all("ssrd_mean" in t.names for t in tables.values())
    assert "ssrd_day" in tables["O3_8h"].names and "ssrd_day" not in tables["PM2.5"].names  # O3 adds radiation
