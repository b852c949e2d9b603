"""Confidence intervals of verification scores: a moving-block bootstrap over the evaluation days.

A backtest year holds 342–365 daily pairs, and a heavy-pollution threat score rests on a few dozen event days, so a
score moves by more than many of the differences a backtest is read for: one more hit lifts Dongsi's D+1 TS > 150 by
about 0.01. Each interval here says how far a figure would move over another year like the test year.

Method (not in forecast.md, whose §3.9 defines the scores but not their sampling error; WMO/WWRP verification
guidance asks for it):

- the unit of resampling is the evaluation day: all pairs of one day (24 hourly targets, or one daily target) go
  together;
- days are drawn in runs of :data:`BLOCK_DAYS` consecutive days (the block of the days-avoided bootstrap,
  §3.9 step 4 (d)), so the autocorrelation of errors inside an episode is kept. Independent days would make the
  intervals too narrow;
- every figure of a row, and the reference method's RMSE for its skill score, is computed on the same draws
  (paired), so a skill score's interval is that of the comparison itself, not of two independent figures;
- percentile intervals at :data:`LEVEL` from :data:`DRAWS` draws with a fixed seed, so a rerun gives the same
  figures.

The intervals describe the sampling noise of the test period. They do not include the model's own noise (training
seeds), which is separate (docs/forecast.md §6.2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from bogda.forecast import verify
from bogda.forecast.resample import block_indices

BLOCK_DAYS = 7
"""Length of the resampled runs of days [d] (forecast.md §3.9 step 4: 7-day blocks (d))."""

DRAWS = 1000
"""Bootstrap draws per interval."""

LEVEL = 0.90
"""Two-sided level of the intervals: the 5th and 95th percentiles of the draws."""

SEED = 0
"""Seed of the draws: the same pairs always give the same interval."""

MIN_BLOCKS = 4
"""Fewest blocks of days a sample must span for an interval: a few weeks resampled in 7-day runs cannot show how
a figure varies (a sample of one block would give the same days on every draw), so shorter samples get None."""

MAX_UNDEFINED = 0.05
"""Largest share of draws in which a score may be undefined (a threat score of a sample without events or forecasts
of them) for its interval to be reported; beyond it the score is too unstable to bound and the interval is None."""


def day_totals(day: ArrayLike, columns: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    """Per-day sums of per-pair columns, over every day from the first to the last.

    A day without pairs sums to 0, so that runs of consecutive days stay runs of calendar days.

    Parameters
    ----------
    day : integer day of each pair (a day position; hourly pairs: their target hour // 24)
    columns : per-pair values to sum, each of the same length as ``day``

    >>> t = day_totals([5, 5, 7], {"n": [1.0, 1.0, 1.0]})
    >>> t["n"].tolist()
    [2.0, 0.0, 1.0]
    """
    d = np.asarray(day, dtype=np.int64)
    if d.size == 0:
        return {k: np.zeros(0) for k in columns}
    d = d - d.min()
    n_days = int(d.max()) + 1
    return {k: np.bincount(d, weights=np.asarray(v, dtype=float), minlength=n_days) for k, v in columns.items()}


def resampled_totals(
    totals: Mapping[str, np.ndarray], *, block: int = BLOCK_DAYS, draws: int = DRAWS, seed: int = SEED
) -> dict[str, np.ndarray]:
    """Each column's total over ``draws`` moving-block bootstrap samples of the days: arrays of shape (draws,).

    All columns are summed over the same sampled days (one index matrix), which is what pairs the figures.
    """
    n_days = len(next(iter(totals.values()))) if totals else 0
    if n_days == 0:
        return {k: np.zeros(draws) for k in totals}
    idx = block_indices(n_days, n_days, draws, block, np.random.default_rng(seed))
    return {k: v[idx].sum(axis=1) for k, v in totals.items()}


def percentile_interval(samples: ArrayLike, level: float = LEVEL) -> tuple[float | None, float | None]:
    """The central ``level`` interval of bootstrap draws; (None, None) when more than :data:`MAX_UNDEFINED` of
    them are undefined (NaN).

    >>> [round(x, 6) for x in percentile_interval(np.arange(101.0))]
    [5.0, 95.0]
    >>> percentile_interval([1.0, np.nan])
    (None, None)
    """
    s = np.asarray(samples, dtype=float)
    ok = np.isfinite(s)
    if s.size == 0 or (~ok).mean() > MAX_UNDEFINED:
        return None, None
    lo, hi = np.quantile(s[ok], [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def score_intervals(
    f: ArrayLike,
    o: ArrayLike,
    day: ArrayLike,
    *,
    ref: ArrayLike | None = None,
    skill_name: str = "SS_damped",
    thresholds: Sequence[float] = (),
    bands: Sequence[float] | None = None,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
    shares: Mapping[str, ArrayLike] | None = None,
    level: float = LEVEL,
    block: int = BLOCK_DAYS,
    draws: int = DRAWS,
    seed: int = SEED,
) -> dict[str, tuple[float | None, float | None]]:
    """Bootstrap intervals of one forecast's scores on its pairs (module docstring: days in 7-day runs, paired).

    Parameters
    ----------
    f, o : forecast and observation per pair [µg/m³]
    day : the day of each pair (see :func:`day_totals`)
    ref : the reference method's forecast on the same pairs; gives ``skill_name`` = 1 − RMSE / RMSE_ref
        (forecast.md §3.9), paired on every draw
    thresholds : event thresholds [µg/m³] of ``TS_gt<thr>``, ``POD_gt<thr>`` and ``FAR_gt<thr>`` (event: value >
        threshold, §3.9)
    bands : level bands (:func:`bogda.forecast.verify.level_of`); give ``level_acc`` and ``level_acc_pm1``
    lower, upper : the p10 and p90 forecasts; give ``coverage_p10_p90``
    shares : ``{name: per-pair 0/1}`` for scores that are a share of pairs (level accuracy, primary-pollutant
        accuracy); NaN leaves a pair out of that share only (a primary pollutant is scored on days with AQI > 50)

    Returns
    -------
    ``{score: (low, high)}``, (None, None) where undefined or when the pairs span fewer than :data:`MIN_BLOCKS`
    blocks of days, for ``RMSE``, ``MAE``, ``skill_name``, the scores of each threshold, the level accuracies,
    ``coverage_p10_p90`` and each share (all but the first two only when asked for). Only pairs where ``f``,
    ``o`` and every given array are finite are used, so all intervals of a call are on one set of pairs.

    >>> o = np.arange(70.0); f = o + 3.0
    >>> score_intervals(f, o, np.arange(70) // 2, ref=o + 6.0)["SS_damped"]
    (0.5, 0.5)
    """
    arrays = {"f": f, "o": o, "ref": ref, "lower": lower, "upper": upper}
    a = {k: np.asarray(v, dtype=float) for k, v in arrays.items() if v is not None}
    ok = np.logical_and.reduce([np.isfinite(v) for v in a.values()])
    a = {k: v[ok] for k, v in a.items()}
    e = a["f"] - a["o"]
    cols: dict[str, np.ndarray] = {"n": np.ones(e.size), "e2": e * e, "abs": np.abs(e)}
    if "ref" in a:
        cols["e2_ref"] = (a["ref"] - a["o"]) ** 2
    for thr in thresholds:
        fe, oe = a["f"] > thr, a["o"] > thr
        cols[f"a{thr:g}"], cols[f"b{thr:g}"], cols[f"c{thr:g}"] = fe & oe, fe & ~oe, ~fe & oe
    share_of = {k: np.asarray(v, dtype=float)[ok] for k, v in (shares or {}).items()}
    if bands is not None:
        step = np.abs(verify.level_of(a["f"], bands) - verify.level_of(a["o"], bands))
        share_of = {"level_acc": step == 0, "level_acc_pm1": step <= 1, **share_of}
    if "lower" in a and "upper" in a:
        cols["cov"] = (a["o"] >= a["lower"]) & (a["o"] <= a["upper"])
    for name, v in share_of.items():
        cols |= _share_columns(name, v)
    tot = _draws(np.asarray(day)[ok], cols, block=block, draws=draws, seed=seed)
    n = tot["n"]
    out = {
        "RMSE": percentile_interval(np.sqrt(_ratio(tot["e2"], n)), level),
        "MAE": percentile_interval(_ratio(tot["abs"], n), level),
    }
    if "e2_ref" in tot:
        out[skill_name] = percentile_interval(1.0 - np.sqrt(_ratio(tot["e2"], tot["e2_ref"])), level)
    for thr in thresholds:
        hits, false, miss = (tot[f"{k}{thr:g}"] for k in "abc")
        out[f"TS_gt{thr:g}"] = percentile_interval(_ratio(hits, hits + false + miss), level)
        out[f"POD_gt{thr:g}"] = percentile_interval(_ratio(hits, hits + miss), level)
        out[f"FAR_gt{thr:g}"] = percentile_interval(_ratio(false, hits + false), level)
    if "cov" in tot:
        out["coverage_p10_p90"] = percentile_interval(_ratio(tot["cov"], n), level)
    for name in share_of:
        out[name] = percentile_interval(_share(tot, name), level)
    return out


def share_intervals(
    day: ArrayLike,
    shares: Mapping[str, ArrayLike],
    *,
    differences: Sequence[tuple[str, str]] = (),
    level: float = LEVEL,
    block: int = BLOCK_DAYS,
    draws: int = DRAWS,
    seed: int = SEED,
) -> dict[str, tuple[float | None, float | None]]:
    """Intervals of shares of pairs and of paired differences between two of them (same days, same draws).

    Parameters
    ----------
    day : the day of each pair (see :func:`day_totals`)
    shares : ``{name: per-pair 0/1}``; NaN leaves a pair out of that share
    differences : (a, b) pairs of share names; ``"a-b"`` is the mean of a − b over the pairs both count, e.g. the
        published ranges' accuracy minus the model's on the same days (what the forecaster's corrections gained)

    Returns
    -------
    ``{name: (low, high)}`` for each share and each ``"a-b"``; (None, None) as in :func:`score_intervals`.

    >>> day = np.arange(60)
    >>> share_intervals(day, {"pub": np.ones(60), "model": np.zeros(60)}, differences=[("pub", "model")])["pub-model"]
    (1.0, 1.0)
    """
    x = {k: np.asarray(v, dtype=float) for k, v in shares.items()}
    cols: dict[str, np.ndarray] = {}
    for name, v in x.items():
        cols |= _share_columns(name, v)
    for a, b in differences:
        cols |= _share_columns(f"{a}-{b}", x[a] - x[b])  # NaN unless both count the pair
    tot = _draws(day, cols, block=block, draws=draws, seed=seed)
    return {k: percentile_interval(_share(tot, k), level) for k in [*x, *(f"{a}-{b}" for a, b in differences)]}


def _draws(
    day: ArrayLike, cols: Mapping[str, ArrayLike], *, block: int, draws: int, seed: int
) -> dict[str, np.ndarray]:
    """Each column's total over the bootstrap draws of the days (one index matrix for every figure); all NaN when
    the pairs span fewer than :data:`MIN_BLOCKS` blocks of days, so that every interval of them is None."""
    totals = day_totals(day, cols)
    n_days = len(next(iter(totals.values()))) if totals else 0
    if n_days < MIN_BLOCKS * block:
        return {k: np.full(draws, np.nan) for k in cols}
    return resampled_totals(totals, block=block, draws=draws, seed=seed)


def _share_columns(name: str, values: ArrayLike) -> dict[str, np.ndarray]:
    """The per-pair columns of a share: its value (0 where not counted) and whether the pair counts."""
    x = np.asarray(values, dtype=float)
    return {f"share:{name}": np.nan_to_num(x), f"count:{name}": np.isfinite(x).astype(float)}


def _share(tot: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    return _ratio(tot[f"share:{name}"], tot[f"count:{name}"])


def flat(intervals: Mapping[str, tuple[float | None, float | None]]) -> dict[str, float | None]:
    """``{score: (low, high)}`` as columns ``<score>_lo`` and ``<score>_hi`` (the score tables' layout).

    >>> flat({"RMSE": (1.0, 2.0)})
    {'RMSE_lo': 1.0, 'RMSE_hi': 2.0}
    """
    out: dict[str, float | None] = {}
    for name, (lo, hi) in intervals.items():
        out[f"{name}_lo"], out[f"{name}_hi"] = lo, hi
    return out
