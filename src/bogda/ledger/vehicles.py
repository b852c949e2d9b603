"""Vehicle elimination ledger (老旧车辆淘汰, governance.md §3.7): 淘汰任务完成率 = eliminated / target.

Targets are ``ledger_target`` rows (``ledger='vehicle'``, metric ``eliminate``, per county or "" for the whole).
"""

from __future__ import annotations

from typing import Any

from bogda.ledger.base import Field, Ledger, Problem
from bogda.ledger.figures import Figure, count
from bogda.ledger.period import Period
from bogda.store.schema import vehicle_elimination as T

TYPES = ("重型柴油货车", "中型柴油货车", "轻型柴油货车", "柴油客车", "非道路移动机械", "其他")
STAGES = ("国一", "国二", "国三", "国四", "其他")
METHODS = ("报废", "转出", "改造")

FIELDS = (
    Field("plate_no", "号牌号码", required=True),
    Field("vehicle_type", "车辆类型", required=True, choices=TYPES),
    Field("emission_stage", "排放阶段", required=True, choices=STAGES),
    Field("owner", "所有人"),
    Field("eliminated_at", "淘汰日期", "date"),
    Field("method", "淘汰方式", choices=METHODS),
)


def check(rec: dict[str, Any]) -> list[Problem]:
    if rec.get("eliminated_at") and not rec.get("method"):
        return [("method", "an eliminated vehicle needs its method")]
    return []


LEDGER = Ledger("vehicle", "老旧车辆淘汰台账", "Vehicle elimination", T, "plate_no", FIELDS, check)


def figures(rows: list[dict[str, Any]], period: Period, target: int | None) -> dict[str, Figure]:
    done = [r for r in rows if period.has_day(r.get("eliminated_at"))]
    q = f"老旧车辆淘汰台账：{period.words}淘汰的车辆"
    fig = count("vehicle.eliminated", "淘汰老旧车辆数", "vehicle_elimination", done, q, "辆")
    from decimal import Decimal

    rate = Figure(
        "vehicle.rate",
        "老旧车辆淘汰任务完成率",
        None if not target else Decimal(len(done)) * 100 / target,
        "%",
        1,
        q + f"；淘汰数/年度任务数（ledger_target：{target if target is not None else '未录入'}）",
        fig.refs,
        numerator=len(done),
        denominator=target,
    )
    return {"vehicle.eliminated": fig, "vehicle.rate": rate}
