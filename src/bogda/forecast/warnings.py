"""Heavy-pollution warning proposals from the daily forecast sequence (forecast.md §3.6; "三天预警").

Pure core: a proposal is the highest level of the rule table of :mod:`bogda.standards.warning_levels` (rule set
``"2024"`` by default, ``"2017"`` — alias ``"2018"`` — as an option) whose clauses hold on the ``mean`` daily AQI of
the coming days; in probability mode, the highest level whose clauses hold on the days with P(AQI > T) ≥ 0.5 (d).
During an ongoing episode today counts (observed hours + hourly forecast). Two ways of counting a clause's hours
(forecast.md §3.6): mode ``calendar`` (default), one step = one Beijing day; mode ``rolling``, 24-h windows from any
one start hour, on the rolling 24-h AQI of :func:`rolling_24h_aqi` (observed hours + hourly forecast).

Upgrades are proposed at once; a downgrade or a lift needs :data:`CONFIRM_RUNS` agreeing runs (d). The cause is
the episode's most frequent primary pollutant. Sand/dust days get an advisory, never a warning (emergency plans
exclude sand and dust): they are taken out of the sequence the rules see (they count toward no clause and break a
run), and a level that would hold only with them is not proposed. Episodes at most :data:`MERGE_GAP_HOURS` apart are
one warning (:func:`merges`). Issuing is a human decision: the service records proposals, people issue them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from bogda.standards.warning_levels import MODES, warning_level
from bogda.timeutil import BEIJING, beijing_date, day_start_utc

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

MERGE_GAP_HOURS = 36.0
"""Episodes at most this far apart are one warning (forecast.md §3.6, §5, d)."""

EPISODE_AQI = 150.0
"""Days above this AQI form an episode (the lowest threshold of the rule tables)."""

PROBABILITY_THRESHOLD = 0.5
"""Probability mode: a level is proposed when P ≥ this (forecast.md §3.6, d)."""

WARNING_DAYS = 3
"""Days ahead used for a proposal ("三天预警": D+1..D+3; today is added during an episode)."""

SEVERITY: dict[str, str] = {"blue": "medium", "yellow": "medium", "orange": "high", "red": "critical"}
"""Finding severity of a warning proposal by level (d)."""

DustDays = bool | Collection[date] | Sequence[bool]
"""Sand/dust days of a proposal: a set of Beijing dates, a mask over its days, or True for all of them."""


@dataclass(frozen=True)
class Proposal:
    """A proposed warning for one area (``level`` None: no warning).

    ``mode``: how the clauses' hours were counted (``calendar`` | ``rolling``); ``basis``: ``mean`` (the point
    forecast) or ``probability`` (P ≥ 0.5); ``dust_days``: days of the window taken out as sand/dust days.
    """

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
    mode: str = "calendar"
    basis: str = "mean"
    dust_days: tuple[date, ...] = ()


@dataclass(frozen=True)
class RollingAqi:
    """Rolling 24-h AQI of one area (mode ``rolling``): ``aqi[i]`` is the AQI of the 24 h from ``start + i`` hours
    (``start`` an aware UTC instant, the interval start of the first hour)."""

    start: datetime
    aqi: tuple[float, ...]

    def window_days(self) -> tuple[list[date], list[date]]:
        """The Beijing days of each window's first and last hour."""
        first = [beijing_date(self.start + timedelta(hours=i)) for i in range(len(self.aqi))]
        last = [beijing_date(self.start + timedelta(hours=i + 23)) for i in range(len(self.aqi))]
        return first, last


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


def dust_mask(days: Sequence[date], dust: DustDays) -> np.ndarray:
    """Which of ``days`` are sand/dust days: ``dust`` is a set of dates, a boolean mask over ``days`` or one bool.

    >>> d = [date(2026, 3, k) for k in (1, 2, 3)]
    >>> dust_mask(d, {date(2026, 3, 2)}).tolist(), dust_mask(d, [True, False, False]).tolist()
    ([False, True, False], [True, False, False])
    """
    n = len(days)
    if isinstance(dust, bool | np.bool_):
        return np.full(n, bool(dust))
    items = list(dust)
    if items and all(isinstance(x, bool | np.bool_) for x in items):
        if len(items) != n:
            raise ValueError(f"the dust mask has {len(items)} values for {n} days")
        return np.asarray(items, dtype=bool)
    bad = [x for x in items if not isinstance(x, date)]
    if bad:
        raise ValueError(f"dust days must be dates or one bool per day, not {bad[0]!r}")
    wanted = set(items)
    return np.array([d in wanted for d in days], dtype=bool)


