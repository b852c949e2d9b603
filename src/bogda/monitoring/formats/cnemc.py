"""CNEMC / quotsoft daily files (monitoring.md §2.2): ``date, hour, type, <station codes…>``, hour_label = end."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from bogda.monitoring.formats.common import (
    INDEX,
    MG,
    STATION_CODE,
    UG,
    UNKNOWN_STATION,
    ReadResult,
    Rejection,
    _base_stats,
    _dedupe,
    _dup_lines,
    _finish,
    _rejections,
    _require,
    _table,
    _to_values,
    _ts_from_label,
)

CNEMC_TYPES: dict[str, tuple[str, str]] = {
    "AQI": ("aqi_pub", INDEX),
    "PM2.5": ("a34004", UG),
    "PM2.5_24h": ("a34004.r24", UG),
    "PM10": ("a34002", UG),
    "PM10_24h": ("a34002.r24", UG),
    "SO2": ("a21026", UG),
    "SO2_24h": ("a21026.r24", UG),
    "NO2": ("a21004", UG),
    "NO2_24h": ("a21004.r24", UG),
    "O3": ("a05024", UG),
    "O3_24h": ("a05024.max24", UG),
    "O3_8h": ("a05024.r8d", UG),
    "O3_8h_24h": ("a05024.r8d_max", UG),
    "CO": ("a21005", MG),
    "CO_24h": ("a21005.r24", MG),
}
"""CNEMC ``type`` → (parameter, unit), monitoring.md §2.2.

