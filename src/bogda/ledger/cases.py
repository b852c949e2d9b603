"""Enforcement case ledger (governance.md §3.7; enforcement.md §5): 立案, decision, fine, non-site flags, origins.

A case is one row of ``case`` (the enforcement table: number, enterprise, clue source, non-site flags, 立案 and
decision times, decision, fine) plus one row of ``case_ledger`` (party, USCC, violation type, legal basis,
confiscation, 五类案件, payment and publication, and the origin links ``clue_ids``/``task_ids``/``finding_ids``).
Linked tasks get ``task.case_id`` = the case number, so the two stay consistent.

Why two tables, deliberately (a 1:1 extension, not a merge): ``case`` belongs to enforcement (floor 4, migration
0004). Enforcement files cases itself when a clue is confirmed (``bogda.enforcement.casework.confirm_clue``,
enforcement.md §5 CASE_FILED) and computes its non-site KPI from them; the ledger (floor 5) adds the clerk's fields
and the columns every ledger row carries (org, county, attachments, ``simulated``, version, audit, the
``ledger_event`` history). Merging would put floor-5 clerical columns into a floor-4 table, tie enforcement's
migration branch to every ledger change, and let enforcement write rows the ledger cannot validate. The extension
is kept 1:1 by ``case_ledger.case_id`` (unique, ``ON DELETE CASCADE``); a case enforcement files without a ledger
row is brought in by :func:`sync_from_enforcement` (party and USCC from the enterprise, ``clue_ids`` and
``finding_ids`` from the originating clue, the county from the enterprise's place) before the ledger is read, so
no case is missing from the ledger, its export or the report's figures. Enforcement's ``case`` API is unchanged.

Counting (governance §5 [D]): ``case_count_basis`` = decided — penalty cases (决定类型 处罚) whose decision falls in
the period; 非现场执法占比 on the ``evidence`` basis = those whose decisive evidence is remote data / all of them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from bogda.ledger.base import Field, Ledger, Problem, column_values, ids_exist
from bogda.ledger.figures import Figure, count, ratio, refs, total
from bogda.ledger.period import Period
from bogda.store.schema import case, case_ledger, clue, finding, site, task
from bogda.timeutil import now_utc

CLUE_SOURCES = ("现场", "双随机", "在线监测", "用电监控", "卫星", "走航", "视频", "网格", "信访", "督察", "移送")
NON_SITE_CHANNELS = ("在线监测", "用电监控", "卫星", "走航", "视频")
"""Non-site discovery channels (the same list as enforcement's ``NON_SITE_SOURCES``)."""
LINK_REQUIRED = (*NON_SITE_CHANNELS, "网格")
DECISIONS = {"处罚": "penalty", "不予处罚": "no_penalty", "移送": "transferred", "撤销": "withdrawn"}
FIVE_TYPES = ("按日连续处罚", "查封扣押", "限产停产", "移送拘留", "移送涉嫌犯罪")

FIELDS = (
    Field("case_no", "案件编号", required=True, aliases=("立案编号",)),
    Field("party", "当事人", required=True),
    Field("uscc", "统一社会信用代码"),
    Field("enterprise_code", "企业编码"),
    Field("violation_type", "违法类型"),
    Field("legal_basis", "处罚依据"),
    Field("clue_source", "线索来源", required=True, choices=CLUE_SOURCES),
    Field("non_site_clue", "非现场发现", "bool"),
    Field("non_site_evidence", "非现场证据", "bool", aliases=("关键证据为远程数据",)),
    Field("registered_at", "立案时间", "datetime", required=True),
    Field("decided_at", "决定时间", "datetime"),
    Field("decision", "决定类型", choices=tuple(DECISIONS)),
    Field("fine_yuan", "罚款金额(元)", "float", minimum=0, aliases=("罚款金额",)),
    Field("confiscation_yuan", "没收金额(元)", "float", minimum=0),
    Field("five_types", "五类案件", "list"),
    Field("paid_at", "缴款时间", "datetime"),
    Field("published_at", "公示时间", "datetime"),
    Field("clue_ids", "线索编号", "list"),
    Field("task_ids", "任务编号", "list"),
    Field("finding_ids", "问题编号", "list"),
)


def check(rec: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    if rec.get("decided_at") and rec["decided_at"] < rec["registered_at"]:
        out.append(("decided_at", "决定时间 is before 立案时间"))
    if rec.get("decided_at") and not rec.get("decision"):
        out.append(("decision", "a decided case needs its decision type"))
    if rec.get("decision") and not rec.get("decided_at"):
        out.append(("decided_at", "a decision needs its time"))
    for t in rec.get("five_types") or []:
        if t not in FIVE_TYPES:
            out.append(("five_types", f"{t!r} is not one of {'/'.join(FIVE_TYPES)}"))
    if rec.get("decision") == "处罚" and rec.get("fine_yuan") is None:
        out.append(("fine_yuan", "a penalty decision needs its fine (0 when none)"))
    return out


def check_db(conn: Connection, rec: dict[str, Any], rid: int | None) -> list[Problem]:
    out: list[Problem] = []
    if rec["clue_source"] in LINK_REQUIRED and not (rec.get("clue_ids") or rec.get("task_ids")):
        out.append(("clue_ids", f"线索来源 {rec['clue_source']} needs 线索编号 or 任务编号 naming existing records"))
    for key, table, what in (
        ("clue_ids", clue, "clue"),
        ("task_ids", task, "task"),
        ("finding_ids", finding, "finding"),
    ):
        bad = ids_exist(conn, table, rec.get(key) or [])
        if bad:
            out.append((key, f"unknown {what} id(s): {', '.join(bad)}"))
    if rec.get("enterprise_code"):
        sid = conn.execute(
            select(site.c.id).where(site.c.kind == "enterprise", site.c.code == rec["enterprise_code"])
        ).scalar()
        if sid is None:
            out.append(("enterprise_code", f"enterprise {rec['enterprise_code']} is not in the registry"))
    if not out and rec.get("clue_ids"):
        fids = conn.execute(select(clue.c.finding_id).where(clue.c.id.in_([int(x) for x in rec["clue_ids"]]))).scalars()
        rec["finding_ids"] = sorted({*rec.get("finding_ids", []), *(str(f) for f in fids)}, key=int)
        if rec["clue_source"] in NON_SITE_CHANNELS:
            rec["non_site_clue"] = True
    return out


def _save(conn: Connection, rec: dict[str, Any], rid: int | None) -> int:
    now = now_utc()
    ent = None
    if rec.get("enterprise_code"):
        ent = conn.execute(
            select(site.c.id).where(site.c.kind == "enterprise", site.c.code == rec["enterprise_code"])
        ).scalar()
    decision = DECISIONS.get(rec.get("decision") or "")
    base = {
        "case_no": rec["case_no"],
        "enterprise_id": ent,
        "finding_id": int(rec["finding_ids"][0]) if rec.get("finding_ids") else None,
        "clue_source": rec["clue_source"],
        "non_site": bool(rec.get("non_site_clue")),
        "non_site_evidence": bool(rec.get("non_site_evidence")),
        "opened_at": rec["registered_at"],
        "decided_at": rec.get("decided_at"),
        "status": "decided" if decision else "open",
        "decision": decision,
        "fine": rec.get("fine_yuan"),
    }
    led = column_values(case_ledger, rec)
    led["updated_at"] = now
    if rid is None:
        cid = conn.execute(case.insert().values(**base, created_by="ledger").returning(case.c.id)).scalar_one()
        rid = conn.execute(
            case_ledger.insert().values(case_id=cid, created_at=now, **led).returning(case_ledger.c.id)
        ).scalar_one()
    else:
        cid = conn.execute(select(case_ledger.c.case_id).where(case_ledger.c.id == rid)).scalar_one()
        conn.execute(case.update().where(case.c.id == cid).values(**base))
        conn.execute(
            case_ledger.update().where(case_ledger.c.id == rid).values(**led, version=case_ledger.c.version + 1)
        )
    for tid in rec.get("task_ids") or []:
        conn.execute(task.update().where(task.c.id == int(tid)).values(case_id=rec["case_no"]))
    return int(rid)


def _load(conn: Connection, where: dict[str, Any]) -> list[dict[str, Any]]:
    q = (
        select(
            case_ledger,
            case.c.case_no,
            case.c.clue_source,
            case.c.non_site.label("non_site_clue"),
            case.c.non_site_evidence,
            case.c.opened_at.label("registered_at"),
            case.c.decided_at,
            case.c.decision.label("decision_code"),
            case.c.fine.label("fine_yuan"),
            site.c.code.label("enterprise_code"),
        )
        .join(case, case.c.id == case_ledger.c.case_id)
        .outerjoin(site, site.c.id == case.c.enterprise_id)
        .order_by(case.c.opened_at, case_ledger.c.id)
    )
    back = {v: k for k, v in DECISIONS.items()}
    out = []
    for r in conn.execute(q).mappings():
        d = dict(r)
        d.update(d.pop("extra", None) or {})
        d["decision"] = back.get(d.pop("decision_code") or "")
        if all(d.get(k) == v for k, v in where.items()):
            out.append(d)
    return out


def sync_from_enforcement(conn: Connection) -> int:
    """Add the ledger row of every ``case`` that has none (filed by enforcement); returns how many were added.

    Party and USCC come from the case's enterprise (else the case number stands in as the party, to be completed by
    the clerk), ``finding_ids`` from ``case.finding_id`` and ``clue_ids`` from the clue of that finding, the county
    from the enterprise's place. Each addition appends a ``ledger_event`` (``synced``).
    """
    from bogda.store.schema import enterprise, ledger_event, place

    missing = conn.execute(
        select(case.c.id, case.c.case_no, case.c.enterprise_id, case.c.finding_id, case.c.opened_at, case.c.created_by)
        .outerjoin(case_ledger, case_ledger.c.case_id == case.c.id)
        .where(case_ledger.c.id.is_(None))
        .order_by(case.c.id)
    ).all()
    if not missing:
        return 0
    now = now_utc()
    parents = dict(conn.execute(select(place.c.id, place.c.parent_id)).all())
    county_of = dict(conn.execute(select(place.c.id, place.c.code).where(place.c.kind == "county")).all())
    for c in missing:
        ent = None
        if c.enterprise_id is not None:
            ent = conn.execute(
                select(site.c.name, site.c.place_id, enterprise.c.credit_code)
                .outerjoin(enterprise, enterprise.c.site_id == site.c.id)
                .where(site.c.id == c.enterprise_id)
            ).first()
        county = None
        pid = ent.place_id if ent is not None else None
        while pid is not None and county is None:
            county, pid = county_of.get(pid), parents.get(pid)
        clue_ids = (
            [str(i) for i in conn.execute(select(clue.c.id).where(clue.c.finding_id == c.finding_id)).scalars()]
            if c.finding_id is not None
            else []
        )
        rid = conn.execute(
            case_ledger.insert()
            .values(
                case_id=c.id,
                party=ent.name if ent is not None else c.case_no,
                uscc=ent.credit_code if ent is not None else None,
                county_code=county,
                org_id="",
                clue_ids=clue_ids,
                finding_ids=[str(c.finding_id)] if c.finding_id is not None else [],
                task_ids=[],
                five_types=[],
                attachments=[],
                extra={},
                created_by=c.created_by,
                created_at=c.opened_at,
                updated_at=now,
            )
            .returning(case_ledger.c.id)
        ).scalar_one()
        conn.execute(
            ledger_event.insert().values(
                ledger="case",
                record_id=rid,
                event="synced",
                actor="system",
                at=now,
                detail={"case_id": c.id, "case_no": c.case_no, "from": "enforcement case", "clue_ids": clue_ids},
            )
        )
    return len(missing)


LEDGER = Ledger(
    "case",
    "行政处罚案件台账",
    "Enforcement cases",
    case_ledger,
    "case_no",
    FIELDS,
    check,
    check_db,
    _save,
    _load,
    sync=sync_from_enforcement,
)

WAN = Decimal(10000)


def figures(rows: list[dict[str, Any]], period: Period) -> dict[str, Figure]:
    """Case figures: penalty cases decided in the period (``case_count_basis`` decided)."""
    dec = [r for r in rows if r.get("decision") == "处罚" and period.has_time(r.get("decided_at"))]
    q = f"行政处罚案件台账：{period.words}作出处罚决定的案件"
    non_site = [r for r in dec if r.get("non_site_evidence")]
    fines = [r.get("fine_yuan") for r in dec]
    out = {
        "case.count": count("case.count", "行政处罚案件数", "case_ledger", dec, q),
        "case.fines_wan": total(
            "case.fines_wan", "罚没款金额", "case_ledger", dec, fines, q + "；Σ罚款金额/10000", "万元", 2, WAN
        ),
        "case.non_site": count(
            "case.non_site", "非现场执法案件数", "case_ledger", non_site, q + "，关键证据为远程数据"
        ),
        "case.non_site_share": ratio(
            "case.non_site_share", "非现场执法占比", "case_ledger", non_site, dec, q + "；非现场证据案件数/案件数"
        ),
    }
    s = sum((Decimal(str(v)) for v in fines if v is not None), Decimal(0))
    out["case.mean_fine_wan"] = Figure(
        "case.mean_fine_wan",
        "案均罚款",
        None if not dec else s / len(dec) / WAN,
        "万元",
        2,
        q + "；Σ罚款金额/案件数/10000",
        refs("case_ledger", dec),
        numerator=s,
        denominator=len(dec),
    )
    five = [r for r in dec if r.get("five_types")]
    out["case.five_types"] = count("case.five_types", "五类案件数", "case_ledger", five, q + "，属五类案件")
    reg = [r for r in rows if period.has_time(r.get("registered_at"))]
    disc = [r for r in reg if r.get("non_site_clue")]
    out["case.registered"] = count(
        "case.registered", "立案数", "case_ledger", reg, f"行政处罚案件台账：{period.words}立案"
    )
    out["case.non_site_discovery_share"] = ratio(
        "case.non_site_discovery_share",
        "非现场发现案件占比",
        "case_ledger",
        disc,
        reg,
        f"行政处罚案件台账：{period.words}立案且线索来自非现场渠道/立案数",
    )
    return out
