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

The same machinery serves the daily AQI (items × targets × 7 days) and the hourly real-time AQI (6 pollutants ×
targets × 72 leads, HJ 633 1-h rules through :func:`bogda.standards.aqi.aqi_hourly`); the hourly draw is float32 and
its normal scores are computed once per archive date, to stay inside the refresh budget (forecast.md §7).
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


def concentration_floor(item: str) -> float:
    """The floor of the quantile function's concentrations (forecast.md §3.5: "floored at 1"): one step of the
    item's published resolution, i.e. 1 µg/m³, and 0.1 mg/m³ for CO, published in mg/m³ with one decimal
    (HJ 633-2026 4.2.2, :attr:`bogda.standards.pollutants.Pollutant.decimals`).

    A floor of 1 in CO's own unit is 1000 µg/m³, above most CO observations: every CO band built from it centred
    on 1 mg/m³ whatever the forecast, and every CO observation's PIT collapsed there. ``item``: an HJ 212 code, a
    pollutant name or an AQI item label (``CO``, ``O3_8h``); anything else (e.g. ``AQI``) gets 1.

    >>> [concentration_floor(k) for k in ("a21005", "CO", "O3_8h", "PM2.5", "AQI")]
    [0.1, 0.1, 1.0, 1.0, 1.0]
    """
    from bogda.standards.pollutants import POLLUTANTS, pollutant_code

    try:
        code = pollutant_code(item.split("_")[0])
    except KeyError:
        return 1.0
    return 10.0 ** -POLLUTANTS[code].decimals


