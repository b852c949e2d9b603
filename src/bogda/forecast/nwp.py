"""NWP adapters for gridded files: NetCDF (CF, xarray + h5netcdf) and GRIB2 (ecCodes), interpolated to stations
(forecast.md §2 "NWP adapters", §6).

Every adapter returns a :class:`~bogda.forecast.weather.WeatherBatch` of ``nwp_value`` rows in canonical units, like
the CSV adapter of :mod:`bogda.forecast.weather`; :func:`load_nwp` writes them (and area means) to the store.

- **Interpolation**: bilinear from the 4 surrounding grid points (forecast.md §2, d), on a regular latitude/longitude
  grid (either axis order). A station outside the grid rejects that variable for the file, naming file, variable
  and station (never extrapolated).
- **Height**: 2 m temperature is corrected from the model's surface height to the station's at 6.5 K/km (forecast.md
  §2, d; :func:`height_corrected`) when the file carries the model orography (``orog``/``surface_altitude`` in m,
  or the surface geopotential ``z`` in m² s⁻² divided by g) and the station its elevation (registry
  ``elevation_m``); otherwise the batch says in ``notes`` which stations were left uncorrected and why.
- **Units** from ``units`` (NetCDF) or the ecCodes ``units`` key (GRIB): K → °C, Pa → hPa, m → mm, J/m² → W/m²;
  a variable without a unit is rejected, naming file and variable.
- **Accumulation** only from metadata, never guessed: NetCDF ``cell_methods`` "time: sum" (or "mean") with time
  bounds; GRIB each message's step range (``startStep``-``endStep``, ``stepType`` accum or avg), interval amounts
  and running totals alike (:func:`deaccumulate`). J/m² per interval becomes W/m² by dividing by the interval.
- A corrupt GRIB message is skipped and logged; the batch records it as an error (field :data:`CORRUPT`) and
  :func:`load_nwp` records the run as ``degraded`` in its ``nwp_run`` row (:func:`run_info`); the run's arrival time
  is recorded there too, for the rule "usable when the recorded arrival ≤ issue time" (forecast.md §2;
  :mod:`bogda.forecast.nwp_archive`).
"""

from __future__ import annotations

import contextlib
import logging
import mmap

# Python's sqlite3 must be loaded before ecCodes: the eckitlib wheel (an ecCodes dependency) ships its own libsqlite3
# 3.26 (no RETURNING) with global symbols, and a _sqlite3 loaded after it binds to that one, for the store's SQLite too.
import sqlite3  # noqa: F401  (isort: keep before ecCodes is imported below)
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bogda.forecast.features import relative_humidity
from bogda.forecast.weather import (
    _SCHEMA,
    NWP_FALLBACK_AGE,
    NWP_LATENCY,
    NWP_VARIABLES,
    RowError,
    WeatherBatch,
    convert_unit,
)

log = logging.getLogger(__name__)

NAMES: dict[str, str] = {
    "t2m": "t2m",
    "2t": "t2m",
    "tas": "t2m",
    "air_temperature": "t2m",
    "d2m": "td2m",
    "2d": "td2m",
    "td2m": "td2m",
    "dew_point_temperature": "td2m",
    "r2": "rh2m",
    "rh2m": "rh2m",
    "hurs": "rh2m",
    "relative_humidity": "rh2m",
    "u10": "u10",
    "10u": "u10",
    "uas": "u10",
    "eastward_wind": "u10",
    "v10": "v10",
    "10v": "v10",
    "vas": "v10",
    "northward_wind": "v10",
    "si10": "ws10",
    "ws10": "ws10",
    "wind_speed": "ws10",
    "i10fg": "gust",
    "fg10": "gust",
    "10fg": "gust",
    "gust": "gust",
    "wind_speed_of_gust": "gust",
    "sp": "psfc",
    "psfc": "psfc",
    "surface_air_pressure": "psfc",
    "tp": "precip",
    "precip": "precip",
    "pr": "precip",
    "precipitation_amount": "precip",
    "blh": "blh",
    "atmosphere_boundary_layer_thickness": "blh",
    "ssrd": "ssrd",
    "sdswrf": "ssrd",
    "avg_sdswrf": "ssrd",
    "surface_downwelling_shortwave_flux_in_air": "ssrd",
    "tcc": "tcc",
    "cloud_area_fraction": "tcc",
    "t850": "t850",
}
"""File variable names (short names, GRIB shortNames, CF standard names) → canonical NWP variables."""

ACCUMULATED = ("precip", "ssrd")

LAPSE_RATE = 0.0065
"""Temperature lapse rate for the height correction of 2 m temperature [K/m] (forecast.md §2, d)."""
G0 = 9.80665
"""Standard gravity [m/s²]: surface geopotential → orography."""
HEIGHT_NAMES: dict[str, str] = {
    "orog": "height",
    "hsurf": "height",
    "hgt": "height",
    "surface_altitude": "height",
    "z": "geopotential",
    "geopotential": "geopotential",
    "surface_geopotential": "geopotential",
}
"""File variable names (short names, GRIB shortNames, CF standard names) of the model's surface height."""
_GEOPOTENTIAL_UNITS = {"m**2 s**-2", "m2 s-2", "m^2 s^-2", "m2/s2", "m^2/s^2", "m**2/s**2"}


def height_corrected(t: np.ndarray, model_height: float, station_height: float) -> np.ndarray:
    """Temperature at the station's height from the model's at its surface height, at :data:`LAPSE_RATE`.

    Parameters
    ----------
    t : temperature at the model surface [°C or K]
    model_height, station_height : heights above sea level [m]

    >>> height_corrected(np.array([10.0]), 1200.0, 800.0).tolist()  # the station 400 m lower: 2.6 K warmer
    [12.6]
    """
    return np.asarray(t, dtype=float) + LAPSE_RATE * (model_height - station_height)


def _names_height(name: str, attrs: Mapping[str, Any]) -> bool:
    return name in HEIGHT_NAMES or str(attrs.get("standard_name", "")) in HEIGHT_NAMES


def _surface_height(name: str, attrs: Mapping[str, Any], values: np.ndarray) -> np.ndarray | None:
    """The model orography [m] from a height or geopotential field, or None if ``name`` is neither (or its unit is
    not one of metres / m² s⁻²)."""
    kind = HEIGHT_NAMES.get(name) or HEIGHT_NAMES.get(str(attrs.get("standard_name", "")))
    unit = str(attrs.get("GRIB_units") or attrs.get("units") or "").strip()
    if kind == "height" and unit in ("m", "metre", "metres", "meter", "meters"):
        return values
    if kind == "geopotential" and unit in _GEOPOTENTIAL_UNITS:
        return values / G0
    return None


