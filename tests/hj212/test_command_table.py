"""Commands kept in ``hj212_command`` (spec hj212.md §3.6): validation, queue bounds, claiming, states written by
the gateway, recovery after a restart, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import bogda.registry.devices as registry_devices
from bogda.hj212.command_store import (
    cancel_command,
    claim_commands,
    enqueue_command,
    list_commands,
    prune_commands,
    recover_commands,
    update_command,
    validate_command,
)
from bogda.hj212.commands import CommandTimeouts
from bogda.hj212.gateway import Gateway
from bogda.hj212.registration import register_fleet
from bogda.hj212.simulator import AnswerConfig, make_fleet
from bogda.store.schema import hj212_command
from hj212.gwkit import START, config, device_session, wait_for


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_devices, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.mark.parametrize(
    ("cn", "params", "message"),
    [
        ("9014", {}, "not a platform request code"),
        ("2061", {"begin": "2026-01-15T00:00:00+00:00"}, "recall needs 'begin' and 'end'"),
        ("2061", {"begin": "yesterday", "end": "today"}, "not ISO times"),
        ("2051", {"begin": "2026-01-15T02:00:00+00:00", "end": "2026-01-15T01:00:00+00:00"}, "is before begin"),
        ("1062", {"fields": {"RtdInterval": "5"}}, "RtdInterval must be 30-3600"),
        ("1064", {"fields": {"MinInterval": "7"}}, "MinInterval must be one of"),
        ("1000", {"fields": {"OverTime": "10"}}, "ReCount must be 1-99"),
        ("1072", {}, "NewPW is required"),
    ],
)
def test_bad_commands_are_refused_with_the_reason(cn, params, message):
    with pytest.raises(ValueError, match=message):
        validate_command(cn, params)


def test_recall_times_are_normalised_to_utc():
    out = validate_command("2061", {"begin": "2026-01-15T08:00:00+08:00", "end": "2026-01-15T10:00:00"})
    assert out == {"begin": "2026-01-15T00:00:00+00:00", "end": "2026-01-15T10:00:00+00:00"}


def test_queue_claim_expire_cancel_recover(store):
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    with store.begin() as conn:
        a1 = enqueue_command(conn, "MN-A", "1012", now=now)
        a2 = enqueue_command(conn, "MN-A", "2061", {"begin": "2026-01-15T00:00:00+00:00",
                                                    "end": "2026-01-15T03:00:00+00:00"}, now=now)  # fmt: skip
        b1 = enqueue_command(conn, "MN-B", "1012", now=now)
        old = enqueue_command(conn, "MN-C", "1012", now=now - timedelta(hours=2))
        gone = enqueue_command(conn, "MN-D", "1012", now=now)
        with pytest.raises(ValueError, match="commands already waiting"):
            enqueue_command(conn, "MN-A", "1012", queue_max=2, now=now)
    with store.begin() as conn:
        assert cancel_command(conn, gone, by="op1") is True
        assert cancel_command(conn, gone, by="op1") is False  # only a queued command can be cancelled
        got = claim_commands(conn, "gw1", ["MN-A", "MN-B", "MN-C"], busy=["MN-B"], now=now)
    assert [r.id for r in got] == [a1]  # oldest of A; B busy; C expired; D cancelled and offline
    with store.begin() as conn:
        rows = {r["id"]: r for r in list_commands(conn)}
        assert rows[old]["state"] == "expired" and rows[old]["error"] == "command_ttl"
        assert rows[gone]["state"] == "cancelled" and rows[gone]["error"] == "by:op1"
        assert rows[a1]["gateway_id"] == "gw1"
        # a second gateway never takes a row another gateway claimed
        assert [r.id for r in claim_commands(conn, "gw2", ["MN-A"], now=now)] == [a2]
        update_command(conn, a1, state="sent", qn="20260115120000000", attempts=1)
        assert recover_commands(conn, "gw1") == 1
        row = conn.execute(select(hj212_command).where(hj212_command.c.id == a1)).one()
    assert (row.state, row.gateway_id, row.qn, row.error, row.attempts) == ("queued", None, None, "gateway_restart", 1)
    assert b1 not in {r.id for r in got}
    with store.begin() as conn:  # finished rows are pruned after 90 days, live ones never
        assert prune_commands(conn, now=now + timedelta(days=89)) == 0
        assert prune_commands(conn, now=datetime.now(UTC) + timedelta(days=91)) == 2  # expired + cancelled
        assert {r["id"] for r in list_commands(conn)} == {a1, a2, b1}


def _row(store, **where):
    with store.engine.connect() as conn:
        q = select(hj212_command)
        for k, v in where.items():
            q = q.where(getattr(hj212_command.c, k) == v)
        return conn.execute(q.order_by(hj212_command.c.id)).all()


@pytest.mark.parametrize(("answers", "state", "error"), [("", "done", None), ("silent=1", "timed_out", "no_answer"),
                                                         ("qnrtn=2", "failed", "refused:2")])  # fmt: skip
def test_queued_commands_sent_and_their_state_written(store, tmp_path: Path, answers, state, error) -> None:
    """Rows queued in the table (as the console does) are sent by the gateway once the device is online; every
    change of state is written back."""
    dev = make_fleet(1, kinds="cems:1", seed=12, history_start=START - timedelta(days=1))[0]
    register_fleet(store, [dev])
    with store.begin() as conn:
        cid = enqueue_command(conn, dev.mn, "2061", {"begin": (START - timedelta(hours=3)).isoformat(),
                                                     "end": (START - timedelta(hours=1)).isoformat()},
                              requested_by="op1")  # fmt: skip
    cfg = config(tmp_path, timeouts=CommandTimeouts(over_time_s=0.3, re_count=3), command_poll_s=0.1)

    async def main():
        gw = Gateway(cfg, store)
        await gw.start()
        stop = asyncio.Event()
        session = asyncio.create_task(device_session(gw.port, dev, AnswerConfig.parse(answers), stop))
        ok = await wait_for(lambda: _row(store, id=cid)[0].state not in ("queued", "sent", "accepted"), 20)
        stop.set()
        await session
        await gw.stop()
        return ok

    assert run(main())
    row = _row(store, id=cid)[0]
    assert (row.state, row.error, row.gateway_id, row.requested_by) == (state, error, "gw1", "op1")
    assert row.sent_at is not None and row.finished_at is not None and row.qn
    if state == "done":
        assert (row.qn_rtn, row.exe_rtn, row.attempts, row.data_frames) == (1, 1, 1, 3)
        assert row.answered_at is not None
    elif state == "timed_out":
        assert row.attempts == 4 and row.answered_at is None
    else:
        assert row.qn_rtn == 2


def test_gateway_commands_are_recorded_too(sqlite_store, tmp_path: Path) -> None:
    """A time sync on connect and an API recall each get a row (source connect / api)."""
    dev = make_fleet(1, kinds="air:1", seed=2, history_start=START - timedelta(days=1))[0]
    register_fleet(sqlite_store, [dev])
    cfg = config(tmp_path, time_sync_on_connect=True)

    async def main():
        gw = Gateway(cfg, sqlite_store)
        await gw.start()
        stop = asyncio.Event()
        session = asyncio.create_task(device_session(gw.port, dev, AnswerConfig(), stop))
        await wait_for(lambda: dev.mn in gw.sessions)
        await wait_for(lambda: any(r.state == "done" for r in _row(sqlite_store, cn="1012")))
        cmd = await gw.recall(dev.mn, "2061", START - timedelta(hours=2), START - timedelta(hours=1))
        await asyncio.sleep(0.3)
        stop.set()
        await session
        await gw.stop()
        return cmd

    cmd = run(main())
    assert cmd.result == "done"
    rows = {r.cn: r for r in _row(sqlite_store)}
    assert rows["1012"].source == "connect" and rows["1012"].state == "done"
    assert rows["2061"].source == "api" and rows["2061"].state == "done" and rows["2061"].data_frames == 2
    assert rows["2061"].params == {"begin": "2026-01-14T22:00:00+00:00", "end": "2026-01-14T23:00:00+00:00"}


def test_command_in_flight_at_a_crash_is_sent_again_after_restart(store, tmp_path: Path) -> None:
    """A row left ``sent`` by a gateway that died goes back to the queue when it starts and is done once the
    device is back."""
    dev = make_fleet(1, kinds="wastewater:1", seed=3)[0]
    register_fleet(store, [dev])
    with store.begin() as conn:
        cid = enqueue_command(conn, dev.mn, "1012", gateway_id="gw1")
        update_command(conn, cid, state="sent", qn="20260115000000000", attempts=2,
                       sent_at=datetime.now(UTC))  # fmt: skip
    cfg = config(tmp_path, command_poll_s=0.1)

    async def main():
        gw = Gateway(cfg, store)
        await gw.start()
        stop = asyncio.Event()
        session = asyncio.create_task(device_session(gw.port, dev, AnswerConfig(), stop))
        ok = await wait_for(lambda: _row(store, id=cid)[0].state == "done", 20)
        stop.set()
        await session
        await gw.stop()
        return ok

    assert run(main())
    row = _row(store, id=cid)[0]
    assert row.qn != "20260115000000000" and row.attempts == 1 and row.exe_rtn == 1


def test_offline_device_keeps_its_queued_command(sqlite_store, tmp_path: Path) -> None:
    dev = make_fleet(1, kinds="wastewater:1", seed=3)[0]
    register_fleet(sqlite_store, [dev])
    with sqlite_store.begin() as conn:
        cid = enqueue_command(conn, dev.mn, "1012")

    async def main():
        gw = Gateway(config(tmp_path, command_poll_s=0.05), sqlite_store)
        await gw.start()
        await asyncio.sleep(0.5)
        await gw.stop()

    run(main())
    assert _row(sqlite_store, id=cid)[0].state == "queued"


def run(coro):
    return asyncio.run(coro)


def test_first_connection_sequence_in_order(sqlite_store, tmp_path: Path) -> None:
    """attrs.hj212.on_connect: after the 1012, the configured commands go out in order, each recorded (§3.6)."""
    dev = make_fleet(1, kinds="wastewater:1", seed=4)[0]
    seq = [
        {"cn": "1000", "fields": {"OverTime": "10", "ReCount": "3"}},
        {"cn": "1062", "fields": {"RtdInterval": "60"}},
        "2011",
        {"bad": 1},
    ]
    register_fleet(sqlite_store, [dev], on_connect=seq)
    cfg = config(tmp_path, time_sync_on_connect=True)

    async def main():
        gw = Gateway(cfg, sqlite_store)
        await gw.start()
        stop = asyncio.Event()
        session = asyncio.create_task(device_session(gw.port, dev, AnswerConfig(), stop))
        ok = await wait_for(lambda: len(_row(sqlite_store)) == 4 and all(r.finished_at for r in _row(sqlite_store)))
        stop.set()
        await session
        await gw.stop()
        return ok

    assert run(main())
    rows = _row(sqlite_store)
    assert [(r.cn, r.source) for r in rows] == [("1012", "connect"), ("1000", "connect"), ("1062", "connect"),
                                                 ("2011", "connect")]  # fmt: skip
    assert [r.sent_at for r in rows] == sorted(r.sent_at for r in rows)  # one after the other
    assert rows[2].params == {"fields": {"RtdInterval": "60"}} and rows[2].state == "done"


@pytest.mark.parametrize(
    ("policy", "flag", "acked"), [("never", "5", False), ("always", "4", True), ("flag", "4", False)]
)
def test_ack_policy_per_device(sqlite_store, tmp_path: Path, policy, flag, acked) -> None:
    from bogda.hj212.answers import build_frame
    from hj212.gwkit import Client

    dev = make_fleet(1, kinds="air:1", seed=5)[0]
    register_fleet(sqlite_store, [dev], ack_policy=policy)
    frame = build_frame(
        f"QN=20260115080000123;ST={dev.st};CN=2011;PW={dev.pw};MN={dev.mn};Flag={flag};"
        "CP=&&DataTime=20260115080000;a34004-Rtd=35.0,a34004-Flag=N&&"
    )

    async def main():
        gw = Gateway(config(tmp_path), sqlite_store)
        await gw.start()
        c = await Client.open(gw.port)
        await c.send(frame)
        got = await c.expect(2, 1.0)  # the 9014 (or not) and a 1012 for the clock drift
        c.close()
        await gw.stop()
        return got

    got = run(main())
    assert [f.CN for f in got if f.CN == "9014"] == (["9014"] if acked else [])  # (a 1012 for the clock drift)
