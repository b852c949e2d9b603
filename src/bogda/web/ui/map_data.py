"""Data for the console map: the boundary GeoJSON registered with ECharts, outlines as line paths, the grid as
a few long lines instead of 8,600 polygons, and station points coloured by AQI category.

Everything here is presentation: geometry is simplified for the screen only; the stored geometry is untouched.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from bogda.registry.places import PlaceRow, cell_polygons, list_places
from bogda.store import Store
from bogda.web.auth import Principal

MAP_NAME = "bogda-region"
SCREEN_TOLERANCE = 0.002
"""Outline simplification for the screen [degrees] (about 200 m; a county is 100–200 km across)."""
GRID_TOLERANCE = 0.0005
"""Simplification of grid lines [degrees]: cell edges are straight in the grid's Albers projection and nearly
straight in longitude/latitude, so a long line needs only a few points."""
OFFLINE_COLOR = "#9E9E9E"
NO_DATA_COLOR = "#BDBDBD"

_cache: dict[tuple[int, str], tuple[float, Any]] = {}
_TTL_S = 300.0


def _cached(store: Store, key: str, build: Any) -> Any:
    hit = _cache.get((id(store), key))
    if hit is not None and time.monotonic() - hit[0] < _TTL_S:
        return hit[1]
    value = build()
    _cache[(id(store), key)] = (time.monotonic(), value)
    return value


def _screen_geometry(row: PlaceRow, tolerance: float = SCREEN_TOLERANCE) -> shapely.Geometry:
    return shapely.set_precision(shape(row.geometry).simplify(tolerance, preserve_topology=True), 1e-5)


def outlines(store: Store) -> list[tuple[PlaceRow, dict[str, Any]]]:
    """Prefecture, county and park places with their screen geometry (GeoJSON), cached for a few minutes."""

    def build() -> list[tuple[PlaceRow, dict[str, Any]]]:
        rows = list_places(store, kinds=["prefecture", "county", "park"])
        return [(r, mapping(_screen_geometry(r))) for r in rows if r.geometry]

    return _cached(store, "outlines", build)


def region_geojson(counties: Iterable[tuple[PlaceRow, dict[str, Any]]], lang: str) -> dict[str, Any]:
    """The counties as the FeatureCollection registered with ``echarts.registerMap``.

    ``properties.name`` is the label ECharts draws (Chinese; English adds the English name), ``properties.cp``
    the label point (a point inside the county, so a concave county keeps its label inside).
    """
    feats = []
    for row, geom in counties:
        name = row.name if lang == "zh" or not row.name_en else f"{row.name_en}"
        feats.append(
            {
                "type": "Feature",
                "properties": {"name": name, "code": row.code, "cp": [row.lon, row.lat]},
                "geometry": geom,
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def line_paths(geom: dict[str, Any]) -> list[list[list[float]]]:
    """Every ring of a (Multi)Polygon as a path of ``[lon, lat]`` points (for an ECharts ``lines`` series)."""
    g = shape(geom)
    polys = list(getattr(g, "geoms", [g]))
    paths = []
    for p in polys:
        for ring in [p.exterior, *p.interiors]:
            paths.append(np.round(np.asarray(ring.coords), 5).tolist())
    return paths


def grid_paths(cells: list[tuple[int, int]], size_m: int = 3000) -> list[list[list[float]]]:
    """The edges of grid cells ``(col, row)`` as long polylines (one per contiguous run of edges).

    Each row boundary and each column boundary is walked once, so about 2 points per cell before
    simplification and a few per line after — instead of 5 points per cell as polygons.
    """
    if not cells:
        return []
    cols = np.array([c for c, _ in cells], dtype=np.int64)
    rows = np.array([r for _, r in cells], dtype=np.int64)
    coords = shapely.get_coordinates(cell_polygons(cols, rows, size_m)).reshape(len(cells), 5, 2)
    corner: dict[tuple[int, int], tuple[float, float]] = {}
    for i, (c, r) in enumerate(cells):
        # ring order of cell_polygons: (c, r), (c+1, r), (c+1, r+1), (c, r+1)
        for k, (dc, dr) in enumerate(((0, 0), (1, 0), (1, 1), (0, 1))):
            corner[(c + dc, r + dr)] = (float(coords[i, k, 0]), float(coords[i, k, 1]))
    have = set(cells)
    horizontal: dict[int, set[int]] = defaultdict(set)  # row boundary y -> columns c of edges (c, y)-(c+1, y)
    vertical: dict[int, set[int]] = defaultdict(set)  # column boundary x -> rows r of edges (x, r)-(x, r+1)
    for c, r in have:
        horizontal[r].add(c)
        horizontal[r + 1].add(c)
        vertical[c].add(r)
        vertical[c + 1].add(r)
    paths: list[list[list[float]]] = []

    def runs(values: set[int]) -> list[tuple[int, int]]:
        v = sorted(values)
        out, start = [], v[0]
        for a, b in pairwise(v):
            if b != a + 1:
                out.append((start, a))
                start = b
        out.append((start, v[-1]))
        return out

    def add(points: list[tuple[float, float]]) -> None:
        line = shapely.simplify(shapely.linestrings(points), GRID_TOLERANCE)
        paths.append(np.round(shapely.get_coordinates(line), 4).tolist())

    for y, cs in horizontal.items():
        for a, b in runs(cs):
            add([corner[(c, y)] for c in range(a, b + 2)])
    for x, rs in vertical.items():
        for a, b in runs(rs):
            add([corner[(x, r)] for r in range(a, b + 2)])
    return paths


def visible_cells(store: Store, who: Principal) -> list[tuple[int, int]]:
    """Grid cells ``(col, row)`` the user may see."""
    rows = _cached(store, "cells", lambda: list_places(store, kinds=["grid_cell"], with_geometry=False))
    return [(int(r.attrs["col"]), int(r.attrs["row"])) for r in rows if "col" in r.attrs and who.sees(r.id)]


def station_color(item: dict[str, Any]) -> str:
    """Colour of a station point: its AQI category colour (HJ 633, via :mod:`bogda.standards.aqi`), grey when
    offline, light grey when it has no AQI."""
    if not item.get("online"):
        return OFFLINE_COLOR
    aqi = item.get("aqi")
    return aqi["color"] if aqi else NO_DATA_COLOR
