"""Simulated monitoring data for the demo region (every value here is simulated, never real).

Winter in the Urumqi–Changji basin: temperature inversions trap emissions, so PM2.5 builds up over days and
clears with wind. The generator makes a slow episode component (AR(1) on days), a diurnal cycle (morning and
evening peaks, the heating hours) and hourly noise, per station with a local offset, seeded for repeatability.

The township stations (micro-stations with weather sensors, HJ 212 ST=22) also store their weather: temperature,
RH, pressure in kPa and wind (a01001, a01002, a01006, a01007, a01008, in HJ 212's units, as their simulated data
loggers send it live). The weather is made to agree with the pollution: the wind rises in the 24 hours before a
day whose episode component falls (a front clearing the basin) and drops during a build-up, and the cold and the
pressure follow the front, so that the forecast models learn from the observed weather (forecast.md §3.4) in a
demo given a year of history. The national stations store pollutants only, as CNEMC publishes them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from bogda.demo.region import SIM_STATIONS
from bogda.monitoring.formats.hj212_values import HJ212_DEFAULT_UNITS
from bogda.store import Store, series
from bogda.timeutil import floor_to, now_utc

PARAMETERS: dict[str, tuple[str, float]] = {
    "a34004": ("ug/m3", 1.0),  # PM2.5
    "a34002": ("ug/m3", 1.6),  # PM10 ~ 1.6 x PM2.5 in winter
    "a21026": ("ug/m3", 0.12),  # SO2
    "a21004": ("ug/m3", 0.45),  # NO2
    "a21005": ("mg/m3", 0.012),  # CO
    "a05024": ("ug/m3", 0.0),  # O3: anti-correlated, handled below
}


WEATHER_UNITS: dict[str, str] = {
    c: HJ212_DEFAULT_UNITS["22"][c] for c in ("a01001", "a01002", "a01006", "a01007", "a01008")
}
"""The simulated station weather and its units: those an HJ 212 air micro-station sends (pressure in kPa)."""

EPISODE_SHOCK_SD = 0.45
"""Standard deviation of the daily shock of the log episode component (AR(1), coefficient 0.75)."""

EPISODE_PEAK = 1.8
"""The build-up's rise of the log episode component by its last hour (×6: an hourly PM2.5 of 55 becomes about 330)."""

DEMO_BUILD_UP_HOURS = 96
"""``bogda demo`` ends its data with a 4-day build-up: on the Changji demo stations today's AQI then exceeds 200 in
most counties, so the baseline forecast proposes yellow warnings (forecast.md §3.6) for the operator to decide."""


