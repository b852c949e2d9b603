"""Park (industrial zone, e.g. Zhundong) area AQI beside counties and the prefecture (monitoring.md §3.3): members are
the evaluation stations inside the park outline; they stay members of their county; a park without an evaluation
station is ``no_station``, never zero; assessments cover parks like any area."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from shapely.geometry import box
from sqlalchemy import select

from bogda.monitoring.aqi_tables import update_aqi
from bogda.monitoring.assessment import assess_store
from bogda.monitoring.stations import area_members
from bogda.registry.places import upsert_place
from bogda.registry.sites import SiteInput, add_site
from bogda.store import Store
from bogda.store import series as S
from bogda.store.schema import aqi_daily, aqi_hourly, assessment

DAY0 = datetime(2019, 1, 1, 16, tzinfo=UTC)  # 2019-01-02 00:00 Beijing
ZD = (88.55, 44.55, 90.35, 45.25)  # the demo's approximate Zhundong box


def _region(store: Store) -> dict[str, int]:
    with store.begin() as conn:
        pref = upsert_place(conn, code="652300", name="昌吉州", level=1, kind="prefecture")
        county = upsert_place(conn, code="652325", name="奇台县", level=2, kind="county", parent_id=pref)
        upsert_place(conn, code="652300-ZD", name="准东", level=2, kind="park", parent_id=pref, geometry=box(*ZD))
        upsert_place(
            conn, code="652300-X", name="空园区", level=2, kind="park", parent_id=pref, geometry=box(80, 40, 81, 41)
        )
        sites = {
            "Z1": (89.0, 44.8, True),  # inside the park
            "Z2": (89.5, 44.9, True),  # inside the park
            "Q1": (89.6, 44.0, True),  # the county town, outside the park
            "ZC": (89.2, 44.7, False),  # a control site inside the park: never a member
        }
        return {
            c: add_site(conn, SiteInput("air_station", c, c, x, y, place_id=county, attrs={"evaluation": ev}))
            for c, (x, y, ev) in sites.items()
        }


PM = {"Z1": 100.0, "Z2": 60.0, "Q1": 20.0, "ZC": 500.0}


def _write(store: Store, ids: dict[str, int], hours: int = 24) -> None:
    ts = [DAY0 + timedelta(hours=h) for h in range(hours)]
    frames = [
        pl.DataFrame({"site_id": ids[c], "parameter": "a34004", "ts": ts, "value": np.full(hours, v)})
        for c, v in PM.items()
    ]
    S.write_long(store, pl.concat(frames).with_columns(pl.col("ts").dt.replace_time_zone("UTC")), resolution="hour")


def test_park_members_by_outline(store: Store) -> None:
    _region(store)
    m = area_members(store)
    park = sorted(m.filter(pl.col("area_code") == "652300-ZD")["code"])
    assert park == ["Z1", "Z2"]
    assert sorted(m.filter(pl.col("area_code") == "652325")["code"]) == ["Q1", "Z1", "Z2"]
    assert sorted(m.filter(pl.col("area_code") == "652300")["code"]) == ["Q1", "Z1", "Z2"]
    with_control = area_members(store, include_control=True)
    assert "ZC" in set(with_control.filter(pl.col("area_code") == "652300-ZD")["code"])


def test_park_hourly_and_daily_aqi_beside_counties(store: Store) -> None:
    ids = _region(store)
    _write(store, ids)
    update_aqi(store, start=DAY0, end=DAY0 + timedelta(days=1))
    with store.engine.connect() as conn:
        h = {
            (k, c): (p, n)
            for k, c, p, n in conn.execute(
                select(
                    aqi_hourly.c.target_kind, aqi_hourly.c.target_code, aqi_hourly.c.c_pm25, aqi_hourly.c.n_members
                ).where(aqi_hourly.c.ts == int(DAY0.timestamp()), aqi_hourly.c.target_kind != "station")
            ).all()
        }
        d = {
            (k, c): (a, s)
            for k, c, a, s in conn.execute(
                select(aqi_daily.c.target_kind, aqi_daily.c.target_code, aqi_daily.c.aqi, aqi_daily.c.status).where(
                    aqi_daily.c.target_kind != "station"
                )
            ).all()
        }
    # park: mean of Z1 and Z2 = 80 (the control site's 500 left out); county and prefecture also hold Q1: 60
    assert h[("park", "652300-ZD")] == (80.0, 2)
    assert h[("county", "652325")] == (60.0, 3)
    assert h[("prefecture", "652300")] == (60.0, 3)
    # daily PM2.5-only AQI (24-h breakpoints 75 → 100, 115 → 150): park 80 → 107, county 60 → 82
    assert d[("park", "652300-ZD")][0] == 107
    assert d[("county", "652325")][0] == 82
    # the park without a station is no_station, not zero
    assert d[("park", "652300-X")] == (None, "no_station")
    res = assess_store(store, start=DAY0, end=DAY0 + timedelta(days=1), period="day")
    assert {"park", "county", "prefecture"} <= set(res["target_kind"])
    with store.engine.connect() as conn:
        mean = conn.execute(
            select(assessment.c.value).where(
                assessment.c.target_code == "652300-ZD",
                assessment.c.metric == "mean_pm25",
                assessment.c.dust_mode == "with_dust",
            )
        ).scalar()
    assert mean == 80


def test_recompute_one_place_from_the_cli(tmp_path) -> None:
    from typer.testing import CliRunner

    from bogda.cli import app
    from bogda.monitoring.stations import sites_of_places
    from bogda.store import connect

    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert CliRunner().invoke(app, ["init", "--database-url", url]).exit_code == 0
    st = connect(url)
    ids = _region(st)
    _write(st, ids)
    assert sites_of_places(st, ["652300-ZD"]) == sorted([ids["Z1"], ids["Z2"], ids["ZC"]])
    assert sites_of_places(st, ["Q1", "Z1"]) == sorted([ids["Q1"], ids["Z1"]])
    args = ["monitoring", "recompute", "--from", "2019-01-02", "--to", "2019-01-03", "--database-url", url]
    out = CliRunner().invoke(app, [*args, "--place", "652300-ZD"])
    assert out.exit_code == 0, out.output
    with st.engine.connect() as conn:
        codes = set(conn.execute(select(aqi_daily.c.target_code)).scalars())
    # the park's stations and the areas they belong to; Q1 (outside the park) is not touched
    assert {"Z1", "Z2", "ZC", "652300-ZD", "652325", "652300"} <= codes and "Q1" not in codes
    bad = CliRunner().invoke(app, [*args, "--place", "NOPE"])
    assert bad.exit_code == 2 and "NOPE" in bad.output
    st.dispose()
