"""NWP adapters for gridded files: NetCDF (CF, xarray + h5netcdf) and GRIB2 (cfgrib/ecCodes), interpolated to
stations (forecast.md §2 "NWP adapters").

Every adapter returns a :class:`~bogda.forecast.weather.WeatherBatch` of ``nwp_value`` rows in canonical units, like
the CSV adapter of :mod:`bogda.forecast.weather`; :func:`load_nwp` writes them (and area means) to the store.

- **Interpolation**: bilinear from the 4 surrounding grid points (forecast.md §2, d), on a regular latitude/longitude
  grid (either axis order). A station outside the grid rejects that variable for the file, naming file, variable
  and station (never extrapolated).
- **Height**: 2 m temperature is corrected from the model's surface height to the station's at 6.5 K/km (forecast.md
  §2, d; :func:`height_corrected`) when the file carries the model orography (``orog``/``surface_altitude`` in m,
  or the surface geopotential ``z`` in m² s⁻² divided by g) and the station its elevation (registry
  ``elevation_m``); otherwise the batch says in ``notes`` which stations were left uncorrected and why.
- **Units** from ``units`` (NetCDF) or ``GRIB_units``/``units`` (GRIB): K → °C, Pa → hPa, m → mm, J/m² → W/m²;
  a variable without a unit is rejected, naming file and variable.
- **Accumulation** only from metadata, never guessed: NetCDF ``cell_methods`` "time: sum" (or "mean") with time
  bounds; GRIB ``stepType`` ``accum`` with each message's step range. Fields accumulated from the run start are
  de-accumulated by differencing consecutive steps. J/m² per interval becomes W/m² by dividing by the interval.
- A corrupt GRIB message is skipped and logged; the batch records it as an error (the run is then ``degraded``).
"""

from __future__ import annotations

import logging

# Python's sqlite3 must be loaded before ecCodes: the eckitlib wheel (an ecCodes dependency) ships its own libsqlite3
# 3.26 (no RETURNING) with global symbols, and a _sqlite3 loaded after it binds to that one, for the store's SQLite too.
import sqlite3  # noqa: F401  (isort: keep before cfgrib/eccodes are imported below)
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bogda.forecast.features import relative_humidity
from bogda.forecast.weather import _SCHEMA, NWP_VARIABLES, RowError, WeatherBatch, convert_unit

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
    """Correct interpolated 2 m temperature (times × stations) to the stations' heights, noting what was not."""
    if heights is None:
        return values
    if orography is None:
        notes.append("t2m not corrected to station height: the file has no model orography (orog / surface z)")
        return values
    out = values.copy()
    missing = []
    for j, (code, (la, lo)) in enumerate(points.items()):
        zs = heights.get(code)
        if zs is None:
            missing.append(code)
            continue
        zm = float(bilinear(orography[None], lats, lons, la, lo)[0])
        out[:, j] = height_corrected(values[:, j], zm, zs)
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


def grib_available() -> bool:
    """True when cfgrib and the ecCodes library can be loaded (optional dependency, forecast.md §2)."""
    try:
        import cfgrib  # noqa: F401
    except Exception:
        return False
    return True


