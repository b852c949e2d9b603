"""Warning verification per episode (forecast.md §3.9: "Warnings are verified per episode: POD, FAR and lead time for
'≥ yellow' and for each level").

Pure core:

- :func:`observed_episodes` — the episodes an area's *observed* daily AQI warranted: runs of consecutive days with
  AQI > 150 (:data:`bogda.forecast.warnings.EPISODE_AQI`; a missing day ends a run), each with the level the rule
  table (:func:`bogda.standards.warning_levels.warning_level`) gives the observed run. Runs that warrant no level
  (e.g. one day at 160 under the 2024 rule) are not episodes to warn for. Sand/dust days are none either
  (forecast.md §3.6, §3.8: emergency plans exclude sand and dust, which gets an advisory): they end a run and count
  toward no clause, as :func:`bogda.forecast.warnings.propose` leaves them out of a forecast sequence.
- :func:`verify` — warnings (issued, or proposed) against those episodes, per category ``≥ yellow`` and per level:
  an episode is *hit* when a warning of the category overlaps its days (same area); a warning is a *false alarm*
  when it overlaps no episode of the category; the *lead time* of a hit is the episode's first day at 00:00 Beijing
  minus the time the first of its days came under a warning [h] (negative: warned after the episode began; a
  simulated warning records when each day was added, so a warning kept in force for weeks does not claim weeks of
  lead). Day-level POD and FAR (episode days under a warning, warned days outside any episode) are reported beside.
- :func:`simulate` — the warnings a forecast would have produced, day by day: each issue day's proposal
  (:func:`bogda.forecast.warnings.propose` on D+1..D+3, today in front while an observed episode is on; sand/dust
  days left out of the sequence; mode ``calendar``, or ``rolling`` given each run's rolling 24-h AQI) through the
  upgrade-at-once / confirm-to-lower state machine (:func:`bogda.forecast.warnings.decide`) and the service's merge
  gap (episodes at most 36 h apart are one warning, forecast.md §3.6, §5), so that the backtest verifies what the
  service would have proposed.

Services: :func:`stored_warnings` and :func:`area_daily_aqi` read the installation's warnings and the areas' daily AQI
(``aqi_daily``) for ``bogda forecast warnings-check --protocol local``; :func:`beijing` runs the Dongsi protocol's daily
forecasts through :func:`simulate` for ``--protocol beijing``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bogda.forecast import warnings as wn
from bogda.standards.warning_levels import MODES, warning_level, warning_rules
from bogda.timeutil import as_utc, day_start_utc

CATEGORY_AT_LEAST_YELLOW = "≥ yellow"
MIN_RANK_YELLOW = wn.LEVEL_RANK["yellow"]


@dataclass(frozen=True)
class Episode:
    """An observed run of days that warranted a warning level."""

    area_code: str
    start: date
    end: date
    level: str
    peak_aqi: float


@dataclass(frozen=True)
class IssuedWarning:
    """A warning as verified: the highest level it reached, its days, when it was issued (or proposed) and when it
    reached that level."""

    area_code: str
    level: str
    start: date
    end: date
    issued_at: datetime
    raised_at: datetime | None = None
    """When it reached ``level`` (an upgraded warning: later than ``issued_at``); None: at issue."""
    ref: int | None = None
    cover: tuple[tuple[date, datetime], ...] = ()
    """When each of its days was first covered (a simulated warning extended run by run); empty: all at issue."""

    @property
    def level_at(self) -> datetime:
        return self.raised_at or self.issued_at

    def days(self) -> list[date]:
        return [self.start + timedelta(days=k) for k in range((self.end - self.start).days + 1)]

    def warned_at(self, days: Iterable[date], *, at_level: bool) -> datetime | None:
        """When the first of ``days`` came under this warning (at its level when ``at_level``); None: none did."""
        inside = [d for d in days if self.start <= d <= self.end]
        if not inside:
            return None
        cover = dict(self.cover)
        t = min(cover.get(d, self.issued_at) for d in inside)
        return max(t, self.level_at) if at_level else t


def observed_episodes(
    area_code: str, days: Sequence[date], aqi: Sequence[float], *, rule: str = "2024", dust: Collection[date] = ()
) -> list[Episode]:
    """Episodes an area's observed daily AQI warranted (module docstring); ``dust``: the area's sand/dust days,
    which end a run and count toward no clause.

    >>> d = [date(2026, 1, 1) + timedelta(days=k) for k in range(8)]
    >>> aqi = [90, 210, 220, 80, 160, 90, 160, 170]
    >>> [(e.start.day, e.end.day, e.level) for e in observed_episodes("X", d, aqi)]
    [(2, 3, 'orange'), (7, 8, 'yellow')]
    >>> [(e.start.day, e.end.day, e.level) for e in observed_episodes("X", d, aqi, dust={date(2026, 1, 3)})]
    [(2, 2, 'yellow'), (7, 8, 'yellow')]
    """
    if len(days) != len(aqi):
        raise ValueError(f"area {area_code}: {len(days)} days but {len(aqi)} AQI values")
    order = np.argsort(np.asarray(days, dtype="datetime64[D]"), kind="stable")
    ds = [days[i] for i in order]
    a = np.asarray(aqi, dtype=float)[order]
    out: list[Episode] = []
    run: list[int] = []

    def close() -> None:
        if run:
            seq = a[run]
            level = warning_level(seq, rule).level
            if level is not None:
                out.append(Episode(area_code, ds[run[0]], ds[run[-1]], level, float(np.max(seq))))
            run.clear()

    for i, (d, v) in enumerate(zip(ds, a, strict=True)):
        on = bool(np.isfinite(v) and v > wn.EPISODE_AQI) and d not in dust
        if on and run and (d - ds[run[-1]]).days != 1:
            close()
        if on:
            run.append(i)
        else:
            close()
    close()
    return out


def _overlaps(w: IssuedWarning, e: Episode) -> bool:
    return w.area_code == e.area_code and w.start <= e.end and e.start <= w.end


def _episode_days(e: Episode) -> list[date]:
    return [e.start + timedelta(days=k) for k in range((e.end - e.start).days + 1)]


def _score(episodes: list[Episode], warnings: list[IssuedWarning], *, at_level: bool) -> dict[str, Any]:
    leads: list[float] = []
    hits = 0
    for e in episodes:
        times = [t for w in warnings if _overlaps(w, e) and (t := w.warned_at(_episode_days(e), at_level=at_level))]
        if times:
            hits += 1
            leads.append((day_start_utc(e.start) - min(times)).total_seconds() / 3600.0)
    false_alarms = sum(1 for w in warnings if not any(_overlaps(w, e) for e in episodes))
    ep_days = {(e.area_code, d) for e in episodes for d in _episode_days(e)}
    warned = {(w.area_code, d) for w in warnings for d in w.days()}

    def div(x: int, y: int) -> float | None:
        return None if y == 0 else x / y

    lead = np.asarray(leads, dtype=float)
    return {
        "episodes": len(episodes),
        "hits": hits,
        "misses": len(episodes) - hits,
        "warnings": len(warnings),
        "false_alarms": false_alarms,
        "pod": div(hits, len(episodes)),
        "far": div(false_alarms, len(warnings)),
        "lead_h_median": float(np.median(lead)) if lead.size else None,
        "lead_h_mean": float(lead.mean()) if lead.size else None,
        "lead_h_min": float(lead.min()) if lead.size else None,
        "hits_lead_ge_24h": int((lead >= 24.0).sum()),
        "episode_days": len(ep_days),
        "warned_days": len(warned),
        "day_pod": div(len(ep_days & warned), len(ep_days)),
        "day_far": div(len(warned - ep_days), len(warned)),
    }


def verify(
    episodes: Iterable[Episode], warnings: Iterable[IssuedWarning], *, rule: str = "2024"
) -> list[dict[str, Any]]:
    """POD, FAR and lead time of ``warnings`` against ``episodes`` for ``≥ yellow`` and for each level of ``rule``
    (a level's warnings — by the highest level each reached — against the episodes of that level, lead time from
    when the warning reached it; ``≥ yellow`` pools every level from yellow up, lead time from the first issue).

    >>> from datetime import UTC
    >>> e = [Episode("X", date(2026, 1, 5), date(2026, 1, 6), "orange", 230.0)]
    >>> w = [IssuedWarning("X", "orange", date(2026, 1, 5), date(2026, 1, 7), datetime(2026, 1, 3, 16, tzinfo=UTC))]
    >>> r = verify(e, w)[0]
    >>> r["category"], r["pod"], r["far"], r["lead_h_median"]
    ('≥ yellow', 1.0, 0.0, 24.0)
    """
    eps, ws = list(episodes), list(warnings)
    rows = [
        {"category": CATEGORY_AT_LEAST_YELLOW}
        | _score(
            [e for e in eps if wn.LEVEL_RANK[e.level] >= MIN_RANK_YELLOW],
            [w for w in ws if wn.LEVEL_RANK[w.level] >= MIN_RANK_YELLOW],
            at_level=False,
        )
    ]
    levels = sorted({c.level for c in warning_rules(rule)}, key=lambda lv: wn.LEVEL_RANK[lv])
    for lv in levels:
        rows.append(
            {"category": lv}
            | _score([e for e in eps if e.level == lv], [w for w in ws if w.level == lv], at_level=True)
        )
    return rows


# --- simulated issuance from a forecast ---------------------------------------------------------------------------


def _run_rolling(r: wn.RollingAqi, day: date, *, issue_hour: int, ongoing: bool) -> wn.RollingAqi:
    """The rolling 24-h AQI one run's proposal sees, as ``service.refresh`` cuts it: the windows from today's 00:00
    (Beijing) while an episode is on (today in front of the window), else only those starting after the issue hour
    — today's observed hours count only during an ongoing episode, as today's day does in mode ``calendar``."""
    if ongoing:
        return r
    first = day_start_utc(day) + timedelta(hours=issue_hour + 1)
    skip = max(0, math.ceil((first - r.start).total_seconds() / 3600.0))
    return wn.RollingAqi(r.start + timedelta(hours=skip), r.aqi[skip:])


def simulate(
    area_code: str,
    issue_days: Sequence[date],
    forecast: Mapping[tuple[date, int], float],
    observed: Mapping[date, float],
    *,
    rule: str = "2024",
    issue_hour: int = 23,
    days_ahead: int = wn.WARNING_DAYS,
    merge_gap_hours: float = wn.MERGE_GAP_HOURS,
    confirm: int = wn.CONFIRM_RUNS,
    dust_days: Collection[date] = (),
    mode: str = "calendar",
    rolling: Mapping[date, wn.RollingAqi] | None = None,
) -> list[IssuedWarning]:
    """The warnings the daily forecasts would have proposed (module docstring), run by run as
    ``service.refresh`` and ``service.apply_proposal`` treat an area's warning (forecast.md §3.6, §5).

    Parameters
    ----------
    forecast : {(target day, lead k): forecast daily AQI}
        D+k forecasts issued on the evening of ``target day − k``; a missing one is NaN (breaks a run).
    observed : {day: observed daily AQI}
        Today's AQI, which puts today in front of the window while an episode is on.
    issue_hour : int
        Beijing hour after which the daily run is issued (the warning's issue time is the end of that hour).
    merge_gap_hours : float
        Episodes at most this far apart are one warning (:func:`bogda.forecast.warnings.merges`; the installation's
        ``[forecast.warning] merge_gap_hours``, 36 h by default).
    confirm : int
        Agreeing runs needed for a downgrade or a lift (``confirm_runs``, :func:`bogda.forecast.warnings.decide`).
    dust_days : collection of dates
        Days with a sand/dust advisory (forecast.md §3.8): left out of each run's sequence as the service does
        (``dust=`` of :func:`bogda.forecast.warnings.propose`: they count toward no clause and break a run; a level
        that holds only with them is not proposed), not a reason to cancel a warning.
    mode : ``calendar`` | ``rolling``
        How a clause's hours are counted (forecast.md §3.6). Daily forecasts have no hourly path: mode ``rolling``
        needs ``rolling``.
    rolling : {issue day: rolling 24-h AQI}
        Mode ``rolling`` only: the area's :class:`~bogda.forecast.warnings.RollingAqi` as the run of that evening
        computes it (:func:`bogda.forecast.warnings.rolling_24h_aqi` from the day's 00:00 Beijing: observed hours
        to the issue, then the hourly forecast); the windows of today's observed hours are dropped unless an episode
        is on, as the service does. Every issue day needs one.

    Each run's proposal goes through :func:`bogda.forecast.warnings.decide`, as the service treats a warning record:
    a level where none is in force opens a warning issued at that run; an upgrade raises the same warning (its
    level, and ``raised_at``, the run that raised it); an equal or lower level extends its last day; a lift (after
    ``confirm`` agreeing runs) ends its days on the evening of that run. A record's ``level`` is the highest it
    reached: a downgrade at the tail of an orange episode leaves it an orange warning.

    Merge gap, as ``service.apply_proposal``: a proposal whose episode starts at most ``merge_gap_hours`` after the
    end of the warning in force joins it (the days between are covered from that run); one starting later is a
    separate episode — the warning in force keeps its days and the proposal opens a warning of its own, decided as
    if none were in force. A lifted warning is no longer in force: a later proposal opens a new warning however
    close (the service's lift leaves the record rejected or, lifted by a person, lifted; neither is merged into).
    People are taken to follow every proposal at once (issue, change, lift), so the warnings here are the service's
    records as issued, not its proposals awaiting a decision.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "rolling":
        if rolling is None:
            raise ValueError(
                "mode 'rolling' needs the rolling 24-h AQI of each issue day (rolling=): daily forecasts have no "
                "hourly path to make it from"
            )
        missing = sorted(set(issue_days) - set(rolling))
        if missing:
            raise ValueError(f"mode 'rolling': no rolling 24-h AQI for {len(missing)} issue day(s), first {missing[0]}")
    elif rolling is not None:
        raise ValueError("rolling 24-h AQI given in mode 'calendar': pass mode='rolling' to count clauses on it")
    if merge_gap_hours < 0:
        raise ValueError(f"merge_gap_hours must be ≥ 0, not {merge_gap_hours}")
    if confirm < 1:
        raise ValueError(f"confirm must be ≥ 1, not {confirm}")
    dust = frozenset(dust_days)
    out: list[IssuedWarning] = []
    current: IssuedWarning | None = None
    in_force: str | None = None
    pending = 0
    for day in sorted(issue_days):
        window = wn.forecast_window(day, observed.get(day), days_ahead=days_ahead)
        seq = [observed.get(day, np.nan) if d == day else forecast.get((d, (d - day).days), np.nan) for d in window]
        run_rolling = None
        if rolling is not None:
            run_rolling = _run_rolling(rolling[day], day, issue_hour=issue_hour, ongoing=window[0] == day)
        prop = wn.propose(
            area_code,
            window,
            seq,
            rule=rule,
            mode=mode,
            rolling=run_rolling,
            # the service passes the dust advisories of the window's days (service.refresh)
            dust={d for d in window if d in dust},
        )
        at = day_start_utc(day) + timedelta(hours=issue_hour + 1)
        if (
            current is not None
            and prop.level is not None
            and prop.start_date is not None
            and not wn.merges(current.end, prop.start_date, merge_gap_hours)
        ):
            # a separate episode (service.apply_proposal): the warning in force keeps its days, the new episode is
            # decided against no warning, with no pending downgrade
            out.append(current)
            current, in_force, pending = None, None, 0
        dec = wn.decide(in_force, pending, prop.level, confirm=confirm)
        pending = dec.pending_lower
        if dec.action == "lift" and current is not None:
            end = max(current.start, min(current.end, day))
            out.append(replace(current, end=end, cover=tuple((d, t) for d, t in current.cover if d <= end)))
            current, in_force = None, None
            continue
        if prop.level is None or prop.start_date is None or prop.end_date is None:
            continue
        if dec.action == "propose":
            current = IssuedWarning(area_code, prop.level, prop.start_date, prop.end_date, at, raised_at=at)
            current = replace(current, cover=tuple((d, at) for d in current.days()))
            in_force = prop.level
        elif current is not None:
            # a warning is in force and the run still sees pollution (at its level, above or below) in this episode
            # or one merged into it: its days stretch to the proposal's, each new day covered from this run
            grown = replace(current, start=min(current.start, prop.start_date), end=max(current.end, prop.end_date))
            cover = dict(current.cover)
            grown = replace(grown, cover=tuple((d, cover.get(d, at)) for d in grown.days()))
            if dec.action == "upgrade" and wn.LEVEL_RANK[prop.level] > wn.LEVEL_RANK[grown.level]:
                grown = replace(grown, level=prop.level, raised_at=at)
            current = grown
            if dec.action in ("upgrade", "downgrade"):
                in_force = dec.level
    if current is not None:
        out.append(current)
    return out


# --- services -----------------------------------------------------------------------------------------------------


def stored_warnings(store: Any, start: date, end: date, *, source: str = "issued") -> list[IssuedWarning]:
    """Warnings of the installation whose days touch [start, end].

    ``source="issued"``: the warnings people issued (states issued, changed, lifted), from their first ``issued``
    transition, at the highest level they were issued or changed to; ``"proposed"``: every proposal the service
    made (rejected ones too), from its creation at its recorded level — the forecast system's own record.
    """
    from sqlalchemy import select

    from bogda.store.schema import warning, warning_event

    if source not in ("issued", "proposed"):
        raise ValueError(f"source must be issued or proposed, not {source!r}")
    w, ev = warning, warning_event
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(w.c.id, w.c.area_code, w.c.level, w.c.start_date, w.c.end_date, w.c.created_at, w.c.state)
            .where(w.c.start_date <= end, w.c.end_date >= start)
            .order_by(w.c.id)
        ).all()
        events: dict[int, list[tuple[datetime, str | None]]] = {}
        ids = [r[0] for r in rows]
        if ids:
            for wid, at, level in conn.execute(
                select(ev.c.warning_id, ev.c.at, ev.c.level)
                .where(ev.c.warning_id.in_(ids), ev.c.to_state.in_(["issued", "changed"]))
                .order_by(ev.c.at, ev.c.id)
            ):
                events.setdefault(wid, []).append((_utc(at), level))
    out = []
    for wid, area, level, s, e, created, state in rows:
        if source == "proposed":
            out.append(IssuedWarning(area, level, s, e, _utc(created), ref=wid))
            continue
        if state not in ("issued", "changed", "lifted"):
            continue
        steps = [(at, lv or level) for at, lv in events.get(wid, [])] or [(_utc(created), level)]
        peak = max((lv for _, lv in steps), key=lambda lv: wn.LEVEL_RANK.get(lv, 0))
        raised = next(at for at, lv in steps if lv == peak)
        out.append(IssuedWarning(area, peak, s, e, steps[0][0], raised_at=raised, ref=wid))
    return out


def area_daily_rows(
    store: Any, areas: Sequence[str], start: date, end: date, *, standard: str | None = "2012"
) -> dict[tuple[str, date], tuple[float, str | None]]:
    """Observed daily AQI and primary pollutant(s) of each area over [start, end] from ``aqi_daily`` (``ts`` = 00:00
    Beijing of the day), keyed by (area code, Beijing date): under ``standard``, or with ``None`` under the standard
    in force on each day (:func:`bogda.standards.versions.standard_for`), as a published forecast is judged."""
    from sqlalchemy import select

    from bogda.standards.versions import standard_for
    from bogda.store.schema import aqi_daily
    from bogda.timeutil import beijing_date, from_epoch

    t = aqi_daily
    lo, hi = int(day_start_utc(start).timestamp()), int(day_start_utc(end + timedelta(days=1)).timestamp())
    where = [t.c.target_code.in_(list(areas)), t.c.target_kind != "station", t.c.ts >= lo, t.c.ts < hi]
    if standard is not None:
        where.append(t.c.standard == standard)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.target_code, t.c.ts, t.c.standard, t.c.aqi, t.c.primary_pollutant).where(
                *where, t.c.aqi.is_not(None)
            )
        ).all()
    out: dict[tuple[str, date], tuple[float, str | None]] = {}
    for code, ts, std, aqi, primary in rows:
        day = beijing_date(from_epoch(ts))
        if standard is not None or std == standard_for(day):
            out[(code, day)] = (float(aqi), primary)
    return out


