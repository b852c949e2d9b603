"""Version selection: HJ 633-2026 / GB 3095-2026 from 2026-03-01 00:00 Beijing time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest

from bogda.standards import aqi as A
from bogda.standards import versions as V


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC), "2012"),  # 23:59:59 Beijing on 02-28
        (datetime(2026, 2, 28, 16, 0, tzinfo=UTC), "2026"),  # 00:00 Beijing on 03-01
        (datetime(2026, 2, 28, 16, 0), "2026"),  # naive = UTC (storage convention)
        (date(2026, 2, 28), "2012"),
        (date(2026, 3, 1), "2026"),
        ("2025-12-31T23:00:00+08:00", "2012"),
        ("2026-03-01T00:00:00+08:00", "2026"),
    ],
)
def test_standard_for(ts: object, expected: str) -> None:
    assert V.standard_for(ts) == expected


def test_default_standard_follows_timestamps_per_row() -> None:
    frame = pl.DataFrame(
        {
            "ts": [datetime(2026, 2, 28, 15, tzinfo=UTC), datetime(2026, 2, 28, 16, tzinfo=UTC)],
            "PM2.5": [52.0, 52.0],
        }
    )
    assert A.iaqi(frame["PM2.5"], "PM2.5", "24h", ts=frame["ts"]).tolist() == [72, 84]
    np_ts = np.array(["2026-02-28T15:00", "2026-02-28T16:00"], dtype="datetime64[m]")
    assert V.is_2026(np_ts).tolist() == [False, True]
    days = np.array(["2026-02-28", "2026-03-01"], dtype="datetime64[D]")
    assert V.is_2026(days).tolist() == [False, True]
