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
from bogda.hj212.auth import ConnectionRate, Credentials, DeviceInfo, FailureLimiter, ip_allowed
from bogda.hj212.codec import ParseResult, parse_frame
from bogda.hj212.codes import RECALL_CN
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
    loader_mode: str = "thread"
    """``process``: the loader runs as a child process (``bogda gateway`` does this; :mod:`bogda.hj212.loader_process`);
    ``thread``: in a worker thread of this process (tests, ``bogda serve`` on SQLite)."""
    database_url: str | None = None
    """Where a loader process writes (default: the store's URL)."""
    loader_batch: int = 5000
    """Records per loader transaction at most (a backlog drains in big batches; live traffic gives small ones)."""
    loader_interval_s: float = 0.2
    sweep_interval_s: float = 1.0
    loader_drain_s: float = 30.0
    """On a clean stop, how long the loader process may take to store the rest of the log [s]."""
    unknown_mn_policy: str = "archive"
    """Frames from an MN not in the registry (spec §3.4): ``archive`` (raw kept, no ack, no storage, listed as
    unregistered), ``reject`` (the same, and the connection is closed), ``quarantine`` (acknowledged so the logger
    does not re-send, archived as ``quarantined``, never stored as observations; ``bogda hj212 replay`` stores them
    once the device is registered), ``pending`` (archived, no ack, and listed for an operator's approval, which
    registers the MN with the PW it presented)."""
    heartbeat_reply: str = "none"
    """Answer to 9021/9015 heartbeats (spec §3.5): ``none``, ``9014`` (a data answer with the heartbeat's QN) or
    ``echo`` (the heartbeat sent back unchanged); a device's ``attrs.hj212.heartbeat_reply`` overrides it."""
    persist_commands: bool = True
    """Keep commands in ``hj212_command`` (queued by the console, API or gap scan; state survives restarts)."""
    command_poll_s: float = 2.0
    command_ttl_s: float = 3600.0
    command_queue_max: int = 50
    gap_scan: bool = False
    """Run the gap scan (:mod:`bogda.hj212.gaps`) in this gateway, hourly at ``gap_scan_minute``."""
    gap_scan_minute: int = 20

    def validate(self) -> None:
        """Raise ``ValueError`` naming the setting whose value is not allowed."""
        allowed = {
            "unknown_mn_policy": ("archive", "reject", "quarantine", "pending"),
            "heartbeat_reply": ("none", "9014", "echo"),
            "loader_mode": ("thread", "process"),
            "ack_style": ("standard", "echo"),
        }
        for name, values in allowed.items():
            value = getattr(self, name)
            if value not in values:
                raise ValueError(f"gateway setting {name} must be one of {', '.join(values)}, not {value!r}")


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
        self.pending_announced: set[str] = set()

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
            if self.closed:  # closed by an earlier frame of this read (scanner, reject, refusals)
                break
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
                    self._unknown(r, data, mn, t0)
                    return
                if dev.allowed_ips is not None and not ip_allowed(self.ip, dev.allowed_ips):
                    self._refuse_ip(data, mn, dev)
                    return
                if r.PW is None and r.role == "heartbeat":
                    self._log_in("heartbeat", data)  # a keep-alive without PW: seen, but it binds nothing
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

    def _unknown(self, r: ParseResult, data: bytes, mn: str, t0: float) -> None:
        """A frame from an MN the registry does not know: ``unknown_mn_policy`` (spec §3.4)."""
        gw = self.gw
        policy = gw.config.unknown_mn_policy
        gw.stats[f"unknown_mn_{policy}"] += 1
        if policy == "quarantine":
            gw.request_refresh()
            ack = r.role in ("upload", "notify") and bool(r.ack_requested)
            build = data_response if r.role == "upload" else notify_response
            self._log_in("quarantined", data, self._acker(build, r, t0) if ack else None)
            return
        if policy == "pending" and mn not in self.pending_announced:
            self.pending_announced.add(mn)
            gw._event({"e": "pending_device", "mn": mn, "st": r.ST or "", "version": r.version, "pw": r.PW or ""}, self)
        self._refuse("unknown_mn", data, mn)
        if policy == "reject":
            self.close("unknown_mn")

    def _refuse_ip(self, data: bytes, mn: str, dev: DeviceInfo) -> None:
        """A registered MN from an address outside its ``allowed_ips``: archived, not acked, counted, audited."""
        gw = self.gw
        self._log_in("ip_refused", data)
        gw._event({"e": "ip_refused", "mn": mn, "allowed": list(dev.allowed_ips or ())}, self)
        log.warning("MN %s from %s: address not in allowed_ips; refused", mn, self.peer)
        if gw.limiter.fail(self.ip):
            gw.stats["auth_blocked"] += 1
            self.close("ip_refused")

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
            policy = dev.ack_policy if dev is not None else "flag"  # spec §3.5 ack_policy per device
            ack = r.ack_requested if policy == "flag" else policy == "always"
            self._log_in(status, data, self._acker(data_response, r, t0) if ack else None)
            gw._on_upload(self, r)
        elif role == "notify":
            self._log_in(status, data, self._acker(notify_response, r, t0))
            if cn == "1013" and r.MN:
                gw._spawn(gw.time_sync(r.MN, force=True, source="notify_1013"))
        elif role == "request":
            self._log_in("request", data, self._request_answer(r, t0))
        elif role == "answer":
            matched = gw._on_answer(self, r)
            self._log_in("answer" if matched else "unmatched_answer", data)
        elif role == "heartbeat":
            policy = (dev.heartbeat_reply if dev is not None else None) or gw.config.heartbeat_reply
            if policy == "9014":
                self._log_in("heartbeat", data, self._acker(data_response, r, t0))
            elif policy == "echo":
                self._log_in("heartbeat", data, self._echo(data))
            else:
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

    def _echo(self, data: bytes) -> Callable[[bool], None]:
        def on_durable(ok: bool) -> None:
            if ok:
                self.send(data if data.endswith(b"\r\n") else data + b"\r\n")

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
        self._last_connect_seq: dict[str, float] = {}
        self._conn_seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._auth_executor = ThreadPoolExecutor(2, thread_name_prefix="hj212-auth")
        self._db_executor = ThreadPoolExecutor(1, thread_name_prefix="hj212-loader")
        self._cmd_executor = ThreadPoolExecutor(1, thread_name_prefix="hj212-commands")
        self._claimed: set[str] = set()  # MNs with a queued row being sent
        self._refresh_wanted = False
        self._loaded_marker: Any = None
        self._wal_alerted = False
        self.server: asyncio.base_events.Server | None = None
        self.wal: WriteAheadLog
        self.loader: Any = None
        self.supervisor: Any = None
        self.loader_paused = False
        self.port = config.port

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        raise_fd_limit()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._db_executor, self.credentials.refresh)
        floor = 1
        if self.store is not None and self.config.loader and self.config.loader_mode == "process":
            floor = await loop.run_in_executor(self._db_executor, self._checkpoint_floor)
        elif self.store is not None and self.config.loader:
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
        if self._persisting:
            self._spawn(self._command_poll())
        if self.store is not None and self.config.gap_scan:
            self._spawn(self._gap_scanner())
        if self.loader is not None:
            self._spawn(self._load_loop())
        elif self.store is not None and self.config.loader and self.config.loader_mode == "process":
            from bogda.hj212.loader_process import LoaderOptions, LoaderSupervisor

            self.supervisor = LoaderSupervisor(
                self.config.database_url or self.store.url,
                LoaderOptions(
                    wal_dir=self.config.wal_dir,
                    gateway_id=self.config.gateway_id,
                    batch=self.config.loader_batch,
                    interval_s=self.config.loader_interval_s,
                ),
            )
            self.supervisor.start()
            self._spawn(self._supervise())
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
        if self.supervisor is not None:
            if drain:  # give the loader process the time to store what is in the log, then stop it
                deadline = time.monotonic() + self.config.loader_drain_s
                while time.monotonic() < deadline and (self._loaded_seq() or 0) < self.wal.durable_seq:
                    if self.supervisor.pid is None:
                        break
                    await asyncio.sleep(0.05)
            await asyncio.get_running_loop().run_in_executor(self._db_executor, self.supervisor.stop)
        self._db_executor.shutdown(wait=True)
        self._cmd_executor.shutdown(wait=True)
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
                self._spawn(self.time_sync(mn, source="connect"))
        dev = self.credentials.devices.get(mn)
        if dev is not None and dev.on_connect:  # first-connection sequence (§3.6), after the 1012, in order
            last = self._last_connect_seq.get(mn)
            if last is None or time.monotonic() - last >= self.config.time_sync_min_gap_s:
                self._last_connect_seq[mn] = time.monotonic()
                for cn, fields in dev.on_connect:
                    self._spawn(self.send_request(mn, cn, dict(fields), source="connect"))

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
                    self._spawn(self.time_sync(mn, source="clock_drift"))

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

    async def command(
        self,
        mn: str,
        cn: str,
        build: Callable[[str, str, str, int], bytes],
        *,
        source: str = "api",
        params: dict[str, Any] | None = None,
        row_id: int | None = None,
    ) -> Command:
        """Send a request built by ``build(qn, st, pw, version)`` to ``mn`` and drive it to its end (§3.6).

        Every change of state is written to ``hj212_command`` (a new row unless ``row_id`` is given: a row this
        gateway claimed from the queue) from a worker thread, never waiting on the database."""
        cmd = Command(mn, cn, "", b"", row_id=row_id)
        if self._persisting:
            cmd.listener = self._persist
            if row_id is None:
                self._submit(self._insert_row, cmd, params or {}, source)
        lock = self._locks.setdefault(mn, asyncio.Lock())
        async with lock:  # one command in flight per MN
            conn = self.sessions.get(mn)
            if conn is None:
                if row_id is not None:  # a queued row: it waits for the device until command_ttl
                    self._submit(self._requeue_row, row_id)
                    cmd.state, cmd.error = "failed", "offline"
                    return cmd
                cmd._finish("failed", "offline")
                return cmd
            qn = self._next_qn(mn)
            cmd.qn = qn
            cmd.frame = build(qn, conn.st.get(mn) or "", conn.bound.get(mn, ""), conn.version.get(mn, 1))
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

    async def recall(self, mn: str, cn: str, begin: datetime, end: datetime, *, source: str = "api") -> Command:
        """History recall 2031/2041/2051/2061 over [begin, end] (interval starts, aware)."""

        def build(qn: str, st: str, pw: str, version: int) -> bytes:
            return recall_command(cn, st=st, mn=mn, pw=pw, qn=qn, begin=begin, end=end, version=version)

        params = {"begin": begin.isoformat(), "end": end.isoformat()}
        return await self.command(mn, cn, build, source=source, params=params)

    async def time_sync(self, mn: str, *, force: bool = False, source: str = "time_sync") -> Command:
        """1012 with SystemTime = now (Beijing time in the frame); at most once per ``time_sync_min_gap_s`` unless
        ``force`` (a 1013 request)."""
        last = self._last_sync.get(mn)
        if not force and last is not None and time.monotonic() - last < self.config.time_sync_min_gap_s:
            return Command(mn, "1012", "", b"", state="failed", error="min_gap")
        self._last_sync[mn] = time.monotonic()

        def build(qn: str, st: str, pw: str, version: int) -> bytes:
            return time_sync_command(st=st, mn=mn, pw=pw, qn=qn, system_time=datetime.now(UTC), version=version)

        return await self.command(mn, "1012", build, source=source)

    async def send_request(
        self, mn: str, cn: str, fields: dict[str, str] | None = None, *, source: str = "api"
    ) -> Command:
        """Any other platform request (1000, 1062, 1064, 1072, 2012 …) with CP ``fields``."""

        def build(qn: str, st: str, pw: str, version: int) -> bytes:
            return build_command(cn, st=st, mn=mn, pw=pw, qn=qn, version=version, fields=fields or {})

        return await self.command(mn, cn, build, source=source, params={"fields": dict(fields or {})})

    # ------------------------------------------------------------------------------------------ command rows
    @property
    def _persisting(self) -> bool:
        return self.store is not None and self.config.persist_commands

    def _submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a database write in the command writer thread (FIFO, so a row's updates follow its insert)."""

        def done(f: Any) -> None:
            exc = f.exception()
            if exc is not None:
                self.stats["command_store_errors"] += 1
                log.warning("command table: %s", exc)

        self._cmd_executor.submit(fn, *args).add_done_callback(done)

    def _insert_row(self, cmd: Command, params: dict[str, Any], source: str) -> None:
        from bogda.hj212.command_store import enqueue_command

        with self.store.begin() as conn:
            cmd.row_id = enqueue_command(
                conn, cmd.mn, cmd.cn, params, source=source, gateway_id=self.config.gateway_id, queue_max=1 << 30
            )

    def _persist(self, cmd: Command, what: str) -> None:
        """``Command.listener``: the state change ``what`` → ``hj212_command`` (values taken now, written later)."""
        now = datetime.now(UTC)
        values: dict[str, Any] = {"qn": cmd.qn or None, "attempts": cmd.attempts, "updated_at": now}
        if what == "sent":
            values["state"] = "sent"
            if cmd.attempts == 1:
                values["sent_at"] = now
        elif what == "accepted":
            values.update(state="accepted", qn_rtn=cmd.qn_rtn, answered_at=now)
        else:
            values.update(
                state=cmd.final_state, error=(cmd.error or "")[:64] or None, qn_rtn=cmd.qn_rtn, exe_rtn=cmd.exe_rtn,
                data_frames=cmd.data_frames, finished_at=now,
            )  # fmt: skip
            if cmd.qn_rtn is not None or cmd.exe_rtn is not None:
                values["answered_at"] = now
        self._submit(self._update_row, cmd, values, what == "finished" and values.get("answered_at") is not None)

    def _update_row(self, cmd: Command, values: dict[str, Any], keep_answered: bool) -> None:
        from sqlalchemy import func

        from bogda.hj212.command_store import update_command
        from bogda.store.schema import hj212_command

        if cmd.row_id is None:
            return  # its insert failed (logged): nothing to update
        if keep_answered:  # the time of the first answer (9011) stays
            values["answered_at"] = func.coalesce(hj212_command.c.answered_at, values["answered_at"])
        with self.store.begin() as conn:
            update_command(conn, cmd.row_id, **values)

    def _requeue_row(self, row_id: int) -> None:
        from bogda.hj212.command_store import update_command

        with self.store.begin() as conn:
            update_command(conn, row_id, state="queued", gateway_id=None)

    def _claim_rows(self, online: list[str], busy: set[str]) -> list[Any]:
        from datetime import timedelta

        from bogda.hj212.command_store import claim_commands

        with self.store.begin() as conn:
            return claim_commands(
                conn, self.config.gateway_id, online, busy=busy, ttl=timedelta(seconds=self.config.command_ttl_s)
            )

    def _prune_rows(self) -> int:
        from bogda.hj212.command_store import prune_commands

        with self.store.begin() as conn:
            return prune_commands(conn)

    def _recover_rows(self) -> int:
        from bogda.hj212.command_store import recover_commands

        with self.store.begin() as conn:
            return recover_commands(conn, self.config.gateway_id)

    async def _command_poll(self) -> None:
        """Send the queued commands of the devices online here, one per MN at a time (§3.6)."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            n = await loop.run_in_executor(self._cmd_executor, self._recover_rows)
            if n:
                log.info("%d commands in flight at the last stop queued again", n)
        while True:
            await asyncio.sleep(self.config.command_poll_s)
            online = list(self.sessions)
            if not online:
                continue
            busy = set(self._inflight) | self._claimed
            try:
                rows = await loop.run_in_executor(self._cmd_executor, self._claim_rows, online, busy)
            except Exception as exc:  # database down: commands wait; acks are not affected
                log.warning("command queue not read: %s", exc)
                continue
            for row in rows:
                self._claimed.add(row.mn)
                self._spawn(self._run_row(row))

    async def _run_row(self, row: Any) -> None:
        cn, mn, params = row.cn, row.mn, row.params
        try:
            if cn in RECALL_CN:
                begin = datetime.fromisoformat(params["begin"])
                end = datetime.fromisoformat(params["end"])

                def build(qn: str, st: str, pw: str, version: int) -> bytes:
                    return recall_command(cn, st=st, mn=mn, pw=pw, qn=qn, begin=begin, end=end, version=version)

            elif cn == "1012":
                self._last_sync[mn] = time.monotonic()

                def build(qn: str, st: str, pw: str, version: int) -> bytes:
                    return time_sync_command(st=st, mn=mn, pw=pw, qn=qn, system_time=datetime.now(UTC), version=version)

            else:
                fields = dict(params.get("fields") or {})

                def build(qn: str, st: str, pw: str, version: int) -> bytes:
                    return build_command(cn, st=st, mn=mn, pw=pw, qn=qn, version=version, fields=fields)

            await self.command(mn, cn, build, row_id=row.id)
        finally:
            self._claimed.discard(mn)

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
                mn, cn, data_time = msg.key
                self._event({"e": "packet_incomplete", "mn": mn, "cn": cn, "data_time": data_time,
                             "total": msg.pnum, "missing": msg.missing}, None)  # fmt: skip
            usage = self.wal.total_bytes / max(1, self.wal.max_bytes)
            if usage >= 0.8 and not self._wal_alerted:  # spec §3.9: ops alert above 80 % of wal_max_bytes
                self._wal_alerted = True
                log.error("write-ahead log at %.0f %% of its maximum: the loader is not keeping up", usage * 100)
                self._event({"e": "wal_usage", "ratio": round(usage, 3), "bytes": self.wal.total_bytes}, None)
            elif usage < 0.7:
                self._wal_alerted = False

    async def _gap_scanner(self) -> None:
        """Hourly at ``gap_scan_minute``: queue recalls for missing minute/hour records (:mod:`bogda.hj212.gaps`)."""
        from bogda.hj212.gaps import gap_scan

        loop = asyncio.get_running_loop()
        while True:
            now = time.time()
            at = (now // 3600) * 3600 + self.config.gap_scan_minute * 60
            if at <= now:
                at += 3600
            await asyncio.sleep(at - now)
            try:
                report = await loop.run_in_executor(self._cmd_executor, gap_scan, self.store)
            except Exception as exc:
                log.warning("gap scan failed: %s", exc)
                continue
            with contextlib.suppress(Exception):
                await loop.run_in_executor(self._cmd_executor, self._prune_rows)
            self.stats["gap_scan_runs"] += 1
            self.stats["gap_scan_queued"] += len(report.queued)
            log.info("gap scan: %d devices, %d missing slots, %d recalls queued", report.devices,
                     report.missing_slots, len(report.queued))  # fmt: skip

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

    def _checkpoint_floor(self) -> int:
        """Next seq at least the stored checkpoint + 1 (every segment may have been pruned); the loader's marker
        file when the database cannot be read (acks must not wait for the database)."""
        from bogda.hj212.ingest import read_checkpoint
        from bogda.hj212.wal import LOADED_MARKER, read_marker

        try:
            return read_checkpoint(self.store, self.config.gateway_id)[1] + 1
        except Exception as exc:
            log.warning("checkpoint not read (%s): using the loader's marker file", exc)
            return (read_marker(self.config.wal_dir, LOADED_MARKER) or 0) + 1

    def _loaded_seq(self) -> int | None:
        if self.loader is not None:
            return self.loader.checkpoint_seq
        if self._loaded_marker is None:
            from bogda.hj212.wal import LOADED_MARKER, SeqMarker

            self._loaded_marker = SeqMarker(self.config.wal_dir / LOADED_MARKER)
        return self._loaded_marker.read()

    async def _supervise(self) -> None:
        """Keep the loader process running and prune log segments it has stored (spec §3.9 retention)."""
        last_prune = 0.0
        while True:
            await asyncio.sleep(1.0)
            if not self.supervisor.check():
                self.stats["loader_down_s"] += 1
            self.stats["loader_restarts"] = self.supervisor.restarts
            now = time.monotonic()
            if now - last_prune >= 10.0:
                last_prune = now
                seq = self._loaded_seq()
                if seq:
                    with contextlib.suppress(Exception):
                        self.wal.prune(seq, older_than_s=self.config.wal_retention_s)

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
            "loader_seq": self._loaded_seq(),
            "loader_mode": self.config.loader_mode if self.config.loader else "off",
            "loader_pid": self.supervisor.pid if self.supervisor is not None else None,
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
