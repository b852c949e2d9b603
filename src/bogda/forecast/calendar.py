"""Holiday, adjusted-workday and Lunar New Year calendar features (forecast.md §2 "Calendar").

The holiday table is the platform's (:mod:`bogda.holidays`: ``bogda/data/holidays_cn.csv``, kind ``holiday`` or
``adjusted_workday``, each row citing its State Council notice). Lunar New Year dates (正月初一) come from the
Chinese calendar (GB/T 33661-2017 rules, as published by the Purple Mountain Observatory).

Features per Beijing date:

- ``holiday``: 1 on a day of an official break, else 0;
- ``offday``: 1 on a holiday or on a weekend day that is not an adjusted working day (调休), else 0;
- ``lny``: days from Lunar New Year, −15..+15, NaN outside that window (forecast.md §2);
- ``heating``: 1 on a day inside the prefecture's heating season, else 0 (:func:`heating_flag`). The season is
  configuration with no default (forecast.md §2: "from per-prefecture dates (configuration, no default)"), written
  ``MM-DD:MM-DD`` (:func:`parse_heating_season`); the forecast models and the days-avoided counterfactual
  (:mod:`bogda.forecast.avoided`) read it from here.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np

from bogda.holidays import read_holidays

# the season's text form lives with the other date parsing, on the floor of the settings that read it; re-exported
from bogda.timeutil import HeatingSeason as HeatingSeason
from bogda.timeutil import check_heating_season as check_heating_season
from bogda.timeutil import format_heating_season as format_heating_season
from bogda.timeutil import parse_heating_season as parse_heating_season

LUNAR_NEW_YEAR: tuple[date, ...] = (
    date(2012, 1, 23),
    date(2013, 2, 10),
    date(2014, 1, 31),
    date(2015, 2, 19),
    date(2016, 2, 8),
    date(2017, 1, 28),
    date(2018, 2, 16),
    date(2019, 2, 5),
    date(2020, 1, 25),
    date(2021, 2, 12),
    date(2022, 2, 1),
    date(2023, 1, 22),
    date(2024, 2, 10),
    date(2025, 1, 29),
    date(2026, 2, 17),
    date(2027, 2, 6),
    date(2028, 1, 26),
    date(2029, 2, 13),
    date(2030, 2, 3),
)
"""正月初一 (Spring Festival day) 2012–2030."""

LNY_WINDOW_DAYS = 15


@lru_cache(maxsize=1)
def _default_table() -> dict[date, str]:
    return read_holidays()


def day_features(days: np.ndarray, holidays: dict[date, str] | None = None) -> dict[str, np.ndarray]:
    """``holiday``, ``offday`` and ``lny`` for an array of ``datetime64[D]`` Beijing dates.

    >>> f = day_features(np.array(["2016-02-08", "2016-02-06", "2016-02-20", "2016-06-01"], dtype="datetime64[D]"))
    >>> f["holiday"].tolist(), f["offday"].tolist()
    ([1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0])
    >>> f["lny"].tolist()[:3], bool(np.isnan(f["lny"][3]))
    ([0.0, -2.0, 12.0], True)
    """
    table = _default_table() if holidays is None else holidays
    d = np.asarray(days, dtype="datetime64[D]")
    uniq, inv = np.unique(d, return_inverse=True)
    hol = np.zeros(uniq.size)
    adj = np.zeros(uniq.size)
    for i, u in enumerate(uniq.astype(object)):
        k = table.get(u)
        hol[i] = k == "holiday"
        adj[i] = k == "adjusted_workday"
    weekday = (uniq.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Saturday, Sunday
    off = np.where(hol > 0, 1.0, np.where((weekday >= 5) & (adj == 0), 1.0, 0.0))
    lny_days = np.array(LUNAR_NEW_YEAR, dtype="datetime64[D]")
    pos = np.clip(np.searchsorted(lny_days, uniq), 1, lny_days.size - 1)
    delta_next = (uniq - lny_days[pos]).astype(np.int64)
    delta_prev = (uniq - lny_days[pos - 1]).astype(np.int64)
    delta = np.where(np.abs(delta_next) <= np.abs(delta_prev), delta_next, delta_prev).astype(float)
    lny = np.where(np.abs(delta) <= LNY_WINDOW_DAYS, delta, np.nan)
    return {"holiday": hol[inv], "offday": off[inv], "lny": lny[inv]}


def heating_flag(days: np.ndarray, season: HeatingSeason) -> np.ndarray:
    """1.0 on ``datetime64[D]`` days inside the heating season ``((m0, d0), (m1, d1))`` (both bounds inclusive;
    across the new year when the start comes later in the calendar than the end), else 0.0; NaN for NaT
    (forecast.md §2 "Calendar": the heating-season flag).

    >>> d = np.array(["2015-10-14", "2015-10-15", "2016-01-01", "2016-04-15", "2016-04-16"], dtype="datetime64[D]")
    >>> heating_flag(d, ((10, 15), (4, 15))).tolist()
    [0.0, 1.0, 1.0, 1.0, 0.0]
    >>> heating_flag(d, ((4, 16), (10, 14))).tolist()  # a season inside one year
    [1.0, 0.0, 0.0, 0.0, 1.0]
    """
    d = np.asarray(days, dtype="datetime64[D]")
    (m0, d0), (m1, d1) = season
    months = d.astype("datetime64[M]")
    month = (months - d.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    md = month * 100 + day  # (month, day) in calendar order as one number
    lo, hi = m0 * 100 + d0, m1 * 100 + d1
    inside = ((md >= lo) & (md <= hi)) if lo <= hi else ((md >= lo) | (md <= hi))
    return np.where(np.isnat(d), np.nan, inside.astype(float))
