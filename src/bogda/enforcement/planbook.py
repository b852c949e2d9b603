"""Production plans in the store: the ``plan`` table, its CRUD, and the :class:`~.plans.PlanSet` the catalogue reads
(enforcement.md §2 "Plans", §3.6).

One ``plan`` row is one plan record, told apart by ``kind``:

==================  ==========================================================================================
kind                fields used
==================  ==========================================================================================
``stagger_window``  ``enterprise_id`` *or* ``sector`` (every enterprise of the sector), ``target`` (a meter code,
                    "" = the enterprise), ``start``/``end`` (UTC, end exclusive), ``doc_id``
``order``           ``level`` (yellow/orange/red), ``start`` = issued, ``end`` = lifted, ``doc_id``, ``source``
                    (``manual``; ``warning`` when the forecast issue's warnings feed it), ``attrs.area_code`` (the
                    county, industrial park or prefecture the order is for; none = every enterprise)
``measure``         ``enterprise_id``, ``level``, ``action`` (stop, cap_ratio, stop_lines, extend_coking_h,
                    transport_ban), ``value``, ``target``, ``attrs.baseline_id``, ``attrs.ramp_h``
``grade``           ``enterprise_id``, ``industry`` (cement_clinker, or cement as the grading ledger writes it),
                    ``grade`` (as stored: 引领性, 非引领性, B- …), ``start``/``end`` validity
``baseline``        ``enterprise_id``, ``target`` (baseline id, "" = the enterprise), ``value``, ``unit``,
                    ``attrs.proxy``, ``attrs.derivation``
==================  ==========================================================================================

Without a ``grade`` row, a cement enterprise's registry grade selects the cement-clinker table (``CEMENT_CLINKER``).

An order binds the enterprises of its area only (:func:`~.plans.order_scope`): a county's warning order is not checked
against the enterprises of the other counties. An enterprise's county is found by walking its site's place (a township
or grid cell) up the place tree; the industrial parks it lies in (parks overlay the tree) by its site's position inside
the park outlines (``bogda.forecast.emergency.park_codes``), as the park's emergency list found it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from bogda.enforcement import plans as P
from bogda.registry.places import counties_of
from bogda.store import Store
from bogda.store.schema import emergency_list, emergency_list_item, enterprise, place, plan, site
from bogda.timeutil import beijing_date, now_utc

KINDS = ("stagger_window", "measure", "order", "grade", "baseline")
SECTOR_INDUSTRY = {"cement": "cement_clinker"}
"""Registry sector → emergency-measure table used when an enterprise has no ``grade`` plan row."""
KILN_SECTORS = ("cement",)
"""Sectors whose stop orders allow the kiln ramp (``ramp_h.kiln``) before the proxy must be idle."""
ORDER_AREA_KINDS = ("county", "park", "prefecture")
"""Place kinds an order entered by hand may be issued for (warnings are issued for a county or the prefecture,
forecast.md §3.6/§4; heavy-pollution orders are also issued for an industrial park such as 准东, whose emergency
list holds the enterprises inside its outline, forecast.md §3.10)."""


def _area_text(code: Any) -> str | None:
    """An area code as text: a JSON number or padded text from an import is the same code; blank is none.

    >>> _area_text(652323), _area_text(" 652323 "), _area_text(""), _area_text(None)
    ('652323', '652323', None, None)
    """
    if code is None:
        return None
    return str(code).strip() or None


@dataclass
class PlanInput:
    """A plan record to add (see the module docstring for which fields each kind uses)."""

    kind: str
    enterprise: str | None = None  # enterprise code
    sector: str | None = None
    target: str = ""
    level: str | None = None
    grade: str | None = None
    industry: str | None = None
    action: str | None = None
    value: float | None = None
    unit: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    doc_id: str = ""
    source: str = "manual"
    attrs: dict[str, Any] = field(default_factory=dict)
    area_code: str | None = None  # order only: county, park or prefecture code (None = every enterprise)

    def order_area(self) -> str | None:
        """The order's area code, given as ``area_code`` or ``attrs["area_code"]`` (blank = none)."""
        return _area_text(self.area_code or self.attrs.get("area_code"))


