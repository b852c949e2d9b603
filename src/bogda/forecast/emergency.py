"""Emergency-reduction lists (应急减排清单) activated by issued warnings (forecast.md §3.10).

Measures are data: ``data/emergency_measures.csv`` (``emergency_measure_template``: sector, grade, level →
actions), see ``data/README.md`` for its sources (cement rows from the MEE performance-grade guidance as transcribed
in enforcement.md §3.6; every other row a documented default to be replaced by the prefecture's plan). Per-enterprise
overrides are the ``plan`` rows of kind ``measure`` (the performance-grading ledger's ``alert_measures``).

Pure core: :func:`resolve_measures`, :func:`allowed_ratio`, :func:`reductions`, :func:`summarise`. Store side:
:func:`activate` (on issue/change: freeze a versioned list, write the enforcement ``order``, raise inspection findings
for orange and red), :func:`end_lists` (on lift), :func:`export_xlsx` (its 汇总 sheet carries the emission-based
estimate of :mod:`bogda.forecast.source_share`, forecast.md §3.9 step 6).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bogda.findings import FindingDraft, raise_finding
from bogda.forecast import source_share
from bogda.forecast.warnings import LEVEL_ZH
from bogda.registry.sites import SECTORS
from bogda.store import Store
from bogda.store.schema import emergency_list, emergency_list_item, enterprise, place, plan, site
from bogda.store.schema import permit as permit_table
from bogda.store.schema import warning as warning_table
from bogda.timeutil import day_start_utc, now_utc

LEVELS = ("yellow", "orange", "red")
ACTIONS = ("none", "stop", "cap_ratio", "stop_lines", "extend_coking_h", "transport_ban")
GRADES = ("A", "B", "B-", "C", "D", "leading", "non_leading", "unrated")
POLLUTANTS = ("SO2", "NOx", "PM", "VOCs")

TARGET_SHARE: dict[str, float] = {"yellow": 0.10, "orange": 0.20, "red": 0.30}
"""Area reduction target as a share of the baseline per level (forecast.md §3.10, d: recalled practice)."""

UNRATED_AS = "D"
"""Grade whose rows an ungraded enterprise uses (forecast.md §3.10, d)."""

BASE_COKING_H = 24.0
"""Normal coking time [h] against which an extended coking time is a production ratio (d)."""

INSPECTION_LEVELS = ("orange", "red")
"""Levels at which each listed enterprise gets an ``inspection`` finding (forecast.md §3.10, d)."""

ACTION_ZH = {
    "none": "自主减排",
    "stop": "停产",
    "cap_ratio": "限产",
    "stop_lines": "停产生产线",
    "extend_coking_h": "延长结焦时间",
    "transport_ban": "运输管控",
}

_POLLUTANT_KEYS = {
    "so2": "SO2",
    "a21026": "SO2",
    "二氧化硫": "SO2",
    "nox": "NOx",
    "a21002": "NOx",
    "氮氧化物": "NOx",
    "pm": "PM",
    "a34013": "PM",
    "颗粒物": "PM",
    "烟尘": "PM",
    "vocs": "VOCs",
    "voc": "VOCs",
    "挥发性有机物": "VOCs",
}


@dataclass(frozen=True)
class MeasureRow:
    """One action of the template: (sector, grade, level) → action and value."""

    sector: str
    subsector: str
    grade: str
    level: str
    action: str
    value: float | None
    note_zh: str
    source_doc: str
    status: str
    version: str


def read_templates(text: str, *, name: str = "emergency_measures.csv") -> tuple[MeasureRow, ...]:
    """Parse a template CSV; a bad row raises ``ValueError`` naming file, line and field."""
    out = []
    for line, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        if r.get("level") not in LEVELS:
            raise ValueError(f"{name}:{line}: level {r.get('level')!r} not in {LEVELS}")
        if r.get("action") not in ACTIONS:
            raise ValueError(f"{name}:{line}: action {r.get('action')!r} not in {ACTIONS}")
        if r.get("grade") not in GRADES:
            raise ValueError(f"{name}:{line}: grade {r.get('grade')!r} not in {GRADES}")
        try:
            value = float(r["value"]) if (r.get("value") or "").strip() else None
        except ValueError:
            raise ValueError(f"{name}:{line}: value {r['value']!r} is not a number") from None
        out.append(
            MeasureRow(
                r["sector"].strip(),
                (r.get("subsector") or "").strip(),
                r["grade"],
                r["level"],
                r["action"],
                value,
                r.get("note_zh", ""),
                r.get("source_doc", ""),
                r.get("status", ""),
                r.get("version", ""),
            )
        )
    return tuple(out)


@cache
def default_templates() -> tuple[MeasureRow, ...]:
    """The packaged template table."""
    text = (resources.files("bogda.forecast") / "data" / "emergency_measures.csv").read_text(encoding="utf-8")
    return read_templates(text)


def template_version(rows: Sequence[MeasureRow]) -> str:
    return ",".join(sorted({r.version for r in rows})) or "unversioned"


@dataclass(frozen=True)
class Measure:
    """A resolved action for one enterprise."""

    action: str
    value: float | None
    note_zh: str
    origin: str  # template | override
    status: str = ""


def resolve_measures(
    sector: str,
    grade: str | None,
    level: str,
    templates: Sequence[MeasureRow] | None = None,
    overrides: Sequence[Measure] = (),
) -> list[Measure]:
    """Measures of an enterprise: its own overrides, else the template rows (sector, grade, level).

    A sector without rows of its own uses the ``*`` rows; an ungraded enterprise uses grade D (d).

    >>> [m.action for m in resolve_measures("cement", "B", "orange")]
    ['cap_ratio']
    >>> [(m.action, m.value) for m in resolve_measures("cement", "C", "yellow")]
    [('stop_lines', 0.5)]
    >>> [m.action for m in resolve_measures("cement", None, "yellow")]
    ['stop', 'transport_ban']
    >>> [m.action for m in resolve_measures("power", "A", "red")], resolve_measures("boiler", "B", "red")[0].value
    (['none'], 0.7)
    """
    if level not in LEVELS:
        raise ValueError(f"level {level!r} not in {LEVELS}")
    if overrides:
        return list(overrides)
    rows = templates if templates is not None else default_templates()
    g = grade if grade in GRADES and grade != "unrated" else UNRATED_AS
    own = [r for r in rows if r.sector == sector]
    pool = own if any(r.grade == g for r in own) else [r for r in rows if r.sector == "*"]
    chosen = [r for r in pool if r.grade == g and r.level == level]
    return [Measure(r.action, r.value, r.note_zh, "template", r.status) for r in chosen]


def allowed_ratio(measures: Sequence[Measure]) -> float:
    """Allowed production as a share of the baseline: the strictest of the measures (1 = no cut).

    ``stop`` → 0; ``cap_ratio`` v → v; ``stop_lines`` f (share of lines stopped) → 1 − f; ``extend_coking_h`` h →
    24/h (d); ``transport_ban`` and ``none`` do not cut production.

    >>> allowed_ratio([Measure("stop_lines", 0.5, "", "t"), Measure("cap_ratio", 0.8, "", "t")])
    0.5
    >>> allowed_ratio([Measure("extend_coking_h", 48, "", "t")])
    0.5
    >>> allowed_ratio([Measure("transport_ban", None, "", "t")])
    1.0
    """
    r = 1.0
    for m in measures:
        if m.action == "stop":
            r = min(r, 0.0)
        elif m.action == "cap_ratio" and m.value is not None:
            r = min(r, float(m.value))
        elif m.action == "stop_lines" and m.value is not None:
            r = min(r, 1.0 - float(m.value))
        elif m.action == "extend_coking_h" and m.value:
            r = min(r, BASE_COKING_H / float(m.value))
    return max(0.0, r)


def reductions(baseline_t_per_day: Mapping[str, float], ratio: float) -> dict[str, float]:
    """Required reduction per pollutant [t/d] = baseline × (1 − allowed ratio) (forecast.md §3.10).

    >>> reductions({"SO2": 2.0, "NOx": 4.0}, 0.8)
    {'SO2': 0.4, 'NOx': 0.8}
    """
    return {p: round(float(v) * (1.0 - ratio), 6) for p, v in baseline_t_per_day.items()}


def normalise_pollutants(values: Mapping[str, Any]) -> dict[str, float]:
    """Map pollutant keys of permits and plans (SO2, a21026, 氮氧化物 …) to SO2/NOx/PM/VOCs; drop the rest."""
    out: dict[str, float] = {}
    for k, v in values.items():
        key = _POLLUTANT_KEYS.get(str(k).strip().lower()) or _POLLUTANT_KEYS.get(str(k).strip())
        if key is None:
            continue
        try:
            out[key] = out.get(key, 0.0) + float(v)
        except (TypeError, ValueError):
            continue
    return out


@dataclass
class ListItem:
    """One enterprise on a list."""

    enterprise_id: int
    code: str
    name: str
    credit_code: str
    county: str | None
    county_name: str | None
    sector: str
    grade: str
    measures: list[Measure]
    allowed_ratio: float
    lines_to_stop: float | None
    transport_ban: bool
    baseline_t_per_day: dict[str, float]
    baseline_source: str
    reduction_t_per_day: dict[str, float]


@dataclass
class ListSummary:
    """Totals per county and sector against the area's target share."""

    level: str
    target_share: float
    baseline: dict[str, float]
    reduction: dict[str, float]
    share: dict[str, float | None]
    shortfall: list[str]
    by_county: dict[str, dict[str, float]] = field(default_factory=dict)
    by_sector: dict[str, dict[str, float]] = field(default_factory=dict)
    missing_baseline: list[str] = field(default_factory=list)
    baseline_by_sector: dict[str, dict[str, float]] = field(default_factory=dict)
    """Baselines [t/d] per sector: the denominators of the emission-based estimate's cuts (§3.9 step 6)."""

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarise(items: Sequence[ListItem], level: str) -> ListSummary:
    """Sum reductions per county and sector; flag pollutants whose share of the baseline is below the target.

    >>> it = ListItem(1, "E", "e", "", "652301", "", "cement", "B", [], 0.8, None, False, {"SO2": 10.0}, "permit",
    ...               {"SO2": 2.0})
    >>> s = summarise([it], "orange"); s.share["SO2"], s.shortfall
    (0.2, [])
    >>> summarise([it], "red").shortfall, s.baseline_by_sector
    (['SO2'], {'cement': {'SO2': 10.0}})
    """
    base: dict[str, float] = {}
    red: dict[str, float] = {}
    by_county: dict[str, dict[str, float]] = {}
    by_sector: dict[str, dict[str, float]] = {}
    base_sector: dict[str, dict[str, float]] = {}
    for it in items:
        for p, v in it.baseline_t_per_day.items():
            base[p] = base.get(p, 0.0) + v
            bs = base_sector.setdefault(it.sector, {})
            bs[p] = bs.get(p, 0.0) + v
        for p, v in it.reduction_t_per_day.items():
            red[p] = red.get(p, 0.0) + v
            c = by_county.setdefault(it.county or "", {})
            c[p] = c.get(p, 0.0) + v
            s = by_sector.setdefault(it.sector, {})
            s[p] = s.get(p, 0.0) + v
    target = TARGET_SHARE[level]
    share = {p: (round(red.get(p, 0.0) / b, 6) if b > 0 else None) for p, b in base.items()}
    shortfall = sorted(p for p, s in share.items() if s is not None and s + 1e-9 < target)
    missing = sorted(it.code for it in items if it.baseline_source == "none")
    return ListSummary(level, target, base, red, share, shortfall, by_county, by_sector, missing, base_sector)


