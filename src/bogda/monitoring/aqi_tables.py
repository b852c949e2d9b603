"""Hourly and daily AQI per station and area (monitoring.md §3.3), pure core plus the ``update_aqi`` service.

Pure part (frames in, frames out):

* :func:`station_hourly` — real-time AQI (HJ 633 real-time rules: six 1 h values, PM on the 24 h breakpoints)
  of each station-hour from its valid values;
* :func:`area_hourly` — area hourly concentration = mean of the valid member values per pollutant, valid when at
  least ``min_share`` (50 % (d), at least one) of the members are valid; never an average of AQIs;
* :func:`daily` — daily AQI (HJ 633 daily rules: 24 h means with ≥ 20 h, O3 daily max 8 h from ≥ 14 windows of
  ≥ 6 h, 2012 also O3 daily max 1 h) of stations or areas from an hourly long frame.

The standard version follows each interval's Beijing date (:func:`bogda.standards.aqi.standard_for`) unless one is
requested. Status of a row: ``complete`` (no item missing), ``publishable`` (2026 5.3.1: items missing but
AQI > 100), ``partial`` (items missing; the AQI of the others is kept, ``missing_items`` lists the rest),
``no_data`` and ``no_station`` (an area without an evaluation station — never zero).

Service part: :func:`update_aqi` recomputes the dirty station-days (or any window) and their areas idempotently,
replacing the rows of the window (``inputs_hash`` records what they were computed from).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Table, bindparam, delete, select

from bogda.standards.aqi import DAILY_ITEMS, HOURLY_ITEMS, aqi_daily, aqi_hourly, is_2026
from bogda.standards.evaluation import HourlyCube, daily_arrays, hourly_cube
from bogda.standards.rounding import round_half_even
from bogda.store import Store
from bogda.timeutil import day_start_utc, epoch_seconds, now_utc

ITEM_COLUMNS: dict[str, str] = {
    "SO2": "so2",
    "NO2": "no2",
    "CO": "co",
    "O3_1h": "o3",
    "O3_8h": "o3_8h",
    "PM10": "pm10",
    "PM2.5": "pm25",
}
"""AQI item label → column suffix of ``aqi_hourly`` / ``aqi_daily`` (``iaqi_<suffix>``, ``c_<suffix>``)."""

HOURLY_INPUT = {"a21026": "so2", "a21004": "no2", "a21005": "co", "a05024": "o3", "a34002": "pm10", "a34004": "pm25"}
DAILY_INPUT = {
    "a21026": "so2",
    "a21004": "no2",
    "a21005": "co",
    "O3_1h": "o3",
    "O3_8h": "o3_8h",
    "a34002": "pm10",
    "a34004": "pm25",
}
SUFFIXES = ("so2", "no2", "co", "o3", "o3_8h", "pm10", "pm25")
ROW_COLUMNS = (
    "target_kind",
    "target_code",
    "ts",
    "standard",
    "aqi",
    "level",
    "primary_pollutant",
    *[f"iaqi_{s}" for s in SUFFIXES],
    *[f"c_{s}" for s in SUFFIXES],
    "missing_items",
    "n_members",
    "status",
    "aqi_published",
    "published_match",
    "inputs_hash",
)
"""Columns of the AQI tables, in order."""

MIN_SHARE = 0.5
"""An area hour of a pollutant is valid when at least this share of its members (and at least one) is valid (d)."""

TS_DTYPE = pl.Datetime("us", "UTC")


def _wide(long: pl.DataFrame, index: Sequence[str], mapping: Mapping[str, str]) -> pl.DataFrame:
    part = long.filter(pl.col("parameter").is_in(list(mapping)))
    if part.height == 0:
        wide = part.select(*index).unique()
    else:
        wide = part.pivot(on="parameter", index=list(index), values="value", aggregate_function="first")
    for code in mapping:
        if code not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(code))
    return wide


def _standard_column(ts: pl.Series, standard: str | None) -> np.ndarray:
    if standard is not None:
        return np.full(ts.len(), standard, dtype=object)
    return np.where(is_2026(ts), "2026", "2012").astype(object)


def _finish(
    wide: pl.DataFrame,
    res: pl.DataFrame,
    items_by_std: Mapping[str, Sequence[str]],
    standards: np.ndarray,
    mapping: Mapping[str, str],
) -> pl.DataFrame:
    """Rows in the table layout from the wide input and the AQI result frame."""
    cols: dict[str, pl.Series | pl.Expr] = {}
    out = wide.select("target_kind", "target_code", "ts", *([c for c in ("n_members",) if c in wide.columns]))
    if "n_members" not in out.columns:
        out = out.with_columns(pl.lit(1, pl.Int64).alias("n_members"))
    out = out.with_columns(pl.Series("standard", standards, dtype=pl.String))
    for code, suffix in mapping.items():
        cols[f"c_{suffix}"] = wide[code].cast(pl.Float64)
    for label, suffix in ITEM_COLUMNS.items():
        name = f"iaqi_{label}"
        cols[f"iaqi_{suffix}"] = (
            res[name].cast(pl.Int64) if name in res.columns else pl.Series([None] * wide.height, dtype=pl.Int64)
        )
    out = out.with_columns(
        res["aqi"].cast(pl.Int64).alias("aqi"),
        res["level"].cast(pl.Int64).alias("level"),
        res["primary_pollutant"].alias("primary_pollutant"),
        *[s.alias(k) for k, s in cols.items()],
    )
    for s in SUFFIXES:
        if f"c_{s}" not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(f"c_{s}"))
    # missing items: the version's items without an IAQI
    missing_parts = []
    for std in ("2012", "2026"):
        labels = [lab for lab in items_by_std[std] if lab in ITEM_COLUMNS]
        expr = pl.concat_str(
            [pl.when(pl.col(f"iaqi_{ITEM_COLUMNS[lab]}").is_null()).then(pl.lit(lab)) for lab in labels],
            separator=",",
            ignore_nulls=True,
        )
        missing_parts.append((std, expr))
    missing = pl.when(pl.col("standard") == "2026").then(missing_parts[1][1]).otherwise(missing_parts[0][1])
    out = out.with_columns(pl.when(missing == "").then(None).otherwise(missing).alias("missing_items"))
    status = (
        pl.when(pl.col("aqi").is_null())
        .then(pl.lit("no_data"))
        .when(pl.col("missing_items").is_null())
        .then(pl.lit("complete"))
        .when((pl.col("standard") == "2026") & (pl.col("aqi") > 100))
        .then(pl.lit("publishable"))
        .otherwise(pl.lit("partial"))
    )
    out = out.with_columns(status.alias("status"))
    return out


def _hash(frame: pl.DataFrame) -> pl.Series:
    h = frame.select(pl.struct([f"c_{s}" for s in SUFFIXES]).hash(seed=1)).to_series()
    return h.map_elements(lambda v: f"{v:016x}", return_dtype=pl.String).alias("inputs_hash")


def station_hourly(
    valid: pl.DataFrame,
    *,
    standard: str | None = None,
    published: pl.DataFrame | None = None,
    target_kind: str = "station",
) -> pl.DataFrame:
    """Real-time AQI of each station-hour (HJ 633-2012 6.x / HJ 633-2026 4.2.4; monitoring.md §3.3).

    Parameters
    ----------
    valid : pl.DataFrame
        Long hourly frame of **valid** values only: ``target_code, ts, parameter, value`` [µg/m³, CO mg/m³]
        (optionally ``target_kind``, ``n_members``).
    standard : {"2012", "2026"}, optional
        Default: by the hour's Beijing date.
    published : pl.DataFrame, optional
        ``target_code, ts, aqi_published``: the source's own AQI, kept with ``published_match``.

    Returns
    -------
    pl.DataFrame
        One row per (target, hour) with any value, in the columns of :data:`ROW_COLUMNS`.
    """
    if "target_kind" not in valid.columns:
        valid = valid.with_columns(pl.lit(target_kind).alias("target_kind"))
    index = ["target_kind", "target_code", "ts"] + (["n_members"] if "n_members" in valid.columns else [])
    wide = _wide(valid, index, HOURLY_INPUT).sort("target_code", "ts")
    if wide.height == 0:
        return empty_rows()
    stds = _standard_column(wide["ts"], standard)
    data = {code: wide[code] for code in HOURLY_INPUT}
    res = aqi_hourly(data, standard, ts=wide["ts"]).to_polars()  # type: ignore[union-attr]
    out = _finish(wide, res, HOURLY_ITEMS, stds, HOURLY_INPUT)
    return _published(out, published)


def _published(out: pl.DataFrame, published: pl.DataFrame | None) -> pl.DataFrame:
    if published is not None and published.height:
        pub = published.select("target_code", "ts", pl.col("aqi_published").cast(pl.Int64))
        out = out.join(pub, on=["target_code", "ts"], how="left")
        out = out.with_columns(
            pl.when(pl.col("aqi_published").is_null() | pl.col("aqi").is_null())
            .then(None)
            .otherwise(pl.col("aqi") == pl.col("aqi_published"))
            .alias("published_match")
        )
    else:
        out = out.with_columns(
            pl.lit(None, pl.Int64).alias("aqi_published"), pl.lit(None, pl.Boolean).alias("published_match")
        )
    out = out.with_columns(_hash(out))
    return out.select(ROW_COLUMNS).cast(empty_rows().schema)


def empty_rows() -> pl.DataFrame:
    """An empty frame in the AQI table layout."""
    schema: dict[str, pl.DataType] = {c: pl.Int64() for c in ROW_COLUMNS}
    schema.update(
        target_kind=pl.String(),
        target_code=pl.String(),
        ts=TS_DTYPE,
        standard=pl.String(),
        primary_pollutant=pl.String(),
        missing_items=pl.String(),
        status=pl.String(),
        published_match=pl.Boolean(),
        inputs_hash=pl.String(),
    )
    schema.update({f"c_{s}": pl.Float64() for s in SUFFIXES})
    return pl.DataFrame(schema=schema)


def area_hourly(
    valid: pl.DataFrame,
    members: pl.DataFrame,
    *,
    min_share: float = MIN_SHARE,
    rounded: bool = False,
) -> pl.DataFrame:
    """Area hourly concentrations from member stations (monitoring.md §3.3; standards.md §3 [R]).

    Parameters
    ----------
    valid : pl.DataFrame
        Long hourly frame of valid station values ``site_code, ts, parameter, value``.
    members : pl.DataFrame
        ``site_code, area_kind, area_code`` of the evaluation stations of each area.
    min_share : float
        Share of members that must be valid for the hour to count (at least one).
    rounded : bool
        Round the means by GB/T 8170 (integers, CO 1 dp) as a published area concentration.

    Returns
    -------
    pl.DataFrame
        ``target_kind, target_code, ts, parameter, value, n_valid, n_members``; hours below the share are left out.
    """
    schema = {
        "target_kind": pl.String,
        "target_code": pl.String,
        "ts": TS_DTYPE,
        "parameter": pl.String,
        "value": pl.Float64,
        "n_valid": pl.Int64,
        "n_members": pl.Int64,
    }
    if valid.height == 0 or members.height == 0:
        return pl.DataFrame(schema=schema)
    # dense cube [parameter][site, hour]: one NumPy reduction per area and pollutant instead of a join and a
    # group-by over every station-hour (the costly step of the hourly → daily chain)
    cube = hourly_cube(valid.select(pl.col("site_code").cast(pl.String).alias("site"), "ts", "parameter", "value"))
    index = {s: k for k, s in enumerate(cube.sites.tolist())}
    n_hours = next(iter(cube.values.values())).shape[1]
    t0 = day_start_utc(cube.first_day)
    times = pl.datetime_range(t0, t0 + timedelta(hours=n_hours - 1), "1h", eager=True, time_zone="UTC")
    times = times.dt.cast_time_unit("us")
    parts = []
    for (kind, code), part in members.partition_by(["area_kind", "area_code"], as_dict=True).items():
        codes = [str(c) for c in part["site_code"].unique().to_list()]
        n_members = len(codes)
        rows = [index[c] for c in codes if c in index]
        if not rows:
            continue
        need = max(1, math.ceil(n_members * min_share))
        for param, x in cube.values.items():
            sub = x[rows]
            cnt = np.isfinite(sub).sum(axis=0)
            ok = cnt >= need
            if not ok.any():
                continue
            mean = np.nansum(sub[:, ok], axis=0) / cnt[ok]
            if rounded:
                mean = round_half_even(mean, 1 if param == "a21005" else 0)
            parts.append(
                pl.DataFrame(
                    {
                        "target_kind": kind,
                        "target_code": code,
                        "ts": times.filter(pl.Series(ok)),
                        "parameter": param,
                        "value": mean,
                        "n_valid": cnt[ok].astype(np.int64),
                        "n_members": n_members,
                    },
                    schema=schema,
                )
            )
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def daily(
    hourly_valid: pl.DataFrame,
    *,
    standard: str | None = None,
    o3_limit: float | None = 160.0,
    target_kind: str = "station",
) -> pl.DataFrame:
    """Daily AQI (HJ 633-2012 5.1 / HJ 633-2026 4.2.3) of stations or areas from valid hourly values.

    Parameters
    ----------
    hourly_valid : pl.DataFrame
        ``target_code, ts, parameter, value`` (optional ``target_kind``, ``n_members``) of valid hours; whole
        Beijing days are formed (:func:`bogda.standards.evaluation.hourly_cube`).
    o3_limit : float or None
        O3 8 h limit that makes a maximum from fewer than 14 windows valid when it exceeds it [R].

    Returns
    -------
    pl.DataFrame
        One row per (target, Beijing day) in :data:`ROW_COLUMNS` (``ts`` = 00:00 Beijing of the day);
        concentrations rounded by GB/T 8170.
    """
    if hourly_valid.height == 0:
        return empty_rows()
    if "target_kind" not in hourly_valid.columns:
        hourly_valid = hourly_valid.with_columns(pl.lit(target_kind).alias("target_kind"))
    parts = []
    for (kind,), part in hourly_valid.partition_by("target_kind", as_dict=True).items():
        cube = hourly_cube(part.select(pl.col("target_code").alias("site"), "ts", "parameter", "value"))
        n = len(cube.sites)
        members = np.ones(n, dtype=np.int64)
        if "n_members" in part.columns:
            nm = dict(part.group_by("target_code").agg(pl.col("n_members").max()).iter_rows())
            members = np.array([nm.get(c, 1) for c in cube.sites.tolist()], dtype=np.int64)
        parts.append(
            daily_from_cube(
                cube, np.full(n, kind, dtype=object), cube.sites, members, standard=standard, o3_limit=o3_limit
            )
        )
    return pl.concat(parts) if parts else empty_rows()


def daily_from_cube(
    cube: HourlyCube,
    kinds: np.ndarray,
    codes: np.ndarray,
    n_members: np.ndarray,
    *,
    standard: str | None = None,
    o3_limit: float | None = 160.0,
) -> pl.DataFrame:
    """Daily AQI rows of every site (row) of a dense hourly cube (see :func:`daily`); ``kinds``, ``codes`` and
    ``n_members`` describe the cube's rows."""
    arrays = daily_arrays(cube, rounded=True, o3_limit=o3_limit)
    n_sites, n_days = len(cube.sites), cube.n_days
    if n_sites == 0 or n_days == 0:
        return empty_rows()
    day_ts = [day_start_utc(d) for d in cube.days]
    cols: dict[str, Any] = {
        "target_kind": pl.Series(np.repeat(np.asarray(kinds, dtype=object), n_days).astype(str), dtype=pl.String),
        "target_code": pl.Series(np.repeat(np.asarray(codes, dtype=object), n_days).astype(str), dtype=pl.String),
        "ts": pl.Series(day_ts * n_sites, dtype=TS_DTYPE),
        "n_members": pl.Series(np.repeat(np.asarray(n_members, dtype=np.int64), n_days)),
    }
    for code in DAILY_INPUT:
        arr = arrays.get(code)
        cols[code] = (
            pl.Series(code, arr.ravel(), nan_to_null=True)
            if arr is not None
            else pl.Series(code, [None] * (n_sites * n_days), dtype=pl.Float64)
        )
    wide = pl.DataFrame(cols)
    # days without any value are not rows
    wide = wide.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in DAILY_INPUT]))
    if wide.height == 0:
        return empty_rows()
    stds = _standard_column(wide["ts"], standard)
    data = {
        "SO2": wide["a21026"],
        "NO2": wide["a21004"],
        "CO": wide["a21005"],
        "PM10": wide["a34002"],
        "PM2.5": wide["a34004"],
        "O3_8h": wide["O3_8h"],
        "O3_1h": wide["O3_1h"],
    }
    res = aqi_daily(data, standard, ts=wide["ts"]).to_polars()  # type: ignore[union-attr]
    out = _finish(wide, res, DAILY_ITEMS, stds, DAILY_INPUT)
    return _published(out, None)


