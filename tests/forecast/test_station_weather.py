"""Observed station weather as production inputs (forecast.md §2 "weather where measured", §3.4 "observed weather
now"): stored weather read in canonical units, the panel's weather variables, the bundle that learns from them and
records them, the refresh that builds the same columns, and the training that says what it used."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from bogda.forecast import avoided as av
from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast import station_weather as sw
from bogda.forecast.features import Panel
from bogda.forecast.models import FAST
from bogda.store import Store
from bogda.store import series as store_series
from bogda.timeutil import floor_to, now_utc
from forecast.episode import mini_region

SMALL = FAST.__class__("test", learning_rate=0.2, rounds_mean=10, rounds_quantile=5, max_rows=3000)


# --------------------------------------------------------------------------------------------------------------
# units and plausibility
# --------------------------------------------------------------------------------------------------------------


def test_units_come_from_the_series_and_an_unfit_unit_is_named() -> None:
    x = np.array([95.0])
    assert sw.to_canonical(x, "psfc", "kPa").tolist() == [950.0]  # HJ 212
    assert sw.to_canonical(x * 10, "psfc", "hPa").tolist() == [950.0]  # PRSA
    assert sw.to_canonical(x * 1000, "psfc", "Pa").tolist() == [950.0]
    assert sw.to_canonical(np.array([263.15]), "t2m", "K").tolist() == pytest.approx([-10.0])
    assert sw.to_canonical(np.array([-10.0]), "t2m", "°C").tolist() == [-10.0]
    assert sw.to_canonical(np.array([3.0]), "ws10", "").tolist() == [3.0]  # series without a recorded unit
    with pytest.raises(ValueError, match=r"'°C' does not fit psfc"):
        sw.to_canonical(x, "psfc", "°C")
    with pytest.raises(ValueError, match="wind direction"):
        sw.to_canonical(x, "wd10", "m/s")


def test_implausible_values_and_unfit_series_are_left_out_with_a_note() -> None:
    t = datetime(2025, 1, 1, tzinfo=UTC)
    obs = pl.DataFrame(
        {
            "site_id": [1, 1, 1, 1, 2, 2],
            "parameter": ["a01001", "a01001", "a01006", "a01002", "a01006", "a01007"],
            "ts": [t, t + timedelta(hours=1), t, t, t, t],
            "value": [-35.0, 99.0, 93.0, 140.0, 20.0, 2.5],
        }
    )
    units = {(1, "a01001"): "°C", (1, "a01006"): "kPa", (1, "a01002"): "%", (2, "a01006"): "°C", (2, "a01007"): "m/s"}
    rows, notes = sw.canonical_frame(obs, units)
    got = {(r["site_id"], r["column"]): r["value"] for r in rows.iter_rows(named=True)}
    assert got == {(1, "t2m"): -35.0, (1, "psfc"): 930.0, (2, "ws10"): 2.5}  # −35 °C is a Changji winter night
    assert "site 2 a01006: unit '°C' does not fit psfc (expected hPa); left out (station weather)" in notes
    assert "1 t2m values outside -60…60 left out (station weather)" in notes
    assert "1 rh2m values outside 0…100 left out (station weather)" in notes


def test_weather_arrays_wind_calm_and_magnus() -> None:
    out = sw.weather_arrays(
        {
            "t2m": np.array([20.0, 20.0, 20.0]),
            "td2m": np.array([10.0, 10.0, np.nan]),
            "rh2m": np.array([np.nan, 50.0, np.nan]),
            "ws10": np.array([2.0, 0.0, 3.0]),
            "wd10": np.array([270.0, 90.0, np.nan]),
        },
        (3,),
    )
    assert out["u10"][0] == pytest.approx(2.0) and out["v10"][0] == pytest.approx(0.0, abs=1e-12)  # west wind
    assert out["u10"][1] == 0.0 and out["v10"][1] == 0.0  # calm: no direction, zero wind
    assert np.isnan(out["u10"][2])  # a speed without a direction has no components
    assert out["rh2m"][0] == pytest.approx(52.6, abs=0.2)  # Magnus, T 20 °C, Td 10 °C
    assert out["rh2m"][1] == 50.0 and np.isnan(out["rh2m"][2])  # stored RH kept; no Td, no RH
    assert np.isnan(out["precip"]).all()


# --------------------------------------------------------------------------------------------------------------
# the store → the panel
# --------------------------------------------------------------------------------------------------------------


def _write_weather(store: Store, code: str, hours: int, values: dict[str, tuple[np.ndarray, str]], flag: str = "N"):
    from sqlalchemy import select

    from bogda.store.schema import site

    with store.engine.connect() as conn:
        sid = conn.execute(select(site.c.id).where(site.c.code == code)).scalar_one()
    now = floor_to(now_utc(), "hour")
    ts = [now - timedelta(hours=h) for h in range(hours, 0, -1)]
    frames = [
        pl.DataFrame({"site_id": sid, "parameter": p, "ts": ts, "value": v, "flag": flag, "unit": unit})
        for p, (v, unit) in values.items()
    ]
    df = pl.concat(frames).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    store_series.write_long(store, df, resolution="hour", reason="test")
    return ts


def test_the_panel_reads_each_stations_weather_in_canonical_units(sqlite_store: Store) -> None:
    codes = mini_region(sqlite_store, n=4, days=5)
    hours = 5 * 24
    p_kpa = np.full(hours, 93.5)
    p_kpa[50:52] = np.nan  # a 2-h gap: interpolated (≤ 3 h)
    ws = np.where(np.arange(hours) % 10 == 0, 0.0, 3.0)
    ts = _write_weather(
        sqlite_store,
        codes[0],
        hours,
        {
            "a01006": (p_kpa, "kPa"),  # HJ 212's pressure unit
            "a01001": (np.full(hours, -20.0), "°C"),
            "dewpoint": (np.full(hours, -25.0), "°C"),
            "a01007": (ws, "m/s"),
            "a01008": (np.full(hours, 315.0), "°"),  # north-west wind
        },
    )
    _write_weather(sqlite_store, codes[2], hours, {"a01006": (np.full(hours, 935.0), "hPa")})
    _write_weather(sqlite_store, codes[1], hours, {"a01001": (np.full(hours, 5.0), "°C")}, flag="D")  # source flag
    reg = sv.registry(sqlite_store)
    panel = sv.load_panel(sqlite_store, reg, ts[-1] + timedelta(hours=1), days=6)
    row = {s: i for i, s in enumerate(panel.stations)}
    assert {"psfc", "t2m", "td2m", "rh2m", "ws10", "u10", "v10"} <= set(panel.data) and "precip" not in panel.data
    pos = np.array([panel.position(t) for t in ts])
    psfc = panel.data["psfc"][row[codes[0]], pos]
    assert np.allclose(psfc, 935.0)  # kPa → hPa, and the gap filled
    assert np.allclose(panel.data["psfc"][row[codes[2]], pos], 935.0)  # hPa as it is
    t2m = panel.data["t2m"]
    assert np.isnan(t2m[row[codes[1]]]).all()  # values the source flagged are not used
    assert panel.data["rh2m"][row[codes[0]], pos[0]] == pytest.approx(64.4, abs=0.1)  # Magnus at −20 / −25 °C
    u, v = panel.data["u10"][row[codes[0]], pos], panel.data["v10"][row[codes[0]], pos]
    assert u[1] == pytest.approx(3.0 * np.sqrt(0.5)) and v[1] == pytest.approx(-3.0 * np.sqrt(0.5))  # blows to SE
    assert u[0] == 0.0 and v[0] == 0.0  # calm
    # the area rows average their members' weather (each county holds two of the four stations)
    county = next(a for a in reg.areas if codes[0] in a.members)
    assert np.allclose(panel.data["psfc"][row[county.code], pos], 935.0)
    # without weather: the pollutants only
    plain = sv.load_panel(sqlite_store, reg, ts[-1] + timedelta(hours=1), days=6, weather_days=0)
    assert "psfc" not in plain.data and "a34004" in plain.data
    recent = sv.load_panel(sqlite_store, reg, ts[-1] + timedelta(hours=1), days=6, weather_days=2)
    p = recent.data["psfc"][row[codes[2]], pos]
    assert np.isnan(p[: hours - 48]).all() and np.allclose(p[hours - 48 :], 935.0)


def test_stored_weather_of_the_days_avoided_is_read_the_same_way(sqlite_store: Store) -> None:
    codes = mini_region(sqlite_store, n=2, days=3)
    ts = _write_weather(sqlite_store, codes[0], 72, {"a01006": (np.full(72, 95.0), "kPa")})
    h = av.hourly_from_store(sqlite_store, codes[0], ts[0], ts[-1] + timedelta(hours=1))
    assert h.height == 72 and np.allclose(h["psfc"].to_numpy(), 950.0)  # was taken as 95 hPa before
    assert np.isfinite(h["a34004"].to_numpy()).all()


# --------------------------------------------------------------------------------------------------------------
# the models
# --------------------------------------------------------------------------------------------------------------


def _windy_panel(days: int = 260, seed: int = 0) -> Panel:
    """Three stations whose next-day PM2.5 is set by the wind at the issue hour (a front arriving): today's PM2.5
    says nothing about tomorrow's, the observed wind everything."""
    rng = np.random.default_rng(seed)
    n = 3
    ws_day = rng.gamma(2.0, 1.5, days)
    ws = np.repeat(ws_day, 24)[None, :].repeat(n, axis=0) + rng.normal(0, 0.1, (n, days * 24))
    pm_day = np.empty(days)
    pm_day[0] = 80.0
    pm_day[1:] = np.clip(160.0 - 25.0 * ws_day[:-1], 5.0, None)  # tomorrow from today's wind
    pm = np.repeat(pm_day, 24)[None, :] * rng.lognormal(0.0, 0.1, (n, days * 24))
    data: dict[str, np.ndarray] = {"a34004": pm, "ws10": ws, "u10": -ws, "v10": np.zeros_like(ws)}
    coords = {f"S{i}": (44.0, 87.0 + 0.1 * i) for i in range(n)}
    return Panel(date(2024, 1, 1), tuple(coords), data, coords)


