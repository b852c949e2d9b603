"""Production plans: staggered production and emergency measures under a warning (enforcement.md §3.6).

Plans are data (the ``plan`` records of architecture §4): grades, measures, orders, stagger windows, baselines.
Verification runs on electricity proxies (production meter power and state) — E04 stop-order breach,
E05 cap breach, P01 staggered production, P02 coking time, P03 transport ban.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from bogda.enforcement.detectors import Subject, _bounds
from bogda.enforcement.power import ON
from bogda.enforcement.rules import Hit, Params
from bogda.registry.grades import normalise_grade
from bogda.timeutil import day_start_utc

LEVELS = ("yellow", "orange", "red")
ACTIONS = ("stop", "cap_ratio", "stop_lines", "extend_coking_h", "transport_ban")


@dataclass(frozen=True)
class EnterpriseGrade:
    """Environmental performance grade (A/B/B-/C/D, leading/non-leading) of an enterprise in an industry."""

    enterprise_id: str
    industry: str
    grade: str
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class Measure:
    """One emergency-reduction action of an enterprise at a warning level.

    ``order_key`` is empty for the enterprise's own measures (its ``measure`` plan rows: they apply under every order
    of their level); a measure taken from an emergency-reduction list carries the :attr:`Order.key` of the order the
    list was frozen for and applies under that order only (:func:`measures_for`).
    """

    enterprise_id: str
    level: str
    action: str
    value: float | None = None
    target: str = ""  # meter or line id the action applies to ("" = the enterprise's production meters)
    baseline_id: str | None = None
    order_key: str = ""


@dataclass(frozen=True)
class Order:
    """An issued warning (forecast.md §4) or an order entered by hand: ``[issued_at, lifted_at)`` UTC.

    ``area_codes`` scopes the order (forecast.md §3.10 "Activation": a warning is issued *for an area*): the codes
    of the counties and industrial parks whose enterprises it binds; ``None`` binds every enterprise (a
    prefecture-wide warning, or an order entered without an area). See :func:`order_scope` and :func:`order_applies`.
    """

    level: str
    issued_at: datetime
    lifted_at: datetime
    doc_id: str = ""
    source: str = "warning"  # warning | manual
    area_codes: frozenset[str] | None = None
    key: str = ""  # the order's identity (its plan row id), linking it to its emergency list's measures


@dataclass(frozen=True)
class StaggerWindow:
    """Staggered-production window ``[start, end)`` UTC for an enterprise or line."""

    target_id: str
    start: datetime
    end: datetime
    doc_id: str = ""


@dataclass(frozen=True)
class Baseline:
    """Baseline daily production expressed in a proxy (enforcement.md §3.6)."""

    baseline_id: str
    value: float
    unit: str
    proxy: str
    derivation: str


@dataclass
class PlanSet:
    """All plan records the catalogue needs, as plain data."""

    grades: list[EnterpriseGrade] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    windows: list[StaggerWindow] = field(default_factory=list)
    baselines: dict[str, Baseline] = field(default_factory=dict)
    ramp_h: dict[str, float] = field(default_factory=dict)  # enterprise or meter id → ramp after a stop order
    county: dict[str, str] = field(default_factory=dict)  # enterprise id → county code (absent: county unknown)
    parks: dict[str, frozenset[str]] = field(default_factory=dict)  # enterprise id → codes of the parks holding it
    listed: set[tuple[str, str]] = field(default_factory=set)  # (order key, enterprise id) on that order's list


CEMENT_CLINKER: dict[tuple[str, str], tuple[tuple[str, float | None], ...]] = {
    ("A", "yellow"): (),
    ("A", "orange"): (),
    ("A", "red"): (),
    ("leading", "yellow"): (),
    ("leading", "orange"): (),
    ("leading", "red"): (),
    ("B", "yellow"): (("transport_ban", None),),
    ("B", "orange"): (("cap_ratio", 0.8),),
    ("B", "red"): (("stop", None),),
    ("B-", "yellow"): (("transport_ban", None), ("cap_ratio", 0.9)),
    ("B-", "orange"): (("cap_ratio", 0.7),),
    ("B-", "red"): (("stop", None),),
    ("C", "yellow"): (("stop_lines", 0.5),),
    ("C", "orange"): (("stop", None),),
    ("C", "red"): (("stop", None),),
    ("non_leading", "yellow"): (("stop_lines", 0.5),),
    ("non_leading", "orange"): (("stop", None),),
    ("non_leading", "red"): (("stop", None),),
    ("D", "yellow"): (("stop", None), ("transport_ban", None)),
    ("D", "orange"): (("stop", None), ("transport_ban", None)),
    ("D", "red"): (("stop", None), ("transport_ban", None)),
}
"""Cement clinker measures by grade (:func:`bogda.registry.grades.normalise_grade` codes) and level.