def area_daily_aqi(
    store: Any, areas: Sequence[str], start: date, end: date, *, standard: str = "2012"
) -> dict[str, dict[date, float]]:
    """Observed daily AQI of each area over [start, end] under ``standard`` (:func:`area_daily_rows`), per area."""
    out: dict[str, dict[date, float]] = {a: {} for a in areas}
    for (code, day), (aqi, _) in sorted(area_daily_rows(store, areas, start, end, standard=standard).items()):
        out[code][day] = aqi
    return out


DUST_STATUSES: dict[str, tuple[str, ...]] = {"official": ("official",), "all": ("official", "candidate"), "none": ()}
"""Which stored sand/dust days (``dust_day``, :mod:`bogda.monitoring.dust`) leave the observed episodes of the local
check (``--dust``). Default ``official``, the national decision: the candidate rule marks a day from a single hour
of coarse dust, which a smog day's clearing front can give (Dongsi 2017-01-04: daily PM2.5 376 µg/m³, two candidate
hours), so candidates are left out only on request."""


def stored_dust_days(
    store: Any, areas: Sequence[str], start: date, end: date, *, dust: str = "official", prefecture: str | None = None
) -> dict[str, set[date]]:
    """The sand/dust days of each area over [start, end] of the statuses ``DUST_STATUSES[dust]``; a day recorded
    for the ``prefecture`` holds for every area (the official decision names the city)."""
    if dust not in DUST_STATUSES:
        raise ValueError(f"dust must be one of {', '.join(DUST_STATUSES)}, not {dust!r}")
    out: dict[str, set[date]] = {a: set() for a in areas}
    statuses = DUST_STATUSES[dust]
    if not statuses:
        return out
    from bogda.monitoring.dust import list_dust_days

    rows = list_dust_days(store, start=start, end=end + timedelta(days=1))
    for code, day, status in rows.select("place_code", "day", "status").iter_rows():
        if status not in statuses:
            continue
        held_by = list(areas) if code == prefecture else [code] if code in out else []  # other places: not ours
        for area in held_by:
            out[area].add(day)
    return out


