"""HJ 212 device simulator: fleets, fault injection and the loopback client (spec hj212.md §3.10). Device profiles,
value models and command answers live in :mod:`bogda.hj212.simdevice` (re-exported here).

The pure part generates, for a fleet of simulated data loggers, the exact bytes they send: uploads on their
schedule (2011 every RtdInterval, 2051 every MinInterval, 2061 on the hour, 2031 at midnight), the answers to
platform commands (§3.8) and injected faults, each with the parse verdict it must produce. Values are a pure
function of (seed, MN, factor, time): smooth noise anchored on a seeded RNG stands in for AR(1) noise, so a
recalled slot is re-sent with exactly the values first sent. Same seed -> byte-identical frames and manifest.

:func:`run_devices` is the only I/O: an asyncio client that replays the frames to a gateway on the loopback
interface, collects 9014 acks, answers commands and re-sends unacknowledged frames (OverTime/ReCount).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bogda.hj212 import codes
from bogda.hj212.answers import build_frame, format_cp
from bogda.hj212.codec import parse_frame
from bogda.hj212.crc import crc_hex, variant_crc_hex
from bogda.hj212.framing import FrameReader
from bogda.hj212.simdevice import KINDS, PROFILES, AnswerConfig, DeviceProfile, FactorModel, SimDevice, make_fleet

__all__ = [
    "FAULT_NAMES",
    "KINDS",
    "PROFILES",
    "AnswerConfig",
    "DeviceProfile",
    "FactorModel",
    "FaultConfig",
    "RunReport",
    "SimDevice",
    "SimFrame",
    "Simulator",
    "make_fleet",
    "run_devices",
]

FAULT_NAMES: tuple[str, ...] = (
    "crc",
    "modbus_crc",
    "modbus_swapped",
    "lowercase_crc",
    "wrong_len",
    "no_crlf",
    "glued",
    "split",
    "junk",
    "no_flag",
    "no_qn",
    "oversize",
    "gbk",
    "alias",
    "codes2005",
    "duplicate",
    "drop_conn",
    "wrong_pw",
)
"""Per-frame fault probabilities accepted by ``--fault`` (spec §3.10); ``clock_drift_s`` is a per-device bound."""
_CRC_FAULTS = ("crc", "modbus_crc", "modbus_swapped", "lowercase_crc")
_INVALID_FAULTS = frozenset({"crc", "modbus_crc", "modbus_swapped", "wrong_len", "oversize"})
_ALIAS_OF = {v: k for k, v in codes.VENDOR_ALIASES["common"].items() if k not in ("PM2.5",)}
_JUNK = (b"\x00\x00", b"AT+CSQ\r\n", b"+CSQ: 23,99\r\n", b"\xff\xfe\xfd", b"##abcd", b"hello\r\n")


# ---------------------------------------------------------------------------------------------- faults
@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Fault probabilities per frame (spec §3.10 ``--fault``)."""

    probabilities: dict[str, float] = field(default_factory=dict)
    clock_drift_s: float = 0.0
    """Bound of each device's clock error [s]; applied by :class:`Simulator` (a 1012 resets it)."""

    @classmethod
    def parse(cls, text: str) -> FaultConfig:
        """``"crc=0.01,glued=0.05,clock_drift_s=300"`` -> FaultConfig; unknown names raise ``ValueError``.

        >>> FaultConfig.parse("crc=0.01, glued=0.05").probabilities
        {'crc': 0.01, 'glued': 0.05}
        """
        probs: dict[str, float] = {}
        drift = 0.0
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name == "clock_drift_s":
                drift = abs(float(value))
                continue
            if name not in FAULT_NAMES:
                raise ValueError(f"unknown fault {name!r}; expected one of {', '.join(FAULT_NAMES)}")
            p = float(value)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"fault probability {name}={value} outside [0, 1]")
            probs[name] = p
        return cls(probs, drift)


@dataclass(frozen=True, slots=True)
class SimFrame:
    """One upload as sent: its bytes (with CR LF unless ``no_crlf``), faults and the verdicts they imply."""

    t_sent: datetime
    mn: str
    cn: str
    qn: str | None
    data_time: datetime
    data: bytes
    faults: tuple[str, ...]
    strict_valid: bool
    lenient_accepted: bool
    ack_expected: bool
    """The gateway should answer with 9014 (A = 1, accepted, right PW)."""
    ack_requested: bool = False
    """The device asks for a 9014 (A = 1) and waits for it, re-sending after OverTime."""

    def manifest_record(self) -> dict[str, object]:
        """One manifest line (spec §3.10)."""
        return {
            "t_sent": self.t_sent.isoformat(),
            "mn": self.mn,
            "cn": self.cn,
            "qn": self.qn,
            "data_time": self.data_time.isoformat(),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "faults": list(self.faults),
            "strict_valid": self.strict_valid,
            "lenient_accepted": self.lenient_accepted,
        }


