"""What people do with clues: confirm into a case, dismiss with a reason (feeding per-enterprise tuning), the
``case`` table, the non-site case share KPI and the per-enterprise compliance string (enforcement.md §5).

Clue status (``clue.status``, enforcement.md §5) and the finding status (architecture §4) move together:

=====================  ==========================  ==================================================
action                 clue.status                 finding.status
=====================  ==========================  ==================================================
filed by a run         NEW                         open
confirm (case opened)  CASE_FILED                  acknowledged (stays live for the grid's task)
confirm (no case)      CONFIRMED                   acknowledged
dismiss                FALSE_POSITIVE | EXCUSED    dismissed (resolved if a task was dispatched)
=====================  ==========================  ==================================================

Every action is appended to ``audit`` in the same transaction. Dismissals as FALSE_POSITIVE re-tune the
enterprise's tunable rules (:func:`bogda.enforcement.clues.tune_from_dismissals`); the result is stored in
``rule_override`` with ``source='tuning'`` and the parameter version it was derived from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from bogda import audit
from bogda import findings as F
from bogda.enforcement import clues as CL
from bogda.enforcement.rules import Params, resolve_params
from bogda.store import Store
from bogda.store.schema import case, clue, clue_eval, finding, latest, observation, outlet, rule_override, site
from bogda.store.schema import series as series_t
from bogda.timeutil import BEIJING, epoch_seconds, now_utc

CLUE_STATUSES = (
    "NEW",
    "TRIAGED",
    "DISPATCHED",
    "CHECKED",
    "CONFIRMED",
    "FALSE_POSITIVE",
    "EXCUSED",
    "CASE_FILED",
    "CLOSED",
    "SUPERSEDED",
)
VERDICTS = ("FALSE_POSITIVE", "EXCUSED")
CLOSED_CLUE = ("FALSE_POSITIVE", "EXCUSED", "CASE_FILED", "CLOSED", "SUPERSEDED")
NON_SITE_SOURCES = ("在线监测", "用电监控", "卫星", "走航", "视频")
"""Clue sources counted as non-site discovery (enforcement.md §5 ``non_site_clue``)."""
DISMISS_QUIET = timedelta(days=3650)
"""A dismissed episode stays quiet: its dedupe key names the episode, so a re-run must not raise it again."""
KPI_GOAL = 0.40
"""The 2026 goal line on the discovery basis ("from 29 % to over 40 %")."""
POLLUTANTS = ("a21026", "a21002", "a34013")


def clue_source(rule_id: str) -> str:
    """Channel a clue came from: CEMS rules → 在线监测, electricity and plan rules → 用电监控."""
    return "在线监测" if rule_id.startswith("C") else "用电监控"


def _clue(conn: Connection, finding_id: int) -> Any:
    row = conn.execute(select(clue).where(clue.c.finding_id == finding_id)).mappings().first()
    if row is None:
        raise LookupError(f"finding {finding_id} is not a clue")
    return row


def next_case_no(conn: Connection, now: datetime, prefix: str = "FXC") -> str:
    """``<prefix>-<year>-<nnnn>``, numbered per Beijing year (FXC = 非现场)."""
    year = now.astimezone(BEIJING).year
    stem = f"{prefix}-{year}-"
    n = conn.execute(select(func.count()).select_from(case).where(case.c.case_no.startswith(stem))).scalar_one()
    while True:
        n += 1
        no = f"{stem}{n:04d}"
        if conn.execute(select(case.c.id).where(case.c.case_no == no)).first() is None:
            return no


def confirm_clue(
    store: Store,
    finding_id: int,
    *,
    by: str,
    user_id: int | None = None,
    open_case: bool = True,
    case_no: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Confirm a clue; with ``open_case`` (default) register a case (立案) linked to it, flagged non-site."""
    now = now or now_utc()
    with store.begin() as conn:
        c = _clue(conn, finding_id)
        if c["status"] in CLOSED_CLUE:
            raise ValueError(f"clue {finding_id} is already {c['status']}")
        fstatus = conn.execute(select(finding.c.status).where(finding.c.id == finding_id)).scalar_one()
        if fstatus == "open":
            F.set_status(conn, finding_id, "acknowledged", by=by, reason=note or "confirmed", now=now)
        status = "CASE_FILED" if open_case else "CONFIRMED"
        case_id = None
        if open_case:
            case_no = case_no or next_case_no(conn, now)
            if conn.execute(select(case.c.id).where(case.c.case_no == case_no)).first() is not None:
                raise ValueError(f"case number {case_no} already exists")
            case_id = conn.execute(
                case.insert()
                .values(
                    case_no=case_no,
                    enterprise_id=c["enterprise_id"],
                    finding_id=finding_id,
                    clue_source=clue_source(c["rule_id"]),
                    non_site=True,
                    non_site_evidence=True,
                    opened_at=now,
                    status="open",
                    note=note,
                    created_by=by,
                )
                .returning(case.c.id)
            ).scalar_one()
        fb = [
            *(c["feedback"] or []),
            {"verdict": status, "by": by, "at": now.isoformat(), "note": note, "case_no": case_no},
        ]
        conn.execute(clue.update().where(clue.c.id == c["id"]).values(status=status, feedback=fb, updated_at=now))
        audit.record(
            conn,
            action="clue.confirm",
            user_id=user_id,
            login=by,
            target=f"finding:{finding_id}",
            detail={"case_no": case_no, "status": status, "note": note},
            at=now,
        )
    return {"finding_id": finding_id, "status": status, "case_no": case_no, "case_id": case_id}


