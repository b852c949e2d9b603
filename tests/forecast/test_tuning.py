"""Choosing the post-processing on inner folds (bogda.forecast.tuning)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from bogda.forecast import verify
from bogda.forecast.backtest import Pairs, post_process
from bogda.forecast.tuning import INNER_FOLDS, choose_post, choose_post_for_threat, choose_tail_weight, post_grid


def _pairs(shrink: float, seed: int) -> Pairs:
    """Two stations; the model keeps ``shrink`` of the true anomaly about the climatology (under-dispersed) and
    damped persistence is the truth plus noise."""
    rng = np.random.default_rng(seed)
    n = 400
    clim = np.full(2 * n, 80.0)
    obs = np.maximum(clim + rng.gamma(2.0, 40.0, 2 * n) - 80.0, 1.0)
    model = clim + shrink * (obs - clim)
    damped = obs + rng.normal(0.0, 40.0, 2 * n)
    station = np.repeat([0, 1], n)
    methods = {"lgbm_none": model, "damped_persistence": damped, "climatology_hour": clim}
    return Pairs("hourly", "24h", station, obs, methods)


def test_grid_scores_each_pair_against_damped_persistence() -> None:
    p = _pairs(0.5, 1)
    grid = post_grid(p)
    assert grid.height == 11 * 6
    row = grid.filter((grid["inflation"] == 1.3) & (grid["weight"] == 0.8)).row(0, named=True)
    f = post_process(p.methods["lgbm_none"], p.methods["damped_persistence"], p.methods["climatology_hour"], 1.3, 0.8)
    want = np.mean(
        [
            verify.rmse(f[p.station == s], p.obs[p.station == s])
            / verify.rmse(p.methods["damped_persistence"][p.station == s], p.obs[p.station == s])
            for s in (0, 1)
        ]
    )
    assert row["ratio"] == pytest.approx(want)
    assert row["TS"] == pytest.approx(verify.point_scores(f, p.obs, thresholds=(150.0,))["TS_gt150"])


def test_choice_restores_an_under_dispersed_model_over_both_folds() -> None:
    # the model keeps half the anomaly, exactly: λ = 2 with no blend reproduces the truth on every fold
    lam, w, table = choose_post({"A": post_grid(_pairs(0.5, 2)), "B": post_grid(_pairs(0.5, 3))})
    assert (lam, w) == (2.0, 1.0)
    assert table.row(0, named=True)["mean_ratio"] == pytest.approx(0.0, abs=1e-9)
    assert {"ratio_A", "ratio_B", "TS_A", "TS_B"} <= set(table.columns)
    # a model already right needs no touch: λ = 1, w = 1
    assert choose_post({"A": post_grid(_pairs(1.0, 4))})[:2] == (1.0, 1.0)
    with pytest.raises(ValueError, match="no fold"):
        choose_post({})


def test_inner_folds_lie_inside_the_training_period() -> None:
    from bogda.forecast.backtest import BEIJING_TEST, BEIJING_TRAIN

    for train, test in INNER_FOLDS.values():
        assert BEIJING_TRAIN[0] <= train[0] <= train[1] < test[0] <= test[1] <= BEIJING_TRAIN[1] < BEIJING_TEST[0]


def _grid(ratio: float, ts: float) -> pl.DataFrame:
    """A one-pair D+1 grid (λ = w = 1) as post_grid returns it."""
    return pl.DataFrame({"inflation": [1.0], "weight": [1.0], "ratio": [ratio], "TS": [ts]})


def test_tail_weight_is_chosen_for_the_threat_score_within_the_rmse_slack():
    # weight 2: better TS on both folds, RMSE ratio 0.005 worse: inside the slack → chosen;
    # weight 3: best TS, but 0.02 worse: outside → refused
    results = {
        1.0: {"A": _grid(0.70, 0.50), "B": _grid(0.78, 0.30)},
        2.0: {"A": _grid(0.705, 0.53), "B": _grid(0.785, 0.33)},
        3.0: {"A": _grid(0.72, 0.60), "B": _grid(0.80, 0.40)},
    }
    chosen, table = choose_tail_weight(results)
    assert chosen == 2.0
    assert table["tail_weight"].to_list() == [2.0, 1.0, 3.0]
    assert table["eligible"].to_list() == [True, True, False]
    assert table.row(0, named=True)["mean_TS"] == pytest.approx(0.43)
    # no gain in TS: the unweighted model stays (ties go to the smaller weight)
    flat = {1.0: {"A": _grid(0.70, 0.50)}, 2.0: {"A": _grid(0.70, 0.50)}}
    assert choose_tail_weight(flat)[0] == 1.0
    with pytest.raises(ValueError, match="reference"):
        choose_tail_weight({2.0: {"A": _grid(0.7, 0.5)}})


def _grid2(rows: list[tuple[float, float, float, float]]) -> pl.DataFrame:
    """A D+1 grid of (λ, w, ratio, TS) rows as post_grid returns it."""
    return pl.DataFrame(rows, schema=["inflation", "weight", "ratio", "TS"], orient="row")


def test_threat_post_spends_only_the_rest_of_the_rmse_budget():
    # unweighted: best ratio 0.70 (mean of folds) → budget 0.71; protocol weight 3 is RMSE-best at λ = 1 (0.705)
    unweighted = {"A": _grid2([(1.0, 1.0, 0.69, 0.50)]), "B": _grid2([(1.0, 1.0, 0.71, 0.30)])}
    rows_a = [(1.0, 1.0, 0.700, 0.55), (1.1, 1.0, 0.705, 0.60), (1.2, 1.0, 0.712, 0.62), (1.3, 1.0, 0.730, 0.70)]
    rows_b = [(1.0, 1.0, 0.710, 0.35), (1.1, 1.0, 0.713, 0.38), (1.2, 1.0, 0.715, 0.40), (1.3, 1.0, 0.740, 0.45)]
    results = {1.0: unweighted, 3.0: {"A": _grid2(rows_a), "B": _grid2(rows_b)}}
    lam, w, adopted, table = choose_post_for_threat(results, 3.0)
    # λ 1.2 (mean ratio 0.7135) is over the budget 0.71, λ 1.3 far over: λ 1.1 gains 0.04 in mean TS on both folds
    assert (lam, w, adopted) == (1.1, 1.0, True)
    assert table["inflation"].to_list() == [1.1, 1.0]
    assert table.row(0, named=True)["mean_TS"] == pytest.approx(0.49)
    # a gain below 0.02 keeps the RMSE-chosen pair
    rows_b_small = [(1.0, 1.0, 0.710, 0.35), (1.1, 1.0, 0.713, 0.34)]
    small = {1.0: unweighted, 3.0: {"A": _grid2(rows_a[:2]), "B": _grid2(rows_b_small)}}
    assert choose_post_for_threat(small, 3.0)[:3] == (1.0, 1.0, False)
    # a gain on the mean that falls on one fold is refused too
    falls = [(1.0, 1.0, 0.710, 0.35), (1.1, 1.0, 0.713, 0.345)]
    big_a = [(1.0, 1.0, 0.700, 0.55), (1.1, 1.0, 0.705, 0.65)]
    assert choose_post_for_threat({1.0: unweighted, 3.0: {"A": _grid2(big_a), "B": _grid2(falls)}}, 3.0)[2] is False
    with pytest.raises(ValueError, match="tail weight 3"):
        choose_post_for_threat({1.0: unweighted}, 3.0)


def test_tail_weights_option_names_a_bad_list():
    from bogda.forecast.tuning import main

    with pytest.raises(SystemExit, match="--tail-weights '1,x'"):
        main(["--tail-weights", "1,x"])


def test_seeds_option_reaches_the_hourly_and_the_daily_models():
    import argparse

    from bogda.forecast.backtest import PROTOCOL_DAILY_TAIL_WEIGHT, beijing_config
    from bogda.forecast.models import PROTOCOL
    from bogda.forecast.tuning import _base_config

    cfg = beijing_config(_base_config(argparse.Namespace(refit=None, seeds=9)))
    assert cfg.profile.n_seeds == 9 and cfg.daily_profile is not None
    assert (cfg.daily_profile.n_seeds, cfg.daily_profile.tail_weight) == (9, PROTOCOL_DAILY_TAIL_WEIGHT)
    assert _base_config(argparse.Namespace(refit="once", seeds=None)).profile == PROTOCOL


def test_tail_quantile_option_reaches_the_weighted_daily_models():
    import argparse
    from dataclasses import replace

    from bogda.forecast.tuning import _base_config, main

    base = _base_config(argparse.Namespace(refit=None, seeds=None, tail_quantile=0.8))
    daily = replace(base.profile, tail_weight=3.0)  # as the tail-weight runs build each weight's daily profile
    assert (daily.tail_quantile, daily.tail_weight) == (0.8, 3.0)
    with pytest.raises(SystemExit, match=r"--tail-quantile 1\.5: expected a quantile between 0 and 1"):
        main(["--tail-weights", "1,3", "--tail-quantile", "1.5"])
