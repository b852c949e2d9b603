"""Benchmark: one year of hourly data for 2,000 stations → daily means, O3 8 h, daily AQI, annual evaluation.

Input is the dense hourly cube (``HourlyCube``: one float array [station, hour] per pollutant, what
``hourly_cube`` builds from a long frame). Timed: the daily values (24 h means with the 20-hour rule, O3 daily
maximum 8 h with the window rules, O3 daily max 1 h), the daily AQI (HJ 633-2026 and 2012) and the annual
evaluation (period statistics with the validity rules, compliance against GB 3095-2026, good-day ratio and
category days). Baseline in the same run: the same daily means through a Polars group_by over the long frame
for a 200-station slice, extrapolated to 2,000 stations. Also reported: building the cube from a long frame.

Run: ``.venv/bin/python bench/bench_evaluation.py [n_stations]``
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from bogda.standards.aqi import aqi_daily
from bogda.standards.evaluation import (
    DAILY_COLUMNS,
    HourlyCube,
    annual_evaluation,
    annual_evaluation_arrays,
    daily_arrays,
    daily_means,
)


def synthetic_cube(n_sites: int, n_days: int = 365, seed: int = 3) -> HourlyCube:
    rng = np.random.default_rng(seed)
    h = n_days * 24
    spec = {
        "a34004": (2.0, 20.0, 0),
        "a34002": (2.0, 40.0, 0),
        "a21026": (1.5, 6.0, 0),
        "a21004": (2.0, 15.0, 0),
        "a21005": (2.0, 0.4, 1),
        "a05024": (2.0, 35.0, 0),
    }
    values = {}
    for k, (shape, scale, dec) in spec.items():
        x = np.round(rng.gamma(shape, scale, (n_sites, h)), dec)
        x[rng.random((n_sites, h)) < 0.03] = np.nan  # 3 % missing hours
        values[k] = x
    return HourlyCube(np.array([f"S{i:04d}" for i in range(n_sites)], dtype=object), date(2025, 1, 1), values)


def main() -> None:
    n_sites = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    cube = synthetic_cube(n_sites)
    c_start = time.process_time()
    t0 = time.perf_counter()
    daily = daily_arrays(cube)
    t1 = time.perf_counter()
    flat = {k: v.ravel() for k, v in daily.items()}
    r26 = aqi_daily(flat, "2026")
    t2 = time.perf_counter()
    ev_arr = annual_evaluation_arrays(daily, cube.days, r26.aqi.reshape(n_sites, cube.n_days), stage="2026")
    t_arr = time.perf_counter()
    c_arr = time.process_time() - c_start
    frame = pl.DataFrame(
        {
            "site": np.repeat(cube.sites, cube.n_days).astype(str),
            "date": np.tile(np.array(cube.days, dtype="datetime64[D]"), len(cube.sites)),
            **{k: pl.Series(k, v, nan_to_null=True) for k, v in flat.items()},
            "aqi": pl.Series("aqi", r26.aqi, nan_to_null=True),
        }
    )
    ev = annual_evaluation(frame, standard="2026")
    t3 = time.perf_counter()
    total = t3 - t0
    cpu = time.process_time() - c_start
    n_values = sum(v.size for v in cube.values.values())
    print(f"{n_sites:,} stations x {cube.n_days} days x 24 h x 6 pollutants = {n_values:,} hourly values")
    print(f"  daily means + O3 MDA8 + O3 max 1h : {t1 - t0:.2f} s")
    print(f"  daily AQI (HJ 633-2026, exact)   : {t2 - t1:.2f} s for {r26.aqi.size:,} site-days")
    print(f"  annual evaluation, array path (stats, GB 3095-2026 compliance, day counts): {t_arr - t2:.2f} s")
    print(
        f"  => hourly -> daily -> daily AQI -> annual evaluation, array path: {t_arr - t0:.2f} s wall, "
        f"{c_arr:.2f} s CPU (goal < 5 s); valid PM2.5 annual statistics: {ev_arr['a34004']['valid'].sum():,}"
    )
    print(f"  annual evaluation, frame path (period_statistics on a long daily frame): {t3 - t_arr:.2f} s")
    print(
        f"  total incl. both evaluation paths: {total:.2f} s wall, {cpu:.2f} s CPU; "
        f"valid annual statistics: {ev['statistics']['valid'].sum():,}"
        f" of {ev['statistics'].height:,}"
    )
    assert set(DAILY_COLUMNS) <= set(daily)

    # frame path and baseline on a 200-station slice (long frame: site, ts, parameter, value)
    m = min(200, n_sites)
    t_start = datetime(2024, 12, 31, 16, tzinfo=UTC)
    hours = pl.datetime_range(
        t_start, t_start + timedelta(hours=cube.n_days * 24 - 1), "1h", eager=True, time_zone="UTC"
    )
    long = pl.concat(
        pl.DataFrame(
            {
                "site": np.repeat(cube.sites[:m], len(hours)).astype(str),
                "ts": pl.concat([hours] * m),
                "parameter": k,
                "value": pl.Series(v[:m].ravel(), nan_to_null=True),
            }
        )
        for k, v in cube.values.items()
    )
    w0, c0 = time.perf_counter(), time.process_time()
    ours = daily_means(long)
    w_ours, c_ours = time.perf_counter() - w0, time.process_time() - c0
    w0, c0 = time.perf_counter(), time.process_time()
    base = (
        long.drop_nulls("value")
        .with_columns(pl.col("ts").dt.convert_time_zone("Asia/Shanghai").dt.date().alias("date"))
        .group_by("site", "date", "parameter")
        .agg(pl.col("value").mean(), pl.len())
        .filter(pl.col("len") >= 20)
    )
    w_base, c_base = time.perf_counter() - w0, time.process_time() - c0
    print(
        f"frame path, {m} stations ({long.height:,} long rows): daily_means {w_ours:.2f} s wall / {c_ours:.2f} s CPU"
        f" ({ours['valid'].sum():,} valid site-day-items)"
    )
    print(
        f"baseline, same frame: plain Polars group_by daily means (no rounding, no full day grid) "
        f"{w_base:.2f} s wall / {c_base:.2f} s CPU ({base.height:,} groups); "
        f"ratio baseline/ours = {c_base / c_ours:.2f}x CPU"
    )


if __name__ == "__main__":
    main()
