"""Gridded NWP adapters (forecast.md §2): NetCDF and GRIB2 files made here, bilinear interpolation, units,
de-accumulation from metadata, rejected variables, loading into ``nwp_value`` with area means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import select

from bogda.forecast import nwp
from bogda.store import Store
from bogda.store.schema import nwp_value

LATS = np.array([45.0, 44.5, 44.0, 43.5])  # descending, as global models write them
LONS = np.array([86.5, 87.0, 87.5, 88.0, 88.5])
POINTS = {"S1": (44.0, 87.5), "S2": (44.25, 87.25)}
RUN = datetime(2026, 1, 10, 0, tzinfo=UTC)


def _t2m_field(k: int) -> np.ndarray:
    """A linear field in K: bilinear interpolation reproduces it exactly."""
    la, lo = np.meshgrid(LATS, LONS, indexing="ij")
    return 263.15 + 2.0 * (lo - 86.5) - 1.0 * (la - 43.5) + k


def _orography() -> np.ndarray:
    """Model surface height [m], linear so that bilinear interpolation reproduces it: 1100 m at S1, 1075 m at S2."""
    la, lo = np.meshgrid(LATS, LONS, indexing="ij")
    return 1000.0 + 100.0 * (lo - 86.5) + 0.0 * la


def _write_netcdf(
    path: Path, *, drop_units: bool = False, no_cell_methods: bool = False, orography: str | None = None
) -> None:
    import xarray as xr

    times = np.array([np.datetime64("2026-01-10T01:00") + np.timedelta64(h, "h") for h in range(3)])
    t2m = np.stack([_t2m_field(k) for k in range(3)])
    # precipitation in metres accumulated from the run start: 1, 3, 6 mm → 1, 2, 3 mm per hour
    tp = np.stack([np.full((4, 5), v) for v in (0.001, 0.003, 0.006)])
    bounds = np.array([[np.datetime64("2026-01-10T00:00"), t] for t in times])
    ds = xr.Dataset(
        {
            "t2m": (("time", "latitude", "longitude"), t2m, {"units": "K"}),
            "u10": (("time", "latitude", "longitude"), np.full((3, 4, 5), 3.0), {"units": "m s-1"}),
            "v10": (("time", "latitude", "longitude"), np.full((3, 4, 5), -4.0), {"units": "m s-1"}),
            "tp": (
                ("time", "latitude", "longitude"),
                tp,
                {"units": "m", **({} if no_cell_methods else {"cell_methods": "time: sum"})},
            ),
            "time_bnds": (("time", "nv"), bounds),
        },
        coords={"time": ("time", times, {"bounds": "time_bnds"}), "latitude": LATS, "longitude": LONS},
        attrs={"forecast_reference_time": RUN.isoformat()},
    )
    if orography == "orog":
        ds["orog"] = (("latitude", "longitude"), _orography(), {"units": "m", "standard_name": "surface_altitude"})
    elif orography == "z":
        ds["z"] = (("time", "latitude", "longitude"), np.stack([_orography() * nwp.G0] * 3), {"units": "m**2 s**-2"})
    if drop_units:
        del ds["u10"].attrs["units"]
    for v in ("time", "time_bnds"):
        ds[v].encoding["units"] = "hours since 2026-01-10 00:00:00"
    ds.to_netcdf(path, engine="h5netcdf")


def test_bilinear_is_exact_on_linear_fields() -> None:
    f = _t2m_field(0)
    for la, lo in [(44.0, 87.5), (44.25, 87.25), (43.6, 88.4)]:
        expected = 263.15 + 2.0 * (lo - 86.5) - 1.0 * (la - 43.5)
        assert float(nwp.bilinear(f, LATS, LONS, la, lo)) == pytest.approx(expected)
    with pytest.raises(nwp.GridError):
        nwp.bilinear(f, LATS, LONS, 46.0, 87.0)


def test_netcdf_units_interpolation_and_deaccumulation(tmp_path: Path) -> None:
    path = tmp_path / "run.nc"
    _write_netcdf(path)
    b = nwp.read_netcdf(path, POINTS, source="test_nc")
    assert b.errors == []
    v = b.values
    t = v.filter((pl.col("variable") == "t2m") & (pl.col("location_id") == "S2")).sort("valid_start")
    expected = 263.15 + 2.0 * 0.75 - 1.0 * 0.75 - 273.15
    assert t["value"].to_list() == pytest.approx([expected, expected + 1, expected + 2])
    assert t["run_time"][0] == RUN and t["valid_start"][0] == RUN + timedelta(hours=1)
    p = v.filter((pl.col("variable") == "precip") & (pl.col("location_id") == "S1")).sort("valid_start")
    assert p["value"].to_list() == pytest.approx([1.0, 2.0, 3.0])  # de-accumulated, m → mm
    assert p["valid_start"][0] == RUN and p["valid_end"][0] == RUN + timedelta(hours=1)
    ws = v.filter(pl.col("variable") == "ws10")["value"].to_list()  # derived from u and v
    assert ws and all(x == pytest.approx(5.0) for x in ws)


def _t2m(b: nwp.WeatherBatch, code: str) -> list[float]:
    v = b.values.filter((pl.col("variable") == "t2m") & (pl.col("location_id") == code)).sort("valid_start")
    return v["value"].to_list()


@pytest.mark.parametrize("orography", ["orog", "z"])
def test_netcdf_temperature_corrected_to_station_height(tmp_path: Path, orography: str) -> None:
    """forecast.md §2: T corrected to the station's height at 6.5 K/km from the model orography (in metres, or the
    surface geopotential divided by g); a station without an elevation keeps the model value and is named."""
    path = tmp_path / "run.nc"
    _write_netcdf(path, orography=orography)
    plain = nwp.read_netcdf(path, POINTS)
    b = nwp.read_netcdf(path, POINTS, heights={"S1": 800.0, "S2": None})
    # S1: model surface 1100 m, station 800 m → 0.0065 × 300 = 1.95 K warmer
    assert _t2m(b, "S1") == pytest.approx([t + 1.95 for t in _t2m(plain, "S1")])
    assert _t2m(b, "S2") == pytest.approx(_t2m(plain, "S2"))
    assert b.notes == ["t2m not corrected to station height at 1 station(s) without an elevation: S2"]
    assert plain.notes == [] and b.errors == []
    # other variables untouched; RH is derived after the correction, from the corrected T
    u = b.values.filter(pl.col("variable") == "u10")["value"].to_list()
    assert u and all(x == pytest.approx(3.0) for x in u)


def test_netcdf_without_orography_says_temperature_is_uncorrected(tmp_path: Path) -> None:
    path = tmp_path / "run.nc"
    _write_netcdf(path)
    b = nwp.read_netcdf(path, POINTS, heights={"S1": 800.0, "S2": 900.0})
    assert _t2m(b, "S1") == pytest.approx(_t2m(nwp.read_netcdf(path, POINTS), "S1"))
    assert b.notes == ["t2m not corrected to station height: the file has no model orography (orog / surface z)"]


def test_netcdf_rejects_variable_without_unit_or_accumulation(tmp_path: Path) -> None:
    path = tmp_path / "bad.nc"
    _write_netcdf(path, drop_units=True, no_cell_methods=True)
    b = nwp.read_netcdf(path, POINTS)
    reasons = {e.field: e.reason for e in b.errors}
    assert "no units" in reasons["u10"] and "accumulation unknown" in reasons["tp"]
    assert all(e.file == str(path) for e in b.errors)
    assert set(b.values["variable"].unique()) == {"t2m", "v10"}  # the good variables are still read


def test_netcdf_station_outside_grid_rejected(tmp_path: Path) -> None:
    path = tmp_path / "run.nc"
    _write_netcdf(path)
    b = nwp.read_netcdf(path, {"FAR": (40.0, 80.0)})
    assert b.values.height == 0 and any("outside the grid" in e.reason for e in b.errors)


def _write_grib2(path: Path, *, orography: bool = False) -> None:
    eccodes = pytest.importorskip("eccodes")
    with path.open("wb") as fh:
        if orography:  # surface geopotential at step 0, as global models send it
            h = eccodes.codes_grib_new_from_samples("regular_ll_sfc_grib2")
            for key, value in (("Ni", LONS.size), ("Nj", LATS.size), ("dataDate", 20260110), ("dataTime", 0)):
                eccodes.codes_set_long(h, key, value)
            for key, value in (
                ("latitudeOfFirstGridPointInDegrees", LATS[0]),
                ("latitudeOfLastGridPointInDegrees", LATS[-1]),
                ("longitudeOfFirstGridPointInDegrees", LONS[0]),
                ("longitudeOfLastGridPointInDegrees", LONS[-1]),
                ("iDirectionIncrementInDegrees", 0.5),
                ("jDirectionIncrementInDegrees", 0.5),
            ):
                eccodes.codes_set_double(h, key, value)
            eccodes.codes_set(h, "shortName", "z")
            eccodes.codes_set_values(h, (_orography() * nwp.G0).ravel())
            eccodes.codes_write(h, fh)
            eccodes.codes_release(h)
        for k, step in enumerate((1, 2)):
            for short, vals in (("2t", _t2m_field(k)), ("tp", np.full((4, 5), 0.001 * step * (step + 1) / 2))):
                h = eccodes.codes_grib_new_from_samples("regular_ll_sfc_grib2")
                eccodes.codes_set_long(h, "Ni", LONS.size)
                eccodes.codes_set_long(h, "Nj", LATS.size)
                eccodes.codes_set_double(h, "latitudeOfFirstGridPointInDegrees", LATS[0])
                eccodes.codes_set_double(h, "latitudeOfLastGridPointInDegrees", LATS[-1])
                eccodes.codes_set_double(h, "longitudeOfFirstGridPointInDegrees", LONS[0])
                eccodes.codes_set_double(h, "longitudeOfLastGridPointInDegrees", LONS[-1])
                eccodes.codes_set_double(h, "iDirectionIncrementInDegrees", 0.5)
                eccodes.codes_set_double(h, "jDirectionIncrementInDegrees", 0.5)
                eccodes.codes_set_long(h, "dataDate", 20260110)
                eccodes.codes_set_long(h, "dataTime", 0)
                if short == "tp":
                    eccodes.codes_set(h, "shortName", "tp")
                    eccodes.codes_set(h, "stepType", "accum")
                    eccodes.codes_set(h, "stepRange", f"0-{step}")
                else:
                    eccodes.codes_set(h, "shortName", "2t")
                    eccodes.codes_set_long(h, "step", step)
                eccodes.codes_set_values(h, vals.ravel())
                eccodes.codes_write(h, fh)
                eccodes.codes_release(h)


def test_grib2_read_and_deaccumulate(tmp_path: Path) -> None:
    if not nwp.grib_available():
        pytest.skip("cfgrib/ecCodes not loadable (optional dependency)")
    path = tmp_path / "run.grib2"
    _write_grib2(path)
    b = nwp.read_grib2(path, POINTS, source="test_grib")
    v = b.values
    t = v.filter((pl.col("variable") == "t2m") & (pl.col("location_id") == "S1")).sort("valid_start")
    expected = 263.15 + 2.0 * 1.0 - 1.0 * 0.5 - 273.15
    assert t["value"].to_list() == pytest.approx([expected, expected + 1], abs=1e-3)
    assert t["valid_start"].to_list() == [RUN + timedelta(hours=1), RUN + timedelta(hours=2)]
    p = v.filter((pl.col("variable") == "precip") & (pl.col("location_id") == "S1")).sort("valid_start")
    assert p["value"].to_list() == pytest.approx([1.0, 2.0], abs=1e-3)  # accumulated 1 mm, 3 mm → 1, 2 per hour
    assert p["valid_start"].to_list() == [RUN, RUN + timedelta(hours=1)]


def test_grib2_temperature_corrected_with_the_surface_geopotential(tmp_path: Path) -> None:
    if not nwp.grib_available():
        pytest.skip("cfgrib/ecCodes not loadable (optional dependency)")
    path = tmp_path / "run.grib2"
    _write_grib2(path, orography=True)
    plain = nwp.read_grib2(path, POINTS)
    b = nwp.read_grib2(path, POINTS, heights={"S1": 1500.0, "S2": 1075.0})
    assert len(_t2m(b, "S1")) == 2 and b.notes == []
    # S1: model surface 1100 m, station 1500 m → 2.6 K colder; S2 at the model's height → unchanged
    assert _t2m(b, "S1") == pytest.approx([t - 2.6 for t in _t2m(plain, "S1")], abs=1e-3)
    assert _t2m(b, "S2") == pytest.approx(_t2m(plain, "S2"), abs=1e-3)


def test_corrupt_grib_is_reported(tmp_path: Path) -> None:
    if not nwp.grib_available():
        pytest.skip("cfgrib/ecCodes not loadable (optional dependency)")
    path = tmp_path / "bad.grib2"
    path.write_bytes(b"GRIB" + b"\x00" * 40)
    b = nwp.read_grib2(path, POINTS)
    assert b.values.height == 0
    assert [(e.file, e.line, e.field) for e in b.errors] == [(str(path), 1, nwp.CORRUPT)]
    assert "byte 0" in b.errors[0].reason and nwp.corrupt_messages(b) == 1


# ---- GRIB step ranges, corrupt messages and rejections (forecast.md §2 "GRIB2", §6) ---------------------------


def _grib(
    fh,
    short: str,
    value: float | np.ndarray,
    *,
    step: int | None = None,
    step_range: str | None = None,
    pdt0_step: int | None = None,
    lats: np.ndarray = LATS,
    lons: np.ndarray = LONS,
) -> None:
    """Append one GRIB2 message on a regular 0.5° grid: an instant at ``step``, an accumulation over
    ``step_range`` ("s-e" hours), or (``pdt0_step``) a product template without any time range."""
    eccodes = pytest.importorskip("eccodes")
    h = eccodes.codes_grib_new_from_samples("regular_ll_sfc_grib2")
    for key, v in (("Ni", lons.size), ("Nj", lats.size), ("dataDate", 20260110), ("dataTime", 0)):
        eccodes.codes_set_long(h, key, v)
    for key, v in (
        ("latitudeOfFirstGridPointInDegrees", lats[0]),
        ("latitudeOfLastGridPointInDegrees", lats[-1]),
        ("longitudeOfFirstGridPointInDegrees", lons[0]),
        ("longitudeOfLastGridPointInDegrees", lons[-1]),
        ("iDirectionIncrementInDegrees", 0.5),
        ("jDirectionIncrementInDegrees", 0.5),
    ):
        eccodes.codes_set_double(h, key, float(v))
    eccodes.codes_set(h, "shortName", short)
    if step_range is not None:
        eccodes.codes_set(h, "stepType", "accum")
        eccodes.codes_set(h, "stepRange", step_range)
    elif pdt0_step is not None:
        eccodes.codes_set_long(h, "productDefinitionTemplateNumber", 0)
        eccodes.codes_set_long(h, "parameterNumber", 8)  # WMO total precipitation (ECMWF's tp is local 193)
        eccodes.codes_set_long(h, "forecastTime", pdt0_step)
    else:
        eccodes.codes_set_long(h, "step", step or 0)
    field = np.broadcast_to(np.asarray(value, dtype=float), (lats.size, lons.size))
    eccodes.codes_set_values(h, np.ascontiguousarray(field).ravel())
    eccodes.codes_write(h, fh)
    eccodes.codes_release(h)


def _series(b: nwp.WeatherBatch, var: str, code: str = "S1") -> list[tuple[int, int, float]]:
    """(start h, end h, value) of ``var`` at ``code``, in valid order."""
    v = b.values.filter((pl.col("variable") == var) & (pl.col("location_id") == code)).sort("valid_start")
    return [
        (int((s - RUN).total_seconds() // 3600), int((e - RUN).total_seconds() // 3600), round(x, 4))
        for s, e, x in v.select("valid_start", "valid_end", "value").rows()
    ]


@pytest.fixture
def grib() -> None:
    if not nwp.grib_available():
        pytest.skip("ecCodes not loadable (optional dependency)")


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        # per-interval accumulations: each message is the amount over its own hour
        ({"0-1": 1.0, "1-2": 1.0, "2-3": 1.0}, [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0)]),
        # running totals from the run start: differenced
        ({"0-1": 1.0, "0-2": 3.0, "0-3": 6.0}, [(0, 1, 1.0), (1, 2, 2.0), (2, 3, 3.0)]),
        # a mixture: running totals, then an interval, then a total reset at 3 h
        (
            {"0-1": 1.0, "0-2": 3.0, "2-3": 1.0, "3-4": 2.0, "3-5": 5.0},
            [(0, 1, 1.0), (1, 2, 2.0), (2, 3, 1.0), (3, 4, 2.0), (4, 5, 3.0)],
        ),
        # 3-hourly totals with the hourly intervals beside them: the intervals are taken, the total ignored
        ({"0-1": 1.0, "1-2": 2.0, "2-3": 3.0, "0-3": 6.0}, [(0, 1, 1.0), (1, 2, 2.0), (2, 3, 3.0)]),
        # the empty accumulation at step 0 carries nothing
        ({"0-0": 0.0, "0-1": 1.0}, [(0, 1, 1.0)]),
    ],
)
def test_grib2_precipitation_from_each_message_step_range(
    grib: None, tmp_path: Path, ranges: dict[str, float], expected: list[tuple[int, int, float]]
) -> None:
    path = tmp_path / "tp.grib2"
    with path.open("wb") as fh:
        for rng, mm in ranges.items():
            _grib(fh, "tp", mm / 1000.0, step_range=rng)  # metres in the file
    b = nwp.read_grib2(path, POINTS)
    assert b.errors == []
    assert _series(b, "precip") == [(s, e, pytest.approx(x, abs=1e-3)) for s, e, x in expected]
    assert _series(b, "precip", "S2") == _series(b, "precip")


def test_grib2_radiation_running_totals_become_interval_means(grib: None, tmp_path: Path) -> None:
    path = tmp_path / "ssrd.grib2"
    with path.open("wb") as fh:
        _grib(fh, "ssrd", 360_000.0, step_range="0-1")  # 100 W/m² over the first hour
        _grib(fh, "ssrd", 1_080_000.0, step_range="0-2")  # then 200 W/m²
        _grib(fh, "ssrd", 1_800_000.0, step_range="2-4")  # then 100 W/m² over 2 h
    b = nwp.read_grib2(path, POINTS)
    assert b.errors == []
    got = _series(b, "ssrd")
    assert [(s, e) for s, e, _ in got] == [(0, 1), (1, 2), (2, 4)]
    assert [x for _, _, x in got] == pytest.approx([100.0, 200.0, 250.0], rel=1e-3)


def test_grib2_accumulation_that_metadata_cannot_give_is_rejected(grib: None, tmp_path: Path) -> None:
    """forecast.md §2/§6: an accumulation with no step range in its metadata (a product template without a time
    range), or one that overlaps the previous interval with nothing to subtract, rejects the variable, naming file
    and variable; the file's other variables are still read."""
    path = tmp_path / "no_range.grib2"
    with path.open("wb") as fh:
        _grib(fh, "2t", 280.0, step=1)
        _grib(fh, "tp", 0.001, pdt0_step=1)
        _grib(fh, "tp", 0.003, pdt0_step=2)
    b = nwp.read_grib2(path, POINTS)
    assert [(e.file, e.field) for e in b.errors] == [(str(path), "parameter 0/1/8")]
    assert "(precip)" in b.errors[0].reason and "accumulation period unknown" in b.errors[0].reason
    assert set(b.values["variable"].unique()) == {"t2m"}
    overlap = tmp_path / "overlap.grib2"
    with overlap.open("wb") as fh:
        _grib(fh, "tp", 0.002, step_range="0-2")
        _grib(fh, "tp", 0.002, step_range="1-3")
    b = nwp.read_grib2(overlap, POINTS)
    assert b.values.height == 0
    assert b.errors[0].field == "tp" and "no total over (1, 2] h to subtract" in b.errors[0].reason


