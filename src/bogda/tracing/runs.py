"""Stored PMF runs and the adoption of their shares as the bureau's source shares (governance.md §3.11).

A run (:func:`bogda.tracing.esat.apportion`) is stored whole in ``apportionment_run`` (:func:`store_run`),
failed runs with their error (:func:`store_failure`): nothing is lost. From the console a run is submitted
(:func:`submit_run`: checked at once, queued) and the scheduler's ``tracing.apportion`` job runs it
(:func:`queued_job`; ESAT in its subprocess, never in the web process). Its PM2.5 shares become figures the platform
uses only when an analyst adopts them (:func:`adopt_shares`): they label every factor (sulfate, nitrate, biomass,
coal, dust, traffic, industry, other — :data:`~bogda.tracing.apportionment.SOURCE_OF_LABEL`; the suggestion from the
marker species is only a start), and the shares per source category and season (all samples, heating and
non-heating season, heavy days) are written as ``source_share`` rows in one transaction, with ``source_doc``
naming the run. The emission-based estimate of emergency lists (forecast.md §3.9 step 6,
:mod:`bogda.forecast.source_share`) then uses them like any study the bureau enters by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from bogda import audit
from bogda.forecast import source_share as ss
from bogda.standards.versions import standard_for
from bogda.store import Store
from bogda.store.schema import apportionment_run, aqi_daily
from bogda.timeutil import beijing_date, day_start_utc, epoch_seconds, now_utc
from bogda.tracing import apportionment as ap
from bogda.tracing import esat
from bogda.tracing.apportionment import ApportionmentError, Settings

SUMMARY_COLUMNS = (
    "id",
    "area_code",
    "site",
    "dataset",
    "status",
    "error",
    "factors",
    "seed",
    "esat_version",
    "q_true",
    "q_robust",
    "q_expected",
    "labels",
    "adopted_doc",
    "seconds",
    "created_by",
    "created_at",
    "started_at",
    "finished_at",
)


def heavy_days(store: Store, target_code: str, samples: Sequence[Any]) -> set[date] | None:
    """Days with a daily AQI > 200 (heavy pollution, HJ 633 level 5–6) of a station or area over the samples' span,
    from ``aqi_daily`` with the standard in force on each day; None when the store has no daily AQI of that target
    in the span (the run then falls back on the samples' own PM2.5, and says so)."""
    days = pd.to_datetime(pd.Series([str(s) for s in samples]), errors="coerce", format="mixed").dropna()
    if days.empty:
        return None
    lo = epoch_seconds(day_start_utc(days.min().date()))
    hi = epoch_seconds(day_start_utc(days.max().date()))
    q = select(aqi_daily.c.ts, aqi_daily.c.standard, aqi_daily.c.aqi).where(
        aqi_daily.c.target_code == target_code, aqi_daily.c.ts >= lo, aqi_daily.c.ts <= hi
    )
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    if not rows:
        return None
    out: set[date] = set()
    for ts, standard, aqi in rows:
        day = beijing_date(datetime.fromtimestamp(ts, UTC))
        if standard == standard_for(day) and aqi is not None and aqi > 200:
            out.add(day)
    return out


def _result_values(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "status": "done",
        "error": None,
        "esat_version": (record.get("esat") or {}).get("esat_version"),
        "q_true": record.get("q_true"),
        "q_robust": record.get("q_robust"),
        "q_expected": record.get("q_expected"),
        "result": dict(record),
        "seconds": record.get("seconds"),
    }


def _insert(
    conn: Any, place: tuple[str | None, str, str], factors: int, seed: int, by: str | None, now: datetime, **values: Any
) -> int:
    """Insert a run row; ``place`` is (area_code, site, dataset)."""
    area_code, site, dataset = place
    return int(
        conn.execute(
            apportionment_run.insert()
            .values(
                area_code=area_code,
                site=site,
                dataset=dataset[:300],
                factors=int(factors),
                seed=int(seed),
                created_by=by,
                created_at=now,
                **values,
            )
            .returning(apportionment_run.c.id)
        ).scalar_one()
    )


def store_run(
    store: Store,
    record: Mapping[str, Any],
    *,
    area_code: str | None = None,
    site: str = "",
    dataset: str = "",
    by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Store a finished run (the record of :func:`bogda.tracing.esat.apportion`); returns its id (audited)."""
    now = now or now_utc()
    settings = record["settings"]
    where = (area_code, site, dataset)
    with store.begin() as conn:
        rid = _insert(
            conn, where, settings["factors"], settings["seed"], by, now, finished_at=now, **_result_values(record)
        )
        audit.record(conn, action="apportionment.run", login=by, target=f"apportionment_run:{rid}", at=now)
    return int(rid)


def store_failure(
    store: Store,
    settings: Settings,
    error: str,
    *,
    area_code: str | None = None,
    site: str = "",
    dataset: str = "",
    by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Keep a failed run with its error (the worker's exit code and log tail, or the input error)."""
    now = now or now_utc()
    with store.begin() as conn:
        return _insert(
            conn,
            (area_code, site, dataset),
            settings.factors,
            settings.seed,
            by,
            now,
            status="failed",
            error=error,
            finished_at=now,
        )


# --------------------------------------------------------------------------------------------------------------
# Runs submitted from the console: checked at once, queued, run by the scheduler's ``tracing.apportion`` job
# --------------------------------------------------------------------------------------------------------------

MIN_GROUP_SAMPLES = 10
"""A season or heavy-day group with fewer samples is not adopted (d): too few to stand for it."""

INTERRUPTED_AFTER_S = esat.TIMEOUT_S + 600.0
"""A run still ``running`` this long after it started was interrupted (the server stopped): marked failed."""


def runs_dir(data_dir: Path | None = None) -> Path:
    """Where queued runs keep their input and job folders: ``data_dir/apportionment``."""
    if data_dir is None:
        from bogda.config import get_settings

        data_dir = get_settings().data_dir
    return Path(data_dir) / "apportionment"


def submit_run(
    store: Store,
    conc: pd.DataFrame,
    unc: pd.DataFrame,
    settings: Settings | None = None,
    *,
    overrides: Mapping[str, str] | None = None,
    area_code: str | None = None,
    site: str = "",
    dataset: str = "",
    by: str | None = None,
    data_dir: Path | None = None,
    now: datetime | None = None,
) -> int:
    """Check a pair now and queue its run; returns the run id (audited).

    The checks of :func:`bogda.tracing.esat.prepare` run at once, so bad input is refused here with the reason
    (:class:`ApportionmentError`) and nothing is queued. The matrices, as given, are kept in the run's folder
    (``data_dir/apportionment/run-<id>/input``); the ``tracing.apportion`` job (:func:`queued_job`) runs it.
    """
    settings = settings or Settings()
    esat.prepare(conc, unc, settings, overrides=overrides)
    now = now or now_utc()
    request = {"settings": asdict(settings), "overrides": dict(overrides or {})}
    with store.begin() as conn:
        rid = _insert(
            conn, (area_code, site, dataset), settings.factors, settings.seed, by, now, status="queued", request=request
        )
        folder = runs_dir(data_dir) / f"run-{rid}"
        (folder / "input").mkdir(parents=True, exist_ok=True)
        conc.to_csv(folder / "input" / "conc.csv")
        unc.to_csv(folder / "input" / "unc.csv")
        conn.execute(apportionment_run.update().where(apportionment_run.c.id == rid).values(job_dir=str(folder)))
        audit.record(conn, action="apportionment.submit", login=by, target=f"apportionment_run:{rid}", at=now)
    return rid


def _finish(store: Store, run_id: int, values: Mapping[str, Any]) -> None:
    with store.begin() as conn:
        conn.execute(
            apportionment_run.update().where(apportionment_run.c.id == run_id).values(finished_at=now_utc(), **values)
        )


def run_queued(store: Store, run_id: int, *, python: str | Path | None = None) -> str:
    """Run one queued run now; returns its final status (``done`` or ``failed``, the error stored)."""
    with store.begin() as conn:
        claimed = conn.execute(
            apportionment_run.update()
            .where(apportionment_run.c.id == run_id, apportionment_run.c.status == "queued")
            .values(status="running", started_at=now_utc())
        ).rowcount
    if not claimed:
        raise ApportionmentError(f"run {run_id} is not queued")
    run = get_run(store, run_id)
    try:
        request = run["request"] or {}
        settings = Settings(**request.get("settings", {}))
        folder = Path(run["job_dir"])
        conc = ap.read_matrix(folder / "input" / "conc.csv")
        unc = ap.read_matrix(folder / "input" / "unc.csv")
        heavy = heavy_days(store, run["area_code"], list(conc.index)) if run["area_code"] else None
        record = esat.apportion(
            conc,
            unc,
            settings,
            overrides=request.get("overrides") or None,
            heavy_days=heavy,
            python=python,
            job_dir=folder / "job",
        )
    except (ApportionmentError, OSError, ValueError, TypeError) as exc:
        # one bad run must not stop the job: it is kept, failed, with its reason
        _finish(store, run_id, {"status": "failed", "error": f"{exc.__class__.__name__}: {exc}"})
        return "failed"
    _finish(store, run_id, _result_values(record))
    return "done"


def queued_job(store: Store, now: datetime, *, python: str | Path | None = None) -> int:
    """Scheduler job ``tracing.apportion``: run every queued run, oldest first; returns how many ran.

    Runs left ``running`` longer than :data:`INTERRUPTED_AFTER_S` (the server stopped during one) are marked failed
    with that reason. ESAT runs in a subprocess (:mod:`bogda.tracing.esat`), never in this process.
    """
    stale = now.timestamp() - INTERRUPTED_AFTER_S
    with store.begin() as conn:
        running = conn.execute(
            select(apportionment_run.c.id, apportionment_run.c.started_at).where(
                apportionment_run.c.status == "running"
            )
        ).all()
        for rid, started in running:
            if started is None or started.timestamp() < stale:
                conn.execute(
                    apportionment_run.update()
                    .where(apportionment_run.c.id == rid)
                    .values(status="failed", error="interrupted: the server stopped during the run", finished_at=now)
                )
        queued = (
            conn.execute(
                select(apportionment_run.c.id)
                .where(apportionment_run.c.status == "queued")
                .order_by(apportionment_run.c.id)
            )
            .scalars()
            .all()
        )
    for rid in queued:
        run_queued(store, rid, python=python)
    return len(queued)


def list_runs(store: Store, *, area_code: str | None = None) -> list[dict[str, Any]]:
    """Stored runs, newest first, without their result matrices."""
    q = select(*[apportionment_run.c[c] for c in SUMMARY_COLUMNS]).order_by(apportionment_run.c.id.desc())
    if area_code is not None:
        q = q.where(apportionment_run.c.area_code == area_code)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def get_run(store: Store, run_id: int) -> dict[str, Any]:
    """One stored run with its result; ``LookupError`` when there is none with that id."""
    with store.engine.connect() as conn:
        row = conn.execute(select(apportionment_run).where(apportionment_run.c.id == run_id)).mappings().first()
    if row is None:
        raise LookupError(f"apportionment run {run_id} does not exist")
    return dict(row)


def run_doc(run: Mapping[str, Any]) -> str:
    """The ``source_doc`` of shares adopted from a run: names the run, its site and its samples."""
    result = run.get("result") or {}
    span = f"{result.get('first_sample', '')}–{result.get('last_sample', '')}".strip("–")
    site = f" {run['site']}" if run.get("site") else ""
    return f"ESAT PMF 源解析 #{run['id']}{site}（{run['factors']} 因子，{span}）"[:300]


def refusal(run: Mapping[str, Any]) -> str | None:
    """Why a run's shares cannot be adopted (not run yet, failed, already adopted, no mass species), or None."""
    if run["status"] in ("queued", "running"):
        return f"run {run['id']} is {run['status']}: it has no result yet"
    if run["status"] != "done":
        return f"run {run['id']} failed ({run.get('error')}): it has no shares to adopt"
    if run.get("adopted_doc"):
        return f"run {run['id']}'s shares were already adopted as {run['adopted_doc']!r}"
    if not (run.get("result") or {}).get("mass"):
        return f"run {run['id']} has no total-mass species: no shares in mass to adopt"
    return None


def adopt_shares(
    store: Store,
    run_id: int,
    labels: Mapping[str, str],
    *,
    area_code: str | None = None,
    seasons: tuple[str, ...] = ("all", "heating", "non_heating", "heavy"),
    study_year: int | None = None,
    by: str | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Write a run's PM2.5 shares as ``source_share`` rows, one study per season, all or none; returns their ids.

    ``labels`` gives every factor a label (:data:`~bogda.tracing.apportionment.SOURCE_OF_LABEL`) or a source
    category. ``area_code`` defaults to the run's. A group with fewer than 10 samples (d) is not adopted (too few to
    stand for the season). The factor shares are of the modelled PM2.5 (they sum to 1); the run's unexplained
    part (observed − modelled) is noted on each row. Raises :class:`ApportionmentError` (unknown label, unlabelled
    factor, failed run, already adopted) or :class:`~bogda.forecast.source_share.SourceShareError` naming the
    field; nothing is stored then.
    """
    run = get_run(store, run_id)
    refused = refusal(run)
    if refused:
        raise ApportionmentError(refused)
    area = area_code or run.get("area_code")
    if not area:
        raise ss.SourceShareError("area_code", "name the area the run's receptor stands for")
    result = run["result"]
    rows = [
        r
        for r in ap.proposed_shares(result["mass"], labels)
        if r["season"] in seasons and r["samples"] >= MIN_GROUP_SAMPLES
    ]
    if not rows:
        raise ApportionmentError(
            f"run {run_id}: no season with ≥ {MIN_GROUP_SAMPLES} samples among {', '.join(seasons)}"
        )
    doc = run_doc(run)
    now = now or now_utc()
    observed = {r["group"]: (r["observed_mean"], r["modelled_total"]) for r in result["mass"]}
    ids: list[int] = []
    with store.begin() as conn:
        for r in rows:
            obs, model = observed.get(r["season"], (None, None))
            note = f"因子 {', '.join(r['factors'])}；{r['samples']} 个样品"
            if obs is not None and model is not None:
                note += f"；模拟 PM2.5 {model:.2f} / 实测 {obs:.2f} µg/m³（份额按模拟总量）"
            ids.append(
                ss.insert_source_share(
                    conn,
                    area,
                    r["source"],
                    r["share"],
                    source_doc=doc,
                    pollutant="PM2.5",
                    season=r["season"],
                    study_year=study_year,
                    note=note,
                    by=by,
                    now=now,
                )
            )
        conn.execute(
            apportionment_run.update()
            .where(apportionment_run.c.id == run_id)
            .values(labels=dict(labels), adopted_doc=doc, area_code=area)
        )
        audit.record(
            conn,
            action="apportionment.adopt",
            login=by,
            target=f"apportionment_run:{run_id}",
            detail={"labels": dict(labels), "shares": ids},
            at=now,
        )
    return ids
