"""Baseline forecasts reported beside every model score (forecast.md §3.3).

Pure functions over the (n_stations, n_hours) arrays of a :class:`~bogda.forecast.features.Panel` (hour
position ``t`` is Beijing day ``t // 24``, Beijing hour ``t % 24``) and the (n_stations, n_days) daily arrays.
Climatologies and damping coefficients use training targets only; the caller passes the training mask.
"""

from __future__ import annotations

import numpy as np

from bogda.forecast.features import Panel, SeriesCache, beijing_calendar

STALE_AFTER_H = 24
"""Persistence older than this [h] marks the series stale; climatology replaces it (forecast.md §3.2)."""


def persistence(
    cache: SeriesCache, var: str, s: np.ndarray, t: np.ndarray, max_age: float = STALE_AFTER_H
) -> tuple[np.ndarray, np.ndarray]:
    """Last valid value at or before issue position ``t`` and a ``stale`` flag (age > ``max_age`` h, or none).

    Operations use ``max_age`` = 24 h (forecast.md §3.2); the benchmark protocol scores the plain last value
    (``max_age=inf``), as its reference figures do.
    """
    val, age = cache.last_valid(var, s, t)
    return val, age > max_age


def daily_persistence(daily: np.ndarray, s: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Last valid daily mean at or before ``day`` (forecast.md §3.3); NaN when there is none.

    >>> d = np.array([[1.0, np.nan, np.nan, 4.0]])
    >>> daily_persistence(d, np.array([0, 0, 0]), np.array([1, 2, 3])).tolist()
    [1.0, 1.0, 4.0]
    """
    pos = np.broadcast_to(np.arange(daily.shape[1]), daily.shape)
    last = np.maximum.accumulate(np.where(np.isfinite(daily), pos, -1), axis=1)
    idx = last[s, np.clip(day, 0, daily.shape[1] - 1)]
    return np.where(idx >= 0, daily[s, np.maximum(idx, 0)], np.nan)


def seasonal_naive(
    cache: SeriesCache, var: str, s: np.ndarray, t: np.ndarray, lead: int = 1, max_age: float = STALE_AFTER_H
) -> np.ndarray:
    """Same hour yesterday for target ``t + lead``: the last valid value at or before ``t + lead − 24``
    (reported at 1 h only, forecast.md §3.3); NaN when none is within ``max_age`` hours."""
    val, age = cache.last_valid(var, s, t + lead - 24)
    return np.where(age <= max_age, val, np.nan)


# --------------------------------------------------------------------------------------------------------------
# Climatologies
# --------------------------------------------------------------------------------------------------------------


def climatology_month_hour(panel: Panel, x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Training mean by (month, Beijing hour) per station: table (n_stations, 12, 24), NaN where empty.

    ``train`` is a boolean mask over hour positions (the training targets).
    """
    cal = beijing_calendar(panel, np.arange(panel.n_hours))
    key = ((cal["month"] - 1) * 24 + cal["hour"]).astype(np.int64)
    return _group_mean(x, key, train, 12 * 24).reshape(x.shape[0], 12, 24)


def climatology_hour(panel: Panel, x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Training mean by Beijing hour of day per station: table (n_stations, 24) (short archives)."""
    key = (np.arange(panel.n_hours) % 24).astype(np.int64)
    return _group_mean(x, key, train, 24)


def _group_mean(x: np.ndarray, key: np.ndarray, train: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.full((x.shape[0], n_groups), np.nan)
    for i in range(x.shape[0]):
        ok = train & np.isfinite(x[i])
        tot = np.bincount(key[ok], weights=x[i, ok], minlength=n_groups)
        cnt = np.bincount(key[ok], minlength=n_groups)
        out[i] = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    return out


def hourly_clim_array(panel: Panel, table: np.ndarray) -> np.ndarray:
    """Expand a (n_st, 12, 24) or (n_st, 24) climatology table to every hour position: (n_st, n_hours)."""
    t = np.arange(panel.n_hours)
    if table.ndim == 2:
        return table[:, t % 24]
    cal = beijing_calendar(panel, t)
    return table[:, cal["month"].astype(np.int64) - 1, (t % 24)]


def _day_of_year(panel: Panel) -> np.ndarray:
    cal = beijing_calendar(panel, np.arange(panel.n_days) * 24)
    return cal["doy"].astype(np.int64), cal["month"].astype(np.int64)


def circular_doy_distance(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """min(|Δ|, 366 − |Δ|) between days of year (forecast.md §3.3).

    >>> circular_doy_distance(np.array([1, 1, 200]), np.array([366, 16, 180])).tolist()
    [1, 15, 20]
    """
    d = np.abs(np.asarray(a) - np.asarray(b))
    return np.minimum(d, 366 - d)


def climatology_doy(panel: Panel, daily: np.ndarray, train_days: np.ndarray, halfwidth: int = 15) -> np.ndarray:
    """Daily climatology: mean of training daily means within ±``halfwidth`` days of the day of year.

    Returns a table (n_stations, 367) indexed by day of year 1..366 (column 0 unused).
    """
    doy, _ = _day_of_year(panel)
    out = np.full((daily.shape[0], 367), np.nan)
    for d in range(1, 367):
        near = train_days & (circular_doy_distance(doy, d) <= halfwidth)
        vals = np.where(near[None, :], daily, np.nan)
        cnt = np.isfinite(vals).sum(axis=1)
        out[:, d] = np.where(cnt > 0, np.nansum(vals, axis=1) / np.maximum(cnt, 1), np.nan)
    return out


def climatology_daily_month(panel: Panel, daily: np.ndarray, train_days: np.ndarray) -> np.ndarray:
    """Training mean of daily means by month: table (n_stations, 13), column 0 unused."""
    _, month = _day_of_year(panel)
    return np.concatenate([np.full((daily.shape[0], 1), np.nan), _group_mean(daily, month - 1, train_days, 12)], axis=1)


def climatology_daily_constant(daily: np.ndarray, train_days: np.ndarray) -> np.ndarray:
    """Training mean per station as a (n_stations, 1) table (archives shorter than a year, forecast.md §8.12)."""
    vals = np.where(train_days[None, :], daily, np.nan)
    cnt = np.isfinite(vals).sum(axis=1)
    return (np.where(cnt > 0, np.nansum(vals, axis=1) / np.maximum(cnt, 1), np.nan))[:, None]


def daily_clim_array(panel: Panel, table: np.ndarray, *, by: str = "doy") -> np.ndarray:
    """Expand a daily climatology table to every day position: (n_stations, n_days)."""
    if table.shape[1] == 1:
        return np.repeat(table, panel.n_days, axis=1)
    doy, month = _day_of_year(panel)
    return table[:, doy] if by == "doy" else table[:, month]


# --------------------------------------------------------------------------------------------------------------
# Damped persistence
# --------------------------------------------------------------------------------------------------------------


def fit_damping(anomaly_issue: np.ndarray, anomaly_target: np.ndarray) -> float:
    """Least-squares slope through the origin: a = Σxz / Σx² over finite training pairs (forecast.md §3.3).

    >>> fit_damping(np.array([1.0, 2.0, np.nan]), np.array([0.5, 1.0, 3.0]))
    0.5
    """
    x = np.asarray(anomaly_issue, dtype=float)
    z = np.asarray(anomaly_target, dtype=float)
    ok = np.isfinite(x) & np.isfinite(z)
    den = float(np.sum(x[ok] ** 2))
    return float(np.sum(x[ok] * z[ok]) / den) if den > 0 else 0.0


def fit_damping_by_station(
    anomaly_issue: np.ndarray, anomaly_target: np.ndarray, station: np.ndarray, n_stations: int
) -> np.ndarray:
    """:func:`fit_damping` per station (each series gets its own a per lead); 0 where a station has no pairs.

    >>> fit_damping_by_station(np.array([1.0, 2.0, 1.0]), np.array([0.5, 1.0, 1.0]), np.array([0, 0, 1]), 3).tolist()
    [0.5, 1.0, 0.0]
    """
    x = np.asarray(anomaly_issue, dtype=float)
    z = np.asarray(anomaly_target, dtype=float)
    ok = np.isfinite(x) & np.isfinite(z)
    num = np.bincount(station[ok], weights=x[ok] * z[ok], minlength=n_stations)
    den = np.bincount(station[ok], weights=x[ok] ** 2, minlength=n_stations)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def damped_persistence(
    clim_target: np.ndarray, a: float | np.ndarray, pers: np.ndarray, clim_issue: np.ndarray
) -> np.ndarray:
    """clim(target) + a·(persistence − clim(issue)); climatology alone where persistence is missing.

    >>> damped_persistence(np.array([50.0, 50.0]), 0.5, np.array([100.0, np.nan]), np.array([60.0, 60.0])).tolist()
    [70.0, 50.0]
    """
    anom = pers - clim_issue
    return clim_target + a * np.where(np.isfinite(anom), anom, 0.0)


def fit_damping_series(
    x: np.ndarray,
    clim_at: np.ndarray,
    origins: np.ndarray,
    lead: int,
    a_default: np.ndarray | float,
    sigma_default: np.ndarray | float,
    *,
    min_pairs: int,
    sigma_floor: float = 0.05,
    floor: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Damping a and the log-space spread σ of damped persistence per series at one lead (forecast.md §3.3).

    Parameters
    ----------
    x : np.ndarray
        Series (n_series, n_positions): hourly values or daily means [µg/m³, CO mg/m³].
    clim_at : np.ndarray
        The climatology of every position, same shape as ``x`` (or wider).
    origins : np.ndarray
        Issue positions of the training pairs (x[t0], x[t0 + lead]); the caller keeps t0 + lead inside the window.
    lead : int
        Lead in positions (hours or days).
    a_default, sigma_default : array or float
        Per series values where fewer than ``min_pairs`` finite pairs exist.
    min_pairs : int
        Pairs needed before a series gets its own fit (d).
    sigma_floor : float
        Lowest fitted σ (a near-perfect history must not give a zero-width band).
    floor : float
        Concentration floor before the logarithms, the item's :func:`bogda.forecast.scenarios.concentration_floor`
        (1 µg/m³; CO 0.1 mg/m³: floored at 1 mg/m³ most CO pairs compared 1 with 1 and σ fell to ``sigma_floor``).

    Returns
    -------
    (np.ndarray, np.ndarray)
        a (least squares through the origin on the anomalies, Σxz/Σx²) and σ = s.d. of ln(max(obs, floor)) −
        ln(max(damped persistence, floor)) over the same pairs.

    Examples
    --------
    >>> x = np.array([[10.0, 20.0, 10.0, 20.0, 10.0]])
    >>> a, s = fit_damping_series(x, np.full((1, 5), 15.0), np.arange(4), 1, 0.5, 0.3, min_pairs=3)
    >>> a.tolist(), s.round(3).tolist()
    ([-1.0], [0.05])
    """
    n = x.shape[0]
    a = np.broadcast_to(np.asarray(a_default, dtype=float), (n,)).copy()
    sig = np.broadcast_to(np.asarray(sigma_default, dtype=float), (n,)).copy()
    t0 = np.asarray(origins, dtype=np.int64)
    if t0.size == 0:
        return a, sig
    xi = x[:, t0] - clim_at[:, t0]
    zt = x[:, t0 + lead] - clim_at[:, t0 + lead]
    ok = np.isfinite(xi) & np.isfinite(zt)
    fit = ok.sum(axis=1) >= min_pairs
    if not fit.any():
        return a, sig
    xz = np.where(ok, xi * zt, 0.0).sum(axis=1)
    xx = np.where(ok, xi * xi, 0.0).sum(axis=1)
    a = np.where(fit & (xx > 0), xz / np.where(xx > 0, xx, 1.0), a)
    f = clim_at[:, t0 + lead] + a[:, None] * xi
    with np.errstate(all="ignore"):
        r = np.where(ok, np.log(np.maximum(x[:, t0 + lead], floor)) - np.log(np.maximum(f, floor)), np.nan)
        sd = np.nanstd(r, axis=1)
    sig = np.where(fit & np.isfinite(sd), np.maximum(sigma_floor, sd), sig)
    return a, sig
