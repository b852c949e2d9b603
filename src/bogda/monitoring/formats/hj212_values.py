"""HJ 212 air (ST 22) and water (ST 21) data frames → long frame; hours from minute data (monitoring.md §2.3)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import polars as pl

from bogda.monitoring.formats.common import (
    LONG_SCHEMA,
    POLLUTANT_UNITS,
    STATION_CODE,
    UG,
    ReadResult,
    Rejection,
    empty_frame,
)
from bogda.timeutil import as_utc, interval_start, parse_time

# -------------------------------------------------------------------------------------------------- HJ 212


HJ212_CN: dict[str, tuple[str, str]] = {
    "2011": ("rt", "Rtd"),
    "2051": ("min", "Avg"),
    "2061": ("hour", "Avg"),
    "2031": ("day", "Avg"),
}
"""Data CN → (resolution, suffix carrying the value). 2051/2061/2031 DataTime is the interval start."""

HJ212_DEFAULT_UNITS: dict[str, dict[str, str]] = {
    "22": {
        **POLLUTANT_UNITS,
        "a34001": UG,
        "a01001": "°C",
        "a01002": "%",
        "a01006": "kPa",
        "a01007": "m/s",
        "a01008": "°",
    },
    "21": {
        "w01001": "1",
        "w01018": "mg/L",
        "w21003": "mg/L",
        "w21011": "mg/L",
        "w21001": "mg/L",
        "w01012": "mg/L",
        "w01017": "mg/L",
        "w01019": "mg/L",
        "w01009": "mg/L",
        "w01010": "°C",
        "w01014": "µS/cm",
        "w20111": "µg/L",
        "w20115": "µg/L",
        "w20116": "mg/L",
        "w20117": "µg/L",
        "w20119": "µg/L",
        "w20120": "µg/L",
    },
}
"""bogda default units per ST (22 air station, 21 surface water) when the registry is silent (hj212.md §5.4)."""


def read_hj212_values(
    records: Iterable[Mapping[str, Any]],
    *,
    units: Mapping[Any, str] | None = None,
    file: str = "<hj212>",
) -> ReadResult:
    """Map decoded HJ 212 air (ST 22) and water (ST 21) data frames to the long frame (monitoring.md §2.3).

    Parameters
    ----------
    records : iterable of mapping
        One per data frame: ``site_code`` (str), ``cn`` ("2011" | "2051" | "2061" | "2031"), ``data_time``
        (datetime, naive = Beijing, or HJ 212 ``yyyyMMddHHmmss`` text), ``values`` ``{code: {suffix: value}}``
        (values verbatim strings or numbers), optional ``st`` ("22" default, or "21") and ``ref`` (frame id used
        as the rejection's line).
    units : mapping, optional
        Unit per ``(site_code, code)`` or per ``code`` from the registry; else :data:`HJ212_DEFAULT_UNITS`. A
        code with no unit is rejected ("undeclared unit"); no conversion is made (hj212.md §3.7).

    Returns
    -------
    ReadResult
        ``ts`` = DataTime as interval start (``rt`` for 2011 = sampling moment), ``value`` from ``Avg`` (2011:
        ``Rtd``), ``source_flag`` = the ``Flag`` suffix verbatim (N normal; 2005 air stations 3 normal).
    """
    t0 = time.perf_counter()
    rows: list[tuple[str, datetime, str, float, str, str, str | None]] = []
    rejected: list[Rejection] = []
    resolutions: set[str] = set()
    sites: list[str] = []
    units = units or {}
    for i, rec in enumerate(records, start=1):
        ref = rec.get("ref", i)
        line = int(ref) if isinstance(ref, int) else i
        site = str(rec.get("site_code") or "")
        cn = str(rec.get("cn") or "")
        st = str(rec.get("st") or "22")
        if not STATION_CODE.match(site):
            rejected.append(Rejection(file, line, "site_code", f"bad site code '{site}'"))
            continue
        if site not in sites:
            sites.append(site)
        if cn not in HJ212_CN:
            rejected.append(Rejection(file, line, "CN", f"CN {cn} carries no monitoring values"))
            continue
        resolution, suffix = HJ212_CN[cn]
        try:
            raw_time = rec.get("data_time")
            label = parse_time(raw_time) if isinstance(raw_time, str) else as_utc(raw_time)  # type: ignore[arg-type]
            ts = label if resolution == "rt" else interval_start(label, resolution, labelled_by="start")
        except (TypeError, ValueError, AttributeError) as exc:
            rejected.append(Rejection(file, line, "DataTime", f"bad DataTime: {exc}", str(rec.get("data_time"))))
            continue
        defaults = HJ212_DEFAULT_UNITS.get(st, {})
        for code, sufs in (rec.get("values") or {}).items():
            raw = sufs.get(suffix)
            if raw is None:
                rejected.append(Rejection(file, line, code, f"no -{suffix} value for CN {cn}"))
                continue
            try:
                value = float(raw)
            except (TypeError, ValueError):
                rejected.append(Rejection(file, line, code, f"non-numeric value '{raw}'", str(raw)))
                continue
            if value != value or value in (float("inf"), float("-inf")):
                rejected.append(Rejection(file, line, code, f"non-numeric value '{raw}'", str(raw)))
                continue
            unit = units.get((site, code)) or units.get(code) or defaults.get(code)
            if unit is None:
                rejected.append(Rejection(file, line, code, "undeclared unit", str(raw)))
                continue
            flag = sufs.get("Flag")
            rows.append((site, ts, code, value, resolution, unit, None if flag is None else str(flag)))
            resolutions.add(resolution)
    frame = pl.DataFrame(rows, schema=list(LONG_SCHEMA.items()), orient="row") if rows else empty_frame()
    stats = {"values": float(frame.height), "rejected": float(len(rejected)), "seconds": time.perf_counter() - t0}
    return ReadResult(frame, rejected, "hj212", file, "start", tuple(sites), None, None, stats)


# ------------------------------------------------------------------------------------- minute → hour


def hours_from_minutes(
    minutes: pl.DataFrame,
    hours: pl.DataFrame | None = None,
    *,
    min_valid_minutes: int = 45,
    interval_minutes: int | None = None,
) -> pl.DataFrame:
    """Hourly values from HJ 212 minute data (CN 2051) where no CN 2061 hour exists (monitoring.md §2.3).

    GB 3095-2012 §7 (data validity): an hourly mean needs at least 45 minutes of valid data in the hour. A minute
    value is valid when its source flag is absent or normal (``N``; 2005 air ``3``); each covers
    ``interval_minutes`` (the device's MinInterval; default: the smallest step between consecutive values of the
    series, at most 60).

    Parameters
    ----------
    minutes : pl.DataFrame
        Long frame of ``resolution == "min"`` values.
    hours : pl.DataFrame, optional
        Hourly values already received (CN 2061); those (site, parameter, hour) are not derived again.

    Returns
    -------
    pl.DataFrame
        Long frame (:data:`LONG_SCHEMA`) of derived hours: mean of the valid values, ``source_flag = "N"``.
    """
    mins = minutes.filter(pl.col("resolution") == "min")
    if mins.height == 0:
        return empty_frame()
    valid = pl.col("source_flag").is_null() | pl.col("source_flag").is_in(["N", "3"])
    key = ["site_code", "parameter"]
    mins = mins.sort(*key, "ts")
    if interval_minutes is None:
        step = (pl.col("ts") - pl.col("ts").shift(1)).over(key).dt.total_minutes()
        mins = mins.with_columns(step.alias("_step"))
        mins = mins.with_columns(
            pl.col("_step").filter(pl.col("_step") > 0).min().over(key).fill_null(1).clip(1, 60).alias("_interval")
        )
    else:
        mins = mins.with_columns(pl.lit(interval_minutes).alias("_interval"))
    agg = (
        mins.filter(valid)
        .with_columns(pl.col("ts").dt.truncate("1h").alias("_hour"))
        .group_by(*key, "_hour")
        .agg(
            pl.col("value").mean().alias("value"),
            pl.col("unit").first(),
            (pl.col("ts").n_unique() * pl.col("_interval").first()).alias("_covered"),
        )
        .filter(pl.col("_covered") >= min_valid_minutes)
        .rename({"_hour": "ts"})
    )
    if hours is not None and hours.height:
        have = hours.filter(pl.col("resolution") == "hour").select(*key, "ts").unique()
        agg = agg.join(have, on=[*key, "ts"], how="anti")
    return (
        agg.with_columns(pl.lit("hour").alias("resolution"), pl.lit("N").alias("source_flag"))
        .select(list(LONG_SCHEMA))
        .sort(*key, "ts")
    )
