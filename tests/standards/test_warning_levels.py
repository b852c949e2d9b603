"""Heavy-pollution warning levels from forecast AQI sequences (rule table)."""

from __future__ import annotations

import pytest

from bogda.standards import warning_levels as W


@pytest.mark.parametrize(
    ("seq", "rule", "expected"),
    [
        ([100, 150, 120], "2024", None),
        ([201], "2024", "yellow"),  # forecast daily AQI > 200
        ([151, 151], "2024", "yellow"),  # > 150 for 48 h
        ([151, 120, 151], "2024", None),  # not consecutive
        ([201, 201], "2024", "orange"),  # > 200 for 48 h
        ([151, 160, 170], "2024", "orange"),  # > 150 for 72 h
        ([201, 250, 260], "2024", "orange"),  # 72 h > 200 but never > 300
        ([201, 301, 260], "2024", "red"),  # > 200 for 72 h and > 300 for 24 h
        ([201], "2018", "blue"),
        ([201, 205], "2018", "yellow"),
        ([201, 301, 205], "2018", "orange"),
        ([201, 301, 305, 210], "2018", "red"),  # > 200 for 96 h and > 300 for 48 h
        ([201, 301, 210, 210], "2018", "orange"),  # only 24 h > 300
        ([500], "2018", "red"),  # forecast AQI reaches 500
        ([float("nan"), 201, float("nan")], "2024", "yellow"),
    ],
)
def test_levels(seq: list[float], rule: str, expected: str | None) -> None:
    assert W.warning_level(seq, rule).level == expected


def test_hourly_rolling_sequence() -> None:
    # 48 rolling 24 h AQIs above 150 = 48 h
    assert W.warning_level([160] * 48, step_hours=1).level == "yellow"
    assert W.warning_level([160] * 47, step_hours=1).level is None


def test_dust_is_excluded_but_can_be_included() -> None:
    assert W.warning_level([310, 320, 330], cause="dust").level is None
    assert W.warning_level([310, 320, 330], cause="dust", exclude_dust=False).level == "red"


def test_rules_are_data() -> None:
    rows = W.warning_rules("2024")
    assert {(c.level, c.group) for c in rows} == {
        ("yellow", 1),
        ("yellow", 2),
        ("orange", 1),
        ("orange", 2),
        ("red", 1),
    }
    custom = [W.WarningClause("x", "purple", "紫色", 1, "#800080", 1, ">", 100, 24, "test")]
    assert W.warning_level([101], clauses=custom).level == "purple"
    with pytest.raises(ValueError, match="unknown warning rule"):
        W.warning_rules("1999")
    with pytest.raises(ValueError, match="cause"):
        W.warning_level([1], cause="fog")
