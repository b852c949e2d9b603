"""Input records of the non-site rules: CEMS data marks (C04, C16, exemption), coke-oven pushes (P02), gate logs
(P03) — all-or-nothing CSV / XLSX import naming file:line/column, and the scheduled catalogue raising clues from
the stored records (demo region + the seeded synthetic data of ``enforcement.synthetic``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bogda.enforcement import planbook, plans, recordbook, service
from bogda.enforcement.planbook import PlanInput
from bogda.enforcement.power import NODATA, OFF
from bogda.enforcement.recordbook import emission_stage
from bogda.enforcement.tabular import Field, RecordFileError, read_records
from bogda.store import Store
from bogda.store.schema import cems_mark, clue, coke_push, gate_record, site
from enforcement.synthetic import Injected, bj, write_demo_data


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _count(store: Store, table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _clues(store: Store, rule: str) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(clue).where(clue.c.rule_id == rule)).mappings()]


@pytest.fixture
def seeded(demo_store: Store) -> tuple[Store, Injected]:
    return demo_store, write_demo_data(demo_store)


# ---------------------------------------------------------------------------------------------- reader
def test_reader_names_every_fault_and_loads_nothing(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "m.csv",
        "排放口编码,标记类型,开始时间,结束时间\n"
        "A,启炉,2026-01-10 08:00,2026-01-10 10:00\n"
        "B,reboot,2026-01-10 08:00,2026-01-10 10:00\n"
        ",停运,tomorrow,2026-01-10 10:00\n",
    )
    with pytest.raises(RecordFileError) as exc:
        read_records(f, recordbook.MARK_FIELDS)
    probs = exc.value.problems
    assert probs[0].startswith("m.csv:3: 标记类型: 'reboot' is not one of")
    assert probs[1] == "m.csv:4: 排放口编码: empty"
    assert probs[2].startswith("m.csv:4: 开始时间: ")
    assert len(probs) == 3
    missing = _write(tmp_path / "n.csv", "target,start\nA,2026-01-10 08:00\n")
    with pytest.raises(RecordFileError, match=r"n.csv:1: column 'mark_type'"):
        read_records(missing, recordbook.MARK_FIELDS)
    with pytest.raises(RecordFileError, match="no data rows"):
        read_records(_write(tmp_path / "e.csv", "target,mark_type,start,end\n"), recordbook.MARK_FIELDS)


def test_reader_reads_workbooks(tmp_path: Path) -> None:
    from datetime import datetime

    wb = Workbook()
    ws = wb.active
    ws.append(["炉组", "炭化室号", "推焦时间"])
    ws.append([1, 12, datetime(2026, 1, 10, 8, 0)])  # numbers and a naive datetime cell (Beijing)
    ws.append(["1", "13", "2026-01-10 08:10"])
    path = tmp_path / "p.xlsx"
    wb.save(path)
    recs = read_records(path, recordbook.PUSH_FIELDS)
    assert [(r["battery"], r["oven"]) for r in recs.rows] == [("1", "12"), ("1", "13")]
    assert recs.rows[0]["pushed_at"] == bj(10, 8) and recs.rows[1]["_source"] == "p.xlsx:3"
    ws.append(["1", "14", "8 o'clock"])
    wb.save(path)
    with pytest.raises(RecordFileError, match=r"p.xlsx:4: 推焦时间"):
        read_records(path, recordbook.PUSH_FIELDS)
    with pytest.raises(RecordFileError, match="cannot be read"):
        read_records(path, [Field("x")], sheet="nope")


@pytest.mark.parametrize(
    ("text", "stage"),
    [("国四", "IV"), ("国IV", "IV"), ("国Ⅳ", "IV"), ("4", "IV"), ("China V", "V"), ("国六b", "VI"), ("国0", "0")],
)
def test_emission_stage_spellings(text: str, stage: str) -> None:
    assert emission_stage(text) == stage


def test_emission_stage_refused() -> None:
    with pytest.raises(ValueError, match="not an emission stage"):
        emission_stage("欧五")


# ----------------------------------------------------------------------------------------------- marks
def test_marks_import_is_all_or_nothing_and_idempotent(demo_store: Store, tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "marks.csv",
        "target,mark_type,start,end,entered_at\n"
        "ZD-PW1-DA001,停运,2026-01-08 10:00,2026-01-08 14:00,2026-01-08 10:05\n"
        "NO-SUCH,maintenance,2026-01-08 10:00,2026-01-08 11:00,\n"
        "ZD-PW1-DA001,校准,2026-01-09 10:00,2026-01-09 09:00,\n",
    )
    with pytest.raises(RecordFileError) as exc:
        recordbook.import_marks(demo_store, bad)
    assert exc.value.problems == [
        "marks.csv:3: target: 'NO-SUCH' is not an outlet or meter code",
        "marks.csv:4: end: must be after start",
    ]
    assert _count(demo_store, cems_mark) == 0
    good = _write(
        tmp_path / "marks.csv",
        "排放口编码,标记类型,开始时间,结束时间,录入时间,原因\n"
        "ZD-PW1-DA001,停运,2026-01-08 10:00,2026-01-08 14:00,2026-01-08 10:05,检修停炉\n"
        "ZD-PW1-M1,故障,2026-01-09 10:00,2026-01-09 12:00,,\n",
    )
    first = recordbook.import_marks(demo_store, good)
    again = recordbook.import_marks(demo_store, good)
    assert (first.inserted, again.inserted, again.unchanged) == (2, 0, 2)
    rows = recordbook.list_marks(demo_store)
    assert {(r["target"], r["mark_type"]) for r in rows} == {
        ("ZD-PW1-DA001", "stopped"),
        ("ZD-PW1-M1", "fault_accident"),
    }
    stopped = next(r for r in rows if r["mark_type"] == "stopped")
    assert stopped["start"] == bj(8, 10) and stopped["reason"] == "检修停炉" and stopped["source"] == "marks.csv:2"


def test_marks_drive_c16_c04_and_exempt_exceedance(seeded: tuple[Store, Injected], tmp_path: Path) -> None:
    store, _ = seeded
    f = _write(
        tmp_path / "marks.csv",
        "target,mark_type,start,end,entered_at\n"
        # stopped while the production meter (ZD-PW1-M1, ON 06–22 Beijing) runs, entered 3 days late
        "ZD-PW1-DA001,stopped,2026-01-08 10:00,2026-01-08 14:00,2026-01-11 09:00\n"
        # the injected C01 hours (10th 10:00–13:59) under an accepted startup mark entered on time
        "ZD-PW1-DA001,startup,2026-01-10 10:00,2026-01-10 14:00,2026-01-10 10:30\n",
    )
    recordbook.import_marks(store, f)
    service.run_clues(store, since=bj(6), until=bj(14), enterprises=["ZD-PW1"])
    c16 = _clues(store, "C16")
    assert len(c16) == 1 and c16[0]["window_start"] == bj(8, 10) and c16[0]["window_end"] == bj(8, 14)
    assert c16[0]["metrics"]["reason"] == "stopped_mark" and c16[0]["metrics"]["on_hours"] == 4.0
    docs = c16[0]["evidence"]["documents"]
    assert docs and docs[0]["kind"] == "mark" and docs[0]["mark_type"] == "stopped"
    c04 = {c["metrics"]["mark_type"]: set(c["metrics"]["reasons"].split(",")) for c in _clues(store, "C04")}
    # the startup mark sits on steady load above 80 % (the seeded load peaks late morning): audited as well
    assert c04 == {"stopped": {"entered_late", "stopped_while_production_on"}, "startup": {"steady_high_load"}}
    assert not _clues(store, "C01")  # the marked startup hours are not judged


def test_without_marks_the_exceedance_stands(seeded: tuple[Store, Injected]) -> None:
    store, _ = seeded
    service.run_clues(store, since=bj(6), until=bj(14), enterprises=["ZD-PW1"])
    assert len(_clues(store, "C01")) == 1 and not _clues(store, "C16") and not _clues(store, "C04")


# ---------------------------------------------------------------------------------------------- pushes
def _pushes_csv(path: Path, days: range, per_day: int) -> Path:
    lines = ["battery,oven,pushed_at"]
    for day in days:
        for k in range(per_day):
            t = bj(day) + timedelta(minutes=int(k * 24 * 60 / per_day))
            lines.append(f"1,{k % 60 + 1},{t.astimezone(bj(1).tzinfo).isoformat()}")
    return _write(path, "\n".join(lines) + "\n")


def test_pushes_need_a_registered_battery(demo_store: Store, tmp_path: Path) -> None:
    f = _pushes_csv(tmp_path / "push.csv", range(10, 11), 3)
    with pytest.raises(RecordFileError) as exc:
        recordbook.import_pushes(demo_store, f, enterprise="FK-CK1")
    assert exc.value.problems[0] == "push.csv:2: battery: '1' is not a registered battery of the enterprise"
    assert len(exc.value.problems) == 3 and _count(demo_store, coke_push) == 0
    with pytest.raises(ValueError, match="ovens must be positive"), demo_store.begin() as conn:
        recordbook.set_battery(conn, "FK-CK1", "1", ovens=0)


def test_p02_coking_time_under_an_order(seeded: tuple[Store, Injected], tmp_path: Path) -> None:
    store, _ = seeded
    with store.begin() as conn:
        recordbook.set_battery(conn, "FK-CK1", "1", ovens=60, chamber_height_m=6.25, coking_h=20.0)
        order = PlanInput("order", level="orange", start=bj(14), end=bj(16), doc_id="昌环应急〔2026〕2号")
        planbook.add_plan(conn, order)
        planbook.add_plan(conn, PlanInput("measure", enterprise="FK-CK1", level="orange", action="extend_coking_h"))
    res = recordbook.import_pushes(store, _pushes_csv(tmp_path / "push.csv", range(10, 18), 60), enterprise="FK-CK1")
    assert res.inserted == 8 * 60
    service.run_clues(store, since=bj(10), until=bj(18), enterprises=["FK-CK1"])
    (p02,) = _clues(store, "P02")
    # 60 pushes/day: design 60 × 24 / 20 = 72 allowed; under the order 60 × 24 / 28 = 51.4 (chamber ≥ 6 m)
    assert (p02["window_start"], p02["window_end"]) == (bj(14), bj(16))
    assert p02["metrics"]["pushes"] == [60.0, 60.0] and p02["metrics"]["allowed"] == [51.43, 51.43]
    assert p02["channel"] == "1" and p02["severity"] == "S2"
    ev = p02["evidence"]
    assert [d["doc_id"] for d in ev["documents"] if d["kind"] == "order"] == ["昌环应急〔2026〕2号"]
    assert [r["value"] for r in ev["raw"] if r["in_hit"] and r["channel"] == "pushes-Avg"] == ["60.0", "60.0"]
    assert ev["plots"][0]["series"][0]["channel"] == "pushes"


def test_p02_pushes_without_dust_collection(params, hourly_ts) -> None:
    days = hourly_ts(2, step_s=86400) - np.timedelta64(8, "h")  # two Beijing days
    subj = plans.Subject("E1", "E1", days, 86400, "enterprise")
    meter_ts = hourly_ts(2 * 96, step_s=900) - np.timedelta64(8, "h")
    state = np.full(len(meter_ts), plans.ON, dtype=np.int8)
    state[96 + 40 : 96 + 44] = OFF  # OFF for an hour on day 2 (10:00–11:00 Beijing)
    state[20:24] = NODATA  # NODATA on day 1 while pushing: never OFF
    quarter = np.timedelta64(900, "s")
    pushes = np.r_[days[0] + (20 + np.arange(4)) * quarter, days[1] + (40 + np.arange(4)) * quarter]
    (hit,) = plans.pushes_without_dedust(pushes, meter_ts, state, 900, subj, params, battery="1", meter_id="M")
    assert (hit.i0, hit.i1, hit.metrics["pushes_without_dedust"]) == (1, 1, 4)


# ------------------------------------------------------------------------------------------------ gate
def test_p03_transport_ban_from_gate_records(seeded: tuple[Store, Injected], tmp_path: Path) -> None:
    store, _ = seeded
    with store.begin() as conn:
        order = PlanInput("order", level="yellow", start=bj(14), end=bj(16), doc_id="昌环应急〔2026〕3号")
        planbook.add_plan(conn, order)
    f = _write(
        tmp_path / "gate.csv",
        "通过时间,车牌号,车辆类型,排放阶段,燃料类型,方向\n"
        "2026-01-13 09:00,新B12345,重型,国四,柴油,进\n"  # before the order
        "2026-01-14 09:00,新B12345,重型,国四,柴油,进\n"  # banned
        "2026-01-14 10:00,新B 66666,重型,国三,柴油,进\n"  # banned
        "2026-01-14 11:00,新B77777,重型,国五,柴油,进\n"  # National V: allowed
        "2026-01-14 12:00,新B88888,中型,国四,柴油,进\n"  # not heavy
        "2026-01-14 13:00,新B12345,重型,国四,柴油,出\n"  # leaving
        "2026-01-15 09:00,新BD1234,重型,国四,纯电,进\n"  # electric
        "2026-01-15 10:00,新B99999,重型,4,柴油,进\n",  # banned
    )
    assert recordbook.import_gate(store, f, enterprise="FK-CM1").inserted == 8  # grade B: yellow → transport ban
    assert recordbook.import_gate(store, f, enterprise="FK-CM1").inserted == 0
    service.run_clues(store, since=bj(12), until=bj(18), enterprises=["FK-CM1"])
    p03 = sorted(_clues(store, "P03"), key=lambda r: r["window_start"])
    assert [(r["window_start"], r["metrics"]["entries"]) for r in p03] == [(bj(14, 9), 2), (bj(15, 10), 1)]
    assert p03[0]["metrics"]["plates"] == ["新B12345", "新B66666"] and p03[0]["metrics"]["stages"] == ["III", "IV"]
    raw = [r for r in p03[0]["evidence"]["raw"] if r["in_hit"] and r["channel"] == "plate-Avg"]
    assert [r["value"] for r in raw] == ["新B12345", "新B66666"] and all(r["record_id"] for r in raw)
    # a grade-A cement plant has no transport ban: its banned trucks raise nothing
    recordbook.import_gate(store, f, enterprise="CJ-CM1")
    service.run_clues(store, since=bj(12), until=bj(18), enterprises=["CJ-CM1"])
    assert all(r["evidence"]["subject"]["id"] == "FK-CM1" for r in _clues(store, "P03"))


def test_gate_import_faults(demo_store: Store, tmp_path: Path) -> None:
    f = _write(
        tmp_path / "gate.csv",
        "enterprise,passed_at,plate,vehicle_class,emission_stage\n"
        "FK-CM1,2026-01-14 09:00,新B12345,重型,欧五\n"
        "XX,2026-01-14 09:00,新B1,heavy,IV\n",
    )
    with pytest.raises(RecordFileError) as exc:
        recordbook.import_gate(demo_store, f)
    assert exc.value.problems == [
        "gate.csv:2: emission_stage: '欧五' is not an emission stage (国0 … 国六, 0 … 6, I … VI)",
        "gate.csv:3: plate: '新B1' is not a plate",
        "gate.csv:3: enterprise: 'XX' is not an enterprise code",
    ]
    assert _count(demo_store, gate_record) == 0


def test_orders_and_list_measures_from_issued_warnings(demo_store: Store) -> None:
    from bogda.store.schema import emergency_list, emergency_list_item, plan

    with demo_store.begin() as conn:
        ids = {c: i for c, i in conn.execute(select(site.c.code, site.c.id).where(site.c.kind == "enterprise"))}
        now = bj(20)
        # a warning's order, lifted early (the forecast side sets end = lift time and active = false)
        oid = conn.execute(
            plan.insert()
            .values(
                kind="order",
                level="orange",
                start=bj(14),
                end=bj(15, 12),
                doc_id="昌环预警〔2026〕5号",
                source="warning",
                attrs={"warning_id": 7},
                active=False,
                created_at=now,
            )
            .returning(plan.c.id)
        ).scalar_one()
        lid = conn.execute(
            emergency_list.insert()
            .values(
                warning_id=None,
                version=1,
                area_code="652300",
                level="orange",
                template_version="t",
                active=False,
                totals={},
                created_at=now,
            )
            .returning(emergency_list.c.id)
        ).scalar_one()
        coking = [{"action": "extend_coking_h", "value": 36.0}, {"action": "transport_ban", "value": None}]
        item = {"list_id": lid, "order_id": oid, "grade": "C"}
        conn.execute(
            emergency_list_item.insert(),
            [
                item | {"enterprise_id": ids["FK-CK1"], "sector": "coking", "measures": coking},
                item | {"enterprise_id": ids["ZD-PW1"], "sector": "power", "measures": [{"action": "none"}]},
            ],
        )
        # a hand-entered order withdrawn by hand stays out
        manual = planbook.add_plan(conn, PlanInput("order", level="red", start=bj(2), end=bj(3), doc_id="作废"))
        planbook.deactivate_plan(conn, manual)
    ps = planbook.plan_set(demo_store)
    assert [(o.doc_id, o.lifted_at) for o in ps.orders] == [("昌环预警〔2026〕5号", bj(15, 12))]
    got = {(m.enterprise_id, m.level, m.action, m.value) for m in ps.measures}
    assert got == {("FK-CK1", "orange", "extend_coking_h", 36.0), ("FK-CK1", "orange", "transport_ban", None)}
    assert [m.action for _, m in plans.active_measures(ps, "FK-CK1")] == ["extend_coking_h", "transport_ban"]
