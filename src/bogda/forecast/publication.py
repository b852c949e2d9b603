"""Published daily forecasts (预报发布): the duty forecaster's AQI ranges per area and day.

HJ 633-2026 (standards.md §1.5) has the prefecture publish a forecast of at least the next 3 days (not counting
today) before 20:00 every day. A model run is not a publication: the duty forecaster drafts the publication from the
latest run, corrects what they judge wrong (人工订正) and publishes it. City forecasts in China are published as an
AQI range with the level(s) it spans and the primary pollutant ("AQI 60–80，良，首要污染物 PM2.5").

- :func:`draft`: the latest operational run's daily AQI of each area, as the range it would be published as
  (:func:`bogda.forecast.verify.published_range`: centred on the forecast, 20/30/50/100 wide by its level (d)) and
  the run's primary pollutant;
- :func:`check_entries`: what a publication must satisfy, every problem named by area, day and field;
- :func:`publish`: stores the publication (``forecast_publication``, ``forecast_publication_day``) with who, when,
  the run it was drafted from, the model's value beside each day and whether the forecaster corrected it; a second
  publication of the same day supersedes the first, which is kept;
- :func:`current` / :func:`status`: what is published for a day and whether today's is due or overdue (20:00);
- :func:`duty_job` (the scheduler's ``forecast.publication_duty``, every 10 min): once 20:00 has passed without a
  publication, one ``incident`` finding for the day goes on the problem list (:func:`overdue_finding`), so that the
  duty desk chases it like any other lapse; publishing the day resolves it (:func:`publish`, same transaction);
- :func:`scores`: the published ranges against the observed daily AQI (range and level-range accuracy, primary
  pollutant), beside the model's drafted ranges on the same days, so that the bureau sees what its corrections do,
  and the gain in range accuracy with its paired 90 % interval (:func:`correction_gain`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sqlalchemy import select

from bogda.findings import LIVE, FindingDraft, raise_finding, set_status
from bogda.forecast import confidence, verify
from bogda.forecast.warning_check import area_daily_rows
from bogda.standards.levels import category
from bogda.store import Store
from bogda.store.schema import finding, forecast_publication, forecast_publication_day, forecast_run
from bogda.timeutil import BEIJING, beijing_date, now_utc, to_beijing

DEADLINE = time(20, 0)
"""Beijing time by which the day's forecast is published (HJ 633-2026, standards.md §1.5)."""

OVERDUE_RULE = "forecast.publication_deadline"
"""``evidence.rule`` of the finding raised when a day's forecast is not published by :data:`DEADLINE`."""

MIN_DAYS = 3
"""Days ahead a publication must cover, not counting today (HJ 633-2026)."""

MAX_DAYS = 7
"""Days ahead a publication may cover: the daily forecast's horizon (D+7)."""

LABELS: tuple[str, ...] = ("PM2.5", "PM10", "O3_8h", "O3_1h", "NO2", "SO2", "CO")
"""Primary-pollutant labels of the daily AQI (:func:`bogda.standards.aqi.aqi_daily`)."""

_NAMES = {"PM2.5": "PM2.5", "PM25": "PM2.5", "PM10": "PM10", "O3": "O3_8h", "O3_8H": "O3_8h", "O3_1H": "O3_1h"}
_NAMES |= {"NO2": "NO2", "SO2": "SO2", "CO": "CO"}


@dataclass(frozen=True)
class DayEntry:
    """One area and day of a publication: the AQI range, the primary pollutant(s) (labels joined by ``,``; None when
    the range lies at or below AQI 50) and, when drafted from a run, the run's own values."""

    area_code: str
    day: date
    aqi_lo: int
    aqi_hi: int
    primary: str | None
    model_aqi: float | None = None
    model_primary: str | None = None