def dismiss_clue(
    store: Store,
    finding_id: int,
    *,
    reason: str,
    by: str,
    verdict: str = "FALSE_POSITIVE",
    user_id: int | None = None,
    now: datetime | None = None,
    params: Params | None = None,
) -> dict[str, Any]:
    """Dismiss a clue with a reason (FALSE_POSITIVE or EXCUSED) and re-tune the enterprise's rules."""
    now = now or now_utc()
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r}; expected one of {VERDICTS}")
    if not (reason and reason.strip()):
        raise ValueError("dismissing a clue needs a reason")
    with store.begin() as conn:
        c = _clue(conn, finding_id)
        if c["status"] in CLOSED_CLUE:
            raise ValueError(f"clue {finding_id} is already {c['status']}")
        fstatus = conn.execute(select(finding.c.status).where(finding.c.id == finding_id)).scalar_one()
        target = "dismissed" if "dismissed" in F.TRANSITIONS.get(fstatus, ()) else "resolved"
        F.set_status(
            conn, finding_id, target, by=by, reason=f"{verdict}: {reason.strip()}", cooldown=DISMISS_QUIET, now=now
        )
        fb = [*(c["feedback"] or []), {"verdict": verdict, "by": by, "at": now.isoformat(), "reason": reason}]
        conn.execute(clue.update().where(clue.c.id == c["id"]).values(status=verdict, feedback=fb, updated_at=now))
        audit.record(
            conn,
            action="clue.dismiss",
            user_id=user_id,
            login=by,
            target=f"finding:{finding_id}",
            detail={"verdict": verdict, "reason": reason, "rule_id": c["rule_id"]},
            at=now,
        )
        tuned = retune(conn, c["enterprise_id"], now=now, params=params) if c["enterprise_id"] else {}
    return {"finding_id": finding_id, "status": verdict, "finding_status": target, "overrides": tuned}


def retune(conn: Connection, enterprise_id: int, *, now: datetime, params: Params | None = None) -> dict[str, Any]:
    """Recompute the enterprise's ``source='tuning'`` overrides from its verdicts (manual rows are kept)."""
    params = params or resolve_params()
    rows = conn.execute(
        select(clue.c.rule_id, clue.c.status, clue.c.feedback, clue.c.updated_at).where(
            clue.c.enterprise_id == enterprise_id, clue.c.status.in_(VERDICTS)
        )
    ).all()
    ent = str(enterprise_id)
    dismissals = []
    for rule_id, status, feedback, updated in rows:
        last = (feedback or [{}])[-1]
        at = datetime.fromisoformat(last["at"]) if last.get("at") else updated
        dismissals.append(CL.Dismissal(ent, rule_id, status, last.get("reason", ""), at))
    tuned = CL.tune_from_dismissals(dismissals, params, as_of=now).get(ent, {})
    key_rule = {key: rid for rid, (key, _f, _b) in CL.TUNABLE.items()}
    counts: dict[str, int] = {}
    for d in dismissals:
        if d.verdict == "FALSE_POSITIVE":
            counts[d.rule_id] = counts.get(d.rule_id, 0) + 1
    conn.execute(
        rule_override.delete().where(rule_override.c.enterprise_id == enterprise_id, rule_override.c.source == "tuning")
    )
    manual = set(
        conn.execute(select(rule_override.c.key).where(rule_override.c.enterprise_id == enterprise_id)).scalars()
    )
    for key, value in tuned.items():
        if key in manual:
            continue  # a person's setting wins over tuning
        rid = key_rule[key]
        conn.execute(
            rule_override.insert().values(
                enterprise_id=enterprise_id,
                rule_id=rid,
                key=key,
                value=value,
                param_version=params.version,
                source="tuning",
                basis={"false_positives": counts.get(rid, 0), "default": params[key]},
                updated_by="tuning",
                updated_at=now,
            )
        )
    return tuned


