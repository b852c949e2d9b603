"""Days-avoided inputs: the daily feature tables (forecast.md §3.9 step 2) from hourly weather and
concentrations, read from the stored observations and joined with BLH, radiation and cloud of the stored NWP runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from bogda.forecast.avoided.params import (
    BEIJING_HEATING,
    DAY_HOURS,
    LABEL_CONTROLLED,
    LABEL_WEATHER_ONLY,
    LAG_VARS,
    NIGHT_HOURS,
    OPTIONAL_VARS,
    WEATHER_VARS,
)

# the season is one setting of the forecast calendar (forecast.md §2); its text form is re-exported under the
# package's former names
from bogda.forecast.calendar import HeatingSeason
from bogda.forecast.calendar import format_heating_season as format_heating_season
from bogda.forecast.calendar import heating_flag as _calendar_heating_flag
from bogda.forecast.calendar import parse_heating_season as parse_heating_season
from bogda.forecast.station_weather import STORE_WEATHER as STORE_WEATHER
from bogda.standards.cube import MIN_HOURS_DAILY

if TYPE_CHECKING:
    from bogda.store import Store


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


def heating_flag(dates: np.ndarray, season: HeatingSeason = BEIJING_HEATING) -> np.ndarray:
    """1.0 on days inside the heating season ``((m0, d0), (m1, d1))`` (inclusive, across the new year), else 0.0:
    the forecast calendar's :func:`bogda.forecast.calendar.heating_flag` (forecast.md §2), with Beijing's season by
    default here (§8 check 5).

    >>> heating_flag(np.array(["2015-11-14", "2015-11-15", "2016-03-15", "2016-03-16"], dtype="datetime64[D]"))
    array([0., 1., 1., 0.])
    """
    return _calendar_heating_flag(dates, season)


def feature_table(
    target: pl.DataFrame,
    controls: Sequence[pl.DataFrame] = (),
    *,
    pollutant: str = "a34004",
    heating: HeatingSeason = BEIJING_HEATING,
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


def common_dates(tables: Mapping[str, FeatureTable]) -> np.ndarray:
    dates = None
    for t in tables.values():
        dates = t.dates if dates is None else np.intersect1d(dates, t.dates)
    return np.asarray(dates, dtype="datetime64[D]")


def tables_between(tables: FeatureTable | Mapping[str, FeatureTable], span: tuple[date, date]) -> Any:
    """The days ``span`` of one table, or of each AQI item's table."""
    if isinstance(tables, FeatureTable):
        return tables.between(*span)
    return {k: t.between(*span) for k, t in tables.items()}


def n_complete(tables: FeatureTable | Mapping[str, FeatureTable]) -> int:
    """Complete days of one table, or the days complete for every AQI item (those the AQI model uses)."""
    if isinstance(tables, FeatureTable):
        return len(tables.dates)
    return len(common_dates(tables)) if tables else 0


# --------------------------------------------------------------------------------------------------------------
# Stored observations
# --------------------------------------------------------------------------------------------------------------


def hourly_from_store(
    store: Store, code: str, start: datetime, end: datetime, pollutant: str = "a34004"
) -> pl.DataFrame:
    """Valid hourly rows of one air station in ``[start, end)``: the pollutant and the station's own weather.

    The weather is read as the forecast reads it (:func:`bogda.forecast.station_weather.read_weather`): in
    canonical units by each series' declared unit (HJ 212 pressure in kPa becomes hPa), implausible values left
    out; RH from temperature and dew point where the station stores no a01002; u/v from speed and direction (a calm
    hour is zero wind). Columns absent from the store are NaN, and :func:`feature_table` then leaves them out.
    Raises ``KeyError`` for an unknown station code.
    """
    from sqlalchemy import select

    from bogda.forecast.station_weather import read_weather, weather_arrays
    from bogda.store import series as store_series
    from bogda.store.schema import site

    with store.engine.connect() as conn:
        sid = conn.execute(select(site.c.id).where(site.c.code == code, site.c.kind == "air_station")).scalar()
    if sid is None:
        raise KeyError(f"unknown air station {code!r}")
    obs = store_series.read(store, sites=[sid], parameters=[pollutant], start=start, end=end, valid_only=True)
    weather, _ = read_weather(store, [sid], start, end)
    long = pl.concat(
        [
            obs.select("ts", pl.col("parameter").alias("column"), pl.col("value").cast(pl.Float64)),
            weather.select("ts", "column", "value"),
        ]
    )
    if long.height == 0:
        return pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), pollutant: pl.Float64})
    wide = long.pivot(on="column", index="ts", values="value", aggregate_function="first").sort("ts")
    n = wide.height

    def col(p: str) -> np.ndarray:
        return wide[p].cast(pl.Float64).fill_null(np.nan).to_numpy() if p in wide.columns else np.full(n, np.nan)

    arrays = weather_arrays({c: col(c) for c in wide.columns if c not in ("ts", pollutant)}, (n,))
    return pl.DataFrame({"ts": wide["ts"], pollutant: col(pollutant), **arrays})


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


def join_nwp(frame: pl.DataFrame, extra: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the NWP columns of ``extra`` by hour (unchanged when none is used)."""
    return frame if extra.width <= 1 else frame.join(extra, on="ts", how="left")


def nwp_record(infos: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``placebo["nwp"]``: per station the NWP inputs used and left out (no ``passed`` key: not a check)."""
    return {
        "rule": f"latest run issued before the local day, lead ≤ {NWP_MAX_LEAD_H} h; a variable is used when it "
        f"covers ≥ {100 * NWP_MIN_COVERAGE:.0f} % of the days (≥ {NWP_MIN_HOURS} h) of the reference and the window",
        "stations": {k: dict(v) for k, v in infos.items()},
    }