def primary_label(text: str | None) -> str | None:
    """A primary pollutant as forecasters write it, as the daily AQI's label(s); several joined by ``,``.

    >>> primary_label("pm2.5"), primary_label("O3"), primary_label("PM10、O3"), primary_label(""), primary_label(None)
    ('PM2.5', 'O3_8h', 'PM10,O3_8h', None, None)

    Raises
    ------
    ValueError
        naming a pollutant that has no IAQI in the daily AQI.
    """
    if text is None or not text.strip():
        return None
    out = []
    for part in re.split(r"[,，、/\s]+", text.strip()):
        if not part:
            continue
        label = _NAMES.get(part.upper().replace("₂", "2").replace("₃", "3"))
        if label is None:
            raise ValueError(f"unknown primary pollutant {part!r} (one of {', '.join(sorted(set(_NAMES.values())))})")
        out.append(label)
    return ",".join(dict.fromkeys(out)) or None


def parse_cell(text: str) -> tuple[int, int, str | None]:
    """A cell of the console's publication grid: ``"<lo>-<hi> [primary]"`` (dash, en dash, ~ or ～ between).

    >>> parse_cell("60-80 PM2.5"), parse_cell(" 35～50 "), parse_cell("120–150 O3")
    ((60, 80, 'PM2.5'), (35, 50, None), (120, 150, 'O3_8h'))

    Raises
    ------
    ValueError
        when the text is not a range of whole numbers, or names an unknown pollutant.
    """
    m = re.fullmatch(r"\s*(\d{1,3})\s*[-–—~～]\s*(\d{1,3})\s*(.*?)\s*", text or "")
    if m is None:
        raise ValueError(f"not an AQI range {text!r}: write it as 60-80 PM2.5")
    return int(m[1]), int(m[2]), primary_label(m[3])


def cell_text(entry: DayEntry) -> str:
    """The grid cell of an entry, as :func:`parse_cell` reads it back.

    >>> cell_text(DayEntry("652300", date(2026, 12, 1), 60, 80, "PM2.5,O3_8h"))
    '60-80 PM2.5,O3'
    """
    names = [p.split("_")[0] for p in (entry.primary or "").split(",") if p]
    return f"{entry.aqi_lo}-{entry.aqi_hi}" + (f" {','.join(dict.fromkeys(names))}" if names else "")


def max_span(lo: int, hi: int, spans: Sequence[tuple[float, int]] = verify.RANGE_SPANS) -> int:
    """The widest range allowed: the published-range span (d) of the range's top. The spans grow with the AQI and a
    forecast lies inside its range, so every range :func:`bogda.forecast.verify.published_range` drafts passes,
    also where the forecast sits just above a span's edge (100.3 is drafted 85–115, 30 wide).

    >>> max_span(60, 80), max_span(140, 170), max_span(330, 430), max_span(85, 115), max_span(60, 100)
    (20, 30, 100, 30, 20)
    """
    lo_c, hi_c = verify.published_range([float(hi)], spans)
    return int(hi_c[0] - lo_c[0])


def check_entries(entries: Sequence[DayEntry], issue_date: date, areas: Iterable[str]) -> list[str]:
    """Every problem of a publication, each naming its area, day and field; empty when it may be published.

    Rules: every area of the installation is published; each covers the days issue_date + 1 … + n without a gap, with
    :data:`MIN_DAYS` ≤ n ≤ :data:`MAX_DAYS`; a range is whole numbers 0 ≤ lo ≤ hi ≤ 500 no wider than
    :func:`max_span` (the span at its top); a range above AQI 50 names its primary pollutant(s), one at or below 50
    names none (HJ 633: no primary pollutant at AQI ≤ 50), and one across 50 (优至良) may name one for its upper part.
    """
    problems: list[str] = []
    want = list(dict.fromkeys(areas))
    by_area: dict[str, list[DayEntry]] = {}
    for e in entries:
        if e.area_code not in want:
            problems.append(f"{e.area_code}: not an area of this installation")
            continue
        by_area.setdefault(e.area_code, []).append(e)
    for code in want:
        days = sorted(by_area.get(code, []), key=lambda e: e.day)
        if not days:
            problems.append(f"{code}: no days published")
            continue
        leads = [(e.day - issue_date).days for e in days]
        if leads != list(range(1, len(leads) + 1)):
            problems.append(f"{code}: days must run from {issue_date + timedelta(days=1)} without gaps or repeats")
        if not MIN_DAYS <= len(days) <= MAX_DAYS:
            problems.append(f"{code}: {len(days)} day(s) published, HJ 633-2026 asks for {MIN_DAYS} to {MAX_DAYS}")
        for e in days:
            where = f"{code} {e.day}"
            if not 0 <= e.aqi_lo <= e.aqi_hi <= 500:
                problems.append(f"{where}: AQI range {e.aqi_lo}-{e.aqi_hi} must satisfy 0 ≤ lo ≤ hi ≤ 500")
                continue
            if e.aqi_hi - e.aqi_lo > (w := max_span(e.aqi_lo, e.aqi_hi)):
                problems.append(f"{where}: AQI range {e.aqi_lo}-{e.aqi_hi} is wider than {w} at that level")
            if e.primary and e.aqi_hi <= 50:
                problems.append(f"{where}: no primary pollutant at AQI ≤ 50 (HJ 633), but {e.primary} is named")
            if not e.primary and e.aqi_lo > 50:
                problems.append(f"{where}: a range above AQI 50 names its primary pollutant")
            if e.primary and any(p not in LABELS for p in e.primary.split(",")):
                problems.append(f"{where}: unknown primary pollutant {e.primary}")
    return problems


