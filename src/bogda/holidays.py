"""The public holidays and adjusted working days (调休) of mainland China: one table for the whole platform.

The table ships as ``bogda/data/holidays_cn.csv`` (``date,kind,name,source``; kind ``holiday`` or
``adjusted_workday``; 2013–2026, each row citing the State Council General Office notice on that year's holiday
arrangements). The forecast reads it as calendar features (forecast.md §2 "Calendar"), the grid as working days for
deadlines in working days (governance.md §3.4; rows of the store's ``holiday`` table override it day by day).
"""

from __future__ import annotations

import csv
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

KINDS = ("holiday", "adjusted_workday")
PACKAGE_TABLE = "bogda/data/holidays_cn.csv"


class HolidayTableError(ValueError):
    """A malformed holiday table (names the file, line and field)."""


def read_holidays(path: Path | None = None) -> dict[date, str]:
    """``date → kind`` from a holidays CSV (default: the package table, read once per process).

    Raises
    ------
    HolidayTableError
        on an unparsable date or an unknown kind, naming file and line.
    """
    if path is None:
        return dict(_package_table())
    return _parse(Path(path).read_text(encoding="utf-8"), str(path))


@cache
def _package_table() -> tuple[tuple[date, str], ...]:
    text = resources.files("bogda").joinpath("data/holidays_cn.csv").read_text(encoding="utf-8")
    return tuple(_parse(text, PACKAGE_TABLE).items())


def _parse(text: str, name: str) -> dict[date, str]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out: dict[date, str] = {}
    for lineno, row in enumerate(csv.DictReader(lines), start=2):
        try:
            day = date.fromisoformat((row.get("date") or "").strip())
        except ValueError:
            raise HolidayTableError(f"{name}: row {lineno}: date {row.get('date')!r} is not YYYY-MM-DD") from None
        kind = (row.get("kind") or "").strip()
        if kind not in KINDS:
            raise HolidayTableError(f"{name}: row {lineno}: kind {kind!r} is not one of {KINDS}")
        out[day] = kind
    return out


__all__ = ["KINDS", "HolidayTableError", "read_holidays"]
