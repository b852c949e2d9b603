"""Monthly air-quality bulletin (环境空气质量月报, governance.md §3.9 [P Changji City], prefecture edition).

Sections: (1) valid days, 优/良 days, good days and ratio; (2) SO2, NO2, PM10, PM2.5 means, CO mean and P95, O3-8h
mean and P90, composite index; (3) primary pollutants by days and share; (4) year-on-year: good days, each
pollutant % (CO and O3 by monthly means), tally "X降Y平Z升" (平 = 0.0 % after rounding [D]), index change and the
verdict 改善/变差; county rankings by composite index; charts; (5) the month's grid tasks and their closed-loop KPIs
(:mod:`bogda.reports.grid_kpis`, only when tasks were made); footnote "(说明：扣除沙尘影响后评价。)".
Figures come from the monitoring assessments (:mod:`bogda.reports.air`), each with its day rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bogda.ledger.figures import MISSING, Figure, round_half_up
from bogda.ledger.period import Period
from bogda.reports import charts
from bogda.reports.air import POLLUTANTS, air_figures, assess_period, change, county_rows, primary_days
from bogda.reports.grid_kpis import grid_figures
from bogda.reports.provenance import Sources, runs
from bogda.reports.render import Block, Document, Run
from bogda.store import Store

FOOTNOTE = "（说明：扣除沙尘影响后评价。）"
TALLY_ITEMS = ("mean_so2", "mean_no2", "mean_pm10", "mean_pm25", "mean_co", "mean_o3_8h")
TALLY_NAMES = {
    "mean_so2": "SO₂",
    "mean_no2": "NO₂",
    "mean_pm10": "PM₁₀",
    "mean_pm25": "PM₂.₅",
    "mean_co": "CO",
    "mean_o3_8h": "O₃",
}


@dataclass
class Bulletin:
    document: Document
    sources: Sources
    figures: dict[str, Figure] = field(default_factory=dict)


def tally(changes: dict[str, Decimal | None]) -> tuple[int, int, int]:
    """(降, 平, 升) counts; 平 = change rounding to 0.0 % (governance §3.9 [D]); missing changes are left out.

    >>> tally({"a": Decimal("-3.2"), "b": Decimal("0.04"), "c": Decimal("5"), "d": None})
    (1, 1, 1)
    """
    down = flat = up = 0
    for v in changes.values():
        if v is None:
            continue
        r = round_half_up(v, 1)
        if r == 0:
            flat += 1
        elif r < 0:
            down += 1
        else:
            up += 1
    return down, flat, up


def _signed(v: Decimal | None, unit: str = "%") -> str:
    if v is None:
        return MISSING
    r = round_half_up(v, 1)
    return f"{'+' if r > 0 else ''}{r}{unit}"


def _trend(v: Decimal | None, up: str = "上升", down: str = "下降") -> str:
    if v is None:
        return f"变化{MISSING}"
    r = round_half_up(abs(v), 1)
    if round_half_up(v, 1) == 0:
        return "持平"
    return f"{up if v > 0 else down}{r}%"


def simulated_note(store: Store) -> str:
    """A marking for documents built from simulated records (the demo), else ""."""
    from sqlalchemy import select

    from bogda.store.schema import petition, site

    with store.engine.connect() as conn:
        sim = (
            conn.execute(select(site.c.id).where(site.c.simulated.is_(True)).limit(1)).first()
            or conn.execute(select(petition.c.id).where(petition.c.simulated.is_(True)).limit(1)).first()
        )
    return "演示文件：本文件所用数据含模拟数据（标注“模拟”），不代表真实情况。" if sim else ""


def build(store: Store, year: int, month: int) -> Bulletin:
    """The bulletin of ``year``-``month`` (figures with provenance → document)."""
    now_p, before_p = Period.month(year, month), Period.month(year - 1, month)
    now, before = assess_period(store, now_p, "month"), assess_period(store, before_p, "month")
    src = Sources()
    figs: dict[str, Figure] = {}
    code, pref = now.areas.prefecture
    doc = Document(f"{pref}环境空气质量月报", header_note=simulated_note(store))
    doc.add(Block("title", [Run(f"{pref}环境空气质量月报")]))
    doc.add(Block("subtitle", [Run(f"（{year}年{month}月）")]))
    doc.add(Block("subtitle", [Run(f"{pref}生态环境局")]))
    if now.daily.height == 0:
        doc.add(Block("para", [Run(f"{now_p.label}无可用的逐日空气质量数据（aqi_daily），本期月报未生成数据。")]))
        src.warnings.append(f"no daily AQI rows for {now_p.label}")
        return Bulletin(doc, src, figs)
    figs = air_figures(now, before, "month")
    t = src.text
    f = figs
    # (1) days
    doc.add(Block("h1", [Run("一、空气质量状况")]))
    lv = {i: now.value(code, f"days_level_{i}") for i in range(1, 7)}
    lv_before = {i: before.value(code, f"days_level_{i}") for i in range(1, 7)}
    polluted = "、".join(
        f"{name}{int(lv[i])}天"
        for i, name in ((3, "轻度污染"), (4, "中度污染"), (5, "重度污染"), (6, "严重污染"))
        if lv[i]
    )
    doc.add(
        Block(
            "para",
            runs(
                f"{now_p.label}，全州有效监测天数{t(f['month.valid_days'])}，其中优{t(f['month.days_level_1'])}、"
                f"良{t(f['month.days_level_2'])}，优良天数{t(f['month.good_days'])}，"
                f"优良天数比例为{t(f['month.good_day_ratio'])}，同比"
                f"{_ratio_words(f['month.good_ratio_change'], src)}；"
                + (f"污染天气中{polluted}。" if polluted else "无污染天气。")
            ),
        )
    )
    hdr = ["时段", "优", "良", "轻度污染", "中度污染", "重度污染", "严重污染", "优良天数比例"]
    rows = []
    for label, ap, lvs in ((now_p.label, now, lv), (before_p.label, before, lv_before)):
        ratio = ap.value(code, "good_day_ratio")
        rows.append(
            [
                label,
                *[MISSING if lvs[i] is None else str(int(lvs[i])) for i in range(1, 7)],
                MISSING if ratio is None else f"{round_half_up(ratio, 1)}%",
            ]
        )
    doc.add(Block("table", header=hdr, rows=rows, caption=f"表1  {pref}空气质量级别天数（天）"))
    days = now.days(code)
    doc.add(
        Block(
            "image",
            image=charts.daily_aqi(
                days["date"].to_list(), days["aqi"].to_list(), days["level"].to_list(), f"{now_p.label}{pref}逐日AQI"
            ),
            caption=f"图1  {now_p.label}{pref}逐日空气质量指数",
        )
    )
    # (2) concentrations and (4) year on year
    doc.add(Block("h1", [Run("二、主要污染物浓度")]))
    changes: dict[str, Decimal | None] = {}
    table = []
    for metric, label, unit, dp in POLLUTANTS:
        v_now, v_before = now.value(code, metric), before.value(code, metric)
        ch = change(v_now, v_before)
        if metric in TALLY_ITEMS:
            changes[metric] = ch
        table.append([label, unit, _num(v_now, dp), _num(v_before, dp), _signed(ch)])
    ci = f["month.composite_index"]
    ci_ch = f["month.composite_change"]
    table.append(["综合指数", "—", ci.text(), _num(before.value(code, "composite_index"), 2), _signed(ci_ch.value)])
    down, flat, up = tally(changes)
    verdict = _verdict(ci_ch.value)
    parts = "，".join(f"{TALLY_NAMES[m]}{t(f['month.' + m])}（同比{_trend(changes[m])}）" for m in TALLY_ITEMS)
    doc.add(
        Block(
            "para",
            runs(
                f"{now_p.label}，全州{parts}；CO日均值第95百分位数{t(f['month.p95_co'])}，O₃日最大8小时第90百分位数"
                f"{t(f['month.p90_o3_8h'])}。环境空气质量综合指数为{t(ci, unit=False)}，同比{_trend(ci_ch.value)}"
                f"[[{src.number(ci_ch)}]]。六项污染物浓度同比“{down}降{flat}平{up}升”，空气质量同比{verdict}。"
            ),
        )
    )
    doc.add(
        Block(
            "table",
            header=["项目", "单位", now_p.label, before_p.label, "同比变化"],
            rows=table,
            caption=f"表2  {pref}主要污染物浓度及同比变化",
        )
    )
    doc.add(
        Block(
            "image",
            image=charts.pollutant_change(
                [TALLY_NAMES[m] for m in TALLY_ITEMS],
                [_chart_v(now.value(code, m), m) for m in TALLY_ITEMS],
                [_chart_v(before.value(code, m), m) for m in TALLY_ITEMS],
                f"{pref}主要污染物浓度同比",
                (now_p.label, before_p.label),
            ),
            caption=f"图2  {pref}主要污染物浓度同比变化",
        )
    )
    # (3) primary pollutants
    doc.add(Block("h1", [Run("三、首要污染物")]))
    prim = primary_days(now, code)
    over50 = sum(1 for a in days["aqi"].to_list() if a is not None and a > 50)
    if prim:
        pf = Figure(
            "month.primary",
            "首要污染物天数",
            over50,
            "天",
            0,
            f"空气质量评价：{pref}（{code}）{now_p.words}逐日AQI大于50的天数及其首要污染物",
            now.day_refs(code),
        )
        desc = "、".join(f"{name}{n}天（占{round_half_up(Decimal(n) * 100 / over50, 1)}%）" for name, n in prim)
        doc.add(Block("para", runs(f"{now_p.label}，全州出现首要污染物的天数为{t(pf)}，其中{desc}。")))
        doc.add(
            Block(
                "table",
                header=["首要污染物", "天数", "占比"],
                rows=[[n, str(k), f"{round_half_up(Decimal(k) * 100 / over50, 1)}%"] for n, k in prim],
                caption=f"表3  {pref}首要污染物统计",
            )
        )
    else:
        doc.add(Block("para", [Run(f"{now_p.label}，全州逐日AQI均不大于50，无首要污染物。")]))
    # county rankings
    doc.add(Block("h1", [Run("四、各县市环境空气质量排名")]))
    crow = county_rows(now, before)
    best = next((r for r in crow if r["composite_index"] is not None), None)
    worst = next((r for r in reversed(crow) if r["composite_index"] is not None), None)
    if best and worst:
        fb = Figure(
            "month.county_best",
            f"{best['name']}综合指数",
            Decimal(str(best["composite_index"])),
            "",
            2,
            f"空气质量评价：{best['name']}（{best['code']}）{now_p.words}综合指数，各县市按综合指数由低到高排名第1",
            best["refs"],
        )
        fw = Figure(
            "month.county_worst",
            f"{worst['name']}综合指数",
            Decimal(str(worst["composite_index"])),
            "",
            2,
            f"空气质量评价：{worst['name']}（{worst['code']}）{now_p.words}综合指数，排名末位",
            worst["refs"],
        )
        doc.add(
            Block(
                "para",
                runs(
                    f"按环境空气质量综合指数由低到高排名，{now_p.label}全州{len(crow)}个县市中，{best['name']}空气质量"
                    f"相对较好（综合指数{t(fb, unit=False)}），{worst['name']}相对较差（综合指数{t(fw, unit=False)}）。"
                    "各县市排名见表4。"
                ),
            )
        )
    doc.add(
        Block(
            "table",
            header=["排名", "县市", "综合指数", "同比变化", "优良天数比例", "PM₂.₅（μg/m³）"],
            rows=[
                [
                    MISSING if r["rank"] is None else str(r["rank"]),
                    r["name"],
                    _num(r["composite_index"], 2),
                    _signed(r["change"]),
                    MISSING if r["good_day_ratio"] is None else f"{round_half_up(r['good_day_ratio'], 1)}%",
                    _num(r["pm25"], 0),
                ]
                for r in crow
            ],
            caption=f"表4  {now_p.label}各县市环境空气质量综合指数排名",
        )
    )
    doc.add(
        Block(
            "image",
            image=charts.county_bars(
                [r["name"] for r in crow],
                [r["composite_index"] for r in crow],
                f"{now_p.label}各县市综合指数",
                "综合指数（越低越好）",
            ),
            caption=f"图3  {now_p.label}各县市环境空气质量综合指数",
        )
    )
    _grid_section(doc, store, now_p, src, figs)
    doc.add(Block("note", [Run(FOOTNOTE)]))
    doc.add(
        Block(
            "note",
            [
                Run(
                    "评价依据：HJ 633-2012、GB 3095-2012（2026年3月1日前）；综合指数为六项污染物"
                    "单项指数之和；浓度按GB/T 8170修约。"
                )
            ],
        )
    )
    doc.add(Block("pagebreak"))
    for b in src.appendix():
        doc.add(b)
    return Bulletin(doc, src, figs)


def _grid_section(doc: Document, store: Store, period: Period, src: Sources, figs: dict[str, Figure]) -> None:
    """五、网格化监管: the month's grid tasks and closed-loop KPIs (governance §3.6), when there were tasks."""
    g = grid_figures(store, period)
    if not g["grid.tasks"].value:
        return
    figs.update(g)
    t = src.text
    doc.add(Block("h1", [Run("五、网格化监管任务办理情况")]))
    doc.add(
        Block(
            "para",
            runs(
                f"{period.label}，网格化监管平台新建任务{t(g['grid.tasks'])}；办结时限在本月的任务{t(g['grid.due'])}，"
                f"按期办结{t(g['grid.closed_on_time'])}，按期办结率{t(g['grid.closure_on_time'])}；"
                f"签收及时率{t(g['grid.sign_timely'])}，查实率{t(g['grid.confirmed'])}，返工率{t(g['grid.rework'])}；"
                f"截至月底超期未办结任务{t(g['grid.overdue_open'])}。"
            ),
        )
    )


def _num(v: float | Decimal | None, dp: int) -> str:
    if v is None:
        return MISSING
    from bogda.ledger.figures import round_gbt8170

    return str(round_gbt8170(v, dp))


def _chart_v(v: float | None, metric: str) -> float | None:
    return None if v is None else v * 10 if metric == "mean_co" else v


def _verdict(ci_change: Decimal | None) -> str:
    if ci_change is None:
        return f"变化{MISSING}"
    r = round_half_up(ci_change, 1)
    return "改善" if r < 0 else "变差" if r > 0 else "持平"


def _ratio_words(f: Figure, src: Sources) -> str:
    if f.value is None:
        return f"变化{MISSING}"
    r = round_half_up(f.value, 1)
    n = src.number(f)
    if r == 0:
        return f"持平[[{n}]]"
    return f"{'上升' if r > 0 else '下降'}{abs(r)}个百分点[[{n}]]"


def figures_json(b: Bulletin) -> list[dict[str, Any]]:
    return b.sources.as_json()
