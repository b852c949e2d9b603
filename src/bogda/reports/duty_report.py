"""Annual duty-performance report (生态环境保护职责履行情况报告, governance.md §3.9).

The narrative skeleton is a template the bureau edits (``templates/duty_report.md.j2``, or any file given with
``template=``): Jinja2 (sandboxed) over the small markup of :mod:`bogda.reports.markup` (shared with the shift
report) — ``# `` title, ``## `` 一、 headings, ``### `` （一） headings, blank-line paragraphs with
``**lead phrase**``, ``!table counties``, ``@sign`` lines, ``---`` page breaks. The template never holds a number:
it calls ``f("key")`` (value and unit), ``v("key")`` (value), ``t("key")`` (a text figure),
``updown("key", "上升", "下降", unit)``; each call prints the figure with a superscript reference and enters it in
the appendix 「数据来源」 (query, record count, records). An unknown key prints "—" and a render warning
(governance §6).

Figures, "as of" the end of the year (截至{year}年12月底): the ledgers (:func:`bogda.ledger.kpi.ledger_figures`),
the monitoring assessments (:mod:`bogda.reports.air`), the grid's task KPIs (:mod:`bogda.grid.kpi`, replayed from
the task event log), the problem list (findings), the non-site clues and the days avoided by interventions
(``intervention_eval``, forecast.md §3.9: the figure only with its interval and a passed placebo test, else the
verdict; nothing without an evaluation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bogda.ledger.figures import MISSING, Figure, count, round_half_up
from bogda.ledger.kpi import ledger_figures
from bogda.ledger.period import Period
from bogda.reports.air import air_figures, assess_period, county_rows
from bogda.reports.bulletin import simulated_note
from bogda.reports.grid_kpis import grid_figures
from bogda.reports.markup import load, packaged, parse, render_text
from bogda.reports.provenance import Sources
from bogda.reports.render import Block, Document
from bogda.store import Store
from bogda.store.schema import clue, finding

TEMPLATE = "duty_report.md.j2"


@dataclass
class DutyReport:
    document: Document
    sources: Sources
    figures: dict[str, Figure]
    template_version: str


def default_template() -> str:
    return packaged(TEMPLATE)


def problem_figures(store: Store, period: Period) -> dict[str, Figure]:
    """New problems on the problem list and non-site clues filed in the year."""
    with store.engine.connect() as conn:
        fs = [
            dict(r)
            for r in conn.execute(
                select(finding.c.id, finding.c.kind).where(
                    finding.c.detected_at >= period.start, finding.c.detected_at < period.end
                )
            ).mappings()
        ]
        cs = [
            dict(r)
            for r in conn.execute(
                select(clue.c.id, clue.c.status).where(
                    clue.c.created_at >= period.start, clue.c.created_at < period.end
                )
            ).mappings()
        ]
    return {
        "finding.count": count(
            "finding.count", "问题清单新增问题数", "finding", fs, f"问题清单：{period.words}发现的问题", "个"
        ),
        "clue.count": count(
            "clue.count", "非现场监管违法线索数", "clue", cs, f"违法线索：{period.words}生成的线索", "条"
        ),
        "clue.case_filed": count(
            "clue.case_filed",
            "线索转立案数",
            "clue",
            [c for c in cs if c["status"] == "CASE_FILED"],
            f"违法线索：{period.words}生成且已立案（CASE_FILED）的线索",
            "条",
        ),
    }


AVOIDED_EVENT_WORDS = {
    "aqi>200": "重污染天（AQI>200）",
    "o3_8h_primary_aqi>100": "臭氧污染天（AQI>100，首要污染物臭氧）",
}


def _days(v: float) -> str:
    r = round_half_up(v, 1)
    return str(r.to_integral_value()) if r == r.to_integral_value() else str(r)


def avoided_sentence(row: Mapping[str, Any]) -> str:
    """The duty report's clause for one ``intervention_eval`` row (forecast.md §1 "shown only with an interval and
    a passed placebo test"; the rule itself is :func:`bogda.forecast.avoided.presentation`).

    >>> base = {"event": "aqi>200", "avoided_median": 6.0, "ci90": [2.0, 11.0], "mde_days": 4.5, "mde_pct": 9.0,
    ...         "placebo": {"placebo_time_2014": {"passed": True}, "placebo_time_2015": {"passed": True}}}
    >>> avoided_sentence(base | {"verdict": "effect_detected"})
    '避免重污染天（AQI>200）6天（90%区间2～11天）'
    >>> avoided_sentence(base | {"verdict": "no_detectable_effect"})
    '未检出减少重污染天（AQI>200）的效果（最小可检测效应±4.5天）'
    """
    from bogda.forecast.avoided import presentation

    d = presentation(row)
    event = str(row.get("event") or "")
    words = AVOIDED_EVENT_WORDS.get(event, f"日均浓度超过{event.partition('>')[2]}的天数" if ">" in event else event)
    if d["show_figure"]:
        lo, hi = d["ci90"]
        return f"避免{words}{_days(d['avoided'])}天（90%区间{_days(lo)}～{_days(hi)}天）"
    if d["verdict"] == "no_detectable_effect":
        mde = d.get("mde_days")
        said = "" if mde is None else f"（最小可检测效应±{_days(mde)}天）"
        return f"未检出减少{words}的效果{said}"
    return "的评估未通过安慰剂等检验，不给出避免天数"


def avoided_figures(store: Store, period: Period) -> dict[str, Figure]:
    """Days avoided in the year (forecast.md §1, §3.9) from ``intervention_eval``: the newest evaluation whose
    window overlaps the year, heavy-day (AQI > 200) evaluations first. ``avoided.evaluated`` is the number of such
    evaluations (0: the template prints nothing); ``avoided.result`` the clause of :func:`avoided_sentence` with
    the evaluation as its record."""
    from bogda.forecast.avoided import presentation
    from bogda.store.schema import intervention_eval

    first, last = period.first, period.last
    q = (
        select(intervention_eval)
        .where(intervention_eval.c.window_start <= last, intervention_eval.c.window_end >= first)
        .order_by(intervention_eval.c.id.desc())
    )
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    query = f"减排避免天数：{period.words}内的反事实评估（intervention_eval，时段与{period.words}重叠）"
    figs = {
        "avoided.evaluated": count("avoided.evaluated", "减排避免天数评估次数", "intervention_eval", rows, query, "次")
    }
    if not rows:
        return figs
    best = next((r for r in rows if r["event"] == "aqi>200"), rows[0])
    d = presentation(best)
    checks = "通过" if d["placebo_passed"] else "未通过"
    figs["avoided.result"] = Figure(
        "avoided.result",
        "减排措施避免的重污染天数",
        None,
        "",
        0,
        f"减排避免天数：intervention_eval 第{best['id']}号评估（{best['label'] or '—'}，"
        f"{best['window_start']}至{best['window_end']}，事件{best['event']}，"
        f"对照站{'、'.join(best['controls']) or '无'}；"
        f"时间安慰剂检验{checks}，结论{best['verdict']}）",
        (f"intervention_eval:{best['id']}",),
        detail={"text": avoided_sentence(best)},
    )
    return figs


def collect(store: Store, year: int) -> tuple[dict[str, Figure], dict[str, Any]]:
    """Every figure the report may use (key → figure), and the tables."""
    period = Period.year(year)
    figs = ledger_figures(store, period)
    now, before = assess_period(store, period, "year"), assess_period(store, Period.year(year - 1), "year")
    if now.daily.height:
        figs.update(air_figures(now, before, "year"))
    figs.update(grid_figures(store, period))
    figs.update(problem_figures(store, period))
    figs.update(avoided_figures(store, period))
    crow = county_rows(now, before) if now.daily.height else []
    ranked = [r for r in crow if r["composite_index"] is not None]
    if ranked:
        w = ranked[-1]
        figs["county.worst"] = Figure(
            "county.worst",
            "综合指数排名末位县市",
            None,
            "",
            0,
            f"空气质量评价：{period.words}各县市综合指数排名末位",
            w["refs"],
            detail={"text": w["name"]},
        )
    return figs, {"counties": crow, "period": period, "areas": now.areas}


def _county_table(rows: list[dict[str, Any]], year: int) -> Block:
    def num(v: Any, dp: int) -> str:
        return MISSING if v is None else str(round_half_up(v, dp))

    return Block(
        "table",
        header=["排名", "县市", "综合指数", "同比变化", "优良天数比例", "PM₂.₅（μg/m³）"],
        rows=[
            [
                MISSING if r["rank"] is None else str(r["rank"]),
                r["name"],
                num(r["composite_index"], 2),
                MISSING if r["change"] is None else f"{'+' if r['change'] > 0 else ''}{round_half_up(r['change'], 1)}%",
                MISSING if r["good_day_ratio"] is None else f"{round_half_up(r['good_day_ratio'], 1)}%",
                num(r["pm25"], 0),
            ]
            for r in rows
        ],
        caption=f"表1  {year}年各县市环境空气质量综合指数排名（扣除沙尘影响）",
    )


def build(store: Store, year: int, *, template: str | Path | None = None) -> DutyReport:
    """The duty report of ``year``: figures from the records, the template's narrative, the 「数据来源」 appendix."""
    text, name, version = load(template, TEMPLATE)
    figs, extra = collect(store, year)
    src = Sources()
    pref = extra["areas"].prefecture[1] or "本州"
    org = f"{pref}生态环境局"
    filled = render_text(text, figs, src, {"year": year, "prefecture": pref, "org": org}, name=name)
    tables = {"counties": _county_table(extra["counties"], year)}
    doc = Document(f"关于{year}年度生态环境保护职责履行情况的报告", header_note=simulated_note(store))
    for b in parse(filled, tables, warnings=src.warnings):
        doc.add(b)
    doc.add(Block("pagebreak"))
    for b in src.appendix():
        doc.add(b)
    return DutyReport(doc, src, figs, version)
