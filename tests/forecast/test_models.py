"""LightGBM direct multi-horizon model sets on synthetic data (forecast.md §3.4)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bogda.forecast import baselines as bl
from bogda.forecast.features import (
    POLLUTANTS,
    WEATHER,
    DailyCache,
    FeatureContext,
    SeriesCache,
    neighbour_table,
    panel_from_frame,
)
from bogda.forecast.models import (
    FAST,
    HOURLY_BLOCKS,
    exceedance_probability,
    predict_daily,
    predict_hourly,
    predict_hourly_leads,
    seam_weights,
    train_daily,
    train_hourly,
)
from bogda.forecast.synthetic import synthetic_frame

SMALL = replace(FAST, rounds_mean=40, rounds_quantile=20, max_rows=4000)


@pytest.fixture(scope="module")
def ctx():
    frame, coords = synthetic_frame(n_stations=3, n_days=120, seed=3)
    panel = panel_from_frame(frame, [*POLLUTANTS, *WEATHER], coords=coords)
    y = panel.data["a34004"]
    train = np.zeros(panel.n_hours, bool)
    train[: 90 * 24] = True
    clim = bl.hourly_clim_array(panel, bl.climatology_month_hour(panel, y, train))
    return FeatureContext(panel, "a34004", neighbour_table(panel.stations, coords), clim, None, WEATHER)


def test_hourly_blocks_predict_sorted_nonnegative_quantiles_and_record_inputs(ctx):
    models = train_hourly(ctx, train_start=0, train_end=90 * 24 - 1, blocks=[(1, 1), (2, 6)], profile=SMALL)
    assert set(models) == {(1, 1), (2, 6)}
    rec = models[(2, 6)].inputs
    assert rec["weather_mode"] == "none" and rec["neighbours"] is True and rec["n_rows"] > 1000
    assert "lead" in rec["features"] and not any(f.startswith("fut_") for f in rec["features"])
    s = np.zeros(200, dtype=np.int64)
    t = np.arange(95 * 24, 95 * 24 + 200)
    out = predict_hourly(models, ctx, s, t, 4)
    assert set(out) == {"mean", "p10", "p50", "p90"}
    assert (out["p10"] <= out["p50"]).all() and (out["p50"] <= out["p90"]).all()
    assert (out["mean"] >= 0).all()
    with pytest.raises(KeyError, match="no model block covers lead 30"):
        predict_hourly(models, ctx, s, t, 30)


def test_all_leads_at_once_equal_lead_by_lead(ctx):
    """The refresh predicts every lead of a block in one call (predict_hourly_leads): the same numbers as one call
    per lead, whichever order the leads come in."""
    models = train_hourly(ctx, train_start=0, train_end=90 * 24 - 1, blocks=[(1, 1), (2, 6)], profile=SMALL)
    s, t_issue, leads = np.arange(3), 95 * 24 + 7, [5, 1, 2, 6, 3]
    out = predict_hourly_leads(models, ctx, s, t_issue, leads)
    for j, lead in enumerate(leads):
        one = predict_hourly(models, ctx, s, np.full(3, t_issue), lead)
        for k in ("mean", "p10", "p50", "p90"):
            np.testing.assert_array_equal(out[k][:, j], one[k])
    with pytest.raises(KeyError, match="no model block covers lead 30"):
        predict_hourly_leads(models, ctx, s, t_issue, [1, 30])


@pytest.mark.parametrize(
    ("blocks", "hours", "expected"),
    [
        # 2–6 | 7–24: n = min(6, |A| = 5, 18 // 2) = 5: leads 7..11 take the later block at 1/6, 2/6, ... 5/6
        (HOURLY_BLOCKS, 6, {6: [1.0], 7: [5 / 6, 1 / 6], 9: [0.5, 0.5], 11: [1 / 6, 5 / 6], 12: [1.0]}),
        (HOURLY_BLOCKS, 6, {1: [1.0], 2: [1.0], 24: [1.0], 48: [1.0], 72: [1.0]}),  # 1 h never fades in; ends alone
        (HOURLY_BLOCKS, 6, {25: [6 / 7, 1 / 7], 30: [1 / 7, 6 / 7], 31: [1.0], 49: [6 / 7, 1 / 7], 55: [1.0]}),
        (HOURLY_BLOCKS, 0, {25: [1.0], 7: [1.0], 49: [1.0]}),  # no fade: the covering block alone
        (((1, 10), (21, 30)), 6, {10: [1.0], 21: [1.0]}),  # blocks that do not meet are not faded
    ],
)
def test_seam_weights(blocks, hours, expected) -> None:
    for lead, shares in expected.items():
        got = seam_weights(lead, blocks, hours)
        assert [w for _, w in got] == pytest.approx(shares), lead
        assert sum(w for _, w in got) == pytest.approx(1.0)


def test_seam_weights_ramp_after_every_border_and_name_an_uncovered_lead() -> None:
    """After each border of the default blocks the earlier set fades out over the first n leads, the later
    block's share rising by 1/(n + 1) a lead, and no lead up to a block end changes (forecast.md §6)."""
    shares = {lead: dict(seam_weights(lead, HOURLY_BLOCKS, 6)) for lead in range(1, 73)}
    assert [shares[h].get((25, 48), 0.0) for h in range(24, 32)] == pytest.approx([k / 7 for k in range(8)])
    assert [shares[h].get((7, 24), 0.0) for h in range(6, 13)] == pytest.approx([0, *(k / 6 for k in range(1, 6)), 1])
    for lo, hi in HOURLY_BLOCKS:
        assert shares[hi] == {(lo, hi): 1.0}  # the block ends, the gate's horizons, are each block's own
    with pytest.raises(KeyError, match="no model block covers lead 73"):
        seam_weights(73, HOURLY_BLOCKS)


