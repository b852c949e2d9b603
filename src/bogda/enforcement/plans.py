"""Production plans: staggered production and emergency measures under a warning (enforcement.md §3.6).

Plans are data (the ``plan`` records of architecture §4): grades, measures, orders, stagger windows, baselines.
Verification runs on electricity proxies (production meter power and state) — E04 stop-order breach,
E05 cap breach, P01 staggered production, P02 coking time, P03 transport ban.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from bogda.enforcement.detectors import Subject, _bounds
from bogda.enforcement.power import ON
from bogda.enforcement.rules import Hit, Params
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
    """One emergency-reduction action of an enterprise at a warning level."""

    enterprise_id: str
    level: str
    action: str
    value: float | None = None
    target: str = ""  # meter or line id the action applies to ("" = the enterprise's production meters)
    baseline_id: str | None = None


@dataclass(frozen=True)
class Order:
    """An issued warning (forecast.md §4) or an order entered by hand: ``[issued_at, lifted_at)`` UTC."""

    level: str
    issued_at: datetime
    lifted_at: datetime
    doc_id: str = ""
    source: str = "warning"  # warning | manual


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


CEMENT_CLINKER: dict[tuple[str, str], tuple[tuple[str, float | None], ...]] = {
    ("A", "yellow"): (),
    ("A", "orange"): (),
    ("A", "red"): (),
    ("B", "yellow"): (("transport_ban", None),),
    ("B", "orange"): (("cap_ratio", 0.8),),
    ("B", "red"): (("stop", None),),
    ("C", "yellow"): (("stop_lines", 0.5),),
    ("C", "orange"): (("stop", None),),
    ("C", "red"): (("stop", None),),
    ("D", "yellow"): (("stop", None), ("transport_ban", None)),
    ("D", "orange"): (("stop", None), ("transport_ban", None)),
    ("D", "red"): (("stop", None), ("transport_ban", None)),
}
"""Cement clinker measures by grade and level [std] (A self-determined; B no National-IV-or-older heavy trucks /
reduce 20 % / stop; C stop 50 % of lines / stop; D stop and no road transport). ``stop_lines`` value = share
of lines to stop; ``cap_ratio`` = allowed production ratio."""

INDUSTRY_TABLES = {"cement_clinker": CEMENT_CLINKER}


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


def measures_for(plans: PlanSet, enterprise_id: str, level: str, on: date) -> list[Measure]:
    """The enterprise's measures at ``level``: its own list entries, else its industry's table by grade."""
    own = [m for m in plans.measures if m.enterprise_id == enterprise_id and m.level == level]
    if own:
        return own
    g = grade_of(plans, enterprise_id, on)
    if g is None or g.industry not in INDUSTRY_TABLES:
        return []
    rows = INDUSTRY_TABLES[g.industry].get((g.grade, level), ())
    return [Measure(enterprise_id, level, action, value) for action, value in rows]


def active_measures(plans: PlanSet, enterprise_id: str) -> list[tuple[Order, Measure]]:
    """Every (order, measure) pair applying to ``enterprise_id`` (orders activate measures by grade and level)."""
    out = []
    for o in plans.orders:
        on = o.issued_at.astimezone(UTC).date()
        out += [(o, m) for m in measures_for(plans, enterprise_id, o.level, on)]
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


def coking_time(pushes_per_day: np.ndarray, subj: Subject, params: Params, *, ovens: int, coking_h: float) -> list[Hit]:
    """P02: pushes/day > ovens × 24 / coking_h (coking time 28 h for chambers ≥ 6 m, 36 h below, local example)."""
    allowed = ovens * 24.0 / coking_h
    x = np.asarray(pushes_per_day, dtype=np.float64)
    return [
        subj.hit(
            "P02",
            params,
            int(k),
            int(k),
            subject_kind="enterprise",
            metrics={"pushes": x[k], "allowed": allowed, "coking_h": coking_h, "ovens": ovens},
        )
        for k in np.flatnonzero(x > allowed)
    ]


def transport_ban(
    gate_ts: np.ndarray,
    gate_stage: np.ndarray,
    subj: Subject,
    params: Params,
    *,
    order: Order,
    banned_stages: tuple[str, ...] = ("I", "II", "III", "IV"),
) -> list[Hit]:
    """P03: heavy trucks of a banned emission stage entering during the warning (one hit per gate record)."""
    t = np.asarray(gate_ts).astype("datetime64[us]")
    a = np.datetime64(order.issued_at.astimezone(UTC).replace(tzinfo=None), "us")
    b = np.datetime64(order.lifted_at.astimezone(UTC).replace(tzinfo=None), "us")
    bad = (t >= a) & (t < b) & np.isin(np.asarray(gate_stage, dtype=object), banned_stages)
    return [
        subj.hit(
            "P03",
            params,
            int(k),
            int(k),
            subject_kind="enterprise",
            metrics={"stage": str(gate_stage[k]), "doc_id": order.doc_id},
        )
        for k in np.flatnonzero(bad)
    ]
