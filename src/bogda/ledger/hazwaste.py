"""Hazardous-waste key units ledger (危险废物重点单位, governance.md §3.7).

Safe-disposal rate [D] = (self-utilised + self-disposed + transferred to licensed receivers) /
(generated + stock at start − stock at end), by volume over the units of the year.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bogda.ledger.base import Field, Ledger, Problem
from bogda.ledger.figures import Figure, count, refs
from bogda.ledger.period import Period
from bogda.store.schema import hw_unit as T

FIELDS = (
    Field("unit", "单位名称", required=True),
    Field("uscc", "统一社会信用代码"),
    Field("year", "年度", "int", required=True, minimum=2000),
    Field("hw_codes", "危废代码", "list"),
    Field("generated_t", "产生量(t)", "float", required=True, minimum=0),
    Field("stock_start_t", "年初贮存量(t)", "float", minimum=0),
    Field("stock_end_t", "年末贮存量(t)", "float", minimum=0),
    Field("self_utilised_t", "自行利用量(t)", "float", minimum=0),
    Field("self_disposed_t", "自行处置量(t)", "float", minimum=0),
    Field("transferred_t", "转移量(t)", "float", minimum=0),
    Field("transferred_licensed_t", "转移至持证单位量(t)", "float", minimum=0),
    Field("manifest_ids", "联单编号", "list"),
    Field("receiver_licence_no", "接收单位许可证号"),
)


def _d(v: Any) -> Decimal:
    return Decimal(str(v or 0))


def check(rec: dict[str, Any]) -> list[Problem]:
    for k in ("stock_start_t", "stock_end_t", "self_utilised_t", "self_disposed_t", "transferred_t"):
        rec[k] = rec.get(k) or 0.0
    rec["transferred_licensed_t"] = rec.get("transferred_licensed_t") or 0.0
    out: list[Problem] = []
    if rec["transferred_licensed_t"] > rec["transferred_t"] + 1e-9:
        out.append(("transferred_licensed_t", "more transferred to licensed receivers than transferred"))
    handled = rec["self_utilised_t"] + rec["self_disposed_t"] + rec["transferred_t"]
    avail = rec["generated_t"] + rec["stock_start_t"] - rec["stock_end_t"]
    if handled > avail + 1e-6:
        out.append(("generated_t", f"handled {handled:g} t exceeds generated + stock change {avail:g} t"))
    return out


LEDGER = Ledger(
    "hw_unit", "危险废物重点单位台账", "Hazardous-waste key units", T, "unit", FIELDS, check, order_by="unit"
)


def safe_rate_parts(r: dict[str, Any]) -> tuple[Decimal, Decimal]:
    num = _d(r["self_utilised_t"]) + _d(r["self_disposed_t"]) + _d(r["transferred_licensed_t"])
    den = _d(r["generated_t"]) + _d(r["stock_start_t"]) - _d(r["stock_end_t"])
    return num, den


def figures(rows: list[dict[str, Any]], period: Period) -> dict[str, Figure]:
    yr = [r for r in rows if r["year"] == period.last.year]
    q = f"危险废物重点单位台账：{period.last.year}年度"
    num = sum((safe_rate_parts(r)[0] for r in yr), Decimal(0))
    den = sum((safe_rate_parts(r)[1] for r in yr), Decimal(0))
    return {
        "hw.units": count("hw.units", "危险废物重点单位数", "hw_unit", yr, q, "家"),
        "hw.generated": Figure(
            "hw.generated",
            "危险废物产生量",
            sum((_d(r["generated_t"]) for r in yr), Decimal(0)),
            "吨",
            1,
            q,
            refs("hw_unit", yr),
        ),
        "hw.safe_rate": Figure(
            "hw.safe_rate",
            "危险废物安全处置率",
            None if den <= 0 else num * 100 / den,
            "%",
            1,
            q + "；(自行利用+自行处置+转移至持证单位)/(产生+年初贮存−年末贮存)",
            refs("hw_unit", yr),
            numerator=num,
        ),
    }
