"""Readers of air-station data into bogda's long observation frame (monitoring.md §2).

Every ``read_*`` function parses a file (path, ``bytes``, gzip or not) and returns a :class:`ReadResult`: a long
Polars frame with the columns of :data:`LONG_SCHEMA` plus the list of rejected rows and cells, each naming the file,
line, column and reason. Nothing here touches the database or the clock (``read_*`` parse, ``load_*`` write:
architecture.md §5).

Time convention
---------------
``ts`` is the UTC **start** of the interval the value covers (architecture.md §4). Each profile declares how its
source labels an hour (``hour_label``):

=====================  ============  ==========================================================================
profile                hour_label    conversion (label printed in Beijing time, UTC+8)
=====================  ============  ==========================================================================
CNEMC daily files      ``end``       row (D, H) is the mean over [H-1:00, H:00) → ``ts = D H:00 - 9 h``;
                                     H = 0 is 23:00-24:00 of D-1 (monitoring.md §2.1)
pm25.in-style hourly   ``end``       as CNEMC
PRSA Beijing hourly    ``start``     ``ts = Y-M-D h:00 - 8 h``
aqistudy daily city    day           ``ts`` = 00:00 Beijing of the date = D-1 16:00 UTC, resolution ``day``
HJ 212 (CN 2051/2061)  ``start``     DataTime is the interval start; CN 2011 is a sampling moment (``rt``)
=====================  ============  ==========================================================================

The shift is taken from :func:`bogda.timeutil.interval_start` so that the convention lives in one place.

Parameter codes
---------------
HJ 212-2017 codes for the six pollutants (a34004 PM2.5, a34002 PM10, a21026 SO2, a21004 NO2, a21005 CO,
a05024 O3); the published derived series keep their own names (monitoring.md §2.2), see :data:`CNEMC_TYPES`.
Units: µg/m³, **CO in mg/m³**; AQI is dimensionless (unit ``"1"``).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from bogda.timeutil import as_utc, interval_start, parse_time, to_beijing, utc_column

UG = "µg/m³"
MG = "mg/m³"
INDEX = "1"
"""Unit of a dimensionless index (AQI)."""

TS_DTYPE = pl.Datetime("us", "UTC")
LONG_SCHEMA: dict[str, pl.DataType] = {
    "site_code": pl.String(),
    "ts": TS_DTYPE,
    "parameter": pl.String(),
    "value": pl.Float64(),
    "resolution": pl.String(),
    "unit": pl.String(),
    "source_flag": pl.String(),
}
"""Columns of every reader's frame. ``source_flag`` is the flag the source sent (HJ 212 ``-Flag``), else null."""

POLLUTANTS: tuple[str, ...] = ("a34004", "a34002", "a21026", "a21004", "a05024", "a21005")
"""The six pollutants of the AQI (HJ 633), HJ 212-2017 codes."""

POLLUTANT_UNITS: dict[str, str] = {p: (MG if p == "a21005" else UG) for p in POLLUTANTS}

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

_UNIT_ALIASES = {"ug/m3": UG, "μg/m³": UG, "µg/m3": UG, "mg/m3": MG, "degC": "°C", "C": "°C"}
_UNIT_FACTORS: dict[tuple[str, str], float] = {(UG, MG): 1e-3, (MG, UG): 1e3}

STATION_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
"""Any unique code of this shape is a first-class station (monitoring.md §2.4)."""
NATIONAL_CODE = re.compile(r"^\d{4}A$")

_CNEMC_KEYS = ("date", "hour", "type")


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Rejection:
    """One rejected row, cell or column: where it was and why (architecture.md §5)."""

    file: str
    line: int | None
    column: str | None
    reason: str
    raw: str | None = None


