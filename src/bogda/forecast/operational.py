"""Operational forecasts at one issue time: areas, items, baselines, model sets, AQI (forecast.md §3.1–§3.5).

Pure functions over a :class:`~bogda.forecast.features.Panel` of recent hourly observations. The panel's rows are
*targets*: stations, plus counties and the prefecture as series of their own (forecast.md §2: an area series is the
mean of its member evaluation stations per pollutant and hour, valid when ≥ 50 % of members are valid; areas are
modelled on their own series, station quantiles are never averaged).

Every item gets its baselines (persistence, climatology, damped persistence) beside the primary method. The primary
method is the LightGBM model set of an :class:`OperationalModels` bundle when one covers the item and target, else
damped persistence (status ``degraded``, forecast.md §3.4: "with less [history], only baselines are served").

Defaults marked (d) are design values from the spec or documented here, configurable through the arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import numpy as np

from bogda.forecast import baselines as bl
from bogda.forecast.features import (
    POLLUTANTS,
    WEATHER,
    DailyCache,
    FeatureContext,
    Panel,
    SeriesCache,
    beijing_calendar,
    daily_means,
    neighbour_table,
)
from bogda.forecast.models import (
    FAST,
    HOURLY_BLOCKS,
    SEAM_HOURS,
    TUNE_MIN_ROWS,
    ModelSet,
    Profile,
    TunedSet,
    fit_model_set,
    predict_daily,
    predict_hourly_leads,
    range_holding,
    tune_model_set,
)
from bogda.forecast.models import train_daily as _train_daily
from bogda.forecast.models import train_hourly as _train_hourly
from bogda.forecast.nwp_archive import NwpArchive
from bogda.forecast.scenarios import concentration_floor

log = logging.getLogger(__name__)

HOURLY_ITEMS: tuple[str, ...] = tuple(POLLUTANTS)
"""Hourly items: the six 1-h pollutants (HJ 212 codes)."""

DAILY_ITEMS: tuple[str, ...] = ("a34004", "a34002", "a21026", "a21004", "a21005", "O3_8h_max", "O3_1h_max")
"""Daily items: 24-h means of five pollutants, O3 daily maximum 8 h, O3 daily maximum 1 h (2012-rule dates)."""

UNITS: dict[str, str] = {code: ("mg/m3" if code == "a21005" else "ug/m3") for code in POLLUTANTS} | {
    "O3_8h_max": "ug/m3",
    "O3_1h_max": "ug/m3",
    "AQI": "",
}

AQI_LABEL: dict[str, str] = {
    "a34004": "PM2.5",
    "a34002": "PM10",
    "a21026": "SO2",
    "a21004": "NO2",
    "a21005": "CO",
    "a05024": "O3_1h",
    "O3_8h_max": "O3_8h",
    "O3_1h_max": "O3_1h",
}
"""Item → AQI item label of :mod:`bogda.standards.aqi`."""

REFERENCE_DAMPING_H: dict[int, float] = {1: 0.97, 24: 0.36, 48: 0.08, 72: -0.01}
"""Reference damping coefficients a at 1/24/48/72 h (forecast.md §3.3); used (linearly interpolated in lead) when
fewer than :data:`MIN_FIT_PAIRS` training pairs exist (d)."""

REFERENCE_DAMPING_D1 = 0.51
"""Reference a at D+1 (forecast.md §3.3). Beyond D+1 the default is 0.51 · 0.3^(k−1) (d, documented here)."""

MIN_FIT_PAIRS = 240
"""Pairs needed before a is fitted on the series' own history rather than taken from the reference (d)."""

DEFAULT_LOG_SPREAD_H = ((1, 0.20), (6, 0.35), (24, 0.55), (72, 0.65))
"""Log-space σ of the damped-persistence error by lead [h] when no residuals can be fitted (d): p10/p90 are
exp(ln mean ∓ 1.2816 σ). Roughly the spread of the Dongsi damped-persistence residuals."""

DEFAULT_LOG_SPREAD_D = 0.55
"""Log-space σ of daily damped-persistence errors without fitted residuals (d)."""

AREA_MIN_SHARE = 0.5
"""An area hour is valid when at least this share of member stations is valid (forecast.md §2, d)."""

Z90 = 1.2815515655446004

FIT_LEADS: tuple[int, ...] = (1, 2, 3, 6, 12, 18, 24, 36, 48, 60, 72)
"""Leads [h] at which damping and spread are fitted; other leads interpolate linearly."""


# --------------------------------------------------------------------------------------------------------------
# Targets and area series
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A forecast target: a station, county or prefecture series."""

    code: str
    kind: str  # station | county | prefecture
    name: str = ""
    lat: float | None = None
    lon: float | None = None
    members: tuple[str, ...] = ()  # station codes of an area (evaluation stations only)
    elevation_m: float | None = None  # a station's height above sea level (registry), for NWP temperature


def area_mean(x: np.ndarray, min_share: float = AREA_MIN_SHARE) -> np.ndarray:
    """Mean over member rows per hour, NaN where fewer than ``min_share`` of the members are valid.

    >>> area_mean(np.array([[10.0, np.nan, 4.0], [20.0, np.nan, np.nan]])).tolist()
    [15.0, nan, 4.0]
    """
    x = np.asarray(x, dtype=float)
    if x.shape[0] == 0:
        return np.full(x.shape[1:], np.nan)
    ok = np.isfinite(x)
    cnt = ok.sum(axis=0)
    tot = np.where(ok, x, 0.0).sum(axis=0)
    return np.where(cnt >= min_share * x.shape[0], tot / np.maximum(cnt, 1), np.nan)


def with_areas(panel: Panel, targets: Sequence[Target]) -> Panel:
    """The panel extended by one row per area target (mean of its members, :func:`area_mean`).

    Station targets must already be rows of ``panel``; areas without a member in the panel get all-NaN rows.
    """
    idx = {s: i for i, s in enumerate(panel.stations)}
    areas = [t for t in targets if t.kind != "station" and t.code not in idx]
    if not areas:
        return panel
    data = {}
    for var, arr in panel.data.items():
        rows = [area_mean(arr[[idx[m] for m in a.members if m in idx]]) for a in areas]
        data[var] = np.vstack([arr, *[r[None, :] for r in rows]])
    coords = dict(panel.coords)
    for a in areas:
        if a.lat is not None and a.lon is not None:
            coords[a.code] = (a.lat, a.lon)
    return Panel(panel.first_day, (*panel.stations, *(a.code for a in areas)), data, coords, panel.rows_out_of_index)


def o3_8h_running(o3: np.ndarray, min_valid: int = 6) -> np.ndarray:
    """8-h moving mean ending at each hour (interval starts h−7..h), needing ``min_valid`` of 8 (forecast.md §3.2).

    >>> o3_8h_running(np.array([[8.0] * 7 + [16.0]]))[0, 6:].tolist()
    [8.0, 9.0]
    """
    x = np.asarray(o3, dtype=float)
    ok = np.isfinite(x)
    z = np.zeros((x.shape[0], 1))
    cs = np.concatenate([z, np.cumsum(np.where(ok, x, 0.0), axis=1)], axis=1)
    cn = np.concatenate([z, np.cumsum(ok, axis=1)], axis=1)
    hi = np.arange(1, x.shape[1] + 1)
    lo = np.maximum(hi - 8, 0)
    tot = cs[:, hi] - cs[:, lo]
    cnt = cn[:, hi] - cn[:, lo]
    return np.where(cnt >= min_valid, tot / np.maximum(cnt, 1), np.nan)


def daily_o3_8h_max(o3: np.ndarray, min_windows: int = 14) -> np.ndarray:
    """Daily maximum 8-h mean per Beijing day: windows ending at 08:00..24:00 (interval starts 00..23 of the day,
    the window ending at hour position 7..23), at least ``min_windows`` valid windows (d) (HJ 633 / GB 3095
    daily O3 8-h statistic)."""
    r = o3_8h_running(o3).reshape(o3.shape[0], -1, 24)[:, :, 7:]
    ok = np.isfinite(r)
    with np.errstate(all="ignore"):
        mx = np.where(ok, r, -np.inf).max(axis=2)
    return np.where(ok.sum(axis=2) >= min_windows, mx, np.nan)


def daily_max(x: np.ndarray, min_hours: int = 18) -> np.ndarray:
    """Daily maximum of hourly values per Beijing day with ``min_hours`` valid hours (d)."""
    d = np.asarray(x, dtype=float).reshape(x.shape[0], -1, 24)
    ok = np.isfinite(d)
    with np.errstate(all="ignore"):
        mx = np.where(ok, d, -np.inf).max(axis=2)
    return np.where(ok.sum(axis=2) >= min_hours, mx, np.nan)


def daily_item(panel: Panel, item: str) -> np.ndarray:
    """Observed daily series (n_targets, n_days) of a :data:`DAILY_ITEMS` item (NaN when the day is invalid)."""
    if item == "O3_8h_max":
        return daily_o3_8h_max(panel.data["a05024"])
    if item == "O3_1h_max":
        return daily_max(panel.data["a05024"])
    return daily_means(panel.data[item])


# --------------------------------------------------------------------------------------------------------------
# Baselines at one issue time
# --------------------------------------------------------------------------------------------------------------


def reference_damping(lead_h: int | np.ndarray) -> np.ndarray:
    """Reference a for an hourly lead, interpolated between the spec's values (forecast.md §3.3).

    >>> reference_damping(np.array([1, 12, 24, 72, 96])).round(3).tolist()
    [0.97, 0.678, 0.36, -0.01, -0.01]
    """
    xs = np.array(sorted(REFERENCE_DAMPING_H))
    ys = np.array([REFERENCE_DAMPING_H[k] for k in xs])
    return np.interp(np.asarray(lead_h, dtype=float), xs, ys)


def reference_damping_daily(k: int) -> float:
    """Reference a at D+k: 0.51 at D+1 (forecast.md §3.3), × 0.3 per further day (d)."""
    return REFERENCE_DAMPING_D1 * 0.3 ** max(0, k - 1)


def log_spread(lead_h: int | np.ndarray) -> np.ndarray:
    """Default log σ by hourly lead (:data:`DEFAULT_LOG_SPREAD_H`)."""
    xs, ys = zip(*DEFAULT_LOG_SPREAD_H, strict=True)
    return np.interp(np.asarray(lead_h, dtype=float), xs, ys)


def lognormal_band(
    mean: np.ndarray, sigma: np.ndarray | float, floor: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p10, p50, p90 of a lognormal centred on ``mean`` with log σ (concentrations floored at ``floor``, the item's
    :func:`bogda.forecast.scenarios.concentration_floor`, forecast.md §3.5).

    >>> [round(float(v[0]), 1) for v in lognormal_band(np.array([100.0]), 0.5)]
    [52.7, 100.0, 189.8]
    >>> [round(float(v[0]), 3) for v in lognormal_band(np.array([0.6]), 0.5, floor=0.1)]  # CO, mg/m³
    [0.316, 0.6, 1.139]
    """
    m = np.maximum(np.asarray(mean, dtype=float), floor)
    s = np.asarray(sigma, dtype=float)
    return m * np.exp(-Z90 * s), m, m * np.exp(Z90 * s)


