"""The shift report (值班日报 / 交接班报告) of the duty officer's desk (issue 11 §3; governance.md §3.9 "Shift report").

One report per shift — by default 08:30 → 08:30 Beijing time (governance §5 ``shift_start``) — as a printable page
and a DOCX, stored as ``report(kind='shift')`` with the provenance of every figure. Contents:

1. air now (as of the shift end): the prefecture's and counties' newest hourly AQI, today's daily AQI so far,
   stations offline, warnings in force and advisories, the 3-day forecast of the latest run issued before the end
   with the range the duty forecaster published for each day (the publication in force at the end, 预报发布);
2. what came in: new findings by kind and severity with their list, alarms opened and closed, new fire events and
   the verdicts received, new S1/S2 clues, petitions received;
3. what was dispatched: tasks created and dispatched (from the task event log) with owner and deadline, and
   findings still without a task at the shift end, with their age;
4. what is overdue: tasks overdue at the shift end by county with escalation level and card, SLA breaches during
   the shift (close deadline passed in the shift while not closed), escalations and severity rises;
5. the officer's notes and handover items; 6. signature lines.

The wording and order are a template the bureau edits (``templates/shift_report.md.j2``, or any file given with
``template=``; the web desk uses the setting ``reports.shift_template``): the markup of :mod:`bogda.reports.markup`,
shared with the annual duty report. The code collects the figures (:func:`collect`) and builds the tables
(:func:`tables`); the template places them, printing every count through ``f("key")`` with its reference mark.

Every count is a :class:`~bogda.ledger.figures.Figure` naming its query and the ids of its records; the appendix
lists them. A past shift is rebuilt as of its end: counts come from time stamps and the append-only task event log
(``task_event``), not from the current state — except the escalation level and card of an overdue task, which the
task row holds only in its current value (the event log's ``escalate`` and ``card`` events in the shift are listed
separately).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select

from bogda.ledger.figures import Figure, refs
from bogda.reports.markup import MarkupError as MarkupError  # re-exported: the faces catch it
from bogda.reports.markup import load, packaged, parse, render_text
from bogda.reports.provenance import Sources
from bogda.reports.render import Block, Document, sha256, to_docx, to_html
from bogda.store import Store
from bogda.store.schema import (
    advisory,
    alarm,
    aqi_daily,
    aqi_hourly,
    clue,
    finding,
    fire_event,
    forecast,
    forecast_publication,
    forecast_publication_day,
    forecast_run,
    petition,
    place,
    report,
    task,
    task_event,
    task_finding,
    warning,
)
from bogda.timeutil import BEIJING, beijing_date, day_start_utc, epoch_seconds, now_utc

TEMPLATE = "shift_report.md.j2"
"""The packaged template (``src/bogda/reports/templates/``); the bureau's own is given with ``template=``."""
SHIFT_START = time(8, 30)
"""Start of the day shift, Beijing time (governance.md §5 ``shift_start`` [D])."""
SHIFT_HOURS = 24
KIND_ZH = {
    "alarm": "监测报警",
    "fire": "火点",
    "clue": "违法线索",
    "warning": "预警/上级交办",
    "advisory": "气象提示",
    "hotspot": "走航热点",
    "petition": "信访",
    "inspection": "检查",
    "incident": "突发事件",
    "patrol": "巡查",
}
SEVERITY_ZH = {"low": "低", "medium": "中", "high": "高", "critical": "紧急"}
STATE_ZH = {
    "NEW": "待派发",
    "DISPATCHED": "已派发",
    "ACCEPTED": "已签收",
    "HANDLING": "处置中",
    "REVIEW": "待审核",
    "SUSPENDED": "挂账",
    "CLOSED": "已办结",
    "REOPENED": "重新打开",
    "CANCELLED": "已取消",
}
CARD_ZH = {"none": "无", "blue": "蓝牌", "yellow": "黄牌", "red": "红牌"}
ACTIVE_WARNINGS = ("issued", "changed")
MAX_LIST = 200
"""Rows listed per table (the counts and the appendix always cover all of them)."""


