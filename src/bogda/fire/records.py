"""Normalised fire detection records: schema, header mapping, value encodings (fire.md §2.1–§2.3).

Every reader maps columns **by name** (fire.md §2.2), decides the sensor per row, normalises times to UTC and
confidence to a class, and returns a :class:`ReadResult`: the detections, the rejected rows (file, line, field,
reason, raw text) and the unmapped columns. Bad rows never stop a file; a bad file raises
:class:`FireFormatError` with a message that says what was found and what was expected.

Detection frame schema (:data:`DETECTION_SCHEMA`)
-------------------------------------------------
=================  ==============  ===============================================================================
column             type            meaning
=================  ==============  ===============================================================================
source_file        str             file name the row came from
line_no            i64             1-based line in the file (JSON: record number; xlsx: sheet row)
product            str             file family: firms_csv, firms_api, firms_archive, firms_json, gis_export,
                                   firms_shapefile (DBF), ahi_wlf, cspp_afimg, fy_table, cn_table
sensor             str             MODIS | VIIRS | AHI | AGRI | MERSI, decided per row (§2.1)
satellite          str             Terra, Aqua, S-NPP, NOAA-20, NOAA-21, Himawari-8/9, FY-4A/4B, FY-3D, or raw
satellite_raw      str             as written
acq_time_utc       datetime[UTC]   acquisition time
date_bjt           date            Beijing date of acq_time_utc: every daily rule uses it
lat, lon           f64 [deg]       WGS-84 pixel centre (never shifted: satellite products are WGS-84, §2.5)
scan_km, track_km  f64 [km]        pixel size along scan / track (nominal when absent; AHI √area)
pixel_area_km2     f64 [km²]
bt_mir_k           f64 [K]         ~3.9 µm brightness temperature (MODIS band 21/22, VIIRS I-4)
bt_tir_k           f64 [K]         ~11 µm brightness temperature (MODIS band 31, VIIRS I-5)
frp_mw             f64 [MW]        fire radiative power; null when the unit is unknown (AHI, FY intensity)
frp_raw, frp_unit  f64, str        as written, and the unit the file states
confidence_raw     str             as written
confidence_class   str             low | nominal | high | null (§2.3)
daynight           str             D | N (AHI/CSPP: solar zenith > 90° → N)
version            str             product version as written
processing         str             NRT | SP (NRT when the version contains "NRT"; AHI/CSPP/FY are NRT)
firms_type         i16             FIRMS archive type: 0 vegetation, 1 volcano, 2 static land source, 3 offshore
persistent_anomaly i16             CSPP ≥ 2.1 persistent-anomaly flag
hot_group          i64             AHI Hot(ID) / NSMC 火区号 (−9999 = none → null)
qf                 i16             AHI quality flag (0 normal, 1 saturated, 2 low confidence)
extra              str             JSON object of the unmapped columns
=================  ==============  ===============================================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from bogda.fire.config import NOMINAL_PIXEL_KM, FireConfig
from bogda.timeutil import BEIJING_NAME

DETECTION_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "line_no": pl.Int64(),
    "product": pl.String(),
    "sensor": pl.String(),
    "satellite": pl.String(),
    "satellite_raw": pl.String(),
    "acq_time_utc": pl.Datetime("us", "UTC"),
    "date_bjt": pl.Date(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "scan_km": pl.Float64(),
    "track_km": pl.Float64(),
    "pixel_area_km2": pl.Float64(),
    "bt_mir_k": pl.Float64(),
    "bt_tir_k": pl.Float64(),
    "frp_mw": pl.Float64(),
    "frp_raw": pl.Float64(),
    "frp_unit": pl.String(),
    "confidence_raw": pl.String(),
    "confidence_class": pl.String(),
    "daynight": pl.String(),
    "version": pl.String(),
    "processing": pl.String(),
    "firms_type": pl.Int16(),
    "persistent_anomaly": pl.Int16(),
    "hot_group": pl.Int64(),
    "qf": pl.Int16(),
    "extra": pl.String(),
}

SUPPORTED_FORMATS = (
    "FIRMS CSV (area API, 24h/48h/7d, yearly archive, GIS/shapefile re-export)",
    "FIRMS download JSON (array of objects)",
    "FIRMS download zip DL_FIRE_* (CSV/JSON/shapefile DBF inside)",
    "shapefile attribute table (.dbf)",
    "Himawari-8/9 AHI L2 WLF CSV",
    "CSPP VIIRS AFIMG ASCII",
    "FY-3D/FY-4 fire-point tables (FPT/FPA/FPB/FBJ TXT) and Chinese fire tables (纬度/经度/火区号…)",
    "FY-3D MERSI-II / FY-4A/4B AGRI fire products in HDF5/netCDF-4 (.HDF, .NC, .h5): point lists or fire masks",
    "straw-burning bulletin lists (xlsx/CSV, via read_bulletin)",
)


class FireFormatError(ValueError):
    """A whole file cannot be read (no lat/lon/time, API error text, unsupported format, ambiguous dates)."""


@dataclass(frozen=True)
class RejectedRow:
    """One row that was kept out of the detections, with the reason (fire.md §6)."""

    file: str
    line: int
    field: str
    reason: str
    raw: str


@dataclass
class ReadResult:
    """Outcome of reading one file."""

    source_file: str
    product: str
    detections: pl.DataFrame
    rejected: list[RejectedRow] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        """Data rows read (= ok + bad; duplicates are counted later, at de-duplication)."""
        return self.detections.height + len(self.rejected)

    def rejected_frame(self) -> pl.DataFrame:
        """The rejected rows as a frame (file, line, field, reason, raw)."""
        return pl.DataFrame(
            [r.__dict__ for r in self.rejected],
            schema={"file": pl.String, "line": pl.Int64, "field": pl.String, "reason": pl.String, "raw": pl.String},
        )


# --------------------------------------------------------------------------------------------------------------
# §2.2 header mapping

_ALIASES: dict[str, tuple[str, ...]] = {
    "lat": ("latitude", "lat", "纬度", "中心纬度"),
    "lon": ("longitude", "lon", "lng", "long", "经度", "中心经度"),
    "acq_date": ("acq_date", "date", "时间", "卫星过境日期", "日期"),
    "acq_time": ("acq_time", "time", "过境时间"),
    "year": ("year",),
    "month": ("month",),
    "day": ("day",),
    "bt_mir": ("brightness", "bright_ti4"),
    "bt_tir": ("bright_t31", "bright_ti5", "bright_1", "bright_t3", "bright_ti"),
    "scan": ("scan",),
    "track": ("track",),
    "satellite": ("satellite", "卫星"),
    "instrument": ("instrument",),
    "version": ("version",),
    "frp": ("frp",),
    "intensity": ("火点强度",),
    "confidence": ("confidence", "reliability", "火点可信度", "可信度"),
    "daynight": ("daynight",),
    "type": ("type",),
    "pixel_area": ("area", "像元面积"),
    "hot_group": ("hot", "火区号"),
    "qf": ("qf",),
    "persistent_anomaly": ("persistent_anomaly",),
    "province": ("省",),
    "city": ("市", "设区市"),
    "county": ("县",),
    "township": ("乡镇",),
}
_ALIAS_TO_CANON = {alias: canon for canon, aliases in _ALIASES.items() for alias in aliases}
_UNIT_RE = re.compile(r"^(.*?)\s*[(（]([^)）]*)[)）]\s*$")


def normalise_header(name: str) -> tuple[str, str | None]:
    """Normalise a column header and return it with its trailing unit, if any (fire.md §2.2).

    Strips a BOM, quotes, a leading ``#``, spaces and leading underscores, lower-cases, and removes a trailing
    ``(unit)``.

    >>> normalise_header('\\ufeff"# FRP(Wm^-2)"')
    ('frp', 'Wm^-2')
    >>> normalise_header("_version")
    ('version', None)
    >>> normalise_header("县(市、区)")
    ('县', '市、区')
    """
    s = name.replace("\ufeff", "").strip().strip("\"'").strip()
    s = s.lstrip("#").strip().lstrip("_").strip()
    unit = None
    m = _UNIT_RE.match(s)
    if m and m.group(1):
        s, unit = m.group(1), m.group(2).strip()
    return s.lower().replace(" ", ""), unit


def map_headers(headers: Sequence[str]) -> tuple[dict[str, int], dict[str, str | None], list[str]]:
    """Map raw headers to canonical names: (canon → column index, canon → unit, unmapped raw headers)."""
    mapping: dict[str, int] = {}
    units: dict[str, str | None] = {}
    unmapped: list[str] = []
    for i, raw in enumerate(headers):
        norm, unit = normalise_header(raw)
        canon = _ALIAS_TO_CANON.get(norm)
        if canon is None or canon in mapping:
            unmapped.append(raw)
            continue
        mapping[canon] = i
        units[canon] = unit
    return mapping, units, unmapped


# --------------------------------------------------------------------------------------------------------------
# §2.3 value encodings

_SATELLITES = {
    "t": "Terra",
    "terra": "Terra",
    "a": "Aqua",
    "aqua": "Aqua",
    "n": "S-NPP",
    "npp": "S-NPP",
    "snpp": "S-NPP",
    "s-npp": "S-NPP",
    "suomi-npp": "S-NPP",
    "suominpp": "S-NPP",
    "n20": "NOAA-20",
    "j1": "NOAA-20",
    "j01": "NOAA-20",
    "noaa-20": "NOAA-20",
    "noaa20": "NOAA-20",
    "n21": "NOAA-21",
    "j2": "NOAA-21",
    "j02": "NOAA-21",
    "noaa-21": "NOAA-21",
    "noaa21": "NOAA-21",
    "h08": "Himawari-8",
    "h8": "Himawari-8",
    "himawari-8": "Himawari-8",
    "h09": "Himawari-9",
    "h9": "Himawari-9",
    "himawari-9": "Himawari-9",
    "fy4a": "FY-4A",
    "fy-4a": "FY-4A",
    "fy4b": "FY-4B",
    "fy-4b": "FY-4B",
    "fy3d": "FY-3D",
    "fy-3d": "FY-3D",
}
SATELLITE_SENSOR = {
    "Terra": "MODIS",
    "Aqua": "MODIS",
    "S-NPP": "VIIRS",
    "NOAA-20": "VIIRS",
    "NOAA-21": "VIIRS",
    "Himawari-8": "AHI",
    "Himawari-9": "AHI",
    "FY-4A": "AGRI",
    "FY-4B": "AGRI",
    "FY-3D": "MERSI",
}
_INSTRUMENTS = {"modis": "MODIS", "viirs": "VIIRS", "ahi": "AHI", "agri": "AGRI", "mersi": "MERSI", "mersi-ii": "MERSI"}
_TEXT_CONFIDENCE = {"l": "low", "low": "low", "n": "nominal", "nominal": "nominal", "h": "high", "high": "high"}


def satellite_name(raw: str | None) -> str | None:
    """Canonical satellite name for a code as written, or None when unknown (fire.md §2.3).

    >>> satellite_name("N20"), satellite_name("T"), satellite_name("j01"), satellite_name("X")
    ('NOAA-20', 'Terra', 'NOAA-20', None)
    """
    if raw is None:
        return None
    return _SATELLITES.get(raw.strip().lower())


def _num(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().cast(pl.Float64, strict=False)


def _present(col: str) -> pl.Expr:
    return pl.col(col).is_not_null() & (pl.col(col).str.strip_chars() != "")


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d", "%Y%m%d")
_SLASH_DATE = r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$"


def _date_order(values: pl.Series, profile_order: str | None) -> str | None:
    """Decide MM/DD vs DD/MM for ``NN/NN/YYYY`` dates; None when the file has none (fire.md §2.3)."""
    parts = values.str.extract_groups(_SLASH_DATE)
    first = parts.struct.field("1").cast(pl.Int32, strict=False)
    second = parts.struct.field("2").cast(pl.Int32, strict=False)
    if first.is_null().all():
        return None
    if profile_order in ("mdy", "dmy"):
        return profile_order
    if (first > 12).any():
        return "dmy"
    if (second > 12).any():
        return "mdy"
    raise FireFormatError(
        "ambiguous date order: dates are written NN/NN/YYYY and no first or second part exceeds 12; "
        "state the order (date_order='mdy' or 'dmy') in the import profile"
    )


def _date_expr(order: str | None) -> pl.Expr:
    s = pl.col("acq_date").str.strip_chars()
    # Excel serial days (1900 date system; 1899-12-30 absorbs Excel's 1900 leap-year bug)
    serial = s.str.extract(r"^(\d{5})(?:\.0+)?$").cast(pl.Int32, strict=False)
    candidates = [s.str.slice(0, 10).str.to_date(f, strict=False) for f in _DATE_FORMATS[:2]]
    candidates += [s.str.to_date(f, strict=False) for f in _DATE_FORMATS[2:]]
    candidates.append(pl.lit(date(1899, 12, 30)) + pl.duration(days=serial))
    if order is not None:
        fmt = "%m/%d/%Y" if order == "mdy" else "%d/%m/%Y"
        candidates.append(s.str.to_date(fmt, strict=False))
    return pl.coalesce(candidates)


def _time_exprs() -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(hour, minute, seconds) from acq_time text: H:MM[:SS[.f]] as written, or 1–4 digits left-padded to HHMM."""
    s = pl.col("acq_time").str.strip_chars()
    colon = s.str.extract_groups(r"^(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?$")
    digits = s.str.extract(r"^(\d{1,4})(?:\.0+)?$").str.zfill(4)
    hour = pl.coalesce(colon.struct.field("1"), digits.str.slice(0, 2)).cast(pl.Int32, strict=False)
    minute = pl.coalesce(colon.struct.field("2"), digits.str.slice(2, 2)).cast(pl.Int32, strict=False)
    sec = colon.struct.field("3").cast(pl.Float64, strict=False).fill_null(0.0)
    return hour, minute, sec


