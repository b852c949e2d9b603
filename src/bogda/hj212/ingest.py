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

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, select, update

from bogda.hj212 import codes
from bogda.hj212.auth import DeviceInfo
from bogda.hj212.codec import ParseResult, measurements, parse_frame
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

RESOLUTION_BY_CN: dict[str, str] = {"2011": "rt", "2051": "min", "2061": "hour", "2031": "day"}
"""Series resolution of each upload CN that carries measurements (spec §4.2 kinds)."""
_MAIN_SUFFIX = {"rt": ("Rtd", "Avg", "Data"), "min": ("Avg", "Rtd", "Data"), "hour": ("Avg", "Rtd", "Data")}
_MAIN_SUFFIX["day"] = _MAIN_SUFFIX["hour"]
_EXTRA_SUFFIXES = ("Min", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax")
_STORED_OK = ("accepted", "accepted_lenient")
_REJECTED = ("rejected", "unknown_mn", "pw_mismatch", "scanner")


def load_devices(store: Store) -> dict[str, DeviceInfo]:
    """All registered devices with their parent site and per-device HJ 212 settings (``site.attrs["hj212"]``:
    ``mode``, ``crc_mode``, ``pw_check``, ``code_scheme``)."""
    from bogda.store.schema import device, site

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
            ).join(site, site.c.id == device.c.site_id)
        )
        for mn, pw_hash, site_id, parent_id, protocol, st, units, attrs in rows:
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
            )
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


