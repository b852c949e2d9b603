"""CSV weather adapter, unit conversion, run selection (forecast.md §2, §3.4, §6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from bogda.forecast.features import Panel
from bogda.forecast.weather import convert_unit, read_weather_csv, run_panel, select_run

CSV = """run_time,valid_time,station_code,variable,value,unit
2019-01-01T00:00:00+00:00,2019-01-01T06:00:00+00:00,2691A,t2m,263.15,K
2019-01-01T00:00:00+00:00,2019-01-01T06:00:00+00:00,2691A,td2m,-15,°C
2019-01-01T00:00:00+00:00,2019-01-01T06:00:00+00:00,2691A,psfc,95000,Pa
2019-01-01T00:00:00+00:00,2019-01-01T06:00:00+00:00,2691A,precip,0.0005,m
2019-01-01T08:00:00+08:00,2019-01-01T14:00:00+08:00,2691A,ws10,3,m/s
2019-01-01T00:00:00,2019-01-01T06:00:00+00:00,2691A,t2m,1,°C
2019-01-01T00:00:00+00:00,2019-01-01T06:00:00+00:00,2691A,foo,1,°C
2019-01-01T00:00:00+00:00,2019-01-01T06:00:00+00:00,2691A,ssrd,3600000,J/m2
2019-01-01T00:00:00+00:00,2019-01-01T06:00:00+00:00,2691A,t2m,abc,°C
2019-01-01T00:00:00+00:00,2019-01-01T06:00:00+00:00,2691A,psfc,950,furlongs
"""


def test_csv_rows_converted_and_bad_rows_kept_with_reasons():
    batch = read_weather_csv("nwp.csv", text=CSV, name="test")
    vals = {r["variable"]: r["value"] for r in batch.values.iter_rows(named=True)}
    assert vals["t2m"] == pytest.approx(-10.0)  # K → °C
    assert vals["psfc"] == pytest.approx(950.0)  # Pa → hPa
    assert vals["precip"] == pytest.approx(0.5)  # m → mm
    assert vals["td2m"] == -15.0 and vals["ws10"] == 3.0
    # +08:00 times are the same instants as the UTC ones
    assert batch.values["valid_start"].n_unique() == 1
    assert batch.values["valid_end"][0] - batch.values["valid_start"][0] == timedelta(hours=1)
    got = {(e.line, e.field) for e in batch.errors}
    assert got == {(7, "run_time"), (8, "variable"), (9, "unit"), (10, "value"), (11, "unit")}
    assert batch.n_rejected == 5
    assert all(e.file == "nwp.csv" and e.raw for e in batch.errors)
    assert "offset" in next(e.reason for e in batch.errors if e.line == 7)
    assert "time bounds" in next(e.reason for e in batch.errors if e.line == 9)


def test_csv_with_lat_lon_locations():
    text = "run_time,valid_time,lat,lon,variable,value,unit\n2019-01-01T00:00Z,2019-01-01T03:00Z,44.0,87.3,t2m,5,C\n"
    batch = read_weather_csv("p.csv", text=text)
    assert batch.values["location_id"].to_list() == ["44.0000,87.3000"]


def test_bad_header_and_conflicting_duplicates_reject_the_batch():
    with pytest.raises(ValueError, match="header"):
        read_weather_csv("x.csv", text="a,b,c\n1,2,3\n")
    dup = CSV.splitlines()[0] + "\n" + "\n".join([CSV.splitlines()[5], CSV.splitlines()[5].replace(",3,", ",4,")])
    with pytest.raises(ValueError, match="conflicting duplicate"):
        read_weather_csv("d.csv", text=dup)


@pytest.mark.parametrize(
    ("var", "value", "unit", "expected"),
    [("t2m", 300.0, "K", 26.85), ("psfc", 100000.0, "Pa", 1000.0), ("tcc", 50.0, "%", 0.5), ("blh", 800.0, "m", 800.0)],
)
def test_convert_unit(var, value, unit, expected):
    assert convert_unit(var, value, unit) == pytest.approx(expected)


def test_convert_unit_rejects_wrong_dimension():
    with pytest.raises(ValueError, match="does not fit"):
        convert_unit("t2m", 1.0, "hPa")


ISSUE = datetime(2019, 1, 2, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("runs_h_before", "expected_h_before", "degraded"),
    [
        ([2, 8, 14], 8, False),  # the 2-h-old run has not arrived (latency 6 h)
        ([20, 26], 20, True),  # an earlier run stands in: degraded, with the reason
        ([40], None, True),  # older than the fallback age: no NWP
        ([1], None, True),  # nothing has arrived yet
    ],
)
def test_select_run(runs_h_before, expected_h_before, degraded):
    runs = [ISSUE - timedelta(hours=h) for h in runs_h_before]
    run, reasons = select_run(runs, ISSUE)
    assert run == (None if expected_h_before is None else ISSUE - timedelta(hours=expected_h_before))
    assert bool(reasons) == degraded


def test_run_panel_aligns_with_observation_panel_and_derives_rh():
    text = (
        "run_time,valid_time,station_code,variable,value,unit\n"
        "2019-01-01T00:00Z,2019-01-01T17:00Z,A,t2m,20,C\n"
        "2019-01-01T00:00Z,2019-01-01T17:00Z,A,td2m,20,C\n"
    )
    batch = read_weather_csv("r.csv", text=text)
    like = Panel(date(2019, 1, 1), ("A", "B"), {"a34004": np.zeros((2, 72))})
    p = run_panel(batch.values, datetime(2019, 1, 1, tzinfo=UTC), like)
    # 17:00 UTC on 1 Jan = 01:00 Beijing on 2 Jan = position 25 of a panel starting 1 Jan Beijing
    assert p.data["t2m"][0, 25] == 20.0 and p.data["rh2m"][0, 25] == pytest.approx(100.0)
    assert np.isnan(p.data["t2m"][1]).all()
    assert p.data["t2m"].shape == (2, 72)
