"""Annual duty-performance report (生态环境保护职责履行情况报告, governance.md §3.9).

The narrative skeleton is a template the bureau edits (``templates/duty_report.md.j2``, or any file given with
``template=``): Jinja2 (sandboxed) over a small markup — ``# `` title, ``## `` 一、 headings, ``### `` （一） headings,
blank-line paragraphs with ``**lead phrase**``, ``!table counties``, ``@sign`` lines, ``---`` page breaks. The
template never holds a number: it calls ``f("key")`` (value and unit), ``v("key")`` (value), ``t("key")`` (a text
figure), ``updown("key", "上升", "下降", unit)``; each call prints the figure with a superscript reference and enters
it in the appendix 「数据来源」 (query, record count, records). An unknown key prints "—" and a render warning
(governance §6).

Figures, "as of" the end of the year (截至{year}年12月底): the ledgers (:func:`bogda.ledger.kpi.ledger_figures`),
the monitoring assessments (:mod:`bogda.reports.air`), the grid's task KPIs (:mod:`bogda.grid.kpi`, replayed from
the task event log), the problem list (findings) and the non-site clues.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from bogda.ledger.figures import MISSING, Figure, count, refs, round_half_up
from bogda.ledger.kpi import ledger_figures
from bogda.ledger.period import Period
from bogda.reports.air import air_figures, assess_period, county_rows
from bogda.reports.bulletin import simulated_note
from bogda.reports.provenance import Sources, runs
from bogda.reports.render import Block, Document
from bogda.store import Store
from bogda.store.schema import clue, finding, task_event

TEMPLATE = "duty_report.md.j2"


@dataclass
class DutyReport:
    document: Document
    sources: Sources
    figures: dict[str, Figure]
    template_version: str


def default_template() -> str:
    return (resources.files("bogda.reports") / "templates" / TEMPLATE).read_text(encoding="utf-8")


def grid_figures(store: Store, period: Period) -> dict[str, Figure]:
    """Grid task KPIs of the year, replayed from ``task_event`` as of the year end (governance §3.6)."""
    from bogda.grid.kpi import KPI_NAMES, compute, replay

    with store.engine.connect() as conn:
        evs = [dict(r) for r in conn.execute(select(task_event)).mappings()]
    facts = replay(evs, as_of=period.end)
    k = compute(facts.values(), period.start, period.end)
    made = [f for f in facts.values() if f.created_at is not None and period.has_time(f.created_at)]
    out: dict[str, Figure] = {
        "grid.tasks": Figure(
            "grid.tasks",
            "网格化监管任务数",
            len(made),
            "件",
            0,
            f"网格任务（task_event 重放，截至{period.last}）：{period.words}创建的任务",
            refs("task", [f.id for f in made]),
        )
    }
    for key in ("closure_on_time", "closure", "confirmed", "sign_timely", "rework", "repeat"):
        r = k[key]
        zh = KPI_NAMES[key][0]
        v = r.value
        out[f"grid.{key}"] = Figure(
            f"grid.{key}",
            zh,
            v,
            "%" if r.percent else "",
            r.dp,
            f"网格任务KPI（governance §3.6）{zh}：分子/分母按{period.words}口径，由任务事件重放",
            refs("task", r.ids),
            numerator=r.numerator,
            denominator=r.denominator,
        )
    return out


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


def render_text(template: str, figs: dict[str, Figure], src: Sources, context: dict[str, Any]) -> str:
    """The filled template text (markup with ``[[n]]`` reference marks)."""

    def get(key: str) -> Figure:
        if key not in figs:
            src.warnings.append(f"template asks for unknown figure {key!r}: printed as {MISSING}")
            return Figure(key, key, None, "", 0, "未找到该数据（模板键名错误或数据缺失）")
        return figs[key]

    def f(key: str) -> str:
        return src.text(get(key))

    def v(key: str) -> str:
        return src.text(get(key), unit=False)

    def t(key: str) -> str:
        return src.text(get(key))

    def n(key: str) -> Decimal | int | None:
        return get(key).value

    def updown(key: str, up: str = "上升", down: str = "下降", unit: str = "%") -> str:
        fig = get(key)
        if fig.value is None:
            return f"{MISSING}[[{src.number(fig)}]]"
        r = round_half_up(fig.value, fig.dp)
        if r == 0:
            return f"持平[[{src.number(fig)}]]"
        return f"{up if r > 0 else down}{abs(r)}{unit}[[{src.number(fig)}]]"

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return env.from_string(template).render(f=f, v=v, t=t, n=n, updown=updown, **context)


def parse(text: str, tables: dict[str, Block]) -> list[Block]:
    """Blocks of the filled markup."""
    blocks: list[Block] = []
    for chunk in [c.strip() for c in text.replace("\r\n", "\n").split("\n\n")]:
        if not chunk:
            continue
        for line in chunk.split("\n") if chunk.startswith(("@sign", "#", "!", "---")) else [chunk]:
            line = line.strip()
            if not line:
                continue
            if line.startswith("### "):
                blocks.append(Block("h2", runs(line[4:])))
            elif line.startswith("## "):
                blocks.append(Block("h1", runs(line[3:])))
            elif line.startswith("# "):
                blocks.append(Block("title", runs(line[2:])))
            elif line.startswith("!table "):
                name = line[7:].strip()
                if name in tables:
                    blocks.append(tables[name])
            elif line.startswith("@sign "):
                blocks.append(Block("signature", runs(line[6:])))
            elif line == "---":
                blocks.append(Block("pagebreak"))
            else:
                blocks.append(Block("para", runs(line.replace("\n", ""))))
    return blocks


def build(store: Store, year: int, *, template: str | Path | None = None) -> DutyReport:
    """The duty report of ``year``: figures from the records, the template's narrative, the 「数据来源」 appendix."""
    text = Path(template).read_text(encoding="utf-8") if template else default_template()
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    figs, extra = collect(store, year)
    src = Sources()
    pref = extra["areas"].prefecture[1] or "本州"
    org = f"{pref}生态环境局"
    filled = render_text(text, figs, src, {"year": year, "prefecture": pref, "org": org})
    tables = {"counties": _county_table(extra["counties"], year)}
    doc = Document(f"关于{year}年度生态环境保护职责履行情况的报告", header_note=simulated_note(store))
    for b in parse(filled, tables):
        doc.add(b)
    doc.add(Block("pagebreak"))
    for b in src.appendix():
        doc.add(b)
    return DutyReport(doc, src, figs, version)