def _window_mean(x: np.ndarray, width: int, min_valid: int) -> np.ndarray:
    """Mean of each ``width``-hour window along the last axis (window i = hours i..i+width−1), ``min_valid`` valid."""
    ok = np.isfinite(x)
    z = np.zeros((x.shape[0], 1))
    cs = np.concatenate([z, np.cumsum(np.where(ok, x, 0.0), axis=1)], axis=1)
    cn = np.concatenate([z, np.cumsum(ok, axis=1)], axis=1)
    tot = cs[:, width:] - cs[:, :-width]
    cnt = cn[:, width:] - cn[:, :-width]
    return np.where(cnt >= min_valid, tot / np.maximum(cnt, 1), np.nan)


def _window_max(x: np.ndarray, width: int, min_valid: int) -> np.ndarray:
    from numpy.lib.stride_tricks import sliding_window_view

    w = sliding_window_view(x, width, axis=1)
    ok = np.isfinite(w)
    mx = np.where(ok, w, -np.inf).max(axis=2)
    return np.where(ok.sum(axis=2) >= min_valid, mx, np.nan)


def rolling_24h_aqi(
    hourly: Mapping[str, npt.ArrayLike],
    start: datetime,
    *,
    min_hours: int = 20,
    min_o3_windows: int = 14,
    min_o3_1h_hours: int = 18,
) -> np.ndarray:
    """AQI of the 24-h window starting at each hour of an hourly series (mode ``rolling``, forecast.md §3.6).

    Each window is graded as a day is (HJ 633, :func:`bogda.standards.aqi.aqi_daily`): the 24-h mean of PM2.5,
    PM10, SO2, NO2 and CO (≥ ``min_hours`` valid hours, forecast.md §3.2), the window's maximum 8-h O3 mean (8-h
    means of ≥ 6 valid hours lying inside the window, ≥ ``min_o3_windows`` of its 17) and, for HJ 633-2012 windows,
    its maximum 1-h O3. The AQI comes from these mean concentrations, never from averaging hourly AQIs (forecast.md
    §2); the standard version is chosen by each window's start.

    Parameters
    ----------
    hourly : mapping of label → array_like
        1-h concentrations per hour (µg/m³; CO mg/m³), labels ``PM2.5``, ``PM10``, ``SO2``, ``NO2``, ``CO``, ``O3``;
        each (hours,) or (targets, hours), all of one shape; NaN = missing. A label left out is not graded.
    start : datetime
        Aware UTC interval start of the first hour.

    Returns
    -------
    numpy.ndarray
        (hours − 23,) or (targets, hours − 23): window i covers hours i..i+23; NaN when no item could be graded.

    >>> from datetime import UTC
    >>> pm = [100.0] * 24 + [200.0] * 24
    >>> a = rolling_24h_aqi({"PM2.5": pm}, datetime(2026, 1, 1, 16, tzinfo=UTC))
    >>> a.shape, a[0], a[24], a[12]   # IAQI of 100, 200 and 150 µg/m³ PM2.5 (HJ 633-2012)
    ((25,), np.float64(132.0), np.float64(250.0), np.float64(200.0))
    """
    from bogda.standards.aqi import aqi_daily

    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in hourly.items()}
    if not arrays:
        raise ValueError("rolling_24h_aqi: no pollutant given")
    shapes = {k: a.shape for k, a in arrays.items()}
    if len(set(shapes.values())) != 1 or next(iter(shapes.values())) == () or arrays[next(iter(arrays))].ndim > 2:
        raise ValueError(f"rolling_24h_aqi: every series must have one shape, (hours,) or (targets, hours): {shapes}")
    one_d = next(iter(arrays.values())).ndim == 1
    arrays = {k: np.atleast_2d(a) for k, a in arrays.items()}
    n, hours = next(iter(arrays.values())).shape
    m = hours - 23
    if m <= 0:
        return np.empty(0) if one_d else np.empty((n, 0))
    data: dict[str, np.ndarray] = {}
    for label in ("PM2.5", "PM10", "SO2", "NO2", "CO"):
        if label in arrays:
            data[label] = _window_mean(arrays[label], 24, min_hours).ravel()
    if "O3" in arrays:
        o3 = arrays["O3"]
        data["O3_8h"] = _window_max(_window_mean(o3, 8, 6), 17, min_o3_windows).ravel()
        data["O3_1h"] = _window_max(o3, 24, min_o3_1h_hours).ravel()
    t0 = np.datetime64(start.replace(tzinfo=None) - (start.utcoffset() or timedelta(0)), "m")
    ts = np.tile(t0 + np.arange(m) * np.timedelta64(60, "m"), n)
    out = aqi_daily(data, ts=ts).aqi.reshape(n, m)  # type: ignore[union-attr]
    return out[0] if one_d else out


