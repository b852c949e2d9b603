"""Feature building for the direct multi-horizon forecast (forecast.md §3.2, §3.4).

The time index is checked, never assumed: :func:`panel_from_frame` builds a regular hourly UTC index, rejects
zone-less times, off-hour stamps and conflicting duplicates, and makes every absent hour an explicit NaN. The
panel is widened to whole Beijing days, so hour position ``t`` falls on Beijing day ``t // 24`` at Beijing hour
``t % 24``. Lags are then time offsets (``t − k`` positions), never row offsets.

Features are evaluated only at the (station, origin) pairs a model needs, through cumulative sums, so the
training budget does not depend on the length of the archive. Missing inputs stay NaN (LightGBM routes them);
weather gaps up to 3 h are interpolated (forecast.md §3.2, default).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl

from bogda.forecast.calendar import HeatingSeason, check_heating_season, day_features, heating_flag
from bogda.timeutil import BEIJING, day_start_utc

POLLUTANTS: dict[str, str] = {
    "a34004": "PM2.5",
    "a34002": "PM10",
    "a21026": "SO2",
    "a21004": "NO2",
    "a21005": "CO",
    "a05024": "O3",
}
"""Canonical HJ 212-2017 codes of the six pollutants and their display names."""

WEATHER: tuple[str, ...] = ("t2m", "td2m", "rh2m", "ws10", "u10", "v10", "psfc", "precip")
"""Weather variables, named as the NWP adapters name them (forecast.md §2): °C, °C, %, m/s, m/s, m/s, hPa, mm."""

LAGS: tuple[int, ...] = (0, 1, 2, 3, 5, 11, 23, 47, 71, 167)
"""Target lags at issue time [h] (forecast.md §3.4)."""

MEAN_WINDOWS: tuple[int, ...] = (3, 6, 12, 24, 72, 168)
"""Trailing windows of the target means [h] (forecast.md §3.4)."""

CONTROL_COLUMNS: tuple[str, ...] = ("control_level", "staggered", "special_event")
"""Emission-control columns (forecast.md §2, :mod:`bogda.forecast.control`), named ``tgt_*`` as features."""

MAX_WEATHER_GAP_H = 3
"""Weather gaps up to this many hours are interpolated (forecast.md §5, default)."""

MAGNUS_A = 17.625
MAGNUS_B = 243.04
"""Magnus coefficients (forecast.md §2), b in °C."""

COMPASS16: dict[str, float] = {
    name: i * 22.5
    for i, name in enumerate(
        ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]
    )
}
"""16-point compass text → direction the wind blows from [degrees clockwise from north]."""


class TimeIndexError(ValueError):
    """The time column cannot form a regular hourly UTC index (zone-less, off-hour or conflicting duplicates)."""


# --------------------------------------------------------------------------------------------------------------
# Weather arithmetic
# --------------------------------------------------------------------------------------------------------------


def relative_humidity(t: np.ndarray, td: np.ndarray) -> np.ndarray:
    """Relative humidity [%] from temperature and dew point [°C] by the Magnus formula (forecast.md §2).

    >>> float(np.round(relative_humidity(np.array([20.0]), np.array([20.0]))[0], 6))
    100.0
    >>> float(np.round(relative_humidity(np.array([20.0]), np.array([10.0]))[0], 1))
    52.5
    """
    t = np.asarray(t, dtype=float)
    td = np.asarray(td, dtype=float)
    return 100.0 * np.exp(MAGNUS_A * td / (MAGNUS_B + td) - MAGNUS_A * t / (MAGNUS_B + t))


def wind_components(speed: np.ndarray, direction_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """u = −ws·sin(dir), v = −ws·cos(dir) [m/s], dir the direction the wind comes from (forecast.md §2).

    >>> u, v = wind_components(np.array([2.0]), np.array([0.0]))   # north wind blows southwards
    >>> float(round(u[0], 9)), float(v[0])
    (-0.0, -2.0)
    """
    rad = np.deg2rad(np.asarray(direction_deg, dtype=float))
    ws = np.asarray(speed, dtype=float)
    return -ws * np.sin(rad), -ws * np.cos(rad)


def compass_degrees(text: Sequence[str | None]) -> np.ndarray:
    """16-point compass text → degrees; unknown or missing text → NaN.

    >>> compass_degrees(["N", "ESE", None, "x"]).tolist()
    [0.0, 112.5, nan, nan]
    """
    return np.array([COMPASS16.get(s, np.nan) if s is not None else np.nan for s in text], dtype=float)


def interpolate_gaps(x: np.ndarray, max_gap: int = MAX_WEATHER_GAP_H) -> np.ndarray:
    """Linearly fill interior NaN runs of at most ``max_gap`` positions along the last axis.

    >>> interpolate_gaps(np.array([1.0, np.nan, 3.0, np.nan, np.nan, np.nan, np.nan, 8.0]), 3).tolist()
    [1.0, 2.0, 3.0, nan, nan, nan, nan, 8.0]
    """
    out = np.array(x, dtype=float, copy=True)
    flat = out.reshape(-1, out.shape[-1])
    n = flat.shape[1]
    pos = np.arange(n)
    for row in flat:
        ok = np.isfinite(row)
        if ok.all() or ok.sum() < 2:
            continue
        prev = np.maximum.accumulate(np.where(ok, pos, -1))
        nxt = np.minimum.accumulate(np.where(ok, pos, n)[::-1])[::-1]
        fill = (~ok) & (prev >= 0) & (nxt < n) & (nxt - prev - 1 <= max_gap)
        if fill.any():
            row[fill] = np.interp(pos[fill], pos[ok], row[ok])
    return out


# --------------------------------------------------------------------------------------------------------------
# Regular time index
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GapReport:
    """Completeness of one station's variable over the panel: expected hours, present values, missing runs."""

    station: str
    variable: str
    n_expected: int
    n_valid: int
    longest_gap_h: int

    @property
    def n_missing(self) -> int:
        return self.n_expected - self.n_valid


