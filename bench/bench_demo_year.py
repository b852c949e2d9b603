"""Benchmark: what the demo year adds to ``bogda demo`` start-up (wall and CPU time, load average).

Steps, in one temporary SQLite store, as ``bogda demo`` runs them: the demo region with 7 days of hourly data (the
baseline: ``bogda demo`` before the demo year was added), the ledgers with 2024–2025 daily AQI
(:func:`bogda.demo.ledger_year.build_ledger_year`), the 2025 grid year through the task service
(:func:`bogda.demo.grid_year.build_grid_year`). Prints each step and the ratio of the whole start-up to the
baseline. The machine is shared: CPU time is the steadier figure.

Run: ``.venv/bin/python bench/bench_demo_year.py [grid_findings_per_month]``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def timed(what: str, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{what:<44} wall {wall:7.1f} s   CPU {cpu:6.1f} s")
    return wall, cpu, out


def main() -> None:
    from bogda.demo.grid_year import build_grid_year
    from bogda.demo.ledger_year import build_ledger_year
    from bogda.demo.region import build_demo_region
    from bogda.demo.simulate import load_recent
    from bogda.store import connect

    per_month = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        st = connect(f"sqlite:///{Path(tmp) / 'demo.db'}")

        def region() -> Any:
            r = build_demo_region(st)
            return load_recent(st, r.stations, days=7)

        w0, c0, _ = timed("region + 7 days hourly (baseline)", region)
        w1, c1, _ = timed("ledgers + 2024-2025 daily AQI", lambda: build_ledger_year(st))
        w2, c2, g = timed(
            f"grid year ({per_month}/month)",
            lambda: build_grid_year(st, per_month=per_month, data_dir=Path(tmp) / "var"),
        )
        st.dispose()
    print(f"grid year: {g.arrivals} findings, {g.tasks} tasks, {g.steps['photos']} photos, {g.steps['sweeps']} sweeps")
    print(
        f"demo start-up with the year / without: wall {(w0 + w1 + w2) / w0:.2f}x ({w0 + w1 + w2:.1f} s), "
        f"CPU {(c0 + c1 + c2) / c0:.2f}x ({c0 + c1 + c2:.1f} s)"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
