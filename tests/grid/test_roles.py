"""Role × action × scope matrix of governance.md §3.12 (acceptance check 8), on the service layer.

The expected table below is written out by hand from the spec (not derived from ``bogda.grid.policy``): for each
action, the roles allowed in scope. Out of scope (a task in another prefecture, about another enterprise) every
role is refused, except the administrator's read-only view of everything. Each refusal is 403 and audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bogda.findings import FindingDraft
from bogda.grid.exif import write_jpeg
from bogda.grid.service_base import SYSTEM, Conflict, Forbidden, Invalid
from bogda.store import connect
from bogda.store.schema import audit, task
from grid.region import T0, A, C, Region, build_region

ROLES = ("pref", "county", "member", "chief", "enforcer", "ent", "viewer", "admin")

ALLOWED_IN_SCOPE: dict[str, set[str]] = {
    "view": {"pref", "county", "member", "chief", "enforcer", "ent", "viewer", "admin"},
    "create_finding": {"pref", "county", "member", "chief", "enforcer"},
    "dispatch": {"pref", "county"},
    "cancel": {"pref", "county"},
    "return": {"county", "member", "chief"},
    "sign": {"member", "chief"},  # county operator: only county-office tasks (²); enforcement: only its categories (³)
    "confirm": {"member", "chief"},
    "not_confirm": {"member", "chief"},
    "feedback": {"member", "chief"},
    "upload": {"member", "chief", "ent"},  # the enterprise adds evidence to its response
    "respond": {"ent"},
    "defer": {"pref", "county", "chief"},
    "resume": {"pref", "county", "chief"},
    "approve": {"pref", "county", "chief"},
    "reject": {"pref", "county", "chief"},
    "reopen": {"pref", "county"},
    "escalate": {"pref", "county"},
    "reset_deadline": {"pref", "county"},
    "lower_severity": {"pref", "county"},
}
ALLOWED_OUT_OF_SCOPE: dict[str, set[str]] = {"view": {"admin"}}

STATE_FOR = {
    "view": "HANDLING",
    "create_finding": None,
    "dispatch": "NEW",
    "cancel": "NEW",
    "return": "DISPATCHED",
    "sign": "DISPATCHED",
    "confirm": "ACCEPTED",
    "not_confirm": "ACCEPTED",
    "feedback": "HANDLING",
    "upload": "HANDLING",
    "respond": "HANDLING",
    "defer": "HANDLING",
    "resume": "SUSPENDED",
    "approve": "REVIEW",
    "reject": "REVIEW",
    "reopen": "CLOSED",
    "escalate": "HANDLING",
    "reset_deadline": "HANDLING",
    "lower_severity": "HANDLING",
}
PATH = {  # how SYSTEM brings a fresh task to a state
    "NEW": [],
    "DISPATCHED": ["dispatch"],
    "ACCEPTED": ["dispatch", "sign"],
    "HANDLING": ["dispatch", "sign", "confirm"],
    "REVIEW": ["dispatch", "sign", "confirm", "feedback"],
    "SUSPENDED": ["dispatch", "sign", "confirm", "defer"],
    "CLOSED": ["dispatch", "sign", "confirm", "feedback", "approve"],
}


@pytest.fixture(scope="module")
def mregion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    folder: Path = tmp_path_factory.mktemp("roles")
    st = connect(f"sqlite:///{folder / 'roles.db'}")
    yield build_region(st, folder / "data", dedupe=False)
    st.dispose()


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> Any:
        self.t += timedelta(minutes=7)
        return self.t


def make_task(r: Region, state: str, where: tuple[float, float], clock: Clock, *, enterprise: str) -> int:
    svc = r.service
    now = clock()
    out = svc.file_finding(
        FindingDraft(
            kind="alarm",
            severity="medium",
            title="测试",
            dedupe_key=f"k{uuid.uuid4().hex}",
            detected_at=now,
            lon=where[0],
            lat=where[1],
            subject_site_id=r.enterprises[enterprise],
        ),
        now=now,
    )
    tid = out.task_id
    assert tid is not None
    svc.flag(tid, "visible", SYSTEM, now=now, params={"visible": True})
    for ev in PATH[state]:
        now = clock()
        att: list[int] = []
        if ev in ("confirm", "feedback"):
            data = write_jpeg(taken_at=now, lon=where[0], lat=where[1], payload=f"{tid}{ev}".encode())
            att = [svc.add_evidence(tid, SYSTEM, data, "image/jpeg", now=now)["id"]]
        params: dict[str, Any] = {"measures": "m"} if ev == "feedback" else {}
        if ev == "defer":
            params = {"due": now + timedelta(days=10)}
        svc.transition(tid, ev, SYSTEM, now=now, attachments=att, comment="c", params=params)
    return tid


def attempt(r: Region, who: str, action: str, tid: int | None, where: tuple[float, float], clock: Clock) -> str:
    svc = r.service
    actor = r.actor(who)
    now = clock()
    try:
        if action == "view":
            svc.get_task(actor, tid, now=now)  # type: ignore[arg-type]
        elif action == "create_finding":
            svc.file_finding(
                FindingDraft(
                    kind="patrol",
                    severity="P3",
                    title="巡查",
                    dedupe_key=f"p{uuid.uuid4().hex}",
                    detected_at=now,
                    lon=where[0],
                    lat=where[1],
                ),
                now=now,
                actor=actor,
            )
        elif action == "upload":
            data = write_jpeg(taken_at=now, lon=where[0], lat=where[1], payload=f"u{tid}{who}".encode())
            svc.add_evidence(tid, actor, data, "image/jpeg", now=now)  # type: ignore[arg-type]
        elif action in ("respond", "escalate", "reset_deadline", "lower_severity"):
            params = {"due": now + timedelta(days=3), "severity": "P3"}
            svc.flag(tid, action, actor, now=now, comment="说明", params=params)  # type: ignore[arg-type]
        else:
            att: list[int] = []
            if action in ("confirm", "not_confirm", "feedback"):
                data = write_jpeg(taken_at=now, lon=where[0], lat=where[1], payload=f"a{tid}{who}".encode())
                att = [svc.add_evidence(tid, SYSTEM, data, "image/jpeg", now=now)["id"]]  # type: ignore[arg-type]
            params = {"measures": "m", "reason": "invalid", "due": now + timedelta(days=5)}
            svc.transition(tid, action, actor, now=now, attachments=att, comment="说明", params=params)  # type: ignore[arg-type]
    except Forbidden:
        return "403"
    except Conflict:
        return "409"
    except Invalid as exc:
        return f"422 {exc.reason}"
    return "ok"


def audit_count(r: Region) -> int:
    with r.store.engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(audit).where(audit.c.action == "access.denied")
        ).scalar_one()


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["in", "out"])
@pytest.mark.parametrize("action", list(ALLOWED_IN_SCOPE))
@pytest.mark.parametrize("who", ROLES)
def test_role_matrix(mregion: Region, who: str, action: str, scope: str) -> None:
    clock = Clock()
    where = A if scope == "in" else C
    ent = "E1" if scope == "in" else "E2"
    state = STATE_FOR[action]
    tid = make_task(mregion, state, where, clock, enterprise=ent) if state else None
    before = audit_count(mregion)
    allowed = ALLOWED_IN_SCOPE[action] if scope == "in" else ALLOWED_OUT_OF_SCOPE.get(action, set())
    got = attempt(mregion, who, action, tid, where, clock)
    if who in allowed:
        assert got == "ok"
    else:
        assert got == "403"
        assert audit_count(mregion) == before + 1  # every refusal audited


def test_county_operator_works_county_office_tasks(mregion: Region) -> None:
    """Footnote ²: a county operator signs a task owned by the county office itself."""
    clock = Clock()
    clock.t = T0 + timedelta(days=200)
    tid = make_task(mregion, "NEW", A, clock, enterprise="E1")
    svc = mregion.service
    county = mregion.actor("county")
    svc.transition(tid, "dispatch", county, now=clock(), params={"place_id": mregion.places["C1"]})
    assert svc.transition(tid, "sign", county, now=clock())["state"] == "ACCEPTED"


def test_enforcement_officer_works_enforcement_categories(mregion: Region) -> None:
    """Footnote ³: online-monitoring tasks are the enforcement officer's to sign and review."""
    clock = Clock()
    clock.t = T0 + timedelta(days=210)
    svc = mregion.service
    now = clock()
    tid = svc.file_finding(
        FindingDraft(
            kind="clue", severity="S2", title="CEMS 超标", dedupe_key="clue:1", detected_at=now, lon=A[0], lat=A[1]
        ),
        now=now,
    ).task_id
    assert tid is not None
    enf = mregion.actor("enforcer")
    svc.transition(tid, "dispatch", mregion.actor("pref"), now=clock())
    assert svc.transition(tid, "sign", enf, now=clock())["state"] == "ACCEPTED"