def _to_station_height(
    values: np.ndarray,
    orography: np.ndarray | None,
    lats: np.ndarray,
    lons: np.ndarray,
    points: Mapping[str, tuple[float, float]],
    heights: Mapping[str, float | None] | None,
    notes: list[str],
) -> np.ndarray:
    """Correct interpolated 2 m temperature (times × stations) to the stations' heights from a model orography
    field on the grid (lats × lons), noting what was not."""
    model = None
    if heights is not None and orography is not None:
        model = np.array([float(bilinear(orography[None], lats, lons, la, lo)[0]) for la, lo in points.values()])
    return _height_correct(values, model, points, heights, notes)


def _height_correct(
    values: np.ndarray,
    model_heights: np.ndarray | None,
    points: Mapping[str, tuple[float, float]],
    heights: Mapping[str, float | None] | None,
    notes: list[str],
) -> np.ndarray:
    """Correct 2 m temperature (times × stations) from the model's surface height at each station
    (``model_heights`` [m], None: the file has no orography) to the station's elevation, noting what was not."""
    if heights is None:
        return values
    if model_heights is None:
        notes.append("t2m not corrected to station height: the file has no model orography (orog / surface z)")
        return values
    out = values.copy()
    missing = []
    for j, code in enumerate(points):
        zs = heights.get(code)
        if zs is None:
            missing.append(code)
            continue
        out[:, j] = height_corrected(values[:, j], float(model_heights[j]), zs)
    if missing:
        notes.append(
            f"t2m not corrected to station height at {len(missing)} station(s) without an elevation: "
            f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}"
        )
    return out


# --------------------------------------------------------------------------------------------------------------
# Bilinear interpolation
# --------------------------------------------------------------------------------------------------------------


class GridError(ValueError):
    """A station lies outside the grid (the variable is rejected for the file)."""


def _axis_weights(axis: np.ndarray, x: float) -> tuple[int, int, float]:
    """Indices (i0, i1) bracketing ``x`` on a monotonic axis and the weight of i1."""
    a = np.asarray(axis, dtype=float)
    asc = a[-1] >= a[0]
    b = a if asc else a[::-1]
    if not (b[0] - 1e-9 <= x <= b[-1] + 1e-9):
        raise GridError(f"{x:.4f} outside the grid axis [{b[0]:.4f}, {b[-1]:.4f}]")
    j = int(np.clip(np.searchsorted(b, x) - 1, 0, b.size - 2)) if b.size > 1 else 0
    if b.size == 1:
        return 0, 0, 0.0
    w = (x - b[j]) / (b[j + 1] - b[j])
    i0, i1 = (j, j + 1) if asc else (a.size - 1 - j, a.size - 2 - j)
    return i0, i1, float(np.clip(w, 0.0, 1.0))


def bilinear(field: np.ndarray, lats: np.ndarray, lons: np.ndarray, lat: float, lon: float) -> np.ndarray:
    """Bilinear value at (lat, lon) from the 4 surrounding points of a regular grid, for every leading index.

    ``field`` has shape (..., n_lat, n_lon). A NaN corner gives NaN (never silently re-weighted).

    >>> f = np.array([[0.0, 10.0], [20.0, 30.0]])
    >>> float(bilinear(f, np.array([44.0, 45.0]), np.array([87.0, 88.0]), 44.5, 87.5))
    15.0
    >>> float(bilinear(f, np.array([45.0, 44.0]), np.array([87.0, 88.0]), 44.0, 88.0))   # descending latitudes
    30.0
    """
    y0, y1, wy = _axis_weights(lats, lat)
    x0, x1, wx = _axis_weights(lons, lon)
    f = np.asarray(field, dtype=float)
    return (
        f[..., y0, x0] * (1 - wy) * (1 - wx)
        + f[..., y0, x1] * (1 - wy) * wx
        + f[..., y1, x0] * wy * (1 - wx)
        + f[..., y1, x1] * wy * wx
    )


# --------------------------------------------------------------------------------------------------------------
# Shared conversion
# --------------------------------------------------------------------------------------------------------------


def _to_canonical(var: str, values: np.ndarray, unit: str, seconds: np.ndarray | None) -> np.ndarray:
    """Unit conversion of an array; J/m² per interval → W/m² with the interval length [s]."""
    u = unit.strip()
    if var == "ssrd" and u.lower().replace(" ", "") in ("j/m2", "jm-2", "j/m²", "jm**-2"):
        if seconds is None:
            raise ValueError("J/m² without an accumulation interval cannot become W/m²")
        return values / seconds
    if u.lower() in ("m**-1", "m s**-1", "m s-1"):
        u = "m/s"
    if u in ("(0 - 1)", "0 - 1"):
        u = "1"
    if u.lower() == "pa":
        u = "Pa"
    scale = convert_unit(var, 1.0, u)
    offset = convert_unit(var, 0.0, u)
    return values * (scale - offset) + offset


def _rows(
    source: str,
    run: datetime,
    starts: Sequence[datetime],
    ends: Sequence[datetime],
    var: str,
    values: np.ndarray,
    codes: Sequence[str],
) -> list[tuple[Any, ...]]:
    out = []
    for j, code in enumerate(codes):
        for k in range(len(starts)):
            v = float(values[k, j])
            if np.isfinite(v):
                out.append((source, run, starts[k], ends[k], code, var, v))
    return out


