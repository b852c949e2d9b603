"""The HJ 212 TCP gateway: frames, authenticates, acknowledges, logs and commands data loggers
(spec hj212.md §3.1-§3.9; `bogda gateway`, also started by `bogda serve`).

One ``asyncio.Protocol`` per connection (no per-connection task, so 10,000 idle loggers cost a few KB each) feeds
a :class:`~bogda.hj212.framing.FrameReader`; each frame is parsed (lenient/auto unless the device says otherwise),
authenticated and appended to the write-ahead log (:mod:`bogda.hj212.wal`). **Answers that acknowledge a frame —
9014 for uploads with A = 1, 9013 for notifications, 9011/9012 for inbound requests — are written only from the
log's durability callback**: before, and independently of, any database write. A loader task
(:mod:`bogda.hj212.ingest`) drains the log into the store in batches in a worker thread; if the database is slow or
down the log keeps accepting and acks continue. If the log cannot sync (or is full) the gateway stops acking and
devices re-send after OverTime.

Authentication (§3.4): the first accepted frame with an MN binds it to the connection after the password check
(:class:`~bogda.hj212.auth.Credentials`: registry snapshot, argon2 in a worker thread, successes cached); later
frames are compared with the bound password. Unknown MN or wrong password: archived, not acked, not stored, logged,
and counted against the peer address (:class:`~bogda.hj212.auth.FailureLimiter`), which is refused once over the
limit. One live connection per MN: a bind on a new connection closes the old one (``superseded``) and re-sends
the command in flight there.

Commands (§3.6): :meth:`Gateway.command`, :meth:`Gateway.recall`, :meth:`Gateway.time_sync` push requests on the
device's own connection with OverTime/ReCount retries (:mod:`bogda.hj212.commands`); a time sync is sent on
connect (at most once per ``time_sync_min_gap_s``), on a 1013, and when a 2011 DataTime drifts beyond
``clock_drift_max_s``. Packetised uploads (PNUM/PNO) are acked and stored part by part; the assembler reports
messages still incomplete after ``packet_complete_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bogda.hj212.answers import (
    build_command,
    data_response,
    execution_response,
    make_qn,
    notify_response,
    recall_command,
    request_response,
    system_time_frame,
    time_sync_command,
)
from bogda.hj212.auth import ConnectionRate, Credentials, DeviceInfo, FailureLimiter
from bogda.hj212.codec import ParseResult, parse_frame
from bogda.hj212.commands import Command, CommandTimeouts, run_command
from bogda.hj212.framing import FrameReader
from bogda.hj212.reassembly import PacketAssembler
from bogda.hj212.wal import WriteAheadLog

__all__ = ["Gateway", "GatewayConfig", "raise_fd_limit", "serve_gateway"]

log = logging.getLogger("bogda.hj212.gateway")
_OBSERVATION_CN = frozenset({"2011", "2051", "2061", "2031"})
_LOOPBACK = ("127.0.0.1", "::1")


@dataclass
class GatewayConfig:
    """Gateway settings (spec §6; every value a default, configurable)."""

    host: str = "0.0.0.0"
    port: int = 6001
    gateway_id: str = "gw1"
    wal_dir: Path = Path("var/hj212-wal")
    wal_group_max: int = 500
    wal_group_ms: float = 5.0
    wal_segment_bytes: int = 64 << 20
    wal_max_bytes: int = 10 << 30
    wal_retention_s: float = 24 * 3600.0
    timeouts: CommandTimeouts = field(default_factory=CommandTimeouts)
    idle_timeout_s: float = 3900.0
    first_frame_timeout_s: float = 120.0
    partial_frame_flush_s: float = 5.0
    max_mn_per_connection: int = 8
    max_conn_per_ip_per_min: int = 30
    rate_exempt: tuple[str, ...] = _LOOPBACK
    """Peers exempt from the per-address connection rate (loopback: the simulator and tests)."""
    auth_max_failures: int = 5
    auth_window_s: float = 60.0
    ack_style: str = "standard"
    time_sync_on_connect: bool = True
    time_sync_min_gap_s: float = 6 * 3600.0
    clock_drift_max_s: float = 120.0
    registry_refresh_s: float = 30.0
    packet_complete_timeout_s: float = 600.0
    loader: bool = True
    loader_batch: int = 5000
    """Records per loader transaction at most (a backlog drains in big batches; live traffic gives small ones)."""
    loader_interval_s: float = 0.2
    sweep_interval_s: float = 1.0


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit (one descriptor per logger connection: spec §8
    wants 10,000 idle connections, fd limit ≥ 20,000); returns the soft limit now in force."""
    try:
        import resource
    except ImportError:  # not POSIX
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 20_000:
        log.warning("open-file limit %d: fewer than the 10,000 idle connections of spec §8 fit", soft)
    return soft


