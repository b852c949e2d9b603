"""Time conventions of bogda (architecture.md §4).

* Every timestamp is **stored in UTC**, timezone-aware.
* A measurement carries the **start** of its interval and its resolution (``rt``, ``min``, ``hour``, ``day``).
  Sources that label an hour by its end (CNEMC, most HJ 212 hourly data under HJ 663) are shifted back by one
  interval in their adapter, and the adapter documents it.
* Display and every calendar rule (days, months, the heating season, the 2026-03-01 switch of standard) use
  **Beijing time**: UTC+8, no daylight saving.

Functions here are pure apart from :func:`now_utc`, the one place that reads the clock (tests and services
pass a clock explicitly where behaviour depends on it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import polars as pl

BEIJING = timezone(timedelta(hours=8), "CST")
"""China Standard Time, UTC+8, no DST (fixed offset: faster and exact for every date after 1991)."""

BEIJING_NAME = "Asia/Shanghai"
"""IANA name, for Polars/Arrow columns."""

RESOLUTIONS: dict[str, timedelta | None] = {
    "rt": None,
    "min": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
"""Interval length of each resolution code; ``rt`` (real-time samples) is instantaneous."""

Clock = Callable[[], datetime]


def now_utc() -> datetime:
    """The current time in UTC: the one place that reads the system clock."""
    return datetime.now(UTC)


def as_utc(ts: datetime, *, naive: str = "beijing") -> datetime:
    """Return ``ts`` as an aware UTC datetime.

    Parameters
    ----------
    ts : datetime
    naive : {"beijing", "utc"}
        How to read a naive ``ts``. Chinese sources write local Beijing time without an offset, so that is
        the default.

    >>> as_utc(datetime(2026, 3, 1, 0, 0)).isoformat()
    '2026-02-28T16:00:00+00:00'
    """
    if ts.tzinfo is None:
        if naive == "beijing":
            ts = ts.replace(tzinfo=BEIJING)
        elif naive == "utc":
            ts = ts.replace(tzinfo=UTC)
        else:
            raise ValueError(f"naive must be 'beijing' or 'utc', not {naive!r}")
    return ts.astimezone(UTC)


def to_beijing(ts: datetime) -> datetime:
    """Aware ``ts`` in Beijing time (a naive value is taken as UTC, the storage convention)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(BEIJING)


def beijing_wall_ms(ts: datetime | str) -> int:
    """Milliseconds since the epoch of ``ts``'s Beijing wall clock read as if it were UTC.

    A chart set to show UTC (ECharts ``useUTC``) then labels its time axis and tooltips in Beijing time whatever
    the browser's own time zone: a command centre in Xinjiang may run its machines on Urumqi time (UTC+6) while
    every figure and rule of the platform is in Beijing time. ``ts``: an aware datetime or an ISO 8601 text with its
    offset; a naive one is taken as UTC, the storage convention.

    >>> beijing_wall_ms("2026-12-01T18:00:00Z") == beijing_wall_ms("2026-12-02T02:00:00+08:00")
    True
    >>> datetime.fromtimestamp(beijing_wall_ms(datetime(2026, 12, 1, 18, tzinfo=UTC)) / 1000, UTC).isoformat()
    '2026-12-02T02:00:00+00:00'
    """
    when = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    wall = to_beijing(when).replace(tzinfo=UTC)
    return int(wall.timestamp()) * 1000 + wall.microsecond // 1000


def beijing_date(ts: datetime) -> date:
    """The Beijing calendar day that ``ts`` falls in.

    >>> beijing_date(datetime(2026, 2, 28, 16, 0, tzinfo=UTC))
    datetime.date(2026, 3, 1)
    """
    return to_beijing(ts).date()


def day_start_utc(day: date) -> datetime:
    """UTC instant at which Beijing calendar ``day`` begins (00:00 Beijing = 16:00 UTC the day before)."""
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING).astimezone(UTC)


