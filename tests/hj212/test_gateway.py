"""Gateway on 127.0.0.1 ephemeral ports: acks, auth, sessions, commands, durable ingest on SQLite and PostgreSQL
(spec hj212.md §3.4-§3.9, §9.5, §9.7, §9.8)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, text

import bogda.registry.devices as registry_devices
from bogda.hj212.answers import build_upload
from bogda.hj212.codec import parse_frame
from bogda.hj212.gateway import Gateway
from bogda.hj212.ingest import Loader, observation_rows
from bogda.hj212.registration import register_fleet
from bogda.hj212.simulator import AnswerConfig, Simulator, make_fleet, run_devices
from bogda.store.schema import hj212_device_state, observation, raw_frame
from hj212.gwkit import START, Client, config, upload


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: the gateway's logic is under test, not argon2's cost."""
    monkeypatch.setattr(registry_devices, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def run(coro):
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------------------ ack + store
def test_acks_store_and_idempotent_replay(store, tmp_path: Path) -> None:
    fleet = make_fleet(3, kinds="cems:1,wastewater:1,air:1", seed=3)
    register_fleet(store, fleet)
    cfg = config(tmp_path)

    async def main():
        gw = Gateway(cfg, store)
        await gw.start()
        report = await run_devices(
            "127.0.0.1", gw.port, make_fleet(3, kinds="cems:1,wastewater:1,air:1", seed=3),
            start=START, end=START + timedelta(minutes=20), timeout_s=30, over_time_s=5,
        )  # fmt: skip
        await gw.stop()
        return gw, report

    gw, report = run(main())
    assert report.sent == report.acked > 0 and report.missing_acks == 0
    frames = list(Simulator(make_fleet(3, kinds="cems:1,wastewater:1,air:1", seed=3), seed=0).frames(
        START, START + timedelta(minutes=20)))  # fmt: skip
    devices = gw.credentials.devices
    expected = {
        (devices[f.mn].parent_id, row[0], row[1], row[3])
        for f in frames
        for row in observation_rows(parse_frame(f.data), devices[f.mn])
    }
    with store.engine.connect() as conn:
        n_obs = conn.execute(select(func.count()).select_from(observation)).scalar()
        statuses = dict(conn.execute(select(raw_frame.c.status, func.count()).group_by(raw_frame.c.status)).all())
        acked_qns = {r["qn"] for r in report.acked_log}
        stored_qns = set(
            conn.execute(
                select(raw_frame.c.qn).where(raw_frame.c.direction == "in", raw_frame.c.status == "accepted")
            ).scalars()
        )
        state = conn.execute(select(hj212_device_state.c.frames_in, hj212_device_state.c.frames_out)).all()
        n_in = conn.execute(select(func.count()).select_from(raw_frame).where(raw_frame.c.direction == "in")).scalar()
    assert n_obs == len(expected)
    assert acked_qns <= stored_qns
    assert statuses["accepted"] == len(frames)
    assert statuses["outbound"] >= len(frames)  # every 9014 is archived as sent
    assert sum(s.frames_in for s in state) == n_in  # uploads, plus the answers to clock-drift time syncs

    # replay the whole log from scratch: nothing new is written
    with store.begin() as conn:
        conn.execute(text("DELETE FROM hj212_wal_checkpoint"))
    again = Loader(store, cfg.wal_dir, cfg.gateway_id)
    stats = again.drain()
    assert stats.records > 0 and stats.observations == 0
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(observation)).scalar() == n_obs
        assert conn.execute(select(func.count()).select_from(raw_frame)).scalar() == sum(statuses.values())


