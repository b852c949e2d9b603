"""The demo's township micro-stations store their weather (HJ 212 units), which agrees with the simulated pollution,
so a demo given a year of history trains models that read the observed weather (forecast.md §3.4, §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from bogda.demo.region import SIM_STATIONS
from bogda.demo.simulate import WEATHER_UNITS, station_frame
from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast import station_weather as sw
from bogda.store import Store
from bogda.store import series as store_series

POLLUTANT_CODES = {"a34004", "a34002", "a21026", "a21004", "a21005", "a05024"}


def test_weather_goes_to_the_weather_sites_only_and_leaves_the_pollutants_alone() -> None:
    sites = {1: 1.0, 2: 0.8, 3: 1.3}
    start = datetime(2025, 1, 1)
    plain = station_frame(sites, start, 72, build_up_hours=24)
    both = station_frame(sites, start, 72, build_up_hours=24, weather_sites=[2, 3])
    key = ["site_id", "parameter", "ts"]
    assert both.filter(pl.col("parameter").is_in(POLLUTANT_CODES)).sort(key).equals(plain.sort(key))
    weather = both.filter(~pl.col("parameter").is_in(POLLUTANT_CODES))
    assert set(weather["site_id"]) == {2, 3}
    assert dict(weather.select("parameter", "unit").unique().iter_rows()) == WEATHER_UNITS
    assert WEATHER_UNITS["a01006"] == "kPa"  # as the micro-stations' data loggers send it (HJ 212)
    assert weather.height == 2 * 5 * 72 and weather["value"].is_finite().all()


def test_the_weather_agrees_with_the_pollution_and_the_seasons() -> None:
    start = datetime(2024, 7, 1)
    frame = station_frame({1: 1.0}, start, 400 * 24, weather_sites=[1])
    wide = (
        frame.pivot(on="parameter", index="ts", values="value")
        .sort("ts")
        .with_columns((pl.col("ts") + timedelta(hours=8)).dt.date().alias("day"))
    )
    daily = wide.group_by("day").agg(pl.all().exclude("ts", "day").mean()).sort("day")
    pm = np.log(daily["a34004"].to_numpy())
    ws = daily["a01007"].to_numpy()
    # a windy day comes before the pollution falls: the wind carries the next day's change
    assert np.corrcoef(ws[:-1], pm[1:] - pm[:-1])[0, 1] < -0.45
    month = wide.group_by(pl.col("ts").dt.month().alias("m")).agg(pl.col("a01001", "a01002").mean())
    by_month = {m: (t, rh) for m, t, rh in month.iter_rows()}
    assert by_month[1][0] < -8 < 18 < by_month[7][0]  # Changji: about −15 °C in January, 25 °C in July
    assert by_month[1][1] > by_month[7][1]  # more humid in winter
    for code, column in sw.STORE_WEATHER.items():
        if code in WEATHER_UNITS:
            values = sw.to_canonical(wide[code].to_numpy(), column, WEATHER_UNITS[code])
            lo, hi = sw.PLAUSIBLE[column]
            assert lo <= values.min() and values.max() <= hi, code
    psfc = sw.to_canonical(wide["a01006"].to_numpy(), "psfc", "kPa")
    assert 930 < np.median(psfc) < 990  # about 580 m above sea level


def test_the_demo_stores_read_as_forecast_inputs_at_the_township_stations(demo_store: Store) -> None:
    reg = sv.registry(demo_store)
    township = [reg.site_of[code] for code, *_ in SIM_STATIONS]
    national = [sid for code, sid in reg.site_of.items() if not code.startswith("CJ-")]
    assert national
    ser = store_series.find_series(demo_store, sites=township + national, parameters=list(sw.STORE_WEATHER))
    assert set(ser["site_id"]) == set(township)
    end = datetime.now(UTC).replace(tzinfo=None)
    rows, notes = sw.read_weather(demo_store, township, end - timedelta(days=8), end)
    assert notes == []
    assert set(rows["column"]) == {"t2m", "rh2m", "psfc", "ws10", "wd10"}
    assert 930 < rows.filter(pl.col("column") == "psfc")["value"].median() < 990  # kPa read as hPa
    # the demo's 7 days make every variable the township stations measure a model input on those days
    panel = sv.load_panel(demo_store, reg, end, days=7)
    assert op.observed_weather_vars(panel, 0, 6, 7) == ("t2m", "rh2m", "ws10", "u10", "v10", "psfc")
