"""Hourly AQI probabilities by joint scenarios in the service (forecast.md §3.5, §7): the hourly PIT archive read
from stored runs (no look-ahead), and the refresh recording how its hourly AQI probabilities were made."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast.features import Panel
from bogda.forecast.scenarios import concentration_floor, pit
from bogda.store import Store
from bogda.store.schema import forecast, forecast_run
from bogda.timeutil import beijing_date, day_start_utc, floor_to, now_utc

COUNTY = "652323"
STATION = "CJ-HT01"


def _expected(store: Store, run_id: int, panel: Panel, t_issue: int, code: str) -> np.ndarray:
    """PITs (items, 72) of one stored run for ``code`` computed independently: each row's own stored valid_start,
    the panel's observation there only when that hour had ended by the issue at the end of hour ``t_issue``."""
    out = np.full((len(op.HOURLY_ITEMS), 72), np.nan)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                forecast.c.item, forecast.c.lead, forecast.c.valid_start, forecast.c.p10, forecast.c.p50, forecast.c.p90
            ).where(
                forecast.c.run_id == run_id,
                forecast.c.target_code == code,
                forecast.c.resolution == "hour",
                forecast.c.item.in_(op.HOURLY_ITEMS),
                forecast.c.p50.is_not(None),
            )
        ).all()
    assert rows
    row = panel.stations.index(code)
    for r in rows:
        pos = panel.position(r.valid_start)
        if pos <= t_issue:
            obs = panel.data[r.item][row, pos]
            out[op.HOURLY_ITEMS.index(r.item), r.lead - 1] = pit(r.p10, r.p50, r.p90, obs, concentration_floor(r.item))
    return out


def _panel_now(store: Store) -> tuple[sv.Registry, Panel, int]:
    now = now_utc()
    reg = sv.registry(store)
    panel = sv.load_panel(store, reg, now)
    return reg, panel, op.issue_position(panel, now)


def test_hourly_archive_has_no_look_ahead(demo_store: Store) -> None:
    past = floor_to(now_utc(), "hour") - timedelta(hours=72)
    res = sv.refresh(demo_store, past, models=None)
    reg, panel, t_now = _panel_now(demo_store)
    rows = {c: i for i, c in enumerate(panel.stations)}

    arc, dates = sv.hourly_pit_archive(demo_store, reg, panel, t_now)
    assert arc is not None and arc.shape == (1, len(op.HOURLY_ITEMS), len(panel.stations), 72)
    assert dates == [beijing_date(past)]
    want = _expected(demo_store, res.run_id, panel, t_now, COUNTY)
    assert np.isfinite(want).sum() > 100  # the run was observed: the comparison is about real values
    np.testing.assert_allclose(arc[0, :, rows[COUNTY]], want, rtol=1e-9)
    # a member station has its own PIT, from its own stored forecast and observations
    np.testing.assert_allclose(arc[0, :, rows[STATION]], _expected(demo_store, res.run_id, panel, t_now, STATION))

    # 24 h after the run only its first 24 leads had happened: the panel holds the later hours now, but the archive
    # of that issue time must not see them (positions from the run's own issue time, not from the clock, which may
    # have passed an hour since the refresh)
    t_run = op.issue_position(panel, past)
    t_early = t_run + 24
    early, _ = sv.hourly_pit_archive(demo_store, reg, panel, t_early)
    assert early is not None
    want_early = _expected(demo_store, res.run_id, panel, t_early, COUNTY)
    np.testing.assert_allclose(early[0, :, rows[COUNTY]], want_early, rtol=1e-9)
    assert np.isnan(early[0, :, rows[COUNTY], 24:]).all()
    assert np.isfinite(early[0, :, rows[COUNTY], :24]).any()
    # the station's own PITs hide the same hours
    want_st = _expected(demo_store, res.run_id, panel, t_early, STATION)
    np.testing.assert_allclose(early[0, :, rows[STATION]], want_st, rtol=1e-9)
    assert np.isnan(early[0, :, rows[STATION], 24:]).all()

    # an issue time before the run was issued: the run is in the future and not used
    none, none_dates = sv.hourly_pit_archive(demo_store, reg, panel, t_run - 8)
    assert none is None and none_dates == []


def test_hourly_archive_at_beijing_midnight_keeps_yesterday(demo_store: Store) -> None:
    """An issue at 00:00 Beijing: the last ended hour is yesterday's, but yesterday is a past date and its runs were
    issued before the issue, so the archive keeps them (it dropped them when "today" was the last hour's date)."""
    past = floor_to(now_utc(), "hour") - timedelta(hours=72)
    res = sv.refresh(demo_store, past, models=None)
    reg, panel, _ = _panel_now(demo_store)
    midnight = day_start_utc(beijing_date(past) + timedelta(days=1))
    t_midnight = op.issue_position(panel, midnight)
    arc, dates = sv.hourly_pit_archive(demo_store, reg, panel, t_midnight)
    assert arc is not None and dates == [beijing_date(past)]
    row = panel.stations.index(COUNTY)
    want = _expected(demo_store, res.run_id, panel, t_midnight, COUNTY)
    assert np.isfinite(want).any()
    np.testing.assert_allclose(arc[0, :, row], want, rtol=1e-9)
    # one hour earlier the run's date is today's: not a past date
    assert sv.hourly_pit_archive(demo_store, reg, panel, t_midnight - 1) == (None, [])


