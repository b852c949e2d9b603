"""Heavy-pollution warning proposals from the daily forecast sequence (forecast.md §3.6; "三天预警").

Pure core: a proposal is the highest level of the rule table of :mod:`bogda.standards.warning_levels` (rule set
``"2024"`` by default, ``"2018"`` as an option) whose clauses hold on the ``mean`` daily AQI of the coming days; in
probability mode, the highest level whose clauses hold with probability ≥ 0.5 (d). Calendar mode (default): one
step = one Beijing day. During an ongoing episode today counts (observed hours + hourly forecast).

Upgrades are proposed at once; a downgrade or a lift needs :data:`CONFIRM_RUNS` agreeing runs (d). The cause is
the episode's most frequent primary pollutant; sand/dust episodes get an advisory, never a warning (emergency
plans exclude sand and dust). Issuing is a human decision: the service records proposals, people issue them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from bogda.standards.warning_levels import warning_level

LEVEL_RANK: dict[str | None, int] = {None: 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}
"""Common order of levels of both rule sets."""

LEVEL_ZH: dict[str, str] = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
STATE_ZH: dict[str, str] = {
    "proposed": "建议发布",
    "issued": "已发布",
    "changed": "已调整",
    "lifted": "已解除",
    "rejected": "不发布",
}
"""A warning record's states in Chinese (proposal → the duty officer's decision, forecast.md §5)."""

CONFIRM_RUNS = 2
"""Agreeing runs needed for a downgrade or lift (forecast.md §5, d)."""

EPISODE_AQI = 150.0
"""Days above this AQI form an episode (the lowest threshold of the rule tables)."""

PROBABILITY_THRESHOLD = 0.5
"""Probability mode: a level is proposed when P ≥ this (forecast.md §3.6, d)."""

WARNING_DAYS = 3
"""Days ahead used for a proposal ("三天预警": D+1..D+3; today is added during an episode)."""

SEVERITY: dict[str, str] = {"blue": "medium", "yellow": "medium", "orange": "high", "red": "critical"}
"""Finding severity of a warning proposal by level (d)."""


@dataclass(frozen=True)
class Proposal:
    """A proposed warning for one area (``level`` None: no warning)."""

    area_code: str
    level: str | None
    rank: int
    cause: str | None
    start_date: date | None
    end_date: date | None
    probability: float | None
    reason: str
    days: tuple[date, ...] = ()
    aqi: tuple[float, ...] = ()


def cause_of(primaries: Sequence[str | None], dust: bool = False) -> str | None:
    """Most frequent primary pollutant of an episode mapped to the causes of the rule table.

    >>> cause_of(["PM2.5", "PM2.5,PM10", "O3_8h"]), cause_of(["PM10"], dust=True), cause_of([None])
    ('PM2.5', 'dust', None)
    """
    if dust:
        return "dust"
    names: list[str] = []
    for p in primaries:
        if p:
            names.extend(x.strip() for x in str(p).split(","))
    if not names:
        return None
    top = Counter(names).most_common(1)[0][0]
    if top.startswith("O3"):
        return "O3"
    return "PM2.5" if top == "PM2.5" else "other"


def propose(
    area_code: str,
    days: Sequence[date],
    aqi_mean: Sequence[float],
    primaries: Sequence[str | None] = (),
    *,
    rule: str = "2024",
    prob_over: dict[float, Sequence[float]] | None = None,
    dust: bool = False,
) -> Proposal:
    """Proposed level from daily AQI forecasts of ``days`` (consecutive Beijing days).

    Parameters
    ----------
    days, aqi_mean : the forecast days and their ``mean`` daily AQI
    primaries : primary pollutant per day (for the cause)
    rule : rule set of :func:`bogda.standards.warning_levels.warning_rules`
    prob_over : probability mode: {threshold: P(AQI > threshold) per day}; a clause holds on a day when
        P ≥ 0.5 (d)
    dust : the episode is a sand/dust episode (no warning; an advisory instead)

    >>> d = [date(2026, 1, i) for i in (1, 2, 3)]
    >>> propose("652301", d, [120, 210, 180]).level
    'yellow'
    >>> propose("652301", d, [160, 170, 180]).level
    'orange'
    >>> propose("652301", d, [220, 310, 250]).level, propose("652301", d, [220, 310, 250], rule="2018").level
    ('red', 'orange')
    >>> propose("652301", d, [90, 140, 120]).level is None
    True
    """
    aqi = np.asarray(aqi_mean, dtype=float)
    cause = cause_of([p for p, a in zip(primaries, aqi, strict=False) if np.isfinite(a) and a > EPISODE_AQI], dust)
    probability = None
    if prob_over is not None:
        # a day holds "AQI > T" when P(AQI > T) ≥ 0.5 (d): a pseudo sequence just above the highest such T
        pseudo = np.zeros(aqi.size)
        for thr in sorted(prob_over):
            p = np.asarray(prob_over[thr], dtype=float)
            pseudo = np.where(p >= PROBABILITY_THRESHOLD, np.nextafter(thr, np.inf), pseudo)
        res = warning_level(pseudo, rule, cause=cause)
        on = pseudo > EPISODE_AQI
        if res.level is not None and on.any() and EPISODE_AQI in prob_over:
            probability = float(np.min(np.asarray(prob_over[EPISODE_AQI], dtype=float)[on]))
        aqi_on = pseudo
    else:
        res = warning_level(aqi, rule, cause=cause)
        aqi_on = aqi
    level, rank, cause_r, reason = res.level, res.rank, res.cause, res.reason
    if level is None:
        return Proposal(area_code, None, 0, cause_r, None, None, None, reason, tuple(days), tuple(aqi.tolist()))
    on = np.flatnonzero(np.isfinite(aqi_on) & (aqi_on > EPISODE_AQI))
    if on.size:
        start, end = days[int(on[0])], days[int(on[-1])]
    else:
        start, end = days[0], days[-1]
    return Proposal(
        area_code,
        level,
        LEVEL_RANK.get(level, rank),
        cause_r,
        start,
        end,
        probability,
        reason,
        tuple(days),
        tuple(aqi.tolist()),
    )


def scenario_probability(
    sequences: np.ndarray, rank: int, rule: str = "2024", *, cause: str | None = None
) -> float | None:
    """Share of joint scenarios (forecast.md §3.5) whose daily AQI sequence reaches warning rank ≥ ``rank``.

    ``sequences``: (scenarios, days) daily AQI of the proposal's window, one row per scenario (cross-day
    correlation kept). None without scenarios.

    >>> seqs = np.array([[210, 220, 100], [120, 130, 100], [210, 90, 80], [220, 310, 250]])
    >>> scenario_probability(seqs, LEVEL_RANK["yellow"]), scenario_probability(seqs, LEVEL_RANK["red"])
    (0.75, 0.25)
    """
    seqs = np.asarray(sequences, dtype=float)
    if seqs.ndim != 2 or seqs.shape[0] == 0:
        return None
    hits = sum(1 for row in seqs if LEVEL_RANK.get(warning_level(row, rule, cause=cause).level, 0) >= rank)
    return hits / seqs.shape[0]


def forecast_window(today: date, today_aqi: float | None, *, days_ahead: int = WARNING_DAYS) -> list[date]:
    """Days a proposal looks at: D+1..D+3, with today in front while an episode is on (today's AQI > 150).

    >>> [d.day for d in forecast_window(date(2026, 1, 10), 180.0)], len(forecast_window(date(2026, 1, 10), 80.0))
    ([10, 11, 12, 13], 3)
    """
    ahead = [today + timedelta(days=k) for k in range(1, days_ahead + 1)]
    if today_aqi is not None and np.isfinite(today_aqi) and today_aqi > EPISODE_AQI:
        return [today, *ahead]
    return ahead


@dataclass(frozen=True)
class Decision:
    """What to do with the current warning of an area given a new proposal."""

    action: str  # none | propose | upgrade | keep | pending_downgrade | downgrade | lift
    level: str | None
    pending_lower: int


def decide(current: str | None, pending_lower: int, proposed: str | None, *, confirm: int = CONFIRM_RUNS) -> Decision:
    """Upgrade at once; downgrade or lift only after ``confirm`` agreeing runs (forecast.md §3.6).

    >>> decide(None, 0, "yellow"), decide("yellow", 0, "orange").action
    (Decision(action='propose', level='yellow', pending_lower=0), 'upgrade')
    >>> decide("orange", 0, "yellow").action, decide("orange", 1, "yellow").action
    ('pending_downgrade', 'downgrade')
    >>> decide("orange", 1, None).action, decide("orange", 1, "orange").pending_lower
    ('lift', 0)
    >>> decide(None, 0, None).action
    'none'
    """
    rc, rp = LEVEL_RANK[current], LEVEL_RANK[proposed]
    if current is None:
        return Decision("propose", proposed, 0) if proposed is not None else Decision("none", None, 0)
    if rp > rc:
        return Decision("upgrade", proposed, 0)
    if rp == rc:
        return Decision("keep", current, 0)
    if pending_lower + 1 >= confirm:
        return Decision("lift" if proposed is None else "downgrade", proposed, 0)
    return Decision("pending_downgrade", current, pending_lower + 1)
