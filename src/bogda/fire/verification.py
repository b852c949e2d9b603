"""Verification outcomes flowing back from the grid to fire events, detections and masks (fire.md §3.7).

A grid task closed with a verdict (straw, garbage, wildland, other_fire, industrial, false, not_found) writes the
verdict back to its event (``verdict``, ``outcome``, ``verified_at``, ``task_id``, ``class``); ``false`` labels the
event's detections ``verified_false``; ``industrial`` and repeated ``false`` verdicts make heat-source
**candidates** (never active masks: a person approves them, :mod:`bogda.fire.mask_sites`).

Fire does not import ``grid`` (floors): :func:`sync_task_verdicts` reads the closed tasks linked to fire findings
from the store tables. A task's own verdict is only ``confirmed`` / ``not_confirmed``; the fire verdict is taken
from the task's last ``confirm`` / ``not_confirm`` / ``feedback`` comment when it names one (``verdict: straw`` or
``核查结论：秸秆``), else ``confirmed`` → ``other_fire`` and ``not_confirmed`` → ``not_found`` (the cautious reading:
``not_found`` counts as a false alarm only in the strict rate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, select

from bogda import audit
from bogda.fire.config import FireConfig
from bogda.fire.events import VERDICT_OUTCOME, verdict_outcome
from bogda.fire.masks import feedback_candidates
from bogda.store import Store
from bogda.store.schema import (
    fire_detection,
    fire_event,
    fire_mask_site,
    fire_verification,
    task,
    task_event,
    task_finding,
)
from bogda.timeutil import as_utc, now_utc

VERDICT_WORDS = {
    "秸秆": "straw",
    "垃圾": "garbage",
    "野火": "wildland",
    "林草": "wildland",
    "其他火": "other_fire",
    "工业": "industrial",
    "热源": "industrial",
    "误报": "false",
    "未发现": "not_found",
    "未找到": "not_found",
}
"""Chinese words a grid member may write in the feedback, mapped to verdicts."""

_VERDICT_RE = re.compile(r"(?:verdict|核查结论|结论)\s*[:：=]\s*([A-Za-z_]+|[\u4e00-\u9fff]+)", re.IGNORECASE)


def verdict_from_text(text: str | None) -> str | None:
    """The fire verdict named in a feedback comment, or None.

    >>> verdict_from_text("verdict: straw"), verdict_from_text("核查结论：误报，彩钢屋顶"), verdict_from_text("ok")
    ('straw', 'false', None)
    """
    if not text:
        return None
    m = _VERDICT_RE.search(text)
    if not m:
        return None
    word = m.group(1).strip()
    if word.lower() in VERDICT_OUTCOME:
        return word.lower()
    for zh, v in VERDICT_WORDS.items():
        if word.startswith(zh):
            return v
    return None


_CLASS_OF = {"false": "false_alarm", "industrial": "industrial", "straw": "suspected_straw", "wildland": "wildland"}


@dataclass(frozen=True)
class VerdictOutcome:
    """What :func:`record_verdict` did."""

    event_id: str
    verdict: str
    outcome: str
    verification_id: int | None  # None when the same verdict was already recorded
    candidates: tuple[str, ...]  # heat-source candidates created


def record_verdict(
    store: Store,
    event_id: str,
    verdict: str,
    *,
    verified_at: datetime | None = None,
    task_id: int | None = None,
    by: str | None = None,
    user_id: int | None = None,
    note: str | None = None,
    config: FireConfig | None = None,
    peer: str | None = None,
) -> VerdictOutcome:
    """Write a verification verdict back to the event, its detections and the masks (fire.md §3.7).

    ``by`` names the person who gave it (then the write is audited); the grid sync passes no person.
    """
    outcome = verdict_outcome(verdict)  # ValueError for an unknown verdict
    at = as_utc(verified_at) if verified_at else now_utc()
    now = now_utc()
    with store.begin() as conn:
        ev = conn.execute(select(fire_event).where(fire_event.c.event_id == event_id)).first()
        if ev is None:
            raise LookupError(f"fire event {event_id} does not exist")
        dup = conn.execute(
            select(fire_verification.c.id).where(
                fire_verification.c.event_id == event_id,
                fire_verification.c.verdict == verdict,
                fire_verification.c.verified_at == at,
                (fire_verification.c.task_id == task_id)
                if task_id is not None
                else fire_verification.c.task_id.is_(None),
            )
        ).scalar()
        if dup is not None:
            return VerdictOutcome(event_id, verdict, outcome, None, ())
        vid = int(
            conn.execute(
                fire_verification.insert()
                .values(
                    event_id=event_id,
                    verdict=verdict,
                    outcome=outcome,
                    task_id=task_id,
                    finding_id=ev.finding_id,
                    verified_at=at,
                    verified_by=by,
                    lon=ev.lon,
                    lat=ev.lat,
                    note=note,
                    recorded_at=now,
                )
                .returning(fire_verification.c.id)
            ).scalar_one()
        )
        latest = conn.execute(
            select(fire_verification.c.verified_at)
            .where(fire_verification.c.event_id == event_id)
            .order_by(fire_verification.c.verified_at.desc())
            .limit(1)
        ).scalar_one()
        if latest == at:  # the latest verdict of an event wins
            conn.execute(
                fire_event.update()
                .where(fire_event.c.event_id == event_id)
                .values(
                    verdict=verdict,
                    outcome=outcome,
                    verified_at=at,
                    task_id=task_id,
                    updated_at=now,
                    **{"class": _CLASS_OF.get(verdict, ev._mapping["class"])},
                )
            )
            conn.execute(
                fire_detection.update()
                .where(fire_detection.c.event_id == event_id)
                .values(verified_false=outcome == "false")
            )
        made = _candidates(conn, config, now)
        if by is not None or user_id is not None:
            audit.record(
                conn,
                action="fire.verdict",
                user_id=user_id,
                login=by,
                target=f"fire_event:{event_id}",
                detail={"verdict": verdict, "outcome": outcome, "task_id": task_id, "note": note},
                peer=peer,
                at=now,
            )
    return VerdictOutcome(event_id, verdict, outcome, vid, tuple(made))


def _candidates(conn: Connection, config: FireConfig | None, now: datetime) -> list[str]:
    """Heat-source candidates from all verdicts (``verified_industrial``, ``false_alarm_site``); new ones only."""
    rows = conn.execute(
        select(
            fire_verification.c.event_id,
            fire_verification.c.verdict,
            fire_verification.c.verified_at,
            fire_verification.c.lon,
            fire_verification.c.lat,
        ).where(fire_verification.c.lon.is_not(None))
    ).all()
    if not rows:
        return []
    frame = pl.DataFrame(
        [dict(r._mapping) for r in rows],
        schema={
            "event_id": pl.String,
            "verdict": pl.String,
            "verified_at": pl.Datetime("us", "UTC"),
            "lon": pl.Float64,
            "lat": pl.Float64,
        },
    )
    cands = feedback_candidates(frame, config=config)
    have = set(conn.execute(select(fire_mask_site.c.source_id)).scalars())
    made = []
    for c in cands.iter_rows(named=True):
        if c["source_id"] in have:
            continue
        conn.execute(
            fire_mask_site.insert().values(
                source_id=c["source_id"],
                name=None,
                kind=c["kind"],
                lon=c["lon"],
                lat=c["lat"],
                datum_in="WGS84",
                radius_km=c["radius_km"] or 0.0,
                origin=c["origin"],
                status="candidate",
                stats={},
                note=c["note"],
                created_at=now,
                updated_at=now,
            )
        )
        made.append(c["source_id"])
    return made


def sync_task_verdicts(store: Store) -> list[VerdictOutcome]:
    """Write back the verdicts of closed grid tasks linked to fire findings (the daily cycle's return path)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(task.c.id, task.c.verdict, task.c.closed_at, fire_event.c.event_id)
            .join(task_finding, task_finding.c.task_id == task.c.id)
            .join(fire_event, fire_event.c.finding_id == task_finding.c.finding_id)
            .where(task.c.state == "CLOSED", task.c.verdict.is_not(None))
        ).all()
        done = {
            (r.event_id, r.task_id)
            for r in conn.execute(select(fire_verification.c.event_id, fire_verification.c.task_id))
        }
        todo: list[tuple[Any, str | None]] = []
        for r in rows:
            if (r.event_id, r.id) in done:
                continue
            comment = (
                conn.execute(
                    select(task_event.c.comment)
                    .where(task_event.c.task_id == r.id, task_event.c.event.in_(("confirm", "not_confirm", "feedback")))
                    .order_by(task_event.c.seq.desc())
                )
                .scalars()
                .all()
            )
            named = next((v for v in (verdict_from_text(c) for c in comment) if v), None)
            todo.append((r, named))
    out = []
    for r, named in todo:
        verdict = named or ("other_fire" if r.verdict == "confirmed" else "not_found")
        out.append(record_verdict(store, r.event_id, verdict, verified_at=r.closed_at, task_id=r.id))
    return out