@dataclass
class ReadResult:
    """What a reader returns.

    Attributes
    ----------
    frame : pl.DataFrame
        Long frame with the columns of :data:`LONG_SCHEMA`; one row per (site, interval, parameter) value.
    rejected : list of Rejection
        Every row, cell or column that was not loaded, with its reason; the rest of the file loads.
    source, file : str
        Profile name and file name.
    hour_label : str
        ``end``, ``start`` or ``day``: how the source labels its intervals.
    sites : tuple of str
        Every station the file names, including stations without a single value (an empty column is a silent
        station, not an absent one).
    incomplete_row_sets : pl.DataFrame or None
        CNEMC only: hours whose set of ``type`` rows is incomplete (monitoring.md §5, ``incomplete_row_set``).
    attrs : pl.DataFrame or None
        Text fields of the source kept beside the values (level, primary pollutant, rank …).
    feed : pl.DataFrame or None
        ``ts, parameter`` of every interval and parameter the source delivered a row for, even with all cells
        empty: completeness tells a feed gap (no row) from a station gap (row, no value) with it.
    stats : dict
        Counts (rows, cells, empty cells, values, rejected, duplicates …) and the parse time [s].
    """

    frame: pl.DataFrame
    rejected: list[Rejection]
    source: str
    file: str
    hour_label: str
    sites: tuple[str, ...] = ()
    incomplete_row_sets: pl.DataFrame | None = None
    attrs: pl.DataFrame | None = None
    stats: dict[str, float] = field(default_factory=dict)
    feed: pl.DataFrame | None = None

    def rejected_frame(self) -> pl.DataFrame:
        """The rejections as a frame (file, line, column, reason, raw)."""
        return pl.DataFrame(
            {
                "file": [r.file for r in self.rejected],
                "line": [r.line for r in self.rejected],
                "column": [r.column for r in self.rejected],
                "reason": [r.reason for r in self.rejected],
                "raw": [r.raw for r in self.rejected],
            },
            schema={"file": pl.String, "line": pl.Int64, "column": pl.String, "reason": pl.String, "raw": pl.String},
        )


class FileRefused(ValueError):
    """The file as a whole cannot be read (no recognisable header, undecodable …)."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


def empty_frame() -> pl.DataFrame:
    """An empty long frame with :data:`LONG_SCHEMA`."""
    return pl.DataFrame(schema=LONG_SCHEMA)


# ------------------------------------------------------------------------------------------ bytes → table


def _load_bytes(src: str | Path | bytes | bytearray | memoryview, name: str | None) -> tuple[bytes, str]:
    if isinstance(src, bytes | bytearray | memoryview):
        data, file = bytes(src), name or "<bytes>"
    else:
        path = Path(src)
        data, file = path.read_bytes(), name or str(path)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data, file


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode a Chinese CSV: BOM first, then strict UTF-8, then GB18030 (a superset of GBK and GB2312).

    Returns
    -------
    (text, encoding)
        ``encoding`` names what was used; ``…+replace`` if undecodable bytes had to be replaced.
    """
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(enc, errors="replace"), enc + "-bom"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), "utf-8+replace"


@dataclass
class _Table:
    header: list[str]
    frame: pl.DataFrame  # one String column per header name (null = empty cell) and "_line" (Int64)
    rejected: list[Rejection]
    header_line: int
    encoding: str
    repeated_headers: int
    blank_lines: int
    duplicate_columns: list[str]


def _clean_header(fields: list[str]) -> tuple[list[str], list[str]]:
    names = [f.strip().strip('"').strip() for f in fields]
    while names and names[-1] == "":
        names.pop()  # trailing commas
    seen: dict[str, int] = {}
    out, dups = [], []
    for n in names:
        if n in seen:
            seen[n] += 1
            alias = f"{n}#{seen[n]}"
            dups.append(alias)
            out.append(alias)
        else:
            seen[n] = 1
            out.append(n if n else f"#col{len(out) + 1}")
    return out, dups


