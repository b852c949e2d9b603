"""Emission permit and EIA approval ledgers (governance.md §3.7, §3.4).

Processing days = decided − accepted − excluded days (technical review, hearings), calendar days [D]. Time limits
[P]: permits 20 days (简化), 30 (重点), 45 (重点 with a site check); EIA 60 days (报告书), 30 (报告表). 登记 is a
registration, not a decision: counted apart, no limit. Permits expiring within 90 days are listed.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bogda.ledger.base import Field, Ledger, Problem
from bogda.ledger.figures import Figure, count, mean, ratio
from bogda.ledger.period import Period
from bogda.store.schema import eia as EIA_T
from bogda.store.schema import permit as PERMIT_T

CLASSES = ("重点", "简化", "登记")
APPLY_TYPES = ("首次", "延续", "变更", "重新申请", "注销")
DOC_TYPES = ("报告书", "报告表", "规划环评")
LEVELS = ("部", "自治区", "州", "县")
EIA_DECISIONS = ("批准", "不予批准")
EIA_LIMIT = {"报告书": 60, "报告表": 30, "规划环评": 60}


def permit_limit(management_class: str, site_check: bool) -> int | None:
    """Statutory decision limit [days] of a permit application (governance §3.4 [P])."""
    if management_class == "登记":
        return None
    if management_class == "简化":
        return 20
    return 45 if site_check else 30


PERMIT_FIELDS = (
    Field("permit_no", "许可证编号", required=True, aliases=("证书编号",)),
    Field("unit", "单位名称", required=True),
    Field("uscc", "统一社会信用代码"),
    Field("management_class", "管理类别", required=True, choices=CLASSES),
    Field("apply_type", "申请类型", required=True, choices=APPLY_TYPES),
    Field("accepted_at", "受理日期", "date", required=True),
    Field("site_check", "现场核查", "bool"),
    Field("decided_at", "决定日期", "date", aliases=("核发日期",)),
    Field("valid_from", "有效期起", "date"),
    Field("valid_to", "有效期止", "date"),
    Field("permitted_t", "许可排放量(t/a)", "json"),
)

EIA_FIELDS = (
    Field("approval_no", "批复文号", required=True),
    Field("project", "项目名称", required=True),
    Field("doc_type", "文件类型", required=True, choices=DOC_TYPES),
    Field("approval_level", "审批层级", required=True, choices=LEVELS),
    Field("accepted_at", "受理日期", "date", required=True),
    Field("excluded_days", "扣除天数", "int", minimum=0, aliases=("技术评估天数",)),
    Field("decided_at", "批复日期", "date"),
    Field("decision", "审批结论", choices=EIA_DECISIONS),
    Field("quota_allocation_id", "总量指标分配编号", "int"),
)


def _dates(rec: dict[str, Any], out: list[Problem]) -> None:
    if rec.get("decided_at") and rec["decided_at"] < rec["accepted_at"]:
        out.append(("decided_at", "decided_at < accepted_at"))


def check_permit(rec: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    _dates(rec, out)
    if rec.get("valid_to") and rec.get("valid_from") and rec["valid_to"] < rec["valid_from"]:
        out.append(("valid_to", "有效期止 is before 有效期起"))
    for p, v in (rec.get("permitted_t") or {}).items():
        if not isinstance(v, (int, float)) or v < 0:
            out.append(("permitted_t", f"{p}: permitted tonnage must be a number ≥ 0"))
    rec["permitted_t"] = rec.get("permitted_t") or {}
    return out


def check_eia(rec: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    _dates(rec, out)
    rec["excluded_days"] = rec.get("excluded_days") or 0
    if rec.get("decided_at") and (rec["decided_at"] - rec["accepted_at"]).days < rec["excluded_days"]:
        out.append(("excluded_days", "more excluded days than days between acceptance and decision"))
    if rec.get("decided_at") and not rec.get("decision"):
        out.append(("decision", "a decided approval needs its conclusion"))
    return out


def processing_days(rec: dict[str, Any]) -> int | None:
    """decided − accepted − excluded [calendar days]; ``None`` while undecided."""
    if not rec.get("decided_at"):
        return None
    return (rec["decided_at"] - rec["accepted_at"]).days - int(rec.get("excluded_days") or 0)


def _permit_derived(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "processing_days": processing_days(rec),
        "limit_days": permit_limit(rec["management_class"], rec["site_check"]),
    }


def _eia_derived(rec: dict[str, Any]) -> dict[str, Any]:
    return {"processing_days": processing_days(rec), "limit_days": EIA_LIMIT[rec["doc_type"]]}


PERMIT = Ledger(
    "permit",
    "排污许可证台账",
    "Emission permits",
    PERMIT_T,
    "permit_no",
    PERMIT_FIELDS,
    check_permit,
    order_by="accepted_at",
    derived=_permit_derived,
)
EIA = Ledger(
    "eia",
    "环评审批台账",
    "EIA approvals",
    EIA_T,
    "approval_no",
    EIA_FIELDS,
    check_eia,
    order_by="accepted_at",
    derived=_eia_derived,
)


def permit_figures(rows: list[dict[str, Any]], period: Period) -> dict[str, Figure]:
    dec = [r for r in rows if period.has_day(r.get("decided_at"))]
    q = f"排污许可证台账：{period.words}作出决定（核发、延续、变更等）的许可证"
    timed = [r for r in dec if r["limit_days"] is not None]
    within = [r for r in timed if r["processing_days"] <= r["limit_days"]]
    out = {
        "permit.count": count("permit.count", "排污许可证核发数", "permit", dec, q),
        "permit.avg_days": mean(
            "permit.avg_days",
            "排污许可平均办理天数",
            "permit",
            timed,
            [r["processing_days"] for r in timed],
            q + "（不含登记）；Σ(决定−受理)/件数",
        ),
        "permit.within_limit": ratio(
            "permit.within_limit", "排污许可限时办结率", "permit", within, timed, q + "（不含登记）；时限内件数/件数"
        ),
    }
    for c in CLASSES:
        part = [r for r in dec if r["management_class"] == c]
        out[f"permit.class.{c}"] = count(f"permit.class.{c}", f"{c}管理许可证数", "permit", part, q + f"，{c}管理")
    soon = period.last + timedelta(days=90)
    exp = [r for r in rows if r.get("valid_to") and period.last < r["valid_to"] <= soon]
    out["permit.expiring"] = count(
        "permit.expiring", "90日内到期许可证数", "permit", exp, f"排污许可证台账：有效期止在{period.last}后90日内"
    )
    return out


def eia_figures(rows: list[dict[str, Any]], period: Period) -> dict[str, Figure]:
    dec = [r for r in rows if period.has_day(r.get("decided_at")) and r.get("decision") == "批准"]
    q = f"环评审批台账：{period.words}批复（批准）的环评文件"
    within = [r for r in dec if r["processing_days"] <= r["limit_days"]]
    out = {
        "eia.count": count("eia.count", "环评文件审批数", "eia", dec, q),
        "eia.avg_days": mean(
            "eia.avg_days",
            "环评平均审批天数",
            "eia",
            dec,
            [r["processing_days"] for r in dec],
            q + "；Σ(批复−受理−扣除)/件数",
        ),
        "eia.within_limit": ratio("eia.within_limit", "环评限时办结率", "eia", within, dec, q + "；时限内件数/件数"),
    }
    for t in DOC_TYPES:
        part = [r for r in dec if r["doc_type"] == t]
        out[f"eia.type.{t}"] = count(f"eia.type.{t}", f"{t}审批数", "eia", part, q + f"，{t}")
    for lv in LEVELS:
        part = [r for r in dec if r["approval_level"] == lv]
        out[f"eia.level.{lv}"] = count(f"eia.level.{lv}", f"{lv}级审批数", "eia", part, q + f"，{lv}级审批")
    return out


def in_period(d: date | None, period: Period) -> bool:
    return period.has_day(d)
