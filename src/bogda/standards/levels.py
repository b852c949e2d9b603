"""AQI levels (categories), their Chinese and English names, official colours and health advice.

HJ 633-2026 Table 1 / HJ 633-2012 Table 2 (levels and colours); the health-advice texts are a replaceable
package default (``aqi_health_advice.csv``, standards.md §1.4.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

from bogda.standards._data import table
from bogda.standards.versions import _check_standard


def _as_float_array(values: npt.ArrayLike | pl.Series) -> np.ndarray:
    if isinstance(values, pl.Series):
        return values.cast(pl.Float64).to_numpy()
    return np.asarray(values, dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# categories
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    """An AQI level (HJ 633-2026 Table 1; HJ 633-2012 Table 2)."""

    level: int
    level_zh: str
    name_zh: str
    name_en: str
    key: str
    hex: str
    rgb: tuple[int, int, int]
    cmyk: tuple[int, int, int, int]
    aqi_min_2012: int
    aqi_min_2026: int
    aqi_max: int
    """Upper end of the level; 500 for level 6 (AQI is capped at 500)."""


@cache
def categories() -> tuple[Category, ...]:
    """The six AQI levels with Chinese and English names and the official colours.

    English names are the usual MEE translations, not from the standard.

    >>> [(c.name_zh, c.hex) for c in categories()][:2]
    [('优', '#00E400'), ('良', '#FFFF00')]
    """
    return tuple(
        Category(
            level=int(r["level"]),
            level_zh=r["level_zh"],
            name_zh=r["category_zh"],
            name_en=r["category_en"],
            key=r["key"],
            hex=r["hex"],
            rgb=(int(r["r"]), int(r["g"]), int(r["b"])),
            cmyk=(int(r["c"]), int(r["m"]), int(r["y"]), int(r["k"])),
            aqi_min_2012=int(r["aqi_min_2012"]),
            aqi_min_2026=int(r["aqi_min_2026"]),
            aqi_max=int(r["aqi_max"]),
        )
        for r in table("aqi_categories")
    )


_LEVEL_EDGES = np.array([50, 100, 150, 200, 300])


def category(aqi: npt.ArrayLike | pl.Series) -> np.ndarray:
    """AQI level 1–6 (0 where the AQI is missing), HJ 633-2026 Table 1 / HJ 633-2012 Table 2.

    Levels: ≤50 优, 51–100 良, 101–150 轻度, 151–200 中度, 201–300 重度, >300 严重. The level bounds are the same in
    both versions (2026 starts level 1 at AQI 1, 2012 at 0; an AQI of 0 is level 1 in both).

    >>> category([0, 50, 51, 100, 101, 200, 201, 300, 301, 500, np.nan]).tolist()
    [1, 1, 2, 2, 3, 4, 5, 5, 6, 6, 0]
    """
    a = _as_float_array(aqi)
    lvl = np.searchsorted(_LEVEL_EDGES, np.where(np.isfinite(a), a, 0), side="left") + 1
    return np.where(np.isfinite(a) & (a >= 0), lvl, 0).astype(np.int8)


def category_labels(levels: npt.ArrayLike, field: str = "name_zh") -> np.ndarray:
    """Map levels (1–6, 0 = missing → None) to a :class:`Category` field, vectorised.

    >>> category_labels([1, 6, 0], "name_en").tolist()
    ['Excellent', 'Severely polluted', None]
    >>> category_labels([3], "hex").tolist()
    ['#FF7E00']
    """
    lut = np.array([None] + [getattr(c, field) for c in categories()], dtype=object)
    lv = np.asarray(levels, dtype=np.int64)
    return lut[np.where((lv >= 0) & (lv <= 6), lv, 0)]


@cache
def health_advice(level: int, standard: str = "2026") -> dict[str, str]:
    """Health effects and advice for an AQI level (package default ``aqi_health_advice.csv``).

    The texts are bogda's paraphrase of the HJ 633-2012 information table [R], with the two HJ 633-2026
    wording changes (青少年儿童, 心血管系统疾病) in the 2026 rows; a bureau may replace the file.

    >>> health_advice(3, "2026")["advice_zh"][:5]
    '青少年儿童'
    """
    std = _check_standard(standard)
    for r in table("aqi_health_advice"):
        if r["standard"] == std and int(r["level"]) == int(level):
            return dict(r)
    raise ValueError(f"no health advice for level {level!r} (levels are 1..6)")