def area_cube(
    cube: HourlyCube, members: pl.DataFrame, *, min_share: float = MIN_SHARE
) -> tuple[HourlyCube, np.ndarray, np.ndarray]:
    """Area hourly means on the dense cube of the station hours (see :func:`area_hourly` for the rule).

    ``members``: ``site_code`` (as in ``cube.sites``), ``area_kind``, ``area_code``. Returns the area cube (its
    sites are the area codes) with the area kinds and member counts of its rows.
    """
    index = {s: k for k, s in enumerate(cube.sites.tolist())}
    n_hours = next(iter(cube.values.values())).shape[1] if cube.values else 0
    kinds, codes, counts, rows_of = [], [], [], []
    for (kind, code), part in members.partition_by(["area_kind", "area_code"], as_dict=True).items():
        sites = [str(c) for c in part["site_code"].unique().to_list()]
        kinds.append(kind)
        codes.append(code)
        counts.append(len(sites))
        rows_of.append([index[c] for c in sites if c in index])
    values = {}
    for param, x in cube.values.items():
        out = np.full((len(codes), n_hours), np.nan)
        for a, rows in enumerate(rows_of):
            if not rows:
                continue
            sub = x[rows]
            cnt = np.isfinite(sub).sum(axis=0)
            ok = cnt >= max(1, math.ceil(counts[a] * min_share))
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.nansum(sub, axis=0) / cnt
            out[a, ok] = mean[ok]
        values[param] = out
    acube = HourlyCube(sites=np.array(codes, dtype=object), first_day=cube.first_day, values=values)
    return acube, np.array(kinds, dtype=object), np.array(counts, dtype=np.int64)