class Simulator:
    """A fleet plus fault injection: time-ordered :class:`SimFrame` s and the socket writes that carry them.

    Deterministic: the same devices, faults and ``seed`` give byte-identical output.
    """

    def __init__(self, devices: list[SimDevice], *, faults: FaultConfig | None = None, seed: int = 0) -> None:
        self.devices = devices
        self.faults = faults or FaultConfig()
        self.seed = seed
        self._rngs = {d.mn: random.Random(f"{seed}|faults|{d.mn}") for d in devices}
        if self.faults.clock_drift_s:
            for d in devices:
                drift = random.Random(f"{seed}|drift|{d.mn}")
                d.clock_offset_s = drift.uniform(-self.faults.clock_drift_s, self.faults.clock_drift_s)

    def frames(self, start: datetime, end: datetime) -> Iterator[SimFrame]:
        """Every upload of every device with ``start <= t_sent < end``, ordered by (t_sent, device index)."""
        events = []
        for d in self.devices:
            for t_send, cn, dt in d.schedule(start, end):
                events.append((t_send, d.index, cn, dt))
        events.sort(key=lambda e: (e[0], e[1]))
        by_index = {d.index: d for d in self.devices}
        for t_send, idx, cn, dt in events:
            yield self.frame(by_index[idx], cn, dt, t_send)

    def frame(self, device: SimDevice, cn: str, data_time: datetime, t_sent: datetime) -> SimFrame:
        """One upload with the faults drawn for it."""
        rng = self._rngs[device.mn]
        drawn = [name for name in FAULT_NAMES if (p := self.faults.probabilities.get(name)) and rng.random() < p]
        crc_fault = next((f for f in _CRC_FAULTS if f in drawn), None)
        faults = tuple(f for f in drawn if f not in _CRC_FAULTS or f == crc_fault)
        qn = device.next_qn(t_sent) if device.version and "no_qn" not in faults else None
        pollutants = device.values(cn, data_time)
        if "alias" in faults:
            pollutants = {_ALIAS_OF.get(c, c): v for c, v in pollutants.items()}
        if "codes2005" in faults:
            pollutants = {codes.CODE_2017_TO_2005.get(c, c): v for c, v in pollutants.items()}
        if "gbk" in faults:
            pollutants = {**pollutants, "i11001": {"Info": "//设备运行正常//"}}
        if "oversize" in faults:
            i = 0
            while len(format_cp({}, pollutants).encode()) < 1100:
                pollutants = {**pollutants, f"e7{i:04d}": {"Rtd": "0.000", "Flag": "N"}}
                i += 1
        seg = device.segment(
            cn,
            data_time,
            qn,
            pollutants=pollutants,
            flag=device.version > 0 and "no_flag" not in faults,
            pw="000000" if "wrong_pw" in faults and device.pw != "000000" else None,
        )
        seg_bytes = seg.encode("gbk" if "gbk" in faults else "utf-8")
        variant = {"modbus_crc": "modbus_be", "modbus_swapped": "modbus_byteswapped"}.get(crc_fault or "", "hj212")
        if variant != "hj212" and variant_crc_hex(seg_bytes, variant) == crc_hex(seg_bytes):
            faults = tuple(f for f in faults if f != crc_fault)  # a Modbus CRC equal to the standard one is no fault
        declared = None
        if "wrong_len" in faults:
            declared = len(seg_bytes) + rng.choice((-3, -2, -1, 1, 2, 5))
        data = build_frame(
            seg_bytes,
            crlf="no_crlf" not in faults,
            crc_variant=variant,
            lowercase_crc="lowercase_crc" in faults,
            declared_len=declared,
        )
        if "crc" in faults:
            data = _break_crc(data, seg_bytes)
        strict_valid = _INVALID_FAULTS.isdisjoint(faults)
        lenient = "crc" not in faults
        requested = device.ack and device.version > 0 and "no_flag" not in faults and qn is not None
        ack = requested and lenient and "wrong_pw" not in faults
        return SimFrame(t_sent, device.mn, cn, qn, data_time, data, faults, strict_valid, lenient, ack, requested)

    def writes(self, frames: Iterable[SimFrame]) -> Iterator[tuple[str, bytes, tuple[SimFrame, ...]]]:
        """Socket writes ``(mn, bytes, frames carried)`` applying the stream faults of each frame: ``junk`` before
        it, ``split`` across 2-3 writes, ``glued`` with the device's next frame, ``duplicate`` sent twice.
        ``drop_conn`` is left to the sender (close after the write)."""
        held: dict[str, tuple[bytes, tuple[SimFrame, ...]]] = {}
        for f in frames:
            rng = self._rngs[f.mn]
            data = (rng.choice(_JUNK) if "junk" in f.faults else b"") + f.data
            if "duplicate" in f.faults:
                data += f.data if f.data.endswith(b"\r\n") else b"\r\n" + f.data
            prev = held.pop(f.mn, None)
            carried: tuple[SimFrame, ...] = (f,)
            if prev is not None:
                data, carried = prev[0] + data, prev[1] + carried
            if "glued" in f.faults:
                held[f.mn] = (data, carried)
                continue
            if "split" in f.faults and len(data) > 3:
                cuts = sorted(rng.sample(range(1, len(data)), min(2, len(data) - 1)))
                pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
                for piece in pieces[:-1]:
                    yield f.mn, piece, ()
                yield f.mn, pieces[-1], carried
                continue
            yield f.mn, data, carried
        for mn, (data, carried) in held.items():
            yield mn, data, carried


