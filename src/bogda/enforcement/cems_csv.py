"""Read CEMS and electricity-meter CSV files into long frames and load them as outlet / meter series.

Layouts (recognised from the header):

``generic`` CEMS (documented for bureaus exporting from a logger platform)
    ``time`` (also ``ts``, ``datatime``, ``datetime``) then one column per HJ 212-2017 code (``a21002``, ``a19001``,
    ``i33400`` …) and optionally ``<code>_flag`` (HJ 212 flag, default ``N``). A time without an offset is Beijing
    time; it labels the **start** of its hour unless ``labelled_by="end"``. Written at resolution ``hour``.
``gas_turbine`` (UCI gas-turbine files: ``row,AT,AP,…,TEY,CDP,CO,NOX``)
    No timestamps: row *i* is hour *i* from ``start`` (required). NOX → a21002, CO → a21005, TEY → i33400 (the
    energy yield serves as the load proxy); the ambient and turbine columns are reported as ignored.
``campd`` (US EPA CAMPD hourly: ``State,Facility Name,…,Date,Hour,Gross Load (MW),…``)
    ``Date`` + ``Hour`` (hour beginning) in the facility's local standard time, ``utc_offset_h`` hours from UTC
    (required, e.g. −5 for Georgia). Columns become ``gross_load_mw``, ``steam_load_klb_h``, ``so2_mass_lb``,
    ``co2_mass_t``, ``nox_mass_lb``, ``heat_input`` (mmBtu).
``generic`` meter
    ``time`` then ``p_kw`` (mean power of the interval) and/or ``kwh`` (energy of the interval); resolution
    ``min`` (or ``hour`` for hourly spacing).
``steel`` meter (``date,interval_end,Usage_kWh,…``: 15-min energy labelled by the interval **end**)
    ``Usage_kWh`` → ``kwh`` at the interval start (end − 15 min), local time read as Beijing time.

Bad rows are never dropped silently: each is returned in ``rejected`` with its line, field and reason.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from bogda.store import Store, series
from bogda.store.series import WriteResult
from bogda.timeutil import parse_time

TIME_COLUMNS = ("time", "ts", "datatime", "datetime", "ts_utc")
GAS_TURBINE = {"NOX": "a21002", "CO": "a21005", "TEY": "i33400"}
CAMPD = {
    "Gross Load (MW)": "gross_load_mw",
    "Steam Load (1000 lb/hr)": "steam_load_klb_h",
    "SO2 Mass (lbs)": "so2_mass_lb",
    "CO2 Mass (short tons)": "co2_mass_t",
    "NOx Mass (lbs)": "nox_mass_lb",
    "Heat Input (mmBtu)": "heat_input",
}
UNITS = {
    "a21002": "mg/m3",
    "a21026": "mg/m3",
    "a34013": "mg/m3",
    "a21005": "mg/m3",
    "a19001": "%",
    "i33400": "%",
    "a00000": "m3/s",
    "a01012": "C",
    "p_kw": "kW",
    "kwh": "kWh",
}
FLAGS = ("N", "F", "M", "C", "S", "D", "T", "B")


@dataclass
class CsvRead:
    """A parsed file: long frame ``parameter, ts, value, flag``, the rejected cells, what was ignored."""

    path: str
    layout: str
    frame: pl.DataFrame
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, field, reason)
    ignored: list[str] = field(default_factory=list)
    resolution: str = "hour"

    def problems(self) -> list[str]:
        return [f"{self.path}:{line}: {fld}: {why}" for line, fld, why in self.rejected]


def _num(text: str) -> float | None:
    """A float, or None for an empty cell; ``ValueError`` for anything else (NaN/inf refused)."""
    t = text.strip()
    if t == "":
        return None
    v = float(t)
    if math.isnan(v) or math.isinf(v):
        raise ValueError(f"not a finite number: {t!r}")
    return v


def _frame(rows: list[tuple[str, datetime, float | None, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"parameter": pl.Utf8, "ts": pl.Datetime("us", "UTC"), "value": pl.Float64, "flag": pl.Utf8},
        orient="row",
    )


def layout_of(header: list[str]) -> str:
    """``gas_turbine``, ``campd``, ``steel`` or ``generic`` from a header line."""
    names = set(header)
    if {"row", "TEY", "NOX", "CO"} <= names:
        return "gas_turbine"
    if {"Date", "Hour", "Facility ID"} <= names:
        return "campd"
    if {"interval_end", "Usage_kWh"} <= names:
        return "steel"
    return "generic"


def read_cems_csv(
    path: str | Path,
    *,
    start: datetime | None = None,
    utc_offset_h: float | None = None,
    labelled_by: str = "start",
) -> CsvRead:
    """Parse a CEMS CSV (layouts in the module docstring) into a long frame of hourly values."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        body = list(reader)
    layout = layout_of(header)
    if layout == "steel":
        raise ValueError(f"{path}: an electricity-meter layout; use the meter import")
    out = CsvRead(str(path), layout, _frame([]))
    rows: list[tuple[str, datetime, float | None, str]] = []
    if layout == "gas_turbine":
        if start is None or start.tzinfo is None:
            raise ValueError(f"{path}: the gas-turbine layout has no timestamps; give an aware start time")
        cols = {header.index(c): code for c, code in GAS_TURBINE.items()}
        out.ignored = [h for h in header if h not in GAS_TURBINE and h != "row"]
        for n, rec in enumerate(body, start=2):
            try:
                i = int(rec[header.index("row")])
            except (ValueError, IndexError):
                out.rejected.append((n, "row", "not an integer row index"))
                continue
            ts = start.astimezone(UTC) + timedelta(hours=i)
            for k, code in cols.items():
                try:
                    rows.append((code, ts, _num(rec[k]), "N"))
                except (ValueError, IndexError) as exc:
                    out.rejected.append((n, header[k], str(exc) or "missing"))
    elif layout == "campd":
        if utc_offset_h is None:
            raise ValueError(f"{path}: CAMPD hours are local standard time; give utc_offset_h (e.g. -5)")
        tz = timezone(timedelta(hours=utc_offset_h))
        cols = {header.index(c): code for c, code in CAMPD.items() if c in header}
        out.ignored = [h for h in header if h not in CAMPD and h not in ("Date", "Hour")]
        di, hi = header.index("Date"), header.index("Hour")
        for n, rec in enumerate(body, start=2):
            try:
                day = datetime.strptime(rec[di].strip(), "%Y-%m-%d")
                ts = (day + timedelta(hours=int(rec[hi]))).replace(tzinfo=tz).astimezone(UTC)
            except (ValueError, IndexError):
                out.rejected.append((n, "Date/Hour", "not a date and hour"))
                continue
            for k, code in cols.items():
                try:
                    rows.append((code, ts, _num(rec[k]), "N"))
                except (ValueError, IndexError) as exc:
                    out.rejected.append((n, header[k], str(exc) or "missing"))
    else:
        rows = _generic(header, body, out, labelled_by, step=timedelta(hours=1))
    out.frame = _frame(rows).filter(pl.col("value").is_not_null() | (pl.col("flag") != "N"))
    return out


