"""Hourly data as a dense cube, and the array kernels of the data-validity rules (GB 3095 Table 4; HJ 663 [R]).

A :class:`HourlyCube` holds ``values[parameter][site, hour]`` (NaN = missing) whose hour 0 starts at 00:00
Beijing time of the first day, so a natural (Beijing) day is a block of 24 columns. The kernels compute the
daily values of every site and day at once; :mod:`bogda.standards.evaluation` wraps them for long Polars frames.
The validity rules are named constants here; those marked [R] are recalled defaults (HJ 663-2013; HJ 663-2026
not obtained).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from bogda.standards.pollutants import POLLUTANTS, pollutant_code
from bogda.standards.rounding import round_half_even
from bogda.timeutil import beijing_date, day_start_utc, from_epoch

# --- named validity rules ------------------------------------------------------------------------------

MIN_HOURS_DAILY = 20
"""24 h mean: ≥ 20 hourly values in the natural day (GB 3095-2012/2026 Table 4) [V]."""

MIN_HOURS_8H = 6
"""O3 8 h mean: ≥ 6 hourly values in the 8 hours (GB 3095 Table 4) [V]."""

MIN_WINDOWS_MDA8 = 14
"""O3 daily max 8 h: ≥ 14 valid 8 h values among the day's 17 windows, unless the maximum already exceeds the
limit (HJ 663-2013) [R]."""

MDA8_FIRST_WINDOW, MDA8_LAST_WINDOW = 0, 16
"""The day's 8 h windows start 00:00 … 16:00 Beijing (hours 1–8 … 17–24; none reaches into the next day) [R]."""

MIN_HOURS_MAX_1H = 20
"""O3 daily max 1 h value (2012 daily AQI item): valid with ≥ 20 hourly values — bogda default [R]."""

MIN_DAYS_YEAR = 324
"""Annual mean: ≥ 324 daily values per year (GB 3095 Table 4) [V]."""

MIN_DAYS_MONTH, MIN_DAYS_FEBRUARY = 27, 25
"""Monthly: ≥ 27 daily values per month, February ≥ 25 (GB 3095 Table 4) [V]; the same day counts are applied
to the percentile statistics of CO and O3 (HJ 663-2013) [R]."""

PERCENTILES: dict[str, float] = {"a21026": 98, "a21004": 98, "a34002": 95, "a34004": 95, "a21005": 95, "O3_8h": 90}
"""Percentile evaluated per item (HJ 663-2013): SO2/NO2 24 h 98th, PM10/PM2.5 24 h 95th, CO 24 h 95th, O3 daily
max 8 h 90th [R]."""

MEAN_ITEMS = ("a21026", "a21004", "a34002", "a34004")
"""Items with a period (annual) mean (HJ 663-2013) [R]."""

DAILY_COLUMNS = ("a21026", "a21004", "a21005", "a34002", "a34004", "O3_8h", "O3_1h")
"""Columns of the wide daily frame: 24 h means of the five items, O3 daily max 8 h and daily max 1 h."""


def _decimals(code: str) -> int:
    return POLLUTANTS[code].decimals if code in POLLUTANTS else 0


# --- percentile ----------------------------------------------------------------------------------------


def percentile(values: npt.ArrayLike, p: float, axis: int = -1) -> np.ndarray:
    """Percentile of HJ 663 (NaN ignored): k = 1 + (n−1)·p/100, m = X_s + (X_{s+1} − X_s)(k − s) [R].

    That is NumPy's ``linear`` method.

    >>> round(float(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)), 6)  # k = 9.55: 9 + (10 - 9)·0.55
    9.55
    """
    return np.nanpercentile(np.asarray(values, dtype=np.float64), p, axis=axis, method="linear")


# --- dense hourly cube ---------------------------------------------------------------------------------


