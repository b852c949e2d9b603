"""The forecast page's publication panel (预报发布, :mod:`bogda.forecast.publication`).

Everyone sees today's duty (published by 20:00 Beijing, HJ 633-2026, late or overdue), the publication in force as
AQI ranges with the level(s) they span and the primary pollutant, and the last 30 days' published ranges scored
against the observed daily AQI beside the model's drafts. The duty forecaster (capability ``forecaster``, or admin)
also gets the grid to publish: one cell per area and day, prefilled with the publication in force or else the draft
of the latest run, written as forecasters write it ("60-80 PM2.5"); every problem is named before anything is stored.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from nicegui import ui

from bogda.forecast import publication as pb
from bogda.standards.levels import category, category_labels
from bogda.timeutil import beijing_date, now_utc, to_beijing
from bogda.web.api.forecast_publication import can_publish
from bogda.web.ui.layout import Ctx, text_on

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "预报发布（HJ 633-2026：每日 20:00 前发布未来至少 3 天）",
        "published": "今日（{day}）预报已发布：{time}（北京时间），发布人 {by}",
        "late": "，晚于 20:00",
        "due": "今日（{day}）预报尚未发布，须于 20:00 前发布",
        "overdue": "今日（{day}）预报未发布，已过 20:00 发布时限",
        "listed": "；已列入问题清单（#{id}），发布后自动办结",
        "corrected": "订正",
        "editor": "编辑发布内容（每格写作“60-80 PM2.5”，首要污染物可多个，用逗号分隔；AQI ≤ 50 不写首要污染物）",
        "from_draft": "预填：最新预报（运行 #{run}）的日 AQI 按发布范围取整",
        "from_publication": "预填：今日已发布的内容（再次发布即为订正，原发布保留）",
        "note": "订正说明",
        "publish": "发布",
        "done": "已发布（#{id}）",
        "problems": "未发布，请改正：",
        "no_draft": "尚无预报可据以发布（运行 bogda forecast run）。",
        "scores": "近 30 天发布检验（发布范围 / 模型范围，对照实测日 AQI）",
        "lead": "时效",
        "n": "天数",
        "corrected_n": "订正",
        "range_acc": "AQI 范围准确率",
        "level_range_acc": "级别范围准确率",
        "primary_acc": "首要污染物准确率",
        "gain": "订正增益（AQI 范围准确率，90 % 区间）",
        "published_col": "发布",
        "model_col": "模型",
        "area": "区域",
    },
    "en": {
        "title": "Forecast publication (HJ 633-2026: the next 3 days at least, published by 20:00 daily)",
        "published": "Today's ({day}) forecast published at {time} (Beijing) by {by}",
        "late": ", after 20:00",
        "due": "Today's ({day}) forecast is not published yet; due by 20:00",
        "overdue": "Today's ({day}) forecast is not published, and 20:00 has passed",
        "listed": "; on the problem list (#{id}), resolved when published",
        "corrected": "corrected",
        "editor": 'Edit the publication (each cell as "60-80 PM2.5"; several primary pollutants separated by commas; '
        "none at AQI ≤ 50)",
        "from_draft": "Prefilled from the latest run (#{run}): its daily AQI as published ranges",
        "from_publication": "Prefilled from today's publication (publishing again corrects it; the first is kept)",
        "note": "Note on the correction",
        "publish": "Publish",
        "done": "Published (#{id})",
        "problems": "Not published; please correct:",
        "no_draft": "No forecast to publish from yet (run bogda forecast run).",
        "scores": "Last 30 days: published and model ranges against the observed daily AQI",
        "lead": "Lead",
        "n": "Days",
        "corrected_n": "Corrected",
        "range_acc": "AQI range accuracy",
        "level_range_acc": "Level-range accuracy",
        "primary_acc": "Primary pollutant",
        "gain": "Gain of the corrections (AQI range accuracy, 90 % interval)",
        "published_col": "published",
        "model_col": "model",
        "area": "Area",
    },
}


def tx(lang: str, key: str, **values: object) -> str:
    text = TEXTS.get(lang, TEXTS["zh"]).get(key) or TEXTS["zh"][key]
    return text.format(**values) if values else text


def level_words(lo: int, hi: int, lang: str) -> str:
    """The level(s) an AQI range spans, as published ("良至轻度污染").

    >>> level_words(60, 80, "zh"), level_words(90, 120, "zh"), level_words(90, 120, "en")
    ('良', '良至轻度污染', 'Good to Lightly polluted')
    """
    field = "name_zh" if lang == "zh" else "name_en"
    a, b = category_labels(category([lo, hi]), field).tolist()
    return a if a == b else f"{a}{'至' if lang == 'zh' else ' to '}{b}"


def duty_line(status: dict[str, Any], lang: str) -> str:
    """Today's duty in words (:func:`bogda.forecast.publication.status`)."""
    day = status["issue_date"].isoformat()[5:]
    if status["published"]:
        line = tx(
            lang,
            "published",
            day=day,
            time=to_beijing(status["published_at"]).strftime("%H:%M"),
            by=status["published_by"],
        )
        return line + (tx(lang, "late") if status["late"] else "")
    line = tx(lang, "overdue" if status["overdue"] else "due", day=day)
    return line + (tx(lang, "listed", id=status["finding_id"]) if status.get("finding_id") else "")


