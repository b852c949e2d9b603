"""Observed hours of the shared files as the forecast's wide frame (forecast.md §6, §8; monitoring.md §2).

The files are parsed by the monitoring readers, one reader per file layout: :func:`bogda.monitoring.ingest.read_prsa`
(PRSA Beijing hourly, ``hour_label = start``) and :func:`bogda.monitoring.ingest.read_cnemc` (CNEMC daily files,
concatenated, ``hour_label = end``). Their long frame (``site_code, ts, parameter, value, unit …``; ``ts`` the UTC
start of the hour, CO in mg/m³) is pivoted here into one row per station and hour with the columns the backtest and
the intervention evaluation work on:

``station_code, a34004, a34002, a21026, a21004, a05024, a21005`` [µg/m³, CO mg/m³], then for PRSA ``t2m, td2m``
[°C], ``rh2m`` [%], ``ws10, u10, v10`` [m/s], ``psfc`` [hPa], ``precip`` [mm]; ``ts`` last.

Missing values are null, except in the columns the weather arithmetic goes through numpy (PRSA ``a21005``, ``t2m``,
``td2m``, ``rh2m``, ``ws10``, ``u10``, ``v10``), where they are NaN: the frames are those of the former private
readers of ``backtest.py``, bit for bit, so the protocol figures do not move.

Unit errors (forecast.md §6, §8 item 1) are raised, never converted silently: a CO column without a unit
declaration, or with a unit that cannot be converted to mg/m³, raises :class:`UnitError` naming the station, and so
does a CO median above :data:`CO_MEDIAN_CAP` (µg/m³ values declared as mg/m³).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from bogda.forecast.features import relative_humidity, wind_components
from bogda.monitoring.ingest import POLLUTANTS, PRSA_COLUMNS, PRSA_UNITS, ReadResult, read_cnemc, read_prsa

CO_MEDIAN_CAP = 50.0
"""CO median above this [mg/m³] is a unit error (forecast.md §6): µg/m³ data were loaded as mg/m³."""

CO = "a21005"
PRSA_WEATHER: dict[str, str] = {col: PRSA_COLUMNS[col][0] for col in ("TEMP", "DEWP", "WSPM", "PRES", "RAIN")}
"""PRSA weather column → the monitoring reader's parameter (a01001, dewpoint, a01007, a01006, precipitation)."""
"""Spellings of µg/m³ a ``co_unit`` may use: exactly those the monitoring reader takes for µg/m³."""
WIND_DIRECTION = "a01008"
"""Parameter of the PRSA ``wd`` column, already in degrees (16-point compass) from the monitoring reader."""


class UnitError(ValueError):
    """A column's values contradict its declared unit, or its unit is not declared (forecast.md §6)."""