def _check(p: PlanInput) -> None:
    """Raise ``ValueError`` naming the field at fault."""
    if p.kind not in KINDS:
        raise ValueError(f"plan kind {p.kind!r} unknown; expected one of {KINDS}")
    for name in ("start", "end"):
        ts = getattr(p, name)
        if ts is not None and ts.tzinfo is None:
            raise ValueError(f"plan {name} must be timezone-aware (bogda.timeutil.as_utc)")
    if p.start is not None and p.end is not None and p.end <= p.start:
        raise ValueError("plan end must be after start")
    if p.kind == "stagger_window":
        if (p.enterprise is None) == (p.sector is None):
            raise ValueError("stagger_window needs exactly one of enterprise or sector")
        if p.start is None or p.end is None:
            raise ValueError("stagger_window needs start and end")
    given, in_attrs = _area_text(p.area_code), _area_text(p.attrs.get("area_code"))
    if given and in_attrs and given != in_attrs:
        raise ValueError(f"plan area_code {p.area_code!r} differs from attrs.area_code {p.attrs['area_code']!r}")
    if p.kind != "order" and p.order_area() is not None:
        raise ValueError(f"area_code applies to orders only, not to {p.kind}")
    if p.kind == "order":
        if p.level not in P.LEVELS:
            raise ValueError(f"order level {p.level!r}; expected one of {P.LEVELS}")
        if p.start is None or p.end is None:
            raise ValueError("order needs start (issued) and end (lifted)")
    if p.kind == "measure":
        if p.enterprise is None:
            raise ValueError("measure needs an enterprise")
        if p.level not in P.LEVELS:
            raise ValueError(f"measure level {p.level!r}; expected one of {P.LEVELS}")
        if p.action not in P.ACTIONS:
            raise ValueError(f"measure action {p.action!r}; expected one of {P.ACTIONS}")
        if p.action == "cap_ratio" and (p.value is None or not 0 <= p.value <= 1):
            raise ValueError("cap_ratio measure needs a value between 0 and 1 (allowed production ratio)")
    if p.kind == "grade" and (p.enterprise is None or not p.grade or not p.industry):
        raise ValueError("grade needs enterprise, industry and grade")
    if p.kind == "baseline" and (p.enterprise is None or p.value is None or p.value <= 0):
        raise ValueError("baseline needs an enterprise and a positive value")


def _enterprise_id(conn: Connection, code: str) -> int:
    sid = conn.execute(select(site.c.id).where(site.c.kind == "enterprise", site.c.code == code)).scalar()
    if sid is None:
        raise ValueError(f"enterprise {code!r} is not in the registry")
    return int(sid)


def _check_area(conn: Connection, code: str) -> None:
    """Raise ``ValueError`` unless ``code`` is a county, an industrial park or the prefecture in the place table."""
    kind = conn.execute(select(place.c.kind).where(place.c.code == code)).scalar()
    if kind is None:
        raise ValueError(f"order area_code {code!r} is not in the place table")
    if kind not in ORDER_AREA_KINDS:
        raise ValueError(f"order area_code {code!r} is a {kind}; expected a county, a park or the prefecture")


def add_plan(conn: Connection, p: PlanInput, *, by: str | None = None, now: datetime | None = None) -> int:
    """Insert a plan record; returns its id. ``ValueError`` naming the field at fault.

    An order's area (``area_code``) must be a county, a park or the prefecture of the place table; it is stored as
    ``attrs.area_code``, as the orders written from warnings store theirs (``bogda.forecast.emergency.activate``).
    """
    _check(p)
    area = p.order_area()
    attrs = dict(p.attrs)
    if area is not None:
        _check_area(conn, area)
        attrs["area_code"] = area
    ent = _enterprise_id(conn, p.enterprise) if p.enterprise else None
    return int(
        conn.execute(
            plan.insert()
            .values(
                kind=p.kind,
                enterprise_id=ent,
                sector=p.sector,
                target=p.target or "",
                level=p.level,
                grade=p.grade,
                industry=p.industry,
                action=p.action,
                value=p.value,
                unit=p.unit,
                start=p.start,
                end=p.end,
                doc_id=p.doc_id or "",
                source=p.source,
                attrs=attrs,
                active=True,
                created_by=by,
                created_at=now or now_utc(),
            )
            .returning(plan.c.id)
        ).scalar_one()
    )


