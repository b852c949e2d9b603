"""Enterprise performance grading ledger (环保绩效分级, governance.md §3.7; enforcement.md §2).

The grades live where enforcement reads them: ``plan`` rows of kind ``grade`` (enterprise, industry, grade, valid
from ``start`` to ``end``). This ledger is their Excel in/out and history, not a second copy: each grading is one
``plan`` row; a newer grading of the same enterprise and industry deactivates the older one (kept as history), and
the registry's ``enterprise.grade`` follows the newest. Ledger-only fields (lines, downgrades, alert measures,
staggered production, checks, common fields) sit in ``plan.attrs``.

``alert_measures`` (预警减排措施) is JSON keyed by warning level, each a list of actions, e.g.
``{"orange": [{"action": "cap_ratio", "value": 0.8, "note_zh": "限产20%"}], "red": [{"action": "stop"}]}``; the
shorthand ``{"orange": {"cap_ratio": 0.8, "transport_ban": null}}`` is accepted and stored in the long form. Actions
and values are those of the emergency lists (:func:`bogda.forecast.emergency.parse_alert_measures`): a bad level,
action or value refuses the record naming the place (``alert_measures: orange[0]: cap_ratio value 80 outside
0..1``). The emergency lists read them as the enterprise's measures at that level, after its own ``measure`` plan
rows and before the template (forecast.md §3.10).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from bogda.ledger.base import COMMON_FIELDS, Field, Ledger, Problem
from bogda.ledger.figures import Figure, count, ratio
from bogda.ledger.period import Period
from bogda.store.schema import enterprise, plan, site
from bogda.timeutil import beijing_date, day_start_utc, now_utc

GRADES = ("A", "B", "B-", "C", "D", "引领性", "非引领性")
REGISTRY_GRADES = GRADES
"""Grades the newest grading copies to the registry's ``enterprise.grade``: all of them, so a downgrade from 引领性
to 非引领性 reaches the emergency lists (they read ``enterprise.grade`` through ``emergency.normalise_grade``)."""

FIELDS = (
    Field("grading_no", "评定编号", required=True),
    Field("enterprise_code", "企业编码", required=True),
    Field("uscc", "统一社会信用代码"),
    Field("industry", "行业", required=True),
    Field("lines", "生产线", "list"),
    Field("grade", "绩效等级", required=True, choices=GRADES),
    Field("graded_at", "评定日期", "date", required=True),
    Field("valid_until", "有效期至", "date"),
    Field("downgrades", "降级记录", "list"),
    Field("alert_measures", "预警减排措施", "json"),
    Field("staggered_production", "错峰生产", "bool"),
    Field("checks", "预警期检查", "json"),
)
_ATTR_KEYS = (
    "grading_no",
    "uscc",
    "lines",
    "downgrades",
    "alert_measures",
    "staggered_production",
    "checks",
    *(f.key for f in COMMON_FIELDS),
)


def check(rec: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    if rec.get("valid_until") and rec["valid_until"] < rec["graded_at"]:
        out.append(("valid_until", "有效期至 is before 评定日期"))
    checks = rec.get("checks")
    if checks is not None and not (
        isinstance(checks, list) and all(isinstance(c, dict) and "compliant" in c for c in checks)
    ):
        out.append(("checks", 'expected a JSON list like [{"date": "2025-01-10", "compliant": true}]'))
    rec["checks"] = checks or []
    out += _alert_measures(rec)
    return out


def _alert_measures(rec: dict[str, Any]) -> list[Problem]:
    """Validate ``alert_measures`` and store it in its long form (module docstring; governance.md §3.7)."""
    from bogda.forecast.emergency import parse_alert_measures  # the lists own the format; import only when used

    parsed, problems = parse_alert_measures(rec.get("alert_measures"))
    rec["alert_measures"] = parsed if not problems else rec.get("alert_measures")
    return [("alert_measures", msg) for _, msg in problems]


def _enterprise_id(conn: Connection, code: str) -> int | None:
    return conn.execute(select(site.c.id).where(site.c.kind == "enterprise", site.c.code == code)).scalar()


def check_db(conn: Connection, rec: dict[str, Any], rid: int | None) -> list[Problem]:
    if _enterprise_id(conn, rec["enterprise_code"]) is None:
        return [("enterprise_code", f"enterprise {rec['enterprise_code']} is not in the registry")]
    return []


def _save(conn: Connection, rec: dict[str, Any], rid: int | None) -> int:
    ent = _enterprise_id(conn, rec["enterprise_code"])
    attrs = {k: rec.get(k) for k in _ATTR_KEYS}
    values = {
        "kind": "grade",
        "enterprise_id": ent,
        "industry": rec["industry"],
        "grade": rec["grade"],
        "start": day_start_utc(rec["graded_at"]),
        "end": day_start_utc(rec["valid_until"] + timedelta(days=1)) if rec.get("valid_until") else None,
        "doc_id": rec.get("source_doc") or "",
        "source": "manual",
        "attrs": attrs,
    }
    if rid is None:
        rid = conn.execute(
            plan.insert().values(**values, active=True, created_by="ledger", created_at=now_utc()).returning(plan.c.id)
        ).scalar_one()
    else:
        conn.execute(plan.update().where(plan.c.id == rid).values(**values))
    # the newest grading of an enterprise and industry is the active one; older ones stay as history
    rows = conn.execute(
        select(plan.c.id, plan.c.start, plan.c.grade).where(
            plan.c.kind == "grade", plan.c.enterprise_id == ent, plan.c.industry == rec["industry"]
        )
    ).all()
    newest = max(rows, key=lambda r: (r.start, r.id))
    for r in rows:
        conn.execute(plan.update().where(plan.c.id == r.id).values(active=r.id == newest.id))
    if newest.grade in REGISTRY_GRADES:
        conn.execute(enterprise.update().where(enterprise.c.site_id == ent).values(grade=newest.grade))
    return int(rid)


def _load(conn: Connection, where: dict[str, Any]) -> list[dict[str, Any]]:
    q = (
        select(plan, site.c.code.label("enterprise_code"), site.c.name.label("enterprise_name"))
        .join(site, site.c.id == plan.c.enterprise_id)
        .where(plan.c.kind == "grade")
        .order_by(plan.c.start, plan.c.id)
    )
    out = []
    for r in conn.execute(q).mappings():
        a = dict(r["attrs"] or {})
        d: dict[str, Any] = {k: a.get(k) for k in _ATTR_KEYS}
        d.update(
            id=r["id"],
            enterprise_code=r["enterprise_code"],
            enterprise_name=r["enterprise_name"],
            industry=r["industry"],
            grade=r["grade"],
            graded_at=beijing_date(r["start"]),
            valid_until=beijing_date(r["end"] - timedelta(seconds=1)) if r["end"] else None,
            active=r["active"],
            source_doc=r["doc_id"],
        )
        d["grading_no"] = d.get("grading_no") or f"plan-{r['id']}"
        for k in ("lines", "downgrades", "attachments"):
            d[k] = d.get(k) or []
        d["simulated"] = bool(d.get("simulated"))
        if all(d.get(k) == v for k, v in where.items()):
            out.append(d)
    return out


LEDGER = Ledger(
    "grade",
    "环保绩效分级台账",
    "Performance grades",
    plan,
    "grading_no",
    FIELDS,
    check,
    check_db,
    _save,
    _load,
    order_by="graded_at",
)


def current(rows: list[dict[str, Any]], period: Period) -> list[dict[str, Any]]:
    """The newest grading of each (enterprise, industry) made by the period end."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r["graded_at"] > period.last:
            continue
        k = (r["enterprise_code"], r["industry"])
        if k not in best or (r["graded_at"], r["id"]) > (best[k]["graded_at"], best[k]["id"]):
            best[k] = r
    return sorted(best.values(), key=lambda r: r["id"])


