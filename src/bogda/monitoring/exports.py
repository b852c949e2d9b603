"""Exports of series, AQI, completeness and assessments (monitoring.md §3.7): CSV, Excel, Parquet, background jobs.

Long format columns: ``site_code, site_name, network, county_code, parameter_code, parameter_name_zh,
parameter_name_en, statistic, resolution, interval_start_utc, interval_end_utc, interval_start_bjt, value, unit,
validity, qa_flags, source_flag, revision``; AQI rows add ``standard, rule, level, category_zh, category_en,
primary, iaqi_*, missing_items``; assessment rows ``limits_version, dust_mode, numerator, denominator``. The wide
option puts the unit in each header (``PM2.5 [µg/m³]``) plus ``<param>_flags``.

Metadata (interval convention, display zone, standard, units, flag legend, query, generated_at, version) goes in a
``.meta.json`` beside a CSV, a ``说明`` sheet in Excel and the Parquet key-value metadata. CSV is UTF-8 with BOM (d)
or GB18030 on request; Excel splits at 1 000 000 rows a sheet and refuses above 5 000 000 (d); Parquet uses zstd.
Above :data:`JOB_THRESHOLD` rows an export runs as a background job (``export_job``; link valid 24 h, file kept 7
days (d)).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

import bogda
from bogda.monitoring.aqi_tables import ITEM_COLUMNS
from bogda.monitoring.ingest import POLLUTANT_UNITS
from bogda.store import Store
from bogda.timeutil import BEIJING_NAME, now_utc, parse_time

FORMATS = ("csv", "xlsx", "parquet")
JOB_THRESHOLD = 200_000
EXCEL_SHEET_ROWS = 1_000_000
EXCEL_MAX_ROWS = 5_000_000
LINK_HOURS, KEEP_DAYS = 24, 7

PARAMETER_NAMES: dict[str, tuple[str, str]] = {
    "a34004": ("细颗粒物(PM2.5)", "PM2.5"),
    "a34002": ("可吸入颗粒物(PM10)", "PM10"),
    "a21026": ("二氧化硫", "SO2"),
    "a21004": ("二氧化氮", "NO2"),
    "a21005": ("一氧化碳", "CO"),
    "a05024": ("臭氧", "O3"),
    "aqi_pub": ("发布AQI", "published AQI"),
}

FLAG_LEGEND = {
    "valid": "有效 valid",
    "suspect": "可疑（计入统计，除非 suspect_policy=exclude）suspect (counted unless excluded)",
    "invalid": "无效（不计入统计）invalid (left out of statistics)",
    "maintenance": "维护/校准 maintenance or calibration",
    "source_flag": "数据源标记（HJ 212：N 正常，M/C 维护，T 超上限 …）the source's own flag",
}


def metadata(query: Mapping[str, Any], *, standard: str | None = None, units: Mapping[str, str] | None = None) -> dict:
    """The metadata block written beside every export."""
    return {
        "interval_convention": "start, [start, end), UTC",
        "display_zone": f"{BEIJING_NAME} (UTC+8)",
        "standard": standard or "by date: HJ 633-2012 before 2026-03-01, HJ 633-2026 from 2026-03-01",
        "units": dict(units or {**POLLUTANT_UNITS, "aqi": "1"}),
        "flag_legend": FLAG_LEGEND,
        "query": dict(query),
        "generated_at": now_utc().isoformat(),
        "version": f"bogda {bogda.__version__}",
    }


def _interval_cols(resolution: str) -> list[pl.Expr]:
    step = {"hour": "1h", "day": "1d", "min": "1m", "rt": "0s"}.get(resolution, "1h")
    return [
        pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("interval_start_utc"),
        pl.col("ts").dt.offset_by(step).dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("interval_end_utc"),
        pl.col("ts").dt.convert_time_zone(BEIJING_NAME).dt.strftime("%Y-%m-%d %H:%M").alias("interval_start_bjt"),
    ]


def series_frame(
    store: Store,
    *,
    sites: Sequence[str] | None,
    parameters: Sequence[str] | None,
    start: datetime,
    end: datetime,
    resolution: str = "hour",
) -> pl.DataFrame:
    """Observations in the long export layout (with QA verdicts and the number of kept revisions)."""
    from sqlalchemy import func, select

    from bogda.monitoring.load import read_qa
    from bogda.monitoring.stations import station_county, station_sites
    from bogda.store import series as S
    from bogda.store.schema import observation_revision, series

    st = station_sites(store)
    if sites:
        st = st.filter(pl.col("code").is_in(list(sites)))
    ids = st["site_id"].to_list()
    params = list(parameters) if parameters else None
    if resolution == "hour":
        obs = read_qa(store, sites=ids, parameters=params or list(POLLUTANT_UNITS), start=start, end=end)
    else:
        obs = (
            S.read(store, sites=ids, parameters=params, start=start, end=end, resolution=resolution)
            .rename({"flag": "source_flag"})
            .with_columns(pl.lit("valid").alias("flag"), pl.lit(None, pl.String).alias("qa_reason"))
        )
    ser = S.find_series(store, sites=ids, parameters=params, resolution=resolution)
    with store.engine.connect() as conn:
        rev = conn.execute(
            select(observation_revision.c.series_id, observation_revision.c.ts, func.count())
            .where(observation_revision.c.series_id.in_(ser["series_id"].to_list()))
            .group_by(observation_revision.c.series_id, observation_revision.c.ts)
        ).all()
        _ = series
    revs = pl.DataFrame(rev, schema={"series_id": pl.Int64, "ts": pl.Int64, "revision": pl.Int64}, orient="row")
    revs = revs.join(ser.select("series_id", "site_id", "parameter"), on="series_id").select(
        "site_id",
        "parameter",
        pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("ts"),
        "revision",
    )
    county = station_county(store)
    meta = st.select(
        "site_id",
        pl.col("code").alias("site_code"),
        pl.col("name").alias("site_name"),
        "network",
        pl.col("site_id")
        .replace_strict({k: v[0] for k, v in county.items()}, default=None, return_dtype=pl.String)
        .alias("county_code"),
    )
    units = dict(zip(ser["parameter"].to_list(), ser["unit"].to_list(), strict=True))
    out = (
        obs.join(meta, on="site_id")
        .join(revs, on=["site_id", "parameter", "ts"], how="left")
        .with_columns(
            pl.col("parameter").alias("parameter_code"),
            pl.col("parameter")
            .replace_strict({k: v[0] for k, v in PARAMETER_NAMES.items()}, default=None, return_dtype=pl.String)
            .alias("parameter_name_zh"),
            pl.col("parameter")
            .replace_strict({k: v[1] for k, v in PARAMETER_NAMES.items()}, default=None, return_dtype=pl.String)
            .alias("parameter_name_en"),
            pl.lit("mean").alias("statistic"),
            pl.lit(resolution).alias("resolution"),
            *_interval_cols(resolution),
            pl.col("parameter").replace_strict(units, default="", return_dtype=pl.String).alias("unit"),
            pl.col("flag").alias("validity"),
            pl.col("qa_reason").alias("qa_flags"),
            pl.col("revision").fill_null(0),
        )
    )
    return out.select(
        "site_code",
        "site_name",
        "network",
        "county_code",
        "parameter_code",
        "parameter_name_zh",
        "parameter_name_en",
        "statistic",
        "resolution",
        "interval_start_utc",
        "interval_end_utc",
        "interval_start_bjt",
        "value",
        "unit",
        "validity",
        "qa_flags",
        "source_flag",
        "revision",
    ).sort("site_code", "parameter_code", "interval_start_utc")


def aqi_frame(
    store: Store,
    *,
    table: str = "daily",
    target_kind: str | None = None,
    codes: Sequence[str] | None = None,
    start: datetime,
    end: datetime,
) -> pl.DataFrame:
    """AQI rows in the export layout (``standard, rule, level, category, primary, iaqi_*, missing_items`` …)."""
    from sqlalchemy import select

    from bogda.monitoring.aqi_tables import empty_rows
    from bogda.standards import categories
    from bogda.store.schema import aqi_daily, aqi_hourly
    from bogda.timeutil import epoch_seconds

    T = aqi_daily if table == "daily" else aqi_hourly
    q = select(T).where(T.c.ts >= epoch_seconds(start), T.c.ts < epoch_seconds(end))
    if target_kind:
        q = q.where(T.c.target_kind == target_kind)
    if codes:
        q = q.where(T.c.target_code.in_(list(codes)))
    with store.engine.connect() as conn:
        res = conn.execute(q.order_by(T.c.target_kind, T.c.target_code, T.c.ts))
        cols, rows = list(res.keys()), res.all()
    schema = dict(empty_rows().schema)
    schema["ts"] = pl.Int64()
    df = pl.DataFrame(rows, schema={c: schema[c] for c in cols}, orient="row").with_columns(
        pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC")
    )
    cats = {c.level: (c.name_zh, c.name_en) for c in categories()}
    res_name = "day" if table == "daily" else "hour"
    return df.with_columns(
        *_interval_cols(res_name),
        pl.format("HJ 633-{}", "standard").alias("standard"),
        pl.lit("daily" if table == "daily" else "real-time").alias("rule"),
        pl.col("level")
        .replace_strict({k: v[0] for k, v in cats.items()}, default=None, return_dtype=pl.String)
        .alias("category_zh"),
        pl.col("level")
        .replace_strict({k: v[1] for k, v in cats.items()}, default=None, return_dtype=pl.String)
        .alias("category_en"),
        pl.col("primary_pollutant").alias("primary"),
        pl.lit(res_name).alias("resolution"),
    ).drop("ts")


def to_wide(long: pl.DataFrame) -> pl.DataFrame:
    """Wide layout: one column per parameter with its unit in the header, plus ``<param>_flags``."""
    names = {k: v[1] for k, v in PARAMETER_NAMES.items()}
    base = long.with_columns(
        pl.format(
            "{} [{}]",
            pl.col("parameter_code").replace_strict(names, default=pl.col("parameter_code"), return_dtype=pl.String),
            "unit",
        ).alias("_h"),
        pl.concat_str([pl.col("validity"), pl.col("qa_flags").fill_null("")], separator=":").alias("_f"),
    )
    idx = ["site_code", "site_name", "interval_start_utc", "interval_start_bjt"]
    values = base.pivot(on="_h", index=idx, values="value", aggregate_function="first")
    flags = base.with_columns(
        (
            pl.col("parameter_code").replace_strict(names, default=pl.col("parameter_code"), return_dtype=pl.String)
            + "_flags"
        ).alias("_fh")
    ).pivot(on="_fh", index=idx, values="_f", aggregate_function="first")
    return values.join(flags, on=idx, how="left").sort("site_code", "interval_start_utc")


def write_export(
    frame: pl.DataFrame, path: str | Path, fmt: str, *, meta: Mapping[str, Any], encoding: str = "utf-8-sig"
) -> list[Path]:
    """Write ``frame`` as CSV (+ ``.meta.json``), Excel (data sheets + ``说明``) or Parquet (zstd, metadata).

    Returns the files written. Raises ``ValueError`` for an Excel export above :data:`EXCEL_MAX_ROWS` rows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        if encoding in ("utf-8-sig", "utf8-bom", "utf-8"):
            data = frame.write_csv().encode("utf-8-sig" if encoding != "utf-8" else "utf-8")
        elif encoding.lower() in ("gb18030", "gbk"):
            data = frame.write_csv().encode("gb18030")
        else:
            raise ValueError(f"CSV encoding must be utf-8-sig, utf-8 or gb18030, not {encoding!r}")
        path.write_bytes(data)
        side = path.with_name(path.name + ".meta.json")
        side.write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return [path, side]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = frame.to_arrow()
        kv = {k: json.dumps(v, ensure_ascii=False, default=str) for k, v in meta.items()}
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in kv.items()}}
        )
        pq.write_table(table, path, compression="zstd")
        return [path]
    if fmt == "xlsx":
        if frame.height > EXCEL_MAX_ROWS:
            raise ValueError(
                f"{frame.height} rows: Excel exports are refused above {EXCEL_MAX_ROWS}; use CSV or Parquet"
            )
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        n_sheets = max(1, -(-frame.height // EXCEL_SHEET_ROWS))
        for i in range(n_sheets):
            ws = wb.create_sheet(f"数据{i + 1}" if n_sheets > 1 else "数据")
            ws.append(frame.columns)
            for row in frame.slice(i * EXCEL_SHEET_ROWS, EXCEL_SHEET_ROWS).iter_rows():
                ws.append(list(row))
        info = wb.create_sheet("说明")
        for k, v in meta.items():
            info.append([k, json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict | list) else str(v)])
        wb.save(path)
        return [path]
    raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")


def build_frame(store: Store, query: Mapping[str, Any]) -> tuple[pl.DataFrame, dict]:
    """The frame and metadata an export ``query`` asks for.

    ``query``: ``kind`` (series | aqi_hourly | aqi_daily | completeness | assessment), ``start``/``end`` (ISO),
    ``sites`` (codes), ``parameters``, ``target_kind``, ``wide`` (series only), ``period`` (assessment).
    """
    kind = query.get("kind", "series")
    start, end = parse_time(str(query["start"])), parse_time(str(query["end"]))
    if kind == "series":
        frame = series_frame(
            store,
            sites=query.get("sites"),
            parameters=query.get("parameters"),
            start=start,
            end=end,
            resolution=query.get("resolution", "hour"),
        )
        if query.get("wide"):
            frame = to_wide(frame)
    elif kind in ("aqi_hourly", "aqi_daily"):
        frame = aqi_frame(
            store,
            table=kind.split("_")[1],
            target_kind=query.get("target_kind"),
            codes=query.get("sites"),
            start=start,
            end=end,
        )
    elif kind == "completeness":
        from bogda.monitoring.status import completeness_report

        frame, _ = completeness_report(store, start=start, end=end, write=False)
    elif kind == "assessment":
        from bogda.monitoring.assessment import assess_store

        frame = assess_store(store, start=start, end=end, period=query.get("period", "month"), write=False)
    else:
        raise ValueError(f"unknown export kind {kind!r}")
    return frame, metadata(query)


def export(
    store: Store, query: Mapping[str, Any], path: str | Path, fmt: str, *, encoding: str = "utf-8-sig"
) -> list[Path]:
    """Build and write an export in one go (CLI, small API requests)."""
    frame, meta = build_frame(store, query)
    return write_export(frame, path, fmt, meta=meta, encoding=encoding)


# --- background jobs -------------------------------------------------------------------------------------------


def submit_job(
    store: Store,
    query: Mapping[str, Any],
    fmt: str,
    folder: str | Path,
    *,
    by: str | None = None,
    run: bool = True,
) -> str:
    """Queue an export job (``export_job`` row) and, with ``run``, start it in a background thread; returns its id."""
    from bogda.store.schema import export_job

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    job_id = uuid.uuid4().hex
    stamp = now_utc()
    with store.begin() as conn:
        conn.execute(
            export_job.insert().values(
                id=job_id, state="queued", progress=0.0, fmt=fmt, query=dict(query), created_by=by, created_at=stamp
            )
        )
    if run:
        threading.Thread(target=run_job, args=(store, job_id, folder), daemon=True, name=f"export-{job_id[:8]}").start()
    return job_id


def run_job(store: Store, job_id: str, folder: str | Path) -> None:
    """Run a queued export job (also logged in ``job_run``); a failure is recorded, never raised."""
    from sqlalchemy import select

    from bogda.store.schema import export_job, job_run

    with store.begin() as conn:
        row = conn.execute(select(export_job).where(export_job.c.id == job_id)).first()
        if row is None:
            return
        conn.execute(export_job.update().where(export_job.c.id == job_id).values(state="running", progress=0.1))
        run_id = conn.execute(
            job_run.insert().values(job="export", started_at=now_utc(), status="running").returning(job_run.c.id)
        ).scalar_one()
    try:
        frame, meta = build_frame(store, row.query)
        with store.begin() as conn:
            conn.execute(export_job.update().where(export_job.c.id == job_id).values(progress=0.6, rows=frame.height))
        ext = {"csv": "csv", "xlsx": "xlsx", "parquet": "parquet"}[row.fmt]
        path = Path(folder) / f"export_{job_id}.{ext}"
        write_export(frame, path, row.fmt, meta=meta, encoding=row.query.get("encoding", "utf-8-sig"))
        done = now_utc()
        with store.begin() as conn:
            conn.execute(
                export_job.update()
                .where(export_job.c.id == job_id)
                .values(
                    state="done",
                    progress=1.0,
                    path=str(path),
                    finished_at=done,
                    link_expires_at=done + timedelta(hours=LINK_HOURS),
                    delete_after=done + timedelta(days=KEEP_DAYS),
                )
            )
            conn.execute(
                job_run.update().where(job_run.c.id == run_id).values(status="ok", finished_at=done, rows=frame.height)
            )
    except Exception as exc:
        with store.begin() as conn:
            conn.execute(
                export_job.update()
                .where(export_job.c.id == job_id)
                .values(state="failed", error=str(exc)[:2000], finished_at=now_utc())
            )
            conn.execute(
                job_run.update()
                .where(job_run.c.id == run_id)
                .values(status="failed", error=str(exc)[:2000], finished_at=now_utc())
            )


def job_state(store: Store, job_id: str, *, now: datetime | None = None) -> dict[str, Any] | None:
    """State of an export job (``expired`` once its link has lapsed)."""
    from sqlalchemy import select

    from bogda.store.schema import export_job

    with store.engine.connect() as conn:
        row = conn.execute(select(export_job).where(export_job.c.id == job_id)).first()
    if row is None:
        return None
    out = dict(row._mapping)
    if out["state"] == "done" and out["link_expires_at"] and (now or now_utc()) > out["link_expires_at"]:
        out["state"] = "expired"
    return out


def purge_jobs(store: Store, *, now: datetime | None = None) -> int:
    """Delete the files of jobs past ``delete_after`` (kept 7 days (d)); returns how many."""
    from sqlalchemy import select

    from bogda.store.schema import export_job

    now = now or now_utc()
    n = 0
    with store.begin() as conn:
        for jid, path in conn.execute(
            select(export_job.c.id, export_job.c.path).where(
                export_job.c.delete_after < now, export_job.c.path.isnot(None)
            )
        ):
            Path(path).unlink(missing_ok=True)
            conn.execute(export_job.update().where(export_job.c.id == jid).values(state="expired", path=None))
            n += 1
    return n


__all__ = [
    "FORMATS",
    "ITEM_COLUMNS",
    "JOB_THRESHOLD",
    "aqi_frame",
    "build_frame",
    "export",
    "job_state",
    "metadata",
    "purge_jobs",
    "run_job",
    "series_frame",
    "submit_job",
    "to_wide",
    "write_export",
]