def published_table(pub: dict[str, Any], names: dict[str, str], lang: str) -> None:
    """The publication in force: one row per area, one cell per day, coloured by the level of the range's centre."""
    days = sorted({d["day"] for d in pub["days"]})
    by_area: dict[str, dict[date, dict[str, Any]]] = {}
    for d in pub["days"]:
        by_area.setdefault(d["area_code"], {})[d["day"]] = d
    from bogda.web.ui.forecast import level_colour, primary_words

    with ui.element("table").classes("bogda-publication").style("border-collapse: collapse"):
        with ui.element("tr"):
            with ui.element("th").classes("q-pa-xs text-left"):
                ui.label(tx(lang, "area"))
            for day in days:
                with ui.element("th").classes("q-pa-xs"):
                    ui.label(day.isoformat()[5:])
        for code in sorted(by_area, key=lambda c: (len(c) != 6 or not c.endswith("00"), c)):
            with ui.element("tr"):
                with ui.element("td").classes("q-pa-xs text-weight-medium"):
                    ui.label(names.get(code, code))
                for day in days:
                    d = by_area[code].get(day)
                    colour = level_colour(int(category([(d["aqi_lo"] + d["aqi_hi"]) / 2])[0])) if d else "#e0e0e0"
                    style = f"background: {colour}; color: {text_on(colour)}; min-width: 96px; border: 1px solid #fff"
                    with ui.element("td").classes("q-pa-xs text-center bogda-publication-day").style(style):
                        if d is None:
                            ui.label("—")
                            continue
                        ui.label(f"{d['aqi_lo']}–{d['aqi_hi']}").classes("text-weight-bold")
                        ui.label(level_words(d["aqi_lo"], d["aqi_hi"], lang)).classes("text-caption")
                        if primary := primary_words(d["primary_pollutant"], lang):
                            ui.label(primary).classes("text-caption")
                        if d["corrected"]:
                            ui.label(tx(lang, "corrected")).classes("text-caption text-italic bogda-corrected")


def _publish(ctx: Ctx, cells: dict[tuple[str, date], Any], note: Any, run_id: int | None) -> None:
    if not can_publish(ctx.store, ctx.who):
        ui.notify(tx(ctx.lang, "problems"), type="negative")
        return
    entries, problems = [], []
    for (code, day), widget in cells.items():
        try:
            lo, hi, primary = pb.parse_cell(str(widget.value or ""))
        except ValueError as exc:
            problems.append(f"{code} {day}: {exc}")
            continue
        entries.append(pb.DayEntry(code, day, lo, hi, primary))
    if not problems:
        try:
            pid = pb.publish(ctx.store, entries, by=ctx.user.login, run_id=run_id, note=str(note.value or ""))
        except (ValueError, LookupError) as exc:  # the checks' problems, one per line after the first
            lines = str(exc).splitlines()
            problems = lines[1:] or lines
        else:
            ui.notify(tx(ctx.lang, "done", id=pid), type="positive")
            ui.navigate.to("/forecast")
            return
    ui.notify(tx(ctx.lang, "problems") + " " + "；".join(problems[:6]), type="negative", multi_line=True, timeout=0)
    with ui.column().classes("bogda-publication-problems"):
        for p in problems:
            ui.label(p).classes("text-negative text-caption")


