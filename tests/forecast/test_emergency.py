"""Emergency-reduction lists (forecast.md §3.10): template resolution, reductions, activation on issue, Excel."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bogda.forecast import emergency as em
from bogda.forecast import service as sv
from bogda.store import Store
from bogda.store.schema import emergency_list, emergency_list_item, finding, place, plan, warning_event


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


# ---------------------------------------------------------------------------------------------------------------
# grade names, ledger alert measures, CEMS baselines, hand-entered orders (forecast.md §3.10)
# ---------------------------------------------------------------------------------------------------------------


def _site_id(store: Store, code: str) -> int:
    from bogda.store.schema import site

    with store.engine.connect() as conn:
        return int(conn.execute(select(site.c.id).where(site.c.code == code)).scalar_one())


def _set_grade(store: Store, code: str, grade: str | None) -> None:
    from bogda.store.schema import enterprise

    with store.begin() as conn:
        conn.execute(enterprise.update().where(enterprise.c.site_id == _site_id(store, code)).values(grade=grade))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("引领性", "leading"),
        (" 非引领性 ", "non_leading"),
        ("B−", "B-"),
        ("B－", "B-"),
        ("b -", "B-"),
        ("Ａ", "A"),
        ("C级", "C"),
        ("leading", "leading"),
        (None, "unrated"),
        ("", "unrated"),
        ("未分级", "unrated"),
        ("E", None),
    ],
)
def test_normalise_grade(text: str | None, code: str | None) -> None:
    assert em.normalise_grade(text) == code


def test_chinese_grades_resolve_to_their_rows_not_to_grade_d() -> None:
    # before: 引领性 was not a template grade, so it fell to D: stop + transport ban
    assert [m.action for m in em.resolve_measures("cement", "引领性", "red")] == ["none"]
    assert [(m.action, m.value) for m in em.resolve_measures("cement", "非引领性", "yellow")] == [("stop_lines", 0.5)]
    assert [m.action for m in em.resolve_measures("cement", "X级", "yellow")] == ["stop", "transport_ban"]


def test_unrated_rows_are_used_where_the_template_has_them() -> None:
    head = "sector,subsector,grade,level,action,value,note_zh,source_doc,status,version\n"
    rows = em.read_templates(
        head + "*,,D,red,stop,,停产,,documented_default,t\n*,,unrated,red,cap_ratio,0.5,限产50%,,documented_default,t\n"
    )
    assert [m.action for m in em.resolve_measures("cement", None, "red", rows)] == ["cap_ratio"]
    assert [m.action for m in em.resolve_measures("cement", "D", "red", rows)] == ["stop"]


def test_template_value_out_of_range_names_line() -> None:
    text = "sector,subsector,grade,level,action,value,note_zh,source_doc,status,version\n*,,B,red,cap_ratio,80,,,,1\n"
    with pytest.raises(ValueError, match=r"x.csv:2: value: cap_ratio value 80 outside 0..1"):
        em.read_templates(text, name="x.csv")


def test_registry_chinese_grade_and_unknown_grade_on_the_list(demo_store: Store) -> None:
    _set_grade(demo_store, "FK-CM1", "引领性")
    _set_grade(demo_store, "FK-CK1", "E")
    items = {i.code: i for i in em.build_items(demo_store, "652302", "red")}
    leading = items["FK-CM1"]
    assert leading.grade == "引领性" and [m.action for m in leading.measures] == ["none"]
    assert leading.allowed_ratio == 1.0 and not leading.transport_ban
    odd = items["FK-CK1"]  # unknown grade: shown as entered, resolved as unrated (D) with a note
    assert odd.grade == "E" and odd.notes == ["绩效等级“E”无法识别，按未分级处理"]
    assert [(m.action, m.value) for m in odd.measures] == [("extend_coking_h", 72.0), ("transport_ban", None)]
    assert em.summarise(list(items.values()), "red").notes == {"FK-CK1": odd.notes}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"orange": [{"action": "cap_ratio", "value": 0.8, "note_zh": "限产20%"}]},
            {"orange": [{"action": "cap_ratio", "value": 0.8, "note_zh": "限产20%"}]},
        ),
        (
            {"橙色": {"cap_ratio": "0.8", "transport_ban": None}, "red": {"action": "停产"}},
            {
                "orange": [
                    {"action": "cap_ratio", "value": 0.8, "note_zh": ""},
                    {"action": "transport_ban", "value": None, "note_zh": ""},
                ],
                "red": [{"action": "stop", "value": None, "note_zh": ""}],
            },
        ),
        ('{"yellow": []}', {"yellow": []}),
        (None, {}),
    ],
)
def test_parse_alert_measures(value: object, expected: dict) -> None:
    assert em.parse_alert_measures(value) == (expected, [])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"purple": []}, "unknown level 'purple'"),
        ({"red": [{"action": "shutdown"}]}, "red[0]: unknown action 'shutdown'"),
        ({"orange": {"cap_ratio": 80}}, "orange.cap_ratio: cap_ratio value 80 outside 0..1"),
        ({"orange": {"cap_ratio": None}}, "orange.cap_ratio: cap_ratio needs a numeric value"),
        ({"yellow": [{"action": "stop_lines", "value": -0.5}]}, "yellow[0]: stop_lines value -0.5 outside 0..1"),
        ({"red": [{"action": "stop", "valeu": 1}]}, "red[0]: unknown key(s) valeu"),
        ({"red": "stop"}, "red: expected a list of actions"),
        ("[1, 2]", "expected a JSON object keyed by level"),
        ("{oops", "not valid JSON"),
    ],
)
def test_parse_alert_measures_names_the_problem(value: object, message: str) -> None:
    parsed, problems = em.parse_alert_measures(value)
    assert any(message in msg for _, msg in problems), problems
    assert all(lv not in parsed for lv, _ in problems)


def _grading(store: Store, code: str, alert_measures: object, *, no: str = "G-1", **extra: str) -> int:
    from bogda.ledger import LEDGERS, add

    raw = {
        "grading_no": no,
        "enterprise_code": code,
        "industry": "cement",
        "grade": "B",
        "graded_at": "2025-10-01",
        "alert_measures": alert_measures,
    }
    return add(store, LEDGERS["grade"], raw | extra, actor="test")


def _measure_row(store: Store, code: str, level: str, action: str, value: float | None) -> int:
    from bogda.timeutil import now_utc

    with store.begin() as conn:
        return int(
            conn.execute(
                plan.insert()
                .values(kind="measure", enterprise_id=_site_id(store, code), level=level, action=action, value=value,
                        attrs={"note_zh": "企业应急预案"}, active=True, created_at=now_utc())
                .returning(plan.c.id)
            ).scalar_one()
        )  # fmt: skip


def test_overrides_measure_rows_then_ledger_then_template(demo_store: Store) -> None:
    def fk_cm1(level: str = "orange") -> em.ListItem:
        return next(i for i in em.build_items(demo_store, "652302", level) if i.code == "FK-CM1")

    assert [(m.action, m.origin) for m in fk_cm1().measures] == [("cap_ratio", "template")]
    gid = _grading(demo_store, "FK-CM1", '{"orange": {"cap_ratio": 0.6, "transport_ban": null}}')
    it = fk_cm1()
    assert [(m.action, m.value, m.origin) for m in it.measures] == [
        ("cap_ratio", 0.6, "ledger"),
        ("transport_ban", None, "ledger"),
    ]
    assert it.allowed_ratio == pytest.approx(0.6) and it.transport_ban and it.notes == []
    assert [m.origin for m in fk_cm1("red").measures] == ["template"]  # no ledger measures at red
    mid = _measure_row(demo_store, "FK-CM1", "orange", "stop", None)
    it = fk_cm1()
    assert [(m.action, m.origin, m.note_zh) for m in it.measures] == [("stop", "override", "企业应急预案")]
    # a bad stored measure row is skipped with its reason; the ledger applies
    with demo_store.begin() as conn:
        conn.execute(plan.update().where(plan.c.id == mid).values(action="cap_ratio", value=8.0))
    it = fk_cm1()
    assert [m.origin for m in it.measures] == ["ledger", "ledger"]
    assert it.notes == [f"企业个别措施未采用：plan {mid}: cap_ratio value 8 outside 0..1 (allowed production ratio)"]
    # a bad stored ledger value (written past the ledger's check) is skipped too: the template applies
    with demo_store.begin() as conn:
        conn.execute(plan.update().where(plan.c.id == mid).values(active=False))
        bad = {"orange": [{"action": "cap_ratio", "value": 1.5}]}
        conn.execute(plan.update().where(plan.c.id == gid).values(attrs={"grading_no": "G-1", "alert_measures": bad}))
    it = fk_cm1()
    assert [(m.action, m.origin) for m in it.measures] == [("cap_ratio", "template")]
    assert it.notes == ["绩效分级台账未采用：评定G-1 alert_measures: orange[0]: cap_ratio value 1.5 outside 0..1 "
                        "(allowed production ratio)"]  # fmt: skip
    assert fk_cm1("red").notes == []  # the bad orange entry does not concern a red list


def test_expired_grading_gives_no_measures(demo_store: Store) -> None:
    _grading(demo_store, "FK-CM1", {"orange": [{"action": "none"}]}, valid_until="2025-12-31")
    it = next(i for i in em.build_items(demo_store, "652302", "orange") if i.code == "FK-CM1")
    assert [m.origin for m in it.measures] == ["template"]
    assert it.notes == ["绩效评定G-1已于2025-12-31到期，其预警减排措施未采用"]
    ok = next(i for i in em.build_items(demo_store, "652302", "orange", on=date(2025, 12, 1)) if i.code == "FK-CM1")
    assert [(m.action, m.origin) for m in ok.measures] == [("none", "ledger")] and ok.allowed_ratio == 1.0


def test_unknown_area_is_refused_and_county_lists_stay_in_the_county(demo_store: Store) -> None:
    with pytest.raises(LookupError, match="area '999999' is not a place"):
        em.build_items(demo_store, "999999", "orange")
    assert {i.code for i in em.build_items(demo_store, "652302", "orange")} == {"FK-CK1", "FK-CK2", "FK-CM1"}


def test_newest_permit_in_force_gives_the_baseline(demo_store: Store) -> None:
    from bogda.store.schema import enterprise, permit
    from bogda.timeutil import now_utc

    with demo_store.engine.connect() as conn:
        uscc = conn.execute(
            select(enterprise.c.credit_code).where(enterprise.c.site_id == _site_id(demo_store, "FK-CM1"))
        ).scalar_one()
    base = {"unit": "x", "uscc": uscc, "management_class": "重点", "created_at": now_utc(), "updated_at": now_utc()}
    with demo_store.begin() as conn:
        for no, kind, acc, dec, t in (
            ("P1", "首次", date(2019, 1, 1), date(2019, 2, 1), 365.0),
            ("P1", "延续", date(2023, 12, 1), date(2024, 1, 5), 730.0),
            ("P2", "首次", date(2025, 1, 1), None, 3650.0),  # not decided: never counts
        ):
            conn.execute(permit.insert().values(base | {"permit_no": no, "apply_type": kind, "accepted_at": acc,
                                                        "decided_at": dec, "permitted_t": {"SO2": t}}))  # fmt: skip
    it = next(i for i in em.build_items(demo_store, "652302", "orange") if i.code == "FK-CM1")
    assert it.baseline_source == "permit" and it.baseline_t_per_day == {"SO2": 2.0}  # the 延续, not the first permit


def _cou_frame(outlet_id: int, start: datetime, days: int, kg_per_h: dict[str, float], unit: str = "kg"):
    import polars as pl

    t0 = int(start.timestamp())
    rows = [
        (outlet_id, f"{code}-Cou", t0 + 3600 * h, v, "N", unit)
        for code, v in kg_per_h.items()
        for h in range(24 * days)
    ]
    return pl.DataFrame(rows, schema=["site_id", "parameter", "ts", "value", "flag", "unit"], orient="row")


def test_cems_baseline_valid_hours_and_days() -> None:
    import polars as pl

    t0 = datetime(2026, 1, 1, 16, tzinfo=UTC)  # 2 Jan 00:00 Beijing
    rows = []
    for d in range(10):
        for h in range(24):
            flag = "F" if (d == 0 and h >= 20) else "N"  # day 0: 20 valid hours → still a valid day
            if d == 1 and h >= 19:
                flag = "D"  # day 1: 19 valid hours → not a valid day
            rows.append(("DA1", "SO2", t0 + timedelta(days=d, hours=h), 0.001 if flag == "N" else 0.5, flag))
        rows.append(("DA2", "NOx", t0 + timedelta(days=d), 0.01, "N"))  # 1 hour a day: never a valid day
    frame = pl.DataFrame(rows, schema=["outlet", "pollutant", "ts", "value_t", "flag"], orient="row")
    vals, notes = em.cems_baseline(frame)
    assert vals == {"SO2": pytest.approx(0.024)}  # 9 valid days of 1 kg/h; flagged hours never count
    assert notes == ["排放口DA2 NOx：在线监测有效日 0 天（需 ≥ 7 天，每天 ≥ 20 个有效小时），未计入在线监测基准"]
    assert em.cems_baseline(frame, min_days=10)[0] == {}


def test_cems_30_day_mean_is_the_baseline_after_permits(demo_store: Store) -> None:
    from bogda.store import series

    on = date(2026, 3, 1)
    window = em.day_start_utc(on - timedelta(days=30))
    outlet = _site_id(demo_store, "FK-CM1-DA001")
    series.write_long(demo_store, _cou_frame(outlet, window, 30, {"a21026": 50.0, "a21002": 100.0}), resolution="hour")
    # outside the window (the start day itself) and a series in an unknown unit: neither counts
    series.write_long(demo_store, _cou_frame(outlet, em.day_start_utc(on), 2, {"a21026": 5000.0}), resolution="hour")
    series.write_long(demo_store, _cou_frame(outlet, window, 30, {"a34013": 7.0}, unit=""), resolution="hour")
    it = next(i for i in em.build_items(demo_store, "652302", "orange", on=on) if i.code == "FK-CM1")
    assert it.baseline_source == "cems_30d"
    assert it.baseline_t_per_day == {"NOx": pytest.approx(2.4), "SO2": pytest.approx(1.2)}
    assert it.reduction_t_per_day == pytest.approx({"NOx": 0.48, "SO2": 0.24})
    assert it.notes == ["排放口FK-CM1-DA001 a34013-Cou 单位“”不是质量单位（t/kg/g），未计入在线监测基准"]
    assert em.BASELINE_SOURCE_ZH["cems_30d"] == "在线监测近30日均值" and em.BASELINE_SOURCE_ZH["plan"] == "核定基准"
    # a list starting much later has no CEMS data in its window
    late = next(i for i in em.build_items(demo_store, "652302", "orange", on=date(2026, 6, 1)) if i.code == "FK-CM1")
    assert late.baseline_source == "none"


def test_each_pollutant_takes_the_first_source_that_has_it(demo_store: Store) -> None:
    """A plan baseline for SO2 only leaves NOx to the CEMS mean: both are on the list, each source named."""
    from bogda.enforcement.planbook import PlanInput, add_plan
    from bogda.store import series

    on = date(2026, 3, 1)
    outlet = _site_id(demo_store, "FK-CM1-DA001")
    window = em.day_start_utc(on - timedelta(days=30))
    series.write_long(demo_store, _cou_frame(outlet, window, 30, {"a21026": 50.0, "a21002": 100.0}), resolution="hour")
    with demo_store.begin() as conn:
        add_plan(conn, PlanInput("baseline", enterprise="FK-CM1", value=0.8, unit="t/d", attrs={"pollutant": "SO2"}))
    it = next(i for i in em.build_items(demo_store, "652302", "orange", on=on) if i.code == "FK-CM1")
    assert it.baseline_source == "plan+cems_30d"
    assert it.baseline_t_per_day == {"SO2": pytest.approx(0.8), "NOx": pytest.approx(2.4)}  # SO2 from the plan
    assert "基准来源：SO2 核定基准；NOx 在线监测近30日均值" in it.notes
    assert em.baseline_source_words(it.baseline_source) == "核定基准、在线监测近30日均值"


def _hand_order(store: Store, **kw: object) -> int:
    from bogda.enforcement.planbook import PlanInput, add_plan
    from bogda.timeutil import now_utc

    now = now_utc()
    args = {"kind": "order", "level": "orange", "start": now - timedelta(hours=1), "end": now + timedelta(days=2),
            "doc_id": "昌环应急〔2026〕5号", "attrs": {"area_code": "652302"}} | kw  # fmt: skip
    with store.begin() as conn:
        return add_plan(conn, PlanInput(**args), by="duty")


def test_list_for_a_hand_entered_order(demo_store: Store, tmp_path) -> None:
    oid = _hand_order(demo_store)
    lid = em.activate_for_order(demo_store, oid, by="duty")
    head, items = em.list_rows(demo_store, lid)
    assert head["warning_id"] is None and head["version"] == 1 and head["level"] == "orange" and head["active"]
    assert head["area_code"] == "652302" and head["doc_no"] == "昌环应急〔2026〕5号"
    assert head["totals"]["order_id"] == oid and head["totals"]["origin"] == "order"
    assert {i["code"] for i in items} == {"FK-CK1", "FK-CK2", "FK-CM1"}
    assert {i["order_id"] for i in items} == {oid}  # linked to the hand-entered order, no second order written
    with demo_store.engine.connect() as conn:
        orders = conn.execute(select(plan.c.id).where(plan.c.kind == "order")).scalars().all()
        keys = conn.execute(select(finding.c.dedupe_key).where(finding.c.kind == "inspection")).scalars().all()
    assert orders == [oid]
    assert sorted(keys) == sorted(f"emergency_measure_check:order-{oid}:{i['enterprise_id']}" for i in items)
    data = em.export_xlsx(demo_store, lid, tmp_path / "order.xlsx")
    notes = dict(r[:2] for r in load_workbook(io.BytesIO(data))["说明"].iter_rows(values_only=True))
    assert notes["清单来源"] == f"人工录入指令 #{oid}" and notes["指令文号"] == "昌环应急〔2026〕5号"
    # again (e.g. after the registry changed) → version 2; the first version ends, the order stays in force
    lid2 = em.activate_for_order(demo_store, oid, by="duty")
    assert em.list_rows(demo_store, lid2)[0]["version"] == 2
    assert [x["id"] for x in em.active_list(demo_store)] == [lid2]
    assert em.end_order_lists(demo_store, oid) == 1 and em.active_list(demo_store) == []
    with demo_store.engine.connect() as conn:
        assert conn.execute(select(plan.c.active).where(plan.c.id == oid)).scalar() is True


def test_hand_order_area_argument_and_refusals(demo_store: Store) -> None:
    from bogda.registry.places import upsert_place

    oid = _hand_order(demo_store, attrs={})
    # no area: the order binds every enterprise in enforcement, so the list is the (only) prefecture's
    assert em.list_rows(demo_store, em.activate_for_order(demo_store, oid))[0]["area_code"] == "652300"
    lid = em.activate_for_order(demo_store, oid, "652323")
    assert [i["code"] for i in em.list_rows(demo_store, lid)[1]] == ["HT-BL1"]
    with demo_store.begin() as conn:
        upsert_place(conn, code="659000", name="另一州", level=0, kind="prefecture")
    with pytest.raises(ValueError, match=rf"plan {oid}: area_code: pass one"):
        em.activate_for_order(demo_store, oid)
    own = _hand_order(demo_store)
    with pytest.raises(ValueError, match=r"area_code '652323' differs from the order's attrs.area_code '652302'"):
        em.activate_for_order(demo_store, own, "652323")
    with pytest.raises(LookupError, match="area 'nowhere'"):
        em.activate_for_order(demo_store, oid, "nowhere")
    mid = _measure_row(demo_store, "FK-CM1", "orange", "stop", None)
    with pytest.raises(ValueError, match=rf"plan {mid}: kind is 'measure', not 'order'"):
        em.activate_for_order(demo_store, mid, "652302")
    with pytest.raises(LookupError, match="plan 99999 does not exist"):
        em.activate_for_order(demo_store, 99999, "652302")
    warned = _hand_order(demo_store, source="warning", attrs={"warning_id": 7})
    with pytest.raises(ValueError, match="the order of warning 7"):
        em.activate_for_order(demo_store, warned, "652302")
    with demo_store.begin() as conn:
        conn.execute(plan.update().where(plan.c.id == oid).values(active=False))
    with pytest.raises(ValueError, match="no longer active"):
        em.activate_for_order(demo_store, oid, "652323")


def test_a_list_that_cannot_be_built_undoes_the_decision(episode_store: Store, monkeypatch) -> None:
    """Issuing commits nothing that leaves an issued warning without its list (forecast.md §3.10 "Activation")."""
    sv.refresh(episode_store, models=None)
    w = sv.warnings(episode_store)[0]

    def broken(*_a, **_k):
        raise LookupError("area 652323 has no place")

    monkeypatch.setattr(em, "activate", broken)
    with pytest.raises(ValueError, match=r"could not be built .*LookupError.*undone"):
        sv.decide_warning(episode_store, w["id"], "issued", by="duty")
    after = next(x for x in sv.warnings(episode_store) if x["id"] == w["id"])
    assert after["state"] == "proposed" and after["level"] == w["level"]
    with episode_store.engine.connect() as conn:
        events = conn.execute(select(warning_event.c.from_state, warning_event.c.to_state, warning_event.c.by)).all()
    assert [tuple(e) for e in events][-2:] == [("proposed", "issued", "duty"), ("issued", "proposed", "system")]


# --------------------------------------------------------------------------------- industrial park areas
ZHUNDONG = "652300-ZD"


def test_park_list_holds_the_enterprises_inside_the_park(demo_store: Store) -> None:
    """准东 overlays the county tree (its parent is the prefecture): its list is the enterprises inside its outline,
    each with its own county, and no other; before, it held none."""
    ents = em.enterprises_of_area(demo_store, ZHUNDONG)
    assert sorted(e["code"] for e in ents) == ["ZD-CC1", "ZD-CC2", "ZD-CC3", "ZD-PW1", "ZD-PW2", "ZD-PW3"]
    counties = {e["code"]: e["county"] for e in ents}
    assert counties["ZD-CC1"] == "652327" and counties["ZD-PW3"] == "652325"  # 吉木萨尔县 and 奇台县
    items = em.build_items(demo_store, ZHUNDONG, "orange")
    assert {i.sector for i in items} == {"coal_chemical", "power"}
    assert all(i.county_name for i in items)
    # the counties' lists are as before: 阜康's has no park enterprise, 吉木萨尔's still holds its park ones
    assert {e["code"] for e in em.enterprises_of_area(demo_store, "652302")} == {"FK-CK1", "FK-CK2", "FK-CM1"}
    assert {"ZD-CC1", "JM-CM1"} <= {e["code"] for e in em.enterprises_of_area(demo_store, "652327")}


def test_park_membership_by_place_and_position(demo_store: Store) -> None:
    """A site placed on the park itself belongs to it; a position inside the outline makes a member whatever the
    place; no position and another place, or an implausible position, does not."""
    with demo_store.engine.connect() as conn:
        park_id = conn.execute(select(place.c.id).where(place.c.code == ZHUNDONG)).scalar_one()
        got = em.park_codes(
            conn,
            [
                ("on-park", park_id, None, None),
                ("inside", None, 89.12, 44.9),  # ZD-CC1's position
                ("fukang", None, 88.05, 44.2),  # FK-CM1's position
                ("nowhere", None, None, None),
                ("bad", None, 891.2, 44.9),
            ],
        )
    assert got == {"on-park": frozenset({ZHUNDONG}), "inside": frozenset({ZHUNDONG})}