def _d1_rmse(panel: Panel, bundle: op.OperationalModels, days: range) -> float:
    err = []
    obs = op.daily_item(panel, "a34004")
    for d in days:
        fc = op.forecast_daily(panel, "a34004", d * 24 + 17, horizons=(1,), models=bundle)
        err.append(fc.methods["lgbm_none"][:, 0] - obs[:, d + 1])
    return float(np.sqrt(np.nanmean(np.square(err))))


def test_the_models_learn_from_the_observed_weather_and_the_bundle_records_it() -> None:
    panel = _windy_panel()
    fit = partial(op.train_operational, min_days=150, profile=SMALL, blocks=((1, 72),), horizons=(1,), train_end=199)
    with_wx, _ = fit(panel)
    without, _ = fit(panel, weather_vars=())
    assert with_wx is not None and without is not None
    assert with_wx.weather_vars == ("ws10", "u10", "v10") and without.weather_vars == ()
    names = with_wx.items["a34004"].daily[1].feature_names
    assert "obs_ws10" in names and "obsd_ws10_mean" in names
    assert not any(n.startswith(("obs_", "obsd_")) for n in without.items["a34004"].daily[1].feature_names)
    assert with_wx.items["a34004"].daily[1].inputs["observed_weather"] == ["ws10", "u10", "v10"]
    test_days = range(200, 258)  # after the training window
    r_with, r_without = _d1_rmse(panel, with_wx, test_days), _d1_rmse(panel, without, test_days)
    assert r_with < 0.6 * r_without, (r_with, r_without)
    # a refresh on a panel without the weather builds the same columns (NaN) and still answers
    bare = Panel(panel.first_day, panel.stations, {"a34004": panel.data["a34004"].copy()}, dict(panel.coords))
    fc = op.forecast_daily(bare, "a34004", 230 * 24 + 17, horizons=(1, 2), models=with_wx)
    assert fc.primary == "lgbm_none" and np.isfinite(fc.methods["lgbm_none"][:, 0]).all()
    assert np.isnan(bare.data["ws10"]).all()
    hourly = op.forecast_hourly(bare, "a34004", 230 * 24 + 17, leads=(1, 24), models=with_wx)
    assert np.isfinite(hourly.methods["lgbm_none"]).all()


