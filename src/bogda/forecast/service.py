"""Forecast service: refresh (forecasts, AQI, warnings, advisories) from the store, warning decisions, model jobs.

The thin layer over the pure cores (architecture rule 2): it reads station hourly series
(:func:`bogda.store.series.read`) and the registry (stations, counties, the prefecture), runs
:mod:`bogda.forecast.operational`, writes ``forecast_run`` + ``forecast``, proposes warnings
(:mod:`bogda.forecast.warnings`) as ``warning`` records and ``warning`` findings, evaluates advisories
(:mod:`bogda.forecast.advisories`) from ``nwp_value`` as ``advisory`` findings, and drives the emergency lists
(:mod:`bogda.forecast.emergency`) when a person issues, changes or lifts a warning.

Jobs (scheduled by :data:`bogda.jobs.DEFAULT_JOBS`): ``forecast.refresh`` hourly (:func:`refresh_job`),
``forecast.train`` nightly (:func:`train`), ``forecast.tune`` every 90 days (:func:`tune`: the round counts the
nightly training reuses).
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from sqlalchemy import and_, func, select

from bogda.findings import FindingDraft, raise_finding, set_status
from bogda.forecast import advisories as adv
from bogda.forecast import advisory_thresholds, gate, quality, station_weather
from bogda.forecast import control as ctl
from bogda.forecast import emergency as em
from bogda.forecast import operational as op
from bogda.forecast import warnings as wn
from bogda.forecast.features import POLLUTANTS, Panel, panel_from_frame
from bogda.monitoring.load import read_qa
from bogda.store import Store
from bogda.store import series as store_series
from bogda.store.schema import advisory as advisory_table
from bogda.store.schema import enterprise, finding, forecast, forecast_run, nwp_value, place, site, warning_event
from bogda.store.schema import warning as warning_table
from bogda.timeutil import beijing_date, day_start_utc, floor_to, now_utc

if TYPE_CHECKING:
    from bogda.config import WarningSettings
    from bogda.standards.aqi import AqiResult

log = logging.getLogger(__name__)

HISTORY_DAYS = 35
"""Days of observations a refresh reads: 7 for the lags, the rest to fit damping and spreads (d)."""

REFRESH_WEATHER_DAYS = 3
"""Days of station weather a refresh reads for a bundle that learnt from it: the observed-weather features reach
back 24 h from the issue hour (24-h changes and means) and the daily ones to the issue day, which is yesterday
before the bundle's issue hour (forecast.md §3.4); a third day covers the 3-h gap interpolation at the edge."""

BASELINE_LEADS_H: tuple[int, ...] = (1, 3, 6, 12, 24, 48, 72)
"""Hourly leads at which baseline rows are stored beside the primary method (every daily lead is stored)."""

ACTIVE_STATES = ("proposed", "issued", "changed")
WARNING_SEVERITY = wn.SEVERITY


# --------------------------------------------------------------------------------------------------------------
# Targets from the registry
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Registry:
    """Stations and areas of the installation."""

    targets: list[op.Target]
    site_of: dict[str, int]  # station code → site id
    place_of: dict[str, int]  # area code → place id
    area_names: dict[str, str] = field(default_factory=dict)

    @property
    def stations(self) -> list[op.Target]:
        return [t for t in self.targets if t.kind == "station"]

    @property
    def areas(self) -> list[op.Target]:
        return [t for t in self.targets if t.kind != "station"]


def areas_of(reg: Registry) -> dict[str, list[str]]:
    """Station code → the areas holding it as a member, nearest first (county before prefecture)."""
    rank = {"county": 0, "prefecture": 1}
    out: dict[str, list[str]] = {}
    for a in sorted(reg.areas, key=lambda t: rank.get(t.kind, 2)):
        for m in a.members:
            out.setdefault(m, []).append(a.code)
    return out


def registry(store: Store) -> Registry:
    """Active air stations and their counties and prefecture; areas average evaluation stations only (control
    sites excluded, forecast.md §2)."""
    with store.engine.connect() as conn:
        places = conn.execute(select(place.c.id, place.c.parent_id, place.c.kind, place.c.code, place.c.name)).all()
        rows = conn.execute(
            select(site.c.id, site.c.code, site.c.name, site.c.lon, site.c.lat, site.c.place_id, site.c.attrs).where(
                site.c.kind == "air_station", site.c.active.is_(True)
            )
        ).all()
    info = {p.id: p for p in places}

    def up(pid: int | None, kind: str) -> Any:
        seen = set()
        while pid is not None and pid not in seen:
            seen.add(pid)
            p = info.get(pid)
            if p is None:
                return None
            if p.kind == kind:
                return p
            pid = p.parent_id
        return None

    targets: list[op.Target] = []
    members: dict[str, list[str]] = {}
    site_of: dict[str, int] = {}
    place_of: dict[str, int] = {}
    names: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: r.code):
        attrs = r.attrs or {}
        evaluation = attrs.get("evaluation", not attrs.get("control_station", False))
        targets.append(op.Target(r.code, "station", r.name, r.lat, r.lon, elevation_m=attrs.get("elevation_m")))
        site_of[r.code] = r.id
        if not evaluation:
            continue
        for kind in ("county", "prefecture"):
            p = up(r.place_id, kind)
            if p is not None:
                members.setdefault(p.code, []).append(r.code)
                place_of[p.code] = p.id
                names[p.code] = p.name
    for code in sorted(members, key=lambda c: (info[place_of[c]].kind != "county", c)):
        kind = info[place_of[code]].kind
        targets.append(op.Target(code, kind, names[code], members=tuple(members[code])))
    return Registry(targets, site_of, place_of, names)


def load_panel(
    store: Store,
    reg: Registry,
    issue_time: datetime,
    *,
    days: int = HISTORY_DAYS,
    notes: list[str] | None = None,
    weather_days: int | None = None,
) -> Panel:
    """Hourly observations of the six pollutants for ``days`` before ``issue_time`` and the stations' own weather for
    ``weather_days`` (None: as many as ``days``; 0: none), stations + areas.

    The weather (forecast.md §2 "weather where measured") is read by
    :func:`bogda.forecast.station_weather.read_weather`: canonical units from each series' unit, implausible values
    left out (logged), u/v from speed and direction, RH by Magnus where only T and Td are stored, gaps up to 3 h
    interpolated; a variable no station stores is absent from the panel.

    Only the values the forecast may use (:func:`bogda.forecast.quality.usable`, forecast.md §6): QA ``invalid``,
    ``maintenance`` and unconfirmed ``suspect`` values, values above the forecast caps and a station's CO in the wrong
    unit are left out; the exclusions are logged, and ``notes`` (if given) receives the unit errors, which make a
    refresh ``degraded``.
    """
    start = floor_to(issue_time, "hour") - timedelta(days=days)
    ids = {v: k for k, v in reg.site_of.items()}
    end = floor_to(issue_time, "hour")
    checked = read_qa(store, sites=list(ids), parameters=list(POLLUTANTS), start=start, end=end)
    obs, left_out, unit_errors = quality.usable(checked, names=ids)
    if left_out:
        log.info("forecast inputs: %s", "; ".join(left_out))
    if notes is not None:
        notes.extend(unit_errors)
    codes = [t.code for t in reg.stations]
    if obs.height:
        wide = (
            obs.with_columns(pl.col("site_id").replace_strict(ids, return_dtype=pl.Utf8).alias("station_code"))
            .pivot(on="parameter", index=["station_code", "ts"], values="value", aggregate_function="first")
            .sort("station_code", "ts")
        )
    else:
        wide = pl.DataFrame(schema={"station_code": pl.Utf8, "ts": store_series.FRAME_TS})
    # anchor the index at both ends so the panel always spans [start, issue_time)
    anchor = pl.DataFrame(
        {
            "station_code": [codes[0]] * 2 if codes else [],
            "ts": [start, floor_to(issue_time, "hour") - timedelta(hours=1)],
        }
        if codes
        else {"station_code": [], "ts": []},
        schema={"station_code": pl.Utf8, "ts": store_series.FRAME_TS},
    )
    for p in POLLUTANTS:
        if p not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(p))
    wide = pl.concat([wide.select("station_code", "ts", *POLLUTANTS), anchor], how="diagonal_relaxed")
    wide = wide.group_by("station_code", "ts").agg([pl.col(p).drop_nulls().first() for p in POLLUTANTS])
    coords = {t.code: (t.lat, t.lon) for t in reg.stations if t.lat is not None and t.lon is not None}
    panel = panel_from_frame(wide, list(POLLUTANTS), coords=coords, stations=codes)
    w_days = days if weather_days is None else min(days, weather_days)
    if w_days > 0 and ids:
        rows, why = station_weather.read_weather(store, list(ids), end - timedelta(days=w_days), end)
        if why:
            log.info("forecast weather inputs: %s", "; ".join(why))
        panel.data.update(_weather_arrays(panel, rows, ids))
    return op.with_areas(panel, reg.areas)


def _weather_arrays(panel: Panel, rows: pl.DataFrame, names: dict[int, str]) -> dict[str, np.ndarray]:
    """The panel's weather variables from :func:`~bogda.forecast.station_weather.read_weather` rows (site ids →
    panel rows by ``names``; hours outside the panel are dropped)."""
    row_of = {s: i for i, s in enumerate(panel.stations)}
    site_row = {sid: row_of[c] for sid, c in names.items() if c in row_of}
    shape = (len(panel.stations), panel.n_hours)
    if rows.height == 0 or not site_row:
        return {}
    hours = (pl.col("ts") - pl.lit(panel.start_utc)).dt.total_hours()
    located = rows.with_columns(
        pl.col("site_id").replace_strict(site_row, default=-1, return_dtype=pl.Int64).alias("_row"),
        hours.alias("_pos"),
    ).filter((pl.col("_row") >= 0) & (pl.col("_pos") >= 0) & (pl.col("_pos") < shape[1]))
    columns = {}
    for (column,), part in located.group_by("column"):
        arr = np.full(shape, np.nan)
        arr[part["_row"].to_numpy(), part["_pos"].to_numpy()] = part["value"].to_numpy()
        columns[str(column)] = arr
    return station_weather.panel_weather(columns, shape)


# --------------------------------------------------------------------------------------------------------------
# Model bundles
# --------------------------------------------------------------------------------------------------------------


def models_path(data_dir: Path | None = None) -> Path:
    if data_dir is None:
        from bogda.config import get_settings

        data_dir = get_settings().data_dir
    return Path(data_dir) / "forecast" / "models.pkl"