def _generic(
    header: list[str], body: list[list[str]], out: CsvRead, labelled_by: str, *, step: timedelta
) -> list[tuple[str, datetime, float | None, str]]:
    low = [h.lower() for h in header]
    ti = next((low.index(c) for c in TIME_COLUMNS if c in low), None)
    if ti is None:
        raise ValueError(f"{out.path}: no time column (one of {', '.join(TIME_COLUMNS)}) in the header")
    if labelled_by not in ("start", "end"):
        raise ValueError("labelled_by must be 'start' or 'end'")
    values = {i: h for i, h in enumerate(header) if i != ti and not h.endswith("_flag")}
    flags = {h.removesuffix("_flag"): i for i, h in enumerate(header) if h.endswith("_flag")}
    rows: list[tuple[str, datetime, float | None, str]] = []
    for n, rec in enumerate(body, start=2):
        if not any(c.strip() for c in rec):
            continue
        try:
            ts = parse_time(rec[ti])
        except (ValueError, IndexError) as exc:
            out.rejected.append((n, header[ti], f"bad time: {exc}"))
            continue
        if labelled_by == "end":
            ts -= step
        for k, code in values.items():
            flag = rec[flags[code]].strip().upper() if code in flags and flags[code] < len(rec) else "N"
            flag = flag or "N"
            if flag not in FLAGS:
                out.rejected.append((n, f"{code}_flag", f"unknown HJ 212 flag {flag!r}"))
                continue
            try:
                rows.append((code, ts, _num(rec[k]), flag))
            except (ValueError, IndexError) as exc:
                out.rejected.append((n, code, str(exc) or "missing"))
    return rows


def read_meter_csv(path: str | Path, *, labelled_by: str = "start") -> CsvRead:
    """Parse an electricity-meter CSV (``steel`` or generic layout) into ``p_kw`` / ``kwh`` values."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        body = list(reader)
    layout = layout_of(header)
    out = CsvRead(str(path), layout if layout == "steel" else "generic", _frame([]), resolution="min")
    rows: list[tuple[str, datetime, float | None, str]] = []
    if layout == "steel":
        ei, ui = header.index("interval_end"), header.index("Usage_kWh")
        out.ignored = [h for h in header if h not in ("interval_end", "Usage_kWh", "date")]
        for n, rec in enumerate(body, start=2):
            try:
                ts = parse_time(rec[ei]) - timedelta(minutes=15)
                rows.append(("kwh", ts, _num(rec[ui]), "N"))
            except (ValueError, IndexError) as exc:
                out.rejected.append((n, "interval_end/Usage_kWh", str(exc) or "missing"))
    else:
        rows = _generic(header, body, out, labelled_by, step=timedelta(minutes=15))
        bad = {r[0] for r in rows} - {"p_kw", "kwh"}
        if bad:
            raise ValueError(f"{path}: meter columns must be p_kw or kwh, not {sorted(bad)}")
    out.frame = _frame(rows).filter(pl.col("value").is_not_null())
    if out.frame.height >= 2:
        step = out.frame.select(pl.col("ts").unique().sort().diff().dt.total_seconds().median()).item()
        out.resolution = "hour" if step and step >= 3600 else "min"
    return out


def load_read(store: Store, read: CsvRead, site_id: int) -> WriteResult:
    """Write a parsed file as series of ``site_id`` (idempotent: the same file twice writes nothing new)."""
    df = read.frame.with_columns(
        pl.lit(site_id, pl.Int64).alias("site_id"),
        pl.col("parameter").replace_strict(UNITS, default="", return_dtype=pl.Utf8).alias("unit"),
    )
    return series.write_long(store, df, resolution=read.resolution, reason=f"re-import of {Path(read.path).name}")
