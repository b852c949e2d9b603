"""The scheduler's grid jobs: findings filed by analyses become tasks; overdue tasks are escalated."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bogda.findings import FindingDraft, raise_findings
from bogda.grid.tasks import escalate_overdue_job, route_open_findings
from bogda.store.schema import task, task_finding
from grid.region import T0, A, B, Region


def test_findings_filed_by_analyses_are_routed_once(region: Region) -> None:
    drafts = [
        FindingDraft(
            kind="alarm", severity="high", title="PM2.5 超标", dedupe_key="al-1", detected_at=T0, lon=A[0], lat=A[1]
        ),
        FindingDraft(
            kind="clue", severity="S2", title="数据冻结", dedupe_key="cl-1", detected_at=T0, lon=B[0], lat=B[1]
        ),
    ]
    raise_findings(region.store, drafts, now=T0)
    assert route_open_findings(region.store, T0) == 2
    assert route_open_findings(region.store, T0 + timedelta(minutes=5)) == 0  # already linked: nothing twice
    with region.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(task)).scalar() == 2
        assert conn.execute(select(func.count()).select_from(task_finding)).scalar() == 2


def test_escalation_job_counts_escalated_tasks(region: Region) -> None:
    raise_findings(
        region.store,
        [
            FindingDraft(
                kind="alarm", severity="high", title="PM2.5", dedupe_key="al-2", detected_at=T0, lon=A[0], lat=A[1]
            )
        ],
        now=T0,
    )
    route_open_findings(region.store, T0)
    with region.store.engine.connect() as conn:
        tid = conn.execute(select(task.c.id)).scalar_one()
    region.service.transition(tid, "dispatch", region.actor("pref"), now=T0)  # NEW tasks are not escalated
    assert escalate_overdue_job(region.store, T0) == 0  # nothing is late yet
    assert escalate_overdue_job(region.store, T0 + timedelta(days=10)) >= 1