def test_grib2_variable_without_units_is_rejected(grib: None, tmp_path: Path, monkeypatch) -> None:
    # ecCodes gives every parameter it names a unit; a parameter identified by number has only the one given here
    monkeypatch.setitem(nwp.GRIB_PARAMS, (0, 1, 8), ("precip", ""))
    path = tmp_path / "nounit.grib2"
    with path.open("wb") as fh:
        _grib(fh, "tp", 0.001, pdt0_step=1)
    b = nwp.read_grib2(path, POINTS)
    assert [(e.file, e.field) for e in b.errors] == [(str(path), "parameter 0/1/8")]
    assert "no units" in b.errors[0].reason and b.values.height == 0


def test_grib2_station_off_the_grid_rejects_the_variable(grib: None, tmp_path: Path) -> None:
    path = tmp_path / "run.grib2"
    with path.open("wb") as fh:
        _grib(fh, "2t", 280.0, step=1)
        _grib(fh, "tp", 0.001, step_range="0-1")
    b = nwp.read_grib2(path, {**POINTS, "FAR": (40.0, 80.0)})
    assert b.values.height == 0
    assert sorted(e.field for e in b.errors) == ["2t", "tp"]
    assert all("FAR (40.0, 80.0)" in e.reason and "outside the grid" in e.reason for e in b.errors)


