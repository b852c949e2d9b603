"""Load the gateway's write-ahead log into the store: ``raw_frame`` rows, observations, device state
(spec hj212.md §3.9, §4.2; architecture §4).

The loader reads the log (:mod:`bogda.hj212.wal`) in order, in batches. Each batch is **one** transaction that
inserts the batch's ``raw_frame`` rows (unique on ``(gateway_id, seq)``: a record loaded twice inserts nothing),
writes the observations of its accepted uploads with :func:`bogda.store.series.write_batch` (keyed by
``(series_id, ts)``, i.e. (MN → site, CN → resolution, DataTime, code): replaying a frame writes nothing new),
updates ``hj212_device_state`` and moves ``hj212_wal_checkpoint`` — rows and checkpoint commit or vanish together.
After a crash the loader resumes at the checkpoint; whatever it re-reads is idempotent. So: every acknowledged
frame (durable in the log before its ack) reaches the store exactly once.

Values → series (spec §3.7):

- site = the device's parent site (station or outlet); resolution from CN: 2011 ``rt``, 2051 ``min``, 2061
  ``hour``, 2031 ``day`` (other CNs are kept as raw frames only);
- parameter = canonical 2017 code (:func:`bogda.hj212.codec.measurements`: 2005 mapping and vendor aliases per
  device); the main value is ``Rtd`` for ``rt`` and ``Avg`` otherwise; the other numeric suffixes (``Min``,
  ``Max``, ``Cou``, ``ZsRtd``, ``ZsAvg`` …) go to parameter ``<code>-<suffix>``;
- unit from the device's registry mapping, else the bogda default (:func:`bogda.hj212.codes.unit_for`);
- flag = the HJ 212 ``-Flag`` verbatim (``N`` when absent): values with a non-normal flag (``D``, ``M``, ``C``,
  ``F`` …) are stored and carry that flag, which marks them invalid for assessments; a non-numeric value is
  stored as NULL with its flag;
- ``source_id`` = the ``raw_frame`` id, so evidence can point at the frame.

Duplicates: an accepted upload whose exact bytes were already stored for the same (MN, CN, QN) gets raw status
``duplicate`` (its observations are unchanged anyway).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, select, update

from bogda.hj212 import codes
from bogda.hj212.auth import DeviceInfo
from bogda.hj212.codec import ParseResult, parse_frame
from bogda.hj212.wal import WalPosition, WalReader, WalRecord
from bogda.store.db import Store
from bogda.store.schema import hj212_device_state, hj212_wal_checkpoint, raw_frame
from bogda.store.series import ensure_series, write_batch

__all__ = [
    "RESOLUTION_BY_CN",
    "LoadStats",
    "Loader",
    "load_devices",
    "observation_rows",
    "read_checkpoint",
]

log = logging.getLogger("bogda.hj212.ingest")
RESOLUTION_BY_CN: dict[str, str] = {"2011": "rt", "2051": "min", "2061": "hour", "2031": "day"}
"""Series resolution of each upload CN that carries measurements (spec §4.2 kinds)."""
_MAIN_SUFFIX = {"rt": ("Rtd", "Avg", "Data"), "min": ("Avg", "Rtd", "Data"), "hour": ("Avg", "Rtd", "Data")}
_MAIN_SUFFIX["day"] = _MAIN_SUFFIX["hour"]
_EXTRA_SUFFIXES = ("Min", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax")
_STORED_OK = ("accepted", "accepted_lenient")
_REJECTED = ("rejected", "unknown_mn", "pw_mismatch", "scanner", "ip_refused")


def _allowed_ips(mn: str, *attrs_chain: Any) -> tuple[str, ...] | None:
    """The first ``hj212.allowed_ips`` along device → station/outlet → enterprise (``None``: not restricted)."""
    for attrs in attrs_chain:
        opts = (attrs or {}).get("hj212", {}) if isinstance(attrs, dict) else {}
        value = opts.get("allowed_ips") if isinstance(opts, dict) else None
        if value is None:
            continue
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, list | tuple):
            log.warning("device %s: allowed_ips %r is not a list; the device is refused from every address", mn, value)
            return ()
        return tuple(str(v) for v in value)
    return None


def _on_connect(mn: str, value: Any) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """``attrs.hj212.on_connect``: a list of CNs or ``{"cn": …, "fields": {…}}``; bad entries are logged, skipped."""
    out = []
    for item in value or ():
        if isinstance(item, str | int):
            out.append((str(item), ()))
        elif isinstance(item, dict) and item.get("cn"):
            fields = item.get("fields") or {}
            out.append((str(item["cn"]), tuple((str(k), str(v)) for k, v in dict(fields).items())))
        else:
            log.warning("device %s: on_connect entry %r is neither a CN nor {cn, fields}; skipped", mn, item)
    return tuple(out)


def load_devices(store: Store) -> dict[str, DeviceInfo]:
    """All registered devices with their parent site and per-device HJ 212 settings (``site.attrs["hj212"]``:
    ``mode``, ``crc_mode``, ``pw_check``, ``code_scheme``, ``heartbeat_reply``; ``allowed_ips`` also from the
    station/outlet or the enterprise above it)."""
    from sqlalchemy.orm import aliased

    from bogda.store.schema import device, site

    parent = aliased(site)
    grand = aliased(site)
    out: dict[str, DeviceInfo] = {}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                device.c.mn,
                device.c.pw_hash,
                device.c.site_id,
                site.c.parent_id,
                device.c.protocol,
                device.c.st,
                device.c.units,
                site.c.attrs,
                parent.c.attrs,
                grand.c.attrs,
            )
            .join(site, site.c.id == device.c.site_id)
            .outerjoin(parent, parent.c.id == site.c.parent_id)
            .outerjoin(grand, grand.c.id == parent.c.parent_id)
        )
        for mn, pw_hash, site_id, parent_id, protocol, st, units, attrs, p_attrs, g_attrs in rows:
            opts = (attrs or {}).get("hj212", {}) if isinstance(attrs, dict) else {}
            out[mn] = DeviceInfo(
                mn=mn,
                pw_hash=pw_hash,
                site_id=site_id,
                parent_id=parent_id,
                protocol=protocol,
                st=st,
                units=dict(units or {}),
                mode=opts.get("mode", "lenient"),
                crc_mode=opts.get("crc_mode", "auto"),
                pw_check=bool(opts.get("pw_check", True)),
                code_scheme=opts.get("code_scheme", "2005" if protocol == "2005" else "2017"),
                allowed_ips=_allowed_ips(mn, attrs, p_attrs, g_attrs),
                heartbeat_reply=opts.get("heartbeat_reply"),
                ack_policy=opts.get("ack_policy", "flag") if opts.get("ack_policy") in ("flag", "always", "never")
                else "flag",
                on_connect=_on_connect(mn, opts.get("on_connect")),
            )  # fmt: skip
    return out


def read_checkpoint(store: Store, gateway_id: str) -> tuple[WalPosition | None, int]:
    """The loader's stored position and last seq for ``gateway_id`` (``(None, 0)`` before the first batch)."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(hj212_wal_checkpoint.c.segment, hj212_wal_checkpoint.c.offset, hj212_wal_checkpoint.c.seq).where(
                hj212_wal_checkpoint.c.gateway_id == gateway_id
            )
        ).first()
    if row is None:
        return None, 0
    return WalPosition(row.segment, row.offset), row.seq


