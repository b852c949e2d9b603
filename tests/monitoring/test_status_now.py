"""The one "station now" read model (station_now) and the status cache: state by monitoring.md §3.2, values of the
newest hour, AQI from the QA'd table once computed (real-time from the values before), re-rendering on new data,
background revalidation. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import select

from bogda.monitoring.aqi_tables import update_aqi
from bogda.monitoring.load import mark_dirty
from bogda.monitoring.qa import with_config
from bogda.monitoring.status import GREY, StatusCache, seconds_to_next_change, station_now, stations_status
from bogda.registry.places import upsert_place
from bogda.registry.sites import SiteInput, add_site
from bogda.standards import aqi as aqi_std
from bogda.store import Store
from bogda.store import series as S
from bogda.store.schema import aqi_hourly

T0 = datetime(2026, 1, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
SIX = {"a34004": 75.0, "a34002": 120.0, "a21026": 12.0, "a21004": 40.0, "a21005": 1.1, "a05024": 50.0}


def _write(store: Store, site_id: int, hours: list[datetime], values: dict[str, float]) -> None:
    rows = [(site_id, p, ts, v + i) for i, ts in enumerate(hours) for p, v in values.items()]
    frame = pl.DataFrame(rows, schema=["site_id", "parameter", "ts", "value"], orient="row")
    S.write_long(store, frame.with_columns(pl.col("ts").dt.cast_time_unit("us")), resolution="hour")


@pytest.fixture
def net(store: Store) -> dict[str, int]:
    """A: reports T0..T0+4h; B: last value at T0; C: never; M: an air station sending weather only; W: water."""
    with store.begin() as conn:
        pref = upsert_place(conn, code="652300", name="昌吉州", level=1, kind="prefecture")
        county = upsert_place(conn, code="652301", name="昌吉市", level=2, kind="county", parent_id=pref)
        kinds = {"A": "air_station", "B": "air_station", "C": "air_station", "M": "air_station", "W": "water_station"}
        ids = {
            code: add_site(conn, SiteInput(kind, code, f"站{code}", 87.3, 44.0, place_id=county))
            for code, kind in kinds.items()
        }
    _write(store, ids["A"], [T0 + i * H for i in range(5)], SIX)
    _write(store, ids["B"], [T0], SIX)
    _write(store, ids["M"], [T0 + 4 * H], {"a01001": -12.0})
    _write(store, ids["W"], [T0 + 4 * H], {"w01018": 14.0})
    return ids


def test_state_values_and_realtime_aqi_before_the_aqi_job(store: Store, net: dict[str, int]) -> None:
    now = T0 + 5 * H + timedelta(minutes=10)
    got = station_now(store, list(net.values()), now=now)
    a, b, c, m, w = (got[net[k]] for k in "ABCMW")
    assert (a.status, b.status, c.status) == ("online", "offline", "never_reported")
    assert a.hour == T0 + 4 * H and a.values == {p: v + 4 for p, v in SIX.items()}
    assert b.silent_hours == pytest.approx(4 + 10 / 60)  # silent from the end of its hour (T0 + 1 h)
    expected = aqi_std.aqi_hourly({p: [v + 4] for p, v in SIX.items()}, ts=T0 + 4 * H)
    assert a.aqi_source == "realtime" and a.aqi == int(expected.aqi_int[0]) and a.level == int(expected.level[0])
    assert a.standard == aqi_std.standard_for(T0) and a.pm25 == SIX["a34004"] + 4
    # weather alone does not make an air station report; a water station counts any hourly value
    assert m.status == "never_reported" and m.values == {"a01001": -12.0} and m.aqi is None
    assert w.status == "online" and w.aqi is None
    assert c.hour is None and c.values == {} and c.aqi is None


def test_aqi_is_the_qa_table_row_once_computed(store: Store, net: dict[str, int]) -> None:
    update_aqi(store, start=T0 - 24 * H, end=T0 + 6 * H)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(aqi_hourly.c.aqi, aqi_hourly.c.level, aqi_hourly.c.primary_pollutant).where(
                aqi_hourly.c.target_kind == "station",
                aqi_hourly.c.target_code == "A",
                aqi_hourly.c.ts == int((T0 + 4 * H).timestamp()),
            )
        ).one()
    a = station_now(store, [net["A"]], now=T0 + 5 * H)[net["A"]]
    assert a.aqi_source == "aqi_hourly" and (a.aqi, a.level, a.primary_pollutant) == tuple(row)


def test_feed_down_makes_every_heard_station_unknown(store: Store, net: dict[str, int]) -> None:
    later = station_now(store, now=T0 + 12 * H)  # default: every air station
    assert set(later) == {net[k] for k in "ABCM"}
    assert {n.status for n in later.values()} == {"unknown", "never_reported"}
    assert later[net["A"]].feed_down is True
    tight = station_now(store, [net["A"]], now=T0 + 6 * H, config=with_config(offline_hours=0.5, feed_down_hours=9))
    assert tight[net["A"]].status == "offline"


def test_map_frame_greys_all_but_online_stations(store: Store, net: dict[str, int]) -> None:
    frame = stations_status(store, now=T0 + 5 * H)
    by = {r["code"]: r for r in frame.to_dicts()}
    assert set(by) == {"A", "B", "C", "M"}  # air stations only
    assert by["A"]["colour"] == aqi_std.categories()[by["A"]["level"] - 1].hex != GREY
    assert by["A"]["county_code"] == "652301" and by["A"]["aqi_ts"] == T0 + 4 * H
    assert {by[k]["colour"] for k in "BCM"} == {GREY}
    assert by["B"]["aqi"] is not None  # its last AQI is kept; the face decides not to colour it


def test_seconds_to_next_change() -> None:
    frame = pl.DataFrame(
        {"status": ["online", "online", "never_reported"], "silent_hours": [0.5, 2.5, None], "feed_down": [False] * 3}
    )
    # the station silent 2.5 h goes offline after 3 h; the feed would be down after 2 h of total silence
    assert seconds_to_next_change(frame) == pytest.approx(0.5 * 3600 + 1)
    frame = frame.with_columns(pl.Series("silent_hours", [0.25, 0.5, None]))
    assert seconds_to_next_change(frame) == pytest.approx(1.75 * 3600 + 1)
    assert seconds_to_next_change(frame.filter(pl.col("status") == "never_reported")) == float("inf")


def test_cache_recomputes_only_when_the_data_version_changes(store: Store, net: dict[str, int]) -> None:
    cache = StatusCache(ttl=3600, check=0.0)
    records, _ = cache.get(store)
    assert cache.refreshes == 1 and cache.get(store)[0] is records  # checked again, nothing changed
    _write(store, net["C"], [T0 + 4 * H], SIX)  # C reports for the first time
    records2, _ = cache.get(store)
    assert cache.refreshes == 2 and records2 is not records
    assert {r["code"]: r["last_ts"] for r in records2}["C"] == "2026-01-10T04:00:00Z"
    mark_dirty(store, pl.DataFrame({"site_id": [net["C"]], "ts": [T0 + 4 * H]}))  # as a load does
    cache.get(store)
    assert cache.refreshes == 3
    update_aqi(store)  # the AQI job computes the dirty station-days and empties the list: a new version
    cache.get(store)
    assert cache.refreshes == 4


def test_serve_returns_the_current_bytes_and_revalidates_in_the_background(store: Store, net: dict[str, int]) -> None:
    cache = StatusCache(ttl=3600, check=0.0)

    def render(records: list[dict], meta: dict) -> bytes:
        return json.dumps([(r["code"], r["status"]) for r in records]).encode()

    assert cache.serve(store, "k") is None  # never rendered: the caller renders in a worker thread
    first = cache.rendered(store, "k", render)
    assert cache.rendered(store, "k", render) is first
    _write(store, net["C"], [T0 + 4 * H], SIX)
    assert cache.serve(store, "k") is first  # stale bytes now, the check runs in the background
    assert cache._background is not None
    cache._background.join(30)
    again = cache.serve(store, "k")  # remade eagerly after the recompute, before anyone asked
    cache._background.join(30)
    assert again is not None and again.etag != first.etag
    assert ["C", "never_reported"] not in json.loads(again.body)