def station_frame(
    site_ids: dict[int, float],
    start: datetime,
    hours: int,
    *,
    seed: int = 7,
    build_up_hours: int = 0,
    weather_sites: Collection[int] = (),
) -> pl.DataFrame:
    """Hourly values for sites ``{site_id: level factor}`` from ``start`` (UTC, hour start) for ``hours``.

    ``build_up_hours``: the last hours hold a heavy-pollution build-up under a winter inversion, the episode
    component rising linearly by :data:`EPISODE_PEAK` to the last hour (so that the demo's forecasts reach the
    warning levels, and its warnings and emergency lists have something to show). ``weather_sites`` also get the
    weather of :func:`weather_frame`, driven by the same episode shocks; the pollutants are the same with or without
    it."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    ts = [start + timedelta(hours=int(h)) for h in t]
    bj_hour = (np.array([x.hour for x in ts]) + 8) % 24
    diurnal = 1.0 + 0.25 * np.exp(-(((bj_hour - 10) / 2.0) ** 2)) + 0.45 * np.exp(-(((bj_hour - 22) / 3.0) ** 2))
    days = hours // 24 + 2
    episode = np.empty(days)
    shocks = np.zeros(days)
    episode[0] = 0.0
    for d in range(1, days):
        shocks[d] = rng.normal(0, EPISODE_SHOCK_SD)
        episode[d] = 0.75 * episode[d - 1] + shocks[d]
    episode_h = np.interp(t / 24.0, np.arange(days), episode)
    build_up = np.zeros(hours)
    if build_up_hours:
        build_up = np.clip((t - (hours - build_up_hours)) / build_up_hours, 0.0, 1.0)
        episode_h += EPISODE_PEAK * build_up
    frames = []
    for site_id, factor in site_ids.items():
        noise = rng.normal(0, 0.18, hours)
        pm25 = np.clip(55.0 * factor * diurnal * np.exp(episode_h + noise), 3, 600)
        for code, (unit, ratio) in PARAMETERS.items():
            if code == "a05024":
                vals = np.clip(
                    75 - 0.35 * pm25 + 25 * np.sin((bj_hour - 9) / 24 * 2 * np.pi) + rng.normal(0, 6, hours), 2, 160
                )
            else:
                vals = pm25 * ratio * np.exp(rng.normal(0, 0.1, hours))
            digits = 3 if code == "a21005" else 0
            frames.append(
                pl.DataFrame(
                    {
                        "site_id": np.full(hours, site_id),
                        "parameter": code,
                        "ts": ts,
                        "value": np.round(vals, digits),
                        "flag": "N",
                        "unit": unit,
                    }
                )
            )
    if weather_sites:
        frames.append(weather_frame(sorted(weather_sites), ts, shocks, build_up, seed=seed))
    return pl.concat(frames).with_columns(pl.col("ts").dt.cast_time_unit("us"))


def weather_frame(
    site_ids: Sequence[int], ts: Sequence[datetime], shocks: np.ndarray, build_up: np.ndarray, *, seed: int = 7
) -> pl.DataFrame:
    """Hourly station weather at ``ts`` (UTC hour starts) in HJ 212's units (:data:`WEATHER_UNITS`).

    ``shocks``: the episode component's daily shocks (index = day since ``ts[0]``'s day point; the shock of day
    ``d`` moves the episode between day points ``d − 1`` and ``d``); ``build_up``: 0..1 per hour, the share of a
    build-up reached (calm). The synoptic wind index of an hour is that of the shock one day ahead: a negative
    shock (the pollution about to clear) comes with a rising north-westerly wind, a colder day and higher pressure.
    Seasons for Changji (about 580 m): −15 °C in January, 25 °C in July, calmer and more humid in winter. Each site
    adds its own offsets. Its own random stream, so the pollutants do not change with it.
    """
    rng = np.random.default_rng([seed, 212])
    hours = len(ts)
    t = np.arange(hours)
    bj = [x + timedelta(hours=8) for x in ts]
    bj_hour = np.array([x.hour for x in bj])
    doy = np.array([x.timetuple().tm_yday for x in bj])
    winter = 0.5 * (1.0 + np.cos(2 * np.pi * (doy - 15) / 365.25))  # 1 in mid-January, 0 in mid-July
    z = -shocks / EPISODE_SHOCK_SD
    synoptic_day = np.exp(0.55 * z + rng.normal(0, 0.25, len(shocks)))  # > 1 windy, < 1 calm
    synoptic = np.interp(t / 24.0 + 1.0, np.arange(len(shocks)), synoptic_day) * (1.0 - 0.6 * build_up)
    front = np.log(synoptic)
    sun = np.cos(2 * np.pi * (bj_hour - 15) / 24)  # +1 at 15:00, −1 at 03:00 Beijing time
    columns: dict[str, list[np.ndarray]] = {code: [] for code in WEATHER_UNITS}
    for _ in site_ids:
        wind_f, t_off, p_off = rng.uniform(0.8, 1.2), rng.normal(0, 1.5), rng.normal(0, 0.4)
        ws = (1.3 + 1.3 * (1 - winter)) * synoptic * (1 + 0.35 * sun) * wind_f * np.exp(rng.normal(0, 0.2, hours))
        windy = synoptic > 1.4
        breeze = np.where(sun > 0, 200.0, 20.0)  # up-valley by day, down-valley by night
        wd = np.where(windy, 300.0 + rng.normal(0, 25, hours), breeze + rng.normal(0, 50, hours)) % 360
        temp = (
            5.0
            - 20.0 * (2 * winter - 1)
            + (3.0 + 4.0 * (1 - winter)) * sun
            - 2.5 * front
            + t_off
            + rng.normal(0, 0.8, hours)
        )
        rh = np.clip(45.0 + 30.0 * winter - 8.0 * sun - 6.0 * front + rng.normal(0, 5, hours), 8, 100)
        pressure = 95.2 + 0.6 * (2 * winter - 1) + 0.35 * front + p_off + rng.normal(0, 0.04, hours)
        for code, values, digits in (
            ("a01001", temp, 1),
            ("a01002", rh, 0),
            ("a01006", pressure, 2),
            ("a01007", np.clip(ws, 0, 30), 1),
            ("a01008", wd, 0),
        ):
            columns[code].append(np.round(values, digits))
    return pl.concat(
        pl.DataFrame(
            {
                "site_id": np.repeat(np.asarray(site_ids, dtype=np.int64), hours),
                "parameter": code,
                "ts": list(ts) * len(site_ids),
                "value": np.concatenate(values),
                "flag": "N",
                "unit": WEATHER_UNITS[code],
            }
        )
        for code, values in columns.items()
    )


def load_recent(
    store: Store,
    stations: dict[str, int],
    *,
    days: int = 7,
    now: datetime | None = None,
    offline: tuple[str, ...] = ("CJ-ZD03",),
    offline_hours: int = 30,
    seed: int = 7,
    build_up_hours: int = 0,
    weather: Collection[str] = tuple(code for code, *_ in SIM_STATIONS),
) -> int:
    """Write ``days`` of simulated hourly data up to the last full hour; ``offline`` stations stop early;
    ``build_up_hours`` > 0 ends the data with a heavy-pollution build-up (:func:`station_frame`); the ``weather``
    stations (default: the township micro-stations) store their weather too."""
    end = floor_to(now or now_utc(), "hour")
    start = end - timedelta(days=days)
    hours = days * 24
    rng = np.random.default_rng(seed)
    factors = {sid: float(rng.uniform(0.6, 1.4)) for code, sid in stations.items() if code != "2690A"}
    if "2690A" in stations:
        factors[stations["2690A"]] = 0.25  # the control station sits in the mountains, far from sources
    weather_sites = [stations[c] for c in weather if c in stations]
    df = station_frame(factors, start, hours, seed=seed, build_up_hours=build_up_hours, weather_sites=weather_sites)
    cut = {stations[c] for c in offline if c in stations}
    if cut:
        df = df.filter(~(pl.col("site_id").is_in(list(cut)) & (pl.col("ts") >= end - timedelta(hours=offline_hours))))
    return series.write_long(store, df, resolution="hour", reason="demo re-simulated").written
