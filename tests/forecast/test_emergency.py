"""Emergency-reduction lists (forecast.md §3.10): template resolution, reductions, activation on issue, Excel."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bogda.forecast import emergency as em
from bogda.forecast import service as sv
from bogda.store import Store
from bogda.store.schema import emergency_list, emergency_list_item, finding, plan, warning_event


@pytest.mark.parametrize(
    ("sector", "grade", "level", "actions", "ratio"),
    [
        # cement clinker rows (enforcement.md §3.6, performance-grade guidance)
        ("cement", "A", "red", ["none"], 1.0),
        ("cement", "B", "yellow", ["transport_ban"], 1.0),
        ("cement", "B", "orange", ["cap_ratio"], 0.8),
        ("cement", "B", "red", ["stop"], 0.0),
        ("cement", "C", "yellow", ["stop_lines"], 0.5),
        ("cement", "C", "orange", ["stop"], 0.0),
        ("cement", "D", "yellow", ["stop", "transport_ban"], 0.0),
        ("cement", None, "yellow", ["stop", "transport_ban"], 0.0),  # ungraded → D (d)
        # documented defaults
        ("coking", "C", "orange", ["extend_coking_h"], 0.5),
        ("boiler", "B", "yellow", ["cap_ratio"], 0.9),
        ("power", "A", "orange", ["none"], 1.0),
        ("coal_chemical", "D", "red", ["stop", "transport_ban"], 0.0),
    ],
)
def test_resolve_template(sector: str, grade: str | None, level: str, actions: list[str], ratio: float) -> None:
    ms = em.resolve_measures(sector, grade, level)
    assert [m.action for m in ms] == actions
    assert em.allowed_ratio(ms) == pytest.approx(ratio)


def test_override_beats_template() -> None:
    over = [em.Measure("cap_ratio", 0.6, "本企业应急预案", "override")]
    assert em.resolve_measures("cement", "B", "orange", overrides=over) == over


def test_bad_template_row_names_line() -> None:
    text = "sector,subsector,grade,level,action,value,note_zh,source_doc,status,version\ncement,,B,purple,stop,,,,,1\n"
    with pytest.raises(ValueError, match=r"x.csv:2: level 'purple'"):
        em.read_templates(text, name="x.csv")


def test_templates_cover_every_grade_and_level() -> None:
    for sector in ("cement", "coking", "*"):
        for grade in ("A", "B", "B-", "C", "D"):
            for level in em.LEVELS:
                assert em.resolve_measures(sector, grade, level), (sector, grade, level)
    assert {r.status for r in em.default_templates()} == {"standard", "documented_default"}


def test_issue_activates_list_orders_findings_and_excel(episode_store: Store, tmp_path) -> None:
    sv.refresh(episode_store, models=None)
    w = sv.warnings(episode_store)[0]
    assert w["area_code"] == "652323" and w["level"] == "red"
    with pytest.raises(ValueError, match="cannot go from proposed to lifted"):
        sv.decide_warning(episode_store, w["id"], "lifted", by="duty")
    out = sv.decide_warning(episode_store, w["id"], "issued", by="duty", doc_no="昌环应急〔2026〕1号", note="会商同意")
    assert out["state"] == "issued" and out["list_id"] is not None
    head, items = em.list_rows(episode_store, out["list_id"])
    # 呼图壁县 has one registry enterprise: HT-BL1, a grade-C boiler → generic C red: cap 0.5
    assert [(i["code"], i["grade"], i["sector"]) for i in items] == [("HT-BL1", "C", "boiler")]
    assert items[0]["allowed_ratio"] == pytest.approx(0.5) and items[0]["transport_ban"]
    assert head["level"] == "red" and head["version"] == 1 and head["doc_no"] == "昌环应急〔2026〕1号"
    with episode_store.engine.connect() as conn:
        order = conn.execute(select(plan).where(plan.c.id == items[0]["order_id"])).mappings().one()
        insp = conn.execute(select(finding).where(finding.c.kind == "inspection")).mappings().all()
        events = conn.execute(select(warning_event.c.to_state, warning_event.c.by)).all()
    assert order["kind"] == "order" and order["level"] == "red" and order["source"] == "warning" and order["active"]
    assert len(insp) == 1 and insp[0]["evidence"]["category"] == "emergency_measure_check"
    assert [tuple(e) for e in events] == [("proposed", "system"), ("issued", "duty")]
    data = em.export_xlsx(episode_store, out["list_id"], tmp_path / "list.xlsx")
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["清单", "汇总", "说明"]
    rows = list(wb["清单"].iter_rows(values_only=True))
    assert rows[0][:4] == ("序号", "县市", "企业名称", "统一社会信用代码") and len(rows) == 2
    assert rows[1][1] == "呼图壁县" and rows[1][6] == "红色" and rows[1][8] == pytest.approx(0.5)
    assert (tmp_path / "list.xlsx").stat().st_size == len(data)
    # change → a new version, the old one ended; lift → list and order ended, finding resolved
    ch = sv.decide_warning(episode_store, w["id"], "changed", by="duty", level="orange")
    assert em.list_rows(episode_store, ch["list_id"])[0]["version"] == 2
    sv.decide_warning(episode_store, w["id"], "lifted", by="duty")
    with episode_store.engine.connect() as conn:
        active = conn.execute(select(emergency_list.c.id).where(emergency_list.c.active.is_(True))).all()
        orders = conn.execute(select(plan.c.active).where(plan.c.kind == "order")).scalars().all()
        fstat = conn.execute(select(finding.c.status).where(finding.c.id == w["finding_id"])).scalar()
        n_items = conn.execute(select(emergency_list_item.c.list_id)).all()
    assert active == [] and not any(orders) and fstat == "resolved" and len(n_items) == 2


def test_prefecture_list_has_every_enterprise_and_flags_missing_baselines(demo_store: Store) -> None:
    items = em.build_items(demo_store, "652300", "orange")
    assert len(items) == 16
    by_code = {i.code: i for i in items}
    assert by_code["ZD-PW1"].allowed_ratio == 1.0  # grade A: self-determined
    assert by_code["FK-CM1"].allowed_ratio == pytest.approx(0.8)  # cement B orange: cap 20 %
    assert by_code["JM-CM1"].allowed_ratio == 0.0  # cement C orange: stop
    summary = em.summarise(items, "orange")
    assert summary.target_share == 0.2 and len(summary.missing_baseline) == 16  # demo has no permits or baselines


def test_reductions_from_permit_baseline(demo_store: Store) -> None:
    from datetime import date

    from bogda.store.schema import enterprise, permit, site
    from bogda.timeutil import now_utc

    with demo_store.begin() as conn:
        uscc = conn.execute(
            select(enterprise.c.credit_code)
            .join(site, site.c.id == enterprise.c.site_id)
            .where(site.c.code == "FK-CM1")
        ).scalar_one()
        conn.execute(
            permit.insert().values(
                permit_no="P1",
                unit="x",
                uscc=uscc,
                management_class="重点",
                apply_type="首次",
                accepted_at=date(2025, 1, 1),
                decided_at=date(2025, 2, 1),
                permitted_t={"SO2": 365.0, "氮氧化物": 730.0},
                created_at=now_utc(),
                updated_at=now_utc(),
            )
        )
    items = {i.code: i for i in em.build_items(demo_store, "652302", "orange")}
    it = items["FK-CM1"]
    assert it.baseline_source == "permit" and it.baseline_t_per_day == {"SO2": 1.0, "NOx": 2.0}
    assert it.reduction_t_per_day == pytest.approx({"SO2": 0.2, "NOx": 0.4})
