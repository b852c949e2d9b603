"""The scheduler: periodic jobs run in-process with APScheduler 3, every run logged in ``job_run``.

A job is a function ``fn(store, now) -> int | None`` (rows handled) that is idempotent over its time window, so a
run may be repeated or overlap the previous one (late data are re-polled by design, architecture §3). Jobs are
registered by the capabilities' service modules through :data:`JOBS`; faces (``bogda serve``, ``bogda jobs run``)
start or call them. One failing run is logged with its error and never stops the scheduler.

A job that is overdue when the scheduler starts (never run in this database, or its last run longer ago than its
interval) runs soon after the start instead of one interval later, as ``anacron`` does for a machine that was off:
a freshly built demo shows its forecasts within a minute rather than after the hourly refresh, and a server restarted
after a day's outage trains its forecast models that day, not the next.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

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


STARTUP_STAGGER_S = 3.0
"""Seconds between the first runs of the jobs that are overdue at start, so that they do not all start at once."""


def first_run_time(last_started: datetime | None, every_minutes: int, start: datetime, offset_s: float) -> datetime:
    """When a job first runs after the scheduler starts at ``start``: one interval after its last run, or, when that
    time has passed or the job never ran, ``offset_s`` seconds after the start.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, 8, tzinfo=UTC)
    >>> first_run_time(None, 60, t0, 3).time(), first_run_time(t0 - timedelta(hours=2), 60, t0, 3).time()
    (datetime.time(8, 0, 3), datetime.time(8, 0, 3))
    >>> first_run_time(t0 - timedelta(minutes=20), 60, t0, 3).time()
    datetime.time(8, 40)
    """
    soon = start + timedelta(seconds=offset_s)
    if last_started is None:
        return soon
    return max(last_started + timedelta(minutes=every_minutes), soon)


def last_started(store: Store) -> dict[str, datetime]:
    """The start of each job's latest run (any outcome: a failing job retries at its interval, not at every start)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(job_run.c.job, func.max(job_run.c.started_at)).group_by(job_run.c.job)).all()
    return {job: started for job, started in rows}


def start_scheduler(store: Store, specs: list[JobSpec] | None = None) -> Any:
    """Start a background APScheduler running ``specs`` (default: every registered job); returns it.

    Each job first runs at :func:`first_run_time` (overdue jobs soon after the start, in ``specs`` order), then
    every ``every_minutes``."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    start, last, offset = now_utc(), last_started(store), STARTUP_STAGGER_S
    for spec in specs if specs is not None else list(JOBS.values()):
        first = first_run_time(last.get(spec.name), spec.every_minutes, start, offset)
        if first <= start + timedelta(seconds=offset):  # overdue: the next overdue job starts a little later
            offset += STARTUP_STAGGER_S
        scheduler.add_job(
            run_once,
            "interval",
            minutes=spec.every_minutes,
            args=(store, spec),
            id=spec.name,
            name=spec.description,
            misfire_grace_time=spec.every_minutes * 60,
            next_run_time=first,
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
    # quarterly (forecast.md §3.4); after refresh and train, so that at start-up it never runs ahead of them, and on a
    # young installation (the demo) it returns at once: not enough history to tune
    JobSpec("forecast.tune", "bogda.forecast.service:tune", 90 * 1440, "预报轮数调优 / forecast round tuning"),
    JobSpec(
        "forecast.publication_duty",
        "bogda.forecast.publication:duty_job",
        10,
        "预报发布督办 / forecast not published by 20:00",
    ),
    JobSpec("grid.route", "bogda.grid.tasks:route_open_findings", 1, "问题派单 / findings to tasks"),
    JobSpec("tracing.apportion", "bogda.tracing.runs:queued_job", 1, "源解析排队任务 / queued PMF runs"),
    JobSpec("grid.escalate", "bogda.grid.tasks:escalate_overdue_job", 10, "超期提级 / escalate overdue tasks"),
)
"""Jobs that ``bogda serve`` schedules (``bogda jobs run NAME`` runs one now)."""

for _spec in DEFAULT_JOBS:
    register(_spec)
