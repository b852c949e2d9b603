"""Days avoided: counterfactual evaluation of an intervention (forecast.md §3.9 "Days avoided", §4, §8 check 5).

The question "how many heavy days did the measures save?" is answered against a counterfactual: a model of the
daily concentration from weather, calendar and **control stations outside the footprint**, fitted on a reference
window without the intervention and with **no lagged target** and **no trend term** (§3.9 step 2), so that the
intervention cannot leak into its own baseline. The counterfactual count of event days is compared with the
observed count (step 4) and the result is shown only after the method passed its validation (step 5):

- placebo in time: on years without intervention the method must find nothing;
- placebo in space: on control stations, likewise;
- injection: an artificial cut of ``r`` on chosen days must be recovered;
- calibration: the heavy-day probabilities must have a Brier skill score ≥ 0.6.

Pipeline (all pure functions except the LightGBM fits, which are deterministic: one thread, fixed seeds):

``feature_table`` → ``evaluate`` (ensemble of 3 windows × 3 seeds, out-of-fold residuals over 5 contiguous
blocks → σ, event probabilities, analytic count, Monte Carlo avoided with a 7-day moving-block bootstrap) →
``injection_test`` / ``placebo_check`` / ``placebo_space_checks`` / ``calibration_check`` → ``verdict`` →
``InterventionResult`` → ``store_result`` (table ``intervention_eval``). ``evaluate_intervention`` chains these for
one intervention window with its placebo years and control stations; ``evaluate_stored`` reads the inputs from
stored observations (``hourly_from_store``, with BLH, radiation and cloud of the stored NWP runs when they cover the
windows: ``stored_nwp``); ``check5`` runs the §8 acceptance protocol on the Beijing files.

Units: concentrations µg/m³ (CO mg/m³); residuals and σ in natural-log units; counts in days.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from bogda.forecast import verify
from bogda.standards.cube import MIN_HOURS_DAILY

if TYPE_CHECKING:
    from bogda.store import Store

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


# --------------------------------------------------------------------------------------------------------------
# Features (§3.9 step 2)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureTable:
    """Daily counterfactual inputs of one target: complete days only (any missing input → the day is dropped).

    ``conc`` is the observed daily mean [µg/m³]; ``x`` the inputs, columns named by ``names``; ``label`` is
    ``controlled`` or ``weather_only_unvalidated``.
    """

    dates: np.ndarray  # datetime64[D]
    conc: np.ndarray
    x: np.ndarray
    names: tuple[str, ...]
    label: str

    def select(self, mask: np.ndarray) -> FeatureTable:
        """The rows where ``mask`` is true."""
        return replace(self, dates=self.dates[mask], conc=self.conc[mask], x=self.x[mask])

    def between(self, start: date, end: date) -> FeatureTable:
        """The days ``start..end`` inclusive."""
        d = self.dates
        return self.select((d >= np.datetime64(start, "D")) & (d <= np.datetime64(end, "D")))


def _local(hourly: pl.DataFrame, tz: str) -> pl.DataFrame:
    lt = pl.col("ts").dt.convert_time_zone(tz)
    # NaN (a failed sensor hour) must count as missing, or one bad hour would void the whole day's mean
    floats = [c for c, t in hourly.schema.items() if t.is_float()]
    return hourly.with_columns(
        *[pl.col(c).fill_nan(None) for c in floats], lt.dt.date().alias("date"), lt.dt.hour().alias("hour")
    )


def optional_weather(columns: Sequence[str], *, ozone: bool = False) -> list[pl.Expr]:
    """Daily aggregations of the optional inputs among ``columns`` (§3.9 step 2 "BLH, radiation and cloud when
    available"; "O3 adds Tmax, radiation"), over a frame with the local ``hour`` column.

    - ``blh``: the day's mean ``blh_mean``, the night mean ``night_blh`` (20–05 h, the nocturnal layer that traps
      the evening and early-morning emissions) and the daytime mean ``day_blh`` (10–18 h, the mixed layer) [m];
    - ``ssrd``: the daily mean flux ``ssrd_mean`` [W/m²] (the daily sum / 24 h; a mean of the valid hours, so one
      missing hour does not read as a dark day); for O3 also the daytime mean ``ssrd_day``, the photolysis of the
      hours that make the 8 h maximum (Tmax, ``t2m_max``, is an input of every model already);
    - ``tcc``: the daily mean cloud cover ``tcc_mean`` [0–1].

    None of these is in the list when its column is absent, so a frame without them gives the inputs it always gave.

    >>> [str(e.meta.output_name()) for e in optional_weather(["ts", "ssrd", "tcc"], ozone=True)]
    ['ssrd_mean', 'ssrd_day', 'tcc_mean']
    >>> optional_weather(["ts", "t2m"])
    []
    """
    night = pl.col("hour").is_in(list(NIGHT_HOURS))
    day = pl.col("hour").is_in(list(DAY_HOURS))
    out: list[pl.Expr] = []
    if "blh" in columns:
        out += [
            pl.col("blh").mean().alias("blh_mean"),
            pl.col("blh").filter(night).mean().alias("night_blh"),
            pl.col("blh").filter(day).mean().alias("day_blh"),
        ]
    if "ssrd" in columns:
        out.append(pl.col("ssrd").mean().alias("ssrd_mean"))
        if ozone:
            out.append(pl.col("ssrd").filter(day).mean().alias("ssrd_day"))
    if "tcc" in columns:
        out.append(pl.col("tcc").mean().alias("tcc_mean"))
    return out


def daily_weather(hourly: pl.DataFrame, *, tz: str = "Asia/Shanghai", ozone: bool = False) -> pl.DataFrame:
    """Daily weather of one station (§3.9 step 2): means and extremes of the local day, night (20–05 h) wind and RH,
    and BLH, radiation and cloud when the frame has them.

    Parameters
    ----------
    hourly
        Rows ``ts`` (aware UTC, interval start) with ``t2m``, ``td2m`` [°C], ``rh2m`` [%], ``ws10``, ``u10``,
        ``v10`` [m/s], ``psfc`` [hPa], ``precip`` [mm]; optionally ``blh`` [m], ``ssrd`` [W/m²], ``tcc`` [0–1]
        (:data:`OPTIONAL_VARS`, NWP/ERA5-style weather).
    tz
        The zone whose calendar defines the day.
    ozone
        The model is O3's: the optional radiation adds its daytime mean (:func:`optional_weather`).

    Returns
    -------
    One row per local date: ``<var>_mean``, ``precip_sum``, ``t2m_min``/``t2m_max``, ``rh2m_min``/``rh2m_max``,
    ``ws10_max``, ``night_ws10``, ``night_rh2m``, ``night_u10``, ``night_v10``, then the optional columns of
    :func:`optional_weather` (after the others, so that the columns of a frame without them are unchanged). A
    statistic over no valid hour is null.
    """
    h = _local(hourly, tz)
    night = pl.col("hour").is_in(list(NIGHT_HOURS))
    return (
        h.group_by("date")
        .agg(
            *[pl.col(v).mean().alias(f"{v}_mean") for v in WEATHER_VARS],
            pl.col("precip").sum().alias("precip_sum"),
            pl.col("precip").count().alias("_n_precip"),
            pl.col("t2m").min().alias("t2m_min"),
            pl.col("t2m").max().alias("t2m_max"),
            pl.col("rh2m").min().alias("rh2m_min"),
            pl.col("rh2m").max().alias("rh2m_max"),
            pl.col("ws10").max().alias("ws10_max"),
            *[pl.col(v).filter(night).mean().alias(f"night_{v}") for v in ("ws10", "rh2m", "u10", "v10")],
            *optional_weather(hourly.columns, ozone=ozone),
        )
        # a sum over no valid hour is 0 in Polars: make it missing, as the day's rain is unknown
        .with_columns(pl.when(pl.col("_n_precip") > 0).then(pl.col("precip_sum")).alias("precip_sum"))
        .drop("_n_precip")
        .sort("date")
    )


def daily_mean(
    hourly: pl.DataFrame, column: str, *, tz: str = "Asia/Shanghai", min_hours: int = MIN_HOURS_DAILY
) -> pl.DataFrame:
    """Daily mean of ``column`` over the valid hours of each local date (§8: a day = the rows with that date).

    The mean is null with fewer than ``min_hours`` valid hours (GB 3095-2012 Table 4: ≥ 20 for a 24-h mean,
    the standards module's rule for event days, §3.9 step 1).
    """
    return (
        _local(hourly, tz)
        .group_by("date")
        .agg(pl.when(pl.col(column).count() >= min_hours).then(pl.col(column).mean()).alias(column))
        .sort("date")
    )


O3_CODE = "a05024"
"""HJ 212 code of O3; its daily value is the maximum 8 h mean (MDA8), not the 24 h mean."""


def daily_max_8h(hourly: pl.DataFrame, column: str = O3_CODE, *, tz: str = "Asia/Shanghai") -> pl.DataFrame:
    """O3 daily maximum 8 h mean of each local date, by the standards module's rule (``daily_max_8h_array``:
    17 windows 00–16 h, ≥ 6 hours per window; §3.9 step 1 "events (standards module)")."""
    from bogda.standards.cube import daily_max_8h_array

    h = _local(hourly, tz).select("date", "hour", column).drop_nulls("date")
    if h.height == 0:
        return pl.DataFrame(schema={"date": pl.Date, column: pl.Float64})
    first, last = h["date"].min(), h["date"].max()
    days = pl.date_range(first, last, "1d", eager=True)
    grid = pl.DataFrame({"date": days}).join(
        pl.DataFrame({"hour": list(range(24))}, schema={"hour": pl.Int8}), how="cross"
    )
    dense = grid.join(
        h.group_by("date", "hour").agg(pl.col(column).mean()).with_columns(pl.col("hour").cast(pl.Int8)),
        on=["date", "hour"],
        how="left",
    ).sort("date", "hour")
    x = dense[column].cast(pl.Float64).fill_null(np.nan).to_numpy()[None, :]
    mda8, _ = daily_max_8h_array(x, decimals=1)
    return pl.DataFrame({"date": days, column: mda8[0]})


def daily_item(hourly: pl.DataFrame, column: str, *, tz: str = "Asia/Shanghai") -> pl.DataFrame:
    """The pollutant's daily value as the AQI reads it: MDA8 for O3 (``a05024``), else the 24 h mean."""
    if column == O3_CODE:
        return daily_max_8h(hourly, column, tz=tz)
    return daily_mean(hourly, column, tz=tz)


def heating_flag(dates: np.ndarray, season: tuple[tuple[int, int], tuple[int, int]] = BEIJING_HEATING) -> np.ndarray:
    """1.0 on days inside the heating season ``((m0, d0), (m1, d1))`` (inclusive, across the new year), else 0.0.

    >>> heating_flag(np.array(["2015-11-14", "2015-11-15", "2016-03-15", "2016-03-16"], dtype="datetime64[D]"))
    array([0., 1., 1., 0.])
    """
    (m0, d0), (m1, d1) = season
    md = [(d.month, d.day) for d in dates.astype(object)]
    if (m0, d0) <= (m1, d1):
        inside = [(m0, d0) <= x <= (m1, d1) for x in md]
    else:
        inside = [x >= (m0, d0) or x <= (m1, d1) for x in md]
    return np.asarray(inside, dtype=float)


