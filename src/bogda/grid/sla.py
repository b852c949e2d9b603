"""Service-level deadlines of grid tasks (governance.md §3.4) — pure functions over a rule table.

A rule is plain data (JSON-able) so the table is configuration: per source × severity, with ``"*"`` wildcards,
overridable by rows of the ``sla_rule`` table. Durations are strings: ``"15m"``, ``"4h"``, ``"7d"`` (calendar),
``"3wd"`` (working days, :mod:`bogda.grid.workdays`), ``"eod"`` (24:00 Beijing of the start day), or ``None``
(no deadline for that stage, e.g. "per case").

All deadlines of one cycle count from the same start: the first dispatch of the task (or of its reopened cycle).
The spec's columns are cumulative from that start ("sign 1 h, on site 4 h, feedback 24 h, close 3 working days").

Escalation (提级督办, §3.3): a rule's ``escalate`` entry says when a missed deadline lifts the task one level:
``{"grace": "0m"}`` (any miss), per-stage graces (``{"sign": "15m", "feedback": "2h"}`` = "sign > 30 min or
feedback > 4 h" on a 15 min / 2 h row), ``{"fraction_without_feedback": 0.5}`` (petitions: half the time without
feedback), ``{"card_only": true}`` (inspection items: a card, no escalation) or ``{"immediate": true}``. Level 2
follows ``step`` (default 24 h [D]) after level 1 while the task is still overdue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from bogda.grid.workdays import WorkCalendar
from bogda.timeutil import BEIJING, as_utc

STAGES = ("sign", "site", "feedback", "close")
CLASSES = ("P1", "P2", "P3", "P4")

RULES: dict[str, dict[str, Any]] = {
    "P1_fire": {
        "sign": "15m",
        "site": "1h",
        "feedback": "2h",
        "close": "24h",
        "escalate": {"sign": "15m", "feedback": "2h", "grace": "0m"},
        "note": "P1 fire / burning / smoke; fire out ≤ 30 min [P one county]",
    },
    "P1_satellite_fire": {
        "sign": "1h",
        "site": "24h",
        "feedback": "24h",
        "close": "3d",
        "escalate": {"grace": "0m"},
        "note": "satellite fire points, verified in the 17:00–17:00 cycle (fire.md §5)",
    },
    "P1_emergency": {
        "sign": "0m",
        "site": None,
        "feedback": "1h",
        "close": None,
        "escalate": {"immediate": True},
        "note": "emergency signs: at once to the county bureau",
    },
    "P2_station": {
        "sign": "1h",
        "site": "4h",
        "feedback": "24h",
        "close": "3wd",
        "escalate": {"grace": "0m"},
        "note": "station alarm, hotspot cell, mobile monitoring: any miss escalates",
    },
    "P2_online": {
        "sign": "4h",
        "site": "24h",
        "feedback": "2wd",
        "close": "5wd",
        "escalate": {"grace": "2wd"},
        "note": "online monitoring / power anomaly: case or explanation in 5 working days",
    },
    "P3_patrol": {
        "sign": None,
        "site": None,
        "feedback": "24h",
        "close": "7d",
        "escalate": {"grace": "3d"},
        "note": "own patrol findings and upper dispatches",
    },
    "P3_petition": {
        "sign": "2wd",
        "site": None,
        "feedback": None,
        "close": "60d",
        "escalate": {"fraction_without_feedback": 0.5},
        "note": "petitions: ≤ 60 d from acceptance [P], +≤ 30 d with approval (defer)",
    },
    "P4_inspection": {
        "sign": "eod",
        "site": "2d",
        "feedback": None,
        "close": None,
        "escalate": {"card_only": True},
        "note": "inspection petitions: deadline per 交办单 (finding evidence 'deadline')",
    },
}
"""Named SLA rows [governance §3.4, D unless marked there]."""

SELECTION: dict[tuple[str, str], str] = {
    ("fire_point", "P1"): "P1_satellite_fire",
    ("camera_alert", "P1"): "P1_fire",
    ("*", "P1"): "P1_fire",
    ("online_monitoring", "P2"): "P2_online",
    ("online_monitoring", "*"): "P2_online",
    ("*", "P2"): "P2_station",
    ("petition", "*"): "P3_petition",
    ("inspection", "*"): "P4_inspection",
    ("*", "P3"): "P3_patrol",
    ("*", "P4"): "P4_inspection",
}
"""Which named row applies to a (source, severity class); exact match first, then source, then class."""

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|wd)\s*$")


@dataclass(frozen=True)
class Rule:
    key: str
    sign: str | None
    site: str | None
    feedback: str | None
    close: str | None
    escalate: Mapping[str, Any]

    def stage(self, name: str) -> str | None:
        return getattr(self, name)


@dataclass(frozen=True)
class Dues:
    """Deadlines of one cycle [UTC]; ``None`` where the rule sets none."""

    sign: datetime | None
    site: datetime | None
    feedback: datetime | None
    close: datetime | None

    def as_dict(self) -> dict[str, datetime | None]:
        return {"sign_due": self.sign, "site_due": self.site, "feedback_due": self.feedback, "close_due": self.close}

    def earliest(self, other: Dues) -> Dues:
        """Stage by stage the earlier deadline (a severity rise never extends one, §3.3)."""

        def pick(a: datetime | None, b: datetime | None) -> datetime | None:
            if a is None:
                return b
            if b is None:
                return a
            return min(a, b)

        return Dues(
            pick(self.sign, other.sign),
            pick(self.site, other.site),
            pick(self.feedback, other.feedback),
            pick(self.close, other.close),
        )


def validate_duration(text: str | None) -> None:
    """Raise ``ValueError`` if ``text`` is not a duration of this module."""
    if text is None or text == "eod" or _DUR.match(text):
        return
    raise ValueError(f"duration {text!r}: expected e.g. '15m', '4h', '7d', '3wd', 'eod' or null")


def rule_from_spec(key: str, spec: Mapping[str, Any]) -> Rule:
    """A :class:`Rule` from its JSON form; ``ValueError`` names the stage at fault."""
    for stage in STAGES:
        try:
            validate_duration(spec.get(stage))
        except ValueError as exc:
            raise ValueError(f"SLA rule {key}: {stage}: {exc}") from exc
    esc = dict(spec.get("escalate") or {"grace": "0m"})
    for k in ("grace", "step", *STAGES):
        if k in esc:
            validate_duration(esc[k])
    return Rule(key, spec.get("sign"), spec.get("site"), spec.get("feedback"), spec.get("close"), esc)


def select_rule(
    source: str, severity: str, overrides: Mapping[tuple[str, str], Mapping[str, Any]] | None = None
) -> Rule:
    """The rule for ``(source, severity)``: overrides (from the store) first, then :data:`SELECTION`.

    >>> select_rule("station_alarm", "P2").key, select_rule("station_alarm", "P1").key
    ('P2_station', 'P1_fire')
    """
    if severity not in CLASSES:
        raise ValueError(f"severity class {severity!r} unknown; expected one of {CLASSES}")
    for key in ((source, severity), (source, "*"), ("*", severity)):
        if overrides and key in overrides:
            return rule_from_spec(f"{key[0]}/{key[1]}", overrides[key])
        if key in SELECTION:
            name = SELECTION[key]
            return rule_from_spec(name, RULES[name])
    raise LookupError(f"no SLA rule for {source}/{severity}")  # unreachable: every class has a wildcard row


def add_duration(start: datetime, text: str | None, calendar: WorkCalendar) -> datetime | None:
    """``start`` plus a duration string (see module docstring); ``None`` for ``None``.

    >>> from datetime import timezone
    >>> t = datetime(2025, 3, 3, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 Beijing
    >>> add_duration(t, "4h", WorkCalendar.default()).isoformat()
    '2025-03-03T06:00:00+00:00'
    >>> add_duration(t, "eod", WorkCalendar.default()).astimezone(BEIJING).isoformat()
    '2025-03-04T00:00:00+08:00'
    """
    if text is None:
        return None
    start = as_utc(start)
    if text == "eod":
        day = start.astimezone(BEIJING).date() + timedelta(days=1)
        return as_utc(datetime.combine(day, time(0, 0), tzinfo=BEIJING))
    m = _DUR.match(text)
    if m is None:
        raise ValueError(f"duration {text!r} not understood")
    n, unit = float(m.group(1)), m.group(2)
    if unit == "wd":
        return as_utc(calendar.add_workdays(start, int(n)))
    seconds = {"m": 60, "h": 3600, "d": 86400}[unit] * n
    return start + timedelta(seconds=seconds)


def due_times(rule: Rule, start: datetime, calendar: WorkCalendar, *, close_override: datetime | None = None) -> Dues:
    """The deadlines of a cycle starting at ``start`` [UTC]; ``close_override`` (a 交办单 deadline) wins."""
    sign, site, feedback, close = (add_duration(start, rule.stage(s), calendar) for s in STAGES)
    if close_override is not None:
        close = as_utc(close_override)
    return Dues(sign, site, feedback, close)


STAGE_OF_STATE: dict[str, tuple[str, ...]] = {
    "DISPATCHED": ("sign", "site", "feedback", "close"),
    "ACCEPTED": ("site", "feedback", "close"),
    "HANDLING": ("feedback", "close"),
    "REVIEW": ("close",),
    "REOPENED": ("close",),
    "SUSPENDED": ("close",),
}
"""Deadlines still running in each open state (a stage already done no longer counts)."""


def missed(state: str, dues: Dues, now: datetime) -> list[tuple[str, datetime]]:
    """Running deadlines of ``state`` that ``now`` has passed, earliest first (§3.3 ``overdue``)."""
    out = []
    for stage in STAGE_OF_STATE.get(state, ()):
        due = getattr(dues, stage)
        if due is not None and now > due:
            out.append((stage, due))
    return sorted(out, key=lambda x: x[1])


def escalation_due(
    rule: Rule,
    state: str,
    dues: Dues,
    now: datetime,
    *,
    level: int,
    started_at: datetime | None,
    feedback_at: datetime | None,
    escalated_at: datetime | None,
    calendar: WorkCalendar,
) -> int:
    """The escalation level (0, 1, 2) the rule demands at ``now``; never lower than ``level``."""
    esc = rule.escalate
    if esc.get("card_only") or state not in STAGE_OF_STATE:
        return level
    target = level
    if level == 0:
        if esc.get("immediate"):
            target = 1
        frac = esc.get("fraction_without_feedback")
        if (
            frac is not None
            and feedback_at is None
            and started_at is not None
            and dues.close is not None
            and now >= started_at + (dues.close - started_at) * float(frac)
        ):
            target = 1
        for stage, due in missed(state, dues, now):
            grace = esc.get(stage, esc.get("grace", "0m")) if frac is None else esc.get("grace")
            if grace is None:
                continue
            limit = add_duration(due, grace, calendar)
            if limit is not None and now > limit:
                target = 1
    if target >= 1 and level >= 1 and escalated_at is not None and missed(state, dues, now):
        step = add_duration(escalated_at, esc.get("step", "24h"), calendar)
        if step is not None and now >= step:
            target = 2
    return min(max(target, level), 2)


CARD_RANK = {"none": 0, "blue": 1, "yellow": 2, "red": 3}


def card_for(state: str, dues: Dues, now: datetime, *, escalation_level: int, current: str) -> str:
    """The card [D]: blue = supervised on schedule; yellow = a deadline missed; red = the close deadline missed.

    Cards never fall automatically.
    """
    card = "none"
    if escalation_level > 0:
        card = "blue"
    miss = missed(state, dues, now)
    if miss:
        card = "yellow"
    if any(stage == "close" for stage, _ in miss):
        card = "red"
    return card if CARD_RANK[card] > CARD_RANK.get(current, 0) else current
