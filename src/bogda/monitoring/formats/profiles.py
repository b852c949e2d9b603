"""Other layouts (monitoring.md §2.3): pm25.in-style hourly, aqistudy daily city, PRSA Beijing hourly."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from bogda.monitoring.formats.common import (
    _UNIT_ALIASES,
    _UNIT_FACTORS,
    INDEX,
    MG,
    POLLUTANTS,
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
    _wide_to_long,
    convert_unit,
)
from bogda.monitoring.formats.stations import _name_map, station_base_name

PM25IN_COLUMNS: dict[str, tuple[str, str]] = {
    "AQI": ("aqi_pub", INDEX),
    "PM2.5": ("a34004", UG),
    "PM10": ("a34002", UG),
    "CO": ("a21005", MG),
    "NO2": ("a21004", UG),
    "O3_1h": ("a05024", UG),
    "O3_8h": ("a05024.r8d", UG),
    "SO2": ("a21026", UG),
}
"""pm25.in-style hourly column → (parameter, unit)."""

AQISTUDY_COLUMNS: dict[str, tuple[str, str]] = {
    "aqi": ("aqi_pub", INDEX),
    "pm25": ("a34004", UG),
    "pm10": ("a34002", UG),
    "so2": ("a21026", UG),
    "no2": ("a21004", UG),
    "co": ("a21005", MG),
    "o3": ("a05024.mda8", UG),
}
"""aqistudy daily column → (parameter, unit). Its ``o3`` is the daily maximum 8-h mean (``a05024.mda8``) and its
``aqi`` is not the HJ 633 daily AQI (monitoring.md §7.8), hence ``aqi_pub``."""

AQISTUDY_PLACES: dict[str, str] = {"昌吉州": "652300", "乌鲁木齐": "650100", "石河子": "659001", "五家渠": "659004"}
"""aqistudy city → place code (adcode); Urumqi, Shihezi and Wujiaqu are external ``kind=special`` places."""

PRSA_STATIONS: dict[str, str] = {
    "Aotizhongxin": "1011A",
    "Changping": "1010A",
    "Dingling": "1002A",
    "Dongsi": "1003A",
    "Guanyuan": "1006A",
    "Gucheng": "1012A",
    "Huairou": "1009A",
    "Nongzhanguan": "1005A",
    "Shunyi": "1008A",
    "Tiantan": "1004A",
    "Wanliu": "1007A",
    "Wanshouxigong": "1001A",
}
"""PRSA (UCI 501) station name → CNEMC code, from the national station list."""

PRSA_COLUMNS: dict[str, tuple[str, str]] = {
    "PM2.5": ("a34004", UG),
    "PM10": ("a34002", UG),
    "SO2": ("a21026", UG),
    "NO2": ("a21004", UG),
    "CO": ("a21005", MG),
    "O3": ("a05024", UG),
    "TEMP": ("a01001", "°C"),
    "PRES": ("a01006", "hPa"),
    "WSPM": ("a01007", "m/s"),
    "DEWP": ("dewpoint", "°C"),
    "RAIN": ("precipitation", "mm"),
}
"""PRSA column → (parameter, canonical unit). Dew point and rain have no HJ 212-2017 code: plain names."""

PRSA_UNITS: dict[str, str] = {
    "PM2.5": UG,
    "PM10": UG,
    "SO2": UG,
    "NO2": UG,
    "CO": UG,
    "O3": UG,
    "TEMP": "°C",
    "PRES": "hPa",
    "WSPM": "m/s",
    "DEWP": "°C",
    "RAIN": "mm",
}
"""Units the PRSA files are written in (their documentation): **CO in µg/m³**, converted to mg/m³ on reading."""

COMPASS_16: dict[str, float] = {
    d: i * 22.5
    for i, d in enumerate(
        ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]
    )
}
"""16-point compass → wind direction [°] (a01008)."""


# ------------------------------------------------------------------------------------------ pm25.in style


def read_pm25in(
    src: str | Path | bytes,
    stations: pl.DataFrame | Mapping[tuple[str, str], str] | None,
    *,
    name: str | None = None,
) -> ReadResult:
    """Read a pm25.in-style hourly station file (monitoring.md §2.3).

    Columns ``city, Date (YYYYMMDD), Hour (00–23), WatchPoint, AQI, Level, PrimaryPollution, PM2.5, PM10, CO,
    NO2, O3_1h, O3_8h, SO2``. Missing = empty or ``NaN``. Hour convention as CNEMC (``hour_label = end``):
    ``ts = Date Hour:00 Beijing - 1 h``. Units µg/m³, CO mg/m³. Stations are named, not coded: they are matched
    by (city, name without "(对照点)"/"(停运…)") against ``stations`` (a :func:`read_stations` frame or a
    mapping); an unmatched name rejects its rows. ``Level`` and ``PrimaryPollution`` (several names, line breaks
    normalised to ``,``) go to ``attrs``.
    """
    t0 = time.perf_counter()
    table, file = _table(src, name)
    _require(table, file, ("city", "Date", "Hour", "WatchPoint"), "pm25.in")
    rejected = list(table.rejected)
    names = _name_map(stations) if stations is not None else {}
    df = table.frame.with_columns(
        pl.col("WatchPoint").map_elements(station_base_name, return_dtype=pl.String).alias("_base"),
    )
    keys = df.select("city", "_base").unique().iter_rows()
    lookup = {(c, b): names.get((c, b)) for c, b in keys}
    df = df.with_columns(
        pl.struct("city", "_base")
        .map_elements(lambda s: lookup.get((s["city"], s["_base"])), return_dtype=pl.String)
        .alias("site_code"),
        pl.when(pl.col("Date").str.contains(r"^\d{8}$"))
        .then(pl.col("Date").str.strptime(pl.Date, "%Y%m%d", strict=False))
        .alias("_date"),
        pl.when(pl.col("Hour").str.contains(r"^\d{1,2}$"))
        .then(pl.col("Hour").cast(pl.Int32, strict=False))
        .alias("_hour"),
    )
    no_list = "no station list given to map station names" if stations is None else None
    reason = (
        pl.when(pl.col("site_code").is_null())
        .then(pl.lit(no_list) if no_list else pl.format("unknown station '{}' in '{}'", "WatchPoint", "city"))
        .when(pl.col("_date").is_null())
        .then(pl.format("bad date '{}'", pl.col("Date").fill_null("")))
        .when(pl.col("_hour").is_null() | (pl.col("_hour") > 23))
        .then(pl.format("bad hour '{}'", pl.col("Hour").fill_null("")))
    )
    df = df.with_columns(reason.alias("_reason"))
    unknown = pl.when(pl.col("site_code").is_null()).then(pl.lit(None if no_list else UNKNOWN_STATION))
    rejected += _rejections(
        df.filter(pl.col("_reason").is_not_null()), file, pl.col("_reason"), "WatchPoint", None, unknown
    )
    good = df.filter(pl.col("_reason").is_null()).with_columns(
        _ts_from_label(
            pl.col("_date").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("_hour")), "hour", "end"
        ).alias("ts")
    )
    long = _wide_to_long(good, ["_line", "site_code", "ts"], PM25IN_COLUMNS)
    long, bad = _to_values(long, file, missing=("NaN", "nan", "NA"))
    rejected += bad
    long, dup, n_identical = _dedupe(long, file, _dup_lines(good, ["site_code", "ts"]))
    rejected += dup
    attrs = good.select(
        "site_code",
        "ts",
        "city",
        pl.col("WatchPoint").alias("watch_point"),
        pl.col("Level").alias("level") if "Level" in good.columns else pl.lit(None, dtype=pl.String).alias("level"),
        (
            pl.col("PrimaryPollution").str.strip_chars().str.replace_all(r"\s*[\r\n]+\s*", ",")
            if "PrimaryPollution" in good.columns
            else pl.lit(None, dtype=pl.String)
        ).alias("primary_pollution"),
    )
    frame = _finish(long, "hour")
    stats = _base_stats(table, t0)
    stats.update(values=float(frame.height), rejected=float(len(rejected)), identical_duplicates=float(n_identical))
    sites = tuple(sorted(good["site_code"].unique().to_list()))
    present = [v[0] for k, v in PM25IN_COLUMNS.items() if k in good.columns]
    feed = (
        good.select("ts")
        .unique()
        .join(pl.DataFrame({"parameter": present}, schema={"parameter": pl.String}), how="cross")
        .sort("ts", "parameter")
    )
    return ReadResult(frame, rejected, "pm25in", file, "end", sites, None, attrs, stats, feed)


# ----------------------------------------------------------------------------------------- aqistudy daily


def read_aqistudy(
    src: str | Path | bytes, *, name: str | None = None, places: Mapping[str, str] | None = None
) -> ReadResult:
    """Read an aqistudy daily city file (monitoring.md §2.3).

    Columns ``city, date (YYYY-MM-DD), aqi, aqi_range (min~max), quality_level, pm25, pm10, so2, co, no2, o3,
    rank``. One row per city and Beijing day: ``ts`` = 00:00 Beijing of ``date`` (D-1 16:00 UTC), resolution
    ``day``. Daily means in µg/m³, CO mg/m³, ``o3`` the daily maximum 8-h mean (``a05024.mda8``); ``aqi`` as
    ``aqi_pub``. ``site_code`` is the place code of the city (:data:`AQISTUDY_PLACES`, or ``places``).
    ``attrs`` keeps city, aqi_range (and its min/max), quality_level and rank (0 = none → null).
    """
    t0 = time.perf_counter()
    table, file = _table(src, name)
    _require(table, file, ("city", "date"), "aqistudy")
    rejected = list(table.rejected)
    mapping = dict(places or AQISTUDY_PLACES)
    df = table.frame.with_columns(
        pl.col("city").replace_strict(mapping, default=None, return_dtype=pl.String).alias("site_code"),
        pl.col("date").str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias("_date"),
    )
    reason = (
        pl.when(pl.col("site_code").is_null())
        .then(pl.format("unknown city '{}'", pl.col("city").fill_null("")))
        .when(pl.col("_date").is_null())
        .then(pl.format("bad date '{}'", pl.col("date").fill_null("")))
    )
    df = df.with_columns(reason.alias("_reason"))
    unknown = pl.when(pl.col("site_code").is_null()).then(pl.lit(UNKNOWN_STATION))
    rejected += _rejections(df.filter(pl.col("_reason").is_not_null()), file, pl.col("_reason"), "city", None, unknown)
    good = df.filter(pl.col("_reason").is_null()).with_columns(
        _ts_from_label(pl.col("_date").cast(pl.Datetime("us")), "day", "start").alias("ts")
    )
    long = _wide_to_long(good, ["_line", "site_code", "ts"], AQISTUDY_COLUMNS)
    long, bad = _to_values(long, file, missing=("NaN", "nan", "NA", "-", "—"))
    rejected += bad
    long, dup, n_identical = _dedupe(long, file, _dup_lines(good, ["site_code", "ts"]))
    rejected += dup
    opt = {
        c: (pl.col(c) if c in good.columns else pl.lit(None, dtype=pl.String))
        for c in ("aqi_range", "quality_level", "rank")
    }
    attrs = good.select(
        "site_code",
        "ts",
        "city",
        opt["aqi_range"].alias("aqi_range"),
        opt["aqi_range"].str.extract(r"^\s*(\d+(?:\.\d+)?)").cast(pl.Float64, strict=False).alias("aqi_min"),
        opt["aqi_range"].str.extract(r"~\s*(\d+(?:\.\d+)?)").cast(pl.Float64, strict=False).alias("aqi_max"),
        opt["quality_level"].alias("quality_level"),
        opt["rank"].cast(pl.Int64, strict=False).replace(0, None).alias("rank"),
    )
    frame = _finish(long, "day")
    stats = _base_stats(table, t0)
    stats.update(values=float(frame.height), rejected=float(len(rejected)), identical_duplicates=float(n_identical))
    sites = tuple(sorted(good["site_code"].unique().to_list()))
    return ReadResult(frame, rejected, "aqistudy", file, "day", sites, None, attrs, stats)


# -------------------------------------------------------------------------------------------- PRSA Beijing


def _norm_unit(unit: str) -> str:
    return _UNIT_ALIASES.get(unit.strip(), unit.strip())


def read_prsa(
    src: str | Path | bytes,
    *,
    name: str | None = None,
    units: Mapping[str, str] | None = None,
    station_codes: Mapping[str, str] | None = None,
    weather: bool = True,
) -> ReadResult:
    """Read a PRSA Beijing multi-site hourly file (UCI 501; monitoring.md §2.3).

    Columns ``No, year, month, day, hour, PM2.5, PM10, SO2, NO2, CO, O3, TEMP, PRES, DEWP, RAIN, wd, WSPM,
    station``; ``NA`` = missing. Hour convention ``hour_label = start`` (the forecast protocol's day is the rows
    of that date): ``ts = Y-M-D h:00 Beijing``. The files write **CO in µg/m³**; the profile declares it
    (:data:`PRSA_UNITS`) and CO is divided by 1000 to mg/m³. A pollutant column whose unit is not declared in
    ``units`` is not loaded: one rejection per column names it (unit error).

    Parameters
    ----------
    units : mapping, optional
        Column → unit the file is written in; default :data:`PRSA_UNITS`.
    station_codes : mapping, optional
        ``station`` name → code; default :data:`PRSA_STATIONS`.
    weather : bool
        Also load TEMP a01001 [°C], PRES a01006 [hPa], WSPM a01007 [m/s], wd → a01008 [°], DEWP ``dewpoint``
        [°C], RAIN ``precipitation`` [mm].
    """
    t0 = time.perf_counter()
    table, file = _table(src, name)
    _require(table, file, ("year", "month", "day", "hour", "station"), "PRSA")
    rejected = list(table.rejected)
    declared = {k: _norm_unit(v) for k, v in (PRSA_UNITS if units is None else units).items()}
    codes = dict(station_codes or PRSA_STATIONS)
    parts = [pl.col(c).cast(pl.Int32, strict=False).alias(f"_{c}") for c in ("year", "month", "day", "hour")]
    df = table.frame.with_columns(
        *parts, pl.col("station").replace_strict(codes, default=None, return_dtype=pl.String).alias("site_code")
    )
    date_ok = (
        pl.col("_year").is_between(1900, 2200)
        & pl.col("_month").is_between(1, 12)
        & pl.col("_day").is_between(1, 31)
        & pl.col("_hour").is_between(0, 23)
    ).fill_null(False)
    df = df.with_columns(
        pl.when(date_ok)
        .then(pl.format("{}-{}-{}", "_year", "_month", "_day").str.strptime(pl.Date, "%Y-%m-%d", strict=False))
        .alias("_date")
    )
    date_ok = date_ok & pl.col("_date").is_not_null()
    reason = (
        pl.when(pl.col("site_code").is_null())
        .then(pl.format("unknown station '{}'", pl.col("station").fill_null("")))
        .when(~date_ok)
        .then(pl.format("bad date/hour '{}-{}-{} {}'", "year", "month", "day", "hour"))
    )
    df = df.with_columns(reason.alias("_reason"))
    unknown = pl.when(pl.col("site_code").is_null()).then(pl.lit(UNKNOWN_STATION))
    rejected += _rejections(
        df.filter(pl.col("_reason").is_not_null()), file, pl.col("_reason"), "station", None, unknown
    )
    good = df.filter(pl.col("_reason").is_null()).with_columns(
        _ts_from_label(
            pl.col("_date").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("_hour")), "hour", "start"
        ).alias("ts")
    )
    columns: dict[str, tuple[str, str]] = {}
    factors: dict[str, float] = {}
    for col, (param, canon) in PRSA_COLUMNS.items():
        if col not in good.columns or (not weather and param not in POLLUTANTS):
            continue
        unit = declared.get(col)
        if unit is None or (unit != canon and (unit, canon) not in _UNIT_FACTORS):
            n = int(good[col].is_not_null().sum() - good[col].is_in(["NA"]).sum())
            why = "undeclared unit" if unit is None else f"unit {unit} cannot be converted to {canon}"
            rejected.append(Rejection(file, table.header_line, col, f"{why}: {n} values of {col} not loaded"))
            continue
        columns[col] = (param, canon)
        factors[param] = 1.0 if unit == canon else _UNIT_FACTORS[(unit, canon)]
    long = _wide_to_long(good, ["_line", "site_code", "ts"], columns)
    long, bad = _to_values(long, file, missing=("NA", "NaN", "nan"))
    rejected += bad
    if factors and any(f != 1.0 for f in factors.values()):
        factor = pl.col("parameter").replace_strict(factors, return_dtype=pl.Float64)
        long = long.with_columns(convert_unit(pl.col("value"), factor).alias("value"))
    if weather and "wd" in good.columns:
        wd = good.select("_line", "site_code", "ts", pl.col("wd").alias("raw")).filter(
            pl.col("raw").is_not_null() & (pl.col("raw") != "NA")
        )
        wd = wd.with_columns(
            pl.col("raw").replace_strict(COMPASS_16, default=None, return_dtype=pl.Float64).alias("value"),
            pl.lit("a01008").alias("parameter"),
            pl.lit("°").alias("unit"),
            pl.lit("wd").alias("_column"),
        )
        rejected += _rejections(
            wd.filter(pl.col("value").is_null()), file, pl.format("unknown wind direction '{}'", "raw"), "wd", "raw"
        )
        long = pl.concat([long, wd.filter(pl.col("value").is_not_null()).select(long.columns)])
    long, dup, n_identical = _dedupe(long, file, _dup_lines(good, ["site_code", "ts"]))
    rejected += dup
    frame = _finish(long, "hour")
    stats = _base_stats(table, t0)
    stats.update(values=float(frame.height), rejected=float(len(rejected)), identical_duplicates=float(n_identical))
    sites = tuple(sorted(good["site_code"].unique().to_list()))
    return ReadResult(frame, rejected, "prsa", file, "start", sites, None, None, stats)