def test_hourly_archive_takes_the_run_at_the_nearest_hour_of_day(demo_store: Store) -> None:
    """Two runs of one past Beijing date: the one whose issue hour of day is nearer today's is the date's vector
    (its leads fall on the same hours of day as today's)."""
    same_hour = floor_to(now_utc(), "hour") - timedelta(days=3)
    day = beijing_date(same_hour)
    # the same Beijing date, issued 1 h and 7 h before the current hour of day
    near, far = same_hour - timedelta(hours=1), same_hour - timedelta(hours=7)
    if beijing_date(far) != day:  # early in the Beijing morning: 7 h before falls on the previous date
        near, far = same_hour + timedelta(hours=1), same_hour + timedelta(hours=7)
    assert beijing_date(near) == beijing_date(far) == day
    r_far = sv.refresh(demo_store, far, models=None)
    r_near = sv.refresh(demo_store, near, models=None)
    reg, panel, t_now = _panel_now(demo_store)
    arc, dates = sv.hourly_pit_archive(demo_store, reg, panel, t_now)
    assert arc is not None and dates == [day]
    row = panel.stations.index(COUNTY)
    np.testing.assert_allclose(arc[0, :, row], _expected(demo_store, r_near.run_id, panel, t_now, COUNTY), rtol=1e-9)
    assert not np.allclose(
        np.nan_to_num(arc[0, :, row]), np.nan_to_num(_expected(demo_store, r_far.run_id, panel, t_now, COUNTY))
    )


def _hourly_aqi_probs(store: Store, run_id: int) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [
            r._asdict()
            for r in conn.execute(
                select(forecast.c.target_code, forecast.c.p10, forecast.c.p50, forecast.c.p90, forecast.c.prob).where(
                    forecast.c.run_id == run_id, forecast.c.item == "AQI", forecast.c.resolution == "hour"
                )
            ).all()
        ]


def test_refresh_records_how_hourly_probabilities_were_made(demo_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # a fresh store: no archive, comonotone scenarios, scenario_dates 0 — as the daily rows
    res = sv.refresh(demo_store, models=None)
    rows = _hourly_aqi_probs(demo_store, res.run_id)
    assert rows and all(r["prob"]["scenario_dates"] == 0 for r in rows)
    ok = [r for r in rows if r["p50"] is not None]
    assert ok and all(r["p10"] <= r["p50"] <= r["p90"] for r in ok)
    assert all(r["prob"]["AQI>100"] >= r["prob"]["AQI>200"] >= r["prob"]["AQI>300"] for r in ok)
    assert {"level>=2", "level>=6"} <= set(ok[0]["prob"])

    assert all("station_pit_own" not in r["prob"] for r in rows)  # no archive scenarios, no station PIT counts

    # an archive of 25 dates (as hourly_pit_archive returns it): archive scenarios, scenario_dates 25, and in the
    # station rows how many of the station's archived PITs were its own and how many its county's
    def fake(
        store: Store,
        reg: sv.Registry,
        panel: Panel,
        t_issue: int,
        items: list[str],
        *,
        counts: dict[str, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, list]:
        u = np.random.default_rng(0).uniform(size=(25, len(items), len(panel.stations), 72))
        if counts is not None:
            counts["station_pit_own"] = np.arange(len(panel.stations)) * 10
            counts["station_pit_county"] = np.arange(len(panel.stations))
        return u, list(range(25))

    monkeypatch.setattr(sv, "hourly_pit_archive", fake)
    res2 = sv.refresh(demo_store, models=None)
    rows2 = _hourly_aqi_probs(demo_store, res2.run_id)
    assert rows2 and all(r["prob"]["scenario_dates"] == 25 for r in rows2)
    reg = sv.registry(demo_store)
    panel = sv.load_panel(demo_store, reg, now_utc())
    kinds = {t.code: t.kind for t in reg.targets}
    for r in rows2:
        i = panel.stations.index(r["target_code"])
        if kinds[r["target_code"]] == "station":
            assert (r["prob"]["station_pit_own"], r["prob"]["station_pit_county"]) == (10 * i, i)
        else:
            assert "station_pit_own" not in r["prob"] and "station_pit_county" not in r["prob"]

    # an unreadable archive degrades to comonotone scenarios and says so; the refresh itself succeeds
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk")

    monkeypatch.setattr(sv, "hourly_pit_archive", broken)
    res3 = sv.refresh(demo_store, models=None)
    assert any("hourly PIT archive unreadable" in r for r in res3.reasons)
    assert all(r["prob"]["scenario_dates"] == 0 for r in _hourly_aqi_probs(demo_store, res3.run_id))
    with demo_store.engine.connect() as conn:
        status = conn.execute(select(forecast_run.c.status).where(forecast_run.c.id == res3.run_id)).scalar_one()
    assert status == "degraded"
