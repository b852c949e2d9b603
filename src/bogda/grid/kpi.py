"""KPIs of the grid's closed loop (governance.md §3.6), rebuilt from the task event log as of any date.

Every KPI keeps its exact numerator and denominator; rounding is for display only (half-up [D]; half-even per
GB/T 8170 or truncation on request); a zero denominator is ``NA``. On-time measures count tasks whose **due date**
falls in the period. A task enters the figures with its latest cycle as of the period end (a reopened task counts
with its new cycle; the relapse itself shows in 重复率).

| key | KPI | numerator | denominator |
|---|---|---|---|
| sign_timely | 签收及时率 | signed ≤ sign due | dispatched, sign due in period |
| feedback | 反馈率 | with feedback (or 查否) | pushed (fire_point, hotspot_grid) made in period |
| confirmed | 查实率 | verdict confirmed | verdict given in period (cancelled excluded) |
| closure | 办结率 | closed | close due in period (应结案数) |
| closure_on_time | 按期办结率 | closed ≤ close due | close due in period |
| rework | 返工率 | rework_count ≥ 1 | reviewed in period |
| repeat | 重复率 | repeat_count ≥ 1 | made in period |
| relapse | 复发 (part of 重复率) | with a relapse/reopen event | made in period |
| patrol_share | 主动发现率 | source = patrol | made in period |
| patrol_frequency | 巡查频次完成率 | patrols done | required (given) |
| avg_days | 平均办结天数 | Σ(closed − signed) [d] | closed in period |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from io import BytesIO
from typing import Any

from bogda.timeutil import as_utc, parse_time

KPI_NAMES: dict[str, tuple[str, str, int, bool]] = {
    "sign_timely": ("签收及时率", "sign-in timeliness", 1, True),
    "feedback": ("反馈率", "feedback rate", 1, True),
    "confirmed": ("查实率", "confirmation rate", 1, True),
    "closure": ("办结率", "closure rate", 2, True),
    "closure_on_time": ("按期办结率", "on-time closure rate", 2, True),
    "rework": ("返工率", "rework rate", 1, True),
    "repeat": ("重复率", "repeat rate", 1, True),
    "relapse": ("复发率", "relapse rate", 1, True),
    "patrol_share": ("主动发现率", "self-discovery rate", 1, True),
    "patrol_frequency": ("巡查频次完成率", "patrol completion", 1, True),
    "avg_days": ("平均办结天数", "average days to close", 1, False),
}
"""key → (中文, English, decimals [D], is a percentage)."""

PUSHED_SOURCES = ("fire_point", "hotspot_grid")
_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "truncate": ROUND_DOWN}


def round_display(value: Decimal, dp: int, mode: str = "half_up") -> Decimal:
    """Round for display.

    >>> [str(round_display(Decimal(n) * 100 / d, 1)) for n, d in ((24, 25), (90, 103), (28, 151))]
    ['96.0', '87.4', '18.5']
    >>> str(round_display(Decimal("0.125"), 2, "half_even")), str(round_display(Decimal("0.125"), 2))
    ('0.12', '0.13')
    """
    if mode not in _MODES:
        raise ValueError(f"rounding {mode!r}; expected one of {sorted(_MODES)}")
    return value.quantize(Decimal(1).scaleb(-dp), rounding=_MODES[mode])


@dataclass(frozen=True)
class Ratio:
    """An exact KPI: numerator, denominator and how to show it."""

    key: str
    numerator: Decimal
    denominator: int
    dp: int
    percent: bool
    ids: tuple[int, ...] = ()

    @property
    def value(self) -> Decimal | None:
        if self.denominator == 0:
            return None
        v = self.numerator / Decimal(self.denominator)
        return v * 100 if self.percent else v

    def display(self, mode: str = "half_up") -> str:
        v = self.value
        if v is None:
            return "NA"
        s = str(round_display(v, self.dp, mode))
        return f"{s} %" if self.percent else s


@dataclass
class TaskFacts:
    """One task as of a moment, rebuilt from its events."""

    id: int
    source: str = ""
    category: str = ""
    severity: str = ""
    place_id: int | None = None
    state: str = "NEW"
    created_at: datetime | None = None
    dispatched_at: datetime | None = None
    sign_due: datetime | None = None
    close_due: datetime | None = None
    signed_at: datetime | None = None
    verdict: str | None = None
    verdict_at: datetime | None = None
    feedback_at: datetime | None = None
    closed_at: datetime | None = None
    reviewed_at: list[datetime] = field(default_factory=list)
    rework_count: int = 0
    repeat_count: int = 0
    relapsed: bool = False
    card: str = "none"
    escalation_level: int = 0


def _t(v: Any) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v if v.tzinfo is UTC else as_utc(v)
    try:
        d = datetime.fromisoformat(v)  # the snapshots' own format: fast path
        return as_utc(d) if d.tzinfo is not None else parse_time(str(v), naive="utc")
    except ValueError:
        return parse_time(str(v), naive="utc")


def replay(events: Iterable[Mapping[str, Any]], as_of: datetime | None = None) -> dict[int, TaskFacts]:
    """Fold task events (``task_id, seq, event, to_state, at, detail``) up to ``as_of`` into facts per task.

    Milestone times come from the events themselves; deadlines, counters and place from the snapshot the last
    event (≤ ``as_of``) carries.
    """
    out: dict[int, TaskFacts] = {}
    last: dict[int, Mapping[str, Any]] = {}
    for ev in sorted(events, key=lambda e: (e["task_id"], e["seq"])):
        at = _t(ev["at"])
        if as_of is not None and at is not None and at > as_of:
            continue
        tid = ev["task_id"]
        f = out.get(tid)
        if f is None:
            f = out[tid] = TaskFacts(tid)
        name = ev["event"]
        if name == "create":
            f.created_at = at
        elif name in ("reopen", "relapse"):
            f.relapsed = True
            f.dispatched_at = f.signed_at = f.verdict_at = f.feedback_at = f.closed_at = None
            f.verdict = None
        elif name == "dispatch":
            f.dispatched_at = at
        elif name == "return":
            f.dispatched_at = None
        elif name == "sign":
            f.signed_at = at
        elif name in ("confirm", "not_confirm"):
            f.verdict_at = f.verdict_at or at
            if name == "not_confirm":
                f.feedback_at = f.feedback_at or at
        elif name == "feedback":
            f.feedback_at = f.feedback_at or at
        elif name == "approve":
            f.closed_at = at
            f.reviewed_at.append(at)  # type: ignore[arg-type]
        elif name == "reject":
            f.reviewed_at.append(at)  # type: ignore[arg-type]
        f.state = ev["to_state"]
        snap = (ev.get("detail") or {}).get("snap")
        if snap:
            last[tid] = snap
    for tid, snap in last.items():
        f = out[tid]
        f.source = snap.get("source", f.source)
        f.category = snap.get("category", f.category)
        f.severity = snap.get("severity", f.severity)
        f.place_id = snap.get("place_id", f.place_id)
        f.sign_due = _t(snap.get("sign_due"))
        f.close_due = _t(snap.get("close_due"))
        f.rework_count = int(snap.get("rework_count", f.rework_count))
        f.repeat_count = int(snap.get("repeat_count", f.repeat_count))
        f.verdict = snap.get("verdict", f.verdict)
        f.card = snap.get("card", f.card)
        f.escalation_level = int(snap.get("escalation_level", f.escalation_level))
    return out


def _in(t: datetime | None, start: datetime, end: datetime) -> bool:
    return t is not None and start <= t < end


def compute(
    facts: Iterable[TaskFacts],
    start: datetime,
    end: datetime,
    *,
    patrols: tuple[int, int] | None = None,
) -> dict[str, Ratio]:
    """The KPIs of ``facts`` (already as of ``end``) over the period ``[start, end)``.

    ``patrols`` = (done, required) feeds 巡查频次完成率 (NA without it).
    """
    fs = [f for f in facts]

    def ratio(key: str, num: Sequence[TaskFacts] | Decimal, den: Sequence[TaskFacts] | int) -> Ratio:
        _, _, dp, pct = KPI_NAMES[key]
        n = Decimal(len(num)) if not isinstance(num, Decimal) else num
        d = len(den) if not isinstance(den, int) else den
        ids = tuple(sorted(f.id for f in den)) if not isinstance(den, int) else ()
        return Ratio(key, n, d, dp, pct, ids)

    alive = [f for f in fs if f.state != "CANCELLED"]
    sign_den = [f for f in alive if f.dispatched_at is not None and _in(f.sign_due, start, end)]
    sign_num = [f for f in sign_den if f.signed_at is not None and f.signed_at <= f.sign_due]  # type: ignore[operator]
    made = [f for f in fs if _in(f.created_at, start, end)]
    pushed = [f for f in made if f.source in PUSHED_SOURCES and f.state != "CANCELLED"]
    fed = [f for f in pushed if f.feedback_at is not None]
    verd = [f for f in alive if f.verdict is not None and _in(f.verdict_at, start, end)]
    conf = [f for f in verd if f.verdict == "confirmed"]
    due = [f for f in alive if _in(f.close_due, start, end)]
    closed = [f for f in due if f.closed_at is not None]
    on_time = [f for f in closed if f.closed_at <= f.close_due]  # type: ignore[operator]
    reviewed = [f for f in alive if any(_in(t, start, end) for t in f.reviewed_at)]
    reworked = [f for f in reviewed if f.rework_count >= 1]
    repeated = [f for f in made if f.repeat_count >= 1]
    relapsed = [f for f in made if f.relapsed]
    patrol = [f for f in made if f.source == "patrol"]
    closed_in = [f for f in alive if _in(f.closed_at, start, end) and f.signed_at is not None]
    days = sum(
        (Decimal((f.closed_at - f.signed_at).total_seconds()) / Decimal(86400) for f in closed_in),  # type: ignore[operator]
        Decimal(0),
    )
    out = {
        "sign_timely": ratio("sign_timely", sign_num, sign_den),
        "feedback": ratio("feedback", fed, pushed),
        "confirmed": ratio("confirmed", conf, verd),
        "closure": ratio("closure", closed, due),
        "closure_on_time": ratio("closure_on_time", on_time, due),
        "rework": ratio("rework", reworked, reviewed),
        "repeat": ratio("repeat", repeated, made),
        "relapse": ratio("relapse", relapsed, made),
        "patrol_share": ratio("patrol_share", patrol, made),
        "patrol_frequency": ratio(
            "patrol_frequency", Decimal(patrols[0]) if patrols else Decimal(0), patrols[1] if patrols else 0
        ),
        "avg_days": Ratio("avg_days", days, len(closed_in), 1, False, tuple(sorted(f.id for f in closed_in))),
    }
    return out


def overdue_open(facts: Iterable[TaskFacts], end: datetime) -> list[int]:
    """超期未办结: open at ``end`` and past the close deadline (ids)."""
    return sorted(
        f.id for f in facts if f.state not in ("CLOSED", "CANCELLED") and f.close_due is not None and f.close_due < end
    )


SCORE_WEIGHTS = {"closure_on_time": 40, "confirmed": 20, "repeat": 20, "sign_timely": 10, "patrol_frequency": 10}
CARD_PENALTY = {"yellow": 1, "red": 2}
GRADES = ((90, "优秀"), (80, "良好"), (60, "合格"), (0, "不合格"))


def county_score(k: Mapping[str, Ratio], cards: Iterable[str] = ()) -> tuple[Decimal | None, str, list[str]]:
    """County score [D] = 40·按期办结率 + 20·查实率 + 20·(1−重复率) + 10·签收及时率 + 10·巡查频次完成率 − card
    penalties (yellow 1, red 2); NA terms are left out and named. Returns (score, grade, missing terms)."""
    total, weight, missing = Decimal(0), 0, []
    for key, w in SCORE_WEIGHTS.items():
        v = k[key].value
        if v is None:
            missing.append(key)
            continue
        frac = v / 100
        total += w * (1 - frac if key == "repeat" else frac)
        weight += w
    if weight == 0:
        return None, "NA", missing
    total -= sum(CARD_PENALTY.get(c, 0) for c in cards)
    score = round_display(total, 1)
    grade = next(g for lim, g in GRADES if score >= lim)
    return score, grade, missing


def to_excel(rows: Sequence[Mapping[str, Any]], *, title: str, language: str = "zh") -> bytes:
    """An XLSX of KPI rows (``place``, ``kpis``: {key: Ratio}, ``overdue``: [ids]) with numerator, denominator and
    display value per KPI."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "KPI"
    ws.append([title])
    ws["A1"].font = Font(bold=True)
    head = ["区域" if language == "zh" else "place"]
    for zh, en, _, _ in KPI_NAMES.values():
        name = zh if language == "zh" else en
        head += [
            name,
            f"{name} {'分子' if language == 'zh' else 'numerator'}",
            f"{name} {'分母' if language == 'zh' else 'denominator'}",
        ]
    head.append("超期未办结数" if language == "zh" else "open past due")
    ws.append(head)
    for c in ws[2]:
        c.font = Font(bold=True)
    for r in rows:
        line: list[Any] = [r["place"]]
        for key in KPI_NAMES:
            ratio: Ratio = r["kpis"][key]
            line += [ratio.display(), float(ratio.numerator), ratio.denominator]
        line.append(len(r.get("overdue", [])))
        ws.append(line)
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