def _pseudo(prob_over: Mapping[float, Sequence[float]], n: int) -> np.ndarray:
    """Probability mode: a day holds "AQI > T" when P(AQI > T) ≥ 0.5 (d), as a pseudo sequence just above the
    highest such T of each day."""
    pseudo = np.zeros(n)
    for thr in sorted(prob_over):
        p = np.asarray(prob_over[thr], dtype=float)
        if p.size != n:
            raise ValueError(f"P(AQI > {thr:g}) has {p.size} values for {n} days")
        pseudo = np.where(p >= PROBABILITY_THRESHOLD, np.nextafter(thr, np.inf), pseudo)
    return pseudo


def propose(
    area_code: str,
    days: Sequence[date],
    aqi_mean: Sequence[float],
    primaries: Sequence[str | None] = (),
    *,
    rule: str = "2024",
    mode: str = "calendar",
    rolling: RollingAqi | None = None,
    prob_over: Mapping[float, Sequence[float]] | None = None,
    dust: DustDays = (),
) -> Proposal:
    """Proposed level from daily AQI forecasts of ``days`` (consecutive Beijing days).

    Parameters
    ----------
    days, aqi_mean : the forecast days and their ``mean`` daily AQI
    primaries : primary pollutant per day (for the cause)
    rule : rule set of :func:`bogda.standards.warning_levels.warning_rules`
    mode : ``calendar`` (the daily AQIs) or ``rolling`` (the 24-h windows of ``rolling``; the days then give the
        cause and the evidence)
    rolling : the area's rolling 24-h AQI (mode ``rolling`` only)
    prob_over : probability mode: {threshold: P(AQI > threshold) per day}; a clause holds on a day when
        P ≥ 0.5 (d). Calendar mode only: the scenarios behind the probabilities are daily.
    dust : sand/dust days (:data:`DustDays`). They are taken out of the sequence (NaN: no clause counts them, a run
        breaks at them; in mode ``rolling`` every window touching one); a level that holds only with them is not
        proposed (cause ``dust``: an advisory, not a warning). They are listed in ``Proposal.dust_days``.

    >>> d = [date(2026, 1, i) for i in (1, 2, 3)]
    >>> propose("652301", d, [120, 210, 180]).level
    'yellow'
    >>> propose("652301", d, [160, 170, 180]).level
    'orange'
    >>> propose("652301", d, [220, 310, 250]).level, propose("652301", d, [220, 310, 250], rule="2017").level
    ('red', 'orange')
    >>> propose("652301", d, [90, 140, 120]).level is None
    True
    >>> p = propose("652301", d, [210, 220, 260], dust={date(2026, 1, 3)})   # a windy last day
    >>> p.level, p.end_date.day, [x.day for x in p.dust_days]
    ('orange', 2, [3])
    """
    aqi = np.asarray(aqi_mean, dtype=float)
    if len(days) != aqi.size:
        raise ValueError(f"area {area_code}: {len(days)} days but {aqi.size} AQI values")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "rolling" and rolling is None:
        raise ValueError(f"area {area_code}: mode 'rolling' needs the rolling 24-h AQI (rolling=)")
    if mode == "rolling" and prob_over is not None:
        raise ValueError("probability mode needs mode 'calendar': the scenario probabilities are daily")
    excluded = dust_mask(days, dust)
    dust_days = tuple(d for d, x in zip(days, excluded, strict=True) if x)
    cause = cause_of(
        [p for p, a, x in zip(primaries, aqi, excluded, strict=False) if not x and np.isfinite(a) and a > EPISODE_AQI]
    )
    basis = "mean" if prob_over is None else "probability"
    first: list[date] = list(days)
    last: list[date] = list(days)
    if mode == "rolling":
        assert rolling is not None
        seq_all = np.asarray(rolling.aqi, dtype=float)
        first, last = rolling.window_days()
        out = np.array([a in dust_days or b in dust_days for a, b in zip(first, last, strict=True)], dtype=bool)
    elif prob_over is not None:
        seq_all, out = _pseudo(prob_over, aqi.size), excluded
    else:
        seq_all, out = aqi, excluded
    seq = np.where(out, np.nan, seq_all)
    res = warning_level(seq, rule, mode=mode, cause=cause)
    days_t, aqi_t = tuple(days), tuple(aqi.tolist())
    base = Proposal(area_code, None, 0, res.cause, None, None, None, res.reason, days_t, aqi_t, mode, basis, dust_days)
    dust_txt = ", ".join(f"{d:%m-%d}" for d in dust_days)
    if res.level is None:
        if dust_days:
            with_dust = warning_level(seq_all, rule, mode=mode)
            if with_dust.level is not None:
                why = (
                    f"{with_dust.level} would hold only with the sand/dust days {dust_txt}: heavy-pollution plans do "
                    "not apply to sand/dust weather (advisory, no warning)"
                )
                return replace(base, cause="dust", reason=why)
        return base
    on = np.flatnonzero(np.isfinite(seq) & (seq > EPISODE_AQI))
    if on.size:
        start, end = first[int(on[0])], max(last[int(k)] for k in on)
    else:
        start, end = days[0], days[-1]
    probability = None
    if prob_over is not None and EPISODE_AQI in prob_over and on.size:
        probability = float(np.min(np.asarray(prob_over[EPISODE_AQI], dtype=float)[on]))
    reason = res.reason
    if mode == "rolling" and res.phase is not None:
        assert rolling is not None
        hour = (rolling.start + timedelta(hours=res.phase)).astimezone(BEIJING).hour
        reason += f"; 24-h windows from {hour:02d}:00"
    if dust_days:
        reason += f"; sand/dust days left out: {dust_txt}"
    return replace(
        base,
        level=res.level,
        rank=LEVEL_RANK.get(res.level, res.rank),
        start_date=start,
        end_date=end,
        probability=probability,
        reason=reason,
    )


