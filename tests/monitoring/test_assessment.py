"""Assessments over daily AQI rows: day counts, dust modes, composite index, rankings (monitoring.md §3.6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from bogda.monitoring.assessment import assess, limits_version, rankings

D0 = datetime(2019, 1, 1, tzinfo=UTC) - timedelta(hours=8)


def _daily(code: str, aqis: list[int | None], pm25: list[float], kind: str = "county") -> pl.DataFrame:
    n = len(aqis)
    lv = [
        0
        if a is None
        else (1 if a <= 50 else 2 if a <= 100 else 3 if a <= 150 else 4 if a <= 200 else 5 if a <= 300 else 6)
        for a in aqis
    ]
    return pl.DataFrame(
        {
            "target_kind": kind,
            "target_code": code,
            "ts": [D0 + timedelta(days=i) for i in range(n)],
            "aqi": aqis,
            "level": lv,
            "status": ["complete" if a is not None else "partial" for a in aqis],
            "c_so2": [10.0] * n,
            "c_no2": [40.0] * n,
            "c_co": [1.0] * n,
            "c_o3_8h": [80.0] * n,
            "c_pm10": [100.0] * n,
            "c_pm25": pm25,
        },
        schema_overrides={"aqi": pl.Int64},
    )


def _m(res: pl.DataFrame, code: str, metric: str, mode: str = "with_dust") -> float:
    return res.filter((pl.col("target_code") == code) & (pl.col("metric") == metric) & (pl.col("dust_mode") == mode))[
        "value"
    ][0]


def test_day_counts_and_good_day_ratio() -> None:
    aqis = [40, 80, 120, 160, 250, 350, None] + [60] * 24
    res = assess(_daily("X", aqis, [50.0] * 31), period="month")
    assert _m(res, "X", "valid_days") == 30  # the partial day does not count
    assert _m(res, "X", "good_days") == 26
    assert _m(res, "X", "good_day_ratio") == pytest.approx(26 / 30 * 100)
    assert [_m(res, "X", f"days_level_{i}") for i in range(1, 7)] == [1, 25, 1, 1, 1, 1]
    assert (_m(res, "X", "heavy_days"), _m(res, "X", "severe_days")) == (2, 1)
    assert _m(res, "X", "mean_pm25") == 50
    row = res.filter((pl.col("metric") == "mean_pm25") & (pl.col("dust_mode") == "with_dust")).row(0, named=True)
    assert (row["numerator"], row["denominator"], row["limits_version"]) == (31, 27, "2012")


def test_dust_days_leave_pm_means_and_good_day_counts() -> None:
    pm = [300.0, 300.0] + [30.0] * 29
    aqis = [400, 400] + [50] * 29
    dust = pl.DataFrame({"place_code": ["P"] * 2, "day": [date(2019, 1, 1), date(2019, 1, 2)], "status": "official"})
    res = assess(_daily("X", aqis, pm), period="month", dust=dust, ancestors={"X": ["P"]})
    assert _m(res, "X", "mean_pm25") == round(sum(pm) / 31)
    assert _m(res, "X", "mean_pm25", "dust_excluded") == 30
    assert _m(res, "X", "valid_days", "dust_excluded") == 29
    assert _m(res, "X", "good_day_ratio", "dust_excluded") == 100.0
    assert _m(res, "X", "good_day_ratio") == pytest.approx(29 / 31 * 100)


def test_composite_index_and_county_rankings_tie() -> None:
    frames = [
        _daily("A", [60] * 31, [35.0] * 31),
        _daily("B", [60] * 31, [35.0] * 31),
        _daily("C", [60] * 31, [20.0] * 31),
    ]
    res = assess(pl.concat(frames), period="month")
    # 2012 scheme: 10/60 + 40/40 + 100/70 + 35/35 + 1/4 + 80/160 = 4.35 (P95 of a constant = the constant)
    assert _m(res, "A", "composite_index") == pytest.approx(4.35, abs=0.005)
    r = rankings(res).filter(pl.col("dust_mode") == "with_dust").sort("target_code")
    assert r["rank_composite"].to_list() == [2, 2, 1]


@pytest.mark.parametrize(("end", "version"), [(date(2026, 2, 28), "2012"), (date(2026, 3, 31), "2026")])
def test_limits_version_by_period_end(end: date, version: str) -> None:
    assert limits_version(end) == version
