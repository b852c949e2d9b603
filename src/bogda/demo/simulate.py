"""Simulated monitoring data for the demo region (every value here is simulated, never real).

Winter in the Urumqi–Changji basin: temperature inversions trap emissions, so PM2.5 builds up over days and
clears with wind. The generator makes a slow episode component (AR(1) on days), a diurnal cycle (morning and
evening peaks, the heating hours) and hourly noise, per station with a local offset, seeded for repeatability.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

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


EPISODE_PEAK = 1.8
"""The build-up's rise of the log episode component by its last hour (×6: an hourly PM2.5 of 55 becomes about 330)."""

DEMO_BUILD_UP_HOURS = 96
"""``bogda demo`` ends its data with a 4-day build-up: on the Changji demo stations today's AQI then exceeds 200 in
most counties, so the baseline forecast proposes yellow warnings (forecast.md §3.6) for the operator to decide."""


def station_frame(
    site_ids: dict[int, float], start: datetime, hours: int, *, seed: int = 7, build_up_hours: int = 0
) -> pl.DataFrame:
    """Hourly values for sites ``{site_id: level factor}`` from ``start`` (UTC, hour start) for ``hours``.

    ``build_up_hours``: the last hours hold a heavy-pollution build-up under a winter inversion, the episode
    component rising linearly by :data:`EPISODE_PEAK` to the last hour (so that the demo's forecasts reach the
    warning levels, and its warnings and emergency lists have something to show)."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    ts = [start + timedelta(hours=int(h)) for h in t]
    bj_hour = (np.array([x.hour for x in ts]) + 8) % 24
    diurnal = 1.0 + 0.25 * np.exp(-(((bj_hour - 10) / 2.0) ** 2)) + 0.45 * np.exp(-(((bj_hour - 22) / 3.0) ** 2))
    days = hours // 24 + 2
    episode = np.empty(days)
    episode[0] = 0.0
    for d in range(1, days):
        episode[d] = 0.75 * episode[d - 1] + rng.normal(0, 0.45)
    episode_h = np.interp(t / 24.0, np.arange(days), episode)
    if build_up_hours:
        episode_h += EPISODE_PEAK * np.clip((t - (hours - build_up_hours)) / build_up_hours, 0.0, 1.0)
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
    return pl.concat(frames).with_columns(pl.col("ts").dt.cast_time_unit("us"))


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
) -> int:
    """Write ``days`` of simulated hourly data up to the last full hour; ``offline`` stations stop early;
    ``build_up_hours`` > 0 ends the data with a heavy-pollution build-up (:func:`station_frame`)."""
    end = floor_to(now or now_utc(), "hour")
    start = end - timedelta(days=days)
    hours = days * 24
    rng = np.random.default_rng(seed)
    factors = {sid: float(rng.uniform(0.6, 1.4)) for code, sid in stations.items() if code != "2690A"}
    if "2690A" in stations:
        factors[stations["2690A"]] = 0.25  # the control station sits in the mountains, far from sources
    df = station_frame(factors, start, hours, seed=seed, build_up_hours=build_up_hours)
    cut = {stations[c] for c in offline if c in stations}
    if cut:
        df = df.filter(~(pl.col("site_id").is_in(list(cut)) & (pl.col("ts") >= end - timedelta(hours=offline_hours))))
    return series.write_long(store, df, resolution="hour", reason="demo re-simulated").written