A, B, C, D [std] (enforcement.md §3.6): A self-determined; B no National-IV-or-older heavy trucks / reduce 20 % /
stop; C stop 50 % of lines / stop; D stop and no road transport. The spec is silent on the other grades; their rows
are those of the emergency lists' template (``bogda/forecast/data/emergency_measures.csv``, documented defaults
(d)), so that enforcement checks what the list told the enterprise: 引领性 (``leading``) self-determined like A;
B- yellow no National-IV-or-older heavy trucks + reduce 10 %, orange reduce 30 %, red stop; 非引领性
(``non_leading``) as C (stop 50 % of lines, then stop). ``stop_lines`` value = share of lines to stop;
``cap_ratio`` = allowed production ratio."""

INDUSTRY_TABLES = {name: CEMENT_CLINKER for name in ("cement_clinker", "cement", "水泥", "水泥熟料")}
"""Grade tables by industry. ``cement`` (the registry's sector code, which the grading ledger writes as the industry)
and 水泥/水泥熟料 name the cement-clinker table too: one table, several names (:func:`industry_table`)."""

UNRATED_AS = "D"
"""Grade whose row an enterprise graded ``unrated`` (未分级, blank) uses: as the emergency lists
(``bogda.forecast.emergency.UNRATED_AS``, forecast.md §3.10 (d))."""


def industry_table(industry: str | None) -> dict[tuple[str, str], tuple[tuple[str, float | None], ...]] | None:
    """The grade table of an industry as a grade row or the ledger names it, ``None`` when there is none.

    Surrounding spaces and case are ignored, so an Excel ledger's `` Cement `` finds the cement-clinker table.

    >>> industry_table("cement") is industry_table(" Cement_Clinker ") is CEMENT_CLINKER, industry_table("steel")
    (True, None)
    """
    if industry is None:
        return None
    return INDUSTRY_TABLES.get(industry.strip().lower())


def table_grade(grade: str | None) -> str | None:
    """The row of the grade tables a stored grade selects (A, B, B-, C, D, ``leading``, ``non_leading``).

    The grade is read as the emergency lists read it (:func:`bogda.registry.grades.normalise_grade`: 引领性 →
    ``leading``, 非引领性 → ``non_leading``, B− → B-); ``unrated`` uses :data:`UNRATED_AS`; an unrecognised grade
    selects no row (``None``: no measure is guessed, enforcement.md §3.6 "from the local list, not code").

    >>> table_grade("引领性"), table_grade("非引领性"), table_grade("Ｂ－"), table_grade("未分级"), table_grade("E")
    ('leading', 'non_leading', 'B-', 'D', None)
    """
    code = normalise_grade(grade)
    return UNRATED_AS if code == "unrated" else code


def xinjiang_cement_window(season_year: int, target_id: str, doc_id: str = "") -> StaggerWindow:
    """Cement staggered window in Xinjiang: 1 Nov ``season_year`` – 31 Mar next year, Beijing days [std]."""
    return StaggerWindow(
        target_id, day_start_utc(date(season_year, 11, 1)), day_start_utc(date(season_year + 1, 4, 1)), doc_id
    )


def baseline_from(
    baseline_id: str,
    *,
    eia_daily: float | None,
    permit_daily: float | None,
    prev_year_daily_mean: float | None,
    kwh_per_unit: float | None = None,
    unit: str = "t/d",
) -> Baseline:
    """Baseline = min(EIA daily capacity, permit daily capacity, previous-year daily mean), optionally converted
    to production kWh/day by a fitted kWh per unit; the derivation text is kept with it."""
    cands = {"eia": eia_daily, "permit": permit_daily, "prev_year": prev_year_daily_mean}
    known = {k: v for k, v in cands.items() if v is not None}
    if not known:
        raise ValueError(f"baseline {baseline_id}: no capacity or production figure given")
    src = min(known, key=lambda k: known[k])
    value = known[src]
    deriv = f"min({', '.join(f'{k}={v:g}' for k, v in known.items())}) = {src} {value:g} {unit}"
    if kwh_per_unit:
        deriv += f"; × {kwh_per_unit:g} kWh/unit"
        return Baseline(baseline_id, value * kwh_per_unit, "kWh/d", "production_kwh", deriv)
    return Baseline(baseline_id, value, unit, "production", deriv)


def grade_of(plans: PlanSet, enterprise_id: str, on: date) -> EnterpriseGrade | None:
    for g in plans.grades:
        if g.enterprise_id != enterprise_id:
            continue
        if (g.valid_from is None or g.valid_from <= on) and (g.valid_to is None or on <= g.valid_to):
            return g
    return None


def measures_for(plans: PlanSet, enterprise_id: str, level: str, on: date, order: Order | None = None) -> list[Measure]:
    """The enterprise's measures at ``level`` under ``order`` (enforcement.md §3.6; forecast.md §3.10).

    In this order: its own ``measure`` entries for the level; else, when the enterprise is on the emergency-reduction
    list frozen for ``order`` (``PlanSet.listed``), exactly that list's measures (possibly none: a list saying
    自主减排 is not overruled by the grade table), never those of another order's or an older version's list; else
    its industry's grade table (:func:`industry_table`) at its grade (:func:`table_grade`: 引领性, 非引领性 and B-
    have rows of their own). ``order`` ``None`` (or without a key) reads no list.
    """
    own = [m for m in plans.measures if m.enterprise_id == enterprise_id and m.level == level and not m.order_key]
    if own:
        return own
    if order is not None and order.key and (order.key, enterprise_id) in plans.listed:
        return [
            m
            for m in plans.measures
            if m.order_key == order.key and m.enterprise_id == enterprise_id and m.level == level
        ]
    g = grade_of(plans, enterprise_id, on)
    table = industry_table(g.industry) if g is not None else None
    grade = table_grade(g.grade) if g is not None else None
    if table is None or grade is None:
        return []
    return [Measure(enterprise_id, level, action, value) for action, value in table.get((grade, level), ())]


def order_scope(area_code: str | None, place_kinds: Mapping[str, str]) -> frozenset[str] | None:
    """The ``area_codes`` of an order issued for ``area_code`` (``place_kinds``: place code → kind).

    Mirrors the enterprises the warning's emergency-reduction list was built for (forecast.md §3.10
    "Activation", ``bogda.forecast.emergency.enterprises_of_area``), so that enforcement verifies exactly the
    enterprises that were given measures: no code, the prefecture's code or a code missing from the place table
    binds every enterprise (``None``); an industrial park's code (kind ``park``) binds the enterprises inside the park
    (:attr:`PlanSet.parks`), whatever their county; any other place binds the enterprises whose county has that code
    (a county code: that county's enterprises; a township code binds none, as its list is empty).

    >>> kinds = {"652300": "prefecture", "652323": "county", "652300-ZD": "park"}
    >>> order_scope("652323", kinds), order_scope("652300", kinds), order_scope(None, kinds)
    (frozenset({'652323'}), None, None)
    >>> order_scope("652300-ZD", kinds)
    frozenset({'652300-ZD'})
    """
    if not area_code or place_kinds.get(area_code, "prefecture") == "prefecture":
        return None
    # county and park codes are both place codes (unique in the place table), so one set of codes scopes either
    return frozenset({area_code})


def order_applies(order: Order, county: str | None, parks: frozenset[str] = frozenset()) -> bool:
    """Whether ``order`` binds an enterprise of ``county`` (its county code, ``None`` if unknown) inside the
    industrial ``parks`` (their codes, :attr:`PlanSet.parks`).

    An order binds the enterprise when its area is the enterprise's county *or* one of its parks (a park's warning
    binds a park enterprise of any county; a county's warning binds it too, as the county's list holds it). An
    enterprise whose county is unknown (site without a place, or a place outside every county) and in no park is
    bound only by orders for the whole prefecture: it was on no county's emergency-reduction list, and a county's
    order must not raise clues (E04, E05, P02, P03) against an enterprise it may not concern.

    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> o = Order("red", t, t + timedelta(days=1), area_codes=frozenset({"652323"}))
    >>> order_applies(o, "652323"), order_applies(o, "652302"), order_applies(o, None)
    (True, False, False)
    >>> zd = Order("red", t, t + timedelta(days=1), area_codes=frozenset({"652300-ZD"}))
    >>> order_applies(zd, "652327", frozenset({"652300-ZD"})), order_applies(zd, "652302")
    (True, False)
    """
    if order.area_codes is None:
        return True
    return (county is not None and county in order.area_codes) or not parks.isdisjoint(order.area_codes)


def orders_for(plans: PlanSet, enterprise_id: str) -> list[Order]:
    """The orders binding ``enterprise_id``: every order whose area takes in the enterprise's county or one of the
    industrial parks it lies in (:func:`order_applies`)."""
    county = plans.county.get(enterprise_id)
    parks = plans.parks.get(enterprise_id, frozenset())
    return [o for o in plans.orders if order_applies(o, county, parks)]


def active_measures(plans: PlanSet, enterprise_id: str) -> list[tuple[Order, Measure]]:
    """Every (order, measure) pair applying to ``enterprise_id`` (orders activate measures by grade and level; each
    order reads its own emergency list, :func:`measures_for`).

    Only the orders of the enterprise's area count (:func:`orders_for`): a county's order does not bind the
    enterprises of the other counties (forecast.md §3.10), whatever their grade table says.
    """
    out = []
    for o in orders_for(plans, enterprise_id):
        on = o.issued_at.astimezone(UTC).date()
        out += [(o, m) for m in measures_for(plans, enterprise_id, o.level, on, o)]
    return out


# ------------------------------------------------------------------------------------------ verification
def _span(ts: np.ndarray, start: datetime, end: datetime) -> tuple[int, int]:
    t = np.asarray(ts).astype("datetime64[us]")
    a = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us")
    b = np.datetime64(end.astimezone(UTC).replace(tzinfo=None), "us")
    return int(np.searchsorted(t, a)), int(np.searchsorted(t, b))


def stop_breach(
    p: np.ndarray,
    state: np.ndarray,
    idle_hi: float,
    subj: Subject,
    params: Params,
    *,
    order: Order,
    ramp_h: float = 0.0,
) -> list[Hit]:
    """E04: after the ramp, the proxy above the learned idle band ≥ 1 h (per Beijing day) in a stop window.

    Breach intervals are those above the idle band (P95 of OFF/STANDBY power) *and* in state ON: a stopped plant
    keeps residual load, and the idle band's own top 5 % must not read as production. S1 for a red order, else S2.
    """
    a, b = _span(subj.ts, order.issued_at + timedelta(hours=ramp_h), order.lifted_at)
    if b <= a:
        return []
    pp = np.asarray(p[a:b], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        over = (pp > idle_hi) & (np.asarray(state[a:b]) == ON)
    days = subj.days(len(p))[a:b]
    ds, de = _bounds(days)
    c = np.concatenate(([0], np.cumsum(over)))
    hours = (c[de + 1] - c[ds]) * subj.step_s / 3600
    sev = "S1" if order.level == "red" else "S2"
    return [
        subj.hit(
            "E04",
            params,
            a + int(ds[k]),
            a + int(de[k]),
            subject_kind="meter",
            severity=sev,
            metrics={
                "on_hours": float(hours[k]),
                "idle_band_hi_kw": idle_hi,
                "order_level": order.level,
                "doc_id": order.doc_id,
                "ramp_h": ramp_h,
                "energy_kwh": float(np.nansum(pp[ds[k] : de[k] + 1]) * subj.step_s / 3600),
            },
        )
        for k in np.flatnonzero(hours >= params["e04.min_hours"])
    ]


def cap_breach(
    p: np.ndarray,
    subj: Subject,
    params: Params,
    *,
    order: Order,
    allowed_ratio: float,
    baseline: Baseline,
) -> list[Hit]:
    """E05: daily production energy > allowed_ratio × baseline × (1 + ``cap.tolerance``) in an order window.

    Only whole Beijing days inside the window are judged (a partial day cannot be compared with a daily cap).
    """
    a, b = _span(subj.ts, order.issued_at, order.lifted_at)
    if b <= a:
        return []
    days = subj.days(len(p))[a:b]
    ds, de = _bounds(days)
    kwh = np.nan_to_num(np.asarray(p[a:b], dtype=np.float64)) * subj.step_s / 3600
    daily = np.add.reduceat(kwh, ds)
    full = (de - ds + 1) == subj.per_day
    cap = allowed_ratio * baseline.value * (1 + params["cap.tolerance"])
    return [
        subj.hit(
            "E05",
            params,
            a + int(ds[k]),
            a + int(de[k]),
            subject_kind="meter",
            metrics={
                "daily_kwh": daily[k],
                "cap_kwh": cap,
                "allowed_ratio": allowed_ratio,
                "baseline": baseline.value,
                "baseline_derivation": baseline.derivation,
                "doc_id": order.doc_id,
            },
        )
        for k in np.flatnonzero(full & (daily > cap))
    ]


def lines_breach(
    line_states: dict[str, np.ndarray], subj: Subject, params: Params, *, order: Order, allowed: int
) -> list[Hit]:
    """E05 (stop_lines): more production lines ON than allowed for ≥ 1 h in the order window."""
    if not line_states:
        return []
    a, b = _span(subj.ts, order.issued_at, order.lifted_at)
    on = np.sum([np.asarray(s[a:b]) == ON for s in line_states.values()], axis=0)
    from bogda.enforcement import runs as rk

    need = max(1, math.ceil(3600 / subj.step_s))
    return [
        subj.hit(
            "E05",
            params,
            a + int(s),
            a + int(e),
            subject_kind="enterprise",
            metrics={
                "reason": "lines_on",
                "max_lines_on": int(on[s : e + 1].max()),
                "allowed": allowed,
                "doc_id": order.doc_id,
            },
        )
        for s, e in zip(*rk.long_runs(on > allowed, need), strict=True)
    ]


def staggered_production(state: np.ndarray, subj: Subject, params: Params, *, window: StaggerWindow) -> list[Hit]:
    """P01: running days (≥ 1 h ON) inside a staggered-production window: one hit per window, days listed."""
    a, b = _span(subj.ts, window.start, window.end)
    if b <= a:
        return []
    on = np.asarray(state[a:b]) == ON
    days = subj.days(len(state))[a:b]
    ds, de = _bounds(days)
    c = np.concatenate(([0], np.cumsum(on)))
    hours = (c[de + 1] - c[ds]) * subj.step_s / 3600
    running = hours >= params["p01.min_on_hours"]
    if not running.any():
        return []
    idx = np.flatnonzero(running)
    return [
        subj.hit(
            "P01",
            params,
            a + int(ds[idx[0]]),
            a + int(de[idx[-1]]),
            subject_kind="meter",
            metrics={
                "running_days": int(running.sum()),
                "window_days": len(ds),
                "doc_id": window.doc_id,
                "window_start": window.start.astimezone(UTC).isoformat(),
                "on_hours": float(hours.sum()),
            },
        )
    ]


# ------------------------------------------------------------------------------------- coking (P02)
@dataclass
class CokeBattery:
    """A coke-oven battery with its pushes (from the pusher schedule or the DCS log) as plain arrays.

    ``coking_h`` is the design coking time (``None``: unknown — only days under an ``extend_coking_h`` order are
    judged); ``dedust_meter`` the meter code of the pushing dust-collection station (推焦除尘地面站).
    """

    enterprise_id: str
    battery: str
    ovens: int
    chamber_height_m: float | None = None
    coking_h: float | None = None
    dedust_meter: str | None = None
    pusher_meter: str | None = None
    push_source: str = "records"  # records (schedule / DCS log) | signature (pusher power)
    push_ts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="datetime64[us]"))
    push_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    push_ovens: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))


def extended_coking_h(battery: CokeBattery, measure_value: float | None, params: Params) -> float:
    """Coking time required under an ``extend_coking_h`` measure: its value, else by chamber height (28 h for
    chambers ≥ 6 m, 36 h below; local example, enforcement.md §3.6). Unknown height → the longer time."""
    if measure_value is not None:
        return float(measure_value)
    tall = battery.chamber_height_m is not None and battery.chamber_height_m >= params["p02.tall_chamber_m"]
    return float(params["p02.extend_h_tall"] if tall else params["p02.extend_h_short"])


def push_capacity(
    day_starts: np.ndarray, ovens: int, design_h: float | None, extended: list[tuple[datetime, datetime, float]]
) -> np.ndarray:
    """Pushes a battery may make on each Beijing day: ovens × Σ over the day's hours of 1 / coking_h(hour).

    ``coking_h`` is the design time, raised to the extended time in the hours an order requires it (an order
    covering part of a day lowers that day's capacity in proportion). A day with an hour of unknown coking time
    (no design time and no order) is NaN — not judged. A constant coking time gives ovens × 24 / coking_h.
    """
    t = np.asarray(day_starts).astype("datetime64[us]")
    hours = t[:, None] + np.arange(24)[None, :] * np.timedelta64(3600, "s")
    ch = np.full(hours.shape, np.nan if design_h is None else float(design_h))
    for a, b, h in extended:
        lo = np.datetime64(a.astimezone(UTC).replace(tzinfo=None), "us")
        hi = np.datetime64(b.astimezone(UTC).replace(tzinfo=None), "us")
        inside = (hours >= lo) & (hours < hi)
        ch = np.where(inside, np.fmax(ch, h), ch)  # fmax: NaN (unknown design) → the order's time
    return ovens * np.sum(1.0 / ch, axis=1)


def coking_time(
    pushes_per_day: np.ndarray,
    subj: Subject,
    params: Params,
    *,
    ovens: int,
    coking_h: float | None = None,
    allowed: np.ndarray | None = None,
    battery: str | None = None,
    push_source: str = "records",
) -> list[Hit]:
    """P02: pushes/day > ovens × 24 / coking_h (or the per-day ``allowed`` of :func:`push_capacity`), consecutive
    days merged into one hit. ``subj`` has one row per Beijing day (``step_s`` 86400)."""
    x = np.asarray(pushes_per_day, dtype=np.float64)
    if allowed is None:
        if coking_h is None:
            raise ValueError("coking_time needs coking_h or allowed")
        allowed = np.full(len(x), ovens * 24.0 / coking_h)
    cap = np.asarray(allowed, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        over = x > cap + 1e-9  # capacity is a float; a push count equal to it complies
    from bogda.enforcement import runs as rk

    return [
        subj.hit(
            "P02",
            params,
            int(a),
            int(b),
            subject_kind="enterprise",
            channel=battery,
            metrics={
                "reason": "coking_time",
                "battery": battery,
                "ovens": ovens,
                "days": int(b - a + 1),
                "max_pushes": float(np.max(x[a : b + 1])),
                "pushes": [float(v) for v in x[a : b + 1]],
                "allowed": [round(float(v), 2) for v in cap[a : b + 1]],
                "excess_pushes": float(np.sum(x[a : b + 1] - cap[a : b + 1])),
                "coking_h": coking_h,
                "push_source": push_source,
            },
        )
        for a, b in zip(*rk.runs(over), strict=True)
    ]


def pushes_from_power(ts: np.ndarray, p: np.ndarray, t_on: float, step_s: int, params: Params) -> np.ndarray:
    """Push start times from the pusher machine's power (P02 "signature" input, enforcement.md §4).

    The pusher draws power only while it pushes a charge out of an oven: each run of intervals at or above ``t_on``
    (the meter's learned ON threshold, no debounce — a push lasts minutes) whose length is within
    [``p02.push_min_minutes``, ``p02.push_max_minutes``] is one push; longer runs (travel, maintenance) are not
    counted. Needs minute data: at 15-min spacing several pushes share an interval.
    """
    from bogda.enforcement import runs as rk

    x = np.asarray(p, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        hi = x >= t_on
    s, e = rk.runs(hi)
    minutes = (e - s + 1) * step_s / 60.0
    ok = (minutes >= params["p02.push_min_minutes"]) & (minutes <= params["p02.push_max_minutes"])
    return np.asarray(ts).astype("datetime64[us]")[s[ok]]


def pushes_without_dedust(
    push_ts: np.ndarray,
    meter_ts: np.ndarray,
    meter_state: np.ndarray,
    meter_step_s: int,
    subj: Subject,
    params: Params,
    *,
    battery: str,
    meter_id: str,
) -> list[Hit]:
    """P02 (dust collection): pushes while the pushing dust-collection station's meter is OFF (data present).

    Each push is judged by the state of the meter interval containing it; NODATA is never OFF. A Beijing day with
    ≥ ``p02.min_undedusted`` such pushes fires; consecutive days merge. ``subj`` is the battery's day axis.
    """
    pt = np.asarray(push_ts).astype("datetime64[us]")
    mt = np.asarray(meter_ts).astype("datetime64[us]")
    if len(pt) == 0 or len(mt) == 0 or subj.ts is None:
        return []
    from bogda.enforcement import runs as rk
    from bogda.enforcement.power import OFF

    pos = np.searchsorted(mt, pt, side="right") - 1
    inside = (pos >= 0) & (pt < mt[np.maximum(pos, 0)] + np.timedelta64(meter_step_s, "s"))
    st = np.asarray(meter_state)
    off = inside & (st[np.maximum(pos, 0)] == OFF)
    days = np.asarray(subj.ts).astype("datetime64[us]")
    day_of = np.searchsorted(days, pt, side="right") - 1
    ok = (day_of >= 0) & (day_of < len(days))
    count = np.bincount(day_of[off & ok], minlength=len(days))[: len(days)]
    fire = count >= params["p02.min_undedusted"]
    hits = []
    for a, b in zip(*rk.runs(fire), strict=True):
        sel = off & ok & (day_of >= a) & (day_of <= b)
        hits.append(
            subj.hit(
                "P02",
                params,
                int(a),
                int(b),
                subject_kind="enterprise",
                channel=battery,
                metrics={
                    "reason": "push_without_dedust",
                    "battery": battery,
                    "dedust_meter": meter_id,
                    "pushes_without_dedust": int(sel.sum()),
                    "push_times": [str(t) + "Z" for t in pt[sel][:50]],
                },
            )
        )
    return hits


# ------------------------------------------------------------------------------------ transport (P03)
STAGES = ("0", "I", "II", "III", "IV", "V", "VI")
"""China vehicle emission stages (国0 … 国六); the index is the stage number."""


@dataclass
class GateLog:
    """An enterprise's gate records (sorted by time) as plain arrays; stages are :data:`STAGES` values."""

    enterprise_id: str
    ts: np.ndarray
    plate: np.ndarray
    stage: np.ndarray
    vehicle_class: np.ndarray
    fuel: np.ndarray
    direction: np.ndarray
    record_ids: np.ndarray


def banned_entries(log: GateLog, params: Params) -> np.ndarray:
    """Heavy trucks entering with a banned emission stage (≤ ``p03.max_banned_stage``, National IV by default);
    electric trucks are never banned."""
    rank = np.array([STAGES.index(s) if s in STAGES else 99 for s in log.stage], dtype=np.int64)
    return (
        (np.asarray(log.vehicle_class, dtype=object) == "heavy")
        & (np.asarray(log.direction, dtype=object) == "in")
        & (np.asarray(log.fuel, dtype=object) != "electric")
        & (rank <= params["p03.max_banned_stage"])
    )


def transport_ban(
    gate_ts: np.ndarray,
    gate_stage: np.ndarray,
    subj: Subject,
    params: Params,
    *,
    order: Order,
    banned_stages: tuple[str, ...] | None = None,
    banned: np.ndarray | None = None,
    plates: np.ndarray | None = None,
) -> list[Hit]:
    """P03: banned-stage heavy trucks entering during the warning; one hit per Beijing day with entries.

    ``banned`` (from :func:`banned_entries`) marks the banned records; without it, a record is banned when its
    stage is in ``banned_stages`` (default: National IV or older). ``subj`` is the gate log's axis (one row per
    record); the hit spans the day's first to last banned entry.
    """
    t = np.asarray(gate_ts).astype("datetime64[us]")
    a = np.datetime64(order.issued_at.astimezone(UTC).replace(tzinfo=None), "us")
    b = np.datetime64(order.lifted_at.astimezone(UTC).replace(tzinfo=None), "us")
    if banned is None:
        stages = banned_stages or STAGES[: params["p03.max_banned_stage"] + 1]
        banned = np.isin(np.asarray(gate_stage, dtype=object), stages)
    bad = (t >= a) & (t < b) & np.asarray(banned, dtype=bool)
    idx = np.flatnonzero(bad)
    if len(idx) == 0:
        return []
    days = subj.days(len(t))[idx]
    hits = []
    for d in np.unique(days):
        k = idx[days == d]
        hits.append(
            subj.hit(
                "P03",
                params,
                int(k[0]),
                int(k[-1]),
                subject_kind="enterprise",
                channel="gate",
                metrics={
                    "entries": len(k),
                    "stages": sorted({str(gate_stage[i]) for i in k}),
                    "plates": [str(plates[i]) for i in k[:50]] if plates is not None else [],
                    "record_rows": [int(i) for i in k[:200]],
                    "order_level": order.level,
                    "doc_id": order.doc_id,
                },
            )
        )
    return hits
