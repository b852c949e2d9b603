"""Verification scores (forecast.md §3.9) on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bogda.forecast import verify as v

F = np.array([10.0, 80.0, 160.0, 200.0, 40.0, np.nan])
OBS = np.array([20.0, 70.0, 100.0, 260.0, 160.0, 50.0])
# errors on the 5 scored pairs: −10, 10, 60, −60, −120


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (v.rmse, math.sqrt((100 + 100 + 3600 + 3600 + 14400) / 5)),
        (v.mae, (10 + 10 + 60 + 60 + 120) / 5),
        (v.bias, (-10 + 10 + 60 - 60 - 120) / 5),
        (v.n_pairs, 5),
    ],
)
def test_point_errors(func, expected):
    assert func(F, OBS) == pytest.approx(expected)


def test_r2_uses_mean_of_scored_observations():
    o = OBS[:5]
    sst = np.sum((o - o.mean()) ** 2)
    assert v.r2(F, OBS) == pytest.approx(1 - 21800 / sst)


def test_empty_scores_are_null():
    assert v.rmse([np.nan], [1.0]) is None
    assert v.r2([1.0, 1.0], [5.0, 5.0]) is None  # constant observations: no variance to explain


@pytest.mark.parametrize(
    ("score", "ref", "expected"),
    [(40.0, 80.0, 0.5), (80.0, 80.0, 0.0), (120.0, 80.0, -0.5), (1.0, None, None), (1.0, 0.0, None)],
)
def test_skill_score(score, ref, expected):
    assert v.skill_score(score, ref) == expected


@pytest.mark.parametrize(
    ("value", "level"),
    # HJ 633-2012 PM2.5 24-h bands 35/75/115/150/250: an edge value belongs to the lower level
    [(0.0, 0), (35.0, 0), (35.01, 1), (75.0, 1), (115.0, 2), (150.0, 3), (150.5, 4), (250.0, 4), (251.0, 5)],
)
def test_levels(value, level):
    assert v.level_of([value])[0] == level


def test_level_accuracy_hand_case():
    # levels f: 0,2,4,4,1 ; o: 0,1,2,5,4  → exact 1/5 ; |Δ| ≤ 1: 0,1,−,1,− → 3/5
    assert v.level_accuracy(F, OBS) == pytest.approx(1 / 5)
    assert v.level_accuracy(F, OBS, tolerance=1) == pytest.approx(3 / 5)


def test_contingency_and_scores():
    t = v.contingency(F, OBS, 150.0)
    # f>150: 160, 200 ; o>150: 260, 160 → hit (200/260), false alarm (160/100), miss (40/160), 2 negatives
    assert (t.a, t.b, t.c, t.d) == (1, 1, 1, 2)
    assert v.threat_score(t) == pytest.approx(1 / 3)
    assert v.pod(t) == pytest.approx(1 / 2)
    assert v.far(t) == pytest.approx(1 / 2)
    assert v.pofd(t) == pytest.approx(1 / 3)
    ar = 2 * 2 / 5
    assert v.ets(t) == pytest.approx((1 - ar) / (3 - ar))
    assert v.frequency_bias(t) == pytest.approx(1.0)


def test_zero_denominators_are_null_not_zero():
    never = v.contingency([10.0, 20.0], [200.0, 10.0], 150.0)  # nothing forecast
    assert v.far(never) is None
    assert v.threat_score(never) == 0.0  # a miss exists: TS is defined and 0
    quiet = v.contingency([10.0], [10.0], 150.0)
    assert v.threat_score(quiet) is None and v.pod(quiet) is None


def test_brier_and_skill():
    p = np.array([0.9, 0.1, 0.5, 0.0])
    o = np.array([1, 0, 0, 0])
    assert v.brier(p, o) == pytest.approx((0.01 + 0.01 + 0.25 + 0) / 4)
    ref = np.mean((0.25 - o) ** 2)
    assert v.brier_skill_score(p, o, 0.25) == pytest.approx(1 - v.brier(p, o) / ref)


def test_coverage_and_pinball():
    o = np.array([5.0, 15.0, 25.0, 35.0])
    assert v.coverage(o, np.full(4, 10.0), np.full(4, 30.0)) == pytest.approx(0.5)
    # α = 0.1, q = 20: losses 0.9·15, 0.9·5, 0.1·5, 0.1·15
    assert v.pinball(np.full(4, 20.0), o, 0.1) == pytest.approx((13.5 + 4.5 + 0.5 + 1.5) / 4)


def test_point_scores_table_keys():
    s = v.point_scores(F, OBS, bands=v.PM25_BANDS_2012, thresholds=(75, 150))
    assert s["n"] == 5
    assert s["TS_gt150"] == pytest.approx(1 / 3)
    assert s["level_acc_pm1"] == pytest.approx(3 / 5)
    assert {"POD_gt75", "FAR_gt75", "ETS_gt150", "bias_gt150"} <= set(s)


def test_episodes_are_runs_of_observed_consecutive_days():
    day = np.array([10, 11, 12, 13, 14, 15, 16, 17, 20, 21])
    obs = np.array([160, 170, np.nan, 180, 190, 200, 20, 155, 300, 310])
    # the missing day 12 ends the first run; day 17 is alone; 20–21 is an episode although days 18–19 are absent
    assert [e.tolist() for e in v.episodes(day, obs, 150)] == [[0, 1], [3, 4, 5], [8, 9]]
    assert [e.tolist() for e in v.episodes(day, obs, 150, min_days=3)] == [[3, 4, 5]]
    # input order does not matter: positions refer to the arrays as given
    rev = np.arange(day.size)[::-1]
    assert sorted(e.tolist() for e in v.episodes(day[rev], obs[rev], 150)) == [[1, 0], [6, 5, 4], [9, 8]]


def test_episode_pod_counts_an_episode_once_whatever_its_length():
    day = np.arange(7)
    obs = np.array([160.0, 170, 180, 190, 20, 200, 210])
    f = np.array([100.0, 100, 100, 151, 30, 100, np.nan])  # the long episode hit on one day, the short one missed
    assert v.episode_pod(f, obs, day, 150) == 0.5
    assert v.episode_pod(f, np.full(7, 20.0), day, 150) is None


def test_published_range_spans_by_level_and_holds_the_forecast():
    """The AQI range a forecast is published as (forecast.md §3.9, CNEMC-style): integers, as wide as its level's
    span (d), the forecast inside it, never below 0."""
    f = np.array([0.0, 12.3, 49.5, 100.0, 100.4, 180.0, 200.0, 250.0, 300.5, 420.0, 500.0])
    lo, hi = v.published_range(f)
    assert (hi - lo).tolist() == [20, 20, 20, 20, 30, 30, 30, 50, 100, 100, 100]
    assert hi[-1] == 500 and hi.max() == 500  # the AQI ends at 500, and so does a range
    assert np.array_equal(lo, np.round(lo)) and (lo >= 0).all() and ((lo <= f) & (f <= hi)).all()
    assert abs((lo + hi)[5] / 2 - f[5]) <= 0.5  # centred where 0 does not cut it
    # spans are a parameter: one span for every level
    lo1, hi1 = v.published_range(f, spans=((float("inf"), 10),))
    assert ((hi1 - lo1) == 10).all()


def test_range_accuracies_count_bounds_and_level_spans():
    # forecast 70 → 60–80; observed 60 and 80 on the bounds are right, 81 is not
    assert v.range_accuracy([70.0, 70.0, 70.0], [60.0, 80.0, 81.0]) == pytest.approx(2 / 3)
    # 190 → 175–205 spans 中度 and 重度: an observed 210 (重度) is out of the range yet at a level it names
    assert v.range_accuracy([190.0], [210.0]) == 0.0 and v.level_range_accuracy([190.0], [210.0]) == 1.0
    # gaps are not scored; nothing to score gives null
    assert v.range_accuracy([70.0, np.nan], [np.nan, 50.0]) is None
    assert v.level_range_accuracy([np.nan], [50.0]) is None
