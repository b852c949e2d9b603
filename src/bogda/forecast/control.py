"""Emission-control state (forecast.md §2 "Emission-control state").

``control_state(area_code, start, end, kind, level, doc_no)`` with kind ``emergency_response`` (level 0–4: none,
blue, yellow, orange, red), ``staggered_production`` or ``special_event``. Nothing is copied: the intervals are
derived each time from

- the ``warning`` records (forecast.md §4): ``issued`` and ``changed`` warnings are responses over their Beijing
  dates ``start_date``..``end_date``, from the moment they were issued (``warning_event``) and at the level of each
  issue/change decision; a ``lifted`` warning counts until its lift; ``proposed`` and ``rejected`` never count;
- the ``plan`` records (enforcement.md §2 "Plans"): active ``stagger_window`` rows are staggered production at the
  place of each enterprise they name (an enterprise row, or every enterprise of the sector); active hand-entered
  ``order`` rows (``source`` ``manual``) are responses at ``attrs.area_code`` or, without one, at the prefecture.
  Orders written from warnings (``source`` ``warning``) are skipped: the warning itself is read;
- the ``control_event`` rows: special events and responses no other record holds, entered by hand.

**Which areas a record reaches.** A record sits at one node of the registry tree (a place, or an air station below
its place). It applies to a forecast target when one contains the other: a prefecture warning reaches its counties
and stations; a staggered window of enterprises in one county reaches that county, the stations in it and the
prefecture above it, never the neighbouring county. Enterprises without a place count at the prefecture (and so
reach every county of it: where they are is unknown).

**Feature rule.** The columns ``control_level`` (max emergency level in force, 0–4), ``staggered`` and
``special_event`` (0/1) are model inputs only when the training window holds ≥ 20 response days (forecast.md §2,
default), and then all three together. A trained bundle remembers it through its feature names (every model set
records them, :class:`bogda.forecast.models.ModelSet`), so a refresh builds the same columns. Responses follow high
forecasts, so what the models learn from them is confounded; they are never an input of the counterfactual
model (forecast.md §3.9).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
from sqlalchemy import select

from bogda.forecast.features import CONTROL_COLUMNS, Panel
from bogda.store import Store
from bogda.store.schema import control_event, enterprise, place, plan, site, warning, warning_event
from bogda.timeutil import beijing_date, day_start_utc, now_utc

KINDS: tuple[str, ...] = ("emergency_response", "staggered_production", "special_event")
"""Kinds of control state (forecast.md §2)."""

LEVELS: dict[str, int] = {"none": 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}
"""Warning colour → emergency level 0–4 (forecast.md §2)."""

COUNTED_STATES: tuple[str, ...] = ("issued", "changed", "lifted")
"""Warning states that were in force at some time; ``proposed`` and ``rejected`` never were."""

MIN_RESPONSE_DAYS = 20
"""A control state is a forecast feature only with ≥ this many response days in the training window (§2, d)."""

TRAIN_DAYS = 3 * 365
"""Training window [days] the rule is judged on: that of :func:`bogda.forecast.operational.train_operational`."""

REFRESH_PAD_DAYS = 9
"""Days past the panel the refresh needs control columns for: 72 h leads and D+7 issued from yesterday (D+8)."""


@dataclass(frozen=True)
class ControlState:
    """One interval ``[start, end)`` (aware UTC) of emission control in force at ``area_code`` (forecast.md §2)."""

    area_code: str
    start: datetime
    end: datetime
    kind: str
    level: int = 0
    doc_no: str = ""


# --------------------------------------------------------------------------------------------------------------
# Pure calculations
# --------------------------------------------------------------------------------------------------------------


def merge_states(states: Iterable[ControlState]) -> list[ControlState]:
    """Merge overlapping or touching intervals per (area, kind); where responses overlap the highest level holds.

    The result is a piecewise timeline: for ``emergency_response`` each piece carries the maximum level in force
    and the document numbers of the records behind it (joined with "; "), so two warnings that overlap give one
    interval up to the moment the level changes.

    >>> t = lambda h: datetime(2026, 1, 1, h, tzinfo=UTC)
    >>> a = ControlState("X", t(0), t(6), "emergency_response", 2, "A")
    >>> b = ControlState("X", t(4), t(9), "emergency_response", 4, "B")
    >>> [(s.start.hour, s.end.hour, s.level, s.doc_no) for s in merge_states([a, b])]
    [(0, 4, 2, 'A'), (4, 9, 4, 'B')]
    """
    groups: dict[tuple[str, str], list[ControlState]] = {}
    for s in states:
        if s.end > s.start:
            groups.setdefault((s.area_code, s.kind), []).append(s)
    out: list[ControlState] = []
    for (area, kind), group in sorted(groups.items()):
        cuts = sorted({s.start for s in group} | {s.end for s in group})
        pieces: list[ControlState] = []
        for a, b in pairwise(cuts):
            live = [s for s in group if s.start < b and s.end > a]
            if not live:
                continue
            level = max(s.level for s in live)
            # the documents behind the piece are those at its level (a lower overlapping response is superseded)
            docs = "; ".join(sorted({s.doc_no for s in live if s.doc_no and s.level == level}))
            prev = pieces[-1] if pieces else None
            if prev is not None and prev.end == a and prev.level == level and prev.doc_no == docs:
                pieces[-1] = ControlState(area, prev.start, b, kind, level, docs)
            else:
                pieces.append(ControlState(area, a, b, kind, level, docs))
        out.extend(pieces)
    return out


def _to64(ts: datetime) -> np.datetime64:
    return np.datetime64(ts.astimezone(UTC).replace(tzinfo=None), "s")


def _columns_over(states: Sequence[ControlState], starts: np.ndarray, width: np.timedelta64) -> dict[str, np.ndarray]:
    """Control columns for bins ``[starts, starts + width)`` (naive UTC ``datetime64``): a state counts in a bin
    when it is in force during any part of it."""
    a = starts.astype("datetime64[s]")
    b = a + width
    level = np.zeros(a.shape)
    stag = np.zeros(a.shape)
    special = np.zeros(a.shape)
    for s in states:
        on = (a < _to64(s.end)) & (b > _to64(s.start))
        if s.kind == "emergency_response":
            level = np.where(on, np.maximum(level, s.level), level)
        elif s.kind == "staggered_production":
            stag[on] = 1.0
        elif s.kind == "special_event":
            special[on] = 1.0
    return {"control_level": level, "staggered": stag, "special_event": special}


def control_columns(states: Sequence[ControlState], hours_utc: np.ndarray) -> dict[str, np.ndarray]:
    """Hourly feature columns of one target (forecast.md §2): ``control_level`` (max emergency level in force,
    0–4), ``staggered`` and ``special_event`` (0/1), for hour starts ``hours_utc`` (naive UTC ``datetime64``).

    A state in force during any part of an hour counts for that hour (an order issued at 14:30 covers hour 14).

    >>> st = [ControlState("X", datetime(2026, 1, 1, 15, 30, tzinfo=UTC), datetime(2026, 1, 1, 17, tzinfo=UTC),
    ...                    "emergency_response", 3)]
    >>> hours = np.arange("2026-01-01T14", "2026-01-01T18", dtype="datetime64[h]")
    >>> control_columns(st, hours)["control_level"].tolist()
    [0.0, 3.0, 3.0, 0.0]
    """
    return _columns_over(states, np.asarray(hours_utc), np.timedelta64(1, "h"))


def daily_control_columns(states: Sequence[ControlState], days: np.ndarray) -> dict[str, np.ndarray]:
    """Daily columns for Beijing dates ``days`` (``datetime64[D]``): the day's max level, any staggering or event.

    A Beijing date runs from 16:00 UTC of the day before (forecast.md §2; bogda.timeutil).
    """
    starts = np.asarray(days, dtype="datetime64[D]").astype("datetime64[s]") - np.timedelta64(8, "h")
    return _columns_over(states, starts, np.timedelta64(1, "D"))


def control_arrays(
    states: Sequence[ControlState], rows: Sequence[str], first_day: date, n_hours: int
) -> dict[str, np.ndarray]:
    """Columns of every panel row as (n_rows, n_hours) arrays from 00:00 Beijing of ``first_day`` (the layout of
    :class:`bogda.forecast.features.Panel`); a row takes the states whose ``area_code`` is its code."""
    t0 = np.datetime64(day_start_utc(first_day).replace(tzinfo=None), "h")
    hours = t0 + np.arange(n_hours).astype("timedelta64[h]")
    by_row: dict[str, list[ControlState]] = {}
    for s in states:
        by_row.setdefault(s.area_code, []).append(s)
    out = {k: np.zeros((len(rows), n_hours)) for k in CONTROL_COLUMNS}
    for i, code in enumerate(rows):
        if code in by_row:
            for k, v in control_columns(by_row[code], hours).items():
                out[k][i] = v
    return out


def response_days(states: Iterable[ControlState], first_day: date, last_day: date) -> int:
    """Beijing days in ``[first_day, last_day]`` with an emergency response (level ≥ 1) in force for some part of
    the day in any area — the count the feature rule of forecast.md §2 is judged on.

    >>> s = ControlState("X", datetime(2026, 1, 1, 15, tzinfo=UTC), datetime(2026, 1, 1, 17, tzinfo=UTC),
    ...                  "emergency_response", 1)
    >>> response_days([s], date(2025, 12, 31), date(2026, 1, 3))   # 23:00 Beijing on the 1st, 01:00 on the 2nd
    2
    """
    if last_day < first_day:
        return 0
    days = np.arange(np.datetime64(first_day, "D"), np.datetime64(last_day, "D") + 1)
    resp = [s for s in states if s.kind == "emergency_response" and s.level >= 1]
    return int((daily_control_columns(resp, days)["control_level"] >= 1).sum())


def control_is_feature(n_response_days: int, threshold: int = MIN_RESPONSE_DAYS) -> bool:
    """forecast.md §2: the control state is a forecast feature only when the training window holds ≥ ``threshold``
    response days.

    >>> control_is_feature(19), control_is_feature(20), control_is_feature(5, threshold=5)
    (False, True, True)
    """
    return n_response_days >= threshold


def bundle_uses_control(models: Any) -> bool:
    """Whether a trained bundle (:class:`bogda.forecast.operational.OperationalModels`) was fitted with the control
    columns: read from the feature names every model set records, so old bundles need no new field."""
    if models is None:
        return False
    want = f"tgt_{CONTROL_COLUMNS[0]}"
    for m in getattr(models, "items", {}).values():
        for sets in (m.hourly, m.daily, getattr(m, "hourly_nwp", {}), getattr(m, "daily_nwp", {})):
            if any(want in ms.feature_names for ms in sets.values()):
                return True
    return False


# --------------------------------------------------------------------------------------------------------------
# Registry tree: which targets a record reaches
# --------------------------------------------------------------------------------------------------------------


@dataclass
class _Tree:
    """Places and air stations as nodes ``p:<code>`` / ``s:<code>`` with their ancestors."""

    parent: dict[str, str | None]
    prefectures: list[str]
    place_id_node: dict[int, str]

    def lineage(self, node: str) -> set[str]:
        seen: set[str] = set()
        cur: str | None = node
        while cur is not None and cur not in seen:
            seen.add(cur)
            cur = self.parent.get(cur)
        return seen

    def node_of(self, code: str) -> str | None:
        """A target or area code → its node (a place code first, then an air-station code)."""
        if f"p:{code}" in self.parent:
            return f"p:{code}"
        if f"s:{code}" in self.parent:
            return f"s:{code}"
        return None


def _tree(conn: Any) -> _Tree:
    places = conn.execute(select(place.c.id, place.c.code, place.c.parent_id, place.c.kind)).all()
    node = {p.id: f"p:{p.code}" for p in places}
    parent: dict[str, str | None] = {node[p.id]: node.get(p.parent_id) for p in places}
    for r in conn.execute(select(site.c.code, site.c.place_id).where(site.c.kind == "air_station")):
        parent[f"s:{r.code}"] = node.get(r.place_id)
    prefs = [node[p.id] for p in places if p.kind == "prefecture"]
    if not prefs:  # an installation without a prefecture row: its top places stand in
        prefs = [node[p.id] for p in places if p.parent_id is None]
    return _Tree(parent, prefs, node)


def _reach(tree: _Tree, anchors: Sequence[str], targets: Mapping[str, str]) -> list[str]:
    """Target codes reached by a record at any of ``anchors``: one node contains the other (module docstring)."""
    out = []
    for code, tnode in targets.items():
        up = tree.lineage(tnode)
        if any(a in up or tnode in tree.lineage(a) for a in anchors):
            out.append(code)
    return out


# --------------------------------------------------------------------------------------------------------------
# Reading the records
# --------------------------------------------------------------------------------------------------------------


def _warning_pieces(w: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> list[tuple[datetime, datetime, int]]:
    """(start, end, level) pieces of one warning in force: its Beijing dates, from its issue, each issue/change
    decision at its own level, cut at the lift. Rows without events (imported) count over their dates."""
    lo = day_start_utc(w["start_date"])
    hi = day_start_utc(w["end_date"] + timedelta(days=1))
    lifts = [e["at"] for e in events if e["to_state"] == "lifted"]
    if w["state"] == "lifted":
        lift = min(lifts) if lifts else w["decided_at"]
        if lift is not None:
            hi = min(hi, lift)
    decisions = [(e["at"], e["level"] or w["level"]) for e in events if e["to_state"] in ("issued", "changed")]
    if not decisions:
        return [(lo, hi, LEVELS.get(w["level"], 0))] if hi > lo else []
    decisions.sort(key=lambda d: d[0])
    out = []
    for i, (at, lev) in enumerate(decisions):
        a = max(lo, at)
        b = min(hi, decisions[i + 1][0]) if i + 1 < len(decisions) else hi
        if b > a and LEVELS.get(lev, 0) > 0:
            out.append((a, b, LEVELS[lev]))
    return out


def control_states(
    store: Store, area_codes: Sequence[str], start: datetime, end: datetime, *, merge: bool = True
) -> list[ControlState]:
    """Control states in force during ``[start, end)`` at each of ``area_codes`` (place or air-station codes),
    derived from ``warning``, ``plan`` and ``control_event`` (forecast.md §2; module docstring for the rules),
    clipped to the window and, with ``merge``, merged per (area, kind) by :func:`merge_states`."""
    raw: list[tuple[list[str], datetime, datetime, str, int, str]] = []  # (anchor nodes, start, end, kind, lvl, doc)
    with store.engine.connect() as conn:
        tree = _tree(conn)
        ws = [
            dict(r)
            for r in conn.execute(select(warning).where(warning.c.state.in_(COUNTED_STATES))).mappings()
            if r["end_date"] >= beijing_date(start) - timedelta(days=1) and r["start_date"] <= beijing_date(end)
        ]
        evs: dict[int, list[dict[str, Any]]] = {}
        if ws:
            q = select(warning_event).where(warning_event.c.warning_id.in_([w["id"] for w in ws]))
            for e in conn.execute(q.order_by(warning_event.c.id)).mappings():
                evs.setdefault(e["warning_id"], []).append(dict(e))
        plans = conn.execute(
            select(plan).where(plan.c.active.is_(True), plan.c.kind.in_(("stagger_window", "order")))
        ).mappings()
        plans = [dict(p) for p in plans]
        ents = conn.execute(
            select(site.c.id, site.c.place_id, enterprise.c.sector).join(enterprise, enterprise.c.site_id == site.c.id)
        ).all()
        events = [
            dict(r)
            for r in conn.execute(
                select(control_event).where(control_event.c.start < end, control_event.c.end > start)
            ).mappings()
        ]
    for w in ws:
        node = tree.node_of(w["area_code"])
        if node is None:
            continue
        for a, b, lev in _warning_pieces(w, evs.get(w["id"], [])):
            raw.append(([node], a, b, "emergency_response", lev, w["doc_no"] or f"warning-{w['id']}"))
    ent_node = {e.id: tree.place_id_node.get(e.place_id) for e in ents}
    for p in plans:
        if p["start"] is None or p["end"] is None:
            continue
        if p["kind"] == "stagger_window":
            ids = [p["enterprise_id"]] if p["enterprise_id"] is not None else []
            ids = ids or [e.id for e in ents if p["enterprise_id"] is None and e.sector == p["sector"]]
            anchors: set[str] = set()
            for i in ids:
                n = ent_node.get(i)
                anchors.update([n] if n else tree.prefectures)  # an enterprise without a place: the prefecture
            if anchors:
                doc = p["doc_id"] or f"plan-{p['id']}"
                raw.append((sorted(anchors), p["start"], p["end"], "staggered_production", 0, doc))
        elif p["kind"] == "order" and p["source"] != "warning" and p["level"] in LEVELS:
            area = (p["attrs"] or {}).get("area_code")
            anchors = [n for n in ([tree.node_of(area)] if area else tree.prefectures) if n is not None]
            raw.append((anchors, p["start"], p["end"], "emergency_response", LEVELS[p["level"]], p["doc_id"] or ""))
    for e in events:
        node = tree.node_of(e["area_code"])
        if node is not None:
            raw.append(([node], e["start"], e["end"], e["kind"], int(e["level"]), e["doc_no"] or f"event-{e['id']}"))
    targets = {c: n for c in area_codes if (n := tree.node_of(c)) is not None}
    out = []
    for anchors, a, b, kind, lev, doc in raw:
        a, b = max(a, start), min(b, end)
        if b <= a:
            continue
        for code in _reach(tree, anchors, targets):
            out.append(ControlState(code, a, b, kind, lev, doc))
    return merge_states(out) if merge else out


# --------------------------------------------------------------------------------------------------------------
# The forecast's panels
# --------------------------------------------------------------------------------------------------------------


def attach_for_training(
    store: Store, panel: Panel, *, train_days: int = TRAIN_DAYS, threshold: int = MIN_RESPONSE_DAYS
) -> tuple[bool, int]:
    """Decide the feature rule of forecast.md §2 on the panel's training window (its last ``train_days`` Beijing
    days) and, when it holds, attach the control columns to ``panel`` (``panel.control``) so the models train on
    them. Returns (used, response days)."""
    last = panel.n_days - 1
    first = max(0, last - train_days + 1)
    states = control_states(store, panel.stations, panel.start_utc, panel.start_utc + timedelta(hours=panel.n_hours))
    n = response_days(states, panel.day_of(first), panel.day_of(last))
    used = control_is_feature(n, threshold)
    panel.control = control_arrays(states, panel.stations, panel.first_day, panel.n_hours) if used else None
    return used, n


def attach_for_refresh(store: Store, panel: Panel, models: Any, *, pad_days: int = REFRESH_PAD_DAYS) -> bool:
    """Attach the control columns to a refresh panel when the bundle in service was trained with them, over the
    panel and ``pad_days`` beyond it (the leads; an issued warning is known ahead). Returns whether it did."""
    if not bundle_uses_control(models):
        panel.control = None
        return False
    n_hours = panel.n_hours + 24 * pad_days
    states = control_states(store, panel.stations, panel.start_utc, panel.start_utc + timedelta(hours=n_hours))
    panel.control = control_arrays(states, panel.stations, panel.first_day, n_hours)
    return True


# --------------------------------------------------------------------------------------------------------------
# control_event: hand-entered special events and responses
# --------------------------------------------------------------------------------------------------------------


class ControlEventError(ValueError):
    """A control event that cannot be stored; ``field`` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _check_event(store: Store, area_code: str, start: datetime, end: datetime, kind: str, level: int) -> None:
    if kind not in KINDS:
        raise ControlEventError("kind", f"{kind!r} unknown; expected one of {', '.join(KINDS)}")
    for name, ts in (("start", start), ("end", end)):
        if not isinstance(ts, datetime) or ts.tzinfo is None:
            raise ControlEventError(name, "must be a timezone-aware time (UTC or +08:00)")
    if end <= start:
        raise ControlEventError("end", "must be after start")
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 4:
        raise ControlEventError("level", "must be an integer 0–4 (none, blue, yellow, orange, red)")
    if kind == "emergency_response" and level == 0:
        raise ControlEventError("level", "an emergency_response needs a level 1–4 (blue, yellow, orange, red)")
    if kind != "emergency_response" and level != 0:
        raise ControlEventError("level", f"only emergency_response has a level; {kind} takes 0")
    with store.engine.connect() as conn:
        known = (
            conn.execute(select(place.c.id).where(place.c.code == area_code)).first()
            or conn.execute(select(site.c.id).where(site.c.kind == "air_station", site.c.code == area_code)).first()
        )
    if not area_code or known is None:
        raise ControlEventError("area_code", f"{area_code!r} is neither a place nor an air station of the registry")


