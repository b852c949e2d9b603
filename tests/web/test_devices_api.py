"""``/api/v1/devices`` and ``/api/v1/devices/rejected`` over state written by the real HJ 212 loader: online/offline
from the log's bind events, last frame, counts, refused frames with the parser's reasons, scoped by county."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

import bogda.registry.devices as registry_devices
from bogda.config import Settings, WebSettings
from bogda.hj212.answers import build_upload
from bogda.hj212.ingest import Loader
from bogda.hj212.wal import WriteAheadLog
from bogda.registry.devices import add_device
from bogda.registry.people import add_user
from bogda.registry.places import seed_levels, upsert_place
from bogda.registry.sites import SiteInput, add_site
from bogda.store import Store
from bogda.web.app import create_app

ADMIN = ("admin1", "admin-pass-1")
COUNTY_A = ("county-a", "county-pass-1")
MN_A = "0123456789ABCDEF01234567"
MN_B = "0123456789ABCDEF0123456B"
MN_UNKNOWN = "FFFFFFFFFFFFFFFFFFFFFFFF"
PW = "123456"
T0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


def upload(mn: str, minute: int, st: str = "31") -> bytes:
    t = T0.replace(minute=minute)
    return build_upload(
        "2011", st=st, mn=mn, pw=PW, qn=f"20260115100{minute:02d}00000", data_time=t,
        pollutants={"a21026": {"Rtd": f"{10 + minute}.5", "Flag": "N"}},
    )  # fmt: skip


def corrupt(frame: bytes) -> bytes:
    """Same frame with a wrong CRC (the last 4 characters before CR LF)."""
    body = frame.rstrip(b"\r\n")
    wrong = b"0000" if body[-4:] != b"0000" else b"1111"
    return body[:-4] + wrong


@pytest.fixture
def world(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """Two counties with one logger each, one unknown MN; a write-ahead log drained by the loader."""
    monkeypatch.setattr(registry_devices, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    with store.begin() as conn:
        seed_levels(conn)
        pref = upsert_place(conn, code="652300", name="昌吉州", level=1, kind="prefecture")
        a = upsert_place(conn, code="652301", name="昌吉市", level=2, kind="county", parent_id=pref)
        b = upsert_place(conn, code="652302", name="阜康市", level=2, kind="county", parent_id=pref)
        out_a = add_site(conn, SiteInput(kind="outlet", code="OUT-A", name="排口A", place_id=a))
        out_b = add_site(conn, SiteInput(kind="outlet", code="OUT-B", name="排口B", place_id=b))
        add_device(conn, mn=MN_A, password=PW, parent_id=out_a, st="31")
        add_device(conn, mn=MN_B, password=PW, parent_id=out_b, st="31")
        add_user(conn, login=ADMIN[0], password=ADMIN[1], roles=["admin"])
        add_user(conn, login=COUNTY_A[0], password=COUNTY_A[1], roles=["county_operator"], scope_place_id=a)

    async def write_log() -> None:
        wal = WriteAheadLog(tmp_path / "wal")
        wal.start()
        ev = b'{"e": "bound", "mn": "%s", "peer": "127.0.0.1:5000"}'
        wal.append("event", "event", ev % MN_A.encode(), conn_id=1, peer="127.0.0.1:5000")
        wal.append("in", "accepted", upload(MN_A, 0), conn_id=1, peer="127.0.0.1:5000")
        wal.append("in", "rejected", corrupt(upload(MN_A, 1)), conn_id=1, peer="127.0.0.1:5000")
        wal.append("in", "accepted", upload(MN_A, 2), conn_id=1, peer="127.0.0.1:5000")
        wal.append("event", "event", ev % MN_B.encode(), conn_id=2, peer="127.0.0.1:5001")
        wal.append("in", "accepted", upload(MN_B, 0), conn_id=2, peer="127.0.0.1:5001")
        gone = b'{"e": "unbound", "mn": "%s", "reason": "closed"}' % MN_B.encode()
        wal.append("event", "event", gone, conn_id=2, peer="127.0.0.1:5001")
        wal.append("in", "unknown_mn", upload(MN_UNKNOWN, 0), conn_id=3, peer="127.0.0.1:5002")
        wal.append("junk", "scanner", b"GET / HTTP/1.1\r\n", conn_id=4, peer="127.0.0.1:5003")
        await wal.close()

    asyncio.run(write_log())
    Loader(store, tmp_path / "wal", "gw1").drain()
    return store


@pytest.fixture
def client(world: Store, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=world.url, data_dir=tmp_path, web=WebSettings(secret_key="test-secret-key"))
    with TestClient(create_app(settings, world, console=False), follow_redirects=False) as c:
        yield c


def by_mn(body: dict) -> dict[str, dict]:
    return {d["mn"]: d for d in body["results"]}


def test_devices_show_online_state_last_frame_and_counts(client: TestClient) -> None:
    body = client.get("/api/v1/devices", auth=ADMIN).json()
    assert body["meta"]["found"] == 3
    d = by_mn(body)
    a, b, unknown = d[MN_A], d[MN_B], d[MN_UNKNOWN]
    assert (a["online"], a["frames_in"], a["frames_rejected"]) == (True, 3, 1)
    assert a["last_frame_at"] is not None and a["last_cn"] == "2011" and a["last_status"] == "accepted"
    assert a["site"]["code"] == "OUT-A" and a["county"]["code"] == "652301"
    assert (b["online"], b["frames_in"], b["disconnect_reason"]) == (False, 1, "closed")
    assert (unknown["registered"], unknown["site"], unknown["frames_rejected"]) == (False, None, 1)
    online = client.get("/api/v1/devices", params={"state": "online"}, auth=ADMIN).json()
    assert [x["mn"] for x in online["results"]] == [MN_A]


@pytest.mark.parametrize(
    ("status", "mn", "reasons"),
    [
        ("rejected", MN_A, ["crc_mismatch"]),
        ("unknown_mn", MN_UNKNOWN, ["unknown_mn"]),
        ("scanner", None, ["scanner"]),
    ],
)
def test_rejected_frames_carry_their_reasons(client: TestClient, status: str, mn: str | None, reasons: list) -> None:
    body = client.get("/api/v1/devices/rejected", params={"status": status}, auth=ADMIN).json()
    assert body["meta"]["found"] == 1
    frame = body["results"][0]
    assert (frame["mn"], frame["status"], frame["reasons"]) == (mn, status, reasons)
    assert frame["received_at"]["utc"].endswith("Z")


def test_county_user_sees_only_its_loggers_and_their_refusals(client: TestClient) -> None:
    mine = client.get("/api/v1/devices", auth=COUNTY_A).json()
    assert [d["mn"] for d in mine["results"]] == [MN_A]
    refused = client.get("/api/v1/devices/rejected", auth=COUNTY_A).json()
    assert [(f["mn"], f["reasons"]) for f in refused["results"]] == [(MN_A, ["crc_mismatch"])]
    assert client.get("/api/v1/devices/rejected", params={"mn": MN_B}, auth=COUNTY_A).json()["meta"]["found"] == 0


def test_bad_filters_are_422_naming_the_field_and_a_login_is_needed(client: TestClient) -> None:
    for path, params, field in [
        ("/api/v1/devices", {"state": "asleep"}, "state"),
        ("/api/v1/devices/rejected", {"status": "ok"}, "status"),
    ]:
        r = client.get(path, params=params, auth=ADMIN)
        assert r.status_code == 422
        assert field in r.text
    assert client.get("/api/v1/devices").status_code == 401
    assert client.get("/api/v1/devices/rejected").status_code == 401


# --- commands, pending devices, address refusals (hj212.md §3.4, §3.6) ----------------------------------------------
def test_operator_queues_a_recall_sees_its_state_and_cancels_it(client: TestClient, world: Store) -> None:
    from sqlalchemy import select

    from bogda.store.schema import audit

    r = client.post(
        f"/api/v1/devices/{MN_A}/commands",
        json={"cn": "2061", "begin": "2026-01-15 08:00", "end": "2026-01-15 10:00"},
        auth=COUNTY_A,
    )
    assert r.status_code == 200, r.text
    cmd = r.json()
    assert (cmd["mn"], cmd["cn"], cmd["state"], cmd["source"], cmd["requested_by"]) == (
        MN_A, "2061", "queued", "operator", COUNTY_A[0]
    )  # fmt: skip
    assert cmd["params"] == {"begin": "2026-01-15T00:00:00+00:00", "end": "2026-01-15T02:00:00+00:00"}
    listed = client.get("/api/v1/devices/commands", params={"mn": MN_A}, auth=ADMIN).json()["results"]
    assert [c["id"] for c in listed] == [cmd["id"]] and listed[0]["retries"] == 0
    # the county user may not command another county's logger, nor send a bad command
    assert client.post(f"/api/v1/devices/{MN_B}/commands", json={"cn": "1012"}, auth=COUNTY_A).status_code == 404
    bad = client.post(f"/api/v1/devices/{MN_A}/commands", json={"cn": "1062", "fields": {"RtdInterval": "1"}},
                      auth=COUNTY_A)  # fmt: skip
    assert bad.status_code == 422 and "RtdInterval must be 30-3600" in bad.text
    ok = client.post(f"/api/v1/devices/commands/{cmd['id']}/cancel", auth=COUNTY_A)
    assert ok.status_code == 200 and ok.json()["state"] == "cancelled"
    again = client.post(f"/api/v1/devices/commands/{cmd['id']}/cancel", auth=COUNTY_A)
    assert again.status_code == 409 and "only a queued one" in again.text
    with world.engine.connect() as c:
        actions = list(c.execute(select(audit.c.action).where(audit.c.action.like("hj212.%"))).scalars())
    assert actions == ["hj212.command", "hj212.command_cancel"]
    assert client.get("/api/v1/devices/commands", params={"state": "asleep"}, auth=ADMIN).status_code == 422


def test_pending_devices_listed_approved_by_admin_only(client: TestClient, world: Store) -> None:
    from sqlalchemy import select

    from bogda.registry.devices import hash_password
    from bogda.store.schema import device, hj212_pending_device, site

    with world.begin() as c:
        row = dict(mn=MN_UNKNOWN, status="pending", first_seen=T0, last_seen=T0, st="31", protocol="2017",
                   pw_hash=hash_password(PW), frames=4)  # fmt: skip
        c.execute(hj212_pending_device.insert().values(**row))
        outlet = c.execute(select(site.c.id).where(site.c.code == "OUT-A")).scalar_one()
    assert client.get("/api/v1/devices/pending", auth=COUNTY_A).json()["results"] == []
    rows = client.get("/api/v1/devices/pending", auth=ADMIN).json()["results"]
    assert [(p["mn"], p["frames"], p["has_pw"]) for p in rows] == [(MN_UNKNOWN, 4, True)]
    forbidden = client.post(f"/api/v1/devices/pending/{MN_UNKNOWN}/approve", json={"site_id": outlet}, auth=COUNTY_A)
    assert forbidden.status_code == 403
    r = client.post(f"/api/v1/devices/pending/{MN_UNKNOWN}/approve", json={"site_id": outlet}, auth=ADMIN)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    with world.engine.connect() as c:
        pw_hash = c.execute(select(device.c.pw_hash).where(device.c.mn == MN_UNKNOWN)).scalar_one()
    assert registry_devices.verify_password(pw_hash, PW)
    assert client.post(f"/api/v1/devices/pending/{MN_UNKNOWN}/reject", auth=ADMIN).status_code == 409


def test_address_refusals_show_on_the_device(client: TestClient, world: Store) -> None:
    from bogda.store.schema import hj212_device_state

    with world.begin() as c:
        c.execute(hj212_device_state.update().where(hj212_device_state.c.mn == MN_A)
                  .values(ip_refused=3, last_refused_peer="10.9.8.7:4000", last_refused_at=T0))  # fmt: skip
    d = by_mn(client.get("/api/v1/devices", auth=ADMIN).json())[MN_A]
    assert (d["ip_refused"], d["last_refused_peer"]) == (3, "10.9.8.7:4000") and d["last_refused_at"] is not None
