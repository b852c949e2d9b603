"""Change points by PELT (Killick, Fearnhead & Eckley 2012), pure NumPy (enforcement.md §3.4, §4 C11, §8).

PELT minimises Σ cost(segment) + penalty × (number of change points) exactly, pruning candidate last change points
that can never be optimal again (``F(s) + cost(s, t) > F(t)``), which keeps it near-linear when changes are
frequent (pruning is applied for ``l2``, where it is exact; ``normal`` keeps every candidate, see :func:`pelt`).
Costs come from cumulative sums, so each step is vectorised over the surviving candidates:

``l2``      change in mean: Σ (y − ȳ)² of the segment (ruptures ``CostL2``).
``normal``  change in mean and variance: n · ln σ̂² of the segment (Gaussian log-likelihood up to constants;
            ruptures ``CostNormal`` in one dimension), σ̂² floored so a constant segment has finite cost.

Change points are returned as the index of the first element of each new segment, ascending (0 and ``n`` are
not included), as ruptures ``Pelt.predict`` does without its trailing ``n``.
"""

from __future__ import annotations

import math

import numpy as np

COSTS = ("l2", "normal")


def _segment_costs(s1: np.ndarray, s2: np.ndarray, starts: np.ndarray, t: int, cost: str, eps: float) -> np.ndarray:
    """Cost of the segments ``[starts, t)`` from the cumulative sums ``s1`` (of y) and ``s2`` (of y²)."""
    n = (t - starts).astype(np.float64)
    a = s1[t] - s1[starts]
    sse = (s2[t] - s2[starts]) - a * a / n
    sse = np.maximum(sse, 0.0)  # cancellation can leave tiny negatives
    if cost == "l2":
        return sse
    return n * np.log(np.maximum(sse / n, eps))


def pelt(y: np.ndarray, penalty: float, *, cost: str = "l2", min_size: int = 2) -> list[int]:
    """Optimal segmentation of ``y`` under ``cost`` + ``penalty`` per change point.

    Parameters
    ----------
    y : array of float
        The series (no NaN: drop or fill them first; see :func:`pelt_nan`).
    penalty : float
        Added per change point, in the units of the cost (``l2``: squared units of ``y``; ``normal``: log-likelihood).
        A BIC-like choice for ``l2`` is ``2 σ² ln n`` (:func:`bic_penalty`).
    cost : {"l2", "normal"}
    min_size : int
        Shortest segment (≥ 1 for ``l2``, ≥ 2 for ``normal`` so a variance exists).

    Returns
    -------
    list of int
        Indices of the first element of each new segment, ascending.
    """
    if cost not in COSTS:
        raise ValueError(f"cost {cost!r}: expected one of {COSTS}")
    if penalty < 0 or not math.isfinite(penalty):
        raise ValueError(f"penalty must be a finite non-negative number, got {penalty!r}")
    v = np.asarray(y, dtype=np.float64)
    if np.isnan(v).any():
        raise ValueError("pelt: y contains NaN (use pelt_nan)")
    min_size = max(int(min_size), 2 if cost == "normal" else 1)
    n = len(v)
    if n < 2 * min_size:
        return []
    s1 = np.concatenate(([0.0], np.cumsum(v)))
    s2 = np.concatenate(([0.0], np.cumsum(v * v)))
    var = float(np.var(v))
    eps = max(var, 1.0) * 1e-12  # floor of a segment variance (normal cost): constant segments stay finite
    f = np.full(n + 1, np.inf)
    f[0] = -penalty
    last = np.zeros(n + 1, dtype=np.int64)
    cands = np.zeros(0, dtype=np.int64)
    for t in range(min_size, n + 1):
        new = t - min_size  # the newest admissible start: its segment [new, t) has exactly min_size points
        if new == 0 or new >= min_size:
            cands = np.append(cands, new)
        c = _segment_costs(s1, s2, cands, t, cost, eps)
        tot = f[cands] + c + penalty
        k = int(np.argmin(tot))
        f[t] = tot[k]
        last[t] = cands[k]
        if cost == "l2":
            # pruning (K = 0): a start that cannot beat F(t) now never will. Exact for l2 (splitting a segment
            # never raises its sum of squares); for the normal cost the floor on σ̂² and short segments break
            # that inequality, so every start is kept there (optimal partitioning, O(n²) — fine on daily medians).
            cands = cands[f[cands] + c <= f[t]]
    out = []
    t = n
    while t > 0:
        s = int(last[t])
        if s > 0:
            out.append(s)
        t = s
    return sorted(out)


def pelt_nan(y: np.ndarray, penalty: float, **kw: object) -> list[int]:
    """:func:`pelt` on the non-NaN values of ``y``; change points are mapped back to positions in ``y``."""
    v = np.asarray(y, dtype=np.float64)
    keep = np.flatnonzero(~np.isnan(v))
    cps = pelt(v[keep], penalty, **kw)  # type: ignore[arg-type]
    return [int(keep[c]) for c in cps]


def noise_sd(y: np.ndarray) -> float:
    """Robust noise standard deviation from first differences: 1.4826 · median|Δy| / √2 (ignores steps)."""
    v = np.asarray(y, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) < 3:
        return float("nan")
    return float(1.4826 * np.median(np.abs(np.diff(v))) / math.sqrt(2.0))


def bic_penalty(y: np.ndarray, factor: float = 2.0) -> float:
    """``factor · σ² · ln n`` with σ from :func:`noise_sd` (the l2 penalty used by C11); 0 for a noiseless series
    is replaced by a tiny positive value so exact repeats do not split."""
    v = np.asarray(y, dtype=np.float64)
    n = int((~np.isnan(v)).sum())
    sd = noise_sd(v)
    if not math.isfinite(sd) or n < 2:
        return 0.0
    return float(factor * max(sd * sd, 1e-12) * math.log(n))
