"""Service layer: store → catalogue → clue findings, idempotent re-runs, evaluation table, job_run (demo region)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bogda import findings as F
from bogda.enforcement import planbook, service
from bogda.enforcement.clues import bundle_sha256
from bogda.enforcement.planbook import PlanInput
from bogda.store import Store
from bogda.store.schema import clue, clue_eval, finding, job_run
from enforcement.synthetic import START, Injected, bj, write_demo_data

SINCE, UNTIL = START + timedelta(days=5), START + timedelta(days=20)


@pytest.fixture
def seeded(demo_store: Store) -> tuple[Store, Injected]:
    inj = write_demo_data(demo_store)
    with demo_store.begin() as conn:
        planbook.add_plan(conn, PlanInput("order", level="red", start=bj(14), end=bj(17), doc_id="昌环应急〔2026〕1号"))
        planbook.add_plan(
            conn, PlanInput("stagger_window", enterprise="CJ-CM1", start=bj(5), end=bj(9), doc_id="错峰〔2026〕1号")
        )
    return demo_store, inj


def _clues(store: Store) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(clue).order_by(clue.c.id)).mappings()]


def _by_rule(rows: list[dict], rule: str, subject: str | None = None) -> list[dict]:
    return [r for r in rows if r["rule_id"] == rule and (subject is None or r["evidence"]["subject"]["id"] == subject)]


def test_registry_reads_outlets_meters_pairs(seeded: tuple[Store, Injected]) -> None:
    store, _ = seeded
    reg = service.load_registry(store, ["ZD-PW1", "FK-CM1"])
    assert sorted(o.outlet_id for o in reg.outlets) == ["FK-CM1-DA001", "ZD-PW1-DA001", "ZD-PW1-DA002"]
    o = next(o for o in reg.outlets if o.outlet_id == "ZD-PW1-DA001")
    assert o.o2_ref_pct == 6.0 and o.limits["a21002"] == (50.0, None) and o.limit_source == "ultra_low"
    assert o.production_meter_id == "ZD-PW1-M1" and o.source_type == "coal_unit"
    assert sorted((p.production_id, p.treatment_id) for p in reg.pairs) == [
        ("FK-CM1-M1", "FK-CM1-M2"),
        ("ZD-PW1-M1", "ZD-PW1-M2"),
    ]


def test_run_files_injected_clues_with_evidence(seeded: tuple[Store, Injected]) -> None:
    store, inj = seeded
    rep = service.run_clues(store, since=SINCE, until=UNTIL, enterprises=["ZD-PW1", "FK-CM1", "CJ-CM1"])
    assert not rep.errors and not rep.rejected
    rows = _clues(store)
    assert rep.created == len(rows) > 0
    # C01: the four converted-80 hours, S1, raw values traced to their raw frames
    c01 = _by_rule(rows, "C01", "ZD-PW1-DA001")
    assert len(c01) == 1 and c01[0]["severity"] == "S1"
    assert c01[0]["window_start"] == bj(10, 10) and c01[0]["window_end"] == bj(10, 14)
    ev = c01[0]["evidence"]
    hit_raw = [r for r in ev["raw"] if r["in_hit"] and r["channel"] == "a21002-Avg"]
    assert sorted(r["frame_uid"] for r in hit_raw) == sorted(inj.frame_ids)
    assert {f["frame_uid"] for f in ev["frames"]} == set(inj.frame_ids)
    assert all(len(f["sha256"]) == 64 and f["cn"] == "2061" for f in ev["frames"])
    assert bundle_sha256(ev) == c01[0]["bundle_sha256"]
    assert ev["plots"] and ev["plots"][0]["series"]
    assert c01[0]["metrics"]["max"] == pytest.approx(80.0, abs=0.05)
    # C07 on the flat SO2 run, S2 (load varies)
    c07 = [r for r in _by_rule(rows, "C07", "ZD-PW1-DA002") if r["channel"] == "a21026"]
    assert len(c07) == 1 and c07[0]["severity"] == "S2" and c07[0]["metrics"]["value"] == pytest.approx(18.2)
    # E01: treatment off 2 h under running production
    e01 = _by_rule(rows, "E01", "FK-CM1-M1")
    assert len(e01) == 1 and e01[0]["meter_ids"] == ["FK-CM1-M1", "FK-CM1-M2"]
    assert e01[0]["window_start"] == bj(12, 10)
    # E04: red order, ramp 24 h for a cement kiln → days 15 and 16, S1
    e04 = _by_rule(rows, "E04", "FK-CM1-M1")
    assert sorted(r["window_start"] for r in e04) == [bj(15), bj(16)]
    assert {r["severity"] for r in e04} == {"S1"}
    # P01 on CJ-CM1 in its window; not on the others
    p01 = _by_rule(rows, "P01")
    assert [r["evidence"]["subject"]["id"] for r in p01] == ["CJ-CM1-M1"]
    assert p01[0]["metrics"]["running_days"] == 4
    # no E rule on the clean pair of ZD-PW1
    assert not [r for r in rows if r["rule_id"].startswith("E0") and r["evidence"]["subject"]["id"] == "ZD-PW1-M1"]
    # every clue is a finding of kind clue in the enterprise's place, with a stable dedupe key
    with store.engine.connect() as conn:
        fs = {r.id: r for r in conn.execute(select(finding).where(finding.c.kind == "clue"))}
    assert set(fs) == {r["finding_id"] for r in rows}
    f = fs[c01[0]["finding_id"]]
    assert f.severity == "S1" and f.place_id is not None and f.subject_site_id == inj.site["ZD-PW1"]
    assert f.dedupe_key == c01[0]["dedupe_key"] and f.dedupe_key.startswith("clue:C01:ZD-PW1-DA001:a21002:")
    assert f.evidence["bundle_sha256"] == c01[0]["bundle_sha256"]


def test_rerun_same_window_is_idempotent(seeded: tuple[Store, Injected]) -> None:
    store, _ = seeded
    first = service.run_clues(store, since=SINCE, until=UNTIL, enterprises=["ZD-PW1", "FK-CM1"])
    again = service.run_clues(store, since=SINCE, until=UNTIL, enterprises=["ZD-PW1", "FK-CM1"])
    assert first.created > 0
    assert again.created == again.updated == 0 and again.unchanged == first.created
    with store.engine.connect() as conn:
        n_find = conn.execute(select(func.count()).select_from(finding).where(finding.c.kind == "clue")).scalar()
        counts = conn.execute(select(finding.c.count).where(finding.c.kind == "clue")).scalars().all()
        jobs = conn.execute(select(job_run).where(job_run.c.job == service.JOB).order_by(job_run.c.id)).all()
    assert n_find == first.created and set(counts) == {1}
    assert [j.status for j in jobs] == ["ok", "ok"] and jobs[0].rows == first.created and jobs[1].rows == 0
    assert all(j.finished_at >= j.started_at for j in jobs)


def test_evaluation_table(seeded: tuple[Store, Injected]) -> None:
    store, inj = seeded
    service.run_clues(store, since=bj(10), until=bj(13), enterprises=["ZD-PW1"])
    with store.engine.connect() as conn:
        rows = conn.execute(select(clue_eval)).all()
    table = {(r.rule_id, r.site_id, r.day.isoformat()): (r.state, r.reason) for r in rows}
    da1 = inj.site["ZD-PW1-DA001"]
    assert table[("C01", da1, "2026-01-10")] == ("fired", None)
    assert table[("C01", da1, "2026-01-11")] == ("clear", None)
    assert table[("C01", da1, "2026-01-12")] == ("clear", None)
    assert {d for (_, s, d) in table if s == da1} == {"2026-01-10", "2026-01-11", "2026-01-12"}
    # a second outlet without a load channel would be not evaluable for C11; here DA001 has load → no such row
    assert not any(st == "not_evaluable" and s == da1 and r == "C11" for (r, s, _), (st, _) in table.items())


def test_missing_limit_is_not_evaluable(seeded: tuple[Store, Injected]) -> None:
    store, inj = seeded
    from bogda.store.schema import outlet

    with store.begin() as conn:
        conn.execute(outlet.update().where(outlet.c.site_id == inj.site["ZD-PW1-DA002"]).values(limits={}))
    service.run_clues(store, since=bj(11), until=bj(12), enterprises=["ZD-PW1"])
    with store.engine.connect() as conn:
        r = conn.execute(
            select(clue_eval).where(clue_eval.c.rule_id == "C01", clue_eval.c.site_id == inj.site["ZD-PW1-DA002"])
        ).one()
    assert r.state == "not_evaluable" and r.reason.startswith("CONFIG_MISSING:limit:")


def test_scheduled_run_window_and_idempotency(seeded: tuple[Store, Injected]) -> None:
    store, _ = seeded
    now = bj(13, 0, 20)
    a = service.run_scheduled(store, now)
    b = service.run_scheduled(store, now)
    assert a.until == bj(13) and a.since == bj(10)
    assert a.created >= 2 and b.created == 0 and b.updated == 0
    found, _ = F.query(store, kinds=["clue"], limit=1000)
    assert len(found) == a.created
    with store.engine.connect() as conn:
        jobs = conn.execute(select(job_run.c.job).where(job_run.c.job == service.JOB_SCHEDULED)).scalars().all()
    assert len(jobs) == 2


def test_failed_run_is_logged(seeded: tuple[Store, Injected]) -> None:
    store, _ = seeded
    with pytest.raises(ValueError):
        service.run_clues(store, since=bj(12), until=bj(11))
    from bogda.enforcement.rules import ParamError, resolve_params

    with pytest.raises(ParamError):
        service.run_clues(store, since=bj(11), until=bj(12), params=resolve_params({"flat.min_hours": -1}))


def test_minute_data_feed_c23(seeded: tuple[Store, Injected]) -> None:
    """Minute series (CN 2051) of an outlet: an hour that complies on average with 4 of 6 minutes above the
    limit is a C23 clue; minutes equal to the logger's hour elsewhere give no C21."""
    import polars as pl

    from bogda.store import series

    store, inj = seeded
    sid = inj.site["ZD-PW1-DA002"]
    hours = series.read(store, sites=[sid], parameters=["a21002", "a19001"], start=bj(11), end=bj(12))
    wide = hours.pivot(on="parameter", index="ts", values="value").sort("ts")
    rows = []
    for ts, nox, o2 in wide.select("ts", "a21002", "a19001").iter_rows():
        for k in range(60):
            v = nox
            if ts == bj(11, 10) and k in (20, 21, 23, 24):
                v = round(80.0 * (21 - o2) / 15.0, 3)
            rows += [(sid, "a21002", ts + timedelta(minutes=k), v), (sid, "a19001", ts + timedelta(minutes=k), o2)]
    df = pl.DataFrame(rows, schema=["site_id", "parameter", "ts", "value"], orient="row")
    series.write_long(store, df.with_columns(pl.col("ts").dt.cast_time_unit("us")), resolution="min")
    rep = service.run_clues(store, since=bj(11), until=bj(12), enterprises=["ZD-PW1"])
    assert rep.by_rule.get("C23") == 1 and "C21" not in rep.by_rule
    c23 = _by_rule(_clues(store), "C23")
    assert c23[0]["window_start"] == bj(11, 10) and c23[0]["metrics"]["minutes_over"] == 4


