"""Unknown-device policies, allowed_ips, heartbeat answers (spec hj212.md §3.4, §3.5)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

import bogda.registry.devices as registry_devices
from bogda.hj212.answers import build_frame
from bogda.hj212.auth import ip_allowed
from bogda.hj212.codec import parse_frame
from bogda.hj212.gateway import Gateway, GatewayConfig
from bogda.hj212.pending import approve_pending, list_pending, reject_pending
from bogda.hj212.registration import register_fleet
from bogda.hj212.simulator import make_fleet
from bogda.store.schema import audit, device, hj212_device_state, observation, raw_frame, site
from hj212.gwkit import Client, config, upload, wait_for


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_devices, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def run(coro):
    return asyncio.run(coro)


def _statuses(store) -> list[str]:
    with store.engine.connect() as c:
        return list(
            c.execute(
                select(raw_frame.c.status).where(raw_frame.c.direction == "in").order_by(raw_frame.c.seq)
            ).scalars()
        )


async def _send_all(port: int, frames: list[bytes], n_expect: int, timeout: float = 1.5) -> tuple[list, bool]:
    c = await Client.open(port)
    for f in frames:
        await c.send(f)
    got = await c.expect(n_expect, timeout)
    closed = await c.closed_within(0.5)
    c.close()
    return got, closed


def test_config_validation_names_the_setting() -> None:
    with pytest.raises(ValueError, match="unknown_mn_policy must be one of archive, reject, quarantine, pending"):
        GatewayConfig(unknown_mn_policy="drop").validate()
    with pytest.raises(ValueError, match="heartbeat_reply"):
        GatewayConfig(heartbeat_reply="always").validate()
    GatewayConfig(unknown_mn_policy="pending", heartbeat_reply="9014").validate()


@pytest.mark.parametrize(
    ("policy", "acks", "closed", "status"),
    [
        ("archive", 0, False, "unknown_mn"),
        ("reject", 0, True, "unknown_mn"),
        ("quarantine", 2, False, "quarantined"),
        ("pending", 0, False, "unknown_mn"),
    ],
)
def test_unknown_mn_policies(store, tmp_path: Path, policy, acks, closed, status) -> None:
    dev = make_fleet(1, kinds="air:1", seed=21)[0]  # never registered
    frames = [upload(dev, 0), upload(dev, 10)]
    cfg = config(tmp_path, unknown_mn_policy=policy)

    async def main():
        gw = Gateway(cfg, store)
        await gw.start()
        got, was_closed = await _send_all(gw.port, frames, 2)
        await gw.stop()
        return got, was_closed, gw.stats

    got, was_closed, stats = run(main())
    assert [f.CN for f in got] == ["9014"] * acks
    assert was_closed is closed
    assert stats[f"unknown_mn_{policy}"] >= 1
    statuses = _statuses(store)
    assert statuses[0] == status and set(statuses) == {status} and len(statuses) == (1 if closed else 2)
    with store.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(observation)).scalar() == 0
        state = c.execute(select(hj212_device_state).where(hj212_device_state.c.mn == dev.mn)).one()
        assert state.registered is False
        pending = list_pending(c)
    if policy == "pending":
        assert [(p["mn"], p["status"], p["frames"], p["has_pw"]) for p in pending] == [(dev.mn, "pending", 2, True)]
        assert "pw_hash" not in pending[0]
    else:
        assert pending == []


def test_pending_device_approved_then_accepted(sqlite_store, tmp_path: Path) -> None:
    dev, other = make_fleet(2, kinds="cems:2", seed=22)
    register_fleet(sqlite_store, [other])  # gives a real outlet site to approve onto
    with sqlite_store.engine.connect() as c:
        outlet = c.execute(select(site.c.parent_id).join(device, device.c.site_id == site.c.id)).scalar_one()
    cfg = config(tmp_path, unknown_mn_policy="pending", registry_refresh_s=0.2)

    async def main():
        gw = Gateway(cfg, sqlite_store)
        await gw.start()
        got1, _ = await _send_all(gw.port, [upload(dev, 0)], 1, 0.8)
        await wait_for(lambda: bool(_pending(sqlite_store)), 10)
        with sqlite_store.begin() as conn:
            with pytest.raises(ValueError, match="not waiting for approval"):
                reject_pending(conn, "NO-SUCH-MN", by="op1")
            approve_pending(conn, dev.mn, outlet, by="op1")
            with pytest.raises(ValueError, match="not waiting for approval"):
                approve_pending(conn, dev.mn, outlet, by="op1")
        await wait_for(lambda: dev.mn in gw.credentials.devices, 10)
        got2, _ = await _send_all(gw.port, [upload(dev, 0)], 1)  # the logger re-sends what was not acked
        await gw.stop()
        return got1, got2

    got1, got2 = run(main())
    assert got1 == [] and [f.CN for f in got2] == ["9014"]
    assert _statuses(sqlite_store) == ["unknown_mn", "accepted"]
    with sqlite_store.engine.connect() as c:
        row = list_pending(c, status=None)[0]
        assert (row["status"], row["decided_by"], row["site_id"] is not None) == ("approved", "op1", True)


def _pending(store):
    with store.engine.connect() as c:
        return list_pending(c)


@pytest.mark.parametrize(
    ("where", "allowed", "accepted"),
    [
        ("device", ["10.0.0.0/8"], False),
        ("device", ["127.0.0.1"], True),
        ("parent", ["192.168.0.0/16", "not-an-address"], False),
        ("parent", "127.0.0.0/8, 10.0.0.1", True),
    ],
)
def test_allowed_ips_enforced_counted_audited(store, tmp_path: Path, where, allowed, accepted) -> None:
    dev = make_fleet(1, kinds="wastewater:1", seed=23)[0]
    register_fleet(store, [dev])
    with store.begin() as conn:
        dsite, parent = conn.execute(
            select(site.c.id, site.c.parent_id).join(device, device.c.site_id == site.c.id)
        ).one()
        target = dsite if where == "device" else parent
        conn.execute(site.update().where(site.c.id == target).values(attrs={"hj212": {"allowed_ips": allowed}}))

    async def main():
        gw = Gateway(config(tmp_path), store)
        await gw.start()
        got, _ = await _send_all(gw.port, [upload(dev, 0)], 1, 1.0)
        await gw.stop()
        return got, gw.stats

    got, stats = run(main())
    if accepted:
        assert [f.CN for f in got] == ["9014"] and _statuses(store) == ["accepted"]
        assert stats["ip_refused"] == 0
        return
    assert got == [] and _statuses(store) == ["ip_refused"] and stats["ip_refused"] == 1
    with store.engine.connect() as c:
        state = c.execute(select(hj212_device_state).where(hj212_device_state.c.mn == dev.mn)).one()
        assert state.ip_refused == 1 and state.last_refused_peer.startswith("127.0.0.1:")
        assert state.frames_rejected == 1
        rows = c.execute(select(audit).where(audit.c.action == "hj212.ip_refused")).all()
        assert len(rows) == 1 and rows[0].target == f"device:{dev.mn}"
        assert rows[0].detail["allowed_ips"] == (allowed if isinstance(allowed, list) else ["127.0.0.0/8", "10.0.0.1"])
        assert c.execute(select(func.count()).select_from(observation)).scalar() == 0


def test_ip_allowed_rules() -> None:
    assert ip_allowed("::ffff:192.168.3.4", ("192.168.0.0/16",))
    assert not ip_allowed("192.168.3.4", ())
    assert not ip_allowed("junk", ("0.0.0.0/0",))
    assert ip_allowed("2001:db8::5", ("2001:db8::/32",)) and not ip_allowed("10.0.0.1", ("2001:db8::/32",))


def _heartbeat(dev, qn: str = "20260115080000123") -> bytes:
    return build_frame(f"QN={qn};ST={dev.st};CN=9021;PW={dev.pw};MN={dev.mn};Flag=5;CP=&&&&")


@pytest.mark.parametrize(("policy", "device_override", "expected"), [
    ("none", None, []), ("9014", None, ["9014"]), ("echo", None, ["9021"]), ("none", "9014", ["9014"]),
])  # fmt: skip
def test_heartbeat_answers(sqlite_store, tmp_path: Path, policy, device_override, expected) -> None:
    dev = make_fleet(1, kinds="air:1", seed=24)[0]
    register_fleet(sqlite_store, [dev], **({"heartbeat_reply": device_override} if device_override else {}))
    hb = _heartbeat(dev)

    async def main():
        gw = Gateway(config(tmp_path, heartbeat_reply=policy), sqlite_store)
        await gw.start()
        got, _ = await _send_all(gw.port, [hb], 1, 0.8)
        await gw.stop()
        return got

    got = run(main())
    assert [f.CN for f in got] == expected
    if expected == ["9014"]:
        assert got[0].request_qn == "20260115080000123" and got[0].ST == "91"
    if expected == ["9021"]:
        assert got[0].raw.rstrip(b"\r\n") == hb.rstrip(b"\r\n")
    assert _statuses(sqlite_store) == ["heartbeat"]
    with sqlite_store.engine.connect() as c:
        state = c.execute(select(hj212_device_state).where(hj212_device_state.c.mn == dev.mn)).one()
    assert state.last_cn == "9021" and state.last_frame_at is not None


def test_heartbeat_without_pw_does_not_bind_or_count_as_failure(sqlite_store, tmp_path: Path) -> None:
    dev = make_fleet(1, kinds="air:1", seed=25)[0]
    register_fleet(sqlite_store, [dev])
    hb = build_frame(f"QN=20260115080000123;ST={dev.st};CN=9021;MN={dev.mn};Flag=4;CP=&&&&")

    async def main():
        gw = Gateway(config(tmp_path, heartbeat_reply="9014"), sqlite_store)
        await gw.start()
        got, _ = await _send_all(gw.port, [hb] * 6, 1, 0.8)
        bound = dev.mn in gw.sessions
        await gw.stop()
        return got, bound, gw.stats

    got, bound, stats = run(main())
    assert got == [] and bound is False and stats["auth_blocked"] == 0 and stats["pw_mismatch"] == 0
    assert _statuses(sqlite_store) == ["heartbeat"] * 6
    assert parse_frame(hb).role == "heartbeat"


def test_quarantined_frames_replayed_after_registration(store, tmp_path: Path) -> None:
    """Policy quarantine: acked, archived, not stored; once the MN is registered, ``replay`` stores them (once)."""
    from datetime import UTC, datetime, timedelta

    from bogda.hj212.replay import replay_frames

    dev, stranger = make_fleet(2, kinds="wastewater:2", seed=26)
    frames = [upload(dev, m * 10) for m in range(3)]
    bad_pw = upload(dev, 40, pw="999999")

    async def main():
        gw = Gateway(config(tmp_path, unknown_mn_policy="quarantine"), store)
        await gw.start()
        got, _ = await _send_all(gw.port, [*frames, bad_pw, upload(stranger, 0)], 5)
        await gw.stop()
        return got

    got = run(main())
    assert [f.CN for f in got] == ["9014"] * 5
    assert _statuses(store) == ["quarantined"] * 5
    begin, end = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(minutes=1)
    before = replay_frames(store, begin, end)
    assert before.replayed == 0 and before.skipped["unregistered"] == 5
    register_fleet(store, [dev])
    report = replay_frames(store, begin, end)
    assert report.replayed == 3 and report.skipped == {"pw_mismatch": 1, "unregistered": 1}
    with store.engine.connect() as c:
        n = c.execute(select(func.count()).select_from(observation)).scalar()
    assert n == report.observations_written > 0
    assert replay_frames(store, begin, end).observations_written == 0  # idempotent
    assert _statuses(store) == ["quarantined"] * 5  # the evidence is never rewritten


def test_ops_alerts_filed_as_findings(sqlite_store, tmp_path: Path) -> None:
    """3 wrong passwords in a row → one incident; > 10 % of an hour's frames refused → one incident; a repeat
    updates the live finding (spec §6 pw_fail_alert, reject_alert_ratio)."""
    from bogda.store.schema import finding

    dev = make_fleet(1, kinds="air:1", seed=27)[0]
    register_fleet(sqlite_store, [dev])
    good = [upload(dev, m) for m in range(20)]
    wrong = [upload(dev, 30 + m, pw="000000") for m in range(4)]

    async def main():
        gw = Gateway(config(tmp_path, auth_max_failures=100), sqlite_store)
        await gw.start()
        await _send_all(gw.port, good, 20)
        for f in wrong:  # a new connection each time: the first frame of a connection is checked against the hash
            await _send_all(gw.port, [f], 0, 0.2)
        await gw.stop()

    run(main())
    with sqlite_store.engine.connect() as c:
        rows = {r.dedupe_key: r for r in c.execute(select(finding)).all()}
    pw = rows[f"hj212:pw_fail:{dev.mn}"]
    assert (pw.kind, pw.severity, pw.count) == ("incident", "medium", 1)
    assert pw.evidence["in_a_row"] == 3
    ratio = rows[f"hj212:reject_ratio:{dev.mn}"]
    assert ratio.evidence["refused"] == 3 and ratio.evidence["frames"] == 23  # 3 of 23 > 10 %
    assert len(rows) == 2


def test_ops_watch_rules() -> None:
    from datetime import UTC, datetime, timedelta

    from bogda.hj212.ops import OpsWatch

    w = OpsWatch(pw_fail_alert=2, reject_min_frames=4)
    t = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    assert w.frame("M", "pw_mismatch", t, "p", 1) == []
    assert w.frame("M", "accepted", t, "p", 1) == []  # an accepted frame ends the streak
    assert w.frame("M", "pw_mismatch", t, "p", 1) == []
    got = w.frame("M", "pw_mismatch", t, "p", 1)
    assert [d.dedupe_key for d in got] == ["hj212:pw_fail:M", "hj212:reject_ratio:M"]  # 3 of 4 refused
    assert w.frame("M", "rejected", t, "p", 1) == []  # once per hour
    snap = w.snapshot()
    w.frame("M", "pw_mismatch", t + timedelta(hours=1), "p", 1)
    w.restore(snap)
    assert w.hour["M"][1] == 5 and w.pw_streak["M"] == 2
    assert [d.dedupe_key for d in w.event({"e": "wal_usage", "ratio": 0.85}, t)] == ["hj212:wal_usage:gw1"]
    inc = w.event({"e": "packet_incomplete", "mn": "M", "cn": "2011", "missing": [2]}, t)
    assert [(d.dedupe_key, d.evidence["missing"]) for d in inc] == [("hj212:packet_incomplete:M", [2])]
    assert w.event({"e": "bound", "mn": "M"}, t) == []
