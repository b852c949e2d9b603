"""PELT change points (enforcement.md §4 C11, §8): exact against brute-force optimal partitioning, known change
points on synthetic series, the penalty as a parameter, and C11's use of it."""

from __future__ import annotations

import numpy as np
import pytest

from bogda.enforcement import changepoints as cp
from bogda.enforcement import detectors as d
from bogda.enforcement.detectors import Subject

RNG = np.random.default_rng(20261129)


def _optimal_partitioning(y: np.ndarray, penalty: float, cost: str, min_size: int) -> list[int]:
    """O(n²) dynamic programme over every admissible last change point (no pruning): the reference."""
    n = len(y)
    s1 = np.concatenate(([0.0], np.cumsum(y)))
    s2 = np.concatenate(([0.0], np.cumsum(y * y)))
    eps = max(float(np.var(y)), 1.0) * 1e-12
    f = np.full(n + 1, np.inf)
    f[0] = -penalty
    last = np.zeros(n + 1, dtype=int)
    for t in range(1, n + 1):
        for s in range(0, t - min_size + 1):
            if (s != 0 and s < min_size) or not np.isfinite(f[s]):
                continue
            v = f[s] + cp._segment_costs(s1, s2, np.array([s]), t, cost, eps)[0] + penalty
            if v < f[t]:
                f[t], last[t] = v, s
    out, t = [], n
    while t > 0:
        if last[t] > 0:
            out.append(int(last[t]))
        t = int(last[t])
    return sorted(out)


@pytest.mark.parametrize("cost", ["l2", "normal"])
def test_pelt_equals_optimal_partitioning(cost: str) -> None:
    for _ in range(60):
        n = int(RNG.integers(8, 50))
        y = RNG.normal(0, 1, n) + np.repeat(RNG.normal(0, 3, 4), -(-n // 4))[:n]
        min_size = int(RNG.integers(1, 4))
        pen = float(RNG.uniform(0.5, 10))
        ms = max(min_size, 2 if cost == "normal" else 1)
        assert cp.pelt(y, pen, cost=cost, min_size=min_size) == _optimal_partitioning(y, pen, cost, ms)


def test_mean_changes_found_at_their_positions() -> None:
    y = np.r_[RNG.normal(0, 1, 120), RNG.normal(4, 1, 80), RNG.normal(-2, 1, 100)]
    assert cp.pelt(y, cp.bic_penalty(y)) == [120, 200]
    assert cp.pelt(RNG.normal(0, 1, 300), cp.bic_penalty(RNG.normal(0, 1, 300))) == []


def test_variance_change_needs_the_normal_cost() -> None:
    y = np.r_[RNG.normal(5, 0.5, 200), RNG.normal(5, 4.0, 200)]
    got = cp.pelt(y, 3 * np.log(len(y)), cost="normal", min_size=5)
    assert len(got) == 1 and abs(got[0] - 200) <= 5
    # the same change in the mean-only cost with a fair penalty is not one clean split
    assert cp.pelt(y, cp.bic_penalty(y), cost="l2") != [200]


def test_penalty_is_a_parameter() -> None:
    y = np.r_[np.zeros(30), np.full(30, 0.5), np.zeros(30)] + RNG.normal(0, 0.2, 90)
    assert cp.pelt(y, 0.5) == [30, 60]
    assert cp.pelt(y, 1e6) == []
    with pytest.raises(ValueError, match="penalty"):
        cp.pelt(y, -1.0)
    with pytest.raises(ValueError, match="cost"):
        cp.pelt(y, 1.0, cost="l1")


def test_nan_positions_map_back() -> None:
    y = np.r_[np.zeros(20), np.ones(20)] + RNG.normal(0, 0.05, 40)
    y[[3, 25, 26]] = np.nan
    assert cp.pelt_nan(y, cp.bic_penalty(y)) == [20]
    with pytest.raises(ValueError, match="NaN"):
        cp.pelt(y, 1.0)


def test_change_point_l2_strongest_change() -> None:
    assert d.change_point_l2(np.r_[np.ones(10), np.zeros(5)]) == 10
    y = np.r_[np.zeros(15), np.full(10, 0.3), np.full(15, 3.0)] + RNG.normal(0, 0.02, 40)
    assert d.change_point_l2(y) == 25  # the bigger of two changes
    assert d.change_point_l2(np.ones(20)) is None


def test_c11_locates_the_step_with_pelt(params) -> None:
    n = 24 * 60
    load = 100 + 20 * np.sin(np.arange(n) / 7)
    x = load * 0.8 * np.exp(RNG.normal(0, 0.05, n))
    x[24 * 40 :] *= 0.3  # a lasting step down on day 40
    (hit, *_) = d.step_drop(x, load, Subject("o"), params, "a21002")
    assert hit.i0 == 24 * 40
    assert hit.metrics["change_point_row"] == 24 * 40 and hit.metrics["change_point_method"] == "PELT l2"
    assert 24 * 40 in hit.metrics["change_point_rows"]


def test_c11_change_point_on_the_real_co_drop(gas_turbine, params) -> None:
    """The one C11 CO event of the gas-turbine files (2012 rows 456–671): PELT on the daily medians of the event
    and its 30 days before finds one change, inside the event (day 21, row 504: the decline deepens over days)."""
    df = gas_turbine(2012)
    (hit,) = d.step_drop(df["CO"].to_numpy(), df["TEY"].to_numpy(), Subject("gt"), params, "CO")
    assert (hit.i0, hit.i1) == (456, 671)
    assert hit.metrics["change_point_rows"] == [504] and hit.i0 <= hit.metrics["change_point_row"] <= hit.i1