def _break_crc(frame: bytes, seg: bytes) -> bytes:
    """Replace the CRC with one matching no known algorithm."""
    end = len(frame) - (2 if frame.endswith(b"\r\n") else 0)
    good = {variant_crc_hex(seg, v) for v in ("hj212", "modbus_be", "modbus_byteswapped")}
    value = int(frame[end - 4 : end], 16)
    while True:
        value = (value + 0x0101) & 0xFFFF
        if f"{value:04X}" not in good:
            return frame[: end - 4] + f"{value:04X}".encode() + frame[end:]


# ---------------------------------------------------------------------------------------------- TCP client
@dataclass(slots=True)
class RunReport:
    """What :func:`run_devices` did."""

    sent: int = 0
    acked: int = 0
    resent: int = 0
    unacked: int = 0
    missing_acks: int = 0
    """Frames the gateway should have acked (``ack_expected``) but did not: authentication or parse refusals that
    were not injected (the CLI exits non-zero)."""
    unexpected_acks: int = 0
    """Frames acked although an injected fault should have made the gateway refuse them."""
    commands: int = 0
    connections: int = 0
    reconnects: int = 0
    acked_log: list[dict[str, object]] = field(default_factory=list)
    manifest: list[dict[str, object]] = field(default_factory=list)


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


