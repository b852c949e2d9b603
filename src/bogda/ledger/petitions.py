"""信访 ledger (governance.md §3.7): petitions received, assigned, handled, closed.

办结率 = closed / assigned, per batch: routine petitions (no ``inspection_batch``) and each inspection batch
(督察交办) apart; 查实率 = (属实 + 部分属实) / petitions with a finding [D]; satisfaction = (满意 + 基本满意) /
responses [D]; 平均办结天数 = mean(closed − received) [calendar days]; category shares.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from bogda.ledger.base import Field, Ledger, Problem
from bogda.ledger.figures import Figure, count, mean, ratio
from bogda.ledger.period import Period
from bogda.store.schema import petition as T

CHANNELS = ("12369", "12345", "来信", "来访", "网络", "督察交办", "其他")
CATEGORIES = ("涉水", "涉气", "噪声", "固废", "辐射", "建设项目", "生态", "其他")
FINDINGS = ("属实", "部分属实", "不属实")
SATISFACTION = ("满意", "基本满意", "不满意", "未回访")
DUE_DAYS = 60
EXTENSION_DAYS = 30
"""Closure within 60 days of acceptance, extendable by ≤ 30 days with approval (governance §3.4 [P])."""

FIELDS = (
    Field("petition_no", "信访编号", required=True, aliases=("编号",)),
    Field("channel", "来源渠道", required=True, choices=CHANNELS, aliases=("渠道",)),
    Field("received_at", "受理时间", "datetime", required=True, aliases=("收件时间", "接收时间")),
    Field("accepted", "是否受理", "bool", default=True),
    Field("accept_decided_at", "受理决定时间", "datetime"),
    Field("category", "问题类别", required=True, choices=CATEGORIES, aliases=("类别",)),
    Field("subject_name", "被反映对象"),
    Field("subject_uscc", "统一社会信用代码"),
    Field("location", "地点"),
    Field("assigned_at", "交办时间", "datetime"),
    Field("due_at", "办理时限", "datetime"),
    Field("extended_to", "延期至", "datetime"),
    Field("finding", "调查结论", choices=FINDINGS),
    Field("actions", "处理措施", "list"),
    Field("closed_at", "办结时间", "datetime"),
    Field("reply_at", "答复时间", "datetime"),
    Field("satisfaction", "满意度", choices=SATISFACTION),
    Field("repeat_of", "重复件原编号"),
    Field("inspection_batch", "督察批次"),
    Field("task_id", "任务编号", "int"),
)


def check(rec: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    rec.setdefault("accepted", True)
    got = rec.get("received_at")
    for k in ("assigned_at", "closed_at", "reply_at", "accept_decided_at"):
        if rec.get(k) and got and rec[k] < got:
            out.append((k, f"{k} is before 受理时间"))
    base = rec.get("assigned_at") or got
    if base and rec.get("due_at") is None:
        rec["due_at"] = base + timedelta(days=DUE_DAYS)
    ext, due = rec.get("extended_to"), rec.get("due_at")
    if ext and due and ext - due > timedelta(days=EXTENSION_DAYS):
        out.append(("extended_to", f"extension beyond {EXTENSION_DAYS} days"))
    if rec.get("closed_at") and not rec.get("finding") and rec.get("accepted", True):
        out.append(("finding", "a closed petition needs its finding (属实/部分属实/不属实)"))
    return out


LEDGER = Ledger("petition", "信访件台账", "Petitions", T, "petition_no", FIELDS, check, order_by="received_at")


def _closed(rows: list[dict[str, Any]], period: Period) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("closed_at") and r["closed_at"] < period.end]


def figures(rows: list[dict[str, Any]], period: Period) -> dict[str, Figure]:
    """Petition figures as of the period end, routine and per inspection batch."""
    out: dict[str, Figure] = {}
    routine = [r for r in rows if not r.get("inspection_batch") and period.has_time(r["received_at"])]
    q = f"信访件台账：{period.words}受理、非督察交办的信访件"
    closed = _closed(routine, period)
    out["petition.received"] = count("petition.received", "受理信访件数", "petition", routine, q)
    out["petition.closed"] = count("petition.closed", "办结信访件数", "petition", closed, q + "，办结时间不晚于期末")
    out["petition.closure_rate"] = ratio(
        "petition.closure_rate", "信访件办结率", "petition", closed, routine, q + "；办结数/受理数"
    )
    with_finding = [r for r in closed if r.get("finding")]
    confirmed = [r for r in with_finding if r["finding"] in ("属实", "部分属实")]
    out["petition.confirmed_rate"] = ratio(
        "petition.confirmed_rate",
        "信访件查实率",
        "petition",
        confirmed,
        with_finding,
        q + "；(属实+部分属实)/有调查结论件数",
    )
    days = [Decimal((r["closed_at"] - r["received_at"]).total_seconds()) / 86400 for r in closed]
    out["petition.avg_days"] = mean(
        "petition.avg_days", "信访件平均办结天数", "petition", closed, days, q + "；Σ(办结−受理)/办结数"
    )
    responses = [r for r in closed if r.get("satisfaction") and r["satisfaction"] != "未回访"]
    satisfied = [r for r in responses if r["satisfaction"] in ("满意", "基本满意")]
    out["petition.satisfaction"] = ratio(
        "petition.satisfaction", "信访满意率", "petition", satisfied, responses, q + "；(满意+基本满意)/回访件数"
    )
    air = [r for r in routine if r["category"] == "涉气"]
    out["petition.air_share"] = ratio(
        "petition.air_share", "涉气信访占比", "petition", air, routine, q + "；涉气件数/受理数"
    )
    batches = sorted({r["inspection_batch"] for r in rows if r.get("inspection_batch")})
    all_assigned: list[dict[str, Any]] = []
    for i, b in enumerate(batches, start=1):
        assigned = [
            r for r in rows if r.get("inspection_batch") == b and r.get("assigned_at") and r["assigned_at"] < period.end
        ]
        all_assigned.extend(assigned)
        done = _closed(assigned, period)
        qb = f"信访件台账：督察批次「{b}」截至{period.last}交办的信访件"
        out[f"petition.batch{i}.name"] = Figure(
            f"petition.batch{i}.name", "督察批次", None, "", 0, qb, (), detail={"text": b}
        )
        out[f"petition.batch{i}.assigned"] = count(
            f"petition.batch{i}.assigned", "督察交办信访件数", "petition", assigned, qb
        )
        out[f"petition.batch{i}.closed"] = count(
            f"petition.batch{i}.closed", "督察交办信访件办结数", "petition", done, qb + "，已办结"
        )
        out[f"petition.batch{i}.closure_rate"] = ratio(
            f"petition.batch{i}.closure_rate",
            "督察交办信访件办结率",
            "petition",
            done,
            assigned,
            qb + "；办结数/交办数",
        )
    q2 = f"信访件台账：截至{period.last}各督察批次交办的信访件"
    done_all = _closed(all_assigned, period)
    out["petition.inspection.assigned"] = count(
        "petition.inspection.assigned", "督察交办信访件数", "petition", all_assigned, q2
    )
    open_ = [r for r in all_assigned if r not in done_all]
    k = "petition.inspection"
    out[f"{k}.open"] = count(f"{k}.open", "督察交办信访件未办结数", "petition", open_, q2 + "，期末未办结")
    out["petition.inspection.closed"] = count(
        "petition.inspection.closed", "督察交办信访件办结数", "petition", done_all, q2 + "，已办结"
    )
    out["petition.inspection.closure_rate"] = ratio(
        "petition.inspection.closure_rate",
        "督察交办信访件办结率",
        "petition",
        done_all,
        all_assigned,
        q2 + "；办结数/交办数",
    )
    return out