def save_models(models: op.OperationalModels, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(models, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)  # a failed training keeps the previous set (forecast.md §6)


def load_models(path: Path | None = None) -> op.OperationalModels | None:
    """The current model bundle, or None (baselines are served). Only files bogda wrote itself are read."""
    p = path or models_path()
    if not p.is_file():
        return None
    return pickle.loads(p.read_bytes())


BASELINES_FILE = "baselines.pkl"
"""Name of the baselines' training climatologies beside the model bundle (:func:`baselines_path`)."""


def baselines_path(models_file: Path | None = None) -> Path:
    """The baselines' training climatologies beside the model bundle ``models_file`` (default :func:`models_path`)."""
    return (models_file or models_path()).parent / BASELINES_FILE


def save_baselines(tables: op.BaselineTables, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(tables, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)


def load_baselines(path: Path | None = None) -> op.BaselineTables | None:
    """The baselines' training climatologies, or None (the baselines use the refresh's own history)."""
    p = path or baselines_path()
    if not p.is_file():
        return None
    return pickle.loads(p.read_bytes())


def refit_baselines(panel: Panel, reg: Registry, now: datetime, path: Path) -> op.BaselineTables | None:
    """Fit and save the baselines' training climatologies (forecast.md §3.3) from the training panel, whatever its
    length and before any model is trained: a failure is logged and keeps the previous file (the baselines are the
    fallback of every refresh, so they must not depend on the models training)."""
    try:
        tables = op.fit_baselines(panel, areas_of=areas_of(reg), now=now)
        save_baselines(tables, path)
    except Exception:
        log.exception("baseline climatologies not refitted: the previous ones stay in use")
        return None
    log.info(
        "baseline climatologies fitted on %s..%s (%d hourly, %d daily items)%s",
        tables.first_day,
        tables.last_day,
        len(tables.hourly),
        len(tables.daily),
        f"; area climatology for {', '.join(tables.borrowed)}" if tables.borrowed else "",
    )
    return tables


# --------------------------------------------------------------------------------------------------------------
# Refresh
# --------------------------------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    run_id: int
    status: str
    reasons: list[str]
    n_values: int
    seconds: float
    warnings: list[wn.Proposal]
    advisories: list[adv.Advisory]
    daily_aqi: dict[str, list[tuple[date, float, float, float, str | None]]]
    observed_weather: list[str] = field(default_factory=list)
    """The observed station weather the models read (:func:`bogda.forecast.station_weather.present_at_issue`)."""


TODAY_METHOD = "today"
"""The ``method`` of today's AQI row (lead 0): the observed hours of today and the hourly forecast of the rest, the
value the warning proposal counts for today (forecast.md §3.6). Not a forecast method: no baseline or score reads it."""

COLUMNS = (
    "run_id",
    "target_code",
    "target_kind",
    "item",
    "resolution",
    "valid_start",
    "valid_end",
    "lead",
    "method",
    "mean",
    "p10",
    "p50",
    "p90",
    "unit",
    "level",
    "primary_pollutant",
    "prob",
)


def _frame(
    run_id: int,
    item: str,
    resolution: str,
    starts: Sequence[datetime],
    leads: np.ndarray,
    targets: Sequence[str],
    kinds: dict[str, str],
    method: str,
    mean: np.ndarray,
    q: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    *,
    lead_mask: np.ndarray | None = None,
    extra: dict[str, np.ndarray] | None = None,
) -> pl.DataFrame:
    """Forecast rows of one (item, method) for every target and lead, vectorised; NaN means are left out."""
    n, m = mean.shape
    cols = np.ones(m, bool) if lead_mask is None else lead_mask
    step = timedelta(hours=1) if resolution == "hour" else timedelta(days=1)
    ti = np.repeat(np.arange(n), cols.sum())
    lj = np.tile(np.flatnonzero(cols), n)
    vals = mean[ti, lj]
    ok = np.isfinite(vals)
    ti, lj = ti[ok], lj[ok]
    start = pl.Series("valid_start", [starts[j] for j in range(m)], dtype=pl.Datetime("us", "UTC"))
    code = np.asarray(targets, dtype=object)
    data: dict[str, Any] = {
        "run_id": np.full(ti.size, run_id),
        "target_code": code[ti],
        "target_kind": np.array([kinds[c] for c in targets], dtype=object)[ti],
        "item": np.full(ti.size, item, dtype=object),
        "resolution": np.full(ti.size, resolution, dtype=object),
        "valid_start": start.gather(lj),
        "lead": np.asarray(leads)[lj].astype(np.int64),
        "method": np.full(ti.size, method, dtype=object),
        "mean": np.round(mean[ti, lj], 3),
    }
    for k, arr in zip(("p10", "p50", "p90"), q or (None, None, None), strict=True):
        data[k] = np.round(arr[ti, lj], 3) if arr is not None else np.full(ti.size, np.nan)
    f = pl.DataFrame(data).with_columns(
        (pl.col("valid_start") + pl.duration(hours=int(step.total_seconds() // 3600))).alias("valid_end"),
        pl.lit(op.UNITS.get(item, "")).alias("unit"),
    )
    f = f.with_columns([pl.col(c).fill_nan(None) for c in ("mean", "p10", "p50", "p90")])
    if extra:
        f = f.with_columns(
            [
                pl.Series(k, v[ti, lj].tolist(), dtype=pl.Utf8) if v.dtype == object else pl.Series(k, v[ti, lj])
                for k, v in extra.items()
            ]
        )
    for c in ("level", "primary_pollutant", "prob"):
        if c not in f.columns:
            f = f.with_columns(pl.lit(None, dtype=pl.Int64 if c == "level" else pl.Utf8).alias(c))
    return f.select(COLUMNS)


def _item_frames(
    run_id: int, fc: op.ItemForecast, targets: Sequence[str], kinds: dict[str, str], baseline_leads: set[int]
) -> list[pl.DataFrame]:
    out = [
        _frame(
            run_id,
            fc.item,
            fc.resolution,
            fc.valid_start,
            fc.leads,
            targets,
            kinds,
            fc.primary,
            fc.methods[fc.primary],
            (fc.p10, fc.p50, fc.p90),
        )
    ]
    mask = None if fc.resolution == "day" else np.isin(fc.leads, sorted(baseline_leads))
    for name, arr in fc.methods.items():
        if name != fc.primary:
            out.append(
                _frame(
                    run_id, fc.item, fc.resolution, fc.valid_start, fc.leads, targets, kinds, name, arr, lead_mask=mask
                )
            )
    return out


def _aqi_frame(
    run_id: int,
    a: op.AqiForecast,
    targets: Sequence[str],
    kinds: dict[str, str],
    method: str,
    station_pit: dict[str, np.ndarray] | None = None,
) -> pl.DataFrame:
    """AQI rows of a run; ``station_pit``: the archive's :data:`STATION_PIT_KEYS` counts per target, written in the
    ``prob`` of station rows when the probabilities came from archive scenarios (forecast.md §3.5)."""
    import json

    n, m = a.mean.shape
    prob = np.empty((n, m), dtype=object)
    probs = dict(a.prob)
    if a.prob_method != "comonotone_analytic":
        # how the scenario probabilities were made: the number of archived issue dates (0 = comonotone scenarios)
        probs["scenario_dates"] = np.full((n, m), float(a.n_archive_dates))
    if a.prob_method == "archive" and station_pit:
        # how many of a station's archived PITs were its own and how many its county's; areas have no such keys
        is_station = np.array([kinds.get(c) == "station" for c in targets])[:, None]
        for key in STATION_PIT_KEYS:
            if key in station_pit:
                per_row = np.where(is_station, np.asarray(station_pit[key], dtype=float)[:, None], np.nan)
                probs[key] = np.broadcast_to(per_row, (n, m))
    keys = list(probs)
    stacked = np.stack([np.round(probs[k], 4) for k in keys], axis=-1)
    for i in range(n):
        for j in range(m):
            # a probability that could not be computed (no quantiles) is left out, never written as NaN
            prob[i, j] = json.dumps({k: v for k, v in zip(keys, stacked[i, j].tolist(), strict=True) if v == v})
    level = np.where(a.level > 0, a.level, 0).astype(np.int64)
    f = _frame(
        run_id,
        "AQI",
        a.resolution,
        a.valid_start,
        np.arange(1, m + 1),
        targets,
        kinds,
        method,
        a.mean,
        (a.p10, a.p50 if a.p50 is not None else a.mean, a.p90),
        extra={"level": level, "primary_pollutant": a.primary, "prob": prob},
    )
    return f.with_columns(pl.when(pl.col("level") > 0).then(pl.col("level")).alias("level"))


def _write_values(conn: Any, frame: pl.DataFrame) -> None:
    """Insert forecast rows: DB-API executemany on SQLite (the Core insert costs more than the work itself for
    ~10⁵ rows), SQLAlchemy Core elsewhere."""
    import json

    if frame.height == 0:
        return
    if conn.dialect.name == "sqlite":
        # the storage format of UtcDateTime on SQLite: naive UTC text with microseconds
        f = frame.with_columns([pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S%.6f") for c in ("valid_start", "valid_end")])
        sql = f"INSERT INTO forecast ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        conn.exec_driver_sql(sql, f.rows())
        return
    recs = frame.to_dicts()
    for r in recs:
        if r["prob"] is not None:
            r["prob"] = json.loads(r["prob"])
    for i in range(0, len(recs), 5000):
        conn.execute(forecast.insert(), recs[i : i + 5000])


def _today_aqi(panel: Panel, hourly: dict[str, op.ItemForecast], t_issue: int) -> AqiResult:
    """Today's daily AQI per target: observed hours of today + the hourly forecast for the rest (forecast.md §3.6:
    during an ongoing episode today counts). Stored with each run as :data:`TODAY_METHOD` (lead 0)."""
    from bogda.standards.aqi import aqi_daily

    today = t_issue // 24
    h0 = today * 24
    n = len(panel.stations)
    data: dict[str, np.ndarray] = {}
    for item in ("a34004", "a34002", "a21026", "a21004", "a21005"):
        obs = panel.data[item][:, h0 : t_issue + 1]
        fc = hourly[item]
        rest = (h0 + 24) - (t_issue + 1)
        fut = fc.methods[fc.primary][:, :rest]
        vals = np.concatenate([obs, fut], axis=1)
        ok = np.isfinite(vals)
        data[op.AQI_LABEL[item]] = np.where(
            ok.sum(axis=1) >= 20, np.where(ok, vals, 0).sum(axis=1) / np.maximum(ok.sum(axis=1), 1), np.nan
        )
    o3 = np.concatenate(
        [panel.data["a05024"][:, : t_issue + 1], hourly["a05024"].methods[hourly["a05024"].primary]], axis=1
    )
    o3 = o3[:, : (today + 1) * 24]
    data["O3_8h"] = op.daily_o3_8h_max(o3)[:, today] if o3.shape[1] == (today + 1) * 24 else np.full(n, np.nan)
    day = panel.day_of(today)
    return aqi_daily(data, ts=day)


def _today_frame(
    run_id: int, today: AqiResult, day: date, observed_hours: int, targets: Sequence[str], kinds: dict[str, str]
) -> pl.DataFrame:
    """Today's AQI rows (:func:`_today_aqi`): daily resolution, lead 0, method :data:`TODAY_METHOD`; ``prob`` holds
    how many of today's hours were observed at the issue, so the console can say what the figure is made of."""
    import json

    n = len(targets)
    level = np.where(today.level > 0, today.level, 0).astype(np.int64)[:, None]
    f = _frame(
        run_id,
        "AQI",
        "day",
        [day_start_utc(day)],
        np.array([0]),
        targets,
        kinds,
        TODAY_METHOD,
        today.aqi[:, None],
        extra={
            "level": level,
            "primary_pollutant": np.asarray(today.primary, dtype=object)[:, None],
            "prob": np.full((n, 1), json.dumps({"observed_hours": int(observed_hours)}), dtype=object),
        },
    )
    return f.with_columns(pl.when(pl.col("level") > 0).then(pl.col("level")).alias("level"))


def nwp_archive_for(store: Store, panel: Panel, run_from: datetime, run_to: datetime) -> Any:
    """The archived NWP runs of ``nwp_value`` issued in [run_from, run_to] for the panel's stations and areas, as
    an :class:`~bogda.forecast.nwp_archive.NwpArchive` aligned with ``panel``; None when none is stored."""
    from bogda.forecast.nwp import run_info
    from bogda.forecast.nwp_archive import NwpArchive

    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                nwp_value.c.source,
                nwp_value.c.run_time,
                nwp_value.c.valid_start,
                nwp_value.c.location_id,
                nwp_value.c.variable,
                nwp_value.c.value,
            ).where(
                nwp_value.c.run_time >= run_from,
                nwp_value.c.run_time <= run_to,
                nwp_value.c.location_id.in_(list(panel.stations)),
            )
        ).all()
    if not rows:
        return None
    frame = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={
            "source": pl.Utf8,
            "run_time": pl.Datetime("us", "UTC"),
            "valid_start": pl.Datetime("us", "UTC"),
            "location_id": pl.Utf8,
            "variable": pl.Utf8,
            "value": pl.Float64,
        },
        orient="row",
    )
    return NwpArchive.from_values(frame, panel, runs=run_info(store, run_from=run_from, run_to=run_to))


PIT_ARCHIVE_DAYS = 90
"""Past issue dates read for the daily PIT archive of the AQI scenarios (forecast.md §3.5) (d)."""

STATION_PIT_KEYS = ("station_pit_own", "station_pit_county")
"""Keys of the counts an archive reports per panel row (``counts=``) and a run writes in a station's AQI ``prob``:
the station's archived PIT values (dates × items × leads) computed from its own forecast and observation, and those
taken from its county (forecast.md §3.5)."""


def _quantile_sqlite(store: Store, keys: list[Any], values: list[Any], where: list[Any]) -> pl.DataFrame:
    """SQLite: the rows of ``keys`` (run, code, item) + ``values`` under ``where``, read as one ``group_concat`` per
    value column and (run, code, item), then exploded back to rows.

    ~10⁶ rows fetched one Python tuple each cost ~2 s (24 runs of 100 stations) against ~1.3 s as ~15 000 lists.
    The value columns of one group are concatenated in one pass over the same rows, so they stay aligned; a REAL
    is written with at least 15 significant digits and read back exactly (:func:`_frame` stores the quantiles
    rounded to 3 decimals).
    The store's own ``sqlite3`` connection is used, never ADBC's SQLite: a second copy of the SQLite library in the
    process drops the store connection's POSIX locks when it closes the file (sqlite.org, "How To Corrupt An SQLite
    Database File" §2.2.1), which broke the WAL index under the next write (SIGBUS in the refresh benchmark).
    """
    names = [c.name for c in values]
    stmt = (
        select(*keys, *(func.group_concat(c).label(c.name) for c in values))
        .where(*where)
        .group_by(forecast.c.run_id, forecast.c.target_code, forecast.c.item)
    )
    sql = str(stmt.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as conn:
        rows = conn.connection.driver_connection.execute(sql).fetchall()
    key_names = [k.name for k in keys]
    frame = pl.DataFrame(rows, schema=[*key_names, *names], orient="row", strict=False)
    return frame.with_columns(pl.col(n).cast(pl.Utf8).str.split(",") for n in names).explode(names)


def _quantile_adbc(store: Store, stmt: Any) -> pl.DataFrame | None:
    """PostgreSQL: ``stmt`` read column-wise into Arrow through ADBC, as :mod:`bogda.store.series` does (no Python
    object per value); None when the driver or the connection fails, leaving the read to SQLAlchemy."""
    sql = str(stmt.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}))
    try:
        import adbc_driver_postgresql.dbapi as pg

        conn = pg.connect(store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    except Exception:  # the portable read gives the same rows, only slower
        return None
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return pl.from_arrow(cur.fetch_arrow_table())  # type: ignore[return-value]
    finally:
        conn.close()


_QUANTILE_SCHEMA: dict[str, Any] = {
    "run": pl.Int64,
    "code": pl.Utf8,
    "item": pl.Utf8,
    "lead": pl.Int64,
    "p10": pl.Float64,
    "p50": pl.Float64,
    "p90": pl.Float64,
}


def _archived_quantiles(
    store: Store,
    run_ids: Sequence[int],
    codes: Sequence[str],
    items: Sequence[str],
    resolution: str,
    max_lead: int,
    *,
    with_valid_start: bool = False,
    fast: bool = True,
) -> pl.DataFrame:
    """Stored p10/p50/p90 of runs ``run_ids`` for targets ``codes`` (stations and areas), leads 1..``max_lead``.

    Columns run, code, item, lead, p10, p50, p90 and, with ``with_valid_start``, ``valid_s``: the row's valid start
    in epoch seconds. Only rows with all three quantiles: a missing one makes the PIT missing anyway
    (:func:`bogda.forecast.scenarios.pit`), so leaving them in the database changes no archive value.

    The archives read ~10⁶ such rows (every station, item and lead of up to 90 runs); through SQLAlchemy's result
    rows that costs ~3.4 s for 24 runs of 100 stations, so SQLite (:func:`_quantile_sqlite`) and PostgreSQL
    (:func:`_quantile_adbc`) are read without a Python object per row; ``fast=False`` reads through SQLAlchemy.
    """
    keys = [forecast.c.run_id.label("run"), forecast.c.target_code.label("code"), forecast.c.item]
    values = [forecast.c.lead, forecast.c.p10, forecast.c.p50, forecast.c.p90]
    if with_valid_start:
        values.append(forecast.c.valid_start)
    where = [
        # (run_id, target_code, item, resolution, …) is the primary key: one index range per run, target and item
        forecast.c.run_id.in_([int(r) for r in run_ids]),
        forecast.c.target_code.in_(list(codes)),
        forecast.c.item.in_(list(items)),
        forecast.c.resolution == resolution,
        forecast.c.lead >= 1,
        forecast.c.lead <= max_lead,
        forecast.c.p10.is_not(None),
        forecast.c.p50.is_not(None),
        forecast.c.p90.is_not(None),
    ]
    stmt = select(*keys, *values).where(*where)
    schema = dict(_QUANTILE_SCHEMA)
    if with_valid_start:
        schema["valid_start"] = pl.Datetime("us", "UTC")
    frame = None
    if fast and store.dialect == "sqlite":
        frame = _quantile_sqlite(store, keys, values, where)
    elif fast and store.dialect == "postgresql":
        frame = _quantile_adbc(store, stmt)
    if frame is None:
        with store.engine.connect() as conn:
            frame = pl.DataFrame([tuple(r) for r in conn.execute(stmt).all()], schema=schema, orient="row")
    else:
        frame = frame.rename(dict(zip(frame.columns, schema, strict=True)))
        if with_valid_start and frame.schema["valid_start"] == pl.Utf8:
            # SQLite stores UtcDateTime as naive UTC text with microseconds
            frame = frame.with_columns(
                pl.col("valid_start").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")
            )
        frame = frame.cast(schema)  # type: ignore[arg-type]
    if with_valid_start:
        frame = frame.with_columns(pl.col("valid_start").dt.epoch("s").alias("valid_s")).drop("valid_start")
    return frame


def _row_index(values: pl.Series, index: dict[Any, int]) -> np.ndarray:
    """Positions of ``values`` in ``index`` (run ids, codes or items), vectorised; every value must be in it."""
    return values.replace_strict(index, return_dtype=pl.Int64).to_numpy()


def _stations_fall_back_to_county(
    arc: np.ndarray, dates: list[date], reg: Registry, row_of: dict[str, int]
) -> tuple[np.ndarray | None, list[date], dict[str, np.ndarray]]:
    """Finish a PIT archive (dates, items, panel rows, leads) whose rows hold each target's own PIT (forecast.md §3.5).

    Where a station has no PIT of its own (no stored forecast of it that run, or no observation) it takes its
    county's PIT of the same date, item and lead: the county's regime that date is the nearest thing to the
    station's, nearer than :func:`bogda.forecast.scenarios.fill_pit`'s mean over every target. Dates with no value
    at all are dropped. Returns the archive, its dates (``(None, [])`` when nothing is left) and, per panel row,
    the counts of :data:`STATION_PIT_KEYS` (zero for the areas).
    """
    n = arc.shape[2]
    county_of = {m: t.code for t in reg.areas if t.kind == "county" for m in t.members}
    pairs = [(i, row_of[county_of[c]]) for c, i in row_of.items() if county_of.get(c) in row_of]
    station_codes = {t.code for t in reg.stations}
    stations = [i for c, i in row_of.items() if c in station_codes]
    own = np.zeros(n, dtype=np.int64)
    took = np.zeros(n, dtype=np.int64)
    if stations:
        own[stations] = np.isfinite(arc[:, :, stations, :]).sum(axis=(0, 1, 3))
    if pairs:
        st, cty = (np.array(v) for v in zip(*pairs, strict=True))
        mine, theirs = arc[:, :, st, :], arc[:, :, cty, :]
        fill = ~np.isfinite(mine) & np.isfinite(theirs)
        arc[:, :, st, :] = np.where(fill, theirs, mine)
        took[st] = fill.sum(axis=(0, 1, 3))
    counts = dict(zip(STATION_PIT_KEYS, (own, took), strict=True))
    keep = np.isfinite(arc).any(axis=(1, 2, 3))
    if not keep.any():
        return None, [], counts
    return arc[keep], [d for d, k in zip(dates, keep, strict=True) if k], counts


def pit_archive(
    store: Store,
    reg: Registry,
    panel: Panel,
    t_issue: int,
    items: Sequence[str] = op.DAILY_ITEMS,
    *,
    horizons: int = 7,
    days: int = PIT_ARCHIVE_DAYS,
    counts: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray | None, list[date]]:
    """PIT vectors F(obs) of past daily forecasts (forecast.md §3.5): (dates, items, panel rows, leads).

    For each Beijing issue date before today the last stored operational run of that date is taken; the daily
    p10/p50/p90 it stored for every target (stations, counties, prefecture) are compared with that target's own
    observed daily value (days completed before today only), so two stations of a county keep their own errors.
    A station without a PIT of its own takes its county's (:func:`_stations_fall_back_to_county`); what is still
    missing stays NaN for :func:`bogda.forecast.scenarios.fill_pit`. Every target of a date comes from the same
    run, so a scenario that draws the date keeps the dependence between stations, counties and items.

    ``counts``, when given, receives per panel row the :data:`STATION_PIT_KEYS` counts. Returns ``(None, [])``
    when nothing is archived.
    """
    from bogda.forecast.scenarios import concentration_floor, pit

    today = t_issue // 24
    today_date = panel.day_of(today)
    first = day_start_utc(today_date - timedelta(days=days))
    with store.engine.connect() as conn:
        runs = conn.execute(
            select(forecast_run.c.id, forecast_run.c.issue_time).where(
                forecast_run.c.kind == "operational",
                forecast_run.c.issue_time >= first,
                forecast_run.c.issue_time < day_start_utc(today_date),
            )
        ).all()
    last: dict[date, tuple[datetime, int]] = {}
    for r in runs:
        d = beijing_date(r.issue_time)
        if d not in last or r.issue_time > last[d][0]:
            last[d] = (r.issue_time, r.id)
    # a run whose last target day ends before the panel's first day has no observation to compare with: its date
    # would be dropped as empty, so its ~5 000 stored rows are not read (the panel holds HISTORY_DAYS, the archive
    # window is longer)
    # (the last lead's day is at most the issue date + horizons; one more day of margin)
    dates = sorted(d for d in last if beijing_date(last[d][0]) + timedelta(days=horizons + 1) >= panel.first_day)
    if not dates:
        return None, []
    row_of = {c: i for i, c in enumerate(panel.stations)}
    item_of = {it: i for i, it in enumerate(items)}
    arc = np.full((len(dates), len(items), len(panel.stations), horizons), np.nan)
    f = _archived_quantiles(
        store, [last[d][1] for d in dates], list(row_of), items, "day", horizons, with_valid_start=True
    )
    if f.height:
        i_date = _row_index(f["run"], {last[d][1]: i for i, d in enumerate(dates)})
        i_item = _row_index(f["item"], item_of)
        i_row = _row_index(f["code"], row_of)
        i_lead = f["lead"].to_numpy() - 1
        # the target day read from the row's own valid start (a run issued just after Beijing midnight forecasts
        # from the day before); Beijing has no DST, so whole days from the panel's first midnight are its dates
        day = (f["valid_s"].to_numpy() - int(panel.start_utc.timestamp())) // 86400
        # no look-ahead: only days completed before today
        ok = (day >= 0) & (day < today)
        obs = np.full(f.height, np.nan)
        for k, it in enumerate(items):
            sel = ok & (i_item == k)
            obs[sel] = op.daily_item(panel, it)[i_row[sel], day[sel]]
        q = [f[c].to_numpy()[ok] for c in ("p10", "p50", "p90")]
        floor = np.array([concentration_floor(it) for it in items])[i_item[ok]]
        arc[i_date[ok], i_item[ok], i_row[ok], i_lead[ok]] = pit(q[0], q[1], q[2], obs[ok], floor)
    arc_out, kept, n_src = _stations_fall_back_to_county(arc, dates, reg, row_of)
    if counts is not None:
        counts.update(n_src)
    return arc_out, kept


HOURLY_PIT_ARCHIVE_DAYS = PIT_ARCHIVE_DAYS
"""Past issue dates read for the hourly PIT archive of the hourly AQI scenarios (forecast.md §3.5) (d)."""


def hourly_pit_archive(
    store: Store,
    reg: Registry,
    panel: Panel,
    t_issue: int,
    items: Sequence[str] = op.HOURLY_ITEMS,
    *,
    max_lead: int = 72,
    days: int = HOURLY_PIT_ARCHIVE_DAYS,
    counts: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray | None, list[date]]:
    """PIT vectors F(obs) of past hourly forecasts (forecast.md §3.5): (dates, items, panel rows, leads 1..max_lead).

    The current issue time is the end of panel hour ``t_issue``. For each Beijing date before today, the stored
    operational run issued at the hour of day nearest the current one is taken (its leads then fall on the same
    hours of day as today's); only runs issued before the current issue time count. The hourly p10/p50/p90 it
    stored for every target (stations, counties, prefecture) are compared with that target's own observation of
    each lead's valid hour, and only where that hour had ended by the current issue time (panel positions
    ≤ ``t_issue``): no look-ahead. A station without a PIT of its own takes its county's, as in
    :func:`pit_archive`; the rest stays NaN for :func:`bogda.forecast.scenarios.fill_pit`. ``counts``, when given,
    receives per panel row the :data:`STATION_PIT_KEYS` counts. Returns ``(None, [])`` when nothing is archived.
    """
    from bogda.forecast.scenarios import concentration_floor, pit

    issue = panel.start_utc + timedelta(hours=t_issue + 1)
    # today is the Beijing date of the issue instant, not of the last ended hour: at an issue at 00:00 Beijing the
    # latter is yesterday, and yesterday's runs (issued before the issue, 24 leads observed) would be left out
    today_date = beijing_date(issue)
    first = day_start_utc(today_date - timedelta(days=days))
    hour_now = issue.hour
    with store.engine.connect() as conn:
        runs = conn.execute(
            select(forecast_run.c.id, forecast_run.c.issue_time).where(
                forecast_run.c.kind == "operational",
                forecast_run.c.issue_time >= first,
                forecast_run.c.issue_time < min(issue, day_start_utc(today_date)),
            )
        ).all()
    best: dict[date, tuple[tuple[int, float], datetime, int]] = {}
    for r in runs:
        d = beijing_date(r.issue_time)
        # circular distance of the issue hour of day; the later run breaks a tie
        gap = min((r.issue_time.hour - hour_now) % 24, (hour_now - r.issue_time.hour) % 24)
        key = (gap, -r.issue_time.timestamp())
        if d not in best or key < best[d][0]:
            best[d] = (key, r.issue_time, r.id)
    # a run whose last lead ended before the panel's first hour has no observation to compare with (empty date,
    # dropped anyway): its ~50 000 stored rows are not read
    dates = sorted(d for d in best if best[d][1] + timedelta(hours=max_lead) > panel.start_utc)
    if not dates:
        return None, []
    arc = np.full((len(dates), len(items), len(panel.stations), max_lead), np.nan)
    row_of = {c: i for i, c in enumerate(panel.stations)}
    # no valid_start column: converting ~10⁶ timestamps costs more than the rest of the archive; an hourly row's
    # valid hour is its run's issue hour + lead − 1 (operational.forecast_hourly)
    f = _archived_quantiles(store, [best[d][2] for d in dates], list(row_of), items, "hour", max_lead)
    if f.height:
        i_run = _row_index(f["run"], {best[d][2]: i for i, d in enumerate(dates)})
        born_of = np.array([int((best[d][1] - panel.start_utc).total_seconds() // 3600) for d in dates])
        i_item = _row_index(f["item"], {it: i for i, it in enumerate(items)})
        i_row = _row_index(f["code"], row_of)
        i_lead = f["lead"].to_numpy() - 1
        pos = born_of[i_run] + i_lead  # panel position of the lead's valid hour (the run's issue hour is lead 1)
        # the observation of the forecast's own valid hour, at/after the run's issue, ended by the current issue
        ok = (i_lead >= 0) & (pos >= 0) & (pos <= t_issue)
        obs = np.full(pos.size, np.nan)
        for k, it in enumerate(items):
            sel = ok & (i_item == k)
            obs[sel] = panel.data[it][i_row[sel], pos[sel]]
        q = [f[c].to_numpy()[ok] for c in ("p10", "p50", "p90")]
        floor = np.array([concentration_floor(it) for it in items])[i_item[ok]]
        arc[i_run[ok], i_item[ok], i_row[ok], i_lead[ok]] = pit(q[0], q[1], q[2], obs[ok], floor)
    arc_out, kept, n_src = _stations_fall_back_to_county(arc, dates, reg, row_of)
    if counts is not None:
        counts.update(n_src)
    return arc_out, kept


def warning_settings(warning: WarningSettings | None = None, rule: str | None = None) -> WarningSettings:
    """The warning settings a run uses: ``warning`` or the installation's (``[forecast.warning]``,
    :class:`bogda.config.WarningSettings`), with the rule set replaced by ``rule`` when given (the command line's
    ``--rule``); ValueError for an unknown rule set."""
    from bogda.config import get_settings
    from bogda.standards.warning_levels import canonical_rule

    cfg = warning if warning is not None else get_settings().forecast.warning
    if rule is not None:
        cfg = cfg.model_copy(update={"rule_set": canonical_rule(rule)})
    return cfg


ROLLING_LABELS: dict[str, str] = dict(POLLUTANTS)
"""Hourly items → labels of :func:`bogda.forecast.warnings.rolling_24h_aqi` (the HJ 212 code's pollutant)."""


def _rolling_aqi(panel: Panel, hourly: dict[str, op.ItemForecast], t_issue: int) -> tuple[datetime, np.ndarray]:
    """Rolling 24-h AQI per target (mode ``rolling``, forecast.md §3.6) from today's 00:00 (Beijing): the observed
    hours of today up to the issue, then the hourly forecast (to 72 h), as today's AQI is made (:func:`_today_aqi`).
    Returns the first window's start (UTC) and the AQI (targets, windows); window k starts k hours later."""
    h0 = (t_issue // 24) * 24
    conc = {
        label: np.concatenate(
            [panel.data[item][:, h0 : t_issue + 1], hourly[item].methods[hourly[item].primary]], axis=1
        )
        for item, label in ROLLING_LABELS.items()
        if item in hourly and item in panel.data
    }
    start = panel.start_utc + timedelta(hours=h0)
    return start, wn.rolling_24h_aqi(conc, start)


def _window_probabilities(
    prob: dict[str, np.ndarray], row: int, window: Sequence[date], today: date, today_aqi: float
) -> dict[float, list[float]]:
    """P(AQI > T) per day of a proposal's window for probability mode (forecast.md §3.6): the scenario
    probabilities of the daily AQI (``AQI>T`` keys, leads D+1..) and, for today, 1 or 0 from today's AQI (observed
    hours + forecast: no scenario of it exists)."""
    out: dict[float, list[float]] = {}
    for key, arr in prob.items():
        if not key.startswith("AQI>"):
            continue
        thr = float(key[4:])
        out[thr] = [
            (1.0 if np.isfinite(today_aqi) and today_aqi > thr else 0.0)
            if d == today
            else float(arr[row, (d - today).days - 1])
            for d in window
        ]
    return out


def _baselines_for_refresh(
    baselines: op.BaselineTables | str | None, installed: bool, reasons: list[str]
) -> op.BaselineTables | None:
    """The training climatologies a refresh's baselines use: given, or with ``"auto"`` the installation's file when
    the refresh serves the installation's bundle too (``models="auto"``; a refresh given its models explicitly, as
    tests and benchmarks do, reads no file it was not given). An unreadable file is a reason, never a failure."""
    if not isinstance(baselines, str):
        return baselines
    if baselines != "auto":
        raise ValueError(f"baselines: expected BaselineTables, None or 'auto', got {baselines!r}")
    if not installed:
        return None
    try:
        return load_baselines()
    except Exception as exc:
        reasons.append(f"baseline climatologies unreadable ({exc.__class__.__name__}): recent history used")
        return None


def refresh(
    store: Store,
    now: datetime | None = None,
    *,
    models: op.OperationalModels | str | None = "auto",
    rule: str | None = None,
    warning: WarningSettings | None = None,
    history_days: int = HISTORY_DAYS,
    write: bool = True,
    baselines: op.BaselineTables | str | None = "auto",
) -> RefreshResult:
    """Forecast every station, county and the prefecture at the last whole hour before ``now`` and write it.

    ``models="auto"`` loads the installation's bundle (:func:`load_models`); None serves baselines only (status
    ``degraded``, forecast.md §3.4). Warnings and advisories are proposed from the new run, with ``warning`` (default:
    the installation's ``[forecast.warning]`` settings: rule set, mode, probability mode, merge gap, confirmation
    runs) and ``rule`` replacing its rule set when given (:func:`warning_settings`). ``baselines``: the training
    climatologies of the baselines (:func:`bogda.forecast.operational.fit_baselines`, fitted by the nightly training
    even when no model can be trained); ``"auto"`` reads the installation's with its bundle
    (:func:`_baselines_for_refresh`); without them the baselines use the refresh's own 35 days.
    """
    cfg = warning_settings(warning, rule)  # an unknown rule set fails before any work
    t0 = time.perf_counter()
    now = now or now_utc()
    issue = floor_to(now, "hour")
    reasons: list[str] = []
    installed = models == "auto"
    if models == "auto":
        try:
            models = load_models()
        except Exception as exc:
            reasons.append(f"model bundle unreadable: {exc.__class__.__name__}")
            models = None
    bundle = models if isinstance(models, op.OperationalModels) else None
    _log_heating(bundle)
    tables = _baselines_for_refresh(baselines, installed, reasons)
    reg = registry(store)
    if not reg.stations:
        raise ValueError("no active air stations in the registry: nothing to forecast")
    # station weather only for a bundle that learnt from it, and only the days its features reach back
    w_days = REFRESH_WEATHER_DAYS if bundle is not None and getattr(bundle, "weather_vars", ()) else 0
    panel = load_panel(store, reg, issue, days=history_days, notes=reasons, weather_days=w_days)
    # the emission-control columns when, and only when, the bundle was trained with them (forecast.md §2)
    ctl.attach_for_refresh(store, panel, bundle)
    t_issue = op.issue_position(panel, issue)
    codes = list(panel.stations)
    kinds = {t.code: t.kind for t in reg.targets}
    observed_weather: tuple[str, ...] = ()
    if bundle is not None and getattr(bundle, "weather_vars", ()):
        rows = [i for i, c in enumerate(codes) if kinds.get(c) == "station"]
        observed_weather, absent = station_weather.present_at_issue(panel.data, bundle.weather_vars, t_issue, rows)
        if absent:  # a weather feed down: the models read it as a gap, so say so (forecast.md §3.4, §6)
            reasons.append(f"no observed station weather in {station_weather.RECENT_HOURS} h: {', '.join(absent)}")
    nwp_arc = None
    if bundle is not None and bundle.weather_mode == "nwp":
        try:
            nwp_arc = nwp_archive_for(store, panel, issue - timedelta(days=2), issue)
        except Exception as exc:  # a bad archive degrades to the no-NWP models, never fails the refresh
            reasons.append(f"NWP runs unreadable ({exc.__class__.__name__}: {exc}): models without NWP")
    hourly = {
        it: op.forecast_hourly(panel, it, t_issue, models=bundle, nwp=nwp_arc, baselines=tables)
        for it in op.HOURLY_ITEMS
    }
    daily = {
        it: op.forecast_daily(panel, it, t_issue, models=bundle, nwp=nwp_arc, baselines=tables) for it in op.DAILY_ITEMS
    }
    used_nwp = any(fc.primary == "lgbm_nwp" for fc in (*hourly.values(), *daily.values()))
    nwp_run = None
    if used_nwp:
        i_run = int(nwp_arc.run_for(np.array([t_issue]))[0])
        nwp_run = nwp_arc.run_times[i_run]
        reasons.extend(nwp_arc.run_reasons(i_run))  # a run loaded with corrupt GRIB messages: degraded (§6)
    elif bundle is not None and bundle.weather_mode == "nwp":
        reasons.append("no NWP run usable at the issue time (6 h latency, 24 h fallback): models without NWP")
    # per panel row: how many archived station PITs were the station's own and how many its county's (§3.5)
    h_src: dict[str, np.ndarray] = {}
    d_src: dict[str, np.ndarray] = {}
    try:
        h_arc, h_dates = hourly_pit_archive(store, reg, panel, t_issue, list(hourly), counts=h_src)
    except Exception as exc:  # as the daily archive: an input of the probabilities, never a reason to fail
        h_arc, h_dates = None, []
        reasons.append(f"hourly PIT archive unreadable ({exc.__class__.__name__}): comonotone AQI scenarios")
    a_h = op.aqi_forecast(
        hourly,
        "hour",
        pit_archive=h_arc,
        archive_dates=h_dates,
        seed=int(issue.timestamp()) // 3600,
        # SO2 of the 23 hours up to the issue: the 24-h mean that replaces a 1-h SO2 above 800 (HJ 633-2012)
        so2_history=panel.data["a21026"][:, max(0, t_issue - 22) : t_issue + 1] if "a21026" in panel.data else None,
    )
    try:
        arc, arc_dates = pit_archive(store, reg, panel, t_issue, list(daily), counts=d_src)
    except Exception as exc:  # the archive is an input of the probabilities, never a reason to fail a refresh
        arc, arc_dates = None, []
        reasons.append(f"PIT archive unreadable ({exc.__class__.__name__}): comonotone AQI scenarios")
    a_d = op.aqi_forecast(daily, "day", pit_archive=arc, archive_dates=arc_dates, seed=int(issue.timestamp()) // 3600)
    primary = next(iter(daily.values())).primary
    if bundle is None:
        reasons.append("no trained model set: baselines only (damped persistence), forecast.md §3.4")
    else:
        missing = [it for it in dict.fromkeys((*op.HOURLY_ITEMS, *op.DAILY_ITEMS)) if not bundle.covers(it)]
        if missing:
            reasons.append(f"no model for {', '.join(missing)}: damped persistence")
    stale = [
        codes[i]
        for i in range(len(codes))
        if not np.isfinite(panel.data["a34004"][i, max(0, t_issue - 23) : t_issue + 1]).any()
    ]
    if stale:
        reasons.append(f"stale (no PM2.5 in 24 h), climatology used: {', '.join(stale)}")
    status = "ok" if not reasons else "degraded"
    today = panel.day_of(t_issue // 24)
    today_res = _today_aqi(panel, hourly, t_issue)
    today_aqi = today_res.aqi
    daily_aqi = {
        code: [
            (
                (today + timedelta(days=int(k))),
                float(a_d.mean[i, j]),
                float(a_d.p10[i, j]),
                float(a_d.p90[i, j]),
                a_d.primary[i, j],
            )
            for j, k in enumerate(daily["a34004"].leads)
        ]
        for i, code in enumerate(codes)
    }
    result = RefreshResult(0, status, reasons, 0, 0.0, [], [], daily_aqi, list(observed_weather))
    if not write:
        result.seconds = time.perf_counter() - t0
        return result
    with store.begin() as conn:
        run_id = conn.execute(
            forecast_run.insert()
            .values(
                issue_time=issue,
                kind="operational",
                profile=bundle.profile if bundle else "baseline",
                model_version=bundle.version if bundle else "",
                weather_mode="nwp" if used_nwp else "none",
                nwp_source=nwp_arc.source if used_nwp else None,
                nwp_run_time=nwp_run,
                observed_weather=list(observed_weather),
                status=status,
                reasons=reasons,
                created_at=now_utc(),
            )
            .returning(forecast_run.c.id)
        ).scalar_one()
        frames: list[pl.DataFrame] = []
        for fc in (*hourly.values(), *daily.values()):
            frames.extend(_item_frames(run_id, fc, codes, kinds, set(BASELINE_LEADS_H)))
        frames.append(_aqi_frame(run_id, a_h, codes, kinds, primary, h_src))
        frames.append(_aqi_frame(run_id, a_d, codes, kinds, primary, d_src))
        frames.append(_today_frame(run_id, today_res, today, t_issue + 1 - (t_issue // 24) * 24, codes, kinds))
        values = pl.concat(frames, how="vertical_relaxed")
        _write_values(conn, values)
        n_rows = values.height
    result.run_id = int(run_id)
    result.n_values = n_rows
    # warnings per area (counties and the prefecture)
    dust_today = {}
    try:
        result.advisories = evaluate_advisories(store, reg, issue, run_id=run_id)
        dust_today = {(a.location, a.day) for a in result.advisories if a.kind == "dust"}
    except Exception as exc:
        reasons.append(f"advisories failed: {exc.__class__.__name__}: {exc}")
    rolling_start, rolling_aqi = None, None
    mode = cfg.mode
    if mode == "rolling":
        try:
            rolling_start, rolling_aqi = _rolling_aqi(panel, hourly, t_issue)
        except Exception as exc:  # the calendar days are still there: warn by them rather than not at all
            log.exception("rolling 24-h AQI failed")
            reasons.append(f"rolling 24-h AQI failed ({exc.__class__.__name__}: {exc}): warnings in calendar mode")
            mode = "calendar"
    h0 = (t_issue // 24) * 24
    for i, code in enumerate(codes):
        if kinds.get(code) == "station":
            continue
        try:
            window = wn.forecast_window(today, float(today_aqi[i]))
            seq = []
            prims = []
            for d in window:
                if d == today:
                    seq.append(float(today_aqi[i]))
                    prims.append(None)
                else:
                    j = (d - today).days - 1
                    seq.append(float(a_d.mean[i, j]))
                    prims.append(a_d.primary[i, j])
            # sand/dust days leave the sequence (an advisory, not a warning, forecast.md §3.6 / §3.8), not the window
            dust_days = {d for d in window if (code, d) in dust_today}
            rolling = None
            if rolling_aqi is not None and rolling_start is not None:
                # today's hours count only during an ongoing episode, as today's day does in calendar mode
                skip = 0 if window[0] == today else t_issue + 1 - h0
                rolling = wn.RollingAqi(
                    rolling_start + timedelta(hours=skip), tuple(float(v) for v in rolling_aqi[i, skip:])
                )
            prob_over = (
                _window_probabilities(a_d.prob, i, window, today, float(today_aqi[i])) if cfg.probability_mode else None
            )
            prop = wn.propose(
                code,
                window,
                seq,
                prims,
                rule=cfg.rule_set,
                mode=mode,
                rolling=rolling,
                prob_over=prob_over,
                dust=dust_days,
            )
            if prop.level is not None and a_d.scenarios is not None:
                # P(level reached) from the joint scenarios: each scenario's whole daily sequence is judged, so
                # multi-day clauses see the cross-day correlation (forecast.md §3.5); today keeps its one value. The
                # scenarios are daily: in mode rolling this is the probability of the level on calendar days.
                cols = [(d - today).days - 1 for d in window]
                n_sc = a_d.scenarios.shape[0]
                seqs = np.column_stack(
                    [np.full(n_sc, float(today_aqi[i])) if j < 0 else a_d.scenarios[:, i, j] for j in cols]
                )
                p_level = wn.scenario_probability(
                    seqs, prop.rank, cfg.rule_set, cause=prop.cause, excluded=wn.dust_mask(window, dust_days)
                )
                if p_level is not None:
                    prop = replace(prop, probability=round(p_level, 3))
            result.warnings.append(prop)
            apply_proposal(
                store,
                prop,
                run_id=run_id,
                rule=cfg.rule_set,
                place_id=reg.place_of.get(code),
                now=now,
                today=today,
                confirm_runs=cfg.confirm_runs,
                merge_gap_hours=cfg.merge_gap_hours,
            )
        except Exception as exc:  # one area's proposal never stops the others' (forecast.md §6)
            log.exception("warning proposal for %s failed", code)
            reasons.append(f"warning proposal for {code} failed: {exc.__class__.__name__}: {exc}")

    result.seconds = time.perf_counter() - t0
    with store.begin() as conn:
        conn.execute(
            forecast_run.update()
            .where(forecast_run.c.id == run_id)
            .values(duration_ms=int(result.seconds * 1000), n_values=n_rows, reasons=reasons)
        )
    return result


# --------------------------------------------------------------------------------------------------------------
# Warnings: proposals and human decisions
# --------------------------------------------------------------------------------------------------------------


def _warning_title(conn: Any, area_code: str, level: str, state: str) -> str:
    """The finding's title: the area by its name (its code if the registry has none), level and state in words."""
    area = conn.execute(select(place.c.name).where(place.c.code == area_code)).scalar() or area_code
    return f"{area} 重污染天气{wn.LEVEL_ZH.get(level, level)}预警（{wn.STATE_ZH.get(state, state)}）"


def _raise_warning_finding(conn: Any, w: dict[str, Any], place_id: int | None, now: datetime) -> int:
    out = raise_finding(
        conn,
        FindingDraft(
            kind="warning",
            severity=WARNING_SEVERITY.get(w["level"], "medium"),
            title=_warning_title(conn, w["area_code"], w["level"], w["state"]),
            dedupe_key=f"warning:{w['area_code']}:{w['id']}",
            detected_at=now,
            place_id=place_id,
            evidence={
                "warning_id": w["id"],
                "area_code": w["area_code"],
                "rule_set": w["rule_set"],
                "level": w["level"],
                "state": w["state"],
                "cause": w["cause"],
                "start_date": str(w["start_date"]),
                "end_date": str(w["end_date"]),
                "run_id": w["run_id"],
            }
            | (w.get("evidence") or {}),
        ),
        now=now,
    )
    conn.execute(
        finding.update()
        .where(finding.c.id == out.finding_id)
        .values(title=_warning_title(conn, w["area_code"], w["level"], w["state"]))
    )
    return out.finding_id


def current_warning(store: Store, area_code: str) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = (
            conn.execute(
                select(warning_table)
                .where(warning_table.c.area_code == area_code, warning_table.c.state.in_(ACTIVE_STATES))
                .order_by(warning_table.c.id.desc())
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def _withdraw_superseded(conn: Any, w: dict[str, Any], place_id: int | None, now: datetime, note: str) -> None:
    """A proposal never issued whose episode is over, replaced by the proposal of a separate later episode: withdrawn
    by the system (proposed → rejected), audited, its finding dismissed."""
    conn.execute(
        warning_table.update()
        .where(warning_table.c.id == w["id"])
        .values(state="rejected", decided_by="system", decided_at=now, note=note, updated_at=now)
    )
    conn.execute(
        warning_event.insert().values(
            warning_id=w["id"],
            at=now,
            by="system",
            from_state=w["state"],
            to_state="rejected",
            level=w["level"],
            note=note,
        )
    )
    row = dict(conn.execute(select(warning_table).where(warning_table.c.id == w["id"])).mappings().one())
    _raise_warning_finding(conn, row, place_id, now)
    if row["finding_id"]:
        _close_finding(conn, row["finding_id"], "system", "proposal withdrawn: superseded by a new episode", now)


def apply_proposal(
    store: Store,
    prop: wn.Proposal,
    *,
    run_id: int | None = None,
    rule: str = "2024",
    place_id: int | None = None,
    now: datetime | None = None,
    today: date | None = None,
    confirm_runs: int = wn.CONFIRM_RUNS,
    merge_gap_hours: float = wn.MERGE_GAP_HOURS,
) -> str:
    """Record a run's proposal for an area (forecast.md §3.6): new proposals and upgrades at once, downgrades and
    lifts after ``confirm_runs`` agreeing runs; an issued warning is never changed by a run, the proposal is put in
    its evidence for the issuer. ``today``: the run's Beijing date, kept with the proposal so that the issuer sees
    which of its days is today (observed hours and forecast) rather than a forecast. Returns the
    :class:`~bogda.forecast.warnings.Decision` action.

    Episodes at most ``merge_gap_hours`` apart merge (forecast.md §3.6, :func:`bogda.forecast.warnings.merges`): a
    proposal whose episode starts after the end of the area's current (proposed, issued or changed) warning but
    within the gap extends that warning — its end date, and, for a proposal not yet issued, its level if higher
    (an issued warning's level is the issuer's: the upgrade waits in its evidence) — instead of opening a new one;
    the merge is audited in ``warning_event`` and recorded in the evidence (``proposal.merged``). A proposal further
    away is a separate episode and a warning of its own: a current warning still only proposed is then withdrawn
    (rejected by the system, its episode being over); an issued one stays in force until a person lifts it.
    """
    from bogda.standards.warning_levels import canonical_rule

    rule = canonical_rule(rule)
    now = now or now_utc()
    cur = current_warning(store, prop.area_code)
    gap: float | None = None
    superseded: dict[str, Any] | None = None
    if cur is not None and prop.level is not None and prop.start_date is not None:
        gap = wn.episode_gap_hours(cur["end_date"], prop.start_date)
        if not wn.merges(cur["end_date"], prop.start_date, merge_gap_hours):
            superseded, cur = cur, None
    dec = wn.decide(cur["level"] if cur else None, cur["pending_lower"] if cur else 0, prop.level, confirm=confirm_runs)
    # the proposal's episode begins after the warning's last day: a later episode joins the warning
    merged = cur is not None and prop.start_date is not None and prop.start_date > cur["end_date"]
    proposal: dict[str, Any] = {
        "level": prop.level,
        "days": [str(d) for d in prop.days],
        "aqi": [None if not np.isfinite(a) else a for a in prop.aqi],
        "reason": prop.reason,
        "action": dec.action,
        "run_id": run_id,
        "today": None if today is None else str(today),
        "rule_set": rule,
        "mode": prop.mode,
        "basis": prop.basis,
        "probability": prop.probability,
        "dust_days": [str(d) for d in prop.dust_days],
    }
    with store.begin() as conn:
        if dec.action == "none":
            return "none"
        if superseded is not None:
            proposal["separate_from"] = {"warning_id": superseded["id"], "gap_hours": gap}
            if superseded["state"] == "proposed":
                _withdraw_superseded(
                    conn,
                    superseded,
                    place_id,
                    now,
                    f"withdrawn: superseded by a separate episode from {prop.start_date} ({gap:g} h after this one's "
                    f"end, > {merge_gap_hours:g} h)",
                )
        if cur is None:
            wid = conn.execute(
                warning_table.insert()
                .values(
                    area_code=prop.area_code,
                    rule_set=rule,
                    level=prop.level,
                    cause=prop.cause,
                    start_date=prop.start_date,
                    end_date=prop.end_date,
                    probability=prop.probability,
                    run_id=run_id,
                    state="proposed",
                    evidence={"proposal": proposal},
                    created_at=now,
                    updated_at=now,
                )
                .returning(warning_table.c.id)
            ).scalar_one()
            conn.execute(
                warning_event.insert().values(
                    warning_id=wid,
                    at=now,
                    by="system",
                    from_state=None,
                    to_state="proposed",
                    level=prop.level,
                    note=prop.reason,
                )
            )
            w = dict(conn.execute(select(warning_table).where(warning_table.c.id == wid)).mappings().one())
            fid = _raise_warning_finding(conn, w, place_id, now)
            conn.execute(warning_table.update().where(warning_table.c.id == wid).values(finding_id=fid))
            return dec.action
        values: dict[str, Any] = {"updated_at": now, "pending_lower": dec.pending_lower, "run_id": run_id}
        if cur["state"] == "proposed":
            if dec.action in ("upgrade", "downgrade", "keep") and prop.level is not None:
                values.update(
                    level=prop.level,
                    cause=prop.cause,
                    # a merged later episode keeps the warning's start; the same episode follows the newest forecast
                    start_date=min(cur["start_date"], prop.start_date)
                    if merged and prop.start_date
                    else prop.start_date or cur["start_date"],
                    end_date=prop.end_date or cur["end_date"],
                )
            elif dec.action == "pending_downgrade" and merged and prop.end_date is not None:
                values["end_date"] = max(cur["end_date"], prop.end_date)
            elif dec.action == "lift":
                values.update(
                    state="rejected",
                    decided_by="system",
                    decided_at=now,
                    note="withdrawn: two later runs no longer support the proposal",
                )
        elif prop.end_date is not None and (merged or dec.action in ("keep", "upgrade")):
            values["end_date"] = max(cur["end_date"], prop.end_date)
        new_end = values.get("end_date", cur["end_date"])
        notes = []
        if values.get("state") or values.get("level", cur["level"]) != cur["level"]:
            notes.append(dec.action)
        if merged and new_end != cur["end_date"]:
            proposal["merged"] = {"gap_hours": gap, "end_before": str(cur["end_date"]), "end_after": str(new_end)}
            notes.append(
                f"merged the episode {prop.start_date}..{prop.end_date} ({gap:g} h after the warning's end, "
                f"≤ {merge_gap_hours:g} h): end {cur['end_date']} → {new_end}"
            )
        values["evidence"] = (cur["evidence"] or {}) | {"proposal": proposal}
        conn.execute(warning_table.update().where(warning_table.c.id == cur["id"]).values(**values))
        if notes:
            conn.execute(
                warning_event.insert().values(
                    warning_id=cur["id"],
                    at=now,
                    by="system",
                    from_state=cur["state"],
                    to_state=values.get("state", cur["state"]),
                    level=values.get("level", cur["level"]),
                    note=f"run {run_id}: " + "; ".join(notes),
                )
            )
        w = dict(conn.execute(select(warning_table).where(warning_table.c.id == cur["id"])).mappings().one())
        _raise_warning_finding(conn, w, place_id, now)
        if w["state"] == "rejected" and w["finding_id"]:
            _close_finding(conn, w["finding_id"], "system", "proposal withdrawn by later runs", now)
    return dec.action


def _close_finding(conn: Any, finding_id: int, by: str, reason: str, now: datetime) -> None:
    status = conn.execute(select(finding.c.status).where(finding.c.id == finding_id)).scalar()
    if status in ("open", "acknowledged"):
        set_status(
            conn,
            finding_id,
            "dismissed" if "withdrawn" in reason or "rejected" in reason else "resolved",
            by=by,
            reason=reason,
            now=now,
        )
    elif status == "dispatched":
        set_status(conn, finding_id, "resolved", by=by, reason=reason, now=now)


TRANSITIONS: dict[str, tuple[str, ...]] = {
    "proposed": ("issued", "rejected"),
    "issued": ("changed", "lifted"),
    "changed": ("changed", "lifted"),
}


def decide_warning(
    store: Store,
    warning_id: int,
    to_state: str,
    *,
    by: str,
    level: str | None = None,
    doc_no: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A person's decision on a warning (forecast.md §3.6: proposed → issued | rejected; issued → changed → lifted),
    audited in ``warning_event``. Issuing or changing activates the emergency list; lifting ends it."""
    now = now or now_utc()
    with store.engine.connect() as conn:
        w = conn.execute(select(warning_table).where(warning_table.c.id == warning_id)).mappings().first()
    if w is None:
        raise LookupError(f"warning {warning_id} does not exist")
    if to_state not in TRANSITIONS.get(w["state"], ()):
        raise ValueError(f"warning {warning_id}: cannot go from {w['state']} to {to_state}")
    new_level = level or w["level"]
    if new_level not in wn.LEVEL_RANK or new_level is None:
        raise ValueError(f"unknown level {new_level!r}")
    with store.begin() as conn:
        conn.execute(
            warning_table.update()
            .where(warning_table.c.id == warning_id)
            .values(
                state=to_state,
                level=new_level,
                doc_no=doc_no if doc_no is not None else w["doc_no"],
                decided_by=by,
                decided_at=now,
                note=note,
                pending_lower=0,
                updated_at=now,
            )
        )
        conn.execute(
            warning_event.insert().values(
                warning_id=warning_id,
                at=now,
                by=by,
                from_state=w["state"],
                to_state=to_state,
                level=new_level,
                note=note,
            )
        )
    list_id = None
    try:
        if to_state in ("issued", "changed") and new_level in em.LEVELS:
            list_id = em.activate(store, warning_id, by=by, now=now)
        elif to_state == "lifted":
            em.end_lists(store, warning_id, now=now)
    except Exception as exc:
        # an issued warning without its emergency list would be worse than no decision: undo it (the audit trail,
        # append-only, records the undo) and say why
        why = (
            f"warning {warning_id}: the emergency list could not be {'ended' if to_state == 'lifted' else 'built'} "
            f"({exc.__class__.__name__}: {exc}); the decision {to_state} was undone"
        )
        keep = ("state", "level", "doc_no", "decided_by", "decided_at", "note", "pending_lower", "updated_at")
        with store.begin() as conn:
            conn.execute(warning_table.update().where(warning_table.c.id == warning_id).values({k: w[k] for k in keep}))
            conn.execute(
                warning_event.insert().values(
                    warning_id=warning_id,
                    at=now_utc(),
                    by="system",
                    from_state=to_state,
                    to_state=w["state"],
                    level=w["level"],
                    note=why,
                )
            )
        raise ValueError(why) from exc
    with store.begin() as conn:
        w2 = dict(conn.execute(select(warning_table).where(warning_table.c.id == warning_id)).mappings().one())
        if list_id is not None:
            from bogda.store.schema import emergency_list

            totals = conn.execute(select(emergency_list.c.totals).where(emergency_list.c.id == list_id)).scalar()
            w2["evidence"] = (w2["evidence"] or {}) | {"emergency_list": {"id": list_id, "totals": totals}}
            conn.execute(warning_table.update().where(warning_table.c.id == warning_id).values(evidence=w2["evidence"]))
        place_id = conn.execute(select(place.c.id).where(place.c.code == w2["area_code"])).scalar()
        if to_state in ("lifted", "rejected"):
            if w2["finding_id"]:
                conn.execute(
                    finding.update()
                    .where(finding.c.id == w2["finding_id"])
                    .values(
                        title=_warning_title(conn, w2["area_code"], w2["level"], to_state),
                        evidence=(w2["evidence"] or {}) | {"state": to_state},
                    )
                )
                _close_finding(conn, w2["finding_id"], by, f"warning {to_state}", now)
        else:
            fid = _raise_warning_finding(conn, w2, place_id, now)
            conn.execute(warning_table.update().where(warning_table.c.id == warning_id).values(finding_id=fid))
    return w2 | {"list_id": list_id}


def warnings(store: Store, *, states: Sequence[str] | None = None, limit: int = 100) -> list[dict[str, Any]]:
    q = select(warning_table).order_by(warning_table.c.id.desc()).limit(limit)
    if states:
        q = q.where(warning_table.c.state.in_(list(states)))
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def warning_events(store: Store, warning_id: int) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(warning_event).where(warning_event.c.warning_id == warning_id).order_by(warning_event.c.id)
            ).mappings()
        ]


# --------------------------------------------------------------------------------------------------------------
# Advisories from NWP
# --------------------------------------------------------------------------------------------------------------


def nwp_frame(store: Store, locations: Sequence[str], start: datetime, end: datetime) -> pl.DataFrame:
    """The newest run's value per (location, variable, valid_start) from ``nwp_value`` in [start, end)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                nwp_value.c.location_id,
                nwp_value.c.variable,
                nwp_value.c.valid_start,
                nwp_value.c.value,
                nwp_value.c.run_time,
            ).where(
                and_(
                    nwp_value.c.location_id.in_(list(locations)),
                    nwp_value.c.valid_start >= start,
                    nwp_value.c.valid_start < end,
                )
            )
        ).all()
    schema = {
        "location_id": pl.Utf8,
        "variable": pl.Utf8,
        "valid_start": pl.Datetime("us", "UTC"),
        "value": pl.Float64,
        "run_time": pl.Datetime("us", "UTC"),
    }
    f = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    if f.height == 0:
        return f
    return f.sort("run_time").group_by("location_id", "variable", "valid_start").agg(pl.col("value").last())


def evaluate_advisories(
    store: Store, reg: Registry, issue: datetime, *, run_id: int | None = None, days_ahead: int = 3
) -> list[adv.Advisory]:
    """Advisories D+0..D+3 for every area (and station with NWP) from the NWP values; each is an ``advisory``
    record and an ``advisory`` finding carrying the advised measures and the enterprises of the listed sectors."""
    today = beijing_date(issue)
    days = [today + timedelta(days=k) for k in range(days_ahead + 1)]
    locations = [t.code for t in reg.targets]
    frame = nwp_frame(
        store, locations, day_start_utc(today - timedelta(days=2)), day_start_utc(days[-1] + timedelta(days=1))
    )
    if frame.height == 0:
        return []
    per_area, fallback = advisory_thresholds.thresholds_in_force(store)
    daily = adv.daily_weather(frame).filter(pl.col("location_id").is_in(list(reg.place_of)))  # issued per area
    found = []
    for (loc,), g in daily.group_by(["location_id"], maintain_order=True):
        th, version = per_area.get(str(loc), fallback)
        found += [
            replace(a, conditions=a.conditions | {"thresholds_version": version})
            for a in adv.evaluate(g, days=days, thresholds=th)
        ]
    now = now_utc()
    for a in found:
        measures = adv.measures_for(a.kind)
        sectors = {m.target for m in measures if m.target not in ("*", "public")}
        ents = [
            {"id": e["id"], "code": e["code"], "name": e["name"], "sector": e["sector"]}
            for e in em.enterprises_of_area(store, a.location)
            if e["sector"] in sectors
        ]
        mjson = [m.__dict__ for m in measures]
        area_name = reg.area_names.get(a.location, a.location)
        with store.begin() as conn:
            existing = conn.execute(
                select(advisory_table.c.id, advisory_table.c.finding_id).where(
                    advisory_table.c.area_code == a.location,
                    advisory_table.c.kind == a.kind,
                    advisory_table.c.date == a.day,
                )
            ).first()
            out = raise_finding(
                conn,
                FindingDraft(
                    kind="advisory",
                    severity="medium",
                    title=f"{area_name} {a.day:%m-%d} {adv.KIND_ZH[a.kind]}不利气象条件提示",
                    dedupe_key=f"advisory:{a.location}:{a.kind}:{a.day}",
                    detected_at=now,
                    place_id=reg.place_of.get(a.location),
                    evidence={
                        "kind": a.kind,
                        "date": str(a.day),
                        "conditions": a.conditions,
                        "measures": mjson,
                        "enterprises": ents,
                        "run_id": run_id,
                    },
                ),
                now=now,
            )
            vals = {"conditions": a.conditions, "run_id": run_id, "measures": mjson, "finding_id": out.finding_id}
            if existing is None:
                conn.execute(
                    advisory_table.insert().values(
                        area_code=a.location, kind=a.kind, date=a.day, created_at=now, **vals
                    )
                )
            else:
                conn.execute(advisory_table.update().where(advisory_table.c.id == existing.id).values(**vals))
    return found


# --------------------------------------------------------------------------------------------------------------
# Reading runs back (API, console)
# --------------------------------------------------------------------------------------------------------------


def latest_run(store: Store) -> dict[str, Any] | None:
    """The newest operational run that wrote a forecast (``ok`` or ``degraded``; a ``failed`` run wrote none, and
    the last forecast stays the one shown, forecast.md §6)."""
    with store.engine.connect() as conn:
        r = (
            conn.execute(
                select(forecast_run)
                .where(forecast_run.c.kind == "operational", forecast_run.c.status != "failed")
                .order_by(forecast_run.c.id.desc())
            )
            .mappings()
            .first()
        )
    return dict(r) if r else None


def failed_since(store: Store, run_id: int | None) -> dict[str, Any] | None:
    """The newest ``failed`` operational run after run ``run_id`` (None: after any), or None."""
    q = select(forecast_run).where(forecast_run.c.kind == "operational", forecast_run.c.status == "failed")
    if run_id is not None:
        q = q.where(forecast_run.c.id > run_id)
    with store.engine.connect() as conn:
        r = conn.execute(q.order_by(forecast_run.c.id.desc())).mappings().first()
    return dict(r) if r else None


def record_failed_run(store: Store, now: datetime, exc: BaseException) -> int:
    """Write a ``failed`` run for a refresh that raised (forecast.md §6: "A failed refresh leaves the last forecast
    visible, marked stale with its age"): the console shows the failure beside the last forecast."""
    with store.begin() as conn:
        return int(
            conn.execute(
                forecast_run.insert()
                .values(
                    issue_time=floor_to(now, "hour"),
                    kind="operational",
                    profile="",
                    status="failed",
                    reasons=[f"refresh failed: {exc.__class__.__name__}: {exc}"],
                    created_at=now_utc(),
                )
                .returning(forecast_run.c.id)
            ).scalar_one()
        )


def run_values(
    store: Store,
    run_id: int,
    *,
    targets: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
    resolution: str | None = None,
    methods: Sequence[str] | None = None,
) -> pl.DataFrame:
    q = select(forecast).where(forecast.c.run_id == run_id)
    if targets:
        q = q.where(forecast.c.target_code.in_(list(targets)))
    if items:
        q = q.where(forecast.c.item.in_(list(items)))
    if resolution:
        q = q.where(forecast.c.resolution == resolution)
    if methods:
        q = q.where(forecast.c.method.in_(list(methods)))
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q.order_by(forecast.c.target_code, forecast.c.valid_start)).mappings()]
    if not rows:
        return pl.DataFrame()
    return pl.DataFrame(rows, infer_schema_length=None)


# --------------------------------------------------------------------------------------------------------------
# Verification scores
# --------------------------------------------------------------------------------------------------------------

SCORE_META = ("station", "target", "horizon", "method", "protocol", "weather_mode", "n")


def store_scores(store: Store, scores: pl.DataFrame, *, period: str = "", config: str = "") -> int:
    """Write a backtest score table (one row per station, horizon, method) as ``backtest_score`` rows, one per
    metric; an earlier table with the same configuration hash is replaced. Returns the rows written."""
    import hashlib

    from sqlalchemy import delete

    from bogda.store.schema import backtest_score

    if scores.height == 0:
        return 0
    config_hash = hashlib.sha256((config or "default").encode()).hexdigest()[:16]
    metrics = [c for c in scores.columns if c not in SCORE_META and scores[c].dtype.is_numeric()]
    now = now_utc()
    recs = []
    for r in scores.iter_rows(named=True):
        for m in metrics:
            v = r[m]
            recs.append(
                {
                    "config_hash": config_hash,
                    "protocol": r.get("protocol") or "",
                    "target_code": r["station"],
                    "item": r.get("target") or "",
                    "horizon": r["horizon"],
                    "method": r["method"],
                    "weather_mode": r.get("weather_mode") or "none",
                    "metric": m,
                    "value": None if v is None or not np.isfinite(v) else float(v),
                    "n": r.get("n"),
                    "period": period,
                    "created_at": now,
                    "config": config,
                }
            )
    with store.begin() as conn:
        conn.execute(delete(backtest_score).where(backtest_score.c.config_hash == config_hash))
        for i in range(0, len(recs), 5000):
            conn.execute(backtest_score.insert(), recs[i : i + 5000])
    return len(recs)


CHECK_ITEMS = ("warning", "advisory")
CHECK_METRICS = ("POD", "FAR", "TS", "ETS", "lead_h_median", "day_POD", "day_FAR")
"""Figures of the warning and advisory checks kept in ``backtest_score`` (item ``warning`` / ``advisory``)."""


def store_checks(
    store: Store, rows: Sequence[dict[str, Any]], *, item: str, protocol: str, period: str, config: str
) -> int:
    """Write warning or advisory check rows (forecast.md §3.8, §3.9) as ``backtest_score`` rows, one per figure;
    an earlier check with the same item, protocol, period and configuration is replaced.

    Each row: ``category`` (a warning category or an advisory kind), ``method`` (``issued``, ``proposed``,
    ``simulated``; ``default`` or ``tuned`` thresholds), ``weather``, ``n`` (episodes or scored days), optional
    ``area``, and the figures of :data:`CHECK_METRICS` (lower-case keys as the checks return them).
    """
    if item not in CHECK_ITEMS:
        raise ValueError(f"item must be one of {CHECK_ITEMS}, not {item!r}")
    keys = {"POD": "pod", "FAR": "far", "TS": "ts", "ETS": "ets", "lead_h_median": "lead_h_median"}
    keys |= {"day_POD": "day_pod", "day_FAR": "day_far"}
    frame = pl.DataFrame(
        [
            {
                "station": r.get("area") or "all",
                "target": item,
                "horizon": r["category"],
                "method": r["method"],
                "protocol": protocol,
                "weather_mode": r["weather"],
                "n": int(r["n"]),
            }
            | {m: (None if r.get(k) is None else float(r[k])) for m, k in keys.items()}
            for r in rows
        ],
        schema_overrides={m: pl.Float64 for m in CHECK_METRICS},
    )
    return store_scores(store, frame, period=period, config=f"{item} {protocol} {period} {config}")


def check_scores(store: Store) -> pl.DataFrame:
    """Stored warning and advisory checks, wide: one row per (item, protocol, period, setting, category, method,
    weather). ``setting`` is the configuration the check ran with (``rule 2024``, ``rule 2024, merge gap 0 h``; empty
    for the advisory checks), so that checks of one period under different settings stay apart rather than the
    first one standing for both."""
    from bogda.store.schema import backtest_score as b

    with store.engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(
                    b.c.item,
                    b.c.protocol,
                    b.c.period,
                    b.c.config,
                    b.c.horizon,
                    b.c.method,
                    b.c.weather_mode,
                    b.c.n,
                    b.c.metric,
                    b.c.value,
                ).where(b.c.item.in_(CHECK_ITEMS))
            ).mappings()
        ]
    for r in rows:  # store_checks writes "<item> <protocol> <period> <setting>"
        r["setting"] = (r.pop("config") or "").removeprefix(f"{r['item']} {r['protocol']} {r['period']}").strip()
    return _wide(rows, ["item", "protocol", "period", "setting", "horizon", "method", "weather_mode", "n"])


SCORE_METRICS: tuple[str, ...] = (
    "RMSE",
    "MAE",
    "SS_clim",
    "SS_damped",
    "RMSE_lo",
    "RMSE_hi",
    "SS_damped_lo",
    "SS_damped_hi",
)
"""The figures of the verification view by default, with the 90 % intervals of RMSE and of the skill against damped
persistence (:mod:`bogda.forecast.confidence`; the AQI check's figures are ``aqi_check.AQI_METRICS``)."""


def scores(
    store: Store,
    *,
    protocol: str | None = None,
    target: str | None = None,
    item: str | None = None,
    metrics: Sequence[str] = SCORE_METRICS,
) -> pl.DataFrame:
    """Stored verification scores, wide: one row per (protocol, target, item, horizon, method, weather mode);
    ``item`` keeps one forecast item (e.g. ``daily_AQI``, ``daily_mean_PM2.5``)."""
    from bogda.store.schema import backtest_score

    q = select(backtest_score).where(backtest_score.c.metric.in_(list(metrics)))
    if protocol:
        q = q.where(backtest_score.c.protocol == protocol)
    if target:
        q = q.where(backtest_score.c.target_code == target)
    if item:
        q = q.where(backtest_score.c.item == item)
    with store.engine.connect() as conn:
        # a table of several items stores every column for every row; a metric an item has not (the AQI's RMSE
        # beside the items') is null for it, and a row with none of ``metrics`` is not a row of this view
        rows = [dict(r) for r in conn.execute(q).mappings()]
    wide = _wide(rows, ["protocol", "target_code", "item", "horizon", "method", "weather_mode", "n"])
    present = [m for m in metrics if m in wide.columns]
    return wide.filter(pl.any_horizontal(pl.col(present).is_not_null())) if present else wide


def _wide(rows: list[dict[str, Any]], keys: list[str]) -> pl.DataFrame:
    """``backtest_score`` rows (one per figure) as one row per ``keys`` with a column per metric."""
    if not rows:
        return pl.DataFrame()
    return (
        pl.DataFrame(rows, infer_schema_length=None)
        .pivot(on="metric", index=keys, values="value", aggregate_function="first")
        .sort(keys)
    )


# --------------------------------------------------------------------------------------------------------------
# Training and jobs
# --------------------------------------------------------------------------------------------------------------


TRAIN_ITEMS: tuple[str, ...] = tuple(dict.fromkeys((*op.HOURLY_ITEMS, *op.DAILY_ITEMS)))
"""Items the nightly training fits models for: every item the refresh forecasts (forecast.md §3.1, §3.4: a model set
per pollutant), so that a run is ``degraded`` only when an item could not be trained (too short a history), never by
configuration. SO2 and CO included: they set the AQI where coal is burnt (heating season, Zhundong)."""


def train(store: Store, now: datetime | None = None, **options: Any) -> int | None:
    """Nightly training (forecast.md §3.4): the last ``years`` of hourly data, no-NWP model sets (and NWP sets when
    runs are archived); a failure or a too-short history keeps the previous bundle. The new bundle replaces the one
    in service only through the deployment gate (:mod:`bogda.forecast.gate`; ``gated=False`` skips it); the replaced
    bundle is kept under ``archive/``, a rejected one under ``rejected/``, each verdict appended to ``gate.jsonl``
    beside the bundle. Each set trains with the round counts of the quarterly tuning run (:func:`tune`, stored beside
    the bundle) when they are at most ``op.ROUNDS_MAX_AGE_DAYS`` old, else with the profile's fixed rounds; the log
    says which (:func:`rounds_for_training`). Returns the number of items put in service (0 when the gate rejected
    the new bundle). ``options``: those of :func:`train_gated` (``items``, ``path``, ``years``, ``gated``,
    ``profile``)."""
    return train_gated(store, now, **options)[0]


def train_gated(
    store: Store,
    now: datetime | None = None,
    *,
    items: Sequence[str] = TRAIN_ITEMS,
    path: Path | None = None,
    years: int = 3,
    gated: bool = True,
    fit_with: Any = None,
    skipped: list[str] | None = None,
    profile: op.Profile = op.FAST,
    heating: tuple[tuple[int, int], tuple[int, int]] | str | None = "auto",
) -> tuple[int, gate.Verdict | None]:
    """:func:`train` returning the gate's verdict too (None when nothing was trained). ``fit_with`` replaces
    :func:`bogda.forecast.operational.train_operational` (tests; it is passed ``rounds=`` only when tuned counts are
    used). ``skipped``, when given, receives why each item that was not trained was left out (e.g. ``a21026: at most
    200 valid days (< 365)``) and, when a bundle was trained, one line starting ``rounds:`` saying whether its sets
    trained with tuned round counts or the profile's fixed ones and why (forecast.md §3.4), and one line starting
    ``baselines:`` saying whether the baselines' training climatologies were refitted (§3.3), for the command line.
    ``profile``: the training profile (the tuned counts must be for it). ``heating``: the heating season of the
    ``tgt_heating`` feature (forecast.md §2), ``"auto"`` the installation's ``[forecast] heating_season``
    (:func:`heating_setting`), None none; the bundle records it (``fit_with`` is passed ``heating=`` only when
    there is one)."""
    now = now or now_utc()
    reg = registry(store)
    # stations with < 365 days take their county's (else the prefecture's) climatology (forecast.md §3.2)
    fit = fit_with or partial(op.train_operational, areas_of=areas_of(reg), profile=profile)
    panel = _training_panel(store, reg, now, years)
    target = path or models_path()
    tables = refit_baselines(panel, reg, now, baselines_path(target))
    if skipped is not None:  # said first: with < 365 days it is all the training did
        skipped.append(
            f"baselines: training climatologies of {tables.first_day}..{tables.last_day} fitted"
            if tables is not None
            else "baselines: not refitted (see the log), the previous ones stay in use"
        )
    nwp = _training_extras(store, panel, now)
    # the quarterly tuning run's counts; a missing, bad or outdated file never stops the training (fixed rounds)
    tuned, rounds_note = rounds_for_training(rounds_path(target), now=now, profile=profile)
    extra: dict[str, Any] = {"rounds": tuned.sets} if tuned is not None else {}
    from bogda.forecast.calendar import format_heating_season

    if isinstance(heating, str) and heating != "auto":
        raise ValueError(f"heating {heating!r}: a season ((m0, d0), (m1, d1)), None or 'auto'")
    season = heating_setting() if isinstance(heating, str) else heating
    if season is not None:  # the gate's probe below trains with it too: the same features as the candidate
        extra["heating"] = season
    log.info(
        "forecast training: heating-season feature %s",
        "not used" if season is None else format_heating_season(season),
    )
    models, reasons = fit(panel, items, now=now, nwp=nwp, **extra)
    observed = tuple(getattr(models, "weather_vars", ()) or ())
    if models is not None:
        log.info("forecast training: observed station weather %s", ", ".join(observed) or "none")
    if observed:  # the gate's probe learns from the same columns as the candidate, whatever its shorter window holds
        extra["weather_vars"] = observed
    if models is not None and tuned is not None:
        n_tuned, n_sets = rounds_in_use(models)
        rounds_note += f"; {n_tuned} of {n_sets} sets on tuned rounds, the others on the profile's"
    log.info("forecast training %s", rounds_note)
    if skipped is not None:
        skipped.extend(reasons)
        if models is not None:  # which rounds the new sets trained with (nothing to say when none was trained)
            skipped.append(rounds_note)
            skipped.append(
                f"weather: observed station weather {', '.join(observed)} as inputs"
                if observed
                else "weather: no station stores enough weather; the models read the pollutants only"
            )
    if reasons:
        log.warning("forecast items not trained: %s", "; ".join(reasons))
    if models is None:
        log.warning("forecast training skipped: %s", "; ".join(reasons))
        return 0, None
    try:
        current = load_models(target)
    except Exception as exc:  # an unreadable bundle in service is replaced, and said so
        log.warning("model bundle in service unreadable (%s): replaced without the gate", exc.__class__.__name__)
        current = None
    verdict = None
    if gated:
        probe = None
        if current is not None:
            end = panel.n_days - 2 - gate.WINDOW_DAYS
            probe, _ = fit(panel, items, now=now, nwp=nwp, train_end=end, **extra)
        verdict = gate.evaluate(store, panel, models, probe, current, nwp=nwp)
        gate.log_verdict(verdict, target.parent / "gate.jsonl")
        if not verdict.accept:
            save_models(models, target.parent / "rejected" / f"models-{models.version}.pkl")
            log.warning("forecast bundle %s not put in service: %s", models.version, verdict.reason)
            return 0, verdict
    if current is not None:
        save_models(current, target.parent / "archive" / f"models-{current.version or 'unversioned'}.pkl")
    save_models(models, target)
    return len(models.items), verdict


def heating_setting() -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The installation's heating season (``[forecast] heating_season``, :class:`bogda.config.ForecastSettings`) as
    ``((m0, d0), (m1, d1))``; None when none is configured (forecast.md §2: no default)."""
    from bogda.config import get_settings

    return get_settings().forecast.heating()


def _log_heating(bundle: op.OperationalModels | None) -> None:
    """Say when the bundle in service was trained with another heating season than the one configured now: the
    refresh keeps the bundle's (its sets need the features they were trained on) until the next training."""
    if bundle is None:
        return
    try:
        configured = heating_setting()
    except Exception:  # a log line never fails a refresh
        return
    trained = getattr(bundle, "heating", None)
    if configured != trained:
        from bogda.forecast.calendar import format_heating_season as text

        log.info(
            "forecast features: bundle %s trained with heating season %s, configured %s; the bundle's is used until "
            "the next training",
            bundle.version or "unversioned",
            "none" if trained is None else text(trained),
            "none" if configured is None else text(configured),
        )


def refresh_job(store: Store, now: datetime) -> int:
    """Scheduler entry: one refresh with the installation's warning settings (``[forecast.warning]``, rule set,
    mode, probability mode, merge gap, confirmation runs); returns the number of values written.

    A refresh that raises is recorded as a ``failed`` run (the job log keeps the traceback), and the last forecast
    stays visible, marked stale with its age (forecast.md §6)."""
    try:
        return refresh(store, now).n_values
    except Exception as exc:
        try:
            record_failed_run(store, now, exc)
        except Exception:  # the store itself is down: the job log still records the refresh's own error
            log.exception("could not record the failed forecast refresh")
        raise


# --------------------------------------------------------------------------------------------------------------
# Training inputs and the round counts of the quarterly tuning run (forecast.md §3.4)
# --------------------------------------------------------------------------------------------------------------

ROUNDS_FILE = "rounds.json"
"""Name of the tuned round counts beside the model bundle (:func:`rounds_path`)."""

TUNE_EVERY_DAYS = 90
"""Interval of the ``forecast.tune`` job [d] (forecast.md §3.4: quarterly)."""

TUNE_KEEP_DAYS = 30
"""The scheduled tuning leaves counts younger than this [d] in place (tuned by hand, or by the job before a restart
whose job log was lost) (d): 30 + 90 ≤ ``op.ROUNDS_MAX_AGE_DAYS`` (120), so that the counts stay usable from one
scheduled run to the next."""


def _training_panel(store: Store, reg: Registry, now: datetime, years: int) -> Panel:
    """The last ``years`` (+ 8 days) of hourly observations of every target, as the training reads them."""
    unit_errors: list[str] = []
    panel = load_panel(store, reg, floor_to(now, "hour"), days=years * 365 + 8, notes=unit_errors)
    if unit_errors:
        log.warning("forecast training inputs: %s", "; ".join(unit_errors))
    return panel


def _training_extras(store: Store, panel: Panel, now: datetime) -> Any:
    """Attach the emission-control columns to ``panel`` when the training window has ≥ 20 response days
    (forecast.md §2) and return the archive of issued NWP runs (None without any): with one, the mode-``nwp`` sets
    are trained beside the no-NWP ones."""
    used, n_resp = ctl.attach_for_training(store, panel)
    log.info("emission-control features %s: %d response days", "used" if used else "not used", n_resp)
    return nwp_archive_for(store, panel, panel.start_utc - timedelta(days=1), now)


def rounds_path(models_file: Path | None = None) -> Path:
    """The tuned round counts beside the model bundle ``models_file`` (default :func:`models_path`)."""
    return (models_file or models_path()).parent / ROUNDS_FILE


def save_rounds(tuned: op.TunedRounds, path: Path) -> None:
    """Write the counts as JSON, atomically (a crash mid-write keeps the previous file)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(tuned.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_rounds(path: Path) -> op.TunedRounds | None:
    """The stored counts, None when there is no file; a ValueError names the file (and the field) that is wrong."""
    import json

    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable as JSON ({exc})") from exc
    return op.TunedRounds.from_json(data, str(path))


def rounds_for_training(
    path: Path, *, now: datetime, profile: op.Profile = op.FAST
) -> tuple[op.TunedRounds | None, str]:
    """The tuned counts a training at ``now`` uses (forecast.md §3.4), or None, and a line saying which rounds it
    trains with and why. A missing, unreadable, invalid or outdated file (``op.rounds_problem``) gives the profile's
    fixed rounds and never an error: the nightly training must not stop for it. Problems are logged as warnings."""
    fixed = f"rounds: the profile's fixed rounds ({profile.rounds_mean} mean / {profile.rounds_quantile} quantile)"
    try:
        tuned = read_rounds(path)
    except Exception as exc:  # whatever is wrong with the file, the training goes on with the fixed rounds
        log.warning("tuned round counts not used: %s", exc)
        return None, f"{fixed}; tuned counts unreadable: {exc}"
    if tuned is None:
        return None, f"{fixed}; no tuned counts yet ({path} is written by `bogda forecast tune` or forecast.tune)"
    problem = op.rounds_problem(tuned, now=now, profile=profile)
    if problem is not None:
        log.warning("tuned round counts %s not used: %s", path, problem)
        return None, f"{fixed}; tuned counts not used: {problem}"
    w = tuned.window
    return tuned, (
        f"rounds: tuned {tuned.tuned_at:%Y-%m-%d} on {w.get('first', '?')}..{w.get('last', '?')} "
        f"(tail from {w.get('valid_from', '?')})"
    )


def rounds_in_use(models: op.OperationalModels) -> tuple[int, int]:
    """(sets trained with tuned rounds, all sets) of a bundle (their ``inputs["rounds_source"]``)."""
    sets = [
        ms
        for m in models.items.values()
        for group in (m.hourly, m.daily, m.hourly_nwp, m.daily_nwp)
        for ms in group.values()
    ]
    return sum(ms.inputs.get("rounds_source") == "tuned" for ms in sets), len(sets)


def tune(
    store: Store,
    now: datetime | None = None,
    *,
    items: Sequence[str] = TRAIN_ITEMS,
    path: Path | None = None,
    years: int = 3,
    profile: op.Profile = op.FAST,
    force: bool = False,
    tune_with: Any = None,
    notes: list[str] | None = None,
) -> int:
    """The quarterly tuning run (forecast.md §3.4; job ``forecast.tune``, ``bogda forecast tune``): round counts per
    model set and booster kind by time-ordered early stopping on the last 6 months of the training window
    (:func:`bogda.forecast.operational.tune_operational`), written beside the model bundle ``path``
    (:func:`rounds_path`) for the nightly :func:`train`. Returns the number of sets tuned; 0 when nothing was.

    Nothing is tuned, quickly, when no item has 365 valid days before the 6-month tail (a young installation, the
    demo's days of data: the job returns after reading the observations, before any feature is built), or, unless
    ``force``, when the stored counts for ``profile`` are younger than :data:`TUNE_KEEP_DAYS`. ``tune_with`` replaces
    ``tune_operational`` (tests; the quick check is then left to it). ``notes``, when given, receives why items or
    sets were not tuned, or why nothing was, for the command line.

    It takes about one nightly training (each booster at most the profile's rounds, no refit, stopped early); the
    scheduler runs it after ``forecast.refresh`` and ``forecast.train`` at start-up and in a thread of its own, so
    that it never holds up a refresh."""
    now = now or now_utc()
    target = rounds_path(path)

    def note(text: str) -> None:
        log.info("forecast tuning: %s", text)
        if notes is not None:
            notes.append(text)

    if not force:
        try:
            current = read_rounds(target)
        except Exception:  # unreadable counts are replaced
            current = None
        age = None if current is None else (now - current.tuned_at).total_seconds() / 86400
        if current is not None and age is not None and current.profile == profile.name and 0 <= age < TUNE_KEEP_DAYS:
            note(f"counts of {current.tuned_at:%Y-%m-%d} are {age:.0f} days old (< {TUNE_KEEP_DAYS}): kept")
            return 0
    reg = registry(store)
    panel = _training_panel(store, reg, now, years)
    if tune_with is None:
        short = op.tuning_shortfall(panel, items)
        if len(short) == len(items):
            note(f"not enough data, nothing tuned ({short[0]}{'; …' if len(short) > 1 else ''})")
            return 0
    nwp = _training_extras(store, panel, now)
    fit = tune_with or partial(op.tune_operational, areas_of=areas_of(reg), profile=profile)
    season = heating_setting()
    extra = {"heating": season} if season is not None else {}  # tuned with the features the training will have
    t0 = time.perf_counter()
    tuned, reasons = fit(panel, items, now=now, nwp=nwp, **extra)
    for r in reasons:
        note(f"not tuned: {r}")
    if tuned is None:
        note("nothing tuned: no set had enough rows before and in the 6-month tail")
        return 0
    save_rounds(tuned, target)
    note(f"{len(tuned.sets)} sets tuned in {time.perf_counter() - t0:.0f} s, written to {target}")
    return len(tuned.sets)


__all__ = [
    "RefreshResult",
    "Registry",
    "apply_proposal",
    "check_scores",
    "decide_warning",
    "enterprise",
    "evaluate_advisories",
    "failed_since",
    "latest_run",
    "load_models",
    "record_failed_run",
    "refresh",
    "registry",
    "rounds_for_training",
    "rounds_path",
    "run_values",
    "store_checks",
    "train",
    "train_gated",
    "tune",
    "warnings",
]