def test_duplicate_frame_two_raw_rows_one_observation(store, tmp_path: Path) -> None:
    dev = make_fleet(1, kinds="air:1", seed=5)[0]
    register_fleet(store, [dev])
    frame = upload(dev, 0)

    async def main():
        gw = Gateway(config(tmp_path), store)
        await gw.start()
        c = await Client.open(gw.port)
        await c.send(frame)
        await c.expect(1)
        await c.send(frame)
        got = await c.expect(2)
        c.close()
        await gw.stop()
        return got

    got = run(main())
    assert [f.CN for f in got] == ["9014", "9014"]
    assert all(f.ST == "91" and f.Flag == "4" and f.request_qn == parse_frame(frame).QN for f in got)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(raw_frame.c.status).where(raw_frame.c.direction == "in").order_by(raw_frame.c.seq)
        ).scalars()
        assert list(rows) == ["accepted", "duplicate"]
        n = conn.execute(select(func.count()).select_from(observation)).scalar()
    assert n == len(observation_rows(parse_frame(frame), Loader(store, tmp_path / "x", "gw1")._devices()[dev.mn]))


def test_invalid_flag_values_stored_and_marked(sqlite_store, tmp_path: Path) -> None:
    dev = make_fleet(1, kinds="wastewater:1", seed=2)[0]
    register_fleet(sqlite_store, [dev])
    frame = build_upload(
        "2061", st=dev.st, mn=dev.mn, pw=dev.pw, qn="20260115090000123", data_time=START,
        pollutants={"w01018": {"Avg": "35.2", "Flag": "D"}, "w21003": {"Avg": "N/A", "Flag": "M"}},
    )  # fmt: skip

    async def main():
        gw = Gateway(config(tmp_path), sqlite_store)
        await gw.start()
        c = await Client.open(gw.port)
        await c.send(frame)
        await c.expect(1)
        c.close()
        await gw.stop()

    run(main())
    with sqlite_store.engine.connect() as conn:
        rows = dict(
            conn.execute(
                text("SELECT s.parameter, o.flag || ':' || coalesce(o.value, 'null') FROM observation o "
                     "JOIN series s ON s.id = o.series_id")
            ).all()
        )  # fmt: skip
    assert rows == {"w01018": "D:35.2", "w21003": "M:null"}


# ------------------------------------------------------------------------------------------------ durability
def test_ack_does_not_wait_for_the_database(sqlite_store, tmp_path: Path) -> None:
    dev = make_fleet(1, kinds="air:1", seed=6)[0]
    register_fleet(sqlite_store, [dev])

    async def main():
        gw = Gateway(config(tmp_path), sqlite_store)
        await gw.start()
        gw.loader_paused = True  # the database writer stalls
        lock = sqlite_store.engine.raw_connection()
        lock.execute("BEGIN IMMEDIATE")  # and the database is locked by someone else
        c = await Client.open(gw.port)
        for m in range(5):
            await c.send(upload(dev, m))
        got = await c.expect(5)
        with sqlite_store.engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(raw_frame)).scalar()
        lock.execute("ROLLBACK")
        lock.close()
        gw.loader_paused = False
        await asyncio.sleep(0.5)
        c.close()
        await gw.stop()
        return got, before

    got, before = run(main())
    assert [f.CN for f in got] == ["9014"] * 5
    assert before == 0
    with sqlite_store.engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(raw_frame).where(raw_frame.c.direction == "in")).scalar() == 5
        )


@pytest.mark.parametrize("mode", ["blocks", "fails"])
def test_no_sync_no_ack(sqlite_store, tmp_path: Path, mode: str) -> None:
    """Spec §3.9 proof (1): a log that never syncs never lets an ack out; a failed sync stops acking."""
    dev = make_fleet(1, kinds="air:1", seed=8)[0]
    register_fleet(sqlite_store, [dev])
    gate = threading.Event()

    def sync(fd: int) -> None:
        if mode == "fails":
            raise OSError(5, "simulated I/O error")
        gate.wait(10)

    async def main():
        gw = Gateway(config(tmp_path, loader=False), sqlite_store)
        await gw.start()
        gw.wal._sync = sync
        c = await Client.open(gw.port)
        await c.send(upload(dev, 0))
        got = await c.expect(1, timeout=1.0)
        healthy = gw.wal.healthy
        gate.set()
        c.close()
        gw.wal.failed = None if mode == "blocks" else gw.wal.failed
        await gw.stop(drain=False)
        return got, healthy

    got, healthy = run(main())
    assert got == []
    assert healthy is (mode == "blocks")