# --------------------------------------------------------------------------------------------------------------
# Store side
# --------------------------------------------------------------------------------------------------------------


def _county_of(conn: Any) -> dict[int, tuple[str, str]]:
    """place id → (county code, county name) for every place at or below a county."""
    rows = conn.execute(select(place.c.id, place.c.parent_id, place.c.kind, place.c.code, place.c.name)).all()
    parent = {r.id: r.parent_id for r in rows}
    info = {r.id: r for r in rows}
    out: dict[int, tuple[str, str]] = {}
    for pid in parent:
        cur, seen = pid, set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            if info[cur].kind == "county":
                out[pid] = (info[cur].code, info[cur].name)
                break
            cur = parent.get(cur)
    return out


def _area_members(conn: Any, area_code: str, county_of: dict[int, tuple[str, str]]) -> set[str] | None:
    """County codes inside an area: the county itself, or every county of a prefecture (None = all)."""
    row = conn.execute(select(place.c.kind).where(place.c.code == area_code)).first()
    if row is None or row.kind == "prefecture":
        return None
    return {area_code}


def enterprises_of_area(store: Store, area_code: str) -> list[dict[str, Any]]:
    """Enterprises (registry ``enterprise``) in an area with their sector, grade and county."""
    with store.engine.connect() as conn:
        county_of = _county_of(conn)
        members = _area_members(conn, area_code, county_of)
        rows = conn.execute(
            select(
                site.c.id,
                site.c.code,
                site.c.name,
                site.c.place_id,
                site.c.attrs,
                site.c.active,
                enterprise.c.credit_code,
                enterprise.c.sector,
                enterprise.c.grade,
            ).join(enterprise, enterprise.c.site_id == site.c.id)
        ).all()
    out = []
    for r in rows:
        if not r.active:
            continue
        county, cname = county_of.get(r.place_id, (None, None)) if r.place_id is not None else (None, None)
        if members is not None and county not in members:
            continue
        out.append(
            {
                "id": r.id,
                "code": r.code,
                "name": r.name,
                "credit_code": r.credit_code,
                "sector": r.sector,
                "grade": r.grade or "unrated",
                "county": county,
                "county_name": cname,
                "attrs": r.attrs or {},
            }
        )
    return out


