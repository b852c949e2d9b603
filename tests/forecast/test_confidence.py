"""The verification scores' bootstrap intervals (bogda.forecast.confidence) and their place in the score tables and
the release goals (bogda.forecast.backtest)."""

from __future__ import annotations

import numpy as np
import pytest

from bogda.forecast import backtest as bt
from bogda.forecast import confidence as ci
from bogda.forecast import verify


def ar1(n: int, rho: float, sd: float, rng: np.random.Generator) -> np.ndarray:
    """An AR(1) series of stationary s.d. ``sd``: errors that persist over an episode."""
    e = np.empty(n)
    e[0] = rng.normal(0, sd)
    for i in range(1, n):
        e[i] = rho * e[i - 1] + rng.normal(0, sd * np.sqrt(1 - rho**2))
    return e


def test_day_totals_keep_empty_days_as_zero() -> None:
    t = ci.day_totals([10, 10, 13], {"n": [1, 1, 1], "x": [2.0, 3.0, 4.0]})
    assert t["n"].tolist() == [2.0, 0.0, 0.0, 1.0]
    assert t["x"].tolist() == [5.0, 0.0, 0.0, 4.0]


def test_constant_error_gives_a_point_interval() -> None:
    o = np.linspace(10, 300, 350)
    out = ci.score_intervals(o + 4.0, o, np.arange(350))
    assert out["RMSE"] == pytest.approx((4.0, 4.0))
    assert out["MAE"] == pytest.approx((4.0, 4.0))


def test_skill_is_paired_on_the_same_days() -> None:
    # forecast and reference differ from the truth by errors that vary a lot from day to day but keep a fixed ratio:
    # paired draws give SS = 0.5 on every draw; an unpaired bootstrap would not
    rng = np.random.default_rng(1)
    o = rng.gamma(2.0, 40.0, 342)
    e = rng.normal(0, 30, 342)
    out = ci.score_intervals(o + e, o, np.arange(342), ref=o + 2 * e)
    assert out["SS_damped"] == pytest.approx((0.5, 0.5))
    lo, hi = out["RMSE"]
    assert lo < verify.rmse(o + e, o) < hi


def test_threat_score_interval_brackets_the_score_and_is_undefined_without_events() -> None:
    rng = np.random.default_rng(2)
    o = rng.gamma(2.0, 45.0, 342)
    f = o + rng.normal(0, 35, 342)
    out = ci.score_intervals(f, o, np.arange(342), thresholds=(150.0,))
    ts = verify.threat_score(verify.contingency(f, o, 150.0))
    lo, hi = out["TS_gt150"]
    assert lo < ts < hi
    assert 0.05 < hi - lo < 0.5  # a few dozen events: wide, but not the whole range
    clean = ci.score_intervals(np.full(342, 20.0), np.full(342, 30.0), np.arange(342), thresholds=(150.0,))
    assert clean["TS_gt150"] == (None, None)


def test_threshold_and_level_scores_come_from_the_same_draws() -> None:
    rng = np.random.default_rng(8)
    o = rng.gamma(2.0, 45.0, 342)
    f = o + rng.normal(0, 35, 342)
    out = ci.score_intervals(f, o, np.arange(342), thresholds=(75.0,), bands=verify.PM25_BANDS_2012)
    t = verify.contingency(f, o, 75.0)
    for name, value in (
        ("POD_gt75", verify.pod(t)),
        ("FAR_gt75", verify.far(t)),
        ("level_acc", verify.level_accuracy(f, o)),
        ("level_acc_pm1", verify.level_accuracy(f, o, tolerance=1)),
    ):
        lo, hi = out[name]
        assert lo < value < hi, name
    perfect = ci.score_intervals(o, o, np.arange(342), bands=verify.PM25_BANDS_2012)
    assert perfect["level_acc"] == (1.0, 1.0)


def test_coverage_interval() -> None:
    o = np.arange(100.0)
    out = ci.score_intervals(o, o, np.arange(100), lower=o - 1, upper=o + 1)
    assert out["coverage_p10_p90"] == (1.0, 1.0)


