"""Verification scores of the forecast backtest (forecast.md §3.9 "Metrics").

Pure functions over NumPy arrays. ``e = f − o`` (forecast minus observation). Pairs where either side is NaN
are never scored: every function drops them first, so callers can pass aligned arrays with gaps. A score whose
denominator is zero is ``None`` (null), never 0 (forecast.md §3.9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

PM25_BANDS_2012: tuple[float, ...] = (35.0, 75.0, 115.0, 150.0, 250.0)
"""PM2.5 24-h IAQI band edges [µg/m³] of HJ 633-2012 Table 1 (IAQI 50/100/150/200/300): 6 levels."""


def _pairs(f: ArrayLike, o: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    fa = np.asarray(f, dtype=float)
    oa = np.asarray(o, dtype=float)
    if fa.shape != oa.shape:
        raise ValueError(f"forecast and observation shapes differ: {fa.shape} vs {oa.shape}")
    ok = np.isfinite(fa) & np.isfinite(oa)
    return fa[ok], oa[ok]


def n_pairs(f: ArrayLike, o: ArrayLike) -> int:
    """Number of scored pairs (both finite).

    >>> n_pairs([1.0, np.nan, 3.0], [1.0, 2.0, np.nan])
    1
    """
    return int(_pairs(f, o)[0].size)


def rmse(f: ArrayLike, o: ArrayLike) -> float | None:
    """Root-mean-square error √mean(e²) [unit of the data].

    >>> rmse([1.0, 3.0, 3.0, np.nan], [1.0, 1.0, 1.0, 5.0])
    1.632993161855452
    """
    fa, oa = _pairs(f, o)
    return float(np.sqrt(np.mean((fa - oa) ** 2))) if fa.size else None


def mae(f: ArrayLike, o: ArrayLike) -> float | None:
    """Mean absolute error mean|e| [unit of the data].

    >>> mae([1.0, 2.0, 3.0], [1.0, 4.0, 1.0])
    1.3333333333333333
    """
    fa, oa = _pairs(f, o)
    return float(np.mean(np.abs(fa - oa))) if fa.size else None


def bias(f: ArrayLike, o: ArrayLike) -> float | None:
    """Mean error mean(e), forecast minus observed [unit of the data].

    >>> bias([2.0, 2.0], [1.0, 2.0])
    0.5
    """
    fa, oa = _pairs(f, o)
    return float(np.mean(fa - oa)) if fa.size else None


def r2(f: ArrayLike, o: ArrayLike) -> float | None:
    """R² = 1 − Σe²/Σ(o − ō)², ō the mean of the scored observations.

    >>> r2([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    >>> r2([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    0.0
    """
    fa, oa = _pairs(f, o)
    sst = float(np.sum((oa - oa.mean()) ** 2)) if oa.size else 0.0
    if sst == 0.0:
        return None
    return 1.0 - float(np.sum((fa - oa) ** 2)) / sst


def skill_score(score: float | None, score_ref: float | None) -> float | None:
    """Skill score SS = 1 − score/score_ref (e.g. RMSE against climatology or damped persistence).

    >>> skill_score(40.0, 80.0)
    0.5
    >>> skill_score(40.0, 0.0) is None
    True
    """
    if score is None or score_ref is None or score_ref == 0:
        return None
    return 1.0 - score / score_ref


def level_of(x: ArrayLike, bands: Sequence[float] = PM25_BANDS_2012) -> np.ndarray:
    """Level index 0..len(bands) of unrounded values; a value on an edge belongs to the lower level.

    HJ 633-2012 Table 1 bands are closed above (e.g. PM2.5 0–35 is level 1). NaN gives −1.

    >>> level_of([0.0, 35.0, 35.1, 150.0, 151.0, 600.0, np.nan]).tolist()
    [0, 0, 1, 3, 4, 5, -1]
    """
    xa = np.asarray(x, dtype=float)
    lv = np.searchsorted(np.asarray(bands, dtype=float), xa, side="left")
    return np.where(np.isfinite(xa), lv, -1)


def level_accuracy(
    f: ArrayLike, o: ArrayLike, bands: Sequence[float] = PM25_BANDS_2012, tolerance: int = 0
) -> float | None:
    """Share of pairs whose levels differ by at most ``tolerance`` (0: exact accuracy; 1: ±1 accuracy).

    >>> level_accuracy([10.0, 80.0, 200.0], [20.0, 120.0, 100.0])
    0.3333333333333333
    >>> level_accuracy([10.0, 80.0, 200.0], [20.0, 120.0, 100.0], tolerance=1)
    0.6666666666666666
    """
    fa, oa = _pairs(f, o)
    if not fa.size:
        return None
    return float(np.mean(np.abs(level_of(fa, bands) - level_of(oa, bands)) <= tolerance))


AQI_TOP = 500.0
"""The highest AQI (HJ 633: IAQI 500); a published range ends there at the most."""

RANGE_SPANS: tuple[tuple[float, int], ...] = ((100.0, 20), (200.0, 30), (300.0, 50), (float("inf"), 100))
"""Span of a published AQI range by the forecast AQI (d): (upper bound of the forecast AQI, span). A forecast AQI
≤ 100 is published as a range 20 wide, ≤ 200 30 wide, ≤ 300 50 wide, above 100 wide. City forecasts in China are
published as an AQI range with the level(s) it spans (e.g. "AQI 60–80，良"); the spans are bogda's defaults, not read
in an official text (forecast.md §3.9 "CNEMC-style range accuracy")."""


def published_range(f: ArrayLike, spans: Sequence[tuple[float, int]] = RANGE_SPANS) -> tuple[np.ndarray, np.ndarray]:
    """The AQI range (lo, hi) a forecast AQI ``f`` is published as: integers, centred on ``f``, as wide as
    :data:`RANGE_SPANS` gives for ``f``, moved up to start at 0 or down to end at 500 (the top of the AQI, HJ 633)
    where it would go beyond. NaN gives NaN.

    >>> lo, hi = published_range([70.0, 149.6, 260.0, 5.0, 480.0, np.nan])
    >>> lo.tolist()[:5], hi.tolist()[:5], bool(np.isnan(lo[5]))
    ([60.0, 135.0, 235.0, 0.0, 400.0], [80.0, 165.0, 285.0, 20.0, 500.0], True)
    """
    fa = np.asarray(f, dtype=float)
    edges = np.array([e for e, _ in spans], dtype=float)
    widths = np.array([w for _, w in spans], dtype=float)
    ok = np.isfinite(fa)
    w = widths[np.minimum(np.searchsorted(edges, np.where(ok, fa, 0.0), side="left"), len(widths) - 1)]
    lo = np.clip(np.floor(fa - w / 2.0 + 0.5), 0.0, np.maximum(AQI_TOP - w, 0.0))
    return np.where(ok, lo, np.nan), np.where(ok, np.minimum(lo + w, AQI_TOP), np.nan)


def range_accuracy(f: ArrayLike, o: ArrayLike, spans: Sequence[tuple[float, int]] = RANGE_SPANS) -> float | None:
    """CNEMC-style AQI range accuracy: share of days whose observed AQI lies in the published range of the forecast
    (:func:`published_range`, bounds included; forecast.md §3.9, reported apart from the level accuracy).

    >>> range_accuracy([70.0, 70.0, 260.0], [80.0, 81.0, 240.0])
    0.6666666666666666
    """
    fa, oa = _pairs(f, o)
    if not fa.size:
        return None
    lo, hi = published_range(fa, spans)
    return float(np.mean((oa >= lo) & (oa <= hi)))


def level_range_accuracy(f: ArrayLike, o: ArrayLike, spans: Sequence[tuple[float, int]] = RANGE_SPANS) -> float | None:
    """CNEMC-style level accuracy of a range forecast: share of days whose observed AQI level (HJ 633) is one of the
    levels the published range spans ("良至轻度污染" is right on a 良 day and on a 轻度污染 day).

    >>> level_range_accuracy([95.0, 95.0, 60.0], [110.0, 151.0, 101.0])  # 85–105: 良至轻度; 50–70: 优至良
    0.3333333333333333
    """
    from bogda.standards.levels import category

    fa, oa = _pairs(f, o)
    if not fa.size:
        return None
    lo, hi = published_range(fa, spans)
    lv = category(oa)
    return float(np.mean((lv >= category(lo)) & (lv <= category(hi))))


@dataclass(frozen=True)
class Contingency:
    """2×2 table for the event ``value > threshold``: a hits, b false alarms, c misses, d correct negatives."""

    a: int
    b: int
    c: int
    d: int

    @property
    def n(self) -> int:
        return self.a + self.b + self.c + self.d


def contingency(f: ArrayLike, o: ArrayLike, threshold: float) -> Contingency:
    """Count the 2×2 table of the event ``> threshold`` (strictly above, as "days > 150").

    >>> contingency([160, 160, 10, 10], [200, 10, 200, 10], 150)
    Contingency(a=1, b=1, c=1, d=1)
    """
    fa, oa = _pairs(f, o)
    fe, oe = fa > threshold, oa > threshold
    return Contingency(int(np.sum(fe & oe)), int(np.sum(fe & ~oe)), int(np.sum(~fe & oe)), int(np.sum(~fe & ~oe)))


def _div(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def threat_score(t: Contingency) -> float | None:
    """TS (CSI) = a/(a+b+c).

    >>> threat_score(Contingency(2, 1, 1, 6))
    0.5
    >>> threat_score(Contingency(0, 0, 0, 9)) is None
    True
    """
    return _div(t.a, t.a + t.b + t.c)


def pod(t: Contingency) -> float | None:
    """Probability of detection a/(a+c).

    >>> pod(Contingency(3, 0, 1, 0))
    0.75
    """
    return _div(t.a, t.a + t.c)


def far(t: Contingency) -> float | None:
    """False-alarm ratio b/(a+b); null when nothing was forecast.

    >>> far(Contingency(3, 1, 0, 0))
    0.25
    >>> far(Contingency(0, 0, 5, 5)) is None
    True
    """
    return _div(t.b, t.a + t.b)


def pofd(t: Contingency) -> float | None:
    """Probability of false detection b/(b+d).

    >>> pofd(Contingency(0, 1, 0, 3))
    0.25
    """
    return _div(t.b, t.b + t.d)


def ets(t: Contingency) -> float | None:
    """Equitable threat score (a − a_r)/(a+b+c − a_r), a_r = (a+b)(a+c)/N.

    >>> round(ets(Contingency(2, 1, 1, 6)), 4)
    0.3548
    """
    if t.n == 0:
        return None
    ar = (t.a + t.b) * (t.a + t.c) / t.n
    return _div(t.a - ar, t.a + t.b + t.c - ar)


def frequency_bias(t: Contingency) -> float | None:
    """Frequency bias (a+b)/(a+c).

    >>> frequency_bias(Contingency(2, 2, 2, 0))
    1.0
    """
    return _div(t.a + t.b, t.a + t.c)


def brier(p: ArrayLike, event: ArrayLike) -> float | None:
    """Brier score mean(p − o)², o ∈ {0, 1}; NaN pairs are dropped.

    >>> brier([1.0, 0.0, 0.5], [1, 0, 1])
    0.08333333333333333
    """
    pa, oa = _pairs(p, event)
    return float(np.mean((pa - oa) ** 2)) if pa.size else None


def brier_skill_score(p: ArrayLike, event: ArrayLike, base_rate: float) -> float | None:
    """BSS = 1 − Brier/Brier_ref, the reference forecasting the training event frequency ``base_rate``.

    >>> brier_skill_score([1.0, 0.0], [1, 0], 0.5)
    1.0
    """
    pa, oa = _pairs(p, event)
    if not pa.size:
        return None
    ref = float(np.mean((base_rate - oa) ** 2))
    return skill_score(float(np.mean((pa - oa) ** 2)), ref)


def coverage(o: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float | None:
    """Share of observations inside [lower, upper] (p10–p90: nominal 80 %).

    >>> coverage([1.0, 5.0, 9.0, np.nan], [0.0, 0.0, 0.0, 0.0], [2.0, 6.0, 8.0, 1.0])
    0.6666666666666666
    """
    oa, lo, hi = (np.asarray(v, dtype=float) for v in (o, lower, upper))
    ok = np.isfinite(oa) & np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return None
    return float(np.mean((oa[ok] >= lo[ok]) & (oa[ok] <= hi[ok])))


def pinball(q: ArrayLike, o: ArrayLike, alpha: float) -> float | None:
    """Mean pinball (quantile) loss of quantile forecast ``q`` at level ``alpha``.

    Loss = α·(o − q) when o ≥ q, else (1 − α)·(q − o).

    >>> pinball([10.0, 10.0], [12.0, 8.0], 0.9)
    1.0
    """
    qa, oa = _pairs(q, o)
    if not qa.size:
        return None
    d = oa - qa
    return float(np.mean(np.maximum(alpha * d, (alpha - 1.0) * d)))


def episodes(day: ArrayLike, o: ArrayLike, threshold: float, min_days: int = 2) -> list[np.ndarray]:
    """Episodes of one station: runs of at least ``min_days`` consecutive days with ``o > threshold``, each as the
    positions (into ``day``) of its days. A day without an observation ends a run: an episode is only what was
    observed (forecast.md §8 item 4, "heavy episodes of ≥ 2 days").

    >>> [e.tolist() for e in episodes([1, 2, 3, 5, 6, 8], [160, 170, 20, 200, 210, 300], 150)]
    [[0, 1], [3, 4]]
    """
    da = np.asarray(day, dtype=int)
    oa = np.asarray(o, dtype=float)
    order = np.argsort(da, kind="stable")
    out: list[np.ndarray] = []
    run: list[int] = []
    last = 0
    for i in order:
        event = bool(np.isfinite(oa[i]) and oa[i] > threshold)
        if event and run and da[i] == last + 1:
            run.append(int(i))
        else:
            if len(run) >= min_days:
                out.append(np.asarray(run))
            run = [int(i)] if event else []
        last = int(da[i])
    if len(run) >= min_days:
        out.append(np.asarray(run))
    return out


def episode_pod(f: ArrayLike, o: ArrayLike, day: ArrayLike, threshold: float, min_days: int = 2) -> float | None:
    """Share of observed episodes (:func:`episodes`) that the forecast detected: ``f > threshold`` on at least one
    of the episode's days (forecast.md §8 item 4, "POD ≥ 0.6 for heavy episodes of ≥ 2 days"; a warning is issued
    for an episode, not for each of its days). None without an episode.

    >>> episode_pod([100, 160, 20, 90, 100], [160, 170, 20, 200, 210], [1, 2, 3, 5, 6], 150)
    0.5
    """
    fa = np.asarray(f, dtype=float)
    eps = episodes(day, o, threshold, min_days)
    if not eps:
        return None
    hit = [bool(np.any(fa[e] > threshold)) for e in eps]
    return float(np.mean(hit))


def point_scores(
    f: ArrayLike,
    o: ArrayLike,
    *,
    bands: Sequence[float] | None = None,
    thresholds: Sequence[float] = (),
) -> dict[str, float | int | None]:
    """All point scores of one (method, horizon): n, RMSE, MAE, bias, R², levels and contingency scores.

    ``bands`` adds ``level_acc`` and ``level_acc_pm1``; each threshold T adds ``TS_gtT``, ``POD_gtT``,
    ``FAR_gtT``, ``POFD_gtT``, ``ETS_gtT`` and ``bias_gtT``.

    >>> s = point_scores([1.0, 3.0], [1.0, 1.0], thresholds=(2,))
    >>> s["n"], s["RMSE"], s["TS_gt2"], s["FAR_gt2"]
    (2, 1.4142135623730951, 0.0, 1.0)
    """
    out: dict[str, float | int | None] = {
        "n": n_pairs(f, o),
        "RMSE": rmse(f, o),
        "MAE": mae(f, o),
        "bias": bias(f, o),
        "R2": r2(f, o),
    }
    if bands is not None:
        out["level_acc"] = level_accuracy(f, o, bands)
        out["level_acc_pm1"] = level_accuracy(f, o, bands, tolerance=1)
    for thr in thresholds:
        t = contingency(f, o, thr)
        tag = f"gt{thr:g}"
        out[f"TS_{tag}"] = threat_score(t)
        out[f"POD_{tag}"] = pod(t)
        out[f"FAR_{tag}"] = far(t)
        out[f"POFD_{tag}"] = pofd(t)
        out[f"ETS_{tag}"] = ets(t)
        out[f"bias_{tag}"] = frequency_bias(t)
    return out