def _read_table(text: str, file: str, encoding: str) -> _Table:
    """Split CSV text into string columns by header name.

    Blank lines are skipped, repeated header lines (concatenated daily files) skipped and counted, trailing
    commas tolerated; a row with a different number of fields is rejected with its line number. Lines are
    numbered from 1 as in an editor. Text without quote characters takes a vectorised path; quoted text (fields
    may hold commas and line breaks) goes through the csv module.
    """
    if '"' in text:
        plain = _unquote_simple(text)
        if plain is None:
            return _read_table_quoted(text, file, encoding)
        text = plain
    raw = pl.DataFrame({"raw": text.split("\n")}).with_row_index("_line", offset=1)
    # a BOM can also start a line inside the text: daily files concatenated with `cat`
    raw = raw.with_columns(
        pl.col("raw").str.strip_chars_end("\r").str.strip_chars_start("\ufeff"), pl.col("_line").cast(pl.Int64)
    )
    blank = raw["raw"].str.strip_chars(", \t") == ""  # an all-empty row is a blank line, as in the quoted path
    nonblank = raw.filter(~blank)
    n_blank = int(blank.sum()) - (1 if text.endswith("\n") else 0)
    if nonblank.height == 0:
        raise FileRefused(file, "empty file")
    header_raw = nonblank["raw"][0]
    header, dups = _clean_header(header_raw.split(","))
    ncols = len(header)
    body = nonblank.slice(1)
    header_key = header_raw.rstrip(", \t")
    is_header = body["raw"].str.strip_chars_end(", \t") == header_key
    repeated = int(is_header.sum())
    body = body.filter(~is_header)
    parts = body["raw"].str.split(",")
    nf = parts.list.len()
    extra_empty = parts.list.slice(ncols).list.join("").str.strip_chars() == ""
    ok = (nf == ncols) | ((nf > ncols) & extra_empty)
    rejected = [
        Rejection(file, line, None, f"{n} fields where the header has {ncols}", raw_text[:200])
        for line, n, raw_text in zip(body["_line"].filter(~ok), nf.filter(~ok), body["raw"].filter(~ok), strict=True)
    ]
    good = body.filter(ok).with_columns(parts.filter(ok).alias("_parts"))
    frame = good.select(
        pl.col("_line"),
        *[
            pl.col("_parts").list.get(i, null_on_oob=True).str.strip_chars().replace("", None).alias(name)
            for i, name in enumerate(header)
        ],
    )
    return _Table(header, frame, rejected, int(nonblank["_line"][0]), encoding, repeated, n_blank, dups)


def _unquote_simple(text: str) -> str | None:
    """``text`` without its quotes when no quoted field holds a comma, line break or escaped quote, else None.

    Quoting like PRSA's (``"NNE"``, ``"Dongsi"``) then costs nothing; anything subtler takes the csv module.
    """
    if '""' in text:
        return None
    parts = text.split('"')
    if len(parts) % 2 == 0:
        return None  # unbalanced quotes
    if any("," in q or "\n" in q or "\r" in q for q in parts[1::2]):
        return None
    return "".join(parts)


def _read_table_quoted(text: str, file: str, encoding: str) -> _Table:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_fields: list[str] = []
    dups: list[str] = []
    header_line = 0
    columns: list[list[str | None]] = []
    lines: list[int] = []
    rejected: list[Rejection] = []
    repeated = blank = 0
    prev_end = 0
    for row in reader:
        start, prev_end = prev_end + 1, reader.line_num
        if row:
            row[0] = row[0].lstrip("\ufeff")
        if not row or all(not f.strip() for f in row):
            blank += 1
            continue
        if header is None:
            header, dups = _clean_header(row)
            header_fields = [f.strip() for f in row]
            while header_fields and header_fields[-1] == "":
                header_fields.pop()
            header_line = start
            columns = [[] for _ in header]
            continue
        fields = [f.strip() for f in row]
        if fields[: len(header_fields)] == header_fields and not any(fields[len(header_fields) :]):
            repeated += 1
            continue
        ncols = len(header)
        if len(fields) != ncols and not (len(fields) > ncols and not any(fields[ncols:])):
            rejected.append(
                Rejection(file, start, None, f"{len(fields)} fields where the header has {ncols}", ",".join(row)[:200])
            )
            continue
        for col, value in zip(columns, fields, strict=False):
            col.append(value if value != "" else None)
        lines.append(start)
    if header is None:
        raise FileRefused(file, "empty file")
    frame = pl.DataFrame(
        {"_line": pl.Series(lines, dtype=pl.Int64)}
        | {name: pl.Series(col, dtype=pl.String) for name, col in zip(header, columns, strict=True)}
    )
    return _Table(header, frame, rejected, header_line, encoding, repeated, blank, dups)


