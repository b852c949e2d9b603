"""Benchmark: the fire service path — the ten FIRMS files (100,060 detections) ingested into a SQLite store.

Timed per phase (wall and CPU seconds, Polars on one thread): read, load context, learn, pipeline, store (source
files, detections, events, alerts, findings); then the 2025-11-18 file again (all duplicates). Baseline in the same
run: the pure pipeline alone on the same frame (``bench/bench_fire.py`` measures it in detail) and the 5 s budget
of fire.md §7, which covers "writing to the store in test mode".

Run: ``.venv/bin/python bench/bench_fire_service.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import sys
import tempfile
import time
from pathlib import Path

from bogda.fire.service import ingest_files
from bogda.store import connect

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fire"
FILES = [
    "firms_modis_c61_global_24h_2022-02-27.csv",
    "firms_modis_c61_global_24h_2023-03-10.csv",
    "firms_modis_c61_global_24h_2023-08-01.csv",
    "firms_modis_c61_global_24h_2025-11-18.csv",
    "firms_modis_c61_global_24h_2025-11-23.csv",
    "firms_legacy_modis_c6_seasia_24h_2019-01-22.csv",
    "firms_legacy_viirs_snpp_seasia_24h_2019-01-22.csv",
    "firms_modis_shapefile_dbf_export_2019-03-11.csv",
    "firms_country_archive_modis_2000_Colombia.csv",
    "firms_download_json_fire_nrt_M-C61_628466.json",
    "firms_viirs_noaa20_nrt_api_2026-09-17_excerpt.csv",
]
BUDGET_S = 5.0


def main() -> int:
    if not DATA.exists():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        st = connect(f"sqlite:///{Path(tmp) / 'bench.db'}")
        c0, w0 = time.process_time(), time.perf_counter()
        r = ingest_files(st, [DATA / f for f in FILES], whole_globe=True, learn=False)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        print(
            f"first ingest: {r.n_stored:,} stored, {r.n_duplicate:,} duplicates, {r.events_total:,} events, "
            f"{sum(r.alerts.values()):,} alerts, findings {r.findings}"
        )
        print("  phases [s wall]: " + ", ".join(f"{k} {v:.2f}" for k, v in r.timings.items()))
        print(f"  total {wall:.2f} s wall, {cpu:.2f} s CPU; budget {BUDGET_S:.1f} s → ratio {cpu / BUDGET_S:.2f}")
        c0 = time.process_time()
        r2 = ingest_files(st, [DATA / FILES[3]], whole_globe=True, learn=False)
        print(
            f"again 2025-11-18: {r2.n_stored} stored, {r2.n_duplicate:,} duplicates, "
            f"{time.process_time() - c0:.2f} s CPU"
        )
        st.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