def test_shares_count_only_their_own_pairs() -> None:
    o = np.arange(100.0)
    hit = np.where(np.arange(100) % 2 == 0, 1.0, np.nan)  # scored on every other pair only, always right
    out = ci.score_intervals(o, o, np.arange(100), shares={"primary_acc": hit, "level_acc": np.ones(100)})
    assert out["primary_acc"] == (1.0, 1.0) and out["level_acc"] == (1.0, 1.0)
    half = ci.score_intervals(o, o, np.arange(100), shares={"level_acc": np.arange(100) % 2})
    lo, hi = half["level_acc"]
    assert lo < 0.5 < hi


def test_a_paired_difference_of_shares_is_tighter_than_its_parts() -> None:
    # two forecasters right on the same hard days: each share varies with the sample of days, their difference
    # (one extra hit in ten days) much less
    rng = np.random.default_rng(9)
    hard = rng.random(365) < 0.4
    model = (~hard).astype(float)
    published = model.copy()
    published[np.flatnonzero(hard)[::4]] = 1.0  # the corrections fix every fourth hard day
    published[:5] = np.nan  # not published: out of that share and of the difference
    out = ci.share_intervals(np.arange(365), {"pub": published, "model": model}, differences=[("pub", "model")])
    gain = np.nanmean(published - model)
    lo, hi = out["pub-model"]
    assert 0 < lo < gain < hi
    assert hi - lo < 0.5 * (out["model"][1] - out["model"][0])
    noise = ci.share_intervals(np.arange(365), {"a": model, "b": model}, differences=[("a", "b")])
    assert noise["a-b"] == (0.0, 0.0)
    assert set(ci.share_intervals(np.arange(20), {"a": model[:20]}).values()) == {(None, None)}


