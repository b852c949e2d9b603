"""The KPI dashboard: the §3.6 figures per county, township or grid over a period, with numerators and
denominators, and the Excel export (``/api/v1/kpis.xlsx``, same session)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.grid.kpi import KPI_NAMES
from bogda.grid.kpi_report import LEVEL_KINDS, kpi_rows
from bogda.timeutil import BEIJING
from bogda.web.api.tasks import actor_of, clock, grid_service
from bogda.web.i18n import current_language
from bogda.web.ui.grid_texts import tx
from bogda.web.ui.layout import begin, frame


def _day(text: str, default: date) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return default


@ui.page("/kpi")
def kpi_page(request: Request, level: str = "county", start: str = "", end: str = "") -> Response | None:
    ctx = begin(request, "/kpi")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{tx('kpi.title')} · bogda")
    frame(ctx)
    now = clock(request)
    today = now.astimezone(BEIJING).date()
    d0 = _day(start, today.replace(day=1))
    d1 = _day(end, today + timedelta(days=1))
    if level not in LEVEL_KINDS:
        level = "county"
    if d1 <= d0:
        d1 = d0 + timedelta(days=1)
    s = datetime.combine(d0, time(0), tzinfo=BEIJING)
    e = datetime.combine(d1, time(0), tzinfo=BEIJING)
    rows = kpi_rows(grid_service(request), actor_of(request, ctx.who), s, e, level=level, as_of=max(s, min(e, now)))
    zh = current_language() == "zh"
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(tx("kpi.title")).classes("text-h6")
        with ui.row().classes("items-end gap-3"):
            lv = ui.select({k: tx(f"level.{k}") for k in LEVEL_KINDS}, value=level, label=tx("kpi.level")).classes(
                "w-40"
            )
            a = ui.input(tx("kpi.start"), value=d0.isoformat()).props('type="date"')
            b = ui.input(tx("kpi.end"), value=d1.isoformat()).props('type="date"')
            ui.button(
                tx("kpi.show"),
                on_click=lambda: ui.navigate.to(
                    "/kpi?" + urlencode({"level": lv.value, "start": a.value, "end": b.value})
                ),
            )
            q = urlencode({"level": level, "start": d0.isoformat(), "end": d1.isoformat(), "lang": current_language()})
            ui.link(tx("kpi.excel"), f"/api/v1/kpis.xlsx?{q}").classes("bogda-kpi-excel")
        columns = [{"name": "place", "label": tx("kpi.place"), "field": "place", "align": "left"}]
        for key, (zh_name, en_name, _, _) in KPI_NAMES.items():
            columns.append({"name": key, "label": zh_name if zh else en_name, "field": key, "align": "right"})
        columns += [
            {"name": "overdue", "label": tx("kpi.overdue"), "field": "overdue", "align": "right"},
            {"name": "score", "label": tx("kpi.score"), "field": "score", "align": "right"},
            {"name": "grade", "label": tx("kpi.grade"), "field": "grade", "align": "center"},
        ]
        table_rows = []
        for r in rows:
            item = {
                "place": r["place"],
                "overdue": len(r["overdue"]),
                "score": "NA" if r["score"] is None else str(r["score"]),
                "grade": r["grade"],
            }
            for key in KPI_NAMES:
                ratio = r["kpis"][key]
                num = ratio.numerator if key != "avg_days" else round(ratio.numerator, 2)
                item[key] = f"{ratio.display()} ({num}/{ratio.denominator})"
            table_rows.append(item)
        ui.table(columns=columns, rows=table_rows, row_key="place").classes("w-full bogda-kpi-table").props(
            "dense flat bordered wrap-cells"
        )
    return None
