"""The scheduler: periodic jobs run in-process with APScheduler 3, every run logged in ``job_run``.

A job is a function ``fn(store, now) -> int | None`` (rows handled) that is idempotent over its time window, so a
run may be repeated or overlap the previous one (late data are re-polled by design, architecture §3). Jobs are
registered by the capabilities' service modules through :data:`JOBS`; faces (``bogda serve``, ``bogda jobs run``)
start or call them. One failing run is logged with its error and never stops the scheduler.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bogda.store import Store
from bogda.store.schema import job_run
from bogda.timeutil import now_utc

log = logging.getLogger(__name__)

JobFn = Callable[[Store, datetime], "int | None"]


@dataclass(frozen=True)
class JobSpec:
    """A periodic job: ``target`` is ``"module:function"`` (imported when run, so faces stay light)."""

    name: str
    target: str
    every_minutes: int
    description: str

    def function(self) -> JobFn:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


JOBS: dict[str, JobSpec] = {}
"""Registered jobs by name."""


def register(spec: JobSpec) -> JobSpec:
    """Add a job to :data:`JOBS` (a later registration with the same name replaces the earlier one)."""
    if spec.every_minutes < 1:
        raise ValueError(f"job {spec.name}: every_minutes must be at least 1")
    JOBS[spec.name] = spec
    return spec


def run_once(
    store: Store, spec: JobSpec, *, now: datetime | None = None, scheduled_at: datetime | None = None
) -> dict[str, Any]:
    """Run a job once and log it in ``job_run``; returns the log row. Errors are caught and logged, not raised."""
    started = now_utc()
    with store.begin() as conn:
        run_id = conn.execute(
            job_run.insert()
            .values(job=spec.name, scheduled_at=scheduled_at, started_at=started, status="running")
            .returning(job_run.c.id)
        ).scalar_one()
    status, rows, error = "ok", None, None
    try:
        rows = spec.function()(store, now or started)
    except Exception as exc:  # one failing run must not stop the scheduler
        status, error = "failed", f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        log.exception("job %s failed", spec.name)
    with store.begin() as conn:
        conn.execute(
            job_run.update()
            .where(job_run.c.id == run_id)
            .values(finished_at=now_utc(), status=status, rows=rows, error=error)
        )
        return dict(conn.execute(select(job_run).where(job_run.c.id == run_id)).mappings().one())


def recent_runs(store: Store, *, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest job runs first."""
    q = select(job_run).order_by(job_run.c.id.desc()).limit(limit)
    if job:
        q = q.where(job_run.c.job == job)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def start_scheduler(store: Store, specs: list[JobSpec] | None = None) -> Any:
    """Start a background APScheduler running ``specs`` (default: every registered job); returns it."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for spec in specs if specs is not None else list(JOBS.values()):
        scheduler.add_job(
            run_once,
            "interval",
            minutes=spec.every_minutes,
            args=(store, spec),
            id=spec.name,
            name=spec.description,
            misfire_grace_time=spec.every_minutes * 60,
        )
    scheduler.start()
    return scheduler


# --- the platform's jobs (wiring only: each calls one capability's service) -----------------------------------


def monitoring_aqi_job(store: Store, now: datetime) -> int:
    """Recompute the AQI tables for the station-days marked dirty by new or corrected data."""
    from bogda.monitoring.aqi_tables import update_aqi

    result = update_aqi(store, now=now)
    return result.hourly_rows + result.daily_rows


def monitoring_alarms_job(store: Store, now: datetime) -> int:
    """Same-day alarms (forecast.md §3.7): findings only, never tasks."""
    from bogda.monitoring.alarms import run_alarms

    run = run_alarms(store, now=now)
    return len(run.created) + len(run.updated) + len(run.escalated)


def fire_poll_job(store: Store, now: datetime) -> int:
    """Pick up new fire-product files from the configured folder or URL."""
    from bogda.config import get_settings
    from bogda.fire.poll import poll

    settings = get_settings()
    report = poll(store, settings.fire, spool=settings.data_dir / "fire", now=now)
    return len(report.picked)


DEFAULT_JOBS: tuple[JobSpec, ...] = (
    JobSpec("monitoring.aqi", "bogda.jobs:monitoring_aqi_job", 5, "AQI 计算 / AQI tables"),
    JobSpec("monitoring.alarms", "bogda.jobs:monitoring_alarms_job", 5, "当日报警 / same-day alarms"),
    JobSpec("monitoring.poll", "bogda.monitoring.repoll:poll_job", 60, "站点数据轮询 / station feed, last 3 h"),
    JobSpec("monitoring.repoll_daily", "bogda.monitoring.repoll:repoll_daily_job", 1440, "补采 / re-poll 72 h"),
    JobSpec("monitoring.repoll_weekly", "bogda.monitoring.repoll:repoll_weekly_job", 10080, "补采 / re-poll 30 d"),
    JobSpec("monitoring.dust", "bogda.monitoring.dust:candidate_job", 1440, "沙尘候选日 / dust candidates"),
    JobSpec("clues", "bogda.enforcement.service:scheduled_job", 60, "违法线索 / violation clues"),
    JobSpec("fire.poll", "bogda.jobs:fire_poll_job", 30, "火点接收 / fire points"),
    JobSpec("forecast.refresh", "bogda.forecast.service:refresh_job", 60, "预报刷新 / forecast refresh"),
    JobSpec("forecast.train", "bogda.forecast.service:train", 1440, "预报模型训练 / forecast training"),
    JobSpec("grid.route", "bogda.grid.tasks:route_open_findings", 1, "问题派单 / findings to tasks"),
    JobSpec("grid.escalate", "bogda.grid.tasks:escalate_overdue_job", 10, "超期提级 / escalate overdue tasks"),
)
"""Jobs that ``bogda serve`` schedules (``bogda jobs run NAME`` runs one now)."""

for _spec in DEFAULT_JOBS:
    register(_spec)
