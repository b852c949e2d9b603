"""Platform commands kept in the database (table ``hj212_command``; spec hj212.md §3.6).

A command is queued by an operator (console, API, ``bogda hj212 command``), by the gap scan (recalls) or by the
gateway itself (time sync on connect, on a 1013, on clock drift). The gateway that holds the device's connection
claims queued rows, sends them and writes every change of state back:

``queued → sent → accepted → done`` or ``failed`` (refused by the device, ``exe:<n>``), ``timed_out`` (no 9011
within OverTime × (ReCount + 1): ``no_answer``; no 9012 in time: ``exec_timeout``), ``expired`` (still queued after
``command_ttl``), ``cancelled`` (by an operator). ``attempts`` counts the frames sent (1 + re-sends).

Across a restart: rows a gateway had ``sent`` or ``accepted`` when it stopped (or died) go back to ``queued`` when
it starts again (note ``gateway_restart``; the device never answered on this gateway's new connections) and are
sent again, with a new QN, once the device is back. These functions are plain database operations; the gateway
calls them from a worker thread, never from its event loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from bogda.hj212 import codes
from bogda.store.schema import hj212_command

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "CommandRow",
    "cancel_command",
    "claim_commands",
    "enqueue_command",
    "list_commands",
    "prune_commands",
    "recover_commands",
    "update_command",
    "validate_command",
]

ACTIVE_STATES = ("queued", "sent", "accepted")
FINAL_STATES = ("done", "failed", "timed_out", "expired", "cancelled")
_RTD_RANGE = (30, 3600)  # 1062 RtdInterval [s], HJ 212-2017 Table C
_MIN_INTERVALS = {1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30}  # 1064 MinInterval [min]


@dataclass(frozen=True, slots=True)
class CommandRow:
    """A row of ``hj212_command`` as the gateway needs it."""

    id: int
    mn: str
    cn: str
    params: dict[str, Any]
    source: str
    state: str
    attempts: int
    created_at: datetime


def _aware(t: datetime | None) -> datetime | None:
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t


def validate_command(cn: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check a command before it is queued; returns normalised ``params``.

    Raises
    ------
    ValueError
        naming the command code and the parameter that is wrong.
    """
    if cn not in codes.REQUEST_CN:
        raise ValueError(f"command {cn}: not a platform request code of HJ 212 (spec §3.6)")
    out = dict(params or {})
    if cn in codes.RECALL_CN:
        try:
            begin = datetime.fromisoformat(str(out["begin"]))
            end = datetime.fromisoformat(str(out["end"]))
        except KeyError as exc:
            raise ValueError(f"command {cn}: recall needs 'begin' and 'end' (ISO times), missing {exc}") from None
        except ValueError as exc:
            raise ValueError(f"command {cn}: begin/end are not ISO times ({exc})") from None
        begin, end = _aware(begin), _aware(end)
        assert begin is not None and end is not None
        if end < begin:
            raise ValueError(f"command {cn}: end {end.isoformat()} is before begin {begin.isoformat()}")
        out["begin"], out["end"] = begin.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()
    fields = {str(k): str(v) for k, v in (out.get("fields") or {}).items()}
    if cn == "1062":
        rtd = fields.get("RtdInterval", "")
        if not rtd.isdigit() or not _RTD_RANGE[0] <= int(rtd) <= _RTD_RANGE[1]:
            raise ValueError(f"command 1062: RtdInterval must be {_RTD_RANGE[0]}-{_RTD_RANGE[1]} s, not {rtd!r}")
    if cn == "1064":
        mi = fields.get("MinInterval", "")
        if not mi.isdigit() or int(mi) not in _MIN_INTERVALS:
            raise ValueError(f"command 1064: MinInterval must be one of {sorted(_MIN_INTERVALS)} min, not {mi!r}")
    if cn == "1000":
        for key in ("OverTime", "ReCount"):
            v = fields.get(key, "")
            if not v.isdigit() or not 1 <= int(v) <= 99:
                raise ValueError(f"command 1000: {key} must be 1-99, not {v!r}")
    if cn == "1072" and not (fields.get("NewPW") or fields.get("PW")):
        raise ValueError("command 1072: NewPW is required")
    if fields:
        out["fields"] = fields
    return out


def enqueue_command(
    conn: Connection,
    mn: str,
    cn: str,
    params: dict[str, Any] | None = None,
    *,
    source: str = "operator",
    requested_by: str | None = None,
    gateway_id: str | None = None,
    state: str = "queued",
    queue_max: int = 50,
    now: datetime | None = None,
) -> int:
    """Queue a command for ``mn``; returns its id.

    Raises
    ------
    ValueError
        for a bad command (:func:`validate_command`) or when ``queue_max`` commands are already waiting for this
        device (``command_queue_max``, spec §6).
    """
    clean = validate_command(cn, params or {})
    waiting = conn.execute(
        select(func.count())
        .select_from(hj212_command)
        .where(hj212_command.c.mn == mn, hj212_command.c.state.in_(ACTIVE_STATES))
    ).scalar_one()
    if waiting >= queue_max:
        raise ValueError(f"device {mn}: {waiting} commands already waiting (command_queue_max = {queue_max})")
    now = now or datetime.now(UTC)
    values = dict(mn=mn, cn=cn, params=clean, source=source[:16], requested_by=requested_by, gateway_id=gateway_id,
                  state=state, attempts=0, data_frames=0, created_at=now, updated_at=now)  # fmt: skip
    return int(conn.execute(hj212_command.insert().values(**values)).inserted_primary_key[0])


