"""Composite index, year-on-year change, ranking."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from bogda.standards import composite as C

STATS = {
    "a21026": [9.0, 12.0],
    "a21004": [30.0, 44.0],
    "a34002": [70.0, 91.0],
    "a34004": [35.0, 41.0],
    "a21005": [1.2, 2.0],
    "O3_8h": [140.0, 150.0],
}


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        (
            "2012",
            [
                9 / 60 + 30 / 40 + 70 / 70 + 35 / 35 + 1.2 / 4 + 140 / 160,
                12 / 60 + 44 / 40 + 91 / 70 + 41 / 35 + 2 / 4 + 150 / 160,
            ],
        ),
        (
            "2026",
            [
                9 / 60 + 30 / 40 + 70 / 60 + 35 / 30 + 1.2 / 4 + 140 / 160,
                12 / 60 + 44 / 40 + 91 / 60 + 41 / 30 + 2 / 4 + 150 / 160,
            ],
        ),
        (
            "2026_weighted",
            [
                9 / 60 + 2 * 30 / 40 + 70 / 60 + 3 * 35 / 30 + 1.2 / 4 + 2 * 140 / 160,
                12 / 60 + 2 * 44 / 40 + 91 / 60 + 3 * 41 / 30 + 2 / 4 + 2 * 150 / 160,
            ],
        ),
    ],
)
def test_composite_index(scheme: str, expected: list[float]) -> None:
    total, _ = C.composite_index(STATS, scheme, decimals=None)
    assert total == pytest.approx(expected)


def test_custom_items_and_missing_item() -> None:
    items = [C.CompositeItem("a34004", "PM2.5", "mean", 25.0, 1.0)]
    total, _ = C.composite_index({"a34004": [50.0]}, items)
    assert total.tolist() == [2.0]
    with pytest.raises(KeyError, match="needs SO2"):
        C.composite_index({"a34004": [1.0]}, "2012")
    with pytest.raises(ValueError, match="unknown composite-index scheme"):
        C.scheme("1999")


def test_from_period_statistics_frame() -> None:
    rows = []
    for site, j in (("X", 0), ("Y", 1)):
        for code in ("a21026", "a21004", "a34002", "a34004"):
            rows.append((site, code, STATS[code][j], None))
        rows.append((site, "a21005", None, STATS["a21005"][j]))
        rows.append((site, "O3_8h", None, STATS["O3_8h"][j]))
    s = pl.DataFrame(rows, schema=["site", "parameter", "mean", "percentile"], orient="row").with_columns(
        period=pl.lit("2025")
    )
    out = C.composite_from_statistics(s, "2012").sort("site")
    expected, _ = C.composite_index(STATS, "2012")
    assert out["composite_index"].to_list() == expected.tolist()


def test_year_on_year_and_rank() -> None:
    assert C.year_on_year([3.6], [4.0]).tolist() == pytest.approx([-10.0])
    assert np.isnan(C.year_on_year([1.0], [0.0])[0])
    assert C.rank([3.2, 4.1, 3.2, 5.0]).tolist() == [1, 3, 1, 4]
    assert C.rank([90.0, 80.0], ascending=False).tolist() == [1, 2]  # e.g. good-day ratio, larger is better
