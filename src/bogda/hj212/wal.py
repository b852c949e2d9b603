"""The gateway's write-ahead log: append-only segment files with group commit (spec hj212.md §3.9).

Durability choice: **write ahead, acknowledge only what is durable.** Every inbound frame (and, without waiting,
every outbound frame, junk sample and session event) is appended here as one record; a writer task gathers the
records of ``group_ms`` (or ``group_max`` records) into one ``write`` + ``fdatasync`` run in a worker thread (group
commit), and only when that sync returns does it call the records' ``on_durable`` callbacks — the only path by
which the gateway writes an acknowledgement (9014, 9013, 9011/9012 to inbound requests) to a socket. So a frame
is either on disk before its ack, or was never acked and the device re-sends it after OverTime. The database is
not on this path at all: :mod:`bogda.hj212.ingest` drains the log into ``raw_frame`` and the series store later.

Layout: ``<dir>/<first seq, 20 digits>.wal``, a new segment once one exceeds ``segment_bytes``. A record is::

    u32 length of payload | u32 CRC-32 (zlib) of payload | payload
    payload = u64 seq | i64 received_at [µs since epoch, UTC] | u64 conn_id | u8 direction | u8 status
              | u16 len(peer) | peer (UTF-8) | data (the exact bytes)

``seq`` is monotonic per log and never reused (the newest segment is never deleted, and the loader's checkpoint
gives a floor at start-up). At start-up a torn tail (short record or bad CRC — never acknowledged, because the sync
covering it never returned) is truncated.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import struct
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DIRECTIONS",
    "DURABLE_MARKER",
    "LOADED_MARKER",
    "STATUSES",
    "SeqMarker",
    "WalPosition",
    "WalReader",
    "WalRecord",
    "WriteAheadLog",
    "encode_record",
    "read_marker",
    "read_segment",
]

DIRECTIONS: tuple[str, ...] = ("in", "out", "junk", "event")
STATUSES: tuple[str, ...] = (
    "accepted",
    "accepted_lenient",
    "rejected",
    "unknown_mn",
    "pw_mismatch",
    "duplicate",
    "scanner",
    "outbound",
    "junk",
    "event",
    "answer",
    "unmatched_answer",
    "heartbeat",
    "request",
    "refused",
    "ip_refused",
    "quarantined",
)
"""Record statuses (spec §4.2 raw_frame status, plus the gateway's own kinds)."""
_DIR_CODE = {d: i for i, d in enumerate(DIRECTIONS)}
_STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
_HEAD = struct.Struct("<II")
_PAYLOAD = struct.Struct("<QqQBBH")
_SUFFIX = ".wal"
MAX_RECORD = 1 << 20


@dataclass(frozen=True, slots=True)
class WalRecord:
    """One logged item."""

    seq: int
    received_at_us: int
    conn_id: int
    direction: str
    status: str
    peer: str
    data: bytes


@dataclass(frozen=True, slots=True, order=True)
class WalPosition:
    """Where the next record starts: segment (its first seq) and byte offset in it."""

    segment: int
    offset: int


def encode_record(
    seq: int, received_at_us: int, conn_id: int, direction: str, status: str, peer: str, data: bytes
) -> bytes:
    """The bytes of one record (module docstring layout)."""
    p = peer.encode("utf-8")[:255]
    payload = _PAYLOAD.pack(seq, received_at_us, conn_id, _DIR_CODE[direction], _STATUS_CODE[status], len(p)) + p + data
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def _decode(buf: bytes | memoryview, pos: int) -> tuple[WalRecord, int] | None:
    """The record at ``pos`` and the offset after it, or ``None`` when it is incomplete or corrupt."""
    if len(buf) - pos < _HEAD.size:
        return None
    length, crc = _HEAD.unpack_from(buf, pos)
    start = pos + _HEAD.size
    end = start + length
    if length < _PAYLOAD.size or length > MAX_RECORD or end > len(buf):
        return None
    payload = bytes(buf[start:end])
    if zlib.crc32(payload) != crc:
        return None
    seq, at, conn, d, s, plen = _PAYLOAD.unpack_from(payload, 0)
    o = _PAYLOAD.size
    if d >= len(DIRECTIONS) or s >= len(STATUSES):
        return None
    peer = payload[o : o + plen].decode("utf-8", "replace")
    return WalRecord(seq, at, conn, DIRECTIONS[d], STATUSES[s], peer, payload[o + plen :]), end


def _segments(directory: Path) -> list[int]:
    out = []
    for p in directory.glob(f"*{_SUFFIX}"):
        with contextlib.suppress(ValueError):
            out.append(int(p.stem))
    return sorted(out)


def _path(directory: Path, segment: int) -> Path:
    return directory / f"{segment:020d}{_SUFFIX}"


def read_segment(path: Path, offset: int = 0) -> tuple[list[tuple[WalRecord, int]], int]:
    """Records of one segment from ``offset``: ``[(record, offset after it)]`` and the end of the valid part."""
    data = path.read_bytes()
    out = []
    pos = offset
    while (hit := _decode(data, pos)) is not None:
        out.append(hit)
        pos = hit[1]
    return out, pos


DURABLE_MARKER = "durable.seq"
"""File in the log folder holding the last synced seq (written by the gateway after each group commit)."""
LOADED_MARKER = "loaded.seq"
"""File in the log folder holding the loader's committed checkpoint seq (written by a loader process)."""


class SeqMarker:
    """One sequence number shared between processes through a small memory-mapped file.

    The writer stores ``(seq, ~seq)``; a reader that sees the two halves disagree (a torn store) reads again. Only
    the writer's process changes the value, so no lock is needed. The value is not synced on its own: the durable
    marker is written after the records' ``fdatasync``, so after a machine crash it can only be older, never newer,
    than what is on disk.
    """

    _FMT = struct.Struct("<QQ")

    def __init__(self, path: str | Path) -> None:
        import mmap

        self.path = Path(path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < self._FMT.size:
                os.ftruncate(fd, self._FMT.size)
            self._map = mmap.mmap(fd, self._FMT.size)
        finally:
            os.close(fd)

    def write(self, seq: int) -> None:
        self._FMT.pack_into(self._map, 0, seq, seq ^ 0xFFFFFFFFFFFFFFFF)

    def read(self) -> int | None:
        """The stored seq, or ``None`` if nothing was ever written."""
        for _ in range(100):
            seq, check = self._FMT.unpack_from(self._map, 0)
            if seq == 0 and check == 0:
                return None
            if seq ^ check == 0xFFFFFFFFFFFFFFFF:
                return seq
        return None

    def close(self) -> None:
        with contextlib.suppress(ValueError, BufferError):
            self._map.close()


def read_marker(directory: str | Path, name: str) -> int | None:
    """A marker's value without keeping it mapped (``None`` when the file or the value is absent)."""
    path = Path(directory) / name
    if not path.exists():
        return None
    m = SeqMarker(path)
    try:
        return m.read()
    finally:
        m.close()


class WriteAheadLog:
    """Append-only log with group commit (module docstring).

    Parameters
    ----------
    directory : path
        Segment folder (created).
    group_max : int
        Records per sync at most (``wal_group_max``, spec §6).
    group_ms : float
        Time a group stays open after its first record [ms] (``wal_group_ms``).
    segment_bytes, max_bytes : int
        Segment size and log size above which appends are refused (log full: stop acking) [bytes].
    min_next_seq : int
        Floor for the next seq (the loader's checkpoint + 1), in case every segment was pruned.
    sync : callable, optional
        ``sync(fd)``; default ``os.fdatasync``. Tests inject a sync that blocks or fails.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        group_max: int = 500,
        group_ms: float = 5.0,
        segment_bytes: int = 64 << 20,
        max_bytes: int = 10 << 30,
        min_next_seq: int = 1,
        sync: Callable[[int], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.group_max = group_max
        self.group_s = group_ms / 1000.0
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self._sync = sync or getattr(os, "fdatasync", os.fsync)
        self.truncated_bytes = 0
        last_seq, segment = self._recover()
        self.next_seq = max(last_seq + 1, min_next_seq)
        self.durable_seq = self.next_seq - 1
        if segment is None:
            segment = self.next_seq
        self.segment = segment
        self._file = open(_path(self.directory, segment), "ab")  # noqa: SIM115  (kept open for the log's life)
        self.total_bytes = sum(_path(self.directory, s).stat().st_size for s in _segments(self.directory))
        self._buf: list[bytes] = []
        self._callbacks: list[Callable[[bool], None]] = []
        self._first_at = 0.0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="hj212-wal")
        self.failed: BaseException | None = None
        self.syncs = 0
        self.records = 0
        # a loader in another process reads only up to this seq (never records whose sync has not returned)
        self._durable_marker = SeqMarker(self.directory / DURABLE_MARKER)
        self._durable_marker.write(self.durable_seq)

    # ------------------------------------------------------------------------------------------ recovery
    def _recover(self) -> tuple[int, int | None]:
        segs = _segments(self.directory)
        if not segs:
            return 0, None
        last = segs[-1]
        path = _path(self.directory, last)
        records, end = read_segment(path)
        size = path.stat().st_size
        if end < size:  # torn tail: its sync never returned, so nothing in it was acknowledged
            self.truncated_bytes = size - end
            with open(path, "r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
        if records:
            return records[-1][0].seq, last
        # an empty newest segment is named after the seq it would start with
        prev = 0
        if len(segs) > 1:
            prev_records, _ = read_segment(_path(self.directory, segs[-2]))
            prev = prev_records[-1][0].seq if prev_records else segs[-2] - 1
        return max(prev, last - 1), last

    # ------------------------------------------------------------------------------------------ writing
    @property
    def full(self) -> bool:
        return self.total_bytes >= self.max_bytes

    @property
    def healthy(self) -> bool:
        """Appends are being made durable (no failed sync, not full)."""
        return self.failed is None and not self.full

    def append(
        self,
        direction: str,
        status: str,
        data: bytes,
        *,
        conn_id: int = 0,
        peer: str = "",
        received_at_us: int | None = None,
        on_durable: Callable[[bool], None] | None = None,
    ) -> int:
        """Log one record; ``on_durable(True)`` runs once its group is synced (``False`` if the sync failed or the
        log is full or broken — then nothing must be acknowledged). Returns its seq (0 if refused)."""
        if not self.healthy:
            if on_durable is not None:
                on_durable(False)
            return 0
        seq = self.next_seq
        self.next_seq += 1
        at = received_at_us if received_at_us is not None else time.time_ns() // 1000
        self._buf.append(encode_record(seq, at, conn_id, direction, status, peer, data))
        if on_durable is not None:
            self._callbacks.append(on_durable)
        if len(self._buf) == 1:
            self._first_at = time.monotonic()
            if self._wake is not None:
                self._wake.set()
        elif len(self._buf) >= self.group_max and self._wake is not None:
            self._wake.set()
        return seq

    def start(self) -> None:
        """Start the group-commit task on the running loop."""
        self._wake = asyncio.Event()
        if self._buf:
            self._wake.set()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hj212-wal")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        while True:
            if not self._buf:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self._first_at + self.group_s - time.monotonic()
            if wait > 0 and len(self._buf) < self.group_max:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            await self._commit(loop)

    async def _commit(self, loop: asyncio.AbstractEventLoop) -> None:
        buf, callbacks = self._buf, self._callbacks
        self._buf, self._callbacks = [], []
        last_seq = self.next_seq - 1
        ok = True
        try:
            await loop.run_in_executor(self._executor, self._write, b"".join(buf), last_seq)
        except Exception as exc:  # a failed write or sync: stop acknowledging (spec §7)
            self.failed = exc
            ok = False
        if ok:
            self.durable_seq = last_seq
            self._durable_marker.write(last_seq)
            self.syncs += 1
            self.records += len(buf)
        for cb in callbacks:
            cb(ok)

    def _write(self, data: bytes, last_seq: int) -> None:
        f = self._file
        f.write(data)
        f.flush()
        self._sync(f.fileno())
        self.total_bytes += len(data)
        if f.tell() >= self.segment_bytes:
            f.close()
            self.segment = last_seq + 1
            self._file = open(_path(self.directory, self.segment), "ab")  # noqa: SIM115
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    async def flush(self) -> None:
        """Commit whatever is buffered now (tests, shutdown)."""
        if self._buf:
            await self._commit(asyncio.get_running_loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.failed is None:
            await self.flush()
        self._executor.shutdown(wait=True)
        self._file.close()
        self._durable_marker.close()

    # ------------------------------------------------------------------------------------------ retention
    def prune(self, checkpoint_seq: int, *, older_than_s: float = 24 * 3600.0) -> int:
        """Delete segments wholly at or below ``checkpoint_seq`` and older than ``older_than_s`` [s] (never the
        newest); returns how many."""
        segs = _segments(self.directory)
        removed = 0
        now = time.time()
        for seg, nxt in itertools.pairwise(segs):
            if nxt - 1 > checkpoint_seq or seg == self.segment:
                break
            path = _path(self.directory, seg)
            if now - path.stat().st_mtime < older_than_s:
                break
            size = path.stat().st_size
            path.unlink()
            self.total_bytes -= size
            removed += 1
        return removed


class WalReader:
    """Sequential reader of a log folder from a position (the loader's side).

    :meth:`read` returns only records with ``seq <= max_seq`` (the writer's ``durable_seq`` when both run in one
    process), stopping at an incomplete record (it is still being written, or a torn tail).
    """

    def __init__(self, directory: str | Path, position: WalPosition | None = None) -> None:
        self.directory = Path(directory)
        segs = _segments(self.directory)
        if position is None or (segs and position.segment < segs[0]):
            position = WalPosition(segs[0] if segs else 1, 0)
        self.position = position
        self._data = b""
        self._data_start = 0

    def seek(self, position: WalPosition) -> None:
        self.position = position
        self._data = b""
        self._data_start = 0

    def read(self, max_records: int, max_seq: int | None = None) -> list[tuple[WalRecord, WalPosition]]:
        out: list[tuple[WalRecord, WalPosition]] = []
        while len(out) < max_records:
            rel = self.position.offset - self._data_start
            if rel < len(self._data):
                # fast path: the next record is in the window already read (no stat per record)
                hit = _decode(self._data, rel)
                if hit is not None:
                    record, end = hit
                    if max_seq is not None and record.seq > max_seq:
                        return out  # written, not yet synced: keep the window, read it again later
                    self.position = WalPosition(self.position.segment, self._data_start + end)
                    out.append((record, self.position))
                    continue
            path = _path(self.directory, self.position.segment)
            if not path.exists():
                later = [s for s in _segments(self.directory) if s > self.position.segment]
                if not later:
                    return out
                self.seek(WalPosition(later[0], 0))
                continue
            if rel >= len(self._data):
                with open(path, "rb") as f:
                    f.seek(self.position.offset)
                    self._data = f.read(8 << 20)
                self._data_start = self.position.offset
                rel = 0
            hit = _decode(self._data, rel)
            if hit is None and rel > 0:
                # a record cut by the read window: re-read from its start
                self._data, self._data_start = b"", self.position.offset
                continue
            if hit is None:
                later = [s for s in _segments(self.directory) if s > self.position.segment]
                if later and not _decode(self._reload(path), 0):
                    # this segment is finished (a newer one exists): move on
                    self.seek(WalPosition(later[0], 0))
                    continue
                self._data = b""
                return out
            record, end = hit
            if max_seq is not None and record.seq > max_seq:
                self._data = b""
                return out
            self.position = WalPosition(self.position.segment, self._data_start + end)
            out.append((record, self.position))
        return out

    def _reload(self, path: Path) -> bytes:
        with open(path, "rb") as f:
            f.seek(self.position.offset)
            return f.read(MAX_RECORD + 64)