def verify_local(
    store: Any,
    start: date,
    end: date,
    *,
    rule: str = "2024",
    source: str = "issued",
    standard: str = "2012",
    dust: str = "official",
    notes: list[str] | None = None,
) -> tuple[list[dict[str, Any]], list[Episode], list[IssuedWarning]]:
    """Verify the installation's warnings over [start, end] against its areas' observed episodes, the areas' stored
    sand/dust days (``dust``, :data:`DUST_STATUSES`) left out of them; ``notes`` (if given) receives what was left
    out."""
    from bogda.forecast.service import registry

    reg = registry(store)
    areas = list(reg.place_of)
    prefecture = next((x.code for x in reg.targets if x.kind == "prefecture"), None)
    obs = area_daily_aqi(store, areas, start, end, standard=standard)
    dusty = stored_dust_days(store, areas, start, end, dust=dust, prefecture=prefecture)
    eps = [
        e
        for a, series in obs.items()
        for e in observed_episodes(a, list(series), list(series.values()), rule=rule, dust=dusty.get(a, ()))
    ]
    if notes is not None:
        warm = {a: sorted(d for d in dusty[a] if obs[a].get(d, 0.0) > wn.EPISODE_AQI) for a in obs}
        n_days = sum(len(dusty[a]) for a in obs)
        if n_days:
            above = "; ".join(f"{a} {', '.join(map(str, ds))}" for a, ds in warm.items() if ds) or "none"
            notes.append(
                f"sand/dust days ({dust}) left out of the observed episodes: {n_days} area-days; above AQI "
                f"{wn.EPISODE_AQI:.0f}: {above}"
            )
    ws = [w for w in stored_warnings(store, start, end, source=source) if w.area_code in obs]
    return verify(eps, ws, rule=rule), eps, ws


