"""Stations get their own PIT in the scenario archives (forecast.md §3.5): each station's archived PIT comes from
its own stored forecast and its own observation, a station without one takes its county's, and no archive looks
ahead of its issue time. The PITs expected here are computed independently from the stored rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import delete, select

from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast.features import Panel
from bogda.forecast.scenarios import concentration_floor, pit
from bogda.store import Store
from bogda.store.schema import forecast, forecast_run
from bogda.timeutil import UTC, beijing_date, floor_to, now_utc

COUNTY = "652302"
HIGH, LOW = "CJ-FK01", "CJ-FK02"  # the county's two stations


def _stored(store: Store, run_id: int, code: str, resolution: str) -> list[Any]:
    with store.engine.connect() as conn:
        return conn.execute(
            select(
                forecast.c.item, forecast.c.lead, forecast.c.valid_start, forecast.c.p10, forecast.c.p50, forecast.c.p90
            ).where(
                forecast.c.run_id == run_id,
                forecast.c.target_code == code,
                forecast.c.resolution == resolution,
                forecast.c.p50.is_not(None),
            )
        ).all()


def _hourly_expected(store: Store, run_id: int, panel: Panel, t_issue: int, code: str) -> np.ndarray:
    """PITs (items, 72) of ``code``'s own stored hourly rows, row by row from each row's valid_start; an hour counts
    only when it had ended by the issue at the end of hour ``t_issue``."""
    out = np.full((len(op.HOURLY_ITEMS), 72), np.nan)
    row = panel.stations.index(code)
    for r in _stored(store, run_id, code, "hour"):
        pos = panel.position(r.valid_start)
        if r.item in op.HOURLY_ITEMS and pos <= t_issue:
            out[op.HOURLY_ITEMS.index(r.item), r.lead - 1] = pit(
                r.p10, r.p50, r.p90, panel.data[r.item][row, pos], concentration_floor(r.item)
            )
    return out


def _daily_expected(store: Store, run_id: int, panel: Panel, t_issue: int, code: str) -> np.ndarray:
    """PITs (items, 7) of ``code``'s own stored daily rows against its observed daily values of days before today."""
    out = np.full((len(op.DAILY_ITEMS), 7), np.nan)
    row = panel.stations.index(code)
    for r in _stored(store, run_id, code, "day"):
        day = panel.day_position(beijing_date(r.valid_start))
        if r.item in op.DAILY_ITEMS and 0 <= day < t_issue // 24:
            obs = op.daily_item(panel, r.item)[row, day]
            out[op.DAILY_ITEMS.index(r.item), r.lead - 1] = pit(r.p10, r.p50, r.p90, obs, concentration_floor(r.item))
    return out


def _now_panel(store: Store) -> tuple[sv.Registry, Panel, int]:
    now = now_utc()
    reg = sv.registry(store)
    panel = sv.load_panel(store, reg, now)
    return reg, panel, op.issue_position(panel, now)


def _scale(panel: Panel, code: str, factor: float, from_pos: int) -> None:
    """Multiply ``code``'s observations of every pollutant from panel position ``from_pos`` on by ``factor``."""
    row = panel.stations.index(code)
    for it in op.HOURLY_ITEMS:
        panel.data[it][row, from_pos:] *= factor


