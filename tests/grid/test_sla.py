from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bogda.grid.sla import Dues, add_duration, card_for, due_times, escalation_due, rule_from_spec, select_rule
from bogda.grid.workdays import WorkCalendar
from bogda.timeutil import BEIJING

CAL = WorkCalendar.default()
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=BEIJING).astimezone(UTC)  # Monday


@pytest.mark.parametrize(
    ("source", "severity", "key"),
    [
        ("fire_point", "P1", "P1_satellite_fire"),
        ("camera_alert", "P1", "P1_fire"),
        ("station_alarm", "P2", "P2_station"),
        ("station_alarm", "P1", "P1_fire"),
        ("mobile_hotspot", "P2", "P2_station"),
        ("online_monitoring", "P2", "P2_online"),
        ("online_monitoring", "P1", "P2_online"),
        ("patrol", "P3", "P3_patrol"),
        ("petition", "P3", "P3_petition"),
        ("inspection", "P4", "P4_inspection"),
        ("upper_dispatch", "P3", "P3_patrol"),
    ],
)
def test_rule_selection(source: str, severity: str, key: str) -> None:
    assert select_rule(source, severity).key == key


def test_override_wins_and_is_validated() -> None:
    rule = select_rule("station_alarm", "P2", {("station_alarm", "P2"): {"sign": "30m", "close": "2wd"}})
    assert (rule.key, rule.sign, rule.close) == ("station_alarm/P2", "30m", "2wd")
    with pytest.raises(ValueError, match="close"):
        rule_from_spec("x", {"close": "3 weeks"})


@pytest.mark.parametrize(
    ("rule", "expected_beijing"),
    [
        ("P2_station", ("2025-03-03 11:00", "2025-03-03 14:00", "2025-03-04 10:00", "2025-03-06 10:00")),
        ("P1_fire", ("2025-03-03 10:15", "2025-03-03 11:00", "2025-03-03 12:00", "2025-03-04 10:00")),
        ("P2_online", ("2025-03-03 14:00", "2025-03-04 10:00", "2025-03-05 10:00", "2025-03-10 10:00")),
        ("P3_petition", ("2025-03-05 10:00", None, None, "2025-05-02 10:00")),
        ("P4_inspection", ("2025-03-04 00:00", "2025-03-05 10:00", None, None)),
    ],
)
def test_due_times(rule: str, expected_beijing: tuple[str | None, ...]) -> None:
    from bogda.grid.sla import RULES

    dues = due_times(rule_from_spec(rule, RULES[rule]), T0, CAL)
    got = tuple(
        None if d is None else d.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        for d in (dues.sign, dues.site, dues.feedback, dues.close)
    )
    assert got == expected_beijing


def test_earliest_never_extends() -> None:
    a = Dues(T0, None, T0 + timedelta(hours=5), T0 + timedelta(days=3))
    b = Dues(T0 + timedelta(hours=1), T0, T0 + timedelta(hours=2), None)
    assert a.earliest(b) == Dues(T0, T0, T0 + timedelta(hours=2), T0 + timedelta(days=3))


def _p1() -> tuple:
    from bogda.grid.sla import RULES

    rule = rule_from_spec("P1_fire", RULES["P1_fire"])
    return rule, due_times(rule, T0, CAL)


@pytest.mark.parametrize(
    ("state", "minutes", "expected"),
    [
        ("DISPATCHED", 29, 0),  # sign due 15 min, escalate when sign > 30 min
        ("DISPATCHED", 31, 1),
        ("HANDLING", 239, 0),  # feedback due 2 h, escalate when feedback > 4 h
        ("HANDLING", 241, 1),
    ],
)
def test_p1_escalation_thresholds(state: str, minutes: int, expected: int) -> None:
    rule, dues = _p1()
    now = T0 + timedelta(minutes=minutes)
    got = escalation_due(
        rule, state, dues, now, level=0, started_at=T0, feedback_at=None, escalated_at=None, calendar=CAL
    )
    assert got == expected


def test_petition_escalates_at_half_time_without_feedback() -> None:
    from bogda.grid.sla import RULES

    rule = rule_from_spec("P3_petition", RULES["P3_petition"])
    dues = due_times(rule, T0, CAL)
    kw = {"level": 0, "started_at": T0, "escalated_at": None, "calendar": CAL}
    assert escalation_due(rule, "HANDLING", dues, T0 + timedelta(days=29), feedback_at=None, **kw) == 0
    assert escalation_due(rule, "HANDLING", dues, T0 + timedelta(days=30), feedback_at=None, **kw) == 1
    assert escalation_due(rule, "HANDLING", dues, T0 + timedelta(days=30), feedback_at=T0, **kw) == 0


@pytest.mark.parametrize(
    ("state", "hours", "level", "current", "expected"),
    [
        ("HANDLING", 1, 0, "none", "none"),
        ("HANDLING", 1, 1, "none", "blue"),  # supervised, on schedule
        ("HANDLING", 30, 0, "none", "yellow"),  # feedback (24 h) missed
        ("REVIEW", 30, 0, "none", "none"),  # feedback done: only the close deadline runs
        ("REVIEW", 80, 0, "none", "red"),  # close (3 working days) missed
        ("HANDLING", 1, 0, "yellow", "yellow"),  # never falls
    ],
)
def test_cards(state: str, hours: int, level: int, current: str, expected: str) -> None:
    from bogda.grid.sla import RULES

    dues = due_times(rule_from_spec("P2_station", RULES["P2_station"]), T0, CAL)
    assert card_for(state, dues, T0 + timedelta(hours=hours), escalation_level=level, current=current) == expected


def test_bad_duration() -> None:
    with pytest.raises(ValueError, match="not understood"):
        add_duration(T0, "3 weeks", CAL)