def update_command(conn: Connection, command_id: int, **values: Any) -> None:
    """Write a change of state (any columns) and ``updated_at``."""
    values.setdefault("updated_at", datetime.now(UTC))
    conn.execute(update(hj212_command).where(hj212_command.c.id == command_id).values(**values))


def _row(r: Any) -> CommandRow:
    return CommandRow(r.id, r.mn, r.cn, dict(r.params or {}), r.source, r.state, r.attempts, _aware(r.created_at))


def claim_commands(
    conn: Connection,
    gateway_id: str,
    online: Iterable[str],
    *,
    busy: Iterable[str] = (),
    ttl: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> list[CommandRow]:
    """Expire queued rows older than ``ttl``, then claim the oldest queued row of each device in ``online`` that
    is not ``busy`` (one in flight per MN) for ``gateway_id``."""
    now = now or datetime.now(UTC)
    t = hj212_command.c
    conn.execute(
        update(hj212_command)
        .where(t.state == "queued", t.created_at < now - ttl)
        .values(state="expired", error="command_ttl", finished_at=now, updated_at=now)
    )
    wanted = set(online) - set(busy)
    if not wanted:
        return []
    rows = conn.execute(
        select(hj212_command)
        .where(t.state == "queued", or_(t.gateway_id.is_(None), t.gateway_id == gateway_id))
        .order_by(t.id)
    ).all()
    out: list[CommandRow] = []
    taken: set[str] = set()
    for r in rows:
        if r.mn not in wanted or r.mn in taken:
            continue
        n = conn.execute(
            update(hj212_command)
            .where(t.id == r.id, t.state == "queued", or_(t.gateway_id.is_(None), t.gateway_id == gateway_id))
            .values(gateway_id=gateway_id, updated_at=now)
        ).rowcount
        if n == 1:  # another gateway may have taken it meanwhile
            taken.add(r.mn)
            out.append(_row(r))
    return out


def recover_commands(conn: Connection, gateway_id: str, now: datetime | None = None) -> int:
    """At gateway start: its rows left ``sent``/``accepted`` go back to ``queued`` (sent again, new QN); returns how
    many."""
    now = now or datetime.now(UTC)
    t = hj212_command.c
    return conn.execute(
        update(hj212_command)
        .where(t.gateway_id == gateway_id, t.state.in_(("sent", "accepted")))
        .values(state="queued", gateway_id=None, qn=None, error="gateway_restart", updated_at=now)
    ).rowcount


def cancel_command(conn: Connection, command_id: int, by: str | None = None) -> bool:
    """Cancel a command that has not been sent yet; ``False`` when it is already under way or finished."""
    now = datetime.now(UTC)
    t = hj212_command.c
    return (
        conn.execute(
            update(hj212_command)
            .where(t.id == command_id, t.state == "queued")
            .values(state="cancelled", error=f"by:{by}"[:64] if by else "cancelled", finished_at=now, updated_at=now)
        ).rowcount
        == 1
    )


def list_commands(
    conn: Connection,
    *,
    mns: Iterable[str] | None = None,
    states: Iterable[str] | None = None,
    source: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Commands, newest first, as plain dicts (API and console)."""
    t = hj212_command.c
    conds = []
    if mns is not None:
        conds.append(t.mn.in_(list(mns)))
    if states is not None:
        conds.append(t.state.in_(list(states)))
    if source is not None:
        conds.append(t.source == source)
    if since is not None:
        conds.append(t.created_at >= since)
    q = select(hj212_command).order_by(t.id.desc()).limit(limit)
    if conds:
        q = q.where(and_(*conds))
    out = []
    for r in conn.execute(q):
        d = dict(r._mapping)
        for k in ("created_at", "sent_at", "answered_at", "finished_at", "updated_at"):
            d[k] = _aware(d[k])
        out.append(d)
    return out


def prune_commands(conn: Connection, older_than: timedelta = timedelta(days=90), now: datetime | None = None) -> int:
    """Delete finished commands older than ``older_than`` (time syncs on every connect add a row per device every
    ``time_sync_min_gap``); returns how many."""
    now = now or datetime.now(UTC)
    t = hj212_command.c
    return conn.execute(
        hj212_command.delete().where(t.state.in_(FINAL_STATES), t.updated_at < now - older_than)
    ).rowcount