CSV_COLUMNS: tuple[str, ...] = ("area_code", "day", "aqi_lo", "aqi_hi", "primary")
"""Columns of a publication file (``bogda forecast publish --draft-csv`` writes one, ``--file`` reads one)."""


def entries_csv(entries: Sequence[DayEntry]) -> str:
    """A publication file: one row per area and day (:data:`CSV_COLUMNS`), primary pollutants as forecasters write
    them.

    >>> print(entries_csv([DayEntry("652300", date(2026, 12, 1), 60, 80, "PM2.5,O3_8h")]), end="")
    area_code,day,aqi_lo,aqi_hi,primary
    652300,2026-12-01,60,80,"PM2.5,O3"
    """
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for e in entries:
        names = ",".join(dict.fromkeys(p.split("_")[0] for p in (e.primary or "").split(",") if p))
        w.writerow([e.area_code, e.day.isoformat(), e.aqi_lo, e.aqi_hi, names])
    return out.getvalue()


def read_entries_csv(text: str) -> tuple[list[DayEntry], list[str]]:
    r"""The entries of a publication file and the problems of its rows, each naming its line and column; a row with a
    problem is not returned (the publication is refused as a whole by :func:`publish`'s caller when any is found).

    >>> entries, problems = read_entries_csv("area_code,day,aqi_lo,aqi_hi,primary\n652300,2026-12-01,60,80,PM2.5\n"
    ...                                      "652300,2026-12-02,sixty,80,PM2.5\n")
    >>> len(entries), problems
    (1, ["line 3: aqi_lo 'sixty' is not a whole number"])
    """
    import csv
    import io

    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (rows.fieldnames or [])]
    if missing:
        return [], [f"line 1: missing column(s) {', '.join(missing)} (need {', '.join(CSV_COLUMNS)})"]
    entries, problems = [], []
    for n, r in enumerate(rows, start=2):
        try:
            day = date.fromisoformat((r["day"] or "").strip())
        except ValueError:
            problems.append(f"line {n}: day {r['day']!r} is not a date (YYYY-MM-DD)")
            continue
        values = {}
        for col in ("aqi_lo", "aqi_hi"):
            v = (r[col] or "").strip()
            if not v.isdigit():
                problems.append(f"line {n}: {col} {v!r} is not a whole number")
                break
            values[col] = int(v)
        else:
            try:
                primary = primary_label(r["primary"])
            except ValueError as exc:
                problems.append(f"line {n}: {exc}")
                continue
            entries.append(DayEntry((r["area_code"] or "").strip(), day, values["aqi_lo"], values["aqi_hi"], primary))
    return entries, problems


