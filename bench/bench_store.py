"""Benchmark: series batch writes and frame reads on SQLite and PostgreSQL (issue 2 targets).

Targets: batch write ≥ 50,000 values/s on both engines; reading one year of hourly data for 100 stations ×
6 parameters (≈ 5.3 M values) into a frame in < 3 s.
Baselines in the same run: a plain SQLAlchemy ``executemany`` INSERT (no idempotency, no corrections, no
``latest``) for writes, and a row-wise ``fetchall`` of the same rows for reads.

Usage: ``python bench/bench_store.py [--stations 100] [--pg postgresql://postgres@127.0.0.1:5432/test]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import create_engine, text

from bogda.store import Store, connect, series
from bogda.store.schema import site

PARAMS = ["a34004", "a34002", "a21026", "a21004", "a21005", "a05024"]
YEAR = datetime(2025, 1, 1, tzinfo=UTC)


def make_sites(st: Store, n: int) -> list[int]:
    with st.begin() as conn:
        conn.execute(
            site.insert(),
            [{"kind": "air_station", "code": f"B{i:04d}", "name": f"b{i}", "attrs": {}} for i in range(n)],
        )
        return [r[0] for r in conn.execute(text("SELECT id FROM site ORDER BY id"))]


def make_frame(sites: list[int], hours: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = int(YEAR.timestamp())
    ts = t0 + 3600 * np.arange(hours, dtype=np.int64)
    n = len(sites) * len(PARAMS) * hours
    return pl.DataFrame(
        {
            "site_id": np.repeat(np.array(sites, dtype=np.int64), len(PARAMS) * hours),
            "parameter": np.tile(np.repeat(np.array(PARAMS), hours), len(sites)),
            "ts": np.tile(ts, len(sites) * len(PARAMS)),
            "value": np.round(rng.gamma(2.0, 20.0, n), 1),
            "flag": np.full(n, "N"),
        }
    )


def bench_engine(label: str, st: Store, stations: int, baseline_url: str) -> None:
    sites = make_sites(st, stations)
    frame = make_frame(sites, 8760)
    n = frame.height
    batch = 100_000
    t, c = time.perf_counter(), time.process_time()
    for i in range(0, n, batch):
        series.write_long(st, frame.slice(i, batch), resolution="hour")
    w, wc = time.perf_counter() - t, time.process_time() - c
    t = time.perf_counter()
    again = series.write_long(st, frame.slice(0, batch), resolution="hour")
    rw = time.perf_counter() - t
    assert again.unchanged == min(batch, n)

    # baseline write: plain executemany into a bare table, 200k rows
    base = create_engine(baseline_url)
    sub = frame.slice(0, 200_000).with_columns(pl.lit(1).alias("series_id"))
    with base.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_plain"))
        conn.execute(text("CREATE TABLE bench_plain (series_id integer, ts bigint, value float, flag varchar(4))"))
        rows = [
            {"s": s, "t": t_, "v": v, "f": f}
            for s, t_, v, f in sub.select("series_id", "ts", "value", "flag").iter_rows()
        ]
        t = time.perf_counter()
        conn.execute(text("INSERT INTO bench_plain VALUES (:s, :t, :v, :f)"), rows)
        bw = time.perf_counter() - t
        conn.execute(text("DROP TABLE bench_plain"))
    base.dispose()

    end = datetime(2026, 1, 1, tzinfo=UTC)
    t = time.perf_counter()
    df = series.read(st, sites=sites, start=YEAR, end=end)
    r1 = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    df2 = series.read(st, sites=sites, start=YEAR, end=end)
    r2, r2c = time.perf_counter() - t, time.process_time() - c
    assert df.height == n and df2.height == n, (df.height, df2.height, n)

    t = time.perf_counter()
    with st.engine.connect() as conn:
        raw_rows = conn.execute(text("SELECT series_id, ts, value, flag FROM observation")).all()
        pl.DataFrame(raw_rows, schema=["series_id", "ts", "value", "flag"], orient="row")
    br = time.perf_counter() - t

    load = os.getloadavg()[0]
    print(f"\n== {label}: {stations} stations x {len(PARAMS)} parameters x 8760 h = {n:,} values")
    print(f"(load average {load:.1f} on {os.cpu_count()} cores when the run ended)")
    print(
        f"write (idempotent, corrections, latest): {n / w:,.0f} values/s ({w:.1f} s wall; "
        f"{wc:.1f} s CPU in this process)   target >= 50,000"
    )
    print(f"re-write of an unchanged batch: {batch / rw:,.0f} values/s")
    print(f"baseline plain executemany INSERT: {200_000 / bw:,.0f} values/s   ratio {n / w / (200_000 / bw):.2f}x")
    print(f"read one year into a frame: first {r1:.2f} s, again {r2:.2f} s wall ({r2c:.2f} s CPU)   target < 3 s")
    print(f"baseline row-wise fetchall read: {br:.2f} s   ratio {br / r2:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--skip-pg", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        st = connect(url)
        bench_engine("SQLite (WAL)", st, args.stations, url)
        st.dispose()
    if args.skip_pg:
        return
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    name = f"bogda_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        st = connect(url)
        bench_engine("PostgreSQL 15 (monthly partitions)", st, args.stations, url)
        st.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