@dataclass(frozen=True)
class Shift:
    """A duty shift ``[start, end)`` (UTC-aware instants)."""

    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        a, b = self.start.astimezone(BEIJING), self.end.astimezone(BEIJING)
        return f"{a:%Y年%m月%d日 %H:%M} 至 {b:%m月%d日 %H:%M}"

    @property
    def period(self) -> str:
        """The ``report.period`` key: start in Beijing time, ``2026-11-28T08:30``."""
        return f"{self.start.astimezone(BEIJING):%Y-%m-%dT%H:%M}"

    def has(self, ts: datetime | None) -> bool:
        return ts is not None and self.start <= ts < self.end


def shift_of(day: date, *, start: time = SHIFT_START, hours: int = SHIFT_HOURS) -> Shift:
    """The shift that starts at ``start`` (Beijing) on ``day``."""
    if not 1 <= hours <= 48:
        raise ValueError(f"a shift lasts 1 … 48 hours, not {hours}")
    begin = datetime.combine(day, start, tzinfo=BEIJING)
    return Shift(begin.astimezone(UTC), (begin + timedelta(hours=hours)).astimezone(UTC))


def shift_at(ts: datetime, *, start: time = SHIFT_START, hours: int = SHIFT_HOURS) -> Shift:
    """The shift (of ``hours``, starting daily at ``start`` Beijing time) that contains ``ts``."""
    local = ts.astimezone(BEIJING)
    day = local.date() if local.time() >= start else local.date() - timedelta(days=1)
    return shift_of(day, start=start, hours=hours)


def parse_shift(text: str, *, hours: int = SHIFT_HOURS) -> Shift:
    """A shift from ``YYYY-MM-DD`` (the shift starting at 08:30 that day) or ``YYYY-MM-DDTHH:MM`` (Beijing).

    Raises ``ValueError`` naming the text on anything else.
    """
    try:
        if "T" in text:
            local = datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=BEIJING)
            return shift_of(local.date(), start=local.time(), hours=hours)
        return shift_of(date.fromisoformat(text), hours=hours)
    except ValueError as exc:
        raise ValueError(f"shift {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM (Beijing time) — {exc}") from exc


# --- the figures -----------------------------------------------------------------------------------------------


@dataclass
class ShiftReport:
    shift: Shift
    figures: dict[str, Figure]
    lists: dict[str, list[dict[str, Any]]]
    document: Document
    sources: Sources
    as_of: datetime
    meta: dict[str, Any] = field(default_factory=dict)
    template_version: str = ""
    """The first 12 hex digits of the template's SHA-256 (stored in the ``report`` row)."""


def _fig(key: str, label: str, rows: list[dict[str, Any]], table: str, query: str, unit: str = "件") -> Figure:
    return Figure(key, label, len(rows), unit, 0, query, refs(table, rows))


