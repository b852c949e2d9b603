"""Fixtures for the enforcement tests: the real CEMS / meter files of ../shared/data/cems (read, never copied)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from bogda.enforcement.rules import Params, resolve_params
from bogda.timeutil import utc_column
from sharedata import require_shared


@pytest.fixture(scope="session")
def params() -> Params:
    return resolve_params()


@pytest.fixture(scope="session")
def gas_turbine():
    """Loader of ``gas_turbine_<year>.csv`` (row = hour index, TEY = load)."""
    folder = require_shared("cems")
    cache: dict[int, pl.DataFrame] = {}

    def load(year: int) -> pl.DataFrame:
        if year not in cache:
            cache[year] = pl.read_csv(folder / f"gas_turbine_{year}.csv")
        return cache[year]

    return load


def _hourly_ts(n: int, start: datetime = datetime(2011, 1, 1, tzinfo=UTC), step_s: int = 3600) -> np.ndarray:
    return np.datetime64(start.replace(tzinfo=None), "us") + np.arange(n) * np.timedelta64(step_s, "s")


@pytest.fixture(scope="session")
def hourly_ts():
    """Factory of a synthetic regular axis (``datetime64[us]``, UTC): ``hourly_ts(n, start, step_s)``."""
    return _hourly_ts


@pytest.fixture(scope="session")
def steel() -> pl.DataFrame:
    """Steel plant 15-min meter: ``ts_utc`` = interval start (local clock read as Beijing), ``p_kw`` = 4 × kWh."""
    path = require_shared("cems", "steel_plant_15min_2018_jan_sep.csv")
    df = pl.read_csv(path)
    end = utc_column(pl.col("interval_end").str.to_datetime("%Y-%m-%d %H:%M"))
    return df.select((end - pl.duration(minutes=15)).alias("ts_utc"), (pl.col("Usage_kWh") * 4).alias("p_kw"))


@pytest.fixture(scope="session")
def campd() -> pl.DataFrame:
    path = require_shared("cems", "campd_bowen_facility_hourly_2017-01-01_to_01-10.csv")
    return pl.read_csv(path)