def test_grib2_corrupt_message_is_skipped_recorded_and_degrades_the_run(grib: None, tmp_path: Path) -> None:
    path = tmp_path / "mixed.grib2"
    with path.open("wb") as fh:
        _grib(fh, "2t", 280.0, step=1)
        bad_at = fh.tell()
        fh.write(b"GRIB" + b"\x00" * 60 + b"7777")  # edition 0: not a GRIB message
        _grib(fh, "2t", 281.0, step=2)
        _grib(fh, "tp", 0.001, step_range="0-1")
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])  # the last message is cut short
    b = nwp.read_grib2(path, POINTS)
    assert _series(b, "t2m") == [(1, 2, pytest.approx(6.85, abs=1e-3)), (2, 3, pytest.approx(7.85, abs=1e-3))]
    bad = [(e.line, e.raw) for e in b.errors if e.field == nwp.CORRUPT]
    assert bad[0] == (2, f"offset {bad_at}") and len(bad) == 2 and nwp.corrupt_messages(b) == 2
    assert all(e.file == str(path) and "the run is degraded" in e.reason for e in b.errors)
    assert "truncated" in b.errors[-1].reason
    assert b.notes == ["2 corrupt GRIB message(s) skipped: the run is degraded"]


def test_load_nwp_records_arrival_and_degraded_runs(grib: None, store: Store, tmp_path: Path) -> None:
    """forecast.md §2 "the recorded arrival time", §6 "the run is degraded": kept with the run in table nwp_run."""
    path = tmp_path / "mixed.grib2"
    with path.open("wb") as fh:
        _grib(fh, "2t", 280.0, step=1)
        fh.write(b"GRIB" + b"\x00" * 60 + b"7777")
    b = nwp.read_grib2(path, POINTS, source="g")
    arrived = RUN + timedelta(hours=4, minutes=20)
    assert nwp.load_nwp(store, b, loaded_at=arrived) == 2  # value rows only
    (info,) = nwp.run_info(store).rows(named=True)
    notes = info.pop("notes")
    assert info == {"source": "g", "run_time": RUN, "arrived_at": arrived, "skipped_messages": 1, "loaded_at": arrived}
    assert notes == [
        "1 corrupt GRIB message(s) skipped: the run is degraded",
        f"{path}:2 GRIB message: {b.errors[0].reason}",
    ]
    assert "message 2 at byte" in b.errors[0].reason
    # a clean re-load later clears the degradation and its notes, keeps the first arrival, records the new load
    clean = tmp_path / "clean.grib2"
    with clean.open("wb") as fh:
        _grib(fh, "2t", 280.0, step=1)
    later = RUN + timedelta(hours=9)
    nwp.load_nwp(store, nwp.read_grib2(clean, POINTS, source="g"), loaded_at=later)
    assert nwp.run_info(store).rows() == [("g", RUN, arrived, 0, [], later)]
    # a re-load that arrived earlier (e.g. a file loaded by hand before the scheduled one) moves the arrival back
    nwp.load_nwp(store, b.values, loaded_at=RUN + timedelta(hours=3))
    assert nwp.run_info(store)["arrived_at"].to_list() == [RUN + timedelta(hours=3)]
    # a back-load of an archived run records no arrival (run_time + latency applies)
    nwp.load_nwp(store, b, loaded_at=RUN + timedelta(days=30))
    nwp.load_nwp(store, b.values.with_columns(pl.lit("h").alias("source")), loaded_at=RUN + timedelta(days=30))
    assert nwp.run_info(store, source="h").select("arrived_at", "skipped_messages").rows() == [(None, 0)]
    # … and a back-load keeps an arrival recorded before (the earliest recorded arrival stays)
    assert nwp.run_info(store, source="g").select("arrived_at", "skipped_messages").rows() == [
        (RUN + timedelta(hours=3), 1)
    ]
    assert nwp.run_info(store, run_from=RUN + timedelta(hours=1)).height == 0
    # the runs' bookkeeping is no longer in nwp_value: only stations there
    with store.engine.connect() as conn:
        locs = set(conn.execute(select(nwp_value.c.location_id)).scalars())
    assert locs == {"S1", "S2"}