def test_stations_of_a_county_keep_their_own_opposite_errors(demo_store: Store) -> None:
    """Two stations of one county, one observed far above its forecast and one far below: their archived PITs
    follow their own errors (with every station taking the county's PIT they were equal)."""
    past = floor_to(now_utc(), "hour") - timedelta(hours=72)
    res = sv.refresh(demo_store, past, models=None)
    reg, panel, t_now = _now_panel(demo_store)
    t_run = op.issue_position(panel, past)
    assert {HIGH, LOW} <= set(next(t for t in reg.areas if t.code == COUNTY).members)
    _scale(panel, HIGH, 3.0, t_run + 1)
    _scale(panel, LOW, 1 / 3, t_run + 1)
    rows = {c: i for i, c in enumerate(panel.stations)}

    counts: dict[str, np.ndarray] = {}
    arc, dates = sv.hourly_pit_archive(demo_store, reg, panel, t_now, counts=counts)
    assert arc is not None and dates == [beijing_date(past)]
    hi, lo = arc[0, :, rows[HIGH]], arc[0, :, rows[LOW]]
    np.testing.assert_allclose(hi, _hourly_expected(demo_store, res.run_id, panel, t_now, HIGH), rtol=1e-9)
    np.testing.assert_allclose(lo, _hourly_expected(demo_store, res.run_id, panel, t_now, LOW), rtol=1e-9)
    both = np.isfinite(hi) & np.isfinite(lo)
    assert both.sum() > 100
    # PM2.5 and PM10: far above the 1 µg/m³ floor of the quantile function
    pm = [op.HOURLY_ITEMS.index(it) for it in ("a34004", "a34002")]
    assert both[pm].sum() > 60 and np.all(hi[pm][both[pm]] > lo[pm][both[pm]])
    assert not np.allclose(hi[both], arc[0, :, rows[COUNTY]][both])
    # both had their own forecast and observations: no PIT was borrowed from the county
    assert counts["station_pit_own"][rows[HIGH]] == np.isfinite(hi).sum()
    assert counts["station_pit_county"][[rows[HIGH], rows[LOW]]].tolist() == [0, 0]
    assert counts["station_pit_own"][rows[COUNTY]] == 0  # areas are not counted

    # the daily archive the same way (the run's D+1 and D+2 are complete days by now)
    arc_d, dates_d = sv.pit_archive(demo_store, reg, panel, t_now)
    assert arc_d is not None and dates_d == [beijing_date(past)]
    hi_d, lo_d = arc_d[0, :, rows[HIGH]], arc_d[0, :, rows[LOW]]
    np.testing.assert_allclose(hi_d, _daily_expected(demo_store, res.run_id, panel, t_now, HIGH), rtol=1e-9)
    np.testing.assert_allclose(lo_d, _daily_expected(demo_store, res.run_id, panel, t_now, LOW), rtol=1e-9)
    pm_d = [op.DAILY_ITEMS.index(it) for it in ("a34004", "a34002")]
    ok_d = np.isfinite(hi_d[pm_d]) & np.isfinite(lo_d[pm_d])
    assert ok_d.any() and np.all(hi_d[pm_d][ok_d] > lo_d[pm_d][ok_d])


def test_a_station_without_its_own_pit_takes_its_county_s(demo_store: Store) -> None:
    past = floor_to(now_utc(), "hour") - timedelta(hours=72)
    res = sv.refresh(demo_store, past, models=None)
    # LOW's stored forecasts of that run are gone; HIGH lost its PM2.5 observations of the run's first 5 hours
    with demo_store.begin() as conn:
        conn.execute(delete(forecast).where(forecast.c.run_id == res.run_id, forecast.c.target_code == LOW))
    reg, panel, t_now = _now_panel(demo_store)
    t_run = op.issue_position(panel, past)
    rows = {c: i for i, c in enumerate(panel.stations)}
    pm = op.HOURLY_ITEMS.index("a34004")
    panel.data["a34004"][rows[HIGH], t_run + 1 : t_run + 6] = np.nan

    counts: dict[str, np.ndarray] = {}
    arc, _ = sv.hourly_pit_archive(demo_store, reg, panel, t_now, counts=counts)
    assert arc is not None
    county = arc[0, :, rows[COUNTY]]
    assert np.isfinite(county).sum() > 100
    np.testing.assert_array_equal(arc[0, :, rows[LOW]], county)
    assert counts["station_pit_own"][rows[LOW]] == 0
    assert counts["station_pit_county"][rows[LOW]] == np.isfinite(county).sum()

    own = _hourly_expected(demo_store, res.run_id, panel, t_now, HIGH)
    assert np.isnan(own[pm, :5]).all() and np.isfinite(county[pm, :5]).all()
    np.testing.assert_array_equal(arc[0, pm, rows[HIGH], :5], county[pm, :5])  # the hours without observation
    mine = np.isfinite(own)
    np.testing.assert_allclose(arc[0, :, rows[HIGH]][mine], own[mine], rtol=1e-9)  # the rest its own
    assert counts["station_pit_own"][rows[HIGH]] == mine.sum()
    assert counts["station_pit_county"][rows[HIGH]] == (~mine & np.isfinite(county)).sum()

    arc_d, _ = sv.pit_archive(demo_store, reg, panel, t_now)
    assert arc_d is not None and np.isfinite(arc_d[0, :, rows[COUNTY]]).any()
    np.testing.assert_array_equal(arc_d[0, :, rows[LOW]], arc_d[0, :, rows[COUNTY]])


