"""The scripted closed-loop scenario of issue 6 with a controllable clock, and its KPIs computed by hand.

March 2025 (Beijing). Tasks (P2_station: sign 1 h after dispatch, on site 4 h, feedback 24 h, close 3 working
days from the start; P3_petition: sign 2 working days, close 60 d; P3_patrol: no sign deadline, close 7 d;
P1_satellite_fire: sign 1 h, close 3 d; P4_inspection: deadline from the 交办单):

T1 station alarm at A (cell GA, county C1), made Mon 03-03 10:00: dispatched 10:10, signed 10:30, confirmed 10:45
   (site photo), feedback 13:00, rejected 15:00 (rework 1), feedback 16:00, approved 17:00 → CLOSED.
   Relapse Thu 03-13 10:00 (new alarm, same cell) → REOPENED (repeat 1), new cycle: close due Tue 03-18 10:00;
   dispatched 10:05 (sign due 11:05); sweep 11:06 → escalation 1 (supervised by township T1), yellow card;
   sweep Fri 03-14 11:10 → escalation 2 (county C1); signed 12:00 (late), confirmed 12:30, feedback 14:00,
   approved 16:00 (on time: due 03-18).
T2 petition at B (county C2), made Tue 03-04 10:00, dispatched 10:00 (sign due Thu 03-06 10:00), signed Wed 03-05
   09:00, not confirmed (查否) 11:00, approved 15:00. Close due 05-03: outside March.
T3 patrol (dust) at A by the grid member, made Mon 03-10 09:00, close due Mon 03-17 09:00, dispatched 09:30, never
   signed → open and past due at the end of March.
T4 satellite fire point at B, made Thu 03-20 10:00, dispatched 10:05 (sign due 11:05), signed 10:30, confirmed
   11:00, feedback 12:00; never reviewed. Close due Sun 03-23 10:00.
T5 inspection item at B made Tue 03-25 10:00, cancelled 10:10 as a duplicate.

Hand-computed KPIs, period [03-01, 04-01) Beijing, as of 04-01 00:00:
- 签收及时率: sign due in March and dispatched: T1 (due 03-13 11:05, signed 03-14 → late), T2 (✓), T4 (✓);
  T3 has no sign deadline → 2/3 = 66.7 %.
- 反馈率: pushed fire/hotspot tasks made in March: T4, with feedback → 1/1 = 100.0 %.
- 查实率: verdicts given in March: T1 confirmed, T2 not confirmed, T4 confirmed → 2/3 = 66.7 %.
- 办结率 / 按期办结率: close due in March: T1 (03-18), T3 (03-17), T4 (03-23); closed: T1, on time →
  1/3 = 33.33 % and 33.33 %.
- 返工率: reviewed in March: T1, T2; with rework: T1 → 1/2 = 50.0 %.
- 重复率: made in March (T1–T5, cancelled included): T1 → 1/5 = 20.0 %; relapse part 1/5; 主动发现率 T3 → 20.0 %.
- 平均办结天数: T1 (03-14 16:00 − 12:00 = 4 h) and T2 (03-05 15:00 − 09:00 = 6 h) → 10 h / 2 = 0.2083 d → 0.2.
- 超期未办结: T3, T4.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bogda.findings import FindingDraft
from bogda.grid.exif import write_jpeg
from bogda.grid.kpi import replay
from bogda.grid.kpi_report import kpi_rows
from bogda.grid.service_base import SYSTEM
from bogda.store.schema import finding, task, task_event
from bogda.timeutil import BEIJING
from grid.region import A, B, Region


def bj(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=BEIJING).astimezone(UTC)


def photo(
    region: Region,
    task_id: int,
    actor_name: str,
    taken: datetime,
    at: tuple[float, float],
    now: datetime,
    stage: str = "site",
) -> int:
    data = write_jpeg(taken_at=taken, lon=at[0], lat=at[1], payload=f"{task_id}{taken}{stage}".encode())
    ev = region.service.add_evidence(task_id, region.actor(actor_name), data, "image/jpeg", now=now, stage=stage)
    assert ev["passed"], ev["flags"]
    return int(ev["id"])


def alarm(key: str, at: tuple[float, float], when: datetime, severity: str = "medium") -> FindingDraft:
    return FindingDraft(
        kind="alarm", severity=severity, title="PM2.5 超标报警", dedupe_key=key, detected_at=when, lon=at[0], lat=at[1]
    )


def run_scenario(region: Region) -> dict[str, int]:
    svc = region.service
    pref, member, chief = region.actor("pref"), region.actor("member"), region.actor("chief")
    county2, member_b = region.actor("county2"), region.actor("member_b")

    # --- T1: the full loop with rework -----------------------------------------------------------------------
    t0 = bj(3, 3, 10)
    r = svc.file_finding(alarm("alarm:A:1", A, t0), now=t0)
    assert r.action == "created"
    t1 = r.task_id
    assert t1 is not None
    with region.store.engine.connect() as conn:
        row = conn.execute(select(task).where(task.c.id == t1)).first()
    assert (row.state, row.place_id, row.severity, row.source, row.sla_key) == (
        "NEW",
        region.places["GA"],
        "P2",
        "station_alarm",
        "P2_station",
    )
    assert row.close_due == bj(3, 6, 10)  # 3 working days
    assert row.feedback_due == bj(3, 4, 10) and row.site_due == bj(3, 3, 14)
    svc.transition(t1, "dispatch", pref, now=bj(3, 3, 10, 10))
    svc.transition(t1, "sign", member, now=bj(3, 3, 10, 30))
    p1 = photo(region, t1, "member", bj(3, 3, 10, 40), (A[0] + 0.001, A[1]), bj(3, 3, 10, 41))
    svc.transition(t1, "confirm", member, now=bj(3, 3, 10, 45), attachments=[p1])
    p2 = photo(region, t1, "member", bj(3, 3, 12, 50), A, bj(3, 3, 12, 55), stage="after")
    svc.transition(t1, "feedback", member, now=bj(3, 3, 13), attachments=[p2], params={"measures": "停工整改"})
    svc.transition(t1, "reject", chief, now=bj(3, 3, 15), comment="照片不清晰，返工")
    p3 = photo(region, t1, "member", bj(3, 3, 15, 50), A, bj(3, 3, 15, 55), stage="after")
    svc.transition(t1, "feedback", member, now=bj(3, 3, 16), attachments=[p3], params={"measures": "已洒水抑尘"})
    closed = svc.transition(t1, "approve", chief, now=bj(3, 3, 17))
    assert (closed["state"], closed["rework_count"]) == ("CLOSED", 1)

    # --- T2: a petition, not confirmed (查否) ----------------------------------------------------------------
    r2 = svc.file_finding(
        FindingDraft(
            kind="petition",
            severity="low",
            title="噪声扰民",
            dedupe_key="pet:1",
            detected_at=bj(3, 4, 10),
            lon=B[0],
            lat=B[1],
        ),
        now=bj(3, 4, 10),
        actor=county2,
    )
    t2 = r2.task_id
    assert t2 is not None
    svc.transition(t2, "dispatch", county2, now=bj(3, 4, 10))
    svc.transition(t2, "sign", member_b, now=bj(3, 5, 9))
    q = photo(region, t2, "member_b", bj(3, 5, 10, 30), B, bj(3, 5, 10, 40))
    svc.transition(t2, "not_confirm", member_b, now=bj(3, 5, 11), attachments=[q], comment="现场未发现噪声源")
    svc.transition(t2, "approve", county2, now=bj(3, 5, 15))

    # --- T3: the grid member's own patrol finding, left open --------------------------------------------------
    r3 = svc.file_finding(
        FindingDraft(
            kind="patrol",
            severity="P3",
            title="工地扬尘",
            dedupe_key="patrol:1",
            detected_at=bj(3, 10, 9),
            lon=A[0] + 0.002,
            lat=A[1],
            evidence={"category": "dust"},
        ),
        now=bj(3, 10, 9),
        actor=member,
    )
    t3 = r3.task_id
    assert t3 is not None
    svc.transition(t3, "dispatch", pref, now=bj(3, 10, 9, 30))

    # --- T1 relapses ------------------------------------------------------------------------------------------
    r4 = svc.file_finding(alarm("alarm:A:2", (A[0] + 0.003, A[1]), bj(3, 13, 10)), now=bj(3, 13, 10))
    assert (r4.action, r4.task_id) == ("reopened", t1)
    svc.transition(t1, "dispatch", pref, now=bj(3, 13, 10, 5))
    changes = svc.escalate_overdue(now=bj(3, 13, 11, 6))
    assert {"task_id": t1, "escalation_level": 1} in changes
    with region.store.engine.connect() as conn:
        row = conn.execute(select(task).where(task.c.id == t1)).first()
    assert (row.escalation_level, row.supervising_place_id, row.card, row.overdue) == (
        1,
        region.places["T1"],
        "yellow",
        True,
    )
    assert svc.escalate_overdue(now=bj(3, 13, 12)) == []  # nothing new within the 24 h step
    svc.escalate_overdue(now=bj(3, 14, 11, 10))
    with region.store.engine.connect() as conn:
        row = conn.execute(select(task).where(task.c.id == t1)).first()
    assert (row.escalation_level, row.supervising_place_id) == (2, region.places["C1"])
    svc.transition(t1, "sign", member, now=bj(3, 14, 12))
    p4 = photo(region, t1, "member", bj(3, 14, 12, 20), A, bj(3, 14, 12, 25))
    svc.transition(t1, "confirm", member, now=bj(3, 14, 12, 30), attachments=[p4])
    p5 = photo(region, t1, "member", bj(3, 14, 13, 50), A, bj(3, 14, 13, 55), stage="after")
    svc.transition(t1, "feedback", member, now=bj(3, 14, 14), attachments=[p5], params={"measures": "复查整改"})
    svc.transition(t1, "approve", region.actor("county"), now=bj(3, 14, 16))

    # --- T4: satellite fire point, reviewed never -----------------------------------------------------------
    r5 = svc.file_finding(
        FindingDraft(
            kind="fire",
            severity="high",
            title="卫星火点",
            dedupe_key="fire:1",
            detected_at=bj(3, 20, 10),
            lon=B[0] + 0.004,
            lat=B[1],
        ),
        now=bj(3, 20, 10),
    )
    t4 = r5.task_id
    assert t4 is not None
    svc.transition(t4, "dispatch", pref, now=bj(3, 20, 10, 5))
    svc.transition(t4, "sign", member_b, now=bj(3, 20, 10, 30))
    f1 = photo(region, t4, "member_b", bj(3, 20, 10, 50), (B[0] + 0.004, B[1]), bj(3, 20, 10, 55))
    svc.transition(t4, "confirm", member_b, now=bj(3, 20, 11), attachments=[f1])
    f2 = photo(region, t4, "member_b", bj(3, 20, 11, 50), (B[0] + 0.004, B[1]), bj(3, 20, 11, 55), "after")
    svc.transition(t4, "feedback", member_b, now=bj(3, 20, 12), attachments=[f2], params={"measures": "已扑灭"})

    # --- T5: cancelled inspection item ----------------------------------------------------------------------
    r6 = svc.file_finding(
        FindingDraft(
            kind="inspection",
            severity="P4",
            title="督察交办件",
            dedupe_key="insp:1",
            detected_at=bj(3, 25, 10),
            lon=B[0],
            lat=B[1] + 0.004,
            evidence={"deadline": "2025-04-30T18:00:00+08:00"},
        ),
        now=bj(3, 25, 10),
    )
    t5 = r6.task_id
    assert t5 is not None
    svc.transition(t5, "cancel", pref, now=bj(3, 25, 10, 10), comment="与已办件重复", params={"reason": "duplicate"})
    return {"T1": t1, "T2": t2, "T3": t3, "T4": t4, "T5": t5}


def test_closed_loop_scenario_and_kpis(region: Region) -> None:
    ids = run_scenario(region)
    svc = region.service
    start, end = bj(3, 1, 0), bj(4, 1, 0)
    rows = kpi_rows(svc, region.actor("pref"), start, end, level="county")
    total = rows[-1]
    k = total["kpis"]
    expected = {
        "sign_timely": (2, 3, "66.7 %"),
        "feedback": (1, 1, "100.0 %"),
        "confirmed": (2, 3, "66.7 %"),
        "closure": (1, 3, "33.33 %"),
        "closure_on_time": (1, 3, "33.33 %"),
        "rework": (1, 2, "50.0 %"),
        "repeat": (1, 5, "20.0 %"),
        "relapse": (1, 5, "20.0 %"),
        "patrol_share": (1, 5, "20.0 %"),
        "patrol_frequency": (0, 0, "NA"),
    }
    got = {key: (int(k[key].numerator), k[key].denominator, k[key].display()) for key in expected}
    assert got == expected
    assert k["avg_days"].denominator == 2
    assert k["avg_days"].numerator == Decimal(10 * 3600) / Decimal(86400)
    assert k["avg_days"].display() == "0.2"
    assert total["overdue"] == sorted([ids["T3"], ids["T4"]])
    by_place = {r["place_id"]: r for r in rows}
    c1 = by_place[region.places["C1"]]["kpis"]  # T1, T3
    assert (int(c1["repeat"].numerator), c1["repeat"].denominator) == (1, 2)
    assert (int(c1["closure_on_time"].numerator), c1["closure_on_time"].denominator) == (1, 2)
    assert c1["sign_timely"].display() == "0.0 %"
    c2 = by_place[region.places["C2"]]["kpis"]  # T2, T4, T5 (cancelled)
    assert c2["sign_timely"].display() == "100.0 %" and c2["confirmed"].display() == "50.0 %"
    # as of an earlier date: replay, not the current rows (T1 was then closed once, never reopened)
    early = kpi_rows(svc, region.actor("pref"), start, bj(3, 8, 0), level="county")[-1]["kpis"]
    assert (int(early["rework"].numerator), early["rework"].denominator) == (1, 2)
    assert early["repeat"].display() == "0.0 %"


def test_replayed_state_equals_rows(region: Region) -> None:
    run_scenario(region)
    with region.store.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(task))}
        events = conn.execute(select(task_event)).mappings().all()
    facts = replay(events)
    for tid, row in rows.items():
        f = facts[tid]
        assert (f.state, f.repeat_count, f.rework_count, f.close_due, f.verdict) == (
            row.state,
            row.repeat_count,
            row.rework_count,
            row.close_due,
            row.verdict,
        )
    # every transition is in the log with its actor
    t1 = min(rows)
    names = [(e["event"], e["actor_login"]) for e in events if e["task_id"] == t1]
    assert names[:4] == [("create", "system"), ("dispatch", "pref"), ("sign", "member"), ("evidence", "member")]
    assert ("relapse", "system") in names and ("escalate", "system") in names


def test_findings_follow_their_task(region: Region) -> None:
    ids = run_scenario(region)
    with region.store.engine.connect() as conn:
        status = dict(conn.execute(select(finding.c.dedupe_key, finding.c.status)).all())
    assert status == {
        "alarm:A:1": "resolved",
        "alarm:A:2": "resolved",
        "pet:1": "resolved",
        "patrol:1": "dispatched",
        "fire:1": "dispatched",
        "insp:1": "dismissed",
    }
    assert ids["T5"] > ids["T4"]


def test_escalation_and_card_without_people(region: Region) -> None:
    """A P2 task nobody signs: level 1 at the first missed deadline, level 2 a step later, red after close."""
    svc = region.service
    t0 = bj(3, 3, 10)
    tid = svc.file_finding(alarm("alarm:B:9", B, t0), now=t0).task_id
    assert tid is not None
    svc.transition(tid, "dispatch", region.actor("pref"), now=t0)
    assert svc.escalate_overdue(now=t0 + timedelta(minutes=59)) == []
    svc.escalate_overdue(now=t0 + timedelta(minutes=61))
    svc.escalate_overdue(now=t0 + timedelta(hours=26))
    svc.escalate_overdue(now=bj(3, 6, 10, 1))  # past the close deadline (3 working days)
    with region.store.engine.connect() as conn:
        row = conn.execute(select(task).where(task.c.id == tid)).first()
        cards = [
            e.detail["new"]
            for e in conn.execute(select(task_event).where(task_event.c.task_id == tid, task_event.c.event == "card"))
        ]
    assert (row.escalation_level, row.card, row.overdue) == (2, "red", True)
    assert row.supervising_place_id == region.places["P"]  # GB → C2 → P
    assert cards == ["yellow", "red"]


@pytest.mark.parametrize("system_actor", [SYSTEM])
def test_system_writes_no_audit_rows(region: Region, system_actor: object) -> None:
    from bogda.audit import entries

    before = len(entries(region.store, action_prefix="task."))
    region.service.file_finding(alarm("alarm:A:7", A, bj(3, 3, 10)), now=bj(3, 3, 10))
    assert len(entries(region.store, action_prefix="task.")) == before