def test_faded_leads_blend_both_blocks_forecasts(ctx):
    """With ``seam_hours`` a lead just after a border is the weighted mean of both blocks' forecasts at that lead
    (each block's model fed the same rows); every other lead is its own block's, as without the fade."""
    models = train_hourly(ctx, train_start=0, train_end=90 * 24 - 1, blocks=[(2, 6), (7, 12)], profile=SMALL)
    s, t_issue, leads = np.arange(3), 95 * 24 + 7, [2, 5, 6, 7, 8, 12]
    plain = predict_hourly_leads(models, ctx, s, t_issue, leads)
    faded = predict_hourly_leads(models, ctx, s, t_issue, leads, seam_hours=6)
    for j, lead in enumerate(leads):
        want = {k: 0.0 for k in ("mean", "p10", "p50", "p90")}
        for block, w in seam_weights(lead, list(models), 6):
            one = _one_block(models[block], ctx, s, t_issue, lead)
            for k in want:
                want[k] = want[k] + w * one[k]
        for k in want:
            np.testing.assert_allclose(faded[k][:, j], want[k], rtol=1e-12)
    for j in (0, 1, 2, 5):  # leads 2, 5, 6 and 12: not after a border, unchanged
        np.testing.assert_array_equal(faded["mean"][:, j], plain["mean"][:, j])
    assert not np.allclose(faded["mean"][:, 3], plain["mean"][:, 3])  # lead 7 does blend in the 2–6 set


def _one_block(model, ctx, s, t_issue, lead):
    """One block's model at ``lead``, inside its block or beyond it: the features of that lead, fed to it."""
    from bogda.forecast.features import hourly_features
    from bogda.forecast.models import _with_station

    x, names = hourly_features(ctx, s, np.full(s.size, t_issue), np.full(s.size, lead))
    x, _ = _with_station(x, names, s)
    return model.predict(x)


def test_neighbour_table_is_computed_once_and_copied() -> None:
    coords = {"A": (44.0, 87.0), "B": (44.1, 87.0), "C": (44.0, 87.2), "D": [45.0, 90.0]}  # D: a list, far away
    first = neighbour_table(["A", "B", "C", "D"], coords, max_km=50.0, k=2)
    assert first.tolist() == [[1, 2], [0, 2], [0, 1], [-1, -1]]
    first[0, 0] = 99  # a caller's change does not reach the next caller
    assert neighbour_table(["A", "B", "C", "D"], coords, max_km=50.0, k=2)[0, 0] == 1
    assert neighbour_table(["A", "B", "C", "D"], coords, max_km=50.0, k=2, candidates=["A"])[:, 0].tolist() == [
        -1, 0, 0, -1
    ]  # fmt: skip