def cube_long(cube: HourlyCube, kinds: np.ndarray, n_members: np.ndarray) -> pl.DataFrame:
    """The non-missing cells of a cube as a long frame ``target_kind, target_code, ts, parameter, value,
    n_members``."""
    n_hours = next(iter(cube.values.values())).shape[1] if cube.values else 0
    t0 = day_start_utc(cube.first_day)
    times = np.array([t0 + timedelta(hours=h) for h in range(n_hours)], dtype=object)
    parts = []
    for param, x in cube.values.items():
        r, h = np.nonzero(np.isfinite(x))
        if not len(r):
            continue
        parts.append(
            pl.DataFrame(
                {
                    "target_kind": pl.Series(kinds[r].astype(str), dtype=pl.String),
                    "target_code": pl.Series(cube.sites[r].astype(str), dtype=pl.String),
                    "ts": pl.Series(times[h].tolist(), dtype=TS_DTYPE),
                    "parameter": param,
                    "value": x[r, h],
                    "n_members": n_members[r],
                }
            )
        )
    schema = {
        "target_kind": pl.String,
        "target_code": pl.String,
        "ts": TS_DTYPE,
        "parameter": pl.String,
        "value": pl.Float64,
        "n_members": pl.Int64,
    }
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def no_station_rows(
    areas: pl.DataFrame, days_ts: Sequence[datetime], *, standard_of: Mapping[datetime, str]
) -> pl.DataFrame:
    """``no_station`` rows for areas without an evaluation station (``target_kind, target_code``) and days."""
    empty = empty_rows()
    if areas.height == 0 or not days_ts:
        return empty
    grid = areas.join(pl.DataFrame({"ts": list(days_ts)}, schema={"ts": TS_DTYPE}), how="cross")
    fixed = {
        "standard": pl.col("ts").replace_strict(dict(standard_of), return_dtype=pl.String),
        "level": pl.lit(0),
        "n_members": pl.lit(0),
        "status": pl.lit("no_station"),
        "inputs_hash": pl.lit("0000000000000000"),
    }
    cols = [
        fixed[c].alias(c) if c in fixed else (pl.col(c) if c in grid.columns else pl.lit(None).alias(c))
        for c in empty.columns
    ]
    return grid.select(cols).cast(empty.schema)


