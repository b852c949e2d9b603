"""Confirm → case, dismiss → tuning, the non-site case share KPI, compliance strings, plans CRUD."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bogda import audit
from bogda import findings as F
from bogda.enforcement import casework, planbook, service
from bogda.enforcement.planbook import PlanInput
from bogda.registry.sites import SiteInput, add_enterprise, with_check_digit
from bogda.store import Store
from bogda.store.schema import case, clue, finding, rule_override
from bogda.timeutil import BEIJING, beijing_date, now_utc
from enforcement.synthetic import START, bj, write_demo_data


def _enterprise(store: Store, code: str = "T-ENT1", sector: str = "cement", grade: str = "B") -> int:
    with store.begin() as conn:
        return add_enterprise(
            conn,
            SiteInput("enterprise", code, f"{code} 模拟企业"),
            credit_code=with_check_digit("91652300MA78ABC" + code[-2:]),
            sector=sector,
            grade=grade,
        )


# ---------------------------------------------------------------------------------- KPI (both engines)
def test_non_site_share_ledger_of_151(store: Store) -> None:
    """Spec §9.14: 151 decided penalty cases, 28 with remote decisive evidence → evidence basis 18.5 %."""
    ent = _enterprise(store)
    t0 = datetime(2025, 1, 1, tzinfo=BEIJING)
    for i in range(151):
        opened = t0 + timedelta(days=i * 2)
        casework.add_case(
            store,
            case_no=f"2025-{i:04d}",
            enterprise_id=ent,
            opened_at=opened,
            clue_source="在线监测" if i % 3 == 0 else "现场检查",
            non_site_evidence=i < 28,
            decided_at=opened + timedelta(days=20),
            decision="penalty",
            by="clerk",
        )
    # two cases registered in 2025 but not penalties, one from a satellite clue
    casework.add_case(store, case_no="2025-X1", opened_at=t0, clue_source="卫星", by="clerk")
    casework.add_case(store, case_no="2025-X2", opened_at=t0, clue_source="信访", by="clerk")
    year = (datetime(2025, 1, 1, tzinfo=BEIJING), datetime(2026, 1, 1, tzinfo=BEIJING))
    ev = casework.non_site_share(store, *year, basis="evidence")
    decided_in_2025 = sum(1 for i in range(151) if (t0 + timedelta(days=i * 2 + 20)) < year[1])
    assert ev.denominator == decided_in_2025 and ev.numerator == 28
    whole = casework.non_site_share(store, year[0], datetime(2027, 1, 1, tzinfo=BEIJING), basis="evidence")
    assert (whole.numerator, whole.denominator) == (28, 151)
    assert round(100 * whole.share, 1) == 18.5
    disc = casework.non_site_share(store, *year, basis="discovery")
    opened_2025 = [i for i in range(151) if t0 + timedelta(days=i * 2) < year[1]]
    assert disc.denominator == len(opened_2025) + 2
    assert disc.numerator == sum(1 for i in opened_2025 if i % 3 == 0) + 1
    kpi = casework.non_site_kpi(store, *year)
    assert kpi["discovery"]["goal"] == 0.40 and kpi["evidence"]["goal"] is None
    assert kpi["discovery"]["numerator"] == disc.numerator
    empty = casework.non_site_share(store, datetime(2030, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC))
    assert empty.share is None and empty.denominator == 0
    with pytest.raises(ValueError, match="already exists"):
        casework.add_case(store, case_no="2025-X1", opened_at=t0, by="clerk")


# ------------------------------------------------------------------------------- plans (both engines)
def test_plans_crud_and_plan_set(store: Store) -> None:
    _enterprise(store, "T-ENT1", "cement", "C")
    _enterprise(store, "T-ENT2", "boiler", None)
    with store.begin() as conn:
        season = planbook.add_stagger_season(conn, 2025, doc_id="新环大气〔2025〕1号", by="op")
        order = planbook.add_plan(conn, PlanInput("order", level="orange", start=bj(3), end=bj(5), doc_id="预警1"))
        planbook.add_plan(
            conn,
            PlanInput(
                "measure",
                enterprise="T-ENT2",
                level="orange",
                action="cap_ratio",
                value=0.7,
                attrs={"baseline_id": "T-ENT2"},
            ),
        )
        planbook.add_plan(conn, PlanInput("baseline", enterprise="T-ENT2", value=24000.0, unit="kWh/d"))
        for bad, msg in (
            (PlanInput("order", level="purple", start=bj(3), end=bj(5)), "level"),
            (PlanInput("measure", enterprise="T-ENT2", level="red", action="cap_ratio", value=1.5), "cap_ratio"),
            (PlanInput("stagger_window", start=bj(3), end=bj(5)), "exactly one"),
            (PlanInput("order", level="red", start=bj(5), end=bj(3)), "after start"),
            (PlanInput("measure", enterprise="NOPE", level="red", action="stop"), "not in the registry"),
        ):
            with pytest.raises(ValueError, match=msg):
                planbook.add_plan(conn, bad)
    ps = planbook.plan_set(store)
    w = ps.windows
    assert [x.target_id for x in w] == ["T-ENT1"]  # the sector window reaches the cement enterprise only
    assert w[0].start == datetime(2025, 11, 1, tzinfo=BEIJING) and w[0].end == datetime(2026, 4, 1, tzinfo=BEIJING)
    assert [(o.level, o.doc_id) for o in ps.orders] == [("orange", "预警1")]
    assert ps.baselines["T-ENT2"].value == 24000.0 and ps.ramp_h["T-ENT1"] == 24.0
    # grade C cement under orange → stop (cement clinker table); the boiler's own measure → cap 0.7
    from bogda.enforcement.plans import active_measures

    assert [m.action for _, m in active_measures(ps, "T-ENT1")] == ["stop"]
    assert [(m.action, m.value) for _, m in active_measures(ps, "T-ENT2")] == [("cap_ratio", 0.7)]
    with store.begin() as conn:
        planbook.deactivate_plan(conn, order)
    assert planbook.plan_set(store).orders == []
    assert {p["id"] for p in planbook.list_plans(store, active=None)} >= {season, order}


# ----------------------------------------------------------------------------- clues in the demo region
@pytest.fixture
def filed(demo_store: Store) -> tuple[Store, dict[str, int]]:
    inj = write_demo_data(demo_store)
    service.run_clues(
        demo_store, since=START + timedelta(days=5), until=START + timedelta(days=20), enterprises=["ZD-PW1", "FK-CM1"]
    )
    with demo_store.engine.connect() as conn:
        ids = {f"{r.rule_id}:{r.channel or ''}": r.finding_id for r in conn.execute(select(clue))}
    return demo_store, ids | {"_ent": inj.site["ZD-PW1"], "_ent2": inj.site["FK-CM1"]}


def test_confirm_into_case(filed: tuple[Store, dict[str, int]]) -> None:
    store, ids = filed
    fid = ids["C01:a21002"]
    now = now_utc()  # the case is numbered in the Beijing year of its filing (FXC-2026- failed from 2027 on)
    out = casework.confirm_clue(store, fid, by="officer1", note="现场核实超标", now=now)
    assert out["status"] == "CASE_FILED" and out["case_no"] == f"FXC-{beijing_date(now).year}-0001"
    with store.engine.connect() as conn:
        c = conn.execute(select(case).where(case.c.id == out["case_id"])).one()
        cl = conn.execute(select(clue).where(clue.c.finding_id == fid)).one()
        fs = conn.execute(select(finding.c.status).where(finding.c.id == fid)).scalar_one()
    assert c.non_site and c.clue_source == "在线监测" and c.enterprise_id == ids["_ent"] and c.finding_id == fid
    assert cl.status == "CASE_FILED" and cl.feedback[-1]["by"] == "officer1" and fs == "acknowledged"
    assert audit.entries(store, action_prefix="clue.confirm")[0]["target"] == f"finding:{fid}"
    with pytest.raises(ValueError, match="already CASE_FILED"):
        casework.confirm_clue(store, fid, by="officer1")
    # the KPI counts it on the discovery basis
    share = casework.non_site_share(store, datetime(2020, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    assert (share.numerator, share.denominator) == (1, 1)
    # compliance string: the confirmed S1 clue of 2026-01-10 marks 2026 Q1 'S'
    comp = casework.compliance(store, ids["_ent"], as_of=bj(20))
    q = comp["quarters"]
    assert q["periods"][-1] == "2026Q1" and q["string"][-1] == "S" and len(q["string"]) == 12
    assert set(q["string"][:-1]) == {"_"}  # quarters before monitoring began are not 'U'
    assert comp["months"]["string"][-1] == "S" and comp["exceedance_hours"] == 4


def test_dismiss_feeds_tuning(filed: tuple[Store, dict[str, int]]) -> None:
    store, ids = filed
    fid = ids["C07:a21026"]
    with pytest.raises(ValueError, match="reason"):
        casework.dismiss_clue(store, fid, reason=" ", by="officer1")
    out = casework.dismiss_clue(store, fid, reason="分析仪量程设置导致，已核实", by="officer1")
    assert out["finding_status"] == "dismissed" and out["overrides"] == {}  # one verdict: below the step
    assert F.get(store, fid)["status_reason"].startswith("FALSE_POSITIVE:")
    # the same episode stays quiet on a re-run
    again = service.run_clues(
        store, since=START + timedelta(days=5), until=START + timedelta(days=20), enterprises=["ZD-PW1"]
    )
    assert again.created == 0
    # three false positives of C07 for one enterprise → flat.min_hours × 1.5, stored with the param version
    ent = ids["_ent"]
    now = datetime.now(UTC)
    with store.begin() as conn:
        for k in range(2):
            fid2 = F.raise_finding(conn, F.FindingDraft("clue", "S2", f"t{k}", f"test:{k}")).finding_id
            conn.execute(
                clue.insert().values(
                    finding_id=fid2,
                    dedupe_key=f"test:{k}",
                    rule_id="C07",
                    rule_version="1",
                    param_version="p",
                    param_sha256="x",
                    params={},
                    severity="S2",
                    enterprise_id=ent,
                    meter_ids=[],
                    metrics={},
                    evidence={},
                    bundle_sha256="x",
                    feedback=[],
                    created_at=now,
                    updated_at=now,
                )
            )
    for k in range(2):
        fid2 = F.query(store, kinds=["clue"], limit=1000)[0]
        fid2 = next(r["id"] for r in fid2 if r["dedupe_key"] == f"test:{k}")
        out = casework.dismiss_clue(store, fid2, reason="正常工况", by="officer1")
    assert out["overrides"] == {"flat.min_hours": 9}
    rows = casework.overrides_of(store, ent)
    assert [(r["rule_id"], r["key"], r["value"], r["source"]) for r in rows] == [("C07", "flat.min_hours", 9, "tuning")]
    assert rows[0]["param_version"] and rows[0]["basis"]["false_positives"] == 3
    assert service.load_overrides(store) == {"ZD-PW1": {"flat.min_hours": 9}}
    # EXCUSED does not tune; a manual setting wins over tuning
    casework.set_override(store, ent, "flat.min_hours", 12, by="chief")
    with store.engine.connect() as conn:
        r = conn.execute(select(rule_override).where(rule_override.c.enterprise_id == ent)).one()
    assert (r.value, r.source) == (12, "manual")


def test_dismiss_excused_and_unknown(filed: tuple[Store, dict[str, int]]) -> None:
    store, ids = filed
    fid = ids["E01:"]
    out = casework.dismiss_clue(store, fid, reason="检修报备", by="o", verdict="EXCUSED")
    assert out["status"] == "EXCUSED" and out["overrides"] == {}
    with pytest.raises(ValueError, match="verdict"):
        casework.dismiss_clue(store, ids["C01:a21002"], reason="x", by="o", verdict="MAYBE")
    with pytest.raises(LookupError):
        casework.dismiss_clue(store, 10**6, reason="x", by="o")
