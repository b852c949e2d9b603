"""KPI tables per grid, township, county or prefecture and period, over the tasks a user may see
(governance.md §3.6); rebuilt from ``task_event`` as of the period end."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bogda.grid.kpi import Ratio, TaskFacts, compute, county_score, overdue_open, replay
from bogda.grid.policy import Actor
from bogda.grid.tasks import GridService
from bogda.store.schema import place, task, task_event

LEVEL_KINDS = ("prefecture", "county", "township", "grid_cell")


def facts_for(service: GridService, actor: Actor, as_of: datetime) -> dict[int, TaskFacts]:
    """Facts of every task ``actor`` may see, as of ``as_of``."""
    with service.store.engine.connect() as conn:
        ids = select(task.c.id).where(service.scope_clause(actor))
        rows = (
            conn.execute(
                select(
                    task_event.c.task_id,
                    task_event.c.seq,
                    task_event.c.event,
                    task_event.c.to_state,
                    task_event.c.at,
                    task_event.c.detail,
                ).where(task_event.c.task_id.in_(ids))
            )
            .mappings()
            .all()
        )
    return replay(rows, as_of)


def kpi_rows(
    service: GridService,
    actor: Actor,
    start: datetime,
    end: datetime,
    *,
    level: str = "county",
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """One row per place of ``level`` (plus a total row): ``place``, ``place_id``, ``kpis``, ``overdue``,
    ``score``, ``grade``. Tasks owned above ``level`` (e.g. by a county office when the level is township) are
    grouped under that owner. With ``as_of`` inside the period, the figures cover ``[start, as_of)``."""
    if level not in LEVEL_KINDS:
        raise ValueError(f"level {level!r}; expected one of {LEVEL_KINDS}")
    cut = min(end, as_of) if as_of is not None else end
    facts = facts_for(service, actor, cut)
    tree = service.tree()
    groups: dict[int | None, list[TaskFacts]] = defaultdict(list)
    for f in facts.values():
        key = tree.up_to_kind(f.place_id, level)
        groups[key if key is not None else f.place_id].append(f)
    with service.store.engine.connect() as conn:
        names = dict(conn.execute(select(place.c.id, place.c.name)).all())
    out = []
    for pid in sorted(groups, key=lambda p: (p is None, names.get(p, ""))):
        fs = groups[pid]
        k = compute(fs, start, cut)
        score, grade, _ = county_score(k, [f.card for f in fs])
        out.append(
            {
                "place_id": pid,
                "place": names.get(pid, "—") if pid is not None else "—",
                "kpis": k,
                "overdue": overdue_open(fs, cut),
                "score": score,
                "grade": grade,
            }
        )
    allf = list(facts.values())
    k = compute(allf, start, cut)
    score, grade, _ = county_score(k, [f.card for f in allf])
    out.append(
        {
            "place_id": None,
            "place": "合计",
            "kpis": k,
            "overdue": overdue_open(allf, cut),
            "score": score,
            "grade": grade,
        }
    )
    return out


def ratio_json(r: Ratio) -> dict[str, Any]:
    v = r.value
    return {
        "numerator": float(r.numerator),
        "denominator": r.denominator,
        "value": None if v is None else float(v),
        "display": r.display(),
        "dp": r.dp,
    }
