"""Warning proposals (forecast.md §3.6): labelled AQI sequences per rule set, causes, upgrade/downgrade logic."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bogda.forecast import warnings as wn

DAYS = [date(2026, 1, 10) + timedelta(days=k) for k in range(4)]


@pytest.mark.parametrize(
    ("aqi", "rule", "expected"),
    [
        # 2024 rule (环大气〔2024〕6号): yellow > 200 ≥ 24 h or > 150 ≥ 48 h
        ([120, 210, 140], "2024", "yellow"),
        ([160, 170, 120], "2024", "yellow"),
        ([160, 120, 170], "2024", None),  # > 150 not consecutive for 48 h
        # orange > 200 ≥ 48 h or > 150 ≥ 72 h
        ([210, 220, 120], "2024", "orange"),
        ([160, 170, 180], "2024", "orange"),
        # red > 200 ≥ 72 h and > 300 ≥ 24 h
        ([220, 310, 250], "2024", "red"),
        ([220, 290, 250], "2024", "orange"),
        # nothing above 150 / exactly at a threshold (strict ">")
        ([90, 140, 120], "2024", None),
        ([150, 150, 150], "2024", None),
        ([200, 120, 100], "2024", None),
        # 2018 rule (环办大气函〔2018〕875号): blue > 200 for 24 h
        ([210, 120, 100], "2018", "blue"),
        ([210, 220, 120], "2018", "yellow"),
        ([220, 310, 250], "2018", "orange"),
    ],
)
def test_proposed_level(aqi: list[float], rule: str, expected: str | None) -> None:
    p = wn.propose("652301", DAYS[: len(aqi)], aqi, ["PM2.5"] * len(aqi), rule=rule)
    assert p.level == expected
    if expected is not None:
        assert p.start_date is not None and p.end_date is not None and p.start_date <= p.end_date
        assert p.cause == "PM2.5"


def test_dust_episode_gets_no_warning() -> None:
    p = wn.propose("652301", DAYS[:3], [260, 280, 240], ["PM10"] * 3, dust=True)
    assert p.level is None and p.cause == "dust"


def test_probability_mode_needs_half() -> None:
    d = DAYS[:3]
    hold = {150.0: [0.7, 0.8, 0.6], 200.0: [0.6, 0.55, 0.2], 300.0: [0.1, 0.1, 0.0]}
    weak = {150.0: [0.4, 0.45, 0.3], 200.0: [0.3, 0.2, 0.1], 300.0: [0.0, 0.0, 0.0]}
    p = wn.propose("652301", d, [190, 195, 160], prob_over=hold)
    assert p.level == "orange" and p.probability == pytest.approx(0.6)
    assert wn.propose("652301", d, [190, 195, 160], prob_over=weak).level is None


@pytest.mark.parametrize(
    ("primaries", "expected"),
    [(["PM2.5", "PM2.5", "PM10"], "PM2.5"), (["O3_8h", "O3_8h"], "O3"), (["PM10", "NO2"], "other"), ([None], None)],
)
def test_cause(primaries: list[str | None], expected: str | None) -> None:
    assert wn.cause_of(primaries) == expected


@pytest.mark.parametrize(
    ("current", "pending", "proposed", "action", "level"),
    [
        (None, 0, None, "none", None),
        (None, 0, "orange", "propose", "orange"),
        ("yellow", 0, "red", "upgrade", "red"),
        ("orange", 0, "orange", "keep", "orange"),
        ("orange", 0, "yellow", "pending_downgrade", "orange"),
        ("orange", 1, "yellow", "downgrade", "yellow"),
        ("orange", 0, None, "pending_downgrade", "orange"),
        ("orange", 1, None, "lift", None),
    ],
)
def test_decide(current: str | None, pending: int, proposed: str | None, action: str, level: str | None) -> None:
    d = wn.decide(current, pending, proposed)
    assert (d.action, d.level) == (action, level)


def test_window_includes_today_during_episode() -> None:
    assert wn.forecast_window(DAYS[0], 180.0)[0] == DAYS[0]
    assert wn.forecast_window(DAYS[0], 120.0)[0] == DAYS[1]
    assert len(wn.forecast_window(DAYS[0], float("nan"))) == wn.WARNING_DAYS
