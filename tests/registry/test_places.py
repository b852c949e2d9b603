from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, shape

from bogda.registry import places as P
from bogda.store import Store

COUNTY_NAMES = {"昌吉市", "阜康市", "呼图壁县", "玛纳斯县", "奇台县", "吉木萨尔县", "木垒哈萨克自治县"}


def test_cell_index_matches_the_spec_formula() -> None:
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4326", P.CELL_PROJ, always_xy=True)
    lon, lat = np.array([87.3095, 88.1236, 90.0]), np.array([44.0142, 43.8886, 45.0])
    x, y = t.transform(lon, lat)
    col, row = P.cell_index(lon, lat)
    assert col.tolist() == np.floor(x / 3000).astype(int).tolist()
    assert row.tolist() == np.floor(y / 3000).astype(int).tolist()
    poly = P.cell_polygon(int(col[0]), int(row[0]))
    assert poly.contains(shapely.Point(lon[0], lat[0]))
    # a cell is 3 km x 3 km: its area in the equal-area projection is 9 km²
    proj = shapely.transform(poly, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    assert proj.area == pytest.approx(9e6, rel=1e-3)


def test_repair_fixes_bowtie_and_rejects_lines() -> None:
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    assert not bowtie.is_valid
    fixed = P.repair(bowtie, what="test")
    assert fixed.is_valid and fixed.area == pytest.approx(0.5)
    with pytest.raises(P.GeometryError, match="LineString"):
        P.repair(shapely.LineString([(0, 0), (1, 1)]), what="test")
    with pytest.raises(P.GeometryError, match="empty"):
        P.repair(Polygon(), what="test")


def test_cnmaps_outline_is_converted_to_wgs84() -> None:
    gcj = shape(
        __import__("json").loads(P.cnmaps_path("652301").read_text())["geometry"]
        if False
        else __import__("json").loads(P.cnmaps_path("652301").read_text())
    )
    wgs = P.read_cnmaps_outline("652301")
    # GCJ-02 lies a few hundred metres north-east of WGS-84 in Xinjiang: the converted outline moves back
    dx = gcj.centroid.x - wgs.centroid.x
    dy = gcj.centroid.y - wgs.centroid.y
    assert 0.0005 < dx < 0.01 and 0.0 < dy < 0.01
    assert wgs.is_valid


def test_load_prefecture_and_lookup(store: Store) -> None:
    ids = P.load_prefecture(store, "652300")
    counties = P.list_places(store, kinds=["county"])
    assert {c.name for c in counties} == COUNTY_NAMES
    assert all(c.parent_id == ids["652300"] for c in counties)
    index = P.PlaceIndex.from_store(store)
    # the national stations: Changji city (3 stations) and the Tianchi control station in Fukang
    assert index.locate(87.2997, 44.0114) == ids["652301"]
    assert index.locate(88.1236, 43.8886) == ids["652302"]
    assert index.locate(116.4, 39.9) is None  # Beijing is outside
    assert P.ancestors(store, ids["652301"]) == [ids["652301"], ids["652300"]]
    assert ids["652301"] in P.descendants(store, ids["652300"])


def test_grid_cells_cover_counties_and_win_lookup(sqlite_store: Store) -> None:
    ids = P.load_prefecture(sqlite_store, "652300")
    n = P.load_grid_cells(sqlite_store)
    # Changji covers ~73,000 km²: about 8,100 cells of 9 km² plus the border ring
    assert 8000 < n < 9500
    assert P.load_grid_cells(sqlite_store) == n  # stable ids: a second run adds nothing new
    cells = P.list_places(sqlite_store, kinds=["grid_cell"], with_geometry=False)
    assert len(cells) == n
    assert all(c.code.startswith("G3K_") for c in cells)
    index = P.PlaceIndex.from_store(sqlite_store)
    col, row = P.cell_index([87.2997], [44.0114])
    pid = index.locate(87.2997, 44.0114)
    cell = next(c for c in cells if c.id == pid)
    assert cell.code == P.cell_code(int(col[0]), int(row[0]))
    assert cell.parent_id == ids["652301"]
