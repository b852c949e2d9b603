"""Training and backtests on archived NWP runs as issued (forecast.md §3.4, §3.9 mode ``nwp``): run selection by
issue time, lead-time features, NetCDF archives written here, and a protocol where the issued forecasts carry
signal."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from bogda.forecast.backtest import ProtocolConfig, run_protocol
from bogda.forecast.features import future_weather_features, panel_from_frame
from bogda.forecast.models import FAST
from bogda.forecast.nwp_archive import NwpArchive, NwpArchiveError, archive_from_files
from bogda.forecast.synthetic import synthetic_frame

FIRST = date(2016, 1, 1)  # Beijing day 0 starts 2015-12-31 16:00 UTC


def _panel(n_days: int = 6):
    frame, coords = synthetic_frame(n_stations=2, n_days=n_days, seed=1, first_day=FIRST)
    return panel_from_frame(frame, ["a34004", "ws10"], coords=coords), coords


def _rows(panel, run_hours: list[int], lead_max: int, value) -> pl.DataFrame:
    """``nwp_value`` rows: run at panel position r, lead j → value(r, station index, j)."""
    recs = []
    for r in run_hours:
        rt = panel.start_utc + timedelta(hours=r)
        for i, st in enumerate(panel.stations):
            for j in range(lead_max + 1):
                vs = rt + timedelta(hours=j)
                recs.append(("test", rt, vs, vs + timedelta(hours=1), st, "ws10", float(value(r, i, j))))
    cols = ["source", "run_time", "valid_start", "valid_end", "location_id", "variable", "value"]
    return pl.DataFrame(recs, schema=cols, orient="row").with_columns(
        pl.col("run_time").dt.cast_time_unit("us"), pl.col("valid_start").dt.cast_time_unit("us")
    )


def test_run_selection_respects_latency_and_fallback() -> None:
    panel, _ = _panel()
    # runs at positions 0 and 24, leads 0..72; the value encodes the run
    arc = NwpArchive.from_values(_rows(panel, [0, 24], 72, lambda r, i, j: 100 + r), panel)
    assert arc.max_lead == 72 and arc.variables == ("ws10",)
    t = np.array([3, 4, 5, 28, 29, 60, 100])  # issue at the end of hour t, i.e. time t + 1
    # run 0 is usable from time 6 (latency 6 h): issue 5 → time 6; run 24 from time 30
    assert arc.run_for(t).tolist() == [-1, -1, 0, 0, 1, 1, -1]
    s = np.zeros(t.size, dtype=int)
    got = arc.at("ws10", s, t + 10, t)
    assert np.isnan(got[0]) and got[2] == 100 and got[4] == 124
    assert arc.hours_since_run(np.array([29]))[0] == 6
    # a run older than the newest expected one by more than 24 h (d) is not used
    assert arc.run_for(np.array([24 + 6 + 24 + 24 + 1]))[0] == -1


def test_lead_features_come_from_the_issued_run() -> None:
    panel, _ = _panel()
    arc = NwpArchive.from_values(_rows(panel, [0, 12, 24], 60, lambda r, i, j: j + 1000 * (r // 12)), panel)
    s = np.array([0, 1])
    t = np.array([20, 20])  # run 12 is usable from time 18 ≤ 21; run 24 not yet
    f = future_weather_features(arc, s, t, np.array([5, 5]), ["ws10"])
    # target 25 is lead 13 of run 12 (value 1013); mean over hours 21..25 = leads 9..13 of run 12
    assert f["fut_ws10"].tolist() == [1013.0, 1013.0]
    assert f["fut_ws10_mean"][0] == pytest.approx(1011.0)
    assert f["fut_hours_since_run"].tolist() == [9.0, 9.0]


def test_archive_rejects_values_for_no_panel_location() -> None:
    panel, _ = _panel()
    rows = _rows(panel, [0], 3, lambda r, i, j: 1.0).with_columns(pl.lit("elsewhere").alias("location_id"))
    with pytest.raises(NwpArchiveError, match="no values for the panel's locations"):
        NwpArchive.from_values(rows, panel)


def test_archive_from_netcdf_runs_written_here(tmp_path: Path) -> None:
    import xarray as xr

    panel, coords = _panel()
    lats = np.array([44.5, 44.0, 43.5])
    lons = np.array([87.0, 87.5, 88.0])
    paths = []
    for k, run in enumerate([panel.start_utc + timedelta(hours=h) for h in (0, 12, 24)]):
        times = np.array([np.datetime64(run.replace(tzinfo=None)) + np.timedelta64(h, "h") for h in range(49)])
        ds = xr.Dataset(
            {
                "u10": (("time", "latitude", "longitude"), np.full((49, 3, 3), 3.0 + k), {"units": "m s-1"}),
                "v10": (("time", "latitude", "longitude"), np.full((49, 3, 3), -4.0), {"units": "m s-1"}),
                "t2m": (("time", "latitude", "longitude"), np.full((49, 3, 3), 273.15 + k), {"units": "K"}),
            },
            coords={"time": times, "latitude": lats, "longitude": lons},
            attrs={"forecast_reference_time": run.isoformat()},
        )
        ds["time"].encoding["units"] = "hours since 2015-12-01 00:00:00"
        p = tmp_path / f"run_{k}.nc"
        ds.to_netcdf(p, engine="h5netcdf")
        paths.append(str(p))
    arc, problems = archive_from_files(paths, panel, coords)
    assert problems == []
    assert len(arc.run_times) == 3 and arc.run_times[1] == panel.start_utc + timedelta(hours=12)
    assert {"u10", "v10", "ws10", "t2m"} <= set(arc.variables)
    s = np.zeros(1, dtype=int)
    # at issue 30 (time 31) the newest usable run is the one of hour 24 (k = 2): u 5, v −4 → ws √41, T 2 °C
    assert arc.at("ws10", s, np.array([40]), np.array([30]))[0] == pytest.approx(np.sqrt(41.0))
    assert arc.at("t2m", s, np.array([40]), np.array([30]))[0] == pytest.approx(2.0)


def _issued_archive(frame: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """Daily 12 UTC runs, leads 0..72 h: the true wind plus an error growing with lead (an issued forecast)."""
    rng = np.random.default_rng(seed)
    wide = frame.select("station_code", "ts", "ws10").sort("station_code", "ts")
    out = []
    for (st,), g in wide.group_by("station_code", maintain_order=True):
        ts = g["ts"].to_list()
        ws = g["ws10"].to_numpy()
        for r in range(12, len(ts) - 73, 24):
            j = np.arange(73)
            val = np.clip(ws[r + j] + rng.normal(0, 0.1 + 0.005 * j), 0, None)
            out.append(
                pl.DataFrame(
                    {
                        "source": "test",
                        "run_time": [ts[r]] * 73,
                        "valid_start": [ts[r + k] for k in j],
                        "valid_end": [ts[r + k] + timedelta(hours=1) for k in j],
                        "location_id": st,
                        "variable": "ws10",
                        "value": val,
                    }
                )
            )
    return pl.concat(out).with_columns(pl.col("run_time").dt.cast_time_unit("us"))


@pytest.mark.slow
def test_protocol_in_nwp_mode_uses_the_issued_runs_and_gains_skill() -> None:
    frame, coords = synthetic_frame(n_stations=3, n_days=420, seed=7)
    # ventilation: the hour's concentration falls with the hour's wind, so a forecast of the wind carries signal
    frame = frame.with_columns((pl.col("a34004") * (-0.5 * (pl.col("ws10") - 3.0)).exp()).alias("a34004"))
    nwp_rows = _issued_archive(frame)
    cfg = ProtocolConfig(
        profile=FAST.__class__(**{**FAST.__dict__, "rounds_mean": 120, "rounds_quantile": 30, "max_rows": 8000}),
        hourly_leads=(24,),
        daily_horizons=(1,),
        climatology="short",
        min_train_days=200,
    )
    train, test = (date(2016, 1, 1), date(2016, 11, 30)), (date(2016, 12, 1), date(2017, 2, 20))
    with pytest.raises(ValueError, match="needs the archived runs"):
        run_protocol(frame, train, test, "nwp", config=cfg, coords=coords)
    nwp = run_protocol(frame, train, test, "nwp", config=cfg, coords=coords, nwp_values=nwp_rows)
    none = run_protocol(frame, train, test, "none", config=cfg, coords=coords)
    inp = nwp.model_inputs["hourly_24h"]
    assert inp["weather_mode"] == "nwp"
    assert {"fut_ws10", "fut_ws10_mean", "fut_hours_since_run"} <= set(inp["features"])
    assert "futd_ws10_mean" in nwp.model_inputs["daily_D+1"]["features"]

    def rmse(res, mode, horizon):
        sc = res.scores.filter((pl.col("method") == f"lgbm_{mode}") & (pl.col("horizon") == horizon))
        return float(sc["RMSE"].mean())

    # the issued wind forecasts improve on no weather at 24 h and D+1
    assert rmse(nwp, "nwp", "24h") < 0.97 * rmse(none, "none", "24h")
    assert rmse(nwp, "nwp", "D+1") < 0.97 * rmse(none, "none", "D+1")


@pytest.mark.slow
def test_operational_bundle_trains_and_serves_nwp_sets_with_fallback() -> None:
    from dataclasses import replace

    from bogda.forecast import operational as op
    from bogda.forecast.backtest import _as_panel

    frame, coords = synthetic_frame(n_stations=3, n_days=400, seed=11)
    frame = frame.with_columns((pl.col("a34004") * (-0.5 * (pl.col("ws10") - 3.0)).exp()).alias("a34004"))
    panel = _as_panel(frame, coords)
    arc = NwpArchive.from_values(_issued_archive(frame), panel)
    models, reasons = op.train_operational(
        panel,
        ("a34004",),
        profile=replace(FAST, rounds_mean=30, rounds_quantile=10, max_rows=3000),
        blocks=((1, 6), (7, 24)),
        horizons=(1, 2),
        min_days=300,
        nwp=arc,
    )
    assert models is not None, reasons
    assert models.weather_mode == "nwp"
    m = models.items["a34004"]
    assert set(m.hourly_nwp) == {(1, 6), (7, 24)} and set(m.daily_nwp) == {1, 2} and m.nwp_vars == ("ws10",)
    t = panel.n_hours - 200
    with_nwp = op.forecast_hourly(panel, "a34004", t, max_lead=24, models=models, nwp=arc)
    assert with_nwp.primary == "lgbm_nwp" and with_nwp.model_inputs["weather_mode"] == "nwp"
    assert np.isfinite(with_nwp.methods["lgbm_nwp"][:3]).all()
    without = op.forecast_hourly(panel, "a34004", t, max_lead=24, models=models, nwp=None)
    assert without.primary == "lgbm_none" and without.model_inputs["weather_mode"] == "none"
    daily = op.forecast_daily(panel, "a34004", t, horizons=(1, 2), models=models, nwp=arc)
    assert daily.primary == "lgbm_nwp"
    # no run usable at the issue time (the archive ends 72 h before the panel): the no-NWP sets serve
    late = op.forecast_hourly(panel, "a34004", panel.n_hours - 2, max_lead=6, models=models, nwp=arc)
    assert late.primary == "lgbm_none"
    # the deployment gate scores a probe as it would have served: with the archived runs, by its NWP sets
    from bogda.forecast import gate

    positions = [t - 24 * k for k in range(3)]
    served = gate.probe_pairs(panel, models, ["a34004"], positions, arc)
    blind = gate.probe_pairs(panel, models, ["a34004"], positions)
    # stations × issues × (1, 6, 24 h: the gate leads these blocks cover; D+1..D+7)
    assert served.height == blind.height == 3 * 3 * (3 + 7)
    assert not np.allclose(served["new_mean"].to_numpy(), blind["new_mean"].to_numpy())


# ---- recorded arrival and degraded runs (forecast.md §2 "the recorded arrival time", §6) -------------------------


def _runs(rows: pl.DataFrame, run_h: int, panel, **kw) -> pl.DataFrame:
    """The run table row of the run at panel hour ``run_h`` (naive run times: taken as UTC)."""
    from bogda.forecast import nwp

    return nwp.runs_of(rows.filter(pl.col("run_time") == panel.start_utc + timedelta(hours=run_h)), **kw)


def test_recorded_arrival_decides_when_a_run_is_usable() -> None:
    panel, _ = _panel()
    rows = _rows(panel, [0, 24], 72, lambda r, i, j: 100 + r)
    plain = NwpArchive.from_values(rows, panel)
    at = panel.start_utc
    runs = pl.concat(
        [
            _runs(rows, 0, panel, arrived_at=at + timedelta(hours=3, minutes=30)),  # early: 3.5 h after the run
            _runs(rows, 24, panel, arrived_at=at + timedelta(hours=40)),  # late: 16 h after the run
        ]
    )
    arc = NwpArchive.from_values(rows, panel, runs=runs)
    # the same with aware (UTC) value times, as the store returns them
    aware = NwpArchive.from_values(rows.with_columns(pl.col("run_time").dt.replace_time_zone("UTC")), panel, runs=runs)
    t = np.array([2, 3, 29, 38, 39])  # issue times 3, 4, 30, 39, 40
    # run_time + 6 h: run 0 from time 6, run 24 from 30
    assert plain.run_for(t).tolist() == [-1, -1, 1, 1, 1]
    # recorded arrivals: run 0 from 3.5, run 24 only from 40 (before that run 0 still serves)
    assert arc.run_for(t).tolist() == aware.run_for(t).tolist() == [-1, 0, 0, 0, 1]
    assert arc.at("ws10", np.zeros(2, dtype=int), np.array([45, 45]), np.array([29, 39])).tolist() == [100, 124]
    assert arc.run_reasons(0) == [] and arc.run_reasons(-1) == []


def test_degraded_run_carries_its_reason() -> None:
    panel, _ = _panel()
    rows = _rows(panel, [0, 24], 72, lambda r, i, j: 1.0)
    arc = NwpArchive.from_values(rows, panel, runs=_runs(rows, 24, panel, skipped=3))
    used = int(arc.run_for(np.array([29]))[0])
    assert used == 1 and arc.run_reasons(0) == []
    (reason,) = arc.run_reasons(used)
    assert "degraded: 3 corrupt GRIB message(s) skipped" in reason and arc.run_times[1].isoformat() in reason


def _panel_at_run():
    frame, coords = synthetic_frame(n_stations=2, n_days=6, seed=1, first_day=date(2026, 1, 9))
    return panel_from_frame(frame, ["a34004", "ws10"], coords=coords), coords


def test_runs_loaded_into_the_store_keep_arrival_and_degradation(store, tmp_path: Path) -> None:
    """load-nwp → nwp_value + nwp_run → NwpArchive: what the refresh reads (the stations' values, the run table)."""
    from sqlalchemy import select

    from bogda.forecast import nwp
    from bogda.store.schema import nwp_value
    from forecast.test_nwp import RUN, _grib

    if not nwp.grib_available():
        pytest.skip("ecCodes not loadable (optional dependency)")
    panel, coords = _panel_at_run()
    path = tmp_path / "run.grib2"
    with path.open("wb") as fh:
        for h in range(1, 30):
            _grib(fh, "2t", 280.0 + h, step=h)
        fh.write(b"GRIB" + b"\x00" * 60 + b"7777")
    nwp.load_nwp(store, nwp.read_grib2(path, coords, source="g"), loaded_at=RUN + timedelta(hours=9))
    c = nwp_value.c
    with store.engine.connect() as conn:
        got = conn.execute(
            select(c.source, c.run_time, c.valid_start, c.location_id, c.variable, c.value).where(
                c.location_id.in_(list(panel.stations))
            )
        ).all()
    cols = {"source": pl.Utf8, "run_time": pl.Datetime("us", "UTC"), "valid_start": pl.Datetime("us", "UTC")}
    cols |= {"location_id": pl.Utf8, "variable": pl.Utf8, "value": pl.Float64}
    values = pl.DataFrame([tuple(r) for r in got], schema=cols, orient="row")
    runs = nwp.run_info(store, run_from=RUN - timedelta(days=2), run_to=RUN)
    arc = NwpArchive.from_values(values, panel, runs=runs)
    # without the run table: run_time + 6 h applies and the run is clean
    plain = NwpArchive.from_values(values, panel)
    run_pos = int((RUN - panel.start_utc).total_seconds() // 3600)
    assert arc.run_pos.tolist() == [run_pos]
    # usable from the recorded arrival (run + 9 h), not from run + 6 h
    assert arc.run_for(np.array([run_pos + 7, run_pos + 8])).tolist() == [-1, 0]
    assert plain.run_for(np.array([run_pos + 4, run_pos + 5])).tolist() == [-1, 0] and plain.run_reasons(0) == []
    assert "1 corrupt GRIB message(s) skipped" in arc.run_reasons(0)[0]
    assert arc.at("t2m", np.zeros(1, dtype=int), np.array([run_pos + 10]), np.array([run_pos + 8]))[0] == pytest.approx(
        280.0 + 10 - 273.15, abs=1e-3
    )


def test_archive_from_grib_files_marks_runs_with_corrupt_messages(tmp_path: Path) -> None:
    from bogda.forecast import nwp
    from forecast.test_nwp import _grib

    if not nwp.grib_available():
        pytest.skip("ecCodes not loadable (optional dependency)")
    panel, coords = _panel_at_run()
    path = tmp_path / "run.grib2"
    with path.open("wb") as fh:
        _grib(fh, "2t", 280.0, step=1)
        fh.write(b"GRIB" + b"\x00" * 60 + b"7777")
        _grib(fh, "2t", 281.0, step=2)
    arc, problems = archive_from_files([str(path)], panel, coords)
    assert len(problems) == 1 and nwp.CORRUPT in problems[0] and "message 2" in problems[0]
    assert "degraded: 1 corrupt GRIB message(s) skipped" in arc.run_reasons(0)[0]
    assert np.isnan(arc.arrival_pos).all()  # files carry no arrival: run_time + latency applies


def test_run_table_rows_match_by_source_and_missing_columns_are_named() -> None:
    panel, _ = _panel()
    rows = _rows(panel, [0, 24], 72, lambda r, i, j: 1.0)
    other = _runs(rows, 24, panel, skipped=2).with_columns(pl.lit("another").alias("source"))
    # a run table row of another source says nothing about these values' run
    assert NwpArchive.from_values(rows, panel, runs=other).run_reasons(1) == []
    # two sources feed run 24: it is degraded by the one with corrupt messages, available when the last one is
    both = pl.concat([rows, rows.with_columns(pl.lit("another").alias("source"))])
    at = panel.start_utc
    runs = pl.concat([other, _runs(rows, 24, panel, arrived_at=at + timedelta(hours=26))])
    arc = NwpArchive.from_values(both, panel, runs=runs)
    assert len(arc.run_reasons(1)) == 1 and "(another) degraded: 2 corrupt" in arc.run_reasons(1)[0]
    # "another" has no recorded arrival: run_time + 6 h = 30, later than the recorded 26
    assert arc.available_pos().tolist() == [6.0, 30.0]
    assert NwpArchive.from_values(rows, panel, runs=runs.filter(pl.col("source") == "test")).available_pos()[1] == 26
    with pytest.raises(NwpArchiveError, match="missing column\\(s\\) arrived_at, skipped_messages"):
        NwpArchive.from_values(rows, panel, runs=runs.select("source", "run_time"))