def _derive(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Wind speed from u/v and RH from T/Td where the file does not carry them (forecast.md §2)."""
    if not rows:
        return rows
    f = pl.DataFrame(rows, schema=_SCHEMA, orient="row")
    have = set(f["variable"].unique())
    keys = ["source", "run_time", "valid_start", "valid_end", "location_id"]
    wide = f.pivot(on="variable", index=keys, values="value", aggregate_function="first")
    extra = []
    if "ws10" not in have and {"u10", "v10"} <= have:
        ws = np.hypot(wide["u10"].to_numpy(), wide["v10"].to_numpy())
        extra.append(wide.select(keys).with_columns(pl.lit("ws10").alias("variable"), pl.Series("value", ws)))
    if "rh2m" not in have and {"t2m", "td2m"} <= have:
        rh = np.minimum(relative_humidity(wide["t2m"].to_numpy(), wide["td2m"].to_numpy()), 100.0)
        extra.append(wide.select(keys).with_columns(pl.lit("rh2m").alias("variable"), pl.Series("value", rh)))
    for e in extra:
        e = e.filter(pl.col("value").is_not_nan() & pl.col("value").is_not_null())
        rows.extend(e.select(*_SCHEMA).rows())
    return rows


def _batch(rows: list[tuple[Any, ...]], errors: list[RowError], notes: list[str] | None = None) -> WeatherBatch:
    return WeatherBatch(pl.DataFrame(_derive(rows), schema=_SCHEMA, orient="row"), errors, notes or [])


def _utc(t: Any) -> datetime:
    ts = np.datetime64(t, "s").astype("datetime64[s]").astype(object)
    return ts.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------------------------
# NetCDF (CF)
# --------------------------------------------------------------------------------------------------------------


def _coord(ds: Any, names: Sequence[str]) -> str:
    for n in names:
        if n in ds.coords or n in ds.variables:
            return n
    raise ValueError(f"no coordinate among {list(names)}")


def read_netcdf(
    path: str | Path,
    points: Mapping[str, tuple[float, float]],
    *,
    source: str = "netcdf",
    heights: Mapping[str, float | None] | None = None,
) -> WeatherBatch:
    """Read a CF NetCDF forecast file (dims time × lat × lon) and interpolate every known variable to ``points``.

    ``points``: location code → (lat, lon); ``heights``: location code → elevation [m] (None: no height correction).
    The run time is the ``forecast_reference_time`` variable or attribute, else the first time. Valid intervals come
    from time bounds where given, else from the time step.
    """
    import xarray as xr

    label = str(path)
    errors: list[RowError] = []
    rows: list[tuple[Any, ...]] = []
    with xr.open_dataset(path, engine="h5netcdf", decode_times=True) as ds:
        lat_n = _coord(ds, ("latitude", "lat"))
        lon_n = _coord(ds, ("longitude", "lon"))
        time_n = _coord(ds, ("time", "valid_time"))
        lats, lons = ds[lat_n].values, ds[lon_n].values
        times = np.atleast_1d(ds[time_n].values)
        if "forecast_reference_time" in ds.variables:
            run = _utc(np.atleast_1d(ds["forecast_reference_time"].values)[0])
        elif "forecast_reference_time" in ds.attrs:
            run = datetime.fromisoformat(str(ds.attrs["forecast_reference_time"])).astimezone(UTC)
        else:
            run = _utc(times[0])
        step = (times[1] - times[0]) if times.size > 1 else np.timedelta64(1, "h")
        bname = ds[time_n].attrs.get("bounds")
        bounds = ds[bname].values if bname and bname in ds.variables else None
        orography = None
        for name, da in ds.data_vars.items():
            if not _names_height(str(name), da.attrs):
                continue
            if {lat_n, lon_n} <= set(da.dims) and da.ndim in (2, 3):
                field = da.isel({d: 0 for d in da.dims if d not in (lat_n, lon_n)}).transpose(lat_n, lon_n)
                orography = _surface_height(str(name), da.attrs, np.asarray(field.values, dtype=float))
                if orography is not None:
                    break
        notes: list[str] = []
        for name, da in ds.data_vars.items():
            std = str(da.attrs.get("standard_name", ""))
            var = NAMES.get(str(name)) or NAMES.get(std)
            if var is None or var not in NWP_VARIABLES or da.ndim != 3:
                continue
            unit = da.attrs.get("units")
            if not unit:
                errors.append(RowError(label, 0, str(name), f"variable {name}: no units attribute; rejected", ""))
                continue
            cm = str(da.attrs.get("cell_methods", ""))
            starts = [_utc(t) for t in times]
            ends = [s + timedelta(seconds=int(step / np.timedelta64(1, "s"))) for s in starts]
            data = np.asarray(da.transpose(time_n, lat_n, lon_n).values, dtype=float)
            seconds = None
            if var in ACCUMULATED:
                if "time: sum" not in cm and "time: mean" not in cm:
                    errors.append(
                        RowError(label, 0, str(name), f"variable {name}: accumulation unknown (no cell_methods)", "")
                    )
                    continue
                if bounds is None:
                    errors.append(RowError(label, 0, str(name), f"variable {name}: no time bounds", ""))
                    continue
                b0 = [_utc(b[0]) for b in bounds]
                b1 = [_utc(b[1]) for b in bounds]
                if "time: sum" in cm and len(set(b0)) == 1 and len(b0) > 1:
                    # accumulated from the run start: difference consecutive steps
                    data = np.diff(np.concatenate([np.zeros_like(data[:1]), data]), axis=0)
                    b0 = [b0[0], *b1[:-1]]
                starts, ends = b0, b1
                seconds = np.array([(e - s).total_seconds() for s, e in zip(starts, ends, strict=True)])[:, None, None]
                if "time: mean" in cm and var == "ssrd":
                    seconds = None  # already a mean flux
            try:
                conv = _to_canonical(var, data, str(unit), seconds)
            except ValueError as exc:
                errors.append(RowError(label, 0, str(name), f"variable {name}: {exc}", ""))
                continue
            try:
                vals = np.column_stack([bilinear(conv, lats, lons, la, lo) for la, lo in points.values()])
            except GridError as exc:
                errors.append(RowError(label, 0, str(name), f"variable {name}: a station is {exc}", ""))
                continue
            vals = vals.reshape(len(starts), -1)
            if var == "t2m":
                vals = _to_station_height(vals, orography, lats, lons, points, heights, notes)
            rows.extend(_rows(source, run, starts, ends, var, vals, list(points)))
    return _batch(rows, errors, notes)


# --------------------------------------------------------------------------------------------------------------
# GRIB2
# --------------------------------------------------------------------------------------------------------------

CORRUPT = "GRIB message"
"""``RowError.field`` of a corrupt GRIB message: skipped and logged, and every run read from the file is
``degraded`` (forecast.md §6). The error's ``line`` is the message's number in the file (1-based), ``raw`` its byte
offset."""

GRIB_PARAMS: dict[tuple[int, int, int], tuple[str, str]] = {(0, 1, 8): ("precip", "kg m**-2")}
"""GRIB2 (discipline, category, number) → (variable, WMO unit) for messages ecCodes cannot name (shortName
``unknown``, e.g. total precipitation in a product template without a time range): identified so that the variable
is rejected with a reason instead of silently dropped."""

_AMOUNT_UNITS: dict[str, dict[str, float]] = {
    "precip": {"m": 1000.0, "mm": 1.0, "kg m**-2": 1.0, "kg m-2": 1.0, "kg/m2": 1.0, "kg m^-2": 1.0},
    "ssrd": {"j m**-2": 1.0, "j m-2": 1.0, "j/m2": 1.0, "j/m²": 1.0},
}
"""Units of an amount accumulated over a step range (``stepType`` accum) → factor to mm / J m⁻²."""
_RATE_UNITS: dict[str, dict[str, float]] = {
    "precip": {"kg m**-2 s**-1": 1.0, "kg m-2 s-1": 1.0, "mm/s": 1.0},
    "ssrd": {"w m**-2": 1.0, "w m-2": 1.0, "w/m2": 1.0, "w/m²": 1.0},
}
"""Units of a mean rate over a step range (``stepType`` avg) → factor to mm s⁻¹ / W m⁻²."""


def _eccodes() -> Any:
    """The ecCodes module, loaded after psycopg's libraries.

    The eckitlib wheel ships OpenSSL 1.1, Kerberos, LDAP and SASL with global symbols; psycopg's binary wheel ships
    OpenSSL 3 and its own copies. Loaded in that order (ecCodes first) the process crashes at exit (a double free,
    exit code 139) as soon as psycopg is imported, whatever it did; loaded psycopg first, both work. So psycopg, when
    installed, is imported here first, as sqlite3 is at the top of this module.
    """
    with contextlib.suppress(ImportError):  # not installed: nothing to clash with
        import psycopg  # noqa: F401
    import eccodes

    return eccodes


def grib_available() -> bool:
    """True when the ecCodes library can be loaded (optional dependency, forecast.md §2)."""
    try:
        eccodes = _eccodes()
        eccodes.codes_get_api_version()
    except Exception:
        return False
    return True


def scan_grib(buf: bytes | memoryview | Any) -> list[tuple[int, int, int, str]]:
    """The messages of a GRIB byte stream: (number, byte offset, length, problem) with problem "" for a message
    whose frame is sound (forecast.md §6: a corrupt message is skipped, the others are read).

    A message starts at ``GRIB`` and ends with ``7777`` at the length its section 0 declares (3 bytes in edition
    1, 8 in edition 2). A frame that is not sound is reported and the scan resumes at the next ``GRIB`` after its
    start; bytes between messages (e.g. bulletin headers) are skipped.

    >>> ok = b"GRIB\\x00\\x00\\x00\\x02" + (24).to_bytes(8, "big") + b"\\x00" * 4 + b"7777"
    >>> scan_grib(b"GRIB" + b"\\x00" * 12 + b"7777" + ok)
    [(1, 0, 0, 'GRIB edition 0 (not 1 or 2)'), (2, 20, 24, '')]
    """
    out: list[tuple[int, int, int, str]] = []
    n = len(buf)
    pos = 0
    while (off := buf.find(b"GRIB", pos)) >= 0:
        number = len(out) + 1
        if off + 16 > n:
            out.append((number, off, 0, "truncated: the file ends inside the message header"))
            break
        edition = buf[off + 7]
        if edition == 2:
            length = int.from_bytes(buf[off + 8 : off + 16], "big")
        elif edition == 1:
            length = int.from_bytes(buf[off + 4 : off + 7], "big")
        else:
            out.append((number, off, 0, f"GRIB edition {edition} (not 1 or 2)"))
            pos = off + 4
            continue
        if length < 20 or off + length > n:
            out.append((number, off, 0, f"declared length {length} runs past the end of the file (truncated)"))
            pos = off + 4
            continue
        if buf[off + length - 4 : off + length] != b"7777":
            out.append((number, off, 0, f"no end marker 7777 at the declared length {length}"))
            pos = off + 4
            continue
        out.append((number, off, length, ""))
        pos = off + length
    return out


def accumulated_amount(var: str, unit: str, step_type: str, seconds: float, values: np.ndarray) -> np.ndarray:
    """The amount over a message's step range in mm (``precip``) or J m⁻² (``ssrd``), from an accumulation
    (``stepType`` accum, e.g. m or J m⁻²) or a mean rate (``avg``, e.g. W m⁻² × the range's seconds).

    Raises
    ------
    ValueError
        for another step type or a unit that does not fit (never guessed, forecast.md §2).

    >>> accumulated_amount("precip", "m", "accum", 3600, np.array([0.001])).tolist()
    [1.0]
    >>> accumulated_amount("ssrd", "W m**-2", "avg", 3600, np.array([100.0])).tolist()
    [360000.0]
    """
    u = unit.strip().lower()
    if step_type == "accum" and u in _AMOUNT_UNITS[var]:
        return values * _AMOUNT_UNITS[var][u]
    if step_type == "avg" and u in _RATE_UNITS[var]:
        return values * _RATE_UNITS[var][u] * seconds
    raise ValueError(f"unit {unit!r} of a {step_type!r} field does not fit {var}")


def _hours(s: int, e: int) -> str:
    return f"({s / 3600:g}, {e / 3600:g}] h"


def deaccumulate(parts: Mapping[tuple[int, int], np.ndarray]) -> list[tuple[int, int, np.ndarray]]:
    """Amounts per consecutive interval from amounts over step ranges (s, e] (forecast.md §2: "accumulation from
    each message's step range"; ranges in any unit, e.g. seconds from the run).

    Walking the range ends in order from the last interval's end b: a range (b, e] is taken as it is (an interval
    accumulation; one starting after b leaves a gap); a range (s, e] with s < b is a running total from s and is
    differenced with the total (s, b]; without that total the amount over (b, e] cannot be known and a ValueError
    names the ranges. Mixtures (hourly ranges beside totals from the run start, totals reset every 6 h) follow.
    The first interval is the longest range ending first. Differences below zero by more than the packing noise
    (10⁻⁴ of the total) mean the ranges are not running totals: ValueError; smaller ones become 0.

    >>> one = np.array([1.0])
    >>> [(s, e, float(a[0])) for s, e, a in deaccumulate({(0, 1): one, (1, 2): one, (2, 3): one})]
    [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0)]
    >>> [(s, e, float(a[0])) for s, e, a in deaccumulate({(0, 1): one, (0, 2): 3 * one, (2, 3): one})]
    [(0, 1, 1.0), (1, 2, 2.0), (2, 3, 1.0)]
    """
    out: list[tuple[int, int, np.ndarray]] = []
    edge: int | None = None
    for e in sorted({e for _, e in parts}):
        starts = sorted(s for s, ee in parts if ee == e)
        if edge is None:
            s = starts[0]
            out.append((s, e, parts[(s, e)]))
        elif direct := [s for s in starts if s >= edge]:
            s = direct[0]
            out.append((s, e, parts[(s, e)]))
        else:
            base = next((s for s in starts if (s, edge) in parts), None)
            if base is None:
                raise ValueError(
                    f"the accumulation over {_hours(starts[-1], e)} overlaps the previous interval ending at "
                    f"{edge / 3600:g} h and no total over {_hours(starts[-1], edge)} to subtract is in the file"
                )
            total, before = parts[(base, e)], parts[(base, edge)]
            diff = total - before
            tol = 1e-4 * float(np.nanmax(np.abs(total), initial=0.0)) + 1e-12
            if np.nanmin(diff, initial=0.0) < -tol:
                raise ValueError(
                    f"the total over {_hours(base, e)} is smaller than over {_hours(base, edge)}: not a running total"
                )
            out.append((edge, e, np.where(diff < 0, 0.0, diff)))
        edge = e
    return out


@dataclass(frozen=True)
class _Grid:
    """A message grid, once per grid: (lat, lon) shape, whether values come j-consecutive, station weights."""

    shape: tuple[int, int]
    j_consecutive: bool
    weights: tuple[np.ndarray, ...] | None
    problem: str = ""


@dataclass(frozen=True)
class _Message:
    """One decoded GRIB message of a known variable, interpolated to the stations."""

    number: int
    name: str
    var: str
    units: str
    step_type: str
    run: datetime
    start_s: int
    end_s: int
    grid: str
    values: np.ndarray | None  # at the stations; None with a problem
    problem: str = ""


def _point_weights(
    lats: np.ndarray, lons: np.ndarray, points: Mapping[str, tuple[float, float]]
) -> tuple[tuple[np.ndarray, ...] | None, str]:
    """Bilinear indices and weights of every station on a regular grid, or the stations off the grid.

    A longitude is also tried ±360° (global grids run 0–360°)."""
    rows, off = [], []
    lo_min, lo_max = float(np.min(lons)), float(np.max(lons))
    for code, (la, lo) in points.items():
        if not lo_min <= lo <= lo_max:
            lo = next((x for x in (lo + 360.0, lo - 360.0) if lo_min <= x <= lo_max), lo)
        try:
            rows.append((*_axis_weights(lats, la), *_axis_weights(lons, lo)))
        except GridError as exc:
            off.append(f"{code} ({la}, {lo}): {exc}")
    if off:
        more = f" and {len(off) - 5} more" if len(off) > 5 else ""
        return None, f"station(s) outside the grid: {'; '.join(off[:5])}{more}"
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    y0, y1, wy, x0, x1, wx = (np.asarray(c) for c in cols)
    return (y0.astype(int), y1.astype(int), wy.astype(float), x0.astype(int), x1.astype(int), wx.astype(float)), ""


def _at_points(field: np.ndarray, w: tuple[np.ndarray, ...]) -> np.ndarray:
    y0, y1, wy, x0, x1, wx = w
    return (
        field[y0, x0] * (1 - wy) * (1 - wx)
        + field[y0, x1] * (1 - wy) * wx
        + field[y1, x0] * wy * (1 - wx)
        + field[y1, x1] * wy * wx
    )


def _get(ec: Any, h: Any, key: str, default: Any = None) -> Any:
    try:
        return ec.codes_get(h, key)
    except Exception:
        return default


def _grid(ec: Any, h: Any, points: Mapping[str, tuple[float, float]]) -> _Grid:
    """The grid of a message (regular latitude/longitude or Gaussian only: bilinear on two axes, forecast.md §2)."""
    gtype = str(_get(ec, h, "gridType", ""))
    ni, nj = int(_get(ec, h, "Ni", 0) or 0), int(_get(ec, h, "Nj", 0) or 0)
    if gtype not in ("regular_ll", "regular_gg") or ni < 1 or nj < 1:
        return _Grid((nj, ni), False, None, f"grid type {gtype!r} is not a regular latitude/longitude grid")
    jcons = bool(_get(ec, h, "jPointsAreConsecutive", 0))
    lats = np.asarray(ec.codes_get_array(h, "latitudes"), dtype=float)
    lons = np.asarray(ec.codes_get_array(h, "longitudes"), dtype=float)
    lat2, lon2 = (
        (lats.reshape(ni, nj).T, lons.reshape(ni, nj).T) if jcons else (lats.reshape(nj, ni), lons.reshape(nj, ni))
    )
    lat_axis, lon_axis = lat2[:, 0], lon2[0, :]
    if not (np.allclose(lat2, lat_axis[:, None]) and np.allclose(lon2, lon_axis[None, :])):
        return _Grid((nj, ni), jcons, None, "the grid's latitudes and longitudes do not form two axes")
    weights, problem = _point_weights(lat_axis, lon_axis, points)
    return _Grid((nj, ni), jcons, weights, problem)


def _decode(
    ec: Any, raw: bytes, number: int, points: Mapping[str, tuple[float, float]], grids: dict[str, _Grid]
) -> _Message | tuple[str, np.ndarray] | None:
    """A message of a known variable, a surface orography (grid key, model height at the stations [m]) or None
    (a parameter not read here). Any ecCodes failure propagates: the caller reports the message as corrupt."""
    h = ec.codes_new_from_message(raw)
    try:
        short = str(_get(ec, h, "shortName", "unknown"))
        level_type = str(_get(ec, h, "typeOfLevel", ""))
        units = str(_get(ec, h, "units", "") or "")
        var = NAMES.get(short)
        if short == "t" and level_type == "isobaricInhPa" and int(_get(ec, h, "level", 0)) == 850:
            var = "t850"
        if var is None and short in ("unknown", ""):
            key = tuple(int(_get(ec, h, k, -1)) for k in ("discipline", "parameterCategory", "parameterNumber"))
            if key in GRIB_PARAMS:
                var, units = GRIB_PARAMS[key]  # type: ignore[index]
                short = "parameter {}/{}/{}".format(*key)
        height = _names_height(short, {}) and level_type == "surface"
        if not height and (var is None or var not in NWP_VARIABLES):
            return None
        gkey = str(_get(ec, h, "md5GridSection", "")) or "{}:{}x{}".format(
            _get(ec, h, "gridType"), _get(ec, h, "Ni"), _get(ec, h, "Nj")
        )
        if gkey not in grids:
            grids[gkey] = _grid(ec, h, points)
        g = grids[gkey]
        at = None
        if g.weights is not None:
            vals = np.asarray(ec.codes_get_values(h), dtype=float)
            if int(_get(ec, h, "bitmapPresent", 0) or 0):
                vals[vals == float(_get(ec, h, "missingValue", 9999))] = np.nan
            field = vals.reshape(g.shape[::-1]).T if g.j_consecutive else vals.reshape(g.shape)
            at = _at_points(field, g.weights)
        if height:
            z = _surface_height(short, {"units": units}, at) if at is not None else None
            return (gkey, z) if z is not None else None
        d, t = int(_get(ec, h, "dataDate")), int(_get(ec, h, "dataTime"))
        run = datetime(d // 10000, d // 100 % 100, d % 100, t // 100, t % 100, tzinfo=UTC)
        problem = g.problem
        try:
            ec.codes_set(h, "stepUnits", "s")  # sub-hourly steps too; reading in hours fails on them
            start_s, end_s = int(ec.codes_get_long(h, "startStep")), int(ec.codes_get_long(h, "endStep"))
        except Exception as exc:
            start_s = end_s = -1
            problem = problem or f"message {number}: step range unreadable ({exc})"
        step_type = str(_get(ec, h, "stepType", "") or "")
        return _Message(number, short, var, units, step_type, run, start_s, end_s, gkey, at, problem)
    finally:
        ec.codes_release(h)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, equal_nan=True))


def _accumulated_series(msgs: Sequence[_Message]) -> tuple[list[int], list[int], np.ndarray]:
    """Per-interval values of precipitation (mm) or radiation (W m⁻², the interval mean) from the messages' step
    ranges; ValueError when a message's accumulation period is not in its metadata (forecast.md §2, §6)."""
    parts: dict[tuple[int, int], np.ndarray] = {}
    for m in msgs:
        rng = _hours(m.start_s, m.end_s)
        if m.step_type not in ("accum", "avg"):
            raise ValueError(
                f"message {m.number} (step {m.end_s / 3600:g} h) has stepType {m.step_type or 'none'!r}, not an "
                "accumulation or mean over a step range: accumulation period unknown, not guessed"
            )
        if m.start_s == m.end_s:
            if m.end_s == 0:
                continue  # the empty accumulation at the run start carries nothing
            raise ValueError(f"message {m.number}: zero-length accumulation at {m.end_s / 3600:g} h: period unknown")
        amount = accumulated_amount(m.var, m.units, m.step_type, m.end_s - m.start_s, np.asarray(m.values))
        key = (m.start_s, m.end_s)
        if key in parts and not _same(parts[key], amount):
            raise ValueError(f"two different messages for the step range {rng} (ensemble members or levels?)")
        parts[key] = amount
    if not parts:
        return [], [], np.empty((0, 0))
    out = deaccumulate(parts)
    starts, ends = [s for s, _, _ in out], [e for _, e, _ in out]
    vals = np.vstack([a for _, _, a in out])
    if msgs[0].var == "ssrd":
        vals = vals / np.array([e - s for s, e in zip(starts, ends, strict=True)], dtype=float)[:, None]
    return starts, ends, vals


def _instant_series(msgs: Sequence[_Message]) -> tuple[list[int], list[int], np.ndarray]:
    """Values at steps, or over step ranges (max, min, mean over (s, e]), in canonical units. A value at step h
    stands for [h, next step) (the last for as long as the step before it; a single one for 1 h)."""
    by: dict[tuple[int, int], _Message] = {}
    for m in msgs:
        key = (m.start_s, m.end_s)
        if key in by and not _same(np.asarray(by[key].values), np.asarray(m.values)):
            raise ValueError(f"two different messages for step {_hours(*key)} (ensemble members or levels?)")
        by[key] = m
    instants = sorted(e for s, e in by if s == e)
    steps = np.diff(instants)
    span = {e: int(steps[k] if k < steps.size else (steps[-1] if steps.size else 3600)) for k, e in enumerate(instants)}
    keys = sorted(by, key=lambda k: (k[0] if k[0] < k[1] else k[1], k[1]))
    starts = [s if s < e else e for s, e in keys]
    ends = [e if s < e else e + span[e] for s, e in keys]
    unit = msgs[0].units
    vals = _to_canonical(msgs[0].var, np.vstack([np.asarray(by[k].values) for k in keys]), unit, None)
    return starts, ends, vals


def read_grib2(
    path: str | Path,
    points: Mapping[str, tuple[float, float]],
    *,
    source: str = "grib2",
    heights: Mapping[str, float | None] | None = None,
) -> WeatherBatch:
    """Read a GRIB (edition 2, or 1) file message by message with ecCodes and interpolate every known variable to
    ``points`` (``heights``: as :func:`read_netcdf`; the orography is a surface-level ``orog`` or ``z`` message of
    the same grid). forecast.md §2 "GRIB2", §6.

    - Each message is read on its own (:func:`scan_grib`): a corrupt one (bad frame, or ecCodes cannot decode it)
      is skipped, logged and recorded as an error with field :data:`CORRUPT`, its number and byte offset; the notes
      say the run is ``degraded`` (:func:`corrupt_messages`; :func:`load_nwp` records it with the run).
    - Accumulated variables (``precip``, ``ssrd``) come from each message's step range (``startStep``,
      ``endStep``, ``stepType`` accum or avg): a range (s, e] is an amount over (s, e]; running totals are
      differenced; mixtures are handled (:func:`deaccumulate`). A message without a step range (``stepType``
      instant, or a zero-length range after the run start) makes the accumulation unknown: the variable is
      rejected, naming file and variable; nothing is guessed.
    - Other variables: a value at step h is the hour(s) [h, next step); a max/min/mean over (s, e] is [s, e).
    - A variable without units, on a grid that misses a station, or with two different messages for one step
      (e.g. ensemble members) is rejected for the file, naming file, variable and the reason.
    """
    label = str(path)
    errors: list[RowError] = []
    notes: list[str] = []
    empty = pl.DataFrame(schema=_SCHEMA)
    try:
        ec = _eccodes()
    except Exception as exc:  # optional dependency
        return WeatherBatch(empty, [RowError(label, 0, "*", f"ecCodes not available to read GRIB: {exc}", "")])
    try:
        with Path(path).open("rb") as fh:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if Path(path).stat().st_size else b""
    except OSError as exc:
        return WeatherBatch(empty, [RowError(label, 0, "*", f"unreadable GRIB file: {exc}", "")])
    grids: dict[str, _Grid] = {}
    msgs: list[_Message] = []
    orography: dict[str, np.ndarray] = {}
    try:
        frames = scan_grib(buf)
        for number, off, length, problem in frames:
            if not problem:
                try:
                    got = _decode(ec, bytes(buf[off : off + length]), number, points, grids)
                except Exception as exc:
                    problem = f"ecCodes cannot decode it ({exc.__class__.__name__}: {exc})"
                else:
                    if isinstance(got, _Message):
                        msgs.append(got)
                    elif got is not None:
                        orography[got[0]] = got[1]
            if problem:
                log.warning("%s: GRIB message %d at byte %d skipped: %s", label, number, off, problem)
                reason = f"message {number} at byte {off} skipped: {problem}; the run is degraded"
                errors.append(RowError(label, number, CORRUPT, reason, f"offset {off}"))
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()
    if not frames:
        errors.append(RowError(label, 0, "*", "no GRIB message in the file", ""))
    if (n_bad := sum(e.field == CORRUPT for e in errors)) > 0:
        notes.append(f"{n_bad} corrupt GRIB message(s) skipped: the run is degraded")
    groups: dict[tuple[str, datetime], list[_Message]] = {}
    for m in msgs:
        groups.setdefault((m.var, m.run), []).append(m)
    rows: list[tuple[Any, ...]] = []
    codes = list(points)
    for (var, run), group in groups.items():
        first = group[0]
        name = first.name
        try:
            if problem := next((m.problem for m in group if m.problem), ""):
                raise ValueError(problem)
            if not first.units or first.units == "unknown":
                raise ValueError("no units")
            series = _accumulated_series if var in ACCUMULATED else _instant_series
            starts, ends, vals = series(group)
        except ValueError as exc:
            errors.append(RowError(label, first.number, name, f"variable {name} ({var}): {exc}; rejected", ""))
            continue
        if not starts:
            continue
        if var == "t2m":
            vals = _height_correct(vals, orography.get(first.grid), points, heights, notes)
        t0 = [run + timedelta(seconds=s) for s in starts]
        t1 = [run + timedelta(seconds=e) for e in ends]
        rows.extend(_rows(source, run, t0, t1, var, vals, codes))
    return _batch(rows, errors, notes)


def corrupt_messages(batch: WeatherBatch) -> int:
    """How many corrupt GRIB messages were skipped reading ``batch`` (> 0: its runs are ``degraded``, forecast.md
    §6)."""
    return sum(e.field == CORRUPT for e in batch.errors)


def read_nwp(
    path: str | Path,
    points: Mapping[str, tuple[float, float]],
    *,
    source: str | None = None,
    heights: Mapping[str, float | None] | None = None,
) -> WeatherBatch:
    """Dispatch on the file type: ``.nc`` → NetCDF, ``.grib2``/``.grb2``/``.grib`` → GRIB2, ``.csv`` → CSV (values
    already at the stations: no height correction)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".nc", ".nc4", ".netcdf"):
        return read_netcdf(p, points, source=source or "netcdf", heights=heights)
    if suffix in (".grib2", ".grb2", ".grib", ".grb"):
        return read_grib2(p, points, source=source or "grib2", heights=heights)
    if suffix == ".csv":
        from bogda.forecast.weather import read_weather_csv

        return read_weather_csv(p, name=source or "csv")
    raise ValueError(f"{p}: unknown NWP file type {suffix!r} (.nc, .grib2 or .csv)")


# --------------------------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------------------------


def with_area_means(values: pl.DataFrame, members: Mapping[str, Sequence[str]]) -> pl.DataFrame:
    """Add one row per area and (run, variable, interval): the mean of its member stations' values."""
    extra = []
    for area, codes in members.items():
        sub = values.filter(pl.col("location_id").is_in(list(codes)))
        if sub.height == 0:
            continue
        extra.append(
            sub.group_by("source", "run_time", "valid_start", "valid_end", "variable")
            .agg(pl.col("value").mean())
            .with_columns(pl.lit(area).alias("location_id"))
            .select(*_SCHEMA)
        )
    return pl.concat([values, *extra]) if extra else values


BACKLOAD_AFTER = NWP_LATENCY + NWP_FALLBACK_AGE
"""A load later than run_time + this (30 h (d)) is a back-load of archived runs: its time is not recorded as the
arrival (the run could no longer be used by then, so the load time says nothing of when a forecaster had it)."""
MAX_RUN_NOTES = 50
"""Lines of a load's notes and errors kept in ``nwp_run.notes`` (a CSV with bad rows can have thousands; the load
command prints them all)."""
RUN_SCHEMA: dict[str, Any] = {
    "source": pl.Utf8,
    "run_time": pl.Datetime("us", "UTC"),
    "arrived_at": pl.Datetime("us", "UTC"),
    "skipped_messages": pl.Int64,
}
"""The run table :meth:`bogda.forecast.nwp_archive.NwpArchive.from_values` takes (``runs=``): one row per
(source, run_time); ``arrived_at`` null: none recorded; ``skipped_messages`` > 0: ``degraded``."""
RUN_INFO_SCHEMA: dict[str, Any] = {**RUN_SCHEMA, "notes": pl.List(pl.Utf8), "loaded_at": pl.Datetime("us", "UTC")}
"""Columns of :func:`run_info`: the ``nwp_run`` table."""


def arrival_of(run_time: datetime, loaded_at: datetime) -> datetime | None:
    """The arrival time to record for a run loaded at ``loaded_at`` (forecast.md §2 "the recorded arrival time"):
    the load time, or None for a back-load (:data:`BACKLOAD_AFTER`), for which run_time + latency applies.

    >>> run = datetime(2026, 1, 10, tzinfo=UTC)
    >>> arrival_of(run, run + timedelta(hours=7)).hour, arrival_of(run, run + timedelta(days=40))
    (7, None)
    """
    return loaded_at if loaded_at <= run_time + BACKLOAD_AFTER else None


def degraded_reason(source: str, run_time: datetime, skipped: int) -> str:
    """The ``forecast_run`` reason of a forecast made with a run loaded with corrupt GRIB messages skipped
    (forecast.md §6)."""
    return (
        f"NWP run {run_time.isoformat()} ({source}) degraded: {skipped} corrupt GRIB message(s) skipped at load "
        "(bogda forecast load-nwp lists them)"
    )


def runs_of(values: pl.DataFrame, *, arrived_at: datetime | None = None, skipped: int = 0) -> pl.DataFrame:
    """The run table (:data:`RUN_SCHEMA`) of the (source, run_time) pairs in ``values``: the arrival by
    :func:`arrival_of` when ``arrived_at`` (the load time) is given, else none; ``skipped`` corrupt messages each.

    A naive ``run_time`` is taken as UTC (as :class:`~bogda.forecast.nwp_archive.NwpArchive` does). Corrupt messages
    cannot be told apart by run (ecCodes could not read them), so a file of several runs marks each of them.

    >>> run = datetime(2026, 1, 10, tzinfo=UTC)
    >>> v = pl.DataFrame([("g", run, run + timedelta(hours=1), run + timedelta(hours=2), "S1", "t2m", 1.0)],
    ...     schema=_SCHEMA, orient="row")
    >>> r = runs_of(v, arrived_at=run + timedelta(hours=5), skipped=2).row(0, named=True)
    >>> r["source"], r["arrived_at"] - run, r["skipped_messages"]
    ('g', datetime.timedelta(seconds=18000), 2)
    >>> runs_of(v, arrived_at=run + timedelta(days=9))["arrived_at"].to_list()  # a back-load: none recorded
    [None]
    """
    rt = pl.col("run_time").dt.cast_time_unit("us")
    tz = getattr(values.schema["run_time"], "time_zone", None)
    rt = rt.dt.convert_time_zone("UTC") if tz else rt.dt.replace_time_zone("UTC")
    keys = values.select("source", rt).unique().sort("source", "run_time")
    arrived = [arrival_of(r, arrived_at) if arrived_at is not None else None for r in keys["run_time"].to_list()]
    return keys.with_columns(
        pl.Series("arrived_at", arrived, dtype=RUN_SCHEMA["arrived_at"]),
        pl.lit(int(skipped), dtype=pl.Int64).alias("skipped_messages"),
    ).select(*RUN_SCHEMA)


def load_notes(batch: WeatherBatch, limit: int = MAX_RUN_NOTES) -> list[str]:
    """What ``nwp_run.notes`` keeps of a load: the batch's notes, then its errors (``file:line field: reason``), at
    most ``limit`` lines, the last saying how many more there were.

    >>> b = WeatherBatch(pl.DataFrame(schema=_SCHEMA), [RowError("a.grib2", 2, CORRUPT, "truncated", "")], ["n"])
    >>> load_notes(b)
    ['n', 'a.grib2:2 GRIB message: truncated']
    >>> load_notes(b, limit=1)
    ['… and 2 more (bogda forecast load-nwp lists them)']
    """
    lines = [*batch.notes, *(f"{e.file}:{e.line} {e.field}: {e.reason}" for e in batch.errors)]
    if len(lines) <= limit:
        return lines
    kept = lines[: limit - 1]
    return [*kept, f"… and {len(lines) - len(kept)} more (bogda forecast load-nwp lists them)"]


def _upsert_run(conn: Any, dialect: str, row: Mapping[str, Any]) -> None:
    """Insert or update one ``nwp_run`` row, keeping the earliest recorded arrival (in SQL, so two loads of one run
    at once cannot lose it)."""
    from sqlalchemy import case

    from bogda.store.schema import nwp_run

    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(nwp_run).values(**row)
    new, old = stmt.excluded.arrived_at, nwp_run.c.arrived_at
    earliest = case((old.is_(None), new), (new.is_(None), old), (new < old, new), else_=old)
    replaced = {k: stmt.excluded[k] for k in ("skipped_messages", "notes", "loaded_at")}
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["source", "run_time"], set_={"arrived_at": earliest, **replaced})
    )


