"""The grid's closed-loop KPIs of a period as report figures (governance.md §3.6), for the monthly bulletin and the
annual duty report alike.

The figures are rebuilt from the task event log (``task_event``) as of the period end with
:func:`bogda.grid.kpi.replay` and :func:`bogda.grid.kpi.compute`, the same code the console's KPI page uses, so a
document and the console never disagree; each figure names its task ids (``task:<id>``) and keeps its exact
numerator and denominator.
"""

from __future__ import annotations

from sqlalchemy import select

from bogda.grid.kpi import KPI_NAMES, TaskFacts, compute, overdue_open, replay
from bogda.ledger.figures import Figure, refs
from bogda.ledger.period import Period
from bogda.store import Store
from bogda.store.schema import task_event

RATIOS = ("closure_on_time", "closure", "confirmed", "sign_timely", "rework", "repeat")
"""The KPIs the documents quote (keys of :data:`bogda.grid.kpi.KPI_NAMES`)."""


def grid_figures(store: Store, period: Period) -> dict[str, Figure]:
    """``grid.tasks`` (tasks made in the period), ``grid.due`` (应结案数), ``grid.closed_on_time``,
    ``grid.overdue_open`` (超期未办结 at the period end) and the ratios of :data:`RATIOS` as ``grid.<key>``."""
    with store.engine.connect() as conn:
        evs = [
            dict(r)
            for r in conn.execute(
                select(
                    task_event.c.task_id,
                    task_event.c.seq,
                    task_event.c.event,
                    task_event.c.to_state,
                    task_event.c.at,
                    task_event.c.detail,
                ).where(task_event.c.at < period.end)
            ).mappings()
        ]
    facts = replay(evs, as_of=period.end)
    k = compute(facts.values(), period.start, period.end)
    made = sorted(f.id for f in facts.values() if period.has_time(f.created_at))
    basis = f"网格任务（task_event 重放，截至{period.last}）"
    out: dict[str, Figure] = {
        "grid.tasks": Figure(
            "grid.tasks",
            "网格化监管任务数",
            len(made),
            "件",
            0,
            f"{basis}：{period.words}创建的任务",
            refs("task", made),
        )
    }
    due = k["closure_on_time"]
    out["grid.due"] = Figure(
        "grid.due",
        "应结案任务数",
        due.denominator,
        "件",
        0,
        f"{basis}：办结时限在{period.words}内的任务（已取消的除外）",
        refs("task", due.ids),
    )
    on_time_ids = _on_time_ids(facts, period)
    out["grid.closed_on_time"] = Figure(
        "grid.closed_on_time",
        "按期办结任务数",
        len(on_time_ids),
        "件",
        0,
        f"{basis}：办结时限在{period.words}内且不晚于时限办结的任务",
        refs("task", on_time_ids),
    )
    late = overdue_open(facts.values(), period.end)
    out["grid.overdue_open"] = Figure(
        "grid.overdue_open",
        "超期未办结任务数",
        len(late),
        "件",
        0,
        f"{basis}：截至{period.last}未办结且已过办结时限的任务",
        refs("task", late),
    )
    for key in RATIOS:
        r = k[key]
        zh = KPI_NAMES[key][0]
        out[f"grid.{key}"] = Figure(
            f"grid.{key}",
            zh,
            r.value,
            "%" if r.percent else "",
            r.dp,
            f"网格任务KPI（governance §3.6）{zh}：分子/分母按{period.words}口径，由任务事件重放",
            refs("task", r.ids),
            numerator=r.numerator,
            denominator=r.denominator,
        )
    return out


def _on_time_ids(facts: dict[int, TaskFacts], period: Period) -> list[int]:
    return sorted(
        f.id
        for f in facts.values()
        if f.state != "CANCELLED"
        and period.has_time(f.close_due)
        and f.closed_at is not None
        and f.closed_at <= f.close_due
    )
