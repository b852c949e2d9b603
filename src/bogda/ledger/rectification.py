"""督察整改任务 ledger (governance.md §3.7): inspection rectification tasks and 按期销号率.

按期销号率 = tasks with ``cancel_date ≤ deadline`` / tasks due (deadline in the period, as of its end);
已验收待销号 is not closed.
"""

from __future__ import annotations

from typing import Any

from bogda.ledger.base import Field, Ledger, Problem
from bogda.ledger.figures import Figure, count, ratio
from bogda.ledger.period import Period
from bogda.store.schema import rectification as T

TERMS = ("立行立改", "短期", "中期", "长期")
STATUSES = ("未启动", "推进中", "已完成待验收", "已验收待销号", "已销号", "逾期", "长期坚持")
LEVELS = ("县", "州", "自治区")
CARDS = ("none", "blue", "yellow", "red")

FIELDS = (
    Field("batch", "督察批次", required=True, aliases=("批次",)),
    Field("task_no", "任务编号", required=True, aliases=("编号",)),
    Field("problem", "问题描述", "text", required=True, aliases=("问题",)),
    Field("target", "整改目标", "text"),
    Field("measures", "整改措施", "list"),
    Field("lead_unit", "牵头单位"),
    Field("co_units", "配合单位", "list"),
    Field("responsible", "责任人"),
    Field("deadline", "整改时限", "date", required=True, aliases=("完成时限",)),
    Field("term", "整改类型", required=True, choices=TERMS),
    Field("milestones", "阶段节点", "list"),
    Field("progress_pct", "进度(%)", "float", minimum=0, aliases=("进度",)),
    Field("acceptance_level", "验收层级", choices=LEVELS),
    Field("acceptance_date", "验收日期", "date"),
    Field("cancel_date", "销号日期", "date"),
    Field("card", "亮牌", choices=CARDS),
)


def check(rec: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    if rec.get("status") and rec["status"] not in STATUSES:
        out.append(("status", f"{rec['status']!r} is not one of {'/'.join(STATUSES)}"))
    if (rec.get("progress_pct") or 0) > 100:
        out.append(("progress_pct", "progress above 100 %"))
    if rec.get("cancel_date") and not rec.get("acceptance_date"):
        out.append(("cancel_date", "销号 needs an acceptance date (验收日期) first"))
    if rec.get("cancel_date") and rec.get("acceptance_date") and rec["cancel_date"] < rec["acceptance_date"]:
        out.append(("cancel_date", "销号日期 is before 验收日期"))
    if rec.get("acceptance_date") and not rec.get("acceptance_level"):
        out.append(("acceptance_level", "an accepted task needs its acceptance level (县/州/自治区)"))
    if rec.get("status") == "已销号" and not rec.get("cancel_date"):
        out.append(("cancel_date", "status 已销号 needs 销号日期"))
    if rec.get("card") is None:
        rec["card"] = "none"
    if rec.get("progress_pct") is None:
        rec["progress_pct"] = 0.0
    return out


LEDGER = Ledger("rectification", "督察整改任务台账", "Inspection rectification tasks", T, "task_no", FIELDS, check)


def figures(rows: list[dict[str, Any]], period: Period) -> dict[str, Figure]:
    """Rectification figures as of the period end (governance §3.7, §3.9)."""
    due = [r for r in rows if r["deadline"] <= period.last and r["deadline"] >= period.first]
    on_time = [r for r in due if r.get("cancel_date") and r["cancel_date"] <= r["deadline"]]
    cancelled = [r for r in rows if r.get("cancel_date") and r["cancel_date"] <= period.last]
    rest = [r for r in due if r not in on_time]
    accepted_rest = [r for r in rest if r.get("acceptance_date") and r["acceptance_date"] <= period.last]
    q = f"督察整改任务台账：整改时限在{period.words}内的任务"
    out = {
        "rect.due": count("rect.due", "到期整改任务数", "rectification", due, q),
        "rect.on_time": count(
            "rect.on_time", "按期销号任务数", "rectification", on_time, q + "，且销号日期 ≤ 整改时限"
        ),
        "rect.on_time_rate": ratio(
            "rect.on_time_rate", "按期销号率", "rectification", on_time, due, q + "；按期销号数/到期任务数"
        ),
        "rect.cancelled": count(
            "rect.cancelled", "累计销号任务数", "rectification", cancelled, f"督察整改任务台账：截至{period.last}已销号"
        ),
        "rect.rest_accepted": count(
            "rect.rest_accepted",
            "未按期销号但已验收任务数",
            "rectification",
            accepted_rest,
            q + "，未按期销号、已通过验收（待销号）",
        ),
    }
    levels = sorted({r["acceptance_level"] for r in accepted_rest if r.get("acceptance_level")})
    out["rect.rest_levels"] = Figure(
        "rect.rest_levels",
        "未按期销号任务验收层级",
        None if not levels else len(levels),
        "",
        0,
        q + "，未按期销号任务的验收层级",
        tuple(f"rectification:{r['id']}" for r in accepted_rest),
        detail={"text": "、".join(f"{lv}级" for lv in levels) or "—"},
    )
    return out