def parse_heating_season(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """A heating season written ``MM-DD:MM-DD`` (start and end, inclusive; may cross the new year) as
    ``((m0, d0), (m1, d1))``, the form of :func:`heating_flag` and ``AvoidedParams.heating`` (§3.9 step 2 heating
    flag; Beijing 11-15:03-15, §8 check 5).

    Raises
    ------
    ValueError
        naming the bad text when it is not two ``MM-DD`` calendar days separated by ``:`` (29 February is allowed).

    >>> parse_heating_season("10-15:04-15")
    ((10, 15), (4, 15))
    >>> parse_heating_season("11-31:03-15")
    Traceback (most recent call last):
    ...
    ValueError: '11-31:03-15': '11-31' is not a calendar day (MM-DD)
    """
    parts = text.strip().split(":")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not MM-DD:MM-DD (start:end of the heating season)")
    out = []
    for part in parts:
        m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", part.strip())
        if m is None:
            raise ValueError(f"{text!r}: {part!r} is not MM-DD")
        month, day = int(m.group(1)), int(m.group(2))
        try:
            date(2000, month, day)  # a leap year, so that 02-29 is a valid bound
        except ValueError:
            raise ValueError(f"{text!r}: {part!r} is not a calendar day (MM-DD)") from None
        out.append((month, day))
    return out[0], out[1]


def format_heating_season(season: tuple[tuple[int, int], tuple[int, int]]) -> str:
    """``((m0, d0), (m1, d1))`` as ``MM-DD:MM-DD``, the inverse of :func:`parse_heating_season`.

    >>> format_heating_season(BEIJING_HEATING)
    '11-15:03-15'
    """
    (m0, d0), (m1, d1) = season
    return f"{m0:02d}-{d0:02d}:{m1:02d}-{d1:02d}"


def feature_table(
    target: pl.DataFrame,
    controls: Sequence[pl.DataFrame] = (),
    *,
    pollutant: str = "a34004",
    heating: tuple[tuple[int, int], tuple[int, int]] = BEIJING_HEATING,
    tz: str = "Asia/Shanghai",
) -> FeatureTable:
    """The daily counterfactual inputs of §3.9 step 2 for one target station.

    Inputs per day D: the day's weather means and extremes, night (20–05 h) wind and RH, the daily weather of
    D−1 and D−2, the pressure change psfc(D) − psfc(D−1) [hPa], sin/cos of the day of year, weekday (0 = Monday),
    the heating flag, and ln(max(control daily mean, 1)) of each control station. When the target frame has
    ``blh``, ``ssrd`` or ``tcc`` (NWP/ERA5-style weather) their daily values of :func:`optional_weather` are inputs
    too, with the BLH mean of D−1 and D−2; without them the inputs are exactly the ones above. **No lagged target
    and no trend term**: the intervention must not leak into its own counterfactual. Days with any missing input
    are dropped (a partial record of an optional input drops its missing days, as any other input's does).

    Parameters
    ----------
    target
        Hourly rows of the target station (``ts`` aware UTC, the pollutant column, the weather of
        :func:`daily_weather`).
    controls
        Hourly rows of ≥ 1 station outside the footprint (``ts`` and the pollutant column). None → the table is
        labelled ``weather_only_unvalidated``.
    pollutant
        The pollutant column (``a34004`` PM2.5 [µg/m³]).
    heating
        The prefecture's heating season ((month, day) start, end).
    """
    w = daily_weather(target, tz=tz, ozone=pollutant == O3_CODE)
    y = daily_item(target, pollutant, tz=tz).rename({pollutant: "_conc"})
    tab = w.join(y, on="date", how="left")
    # the BLH of the previous days is "the previous 2 days' weather" too: a shallow layer yesterday still loads today
    lag_vars = [*LAG_VARS, *(["blh"] if "blh_mean" in w.columns else [])]
    lagged = w.select("date", *[f"{v}_sum" if v == "precip" else f"{v}_mean" for v in lag_vars])
    for k in (1, 2):
        shifted = lagged.with_columns(pl.col("date") + timedelta(days=k)).rename(
            {c: f"{c}_lag{k}" for c in lagged.columns if c != "date"}
        )
        tab = tab.join(shifted, on="date", how="left")
    tab = tab.with_columns((pl.col("psfc_mean") - pl.col("psfc_mean_lag1")).alias("dpsfc"))
    ctrl_names = []
    for i, c in enumerate(controls):
        name = f"control{i}_ln"
        cm = daily_item(c, pollutant, tz=tz).select("date", pl.col(pollutant).clip(lower_bound=1.0).log().alias(name))
        tab = tab.join(cm, on="date", how="left")
        ctrl_names.append(name)
        if pollutant == O3_CODE:  # §3.9 step 2: "O3 adds ... the control's O3 (that day and the day before)"
            lag = cm.with_columns(pl.col("date") + timedelta(days=1)).rename({name: f"{name}_lag1"})
            tab = tab.join(lag, on="date", how="left")
            ctrl_names.append(f"{name}_lag1")
    tab = tab.sort("date")
    dates = tab["date"].to_numpy().astype("datetime64[D]")
    doy = np.array([d.timetuple().tm_yday for d in dates.astype(object)], dtype=float)
    ang = 2.0 * np.pi * doy / 365.25
    calendar = {
        "doy_sin": np.sin(ang),
        "doy_cos": np.cos(ang),
        "weekday": ((dates.astype("int64") + 3) % 7).astype(float),  # 1970-01-01 was a Thursday (3)
        "heating": heating_flag(dates, heating),
    }
    # a weather variable the station never measures is not an input: leaving it out keeps the days (a partial gap
    # still drops its days below); a control without data is an error, not a silent weather-only run
    never = {c for c in tab.columns if c not in ("date", "_conc") and tab[c].fill_nan(None).null_count() == tab.height}
    if never & set(ctrl_names):
        raise ValueError(f"control station(s) without {pollutant} data: {sorted(never & set(ctrl_names))}")
    names = [c for c in tab.columns if c not in ("date", "_conc") and c not in never]
    x = np.column_stack([tab[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in names] + list(calendar.values()))
    names += list(calendar)
    conc = tab["_conc"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    ok = np.isfinite(x).all(axis=1) & np.isfinite(conc)
    label = LABEL_CONTROLLED if controls else LABEL_WEATHER_ONLY
    return FeatureTable(dates[ok], conc[ok], x[ok], tuple(names), label)


# --------------------------------------------------------------------------------------------------------------
# Counterfactual model and predictive distribution (§3.9 steps 2–3)
# --------------------------------------------------------------------------------------------------------------


def log_target(conc: np.ndarray) -> np.ndarray:
    """ln(max(conc, 1)) [ln µg/m³]: the model's target (§3.9 step 2); the floor keeps clean days finite."""
    return np.log(np.maximum(np.asarray(conc, dtype=float), 1.0))


def lgb_params(params: AvoidedParams, seed: int) -> dict[str, Any]:
    """LightGBM settings of §8 check 5, single-threaded and seeded so that a rerun gives the same numbers."""
    return {
        "objective": "regression",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "min_child_samples": params.min_child_samples,
        "bagging_fraction": params.bagging_fraction,
        "bagging_freq": 1,
        "feature_fraction": params.feature_fraction,
        "num_threads": 1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def fit_predict(
    x_train: np.ndarray, y_train: np.ndarray, x_new: np.ndarray, params: AvoidedParams, seed: int
) -> np.ndarray:
    """Fit the counterfactual model on (``x_train``, ``y_train`` in log units) and predict ``x_new`` [ln µg/m³]."""
    import lightgbm as lgb

    data = lgb.Dataset(x_train, y_train, free_raw_data=True)
    booster = lgb.train(lgb_params(params, seed), data, num_boost_round=params.rounds)
    return np.asarray(booster.predict(x_new), dtype=float)


def contiguous_blocks(n: int, k: int) -> list[np.ndarray]:
    """Indices ``0..n-1`` split into ``k`` contiguous blocks of near-equal length.

    >>> [b.tolist() for b in contiguous_blocks(7, 3)]
    [[0, 1, 2], [3, 4], [5, 6]]
    """
    return [b for b in np.array_split(np.arange(n), k) if b.size]


def oof_residuals(x: np.ndarray, y: np.ndarray, params: AvoidedParams, seed: int = 0) -> np.ndarray:
    """Out-of-fold residuals y − ŷ [ln units] over ``params.oof_blocks`` contiguous blocks (§3.9 step 3).

    Contiguous (not random) folds, because neighbouring days share weather: a random fold would leak it and make
    σ too small.
    """
    res = np.empty_like(y, dtype=float)
    for b in contiguous_blocks(len(y), params.oof_blocks):
        keep = np.ones(len(y), dtype=bool)
        keep[b] = False
        res[b] = y[b] - fit_predict(x[keep], y[keep], x[b], params, seed)
    return res


def event_probability(mu: np.ndarray, sigma: float, threshold: float) -> np.ndarray:
    """P(conc > threshold) under the lognormal ln conc ~ N(mu, sigma²) (§3.9 step 3).

    >>> float(event_probability(np.array([np.log(150.0)]), 0.3, 150.0)[0])
    0.5
    """
    from scipy.special import ndtr

    z = (np.log(threshold) - np.asarray(mu, dtype=float)) / sigma
    return 1.0 - ndtr(z)


def analytic_count(p: np.ndarray, z: float = 1.645) -> tuple[float, float, float]:
    """Expected event count Σp with its normal interval Σp ± z·√Σp(1−p) [days] (§8 check 5).

    >>> analytic_count(np.array([0.5, 0.5, 0.5, 0.5]))
    (2.0, 0.355, 3.645)
    """
    e = float(np.sum(p))
    h = z * math.sqrt(float(np.sum(p * (1.0 - p))))
    return e, e - h, e + h


def lag1_autocorrelation(res: np.ndarray) -> float:
    """Lag-1 autocorrelation of a residual series, floored at 0 (§3.9 step 4: "ρ1 ≥ 0").

    >>> lag1_autocorrelation(np.array([1.0, -1.0, 1.0, -1.0]))
    0.0
    """
    r = np.asarray(res, dtype=float)
    r = r - r.mean()
    den = float(np.sum(r * r))
    if r.size < 3 or den == 0.0:
        return 0.0
    return max(0.0, float(np.sum(r[1:] * r[:-1]) / den))


def n_effective(n: int, rho1: float) -> float:
    """Effective number of independent days n(1 − ρ1)/(1 + ρ1) (§3.9 step 4).

    >>> n_effective(100, 0.5)
    33.333333333333336
    """
    return n * (1.0 - rho1) / (1.0 + rho1)


def mde_log(sigma: float, n_eff: float) -> float:
    """Minimum detectable concentration change 2σ/√n_eff [ln units] (§3.9 step 4).

    With σ ≈ 0.33 a 10 % cut needs about 40 independent days:

    >>> round(mde_log(0.33, 40.0), 3)
    0.104
    """
    return 2.0 * sigma / math.sqrt(n_eff) if n_eff > 0 else math.inf


def block_bootstrap(residuals: np.ndarray, n: int, draws: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` series of length ``n`` made of random ``block``-day runs of ``residuals`` (moving-block bootstrap).

    Whole runs keep the day-to-day autocorrelation of the residuals, which independent draws would lose and which
    is what makes a single episode impossible to judge (§3.9 step 4). Vectorised: one index matrix.

    Returns
    -------
    Array (draws, n) [ln units].
    """
    r = np.asarray(residuals, dtype=float)
    return r[block_indices(r.size, n, draws, block, rng)]


def block_indices(size: int, n: int, draws: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """Index matrix (draws, n) of a moving-block bootstrap over ``size`` residual days (§3.9 step 4).

    Shared by the single-pollutant draws and the AQI draws, which index whole-day residual vectors with it so that
    the pollutants of one day stay together (§3.9 step 3).
    """
    b = max(1, min(block, size))
    n_blocks = -(-n // b)
    starts = rng.integers(0, size - b + 1, size=(draws, n_blocks))
    return (starts[:, :, None] + np.arange(b)[None, None, :]).reshape(draws, n_blocks * b)[:, :n]


def monte_carlo_counts(
    members: np.ndarray, residuals: np.ndarray, threshold: float, params: AvoidedParams, rng: np.random.Generator
) -> np.ndarray:
    """Counterfactual event counts N_cf of ``params.draws`` Monte Carlo draws (§3.9 step 4).

    Each draw takes one ensemble member (row of ``members``, predictions in ln units over the evaluation days)
    and adds a moving-block bootstrap of the out-of-fold residuals.
    """
    m = rng.integers(0, members.shape[0], size=params.draws)
    e = block_bootstrap(residuals, members.shape[1], params.draws, params.block_days, rng)
    return np.sum(members[m] + e > math.log(threshold), axis=1).astype(float)


# --------------------------------------------------------------------------------------------------------------
# One evaluation (§3.9 steps 3–4)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counterfactual:
    """The fitted counterfactual over the evaluation days: ensemble predictions and the residual model."""

    dates: np.ndarray
    observed: np.ndarray  # daily concentration [µg/m³]
    members: np.ndarray  # (3 windows × 3 seeds, n) [ln µg/m³]
    residuals: np.ndarray  # out-of-fold, centred [ln units]
    sigma: float  # [ln units]
    base_rate: float  # training event frequency
    label: str

    @property
    def mu(self) -> np.ndarray:
        """Ensemble-mean counterfactual [ln µg/m³]."""
        return self.members.mean(axis=0)


def fit_counterfactual(train: FeatureTable, evaluation: FeatureTable, params: AvoidedParams) -> Counterfactual:
    """Fit the ensemble on ``train`` (the reference window) and predict the ``evaluation`` days (§3.9 steps 2–4).

    σ is the s.d. of the out-of-fold residuals of the full window; the residuals are centred so that the
    bootstrap and the lognormal share the ensemble's median.
    """
    y = log_target(train.conc)
    members = []
    for trim in params.windows:
        keep = train.dates >= train.dates[0] + np.timedelta64(trim, "D")
        for s in params.seeds:
            members.append(fit_predict(train.x[keep], y[keep], evaluation.x, params, s))
    res = oof_residuals(train.x, y, params, params.seeds[0])
    res = res - res.mean()
    return Counterfactual(
        dates=evaluation.dates,
        observed=evaluation.conc,
        members=np.vstack(members),
        residuals=res,
        sigma=float(np.std(res, ddof=1)),
        base_rate=float(np.mean(train.conc > params.threshold)),
        label=train.label,
    )


@dataclass(frozen=True)
class Estimate:
    """Days avoided over one evaluation window (§3.9 step 4). Counts in days; ``mde_pct`` in % of concentration."""

    n_days: int
    n_obs: int  # observed event days
    expected: float  # analytic Σp
    expected_ci: tuple[float, float]  # Σp ± 1.645·√Σp(1−p)
    cf_median: float  # Monte Carlo median of N_cf
    avoided_median: float  # Monte Carlo median of N_cf − N_obs
    ci90: tuple[float, float]  # its 5–95 % interval
    bss: float | None  # heavy-day Brier skill score against the training frequency
    reliability: list[dict[str, float]]
    sigma: float
    rho1: float
    n_eff: float
    mde_log: float
    mde_pct: float
    mde_days: float  # half-width of the 90 % interval

    @property
    def analytic_avoided(self) -> tuple[float, float, float]:
        """Σp − N_obs with its analytic interval."""
        return (self.expected - self.n_obs, self.expected_ci[0] - self.n_obs, self.expected_ci[1] - self.n_obs)


def reliability_table(p: np.ndarray, event: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Reliability table: per probability bin [k/bins, (k+1)/bins), the count, mean forecast and event frequency.

    Empty bins are left out.
    """
    k = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    out = []
    for i in range(bins):
        sel = k == i
        if sel.any():
            out.append(
                {
                    "bin": i / bins,
                    "n": float(sel.sum()),
                    "p_mean": float(np.mean(p[sel])),
                    "freq": float(np.mean(event[sel])),
                }
            )
    return out


def estimate(cf: Counterfactual, params: AvoidedParams, *, observed: np.ndarray | None = None) -> Estimate:
    """Expected and avoided event days over the evaluation window (§3.9 steps 3–4).

    ``observed`` replaces the observed concentrations (the injection test); the random stream is the same on
    every call, so an injected and an uninjected run differ only by the injection.
    """
    obs = cf.observed if observed is None else observed
    event = obs > params.threshold
    n_obs = int(event.sum())
    p = event_probability(cf.mu, cf.sigma, params.threshold)
    e, lo, hi = analytic_count(p, params.analytic_z)
    rng = np.random.default_rng(params.rng_seed)
    counts = monte_carlo_counts(cf.members, cf.residuals, params.threshold, params, rng)
    av = counts - n_obs
    q0, q1 = (float(v) for v in np.percentile(av, params.interval))
    rho = lag1_autocorrelation(cf.residuals)
    n_eff = n_effective(len(obs), rho)
    m = mde_log(cf.sigma, n_eff)
    return Estimate(
        n_days=len(obs),
        n_obs=n_obs,
        expected=e,
        expected_ci=(lo, hi),
        cf_median=float(np.median(counts)),
        avoided_median=float(np.median(av)),
        ci90=(q0, q1),
        bss=verify.brier_skill_score(p, event.astype(float), cf.base_rate),
        reliability=reliability_table(p, event.astype(float), params.reliability_bins),
        sigma=cf.sigma,
        rho1=rho,
        n_eff=n_eff,
        mde_log=m,
        mde_pct=100.0 * (1.0 - math.exp(-m)),
        mde_days=(q1 - q0) / 2.0,
    )


# --------------------------------------------------------------------------------------------------------------
# Validation and verdict (§3.9 step 5)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One validation check: passed or not, with the numbers it was judged on."""

    name: str
    passed: bool
    detail: dict[str, Any] = field(default_factory=dict)


def placebo_check(est: Estimate, params: AvoidedParams, name: str = "placebo_time") -> Check:
    """Placebo on a window without intervention: |avoided| ≤ 3 days per year and 0 inside the 90 % interval.

    The allowance scales with the window's length in years (a year = 365 days, at least one).
    """
    years = max(1.0, est.n_days / 365.0)
    ok = abs(est.avoided_median) <= params.placebo_max_days * years and est.ci90[0] <= 0.0 <= est.ci90[1]
    return Check(name, bool(ok), {"avoided": est.avoided_median, "ci90": list(est.ci90), "n_days": est.n_days})


MIN_REFERENCE_DAYS = 365
"""Complete days a reference window needs (forecast.md §5 minimum history): the target's, and a control's to play
the target in the placebo in space."""


def _span(tables: FeatureTable | Mapping[str, FeatureTable], span: tuple[date, date]) -> Any:
    """The days ``span`` of one table, or of each AQI item's table."""
    if isinstance(tables, FeatureTable):
        return tables.between(*span)
    return {k: t.between(*span) for k, t in tables.items()}


def _n_complete(tables: FeatureTable | Mapping[str, FeatureTable]) -> int:
    """Complete days of one table, or the days complete for every AQI item (those the AQI model uses)."""
    if isinstance(tables, FeatureTable):
        return len(tables.dates)
    return len(_common(tables)) if tables else 0


def placebo_space_checks(
    control_tables: Mapping[str, FeatureTable] | Mapping[str, Mapping[str, FeatureTable]],
    reference: tuple[date, date],
    window: tuple[date, date],
    params: AvoidedParams,
    run: Callable[[Any, Any], Estimate],
) -> list[Check]:
    """Placebo in space (§3.9 step 5 "placebo in space on control stations (same criteria)"): each control station
    treated as if it were the target — fitted on the reference window, evaluated over the intervention window —
    and judged by :func:`placebo_check` (|avoided| ≤ 3 days per year, 0 inside the 90 % interval).

    One code path for every event: ``control_tables`` maps a control's code to its :class:`FeatureTable` (one
    pollutant) or to its tables per AQI item, and ``run(reference_part, window_part)`` fits that kind of
    counterfactual and returns its :class:`Estimate`. The measures act inside the footprint only, so a control must
    find nothing; one that does (a control inside the footprint, or a model that invents effects) fails the
    method. A control with fewer than :data:`MIN_REFERENCE_DAYS` complete reference days or none in the window
    fails as well: it cannot be judged, and an unjudged control must not pass for a clean one.

    Returns
    -------
    One check ``placebo_space_<code>`` per control, in the order given.
    """
    checks = []
    for code, tables in control_tables.items():
        name = f"placebo_space_{code}"
        cref, cwin = _span(tables, reference), _span(tables, window)
        if _n_complete(cref) < MIN_REFERENCE_DAYS or not _n_complete(cwin):
            checks.append(Check(name, False, {"reason": "too few complete days at the control"}))
            continue
        checks.append(placebo_check(run(cref, cwin), params, name))
    return checks


def placebo_time_checks(
    placebo_windows: Sequence[tuple[date, date]],
    params: AvoidedParams,
    *,
    cut: Callable[[tuple[date, date]], tuple[Any, Any]],
    fit: Callable[[Any, Any], Any],
    run: Callable[[Any], Estimate],
    inject: Callable[[Any], Check],
) -> list[Check]:
    """Placebo in time (§3.9 step 5 "placebo in time on ≥ 2 non-intervention years", with the calibration of each
    year and the injection on the last): one loop for one pollutant and for the AQI events.

    Each placebo year is cut out by ``cut(span) -> (train, evaluation)`` (the reference days outside the year, and
    the year's own days), fitted by ``fit(train, evaluation)`` into a counterfactual, estimated by ``run(cf)`` and
    judged by :func:`placebo_check` (|avoided| ≤ 3 days per year, 0 inside the 90 % interval) and
    :func:`calibration_check` (BSS ≥ 0.6). ``inject(cf)`` is the injection test of that kind of counterfactual
    (:func:`injection_test` or :func:`injection_test_aqi`), run on the last year's. Fewer than 2 years → a failed
    ``placebo_time`` check first: the method cannot be validated in time.

    Returns
    -------
    ``placebo_time_<YYYYMMDD>`` and ``calibration_<YYYYMMDD>`` per year in the order given, then ``injection``.
    """
    checks: list[Check] = []
    if len(placebo_windows) < 2:
        checks.append(Check("placebo_time", False, {"reason": f"{len(placebo_windows)} placebo year(s), need ≥ 2"}))
    last = None
    for span in placebo_windows:
        cf = fit(*cut(span))
        pe = run(cf)
        checks.append(placebo_check(pe, params, f"placebo_time_{span[0]:%Y%m%d}"))
        checks.append(replace(calibration_check(pe, params), name=f"calibration_{span[0]:%Y%m%d}"))
        last = cf
    if last is not None:
        checks.append(inject(last))
    return checks


def _space_not_run(placebo: Mapping[str, Any], ran: bool) -> dict[str, Any]:
    """The record's placebo part, marked ``placebo_space: not run`` when there was no control to play the target
    (a single control, or none), so that a reader tells "not run" from "passed"."""
    return dict(placebo) if ran else {**placebo, "placebo_space": {"passed": None, "not_run": True}}


def as_targets(controls: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Each control with the other controls as its own, for the placebo in space; none below 2 controls (a lone
    control would play the target without any control of its own: a weather-only model, not the same method).

    >>> as_targets(["C1", "C2", "C3"])[1]
    ('C2', ['C1', 'C3'])
    >>> as_targets(["C1"])
    []
    """
    if len(controls) < 2:
        return []
    return [(c, [o for o in controls if o != c]) for c in controls]


def calibration_check(est: Estimate, params: AvoidedParams) -> Check:
    """Heavy-day Brier skill score ≥ ``params.min_bss`` (0.6); the reliability table is kept for display."""
    ok = est.bss is not None and est.bss >= params.min_bss
    return Check("calibration", bool(ok), {"bss": est.bss, "reliability": est.reliability})


def injection_days(cf: Counterfactual, params: AvoidedParams, seed: int | None = None) -> np.ndarray:
    """Indices of ``params.injection_days`` winter days (months ``injection_months``) drawn at random, sorted.

    Event days are drawn first: a cut on a clean day cannot avoid an event, so injecting only there would test
    nothing. Other winter days fill up when there are too few event days.

    >>> cf = Counterfactual(np.arange(np.datetime64("2016-11-25"), np.datetime64("2016-12-05")),
    ...     np.array([200.0, 50, 50, 50, 50, 50, 50, 160, 50, 50]), np.zeros((1, 10)), np.zeros(5), 0.3, 0.1, "")
    >>> injection_days(cf, AvoidedParams(injection_days=3))[:2].tolist()  # the December event day comes first
    [6, 7]
    """
    months = np.array([d.month for d in cf.dates.astype(object)])
    winter = np.isin(months, params.injection_months)
    event = cf.observed > params.threshold
    rng = np.random.default_rng(params.rng_seed + 1 if seed is None else seed)
    # a window without enough winter days (a summer episode) is filled with its other days, events first
    order = [rng.permutation(np.flatnonzero(m)) for m in (winter & event, winter & ~event, ~winter & event)]
    order.append(rng.permutation(np.flatnonzero(~winter & ~event)))
    return np.sort(np.concatenate(order)[: params.injection_days])


def injection_test(cf: Counterfactual, params: AvoidedParams, days: np.ndarray | None = None) -> Check:
    """Injection (§3.9 step 5): multiply the observations by (1 − r) on chosen days and recover the effect.

    Against the uninjected run, the recovered days (difference of the avoided medians) must be within
    ±``injection_tol_days`` of the true change in event days and the recovered r (1 − exp of the mean change of the
    log residual on the injected days) within ±``injection_tol_r``. These two are exact unless the counterfactual
    depends on the target's own observations (a lagged target would leak the cut into the baseline). The window
    is one without intervention, so the truth of the injected run is the injected change alone: it must lie inside
    the injected run's 90 % interval, which fails when the counterfactual is biased.
    """
    idx = injection_days(cf, params) if days is None else np.asarray(days)
    r = params.injection_r
    injected = cf.observed.copy()
    injected[idx] = injected[idx] * (1.0 - r)
    base = estimate(cf, params)
    inj = estimate(cf, params, observed=injected)
    true_days = base.n_obs - inj.n_obs
    recovered = inj.avoided_median - base.avoided_median
    mu = cf.mu[idx]
    r_hat = 1.0 - math.exp(float(np.mean((log_target(injected[idx]) - mu) - (log_target(cf.observed[idx]) - mu))))
    truth = float(true_days)
    ok_days = abs(recovered - true_days) <= params.injection_tol_days
    ok_r = abs(r_hat - r) <= params.injection_tol_r
    ok_ci = inj.ci90[0] <= truth <= inj.ci90[1]
    return Check(
        "injection",
        bool(ok_days and ok_r and ok_ci),
        {
            "r": r,
            "r_recovered": r_hat,
            "days": [str(d) for d in cf.dates[idx]],
            "true_days": true_days,
            "recovered_days": recovered,
            "truth": truth,
            "ci90": list(inj.ci90),
        },
    )


def verdict(est: Estimate, checks: Sequence[Check]) -> str:
    """``method_failed_validation`` if any check failed; else ``effect_detected`` only when the 5 % bound of
    avoided days is above 0, otherwise ``no_detectable_effect`` (§3.9 steps 4–5).

    A weather-only run (no control) can still carry a verdict but keeps its ``weather_only_unvalidated`` label.
    """
    if any(not c.passed for c in checks):
        return "method_failed_validation"
    return "effect_detected" if est.ci90[0] > 0.0 else "no_detectable_effect"


# --------------------------------------------------------------------------------------------------------------
# Result record and storage (§4 ``intervention_eval``)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterventionResult:
    """One ``intervention_eval`` row (§4). Counts in days, ``mde_pct`` in % of the concentration."""

    label: str
    targets: tuple[str, ...]
    controls: tuple[str, ...]
    pollutant: str
    event: str
    window_start: date
    window_end: date
    n_obs: int
    cf_expected: float
    avoided_median: float
    ci90: tuple[float, float]
    mde_days: float
    mde_pct: float
    placebo: dict[str, Any]
    injection: dict[str, Any]
    params: dict[str, Any]
    verdict: str

    def row(self, created_at: datetime) -> dict[str, Any]:
        """The column values of ``intervention_eval``."""
        d = asdict(self)
        d["targets"], d["controls"], d["ci90"] = list(self.targets), list(self.controls), list(self.ci90)
        d["created_at"] = created_at
        return d


def result_record(
    est: Estimate,
    checks: Sequence[Check],
    *,
    label: str,
    targets: Sequence[str],
    controls: Sequence[str],
    window: tuple[date, date],
    params: AvoidedParams,
    pollutant: str = "a34004",
    event: str | None = None,
) -> InterventionResult:
    """Assemble the ``intervention_eval`` record of one evaluation and its validation checks."""
    by = {c.name: c for c in checks}
    placebo = {n: {"passed": c.passed, **c.detail} for n, c in by.items() if n not in ("injection",)}
    placebo["bootstrap"] = {
        "cf_median": est.cf_median,
        "expected_analytic": est.expected,
        "expected_ci": list(est.expected_ci),
        "bss": est.bss,
        "sigma": est.sigma,
        "rho1": est.rho1,
        "n_eff": est.n_eff,
        "mde_log": est.mde_log,
    }
    inj = by.get("injection")
    return InterventionResult(
        label=label,
        targets=tuple(targets),
        controls=tuple(controls),
        pollutant=pollutant,
        event=event or f"daily>{params.threshold:g}",
        window_start=window[0],
        window_end=window[1],
        n_obs=est.n_obs,
        cf_expected=est.cf_median,
        avoided_median=est.avoided_median,
        ci90=est.ci90,
        mde_days=est.mde_days,
        mde_pct=est.mde_pct,
        placebo=placebo,
        injection={"passed": inj.passed, **inj.detail} if inj else {"passed": None, "not_run": True},
        params={k: _json_list(v) if isinstance(v, tuple) else v for k, v in asdict(params).items()},
        verdict=verdict(est, checks),
    )


def _json_list(v: tuple[Any, ...]) -> list[Any]:
    """A tuple (nested for the heating season) as JSON lists, the form the stored ``params`` read back in."""
    return [_json_list(x) if isinstance(x, tuple) else x for x in v]


def store_result(store: Store, result: InterventionResult) -> int:
    """Insert one evaluation into ``intervention_eval``; returns its id."""
    from bogda.store.schema import intervention_eval
    from bogda.timeutil import now_utc

    with store.begin() as conn:
        res = conn.execute(intervention_eval.insert().values(**result.row(now_utc())))
        return int(res.inserted_primary_key[0])


def read_results(store: Store, *, label: str | None = None) -> list[dict[str, Any]]:
    """Stored evaluations, newest first (optionally of one ``label``)."""
    from sqlalchemy import select

    from bogda.store.schema import intervention_eval

    q = select(intervention_eval).order_by(intervention_eval.c.id.desc())
    if label is not None:
        q = q.where(intervention_eval.c.label == label)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def presentation(row: Mapping[str, Any]) -> dict[str, Any]:
    """What may be shown of one stored ``intervention_eval`` row (forecast.md §1 "shown only with an interval and
    a passed placebo test", §3.9 steps 4–5).

    The avoided figure (``avoided``, ``ci90``) is given only when the verdict is ``effect_detected``, every
    placebo in time was run and passed, no other check failed, and the 90 % interval is stored; otherwise both
    are None and the reader shows the verdict with the MDE. Pure: used by the API, the console and the duty report
    so that the rule lives in one place.
    """
    placebo = row.get("placebo") or {}
    checks = {k: v for k, v in placebo.items() if isinstance(v, Mapping) and "passed" in v}
    injection = row.get("injection") or {}
    if "passed" in injection:
        checks["injection"] = injection
    failed = sorted(k for k, v in checks.items() if v.get("passed") is False)
    in_time = [v for k, v in checks.items() if k.startswith("placebo_time")]
    placebo_ok = bool(in_time) and all(v.get("passed") is True for v in in_time)
    placebo_ok = placebo_ok and not any(k.startswith("placebo") for k in failed)
    ci = row.get("ci90")
    has_ci = isinstance(ci, Sequence) and len(ci) == 2 and all(isinstance(v, int | float) for v in ci)
    show = row.get("verdict") == "effect_detected" and placebo_ok and not failed and has_ci
    return {
        "show_figure": bool(show),
        "avoided": row.get("avoided_median") if show else None,
        "ci90": [float(ci[0]), float(ci[1])] if show and ci is not None else None,
        "verdict": row.get("verdict"),
        "placebo_passed": placebo_ok,
        "failed_checks": failed,
        "mde_days": row.get("mde_days"),
        "mde_pct": row.get("mde_pct"),
        "unvalidated": LABEL_WEATHER_ONLY in str(row.get("label") or ""),
    }


# --------------------------------------------------------------------------------------------------------------
# AQI, ozone and dust-affected events (§3.9 steps 1 and 3)
# --------------------------------------------------------------------------------------------------------------

AQI_ITEMS: dict[str, str] = {
    "a21026": "SO2",
    "a21004": "NO2",
    "a21005": "CO",
    "a34002": "PM10",
    "a34004": "PM2.5",
    O3_CODE: "O3_8h",
}
"""HJ 212 code → the daily AQI item label of ``bogda.standards.aqi.aqi_daily`` (O3 is its MDA8)."""

EVENT_HEAVY = "aqi>200"
EVENT_OZONE = "o3_8h_primary_aqi>100"
EVENTS: dict[str, str] = {"heavy": EVENT_HEAVY, "ozone": EVENT_OZONE}
"""The §3.9 step 1 AQI events by CLI name → the ``event`` column of ``intervention_eval``."""

DUST_PM10_MIN = 150.0
"""[µg/m³] "high PM10" of the dust rule (d): the 24 h grade-II limit of GB 3095-2012, configurable."""

DUST_RATIO_MAX = 0.35
"""PM2.5/PM10 below this on a high-PM10 day → dust-affected (§3.9 step 1, (d))."""


def dust_days(
    pm25: np.ndarray,
    pm10: np.ndarray,
    official: np.ndarray | None = None,
    *,
    pm10_min: float = DUST_PM10_MIN,
    ratio_max: float = DUST_RATIO_MAX,
) -> np.ndarray:
    """Dust-affected days (§3.9 step 1): the official flag where it is given (not NaN), else
    PM10 > ``pm10_min`` and PM2.5/PM10 < ``ratio_max`` (coarse dust, not combustion haze).

    >>> dust_days(np.array([60.0, 120.0, 60.0]), np.array([400.0, 300.0, 400.0]), np.array([np.nan, np.nan, 0.0]))
    array([ True, False, False])
    """
    pm25, pm10 = np.asarray(pm25, dtype=float), np.asarray(pm10, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rule = (pm10 > pm10_min) & (pm25 / pm10 < ratio_max)
    if official is None:
        return rule
    off = np.asarray(official, dtype=float)
    return np.where(np.isfinite(off), off > 0, rule)


def _standards(dates: np.ndarray) -> np.ndarray:
    from bogda.standards.versions import standard_for

    return np.array([standard_for(d) for d in np.asarray(dates).astype("datetime64[D]").astype(object)])


def aqi_event_matrix(conc: Mapping[str, np.ndarray], dates: np.ndarray, event: str) -> np.ndarray:
    """Event flags of daily concentrations by the standards module's daily AQI (§3.9 step 1).

    Parameters
    ----------
    conc
        AQI item label (``PM2.5``, ``O3_8h``, …) → daily values of shape (n,) or (draws, n) [µg/m³; CO mg/m³].
    dates
        The n local dates; each picks the AQI standard in force (HJ 633-2012 / 2026).
    event
        ``aqi>200`` (heavy day) or ``o3_8h_primary_aqi>100`` (ozone day: AQI > 100 with O3 8 h among the primary
        pollutants).

    Returns
    -------
    Bool array of the shape of the inputs. The AQI is never computed here: ``aqi_daily`` does it.
    """
    from bogda.standards.aqi import aqi_daily

    first = np.asarray(next(iter(conc.values())), dtype=float)
    shape = first.shape
    stds = _standards(dates)
    out = np.zeros(shape, dtype=bool)
    for std in np.unique(stds):
        cols = stds == std
        data = {k: np.asarray(v, dtype=float)[..., cols].reshape(-1) for k, v in conc.items()}
        # the O3 1 h maximum of HJ 633-2012 is not modelled: the AQI is read from the six daily items
        res = aqi_daily(data, str(std), not_monitored=("O3_1h",))
        aqi = res.aqi
        if event == EVENT_HEAVY:
            hit = aqi > 200
        elif event == EVENT_OZONE:
            bit = np.uint16(1 << res.labels.index("O3_8h"))
            hit = (aqi > 100) & ((res.primary_mask & bit) > 0)
        else:
            raise ValueError(f"unknown AQI event {event!r}; expected one of {sorted(EVENTS.values())}")
        out[..., cols] = hit.reshape(*shape[:-1], int(cols.sum()))
    return out


@dataclass(frozen=True)
class AqiCounterfactual:
    """Counterfactual of every AQI item over the evaluation days (§3.9 step 3 "for AQI, resample whole-day
    residual vectors across pollutants").

    ``members[label]`` are the ensemble predictions (members, n) [ln units], the same ensemble member index for
    every item; ``residuals`` (training days, items) the centred out-of-fold residuals of the days complete for
    every item, columns in the order of ``items``.
    """

    dates: np.ndarray
    items: tuple[str, ...]
    observed: dict[str, np.ndarray]
    members: dict[str, np.ndarray]
    residuals: np.ndarray
    sigma: dict[str, float]
    base_rate: float
    dust: np.ndarray  # dust-affected evaluation days (excluded from every count)
    event: str
    label: str

    @property
    def key_item(self) -> str:
        """The item whose σ and autocorrelation give the MDE: O3 8 h for ozone days, else PM2.5."""
        return "O3_8h" if self.event == EVENT_OZONE else "PM2.5"


def _common(tables: Mapping[str, FeatureTable]) -> np.ndarray:
    dates = None
    for t in tables.values():
        dates = t.dates if dates is None else np.intersect1d(dates, t.dates)
    return np.asarray(dates, dtype="datetime64[D]")


def _on(table: FeatureTable, dates: np.ndarray) -> FeatureTable:
    return table.select(np.isin(table.dates, dates))


def _dust_on(dust: Mapping[Any, bool] | None, dates: np.ndarray, tables: Mapping[str, FeatureTable]) -> np.ndarray:
    """Dust flags of ``dates``: the given flags where present, else the PM2.5/PM10 rule on the observed means."""
    off = np.full(len(dates), np.nan)
    if dust:
        by = {np.datetime64(k, "D"): v for k, v in dust.items()}
        off = np.array([float(by[d]) if d in by else np.nan for d in dates])
    if "PM2.5" in tables and "PM10" in tables:
        pm25, pm10 = _on(tables["PM2.5"], dates).conc, _on(tables["PM10"], dates).conc
        return dust_days(pm25, pm10, off)
    return np.isfinite(off) & (off > 0)


def fit_aqi_counterfactual(
    train: Mapping[str, FeatureTable],
    evaluation: Mapping[str, FeatureTable],
    params: AvoidedParams,
    *,
    event: str = EVENT_HEAVY,
    dust: Mapping[Any, bool] | None = None,
) -> AqiCounterfactual:
    """One counterfactual model per AQI item (§3.9 steps 2–3), on the days complete for every item.

    ``train`` / ``evaluation`` map an AQI item label to its :class:`FeatureTable` (built with
    :func:`feature_table` and the item's code; O3's includes the control's O3 of the day before). ``dust`` are
    official dust flags by date (missing dates use the PM2.5/PM10 rule). Dust-affected training days do not
    count in the base rate, as they do not count in the evaluation (§3.9 step 1 "counted separately").
    """
    missing = set(AQI_ITEMS.values()) - set(train)
    if missing - {"SO2", "CO"}:  # SO2 and CO rarely set the daily AQI; the others must be modelled
        raise ValueError(f"AQI counterfactual needs PM2.5, PM10, NO2 and O3_8h; missing {sorted(missing)}")
    items = tuple(train)
    tdates, edates = _common(train), _common(evaluation)
    members: dict[str, np.ndarray] = {}
    res_cols, sigma = [], {}
    for it in items:
        tr, ev = _on(train[it], tdates), _on(evaluation[it], edates)
        y = log_target(tr.conc)
        ms = []
        for trim in params.windows:
            keep = tr.dates >= tr.dates[0] + np.timedelta64(trim, "D")
            for s in params.seeds:
                ms.append(fit_predict(tr.x[keep], y[keep], ev.x, params, s))
        members[it] = np.vstack(ms)
        r = oof_residuals(tr.x, y, params, params.seeds[0])
        r = r - r.mean()
        res_cols.append(r)
        sigma[it] = float(np.std(r, ddof=1))
    obs_train = {it: _on(train[it], tdates).conc for it in items}
    train_event = aqi_event_matrix(obs_train, tdates, event) & ~_dust_on(dust, tdates, train)
    return AqiCounterfactual(
        dates=edates,
        items=items,
        observed={it: _on(evaluation[it], edates).conc for it in items},
        members=members,
        residuals=np.column_stack(res_cols),
        sigma=sigma,
        base_rate=float(np.mean(train_event)),
        dust=_dust_on(dust, edates, evaluation),
        event=event,
        label=next(iter(train.values())).label,
    )


def aqi_draws(cf: AqiCounterfactual, params: AvoidedParams, rng: np.random.Generator) -> np.ndarray:
    """Counterfactual event flags (draws, n) (§3.9 steps 3–4): each draw takes one ensemble member for all items and
    one moving-block bootstrap of the **whole-day residual vectors**, so the pollutants of a day keep their joint
    error; the day's AQI comes from the drawn concentrations through ``aqi_daily``."""
    n = len(cf.dates)
    m = rng.integers(0, next(iter(cf.members.values())).shape[0], size=params.draws)
    idx = block_indices(cf.residuals.shape[0], n, params.draws, params.block_days, rng)
    conc = {it: np.exp(cf.members[it][m] + cf.residuals[idx, j]) for j, it in enumerate(cf.items)}
    return aqi_event_matrix(conc, cf.dates, cf.event)


def estimate_aqi(
    cf: AqiCounterfactual, params: AvoidedParams, *, observed: Mapping[str, np.ndarray] | None = None
) -> Estimate:
    """Days avoided of an AQI event (§3.9 steps 3–4); dust-affected days are left out of both counts.

    The event probability of a day is the share of Monte Carlo draws with the event (no closed form for the AQI);
    the analytic count and the BSS use it. ``observed`` replaces the observations (injection).
    """
    obs = cf.observed if observed is None else observed
    keep = ~cf.dust
    event = aqi_event_matrix(obs, cf.dates, cf.event) & keep
    n_obs = int(event.sum())
    draws = aqi_draws(cf, params, np.random.default_rng(params.rng_seed)) & keep[None, :]
    counts = draws.sum(axis=1).astype(float)
    p = draws.mean(axis=0)
    e, lo, hi = analytic_count(p[keep], params.analytic_z)
    av_ = counts - n_obs
    q0, q1 = (float(v) for v in np.percentile(av_, params.interval))
    j = cf.items.index(cf.key_item)
    rho = lag1_autocorrelation(cf.residuals[:, j])
    n_eff = n_effective(int(keep.sum()), rho)
    sig = cf.sigma[cf.key_item]
    m = mde_log(sig, n_eff)
    ev = event[keep].astype(float)
    return Estimate(
        n_days=int(keep.sum()),
        n_obs=n_obs,
        expected=e,
        expected_ci=(lo, hi),
        cf_median=float(np.median(counts)),
        avoided_median=float(np.median(av_)),
        ci90=(q0, q1),
        bss=verify.brier_skill_score(p[keep], ev, cf.base_rate),
        reliability=reliability_table(p[keep], ev, params.reliability_bins),
        sigma=sig,
        rho1=rho,
        n_eff=n_eff,
        mde_log=m,
        mde_pct=100.0 * (1.0 - math.exp(-m)),
        mde_days=(q1 - q0) / 2.0,
    )


def dust_summary(cf: AqiCounterfactual) -> dict[str, Any]:
    """Dust-affected days of the window, counted apart (§3.9 step 1): how many, and how many were observed events."""
    ev = aqi_event_matrix(cf.observed, cf.dates, cf.event)
    return {
        "days": int(cf.dust.sum()),
        "event_days": int((ev & cf.dust).sum()),
        "dates": [str(d) for d in cf.dates[cf.dust]],
    }


def injection_test_aqi(cf: AqiCounterfactual, params: AvoidedParams) -> Check:
    """Injection for an AQI event (§3.9 step 5): every item's observation × (1 − r) on the chosen days (observed
    events first, winter days first), judged as :func:`injection_test` (days ±1, r ±5 points, truth inside the
    injected run's 90 % interval)."""
    key = cf.observed[cf.key_item]
    ev = aqi_event_matrix(cf.observed, cf.dates, cf.event) & ~cf.dust
    # a stand-in single-item counterfactual lets injection_days pick event days first with the same rule
    proxy = Counterfactual(
        cf.dates, np.where(ev, np.inf, 0.0), cf.members[cf.key_item], cf.residuals[:, 0], 0.0, 0.0, ""
    )
    idx = injection_days(proxy, replace(params, threshold=1.0))
    r = params.injection_r
    injected = {it: v.copy() for it, v in cf.observed.items()}
    for v in injected.values():
        v[idx] = v[idx] * (1.0 - r)
    base, inj = estimate_aqi(cf, params), estimate_aqi(cf, params, observed=injected)
    true_days = base.n_obs - inj.n_obs
    recovered = inj.avoided_median - base.avoided_median
    r_hat = 1.0 - math.exp(float(np.mean(log_target(injected[cf.key_item][idx]) - log_target(key[idx]))))
    ok = (
        abs(recovered - true_days) <= params.injection_tol_days
        and abs(r_hat - r) <= params.injection_tol_r
        and inj.ci90[0] <= true_days <= inj.ci90[1]
    )
    return Check(
        "injection",
        bool(ok),
        {
            "r": r,
            "r_recovered": r_hat,
            "days": [str(d) for d in cf.dates[idx]],
            "true_days": true_days,
            "recovered_days": recovered,
            "truth": float(true_days),
            "ci90": list(inj.ci90),
        },
    )


def evaluate_aqi_intervention(
    tables: Mapping[str, FeatureTable],
    window: tuple[date, date],
    reference: tuple[date, date],
    placebo_windows: Sequence[tuple[date, date]],
    params: AvoidedParams,
    *,
    event: str = EVENT_HEAVY,
    dust: Mapping[Any, bool] | None = None,
    control_tables: Mapping[str, Mapping[str, FeatureTable]] | None = None,
    targets: Sequence[str] = (),
    controls: Sequence[str] = (),
    label: str = "",
    with_sensitivity: bool = False,
) -> tuple[Estimate, tuple[Check, ...], InterventionResult]:
    """:func:`evaluate_intervention` for the AQI events of §3.9 step 1 (heavy day, ozone day), with dust-affected
    days excluded from the counts and reported apart (``placebo["dust"]``).

    Validation as for one pollutant: placebo in time on ≥ 2 non-intervention years (each with its calibration),
    the injection on the last of them, and placebo in space (:func:`placebo_space_checks`, the same code as for one
    pollutant): ``control_tables`` maps each control station to its tables per AQI item (built with the other
    controls as its controls), and each control is evaluated as the target over ``window`` with the same event,
    dust rule and criteria. None or empty → recorded as not run.

    ``with_sensitivity`` adds the :func:`sensitivity` report (the same code as for one pollutant: each window,
    trend on, each control left out of every item's inputs) in ``placebo["sensitivity"]``; reported, not judged.
    Costs 1 + len(controls) more AQI ensemble fits.
    """

    def part(span: tuple[date, date], outside: tuple[date, date] | None = None) -> dict[str, FeatureTable]:
        out = {}
        for k, t in tables.items():
            out[k] = _outside(t.between(*reference), outside) if outside else t.between(*span)
        return out

    ref = {k: t.between(*reference) for k, t in tables.items()}
    if _n_complete(ref) < MIN_REFERENCE_DAYS:
        raise ValueError(
            f"{_n_complete(ref)} complete day(s) in the reference; need ≥ {MIN_REFERENCE_DAYS} (§5 minimum history)"
        )

    def fit(r: Mapping[str, FeatureTable], w: Mapping[str, FeatureTable]) -> AqiCounterfactual:
        # the official dust flags are regional (any place), so they hold at the controls too
        return fit_aqi_counterfactual(r, w, params, event=event, dust=dust)

    cf = fit(ref, part(window))
    est = estimate_aqi(cf, params)
    checks = placebo_time_checks(
        placebo_windows,
        params,
        cut=lambda span: (part(span, span), part(span)),
        fit=fit,
        run=lambda c: estimate_aqi(c, params),
        inject=lambda c: injection_test_aqi(c, params),
    )
    checks += placebo_space_checks(
        control_tables or {}, reference, window, params, lambda r, w: estimate_aqi(fit(r, w), params)
    )
    weather_only = next(iter(tables.values())).label == LABEL_WEATHER_ONLY
    rec = result_record(
        est,
        checks,
        label=f"{label}:{LABEL_WEATHER_ONLY}".lstrip(":") if weather_only else label,
        targets=targets,
        controls=controls,
        window=window,
        params=params,
        pollutant="O3_8h" if event == EVENT_OZONE else "AQI",
        event=event,
    )
    placebo = {**_space_not_run(rec.placebo, bool(control_tables)), "dust": dust_summary(cf)}
    if with_sensitivity:
        placebo["sensitivity"] = sensitivity(tables, window, reference, params, controls=controls, cf=cf, fit=fit)
    return est, tuple(checks), replace(rec, placebo=placebo)


def read_result(store: Store, eval_id: int) -> dict[str, Any] | None:
    """One stored evaluation by id, or None."""
    from sqlalchemy import select

    from bogda.store.schema import intervention_eval

    with store.engine.connect() as conn:
        r = conn.execute(select(intervention_eval).where(intervention_eval.c.id == eval_id)).mappings().first()
    return dict(r) if r is not None else None


# --------------------------------------------------------------------------------------------------------------
# Stored observations
# --------------------------------------------------------------------------------------------------------------

STORE_WEATHER: dict[str, str] = {
    "a01001": "t2m",
    "dewpoint": "td2m",
    "a01002": "rh2m",
    "a01006": "psfc",
    "a01007": "ws10",
    "a01008": "wd10",
    "precipitation": "precip",
}
"""Stored station weather (HJ 212 codes; dew point and rain have none, monitoring ingest names them) → columns."""


def hourly_from_store(
    store: Store, code: str, start: datetime, end: datetime, pollutant: str = "a34004"
) -> pl.DataFrame:
    """Valid hourly rows of one air station in ``[start, end)``: the pollutant and the station's own weather.

    RH is computed from temperature and dew point when the station stores no a01002; u/v come from speed and
    direction (a calm hour is zero wind). Columns absent from the store are NaN, and :func:`feature_table` then
    leaves them out. Raises ``KeyError`` for an unknown station code.
    """
    from sqlalchemy import select

    from bogda.forecast.features import relative_humidity, wind_components
    from bogda.store import series as store_series
    from bogda.store.schema import site

    with store.engine.connect() as conn:
        sid = conn.execute(select(site.c.id).where(site.c.code == code, site.c.kind == "air_station")).scalar()
    if sid is None:
        raise KeyError(f"unknown air station {code!r}")
    obs = store_series.read(
        store, sites=[sid], parameters=[pollutant, *STORE_WEATHER], start=start, end=end, valid_only=True
    )
    if obs.height == 0:
        return pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), pollutant: pl.Float64})
    wide = obs.pivot(on="parameter", index="ts", values="value", aggregate_function="first").sort("ts")
    n = wide.height

    def col(p: str) -> np.ndarray:
        return wide[p].cast(pl.Float64).fill_null(np.nan).to_numpy() if p in wide.columns else np.full(n, np.nan)

    t, td, ws, wd = col("a01001"), col("dewpoint"), col("a01007"), col("a01008")
    rh = col("a01002")
    if not np.isfinite(rh).any():
        rh = relative_humidity(t, td)
    u, v = wind_components(ws, wd)
    calm = ws == 0
    return pl.DataFrame(
        {
            "ts": wide["ts"],
            pollutant: col(pollutant),
            "t2m": t,
            "td2m": td,
            "rh2m": rh,
            "ws10": ws,
            "u10": np.where(calm, 0.0, u),
            "v10": np.where(calm, 0.0, v),
            "psfc": col("a01006"),
            "precip": col("precipitation"),
        }
    )


# --------------------------------------------------------------------------------------------------------------
# BLH, radiation and cloud from the stored NWP runs (§3.9 step 2 "BLH, radiation and cloud when available")
# --------------------------------------------------------------------------------------------------------------

NWP_MAX_LEAD_H = 48
"""[h] (d) Longest lead taken as an "analysis-like" value: a run older than this at the hour leaves the hour missing
(a 3-day-old forecast is no longer a description of the weather that happened)."""

NWP_MIN_HOURS = 18
"""Valid hours a local day needs for its NWP value to count as covered (the NWP archive's daily rule, 18 of 24)."""

NWP_MIN_COVERAGE = 0.98
"""(d) Share of the days of the reference window and of the evaluation window each NWP variable must cover before it
becomes an input. Below it the variable is left out: a partial column drops its missing days and the 2 after
(BLH lags), which would shrink the reference below 365 days or change the evaluated days."""


def nwp_analysis_hourly(
    values: pl.DataFrame, *, tz: str = "Asia/Shanghai", max_lead_h: int = NWP_MAX_LEAD_H
) -> pl.DataFrame:
    """Hourly ``blh``, ``ssrd``, ``tcc`` of one location from stored NWP runs, each hour from the **most recent run
    issued before that hour's local day** (§3.9 step 2 "BLH, radiation and cloud when available").

    Why this run: the counterfactual needs the weather that happened, and no reanalysis is stored, so the nearest
    thing is the shortest-lead forecast (leads ~0–48 h, whose error is small next to the day-to-day variation of
    the boundary layer). Taking the run issued before the day — not before the hour — keeps every hour of a day
    from the same run (a coherent diurnal cycle of BLH and radiation for the daily, night and daytime means) and
    never uses a run issued after the hour it describes, so a value is always one a forecaster had that day.

    Parameters
    ----------
    values
        ``nwp_value`` rows of one location: ``run_time``, ``valid_start`` (aware UTC), ``variable``, ``value``,
        optionally ``source`` (ties between sources with the same run time go to the first source by name).
    tz
        The zone whose calendar defines the day.
    max_lead_h
        Longest lead [h] accepted; an hour with no run within it is missing.

    Returns
    -------
    ``ts`` (aware UTC) and one column per variable of :data:`OPTIONAL_VARS` found (units as stored: m, W/m², 0–1).
    """
    v = values.filter(pl.col("variable").is_in(list(OPTIONAL_VARS)) & pl.col("value").is_not_null())
    v = v.filter(pl.col("value").is_finite())
    if v.height == 0:
        return pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC")})
    if "source" not in v.columns:
        v = v.with_columns(pl.lit("").alias("source"))
    utc = pl.Datetime("us", "UTC")
    day_start = (
        pl.col("valid_start")
        .dt.convert_time_zone(tz)
        .dt.date()
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone(tz)
        .dt.convert_time_zone("UTC")
    )
    v = v.with_columns(pl.col("run_time").cast(utc), pl.col("valid_start").cast(utc))
    picked = (
        v.filter(
            (pl.col("run_time") < day_start)
            & (pl.col("valid_start") - pl.col("run_time") <= timedelta(hours=max_lead_h))
        )
        # the newest run first; among sources of the same run time the first by name, so a rerun picks the same
        .sort(["run_time", "source"], descending=[True, False])
        .group_by("valid_start", "variable", maintain_order=True)
        .first()
    )
    if picked.height == 0:
        return pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC")})
    wide = picked.pivot(on="variable", index="valid_start", values="value").rename({"valid_start": "ts"})
    return wide.select("ts", *[c for c in OPTIONAL_VARS if c in wide.columns]).sort("ts")


def nwp_coverage(
    hourly: pl.DataFrame,
    spans: Mapping[str, tuple[date, date]],
    *,
    tz: str = "Asia/Shanghai",
    min_hours: int = NWP_MIN_HOURS,
) -> dict[str, dict[str, float]]:
    """Per NWP variable and span, the share of the span's local days with ≥ ``min_hours`` valid hours (0–1)."""
    out: dict[str, dict[str, float]] = {}
    h = _local(hourly, tz) if hourly.height else hourly
    for var in (c for c in OPTIONAL_VARS if c in hourly.columns):
        counts = h.group_by("date").agg(pl.col(var).count().alias("n")).filter(pl.col("n") >= min_hours)
        covered = set(counts["date"].to_list())
        out[var] = {}
        for name, (d0, d1) in spans.items():
            days = (d1 - d0).days + 1
            hit = sum(1 for d in covered if d0 <= d <= d1)
            out[var][name] = hit / days if days > 0 else 0.0
    return out


def nwp_inputs(
    nwp_hourly: pl.DataFrame,
    spans: Mapping[str, tuple[date, date]],
    *,
    tz: str = "Asia/Shanghai",
    min_coverage: float = NWP_MIN_COVERAGE,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The NWP variables good enough to be inputs, and the record of the choice (§3.9 step 2 "when available").

    A variable is used only when it covers ≥ ``min_coverage`` of the days of every span (the reference window and
    the evaluation window); otherwise it is left out with the reason, so that a partial archive never stops an
    evaluation that ran without it ("need ≥ 365" through dropped days).

    Returns
    -------
    ``ts`` and the used columns (to join onto the station's hourly frame), and ``{"used": [...], "left_out":
    {var: reason}, "coverage": {var: {span: share}}}``.
    """
    cover = nwp_coverage(nwp_hourly, spans, tz=tz)
    used, left = [], {}
    for var in OPTIONAL_VARS:
        if var not in cover:
            continue
        short = {k: s for k, s in cover[var].items() if s < min_coverage}
        if short:
            parts = ", ".join(f"{k} {100 * s:.0f} %" for k, s in short.items())
            left[var] = f"stored runs cover {parts} of the days (need ≥ {100 * min_coverage:.0f} %)"
        else:
            used.append(var)
    info: dict[str, Any] = {"used": used, "left_out": left, "coverage": cover}
    if not cover:
        info["reason"] = "no stored NWP run with blh, ssrd or tcc"
    return nwp_hourly.select("ts", *used), info


def nwp_from_store(store: Store, code: str, start: datetime, end: datetime) -> pl.DataFrame:
    """Stored ``nwp_value`` rows of location ``code`` with ``blh``/``ssrd``/``tcc`` valid in ``[start, end)``, from
    runs issued at most :data:`NWP_MAX_LEAD_H` + 1 day before ``start``."""
    from sqlalchemy import select

    from bogda.store.schema import nwp_value

    c = nwp_value.c
    q = select(c.source, c.run_time, c.valid_start, c.variable, c.value).where(
        c.location_id == code,
        c.variable.in_(list(OPTIONAL_VARS)),
        c.valid_start >= start,
        c.valid_start < end,
        c.run_time >= start - timedelta(hours=NWP_MAX_LEAD_H + 24),
        c.run_time < end,
    )
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    schema = {
        "source": pl.Utf8,
        "run_time": pl.Datetime("us", "UTC"),
        "valid_start": pl.Datetime("us", "UTC"),
        "variable": pl.Utf8,
        "value": pl.Float64,
    }
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def stored_nwp(
    store: Store,
    codes: Sequence[str],
    spans: Mapping[str, tuple[date, date]],
    start: datetime,
    end: datetime,
    *,
    tz: str = "Asia/Shanghai",
) -> dict[str, tuple[pl.DataFrame, dict[str, Any]]]:
    """Per station: the stored NWP ``blh``, ``ssrd``, ``tcc`` that cover every span well enough (:func:`nwp_inputs`,
    hourly ``ts`` + used columns, to join onto its :func:`hourly_from_store` frame) and the record of the choice.

    Each station is judged on its own, as its own stored weather is (a variable it lacks is left out of its inputs):
    a control playing the target in the placebo in space uses the NWP values at its own location.
    """
    return {
        c: nwp_inputs(nwp_analysis_hourly(nwp_from_store(store, c, start, end), tz=tz), spans, tz=tz) for c in codes
    }


def _join_nwp(frame: pl.DataFrame, extra: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the NWP columns of ``extra`` by hour (unchanged when none is used)."""
    return frame if extra.width <= 1 else frame.join(extra, on="ts", how="left")


def _nwp_record(infos: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``placebo["nwp"]``: per station the NWP inputs used and left out (no ``passed`` key: not a check)."""
    return {
        "rule": f"latest run issued before the local day, lead ≤ {NWP_MAX_LEAD_H} h; a variable is used when it "
        f"covers ≥ {100 * NWP_MIN_COVERAGE:.0f} % of the days (≥ {NWP_MIN_HOURS} h) of the reference and the window",
        "stations": {k: dict(v) for k, v in infos.items()},
    }


# --------------------------------------------------------------------------------------------------------------
# A full evaluation: estimate plus validation (§3.9 steps 4–5)
# --------------------------------------------------------------------------------------------------------------


def _outside(table: FeatureTable, span: tuple[date, date]) -> FeatureTable:
    d = table.dates
    return table.select((d < np.datetime64(span[0], "D")) | (d > np.datetime64(span[1], "D")))


def evaluate_intervention(
    table: FeatureTable,
    window: tuple[date, date],
    reference: tuple[date, date],
    placebo_windows: Sequence[tuple[date, date]],
    params: AvoidedParams,
    *,
    control_tables: Mapping[str, FeatureTable] | None = None,
    targets: Sequence[str] = (),
    controls: Sequence[str] = (),
    label: str = "",
    pollutant: str = "a34004",
    with_sensitivity: bool = False,
) -> tuple[Estimate, tuple[Check, ...], InterventionResult]:
    """Days avoided by an intervention over ``window``, validated before it is shown (§3.9 steps 2–5).

    Parameters
    ----------
    table
        The target's daily inputs (:func:`feature_table`).
    window
        The intervention's days (inclusive).
    reference
        The reference window the counterfactual is fitted on (no intervention in it; the same season of the
        previous 2–3 years, or non-intervention days).
    placebo_windows
        ≥ 2 non-intervention years. Each is evaluated by a model fitted on the reference days outside it; each
        must pass the placebo criteria and the calibration (BSS ≥ 0.6). The injection test runs on the last.
        Fewer than 2 → the placebo in time fails (the method cannot be validated).
    control_tables
        Placebo in space: each control station as target (its table built with the other controls), evaluated
        over ``window`` with the same criteria. None or empty → not run (recorded as such).
    with_sensitivity
        Also compute the :func:`sensitivity` report (3 windows, trend on, each control left out) and store it in
        ``placebo["sensitivity"]`` (reported, not judged). Costs 1 + len(controls) more ensemble fits.

    Returns
    -------
    The estimate over ``window``, the checks, and the ``intervention_eval`` record (verdict
    ``method_failed_validation`` when any check failed).
    """
    ref = table.between(*reference)
    target = table.between(*window)
    for what, t, need in (("reference", ref, MIN_REFERENCE_DAYS), ("window", target, 1)):
        if len(t.dates) < need:
            raise ValueError(f"{len(t.dates)} complete day(s) in the {what}; need ≥ {need} (§5 minimum history)")
    main_cf = fit_counterfactual(ref, target, params)
    est = estimate(main_cf, params)
    checks = placebo_time_checks(
        placebo_windows,
        params,
        cut=lambda span: (_outside(ref, span), table.between(*span)),
        fit=lambda r, w: fit_counterfactual(r, w, params),
        run=lambda cf: estimate(cf, params),
        inject=lambda cf: injection_test(cf, params),
    )
    checks += placebo_space_checks(
        control_tables or {}, reference, window, params, lambda r, w: estimate(fit_counterfactual(r, w, params), params)
    )
    rec = result_record(
        est,
        checks,
        label=label if table.label != LABEL_WEATHER_ONLY else f"{label}:{LABEL_WEATHER_ONLY}".lstrip(":"),
        targets=targets,
        controls=controls,
        window=window,
        params=params,
        pollutant=pollutant,
    )
    rec = replace(rec, placebo=_space_not_run(rec.placebo, bool(control_tables)))
    if with_sensitivity:
        sens = sensitivity(table, window, reference, params, controls=controls, cf=main_cf)
        rec = replace(rec, placebo={**rec.placebo, "sensitivity": sens})
    return est, tuple(checks), rec


# --------------------------------------------------------------------------------------------------------------
# Sensitivity (§3.9 step 5 "sensitivity (spread over windows, trend on/off, control sets)")
# --------------------------------------------------------------------------------------------------------------


def _tables_map(tables: Any, f: Callable[[FeatureTable], FeatureTable]) -> Any:
    """``f`` applied to one table, or to each AQI item's table."""
    if isinstance(tables, FeatureTable):
        return f(tables)
    return {k: f(t) for k, t in tables.items()}


def _has_control(tables: FeatureTable | Mapping[str, FeatureTable], index: int) -> bool:
    """Whether control ``index`` is an input (of any AQI item's table)."""
    group = [tables] if isinstance(tables, FeatureTable) else list(tables.values())
    return any(n.startswith(f"control{index}_") for t in group for n in t.names)


def _members_slice(cf: Counterfactual | AqiCounterfactual, sl: slice) -> Counterfactual | AqiCounterfactual:
    """``cf`` with the ensemble members ``sl`` only (of every AQI item: the same member index for all items)."""
    if isinstance(cf, AqiCounterfactual):
        return replace(cf, members={k: m[sl] for k, m in cf.members.items()})
    return replace(cf, members=cf.members[sl])


def _estimate_any(cf: Counterfactual | AqiCounterfactual, params: AvoidedParams) -> Estimate:
    return estimate_aqi(cf, params) if isinstance(cf, AqiCounterfactual) else estimate(cf, params)


def window_estimates(cf: Counterfactual | AqiCounterfactual, params: AvoidedParams) -> dict[str, float]:
    """Avoided days (Monte Carlo median) of each reference-window variant alone, keyed by its trim in days.

    The ensemble rows are window-major (``windows`` × ``seeds``, :func:`fit_counterfactual`,
    :func:`fit_aqi_counterfactual`), so each window's members are a contiguous slice; the residual model is shared.
    An AQI counterfactual is estimated by :func:`estimate_aqi` (its event, its dust days), one pollutant's by
    :func:`estimate`.
    """
    k = len(params.seeds)
    out = {}
    for i, trim in enumerate(params.windows):
        out[str(trim)] = _estimate_any(_members_slice(cf, slice(i * k, (i + 1) * k)), params).avoided_median
    return out


def without_control(table: FeatureTable, index: int) -> FeatureTable:
    """``table`` without the inputs of control ``index`` (its log concentration and, for O3, its lag)."""
    keep = [j for j, n in enumerate(table.names) if not n.startswith(f"control{index}_")]
    names = tuple(table.names[j] for j in keep)
    has_control = any(n.startswith("control") for n in names)
    return replace(table, x=table.x[:, keep], names=names, label=table.label if has_control else LABEL_WEATHER_ONLY)


def with_trend(table: FeatureTable) -> FeatureTable:
    """``table`` with a linear trend input (days since 2000-01-01): the "trend on" variant; off is the default (d)."""
    days = (table.dates - np.datetime64("2000-01-01", "D")).astype(float)
    return replace(table, x=np.column_stack([table.x, days]), names=(*table.names, "trend_days"))


def sensitivity(
    table: FeatureTable | Mapping[str, FeatureTable],
    window: tuple[date, date],
    reference: tuple[date, date],
    params: AvoidedParams,
    *,
    controls: Sequence[str] = (),
    cf: Counterfactual | AqiCounterfactual | None = None,
    fit: Callable[[Any, Any], Counterfactual | AqiCounterfactual] | None = None,
) -> dict[str, Any]:
    """The §3.9 step 5 sensitivity report of one evaluation: avoided days (Monte Carlo median) per reference
    window, with the trend input on, and with each control left out; ``spread`` = max − min over all variants.

    One code path for every event, as :func:`placebo_space_checks`: ``table`` is one pollutant's
    :class:`FeatureTable` or the tables per AQI item (each variant — trend input, a control left out — is applied
    to every item's table), ``fit(reference_part, window_part)`` fits that kind of counterfactual (default
    :func:`fit_counterfactual`; the AQI events pass :func:`fit_aqi_counterfactual` with their event and dust
    flags), and ``cf`` is the main evaluation's counterfactual when already fitted. Reported, not judged: the spec
    sets no pass criterion for it, so it never changes the verdict.
    """
    fit = fit or (lambda r, w: fit_counterfactual(r, w, params))
    ref, target = _span(table, reference), _span(table, window)
    base = cf or fit(ref, target)
    windows = window_estimates(base, params)
    trend_cf = fit(_tables_map(ref, with_trend), _tables_map(target, with_trend))
    out: dict[str, Any] = {
        "windows": windows,
        "window_spread": max(windows.values()) - min(windows.values()),
        "trend_on": _estimate_any(trend_cf, params).avoided_median,
        "control_sets": {},
    }
    for i, code in enumerate(controls):
        if not _has_control(table, i):
            continue
        drop = lambda t, i=i: without_control(t, i)  # noqa: E731 - bound per control
        variant = fit(_tables_map(ref, drop), _tables_map(target, drop))
        out["control_sets"][f"without {code}"] = _estimate_any(variant, params).avoided_median
    values = [*windows.values(), out["trend_on"], *out["control_sets"].values()]
    out["spread"] = max(values) - min(values)
    return out


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def evaluate_stored(
    store: Store,
    target: str,
    controls: Sequence[str],
    window: tuple[date, date],
    params: AvoidedParams,
    *,
    pollutant: str = "a34004",
    reference_years: int = 3,
    placebo_years: int = 2,
    tz: str = "Asia/Shanghai",
    with_sensitivity: bool = True,
) -> tuple[Estimate, tuple[Check, ...], InterventionResult]:
    """:func:`evaluate_intervention` on stored observations (§3.9 step 2 "reference window: the same season of the
    previous 2–3 years").

    The reference window is the ``reference_years`` before ``window``; the placebo years are the same calendar
    window 1..``placebo_years`` years earlier. With ≥ 2 controls each control also plays the target (its inputs
    use the other controls): placebo in space. Days are local dates in ``tz``; the heating flag of every table
    follows ``params.heating``. Each station's stored NWP ``blh``, ``ssrd``, ``tcc`` join its weather when they
    cover the reference and the window (:func:`stored_nwp`); what was used or left out, and why, is recorded in
    ``placebo["nwp"]``.
    """
    from bogda.timeutil import as_utc

    reference = (_years_before(window[0], reference_years), window[0] - timedelta(days=1))
    placebos = [(_years_before(window[0], k), _years_before(window[1], k)) for k in range(placebo_years, 0, -1)]

    def utc(d: date) -> datetime:
        return as_utc(datetime(d.year, d.month, d.day), naive="beijing" if tz == "Asia/Shanghai" else "utc")

    lo, hi = utc(reference[0] - timedelta(days=3)), utc(window[1] + timedelta(days=2))  # margins: zone, lags
    nwp = stored_nwp(store, (target, *controls), {"reference": reference, "window": window}, lo, hi, tz=tz)
    frames = {c: _join_nwp(hourly_from_store(store, c, lo, hi, pollutant), nwp[c][0]) for c in (target, *controls)}
    table = feature_table(
        frames[target], [frames[c] for c in controls], pollutant=pollutant, heating=params.heating, tz=tz
    )
    ctabs = {
        c: feature_table(frames[c], [frames[o] for o in others], pollutant=pollutant, heating=params.heating, tz=tz)
        for c, others in as_targets(controls)
    }
    est, checks, rec = evaluate_intervention(
        table,
        window,
        reference,
        placebos,
        params,
        control_tables=ctabs,
        targets=[target],
        controls=list(controls),
        label=f"{target} {window[0]}..{window[1]}",
        pollutant=pollutant,
        with_sensitivity=with_sensitivity,
    )
    return est, checks, replace(rec, placebo={**rec.placebo, "nwp": _nwp_record({c: i for c, (_, i) in nwp.items()})})


def evaluate_stored_aqi(
    store: Store,
    target: str,
    controls: Sequence[str],
    window: tuple[date, date],
    params: AvoidedParams,
    *,
    event: str = EVENT_HEAVY,
    reference_years: int = 3,
    placebo_years: int = 2,
    tz: str = "Asia/Shanghai",
    with_sensitivity: bool = True,
) -> tuple[Estimate, tuple[Check, ...], InterventionResult]:
    """:func:`evaluate_aqi_intervention` on stored observations (windows and placebo in space as
    :func:`evaluate_stored`: with ≥ 2 controls each control plays the target, the others as its controls).

    Each AQI item is read and modelled on its own (its control input is the controls' same item; O3 adds the
    controls' O3 of the day before). SO2 or CO never stored at the target is left out of the AQI (they seldom set
    it); the other items are required. Official dust days (``dust_day`` rows with status ``official``, any place:
    a dust episode is regional) override the PM2.5/PM10 rule on their dates. Stored NWP BLH, radiation and cloud
    as in :func:`evaluate_stored` (``placebo["nwp"]``).
    """
    from bogda.monitoring.assessment import read_dust
    from bogda.timeutil import as_utc

    reference = (_years_before(window[0], reference_years), window[0] - timedelta(days=1))
    placebos = [(_years_before(window[0], k), _years_before(window[1], k)) for k in range(placebo_years, 0, -1)]

    def utc(d: date) -> datetime:
        return as_utc(datetime(d.year, d.month, d.day), naive="beijing" if tz == "Asia/Shanghai" else "utc")

    lo, hi = utc(reference[0] - timedelta(days=3)), utc(window[1] + timedelta(days=2))
    nwp = stored_nwp(store, (target, *controls), {"reference": reference, "window": window}, lo, hi, tz=tz)
    tables: dict[str, FeatureTable] = {}
    ctabs: dict[str, dict[str, FeatureTable]] = {c: {} for c, _ in as_targets(controls)}
    for code, item in AQI_ITEMS.items():
        frames = {c: _join_nwp(hourly_from_store(store, c, lo, hi, code), nwp[c][0]) for c in (target, *controls)}
        if code not in frames[target].columns or frames[target][code].is_nan().all():
            if item in ("SO2", "CO"):
                continue
            raise ValueError(f"no {item} ({code}) stored at {target}: the AQI cannot be modelled")
        tables[item] = feature_table(
            frames[target], [frames[c] for c in controls], pollutant=code, heating=params.heating, tz=tz
        )
        # every control has this item (feature_table refuses a control without it), so each can play the target
        # with the target's items
        for c, others in as_targets(controls):
            ctabs[c][item] = feature_table(
                frames[c], [frames[o] for o in others], pollutant=code, heating=params.heating, tz=tz
            )
    dust = read_dust(store, start=reference[0], end=window[1]).filter(pl.col("status") == "official")
    est, checks, rec = evaluate_aqi_intervention(
        tables,
        window,
        reference,
        placebos,
        params,
        event=event,
        dust=dict.fromkeys(dust["day"].to_list(), True),
        control_tables=ctabs,
        targets=[target],
        controls=list(controls),
        label=f"{target} {window[0]}..{window[1]}",
        with_sensitivity=with_sensitivity,
    )
    return est, checks, replace(rec, placebo={**rec.placebo, "nwp": _nwp_record({c: i for c, (_, i) in nwp.items()})})


# --------------------------------------------------------------------------------------------------------------
# §8 acceptance check 5 (Beijing)
# --------------------------------------------------------------------------------------------------------------

CHECK5_SPLITS: tuple[tuple[tuple[date, date], tuple[date, date]], ...] = (
    ((date(2013, 3, 1), date(2015, 2, 28)), (date(2015, 3, 1), date(2016, 2, 29))),
    ((date(2013, 3, 1), date(2016, 2, 29)), (date(2016, 3, 1), date(2017, 2, 28))),
)
"""(train, test) day spans of §8 check 5."""

CHECK5_TARGET = "Dongsi"
CHECK5_CONTROL = "Dingling"


@dataclass(frozen=True)
class Check5Row:
    """One split × feature set of check 5."""

    features: str  # weather_calendar | with_control
    train: tuple[date, date]
    test: tuple[date, date]
    estimate: Estimate
    checks: tuple[Check, ...]
    result: InterventionResult


def _prsa(data_dir: Path, station: str) -> pl.DataFrame:
    from bogda.forecast.observations import read_prsa_frame

    files = sorted((data_dir / "beijing").glob(f"PRSA_Data_{station}_*.csv.gz"))
    if not files:
        raise FileNotFoundError(f"no PRSA file of {station} in {data_dir / 'beijing'}")
    return read_prsa_frame(files[0])


def evaluate_split(
    table: FeatureTable,
    train: tuple[date, date],
    test: tuple[date, date],
    params: AvoidedParams,
    *,
    inject: bool,
) -> tuple[Estimate, tuple[Check, ...]]:
    """Fit on ``train``, evaluate ``test`` as a placebo year (no intervention there) with the calibration check,
    and the injection test when ``inject``."""
    cf = fit_counterfactual(table.between(*train), table.between(*test), params)
    est = estimate(cf, params)
    checks = [placebo_check(est, params), calibration_check(est, params)]
    if inject:
        checks.append(injection_test(cf, params))
    return est, tuple(checks)


def check5(data_dir: Path, params: AvoidedParams | None = None) -> list[Check5Row]:
    """§8 check 5: Dongsi daily PM2.5 > 150, without and with Dingling as control, on both train/test splits.

    Both test years are free of the evaluated intervention, so each is a placebo in time; the injection test runs
    on the last split (2016–17). The verdict of every row is judged on both placebo years together (§3.9 step 5
    "≥ 2 non-intervention years"): one failed placebo fails the feature set. Placebo in space is not run: with a
    single control there is no second station outside the footprint to play the target.
    """
    p = params or AvoidedParams(threshold=150.0)
    target = _prsa(data_dir, CHECK5_TARGET)
    control = _prsa(data_dir, CHECK5_CONTROL)
    code_t = str(target["station_code"][0])
    code_c = str(control["station_code"][0])
    rows: list[Check5Row] = []
    for features, ctrls in (("weather_calendar", ()), ("with_control", (control,))):
        table = feature_table(target, ctrls, heating=p.heating)
        runs = []
        for i, (tr, te) in enumerate(CHECK5_SPLITS):
            runs.append((tr, te, *evaluate_split(table, tr, te, p, inject=i == len(CHECK5_SPLITS) - 1)))
        # placebo in time needs every non-intervention year: share the placebo checks across the splits
        placebos = [
            replace(c, name=f"placebo_time_{te[0].year}")
            for _, te, _, cs in runs
            for c in cs
            if c.name == "placebo_time"
        ]
        for tr, te, est, cs in runs:
            checks = (*placebos, *(c for c in cs if c.name != "placebo_time"))
            rec = result_record(
                est,
                checks,
                label=f"check5:{features}" + ("" if ctrls else f":{LABEL_WEATHER_ONLY}"),
                targets=[code_t],
                controls=[code_c] if ctrls else [],
                window=te,
                params=p,
            )
            rec = replace(rec, placebo=_space_not_run(rec.placebo, False))  # one control: none to play the target
            rows.append(Check5Row(features, tr, te, est, checks, rec))
    return rows


def check5_table(rows: Sequence[Check5Row]) -> pl.DataFrame:
    """The check-5 figures, one row per split × feature set (counts in days)."""
    out: list[Mapping[str, Any]] = []
    for r in rows:
        e = r.estimate
        a, alo, ahi = e.analytic_avoided
        out.append(
            {
                "features": r.features,
                "test": f"{r.test[0]:%Y-%m}..{r.test[1]:%Y-%m}",
                "n_days": e.n_days,
                "observed": e.n_obs,
                "expected": round(e.expected, 1),
                "avoided": round(a, 1),
                "analytic_lo": round(alo, 1),
                "analytic_hi": round(ahi, 1),
                "cf_median": e.cf_median,
                "mc_avoided": e.avoided_median,
                "mc_lo": e.ci90[0],
                "mc_hi": e.ci90[1],
                "bss": None if e.bss is None else round(e.bss, 3),
                "sigma": round(e.sigma, 3),
                "mde_pct": round(e.mde_pct, 1),
                "checks": " ".join(f"{c.name}:{'ok' if c.passed else 'FAIL'}" for c in r.checks),
                "verdict": r.result.verdict,
            }
        )
    return pl.DataFrame(out)
