"""FY-3D MERSI-II / FY-4 AGRI HDF5 fire products: files written here with h5py in the layouts of fire.md §2.4."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
from pyproj import Proj

from bogda.fire.formats import read_fire_file
from bogda.fire.fy_hdf5 import AGRI_GRID, HDF5Profile, agri_navigation, read_fy_hdf5
from bogda.fire.records import FireFormatError

FY3 = "FY3D_MERSI_GBAL_L2_FPS_MLT_GLL_20251118_0349_1000M_MS.HDF"
FY4_REGC = "FY4A-_AGRI--_N_REGC_1047E_L2-_FHS-_MULT_NOM_20251118034500_20251118034917_2000M_V0001.NC"
# FY-4A's fixed grid as PROJ sees it: an independent check of the CGMS navigation
GEOS = Proj(proj="geos", h=35785863.0, a=6378137.0, b=6356752.3, lon_0=104.7, sweep="y")
H_M = 35785863.0


def _points(path: Path, *, frp_units: str | None = "MW", fill_second: bool = True) -> Path:
    with h5py.File(path, "w") as f:
        g = f.create_group("Fire_Points")
        lat = g.create_dataset("Latitude", data=np.array([44.91296, -999.0, 44.7205], dtype="f4"))
        if fill_second:
            lat.attrs["_FillValue"] = np.float32(-999.0)
        g.create_dataset("Longitude", data=np.array([89.20444, 89.0, 90.2655], dtype="f4"))
        frp = g.create_dataset("FRP", data=np.array([50.79, 3.0, 12.5], dtype="f4"))
        if frp_units:
            frp.attrs["units"] = frp_units
        g.create_dataset("Confidence", data=np.array([92, 40, 75], dtype="i2"))
        g.create_dataset("Pixel_Area", data=np.array([1.1, 1.0, 1.3], dtype="f4"))
        g.create_dataset("Fire_Region", data=np.array([1, 2, 3], dtype="i4"))
    return path


def test_point_list(tmp_path: Path) -> None:
    r = read_fy_hdf5(_points(tmp_path / FY3))
    d = r.detections
    assert r.product == "fy_hdf5_points"
    assert (d.height, len(r.rejected), r.n_rows) == (2, 1, 3)
    assert r.rejected[0].line == 2 and "fill value" in r.rejected[0].reason
    assert set(d["satellite"]) == {"FY-3D"} and set(d["sensor"]) == {"MERSI"}
    assert d["acq_time_utc"][0] == datetime(2025, 11, 18, 3, 49, tzinfo=UTC)
    assert d["lat"].round(4).to_list() == [44.913, 44.7205]
    assert d["frp_mw"].round(2).to_list() == [50.79, 12.5]
    assert d["hot_group"].to_list() == [1, 3]
    assert d["confidence_raw"].to_list() == ["92", "75"]
    assert d["pixel_area_km2"].round(1).to_list() == [1.1, 1.3]
    assert d["line_no"].to_list() == [1, 3]


def test_intensity_without_unit_is_kept_raw(tmp_path: Path) -> None:
    d = read_fy_hdf5(_points(tmp_path / FY3, frp_units=None)).detections
    assert d["frp_mw"].null_count() == d.height
    assert d["frp_raw"].round(2).to_list() == [50.79, 12.5]


def test_dispatch_through_read_fire_file(tmp_path: Path) -> None:
    assert read_fire_file(_points(tmp_path / FY3)).product == "fy_hdf5_points"


def test_mask_with_geolocation_and_cf_flags(tmp_path: Path) -> None:
    mask = np.zeros((4, 5), dtype="u1")
    mask[1, 2] = 10
    mask[3, 4] = 10
    mask[0, 0] = 20  # cloud
    lat = np.linspace(45.0, 44.0, 4)[:, None].repeat(5, axis=1)
    lon = np.linspace(88.0, 89.0, 5)[None, :].repeat(4, axis=0)
    path = tmp_path / "FY3D_MERSI_XJ_L2_FHS_MLT_NUL_20251118_0349_1000M_MS.HDF"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("Data/Fire_Mask", data=mask)
        ds.attrs["flag_values"] = np.array([0, 10, 20], dtype="u1")
        ds.attrs["flag_meanings"] = "clear fire cloud"
        f.create_dataset("Geolocation/Latitude", data=lat)
        f.create_dataset("Geolocation/Longitude", data=lon)
    r = read_fy_hdf5(path)
    d = r.detections
    assert r.product == "fy_hdf5_mask" and d.height == 2
    assert list(zip(d["lat"].round(4), d["lon"].round(4), strict=True)) == [
        (round(lat[1, 2], 4), round(lon[1, 2], 4)),
        (round(lat[3, 4], 4), round(lon[3, 4], 4)),
    ]
    assert d["line_no"].to_list() == [1 * 5 + 2 + 1, 3 * 5 + 4 + 1]  # row-major position in the mask
    assert "fire_mask_value" in r.unmapped


def _fy4_pixel(lat: float, lon: float) -> tuple[int, int]:
    """Full-disk (line, column) of a point at 2 km, from PROJ's forward projection."""
    x, y = GEOS(lon, lat)
    off, fac = AGRI_GRID[2000]
    col = off + np.degrees(x / H_M) * fac / 65536.0
    line = off - np.degrees(y / H_M) * fac / 65536.0
    return round(line), round(col)