def _baselines(store: Store, ents: Sequence[dict[str, Any]]) -> dict[int, tuple[dict[str, float], str]]:
    """Baseline daily emissions [t/d] per enterprise and their source: ``plan`` baseline rows (t/d, with a
    pollutant in ``attrs``), else the permit ledger's permitted tonnage per year / 365 (d), else the registry
    attribute ``baseline_t_per_day``, else none."""
    out: dict[int, tuple[dict[str, float], str]] = {}
    by_uscc = {e["credit_code"]: e["id"] for e in ents}
    ids = [e["id"] for e in ents]
    with store.engine.connect() as conn:
        plans = conn.execute(
            select(plan.c.enterprise_id, plan.c.value, plan.c.unit, plan.c.attrs).where(
                plan.c.kind == "baseline", plan.c.active.is_(True), plan.c.enterprise_id.in_(ids)
            )
        ).all()
        permits = conn.execute(
            select(permit_table.c.uscc, permit_table.c.permitted_t, permit_table.c.decided_at)
            .where(permit_table.c.uscc.in_(list(by_uscc)))
            .order_by(permit_table.c.decided_at)
        ).all()
    for eid, value, unit, attrs in plans:
        pol = normalise_pollutants({(attrs or {}).get("pollutant", ""): value})
        if pol and (unit or "t/d") in ("t/d", "t/day"):
            cur = out.setdefault(eid, ({}, "plan"))[0]
            cur.update(pol)
    for uscc, permitted, _ in permits:
        eid = by_uscc.get(uscc)
        if eid is None or eid in out:
            continue
        vals = normalise_pollutants(permitted or {})
        if vals:
            out[eid] = ({p: round(v / 365.0, 6) for p, v in vals.items()}, "permit")
    for e in ents:
        if e["id"] in out:
            continue
        vals = normalise_pollutants(e["attrs"].get("baseline_t_per_day") or {})
        out[e["id"]] = (vals, "registry") if vals else ({}, "none")
    return out


