"""GB/T 8170-2008 rounding ("四舍六入五成双"): round half to even on the *decimal* value.

HJ 633-2026 4.2.2 requires published concentrations of SO2, NO2, O3, PM10 and PM2.5 to be integers and CO
[mg/m³] to one decimal, rounded by GB/T 8170. A binary float such as 2.35 is really 2.35000000000000008882;
rounding must act on the decimal the value stands for (2.35 → 2.4, 2.25 → 2.2), so the values are first fixed to
``decimals + GUARD_DIGITS`` decimal places as integers and rounded there with integer arithmetic.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import numpy.typing as npt
import polars as pl

GUARD_DIGITS = 6
"""Extra decimal places used to recover the decimal value of a float before rounding it (exact for values
with at most ``decimals + 6`` decimal places and magnitude below 2**53 / 10**(decimals + 6))."""


def round_half_even(values: npt.ArrayLike, decimals: int = 0) -> np.ndarray:
    """Round to ``decimals`` places by GB/T 8170 (half to even on the decimal value), vectorised.

    Parameters
    ----------
    values : array_like [any unit]
        NaN stays NaN.
    decimals : int
        Places to keep (0 for µg/m³ items, 1 for CO [mg/m³], HJ 633-2026 4.2.2).

    Returns
    -------
    numpy.ndarray of float64

    >>> round_half_even([34.5, 35.5, -0.5, 52.49, np.nan]).tolist()
    [34.0, 36.0, 0.0, 52.0, nan]
    >>> round_half_even([2.25, 2.35, 2.05, 0.15], 1).tolist()
    [2.2, 2.4, 2.0, 0.2]
    """
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x)
    fine = np.rint(np.where(finite, x, 0.0) * 10.0 ** (decimals + GUARD_DIGITS)).astype(np.int64)
    unit = 10**GUARD_DIGITS
    q, r = np.divmod(fine, unit)  # floor division: r in [0, unit)
    half = unit // 2
    q = q + ((r > half) | ((r == half) & (q % 2 == 1)))
    out = q / 10.0**decimals
    return np.where(finite, out, np.nan)


def round_half_even_expr(expr: pl.Expr, decimals: int = 0) -> pl.Expr:
    """Polars expression doing :func:`round_half_even` (nulls stay null).

    >>> pl.DataFrame({"v": [2.25, 2.35]}).select(round_half_even_expr(pl.col("v"), 1))["v"].to_list()
    [2.2, 2.4]
    """
    unit = 10**GUARD_DIGITS
    fine = (expr * 10.0 ** (decimals + GUARD_DIGITS)).round(0).cast(pl.Int64)
    q = fine // unit
    r = fine - q * unit
    half = unit // 2
    up = (r > half) | ((r == half) & (q % 2 == 1))
    scaled = q + up.cast(pl.Int64)
    # Polars turns division by a literal into multiplication by its reciprocal (24 * 0.1 = 2.4000000000000004),
    # so the final true division is done in NumPy, which divides.
    return scaled.map_batches(
        lambda s: pl.Series(s.name, s.cast(pl.Float64).to_numpy() / 10.0**decimals, nan_to_null=True),
        return_dtype=pl.Float64,
    )


def round_decimal(value: Decimal | str | int, decimals: int = 0) -> Decimal:
    """Scalar GB/T 8170 rounding of an exact decimal (the oracle for the vectorised version).

    >>> round_decimal("34.5"), round_decimal("2.25", 1), round_decimal("2.351", 1)
    (Decimal('34'), Decimal('2.2'), Decimal('2.4'))
    """
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