def _table(src: Any, name: str | None) -> tuple[_Table, str]:
    data, file = _load_bytes(src, name)
    text, encoding = decode_text(data)
    return _read_table(text, file, encoding), file


def _require(table: _Table, file: str, columns: Iterable[str], profile: str) -> None:
    missing = [c for c in columns if c not in table.header]
    if missing:
        raise FileRefused(
            file, f"no recognisable {profile} header (missing {', '.join(missing)}; found {table.header[:8]})"
        )


# ---------------------------------------------------------------------------------------- shared helpers


def _label_shift(resolution: str, labelled_by: str):  # -> timedelta
    """Offset from a naive-Beijing label (read as UTC by :func:`utc_column`) to the interval start."""
    ref = datetime(2000, 1, 1, 12)
    return interval_start(ref, resolution, labelled_by=labelled_by) - as_utc(ref)


def _ts_from_label(label: pl.Expr, resolution: str, labelled_by: str) -> pl.Expr:
    """Vectorised :func:`bogda.timeutil.interval_start` over a naive Beijing-time label column."""
    expr = utc_column(label.cast(pl.Datetime("us")))
    return (expr + _label_shift(resolution, labelled_by)).cast(TS_DTYPE)


def _rejections(df: pl.DataFrame, file: str, reason: pl.Expr | str, column: str | pl.Expr | None, raw: str | None):
    """Rejections from a frame with ``_line``: one per row."""
    if df.height == 0:
        return []
    cols = [pl.col("_line")]
    cols.append(reason.alias("_reason") if isinstance(reason, pl.Expr) else pl.lit(reason).alias("_reason"))
    if isinstance(column, pl.Expr):
        cols.append(column.cast(pl.String).alias("_column"))
    else:
        cols.append(pl.lit(column, dtype=pl.String).alias("_column"))
    cols.append(pl.col(raw).cast(pl.String).alias("_raw") if raw else pl.lit(None, dtype=pl.String).alias("_raw"))
    sel = df.select(cols)
    return [Rejection(file, int(line), column_, reason_, raw_) for line, reason_, column_, raw_ in sel.iter_rows()]


def _to_values(long: pl.DataFrame, file: str, missing: Sequence[str] = ()) -> tuple[pl.DataFrame, list[Rejection]]:
    """Cast the ``raw`` text of a long frame to float; non-numeric or non-finite cells are rejected.

    ``long`` has ``_line``, ``_column`` (the source column for the rejection) and ``raw``; rows with null raw
    or a ``missing`` token are dropped before (they are empty cells, not values).
    """
    if missing:
        long = long.filter(~pl.col("raw").is_in(list(missing)))
    long = long.with_columns(pl.col("raw").cast(pl.Float64, strict=False).alias("value"))
    bad_mask = pl.col("value").is_null() | ~pl.col("value").is_finite()
    bad = long.filter(bad_mask)
    rejected = _rejections(bad, file, pl.format("non-numeric value '{}'", pl.col("raw")), pl.col("_column"), "raw")
    return long.filter(~bad_mask), rejected


def _dedupe(long: pl.DataFrame, file: str, candidates: pl.Series) -> tuple[pl.DataFrame, list[Rejection], int]:
    """Drop identical repeats of (site_code, ts, parameter); reject conflicting ones (first occurrence wins).

    ``candidates`` are the ``_line`` numbers of rows whose row key (CNEMC date/hour/type, or site and time) occurs
    more than once: only their cells can clash, which keeps the check off the millions of other cells.
    """
    if candidates.len() == 0:
        return long, [], 0
    key = ["site_code", "ts", "parameter"]
    mask = pl.col("_line").is_in(candidates.implode())
    clash = long.filter(mask).with_row_index("_i")
    rest = long.filter(~mask)
    first = clash.group_by(key, maintain_order=True).agg(
        pl.col("_i").first().alias("_first_i"),
        pl.col("value").first().alias("_first_v"),
        pl.col("_line").first().alias("_first_line"),
    )
    clash = clash.join(first, on=key, how="left")
    later = clash.filter(pl.col("_i") != pl.col("_first_i"))
    identical = later.filter(pl.col("value") == pl.col("_first_v"))
    conflicting = later.filter(pl.col("value") != pl.col("_first_v"))
    rejected = _rejections(
        conflicting,
        file,
        pl.format(
            "conflicting duplicate of line {} ({} vs {})", pl.col("_first_line"), pl.col("_first_v"), pl.col("value")
        ),
        pl.col("_column"),
        "raw",
    )
    keep = clash.filter(pl.col("_i") == pl.col("_first_i")).select(long.columns)
    return pl.concat([rest, keep]), rejected, identical.height


