"""Working days of mainland China: weekends, public holidays and adjusted working weekends (调休).

governance.md §3.4: SLA limits in working days use an editable holiday table with 调休 weekends; a year missing
from the table falls back to weekends only, with a visible warning. The table is the platform's
(:mod:`bogda.holidays`, 2013–2026, each row citing its State Council notice; ``holiday`` → ``off``,
``adjusted_workday`` → ``work``) and rows of the ``holiday`` table in the store override it day by day.

Calendar logic runs in Beijing time (architecture §4).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

from bogda import holidays
from bogda.timeutil import BEIJING, as_utc


def read_holidays(text: str) -> dict[date, str]:
    """Parse ``day,kind,name`` rows (``#`` lines are comments) into ``{day: kind}``; kind ``off`` or ``work``.

    Raises ``ValueError`` naming the line of a bad row.
    """
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out: dict[date, str] = {}
    for lineno, row in enumerate(csv.DictReader(lines), start=2):
        try:
            day = date.fromisoformat((row.get("day") or "").strip())
        except ValueError as exc:
            raise ValueError(f"holidays line {lineno}: day {row.get('day')!r} is not YYYY-MM-DD") from exc
        kind = (row.get("kind") or "").strip()
        if kind not in ("off", "work"):
            raise ValueError(f"holidays line {lineno}: kind {kind!r} must be 'off' or 'work'")
        out[day] = kind
    return out


@cache
def _shipped() -> tuple[tuple[date, str], ...]:
    return tuple((d, "off" if k == "holiday" else "work") for d, k in holidays.read_holidays().items())


def shipped_holidays() -> dict[date, str]:
    """The holiday table shipped with bogda (read once per process)."""
    return dict(_shipped())


@dataclass
class WorkCalendar:
    """Working-day arithmetic over a holiday table ``{day: 'off' | 'work'}``.

    ``years`` are the years the table covers; any other year is weekends-only and reported by :meth:`warnings`.
    """

    days: Mapping[date, str]
    years: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.years:
            self.years = frozenset(d.year for d in self.days)

    @classmethod
    def default(cls, overrides: Mapping[date, str] | None = None) -> WorkCalendar:
        days = dict(shipped_holidays())
        days.update(overrides or {})
        return cls(days)

    def is_workday(self, day: date) -> bool:
        """Monday–Friday unless a holiday, plus 调休 weekends.

        >>> cal = WorkCalendar.default()
        >>> cal.is_workday(date(2025, 10, 8)), cal.is_workday(date(2025, 10, 11)), cal.is_workday(date(2025, 10, 9))
        (False, True, True)
        """
        kind = self.days.get(day)
        if kind is not None:
            return kind == "work"
        return day.weekday() < 5

    def missing_years(self, days: Iterable[date]) -> list[int]:
        return sorted({d.year for d in days} - set(self.years))

    def warnings(self, start: date, end: date) -> list[str]:
        """Visible warnings for years between ``start`` and ``end`` that the holiday table lacks."""
        years = set(range(start.year, end.year + 1)) - set(self.years)
        return [
            f"holiday table has no {y}: working days of {y} count weekends only (edit the holiday table)"
            for y in sorted(years)
        ]

    def add_workdays(self, start: datetime, n: int) -> datetime:
        """The time ``n`` working days after ``start`` (Beijing calendar), at the same Beijing clock time.

        A start on a non-working day counts from 00:00 of the next working day.

        >>> cal = WorkCalendar.default()
        >>> from datetime import timezone
        >>> t = datetime(2025, 9, 30, 2, 0, tzinfo=timezone.utc)  # Tue 10:00 Beijing, before National Day
        >>> cal.add_workdays(t, 3).astimezone(BEIJING).isoformat()  # Oct 1–8 off, Oct 9, 10, 11 (调休 Sat) work
        '2025-10-11T10:00:00+08:00'
        """
        if n < 0:
            raise ValueError("working days must be ≥ 0")
        local = as_utc(start).astimezone(BEIJING)
        day = local.date()
        clock = local.timetz()
        if not self.is_workday(day):
            while not self.is_workday(day):
                day += timedelta(days=1)
            clock = clock.replace(hour=0, minute=0, second=0, microsecond=0)
        left = n
        while left > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return datetime.combine(day, clock).astimezone(BEIJING).astimezone(start.tzinfo or BEIJING)