def _hour_of_day_clim(x: np.ndarray, upto: int) -> np.ndarray:
    """Mean by Beijing hour of day over positions < ``upto``; the overall mean where an hour has no value."""
    h = x[:, :upto]
    n = h.shape[1] // 24 * 24
    d = h[:, h.shape[1] - n :].reshape(h.shape[0], -1, 24) if n else np.full((h.shape[0], 1, 24), np.nan)
    ok = np.isfinite(d)
    cnt = ok.sum(axis=1)
    by_hour = np.where(cnt > 0, np.where(ok, d, 0.0).sum(axis=1) / np.maximum(cnt, 1), np.nan)
    with np.errstate(all="ignore"):
        overall = np.nanmean(np.where(np.isfinite(h), h, np.nan), axis=1) if h.size else np.full(h.shape[0], np.nan)
    # positions are aligned to whole Beijing days, so column j of the table is Beijing hour j
    shift = (h.shape[1] - n) % 24
    by_hour = np.roll(by_hour, shift, axis=1) if shift else by_hour
    return np.where(np.isfinite(by_hour), by_hour, overall[:, None])


@dataclass
class ItemForecast:
    """Forecasts of one item for every target: ``methods[name]`` and quantiles, shape (n_targets, n_leads)."""

    item: str
    resolution: str  # hour | day
    leads: np.ndarray
    valid_start: list[datetime]
    primary: str
    methods: dict[str, np.ndarray]
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    model_inputs: dict[str, object] = field(default_factory=dict)


