"""Shared real-data fixtures of the monitoring tests (read once per session: the CNEMC year is 4.3 M values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bogda.monitoring.ingest import ReadResult, read_cnemc
from sharedata import require_shared

CNEMC_2019 = ("xinjiang", "cnemc_xinjiang_sites_2019_dev.csv.gz")


@pytest.fixture(scope="session")
def cnemc_path() -> Path:
    return require_shared(*CNEMC_2019)


@pytest.fixture(scope="session")
def cnemc_2019(cnemc_path: Path) -> ReadResult:
    return read_cnemc(cnemc_path)


STATIONS_XJ = ("stations", "cnemc_stations_xinjiang.csv")
CHANGJI = ("2690A", "2691A", "2692A", "1495A")
"""Changji's three national stations (2690A the Tianchi control site) and Urumqi's silent 1495A."""


@pytest.fixture(scope="session")
def station_list_path() -> Path:
    return require_shared(*STATIONS_XJ)


@pytest.fixture(scope="session")
def changji_january(cnemc_2019: ReadResult) -> ReadResult:
    """January 2019 (Beijing) of the Changji stations and 1495A, as a read result (≈ 40 000 values)."""
    from dataclasses import replace
    from datetime import UTC, datetime

    import polars as pl

    lo, hi = datetime(2018, 12, 31, 16, tzinfo=UTC), datetime(2019, 1, 31, 16, tzinfo=UTC)
    frame = cnemc_2019.frame.filter(pl.col("site_code").is_in(CHANGJI) & pl.col("ts").is_between(lo, hi, closed="left"))
    return replace(cnemc_2019, frame=frame, sites=CHANGJI, rejected=[], incomplete_row_sets=None)
