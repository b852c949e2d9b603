"""Overpass clustering by pixel footprint and link distances (fire.md §3.4–§3.5, check 9)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from bogda.fire.cluster import (
    cluster_detections,
    link_distance_km,
    link_floor_km,
    overpass_ids,
    summarise_clusters,
)
from bogda.fire.formats import read_fire_file

T0 = datetime(2025, 11, 18, 3, 49, tzinfo=UTC)
KM_LAT = 1 / 111.195  # degrees of latitude per km


def test_ahi_clusters_match_hot_groups(fire_dir: Path) -> None:
    """Check 9: the 73 AHI pixels in 18–54 N, 73–135 E form 38 ± 1 clusters (39 Hot(ID) groups)."""
    d = read_fire_file(fire_dir / "H09_20251209_1900_L2WLF010_FLDK.06001_06001.csv").detections
    box = d.filter(pl.col("lat").is_between(18, 54) & pl.col("lon").is_between(73, 135))
    assert box.height == 73
    c = cluster_detections(box)
    assert 37 <= c["cluster_id"].n_unique() <= 39
    assert box["hot_group"].n_unique() == 39


@pytest.mark.parametrize(
    ("scan", "gap_km", "n_clusters"),
    [(1.0, 1.5, 1), (1.0, 1.6, 2), (0.375, 0.67, 1), (0.375, 0.75, 2), (4.8, 5.0, 1)],
)
def test_adjacency_by_footprint(make_detections: Callable, scan: float, gap_km: float, n_clusters: int) -> None:
    """a_ij = ½(diag_i + diag_j) + 0.15 km with diag = √(scan² + track²): 1.56 km for 1×1 km pixels, 0.68 km for
    nominal VIIRS, ~5.1 km for 4.8 × 1.7 km MODIS edge pixels."""
    track = 1.7 if scan > 4 else scan
    rows = [
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0, "scan_km": scan, "track_km": track},
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0 + gap_km * KM_LAT, "scan_km": scan, "track_km": track},
    ]
    assert cluster_detections(make_detections(rows))["cluster_id"].n_unique() == n_clusters


def test_chain_is_one_cluster_and_alarm_is_max_frp(make_detections: Callable) -> None:
    rows = [
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0 + k * 1.2 * KM_LAT, "frp_mw": frp}
        for k, frp in enumerate([5.0, 40.0, 7.0])
    ]
    c = cluster_detections(make_detections(rows))
    s = summarise_clusters(c)
    assert s.height == 1
    r = s.row(0, named=True)
    assert (r["n_pixels"], r["sum_frp"], r["max_frp"]) == (3, 52.0, 40.0)
    assert r["alarm_lat"] == pytest.approx(44.0 + 1.2 * KM_LAT)


def test_alarm_point_by_brightness_when_frp_missing(make_detections: Callable) -> None:
    rows = [
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0, "frp_mw": None, "frp_raw": None, "bt_mir_k": 330.0},
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0 + KM_LAT, "frp_mw": None, "frp_raw": None, "bt_mir_k": 345.0},
    ]
    s = summarise_clusters(cluster_detections(make_detections(rows)))
    assert s["alarm_lat"][0] == pytest.approx(44.0 + KM_LAT)


def test_overpasses(make_detections: Callable) -> None:
    rows = [
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0},
        {"acq_time_utc": T0 + timedelta(minutes=5), "lon": 88.0, "lat": 44.0},  # same pass (≤ 10 min)
        {"acq_time_utc": T0 + timedelta(minutes=20), "lon": 88.0, "lat": 44.0},  # new pass
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0, "satellite": "Aqua"},  # other satellite
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0, "satellite": "Himawari-9", "sensor": "AHI"},
        {
            "acq_time_utc": T0 + timedelta(minutes=5),
            "lon": 88.0,
            "lat": 44.0,
            "satellite": "Himawari-9",
            "sensor": "AHI",
        },
    ]
    ids = overpass_ids(make_detections(rows)).to_list()
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[3], ids[4], ids[5]}) == 5  # geostationary: one time slot per overpass
    # pixels at the same place in different overpasses are different clusters
    assert cluster_detections(make_detections(rows[:3]))["cluster_id"].n_unique() == 2


@pytest.mark.parametrize(
    ("si", "sj", "floor"),
    [
        ("VIIRS", "VIIRS", 1.0),
        ("VIIRS", "MODIS", 1.5),
        ("MERSI", "VIIRS", 1.5),
        ("AHI", "VIIRS", 4.0),
        ("MODIS", "AGRI", 4.0),
    ],
)
def test_link_floors(si: str, sj: str, floor: float) -> None:
    assert link_floor_km(np.array([si]), np.array([sj]))[0] == floor
    # small pixels: the floor decides; huge pixels: the footprint does
    assert link_distance_km(np.array([0.5]), np.array([0.5]), np.array([si]), np.array([sj]))[0] == floor
    big = link_distance_km(np.array([6.0]), np.array([6.0]), np.array([si]), np.array([sj]))[0]
    assert big == pytest.approx(max(6.15, floor))