``aqi_pub`` published real-time AQI; ``<code>.r24`` mean of rows H-23..H; ``a05024.r8d`` O3 8-h mean restarting
each Beijing day; ``a05024.max24`` maximum 1-h O3 over rows H-23..H; ``a05024.r8d_max`` running maximum of O3_8h
over the day so far. Only the 1-h codes feed statistics; the others are stored for comparison.
"""

_CNEMC_KEYS = ("date", "hour", "type")


# ---------------------------------------------------------------------------------------------------- CNEMC


def read_cnemc(
    src: str | Path | bytes,
    *,
    name: str | None = None,
    known_codes: Iterable[str] | None = None,
    register_unknown: bool = False,
) -> ReadResult:
    """Read a CNEMC / quotsoft daily file (``date, hour, type, <station codes…>``), monitoring.md §2.2.

    Concatenated daily files are accepted (repeated headers skipped). Each cell is text; empty = missing; no
    flags are published. Hour convention: ``hour_label = end`` — row (D, H) is the mean over [H-1:00, H:00)
    Beijing time, so ``ts = D H:00 Beijing - 1 h`` (H = 0 belongs to Beijing day D-1).

    Parameters
    ----------
    src : path or bytes
        The file, plain or gzip, UTF-8 (BOM or not) or GB18030.
    name : str, optional
        File name for rejections when ``src`` is bytes.
    known_codes : iterable of str, optional
        Registered station codes. When given, a column of any other code is rejected with its reason unless
        ``register_unknown`` (monitoring.md §2.4); any ``[A-Za-z0-9_.-]{1,32}`` code is first-class.

    Returns
    -------
    ReadResult
        Long frame (units µg/m³, CO mg/m³, AQI "1"), rejections, the station columns in ``sites``,
        ``incomplete_row_sets`` (hours lacking some of the 15 types).

    Raises
    ------
    FileRefused
        No ``date, hour, type`` header.
    """
    t0 = time.perf_counter()
    table, file = _table(src, name)
    _require(table, file, _CNEMC_KEYS, "CNEMC")
    known = set(known_codes) if known_codes is not None else None
    rejected = list(table.rejected)
    sites: list[str] = []
    for col in table.header:
        if col in _CNEMC_KEYS:
            continue
        reason = kind = None
        if col in table.duplicate_columns:
            reason = "duplicate station column"
        elif not STATION_CODE.match(col):
            reason = "station code must match [A-Za-z0-9_.-]{1,32}"
        elif known is not None and col not in known and not register_unknown:
            reason = "unknown station code (not registered; use --register-unknown)"
            kind = UNKNOWN_STATION
        if reason:
            rejected.append(Rejection(file, table.header_line, col, reason, kind=kind))
        else:
            sites.append(col)

    df = table.frame.with_columns(
        pl.when(pl.col("date").str.contains(r"^\d{8}$"))
        .then(pl.col("date").str.strptime(pl.Date, "%Y%m%d", strict=False))
        .alias("_date"),
        pl.when(pl.col("hour").str.contains(r"^\d{1,2}$"))
        .then(pl.col("hour").cast(pl.Int32, strict=False))
        .alias("_hour"),
    )
    reason = (
        pl.when(pl.col("_date").is_null())
        .then(pl.format("bad date '{}'", pl.col("date").fill_null("")))
        .when(pl.col("_hour").is_null() | (pl.col("_hour") > 23))
        .then(pl.format("bad hour '{}'", pl.col("hour").fill_null("")))
        .when(~pl.col("type").is_in(list(CNEMC_TYPES)) | pl.col("type").is_null())
        .then(pl.format("unknown type '{}'", pl.col("type").fill_null("")))
    )
    column = (
        pl.when(pl.col("_date").is_null())
        .then(pl.lit("date"))
        .when(pl.col("_hour").is_null() | (pl.col("_hour") > 23))
        .then(pl.lit("hour"))
        .otherwise(pl.lit("type"))
    )
    df = df.with_columns(reason.alias("_reason"), column.alias("_rcol"))
    bad = df.filter(pl.col("_reason").is_not_null())
    rejected += _rejections(bad, file, pl.col("_reason"), pl.col("_rcol"), None)
    good = df.filter(pl.col("_reason").is_null()).with_columns(
        _ts_from_label(
            pl.col("_date").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("_hour")), "hour", "end"
        ).alias("ts")
    )

    long = good.select(["_line", "ts", "type", *sites]).unpivot(
        on=sites, index=["_line", "ts", "type"], variable_name="site_code", value_name="raw"
    )
    n_cells = long.height
    long = long.filter(pl.col("raw").is_not_null())
    n_nonempty = long.height
    long = long.with_columns(
        pl.col("type")
        .replace_strict({k: v[0] for k, v in CNEMC_TYPES.items()}, return_dtype=pl.String)
        .alias("parameter"),
        pl.col("type").replace_strict({k: v[1] for k, v in CNEMC_TYPES.items()}, return_dtype=pl.String).alias("unit"),
        pl.col("site_code").alias("_column"),
    )
    long, bad_cells = _to_values(long, file)
    rejected += bad_cells
    long, dup_rejected, n_identical = _dedupe(long, file, _dup_lines(good, ["_date", "_hour", "type"]))
    rejected += dup_rejected
    frame = _finish(long, "hour")

    sets = good.group_by("_date", "_hour", "ts").agg(pl.col("type").unique().sort().alias("types"))
    incomplete = (
        sets.filter(pl.col("types").list.len() < len(CNEMC_TYPES))
        .sort("ts")
        .select(
            pl.col("_date").alias("date"),
            pl.col("_hour").alias("hour"),
            "ts",
            "types",
            pl.col("types").list.len().alias("n_types"),
        )
    )
    stats = _base_stats(table, t0)
    stats.update(
        labels=float(sets.height),
        cells=float(n_cells),
        nonempty_cells=float(n_nonempty),
        empty_cells=float(n_cells - n_nonempty),
        values=float(frame.height),
        rejected=float(len(rejected)),
        identical_duplicates=float(n_identical),
        incomplete_row_sets=float(incomplete.height),
    )
    stats["seconds"] = time.perf_counter() - t0
    feed = (
        good.select("ts", pl.col("type").replace_strict({k: v[0] for k, v in CNEMC_TYPES.items()}).alias("parameter"))
        .unique()
        .sort("ts", "parameter")
    )
    return ReadResult(frame, rejected, "cnemc", file, "end", tuple(sites), incomplete, None, stats, feed)
