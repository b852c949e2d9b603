from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bogda.ledger import LEDGERS, LedgerError, add, events, records, update
from bogda.ledger.base import Field, format_value, normalise, parse_value


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        (Field("d", "日期", "date"), "2025-03-01", date(2025, 3, 1)),
        (Field("d", "日期", "date"), "2025/3/1", date(2025, 3, 1)),
        (Field("d", "日期", "date"), "2025年3月1日", date(2025, 3, 1)),
        (Field("d", "日期", "date"), "2025-03-01 00:00:00", date(2025, 3, 1)),
        (Field("t", "时间", "datetime"), "2025-03-01 08:00", datetime(2025, 3, 1, 0, 0, tzinfo=UTC)),
        (Field("b", "是否", "bool"), "是", True),
        (Field("b", "是否", "bool"), "否", False),
        (Field("l", "列表", "list"), "a; b；c", ["a", "b", "c"]),
        (Field("n", "数", "float", minimum=0), "12.5", 12.5),
        (Field("i", "整数", "int"), "3.0", 3),
        (Field("s", "文字", "str"), 42.0, "42"),
        (Field("j", "JSON", "json"), '{"SO2": 1}', {"SO2": 1}),
    ],
)
def test_parse_value(field: Field, text: str, expected: object) -> None:
    assert parse_value(field, text) == expected
    if field.kind not in ("datetime",):
        assert parse_value(field, format_value(field, expected)) == expected


@pytest.mark.parametrize(
    ("field", "text", "reason"),
    [
        (Field("d", "日期", "date"), "2025-13-01", "not a date"),
        (Field("d", "日期", "date"), "soon", "not a date"),
        (Field("n", "数", "float", minimum=0), "-1", "below the minimum"),
        (Field("n", "数", "float"), "nan", "not a finite number"),
        (Field("i", "整数", "int"), "2.5", "whole number"),
        (Field("b", "是否", "bool"), "maybe", "是/否"),
        (Field("c", "类别", choices=("涉气", "涉水")), "涉土", "is not one of"),
        (Field("j", "JSON", "json"), "{bad", "not valid JSON"),
    ],
)
def test_parse_value_refuses(field: Field, text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_value(field, text)


@pytest.mark.parametrize(
    ("kind", "raw", "field"),
    [
        ("rectification", {"batch": "b", "task_no": "1", "problem": "p", "term": "短期"}, "deadline"),
        (
            "rectification",
            {
                "batch": "b",
                "task_no": "1",
                "problem": "p",
                "term": "短期",
                "deadline": "2025-01-01",
                "cancel_date": "2025-01-02",
            },
            "cancel_date",
        ),
        (
            "petition",
            {
                "petition_no": "1",
                "channel": "12369",
                "received_at": "2025-03-02 09:00",
                "category": "涉气",
                "closed_at": "2025-03-01 09:00",
                "finding": "属实",
            },
            "closed_at",
        ),
        (
            "petition",
            {
                "petition_no": "1",
                "channel": "12369",
                "received_at": "2025-03-02 09:00",
                "category": "涉气",
                "closed_at": "2025-03-05 09:00",
            },
            "finding",
        ),
        (
            "case",
            {
                "case_no": "1",
                "party": "p",
                "clue_source": "现场",
                "registered_at": "2025-03-02 09:00",
                "decided_at": "2025-03-01 09:00",
                "decision": "处罚",
                "fine_yuan": "1",
            },
            "decided_at",
        ),
        (
            "case",
            {
                "case_no": "1",
                "party": "p",
                "clue_source": "现场",
                "registered_at": "2025-03-02 09:00",
                "five_types": "罚酒三杯",
            },
            "five_types",
        ),
        (
            "permit",
            {
                "permit_no": "1",
                "unit": "u",
                "management_class": "重点",
                "apply_type": "首次",
                "accepted_at": "2025-03-02",
                "decided_at": "2025-03-01",
            },
            "decided_at",
        ),
        (
            "eia",
            {
                "approval_no": "1",
                "project": "p",
                "doc_type": "报告表",
                "approval_level": "县",
                "accepted_at": "2025-03-01",
                "decided_at": "2025-03-05",
                "excluded_days": "9",
                "decision": "批准",
            },
            "excluded_days",
        ),
        (
            "quota_credit",
            {"credit_no": "1", "pollutant": "SO2", "amount": "-3", "type": "交易", "county_code": "1"},
            "amount",
        ),
        (
            "quota_allocation",
            {
                "allocation_no": "1",
                "pollutant": "SO2",
                "project": "p",
                "project_emission": "2",
                "ratio": "2",
                "sources": "C:3",
                "allocated_at": "2025-01-01",
                "county_code": "1",
            },
            "sources",
        ),
        ("hw_unit", {"unit": "u", "year": "2025", "generated_t": "10", "transferred_t": "20"}, "generated_t"),
        (
            "carbon",
            {
                "entity": "e",
                "year": "2024",
                "verified_emissions_t": "1",
                "allocated": "1",
                "surrendered": "1",
                "deadline": "2025-12-31",
            },
            "surrendered_at",
        ),
        (
            "vehicle",
            {"plate_no": "x", "vehicle_type": "其他", "emission_stage": "国三", "eliminated_at": "2025-01-01"},
            "method",
        ),
    ],
)
def test_validation_names_the_field(kind: str, raw: dict, field: str) -> None:
    _rec, problems = normalise(LEDGERS[kind], raw)
    assert field in [f for f, _ in problems], problems


def test_add_update_history(sqlite_store) -> None:
    lg = LEDGERS["rectification"]
    rid = add(
        sqlite_store,
        lg,
        {"batch": "b", "task_no": "T9", "problem": "p", "term": "短期", "deadline": "2025-05-01"},
        actor="clerk",
    )
    update(
        sqlite_store,
        lg,
        rid,
        {"acceptance_date": "2025-04-20", "acceptance_level": "县", "cancel_date": "2025-04-22", "status": "已销号"},
        actor="clerk",
    )
    (row,) = records(sqlite_store, lg)
    assert row["cancel_date"] == date(2025, 4, 22) and row["version"] == 2
    assert [e["event"] for e in events(sqlite_store, lg, rid)] == ["created", "updated"]
    with pytest.raises(LedgerError, match="cancel_date"):
        update(sqlite_store, lg, rid, {"acceptance_date": None}, actor="clerk")
    assert records(sqlite_store, lg)[0]["version"] == 2  # refused update wrote nothing
