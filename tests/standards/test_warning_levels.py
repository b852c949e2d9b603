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
        ([201], "2018", "blue"),  # "2018" = "2017" (alias)
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
    # calendar mode with 1-h steps: 48 consecutive steps above 150 = 48 h (rolling 24-h windows: mode "rolling")
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


@pytest.mark.parametrize(
    ("seq", "rule", "expected"),
    [
        # forecast.md §8 item 7, word for word
        ([180, 160, 90], "2024", "yellow"),
        ([210, 90, 80], "2024", "yellow"),
        ([160, 170, 180], "2024", "orange"),
        ([210, 220, 150], "2024", "orange"),
        ([210, 320, 250], "2024", "red"),
        ([210, 90], "2017", "blue"),
        ([210, 220], "2017", "yellow"),
        ([210, 320, 220], "2017", "orange"),
        ([210, 310, 320, 220], "2017", "red"),
        ([500], "2017", "red"),
    ],
)
def test_spec_acceptance_item_7(seq: list[float], rule: str, expected: str) -> None:
    assert W.warning_level(seq, rule).level == expected


@pytest.mark.parametrize(
    ("seq", "rule", "expected"),
    [
        # the day above 300 is not inside the 72 h above 200: no red (it was red when clauses were independent)
        ([210, 220, 230, 90, 310], "2024", "orange"),
        ([310, 90, 210, 220, 230], "2024", "orange"),
        # inside the run, at any place of it
        ([210, 320, 250], "2024", "red"),
        ([320, 210, 250], "2024", "red"),
        ([210, 220, 230, 310, 90, 80], "2024", "red"),
        # a long enough run elsewhere does not lend its length to a short run holding the > 300 day
        ([210, 220, 230, 90, 310, 305], "2024", "orange"),
        # 2017: orange needs the > 300 day inside 72 h above 200, red the 48 h above 300 inside 96 h above 200
        ([210, 220, 230, 90, 310], "2017", "yellow"),
        ([210, 220, 230, 240, 90, 310, 320], "2017", "yellow"),
        ([210, 220, 310, 320, 90, 310], "2017", "red"),
        ([210, 310, 220, 320], "2017", "orange"),  # 96 h above 200 but the two days above 300 are not one run
    ],
)
def test_higher_clause_run_lies_inside_the_lower_run(seq: list[float], rule: str, expected: str) -> None:
    assert W.warning_level(seq, rule).level == expected


def test_nesting_is_data_and_checked() -> None:
    red = [c for c in W.warning_rules("2024") if c.level == "red"]
    assert [(c.threshold, c.inside) for c in red] == [(200.0, None), (300.0, 200.0)]
    assert "within the run above 200" in W.warning_level([210, 320, 250]).reason
    # the same clauses without the nesting column: the old, independent reading
    loose = [W.WarningClause(**{**c.__dict__, "inside": None}) for c in red]
    assert W.warning_level([210, 220, 230, 90, 310], clauses=loose).level == "red"
    assert W.warning_level([210, 220, 230, 90, 310], clauses=red).level is None
    orphan = W.WarningClause("x", "red", "红色", 1, "#F00", 1, ">", 300, 24, "t", inside=250)
    with pytest.raises(ValueError, match="inside 250 names no clause of its group"):
        W.warning_level([400], clauses=[orphan])
    a = W.WarningClause("x", "red", "红色", 1, "#F00", 1, ">", 200, 24, "t", inside=300)
    b = W.WarningClause("x", "red", "红色", 1, "#F00", 1, ">", 300, 24, "t", inside=200)
    with pytest.raises(ValueError, match="cycle"):
        W.check_nesting([a, b])


def test_bad_rule_row_names_file_line_and_field() -> None:
    row = dict(W.table("warning_rules")[0])
    assert W._clause(row, 2).inside is None
    with pytest.raises(ValueError, match=r"warning_rules.csv line 7, field 'op'"):
        W._clause(row | {"op": "=>"}, 7)
    with pytest.raises(ValueError, match=r"warning_rules.csv line 3, field 'threshold': 'x2'"):
        W._clause(row | {"threshold": "x2"}, 3)
    with pytest.raises(ValueError, match=r"line 4, field 'inside'"):
        W._clause(row | {"inside": "abc"}, 4)
    with pytest.raises(ValueError, match=r"line 5, field 'min_hours': must be > 0"):
        W._clause(row | {"min_hours": "0"}, 5)


def test_rule_set_names_2017_and_alias_2018() -> None:
    assert W.canonical_rule("2017") == W.canonical_rule("2018") == "2017"
    assert W.warning_rules("2018") == W.warning_rules("2017")
    assert {c.rule for c in W.warning_rules("2018")} == {"2017"}
    assert W.warning_level([201], "2017").level == "blue"
    assert set(W.rule_names()) == {"2017", "2018", "2024"}
    with pytest.raises(ValueError, match=r"unknown warning rule '2019'; known: 2017, 2024 \(alias 2018 = 2017\)"):
        W.canonical_rule("2019")


def _rolling(hourly_day_aqi: list[tuple[int, float]]) -> list[float]:
    """A rolling series from (hours, AQI) pieces: each window's AQI, one per start hour."""
    return [v for n, v in hourly_day_aqi for _ in range(n)]


def test_rolling_mode_counts_24h_windows_from_one_start_hour() -> None:
    # windows starting 14:00 on two consecutive days are above 200, the midnight-aligned ones only once
    seq = _rolling([(14, 120), (1, 210), (23, 180), (1, 210), (23, 120)])
    assert W.warning_level(seq, mode="rolling").level == "orange"
    assert W.warning_level(seq, mode="rolling").phase == 14
    assert W.warning_level(seq[::24]).level is None  # calendar days (windows from 00:00): 120, 180, 120
    # windows above 200 from different start hours do not add up
    mixed = _rolling([(14, 120), (1, 210), (10, 180), (1, 210), (30, 120)])
    assert W.warning_level(mixed, mode="rolling").level == "yellow"
    # NaN breaks a run of windows
    gap = _rolling([(14, 120), (1, 210), (23, 180), (1, float("nan")), (23, 120)])
    assert W.warning_level(gap, mode="rolling").level == "yellow"


def test_rolling_mode_keeps_the_nesting_on_one_start_hour() -> None:
    # windows from 06:00: 210, 320, 250 → red; from any other hour: 150
    windows = []
    for v in (210, 320, 250):
        windows += [150.0] * 6 + [float(v)] + [150.0] * 17
    assert W.warning_level(windows, mode="rolling").level == "red"
    # the > 300 window on another start hour than the 72 h above 200: orange
    shifted = []
    for v in (210, 220, 230):
        shifted += [150.0] * 6 + [float(v)] + [150.0] * 17
    shifted[31] = 320.0  # a window from 07:00
    assert W.warning_level(shifted, mode="rolling").level == "orange"


def test_mode_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        W.warning_level([210], mode="daily")
    with pytest.raises(ValueError, match="step_hours applies to mode 'calendar' only"):
        W.warning_level([210] * 24, mode="rolling", step_hours=1)
    with pytest.raises(ValueError, match="step_hours must be > 0"):
        W.warning_level([210], step_hours=0)
