"""Straw-burning bulletin lists (秸秆焚烧火点通报清单, fire.md §2.4 last row): points published by MEE/provincial
bulletins, read into ``bulletin_fire_point`` rows, not detections."""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from pathlib import Path

import polars as pl

from bogda.fire.records import FireFormatError, RejectedRow, map_headers, raw_text, xlsx_rows

# --------------------------------------------------------------------------------------------------------------
# Bulletin lists (§2.4 last row)

BULLETIN_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "line_no": pl.Int64(),
    "date_bjt": pl.Date(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "province": pl.String(),
    "city": pl.String(),
    "county": pl.String(),
    "township": pl.String(),
    "satellite_text": pl.String(),
}
_DMS = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*°\s*(?:(\d+(?:\.\d+)?)\s*['′’]\s*)?(?:(\d+(?:\.\d+)?)\s*(?:\"|″|”|'')\s*)?([NSEW])?\s*$"
)


def parse_degrees(text: str | float | int | None) -> float | None:
    """Decimal degrees from a decimal number or a DMS string (ASCII or Unicode primes).

    >>> round(parse_degrees("116°14'37.289\\"E"), 6)
    116.243691
    >>> parse_degrees("44.5"), parse_degrees(None)
    (44.5, None)
    """
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text)
    s = text.strip()
    try:
        return float(s)
    except ValueError:
        pass
    m = _DMS.match(s)
    if not m:
        return None
    deg = float(m.group(1)) + float(m.group(2) or 0) / 60 + float(m.group(3) or 0) / 3600
    return -deg if m.group(4) in ("S", "W") else deg


def read_bulletin(path: str | Path) -> tuple[pl.DataFrame, list[RejectedRow]]:
    """Read a straw-burning bulletin list (xlsx or CSV: 时间, 中心经度, 中心纬度, 省, 市, 县 [, 乡镇, 卫星过境日期]).

    These are points published in MEE/provincial bulletins, not detections (they go to ``bulletin_fire_point``).
    Coordinates may be decimal or DMS; all whitespace and line breaks inside admin names are deleted (PDF
    extraction leaves them). Datum: WGS-84 unless configured otherwise by the caller.
    """
    p = Path(path)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        headers, rows, lines = xlsx_rows(p)
    else:
        text = p.read_bytes().decode("utf-8-sig")
        all_lines = text.splitlines()
        headers = next(csv.reader([all_lines[0]]))
        body = [(i + 1, ln) for i, ln in enumerate(all_lines) if i > 0 and ln.strip()]
        rows = [list(r) for r in csv.reader([ln for _, ln in body])]
        lines = [n for n, _ in body]
    mapping, _, _ = map_headers(headers)
    need = [n for n in ("lat", "lon", "acq_date") if n not in mapping]
    if need:
        raise FireFormatError(f"{p.name}: bulletin list lacks {need}; headers found: {headers}")
    sat_idx = next((i for i, h in enumerate(headers) if "卫星" in h), None)
    out: list[dict[str, object]] = []
    rejected: list[RejectedRow] = []

    def cell(row: list[str | None], key: str) -> str | None:
        idx = mapping.get(key)
        return row[idx] if idx is not None and idx < len(row) else None

    def clean(v: str | None) -> str | None:
        return re.sub(r"\s+", "", v) if v is not None else None

    for row, line in zip(rows, lines, strict=True):
        lat = parse_degrees(cell(row, "lat"))
        lon = parse_degrees(cell(row, "lon"))
        raw_date = cell(row, "acq_date") or ""
        day: date | None = None
        for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"):
            try:
                day = datetime.strptime(raw_date.strip()[: len(raw_date.strip())].split(" ")[0], fmt).date()
                break
            except ValueError:
                continue
        why = []
        if lat is None or not -90 <= lat <= 90:
            why.append("lat: not a valid latitude")
        if lon is None or not -180 <= lon <= 180:
            why.append("lon: not a valid longitude")
        if day is None:
            why.append("date: not recognised")
        if why:
            rejected.append(RejectedRow(p.name, line, why[0].split(":")[0], "; ".join(why), raw_text(row)))
            continue
        out.append(
            {
                "source_file": p.name,
                "line_no": line,
                "date_bjt": day,
                "lat": lat,
                "lon": lon,
                "province": clean(cell(row, "province")),
                "city": clean(cell(row, "city")),
                "county": clean(cell(row, "county")),
                "township": clean(cell(row, "township")),
                "satellite_text": row[sat_idx] if sat_idx is not None and sat_idx < len(row) else None,
            }
        )
    return pl.DataFrame(out, schema=BULLETIN_SCHEMA), rejected