@dataclass
class HourlyCube:
    """Dense hourly data: ``values[parameter][site, hour]`` (NaN = missing), hour 0 = 00:00 Beijing of day 0."""

    sites: np.ndarray
    first_day: date
    values: dict[str, np.ndarray]

    @property
    def n_days(self) -> int:
        """Number of whole Beijing days covered."""
        return next(iter(self.values.values())).shape[1] // 24

    @property
    def days(self) -> list[date]:
        """Beijing dates of the day axis."""
        return [self.first_day + timedelta(days=i) for i in range(self.n_days)]


def hourly_cube(
    frame: pl.DataFrame,
    *,
    site: str = "site",
    ts: str = "ts",
    parameter: str = "parameter",
    value: str = "value",
) -> HourlyCube:
    """Scatter a long hourly frame into a :class:`HourlyCube` (whole Beijing days, NaN where absent).

    ``ts`` is the UTC (aware, or naive = UTC) start of each hour. Parameters are normalised to HJ 212 codes.
    Duplicate (site, ts, parameter) rows raise ``ValueError`` naming the first one: a daily mean must never
    silently pick one of two values.

    >>> from datetime import datetime, UTC
    >>> f = pl.DataFrame({"site": ["A"], "ts": [datetime(2026, 3, 1, 16, tzinfo=UTC)], "parameter": ["PM2.5"],
    ...                   "value": [10.0]})
    >>> c = hourly_cube(f)
    >>> c.first_day, c.values["a34004"].shape, int(np.nanargmax(c.values["a34004"]))
    (datetime.date(2026, 3, 2), (1, 24), 0)
    """
    tcol = pl.col(ts)
    if frame.schema[ts].time_zone is None:  # type: ignore[union-attr]
        tcol = tcol.dt.replace_time_zone("UTC")
    f = frame.select(
        pl.col(site).cast(pl.String).alias("site"),
        tcol.dt.epoch("s").alias("t"),
        pl.col(parameter).cast(pl.String).alias("parameter"),
        pl.col(value).cast(pl.Float64).alias("value"),
    )
    bad = f.filter(pl.col("site").is_null() | pl.col("t").is_null() | pl.col("parameter").is_null())
    if bad.height:
        raise ValueError(f"{bad.height} hourly rows without site, time or parameter (first: row {bad.row(0)})")
    names = f["parameter"].unique().to_list()
    keys = sorted({_param_key(p) for p in names})
    param_index = {p: keys.index(_param_key(p)) for p in names}
    sites = np.array(sorted(f["site"].unique().to_list()), dtype=object)
    t_min, t_max = f["t"].min(), f["t"].max()
    first = beijing_date(from_epoch(t_min))  # type: ignore[arg-type]
    last = beijing_date(from_epoch(t_max))  # type: ignore[arg-type]
    n_hours = ((last - first).days + 1) * 24
    t0 = int(day_start_utc(first).timestamp())
    n_sites = len(sites)
    keyed = f.select(
        (
            (
                pl.col("parameter").replace_strict(param_index, return_dtype=pl.Int64) * n_sites
                + pl.col("site").replace_strict({x: k for k, x in enumerate(sites)}, return_dtype=pl.Int64)
            )
            * n_hours
            + (pl.col("t") - t0) // 3600
        ).alias("key"),
        "value",
    )
    if keyed["key"].n_unique() != keyed.height:  # cheap check first; locate the duplicates only when present
        dup = keyed["key"].is_duplicated()
        k = int(keyed.filter(dup)["key"][0])
        p_i, rest = divmod(k, n_sites * n_hours)
        s_i, h_i = divmod(rest, n_hours)
        when = from_epoch(t0 + 3600 * h_i).isoformat()
        raise ValueError(f"{int(dup.sum())} duplicate hourly rows, e.g. site {sites[s_i]} ts {when} {keys[p_i]}")
    cube = np.full((len(keys), n_sites, n_hours), np.nan)
    cube.reshape(-1)[keyed["key"].to_numpy()] = keyed["value"].to_numpy()
    values = {key: cube[n] for n, key in enumerate(keys)}
    return HourlyCube(sites=sites, first_day=first, values=values)


def _param_key(name: str) -> str | None:
    try:
        return pollutant_code(name)
    except KeyError:
        return name