def _overrides(store: Store, ids: Sequence[int], level: str) -> dict[int, list[Measure]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(plan.c.enterprise_id, plan.c.action, plan.c.value, plan.c.attrs).where(
                plan.c.kind == "measure",
                plan.c.active.is_(True),
                plan.c.level == level,
                plan.c.enterprise_id.in_(list(ids)),
            )
        ).all()
    out: dict[int, list[Measure]] = {}
    for eid, action, value, attrs in rows:
        out.setdefault(eid, []).append(Measure(action, value, (attrs or {}).get("note_zh", ""), "override"))
    return out


def build_items(
    store: Store, area_code: str, level: str, templates: Sequence[MeasureRow] | None = None
) -> list[ListItem]:
    """Resolve every enterprise of the area for a level (no writes)."""
    ents = enterprises_of_area(store, area_code)
    base = _baselines(store, ents)
    over = _overrides(store, [e["id"] for e in ents], level)
    items = []
    for e in ents:
        ms = resolve_measures(e["sector"], e["grade"], level, templates, over.get(e["id"], ()))
        ratio = allowed_ratio(ms)
        b, src = base[e["id"]]
        lines = next((m.value for m in ms if m.action == "stop_lines"), None)
        items.append(
            ListItem(
                e["id"],
                e["code"],
                e["name"],
                e["credit_code"],
                e["county"],
                e["county_name"],
                e["sector"],
                e["grade"],
                ms,
                ratio,
                lines,
                any(m.action == "transport_ban" for m in ms),
                b,
                src,
                reductions(b, ratio),
            )
        )
    items.sort(key=lambda i: (i.county or "", i.sector, i.code))
    return items