def add_stagger_season(
    conn: Connection, season_year: int, *, sector: str = "cement", doc_id: str = "", by: str | None = None
) -> int:
    """The Xinjiang cement staggered-production window 1 Nov ``season_year`` – 31 Mar (Beijing days) [std] as a
    sector-wide ``stagger_window`` row."""
    w = P.xinjiang_cement_window(season_year, sector, doc_id)
    return add_plan(conn, PlanInput("stagger_window", sector=sector, start=w.start, end=w.end, doc_id=doc_id), by=by)


def deactivate_plan(conn: Connection, plan_id: int, *, now: datetime | None = None) -> int:
    """Withdraw a plan record (kept for the record, no longer applied); returns how many emergency lists it ended.

    Withdrawing (lifting) a hand-entered order also ends the emergency-reduction lists built for it
    (``bogda.forecast.emergency.activate_for_order``; forecast.md §3.10), in the same transaction: an order no
    longer in force must not leave an active list behind (a lifted warning ends its own lists through
    ``emergency.end_lists``; they are not the order's to end). ``LookupError`` when there is no such plan.
    """
    kind = conn.execute(select(plan.c.kind).where(plan.c.id == plan_id)).scalar()
    if kind is None:
        raise LookupError(f"plan {plan_id} does not exist")
    conn.execute(plan.update().where(plan.c.id == plan_id).values(active=False))
    if kind != "order":
        return 0
    # imported here: the emergency lists' module loads the forecast service, which withdrawing a window never needs;
    # on this connection, because a second write transaction would wait behind this one on SQLite
    from bogda.forecast.emergency import end_order_lists_on

    return end_order_lists_on(conn, plan_id, now=now)


def list_plans(
    store: Store, *, kinds: list[str] | None = None, enterprise_id: int | None = None, active: bool | None = True
) -> list[dict[str, Any]]:
    """Plan rows with the enterprise code, newest first."""
    q = select(plan, site.c.code.label("enterprise")).outerjoin(site, site.c.id == plan.c.enterprise_id)
    if kinds:
        q = q.where(plan.c.kind.in_(kinds))
    if enterprise_id is not None:
        q = q.where(plan.c.enterprise_id == enterprise_id)
    if active is not None:
        q = q.where(plan.c.active == active)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(plan.c.id.desc())).mappings()]


def _day(ts: datetime | None) -> date | None:
    return None if ts is None else beijing_date(ts)


def _warning_orders_ended(store: Store) -> list[dict[str, Any]]:
    """Orders written from issued warnings that were later lifted or superseded (``active`` false, ``end`` moved to
    the lift): they stay in force for the period they covered, so late data and re-runs are still judged against
    them. Orders withdrawn by hand (source ``manual``) are not."""
    return [
        r
        for r in list_plans(store, kinds=["order"], active=False)
        if r["source"] == "warning" and r["end"] is not None and (r["attrs"] or {}).get("warning_id") is not None
    ]


def newest_lists(rows: list[tuple[int, int, int]]) -> dict[int, int]:
    """Order id → id of its newest emergency-reduction list, from ``(order id, list version, list id)`` rows.

    A warning writes one order per list version; a hand-entered order keeps its id when its list is built again
    (``bogda.forecast.emergency.activate_for_order``), so its versions share it and the newest one is its list. Ties
    on version go to the newer row.

    >>> newest_lists([(7, 1, 10), (7, 2, 12), (8, 1, 11)])
    {7: 12, 8: 11}
    """
    best: dict[int, tuple[int, int]] = {}
    for order_id, version, list_id in rows:
        if order_id not in best or (version, list_id) > best[order_id]:
            best[order_id] = (version, list_id)
    return {o: lid for o, (_, lid) in best.items()}


