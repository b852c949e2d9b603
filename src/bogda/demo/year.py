"""The demo's accounting year: the ledgers and daily AQI (:mod:`bogda.demo.ledger_year`) and the grid's tasks
(:mod:`bogda.demo.grid_year`), filled once per store so ``bogda demo`` opens on ledgers, KPIs and reports that
already have records behind them (``bogda report monthly 2025-12``, ``bogda report annual 2025``).

Running it again leaves a store that already holds a part untouched (the parts are not idempotent row by row:
the ledgers' keys and the tasks' histories would clash).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from bogda.store import Store
from bogda.store.schema import rectification


@dataclass
class FilledYear:
    """What :func:`fill_demo_year` wrote (``written``), skipped, and the seconds each part took (wall, CPU)."""

    written: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, tuple[float, float]] = field(default_factory=dict)


def has_ledger_year(store: Store) -> bool:
    """Whether the ledgers already hold records (the demo year or real ones)."""
    with store.engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(rectification)).scalar())


def fill_demo_year(
    store: Store,
    *,
    data_dir: Path | str = Path("var"),
    grid_per_month: int = 20,
    progress: Callable[[str], None] | None = None,
) -> FilledYear:
    """Fill the ledgers, 2024–2025 daily AQI and the 2025 grid tasks of the demo region in ``store``."""
    from bogda.demo.grid_year import build_grid_year, has_grid_year
    from bogda.demo.ledger_year import build_ledger_year
    from bogda.web.api.targets_io import seed_targets

    out = FilledYear()
    say = progress or (lambda _m: None)
    if has_ledger_year(store):
        out.skipped.append("ledgers (the store already holds ledger records)")
    else:
        say("ledgers and daily AQI of the demo year")
        t0, c0 = time.perf_counter(), time.process_time()
        out.written.update(build_ledger_year(store).written)
        out.seconds["ledgers"] = (time.perf_counter() - t0, time.process_time() - c0)
    if has_grid_year(store):
        out.skipped.append("grid tasks (the demo grid year is already there)")
    else:
        say("a year of grid tasks through the task service")
        t0, c0 = time.perf_counter(), time.process_time()
        g = build_grid_year(store, data_dir=data_dir, per_month=grid_per_month, progress=say)
        out.written["grid findings"] = g.arrivals
        out.written["grid tasks"] = g.tasks
        out.seconds["grid"] = (time.perf_counter() - t0, time.process_time() - c0)
    out.written["annual targets (seed)"] = seed_targets(store).written  # keeps stored targets: a re-run changes nothing
    return out
