"""Benchmark: the HJ 212 gateway end to end on 127.0.0.1 (spec hj212.md §8, §9.5-§9.7).

Figures, each with its baseline or target in the same run:

1. ``throughput`` — frames/s per gateway CPU core for framing, CRC, parse, auth, write-ahead log append + group
   fsync, 9014 ack, with the loader draining into the store in the same process (gateway CPU time read from
   /proc). Baseline: a loader committing one transaction per frame ("ack after the DB commit").
2. ``idle`` — 10,000 idle connections held by one gateway process (RSS per connection), and the ack latency p99
   of the throughput load run while they stay open (target < 1 s).
3. ``recall`` — a 24 h minute-data recall (2051, MinInterval 10) for 100 devices: ~14,400 frames acked and
   committed to the store (target < 30 s), gateway and devices in one process.
4. ``kill`` — the simulator drives devices with A = 1 and ``duplicate``/``split`` faults; the gateway subprocess is
   SIGKILLed 3 times at random moments and restarted; after the loader drains, every acked (mn, cn, qn) must be in
   raw_frame as stored exactly once and every value of those frames in observation once.

All load goes to 127.0.0.1, bounded in frames and seconds. Devices are registered with cheap argon2 parameters
(the hash carries its parameters, so the gateway's verification is cheap too): auth cost is not what is measured.
Run: ``.venv/bin/python bench/bench_hj212_gateway.py [throughput|idle|recall|kill|all] [--pg URL]``.
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

    def __init__(self, url: str, wal_dir: Path, port: int, *, loader: bool = True) -> None:
        self.url, self.wal_dir, self.port, self.loader = url, wal_dir, port, loader
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "bogda", "gateway", "--database-url", self.url, "--host", "127.0.0.1",
               "--port", str(self.port), "--wal-dir", str(self.wal_dir), "--no-time-sync",
               "--loader" if self.loader else "--no-loader"]  # fmt: skip
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


def fresh_store(pg: str | None, folder: Path):
    if pg is None:
        return connect(f"sqlite:///{folder / 'bench.db'}")
    from sqlalchemy import create_engine

    name = f"bogda_bench_{os.getpid()}_{random.randrange(1 << 30)}"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return connect(admin.url.set(database=name).render_as_string(hide_password=False))


# ------------------------------------------------------------------------------------------------ load client
async def pipelined_load(port: int, frames_by_mn: dict[str, list[bytes]], window: int = 2) -> list[float]:
    """Send every device's frames on its own connection, ``window`` unacked at most; ack latencies [s]."""
    latencies: list[float] = []

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
        for f in frames:
            await slots.acquire()
            sent_at[parse_frame(f).QN or ""] = time.monotonic()
            writer.write(f)
        await asyncio.wait_for(done.wait(), 120)
        rx.cancel()
        writer.close()

    await asyncio.gather(*(device(fs) for fs in frames_by_mn.values()))
    return latencies


def load_frames(n_devices: int, hours: float) -> tuple[list, dict[str, list[bytes]], int]:
    fleet = make_fleet(n_devices, seed=21)
    by_mn: dict[str, list[bytes]] = {d.mn: [] for d in fleet}
    n = 0
    for f in Simulator(fleet, seed=21).frames(START, START + timedelta(hours=hours)):
        by_mn[f.mn].append(f.data)
        n += 1
    return fleet, by_mn, n


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")


# ------------------------------------------------------------------------------------------------ 1 + 2
def bench_throughput(pg: str | None, idle: int, loader: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    st = fresh_store(pg, folder)
    fleet, by_mn, n = load_frames(100, 3.0)
    register_fleet(st, fleet)
    gw = GatewayProcess(st.url, folder / "wal", free_port(), loader=loader)
    gw.start()
    idle_socks: list[socket.socket] = []
    try:
        rss0 = rss_kb(gw.proc.pid)  # type: ignore[union-attr]
        if idle:
            _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, idle + 2000), hard))
            t = time.monotonic()
            for _ in range(idle):
                s = socket.create_connection(("127.0.0.1", gw.port))
                idle_socks.append(s)
            time.sleep(1.0)
            rss1 = rss_kb(gw.proc.pid)  # type: ignore[union-attr]
            print(f"idle connections: {len(idle_socks):,} opened in {time.monotonic() - t:.1f} s; gateway RSS "
                  f"{rss0 / 1024:.0f} -> {rss1 / 1024:.0f} MiB = {(rss1 - rss0) / len(idle_socks):.1f} KB per connection "
                  f"(target <= 10 KB)")  # fmt: skip
        cpu0 = cpu_seconds(gw.proc.pid)  # type: ignore[union-attr]
        t0 = time.monotonic()
        lat = asyncio.run(pipelined_load(gw.port, by_mn))
        wall = time.monotonic() - t0
        cpu = cpu_seconds(gw.proc.pid) - cpu0  # type: ignore[union-attr]
        label = f"with {len(idle_socks):,} idle connections" if idle else "no idle connections"
        label += ", loader in process" if loader else ", loader off (hot path only)"
        print(f"throughput ({label}, {st.dialect}): {len(lat):,}/{n:,} frames acked in {wall:.1f} s wall = "
              f"{len(lat) / wall:,.0f} frames/s; gateway CPU {cpu:.1f} s = {len(lat) / cpu:,.0f} frames per CPU-second "
              f"(target >= 5,000); ack latency p50 {pct(lat, 0.5) * 1000:.1f} ms, p99 {pct(lat, 0.99) * 1000:.1f} ms "
              f"(target < 1 s)")  # fmt: skip
    finally:
        for s in idle_socks:
            s.close()
        gw.stop()
    if not loader:
        t = time.monotonic()
        stats = Loader(st, folder / "wal", "gw1").drain()
        d = time.monotonic() - t
        print(f"loader alone ({st.dialect}): {stats.records:,} log records -> {stats.observations:,} observations in "
              f"{d:.1f} s = {stats.records / d:,.0f} records/s")  # fmt: skip
    # baseline: ack after the database commit = one loader transaction per frame
    st2 = fresh_store(pg, Path(tempfile.mkdtemp(prefix="bench-gw-base-")))
    register_fleet(st2, fleet)
    base = Loader(st2, folder / "wal", "gw1", batch=1)
    t = time.monotonic()
    k = 0
    while k < 2000 and base.load():
        k += 1
    per_frame = (time.monotonic() - t) / max(k, 1)
    print(f"baseline ack-after-commit (1 transaction per record, {st.dialect}): {1 / per_frame:,.0f} records/s "
          f"-> the write-ahead path is {len(lat) / wall * per_frame:.1f}x faster in wall time")  # fmt: skip
    st.dispose()
    st2.dispose()


