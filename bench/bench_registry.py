"""Benchmark: point → place lookup on the Changji grid (issue 2 target ≥ 100,000 points/s).

Points are drawn uniformly over the prefecture's bounding box; those inside a 3 km cell resolve by arithmetic on the
Albers projection and a sorted-array search, the rest by prepared-polygon tests. Baseline in the same run: a plain
Shapely STRtree ``within`` query of every point against every cell polygon.

Usage: ``python bench/bench_registry.py [--points 1000000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from bogda.registry import places as P
from bogda.store import connect


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        st = connect(f"sqlite:///{Path(tmp) / 'b.db'}")
        t = time.perf_counter()
        P.load_prefecture(st, "652300")
        n_cells = P.load_grid_cells(st)
        build = time.perf_counter() - t
        t = time.perf_counter()
        index = P.PlaceIndex.from_store(st)
        load = time.perf_counter() - t
        rng = np.random.default_rng(1)
        lon = rng.uniform(85.58, 91.57, args.points)
        lat = rng.uniform(43.10, 45.49, args.points)
        t = time.perf_counter()
        got = index.locate_many(lon, lat)
        dt = time.perf_counter() - t
        inside = got >= 0
        cells = P.list_places(st, kinds=["grid_cell"])
        tree = shapely.STRtree([shape(c.geometry) for c in cells])
        m = min(args.points, 100_000)
        pts = shapely.points(lon[:m], lat[:m])
        t = time.perf_counter()
        tree.query(pts, predicate="within")
        base = (time.perf_counter() - t) / m
        st.dispose()
    print(f"grid: {n_cells:,} cells of 3 km, built in {build:.1f} s; index loaded in {load:.2f} s")
    print(f"lookup: {args.points:,} points in {dt:.3f} s = {args.points / dt:,.0f} points/s   target >= 100,000")
    print(f"  {inside.mean():.1%} of the bounding box falls in a place")
    print(
        f"baseline STRtree 'within' on cell polygons: {1 / base:,.0f} points/s   ratio {(args.points / dt) * base:.1f}x"
    )


if __name__ == "__main__":
    main()
