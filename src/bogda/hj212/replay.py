"""Replay archived frames with the current registry (spec hj212.md §7: ``bogda hj212 replay --from --to [--mn]``).

Nothing the gateway received is lost: every inbound frame is a ``raw_frame`` row with its exact bytes. After an
operator fixes what made frames unusable — registers an unknown MN (policy ``archive``, ``quarantine`` or
``pending``), corrects a password, sets a device's ``crc_mode``, ``code_scheme``, aliases or units — this re-parses
the inbound frames of a time range with the registry as it is now and writes their observations through the same
idempotent path as the loader (key: series = device's station/outlet × parameter × resolution, and DataTime).
Values already stored are unchanged; ``source_id`` points at the replayed frame.

A frame is replayed only if it would be accepted today: its MN is registered, it parses as accepted under the
device's ``mode``/``crc_mode``, it is an upload with a DataTime, and — for frames the gateway did not accept
(``unknown_mn``, ``pw_mismatch``, ``quarantined``, ``rejected``) — the PW it carries verifies against the
registered hash (or the device has ``pw_check`` off). ``raw_frame`` rows are evidence and are never modified.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import select

from bogda.hj212.codec import parse_frame
from bogda.hj212.ingest import observation_rows
from bogda.store.db import Store
from bogda.store.schema import raw_frame

__all__ = ["ReplayReport", "replay_frames"]

_ACCEPTED = ("accepted", "accepted_lenient", "duplicate")
_REPLAYABLE = (*_ACCEPTED, "unknown_mn", "pw_mismatch", "quarantined", "rejected")


@dataclass
class ReplayReport:
    """What a replay read and wrote."""

    frames: int = 0
    replayed: int = 0
    observations_written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """Frames not replayed, by reason (``unregistered``, ``not_accepted``, ``pw_mismatch``, ``no_data`` …)."""


def replay_frames(
    store: Store,
    begin: datetime,
    end: datetime,
    *,
    mns: list[str] | None = None,
    statuses: tuple[str, ...] = _REPLAYABLE,
    batch: int = 2000,
    verify: Any = None,
) -> ReplayReport:
    """Re-parse and store the inbound frames received in ``[begin, end)`` (module docstring).

    Parameters
    ----------
    verify : callable, optional
        ``verify(pw_hash, password) -> bool``; default argon2 (:func:`bogda.registry.devices.verify_password`).
    """
    from bogda.hj212.ingest import load_devices
    from bogda.store.series import ensure_series, write_batch

    if verify is None:
        from bogda.registry.devices import verify_password as verify
    devices = load_devices(store)
    report = ReplayReport()
    checked: dict[tuple[str, str], bool] = {}
    t = raw_frame.c
    q = (
        select(t.id, t.mn, t.status, t.data, t.text)
        .where(t.direction == "in", t.received_at >= begin, t.received_at < end, t.status.in_(statuses))
        .order_by(t.id)
    )
    if mns:
        q = q.where(t.mn.in_(mns))
    series_ids: dict[tuple[int, str, str], int] = {}
    pending: list[tuple[int, str, str, str, int, float | None, str, int]] = []

    def flush() -> None:
        if not pending:
            return
        with store.begin() as conn:
            missing = {(o[0], o[1], o[2]): o[3] for o in pending if (o[0], o[1], o[2]) not in series_ids}
            for key, unit in missing.items():
                try:
                    ids = ensure_series(conn, [(key[0], key[1], key[2], unit)])
                except ValueError:  # the series has another unit: keep it (values are never converted)
                    ids = ensure_series(conn, [(key[0], key[1], key[2], "")])
                for k, sid in ids.items():
                    series_ids[(k.site_id, k.parameter, k.resolution)] = sid
            frame = pl.DataFrame(
                {
                    "series_id": [series_ids[(o[0], o[1], o[2])] for o in pending],
                    "ts": [o[4] for o in pending],
                    "value": [o[5] for o in pending],
                    "flag": [o[6] for o in pending],
                    "source_id": [o[7] for o in pending],
                },
                schema={"series_id": pl.Int64, "ts": pl.Int64, "value": pl.Float64, "flag": pl.Utf8,
                        "source_id": pl.Int64},
            )  # fmt: skip
            result = write_batch(store, conn, frame, reason="HJ 212 replay with changed value")
        report.observations_written += result.inserted
        pending.clear()

    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    for raw_id, mn, status, data, text in rows:
        report.frames += 1
        dev = devices.get(mn or "")
        if dev is None:
            report.skipped["unregistered"] += 1
            continue
        frame_bytes = bytes(data) if data is not None else (text or "").encode("utf-8")
        r = parse_frame(frame_bytes, mode=dev.mode, crc_mode=dev.crc_mode)
        if not r.accepted:
            report.skipped["not_accepted"] += 1
            continue
        if status not in _ACCEPTED and dev.pw_check:
            key = (mn, r.PW or "")
            ok = checked.get(key)
            if ok is None:
                ok = checked[key] = r.PW is not None and bool(verify(dev.pw_hash, r.PW))
            if not ok:
                report.skipped["pw_mismatch"] += 1
                continue
        obs = observation_rows(r, dev)
        if not obs:
            report.skipped["no_data"] += 1
            continue
        site_id = dev.parent_id if dev.parent_id is not None else dev.site_id
        pending.extend((site_id, p, res, unit, ts, value, flag, raw_id) for p, res, unit, ts, value, flag in obs)
        report.replayed += 1
        if len(pending) >= batch * 20:
            flush()
    flush()
    return report
