"""Pollutant total-quantity quota ledger (总量指标, governance.md §3.7), double entry.

Credits (工程/结构/管理减排, 交易, 上级下达) are usable only once verified. An allocation to a project draws
``required = project_emission × ratio`` from named credits (``sources``: ``credit_no:amount`` pairs) of the same
pollutant and county. Balance per pollutant and county = Σ verified credits − Σ allocations; nothing may go
negative: an allocation beyond a credit's remainder or the balance is refused.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from bogda.ledger.base import Field, Ledger, Problem
from bogda.ledger.figures import Figure, refs
from bogda.ledger.period import Period
from bogda.store.schema import quota_allocation as ALLOC_T
from bogda.store.schema import quota_credit as CREDIT_T

POLLUTANTS = ("SO2", "NOx", "PM", "VOCs", "COD", "NH3-N")
CREDIT_TYPES = ("工程减排", "结构减排", "管理减排", "交易", "上级下达")
EPS = Decimal("0.000001")

CREDIT_FIELDS = (
    Field("credit_no", "指标编号", required=True),
    Field("pollutant", "污染物", required=True, choices=POLLUTANTS),
    Field("amount", "指标量(t/a)", "float", required=True, minimum=0),
    Field("type", "来源类型", required=True, choices=CREDIT_TYPES),
    Field("enterprise", "减排单位"),
    Field("verified_at", "核定日期", "date"),
    Field("doc_no", "核定文号"),
)
ALLOC_FIELDS = (
    Field("allocation_no", "分配编号", required=True),
    Field("pollutant", "污染物", required=True, choices=POLLUTANTS),
    Field("project", "建设项目", required=True),
    Field("eia_approval_no", "环评批复文号"),
    Field("project_emission", "项目排放量(t/a)", "float", required=True, minimum=0),
    Field("ratio", "替代比例", "float", minimum=1),
    Field("sources", "指标来源", "list", required=True, aliases=("来源指标",)),
    Field("allocated_at", "分配日期", "date", required=True),
)


def _d(v: Any) -> Decimal:
    return Decimal(str(v or 0))


def parse_sources(items: list[str]) -> list[tuple[str, Decimal]]:
    """``["Q-1:2.5", …]`` → ``[("Q-1", Decimal("2.5")), …]``; ``ValueError`` naming the bad item."""
    out = []
    for it in items:
        no, sep, amt = it.partition(":")
        if not sep:
            no, sep, amt = it.partition("：")
        try:
            a = Decimal(amt.strip())
        except Exception:
            raise ValueError(f"指标来源 {it!r}: expected <credit_no>:<amount>") from None
        if a <= 0:
            raise ValueError(f"指标来源 {it!r}: amount must be positive")
        out.append((no.strip(), a))
    return out


def check_credit(rec: dict[str, Any]) -> list[Problem]:
    if not rec.get("county_code"):
        return [("county_code", "a credit belongs to a county (县区代码)")]
    if rec["amount"] <= 0:
        return [("amount", "amount must be positive")]
    return []


def check_alloc(rec: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    rec["ratio"] = rec.get("ratio") or 1.0
    if not rec.get("county_code"):
        out.append(("county_code", "an allocation belongs to a county (县区代码)"))
    try:
        src = parse_sources(rec["sources"])
    except ValueError as exc:
        return [*out, ("sources", str(exc))]
    required = _d(rec["project_emission"]) * _d(rec["ratio"])
    rec["required"] = float(required)
    if abs(sum((a for _, a in src), Decimal(0)) - required) > EPS:
        out.append(("sources", f"sources sum to {sum(a for _, a in src)} t/a, the project needs {required} t/a"))
    return out


def credit_use(conn: Connection, exclude_alloc: int | None = None) -> dict[str, Decimal]:
    """t/a drawn from each credit by allocations (except ``exclude_alloc``)."""
    used: dict[str, Decimal] = defaultdict(Decimal)
    for rid, sources in conn.execute(select(ALLOC_T.c.id, ALLOC_T.c.sources)):
        if rid == exclude_alloc:
            continue
        for no, a in parse_sources(sources or []):
            used[no] += a
    return used


def check_alloc_db(conn: Connection, rec: dict[str, Any], rid: int | None) -> list[Problem]:
    """Refuse an allocation from unknown, unverified, other-pollutant or other-county credits, or beyond what
    remains of a credit (the balance per pollutant and county then never goes negative)."""
    out: list[Problem] = []
    credits = {
        r.credit_no: r
        for r in conn.execute(
            select(
                CREDIT_T.c.credit_no,
                CREDIT_T.c.pollutant,
                CREDIT_T.c.amount,
                CREDIT_T.c.verified_at,
                CREDIT_T.c.county_code,
            )
        )
    }
    if rid is None:
        rid = conn.execute(select(ALLOC_T.c.id).where(ALLOC_T.c.allocation_no == rec["allocation_no"])).scalar()
    used = credit_use(conn, exclude_alloc=rid)
    for no, a in parse_sources(rec["sources"]):
        c = credits.get(no)
        if c is None:
            out.append(("sources", f"credit {no} does not exist"))
            continue
        if c.verified_at is None or c.verified_at > rec["allocated_at"]:
            out.append(("sources", f"credit {no} is not verified (核定) by {rec['allocated_at']}"))
        if c.pollutant != rec["pollutant"]:
            out.append(("sources", f"credit {no} is {c.pollutant}, not {rec['pollutant']}"))
        if c.county_code != rec.get("county_code"):
            out.append(("sources", f"credit {no} belongs to county {c.county_code}, not {rec.get('county_code')}"))
        left = _d(c.amount) - used[no]
        if a > left + EPS:
            out.append(("sources", f"overdraw: credit {no} has {left} t/a left, {a} t/a asked"))
        used[no] += a
    return out


CREDIT = Ledger("quota_credit", "总量指标来源台账", "Quota credits", CREDIT_T, "credit_no", CREDIT_FIELDS, check_credit)
ALLOCATION = Ledger(
    "quota_allocation",
    "总量指标分配台账",
    "Quota allocations",
    ALLOC_T,
    "allocation_no",
    ALLOC_FIELDS,
    check_alloc,
    check_alloc_db,
    order_by="allocated_at",
)


def balances(
    credits: list[dict[str, Any]], allocations: list[dict[str, Any]], as_of: Any = None
) -> list[dict[str, Any]]:
    """Per (county, pollutant): verified, pending (unverified), used, remaining [t/a] as of a day."""
    acc: dict[tuple[str, str], dict[str, Any]] = {}

    def slot(county: str, pol: str) -> dict[str, Any]:
        return acc.setdefault(
            (county, pol),
            {
                "county_code": county,
                "pollutant": pol,
                "verified": Decimal(0),
                "pending": Decimal(0),
                "used": Decimal(0),
                "credit_ids": [],
                "allocation_ids": [],
            },
        )

    for c in credits:
        s = slot(c["county_code"], c["pollutant"])
        ok = c.get("verified_at") is not None and (as_of is None or c["verified_at"] <= as_of)
        s["verified" if ok else "pending"] += _d(c["amount"])
        s["credit_ids"].append(c["id"])
    for a in allocations:
        if as_of is not None and a["allocated_at"] > as_of:
            continue
        s = slot(a["county_code"], a["pollutant"])
        s["used"] += _d(a["required"])
        s["allocation_ids"].append(a["id"])
    out = []
    for key in sorted(acc):
        s = acc[key]
        s["remaining"] = s["verified"] - s["used"]
        out.append(s)
    return out


def figures(credits: list[dict[str, Any]], allocations: list[dict[str, Any]], period: Period) -> dict[str, Figure]:
    out: dict[str, Figure] = {}
    by_pol: dict[str, dict[str, Any]] = {}
    for b in balances(credits, allocations, period.last):
        p = by_pol.setdefault(b["pollutant"], {"remaining": Decimal(0), "used": Decimal(0), "refs": []})
        p["remaining"] += b["remaining"]
        p["used"] += b["used"]
        p["refs"] += [f"quota_credit:{i}" for i in b["credit_ids"]] + [
            f"quota_allocation:{i}" for i in b["allocation_ids"]
        ]
    for pol, p in by_pol.items():
        q = f"总量指标台账：截至{period.last}已核定{pol}指标 − 已分配量（全部县市合计）"
        out[f"quota.remaining.{pol}"] = Figure(
            f"quota.remaining.{pol}", f"{pol}可用总量指标余额", p["remaining"], "吨/年", 2, q, tuple(p["refs"])
        )
        out[f"quota.used.{pol}"] = Figure(
            f"quota.used.{pol}",
            f"{pol}已分配总量指标",
            p["used"],
            "吨/年",
            2,
            f"总量指标台账：截至{period.last}分配给建设项目的{pol}指标",
            tuple(p["refs"]),
        )
    alloc = [a for a in allocations if period.has_day(a["allocated_at"])]
    out["quota.allocations"] = Figure(
        "quota.allocations",
        "保障建设项目总量指标数",
        len(alloc),
        "个",
        0,
        f"总量指标台账：{period.words}分配总量指标的建设项目",
        refs("quota_allocation", alloc),
    )
    return out