def check_co_unit(values: np.ndarray, station: str) -> None:
    """Raise :class:`UnitError` when the median CO exceeds 50 mg/m³ (forecast.md §6); never convert silently."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size and float(np.median(v)) > CO_MEDIAN_CAP:
        raise UnitError(
            f"station {station}: CO median {np.median(v):.0f} > {CO_MEDIAN_CAP:g} mg/m³ — the values look like "
            "µg/m³; declare the unit (co_unit='ug/m3') instead of loading them as mg/m³"
        )


def read_prsa_frame(path: Path, *, co_unit: str | None = "ug/m3") -> pl.DataFrame:
    """One PRSA Beijing file as the wide hourly frame (pollutants and weather), through the monitoring reader.

    Parameters
    ----------
    path : Path
        A ``PRSA_Data_<station>_*.csv.gz`` file (../shared/data/beijing/).
    co_unit : str or None
        The unit the file writes CO in: ``"ug/m3"`` (these files, the default) is converted to mg/m³; ``"mg/m3"``
        loads the values as they are, and the §6 median check then catches µg/m³ values; None declares no unit.

    Returns
    -------
    pl.DataFrame
        One row per hour from the first to the last hour the file holds a value for, in time order; the columns
        of the module docstring. ``u10 = v10 = 0`` in calm hours (``ws10 == 0``), whatever the direction says.

    Raises
    ------
    UnitError
        CO undeclared or not convertible to mg/m³ (the reader rejects the column), or its median > 50 mg/m³.
    ValueError
        The file yields no station (unknown station name or no valid row).
    """
    units = {k: v for k, v in PRSA_UNITS.items() if k != "CO"}
    if co_unit is not None:
        units["CO"] = co_unit
    res = read_prsa(path, units=units)
    station = _one_station(res)
    unit_errors = [r.reason for r in res.rejected if r.column == "CO" and r.raw is None and "unit" in r.reason]
    if unit_errors:
        # The reader leaves an undeclared column out; for the forecast that is the §6 unit error, not a gap.
        raise UnitError(
            f"station {station}: CO not loaded ({unit_errors[0]}) — declare the unit the file writes CO in "
            "(co_unit='ug/m3' for the PRSA files); CO is never converted silently (forecast.md §6)"
        )
    wide = _hourly_wide(res.frame, _hour_grid(res.frame))
    co = _numpy(wide, CO)
    check_co_unit(co, station)
    t, td = _numpy(wide, PRSA_WEATHER["TEMP"]), _numpy(wide, PRSA_WEATHER["DEWP"])
    ws, wd = _numpy(wide, PRSA_WEATHER["WSPM"]), _numpy(wide, WIND_DIRECTION)
    u, v = wind_components(ws, wd)
    calm = ws == 0  # a calm hour has no direction but zero wind
    u, v = np.where(calm, 0.0, u), np.where(calm, 0.0, v)
    return wide.select(
        "station_code",
        *[_column(wide, p) for p in POLLUTANTS if p != CO],
        pl.Series(CO, co),
        pl.Series("t2m", t),
        pl.Series("td2m", td),
        pl.Series("rh2m", relative_humidity(t, td)),
        pl.Series("ws10", ws),
        pl.Series("u10", u),
        pl.Series("v10", v),
        _column(wide, PRSA_WEATHER["PRES"]).alias("psfc"),
        _column(wide, PRSA_WEATHER["RAIN"]).alias("precip"),
        "ts",
    )


def read_cnemc_frame(path: Path) -> pl.DataFrame:
    """A CNEMC daily-file archive (``date,hour,type,<codes…>``, concatenated) as the wide hourly pollutant frame.

    Every station column of the file gets a row for every hour that has a row of one of the six 1-h pollutant
    types, value or not (an empty column is a silent station, not an absent one): stations in column order, hours
    in time order. The derived series (``_24h``, ``O3_8h`` …) and the AQI are not loaded.

    Raises
    ------
    UnitError
        A station's CO median > 50 mg/m³ (forecast.md §6).
    """
    res = read_cnemc(path)
    hours = res.feed.filter(pl.col("parameter").is_in(list(POLLUTANTS))).select("ts").unique().sort("ts")
    grid = pl.DataFrame({"site_code": list(res.sites)}, schema={"site_code": pl.String}).join(hours, how="cross")
    wide = _hourly_wide(res.frame.filter(pl.col("parameter").is_in(list(POLLUTANTS))), grid)
    for station, values in wide.group_by("station_code", maintain_order=True).agg(CO).iter_rows():
        check_co_unit(np.array(values, dtype=float), station)
    return wide.select("station_code", *[_column(wide, p) for p in POLLUTANTS], "ts")


# --------------------------------------------------------------------------------------------------------------
# Pivot helpers
# --------------------------------------------------------------------------------------------------------------


def _one_station(res: ReadResult) -> str:
    if not res.sites:
        why = "; ".join(sorted({r.reason for r in res.rejected})[:3]) or "no data row"
        raise ValueError(f"{res.file}: no station read ({why})")
    return ",".join(res.sites)


def _hour_grid(long: pl.DataFrame) -> pl.DataFrame:
    """Every hour from each station's first to last value: a row whose cells are all ``NA`` keeps its hour."""
    span = long.group_by("site_code", maintain_order=True).agg(
        pl.datetime_range(pl.col("ts").min(), pl.col("ts").max(), "1h").alias("ts")
    )
    return span.explode("ts")


def _hourly_wide(long: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """Pivot the reader's long frame onto ``grid`` (``site_code, ts``, in output order); absent values null."""
    wide = long.pivot(on="parameter", index=["site_code", "ts"], values="value")
    out = grid.join(wide, on=["site_code", "ts"], how="left", maintain_order="left")
    return out.rename({"site_code": "station_code"})


def _column(wide: pl.DataFrame, parameter: str) -> pl.Series:
    """``parameter`` as a Float64 column, all null when the file has no value of it."""
    if parameter in wide.columns:
        return wide[parameter].cast(pl.Float64)
    return pl.Series(parameter, [None] * wide.height, dtype=pl.Float64)


def _numpy(wide: pl.DataFrame, parameter: str) -> np.ndarray:
    """``parameter`` as a float array, NaN where missing (the weather arithmetic is numpy)."""
    return _column(wide, parameter).to_numpy().astype(float, copy=False)