def editor(ctx: Ctx, pub: dict[str, Any] | None, names: dict[str, str]) -> None:
    """The grid the forecaster publishes from, prefilled with ``pub`` or the latest run's draft."""
    today = beijing_date(now_utc())
    if pub is not None:
        entries = [
            pb.DayEntry(d["area_code"], d["day"], d["aqi_lo"], d["aqi_hi"], d["primary_pollutant"]) for d in pub["days"]
        ]
        run_id, source = pub["run_id"], tx(ctx.lang, "from_publication")
    else:
        run_id, entries = pb.draft(ctx.store, today)
        source = tx(ctx.lang, "from_draft", run=run_id)
    if not entries:
        ui.label(tx(ctx.lang, "no_draft")).classes("text-grey-7")
        return
    ui.label(tx(ctx.lang, "editor")).classes("text-caption")
    ui.label(source).classes("text-caption text-grey-7")
    days = sorted({e.day for e in entries})
    cells: dict[tuple[str, date], Any] = {}
    by = {(e.area_code, e.day): e for e in entries}
    with ui.element("table").classes("bogda-publication-editor"):
        with ui.element("tr"):
            with ui.element("th"):
                ui.label(tx(ctx.lang, "area"))
            for day in days:
                with ui.element("th"):
                    ui.label(day.isoformat()[5:])
        for code in sorted({e.area_code for e in entries}, key=lambda c: (not c.endswith("00"), c)):
            with ui.element("tr"):
                with ui.element("td"):
                    ui.label(names.get(code, code))
                for day in days:
                    with ui.element("td"):
                        e = by.get((code, day))
                        cells[(code, day)] = (
                            ui.input(value=pb.cell_text(e) if e else "")
                            .props("dense outlined")
                            .classes(f"bogda-publication-cell bogda-cell-{code}-{day.isoformat()}")
                            .style("width: 140px")
                        )
    note = ui.input(tx(ctx.lang, "note")).classes("w-96 bogda-publication-note")
    ui.button(tx(ctx.lang, "publish"), on_click=lambda: _publish(ctx, cells, note, run_id)).classes("bogda-publish")


def scores_table(ctx: Ctx) -> None:
    """The last 30 issue dates' published and model ranges against the observed daily AQI, all areas per lead."""
    end = beijing_date(now_utc()) - timedelta(days=1)
    rows = [r for r in pb.scores(ctx.store, end - timedelta(days=29), end) if r["area_code"] == "*"]
    if not rows:
        return
    ui.label(tx(ctx.lang, "scores")).classes("text-caption")
    cols = ["lead", "n", "corrected_n", "range_acc", "level_range_acc", "primary_acc", "gain"]

    def pair(r: dict[str, Any], key: str) -> str:
        f = [r[f"{w}_{key}"] for w in ("published", "model")]
        return " / ".join("—" if v is None else f"{v:.2f}" for v in f)

    ui.table(
        columns=[{"name": c, "label": tx(ctx.lang, c), "field": c, "align": "left"} for c in cols],
        rows=[
            {"lead": f"D+{r['lead']}", "n": r["published_n"], "corrected_n": r["n_corrected"]}
            | {k: pair(r, k) for k in ("range_acc", "level_range_acc", "primary_acc")}
            | {"gain": pb.gain_text(r)}
            for r in rows
        ],
        row_key="lead",
    ).classes("bogda-publication-scores").props("dense flat bordered")


def publication_view(ctx: Ctx, names: dict[str, str]) -> None:
    """The panel (module doc)."""
    status = pb.status(ctx.store)
    colour = "text-positive" if status["published"] and not status["late"] else "text-negative"
    if not status["published"] and not status["overdue"]:
        colour = "text-warning"
    ui.label(duty_line(status, ctx.lang)).classes(f"bogda-publication-status {colour}")
    pub = pb.current(ctx.store, status["issue_date"])
    if pub is not None:
        published_table(pub, names, ctx.lang)
    if can_publish(ctx.store, ctx.who):
        with ui.expansion(tx(ctx.lang, "publish"), value=pub is None).classes("w-full bogda-publication-expander"):
            editor(ctx, pub, names)
    scores_table(ctx)