def read_grib2(
    path: str | Path,
    points: Mapping[str, tuple[float, float]],
    *,
    source: str = "grib2",
    heights: Mapping[str, float | None] | None = None,
) -> WeatherBatch:
    """Read a GRIB2 file with cfgrib and interpolate every known variable to ``points`` (``heights``: as
    :func:`read_netcdf`; the orography is a surface-level ``orog`` or ``z`` message of the same grid).

    Accumulation comes from each message's ``stepType``/step range: ``accum`` fields covering (run, run + step]
    are de-accumulated by differencing consecutive steps. Unreadable messages are skipped and reported.
    """
    import cfgrib

    label = str(path)
    errors: list[RowError] = []
    rows: list[tuple[Any, ...]] = []
    try:
        datasets = cfgrib.open_datasets(str(path), backend_kwargs={"indexpath": ""}, errors="warn")
    except Exception as exc:
        return WeatherBatch(pl.DataFrame(schema=_SCHEMA), [RowError(label, 0, "*", f"unreadable GRIB: {exc}", "")])
    orography: dict[tuple[int, int], np.ndarray] = {}  # by grid shape
    for ds in datasets:
        for name, da in ds.data_vars.items():
            short = str(da.attrs.get("GRIB_shortName", name))
            if not _names_height(short, da.attrs) or str(da.attrs.get("GRIB_typeOfLevel", "surface")) != "surface":
                continue
            field = np.asarray(da.values, dtype=float)
            field = field.reshape(-1, *field.shape[-2:])[0] if field.ndim >= 2 else field
            z = _surface_height(short, da.attrs, field)
            if z is not None:
                orography[z.shape] = z
    notes: list[str] = []
    for ds in datasets:
        lat_n = _coord(ds, ("latitude", "lat"))
        lon_n = _coord(ds, ("longitude", "lon"))
        lats, lons = ds[lat_n].values, ds[lon_n].values
        run = _utc(np.atleast_1d(ds["time"].values)[0])
        steps = np.atleast_1d(ds["step"].values) if "step" in ds.coords else np.array([np.timedelta64(0, "h")])
        for name, da in ds.data_vars.items():
            var = NAMES.get(str(name)) or NAMES.get(str(da.attrs.get("GRIB_shortName", "")))
            if var is None:
                continue
            unit = da.attrs.get("GRIB_units") or da.attrs.get("units")
            if not unit:
                errors.append(RowError(label, 0, str(name), f"variable {name}: no units; rejected", ""))
                continue
            step_type = str(da.attrs.get("GRIB_stepType", "instant"))
            data = np.asarray(da.values, dtype=float)
            if data.ndim == 2:
                data = data[None]
            hours = [int(s / np.timedelta64(1, "h")) for s in steps]
            seconds = None
            if var in ACCUMULATED:
                if step_type != "accum":
                    errors.append(RowError(label, 0, str(name), f"{name}: stepType {step_type}, not accum", ""))
                    continue
                data = np.diff(np.concatenate([np.zeros_like(data[:1]), data]), axis=0)
                prev = [0, *hours[:-1]]
                starts = [run + timedelta(hours=h) for h in prev]
                ends = [run + timedelta(hours=h) for h in hours]
                seconds = np.array([(e - s).total_seconds() or np.nan for s, e in zip(starts, ends, strict=True)])
                seconds = seconds[:, None, None]
            else:
                starts = [run + timedelta(hours=h) for h in hours]
                dt = (hours[1] - hours[0]) if len(hours) > 1 else 1
                ends = [s + timedelta(hours=dt) for s in starts]
            try:
                conv = _to_canonical(var, data, str(unit), seconds)
                vals = np.column_stack([bilinear(conv, lats, lons, la, lo) for la, lo in points.values()])
            except (ValueError, GridError) as exc:
                errors.append(RowError(label, 0, str(name), f"variable {name}: {exc}", ""))
                continue
            vals = vals.reshape(len(starts), -1)
            if var == "t2m":
                oro = orography.get(data.shape[-2:])
                vals = _to_station_height(vals, oro, lats, lons, points, heights, notes)
            rows.extend(_rows(source, run, starts, ends, var, vals, list(points)))
    return _batch(rows, errors, notes)


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


def load_nwp(store: Any, values: pl.DataFrame, *, members: Mapping[str, Sequence[str]] | None = None) -> int:
    """Write ``nwp_value`` rows (re-loading the same run replaces its values); area means are added for
    ``members`` (area code → station codes). Returns the rows written."""
    from sqlalchemy import and_, delete

    from bogda.store.schema import nwp_value

    if members:
        values = with_area_means(values, members)
    if values.height == 0:
        return 0
    recs = values.to_dicts()
    with store.begin() as conn:
        for (src, run), _ in values.group_by("source", "run_time"):
            conn.execute(delete(nwp_value).where(and_(nwp_value.c.source == src, nwp_value.c.run_time == run)))
        for i in range(0, len(recs), 5000):
            conn.execute(nwp_value.insert(), recs[i : i + 5000])
    return len(recs)