def test_every_bundle_recomputes_and_frames_resolve(seeded: tuple[Store, Injected]) -> None:
    """Spec §9.12 on the stored clues: each ``bundle_sha256`` recomputes; each raw item's frame is a stored frame."""
    from bogda.store.schema import raw_frame

    store, _ = seeded
    service.run_clues(store, since=SINCE, until=UNTIL)
    rows = _clues(store)
    with store.engine.connect() as conn:
        frames = set(conn.execute(select(raw_frame.c.id)).scalars())
    assert rows
    for r in rows:
        assert bundle_sha256(r["evidence"]) == r["bundle_sha256"]
        uids = {x["frame_uid"] for x in r["evidence"]["raw"] if x["frame_uid"] is not None}
        assert uids <= frames and uids == {f["frame_uid"] for f in r["evidence"]["frames"]}


def test_clue_findings_become_grid_tasks(seeded: tuple[Store, Injected]) -> None:
    """Clues flow on: the grid turns a clue finding into a task (S1 → P1, source online_monitoring)."""
    from bogda.grid.tasks import GridService
    from bogda.store.schema import task

    store, inj = seeded
    service.run_clues(store, since=SINCE, until=UNTIL, enterprises=["ZD-PW1"])
    c01 = _by_rule(_clues(store), "C01")[0]
    out = GridService(store).route_finding(c01["finding_id"], now=UNTIL)
    assert out.action == "created" and out.task_id
    with store.engine.connect() as conn:
        t = conn.execute(select(task).where(task.c.id == out.task_id)).one()
        fstatus = conn.execute(select(finding.c.status).where(finding.c.id == c01["finding_id"])).scalar_one()
    assert (t.source, t.severity, t.finding_id) == ("online_monitoring", "P1", c01["finding_id"])
    assert t.enterprise_id == inj.site["ZD-PW1"] and fstatus == "dispatched"
    # a re-run does not disturb the task's finding (same bundle → unchanged)
    again = service.run_clues(store, since=SINCE, until=UNTIL, enterprises=["ZD-PW1"])
    assert again.created == 0 and again.updated == 0


def test_scheduler_job_signature(seeded: tuple[Store, Injected]) -> None:
    """``scheduled_job`` fits ``bogda.jobs`` (fn(store, now) -> rows; the scheduler logs the run)."""
    from bogda.jobs import JobSpec, run_once

    store, _ = seeded
    spec = JobSpec("clues", "bogda.enforcement.service:scheduled_job", 60, "non-site clues")
    row = run_once(store, spec, now=bj(13, 0, 20))
    assert row["status"] == "ok" and row["rows"] >= 2
    again = run_once(store, spec, now=bj(13, 0, 20))
    assert again["status"] == "ok" and again["rows"] == 0
    with store.engine.connect() as conn:
        jobs = conn.execute(select(job_run.c.job)).scalars().all()
    assert jobs == ["clues", "clues"]  # the service does not log a second row