# --- service ---------------------------------------------------------------------------------------------------


@dataclass
class AqiUpdate:
    """What :func:`update_aqi` wrote."""

    start: datetime | None = None
    end: datetime | None = None
    stations: int = 0
    areas: int = 0
    hourly_rows: int = 0
    daily_rows: int = 0
    dirty_cleared: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _write_rows(store: Store, table: Table, rows: pl.DataFrame, targets: pl.DataFrame, lo: int, hi: int) -> int:
    """Replace the rows of ``targets`` (``target_kind, target_code``) in [lo, hi) by ``rows``."""
    data = rows.with_columns(pl.col("ts").dt.epoch("s")).select(ROW_COLUMNS)
    with store.begin() as conn:
        for kind, codes in targets.group_by("target_kind").agg(pl.col("target_code")).iter_rows():
            for i in range(0, len(codes), 500):
                conn.execute(
                    delete(table).where(
                        table.c.target_kind == kind,
                        table.c.target_code.in_(codes[i : i + 500]),
                        table.c.ts >= lo,
                        table.c.ts < hi,
                    )
                )
        if data.height:
            if store.dialect == "sqlite":
                raw = conn.connection.driver_connection
                marks = ",".join("?" * len(ROW_COLUMNS))
                raw.executemany(
                    f"INSERT INTO {table.name} ({','.join(ROW_COLUMNS)}) VALUES ({marks})", data.iter_rows()
                )
            else:
                conn.execute(table.insert(), data.to_dicts())
    return data.height