def _dup_lines(df: pl.DataFrame, key: list[str]) -> pl.Series:
    """``_line`` of the rows whose ``key`` occurs more than once."""
    return df.filter(pl.struct(key).is_duplicated())["_line"]


def _finish(long: pl.DataFrame, resolution: str) -> pl.DataFrame:
    """Select the :data:`LONG_SCHEMA` columns from a working long frame."""
    return long.select(
        pl.col("site_code").cast(pl.String),
        pl.col("ts").cast(TS_DTYPE),
        pl.col("parameter").cast(pl.String),
        pl.col("value").cast(pl.Float64),
        pl.lit(resolution, dtype=pl.String).alias("resolution"),
        pl.col("unit").cast(pl.String),
        (pl.col("source_flag") if "source_flag" in long.columns else pl.lit(None, dtype=pl.String))
        .cast(pl.String)
        .alias("source_flag"),
    )


def _wide_to_long(df: pl.DataFrame, index: list[str], columns: Mapping[str, tuple[str, str]]) -> pl.DataFrame:
    """Unpivot value columns of a wide frame into (…index, _column, raw, parameter, unit); empty cells dropped."""
    present = [c for c in columns if c in df.columns]
    if not present:
        return pl.DataFrame(
            schema={
                **{c: df.schema[c] for c in index},
                "_column": pl.String,
                "raw": pl.String,
                "parameter": pl.String,
                "unit": pl.String,
            }
        )
    long = df.unpivot(on=present, index=index, variable_name="_column", value_name="raw").filter(
        pl.col("raw").is_not_null()
    )
    params = {c: columns[c][0] for c in present}
    units = {c: columns[c][1] for c in present}
    return long.with_columns(
        pl.col("_column").replace_strict(params, return_dtype=pl.String).alias("parameter"),
        pl.col("_column").replace_strict(units, return_dtype=pl.String).alias("unit"),
    )


def _base_stats(table: _Table, t0: float) -> dict[str, float]:
    return {
        "rows": float(table.frame.height),
        "repeated_headers": float(table.repeated_headers),
        "blank_lines": float(table.blank_lines),
        "seconds": time.perf_counter() - t0,
    }


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
        reason = None
        if col in table.duplicate_columns:
            reason = "duplicate station column"
        elif not STATION_CODE.match(col):
            reason = "station code must match [A-Za-z0-9_.-]{1,32}"
        elif known is not None and col not in known and not register_unknown:
            reason = "unknown station code (not registered; use --register-unknown)"
        if reason:
            rejected.append(Rejection(file, table.header_line, col, reason))
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


# ---------------------------------------------------------------------------------------------- stations


_NAME_SUFFIX = re.compile(r"[（(](对照点|[^（()）]*停运[^（()）]*)[）)]")
_STATION_ALIASES = {
    "监测点编码": "station_code",
    "监测点名称": "station_name",
    "城市": "city",
    "经度": "longitude",
    "纬度": "latitude",
    "对照点": "is_control",
    "省级行政区": "province",
    "地级行政区": "prefecture",
}


def station_base_name(name: str) -> str:
    """Station name without "(对照点)" / "(停运YYMMDD)" (half- or full-width brackets), for matching by name.

    >>> station_base_name("天山天池(对照点)")
    '天山天池'
    >>> station_base_name("地区站(停运200629)")
    '地区站'
    """
    return _NAME_SUFFIX.sub("", name).strip()