def load_nwp(
    store: Any,
    values: pl.DataFrame | WeatherBatch,
    *,
    members: Mapping[str, Sequence[str]] | None = None,
    loaded_at: datetime | None = None,
) -> int:
    """Write ``nwp_value`` rows (re-loading the same run replaces its values); area means are added for
    ``members`` (area code → station codes). Returns the value rows written.

    Each run also gets its ``nwp_run`` row (forecast.md §2 and §6; read with :func:`run_info`), in the same
    transaction:

    - ``arrived_at``: ``loaded_at`` (default now), unless that is a back-load (:func:`arrival_of`); re-loading a run
      keeps its earliest recorded arrival (a corrected file changes values, not when the run was first at hand);
    - ``skipped_messages``: given a :class:`WeatherBatch`, the corrupt GRIB messages its file skipped
      (:func:`corrupt_messages`; > 0: the run is ``degraded``), replaced by each load, so a clean re-load clears it
      (plain values count as clean: they carry no errors);
    - ``notes``: the batch's notes and errors (:func:`load_notes`), replaced by each load; ``loaded_at``: this load.
    """
    from sqlalchemy import and_, delete

    from bogda.store.schema import nwp_value

    skipped, notes = 0, []
    if isinstance(values, WeatherBatch):
        skipped, notes = corrupt_messages(values), load_notes(values)
        values = values.values
    if members:
        values = with_area_means(values, members)
    if values.height == 0:
        return 0
    now = loaded_at or datetime.now(UTC)
    runs = runs_of(values, arrived_at=now, skipped=skipped)
    recs = values.to_dicts()
    c = nwp_value.c
    with store.begin() as conn:
        for src, run in runs.select("source", "run_time").rows():
            conn.execute(delete(nwp_value).where(and_(c.source == src, c.run_time == run)))
        for i in range(0, len(recs), 5000):
            conn.execute(nwp_value.insert(), recs[i : i + 5000])
        for row in runs.rows(named=True):
            _upsert_run(conn, store.dialect, {**row, "notes": notes, "loaded_at": now})
    return len(recs)


