"""GCJ-02 ↔ WGS-84 conversion and great-circle helpers (fire.md §2.5 check 5)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from bogda.geo import (
    gcj02_to_wgs84,
    geometry_gcj02_to_wgs84,
    geometry_wgs84_to_gcj02,
    haversine_km,
    in_china_box,
    wgs84_to_gcj02,
)

# (WGS-84 lon, lat) → (GCJ-02 lon, lat) at 5 decimals; the Jimsar detection of fire.md §8 check 5
FORWARD = [((89.20444, 44.91296), (89.20735, 44.91405))]


@pytest.mark.parametrize(("wgs", "gcj"), FORWARD)
def test_forward_matches_spec(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = wgs84_to_gcj02(*wgs)
    assert (round(float(lon), 5), round(float(lat), 5)) == gcj
    # the offset in Changji is 200–300 m (fire.md §2.5)
    assert 0.2 < float(haversine_km(*wgs, lon, lat)) < 0.3


@pytest.mark.parametrize(("wgs", "gcj"), FORWARD)
def test_inverse_error_below_half_metre(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = gcj02_to_wgs84(*gcj)
    # the spec's GCJ-02 values are rounded to 1e-5° (~1 m); the inverse of the rounded point lands within that
    assert float(haversine_km(lon, lat, *wgs)) * 1000 < 1.5
    exact = wgs84_to_gcj02(*wgs)
    lon, lat = gcj02_to_wgs84(*exact)
    assert float(haversine_km(lon, lat, *wgs)) * 1000 < 0.5


@settings(max_examples=200, deadline=None)
@given(st.floats(73.0, 135.0), st.floats(18.0, 54.0))
def test_round_trip_inside_china(lon: float, lat: float) -> None:
    g = wgs84_to_gcj02(lon, lat)
    w = gcj02_to_wgs84(*g)
    assert abs(float(w[0]) - lon) < 1e-7 and abs(float(w[1]) - lat) < 1e-7


@pytest.mark.parametrize(("lon", "lat"), [(-72.66, 11.09), (28.15, 59.05), (139.7, 35.7)])
def test_outside_china_unchanged(lon: float, lat: float) -> None:
    assert not in_china_box(lon, lat)
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_vectorised_and_geometry() -> None:
    lon = np.array([89.20444, 87.51575])
    lat = np.array([44.91296, 43.3578])
    glon, _ = wgs84_to_gcj02(lon, lat)
    assert glon.shape == (2,)
    poly = shapely.box(89.0, 44.0, 89.5, 44.5)
    back = geometry_gcj02_to_wgs84(geometry_wgs84_to_gcj02(poly))
    assert shapely.equals_exact(back, poly, tolerance=1e-7)
    assert shapely.get_coordinates(geometry_wgs84_to_gcj02(poly))[0, 0] > 89.0


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [((0.0, 0.0), (1.0, 0.0), 111.195), ((89.20444, 44.91296), (89.20735, 44.91405), 0.259)],
)
def test_haversine(a: tuple[float, float], b: tuple[float, float], km: float) -> None:
    assert float(haversine_km(*a, *b)) == pytest.approx(km, abs=1e-3)