def _number(value: str | None) -> float | None:
    """:func:`bogda.hj212.codec.parse_decimal` as a float, without the Decimal detour (same accepted forms)."""
    if not value or "_" in value or value.strip() != value:
        return None
    try:
        f = float(value)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


_ALIASES = codes.VENDOR_ALIASES.get("common")
_KEY_ALIASES = codes.VENDOR_KEY_ALIASES.get("common") or {}


def observation_rows(
    result: ParseResult, dev: DeviceInfo, memo: dict[Any, Any] | None = None
) -> list[tuple[str, str, str, int, float | None, str]]:
    """``(parameter, resolution, unit, ts, value, flag)`` for one accepted upload (module docstring rules).

    Same result as going through :func:`bogda.hj212.codec.measurements`; ``memo`` (one dict per device, reset
    when its registry entry changes) caches the code and unit mapping, which repeats in every frame.
    """
    resolution = RESOLUTION_BY_CN.get(result.header.get("CN") or "")
    dt = result.data_time
    if resolution is None or dt is None:
        return []
    ts = int(dt.timestamp())
    st = result.header.get("ST")
    if memo is None:
        memo = {}
    merged: dict[str, dict[str, str]] = {}
    for code_raw, values in result.pollutants.items():
        for suffix, value in values.items():
            key = (code_raw, suffix)
            hit = memo.get(key)
            if hit is None:
                target_code, target_suffix = _KEY_ALIASES.get(f"{code_raw}-{suffix}", (code_raw, suffix))
                code, _known = codes.canonical_code(target_code, scheme=dev.code_scheme, aliases=_ALIASES)
                hit = memo[key] = (code[:32], target_suffix)
            vals = merged.get(hit[0])
            if vals is None:
                vals = merged[hit[0]] = {}
            vals[hit[1]] = value
    main_suffixes = _MAIN_SUFFIX[resolution]
    out = []
    for code, vals in merged.items():
        units = memo.get((st, code))
        if units is None:
            unit = (codes.unit_for(code, st, dev.units) or "")[:16]
            cou = (codes.cou_unit(code, st, dev.units) or "")[:16]
            units = memo[(st, code)] = (unit, cou)
        unit = units[0]
        flag = (vals.get("Flag") or "N")[:4]
        main = next((x for x in main_suffixes if x in vals), None)
        if main is not None:
            out.append((code, resolution, unit, ts, _number(vals[main]), flag))
        for suffix in _EXTRA_SUFFIXES:
            if suffix in vals:
                out.append(
                    (f"{code}-{suffix}"[:32], resolution, units[1] if suffix == "Cou" else unit, ts,
                     _number(vals[suffix]), flag)
                )  # fmt: skip
    return out


