"""Weather inputs: the CSV adapter for NWP-like and observed-weather files, run selection, and the
observed-weather-as-perfect-forecast path (forecast.md §2 "NWP adapters", §3.4, §3.9).

CSV layout (UTF-8, header): ``run_time,valid_time,station_code,variable,value,unit`` or
``run_time,valid_time,lat,lon,variable,value,unit``; ISO 8601 times **with** offset. Each accepted row becomes one
``nwp_value(source, run_time, valid_start, valid_end, location_id, variable, value)`` row in canonical units
(°C, hPa, mm, m/s, %, W/m², 0–1). Bad rows are rejected with file, line, field and reason, counted and kept;
they never crash the batch and are never dropped silently. NetCDF and GRIB2 adapters will write the same rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from bogda.forecast.features import WEATHER, Panel, panel_from_frame, relative_humidity, wind_components

NWP_LATENCY = timedelta(hours=6)
"""A run is usable when run_time + latency ≤ issue time (forecast.md §2, default)."""

NWP_FALLBACK_AGE = timedelta(hours=24)
"""An earlier run may stand in up to this much older than the newest expected run (forecast.md §3.4, default)."""

NWP_VARIABLES: dict[str, str] = {
    "t2m": "°C",
    "td2m": "°C",
    "rh2m": "%",
    "ws10": "m/s",
    "u10": "m/s",
    "v10": "m/s",
    "gust": "m/s",
    "psfc": "hPa",
    "precip": "mm",
    "blh": "m",
    "ssrd": "W/m²",
    "tcc": "1",
    "t850": "°C",
}
"""Canonical NWP variables and units (forecast.md §2)."""

_UNIT_ALIASES: dict[str, str] = {
    "c": "°C", "°c": "°C", "degc": "°C", "celsius": "°C", "k": "K",
    "pa": "Pa", "kpa": "kPa", "hpa": "hPa", "mb": "hPa", "mbar": "hPa",
    "mm": "mm", "m": "m", "m/s": "m/s", "m s-1": "m/s", "ms-1": "m/s",
    "%": "%", "1": "1", "0-1": "1", "fraction": "1",
    "w/m2": "W/m²", "w/m²": "W/m²", "w m-2": "W/m²", "j/m2": "J/m²", "j m-2": "J/m²", "j/m²": "J/m²",
}  # fmt: skip


def convert_unit(variable: str, value: float, unit: str) -> float:
    """Value of ``variable`` in its canonical unit; K → °C, Pa or kPa → hPa, m → mm (precipitation), % → 1 (cloud).

    Raises
    ------
    ValueError
        for a missing or incompatible unit, and for J/m² (de-accumulation needs time bounds, which a CSV row
        does not carry: never guessed).

    >>> convert_unit("t2m", 273.15, "K")
    0.0
    >>> convert_unit("psfc", 101325.0, "Pa")
    1013.25
    >>> convert_unit("precip", 0.0012, "m")
    1.2
    """
    target = NWP_VARIABLES[variable]
    u = _UNIT_ALIASES.get(unit.strip().lower())
    if u is None:
        raise ValueError(f"unknown unit {unit!r}")
    if u == target:
        return value
    if target == "°C" and u == "K":
        return value - 273.15
    if target == "hPa" and u == "Pa":
        return value / 100.0
    if target == "hPa" and u == "kPa":  # HJ 212 stations report pressure in kPa
        return value * 10.0
    if variable == "precip" and u == "m":
        return value * 1000.0
    if variable == "tcc" and u == "%":
        return value / 100.0
    if u == "J/m²":
        raise ValueError("J/m² needs the accumulation interval (time bounds) to become W/m²; not guessed")
    raise ValueError(f"unit {unit!r} does not fit {variable} (expected {target})")


@dataclass(frozen=True)
class RowError:
    """One rejected input row: where, which field, why, and the raw text (kept, never dropped silently)."""

    file: str
    line: int
    field: str
    reason: str
    raw: str


@dataclass
class WeatherBatch:
    """Accepted rows as ``nwp_value`` columns, and the rejected rows with reasons."""

    values: pl.DataFrame
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was accepted but not done as asked (e.g. temperature left at the model's height), for the operator."""

    @property
    def n_rejected(self) -> int:
        return len(self.errors)