def test_four_eyes(mregion: Region) -> None:
    """Footnote ⁴: a chief cannot approve the feedback they submitted; another reviewer can."""
    clock = Clock()
    clock.t = T0 + timedelta(days=220)
    svc = mregion.service
    tid = make_task(mregion, "HANDLING", A, clock, enterprise="E1")
    chief = mregion.actor("chief")
    now = clock()
    eid = svc.add_evidence(
        tid, chief, write_jpeg(taken_at=now, lon=A[0], lat=A[1], payload=b"4eyes"), "image/jpeg", now=now
    )["id"]
    svc.transition(tid, "feedback", chief, now=clock(), attachments=[eid], params={"measures": "整改"})
    with pytest.raises(Forbidden, match="four-eyes"):
        svc.transition(tid, "approve", chief, now=clock())
    assert svc.transition(tid, "approve", mregion.actor("county"), now=clock())["state"] == "CLOSED"


def test_grid_member_lists_only_own_grid(mregion: Region) -> None:
    clock = Clock()
    clock.t = T0 + timedelta(days=230)
    make_task(mregion, "DISPATCHED", A, clock, enterprise="E1")
    make_task(mregion, "DISPATCHED", C, clock, enterprise="E2")
    svc = mregion.service
    ga, gc = mregion.places["GA"], mregion.places["GC"]

    def places_seen(who: str) -> set[int]:
        rows, _ = svc.list_tasks(mregion.actor(who), limit=1000)
        return {r["place_id"] for r in rows}

    assert places_seen("member") == {ga}
    assert places_seen("member_c") == {gc}
    assert gc not in places_seen("county")
    ent_rows, _ = svc.list_tasks(mregion.actor("ent"), limit=1000)
    assert ent_rows and {r["enterprise_id"] for r in ent_rows} == {mregion.enterprises["E1"]}
    ent2_rows, _ = svc.list_tasks(mregion.actor("ent2"), limit=1000)
    assert {r["enterprise_id"] for r in ent2_rows} == {mregion.enterprises["E2"]}
    _, n_all = svc.list_tasks(mregion.actor("admin"), limit=1)
    with mregion.store.engine.connect() as conn:
        assert n_all == conn.execute(select(func.count()).select_from(task)).scalar_one()


def test_enterprise_never_sees_petitions(mregion: Region) -> None:
    clock = Clock()
    clock.t = T0 + timedelta(days=240)
    svc = mregion.service
    now = clock()
    tid = svc.file_finding(
        FindingDraft(
            kind="petition",
            severity="low",
            title="举报",
            dedupe_key="pet:e",
            detected_at=now,
            lon=A[0],
            lat=A[1],
            subject_site_id=mregion.enterprises["E1"],
        ),
        now=now,
    ).task_id
    assert tid is not None
    svc.flag(tid, "visible", SYSTEM, now=clock(), params={"visible": True})
    with pytest.raises(Forbidden, match="not released"):
        svc.get_task(mregion.actor("ent"), tid, now=clock())
    rows, _ = svc.list_tasks(mregion.actor("ent"), sources=["petition"])
    assert rows == []