def beijing(
    data_dir: Path,
    *,
    station: str = "Dongsi",
    modes: Sequence[str] = ("none",),
    rule: str = "2024",
    config: Any = None,
    merge_gap_hours: float = wn.MERGE_GAP_HOURS,
    confirm: int = wn.CONFIRM_RUNS,
    dust: bool = True,
    notes: list[str] | None = None,
) -> dict[str, tuple[list[dict[str, Any]], list[Episode], list[IssuedWarning]]]:
    """Warnings simulated from the Dongsi protocol's daily forecasts (D+1..D+3, each weather mode of ``modes``) and
    verified against the test year's observed episodes, per mode.

    The PRSA files give PM2.5 forecasts, not AQI: the AQI here is PM2.5's IAQI (HJ 633-2012, 24 h row), the primary
    item on Beijing's heavy days, so an episode is a run of days with PM2.5 > 115 µg/m³ (IAQI > 150) and the levels
    follow from the rule table on that IAQI.

    :func:`simulate` runs in mode ``calendar`` with no sand/dust days: the protocol forecasts daily means only (no
    hourly path to make a rolling 24-h AQI from), and there is no NWP archive for the test year to raise dust
    advisories from. ``merge_gap_hours`` and ``confirm`` are the service's settings (forecast.md §5: 36 h, 2 runs).
    With ``dust`` the observed episodes leave out the station's sand/dust days (:func:`prsa_dust_days`; the files
    carry no official list); ``notes`` (if given) receives them.
    """
    from dataclasses import replace

    from bogda.forecast.backtest import ProtocolConfig, beijing_protocol
    from bogda.standards.aqi import iaqi

    cfg = replace(config or ProtocolConfig(), hourly_leads=(), daily_horizons=(1, 2, 3))
    results = beijing_protocol(data_dir, (station,), modes, config=cfg)
    out = {}
    dusty: set[date] | None = None
    for mode, res in results.items():
        assert res.first_day is not None
        method = f"lgbm_{mode}"
        forecast: dict[tuple[date, int], float] = {}
        observed: dict[date, float] = {}
        for k in (1, 2, 3):
            p = res.pairs[("daily", f"D+{k}")]
            days = [res.first_day + timedelta(days=int(t)) for t in p.target]
            f_aqi = iaqi(np.maximum(p.methods[method], 0.0), "PM2.5", "24h", "2012")
            o_aqi = iaqi(p.obs, "PM2.5", "24h", "2012")
            for d, f, o in zip(days, f_aqi, o_aqi, strict=True):
                forecast[(d, k)] = float(f)
                observed[d] = float(o)
        code = res.stations[int(res.pairs[("daily", "D+1")].station[0])]
        targets = sorted(observed)
        first, last = targets[0] - timedelta(days=1), targets[-1] - timedelta(days=1)
        issue_days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
        if dusty is None:
            dusty = prsa_dust_days(data_dir, station, targets[0], targets[-1]) if dust else set()
            if notes is not None:
                above = [str(d) for d in sorted(dusty) if observed.get(d, 0.0) > wn.EPISODE_AQI]
                notes.append(
                    f"sand/dust days left out of the observed episodes: {', '.join(map(str, sorted(dusty))) or 'none'}"
                    f"; above AQI {wn.EPISODE_AQI:.0f}: {', '.join(above) or 'none'}"
                )
        eps = observed_episodes(code, targets, [observed[d] for d in targets], rule=rule, dust=dusty)
        ws = simulate(code, issue_days, forecast, observed, rule=rule, merge_gap_hours=merge_gap_hours, confirm=confirm)
        out[mode] = (verify(eps, ws, rule=rule), eps, ws)
    return out