def solar_zenith_deg(when: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Solar zenith angle [deg] (NOAA low-precision formulas, error ≪ 1°: enough to split day from night).

    Parameters
    ----------
    when : ndarray of datetime64 (UTC)
    lat, lon : ndarray [deg]
    """
    t = when.astype("datetime64[s]").astype(np.int64) / 86400.0  # days since 1970-01-01
    doy = (t - np.floor(t / 365.2425) * 365.2425) + 1.0
    hours = (t % 1.0) * 24.0
    g = 2.0 * np.pi / 365.0 * (doy - 1.0 + (hours - 12.0) / 24.0)
    decl = (
        0.006918
        - 0.399912 * np.cos(g)
        + 0.070257 * np.sin(g)
        - 0.006758 * np.cos(2 * g)
        + 0.000907 * np.sin(2 * g)
        - 0.002697 * np.cos(3 * g)
        + 0.00148 * np.sin(3 * g)
    )
    eqtime = 229.18 * (
        0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g) - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g)
    )
    true_solar_min = hours * 60.0 + eqtime + 4.0 * lon
    ha = np.radians(true_solar_min / 4.0 - 180.0)
    phi = np.radians(lat)
    cos_z = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(ha)
    return np.degrees(np.arccos(np.clip(cos_z, -1.0, 1.0)))


@dataclass(frozen=True)
class FileContext:
    """What a reader knows about a file besides its columns."""

    source_file: str
    product: str
    satellite: str | None = None  # from the file name (AHI, CSPP, FY)
    sensor: str | None = None
    acq_time_utc: datetime | None = None  # one time for the whole file (CSPP mid-point, FY start)
    frp_unit: str | None = "MW"
    frp_is_mw: bool = True
    date_order: str | None = None
    daynight_from_sun: bool = False
    default_processing: str = "SP"


def normalise_rows(
    headers: Sequence[str],
    rows: Sequence[Sequence[str | None]] | pl.DataFrame,
    line_nos: Sequence[int],
    ctx: FileContext,
    config: FireConfig | None = None,
) -> ReadResult:
    """Turn a table of text cells into the detection frame (the shared core of every reader).

    Parameters
    ----------
    headers : sequence of str
        Column headers as written (mapped by name, §2.2).
    rows : sequence of sequences of str
        Cells as text; a row with the wrong number of cells is rejected.
    line_nos : sequence of int
        1-based line (record) number of each row.
    ctx : FileContext
    config : FireConfig

    Raises
    ------
    FireFormatError
        When lat, lon or a time source is missing, or dates are ambiguous.
    """
    cfg = config or FireConfig()
    mapping, units, unmapped = map_headers(headers)
    has_time = "acq_date" in mapping or {"year", "month", "day"} <= mapping.keys() or ctx.acq_time_utc is not None
    missing = [n for n in ("lat", "lon") if n not in mapping] + ([] if has_time else ["time"])
    if missing:
        raise FireFormatError(
            f"{ctx.source_file}: missing {', '.join(missing)}; headers found: {list(headers)}; expected aliases: "
            f"lat {_ALIASES['lat']}, lon {_ALIASES['lon']}, date {_ALIASES['acq_date']} or Year+Month+Day"
        )
    width = len(headers)
    rejected: list[RejectedRow] = []
    if isinstance(rows, pl.DataFrame):
        raw = rows  # columns c0…c{width-1} of text and line_no, already width-checked
    else:
        good_rows: list[Sequence[str | None]] = []
        good_lines: list[int] = []
        for row, line in zip(rows, line_nos, strict=True):
            if len(row) != width:
                rejected.append(
                    RejectedRow(ctx.source_file, line, "*", f"expected {width} fields, found {len(row)}", raw_text(row))
                )
                continue
            good_rows.append(row)
            good_lines.append(line)
        cols = list(zip(*good_rows, strict=True)) if good_rows else [() for _ in headers]
        raw = pl.DataFrame(
            {
                **{f"c{i}": [None if v is None else str(v) for v in col] for i, col in enumerate(cols)},
                "line_no": good_lines,
            },
            schema={**{f"c{i}": pl.String for i in range(width)}, "line_no": pl.Int64},
        )
    unmapped_idx = [i for i in range(width) if i not in set(mapping.values())]
    frame = raw.select(
        *[pl.col(f"c{idx}").alias(canon) for canon, idx in mapping.items()],
        *[pl.col(f"c{idx}").alias(f"x{k}") for k, idx in enumerate(unmapped_idx)],
        pl.col("line_no"),
        _raw=pl.concat_str([pl.col(f"c{i}").fill_null("") for i in range(width)], separator=","),
    )
    frame = frame.with_row_index("_row")
    for canon in _ALIASES:
        if canon not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(canon))

    order = _date_order(frame["acq_date"].drop_nulls(), ctx.date_order) if frame.height else None
    hour, minute, sec = _time_exprs()
    date_from_ymd = pl.date(
        _num("year").cast(pl.Int32, strict=False),
        _num("month").cast(pl.Int32, strict=False),
        _num("day").cast(pl.Int32, strict=False),
    )
    the_date = pl.coalesce(_date_expr(order), date_from_ymd)
    frame = frame.with_columns(
        _date=the_date,
        _h=hour,
        _m=minute,
        _s=sec,
        _lat=_num("lat"),
        _lon=_num("lon"),
    )
    if ctx.acq_time_utc is not None:
        fixed = pl.lit(ctx.acq_time_utc).cast(pl.Datetime("us", "UTC"))
        time_expr = pl.when(_present("acq_date") | _present("year")).then(None).otherwise(fixed)
    else:
        time_expr = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    has_clock = _present("acq_time")
    from_fields = (
        pl.col("_date").cast(pl.Datetime("us"))
        + pl.duration(hours=pl.col("_h").fill_null(0), minutes=pl.col("_m").fill_null(0))
        + pl.duration(microseconds=(pl.col("_s") * 1e6).round(0).cast(pl.Int64))
    ).dt.replace_time_zone("UTC")
    if ctx.acq_time_utc is not None:
        frame = frame.with_columns(acq_time_utc=pl.coalesce(from_fields, time_expr))
    else:
        frame = frame.with_columns(acq_time_utc=from_fields)

    # row errors, first reason wins for the `field` column, all reasons are listed
    numeric = ["bt_mir", "bt_tir", "scan", "track", "frp", "intensity", "pixel_area"]
    checks: list[tuple[str, pl.Expr, str]] = [
        ("lat", pl.col("_lat").is_null(), "latitude is missing or not a number"),
        ("lon", pl.col("_lon").is_null(), "longitude is missing or not a number"),
        ("lat", (pl.col("_lat").abs() > 90), "latitude outside [-90, 90]"),
        ("lon", (pl.col("_lon").abs() > 180), "longitude outside [-180, 180]"),
        (
            "acq_date",
            pl.col("_date").is_null() & (_present("acq_date") | _present("year")),
            "date not recognised",
        ),
        (
            "acq_date",
            pl.col("_date").is_null() & ~_present("acq_date") & ~_present("year") & pl.lit(ctx.acq_time_utc is None),
            "date is missing",
        ),
        ("acq_time", has_clock & (pl.col("_h").is_null() | pl.col("_m").is_null()), "time not recognised"),
        ("acq_time", has_clock & (pl.col("_h") > 23), "hour > 23"),
        ("acq_time", has_clock & (pl.col("_m") > 59), "minute > 59"),
    ]
    checks += [(c, _present(c) & _num(c).is_null(), f"{c} is not a number") for c in numeric]
    reason = pl.concat_str(
        [pl.when(cond.fill_null(False)).then(pl.lit(f"{fld}: {msg}")) for fld, cond, msg in checks],
        separator="; ",
        ignore_nulls=True,
    )
    frame = frame.with_columns(_reason=reason)
    bad = frame.filter(pl.col("_reason").is_not_null() & (pl.col("_reason") != ""))
    if bad.height:
        for line, why, text in bad.select("line_no", "_reason", "_raw").iter_rows():
            rejected.append(RejectedRow(ctx.source_file, line, why.split(":", 1)[0], why, text))
    frame = frame.filter(pl.col("_reason").is_null() | (pl.col("_reason") == ""))
    rejected.sort(key=lambda r: r.line)

    norm = {normalise_header(h)[0] for h in headers}
    column_sensor = (
        "VIIRS" if {"bright_ti4", "bright_ti5"} & norm else "MODIS" if {"brightness", "bright_t31"} & norm else None
    )
    detections = _finish(frame, ctx, cfg, units, unmapped, column_sensor)
    warnings: list[str] = []
    unknown = detections.filter(pl.col("satellite").is_null() & pl.col("satellite_raw").is_not_null())
    if unknown.height:
        warnings.append(f"unknown satellite codes kept raw: {sorted(set(unknown['satellite_raw'].to_list()))}")
    if unmapped:
        warnings.append(f"unmapped columns kept in extra: {unmapped}")
    if "acq_time" not in mapping and "year" not in mapping and ctx.acq_time_utc is None:
        warnings.append("no time-of-day column: acquisition times are 00:00 UTC of the stated date")
    detections = detections.with_columns(pl.coalesce("satellite", "satellite_raw").alias("satellite"))
    return ReadResult(ctx.source_file, ctx.product, detections, rejected, unmapped, warnings)


def raw_text(row: Sequence[str | None]) -> str:
    return ",".join("" if v is None else str(v) for v in row)


def _finish(
    frame: pl.DataFrame,
    ctx: FileContext,
    cfg: FireConfig,
    units: Mapping[str, str | None],
    unmapped: list[str],
    column_sensor: str | None,
) -> pl.DataFrame:
    """Derive sensor, satellite, footprint, confidence class and the other canonical columns."""
    sat_raw = pl.coalesce(pl.col("satellite").str.strip_chars(), pl.lit(ctx.satellite, dtype=pl.String))
    sat = sat_raw.str.to_lowercase().replace_strict(_SATELLITES, default=None, return_dtype=pl.String)
    by_instrument = pl.col("instrument").str.strip_chars().str.to_lowercase().replace_strict(_INSTRUMENTS, default=None)
    frame = frame.with_columns(satellite_raw=sat_raw, satellite=sat)
    by_satellite = pl.col("satellite").replace_strict(SATELLITE_SENSOR, default=None, return_dtype=pl.String)
    # §2.1: instrument, else satellite code, else the file's kind, else the columns (`bright_ti4` → VIIRS,
    # `brightness` → MODIS); decided per row because GIS re-exports mix VIIRS rows under MODIS names
    sensor = pl.coalesce(
        by_instrument, by_satellite, pl.lit(ctx.sensor, dtype=pl.String), pl.lit(column_sensor, dtype=pl.String)
    )
    frame = frame.with_columns(sensor=sensor)

    area_given = _num("pixel_area")
    nominal = pl.col("sensor").replace_strict(NOMINAL_PIXEL_KM, default=None, return_dtype=pl.Float64)
    ahi_side = area_given.sqrt()
    scan = pl.coalesce(_num("scan"), pl.when(pl.col("sensor") == "AHI").then(ahi_side), nominal, ahi_side)
    track = pl.coalesce(_num("track"), pl.when(pl.col("sensor") == "AHI").then(ahi_side), nominal, ahi_side)
    frame = frame.with_columns(scan_km=scan, track_km=track)
    frame = frame.with_columns(pixel_area_km2=pl.coalesce(area_given, pl.col("scan_km") * pl.col("track_km")))

    frp_unit = units.get("frp") or ctx.frp_unit
    frp_is_mw = ctx.frp_is_mw and (units.get("frp") is None or units.get("frp", "").lower() == "mw")
    frp_raw = pl.coalesce(_num("frp"), _num("intensity"))
    frame = frame.with_columns(
        frp_raw=frp_raw,
        frp_mw=(_num("frp") if frp_is_mw else pl.lit(None, dtype=pl.Float64)),
        frp_unit=pl.when(_present("frp")).then(pl.lit(frp_unit)).otherwise(pl.lit(None, dtype=pl.String)),
    )

    conf = pl.col("confidence").str.strip_chars()
    conf_num = conf.cast(pl.Float64, strict=False)
    text_class = conf.str.to_lowercase().replace_strict(_TEXT_CONFIDENCE, default=None, return_dtype=pl.String)
    qf = _num("qf").cast(pl.Int16, strict=False)
    modis_class = (
        pl.when(conf_num < cfg.modis_low_below)
        .then(pl.lit("low"))
        .when(conf_num >= cfg.modis_high_from)
        .then(pl.lit("high"))
        .when(conf_num.is_not_null())
        .then(pl.lit("nominal"))
    )
    fy_map = {str(k): v for k, v in cfg.fy_confidence_map.items()}
    conf_class = (
        pl.when(text_class.is_not_null())
        .then(text_class)
        .when(pl.col("sensor") == "VIIRS")
        .then(conf_num.replace_strict({7.0: "low", 8.0: "nominal", 9.0: "high"}, default=None, return_dtype=pl.String))
        .when(pl.col("sensor") == "MODIS")
        .then(modis_class)
        .when(pl.col("sensor") == "AHI")
        .then(
            pl.when(qf == 2)
            .then(pl.lit("low"))
            .otherwise(conf_num.replace_strict({1.0: "low", 3.0: "nominal", 5.0: "high"}, default=None))
        )
        .otherwise(conf.replace_strict(fy_map, default=None, return_dtype=pl.String) if fy_map else pl.lit(None))
    )
    version = pl.col("version").str.strip_chars()
    processing = (
        pl.when(version.str.to_uppercase().str.contains("NRT"))
        .then(pl.lit("NRT"))
        .when(version.is_not_null() & (version != ""))
        .then(pl.lit("SP"))
        .otherwise(pl.lit(ctx.default_processing))
    )
    hot = _num("hot_group").cast(pl.Int64, strict=False)
    frame = frame.with_columns(
        confidence_raw=conf,
        confidence_class=conf_class,
        version=version,
        processing=processing,
        firms_type=_num("type").cast(pl.Int16, strict=False),
        persistent_anomaly=_num("persistent_anomaly").cast(pl.Int16, strict=False),
        hot_group=pl.when(hot == -9999).then(None).otherwise(hot),
        qf=qf,
        bt_mir_k=_num("bt_mir"),
        bt_tir_k=_num("bt_tir"),
        lat=pl.col("_lat"),
        lon=pl.col("_lon"),
        daynight=pl.col("daynight").str.strip_chars().str.to_uppercase().str.slice(0, 1),
        source_file=pl.lit(ctx.source_file),
        product=pl.lit(ctx.product),
    )
    extra_names = [c for c in frame.columns if re.fullmatch(r"x\d+", c)]
    admin = [c for c in ("province", "city", "county", "township") if frame[c].null_count() < frame.height]
    if extra_names or admin:
        renamed = [pl.col(f"x{i}").alias(name) for i, name in enumerate(unmapped)]
        renamed += [pl.col(c).str.replace_all(r"\s+", "") for c in admin]
        extra = pl.struct(renamed).struct.json_encode()
    else:
        extra = pl.lit(None, dtype=pl.String)
    frame = frame.with_columns(extra=extra)
    if ctx.daynight_from_sun and frame.height:
        zen = solar_zenith_deg(
            frame["acq_time_utc"].dt.replace_time_zone(None).to_numpy(),
            frame["lat"].to_numpy(),
            frame["lon"].to_numpy(),
        )
        frame = frame.with_columns(
            daynight=pl.coalesce(pl.col("daynight"), pl.Series(np.where(zen > 90.0, "N", "D"), dtype=pl.String))
        )
    frame = frame.with_columns(
        date_bjt=pl.col("acq_time_utc").dt.convert_time_zone(BEIJING_NAME).dt.date(),
    )
    return frame.select([pl.col(c).cast(t) for c, t in DETECTION_SCHEMA.items()])


def empty_detections() -> pl.DataFrame:
    """An empty frame with :data:`DETECTION_SCHEMA`."""
    return pl.DataFrame(schema=DETECTION_SCHEMA)


def cell_text(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S") if (v.hour or v.minute or v.second) else v.strftime("%Y-%m-%d")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer() and not math.isinf(v):
        return str(int(v))
    return str(v)


def xlsx_rows(path: Path) -> tuple[list[str], list[list[str | None]], list[int]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        headers: list[str] | None = None
        rows: list[list[str | None]] = []
        lines: list[int] = []
        for i, row in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [cell_text(v) for v in row]
            if headers is None:
                if any(c for c in cells):
                    while cells and cells[-1] is None:
                        cells.pop()
                    headers = [c or f"column_{j + 1}" for j, c in enumerate(cells)]
                continue
            if not any(c for c in cells):
                continue
            cells = cells[: len(headers)] + [None] * (len(headers) - len(cells))
            rows.append(cells)
            lines.append(i)
    finally:
        wb.close()
    if headers is None:
        raise FireFormatError(f"{path.name}: empty workbook")
    return headers, rows, lines
