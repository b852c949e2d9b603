"""Performance-grading ledger (governance.md §3.7): the ``alert_measures`` format the emergency lists read
(forecast.md §3.10) and the grades it copies to the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bogda.forecast import emergency as em
from bogda.ledger import LEDGERS, LedgerError, add, records
from bogda.ledger.base import normalise
from bogda.ledger.io import export_file, import_file
from bogda.registry.importers import ImportRejected
from bogda.store import Store
from bogda.store.schema import enterprise, site
from ledger.samples import SAMPLES, prerequisites

LG = LEDGERS["grade"]


def _raw(**kw: object) -> dict:
    return dict(SAMPLES["grade"][0]) | kw


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('{"purple": [{"action": "stop"}]}', "unknown level 'purple' (expected yellow, orange or red)"),
        ('{"red": [{"action": "shutdown"}]}', "red[0]: unknown action 'shutdown'"),
        (
            '{"orange": {"cap_ratio": 80}}',
            "orange.cap_ratio: cap_ratio value 80 outside 0..1 (allowed production ratio)",
        ),
        ('{"yellow": [{"action": "stop_lines", "value": 2}]}', "yellow[0]: stop_lines value 2 outside 0..1"),
        ('{"orange": [{"action": "cap_ratio"}]}', "orange[0]: cap_ratio needs a numeric value"),
        ('["stop"]', "expected a JSON object keyed by level"),
        ("{oops", "not valid JSON"),
    ],
)
def test_bad_alert_measures_name_the_field_and_the_problem(value: str, reason: str) -> None:
    _rec, problems = normalise(LG, _raw(alert_measures=value))
    assert [f for f, _ in problems] == ["alert_measures"], problems
    assert reason in problems[0][1]


def test_alert_measures_stored_in_long_form(sqlite_store: Store) -> None:
    prerequisites(sqlite_store, "grade")
    add(sqlite_store, LG, _raw(alert_measures='{"橙色": {"cap_ratio": 0.8}, "red": [{"action": "停产"}]}'), actor="t")
    (row,) = records(sqlite_store, LG)
    assert row["alert_measures"] == {
        "orange": [{"action": "cap_ratio", "value": 0.8, "note_zh": ""}],
        "red": [{"action": "stop", "value": None, "note_zh": ""}],
    }
    with pytest.raises(LedgerError, match=r"alert_measures: red\[0\]: unknown action 'halt'"):
        add(sqlite_store, LG, _raw(grading_no="G-2", alert_measures={"red": [{"action": "halt"}]}), actor="t")


def test_excel_import_names_line_and_column_and_round_trips(store: Store, tmp_path: Path) -> None:
    prerequisites(store, "grade")
    good = {"yellow": [{"action": "transport_ban", "note_zh": "国四及以下车辆禁运"}], "orange": {"cap_ratio": 0.8}}
    rows = [_raw(alert_measures=json.dumps(good, ensure_ascii=False)),
            _raw(grading_no="G-2", alert_measures='{"red": {"cap_ratio": 1.2}}')]  # fmt: skip
    path = tmp_path / "grades.xlsx"
    keys = list(rows[0])
    wb = Workbook()
    wb.active.append([LG.get_field(k).zh for k in keys])
    for r in rows:
        wb.active.append([r[k] for k in keys])
    wb.save(path)
    with pytest.raises(ImportRejected) as exc:
        import_file(store, "grade", path, actor="clerk")
    assert [(e.line, e.column) for e in exc.value.errors] == [(3, "预警减排措施")]
    assert "red.cap_ratio: cap_ratio value 1.2 outside 0..1" in exc.value.errors[0].reason
    wb.active.delete_rows(3)
    wb.save(path)
    import_file(store, "grade", path, actor="clerk")
    first = records(store, LG)
    assert first[0]["alert_measures"]["orange"] == [{"action": "cap_ratio", "value": 0.8, "note_zh": ""}]
    out = tmp_path / "export.xlsx"
    export_file(store, "grade", out)
    import_file(store, "grade", out, actor="clerk")
    assert records(store, LG)[0]["alert_measures"] == first[0]["alert_measures"]


def test_non_leading_grading_reaches_the_registry(sqlite_store: Store) -> None:
    prerequisites(sqlite_store, "grade")  # registry grade C
    add(sqlite_store, LG, _raw(grade="引领性"), actor="t")
    add(sqlite_store, LG, _raw(grading_no="G-2", grade="非引领性", graded_at="2026-01-05"), actor="t")
    with sqlite_store.engine.connect() as conn:
        grade = conn.execute(
            select(enterprise.c.grade).join(site, site.c.id == enterprise.c.site_id).where(site.c.code == "E-1")
        ).scalar_one()
    # before, 非引领性 never reached the registry, which kept 引领性 (no measures at any level)
    assert grade == "非引领性"
    assert [(m.action, m.value) for m in em.resolve_measures("cement", grade, "yellow")] == [("stop_lines", 0.5)]