def test_station_pits_have_no_look_ahead(demo_store: Store) -> None:
    """24 h after a run only its first 24 hourly leads had happened: a station's own PITs of the later leads stay
    hidden from an archive of that issue time, and so does its daily PIT of a day not yet complete."""
    past = floor_to(now_utc(), "hour") - timedelta(hours=72)
    res = sv.refresh(demo_store, past, models=None)
    reg, panel, _ = _now_panel(demo_store)
    t_early = op.issue_position(panel, past) + 24
    rows = {c: i for i, c in enumerate(panel.stations)}
    early, _ = sv.hourly_pit_archive(demo_store, reg, panel, t_early)
    assert early is not None
    for code in (HIGH, LOW):
        want = _hourly_expected(demo_store, res.run_id, panel, t_early, code)
        np.testing.assert_allclose(early[0, :, rows[code]], want, rtol=1e-9)
        assert np.isfinite(early[0, :, rows[code], :24]).any()
        assert np.isnan(early[0, :, rows[code], 24:]).all()
    # 48 h after the run its first daily lead is a complete day and its second is not (the panel holds it now)
    t_day = t_early + 24
    daily, _ = sv.pit_archive(demo_store, reg, panel, t_day)
    assert daily is not None
    for code in (HIGH, LOW):
        np.testing.assert_allclose(
            daily[0, :, rows[code]], _daily_expected(demo_store, res.run_id, panel, t_day, code), rtol=1e-9
        )
        assert np.isfinite(daily[0, :, rows[code], 0]).any() and np.isnan(daily[0, :, rows[code], 1:]).all()