def test_hourly_model_beats_climatology_at_one_hour(ctx):
    models = train_hourly(ctx, train_start=0, train_end=90 * 24 - 1, blocks=[(1, 1)], profile=SMALL, quantiles=())
    s = np.repeat(np.arange(3), 25 * 24)
    tgt = np.tile(np.arange(92 * 24, 117 * 24), 3)
    obs = ctx.panel.data["a34004"][s, tgt]
    f = predict_hourly(models, ctx, s, tgt - 1, 1)["mean"]
    ok = np.isfinite(obs)
    rmse_model = np.sqrt(np.mean((f[ok] - obs[ok]) ** 2))
    train = np.zeros(ctx.panel.n_hours, bool)
    train[: 90 * 24] = True
    clim = bl.hourly_clim_array(ctx.panel, bl.climatology_hour(ctx.panel, ctx.panel.data["a34004"], train))
    rmse_clim = np.sqrt(np.mean((clim[s, tgt][ok] - obs[ok]) ** 2))
    assert rmse_model < 0.6 * rmse_clim


def test_training_is_deterministic(ctx):
    kw = dict(train_start=0, train_end=60 * 24 - 1, blocks=[(7, 24)], profile=SMALL, quantiles=(0.5,))
    a = train_hourly(ctx, **kw)[(7, 24)]
    b = train_hourly(ctx, **kw)[(7, 24)]
    s, t = np.zeros(50, dtype=np.int64), np.arange(70 * 24, 70 * 24 + 50)
    np.testing.assert_array_equal(
        predict_hourly({(7, 24): a}, ctx, s, t, 12)["mean"], predict_hourly({(7, 24): b}, ctx, s, t, 12)["mean"]
    )


def test_weather_mode_must_match_inputs(ctx):
    future = SeriesCache(ctx.panel)
    with pytest.raises(ValueError, match="disagree"):
        train_hourly(ctx, train_start=0, train_end=1000, blocks=[(1, 1)], weather_mode="none", future=future)
    with pytest.raises(ValueError, match="weather_mode must be"):
        train_hourly(ctx, train_start=0, train_end=1000, blocks=[(1, 1)], weather_mode="guess")
    models = train_hourly(
        ctx,
        train_start=0,
        train_end=60 * 24 - 1,
        blocks=[(1, 1)],
        profile=SMALL,
        quantiles=(),
        weather_mode="observed_proxy",
        future=future,
        future_vars=WEATHER,
    )
    assert models[(1, 1)].inputs["weather_mode"] == "observed_proxy"
    assert "fut_ws10_mean" in models[(1, 1)].feature_names
    with pytest.raises(ValueError, match="retrain or pass the same inputs"):
        predict_hourly(models, ctx, np.array([0]), np.array([70 * 24]), 1)  # NWP-trained set, no NWP given


def test_daily_horizons(ctx):
    dm = DailyCache(ctx.panel, list(POLLUTANTS), WEATHER)
    models = train_daily(ctx, dm, train_start_day=0, train_end_day=89, horizons=(1, 3), profile=SMALL)
    assert set(models) == {1, 3} and models[3].horizon == "D+3"
    s = np.zeros(10, dtype=np.int64)
    out = predict_daily(models, ctx, dm, s, np.arange(95, 105), 3)
    assert out["mean"].shape == (10,) and np.isfinite(out["p90"]).all()


@pytest.mark.parametrize(
    ("threshold", "expected"),
    # q10 = 50, q50 = 100, q90 = 200: σ = ln 2 / 1.2816 on both sides, so P(X > q90) = 0.1, P(X > q10) = 0.9
    [(100.0, 0.5), (200.0, 0.1), (50.0, 0.9)],
)
def test_exceedance_probability_lognormal(threshold, expected):
    p = exceedance_probability(np.array([50.0]), np.array([100.0]), np.array([200.0]), threshold)
    assert p[0] == pytest.approx(expected, abs=1e-4)


