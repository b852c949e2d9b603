"""Benchmark: CNEMC ingest into SQLite, and the hourly → daily → monthly chain (monitoring.md §6).

Targets: a year of CNEMC files for 42 stations ingested in < 30 s on SQLite (read + register + store writes + QA);
the hourly → daily → monthly chain for one year × 100 stations in < 10 s.

1. **ingest** — ``load_cnemc`` of ``cnemc_xinjiang_sites_2019_dev.csv.gz`` (4.3 M values, all 15 types) into a
   fresh SQLite file; also the six 1-h pollutants + published AQI only (1.98 M values, what statistics use).
   Baseline in the same run: the same values through a plain SQLAlchemy ``executemany`` INSERT (no idempotency, no
   corrections, no ``latest``, no QA).
2. **chain** — 100 synthetic stations in 7 counties of one prefecture × 8 760 h × 6 pollutants written first
   (not timed); timed: ``update_aqi(hourly=False)`` (station and area daily AQI from the QA'd hourly values,
   written) + ``assess_store(period="month")`` (written); the hourly AQI table (876 000 + area rows) timed apart.
   Baseline: the daily AQI computed station by station (a loop of per-station frames).

Usage: ``.venv/bin/python bench/bench_monitoring_chain.py [--skip-ingest] [--skip-chain] [--stations 100]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CNEMC = SHARED / "xinjiang" / "cnemc_xinjiang_sites_2019_dev.csv.gz"
STATIONS = SHARED / "stations" / "cnemc_stations_xinjiang.csv"
PARAMS = ["a34004", "a34002", "a21026", "a21004", "a21005", "a05024"]


def bench_ingest(folder: Path) -> None:
    from sqlalchemy import create_engine, insert

    from bogda.monitoring.ingest import POLLUTANTS, read_cnemc
    from bogda.monitoring.load import load_result
    from bogda.store import connect
    from bogda.store.schema import metadata, observation

    t0, c0 = time.perf_counter(), time.process_time()
    res = read_cnemc(CNEMC)
    t_read, c_read = time.perf_counter() - t0, time.process_time() - c0
    print(f"read_cnemc: {res.frame.height:,} values in {t_read:.1f} s (CPU {c_read:.1f} s)")

    st = connect(f"sqlite:///{folder / 'full.db'}")
    t0, c0 = time.perf_counter(), time.process_time()
    rep = load_result(st, res, station_list=STATIONS)
    t_full = time.perf_counter() - t0 + t_read
    c_full = time.process_time() - c0 + c_read
    print(
        f"ingest all 15 types: {t_full:.1f} s wall, {c_full:.1f} s CPU (all threads) (read {t_read:.1f}, QA context "
        f"{rep.seconds.get('qa_context', 0):.1f}, write {rep.seconds['write']:.1f} with the QA verdicts computed "
        f"beside it, QA rows + dirty days {rep.seconds['qa']:.1f}); {rep.inserted:,} inserted, "
        f"{len(rep.rejected)} rejected, flagged {rep.flagged}"
    )
    st.dispose()

    canon = res.frame.filter(pl.col("parameter").is_in([*POLLUTANTS, "aqi_pub"]))
    st = connect(f"sqlite:///{folder / 'canon.db'}")
    t0, c0 = time.perf_counter(), time.process_time()
    rep = load_result(st, replace(res, frame=canon), station_list=STATIONS)
    t_canon = time.perf_counter() - t0 + t_read
    c_canon = time.process_time() - c0 + c_read
    print(
        f"ingest 1-h pollutants + AQI only: {canon.height:,} values, {t_canon:.1f} s wall, {c_canon:.1f} s CPU "
        f"(write {rep.seconds['write']:.1f})"
    )
    st.dispose()

    # baseline: a naive executemany of the same values into a bare observation table
    eng = create_engine(f"sqlite:///{folder / 'naive.db'}")
    metadata.create_all(eng, tables=[observation])
    rows = canon.with_columns(
        pl.col("site_code").rank("dense").cast(pl.Int64).alias("series_id"), pl.col("ts").dt.epoch("s").alias("ts")
    )
    rows = rows.with_columns(
        (pl.col("series_id") * 100 + pl.col("parameter").rank("dense").cast(pl.Int64)).alias("series_id")
    ).select("series_id", "ts", "value", pl.lit("N").alias("flag"))
    t0, c0 = time.perf_counter(), time.process_time()
    with eng.begin() as conn:
        conn.execute(insert(observation), rows.to_dicts())
    t_naive = time.perf_counter() - t0 + t_read
    c_naive = time.process_time() - c0 + c_read
    print(f"baseline (read + plain executemany, no QA/idempotency): {t_naive:.1f} s wall, {c_naive:.1f} s CPU")
    print(f"load average now {os.getloadavg()[0]:.1f}")
    print(
        f"ratio ingest(1-h + AQI) / baseline: {t_canon / t_naive:.2f} wall, {c_canon / c_naive:.2f} CPU; "
        "target < 30 s: "
        f"{'met' if t_full < 30 else 'NOT met'} (all types), {'met' if t_canon < 30 else 'NOT met'} (1-h + AQI)"
    )


def synthetic_store(folder: Path, n_stations: int):
    from bogda.registry.places import upsert_place
    from bogda.registry.sites import SiteInput, add_site
    from bogda.store import connect
    from bogda.store import series as S

    st = connect(f"sqlite:///{folder / 'chain.db'}")
    with st.begin() as conn:
        pref = upsert_place(conn, code="652300", name="昌吉州", level=1, kind="prefecture")
        counties = [
            upsert_place(conn, code=f"65230{i}", name=f"县{i}", level=2, kind="county", parent_id=pref)
            for i in range(1, 8)
        ]
        ids = [
            add_site(
                conn,
                SiteInput(
                    "air_station", f"B{i:03d}", f"站{i}", place_id=counties[i % 7], attrs={"evaluation": i % 10 != 0}
                ),
            )
            for i in range(n_stations)
        ]
    t0 = datetime(2024, 12, 31, 16, tzinfo=UTC)
    hours = 8760
    rng = np.random.default_rng(1)
    base = {"a34004": 40, "a34002": 80, "a21026": 10, "a21004": 30, "a21005": 0.8, "a05024": 60}
    ts = pl.datetime_range(t0, t0 + timedelta(hours=hours - 1), "1h", eager=True, time_zone="UTC")
    parts = []
    for sid in ids:
        for p, b in base.items():
            v = b * np.exp(rng.normal(0, 0.5, hours))
            v[rng.random(hours) < 0.02] = np.nan
            parts.append(pl.DataFrame({"site_id": sid, "parameter": p, "ts": ts, "value": np.round(v, 1)}))
    frame = pl.concat(parts).drop_nulls("value")
    t = time.perf_counter()
    S.write_long(st, frame, resolution="hour")
    print(f"setup: {frame.height:,} hourly values written in {time.perf_counter() - t:.1f} s")
    return st, t0, t0 + timedelta(hours=hours)


def bench_chain(folder: Path, n_stations: int) -> None:
    from bogda.monitoring.aqi_tables import daily, update_aqi
    from bogda.monitoring.assessment import assess_store
    from bogda.monitoring.load import read_qa

    st, start, end = synthetic_store(folder, n_stations)
    read_qa(st, start=start, end=end)  # seal the read cache once (a steady-state server has it)
    t0 = time.perf_counter()
    up = update_aqi(st, start=start, end=end, hourly=False)
    t_daily = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = assess_store(st, start=start, end=end, period="month")
    t_month = time.perf_counter() - t1
    chain = t_daily + t_month
    print(
        f"chain hourly → daily ({up.daily_rows:,} rows; read {up.seconds['read']:.1f} s) → monthly "
        f"({res.height:,} figures): {chain:.1f} s (daily {t_daily:.1f}, monthly {t_month:.1f})"
    )
    t2 = time.perf_counter()
    up_h = update_aqi(st, start=start, end=end, hourly=True)
    print(f"with the hourly AQI table as well: {time.perf_counter() - t2:.1f} s ({up_h.hourly_rows:,} hourly rows)")
    # baseline: per-station daily AQI
    obs = read_qa(st, start=start, end=end).filter(pl.col("flag") != "invalid")
    t3 = time.perf_counter()
    for (sid,), part in obs.partition_by("site_id", as_dict=True).items():
        daily(part.select(pl.lit(str(sid)).alias("target_code"), "ts", "parameter", "value"))
    t_base = time.perf_counter() - t3
    print(
        f"baseline per-station daily AQI (compute only, no writes): {t_base:.1f} s; ratio chain / baseline "
        f"{chain / t_base:.2f}; target < 10 s: {'met' if chain < 10 else 'NOT met'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-chain", action="store_true")
    ap.add_argument("--stations", type=int, default=100)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_ingest:
            if CNEMC.exists():
                bench_ingest(Path(tmp))
            else:
                print(f"skipped ingest: {CNEMC} not found")
        if not args.skip_chain:
            bench_chain(Path(tmp), args.stations)


if __name__ == "__main__":
    main()
