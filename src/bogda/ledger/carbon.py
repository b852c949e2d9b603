"""Carbon-allowance compliance ledger (碳排放配额清缴, governance.md §3.7).

履约率 = entities that surrendered (清缴) at least their verified emissions by the deadline / obliged entities;
also by volume (surrendered + offsets) / verified emissions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bogda.ledger.base import Field, Ledger, Problem
from bogda.ledger.figures import Figure, count, ratio, refs
from bogda.ledger.period import Period
from bogda.store.schema import carbon_compliance as T

FIELDS = (
    Field("entity", "重点排放单位", required=True),
    Field("uscc", "统一社会信用代码"),
    Field("year", "履约年度", "int", required=True, minimum=2000),
    Field("verified_emissions_t", "核查排放量(tCO2)", "float", required=True, minimum=0),
    Field("allocated", "分配配额(t)", "float", required=True, minimum=0),
    Field("surrendered", "清缴配额(t)", "float", minimum=0),
    Field("offsets", "抵销量(t)", "float", minimum=0),
    Field("deadline", "清缴截止日期", "date", required=True),
    Field("surrendered_at", "清缴日期", "date"),
)


def check(rec: dict[str, Any]) -> list[Problem]:
    rec["surrendered"] = rec.get("surrendered") or 0.0
    rec["offsets"] = rec.get("offsets") or 0.0
    if rec["surrendered"] + rec["offsets"] > 0 and not rec.get("surrendered_at"):
        return [("surrendered_at", "a surrender needs its date")]
    return []


def shortfall(r: dict[str, Any]) -> float:
    """Allowances still owed [tCO2]."""
    return max(0.0, r["verified_emissions_t"] - r["surrendered"] - r["offsets"])


LEDGER = Ledger(
    "carbon",
    "碳排放配额清缴台账",
    "Carbon-allowance compliance",
    T,
    "entity",
    FIELDS,
    check,
    derived=lambda r: {"shortfall": shortfall(r)},
)


def figures(rows: list[dict[str, Any]], period: Period) -> dict[str, Figure]:
    # compliance year = the year before the report (allowances for year Y are surrendered in Y+1)
    yr = [r for r in rows if r["deadline"].year == period.last.year]
    ok = [r for r in yr if shortfall(r) <= 0 and r.get("surrendered_at") and r["surrendered_at"] <= r["deadline"]]
    q = f"碳排放配额清缴台账：清缴截止日期在{period.last.year}年的重点排放单位"
    ver = sum((Decimal(str(r["verified_emissions_t"])) for r in yr), Decimal(0))
    sur = sum((Decimal(str(min(r["surrendered"] + r["offsets"], r["verified_emissions_t"]))) for r in yr), Decimal(0))
    return {
        "carbon.entities": count("carbon.entities", "纳入全国碳市场重点排放单位数", "carbon_compliance", yr, q, "家"),
        "carbon.rate": ratio(
            "carbon.rate", "碳排放配额清缴履约率", "carbon_compliance", ok, yr, q + "；按期足额清缴单位/单位数"
        ),
        "carbon.volume_rate": Figure(
            "carbon.volume_rate",
            "配额清缴完成率（按量）",
            None if ver == 0 else sur * 100 / ver,
            "%",
            1,
            q + "；Σ(清缴+抵销，至多核查量)/Σ核查排放量",
            refs("carbon_compliance", yr),
            numerator=sur,
        ),
    }