@dataclass
class Panel:
    """Hourly data on a regular UTC index aligned to whole Beijing days.

    ``data[var]`` has shape (n_stations, n_hours); position 0 is 00:00 Beijing of ``first_day``.
    ``coords[station] = (lat, lon)`` in degrees when known. ``control``: the emission-control columns of
    :data:`CONTROL_COLUMNS`, (n_stations, ≥ n_hours) from the same origin, attached only when the models use them
    (:mod:`bogda.forecast.control`, forecast.md §2); None adds no feature.
    """

    first_day: date
    stations: tuple[str, ...]
    data: dict[str, np.ndarray]
    coords: dict[str, tuple[float, float]] = field(default_factory=dict)
    rows_out_of_index: int = 0
    control: dict[str, np.ndarray] | None = None

    @property
    def n_hours(self) -> int:
        return next(iter(self.data.values())).shape[1]

    @property
    def n_days(self) -> int:
        return self.n_hours // 24

    @property
    def start_utc(self) -> datetime:
        return day_start_utc(self.first_day)

    def position(self, ts: datetime) -> int:
        """Hour position of an aware instant (must be on the hour)."""
        delta = ts.astimezone(UTC) - self.start_utc
        if delta.total_seconds() % 3600:
            raise TimeIndexError(f"{ts.isoformat()} is not on a whole hour")
        return int(delta.total_seconds() // 3600)

    def day_position(self, day: date) -> int:
        return (day - self.first_day).days

    def day_of(self, day_pos: int) -> date:
        return self.first_day + timedelta(days=int(day_pos))

    def times_utc(self) -> np.ndarray:
        """Interval starts as naive UTC ``datetime64[h]``."""
        t0 = np.datetime64(self.start_utc.replace(tzinfo=None), "h")
        return t0 + np.arange(self.n_hours).astype("timedelta64[h]")

    def gap_reports(self, variables: Sequence[str] | None = None) -> list[GapReport]:
        out = []
        for var in variables or list(self.data):
            for i, st in enumerate(self.stations):
                ok = np.isfinite(self.data[var][i])
                longest = _longest_run(~ok)
                out.append(GapReport(st, var, ok.size, int(ok.sum()), longest))
        return out

    def subset(self, stations: Sequence[str]) -> Panel:
        idx = [self.stations.index(s) for s in stations]
        return Panel(
            self.first_day,
            tuple(stations),
            {k: v[idx] for k, v in self.data.items()},
            {s: self.coords[s] for s in stations if s in self.coords},
            control=None if self.control is None else {k: v[idx] for k, v in self.control.items()},
        )


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return int((ends - starts).max())


def panel_from_frame(
    frame: pl.DataFrame,
    variables: Sequence[str],
    *,
    station_col: str = "station_code",
    ts_col: str = "ts",
    coords: Mapping[str, tuple[float, float]] | None = None,
    stations: Sequence[str] | None = None,
) -> Panel:
    """Build a :class:`Panel` from long rows (``station_code``, ``ts``, one column per variable).

    The index is checked, never assumed (forecast.md §3.2): ``ts`` must be time-zone aware, on whole hours,
    and unique per station unless the duplicate rows are identical. Absent hours become NaN.

    Raises
    ------
    TimeIndexError
        naming the offending station and time.
    """
    dtype = frame.schema[ts_col]
    if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
        raise TimeIndexError(f"column {ts_col!r} must be a time-zone-aware datetime, got {dtype}")
    missing = [v for v in variables if v not in frame.columns]
    if missing:
        raise KeyError(f"variables not in frame: {missing}")
    f = frame.select(
        pl.col(station_col).cast(pl.Utf8),
        pl.col(ts_col).dt.convert_time_zone("UTC").dt.replace_time_zone(None).alias("_t"),
        *[pl.col(v).cast(pl.Float64) for v in variables],
    )
    off = f.filter(pl.col("_t").dt.truncate("1h") != pl.col("_t"))
    if off.height:
        r = off.row(0, named=True)
        raise TimeIndexError(f"{off.height} time(s) not on a whole hour, first {r[station_col]} {r['_t']} UTC")
    f = f.unique(maintain_order=True)
    dup = f.group_by(station_col, "_t").len().filter(pl.col("len") > 1)
    if dup.height:
        r = dup.sort(station_col, "_t").row(0, named=True)
        raise TimeIndexError(f"{dup.height} conflicting duplicate timestamp(s), first {r[station_col]} {r['_t']} UTC")
    if f.height == 0:
        raise TimeIndexError("no rows")
    t_min, t_max = f["_t"].min(), f["_t"].max()
    first_day = (t_min.replace(tzinfo=UTC).astimezone(BEIJING)).date()
    last_day = (t_max.replace(tzinfo=UTC).astimezone(BEIJING)).date()
    n_hours = ((last_day - first_day).days + 1) * 24
    st = tuple(stations) if stations is not None else tuple(sorted(f[station_col].unique().to_list()))
    st_idx = {s: i for i, s in enumerate(st)}
    t0 = np.datetime64(day_start_utc(first_day).replace(tzinfo=None), "h")
    pos = ((f["_t"].to_numpy().astype("datetime64[h]") - t0) / np.timedelta64(1, "h")).astype(np.int64)
    srow = np.array([st_idx.get(s, -1) for s in f[station_col].to_list()], dtype=np.int64)
    keep = srow >= 0
    data = {}
    for v in variables:
        arr = np.full((len(st), n_hours), np.nan)
        arr[srow[keep], pos[keep]] = f[v].to_numpy()[keep]
        data[v] = arr
    return Panel(first_day, st, data, dict(coords or {}), rows_out_of_index=int((~keep).sum()))


# --------------------------------------------------------------------------------------------------------------
# Neighbours
# --------------------------------------------------------------------------------------------------------------


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance [km] on a sphere of radius 6371 km.

    >>> round(haversine_km(39.9289, 116.4174, 39.9365, 116.462), 2)   # Dongsi – Nongzhanguan
    3.9
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


def neighbour_table(
    stations: Sequence[str],
    coords: Mapping[str, tuple[float, float]],
    *,
    max_km: float = 50.0,
    k: int = 7,
    candidates: Sequence[str] | None = None,
) -> np.ndarray:
    """Index (into ``stations``) of up to ``k`` nearest other stations within ``max_km``; −1 pads.

    Defaults follow forecast.md §3.4 (nearest ≤ 7 within 50 km). ``candidates`` restricts who may be a
    neighbour (e.g. exclude a target station itself or non-evaluation sites). The table of the same stations and
    places is computed once (a refresh asks for it once per item); each call gets its own copy.
    """
    points = tuple((float(coords[s][0]), float(coords[s][1])) if s in coords else None for s in stations)
    cands = tuple(candidates) if candidates is not None else None
    return _neighbour_table(tuple(stations), points, float(max_km), int(k), cands).copy()


@lru_cache(maxsize=16)
def _neighbour_table(
    stations: tuple[str, ...],
    points: tuple[tuple[float, float] | None, ...],
    max_km: float,
    k: int,
    candidates: tuple[str, ...] | None,
) -> np.ndarray:
    out = np.full((len(stations), k), -1, dtype=np.int64)
    allowed = set(candidates) if candidates is not None else set(stations)
    for i, p in enumerate(points):
        if p is None:
            continue
        dist = []
        for j, (o, q) in enumerate(zip(stations, points, strict=True)):
            if j == i or q is None or o not in allowed:
                continue
            d = haversine_km(*p, *q)
            if d <= max_km:
                dist.append((d, o, j))
        for r, (_, _, j) in enumerate(sorted(dist)[:k]):
            out[i, r] = j
    return out


# --------------------------------------------------------------------------------------------------------------
# Evaluation at (station, position) pairs
# --------------------------------------------------------------------------------------------------------------


class SeriesCache:
    """Cumulative sums of each panel variable, for O(1) window means at arbitrary (station, position) pairs."""

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self._cs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._last: dict[str, np.ndarray] = {}

    def values(self, var: str) -> np.ndarray:
        return self.panel.data[var]

    def _cums(self, var: str) -> tuple[np.ndarray, np.ndarray]:
        if var not in self._cs:
            x = self.panel.data[var]
            ok = np.isfinite(x)
            z = np.zeros((x.shape[0], 1))
            self._cs[var] = (
                np.concatenate([z, np.cumsum(np.where(ok, x, 0.0), axis=1)], axis=1),
                np.concatenate([z.astype(np.int32), np.cumsum(ok, axis=1, dtype=np.int32)], axis=1),
            )
        return self._cs[var]

    def at(self, var: str, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Value at positions ``t`` (NaN outside the panel)."""
        x = self.panel.data[var]
        ok = (t >= 0) & (t < x.shape[1]) & (s >= 0)
        out = np.full(t.shape, np.nan)
        out[ok] = x[s[ok], t[ok]]
        return out

    def span_stats(
        self, var: str, s: np.ndarray, a: np.ndarray, b: np.ndarray, min_count: int | np.ndarray = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """(mean, sum) over positions (a, b], NaN where fewer than ``min_count`` values are valid."""
        cs, cn = self._cums(var)
        n = cs.shape[1] - 1
        a1 = np.clip(a + 1, 0, n)
        b1 = np.clip(b + 1, 0, n)
        ss = np.where(s >= 0, s, 0)
        tot = cs[ss, b1] - cs[ss, a1]
        cnt = cn[ss, b1] - cn[ss, a1]
        good = (cnt >= np.maximum(min_count, 1)) & (s >= 0)
        mean = np.where(good, tot / np.maximum(cnt, 1), np.nan)
        return mean, np.where(good, tot, np.nan)

    def trailing_mean(self, var: str, s: np.ndarray, t: np.ndarray, window: int) -> np.ndarray:
        """Mean of the ``window`` hours ending at ``t`` (inclusive); needs a quarter of them valid."""
        return self.span_stats(var, s, t - window, t, max(1, window // 4))[0]

    def trailing_max(self, var: str, s: np.ndarray, t: np.ndarray, window: int) -> np.ndarray:
        offs = np.arange(window)
        tt = t[:, None] - offs[None, :]
        vals = self.at(var, np.broadcast_to(s[:, None], tt.shape), tt)
        with np.errstate(all="ignore"):
            allnan = ~np.isfinite(vals).any(axis=1)
            out = np.nanmax(np.where(np.isfinite(vals), vals, -np.inf), axis=1)
        return np.where(allnan, np.nan, out)

    def last_valid(self, var: str, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Last valid value at or before ``t`` and its age [h] (inf when none)."""
        if var not in self._last:
            x = self.panel.data[var]
            pos = np.broadcast_to(np.arange(x.shape[1]), x.shape)
            self._last[var] = np.maximum.accumulate(np.where(np.isfinite(x), pos, -1), axis=1)
        lv = self._last[var]
        tc = np.clip(t, 0, lv.shape[1] - 1)
        idx = np.where(t >= 0, lv[s, tc], -1)
        val = np.where(idx >= 0, self.panel.data[var][s, np.maximum(idx, 0)], np.nan)
        age = np.where(idx >= 0, (t - idx).astype(float), np.inf)
        return val, age


def beijing_calendar(panel: Panel, t: np.ndarray) -> dict[str, np.ndarray]:
    """Calendar of hour positions in Beijing time: hour, weekday (0 = Monday), month, day of year, sin/cos."""
    day = np.floor_divide(t, 24)
    d64 = np.datetime64(panel.first_day, "D") + day.astype("timedelta64[D]")
    months = d64.astype("datetime64[M]")
    years = d64.astype("datetime64[Y]")
    doy = (d64 - years.astype("datetime64[D]")).astype(np.int64) + 1
    month = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (d64.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    ang = 2 * np.pi * (doy - 1) / 365.25
    return {
        "hour": (t % 24).astype(float),
        "weekday": weekday.astype(float),
        "month": month.astype(float),
        "doy": doy.astype(float),
        "doy_sin": np.sin(ang),
        "doy_cos": np.cos(ang),
    }


def control_features(panel: Panel, s: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """Emission-control state at target hour positions ``t`` (forecast.md §2): ``tgt_control_level`` (0–4),
    ``tgt_staggered``, ``tgt_special_event``; NaN beyond the attached columns. Empty without ``panel.control``."""
    if panel.control is None:
        return {}
    out = {}
    for name in CONTROL_COLUMNS:
        arr = panel.control[name]
        ok = (t >= 0) & (t < arr.shape[1]) & (s >= 0)
        v = np.full(t.shape, np.nan)
        v[ok] = arr[s[ok], t[ok]]
        out[f"tgt_{name}"] = v
    return out


def daily_control_features(panel: Panel, s: np.ndarray, day: np.ndarray) -> dict[str, np.ndarray]:
    """The same for Beijing day positions ``day``: the day's highest level, any staggering or special event."""
    if panel.control is None:
        return {}
    hours = np.asarray(day)[:, None] * 24 + np.arange(24)[None, :]
    ss = np.broadcast_to(np.asarray(s)[:, None], hours.shape)
    per_hour = control_features(panel, ss.ravel(), hours.ravel())
    # a day partly beyond the columns is unknown (NaN), like the hours themselves
    return {k: v.reshape(hours.shape).max(axis=1) for k, v in per_hour.items()}


def _holiday_features(panel: Panel, day: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
    """Holiday, day-off and days-from-Lunar-New-Year of Beijing day positions (forecast.md §2 "Calendar")."""
    d64 = np.datetime64(panel.first_day, "D") + np.asarray(day).astype("timedelta64[D]")
    return {f"{prefix}_{k}": v for k, v in day_features(d64).items()}


def _heating_features(panel: Panel, day: np.ndarray, season: HeatingSeason, prefix: str) -> dict[str, np.ndarray]:
    """The heating-season flag of Beijing day positions (forecast.md §2 "Calendar": per-prefecture dates)."""
    d64 = np.datetime64(panel.first_day, "D") + np.asarray(day).astype("timedelta64[D]")
    return {f"{prefix}_heating": heating_flag(d64, season)}


@dataclass
class FeatureContext:
    """Everything the feature functions read: the panel, target variable, neighbours and climatologies.

    ``clim_hourly`` (n_stations, n_hours) and ``clim_daily`` (n_stations, n_days) hold each station's training
    climatology at every position (from :mod:`bogda.forecast.baselines`), ``static`` per-station numbers
    (latitude, longitude, height, station index).
    """

    panel: Panel
    target: str
    neighbours: np.ndarray | None = None
    clim_hourly: np.ndarray | None = None
    clim_daily: np.ndarray | None = None
    weather_vars: tuple[str, ...] = ()
    static: dict[str, np.ndarray] = field(default_factory=dict)
    holidays: bool = False
    """Add the target day's holiday / day-off / Lunar New Year features (:mod:`bogda.forecast.calendar`)."""
    stagnation: bool = False
    """Add the daily models' stagnation signs at the issue hour: dew-point depression, the evening's fall from the
    day's maximum temperature (night-time cooling under a clear, calm sky: a surface inversion), and the day's
    urban-minus-neighbour PM2.5 difference."""
    advection: bool = False
    """Add the daily models' horizontal gradient of the target across the neighbours and its advective tendency
    at the issue hour (:func:`advection_features`; needs ``static`` latitude and longitude and observed wind)."""
    heating: HeatingSeason | None = None
    """The prefecture's heating season ``((m0, d0), (m1, d1))`` (inclusive, may cross the new year): adds the target
    day's heating-season flag ``tgt_heating`` (:func:`bogda.forecast.calendar.heating_flag`, forecast.md §2). None
    (the spec gives no default): no such feature, the inputs are those of a context without it."""
    cache: SeriesCache = field(init=False)

    def __post_init__(self) -> None:
        if self.heating is not None:
            self.heating = check_heating_season(self.heating)
        self.cache = SeriesCache(self.panel)

    @property
    def other_pollutants(self) -> list[str]:
        return [p for p in POLLUTANTS if p in self.panel.data and p != self.target]


def state_features(ctx: FeatureContext, s: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """Features known at issue position ``t`` (inputs ≤ t only), forecast.md §3.4."""
    c, y = ctx.cache, ctx.target
    out: dict[str, np.ndarray] = {}
    for k in LAGS:
        out[f"y_lag{k}"] = c.at(y, s, t - k)
    for w in MEAN_WINDOWS:
        out[f"y_mean{w}"] = c.trailing_mean(y, s, t, w)
    out["y_max24"] = c.trailing_max(y, s, t, 24)
    out["y_d1"] = out["y_lag0"] - out["y_lag1"]
    out["y_d3"] = out["y_lag0"] - out["y_lag3"]
    last, age = c.last_valid(y, s, t)
    out["y_last"] = np.where(age <= 24, last, np.nan)
    out["y_age"] = np.minimum(age, 999.0)
    for p in ctx.other_pollutants:
        out[f"{POLLUTANTS[p]}_now"] = c.at(p, s, t)
        out[f"{POLLUTANTS[p]}_mean24"] = c.trailing_mean(p, s, t, 24)
    wv = ctx.weather_vars
    for v in wv:
        out[f"obs_{v}"] = c.at(v, s, t)
    for v in ("u10", "v10", "ws10"):
        if v in wv:
            out[f"obs_{v}_mean24"] = c.trailing_mean(v, s, t, 24)
            out[f"obs_{v}_mean6"] = c.trailing_mean(v, s, t, 6)
    if "precip" in wv:
        out["obs_precip_sum24"] = c.span_stats("precip", s, t - 24, t, 12)[1]
    for v in ("psfc", "td2m", "t2m"):
        if v in wv:
            out[f"obs_{v}_d3"] = out[f"obs_{v}"] - c.at(v, s, t - 3)
            out[f"obs_{v}_d24"] = out[f"obs_{v}"] - c.at(v, s, t - 24)
    if ctx.neighbours is not None and ctx.neighbours.shape[1]:
        nb = ctx.neighbours[s]  # (rows, k)
        now = np.stack([c.at(y, nb[:, j], t) for j in range(nb.shape[1])], axis=1)
        prev3 = np.stack([c.at(y, nb[:, j], t - 3) for j in range(nb.shape[1])], axis=1)
        m24 = np.stack([c.trailing_mean(y, nb[:, j], t, 24) for j in range(nb.shape[1])], axis=1)
        for j in range(nb.shape[1]):
            out[f"nb{j + 1}_now"] = now[:, j]
            out[f"nb{j + 1}_d3"] = now[:, j] - prev3[:, j]
        with np.errstate(all="ignore"), _quiet():
            out["nb_mean_now"] = np.nanmean(now, axis=1)
            out["nb_max_now"] = np.nanmax(now, axis=1)
            out["nb_mean_d3"] = np.nanmean(now - prev3, axis=1)
            out["nb_mean24"] = np.nanmean(m24, axis=1)
        out["y_minus_nb"] = out["y_lag0"] - out["nb_mean_now"]
    for name, arr in ctx.static.items():
        out[name] = arr[s]
    return out


class _quiet:
    """Silence NumPy's "mean of empty slice" warnings (an all-NaN neighbour row is a legitimate NaN)."""

    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._w.__exit__(*exc)


def future_weather_features(
    source: SeriesCache | Any, s: np.ndarray, t: np.ndarray, lead: np.ndarray, variables: Sequence[str]
) -> dict[str, np.ndarray]:
    """Weather of (t, t+h] from a forecast source: values at the target, means, precipitation sum, changes.

    In mode ``observed_proxy`` ``source`` is the observation cache (a perfect forecast, an upper bound); in
    mode ``nwp`` it is the cache of the NWP run chosen for the issue time (forecast.md §3.4).
    """
    tgt = t + lead
    out: dict[str, np.ndarray] = {}
    # an archive of issued runs (mode ``nwp``) answers from the run usable at t; observations need no issue time
    if getattr(source, "issue_aware", False):

        def at(v: str, when: np.ndarray) -> np.ndarray:
            return source.at(v, s, when, t)  # type: ignore[call-arg]

    else:

        def at(v: str, when: np.ndarray) -> np.ndarray:
            return source.at(v, s, when)

    for v in variables:
        out[f"fut_{v}"] = at(v, tgt)
        if v == "precip":
            out["fut_precip_sum"] = source.span_stats(v, s, t, tgt)[1]
        elif v != "psfc":
            out[f"fut_{v}_mean"] = source.span_stats(v, s, t, tgt)[0]
        if v in ("psfc", "td2m", "t2m"):
            out[f"fut_{v}_chg"] = out[f"fut_{v}"] - at(v, t)
    if getattr(source, "issue_aware", False):
        out["fut_hours_since_run"] = source.hours_since_run(t)  # type: ignore[attr-defined]
    return out


def hourly_features(
    ctx: FeatureContext,
    s: np.ndarray,
    t: np.ndarray,
    lead: np.ndarray,
    *,
    future: SeriesCache | None = None,
    future_vars: Sequence[str] = (),
) -> tuple[np.ndarray, list[str]]:
    """Feature matrix for hourly targets at ``t + lead`` issued at ``t`` (one row per (s, t, lead))."""
    feats = state_features(ctx, s, t)
    tgt = t + lead
    feats["lead"] = lead.astype(float)
    for k, v in beijing_calendar(ctx.panel, tgt).items():
        feats[f"tgt_{k}"] = v
    if ctx.holidays:
        feats.update(_holiday_features(ctx.panel, np.floor_divide(tgt, 24), "tgt"))
    if ctx.heating is not None:  # the target hour's Beijing day
        feats.update(_heating_features(ctx.panel, np.floor_divide(tgt, 24), ctx.heating, "tgt"))
    feats.update(control_features(ctx.panel, s, tgt))
    if ctx.clim_hourly is not None:
        n = ctx.clim_hourly.shape[1]
        feats["clim_tgt"] = ctx.clim_hourly[s, np.clip(tgt, 0, n - 1)]
        feats["clim_now"] = ctx.clim_hourly[s, np.clip(t, 0, n - 1)]
        feats["anom_now"] = feats["y_lag0"] - feats["clim_now"]
    if future is not None and future_vars:
        feats.update(future_weather_features(future, s, t, lead, future_vars))
    names = list(feats)
    return np.column_stack([feats[k] for k in names]), names


# --------------------------------------------------------------------------------------------------------------
# Daily
# --------------------------------------------------------------------------------------------------------------


def daily_means(x: np.ndarray, min_hours: int = 20) -> np.ndarray:
    """Beijing-day means of an hourly (n_stations, 24·n_days) array; a day needs ``min_hours`` valid hours.

    GB 3095-2012 §7 / forecast.md §3.2: at least 20 valid hours for a daily mean.

    >>> x = np.arange(48, dtype=float).reshape(1, 48); x[0, :5] = np.nan
    >>> daily_means(x).tolist()
    [[nan, 35.5]]
    """
    d = x.reshape(x.shape[0], -1, 24)
    ok = np.isfinite(d)
    cnt = ok.sum(axis=2)
    tot = np.where(ok, d, 0.0).sum(axis=2)
    return np.where(cnt >= min_hours, tot / np.maximum(cnt, 1), np.nan)


def daily_aggregate(x: np.ndarray, how: str, min_hours: int = 18) -> np.ndarray:
    """Beijing-day ``mean``, ``sum``, ``min`` or ``max`` with a validity floor (weather inputs)."""
    d = x.reshape(x.shape[0], -1, 24)
    ok = np.isfinite(d)
    cnt = ok.sum(axis=2)
    with np.errstate(all="ignore"), _quiet():
        if how == "mean":
            val = np.nanmean(d, axis=2)
        elif how == "sum":
            val = np.nansum(d, axis=2) * 24.0 / np.maximum(cnt, 1)
        elif how == "min":
            val = np.nanmin(d, axis=2)
        elif how == "max":
            val = np.nanmax(d, axis=2)
        else:
            raise ValueError(f"unknown aggregate {how!r}")
    return np.where(cnt >= min_hours, val, np.nan)


DAILY_WEATHER_AGG: tuple[tuple[str, str], ...] = (
    ("t2m", "mean"),
    ("t2m", "max"),
    ("td2m", "mean"),
    ("rh2m", "mean"),
    ("rh2m", "min"),
    ("ws10", "mean"),
    ("ws10", "max"),
    ("u10", "mean"),
    ("v10", "mean"),
    ("psfc", "mean"),
    ("precip", "sum"),
)
"""Daily weather aggregates used by the daily models (forecast.md §3.4 "daily aggregates of the same")."""


class DailyCache:
    """Daily arrays (n_stations, n_days) derived once from a panel: pollutant means and weather aggregates."""

    def __init__(self, panel: Panel, pollutants: Sequence[str], weather: Sequence[str]) -> None:
        self.panel = panel
        self.mean = {p: daily_means(panel.data[p]) for p in pollutants if p in panel.data}
        self.weather = {
            f"{v}_{how}": daily_aggregate(panel.data[v], how)
            for v, how in DAILY_WEATHER_AGG
            if v in weather and v in panel.data
        }

    @staticmethod
    def at(arr: np.ndarray, s: np.ndarray, d: np.ndarray) -> np.ndarray:
        ok = (d >= 0) & (d < arr.shape[1]) & (s >= 0)
        out = np.full(d.shape, np.nan)
        out[ok] = arr[s[ok], d[ok]]
        return out


ADVECTION_WINDOW_H = 6
"""Hours of the trailing means the advection features use (target and neighbours' concentration, wind)."""

KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON_EQUATOR = 111.32


def plane_gradient(dx: np.ndarray, dy: np.ndarray, dc: np.ndarray, *, min_points: int = 3) -> tuple[np.ndarray, ...]:
    """Least-squares horizontal gradient through the origin of the differences ``dc`` at offsets (``dx``, ``dy``).

    Each row fits dc ≈ gx·dx + gy·dy over its finite entries (rows × points); fewer than ``min_points`` of them, or
    points on one line (a singular fit), give NaN.

    Parameters
    ----------
    dx, dy : offsets east and north of each point from the row's station [km]
    dc : concentration at the point minus at the station [µg/m³]

    Returns
    -------
    gx, gy : the gradient east and north [µg/m³ per km]

    >>> dx, dy = np.array([[10.0, 0.0, -5.0]]), np.array([[0.0, 10.0, 5.0]])
    >>> gx, gy = plane_gradient(dx, dy, 2.0 * dx - 1.0 * dy)
    >>> round(float(gx[0]), 6), round(float(gy[0]), 6)
    (2.0, -1.0)
    """
    ok = np.isfinite(dx) & np.isfinite(dy) & np.isfinite(dc)
    x, y, c = np.where(ok, dx, 0.0), np.where(ok, dy, 0.0), np.where(ok, dc, 0.0)
    sxx, syy, sxy = (x * x).sum(axis=1), (y * y).sum(axis=1), (x * y).sum(axis=1)
    sxc, syc = (x * c).sum(axis=1), (y * c).sum(axis=1)
    det = sxx * syy - sxy * sxy
    good = (ok.sum(axis=1) >= min_points) & (det > 1e-9 * np.maximum(sxx * syy, 1e-12))
    with np.errstate(all="ignore"):
        gx = np.where(good, (syy * sxc - sxy * syc) / det, np.nan)
        gy = np.where(good, (sxx * syc - sxy * sxc) / det, np.nan)
    return gx, gy


def advection_features(ctx: FeatureContext, s: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """The target's horizontal gradient and advective tendency at issue position ``t`` (inputs ≤ t only).

    The gradient of the target's :data:`ADVECTION_WINDOW_H`-hour mean is fitted across the station and its
    neighbours (:func:`plane_gradient` on their east/north offsets, equirectangular at the station's latitude);
    the advective tendency is −(u·∂C/∂x + v·∂C/∂y) with the station's mean wind over the same hours, in µg/m³ per
    hour (3.6 km/h per m/s): what the wind would carry in if the field moved unchanged. Empty without neighbours,
    coordinates or observed wind components (``u10``, ``v10``).
    """
    lat, lon = ctx.static.get("lat"), ctx.static.get("lon")
    wind = all(v in ctx.weather_vars for v in ("u10", "v10"))
    if ctx.neighbours is None or not ctx.neighbours.shape[1] or lat is None or lon is None or not wind:
        return {}
    c, y, w = ctx.cache, ctx.target, ADVECTION_WINDOW_H
    nb = ctx.neighbours[s]
    have = nb >= 0
    nbi = np.where(have, nb, 0)
    kx = KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat[s]))[:, None]
    dx = np.where(have, (lon[nbi] - lon[s][:, None]) * kx, np.nan)
    dy = np.where(have, (lat[nbi] - lat[s][:, None]) * KM_PER_DEG_LAT, np.nan)
    here = c.trailing_mean(y, s, t, w)
    there = np.stack([c.trailing_mean(y, nb[:, j], t, w) for j in range(nb.shape[1])], axis=1)
    gx, gy = plane_gradient(dx, dy, np.where(have, there - here[:, None], np.nan))
    u, v = c.trailing_mean("u10", s, t, w), c.trailing_mean("v10", s, t, w)
    return {
        "adv_grad_x10": 10.0 * gx,  # µg/m³ per 10 km
        "adv_grad_y10": 10.0 * gy,
        "adv_tendency": -3.6 * (u * gx + v * gy),  # µg/m³ per hour
    }


def daily_issue_features(
    ctx: FeatureContext, daily: DailyCache, s: np.ndarray, day: np.ndarray, *, issue_hour: int = 23
) -> dict[str, np.ndarray]:
    """The part of :func:`daily_features` that depends on the issue day only (not on the horizon k): hourly state
    at the issue hour, daily means of D, D−1, D−2 and D−6, other pollutants, observed daily weather, neighbours,
    today's climatology and anomaly. Computed once and shared by the D+1..D+7 model sets."""
    t = day * 24 + issue_hour
    feats = state_features(ctx, s, t)
    y = ctx.target
    dm = daily.mean[y]
    for back in (0, 1, 2, 6):
        feats[f"yd_lag{back}"] = daily.at(dm, s, day - back)
    for p, arr in daily.mean.items():
        if p != y:
            feats[f"{POLLUTANTS.get(p, p)}_day0"] = daily.at(arr, s, day)
    for name, arr in daily.weather.items():
        feats[f"obsd_{name}"] = daily.at(arr, s, day)
    if ctx.neighbours is not None and ctx.neighbours.shape[1]:
        nb = ctx.neighbours[s]
        vals = np.stack([daily.at(dm, nb[:, j], day) for j in range(nb.shape[1])], axis=1)
        with np.errstate(all="ignore"), _quiet():
            feats["nbd_mean0"] = np.nanmean(vals, axis=1)
            feats["nbd_max0"] = np.nanmax(vals, axis=1)
    if ctx.stagnation:
        if "obs_t2m" in feats and "obs_td2m" in feats:
            feats["obs_dewpoint_depression"] = feats["obs_t2m"] - feats["obs_td2m"]
        if "obs_t2m" in feats and "obsd_t2m_max" in feats:
            feats["obs_t2m_below_max"] = feats["obsd_t2m_max"] - feats["obs_t2m"]
        if "nbd_mean0" in feats:
            feats["yd_minus_nbd"] = feats["yd_lag0"] - feats["nbd_mean0"]
    if ctx.advection:
        feats.update(advection_features(ctx, s, t))
    if ctx.clim_daily is not None:
        n = ctx.clim_daily.shape[1]
        feats["climd_now"] = ctx.clim_daily[s, np.clip(day, 0, n - 1)]
        feats["anomd_now"] = feats["yd_lag0"] - feats["climd_now"]
    return feats


_DAILY_TAIL = ("climd_now", "anomd_now")


def daily_features(
    ctx: FeatureContext,
    daily: DailyCache,
    s: np.ndarray,
    day: np.ndarray,
    k: int,
    *,
    issue_hour: int = 23,
    future: DailyCache | None = None,
    issue: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Feature matrix for the daily mean of day ``day + k`` issued at Beijing hour ``issue_hour`` of ``day``.

    Hourly state at the issue hour (so the last hour of day D and the mean of its last 6 hours are in), daily
    means of D, D−1, D−2 and D−6, the other pollutants' daily means, neighbours' daily means, the target day's
    calendar and climatology and, with ``future``, the weather aggregates of the target day and the day before
    (observed: ``DailyCache``; observed with an assumed forecast error: ``weather_proxy.NoisyDailyWeather``; an NWP
    archive). ``issue``: the rows' :func:`daily_issue_features` when already computed (training shares them over k).
    """
    base = issue if issue is not None else daily_issue_features(ctx, daily, s, day, issue_hour=issue_hour)
    feats = {k_: v for k_, v in base.items() if k_ not in _DAILY_TAIL}
    tday = day + k
    cal = beijing_calendar(ctx.panel, tday * 24)
    for name in ("weekday", "month", "doy_sin", "doy_cos"):
        feats[f"tgt_{name}"] = cal[name]
    if ctx.holidays:
        feats.update(_holiday_features(ctx.panel, tday, "tgt"))
    if ctx.heating is not None:
        feats.update(_heating_features(ctx.panel, tday, ctx.heating, "tgt"))
    feats.update(daily_control_features(ctx.panel, s, tday))
    if ctx.clim_daily is not None:
        n = ctx.clim_daily.shape[1]
        feats["climd_tgt"] = ctx.clim_daily[s, np.clip(tday, 0, n - 1)]
        for name in _DAILY_TAIL:
            feats[name] = base[name]
    if future is not None and getattr(future, "issue_aware", False):
        # mode ``nwp``: daily aggregates of the target day and the day before from the run usable at issue
        for name in future.daily_names():  # type: ignore[attr-defined]
            feats[f"futd_{name}"] = future.daily(name, s, day, tday, issue_hour)  # type: ignore[attr-defined]
            feats[f"futd_prev_{name}"] = future.daily(name, s, day, tday - 1, issue_hour)  # type: ignore[attr-defined]
        if "futd_psfc_mean" in feats:
            feats["futd_psfc_chg"] = feats["futd_psfc_mean"] - feats.get("obsd_psfc_mean", np.nan)
        feats["futd_hours_since_run"] = future.hours_since_run(day * 24 + issue_hour)  # type: ignore[attr-defined]
    elif future is not None:
        # mode ``noisy_proxy`` (weather_proxy.NoisyDailyWeather): the observed values as the run issued on ``day``
        perturb = getattr(future, "perturb", None)
        for name, arr in future.weather.items():
            tgt, prev = daily.at(arr, s, tday), daily.at(arr, s, tday - 1)
            if perturb is not None:
                tgt, prev = perturb(name, tgt, s, day, k), perturb(name, prev, s, day, k - 1)
            feats[f"futd_{name}"] = tgt
            feats[f"futd_prev_{name}"] = prev
        if "psfc_mean" in future.weather:
            feats["futd_psfc_chg"] = feats["futd_psfc_mean"] - feats.get("obsd_psfc_mean", np.nan)
    names = list(feats)
    return np.column_stack([feats[n] for n in names]), names
