"""The one problem list (architecture.md rule 3 and §4).

Every thing a person must look at — an alarm, a fire event, a violation clue, a warning, a mobile-monitoring
hotspot, a petition, an inspection item — is a *finding* with a kind, severity, place, subject, evidence and a
de-duplication key. Analyses create findings; ``grid`` turns them into tasks (the only way work is made).

De-duplication: a finding whose ``dedupe_key`` matches a finding that is still live (open, acknowledged or
dispatched) updates that one (``count``, ``last_seen``, raised severity, newest evidence) instead of adding a row.
After a finding is resolved or dismissed its key stays quiet until ``cooldown_until``: repeats inside the cool-down
are counted on the closed finding but raise nothing new.

Status vocabulary: ``open`` → ``acknowledged`` → ``dispatched`` (a task exists) → ``resolved`` (its task closed) |
``dismissed`` (with a reason, by a person).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from bogda.registry.places import PlaceIndex
from bogda.store import Store
from bogda.store.schema import finding
from bogda.timeutil import now_utc

KINDS = ("alarm", "fire", "clue", "warning", "advisory", "hotspot", "petition", "inspection", "incident", "patrol")
SEVERITIES = ("low", "medium", "high", "critical", "S3", "S2", "S1", "P4", "P3", "P2", "P1")
SEVERITY_RANK = {
    "low": 1,
    "medium": 2,
    "high": 3,
    "critical": 4,
    "S3": 2,
    "S2": 3,
    "S1": 4,
    "P4": 1,
    "P3": 2,
    "P2": 3,
    "P1": 4,
}
"""Common scale (1 lowest … 4 highest) so findings of different kinds sort together."""

STATUSES = ("open", "acknowledged", "dispatched", "resolved", "dismissed")
LIVE = ("open", "acknowledged", "dispatched")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("acknowledged", "dispatched", "dismissed", "resolved"),
    "acknowledged": ("dispatched", "dismissed", "resolved", "open"),
    "dispatched": ("resolved", "open"),
    "resolved": ("open",),
    "dismissed": ("open",),
}
"""Allowed status changes; ``open`` again means reopened (e.g. a task reopened on relapse)."""


@dataclass
class FindingDraft:
    """What an analysis hands over; :func:`raise_finding` files it."""

    kind: str
    severity: str
    title: str
    dedupe_key: str
    detected_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None
    place_id: int | None = None
    subject_site_id: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    cooldown: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class Outcome:
    """What :func:`raise_finding` did: ``created``, ``updated`` (repeat of a live finding) or ``suppressed``
    (repeat inside the cool-down of a closed one)."""

    action: str
    finding_id: int


def validate(d: FindingDraft) -> None:
    """Raise ``ValueError`` naming the field at fault."""
    if d.kind not in KINDS:
        raise ValueError(f"finding kind {d.kind!r} unknown; expected one of {KINDS}")
    if d.severity not in SEVERITIES:
        raise ValueError(f"finding severity {d.severity!r} unknown; expected one of {SEVERITIES}")
    if not d.title.strip():
        raise ValueError("finding title is empty")
    if not d.dedupe_key.strip():
        raise ValueError("finding dedupe_key is empty")
    if (d.lon is None) != (d.lat is None):
        raise ValueError("finding needs both lon and lat, or neither")
    if d.detected_at is not None and d.detected_at.tzinfo is None:
        raise ValueError("finding detected_at must be timezone-aware")


def raise_finding(
    conn: Connection, draft: FindingDraft, *, index: PlaceIndex | None = None, now: datetime | None = None
) -> Outcome:
    """File ``draft`` on the problem list inside the caller's transaction (see module docstring for the rules)."""
    validate(draft)
    now = now or now_utc()
    detected = draft.detected_at or now
    live = conn.execute(
        select(finding.c.id, finding.c.severity)
        .where(finding.c.dedupe_key == draft.dedupe_key, finding.c.status.in_(LIVE))
        .order_by(finding.c.id.desc())
        .limit(1)
    ).first()
    if live is not None:
        values: dict[str, Any] = {
            "count": finding.c.count + 1,
            "last_seen": detected,
            "updated_at": now,
            "evidence": draft.evidence,
        }
        if SEVERITY_RANK.get(draft.severity, 0) > SEVERITY_RANK.get(live.severity, 0):
            values["severity"] = draft.severity  # severity only ever rises automatically
        conn.execute(finding.update().where(finding.c.id == live.id).values(**values))
        return Outcome("updated", int(live.id))
    quiet = conn.execute(
        select(finding.c.id)
        .where(
            finding.c.dedupe_key == draft.dedupe_key,
            finding.c.status.in_(("resolved", "dismissed")),
            finding.c.cooldown_until > now,
        )
        .order_by(finding.c.id.desc())
        .limit(1)
    ).scalar()
    if quiet is not None:
        conn.execute(
            finding.update().where(finding.c.id == quiet).values(count=finding.c.count + 1, last_seen=detected)
        )
        return Outcome("suppressed", int(quiet))
    place_id = draft.place_id
    if place_id is None and draft.lon is not None and index is not None:
        place_id = index.locate(draft.lon, draft.lat)  # type: ignore[arg-type]
    fid = conn.execute(
        finding.insert()
        .values(
            kind=draft.kind,
            severity=draft.severity,
            detected_at=detected,
            first_seen=detected,
            last_seen=detected,
            count=1,
            place_id=place_id,
            lon=draft.lon,
            lat=draft.lat,
            subject_site_id=draft.subject_site_id,
            title=draft.title.strip()[:300],
            evidence=draft.evidence,
            dedupe_key=draft.dedupe_key,
            status="open",
            updated_at=now,
            cooldown_until=None,
        )
        .returning(finding.c.id)
    ).scalar_one()
    return Outcome("created", int(fid))