def activate(
    store: Store,
    warning_id: int,
    *,
    by: str = "system",
    templates: Sequence[MeasureRow] | None = None,
    now: datetime | None = None,
) -> int:
    """Freeze a new version of the warning's emergency list, write its enforcement ``order`` and findings.

    Called when a warning is issued or changed; an earlier active version is ended. Returns the list id.
    """
    now = now or now_utc()
    rows = templates if templates is not None else default_templates()
    with store.engine.connect() as conn:
        w = conn.execute(select(warning_table).where(warning_table.c.id == warning_id)).mappings().first()
    if w is None:
        raise LookupError(f"warning {warning_id} does not exist")
    if w["level"] not in LEVELS:
        raise ValueError(f"warning {warning_id}: level {w['level']!r} has no emergency measures (only {LEVELS})")
    items = build_items(store, w["area_code"], w["level"], rows)
    summary = summarise(items, w["level"])
    start = max(now, day_start_utc(w["start_date"]))
    end = max(day_start_utc(w["end_date"] + timedelta(days=1)), start + timedelta(hours=1))
    with store.begin() as conn:
        prev = conn.execute(
            select(emergency_list.c.id, emergency_list.c.version)
            .where(emergency_list.c.warning_id == warning_id)
            .order_by(emergency_list.c.version.desc())
        ).first()
        _end(conn, warning_id, now)
        version = (prev.version + 1) if prev else 1
        order_id = conn.execute(
            plan.insert()
            .values(
                kind="order",
                level=w["level"],
                start=start,
                end=end,
                doc_id=w["doc_no"] or f"warning-{warning_id}-v{version}",
                source="warning",
                attrs={"warning_id": warning_id, "area_code": w["area_code"], "version": version},
                active=True,
                created_by=by,
                created_at=now,
            )
            .returning(plan.c.id)
        ).scalar_one()
        list_id = conn.execute(
            emergency_list.insert()
            .values(
                warning_id=warning_id,
                version=version,
                area_code=w["area_code"],
                level=w["level"],
                doc_no=w["doc_no"] or "",
                rule_set=w["rule_set"],
                template_version=template_version(rows),
                active=True,
                totals=summary.as_json() | {"n_enterprises": len(items)},
                created_at=now,
            )
            .returning(emergency_list.c.id)
        ).scalar_one()
        if items:
            conn.execute(
                emergency_list_item.insert(),
                [
                    {
                        "list_id": list_id,
                        "enterprise_id": it.enterprise_id,
                        "county": it.county,
                        "sector": it.sector,
                        "grade": it.grade,
                        "measures": [m.__dict__ for m in it.measures],
                        "allowed_ratio": it.allowed_ratio,
                        "lines_to_stop": it.lines_to_stop,
                        "transport_ban": it.transport_ban,
                        "baseline_source": it.baseline_source,
                        "reduction_t_per_day": it.reduction_t_per_day,
                        "order_id": order_id,
                    }
                    for it in items
                ],
            )
        if w["level"] in INSPECTION_LEVELS:
            for it in items:
                if all(m.action == "none" for m in it.measures):
                    continue
                raise_finding(
                    conn,
                    FindingDraft(
                        kind="inspection",
                        severity="high" if w["level"] == "red" else "medium",
                        title=f"应急减排措施核查：{it.name}（{_level_zh(w['level'])}预警）",
                        dedupe_key=f"emergency_measure_check:{warning_id}:{it.enterprise_id}",
                        detected_at=now,
                        subject_site_id=it.enterprise_id,
                        evidence={
                            "category": "emergency_measure_check",
                            "warning_id": warning_id,
                            "list_id": list_id,
                            "level": w["level"],
                            "measures": [m.__dict__ for m in it.measures],
                            "allowed_ratio": it.allowed_ratio,
                        },
                    ),
                    now=now,
                )
    return int(list_id)


