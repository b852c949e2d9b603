"""Benchmark: vectorised exact hourly AQI (bogda.standards.aqi_hourly) on 10 million station-hours.

Baseline: the pure-Python package python-aqi (module ``aqi``, ``ALGO_MEP``) on the same inputs in the same run.
python-aqi is slow, so it is timed on a random subsample and extrapolated per value (said in the output).
python-aqi's MEP tables are a discrete variant of HJ 633, so only speed is compared, not values.

Run: ``.venv/bin/python bench/bench_aqi.py [n_station_hours]``
"""

from __future__ import annotations

import sys
import time

import numpy as np

from bogda.standards import aqi_hourly


def synthetic(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Plausible published 1 h concentrations (integers; CO one decimal) [µg/m³; CO mg/m³]."""
    rng = np.random.default_rng(seed)
    return {
        "a34004": np.round(rng.gamma(2.0, 25.0, n).clip(0, 499)),
        "a34002": np.round(rng.gamma(2.0, 45.0, n).clip(0, 599)),
        "a21026": np.round(rng.gamma(1.5, 8.0, n).clip(0, 799)),
        "a21004": np.round(rng.gamma(2.0, 18.0, n).clip(0, 1100)),
        "a21005": np.round(rng.gamma(2.0, 0.5, n).clip(0, 59), 1),
        "a05024": np.round(rng.gamma(2.0, 35.0, n).clip(0, 799)),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    data = synthetic(n)
    aqi_hourly({k: v[:1000] for k, v in data.items()}, "2026")  # warm caches
    t0, c0 = time.perf_counter(), time.process_time()
    result = aqi_hourly(data, "2026")
    t_bogda, c_bogda = time.perf_counter() - t0, time.process_time() - c0
    rate, c_rate = n / t_bogda, n / c_bogda
    print(
        f"bogda aqi_hourly (HJ 633-2026, exact kernel): {n:,} station-hours in {t_bogda:.2f} s wall "
        f"({c_bogda:.2f} s CPU) = {rate:,.0f} station-hours/s wall, {c_rate:,.0f}/s CPU "
        f"({6 * rate:,.0f} concentrations/s wall)"
    )
    assert np.isfinite(result.aqi).all()

    import aqi as pyaqi  # python-aqi
    from aqi import constants as pc

    sub = 20_000
    idx = np.random.default_rng(1).choice(n, sub, replace=False)
    keys = [
        (pc.POLLUTANT_PM25, "a34004"),
        (pc.POLLUTANT_PM10, "a34002"),
        (pc.POLLUTANT_SO2_1H, "a21026"),
        (pc.POLLUTANT_NO2_1H, "a21004"),
        (pc.POLLUTANT_CO_1H, "a21005"),
        (pc.POLLUTANT_O3_1H, "a05024"),
    ]
    rows = [[(k, str(data[c][i])) for k, c in keys] for i in idx]
    t0, c0 = time.perf_counter(), time.process_time()
    for row in rows:
        pyaqi.to_aqi(row, algo=pyaqi.ALGO_MEP)
    t_py, c_py = time.perf_counter() - t0, time.process_time() - c0
    py_rate, py_c_rate = sub / t_py, sub / c_py
    print(
        f"python-aqi to_aqi(ALGO_MEP): timed on a subsample of {sub:,} station-hours in {t_py:.2f} s "
        f"= {py_rate:,.0f} station-hours/s; extrapolated per value to {n:,}: {n / py_rate:,.0f} s"
    )
    print(
        f"ratio bogda / python-aqi (station-hours per second): {rate / py_rate:,.0f}x wall, "
        f"{c_rate / py_c_rate:,.0f}x CPU time (goal >= 100x)"
    )


if __name__ == "__main__":
    main()