def test_log_target_mean_is_back_transformed_with_smearing():
    """Profile.transform ``log``: the mean booster learns log(1 + y); Duan's factor from the early-stopping tail
    turns its forecast back into E[y]. Without the factor the forecast would be the geometric mean, about
    exp(σ²/2) too low for a lognormal y (σ = 0.8: 27 %)."""
    from bogda.forecast.models import fit_model_set

    rng = np.random.default_rng(5)
    n = 6000
    x = rng.uniform(0, 1, size=(n, 2))
    mu = 3.0 + 1.5 * x[:, 0]
    y = np.exp(mu + rng.normal(0, 0.8, n)) - 1.0
    profile = replace(FAST, rounds_mean=200, early_stopping=20, transform="log")
    ms = fit_model_set(x, y, ["a", "b"], profile, horizon="t", quantiles=())
    assert ms.smearing == pytest.approx(np.exp(0.8**2 / 2), rel=0.08)
    assert ms.inputs["transform"] == "log" and ms.inputs["smearing"] == ms.smearing
    x_new = rng.uniform(0, 1, size=(20000, 2))
    expected = np.exp(3.0 + 1.5 * x_new[:, 0] + 0.8**2 / 2) - 1.0  # E[y | x]
    mean = ms.predict(x_new)["mean"]
    assert np.mean(mean) == pytest.approx(np.mean(expected), rel=0.1)  # the factor also holds the model error
    geometric = (mean + 1.0) / ms.smearing - 1.0
    assert np.mean(geometric) < 0.85 * np.mean(expected)
    # the untransformed default learns y itself and records no factor
    plain = fit_model_set(x, y, ["a", "b"], replace(profile, transform="none"), horizon="t", quantiles=())
    assert plain.smearing is None and plain.inputs["transform"] == "none"
    with pytest.raises(ValueError, match="transform"):
        fit_model_set(x, y, ["a", "b"], replace(profile, transform="sqrt"), horizon="t", quantiles=())
    with pytest.raises(ValueError, match="log-target"):
        fit_model_set(x, y, ["a", "b"], replace(profile, base="damped"), horizon="t", quantiles=())


def test_tweedie_mean_is_a_mean_on_the_response_scale():
    """Profile.objective ``tweedie``: the mean booster fits E[y] with a log link (no back-transform), so on a
    multiplicative lognormal target its forecasts are E[y | x] like the L2 model's; rounds are still chosen on L2."""
    from bogda.forecast.models import fit_model_set

    rng = np.random.default_rng(6)
    n = 6000
    x = rng.uniform(0, 1, size=(n, 2))
    y = np.exp(3.0 + 1.5 * x[:, 0] + rng.normal(0, 0.8, n))
    profile = replace(FAST, rounds_mean=300, early_stopping=20, objective="tweedie")
    assert profile.mean_params(0)["objective"] == "tweedie" and profile.mean_params(0)["metric"] == "l2"
    ms = fit_model_set(x, y, ["a", "b"], profile, horizon="t", quantiles=())
    assert ms.inputs["valid_rmse"] is not None
    x_new = rng.uniform(0, 1, size=(20000, 2))
    mean = ms.predict(x_new)["mean"]
    expected = np.exp(3.0 + 1.5 * x_new[:, 0] + 0.8**2 / 2)
    assert np.all(mean > 0)
    assert np.mean(mean) == pytest.approx(np.mean(expected), rel=0.1)
    assert np.corrcoef(mean, expected)[0, 1] > 0.9
    assert FAST.mean_params(0)["objective"] == "regression" and "metric" not in FAST.mean_params(0)
    for bad in (
        replace(profile, objective="huber"),
        replace(profile, transform="log"),
        replace(profile, base="damped"),
    ):
        with pytest.raises(ValueError, match="objective"):
            bad.mean_params(0)


def test_recency_weights_follow_the_latest_regime():
    """Profile.half_life_days: the mean booster weights rows by 0.5^(age / half-life), age counted back from the
    latest target, so after a change of regime it follows the newer rows; without it both regimes count alike."""
    from bogda.forecast.models import fit_model_set

    rng = np.random.default_rng(8)
    n_days = 1460
    day = np.arange(n_days, dtype=float)
    x = rng.uniform(0, 1, size=(n_days, 1))
    level = np.where(day < 1095, 100.0, 50.0)  # the last year is half as polluted
    y = level * (0.5 + x[:, 0]) + rng.normal(0, 2.0, n_days)
    profile = replace(FAST, rounds_mean=150, early_stopping=0)
    even = fit_model_set(x, y, ["x"], profile, horizon="t", order=day, quantiles=())
    recent = fit_model_set(x, y, ["x"], replace(profile, half_life_days=60.0), horizon="t", order=day, quantiles=())
    probe = np.full((1, 1), 0.5)
    assert even.predict(probe)["mean"][0] == pytest.approx(87.5, abs=8.0)  # 3 dirty years, 1 clean year
    assert recent.predict(probe)["mean"][0] == pytest.approx(50.0, abs=12.0)  # the clean year (trees are coarse)
    # hour positions: the same weights when the order is counted in hours
    hourly = fit_model_set(
        x,
        y,
        ["x"],
        replace(profile, half_life_days=60.0),
        horizon="t",
        order=day * 24,
        days_per_order=1 / 24,
        quantiles=(),
    )
    assert hourly.predict(probe)["mean"][0] == pytest.approx(recent.predict(probe)["mean"][0])


