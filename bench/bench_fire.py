"""Benchmark: fire pipeline on 100,060 real FIRMS detections on one CPU core (fire.md §7).

Steps timed (CPU seconds, Polars limited to one thread): parse and normalise all ten FIRMS files in
../shared/data/fire, then :func:`bogda.fire.pipeline.process_detections` with a whole-globe region (de-duplicate,
region filter, flags, overpass clustering, cross-satellite linking, events, alerts and finding drafts, daily
statistics), then the 2025-11-18 file again with the first batch as history (6,624 duplicates expected). Writing to
the store is not part of this pure core and is not timed.

Baselines in the same run: the 5 s budget of fire.md §7, and a naive pure-Python implementation (csv.DictReader,
per-row strptime, all-pairs adjacency within each overpass) timed on a 10,000-row subsample against bogda on the
same subsample.

Run: ``.venv/bin/python bench/bench_fire.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # one core, set before Polars starts its pool

import csv
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import shapely

from bogda.fire.cluster import cluster_detections
from bogda.fire.formats import read_fire_file
from bogda.fire.masks import empty_sources
from bogda.fire.pipeline import Region, process_detections
from bogda.fire.region import Boundary

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fire"
FIRMS = [
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


def cpu() -> float:
    return time.process_time()


def naive(paths: list[Path], limit: int) -> tuple[int, int]:
    """A straightforward pure-Python reading and clustering, as a reference point (not used by bogda)."""
    rows = []
    for p in paths:
        if p.suffix != ".csv":
            continue
        with p.open(encoding="utf-8-sig") as fh:
            for rec in csv.DictReader(fh):
                t = rec["acq_time"].replace(":", "")[:4].zfill(4)
                when = datetime.strptime(f"{rec['acq_date']} {t}", "%Y-%m-%d %H%M").replace(tzinfo=UTC)
                rows.append(
                    (
                        rec["satellite"],
                        when,
                        float(rec["latitude"]),
                        float(rec["longitude"]),
                        float(rec["scan"]),
                        float(rec["track"]),
                    )
                )
                if len(rows) >= limit:
                    break
        if len(rows) >= limit:
            break
    rows.sort(key=lambda r: (r[0], r[1]))
    groups: list[list[tuple]] = []
    for r in rows:
        if groups and groups[-1][-1][0] == r[0] and (r[1] - groups[-1][-1][1]).total_seconds() <= 600:
            groups[-1].append(r)
        else:
            groups.append([r])
    n_clusters = 0
    for g in groups:
        parent = list(range(len(g)))

        def find(x: int, parent: list[int] = parent) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                a, b = g[i], g[j]
                p1, p2 = math.radians(a[2]), math.radians(b[2])
                h = (
                    math.sin((p2 - p1) / 2) ** 2
                    + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b[3] - a[3]) / 2) ** 2
                )
                d = 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))
                if d <= 0.5 * (math.hypot(a[4], a[5]) + math.hypot(b[4], b[5])) + 0.15:
                    parent[find(i)] = find(j)
        n_clusters += len({find(i) for i in range(len(g))})
    return len(rows), n_clusters


def main() -> None:
    if not DATA.exists():
        sys.exit(f"shared data not found: {DATA}")
    paths = [DATA / f for f in FIRMS]
    globe = Region([Boundary("globe", "globe", shapely.box(-180, -90, 180, 90))], margin_km=0.0)

    c0 = cpu()
    frames = [read_fire_file(p).detections for p in paths]
    batch = pl.concat(frames)
    c_read = cpu() - c0
    c0 = cpu()
    result = process_detections(batch, globe)
    c_proc = cpu() - c0
    total = c_read + c_proc
    print(f"fire pipeline, {batch.height:,} detections from {len(paths)} FIRMS files, whole-globe region, 1 core:")
    print(f"  parse + normalise          {c_read:6.2f} s CPU")
    print(
        f"  dedup/region/flags/cluster/events/alerts/stats {c_proc:6.2f} s CPU "
        f"({result.clusters.height:,} clusters, {result.events.filter(pl.col('status') != 'merged').height:,} events, "
        f"{result.plan.n('new'):,} new findings, {result.plan.n('still_detected'):,} attached, "
        f"{result.plan.n('suppressed'):,} suppressed)"
    )
    print(
        f"  total                      {total:6.2f} s CPU = {batch.height / total:,.0f} detections/s; "
        f"budget {BUDGET_S:.0f} s → ratio {total / BUDGET_S:.2f} of budget"
    )

    again = read_fire_file(DATA / "firms_modis_c61_global_24h_2025-11-18.csv").detections
    c0 = cpu()
    second = process_detections(again, globe, history=batch, learned=empty_sources())
    c_again = cpu() - c0
    print(
        f"  2025-11-18 again with the batch as history: {second.n_duplicate:,} duplicates, "
        f"{int(second.detections['is_new'].sum())} new rows, {c_again:.2f} s CPU"
    )

    limit = 10_000
    c0 = cpu()
    n_naive, k_naive = naive(paths, limit)
    c_naive = cpu() - c0
    c0 = cpu()
    sub = read_fire_file(paths[0]).detections.head(limit)  # reads the whole file: conservative for bogda
    k_bogda = cluster_detections(sub)["cluster_id"].n_unique()
    c_sub = cpu() - c0
    print(
        f"baseline: naive pure-Python parse + all-pairs clustering of {n_naive:,} rows: {c_naive:.2f} s CPU "
        f"({k_naive:,} clusters); bogda read + cluster of the same rows: {c_sub:.2f} s CPU ({k_bogda:,} clusters) "
        f"→ {c_naive / c_sub:.1f}× faster"
    )


if __name__ == "__main__":
    main()