_SCHEMA = {
    "source": pl.Utf8,
    "run_time": pl.Datetime("us", "UTC"),
    "valid_start": pl.Datetime("us", "UTC"),
    "valid_end": pl.Datetime("us", "UTC"),
    "location_id": pl.Utf8,
    "variable": pl.Utf8,
    "value": pl.Float64,
}


def _aware(text: str) -> datetime:
    ts = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if ts.tzinfo is None:
        raise ValueError("time has no offset (ISO 8601 with offset required)")
    return ts


def read_weather_csv(
    source: str | Path,
    *,
    name: str = "csv",
    step: timedelta = timedelta(hours=1),
    text: str | None = None,
) -> WeatherBatch:
    """Read a weather CSV (forecast.md §2 CSV adapter) into ``nwp_value`` rows.

    Parameters
    ----------
    source : path of the file (also used in error messages)
    name : the ``source`` label written on each row (e.g. ``"ecmwf_csv"`` or ``"observed"``)
    step : interval each ``valid_time`` starts [h]; precipitation is per this interval
    text : the file's content, when already in memory
    """
    label = str(source)
    content = text if text is not None else Path(source).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(content))
    header = [h.strip() for h in next(reader, [])]
    by_station = {"run_time", "valid_time", "station_code", "variable", "value", "unit"} <= set(header)
    by_point = {"run_time", "valid_time", "lat", "lon", "variable", "value", "unit"} <= set(header)
    if not (by_station or by_point):
        raise ValueError(
            f"{label}: header must be run_time,valid_time,station_code|lat,lon,variable,value,unit; got {header}"
        )
    col = {h: i for i, h in enumerate(header)}
    rows: list[tuple[object, ...]] = []
    errors: list[RowError] = []
    for line_no, rec in enumerate(reader, start=2):
        raw = ",".join(rec)
        if not rec or all(not c.strip() for c in rec):
            continue
        if len(rec) != len(header):
            errors.append(RowError(label, line_no, "*", f"{len(rec)} fields, expected {len(header)}", raw))
            continue
        fld = "run_time"
        try:
            run = _aware(rec[col["run_time"]])
            fld = "valid_time"
            valid = _aware(rec[col["valid_time"]])
            fld = "variable"
            var = rec[col["variable"]].strip()
            if var not in NWP_VARIABLES:
                raise ValueError(f"unknown variable {var!r}")
            fld = "value"
            val = float(rec[col["value"]])
            if not np.isfinite(val):
                raise ValueError("value is not a finite number")
            fld = "unit"
            val = convert_unit(var, val, rec[col["unit"]])
            fld = "station_code" if by_station else "lat"
            if by_station:
                loc = rec[col["station_code"]].strip()
                if not loc:
                    raise ValueError("empty station code")
            else:
                lat, lon = float(rec[col["lat"]]), float(rec[col["lon"]])
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise ValueError(f"coordinates out of range ({lat}, {lon})")
                loc = f"{lat:.4f},{lon:.4f}"
        except (ValueError, KeyError) as exc:
            errors.append(RowError(label, line_no, fld, str(exc), raw))
            continue
        rows.append((name, run, valid, valid + step, loc, var, val))
    frame = pl.DataFrame(rows, schema=_SCHEMA, orient="row")
    dup = frame.group_by("run_time", "valid_start", "location_id", "variable").agg(pl.col("value").n_unique())
    conflicts = dup.filter(pl.col("value") > 1)
    if conflicts.height:
        bad = conflicts.row(0, named=True)
        raise ValueError(
            f"{label}: {conflicts.height} conflicting duplicate value(s), first {bad['location_id']} "
            f"{bad['variable']} valid {bad['valid_start']} run {bad['run_time']}"
        )
    return WeatherBatch(frame.unique(maintain_order=True), errors)


