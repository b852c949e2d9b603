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
