"""Grid benchmarks (governance.md §7): routing per finding, transition latency, KPI recompute of 100,000 tasks.

Run: ``.venv/bin/python bench/bench_grid.py [n_findings]``. Prints each figure, its target and the ratio against
a baseline measured in the same run: routing against the bare point → place lookup, transitions against a bare
one-row UPDATE in its own transaction, the KPI replay against one sorted pass over the same events.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bogda.findings import FindingDraft
from bogda.grid.kpi import compute, replay
from bogda.grid.service_base import SYSTEM
from bogda.grid.tasks import GridConfig, GridService
from bogda.registry import places as P
from bogda.store import connect
from bogda.store.schema import task

T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


def main(n: int = 300) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_grid_"))
    store = connect(f"sqlite:///{folder / 'bench.db'}")
    t = time.perf_counter()
    P.load_prefecture(store, "652300")
    cells = P.load_grid_cells(store)
    print(f"setup: Changji prefecture, 7 counties, {cells} cells in {time.perf_counter() - t:.1f} s")
    index = P.PlaceIndex.from_store(store)
    svc = GridService(store, GridConfig(data_dir=folder / "data", dedupe=True), index=index)
    rng = np.random.default_rng(7)
    lon = rng.uniform(86.5, 89.5, n)
    lat = rng.uniform(43.8, 44.6, n)

    t = time.perf_counter()
    for x, y in zip(lon, lat, strict=True):
        index.locate(float(x), float(y))
    base = (time.perf_counter() - t) / n * 1000

    t = time.perf_counter()
    ids = []
    for i, (x, y) in enumerate(zip(lon, lat, strict=True)):
        out = svc.file_finding(
            FindingDraft(
                kind="alarm",
                severity="medium",
                title=f"bench {i}",
                dedupe_key=f"b{i}",
                detected_at=T0,
                lon=float(x),
                lat=float(y),
            ),
            now=T0,
        )
        ids.append(out.task_id)
    per = (time.perf_counter() - t) / n * 1000
    print(
        f"routing (finding → task, with dedupe, one transaction each): {per:.2f} ms/finding "
        f"(target ≤ 5 ms for the lookup; bare lookup {base:.3f} ms; ratio {per / base:.0f}×)"
    )

    lat_ms = []
    with store.engine.connect() as conn:
        ids = [r.id for r in conn.execute(task.select().where(task.c.place_id.is_not(None)))]
    for tid in ids:
        t = time.perf_counter()
        svc.transition(tid, "dispatch", SYSTEM, now=T0 + timedelta(minutes=1))
        lat_ms.append((time.perf_counter() - t) * 1000)
    bare = []
    for tid in ids:
        t = time.perf_counter()
        with store.begin() as conn:
            conn.execute(task.update().where(task.c.id == tid).values(updated_at=T0))
        bare.append((time.perf_counter() - t) * 1000)
    p95 = float(np.percentile(lat_ms, 95))
    b95 = float(np.percentile(bare, 95))
    print(
        f"transition p95: {p95:.1f} ms (median {statistics.median(lat_ms):.1f} ms; target ≤ 200 ms; "
        f"bare UPDATE p95 {b95:.2f} ms; ratio {p95 / b95:.0f}×)"
    )

    n_tasks = 100_000
    events = []
    for i in range(n_tasks):
        t0 = T0 + timedelta(minutes=i % 40000)
        snap = {
            "source": "station_alarm",
            "category": "air",
            "severity": "P2",
            "place_id": i % 80,
            "sign_due": (t0 + timedelta(hours=1)).isoformat(),
            "close_due": (t0 + timedelta(days=3)).isoformat(),
            "repeat_count": i % 7 == 0,
            "rework_count": i % 9 == 0,
            "verdict": "confirmed",
        }
        for seq, (ev, to, dt) in enumerate(
            (
                ("create", "NEW", 0),
                ("dispatch", "DISPATCHED", 5),
                ("sign", "ACCEPTED", 30),
                ("confirm", "HANDLING", 60),
                ("feedback", "REVIEW", 600),
                ("approve", "CLOSED", 900),
            ),
            start=1,
        ):
            events.append(
                {
                    "task_id": i,
                    "seq": seq,
                    "event": ev,
                    "to_state": to,
                    "at": t0 + timedelta(minutes=dt),
                    "detail": {"snap": snap},
                }
            )
    t = time.perf_counter()
    _ = sorted(events, key=lambda e: (e["task_id"], e["seq"]))
    base = time.perf_counter() - t
    t = time.perf_counter()
    facts = replay(events)
    k = compute(facts.values(), T0, T0 + timedelta(days=60))
    took = time.perf_counter() - t
    print(
        f"KPI recompute from {len(events):,} events of {n_tasks:,} tasks: {took:.2f} s (target ≤ 10 s; "
        f"sorted pass {base:.2f} s; ratio {took / base:.1f}×); 按期办结率 {k['closure_on_time'].display()}"
    )
    store.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
