"""Days-avoided parameters: the settings of the method and the names shared by its modules (forecast.md §3.9, §5)."""

from __future__ import annotations

from dataclasses import dataclass

WEATHER_VARS: tuple[str, ...] = ("t2m", "td2m", "rh2m", "ws10", "u10", "v10", "psfc")
"""Hourly weather columns averaged per day (°C, °C, %, m/s, m/s, m/s, hPa); ``precip`` (mm) is summed."""


LAG_VARS: tuple[str, ...] = ("t2m", "rh2m", "ws10", "u10", "v10", "psfc", "precip")
"""Daily weather repeated for the previous 2 days (§3.9 step 2: "the previous 2 days' weather")."""


NIGHT_HOURS: tuple[int, ...] = (20, 21, 22, 23, 0, 1, 2, 3, 4, 5)
"""Local hours of the night (20–05 h) whose wind and RH describe the nocturnal inversion of the same date."""


OPTIONAL_VARS: tuple[str, ...] = ("blh", "ssrd", "tcc")
"""Hourly columns used only when the frame has them (§3.9 step 2 "BLH, radiation and cloud when available"), named
and in the units of the NWP/ERA5-style adapters (``bogda.forecast.weather.NWP_VARIABLES``): boundary-layer height
[m], surface shortwave radiation [W/m², the hour's mean flux], total cloud cover [0–1]. Station data have none."""


DAY_HOURS: tuple[int, ...] = tuple(range(10, 18))
"""Local hours 10:00–18:00 (interval starts 10..17), the daytime of the advisories: the afternoon mixed layer and
the photochemical hours that make the O3 8 h maximum."""


BEIJING_HEATING: tuple[tuple[int, int], tuple[int, int]] = ((11, 15), (3, 15))
"""Beijing's heating season, (month, day) start and end inclusive: 15 Nov – 15 Mar (§8 check 5)."""


LABEL_CONTROLLED = "controlled"


LABEL_WEATHER_ONLY = "weather_only_unvalidated"
"""Without a control station the result cannot be validated in space (§3.9 step 2)."""


VERDICTS: tuple[str, ...] = ("effect_detected", "no_detectable_effect", "method_failed_validation")


@dataclass(frozen=True)
class AvoidedParams:
    """Days-avoided settings (forecast.md §5 "days-avoided draws / block / ensemble", §3.9 steps 3–5, §8 check 5).

    ``windows`` are the reference-window variants of the ensemble: each starts that many days after the
    training start and ends with it, so every member keeps the most recent seasons (§3.9 step 4 "3 windows").

    ``season_days``: ``None`` (default) draws each 7-day block of the moving-block bootstrap from anywhere in the
    training residuals (§3.9 step 4 as written). An integer makes the bootstrap season-matched: a block added to
    evaluation days may only take residual days whose day of year lies within ±``season_days`` (circular) of the
    day it is added to (:func:`~bogda.forecast.resample.block_indices`), from residuals centred per season
    (:func:`~bogda.forecast.avoided.counterfactual.season_centred`), because log residuals are not exchangeable
    across seasons — a winter O3 residual (large in log units, winter O3 being low) applied to a summer O3 maximum
    makes false heavy days. A block with fewer than ``season_min_blocks`` blocks' worth of qualifying starts draws
    from all residual days. Off by default: on six Beijing files it was not chosen on, season-matched draws removed
    the AQI heavy-day placebo's bias, but did not pass the adoption rule written before the runs (docs/forecast.md
    §14).
    """

    threshold: float = 150.0  # event: daily concentration above this [µg/m³] (heavy PM2.5 day, IAQI 200)
    draws: int = 2000
    block_days: int = 7
    windows: tuple[int, ...] = (0, 91, 182)  # [d] trimmed from the training start
    seeds: tuple[int, ...] = (0, 1, 2)
    oof_blocks: int = 5
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 20
    rounds: int = 600
    bagging_fraction: float = 0.8
    feature_fraction: float = 0.8
    interval: tuple[float, float] = (5.0, 95.0)  # [%] Monte Carlo interval (90 %)
    analytic_z: float = 1.645  # ±z·√Σp(1−p): the 90 % normal interval of the analytic count
    placebo_max_days: float = 3.0  # |avoided| per placebo year
    injection_r: float = 0.15
    injection_days: int = 10
    injection_months: tuple[int, ...] = (12, 1, 2)  # "winter days"
    injection_tol_days: float = 1.0
    injection_tol_r: float = 0.05
    min_bss: float = 0.6
    reliability_bins: int = 10
    rng_seed: int = 20130301
    # the prefecture's heating season ((month, day) start, end; inclusive, may cross the new year): the heating flag
    # of the features (§3.9 step 2); Beijing's by default (§8 check 5), Changji's is about 15 Oct–15 Apr
    heating: tuple[tuple[int, int], tuple[int, int]] = BEIJING_HEATING
    season_days: int | None = None  # [d] season-matched bootstrap half-width; None: blocks from any season
    season_min_blocks: int = 2  # fewer qualifying block starts than this × block_days → all residual days
