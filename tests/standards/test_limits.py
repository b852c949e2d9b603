"""GB 3095 limits: package table against the shared transcription, stages, exceedance."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from bogda.standards import limits as L

_STAGE = {"in force until 2026-02-28": "2012", "transitional 2026-03-01..2030-12-31": "2026", "from 2031-01-01": "2031"}
_AVG = {"daily max 8h": "8h"}


@pytest.mark.parametrize(
    ("pollutant", "averaging", "stage", "cls", "expected"),
    [
        ("SO2", "annual", "2012", 2, 60),
        ("SO2", "annual", "2031", 2, 20),
        ("NO2", "annual", "2031", 2, 30),
        ("NO2", "24h", "2031", 1, 50),
        ("CO", "24h", "2026", 2, 4),
        ("O3", "8h", "2012", 1, 100),
        ("O3", "1h", "2031", 2, 200),
        ("PM10", "annual", "2012", 2, 70),
        ("PM10", "annual", "2026", 2, 60),
        ("PM10", "24h", "2031", 2, 100),
        ("PM2.5", "24h", "2012", 2, 75),
        ("PM2.5", "24h", "2026", 2, 60),
        ("PM2.5", "24h", "2031", 2, 50),
        ("NOx", "annual", "2026", 2, 50),  # transitional value
        ("NOx", "annual", "2031", 2, 40),
        ("NOx", "24h", "2031", 2, 70),
        ("TSP", "24h", "2031", 2, 300),
        ("Pb", "quarterly", "2026", 2, 1.0),
        ("BaP", "24h", "2012", 2, 0.0025),
    ],
)
def test_limit(pollutant: str, averaging: str, stage: str, cls: int, expected: float) -> None:
    assert L.limit(pollutant, averaging, stage, cls) == expected


def test_every_shared_row_is_in_the_package(shared_data: Path) -> None:
    with (shared_data / "standards" / "gb3095_limits.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        avg = _AVG.get(r["averaging"], r["averaging"])
        stages = [_STAGE[r["phase"]]] if r["phase"] in _STAGE else ["2031"]
        if r["standard"] == "GB 3095-2026" and r["phase"] not in _STAGE and r["pollutant"] != "NOx":
            stages = ["2026", "2031"]
        for stage in stages:
            assert L.limit(r["pollutant"], avg, stage, 1) == float(r["class_1"]), r
            assert L.limit(r["pollutant"], avg, stage, 2) == float(r["class_2"]), r


@pytest.mark.parametrize(
    ("ts", "stage"),
    [
        (date(2026, 2, 28), "2012"),
        (date(2026, 3, 1), "2026"),
        (date(2030, 12, 31), "2026"),
        (date(2031, 1, 1), "2031"),
        (datetime(2030, 12, 31, 16, tzinfo=UTC), "2031"),  # 00:00 Beijing on 2031-01-01
    ],
)
def test_stage_for(ts: object, stage: str) -> None:
    assert L.stage_for(ts) == stage


def test_exceedance() -> None:
    assert L.exceedance_multiple([150, 75, 74], 75).tolist() == [1.0, 0.0, 0.0]
    assert L.exceeds([np.nan, 160, 161], "O3", "8h", "2026").tolist() == [False, False, True]


def test_unknown_limit_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no 8h limit"):
        L.limit("SO2", "8h", "2026")
    with pytest.raises(ValueError, match="stage"):
        L.limit("SO2", "24h", "2020")