def test_runs_older_than_the_panel_are_not_read(demo_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose every lead lies before the panel's first hour (day) has nothing to compare with: its rows are
    not read (its date would be dropped as empty); a run inside the panel is."""
    now = floor_to(now_utc(), "hour")
    old = sv.refresh(demo_store, now - timedelta(days=6), models=None)
    new = sv.refresh(demo_store, now - timedelta(hours=30), models=None)
    reg = sv.registry(demo_store)
    panel = sv.load_panel(demo_store, reg, now, days=2)  # starts ~2 days ago: the old run's 72 h ended before
    t_issue = op.issue_position(panel, now)
    read: list[list[int]] = []
    real = sv._archived_quantiles

    def spy(store: Store, run_ids: list[int], *args: Any, **kwargs: Any) -> pl.DataFrame:
        read.append(list(run_ids))
        return real(store, run_ids, *args, **kwargs)

    monkeypatch.setattr(sv, "_archived_quantiles", spy)
    arc, dates = sv.hourly_pit_archive(demo_store, reg, panel, t_issue)
    assert read == [[new.run_id]] and arc is not None and dates == [beijing_date(now - timedelta(hours=30))]
    read.clear()
    sv.pit_archive(demo_store, reg, panel, t_issue, days=30)
    # the daily run 6 days back still has leads D+5..D+7 inside a 2-day panel: read; one 12 days back is not
    assert read == [[old.run_id, new.run_id]]
    with demo_store.begin() as conn:  # a run 12 days back (its rows do not matter: they must not be asked for)
        t_old = now - timedelta(days=12)
        older = conn.execute(
            forecast_run.insert()
            .values(issue_time=t_old, kind="operational", status="ok", reasons=[], created_at=t_old)
            .returning(forecast_run.c.id)
        ).scalar_one()
    read.clear()
    sv.pit_archive(demo_store, reg, panel, t_issue, days=30)
    assert read == [[old.run_id, new.run_id]] and older not in read[0]


def _registry() -> sv.Registry:
    targets = [
        op.Target("S1", "station"),
        op.Target("S2", "station"),
        op.Target("S3", "station"),  # in no county
        op.Target("C", "county", members=("S1", "S2")),
        op.Target("P", "prefecture", members=("S1", "S2", "S3")),
    ]
    return sv.Registry(targets, {}, {})


def test_fallback_fills_element_by_element_and_drops_empty_dates() -> None:
    rows = {c: i for i, c in enumerate(("S1", "S2", "S3", "C", "P"))}
    arc = np.full((3, 1, 5, 2), np.nan)
    arc[0, 0, rows["S1"]] = [0.9, 0.8]
    arc[0, 0, rows["C"]] = [0.5, 0.4]
    arc[0, 0, rows["P"]] = [0.3, 0.2]
    arc[2, 0, rows["S1"]] = [np.nan, 0.7]
    arc[2, 0, rows["C"]] = [0.6, np.nan]
    dates = [beijing_date(now_utc() - timedelta(days=k)) for k in (3, 2, 1)]
    out, kept, counts = sv._stations_fall_back_to_county(arc.copy(), dates, _registry(), rows)
    assert out is not None and kept == [dates[0], dates[2]]  # the date without any value is dropped
    np.testing.assert_array_equal(out[0, 0, rows["S1"]], [0.9, 0.8])  # its own
    np.testing.assert_array_equal(out[0, 0, rows["S2"]], [0.5, 0.4])  # the county's
    assert np.isnan(out[0, 0, rows["S3"]]).all()  # no county to fall back to: left for fill_pit
    np.testing.assert_array_equal(out[1, 0, rows["S1"]], [0.6, 0.7])  # the county's where its own is missing
    np.testing.assert_array_equal(out[:, 0, rows["C"]], arc[[0, 2], 0, rows["C"]])  # areas untouched
    assert counts["station_pit_own"].tolist() == [3, 0, 0, 0, 0]
    assert counts["station_pit_county"].tolist() == [1, 3, 0, 0, 0]
    none, no_dates, _ = sv._stations_fall_back_to_county(np.full((2, 1, 5, 2), np.nan), dates[:2], _registry(), rows)
    assert none is None and no_dates == []


def test_quantile_read_is_the_same_fast_and_through_sqlalchemy(store: Store) -> None:
    """The fast read of the stored quantiles (SQLite group_concat, PostgreSQL ADBC) gives the rows SQLAlchemy gives;
    rows missing a quantile are left out."""
    t0 = floor_to(now_utc(), "hour") - timedelta(days=2)
    with store.begin() as conn:
        run = conn.execute(
            forecast_run.insert()
            .values(issue_time=t0, kind="operational", status="ok", reasons=[], created_at=t0)
            .returning(forecast_run.c.id)
        ).scalar_one()
        recs = []
        for code, kind in (("A'1", "station"), ("B2", "station"), ("C", "county")):
            for lead in (1, 2, 3):
                start = (t0 + timedelta(days=lead)).astimezone(UTC)
                q = (None, 20.0, 30.0) if (code, lead) == ("B2", 2) else (10.0 + lead, 20.5, 30.25 * lead)
                recs.append(
                    {
                        "run_id": run,
                        "target_code": code,
                        "target_kind": kind,
                        "item": "a34004",
                        "resolution": "day",
                        "valid_start": start,
                        "valid_end": start + timedelta(days=1),
                        "lead": lead,
                        "method": "lgbm",
                        "mean": 20.0,
                        "p10": q[0],
                        "p50": q[1],
                        "p90": q[2],
                        "unit": "ug/m3",
                    }
                )
        conn.execute(forecast.insert(), recs)
    args = (store, [run], ["A'1", "B2", "C"], ["a34004"], "day", 7)
    if store.dialect == "postgresql":  # the column-wise path must serve the store, not fall back unseen
        assert sv._quantile_adbc(store, select(forecast.c.run_id)) is not None
    got = sv._archived_quantiles(*args, with_valid_start=True).sort("code", "lead")
    want = sv._archived_quantiles(*args, with_valid_start=True, fast=False).sort("code", "lead")
    assert got.height == 8 and ("B2", 2) not in set(zip(got["code"], got["lead"], strict=True))
    assert got.schema == want.schema and got.equals(want)
    starts = [int((t0 + timedelta(days=k)).timestamp()) for k in (1, 2, 3)]
    assert got.filter(pl.col("code") == "C")["valid_s"].to_list() == starts
    assert got.filter(pl.col("code") == "C")["p90"].to_list() == [30.25, 60.5, 90.75]
