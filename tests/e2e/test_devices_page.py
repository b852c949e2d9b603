"""The data loggers page in a real browser: devices with address refusals, the commands table and queueing a
command, unknown loggers waiting for approval (hj212.md §3.4, §3.6)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from e2e.harness import ARTIFACTS, chromium, outside, running_server

pytestmark = pytest.mark.browser
ADMIN = ("admin1", "admin-pass-1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    from argon2 import PasswordHasher

    import bogda.registry.devices as registry_devices
    from bogda.hj212.command_store import enqueue_command, update_command
    from bogda.hj212.registration import register_fleet
    from bogda.hj212.simulator import make_fleet
    from bogda.registry.people import add_user
    from bogda.registry.places import seed_levels
    from bogda.store import connect
    from bogda.store.schema import hj212_device_state, hj212_pending_device

    registry_devices._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    folder = tmp_path_factory.mktemp("devices_page")
    db = folder / "devices.db"
    st = connect(f"sqlite:///{db}")
    dev = make_fleet(1, kinds="cems:1", seed=41)[0]
    register_fleet(st, [dev])
    t0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    with st.begin() as conn:
        seed_levels(conn)
        add_user(conn, login=ADMIN[0], password=ADMIN[1], roles=["admin"])
        state = dict(mn=dev.mn, registered=True, online=False, ip_refused=2, last_refused_peer="10.1.1.1:3000",
                     last_refused_at=t0)  # fmt: skip
        conn.execute(hj212_device_state.insert().values(**state))
        cid = enqueue_command(conn, dev.mn, "1012", source="connect")
        update_command(conn, cid, state="timed_out", error="no_answer", attempts=4)
        pending = dict(mn="AAAABBBBCCCCDDDDEEEEFFFF", status="pending", first_seen=t0, last_seen=t0, st="32", frames=3)
        conn.execute(hj212_pending_device.insert().values(**pending))
    st.dispose()
    with running_server(db, folder) as base:
        yield base, db, dev.mn


def test_devices_page_commands_and_pending(server: tuple[str, Path, str]) -> None:
    base, db, mn = server
    with chromium() as b:
        pg = b.new_page(viewport={"width": 1500, "height": 1000}, locale="zh-CN")
        urls: list[str] = []
        pg.on("request", lambda r: urls.append(r.url))
        pg.goto(f"{base}/devices")
        pg.fill("#login", ADMIN[0])
        pg.fill("#password", ADMIN[1])
        pg.click("button[type=submit]")
        pg.wait_for_url("**/devices")
        pg.wait_for_selector(".bogda-commands")
        assert pg.locator(".bogda-devices tbody tr").count() == 1
        assert "timed_out" in pg.locator(".bogda-commands").inner_text()
        assert "AAAABBBBCCCCDDDDEEEEFFFF" in pg.locator(".bogda-pending").inner_text()
        pg.locator(".bogda-command-send").click()  # the default: a 1012 time sync for the only logger
        pg.wait_for_selector("text=已加入队列")
        pg.wait_for_function("document.querySelectorAll('.bogda-commands tbody tr').length >= 2")
        assert "queued" in pg.locator(".bogda-commands").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "devices_page.png"), full_page=True)
        assert outside(urls) == []
    from sqlalchemy import create_engine, text

    eng = create_engine(f"sqlite:///{db}")
    with eng.connect() as c:
        rows = c.execute(text("SELECT mn, cn, state, requested_by FROM hj212_command ORDER BY id")).all()
    eng.dispose()
    assert [tuple(r) for r in rows] == [(mn, "1012", "timed_out", None), (mn, "1012", "queued", ADMIN[0])]
