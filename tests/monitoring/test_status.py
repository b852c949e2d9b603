"""Station status and completeness from the store: the silent Urumqi station 1495A is offline with 0 %."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from bogda.monitoring.ingest import ReadResult
from bogda.monitoring.load import load_result
from bogda.monitoring.status import GREY, StatusCache, completeness_report, stations_status
from bogda.store import Store

JAN = (datetime(2018, 12, 31, 16, tzinfo=UTC), datetime(2019, 1, 31, 16, tzinfo=UTC))


@pytest.fixture
def loaded(store: Store, changji_january: ReadResult, station_list_path) -> Store:
    from bogda.monitoring.aqi_tables import update_aqi

    load_result(store, changji_january, station_list=station_list_path)
    update_aqi(store)
    return store


def test_silent_station_is_never_reported_with_zero_completeness(loaded: Store) -> None:
    comp, summary = completeness_report(loaded, start=JAN[0], end=JAN[1])
    s = summary.filter(pl.col("site_code") == "1495A").row(0, named=True)
    assert (s["rate"], s["valid"], s["never_reported"]) == (0.0, 0, True)
    assert set(comp.filter(pl.col("site_code") == "1495A")["day_status"]) == {"never_reported"}
    st = stations_status(loaded, now=JAN[1])
    row = st.filter(pl.col("code") == "1495A").row(0, named=True)
    assert (row["status"], row["colour"], row["aqi"]) == ("never_reported", GREY, None)


def test_status_colours_by_real_aqi_and_greys_offline(loaded: Store) -> None:
    st = stations_status(loaded, now=JAN[1])
    on = st.filter(pl.col("code") == "2691A").row(0, named=True)
    assert on["status"] == "online" and on["aqi"] is not None and on["colour"] != GREY
    later = stations_status(loaded, now=datetime(2019, 2, 3, tzinfo=UTC))  # the feed silent for days
    assert set(later.filter(pl.col("code") != "1495A")["status"]) == {"unknown"}
    assert set(later["colour"]) == {GREY}


def test_status_cache_reuses_its_answer(loaded: Store) -> None:
    cache = StatusCache(ttl=60, check=60)
    a, meta = cache.get(loaded, now=JAN[1])
    b, _ = cache.get(loaded, now=JAN[1])
    assert a is b and meta["counts"]["never_reported"] == 1 and len(a) == 4
