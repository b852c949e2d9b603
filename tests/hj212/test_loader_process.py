"""The loader as a process of its own (spec hj212.md §3.9): durable marker, lock, supervised child of the gateway,
standalone drain, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

import bogda.registry.devices as registry_devices
from bogda.hj212.codec import parse_frame
from bogda.hj212.gateway import Gateway
from bogda.hj212.ingest import Loader, observation_rows
from bogda.hj212.loader_process import LOCK_FILE, LoaderOptions, LockTimeout, SignalStop, _acquire_lock, run_loader
from bogda.hj212.registration import register_fleet
from bogda.hj212.simulator import make_fleet
from bogda.hj212.wal import DURABLE_MARKER, LOADED_MARKER, SeqMarker, WriteAheadLog, read_marker
from bogda.store.schema import observation, raw_frame
from hj212.gwkit import Client, config, upload


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_devices, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def test_seq_marker_round_trip_and_torn_value(tmp_path: Path) -> None:
    m = SeqMarker(tmp_path / "x.seq")
    assert m.read() is None
    m.write(12345)
    assert m.read() == 12345 and read_marker(tmp_path, "x.seq") == 12345
    m._map[0:8] = (99).to_bytes(8, "little")  # a torn store: value and check disagree
    assert m.read() is None
    m.write(7)
    assert SeqMarker(tmp_path / "x.seq").read() == 7
    assert read_marker(tmp_path, "absent.seq") is None


def test_wal_publishes_its_durable_seq(tmp_path: Path) -> None:
    async def main() -> tuple[int | None, int | None, int]:
        wal = WriteAheadLog(tmp_path, group_ms=1)
        wal.start()
        before = read_marker(tmp_path, DURABLE_MARKER)
        done = asyncio.Event()
        for i in range(5):
            wal.append("in", "accepted", b"##frame%d" % i, on_durable=lambda ok: done.set())
        unsynced = read_marker(tmp_path, DURABLE_MARKER)  # appended, not yet synced
        await done.wait()
        after = read_marker(tmp_path, DURABLE_MARKER)
        await wal.close()
        return before, unsynced, after

    before, unsynced, after = asyncio.run(main())
    assert before == 0 and unsynced == 0 and after == 5


def test_loader_reads_only_up_to_the_durable_marker(sqlite_store, tmp_path: Path) -> None:
    dev = make_fleet(1, kinds="air:1", seed=4)[0]
    register_fleet(sqlite_store, [dev])
    wal_dir = tmp_path / "wal"

    async def write() -> None:
        wal = WriteAheadLog(wal_dir, group_ms=1)
        wal.start()
        for m in range(6):
            wal.append("in", "accepted", upload(dev, m * 10))
        await wal.flush()
        await wal.close()

    asyncio.run(write())
    SeqMarker(wal_dir / DURABLE_MARKER).write(4)  # as if records 5 and 6 were written but their sync never returned
    stop = threading.Event()
    t = threading.Thread(target=run_loader, args=(sqlite_store, LoaderOptions(wal_dir=wal_dir, interval_s=0.02), stop))
    t.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and read_marker(wal_dir, LOADED_MARKER) != 4:
        time.sleep(0.02)
    time.sleep(0.2)
    with sqlite_store.engine.connect() as c:
        seqs = list(c.execute(select(raw_frame.c.seq).order_by(raw_frame.c.seq)).scalars())
    assert seqs == [1, 2, 3, 4]
    SeqMarker(wal_dir / DURABLE_MARKER).write(6)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and read_marker(wal_dir, LOADED_MARKER) != 6:
        time.sleep(0.02)
    stop.set()
    t.join(10)
    with sqlite_store.engine.connect() as c:
        assert list(c.execute(select(raw_frame.c.seq).order_by(raw_frame.c.seq)).scalars()) == [1, 2, 3, 4, 5, 6]


def test_one_loader_per_log(tmp_path: Path) -> None:
    stop = threading.Event()
    fd = _acquire_lock(tmp_path / LOCK_FILE, stop)
    assert fd is not None
    got: list[int | None] = []
    t = threading.Thread(target=lambda: got.append(_acquire_lock(tmp_path / LOCK_FILE, stop)))
    t.start()
    time.sleep(0.5)
    assert got == []  # the second loader waits while the first holds the lock
    stop.set()
    t.join(5)
    assert got == [None]
    os.close(fd)


def _stored(store) -> tuple[dict[tuple[str, str], int], int]:
    with store.engine.connect() as c:
        qns: dict[tuple[str, str], int] = {}
        for mn, qn, status in c.execute(
            select(raw_frame.c.mn, raw_frame.c.qn, raw_frame.c.status).where(raw_frame.c.direction == "in")
        ).all():
            if status == "accepted":
                qns[(mn, qn)] = qns.get((mn, qn), 0) + 1
        n_obs = c.execute(select(func.count()).select_from(observation)).scalar() or 0
    return qns, n_obs


def test_gateway_supervises_a_loader_process(store, tmp_path: Path) -> None:
    """The gateway starts the loader as a child; SIGKILL of the child → restarted; every acked frame is stored
    once, on SQLite and PostgreSQL."""
    fleet = make_fleet(2, kinds="cems:1,air:1", seed=8)
    register_fleet(store, fleet)
    cfg = config(tmp_path, loader_mode="process", loader_interval_s=0.05)
    frames = [upload(d, m * 10) for m in range(12) for d in fleet]

    async def main():
        gw = Gateway(cfg, store)
        await gw.start()
        pid = gw.supervisor.pid
        assert pid is not None and pid != os.getpid()
        clients = {d.mn: await Client.open(gw.port) for d in fleet}
        acked = 0
        for k, f in enumerate(frames):
            c = clients[parse_frame(f).MN]
            await c.send(f)
            acked = len(await c.expect(len(c.frames) + 1))
            if k == len(frames) // 2:
                os.kill(pid, signal.SIGKILL)  # the loader dies mid-run
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (gw.supervisor.pid in (None, pid)):
            await asyncio.sleep(0.1)
        restarted = gw.supervisor.pid
        for c in clients.values():
            c.close()
        await gw.stop()  # drains: the loader process stores the rest, then exits
        return pid, restarted, gw.supervisor.restarts, sum(len(c.frames) for c in clients.values()), acked

    pid, restarted, restarts, n_acks, _ = asyncio.run(main())
    assert restarted is not None and restarted != pid and restarts >= 1
    assert n_acks == len(frames)
    qns, n_obs = _stored(store)
    assert set(qns) == {(parse_frame(f).MN, parse_frame(f).QN) for f in frames}
    assert max(qns.values()) == 1
    devices = Loader(store, tmp_path / "none", "gw1")._devices()
    expected = {(devices[d].parent_id, r[0], r[1], r[3]) for f in frames for d in [parse_frame(f).MN]
                for r in observation_rows(parse_frame(f), devices[d])}  # fmt: skip
    assert n_obs == len(expected)


def test_standalone_loader_command_drains_a_log(sqlite_store, tmp_path: Path) -> None:
    """``bogda hj212 loader --once`` drains a log whose gateway ran without a loader."""
    import subprocess
    import sys

    dev = make_fleet(1, kinds="wastewater:1", seed=6)[0]
    register_fleet(sqlite_store, [dev])
    cfg = config(tmp_path, loader=False)
    frames = [upload(dev, m * 10) for m in range(5)]

    async def main():
        gw = Gateway(cfg, sqlite_store)
        await gw.start()
        c = await Client.open(gw.port)
        for f in frames:
            await c.send(f)
        await c.expect(len(frames))
        c.close()
        await gw.stop()

    asyncio.run(main())
    assert _stored(sqlite_store)[0] == {}
    env = dict(os.environ, BOGDA_DATABASE_URL=sqlite_store.url)
    out = subprocess.run(
        [sys.executable, "-m", "bogda", "hj212", "loader", "--wal-dir", str(cfg.wal_dir), "--once"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "loaded" in out.stdout
    qns, n_obs = _stored(sqlite_store)
    assert set(qns) == {(parse_frame(f).MN, parse_frame(f).QN) for f in frames} and n_obs > 0


def test_a_held_lock_times_out_when_asked_to(tmp_path: Path) -> None:
    """A drain after a crash gives up on a loader that never lets go, naming the lock, instead of hanging."""
    stop = threading.Event()
    fd = _acquire_lock(tmp_path / LOCK_FILE, stop)
    assert fd is not None
    with pytest.raises(LockTimeout, match=LOCK_FILE):
        _acquire_lock(tmp_path / LOCK_FILE, stop, timeout_s=0.5)
    os.close(fd)
    fd2 = _acquire_lock(tmp_path / LOCK_FILE, stop, timeout_s=0.5)  # free again: taken at once
    assert fd2 is not None
    os.close(fd2)


def test_signal_stop_wait_returns_when_set() -> None:
    stop = SignalStop()
    assert stop.wait(0.1) is False
    threading.Timer(0.2, stop.set).start()
    t = time.monotonic()
    assert stop.wait(10) is True
    assert time.monotonic() - t < 5


def test_loader_survives_a_storm_of_sigterms(sqlite_store, tmp_path: Path) -> None:
    """Many SIGTERMs in a row end the loader; none of them hangs it.

    With a ``threading.Event`` as the stop flag a second signal could arrive inside the first handler's
    ``Event.set`` and wait for the lock its own thread held: the child hung for ever with the log's lock (the kill -9
    test then hung on its drain). The handler now only sets an attribute."""
    import subprocess
    import sys

    wal = tmp_path / "wal"
    wal.mkdir()
    env = dict(os.environ, BOGDA_DATABASE_URL=sqlite_store.url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bogda", "hj212", "loader", "--wal-dir", str(wal)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        probe = os.open(wal / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # running once it holds the log's lock
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(probe, fcntl.LOCK_UN)
            except BlockingIOError:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the loader never took its lock")
        os.close(probe)
        for _ in range(500):
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the loader hung after a storm of SIGTERMs")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