def test_a_variable_too_sparse_is_not_an_input_and_unknown_ones_are_refused() -> None:
    panel = _windy_panel(days=220)
    rain = np.full_like(panel.data["ws10"], np.nan)
    rain[0, : 24 * 50] = 0.0  # 50 days of one station: less than 0.75 × 150 days
    panel.data["precip"] = rain
    assert op.observed_weather_vars(panel, 0, 199, 150) == ("ws10", "u10", "v10")
    assert op.observed_weather_vars(panel, 0, 199, 60) == ("ws10", "u10", "v10", "precip")
    # only station rows count: an area row holding the weather alone would not make it an input
    assert op.observed_weather_vars(panel, 0, 199, 150, stations=["S9"]) == ()
    with pytest.raises(ValueError, match=r"observed weather \['wind'\]"):
        op.train_operational(panel, min_days=150, profile=SMALL, weather_vars=("wind",))


def test_the_training_reads_the_stored_weather_says_so_and_the_probe_learns_the_same_columns(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = mini_region(sqlite_store, days=40)
    hours = 40 * 24
    rng = np.random.default_rng(1)
    for c in codes[:2]:
        _write_weather(
            sqlite_store,
            c,
            hours,
            {"a01001": (rng.normal(-10, 5, hours), "°C"), "a01006": (rng.normal(94, 0.3, hours), "kPa")},
        )
    fit = partial(op.train_operational, min_days=5, profile=SMALL, blocks=((1, 72),), horizons=(1, 2))
    calls: list[dict[str, Any]] = []

    def spy_fit(*args: Any, **kw: Any) -> Any:
        calls.append(kw)
        return fit(*args, **kw)

    path = tmp_path / "models.pkl"
    said: list[str] = []
    n, _ = sv.train_gated(sqlite_store, items=("a34004",), path=path, gated=False, fit_with=spy_fit, skipped=said)
    bundle = sv.load_models(path)
    assert n == 1 and bundle.weather_vars == ("t2m", "psfc")
    assert "weather: observed station weather t2m, psfc as inputs" in said
    assert "obs_psfc_d24" in bundle.items["a34004"].hourly[(1, 72)].feature_names
    reads: list[timedelta] = []
    real_read = sw.read_weather

    def spy_read(store: Store, sites: Any, start: datetime, end: datetime) -> Any:
        reads.append(end - start)
        return real_read(store, sites, start, end)

    monkeypatch.setattr(sw, "read_weather", spy_read)
    res = sv.refresh(sqlite_store, models=bundle, write=False)
    assert res.daily_aqi and not any("no model for a34004" in r for r in res.reasons)
    assert reads == [timedelta(days=sv.REFRESH_WEATHER_DAYS)]  # only the days the features reach back
    assert res.observed_weather == ["t2m", "psfc"] and not any("station weather" in r for r in res.reasons)
    sv.refresh(sqlite_store, models=None, write=False)
    assert len(reads) == 1  # no bundle that learnt from weather: none read

    # the run says which weather its models read; a feed down for a day degrades it, and the console says both
    def pressure_down(store: Store, sites: Any, start: datetime, end: datetime) -> Any:
        rows, notes = real_read(store, sites, start, end)
        return rows.filter((pl.col("column") != "psfc") | (pl.col("ts") < end - timedelta(hours=30))), notes

    from bogda.web.api import forecast as api
    from bogda.web.ui import forecast as page

    monkeypatch.setattr(sw, "read_weather", real_read)
    ok = sv.refresh(sqlite_store, models=bundle)
    assert api.latest(sqlite_store)["observed_weather"] == ["t2m", "psfc"]
    assert not any("station weather" in r for r in ok.reasons)
    monkeypatch.setattr(sw, "read_weather", pressure_down)
    down = sv.refresh(sqlite_store, models=bundle)
    assert down.status == "degraded" and down.observed_weather == ["t2m"]
    assert "no observed station weather in 24 h: psfc" in down.reasons
    run = api.latest(sqlite_store)
    assert run["id"] == down.run_id and run["observed_weather"] == ["t2m"]
    assert page.inputs_label(run, "zh") == "测站实测（气温）"
    reason = next(r for r in down.reasons if "station weather" in r)
    assert page.reason_text(reason, "zh") == "24 小时内无测站实测气象：气压（模型按缺测处理）"
    monkeypatch.setattr(sw, "read_weather", real_read)
    # the gate's probe (trained on a shorter window) is given the candidate's columns
    n, verdict = sv.train_gated(sqlite_store, items=("a34004",), path=path, gated=True, fit_with=spy_fit)
    assert verdict is not None and calls[-1]["weather_vars"] == ("t2m", "psfc") and "train_end" in calls[-1]
    # a network without weather sensors: the pollutants only, and said so
    said.clear()
    n, _ = sv.train_gated(
        sqlite_store, items=("a34004",), path=tmp_path / "plain.pkl", gated=False,
        fit_with=partial(fit, weather_vars=()), skipped=said,
    )  # fmt: skip
    assert n == 1 and sv.load_models(tmp_path / "plain.pkl").weather_vars == ()
    assert "weather: no station stores enough weather; the models read the pollutants only" in said


def test_tuning_builds_the_features_the_training_will_have(monkeypatch: pytest.MonkeyPatch) -> None:
    panel = _windy_panel(days=260)
    seen: list[Any] = []
    real = op._fit_sets

    def spy(item: str, inp: Any, **kw: Any) -> Any:
        seen.append((inp.ctx.heating, inp.ctx.weather_vars, tuple(inp.daily.weather)))
        return real(item, inp, **kw)

    monkeypatch.setattr(op, "_fit_sets", spy)
    season = ((10, 15), (4, 15))
    tuned, _ = op.tune_operational(
        panel, min_days=100, valid_days=40, profile=SMALL, blocks=((1, 72),), horizons=(1,), heating=season
    )
    assert tuned is not None and tuned.sets
    assert seen == [(season, ("ws10", "u10", "v10"), ("ws10_mean", "ws10_max", "u10_mean", "v10_mean"))]