def observation_rows(result: ParseResult, dev: DeviceInfo) -> list[tuple[str, str, str, int, float | None, str]]:
    """``(parameter, resolution, unit, ts, value, flag)`` for one accepted upload (module docstring rules)."""
    resolution = RESOLUTION_BY_CN.get(result.header.get("CN") or "")
    dt = result.data_time
    if resolution is None or dt is None:
        return []
    ts = int(dt.timestamp())
    aliases = codes.VENDOR_ALIASES.get("common")
    key_aliases = codes.VENDOR_KEY_ALIASES.get("common")
    out = []
    for m in measurements(
        result, code_scheme=dev.code_scheme, aliases=aliases, key_aliases=key_aliases, units=dev.units
    ):
        flag = (m.values.get("Flag") or "N")[:4]
        main = next((s for s in _MAIN_SUFFIX[resolution] if s in m.values), None)
        unit = (m.unit or "")[:16]
        if main is not None:
            v = m.number(main)
            out.append((m.code[:32], resolution, unit, ts, None if v is None else float(v), flag))
        for suffix in _EXTRA_SUFFIXES:
            if suffix in m.values:
                v = m.number(suffix)
                su = (codes.cou_unit(m.code, result.header.get("ST"), dev.units) or "") if suffix == "Cou" else unit
                out.append((f"{m.code}-{suffix}"[:32], resolution, su[:16], ts, None if v is None else float(v), flag))
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
    ) -> None:
        self.store = store
        self.gateway_id = gateway_id
        self.batch = batch
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
        self._recent: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()

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
        try:
            self._store_batch(items)
        except Exception:
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

    # ------------------------------------------------------------------------------------------ one batch
    def _store_batch(self, items: list[tuple[WalRecord, WalPosition]]) -> None:
        devices = self._devices()
        rows: list[dict[str, Any]] = []
        parsed: dict[int, tuple[ParseResult, DeviceInfo]] = {}
        state: dict[str, dict[str, Any]] = {}
        events: list[dict[str, Any]] = []
        gateway_started = False
        for record, _ in items:
            at = datetime.fromtimestamp(record.received_at_us / 1e6, UTC)
            if record.direction == "event":
                ev = json.loads(record.data)
                ev["at"] = at
                if ev.get("e") == "gateway_start":
                    gateway_started = True
                    events.clear()
                else:
                    events.append(ev)
                continue
            row: dict[str, Any] = {
                "gateway_id": self.gateway_id,
                "seq": record.seq,
                "received_at": at,
                "conn_id": record.conn_id,
                "peer": record.peer[:64],
                "direction": record.direction,
                "data": record.data,
                "text": _decode_text(record.data),
                "status": record.status,
                "mn": None,
                "cn": None,
                "qn": None,
                "crc": None,
                "error": None,
                "warnings": None,
            }
            if record.direction in ("in", "out") and record.data.startswith(b"##"):
                r0 = parse_frame(record.data)
                dev = devices.get(r0.MN or "")
                r = r0
                if dev is not None and (dev.mode, dev.crc_mode) != ("lenient", "auto"):
                    r = parse_frame(record.data, mode=dev.mode, crc_mode=dev.crc_mode)
                row["mn"] = (r.MN or "")[:32] or None
                row["cn"] = (r.CN or "")[:8] or None
                row["qn"] = (r.request_qn or "")[:24] or None
                row["crc"] = "ok" if r.crc_algorithm == "hj212" else (r.crc_algorithm or "bad")[:16]
                problems = list(r.errors) + list(r.notes)
                if record.status == "rejected" and r.accepted:
                    problems.append("bad_datatime" if r.data_time is None else "refused")
                row["error"] = ";".join(problems) or None
                row["warnings"] = ";".join(r.warnings) or None
                if record.direction == "in" and record.status in _STORED_OK and dev is not None:
                    parsed[record.seq] = (r, dev)
                if record.direction == "in" and row["mn"]:
                    s = state.setdefault(row["mn"], {"frames_in": 0, "frames_rejected": 0, "frames_out": 0})
                    s["frames_in"] += 1
                    s["registered"] = dev is not None
                    s["last_frame_at"] = at
                    s["last_cn"] = row["cn"]
                    s["last_status"] = record.status
                    if record.status in _REJECTED:
                        s["frames_rejected"] += 1
                        s["last_error"] = (row["error"] or record.status)[:500]
                elif record.direction == "out" and row["mn"]:
                    s = state.setdefault(row["mn"], {"frames_in": 0, "frames_rejected": 0, "frames_out": 0})
                    s["frames_out"] += 1
            rows.append(row)

        self._mark_duplicates(rows, parsed)
        with self.store.begin() as conn:
            self._insert_raw(conn, rows)
            ids = self._raw_ids(conn, items[0][0].seq, items[-1][0].seq)
            self._write_observations(conn, parsed, ids, rows)
            if gateway_started:
                conn.execute(
                    update(hj212_device_state)
                    .where(hj212_device_state.c.gateway_id == self.gateway_id)
                    .values(online=False, disconnect_reason="gateway_restart")
                )
            self._write_state(conn, state, events, devices)
            self._write_checkpoint(conn, items[-1])
        for row in rows:
            self.stats.by_status[row["status"]] = self.stats.by_status.get(row["status"], 0) + 1
        self.stats.raw_rows += len(rows)

    def _mark_duplicates(self, rows: list[dict[str, Any]], parsed: dict[int, tuple[ParseResult, DeviceInfo]]) -> None:
        candidates = [r for r in rows if r["seq"] in parsed and r["qn"]]
        if not candidates:
            return
        known: dict[tuple[str, str, str], set[bytes]] = {}
        for key, data in self._recent.items():
            known.setdefault(key, set()).add(data)
        qns = sorted({r["qn"] for r in candidates})
        with self.store.engine.connect() as conn:
            for i in range(0, len(qns), 500):
                for mn, cn, qn, data in conn.execute(
                    select(raw_frame.c.mn, raw_frame.c.cn, raw_frame.c.qn, raw_frame.c.data).where(
                        raw_frame.c.qn.in_(qns[i : i + 500]),
                        raw_frame.c.direction == "in",
                        raw_frame.c.status.in_(_STORED_OK),
                    )
                ):
                    known.setdefault((mn, cn, qn), set()).add(bytes(data or b""))
        for r in candidates:
            key = (r["mn"], r["cn"], r["qn"])
            data = r["data"].rstrip(b"\r\n")
            if data in known.get(key, set()):
                r["status"] = "duplicate"
                parsed.pop(r["seq"], None)
                self.stats.duplicates += 1
            else:
                known.setdefault(key, set()).add(data)
                self._recent[key] = data
                if len(self._recent) > 50_000:
                    self._recent.popitem(last=False)

    def _insert_raw(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        for r in rows:
            r["data"] = r["data"].rstrip(b"\r\n") if r["direction"] != "junk" else r["data"]
        if self.store.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(raw_frame).on_conflict_do_nothing(index_elements=["gateway_id", "seq"])
        conn.execute(stmt, rows)

    def _raw_ids(self, conn: Connection, lo: int, hi: int) -> dict[int, int]:
        q = select(raw_frame.c.seq, raw_frame.c.id).where(
            raw_frame.c.gateway_id == self.gateway_id, raw_frame.c.seq >= lo, raw_frame.c.seq <= hi
        )
        return {seq: rid for seq, rid in conn.execute(q)}

    def _write_observations(
        self,
        conn: Connection,
        parsed: dict[int, tuple[ParseResult, DeviceInfo]],
        ids: dict[int, int],
        rows: list[dict[str, Any]],
    ) -> None:
        obs: list[tuple[int, str, str, str, int, float | None, str, int | None]] = []
        for seq, (r, dev) in parsed.items():
            site_id = dev.parent_id if dev.parent_id is not None else dev.site_id
            for parameter, resolution, unit, ts, value, flag in observation_rows(r, dev):
                obs.append((site_id, parameter, resolution, unit, ts, value, flag, ids.get(seq)))
        if not obs:
            return
        missing = {(o[0], o[1], o[2]): o[3] for o in obs if (o[0], o[1], o[2]) not in self._series}
        if missing:
            self._ensure(conn, missing)
        frame = pl.DataFrame(
            {
                "series_id": [self._series[(o[0], o[1], o[2])] for o in obs],
                "ts": [o[4] for o in obs],
                "value": [o[5] for o in obs],
                "flag": [o[6] for o in obs],
                "source_id": [o[7] for o in obs],
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

    def _upsert(self, conn: Connection, values: dict[str, Any], set_: Callable[[Any], dict[str, Any]]) -> None:
        if self.store.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(hj212_device_state).values(**values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["mn"], set_=set_(stmt.excluded)))

    def _write_state(
        self,
        conn: Connection,
        state: dict[str, dict[str, Any]],
        events: list[dict[str, Any]],
        devices: dict[str, DeviceInfo],
    ) -> None:
        t = hj212_device_state.c
        for mn, s in state.items():
            values = {"mn": mn, "gateway_id": self.gateway_id, **s}

            def counters(ex: Any, s: dict[str, Any] = s) -> dict[str, Any]:
                out = {
                    "frames_in": t.frames_in + ex.frames_in,
                    "frames_rejected": t.frames_rejected + ex.frames_rejected,
                    "frames_out": t.frames_out + ex.frames_out,
                    "gateway_id": ex.gateway_id,
                }
                for k in ("registered", "last_frame_at", "last_cn", "last_status", "last_error"):
                    if k in s:
                        out[k] = getattr(ex, k)
                return out

            self._upsert(conn, values, counters)
        for ev in events:
            mn = ev.get("mn")
            if not mn:
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
            keys = [k for k in values if k != "mn"]
            self._upsert(conn, values, lambda ex, keys=keys: {k: getattr(ex, k) for k in keys})

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
