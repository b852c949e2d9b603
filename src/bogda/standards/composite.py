"""Composite index (环境空气质量综合指数), year-on-year change and rankings.

I_i = C_i / S_i and I_sum = Σ w_i · I_i over SO2, NO2, PM10, PM2.5, CO and O3 (2012-era practice of HJ 663-2013,
secondary source [V]). C_i: period mean of SO2, NO2, PM10, PM2.5; CO 24 h 95th percentile; O3 daily-max-8 h
90th percentile. The limits S_i and the weights w_i are data (``composite_index_schemes.csv``):

* ``"2012"`` — GB 3095-2012 Class-2 annual limits 60, 40, 70, 35; CO 24 h 4 mg/m³; O3 8 h 160; weights 1;
* ``"2026"`` — **unverified default** [R]: GB 3095-2026 transitional Class-2 limits (60, 40, 60, 30, 4, 160),
  weights 1;
* ``"2026_weighted"`` — **unverified** [R]: a third-party claim that HJ 663-2026 weights PM2.5 ×3, NO2 ×2, O3 ×2.

A bureau replaces or adds schemes by passing its own items. Smaller index = better air; equal values tie.
For assessment and ranking, PM values of sand/dust-affected days may be deducted first
(:func:`bogda.standards.evaluation.period_statistics` with ``dust_deducted=True``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from bogda.standards._data import table
from bogda.standards.rounding import round_half_even


@dataclass(frozen=True)
class CompositeItem:
    """One term of the composite index."""

    code: str
    pollutant: str
    statistic: str
    """``mean``, ``p95`` (CO 24 h 95th percentile) or ``p90_8h`` (O3 daily max 8 h 90th percentile)."""
    limit: float
    """S_i [µg/m³; CO mg/m³]."""
    weight: float


def scheme(name: str = "2026") -> tuple[CompositeItem, ...]:
    """Limits and weights of a named scheme from the package table.

    >>> [(i.pollutant, i.limit) for i in scheme("2012")][:4]
    [('SO2', 60.0), ('NO2', 40.0), ('PM10', 70.0), ('PM2.5', 35.0)]
    >>> {i.pollutant: i.weight for i in scheme("2026_weighted")}["PM2.5"]
    3.0
    """
    items = tuple(
        CompositeItem(r["code"], r["pollutant"], r["statistic"], float(r["limit"]), float(r["weight"]))
        for r in table("composite_index_schemes")
        if r["scheme"] == name
    )
    if not items:
        names = sorted({r["scheme"] for r in table("composite_index_schemes")})
        raise ValueError(f"unknown composite-index scheme {name!r}; known: {names}")
    return items


def _items(which: str | Sequence[CompositeItem]) -> tuple[CompositeItem, ...]:
    return scheme(which) if isinstance(which, str) else tuple(which)


def composite_index(
    stats: Mapping[str, npt.ArrayLike], which: str | Sequence[CompositeItem] = "2026", *, decimals: int | None = 2
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Composite index from period statistics keyed by HJ 212 code (``a05024`` or ``O3_8h`` for O3).

    Parameters
    ----------
    stats : mapping code → array
        C_i per area: period means [µg/m³] of a21026, a21004, a34002, a34004; CO 95th percentile [mg/m³]
        (a21005); O3 daily-max-8 h 90th percentile (a05024 / O3_8h).
    which : scheme name or items
    decimals : int or None
        GB/T 8170 rounding of the total and the sub-indices (None: unrounded).

    Returns
    -------
    (total, sub_indices) : NaN where any term is missing.

    >>> tot, sub = composite_index({"a21026": [9], "a21004": [30], "a34002": [70], "a34004": [35],
    ...                             "a21005": [1.2], "O3_8h": [140]}, "2012")
    >>> float(tot[0]), float(sub["a34004"][0])  # 0.15 + 0.75 + 1 + 1 + 0.3 + 0.875 = 4.075 → 4.08
    (4.08, 1.0)
    """
    items = _items(which)
    sub: dict[str, np.ndarray] = {}
    total = None
    for it in items:
        key = it.code if it.code in stats else ("O3_8h" if it.code == "a05024" and "O3_8h" in stats else None)
        if key is None:
            raise KeyError(f"composite index needs {it.pollutant} ({it.code}, {it.statistic})")
        c = np.asarray(stats[key], dtype=np.float64)
        term = c / it.limit
        sub[it.code] = term
        total = it.weight * term if total is None else total + it.weight * term
    assert total is not None
    if decimals is not None:
        total = round_half_even(total, decimals)
        sub = {k: round_half_even(v, decimals) for k, v in sub.items()}
    return total, sub


def composite_from_statistics(
    stats: pl.DataFrame, which: str | Sequence[CompositeItem] = "2026", *, site: str = "site"
) -> pl.DataFrame:
    """Composite index per site/area and period from :func:`bogda.standards.evaluation.period_statistics`.

    Returns ``site, period, composite_index`` and ``index_<code>`` columns.

    >>> s = pl.DataFrame({"site": "X", "period": "2025",
    ...     "parameter": ["a21026", "a21004", "a34002", "a34004", "a21005", "O3_8h"],
    ...     "mean": [9.0, 30.0, 70.0, 35.0, None, None], "percentile": [None, None, None, None, 1.2, 140.0]})
    >>> composite_from_statistics(s, "2012")["composite_index"].item()
    4.08
    """
    picked = stats.with_columns(
        pl.when(pl.col("parameter").is_in(["a21005", "O3_8h"]))
        .then(pl.col("percentile"))
        .otherwise(pl.col("mean"))
        .alias("_c")
    )
    wide = picked.pivot(on="parameter", index=[site, "period"], values="_c")
    total, sub = composite_index({c: wide[c].to_numpy() for c in wide.columns if c not in (site, "period")}, which)
    cols = [pl.Series("composite_index", total, nan_to_null=True)]
    cols += [pl.Series(f"index_{k}", v, nan_to_null=True) for k, v in sub.items()]
    return wide.select(site, "period").with_columns(cols)


def year_on_year(current: npt.ArrayLike, previous: npt.ArrayLike) -> np.ndarray:
    """Year-on-year change [%]: (current − previous) / previous × 100 (negative = improvement).

    >>> year_on_year([4.0, 5.0], [5.0, 5.0]).tolist()
    [-20.0, 0.0]
    """
    c = np.asarray(current, dtype=np.float64)
    p = np.asarray(previous, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, (c - p) / p * 100.0, np.nan)


def rank(values: npt.ArrayLike, *, ascending: bool = True) -> np.ndarray:
    """Competition ranking (1, 2, 2, 4): smaller index = better by default; equal values tie; NaN → 0 (unranked).

    Compare values as published (rounded) so that ties are the published ties.

    >>> rank([4.1, 3.9, 4.1, np.nan, 5.0]).tolist()
    [2, 1, 2, 0, 4]
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    key = v if ascending else -v
    out = np.zeros(v.shape, dtype=np.int64)
    sorted_vals = np.sort(key[ok])
    out[ok] = np.searchsorted(sorted_vals, key[ok], side="left") + 1
    return out
