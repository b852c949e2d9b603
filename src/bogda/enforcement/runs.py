"""Run-length and rolling-window kernels shared by the enforcement rules (enforcement.md §8).

Every kernel is vectorised over a 1-D NumPy array: run lengths via ``np.diff``/``flatnonzero``, rolling sums via
cumulative sums. No per-row Python loops; loops run over *runs* (a handful per series) only.
"""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and inclusive end index of every run of ``True`` in ``mask``.

    >>> runs(np.array([0, 1, 1, 0, 1], dtype=bool))
    (array([1, 4]), array([2, 4]))
    """
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    d = np.diff(np.concatenate(([0], m.view(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1


def long_runs(mask: np.ndarray, min_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs of ``True`` at least ``min_len`` elements long (start, inclusive end)."""
    s, e = runs(mask)
    keep = (e - s + 1) >= min_len
    return s[keep], e[keep]


def equal_runs(x: np.ndarray, min_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs of exactly identical, non-NaN consecutive values at least ``min_len`` long.

    Exact equality on purpose: a frozen analyser repeats the same number, a live one never does for hours
    (enforcement.md §3.4, C07).

    >>> equal_runs(np.array([1.0, 2, 2, 2, 3]), 3)
    (array([1]), array([3]))
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    same = (x[1:] == x[:-1]) & ~np.isnan(x[1:])
    s, e = runs(same)
    # a run of k equal steps covers k+1 values
    s_val, e_val = s, e + 1
    keep = (e_val - s_val + 1) >= min_len
    return s_val[keep], e_val[keep]


def merge_runs(starts: np.ndarray, ends: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge runs whose gap (elements strictly between them) is at most ``max_gap``; overlaps merge too."""
    if len(starts) == 0:
        return np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    s = np.asarray(starts)[order]
    e = np.asarray(ends)[order]
    e_cum = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] - e_cum[:-1] - 1 > max_gap
    idx = np.flatnonzero(new)
    out_s = s[idx]
    out_e = np.maximum.reduceat(e, idx)
    return out_s, out_e


def rolling_sum(x: np.ndarray, w: int) -> np.ndarray:
    """Sum over each full window ``x[i : i + w]``; length ``len(x) - w + 1`` (empty if too short)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < w:
        return np.zeros(0)
    c = np.concatenate(([0.0], np.cumsum(x)))
    return c[w:] - c[:-w]


def rolling_count(mask: np.ndarray, w: int) -> np.ndarray:
    """Number of ``True`` in each full window; exact (integer cumulative sum)."""
    m = np.asarray(mask, dtype=np.int64)
    if len(m) < w:
        return np.zeros(0, dtype=np.int64)
    c = np.concatenate(([0], np.cumsum(m)))
    return c[w:] - c[:-w]


def windows_to_rows(win_starts: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Row span (start, inclusive end) of windows starting at ``win_starts``, overlaps merged."""
    return merge_runs(np.asarray(win_starts), np.asarray(win_starts) + w - 1, max_gap=-1)


def rolling_median(x: np.ndarray, w: int) -> np.ndarray:
    """NaN-aware median of each full window (sliding view; NaN where the window holds no value)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < w:
        return np.zeros(0)
    view = np.lib.stride_tricks.sliding_window_view(x, w)
    out = np.full(view.shape[0], np.nan)
    ok = (~np.isnan(view)).any(axis=1)
    if ok.any():
        out[ok] = np.nanmedian(view[ok], axis=1)
    return out


def block_reduce(x: np.ndarray, block: int, func: str = "median") -> np.ndarray:
    """Reduce consecutive blocks of ``block`` elements (the last, partial block included) ignoring NaN."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    nb = -(-n // block)
    pad = np.full(nb * block, np.nan)
    pad[:n] = x
    v = pad.reshape(nb, block)
    out = np.full(nb, np.nan)
    ok = (~np.isnan(v)).any(axis=1)
    if ok.any():
        f = {"median": np.nanmedian, "mean": np.nanmean, "max": np.nanmax, "min": np.nanmin}[func]
        out[ok] = f(v[ok], axis=1)
    return out


def ffill_index(valid: np.ndarray) -> np.ndarray:
    """Index of the last position ``<= i`` where ``valid`` is true (``-1`` before the first)."""
    idx = np.where(valid, np.arange(len(valid)), -1)
    return np.maximum.accumulate(idx) if len(idx) else idx


def nanmedian_rows(m: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN (NaN for an all-NaN row), by one sort: ``np.nanmedian`` falls back to a
    per-row Python loop when NaNs are present, which is ~100× slower on (days × hours) matrices.

    >>> nanmedian_rows(np.array([[1.0, np.nan, 3.0, 2.0], [np.nan] * 4]))
    array([ 2., nan])
    """
    a = np.sort(np.asarray(m, dtype=np.float64), axis=1)  # NaN sorts last
    n = (~np.isnan(a)).sum(axis=1)
    rows = np.arange(a.shape[0])
    lo = np.maximum((n - 1) // 2, 0)
    hi = np.maximum(n // 2, 0)
    hi = np.minimum(hi, a.shape[1] - 1)
    out = 0.5 * (a[rows, lo] + a[rows, hi])
    out[n == 0] = np.nan
    return out