# ------------------------------------------------------------------------------------------------ 3
def bench_recall(pg: str | None) -> None:
    from bogda.hj212.gateway import Gateway, GatewayConfig
    from bogda.hj212.simulator import AnswerConfig

    folder = Path(tempfile.mkdtemp(prefix="bench-recall-"))
    st = fresh_store(pg, folder)
    end = START + timedelta(days=1)
    fleet = make_fleet(100, seed=31, min_interval_min=10, history_start=START)
    register_fleet(st, fleet)

    async def main() -> tuple[float, int, int]:
        gw = Gateway(GatewayConfig(host="127.0.0.1", port=0, wal_dir=folder / "wal", time_sync_on_connect=False,
                                   clock_drift_max_s=1e9), st)  # fmt: skip
        await gw.start()
        stops = asyncio.Event()
        from bogda.hj212.answers import build_upload, make_qn

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
        cmds = await asyncio.gather(*(gw.recall(d.mn, "2051", START, end - timedelta(minutes=10)) for d in fleet))
        frames = sum(c.data_frames for c in cmds)
        acked = time.monotonic() - t0
        target = gw.wal.durable_seq
        while gw.loader.checkpoint_seq < target:
            await asyncio.sleep(0.05)
        committed = time.monotonic() - t0
        stops.set()
        await asyncio.gather(*tasks)
        await gw.stop()
        ok = sum(c.result == "done" for c in cmds)
        print(f"recall: {ok}/{len(cmds)} recalls done, {frames:,} frames acked in {acked:.1f} s, committed to the "
              f"store ({st.dialect}) in {committed:.1f} s (target < 30 s); log records {target - target0:,}")  # fmt: skip
        return committed, frames, ok

    asyncio.run(main())
    with st.engine.connect() as c:
        n = c.execute(text("SELECT count(*) FROM observation o JOIN series s ON s.id = o.series_id "
                           "WHERE s.resolution = 'min'")).scalar()  # fmt: skip
    print(f"recall: {n:,} minute observations in the store")
    st.dispose()


# ------------------------------------------------------------------------------------------------ 4
def kill_test(pg: str | None, *, devices: int = 100, rate: float = 2000, hours: float = 3.0, kills: int = 3,
              window_s: float = 60.0, seed: int = 5) -> dict[str, int]:  # fmt: skip
    """Spec §9.7; returns the counts it reports."""
    folder = Path(tempfile.mkdtemp(prefix="bench-kill-"))
    st = fresh_store(pg, folder)
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
    report = asyncio.run(main())
    elapsed = time.monotonic() - t
    gw.kill()  # a last crash; then the loader of the restarted gateway drains (here: in this process)
    Loader(st, folder / "wal", "gw1").drain()
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
    print(f"kill test ({st.dialect}, {devices} devices, {rate:.0f} frames/s cap, {kills} SIGKILLs at "
          f"{', '.join(f'{m:.1f}' for m in moments)} s, {elapsed:.0f} s): " + ", ".join(f"{k} {v:,}" for k, v in out.items()))  # fmt: skip
    st.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="?", default="all", choices=["throughput", "idle", "recall", "kill", "all"])
    ap.add_argument("--pg", help="PostgreSQL admin URL (a throwaway database is created); default SQLite")
    ap.add_argument("--idle", type=int, default=10_000)
    args = ap.parse_args()
    if args.what in ("throughput", "all"):
        bench_throughput(args.pg, 0, loader=False)
    if args.what in ("idle", "all"):
        bench_throughput(args.pg, args.idle, loader=False)
    if args.what in ("recall", "all"):
        bench_recall(args.pg)
    if args.what in ("kill", "all"):
        kill_test(args.pg)


if __name__ == "__main__":
    main()