# ------------------------------------------------------------------------------------------------ auth, sessions
def test_unknown_mn_and_wrong_pw_refused_then_peer_blocked(sqlite_store, tmp_path: Path) -> None:
    dev, stranger = make_fleet(2, kinds="air:2", seed=9)
    register_fleet(sqlite_store, [dev])

    async def main():
        gw = Gateway(config(tmp_path, auth_max_failures=3), sqlite_store)
        await gw.start()
        c = await Client.open(gw.port)
        await c.send(upload(stranger, 0))
        await c.send(upload(dev, 1, pw="999999"))
        got = await c.expect(1, timeout=1.0)
        await c.send(upload(dev, 2, pw="999998"))
        closed = await c.closed_within(2.0)
        c2 = await Client.open(gw.port)
        refused = await c2.closed_within(2.0)
        await gw.stop()
        return got, closed, refused, gw.stats

    got, closed, refused, stats = run(main())
    assert got == []
    assert stats["unknown_mn"] == 1 and stats["pw_mismatch"] == 2
    assert closed and refused and stats["refused_peer"] >= 1
    with sqlite_store.engine.connect() as conn:
        statuses = sorted(conn.execute(select(raw_frame.c.status).where(raw_frame.c.direction == "in")).scalars())
    assert statuses == ["pw_mismatch", "pw_mismatch", "unknown_mn"]


def test_reconnect_replaces_old_connection(sqlite_store, tmp_path: Path) -> None:
    dev = make_fleet(1, kinds="cems:1", seed=10)[0]
    register_fleet(sqlite_store, [dev])

    async def main():
        gw = Gateway(config(tmp_path), sqlite_store)
        await gw.start()
        old = await Client.open(gw.port)
        await old.send(upload(dev, 0))
        await old.expect(1)
        new = await Client.open(gw.port)
        await new.send(upload(dev, 1))
        await new.expect(1)
        closed = await old.closed_within(1.0)
        current = gw.sessions[dev.mn]
        new.close()
        await gw.stop()
        return closed, current, gw.stats

    closed, current, stats = run(main())
    assert closed and stats["superseded"] == 1 and current.frames == 1


def test_scanner_closed_and_counted(sqlite_store, tmp_path: Path) -> None:
    async def main():
        gw = Gateway(config(tmp_path), sqlite_store)
        await gw.start()
        c = await Client.open(gw.port)
        await c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        closed = await c.closed_within(1.0)
        await gw.stop()
        return closed, gw.stats

    closed, stats = run(main())
    assert closed and stats["scanner"] == 1
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(raw_frame.c.status).where(raw_frame.c.direction == "junk")).scalar() == "scanner"


# ------------------------------------------------------------------------------------------------ requests, commands
def test_inbound_requests_1011_served_others_refused(sqlite_store, tmp_path: Path) -> None:
    dev = make_fleet(1, kinds="air:1", seed=11)[0]
    register_fleet(sqlite_store, [dev])
    qn = "20260115080000001"
    req_1011 = build_upload("1011", st=dev.st, mn=dev.mn, pw=dev.pw, qn=qn)
    req_2051 = build_upload("2051", st=dev.st, mn=dev.mn, pw=dev.pw, qn="20260115080000002")

    async def main():
        gw = Gateway(config(tmp_path), sqlite_store)
        await gw.start()
        c = await Client.open(gw.port)
        await c.send(req_1011)
        got = list(await c.expect(3))
        await c.send(req_2051)
        got2 = (await c.expect(4, timeout=1.0))[3:]
        c.close()
        await gw.stop()
        return got, got2

    got, got2 = run(main())
    assert [(f.CN, f.cp_fields.get("QnRtn") or f.cp_fields.get("ExeRtn")) for f in got] == [
        ("9011", "1"),
        ("1011", None),
        ("9012", "1"),
    ]
    assert "SystemTime" in got[1].cp_fields
    assert [(f.CN, f.cp_fields.get("QnRtn")) for f in got2] == [("9011", "2")]