class Connection(asyncio.Protocol):
    """One TCP connection from a data logger."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.transport: asyncio.Transport | None = None
        self.conn_id = 0
        self.peer = ""
        self.ip = ""
        self.reader = FrameReader(partial_frame_flush_s=gateway.config.partial_frame_flush_s)
        self.bound: dict[str, str] = {}  # mn -> the password it presented
        self.st: dict[str, str] = {}
        self.version: dict[str, int] = {}
        self.connected_at = time.monotonic()
        self.last_rx = self.connected_at
        self.frames = 0
        self._queue: deque[tuple[bytes, float]] | None = None  # frames waiting for a password check
        self.closed = False

    # ------------------------------------------------------------------------------------------ asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.ip = str(peer[0])
        self.peer = f"{peer[0]}:{peer[1]}"
        gw = self.gw
        gw._conn_seq += 1
        self.conn_id = gw._conn_seq
        if gw.limiter.blocked(self.ip) or not gw.conn_rate.allow(self.ip):
            gw.stats["refused_peer"] += 1
            self.closed = True
            transport.abort()
            return
        gw.connections.add(self)
        gw.stats["connections"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        gw = self.gw
        gw.connections.discard(self)
        for item in self.reader.close():
            if item.kind == "frame":
                self._frame(item.data, time.monotonic())
        for mn in list(self.bound):
            if gw.sessions.get(mn) is self:
                del gw.sessions[mn]
                gw._event({"e": "unbound", "mn": mn, "reason": "closed"}, self)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.last_rx = now
        self.gw.stats["bytes_in"] += len(data)
        for item in self.reader.feed(data, now):
            self._item(item.kind, item.data, now)

    # ------------------------------------------------------------------------------------------ items
    def _item(self, kind: str, data: bytes, now: float) -> None:
        gw = self.gw
        if kind == "frame":
            if self._queue is not None:
                self._queue.append((data, now))
            else:
                self._frame(data, now)
        elif kind == "junk":
            gw.stats["junk_bytes"] += len(data)
            gw.wal.append("junk", "junk", data, conn_id=self.conn_id, peer=self.peer)
        elif kind == "scanner":
            gw.stats["scanner"] += 1
            gw.wal.append("junk", "scanner", data, conn_id=self.conn_id, peer=self.peer)
            log.info("scanner %s (%s) closed", self.peer, self.reader.stats.scanner)
            self.close()

    def _log_in(self, status: str, data: bytes, on_durable: Callable[[bool], None] | None = None) -> None:
        self.gw.stats[status] += 1
        self.gw.wal.append("in", status, data, conn_id=self.conn_id, peer=self.peer, on_durable=on_durable)

    def _frame(self, data: bytes, t0: float) -> None:
        gw = self.gw
        self.frames += 1
        r = parse_frame(data)
        mn = r.MN
        dev = gw.credentials.devices.get(mn) if mn else None
        if dev is not None and (dev.mode, dev.crc_mode) != ("lenient", "auto"):
            r = parse_frame(data, mode=dev.mode, crc_mode=dev.crc_mode)
        if not r.accepted:
            self._log_in("rejected", data)
            return
        if mn:
            bound_pw = self.bound.get(mn)
            if bound_pw is None:
                if dev is None:
                    self._refuse("unknown_mn", data, mn)
                    return
                pw = r.PW or ""
                if dev.pw_check and gw.credentials.cached(mn, pw) is None:
                    self._queue = deque([(data, t0)])
                    gw._spawn(self._verify(mn, pw, dev))
                    return
                if not self._bind(mn, pw, r):
                    self._log_in("rejected", data)
                    return
            elif dev is not None and dev.pw_check and r.PW is not None and bound_pw != r.PW:
                self._refuse("pw_mismatch", data, mn)
                return
            self.st[mn] = r.ST or self.st.get(mn, "")
            self.version[mn] = r.version
        self._dispatch(r, data, t0, dev)

    def _refuse(self, status: str, data: bytes, mn: str) -> None:
        gw = self.gw
        self._log_in(status, data)
        if status == "unknown_mn":
            gw.request_refresh()
        log.warning("%s from %s (MN %s): not acknowledged", status, self.peer, mn)
        if gw.limiter.fail(self.ip):
            gw.stats["auth_blocked"] += 1
            log.warning("peer %s refused after %d authentication failures", self.ip, gw.limiter.max_failures)
            self.close()

    async def _verify(self, mn: str, pw: str, dev: DeviceInfo) -> None:
        gw = self.gw
        ok = await asyncio.get_running_loop().run_in_executor(gw._auth_executor, gw.credentials.verify, mn, pw)
        queue, self._queue = self._queue or deque(), None
        if self.closed:
            return
        first, t0 = queue.popleft()
        if ok:
            r = parse_frame(first, mode=dev.mode, crc_mode=dev.crc_mode)
            if self._bind(mn, pw, r):
                self.st[mn] = r.ST or ""
                self.version[mn] = r.version
                self._dispatch(r, first, t0, dev)
            else:
                self._log_in("rejected", first)
        else:
            self._refuse("pw_mismatch", first, mn)
        while queue and self._queue is None and not self.closed:
            data, t = queue.popleft()
            self._frame(data, t)
        if self._queue is not None and queue:  # another MN needed a check meanwhile: keep the order
            self._queue.extend(queue)

    def _bind(self, mn: str, pw: str, r: ParseResult) -> bool:
        if len(self.bound) >= self.gw.config.max_mn_per_connection:
            self.gw.stats["too_many_mn"] += 1
            return False
        self.bound[mn] = pw
        self.st[mn] = r.ST or ""
        self.version[mn] = r.version
        self.gw._bind(mn, self)
        return True

    # ------------------------------------------------------------------------------------------ roles
    def _dispatch(self, r: ParseResult, data: bytes, t0: float, dev: DeviceInfo | None) -> None:
        gw = self.gw
        role = r.role
        status = "accepted" if r.crc_algorithm == "hj212" and not r.accepted_with else "accepted_lenient"
        cn = r.CN or ""
        if role == "upload":
            if not r.MN:
                self._log_in("rejected", data)
                return
            if cn in _OBSERVATION_CN and r.data_time is None:
                self._log_in("rejected", data)  # note bad_datatime: not acked, the device re-sends
                return
            ack = r.ack_requested
            self._log_in(status, data, self._acker(data_response, r, t0) if ack else None)
            gw._on_upload(self, r)
        elif role == "notify":
            self._log_in(status, data, self._acker(notify_response, r, t0))
            if cn == "1013" and r.MN:
                gw._spawn(gw.time_sync(r.MN, force=True))
        elif role == "request":
            self._log_in("request", data, self._request_answer(r, t0))
        elif role == "answer":
            matched = gw._on_answer(self, r)
            self._log_in("answer" if matched else "unmatched_answer", data)
        elif role == "heartbeat":
            self._log_in("heartbeat", data)
        else:
            self._log_in("rejected", data)

    def _acker(self, build: Callable[..., bytes], r: ParseResult, t0: float) -> Callable[[bool], None]:
        def on_durable(ok: bool) -> None:
            if not ok:
                self.gw.stats["ack_withheld"] += 1
                return
            if build is data_response:
                self.send(build(r, style=self.gw.config.ack_style), ack_t0=t0)
            else:
                self.send(build(r), ack_t0=t0)

        return on_durable

    def _request_answer(self, r: ParseResult, t0: float) -> Callable[[bool], None]:
        def on_durable(ok: bool) -> None:
            if not ok:
                self.gw.stats["ack_withheld"] += 1
                return
            if r.CN == "1011":  # inbound_request_policy: serve 1011, refuse the rest (spec §3.8)
                self.send(request_response(r, 1), ack_t0=t0)
                self.send(system_time_frame(r, datetime.now(UTC)))
                self.send(execution_response(r, 1))
            else:
                self.send(request_response(r, 2), ack_t0=t0)

        return on_durable

    # ------------------------------------------------------------------------------------------ output
    def send(self, frame: bytes, *, ack_t0: float | None = None) -> bool:
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(frame)
        gw = self.gw
        gw.wal.append("out", "outbound", frame, conn_id=self.conn_id, peer=self.peer)
        if ack_t0 is not None:
            gw.stats["acks"] += 1
            gw.ack_latency.append(time.monotonic() - ack_t0)
        return True

    def close(self, reason: str = "closed") -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()
            self.gw.connections.discard(self)
            for mn in list(self.bound):
                if self.gw.sessions.get(mn) is self:
                    del self.gw.sessions[mn]
                    self.gw._event({"e": "unbound", "mn": mn, "reason": reason}, self)


class Gateway:
    """The gateway server (module docstring).

    Parameters
    ----------
    config : GatewayConfig
    store : Store, optional
        Where the loader writes; ``None`` runs without a loader (the log keeps everything).
    credentials : Credentials, optional
        Default: the registry of ``store`` with argon2 verification.
    """

    def __init__(self, config: GatewayConfig, store: Any = None, credentials: Credentials | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.config = config
        self.store = store
        if credentials is None:
            if store is None:
                raise ValueError("a gateway needs a store or explicit credentials")
            from bogda.hj212.ingest import load_devices
            from bogda.registry.devices import verify_password

            credentials = Credentials(lambda: load_devices(store), verify_password)
        self.credentials = credentials
        self.limiter = FailureLimiter(config.auth_max_failures, config.auth_window_s)
        self.conn_rate = ConnectionRate(config.max_conn_per_ip_per_min, config.rate_exempt)
        self.connections: set[Connection] = set()
        self.sessions: dict[str, Connection] = {}
        self.stats: Counter[str] = Counter()
        self.ack_latency: deque[float] = deque(maxlen=200_000)
        self.assembler = PacketAssembler(timeout_s=config.packet_complete_timeout_s)
        self.commands: dict[str, Command] = {}  # qn -> command in flight
        self._inflight: dict[str, Command] = {}  # mn -> command in flight
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_sync: dict[str, float] = {}
        self._conn_seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._auth_executor = ThreadPoolExecutor(2, thread_name_prefix="hj212-auth")
        self._db_executor = ThreadPoolExecutor(1, thread_name_prefix="hj212-loader")
        self._refresh_wanted = False
        self.server: asyncio.base_events.Server | None = None
        self.wal: WriteAheadLog
        self.loader: Any = None
        self.loader_paused = False
        self.port = config.port

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        raise_fd_limit()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._db_executor, self.credentials.refresh)
        floor = 1
        if self.store is not None and self.config.loader:
            from bogda.hj212.ingest import Loader

            self.loader = await loop.run_in_executor(
                self._db_executor,
                lambda: Loader(
                    self.store,
                    self.config.wal_dir,
                    self.config.gateway_id,
                    devices=lambda: self.credentials.devices,
                    batch=self.config.loader_batch,
                ),
            )
            floor = self.loader.checkpoint_seq + 1
        self.wal = WriteAheadLog(
            self.config.wal_dir,
            group_max=self.config.wal_group_max,
            group_ms=self.config.wal_group_ms,
            segment_bytes=self.config.wal_segment_bytes,
            max_bytes=self.config.wal_max_bytes,
            min_next_seq=floor,
        )
        if self.wal.truncated_bytes:
            log.warning(
                "write-ahead log: truncated a torn tail of %d bytes (never acknowledged)", self.wal.truncated_bytes
            )
        self.wal.start()
        self._event({"e": "gateway_start", "gateway_id": self.config.gateway_id}, None)
        self.server = await loop.create_server(
            lambda: Connection(self), self.config.host, self.config.port, backlog=4096, reuse_address=True
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self._spawn(self._sweeper())
        self._spawn(self._refresher())
        if self.loader is not None:
            self._spawn(self._load_loop())
        log.info("HJ 212 gateway %s listening on %s:%d", self.config.gateway_id, self.config.host, self.port)

    async def stop(self, *, drain: bool = True) -> None:
        if self.server is not None:
            self.server.close()
        for c in list(self.connections):
            c.close("shutdown")
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.wal.close()
        if drain and self.loader is not None:
            await asyncio.get_running_loop().run_in_executor(self._db_executor, self.loader.drain, None)
        self._db_executor.shutdown(wait=True)
        self._auth_executor.shutdown(wait=False)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _event(self, ev: dict[str, Any], conn: Connection | None) -> None:
        if conn is not None:
            ev.setdefault("peer", conn.peer)
        self.wal.append(
            "event",
            "event",
            json.dumps(ev).encode(),
            conn_id=conn.conn_id if conn else 0,
            peer=conn.peer if conn else "",
        )

    def request_refresh(self) -> None:
        self._refresh_wanted = True

    # ------------------------------------------------------------------------------------------ sessions
    def _bind(self, mn: str, conn: Connection) -> None:
        old = self.sessions.get(mn)
        self.sessions[mn] = conn
        if old is not None and old is not conn:
            old.bound.pop(mn, None)
            self.stats["superseded"] += 1
            self._event({"e": "unbound", "mn": mn, "reason": "superseded"}, old)
            log.info("MN %s reconnected from %s: closing %s (superseded)", mn, conn.peer, old.peer)
            old.close("superseded")
        self._event({"e": "bound", "mn": mn}, conn)
        cmd = self._inflight.get(mn)
        if cmd is not None and not cmd.finished and cmd.state in ("sent", "accepted"):
            conn.send(cmd.frame)  # re-send what was in flight on the old connection
        if self.config.time_sync_on_connect:
            last = self._last_sync.get(mn)
            if last is None or time.monotonic() - last >= self.config.time_sync_min_gap_s:
                self._spawn(self.time_sync(mn))

    def _on_upload(self, conn: Connection, r: ParseResult) -> None:
        mn = r.MN or ""
        cmd = self._inflight.get(mn)
        if cmd is not None and cmd.cn == r.CN and cmd.state == "accepted":
            cmd.on_data()
        if r.PNUM is not None:
            self.assembler.add(r, time.monotonic())
        if r.CN == "2011" and r.data_time is not None:
            drift = abs((r.data_time - datetime.now(UTC)).total_seconds())
            if drift > self.config.clock_drift_max_s:
                last = self._last_sync.get(mn)
                if last is None or time.monotonic() - last >= self.config.time_sync_min_gap_s:
                    self.stats["clock_drift"] += 1
                    self._spawn(self.time_sync(mn))

    def _on_answer(self, conn: Connection, r: ParseResult) -> bool:
        qn = r.request_qn or ""
        cmd = self.commands.get(qn)
        if cmd is None or (r.MN and cmd.mn != r.MN) or (not r.MN and cmd.mn not in conn.bound):
            return False
        cmd.on_answer(r)
        return True

    # ------------------------------------------------------------------------------------------ commands
    def _next_qn(self, mn: str) -> str:
        now = datetime.now(UTC)
        qn = make_qn(now)
        while qn in self.commands:
            now = datetime.fromtimestamp(now.timestamp() + 0.001, UTC)
            qn = make_qn(now)
        return qn

    async def command(self, mn: str, cn: str, build: Callable[[str, str, str, int], bytes]) -> Command:
        """Send a request built by ``build(qn, st, pw, version)`` to ``mn`` and drive it to its end (§3.6)."""
        lock = self._locks.setdefault(mn, asyncio.Lock())
        async with lock:  # one command in flight per MN
            conn = self.sessions.get(mn)
            if conn is None:
                cmd = Command(mn, cn, "", b"", state="failed", error="offline")
                return cmd
            qn = self._next_qn(mn)
            frame = build(qn, conn.st.get(mn) or "", conn.bound.get(mn, ""), conn.version.get(mn, 1))
            cmd = Command(mn, cn, qn, frame)
            self.commands[qn] = cmd
            self._inflight[mn] = cmd

            def send(c: Command) -> bool:
                current = self.sessions.get(mn)
                return current is not None and current.send(c.frame)

            try:
                await run_command(cmd, send, self.config.timeouts)
            finally:
                self.commands.pop(qn, None)
                if self._inflight.get(mn) is cmd:
                    del self._inflight[mn]
            self.stats[f"command_{cmd.state}"] += 1
            log.info("command %s to %s: %s", cn, mn, cmd.result)
            return cmd

    async def recall(self, mn: str, cn: str, begin: datetime, end: datetime) -> Command:
        """History recall 2031/2041/2051/2061 over [begin, end] (interval starts, aware)."""

        def build(qn: str, st: str, pw: str, version: int) -> bytes:
            return recall_command(cn, st=st, mn=mn, pw=pw, qn=qn, begin=begin, end=end, version=version)

        return await self.command(mn, cn, build)

    async def time_sync(self, mn: str, *, force: bool = False) -> Command:
        """1012 with SystemTime = now (Beijing time in the frame); at most once per ``time_sync_min_gap_s`` unless
        ``force`` (a 1013 request)."""
        last = self._last_sync.get(mn)
        if not force and last is not None and time.monotonic() - last < self.config.time_sync_min_gap_s:
            return Command(mn, "1012", "", b"", state="failed", error="min_gap")
        self._last_sync[mn] = time.monotonic()

        def build(qn: str, st: str, pw: str, version: int) -> bytes:
            return time_sync_command(st=st, mn=mn, pw=pw, qn=qn, system_time=datetime.now(UTC), version=version)

        return await self.command(mn, "1012", build)

    async def send_request(self, mn: str, cn: str, fields: dict[str, str] | None = None) -> Command:
        """Any other platform request (1000, 1062, 1064, 1072, 2012 …) with CP ``fields``."""

        def build(qn: str, st: str, pw: str, version: int) -> bytes:
            return build_command(cn, st=st, mn=mn, pw=pw, qn=qn, version=version, fields=fields or {})

        return await self.command(mn, cn, build)

    # ------------------------------------------------------------------------------------------ background
    async def _sweeper(self) -> None:
        cfg = self.config
        last = time.monotonic()
        while True:
            await asyncio.sleep(cfg.sweep_interval_s)
            now = time.monotonic()
            # after a stalled loop, bytes may be arriving that no read callback has seen yet: a partial frame is
            # flushed (§3.1 step 6) only by a sweep that ran on time
            on_time = now - last < 2 * cfg.sweep_interval_s + 0.5
            last = now
            for c in list(self.connections):
                if on_time:
                    for item in c.reader.poll(now):
                        c._item(item.kind, item.data, now)
                if now - c.last_rx > cfg.idle_timeout_s:
                    self.stats["idle_closed"] += 1
                    c.close("idle")
                elif c.frames == 0 and now - c.connected_at > cfg.first_frame_timeout_s:
                    self.stats["first_frame_timeout"] += 1
                    c.close("first_frame_timeout")
            for msg in self.assembler.expire(now):
                self.stats["packet_incomplete"] += 1
                log.warning("packetised message %s incomplete: parts %s missing", msg.key, msg.missing)

    async def _refresher(self) -> None:
        loop = asyncio.get_running_loop()
        last = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            if self._refresh_wanted or time.monotonic() - last >= self.config.registry_refresh_s:
                self._refresh_wanted = False
                last = time.monotonic()
                with contextlib.suppress(Exception):
                    await loop.run_in_executor(self._auth_executor, self.credentials.refresh)

    async def _load_loop(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.config.loader_interval_s
        while True:
            if self.loader_paused:
                await asyncio.sleep(self.config.loader_interval_s)
                continue
            try:
                n = await loop.run_in_executor(self._db_executor, self.loader.load, self.wal.durable_seq)
                backoff = self.config.loader_interval_s
            except Exception as exc:  # database down or slow: the log keeps accepting; retry with back-off
                log.warning("loader: %s; retrying in %.1f s", exc, backoff)
                self.stats["loader_errors"] += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if n < self.config.loader_batch:
                with contextlib.suppress(Exception):
                    self.wal.prune(self.loader.checkpoint_seq, older_than_s=self.config.wal_retention_s)
                await asyncio.sleep(self.config.loader_interval_s)

    # ------------------------------------------------------------------------------------------ metrics
    def metrics(self) -> dict[str, Any]:
        lat = sorted(self.ack_latency)

        def q(p: float) -> float | None:
            return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None

        return {
            "connections": len(self.connections),
            "devices_online": len(self.sessions),
            "wal_durable_seq": self.wal.durable_seq,
            "wal_healthy": self.wal.healthy,
            "loader_seq": self.loader.checkpoint_seq if self.loader else None,
            "ack_p50_s": q(0.5),
            "ack_p99_s": q(0.99),
            **dict(self.stats),
        }


async def serve_gateway(config: GatewayConfig, store: Any, *, stop: asyncio.Event | None = None) -> None:
    """Run a gateway until ``stop`` is set (or forever)."""
    gw = Gateway(config, store)
    await gw.start()
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await gw.stop()