# --- array kernels -------------------------------------------------------------------------------------


def daily_mean_array(x: np.ndarray, min_hours: int = MIN_HOURS_DAILY) -> tuple[np.ndarray, np.ndarray]:
    """Natural-day means of a dense hourly array ``x[site, hour]`` (GB 3095 Table 4: ≥ 20 hours).

    Returns ``(mean[site, day], n_hours[site, day])``; the mean is NaN where fewer than ``min_hours`` hours are
    valid. Not rounded (see :func:`round_half_even`).

    >>> x = np.r_[np.full(20, 10.0), np.full(4, np.nan), np.full(19, 5.0), np.full(5, np.nan)][None, :]
    >>> m, n = daily_mean_array(x)
    >>> m.tolist(), n.tolist()
    ([[10.0, nan]], [[20, 19]])
    """
    s, h = x.shape
    days = x.reshape(s, h // 24, 24)
    ok = np.isfinite(days)
    n = ok.sum(axis=2)
    total = np.where(ok, days, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n >= min_hours, total / np.maximum(n, 1), np.nan)
    return mean, n


def moving_8h_array(x: np.ndarray, min_hours: int = MIN_HOURS_8H) -> tuple[np.ndarray, np.ndarray]:
    """8 h moving mean at each hour t over hours t−7 … t (interval starts), valid with ≥ 6 values (GB 3095).

    Returns ``(mean[site, hour], n[site, hour])``; the first 7 hours only see the hours available in the array.

    >>> m, n = moving_8h_array(np.arange(10, dtype=float)[None, :])
    >>> float(m[0, 7]), float(m[0, 9]), bool(np.isnan(m[0, 4])), int(n[0, 4])
    (3.5, 5.5, True, 5)
    """
    ok = np.isfinite(x)
    csum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(np.where(ok, x, 0.0), axis=1)], axis=1)
    ccnt = np.concatenate([np.zeros((x.shape[0], 1), dtype=np.int64), np.cumsum(ok, axis=1)], axis=1)
    lo = np.maximum(np.arange(x.shape[1]) - 7, 0)
    hi = np.arange(x.shape[1]) + 1
    total = csum[:, hi] - csum[:, lo]
    n = ccnt[:, hi] - ccnt[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n >= min_hours, total / np.maximum(n, 1), np.nan)
    return mean, n