def read_stations(src: str | Path | bytes, *, name: str | None = None) -> pl.DataFrame:
    """Read a CNEMC station list (quotsoft 站点列表 format, English or original Chinese headers).

    Returns
    -------
    pl.DataFrame
        ``station_code, station_name, base_name, city, longitude [°], latitude [°], is_control (bool),
        decommissioned (the 停运 marker, e.g. "停运200629", "20190222停运", "已停运", or null), national (code
        matches ``^\\d{4}A$``)`` plus every other column of the file as text, ``problem`` (null, or why a row is
        unusable: no code, bad code, bad coordinates, duplicate code) and ``line``. Rows are never dropped.
    """
    table, file = _table(src, name)
    rename = {c: _STATION_ALIASES[c] for c in table.header if c in _STATION_ALIASES}
    df = table.frame.rename(rename)
    if "station_code" not in df.columns or "station_name" not in df.columns:
        raise FileRefused(file, f"no station_code / station_name column (found {table.header[:8]})")
    for c in ("city", "longitude", "latitude", "is_control"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    names = df["station_name"].fill_null("")
    df = df.with_columns(
        pl.Series("base_name", [station_base_name(n) for n in names], dtype=pl.String),
        pl.col("station_name").str.extract(r"[（(]([^（()）]*停运[^（()）]*)[）)]").alias("decommissioned"),
        pl.col("longitude").cast(pl.Float64, strict=False).alias("_lon"),
        pl.col("latitude").cast(pl.Float64, strict=False).alias("_lat"),
    )
    bad_coord = (pl.col("longitude").is_not_null() & pl.col("_lon").is_null()) | (
        pl.col("latitude").is_not_null() & pl.col("_lat").is_null()
    )
    out_of_range = (pl.col("_lon").abs() > 180) | (pl.col("_lat").abs() > 90)
    problem = (
        pl.when(pl.col("station_code").is_null())
        .then(pl.lit("missing station_code"))
        .when(~pl.col("station_code").str.contains(STATION_CODE.pattern))
        .then(pl.lit("station code must match [A-Za-z0-9_.-]{1,32}"))
        .when(pl.col("station_code").is_duplicated())
        .then(pl.lit("duplicate station_code"))
        .when(bad_coord | out_of_range.fill_null(False))
        .then(pl.lit("bad coordinates"))
    )
    df = df.with_columns(
        pl.col("_lon").alias("longitude"),
        pl.col("_lat").alias("latitude"),
        pl.col("is_control").str.to_uppercase().is_in(["Y", "YES", "TRUE", "1", "是"]).alias("is_control"),
        pl.col("station_code").str.contains(NATIONAL_CODE.pattern).fill_null(False).alias("national"),
        problem.alias("problem"),
    ).drop("_lon", "_lat")
    first = [
        "station_code",
        "station_name",
        "base_name",
        "city",
        "longitude",
        "latitude",
        "is_control",
        "decommissioned",
        "national",
    ]
    rest = [c for c in df.columns if c not in first and c != "_line"]
    return df.select(first + rest + ["_line"]).rename({"_line": "line"})


def _name_map(stations: pl.DataFrame | Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """(city, base name) → code; an active station wins over a decommissioned one of the same name."""
    if isinstance(stations, Mapping):
        return {(c, station_base_name(n)): code for (c, n), code in stations.items()}
    out: dict[tuple[str, str], str] = {}
    rows = stations.select(
        "city", "station_name", "station_code", pl.col("station_name").str.contains("停运").alias("_off")
    ).sort("_off", descending=True)  # decommissioned first, so active ones overwrite them
    for city, sname, code, _ in rows.iter_rows():
        if city and sname and code:
            out[(city, station_base_name(sname))] = code
    return out


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
    rejected += _rejections(df.filter(pl.col("_reason").is_not_null()), file, pl.col("_reason"), "WatchPoint", None)
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
    rejected += _rejections(df.filter(pl.col("_reason").is_not_null()), file, pl.col("_reason"), "city", None)
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
    rejected += _rejections(df.filter(pl.col("_reason").is_not_null()), file, pl.col("_reason"), "station", None)
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
        long = long.with_columns(pl.col("value") * pl.col("parameter").replace_strict(factors, return_dtype=pl.Float64))
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


# ------------------------------------------------------------------------------------------- revisions


def diff_refetch(stored: pl.DataFrame, fetched: pl.DataFrame, *, complete: pl.DataFrame | None = None) -> pl.DataFrame:
    """Compare a re-fetch of late data with what is stored (monitoring.md §2.5).

    Parameters
    ----------
    stored, fetched : pl.DataFrame
        Long frames (``site_code, ts, parameter, value, resolution``) of the same window.
    complete : pl.DataFrame, optional
        ``ts, parameter`` rows the re-fetch delivered completely (e.g. ``ReadResult.feed``). A stored value absent
        from a complete re-fetch of its hour and parameter is ``withdrawn`` (flagged, never deleted); without
        ``complete`` nothing is withdrawn.

    Returns
    -------
    pl.DataFrame
        ``site_code, ts, parameter, resolution, old_value, new_value, change`` with ``change`` ∈ ``new``,
        ``unchanged``, ``changed`` (a correction version), ``withdrawn``.
    """
    key = ["site_code", "ts", "parameter", "resolution"]
    old = stored.select(*key, pl.col("value").alias("old_value"))
    new = fetched.select(*key, pl.col("value").alias("new_value"))
    both = old.join(new, on=key, how="full", coalesce=True)
    if complete is not None:
        done = complete.select("ts", "parameter").unique().with_columns(pl.lit(True).alias("_complete"))
        both = both.join(done, on=["ts", "parameter"], how="left")
    else:
        both = both.with_columns(pl.lit(None, dtype=pl.Boolean).alias("_complete"))
    change = (
        pl.when(pl.col("old_value").is_null())
        .then(pl.lit("new"))
        .when(pl.col("new_value").is_null())
        .then(pl.when(pl.col("_complete").fill_null(False)).then(pl.lit("withdrawn")).otherwise(pl.lit("unchanged")))
        .when(pl.col("old_value") == pl.col("new_value"))
        .then(pl.lit("unchanged"))
        .otherwise(pl.lit("changed"))
    )
    return both.with_columns(change.alias("change")).drop("_complete").sort(key)


# --------------------------------------------------------------------------------------------- polling


def poll_windows(now: datetime, *, lookback_hours: int = 3) -> list[tuple[str, datetime, datetime]]:
    """Windows of late data to (re-)fetch at ``now`` (monitoring.md §2.5 defaults).

    Every hour at HH:25 the last ``lookback_hours``; daily at 02:30 Beijing the last 72 h; weekly (Monday 02:30
    Beijing) the last 30 days. Returns ``(kind, start, end)`` in UTC, hour-aligned, ``end`` exclusive.

    >>> from datetime import UTC
    >>> [(k, s.isoformat()) for k, s, _ in poll_windows(datetime(2019, 1, 2, 2, 30, tzinfo=UTC))]
    [('hourly', '2019-01-01T23:00:00+00:00')]
    """
    now = as_utc(now, naive="utc")
    end = now.replace(minute=0, second=0, microsecond=0)  # intervals starting before it are complete
    out = [("hourly", end - timedelta(hours=lookback_hours), end)]
    local = to_beijing(now)
    if local.hour == 2 and local.minute >= 30:
        out.append(("daily", end - timedelta(hours=72), end))
        if local.weekday() == 0:
            out.append(("weekly", end - timedelta(days=30), end))
    return out


__all__ = [
    "AQISTUDY_COLUMNS",
    "AQISTUDY_PLACES",
    "CNEMC_TYPES",
    "COMPASS_16",
    "HJ212_CN",
    "HJ212_DEFAULT_UNITS",
    "LONG_SCHEMA",
    "MG",
    "PM25IN_COLUMNS",
    "POLLUTANTS",
    "POLLUTANT_UNITS",
    "PRSA_COLUMNS",
    "PRSA_STATIONS",
    "PRSA_UNITS",
    "UG",
    "FileRefused",
    "ReadResult",
    "Rejection",
    "decode_text",
    "diff_refetch",
    "empty_frame",
    "hours_from_minutes",
    "poll_windows",
    "read_aqistudy",
    "read_cnemc",
    "read_hj212_values",
    "read_pm25in",
    "read_prsa",
    "read_stations",
    "station_base_name",
]
