"""GB/T 8170 rounding: vectorised kernel against the Decimal oracle."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bogda.standards.rounding import round_decimal, round_half_even, round_half_even_expr


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (34.5, 0, 34.0),
        (35.5, 0, 36.0),
        (2.25, 1, 2.2),
        (2.35, 1, 2.4),  # the float is 2.35000000000000008882 but the decimal 2.35 rounds to even 2.4
        (0.45, 1, 0.4),
        (52.4999, 0, 52.0),
        (52.5001, 0, 53.0),
        (-2.5, 0, -2.0),
        (0.0, 0, 0.0),
    ],
)
def test_table(value: float, decimals: int, expected: float) -> None:
    assert round_half_even([value], decimals)[0] == expected
    frame = pl.DataFrame({"v": [value]})
    assert frame.select(round_half_even_expr(pl.col("v"), decimals))["v"].item() == expected


def test_nan_and_null() -> None:
    assert np.isnan(round_half_even([np.nan])[0])
    out = pl.DataFrame({"v": [None, 1.5]}, schema={"v": pl.Float64}).select(round_half_even_expr(pl.col("v")))
    assert out["v"].to_list() == [None, 2.0]


@settings(max_examples=500, deadline=None)
@given(st.integers(-(10**9), 10**9), st.integers(1, 4), st.integers(0, 2))
def test_matches_decimal_oracle(units: int, scale: int, decimals: int) -> None:
    text = str(Decimal(units).scaleb(-scale))
    expected = float(round_decimal(text, decimals))
    assert round_half_even([float(text)], decimals)[0] == expected