def month_bounds_utc(year: int, month: int) -> tuple[datetime, datetime]:
    """[start, end) of a Beijing calendar month, in UTC."""
    start = day_start_utc(date(year, month, 1))
    end = day_start_utc(date(year + month // 12, month % 12 + 1, 1))
    return start, end


def floor_to(ts: datetime, resolution: str) -> datetime:
    """Start of the interval of ``resolution`` containing ``ts`` (days follow the Beijing calendar)."""
    ts = as_utc(ts, naive="utc")
    if resolution == "min":
        return ts.replace(second=0, microsecond=0)
    if resolution == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    if resolution == "day":
        return day_start_utc(beijing_date(ts))
    if resolution == "rt":
        return ts
    raise ValueError(f"unknown resolution {resolution!r}; expected one of {sorted(RESOLUTIONS)}")


def interval_start(label: datetime, resolution: str, *, labelled_by: str) -> datetime:
    """Convert a source's interval label to bogda's interval start.

    Parameters
    ----------
    label : datetime
        The time the source printed (aware, or naive Beijing time).
    resolution : str
        ``min``, ``hour`` or ``day``.
    labelled_by : {"start", "end"}
        ``end`` for hour-ending sources: CNEMC's hour 1 is the mean of 00:00–01:00, so it starts at 00:00.

    >>> interval_start(datetime(2019, 1, 1, 1), "hour", labelled_by="end").isoformat()
    '2018-12-31T16:00:00+00:00'
    """
    ts = as_utc(label)
    step = RESOLUTIONS.get(resolution)
    if step is None:
        raise ValueError(f"resolution {resolution!r} has no interval")
    if labelled_by == "end":
        return ts - step
    if labelled_by == "start":
        return ts
    raise ValueError(f"labelled_by must be 'start' or 'end', not {labelled_by!r}")


_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?(\d{3})?$")
_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%d",
    "%Y年%m月%d日 %H时",
    "%Y年%m月%d日",
)


def parse_time(text: str, *, naive: str = "beijing") -> datetime:
    """Parse the time formats the adapters meet and return aware UTC.

    Handles HJ 212 ``yyyyMMddHHmmss`` (and ``…zzz`` milliseconds, and shorter compact forms), ISO 8601
    with or without offset (``Z`` too), ``/``-separated dates, and Chinese ``年月日时``. A naive time is read
    as Beijing time unless ``naive="utc"``.

    Raises
    ------
    ValueError
        naming the text that could not be read.

    >>> parse_time("20260301080000").isoformat()
    '2026-03-01T00:00:00+00:00'
    >>> parse_time("2026-03-01T08:00:00+08:00").isoformat()
    '2026-03-01T00:00:00+00:00'
    >>> parse_time("2019/1/5 13:00", naive="utc").isoformat()
    '2019-01-05T13:00:00+00:00'
    """
    s = text.strip()
    m = _COMPACT.match(s)
    if m:
        y, mo, d, h, mi, se, ms = m.groups()
        try:
            ts = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(se or 0), int(ms or 0) * 1000)
        except ValueError as exc:
            raise ValueError(f"invalid time {text!r}: {exc}") from None
        return as_utc(ts, naive=naive)
    iso = s.replace("Z", "+00:00") if s.endswith("Z") else s
    try:
        return as_utc(datetime.fromisoformat(iso), naive=naive)
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return as_utc(datetime.strptime(s, fmt), naive=naive)
        except ValueError:
            continue
    raise ValueError(f"unrecognised time {text!r}")


def utc_column(col: pl.Expr | pl.Series, *, naive: str = "beijing") -> pl.Expr | pl.Series:
    """Make a naive Polars datetime column aware UTC, reading it as Beijing time (or UTC)."""
    zone = BEIJING_NAME if naive == "beijing" else "UTC"
    return col.dt.replace_time_zone(zone).dt.convert_time_zone("UTC")


