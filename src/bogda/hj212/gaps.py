"""Gap scan: find missing minute and hour records per device and parameter, and queue history recalls for them
(spec hj212.md §3.6 "Recall", §6 ``gap_scan``).

For each registered device, the series of its station/outlet at resolution ``min`` (2051) and ``hour`` (2061) are
read over the look-back window (default 48 h). A slot is missing when a parameter the device reports has no value
at that interval start; the device's minute interval (MinInterval) is the most common spacing of its minute
records (1–30 min), hours are hourly. A series is checked from its first record on (a device is not asked for
times before it ever reported), up to the last slot that should have arrived: its interval ended more than ``lag``
(20 min) ago.

Missing slots of one device and resolution are merged into ranges of at most ``max_span`` (24 h) and queued as
``hj212_command`` rows (source ``gap_scan``, 2051/2061 with BeginTime/EndTime = first and last missing interval
start); the gateway holding the device's connection sends them. Bounds: a slot is asked for at most ``max_tries``
times (3: counted from earlier gap-scan commands covering it), no slot is asked again while a command covering it
is still under way, at most ``max_concurrent`` (200) gap-scan commands are waiting or under way in all, and at most
``per_device`` new ones per device per run. Pure slot arithmetic is in :func:`missing_slots` and
:func:`merge_ranges`; :func:`gap_scan` does the reading and queueing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bogda.store.db import Store

__all__ = ["GapReport", "gap_scan", "infer_step", "merge_ranges", "missing_slots"]

_CN_BY_RESOLUTION = {"min": "2051", "hour": "2061"}
_MIN_STEPS = (60, 120, 180, 240, 300, 360, 600, 720, 900, 1200, 1800)  # HJ 212 MinInterval values [s]


def infer_step(timestamps: Sequence[int], default: int = 600) -> int:
    """The device's minute interval [s]: the most common spacing of its minute records, snapped to a MinInterval
    of HJ 212 (1–6, 10, 12, 15, 20, 30 min); ``default`` with fewer than two records.

    >>> infer_step([0, 600, 1200, 2400, 3000])
    600
    """
    ts = sorted(set(timestamps))
    diffs = Counter(b - a for a, b in itertools.pairwise(ts) if b > a)
    if not diffs:
        return default
    common = diffs.most_common(1)[0][0]
    return min(_MIN_STEPS, key=lambda s: abs(s - common))


def missing_slots(present: Iterable[int], begin: int, end: int, step: int) -> list[int]:
    """Interval starts in ``[begin, end]`` (aligned to ``step`` from the epoch, i.e. to Beijing-time minutes and
    hours too, UTC+8 being whole hours) that are not in ``present`` [Unix s].

    >>> missing_slots([0, 600, 1800], 0, 2400, 600)
    [1200, 2400]
    """
    have = set(present)
    first = -(-begin // step) * step
    return [t for t in range(first, end + 1, step) if t not in have]


def merge_ranges(slots: Sequence[int], step: int, max_span: int) -> list[tuple[int, int]]:
    """Consecutive slots → ``(first, last)`` ranges, none longer than ``max_span`` [s] from first to last.

    >>> merge_ranges([0, 600, 1200, 3000, 3600], 600, 86400)
    [(0, 1200), (3000, 3600)]
    >>> merge_ranges([0, 600, 1200], 600, 600)
    [(0, 600), (1200, 1200)]
    """
    out: list[tuple[int, int]] = []
    for t in sorted(slots):
        if out and t - out[-1][1] == step and t - out[-1][0] <= max_span:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


@dataclass
class GapReport:
    """What one scan found and did."""

    devices: int = 0
    series: int = 0
    missing_slots: int = 0
    queued: list[dict[str, Any]] = field(default_factory=list)
    exhausted_slots: int = 0
    """Missing slots not asked for again: ``max_tries`` recalls already covered them."""
    in_flight_slots: int = 0
    """Missing slots a gap-scan command still under way covers."""
    skipped_concurrency: int = 0
    """Ranges not queued this run because ``max_concurrent`` commands are waiting already."""


def _epoch(t: str) -> int:
    d = datetime.fromisoformat(t)
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return int(d.timestamp())


def gap_scan(
    store: Store,
    now: datetime | None = None,
    *,
    lookback: timedelta = timedelta(hours=48),
    lag: timedelta = timedelta(minutes=20),
    max_span: timedelta = timedelta(hours=24),
    max_tries: int = 3,
    max_concurrent: int = 200,
    per_device: int = 2,
    mns: Iterable[str] | None = None,
    dry_run: bool = False,
) -> GapReport:
    """Scan every registered device (or ``mns``) and queue recalls (module docstring)."""
    from bogda.hj212.command_store import ACTIVE_STATES, enqueue_command
    from bogda.hj212.ingest import load_devices
    from bogda.store.schema import hj212_command, observation, series

    now = now or datetime.now(UTC)
    now_s = int(now.timestamp())
    lo = now_s - int(lookback.total_seconds())
    hi = now_s - int(lag.total_seconds())
    report = GapReport()
    devices = load_devices(store)
    wanted = set(mns) if mns is not None else None
    c = hj212_command.c
    with store.engine.connect() as conn:
        active = conn.execute(
            select(func.count()).select_from(hj212_command).where(c.source == "gap_scan", c.state.in_(ACTIVE_STATES))
        ).scalar_one()
        history = conn.execute(
            select(c.mn, c.cn, c.params, c.state).where(
                c.source == "gap_scan", c.created_at >= now - lookback - max_span - timedelta(hours=1)
            )
        ).all()
    tries: dict[tuple[str, str], list[tuple[int, int, bool]]] = {}
    for mn, cn, params, state in history:
        try:
            b, e = _epoch(params["begin"]), _epoch(params["end"])
        except (KeyError, TypeError, ValueError):
            continue
        tries.setdefault((mn, cn), []).append((b, e, state in ACTIVE_STATES))
    budget = max(0, max_concurrent - active)
    plans: list[tuple[str, str, int, int]] = []
    for mn, dev in sorted(devices.items()):
        if wanted is not None and mn not in wanted:
            continue
        site_id = dev.parent_id if dev.parent_id is not None else dev.site_id
        report.devices += 1
        with store.engine.connect() as conn:
            ser = conn.execute(
                select(series.c.id, series.c.parameter, series.c.resolution).where(
                    series.c.site_id == site_id, series.c.resolution.in_(tuple(_CN_BY_RESOLUTION))
                )
            ).all()
            by_res: dict[str, list[tuple[int, str]]] = {}
            for sid, parameter, resolution in ser:
                if "-" not in parameter:  # main values only: Min/Max/Cou come in the same frames
                    by_res.setdefault(resolution, []).append((sid, parameter))
            for resolution, items in sorted(by_res.items()):
                cn = _CN_BY_RESOLUTION[resolution]
                ids = [sid for sid, _ in items]
                rows = conn.execute(
                    select(observation.c.series_id, observation.c.ts).where(
                        observation.c.series_id.in_(ids), observation.c.ts >= lo, observation.c.ts <= hi
                    )
                ).all()
                firsts = dict(
                    conn.execute(
                        select(observation.c.series_id, func.min(observation.c.ts))
                        .where(observation.c.series_id.in_(ids))
                        .group_by(observation.c.series_id)
                    ).all()
                )
                present: dict[int, list[int]] = {}
                for sid, ts in rows:
                    present.setdefault(sid, []).append(int(ts))
                step = 3600 if resolution == "hour" else infer_step([t for v in present.values() for t in v])
                slots: set[int] = set()
                for sid in ids:
                    first = firsts.get(sid)
                    if first is None:
                        continue
                    report.series += 1
                    # a record arrives at the end of its interval: the last slot due starts one step before hi
                    slots.update(missing_slots(present.get(sid, ()), max(lo, int(first)), hi - step, step))
                if not slots:
                    continue
                report.missing_slots += len(slots)
                covered = tries.get((mn, cn), [])
                keep = []
                for t in sorted(slots):
                    hits = [a for b, e, a in covered if b <= t <= e]
                    if any(hits):
                        report.in_flight_slots += 1
                    elif len(hits) >= max_tries:
                        report.exhausted_slots += 1
                    else:
                        keep.append(t)
                for b, e in merge_ranges(keep, step, int(max_span.total_seconds()))[:per_device]:
                    plans.append((mn, cn, b, e))
    # oldest gaps first across devices, so a bounded budget does not always favour the same devices
    plans.sort(key=lambda p: (p[2], p[0]))
    if len(plans) > budget:
        report.skipped_concurrency = len(plans) - budget
        plans = plans[:budget]
    if plans and not dry_run:
        with store.begin() as conn:
            for mn, cn, b, e in plans:
                params = {
                    "begin": datetime.fromtimestamp(b, UTC).isoformat(),
                    "end": datetime.fromtimestamp(e, UTC).isoformat(),
                }
                try:
                    cid = enqueue_command(conn, mn, cn, params, source="gap_scan")  # created now (command_ttl)
                except ValueError as exc:  # the device's queue is full: try again next run
                    report.skipped_concurrency += 1
                    report.queued.append({"mn": mn, "cn": cn, "begin": params["begin"], "end": params["end"],
                                          "id": None, "error": str(exc)})  # fmt: skip
                    continue
                report.queued.append({"mn": mn, "cn": cn, "begin": params["begin"], "end": params["end"], "id": cid})
    elif plans:
        for mn, cn, b, e in plans:
            report.queued.append({"mn": mn, "cn": cn, "begin": datetime.fromtimestamp(b, UTC).isoformat(),
                                  "end": datetime.fromtimestamp(e, UTC).isoformat(), "id": None})  # fmt: skip
    return report
