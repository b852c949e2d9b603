"""Closed-loop grid tasks (governance.md §3.1–§3.5): routing findings into tasks, the state machine with role
and scope guards, flags (overdue, escalation, card, rework, repeat), severity rise, automatic escalation when
overdue, relapse reopening, evidence.

Every write runs in one transaction that appends a ``task_event`` (actor, time, note, attachments and a snapshot
of the task's deadlines and counters, so state and KPIs can be rebuilt from events as of any date) and an
``audit`` row; a refusal (403 out of scope, 409 forbidden transition, 422 bad input, 413/415 forged upload) rolls
the write back and is audited on its own. Every function takes ``now`` explicitly (controllable clock).

The SLA clock of a cycle starts when the task is made (or reopened): on-site, feedback and close deadlines count
from there; the sign deadline counts from each dispatch (§3.2 "dispatch … sign timer").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, false, func, or_, select

from bogda import audit
from bogda import findings as F
from bogda.grid import evidence as EV
from bogda.grid.policy import Actor, Target, decide
from bogda.grid.routing import (
    RANK,
    SOURCES,
    Candidate,
    Probe,
    category_of,
    match,
    severity_class,
    source_of,
)
from bogda.grid.service_base import (
    SYSTEM,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PlaceTree,
    Refused,
    actor_for,
    run_audited,
)
from bogda.grid.sla import (
    CARD_RANK,
    RULES,
    SELECTION,
    Dues,
    Rule,
    add_duration,
    card_for,
    due_times,
    escalation_due,
    missed,
    rule_from_spec,
    select_rule,
)
from bogda.grid.states import CANCEL_REASONS, EVENTS, FLAG_EVENTS, OPEN_STATES, TRANSITIONS, TransitionError, next_state
from bogda.grid.workdays import WorkCalendar
from bogda.registry.places import PlaceIndex
from bogda.store import Store
from bogda.store.schema import (
    evidence,
    finding,
    holiday,
    person,
    place,
    site,
    sla_rule,
    task,
    task_event,
    task_finding,
    user,
    user_place,
)
from bogda.timeutil import as_utc, parse_time

log = logging.getLogger(__name__)

CELL_KINDS = ("grid_cell", "hotspot_cell", "special")


@dataclass
class GridConfig:
    """[D] parameters of governance §5 that the task service uses."""

    data_dir: Path = Path("var")
    limits: EV.EvidenceLimits = field(default_factory=EV.EvidenceLimits)
    evidence_block: bool = True
    dedupe_across_sources: bool = False
    dedupe: bool = True
    severity_escalate_classes: int = 2
    auto_dispatch: bool = False


@dataclass(frozen=True)
class RouteOutcome:
    """What routing a finding did: ``created``, ``attached`` (duplicate of an open task), ``reopened``
    (relapse), ``severity_raised`` / ``unchanged`` (a finding already on a task), ``suppressed``."""

    action: str
    task_id: int | None
    finding_id: int | None = None


def _dues(row: Any) -> Dues:
    return Dues(row.sign_due, row.site_due, row.feedback_due, row.close_due)


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else as_utc(ts).isoformat()


def target_of(row: Any) -> Target:
    return Target(
        place_id=row.place_id,
        supervising_place_id=row.supervising_place_id,
        created_by=row.created_by,
        enterprise_id=row.enterprise_id,
        visible_to_enterprise=bool(row.visible_to_enterprise),
        source=row.source,
        category=row.category,
        feedback_by=row.feedback_by,
    )


def _when(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value.strip():
        try:
            return parse_time(value)
        except ValueError as exc:
            raise Invalid(f"{name}: {exc}", field=name) from exc
    raise Invalid(f"{name} is required (a date and time)", field=name)


class GridService:
    """The task service over one store (orchestration only; the rules live in the pure modules)."""

    def __init__(self, store: Store, config: GridConfig | None = None, *, index: PlaceIndex | None = None) -> None:
        self.store = store
        self.config = config or GridConfig()
        self._index = index
        self._tree: PlaceTree | None = None

    # --- context -------------------------------------------------------------------------------------------

    @property
    def index(self) -> PlaceIndex:
        if self._index is None:
            self._index = PlaceIndex.from_store(self.store)
        return self._index

    def tree(self, conn: Connection | None = None) -> PlaceTree:
        if self._tree is None:
            if conn is not None:
                self._tree = PlaceTree(conn)
            else:
                with self.store.engine.connect() as c:
                    self._tree = PlaceTree(c)
        return self._tree

    def refresh(self) -> None:
        self._tree = None
        self._index = None

    def actor(self, user_id: int) -> Actor:
        with self.store.engine.connect() as conn:
            return actor_for(conn, user_id, self.tree(conn))

    def calendar(self, conn: Connection) -> WorkCalendar:
        overrides = {r.day: r.kind for r in conn.execute(select(holiday.c.day, holiday.c.kind))}
        return WorkCalendar.default(overrides)

    def rule(self, conn: Connection, source: str, severity: str) -> Rule:
        overrides = {(r.source, r.severity): r.spec for r in conn.execute(select(sla_rule))}
        return select_rule(source, severity, overrides)

    # --- helpers -------------------------------------------------------------------------------------------

    def _task(self, conn: Connection, task_id: int) -> Any:
        row = conn.execute(select(task).where(task.c.id == task_id)).first()
        if row is None:
            raise NotFound(f"task {task_id} does not exist", field="task_id")
        return row

    def _guard(self, actor: Actor, action: str, target: Target, what: str) -> None:
        if actor is SYSTEM or actor.roles == ("system",):
            return
        d = decide(actor, action, target)
        if not d.allowed:
            raise Forbidden(f"{what}: {d.reason}", action=action)

    def _event(
        self,
        conn: Connection,
        task_id: int,
        event: str,
        from_state: str | None,
        to_state: str,
        actor: Actor,
        now: datetime,
        *,
        comment: str | None = None,
        attachments: Sequence[int] = (),
        detail: dict[str, Any] | None = None,
    ) -> int:
        seq = conn.execute(
            select(func.coalesce(func.max(task_event.c.seq), 0)).where(task_event.c.task_id == task_id)
        ).scalar_one()
        snap = conn.execute(select(task).where(task.c.id == task_id)).first()
        d = dict(detail or {})
        d["snap"] = {
            "severity": snap.severity,
            "place_id": snap.place_id,
            "source": snap.source,
            "category": snap.category,
            "sign_due": _iso(snap.sign_due),
            "site_due": _iso(snap.site_due),
            "feedback_due": _iso(snap.feedback_due),
            "close_due": _iso(snap.close_due),
            "repeat_count": snap.repeat_count,
            "rework_count": snap.rework_count,
            "escalation_level": snap.escalation_level,
            "card": snap.card,
            "verdict": snap.verdict,
        }
        return int(
            conn.execute(
                task_event.insert()
                .values(
                    task_id=task_id,
                    seq=int(seq) + 1,
                    event=event,
                    from_state=from_state,
                    to_state=to_state,
                    actor_id=actor.user_id,
                    actor_login=actor.login,
                    at=now,
                    comment=comment,
                    attachments=list(attachments),
                    detail=d,
                )
                .returning(task_event.c.id)
            ).scalar_one()
        )

    def _audit(
        self,
        conn: Connection,
        actor: Actor,
        action: str,
        target: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
        peer: str | None = None,
    ) -> None:
        if actor.user_id is None and actor.login == "system":
            return  # the scheduler is not a person; its acts are in task_event
        audit.record(
            conn,
            action=action,
            user_id=actor.user_id,
            login=actor.login,
            target=target,
            detail=detail or {},
            peer=peer,
            at=now,
        )

    def _update(self, conn: Connection, row: Any, now: datetime, **values: Any) -> None:
        n = conn.execute(
            task.update()
            .where(task.c.id == row.id, task.c.version == row.version)
            .values(updated_at=now, version=row.version + 1, **values)
        ).rowcount
        if n != 1:
            raise Conflict(f"task {row.id} was changed by someone else; reload and retry", state=row.state)

    def _finding_status(
        self,
        conn: Connection,
        finding_ids: Iterable[int],
        status: str,
        actor: Actor,
        now: datetime,
        reason: str | None = None,
    ) -> None:
        for fid in finding_ids:
            cur = conn.execute(select(finding.c.status).where(finding.c.id == fid)).scalar()
            if cur is None or cur == status:
                continue
            path = [status]
            if status not in F.TRANSITIONS.get(cur, ()):
                path = ["open", status]  # e.g. resolved → open → dispatched on a relapse
            for st in path:
                if st == cur:
                    continue
                F.set_status(conn, fid, st, by=actor.login, reason=reason, now=now)
                cur = st

    def _linked_findings(self, conn: Connection, task_id: int) -> list[int]:
        return list(conn.execute(select(task_finding.c.finding_id).where(task_finding.c.task_id == task_id)).scalars())

    def _responsible(self, conn: Connection) -> set[int]:
        """Places that have a grid member or chief (users with role grid_member, people with such duties)."""
        out: set[int] = set()
        for roles, pid in conn.execute(select(user.c.roles, user.c.scope_place_id).where(user.c.active)):
            if pid is not None and "grid_member" in (roles or ()):
                out.add(pid)
        out |= set(conn.execute(select(user_place.c.place_id)).scalars())
        out |= {
            p
            for p in conn.execute(
                select(person.c.place_id).where(person.c.duty.in_(("grid_member", "grid_chief")))
            ).scalars()
            if p is not None
        }
        return out

    def owner_for(self, conn: Connection, located: int | None, overlays: Sequence[int] = ()) -> int | None:
        """The lowest place containing the point that has responsible people (special grids first); else the
        county office; ``None`` outside the jurisdiction (§3.1, §2.1)."""
        tree = self.tree(conn)
        responsible = self._responsible(conn)
        for ov in overlays:
            if ov in responsible:
                return ov
        chain = tree.chain(located)
        for p in chain:
            if p in responsible:
                return p
        county = tree.up_to_kind(located, "county")
        return county if county is not None else (chain[0] if chain else None)

    def _enterprise_of(self, conn: Connection, site_id: int | None) -> int | None:
        seen: set[int] = set()
        while site_id is not None and site_id not in seen:
            seen.add(site_id)
            row = conn.execute(select(site.c.kind, site.c.parent_id).where(site.c.id == site_id)).first()
            if row is None:
                return None
            if row.kind == "enterprise":
                return site_id
            site_id = row.parent_id
        return None

    # --- routing -------------------------------------------------------------------------------------------

    def file_finding(
        self, draft: F.FindingDraft, *, now: datetime, actor: Actor = SYSTEM, peer: str | None = None
    ) -> RouteOutcome:
        """File a finding on the problem list and route it, in one transaction.

        A person filing by hand needs ``create_finding`` at the place (grid members: patrol findings only).
        """

        def work(conn: Connection) -> RouteOutcome:
            if actor is not SYSTEM:
                pid = draft.place_id
                if pid is None and draft.lon is not None and draft.lat is not None:
                    pid = self.index.locate(draft.lon, draft.lat)
                src = source_of(draft.kind, draft.evidence)
                self._guard(actor, "create_finding", Target(place_id=pid, source=src), "create finding")
            try:
                out = F.raise_finding(conn, draft, index=self.index, now=now)
            except ValueError as exc:
                raise Invalid(str(exc), field="finding") from exc
            if out.action == "suppressed":
                return RouteOutcome("suppressed", None, out.finding_id)
            res = self._route(conn, out.finding_id, now, actor)
            self._audit(
                conn,
                actor,
                "finding.create",
                f"finding:{out.finding_id}",
                now,
                {"kind": draft.kind, "route": res.action, "task_id": res.task_id},
                peer,
            )
            return res

        return run_audited(self.store, actor, "finding.create", "finding:new", now, work, peer=peer)

    def route_finding(self, finding_id: int, *, now: datetime, actor: Actor = SYSTEM) -> RouteOutcome:
        """Turn a finding into a task, attach it to an open duplicate, or reopen a relapse (§3.1)."""
        return run_audited(
            self.store,
            actor,
            "route",
            f"finding:{finding_id}",
            now,
            lambda conn: self._route(conn, finding_id, now, actor),
        )

    def route_and_dispatch(
        self,
        finding_id: int,
        *,
        now: datetime,
        actor: Actor,
        place_id: int | None = None,
        peer: str | None = None,
    ) -> tuple[RouteOutcome, str | None]:
        """Route the finding (§3.1) and dispatch its task when it is new or reopened, in one transaction.

        The duty desk's one click: no reader ever sees the task half-made (``NEW`` between the two steps), and a
        refused dispatch (no permission, no place outside the jurisdiction) leaves no task behind, so the finding
        stays in the inbox. Returns the routing outcome and the task's state afterwards (None without a task).
        """

        def work(conn: Connection) -> tuple[RouteOutcome, str | None]:
            out = self._route(conn, finding_id, now, actor)
            if out.task_id is None:
                return out, None
            state = self._task(conn, out.task_id).state
            if state in ("NEW", "REOPENED"):
                params = {"place_id": place_id} if place_id else {}
                self._transition(conn, out.task_id, "dispatch", actor, now, None, (), params, peer)
                state = self._task(conn, out.task_id).state
            return out, state

        return run_audited(self.store, actor, "route+dispatch", f"finding:{finding_id}", now, work, peer=peer)

    def _route(self, conn: Connection, finding_id: int, now: datetime, actor: Actor) -> RouteOutcome:
        f = conn.execute(select(finding).where(finding.c.id == finding_id)).first()
        if f is None:
            raise NotFound(f"finding {finding_id} does not exist", field="finding_id")
        linked = conn.execute(
            select(task_finding.c.task_id)
            .where(task_finding.c.finding_id == finding_id)
            .order_by(task_finding.c.task_id.desc())
        ).scalar()
        if linked is not None:
            raised = self._severity_check(conn, linked, f, now, actor)
            return RouteOutcome("severity_raised" if raised else "unchanged", linked, finding_id)
        try:
            source = source_of(f.kind, f.evidence)
        except ValueError as exc:
            raise Invalid(str(exc), field="kind") from exc
        severity = severity_class(f.kind, f.severity, source)
        category = category_of(source, f.evidence)
        enterprise_id = self._enterprise_of(conn, f.subject_site_id)
        located = f.place_id
        overlays: list[int] = []
        if f.lon is not None and f.lat is not None:
            if located is None:
                located = self.index.locate(f.lon, f.lat)
            overlays = self.index.overlays_at(f.lon, f.lat)
        tree = self.tree(conn)
        owner = self.owner_for(conn, located, overlays) if located is not None or overlays else None
        probe = Probe(
            source, category, enterprise_id, located, tree.kind.get(located or -1) in CELL_KINDS, f.lon, f.lat
        )
        cands = self._candidates(conn, probe) if self.config.dedupe else []
        m = match(probe, cands, now, across_sources=self.config.dedupe_across_sources)
        if m.kind == "open" and m.task_id is not None:
            row = self._task(conn, m.task_id)
            conn.execute(
                task_finding.insert().values(task_id=row.id, finding_id=finding_id, attached_at=now, role="duplicate")
            )
            self._finding_status(conn, [finding_id], "dispatched", actor, now)
            self._update(conn, row, now, repeat_count=row.repeat_count + 1)
            self._event(
                conn, row.id, "duplicate_attached", row.state, row.state, actor, now, detail={"finding_id": finding_id}
            )
            self._severity_check(conn, row.id, f, now, actor)
            return RouteOutcome("attached", row.id, finding_id)
        if m.kind == "relapse" and m.task_id is not None:
            row = self._task(conn, m.task_id)
            conn.execute(
                task_finding.insert().values(task_id=row.id, finding_id=finding_id, attached_at=now, role="relapse")
            )
            self._finding_status(conn, [finding_id], "dispatched", actor, now)
            self._reopen(conn, row, now, actor, event="relapse", comment=f"relapse: finding {finding_id}")
            self._severity_check(conn, row.id, f, now, actor)
            return RouteOutcome("reopened", row.id, finding_id)
        rule = self.rule(conn, source, severity)
        cal = self.calendar(conn)
        deadline = (f.evidence or {}).get("deadline")
        close_override = _when(deadline, "deadline") if deadline else None
        dues = due_times(rule, now, cal, close_override=close_override)
        tid = int(
            conn.execute(
                task.insert()
                .values(
                    source=source,
                    category=category,
                    severity=severity,
                    state="NEW",
                    place_id=owner,
                    routed_place_id=owner,
                    finding_id=finding_id,
                    enterprise_id=enterprise_id,
                    lon=f.lon,
                    lat=f.lat,
                    title=f.title,
                    repeat_of=m.task_id if m.kind == "repeat_of" else None,
                    outside_jurisdiction=owner is None,
                    sla_key=rule.key,
                    created_by=actor.user_id,
                    created_at=now,
                    started_at=now,
                    site_due=dues.site,
                    feedback_due=dues.feedback,
                    close_due=dues.close,
                    updated_at=now,
                )
                .returning(task.c.id)
            ).scalar_one()
        )
        conn.execute(task_finding.insert().values(task_id=tid, finding_id=finding_id, attached_at=now, role="original"))
        self._finding_status(conn, [finding_id], "dispatched", actor, now)
        warn = cal.warnings(now.date(), (dues.close or now).date())
        self._event(
            conn,
            tid,
            "create",
            None,
            "NEW",
            actor,
            now,
            detail={
                "finding_id": finding_id,
                "repeat_of": m.task_id if m.kind == "repeat_of" else None,
                "sla": rule.key,
                "calendar_warnings": warn,
                "outside_jurisdiction": owner is None,
            },
        )
        if self.config.auto_dispatch and owner is not None:
            self._transition(conn, tid, "dispatch", SYSTEM, now, None, (), {})
        return RouteOutcome("created", tid, finding_id)

    def _candidates(self, conn: Connection, p: Probe) -> list[Candidate]:
        conds = [task.c.category == p.category]
        if not self.config.dedupe_across_sources:
            conds.append(task.c.source == p.source)
        near = []
        if p.enterprise_id is not None:
            near.append(task.c.enterprise_id == p.enterprise_id)
        if p.place_id is not None:
            near.append(task.c.place_id == p.place_id)
            near.append(task.c.routed_place_id == p.place_id)
        if p.lon is not None and p.lat is not None:
            d = 0.03  # ≈ 2.4–3.3 km: a coarse box; the exact distance test is in routing.same_subject
            near.append(and_(task.c.lon.between(p.lon - d, p.lon + d), task.c.lat.between(p.lat - d, p.lat + d)))
        if not near:
            return []
        rows = conn.execute(select(task).where(and_(*conds), or_(*near))).all()
        tree = self.tree(conn)
        return [
            Candidate(
                r.id,
                r.state,
                r.source,
                r.category,
                r.enterprise_id,
                r.routed_place_id or r.place_id,
                tree.kind.get(r.routed_place_id or r.place_id or -1) in CELL_KINDS,
                r.lon,
                r.lat,
                r.closed_at,
            )
            for r in rows
        ]

    # --- severity rise and escalation ---------------------------------------------------------------------

    def _severity_check(self, conn: Connection, task_id: int, f: Any, now: datetime, actor: Actor) -> bool:
        row = self._task(conn, task_id)
        if row.state not in OPEN_STATES:
            return False
        new = severity_class(f.kind, f.severity, row.source)
        if RANK[new] <= RANK[row.severity]:
            return False
        self._raise_severity(conn, row, new, now, actor, finding_id=f.id)
        return True

    def _raise_severity(
        self, conn: Connection, row: Any, new: str, now: datetime, actor: Actor, *, finding_id: int | None
    ) -> None:
        """§3.3: recompute the class; deadlines become the earlier of the current ones and the new row's counted
        from the original starts; P1 or a rise of ≥ ``severity_escalate_classes`` escalates at once."""
        cal = self.calendar(conn)
        rule = self.rule(conn, row.source, new)
        fresh = due_times(rule, row.started_at or row.created_at, cal)
        sign = add_duration(row.dispatched_at, rule.sign, cal) if row.dispatched_at is not None else None
        fresh = Dues(sign, fresh.site, fresh.feedback, fresh.close)
        dues = _dues(row).earliest(fresh)
        old = row.severity
        self._update(conn, row, now, severity=new, sla_key=rule.key, **{k: v for k, v in dues.as_dict().items()})
        self._event(
            conn,
            row.id,
            "severity_raised",
            row.state,
            row.state,
            actor,
            now,
            detail={"old": old, "new": new, "finding_id": finding_id, "sla": rule.key},
        )
        if new == "P1" or RANK[new] - RANK[old] >= self.config.severity_escalate_classes:
            self._escalate(conn, self._task(conn, row.id), now, actor, reason=f"severity {old}→{new}")

    def _escalate(
        self, conn: Connection, row: Any, now: datetime, actor: Actor, *, reason: str, comment: str | None = None
    ) -> bool:
        if row.escalation_level >= 2:
            return False
        tree = self.tree(conn)
        base = row.supervising_place_id or row.place_id
        parent = tree.parent.get(base) if base is not None else None
        level = row.escalation_level + 1
        card = row.card if CARD_RANK[row.card] >= CARD_RANK["blue"] else "blue"
        self._update(conn, row, now, escalation_level=level, supervising_place_id=parent or base, card=card)
        self._event(
            conn,
            row.id,
            "escalate",
            row.state,
            row.state,
            actor,
            now,
            comment=comment,
            detail={"level": level, "supervising_place_id": parent or base, "reason": reason},
        )
        return True

    def escalate_overdue(self, *, now: datetime) -> list[dict[str, Any]]:
        """The scheduler's sweep: update ``overdue``, escalate (提级) per the SLA rule, raise cards (§3.3)."""
        changes: list[dict[str, Any]] = []
        with self.store.begin() as conn:
            cal = self.calendar(conn)
            rows = conn.execute(select(task).where(task.c.state.in_(sorted(OPEN_STATES - {"NEW"})))).all()
            for row in rows:
                dues = _dues(row)
                over = bool(missed(row.state, dues, now))
                rule = self.rule(conn, row.source, row.severity)
                last_esc = conn.execute(
                    select(func.max(task_event.c.at)).where(
                        task_event.c.task_id == row.id, task_event.c.event == "escalate"
                    )
                ).scalar()
                level = escalation_due(
                    rule,
                    row.state,
                    dues,
                    now,
                    level=row.escalation_level,
                    started_at=row.started_at,
                    feedback_at=row.feedback_at,
                    escalated_at=as_utc(last_esc) if last_esc else None,
                    calendar=cal,
                )
                cur = row
                if over != bool(row.overdue):
                    self._update(conn, cur, now, overdue=over)
                    cur = self._task(conn, row.id)
                    changes.append({"task_id": row.id, "overdue": over})
                while cur.escalation_level < level:
                    miss = [s for s, _ in missed(cur.state, _dues(cur), now)]
                    self._escalate(conn, cur, now, SYSTEM, reason="overdue: " + ",".join(miss) if miss else "rule")
                    cur = self._task(conn, row.id)
                    changes.append({"task_id": row.id, "escalation_level": cur.escalation_level})
                card = card_for(cur.state, _dues(cur), now, escalation_level=cur.escalation_level, current=cur.card)
                if card != cur.card:
                    self._update(conn, cur, now, card=card)
                    self._event(
                        conn, row.id, "card", cur.state, cur.state, SYSTEM, now, detail={"old": cur.card, "new": card}
                    )
                    changes.append({"task_id": row.id, "card": card})
        return changes

    # --- transitions ---------------------------------------------------------------------------------------

    def transition(
        self,
        task_id: int,
        event: str,
        actor: Actor,
        *,
        now: datetime,
        comment: str | None = None,
        attachments: Sequence[int] = (),
        params: dict[str, Any] | None = None,
        peer: str | None = None,
    ) -> dict[str, Any]:
        """Apply ``event`` (§3.2) as ``actor``; returns the task. Raises :class:`Forbidden` (403),
        :class:`Conflict` (409 with the current state), :class:`Invalid` (422), :class:`NotFound` (404)."""

        def work(conn: Connection) -> dict[str, Any]:
            self._transition(conn, task_id, event, actor, now, comment, attachments, params or {}, peer)
            return dict(self._task(conn, task_id)._mapping)

        return run_audited(self.store, actor, f"task.{event}", f"task:{task_id}", now, work, peer=peer)

    def _transition(
        self,
        conn: Connection,
        task_id: int,
        event: str,
        actor: Actor,
        now: datetime,
        comment: str | None,
        attachments: Sequence[int],
        params: dict[str, Any],
        peer: str | None = None,
    ) -> None:
        if event not in EVENTS:
            raise Invalid(f"unknown event {event!r}; expected one of {EVENTS}", field="event")
        row = self._task(conn, task_id)
        edge = TRANSITIONS.get((row.state, event))
        action = edge.action if edge else next(e.action for (s, ev), e in TRANSITIONS.items() if ev == event)
        self._guard(actor, action, target_of(row), f"{event} task {task_id}")
        try:
            to, edge = next_state(task_id, row.state, event, row.resume_state)
        except TransitionError as exc:
            raise Conflict(str(exc), state=row.state, allowed=exc.allowed) from exc
        comment = (comment or "").strip() or None
        if edge.needs_comment and comment is None:
            raise Invalid(f"{event} needs a reason or comment", field="comment")
        photos = self._attachments(conn, row, attachments)
        cal = self.calendar(conn)
        values: dict[str, Any] = {"state": to}
        detail: dict[str, Any] = {}
        if event == "dispatch":
            dest = params.get("place_id") or row.place_id
            if dest is None:
                raise Invalid("task is outside the jurisdiction: dispatch needs a place_id", field="place_id")
            dest = int(dest)
            if dest not in self.tree(conn).parent:
                raise Invalid(f"place {dest} does not exist", field="place_id")
            if dest != row.place_id:
                self._guard(actor, "dispatch", Target(place_id=dest), f"dispatch task {task_id} to place {dest}")
                detail["override"] = {"from": row.place_id, "to": dest}
            rule = self.rule(conn, row.source, row.severity)
            values.update(
                place_id=dest, dispatched_at=now, sign_due=add_duration(now, rule.sign, cal), outside_jurisdiction=False
            )
            if "visible_to_enterprise" in params:
                values["visible_to_enterprise"] = bool(params["visible_to_enterprise"])
        elif event == "cancel":
            reason = params.get("reason")
            if reason not in CANCEL_REASONS:
                raise Invalid(f"cancel reason {reason!r}; expected one of {CANCEL_REASONS}", field="reason")
            values["cancelled_at"] = now
            detail["reason"] = reason
            self._finding_status(
                conn,
                self._linked_findings(conn, task_id),
                "dismissed",
                actor,
                now,
                reason=f"task cancelled ({reason}): {comment}",
            )
        elif event == "sign":
            values["signed_at"] = now
        elif event == "return":
            values.update(sign_due=None, dispatched_at=None)
        elif event in ("confirm", "not_confirm", "feedback"):
            self._need_photo(photos, event)
            if event == "confirm":
                values.update(verdict="confirmed", confirmed_at=now)
            elif event == "not_confirm":
                values.update(verdict="not_confirmed", feedback_at=now, feedback_by=actor.user_id)
            else:
                measures = (params.get("measures") or comment or "").strip()
                if not measures:
                    raise Invalid("feedback needs the measures taken (measures)", field="measures")
                values.update(feedback_at=now, feedback_by=actor.user_id, measures=measures)
        elif event == "defer":
            due = _when(params.get("due"), "due")
            if due <= now:
                raise Invalid("the new due date must be in the future", field="due")
            values.update(resume_state=row.state, close_due=due)
            if row.feedback_due is not None and row.feedback_due < due:
                values["feedback_due"] = due
            detail["due"] = due.isoformat()
        elif event == "resume":
            values["resume_state"] = None
        elif event == "approve":
            values.update(reviewed_at=now, closed_at=now)
            self._finding_status(conn, self._linked_findings(conn, task_id), "resolved", actor, now)
        elif event == "reject":
            values.update(reviewed_at=now, rework_count=row.rework_count + 1)
            if row.verdict == "not_confirmed":
                values.update(verdict="confirmed", confirmed_at=now)
                detail["verdict_changed"] = "not_confirmed→confirmed"
        elif event == "reopen":
            self._reopen(conn, row, now, actor, event="reopen", comment=comment, peer=peer)
            return
        self._update(conn, row, now, **values)
        self._event(
            conn, task_id, event, row.state, to, actor, now, comment=comment, attachments=attachments, detail=detail
        )
        self._audit(conn, actor, f"task.{event}", f"task:{task_id}", now, {"from": row.state, "to": to, **detail}, peer)

    def _reopen(
        self,
        conn: Connection,
        row: Any,
        now: datetime,
        actor: Actor,
        *,
        event: str,
        comment: str | None,
        peer: str | None = None,
    ) -> None:
        """CLOSED → REOPENED (relapse / 回头看): ``repeat_count += 1`` and a new cycle of deadlines."""
        if row.state != "CLOSED":
            raise Conflict(str(TransitionError(row.id, row.state, "reopen")), state=row.state)
        cal = self.calendar(conn)
        rule = self.rule(conn, row.source, row.severity)
        dues = due_times(rule, now, cal)
        self._update(
            conn,
            row,
            now,
            state="REOPENED",
            repeat_count=row.repeat_count + 1,
            started_at=now,
            sign_due=None,
            site_due=dues.site,
            feedback_due=dues.feedback,
            close_due=dues.close,
            dispatched_at=None,
            signed_at=None,
            confirmed_at=None,
            feedback_at=None,
            feedback_by=None,
            reviewed_at=None,
            closed_at=None,
            verdict=None,
            escalation_level=0,
            supervising_place_id=None,
            overdue=False,
            resume_state=None,
        )
        self._finding_status(conn, self._linked_findings(conn, row.id), "dispatched", actor, now)
        self._event(conn, row.id, event, "CLOSED", "REOPENED", actor, now, comment=comment)
        self._audit(conn, actor, f"task.{event}", f"task:{row.id}", now, {"from": "CLOSED", "to": "REOPENED"}, peer)

    def _attachments(self, conn: Connection, row: Any, ids: Sequence[int]) -> list[Any]:
        if not ids:
            return []
        rows = conn.execute(select(evidence).where(evidence.c.id.in_([int(i) for i in ids]))).all()
        found = {r.id: r for r in rows}
        for i in ids:
            r = found.get(int(i))
            if r is None or r.task_id != row.id:
                raise Invalid(f"attachment {i} is not evidence of task {row.id}", field="attachments")
        return rows

    def _need_photo(self, photos: Sequence[Any], event: str) -> None:
        if not self.config.evidence_block:
            return
        if not photos:
            raise Invalid(f"{event} needs at least one site photo (attachments)", field="attachments")
        if not any(p.passed for p in photos):
            flags = sorted({f for p in photos for f in (p.flags or [])})
            raise Invalid(
                f"{event}: no attached photo passes the evidence checks ({', '.join(flags)})",
                field="attachments",
                flags=flags,
            )

    # --- flag actions by people ----------------------------------------------------------------------------

    def flag(
        self,
        task_id: int,
        event: str,
        actor: Actor,
        *,
        now: datetime,
        comment: str | None = None,
        attachments: Sequence[int] = (),
        params: dict[str, Any] | None = None,
        peer: str | None = None,
    ) -> dict[str, Any]:
        """A flag event by a person: ``escalate``, ``reset_deadline``, ``lower_severity``, ``respond`` or
        ``visible`` (release a task to its enterprise)."""
        params = params or {}

        def work(conn: Connection) -> dict[str, Any]:
            row = self._task(conn, task_id)
            action = "dispatch" if event == "visible" else FLAG_EVENTS.get(event)
            if action is None or event in (
                "create",
                "duplicate_attached",
                "relapse",
                "severity_raised",
                "card",
                "evidence",
                "override_routing",
            ):
                raise Invalid(f"unknown flag event {event!r}", field="event")
            self._guard(actor, action, target_of(row), f"{event} task {task_id}")
            text = (comment or "").strip() or None
            if row.state not in OPEN_STATES and event != "respond":
                raise Conflict(f"task {task_id} is {row.state}: {event} needs an open task", state=row.state)
            detail: dict[str, Any] = {}
            if event == "escalate":
                if not self._escalate(conn, row, now, actor, reason="by hand", comment=text):
                    raise Conflict(f"task {task_id} is already at escalation level 2", state=row.state)
            elif event == "reset_deadline":
                due = _when(params.get("due"), "due")
                if text is None:
                    raise Invalid("reset_deadline needs a reason", field="comment")
                self._update(conn, row, now, close_due=due, overdue=False)
                detail = {"close_due": due.isoformat()}
                self._event(conn, task_id, event, row.state, row.state, actor, now, comment=text, detail=detail)
            elif event == "lower_severity":
                new = params.get("severity")
                if new not in RANK or RANK[new] >= RANK[row.severity]:
                    raise Invalid(f"severity {new!r} must be a lower class than {row.severity}", field="severity")
                if text is None:
                    raise Invalid("lowering the severity needs a reason", field="comment")
                rule = self.rule(conn, row.source, new)
                self._update(conn, row, now, severity=new, sla_key=rule.key)
                detail = {"old": row.severity, "new": new}
                self._event(conn, task_id, event, row.state, row.state, actor, now, comment=text, detail=detail)
            elif event == "respond":
                if text is None and not attachments:
                    raise Invalid("a response needs a comment or evidence", field="comment")
                self._attachments(conn, row, attachments)
                self._event(
                    conn, task_id, event, row.state, row.state, actor, now, comment=text, attachments=attachments
                )
            elif event == "visible":
                vis = bool(params.get("visible", True))
                self._update(conn, row, now, visible_to_enterprise=vis)
                detail = {"visible_to_enterprise": vis}
                self._event(conn, task_id, event, row.state, row.state, actor, now, comment=text, detail=detail)
            self._audit(conn, actor, f"task.{event}", f"task:{task_id}", now, detail, peer)
            return dict(self._task(conn, task_id)._mapping)

        return run_audited(self.store, actor, f"task.{event}", f"task:{task_id}", now, work, peer=peer)

    def bulk_dispatch(
        self,
        task_ids: Sequence[int],
        actor: Actor,
        *,
        now: datetime,
        place_id: int | None = None,
        peer: str | None = None,
    ) -> dict[int, str]:
        """Dispatch several tasks; each succeeds or fails on its own (``ok`` or the reason)."""
        out: dict[int, str] = {}
        for tid in task_ids:
            try:
                self.transition(
                    tid, "dispatch", actor, now=now, params={"place_id": place_id} if place_id else {}, peer=peer
                )
                out[tid] = "ok"
            except (Forbidden, Conflict, Invalid, NotFound) as exc:
                out[tid] = f"{exc.status}: {exc.reason}"
        return out

    # --- evidence ------------------------------------------------------------------------------------------

    def add_evidence(
        self,
        task_id: int,
        actor: Actor,
        data: bytes,
        content_type: str,
        *,
        now: datetime,
        stage: str = "site",
        filename: str | None = None,
        stamp: dict[str, Any] | None = None,
        peer: str | None = None,
    ) -> dict[str, Any]:
        """Check, store and record a photo (§3.5). Forged type or oversize → :class:`Refused`; failing checks are
        kept with flags."""

        def work(conn: Connection) -> dict[str, Any]:
            return self._evidence(conn, task_id, actor, data, content_type, now, stage, filename, stamp, peer)

        return run_audited(self.store, actor, "evidence.upload", f"task:{task_id}", now, work, peer=peer)

    def _evidence(
        self,
        conn: Connection,
        task_id: int,
        actor: Actor,
        data: bytes,
        content_type: str,
        now: datetime,
        stage: str,
        filename: str | None,
        stamp: dict[str, Any] | None,
        peer: str | None,
        signed_at: datetime | None = None,
    ) -> dict[str, Any]:
        row = self._task(conn, task_id)
        tgt = target_of(row)
        if decide(actor, "respond", tgt).allowed and not decide(actor, "work", tgt).allowed:
            pass  # an enterprise user adds evidence to a response
        else:
            self._guard(actor, "work", tgt, f"upload evidence to task {task_id}")
        if row.state not in OPEN_STATES:
            raise Conflict(f"task {task_id} is {row.state}: no more evidence", state=row.state)
        if stage not in EV.STAGES:
            raise Invalid(f"stage {stage!r}; expected one of {EV.STAGES}", field="stage")
        try:
            ctype = EV.check_bytes(data, content_type, self.config.limits)
        except EV.UploadRefused as exc:
            raise Refused(str(exc), exc.status, declared=content_type, size=len(data), filename=filename) from exc
        digest = EV.sha256(data)
        reused = conn.execute(
            select(evidence.c.id).where(evidence.c.sha256 == digest, evidence.c.task_id != task_id).limit(1)
        ).first()
        geom = (
            conn.execute(select(place.c.geometry).where(place.c.id == row.place_id)).scalar()
            if row.place_id is not None
            else None
        )
        st = dict(stamp or {})
        if st.get("taken_at") is not None:
            st["taken_at"] = _when(st["taken_at"], "taken_at")
        if st.get("coord_sys") not in (None, *EV.COORD_SYSTEMS):
            raise Invalid(f"coord_sys {st.get('coord_sys')!r}; expected one of {EV.COORD_SYSTEMS}", field="coord_sys")
        info = EV.read_photo(data)
        check = EV.check_photo(
            info,
            uploaded_at=now,
            signed_at=row.signed_at if signed_at is None else signed_at,
            task_point=(row.lon, row.lat) if row.lon is not None and row.lat is not None else None,
            task_geometry=geom if geom and geom.get("type") in ("Polygon", "MultiPolygon") else None,
            hash_on_other_task=reused is not None,
            limits=self.config.limits,
            stamp=st,
        )
        rel = EV.store_file(self.config.data_dir, digest, ctype, data)
        eid = int(
            conn.execute(
                evidence.insert()
                .values(
                    task_id=task_id,
                    sha256=digest,
                    stage=stage,
                    content_type=ctype,
                    size=len(data),
                    path=rel,
                    original_name=(filename or "")[:200] or None,
                    taken_at=check.taken_at,
                    lon=check.lon,
                    lat=check.lat,
                    coord_sys=check.coord_sys,
                    device=check.device,
                    flags=check.flags,
                    passed=check.passed,
                    uploader_id=actor.user_id,
                    uploaded_at=now,
                )
                .returning(evidence.c.id)
            ).scalar_one()
        )
        self._event(
            conn,
            task_id,
            "evidence",
            row.state,
            row.state,
            actor,
            now,
            attachments=[eid],
            detail={"sha256": digest, "flags": check.flags, "stage": stage},
        )
        self._audit(
            conn,
            actor,
            "evidence.upload",
            f"task:{task_id}",
            now,
            {"evidence_id": eid, "sha256": digest, "flags": check.flags},
            peer,
        )
        return dict(conn.execute(select(evidence).where(evidence.c.id == eid)).first()._mapping)

    # --- on-the-spot fixes and configuration -----------------------------------------------------------

    def on_the_spot(
        self,
        draft: F.FindingDraft,
        actor: Actor,
        *,
        now: datetime,
        photos: Sequence[tuple[bytes, str]],
        measures: str,
        peer: str | None = None,
    ) -> RouteOutcome:
        """立行立改 (§3.2): a person's own finding fixed at once — create → dispatch → sign → confirm → feedback in
        one transaction. Dispatch and sign are stamped at the finding's time (by ``system`` for the dispatch, on the
        person's behalf); the photos must pass the §3.5 checks against that time. Any refusal stores nothing."""

        def work(conn: Connection) -> RouteOutcome:
            start = as_utc(draft.detected_at) if draft.detected_at is not None else now
            pid = draft.place_id
            if pid is None and draft.lon is not None and draft.lat is not None:
                pid = self.index.locate(draft.lon, draft.lat)
            src = source_of(draft.kind, draft.evidence)
            self._guard(actor, "create_finding", Target(place_id=pid, source=src), "on-the-spot fix")
            if not measures.strip():
                raise Invalid("an on-the-spot fix needs the measures taken", field="measures")
            try:
                out = F.raise_finding(conn, draft, index=self.index, now=start)
            except ValueError as exc:
                raise Invalid(str(exc), field="finding") from exc
            res = self._route(conn, out.finding_id, start, actor)
            if res.action != "created" or res.task_id is None:
                raise Conflict(f"the finding belongs to task {res.task_id}: handle it there", state=res.action)
            tid = res.task_id
            self._transition(conn, tid, "dispatch", SYSTEM, start, f"立行立改 / on the spot: {actor.login}", (), {})
            self._transition(conn, tid, "sign", actor, start, None, (), {}, peer)
            ids = [
                self._evidence(conn, tid, actor, data, ctype, now, "after", None, None, peer, signed_at=start)["id"]
                for data, ctype in photos
            ]
            self._transition(conn, tid, "confirm", actor, now, None, ids, {}, peer)
            self._transition(conn, tid, "feedback", actor, now, None, ids, {"measures": measures}, peer)
            return RouteOutcome("on_the_spot", tid, out.finding_id)

        return run_audited(self.store, actor, "task.on_the_spot", "finding:new", now, work, peer=peer)

    def sla_table(self) -> dict[str, dict[str, Any]]:
        """The effective SLA rows: defaults by name and the store's overrides by ``source/severity``."""
        with self.store.engine.connect() as conn:
            over = {f"{r.source}/{r.severity}": dict(r.spec) for r in conn.execute(select(sla_rule))}
        return {
            "defaults": {k: dict(v) for k, v in RULES.items()},
            "selection": {f"{s}/{c}": name for (s, c), name in SELECTION.items()},
            "overrides": over,
        }

    def set_sla_rule(
        self,
        actor: Actor,
        source: str,
        severity: str,
        spec: dict[str, Any] | None,
        *,
        now: datetime,
        peer: str | None = None,
    ) -> None:
        """Set (or with ``spec`` None remove) the SLA override of ``source × severity`` (``*`` wildcards)."""

        def work(conn: Connection) -> None:
            self._guard(actor, "sla_config", Target(place_id=actor.scope_place_id), "change the SLA table")
            if source != "*" and source not in SOURCES:
                raise Invalid(f"source {source!r}; expected '*' or one of {SOURCES}", field="source")
            if severity != "*" and severity not in RANK:
                raise Invalid(f"severity {severity!r}; expected '*' or P1–P4", field="severity")
            conn.execute(sla_rule.delete().where(sla_rule.c.source == source, sla_rule.c.severity == severity))
            if spec is not None:
                try:
                    rule_from_spec(f"{source}/{severity}", spec)
                except ValueError as exc:
                    raise Invalid(str(exc), field="spec") from exc
                conn.execute(
                    sla_rule.insert().values(
                        source=source, severity=severity, spec=spec, updated_by=actor.login, updated_at=now
                    )
                )
            self._audit(conn, actor, "sla.set", f"sla:{source}/{severity}", now, {"spec": spec}, peer)

        run_audited(self.store, actor, "sla.set", f"sla:{source}/{severity}", now, work, peer=peer)

    def set_holiday(
        self, actor: Actor, day: date, kind: str | None, *, name: str = "", now: datetime, peer: str | None = None
    ) -> None:
        """Edit the holiday table: ``off`` (holiday), ``work`` (调休 working weekend) or None (back to the
        shipped table)."""

        def work(conn: Connection) -> None:
            self._guard(actor, "sla_config", Target(place_id=actor.scope_place_id), "edit the holiday table")
            if kind not in (None, "off", "work"):
                raise Invalid(f"kind {kind!r}; expected 'off', 'work' or null", field="kind")
            conn.execute(holiday.delete().where(holiday.c.day == day))
            if kind is not None:
                conn.execute(holiday.insert().values(day=day, kind=kind, name=name[:64]))
            self._audit(
                conn, actor, "holiday.set", f"holiday:{day.isoformat()}", now, {"kind": kind, "name": name}, peer
            )

        run_audited(self.store, actor, "holiday.set", f"holiday:{day.isoformat()}", now, work, peer=peer)

    # --- reading -------------------------------------------------------------------------------------------

    def scope_clause(self, actor: Actor) -> Any:
        """SQL condition of the tasks ``actor`` may see (§3.12 "view")."""
        conds = []
        for role in actor.roles:
            d = decide(
                Actor(
                    actor.user_id,
                    actor.login,
                    (role,),
                    actor.scope_place_id,
                    actor.places,
                    actor.grid_places,
                    actor.enterprise_id,
                    actor.capabilities,
                ),
                "view",
            )
            if not d.allowed:
                continue
            code = d.cell
            if code in ("A", "r") or (code == "S" and actor.places is None):
                return True
            if code == "S":
                ids = sorted(actor.places or ())
                conds.append(or_(task.c.place_id.in_(ids), task.c.supervising_place_id.in_(ids)))
                if actor.sees_unplaced:
                    conds.append(task.c.place_id.is_(None))
            elif code.startswith("G"):
                conds.append(or_(task.c.place_id.in_(sorted(actor.grid_places)), task.c.created_by == actor.user_id))
            elif code.startswith("E") and actor.enterprise_id is not None:
                conds.append(
                    and_(
                        task.c.enterprise_id == actor.enterprise_id,
                        task.c.visible_to_enterprise,
                        task.c.source != "petition",
                    )
                )
        return or_(*conds) if conds else false()

    def list_tasks(
        self,
        actor: Actor,
        *,
        states: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        severities: Sequence[str] | None = None,
        place_ids: Sequence[int] | None = None,
        overdue: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Tasks ``actor`` may see, filtered; most severe and newest first; and the total count."""
        conds = [self.scope_clause(actor)]
        if states:
            conds.append(task.c.state.in_(list(states)))
        if sources:
            conds.append(task.c.source.in_(list(sources)))
        if severities:
            conds.append(task.c.severity.in_(list(severities)))
        if place_ids:
            tree = self.tree()
            ids: set[int] = set()
            for p in place_ids:
                ids |= tree.subtree(p)
            conds.append(task.c.place_id.in_(sorted(ids)))
        if overdue is not None:
            conds.append(task.c.overdue == overdue)
        where = and_(*conds)
        with self.store.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(task).where(where)).scalar_one()
            rows = (
                conn.execute(
                    select(task).where(where).order_by(task.c.severity, task.c.id.desc()).limit(limit).offset(offset)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows], int(total)

    def get_task(self, actor: Actor, task_id: int, *, now: datetime, peer: str | None = None) -> dict[str, Any]:
        """One task with its events, findings and evidence, if ``actor`` may see it (else 403, audited)."""

        def work(conn: Connection) -> dict[str, Any]:
            row = self._task(conn, task_id)
            self._guard(actor, "view", target_of(row), f"view task {task_id}")
            out = dict(row._mapping)
            out["events"] = [
                dict(r)
                for r in conn.execute(
                    select(task_event).where(task_event.c.task_id == task_id).order_by(task_event.c.seq)
                ).mappings()
            ]
            ev_q = select(evidence).where(evidence.c.task_id == task_id).order_by(evidence.c.id)
            out["evidence"] = [dict(r) for r in conn.execute(ev_q).mappings()]
            link_q = select(task_finding).where(task_finding.c.task_id == task_id)
            out["findings"] = [dict(r) for r in conn.execute(link_q).mappings()]
            return out

        return run_audited(self.store, actor, "task.view", f"task:{task_id}", now, work, peer=peer)

    def evidence_file(self, actor: Actor, evidence_id: int, *, now: datetime) -> tuple[Path, str]:
        """Path and type of an evidence file the actor may see."""

        def work(conn: Connection) -> tuple[Path, str]:
            ev = conn.execute(select(evidence).where(evidence.c.id == evidence_id)).first()
            if ev is None:
                raise NotFound(f"evidence {evidence_id} does not exist", field="evidence_id")
            row = self._task(conn, ev.task_id)
            self._guard(actor, "view", target_of(row), f"view evidence {evidence_id}")
            return Path(self.config.data_dir) / ev.path, ev.content_type

        return run_audited(self.store, actor, "evidence.view", f"evidence:{evidence_id}", now, work)


__all__ = ["GridConfig", "GridService", "RouteOutcome", "actor_for", "target_of"]


def route_open_findings(store: Store, now: datetime, *, limit: int = 1000, config: GridConfig | None = None) -> int:
    """Route every live finding that has no task yet (governance §3.1: every finding becomes a task).

    The scheduler's job: analyses file findings, this turns them into tasks (or attaches them to open duplicates,
    or reopens relapses). A finding that cannot be routed (its kind has no task source) is left on the problem
    list for the dispatcher and logged; it never stops the others. Returns the number of findings routed.
    """
    with store.engine.connect() as conn:
        ids = (
            conn.execute(
                select(finding.c.id)
                .where(
                    finding.c.status.in_(("open", "acknowledged")),
                    ~select(task_finding.c.task_id).where(task_finding.c.finding_id == finding.c.id).exists(),
                )
                .order_by(finding.c.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
    if not ids:
        return 0
    svc = GridService(store, config)
    routed = 0
    for fid in ids:
        try:
            svc.route_finding(fid, now=now)
            routed += 1
        except (Invalid, NotFound) as exc:
            log.warning("finding %s not routed: %s", fid, exc)
    return routed


def escalate_overdue_job(store: Store, now: datetime) -> int:
    """The scheduler's job: escalate (提级) every overdue task; returns how many were escalated."""
    return len(GridService(store).escalate_overdue(now=now))
