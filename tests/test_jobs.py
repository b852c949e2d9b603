from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bogda import jobs
from bogda.store import Store
from bogda.store.schema import job_run

CALLS: list[datetime] = []


def ok_job(store: Store, now: datetime) -> int:
    CALLS.append(now)
    return 7


def bad_job(store: Store, now: datetime) -> int:
    raise RuntimeError("source folder missing")


def test_run_once_logs_success_and_failure(store: Store) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    good = jobs.run_once(store, jobs.JobSpec("t.ok", f"{__name__}:ok_job", 5, "test"), now=now)
    assert (good["status"], good["rows"], good["error"]) == ("ok", 7, None)
    assert CALLS[-1] == now and good["finished_at"] >= good["started_at"]
    bad = jobs.run_once(store, jobs.JobSpec("t.bad", f"{__name__}:bad_job", 5, "test"), now=now)
    assert bad["status"] == "failed" and "source folder missing" in bad["error"]
    assert [r["job"] for r in jobs.recent_runs(store)] == ["t.bad", "t.ok"]


def test_scheduler_runs_registered_jobs(sqlite_store: Store) -> None:
    spec = jobs.JobSpec("t.sched", f"{__name__}:ok_job", 1, "test")
    sched = jobs.start_scheduler(sqlite_store, [spec])
    try:
        job = sched.get_job("t.sched")
        job.modify(next_run_time=datetime.now(UTC))  # run now instead of in a minute
        deadline = time.monotonic() + 30  # generous: CI runs two workers on two busy cores (was 50 polls, ~5 s)
        while time.monotonic() < deadline and not jobs.recent_runs(sqlite_store, job="t.sched"):
            time.sleep(0.1)
    finally:
        sched.shutdown(wait=True)
    runs = jobs.recent_runs(sqlite_store, job="t.sched")
    assert runs and runs[0]["status"] == "ok"


def test_every_default_job_resolves_to_a_function() -> None:
    assert {s.name for s in jobs.DEFAULT_JOBS} <= set(jobs.JOBS)
    for spec in jobs.DEFAULT_JOBS:
        assert callable(spec.function()), spec.target


def test_cli_runs_a_job(tmp_path) -> None:
    from typer.testing import CliRunner

    from bogda.cli import app

    url = f"sqlite:///{tmp_path / 'j.db'}"
    out = CliRunner().invoke(app, ["jobs", "run", "grid.route", "--database-url", url])
    assert out.exit_code == 0 and "grid.route: ok rows=0" in out.output
    listed = CliRunner().invoke(app, ["jobs", "list", "--database-url", url])
    assert "grid.route" in listed.output and "clues" in listed.output
    assert CliRunner().invoke(app, ["jobs", "run", "nope", "--database-url", url]).exit_code == 2


def test_overdue_jobs_run_soon_after_start_and_recent_ones_wait_their_interval(sqlite_store: Store) -> None:
    recent = jobs.JobSpec("t.recent", f"{__name__}:ok_job", 60, "ran 10 min ago")
    stale = jobs.JobSpec("t.stale", f"{__name__}:ok_job", 60, "ran 2 h ago")
    fresh = jobs.JobSpec("t.fresh", f"{__name__}:ok_job", 1440, "never ran")
    now = datetime.now(UTC)
    with sqlite_store.begin() as conn:
        for name, ago in (("t.recent", 10), ("t.stale", 120), ("t.recent", 200)):
            started = now - timedelta(minutes=ago)
            conn.execute(job_run.insert().values(job=name, started_at=started, finished_at=started, status="ok"))
    assert jobs.last_started(sqlite_store)["t.recent"] == now - timedelta(minutes=10)
    sched = jobs.start_scheduler(sqlite_store, [recent, stale, fresh])
    try:
        first = {j.id: j.next_run_time for j in sched.get_jobs()}
    finally:
        sched.shutdown(wait=False)
    assert abs(first["t.recent"] - (now + timedelta(minutes=50))) < timedelta(seconds=5)
    # the two overdue jobs start within seconds, one stagger apart, in the order given
    assert timedelta(0) < first["t.stale"] - now < timedelta(seconds=30)
    assert first["t.fresh"] - first["t.stale"] == timedelta(seconds=jobs.STARTUP_STAGGER_S)
