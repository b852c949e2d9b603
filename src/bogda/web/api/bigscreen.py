"""``/api/v1/bigscreen``: the command-centre big screen's figures (issue 11 §1–2), restricted to the user's area.

A face (architecture rule 4): it reads the services' figures — station status, area AQI, the problem list, tasks,
fire events, warnings — and renders them for the wall; it adds no analysis of its own.

Area filtering (issue 11, task 4): a user whose scope is a county (a county sub-bureau) sees only that county's
stations, areas, findings, tasks, fire events and warnings — here, in the API, not only on the page; the page calls
the same functions with the same :class:`ScreenScope`. A user who sees every place (an administrator, or a
prefecture user whose scope covers the whole place tree) gets the unfiltered figures.

Replay (issue 11 §2): :func:`replay_bundle` holds the last 72 hours at hourly steps — station AQI (and wind where
stations measure it), area AQI, findings, fire events and tasks with the times they opened and closed — and
:func:`replay_frame` cuts the state at one step out of it, so a slider can scrub without a query per step.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import and_, func, or_, select

from bogda.findings import LIVE
from bogda.grid.states import OPEN_STATES
from bogda.monitoring.status import StatusCache
from bogda.standards.levels import categories
from bogda.store import Store
from bogda.store.schema import aqi_daily, aqi_hourly, finding, fire_event, latest, place, series, site, task
from bogda.store.schema import observation as _obs
from bogda.timeutil import BEIJING, beijing_date, day_start_utc, epoch_seconds, floor_to, now_utc
from bogda.web.api.common import ApiError, stamp, store_of
from bogda.web.auth import Principal, require_user
from bogda.web.public import active_warnings, area_aqi

router = APIRouter(prefix="/bigscreen", tags=["bigscreen"])

MAX_POINTS = 1000
"""Open objects returned per layer (the newest first); the counts include all of them."""
REPLAY_HOURS = 72
"""Length of the replay window [h] (issue 11 §2)."""
FIRE_LINGER_H = 12
"""A fire event stays on the replayed map this long after its last detection [h] (a satellite sees a place only a
few times a day, so an event is "burning" between overpasses)."""
WIND_SPEED = "a01007"
WIND_DIRECTION = "a01008"
"""HJ 212-2017 codes of wind speed [m/s] and wind direction [° from north]."""
GREY = "#BFBFBF"
"""Colour of a station without a value (as :mod:`bogda.monitoring.status`)."""


# --- who sees what --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenScope:
    """What one user's big screen may show.

    Attributes
    ----------
    places : frozenset of int or None
        Visible place ids; ``None`` = every place (also findings and tasks without a place).
    codes : frozenset of str or None
        Codes of the visible prefecture and county areas (area AQI, warnings, forecasts, fire events by county).
    sites : frozenset of int or None
        Visible air stations (site ids).
    headline : str or None
        The area whose AQI and targets lead the screen: the prefecture, or the user's county.
    """

    places: frozenset[int] | None
    codes: frozenset[str] | None
    sites: frozenset[int] | None
    headline: str | None

    @property
    def unrestricted(self) -> bool:
        return self.places is None

    @property
    def key(self) -> int:
        """Cache key: one computation serves every screen of the same scope."""
        return 0 if self.places is None else hash(self.places)

    def sees_area(self, code: str | None) -> bool:
        return self.codes is None or (code is not None and code in self.codes)


_scopes: dict[tuple[int, frozenset[int] | None], tuple[float, ScreenScope]] = {}
SCOPE_TTL_S = 60.0


def scope_for(store: Store, places: frozenset[int] | None) -> ScreenScope:
    """The :class:`ScreenScope` of a user who sees ``places`` (:attr:`bogda.web.auth.Principal.places`).

    A scope that covers every place in the registry is unrestricted. Cached for :data:`SCOPE_TTL_S`.
    """
    hit = _scopes.get((id(store), places))
    if hit is not None and time.monotonic() - hit[0] < SCOPE_TTL_S:
        return hit[1]
    with store.engine.connect() as conn:
        rows = conn.execute(select(place.c.id, place.c.code, place.c.kind, place.c.level)).all()
        stations = conn.execute(select(site.c.id, site.c.place_id).where(site.c.kind == "air_station")).all()
    areas = [(r.id, r.code, r.kind, r.level) for r in rows if r.kind in ("prefecture", "county")]
    pref = next((code for _, code, kind, _ in sorted(areas, key=lambda a: a[3]) if kind == "prefecture"), None)
    if places is None or {r.id for r in rows} <= places:
        out = ScreenScope(None, None, None, pref)
    else:
        codes = frozenset(code for pid, code, _, _ in areas if pid in places)
        top = sorted((level, code) for pid, code, _, level in areas if pid in places)
        out = ScreenScope(
            places,
            codes,
            frozenset(sid for sid, pid in stations if pid in places),
            top[0][1] if top else None,
        )
    _scopes[(id(store), places)] = (time.monotonic(), out)
    return out


def scope_of_user(store: Store, who: Principal) -> ScreenScope:
    return scope_for(store, who.places)


# --- live figures ---------------------------------------------------------------------------------------------

_status: dict[int, StatusCache] = {}


def _in_scope(column: Any, scope: ScreenScope) -> Any:
    """``column IN places`` (true when unrestricted)."""
    return column.in_(sorted(scope.places)) if scope.places is not None else True


def station_records(store: Store, scope: ScreenScope) -> list[dict[str, Any]]:
    """:func:`bogda.monitoring.status.stations_status` records of the stations in scope (cached, see StatusCache)."""
    records, _ = _status.setdefault(id(store), StatusCache(check=1.0)).get(store)
    if scope.sites is None:
        return records
    return [r for r in records if r["site_id"] in scope.sites]


def live_wind(store: Store, scope: ScreenScope, *, now: datetime, max_age_h: int = 3) -> list[dict[str, Any]]:
    """Newest hourly wind (speed [m/s], direction [°]) of each station in scope, at most ``max_age_h`` old."""
    lo = epoch_seconds(now - timedelta(hours=max_age_h))
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(site.c.id, site.c.code, site.c.name, site.c.lon, site.c.lat, series.c.parameter, latest.c.value)
            .join(series, series.c.site_id == site.c.id)
            .join(latest, latest.c.series_id == series.c.id)
            .where(
                site.c.kind == "air_station",
                series.c.parameter.in_((WIND_SPEED, WIND_DIRECTION)),
                series.c.resolution == "hour",
                latest.c.ts >= lo,
                site.c.lon.is_not(None),
            )
        ).all()
    by_site: dict[int, dict[str, Any]] = {}
    for sid, code, name, lon, lat, param, value in rows:
        if scope.sites is not None and sid not in scope.sites:
            continue
        rec = by_site.setdefault(sid, {"code": code, "name": name, "lon": lon, "lat": lat, "ws": None, "wd": None})
        rec["ws" if param == WIND_SPEED else "wd"] = value
    return [r for r in by_site.values() if r["ws"] is not None and r["wd"] is not None]


def today_daily(store: Store, scope: ScreenScope, *, now: datetime) -> dict[str, dict[str, Any]]:
    """Today's daily AQI so far (Beijing day, ``aqi_daily``) of the prefecture and counties in scope: code →
    ``aqi, level, status, good`` (``good`` = AQI ≤ 100, the good-day test of HJ 633; ``None`` without a value).
    While the day runs its row is usually ``partial``: the day is judged on the hours so far."""
    ts = epoch_seconds(day_start_utc(beijing_date(now)))
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                aqi_daily.c.target_code, aqi_daily.c.aqi, aqi_daily.c.level, aqi_daily.c.status, aqi_daily.c.standard
            )
            .where(aqi_daily.c.target_kind.in_(("prefecture", "county")), aqi_daily.c.ts == ts)
            .order_by(aqi_daily.c.standard)
        ).all()
    out: dict[str, dict[str, Any]] = {}
    for code, aqi, level, status, _std in rows:  # the newer standard wins when both are stored
        if scope.sees_area(code):
            out[code] = {"aqi": aqi, "level": level, "status": status, "good": None if aqi is None else aqi <= 100}
    return out


def screen_figures(store: Store, scope: ScreenScope | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the big screen shows live, restricted to ``scope`` (default: everything).

    Returns
    -------
    dict
        ``stations`` (status records), ``areas`` (:func:`bogda.web.public.area_aqi`), ``findings_by_kind``,
        ``finding_points``, ``tasks_by_state``, ``tasks_overdue``, ``task_points``, ``fire_points``, ``wind``,
        ``warnings``, ``today`` (:func:`today_daily`), ``non_site`` (share dict; ``None`` for an area-restricted
        user: cases carry no area), ``headline`` (area code) and ``generated_at``.
    """
    from bogda.enforcement.casework import non_site_share

    scope = scope or ScreenScope(None, None, None, None)
    now = now or now_utc()
    records = station_records(store, scope)
    f_scope = _in_scope(finding.c.place_id, scope)
    t_scope = _in_scope(task.c.place_id, scope)
    e_scope = (
        or_(_in_scope(fire_event.c.place_id, scope), fire_event.c.county_code.in_(sorted(scope.codes or ())))
        if scope.places is not None
        else True
    )
    with store.engine.connect() as conn:
        by_kind = dict(
            conn.execute(
                select(finding.c.kind, func.count()).where(finding.c.status.in_(LIVE), f_scope).group_by(finding.c.kind)
            ).all()
        )
        f_pts = conn.execute(
            select(
                finding.c.id,
                finding.c.kind,
                finding.c.severity,
                finding.c.title,
                finding.c.lon,
                finding.c.lat,
                finding.c.detected_at,
            )
            .where(finding.c.status.in_(LIVE), finding.c.lon.is_not(None), f_scope)
            .order_by(finding.c.detected_at.desc())
            .limit(MAX_POINTS)
        ).all()
        by_state = dict(
            conn.execute(
                select(task.c.state, func.count()).where(task.c.state.in_(OPEN_STATES), t_scope).group_by(task.c.state)
            ).all()
        )
        overdue = conn.execute(
            select(func.count()).where(task.c.state.in_(OPEN_STATES), task.c.overdue.is_(True), t_scope)
        ).scalar_one()
        t_pts = conn.execute(
            select(task.c.id, task.c.state, task.c.title, task.c.lon, task.c.lat, task.c.overdue)
            .where(task.c.state.in_(OPEN_STATES), task.c.lon.is_not(None), t_scope)
            .order_by(task.c.created_at.desc())
            .limit(MAX_POINTS)
        ).all()
        fires = conn.execute(
            select(fire_event.c.event_id, fire_event.c.lon, fire_event.c.lat, fire_event.c.max_frp)
            .where(fire_event.c.status == "open", fire_event.c.lon.is_not(None), e_scope)
            .order_by(fire_event.c.first_seen_utc.desc())
            .limit(MAX_POINTS)
        ).all()
    year_start = now.astimezone(BEIJING).replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return {
        "generated_at": now,
        "headline": scope.headline,
        "stations": records,
        "areas": [a for a in area_aqi(store, now=now) if scope.sees_area(a["code"])],
        "findings_by_kind": by_kind,
        "finding_points": [dict(r._mapping) for r in f_pts],
        "tasks_by_state": by_state,
        "tasks_overdue": int(overdue),
        "task_points": [dict(r._mapping) for r in t_pts],
        "fire_points": [dict(r._mapping) for r in fires],
        "wind": live_wind(store, scope, now=now),
        "warnings": [w for w in active_warnings(store, now=now) if scope.sees_area(w["area_code"])],
        "today": today_daily(store, scope, now=now),
        "non_site": non_site_share(store, year_start, now).as_dict() if scope.unrestricted else None,
    }