def test_tail_weight_lifts_the_forecast_where_high_targets_occur():
    """Profile.tail_weight: rows whose target is at or above the tail quantile weigh more in the mean booster, so
    where high days occur among ordinary ones the L2 mean moves towards them; elsewhere nothing changes."""
    from bogda.forecast.models import fit_model_set

    rng = np.random.default_rng(9)
    n = 4000
    x = rng.uniform(0, 1, size=(n, 1))
    high = (x[:, 0] > 0.5) & (rng.uniform(size=n) < 0.2)  # a fifth of the right half is a 300 µg/m³ day
    y = np.where(high, 300.0, 50.0) + rng.normal(0, 2.0, n)
    profile = replace(FAST, rounds_mean=150, early_stopping=0)
    even = fit_model_set(x, y, ["x"], profile, horizon="t", quantiles=())
    tail = fit_model_set(x, y, ["x"], replace(profile, tail_weight=3.0, tail_quantile=0.85), horizon="t", quantiles=())
    # averaged over each half (one leaf holds a few dozen rows, so a single probe is noisy)
    right, left = np.linspace(0.55, 0.95, 41)[:, None], np.linspace(0.05, 0.45, 41)[:, None]
    # equal weights: 0.8·50 + 0.2·300 = 100; ×3 on the 300s: (0.8·50 + 0.6·300) / 1.4 ≈ 157
    assert even.predict(right)["mean"].mean() == pytest.approx(100.0, abs=10.0)
    assert tail.predict(right)["mean"].mean() == pytest.approx(157.0, abs=12.0)
    assert tail.predict(left)["mean"].mean() == pytest.approx(50.0, abs=3.0)


def test_row_weights_refuse_a_bad_tail():
    from bogda.forecast.models import row_weights

    y, order = np.arange(10.0), np.arange(10.0)
    for bad in ({"tail_weight": 0.0}, {"tail_weight": 2.0, "tail_quantile": 1.0}):
        with pytest.raises(ValueError, match="tail weight"):
            row_weights(y, order, replace(FAST, **bad))
    # recency and tail multiply, then mean 1
    w = row_weights(y, order, replace(FAST, half_life_days=5.0, tail_weight=2.0, tail_quantile=0.8))
    raw = 0.5 ** ((9 - order) / 5.0) * np.where(y >= np.quantile(y, 0.8), 2.0, 1.0)
    assert np.allclose(w, raw / raw.mean()) and w.mean() == pytest.approx(1.0)


class _Const:
    """A booster stand-in predicting fixed values."""

    def __init__(self, values: list[float]) -> None:
        self.values = np.asarray(values)

    def predict(self, x: np.ndarray, num_threads: int = 1) -> np.ndarray:
        return self.values[: len(x)]


def test_the_issued_range_always_holds_the_mean() -> None:
    """Mean and quantiles are separate boosters: where the mean leaves the p10–p90 range (rows 0 and 1), the range
    is stretched to it; crossing quantiles are sorted first (row 2); rows already consistent are untouched."""
    from bogda.forecast.models import ModelSet

    boosters = {
        "mean": [_Const([120.0, 5.0, 50.0, 60.0])],
        "p10": [_Const([40.0, 10.0, 70.0, 30.0])],
        "p50": [_Const([60.0, 20.0, 55.0, 55.0])],
        "p90": [_Const([100.0, 30.0, 40.0, 90.0])],
    }
    out = ModelSet("D+1", boosters, ["a"]).predict(np.zeros((4, 1)))
    np.testing.assert_array_equal(out["p10"], [40.0, 5.0, 40.0, 30.0])
    np.testing.assert_array_equal(out["p50"], [60.0, 20.0, 55.0, 55.0])
    np.testing.assert_array_equal(out["p90"], [120.0, 30.0, 70.0, 90.0])
    np.testing.assert_array_equal(out["mean"], [120.0, 5.0, 50.0, 60.0])
    assert ((out["p10"] <= out["mean"]) & (out["mean"] <= out["p90"])).all()
