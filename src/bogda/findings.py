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

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, select

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
    """File many drafts in one transaction (set-based, :func:`raise_findings_bulk`); a draft that fails validation
    aborts none of the others."""
    with store.begin() as conn:
        return raise_findings_bulk(conn, drafts, index=index, now=now)


@dataclass
class _Fold:
    """What the repeats of one dedupe key in a batch add up to (:func:`raise_findings_bulk`)."""

    target: int | None  # finding id; None while its insert is pending
    severity: str
    n: int = 0
    last_seen: datetime | None = None
    evidence: dict[str, Any] | None = None


def _insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert finding rows: on SQLite through the DB-API in SQLAlchemy's own storage format (naive UTC text
    timestamps, JSON text) — Core's per-row parameter processing costs more than the insert for 10⁴ rows —
    elsewhere through Core."""
    if conn.dialect.name != "sqlite":
        conn.execute(finding.insert(), rows)
        return
    dumps = conn.dialect._json_serializer or json.dumps  # what Core would use for the JSON column

    seen: dict[datetime, str] = {}  # detection times repeat (one per overpass): format each once

    def ts(v: datetime | None) -> str | None:
        if v is None:
            return None
        text = seen.get(v)
        if text is None:
            if v.tzinfo is None:
                raise ValueError(f"naive datetime {v!r}: store aware UTC times (bogda.timeutil.as_utc)")
            text = seen[v] = v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return text

    cols = ("kind", "severity", "detected_at", "first_seen", "last_seen", "count", "place_id", "lon", "lat")
    cols += ("subject_site_id", "title", "evidence", "dedupe_key", "status", "updated_at", "cooldown_until")
    data = [
        (
            r["kind"],
            r["severity"],
            ts(r["detected_at"]),
            ts(r["first_seen"]),
            ts(r["last_seen"]),
            r["count"],
            r["place_id"],
            r["lon"],
            r["lat"],
            r["subject_site_id"],
            r["title"],
            dumps(r["evidence"]),
            r["dedupe_key"],
            r["status"],
            ts(r["updated_at"]),
            ts(r["cooldown_until"]),
        )
        for r in rows
    ]
    conn.exec_driver_sql(f"INSERT INTO finding ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", data)


def raise_findings_bulk(
    conn: Connection,
    drafts: Sequence[FindingDraft],
    *,
    index: PlaceIndex | None = None,
    now: datetime | None = None,
    chunk: int = 500,
) -> list[Outcome]:
    """File many drafts inside the caller's transaction, set-based: the same outcome as calling
    :func:`raise_finding` on each draft in order, in a handful of statements instead of three per draft.

    The live and cooling-down findings of all the drafts' keys are read with one ``IN`` query per ``chunk`` keys;
    repeats of one key inside the batch are folded (count, last evidence, rising severity) before anything is
    written; new findings go in with one multi-row insert and the updates in one ``executemany`` each. A draft that
    fails validation gets ``Outcome("rejected: …", -1)`` and does not stop the others.
    """
    now = now or now_utc()
    out: list[Outcome | None] = [None] * len(drafts)
    valid: list[int] = []
    for i, d in enumerate(drafts):
        try:
            validate(d)
        except ValueError as exc:
            out[i] = Outcome(f"rejected: {exc}", -1)
            continue
        valid.append(i)
    if not valid:
        return [o for o in out if o is not None]
    keys = list(dict.fromkeys(drafts[i].dedupe_key for i in valid))
    live: dict[str, tuple[int, str]] = {}  # key → (newest live id, its severity)
    quiet: dict[str, int] = {}  # key → newest closed id still cooling down
    by_keys = finding.c.dedupe_key.in_(bindparam("keys", expanding=True))  # one compiled statement per chunk size
    known = (
        select(finding.c.id, finding.c.dedupe_key, finding.c.severity, finding.c.status, finding.c.cooldown_until)
        .where(by_keys, finding.c.status.in_((*LIVE, "resolved", "dismissed")))
        .order_by(finding.c.id)
    )
    for k in range(0, len(keys), chunk):
        for fid, key, sev, status, cool in conn.execute(known, {"keys": keys[k : k + chunk]}):
            if status in LIVE:
                live[key] = (int(fid), sev)  # ascending ids: the newest wins, as in raise_finding
            elif cool is not None and cool > now:
                quiet[key] = int(fid)

    folds: dict[str, _Fold] = {}
    suppressed: dict[int, list[Any]] = {}  # quiet id → [n, last_seen]
    created: list[int] = []  # draft positions that insert
    pending: list[tuple[int, str]] = []  # (draft position, key) resolved to the new id after the insert
    for i in valid:
        d = drafts[i]
        key = d.dedupe_key
        detected = d.detected_at or now
        f = folds.get(key)
        if f is None and key in live:
            f = folds[key] = _Fold(live[key][0], live[key][1])
        if f is not None:
            f.n += 1
            f.last_seen, f.evidence = detected, d.evidence
            if SEVERITY_RANK.get(d.severity, 0) > SEVERITY_RANK.get(f.severity, 0):
                f.severity = d.severity  # severity only ever rises automatically
            if f.target is None:
                pending.append((i, key))
            else:
                out[i] = Outcome("updated", f.target)
            continue
        if key in quiet:
            s = suppressed.setdefault(quiet[key], [0, detected])
            s[0] += 1
            s[1] = detected
            out[i] = Outcome("suppressed", quiet[key])
            continue
        created.append(i)
        folds[key] = _Fold(None, d.severity)

    new_ids: dict[str, int] = {}
    if created:
        pts = [(drafts[i].lon, drafts[i].lat) for i in created]
        located: list[int | None] = [drafts[i].place_id for i in created]
        need = [j for j, i in enumerate(created) if located[j] is None and drafts[i].lon is not None]
        if index is not None and need:
            found = index.locate_many([pts[j][0] for j in need], [pts[j][1] for j in need])
            for j, pid in zip(need, found, strict=True):
                located[j] = None if pid < 0 else int(pid)
        rows = []
        for j, i in enumerate(created):
            d = drafts[i]
            detected = d.detected_at or now
            f = folds[d.dedupe_key]  # repeats later in the batch are folded into the new row
            rows.append(
                {
                    "kind": d.kind,
                    "severity": f.severity,
                    "detected_at": detected,
                    "first_seen": detected,
                    "last_seen": f.last_seen or detected,
                    "count": 1 + f.n,
                    "place_id": located[j],
                    "lon": d.lon,
                    "lat": d.lat,
                    "subject_site_id": d.subject_site_id,
                    "title": d.title.strip()[:300],
                    "evidence": f.evidence if f.evidence is not None else d.evidence,
                    "dedupe_key": d.dedupe_key,
                    "status": "open",
                    "updated_at": now,
                    "cooldown_until": None,
                }
            )
        # one executemany without RETURNING (ordered RETURNING costs one statement per row on SQLite), then the ids
        # by key: each inserted key had no live finding, so its only live finding now is the one just inserted —
        # read as the rows above the previous highest id (one range scan), by key for any not found that way
        # (a concurrent writer's rows are not visible or carry other keys)
        before = conn.execute(select(func.max(finding.c.id))).scalar() or 0
        _insert_rows(conn, rows)
        made = [r["dedupe_key"] for r in rows]
        wanted = set(made)
        for fid, key in conn.execute(
            select(finding.c.id, finding.c.dedupe_key).where(finding.c.id > before, finding.c.status.in_(LIVE))
        ):
            if key in wanted:
                new_ids[key] = int(fid)
        missing = [k for k in made if k not in new_ids]
        ids_of = select(finding.c.id, finding.c.dedupe_key).where(by_keys, finding.c.status.in_(LIVE))
        for k in range(0, len(missing), chunk):
            new_ids.update((key, int(fid)) for fid, key in conn.execute(ids_of, {"keys": missing[k : k + chunk]}))
        for i in created:
            fid = new_ids[drafts[i].dedupe_key]
            out[i] = Outcome("created", fid)
            folds[drafts[i].dedupe_key].target = fid
        for i, key in pending:
            out[i] = Outcome("updated", new_ids[key])

    updates = [
        {"b_id": f.target, "b_n": f.n, "b_last": f.last_seen, "b_ev": f.evidence, "b_sev": f.severity}
        for key, f in folds.items()
        if key not in new_ids and f.n
    ]
    if updates:
        conn.execute(
            finding.update()
            .where(finding.c.id == bindparam("b_id"))
            .values(
                count=finding.c.count + bindparam("b_n"),
                last_seen=bindparam("b_last"),
                updated_at=now,
                evidence=bindparam("b_ev", type_=finding.c.evidence.type),
                severity=bindparam("b_sev"),
            ),
            updates,
        )
    if suppressed:
        conn.execute(
            finding.update()
            .where(finding.c.id == bindparam("b_id"))
            .values(count=finding.c.count + bindparam("b_n"), last_seen=bindparam("b_last")),
            [{"b_id": fid, "b_n": n, "b_last": last} for fid, (n, last) in suppressed.items()],
        )
    return [o for o in out if o is not None]


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