SHARED_S = 2.0
"""How long one computation of the figures serves every open screen of the same scope [s]."""
_shared: dict[tuple[int, int], tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


def shared_figures(store: Store, scope: ScreenScope | None = None) -> dict[str, Any]:
    """:func:`screen_figures`, computed at most once per :data:`SHARED_S` per scope for all open screens."""
    scope = scope or ScreenScope(None, None, None, None)
    key = (id(store), scope.key)
    hit = _shared.get(key)
    if hit is not None and time.monotonic() - hit[0] < SHARED_S:
        return hit[1]
    with _lock:
        hit = _shared.get(key)
        if hit is not None and time.monotonic() - hit[0] < SHARED_S:
            return hit[1]
        figs = screen_figures(store, scope)
        _shared[key] = (time.monotonic(), figs)
        return figs


# --- replay ---------------------------------------------------------------------------------------------------


def _epoch(ts: datetime | None) -> int | None:
    return None if ts is None else epoch_seconds(ts)


def replay_bundle(
    store: Store, scope: ScreenScope | None = None, *, end: datetime | None = None, hours: int = REPLAY_HOURS
) -> dict[str, Any]:
    """The last ``hours`` hours of the screen's objects, at hourly steps, for scrubbing back in time.

    Parameters
    ----------
    end : datetime, optional
        The newest step (UTC; default now), floored to the hour: step ``hours`` is the hour starting there, step 0
        the hour ``hours`` earlier.

    Returns
    -------
    dict
        ``steps`` (hour starts, epoch s UTC, ``hours + 1`` of them); ``stations`` (``code, name, lon, lat, aqi[],
        level[]`` by step, from ``aqi_hourly``); ``wind`` (``code, lon, lat, ws[], wd[]`` from hourly wind
        observations, stations measuring wind only); ``areas`` (``code, kind, aqi[]``); ``findings`` (``id, kind,
        severity, title, lon, lat, t0, t1``: detected, closed (resolved/dismissed) or None); ``fires``
        (``event_id, lon, lat, max_frp, t0, t1``: first seen, last seen + :data:`FIRE_LINGER_H`); ``tasks`` (``id,
        title, lon, lat, t0, t1, due``: created, closed or cancelled, close deadline).
    """
    if not 1 <= hours <= 24 * 14:
        raise ValueError(f"hours must be 1 … 336, not {hours}")
    scope = scope or ScreenScope(None, None, None, None)
    last = floor_to(end or now_utc(), "hour")
    first = last - timedelta(hours=hours)
    steps = [epoch_seconds(first) + 3600 * i for i in range(hours + 1)]
    pos = {t: i for i, t in enumerate(steps)}
    lo, hi = steps[0], steps[-1]
    win_end = last + timedelta(hours=1)
    n = len(steps)
    with store.engine.connect() as conn:
        sites = conn.execute(
            select(site.c.id, site.c.code, site.c.name, site.c.lon, site.c.lat).where(
                site.c.kind == "air_station", site.c.lon.is_not(None)
            )
        ).all()
        sites = [s for s in sites if scope.sites is None or s.id in scope.sites]
        codes = {s.code for s in sites}
        aqi_rows = conn.execute(
            select(
                aqi_hourly.c.target_kind,
                aqi_hourly.c.target_code,
                aqi_hourly.c.ts,
                aqi_hourly.c.aqi,
                aqi_hourly.c.level,
            ).where(
                aqi_hourly.c.target_kind.in_(("station", "county", "prefecture")),
                aqi_hourly.c.ts >= lo,
                aqi_hourly.c.ts <= hi,
            )
        ).all()
        wind_rows = conn.execute(
            select(series.c.site_id, series.c.parameter, _obs.c.ts, _obs.c.value)
            .join(_obs, _obs.c.series_id == series.c.id)
            .where(
                series.c.parameter.in_((WIND_SPEED, WIND_DIRECTION)),
                series.c.resolution == "hour",
                _obs.c.ts >= lo,
                _obs.c.ts <= hi,
            )
        ).all()
        f_rows = conn.execute(
            select(
                finding.c.id,
                finding.c.kind,
                finding.c.severity,
                finding.c.title,
                finding.c.lon,
                finding.c.lat,
                finding.c.detected_at,
                finding.c.status,
                finding.c.status_at,
            ).where(
                finding.c.lon.is_not(None),
                finding.c.detected_at < win_end,
                or_(finding.c.status.in_(LIVE), finding.c.status_at.is_(None), finding.c.status_at >= first),
                _in_scope(finding.c.place_id, scope),
            )
        ).all()
        e_scope = (
            or_(_in_scope(fire_event.c.place_id, scope), fire_event.c.county_code.in_(sorted(scope.codes or ())))
            if scope.places is not None
            else True
        )
        e_rows = conn.execute(
            select(
                fire_event.c.event_id,
                fire_event.c.lon,
                fire_event.c.lat,
                fire_event.c.max_frp,
                fire_event.c.first_seen_utc,
                fire_event.c.last_seen_utc,
            ).where(
                fire_event.c.lon.is_not(None),
                fire_event.c.status != "merged",
                fire_event.c.first_seen_utc < win_end,
                or_(
                    fire_event.c.last_seen_utc.is_(None),
                    fire_event.c.last_seen_utc >= first - timedelta(hours=FIRE_LINGER_H),
                ),
                e_scope,
            )
        ).all()
        t_rows = conn.execute(
            select(
                task.c.id,
                task.c.title,
                task.c.lon,
                task.c.lat,
                task.c.created_at,
                task.c.closed_at,
                task.c.cancelled_at,
                task.c.state,
                task.c.close_due,
            ).where(
                task.c.lon.is_not(None),
                task.c.created_at < win_end,
                or_(
                    and_(task.c.closed_at.is_(None), task.c.cancelled_at.is_(None)),
                    task.c.closed_at >= first,
                    task.c.cancelled_at >= first,
                ),
                _in_scope(task.c.place_id, scope),
            )
        ).all()
    station_aqi: dict[str, list[Any]] = {c: [None] * n for c in codes}
    station_lvl: dict[str, list[Any]] = {c: [None] * n for c in codes}
    area_aqi_: dict[tuple[str, str], list[Any]] = {}
    for kind, code, ts, aqi, level in aqi_rows:
        i = pos.get(int(ts))
        if i is None:
            continue
        if kind == "station":
            if code in station_aqi:
                station_aqi[code][i] = aqi
                station_lvl[code][i] = level
        elif scope.sees_area(code):
            area_aqi_.setdefault((kind, code), [None] * n)[i] = aqi
    visible_ids = {s.id for s in sites}
    wind: dict[int, dict[str, list[Any]]] = defaultdict(lambda: {"ws": [None] * n, "wd": [None] * n})
    for sid, param, ts, value in wind_rows:
        i = pos.get(int(ts))
        if i is not None and sid in visible_ids:
            wind[sid]["ws" if param == WIND_SPEED else "wd"][i] = value
    by_id = {s.id: s for s in sites}
    linger = timedelta(hours=FIRE_LINGER_H)
    return {
        "hours": hours,
        "steps": steps,
        "stations": [
            {
                "code": s.code,
                "name": s.name,
                "lon": s.lon,
                "lat": s.lat,
                "aqi": station_aqi[s.code],
                "level": station_lvl[s.code],
            }
            for s in sorted(sites, key=lambda s: s.code)
        ],
        "wind": [
            {"code": by_id[sid].code, "name": by_id[sid].name, "lon": by_id[sid].lon, "lat": by_id[sid].lat, **w}
            for sid, w in sorted(wind.items())
        ],
        "areas": [
            {"kind": kind, "code": code, "aqi": vals}
            for (kind, code), vals in sorted(area_aqi_.items(), key=lambda x: (x[0][0] != "prefecture", x[0][1]))
        ],
        "findings": [
            {
                "id": r.id,
                "kind": r.kind,
                "severity": r.severity,
                "title": r.title,
                "lon": r.lon,
                "lat": r.lat,
                "t0": _epoch(r.detected_at),
                "t1": _epoch(r.status_at) if r.status in ("resolved", "dismissed") else None,
            }
            for r in f_rows
        ],
        "fires": [
            {
                "event_id": r.event_id,
                "lon": r.lon,
                "lat": r.lat,
                "max_frp": r.max_frp,
                "t0": _epoch(r.first_seen_utc),
                "t1": _epoch(r.last_seen_utc + linger) if r.last_seen_utc is not None else None,
            }
            for r in e_rows
        ],
        "tasks": [
            {
                "id": r.id,
                "title": r.title,
                "lon": r.lon,
                "lat": r.lat,
                "t0": _epoch(r.created_at),
                "t1": _epoch(r.closed_at or r.cancelled_at),
                "due": _epoch(r.close_due),
            }
            for r in t_rows
        ],
    }


def _open_at(t0: int | None, t1: int | None, at: int) -> bool:
    """Open at instant ``at``: opened before it and not closed by then."""
    return t0 is not None and t0 < at and (t1 is None or t1 >= at)


def replay_frame(bundle: dict[str, Any], step: int) -> dict[str, Any]:
    """The screen's state at ``step`` of :func:`replay_bundle`, judged at the end of that hour.

    Returns a dict shaped like :func:`screen_figures` for the map layers (``stations`` with ``aqi``, ``level``,
    ``status``, ``colour``; ``finding_points``, ``task_points``, ``fire_points``, ``wind``) plus ``at`` (the hour
    start, epoch s), ``areas`` (``code, kind, aqi``) and the counts ``findings_open``, ``tasks_open``,
    ``tasks_overdue``, ``fires_burning``.
    """
    steps = bundle["steps"]
    if not 0 <= step < len(steps):
        raise ValueError(f"step must be 0 … {len(steps) - 1}, not {step}")
    at = steps[step] + 3600
    cats = {c.level: c for c in categories()}
    stations = []
    for s in bundle["stations"]:
        aqi, level = s["aqi"][step], s["level"][step]
        cat = cats.get(level) if level is not None else None
        stations.append(
            {
                "code": s["code"],
                "name": s["name"],
                "lon": s["lon"],
                "lat": s["lat"],
                "aqi": aqi,
                "level": level,
                "status": "online" if aqi is not None else "offline",
                "colour": cat.hex if cat is not None and aqi is not None else GREY,
                "category_zh": cat.name_zh if cat else None,
                "category_en": cat.name_en if cat else None,
            }
        )
    findings = [f for f in bundle["findings"] if _open_at(f["t0"], f["t1"], at)]
    findings.sort(key=lambda f: -f["t0"])
    tasks = [
        {**t, "overdue": t["due"] is not None and t["due"] < at, "state": None}
        for t in bundle["tasks"]
        if _open_at(t["t0"], t["t1"], at)
    ]
    tasks.sort(key=lambda t: -t["t0"])
    fires = [e for e in bundle["fires"] if _open_at(e["t0"], e["t1"], at)]
    wind = [
        {
            "code": w["code"],
            "name": w["name"],
            "lon": w["lon"],
            "lat": w["lat"],
            "ws": w["ws"][step],
            "wd": w["wd"][step],
        }
        for w in bundle["wind"]
        if w["ws"][step] is not None and w["wd"][step] is not None
    ]
    return {
        "at": steps[step],
        "stations": stations,
        "areas": [{"kind": a["kind"], "code": a["code"], "aqi": a["aqi"][step]} for a in bundle["areas"]],
        "finding_points": findings[:MAX_POINTS],
        "task_points": tasks[:MAX_POINTS],
        "fire_points": fires[:MAX_POINTS],
        "wind": wind,
        "findings_open": len(findings),
        "tasks_open": len(tasks),
        "tasks_overdue": sum(1 for t in tasks if t["overdue"]),
        "fires_burning": len(fires),
    }


# --- the API --------------------------------------------------------------------------------------------------


def _iso(v: Any) -> Any:
    return stamp(v) if isinstance(v, datetime) else v


@router.get("/figures", summary="The big screen's live figures, restricted to the user's area")
def figures(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    store = store_of(request)
    figs = shared_figures(store, scope_of_user(store, who))
    return {
        "generated_at": stamp(figs["generated_at"]),
        "headline": figs["headline"],
        "stations": figs["stations"],
        "areas": [{k: _iso(v) for k, v in a.items()} for a in figs["areas"]],
        "findings_by_kind": figs["findings_by_kind"],
        "findings": [{k: _iso(v) for k, v in f.items()} for f in figs["finding_points"]],
        "tasks_by_state": figs["tasks_by_state"],
        "tasks_overdue": figs["tasks_overdue"],
        "tasks": figs["task_points"],
        "fires": figs["fire_points"],
        "wind": figs["wind"],
        "warnings": figs["warnings"],
        "today": figs["today"],
        "non_site": figs["non_site"],
    }


@router.get("/replay", summary="The last hours at hourly steps (station AQI, wind, findings, fires, tasks)")
def replay(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    hours: Annotated[int, Query(ge=1, le=336, description="Length of the window [h] (default 72).")] = REPLAY_HOURS,
    step: Annotated[int | None, Query(ge=0, description="Only the state at this step (0 = oldest).")] = None,
) -> dict[str, Any]:
    store = store_of(request)
    bundle = replay_bundle(store, scope_of_user(store, who), hours=hours)
    if step is None:
        return bundle
    if step > hours:
        raise ApiError(422, "step", f"step must be 0 … {hours} for a window of {hours} h, not {step}")
    return replay_frame(bundle, step)
