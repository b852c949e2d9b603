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