PRSA_MIN_HOURS = 20
"""Hours a PRSA day needs for its daily means in :func:`prsa_dust_days` (HJ 663-2013: 20 hourly values a day)."""


def prsa_dust_days(data_dir: Path, station: str, start: date, end: date) -> set[date]:
    """Sand/dust days of a PRSA station over [start, end] (Beijing dates) by the dust-affected day rule of the days
    avoided (forecast.md §3.9 step 1, :func:`bogda.forecast.avoided.aqi.dust_days`: daily PM10 > 150 µg/m³ with
    PM2.5/PM10 < 0.35), on days with at least :data:`PRSA_MIN_HOURS` hours of both."""
    import polars as pl

    from bogda.forecast.avoided.aqi import dust_days
    from bogda.forecast.observations import read_prsa_frame
    from bogda.timeutil import BEIJING_NAME

    files = sorted((data_dir / "beijing").glob(f"PRSA_Data_{station}_*.csv.gz"))
    if not files:
        raise FileNotFoundError(f"no PRSA file of {station} in {data_dir / 'beijing'}")
    hourly = read_prsa_frame(files[0])
    both = pl.col("a34004").is_not_null() & pl.col("a34002").is_not_null()
    daily = (
        hourly.filter(both)
        .with_columns(
            pl.col("ts").dt.replace_time_zone("UTC").dt.convert_time_zone(BEIJING_NAME).dt.date().alias("day")
        )
        .filter(pl.col("day").is_between(start, end))
        .group_by("day")
        .agg(pl.len().alias("n"), pl.col("a34004").mean(), pl.col("a34002").mean())
        .filter(pl.col("n") >= PRSA_MIN_HOURS)
        .sort("day")
    )
    flags = dust_days(daily["a34004"].to_numpy(), daily["a34002"].to_numpy())
    return {d for d, f in zip(daily["day"], flags, strict=True) if f}


def _utc(ts: datetime) -> datetime:
    return as_utc(ts, naive="utc")  # the store keeps UTC; SQLite hands it back naive


__all__ = [
    "CATEGORY_AT_LEAST_YELLOW",
    "Episode",
    "IssuedWarning",
    "area_daily_aqi",
    "area_daily_rows",
    "beijing",
    "observed_episodes",
    "simulate",
    "stored_warnings",
    "verify",
    "verify_local",
]
