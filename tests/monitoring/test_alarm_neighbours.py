"""Same-day alarms ``neighbour_excess`` and ``imminent`` (forecast.md §3.7): pure rules on the real 2019 CNEMC
stations and synthetic series, and the engine filing them as findings (never tasks) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from pyproj import Geod
from sqlalchemy import func, select

from bogda.monitoring.alarm_rules import (
    DEFAULT_RULES,
    imminent_triggers,
    neighbour_excess,
    neighbour_pairs,
    neighbour_triggers,
    resolve_params,
)
from bogda.monitoring.alarms import add_rule, list_alarms, read_forecast_aqi, run_alarms
from bogda.monitoring.aqi_tables import station_hourly, update_aqi
from bogda.monitoring.ingest import POLLUTANTS, ReadResult, read_stations
from bogda.registry.places import upsert_place
from bogda.registry.sites import SiteInput, add_site
from bogda.store import Store
from bogda.store import series as S
from bogda.store.schema import finding, forecast, forecast_run, task

H0 = datetime(2019, 3, 1, 2, tzinfo=UTC)  # 10:00 Beijing, outside the quiet hours


# --- pure rules on the real stations ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def positions(station_list_path) -> pl.DataFrame:
    sl = read_stations(station_list_path)
    return sl.select(
        pl.col("station_code").alias("site_code"), pl.col("longitude").alias("lon"), pl.col("latitude").alias("lat")
    )


def test_neighbour_pairs_match_geodesic_distances(positions: pl.DataFrame) -> None:
    pairs = neighbour_pairs(positions, radius_km=10)
    geod = Geod(ellps="WGS84")
    xy = {c: (x, y) for c, x, y in positions.iter_rows()}
    for a, b, km in pairs.iter_rows():
        _, _, metres = geod.inv(*xy[a], *xy[b])
        assert km == pytest.approx(metres / 1000, rel=5e-3)  # sphere vs ellipsoid
        assert km <= 10
    near = pairs.filter(pl.col("site_code") == "2691A")
    # Changji: 州监测站 2691A has 新区政务中心 2692A and 亚心广场 3613A within 10 km; the Tianchi control site is not
    assert set(near["neighbour"]) == {"2692A", "3613A"}
    assert "2690A" not in set(pairs["neighbour"])
    # symmetric
    assert (
        pairs.height
        == pairs.join(
            pairs.select(pl.col("neighbour").alias("site_code"), pl.col("site_code").alias("neighbour")),
            on=["site_code", "neighbour"],
        ).height
    )


def test_neighbour_excess_on_changji_january(changji_january: ReadResult, positions: pl.DataFrame) -> None:
    """2691A against its only reporting neighbour 2692A (3613A is not in the 2019 file): the median of one
    neighbour is its value, so excess ⇔ AQI(2691A) > max(2·AQI(2692A), AQI(2692A) + 50)."""
    f = changji_january.frame.filter(pl.col("parameter").is_in(POLLUTANTS))
    hourly = station_hourly(f.select(pl.col("site_code").alias("target_code"), "ts", "parameter", "value"))
    pairs = neighbour_pairs(positions, radius_km=10)
    judged = neighbour_excess(hourly, pairs)
    a = hourly.filter(pl.col("target_code") == "2691A").select("ts", pl.col("aqi").alias("a"))
    b = hourly.filter(pl.col("target_code") == "2692A").select("ts", pl.col("aqi").alias("b"))
    both = a.join(b, on="ts").drop_nulls()
    expected = both.filter(pl.col("a") > pl.max_horizontal(2 * pl.col("b"), pl.col("b") + 50))["ts"].sort()
    got = judged.filter((pl.col("target_code") == "2691A") & pl.col("excess"))["ts"].sort()
    assert got.len() > 10
    assert got.to_list() == expected.to_list()
    # an hour with no neighbour value gets no verdict, never an excess
    lone = judged.filter((pl.col("target_code") == "2691A") & ~pl.col("ts").is_in(both["ts"].implode()))
    assert lone["excess"].is_null().all()

    # hand check: row 2019-01-03 H 13 (05:00 UTC): 2691A AQI 354, 2692A 175 → bound max(350, 225) = 350 → excess,
    # and the hour before is an excess too → the 2-hour rule fires
    at = datetime(2019, 1, 3, 5, tzinfo=UTC)
    trig = neighbour_triggers(hourly.with_columns(pl.lit("station").alias("target_kind")), positions, at=at)
    hit = [t for t in trig if t.target_code == "2691A"]
    assert len(hit) == 1
    t = hit[0]
    assert (t.value, t.threshold, t.detail["neighbour_median"]) == (354.0, 350.0, 175.0)
    assert t.severity == "medium" and t.detail["grid_task_candidate"] is True
    assert t.key == "alarm:station:2691A:AQI:neighbour_excess"
    # every trigger over January is a run of ≥ 2 consecutive excess hours
    ex = set(got.to_list())
    for hour in sorted(ex):
        fired = {
            x.target_code
            for x in neighbour_triggers(hourly.with_columns(target_kind=pl.lit("station")), positions, at=hour)
        }
        assert ("2691A" in fired) == (hour - timedelta(hours=1) in ex)


@pytest.mark.parametrize(
    ("a", "neighbours", "excess"),
    [
        (100.0, [40.0, 50.0, 60.0], False),  # median 50: bound max(100, 100) = 100, not above
        (101.0, [40.0, 50.0, 60.0], True),
        (150.0, [100.0, 120.0], False),  # median 110: bound max(220, 160)
        (70.0, [10.0], True),  # median 10: bound max(20, 60) = 60
        (60.0, [10.0], False),
        (500.0, [], None),  # no neighbour value: no verdict
    ],
)
def test_neighbour_bound_table(a: float, neighbours: list[float], excess: bool | None) -> None:
    codes = ["A"] + [f"N{i}" for i in range(len(neighbours))]
    hourly = pl.DataFrame({"target_code": codes, "ts": [H0] * len(codes), "aqi": [a, *neighbours]})
    pairs = pl.DataFrame({"site_code": ["A"] * 3, "neighbour": ["N0", "N1", "N2"]})
    row = neighbour_excess(hourly, pairs).filter(pl.col("target_code") == "A")
    assert row["excess"][0] == excess


def test_imminent_window_threshold_and_run_age() -> None:
    at = H0
    issued = at + timedelta(minutes=40)
    rows = pl.DataFrame(
        {
            "target_kind": ["county"] * 8 + ["station"] * 2,
            "target_code": ["C1"] * 8 + ["S1"] * 2,
            "valid_start": [at + timedelta(hours=h) for h in range(1, 9)] + [at + timedelta(hours=7)] * 2,
            "mean": [150, 180, 199, 200, 230, 260, 240, 400, 350, 350],
            "run_id": 7,
            "issue_time": issued,
        }
    ).with_columns(pl.col("mean").cast(pl.Float64))
    trig = {t.target_code: t for t in imminent_triggers(rows, at=at)}
    # C1: first mean > 200 at +5 h (230), peak within 6 h 260 at +6 h; the 400 at +8 h is beyond the window
    assert set(trig) == {"C1"}
    t = trig["C1"]
    assert (t.value, t.threshold, t.severity) == (260.0, 200.0, "medium")
    assert t.detail["first_exceedance"] == (at + timedelta(hours=5)).isoformat()
    assert t.detail["hours_above"] == 2
    # a place may look further ahead
    params = {"S1": resolve_params([_rule("station", "S1", "imminent", {"within_hours": 8})], station="S1")[0]}
    assert {x.target_code for x in imminent_triggers(rows, at=at, params=params)} == {"C1", "S1"}
    # a run older than 3 h is not alarmed on
    stale = rows.with_columns(pl.lit(at - timedelta(hours=4)).alias("issue_time"))
    assert imminent_triggers(stale, at=at) == []


def _rule(scope: str, code: str, rule: str, params: dict) -> dict:
    return {"scope": scope, "scope_code": code, "rule": rule, "params": params, "enabled": True, "version": 1}


# --- the engine on a store ----------------------------------------------------------------------------------------


def _setup(store: Store) -> dict[str, int]:
    """Three stations a few km apart in one county (A, B, C) and a far one (F, 40 km away)."""
    with store.begin() as conn:
        pref = upsert_place(conn, code="P1", name="州", level=1, kind="prefecture")
        county = upsert_place(conn, code="C1", name="县", level=2, kind="county", parent_id=pref)
        pos = {"A": (87.30, 44.01), "B": (87.33, 44.02), "C": (87.28, 44.03), "F": (87.80, 44.01)}
        return {
            c: add_site(conn, SiteInput("air_station", c, f"站{c}", x, y, place_id=county, attrs={"evaluation": True}))
            for c, (x, y) in pos.items()
        }


def _hour(store: Store, ids: dict[str, int], t: datetime, pm25: dict[str, float]) -> None:
    rows = [(ids[c], "a34004", t, v) for c, v in pm25.items()]
    S.write_long(
        store,
        pl.DataFrame(
            rows,
            schema={"site_id": pl.Int64, "parameter": pl.String, "ts": pl.Datetime("us", "UTC"), "value": pl.Float64},
            orient="row",
        ),
        resolution="hour",
    )
    update_aqi(store, start=t, end=t + timedelta(hours=1))


def _run(store: Store, t: datetime):
    return run_alarms(store, at=t, now=t + timedelta(hours=1, minutes=5))


# PM2.5 on the 24-h breakpoints (HJ 633-2012): 115 → IAQI 150, 35 → 50, 30 → 43
def test_neighbour_excess_alarm_lifecycle(store: Store) -> None:
    ids = _setup(store)
    normal = {"A": 30.0, "B": 35.0, "C": 30.0, "F": 300.0}
    _hour(store, ids, H0, {**normal, "A": 115.0})  # one hour above: no alarm yet
    assert not any(k.endswith("neighbour_excess") for k in _run(store, H0).created)
    _hour(store, ids, H0 + timedelta(hours=1), {**normal, "A": 115.0})
    run = _run(store, H0 + timedelta(hours=1))
    key = "alarm:station:A:AQI:neighbour_excess"
    assert key in run.created
    # F is 40 km away: its own high value is not compared with A, B, C and it has no neighbour → no alarm
    assert not any(":F:" in k and k.endswith("neighbour_excess") for k in run.created)
    with store.engine.connect() as conn:
        f = conn.execute(select(finding).where(finding.c.dedupe_key == key)).one()
        assert conn.execute(select(func.count()).select_from(task)).scalar() == 0
    assert f.kind == "alarm" and f.severity == "medium"
    ev = f.evidence
    assert ev["rule"] == "neighbour_excess" and ev["value"] == 150
    # median of B (50) and C (43) = 46.5 → bound max(93, 96.5) = 96.5
    assert ev["threshold"] == 96.5
    assert ev["detail"]["grid_task_candidate"] is True and sorted(ev["detail"]["neighbours"]) == ["B", "C"]
    # two ordinary hours resolve it; a missing hour in between closes nothing
    _run(store, H0 + timedelta(hours=2))  # no data at all this hour
    assert list_alarms(store).filter(pl.col("dedupe_key") == key)["state"][0] == "open"
    _hour(store, ids, H0 + timedelta(hours=3), normal)
    _run(store, H0 + timedelta(hours=3))
    assert list_alarms(store).filter(pl.col("dedupe_key") == key)["state"][0] == "open"
    _hour(store, ids, H0 + timedelta(hours=4), normal)
    run = _run(store, H0 + timedelta(hours=4))
    assert key in run.resolved


def test_neighbour_excess_per_place_margin(store: Store) -> None:
    ids = _setup(store)
    add_rule(
        store,
        scope="station",
        scope_code="A",
        rule="neighbour_excess",
        params={"margin": 200},
        valid_from=H0 - timedelta(days=1),
    )
    for h in range(2):
        _hour(store, ids, H0 + timedelta(hours=h), {"A": 115.0, "B": 35.0, "C": 30.0, "F": 30.0})
    run = _run(store, H0 + timedelta(hours=1))
    assert not any(k.endswith("neighbour_excess") for k in run.created)  # bound 46.5 + 200 not reached


def _forecast(store: Store, issued: datetime, means: dict[tuple[str, str], list[float]], status: str = "ok") -> int:
    with store.begin() as conn:
        run_id = conn.execute(
            forecast_run.insert()
            .values(issue_time=issued, kind="operational", status=status, created_at=issued)
            .returning(forecast_run.c.id)
        ).scalar_one()
        start = issued.replace(minute=0, second=0, microsecond=0)
        rows = [
            {
                "run_id": run_id,
                "target_code": code,
                "target_kind": kind,
                "item": "AQI",
                "resolution": "hour",
                "valid_start": start + timedelta(hours=lead),
                "valid_end": start + timedelta(hours=lead + 1),
                "lead": lead,
                "method": "lgbm",
                "mean": m,
                "unit": "1",
            }
            for (kind, code), ms in means.items()
            for lead, m in enumerate(ms, start=1)
        ]
        conn.execute(forecast.insert(), rows)
    return run_id


def test_imminent_alarm_from_the_newest_forecast(store: Store) -> None:
    ids = _setup(store)
    _hour(store, ids, H0, {"A": 30.0, "B": 35.0, "C": 30.0, "F": 30.0})
    # an older run foresees 300 for the county; the newest (issued HH:40 of hour H0) foresees 250 at +3 h
    _forecast(store, H0 - timedelta(hours=1), {("county", "C1"): [300.0] * 8})
    newest = _forecast(store, H0 + timedelta(minutes=40), {("county", "C1"): [120, 180, 250, 190, 150, 100, 90, 80]})
    _forecast(store, H0 + timedelta(minutes=50), {("county", "C1"): [999.0] * 8}, status="failed")  # never used
    rows = read_forecast_aqi(store, at=H0)
    assert set(rows["run_id"]) == {newest} and rows.height == 6
    run = _run(store, H0)
    key = "alarm:county:C1:AQI:imminent"
    assert key in run.created
    with store.engine.connect() as conn:
        f = conn.execute(select(finding).where(finding.c.dedupe_key == key)).one()
        assert conn.execute(select(func.count()).select_from(task)).scalar() == 0
    assert f.severity == "medium" and f.evidence["value"] == 250
    assert f.evidence["detail"]["run_id"] == newest
    # the next runs no longer foresee it: resolved after 2 evaluations with a forecast
    for h in (1, 2):
        t = H0 + timedelta(hours=h)
        _forecast(store, t + timedelta(minutes=40), {("county", "C1"): [100.0] * 8})
        run = _run(store, t)
    assert key in run.resolved


def test_no_forecast_no_imminent_alarm(store: Store) -> None:
    ids = _setup(store)
    _hour(store, ids, H0, {"A": 30.0, "B": 35.0, "C": 30.0, "F": 30.0})
    assert read_forecast_aqi(store, at=H0).height == 0
    assert not any(k.endswith("imminent") for k in _run(store, H0).created)
    assert DEFAULT_RULES["imminent"]["threshold"] == 200


def test_feed_down_is_one_ops_event_resolved_when_data_return(store: Store) -> None:
    """monitoring.md §3.2: the whole feed silent ≥ 2 h → one ``feed_down`` ops event (an incident finding, no
    station alarms); it is updated while the silence lasts and resolved when a station reports again."""
    from bogda.monitoring.alarms import FEED_DOWN_KEY

    ids = _setup(store)
    normal = {"A": 30.0, "B": 35.0, "C": 30.0, "F": 30.0}
    _hour(store, ids, H0, normal)
    assert not _run(store, H0 + timedelta(hours=1)).feed_down  # 1 h of silence: not yet
    for h in (5, 6):  # nobody delivered for 5 and 6 h
        run = _run(store, H0 + timedelta(hours=h))
        assert run.feed_down and not any(k.endswith("station_offline") for k in run.created)
    with store.engine.connect() as conn:
        rows = conn.execute(select(finding).where(finding.c.dedupe_key == FEED_DOWN_KEY)).all()
    assert len(rows) == 1 and rows[0].kind == "incident" and rows[0].status == "open"
    assert rows[0].evidence["rule"] == "feed_down" and rows[0].evidence["silent_hours"] >= 5
    _hour(store, ids, H0 + timedelta(hours=7), normal)
    run = _run(store, H0 + timedelta(hours=7))
    assert not run.feed_down
    with store.engine.connect() as conn:
        status = conn.execute(select(finding.c.status).where(finding.c.dedupe_key == FEED_DOWN_KEY)).scalar()
    assert status == "resolved"
