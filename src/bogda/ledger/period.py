"""Reporting periods in Beijing calendar days and times (architecture §4: calendar logic in Beijing time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bogda.timeutil import day_start_utc


@dataclass(frozen=True)
class Period:
    """Days ``first..last`` inclusive (Beijing), e.g. a year or a month; figures are "as of" the end of ``last``."""

    first: date
    last: date
    label: str

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31), f"{year}年")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        nxt = date(year + month // 12, month % 12 + 1, 1)
        return cls(date(year, month, 1), nxt - timedelta(days=1), f"{year}年{month}月")

    @property
    def start(self) -> datetime:
        """First instant (UTC-aware)."""
        return day_start_utc(self.first)

    @property
    def end(self) -> datetime:
        """Instant after the last day (UTC-aware): the "as of" moment."""
        return day_start_utc(self.last + timedelta(days=1))

    def has_day(self, d: date | None) -> bool:
        return d is not None and self.first <= d <= self.last

    def has_time(self, t: datetime | None) -> bool:
        return t is not None and self.start <= t < self.end

    @property
    def words(self) -> str:
        """``2025年1月1日至12月31日``."""
        return f"{self.first.year}年{self.first.month}月{self.first.day}日至{self.last.month}月{self.last.day}日"