def _bj(ts: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    return "—" if ts is None else ts.astimezone(BEIJING).strftime(fmt)


def _areas(conn: Any) -> tuple[dict[str, str], dict[int, str]]:
    """Area code → name (prefecture and counties), and place id → county name for every place below a county."""
    rows = conn.execute(select(place.c.id, place.c.code, place.c.name, place.c.kind, place.c.parent_id)).all()
    names = {r.code: r.name for r in rows if r.kind in ("prefecture", "county")}
    parent = {r.id: r.parent_id for r in rows}
    kind = {r.id: r.kind for r in rows}
    name = {r.id: r.name for r in rows}
    county: dict[int, str] = {}
    for pid in parent:
        p, seen = pid, set()
        while p is not None and p not in seen and kind.get(p) != "county":
            seen.add(p)
            p = parent.get(p)
        if p is not None and kind.get(p) == "county":
            county[pid] = name[p]
    return names, county


def collect(store: Store, shift: Shift) -> tuple[dict[str, Figure], dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Every figure and list of the shift report, as of the shift end (see the module docstring)."""
    s, e = shift.start, shift.end
    words = f"值班时段 {shift.label}（北京时间）"
    figs: dict[str, Figure] = {}
    lists: dict[str, list[dict[str, Any]]] = {}
    meta: dict[str, Any] = {}
    with store.engine.connect() as conn:
        names, county_of = _areas(conn)

        # (1) air now: newest hourly AQI before the end, today's daily AQI so far
        hi = epoch_seconds(e) - 3600
        lo = hi - 6 * 3600
        hourly = conn.execute(
            select(aqi_hourly.c.target_kind, aqi_hourly.c.target_code, aqi_hourly.c.ts, aqi_hourly.c.aqi)
            .where(
                aqi_hourly.c.target_kind.in_(("prefecture", "county")),
                aqi_hourly.c.ts >= lo,
                aqi_hourly.c.ts <= hi,
                aqi_hourly.c.aqi.is_not(None),
            )
            .order_by(aqi_hourly.c.ts)
        ).all()
        newest: dict[str, tuple[str, int, int]] = {}
        for kind, code, ts, aqi in hourly:
            newest[code] = (kind, int(ts), int(aqi))
        today = beijing_date(e - timedelta(seconds=1))
        daily = {
            code: (aqi, status)
            for code, aqi, status in conn.execute(
                select(aqi_daily.c.target_code, aqi_daily.c.aqi, aqi_daily.c.status).where(
                    aqi_daily.c.target_kind.in_(("prefecture", "county")),
                    aqi_daily.c.ts == epoch_seconds(day_start_utc(today)),
                )
            ).all()
        }
        air = []
        for code, name in sorted(names.items(), key=lambda x: (len(x[0]) > 6, x[0])):
            kind, ts, aqi = newest.get(code, ("", 0, None))  # type: ignore[assignment]
            d_aqi, d_status = daily.get(code, (None, None))
            air.append(
                {
                    "code": code,
                    "name": name,
                    "aqi": aqi,
                    "hour": datetime.fromtimestamp(ts, BEIJING).strftime("%m-%d %H:00") if ts else "—",
                    "daily_aqi": d_aqi,
                    "daily_status": d_status or "",
                }
            )
        lists["air"] = air

        warns = [
            dict(r._mapping)
            for r in conn.execute(
                select(warning.c.id, warning.c.area_code, warning.c.level, warning.c.start_date, warning.c.end_date)
                .where(
                    warning.c.state.in_(ACTIVE_WARNINGS),
                    warning.c.start_date <= today,
                    warning.c.end_date >= today,
                    or_(warning.c.decided_at.is_(None), warning.c.decided_at < e),
                )
                .order_by(warning.c.start_date)
            )
        ]
        lists["warnings"] = warns
        figs["warnings"] = _fig("warnings", "生效的重污染天气预警", warns, "warning", f"预警：{today}生效（已发布）")
        advs = [
            dict(r._mapping)
            for r in conn.execute(
                select(advisory.c.id, advisory.c.area_code, advisory.c.kind, advisory.c.date).where(
                    advisory.c.date >= today, advisory.c.date <= today + timedelta(days=2), advisory.c.created_at < e
                )
            )
        ]
        lists["advisories"] = advs
        figs["advisories"] = _fig("advisories", "不利气象条件提示", advs, "advisory", f"气象提示：{today}起3天")

        run = conn.execute(
            select(forecast_run.c.id, forecast_run.c.issue_time)
            .where(forecast_run.c.kind == "operational", forecast_run.c.issue_time < e)
            .order_by(forecast_run.c.issue_time.desc(), forecast_run.c.id.desc())
            .limit(1)
        ).first()
        fc: list[dict[str, Any]] = []
        if run is not None:
            pref = conn.execute(
                select(place.c.code).where(place.c.kind == "prefecture").order_by(place.c.level, place.c.id)
            ).scalar()
            rows = conn.execute(
                select(
                    forecast.c.method, forecast.c.valid_start, forecast.c.mean, forecast.c.p10, forecast.c.p90
                ).where(
                    forecast.c.run_id == run.id,
                    forecast.c.item == "AQI",
                    forecast.c.resolution == "day",
                    forecast.c.target_code == pref,
                )
            ).all()

            # the primary method (LightGBM, else damped persistence) when a run stores baselines beside it
            def pref_rank(method: str) -> int:
                return 0 if method.startswith("lgbm") else (1 if method == "damped_persistence" else 2)

            best: dict[date, tuple[int, Any]] = {}
            for method, vs, mean, p10, p90 in rows:
                d = beijing_date(vs)
                if d > today and (d not in best or pref_rank(method) < best[d][0]):
                    best[d] = (pref_rank(method), {"date": d.isoformat(), "aqi": mean, "p10": p10, "p90": p90})
            fc = [best[d][1] for d in sorted(best)[:3]]
            meta["forecast_run"] = run.id
        # the duty forecaster's publication in force at the shift end (预报发布), beside the run's values
        pub = conn.execute(
            select(forecast_publication.c.id)
            .where(forecast_publication.c.published_at < e)
            .order_by(forecast_publication.c.issue_date.desc(), forecast_publication.c.id.desc())
            .limit(1)
        ).scalar()
        published: dict[str, str] = {}
        if pub is not None:
            pref_code = conn.execute(
                select(place.c.code).where(place.c.kind == "prefecture").order_by(place.c.level, place.c.id)
            ).scalar()
            for day, lo, hi in conn.execute(
                select(
                    forecast_publication_day.c.day, forecast_publication_day.c.aqi_lo, forecast_publication_day.c.aqi_hi
                ).where(
                    forecast_publication_day.c.publication_id == pub,
                    forecast_publication_day.c.area_code == pref_code,
                )
            ):
                published[day.isoformat()] = f"{lo}–{hi}"
            meta["forecast_publication"] = pub
        for f in fc:
            f["published"] = published.get(f["date"])
        lists["forecast"] = fc

        # (2) what came in
        new = [
            dict(r._mapping)
            for r in conn.execute(
                select(
                    finding.c.id,
                    finding.c.kind,
                    finding.c.severity,
                    finding.c.title,
                    finding.c.detected_at,
                    finding.c.place_id,
                ).where(finding.c.detected_at >= s, finding.c.detected_at < e)
            )
        ]
        new.sort(key=lambda f: f["detected_at"])
        for f in new:
            f["county"] = county_of.get(f["place_id"], "—")
        lists["findings_new"] = new
        figs["findings_new"] = _fig("findings_new", "新增问题", new, "finding", f"问题清单：{words}内发现")
        for k in sorted({f["kind"] for f in new}):
            sub = [f for f in new if f["kind"] == k]
            figs[f"findings_new.{k}"] = replace(
                _fig(
                    f"findings_new.{k}",
                    f"新增{KIND_ZH.get(k, k)}",
                    sub,
                    "finding",
                    f"问题清单：{words}内发现，类别 {k}",
                ),
                detail={"name": KIND_ZH.get(k, k)},
            )
        for sev in ("critical", "high", "medium", "low"):
            sub = [f for f in new if f["severity"] == sev]
            figs[f"findings_sev.{sev}"] = _fig(
                f"findings_sev.{sev}",
                f"新增{SEVERITY_ZH[sev]}严重程度问题",
                sub,
                "finding",
                f"问题清单：{words}内发现，严重程度 {sev}",
            )
        opened = [
            dict(r._mapping)
            for r in conn.execute(
                select(alarm.c.id, alarm.c.target_code, alarm.c.severity).where(
                    alarm.c.opened_at >= s, alarm.c.opened_at < e
                )
            )
        ]
        closed = [
            dict(r._mapping)
            for r in conn.execute(select(alarm.c.id).where(alarm.c.closed_at >= s, alarm.c.closed_at < e))
        ]
        figs["alarms_opened"] = _fig("alarms_opened", "新开报警", opened, "alarm", f"报警：{words}内开启（opened_at）")
        figs["alarms_closed"] = _fig("alarms_closed", "关闭报警", closed, "alarm", f"报警：{words}内关闭（closed_at）")
        fires = [
            {"id": r.event_id, **dict(r._mapping)}
            for r in conn.execute(
                select(fire_event.c.event_id, fire_event.c.county_code, fire_event.c.max_frp).where(
                    fire_event.c.first_seen_utc >= s, fire_event.c.first_seen_utc < e, fire_event.c.status != "merged"
                )
            )
        ]
        verdicts = [
            {"id": r.event_id, **dict(r._mapping)}
            for r in conn.execute(
                select(fire_event.c.event_id, fire_event.c.outcome).where(
                    fire_event.c.verified_at >= s, fire_event.c.verified_at < e
                )
            )
        ]
        figs["fires_new"] = Figure(
            "fires_new",
            "新增火点事件",
            len(fires),
            "起",
            0,
            f"火点事件：{words}内首次发现（first_seen_utc，不含已合并事件）",
            tuple(sorted(f"fire_event:{f['id']}" for f in fires)),
        )
        figs["fire_verdicts"] = Figure(
            "fire_verdicts",
            "收到核查结论的火点事件",
            len(verdicts),
            "起",
            0,
            f"火点事件：{words}内收到核查结论（verified_at）",
            tuple(sorted(f"fire_event:{f['id']}" for f in verdicts)),
        )
        clues = [
            dict(r._mapping)
            for r in conn.execute(
                select(clue.c.id, clue.c.rule_id, clue.c.severity).where(
                    clue.c.created_at >= s, clue.c.created_at < e, clue.c.severity.in_(("S1", "S2"))
                )
            )
        ]
        figs["clues_s12"] = _fig(
            "clues_s12", "新增S1/S2级违法线索", clues, "clue", f"违法线索：{words}内生成，S1或S2级", "条"
        )
        pets = [
            dict(r._mapping)
            for r in conn.execute(
                select(petition.c.id, petition.c.petition_no).where(
                    petition.c.received_at >= s, petition.c.received_at < e
                )
            )
        ]
        figs["petitions"] = _fig("petitions", "收到信访件", pets, "petition", f"信访台账：{words}内受理（received_at）")

        # (3) what was dispatched: from the event log
        evs = [
            dict(r._mapping)
            for r in conn.execute(
                select(
                    task_event.c.id,
                    task_event.c.task_id,
                    task_event.c.event,
                    task_event.c.to_state,
                    task_event.c.at,
                    task_event.c.actor_login,
                    task_event.c.detail,
                ).where(task_event.c.at >= s, task_event.c.at < e)
            )
        ]
        made = sorted({v["task_id"] for v in evs if v["event"] == "create"})
        sent = sorted({v["task_id"] for v in evs if v["event"] == "dispatch"})
        trow = {
            r.id: r
            for r in conn.execute(
                select(
                    task.c.id,
                    task.c.title,
                    task.c.place_id,
                    task.c.severity,
                    task.c.close_due,
                    task.c.state,
                    task.c.escalation_level,
                    task.c.card,
                ).where(task.c.id.in_(sorted(set(made) | set(sent))))
            )
        }
        figs["tasks_created"] = Figure(
            "tasks_created",
            "新建任务",
            len(made),
            "件",
            0,
            f"任务事件（task_event）：{words}内 create 事件的任务",
            refs("task", made),
        )
        figs["tasks_dispatched"] = Figure(
            "tasks_dispatched",
            "派发任务",
            len(sent),
            "件",
            0,
            f"任务事件（task_event）：{words}内 dispatch 事件的任务",
            refs("task", sent),
        )
        lists["tasks_dispatched"] = [
            {
                "id": tid,
                "title": trow[tid].title,
                "owner": _place_name(conn, trow[tid].place_id),
                "severity": trow[tid].severity,
                "close_due": trow[tid].close_due,
            }
            for tid in sent
            if tid in trow
        ]
        # findings without a task at the end: detected before the end, not closed by then, no task attached by then
        attached = select(task_finding.c.finding_id).where(task_finding.c.attached_at < e)
        waiting = [
            dict(r._mapping)
            for r in conn.execute(
                select(finding.c.id, finding.c.kind, finding.c.severity, finding.c.title, finding.c.detected_at).where(
                    finding.c.detected_at < e,
                    or_(
                        finding.c.status.in_(("open", "acknowledged")),
                        and_(finding.c.status.in_(("resolved", "dismissed", "dispatched")), finding.c.status_at >= e),
                    ),
                    finding.c.id.not_in(attached),
                )
            )
        ]
        for w in waiting:
            w["age_h"] = round((e - w["detected_at"]).total_seconds() / 3600, 1)
        waiting.sort(key=lambda w: -w["age_h"])
        lists["undispatched"] = waiting
        figs["undispatched"] = _fig(
            "undispatched",
            "交班时尚未派单的问题",
            waiting,
            "finding",
            f"问题清单：截至交班（{_bj(e)}）已发现、未关闭且未关联任务的问题",
        )

        # (4) what is overdue at the end (closure deadline passed, not closed or cancelled by then)
        late = [
            dict(r._mapping)
            for r in conn.execute(
                select(
                    task.c.id,
                    task.c.title,
                    task.c.place_id,
                    task.c.close_due,
                    task.c.escalation_level,
                    task.c.card,
                    task.c.created_at,
                ).where(
                    task.c.created_at < e,
                    task.c.close_due < e,
                    or_(task.c.closed_at.is_(None), task.c.closed_at >= e),
                    or_(task.c.cancelled_at.is_(None), task.c.cancelled_at >= e),
                )
            )
        ]
        for t in late:
            t["county"] = county_of.get(t["place_id"], "—")
            t["overdue_h"] = round((e - t["close_due"]).total_seconds() / 3600, 1)
        late.sort(key=lambda t: (t["county"], -t["overdue_h"]))
        lists["overdue"] = late
        figs["overdue"] = _fig(
            "overdue", "交班时超期任务", late, "task", f"任务：截至交班（{_bj(e)}）办结时限已过且未办结、未取消"
        )
        by_county = Counter(t["county"] for t in late)
        lists["overdue_by_county"] = [{"county": c, "n": n} for c, n in sorted(by_county.items())]
        for c in sorted(by_county):
            figs[f"overdue_county.{c}"] = replace(
                _fig(
                    f"overdue_county.{c}",
                    f"交班时超期任务（{c}）",
                    [t for t in late if t["county"] == c],
                    "task",
                    f"任务：截至交班（{_bj(e)}）办结时限已过且未办结、未取消，所在县市 {c}",
                ),
                detail={"name": c},
            )
        breaches = [t for t in late if s <= t["close_due"] < e]
        figs["sla_breaches"] = _fig(
            "sla_breaches", "本班新增超时", breaches, "task", f"任务：办结时限在{words}内到期且到期时未办结"
        )
        esc = sorted({v["task_id"] for v in evs if v["event"] == "escalate"})
        rises = sorted({v["task_id"] for v in evs if v["event"] == "severity_raised"})
        figs["escalations"] = Figure(
            "escalations", "提级督办", len(esc), "件", 0, f"任务事件：{words}内 escalate 事件的任务", refs("task", esc)
        )
        figs["severity_rises"] = Figure(
            "severity_rises",
            "严重程度上升",
            len(rises),
            "件",
            0,
            f"任务事件：{words}内 severity_raised 事件的任务",
            refs("task", rises),
        )
    from bogda.monitoring.status import stations_status

    status = stations_status(store, now=e)
    offline = status.filter(status["status"] != "online")
    figs["stations_offline"] = Figure(
        "stations_offline",
        "交班时离线站点",
        offline.height,
        "个",
        0,
        f"站点状态（monitoring.status，截至{_bj(e)}）：非在线的空气站",
        tuple(sorted(f"site:{i}" for i in offline["site_id"].to_list())),
        numerator=offline.height,
        denominator=status.height,
    )
    figs["stations_total"] = Figure(
        "stations_total",
        "全州空气站",
        status.height,
        "个",
        0,
        f"站点状态（monitoring.status，截至{_bj(e)}）：全部空气站",
        refs("site", status["site_id"].to_list()),
    )
    meta["stations_total"] = status.height
    return figs, lists, meta


def _place_name(conn: Any, place_id: int | None) -> str:
    if place_id is None:
        return "辖区外（待指定）"
    return conn.execute(select(place.c.name).where(place.c.id == place_id)).scalar() or str(place_id)


# --- the document ------------------------------------------------------------------------------------------------


def default_template() -> str:
    """The packaged template text (``bogda report shift-template PATH`` writes it out for editing)."""
    return packaged(TEMPLATE)


def _num(v: Any, dp: int = 0) -> str:
    if v is None:
        return "—"
    return f"{v:.{dp}f}" if isinstance(v, float) else str(v)


def tables(
    shift: Shift, lists: dict[str, list[dict[str, Any]]], *, officer: str, handover_to: str, as_of: datetime
) -> dict[str, Block | None]:
    """The tables the template places with ``!table name`` (``None``: no rows, nothing printed)."""
    out: dict[str, Block | None] = {
        "shift": Block(
            "table",
            header=["值班员", "接班人", "生成时间", "数据截至"],
            rows=[[officer or "—", handover_to or "—", _bj(as_of, "%Y-%m-%d %H:%M"), _bj(min(as_of, shift.end))]],
        ),
        "air": Block(
            "table",
            caption="各地最新小时AQI与当日AQI",
            header=["地区", "最新小时", "小时AQI", "当日AQI（截至目前）"],
            rows=[[a["name"], a["hour"], _num(a["aqi"]), _num(a["daily_aqi"])] for a in lists["air"]],
        ),
        "forecast": Block(
            "table",
            caption="未来3天AQI预报（全州：模型预报及其 p10–p90，预报员发布的范围）",
            header=["日期", "AQI", "范围", "发布"],
            rows=[
                [f["date"], _num(f["aqi"]), f"{_num(f['p10'])}–{_num(f['p90'])}", f.get("published") or "未发布"]
                for f in lists["forecast"]
            ],
        ),
        "findings_new": Block(
            "table",
            caption="新增问题清单",
            header=["编号", "时间", "地区", "类别", "严重程度", "标题"],
            rows=[
                [
                    str(f["id"]),
                    _bj(f["detected_at"]),
                    f["county"],
                    KIND_ZH.get(f["kind"], f["kind"]),
                    SEVERITY_ZH.get(f["severity"], f["severity"]),
                    f["title"],
                ]
                for f in lists["findings_new"][:MAX_LIST]
            ],
            small=True,
            widths=[12, 22, 20, 20, 14, 68],
        ),
        "tasks_dispatched": Block(
            "table",
            caption="本班派发的任务",
            header=["任务号", "标题", "责任网格", "等级", "办结时限"],
            rows=[
                [str(r["id"]), r["title"], r["owner"], r["severity"], _bj(r["close_due"])]
                for r in lists["tasks_dispatched"][:MAX_LIST]
            ],
            small=True,
            widths=[14, 66, 34, 12, 30],
        ),
        "undispatched": Block(
            "table",
            caption="尚未派单的问题（按等待时长）",
            header=["编号", "类别", "严重程度", "标题", "已等待（小时）"],
            rows=[
                [
                    str(w["id"]),
                    KIND_ZH.get(w["kind"], w["kind"]),
                    SEVERITY_ZH.get(w["severity"], w["severity"]),
                    w["title"],
                    _num(w["age_h"], 1),
                ]
                for w in lists["undispatched"][:MAX_LIST]
            ],
            small=True,
            widths=[14, 22, 16, 78, 26],
        ),
        "overdue": Block(
            "table",
            caption="超期任务（按县市）",
            header=["县市", "任务号", "标题", "超期（小时）", "督办级别", "亮牌"],
            rows=[
                [
                    r["county"],
                    str(r["id"]),
                    r["title"],
                    _num(r["overdue_h"], 1),
                    str(r["escalation_level"]),
                    CARD_ZH.get(r["card"], r["card"]),
                ]
                for r in lists["overdue"][:MAX_LIST]
            ],
            small=True,
            widths=[22, 14, 66, 20, 16, 14],
        ),
    }
    # the header and the air table are always printed (one row per area); the lists only when they have rows
    return {k: b if k in ("shift", "air") or b.rows else None for k, b in out.items()}


def build(
    store: Store,
    shift: Shift,
    *,
    officer: str = "",
    handover_to: str = "",
    notes: str = "",
    handover_items: str = "",
    now: datetime | None = None,
    template: str | Path | None = None,
) -> ShiftReport:
    """The shift report of ``shift`` as a :class:`~bogda.reports.render.Document` with its sources.

    The wording and order come from ``template`` (a file; default the packaged ``templates/shift_report.md.j2``,
    markup of :mod:`bogda.reports.markup`); the figures and tables from :func:`collect` and :func:`tables`. An
    unknown figure key prints "—" and a warning in ``sources.warnings`` (governance §6); a template Jinja cannot
    render raises :class:`~bogda.reports.markup.MarkupError` naming the file and line.
    """
    as_of = now or now_utc()
    text, name, version = load(template, TEMPLATE)
    figs, lists, meta = collect(store, shift)
    src = Sources()
    tabs = tables(shift, lists, officer=officer, handover_to=handover_to, as_of=as_of)
    context = {
        "shift": shift.label,
        "handover_time": _bj(shift.end, "%Y年%m月%d日 %H:%M"),
        # names typed by people: one line, no markup characters (the notes go through ``!text``, verbatim)
        "officer": _plain_line(officer),
        "handover_to": _plain_line(handover_to),
        "unfinished": as_of < shift.end,
        "has": lambda table: tabs.get(table) is not None,
    }
    filled = render_text(text, figs, src, context, name=name)
    doc = Document("值班日报（交接班报告）")
    for b in parse(filled, tabs, texts={"notes": notes, "handover_items": handover_items}, warnings=src.warnings):
        doc.add(b)
    doc.add(Block("pagebreak"))
    for b in src.appendix():
        doc.add(b)
    meta.update(officer=officer, handover_to=handover_to)
    return ShiftReport(shift, figs, lists, doc, src, as_of, meta, version)


def _plain_line(text: str) -> str:
    return " ".join(text.replace("**", "").replace("[[", "[").split())


def printable_html(r: ShiftReport) -> str:
    """The report as a printable HTML page that asks nothing of any host (the fonts come from the system)."""
    import re

    return re.sub(r',\s*url\("file://[^"]*"\)', "", to_html(r.document))


def generate(
    store: Store,
    shift: Shift,
    out_dir: str | Path,
    *,
    officer: str = "",
    handover_to: str = "",
    notes: str = "",
    handover_items: str = "",
    actor: str = "system",
    now: datetime | None = None,
    template: str | Path | None = None,
) -> tuple[Path, int, ShiftReport]:
    """Write the shift report as DOCX into ``out_dir`` and record it (``report`` row, kind ``shift``, with the
    template version as the duty report records it).

    Returns the DOCX path, the report id and the report.
    """
    r = build(
        store,
        shift,
        officer=officer,
        handover_to=handover_to,
        notes=notes,
        handover_items=handover_items,
        now=now,
        template=template,
    )
    data = to_docx(r.document)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"shift-{shift.period.replace(':', '')}.docx"
    path.write_bytes(data)
    with store.begin() as conn:
        rid = conn.execute(
            report.insert()
            .values(
                kind="shift",
                period=shift.period,
                as_of=min(r.as_of, shift.end),
                docx_sha256=sha256(data),
                template_version=r.template_version,
                figures=r.sources.as_json(),
                created_by=actor,
                created_at=r.as_of,
            )
            .returning(report.c.id)
        ).scalar_one()
    return path, int(rid), r
