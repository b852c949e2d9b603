"""Loading read files into the store, QA flags, and reading QA'd values back (``load_*``, architecture.md §5).

:func:`load_result` writes a :class:`~bogda.monitoring.ingest.ReadResult` (any layout): stations are resolved or
registered (:func:`~bogda.monitoring.stations.ensure_stations`), values are written idempotently (a changed value is
a correction kept in ``observation_revision``), QA runs over the written window with up to two days of stored
context on each side (flat runs, stuck sensors and spikes need their neighbours), and the touched station-days are
marked dirty for :func:`bogda.monitoring.aqi_tables.update_aqi`.

QA verdicts live in ``qa_flag`` (one row per flagged value; valid values have none); ``observation.flag`` keeps
the source's own flag (``N`` when the source sends none). A verdict set by a person (``set_by`` not ``qa``) wins
over later QA runs.

Batch policy: by default a bad row is rejected and the rest of the batch loads (monitoring.md §5, ``batch="rows"``).
``batch="whole"`` applies forecast.md §6 instead: a batch with an unknown station or a conflicting duplicate is not
stored at all and its raw bytes go to quarantine (:func:`quarantine_batch`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import polars as pl
from sqlalchemy import and_, delete, select

from bogda.monitoring.ingest import (
    CONFLICTING_DUPLICATE,
    POLLUTANTS,
    TS_DTYPE,
    UNKNOWN_STATION,
    ZONELESS_TIME,
    ReadResult,
    Rejection,
    read_cnemc,
)
from bogda.monitoring.qa import DEFAULT_CONFIG, QAConfig, apply_qa
from bogda.monitoring.stations import ensure_city_feeds, ensure_stations
from bogda.store import Store
from bogda.store import series as S
from bogda.store.schema import aqi_dirty, qa_flag, series
from bogda.timeutil import epoch_seconds, now_utc

CONTEXT = timedelta(hours=48)
"""Stored values read on each side of a written window so that run and spike rules see their neighbours."""

DAY = 86_400
CITY_FEED_SOURCES = frozenset({"aqistudy"})
"""Reader profiles whose ``site_code`` is a city's place code (:func:`~bogda.monitoring.stations.ensure_city_feeds`)."""
BEIJING_OFFSET = 8 * 3600

BatchPolicy = Literal["rows", "whole"]
BATCH_POLICIES: tuple[str, ...] = ("rows", "whole")
WHOLE_BATCH_KINDS = frozenset({UNKNOWN_STATION, CONFLICTING_DUPLICATE, ZONELESS_TIME})
"""Rejection kinds for which ``batch="whole"`` refuses and quarantines the whole batch (forecast.md §6)."""
QUARANTINE_SUBDIR = Path("quarantine") / "observations"
"""Quarantine folder of observation batches, under ``data_dir``."""


@dataclass
class LoadReport:
    """Counts of one load (shown by the CLI, logged in ``job_run``)."""

    file: str
    source: str
    values: int = 0
    inserted: int = 0
    corrected: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    created_sites: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    flagged: dict[str, int] = field(default_factory=dict)
    dirty_days: int = 0
    incomplete_row_sets: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    quarantined: Path | None = None
    """``batch="whole"`` only: the quarantined copy of the raw batch (its errors beside it, ``.errors.json``) when
    the batch was refused; nothing was stored then."""

    def rejected_frame(self) -> pl.DataFrame:
        return ReadResult(pl.DataFrame(), self.rejected, self.source, self.file, "").rejected_frame()


def _site_frame(ids: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"site_code": list(ids), "site_id": list(ids.values())}, schema={"site_code": pl.String, "site_id": pl.Int64}
    )


