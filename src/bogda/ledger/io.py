"""Excel import and export of the ledgers (governance.md §2.3, §6).

Export writes one sheet with the Chinese column names of the ledger's fields (then the common fields) and one row
per record; import reads the same layout back (column names in Chinese or English, CSV in UTF-8 or GB18030 too),
through the registry's reading machinery (:func:`bogda.registry.importers.read_rows`). Import is all-or-nothing:
every row is validated first, then written in one transaction; any rejected row (a bad value, an unknown link, a
quota overdraw) rejects the file with :class:`~bogda.registry.importers.ImportRejected` listing file, line, column
and reason, and nothing is written. A row whose key (e.g. 任务编号) exists updates that record, so an exported file
edited and imported again round-trips.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from bogda.ledger import ledger as get_ledger
from bogda.ledger.base import Ledger, LedgerError, format_value, load, normalise, synced, write
from bogda.registry.importers import ImportRejected, ImportReport, RowError, accepted, read_rows
from bogda.store import Store


def _header_map(lg: Ledger, header: list[str], file: str) -> tuple[dict[str, str], list[RowError]]:
    lower = {h.strip().lower(): h for h in header if h}
    found: dict[str, str] = {}
    errors: list[RowError] = []
    for f in lg.all_fields:
        for name in f.names:
            if name.lower() in lower:
                found[f.key] = lower[name.lower()]
                break
        else:
            if f.required:
                errors.append(
                    RowError(file, 1, f.zh, f"required column missing (accepted names: {', '.join(f.names)})")
                )
    return found, errors


def read_file(kind: str, path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """Validated records of ``path`` for ledger ``kind`` (``(line, record)``), or :class:`ImportRejected`."""
    lg = get_ledger(kind)
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise ImportRejected([RowError(file, 0, "", "file not found")])
    header, rows = read_rows(path)
    found, errors = _header_map(lg, header, file)
    if errors:
        raise ImportRejected(errors)
    col = {f.key: f.zh for f in lg.all_fields}
    out: list[tuple[int, dict[str, Any]]] = []
    seen: dict[Any, int] = {}
    for line, row in rows:
        raw = {k: row.get(src, "") for k, src in found.items()}
        rec, problems = normalise(lg, raw)
        for key, reason in problems:
            errors.append(RowError(file, line, found.get(key, col.get(key, key)), reason))
        key = rec.get(lg.key)
        if key is not None:
            if key in seen:
                errors.append(RowError(file, line, col[lg.key], f"{key} repeats line {seen[key]}"))
            seen[key] = line
        out.append((line, rec))
    return accepted(out, errors, file)


def import_file(store: Store, kind: str, path: str | Path, *, actor: str, user_id: int | None = None) -> ImportReport:
    """Validate and import ``path`` into ledger ``kind``, all rows or none.

    Raises
    ------
    ImportRejected
        listing every rejected row (file, line, column, reason); nothing has been written.
    """
    lg = get_ledger(kind)
    path = Path(path)
    rows = read_file(kind, path)
    col = {f.key: f.zh for f in lg.all_fields}
    errors: list[RowError] = []
    report = ImportReport(path.name, kind)
    synced(store, lg)  # a row naming a case enforcement filed updates that case
    with store.begin() as conn:
        for line, rec in rows:
            try:
                with conn.begin_nested():
                    write(conn, lg, rec, actor=actor, event="imported", user_id=user_id)
            except LedgerError as exc:
                errors.extend(RowError(path.name, line, col.get(k, k), r) for k, r in exc.problems)
            except Exception as exc:  # a database constraint: report it against the row, roll everything back
                errors.append(RowError(path.name, line, "", f"database refused the row: {exc.__class__.__name__}"))
        if errors:
            raise ImportRejected(errors)
        report.written = len(rows)
    return report


def export_rows(lg: Ledger, rows: list[dict[str, Any]]) -> bytes:
    """An .xlsx workbook of ``rows`` in the import layout."""
    wb = Workbook()
    ws = wb.active
    ws.title = lg.zh[:31]
    fields = lg.all_fields
    ws.append([f.zh for f in fields])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for r in rows:
        ws.append([format_value(f, r.get(f.key)) for f in fields])
    for i, f in enumerate(fields, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(10, min(40, 2 * len(f.zh) + 4))
    ws.freeze_panes = "A2"
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export_file(store: Store, kind: str, path: str | Path | None = None) -> bytes:
    """All records of ledger ``kind`` as .xlsx (written to ``path`` when given)."""
    lg = get_ledger(kind)
    synced(store, lg)
    with store.engine.connect() as conn:
        rows = load(lg, conn)
    data = export_rows(lg, rows)
    if path is not None:
        Path(path).write_bytes(data)
    return data


def error_file(errors: list[RowError]) -> bytes:
    """The rejected rows as a downloadable .xlsx (file, line, column, reason) (governance §6)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "导入错误"
    ws.append(["文件", "行号", "列", "原因"])
    for e in errors:
        ws.append([e.file, e.line, e.column, e.reason])
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