async def run_devices(
    host: str,
    port: int,
    devices: list[SimDevice],
    *,
    start: datetime,
    end: datetime,
    faults: FaultConfig | None = None,
    answers: AnswerConfig | None = None,
    seed: int = 0,
    max_rate: float | None = None,
    max_frames: int = 1_000_000,
    timeout_s: float = 60.0,
    over_time_s: float = 10.0,
    re_count: int = 3,
    linger_s: float = 0.2,
    reconnect: bool = False,
) -> RunReport:
    """Replay the devices' uploads between ``start`` and ``end`` (simulated time) to a gateway on the loopback
    interface, as fast as ``max_rate`` [frames/s] allows, one connection per device.

    Each device waits for the 9014 of a frame that asks for one (A = 1) up to ``over_time_s`` [s] and re-sends it
    up to ``re_count`` times (HJ 212-2017 Table 1), answers platform commands with :meth:`SimDevice.answer`, and
    stops after ``timeout_s`` [s] of wall time in any case. With ``reconnect`` a device whose connection breaks
    (the gateway was killed) reconnects and re-sends from its first unacknowledged write (the kill test).
    Bounded: loopback only, at most 20 000 devices and ``max_frames`` frames.
    """
    if host not in _LOOPBACK:
        raise ValueError(f"run_devices connects to the loopback interface only, not {host!r}")
    if len(devices) > 20_000:
        raise ValueError("at most 20 000 simulated devices")
    sim = Simulator(devices, faults=faults, seed=seed)
    report = RunReport()
    per_device: dict[str, list[tuple[bytes, tuple[SimFrame, ...]]]] = {d.mn: [] for d in devices}
    frames = list(itertools.islice(sim.frames(start, end), max_frames))
    report.manifest.extend(f.manifest_record() for f in frames)
    for mn, data, carried in sim.writes(frames):
        per_device[mn].append((data, carried))
    limiter = _RateLimiter(max_rate)
    by_mn = {d.mn: d for d in devices}
    answers = answers or AnswerConfig()

    async def session(mn: str) -> None:
        device = by_mn[mn]
        todo = per_device[mn]
        while todo:  # one pass per connection; a drop_conn fault closes it and the device reconnects
            try:
                todo = await connection(device, todo)
            except _Lost as lost:  # the gateway went away: reconnect and re-send from the unacked write
                todo = lost.rest
                report.reconnects += 1
                await asyncio.sleep(0.2)
            except OSError:
                if not reconnect:
                    raise
                report.reconnects += 1
                await asyncio.sleep(0.2)

    async def connection(
        device: SimDevice, writes: list[tuple[bytes, tuple[SimFrame, ...]]]
    ) -> list[tuple[bytes, tuple[SimFrame, ...]]]:
        reader, writer = await asyncio.open_connection(host, port)
        report.connections += 1
        framer = FrameReader(detect_scanners=False, max_junk_before_first_frame=0)
        pending: dict[str, asyncio.Future[None]] = {}
        loop = asyncio.get_running_loop()

        async def receive() -> None:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                for item in framer.feed(chunk):
                    if item.kind != "frame":
                        continue
                    msg = parse_frame(item.data)
                    if msg.CN == "9014":
                        fut = pending.pop(msg.request_qn or "", None)
                        if fut is not None and not fut.done():
                            fut.set_result(None)
                    elif msg.role == "request":
                        report.commands += 1
                        if answers.delay:
                            await asyncio.sleep(answers.delay)
                        for out in device.answer(msg, datetime.now(UTC), answers):
                            writer.write(out)

        receiver = asyncio.create_task(receive())
        rest: list[tuple[bytes, tuple[SimFrame, ...]]] = []
        try:
            for i, (data, carried) in enumerate(writes):
                await limiter.wait(max(1, len(carried)))
                waiting = []
                for f in carried:  # registered before writing: the 9014 may come back at once
                    if f.ack_requested and f.qn:
                        fut = pending[f.qn] = loop.create_future()
                        waiting.append((f, fut))
                try:
                    if receiver.done():
                        raise ConnectionResetError("gateway closed the connection")
                    writer.write(data)
                    await writer.drain()
                    report.sent += len(carried)
                    for f, fut in waiting:
                        await _await_ack(f, fut, pending, writer, report, over_time_s, re_count, receiver)
                except (ConnectionError, OSError) as exc:
                    if not reconnect:
                        raise
                    report.resent += len(carried)
                    raise _Lost(writes[i:]) from exc
                if any("drop_conn" in f.faults for f in carried):
                    rest = writes[i + 1 :]
                    break
            else:
                await asyncio.sleep(linger_s)
        finally:
            receiver.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        return rest

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(session(mn) for mn in per_device)), timeout_s)
    return report


async def _await_ack(
    frame: SimFrame,
    fut: asyncio.Future[None],
    pending: dict[str, asyncio.Future[None]],
    writer: asyncio.StreamWriter,
    report: RunReport,
    over_time_s: float,
    re_count: int,
    receiver: asyncio.Task[None] | None = None,
) -> None:
    """Wait for the 9014 of ``frame``; re-send it after each OverTime, at most ReCount times. Raises
    ``ConnectionResetError`` when the connection ends meanwhile."""
    qn = frame.qn or ""
    for attempt in range(re_count + 1):
        if attempt:
            pending[qn] = fut
            writer.write(frame.data if frame.data.endswith(b"\r\n") else frame.data + b"\r\n")
            report.resent += 1
        if receiver is None:
            try:
                await asyncio.wait_for(asyncio.shield(fut), over_time_s)
            except TimeoutError:
                continue
        else:
            await asyncio.wait({fut, receiver}, timeout=over_time_s, return_when=asyncio.FIRST_COMPLETED)
            if not fut.done():
                if receiver.done():
                    raise ConnectionResetError("connection closed before the 9014")
                continue
        report.acked += 1
        if not frame.ack_expected:
            report.unexpected_acks += 1
        report.acked_log.append(
            {"mn": frame.mn, "cn": frame.cn, "qn": qn, "data_time": frame.data_time.isoformat(),
             "t_ack": datetime.now(UTC).isoformat()}
        )  # fmt: skip
        return
    pending.pop(qn, None)
    report.unacked += 1
    if frame.ack_expected:
        report.missing_acks += 1


class _Lost(Exception):
    """A connection broke; ``rest`` are the writes still to send (from the first unacknowledged one)."""

    def __init__(self, rest: list) -> None:
        super().__init__("connection lost")
        self.rest = rest


class _RateLimiter:
    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.monotonic()

    async def wait(self, n: int = 1) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        self.next = max(self.next, now) + self.interval * n
        delay = self.next - now - self.interval * n
        if delay > 0:
            await asyncio.sleep(delay)
