"""Read satellite fire-point files into one normalised Polars frame (fire.md §2.4, §3.1).

:func:`read_fire_file` recognises the file family and dispatches to the ``read_*`` functions below; every reader
returns a :class:`~bogda.fire.records.ReadResult` whose ``detections`` follow
:data:`~bogda.fire.records.DETECTION_SCHEMA` (documented in :mod:`bogda.fire.records`). :func:`deduplicate`
implements the upsert key of §3.1. Bulletin lists are read by :func:`bogda.fire.bulletins.read_bulletin`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from bogda.fire.bulletins import BULLETIN_SCHEMA, parse_degrees, read_bulletin
from bogda.fire.config import FireConfig
from bogda.fire.records import (
    DETECTION_SCHEMA,
    SATELLITE_SENSOR,
    SUPPORTED_FORMATS,
    FileContext,
    FireFormatError,
    ReadResult,
    RejectedRow,
    empty_detections,
    map_headers,
    normalise_header,
    normalise_rows,
    satellite_name,
    solar_zenith_deg,
    xlsx_rows,
)

__all__ = [
    "BULLETIN_SCHEMA",
    "DETECTION_SCHEMA",
    "KEY_COLUMNS",
    "SATELLITE_SENSOR",
    "SUPPORTED_FORMATS",
    "FileContext",
    "FireFormatError",
    "ReadResult",
    "RejectedRow",
    "deduplicate",
    "detection_keys",
    "empty_detections",
    "map_headers",
    "normalise_header",
    "normalise_rows",
    "parse_degrees",
    "read_ahi_wlf",
    "read_bulletin",
    "read_cspp_afimg",
    "read_csv_text",
    "read_dbf",
    "read_fire_file",
    "read_fire_files",
    "read_firms_json",
    "read_fy_table",
    "satellite_name",
    "solar_zenith_deg",
]


# --------------------------------------------------------------------------------------------------------------
# Readers


def _sniff_delimiter(header_line: str) -> str:
    for d in (",", "\t", ";", "|"):
        if d in header_line:
            return d
    return " "


def _table_from_lines(
    lines: list[str], line_nos: list[int], width: int, delimiter: str, source_file: str
) -> tuple[pl.DataFrame | list[list[str]], list[RejectedRow]]:
    """Split delimited lines into a frame of text columns ``c0…`` (vectorised when no field is quoted).

    Rows with the wrong number of fields are returned as rejected rows.
    """
    if delimiter == " " or any('"' in ln for ln in lines[:1]) or '"' in "".join(lines[:200]):
        return _split_lines(lines, delimiter), []
    ser = pl.Series("l", lines, dtype=pl.String)
    if ser.str.contains('"', literal=True).any():
        return _split_lines(lines, delimiter), []
    parts = pl.DataFrame({"p": ser.str.split(delimiter), "line_no": pl.Series(line_nos, dtype=pl.Int64), "l": ser})
    n = parts["p"].list.len()
    ok = n == width
    rejected = [
        RejectedRow(source_file, line, "*", f"expected {width} fields, found {k}", text)
        for line, k, text in parts.filter(~ok).with_columns(k=n.filter(~ok)).select("line_no", "k", "l").iter_rows()
    ]
    good = parts.filter(ok)
    table = good.select(*[pl.col("p").list.get(i).alias(f"c{i}") for i in range(width)], "line_no")
    return table, rejected


def _split_lines(lines: list[str], delimiter: str) -> list[list[str]]:
    if delimiter == " ":
        return [ln.split() for ln in lines]
    return list(csv.reader(lines, delimiter=delimiter))


def read_csv_text(
    text: str, source_file: str, *, product: str | None = None, config: FireConfig | None = None, **ctx_kw: object
) -> ReadResult:
    """Read a FIRMS-style CSV (any column order; §2.4 CSV families) from text.

    The product is recognised from the columns: ``type`` → firms_archive, ``instrument`` with unpadded times →
    firms_api, DBF names (``_version``, ``bright_1``) → gis_export, else firms_csv. A body whose first line lacks
    latitude/longitude (the API's "Invalid MAP_KEY" answer) is a file error.
    """
    lines = text.replace("\ufeff", "").splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    if not numbered:
        raise FireFormatError(f"{source_file}: empty file (no header)")
    _, header = numbered[0]
    lowered = header.lower()
    if not any(k in lowered for k in ("lat", "纬度")):
        raise FireFormatError(
            f"{source_file}: first line has no latitude/longitude header (API error text?): {header[:120]!r}"
        )
    delimiter = _sniff_delimiter(header)
    headers = _split_lines([header], delimiter)[0]
    body = numbered[1:]
    rows, pre_rejected = _table_from_lines(
        [ln for _, ln in body], [n for n, _ in body], len(headers), delimiter, source_file
    )
    norm = {normalise_header(h)[0] for h in headers}
    if product is None:
        if "type" in norm:
            product = "firms_archive"
        elif {"_version", "bright_1"} & {h.strip().lower() for h in headers}:
            product = "gis_export"
        elif "instrument" in norm:
            product = "firms_api"
        elif "纬度" in norm or "中心纬度" in norm:
            product = "cn_table"
        else:
            product = "firms_csv"
    ctx = FileContext(source_file=source_file, product=product, **ctx_kw)  # type: ignore[arg-type]
    result = normalise_rows(headers, rows, [n for n, _ in body], ctx, config)
    if pre_rejected:
        result.rejected = sorted(pre_rejected + result.rejected, key=lambda r: r.line)
    return result


def read_firms_json(text: str, source_file: str, *, config: FireConfig | None = None) -> ReadResult:
    """Read a FIRMS download-service JSON file: an array of objects, times and confidence as strings (§2.4).

    ``line_no`` is the 1-based record number.
    """
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FireFormatError(f"{source_file}: not valid JSON ({exc})") from None
    if isinstance(records, dict) and records.get("type") == "FeatureCollection":
        records = [{**(f.get("properties") or {})} for f in records.get("features", [])]
    if not isinstance(records, list):
        raise FireFormatError(f"{source_file}: expected a JSON array of fire records")
    headers: list[str] = []
    seen: set[str] = set()
    for rec in records:
        if isinstance(rec, dict):
            for k in rec:
                if k not in seen:
                    seen.add(k)
                    headers.append(k)
    rows: list[list[str | None]] = []
    for rec in records:
        if not isinstance(rec, dict):
            rows.append([])
            continue
        rows.append([None if rec.get(h) is None else str(rec.get(h)) for h in headers])
    ctx = FileContext(source_file=source_file, product="firms_json")
    return normalise_rows(headers, rows, list(range(1, len(rows) + 1)), ctx, config)


_AHI_NAME = re.compile(r"^(H0\d)_(\d{8})_(\d{4})_L2WLF", re.IGNORECASE)


def read_ahi_wlf(text: str, source_file: str, *, config: FireConfig | None = None) -> ReadResult:
    """Read a Himawari-8/9 AHI L2 Wild Fire CSV (JAXA P-Tree, §2.4).

    Line 1 gives the observation window, line 2 the ``#``-prefixed header. Pixels are on a 0.02° grid;
    scan = track = √Area. FRP's unit (the header says W m⁻²) is unresolved, so ``frp_mw`` is null and the value is
    kept in ``frp_raw``. Day/night comes from the solar zenith angle.
    """
    lines = text.replace("\ufeff", "").splitlines()
    header_idx = next((i for i, ln in enumerate(lines) if "lat" in ln.lower() and "lon" in ln.lower()), None)
    if header_idx is None:
        raise FireFormatError(f"{source_file}: no AHI WLF header line (# ID,Year,Month,Day,Time(UTC),Lat,Lon,…)")
    headers = next(csv.reader([lines[header_idx]]))
    body = [(i + 1, ln) for i, ln in enumerate(lines) if i > header_idx and ln.strip() and not ln.startswith("#")]
    rows = list(csv.reader([ln for _, ln in body]))
    m = _AHI_NAME.match(Path(source_file).name)
    ctx = FileContext(
        source_file=source_file,
        product="ahi_wlf",
        satellite=m.group(1) if m else None,
        sensor="AHI",
        frp_unit="W m-2 (unresolved)",
        frp_is_mw=False,
        daynight_from_sun=True,
        default_processing="NRT",
    )
    return normalise_rows(headers, rows, [n for n, _ in body], ctx, config)


_CSPP_NAME = re.compile(r"AFIMG_([a-z0-9]+)_d(\d{8})_t(\d{7})_e(\d{7})", re.IGNORECASE)
_CSPP_COLUMNS = (
    ("latitude", "latitude"),
    ("longitude", "longitude"),
    ("brightness temperature", "bright_ti4"),
    ("along-scan", "scan"),
    ("along-track", "track"),
    ("confidence", "confidence"),
    ("radiative power", "frp"),
    ("persistent", "persistent_anomaly"),
)


def _cspp_time(day: str, hhmmssf: str) -> datetime:
    base = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
    return base + timedelta(
        hours=int(hhmmssf[0:2]), minutes=int(hhmmssf[2:4]), seconds=int(hhmmssf[4:6]) + int(hhmmssf[6]) / 10
    )


def read_cspp_afimg(text: str, source_file: str, *, config: FireConfig | None = None) -> ReadResult:
    """Read a CSPP VIIRS Active Fires I-band ASCII file (§2.4).

    Columns are named from the ``# column N: …`` comments (the 7-column CSPP 1.x layout when absent; CSPP ≥ 2.1
    adds "persistent anomaly"). Platform and time come from the file name: acquisition time = mid-point of the
    granule's start and end (an end before the start rolls over midnight).
    """
    m = _CSPP_NAME.search(Path(source_file).name)
    if not m:
        raise FireFormatError(f"{source_file}: CSPP file name must match AFIMG_<sat>_d<date>_t<start>_e<end>")
    start = _cspp_time(m.group(2), m.group(3))
    end = _cspp_time(m.group(2), m.group(4))
    if end < start:
        end += timedelta(days=1)
    mid = start + (end - start) / 2
    lines = text.splitlines()
    described: dict[int, str] = {}
    for ln in lines:
        cm = re.match(r"^#\s*column\s+(\d+)\s*:\s*(.*)$", ln, re.IGNORECASE)
        if cm:
            desc = cm.group(2).lower()
            name = next((n for key, n in _CSPP_COLUMNS if key in desc), f"column_{cm.group(1)}")
            described[int(cm.group(1))] = name
    body = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    rows = [re.split(r"[,\s]+", ln.strip()) for _, ln in body]
    n_cols = max((len(r) for r in rows), default=len(described) or 7)
    if described:
        headers = [described.get(i + 1, f"column_{i + 1}") for i in range(max(n_cols, len(described)))]
    else:
        headers = [n for _, n in _CSPP_COLUMNS][:n_cols]
    ctx = FileContext(
        source_file=source_file,
        product="cspp_afimg",
        satellite=m.group(1),
        sensor="VIIRS",
        acq_time_utc=mid,
        daynight_from_sun=True,
        default_processing="NRT",
    )
    return normalise_rows(headers, rows, [n for n, _ in body], ctx, config)


_FY_NAME = re.compile(r"^(FY\d[A-D])[-_].*?_(\d{14})_(\d{14})_", re.IGNORECASE)


def read_fy_table(text: str, source_file: str, *, config: FireConfig | None = None) -> ReadResult:
    """Read an FY-4A/4B AGRI or FY-3D MERSI fire table (FPT/FPA/FPB/FBJ TXT) or a Chinese fire table.

    No sample of these products is available (fire.md §9), so the reader relies on the §2.2 header aliases
    (纬度, 经度, 火区号, 像元面积, 火点强度, 火点可信度 …) with the delimiter sniffed from the header line; the
    satellite and, when the table has no time column, the observation start time come from the standard NSMC
    file name ``FY4A-_AGRI--_N_DISK_1047E_L2-_FPT-_MULT_NOM_{start}_{end}_…``. 火点强度 has no stated unit: it
    goes to ``frp_raw`` and ``frp_mw`` stays null. Confidence classes come from ``FireConfig.fy_confidence_map``.
    """
    name = Path(source_file).name
    m = _FY_NAME.match(name)
    sat = m.group(1) if m else None
    start = datetime.strptime(m.group(2), "%Y%m%d%H%M%S").replace(tzinfo=UTC) if m else None
    lines = text.replace("\ufeff", "").splitlines()
    header_idx = next((i for i, ln in enumerate(lines) if "纬度" in ln or "lat" in ln.lower()), None)
    if header_idx is None:
        raise FireFormatError(f"{source_file}: no header with 纬度/经度 (or latitude/longitude) found")
    delimiter = _sniff_delimiter(lines[header_idx])
    headers = _split_lines([lines[header_idx].lstrip("#")], delimiter)[0]
    body = [(i + 1, ln) for i, ln in enumerate(lines) if i > header_idx and ln.strip() and not ln.startswith("#")]
    rows = _split_lines([ln for _, ln in body], delimiter)
    sensor = None
    if sat:
        sensor = "AGRI" if sat.upper().startswith("FY4") else "MERSI"
    ctx = FileContext(
        source_file=source_file,
        product="fy_table" if m else "cn_table",
        satellite=sat,
        sensor=sensor,
        acq_time_utc=start,
        frp_unit="unknown",
        frp_is_mw=False,
        default_processing="NRT",
    )
    return normalise_rows(headers, rows, [n for n, _ in body], ctx, config)


def read_dbf(data: bytes, source_file: str, *, config: FireConfig | None = None) -> ReadResult:
    """Read the attribute table (.dbf, dBase III) of a FIRMS shapefile; field names are ≤ 10 characters.

    ``line_no`` is the 1-based record number; records marked deleted are skipped.
    """
    if len(data) < 32:
        raise FireFormatError(f"{source_file}: too short for a DBF file")
    n_rec = int.from_bytes(data[4:8], "little")
    header_len = int.from_bytes(data[8:10], "little")
    rec_len = int.from_bytes(data[10:12], "little")
    fields: list[tuple[str, int]] = []
    pos = 32
    while pos < header_len - 1 and data[pos] != 0x0D:
        name = data[pos : pos + 11].split(b"\x00", 1)[0].decode("ascii", "replace")
        fields.append((name, data[pos + 16]))
        pos += 32
    rows: list[list[str | None]] = []
    lines: list[int] = []
    for i in range(n_rec):
        off = header_len + i * rec_len
        rec = data[off : off + rec_len]
        if not rec or rec[0:1] == b"*":
            continue
        cells: list[str | None] = []
        p = 1
        for _, width in fields:
            cells.append(rec[p : p + width].decode("utf-8", "replace").strip() or None)
            p += width
        rows.append(cells)
        lines.append(i + 1)
    headers = [f for f, _ in fields]
    ctx = FileContext(source_file=source_file, product="firms_shapefile")
    return normalise_rows(headers, rows, lines, ctx, config)


def _read_zip(data: bytes, source_file: str, config: FireConfig | None) -> ReadResult:
    results: list[ReadResult] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            name = info.filename
            low = name.lower()
            inner = f"{source_file}!{name}"
            if low.endswith(".csv"):
                results.append(read_csv_text(zf.read(name).decode("utf-8-sig"), inner, config=config))
            elif low.endswith(".json"):
                results.append(read_firms_json(zf.read(name).decode("utf-8-sig"), inner, config=config))
            elif low.endswith(".dbf"):
                results.append(read_dbf(zf.read(name), inner, config=config))
    if not results:
        raise FireFormatError(f"{source_file}: zip holds no fire CSV, JSON or DBF; supported: {SUPPORTED_FORMATS}")
    return ReadResult(
        source_file,
        "firms_zip",
        pl.concat([r.detections for r in results]),
        [row for r in results for row in r.rejected],
        sorted({u for r in results for u in r.unmapped}),
        [w for r in results for w in r.warnings],
    )


def read_fire_file(path: str | Path, *, config: FireConfig | None = None, date_order: str | None = None) -> ReadResult:
    """Read any supported fire-point file into the normalised detection frame.

    Parameters
    ----------
    path : str or Path
    config : FireConfig, optional
    date_order : {"mdy", "dmy"}, optional
        The import profile's order for ``NN/NN/YYYY`` dates.

    Raises
    ------
    FireFormatError
        For an unsupported format (KML included), a body without header, API error text, missing lat/lon/time
        or ambiguous dates. Straw-burning bulletin lists are not detections: use :func:`read_bulletin`.
    """
    p = Path(path)
    name = p.name
    low = name.lower()
    data = p.read_bytes()
    if low.endswith(".zip"):
        return _read_zip(data, name, config)
    if low.endswith(".dbf"):
        return read_dbf(data, name, config=config)
    if low.endswith((".hdf", ".h5", ".hdf5", ".nc")) or data[:8] == b"\x89HDF\r\n\x1a\n":
        from bogda.fire.fy_hdf5 import read_fy_hdf5  # h5py is imported only for these files

        return read_fy_hdf5(p, config=config)
    if low.endswith((".xlsx", ".xlsm")):
        headers, rows, lines = xlsx_rows(p)
        norm = {normalise_header(h)[0] for h in headers}
        if "中心经度" in norm or ("省" in norm and "县" in norm):
            raise FireFormatError(f"{name}: this is a bulletin list (时间, 中心经度, 省, 市, 县): use read_bulletin")
        ctx = FileContext(source_file=name, product="cn_table", date_order=date_order)
        return normalise_rows(headers, rows, lines, ctx, config)
    if not low.endswith((".csv", ".txt", ".json", ".tsv")):
        raise FireFormatError(f"{name}: unsupported format; supported: {'; '.join(SUPPORTED_FORMATS)}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    stripped = text.lstrip()
    if low.endswith(".json") or stripped.startswith(("[", "{")):
        return read_firms_json(text, name, config=config)
    if _CSPP_NAME.search(name) or stripped.startswith("# Active Fires"):
        return read_cspp_afimg(text, name, config=config)
    if _AHI_NAME.match(name) or (stripped.startswith("#") and "hot(id)" in text[:400].lower()):
        return read_ahi_wlf(text, name, config=config)
    if _FY_NAME.match(name) or ("纬度" in text[:400] and "火" in text[:400]):
        return read_fy_table(text, name, config=config)
    first = stripped.splitlines()[0] if stripped else ""
    if "中心经度" in first:
        raise FireFormatError(f"{name}: this is a bulletin list (时间, 中心经度, 省, 市, 县): use read_bulletin")
    return read_csv_text(text, name, config=config, date_order=date_order)


def read_fire_files(
    paths: Iterable[str | Path], *, config: FireConfig | None = None
) -> tuple[list[ReadResult], dict[str, str]]:
    """Read several files independently: a file error is reported for that file and the others are still read.

    Returns
    -------
    (results, errors) : list of ReadResult, dict file name → message
    """
    results: list[ReadResult] = []
    errors: dict[str, str] = {}
    for p in paths:
        try:
            results.append(read_fire_file(p, config=config))
        except FireFormatError as exc:
            errors[Path(p).name] = str(exc)
    return results, errors


# --------------------------------------------------------------------------------------------------------------
# De-duplication (§3.1)

KEY_COLUMNS = ("processing", "satellite", "acq_time_utc", "lat4", "lon4")


def detection_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """The upsert key (satellite, acq_time_utc, round(lat, 4), round(lon, 4)), with NRT and SP kept apart."""
    return frame.select(
        "processing", "satellite", "acq_time_utc", lat4=pl.col("lat").round(4), lon4=pl.col("lon").round(4)
    )


def deduplicate(frame: pl.DataFrame, existing: pl.DataFrame | None = None) -> tuple[pl.DataFrame, int]:
    """Drop rows whose key repeats within ``frame`` or already exists in ``existing`` (fire.md §3.1).

    Returns
    -------
    (unique rows, number of duplicates)
    """
    keyed = frame.with_columns(lat4=pl.col("lat").round(4), lon4=pl.col("lon").round(4))
    unique = keyed.unique(subset=list(KEY_COLUMNS), keep="first", maintain_order=True)
    if existing is not None and existing.height:
        old = detection_keys(existing).unique()
        unique = unique.join(old, on=list(KEY_COLUMNS), how="anti", nulls_equal=True)
    return unique.drop("lat4", "lon4"), frame.height - unique.height
