from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bogda import timeutil as tu


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260301080000", datetime(2026, 3, 1, 0, tzinfo=UTC)),
        ("20260301080000123", datetime(2026, 3, 1, 0, 0, 0, 123000, tzinfo=UTC)),
        ("2026-03-01 08:00:00", datetime(2026, 3, 1, 0, tzinfo=UTC)),
        ("2026-03-01T00:00:00Z", datetime(2026, 3, 1, 0, tzinfo=UTC)),
        ("2026/3/1 8:00", datetime(2026, 3, 1, 0, tzinfo=UTC)),
        ("2026年03月01日 08时", datetime(2026, 3, 1, 0, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert tu.parse_time(text) == expected


@pytest.mark.parametrize("bad", ["", "2026-13-01", "20261301000000", "yesterday"])
def test_parse_time_rejects_with_text(bad: str) -> None:
    with pytest.raises(ValueError, match="time"):
        tu.parse_time(bad)


def test_beijing_calendar_and_month_bounds() -> None:
    assert tu.beijing_date(datetime(2025, 12, 31, 16, tzinfo=UTC)) == date(2026, 1, 1)
    start, end = tu.month_bounds_utc(2025, 12)
    assert start == datetime(2025, 11, 30, 16, tzinfo=UTC)
    assert end == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert tu.floor_to(datetime(2026, 1, 1, 15, 59, tzinfo=UTC), "day") == datetime(2025, 12, 31, 16, tzinfo=UTC)


def test_hour_ending_label_becomes_interval_start() -> None:
    start = tu.interval_start(datetime(2019, 1, 1, 0, 0), "hour", labelled_by="end")
    assert start == datetime(2018, 12, 31, 15, tzinfo=UTC)
    assert tu.interval_start(datetime(2019, 1, 1, 0, 0), "hour", labelled_by="start") == datetime(
        2018, 12, 31, 16, tzinfo=UTC
    )
