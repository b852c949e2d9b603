"""``bogda ingest aqistudy`` (monitoring.md §2.3, §7.8): the real daily city file loads as the cities' published
daily series; the cities are places (Urumqi, Shihezi, Wujiaqu external ``special``), their feeds never stations;
the published ``aqi`` stays published only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bogda.monitoring.aqi_tables import update_aqi
from bogda.monitoring.load import load_aqistudy
from bogda.monitoring.stations import CITY_NETWORK, area_members, ensure_city_feeds, station_sites
from bogda.registry.places import upsert_place
from bogda.store import Store
from bogda.store import series as S
from bogda.store.schema import aqi_daily, place
from sharedata import require_shared

ROWS = {"650100": 1157, "652300": 763, "659001": 763, "659004": 763}  # §7.8: 3 446 rows


@pytest.fixture(scope="module")
def aqistudy_path() -> Path:
    return next(require_shared("xinjiang").glob("aqistudy_daily_city_*.csv"))


def test_real_file_loads_as_city_feeds(store: Store, aqistudy_path: Path) -> None:
    with store.begin() as conn:  # the prefecture is in the registry already; the other cities are not
        upsert_place(conn, code="652300", name="昌吉回族自治州", level=1, kind="prefecture")
    rep = load_aqistudy(store, aqistudy_path)
    assert rep.rejected == []
    assert rep.inserted == rep.values == 7 * sum(ROWS.values())  # 7 values a row, none empty
    with store.engine.connect() as conn:
        kinds = dict(conn.execute(select(place.c.code, place.c.kind).where(place.c.code.in_(list(ROWS)))).all())
        n_places = conn.execute(select(func.count()).select_from(place)).scalar()
    assert kinds == {"652300": "prefecture", "650100": "special", "659001": "special", "659004": "special"}
    assert n_places == 4
    feeds = station_sites(store, feeds=True)
    assert set(feeds["code"]) == set(ROWS) and set(feeds["network"]) == {CITY_NETWORK}
    assert not feeds["evaluation"].any()
    # never a station: not on the station list, in no area, no AQI computed from them
    assert station_sites(store).height == 0
    assert area_members(store).height == 0
    ids = dict(feeds.select("code", "site_id").iter_rows())
    pub = S.read(store, parameters=["aqi_pub"], resolution="day")
    counts = dict(pub.group_by("site_id").len().iter_rows())
    assert {c: counts[ids[c]] for c in ROWS} == ROWS
    # the first Urumqi row (2013-12-02) is stored at 00:00 Beijing = 16:00 UTC of the day before
    first = pub.filter(pl.col("site_id") == ids["650100"]).sort("ts").row(0, named=True)
    assert first["ts"] == datetime(2013, 12, 1, 16, tzinfo=UTC)
    update_aqi(store, start=datetime(2014, 1, 1, tzinfo=UTC), end=datetime(2014, 2, 1, tzinfo=UTC))
    with store.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(aqi_daily).where(aqi_daily.c.target_code.in_(["650100", "659001"]))
            ).scalar()
            == 0
        )
    again = load_aqistudy(store, aqistudy_path)
    assert (again.inserted, again.corrected, again.unchanged) == (0, 0, rep.values)


def test_unknown_city_code_is_refused(sqlite_store: Store) -> None:
    with pytest.raises(ValueError, match="no place known for city feed code"):
        ensure_city_feeds(sqlite_store, ["999999"])


def test_cli_ingest_aqistudy(tmp_path: Path, aqistudy_path: Path) -> None:
    from bogda.cli import app

    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert CliRunner().invoke(app, ["init", "--database-url", url]).exit_code == 0
    out = CliRunner().invoke(app, ["ingest", "aqistudy", str(aqistudy_path), "--database-url", url])
    assert out.exit_code == 0, out.output
    assert f"{7 * sum(ROWS.values()):,}" in out.output
    from bogda.store import connect

    st = connect(url)
    try:
        assert set(station_sites(st, feeds=True)["code"]) == set(ROWS)
    finally:
        st.dispose()
