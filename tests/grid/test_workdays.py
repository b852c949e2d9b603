from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bogda.grid.workdays import WorkCalendar, read_holidays
from bogda.timeutil import BEIJING


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 1, 1), False),  # 元旦
        (date(2025, 1, 26), True),  # Sunday, 春节调休
        (date(2025, 2, 4), False),
        (date(2025, 2, 8), True),  # Saturday, 调休
        (date(2025, 5, 5), False),
        (date(2025, 9, 28), True),
        (date(2025, 10, 8), False),
        (date(2025, 10, 9), True),
        (date(2025, 3, 8), False),  # an ordinary Saturday
        (date(2026, 2, 14), True),
        (date(2026, 2, 23), False),
        (date(2026, 10, 10), True),
    ],
)
def test_is_workday(day: date, expected: bool) -> None:
    assert WorkCalendar.default().is_workday(day) is expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (datetime(2025, 3, 3, 10, 0), 3, datetime(2025, 3, 6, 10, 0)),  # Mon → Thu
        (datetime(2025, 3, 6, 10, 0), 3, datetime(2025, 3, 11, 10, 0)),  # Thu → Tue over a weekend
        (datetime(2025, 3, 8, 15, 0), 1, datetime(2025, 3, 11, 0, 0)),  # Saturday: counts from Monday 00:00
        (datetime(2025, 9, 30, 10, 0), 3, datetime(2025, 10, 11, 10, 0)),  # National Day, 调休 Saturday
        (datetime(2025, 1, 24, 9, 0), 3, datetime(2025, 2, 5, 9, 0)),  # Fri → Sun 26 (调休), Mon 27 → Wed 02-05
    ],
)
def test_add_workdays(start: datetime, n: int, expected: datetime) -> None:
    got = WorkCalendar.default().add_workdays(start.replace(tzinfo=BEIJING).astimezone(UTC), n)
    assert got.astimezone(BEIJING).replace(tzinfo=None) == expected


def test_missing_year_warns_and_counts_weekends_only() -> None:
    cal = WorkCalendar.default()
    assert cal.warnings(date(2026, 12, 30), date(2027, 1, 5)) == [
        "holiday table has no 2027: working days of 2027 count weekends only (edit the holiday table)"
    ]
    assert cal.is_workday(date(2027, 1, 1))  # New Year 2027 unknown: a Friday counts as a working day
    assert cal.warnings(date(2025, 1, 1), date(2026, 6, 1)) == []


def test_store_rows_override_shipped_table() -> None:
    cal = WorkCalendar.default({date(2025, 3, 3): "off"})
    assert not cal.is_workday(date(2025, 3, 3))


@pytest.mark.parametrize(
    ("text", "message"),
    [("day,kind,name\n2025-13-01,off,x\n", "line 2: day"), ("day,kind,name\n2025-01-01,holiday,x\n", "kind")],
)
def test_bad_holiday_rows_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_holidays(text)
