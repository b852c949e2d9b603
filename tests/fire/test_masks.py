"""Flags, registry and learned masks, feedback candidates (fire.md §3.3, §3.9, checks 6, 10, 14, 16)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from bogda.fire.config import NATIONAL_CROP_WINDOWS, FireConfig
from bogda.fire.formats import read_fire_file
from bogda.fire.masks import apply_flags, feedback_candidates, heat_sources, learn_sites, recurrence_sites
from bogda.geo import haversine_km

T0 = datetime(2025, 11, 18, 3, 49, tzinfo=UTC)
JIMSAR = (89.20444, 44.91296)


@pytest.mark.parametrize(
    ("lon", "lat", "datum"),
    [(89.20444, 44.91296, "WGS84"), (89.20735, 44.91405, "GCJ02"), (89.21387, 44.92006, "BD09")],
)
def test_registry_entry_masks_jimsar(lon: float, lat: float, datum: str, make_detections: Callable) -> None:
    src = heat_sources(
        [{"source_id": "P1", "name": "plant", "kind": "coal_chemical", "lon": lon, "lat": lat, "datum": datum}]
    )
    assert float(haversine_km(src["lon"][0], src["lat"][0], *JIMSAR)) < 0.05
    d = apply_flags(make_detections([{"acq_time_utc": T0, "lon": JIMSAR[0], "lat": JIMSAR[1]}]), registry=src)
    row = d.row(0, named=True)
    assert (row["masked_registry"], row["masked_registry_ref"], row["masked"], row["screened"]) == (
        True,
        "P1",
        True,
        False,
    )
    assert row["flag_reasons"] == ["masked_registry: P1"]


@pytest.mark.parametrize(
    ("sensor", "offset_km", "masked"),
    [("VIIRS", 0.9, True), ("VIIRS", 1.1, False), ("MODIS", 1.4, True), ("MODIS", 1.6, False), ("AHI", 2.9, True)],
)
def test_sensor_buffers(sensor: str, offset_km: float, masked: bool, make_detections: Callable) -> None:
    src = heat_sources([{"lon": JIMSAR[0], "lat": JIMSAR[1], "datum": "WGS84", "kind": "power"}])
    lat = JIMSAR[1] + offset_km / 111.195
    d = apply_flags(
        make_detections([{"acq_time_utc": T0, "lon": JIMSAR[0], "lat": lat, "sensor": sensor}]), registry=src
    )
    assert d["masked_registry"].to_list() == [masked]


def test_entry_buffer_overrides_sensor_default(make_detections: Callable) -> None:
    src = heat_sources([{"lon": JIMSAR[0], "lat": JIMSAR[1], "datum": "WGS84", "kind": "flare", "buffer_km": 3.0}])
    d = apply_flags(
        make_detections([{"acq_time_utc": T0, "lon": JIMSAR[0], "lat": JIMSAR[1] + 2.5 / 111.195}]), registry=src
    )
    assert d["masked_registry"].to_list() == [True]


@pytest.mark.parametrize("datum", [None, "", "CGCS2000?", "wgs"])
def test_unknown_datum_refused(datum: str | None) -> None:
    with pytest.raises(ValueError, match="datum"):
        heat_sources([{"lon": 89.2, "lat": 44.9, "datum": datum, "kind": "steel"}])


@pytest.mark.parametrize(
    ("row", "flag"),
    [
        ({"sensor": "VIIRS", "bt_mir_k": 340.0, "frp_mw": 0.2}, "spurious"),
        ({"sensor": "VIIRS", "bt_mir_k": 305.0, "frp_mw": 0.2}, None),  # BT ≤ 310 K
        ({"confidence_class": "low", "confidence_raw": "24"}, "low_confidence"),
        ({"firms_type": 2}, "masked_external"),
        ({"firms_type": 3}, "masked_external"),
        ({"firms_type": 0}, None),
        ({"persistent_anomaly": 1}, "masked_external"),
    ],
)
def test_flags(row: dict, flag: str | None, make_detections: Callable) -> None:
    d = apply_flags(make_detections([{"acq_time_utc": T0, "lon": 89.2, "lat": 44.9, **row}]))
    names = ["spurious", "low_confidence", "masked_external"]
    assert [n for n in names if d[n][0]] == ([flag] if flag else [])
    assert d.height == 1  # labelled, never dropped


def test_learned_sites_east_asia(global5: pl.DataFrame, fire_dir: Path) -> None:
    """fire.md §8 check 10: rule B on the five global files, 18–54 N, 73–135 E."""
    box = global5.filter(pl.col("lat").is_between(18, 54) & pl.col("lon").is_between(73, 135))
    assert box.height == 7778
    cfg = FireConfig(learned_lookback=None)
    sites = learn_sites(box, config=cfg)
    active = sites.filter(pl.col("status") == "active")
    assert 16 <= active.height <= 22
    expected = [
        (26.576, 101.667, 15, 7, "active"),  # Panzhihua
        (39.847, 98.272, 5, 3, "active"),  # Jiayuguan
        (44.319, 93.292, 7, 3, "active"),  # Hami
        (44.721, 90.266, 3, 2, "candidate"),  # Qitai: 2 dates, no night
    ]
    for lat, lon, n, days, status in expected:
        d = haversine_km(sites["lon"].to_numpy(), sites["lat"].to_numpy(), lon, lat)
        k = int(np.argmin(d))
        site = sites.row(k, named=True)
        assert d[k] < 0.1
        assert (site["n"], site["active_days"], site["status"]) == (n, days, status)

    ahi = read_fire_file(fire_dir / "H09_20251209_1900_L2WLF010_FLDK.06001_06001.csv").detections
    flagged = apply_flags(ahi, learned=sites, config=cfg).filter("masked_learned")
    for lat, lon, km in [(26.576, 101.667, 0.83), (39.847, 98.272, 1.29)]:
        near = haversine_km(flagged["lon"].to_numpy(), flagged["lat"].to_numpy(), lon, lat)
        assert np.any(np.abs(near - km) < 0.05)


@pytest.mark.parametrize(
    ("crop_windows", "caught", "wrong"),
    [((), 9, 0), (NATIONAL_CROP_WINDOWS, 0, 0)],
)
def test_colombia_catch_rate(fire_dir: Path, crop_windows: tuple, caught: int, wrong: int) -> None:
    """fire.md §8 check 14: archive `type` labels measure the learned mask."""
    d = read_fire_file(fire_dir / "firms_country_archive_modis_2000_Colombia.csv").detections
    cfg = FireConfig(learned_lookback=None, crop_windows=crop_windows, use_external_mask=False)
    sites = learn_sites(d, config=cfg)
    f = apply_flags(d, learned=sites, config=cfg)
    static = f.filter(pl.col("firms_type") == 2)
    veg = f.filter(pl.col("firms_type") == 0)
    assert (static.height, veg.height) == (9, 1363)
    assert (int(static["masked_learned"].sum()), int(veg["masked_learned"].sum())) == (caught, wrong)
    assert f["masked_external"].sum() == 0
    if caught:
        site = sites.filter(pl.col("status") == "active").row(0, named=True)
        assert (site["rule"], site["n"], site["active_days"], site["night_n"]) == ("B", 9, 7, 1)
        assert 11.08 <= site["lat"] <= 11.09 and -72.67 <= site["lon"] <= -72.66
    # type-0 sites seen on ≥ 2 dates are review candidates only
    assert sites.filter(pl.col("status") == "candidate").height > 0


def test_rule_a_spread_over_months(make_detections: Callable) -> None:
    days = [datetime(2025, m, d, 5, 0, tzinfo=UTC) for m in (1, 3, 6, 9) for d in (2, 5, 8)]
    rows = [{"acq_time_utc": t, "lon": 88.0, "lat": 44.0} for t in days]
    sites = learn_sites(make_detections(rows), config=FireConfig(learned_lookback=None))
    assert sites["rule"].to_list() == ["A"]


def test_cropland_day_fires_not_masked(make_detections: Callable) -> None:
    """Daytime detections inside the crop windows on many days stay candidates (no night, no spread)."""
    rows = [{"acq_time_utc": datetime(2025, 6, d, 5, 0, tzinfo=UTC), "lon": 88.0, "lat": 44.0} for d in range(1, 12)]
    sites = learn_sites(make_detections(rows), config=FireConfig(learned_lookback=None))
    assert sites["status"].to_list() == ["candidate"]


def test_recurrence_grid_mask(make_detections: Callable) -> None:
    base = datetime(2025, 1, 1, 5, 0, tzinfo=UTC)
    rows = [{"acq_time_utc": base + timedelta(days=k), "lon": 88.0031, "lat": 44.0021} for k in (0, 4, 9)]
    rows.append({"acq_time_utc": base, "lon": 89.5, "lat": 44.5})
    sites = recurrence_sites(make_detections(rows), config=FireConfig(recurrence_n_days=3, recurrence_m_days=30))
    assert sites.height == 1 and sites["note"][0] == "3 of 30 days"
    f = apply_flags(make_detections(rows), learned=sites)
    assert f["masked_learned"].to_list() == [True, True, True, False]


def test_feedback_candidates(make_detections: Callable) -> None:
    t = datetime(2025, 6, 1, tzinfo=UTC)
    verdicts = pl.DataFrame(
        {
            "event_id": ["E1", "E2", "E3", "E4"],
            "verdict": ["false", "false", "industrial", "false"],
            "verified_at": [t, t + timedelta(days=30), t, t],
            "lon": [88.0, 88.008, 89.0, 90.0],
            "lat": [44.0, 44.0, 44.5, 45.0],
        }
    )
    c = feedback_candidates(verdicts)
    assert sorted(c["kind"].to_list()) == ["false_alarm_site", "other"]
    assert set(c["status"].to_list()) == {"candidate"}  # never masked automatically
    fs = c.filter(pl.col("kind") == "false_alarm_site")
    assert fs.height == 1 and fs["note"][0].startswith("2 false verdicts")
    assert c.filter(pl.col("kind") == "other")["origin"].to_list() == ["verified_industrial"]
    # a candidate does not mask
    f = apply_flags(make_detections([{"acq_time_utc": t, "lon": 88.004, "lat": 44.0}]), registry=c)
    assert f["masked_registry"].to_list() == [False]


def test_flag_rows(make_detections: Callable) -> None:
    src = heat_sources([{"source_id": "P1", "lon": JIMSAR[0], "lat": JIMSAR[1], "datum": "WGS84", "kind": "power"}])
    rows = [
        {"acq_time_utc": T0, "lon": JIMSAR[0], "lat": JIMSAR[1], "confidence_class": "low", "confidence_raw": "20"},
        {"acq_time_utc": T0, "lon": 80.0, "lat": 40.0},
    ]
    f = apply_flags(make_detections(rows), registry=src).with_row_index("det_id")
    from bogda.fire.masks import flag_rows

    fr = flag_rows(f).sort("flag")
    assert fr.select("detection_id", "flag", "ref_id").rows() == [
        (0, "low_confidence", None),
        (0, "masked_registry", "P1"),
    ]
    assert fr["reason"].to_list() == ["low_confidence: 20", "masked_registry: P1"]