def test_run_table_keeps_the_earliest_arrival_in_sql(store: Store) -> None:
    """Two loads of one run: the arrival kept is the earliest, whichever load is written last (the upsert decides,
    not a read before the write)."""
    v = pl.DataFrame(
        [("g", RUN, RUN + timedelta(hours=1), RUN + timedelta(hours=2), "S1", "t2m", 1.0)],
        schema=nwp._SCHEMA,
        orient="row",
    )
    nwp.load_nwp(store, v, loaded_at=RUN + timedelta(hours=8))
    nwp.load_nwp(store, v, loaded_at=RUN + timedelta(hours=5))
    nwp.load_nwp(store, v, loaded_at=RUN + timedelta(hours=7))
    row = nwp.run_info(store).row(0, named=True)
    assert row["arrived_at"] == RUN + timedelta(hours=5) and row["loaded_at"] == RUN + timedelta(hours=7)


def test_migration_0020_down_and_up(store: Store) -> None:
    """Table nwp_run comes with migration 0020 and goes with its downgrade (nwp_value stays)."""
    from alembic import command
    from sqlalchemy import inspect

    from bogda.store.migrations import alembic_config

    cfg = alembic_config(store.engine)
    assert "nwp_run" in inspect(store.engine).get_table_names()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0019_forecast_publication")
    names = inspect(store.engine).get_table_names()
    assert "nwp_run" not in names and "nwp_value" in names
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    checks = {c["name"] for c in inspect(store.engine).get_check_constraints("nwp_run")}
    assert "ck_nwp_run_skipped_messages" in checks


