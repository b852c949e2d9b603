"""Evaluation statistics (GB 3095 Table 4 validity, HJ 663 statistics) on synthetic tables and CNEMC 2019 data."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from bogda.standards import evaluation as E
from bogda.standards.aqi import aqi_daily

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


def test_daily_mean_is_beijing_day_and_rounded_half_even() -> None:
    # 12 h of 34, 12 h of 35 → 34.5 → 34 (GB/T 8170); the next hour belongs to the next Beijing day
    out = E.daily_means(hourly_frame([34.0] * 12 + [35.0] * 12 + [99.0]))
    assert out.filter(pl.col("date") == dt.date(2025, 7, 1))["value"].item() == 34.0
    co = E.daily_means(hourly_frame([2.2] * 12 + [2.3] * 12, parameter="CO"))
    assert co["value"][0] == 2.2  # 2.25 → 2.2
    raw = E.daily_means(hourly_frame([34.0] * 12 + [35.0] * 12), rounded=False)
    assert raw["value"][0] == 34.5


def year_daily(value: float, n_days: int = 365, *, drop_month: int | None = None, keep: int = 31) -> pl.DataFrame:
    days = [dt.date(2025, 1, 1) + timedelta(days=i) for i in range(n_days)]
    if drop_month:
        days = [d for d in days if d.month != drop_month or d.day <= keep]
    return pl.DataFrame({"site": "A", "date": days, "a34004": value, "a21005": 1.0, "O3_8h": 100.0})


@pytest.mark.parametrize(
    ("frame", "valid"),
    [
        (year_daily(30), True),
        (year_daily(30, drop_month=3, keep=27), True),  # 27 days in March is enough
        (year_daily(30, drop_month=3, keep=26), False),  # 26 is not
        (year_daily(30, drop_month=2, keep=25), True),  # February needs 25
        (year_daily(30, drop_month=2, keep=24), False),
        (year_daily(30, n_days=323), False),  # < 324 days
    ],
)
def test_annual_validity(frame: pl.DataFrame, valid: bool) -> None:
    stats = E.period_statistics(frame)
    assert stats.filter(pl.col("parameter") == "a34004")["valid"].item() is valid


def test_monthly_statistics() -> None:
    stats = E.period_statistics(year_daily(30), period="month")
    feb = stats.filter((pl.col("period") == "2025-02") & (pl.col("parameter") == "a34004"))
    assert feb["n_days"].item() == 28 and feb["valid"].item()


def test_dust_deduction_drops_pm_only() -> None:
    d = year_daily(30).with_columns(
        pl.when(pl.col("date") < dt.date(2025, 1, 11)).then(500.0).otherwise(pl.col("a34004")).alias("a34004"),
        (pl.col("date") < dt.date(2025, 1, 11)).alias("dust_affected"),
    )
    with_dust = E.period_statistics(d).filter(pl.col("parameter") == "a34004")
    deducted = E.period_statistics(d, dust_deducted=True).filter(pl.col("parameter") == "a34004")
    assert with_dust["mean"].item() == 43.0  # (355·30 + 10·500)/365 = 42.9
    assert deducted["mean"].item() == 30.0 and deducted["n_days"].item() == 355


@pytest.mark.parametrize(
    ("stage", "pm25_mean", "compliant"),
    [("2012", 35.0, True), ("2012", 36.0, False), ("2026", 30.0, True), ("2026", 31.0, False), ("2031", 26.0, False)],
)
def test_compliance_against_each_stage(stage: str, pm25_mean: float, compliant: bool) -> None:
    stats = E.period_statistics(year_daily(pm25_mean))
    comp = E.compliance(stats, stage=stage)
    row = comp.filter((pl.col("parameter") == "a34004") & (pl.col("statistic") == "mean"))
    assert row["compliant"].item() is compliant


def test_day_counts_and_good_day_ratio() -> None:
    aqi = [20, 50, 51, 100, 101, 151, 201, 301, None]
    d = pl.DataFrame({"site": "A", "date": [dt.date(2025, 1, 1) + timedelta(days=i) for i in range(9)], "aqi": aqi})
    row = E.day_counts(d).row(0, named=True)
    assert row["valid_days"] == 8 and row["good_days"] == 4 and row["good_day_ratio"] == 50.0
    assert row["heavy_days"] == 2 and row["severe_days"] == 1
    assert [row[f"days_level_{i}"] for i in range(1, 7)] == [2, 2, 1, 1, 1, 1]


def test_annual_evaluation_end_to_end_from_hourly() -> None:
    hours = 24 * 365
    t = [datetime(2024, 12, 31, 16, tzinfo=UTC) + timedelta(hours=i) for i in range(hours)]
    rng = np.random.default_rng(1)
    frames = [
        pl.DataFrame({"site": "A", "ts": t, "parameter": p, "value": rng.uniform(lo, hi, hours).round(d)})
        for p, lo, hi, d in [
            ("PM2.5", 10, 60, 0),
            ("PM10", 20, 120, 0),
            ("SO2", 2, 20, 0),
            ("NO2", 10, 60, 0),
            ("CO", 0.2, 2, 1),
            ("O3", 10, 150, 0),
        ]
    ]
    daily = E.daily_concentrations(pl.concat(frames))
    assert daily.height == 365 and set(E.DAILY_COLUMNS) <= set(daily.columns)
    ev = E.annual_evaluation(daily, standard="2012")
    assert ev["statistics"]["valid"].all()
    assert ev["days"]["valid_days"].item() == 365
    r = aqi_daily({c: daily[c] for c in E.DAILY_COLUMNS}, "2012")
    assert ev["days"]["good_days"].item() == int((r.aqi <= 100).sum())


def test_aggregate_sites_county_then_prefecture() -> None:
    f = pl.concat(
        [
            hourly_frame([10.0, 20.0], site="A"),
            hourly_frame([30.0, None], site="B"),
            hourly_frame([50.0, 60.0], site="C"),
        ]
    )
    county = E.aggregate_sites(f, {"A": "c1", "B": "c1", "C": "c2"})
    assert county.filter(pl.col("area") == "c1")["value"].to_list() == [20.0, 20.0]
    assert county.filter(pl.col("area") == "c1")["n_sites"].to_list() == [2, 1]
    pref = E.aggregate_sites(f, {"A": "P", "B": "P", "C": "P"})
    assert pref["value"].to_list() == [30.0, 40.0]


def test_daily_means_reproduce_cnemc_24h_values(shared_data: Path) -> None:
    """CNEMC's 24 h moving mean published at label hour 0 of day D+1 is the natural-day mean of day D.

    Hourly values in the file are published rounded while CNEMC averages unrounded values, so µg/m³ items
    agree except for rare half-unit cases and CO [mg/m³, one decimal] may differ by 0.1.
    """
    path = shared_data / "xinjiang" / "cnemc_xinjiang_sites_2019_dev.csv.gz"
    raw = pl.read_csv(path, infer_schema=False)
    long = raw.unpivot(index=["date", "hour", "type"], variable_name="site").drop_nulls("value")
    long = long.with_columns(  # CNEMC labels the hour by its end (hour 0 = 23:00–24:00 of the previous day)
        (
            pl.col("date").str.strptime(pl.Datetime("us"), "%Y%m%d")
            + pl.duration(hours=pl.col("hour").cast(pl.Int64) - 1)
        )
        .dt.replace_time_zone("Asia/Shanghai")
        .dt.convert_time_zone("UTC")
        .alias("ts"),
        pl.col("value").cast(pl.Float64),
    )
    items = {"PM2.5": "a34004", "PM10": "a34002", "SO2": "a21026", "NO2": "a21004", "CO": "a21005"}
    hourly = long.filter(pl.col("type").is_in(list(items))).select(
        "site", "ts", pl.col("type").alias("parameter"), "value"
    )
    daily = E.daily_means(hourly).filter(pl.col("n") == 24)
    pub = long.filter((pl.col("hour") == "0") & pl.col("type").is_in([f"{k}_24h" for k in items])).select(
        "site",
        (pl.col("date").str.strptime(pl.Date, "%Y%m%d") - pl.duration(days=1)).cast(pl.Date).alias("date"),
        pl.col("type").str.replace("_24h", "").replace(items).alias("parameter"),
        pl.col("value").alias("published"),
    )
    j = daily.join(pub, on=["site", "date", "parameter"])
    assert j.height > 30_000
    diff = (j["value"] - j["published"]).abs()
    ug = j["parameter"] != "a21005"
    assert (diff.filter(ug) == 0).mean() > 0.999, j.filter(ug & (diff > 0)).head(10)
    assert diff.filter(ug).max() <= 1
    assert diff.filter(~ug).max() <= 0.1 + 1e-9


def test_area_o3_paths_differ_when_stations_peak_at_different_hours() -> None:
    a = [50.0] * 24
    b = [50.0] * 24
    a[0:8] = [250.0] * 8  # station A peaks in the first window, B in the last one
    b[16:24] = [250.0] * 8
    f = pl.concat([hourly_frame(a, "O3", "A"), hourly_frame(b, "O3", "B")])
    hourly_path = E.area_daily_concentrations(f, {"A": "X", "B": "X"})
    station_path = E.area_daily_concentrations(f, {"A": "X", "B": "X"}, o3_path="station_mda8")
    assert hourly_path["O3_8h"].item() == 150.0  # city hourly mean: 150 in both peak windows
    assert station_path["O3_8h"].item() == 250.0  # mean of the stations' MDA8 (250, 250)
    with pytest.raises(ValueError, match="o3_path"):
        E.area_daily_concentrations(f, {"A": "X"}, o3_path="max")


def test_array_annual_statistics_equal_frame_version() -> None:
    rng = np.random.default_rng(5)
    days = [dt.date(2025, 1, 1) + timedelta(days=i) for i in range(365)]
    x = rng.gamma(2, 20, (3, 365)).round()
    x[rng.random((3, 365)) < np.array([[0.01], [0.08], [0.3]])] = np.nan
    co = rng.gamma(2, 0.4, (3, 365)).round(1)
    arr = E.annual_statistics_arrays({"a34004": x, "a21005": co}, days)
    frame = pl.DataFrame(
        {
            "site": np.repeat(["S0", "S1", "S2"], 365),
            "date": days * 3,
            "a34004": pl.Series(x.ravel(), nan_to_null=True),
            "a21005": co.ravel(),
        }
    )
    st = E.period_statistics(frame)
    for item in ("a34004", "a21005"):
        part = st.filter(pl.col("parameter") == item).sort("site")
        assert part["n_days"].to_list() == arr[item]["n_days"].tolist()
        assert part["valid"].to_list() == arr[item]["valid"].tolist()
        assert part["percentile"].to_list() == arr[item]["percentile"].tolist()
        if item == "a34004":
            assert part["mean"].to_list() == arr[item]["mean"].tolist()