def _level_zh(level: str) -> str:
    return LEVEL_ZH.get(level, level)


def _end(conn: Any, warning_id: int, now: datetime) -> None:
    active = conn.execute(
        select(emergency_list.c.id).where(emergency_list.c.warning_id == warning_id, emergency_list.c.active.is_(True))
    ).all()
    for (lid,) in active:
        conn.execute(emergency_list.update().where(emergency_list.c.id == lid).values(active=False, ended_at=now))
        order_ids = {
            r.order_id
            for r in conn.execute(select(emergency_list_item.c.order_id).where(emergency_list_item.c.list_id == lid))
            if r.order_id is not None
        }
        for oid in order_ids:
            conn.execute(plan.update().where(plan.c.id == oid).values(end=now, active=False))
    # orders of lists without items
    for r in conn.execute(select(plan.c.id, plan.c.attrs).where(plan.c.kind == "order", plan.c.active.is_(True))):
        if (r.attrs or {}).get("warning_id") == warning_id:
            conn.execute(plan.update().where(plan.c.id == r.id).values(end=now, active=False))


def end_lists(store: Store, warning_id: int, *, now: datetime | None = None) -> None:
    """Lift: end the warning's active list and its orders."""
    with store.begin() as conn:
        _end(conn, warning_id, now or now_utc())


