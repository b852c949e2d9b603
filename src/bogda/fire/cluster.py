"""Overpass clustering by pixel footprint and cross-satellite link distances (fire.md §3.4–§3.5).

A pixel is not a fire: one fire lights several adjacent pixels of one overpass, and pixel size grows from ~1 km at
nadir to ~5 km at the MODIS swath edge. Two pixels of an overpass are adjacent when their great-circle distance is at
most ``a_ij = ½(diag_i + diag_j) + margin`` with ``diag = √(scan² + track²)``; clusters are the connected
components. Searches use a KD-tree over unit vectors with a fourth, widely spaced coordinate that keeps groups
apart, then the exact per-pair test — no O(n²) loops.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from bogda.fire.config import GEOSTATIONARY, FireConfig
from bogda.geo import chord_for_km, haversine_km, unit_vectors

_GROUP_SPACING = 10.0  # > the largest chord (2.0) so points of different groups never pair


def footprint_diag_km(scan_km: np.ndarray, track_km: np.ndarray) -> np.ndarray:
    """Pixel diagonal √(scan² + track²) [km] (fire.md §3.4)."""
    return np.hypot(scan_km, track_km)


def candidate_pairs(
    lon: np.ndarray, lat: np.ndarray, radius_km: float, group: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) within ``radius_km`` great-circle distance, optionally only within the same ``group``."""
    if len(lon) < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    xyz = unit_vectors(lon, lat)
    if group is not None:
        xyz = np.column_stack([xyz, np.asarray(group, dtype=float) * _GROUP_SPACING])
    tree = cKDTree(xyz)
    pairs = tree.query_pairs(float(chord_for_km(radius_km)) * (1 + 1e-9), output_type="ndarray")
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes given edges (i, j)."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def overpass_ids(frame: pl.DataFrame, config: FireConfig | None = None) -> pl.Series:
    """Overpass of each detection: one satellite's detections chained with gaps ≤ ``overpass_gap``; a
    geostationary satellite's overpass is one time slot (fire.md §3.4). Ids are dense integers in time order.
    """
    cfg = config or FireConfig()
    gap_us = int(cfg.overpass_gap.total_seconds() * 1e6)
    idx = frame.select(
        pl.int_range(pl.len()).alias("_i"), "satellite", "sensor", t=pl.col("acq_time_utc").dt.epoch("us")
    ).sort("satellite", "t")
    geo = idx["sensor"].is_in(list(GEOSTATIONARY)).to_numpy()
    sat = idx["satellite"].to_numpy()
    t = idx["t"].to_numpy()
    new = np.ones(len(t), dtype=bool)
    if len(t) > 1:
        same_sat = sat[1:] == sat[:-1]
        dt = np.diff(t)
        new[1:] = ~same_sat | np.where(geo[1:], dt > 0, dt > gap_us)
    ids = np.cumsum(new) - 1
    out = np.empty(len(t), dtype=np.int64)
    out[idx["_i"].to_numpy()] = ids
    return pl.Series("overpass_id", out)


def cluster_detections(frame: pl.DataFrame, config: FireConfig | None = None) -> pl.DataFrame:
    """Add ``overpass_id`` and ``cluster_id`` (connected components of adjacent pixels within an overpass).

    Parameters
    ----------
    frame : DataFrame
        Detections with satellite, sensor, acq_time_utc, lat, lon, scan_km, track_km.
    """
    cfg = config or FireConfig()
    frame = frame.with_columns(overpass_ids(frame, cfg))
    n = frame.height
    if n == 0:
        return frame.with_columns(cluster_id=pl.Series([], dtype=pl.Int64))
    lon = frame["lon"].to_numpy()
    lat = frame["lat"].to_numpy()
    diag = footprint_diag_km(frame["scan_km"].to_numpy(), frame["track_km"].to_numpy())
    radius = float(np.nanmax(diag)) + cfg.footprint_margin_km
    i, j = candidate_pairs(lon, lat, radius, frame["overpass_id"].to_numpy())
    a_ij = 0.5 * (diag[i] + diag[j]) + cfg.footprint_margin_km
    keep = haversine_km(lon[i], lat[i], lon[j], lat[j]) <= a_ij
    labels = components(n, i[keep], j[keep])
    return frame.with_columns(cluster_id=pl.Series(labels))