def draft(
    store: Store, issue_date: date | None = None, *, run_id: int | None = None, days: int = MAX_DAYS
) -> tuple[int | None, list[DayEntry]]:
    """A run's daily AQI of every area (counties, prefecture) for issue_date + 1 … + ``days``, as published ranges
    with the run's primary pollutant: ``(run id, entries)``. The run is ``run_id``, else the latest operational
    run; ``(None, [])`` when there is none.

    Raises
    ------
    LookupError
        when ``run_id`` names no stored run.
    """
    from bogda.forecast import service as sv

    issue_date = issue_date or beijing_date(now_utc())
    if run_id is None:
        run = sv.latest_run(store)
        if run is None:
            return None, []
        run_id = int(run["id"])
    else:
        with store.engine.connect() as conn:
            if conn.execute(select(forecast_run.c.id).where(forecast_run.c.id == run_id)).scalar() is None:
                raise LookupError(f"forecast run {run_id} not found")
    vals = sv.run_values(store, run_id, items=["AQI"], resolution="day")
    if vals.height == 0:
        return run_id, []
    out = []
    for r in vals.iter_rows(named=True):
        if r["target_kind"] not in ("county", "prefecture") or r["method"] == sv.TODAY_METHOD or r["mean"] is None:
            continue
        day = beijing_date(r["valid_start"])
        if not 1 <= (day - issue_date).days <= days:
            continue
        lo, hi = verify.published_range([float(r["mean"])])
        primary = r["primary_pollutant"] if hi[0] > 50 else None
        out.append(
            DayEntry(r["target_code"], day, int(lo[0]), int(hi[0]), primary, float(r["mean"]), r["primary_pollutant"])
        )
    return run_id, sorted(out, key=lambda e: (e.area_code, e.day))


