"""Station table: code, name, county, latest values, AQI, online/offline, simulated badge."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.standards.pollutants import POLLUTANTS
from bogda.timeutil import to_beijing
from bogda.web.api.common import MAX_LIMIT, Paging
from bogda.web.api.sites import SitesQuery
from bogda.web.i18n import t
from bogda.web.ui.layout import Ctx, begin, frame, simulated_banner, text_on

TABLE_PARAMETERS = ("a34004", "a34002", "a21026", "a21004", "a21005", "a05024")
"""Columns of the table, in the order bureaus publish them (PM2.5, PM10, SO2, NO2, CO, O3)."""


def load_stations(ctx: Ctx, kinds: tuple[str, ...] = ("air_station",)) -> list[dict[str, Any]]:
    """Every station the user may see, with latest values, AQI and online flag (the API's query, all pages)."""
    query = SitesQuery(kind=list(kinds))
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        rows, found = query.run(
            ctx.store, ctx.who, Paging(page, MAX_LIMIT), offline_after_hours=ctx.settings.offline_after_hours
        )
        out.extend(rows)
        if len(out) >= found or not rows:
            return out
        page += 1


def county_name(item: dict[str, Any], lang: str) -> str:
    county = item.get("county") or {}
    if lang != "zh" and county.get("name_en"):
        return county["name_en"]
    return county.get("name", "")


def _value(v: float | None, code: str) -> str:
    if v is None:
        return "—"
    return f"{v:.{POLLUTANTS[code].decimals}f}"


def table_rows(items: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    rows = []
    for s in items:
        latest = s.get("latest") or {}
        values = latest.get("values") or {}
        aqi = s.get("aqi")
        when = latest.get("datetime")
        row: dict[str, Any] = {
            "id": s["id"],
            "code": s["code"],
            "name": s["name"],
            "county": county_name(s, lang),
            "aqi": aqi["value"] if aqi else "—",
            "category": (aqi["category"] if lang == "zh" else aqi["category_en"]) if aqi else "—",
            "aqi_color": aqi["color"] if aqi else "#E0E0E0",
            "aqi_fg": text_on(aqi["color"]) if aqi else "#000000",
            "time": to_beijing_text(when["utc"]) if when else "—",
            "online": bool(s.get("online")),
            "status": t("status.online" if s.get("online") else "status.offline"),
            "simulated": bool(s.get("simulated")),
        }
        for code in TABLE_PARAMETERS:
            row[code] = _value(values.get(code), code)
        rows.append(row)
    return rows


def to_beijing_text(utc_iso: str) -> str:
    from datetime import datetime

    return to_beijing(datetime.fromisoformat(utc_iso.replace("Z", "+00:00"))).strftime("%m-%d %H:%M")


@ui.page("/stations")
def stations_page(request: Request) -> Response | None:
    ctx = begin(request, "/stations")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{t('nav.stations')} · bogda")
    frame(ctx)
    items = load_stations(ctx)
    rows = table_rows(items, ctx.lang)
    columns = [
        {"name": "code", "label": t("col.code"), "field": "code", "sortable": True, "align": "left"},
        {"name": "name", "label": t("col.name"), "field": "name", "sortable": True, "align": "left"},
        {"name": "county", "label": t("col.county"), "field": "county", "sortable": True, "align": "left"},
    ]
    for code in TABLE_PARAMETERS:
        p = POLLUTANTS[code]
        columns.append({"name": code, "label": p.name, "field": code, "sortable": True, "align": "right"})
    columns += [
        {"name": "aqi", "label": "AQI", "field": "aqi", "sortable": True, "align": "center"},
        {"name": "category", "label": t("col.category"), "field": "category", "align": "left"},
        {"name": "time", "label": t("col.time"), "field": "time", "sortable": True, "align": "left"},
        {"name": "status", "label": t("col.status"), "field": "status", "sortable": True, "align": "center"},
        {"name": "simulated", "label": t("col.source"), "field": "simulated", "align": "center"},
    ]
    online = sum(1 for r in rows if r["online"])
    with ui.column().classes("w-full q-pa-md gap-3"):
        simulated_banner(any(r["simulated"] for r in rows))
        with ui.row().classes("items-baseline gap-4"):
            ui.label(t("stations.title")).classes("text-h6")
            ui.label(t("stations.summary", total=len(rows), online=online, offline=len(rows) - online)).classes(
                "text-grey-8 bogda-station-summary"
            )
        ui.label(t("stations.units")).classes("text-caption text-grey-7")
        table = ui.table(columns=columns, rows=rows, row_key="id", pagination={"rowsPerPage": 50, "sortBy": "code"})
        table.classes("w-full bogda-station-table").props(f'dense flat bordered no-data-label="{t("table.empty")}"')
        table.add_slot(
            "body-cell-aqi",
            '<q-td :props="props"><q-badge v-if="props.value !== \'—\'"'
            ' :style="{background: props.row.aqi_color, color: props.row.aqi_fg}"'
            ' :label="props.value" /><span v-else>—</span></q-td>',
        )
        table.add_slot(
            "body-cell-status",
            "<q-td :props=\"props\"><q-badge :color=\"props.row.online ? 'positive' : 'grey-7'\""
            ' :label="props.value" /></q-td>',
        )
        sim, real = t("badge.simulated"), t("badge.real")
        table.add_slot(
            "body-cell-simulated",
            f'<q-td :props="props"><q-badge v-if="props.row.simulated" color="amber-8" label="{sim}" />'
            f'<q-badge v-else outline color="blue-9" label="{real}" /></q-td>',
        )
    return None