def beijing_day_column(col: pl.Expr) -> pl.Expr:
    """Beijing calendar date of an aware-UTC Polars datetime column."""
    return col.dt.convert_time_zone(BEIJING_NAME).dt.date()


def epoch_seconds(ts: datetime) -> int:
    """Integer Unix seconds of an aware datetime (the storage key of observations)."""
    return int(as_utc(ts, naive="utc").timestamp())


def from_epoch(seconds: int | float | np.integer) -> datetime:
    """Aware UTC datetime from Unix seconds."""
    return datetime.fromtimestamp(int(seconds), UTC)


# --- heating season (forecast.md §2 "Calendar": per-prefecture dates, configuration) ---------------------------

HeatingSeason = tuple[tuple[int, int], tuple[int, int]]
"""A heating season ``((m0, d0), (m1, d1))``: first and last (month, day), both inclusive; it crosses the new year
when the start comes after the end in the calendar (e.g. Changji's ``((10, 15), (4, 15))``)."""


def _calendar_day(month: int, day: int) -> bool:
    try:
        date(2000, month, day)  # a leap year, so that 02-29 is a valid bound
    except ValueError:
        return False
    return True


def parse_heating_season(text: str) -> HeatingSeason:
    """A heating season written ``MM-DD:MM-DD`` (start and end, inclusive; may cross the new year) as
    ``((m0, d0), (m1, d1))``, the form of :func:`heating_flag` (forecast.md §2 "Calendar" heating-season flag, §3.9
    step 2; Beijing 11-15:03-15, §8 check 5).

    Raises
    ------
    ValueError
        naming the bad text when it is not two ``MM-DD`` calendar days separated by ``:`` (29 February is allowed).

    >>> parse_heating_season("10-15:04-15")
    ((10, 15), (4, 15))
    >>> parse_heating_season("11-31:03-15")
    Traceback (most recent call last):
    ...
    ValueError: '11-31:03-15': '11-31' is not a calendar day (MM-DD)
    """
    parts = text.strip().split(":")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not MM-DD:MM-DD (start:end of the heating season)")
    out = []
    for part in parts:
        m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", part.strip())
        if m is None:
            raise ValueError(f"{text!r}: {part!r} is not MM-DD")
        month, day = int(m.group(1)), int(m.group(2))
        if not _calendar_day(month, day):
            raise ValueError(f"{text!r}: {part!r} is not a calendar day (MM-DD)")
        out.append((month, day))
    return out[0], out[1]


def format_heating_season(season: HeatingSeason) -> str:
    """``((m0, d0), (m1, d1))`` as ``MM-DD:MM-DD``, the inverse of :func:`parse_heating_season`.

    >>> format_heating_season(((11, 15), (3, 15)))
    '11-15:03-15'
    """
    (m0, d0), (m1, d1) = season
    return f"{m0:02d}-{d0:02d}:{m1:02d}-{d1:02d}"


def check_heating_season(season: object) -> HeatingSeason:
    """``season`` as a :data:`HeatingSeason` of ints, or ValueError naming it when it is not two calendar
    (month, day) pairs — the check of a season given as a tuple rather than as text (settings objects, tests).

    >>> check_heating_season([[10, 15], [4, 15]])
    ((10, 15), (4, 15))
    >>> check_heating_season(((13, 1), (4, 15)))
    Traceback (most recent call last):
    ...
    ValueError: heating season ((13, 1), (4, 15)): (13, 1) is not a calendar (month, day)
    """
    try:
        (m0, d0), (m1, d1) = season  # type: ignore[misc]
        pairs = ((int(m0), int(d0)), (int(m1), int(d1)))
    except (TypeError, ValueError):
        raise ValueError(f"heating season {season!r}: expected ((month, day), (month, day))") from None
    for pair in pairs:
        if not _calendar_day(*pair):
            raise ValueError(f"heating season {season!r}: {pair!r} is not a calendar (month, day)")
    return pairs
