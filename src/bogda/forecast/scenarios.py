"""Joint scenarios for AQI probabilities (forecast.md §3.5).

Per series (item, target, lead) the predictive distribution is the split-lognormal quantile function

    q(u) = exp(ln q50 + σ·Φ⁻¹(u)),   σ = ln(q90/q50)/1.2816 for u ≥ 0.5, ln(q50/q10)/1.2816 below,

with concentrations floored at 1. A *scenario* takes the PIT vector F(obs) of one past issue date of the archive —
all items, targets and leads of that date together — and maps it through today's q(u). Because one date's PIT
values move together across pollutants and days, the scenarios keep the cross-pollutant and cross-day correlation
that independent draws would lose. The AQI of a scenario is the maximum IAQI over its items; AQI quantiles,
P(AQI > T) and P(level ≥ L) are scenario frequencies.

Gaps in an archived PIT vector (an item or target that was not forecast or not observed that day) are filled with
the mean normal score Φ⁻¹(u) of the same date and lead over the items and targets that exist, so a filled value
follows that date's regime; a lead without any value on that date gets an independent uniform draw (seeded).
Without an archive (fewer than ``MIN_ARCHIVE_DATES`` dates, (d)) the scenarios are *comonotone*: every series of
scenario i takes u = (i + ½)/S — the assumption that all pollutants' quantiles move together, which gives a lower
bound of the exceedance probability of a maximum. The result says which of the two was used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.special import ndtr, ndtri

Z90 = 1.2815515655446004
N_SCENARIOS = 200
"""S, scenarios per forecast (forecast.md §5: probabilities stable to about ±0.05)."""
MIN_ARCHIVE_DATES = 20
"""Past issue dates needed before scenarios draw from the archive rather than being comonotone (d)."""
PIT_CLIP = 1e-4
"""PIT values are kept inside [1e-4, 1 − 1e-4] so Φ⁻¹ stays finite (an observation far outside the band)."""


def _split_sigma(p10: np.ndarray, p50: np.ndarray, p90: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q10, q50, q90 = (np.maximum(np.asarray(v, dtype=float), 1.0) for v in (p10, p50, p90))
    lo = np.maximum(np.log(q50 / np.minimum(q10, q50)), 0.0) / Z90
    hi = np.maximum(np.log(np.maximum(q90, q50) / q50), 0.0) / Z90
    return q50, lo, hi


def quantile_function(p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, u: np.ndarray) -> np.ndarray:
    """q(u) of forecast.md §3.5 (broadcasting ``u`` against the quantile arrays).

    >>> [round(float(quantile_function(50.0, 100.0, 200.0, u)), 6) for u in (0.1, 0.5, 0.9)]
    [50.0, 100.0, 200.0]
    """
    q50, lo, hi = _split_sigma(p10, p50, p90)
    z = ndtri(np.clip(np.asarray(u, dtype=float), PIT_CLIP, 1 - PIT_CLIP))
    return np.exp(np.log(q50) + np.where(z >= 0, hi, lo) * z)


def pit(p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """F(obs), the probability integral transform of an observation under q(u); NaN where obs or a quantile is.

    >>> float(pit(50.0, 100.0, 200.0, 100.0)), round(float(pit(50.0, 100.0, 200.0, 200.0)), 4)
    (0.5, 0.9)
    >>> round(float(pit(50.0, 100.0, 200.0, 0.2)), 4)  # floored at 1 µg/m³ like the quantiles
    0.0
    """
    q50, lo, hi = _split_sigma(p10, p50, p90)
    o = np.asarray(obs, dtype=float)
    r = np.log(np.maximum(o, 1.0) / q50)
    sig = np.where(r >= 0, hi, lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sig > 0, r / np.where(sig > 0, sig, 1.0), np.sign(r) * np.inf)
    u = ndtr(z)
    bad = ~(np.isfinite(o) & np.isfinite(np.asarray(p50, dtype=float)) & np.isfinite(np.asarray(p10, dtype=float)))
    return np.where(bad | ~np.isfinite(np.asarray(p90, dtype=float)), np.nan, u)


def fill_pit(archive: np.ndarray, seed: int = 0) -> np.ndarray:
    """Fill gaps of a PIT archive ``(dates, items, targets, leads)``: the mean normal score of the same date and
    lead where any value exists, else an independent uniform draw (module docstring)."""
    a = np.clip(np.asarray(archive, dtype=float), PIT_CLIP, 1 - PIT_CLIP)
    z = ndtri(a)
    ok = np.isfinite(z)
    cnt = ok.sum(axis=(1, 2))
    mean_z = np.where(cnt > 0, np.where(ok, z, 0.0).sum(axis=(1, 2)) / np.maximum(cnt, 1), np.nan)  # (dates, leads)
    fill = ndtr(mean_z)[:, None, None, :]
    out = np.where(ok, a, np.broadcast_to(fill, a.shape))
    rest = ~np.isfinite(out)
    if rest.any():
        out[rest] = np.random.default_rng(seed).uniform(PIT_CLIP, 1 - PIT_CLIP, size=int(rest.sum()))
    return out


@dataclass
class ScenarioSet:
    """Scenario PIT vectors ``u`` (S, items, targets, leads) and how they were made."""

    u: np.ndarray
    method: str  # archive | comonotone
    n_archive_dates: int
    dates: list[object]


def draw_scenarios(
    archive: np.ndarray | None,
    shape: tuple[int, int, int],
    *,
    n: int = N_SCENARIOS,
    seed: int = 0,
    archive_dates: Sequence[object] = (),
    min_dates: int = MIN_ARCHIVE_DATES,
) -> ScenarioSet:
    """``n`` scenario PIT vectors of ``shape`` = (items, targets, leads).

    Each scenario is the (gap-filled) PIT vector of one past issue date drawn at random with replacement
    (seeded), or comonotone when the archive holds fewer than ``min_dates`` dates.

    Raises
    ------
    ValueError
        when the archive's (items, targets, leads) differ from ``shape``.
    """
    n_dates = 0 if archive is None else int(archive.shape[0])
    if archive is not None and tuple(archive.shape[1:]) != tuple(shape):
        raise ValueError(f"PIT archive shape {archive.shape[1:]} does not match the forecast's {shape}")
    if n_dates < min_dates:
        u = ((np.arange(n) + 0.5) / n)[:, None, None, None] * np.ones((1, *shape))
        return ScenarioSet(u, "comonotone", n_dates, [])
    assert archive is not None
    filled = fill_pit(archive, seed)
    pick = np.random.default_rng(seed).integers(0, n_dates, size=n)
    dates = [archive_dates[i] for i in pick] if len(archive_dates) == n_dates else []
    return ScenarioSet(filled[pick], "archive", n_dates, dates)


@dataclass
class ScenarioAqi:
    """AQI statistics over scenarios, each (targets, leads)."""

    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    prob: dict[str, np.ndarray]
    method: str
    n_scenarios: int
    samples: np.ndarray | None = None
    """The scenario AQIs (S, targets, leads), e.g. for the probability of a warning level over several days."""


AQI_THRESHOLDS: tuple[int, ...] = (100, 150, 200, 300)
LEVELS: tuple[int, ...] = (2, 3, 4, 5, 6)
"""Levels L of P(level ≥ L) (HJ 633: 2 good … 6 severe); AQI > 50/100/150/200/300 starts levels 2…6."""


def scenario_aqi(
    quantiles: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    scenarios: ScenarioSet,
    valid_start: Sequence[datetime],
    resolution: str = "day",
) -> ScenarioAqi:
    """AQI quantiles, P(AQI > T) and P(level ≥ L) from scenarios (forecast.md §3.5).

    Parameters
    ----------
    quantiles : AQI item label (``PM2.5``, ``PM10``, ``SO2``, ``NO2``, ``CO``, ``O3_8h``, ``O3_1h``) → (p10, p50,
        p90), each (targets, leads) in µg/m³ (CO mg/m³); the order of items is that of ``scenarios.u`` axis 1
    scenarios : from :func:`draw_scenarios`
    valid_start : target times of the leads (the AQI standard version is chosen by each)
    resolution : ``day`` (daily AQI) or ``hour`` (real-time hourly AQI)
    """
    from bogda.standards import aqi as A
    from bogda.standards.versions import standard_for

    labels = list(quantiles)
    S, n_items, n, m = scenarios.u.shape
    if n_items != len(labels):
        raise ValueError(f"scenarios have {n_items} items, quantiles {len(labels)}: {labels}")
    conc = {
        lab: quantile_function(*(np.asarray(v, dtype=float)[None] for v in quantiles[lab]), scenarios.u[:, i])
        for i, lab in enumerate(labels)
    }
    # a series without quantiles stays missing (NaN) in every scenario
    for lab in labels:
        conc[lab] = np.where(np.isfinite(np.asarray(quantiles[lab][1], dtype=float))[None], conc[lab], np.nan)
    fn = A.aqi_hourly if resolution == "hour" else A.aqi_daily
    std = np.array([standard_for(t) for t in valid_start])
    aqi = np.full((S, n, m), np.nan)
    level = np.zeros((S, n, m), dtype=np.int16)
    for version in sorted(set(std)):
        cols = std == version
        skip_o3_1h = version == "2026" and resolution == "day"
        sub = {lab: c[:, :, cols].ravel() for lab, c in conc.items() if not (skip_o3_1h and lab == "O3_1h")}
        res = fn(sub, version)
        aqi[:, :, cols] = np.asarray(res.aqi, dtype=float).reshape(S, n, int(cols.sum()))
        level[:, :, cols] = np.asarray(res.level).reshape(S, n, int(cols.sum()))
    ok = np.isfinite(aqi)
    with np.errstate(all="ignore"):
        qs = np.nanquantile(np.where(ok, aqi, np.nan), [0.1, 0.5, 0.9], axis=0) if ok.any() else None
    if qs is None:
        qs = np.full((3, n, m), np.nan)
    n_ok = ok.sum(axis=0)
    prob: dict[str, np.ndarray] = {}
    for thr in AQI_THRESHOLDS:
        prob[f"AQI>{thr}"] = np.where(n_ok > 0, (ok & (aqi > thr)).sum(axis=0) / np.maximum(n_ok, 1), np.nan)
    for lv in LEVELS:
        prob[f"level>={lv}"] = np.where(n_ok > 0, (ok & (level >= lv)).sum(axis=0) / np.maximum(n_ok, 1), np.nan)
    return ScenarioAqi(qs[0], qs[1], qs[2], prob, scenarios.method, S, aqi)