def _list_measures(store: Store) -> tuple[list[P.Measure], set[tuple[str, str]]]:
    """Per-enterprise measures of the emergency-reduction lists (forecast.md §3.10, table ``emergency_list_item``),
    each tied to the order its list was frozen for (``Measure.order_key`` = the order's plan id), at that order's
    level; ``none`` actions dropped. Per order only its newest list version is read (:func:`newest_lists`): an older
    version's measures no longer apply, to that order or any other. Also returned: the (order key, enterprise)
    pairs on those lists, so that a listed enterprise whose measures are all ``none`` gets none under that order.

    An ended list is still read for its order: a lifted warning's order stays in force for the period it covered
    (:func:`_warning_orders_ended`); the orders themselves decide which lists count.
    """
    with store.engine.connect() as conn:
        versions = conn.execute(
            select(emergency_list_item.c.order_id, emergency_list.c.version, emergency_list.c.id)
            .join(emergency_list, emergency_list.c.id == emergency_list_item.c.list_id)
            .where(emergency_list_item.c.order_id.is_not(None))
            .distinct()
        ).all()
        newest = newest_lists([tuple(r) for r in versions])
        q = (
            select(site.c.code, emergency_list_item.c.measures, emergency_list_item.c.list_id, plan.c.id, plan.c.level)
            .join(site, site.c.id == emergency_list_item.c.enterprise_id)
            .join(plan, plan.c.id == emergency_list_item.c.order_id)
            .where(emergency_list_item.c.list_id.in_(set(newest.values())))
        )
        rows = conn.execute(q).all() if newest else []
    out: dict[tuple, P.Measure] = {}
    listed: set[tuple[str, str]] = set()
    for code, measures, list_id, order_id, level in rows:
        if newest.get(order_id) != list_id or level not in P.LEVELS:
            continue
        key = str(order_id)
        listed.add((key, code))
        for m in measures or []:
            action = (m or {}).get("action")
            if action not in P.ACTIONS:
                continue
            value = m.get("value")
            mm = P.Measure(code, level, action, None if value is None else float(value), order_key=key)
            out[(key, code, action, mm.value)] = mm
    return list(out.values()), listed


def _area_of(row: dict[str, Any]) -> str | None:
    """An order row's ``attrs.area_code`` (:func:`_area_text`)."""
    return _area_text((row["attrs"] or {}).get("area_code"))


def binding(
    store: Store,
    rows: list[dict[str, Any]],
    place_id: int | None,
    *,
    lon: float | None = None,
    lat: float | None = None,
) -> list[dict[str, Any]]:
    """``rows`` (of :func:`list_plans`) without the orders that do not bind an enterprise placed on ``place_id`` at
    ``lon``/``lat`` (its site's position, WGS-84): a county's order binds only that county's enterprises, an
    industrial park's order only the enterprises inside the park (:func:`~bogda.enforcement.plans.order_applies`).
    Without a position, park membership comes from the place alone (a site placed on the park itself)."""
    from bogda.forecast.emergency import park_codes  # see deactivate_plan: loaded only when needed

    areas = {a for r in rows if r["kind"] == "order" and (a := _area_of(r))}
    with store.engine.connect() as conn:
        county = county_codes(conn, {place_id}).get(place_id) if place_id is not None else None
        kinds = dict(conn.execute(select(place.c.code, place.c.kind).where(place.c.code.in_(areas))).all())
        # the outlines are read only when a park's order is among the rows: no other order looks at parks
        parks: frozenset[str] = frozenset()
        if "park" in kinds.values():
            parks = park_codes(conn, [(0, place_id, lon, lat)]).get(0, frozenset())

    def binds(r: dict[str, Any]) -> bool:
        scope = P.order_scope(_area_of(r), kinds)
        return P.order_applies(P.Order(r["level"], r["start"], r["end"], area_codes=scope), county, parks)

    return [r for r in rows if r["kind"] != "order" or binds(r)]


