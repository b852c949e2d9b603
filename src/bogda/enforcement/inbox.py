"""Read side for the faces: the clue inbox, one clue with its evidence, the enterprise page (enforcement.md §5).

Scoping is the caller's: pass ``place_ids`` (the places a user may see) and/or ``enterprise_ids`` (an enterprise
user's own enterprise); ``None`` means no restriction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from bogda import findings as F
from bogda.enforcement import casework, planbook, recordbook
from bogda.enforcement.clues import SEVERITY_ZH
from bogda.enforcement.rules import RULES
from bogda.store import Store, series
from bogda.store.schema import case as case_t
from bogda.store.schema import clue, enterprise, finding, meter, outlet, site
from bogda.timeutil import to_beijing

CLUE_STATUS_ZH = {
    "NEW": "新线索",
    "TRIAGED": "已研判",
    "DISPATCHED": "已派单",
    "CHECKED": "已核查",
    "CONFIRMED": "已确认",
    "FALSE_POSITIVE": "误报",
    "EXCUSED": "有正当理由",
    "CASE_FILED": "已立案",
    "CLOSED": "已办结",
    "SUPERSEDED": "已被替代",
}


def _local(ts: datetime | None) -> str:
    return "" if ts is None else to_beijing(ts).strftime("%Y-%m-%d %H:%M")


def list_clues(
    store: Store,
    *,
    status: str | Sequence[str] | None = None,
    rule_id: str | None = None,
    severity: str | None = None,
    enterprise: str | int | None = None,
    place_ids: Sequence[int] | None = None,
    enterprise_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    finding_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Clues with their finding and enterprise, most severe then newest first; and the total count."""
    ent = aliased(site)
    subj = aliased(site)
    conds = []
    if status is not None:
        conds.append(clue.c.status.in_([status] if isinstance(status, str) else list(status)))
    if rule_id:
        conds.append(clue.c.rule_id == rule_id)
    if severity:
        conds.append(clue.c.severity == severity)
    if enterprise is not None:
        conds.append(ent.c.id == enterprise if isinstance(enterprise, int) else ent.c.code == enterprise)
    if place_ids is not None:
        conds.append(finding.c.place_id.in_(list(place_ids)))
    if enterprise_ids is not None:
        conds.append(clue.c.enterprise_id.in_(list(enterprise_ids)))
    if since is not None:
        conds.append(clue.c.window_end >= since)
    if finding_id is not None:
        conds.append(clue.c.finding_id == finding_id)
    where = and_(*conds) if conds else True
    base = (
        select(
            clue.c.id.label("clue_id"),
            clue.c.finding_id,
            clue.c.rule_id,
            clue.c.severity,
            clue.c.status,
            clue.c.enterprise_id,
            clue.c.subject_site_id,
            clue.c.channel,
            clue.c.window_start,
            clue.c.window_end,
            clue.c.metrics,
            clue.c.version,
            clue.c.bundle_sha256,
            finding.c.status.label("finding_status"),
            finding.c.title,
            finding.c.place_id,
            finding.c.detected_at,
            finding.c.count,
            ent.c.code.label("enterprise_code"),
            ent.c.name.label("enterprise_name"),
            subj.c.code.label("subject_code"),
            subj.c.name.label("subject_name"),
        )
        .join(finding, finding.c.id == clue.c.finding_id)
        .outerjoin(ent, ent.c.id == clue.c.enterprise_id)
        .outerjoin(subj, subj.c.id == clue.c.subject_site_id)
        .where(where)
    )
    rank = case(F.SEVERITY_RANK, value=clue.c.severity, else_=0)
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(
            base.order_by(rank.desc(), clue.c.window_start.desc(), clue.c.id.desc()).limit(limit).offset(offset)
        ).mappings()
        out = []
        for r in rows:
            d = dict(r)
            d["rule_name"] = RULES[d["rule_id"]].name_zh if d["rule_id"] in RULES else d["rule_id"]
            d["status_zh"] = CLUE_STATUS_ZH.get(d["status"], d["status"])
            d["severity_zh"] = SEVERITY_ZH.get(d["severity"], d["severity"])
            d["window_local"] = f"{_local(d['window_start'])} — {_local(d['window_end'])}"
            out.append(d)
    return out, int(total)