def summarise_clusters(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per cluster: satellite, sensor, time, n_pixels, sum/max FRP, bbox and the **alarm point** — the
    max-FRP pixel (max bt_mir when FRP is null) (fire.md §3.4). FRP is summed only within one overpass.
    """
    rank = pl.coalesce(pl.col("frp_mw"), pl.col("frp_raw"), pl.lit(-1.0)) * 1e4 + pl.col("bt_mir_k").fill_null(0.0)
    alarm = frame.with_columns(_rank=rank).sort("_rank", descending=True).group_by("cluster_id").first()
    agg = frame.group_by("cluster_id").agg(
        pl.col("satellite").first(),
        pl.col("sensor").first(),
        pl.col("overpass_id").first(),
        pl.col("acq_time_utc").min(),
        pl.col("date_bjt").min(),
        n_pixels=pl.len(),
        sum_frp=pl.col("frp_mw").sum(),
        max_frp=pl.col("frp_mw").max(),
        lat_min=pl.col("lat").min(),
        lat_max=pl.col("lat").max(),
        lon_min=pl.col("lon").min(),
        lon_max=pl.col("lon").max(),
        min_pixel_area=pl.col("pixel_area_km2").min(),
    )
    return agg.join(alarm.select("cluster_id", alarm_lat=pl.col("lat"), alarm_lon=pl.col("lon")), on="cluster_id").sort(
        "acq_time_utc", "cluster_id"
    )


def link_floor_km(sensor_i: np.ndarray, sensor_j: np.ndarray, config: FireConfig | None = None) -> np.ndarray:
    """Floor of the cross-satellite link distance [km]: 1.0 VIIRS↔VIIRS, 1.5 if MODIS or MERSI is involved, 4.0 if a
    geostationary pixel is involved (fire.md §3.5; the measured 75 % / 83 % Aqua–S-NPP co-location)."""
    cfg = config or FireConfig()
    geo_set = list(GEOSTATIONARY)
    geo = np.isin(sensor_i, geo_set) | np.isin(sensor_j, geo_set)
    coarse = np.isin(sensor_i, ["MODIS", "MERSI"]) | np.isin(sensor_j, ["MODIS", "MERSI"])
    return np.where(geo, cfg.link_floor_geo_km, np.where(coarse, cfg.link_floor_modis_km, cfg.link_floor_viirs_km))


def link_distance_km(
    diag_i: np.ndarray, diag_j: np.ndarray, sensor_i: np.ndarray, sensor_j: np.ndarray, config: FireConfig | None = None
) -> np.ndarray:
    """L_ij = max(a_ij, floor) [km] (fire.md §3.5)."""
    cfg = config or FireConfig()
    a_ij = 0.5 * (diag_i + diag_j) + cfg.footprint_margin_km
    return np.maximum(a_ij, link_floor_km(sensor_i, sensor_j, cfg))


def linked_pixel_pairs(frame: pl.DataFrame, config: FireConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All pixel pairs (i, j) of different clusters within their link distance L_ij, ignoring time."""
    cfg = config or FireConfig()
    if frame.height < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    lon = frame["lon"].to_numpy()
    lat = frame["lat"].to_numpy()
    diag = footprint_diag_km(frame["scan_km"].to_numpy(), frame["track_km"].to_numpy())
    sensor = frame["sensor"].to_numpy()
    radius = max(float(np.nanmax(diag)) + cfg.footprint_margin_km, cfg.link_floor_geo_km)
    i, j = candidate_pairs(lon, lat, radius)
    cl = frame["cluster_id"].to_numpy()
    keep = cl[i] != cl[j]
    i, j = i[keep], j[keep]
    dist = haversine_km(lon[i], lat[i], lon[j], lat[j])
    ok = dist <= link_distance_km(diag[i], diag[j], sensor[i], sensor[j], cfg)
    return i[ok], j[ok]