def test_agri_navigation_matches_proj() -> None:
    off, fac = AGRI_GRID[2000]
    lat, lon = agri_navigation(np.array([off]), np.array([off]), resolution_m=2000, sub_lon=104.7, grid=AGRI_GRID)
    assert abs(lat[0]) < 1e-9 and abs(lon[0] - 104.7) < 1e-9
    lines = np.array([600.0, 1200.0, 2747.5, 4000.0])
    cols = np.array([1500.0, 2100.0, 3000.0, 3500.0])
    lat, lon = agri_navigation(lines, cols, resolution_m=2000, sub_lon=104.7, grid=AGRI_GRID)
    x = np.radians((cols - off) * 65536.0 / fac) * H_M
    y = -np.radians((lines - off) * 65536.0 / fac) * H_M
    plon, plat = GEOS(x, y, inverse=True)
    assert np.max(np.abs(lat - plat)) < 1e-3 and np.max(np.abs(lon - plon)) < 1e-3
    corner_lat, _ = agri_navigation(np.array([0.0]), np.array([0.0]), resolution_m=2000, sub_lon=104.7, grid=AGRI_GRID)
    assert np.isnan(corner_lat[0])  # off the Earth disk


def _regc(path: Path, fires: list[tuple[float, float]], *, offsets: bool = True) -> Path:
    pix = [_fy4_pixel(la, lo) for la, lo in fires]
    line0 = min(p[0] for p in pix) - 5
    col0 = min(p[1] for p in pix) - 5
    mask = np.zeros((40, 60), dtype="u1")
    for line, col in pix:
        mask[line - line0, col - col0] = 1
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("FHS", data=mask)
        ds.attrs["flag_values"] = np.array([0, 1], dtype="u1")
        ds.attrs["flag_meanings"] = "no_fire fire_point"
        if offsets:
            f.attrs["Begin Line Number"] = np.int32(line0)
            f.attrs["Begin Pixel Number"] = np.int32(col0)
    return path


def test_fy4_region_mask_navigated(tmp_path: Path) -> None:
    fires = [(44.913, 89.204), (44.72, 90.266)]  # Jimsar and Qitai
    r = read_fy_hdf5(_regc(tmp_path / FY4_REGC, fires))
    d = r.detections.sort("lon")
    assert d.height == 2 and set(d["satellite"]) == {"FY-4A"} and set(d["sensor"]) == {"AGRI"}
    assert d["acq_time_utc"][0] == datetime(2025, 11, 18, 3, 45, tzinfo=UTC)
    for (la, lo), got_la, got_lo in zip(fires, d["lat"], d["lon"], strict=True):
        # a 2 km pixel (≈ 3–4 km at 45° N seen from 104.7° E): the centre is within one pixel of the fire
        assert abs(got_la - la) < 0.04 and abs(got_lo - lo) < 0.06


def test_profile_names_other_datasets(tmp_path: Path) -> None:
    path = tmp_path / FY3
    with h5py.File(path, "w") as f:
        f.create_dataset("FP_Lat_Deg", data=np.array([44.9]))
        f.create_dataset("FP_Lon_Deg", data=np.array([89.2]))
    with pytest.raises(FireFormatError, match="neither a fire point list"):
        read_fy_hdf5(path)
    prof = HDF5Profile(lat=("fp_lat_deg",), lon=("fp_lon_deg",))
    assert read_fy_hdf5(path, profile=prof).detections.height == 1


# --- malformed files: clear errors naming the file and the dataset -----------------------------------------


def test_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / FY3
    path.write_text("latitude,longitude\n44.9,89.2\n")
    with pytest.raises(FireFormatError, match=rf"{FY3}: not a readable HDF5"):
        read_fire_file(path)


def test_lengths_differ(tmp_path: Path) -> None:
    path = tmp_path / FY3
    with h5py.File(path, "w") as f:
        f.create_dataset("Fire/Latitude", data=np.array([44.9, 45.0]))
        f.create_dataset("Fire/Longitude", data=np.array([89.2]))
    with pytest.raises(FireFormatError, match=r"/Fire/Latitude has shape \(2,\), /Fire/Longitude has shape \(1,\)"):
        read_fy_hdf5(path)


