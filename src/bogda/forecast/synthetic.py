"""Synthetic hourly station data for tests and benchmarks (no real data needed, forecast.md §7 and §8.9).

Log-PM2.5 follows an AR(1) process around a seasonal and diurnal cycle, pushed down by wind (so weather carries
signal); the other pollutants and weather are derived from it. Deterministic for a given seed.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from bogda.timeutil import day_start_utc


def synthetic_frame(
    n_stations: int = 5, n_days: int = 400, *, seed: int = 0, first_day: date = date(2016, 1, 1)
) -> tuple[pl.DataFrame, dict[str, tuple[float, float]]]:
    """Long hourly rows (``station_code``, ``ts`` UTC, six pollutants, weather) and station coordinates.

    Stations lie within about 40 km of each other and share a regional signal; 2 % of hours are missing.
    """
    rng = np.random.default_rng(seed)
    n = n_days * 24
    h = np.arange(n)
    season = 0.6 * np.cos(2 * np.pi * (h / 24.0) / 365.25)
    diurnal = 0.15 * np.cos(2 * np.pi * (h % 24 - 21) / 24)
    ws = np.clip(2.0 + np.cumsum(rng.normal(0, 0.25, n)) * 0.0 + rng.gamma(2.0, 1.0, n), 0, None)
    ws = np.convolve(ws, np.ones(6) / 6, mode="same")
    region = np.zeros(n)
    e = rng.normal(0, 0.12, n)
    for i in range(1, n):
        region[i] = 0.97 * region[i - 1] + e[i] - 0.02 * (ws[i] - 3.0)
    t2m = 12 - 15 * np.cos(2 * np.pi * (h / 24.0 - 15) / 365.25) + 4 * np.sin(2 * np.pi * (h % 24 - 9) / 24)
    rows = []
    coords = {}
    start = np.datetime64(day_start_utc(first_day).replace(tzinfo=None), "us")
    ts = start + h.astype("timedelta64[h]").astype("timedelta64[us]")
    for k in range(n_stations):
        code = f"S{k:03d}"
        coords[code] = (44.0 + 0.03 * (k % 10), 87.3 + 0.04 * (k // 10))
        local = np.zeros(n)
        el = rng.normal(0, 0.08, n)
        for i in range(1, n):
            local[i] = 0.9 * local[i - 1] + el[i]
        pm25 = np.exp(3.8 + season + diurnal + region + local + 0.1 * rng.normal(size=1))
        miss = rng.random(n) < 0.02
        pm25 = np.where(miss, np.nan, np.round(pm25, 1))
        rows.append(
            pl.DataFrame(
                {
                    "station_code": [code] * n,
                    "ts": ts,
                    "a34004": pm25,
                    "a34002": pm25 * 1.6,
                    "a21026": 5 + 0.1 * pm25,
                    "a21004": 20 + 0.3 * pm25,
                    "a21005": 0.4 + 0.01 * pm25,
                    "a05024": np.clip(80 - 0.3 * pm25 + 2 * t2m, 2, None),
                    "t2m": t2m,
                    "td2m": t2m - 8,
                    "rh2m": np.full(n, 58.0),
                    "ws10": ws,
                    "u10": -ws * 0.6,
                    "v10": -ws * 0.8,
                    "psfc": 1013 - 0.5 * t2m,
                    "precip": np.zeros(n),
                }
            )
        )
    frame = pl.concat(rows).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    return frame, coords
