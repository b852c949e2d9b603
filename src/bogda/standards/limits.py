"""Ambient air concentration limits of GB 3095-2012 and GB 3095-2026 (transitional and 2031 stages).

Stages (``stage`` argument):

* ``"2012"`` — GB 3095-2012 (with its 2018 amendment), in force until 2026-02-28;
* ``"2026"`` — GB 3095-2026 transitional values, 2026-03-01 … 2030-12-31 (Table 1 and Table 2 notes);
* ``"2031"`` — GB 3095-2026 final values, from 2031-01-01.

Averaging keys: ``annual``, ``24h``, ``8h`` (O3 daily maximum 8 h mean), ``1h``, ``quarterly`` (Pb).
Units: µg/m³, CO mg/m³. Class 1 areas: national parks, nature reserves, natural parks, other special
protection areas; Class 2: residential, mixed, cultural, industrial and rural areas.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

from bogda.standards._data import table
from bogda.standards.pollutants import pollutant_code
from bogda.timeutil import beijing_date

STAGES = ("2012", "2026", "2031")
"""Limit stages: GB 3095-2012; GB 3095-2026 transitional; GB 3095-2026 final."""

FINAL_STAGE_DATE = date(2031, 1, 1)
"""First Beijing day of the GB 3095-2026 final limits (Table 1, from 2031-01-01)."""

_OTHER = {"tsp": "TSP", "nox": "NOx", "pb": "Pb", "bap": "BaP"}


def _key(pollutant: str) -> str:
    k = _OTHER.get(str(pollutant).strip().lower())
    return k if k else pollutant_code(pollutant)


def stage_for(ts: datetime | date) -> str:
    """Limit stage in force on a Beijing calendar day (or at an instant; naive datetimes are UTC).

    >>> stage_for(date(2026, 2, 28)), stage_for(date(2026, 3, 1)), stage_for(date(2031, 1, 1))
    ('2012', '2026', '2031')
    """
    if isinstance(ts, datetime):
        ts = beijing_date(ts if ts.tzinfo else ts.replace(tzinfo=UTC))
    if ts >= FINAL_STAGE_DATE:
        return "2031"
    return "2026" if ts >= date(2026, 3, 1) else "2012"


def stage_of_standard(standard: str) -> str:
    """Default limit stage of an AQI/evaluation version: ``"2012"`` → GB 3095-2012, ``"2026"`` → transitional.

    >>> stage_of_standard("2026")
    '2026'
    """
    if standard not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, not {standard!r}")
    return standard


@cache
def limit(pollutant: str, averaging: str, stage: str = "2026", area_class: int = 2) -> float:
    """Concentration limit (GB 3095-2012 Tables 1–2; GB 3095-2026 Tables 1–2).

    Parameters
    ----------
    pollutant : str
        HJ 212 code or name (also ``TSP``, ``NOx``, ``Pb``, ``BaP``).
    averaging : {"annual", "24h", "8h", "1h", "quarterly"}
    stage : {"2012", "2026", "2031"}
    area_class : {1, 2}

    Returns
    -------
    float [µg/m³; CO mg/m³]

    >>> limit("PM2.5", "annual", "2012"), limit("PM2.5", "annual", "2026"), limit("PM2.5", "annual", "2031")
    (35.0, 30.0, 25.0)
    >>> limit("O3", "8h", "2026", area_class=1)
    100.0
    """
    key = _key(pollutant)
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
    if area_class not in (1, 2):
        raise ValueError(f"area_class must be 1 or 2, not {area_class!r}")
    for r in table("gb3095_limits"):
        if r["stage"] == stage and key in (r["code"], r["pollutant"]) and r["averaging"] == averaging:
            return float(r[f"class_{area_class}"])
    raise ValueError(f"GB 3095 stage {stage} has no {averaging} limit for {pollutant!r}")


def limits_table() -> pl.DataFrame:
    """All limits as a frame (stage, code, pollutant, averaging, unit, class_1, class_2, source).

    >>> limits_table().filter(pl.col("stage") == "2031").height > 0
    True
    """
    return pl.DataFrame(list(table("gb3095_limits"))).with_columns(
        pl.col("class_1").cast(pl.Float64), pl.col("class_2").cast(pl.Float64)
    )


def exceedance_multiple(conc: npt.ArrayLike, limit_value: float) -> np.ndarray:
    """Exceedance multiple (C − S)/S; 0 where C ≤ S, NaN where C is missing (HJ 663 evaluation practice).

    >>> exceedance_multiple([105, 70, np.nan], 70).tolist()
    [0.5, 0.0, nan]
    """
    c = np.asarray(conc, dtype=np.float64)
    return np.where(np.isnan(c), np.nan, np.maximum(c - limit_value, 0.0) / limit_value)


def exceeds(
    conc: npt.ArrayLike, pollutant: str, averaging: str, stage: str = "2026", area_class: int = 2
) -> np.ndarray:
    """True where a (rounded, as published) concentration is above its limit; compliance is C ≤ S.

    >>> exceeds([75, 76], "PM2.5", "24h", "2012").tolist(), exceeds([61], "PM2.5", "24h", "2026").tolist()
    ([False, True], [True])
    """
    c = np.asarray(conc, dtype=np.float64)
    return np.nan_to_num(c, nan=-np.inf) > limit(pollutant, averaging, stage, area_class)
