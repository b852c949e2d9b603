from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from bogda.ledger import LEDGERS, records
from bogda.ledger.io import export_file, import_file
from bogda.registry.importers import ImportRejected
from ledger.samples import SAMPLES, prerequisites

VOLATILE = {
    "id",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "version",
    "case_id",
    "active",
    "enterprise_name",
}


def _write_xlsx(path: Path, kind: str, rows: list[dict]) -> None:
    lg = LEDGERS[kind]
    wb = Workbook()
    ws = wb.active
    keys = sorted({k for r in rows for k in r}, key=[f.key for f in lg.all_fields].index)
    ws.append([lg.get_field(k).zh for k in keys])
    for r in rows:
        ws.append([r.get(k, "") for k in keys])
    wb.save(path)


def _comparable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_excel_round_trip(store, tmp_path: Path, kind: str) -> None:
    prerequisites(store, kind)
    src = tmp_path / f"{kind}.xlsx"
    _write_xlsx(src, kind, SAMPLES[kind])
    rep = import_file(store, kind, src, actor="clerk")
    assert rep.written == len(SAMPLES[kind])
    first = records(store, LEDGERS[kind])
    assert len(first) == len(SAMPLES[kind])
    out = tmp_path / f"{kind}-export.xlsx"
    export_file(store, kind, out)
    header = [c.value for c in load_workbook(out).active[1]]
    assert header[: len(LEDGERS[kind].fields)] == [f.zh for f in LEDGERS[kind].fields]
    # the exported file imports again (updates by key) and leaves the records as they were
    import_file(store, kind, out, actor="clerk")
    again = records(store, LEDGERS[kind])
    assert _comparable(again) == _comparable(first)


def test_import_all_or_nothing_with_row_errors(store, tmp_path: Path) -> None:
    rows = [
        dict(SAMPLES["petition"][0]),
        {**SAMPLES["petition"][0], "petition_no": "XF-9", "category": "涉土"},  # line 3: bad category
        {**SAMPLES["petition"][0], "petition_no": "XF-10", "received_at": "yesterday"},  # line 4: bad time
    ]
    path = tmp_path / "petitions.xlsx"
    _write_xlsx(path, "petition", rows)
    with pytest.raises(ImportRejected) as exc:
        import_file(store, "petition", path, actor="clerk")
    got = {(e.line, e.column) for e in exc.value.errors}
    assert got == {(3, "问题类别"), (4, "受理时间")}
    assert records(store, LEDGERS["petition"]) == []  # the good first row was not written either


def test_import_rejects_unknown_clue_with_its_line(store, tmp_path: Path) -> None:
    """governance §8.11: an import row naming an unknown 线索编号 is rejected with its line."""
    rows = [
        dict(SAMPLES["case"][0]),
        {**SAMPLES["case"][0], "case_no": "CASE-2", "clue_source": "在线监测", "clue_ids": "999"},
        {**SAMPLES["case"][0], "case_no": "CASE-3", "clue_source": "网格"},  # a grid case must name its task
    ]
    path = tmp_path / "cases.xlsx"
    _write_xlsx(path, "case", rows)
    with pytest.raises(ImportRejected) as exc:
        import_file(store, "case", path, actor="clerk")
    by_line = {e.line: e for e in exc.value.errors}
    assert set(by_line) == {3, 4}
    assert by_line[3].column == "线索编号" and "999" in by_line[3].reason
    assert records(store, LEDGERS["case"]) == []


def test_import_missing_column_and_duplicate_key(store, tmp_path: Path) -> None:
    path = tmp_path / "v.xlsx"
    _write_xlsx(path, "vehicle", [{"plate_no": "A"}, {"plate_no": "A"}])
    with pytest.raises(ImportRejected) as exc:
        import_file(store, "vehicle", path, actor="clerk")
    cols = {e.column for e in exc.value.errors}
    assert {"车辆类型", "排放阶段"} <= cols
    _write_xlsx(path, "vehicle", [SAMPLES["vehicle"][0], SAMPLES["vehicle"][0]])
    with pytest.raises(ImportRejected, match="repeats line 2"):
        import_file(store, "vehicle", path, actor="clerk")


def test_import_csv_gb18030(store, tmp_path: Path) -> None:
    lg = LEDGERS["vehicle"]
    text = "号牌号码,车辆类型,排放阶段\n新B1,柴油客车,国三\n"
    path = tmp_path / "v.csv"
    path.write_bytes(text.encode("gb18030"))
    import_file(store, "vehicle", path, actor="clerk")
    assert [r["plate_no"] for r in records(store, lg)] == ["新B1"]
