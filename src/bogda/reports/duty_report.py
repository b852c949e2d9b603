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
the task event log), the problem list (findings) and the non-site clues.
"""

from __future__ import annotations

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


def collect(store: Store, year: int) -> tuple[dict[str, Figure], dict[str, Any]]:
    """Every figure the report may use (key → figure), and the tables."""
    period = Period.year(year)
    figs = ledger_figures(store, period)
    now, before = assess_period(store, period, "year"), assess_period(store, Period.year(year - 1), "year")
    if now.daily.height:
        figs.update(air_figures(now, before, "year"))
    figs.update(grid_figures(store, period))
    figs.update(problem_figures(store, period))
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