def raise_findings(
    store: Store, drafts: Sequence[FindingDraft], *, index: PlaceIndex | None = None, now: datetime | None = None
) -> list[Outcome]:
    """File many drafts in one transaction; a draft that fails validation aborts none of the others."""
    out: list[Outcome] = []
    with store.begin() as conn:
        for d in drafts:
            try:
                out.append(raise_finding(conn, d, index=index, now=now))
            except ValueError as exc:
                out.append(Outcome(f"rejected: {exc}", -1))
    return out


def set_status(
    conn: Connection,
    finding_id: int,
    status: str,
    *,
    by: str,
    reason: str | None = None,
    cooldown: timedelta | None = None,
    now: datetime | None = None,
) -> None:
    """Change a finding's status along :data:`TRANSITIONS`.

    Dismissing needs a reason. Closing (resolved/dismissed) starts the cool-down of its dedupe key.
    """
    now = now or now_utc()
    row = conn.execute(select(finding.c.status).where(finding.c.id == finding_id)).first()
    if row is None:
        raise LookupError(f"finding {finding_id} does not exist")
    if status not in TRANSITIONS.get(row.status, ()):
        raise ValueError(f"finding {finding_id}: cannot go from {row.status} to {status}")
    if status == "dismissed" and not (reason and reason.strip()):
        raise ValueError(f"finding {finding_id}: dismissing needs a reason")
    values: dict[str, Any] = {
        "status": status,
        "status_by": by,
        "status_at": now,
        "status_reason": reason,
        "updated_at": now,
    }
    if status in ("resolved", "dismissed"):
        values["cooldown_until"] = now + (cooldown if cooldown is not None else timedelta(hours=6))
    conn.execute(finding.update().where(finding.c.id == finding_id).values(**values))


def query(
    store: Store,
    *,
    kinds: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    place_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Findings matching the filters, most severe and newest first, and the total count."""
    conds = []
    if kinds is not None:
        conds.append(finding.c.kind.in_(list(kinds)))
    if statuses is not None:
        conds.append(finding.c.status.in_(list(statuses)))
    if place_ids is not None:
        conds.append(finding.c.place_id.in_(list(place_ids)))
    if since is not None:
        conds.append(finding.c.last_seen >= since)
    where = and_(*conds) if conds else True
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(finding).where(where)).scalar_one()
        rows = (
            conn.execute(
                select(finding)
                .where(where)
                .order_by(
                    case(SEVERITY_RANK, value=finding.c.severity, else_=0).desc(),
                    finding.c.detected_at.desc(),
                    finding.c.id.desc(),
                )
                .limit(limit)
                .offset(offset)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows], int(total)


def get(store: Store, finding_id: int) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(finding).where(finding.c.id == finding_id)).mappings().first()
    return None if row is None else dict(row)
