"""Heavy-pollution weather warning levels from a forecast AQI sequence, as a rule table (data, not branches).

Rules (``warning_rules.csv``; standards.md §5):

* ``"2024"`` — 环大气〔2024〕6号 [V, news reprint]: yellow / orange / red;
* ``"2018"`` — 环办大气函〔2018〕875号 (used 2017–2023) [V, secondary]: blue / yellow / orange / red.

Each row is a clause "AQI ``op`` ``threshold`` lasting ≥ ``min_hours``"; the clauses of one (level, group) must all
hold (AND); the groups of a level are alternatives (OR). The level issued is the highest rank whose condition
holds. "Lasting" is the longest run of consecutive forecast steps meeting the clause times the step length
(24 h for a daily forecast; a daily AQI may be any rolling 24 h, so hourly-rolled sequences use ``step_hours=1``).
Plans do not apply to sand/dust weather: with ``cause="dust"`` no level is issued (``exclude_dust``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bogda.standards._data import table

CAUSES = ("PM2.5", "O3", "dust", "other")
"""Episode causes (the 2024 guidance prescribes different measures per cause [R])."""


@dataclass(frozen=True)
class WarningClause:
    """One row of the rule table."""

    rule: str
    level: str
    level_zh: str
    rank: int
    colour: str
    group: int
    op: str
    threshold: float
    min_hours: float
    source: str


@dataclass(frozen=True)
class WarningResult:
    """The level issued for a sequence (``level`` None = no warning)."""

    level: str | None
    level_zh: str | None
    rank: int
    colour: str | None
    cause: str | None
    reason: str


def warning_rules(rule: str = "2024") -> tuple[WarningClause, ...]:
    """Rule table rows of one rule set.

    >>> sorted({c.level for c in warning_rules("2024")})
    ['orange', 'red', 'yellow']
    >>> len({c.level for c in warning_rules("2018")})
    4
    """
    rows = tuple(
        WarningClause(
            r["rule"],
            r["level"],
            r["level_zh"],
            int(r["rank"]),
            r["colour"],
            int(r["group"]),
            r["op"],
            float(r["threshold"]),
            float(r["min_hours"]),
            r["source"],
        )
        for r in table("warning_rules")
        if r["rule"] == rule
    )
    if not rows:
        raise ValueError(f"unknown warning rule {rule!r}; known: {sorted({r['rule'] for r in table('warning_rules')})}")
    return rows


def longest_run(mask: npt.ArrayLike) -> int:
    """Length of the longest run of True.

    >>> longest_run([True, True, False, True, True, True])
    3
    """
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return 0
    edges = np.diff(np.r_[0, m.astype(np.int8), 0])
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def _holds(aqi: np.ndarray, clause: WarningClause, step_hours: float) -> bool:
    with np.errstate(invalid="ignore"):
        mask = aqi >= clause.threshold if clause.op == ">=" else aqi > clause.threshold
    return longest_run(mask & np.isfinite(aqi)) * step_hours >= clause.min_hours


def warning_level(
    forecast_aqi: npt.ArrayLike,
    rule: str = "2024",
    *,
    step_hours: float = 24.0,
    cause: str | None = None,
    exclude_dust: bool = True,
    clauses: Sequence[WarningClause] | None = None,
) -> WarningResult:
    """Warning level for a forecast AQI sequence (MEE heavy-pollution warning guidance, standards.md §5).

    Parameters
    ----------
    forecast_aqi : array_like
        Forecast AQI per step (daily by default); NaN breaks a run.
    rule : {"2024", "2018"}
        Rule set of the table (ignored when ``clauses`` is given).
    step_hours : float
        Hours per step (24 for daily AQIs; 1 for an hourly sequence of rolling 24 h AQIs).
    cause : {"PM2.5", "O3", "dust", "other"}, optional
    exclude_dust : bool
        Issue no level for sand/dust episodes (plans exclude sand/dust weather).
    clauses : sequence of WarningClause, optional
        A custom rule table.

    >>> warning_level([120, 210, 180]).level
    'yellow'
    >>> warning_level([160, 170, 180]).level   # > 150 for 72 h
    'orange'
    >>> warning_level([220, 310, 250]).level, warning_level([220, 310, 250], "2018").level
    ('red', 'orange')
    >>> warning_level([260, 280], cause="dust").level is None
    True
    """
    aqi = np.asarray(forecast_aqi, dtype=np.float64)
    if cause is not None and cause not in CAUSES:
        raise ValueError(f"cause must be one of {CAUSES}, not {cause!r}")
    if cause == "dust" and exclude_dust:
        return WarningResult(None, None, 0, None, cause, "sand/dust weather: heavy-pollution plans do not apply")
    rows = tuple(clauses) if clauses is not None else warning_rules(rule)
    best: WarningClause | None = None
    met = ""
    for rank in sorted({c.rank for c in rows}, reverse=True):
        level_rows = [c for c in rows if c.rank == rank]
        for group in sorted({c.group for c in level_rows}):
            group_rows = [c for c in level_rows if c.group == group]
            if all(_holds(aqi, c, step_hours) for c in group_rows):
                best = group_rows[0]
                met = " and ".join(f"AQI {c.op} {c.threshold:g} for ≥ {c.min_hours:g} h" for c in group_rows)
                break
        if best is not None:
            break
    if best is None:
        return WarningResult(None, None, 0, None, cause, "no clause met")
    return WarningResult(best.level, best.level_zh, best.rank, best.colour, cause, f"{met} ({best.source})")
