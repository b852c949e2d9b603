"""Unknown data loggers waiting for approval (``unknown_mn_policy = pending``; spec hj212.md §3.4).

The gateway archives the frames of an MN it does not know and, under this policy, announces the MN once per
connection; the loader keeps one ``hj212_pending_device`` row per MN (first/last seen, peer, ST, protocol, frame
count and an argon2 hash of the PW it presented). An operator approves it onto a station or outlet — the MN is then
registered with that hash, and the logger's next frames (it re-sends what was not acknowledged) are accepted at the
gateway's next registry refresh — or rejects it (it stays archived-only and listed as rejected).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from bogda.store.schema import device, hj212_pending_device

__all__ = ["approve_pending", "list_pending", "reject_pending"]


def list_pending(conn: Connection, *, status: str | None = "pending") -> list[dict[str, Any]]:
    """Pending (or all, ``status=None``) unknown devices, most recently seen first; no password hashes."""
    t = hj212_pending_device.c
    q = select(hj212_pending_device).order_by(t.last_seen.desc())
    if status is not None:
        q = q.where(t.status == status)
    out = []
    for r in conn.execute(q):
        d = dict(r._mapping)
        d.pop("pw_hash", None)
        d["has_pw"] = r.pw_hash is not None
        out.append(d)
    return out


def approve_pending(
    conn: Connection, mn: str, parent_site_id: int, *, by: str, password: str | None = None, st: str | None = None
) -> int:
    """Register a pending MN under station/outlet ``parent_site_id``; returns the new device's site id.

    The device keeps the PW it presented (its argon2 hash) unless ``password`` is given.

    Raises
    ------
    ValueError
        when the MN is not pending, has no PW on record and none is given, or the registry refuses it.
    """
    from bogda.registry.devices import add_device

    t = hj212_pending_device.c
    row = conn.execute(select(hj212_pending_device).where(t.mn == mn)).first()
    if row is None or row.status != "pending":
        raise ValueError(f"device {mn}: not waiting for approval ({row.status if row else 'never seen'})")
    if password is None and row.pw_hash is None:
        raise ValueError(f"device {mn}: it presented no PW; give the password to register it with")
    site_id = add_device(
        conn, mn=mn, password=password or "placeholder-replaced-below", parent_id=parent_site_id,
        protocol=row.protocol or "2017", st=st or row.st,
    )  # fmt: skip
    if password is None:
        conn.execute(update(device).where(device.c.mn == mn).values(pw_hash=row.pw_hash))
    conn.execute(
        update(hj212_pending_device)
        .where(t.mn == mn)
        .values(status="approved", site_id=site_id, decided_by=by, decided_at=datetime.now(UTC))
    )
    return site_id


def reject_pending(conn: Connection, mn: str, *, by: str, note: str | None = None) -> None:
    """Mark a pending MN rejected (its frames stay archived only)."""
    t = hj212_pending_device.c
    n = conn.execute(
        update(hj212_pending_device)
        .where(t.mn == mn, t.status == "pending")
        .values(status="rejected", decided_by=by, decided_at=datetime.now(UTC), note=note)
    ).rowcount
    if not n:
        raise ValueError(f"device {mn}: not waiting for approval")