def load_result(
    store: Store,
    result: ReadResult,
    *,
    station_list: pl.DataFrame | str | Path | None = None,
    register_unknown: bool = False,
    qa_config: QAConfig = DEFAULT_CONFIG,
    reason: str | None = None,
    kind: str = "air_station",
    batch: BatchPolicy = "rows",
    raw: str | Path | bytes | None = None,
    quarantine_dir: str | Path | None = None,
) -> LoadReport:
    """Write a read file into the store, QA it and mark its station-days dirty.

    Parameters
    ----------
    result : ReadResult
        Output of a ``read_*`` function.
    station_list : frame or path, optional
        Station list used to register codes the registry does not know yet.
    register_unknown : bool
        Register codes unknown to both as placeholders instead of rejecting their values.
    reason : str, optional
        Recorded with corrected values (default: ``re-fetch <file>``).
    batch : {"rows", "whole"}
        ``rows`` (default, monitoring.md §5): bad rows are rejected, counted and reported; the rest loads.
        ``whole`` (forecast.md §6): if the batch has an unknown station (a code neither the registry nor
        ``station_list`` knows, with ``register_unknown`` off; a station name or city the reader cannot map) or a
        conflicting duplicate (same station, parameter and interval, different values), nothing is stored — no
        site, value, QA verdict or dirty day — and the raw batch is quarantined with its errors
        (:func:`quarantine_batch`); ``report.quarantined`` names the copy. The third kind of §6, a time without
        zone or offset, never occurs: every reader's layout declares the zone of its times (Beijing time, HJ 212
        DataTime by the standard), so no reader rejects a time for lacking one. Other rejections (non-numeric
        cell, bad date or hour, unknown type or column, undeclared unit, wrong field count) keep the row rule even
        in whole mode: they are faults of single cells whose neighbours are sound, while an unknown station or a
        conflicting duplicate makes the batch's identity or content doubtful.
    raw : path or bytes, optional
        The raw batch as read (file bytes); ``whole`` copies it to quarantine. Default: the file ``result.file``
        names. ``whole`` raises ``ValueError`` before loading anything when neither is available.
    quarantine_dir : path, optional
        Quarantine folder (default ``<data_dir>/quarantine/observations``, :func:`bogda.config.get_settings`).
    """
    if batch not in BATCH_POLICIES:
        raise ValueError(f"batch must be 'rows' or 'whole', not {batch!r}")
    t0 = time.perf_counter()
    report = LoadReport(result.file, result.source, rejected=list(result.rejected))
    if result.incomplete_row_sets is not None:
        report.incomplete_row_sets = result.incomplete_row_sets.height
    if batch == "whole":
        data = _raw_bytes(result, raw)
        if isinstance(station_list, str | Path):
            from bogda.monitoring.ingest import read_stations

            station_list = read_stations(station_list)  # read once: the check below and the registration use it
        for code in _unregistered_codes(store, result, station_list, register_unknown, kind):
            n = int((result.frame["site_code"] == code).sum()) if result.frame.height else 0
            report.rejected.append(
                Rejection(
                    result.file,
                    None,
                    code,
                    f"unknown station code (not registered; use --register-unknown): {n} values not loaded",
                    kind=UNKNOWN_STATION,
                )
            )
        if any(r.kind in WHOLE_BATCH_KINDS for r in report.rejected):
            report.quarantined = quarantine_batch(
                data, report.rejected, file=result.file, source=result.source, directory=quarantine_dir
            )
            report.seconds["total"] = time.perf_counter() - t0
            return report
    if result.source in CITY_FEED_SOURCES:
        # city-level published series (aqistudy): the city's place and its feed site, never a station
        ensure_city_feeds(store, result.sites, source=result.source)
    reg = ensure_stations(
        store,
        result.sites,
        station_list=station_list,
        register_unknown=register_unknown,
        kind=kind,
        source=result.source,
    )
    report.created_sites, report.placeholders = reg.created, reg.placeholders
    for code, why in reg.rejected:
        n = int((result.frame["site_code"] == code).sum()) if result.frame.height else 0
        report.rejected.append(
            Rejection(result.file, None, code, f"{why}: {n} values not loaded", kind=UNKNOWN_STATION)
        )
    frame = result.frame.join(_site_frame(reg.ids), on="site_code", how="inner")
    report.values = frame.height
    report.seconds["resolve"] = time.perf_counter() - t0
    if frame.height == 0:
        return report
    frame = frame.with_columns(pl.col("source_flag").fill_null("N").str.slice(0, 4).alias("flag"))
    hourly = frame.filter((pl.col("resolution") == "hour") & pl.col("parameter").is_in(POLLUTANTS)).select(
        "site_id", "parameter", "ts", "value", "flag"
    )
    pending: Future[QAVerdicts] | None = None
    pool: ThreadPoolExecutor | None = None
    if (
        hourly.height
        and hourly["ts"].max() - hourly["ts"].min() > timedelta(days=7)
        and _nothing_stored_inside(store, hourly)
    ):
        # a bulk load into an empty span: QA needs only the values of the file and stored values either side, which
        # this write does not touch — read those now and compute the verdicts in a worker thread while the store
        # write runs (Polars releases the GIL; SQLite does most of its work outside it). When the store already
        # holds values of these stations inside the span (a re-poll, a second file) QA reads them back after the
        # write instead, so that no stored value is judged without its neighbours.
        t_ctx = time.perf_counter()
        obs = qa_context(store, hourly, inside_from_frame=True)
        report.seconds["qa_context"] = time.perf_counter() - t_ctx
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bogda-qa")
        pending = pool.submit(qa_verdicts, hourly, obs, config=qa_config)
    t1 = time.perf_counter()
    try:
        for resolution, part in frame.partition_by("resolution", as_dict=True).items():
            res = S.write_long(
                store,
                part.select("site_id", "parameter", "ts", "value", "flag", "unit"),
                resolution=resolution[0],
                reason=reason or f"re-fetch {result.file}",
            )
            report.inserted += res.inserted
            report.corrected += res.corrected
            report.unchanged += res.unchanged
            for row, why in res.rejected:
                report.rejected.append(Rejection(result.file, None, None, f"store refused row {row}: {why}"))
        report.seconds["write"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        if hourly.height:
            if pending is not None:
                report.flagged = store_verdicts(store, pending.result())
            else:
                report.flagged = requalify(store, hourly, config=qa_config, inside_from_frame=False)
            if report.inserted or report.corrected:
                report.dirty_days = mark_dirty(store, hourly.select("site_id", "ts"))
        report.seconds["qa"] = time.perf_counter() - t2
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    report.seconds["total"] = time.perf_counter() - t0
    return report


def load_cnemc(
    store: Store,
    path: str | Path | bytes,
    *,
    station_list: pl.DataFrame | str | Path | None = None,
    register_unknown: bool = False,
    qa_config: QAConfig = DEFAULT_CONFIG,
    name: str | None = None,
    batch: BatchPolicy = "rows",
    quarantine_dir: str | Path | None = None,
) -> LoadReport:
    """``bogda ingest cnemc PATH``: read a CNEMC daily file and :func:`load_result` it.

    Codes the registry does not know are looked up in ``station_list``; the rest are rejected with their reason
    unless ``register_unknown`` (monitoring.md §2.4). ``batch="whole"``: a file with an unknown station or a
    conflicting duplicate is quarantined instead (:func:`load_result`, forecast.md §6).
    """
    from bogda.monitoring.stations import station_sites

    known = set(station_sites(store)["code"].to_list())
    if station_list is not None:
        from bogda.monitoring.ingest import read_stations

        sl = read_stations(station_list) if isinstance(station_list, str | Path) else station_list
        known |= set(sl.filter(pl.col("problem").is_null())["station_code"].to_list())
        station_list = sl
    result = read_cnemc(path, name=name, known_codes=known, register_unknown=register_unknown)
    return load_result(
        store,
        result,
        station_list=station_list,
        register_unknown=register_unknown,
        qa_config=qa_config,
        batch=batch,
        raw=path,
        quarantine_dir=quarantine_dir,
    )


def load_aqistudy(
    store: Store,
    path: str | Path | bytes,
    *,
    name: str | None = None,
    batch: BatchPolicy = "rows",
    quarantine_dir: str | Path | None = None,
) -> LoadReport:
    """``bogda ingest aqistudy PATH``: a daily city file (monitoring.md §2.3) as the city feeds' daily series.

    Each city becomes a feed site of its place (昌吉州 → 652300; Urumqi 650100, Shihezi 659001, Wujiaqu 659004
    created as ``kind=special`` places when missing); ``aqi`` is kept as the published ``aqi_pub`` only — it is not
    the HJ 633 daily AQI (§7.8), so the AQI tables and assessments never use it. Unknown cities and bad cells are
    rejected with file, line and reason; with ``batch="whole"`` an unknown city or a conflicting duplicate
    quarantines the file (:func:`load_result`).
    """
    from bogda.monitoring.ingest import read_aqistudy

    return load_result(store, read_aqistudy(path, name=name), batch=batch, raw=path, quarantine_dir=quarantine_dir)


def load_hj212(
    store: Store,
    records: Iterable[Mapping[str, Any]],
    *,
    units: Mapping[Any, str] | None = None,
    register_unknown: bool = False,
    kind: str = "air_station",
    qa_config: QAConfig = DEFAULT_CONFIG,
    batch: BatchPolicy = "rows",
    quarantine_dir: str | Path | None = None,
) -> LoadReport:
    """Load decoded HJ 212 data frames of air (ST 22) or water (ST 21) stations (monitoring.md §2.3).

    Hourly values come from CN 2061, else from ≥ 45 valid minutes of CN 2051
    (:func:`~bogda.monitoring.ingest.hours_from_minutes`, GB 3095); minute and real-time values are stored too.
    Source flags are kept (``N`` valid, ``M``/``C`` maintenance, ``T`` at ceiling …) and drive QA.
    ``batch="whole"`` (:func:`load_result`): the quarantined raw batch is the records as JSON lines.
    """
    from dataclasses import replace

    from bogda.monitoring.ingest import hours_from_minutes, read_hj212_values

    records = list(records)  # iterated twice in whole mode: read, then kept as the raw batch
    res = read_hj212_values(records, units=units)
    derived = hours_from_minutes(res.frame, res.frame)
    frame = pl.concat([res.frame, derived]) if derived.height else res.frame
    raw = (
        "".join(json.dumps(dict(r), ensure_ascii=False, default=str) + "\n" for r in records).encode()
        if batch == "whole"
        else None
    )
    return load_result(
        store,
        replace(res, frame=frame),
        register_unknown=register_unknown,
        kind=kind,
        qa_config=qa_config,
        batch=batch,
        raw=raw,
        quarantine_dir=quarantine_dir,
    )


# --- whole-batch policy (forecast.md §6) ----------------------------------------------------------------------


def _raw_bytes(result: ReadResult, raw: str | Path | bytes | None) -> bytes:
    """The raw batch for quarantine: ``raw`` (bytes, or the file it names), else the file ``result.file`` names."""
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw)
    path = Path(raw) if raw is not None else Path(result.file)
    if not path.is_file():
        raise ValueError(
            f"batch='whole' needs the raw batch to quarantine it: pass raw= (no file {str(path)!r} to copy)"
        )
    return path.read_bytes()