def _split_sigma(
    p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, floor: float | np.ndarray = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q10, q50, q90 = (np.maximum(np.asarray(v, dtype=float), floor) for v in (p10, p50, p90))
    lo = np.maximum(np.log(q50 / np.minimum(q10, q50)), 0.0) / Z90
    hi = np.maximum(np.log(np.maximum(q90, q50) / q50), 0.0) / Z90
    return q50, lo, hi


def quantile_function(
    p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, u: np.ndarray, floor: float | np.ndarray = 1.0
) -> np.ndarray:
    """q(u) of forecast.md §3.5 (broadcasting ``u`` against the quantile arrays; ``floor``: the item's
    :func:`concentration_floor`).

    >>> [round(float(quantile_function(50.0, 100.0, 200.0, u)), 6) for u in (0.1, 0.5, 0.9)]
    [50.0, 100.0, 200.0]
    """
    z = ndtri(np.clip(np.asarray(u, dtype=float), PIT_CLIP, 1 - PIT_CLIP))
    return quantile_from_score(p10, p50, p90, z, floor)


def quantile_from_score(
    p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, z: np.ndarray, floor: float | np.ndarray = 1.0
) -> np.ndarray:
    """q(u) of forecast.md §3.5 from the normal score z = Φ⁻¹(u) (scenarios compute Φ⁻¹ once per archive date).

    >>> round(float(quantile_from_score(50.0, 100.0, 200.0, Z90)), 6)
    200.0
    """
    q50, lo, hi = _split_sigma(p10, p50, p90, floor)
    return np.exp(np.log(q50) + np.where(z >= 0, hi, lo) * z)


def pit(
    p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, obs: np.ndarray, floor: float | np.ndarray = 1.0
) -> np.ndarray:
    """F(obs), the probability integral transform of an observation under q(u); NaN where obs or a quantile is
    (``floor``: the item's :func:`concentration_floor`, for the observation too).

    >>> float(pit(50.0, 100.0, 200.0, 100.0)), round(float(pit(50.0, 100.0, 200.0, 200.0)), 4)
    (0.5, 0.9)
    >>> round(float(pit(50.0, 100.0, 200.0, 0.2)), 4)  # floored at 1 µg/m³ like the quantiles
    0.0
    """
    q50, lo, hi = _split_sigma(p10, p50, p90, floor)
    o = np.asarray(obs, dtype=float)
    r = np.log(np.maximum(o, floor) / q50)
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
    z: np.ndarray | None = None
    """Normal scores Φ⁻¹(u) (clipped as :data:`PIT_CLIP`), same shape as ``u``; None: computed from ``u``."""


def draw_scenarios(
    archive: np.ndarray | None,
    shape: tuple[int, int, int],
    *,
    n: int = N_SCENARIOS,
    seed: int = 0,
    archive_dates: Sequence[object] = (),
    min_dates: int = MIN_ARCHIVE_DATES,
    dtype: type = np.float64,
) -> ScenarioSet:
    """``n`` scenario PIT vectors of ``shape`` = (items, targets, leads) (forecast.md §3.5).

    Each scenario is the (gap-filled) PIT vector of one past issue date drawn at random with replacement
    (seeded), or comonotone when the archive holds fewer than ``min_dates`` dates. ``dtype`` float32 halves the
    memory of the hourly draw (200 × 6 items × ~110 targets × 72 leads); PIT values need no more precision.

    Raises
    ------
    ValueError
        when the archive's (items, targets, leads) differ from ``shape``.
    """
    n_dates = 0 if archive is None else int(archive.shape[0])
    if archive is not None and tuple(archive.shape[1:]) != tuple(shape):
        raise ValueError(f"PIT archive shape {archive.shape[1:]} does not match the forecast's {shape}")
    if n_dates < min_dates:
        u1 = (np.arange(n) + 0.5) / n
        z1 = ndtri(u1)
        u = np.broadcast_to(u1.astype(dtype)[:, None, None, None], (n, *shape)).copy()
        z = np.broadcast_to(z1.astype(dtype)[:, None, None, None], (n, *shape)).copy()
        return ScenarioSet(u, "comonotone", n_dates, [], z)
    assert archive is not None
    filled = fill_pit(archive, seed)
    # Φ⁻¹ once per archive date, not once per scenario (the hourly draw has ~9·10⁶ values)
    z_dates = ndtri(np.clip(filled, PIT_CLIP, 1 - PIT_CLIP)).astype(dtype)
    pick = np.random.default_rng(seed).integers(0, n_dates, size=n)
    dates = [archive_dates[i] for i in pick] if len(archive_dates) == n_dates else []
    return ScenarioSet(filled.astype(dtype)[pick], "archive", n_dates, dates, z_dates[pick])


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


SO2_24H_MIN_HOURS = 20
"""Valid hours needed for the SO2 24-h moving mean that replaces a 1-h SO2 above 800 (HJ 633-2012 Table 1 note 2;
20 of 24 hours as the 24-h average validity of GB 3095)."""


def moving_24h(history: np.ndarray, future: np.ndarray, min_hours: int = SO2_24H_MIN_HOURS) -> np.ndarray:
    """24-h moving mean ending at each lead: observed ``history`` (targets, 23) of the hours up to the issue, then
    ``future`` (..., targets, leads) of consecutive hourly leads 1..m; NaN with fewer than ``min_hours`` valid.

    >>> moving_24h(np.full((1, 23), 10.0), np.array([[34.0, 10.0]])).tolist()
    [[11.0, 11.0]]
    """
    fut = np.asarray(future, dtype=float)
    hist = np.broadcast_to(np.asarray(history, dtype=float), (*fut.shape[:-1], history.shape[-1]))
    x = np.concatenate([hist, fut], axis=-1)
    ok = np.isfinite(x)
    z = np.zeros((*x.shape[:-1], 1))
    cs = np.concatenate([z, np.cumsum(np.where(ok, x, 0.0), axis=-1)], axis=-1)
    cn = np.concatenate([z, np.cumsum(ok, axis=-1)], axis=-1)
    k = hist.shape[-1]
    hi = np.arange(k + 1, x.shape[-1] + 1)
    lo = np.maximum(hi - 24, 0)
    tot, cnt = cs[..., hi] - cs[..., lo], cn[..., hi] - cn[..., lo]
    return np.where(cnt >= min_hours, tot / np.maximum(cnt, 1), np.nan)


def nan_quantiles(x: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles over axis 0 ignoring NaN (numpy's ``linear`` rule), vectorised: ``np.nanquantile`` runs a Python
    call per series, too slow for the hourly AQI (~8 000 series × 200 scenarios) inside the refresh budget (§7).

    >>> nan_quantiles(np.array([[1.0, np.nan], [3.0, np.nan], [2.0, 5.0]]), [0.5, 0.9]).tolist()
    [[2.0, 5.0], [2.8, 5.0]]
    """
    srt = np.sort(x, axis=0)  # NaN sort last
    cnt = np.isfinite(x).sum(axis=0)
    top = np.maximum(cnt - 1, 0)
    out = np.full((len(qs), *x.shape[1:]), np.nan)
    for k, q in enumerate(qs):
        pos = q * top
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, top)
        a = np.take_along_axis(srt, lo[None], 0)[0]
        b = np.take_along_axis(srt, hi[None], 0)[0]
        with np.errstate(invalid="ignore"):
            out[k] = np.where(cnt > 0, a + (b - a) * (pos - lo), np.nan)
    return out


def scenario_aqi(
    quantiles: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    scenarios: ScenarioSet,
    valid_start: Sequence[datetime],
    resolution: str = "day",
    *,
    so2_history: np.ndarray | None = None,
) -> ScenarioAqi:
    """AQI quantiles, P(AQI > T) and P(level ≥ L) from scenarios (forecast.md §3.5).

    Parameters
    ----------
    quantiles : AQI item label (``PM2.5``, ``PM10``, ``SO2``, ``NO2``, ``CO``, ``O3_8h``, ``O3_1h``) → (p10, p50,
        p90), each (targets, leads) in µg/m³ (CO mg/m³); the order of items is that of ``scenarios.u`` axis 1
    scenarios : from :func:`draw_scenarios`
    valid_start : target times of the leads (the AQI standard version is chosen by each)
    resolution : ``day`` (daily AQI) or ``hour`` (real-time hourly AQI, :func:`bogda.standards.aqi.aqi_hourly`: PM
        1-h values against the 24-h breakpoints, O3 1 h)
    so2_history : hourly only, leads 1..m consecutive: observed SO2 (targets, 23) of the 23 hours up to the issue.
        With it, a scenario's SO2 1 h above 800 takes the IAQI of that scenario's SO2 24-h moving mean under
        HJ 633-2012 (Table 1 note 2); without it such an hour has no SO2 IAQI. HJ 633-2026 gives 200 either way.
    """
    from bogda.standards import aqi as A
    from bogda.standards.versions import standard_for

    labels = list(quantiles)
    S, n_items, n, m = scenarios.u.shape
    if n_items != len(labels):
        raise ValueError(f"scenarios have {n_items} items, quantiles {len(labels)}: {labels}")
    z = scenarios.z
    if z is None:
        z = ndtri(np.clip(np.asarray(scenarios.u, dtype=float), PIT_CLIP, 1 - PIT_CLIP))
    conc = {}
    for i, lab in enumerate(labels):
        c = quantile_from_score(
            *(np.asarray(v, dtype=float)[None] for v in quantiles[lab]), z[:, i], concentration_floor(lab)
        )
        # a series without quantiles stays missing (NaN) in every scenario
        conc[lab] = np.where(np.isfinite(np.asarray(quantiles[lab][1], dtype=float))[None], c, np.nan)
    so2_24h = None
    # the 24-h mean is needed only where a scenario's 1-h SO2 is above 800 (HJ 633-2012), which is rare
    if resolution == "hour" and so2_history is not None and "SO2" in conc and bool((conc["SO2"] > 800).any()):
        so2_24h = moving_24h(so2_history, conc["SO2"])
    std = np.array([standard_for(t) for t in valid_start])
    aqi = np.full((S, n, m), np.nan)
    level = np.zeros((S, n, m), dtype=np.int16)
    for version in sorted(set(std)):
        cols = std == version
        skip_o3_1h = version == "2026" and resolution == "day"
        sub = {lab: c[:, :, cols].ravel() for lab, c in conc.items() if not (skip_o3_1h and lab == "O3_1h")}
        if resolution == "hour":
            extra = so2_24h[:, :, cols].ravel() if so2_24h is not None else None
            res = A.aqi_hourly(sub, version, so2_24h=extra)
        else:
            res = A.aqi_daily(sub, version)
        aqi[:, :, cols] = np.asarray(res.aqi, dtype=float).reshape(S, n, int(cols.sum()))
        level[:, :, cols] = np.asarray(res.level).reshape(S, n, int(cols.sum()))
    ok = np.isfinite(aqi)
    qs = nan_quantiles(aqi, [0.1, 0.5, 0.9])
    n_ok = ok.sum(axis=0)
    prob: dict[str, np.ndarray] = {}
    for thr in AQI_THRESHOLDS:
        prob[f"AQI>{thr}"] = np.where(n_ok > 0, (ok & (aqi > thr)).sum(axis=0) / np.maximum(n_ok, 1), np.nan)
    for lv in LEVELS:
        prob[f"level>={lv}"] = np.where(n_ok > 0, (ok & (level >= lv)).sum(axis=0) / np.maximum(n_ok, 1), np.nan)
    return ScenarioAqi(qs[0], qs[1], qs[2], prob, scenarios.method, S, aqi)
