"""Benchmark: the HJ 212 gateway end to end on 127.0.0.1 (spec hj212.md §8, §9.5-§9.7).

Figures, each with its baseline or target in the same run:

1. ``throughput`` — frames per gateway CPU-second (CPU time of the gateway subprocess from /proc; the load client is
   another process) for framing, CRC, parse, auth, write-ahead log append + group fsync and the 9014 ack, loader
   off (the hot path), for the simulator's mix (mean frame ≈ 450 B) and for a ≈ 310-byte mix (the size §8 states
   its target for). Then the loader drains that log (records/s). Baseline: one transaction per frame ("ack after
   the DB commit").
2. ``idle`` — 10,000 device connections, each authenticated by one acked upload, held by separate client
   processes (RSS per connection), and the ack latency p50/p99 of a paced load (``--rate``, default 1,000
   frames/s) from 100 other devices while they stay open (target < 1 s).
3. ``recall`` — a 24 h minute-data recall (2051, MinInterval 10) for 100 devices: ~14,400 frames acked and
   committed (gateway, loader and devices in this one process), then the same log replayed by a fresh loader into
   an empty store (target < 30 s). Baseline: the same loader in 500-record transactions.
4. ``kill`` — the simulator drives devices with A = 1 and ``duplicate``/``split`` faults; the gateway subprocess is
   SIGKILLed 3 times at random moments and restarted (its loader child process dies with it and the new gateway
   starts a new one); after the loader drains, every acked (mn, cn, qn) must be in
   raw_frame as stored exactly once and every value of those frames in observation once.

All load goes to 127.0.0.1, bounded in frames and seconds. Devices are registered with cheap argon2 parameters
(the hash carries its parameters, so the gateway's verification is cheap too): auth cost is not what is measured.
Run: ``.venv/bin/python bench/bench_hj212_gateway.py [throughput|idle|recall|kill|all] [--pg URL]``; a
throwaway PostgreSQL database is created per store and always dropped again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import func, select, text

import bogda.registry.devices as registry_devices
from bogda.hj212.codec import parse_frame
from bogda.hj212.framing import FrameReader
from bogda.hj212.ingest import Loader, load_devices, observation_rows
from bogda.hj212.registration import register_fleet
from bogda.hj212.simulator import FaultConfig, Simulator, make_fleet, run_devices
from bogda.store import connect
from bogda.store.schema import observation, raw_frame

START = datetime(2026, 1, 15, tzinfo=UTC)
KINDS = "cems:60,wastewater:30,air:10"
REFERENCE_KINDS = "wastewater:100"
"""A fleet whose frames average ≈ 310 bytes, the mean frame size the §8 target is stated for."""
ROOT = Path(__file__).resolve().parents[1]
registry_devices._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class GatewayProcess:
    """``bogda gateway`` in a subprocess on 127.0.0.1."""

    def __init__(
        self, url: str, wal_dir: Path, port: int, *, loader: bool = True, loader_mode: str = "process"
    ) -> None:
        self.url, self.wal_dir, self.port, self.loader, self.loader_mode = url, wal_dir, port, loader, loader_mode
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "bogda", "gateway", "--database-url", self.url, "--host", "127.0.0.1",
               "--port", str(self.port), "--wal-dir", str(self.wal_dir), "--no-time-sync",
               "--loader" if self.loader else "--no-loader", "--loader-mode", self.loader_mode]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("gateway did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


class Throwaway:
    """A fresh store (SQLite file, or a new PostgreSQL database) that :meth:`drop` removes again."""

    def __init__(self, pg: str | None, folder: Path) -> None:
        self.pg, self.name = pg, None
        if pg is None:
            self.store = connect(f"sqlite:///{folder / 'bench.db'}")
            return
        from sqlalchemy import create_engine

        self.name = f"bogda_bench_{os.getpid()}_{random.randrange(1 << 30)}"
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.store = connect(admin.url.set(database=self.name).render_as_string(hide_password=False))
        except BaseException:
            self.drop()
            raise
        finally:
            admin.dispose()

    def drop(self) -> None:
        if getattr(self, "store", None) is not None:
            self.store.dispose()
        if self.name is None:
            return
        from sqlalchemy import create_engine

        admin = create_engine(self.pg, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        finally:
            admin.dispose()
        self.name = None


# ------------------------------------------------------------------------------------------------ load client
async def pipelined_load(
    port: int, frames_by_mn: dict[str, list[bytes]], window: int = 2, rate: float | None = None
) -> list[float]:
    """Send every device's frames on its own connection, ``window`` unacked at most and, with ``rate``, paced to
    ``rate`` frames/s in all; ack latencies [s]."""
    latencies: list[float] = []
    gap = len(frames_by_mn) / rate if rate else 0.0
    start = time.monotonic()

    async def device(frames: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        framer = FrameReader(detect_scanners=False, max_junk_before_first_frame=0)
        sent_at: dict[str, float] = {}
        slots = asyncio.Semaphore(window)
        done = asyncio.Event()
        expected = len(frames)

        async def receive() -> None:
            got = 0
            while got < expected:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                for item in framer.feed(chunk):
                    msg = parse_frame(item.data)
                    if msg.CN == "9014":
                        t = sent_at.pop(msg.request_qn or "", None)
                        if t is not None:
                            latencies.append(time.monotonic() - t)
                            got += 1
                            slots.release()
            done.set()

        rx = asyncio.create_task(receive())
        for k, f in enumerate(frames):
            await slots.acquire()
            if gap:
                await asyncio.sleep(max(0.0, start + k * gap - time.monotonic()))
            sent_at[parse_frame(f).QN or ""] = time.monotonic()
            writer.write(f)
        await asyncio.wait_for(done.wait(), 120)
        rx.cancel()
        writer.close()

    await asyncio.gather(*(device(fs) for fs in frames_by_mn.values()))
    return latencies


def load_frames(n_devices: int, hours: float, kinds: str = KINDS) -> tuple[list, dict[str, list[bytes]], int]:
    fleet = make_fleet(n_devices, seed=21, kinds=kinds)
    by_mn: dict[str, list[bytes]] = {d.mn: [] for d in fleet}
    n = 0
    for f in Simulator(fleet, seed=21).frames(START, START + timedelta(hours=hours)):
        by_mn[f.mn].append(f.data)
        n += 1
    return fleet, by_mn, n


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")


def raise_nofile() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ------------------------------------------------------------------------------------------------ idle client
async def hold_idle(port: int, n: int, seed: int, ready: Path, concurrency: int = 200) -> None:
    """Open ``n`` device connections, each authenticated by one acked upload, and keep them until stdin closes."""
    fleet = make_fleet(n, seed=seed, kinds="wastewater:100")
    slots = asyncio.Semaphore(concurrency)
    writers: list[asyncio.StreamWriter] = []
    failed = 0

    async def one(dev) -> None:
        nonlocal failed
        async with slots:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(dev.upload("2011", START, START))
                framer = FrameReader(detect_scanners=False, max_junk_before_first_frame=0)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    chunk = await asyncio.wait_for(reader.read(4096), 60)
                    if not chunk:
                        raise ConnectionError("closed")
                    if any(parse_frame(i.data).CN == "9014" for i in framer.feed(chunk)):
                        writers.append(writer)
                        return
                raise TimeoutError
            except Exception:
                failed += 1

    t = time.monotonic()
    await asyncio.gather(*(one(d) for d in fleet))
    ready.write_text(f"{len(writers)} {failed} {time.monotonic() - t:.1f}")
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for w in writers:
        w.close()


class IdleClients:
    """Separate client processes holding authenticated idle connections (``bench ... _idle PORT N SEED``)."""

    def __init__(self, port: int, n: int, processes: int, folder: Path) -> None:
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        per = -(-n // processes)
        for i in range(processes):
            k = min(per, n - i * per)
            if k <= 0:
                break
            ready = folder / f"idle-{i}.ready"
            cmd = [sys.executable, __file__, "_idle", str(port), str(k), str(1000 + i), str(ready)]
            self.procs.append((subprocess.Popen(cmd, stdin=subprocess.PIPE, cwd=ROOT), ready))

    def wait(self, timeout: float) -> tuple[int, int, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(r.exists() for _, r in self.procs):
            if any(p.poll() is not None for p, _ in self.procs):
                break
            time.sleep(0.2)
        ok = failed = 0
        took = 0.0
        for _, r in self.procs:
            if r.exists():
                a, b, c = r.read_text().split()
                ok, failed, took = ok + int(a), failed + int(b), max(took, float(c))
        return ok, failed, took

    def close(self) -> None:
        for p, _ in self.procs:
            if p.poll() is None and p.stdin is not None:
                p.stdin.close()
        for p, _ in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ------------------------------------------------------------------------------------------------ 1 + 2
def bench_throughput(pg: str | None, idle: int, *, kinds: str = KINDS, hours: float = 3.0, baseline: bool = True,
                     idle_processes: int = 2, rate: float | None = None) -> dict[str, float]:  # fmt: skip
    """Figures 1 and 2: the gateway subprocess without a loader (the hot path), optionally over ``idle`` idle
    connections held by separate client processes; the load client is this process."""
    folder = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    db = Throwaway(pg, folder)
    st = db.store
    out: dict[str, float] = {}
    try:
        fleet, by_mn, n = load_frames(100, hours, kinds)
        mean = sum(len(f) for fs in by_mn.values() for f in fs) / max(n, 1)
        register_fleet(st, fleet)
        if idle:
            t = time.monotonic()
            per = -(-idle // idle_processes)
            for i in range(idle_processes):
                k = min(per, idle - i * per)
                if k > 0:
                    register_fleet(st, make_fleet(k, seed=1000 + i, kinds="wastewater:100"))
            print(f"idle: registered {idle:,} more devices in {time.monotonic() - t:.0f} s")
        gw = GatewayProcess(st.url, folder / "wal", free_port(), loader=False)
        gw.start()
        clients: IdleClients | None = None
        try:
            pid = gw.proc.pid  # type: ignore[union-attr]
            rss0 = rss_kb(pid)
            if idle:
                raise_nofile()
                cpu_i = cpu_seconds(pid)
                clients = IdleClients(gw.port, idle, idle_processes, folder)
                ok, failed, took = clients.wait(600)
                time.sleep(1.0)
                rss1 = rss_kb(pid)
                out.update(idle_ok=ok, idle_failed=failed)
                print(f"idle connections: {ok:,} of {idle:,} authenticated (one acked upload each) and held open by "
                      f"{len(clients.procs)} client processes in {took:.0f} s, {failed:,} failed; gateway CPU "
                      f"{cpu_seconds(pid) - cpu_i:.1f} s for the logins; gateway RSS {rss0 / 1024:.0f} -> "
                      f"{rss1 / 1024:.0f} MiB = {(rss1 - rss0) / max(ok, 1):.1f} KB per idle connection "
                      f"(target <= 10 KB)")  # fmt: skip
            cpu0 = cpu_seconds(pid)
            t0 = time.monotonic()
            c0 = time.process_time()
            lat = asyncio.run(pipelined_load(gw.port, by_mn, rate=rate))
            wall = time.monotonic() - t0
            client_cpu = time.process_time() - c0
            cpu = cpu_seconds(pid) - cpu0
        finally:
            if clients is not None:
                clients.close()
            gw.stop()
        label = f"over {out.get('idle_ok', 0):,.0f} idle connections" if idle else "no idle connections"
        label += f", paced to {rate:,.0f} frames/s" if rate else ", as fast as acks come (window 2 per device)"
        out.update(frames=len(lat), wall=wall, cpu=cpu, per_core=len(lat) / cpu, p50=pct(lat, 0.5), p99=pct(lat, 0.99))
        print(f"throughput ({label}, 100 load devices '{kinds}', mean frame {mean:.0f} B, loader off = hot path, "
              f"{st.dialect}): {len(lat):,}/{n:,} frames acked in {wall:.1f} s wall = {len(lat) / wall:,.0f} frames/s; "
              f"gateway CPU {cpu:.1f} s = {len(lat) / cpu:,.0f} frames per CPU-second (target >= 5,000); load client "
              f"CPU {client_cpu:.1f} s (own process); ack latency p50 {pct(lat, 0.5) * 1000:.1f} ms, "
              f"p99 {pct(lat, 0.99) * 1000:.1f} ms (target < 1 s)")  # fmt: skip
        if baseline:
            t = time.monotonic()
            c = time.process_time()
            stats = Loader(st, folder / "wal", "gw1").drain()
            d, dc = time.monotonic() - t, time.process_time() - c
            print(f"loader afterwards ({st.dialect}): {stats.records:,} log records -> {stats.observations:,} "
                  f"observations in {d:.1f} s wall, {dc:.1f} s CPU = {stats.records / d:,.0f} records/s")  # fmt: skip
            # baseline: ack after the database commit = one loader transaction per frame
            db2 = Throwaway(pg, Path(tempfile.mkdtemp(prefix="bench-gw-base-")))
            try:
                register_fleet(db2.store, fleet)
                base = Loader(db2.store, folder / "wal", "gw1", batch=1)
                t = time.monotonic()
                k = 0
                while k < 2000 and base.load():
                    k += 1
                per_frame = (time.monotonic() - t) / max(k, 1)
            finally:
                db2.drop()
            print(f"baseline ack-after-commit (1 transaction per record, {st.dialect}): {1 / per_frame:,.0f} records/s "
                  f"-> the write-ahead path is {len(lat) / wall * per_frame:.1f}x faster in wall time")  # fmt: skip
    finally:
        db.drop()
    return out


# ------------------------------------------------------------------------------------------------ 3
def bench_recall(pg: str | None, loader_modes: tuple[str, ...] = ("process", "thread")) -> None:
    """Figure 3: a 2051 recall over 24 h (MinInterval 10) for 100 devices through the gateway (in this process
    with the devices; its loader as a child process, and for comparison in a thread of this process), then the
    same log replayed by a fresh loader into an empty store."""
    folder = None
    for mode in loader_modes:
        folder = _recall_end_to_end(pg, mode)
    assert folder is not None
    _recall_replay(pg, folder)


def _recall_end_to_end(pg: str | None, loader_mode: str) -> Path:
    from bogda.hj212.answers import build_upload, make_qn
    from bogda.hj212.gateway import Gateway, GatewayConfig
    from bogda.hj212.simulator import AnswerConfig

    folder = Path(tempfile.mkdtemp(prefix="bench-recall-"))
    db = Throwaway(pg, folder)
    st = db.store
    end = START + timedelta(days=1)
    fleet = make_fleet(100, seed=31, min_interval_min=10, history_start=START)
    try:
        register_fleet(st, fleet)

        async def main() -> None:
            gw = Gateway(GatewayConfig(host="127.0.0.1", port=0, wal_dir=folder / "wal", time_sync_on_connect=False,
                                       clock_drift_max_s=1e9, loader_mode=loader_mode), st)  # fmt: skip
            await gw.start()
            stops = asyncio.Event()

            async def session(dev) -> None:
                reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
                writer.write(build_upload("2011", st=dev.st, mn=dev.mn, pw=dev.pw, qn=make_qn(end), data_time=end,
                                          pollutants=dev.values("2011", end), ack=False))  # fmt: skip
                framer = FrameReader(detect_scanners=False, max_junk_before_first_frame=0)
                while not stops.is_set():
                    try:
                        chunk = await asyncio.wait_for(reader.read(65536), 0.1)
                    except TimeoutError:
                        continue
                    if not chunk:
                        break
                    for item in framer.feed(chunk):
                        msg = parse_frame(item.data)
                        if msg.role == "request":
                            for out in dev.answer(msg, end + timedelta(minutes=1), AnswerConfig()):
                                writer.write(out)
                writer.close()

            tasks = [asyncio.create_task(session(d)) for d in fleet]
            while len(gw.sessions) < len(fleet):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            target0 = gw.wal.durable_seq
            t0 = time.monotonic()
            c0 = time.process_time()
            cmds = await asyncio.gather(*(gw.recall(d.mn, "2051", START, end - timedelta(minutes=10)) for d in fleet))
            frames = sum(c.data_frames for c in cmds)
            acked = time.monotonic() - t0
            target = gw.wal.durable_seq
            while (gw._loaded_seq() or 0) < target:
                await asyncio.sleep(0.05)
            committed = time.monotonic() - t0
            cpu = time.process_time() - c0
            child = (
                "" if gw.supervisor is None else f" + {cpu_seconds(gw.supervisor.pid):.1f} s CPU of the loader process"
            )
            stops.set()
            await asyncio.gather(*tasks)
            await gw.stop()
            ok = sum(c.result == "done" for c in cmds)
            where = "a child process" if loader_mode == "process" else "a thread of this process"
            print(f"recall end to end (loader in {where}): {ok}/{len(cmds)} recalls done, {frames:,} frames acked in "
                  f"{acked:.1f} s, committed to the store ({st.dialect}) in {committed:.1f} s wall (target < 30 s), "
                  f"{cpu:.1f} s CPU of this process (gateway + the 100 simulated devices"
                  f"{' + loader' if loader_mode == 'thread' else ''}){child}; "
                  f"log records {target - target0:,}")  # fmt: skip

        asyncio.run(main())
        with st.engine.connect() as c:
            n = c.execute(text("SELECT count(*) FROM observation o JOIN series s ON s.id = o.series_id "
                               "WHERE s.resolution = 'min'")).scalar()  # fmt: skip
        print(f"recall: {n:,} minute observations in the store")
    finally:
        db.drop()
    return folder


def _recall_replay(pg: str | None, folder: Path) -> None:
    fleet = make_fleet(100, seed=31, min_interval_min=10, history_start=START)
    # the same log replayed by a fresh loader into an empty store (restart after a long outage)
    db2 = Throwaway(pg, Path(tempfile.mkdtemp(prefix="bench-replay-")))
    try:
        register_fleet(db2.store, fleet)
        t = time.monotonic()
        c = time.process_time()
        stats = Loader(db2.store, folder / "wal", "gw1", batch=5000).drain()
        d, dc = time.monotonic() - t, time.process_time() - c
        # baseline: the loader as it was (one 500-record transaction at a time)
        print(f"recall replay ({db2.store.dialect}): {stats.records:,} log records "
              f"({stats.by_status.get('accepted', 0):,} accepted uploads) -> {stats.observations:,} observations in "
              f"{d:.1f} s wall, {dc:.1f} s CPU (target < 30 s) = {stats.records / d:,.0f} records/s")  # fmt: skip
    finally:
        db2.drop()
    db3 = Throwaway(pg, Path(tempfile.mkdtemp(prefix="bench-replay-base-")))
    try:
        register_fleet(db3.store, fleet)
        t = time.monotonic()
        base = Loader(db3.store, folder / "wal", "gw1", batch=500)
        k = 0
        while k < 6 and base.load():
            k += 1
        rate = base.stats.records / (time.monotonic() - t)
        print(f"baseline replay in 500-record transactions ({db3.store.dialect}): {rate:,.0f} records/s "
              f"-> 5,000-record transactions are {stats.records / d / rate:.1f}x faster")  # fmt: skip
    finally:
        db3.drop()


# ------------------------------------------------------------------------------------------------ 4
def kill_test(pg: str | None, *, devices: int = 100, rate: float = 2000, hours: float = 3.0, kills: int = 3,
              window_s: float = 60.0, seed: int = 5) -> dict[str, int]:  # fmt: skip
    """Spec §9.7; returns the counts it reports."""
    folder = Path(tempfile.mkdtemp(prefix="bench-kill-"))
    db = Throwaway(pg, folder)
    try:
        return _kill_test(db.store, folder, devices=devices, rate=rate, hours=hours, kills=kills, window_s=window_s,
                          seed=seed)  # fmt: skip
    finally:
        db.drop()


def _kill_test(st, folder: Path, *, devices: int, rate: float, hours: float, kills: int, window_s: float,
               seed: int) -> dict[str, int]:  # fmt: skip
    fleet = make_fleet(devices, seed=seed)
    register_fleet(st, fleet)
    gw = GatewayProcess(st.url, folder / "wal", free_port())
    gw.start()
    rng = random.Random(seed)
    moments = sorted(rng.uniform(1.0, window_s) for _ in range(kills))

    async def killer() -> None:
        t0 = time.monotonic()
        for m in moments:
            await asyncio.sleep(max(0.0, t0 + m - time.monotonic()))
            gw.kill()
            await asyncio.to_thread(gw.start)

    async def main():
        k = asyncio.create_task(killer())
        report = await run_devices(
            "127.0.0.1", gw.port, make_fleet(devices, seed=seed), start=START, end=START + timedelta(hours=hours),
            faults=FaultConfig.parse("duplicate=0.02,split=0.05"), seed=seed, max_rate=rate, timeout_s=window_s + 120,
            over_time_s=3.0, re_count=30, reconnect=True,
        )  # fmt: skip
        await k
        return report

    t = time.monotonic()
    try:
        report = asyncio.run(main())
    finally:
        elapsed = time.monotonic() - t
        gw.kill()  # a last crash; then a standalone loader drains (it waits for the dying loader child's lock)
    from bogda.hj212.loader_process import LoaderOptions, run_loader

    # bounded: a loader child that never lets go of the log is a failure to report, not a reason to hang
    run_loader(
        st, LoaderOptions(wal_dir=folder / "wal", exit_when_idle=True, wait_for_durable=False, lock_timeout_s=120)
    )
    devs = load_devices(st)
    with st.engine.connect() as c:
        stored = c.execute(
            select(raw_frame.c.mn, raw_frame.c.cn, raw_frame.c.qn, raw_frame.c.status, raw_frame.c.data).where(
                raw_frame.c.direction == "in"
            )
        ).all()
        n_obs = c.execute(select(func.count()).select_from(observation)).scalar() or 0
    accepted: dict[tuple[str, str, str], int] = {}
    data_of: dict[tuple[str, str, str], bytes] = {}
    dup = 0
    for mn, cn, qn, status, data in stored:
        key = (mn, cn, qn)
        if status in ("accepted", "accepted_lenient"):
            accepted[key] = accepted.get(key, 0) + 1
            data_of[key] = bytes(data)
        elif status == "duplicate":
            dup += 1
    acked = {(r["mn"], r["cn"], r["qn"]) for r in report.acked_log}
    missing = [k for k in acked if k not in accepted]
    twice = [k for k, v in accepted.items() if v > 1]
    expected_obs = set()
    for key, data in data_of.items():
        r = parse_frame(data)
        dev = devs[key[0]]
        for row in observation_rows(r, dev):
            expected_obs.add((dev.parent_id, row[0], row[1], row[3]))
    out = {
        "sent": report.sent,
        "acked": len(acked),
        "resent": report.resent,
        "reconnects": report.reconnects,
        "raw_in_rows": len(stored),
        "stored_once": len(accepted),
        "duplicate_rows": dup,
        "acked_missing": len(missing),
        "stored_twice": len(twice),
        "observations": n_obs,
        "observations_expected": len(expected_obs),
    }
    counts = ", ".join(f"{k} {v:,}" for k, v in out.items())
    print(f"kill test ({st.dialect}, {devices} devices, {rate:.0f} frames/s cap, {kills} SIGKILLs at "
          f"{', '.join(f'{m:.1f}' for m in moments)} s, {elapsed:.0f} s): {counts}")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="?", default="all", choices=["throughput", "idle", "recall", "kill", "all"])
    ap.add_argument("--pg", help="PostgreSQL admin URL (a throwaway database is created); default SQLite")
    ap.add_argument("--idle", type=int, default=10_000)
    ap.add_argument("--idle-processes", type=int, default=2)
    ap.add_argument("--rate", type=float, default=1000.0, help="Pace of the load over the idle population [frames/s]")
    if len(sys.argv) > 1 and sys.argv[1] == "_idle":  # a client process of IdleClients
        raise_nofile()
        asyncio.run(hold_idle(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])))
        return
    args = ap.parse_args()
    if args.what in ("throughput", "all"):
        bench_throughput(args.pg, 0)
        bench_throughput(args.pg, 0, kinds=REFERENCE_KINDS, baseline=False)
    if args.what in ("idle", "all"):
        bench_throughput(args.pg, args.idle, baseline=False, idle_processes=args.idle_processes, rate=args.rate,
                         hours=1.0)  # fmt: skip
    if args.what in ("recall", "all"):
        bench_recall(args.pg)
    if args.what in ("kill", "all"):
        kill_test(args.pg)


if __name__ == "__main__":
    main()
