"""Moving-block bootstrap indices over days: one resampler for the days-avoided Monte Carlo (forecast.md §3.9
step 4) and the confidence intervals of the verification scores (:mod:`bogda.forecast.confidence`).

Whole runs of consecutive days keep the day-to-day autocorrelation that independent draws would lose: a pollution
episode lasts several days, so its days are not independent samples.
"""

from __future__ import annotations

import numpy as np

from bogda.forecast.baselines import circular_doy_distance  # the ±15-day climatology's distance (§3.3)


def block_indices(
    size: int,
    n: int,
    draws: int,
    block: int,
    rng: np.random.Generator,
    *,
    source_doy: np.ndarray | None = None,
    target_doy: np.ndarray | None = None,
    season_days: int | None = None,
    min_blocks: int = 2,
) -> np.ndarray:
    """Index matrix (draws, n) of a moving-block bootstrap over ``size`` residual days (forecast.md §3.9 step 4).

    Shared by the single-pollutant draws and the AQI draws, which index whole-day residual vectors with it so that
    the pollutants of one day stay together (§3.9 step 3). Each run of ``block`` target days takes ``block``
    consecutive residual rows (the last run is cut at ``n``).

    Parameters
    ----------
    size, n, draws, block
        Residual days, evaluation days, Monte Carlo draws, block length [d].
    rng
        The random stream. Without ``season_days`` it is used exactly as before the season option existed, so the
        unmatched indices of a given seed never change.
    source_doy, target_doy
        Day of year (1..366) of the ``size`` residual rows and of the ``n`` evaluation days; needed with
        ``season_days``.
    season_days
        ``None``: block starts uniform over all residual rows. An integer: season-matched — a block start is
        drawn only among rows whose whole block lies within ±``season_days`` (circular day of year) of the target
        days it is added to, day by day, so gaps in either series cannot carry a block out of season.
    min_blocks
        A target block with fewer than ``min_blocks × block`` qualifying starts draws from all rows instead (a
        too-narrow season would repeat a handful of residual runs and understate the spread).

    Returns
    -------
    Integer array (draws, n) of residual row indices.
    """
    b = max(1, min(block, size))
    n_blocks = -(-n // b)
    if season_days is None:
        starts = rng.integers(0, size - b + 1, size=(draws, n_blocks))
    else:
        if source_doy is None or target_doy is None:
            raise ValueError("a season-matched bootstrap needs the day of year of the residuals and the targets")
        ok = _season_starts(np.asarray(source_doy), np.asarray(target_doy), size, n, b, season_days, min_blocks)
        # eligible starts first (stable: in row order), then one uniform pick among each block's count of them
        order = np.argsort(~ok, axis=1, kind="stable")
        pick = rng.integers(0, ok.sum(axis=1)[None, :], size=(draws, n_blocks))
        starts = order[np.arange(n_blocks)[None, :], pick]
    return (starts[:, :, None] + np.arange(b)[None, None, :]).reshape(draws, n_blocks * b)[:, :n]


def _season_starts(
    source_doy: np.ndarray, target_doy: np.ndarray, size: int, n: int, b: int, season_days: int, min_blocks: int
) -> np.ndarray:
    """Bool (target blocks, possible starts): start s may serve block k if every residual row s + j lies within
    ±``season_days`` of target day k·b + j; blocks with too few such starts may use every start."""
    if source_doy.shape != (size,) or target_doy.shape != (n,):
        raise ValueError(f"day-of-year arrays of shape ({size},) and ({n},) expected")
    n_blocks, n_starts = -(-n // b), size - b + 1
    near = circular_doy_distance(target_doy[:, None], source_doy[None, :]) <= season_days  # (n, size)
    ok = np.ones((n_blocks, n_starts), dtype=bool)
    k = np.arange(n_blocks)
    for j in range(b):  # offset j of every block at once; the last block may stop short of b days
        t = k * b + j
        has = t < n
        ok[has] &= near[t[has], j : j + n_starts]
    ok[ok.sum(axis=1) < min_blocks * b] = True
    return ok
