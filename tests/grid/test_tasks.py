"""Service tests: routing, dedupe (acceptance 9), severity rise (10), the state table (6), evidence (§3.5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bogda.audit import entries
from bogda.findings import FindingDraft, raise_finding
from bogda.grid.exif import write_jpeg
from bogda.grid.service_base import SYSTEM, Conflict, Invalid, Refused
from bogda.grid.states import EVENTS, STATES, TRANSITIONS
from bogda.grid.tasks import GridConfig, GridService
from bogda.registry.people import add_person
from bogda.store.schema import evidence, task, task_event
from grid.region import T0, A, B, C, Region, minutes


def draft(kind: str, key: str, at: tuple[float, float] | None, severity: str = "medium", **kw: object) -> FindingDraft:
    lon, lat = at if at else (None, None)
    return FindingDraft(
        kind=kind, severity=severity, title=f"{kind} {key}", dedupe_key=key, detected_at=T0, lon=lon, lat=lat, **kw
    )  # type: ignore[arg-type]


def row_of(region: Region, tid: int):
    with region.store.engine.connect() as conn:
        return conn.execute(select(task).where(task.c.id == tid)).first()


def test_routes_to_lowest_place_with_people(region: Region) -> None:
    svc = region.service
    a = svc.file_finding(draft("alarm", "a", A), now=T0)
    assert row_of(region, a.task_id).place_id == region.places["GA"]  # cell GA has grid members
    c = svc.file_finding(draft("alarm", "c", C), now=T0)
    assert row_of(region, c.task_id).place_id == region.places["GC"]


def test_routes_to_county_office_without_cell_people(region: Region, tmp_path) -> None:
    from sqlalchemy import delete

    from bogda.store.schema import user

    with region.store.begin() as conn:
        conn.execute(delete(user).where(user.c.login.in_(["member_b", "chief_b"])))
    svc = GridService(region.store, GridConfig(data_dir=tmp_path))
    out = svc.file_finding(draft("alarm", "b", B), now=T0)
    assert row_of(region, out.task_id).place_id == region.places["C2"]
    # a person with grid duty at the township makes the township the owner
    with region.store.begin() as conn:
        add_person(conn, name="张三", duty="grid_chief", place_id=region.places["T1"])
        conn.execute(delete(user).where(user.c.login.in_(["member", "chief"])))
    out = svc.file_finding(draft("alarm", "a2", A), now=T0)
    assert row_of(region, out.task_id).place_id == region.places["T1"]


def test_outside_jurisdiction_stays_new(region: Region) -> None:
    svc = region.service
    out = svc.file_finding(draft("alarm", "far", (120.0, 30.0)), now=T0)
    row = row_of(region, out.task_id)
    assert (row.state, row.place_id, row.outside_jurisdiction) == ("NEW", None, True)
    with pytest.raises(Invalid, match="outside the jurisdiction"):
        svc.transition(row.id, "dispatch", region.actor("pref"), now=T0)
    done = svc.transition(row.id, "dispatch", region.actor("pref"), now=T0, params={"place_id": region.places["GB"]})
    assert (done["state"], done["place_id"], done["outside_jurisdiction"]) == ("DISPATCHED", region.places["GB"], False)


def test_dispatch_override_logged(region: Region) -> None:
    svc = region.service
    tid = svc.file_finding(draft("alarm", "o", A), now=T0).task_id
    svc.transition(tid, "dispatch", region.actor("county"), now=T0, params={"place_id": region.places["T1"]})
    with region.store.engine.connect() as conn:
        ev = conn.execute(
            select(task_event).where(task_event.c.task_id == tid, task_event.c.event == "dispatch")
        ).first()
    assert ev.detail["override"] == {"from": region.places["GA"], "to": region.places["T1"]}
    # and the county operator may not route into another county
    tid2 = svc.file_finding(draft("alarm", "o2", A, evidence={"category": "dust"}), now=T0).task_id
    from bogda.grid.service_base import Forbidden

    with pytest.raises(Forbidden):
        svc.transition(tid2, "dispatch", region.actor("county"), now=T0, params={"place_id": region.places["GB"]})


def test_acceptance_9_duplicates_and_relapse(region: Region, tmp_path) -> None:
    """A second petition while HANDLING attaches (repeat 1); after closing, a patrol finding at the same place
    within 30 d reopens (repeat 2; across sources, so ``dedupe_across_sources`` is on); a repeat of the same alarm
    (same dedupe key) leaves repeat_count alone."""
    svc = GridService(region.store, GridConfig(data_dir=tmp_path, dedupe_across_sources=True))
    e1 = region.enterprises["E1"]
    ev = {"category": "air"}
    t = svc.file_finding(draft("petition", "pet1", A, subject_site_id=e1, evidence=ev), now=T0).task_id
    pref, member, chief = (region.actor(n) for n in ("pref", "member", "chief"))
    svc.transition(t, "dispatch", pref, now=T0)
    svc.transition(t, "sign", member, now=T0 + minutes(5))
    p = svc.add_evidence(
        t, member, write_jpeg(taken_at=T0 + minutes(6), lon=A[0], lat=A[1]), "image/jpeg", now=T0 + minutes(7)
    )
    svc.transition(t, "confirm", member, now=T0 + minutes(8), attachments=[p["id"]])
    second = svc.file_finding(draft("petition", "pet2", A, subject_site_id=e1, evidence=ev), now=T0 + minutes(9))
    assert (second.action, second.task_id) == ("attached", t)
    assert row_of(region, t).repeat_count == 1
    q = svc.add_evidence(
        t,
        member,
        write_jpeg(taken_at=T0 + minutes(10), lon=A[0], lat=A[1], payload=b"2"),
        "image/jpeg",
        now=T0 + minutes(11),
    )
    svc.transition(t, "feedback", member, now=T0 + minutes(12), attachments=[q["id"]], params={"measures": "处理"})
    svc.transition(t, "approve", chief, now=T0 + minutes(13))
    relapse = svc.file_finding(
        draft("patrol", "patrol1", A, severity="P3", subject_site_id=e1, evidence=ev), now=T0 + timedelta(days=20)
    )
    assert (relapse.action, relapse.task_id) == ("reopened", t)
    row = row_of(region, t)
    assert (row.state, row.repeat_count) == ("REOPENED", 2)
    # after the window: a new task naming the old one
    svc.transition(t, "dispatch", pref, now=T0 + timedelta(days=20, minutes=1))
    # same alarm twice: one finding updated, repeat_count unchanged
    a1 = svc.file_finding(draft("alarm", "al", B), now=T0)
    a2 = svc.file_finding(draft("alarm", "al", B), now=T0 + minutes(30))
    assert a2.task_id == a1.task_id and a2.action == "unchanged"
    assert row_of(region, a1.task_id).repeat_count == 0


def test_repeat_of_after_window(region: Region) -> None:
    svc = region.service
    t = svc.file_finding(draft("alarm", "w1", B), now=T0).task_id
    svc.transition(t, "cancel", region.actor("pref"), now=T0, comment="误报", params={"reason": "invalid"})
    again = svc.file_finding(draft("alarm", "w2", B), now=T0 + minutes(1))
    assert again.action == "created" and again.task_id != t
    assert row_of(region, again.task_id).repeat_of == t


def test_acceptance_10_severity_rise(region: Region) -> None:
    svc = region.service
    t0 = T0
    out = svc.file_finding(draft("alarm", "sr", B, severity="medium"), now=t0)
    tid = out.task_id
    svc.transition(tid, "dispatch", region.actor("pref"), now=t0 + minutes(10))
    before = row_of(region, tid)
    assert (before.severity, before.escalation_level) == ("P2", 0)
    # the same alarm rises to high: the finding updates, routing recomputes the class
    with region.store.begin() as conn:
        res = raise_finding(conn, draft("alarm", "sr", B, severity="high"), now=t0 + minutes(20))
    assert res.action == "updated"
    r = svc.route_finding(res.finding_id, now=t0 + minutes(20))
    assert r.action == "severity_raised"
    after = row_of(region, tid)
    assert (after.severity, after.escalation_level, after.supervising_place_id) == ("P1", 1, region.places["C2"])
    # P1 deadlines counted from the original starts, never later than before
    assert after.sign_due == t0 + minutes(10) + minutes(15)
    assert after.close_due == t0 + timedelta(hours=24) <= before.close_due
    assert after.feedback_due == t0 + timedelta(hours=2)
    with region.store.engine.connect() as conn:
        names = [e.event for e in conn.execute(select(task_event).where(task_event.c.task_id == tid))]
    assert names[-2:] == ["severity_raised", "escalate"]
    # lowering needs a dispatcher and a reason
    with pytest.raises(Invalid, match="reason"):
        svc.flag(tid, "lower_severity", region.actor("pref"), now=t0 + minutes(30), params={"severity": "P2"})
    from bogda.grid.service_base import Forbidden

    with pytest.raises(Forbidden):
        svc.flag(
            tid,
            "lower_severity",
            region.actor("member_b"),
            now=t0 + minutes(30),
            comment="x",
            params={"severity": "P2"},
        )
    low = svc.flag(
        tid, "lower_severity", region.actor("pref"), now=t0 + minutes(31), comment="误判", params={"severity": "P2"}
    )
    assert low["severity"] == "P2"


@pytest.mark.parametrize("state", STATES)
def test_acceptance_6_unlisted_pairs_conflict(region: Region, state: str) -> None:
    """Every (state, event) pair outside §3.2 → 409 naming the state, nothing changed, audited."""
    svc = region.service
    tid = svc.file_finding(draft("alarm", f"s-{state}", B), now=T0).task_id
    with region.store.begin() as conn:
        conn.execute(task.update().where(task.c.id == tid).values(state=state, resume_state="HANDLING"))
    pref = region.actor("pref")
    for event in EVENTS:
        if (state, event) in TRANSITIONS:
            continue
        before = row_of(region, tid)
        actor = SYSTEM
        with pytest.raises(Conflict) as exc:
            svc.transition(tid, event, actor, now=T0, comment="x", params={"reason": "invalid"})
        assert exc.value.status == 409 and exc.value.extra["state"] == state
        assert row_of(region, tid) == before
    n = len(entries(region.store, action_prefix="task.conflict"))
    with pytest.raises(Conflict):
        svc.transition(tid, "approve" if state != "REVIEW" else "dispatch", pref, now=T0, comment="x")
    assert len(entries(region.store, action_prefix="task.conflict")) == n + 1


@pytest.mark.parametrize(
    ("event", "params", "comment", "field"),
    [
        ("cancel", {"reason": "because"}, "x", "reason"),
        ("cancel", {"reason": "invalid"}, None, "comment"),
        ("bogus", {}, None, "event"),
    ],
)
def test_bad_input_is_invalid(region: Region, event: str, params: dict, comment: str | None, field: str) -> None:
    tid = region.service.file_finding(draft("alarm", "bad", B), now=T0).task_id
    with pytest.raises(Invalid) as exc:
        region.service.transition(tid, event, region.actor("pref"), now=T0, params=params, comment=comment)
    assert exc.value.field == field


def _to_accepted(region: Region, at: tuple[float, float], key: str, kind: str = "alarm") -> int:
    svc = region.service
    tid = svc.file_finding(draft(kind, key, at), now=T0).task_id
    svc.transition(tid, "dispatch", region.actor("pref"), now=T0)
    svc.transition(tid, "sign", region.actor("member_b"), now=T0 + minutes(10))
    return tid


@pytest.mark.parametrize(
    ("photo", "flags"),
    [
        ({"taken": 15, "at": B}, []),
        ({"taken": None, "at": B}, ["no_exif_time"]),
        ({"taken": 15, "at": None}, ["no_gps"]),
        ({"taken": 15, "at": (B[0] + 0.05, B[1])}, ["outside_area"]),  # ≈ 4 km away, outside the cell + 500 m
        ({"taken": -60, "at": B}, ["before_sign"]),
        ({"taken": 600, "at": B}, ["after_upload"]),  # a clock set forward: taken after the upload
    ],
)
def test_photo_flags(region: Region, photo: dict, flags: list[str]) -> None:
    tid = _to_accepted(region, B, "ph")
    taken = None if photo["taken"] is None else T0 + minutes(10 + photo["taken"])
    at = photo["at"]
    data = write_jpeg(taken_at=taken, lon=at[0] if at else None, lat=at[1] if at else None)
    ev = region.service.add_evidence(tid, region.actor("member_b"), data, "image/jpeg", now=T0 + minutes(30))
    assert ev["flags"] == flags and ev["passed"] is (not flags)
    assert len(ev["sha256"]) == 64


def test_transition_blocked_only_if_no_photo_passes(region: Region) -> None:
    svc = region.service
    tid = _to_accepted(region, B, "blk")
    mb = region.actor("member_b")
    bad = svc.add_evidence(
        tid, mb, write_jpeg(taken_at=T0 - minutes(1), lon=B[0], lat=B[1]), "image/jpeg", now=T0 + minutes(20)
    )
    with pytest.raises(Invalid, match="before_sign"):
        svc.transition(tid, "confirm", mb, now=T0 + minutes(21), attachments=[bad["id"]])
    with pytest.raises(Invalid, match="at least one"):
        svc.transition(tid, "confirm", mb, now=T0 + minutes(21))
    good = svc.add_evidence(
        tid, mb, write_jpeg(taken_at=T0 + minutes(19), lon=B[0], lat=B[1]), "image/jpeg", now=T0 + minutes(22)
    )
    out = svc.transition(tid, "confirm", mb, now=T0 + minutes(23), attachments=[bad["id"], good["id"]])
    assert out["state"] == "HANDLING"
    # kept, never dropped
    with region.store.engine.connect() as conn:
        assert len(conn.execute(select(evidence).where(evidence.c.task_id == tid)).all()) == 2


def test_hash_reused_on_another_task(region: Region) -> None:
    svc = region.service
    mb = region.actor("member_b")
    t1 = _to_accepted(region, B, "h1")
    t2 = _to_accepted(region, (B[0] + 0.01, B[1]), "h2", kind="hotspot")
    data = write_jpeg(taken_at=T0 + minutes(15), lon=B[0], lat=B[1])
    assert svc.add_evidence(t1, mb, data, "image/jpeg", now=T0 + minutes(20))["flags"] == []
    assert "hash_reused" in svc.add_evidence(t2, mb, data, "image/jpeg", now=T0 + minutes(20))["flags"]


@pytest.mark.parametrize(
    ("data", "ctype", "status"),
    [
        (b"GIF89a" + b"\x00" * 100, "image/jpeg", 415),  # bytes are not a JPEG
        (write_jpeg(taken_at=T0, lon=B[0], lat=B[1]), "image/png", 415),  # declared PNG, bytes JPEG
        (b"\xff\xd8\xff" + b"\x00" * 100, "application/pdf", 415),
        (b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024), "image/jpeg", 413),
        (b"\xff\xd8\xff", "image/jpeg", 422),
    ],
)
def test_forged_uploads_refused_and_audited(region: Region, data: bytes, ctype: str, status: int) -> None:
    tid = _to_accepted(region, B, "forged")
    n = len(entries(region.store, action_prefix="evidence.refused"))
    with pytest.raises(Refused) as exc:
        region.service.add_evidence(tid, region.actor("member_b"), data, ctype, now=T0 + minutes(30))
    assert exc.value.status == status
    rows = entries(region.store, action_prefix="evidence.refused")
    assert len(rows) == n + 1 and rows[0]["login"] == "member_b"
    with region.store.engine.connect() as conn:
        assert conn.execute(select(evidence).where(evidence.c.task_id == tid)).first() is None


def test_gcj02_app_stamp_is_converted(region: Region) -> None:
    from bogda.geo import wgs84_to_gcj02

    tid = _to_accepted(region, B, "gcj")
    glon, glat = wgs84_to_gcj02(B[0], B[1])
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    ev = region.service.add_evidence(
        tid,
        region.actor("member_b"),
        png,
        "image/png",
        now=T0 + minutes(30),
        stamp={"lon": float(glon), "lat": float(glat), "coord_sys": "gcj02", "taken_at": T0 + minutes(20)},
    )
    assert ev["flags"] == [] and ev["coord_sys"] == "gcj02"
    assert ev["lon"] == pytest.approx(B[0], abs=1e-5) and ev["lat"] == pytest.approx(B[1], abs=1e-5)


def test_defer_and_resume(region: Region) -> None:
    svc = region.service
    tid = _to_accepted(region, B, "def")
    mb = region.actor("member_b")
    p = svc.add_evidence(
        tid, mb, write_jpeg(taken_at=T0 + minutes(12), lon=B[0], lat=B[1]), "image/jpeg", now=T0 + minutes(13)
    )
    svc.transition(tid, "confirm", mb, now=T0 + minutes(14), attachments=[p["id"]])
    chief = region.actor("chief_b")
    with pytest.raises(Invalid, match="due"):
        svc.transition(tid, "defer", chief, now=T0 + minutes(15), comment="等待材料")
    due = T0 + timedelta(days=30)
    out = svc.transition(tid, "defer", chief, now=T0 + minutes(15), comment="等待材料", params={"due": due})
    assert (out["state"], out["close_due"]) == ("SUSPENDED", due)
    assert svc.transition(tid, "resume", chief, now=T0 + minutes(16))["state"] == "HANDLING"


def test_audit_row_per_write(region: Region) -> None:
    tid = region.service.file_finding(draft("alarm", "au", B), now=T0).task_id
    region.service.transition(tid, "dispatch", region.actor("pref"), now=T0)
    row = entries(region.store, action_prefix="task.dispatch")[0]
    assert (row["login"], row["target"], row["detail"]["to"]) == ("pref", f"task:{tid}", "DISPATCHED")


def test_on_the_spot_fix_is_one_atomic_action(region: Region) -> None:
    svc = region.service
    member = region.actor("member")
    found = T0
    photo = write_jpeg(taken_at=T0 + minutes(20), lon=A[0], lat=A[1], payload=b"spot")
    d = draft("patrol", "spot1", A, severity="P3", evidence={"category": "dust"})
    out = svc.on_the_spot(d, member, now=T0 + minutes(30), photos=[(photo, "image/jpeg")], measures="当场覆盖裸土")
    row = row_of(region, out.task_id)
    assert (row.state, row.verdict, row.signed_at, row.feedback_by) == ("REVIEW", "confirmed", found, member.user_id)
    with region.store.engine.connect() as conn:
        names = [e.event for e in conn.execute(select(task_event).where(task_event.c.task_id == row.id))]
    assert names == ["create", "dispatch", "sign", "evidence", "confirm", "feedback"]
    # a failing photo (taken long before the finding) refuses the whole action: nothing stored
    old = write_jpeg(taken_at=T0 - timedelta(days=2), lon=A[0], lat=A[1], payload=b"old")
    d2 = draft("patrol", "spot2", (A[0] + 0.005, A[1]), severity="P3", evidence={"category": "noise"})
    with pytest.raises(Invalid, match="before_sign"):
        svc.on_the_spot(d2, member, now=T0 + minutes(30), photos=[(old, "image/jpeg")], measures="x")
    with region.store.engine.connect() as conn:
        assert conn.execute(select(task).where(task.c.category == "noise")).first() is None
    # a grid member may not fix a petition on the spot
    from bogda.grid.service_base import Forbidden

    with pytest.raises(Forbidden):
        svc.on_the_spot(draft("petition", "spot3", A), member, now=T0, photos=[(photo, "image/jpeg")], measures="x")


def test_sla_override_and_holiday_edit(region: Region) -> None:
    from datetime import date

    from bogda.grid.service_base import Forbidden

    svc = region.service
    pref, county = region.actor("pref"), region.actor("county")
    with pytest.raises(Forbidden):
        svc.set_sla_rule(county, "station_alarm", "P2", {"close": "1wd"}, now=T0)
    with pytest.raises(Invalid, match="close: duration"):
        svc.set_sla_rule(pref, "station_alarm", "P2", {"close": "soon"}, now=T0)
    svc.set_sla_rule(pref, "station_alarm", "P2", {"sign": "30m", "feedback": "12h", "close": "1wd"}, now=T0)
    assert svc.sla_table()["overrides"]["station_alarm/P2"]["close"] == "1wd"
    # Tuesday 2025-03-04 made a holiday: one working day from Monday lands on Wednesday
    svc.set_holiday(pref, date(2025, 3, 4), "off", name="测试", now=T0)
    tid = svc.file_finding(draft("alarm", "sla", B), now=T0).task_id
    row = row_of(region, tid)
    assert (row.sla_key, row.close_due) == ("station_alarm/P2", T0 + timedelta(days=2))
    assert entries(region.store, action_prefix="holiday.set")[0]["login"] == "pref"
    svc.set_sla_rule(pref, "station_alarm", "P2", None, now=T0)
    assert svc.sla_table()["overrides"] == {}