@dataclass
class LoadStats:
    """What the loader did (cumulative)."""

    batches: int = 0
    records: int = 0
    raw_rows: int = 0
    observations: int = 0
    duplicates: int = 0
    last_seq: int = 0
    errors: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


_RAW_COLUMNS = ("gateway_id", "seq", "received_at", "conn_id", "peer", "direction", "data", "text", "status", "mn",
                "cn", "qn", "crc", "error", "warnings")  # fmt: skip


def _frame_key(mn: str, cn: str, qn: str, data: bytes) -> bytes:
    """Identity of a stored upload for duplicate detection: (MN, CN, QN) and its exact bytes, hashed."""
    return hashlib.blake2b(b"\0".join((mn.encode(), cn.encode(), qn.encode(), data)), digest_size=16).digest()


def _sqlite_ts(at: datetime) -> str:
    """An aware UTC time as SQLAlchemy stores ``DateTime`` on SQLite (naive UTC text with microseconds)."""
    return f"{at:%Y-%m-%d %H:%M:%S}.{at.microsecond:06d}"


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", "replace")


class Loader:
    """Drains one gateway's log into the store (module docstring).

    Parameters
    ----------
    store : Store
    wal_dir : path
    gateway_id : str
    devices : callable
        ``devices() -> {mn: DeviceInfo}`` (the gateway's registry snapshot; default: read the store once).
    batch : int
        Records per transaction (spec §6 writer batch: 500).
    """

    def __init__(
        self,
        store: Store,
        wal_dir: str | Path,
        gateway_id: str,
        *,
        devices: Callable[[], dict[str, DeviceInfo]] | None = None,
        batch: int = 500,
        dedup_window: int = 200_000,
    ) -> None:
        self.store = store
        self.gateway_id = gateway_id
        self.batch = batch
        self.dedup_window = dedup_window
        if devices is None:
            snapshot = load_devices(store)
            devices = lambda: snapshot  # noqa: E731
        self._devices = devices
        position, seq = read_checkpoint(store, gateway_id)
        self.committed = position
        self.checkpoint_seq = seq
        self.reader = WalReader(wal_dir, position)
        self.stats = LoadStats(last_seq=seq)
        self._series: dict[tuple[int, str, str], int] = {}
        self._memo: dict[str, tuple[DeviceInfo, dict[Any, Any]]] = {}
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._preload_seen(seq)
        from bogda.hj212.ops import OpsWatch

        self.ops = OpsWatch(gateway_id=gateway_id)
        self.findings = 0

    # ------------------------------------------------------------------------------------------ public
    def load(self, max_seq: int | None = None) -> int:
        """Load one batch (records with ``seq <= max_seq``); returns the number of records loaded (0: idle).

        On a database error the transaction rolls back, the reader goes back to the checkpoint, and the error
        propagates (the caller retries with back-off).
        """
        items = self.reader.read(self.batch, max_seq)
        items = [(r, p) for r, p in items if r.seq > self.checkpoint_seq]
        if not items:
            return 0
        snap = self.ops.snapshot()
        try:
            self._store_batch(items)
        except Exception:
            self.ops.restore(snap)
            self.stats.errors += 1
            if self.committed is not None:
                self.reader.seek(self.committed)
            else:
                self.reader = WalReader(self.reader.directory)
            raise
        record, position = items[-1]
        self.committed = position
        self.checkpoint_seq = record.seq
        self.stats.last_seq = record.seq
        self.stats.batches += 1
        self.stats.records += len(items)
        return len(items)

    def drain(self, max_seq: int | None = None) -> LoadStats:
        """Load until the log (up to ``max_seq``) is exhausted."""
        while self.load(max_seq):
            pass
        return self.stats

    # ------------------------------------------------------------------------------------------ duplicates
    def _preload_seen(self, checkpoint_seq: int) -> None:
        """Fill the duplicate window with the frames stored by the last ``dedup_window`` records before the
        checkpoint (one range scan on the (gateway_id, seq) index instead of a lookup per batch)."""
        if checkpoint_seq <= 0 or self.dedup_window <= 0:
            return
        t = raw_frame.c
        q = (
            select(t.mn, t.cn, t.qn, t.data)
            .where(
                t.gateway_id == self.gateway_id,
                t.seq > checkpoint_seq - self.dedup_window,
                t.seq <= checkpoint_seq,
                t.direction == "in",
                t.status.in_(_STORED_OK),
            )
            .order_by(t.seq)
        )
        with self.store.engine.connect() as conn:
            for mn, cn, qn, data in conn.execute(q):
                if qn:
                    self._seen[_frame_key(mn, cn, qn, bytes(data or b""))] = None
        while len(self._seen) > self.dedup_window:
            self._seen.popitem(last=False)

    def _device_memo(self, dev: DeviceInfo) -> dict[Any, Any]:
        hit = self._memo.get(dev.mn)
        if hit is None or hit[0] is not dev:  # new device or a changed registry entry
            hit = self._memo[dev.mn] = (dev, {})
        return hit[1]

    # ------------------------------------------------------------------------------------------ one batch
    def _store_batch(self, items: list[tuple[WalRecord, WalPosition]]) -> None:
        devices = self._devices()
        gid = self.gateway_id
        sqlite = self.store.dialect == "sqlite"
        rows: list[tuple[Any, ...]] = []
        obs: list[tuple[int, str, str, str, int, float | None, str, int]] = []
        state: dict[str, dict[str, Any]] = {}
        events: list[dict[str, Any]] = []
        fresh: dict[bytes, None] = {}  # duplicate keys first seen in this batch (kept only if it commits)
        by_status: Counter[str] = Counter()
        unknown: Counter[str] = Counter()  # frames of unregistered MNs (pending devices count them)
        duplicates = 0
        gateway_started = False
        drafts: list[Any] = []
        for record, _ in items:
            at = datetime.fromtimestamp(record.received_at_us / 1e6, UTC)
            direction = record.direction
            if direction == "event":
                ev = json.loads(record.data)
                ev["at"] = at
                drafts.extend(self.ops.event(ev, at))
                if ev.get("e") == "gateway_start":
                    gateway_started = True
                    # sessions of the previous run are over; refusals and pending devices still count
                    events[:] = [e for e in events if e.get("e") not in ("bound", "unbound")]
                else:
                    events.append(ev)
                continue
            data = record.data if direction == "junk" else record.data.rstrip(b"\r\n")
            status = record.status
            mn = cn = qn = crc = error = warnings = None
            if direction in ("in", "out") and data.startswith(b"##"):
                r = parse_frame(data)
                dev = devices.get(r.MN or "")
                if dev is not None and (dev.mode, dev.crc_mode) != ("lenient", "auto"):
                    r = parse_frame(data, mode=dev.mode, crc_mode=dev.crc_mode)
                mn = (r.MN or "")[:32] or None
                cn = (r.CN or "")[:8] or None
                qn = (r.request_qn or "")[:24] or None
                crc = "ok" if r.crc_algorithm == "hj212" else (r.crc_algorithm or "bad")[:16]
                problems = list(r.errors) + list(r.notes)
                if status == "rejected" and r.accepted:
                    problems.append("bad_datatime" if r.data_time is None else "refused")
                error = ";".join(problems) or None
                warnings = ";".join(r.warnings) or None
                if direction == "in" and status in _STORED_OK and dev is not None:
                    if qn:
                        key = _frame_key(mn or "", cn or "", qn, data)
                        if key in self._seen or key in fresh:
                            status = "duplicate"
                            duplicates += 1
                        else:
                            fresh[key] = None
                    if status != "duplicate":
                        site_id = dev.parent_id if dev.parent_id is not None else dev.site_id
                        for parameter, resolution, unit, ts, value, flag in observation_rows(
                            r, dev, self._device_memo(dev)
                        ):
                            obs.append((site_id, parameter, resolution, unit, ts, value, flag, record.seq))
                if direction == "in" and mn:
                    s = state.setdefault(mn, {"frames_in": 0, "frames_rejected": 0, "frames_out": 0})
                    s["frames_in"] += 1
                    s["registered"] = dev is not None
                    s["last_frame_at"] = at
                    s["last_cn"] = cn
                    s["last_status"] = status
                    if status in _REJECTED:
                        s["frames_rejected"] += 1
                        s["last_error"] = (error or status)[:500]
                elif direction == "out" and mn:
                    s = state.setdefault(mn, {"frames_in": 0, "frames_rejected": 0, "frames_out": 0})
                    s["frames_out"] += 1
            if status == "unknown_mn" and mn:
                unknown[mn] += 1
            if direction == "in" and mn:
                dev_ = devices.get(mn)
                drafts.extend(self.ops.frame(mn, status, at, record.peer, dev_.site_id if dev_ else None))
            by_status[status] += 1
            rows.append(
                (gid, record.seq, _sqlite_ts(at) if sqlite else at, record.conn_id, record.peer[:64], direction, data,
                 _decode_text(data), status, mn, cn, qn, crc, error, warnings)
            )  # fmt: skip

        with self.store.begin() as conn:
            raw = conn.connection.driver_connection
            ph = "?" if sqlite else "%s"
            cur = raw.cursor()
            try:
                if rows:
                    marks = ", ".join([ph] * len(_RAW_COLUMNS))
                    cur.executemany(
                        f"INSERT INTO raw_frame ({', '.join(_RAW_COLUMNS)}) VALUES ({marks}) "
                        "ON CONFLICT (gateway_id, seq) DO NOTHING",
                        rows,
                    )
                ids: dict[int, int] = {}
                if obs:
                    cur.execute(
                        f"SELECT seq, id FROM raw_frame WHERE gateway_id = {ph} AND seq >= {ph} AND seq <= {ph}",
                        (gid, items[0][0].seq, items[-1][0].seq),
                    )
                    ids = dict(cur.fetchall())
            finally:
                cur.close()
            self._write_observations(conn, obs, ids)
            if gateway_started:
                conn.execute(
                    update(hj212_device_state)
                    .where(hj212_device_state.c.gateway_id == self.gateway_id)
                    .values(online=False, disconnect_reason="gateway_restart")
                )
            self._write_state(conn, state, events, devices)
            self._write_refusals_and_pending(conn, events, unknown)
            if drafts:
                from bogda.findings import raise_finding

                for draft in drafts:
                    raise_finding(conn, draft)
            self._write_checkpoint(conn, items[-1])
        # committed: only now do this batch's frames count as stored for later duplicates
        self._seen.update(fresh)
        while len(self._seen) > self.dedup_window:
            self._seen.popitem(last=False)
        for k, v in by_status.items():
            self.stats.by_status[k] = self.stats.by_status.get(k, 0) + v
        self.stats.duplicates += duplicates
        self.findings += len(drafts)
        self.stats.raw_rows += len(rows)

    def _write_observations(
        self,
        conn: Connection,
        obs: list[tuple[int, str, str, str, int, float | None, str, int]],
        ids: dict[int, int],
    ) -> None:
        if not obs:
            return
        cache = self._series
        missing = {(o[0], o[1], o[2]): o[3] for o in obs if (o[0], o[1], o[2]) not in cache}
        if missing:
            self._ensure(conn, missing)
        frame = pl.DataFrame(
            {
                "series_id": [cache[(o[0], o[1], o[2])] for o in obs],
                "ts": [o[4] for o in obs],
                "value": [o[5] for o in obs],
                "flag": [o[6] for o in obs],
                "source_id": [ids.get(o[7]) for o in obs],
            },
            schema={"series_id": pl.Int64, "ts": pl.Int64, "value": pl.Float64, "flag": pl.Utf8, "source_id": pl.Int64},
        )
        result = write_batch(self.store, conn, frame, reason="HJ 212 re-upload with changed value")
        self.stats.observations += result.inserted

    def _ensure(self, conn: Connection, wanted: dict[tuple[int, str, str], str]) -> None:
        try:
            ids = ensure_series(conn, [(s, p, r, u) for (s, p, r), u in wanted.items()])
        except ValueError:
            # a unit that conflicts with the series' registered unit: keep the series' unit (values are not
            # converted; the conflict shows in the registry review), one key at a time
            ids = {}
            for (s, p, r), u in wanted.items():
                try:
                    ids.update(ensure_series(conn, [(s, p, r, u)]))
                except ValueError:
                    ids.update(ensure_series(conn, [(s, p, r, "")]))
        for key, sid in ids.items():
            self._series[(key.site_id, key.parameter, key.resolution)] = sid

    def _write_state(
        self,
        conn: Connection,
        state: dict[str, dict[str, Any]],
        events: list[dict[str, Any]],
        devices: dict[str, DeviceInfo],
    ) -> None:
        t = hj212_device_state.c
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for mn, s in state.items():
            groups.setdefault(tuple(sorted(s)), []).append({"mn": mn, "gateway_id": self.gateway_id, **s})
        for keys, values in groups.items():
            stmt = self._insert(hj212_device_state)
            ex = stmt.excluded
            set_ = {
                "frames_in": t.frames_in + ex.frames_in,
                "frames_rejected": t.frames_rejected + ex.frames_rejected,
                "frames_out": t.frames_out + ex.frames_out,
                "gateway_id": ex.gateway_id,
            }
            for k in ("registered", "last_frame_at", "last_cn", "last_status", "last_error"):
                if k in keys:
                    set_[k] = getattr(ex, k)
            conn.execute(stmt.on_conflict_do_update(index_elements=["mn"], set_=set_), values)
        for ev in events:
            mn = ev.get("mn")
            if not mn or ev["e"] not in ("bound", "unbound"):
                continue
            if ev["e"] == "bound":
                values = {
                    "mn": mn,
                    "gateway_id": self.gateway_id,
                    "online": True,
                    "peer": str(ev.get("peer", ""))[:64],
                    "connected_at": ev["at"],
                    "registered": mn in devices,
                }
            else:
                values = {
                    "mn": mn,
                    "gateway_id": self.gateway_id,
                    "online": False,
                    "disconnected_at": ev["at"],
                    "disconnect_reason": str(ev.get("reason", ""))[:32],
                }
            stmt = self._insert(hj212_device_state).values(**values)
            keys = [k for k in values if k != "mn"]
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["mn"], set_={k: getattr(stmt.excluded, k) for k in keys})
            )

    def _write_refusals_and_pending(
        self, conn: Connection, events: list[dict[str, Any]], unknown: Counter[str]
    ) -> None:
        """Refusals by address (counted on the device state, one audit row each: spec §3.4 ``allowed_ips``) and
        unknown devices waiting for approval (``unknown_mn_policy = pending``)."""
        from bogda.store.schema import audit, hj212_pending_device

        t = hj212_device_state.c
        p = hj212_pending_device.c
        for ev in events:
            mn = ev.get("mn")
            if not mn:
                continue
            if ev["e"] == "ip_refused":
                peer = str(ev.get("peer", ""))[:64]
                stmt = self._insert(hj212_device_state).values(
                    mn=mn, gateway_id=self.gateway_id, registered=True, ip_refused=1, last_refused_peer=peer,
                    last_refused_at=ev["at"],
                )  # fmt: skip
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["mn"],
                        set_={
                            "ip_refused": t.ip_refused + 1,
                            "last_refused_peer": stmt.excluded.last_refused_peer,
                            "last_refused_at": stmt.excluded.last_refused_at,
                        },
                    )
                )
                conn.execute(
                    audit.insert().values(
                        at=ev["at"], login=None, action="hj212.ip_refused", target=f"device:{mn}"[:128],
                        detail={"mn": mn, "peer": peer, "gateway_id": self.gateway_id,
                                "allowed_ips": list(ev.get("allowed") or [])},
                        peer=peer,
                    )
                )  # fmt: skip
            elif ev["e"] == "pending_device":
                exists = conn.execute(select(p.status).where(p.mn == mn)).first()
                if exists is None:
                    from bogda.registry.devices import hash_password

                    pw = ev.get("pw")
                    conn.execute(
                        hj212_pending_device.insert().values(
                            mn=mn, status="pending", first_seen=ev["at"], last_seen=ev["at"],
                            peer=str(ev.get("peer", ""))[:64], st=(ev.get("st") or None),
                            protocol={0: "2005", 1: "2017", 2: "2025"}.get(ev.get("version", 1), "2017"),
                            pw_hash=hash_password(pw) if pw else None, frames=0,
                        )
                    )  # fmt: skip
                else:
                    conn.execute(
                        update(hj212_pending_device)
                        .where(p.mn == mn)
                        .values(last_seen=ev["at"], peer=str(ev.get("peer", ""))[:64])
                    )
        for mn, n in unknown.items():
            conn.execute(update(hj212_pending_device).where(p.mn == mn).values(frames=p.frames + n))

    def _insert(self, table: Any) -> Any:
        if self.store.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _write_checkpoint(self, conn: Connection, last: tuple[WalRecord, WalPosition]) -> None:
        record, pos = last
        values = {
            "gateway_id": self.gateway_id,
            "segment": pos.segment,
            "offset": pos.offset,
            "seq": record.seq,
            "updated_at": datetime.now(UTC),
        }
        if self.store.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(hj212_wal_checkpoint).values(**values)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["gateway_id"],
                set_={k: getattr(stmt.excluded, k) for k in ("segment", "offset", "seq", "updated_at")},
            )
        )
