"""Record files (CSV or XLSX) read all-or-nothing: every row valid, or nothing loads and every fault is named.

Used for the non-site inputs that come as tables from enterprises or their systems: CEMS data marks, coke-oven
push schedules, gate (门禁) logs (enforcement.md §2, §3.6). A column is found by its English name or one of its
Chinese aliases (case and surrounding spaces ignored); each cell is converted by its field's kind. Faults are
collected over the whole file — ``<file>:<line>: <column>: <reason>`` (line 1 is the header; in a workbook, the
sheet row) — and raised together as :class:`RecordFileError`, so a file is either loaded whole or not at all.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from bogda.timeutil import as_utc, parse_time

MAX_PROBLEMS = 200
"""Faults listed in the error (a file with more stops being read further)."""


class RecordFileError(ValueError):
    """A record file with faults; ``problems`` lists each as ``file:line: column: reason``."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        more = "" if len(problems) <= 5 else f"\n… {len(problems) - 5} more"
        super().__init__(f"{path}: {len(problems)} fault(s), nothing loaded:\n" + "\n".join(problems[:5]) + more)


@dataclass(frozen=True)
class Field:
    """One column of a record file.

    ``kind``: ``text``, ``time`` (aware UTC; naive = Beijing time), ``float``, ``int``, or ``choice`` (the cell is
    looked up in ``choices``, a mapping of accepted spellings → stored value, case-insensitive).
    """

    name: str
    kind: str = "text"
    required: bool = True
    aliases: tuple[str, ...] = ()
    choices: dict[str, str] = field(default_factory=dict)
    default: Any = None
    check: Callable[[Any], str | None] | None = None  # returns a reason when the converted value is refused


@dataclass
class Records:
    """The rows of a file that passed, each with its ``_line`` and ``_source`` (``file:line``)."""

    path: str
    rows: list[dict[str, Any]]
    columns: dict[str, str]  # field name → header text found
    ignored: list[str]


def _norm(s: object) -> str:
    return str(s).strip().lower().replace(" ", "_") if s is not None else ""


def _cells(path: Path, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
    """(line, cells) of a CSV (UTF-8 with or without BOM, else GB18030) or the first / named sheet of a workbook."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            ws = wb[sheet] if sheet else wb.worksheets[0]
            for i, row in enumerate(ws.iter_rows(values_only=True), start=1):
                yield i, list(row)
        finally:
            wb.close()
        return
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")  # exports of Chinese office tools
    for i, row in enumerate(csv.reader(text.splitlines()), start=1):
        yield i, row


def _convert(f: Field, v: Any) -> Any:
    """The cell as the field's kind; ``ValueError`` with the reason otherwise."""
    if f.kind == "time":
        if isinstance(v, datetime):
            return as_utc(v)  # workbook cells: naive = Beijing
        if isinstance(v, date):
            return as_utc(datetime.combine(v, time()))
        return parse_time(str(v))
    if f.kind == "float":
        x = float(str(v).strip()) if not isinstance(v, int | float) else float(v)
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {v!r}")
        return x
    if f.kind == "int":
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return int(str(v).strip())
    s = str(v).strip()
    if isinstance(v, float) and v.is_integer():
        s = str(int(v))  # a workbook number in a text column (oven 12 read as 12.0)
    if f.kind == "choice":
        key = s.lower()
        got = {k.lower(): val for k, val in f.choices.items()}.get(key)
        if got is None:
            allowed = sorted(set(f.choices.values()))
            raise ValueError(f"{s!r} is not one of {', '.join(allowed)}")
        return got
    return s


def read_records(path: str | Path, fields: Sequence[Field], *, sheet: str | None = None) -> Records:
    """Read every row of ``path`` against ``fields``; raise :class:`RecordFileError` listing all faults.

    An empty row is skipped; a file without data rows is an error (nothing to load is reported, not ignored).
    """
    p = Path(path)
    name = p.name
    if not p.exists():
        raise RecordFileError(name, [f"{name}: file not found"])
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    columns: dict[str, str] = {}
    ignored: list[str] = []
    header_seen = False
    try:
        cells = list(_cells(p, sheet))
    except (OSError, KeyError, ValueError) as exc:  # unreadable workbook, missing sheet, bad encoding
        raise RecordFileError(name, [f"{name}: cannot be read: {exc}"]) from None
    for line, row in cells:
        if not header_seen:
            if all(c is None or str(c).strip() == "" for c in row):
                continue
            header_seen = True
            heads = [_norm(c) for c in row]
            for f in fields:
                names = [_norm(f.name), *(_norm(a) for a in f.aliases)]
                pos = next((i for i, h in enumerate(heads) if h in names), None)
                if pos is not None:
                    index[f.name] = pos
                    columns[f.name] = str(row[pos]).strip()
                elif f.required:
                    alias = f" (or {', '.join(f.aliases)})" if f.aliases else ""
                    problems.append(f"{name}:{line}: column {f.name!r}{alias} missing")
            used = set(index.values())
            ignored = [str(c).strip() for i, c in enumerate(row) if i not in used and c not in (None, "")]
            if problems:
                raise RecordFileError(name, problems)
            continue
        if all(c is None or str(c).strip() == "" for c in row):
            continue
        out: dict[str, Any] = {"_line": line, "_source": f"{name}:{line}"}
        for f in fields:
            pos = index.get(f.name)
            v = row[pos] if pos is not None and pos < len(row) else None
            if v is None or (isinstance(v, str) and v.strip() == ""):
                if f.required:
                    problems.append(f"{name}:{line}: {columns.get(f.name, f.name)}: empty")
                out[f.name] = f.default
                continue
            try:
                out[f.name] = _convert(f, v)
            except ValueError as exc:
                problems.append(f"{name}:{line}: {columns.get(f.name, f.name)}: {exc}")
                continue
            if f.check is not None:
                why = f.check(out[f.name])
                if why:
                    problems.append(f"{name}:{line}: {columns.get(f.name, f.name)}: {why}")
        rows.append(out)
        if len(problems) >= MAX_PROBLEMS:
            problems.append(f"{name}: stopped after {MAX_PROBLEMS} faults")
            break
    if not header_seen:
        problems.append(f"{name}: no header row")
    elif not rows and not problems:
        problems.append(f"{name}: no data rows")
    if problems:
        raise RecordFileError(name, problems)
    return Records(name, rows, columns, ignored)


def fault(source: str, column: str, reason: str) -> str:
    """A fault found after reading (cross-field or registry checks) in the same ``file:line: column: reason`` form."""
    return f"{source}: {column}: {reason}"
