"""Array kernels of the data-validity rules (GB 3095 Table 4; HJ 663 window rules [R])."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bogda.standards import cube as C
from bogda.standards import evaluation as E

T0 = datetime(2025, 6, 30, 16, tzinfo=UTC)  # 2025-07-01 00:00 Beijing


def hourly_frame(values: list[float | None], parameter: str = "a34004", site: str = "A") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "site": site,
            "ts": [T0 + timedelta(hours=i) for i in range(len(values))],
            "parameter": parameter,
            "value": pl.Series(values, dtype=pl.Float64),
        }
    )


@pytest.mark.parametrize(
    ("n_valid", "valid"),
    [(24, True), (20, True), (19, False), (0, False)],
)
def test_daily_mean_needs_20_hours(n_valid: int, valid: bool) -> None:
    vals = [10.0] * n_valid + [None] * (24 - n_valid)
    out = E.daily_means(hourly_frame(vals))
    row = out.row(0, named=True)
    assert row["date"] == dt.date(2025, 7, 1)
    assert row["n"] == n_valid
    assert row["valid"] is valid
    assert row["value"] == (10.0 if valid else None)


def test_duplicates_are_rejected() -> None:
    f = pl.concat([hourly_frame([1.0]), hourly_frame([2.0])])
    with pytest.raises(ValueError, match="duplicate"):
        E.daily_means(f)


@pytest.mark.parametrize(
    ("day", "expected", "n_windows"),
    [
        ([50.0] * 24, 50.0, 17),
        ([50.0] * 16 + [300.0] * 8, 300.0, 17),  # the last window: hours starting 16:00..23:00
        ([300.0] * 8 + [50.0] * 16, 300.0, 17),  # the first window: 00:00..07:00
        ([None] * 10 + [100.0] * 14, None, 9),  # < 14 valid windows, max ≤ 160 → invalid
        ([None] * 10 + [200.0] * 14, 200.0, 9),  # < 14 windows, but the max exceeds 160 → valid
    ],
)
def test_mda8_windows(day: list[float | None], expected: float | None, n_windows: int) -> None:
    x = np.array([np.nan if v is None else v for v in day])[None, :]
    m, n = C.daily_max_8h_array(x)
    assert n[0, 0] == n_windows
    assert (np.isnan(m[0, 0]) and expected is None) or m[0, 0] == expected


def test_mda8_ignores_next_day() -> None:
    x = np.r_[np.full(24, 50.0), np.full(24, 400.0)][None, :]
    m, _ = C.daily_max_8h_array(x)
    assert m[0].tolist() == [50.0, 400.0]


def test_moving_8h_needs_6_of_8() -> None:
    x = np.array([np.nan, np.nan, 8, 8, 8, 8, 8, 8, 8, 8], dtype=float)[None, :]
    m, n = C.moving_8h_array(x)
    assert np.isnan(m[0, 6]) and n[0, 6] == 5
    assert m[0, 7] == 8 and n[0, 7] == 6


def test_percentile_formula() -> None:
    vals = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], dtype=float)
    xs = np.sort(vals)
    for p in (90, 95, 98):
        k = 1 + (len(xs) - 1) * p / 100
        s = int(np.floor(k))
        expected = xs[s - 1] + (xs[min(s, len(xs) - 1)] - xs[s - 1]) * (k - s)
        assert C.percentile(vals, p) == pytest.approx(expected, abs=1e-12)