def update_aqi(
    store: Store,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    sites: Sequence[int] | None = None,
    standard: str | None = None,
    hourly: bool = True,
    now: datetime | None = None,
) -> AqiUpdate:
    """Recompute the AQI tables: the dirty station-days (default) or the window [start, end) (``bogda monitoring
    recompute``), for stations and their areas, idempotently.

    Parameters
    ----------
    start, end : datetime, optional
        Window (aligned outwards to whole Beijing days). Without them the ``aqi_dirty`` station-days are processed
        and cleared.
    sites : sequence of int, optional
        Restrict a window recompute to these stations (and the areas they belong to).
    standard : {"2012", "2026"}, optional
        Compute under one version for every date (rows are kept per version); default by date.
    hourly : bool
        Also recompute ``aqi_hourly`` (the daily chain alone is cheaper).
    """
    from bogda.monitoring.load import read_qa
    from bogda.monitoring.stations import AREA_KINDS, area_members, place_tree, station_sites
    from bogda.store import series as S
    from bogda.store.schema import aqi_daily as T_daily
    from bogda.store.schema import aqi_dirty
    from bogda.store.schema import aqi_hourly as T_hourly
    from bogda.timeutil import beijing_date, day_start_utc

    t0 = time.perf_counter()
    run_started = now_utc()
    report = AqiUpdate()
    dirty: list[tuple[int, int]] = []
    if start is None or end is None:
        with store.engine.connect() as conn:
            dirty = [tuple(r) for r in conn.execute(select(aqi_dirty.c.site_id, aqi_dirty.c.day_ts)).all()]
        if not dirty:
            return report
        lo_s = min(d for _, d in dirty)
        hi_s = max(d for _, d in dirty) + 86_400
        start = datetime.fromtimestamp(lo_s, tz=UTC)
        end = datetime.fromtimestamp(hi_s, tz=UTC)
        touched = {s for s, _ in dirty}
    else:
        start = day_start_utc(beijing_date(start))
        last = beijing_date(end - timedelta(microseconds=1))
        end = day_start_utc(last) + timedelta(days=1)
        touched = set(sites) if sites is not None else None
    report.start, report.end = start, end
    lo, hi = epoch_seconds(start), epoch_seconds(end)
    stations = station_sites(store)
    members = area_members(store)
    if touched is not None:
        areas = members.filter(pl.col("site_id").is_in(list(touched))).select("area_kind", "area_code").unique()
        member_ids = members.join(areas, on=["area_kind", "area_code"])["site_id"].to_list()
        read_ids = sorted(touched | set(member_ids))
        station_ids = sorted(touched)
    else:
        areas = members.select("area_kind", "area_code").unique()
        read_ids = station_ids = stations["site_id"].to_list()
    members = members.join(areas, on=["area_kind", "area_code"])
    code_of = dict(zip(stations["site_id"].to_list(), stations["code"].to_list(), strict=True))
    t1 = time.perf_counter()
    obs = read_qa(store, sites=read_ids, start=start, end=end, now=now)
    valid = obs.filter(pl.col("flag").is_in(["valid", "suspect"]) & pl.col("value").is_not_null()).select(
        pl.col("site_id").replace_strict(code_of, return_dtype=pl.String).alias("site_code"),
        "site_id",
        "ts",
        "parameter",
        "value",
    )
    report.seconds["read"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    # one dense cube of every station-hour read: station daily values, area hourly means and area daily values
    # all come from it (building cubes from long frames is the costly part of the chain)
    st_targets = pl.DataFrame(
        {"target_kind": "station", "target_code": [code_of[i] for i in station_ids]},
        schema={"target_kind": pl.String, "target_code": pl.String},
    )
    ar_targets = areas.rename({"area_kind": "target_kind", "area_code": "target_code"})
    tree = place_tree(store).filter(pl.col("kind").is_in(list(AREA_KINDS)))
    have = set(members["area_code"].to_list())
    empty_areas = tree.filter(~pl.col("code").is_in(list(have))).select(
        pl.col("kind").alias("target_kind"), pl.col("code").alias("target_code")
    )
    d_parts = [empty_rows()]
    h_parts = [empty_rows()]
    if valid.height:
        cube = hourly_cube(valid.select(pl.col("site_id").cast(pl.String).alias("site"), "ts", "parameter", "value"))
        mem = members.select(pl.col("site_id").cast(pl.String).alias("site_code"), "area_kind", "area_code")
        acube, akinds, acounts = area_cube(cube, mem)
        wanted = set(station_ids)
        keep = np.array([int(x) in wanted for x in cube.sites.tolist()], dtype=bool)
        scube = HourlyCube(
            sites=cube.sites[keep], first_day=cube.first_day, values={k: v[keep] for k, v in cube.values.items()}
        )
        scodes = np.array([code_of[int(x)] for x in scube.sites.tolist()], dtype=object)
        n = len(scodes)
        report.seconds["cube"] = time.perf_counter() - t2
        if hourly:
            published = None
            pub = S.read(store, sites=station_ids, parameters=["aqi_pub"], start=start, end=end, now=now)
            if pub.height:
                published = pub.select(
                    pl.col("site_id").replace_strict(code_of, return_dtype=pl.String).alias("target_code"),
                    "ts",
                    pl.col("value").alias("aqi_published"),
                )
            st_long = valid.filter(pl.col("site_id").is_in(station_ids)).select(
                pl.lit("station").alias("target_kind"),
                pl.col("site_code").alias("target_code"),
                "ts",
                "parameter",
                "value",
            )
            ar_long = cube_long(acube, akinds, acounts).with_columns(
                # a published area concentration is rounded (GB/T 8170: integers, CO 1 dp) before its AQI
                pl.when(pl.col("parameter") == "a21005")
                .then(pl.col("value").round(1))
                .otherwise(pl.col("value").round(0))
                .alias("value")
            )
            h_parts += [
                station_hourly(st_long, standard=standard, published=published),
                station_hourly(ar_long, standard=standard),
            ]
        t3 = time.perf_counter()
        d_parts += [
            daily_from_cube(
                scube, np.full(n, "station", dtype=object), scodes, np.ones(n, dtype=np.int64), standard=standard
            ),
            daily_from_cube(acube, akinds, acube.sites, acounts, standard=standard),
        ]
        report.seconds["daily_compute"] = time.perf_counter() - t3
    if hourly:
        report.hourly_rows = _write_rows(
            store, T_hourly, pl.concat(h_parts), pl.concat([st_targets, ar_targets]), lo, hi
        )
    report.seconds["hourly"] = time.perf_counter() - t2
    t4 = time.perf_counter()
    d_rows = pl.concat(d_parts)
    days = [start + timedelta(days=i) for i in range((hi - lo) // 86_400)]
    from bogda.standards.aqi import standard_for

    std_of = {d: (standard or standard_for(beijing_date(d))) for d in days}
    if empty_areas.height:
        d_rows = pl.concat([d_rows, no_station_rows(empty_areas, days, standard_of=std_of)])
        ar_targets = pl.concat([ar_targets, empty_areas])
    report.daily_rows = _write_rows(store, T_daily, d_rows, pl.concat([st_targets, ar_targets]), lo, hi)
    report.seconds["daily"] = time.perf_counter() - t4
    if dirty:
        with store.begin() as conn:
            conn.execute(
                delete(aqi_dirty).where(
                    aqi_dirty.c.site_id == bindparam("s"),
                    aqi_dirty.c.day_ts == bindparam("d"),
                    aqi_dirty.c.marked_at <= bindparam("t"),
                ),
                [{"s": s, "d": d, "t": run_started} for s, d in dirty],
            )
        report.dirty_cleared = len(dirty)
    report.stations, report.areas = len(station_ids), ar_targets.height
    report.seconds["total"] = time.perf_counter() - t0
    return report


__all__ = [
    "DAILY_INPUT",
    "HOURLY_INPUT",
    "ITEM_COLUMNS",
    "MIN_SHARE",
    "ROW_COLUMNS",
    "AqiUpdate",
    "area_hourly",
    "daily",
    "empty_rows",
    "no_station_rows",
    "station_hourly",
    "update_aqi",
]
