"""AQI tables: published hourly AQI reproduced, area rules, the Changji daily AQI and January figures (monitoring.md
§3.3, §7.3, §7.7), incremental and window recompute on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import func, select

from bogda.monitoring.aqi_tables import area_hourly, daily, station_hourly, update_aqi
from bogda.monitoring.ingest import POLLUTANTS, ReadResult
from bogda.monitoring.load import load_result, mark_dirty
from bogda.monitoring.qa import apply_qa
from bogda.registry.places import load_prefecture
from bogda.store import Store
from bogda.store.schema import aqi_daily, aqi_dirty, aqi_hourly

T0 = datetime(2019, 1, 1, 16, tzinfo=UTC)  # 00:00 Beijing, 2019-01-02


def _valid(qa: pl.DataFrame) -> pl.DataFrame:
    return qa.filter(pl.col("flag").is_in(["valid", "suspect"]) & pl.col("parameter").is_in(POLLUTANTS)).select(
        pl.col("site_code").alias("target_code"), "ts", "parameter", "value"
    )


def test_published_hourly_aqi_reproduced_on_every_complete_row(cnemc_2019: ReadResult) -> None:
    """§7.3: on all 259 379 station-hours with AQI and all six 1-h values, recomputed = published (HJ 633-2012)."""
    f = cnemc_2019.frame.filter(pl.col("resolution") == "hour")
    values = f.filter(pl.col("parameter").is_in(POLLUTANTS)).select(
        pl.col("site_code").alias("target_code"), "ts", "parameter", "value"
    )
    pub = f.filter(pl.col("parameter") == "aqi_pub").select(
        pl.col("site_code").alias("target_code"), "ts", pl.col("value").alias("aqi_published")
    )
    rows = station_hourly(values, published=pub)
    complete = rows.filter((pl.col("status") == "complete") & pl.col("aqi_published").is_not_null())
    assert complete.height == 259_379
    assert complete["published_match"].all()
    assert set(complete["standard"].unique()) == {"2012"}


@pytest.mark.parametrize(
    ("values", "n_members", "expected"),
    [
        ([10.0, 20.0, None, None], 4, 15.0),  # 2 of 4 valid = 50 % → mean of the valid ones
        ([10.0, None, None, None], 4, None),  # 1 of 4 < 50 % → no area value
        ([30.0, None], 2, 30.0),  # 1 of 2 = 50 %
        ([42.0], 1, 42.0),  # a single member
    ],
)
def test_area_hour_needs_half_of_the_members(
    values: list[float | None], n_members: int, expected: float | None
) -> None:
    sites = [f"S{i}" for i in range(n_members)]
    valid = pl.DataFrame(
        {"site_code": sites, "ts": [T0] * n_members, "parameter": "a34004", "value": values}
    ).drop_nulls("value")
    members = pl.DataFrame({"site_code": sites, "area_kind": "county", "area_code": "X"})
    out = area_hourly(valid, members)
    got = out["value"].to_list()
    assert got == ([] if expected is None else [expected])
    if expected is not None:
        assert out["n_members"][0] == n_members


def test_area_aqi_is_computed_from_mean_concentrations_not_mean_aqis() -> None:
    # PM2.5 35 and 115 µg/m³ → IAQI 50 and 150; mean concentration 75 → IAQI 100 (2012, 24 h breakpoints)
    valid = pl.DataFrame({"site_code": ["A", "B"], "ts": [T0, T0], "parameter": "a34004", "value": [35.0, 115.0]})
    members = pl.DataFrame({"site_code": ["A", "B"], "area_kind": "county", "area_code": "X"})
    area = area_hourly(valid, members).drop("n_valid")
    row = station_hourly(area).row(0, named=True)
    assert (row["aqi"], row["c_pm25"], row["n_members"], row["status"]) == (100, 75.0, 2, "partial")
    assert row["missing_items"] == "SO2,NO2,CO,O3_1h,PM10"


def test_daily_aqi_of_2691a_on_2019_01_01(cnemc_2019: ReadResult) -> None:
    """§7.2/7.7: 24 valid PM2.5 hours, mean 166.25 → 166; daily AQI 216, primary PM2.5 (default QA)."""
    lo = datetime(2018, 12, 31, 16, tzinfo=UTC)
    f = cnemc_2019.frame.filter(
        (pl.col("site_code") == "2691A") & pl.col("ts").is_between(lo, lo + timedelta(days=1), closed="left")
    )
    rows = daily(_valid(apply_qa(f)))
    r = rows.row(0, named=True)
    assert (r["aqi"], r["primary_pollutant"], r["c_pm25"], r["status"], r["standard"]) == (
        216,
        "PM2.5",
        166.0,
        "complete",
        "2012",
    )


def test_2026_dates_use_the_2026_breakpoints() -> None:
    t = datetime(2026, 3, 1, 16, tzinfo=UTC)
    hours = pl.DataFrame(
        {"target_code": "A", "ts": [t + timedelta(hours=i) for i in range(24)], "parameter": "a34004", "value": 52.0}
    )
    r26 = daily(hours).row(0, named=True)
    r12 = daily(hours, standard="2012").row(0, named=True)
    assert (r26["standard"], r26["iaqi_pm25"]) == ("2026", 84)  # standards.md §1.2 example
    assert (r12["standard"], r12["iaqi_pm25"]) == ("2012", 72)
    assert r26["status"] == "partial"  # PM2.5 only: AQI 84 ≤ 100 is not publishable with items missing


@pytest.fixture
def changji_store(store: Store, changji_january: ReadResult, station_list_path) -> Store:
    load_prefecture(store, "652300")
    load_result(store, changji_january, station_list=station_list_path)
    update_aqi(store)
    return store


def _daily(store: Store) -> pl.DataFrame:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                aqi_daily.c.target_kind,
                aqi_daily.c.target_code,
                aqi_daily.c.ts,
                aqi_daily.c.aqi,
                aqi_daily.c.level,
                aqi_daily.c.status,
                aqi_daily.c.c_pm25,
                aqi_daily.c.primary_pollutant,
            )
        ).all()
    return pl.DataFrame(
        rows,
        orient="row",
        schema=["kind", "code", "ts", "aqi", "level", "status", "pm25", "primary"],
        infer_schema_length=None,
    )


@pytest.mark.parametrize(
    ("code", "pm25_mean", "complete_days", "levels"),
    [
        ("2691A", 186, 28, [0, 3, 4, 2, 13, 6]),
        ("2692A", 121, 24, [0, 4, 6, 6, 8, 0]),
        ("652301", 153, 31, [0, 6, 3, 5, 15, 2]),  # Changji city: 2691A + 2692A (2690A is a control site)
    ],
)
def test_changji_january_from_the_store(
    changji_store: Store, code: str, pm25_mean: int, complete_days: int, levels: list[int]
) -> None:
    """§7.7, figures checked by hand in the closing note (daily rule: ≥ 20 h; categories of complete days)."""
    d = _daily(changji_store).filter(pl.col("code") == code)
    assert d.height == 31
    assert round(d["pm25"].mean()) == pm25_mean
    comp = d.filter(pl.col("status") == "complete")
    assert comp.height == complete_days
    assert [int((comp["level"] == lv).sum()) for lv in range(1, 7)] == levels


def test_changji_area_membership_and_no_station(changji_store: Store) -> None:
    d = _daily(changji_store)
    first = d.filter(pl.col("ts") == int(datetime(2018, 12, 31, 16, tzinfo=UTC).timestamp()))
    st = first.filter(pl.col("code") == "2691A").row(0, named=True)
    assert (st["aqi"], st["primary"]) == (216, "PM2.5")
    # Fukang (652302) has only the Tianchi control site → no_station, never zero
    fk = d.filter(pl.col("code") == "652302")
    assert fk.height == 31 and set(fk["status"]) == {"no_station"} and fk["aqi"].null_count() == 31
    # the prefecture is the mean of all its evaluation stations, here the same two as Changji city
    pref = d.filter(pl.col("code") == "652300").sort("ts")["aqi"].to_list()
    assert pref == d.filter(pl.col("code") == "652301").sort("ts")["aqi"].to_list()


def test_recompute_is_idempotent_and_dirty_days_are_cleared(changji_store: Store) -> None:
    with changji_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(aqi_dirty)).scalar() == 0
        before = conn.execute(select(func.count()).select_from(aqi_hourly)).scalar()
    up = update_aqi(changji_store, start=datetime(2019, 1, 5, tzinfo=UTC), end=datetime(2019, 1, 7, tzinfo=UTC))
    assert up.start == datetime(2019, 1, 4, 16, tzinfo=UTC)  # aligned to whole Beijing days
    with changji_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(aqi_hourly)).scalar() == before
    # a marked day is recomputed once and cleared
    mark_dirty(
        changji_store,
        pl.DataFrame({"site_id": [1], "ts": [T0]}, schema={"site_id": pl.Int64, "ts": pl.Datetime("us", "UTC")}),
    )
    up = update_aqi(changji_store)
    assert up.dirty_cleared == 1 and up.daily_rows > 0
    assert update_aqi(changji_store).daily_rows == 0
    assert date(2019, 1, 2) == (T0 + timedelta(hours=8)).date()