def run_info(
    store: Any, *, run_from: datetime | None = None, run_to: datetime | None = None, source: str | None = None
) -> pl.DataFrame:
    """The loaded runs (table ``nwp_run``, forecast.md §2, §6) with run_time in [run_from, run_to], one row per
    (source, run_time), sorted: ``source, run_time, arrived_at`` (null: not recorded, run_time + latency applies),
    ``skipped_messages`` (0: not ``degraded``), ``notes`` and ``loaded_at`` (:data:`RUN_INFO_SCHEMA`; the first four
    columns are the ``runs`` of :meth:`~bogda.forecast.nwp_archive.NwpArchive.from_values`)."""
    from sqlalchemy import select

    from bogda.store.schema import nwp_run

    c = nwp_run.c
    q = select(*(c[k] for k in RUN_INFO_SCHEMA)).order_by(c.source, c.run_time)
    if run_from is not None:
        q = q.where(c.run_time >= run_from)
    if run_to is not None:
        q = q.where(c.run_time <= run_to)
    if source is not None:
        q = q.where(c.source == source)
    with store.engine.connect() as conn:
        got = conn.execute(q).all()
    # notes is JSON: keep it a list of text whatever an older writer stored
    rows = [(*r[:4], [str(x) for x in r[4]] if isinstance(r[4], list) else [], r[5]) for r in got]
    return pl.DataFrame(rows, schema=RUN_INFO_SCHEMA, orient="row")