def test_column_length_differs(tmp_path: Path) -> None:
    path = tmp_path / FY3
    with h5py.File(path, "w") as f:
        f.create_dataset("Latitude", data=np.array([44.9, 45.0]))
        f.create_dataset("Longitude", data=np.array([89.2, 89.3]))
        f.create_dataset("FRP", data=np.array([1.0, 2.0, 3.0]))
    with pytest.raises(FireFormatError, match=rf"{FY3}: dataset /FRP \(intensity\) has shape \(3,\)"):
        read_fy_hdf5(path)


def test_nothing_recognisable_lists_datasets(tmp_path: Path) -> None:
    path = tmp_path / FY3
    with h5py.File(path, "w") as f:
        f.create_dataset("Calibration/Slope", data=np.ones(3))
    with pytest.raises(FireFormatError, match=r"datasets present: /Calibration/Slope"):
        read_fy_hdf5(path)


def test_mask_values_unknown(tmp_path: Path) -> None:
    path = tmp_path / FY4_REGC
    with h5py.File(path, "w") as f:
        f.create_dataset("FHS", data=np.zeros((3, 3), dtype="u1"))
        f.attrs["Begin Line Number"] = 600
        f.attrs["Begin Pixel Number"] = 1500
    with pytest.raises(FireFormatError, match=r"dataset /FHS has no flag_values.*HDF5Profile.fire_values"):
        read_fy_hdf5(path)
    r = read_fy_hdf5(path, profile=HDF5Profile(fire_values=(1,)))
    assert r.detections.height == 0 and not r.rejected  # a valid "no fires"


def test_not_numeric(tmp_path: Path) -> None:
    path = tmp_path / FY3
    with h5py.File(path, "w") as f:
        f.create_dataset("Latitude", data=np.array([b"44.9"]))
        f.create_dataset("Longitude", data=np.array([89.2]))
    with pytest.raises(FireFormatError, match=r"dataset /Latitude \(latitude\) is not numeric"):
        read_fy_hdf5(path)


def test_no_time(tmp_path: Path) -> None:
    path = tmp_path / "fire_points.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("Latitude", data=np.array([44.9]))
        f.create_dataset("Longitude", data=np.array([89.2]))
    with pytest.raises(FireFormatError, match=r"fire_points.h5: no observation time"):
        read_fy_hdf5(path)
    with h5py.File(path, "a") as f:
        f.attrs["Observing Beginning Date"] = "2025-11-18"
        f.attrs["Observing Beginning Time"] = "03:49:30.123"
    d = read_fy_hdf5(path).detections
    assert d["acq_time_utc"][0] == datetime(2025, 11, 18, 3, 49, 30, tzinfo=UTC)


def test_geolocation_shape_differs(tmp_path: Path) -> None:
    path = tmp_path / FY3
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("Fire_Mask", data=np.ones((4, 5), dtype="u1"))
        ds.attrs["flag_values"] = np.array([0, 1], dtype="u1")
        ds.attrs["flag_meanings"] = "none fire"
        f.create_dataset("Latitude", data=np.zeros((4, 4)))
        f.create_dataset("Longitude", data=np.zeros((4, 4)))
    with pytest.raises(
        FireFormatError, match=r"dataset /Latitude has shape \(4, 4\), fire mask /Fire_Mask has \(4, 5\)"
    ):
        read_fy_hdf5(path)


def test_region_without_offsets(tmp_path: Path) -> None:
    path = _regc(tmp_path / FY4_REGC, [(44.9, 89.2)], offsets=False)
    with pytest.raises(FireFormatError, match=r"regional mask /FHS without begin line/pixel"):
        read_fy_hdf5(path)


def test_bad_rows_off_disk(tmp_path: Path) -> None:
    name = FY4_REGC.replace("REGC", "DISK")
    path = tmp_path / name
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("FHS", data=np.zeros((3, 3), dtype="u1"))
        ds.attrs["flag_values"] = np.array([0, 1], dtype="u1")
        ds.attrs["flag_meanings"] = "none fire"
        ds[0, 0] = 1  # the corner of the disk grid: space
        f.attrs["Begin Line Number"] = 0
        f.attrs["Begin Pixel Number"] = 0
    r = read_fy_hdf5(path)
    assert r.detections.height == 0 and len(r.rejected) == 1
    assert r.rejected[0].line == 1 and "off the Earth disk" in r.rejected[0].reason


def test_ingest_stores_fy_points(tmp_path: Path) -> None:
    from bogda.fire.service import ingest_files
    from bogda.store import connect

    st = connect(f"sqlite:///{tmp_path / 'fy.db'}")
    try:
        r = ingest_files(st, [_points(tmp_path / FY3)], whole_globe=True, learn=False)
        assert r.files[0].status == "ok" and r.files[0].product == "fy_hdf5_points"
        assert (r.n_stored, r.n_bad) == (2, 1)
    finally:
        st.dispose()


def test_inbox_picks_up_fy_files(tmp_path: Path) -> None:
    from bogda.fire.feed import scan_folder

    _points(tmp_path / FY3)
    found = scan_folder(tmp_path, [])
    assert [p.name for p, _ in found] == [FY3]