def daily_max_8h_array(
    x: np.ndarray,
    *,
    min_hours: int = MIN_HOURS_8H,
    min_windows: int = MIN_WINDOWS_MDA8,
    exceed_limit: float | None = 160.0,
    decimals: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """O3 daily maximum 8 h mean (GB 3095 "一个自然日内8小时滑动平均的最大值"; HJ 663 window rules [R]).

    The day's 17 windows start 00:00 … 16:00 Beijing (:data:`MDA8_FIRST_WINDOW` … :data:`MDA8_LAST_WINDOW`). Each
    8 h mean needs ≥ ``min_hours`` values; the day is valid with ≥ ``min_windows`` valid windows, or with fewer
    when the maximum exceeds ``exceed_limit`` (Class-2 8 h limit 160 µg/m³ by default; None disables it).
    The 8 h means are rounded by GB/T 8170 to ``decimals`` before the maximum (rounding is monotone, so this is
    the rounded maximum).

    Returns ``(mda8[site, day], n_windows[site, day])``.

    >>> day = np.full(24, 100.0); day[10:18] = 200.0
    >>> m, n = daily_max_8h_array(day[None, :])
    >>> m.tolist(), n.tolist()
    ([[200.0]], [[17]])
    """
    s, h = x.shape
    d = h // 24
    days = x.reshape(s, d, 24)
    ok = np.isfinite(days)
    first, last = MDA8_FIRST_WINDOW, MDA8_LAST_WINDOW + 1
    # window sums by cumulative sums along the hour axis: window k covers hours k … k+7 of the day
    csum = np.zeros((s, d, 25))
    np.cumsum(np.where(ok, days, 0.0), axis=2, out=csum[:, :, 1:])
    ccnt = np.zeros((s, d, 25), dtype=np.int16)
    np.cumsum(ok, axis=2, out=ccnt[:, :, 1:])
    total = csum[:, :, first + 8 : last + 8] - csum[:, :, first:last]
    n = ccnt[:, :, first + 8 : last + 8] - ccnt[:, :, first:last]
    enough = n >= min_hours
    np.divide(total, n, out=total, where=enough)
    total[~enough] = -np.inf
    mx = total.max(axis=2)
    n_windows = enough.sum(axis=2)
    # GB/T 8170 rounding is monotone, so the rounded maximum is the maximum of the rounded 8 h means
    mx = round_half_even(np.where(n_windows > 0, mx, np.nan), decimals)
    limit_ok = (n_windows > 0) & (mx > exceed_limit) if exceed_limit is not None else np.zeros(mx.shape, bool)
    valid = (n_windows >= min_windows) | limit_ok
    return np.where(valid, mx, np.nan), n_windows


def daily_max_1h_array(x: np.ndarray, min_hours: int = MIN_HOURS_MAX_1H) -> np.ndarray:
    """Daily maximum of hourly values, valid with ≥ ``min_hours`` hours (:data:`MIN_HOURS_MAX_1H` [R]).

    >>> daily_max_1h_array(np.r_[np.arange(24.0), np.full(24, np.nan)][None, :]).tolist()
    [[23.0, nan]]
    """
    s, h = x.shape
    days = x.reshape(s, h // 24, 24)
    n = np.isfinite(days).sum(axis=2)
    mx = np.max(np.where(np.isfinite(days), days, -np.inf), axis=2)
    return np.where(n >= min_hours, mx, np.nan)


def daily_arrays(cube: HourlyCube, *, rounded: bool = True, o3_limit: float | None = 160.0) -> dict[str, np.ndarray]:
    """The daily AQI inputs of every site and day from a cube: 24 h means, ``O3_8h`` and ``O3_1h`` [site, day].

    Daily values are rounded by GB/T 8170 (integers, CO one decimal; HJ 633-2026 4.2.2) when ``rounded``.

    >>> x = np.full((1, 24), 52.4)
    >>> daily_arrays(HourlyCube(np.array(["A"]), date(2026, 3, 1), {"a34004": x}))["a34004"].tolist()
    [[52.0]]
    """
    out: dict[str, np.ndarray] = {}
    for code in ("a21026", "a21004", "a21005", "a34002", "a34004"):
        if code in cube.values:
            m, _ = daily_mean_array(cube.values[code])
            out[code] = round_half_even(m, _decimals(code)) if rounded else m
    if "a05024" in cube.values:
        o3 = cube.values["a05024"]
        out["O3_8h"], _ = daily_max_8h_array(o3, exceed_limit=o3_limit, decimals=0 if rounded else 15)
        out["O3_1h"] = daily_max_1h_array(o3)
    return out


def percentile_rows(x: np.ndarray, p: float) -> np.ndarray:
    """HJ 663 percentile of each row of ``x`` (NaN ignored), vectorised; NaN for a row without values [R].

    k = 1 + (n−1)·p/100 on the row's n sorted valid values; m = X_s + (X_{s+1} − X_s)(k − s).

    >>> percentile_rows(np.array([[1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10], [5, np.nan, np.nan, 1, 3, *[np.nan] * 5]]), 50)
    array([5.5, 3. ])
    """
    xs = np.sort(x, axis=1)  # NaN sorts last
    n = np.isfinite(xs).sum(axis=1)
    k = 1 + (np.maximum(n, 1) - 1) * (p / 100.0)
    s = np.floor(k).astype(np.int64)
    rows = np.arange(x.shape[0])
    lo = xs[rows, s - 1]
    hi = xs[rows, np.minimum(s, np.maximum(n, 1) - 1)]
    out = lo + (hi - lo) * (k - s)
    return np.where(n > 0, out, np.nan)
