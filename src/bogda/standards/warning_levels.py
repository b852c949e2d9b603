"""Heavy-pollution weather warning levels from a forecast AQI sequence, as a rule table (data, not branches).

Rules (``warning_rules.csv``; standards.md §5, forecast.md §3.6):

* ``"2024"`` — 环大气〔2024〕6号 [V, news reprint]: yellow / orange / red (the default);
* ``"2017"`` — 环办大气函〔2018〕875号 (used 2017–2023) [V, secondary]: blue / yellow / orange / red. The name is the
  spec's; ``"2018"`` (the year of the document number, the name earlier versions stored with their warnings) is an
  alias of it (:data:`RULE_ALIASES`).

Each row is a clause "AQI ``op`` ``threshold`` lasting ≥ ``min_hours``"; the clauses of one (level, group) must all
hold (AND); the groups of a level are alternatives (OR). The level issued is the highest rank whose condition
holds. A clause whose ``inside`` names the threshold of another clause of its group is *nested*: its run must lie
inside one run of that clause which is itself long enough (forecast.md §3.6: "the > 300 clause must be a run inside
the > 200 run" (d)), so in 2024 ``[210, 220, 230, 90, 310]`` is orange, not red: the day above 300 is not part of the
72 h above 200.

"Lasting" is counted in one of two modes (forecast.md §3.6):

* ``"calendar"`` (default): the sequence holds consecutive calendar-day AQIs; a clause of N h needs N/24 consecutive
  days (``step_hours`` other than 24 counts other non-overlapping steps);
* ``"rolling"``: the sequence holds the AQI of the 24-h window starting at each hour (an hourly series of rolling
  24-h AQIs); a clause of N h needs N/24 consecutive windows from one start hour (windows i, i+24, i+48 … of the
  series), the guidance allowing a daily AQI to be any 24 h across midnight. All clauses of a group are judged on the
  windows of the same start hour.

Plans do not apply to sand/dust weather: with ``cause="dust"`` no level is issued (``exclude_dust``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from bogda.standards._data import table

CAUSES = ("PM2.5", "O3", "dust", "other")
"""Episode causes (the 2024 guidance prescribes different measures per cause [R])."""

RULE_ALIASES: dict[str, str] = {"2018": "2017"}
"""Other accepted names of a rule set → its name in the table (the spec's, forecast.md §3.6)."""

MODES = ("calendar", "rolling")
"""How a clause's duration is counted (module docstring; forecast.md §3.6)."""

RULES_FILE = "warning_rules.csv"
OPS = (">", ">=")
T = TypeVar("T")


@dataclass(frozen=True)
class WarningClause:
    """One row of the rule table; ``inside``: threshold of the clause of the same group whose run this one's run
    must lie inside (None: an independent clause)."""

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
    inside: float | None = None

    def text(self) -> str:
        """The clause in words, e.g. ``AQI > 300 for ≥ 24 h``."""
        return f"AQI {self.op} {self.threshold:g} for ≥ {self.min_hours:g} h"


@dataclass(frozen=True)
class WarningResult:
    """The level issued for a sequence (``level`` None = no warning); ``phase``, in mode ``rolling``, is the offset
    in hours from the series' first window to the start hour of the windows that met the clauses."""

    level: str | None
    level_zh: str | None
    rank: int
    colour: str | None
    cause: str | None
    reason: str
    phase: int | None = None


def rule_names() -> tuple[str, ...]:
    """Rule sets of the table, then their aliases.

    >>> rule_names()
    ('2017', '2024', '2018')
    """
    return (*sorted({r["rule"] for r in table("warning_rules")}), *RULE_ALIASES)


def canonical_rule(rule: str) -> str:
    """The table's name of a rule set (an alias resolved); ValueError naming the known sets for any other name.

    >>> canonical_rule("2018"), canonical_rule(" 2024 ")
    ('2017', '2024')
    """
    name = str(rule).strip()
    name = RULE_ALIASES.get(name, name)
    known = sorted({r["rule"] for r in table("warning_rules")})
    if name not in known:
        aliases = ", ".join(f"{a} = {c}" for a, c in RULE_ALIASES.items())
        raise ValueError(f"unknown warning rule {rule!r}; known: {', '.join(known)} (alias {aliases})")
    return name


def _field(row: Mapping[str, str], line: int, name: str, conv: Callable[[str], T]) -> T:
    raw = row.get(name)
    if raw is None:
        raise ValueError(f"{RULES_FILE} line {line}: field {name!r} missing")
    try:
        return conv(raw.strip())
    except ValueError:
        what = getattr(conv, "__name__", "value")
        raise ValueError(f"{RULES_FILE} line {line}, field {name!r}: {raw!r} is not a valid {what}") from None


def _clause(row: Mapping[str, str], line: int) -> WarningClause:
    """One CSV row as a clause, every field checked (file, line and field named on an error)."""
    op = _field(row, line, "op", str)
    if op not in OPS:
        raise ValueError(f"{RULES_FILE} line {line}, field 'op': {op!r} is not one of {OPS}")
    min_hours = _field(row, line, "min_hours", float)
    if not min_hours > 0:
        raise ValueError(f"{RULES_FILE} line {line}, field 'min_hours': must be > 0, not {min_hours:g}")
    inside = (row.get("inside") or "").strip()
    return WarningClause(
        _field(row, line, "rule", str),
        _field(row, line, "level", str),
        _field(row, line, "level_zh", str),
        _field(row, line, "rank", int),
        _field(row, line, "colour", str),
        _field(row, line, "group", int),
        op,
        _field(row, line, "threshold", float),
        min_hours,
        row.get("source") or "",
        _field(row, line, "inside", float) if inside else None,
    )


def check_nesting(rows: Sequence[WarningClause], where: str = RULES_FILE) -> None:
    """Every ``inside`` must name the threshold of exactly one other clause of the same (rule, level, group), without
    a cycle; ValueError naming the clause otherwise.

    >>> c = WarningClause("x", "red", "红色", 1, "#F00", 1, ">", 300, 24, "", inside=250)
    >>> check_nesting([c])
    Traceback (most recent call last):
    ...
    ValueError: warning_rules.csv: rule x, red group 1, AQI > 300 for ≥ 24 h: inside 250 names no clause of its group
    """
    for c in rows:
        if c.inside is None:
            continue
        here = f"{where}: rule {c.rule}, {c.level} group {c.group}, {c.text()}"
        group = [o for o in rows if (o.rule, o.level, o.group) == (c.rule, c.level, c.group)]
        parents = [o for o in group if o.threshold == c.inside and o is not c]
        if len(parents) != 1:
            what = "names no clause" if not parents else "names several clauses"
            raise ValueError(f"{here}: inside {c.inside:g} {what} of its group")
        by_threshold = {o.threshold: o for o in group}
        seen = {c.threshold}
        p: WarningClause | None = parents[0]
        while p is not None and p.inside is not None:
            if p.threshold in seen:
                raise ValueError(f"{here}: the clauses' 'inside' form a cycle")
            seen.add(p.threshold)
            p = by_threshold.get(p.inside)


@cache
def _rules(rule: str) -> tuple[WarningClause, ...]:
    rows = tuple(
        _clause(r, line) for line, r in enumerate(table("warning_rules"), start=2) if r["rule"].strip() == rule
    )
    check_nesting(rows)
    return rows


def warning_rules(rule: str = "2024") -> tuple[WarningClause, ...]:
    """Rule table rows of one rule set (``"2024"``, ``"2017"`` or its alias ``"2018"``).

    >>> sorted({c.level for c in warning_rules("2024")})
    ['orange', 'red', 'yellow']
    >>> len({c.level for c in warning_rules("2017")}), warning_rules("2018") == warning_rules("2017")
    (4, True)
    >>> [(c.threshold, c.inside) for c in warning_rules("2024") if c.level == "red"]
    [(200.0, None), (300.0, 200.0)]
    """
    return _rules(canonical_rule(rule))


def runs(mask: npt.ArrayLike) -> list[tuple[int, int]]:
    """Runs of True as (start, stop) index pairs, stop exclusive.

    >>> runs([True, True, False, True])
    [(0, 2), (3, 4)]
    """
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return []
    edges = np.diff(np.r_[0, m.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def longest_run(mask: npt.ArrayLike) -> int:
    """Length of the longest run of True.

    >>> longest_run([True, True, False, True, True, True])
    3
    """
    return max((b - a for a, b in runs(mask)), default=0)


def _meets(aqi: np.ndarray, clause: WarningClause) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        mask = aqi >= clause.threshold if clause.op == ">=" else aqi > clause.threshold
    return mask & np.isfinite(aqi)


def _holds_in(
    aqi: np.ndarray,
    clause: WarningClause,
    children: Mapping[float, Sequence[WarningClause]],
    lo: int,
    hi: int,
    step_hours: float,
) -> bool:
    """``clause`` holds on ``aqi[lo:hi]``: one of its runs there is long enough and holds every clause nested in it."""
    for a, b in runs(_meets(aqi[lo:hi], clause)):
        if (b - a) * step_hours < clause.min_hours:
            continue
        if all(_holds_in(aqi, c, children, lo + a, lo + b, step_hours) for c in children.get(clause.threshold, ())):
            return True
    return False


def group_holds(aqi: npt.ArrayLike, clauses: Sequence[WarningClause], step_hours: float = 24.0) -> bool:
    """All clauses of one (level, group) hold on a sequence of consecutive steps, nested clauses inside their run.

    >>> red = [c for c in warning_rules("2024") if c.level == "red"]
    >>> group_holds([210, 320, 250], red), group_holds([210, 220, 230, 90, 310], red)
    (True, False)
    """
    seq = np.asarray(aqi, dtype=np.float64)
    children: dict[float, list[WarningClause]] = {}
    for c in clauses:
        if c.inside is not None:
            children.setdefault(c.inside, []).append(c)
    roots = [c for c in clauses if c.inside is None]
    return all(_holds_in(seq, c, children, 0, seq.size, step_hours) for c in roots)


def _met_text(clauses: Sequence[WarningClause]) -> str:
    parts = []
    for c in clauses:
        parts.append(c.text() + (f" within the run above {c.inside:g}" if c.inside is not None else ""))
    return " and ".join(parts)


def warning_level(
    forecast_aqi: npt.ArrayLike,
    rule: str = "2024",
    *,
    mode: str = "calendar",
    step_hours: float | None = None,
    cause: str | None = None,
    exclude_dust: bool = True,
    clauses: Sequence[WarningClause] | None = None,
) -> WarningResult:
    """Warning level for a forecast AQI sequence (MEE heavy-pollution warning guidance, standards.md §5;
    forecast.md §3.6).

    Parameters
    ----------
    forecast_aqi : array_like
        Mode ``calendar``: the AQI of consecutive days (or of consecutive ``step_hours`` steps); mode ``rolling``:
        the AQI of the 24-h window starting at each consecutive hour. NaN breaks a run.
    rule : {"2024", "2017", "2018"}
        Rule set of the table (``"2018"`` = ``"2017"``; ignored when ``clauses`` is given).
    mode : {"calendar", "rolling"}
        How a clause's hours are counted (module docstring).
    step_hours : float, optional
        Mode ``calendar`` only: hours per step (default 24, a daily AQI).
    cause : {"PM2.5", "O3", "dust", "other"}, optional
    exclude_dust : bool
        Issue no level for sand/dust episodes (plans exclude sand/dust weather).
    clauses : sequence of WarningClause, optional
        A custom rule table (its nesting is checked as the CSV's).

    >>> warning_level([120, 210, 180]).level
    'yellow'
    >>> warning_level([160, 170, 180]).level   # > 150 for 72 h
    'orange'
    >>> warning_level([220, 310, 250]).level, warning_level([220, 310, 250], "2017").level
    ('red', 'orange')
    >>> warning_level([210, 220, 230, 90, 310]).level   # the day > 300 is outside the 72 h > 200
    'orange'
    >>> warning_level([260, 280], cause="dust").level is None
    True
    >>> r = warning_level([100] * 6 + [210] * 25 + [100] * 6, mode="rolling")   # 2 windows from hour 6 only
    >>> r.level, r.phase
    ('orange', 6)
    """
    aqi = np.asarray(forecast_aqi, dtype=np.float64).ravel()
    if cause is not None and cause not in CAUSES:
        raise ValueError(f"cause must be one of {CAUSES}, not {cause!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "rolling":
        if step_hours is not None:
            raise ValueError("step_hours applies to mode 'calendar' only: rolling windows are 24 h, one per hour")
        # one sequence of non-overlapping windows per start hour; a group must hold on one of them
        phases = [aqi[s::24] for s in range(min(24, aqi.size))]
        step = 24.0
    else:
        step = 24.0 if step_hours is None else float(step_hours)
        if not step > 0:
            raise ValueError(f"step_hours must be > 0, not {step_hours!r}")
        phases = [aqi]
    if cause == "dust" and exclude_dust:
        return WarningResult(None, None, 0, None, cause, "sand/dust weather: heavy-pollution plans do not apply")
    if clauses is not None:
        rows = tuple(clauses)
        check_nesting(rows, "custom clauses")
    else:
        rows = warning_rules(rule)
    for rank in sorted({c.rank for c in rows}, reverse=True):
        level_rows = [c for c in rows if c.rank == rank]
        for group in sorted({c.group for c in level_rows}):
            group_rows = [c for c in level_rows if c.group == group]
            for k, seq in enumerate(phases):
                if group_holds(seq, group_rows, step):
                    best = group_rows[0]
                    reason = f"{_met_text(group_rows)} ({best.source})"
                    phase = k if mode == "rolling" else None
                    return WarningResult(best.level, best.level_zh, best.rank, best.colour, cause, reason, phase)
    return WarningResult(None, None, 0, None, cause, "no clause met")