def figures(rows: list[dict[str, Any]], period: Period) -> dict[str, Figure]:
    cur = current(rows, period)
    q = f"环保绩效分级台账：截至{period.last}各企业（行业）最新评定"
    ab = [r for r in cur if r["grade"] in ("A", "B")]
    out = {
        "grade.graded": count("grade.graded", "参评企业数", "plan", cur, q, "家"),
        "grade.A": count("grade.A", "A级企业数", "plan", [r for r in cur if r["grade"] == "A"], q + "，A级", "家"),
        "grade.B": count("grade.B", "B级企业数", "plan", [r for r in cur if r["grade"] == "B"], q + "，B级", "家"),
        "grade.leading": count(
            "grade.leading", "引领性企业数", "plan", [r for r in cur if r["grade"] == "引领性"], q + "，引领性", "家"
        ),
        "grade.ab_share": ratio("grade.ab_share", "A、B级企业占比", "plan", ab, cur, q + "；A、B级/参评企业"),
    }
    checks = [c for r in cur for c in (r.get("checks") or [])]
    ok = [c for c in checks if c.get("compliant")]
    out["grade.alert_compliance"] = Figure(
        "grade.alert_compliance",
        "预警期间减排措施落实率",
        None if not checks else Decimal(len(ok)) * 100 / len(checks),
        "%",
        1,
        q + "；合规检查次数/检查次数",
        tuple(f"plan:{r['id']}" for r in cur if r.get("checks")),
        numerator=len(ok),
        denominator=len(checks),
    )
    return out
