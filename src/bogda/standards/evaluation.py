"""Evaluation statistics: data-validity rules, daily values, O3 8 h, period statistics, day counts.

Rules from GB 3095-2012/2026 Table 4 (data validity) [V] and HJ 663-2013 (evaluation) [R, recalled — the named
defaults below make each recalled rule visible and replaceable]. HJ 663-2026 (in force 2026-03-01) was not
obtained; its rules are assumed equal to HJ 663-2013 until read.

Time convention (architecture.md §4): observations carry the UTC **start** of their hour. The natural day is the
Beijing calendar day: the hours starting 00:00 … 23:00 Beijing time (= hours ending 01:00 … 24:00, HJ 663).

Two layers:

* array kernels on a dense hourly cube ``x[site, hour]`` whose hour 0 starts at 00:00 Beijing time of the first
  day, defined in :mod:`bogda.standards.cube` and re-exported here (:class:`HourlyCube`, :func:`hourly_cube`,
  :func:`daily_mean_array`, :func:`moving_8h_array`, :func:`daily_max_8h_array`, :func:`daily_max_1h_array`),
  and the array forms :func:`annual_statistics_arrays`, :func:`annual_evaluation_arrays`;
* Polars wrappers over long frames (``site, ts, parameter, value``): :func:`daily_means`, :func:`o3_8h`,
  :func:`daily_concentrations`, :func:`period_statistics`, :func:`annual_evaluation`, :func:`aggregate_sites`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from bogda.standards.aqi import category
from bogda.standards.cube import (
    DAILY_COLUMNS,
    MDA8_FIRST_WINDOW,
    MDA8_LAST_WINDOW,
    MEAN_ITEMS,
    MIN_DAYS_FEBRUARY,
    MIN_DAYS_MONTH,
    MIN_DAYS_YEAR,
    MIN_HOURS_8H,
    MIN_HOURS_DAILY,
    MIN_HOURS_MAX_1H,
    MIN_WINDOWS_MDA8,
    PERCENTILES,
    HourlyCube,
    _decimals,
    daily_arrays,
    daily_max_1h_array,
    daily_max_8h_array,
    daily_mean_array,
    hourly_cube,
    moving_8h_array,
    percentile,
    percentile_rows,
)
from bogda.standards.limits import limit
from bogda.standards.rounding import round_half_even, round_half_even_expr
from bogda.timeutil import BEIJING_NAME, day_start_utc

__all__ = [
    "DAILY_COLUMNS",
    "MDA8_FIRST_WINDOW",
    "MDA8_LAST_WINDOW",
    "MEAN_ITEMS",
    "MIN_DAYS_FEBRUARY",
    "MIN_DAYS_MONTH",
    "MIN_DAYS_YEAR",
    "MIN_HOURS_8H",
    "MIN_HOURS_DAILY",
    "MIN_HOURS_MAX_1H",
    "MIN_WINDOWS_MDA8",
    "O3_PATHS",
    "PERCENTILES",
    "HourlyCube",
    "aggregate_sites",
    "annual_evaluation",
    "annual_evaluation_arrays",
    "annual_statistics_arrays",
    "area_daily_concentrations",
    "compliance",
    "daily_arrays",
    "daily_concentrations",
    "daily_max_1h_array",
    "daily_max_8h_array",
    "daily_mean_array",
    "daily_means",
    "day_counts",
    "exceedance_days",
    "good_day_ratio",
    "hourly_cube",
    "moving_8h_array",
    "o3_8h",
    "percentile",
    "percentile_rows",
    "period_statistics",
]

# --- frame wrappers ------------------------------------------------------------------------------------


def _long_daily(cube: HourlyCube, arrays: Mapping[str, np.ndarray], counts: Mapping[str, np.ndarray]) -> pl.DataFrame:
    parts = []
    n_sites, n_days = len(cube.sites), cube.n_days
    site_col = np.repeat(cube.sites, n_days)
    day_col = np.tile(np.array(cube.days, dtype="datetime64[D]"), n_sites)
    for key, arr in arrays.items():
        parts.append(
            pl.DataFrame(
                {
                    "site": site_col.astype(str),
                    "date": day_col,
                    "parameter": np.full(n_sites * n_days, key),
                    "value": pl.Series(arr.ravel(), nan_to_null=True),
                    "n": counts[key].ravel().astype(np.int32),
                }
            )
        )
    out = pl.concat(parts) if parts else pl.DataFrame()
    return out.with_columns(pl.col("value").is_not_null().alias("valid"))


def daily_means(
    hourly: pl.DataFrame,
    *,
    min_hours: int = MIN_HOURS_DAILY,
    rounded: bool = True,
    site: str = "site",
    ts: str = "ts",
    parameter: str = "parameter",
    value: str = "value",
) -> pl.DataFrame:
    """Natural-day (Beijing) means per site and parameter from a long hourly frame (GB 3095 Table 4).

    Returns a long frame ``site, date, parameter, value, n, valid``: ``n`` is the number of valid hours,
    ``value`` is null when ``n < min_hours``; values are rounded by GB/T 8170 when ``rounded``
    (HJ 633-2026 4.2.2: integers, CO one decimal). Every site-day of the covered range appears.

    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 3, 1, 16, tzinfo=UTC)  # 00:00 Beijing, 2026-03-02
    >>> f = pl.DataFrame({"site": "A", "ts": [t0 + timedelta(hours=i) for i in range(24)],
    ...                   "parameter": "a21005", "value": [0.85] * 12 + [0.95] * 12})
    >>> daily_means(f).select("date", "value", "n").row(0)
    (datetime.date(2026, 3, 2), 0.9, 24)
    """
    cube = hourly_cube(hourly, site=site, ts=ts, parameter=parameter, value=value)
    arrays, counts = {}, {}
    for key, x in cube.values.items():
        m, n = daily_mean_array(x, min_hours)
        arrays[key] = round_half_even(m, _decimals(key)) if rounded else m
        counts[key] = n
    return _long_daily(cube, arrays, counts)


def o3_8h(
    hourly: pl.DataFrame,
    *,
    site: str = "site",
    ts: str = "ts",
    parameter: str = "parameter",
    value: str = "value",
    min_hours: int = MIN_HOURS_8H,
) -> pl.DataFrame:
    """O3 8 h moving means (real-time item) from a long hourly frame: ``site, ts, value, n``.

    ``ts`` is the start of the last hour of the window (hours t−7 … t); null when fewer than 6 values.

    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 3, 1, 16, tzinfo=UTC)
    >>> f = pl.DataFrame({"site": "A", "ts": [t0 + timedelta(hours=i) for i in range(8)], "parameter": "O3",
    ...                   "value": [float(v) for v in range(8)]})
    >>> o3_8h(f).filter(pl.col("value").is_not_null())["value"].to_list()
    [2.5, 3.0, 3.5, 4.0, 4.5]
    """
    cube = hourly_cube(hourly, site=site, ts=ts, parameter=parameter, value=value)
    if "a05024" not in cube.values:
        return pl.DataFrame(
            schema={"site": pl.String, "ts": pl.Datetime("us", "UTC"), "value": pl.Float64, "n": pl.Int32}
        )
    m, n = moving_8h_array(cube.values["a05024"], min_hours)
    t0 = day_start_utc(cube.first_day)
    hours = m.shape[1]
    times = pl.datetime_range(t0, t0 + timedelta(hours=hours - 1), "1h", eager=True, time_zone="UTC")
    return pl.DataFrame(
        {
            "site": np.repeat(cube.sites, hours).astype(str),
            "ts": pl.concat([times] * len(cube.sites)),
            "value": pl.Series(m.ravel(), nan_to_null=True),
            "n": n.ravel().astype(np.int32),
        }
    ).filter(pl.col("n") > 0)


def daily_concentrations(
    hourly: pl.DataFrame,
    *,
    rounded: bool = True,
    o3_limit: float | None = 160.0,
    site: str = "site",
    ts: str = "ts",
    parameter: str = "parameter",
    value: str = "value",
) -> pl.DataFrame:
    """Wide daily frame ready for :func:`bogda.standards.aqi.aqi_daily`: ``site, date, ts`` (the day's UTC start)
    and the columns of :data:`DAILY_COLUMNS` that the data allow (HJ 633-2026 4.2.3; HJ 663).

    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 3, 1, 16, tzinfo=UTC)
    >>> f = pl.DataFrame({"site": "A", "ts": [t0 + timedelta(hours=i) for i in range(24)],
    ...                   "parameter": "PM2.5", "value": 52.0})
    >>> daily_concentrations(f).select("date", "a34004").row(0)
    (datetime.date(2026, 3, 2), 52.0)
    """
    cube = hourly_cube(hourly, site=site, ts=ts, parameter=parameter, value=value)
    arrays = daily_arrays(cube, rounded=rounded, o3_limit=o3_limit)
    n_sites, n_days = len(cube.sites), cube.n_days
    cols: dict[str, object] = {
        "site": np.repeat(cube.sites, n_days).astype(str),
        "date": np.tile(np.array(cube.days, dtype="datetime64[D]"), n_sites),
    }
    for k, arr in arrays.items():
        cols[k] = pl.Series(k, arr.ravel(), nan_to_null=True)
    out = pl.DataFrame(cols)
    return out.with_columns(
        pl.col("date")
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone(BEIJING_NAME)
        .dt.convert_time_zone("UTC")
        .alias("ts")
    )


def aggregate_sites(
    frame: pl.DataFrame,
    area_of: Mapping[str, str] | pl.DataFrame,
    *,
    site: str = "site",
    keys: Sequence[str] = ("ts", "parameter"),
    value: str = "value",
    area: str = "area",
) -> pl.DataFrame:
    """Station → county → prefecture: arithmetic mean of the area's stations per time step and parameter [R].

    Averages concentrations, never AQIs (standards.md §3, §8); compute the area AQI from the result. Stations
    without a value at a time step are left out of that step's mean; ``n_sites`` counts the ones used.
    ``area_of`` maps site → area (or is a frame with columns ``site`` and ``area``); apply twice for
    county → prefecture, or map every station to the prefecture directly (the official city value is the mean of
    all its evaluation stations).

    >>> f = pl.DataFrame({"site": ["A", "B", "C"], "ts": [1, 1, 1], "parameter": "PM2.5", "value": [10.0, 20.0, None]})
    >>> aggregate_sites(f, {"A": "X", "B": "X", "C": "X"}).select("area", "value", "n_sites").row(0)
    ('X', 15.0, 2)
    """
    mapping = (
        area_of
        if isinstance(area_of, pl.DataFrame)
        else pl.DataFrame({site: list(area_of), area: list(area_of.values())})
    )
    joined = frame.join(mapping.select(pl.col(site).cast(frame.schema[site]), pl.col(area)), on=site, how="inner")
    return (
        joined.group_by([area, *keys])
        .agg(pl.col(value).mean().alias(value), pl.col(value).count().alias("n_sites"))
        .sort([area, *keys])
    )


# --- period statistics and evaluation ------------------------------------------------------------------


def _period_expr(period: str) -> pl.Expr:
    """Integer period key (year, or year·100 + month, or 0 for the whole span)."""
    if period == "year":
        return pl.col("date").dt.year().cast(pl.Int32)
    if period == "month":
        return pl.col("date").dt.year().cast(pl.Int32) * 100 + pl.col("date").dt.month().cast(pl.Int32)
    if period == "all":
        return pl.lit(0, pl.Int32)
    raise ValueError(f"period must be 'year', 'month' or 'all', not {period!r}")


def _period_label(period: str) -> pl.Expr:
    """Display form of the integer period key: ``2025``, ``2025-02`` or ``all``."""
    if period == "year":
        return pl.col("period").cast(pl.String)
    if period == "month":
        return pl.format("{}-{}", pl.col("period") // 100, (pl.col("period") % 100).cast(pl.String).str.zfill(2))
    return pl.lit("all")


def period_statistics(
    daily: pl.DataFrame,
    *,
    period: str = "year",
    dust_deducted: bool = False,
    dust: str = "dust_affected",
    site: str = "site",
) -> pl.DataFrame:
    """Period statistics per site and item from a wide daily frame (HJ 663-2013 [R]; validity GB 3095 Table 4).

    For each item of :data:`DAILY_COLUMNS` present (O3_1h excluded): ``n_days``, ``mean`` (SO2, NO2, PM10, PM2.5),
    ``percentile`` (:data:`PERCENTILES`) and ``valid``: a year needs ≥ 324 days and ≥ 27 in every month
    (February ≥ 25); a month ≥ 27 (25). Statistics are rounded by GB/T 8170 (CO one decimal).

    ``dust_deducted``: drop PM10/PM2.5 values of days whose ``dust`` column is true (环办监测〔2016〕120号: sand/dust
    days are deducted for assessment and ranking). The day-level rule is [R] and pluggable via that column.

    >>> import datetime as dt
    >>> days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    >>> d = pl.DataFrame({"site": "A", "date": days, "a34004": [float(i % 50) for i in range(365)]})
    >>> period_statistics(d).select("parameter", "n_days", "mean", "percentile", "valid").row(0)
    ('a34004', 365, 24.0, 47.0, True)
    """
    items = [c for c in DAILY_COLUMNS if c in daily.columns and c != "O3_1h"]
    base = daily
    if dust_deducted and dust in daily.columns:
        base = daily.with_columns(
            [pl.when(pl.col(dust)).then(None).otherwise(pl.col(c)).alias(c) for c in items if c in ("a34002", "a34004")]
        )
    keyed = base.select(
        site,
        _period_expr(period).alias("period"),
        (pl.col("date").dt.year().cast(pl.Int32) * 100 + pl.col("date").dt.month().cast(pl.Int32)).alias("_m"),
        *items,
    )
    long = keyed.unpivot(index=[site, "period", "_m"], variable_name="parameter", value_name="value").drop_nulls(
        "value"
    )
    month_counts = long.group_by(site, "period", "parameter", "_m").agg(pl.len().alias("n"))
    month_ok = month_counts.group_by(site, "period", "parameter").agg(
        (pl.col("n") >= pl.when(pl.col("_m") % 100 == 2).then(MIN_DAYS_FEBRUARY).otherwise(MIN_DAYS_MONTH))
        .all()
        .alias("m_ok"),
        pl.len().alias("n_months"),
    )
    stats = []
    for item in items:
        part = long.filter(pl.col("parameter") == item)
        p = PERCENTILES.get(item)
        aggs = [pl.len().alias("n_days")]
        aggs.append(
            pl.col("value").mean().alias("mean") if item in MEAN_ITEMS else pl.lit(None, pl.Float64).alias("mean")
        )
        aggs.append(
            pl.col("value").quantile(p / 100, "linear").alias("percentile")
            if p
            else pl.lit(None, pl.Float64).alias("percentile")
        )
        aggs.append(pl.lit(p, pl.Float64).alias("p"))
        stats.append(part.group_by(site, "period", "parameter").agg(aggs))
    if not stats:
        return pl.DataFrame()
    out = pl.concat(stats).join(month_ok, on=[site, "period", "parameter"], how="left")
    if period == "year":
        valid = (pl.col("n_days") >= MIN_DAYS_YEAR) & pl.col("m_ok") & (pl.col("n_months") == 12)
    elif period == "month":
        valid = pl.col("m_ok")
    else:
        valid = pl.lit(True)
    dec = pl.col("parameter").replace_strict({"a21005": 1}, default=0, return_dtype=pl.Int64)
    return (
        out.with_columns(valid.alias("valid"))
        .with_columns(
            pl.when(dec == 1)
            .then(round_half_even_expr(pl.col(c), 1))
            .otherwise(round_half_even_expr(pl.col(c), 0))
            .alias(c)
            for c in ("mean", "percentile")
        )
        .drop("m_ok", "n_months")
        .sort(site, "period", "parameter")
        .with_columns(_period_label(period).alias("period"))
    )


_LIMIT_OF = {
    ("a21026", "mean"): ("annual",),
    ("a21004", "mean"): ("annual",),
    ("a34002", "mean"): ("annual",),
    ("a34004", "mean"): ("annual",),
    ("a21026", "percentile"): ("24h",),
    ("a21004", "percentile"): ("24h",),
    ("a34002", "percentile"): ("24h",),
    ("a34004", "percentile"): ("24h",),
    ("a21005", "percentile"): ("24h",),
    ("O3_8h", "percentile"): ("8h",),
}


def compliance(stats: pl.DataFrame, *, stage: str = "2026", area_class: int = 2) -> pl.DataFrame:
    """Compare period statistics with GB 3095 limits: one row per (site, period, parameter, statistic).

    Columns added: ``limit``, ``compliant`` (rounded statistic ≤ limit), ``exceedance_multiple`` ((C − S)/S,
    0 when compliant). Annual means → annual limits; percentiles → 24 h limits (O3: 8 h limit) (HJ 663 [R]).

    >>> s = pl.DataFrame({"site": "A", "period": "2025", "parameter": "a34004", "n_days": 365, "mean": 36.0,
    ...                   "percentile": 70.0, "p": 95.0, "valid": True})
    >>> compliance(s, stage="2012").select("statistic", "limit", "compliant").rows()
    [('mean', 35.0, False), ('percentile', 75.0, True)]
    """
    long = stats.unpivot(
        index=[c for c in stats.columns if c not in ("mean", "percentile")],
        on=["mean", "percentile"],
        variable_name="statistic",
        value_name="value",
    ).drop_nulls("value")
    lim = {(p, s): limit("O3" if p == "O3_8h" else p, avg[0], stage, area_class) for (p, s), avg in _LIMIT_OF.items()}
    lim_frame = pl.DataFrame(
        {"parameter": [k[0] for k in lim], "statistic": [k[1] for k in lim], "limit": list(lim.values())}
    )
    out = long.join(lim_frame, on=["parameter", "statistic"], how="inner")
    return out.with_columns(
        (pl.col("value") <= pl.col("limit")).alias("compliant"),
        ((pl.col("value") - pl.col("limit")).clip(lower_bound=0) / pl.col("limit")).alias("exceedance_multiple"),
    ).sort([c for c in ("site", "period", "parameter", "statistic") if c in out.columns])


def day_counts(daily_aqi: pl.DataFrame, *, period: str = "year", site: str = "site", aqi: str = "aqi") -> pl.DataFrame:
    """Good-day ratio and days per category per site and period (HJ 663 / standards.md §4).

    ``good_day_ratio`` = days with AQI ≤ 100 / days with a valid AQI × 100 [%]; ``heavy_days`` = AQI > 200
    (重度及以上), ``severe_days`` = AQI > 300; ``days_level_1`` … ``days_level_6``.

    >>> import datetime as dt
    >>> days = [dt.date(2025, 1, i) for i in (1, 2, 3, 4)]
    >>> d = pl.DataFrame({"site": "A", "date": days, "aqi": [40, 120, 250, None]})
    >>> day_counts(d).select("valid_days", "good_days", "good_day_ratio", "heavy_days", "days_level_5").row(0)
    (3, 1, 33.33333333333333, 1, 1)
    """
    f = daily_aqi.drop_nulls(aqi).with_columns(
        _period_expr(period).alias("period"),
        pl.col(aqi)
        .map_batches(lambda s: pl.Series(category(s.to_numpy()), dtype=pl.Int8), return_dtype=pl.Int8)
        .alias("_level"),
    )
    return (
        f.group_by(site, "period")
        .agg(
            pl.len().alias("valid_days"),
            (pl.col(aqi) <= 100).sum().alias("good_days"),
            (pl.col(aqi) > 200).sum().alias("heavy_days"),
            (pl.col(aqi) > 300).sum().alias("severe_days"),
            *[(pl.col("_level") == lv).sum().alias(f"days_level_{lv}") for lv in range(1, 7)],
        )
        .with_columns((pl.col("good_days") / pl.col("valid_days") * 100).alias("good_day_ratio"))
        .sort(site, "period")
        .with_columns(_period_label(period).alias("period"))
    )


def good_day_ratio(aqi_values: npt.ArrayLike) -> float:
    """Good-day ratio [%] of a sequence of daily AQIs (NaN = no valid AQI that day, not counted).

    >>> round(good_day_ratio([50, 100, 101, np.nan]), 2)
    66.67
    """
    a = np.asarray(aqi_values, dtype=np.float64)
    valid = np.isfinite(a)
    return float((a[valid] <= 100).sum() / valid.sum() * 100) if valid.any() else float("nan")


def annual_evaluation(
    daily: pl.DataFrame,
    *,
    standard: str = "2026",
    stage: str | None = None,
    area_class: int = 2,
    dust_deducted: bool = False,
    site: str = "site",
) -> dict[str, pl.DataFrame]:
    """Annual evaluation of a wide daily frame (with an ``aqi`` column from :func:`aqi_daily`, or computed here).

    Returns ``{"statistics": …, "compliance": …, "days": …}``: :func:`period_statistics`, :func:`compliance`
    against GB 3095 ``stage`` (default: the one of ``standard``: ``"2012"`` or ``"2026"`` transitional; pass
    ``"2031"`` for the final stage) and :func:`day_counts`. Daily AQI uses HJ 633-``standard``.

    >>> import datetime as dt
    >>> days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    >>> d = pl.DataFrame({"site": "A", "date": days, "a34004": 40.0, "a34002": 80.0})
    >>> ev = annual_evaluation(d, standard="2012")
    >>> ev["compliance"].filter(pl.col("statistic") == "mean").select("parameter", "compliant").rows()
    [('a34002', False), ('a34004', False)]
    >>> ev["days"].select("good_day_ratio").item()
    100.0
    """
    from bogda.standards.aqi import aqi_daily

    if "aqi" not in daily.columns:
        items = {c: daily[c] for c in DAILY_COLUMNS if c in daily.columns}
        daily = daily.with_columns(pl.Series("aqi", aqi_daily(items, standard).aqi, nan_to_null=True))
    stats = period_statistics(daily, period="year", dust_deducted=dust_deducted, site=site)
    return {
        "statistics": stats,
        "compliance": compliance(stats, stage=stage or standard, area_class=area_class),
        "days": day_counts(daily, period="year", site=site),
    }


def exceedance_days(daily: pl.DataFrame, *, stage: str = "2026", area_class: int = 2) -> pl.DataFrame:
    """Per item, whether each day's (rounded) value exceeds its GB 3095 24 h (O3: 8 h) limit.

    >>> import datetime as dt
    >>> d = pl.DataFrame({"site": "A", "date": [dt.date(2026, 3, 1)], "a34004": [61.0], "O3_8h": [150.0]})
    >>> exceedance_days(d).select("exceed_a34004", "exceed_O3_8h").row(0)
    (True, False)
    """
    cols = []
    for c in ("a21026", "a21004", "a21005", "a34002", "a34004", "O3_8h"):
        if c in daily.columns:
            s = limit("O3" if c == "O3_8h" else c, "8h" if c == "O3_8h" else "24h", stage, area_class)
            cols.append((pl.col(c) > s).alias(f"exceed_{c}"))
    return daily.with_columns(cols)


O3_PATHS = ("hourly_mean", "station_mda8")
"""City O3 daily max 8 h: from the city's hourly mean series (default), or the mean of the stations' values [R]."""


def area_daily_concentrations(
    hourly: pl.DataFrame,
    area_of: Mapping[str, str] | pl.DataFrame,
    *,
    o3_path: str = "hourly_mean",
    rounded: bool = True,
) -> pl.DataFrame:
    """Daily AQI inputs of areas (county / prefecture) from station hourly data (standards.md §3 [R]).

    Hourly concentrations are averaged over the area's stations per hour (:func:`aggregate_sites`), then daily
    values are computed as for a station (:func:`daily_concentrations`); the ``site`` column holds the area.
    ``o3_path="station_mda8"`` replaces the O3 daily max 8 h by the mean of the stations' daily values.

    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 3, 1, 16, tzinfo=UTC)
    >>> f = pl.DataFrame({"site": ["A"] * 24 + ["B"] * 24, "ts": [t0 + timedelta(hours=i) for i in range(24)] * 2,
    ...                   "parameter": "PM2.5", "value": [40.0] * 24 + [61.0] * 24})
    >>> area_daily_concentrations(f, {"A": "X", "B": "X"}).select("site", "a34004").row(0)
    ('X', 50.0)
    """
    if o3_path not in O3_PATHS:
        raise ValueError(f"o3_path must be one of {O3_PATHS}, not {o3_path!r}")
    area = aggregate_sites(hourly, area_of, keys=("ts", "parameter")).drop("n_sites").rename({"area": "site"})
    out = daily_concentrations(area, rounded=rounded)
    if o3_path == "station_mda8" and "O3_8h" in out.columns:
        st = daily_concentrations(hourly, rounded=rounded).select("site", "date", "O3_8h")
        mapping = (
            area_of
            if isinstance(area_of, pl.DataFrame)
            else pl.DataFrame({"site": list(area_of), "area": list(area_of.values())})
        )
        o3 = (
            st.join(mapping, on="site")
            .group_by("area", "date")
            .agg(pl.col("O3_8h").mean())
            .with_columns(round_half_even_expr(pl.col("O3_8h"), 0) if rounded else pl.col("O3_8h"))
            .rename({"area": "site"})
        )
        out = out.drop("O3_8h").join(o3, on=["site", "date"], how="left")
    return out


def annual_statistics_arrays(daily: Mapping[str, np.ndarray], days: Sequence[date]) -> dict[str, dict[str, np.ndarray]]:
    """Array form of :func:`period_statistics` for one calendar year: ``daily[item][site, day]`` (NaN = invalid).

    Returns ``{item: {"n_days", "mean", "percentile", "valid"}}`` with the same rules and GB/T 8170 rounding.

    >>> import datetime as dt
    >>> days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    >>> r = annual_statistics_arrays({"a34004": np.array([[float(i % 50) for i in range(365)]])}, days)
    >>> r["a34004"]["mean"].tolist(), r["a34004"]["percentile"].tolist(), r["a34004"]["valid"].tolist()
    ([24.0], [47.0], [True])
    """
    months = np.array([d.month for d in days])
    if len({d.year for d in days}) != 1:
        raise ValueError("annual_statistics_arrays takes the days of one calendar year")
    out: dict[str, dict[str, np.ndarray]] = {}
    for item, x in daily.items():
        if item == "O3_1h":
            continue
        ok = np.isfinite(x)
        n = ok.sum(axis=1)
        month_ok = np.ones(x.shape[0], dtype=bool)
        for m in range(1, 13):
            need = MIN_DAYS_FEBRUARY if m == 2 else MIN_DAYS_MONTH
            month_ok &= ok[:, months == m].sum(axis=1) >= need
        dec = _decimals(item)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(ok, x, 0.0).sum(axis=1) / n
        p = PERCENTILES.get(item)
        out[item] = {
            "n_days": n,
            "mean": round_half_even(mean, dec) if item in MEAN_ITEMS else np.full(len(n), np.nan),
            "percentile": round_half_even(percentile_rows(x, p), dec) if p else np.full(len(n), np.nan),
            "valid": (n >= MIN_DAYS_YEAR) & month_ok,
        }
    return out


def annual_evaluation_arrays(
    daily: Mapping[str, np.ndarray],
    days: Sequence[date],
    aqi: np.ndarray,
    *,
    stage: str = "2026",
    area_class: int = 2,
) -> dict[str, dict[str, np.ndarray]]:
    """Array form of :func:`annual_evaluation` for one year: statistics, compliance and day counts per site.

    ``daily[item][site, day]`` and ``aqi[site, day]`` (NaN = invalid day). Returns the statistics of
    :func:`annual_statistics_arrays` with ``compliant_mean`` / ``compliant_percentile`` added per item
    (GB 3095 ``stage``), and ``{"days": {"valid_days", "good_days", "good_day_ratio", "heavy_days",
    "severe_days", "days_level_1" … "days_level_6"}}``.

    >>> import datetime as dt
    >>> days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    >>> ev = annual_evaluation_arrays({"a34004": np.full((1, 365), 31.0)}, days, np.full((1, 365), 90.0))
    >>> ev["a34004"]["compliant_mean"].tolist(), ev["days"]["good_day_ratio"].tolist()
    ([False], [100.0])
    """
    out = annual_statistics_arrays(daily, days)
    for item, st in out.items():
        for stat in ("mean", "percentile"):
            key = (item, stat)
            if key in _LIMIT_OF:
                lim = limit("O3" if item == "O3_8h" else item, _LIMIT_OF[key][0], stage, area_class)
                st[f"compliant_{stat}"] = np.where(np.isfinite(st[stat]), st[stat] <= lim, False)
    a = np.asarray(aqi, dtype=np.float64)
    ok = np.isfinite(a)
    valid_days = ok.sum(axis=1)
    level = category(a.ravel()).reshape(a.shape)
    d: dict[str, np.ndarray] = {
        "valid_days": valid_days,
        "good_days": (ok & (a <= 100)).sum(axis=1),
        "heavy_days": (ok & (a > 200)).sum(axis=1),
        "severe_days": (ok & (a > 300)).sum(axis=1),
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        d["good_day_ratio"] = d["good_days"] / valid_days * 100
    for lv in range(1, 7):
        d[f"days_level_{lv}"] = (level == lv).sum(axis=1)
    out["days"] = d
    return out
