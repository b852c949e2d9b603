"""Individual and overall Air Quality Index (IAQI, AQI) of HJ 633-2012 and HJ 633-2026.

Arithmetic is exact and vectorised. A concentration is fixed to an integer number of micro-units
(``round(c · 10⁶)``, exact for inputs with at most six decimals) and the IAQI formula of HJ 633-2026 4.2.6 /
HJ 633-2012 6.2 is evaluated on those integers (in chunks, with a floor division whose exactness is shown in
``_iaqi_kernel``)::

    IAQI = IAQI_Lo + ceil((IAQI_Hi − IAQI_Lo) · (C − BP_Lo) / (BP_Hi − BP_Lo))

so an exact-integer result is never ceiled up by one (which a float implementation does, e.g. for some CO
values). IAQI and AQI are rounded **up** to integers ("全部向上进位取整数").

Version selection (:mod:`bogda.standards.versions`): every public function takes ``standard`` (``"2012"`` or
``"2026"``). When it is ``None`` the version follows the data's timestamps (``ts``): HJ 633-2026 applies from
2026-03-01 00:00 Beijing time (:func:`standard_for`). Levels, colours and advice: :mod:`bogda.standards.levels`.
Missing values are ``NaN`` in NumPy results and null in Polars results.

Item labels used in results (``primary_pollutant`` …): ``SO2``, ``NO2``, ``CO``, ``PM10``, ``PM2.5``, ``O3_1h``,
``O3_8h`` (HJ 212-2017 codes in :mod:`bogda.standards.pollutants`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

from bogda.standards._data import table
from bogda.standards.levels import Category, categories, category, category_labels, health_advice
from bogda.standards.pollutants import POLLUTANTS, pollutant_code
from bogda.standards.versions import (
    STANDARDS,
    SWITCH_DATE,
    SWITCH_UTC,
    _check_standard,
    _resolve,
    is_2026,
    standard_for,
)

__all__ = [
    "DAILY_ITEMS",
    "HOURLY_ITEMS",
    "IAQI_CAP",
    "IAQI_LEVELS",
    "NOT_COMPUTED",
    "SCALE",
    "STANDARDS",
    "SWITCH_DATE",
    "SWITCH_UTC",
    "AqiResult",
    "Breakpoints",
    "Category",
    "aqi_daily",
    "aqi_hourly",
    "breakpoints",
    "categories",
    "category",
    "category_labels",
    "combine",
    "concentration_at",
    "concentration_range",
    "health_advice",
    "iaqi",
    "is_2026",
    "item_key",
    "primary_pollutants",
    "standard_for",
    "wide_from_long",
]

IAQI_LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
"""IAQI values of the breakpoint columns (HJ 633-2026 Table 3, HJ 633-2012 Table 1)."""

IAQI_CAP = 500
"""IAQI given to a concentration above the top breakpoint. Neither version writes this rule; both give the AQI
range as ending at 500 ("1~500" in 2026, "0~500" in 2012), so the cap is inferred (standards.md §1.1)."""

SCALE = 10**6
"""Fixed-point scale of concentrations in the integer kernel (1 unit = 10⁻⁶ µg/m³, or mg/m³ for CO)."""

_MAX_INPUT = 1e7  # above every top breakpoint; clipping first keeps the int64 kernel far from overflow


# --------------------------------------------------------------------------------------------------
# breakpoints
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakpoints:
    """One breakpoint row of HJ 633 (concentrations for IAQI 0, 50, … in :data:`IAQI_LEVELS`)."""

    standard: str
    code: str
    averaging: str
    unit: str
    concentrations: tuple[Fraction, ...]
    """Concentration at each breakpoint [µg/m³; CO mg/m³], as many as the row has (5, 6 or 8)."""
    above_table: str
    """Rule above the last breakpoint: ``""`` (cap at :data:`IAQI_CAP`), ``fixed_200`` (SO2 1h, 2026),
    ``fixed_300`` (O3 8h, 2026) or ``not_computed`` (SO2 1h and O3 8h, 2012)."""
    source: str
    scaled: np.ndarray = field(repr=False, compare=False)
    iaqi: np.ndarray = field(repr=False, compare=False)

    @property
    def top(self) -> Fraction:
        """Highest tabulated concentration."""
        return self.concentrations[-1]

    @property
    def above_value(self) -> int | None:
        """IAQI above the last breakpoint (None = not computed)."""
        return {"": IAQI_CAP, "fixed_200": 200, "fixed_300": 300, "not_computed": None}[self.above_table]


_AVERAGING = {"1h": "1h", "hour": "1h", "8h": "8h", "24h": "24h", "day": "24h", "daily": "24h"}


@cache
def breakpoints(pollutant: str, averaging: str, standard: str) -> Breakpoints:
    """Breakpoint row for a pollutant and averaging time (HJ 633-2026 Table 3; HJ 633-2012 Table 1).

    PM10 and PM2.5 have only 24 h rows; asking for ``1h`` returns the 24 h row, because 1 h PM values are read
    against the 24 h breakpoints (HJ 633-2026 4.2.4; the same choice for 2012 real-time data is [R]).

    >>> bp = breakpoints("PM2.5", "24h", "2026")
    >>> [int(c) for c in bp.concentrations]
    [0, 35, 60, 115, 150, 250, 350, 500]
    >>> breakpoints("SO2", "1h", "2012").above_table
    'not_computed'
    """
    code = pollutant_code(pollutant)
    avg = _AVERAGING.get(str(averaging).lower())
    if avg is None:
        raise ValueError(f"averaging must be '1h', '8h' or '24h', not {averaging!r}")
    std = _check_standard(standard)
    if code in ("a34004", "a34002"):
        avg = "24h"
    for row in table("hj633_iaqi_breakpoints"):
        if row["standard"] == std and row["code"] == code and row["averaging"] == avg:
            conc = tuple(Fraction(row[f"iaqi_{v}"]) for v in IAQI_LEVELS if row[f"iaqi_{v}"] != "")
            return Breakpoints(
                standard=std,
                code=code,
                averaging=avg,
                unit=row["unit"],
                concentrations=conc,
                above_table=row["above_table"],
                source=row["source"],
                scaled=np.array([int(c * SCALE) for c in conc], dtype=np.int64),
                iaqi=np.array(IAQI_LEVELS[: len(conc)], dtype=np.int64),
            )
    raise ValueError(f"HJ 633-{std} has no {avg} breakpoints for {POLLUTANTS[code].name}")


# --------------------------------------------------------------------------------------------------
# IAQI kernel
# --------------------------------------------------------------------------------------------------


def _as_float_array(values: npt.ArrayLike | pl.Series) -> np.ndarray:
    if isinstance(values, pl.Series):
        return values.cast(pl.Float64).to_numpy()
    return np.asarray(values, dtype=np.float64)


NOT_COMPUTED = -2
"""Internal IAQI code: 'not computed' (HJ 633-2012 SO2 1 h or O3 8 h above 800) — no IAQI, but not missing data."""

_CHUNK = 1 << 16
"""Values per chunk of the kernel: temporaries stay in cache and large inputs cause no page-fault storms."""


@cache
def _segments(bp: Breakpoints) -> tuple[np.ndarray, ...]:
    s = bp.scaled.astype(np.float64)
    i = bp.iaqi.astype(np.float64)
    den = s[1:] - s[:-1]
    return s[1:-1].copy(), s[:-1].copy(), i[1:] - i[:-1], den - 1, den, i[:-1].copy()


def _iaqi_kernel(conc: np.ndarray, bp: Breakpoints) -> np.ndarray:
    """IAQI as int16: -1 for no value (missing, negative), :data:`NOT_COMPUTED` (-2) above a 2012 table.

    Exactness: C is fixed to micro-units, c = rint(C·10⁶), an exact integer in float64. With the segment's
    BP_Lo = lo, d = BP_Hi − BP_Lo and ΔI = IAQI_Hi − IAQI_Lo (all integers), IAQI = IAQI_Lo + ⌈ΔI·(c − lo)/d⌉ =
    IAQI_Lo + ⌊(ΔI·(c − lo) + d − 1)/d⌋. The numerator is an integer below 2⁵³, so it is exact; the true quotient
    q has a fractional part of at most 1 − 1/d (d < 3·10⁹), while the float division errs by less than
    q·2⁻⁵² < 10⁻¹³, so the floor of the float quotient is the exact floor. Same result as integer floor
    division, but SIMD-fast.
    """
    inner, seg_lo, seg_di, seg_dm1, seg_den, seg_il = _segments(bp)
    top = float(bp.scaled[-1]) / SCALE
    above_value = bp.above_value
    n = conc.shape[0]
    out = np.empty(n, dtype=np.int16)
    for s in range(0, n, _CHUNK):
        x = conc[s : s + _CHUNK]
        c = np.fmin(x, top)  # NaN → top; masked below
        np.fmax(c, 0.0, out=c)
        c *= SCALE
        np.rint(c, out=c)
        j = np.searchsorted(inner, c, side="left")
        c -= seg_lo[j]
        c *= seg_di[j]
        c += seg_dm1[j]
        c /= seg_den[j]
        np.floor(c, out=c)
        c += seg_il[j]
        o = out[s : s + _CHUNK]
        o[:] = c
        o[x > top] = NOT_COMPUTED if above_value is None else above_value
        o[~(x >= 0)] = -1  # NaN and negative values have no IAQI
    return out


def _iaqi_int(conc: np.ndarray, code: str, averaging: str, standard: str | np.ndarray) -> np.ndarray:
    if isinstance(standard, str):
        return _iaqi_kernel(conc, breakpoints(code, averaging, standard))
    return np.where(
        standard,
        _iaqi_kernel(conc, breakpoints(code, averaging, "2026")),
        _iaqi_kernel(conc, breakpoints(code, averaging, "2012")),
    )


def _to_float(i: np.ndarray) -> np.ndarray:
    out = i.astype(np.float64)
    out[i < 0] = np.nan
    return out


def _to_int(v: npt.ArrayLike) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return np.where(np.isfinite(a), a, -1).astype(np.int16)


def iaqi(
    conc: npt.ArrayLike | pl.Series,
    pollutant: str,
    averaging: str = "24h",
    standard: str | None = None,
    *,
    ts: object = None,
) -> np.ndarray:
    """Individual AQI of one pollutant (HJ 633-2026 4.2.6 eq. 1; HJ 633-2012 6.2), exact and vectorised.

    Parameters
    ----------
    conc : array_like or polars.Series [µg/m³; CO mg/m³]
        Concentrations as published; not rounded here (rounding belongs to the statistic that produced them,
        HJ 633-2026 4.2.2). NaN/null or negative → no IAQI.
    pollutant : str
        HJ 212-2017 code or alias (``"PM2.5"``, ``"a34004"`` …).
    averaging : {"1h", "8h", "24h"}
        Breakpoint row. PM 1 h values use the 24 h row (HJ 633-2026 4.2.4).
    standard : {"2012", "2026"}, optional
        Defaults to the version in force at ``ts`` (:func:`standard_for`).
    ts : datetime, date or array, optional
        Interval start of each value; used only when ``standard`` is None.

    Returns
    -------
    numpy.ndarray of float64
        Integer-valued IAQI, NaN where none. Above the top breakpoint: :data:`IAQI_CAP` (500); SO2 1 h > 800:
        200 (2026) or NaN (2012, use the 24 h IAQI); O3 8 h > 800: 300 (2026) or NaN (2012, use O3 1 h).

    >>> iaqi([52, 35, 35.1, 0, -1, 600, np.nan], "PM2.5", "24h", "2026").tolist()
    [84.0, 50.0, 51.0, 0.0, nan, 500.0, nan]
    >>> iaqi([52], "PM2.5", "24h", "2012").tolist()   # 71.25 -> ceil
    [72.0]
    >>> iaqi([801], "SO2", "1h", "2026").tolist(), iaqi([801], "SO2", "1h", "2012").tolist()
    ([200.0], [nan])
    """
    x = np.atleast_1d(_as_float_array(conc))
    std = _resolve(standard, ts, x.shape[0])
    return _to_float(_iaqi_int(x, pollutant_code(pollutant), averaging, std))


# --------------------------------------------------------------------------------------------------
# inverse
# --------------------------------------------------------------------------------------------------


def concentration_at(value: float | int | Fraction, pollutant: str, averaging: str, standard: str) -> Fraction:
    """Concentration at which the *unrounded* IAQI equals ``value`` (inverse of HJ 633 eq. 1), exactly.

    ``value`` must lie in the tabulated IAQI range (0 … the IAQI of the last breakpoint).

    >>> concentration_at(84, "PM2.5", "24h", "2026"), float(concentration_at(72, "PM2.5", "24h", "2012"))
    (Fraction(52, 1), 52.6)
    """
    bp = breakpoints(pollutant, averaging, standard)
    v = Fraction(value)
    levels = [Fraction(int(i)) for i in bp.iaqi]
    if v < 0 or v > levels[-1]:
        raise ValueError(f"IAQI {value} outside the table of {bp.code} {bp.averaging} (0..{levels[-1]})")
    for k in range(1, len(levels)):
        if v <= levels[k]:
            c_lo, c_hi = bp.concentrations[k - 1], bp.concentrations[k]
            return c_lo + (v - levels[k - 1]) * (c_hi - c_lo) / (levels[k] - levels[k - 1])
    raise AssertionError("unreachable")


def concentration_range(
    aqi_value: npt.ArrayLike, pollutant: str, averaging: str = "24h", standard: str = "2026"
) -> tuple[np.ndarray, np.ndarray]:
    """Concentrations whose IAQI is exactly the integer ``aqi_value``: the interval (lo, hi].

    For forecasts and displays (e.g. "AQI 120 with PM2.5 primary" → the PM2.5 range). Because the IAQI is a
    ceiling, IAQI = n for lo < C ≤ hi with lo = C(n−1), hi = C(n); IAQI 0 is C = 0 only (lo = hi = 0). Where a
    value is also given to everything above the table (500 cap; SO2 1 h 200 and O3 8 h 300 in 2026) hi is
    +inf. Values that cannot occur give NaN.

    Returns
    -------
    (lo, hi) : tuple of numpy.ndarray of float64 [µg/m³; CO mg/m³]
        lo exclusive (except for IAQI 0), hi inclusive.

    >>> lo, hi = concentration_range([84, 500, 0], "PM2.5", "24h", "2026")
    >>> lo.tolist(), hi.tolist()
    ([51.5, 498.5, 0.0], [52.0, inf, 0.0])
    """
    bp = breakpoints(pollutant, averaging, standard)
    a = np.atleast_1d(np.asarray(aqi_value, dtype=np.float64))
    top_iaqi = int(bp.iaqi[-1])
    lo = np.full(a.shape, np.nan)
    hi = np.full(a.shape, np.nan)
    # the inverse is piecewise linear, so evaluating it exactly at every integer IAQI once is enough
    table_c = np.array([float(concentration_at(v, bp.code, bp.averaging, bp.standard)) for v in range(top_iaqi + 1)])
    ok = np.isfinite(a) & (a == np.round(a)) & (a >= 0)
    n = np.where(ok, a, 0).astype(np.int64)
    inside = ok & (n <= top_iaqi)
    lo[inside] = table_c[np.maximum(n[inside] - 1, 0)]
    hi[inside] = table_c[n[inside]]
    lo[inside & (n == 0)] = 0.0
    above = bp.above_value
    if above is not None:
        at = ok & (n == above)
        hi[at] = np.inf
        if above > top_iaqi:  # the 500 cap of a row whose table stops below 500 (not in HJ 633; kept general)
            lo[at] = float(bp.top)
    return lo, hi


# --------------------------------------------------------------------------------------------------
# AQI over items
# --------------------------------------------------------------------------------------------------

_ITEM_ALIASES = {
    "o3_1h": ("a05024", "1h"),
    "o3_8h": ("a05024", "8h"),
    "o3-1h": ("a05024", "1h"),
    "o3-8h": ("a05024", "8h"),
    "a05024_1h": ("a05024", "1h"),
    "a05024_8h": ("a05024", "8h"),
}

_LABEL = {"a21026": "SO2", "a21004": "NO2", "a21005": "CO", "a34002": "PM10", "a34004": "PM2.5"}

HOURLY_ITEMS = {
    "2026": ("SO2", "NO2", "CO", "O3_1h", "PM10", "PM2.5"),
    "2012": ("SO2", "NO2", "CO", "O3_1h", "PM10", "PM2.5"),
}
"""Items of the real-time (hourly) AQI: 1 h averages (HJ 633-2026 4.2.4; HJ 633-2012 5.2 [R for PM])."""

DAILY_ITEMS = {
    "2026": ("SO2", "NO2", "CO", "PM10", "PM2.5", "O3_8h"),
    "2012": ("SO2", "NO2", "CO", "PM10", "PM2.5", "O3_1h", "O3_8h"),
}
"""Items of the daily AQI: 24 h means, O3 daily max 8 h (and O3 daily max 1 h in 2012) (HJ 633-2026 4.2.3;
HJ 633-2012 5.1)."""


def item_key(name: str, default_o3: str = "1h") -> tuple[str, str]:
    """Label and averaging of an AQI item name: (``"O3_8h"``, ``"8h"``), (``"PM2.5"``, …).

    >>> item_key("o3_8h"), item_key("pm25", "8h"), item_key("O3", "8h")
    (('O3_8h', '8h'), ('PM2.5', '24h'), ('O3_8h', '8h'))
    """
    k = str(name).strip().lower()
    if k in _ITEM_ALIASES:
        code, avg = _ITEM_ALIASES[k]
    else:
        code = pollutant_code(name)
        avg = default_o3 if code == "a05024" else "24h"
    label = f"O3_{avg}" if code == "a05024" else _LABEL[code]
    return label, avg


@dataclass
class AqiResult:
    """AQI of many records (NumPy arrays of equal length).

    Held as small integers (``-1`` = none) and bit masks; the float/label views are computed on access.
    """

    labels: tuple[str, ...]
    """Item labels, in bit order of the masks."""
    aqi_int: np.ndarray
    """AQI as int16, -1 when no item has an IAQI."""
    iaqi_int: dict[str, np.ndarray]
    """IAQI per item as int16, -1 = none."""
    primary_mask: np.ndarray
    """Bit i set when item i is a primary pollutant (uint16)."""
    exceeding_mask: np.ndarray
    """Bit i set when item i exceeds IAQI 100, HJ 633-2012 records only (uint16; the notion was deleted in 2026)."""
    level: np.ndarray
    """Level 1–6, 0 = missing."""
    missing: np.ndarray
    """Number of required items without an IAQI."""
    publishable: np.ndarray
    """True when the AQI may be published (complete, or 2026 5.3.1: AQI > 100 despite missing items)."""

    @property
    def aqi(self) -> np.ndarray:
        """AQI (float64, integer-valued; NaN when no item has an IAQI)."""
        return _to_float(self.aqi_int)

    @property
    def iaqi(self) -> dict[str, np.ndarray]:
        """IAQI per item label (float64, NaN = none)."""
        return {k: _to_float(v) for k, v in self.iaqi_int.items()}

    @property
    def primary(self) -> np.ndarray:
        """Primary pollutant labels joined by ``,`` (object array; None when AQI ≤ 50 or missing)."""
        return _label_lut(self.labels)[self.primary_mask]

    @property
    def exceeding(self) -> np.ndarray:
        """Exceeding pollutants (IAQI > 100), HJ 633-2012 only; None otherwise."""
        return _label_lut(self.labels)[self.exceeding_mask]

    def to_polars(self) -> pl.DataFrame:
        """The result as a frame (``iaqi_<item>``, ``aqi``, ``primary_pollutant``, ``level``, …)."""
        lut = {m: v for m, v in enumerate(_label_lut(self.labels).tolist()) if v is not None}

        def decode(name: str, mask: np.ndarray) -> pl.Series:
            return pl.Series(name, mask, dtype=pl.UInt16).replace_strict(lut, default=None, return_dtype=pl.String)

        def nullable(name: str, v: np.ndarray) -> pl.Series:
            s = pl.Series(name, v, dtype=pl.Int16)
            return s.set(s < 0, None) if (v < 0).any() else s

        cols = [nullable(f"iaqi_{k}", v) for k, v in self.iaqi_int.items()]
        cols += [
            nullable("aqi", self.aqi_int),
            decode("primary_pollutant", self.primary_mask),
            pl.Series("level", self.level, dtype=pl.Int8),
            pl.Series("missing", self.missing, dtype=pl.Int8),
            pl.Series("publishable", self.publishable, dtype=pl.Boolean),
            decode("exceeding_pollutant", self.exceeding_mask),
        ]
        return pl.DataFrame(cols)


@cache
def _label_lut_cached(labels: tuple[str, ...]) -> np.ndarray:
    n = len(labels)
    return np.array(
        [None] + [",".join(labels[i] for i in range(n) if m >> i & 1) for m in range(1, 1 << n)], dtype=object
    )


def _label_lut(labels: Sequence[str]) -> np.ndarray:
    return _label_lut_cached(tuple(labels))


def _combine_int(iaqis: Mapping[str, np.ndarray], standard: str, required: Iterable[str] | None = None) -> AqiResult:
    labels = tuple(iaqis)
    req = set(labels if required is None else required)
    arrays = [iaqis[k] for k in labels]
    n = len(arrays[0]) if arrays else 0
    aqi = np.full(n, -1, dtype=np.int16)
    for a in arrays:
        np.maximum(aqi, a, out=aqi)
    above50 = aqi > 50
    primary = np.zeros(n, dtype=np.uint16)
    exceeding = np.zeros(n, dtype=np.uint16)
    missing = np.zeros(n, dtype=np.int8)
    for i, (k, a) in enumerate(zip(labels, arrays, strict=True)):
        bit = np.uint16(1 << i)
        primary |= ((a == aqi) & above50).view(np.uint8) * bit
        if standard == "2012":
            exceeding |= (a > 100).view(np.uint8) * bit
        if k in req:
            missing += a == -1  # NOT_COMPUTED is not missing data
    have = aqi >= 0
    complete = missing == 0
    publishable = have & (complete | (aqi > 100)) if standard == "2026" else have & complete
    return AqiResult(
        labels=labels,
        aqi_int=aqi,
        iaqi_int=dict(zip(labels, arrays, strict=True)),
        primary_mask=primary,
        exceeding_mask=exceeding,
        level=category(aqi),
        missing=missing,
        publishable=publishable,
    )


def combine(
    iaqis: Mapping[str, np.ndarray],
    standard: str,
    *,
    required: Iterable[str] | None = None,
) -> AqiResult:
    """AQI, primary pollutant(s), level and publishability from integer-valued IAQIs (HJ 633-2026 4.3, 5.3).

    AQI = max IAQI over the items present. Primary pollutant: when AQI > 50, every item whose IAQI equals the
    AQI (ties → all). Missing items (HJ 633-2026 5.3.1): the AQI is computed from the others and is
    publishable only if AQI > 100. For 2012 a record with missing items is not publishable (default [R]).

    Parameters
    ----------
    iaqis : mapping of item label → array
        IAQI per item (NaN = none).
    standard : {"2012", "2026"}
    required : iterable of str, optional
        Items of the site's monitoring plan (default: all keys). Items outside it are not counted as missing
        (HJ 633-2026 5.3.2).

    >>> r = combine({"PM2.5": np.array([84.0, 30, np.nan]), "PM10": np.array([84.0, 20, 120])}, "2026")
    >>> r.aqi.tolist(), r.primary.tolist(), r.publishable.tolist()
    ([84.0, 30.0, 120.0], ['PM2.5,PM10', None, 'PM10'], [True, True, True])
    """
    return _combine_int({k: _to_int(v) for k, v in iaqis.items()}, _check_standard(standard), required)


def wide_from_long(
    frame: pl.DataFrame,
    *,
    index: Sequence[str] = ("site", "ts"),
    parameter: str = "parameter",
    value: str = "value",
) -> pl.DataFrame:
    """Pivot a long frame (``site, ts, parameter, value``) to one column per parameter, as the AQI functions use.

    Duplicate (index, parameter) rows raise ``ValueError`` rather than being silently aggregated.

    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 3, 1, tzinfo=UTC)
    >>> long = pl.DataFrame({"site": "A", "ts": t, "parameter": ["a34004", "a34002"], "value": [52.0, 40.0]})
    >>> wide_from_long(long).columns
    ['site', 'ts', 'a34004', 'a34002']
    """
    idx = [c for c in index if c in frame.columns]
    dup = frame.select(*idx, parameter).is_duplicated()
    if dup.any():
        raise ValueError(
            f"{int(dup.sum())} duplicate rows for the same {[*idx, parameter]}, e.g. {frame.filter(dup).row(0)}"
        )
    return frame.pivot(on=parameter, index=idx, values=value, maintain_order=True)


def _columns(data: Mapping[str, npt.ArrayLike] | pl.DataFrame) -> dict[str, object]:
    if isinstance(data, pl.DataFrame):
        return {c: data.get_column(c) for c in data.columns}
    return dict(data)


def _find(cols: Mapping[str, object], label: str, default_o3: str) -> object | None:
    for name, values in cols.items():
        try:
            lab, _ = item_key(name, default_o3)
        except KeyError:
            continue
        if lab == label:
            return values
    return None


def _aqi_generic(
    data: Mapping[str, npt.ArrayLike] | pl.DataFrame,
    items_by_std: Mapping[str, Sequence[str]],
    default_o3: str,
    standard: str | None,
    ts: object,
    ts_col: str,
    not_monitored: Iterable[str],
    fallback: Mapping[str, object] | None = None,
) -> AqiResult | pl.DataFrame:
    if isinstance(data, pl.DataFrame) and {"parameter", "value"} <= set(data.columns):
        data = wide_from_long(data)
    cols = _columns(data)
    if ts is None and standard is None and isinstance(data, pl.DataFrame) and ts_col in data.columns:
        ts = data.get_column(ts_col)
    n = len(next(iter(cols.values()))) if cols else 0
    std = _resolve(standard, ts, n)
    wanted = list(dict.fromkeys([*items_by_std["2012"], *items_by_std["2026"]]))
    if isinstance(std, str):
        wanted = [k for k in wanted if k in items_by_std[std]]
    skip = {item_key(x, default_o3)[0] for x in not_monitored}
    iaqis: dict[str, np.ndarray] = {}
    for label in wanted:
        values = _find(cols, label, default_o3)
        if values is None:
            iaqis[label] = np.full(n, -1, dtype=np.int16)
            continue
        code, avg = ("a05024", label[3:]) if label.startswith("O3_") else (pollutant_code(label), "24h")
        if default_o3 == "1h" and not label.startswith("O3_"):
            avg = "1h"
        x = _as_float_array(values)
        val = _iaqi_int(x, code, avg, std)
        if fallback and label in fallback and fallback[label] is not None:
            # HJ 633-2012 Table 1 note 2: SO2 1 h above 800 → report the SO2 IAQI from its 24 h average
            alt = _iaqi_int(_as_float_array(fallback[label]), code, "24h", std)
            val = np.where(val == NOT_COMPUTED, alt, val)
        iaqis[label] = val
    if isinstance(std, str):
        res = _combine_int(iaqis, std, [k for k in items_by_std[std] if k not in skip])
    else:
        res = _combine_mixed(iaqis, std, items_by_std, skip)
    if isinstance(data, pl.DataFrame):
        return pl.concat([data, res.to_polars()], how="horizontal")
    return res


def _combine_mixed(
    iaqis: dict[str, np.ndarray], mask: np.ndarray, items_by_std: Mapping[str, Sequence[str]], skip: set[str]
) -> AqiResult:
    """Rows of both versions: each row takes the result of its own version (item sets differ)."""
    labels = tuple(iaqis)
    parts = {}
    for std in ("2012", "2026"):
        sub = {k: (v if k in items_by_std[std] else np.full(len(v), -1, dtype=np.int16)) for k, v in iaqis.items()}
        parts[std] = _combine_int(sub, std, [k for k in items_by_std[std] if k not in skip])
    r12, r26 = parts["2012"], parts["2026"]
    return AqiResult(
        labels=labels,
        aqi_int=np.where(mask, r26.aqi_int, r12.aqi_int),
        iaqi_int={k: np.where(mask, r26.iaqi_int[k], r12.iaqi_int[k]) for k in labels},
        primary_mask=np.where(mask, r26.primary_mask, r12.primary_mask),
        exceeding_mask=np.where(mask, 0, r12.exceeding_mask).astype(np.uint16),
        level=np.where(mask, r26.level, r12.level).astype(np.int8),
        missing=np.where(mask, r26.missing, r12.missing).astype(np.int8),
        publishable=np.where(mask, r26.publishable, r12.publishable),
    )


def aqi_hourly(
    data: Mapping[str, npt.ArrayLike] | pl.DataFrame,
    standard: str | None = None,
    *,
    ts: object = None,
    ts_col: str = "ts",
    so2_24h: npt.ArrayLike | pl.Series | None = None,
    not_monitored: Iterable[str] = (),
) -> AqiResult | pl.DataFrame:
    """Real-time (hourly) AQI from 1 h average concentrations (HJ 633-2026 4.2.4; HJ 633-2012 5.2).

    Parameters
    ----------
    data : mapping of pollutant → array, or polars.DataFrame (wide, or long ``site, ts, parameter, value``)
        1 h averages of SO2, NO2, CO, O3, PM10, PM2.5 [µg/m³; CO mg/m³], keyed by HJ 212 code or name
        (``O3`` means the 1 h value here). PM 1 h values are read against the 24 h breakpoints (2026 4.2.4;
        the same for 2012 is [R], and reproduces CNEMC's published 2019 AQI).
    standard : {"2012", "2026"}, optional
        Default: by timestamp (``ts`` or the frame's ``ts_col``), :func:`standard_for`.
    so2_24h : array, optional
        SO2 24 h (moving) average, used under 2012 when SO2 1 h > 800 (HJ 633-2012 Table 1 note 2).
        Under 2026 SO2 1 h > 800 gives IAQI 200.
    not_monitored : iterable of str
        Items not in the site's monitoring plan (not counted as missing, HJ 633-2026 5.3.2).

    Returns
    -------
    AqiResult, or the frame with ``iaqi_<item>``, ``aqi``, ``primary_pollutant``, ``level``, ``missing``,
    ``publishable``, ``exceeding_pollutant`` appended.

    >>> r = aqi_hourly({"PM2.5": [209], "PM10": [290], "SO2": [7], "NO2": [97], "CO": [3.8], "O3": [5]}, "2012")
    >>> int(r.aqi[0]), r.primary[0], int(r.level[0])
    (259, 'PM2.5', 5)
    """
    fb = {"SO2": so2_24h} if so2_24h is not None else None
    return _aqi_generic(data, HOURLY_ITEMS, "1h", standard, ts, ts_col, not_monitored, fb)


def aqi_daily(
    data: Mapping[str, npt.ArrayLike] | pl.DataFrame,
    standard: str | None = None,
    *,
    ts: object = None,
    ts_col: str = "ts",
    not_monitored: Iterable[str] = (),
) -> AqiResult | pl.DataFrame:
    """Daily AQI (HJ 633-2026 4.2.3 and 4.3; HJ 633-2012 5.1).

    Parameters
    ----------
    data : mapping of item → array, or polars.DataFrame (wide, or long ``site, ts, parameter, value``)
        24 h means of SO2, NO2, CO, PM10, PM2.5 and the O3 daily maximum 8 h mean (key ``O3_8h``, or ``O3``);
        for 2012 also the O3 daily maximum 1 h value (``O3_1h``). Concentrations as the statistic published them
        (rounded per GB/T 8170 by :func:`bogda.standards.evaluation.daily_means`) [µg/m³; CO mg/m³].
    standard : {"2012", "2026"}, optional
        Default: by the day (``ts`` / ``ts_col``: the day's interval start, or a Beijing ``date``).

    >>> d = {"SO2": [10], "NO2": [30], "CO": [0.8], "PM10": [130], "PM2.5": [52], "O3_8h": [90], "O3_1h": [120]}
    >>> r26, r12 = aqi_daily(d, "2026"), aqi_daily(d, "2012")
    >>> (int(r26.aqi[0]), r26.primary[0]), (int(r12.aqi[0]), r12.primary[0])
    ((104, 'PM10'), (90, 'PM10'))
    """
    return _aqi_generic(data, DAILY_ITEMS, "8h", standard, ts, ts_col, not_monitored)


def primary_pollutants(iaqis: Mapping[str, npt.ArrayLike]) -> np.ndarray:
    """Primary pollutant labels from IAQIs: items with the maximum IAQI when it exceeds 50 (HJ 633-2026 4.3).

    >>> primary_pollutants({"PM10": [120, 40], "O3_8h": [120, 45]}).tolist()
    ['PM10,O3_8h', None]
    """
    return combine({k: np.asarray(v, dtype=np.float64) for k, v in iaqis.items()}, "2026").primary