def set_override(
    store: Store, enterprise_id: int, key: str, value: Any, *, by: str, user_id: int | None = None
) -> None:
    """A person's per-enterprise parameter setting (validated against the catalogue's parameters)."""
    params = resolve_params().with_overrides({key: value})  # raises ParamError naming the key
    rid = next((r for r, (k, _f, _b) in CL.TUNABLE.items() if k == key), key.split(".")[0])
    now = now_utc()
    with store.begin() as conn:
        conn.execute(
            rule_override.delete().where(rule_override.c.enterprise_id == enterprise_id, rule_override.c.key == key)
        )
        conn.execute(
            rule_override.insert().values(
                enterprise_id=enterprise_id,
                rule_id=rid[:8],
                key=key,
                value=params[key],
                param_version=params.version,
                source="manual",
                basis={},
                updated_by=by,
                updated_at=now,
            )
        )
        audit.record(
            conn,
            action="clue.override",
            user_id=user_id,
            login=by,
            target=f"site:{enterprise_id}",
            detail={"key": key, "value": params[key]},
            at=now,
        )


def overrides_of(store: Store, enterprise_id: int) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        q = select(rule_override).where(rule_override.c.enterprise_id == enterprise_id)
        return [dict(r) for r in conn.execute(q.order_by(rule_override.c.key)).mappings()]


# ------------------------------------------------------------------------------------------------ cases
def add_case(
    store: Store,
    *,
    case_no: str,
    opened_at: datetime,
    enterprise_id: int | None = None,
    clue_source: str | None = None,
    non_site: bool | None = None,
    non_site_evidence: bool = False,
    decided_at: datetime | None = None,
    decision: str | None = None,
    fine: float | None = None,
    by: str,
    user_id: int | None = None,
) -> int:
    """Register a case entered by hand (e.g. found on site); ``non_site`` defaults from ``clue_source``."""
    if opened_at.tzinfo is None or (decided_at is not None and decided_at.tzinfo is None):
        raise ValueError("case times must be timezone-aware")
    flag = (clue_source in NON_SITE_SOURCES) if non_site is None else non_site
    with store.begin() as conn:
        if conn.execute(select(case.c.id).where(case.c.case_no == case_no)).first() is not None:
            raise ValueError(f"case number {case_no} already exists")
        cid = conn.execute(
            case.insert()
            .values(
                case_no=case_no,
                enterprise_id=enterprise_id,
                clue_source=clue_source,
                non_site=flag,
                non_site_evidence=non_site_evidence,
                opened_at=opened_at,
                decided_at=decided_at,
                status="decided" if decision else "open",
                decision=decision,
                fine=fine,
                created_by=by,
            )
            .returning(case.c.id)
        ).scalar_one()
        audit.record(
            conn,
            action="case.add",
            user_id=user_id,
            login=by,
            target=f"case:{cid}",
            detail={"case_no": case_no, "non_site": flag},
        )
    return int(cid)


def decide_case(
    store: Store,
    case_id: int,
    *,
    decision: str,
    decided_at: datetime,
    fine: float | None = None,
    non_site_evidence: bool | None = None,
    by: str,
    user_id: int | None = None,
) -> None:
    """Record the decision of a case (penalty, no_penalty …) and whether remote data was its decisive evidence."""
    values: dict[str, Any] = {"status": "decided", "decision": decision, "decided_at": decided_at, "fine": fine}
    if non_site_evidence is not None:
        values["non_site_evidence"] = non_site_evidence
    with store.begin() as conn:
        if not conn.execute(case.update().where(case.c.id == case_id).values(**values)).rowcount:
            raise LookupError(f"case {case_id} does not exist")
        audit.record(
            conn,
            action="case.decide",
            user_id=user_id,
            login=by,
            target=f"case:{case_id}",
            detail={"decision": decision, "fine": fine},
        )


def list_cases(store: Store, *, enterprise_id: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
    q = select(case, site.c.name.label("enterprise_name")).outerjoin(site, site.c.id == case.c.enterprise_id)
    if enterprise_id is not None:
        q = q.where(case.c.enterprise_id == enterprise_id)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(case.c.opened_at.desc()).limit(limit)).mappings()]