def county_codes(conn: Connection, place_ids: set[int]) -> dict[int, str]:
    """Place id → code of the county at or above it, for each of ``place_ids`` inside a county.

    Sites are placed on the lowest place that contains them (a grid cell or township below a county), so the
    county is found by walking up the place tree (:func:`bogda.registry.places.counties_of`).
    """
    county = counties_of(conn)
    return {pid: county[pid][0] for pid in place_ids if pid in county}


def plan_set(store: Store, params_ramp_kiln: float = 24.0) -> P.PlanSet:
    """All active plan records as the catalogue's :class:`~.plans.PlanSet` (enterprise ids are site codes).

    Also read: orders from warnings that have since been lifted (for the period they covered) and the measures of
    the emergency-reduction lists frozen for the orders (an enterprise's own ``measure`` rows come first, then the
    measures of the newest version of the order's own list, :func:`_list_measures`; cement without either falls back
    to the grade table). Each order carries its area
    (``attrs.area_code`` → :func:`~.plans.order_scope`) and the set carries each enterprise's county and the industrial
    parks it lies in (``bogda.forecast.emergency.park_codes``), so that a county's order binds that county's enterprises
    only and a park's order the park's enterprises only (forecast.md §3.10)."""
    from bogda.forecast.emergency import park_codes  # see deactivate_plan: loaded only when needed

    rows = list_plans(store) + _warning_orders_ended(store)
    areas = {a for r in rows if r["kind"] == "order" and (a := _area_of(r))}
    with store.engine.connect() as conn:
        ents = conn.execute(
            select(site.c.code, enterprise.c.sector, enterprise.c.grade, site.c.place_id, site.c.lon, site.c.lat).join(
                enterprise, enterprise.c.site_id == site.c.id
            )
        ).all()
        county = county_codes(conn, {e.place_id for e in ents if e.place_id is not None})
        kinds = dict(conn.execute(select(place.c.code, place.c.kind).where(place.c.code.in_(areas))).all())
        parks = park_codes(conn, [(e.code, e.place_id, e.lon, e.lat) for e in ents])
    ps = P.PlanSet(county={e.code: county[e.place_id] for e in ents if e.place_id in county}, parks=parks)
    graded: set[str] = set()
    for r in rows:
        ent = r["enterprise"]
        a = r["attrs"] or {}
        if r["kind"] == "order":
            scope = P.order_scope(_area_of(r), kinds)
            ps.orders.append(
                P.Order(r["level"], r["start"], r["end"], r["doc_id"], r["source"], scope, key=str(r["id"]))
            )
        elif r["kind"] == "stagger_window":
            targets = [ent] if ent else [e.code for e in ents if e.sector == r["sector"]]
            for code in targets:
                ps.windows.append(P.StaggerWindow(r["target"] or code, r["start"], r["end"], r["doc_id"]))
        elif r["kind"] == "measure":
            ps.measures.append(
                P.Measure(ent, r["level"], r["action"], r["value"], r["target"] or "", a.get("baseline_id"))
            )
            if a.get("ramp_h") is not None:
                ps.ramp_h[r["target"] or ent] = float(a["ramp_h"])
        elif r["kind"] == "grade":
            ps.grades.append(P.EnterpriseGrade(ent, r["industry"], r["grade"], _day(r["start"]), _day(r["end"])))
            graded.add(ent)
        elif r["kind"] == "baseline":
            bid = r["target"] or ent
            ps.baselines[bid] = P.Baseline(
                bid, float(r["value"]), r["unit"] or "kWh/d", a.get("proxy", "production_kwh"), a.get("derivation", "")
            )
    listed_measures, ps.listed = _list_measures(store)
    ps.measures += listed_measures  # own rows still come first: plans.measures_for
    for code, sector, grade, *_ in ents:
        if code not in graded and grade and sector in SECTOR_INDUSTRY:
            ps.grades.append(P.EnterpriseGrade(code, SECTOR_INDUSTRY[sector], grade))
        if sector in KILN_SECTORS:
            ps.ramp_h.setdefault(code, params_ramp_kiln)
    return ps