def test_hourly_pairs_resample_whole_days() -> None:
    # an error that is the same on all 24 hours of a day: resampling days (not hours) sees 30 values, not 720
    rng = np.random.default_rng(3)
    daily_err = rng.normal(0, 20, 30)
    hours = np.arange(720)
    o = np.full(720, 50.0)
    f = o + daily_err[hours // 24]
    by_day = ci.score_intervals(f, o, hours // 24, block=1)
    by_hour = ci.score_intervals(f, o, hours, block=1)
    assert by_day["MAE"][1] - by_day["MAE"][0] > 2 * (by_hour["MAE"][1] - by_hour["MAE"][0])


def test_blocks_widen_the_interval_of_persistent_errors() -> None:
    rng = np.random.default_rng(4)
    e = ar1(365, 0.8, 30.0, rng)
    o = np.full(365, 80.0)
    blocks = ci.score_intervals(o + e, o, np.arange(365))["RMSE"]
    iid = ci.score_intervals(o + e, o, np.arange(365), block=1)["RMSE"]
    assert blocks[1] - blocks[0] > 1.3 * (iid[1] - iid[0])


def test_intervals_cover_the_true_rmse_near_their_level() -> None:
    # 150 test years of AR(1) errors (ρ 0.5, as day-to-day forecast errors): the 90 % interval of each year should
    # hold the population RMSE (30) about 90 % of the time; a moving-block bootstrap of a short series is a bit
    # narrow, so 80–98 % is accepted (these series: 0.87; an iid bootstrap of them: 0.79, outside)
    rng = np.random.default_rng(5)
    hit = 0
    reps = 150
    for _ in range(reps):
        e = ar1(365, 0.5, 30.0, rng)
        lo, hi = ci.score_intervals(e, np.zeros(365), np.arange(365), draws=400)["RMSE"]
        hit += lo <= 30.0 <= hi
    assert 0.80 <= hit / reps <= 0.98


def test_a_sample_of_a_few_weeks_gets_no_interval() -> None:
    o = np.arange(27.0)
    out = ci.score_intervals(o + np.sin(o), o, np.arange(27), shares={"level_acc": np.ones(27)})
    assert set(out.values()) == {(None, None)}
    assert ci.score_intervals(o + np.sin(o), o, np.arange(27), block=3)["RMSE"][0] is not None


def test_the_same_seed_gives_the_same_interval() -> None:
    rng = np.random.default_rng(6)
    o = rng.gamma(2.0, 40.0, 200)
    f = o + rng.normal(0, 25, 200)
    assert ci.score_intervals(f, o, np.arange(200)) == ci.score_intervals(f, o, np.arange(200))
    assert ci.score_intervals(f, o, np.arange(200)) != ci.score_intervals(f, o, np.arange(200), seed=1)


def test_non_finite_pairs_are_left_out_of_every_figure() -> None:
    o = np.arange(60.0)
    f = o + 2.0
    ref = o + 4.0
    ref[:10] = np.nan
    out = ci.score_intervals(f, o, np.arange(60), ref=ref)
    assert out["SS_damped"] == pytest.approx((0.5, 0.5))
    assert out["RMSE"] == pytest.approx((2.0, 2.0))


def _pairs(kind: str, n: int, rng: np.random.Generator) -> bt.Pairs:
    o = rng.gamma(2.0, 45.0, n)
    methods = {
        "climatology_doy": np.full(n, o.mean()),
        "damped_persistence": o + rng.normal(0, 60, n),
        "lgbm_none": o + rng.normal(0, 40, n),
    }
    target = np.arange(n) if kind == "daily" else np.arange(n) * 3
    qs = {"p10": methods["lgbm_none"] - 50, "p50": methods["lgbm_none"], "p90": methods["lgbm_none"] + 50}
    return bt.Pairs(
        kind,
        "D+1" if kind == "daily" else "24h",
        np.zeros(n, int),
        o,
        methods,
        qs,
        {75.0: 0.3, 150.0: 0.15},
        target=target,
    )


def test_score_tables_carry_the_intervals() -> None:
    from datetime import date

    from bogda.forecast.features import Panel

    rng = np.random.default_rng(7)
    panel = Panel(date(2016, 3, 1), ("1003A",), {"a34004": np.zeros((1, 24 * 400))})
    pairs = {("daily", "D+1"): _pairs("daily", 342, rng), ("hourly", "24h"): _pairs("hourly", 2000, rng)}
    sc = bt._summarise(pairs, panel)
    d = sc.filter((sc["horizon"] == "D+1") & (sc["method"] == "lgbm_none")).row(0, named=True)
    for name in ("RMSE", "SS_damped", "TS_gt150", "POD_gt150", "FAR_gt75", "level_acc", "level_acc_pm1"):
        assert d[f"{name}_lo"] <= d[name] <= d[f"{name}_hi"], name
    for name in ("coverage_p10_p90",):
        assert d[f"{name}_lo"] <= d[name] <= d[f"{name}_hi"], name
    h = sc.filter((sc["horizon"] == "24h") & (sc["method"] == "lgbm_none")).row(0, named=True)
    assert h["RMSE_lo"] < h["RMSE"] < h["RMSE_hi"]
    assert h["TS_gt150_lo"] is None  # hourly rows have no threat scores


def test_goals_say_whether_the_verdict_is_beyond_the_noise() -> None:
    inside = bt.Goal("TS", 0.55, 0.536, True, (0.45, 0.62))
    outside = bt.Goal("RMSE", 49.0, 46.1, False, (41.0, 48.5))
    assert (inside.met, inside.distinguishable) == (False, False)
    assert (outside.met, outside.distinguishable) == (True, True)
    assert bt.Goal("x", 1.0, 0.5).distinguishable is None
    assert "the goal is outside it" in bt._goal_line(outside)


def test_the_ratio_goal_takes_its_interval_from_the_paired_skill() -> None:
    import polars as pl

    sc = pl.DataFrame(
        {
            "station": ["1003A", "1003A"],
            "horizon": ["24h", "24h"],
            "method": ["damped_persistence", "lgbm_none"],
            "RMSE": [80.0, 77.0],
            "SS_damped_lo": [0.0, 0.02],
            "SS_damped_hi": [0.0, 0.06],
        }
    )
    g = bt._ratio_goal("24h", 0.95, sc, "1003A", "24h", "lgbm_none")
    assert g is not None
    assert g.threshold == pytest.approx(76.0)
    assert g.interval == pytest.approx((0.94 * 80.0, 0.98 * 80.0))
    assert g.distinguishable is False  # 76 lies in 75.2–78.4