def _unregistered_codes(
    store: Store,
    result: ReadResult,
    station_list: pl.DataFrame | None,
    register_unknown: bool,
    kind: str,
) -> list[str]:
    """Codes of ``result.sites`` that :func:`~bogda.monitoring.stations.ensure_stations` would reject, found without
    writing anything: neither registered (``kind``) nor in ``station_list``, and ``register_unknown`` off."""
    if register_unknown or result.source in CITY_FEED_SOURCES or not result.sites:
        return []  # city feeds: the reader maps only the cities it knows (an unknown city is its rejection)
    from bogda.monitoring.stations import station_sites

    known = set(station_sites(store, kind=kind, feeds=True)["code"].to_list())
    if station_list is not None:
        known |= set(station_list.filter(pl.col("problem").is_null())["station_code"].to_list())
    return [c for c in dict.fromkeys(result.sites) if c not in known]


def default_quarantine_dir() -> Path:
    """``<data_dir>/quarantine/observations`` of the installation's settings."""
    from bogda.config import get_settings

    return get_settings().data_dir / QUARANTINE_SUBDIR


def quarantine_batch(
    data: bytes,
    rejected: Sequence[Rejection],
    *,
    file: str,
    source: str,
    directory: str | Path | None = None,
    now: datetime | None = None,
) -> Path:
    """Keep a refused batch (forecast.md §6): its bytes as ``<UTC timestamp>-<file name>`` and its per-row errors
    beside it as ``<same>.errors.json``. Nothing is overwritten: a name already taken gets the next microsecond.

    The JSON holds ``file, source, quarantined_at, errors``; each error has ``file, line, column, code, reason,
    raw`` with ``code`` the rejection kind (``unknown_station``, ``conflicting_duplicate``; null for the kinds
    that alone do not refuse a batch). Returns the path of the copied batch.
    """
    folder = Path(directory) if directory is not None else default_quarantine_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.\-]+", "_", Path(file).name).strip("_") or "batch"
    at = now or now_utc()
    while True:
        target = folder / f"{at:%Y%m%dT%H%M%S.%fZ}-{name}"
        try:
            with target.open("xb") as fh:  # exclusive: two refusals in the same microsecond keep both batches
                fh.write(data)
            break
        except FileExistsError:
            at += timedelta(microseconds=1)
    errors = [
        {"file": r.file, "line": r.line, "column": r.column, "code": r.kind, "reason": r.reason, "raw": r.raw}
        for r in rejected
    ]
    doc = {"file": file, "source": source, "quarantined_at": at.isoformat(), "errors": errors}
    target.with_name(target.name + ".errors.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return target


def _nothing_stored_inside(store: Store, hourly: pl.DataFrame) -> bool:
    """Whether no hourly pollutant series of the stations of ``hourly`` has a stored value inside its time span
    (from ``latest``: first and newest stored interval per series)."""
    from bogda.store.schema import latest

    sites = hourly["site_id"].unique().to_list()
    lo, hi = epoch_seconds(hourly["ts"].min()), epoch_seconds(hourly["ts"].max())
    with store.engine.connect() as conn:
        for chunk in _chunks(sites, 500):
            hit = conn.execute(
                select(latest.c.series_id)
                .join(series, series.c.id == latest.c.series_id)
                .where(
                    series.c.site_id.in_(chunk),
                    series.c.resolution == "hour",
                    series.c.parameter.in_(POLLUTANTS),
                    latest.c.first_ts <= hi,
                    latest.c.ts >= lo,
                )
                .limit(1)
            ).first()
            if hit is not None:
                return False
    return True


# --- QA flags --------------------------------------------------------------------------------------------------


def _series_ids(store: Store, site_ids: Sequence[int], parameters: Sequence[str]) -> pl.DataFrame:
    return S.find_series(store, sites=site_ids, parameters=parameters, resolution="hour").select(
        "series_id", "site_id", "parameter"
    )


@dataclass
class QAVerdicts:
    """QA verdicts of a window, computed but not yet stored (:func:`qa_verdicts` → :func:`store_verdicts`)."""

    sites: list[int]
    lo: datetime
    hi: datetime
    flagged: pl.DataFrame  # site_id, parameter, ts, flag, qa_reason of the non-valid values inside [lo, hi)


def _window_span(window: pl.DataFrame) -> tuple[list[int], datetime, datetime]:
    return window["site_id"].unique().to_list(), window["ts"].min(), window["ts"].max() + timedelta(hours=1)


def qa_context(
    store: Store, window: pl.DataFrame, *, now: datetime | None = None, inside_from_frame: bool | None = None
) -> pl.DataFrame:
    """The values QA of ``window`` needs: stored values ``CONTEXT`` either side and the values inside — read from
    ``window`` itself for a bulk span (longer than a week, ``value`` given), else from the store.

    For a bulk load call it **before** writing the window: the values either side are not touched by that write,
    so the QA of the window can then be computed while the store write runs.
    """
    sites, lo, hi = _window_span(window)
    if inside_from_frame is None:
        inside_from_frame = "value" in window.columns and hi - lo > timedelta(days=7)
    if inside_from_frame:
        parts = [
            S.read(store, sites=sites, parameters=POLLUTANTS, start=lo - CONTEXT, end=lo, now=now),
            window.select("site_id", "parameter", "ts", "value", "flag"),
            S.read(store, sites=sites, parameters=POLLUTANTS, start=hi, end=hi + CONTEXT, now=now),
        ]
        return pl.concat([p.with_columns(pl.col("site_id").cast(pl.Int64)) for p in parts])
    return S.read(store, sites=sites, parameters=POLLUTANTS, start=lo - CONTEXT, end=hi + CONTEXT, now=now)


def qa_verdicts(window: pl.DataFrame, obs: pl.DataFrame, *, config: QAConfig = DEFAULT_CONFIG) -> QAVerdicts:
    """Run QA over ``obs`` (:func:`qa_context`) and keep the non-valid verdicts inside the span of ``window``.

    Pure: no database, so it may run in a worker thread beside the store write of the same values.
    """
    sites, lo, hi = _window_span(window)
    empty = pl.DataFrame(
        schema={"site_id": pl.Int64, "parameter": pl.String, "ts": TS_DTYPE, "flag": pl.String, "qa_reason": pl.String}
    )
    if obs.height == 0:
        return QAVerdicts(sites, lo, hi, empty)
    frame = obs.select(
        pl.col("site_id").cast(pl.String).alias("site_code"),
        "ts",
        "parameter",
        "value",
        pl.lit("hour").alias("resolution"),
        pl.col("flag").alias("source_flag"),
    )
    qa = apply_qa(frame, config)
    flagged = qa.filter((pl.col("flag") != "valid") & (pl.col("ts") >= lo) & (pl.col("ts") < hi)).select(
        pl.col("site_code").cast(pl.Int64).alias("site_id"), "parameter", "ts", "flag", "qa_reason"
    )
    return QAVerdicts(sites, lo, hi, flagged)


def store_verdicts(store: Store, verdicts: QAVerdicts, *, now: datetime | None = None) -> dict[str, int]:
    """Replace the QA rows (``set_by = qa``) of the verdicts' stations and span; a person's rows are kept.
    Returns the number of values per resulting flag."""
    ids = _series_ids(store, verdicts.sites, POLLUTANTS)
    rows = verdicts.flagged.join(ids, on=["site_id", "parameter"], how="inner")
    stamp = now or now_utc()
    lo_s, hi_s = epoch_seconds(verdicts.lo), epoch_seconds(verdicts.hi)
    sids = ids["series_id"].to_list()
    with store.begin() as conn:
        manual = set()
        for chunk in _chunks(sids, 500):
            conn.execute(
                delete(qa_flag).where(
                    qa_flag.c.series_id.in_(chunk), qa_flag.c.ts >= lo_s, qa_flag.c.ts < hi_s, qa_flag.c.set_by == "qa"
                )
            )
            manual |= set(
                conn.execute(
                    select(qa_flag.c.series_id, qa_flag.c.ts).where(
                        qa_flag.c.series_id.in_(chunk), qa_flag.c.ts >= lo_s, qa_flag.c.ts < hi_s
                    )
                ).all()
            )
        records = [
            {
                "series_id": sid,
                "ts": t,
                "severity": flag,
                "rule": (reason or "source_flag")[:200],
                "param_version": "default",
                "set_by": "qa",
                "set_at": stamp,
            }
            for sid, t, flag, reason in rows.select(
                "series_id", pl.col("ts").dt.epoch("s"), "flag", "qa_reason"
            ).iter_rows()
        ]
        records = [r for r in records if (r["series_id"], r["ts"]) not in manual]
        if records:
            conn.execute(qa_flag.insert(), records)
    counts = rows.group_by("flag").len()
    return dict(zip(counts["flag"].to_list(), counts["len"].to_list(), strict=True))


def requalify(
    store: Store,
    window: pl.DataFrame,
    *,
    config: QAConfig = DEFAULT_CONFIG,
    now: datetime | None = None,
    inside_from_frame: bool | None = None,
) -> dict[str, int]:
    """Re-run QA over the stations and time span of ``window`` and replace their QA rows.

    ``window`` has ``site_id, ts`` (and, for a just-written file, ``parameter, value, flag``). Stored values
    ``CONTEXT`` either side are read as neighbours; only the verdicts inside the span are written. For spans longer
    than a week (a bulk load) the values inside are taken from ``window`` itself instead of being read back.
    Returns the number of values per resulting flag (``suspect``, ``invalid``, ``maintenance``).
    """
    obs = qa_context(store, window, now=now, inside_from_frame=inside_from_frame)
    return store_verdicts(store, qa_verdicts(window, obs, config=config), now=now)


def set_flag(
    store: Store,
    *,
    site_id: int,
    parameter: str,
    ts: datetime,
    severity: str,
    by: str,
    reason: str,
    now: datetime | None = None,
) -> None:
    """A person confirms or overrides the QA verdict of one hourly value (monitoring.md §3.1; audit it upstream).

    ``severity`` ``valid`` clears a QA flag for good (QA re-runs keep a person's row).
    """
    if severity not in ("valid", "suspect", "invalid", "maintenance"):
        raise ValueError(f"severity must be valid, suspect, invalid or maintenance, not {severity!r}")
    if not reason.strip():
        raise ValueError("a flag change needs a reason")
    ids = _series_ids(store, [site_id], [parameter])
    if ids.height == 0:
        raise LookupError(f"no hourly series {parameter} at site {site_id}")
    sid, t = int(ids["series_id"][0]), epoch_seconds(ts)
    with store.begin() as conn:
        conn.execute(delete(qa_flag).where(qa_flag.c.series_id == sid, qa_flag.c.ts == t))
        conn.execute(
            qa_flag.insert().values(
                series_id=sid, ts=t, severity=severity, rule="manual", set_by=by, reason=reason, set_at=now or now_utc()
            )
        )
    mark_dirty(store, pl.DataFrame({"site_id": [site_id], "ts": [ts]}, schema={"site_id": pl.Int64, "ts": TS_DTYPE}))


def read_qa(
    store: Store,
    *,
    sites: Sequence[int] | None = None,
    parameters: Sequence[str] = POLLUTANTS,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Hourly values with their QA verdict: ``site_id, parameter, ts, value, source_flag, flag, qa_reason``."""
    obs = S.read(store, sites=sites, parameters=parameters, start=start, end=end, now=now)
    if obs.height == 0:
        return obs.rename({"flag": "source_flag"}).with_columns(
            pl.lit(None, pl.String).alias("flag"), pl.lit(None, pl.String).alias("qa_reason")
        )
    ids = _series_ids(store, obs["site_id"].unique().to_list(), parameters)
    lo = epoch_seconds(start) if start else 0
    hi = epoch_seconds(end) if end else 2**62
    with store.engine.connect() as conn:
        flags = []
        for chunk in _chunks(ids["series_id"].to_list(), 500):
            flags += conn.execute(
                select(qa_flag.c.series_id, qa_flag.c.ts, qa_flag.c.severity, qa_flag.c.rule).where(
                    and_(qa_flag.c.series_id.in_(chunk), qa_flag.c.ts >= lo, qa_flag.c.ts < hi)
                )
            ).all()
    qf = (
        pl.DataFrame(
            flags,
            schema={"series_id": pl.Int64, "ts": pl.Int64, "flag": pl.String, "qa_reason": pl.String},
            orient="row",
        )
        .join(ids, on="series_id")
        .select(
            "site_id",
            "parameter",
            pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("ts"),
            "flag",
            "qa_reason",
        )
    )
    out = obs.rename({"flag": "source_flag"}).join(qf, on=["site_id", "parameter", "ts"], how="left")
    return out.with_columns(pl.col("flag").fill_null("valid"))


# --- dirty days ------------------------------------------------------------------------------------------------


def day_ts_expr(col: str = "ts") -> pl.Expr:
    """Unix seconds of 00:00 Beijing of the Beijing day holding ``col`` (an aware UTC datetime column)."""
    e = pl.col(col).dt.epoch("s")
    return ((e + BEIJING_OFFSET) // DAY) * DAY - BEIJING_OFFSET


def mark_dirty(store: Store, rows: pl.DataFrame, *, now: datetime | None = None) -> int:
    """Mark the Beijing days of ``rows`` (``site_id, ts``) dirty; returns the number of station-days."""
    days = rows.select(pl.col("site_id").cast(pl.Int64), day_ts_expr().alias("day_ts")).unique()
    if days.height == 0:
        return 0
    stamp = now or now_utc()
    with store.begin() as conn:
        have = set()
        for chunk in _chunks(days["site_id"].unique().to_list(), 500):
            have |= set(
                conn.execute(
                    select(aqi_dirty.c.site_id, aqi_dirty.c.day_ts).where(aqi_dirty.c.site_id.in_(chunk))
                ).all()
            )
        new = [{"site_id": s, "day_ts": d, "marked_at": stamp} for s, d in days.iter_rows() if (s, d) not in have]
        if new:
            conn.execute(aqi_dirty.insert(), new)
    return days.height


def _chunks(items: Sequence[Any], size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def series_of(store: Store, site_ids: Sequence[int]) -> pl.DataFrame:
    """Series rows of sites (all resolutions)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(series.c.id, series.c.site_id, series.c.parameter, series.c.resolution, series.c.unit).where(
                series.c.site_id.in_(list(site_ids))
            )
        ).all()
    return pl.DataFrame(
        rows,
        schema={
            "series_id": pl.Int64,
            "site_id": pl.Int64,
            "parameter": pl.String,
            "resolution": pl.String,
            "unit": pl.String,
        },
        orient="row",
    )


__all__ = [
    "BATCH_POLICIES",
    "CITY_FEED_SOURCES",
    "QUARANTINE_SUBDIR",
    "WHOLE_BATCH_KINDS",
    "BatchPolicy",
    "LoadReport",
    "QAVerdicts",
    "day_ts_expr",
    "default_quarantine_dir",
    "load_aqistudy",
    "load_cnemc",
    "load_hj212",
    "load_result",
    "mark_dirty",
    "qa_context",
    "qa_verdicts",
    "quarantine_batch",
    "read_qa",
    "requalify",
    "series_of",
    "set_flag",
    "store_verdicts",
]