def derive_weather(frame: pl.DataFrame) -> pl.DataFrame:
    """Complete a wide weather frame: RH from T and Td (Magnus), u/v from speed and direction, speed from u/v.

    ``frame`` has columns among ``t2m, td2m, rh2m, ws10, wd10`` (degrees), ``u10, v10``; missing derived columns
    are added, measured ones are kept.
    """
    out = frame
    cols = set(out.columns)
    if "rh2m" not in cols and {"t2m", "td2m"} <= cols:
        rh = relative_humidity(out["t2m"].to_numpy(), out["td2m"].to_numpy())
        out = out.with_columns(pl.Series("rh2m", rh))
    if not {"u10", "v10"} <= cols and {"ws10", "wd10"} <= cols:
        u, v = wind_components(out["ws10"].to_numpy(), out["wd10"].to_numpy())
        out = out.with_columns(pl.Series("u10", u), pl.Series("v10", v))
    if "ws10" not in cols and {"u10", "v10"} <= set(out.columns):
        out = out.with_columns((pl.col("u10") ** 2 + pl.col("v10") ** 2).sqrt().alias("ws10"))
    return out


def select_run(
    run_times: Sequence[datetime],
    issue_time: datetime,
    *,
    latency: timedelta = NWP_LATENCY,
    fallback_age: timedelta = NWP_FALLBACK_AGE,
) -> tuple[datetime | None, list[str]]:
    """The newest run usable at ``issue_time`` and the reasons the forecast is ``degraded`` (forecast.md §3.4).

    Usable: run_time + latency ≤ issue_time. The newest expected run is the newest one that could have arrived;
    a run older than that by more than ``fallback_age`` is not used (the no-NWP models take over).
    """
    usable = sorted(r for r in run_times if r + latency <= issue_time)
    if not usable:
        return None, ["no NWP run available by the issue time: weather mode none"]
    newest = usable[-1]
    age = issue_time - latency - newest
    if age > fallback_age:
        return None, [f"newest usable NWP run {newest.isoformat()} is {age} older than expected: weather mode none"]
    reasons = [] if age < timedelta(hours=12) else [f"using an earlier NWP run {newest.isoformat()}"]
    return newest, reasons


def run_panel(batch: pl.DataFrame, run_time: datetime, like: Panel) -> Panel:
    """One NWP run as a weather :class:`Panel` aligned with the observation panel ``like``.

    Stations of ``like`` the run does not cover get NaN (the caller rejects the variable when a station is
    missing, forecast.md §6); derived variables (RH, u/v, speed) are completed.
    """
    run = batch.filter(pl.col("run_time") == run_time)
    wide = run.pivot(on="variable", index=["location_id", "valid_start"], values="value", aggregate_function="first")
    wide = derive_weather(wide).rename({"location_id": "station_code", "valid_start": "ts"})
    wide = wide.filter(pl.col("station_code").is_in(list(like.stations)))
    variables = [v for v in WEATHER if v in wide.columns]
    if wide.height == 0:
        raise ValueError(f"run {run_time.isoformat()} covers none of the panel's stations")
    p = panel_from_frame(wide, variables, stations=like.stations)
    shift = like.day_position(p.first_day) * 24
    data = {}
    for v in variables:
        arr = np.full((len(like.stations), like.n_hours), np.nan)
        lo, hi = max(shift, 0), min(shift + p.n_hours, like.n_hours)
        if hi > lo:
            arr[:, lo:hi] = p.data[v][:, lo - shift : hi - shift]
        data[v] = arr
    return Panel(like.first_day, like.stations, data, like.coords)


def observed_as_forecast(panel: Panel) -> Panel:
    """The weather of ``panel`` served as a perfect forecast (mode ``observed_proxy``: an upper bound on what
    NWP can give, never reported as operational skill, forecast.md §3.9)."""
    return Panel(panel.first_day, panel.stations, {v: panel.data[v] for v in WEATHER if v in panel.data}, panel.coords)
