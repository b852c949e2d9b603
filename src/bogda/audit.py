"""The append-only audit log of every write by a person (architecture.md §4, issue 6).

Services call :func:`record` inside the same transaction as the write they audit, so a write and its audit row
commit or roll back together. Nothing in bogda updates or deletes audit rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from bogda.store import Store
from bogda.store.schema import audit
from bogda.timeutil import now_utc


def record(
    conn: Connection,
    *,
    action: str,
    user_id: int | None = None,
    login: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    peer: str | None = None,
    at: datetime | None = None,
) -> int:
    """Append one audit row; returns its id.

    Parameters
    ----------
    action : str
        Dotted verb, e.g. ``login.ok``, ``login.failed``, ``task.dispatch``, ``finding.dismiss``, ``access.denied``.
    target : str, optional
        What was acted on, e.g. ``task:17``, ``user:bob``.
    """
    if not action:
        raise ValueError("audit action is empty")
    return int(
        conn.execute(
            audit.insert()
            .values(
                at=at or now_utc(),
                user_id=user_id,
                login=login,
                action=action,
                target=target,
                detail=detail or {},
                peer=peer,
            )
            .returning(audit.c.id)
        ).scalar_one()
    )


def entries(
    store: Store, *, action_prefix: str | None = None, login: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Newest audit rows first, optionally filtered by action prefix or login."""
    q = select(audit).order_by(audit.c.id.desc()).limit(limit)
    if action_prefix:
        q = q.where(audit.c.action.startswith(action_prefix))
    if login:
        q = q.where(audit.c.login == login)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