def publish(
    store: Store,
    entries: Sequence[DayEntry],
    *,
    by: str,
    issue_date: date | None = None,
    run_id: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> int:
    """Store a publication (module doc) and return its id; a previous publication of ``issue_date`` is superseded.

    An entry without the model's values takes them from the :func:`draft` of ``run_id`` (default: the latest run),
    so that ``corrected`` says whether the forecaster changed what the run proposed.

    Raises
    ------
    ValueError
        with every problem of :func:`check_entries`, one per line; nothing is stored then.
    LookupError
        when ``run_id`` names no stored run; nothing is stored then.
    """
    from bogda.forecast import service as sv

    now = now or now_utc()
    issue_date = issue_date or beijing_date(now)
    areas = [t.code for t in sv.registry(store).areas]
    problems = check_entries(entries, issue_date, areas)
    if problems:
        raise ValueError("the forecast cannot be published:\n" + "\n".join(problems))
    run_id, drafted = draft(store, issue_date, run_id=run_id)
    model = {(e.area_code, e.day): e for e in drafted}
    with store.begin() as conn:
        prev = conn.execute(
            select(forecast_publication.c.id)
            .where(forecast_publication.c.issue_date == issue_date)
            .order_by(forecast_publication.c.id.desc())
        ).scalar()
        pid = conn.execute(
            forecast_publication.insert()
            .values(
                issue_date=issue_date,
                run_id=run_id,
                published_by=by,
                published_at=now,
                note=note,
                supersedes=prev,
            )
            .returning(forecast_publication.c.id)
        ).scalar_one()
        rows = []
        for e in entries:
            m = model.get((e.area_code, e.day))
            model_aqi = e.model_aqi if e.model_aqi is not None else (m.model_aqi if m else None)
            model_primary = e.model_primary if e.model_primary is not None else (m.model_primary if m else None)
            drafted_range = (m.aqi_lo, m.aqi_hi, m.primary) if m else None
            rows.append(
                {
                    "publication_id": pid,
                    "area_code": e.area_code,
                    "day": e.day,
                    "lead": (e.day - issue_date).days,
                    "aqi_lo": e.aqi_lo,
                    "aqi_hi": e.aqi_hi,
                    "primary_pollutant": e.primary,
                    "model_aqi": model_aqi,
                    "model_primary": model_primary,
                    "corrected": drafted_range is None or drafted_range != (e.aqi_lo, e.aqi_hi, e.primary),
                }
            )
        conn.execute(forecast_publication_day.insert(), rows)
        for fid in _live_overdue(conn, issue_date):
            at = to_beijing(now)
            set_status(conn, fid, "resolved", by=by, reason=f"预报已于 {at:%m-%d %H:%M} 发布（#{pid}）", now=now)
    return int(pid)


def current(store: Store, issue_date: date) -> dict[str, Any] | None:
    """The publication in force for ``issue_date`` (the latest one of that date) with its ``days``, or None."""
    with store.engine.connect() as conn:
        pub = (
            conn.execute(
                select(forecast_publication)
                .where(forecast_publication.c.issue_date == issue_date)
                .order_by(forecast_publication.c.id.desc())
            )
            .mappings()
            .first()
        )
        if pub is None:
            return None
        days = conn.execute(
            select(forecast_publication_day)
            .where(forecast_publication_day.c.publication_id == pub["id"])
            .order_by(forecast_publication_day.c.area_code, forecast_publication_day.c.day)
        ).mappings()
        return dict(pub) | {"days": [dict(d) for d in days]}


def status(store: Store, now: datetime | None = None) -> dict[str, Any]:
    """Today's publication duty: ``issue_date``, ``deadline`` (20:00 Beijing, aware), ``published`` (bool),
    ``published_at`` / ``published_by`` of the publication in force, ``late`` (the day's *first* publication came
    after the deadline: a correction after 20:00 of a forecast published in time is not late), ``overdue`` (past
    the deadline, unpublished) and ``finding_id`` (the day's live missed-deadline finding, :func:`duty_job`, or
    None)."""
    from sqlalchemy import func

    now = now or now_utc()
    today = beijing_date(now)
    deadline = deadline_of(today)
    pub = current(store, today)
    first = None
    if pub is not None:
        with store.engine.connect() as conn:
            first = conn.execute(
                select(func.min(forecast_publication.c.published_at)).where(forecast_publication.c.issue_date == today)
            ).scalar()
        if first is not None and first.tzinfo is None:  # SQLite returns the aggregate as naive UTC
            first = first.replace(tzinfo=UTC)
    with store.engine.connect() as conn:
        lapse = next(iter(_live_overdue(conn, today)), None)
    return {
        "issue_date": today,
        "deadline": deadline,
        "published": pub is not None,
        "published_at": pub["published_at"] if pub else None,
        "published_by": pub["published_by"] if pub else None,
        "late": bool(first is not None and first > deadline),
        "overdue": pub is None and now >= deadline,
        "finding_id": lapse,
    }


def deadline_of(issue_date: date) -> datetime:
    """20:00 Beijing of ``issue_date`` (:data:`DEADLINE`), timezone-aware."""
    return datetime.combine(issue_date, DEADLINE, tzinfo=BEIJING)


def overdue_key(issue_date: date) -> str:
    """The dedupe key of a day's missed-deadline finding: one finding per issue date.

    >>> overdue_key(date(2026, 11, 30))
    'forecast:publication_overdue:2026-11-30'
    """
    return f"forecast:publication_overdue:{issue_date.isoformat()}"


def overdue_finding(issue_date: date, *, place_id: int | None = None, run_id: int | None = None) -> FindingDraft:
    """The finding for a day whose forecast was not published by 20:00 Beijing (HJ 633-2026).

    Kind ``incident`` (a duty lapse, like the house's other operations events) detected at the deadline, on the
    prefecture's place; task source ``upper_dispatch`` and category ``other``, the source of the forecast's other
    findings (warnings, advisories), so that a task made from it goes to the prefecture's desk and never reads as a
    field problem. The cool-down of a day lasts past its midnight: a person who closes the finding before the
    forecast is published is not paged again for the same day.
    """
    deadline = deadline_of(issue_date)
    return FindingDraft(
        kind="incident",
        severity="high",
        title=f"{issue_date:%m-%d} 空气质量预报 20:00 前未发布 / forecast of {issue_date} not published by 20:00",
        dedupe_key=overdue_key(issue_date),
        detected_at=deadline,
        place_id=place_id,
        evidence={
            "rule": OVERDUE_RULE,
            "basis": "HJ 633-2026：每日 20:00 前发布未来至少 3 天预报",
            "issue_date": issue_date.isoformat(),
            "deadline": deadline.isoformat(),
            "run_id": run_id,
            "source": "upper_dispatch",
            "category": "other",
        },
        cooldown=timedelta(days=1),
    )


def duty_job(store: Store, now: datetime) -> int:
    """The scheduler's job: file today's missed-deadline finding once 20:00 Beijing has passed unpublished.

    Nothing is due where the installation forecasts nothing (no area, or no operational run yet). Idempotent: a
    repeat updates the day's live finding (or is suppressed inside its cool-down). Returns 1 when a finding was
    created, else 0.
    """
    from bogda.forecast import service as sv

    st = status(store, now)
    if not st["overdue"]:
        return 0
    reg = sv.registry(store)
    run = sv.latest_run(store)
    if not reg.areas or run is None:
        return 0
    prefecture = next((t.code for t in reg.areas if t.kind == "prefecture"), None)
    draft_ = overdue_finding(st["issue_date"], place_id=reg.place_of.get(prefecture or ""), run_id=int(run["id"]))
    with store.begin() as conn:
        return int(raise_finding(conn, draft_, now=now).action == "created")


def _live_overdue(conn: Any, issue_date: date) -> list[int]:
    """Ids of the live missed-deadline findings of ``issue_date`` (at most one, by its dedupe key)."""
    q = select(finding.c.id).where(finding.c.dedupe_key == overdue_key(issue_date), finding.c.status.in_(LIVE))
    return [int(i) for i in conn.execute(q).scalars()]


def range_hits(lo: ArrayLike, hi: ArrayLike, obs: ArrayLike) -> np.ndarray:
    """1.0 where the observed AQI lies in the published range (bounds included), 0.0 where not, NaN where the range
    or the observation is missing.

    >>> range_hits([60, 90, 60], [80, 120, np.nan], [85.0, 101.0, 70.0]).tolist()
    [0.0, 1.0, nan]
    """
    lo, hi, obs = (np.asarray(a, dtype=float) for a in (lo, hi, obs))
    ok = np.isfinite(obs) & np.isfinite(lo) & np.isfinite(hi)
    return np.where(ok, ((obs >= lo) & (obs <= hi)).astype(float), np.nan)


def correction_gain(day: Sequence[date], published: np.ndarray, model: np.ndarray) -> dict[str, float | None]:
    """What the forecaster's corrections gained in range accuracy: the published ranges' hits minus the model's
    drafted ranges' on the days both are scored (``range_acc_gain``), with its paired 90 % interval over the days
    (``range_acc_gain_lo`` / ``_hi``, :func:`bogda.forecast.confidence.share_intervals`; none for fewer than 4
    weeks). An interval that holds 0 says the corrections have not yet shown an effect beyond chance.

    ``published``, ``model``: :func:`range_hits` of the same rows.
    """
    both = np.isfinite(published) & np.isfinite(model)
    gain = float(np.mean(published[both] - model[both])) if both.any() else None
    ci = confidence.share_intervals(
        [d.toordinal() for d in day], {"published": published, "model": model}, differences=[("published", "model")]
    )
    lo, hi = ci["published-model"]
    return {"range_acc_gain": gain, "range_acc_gain_lo": lo, "range_acc_gain_hi": hi}


def gain_text(row: dict[str, Any]) -> str:
    """A :func:`correction_gain` as one cell: the gain and its 90 % interval ("—" where there is none).

    >>> gain_text({"range_acc_gain": 0.1667, "range_acc_gain_lo": 0.05, "range_acc_gain_hi": 0.283})
    '+0.17 (+0.05…+0.28)'
    >>> gain_text({"range_acc_gain": 1.0, "range_acc_gain_lo": None, "range_acc_gain_hi": None})
    '+1.00 (—)'
    """
    g, lo, hi = (row.get(f"range_acc_gain{k}") for k in ("", "_lo", "_hi"))
    if g is None:
        return "—"
    return f"{g:+.2f} ({'—' if lo is None or hi is None else f'{lo:+.2f}…{hi:+.2f}'})"


def range_scores(
    lo: np.ndarray, hi: np.ndarray, primary: Sequence[str | None], obs: np.ndarray, obs_primary: Sequence[str | None]
) -> dict[str, float | int | None]:
    """Scores of published ranges against the observed daily AQI: ``n``, ``range_acc`` (observed AQI in the range,
    bounds included), ``level_range_acc`` (observed level one of the levels the range spans) and ``primary_acc`` (on
    the days with an observed primary pollutant, one of them named; the rule of :mod:`bogda.forecast.aqi_check`).

    >>> range_scores(np.array([60, 90]), np.array([80, 120]), ["PM2.5", "PM10"], np.array([85.0, 101.0]),
    ...              ["PM2.5", "PM2.5,PM10"])
    {'n': 2, 'range_acc': 0.5, 'level_range_acc': 1.0, 'primary_acc': 1.0}
    """
    lo, hi, obs = (np.asarray(a, dtype=float) for a in (lo, hi, obs))
    hits = range_hits(lo, hi, obs)
    ok = np.isfinite(hits)
    n = int(ok.sum())
    if n == 0:
        return {"n": 0, "range_acc": None, "level_range_acc": None, "primary_acc": None}
    lv = category(obs[ok])
    named = [
        bool(set((f or "").split(",")) & set((o or "").split(",")) - {""})
        for f, o, k, a in zip(primary, obs_primary, ok, obs, strict=True)
        if k and a > 50
    ]
    return {
        "n": n,
        "range_acc": float(np.mean(hits[ok])),
        "level_range_acc": float(np.mean((lv >= category(lo[ok])) & (lv <= category(hi[ok])))),
        "primary_acc": float(np.mean(named)) if named else None,
    }


def scores(store: Store, start: date, end: date) -> list[dict[str, Any]]:
    """The publications in force for issue dates ``start``..``end`` against the areas' observed daily AQI
    (``aqi_daily``): one row per (area, lead) and one per lead over all areas (``area_code`` ``*``), each with
    :func:`range_scores` of the published ranges (``published_*``) and of the model's drafted ranges on the same days
    (``model_*``), how many days the forecaster corrected, and what the corrections gained (:func:`correction_gain`)."""
    pubs = [p for d in _dates(start, end) if (p := current(store, d)) is not None]
    rows = [dict(r) for p in pubs for r in p["days"]]
    if not rows:
        return []
    codes = sorted({r["area_code"] for r in rows})
    first, last = min(r["day"] for r in rows), max(r["day"] for r in rows)
    observed = area_daily_rows(store, codes, first, last, standard=None)
    out = []
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["area_code"], r["lead"]), []).append(r)
        groups.setdefault(("*", r["lead"]), []).append(r)
    for (code, lead), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0] != "*", kv[0][0])):
        obs = np.array([observed.get((r["area_code"], r["day"]), (np.nan, None))[0] for r in g], dtype=float)
        obs_p = [observed.get((r["area_code"], r["day"]), (np.nan, None))[1] for r in g]
        p_lo, p_hi = np.array([r["aqi_lo"] for r in g]), np.array([r["aqi_hi"] for r in g])
        pub = range_scores(p_lo, p_hi, [r["primary_pollutant"] for r in g], obs, obs_p)
        m_lo, m_hi = verify.published_range([np.nan if r["model_aqi"] is None else r["model_aqi"] for r in g])
        mod = range_scores(m_lo, m_hi, [r["model_primary"] for r in g], obs, obs_p)
        gain = correction_gain([r["day"] for r in g], range_hits(p_lo, p_hi, obs), range_hits(m_lo, m_hi, obs))
        out.append(
            {"area_code": code, "lead": lead, "n_published": len(g), "n_corrected": sum(r["corrected"] for r in g)}
            | {f"published_{k}": v for k, v in pub.items()}
            | {f"model_{k}": v for k, v in mod.items()}
            | gain
        )
    return out


def _dates(start: date, end: date) -> list[date]:
    return [start + timedelta(days=k) for k in range((end - start).days + 1)]
