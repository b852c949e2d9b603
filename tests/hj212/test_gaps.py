"""Gap scan (spec hj212.md §3.6 Recall, §6 gap_scan): missing slots per device and parameter, bounded recalls, and
a recall that fills the gap end to end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import bogda.registry.devices as registry_devices
from bogda.hj212.command_store import update_command
from bogda.hj212.gaps import gap_scan, infer_step, merge_ranges, missing_slots
from bogda.hj212.gateway import Gateway
from bogda.hj212.registration import register_fleet
from bogda.hj212.simulator import AnswerConfig, make_fleet
from bogda.store.schema import device, hj212_command, observation, series, site
from bogda.store.series import ensure_series, write
from hj212.gwkit import START, config, device_session, upload, wait_for


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_devices, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


H = 3600


@pytest.mark.parametrize(
    ("ts", "expected"),
    [([0, 600, 1200, 2400], 600), ([0, 60, 120, 180], 60), ([0, 890, 1800], 900), ([5], 600), ([], 600)],
)
def test_infer_step(ts, expected):
    assert infer_step(ts) == expected


def test_missing_slots_and_ranges():
    assert missing_slots([0, H, 3 * H], 0, 4 * H, H) == [2 * H, 4 * H]
    assert missing_slots([], 100, 2 * H, H) == [H, 2 * H]  # begins at the first aligned slot
    assert merge_ranges([0, H, 2 * H, 5 * H], H, 24 * H) == [(0, 2 * H), (5 * H, 5 * H)]
    assert merge_ranges(list(range(0, 30 * H, H)), H, 24 * H) == [(0, 24 * H), (25 * H, 29 * H)]


def _device_site(store) -> tuple[str, int]:
    with store.engine.connect() as c:
        mn, parent = c.execute(select(device.c.mn, site.c.parent_id).join(site, site.c.id == device.c.site_id)).one()
    return mn, parent


def _write(store, site_id: int, parameter: str, resolution: str, ts: list[int]) -> None:
    with store.begin() as conn:
        ids = ensure_series(conn, [(site_id, parameter, resolution, "mg/m3")])
    sid = next(iter(ids.values()))
    write(store, pl.DataFrame({"series_id": [sid] * len(ts), "ts": ts, "value": [1.0] * len(ts)}))


def _commands(store) -> list:
    with store.engine.connect() as c:
        return c.execute(select(hj212_command).order_by(hj212_command.c.id)).all()


def test_gap_scan_queues_bounded_recalls(store) -> None:
    register_fleet(store, make_fleet(1, kinds="cems:1", seed=31))
    mn, parent = _device_site(store)
    now = datetime(2026, 1, 15, 12, 25, tzinfo=UTC)
    t_now = int(now.timestamp())
    hours = [t_now // H * H - k * H for k in range(1, 48)]  # the last 47 complete hours
    missing_h = {hours[5], hours[6], hours[20]}
    _write(store, parent, "a21026", "hour", [t for t in hours if t not in missing_h])
    # a second parameter that lacks one more hour: the device's gaps are the union over its parameters
    _write(store, parent, "a21002", "hour", [t for t in hours if t not in missing_h and t != hours[30]])
    _write(store, parent, "a21026-Cou", "hour", hours[40:])  # not a main value: never recalled for
    minutes = [t_now // 600 * 600 - k * 600 for k in range(3, 40)]
    _write(store, parent, "a21026", "min", [t for t in minutes if t not in (minutes[4], minutes[5])])

    report = gap_scan(store, now, per_device=5)
    assert report.devices == 1 and report.series == 3
    got = sorted((q["cn"], q["begin"], q["end"]) for q in report.queued)
    iso = lambda t: datetime.fromtimestamp(t, UTC).isoformat()  # noqa: E731
    assert got == sorted([
        ("2061", iso(hours[6]), iso(hours[5])),
        ("2061", iso(hours[20]), iso(hours[20])),
        ("2061", iso(hours[30]), iso(hours[30])),
        ("2051", iso(minutes[5]), iso(minutes[4])),
    ])  # fmt: skip
    rows = _commands(store)
    assert {(r.source, r.state, r.mn) for r in rows} == {("gap_scan", "queued", mn)}

    # while they are queued nothing is asked twice
    again = gap_scan(store, now, per_device=5)
    assert again.queued == [] and again.in_flight_slots == 6

    # each slot is asked at most max_tries times
    for run_ in range(2):
        with store.begin() as conn:
            for r in _commands(store):
                if r.state == "queued":
                    update_command(conn, r.id, state="timed_out", error="no_answer")
        assert len(gap_scan(store, now, per_device=5).queued) == 4, run_
    with store.begin() as conn:
        for r in _commands(store):
            if r.state == "queued":
                update_command(conn, r.id, state="failed", error="exe:2")
    last = gap_scan(store, now, per_device=5)
    assert last.queued == [] and last.exhausted_slots == 6
    assert len(_commands(store)) == 12


def test_gap_scan_respects_the_concurrency_and_per_device_bounds(sqlite_store) -> None:
    register_fleet(sqlite_store, make_fleet(2, kinds="cems:2", seed=32))
    with sqlite_store.engine.connect() as c:
        parents = list(c.execute(select(site.c.parent_id).join(device, device.c.site_id == site.c.id)).scalars())
    now = datetime(2026, 1, 15, 12, 25, tzinfo=UTC)
    t_now = int(now.timestamp()) // H * H
    for p in parents:
        _write(sqlite_store, p, "a21026", "hour", [t_now - k * H for k in range(1, 30) if k % 3])  # many gaps
    report = gap_scan(sqlite_store, now, max_concurrent=3, per_device=2)
    assert len(report.queued) == 3 and report.skipped_concurrency == 1
    assert gap_scan(sqlite_store, now, max_concurrent=3).queued == []  # 3 waiting already
    dry = gap_scan(sqlite_store, now, max_concurrent=10, dry_run=True)
    assert len(dry.queued) == 4 and all(q["id"] is None for q in dry.queued)  # 2 per device, nothing written
    assert len(_commands(sqlite_store)) == 3


def test_gap_recalled_and_filled_end_to_end(sqlite_store, tmp_path: Path) -> None:
    """Hourly uploads with one hour missing → the scan queues a 2061 → the gateway sends it on the device's
    connection → the device re-sends that hour → the gap is gone."""
    dev = make_fleet(1, kinds="wastewater:1", seed=33, history_start=START - timedelta(days=1))[0]
    register_fleet(sqlite_store, [dev])
    cfg = config(tmp_path, command_poll_s=0.1)
    now = START + timedelta(hours=6, minutes=25)

    async def main():
        gw = Gateway(cfg, sqlite_store)
        await gw.start()
        stop = asyncio.Event()
        first = b"".join(upload(dev, h * 60, cn="2061") for h in range(6) if h != 3)
        session = asyncio.create_task(device_session(gw.port, dev, AnswerConfig(), stop, first=first))
        await wait_for(lambda: gw.loader.stats.raw_rows >= 5, 10)
        report = await asyncio.to_thread(gap_scan, sqlite_store, now, lookback=timedelta(hours=8))
        ok = await wait_for(lambda: _commands(sqlite_store)[-1].state == "done", 20)
        await asyncio.sleep(0.5)
        stop.set()
        await session
        await gw.stop()
        return report, ok

    report, ok = asyncio.run(main())
    hour3 = (START + timedelta(hours=3)).isoformat()
    assert [(q["cn"], q["begin"], q["end"]) for q in report.queued] == [("2061", hour3, hour3)]
    assert ok
    with sqlite_store.engine.connect() as c:
        ts = set(
            c.execute(
                select(observation.c.ts).join(series, series.c.id == observation.c.series_id)
                .where(series.c.resolution == "hour")
            ).scalars()
        )  # fmt: skip
    assert int((START + timedelta(hours=3)).timestamp()) in ts
    assert gap_scan(sqlite_store, now, lookback=timedelta(hours=8)).missing_slots == 0
