"""Shared parts of the readers: the long frame, results and rejections, bytes → table, helpers."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from bogda.timeutil import as_utc, interval_start, utc_column

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

STATION_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
"""Any unique code of this shape is a first-class station (monitoring.md §2.4)."""
NATIONAL_CODE = re.compile(r"^\d{4}A$")

_UNIT_ALIASES = {"ug/m3": UG, "μg/m³": UG, "µg/m3": UG, "mg/m3": MG, "degC": "°C", "C": "°C"}
_UNIT_FACTORS: dict[tuple[str, str], float] = {(UG, MG): 1e-3, (MG, UG): 1e3}
"""(from, to) → multiplier. Applied through :func:`convert_unit`, which divides by the reciprocal when it is below
one: ``x × 1e-3`` is not correctly rounded (1e-3 has no exact binary form) and differs from ``x / 1000`` in the
last bit for about one value in eight, enough to move a LightGBM split."""


def convert_unit(values: pl.Expr, factor: pl.Expr) -> pl.Expr:
    """``values`` converted by the per-row multiplier column ``factor`` (:data:`_UNIT_FACTORS`), correctly rounded
    for the power-of-ten factors: multiplies by factors ≥ 1 and divides by ``1 / factor`` (exactly 1000.0 for 1e-3)
    below 1. ``factor`` must be a column, not a literal: Polars divides by a scalar as a product with its reciprocal,
    which is the rounding this function exists to avoid."""
    return pl.when(factor >= 1.0).then(values * factor).otherwise(values / (1.0 / factor))


# ------------------------------------------------------------------------------------------------ results


UNKNOWN_STATION = "unknown_station"
"""Rejection kind: values of a station code the registry does not know and that is not registered as a
placeholder (monitoring.md §2.4), or of a station name/city the reader cannot map to a code."""
CONFLICTING_DUPLICATE = "conflicting_duplicate"
"""Rejection kind: a second value of the same station, parameter and interval that differs from the first."""
ZONELESS_TIME = "zoneless_time"
"""Rejection kind reserved for a time without zone or offset where the format needs one (forecast.md §6). No
reader produces it: every layout declares the zone of its labels (Beijing time; HJ 212 DataTime by the standard),
so a time without an offset is read in that zone, never rejected."""


@dataclass(frozen=True)
class Rejection:
    """One rejected row, cell or column: where it was and why (architecture.md §5).

    ``kind`` names the rejections that a whole-batch load (``load_result(batch="whole")``, forecast.md §6)
    quarantines the batch for — :data:`UNKNOWN_STATION`, :data:`CONFLICTING_DUPLICATE` (:data:`ZONELESS_TIME`
    reserved) — and is None for every other reason (bad cell, date, type, unit …).
    """

    file: str
    line: int | None
    column: str | None
    reason: str
    raw: str | None = None
    kind: str | None = None


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
        """The rejections as a frame (file, line, column, reason, raw, kind)."""
        return pl.DataFrame(
            {
                "file": [r.file for r in self.rejected],
                "line": [r.line for r in self.rejected],
                "column": [r.column for r in self.rejected],
                "reason": [r.reason for r in self.rejected],
                "raw": [r.raw for r in self.rejected],
                "kind": [r.kind for r in self.rejected],
            },
            schema={
                "file": pl.String,
                "line": pl.Int64,
                "column": pl.String,
                "reason": pl.String,
                "raw": pl.String,
                "kind": pl.String,
            },
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


def _rejections(
    df: pl.DataFrame,
    file: str,
    reason: pl.Expr | str,
    column: str | pl.Expr | None,
    raw: str | None,
    kind: str | pl.Expr | None = None,
):
    """Rejections from a frame with ``_line``: one per row; ``kind`` a constant or a per-row expression."""
    if df.height == 0:
        return []
    cols = [pl.col("_line")]
    cols.append(reason.alias("_reason") if isinstance(reason, pl.Expr) else pl.lit(reason).alias("_reason"))
    if isinstance(column, pl.Expr):
        cols.append(column.cast(pl.String).alias("_column"))
    else:
        cols.append(pl.lit(column, dtype=pl.String).alias("_column"))
    cols.append(pl.col(raw).cast(pl.String).alias("_raw") if raw else pl.lit(None, dtype=pl.String).alias("_raw"))
    if isinstance(kind, pl.Expr):
        cols.append(kind.cast(pl.String).alias("_kind"))
    else:
        cols.append(pl.lit(kind, dtype=pl.String).alias("_kind"))
    sel = df.select(cols)
    return [
        Rejection(file, int(line), column_, reason_, raw_, kind_)
        for line, reason_, column_, raw_, kind_ in sel.iter_rows()
    ]


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
        CONFLICTING_DUPLICATE,
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