def hourly_baselines(
    panel: Panel,
    var: str,
    t_issue: int,
    leads: np.ndarray,
    *,
    max_age: float = bl.STALE_AFTER_H,
    table: HourlyBaseline | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Persistence, climatology and damped persistence for every target (forecast.md §3.3).

    With ``table`` (the training climatology of the nightly job, :func:`fit_baselines`), the climatology is the
    training mean by (month, hour) of the target time and a, σ are the ones fitted on the training pairs. Rows the
    table does not hold, and (month, hour) cells it never saw, fall back to the panel's own history ≤ t: the mean
    by hour of day, with a and σ fitted on the panel's pairs when at least :data:`MIN_FIT_PAIRS` exist, else the
    reference values. Returns (methods, log σ of the damped-persistence residuals per target and lead).
    """
    x = panel.data[var]
    n = x.shape[0]
    cache = SeriesCache(panel)
    clim = _hour_of_day_clim(x, t_issue + 1)  # (n, 24)
    pos = np.arange(t_issue + int(leads.max()) + 1)
    clim_at = clim[:, pos % 24]
    rows = _table_rows(table, panel.stations)
    if table is not None:
        cal = beijing_calendar(panel, pos)
        seasonal = table.month_hour[np.maximum(rows, 0)][:, cal["month"].astype(np.int64) - 1, pos % 24]
        clim_at = np.where((rows >= 0)[:, None] & np.isfinite(seasonal), seasonal, clim_at)
    s = np.arange(n)
    pers, age = cache.last_valid(var, s, np.full(n, t_issue))
    stale = age > max_age
    clim_now = clim_at[:, t_issue]
    out_p = np.empty((n, leads.size))
    out_c = np.empty((n, leads.size))
    out_d = np.empty((n, leads.size))
    hist_t = np.arange(0, t_issue + 1)
    # a and σ are fitted at a few leads and interpolated between them (they vary smoothly with lead); rows with a
    # training table take its fit, so the panel's own fit runs only when some row has none
    knots = np.array([k for k in FIT_LEADS if k < leads.max()] + [int(leads.max())])
    a_k = np.empty((n, knots.size))
    s_k = np.empty((n, knots.size))
    if not (rows >= 0).all():
        for j, k in enumerate(knots):
            t0 = hist_t[hist_t + k <= hist_t[-1]]
            a_k[:, j], s_k[:, j] = bl.fit_damping_series(
                x,
                clim_at,
                t0,
                int(k),
                reference_damping(int(k)),
                log_spread(int(k)),
                min_pairs=MIN_FIT_PAIRS,
                floor=concentration_floor(var),
            )
    if table is not None:
        has = rows >= 0
        for i in np.flatnonzero(has):
            a_k[i] = np.interp(knots, table.knots, table.a[rows[i]])
            s_k[i] = np.interp(knots, table.knots, table.sigma[rows[i]])
    # one interpolation per target over all leads (not per target and lead: 72 × ~110 calls cost ~0.4 s a refresh)
    a_all = np.stack([np.interp(leads, knots, a_k[i]) for i in range(n)]) if n else np.empty((0, leads.size))
    s_all = np.stack([np.interp(leads, knots, s_k[i]) for i in range(n)]) if n else np.empty((0, leads.size))
    for j, lead in enumerate(leads):
        c_t = clim_at[:, t_issue + lead]
        out_c[:, j] = c_t
        out_p[:, j] = np.where(stale, c_t, pers)
        out_d[:, j] = bl.damped_persistence(c_t, a_all[:, j], np.where(stale, np.nan, pers), clim_now)
    name = "climatology_month_hour" if table is not None else "climatology_hour"
    return {"persistence": out_p, name: out_c, "damped_persistence": out_d}, s_all


def _table_rows(table: HourlyBaseline | DailyBaseline | None, codes: Sequence[str]) -> np.ndarray:
    """Row of each code in ``table`` (−1: not held, or no table)."""
    if table is None:
        return np.full(len(codes), -1)
    at = {c: i for i, c in enumerate(table.codes)}
    return np.array([at.get(c, -1) for c in codes], dtype=np.int64)


def daily_baselines(
    obs_daily: np.ndarray,
    today: int,
    horizons: np.ndarray,
    *,
    table: DailyBaseline | None = None,
    panel: Panel | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Daily persistence (last valid day ≤ today), climatology and damped persistence (forecast.md §3.3).

    Without ``table``: the climatology is the history's mean, a the reference value for the lag from the
    persistence day to the target day and σ :data:`DEFAULT_LOG_SPREAD_D`. With ``table`` (and ``panel`` for the
    days of year), rows it holds take the training climatology of the target's day of year (±15 days) and of the
    persistence day, and a, σ fitted on the training pairs at that lag (beyond the table's lags, the reference a).
    """
    n = obs_daily.shape[0]
    hist = obs_daily[:, : today + 1]
    ok = np.isfinite(hist)
    cnt = ok.sum(axis=1)  # a station without a valid day has no climatology (NaN), and no empty-slice warning
    clim = np.where(cnt > 0, np.where(ok, hist, 0.0).sum(axis=1) / np.maximum(cnt, 1), np.nan)
    days = np.arange(today + int(np.max(horizons)) + 1)
    clim_at = np.repeat(clim[:, None], days.size, axis=1)
    rows = _table_rows(table, panel.stations if panel is not None else ())
    if table is not None:
        if panel is None:
            raise ValueError("daily_baselines: a table needs the panel (days of year)")
        doy = beijing_calendar(panel, days * 24)["doy"].astype(np.int64)
        seasonal = table.doy[np.maximum(rows, 0)][:, doy]
        clim_at = np.where((rows >= 0)[:, None] & np.isfinite(seasonal), seasonal, clim_at)
    s = np.arange(n)
    pers = bl.daily_persistence(obs_daily, s, np.full(n, today))
    pos = np.broadcast_to(np.arange(obs_daily.shape[1]), obs_daily.shape)
    last = np.maximum.accumulate(np.where(np.isfinite(obs_daily), pos, -1), axis=1)[:, today]
    clim_pers = clim_at[s, np.maximum(last, 0)]
    out_p = np.empty((n, horizons.size))
    out_c = np.empty((n, horizons.size))
    out_d = np.empty((n, horizons.size))
    sig = np.full((n, horizons.size), DEFAULT_LOG_SPREAD_D)
    for j, k in enumerate(horizons):
        lag = np.where(last >= 0, today + k - last, k)
        a = np.array([reference_damping_daily(int(g)) for g in lag])
        if table is not None:
            held = (rows >= 0) & (lag <= table.a.shape[1])
            li = np.clip(lag, 1, table.a.shape[1]) - 1
            a = np.where(held, table.a[np.maximum(rows, 0), li], a)
            sig[:, j] = np.where(held, table.sigma[np.maximum(rows, 0), li], sig[:, j])
        c_t = clim_at[:, today + k]
        out_c[:, j] = c_t
        out_p[:, j] = np.where(np.isfinite(pers), pers, c_t)
        out_d[:, j] = bl.damped_persistence(c_t, a, pers, clim_pers)
    name = "climatology_doy15" if table is not None else "climatology_mean"
    return {"persistence": out_p, name: out_c, "damped_persistence": out_d}, sig


# --------------------------------------------------------------------------------------------------------------
# LightGBM bundle
# --------------------------------------------------------------------------------------------------------------


@dataclass
class ItemModels:
    """Trained model sets of one item with the climatology tables their features need, keyed by target code."""

    item: str
    hourly: dict[tuple[int, int], ModelSet]
    daily: dict[int, ModelSet]
    clim_month_hour: dict[str, np.ndarray]  # code → (12, 24)
    clim_doy: dict[str, np.ndarray]  # code → (367,)
    hourly_nwp: dict[tuple[int, int], ModelSet] = field(default_factory=dict)
    daily_nwp: dict[int, ModelSet] = field(default_factory=dict)
    nwp_vars: tuple[str, ...] = ()
    """Mode ``nwp`` sets trained on archived runs as issued (:mod:`bogda.forecast.nwp_archive`), beside the no-NWP
    sets that serve when no run is usable (forecast.md §3.4)."""


@dataclass
class OperationalModels:
    """Everything a refresh needs to run the models (forecast.md §3.4): per-item sets, targets, settings."""

    items: dict[str, ItemModels]
    targets: tuple[str, ...]
    weather_mode: str
    profile: str
    issue_hour: int
    trained_at: datetime
    neighbour_km: float = 50.0
    version: str = ""
    heating: tuple[tuple[int, int], tuple[int, int]] | None = None
    """The heating season the sets were trained with (their ``tgt_heating`` feature, forecast.md §2); a refresh
    builds its features with it, whatever the setting says now. None: no such feature (and bundles pickled before
    the field existed, which read the class default)."""
    weather_vars: tuple[str, ...] = ()
    """The observed station weather the sets learnt from (:func:`observed_weather_vars`, forecast.md §3.4 "observed
    weather now"); a refresh builds the same columns, NaN where a station measures none. Empty: pollutants only (and
    bundles pickled before the field existed)."""
    daily_pollutants: tuple[str, ...] = ()
    """The pollutants whose issue-day daily means the daily sets read beside their own item (``PM10_day0``, …, as
    the Dongsi protocol's daily models do, forecast.md §3.4 "daily aggregates of the same"). Empty: the item's own
    series only (bundles pickled before the field existed)."""
    seam_hours: int = 0
    """Leads [h] after a border between hourly blocks over which the earlier block fades out
    (:func:`bogda.forecast.models.seam_weights`); :func:`train_operational` sets
    :data:`~bogda.forecast.models.SEAM_HOURS`. 0: each lead from its own block alone (bundles pickled before the
    field existed)."""

    def covers(self, item: str) -> bool:
        return item in self.items


def hourly_var(panel: Panel, item: str) -> str:
    """Panel variable holding an item's hourly state (O3 daily items use the running 8-h mean / the 1-h value)."""
    if item == "O3_8h_max":
        if "O3_8h" not in panel.data:
            panel.data["O3_8h"] = o3_8h_running(panel.data["a05024"])
        return "O3_8h"
    if item == "O3_1h_max":
        return "a05024"
    return item


def _context(
    panel: Panel,
    var: str,
    clim_mh: np.ndarray,
    clim_doy: np.ndarray,
    nb_km: float,
    heating: tuple[tuple[int, int], tuple[int, int]] | None = None,
    weather_vars: Sequence[str] = (),
) -> FeatureContext:
    with_weather_columns(panel, weather_vars)
    nb = neighbour_table(panel.stations, panel.coords, max_km=nb_km) if panel.coords else None
    static = {
        "lat": np.array([panel.coords.get(s, (np.nan, np.nan))[0] for s in panel.stations]),
        "lon": np.array([panel.coords.get(s, (np.nan, np.nan))[1] for s in panel.stations]),
    }
    clim_h = bl.hourly_clim_array(panel, clim_mh)
    clim_d = bl.daily_clim_array(panel, clim_doy)
    return FeatureContext(panel, var, nb, clim_h, clim_d, tuple(weather_vars), static, heating=heating)


OBS_WEATHER_MIN_SHARE = 0.75
"""Share of the hours of the training minimum (``min_days`` × 24) a station must hold a weather variable on, in the
training window, for the variable to become a model input (d): the bar the targets meet, less a quarter for gaps."""


def observed_weather_vars(
    panel: Panel, first_day: int, last_day: int, min_days: int, stations: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The observed weather variables (:data:`~bogda.forecast.features.WEATHER`) the models learn from: those that
    some station holds on at least :data:`OBS_WEATHER_MIN_SHARE` × ``min_days`` × 24 hours of days
    [``first_day``, ``last_day``] (forecast.md §3.4 features "observed weather now"). A network without weather
    sensors gets none, and its models are the pollutant-only ones. ``stations``: the rows that count (default all;
    area rows are means of stations and add nothing).

    >>> from datetime import date
    >>> x = np.full((2, 24 * 10), np.nan); x[0, :200] = 1.0
    >>> p = Panel(date(2024, 1, 1), ("S1", "S2"), {"a34004": x.copy(), "t2m": x, "psfc": np.full((2, 240), np.nan)})
    >>> observed_weather_vars(p, 0, 9, 10), observed_weather_vars(p, 0, 9, 12)
    (('t2m',), ())
    """
    rows = [i for i, s in enumerate(panel.stations) if stations is None or s in stations]
    need = OBS_WEATHER_MIN_SHARE * min_days * 24
    window = slice(first_day * 24, (last_day + 1) * 24)
    return tuple(
        v
        for v in WEATHER
        if v in panel.data and rows and np.isfinite(panel.data[v][rows, window]).sum(axis=1).max() >= need
    )


def with_weather_columns(panel: Panel, weather_vars: Sequence[str]) -> Panel:
    """``panel`` with every variable of ``weather_vars`` present (all NaN where the store held none), so that a
    bundle trained on station weather builds the same feature columns on any panel (LightGBM routes the NaN)."""
    for v in weather_vars:
        if v not in panel.data:
            panel.data[v] = np.full((len(panel.stations), panel.n_hours), np.nan)
    return panel


def area_climatology(
    stations: Sequence[str],
    valid_days: np.ndarray,
    min_days: int,
    tables: Sequence[np.ndarray],
    areas_of: Mapping[str, Sequence[str]],
) -> tuple[list[np.ndarray], list[str]]:
    """Give each station with fewer than ``min_days`` valid days the climatology of its area (forecast.md §3.2:
    "Stations with < 365 days use the area climatology (d)").

    Parameters
    ----------
    stations : sequence of str
        Panel row codes (stations and areas).
    valid_days : np.ndarray
        Valid days of the item per row in the training window.
    min_days : int
        The training minimum (365 days, d).
    tables : sequence of np.ndarray
        Climatology tables with the rows first (e.g. month × hour and day of year); copied, never changed.
    areas_of : mapping
        Station code → the codes of the areas holding it, nearest first (county, then prefecture). The first area
        that is a row with ``min_days`` of its own lends its tables; a station without one keeps its own.

    Returns
    -------
    (list of np.ndarray, list of str)
        The tables and ``"station←area"`` for every row that borrowed.

    Examples
    --------
    >>> t = np.array([[1.0], [2.0], [3.0]])
    >>> out, note = area_climatology(["S1", "S2", "C1"], np.array([400, 30, 500]), 365, [t], {"S2": ["C1"]})
    >>> out[0].ravel().tolist(), note
    ([1.0, 3.0, 3.0], ['S2←C1'])
    """
    row = {s: i for i, s in enumerate(stations)}
    out = [np.array(t, copy=True) for t in tables]
    notes = []
    for i, s in enumerate(stations):
        if valid_days[i] >= min_days:
            continue
        lender = next((row[a] for a in areas_of.get(s, ()) if a in row and valid_days[row[a]] >= min_days), None)
        if lender is None:
            continue
        for t_out, t_in in zip(out, tables, strict=True):
            t_out[i] = t_in[lender]
        notes.append(f"{s}←{stations[lender]}")
    return out, notes


def training_window(panel: Panel, train_end: int | None, train_days: int) -> tuple[int, int]:
    """(first, last) day position of the training window: the last ``train_days`` ending at day ``train_end``
    (default: the panel's last whole day), forecast.md §3.4.

    >>> from datetime import date
    >>> p = Panel(date(2024, 1, 1), ("S",), {"x": np.zeros((1, 24 * 10))})
    >>> training_window(p, None, 7), training_window(p, 5, 365)
    ((3, 9), (0, 5))
    """
    end_day = train_end if train_end is not None else panel.n_days - 1
    return max(0, end_day - train_days + 1), end_day


@dataclass
class _ItemInputs:
    """What every model set of an item learns from: its feature context, daily series, targets and climatology."""

    ctx: FeatureContext
    daily: DailyCache
    trainable: list[int]
    clim_mh: np.ndarray
    clim_doy: np.ndarray


def _item_inputs(
    panel: Panel,
    item: str,
    first_day: int,
    last_day: int,
    *,
    min_days: int,
    areas_of: Mapping[str, Sequence[str]] | None,
    neighbour_km: float,
    heating: tuple[tuple[int, int], tuple[int, int]] | None = None,
    weather_vars: Sequence[str] = (),
    daily_pollutants: Sequence[str] = (),
) -> _ItemInputs | str:
    """The item's training targets (the rows with ≥ ``min_days`` valid days in [first_day, last_day]) and its
    climatology over those days; a str says why there are none (forecast.md §3.4). ``heating`` and
    ``weather_vars`` go to the feature context (the target day's heating flag, the observed weather at issue),
    ``daily_pollutants`` to the daily cache (:func:`daily_cache`)."""
    h_win = np.zeros(panel.n_hours, bool)
    h_win[first_day * 24 : (last_day + 1) * 24] = True
    d_win = np.zeros(panel.n_days, bool)
    d_win[first_day : last_day + 1] = True
    var = hourly_var(panel, item)
    yd = daily_item(panel, item)
    n_days = np.isfinite(yd[:, d_win]).sum(axis=1)
    trainable = [i for i in range(len(panel.stations)) if n_days[i] >= min_days]
    if not trainable:
        return f"{item}: at most {int(n_days.max()) if n_days.size else 0} valid days (< {min_days})"
    clim_mh = bl.climatology_month_hour(panel, panel.data[var], h_win)
    clim_doy = bl.climatology_doy(panel, yd, d_win)
    if areas_of:
        (clim_mh, clim_doy), borrowed = area_climatology(
            panel.stations, n_days, min_days, (clim_mh, clim_doy), areas_of
        )
        if borrowed:
            log.info("%s: area climatology for stations with < %d days: %s", item, min_days, ", ".join(borrowed))
    ctx = _context(panel, var, clim_mh, clim_doy, neighbour_km, heating, weather_vars)
    return _ItemInputs(ctx, daily_cache(panel, var, yd, daily_pollutants, weather_vars), trainable, clim_mh, clim_doy)


def daily_cache(
    panel: Panel, var: str, item_daily: np.ndarray, pollutants: Sequence[str], weather_vars: Sequence[str]
) -> DailyCache:
    """The daily arrays the daily sets of one item read: the item's own daily series (``item_daily``, under the
    hourly variable ``var``), first, then the daily means of the other ``pollutants`` and the weather aggregates —
    the same construction in training and refresh, so the feature columns come in the same order."""
    dc = DailyCache(panel, [var, *(p for p in pollutants if p != var)], weather_vars)
    dc.mean[var] = item_daily  # ``var`` may be a pollutant too (O3 1 h max reads a05024): its own item wins
    return dc


def _fit_sets(
    item: str,
    inp: _ItemInputs,
    *,
    start_day: int,
    end_day: int,
    blocks: Sequence[tuple[int, int]],
    horizons: Sequence[int],
    profile: Profile,
    issue_hour: int,
    seed: int,
    nwp: NwpArchive | None,
    fitter: Callable[[str, str], Callable[..., Any]],
) -> dict[str, tuple[dict[tuple[int, int], Any], dict[int, Any]]]:
    """Weather mode → (hourly sets by block, daily sets by horizon) of one item on targets in [start_day, end_day]:
    mode ``none`` always, mode ``nwp`` too with an archive of issued NWP runs. ``fitter(resolution, mode)`` is the
    ``fit_set`` of :func:`~bogda.forecast.models.train_hourly` / :func:`~bogda.forecast.models.train_daily`, so that
    training and tuning fit the very same rows."""
    modes: list[tuple[str, NwpArchive | None]] = [("none", None)]
    if nwp is not None and nwp.variables:
        modes.append(("nwp", nwp))
    out: dict[str, tuple[dict[tuple[int, int], Any], dict[int, Any]]] = {}
    for mode, fut in modes:
        hourly = (
            _train_hourly(
                inp.ctx,
                train_start=start_day * 24,
                train_end=(end_day + 1) * 24 - 1,
                blocks=blocks,
                profile=profile,
                seed=seed,
                stations=inp.trainable,
                weather_mode=mode,
                future=fut,  # type: ignore[arg-type]
                future_vars=fut.variables if fut is not None else (),
                fit_set=fitter("hour", mode),
            )
            if item in HOURLY_ITEMS
            else {}
        )
        daily = _train_daily(
            inp.ctx,
            inp.daily,
            train_start_day=start_day,
            train_end_day=end_day,
            horizons=horizons,
            profile=profile,
            issue_hour=issue_hour,
            seed=seed,
            stations=inp.trainable,
            weather_mode=mode,
            future=fut,  # type: ignore[arg-type]
            fit_set=fitter("day", mode),
        )
        out[mode] = (hourly, daily)
    return out


# --------------------------------------------------------------------------------------------------------------
# Round counts of the quarterly tuning run (forecast.md §3.4)
# --------------------------------------------------------------------------------------------------------------

ROUNDS_FLOOR = 20
"""Fewest rounds a tuned booster gets (d). At learning rate 0.05, 20 rounds move a forecast about two thirds of the
way from the training mean to the fit (1 − 0.95²⁰ ≈ 0.64); an early stop after a handful of rounds on a calm tail
would otherwise serve a near-constant forecast for a whole quarter."""

TUNE_VALID_DAYS = 182
"""The last 6 months (d) of the training window: the tuning run learns on the window before them and stops early
on them (forecast.md §3.4, time-ordered)."""

TUNE_PATIENCE = 30
"""Rounds without improvement on the tail after which the tuning run stops a booster (d): 15 % of the ``fast``
profile's 200 ``mean`` rounds, a quarter of its 120 quantile rounds; a longer wait rarely finds a better iteration
below such caps and costs the rounds it waits."""

ROUNDS_MAX_AGE_DAYS = 120
"""Tuned counts older than this [d] are not used (quarterly tuning + 30 days of slack, d); the profile's rounds are."""

ROUNDS_FORMAT = 1
"""Version of the stored counts (:meth:`TunedRounds.to_json`)."""


def set_key(item: str, horizon: str, weather_mode: str) -> str:
    """Key of a model set in the tuned counts: item, horizon label of the set (``1-1h``, ``2-6h``, ``D+3``) and
    weather mode (``none``, ``nwp``).

    >>> set_key("a34004", "D+1", "none")
    'a34004/D+1/none'
    """
    return f"{item}/{horizon}/{weather_mode}"


def rounds_from_best(best: int, cap: int, floor: int = ROUNDS_FLOOR) -> int:
    """Rounds for the nightly training from a tuned best iteration: clip(⌈1.1 × best⌉, ``floor``, ``cap``), the cap
    winning over the floor (the profile's rounds bound the training time, forecast.md §7). Integer arithmetic, since
    1.1 × 100 is 110.00000000000001 in floating point.

    >>> rounds_from_best(100, 200), rounds_from_best(190, 200), rounds_from_best(3, 200), rounds_from_best(3, 10)
    (110, 200, 20, 10)
    """
    if best < 1:
        raise ValueError(f"best iteration {best}: expected at least 1")
    return min(cap, max(floor, -(-11 * best // 10)))


def _positive_int(value: object, name: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{source}: field {name!r}: expected a positive integer, got {value!r}")
    return value


def _counts(value: object, name: str, source: str, kinds: Sequence[str]) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"{source}: field {name!r}: expected an object, got {value!r}")
    missing = [k for k in kinds if k not in value]
    if missing:
        raise ValueError(f"{source}: field {name!r}: missing {', '.join(missing)}")
    return {str(k): _positive_int(v, f"{name}.{k}", source) for k, v in value.items()}


@dataclass(frozen=True)
class TunedRounds:
    """Round counts of a quarterly tuning run for the nightly training (forecast.md §3.4), per model set
    (:func:`set_key`) and booster kind: ``mean``, and ``quantile`` (shared by α 0.1/0.5/0.9, as the profile's
    ``rounds_quantile`` is: the largest of their tuned counts, so that none of the three is cut short)."""

    tuned_at: datetime
    profile: str
    caps: dict[str, int]
    """The profile's rounds at tuning time (``mean``, ``quantile``): no count exceeds them."""
    floor: int
    patience: int
    window: dict[str, str]
    """Beijing dates: ``first`` and ``last`` day of the training window, ``valid_from`` the first day of its tail."""
    sets: dict[str, dict[str, int]]
    best: dict[str, dict[str, int]] = field(default_factory=dict)
    """Best iteration per set and booster (``mean``, ``p10``, ``p50``, ``p90``): the record the counts come from."""

    def to_json(self) -> dict[str, object]:
        """A JSON object (:meth:`from_json` reads it back)."""
        return {
            "format": ROUNDS_FORMAT,
            "tuned_at": self.tuned_at.isoformat(),
            "profile": self.profile,
            "caps": dict(self.caps),
            "floor": self.floor,
            "patience": self.patience,
            "window": dict(self.window),
            "sets": {k: dict(v) for k, v in sorted(self.sets.items())},
            "best": {k: dict(v) for k, v in sorted(self.best.items())},
        }

    @classmethod
    def from_json(cls, data: object, source: str = "tuned round counts") -> TunedRounds:
        """Read :meth:`to_json`'s object; a ValueError names ``source`` and the field that is wrong.

        >>> TunedRounds.from_json({"format": 1, "tuned_at": "2026-01-01T00:00:00+00:00"}, "rounds.json")
        Traceback (most recent call last):
        ...
        ValueError: rounds.json: field 'profile': expected a profile name, got None
        """
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != ROUNDS_FORMAT:
            raise ValueError(f"{source}: field 'format': expected {ROUNDS_FORMAT}, got {data.get('format')!r}")
        try:
            tuned_at = datetime.fromisoformat(str(data.get("tuned_at")))
        except ValueError:
            tuned_at = None
        if tuned_at is None or tuned_at.tzinfo is None:
            raise ValueError(
                f"{source}: field 'tuned_at': expected an ISO 8601 time with offset, got {data.get('tuned_at')!r}"
            )
        profile = data.get("profile")
        if not isinstance(profile, str) or not profile:
            raise ValueError(f"{source}: field 'profile': expected a profile name, got {profile!r}")
        window = data.get("window", {})
        if not isinstance(window, dict) or not all(isinstance(v, str) for v in window.values()):
            raise ValueError(f"{source}: field 'window': expected an object of dates, got {window!r}")
        sets, best = data.get("sets"), data.get("best", {})
        if not isinstance(sets, dict):
            raise ValueError(f"{source}: field 'sets': expected an object, got {sets!r}")
        if not isinstance(best, dict):
            raise ValueError(f"{source}: field 'best': expected an object, got {best!r}")
        return cls(
            tuned_at,
            profile,
            _counts(data.get("caps"), "caps", source, ("mean", "quantile")),
            _positive_int(data.get("floor"), "floor", source),
            _positive_int(data.get("patience"), "patience", source),
            {str(k): v for k, v in window.items()},
            {str(k): _counts(v, f"sets.{k}", source, ("mean", "quantile")) for k, v in sets.items()},
            {str(k): _counts(v, f"best.{k}", source, ("mean",)) for k, v in best.items()},
        )


def rounds_problem(
    tuned: TunedRounds, *, now: datetime, profile: Profile, max_age_days: float = ROUNDS_MAX_AGE_DAYS
) -> str | None:
    """Why a training at ``now`` with ``profile`` must not use ``tuned`` (None: it may): tuned for another profile,
    older than ``max_age_days`` (forecast.md §3.4: quarterly tuning, d), or dated more than a day ahead (a clock set
    wrong when they were written)."""
    if tuned.profile != profile.name:
        return f"tuned for profile {tuned.profile!r}, training with {profile.name!r}"
    age = (now - tuned.tuned_at).total_seconds() / 86400
    if age > max_age_days:
        return f"tuned {tuned.tuned_at:%Y-%m-%d}, {age:.0f} days ago (> {max_age_days:g})"
    if age < -1:
        return f"tuned {tuned.tuned_at.isoformat()}, after the training time {now.isoformat()}"
    return None


def _fitter_with_rounds(
    item: str, rounds: Mapping[str, Mapping[str, int]] | None, resolution: str, weather_mode: str
) -> Callable[..., ModelSet]:
    """:func:`~bogda.forecast.models.fit_model_set` with the set's tuned rounds (never above the profile's), else the
    profile's; the set's ``inputs`` record which (``rounds_source``: ``tuned`` or ``profile``). ``resolution`` is
    part of the set's horizon label already (``1-1h``, ``D+1``)."""

    def fit(
        x: np.ndarray,
        y: np.ndarray,
        names: list[str],
        profile: Profile,
        *,
        horizon: str,
        inputs: dict[str, object] | None = None,
        **kw: Any,
    ) -> ModelSet:
        r = (rounds or {}).get(set_key(item, horizon, weather_mode))
        if r is not None:
            profile = replace(
                profile,
                rounds_mean=min(profile.rounds_mean, int(r["mean"])),
                rounds_quantile=min(profile.rounds_quantile, int(r["quantile"])),
            )
        rec = {
            **(inputs or {}),
            "rounds_source": "profile" if r is None else "tuned",
            "rounds_quantile": profile.rounds_quantile,
        }
        return fit_model_set(x, y, names, profile, horizon=horizon, inputs=rec, **kw)

    return fit


def tuning_shortfall(
    panel: Panel,
    items: Sequence[str],
    *,
    train_end: int | None = None,
    train_days: int = 3 * 365,
    min_days: int = 365,
    valid_days: int = TUNE_VALID_DAYS,
) -> list[str]:
    """Why each item cannot be tuned (fewer than ``min_days`` valid days before the tail in every target); cheap, so
    that a tuning job on a young installation (the demo's days of data) returns before it builds any input."""
    start_day, end_day = training_window(panel, train_end, train_days)
    last = end_day - valid_days
    d_win = np.zeros(panel.n_days, bool)
    d_win[start_day : max(last + 1, start_day)] = True
    out = []
    for item in items:
        n_days = np.isfinite(daily_item(panel, item)[:, d_win]).sum(axis=1)
        if not (n_days >= min_days).any():
            most = int(n_days.max()) if n_days.size else 0
            out.append(f"{item}: at most {most} valid days before the last {valid_days} (< {min_days})")
    return out


def tune_operational(
    panel: Panel,
    items: Sequence[str] = ("a34004",),
    *,
    train_end: int | None = None,
    train_days: int = 3 * 365,
    min_days: int = 365,
    valid_days: int = TUNE_VALID_DAYS,
    profile: Profile = FAST,
    patience: int = TUNE_PATIENCE,
    floor: int = ROUNDS_FLOOR,
    blocks: Sequence[tuple[int, int]] = HOURLY_BLOCKS,
    horizons: Sequence[int] = tuple(range(1, 8)),
    issue_hour: int = 16,
    neighbour_km: float = 50.0,
    seed: int = 0,
    now: datetime | None = None,
    nwp: NwpArchive | None = None,
    areas_of: Mapping[str, Sequence[str]] | None = None,
    heating: tuple[tuple[int, int], tuple[int, int]] | None = None,
    weather_vars: Sequence[str] | None = None,
) -> tuple[TunedRounds | None, list[str]]:
    """The quarterly tuning run (forecast.md §3.4): round counts per model set and booster kind for the nightly
    :func:`train_operational` with the same arguments.

    Every set of :func:`train_operational` (per item, hourly lead block and daily horizon, both weather modes when
    ``nwp`` is given) is built on the same sampled rows of the training window; its boosters learn on the rows whose
    target lies before the window's last ``valid_days`` (6 months, d) and stop early on the rows in them, with
    ``patience`` (:func:`bogda.forecast.models.tune_model_set`), time-ordered, never a random split. The targets
    (≥ ``min_days`` valid days) and the climatology features are taken from the days before the tail too, so that
    nothing of the tail enters the learning. Counts: :func:`rounds_from_best` against the profile's rounds, which
    stay the most a set may get (forecast.md §7: training < 120 s). Cost: about one nightly training (each booster
    at most the profile's rounds, no refit, stopped early).

    ``heating`` and ``weather_vars`` as for :func:`train_operational`, so that the tuned sets have the features the
    nightly sets will have (the observed weather chosen on the days before the tail).

    Returns (the counts, or None when no set could be tuned; why items or sets were left out — those train with the
    profile's rounds).
    """
    start_day, end_day = training_window(panel, train_end, train_days)
    cut_day = end_day - valid_days + 1
    wv = _weather_vars(panel, weather_vars, start_day, cut_day - 1, min_days, areas_of)
    reasons: list[str] = []
    sets: dict[str, dict[str, int]] = {}
    best: dict[str, dict[str, int]] = {}
    for item in items:
        inp = _item_inputs(
            panel,
            item,
            start_day,
            cut_day - 1,
            min_days=min_days,
            areas_of=areas_of,
            neighbour_km=neighbour_km,
            heating=heating,
            weather_vars=wv,
            daily_pollutants=daily_pollutants(panel),
        )
        if isinstance(inp, str):
            reasons.append(f"{inp} before the last {valid_days}")
            continue

        def fitter(resolution: str, mode: str) -> Callable[..., TunedSet]:
            valid_from = float(cut_day * 24 if resolution == "hour" else cut_day)
            return partial(tune_model_set, valid_from=valid_from, patience=patience)

        fitted = _fit_sets(
            item,
            inp,
            start_day=start_day,
            end_day=end_day,
            blocks=blocks,
            horizons=horizons,
            profile=profile,
            issue_hour=issue_hour,
            seed=seed,
            nwp=nwp,
            fitter=fitter,
        )
        for mode, (hourly, daily) in fitted.items():
            for ts in (*hourly.values(), *daily.values()):
                key = set_key(item, ts.horizon, mode)
                if not ts.best:
                    reasons.append(
                        f"{key}: {ts.n_train} rows before the tail, {ts.n_valid} in it (< {TUNE_MIN_ROWS}): "
                        "profile rounds"
                    )
                    continue
                q = [v for k, v in ts.best.items() if k != "mean"]
                sets[key] = {
                    "mean": rounds_from_best(ts.best["mean"], profile.rounds_mean, floor),
                    "quantile": rounds_from_best(max(q), profile.rounds_quantile, floor)
                    if q
                    else profile.rounds_quantile,
                }
                best[key] = dict(ts.best)
    if not sets:
        return None, reasons
    window = {
        "first": panel.day_of(start_day).isoformat(),
        "valid_from": panel.day_of(cut_day).isoformat(),
        "last": panel.day_of(end_day).isoformat(),
    }
    caps = {"mean": profile.rounds_mean, "quantile": profile.rounds_quantile}
    return TunedRounds(now or datetime.now(UTC), profile.name, caps, floor, patience, window, sets, best), reasons


def daily_pollutants(panel: Panel) -> tuple[str, ...]:
    """The pollutants of the panel whose issue-day daily means every item's daily sets read (the protocol's
    ``<name>_day0`` features, forecast.md §3.4).

    >>> from datetime import date
    >>> daily_pollutants(Panel(date(2024, 1, 1), ("S",), {"a05024": np.zeros((1, 24)), "a34004": np.zeros((1, 24))}))
    ('a34004', 'a05024')
    """
    return tuple(p for p in POLLUTANTS if p in panel.data)


def _weather_vars(
    panel: Panel,
    weather_vars: Sequence[str] | None,
    first_day: int,
    last_day: int,
    min_days: int,
    areas_of: Mapping[str, Sequence[str]] | None,
) -> tuple[str, ...]:
    """The given observed-weather variables (checked), or those the panel's stations hold enough of."""
    if weather_vars is not None:
        unknown = [v for v in weather_vars if v not in WEATHER]
        if unknown:
            raise ValueError(f"observed weather {unknown}: not forecast weather variables {list(WEATHER)}")
        return tuple(weather_vars)
    areas = {a for codes in (areas_of or {}).values() for a in codes}
    stations = [s for s in panel.stations if s not in areas]  # an area row is a mean of stations: adds nothing
    return observed_weather_vars(panel, first_day, last_day, min_days, stations)


def train_operational(
    panel: Panel,
    items: Sequence[str] = ("a34004",),
    *,
    train_end: int | None = None,
    train_days: int = 3 * 365,
    min_days: int = 365,
    profile: Profile = FAST,
    blocks: Sequence[tuple[int, int]] = HOURLY_BLOCKS,
    horizons: Sequence[int] = tuple(range(1, 8)),
    issue_hour: int = 16,
    neighbour_km: float = 50.0,
    seed: int = 0,
    now: datetime | None = None,
    nwp: NwpArchive | None = None,
    areas_of: Mapping[str, Sequence[str]] | None = None,
    rounds: Mapping[str, Mapping[str, int]] | None = None,
    heating: tuple[tuple[int, int], tuple[int, int]] | None = None,
    weather_vars: Sequence[str] | None = None,
) -> tuple[OperationalModels | None, list[str]]:
    """Train the no-NWP model sets of ``items`` pooled over every panel row (stations and areas) and, with an
    archive of issued NWP runs aligned with ``panel`` (``nwp``), the mode-``nwp`` sets beside them.

    ``areas_of`` (station → its areas, nearest first) gives stations with fewer than ``min_days`` valid days their
    area's climatology (:func:`area_climatology`), as features and as the baseline the bundle serves.

    ``rounds`` (:attr:`TunedRounds.sets` of the quarterly tuning run, :func:`tune_operational`): each set found in it
    trains with its tuned ``mean`` and ``quantile`` rounds, never more than the profile's; the others with the
    profile's (forecast.md §3.4). Each set's ``inputs`` record which (``rounds_source``).

    ``heating`` (the prefecture's heating season, ``[forecast] heating_season``): every set gets the target day's
    heating-season flag ``tgt_heating`` (forecast.md §2 "Calendar"), and the bundle records the season so that the
    refresh builds the same features. None: no such feature.

    ``weather_vars``: the observed station weather the sets learn from at the issue hour (forecast.md §3.4); None
    (default) takes those the panel's stations hold enough of (:func:`observed_weather_vars`), ``()`` none. The
    bundle records them.

    The training window is the last ``train_days`` (3 years, d) ending at day ``train_end`` (default: the last
    whole day); with fewer than ``min_days`` valid days of the item in any target, no bundle is made and the
    reason is returned (forecast.md §3.4: only baselines are served, status ``degraded``).
    """
    from bogda.forecast.calendar import check_heating_season

    heating = check_heating_season(heating) if heating is not None else None  # a bad season fails before training
    reasons: list[str] = []
    start_day, end_day = training_window(panel, train_end, train_days)
    wv = _weather_vars(panel, weather_vars, start_day, end_day, min_days, areas_of)
    dp = daily_pollutants(panel)
    out: dict[str, ItemModels] = {}
    for item in items:
        inp = _item_inputs(
            panel,
            item,
            start_day,
            end_day,
            min_days=min_days,
            areas_of=areas_of,
            neighbour_km=neighbour_km,
            heating=heating,
            weather_vars=wv,
            daily_pollutants=dp,
        )
        if isinstance(inp, str):
            reasons.append(inp)
            continue
        fitted = _fit_sets(
            item,
            inp,
            start_day=start_day,
            end_day=end_day,
            blocks=blocks,
            horizons=horizons,
            profile=profile,
            issue_hour=issue_hour,
            seed=seed,
            nwp=nwp,
            fitter=partial(_fitter_with_rounds, item, rounds),
        )
        hourly, daily = fitted["none"]
        hourly_nwp, daily_nwp = fitted.get("nwp", ({}, {}))
        out[item] = ItemModels(
            item,
            hourly,
            daily,
            {s: inp.clim_mh[i] for i, s in enumerate(panel.stations)},
            {s: inp.clim_doy[i] for i, s in enumerate(panel.stations)},
            hourly_nwp,
            daily_nwp,
            nwp.variables if nwp is not None else (),
        )
    if not out:
        return None, reasons
    when = now or datetime.now(UTC)
    version = f"{profile.name}-{when.strftime('%Y%m%dT%H%MZ')}"
    mode = "nwp" if any(m.hourly_nwp or m.daily_nwp for m in out.values()) else "none"
    bundle = OperationalModels(
        out, panel.stations, mode, profile.name, issue_hour, when, neighbour_km, version, heating, wv, dp, SEAM_HOURS
    )
    return bundle, reasons


def _clim_tables(panel: Panel, m: ItemModels, var: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Climatology tables in panel row order; rows the bundle does not know fall back to the hour-of-day mean."""
    known = np.array([s in m.clim_month_hour for s in panel.stations])
    fallback = _hour_of_day_clim(panel.data[var], panel.n_hours)
    mh = np.stack(
        [m.clim_month_hour.get(s, np.repeat(fallback[i][None, :], 12, axis=0)) for i, s in enumerate(panel.stations)]
    )
    with np.errstate(all="ignore"):
        flat = np.nanmean(fallback, axis=1)
    doy = np.stack([m.clim_doy.get(s, np.full(367, flat[i])) for i, s in enumerate(panel.stations)])
    return mh, doy, known


# --------------------------------------------------------------------------------------------------------------
# Training climatologies of the baselines (fitted by the nightly job, read by every refresh)
# --------------------------------------------------------------------------------------------------------------

MIN_FIT_PAIRS_D = 90
"""Daily training pairs needed before a series gets its own daily a and σ (d): a quarter of a year."""

BASELINE_LAGS_D = 8
"""Daily lags [d] with a fitted a and σ: D+1..D+7 and the D+8 of a persistence day one day old (d)."""


@dataclass(frozen=True)
class HourlyBaseline:
    """Training climatology and damping of one hourly item (forecast.md §3.3), rows in ``codes`` order.

    ``month_hour`` (n, 12, 24) the training mean by (month, Beijing hour), NaN where the window had no value;
    ``a`` and ``sigma`` (n, len(knots)) damping and log spread fitted at the lead ``knots`` [h]."""

    codes: tuple[str, ...]
    month_hour: np.ndarray
    knots: tuple[int, ...]
    a: np.ndarray
    sigma: np.ndarray


@dataclass(frozen=True)
class DailyBaseline:
    """Training climatology and damping of one daily item: ``doy`` (n, 367) the mean of training daily values
    within ±15 days of the day of year (column 0 unused); ``a``, ``sigma`` (n, :data:`BASELINE_LAGS_D`) at lag
    1..8 days."""

    codes: tuple[str, ...]
    doy: np.ndarray
    a: np.ndarray
    sigma: np.ndarray


@dataclass(frozen=True)
class BaselineTables:
    """What the baselines of a refresh read from training (:func:`fit_baselines`): per hourly and daily item."""

    hourly: dict[str, HourlyBaseline]
    daily: dict[str, DailyBaseline]
    first_day: date
    last_day: date
    fitted_at: datetime
    borrowed: tuple[str, ...] = ()
    """``"item: station←area"`` for every station that took its area's climatology (< 365 days, §3.2)."""


def _origins(first: int, last: int, lead: int) -> np.ndarray:
    """Issue positions t0 in [first, last] whose target t0 + lead is in the window too."""
    return np.arange(first, max(first, last - lead + 1))


def _borrow(
    panel: Panel,
    item: str,
    n_days: np.ndarray,
    min_days: int,
    table: np.ndarray,
    areas_of: Mapping[str, Sequence[str]],
    borrowed: list[str],
) -> np.ndarray:
    """``table`` with the area's rows for stations short of ``min_days`` (:func:`area_climatology`), noted."""
    (out,), notes = area_climatology(panel.stations, n_days, min_days, (table,), areas_of)
    borrowed.extend(f"{item}: {b}" for b in notes)
    return out


def _damping_table(
    x: np.ndarray,
    clim_at: np.ndarray,
    window: tuple[int, int],
    lags: Sequence[int],
    defaults: Callable[[int], tuple[float, float]],
    min_pairs: int,
    floor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """a and σ of damped persistence per series (rows) and lag (columns) on the pairs inside positions ``window``
    (first, last), with ``defaults(lag)`` = (a, σ) where a series has fewer than ``min_pairs`` pairs (``floor``:
    the item's concentration floor)."""
    fits = [
        bl.fit_damping_series(x, clim_at, _origins(*window, k), k, *defaults(k), min_pairs=min_pairs, floor=floor)
        for k in lags
    ]
    return np.stack([f[0] for f in fits], 1), np.stack([f[1] for f in fits], 1)


def fit_baselines(
    panel: Panel,
    *,
    train_end: int | None = None,
    train_days: int = 3 * 365,
    min_days: int = 365,
    areas_of: Mapping[str, Sequence[str]] | None = None,
    now: datetime | None = None,
) -> BaselineTables:
    """Fit the baselines' training climatologies and damping for every item and panel row (forecast.md §3.3).

    The window is the training window (:func:`training_window`: the last ``train_days`` up to ``train_end``), the
    same one the model sets learn from, but the tables are fitted whatever its length: a new installation with
    weeks of data gets its climatology from those weeks (cells never seen stay NaN and the refresh falls back to
    the hour-of-day mean of its recent history), so the baselines served while no model can be trained are the
    training ones as soon as there is something to fit. Stations with fewer than ``min_days`` valid days take
    their area's climatology (:func:`area_climatology`, forecast.md §3.2); their a and σ are still their own.

    Hourly items: climatology by (month, hour); a and σ per :data:`FIT_LEADS` lead on the pairs (t0, t0 + lead)
    inside the window, fitted when ≥ :data:`MIN_FIT_PAIRS` exist, else the reference values. Daily items: the ±15
    day climatology; a and σ per lag 1..:data:`BASELINE_LAGS_D` days on daily pairs (≥ :data:`MIN_FIT_PAIRS_D`).
    """
    first, last = training_window(panel, train_end, train_days)
    h_win = np.zeros(panel.n_hours, bool)
    h_win[first * 24 : (last + 1) * 24] = True
    d_win = np.zeros(panel.n_days, bool)
    d_win[first : last + 1] = True
    borrowed: list[str] = []
    hourly: dict[str, HourlyBaseline] = {}
    for item in HOURLY_ITEMS:
        if item not in panel.data:
            continue
        x = panel.data[item]
        mh = bl.climatology_month_hour(panel, x, h_win)
        if areas_of:
            n_days = np.isfinite(daily_means(x)[:, d_win]).sum(axis=1)
            mh = _borrow(panel, item, n_days, min_days, mh, areas_of, borrowed)
        a, sig = _damping_table(
            x,
            bl.hourly_clim_array(panel, mh),
            (first * 24, (last + 1) * 24 - 1),
            FIT_LEADS,
            lambda k: (reference_damping(k), log_spread(k)),
            MIN_FIT_PAIRS,
            concentration_floor(item),
        )
        hourly[item] = HourlyBaseline(panel.stations, mh, FIT_LEADS, a, sig)
    daily: dict[str, DailyBaseline] = {}
    for item in DAILY_ITEMS:
        if hourly_var(panel, item) not in panel.data:
            continue
        yd = daily_item(panel, item)
        doy_tab = bl.climatology_doy(panel, yd, d_win)
        if areas_of:
            n_days = np.isfinite(yd[:, d_win]).sum(axis=1)
            doy_tab = _borrow(panel, item, n_days, min_days, doy_tab, areas_of, borrowed)
        a, sig = _damping_table(
            yd,
            bl.daily_clim_array(panel, doy_tab),
            (first, last),
            tuple(range(1, BASELINE_LAGS_D + 1)),
            lambda k: (reference_damping_daily(k), DEFAULT_LOG_SPREAD_D),
            MIN_FIT_PAIRS_D,
            concentration_floor(item),
        )
        daily[item] = DailyBaseline(panel.stations, doy_tab, a, sig)
    return BaselineTables(
        hourly,
        daily,
        panel.day_of(first),
        panel.day_of(last),
        now or datetime.now(UTC),
        tuple(borrowed),
    )


# --------------------------------------------------------------------------------------------------------------
# One issue time
# --------------------------------------------------------------------------------------------------------------


def _nwp_usable(nwp: NwpArchive | None, sets: Mapping[object, ModelSet], t: int, variables: Sequence[str]) -> bool:
    """Mode-``nwp`` sets exist, the archive has a run usable at issue position ``t`` and the same variables the
    sets were trained with (else the no-NWP sets serve, forecast.md §3.4)."""
    if nwp is None or not sets or tuple(nwp.variables) != tuple(variables):
        return False
    return bool(nwp.run_for(np.array([t]))[0] >= 0)


def issue_position(panel: Panel, issue_time: datetime) -> int:
    """Position of the last hour whose interval has ended by ``issue_time`` (the newest possible observation)."""
    return panel.position(issue_time.replace(minute=0, second=0, microsecond=0)) - 1


def forecast_hourly(
    panel: Panel,
    item: str,
    t_issue: int,
    *,
    max_lead: int = 72,
    leads: Sequence[int] | None = None,
    models: OperationalModels | None = None,
    nwp: NwpArchive | None = None,
    baselines: BaselineTables | None = None,
) -> ItemForecast:
    """Hourly forecasts of ``item`` for every panel row, leads 1..``max_lead`` h after position ``t_issue`` (or only
    the ``leads`` given).

    With ``nwp`` (archive aligned with ``panel``) holding a run usable at ``t_issue`` and a bundle with mode-``nwp``
    sets, those run (method ``lgbm_nwp``); otherwise the no-NWP sets (``lgbm_none``). ``baselines``: the training
    climatologies (:func:`fit_baselines`) the baselines use where they hold the item and target."""
    leads = np.arange(1, max_lead + 1) if leads is None else np.asarray(leads, dtype=int)
    table = baselines.hourly.get(item) if baselines is not None else None
    methods, sig = hourly_baselines(panel, item, t_issue, leads, table=table)
    p10, p50, p90 = lognormal_band(methods["damped_persistence"], sig, concentration_floor(item))
    primary = "damped_persistence"
    inputs: dict[str, object] = {}
    if models is not None and models.covers(item) and models.items[item].hourly:
        m = models.items[item]
        mh, doy, known = _clim_tables(panel, m, item)
        # the season and the observed weather it was trained with
        ctx = _context(panel, item, mh, doy, models.neighbour_km, models.heating, models.weather_vars)
        s = np.arange(len(panel.stations))
        sets, name, fut, fvars = m.hourly, "lgbm_none", None, ()
        # bundles pickled before the nwp sets existed have no such attributes
        if _nwp_usable(nwp, getattr(m, "hourly_nwp", {}), t_issue, getattr(m, "nwp_vars", ())):
            sets, name, fut, fvars = m.hourly_nwp, "lgbm_nwp", nwp, m.nwp_vars
        pred = predict_hourly_leads(
            sets, ctx, s, t_issue, leads, future=fut, future_vars=fvars, seam_hours=models.seam_hours
        )
        q = {k: pred.get(k, np.full((s.size, leads.size), np.nan)) for k in ("p10", "p50", "p90")}
        p10, p50, p90 = _take_model(methods, name, known, pred["mean"], q, (p10, p50, p90))
        primary = name
        inputs = next(iter(sets.values())).inputs
    t0 = panel.start_utc + timedelta(hours=t_issue)
    starts = [t0 + timedelta(hours=int(h)) for h in leads]
    return ItemForecast(item, "hour", leads, starts, primary, methods, p10, p50, p90, inputs)


def _take_model(
    methods: dict[str, np.ndarray],
    name: str,
    known: np.ndarray,
    mean: np.ndarray,
    q: dict[str, np.ndarray],
    band: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Store the model's mean as method ``name`` and return its p10/p50/p90, where the station is known to the model
    and it answered; elsewhere damped persistence and its ``band`` stand in."""
    use = known[:, None] & np.isfinite(mean)
    methods[name] = np.where(use, mean, methods["damped_persistence"])
    return tuple(np.where(use, q[k], b) for k, b in zip(("p10", "p50", "p90"), band, strict=True))  # type: ignore[return-value]


def forecast_daily(
    panel: Panel,
    item: str,
    t_issue: int,
    *,
    horizons: Sequence[int] = tuple(range(1, 8)),
    models: OperationalModels | None = None,
    nwp: NwpArchive | None = None,
    baselines: BaselineTables | None = None,
) -> ItemForecast:
    """Daily forecasts of ``item`` for target days today+k (k in ``horizons``, Beijing days) issued at ``t_issue``
    (mode-``nwp`` sets when ``nwp`` has a run usable at the issue hour, as :func:`forecast_hourly`; ``baselines``
    as there)."""
    hz = np.asarray(horizons)
    today = t_issue // 24
    obs = daily_item(panel, item)
    table = baselines.daily.get(item) if baselines is not None else None
    methods, sig = daily_baselines(obs, today, hz, table=table, panel=panel)
    p10, p50, p90 = lognormal_band(methods["damped_persistence"], sig, concentration_floor(item))
    primary = "damped_persistence"
    inputs: dict[str, object] = {}
    if models is not None and models.covers(item) and models.items[item].daily:
        m = models.items[item]
        var = hourly_var(panel, item)
        mh, doy, known = _clim_tables(panel, m, var)
        # the season and the observed weather it was trained with
        ctx = _context(panel, var, mh, doy, models.neighbour_km, models.heating, models.weather_vars)
        dc = daily_cache(panel, var, obs, models.daily_pollutants, models.weather_vars)
        # the models were trained for issue at ``issue_hour`` of day D; before that hour today, issue from yesterday
        day0 = today if t_issue % 24 >= models.issue_hour else today - 1
        s = np.arange(len(panel.stations))
        mean = np.full((s.size, hz.size), np.nan)
        q = {k: np.full((s.size, hz.size), np.nan) for k in ("p10", "p50", "p90")}
        sets, name, fut = m.daily, "lgbm_none", None
        if _nwp_usable(nwp, getattr(m, "daily_nwp", {}), day0 * 24 + models.issue_hour, getattr(m, "nwp_vars", ())):
            sets, name, fut = m.daily_nwp, "lgbm_nwp", nwp
        for j, k in enumerate(hz):
            kk = int(k + today - day0)
            if kk not in sets:
                continue
            pred = predict_daily(sets, ctx, dc, s, np.full(s.size, day0), kk, issue_hour=models.issue_hour, future=fut)
            mean[:, j] = pred["mean"]
            for key in q:
                q[key][:, j] = pred.get(key, np.full(s.size, np.nan))
        p10, p50, p90 = _take_model(methods, name, known, mean, q, (p10, p50, p90))
        primary = name
        inputs = next(iter(sets.values())).inputs
    starts = [panel.start_utc + timedelta(days=int(today + k)) for k in hz]
    return ItemForecast(item, "day", hz, starts, primary, methods, p10, p50, p90, inputs)


# --------------------------------------------------------------------------------------------------------------
# AQI from concentration forecasts
# --------------------------------------------------------------------------------------------------------------


@dataclass
class AqiForecast:
    """AQI per target and lead: mean (from the mean concentrations), p10/p90 (from the p10/p90 concentrations),
    level, primary pollutant and exceedance probabilities."""

    resolution: str
    valid_start: list[datetime]
    mean: np.ndarray
    p10: np.ndarray
    p90: np.ndarray
    level: np.ndarray
    primary: np.ndarray
    prob: dict[str, np.ndarray]
    p50: np.ndarray | None = None
    prob_method: str = "comonotone_analytic"
    """How p10/p50/p90 and the probabilities were made: ``archive`` scenarios (forecast.md §3.5), ``comonotone``
    scenarios (no archive yet), or ``comonotone_analytic`` (``scenarios=False``: per-pollutant lognormal
    exceedance)."""
    n_archive_dates: int = 0
    scenarios: np.ndarray | None = None  # scenario AQIs (S, targets, leads) when made by scenarios


AQI_THRESHOLDS: tuple[int, ...] = (100, 150, 200, 300)


def aqi_forecast(
    fcs: Mapping[str, ItemForecast],
    resolution: str,
    *,
    pit_archive: np.ndarray | None = None,
    archive_dates: Sequence[object] = (),
    scenarios: bool | None = None,
    n_scenarios: int = 200,
    seed: int = 0,
    so2_history: np.ndarray | None = None,
) -> AqiForecast:
    """AQI of the ``mean`` (point forecast) concentrations with :func:`bogda.standards.aqi.aqi_hourly` /
    :func:`~bogda.standards.aqi.aqi_daily` (standard version chosen by each target time).

    Uncertainty (forecast.md §3.5):

    - by default (``scenarios`` None or True), daily and hourly alike, the p10/p50/p90 AQI, P(AQI > T) and
      P(level ≥ L) come from the joint scenarios (:mod:`bogda.forecast.scenarios`): each scenario maps the PIT
      vector of one past issue date of ``pit_archive`` (dates, items in ``fcs`` order, targets, leads) through
      today's quantile functions, and its AQI is the maximum IAQI (hourly: the real-time AQI of HJ 633); with fewer
      than 20 archived dates the scenarios are comonotone (``prob_method`` says which);
    - with ``scenarios=False`` the comonotone analytic bands: AQI(p10), AQI(p90), and P(AQI > T) = max over
      pollutants of P(C > C(T)) — what comonotone scenarios give without Monte Carlo error.

    ``so2_history`` (hourly, leads 1..m consecutive): the observed SO2 (targets, 23) of the 23 hours up to the
    issue; with it a 1-h SO2 above 800 takes the IAQI of the 24-h moving mean under HJ 633-2012 (Table 1 note 2).
    """
    from bogda.forecast.models import exceedance_probability
    from bogda.standards import aqi as A
    from bogda.standards.versions import standard_for

    any_fc = next(iter(fcs.values()))
    n, m = any_fc.methods[any_fc.primary].shape
    ts = any_fc.valid_start
    fn = A.aqi_hourly if resolution == "hour" else A.aqi_daily
    std = np.array([standard_for(t) for t in ts])

    so2_hist = None
    if resolution == "hour" and so2_history is not None and np.array_equal(any_fc.leads, np.arange(1, m + 1)):
        so2_hist = np.asarray(so2_history, dtype=float)

    def run(which: str) -> object:
        data: dict[str, np.ndarray] = {}
        so2_24h = None
        for item, fc in fcs.items():
            vals = np.asarray(fc.methods[fc.primary] if which == "mean" else getattr(fc, which), dtype=float)
            data[AQI_LABEL[item]] = vals.ravel()
            if item == "a21026" and so2_hist is not None:
                from bogda.forecast.scenarios import moving_24h

                so2_24h = moving_24h(so2_hist, vals).ravel()
        out_parts = []
        for version in sorted(set(std)):
            cols = np.tile(std == version, n)
            skip_o3_1h = version == "2026" and resolution == "day"  # the 2026 daily AQI has no O3 1-h item
            sub = {k: v[cols] for k, v in data.items() if not (skip_o3_1h and k == "O3_1h")}
            if so2_24h is not None:
                out_parts.append((cols, A.aqi_hourly(sub, version, so2_24h=so2_24h[cols])))
            else:
                out_parts.append((cols, fn(sub, version)))
        return out_parts

    def assemble(parts: object, attr: str, dtype: object, fill: object) -> np.ndarray:
        arr = np.full(n * m, fill, dtype=dtype)
        for cols, res in parts:  # type: ignore[union-attr]
            arr[cols] = getattr(res, attr)
        return arr.reshape(n, m)

    pm = run("mean")
    mean = assemble(pm, "aqi", float, np.nan)
    level = assemble(pm, "level", np.int16, 0)
    primary = assemble(pm, "primary", object, None)
    if scenarios is False:
        p10 = assemble(run("p10"), "aqi", float, np.nan)
        p90 = assemble(run("p90"), "aqi", float, np.nan)
        prob: dict[str, np.ndarray] = {}
        for thr in AQI_THRESHOLDS:
            best = np.zeros((n, m))
            for item, fc in fcs.items():
                label = AQI_LABEL[item]
                _, avg = A.item_key(label)
                code = "a05024" if label.startswith("O3") else item
                if resolution == "hour":
                    avg = "24h" if code in ("a34004", "a34002") else "1h"
                for version in sorted(set(std)):
                    if version == "2026" and label == "O3_1h" and resolution == "day":
                        continue
                    try:
                        c = float(A.concentration_at(thr, code, avg, version))
                    except ValueError:
                        continue
                    pe = exceedance_probability(fc.p10, fc.p50, fc.p90, c, concentration_floor(code))
                    cols = (std == version)[None, :]
                    best = np.where(cols & np.isfinite(pe), np.maximum(best, pe), best)
            prob[f"AQI>{thr}"] = best
        return AqiForecast(resolution, list(ts), mean, *range_holding(mean, p10, p90), level, primary, prob)
    from bogda.forecast.scenarios import draw_scenarios, scenario_aqi

    items = list(fcs)
    # float32 PITs: the hourly draw is 200 × 6 items × targets × 72 leads
    sc = draw_scenarios(
        pit_archive,
        (len(items), n, m),
        n=n_scenarios,
        seed=seed,
        archive_dates=archive_dates,
        dtype=np.float32 if resolution == "hour" else np.float64,
    )
    quant = {AQI_LABEL[it]: (fcs[it].p10, fcs[it].p50, fcs[it].p90) for it in items}
    sa = scenario_aqi(quant, sc, ts, resolution, so2_history=so2_hist)
    return AqiForecast(
        resolution,
        list(ts),
        mean,
        *range_holding(mean, sa.p10, sa.p90),  # the range holds the AQI issued, as the comonotone one above
        level,
        primary,
        sa.prob,
        p50=sa.p50,
        prob_method=sc.method,
        n_archive_dates=sc.n_archive_dates,
        scenarios=sa.samples,
    )