@dataclass(frozen=True)
class Share:
    """One non-site case share figure with its basis (enforcement.md §5)."""

    basis: str  # discovery | evidence
    numerator: int
    denominator: int
    start: datetime
    end: datetime
    definition: str
    goal: float | None = None

    @property
    def share(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator

    def as_dict(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "share": self.share,
            "share_pct": None if self.share is None else round(100 * self.share, 1),
            "goal": self.goal,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "definition": self.definition,
        }


def non_site_share(
    store: Store, start: datetime, end: datetime, *, basis: str = "discovery", count_basis: str = "decided"
) -> Share:
    """非现场执法占比 over ``[start, end)`` (enforcement.md §5).

    ``discovery``: cases registered (立案, ``opened_at``) in the period whose originating clue came from a non-site
    channel (``non_site``) / all cases registered in the period — the 2026 goal (≥ 40 %) is drawn on it.
    ``evidence``: penalty cases (``decision='penalty'``) counted by ``count_basis`` (``decided``: decided in the
    period; ``opened``: registered in it) whose decisive evidence is remote data (``non_site_evidence``) / all
    penalty cases of the period — the annual report's figure.
    """
    if basis == "discovery":
        when, flag, cond = case.c.opened_at, case.c.non_site, True
        text = "立案时间在期内、线索来自非现场渠道的案件数 / 期内立案总数"
    elif basis == "evidence":
        when = case.c.decided_at if count_basis == "decided" else case.c.opened_at
        flag, cond = case.c.non_site_evidence, case.c.decision == "penalty"
        text = "期内作出处罚决定、关键证据为远程数据的处罚案件数 / 期内处罚案件总数"
    else:
        raise ValueError(f"basis {basis!r}; expected discovery or evidence")
    period = and_(when >= start, when < end, cond)
    with store.engine.connect() as conn:
        den = conn.execute(select(func.count()).select_from(case).where(period)).scalar_one()
        num = conn.execute(select(func.count()).select_from(case).where(period, flag.is_(True))).scalar_one()
    return Share(basis, int(num), int(den), start, end, text, KPI_GOAL if basis == "discovery" else None)


def non_site_kpi(store: Store, start: datetime, end: datetime) -> dict[str, Any]:
    """Both figures, each with its basis; the goal line is on ``discovery``."""
    return {
        "discovery": non_site_share(store, start, end, basis="discovery").as_dict(),
        "evidence": non_site_share(store, start, end, basis="evidence").as_dict(),
    }


# ------------------------------------------------------------------------------------------ compliance
def _period_bounds(p: tuple[int, int], months: bool) -> tuple[datetime, datetime]:
    y, k = p
    m0 = k if months else 3 * (k - 1) + 1
    step = 1 if months else 3
    m1 = m0 + step
    a = datetime(y, m0, 1, tzinfo=BEIJING)
    b = datetime(y + (m1 - 1) // 12, (m1 - 1) % 12 + 1, 1, tzinfo=BEIJING)
    return a, b


def coverage(store: Store, enterprise_id: int, *, as_of: datetime, months: bool = False) -> dict[tuple, float]:
    """Share of required outlet-hours with a valid (flag N) pollutant value, per period of the compliance string.

    Required hours of an outlet run from its first stored pollutant hour to ``as_of``: quarters before monitoring
    began are not "insufficient". Periods with nothing required are absent.
    """
    pers = CL.periods(as_of, months=months)
    lo, _ = _period_bounds(pers[0], months)
    with store.engine.connect() as conn:
        outs = (
            conn.execute(
                select(site.c.id).join(outlet, outlet.c.site_id == site.c.id).where(site.c.parent_id == enterprise_id)
            )
            .scalars()
            .all()
        )
        if not outs:
            return {}
        firsts = dict(
            conn.execute(
                select(series_t.c.site_id, func.min(latest.c.first_ts))
                .join(latest, latest.c.series_id == series_t.c.id)
                .where(
                    series_t.c.site_id.in_(outs), series_t.c.parameter.in_(POLLUTANTS), series_t.c.resolution == "hour"
                )
                .group_by(series_t.c.site_id)
            ).all()
        )
        rows = conn.execute(
            select(series_t.c.site_id, observation.c.ts)
            .join(observation, observation.c.series_id == series_t.c.id)
            .where(
                series_t.c.site_id.in_(outs),
                series_t.c.parameter.in_(POLLUTANTS),
                series_t.c.resolution == "hour",
                observation.c.flag == "N",
                observation.c.ts >= epoch_seconds(lo),
                observation.c.ts < epoch_seconds(as_of),
            )
            .distinct()
        ).all()
    have: dict[tuple, int] = {}
    for _sid, ts in rows:
        p = CL.period_of(datetime.fromtimestamp(ts, BEIJING), months=months)
        have[p] = have.get(p, 0) + 1
    out: dict[tuple, float] = {}
    end_s = epoch_seconds(as_of)
    for p in pers:
        a, b = _period_bounds(p, months)
        need = 0
        for sid in outs:
            first = firsts.get(sid)
            if first is None:
                continue
            s, e = max(epoch_seconds(a), int(first)), min(epoch_seconds(b), end_s)
            need += max(0, (e - s) // 3600)
        if need > 0:
            out[p] = have.get(p, 0) / need
    return out


def not_evaluable_share(store: Store, enterprise_id: int, *, as_of: datetime, months: bool = False) -> dict:
    """Share of ``not_evaluable`` (rule, subject, day) verdicts of the enterprise's subjects, per period."""
    pers = CL.periods(as_of, months=months)
    lo, _ = _period_bounds(pers[0], months)
    with store.engine.connect() as conn:
        subs = conn.execute(select(site.c.id).where(site.c.parent_id == enterprise_id)).scalars().all()
        rows = conn.execute(
            select(clue_eval.c.day, clue_eval.c.state, func.count())
            .where(clue_eval.c.site_id.in_(subs), clue_eval.c.day >= lo.date())
            .group_by(clue_eval.c.day, clue_eval.c.state)
        ).all()
    tot: dict[tuple, list[int]] = {}
    for day, state, n in rows:
        p = (day.year, day.month) if months else (day.year, (day.month - 1) // 3 + 1)
        t = tot.setdefault(p, [0, 0])
        t[1] += n
        if state == "not_evaluable":
            t[0] += n
    return {p: a / b for p, (a, b) in tot.items() if b}


def compliance(store: Store, enterprise_id: int, *, as_of: datetime | None = None) -> dict[str, Any]:
    """The enterprise's compliance strings (12 quarters and 12 months) with the figures shown beside them."""
    as_of = as_of or now_utc()
    with store.engine.connect() as conn:
        crow = conn.execute(
            select(
                clue.c.severity,
                clue.c.status,
                clue.c.window_start,
                clue.c.rule_id,
                clue.c.metrics,
                finding.c.status.label("fstatus"),
            )
            .join(finding, finding.c.id == clue.c.finding_id)
            .where(clue.c.enterprise_id == enterprise_id, clue.c.window_start.is_not(None))
        ).all()
        cases = (
            conn.execute(
                select(case.c.opened_at).where(case.c.enterprise_id == enterprise_id, case.c.finding_id.is_(None))
            )
            .scalars()
            .all()
        )
    ent = str(enterprise_id)
    recs = [CL.ClueRecord(ent, r.severity, r.status, r.window_start) for r in crow]
    recs += [CL.ClueRecord(ent, "S1", "CASE_FILED", t) for t in cases]
    out: dict[str, Any] = {"as_of": as_of.isoformat()}
    for key, months in (("quarters", False), ("months", True)):
        cov = coverage(store, enterprise_id, as_of=as_of, months=months)
        nev = not_evaluable_share(store, enterprise_id, as_of=as_of, months=months)
        merged = dict(cov)
        for p, share in nev.items():
            if share > 0.25:
                merged[p] = min(merged.get(p, 1.0), 0.0)
        pers = CL.periods(as_of, months=months)
        out[key] = {
            "string": CL.compliance_string(recs, ent, as_of=as_of, coverage=merged, months=months),
            "periods": [f"{y}-{k:02d}" if months else f"{y}Q{k}" for y, k in pers],
            "coverage": {(f"{y}-{k:02d}" if months else f"{y}Q{k}"): round(v, 4) for (y, k), v in cov.items()},
        }
    lo, _ = _period_bounds(CL.periods(as_of)[0], False)
    recent = [r for r in crow if r.window_start >= lo]
    c01 = [r for r in recent if r.rule_id == "C01"]
    open_by = {
        s: sum(1 for r in recent if r.severity == s and r.fstatus in F.LIVE and r.status not in CLOSED_CLUE)
        for s in ("S1", "S2", "S3")
    }
    out |= {
        "open_clues": open_by,
        "confirmed_clues": sum(1 for r in recent if r.status in ("CONFIRMED", "CASE_FILED")),
        "exceedance_hours": sum(int((r.metrics or {}).get("n_hours", 0)) for r in c01),
        "max_exceed_pct": max((float((r.metrics or {}).get("exceed_pct", 0)) for r in c01), default=None),
        "current_status": "violation" if open_by["S1"] else ("watch" if open_by["S2"] else "no_open_clue"),
    }
    return out