def test_load_notes_are_capped() -> None:
    from bogda.forecast.weather import RowError, WeatherBatch

    errors = [RowError("w.csv", k, "value", "not a number", "x") for k in range(2, 102)]
    kept = nwp.load_notes(WeatherBatch(pl.DataFrame(schema=nwp._SCHEMA), errors, ["a note"]))
    assert len(kept) == nwp.MAX_RUN_NOTES and kept[:2] == ["a note", "w.csv:2 value: not a number"]
    assert kept[-1].startswith("… and 52 more")


def test_load_nwp_with_area_means_is_idempotent(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "run.nc"
    _write_netcdf(path)
    b = nwp.read_nwp(path, POINTS, source="test_nc")
    n = nwp.load_nwp(store, b.values, members={"652301": ["S1", "S2"]})
    assert n == nwp.load_nwp(store, b.values, members={"652301": ["S1", "S2"]})
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(nwp_value.c.location_id, nwp_value.c.value).where(
                nwp_value.c.variable == "t2m", nwp_value.c.valid_start == RUN + timedelta(hours=1)
            )
        ).all()
    vals = dict(rows)
    assert len(rows) == 3 and vals["652301"] == pytest.approx((vals["S1"] + vals["S2"]) / 2)


def test_load_nwp_command_corrects_to_registered_elevations(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bogda.cli import app
    from bogda.store import connect

    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'n.db'}"
    assert runner.invoke(app, ["init", "--database-url", url]).exit_code == 0
    stations = tmp_path / "stations.csv"
    stations.write_text("code,name,lon,lat,海拔\nS1,站一,87.5,44.0,800\nS2,站二,87.25,44.25,\n", encoding="utf-8")
    imported = runner.invoke(app, ["registry", "import", "stations", str(stations), "--database-url", url])
    assert imported.exit_code == 0, imported.output
    path = tmp_path / "run.nc"
    _write_netcdf(path, orography="orog")
    out = runner.invoke(app, ["forecast", "load-nwp", str(path), "--database-url", url])
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())  # the console wraps long lines
    assert "note: t2m not corrected to station height at 1 station(s) without an elevation: S2" in said
    with connect(url).engine.connect() as conn:
        got = conn.execute(
            select(nwp_value.c.value)
            .where(nwp_value.c.variable == "t2m", nwp_value.c.location_id == "S1")
            .order_by(nwp_value.c.valid_start)
        ).scalars()
        got = list(got)
    assert got == pytest.approx([t + 1.95 for t in _t2m(nwp.read_netcdf(path, POINTS), "S1")])