def add_control_event(
    store: Store,
    area_code: str,
    start: datetime,
    end: datetime,
    kind: str,
    *,
    level: int = 0,
    doc_no: str = "",
    note: str | None = None,
    by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Store a hand-entered control event (forecast.md §2); returns its id. :class:`ControlEventError` names the
    field at fault. Issued warnings and plan records are read where they are: do not enter them here too."""
    _check_event(store, area_code, start, end, kind, level)
    with store.begin() as conn:
        return int(
            conn.execute(
                control_event.insert()
                .values(
                    area_code=area_code,
                    start=start,
                    end=end,
                    kind=kind,
                    level=level,
                    doc_no=doc_no or "",
                    note=note,
                    entered_by=by,
                    created_at=now or now_utc(),
                )
                .returning(control_event.c.id)
            ).scalar_one()
        )


def list_control_events(
    store: Store, *, area_code: str | None = None, start: datetime | None = None, end: datetime | None = None
) -> list[dict[str, Any]]:
    """Control events, newest start first; optionally of one area and overlapping ``[start, end)``."""
    q = select(control_event)
    if area_code is not None:
        q = q.where(control_event.c.area_code == area_code)
    if start is not None:
        q = q.where(control_event.c.end > start)
    if end is not None:
        q = q.where(control_event.c.start < end)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(control_event.c.start.desc(), control_event.c.id)).mappings()]


def delete_control_event(store: Store, event_id: int) -> None:
    """Delete a control event entered by mistake; ``LookupError`` when there is none with that id."""
    with store.begin() as conn:
        if not conn.execute(control_event.delete().where(control_event.c.id == event_id)).rowcount:
            raise LookupError(f"control event {event_id} does not exist")


__all__ = [
    "KINDS",
    "LEVELS",
    "MIN_RESPONSE_DAYS",
    "ControlEventError",
    "ControlState",
    "add_control_event",
    "attach_for_refresh",
    "attach_for_training",
    "bundle_uses_control",
    "control_arrays",
    "control_columns",
    "control_is_feature",
    "control_states",
    "daily_control_columns",
    "delete_control_event",
    "list_control_events",
    "merge_states",
    "response_days",
]
