"""Helpers shared by the gateway tests: a raw device client, a test configuration, uploads of simulated devices."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bogda.hj212.answers import build_upload, make_qn
from bogda.hj212.codec import parse_frame
from bogda.hj212.framing import FrameReader
from bogda.hj212.gateway import GatewayConfig

START = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)


def config(tmp_path: Path, **kw) -> GatewayConfig:
    base = dict(host="127.0.0.1", port=0, wal_dir=tmp_path / "wal", time_sync_on_connect=False, loader_interval_s=0.05)
    base.update(kw)
    return GatewayConfig(**base)


class Client:
    """A raw device connection that collects the frames the gateway sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = FrameReader(detect_scanners=False, max_junk_before_first_frame=0)
        self.frames: list = []

    @classmethod
    async def open(cls, port: int) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def expect(self, n: int, timeout: float = 3.0) -> list:
        async def fill() -> None:
            while len(self.frames) < n:
                chunk = await self.reader.read(65536)
                if not chunk:
                    return
                self.frames += [parse_frame(i.data) for i in self.framer.feed(chunk) if i.kind == "frame"]

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fill(), timeout)
        return self.frames

    async def closed_within(self, timeout: float) -> bool:
        try:
            while True:
                chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not chunk:
                    return True
        except (TimeoutError, ConnectionError):
            return False

    def close(self) -> None:
        self.writer.close()


def upload(dev, minute: int, *, pw: str | None = None, cn: str = "2051", mn: str | None = None, **kw) -> bytes:
    t = START + timedelta(minutes=minute)
    return build_upload(
        cn, st=dev.st, mn=mn or dev.mn, pw=dev.pw if pw is None else pw, qn=make_qn(t + timedelta(seconds=30)),
        data_time=t, pollutants=dev.values(cn, t), **kw,
    )  # fmt: skip


async def device_session(port: int, dev, answers, stop: asyncio.Event, first: bytes | None = None) -> None:
    """A connected simulated logger (one upload to bind) that answers commands until ``stop``."""
    from bogda.hj212.simdevice import SimDevice  # noqa: F401  (dev is one)

    c = await Client.open(port)
    await c.send(first if first is not None else upload(dev, 0))
    framer = c.framer
    while not stop.is_set():
        try:
            chunk = await asyncio.wait_for(c.reader.read(65536), 0.05)
        except TimeoutError:
            continue
        if not chunk:
            break
        for item in framer.feed(chunk):
            msg = parse_frame(item.data)
            if msg.role == "request":
                for out in dev.answer(msg, datetime.now(UTC), answers):
                    c.writer.write(out)
    c.close()


async def wait_for(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return bool(predicate())