def list_rows(store: Store, list_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A list header and its items joined with the enterprise names and credit codes."""
    with store.engine.connect() as conn:
        head = conn.execute(select(emergency_list).where(emergency_list.c.id == list_id)).mappings().first()
        if head is None:
            raise LookupError(f"emergency list {list_id} does not exist")
        items = (
            conn.execute(
                select(emergency_list_item, site.c.code, site.c.name, enterprise.c.credit_code)
                .join(site, site.c.id == emergency_list_item.c.enterprise_id)
                .join(enterprise, enterprise.c.site_id == site.c.id)
                .where(emergency_list_item.c.list_id == list_id)
                .order_by(emergency_list_item.c.county, emergency_list_item.c.sector, site.c.code)
            )
            .mappings()
            .all()
        )
        county_names = {r.code: r.name for r in conn.execute(select(place.c.code, place.c.name))}
    out = []
    for r in items:
        d = dict(r)
        d["county_name"] = county_names.get(d["county"] or "", d["county"])
        out.append(d)
    return dict(head), out


def active_list(store: Store, *, area_code: str | None = None) -> list[dict[str, Any]]:
    """Active lists (newest first)."""
    q = select(emergency_list).where(emergency_list.c.active.is_(True)).order_by(emergency_list.c.id.desc())
    if area_code:
        q = q.where(emergency_list.c.area_code == area_code)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


HEADER_ZH = (
    "序号",
    "县市",
    "企业名称",
    "统一社会信用代码",
    "行业",
    "绩效等级",
    "预警级别",
    "减排措施",
    "限产比例",
    "停产生产线",
    "运输管控",
    "SO2减排量(t/d)",
    "NOx减排量(t/d)",
    "颗粒物减排量(t/d)",
    "VOCs减排量(t/d)",
    "基准来源",
    "核查方式",
)

BASELINE_SOURCE_ZH: dict[str, str] = {"permit": "排污许可量", "registry": "登记库", "none": "无基准"}
"""Where an enterprise's baseline emissions [t/d] came from (`_baselines`): its permit, the registry, or none."""

CHECK_METHOD = {
    "stop": "用电监控（生产设施处于停机区间）+ 在线监测",
    "cap_ratio": "用电监控（日用电量 ≤ 允许比例 × 基准）",
    "stop_lines": "用电监控（运行生产线数）",
    "extend_coking_h": "推焦计划与用电监控",
    "transport_ban": "门禁与运输台账",
    "none": "自主减排（抽查）",
}


def export_xlsx(store: Store, list_id: int, path: str | Path | None = None) -> bytes:
    """The list as an Excel workbook (sheets 清单, 汇总, 说明; forecast.md §3.10); written to ``path`` if given."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    head, items = list_rows(store, list_id)
    wb = Workbook()
    ws = wb.active
    ws.title = "清单"
    ws.append(HEADER_ZH)
    for c in ws[1]:
        c.font = Font(bold=True)
    level_zh = _level_zh(head["level"])
    for i, it in enumerate(items, start=1):
        ms = it["measures"] or []
        red = it["reduction_t_per_day"] or {}
        ws.append(
            [
                i,
                it["county_name"],
                it["name"],
                it["credit_code"],
                SECTORS.get(it["sector"], it["sector"]),
                it["grade"],
                level_zh,
                "；".join(m.get("note_zh") or ACTION_ZH.get(m["action"], m["action"]) for m in ms),
                None if it["allowed_ratio"] is None else round(1.0 - it["allowed_ratio"], 4),
                it["lines_to_stop"],
                "是" if it["transport_ban"] else "否",
                *[red.get(p) for p in POLLUTANTS],
                BASELINE_SOURCE_ZH.get(it["baseline_source"], it["baseline_source"]),
                "；".join(sorted({CHECK_METHOD.get(m["action"], "") for m in ms})),
            ]
        )
    tot = head["totals"] or {}
    ws2 = wb.create_sheet("汇总")
    ws2.append(["范围", "名称", *[f"{p}减排量(t/d)" for p in POLLUTANTS]])
    for county, vals in sorted((tot.get("by_county") or {}).items()):
        ws2.append(["县市", county, *[vals.get(p) for p in POLLUTANTS]])
    for sector, vals in sorted((tot.get("by_sector") or {}).items()):
        ws2.append(["行业", SECTORS.get(sector, sector), *[vals.get(p) for p in POLLUTANTS]])
    ws2.append(["合计", "减排量", *[(tot.get("reduction") or {}).get(p) for p in POLLUTANTS]])
    ws2.append(["合计", "基准排放量", *[(tot.get("baseline") or {}).get(p) for p in POLLUTANTS]])
    ws2.append(["合计", "减排比例", *[(tot.get("share") or {}).get(p) for p in POLLUTANTS]])
    ws2.append(["目标", f"{level_zh}预警减排比例 ≥ {tot.get('target_share')}", *[None] * len(POLLUTANTS)])
    ws2.append(["未达目标", "、".join(tot.get("shortfall") or []) or "无", *[None] * len(POLLUTANTS)])
    ws2.append(["缺少基准", "、".join(tot.get("missing_baseline") or []) or "无", *[None] * len(POLLUTANTS)])
    # the emission-based estimate (forecast.md §3.9 step 6): the figure with its study, or why there is none
    for line in source_share.estimate_text(source_share.list_estimate(store, list_id, items), label=False):
        ws2.append([source_share.LABEL_ZH, line, *[None] * len(POLLUTANTS)])
    ws3 = wb.create_sheet("说明")
    for k, v in (
        ("预警文号", head["doc_no"] or "—"),
        ("预警级别", level_zh),
        ("区域", head["area_code"]),
        ("规则", head["rule_set"]),
        ("措施模板版本", head["template_version"]),
        ("清单版本", head["version"]),
        ("生成时间（UTC）", head["created_at"].isoformat() if head["created_at"] else ""),
        ("说明", "措施模板中 status=documented_default 的行为默认值，须以本州应急减排清单替换。"),
    ):
        ws3.append([k, v])
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data