def clue_detail(store: Store, finding_id: int) -> dict[str, Any] | None:
    """One clue: the inbox fields plus the evidence bundle, parameters, legal basis, feedback and its case."""
    with store.engine.connect() as conn:
        c = conn.execute(select(clue).where(clue.c.finding_id == finding_id)).mappings().first()
        if c is None:
            return None
        cs = conn.execute(select(case_t).where(case_t.c.finding_id == finding_id)).mappings().first()
    head, _ = list_clues(store, finding_id=finding_id, limit=1)
    out = dict(head[0]) if head else {}
    ev = dict(c["evidence"] or {})
    out |= {
        "rule_version": c["rule_version"],
        "param_version": c["param_version"],
        "param_sha256": c["param_sha256"],
        "params": c["params"],
        "legal_basis": c["legal_basis"],
        "limit_source": c["limit_source"],
        "meter_ids": c["meter_ids"],
        "supersedes": c["supersedes"],
        "feedback": c["feedback"],
        "evidence": ev,
        "plots": ev.get("plots", []),
        "case": dict(cs) if cs else None,
    }
    return out


def enterprise_detail(store: Store, enterprise_id: int, *, as_of: datetime | None = None) -> dict[str, Any] | None:
    """The enterprise page: registry data, outlets with limits and latest values, meters, plans, clue history,
    cases, overrides and the compliance strings."""
    with store.engine.connect() as conn:
        e = (
            conn.execute(
                select(site, enterprise.c.credit_code, enterprise.c.sector, enterprise.c.grade, enterprise.c.key_unit)
                .join(enterprise, enterprise.c.site_id == site.c.id)
                .where(site.c.id == enterprise_id)
            )
            .mappings()
            .first()
        )
        if e is None:
            return None
        outs = (
            conn.execute(
                select(site.c.id, site.c.code, site.c.name, outlet.c.medium, outlet.c.limits, outlet.c.o2_reference)
                .join(outlet, outlet.c.site_id == site.c.id)
                .where(site.c.parent_id == enterprise_id)
                .order_by(site.c.code)
            )
            .mappings()
            .all()
        )
        mets = (
            conn.execute(
                select(
                    site.c.id,
                    site.c.code,
                    site.c.name,
                    meter.c.role,
                    meter.c.equipment,
                    meter.c.paired_site_id,
                    meter.c.rated_kw,
                )
                .join(meter, meter.c.site_id == site.c.id)
                .where(site.c.parent_id == enterprise_id)
                .order_by(site.c.code)
            )
            .mappings()
            .all()
        )
    ids = [o["id"] for o in outs] + [m["id"] for m in mets]
    latest: dict[int, dict[str, Any]] = {}
    if ids:
        for res in ("hour", "min"):
            lt = series.read_latest(store, sites=ids, resolution=res)
            for r in lt.iter_rows(named=True):
                latest.setdefault(r["site_id"], {})[r["parameter"]] = {
                    "value": r["value"],
                    "flag": r["flag"],
                    "ts": r["ts"],
                    "local": _local(r["ts"]),
                }
    codes = {m["id"]: m["code"] for m in mets}
    plans = [
        p
        for p in planbook.list_plans(store)
        if p["enterprise_id"] == enterprise_id or (p["enterprise_id"] is None and (p["sector"] in (None, e["sector"])))
    ]
    # another county's (or park's) order does not concern this one
    plans = planbook.binding(store, plans, e["place_id"], lon=e["lon"], lat=e["lat"])
    history, found = list_clues(store, enterprise=enterprise_id, limit=200)
    return {
        "enterprise": dict(e),
        "outlets": [dict(o) | {"latest": latest.get(o["id"], {})} for o in outs],
        "meters": [
            dict(m) | {"paired": codes.get(m["paired_site_id"]), "latest": latest.get(m["id"], {})} for m in mets
        ],
        "plans": plans,
        "clues": history,
        "clues_found": found,
        "marks": recordbook.list_marks(store, enterprise_id=enterprise_id, limit=50),
        "batteries": recordbook.list_batteries(store, enterprise_id),
        "gate_records": recordbook.list_gate(store, enterprise_id, limit=50),
        "cases": casework.list_cases(store, enterprise_id=enterprise_id),
        "overrides": casework.overrides_of(store, enterprise_id),
        "compliance": casework.compliance(store, enterprise_id, as_of=as_of),
    }


__all__ = ["CLUE_STATUS_ZH", "clue_detail", "enterprise_detail", "list_clues"]