def scenario_probability(
    sequences: np.ndarray,
    rank: int,
    rule: str = "2024",
    *,
    cause: str | None = None,
    excluded: Sequence[bool] | None = None,
) -> float | None:
    """Share of joint scenarios (forecast.md §3.5) whose daily AQI sequence reaches warning rank ≥ ``rank``.

    ``sequences``: (scenarios, days) daily AQI of the proposal's window, one row per scenario (cross-day
    correlation kept); ``excluded``: days left out as in :func:`propose` (sand/dust days). None without scenarios.

    >>> seqs = np.array([[210, 220, 100], [120, 130, 100], [210, 90, 80], [220, 310, 250]])
    >>> scenario_probability(seqs, LEVEL_RANK["yellow"]), scenario_probability(seqs, LEVEL_RANK["red"])
    (0.75, 0.25)
    """
    seqs = np.asarray(sequences, dtype=float)
    if seqs.ndim != 2 or seqs.shape[0] == 0:
        return None
    if excluded is not None and np.any(excluded):
        seqs = np.where(np.asarray(excluded, dtype=bool)[None, :], np.nan, seqs)
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


def episode_gap_hours(end: date | datetime, start: date | datetime) -> float:
    """Hours from the end of one episode to the start of the next (≤ 0 when they touch or overlap).

    A date ``end`` ends at the following Beijing midnight, a date ``start`` begins at its own; datetimes are aware
    instants (``end`` exclusive).

    >>> episode_gap_hours(date(2026, 1, 11), date(2026, 1, 13)), episode_gap_hours(date(2026, 1, 11), date(2026, 1, 12))
    (24.0, 0.0)
    """
    t_end = end if isinstance(end, datetime) else day_start_utc(end + timedelta(days=1))
    t_start = start if isinstance(start, datetime) else day_start_utc(start)
    return (t_start - t_end).total_seconds() / 3600.0


def merges(end: date | datetime, start: date | datetime, gap_hours: float = MERGE_GAP_HOURS) -> bool:
    """Whether an episode starting at ``start`` is the same warning as one ending at ``end``: at most ``gap_hours``
    apart (forecast.md §3.6, "episodes ≤ 36 h apart merge" (d)). With calendar days and the default 36 h, one clean
    day between two episodes merges them, two do not.

    >>> merges(date(2026, 1, 11), date(2026, 1, 13)), merges(date(2026, 1, 11), date(2026, 1, 14))
    (True, False)
    >>> merges(date(2026, 1, 11), date(2026, 1, 10))   # overlapping
    True
    """
    return episode_gap_hours(end, start) <= gap_hours
