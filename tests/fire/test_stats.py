"""Daily/monthly statistics and bulletins (fire.md §3.8, checks 13, 15, 16)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from bogda.fire.formats import read_bulletin
from bogda.fire.masks import apply_flags, heat_sources
from bogda.fire.pipeline import Region, process_detections
from bogda.fire.region import Boundary
from bogda.fire.stats import bulletin_monthly, daily_stats, match_bulletin, monthly_stats

T0 = datetime(2025, 11, 18, 3, 49, tzinfo=UTC)
KM_LAT = 1 / 111.195
JIMSAR_PLANT = {"source_id": "P1", "kind": "coal_chemical", "lon": 89.20735, "lat": 44.91405, "datum": "GCJ02"}


def _monthly(global5: pl.DataFrame, changji: tuple[list[Boundary], Boundary], plants: pl.DataFrame | None):
    counties, pref = changji
    r = process_detections(global5, Region(counties, pref.geometry), plants)
    return r, monthly_stats(r.daily)


@pytest.fixture(scope="module")
def changji_monthly(global5: pl.DataFrame, changji: tuple[list[Boundary], Boundary]) -> pl.DataFrame:
    return _monthly(global5, changji, None)[1]


def _cell(m: pl.DataFrame, county: str, month: str, col: str) -> int:
    row = m.filter((pl.col("county_code") == county) & (pl.col("month") == month) & (pl.col("sensor") == "all"))
    return int(row[col][0]) if row.height else 0


@pytest.mark.parametrize(
    ("county", "month", "points_all", "points_screened", "points_dedup"),
    [
        ("652325", "2022-02", 2, 2, 2),  # Terra and Aqua 109 min apart: both counted in points_dedup
        ("652325", "2023-03", 1, 1, 1),
        ("652327", "2025-11", 1, 1, 1),
        ("all", "2022-02", 2, 2, 2),
    ],
)
def test_changji_monthly(
    changji_monthly: pl.DataFrame,
    county: str,
    month: str,
    points_all: int,
    points_screened: int,
    points_dedup: int,
) -> None:
    """Check 13 (no registry entries)."""
    got = tuple(_cell(changji_monthly, county, month, c) for c in ("points_all", "points_screened", "points_dedup"))
    assert got == (points_all, points_screened, points_dedup)


def test_registry_entry_removes_jimsar_from_screened(
    global5: pl.DataFrame, changji: tuple[list[Boundary], Boundary]
) -> None:
    """Checks 6 and 13: the GCJ-02 registry entry masks the Jimsar detection: heat stream only, no event, no finding."""
    r, m = _monthly(global5, changji, heat_sources([JIMSAR_PLANT]))
    assert (_cell(m, "652327", "2025-11", "points_all"), _cell(m, "652327", "2025-11", "points_screened")) == (1, 0)
    heat = r.heat_stream.filter(pl.col("county_code") == "652327")
    assert heat.height == 1 and heat["masked_registry_ref"].to_list() == ["P1"]
    assert r.events.filter(pl.col("county_code") == "652327").height == 0
    assert [d.place_code for d in r.drafts if d.action == "new"] == ["652325", "652325"]


def test_dedup_drops_lower_ranked_pixel(make_detections: Callable) -> None:
    rows = [
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0, "scan_km": 1.2, "track_km": 1.1, "pixel_area_km2": 1.32},
        {
            "acq_time_utc": T0 + timedelta(minutes=30),
            "lon": 88.0,
            "lat": 44.0 + 0.5 * KM_LAT,
            "sensor": "VIIRS",
            "satellite": "S-NPP",
            "scan_km": 0.4,
            "track_km": 0.4,
            "pixel_area_km2": 0.16,
        },
        # same satellite pair 2 h later: outside the 60 min window
        {"acq_time_utc": T0 + timedelta(hours=2), "lon": 88.0, "lat": 44.0, "satellite": "Aqua"},
    ]
    d = apply_flags(make_detections(rows).with_columns(county_code=pl.lit("652301"), in_area=pl.lit(True)))
    s = daily_stats(d).filter(pl.col("county_code") == "652301")
    by = {r["sensor"]: (r["points_all"], r["points_screened"], r["points_dedup"]) for r in s.iter_rows(named=True)}
    assert by == {"MODIS": (2, 2, 1), "VIIRS": (1, 1, 1)}


def test_verdict_rates_in_monthly(make_detections: Callable) -> None:
    """Check 16: `false` counts in both rates, `not_found` only in the strict rate."""
    d = apply_flags(
        make_detections([{"acq_time_utc": T0, "lon": 88.0, "lat": 44.0}]).with_columns(
            county_code=pl.lit("652301"), in_area=pl.lit(True)
        )
    )
    verdicts = pl.DataFrame(
        {
            "event_id": ["E1", "E2", "E3", "E4"],
            "county_code": ["652301"] * 4,
            "verified_at": [T0 + timedelta(hours=h) for h in (10, 11, 12, 13)],
            "outcome": ["confirmed_burning", "false", "not_found", "industrial"],
        }
    )
    m = monthly_stats(daily_stats(d), verdicts=verdicts, asof=date(2025, 11, 30))
    row = m.filter((pl.col("county_code") == "652301") & (pl.col("sensor") == "all")).row(0, named=True)
    assert row["verdicts"] == 4
    assert row["false_rate"] == pytest.approx(1 / 3)
    assert row["false_rate_strict"] == pytest.approx(2 / 4)
    assert row["partial"] is True


BULLETIN_MONTHS = ["2016-08", "2016-09", "2016-10", "2016-11", "2016-12", "2017-01", "2017-02"]


def test_bulletin_monthly(fire_dir: Path) -> None:
    """Check 15."""
    b, _ = read_bulletin(fire_dir / "china_straw_burning_fire_points_2016-08_2017-02.xlsx")
    allp = dict(bulletin_monthly(b, by=()).iter_rows())
    assert [allp.get(m, 0) for m in BULLETIN_MONTHS] == [171, 132, 1095, 960, 16, 41, 168]
    xj = dict(bulletin_monthly(b.filter(pl.col("province") == "新疆"), by=()).iter_rows())
    assert [xj.get(m, 0) for m in BULLETIN_MONTHS] == [6, 11, 35, 6, 0, 0, 1]
    cj = b.filter(pl.col("city") == "昌吉回族自治州")
    assert [dict(bulletin_monthly(cj, by=()).iter_rows()).get(m, 0) for m in BULLETIN_MONTHS[:3]] == [1, 1, 7]
    assert dict(cj.group_by("county").len().iter_rows()) == {"呼图壁县": 4, "昌吉市": 3, "奇台县": 1, "玛纳斯县": 1}


def test_bulletin_polygon_attribution(fire_dir: Path, changji: tuple[list[Boundary], Boundary]) -> None:
    """Check 7: polygon attribution matches the listed county for all 9 Changji points."""
    from bogda.fire.region import assign_region

    b, _ = read_bulletin(fire_dir / "china_straw_burning_fire_points_2016-08_2017-02.xlsx")
    cj = assign_region(b.filter(pl.col("city") == "昌吉回族自治州"), changji[0])
    names = {"652301": "昌吉市", "652323": "呼图壁县", "652324": "玛纳斯县", "652325": "奇台县"}
    assert [names.get(c) for c in cj["county_code"].to_list()] == cj["county"].to_list()


def test_match_bulletin(make_detections: Callable) -> None:
    d = apply_flags(make_detections([{"acq_time_utc": T0, "lon": 88.0, "lat": 44.0}]))
    b = pl.DataFrame(
        {
            "date_bjt": [date(2025, 11, 18), date(2025, 11, 18), date(2025, 11, 19)],
            "lon": [88.0, 88.0, 88.0],
            "lat": [44.0 + 1.2 * KM_LAT, 44.0 + 2.0 * KM_LAT, 44.0],
        }
    )
    m = match_bulletin(b, d)
    assert m["matched_row"].to_list() == [0, None, None]


def test_prefer_sp(make_detections: Callable) -> None:
    from bogda.fire.stats import prefer_sp

    rows = [
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0, "processing": "NRT"},
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0, "processing": "SP"},
        {"acq_time_utc": T0 + timedelta(days=1), "lon": 88.0, "lat": 44.0, "processing": "NRT"},
    ]
    out = prefer_sp(make_detections(rows))
    assert out["processing"].to_list() == ["SP", "NRT"]


def test_monthly_events_and_changes(make_detections: Callable) -> None:
    rows = [
        {"acq_time_utc": datetime(2025, 9, 30, 3, 0, tzinfo=UTC), "lon": 88.0, "lat": 44.0},
        {"acq_time_utc": datetime(2025, 10, 2, 3, 0, tzinfo=UTC), "lon": 88.0, "lat": 44.0},  # same event, next month
        {"acq_time_utc": datetime(2025, 10, 2, 3, 0, tzinfo=UTC), "lon": 89.0, "lat": 44.5},
    ]
    r = process_detections(make_detections(rows), None)
    daily = daily_stats(r.detections)
    m = monthly_stats(daily, events=r.events).filter((pl.col("county_code") == "all") & (pl.col("sensor") == "all"))
    by = {row["month"]: row for row in m.iter_rows(named=True)}
    assert (by["2025-09"]["events_new"], by["2025-09"]["events_active"]) == (1, 1)
    assert (by["2025-10"]["events_new"], by["2025-10"]["events_active"]) == (1, 2)
    assert (by["2025-10"]["points_dedup"], by["2025-10"]["change_prev_month"]) == (2, 1)
    assert by["2025-10"]["change_prev_year"] is None


def test_bulletin_same_day_neighbours(fire_dir: Path) -> None:
    """Check 7: same-day nearest neighbour among bulletin points: 204 < 1 km, 655 < 2 km, median 9.1 km."""
    import numpy as np

    from bogda.fire.events import nearest_within

    b, _ = read_bulletin(fire_dir / "china_straw_burning_fire_points_2016-08_2017-02.xlsx")
    dist: list[float] = []
    for _, g in b.group_by("date_bjt"):
        lon, lat = g["lon"].to_numpy(), g["lat"].to_numpy()
        for k in range(g.height):
            others = np.arange(g.height) != k
            _, d = nearest_within(lon[k : k + 1], lat[k : k + 1], lon[others], lat[others], 20_000.0)
            dist.append(float(d[0]))
    arr = np.array(dist)
    assert ((arr < 1).sum(), (arr < 2).sum()) == (204, 655)
    assert np.median(arr) == pytest.approx(9.1, abs=0.05)


def test_unmatched_bulletin_points_become_drafts(make_detections: Callable) -> None:
    from bogda.fire.events import bulletin_drafts

    d = apply_flags(make_detections([{"acq_time_utc": T0, "lon": 88.0, "lat": 44.0}]))
    b = pl.DataFrame(
        {
            "date_bjt": [date(2025, 11, 18), date(2025, 11, 18)],
            "lon": [88.0, 89.0],
            "lat": [44.0, 44.5],
            "county": ["昌吉市", "阜康市"],
        }
    )
    drafts = bulletin_drafts(match_bulletin(b, d))
    assert [x.title for x in drafts] == ["通报火点：阜康市 11月18日（未匹配卫星探测）"]
    assert drafts[0].evidence["source"] == "bulletin" and drafts[0].kind == "fire"
