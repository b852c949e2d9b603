"""Weather mode ``noisy_proxy`` (forecast.md §3.9): observed daily weather with the spec's assumed forecast error,
and the daily release goals stated "with NWP" that §8 item 4 checks on Dongsi in that mode."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast.backtest import (
    NOISY_PROXY_GOALS,
    ProtocolConfig,
    ProtocolResult,
    beijing_protocol,
    dongsi_goals,
    main,
    run_protocol,
)
from bogda.forecast.features import POLLUTANTS, DailyCache, FeatureContext, daily_features, panel_from_frame
from bogda.forecast.models import FAST, fit_model_set
from bogda.forecast.synthetic import synthetic_frame
from bogda.forecast.weather_proxy import NoisyDailyWeather, apply_bounds, noise_fraction, training_sd
from sharedata import require_shared


def test_noise_fractions_follow_the_spec_and_stop_at_d7():
    assert [noise_fraction(k) for k in range(8)] == [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85]
    for bad in (-1, 8):
        with pytest.raises(ValueError, match=f"lead {bad} d"):
            noise_fraction(bad)


def _weather(n_st: int = 40, n_days: int = 500, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "t2m_mean": rng.normal(10.0, 8.0, (n_st, n_days)),
        "precip_sum": np.where(rng.random((n_st, n_days)) < 0.8, 0.0, rng.gamma(1.0, 4.0, (n_st, n_days))),
        "rh2m_mean": np.clip(rng.normal(80.0, 15.0, (n_st, n_days)), 5, 100),
    }


def test_error_has_the_spec_spread_per_lead_and_none_on_the_issue_day():
    w = _weather()
    w["t2m_mean"][3, 7] = np.nan
    noisy = NoisyDailyWeather.from_observed(w, range(40), (0, 249), seed=4)
    sd = training_sd(w, range(40), (0, 249))["t2m_mean"]
    assert sd == pytest.approx(8.0, rel=0.05)
    s = np.repeat(np.arange(40), 500)
    day = np.tile(np.arange(500), 40)
    obs = w["t2m_mean"][s, day]
    assert np.array_equal(noisy.perturb("t2m_mean", obs, s, day, 0), obs, equal_nan=True)
    for k in (1, 4, 7):
        err = noisy.perturb("t2m_mean", obs, s, day, k) - obs
        assert np.isnan(err[3 * 500 + 7])  # a missing observation stays missing
        err = err[np.isfinite(err)]
        assert err.std() == pytest.approx(noise_fraction(k) * sd, rel=0.03)
        assert abs(err.mean()) < 0.03 * sd


def test_bounded_aggregates_stay_in_range():
    w = _weather()
    noisy = NoisyDailyWeather.from_observed(w, range(40), (0, 249))
    s = np.repeat(np.arange(40), 500)
    day = np.tile(np.arange(500), 40)
    rain = noisy.perturb("precip_sum", w["precip_sum"][s, day], s, day, 7)
    rh = noisy.perturb("rh2m_mean", w["rh2m_mean"][s, day], s, day, 7)
    assert rain.min() == 0.0 and (rain == 0.0).mean() > 0.3  # dry days pushed below 0 are clipped, not dropped
    assert rh.max() == 100.0 and rh.min() >= 0.0
    assert apply_bounds("t2m_mean", np.array([-30.0])).tolist() == [-30.0]


def test_draws_are_reproducible_by_seed():
    w = _weather(n_st=3, n_days=20)
    a, b, c = (NoisyDailyWeather.from_observed(w, range(3), (0, 9), seed=sd) for sd in (0, 0, 1))
    s, d = np.array([0, 1, 2]), np.array([4, 5, 6])
    obs = w["t2m_mean"][s, d + 2]
    assert np.array_equal(a.perturb("t2m_mean", obs, s, d, 2), b.perturb("t2m_mean", obs, s, d, 2))
    assert not np.array_equal(a.perturb("t2m_mean", obs, s, d, 2), c.perturb("t2m_mean", obs, s, d, 2))


@pytest.fixture(scope="module")
def synthetic_daily():
    frame, _ = synthetic_frame(n_stations=2, n_days=60, seed=3)
    weather = ("t2m", "td2m", "rh2m", "ws10", "u10", "v10", "psfc", "precip")
    panel = panel_from_frame(frame, [*POLLUTANTS, *weather])
    dm = DailyCache(panel, list(POLLUTANTS), weather)
    ctx = FeatureContext(panel, "a34004", None, None, None, weather, {})
    return ctx, dm


def test_daily_inputs_keep_the_observed_names_and_read_one_run_per_issue_day(synthetic_daily):
    ctx, dm = synthetic_daily
    noisy = NoisyDailyWeather.from_observed(dm.weather, [0, 1], (0, 39), seed=2)
    s = np.array([0, 0, 1, 1])
    day = np.array([40, 45, 40, 50])
    by_k = {}
    for k in (1, 2, 3):
        x_obs, n_obs = daily_features(ctx, dm, s, day, k, future=dm)
        x_noisy, n_noisy = daily_features(ctx, dm, s, day, k, future=noisy)
        assert n_noisy == n_obs  # a model trained on observed weather takes the noisy runs
        col = dict(zip(n_obs, x_obs.T, strict=True))
        ncol = dict(zip(n_noisy, x_noisy.T, strict=True))
        for name in n_obs:
            if name.startswith("futd_") and name != "futd_psfc_chg":
                # every future input moves, except the issue day itself (the previous day of D+1) and an aggregate
                # constant over the training days (the synthetic humidity: s.d. 0)
                var = name.removeprefix("futd_").removeprefix("prev_")
                same = (name.startswith("futd_prev_") and k == 1) or noisy.sd[var] == 0.0
                assert np.array_equal(col[name], ncol[name]) == same, (k, name)
            elif not name.startswith("futd_"):
                assert np.array_equal(col[name], ncol[name], equal_nan=True), (k, name)
        by_k[k] = ncol
    # the day D+2 of one run is the same value whether read as D+2's target day or as D+3's previous day
    for k in (1, 2):
        assert np.array_equal(by_k[k]["futd_t2m_mean"], by_k[k + 1]["futd_prev_t2m_mean"])


def _small_config() -> ProtocolConfig:
    return ProtocolConfig(
        profile=replace(FAST, rounds_mean=60, rounds_quantile=30, max_rows=6000),
        hourly_leads=(1, 24),
        daily_horizons=(1, 2, 3),
        climatology="short",
        min_train_days=200,
    )


@pytest.fixture(scope="module")
def synthetic_modes():
    frame, coords = synthetic_frame(n_stations=3, n_days=560, seed=7)
    span = ((date(2016, 1, 1), date(2016, 12, 31)), (date(2017, 1, 1), date(2017, 7, 10)))
    out = {
        m: run_protocol(frame, *span, m, config=_small_config(), coords=coords)
        for m in ("observed_proxy", "noisy_proxy")
    }
    cfg = replace(_small_config(), noisy_training=True)
    out["noisy_trained"] = run_protocol(frame, *span, "noisy_proxy", config=cfg, coords=coords)
    cfg = replace(_small_config(), noisy_calibration=False)
    out["observed_calibration"] = run_protocol(frame, *span, "noisy_proxy", config=cfg, coords=coords)
    return out


def test_noisy_mode_scores_the_daily_models_only_and_records_the_error_model(synthetic_modes):
    res = synthetic_modes["noisy_proxy"]
    sc = res.scores
    assert set(sc["target"]) == {"daily_mean_PM2.5"}  # hourly leads are not run in a daily mode
    assert set(sc.filter(pl.col("method").str.starts_with("lgbm"))["method"]) == {"lgbm_noisy_proxy"}
    noise = res.model_inputs["weather_noise"]
    assert noise["fractions"] == [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85] and noise["trained_on"] == "observed"
    assert noise["calibrated_on"] == "noisy"
    assert noise["sd"]["t2m_mean"] > 1.0
    assert res.model_inputs["daily_D+1"]["weather_mode"] == "noisy_proxy"
    assert {"POD_episode_gt150", "POD_episode_gt75"} <= set(sc.columns)
    base = synthetic_modes["observed_proxy"].scores.filter(pl.col("target") == "daily_mean_PM2.5")
    # the baselines do not depend on the weather mode: the same pairs and figures
    key = ["station", "horizon", "method"]
    b = base.filter(pl.col("method") == "damped_persistence").select(*key, "n", "RMSE").sort(key)
    n = sc.filter(pl.col("method") == "damped_persistence").select(*key, "n", "RMSE").sort(key)
    assert b.equals(n)


def test_the_same_models_move_more_with_the_lead(synthetic_modes):
    """Both modes train the same models on observed weather; only the scoring inputs differ, so the forecasts part
    by an amount that grows with the error's spread (f = 0.3, 0.4, 0.5 at D+1..D+3). Skill itself is checked on the
    real data (the release test below): the small synthetic models lean on weather too little to show it."""
    shift = []
    for h in ("D+1", "D+2", "D+3"):
        a = synthetic_modes["observed_proxy"].pairs[("daily", h)]
        b = synthetic_modes["noisy_proxy"].pairs[("daily", h)]
        assert np.array_equal(a.obs, b.obs, equal_nan=True)
        shift.append(float(np.nanmean(np.abs(a.methods["lgbm_observed_proxy"] - b.methods["lgbm_noisy_proxy"]))))
    assert 0.0 < shift[0] < shift[1] < shift[2]


def test_noisy_training_fits_the_models_on_the_runs(synthetic_modes):
    """``noisy_training``: the models see the runs' error in training too (as mode nwp trains on archived runs); the
    baselines and the scoring inputs are the same as when trained on observed weather."""
    a, b = synthetic_modes["noisy_proxy"], synthetic_modes["noisy_trained"]
    assert (a.model_inputs["weather_noise"]["trained_on"], b.model_inputs["weather_noise"]["trained_on"]) == (
        "observed",
        "noisy",
    )
    for h in ("D+1", "D+3"):
        pa, pb = a.pairs[("daily", h)], b.pairs[("daily", h)]
        assert np.array_equal(pa.methods["damped_persistence"], pb.methods["damped_persistence"], equal_nan=True)
        assert not np.allclose(pa.methods["lgbm_noisy_proxy"], pb.methods["lgbm_noisy_proxy"])


def test_intervals_are_calibrated_on_the_runs_by_default(synthetic_modes):
    """The default calibrates the quantiles on the noisy runs of the held-out training tail: the same boosters
    (the ``mean`` is identical), other calibration offsets, so other intervals. ``noisy_calibration=False`` keeps
    the observed-weather calibration."""
    a, b = synthetic_modes["noisy_proxy"], synthetic_modes["observed_calibration"]
    assert b.model_inputs["weather_noise"]["calibrated_on"] == "observed"
    for h in ("D+1", "D+3"):
        pa, pb = a.pairs[("daily", h)], b.pairs[("daily", h)]
        assert np.array_equal(pa.methods["lgbm_noisy_proxy"], pb.methods["lgbm_noisy_proxy"])
        ca = a.model_inputs[f"daily_{h}"]["quantile_calibration"]
        cb = b.model_inputs[f"daily_{h}"]["quantile_calibration"]
        assert ca.keys() == cb.keys() == {"p10", "p50", "p90"}
        assert ca != cb
        assert not np.array_equal(pa.quantiles["p90"], pb.quantiles["p90"])


def test_calibration_on_noisier_inputs_widens_the_interval():
    """Split conformal on held-out rows whose inputs carry an error the model did not learn on (forecast.md §3.9):
    the offsets move p10 down and p90 up, and the interval covers about 80 % of new rows issued with that error,
    where the observed-input calibration covers clearly less."""
    rng = np.random.default_rng(4)
    n = 6000
    x = rng.standard_normal((n, 2))
    y = 50 + 20 * x[:, 0] + 5 * rng.standard_normal(n)
    noisy = x + np.column_stack([rng.standard_normal(n), np.zeros(n)])  # the first input's forecast error
    prof = replace(FAST, rounds_mean=80, rounds_quantile=80, max_rows=n, valid_fraction=0.25)
    order = np.arange(n, dtype=float)
    obs = fit_model_set(x, y, ["a", "b"], prof, horizon="D+1", order=order)
    cal = fit_model_set(x, y, ["a", "b"], prof, horizon="D+1", order=order, x_calibrate=noisy)
    assert cal.calibration["p10"] < obs.calibration["p10"] and cal.calibration["p90"] > obs.calibration["p90"]
    xt = rng.standard_normal((4000, 2))
    yt = 50 + 20 * xt[:, 0] + 5 * rng.standard_normal(4000)
    xt_issued = xt + np.column_stack([rng.standard_normal(4000), np.zeros(4000)])
    cover = {}
    for name, ms in (("obs", obs), ("cal", cal)):
        p = ms.predict(xt_issued)
        cover[name] = float(np.mean((yt >= p["p10"]) & (yt <= p["p90"])))
    assert abs(cover["cal"] - 0.80) < 0.04
    assert cover["obs"] < cover["cal"] - 0.1
    with pytest.raises(ValueError, match="same rows"):
        fit_model_set(x, y, ["a", "b"], prof, horizon="D+1", order=order, x_calibrate=noisy[:10])


def test_noisy_goals_are_read_from_the_scores():
    rows = [
        {"station": "1003A", "horizon": h, "method": "lgbm_noisy_proxy", "RMSE": 45.0, "TS_gt150": 0.5}
        for h in ("D+1", "D+2")
    ]
    res = {"noisy_proxy": ProtocolResult(pl.DataFrame(rows))}
    goals = {g.name: g for g in dongsi_goals(res)}
    assert len(goals) == len(NOISY_PROXY_GOALS)
    d1 = goals["daily D+1 RMSE ≤ 40, noisy_proxy"]
    assert (d1.value, d1.met) == (45.0, False)
    d2 = goals["daily D+2 RMSE ≤ 50, noisy_proxy"]
    assert d2.met and d2.gap == pytest.approx(-5.0)
    assert goals["daily D+2 TS_gt150 ≥ 0.45, noisy_proxy"].met
    assert goals["daily D+1 TS_gt150 ≥ 0.55, noisy_proxy"].met is False
    assert goals["daily D+3 RMSE ≤ 55, noisy_proxy"].value is None  # not scored: never met


def test_command_refuses_an_unknown_mode(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--modes", "none,foggy", "--out", str(tmp_path), "--data", str(tmp_path)])
    assert e.value.code == 2
    assert "foggy" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--modes", "nwp", "--out", str(tmp_path), "--data", str(tmp_path)])
    r = CliRunner().invoke(
        app, ["forecast", "backtest", "--modes", "none,foggy", "--out", str(tmp_path), "--data", str(tmp_path)]
    )
    assert r.exit_code == 2 and "foggy" in r.output
    frame, _ = synthetic_frame(n_stations=1, n_days=10)
    with pytest.raises(ValueError, match="weather mode 'foggy'"):
        run_protocol(frame, (date(2016, 1, 1), date(2016, 1, 5)), (date(2016, 1, 6), date(2016, 1, 9)), "foggy")


# --------------------------------------------------------------------------------------------------------------
# Dongsi (forecast.md §8 item 4): the daily goals "with NWP", checked in the noisy proxy
# --------------------------------------------------------------------------------------------------------------

_NOT_MET: dict[str, str] = {}
"""Goals measured not met on Dongsi (name → the measurement), xfail with the figure; docs/forecast.md §3.3. The
last one, D+1 coverage ≥ 0.78 (0.775), is met since the issued range holds the mean (0.787, 2026-12-01)."""


def _goal_params() -> list[object]:
    out = []
    for h, metric, thr, higher in NOISY_PROXY_GOALS:
        name = f"daily {h} {metric} {'≥' if higher else '≤'} {thr:g}, noisy_proxy"
        marks = [pytest.mark.xfail(reason=_NOT_MET[name], strict=False)] if name in _NOT_MET else []
        out.append(pytest.param(name, marks=marks, id=f"{h}-{metric}-{'ge' if higher else 'le'}{thr:g}"))
    return out


@pytest.fixture(scope="module")
def dongsi_noisy():
    data = require_shared("beijing").parent
    res = beijing_protocol(data, ("Dongsi",), modes=("noisy_proxy",), config=ProtocolConfig(hourly_leads=()))
    return res, {g.name: g for g in dongsi_goals(res)}


@pytest.mark.slow
@pytest.mark.release  # make test-release: 12 monthly refits of the D+1..D+7 models and their quantiles
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("goal", _goal_params())
def test_dongsi_noisy_proxy_goal(dongsi_noisy, goal):
    _, goals = dongsi_noisy
    g = goals[goal]
    assert g.value is not None and g.met, f"{g.name}: {g.value} vs {g.threshold} (gap {g.gap})"


@pytest.mark.slow
@pytest.mark.release
@pytest.mark.timeout(3600)
def test_dongsi_noisy_error_costs_skill_with_the_lead(dongsi_noisy):
    """The assumed error grows with the lead, so the skill against damped persistence must fall from D+1 to D+7,
    and at D+1 the noisy run sits between the observed-weather bound (28.9) and no weather (46.1)."""
    res, _ = dongsi_noisy
    sc = res["noisy_proxy"].scores.filter((pl.col("station") == "1003A") & (pl.col("method") == "lgbm_noisy_proxy"))
    ss = dict(zip(sc["horizon"], sc["SS_damped"], strict=True))
    assert ss["D+1"] > ss["D+3"] > ss["D+7"]
    d1 = sc.filter(pl.col("horizon") == "D+1")["RMSE"][0]
    assert 28.9 < d1 < 46.1