async def _device_session(port: int, dev, answers: AnswerConfig, stop: asyncio.Event) -> None:
    """A connected simulated logger that answers commands until ``stop``."""
    c = await Client.open(port)
    await c.send(upload(dev, 0))
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


@pytest.mark.parametrize(
    ("answers", "cn", "expected"),
    [
        ("", "1012", "done"),
        ("", "2061", "done"),
        ("qnrtn=2", "1012", "failed(refused:2)"),
        ("silent=1", "1012", "failed(no_answer)"),
    ],
)
def test_commands_round_trip(sqlite_store, tmp_path: Path, answers: str, cn: str, expected: str) -> None:
    dev = make_fleet(1, kinds="cems:1", seed=12, history_start=START - timedelta(days=1))[0]
    register_fleet(sqlite_store, [dev])
    from bogda.hj212.commands import CommandTimeouts

    async def main():
        gw = Gateway(config(tmp_path, timeouts=CommandTimeouts(over_time_s=0.3, re_count=3)), sqlite_store)
        await gw.start()
        stop = asyncio.Event()
        session = asyncio.create_task(_device_session(gw.port, dev, AnswerConfig.parse(answers), stop))
        for _ in range(100):
            if dev.mn in gw.sessions:
                break
            await asyncio.sleep(0.02)
        if cn == "1012":
            cmd = await gw.time_sync(dev.mn, force=True)
        else:
            cmd = await gw.recall(dev.mn, "2061", START - timedelta(hours=3), START - timedelta(hours=1))
        await asyncio.sleep(0.2)
        stop.set()
        await session
        await gw.stop()
        return cmd

    cmd = run(main())
    assert cmd.result == expected
    if expected == "failed(no_answer)":
        assert cmd.attempts == 4
    if cn == "2061":
        assert cmd.qn_rtn == 1 and cmd.exe_rtn == 1 and cmd.data_frames == 3
        with sqlite_store.engine.connect() as conn:
            hours = conn.execute(
                text("SELECT count(DISTINCT o.ts) FROM observation o JOIN series s ON s.id = o.series_id "
                     "WHERE s.resolution = 'hour'")
            ).scalar()  # fmt: skip
        assert hours == 3


def test_packetised_parts_acked_and_stored_each(sqlite_store, tmp_path: Path) -> None:
    dev = make_fleet(1, kinds="wastewater:1", seed=13)[0]
    register_fleet(sqlite_store, [dev])
    values = dev.values("2061", START)
    codes_ = sorted(values)
    half = len(codes_) // 2
    parts = [
        build_upload("2061", st=dev.st, mn=dev.mn, pw=dev.pw, qn=f"2026011509000000{n}", data_time=START,
                     pollutants={c: values[c] for c in chunk}, pnum=2, pno=n)
        for n, chunk in ((1, codes_[:half]), (2, codes_[half:]))
    ]  # fmt: skip

    async def main():
        gw = Gateway(config(tmp_path), sqlite_store)
        await gw.start()
        c = await Client.open(gw.port)
        for p in parts:
            await c.send(p)
        got = await c.expect(2)
        c.close()
        await gw.stop()
        return got

    got = run(main())
    assert [f.CN for f in got] == ["9014", "9014"]
    assert {f.request_qn for f in got} == {parse_frame(p).QN for p in parts}
    with sqlite_store.engine.connect() as conn:
        params = set(
            conn.execute(text("SELECT s.parameter FROM series s JOIN observation o ON o.series_id = s.id")).scalars()
        )
    assert set(codes_) <= params
