"""Command-centre big screen (issue 11 §1–2, first increment): ``/bigscreen``, a dark full-screen NiceGUI page for
a 1920×1080 (or 3840×2160) video wall.

The centre is the ECharts ``geo`` map of the counties (registered over the websocket, as on ``/map``; no tiles,
no external request) with switchable layers — stations coloured by their newest hourly AQI (grey when offline),
the 3 km grid, open findings by kind, open fire events and open tasks. Side panels show the prefecture's and each
county's AQI now, stations online, open findings by kind, open tasks by state and overdue, active warnings and the
year-to-date non-site case share.

Live: a ``ui.timer`` re-reads :func:`screen_figures` every :data:`REFRESH_S` seconds and pushes the changed
numbers and layer data over the websocket (no page reload). :func:`screen_figures` is cached per store for
:data:`SHARED_S` seconds so many screens cost one set of queries.
"""

from __future__ import annotations

import html
import json
import threading
import time
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import run, ui
from sqlalchemy import func, select

from bogda.enforcement.casework import non_site_share
from bogda.findings import LIVE, SEVERITY_RANK
from bogda.grid.states import OPEN_STATES, STATE_NAMES, STATES
from bogda.monitoring.status import StatusCache
from bogda.store import Store
from bogda.store.schema import finding, fire_event, task
from bogda.timeutil import BEIJING, now_utc
from bogda.web.public import active_warnings, area_aqi
from bogda.web.ui.layout import CJK_FONTS, begin
from bogda.web.ui.map_data import MAP_NAME, grid_paths, line_paths, outlines, region_geojson, visible_cells
from bogda.web.ui.map_page import ASPECT_SCALE

REFRESH_S = 3.0
"""Push interval of the live figures [s]."""
SHARED_S = 2.0
"""How long one computation of the figures serves every open screen [s]."""
MAX_POINTS = 1000
"""Open objects drawn per layer (the newest first); the panels count all of them."""
BG = "#07111f"
PANEL = "#0d1b2e"
ACCENT = "#38bdf8"

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "昌吉州生态环境监管指挥中心",
        "prefecture": "全州空气质量指数",
        "counties": "各县市 AQI 排名",
        "stations_online": "站点在线",
        "findings": "待处置问题",
        "tasks": "在办任务",
        "overdue": "超期任务",
        "warnings": "生效预警",
        "no_warning": "无生效预警",
        "non_site": "非现场执法案件占比（本年）",
        "layers": "图层",
        "l_stations": "监测站点",
        "l_grid": "网格",
        "l_findings": "问题线索",
        "l_fire": "火点",
        "l_tasks": "任务",
        "updated": "数据更新",
        "no_data": "无数据",
        "back": "返回控制台",
    },
    "en": {
        "title": "Changji Environmental Command Centre",
        "prefecture": "Prefecture AQI now",
        "counties": "County AQI ranking",
        "stations_online": "Stations online",
        "findings": "Open findings",
        "tasks": "Open tasks",
        "overdue": "Overdue tasks",
        "warnings": "Warnings in force",
        "no_warning": "No warning in force",
        "non_site": "Non-site case share (year to date)",
        "layers": "Layers",
        "l_stations": "Stations",
        "l_grid": "Grid",
        "l_findings": "Findings",
        "l_fire": "Fire events",
        "l_tasks": "Tasks",
        "updated": "Updated",
        "no_data": "no data",
        "back": "Console",
    },
}
KIND_NAMES = {
    "alarm": ("报警", "alarm"),
    "fire": ("火点", "fire"),
    "clue": ("线索", "clue"),
    "warning": ("预警", "warning"),
    "advisory": ("提示", "advisory"),
    "hotspot": ("热点", "hotspot"),
    "petition": ("信访", "petition"),
    "inspection": ("检查", "inspection"),
    "incident": ("事件", "incident"),
    "patrol": ("巡查", "patrol"),
}
SEVERITY_COLOURS = {1: "#60a5fa", 2: "#facc15", 3: "#fb923c", 4: "#ef4444"}
SERIES = ("grid", "outline", "stations", "findings", "fire", "tasks")
"""Order of the map series (a layer switched off keeps its slot with empty data, so updates merge)."""

_shared: dict[int, tuple[float, dict[str, Any]]] = {}
_status: dict[int, StatusCache] = {}
_lock = threading.Lock()


def _year_start(now: datetime) -> datetime:
    local = now.astimezone(BEIJING)
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


def screen_figures(store: Store, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the big screen shows, from the services and the store.

    Returns
    -------
    dict
        ``stations`` (records of :func:`bogda.monitoring.status.stations_status`), ``areas``
        (:func:`bogda.web.public.area_aqi`), ``findings_by_kind``, ``finding_points``, ``tasks_by_state``,
        ``tasks_overdue``, ``task_points``, ``fire_points``, ``warnings``, ``non_site`` (share dict) and
        ``generated_at``.
    """
    now = now or now_utc()
    records, _ = _status.setdefault(id(store), StatusCache(check=1.0)).get(store)
    with store.engine.connect() as conn:
        by_kind = dict(
            conn.execute(
                select(finding.c.kind, func.count()).where(finding.c.status.in_(LIVE)).group_by(finding.c.kind)
            ).all()
        )
        f_pts = conn.execute(
            select(finding.c.id, finding.c.kind, finding.c.severity, finding.c.title, finding.c.lon, finding.c.lat)
            .where(finding.c.status.in_(LIVE), finding.c.lon.is_not(None))
            .order_by(finding.c.detected_at.desc())
            .limit(MAX_POINTS)
        ).all()
        by_state = dict(
            conn.execute(
                select(task.c.state, func.count()).where(task.c.state.in_(OPEN_STATES)).group_by(task.c.state)
            ).all()
        )
        overdue = conn.execute(
            select(func.count()).where(task.c.state.in_(OPEN_STATES), task.c.overdue.is_(True))
        ).scalar_one()
        t_pts = conn.execute(
            select(task.c.id, task.c.state, task.c.title, task.c.lon, task.c.lat, task.c.overdue)
            .where(task.c.state.in_(OPEN_STATES), task.c.lon.is_not(None))
            .order_by(task.c.created_at.desc())
            .limit(MAX_POINTS)
        ).all()
        fires = conn.execute(
            select(fire_event.c.event_id, fire_event.c.lon, fire_event.c.lat, fire_event.c.max_frp)
            .where(fire_event.c.status == "open", fire_event.c.lon.is_not(None))
            .order_by(fire_event.c.first_seen_utc.desc())
            .limit(MAX_POINTS)
        ).all()
    share = non_site_share(store, _year_start(now), now).as_dict()
    return {
        "generated_at": now,
        "stations": records,
        "areas": area_aqi(store, now=now),
        "findings_by_kind": by_kind,
        "finding_points": [dict(r._mapping) for r in f_pts],
        "tasks_by_state": by_state,
        "tasks_overdue": int(overdue),
        "task_points": [dict(r._mapping) for r in t_pts],
        "fire_points": [dict(r._mapping) for r in fires],
        "warnings": active_warnings(store, now=now),
        "non_site": share,
    }


def shared_figures(store: Store) -> dict[str, Any]:
    """:func:`screen_figures`, computed at most once per :data:`SHARED_S` for all open screens."""
    hit = _shared.get(id(store))
    if hit is not None and time.monotonic() - hit[0] < SHARED_S:
        return hit[1]
    with _lock:
        hit = _shared.get(id(store))
        if hit is not None and time.monotonic() - hit[0] < SHARED_S:
            return hit[1]
        figs = screen_figures(store)
        _shared[id(store)] = (time.monotonic(), figs)
        return figs


def layer_data(figs: dict[str, Any], layer: str, lang: str) -> list[dict[str, Any]]:
    """ECharts data of one point layer; each point carries ``link`` (its detail page) and ``tip``."""
    if layer == "stations":
        out = []
        for s in figs["stations"]:
            if s["lon"] is None:
                continue
            cat = s["category_zh"] if lang == "zh" else s["category_en"]
            aqi = s["aqi"] if s["status"] == "online" else None
            out.append(
                {
                    "name": s["name"],
                    "value": [s["lon"], s["lat"], aqi],
                    "itemStyle": {"color": s["colour"]},
                    "link": f"/monitoring/station/{s['code']}",
                    "tip": f"<b>{html.escape(s['name'])}</b><br>AQI {aqi if aqi is not None else '—'} {cat or ''}"
                    f"<br>{s['status']}",
                }
            )
        return out
    if layer == "findings":
        return [
            {
                "name": f["title"],
                "value": [f["lon"], f["lat"]],
                "itemStyle": {"color": SEVERITY_COLOURS.get(SEVERITY_RANK.get(f["severity"], 1), "#60a5fa")},
                "link": f"/clues/{f['id']}" if f["kind"] == "clue" else "/findings",
                "tip": f"<b>{KIND_NAMES.get(f['kind'], (f['kind'],) * 2)[0 if lang == 'zh' else 1]}</b> "
                f"{f['severity']}<br>{html.escape(f['title'])}",
            }
            for f in figs["finding_points"]
        ]
    if layer == "fire":
        return [
            {
                "name": e["event_id"],
                "value": [e["lon"], e["lat"]],
                "link": "/fire",
                "tip": f"<b>{e['event_id']}</b><br>FRP {e['max_frp'] or '—'} MW",
            }
            for e in figs["fire_points"]
        ]
    if layer == "tasks":
        return [
            {
                "name": k["title"],
                "value": [k["lon"], k["lat"]],
                "itemStyle": {"color": "#ef4444" if k["overdue"] else "#a78bfa"},
                "link": "/tasks",
                "tip": f"<b>#{k['id']}</b> {STATE_NAMES[k['state']][0 if lang == 'zh' else 1]}"
                f"<br>{html.escape(k['title'])}",
            }
            for k in figs["task_points"]
        ]
    raise ValueError(f"unknown layer {layer!r}")


def chart_options(store: Store, figs: dict[str, Any], lang: str, on: dict[str, bool]) -> dict[str, Any]:
    prefecture = [g for r, g in outlines(store) if r.kind == "prefecture"]

    def points(layer: str, symbol: str, size: int, colour: str, z: int) -> dict[str, Any]:
        return {
            "name": layer,
            "type": "scatter",
            "coordinateSystem": "geo",
            "symbol": symbol,
            "symbolSize": size,
            "itemStyle": {"color": colour, "borderColor": "#0b1220", "borderWidth": 1},
            "data": layer_data(figs, layer, lang) if on.get(layer) else [],
            "z": z,
        }

    series = [
        {
            "name": "grid",
            "type": "lines",
            "coordinateSystem": "geo",
            "polyline": True,
            "silent": True,
            "large": True,
            "lineStyle": {"color": "rgba(56,189,248,0.25)", "width": 0.5},
            "data": [],
            "z": 2,
        },
        {
            "name": "outline",
            "type": "lines",
            "coordinateSystem": "geo",
            "polyline": True,
            "silent": True,
            "lineStyle": {"color": ACCENT, "width": 2.5},
            "data": [{"coords": p} for g in prefecture for p in line_paths(g)],
            "z": 3,
        },
        points("stations", "circle", 16, "#9E9E9E", 6),
        points("findings", "diamond", 12, "#facc15", 7),
        points("fire", "triangle", 13, "#ff5722", 8),
        points("tasks", "rect", 10, "#a78bfa", 5),
    ]
    label = {"show": True, "color": "#cbd5e1", "fontSize": 15, "fontFamily": CJK_FONTS}
    return {
        "animation": False,
        "backgroundColor": "transparent",
        "tooltip": {"trigger": "item", ":formatter": "(p) => (p.data && p.data.tip) ? p.data.tip : p.name"},
        "geo": {
            "map": MAP_NAME,
            "roam": True,
            "aspectScale": ASPECT_SCALE,
            "top": "3%",
            "bottom": "3%",
            "left": "3%",
            "right": "3%",
            "label": label,
            "itemStyle": {"areaColor": "#10253f", "borderColor": "#2f5b86", "borderWidth": 1},
            "emphasis": {"label": label, "itemStyle": {"areaColor": "#17375c"}},
            "select": {"disabled": True},
        },
        "series": series,
    }


def _css() -> None:
    ui.add_css(
        f"""
        body, .q-page, .nicegui-content {{ background: {BG} !important; color: #e2e8f0; font-family: {CJK_FONTS}; }}
        .nicegui-content {{ padding: 0 !important; }}
        .bs-panel {{ background: {PANEL}; border: 1px solid #1e3a5f; border-radius: 6px; padding: 12px 16px; }}
        .bs-h {{ color: {ACCENT}; font-size: 1.05rem; font-weight: 600; letter-spacing: .05em; }}
        .bs-big {{ font-size: 4.5rem; font-weight: 700; line-height: 1; }}
        .bs-num {{ font-size: 2.2rem; font-weight: 700; color: #f8fafc; }}
        .bs-row {{ display: flex; justify-content: space-between; font-size: 1.05rem; padding: 2px 0; }}
        .bs-row .text-weight-bold {{ color: #f8fafc; }}
        .bs-muted {{ color: #94a3b8; }}
        .bs-layers .q-toggle__label {{ color: #e2e8f0; }}
        """
    )


@ui.page("/bigscreen")
async def bigscreen(request: Request) -> Response | None:
    ctx = begin(request, "/bigscreen")
    if isinstance(ctx, Response):
        return ctx
    lang, store = ctx.lang, ctx.store
    T = TEXT[lang]
    ui.page_title(f"{T['title']} · bogda")
    ui.dark_mode(True)
    _css()
    ui.query("html").props(f'lang="{"zh-CN" if lang == "zh" else "en"}"')
    figs = shared_figures(store)
    on = {"stations": True, "grid": False, "findings": True, "fire": True, "tasks": True}
    labels: dict[str, ui.label] = {}

    def num(key: str, classes: str = "bs-num") -> ui.label:
        labels[key] = ui.label("—").classes(f"{classes} bs-{key.replace('_', '-')}")
        return labels[key]

    with ui.column().classes("w-full gap-2 q-pa-md").style("height: 100vh; min-height: 100vh"):
        with ui.row().classes("w-full items-center no-wrap"):
            ui.label(T["title"]).classes("text-h4 text-weight-bold").style(f"color: {ACCENT}")
            ui.space()
            with ui.row().classes("items-center gap-3 bs-layers"):
                ui.label(T["layers"]).classes("bs-muted")
                switches = {
                    layer: ui.switch(T[f"l_{layer}"], value=on[layer]).classes(f"bs-layer-{layer}")
                    for layer in ("stations", "grid", "findings", "fire", "tasks")
                }
            ui.label(T["updated"]).classes("bs-muted q-ml-lg")
            num("updated", "text-h6")
            ui.link(T["back"], "/map").classes("q-ml-md").style(f"color: {ACCENT}")
        with ui.row().classes("w-full no-wrap gap-3").style("flex: 1; min-height: 0"):
            with ui.column().classes("gap-3").style("width: 24rem; flex: none"):
                with ui.column().classes("bs-panel w-full gap-1"):
                    ui.label(T["prefecture"]).classes("bs-h")
                    with ui.row().classes("items-end gap-3"):
                        num("pref_aqi", "bs-big")
                        num("pref_cat", "text-h5")
                    num("pref_primary", "bs-muted")
                with ui.column().classes("bs-panel w-full gap-0"):
                    ui.label(T["counties"]).classes("bs-h")
                    county_box = ui.column().classes("w-full gap-0 bs-county-ranking")
                with ui.column().classes("bs-panel w-full gap-0"):
                    ui.label(T["stations_online"]).classes("bs-h")
                    num("stations_online")
            map_box = ui.column().classes("bs-panel").style("flex: 1; min-width: 0; height: 100%")
            with map_box:
                ui.spinner(size="xl").classes("q-ma-xl")
            with ui.column().classes("gap-3").style("width: 24rem; flex: none"):
                with ui.column().classes("bs-panel w-full gap-0"):
                    with ui.row().classes("w-full items-center"):
                        ui.label(T["findings"]).classes("bs-h")
                        ui.space()
                        num("findings_total")
                    kind_box = ui.column().classes("w-full gap-0 bs-findings-by-kind")
                with ui.column().classes("bs-panel w-full gap-0"):
                    with ui.row().classes("w-full items-center"):
                        ui.label(T["tasks"]).classes("bs-h")
                        ui.space()
                        num("tasks_total")
                    state_box = ui.column().classes("w-full gap-0 bs-tasks-by-state")
                    with ui.row().classes("w-full items-center"):
                        ui.label(T["overdue"]).classes("bs-muted")
                        ui.space()
                        num("tasks_overdue").style("color: #f87171")
                with ui.column().classes("bs-panel w-full gap-0"):
                    ui.label(T["warnings"]).classes("bs-h")
                    warning_box = ui.column().classes("w-full gap-0 bs-warnings")
                with ui.column().classes("bs-panel w-full gap-0"):
                    ui.label(T["non_site"]).classes("bs-h")
                    num("non_site")

    def rows(box: ui.column, items: list[tuple[str, str]]) -> None:
        box.clear()
        with box:
            for name, value in items:
                with ui.row().classes("bs-row w-full no-wrap"):
                    ui.label(str(name))
                    ui.label(str(value)).classes("text-weight-bold")

    def set_text(key: str, value: Any) -> None:
        text = str(value)
        if labels[key].text != text:
            labels[key].set_text(text)

    shown: dict[str, Any] = {}

    def panels(f: dict[str, Any]) -> None:
        idx = 0 if lang == "zh" else 1
        areas = f["areas"]
        pref = next((a for a in areas if a["kind"] == "prefecture"), None)
        st = pref and next((s for s in f["stations"] if s["level"] == pref["level"]), None)
        set_text("pref_aqi", pref["aqi"] if pref and pref["aqi"] is not None else "—")
        labels["pref_aqi"].style(f"color: {(pref or {}).get('colour') or '#94a3b8'}")
        cat = (st["category_zh"] if lang == "zh" else st["category_en"]) if st else ""
        set_text("pref_cat", cat or (T["no_data"] if not pref or pref["aqi"] is None else ""))
        set_text("pref_primary", (pref or {}).get("primary_pollutant") or "")
        ranking = sorted((a for a in areas if a["kind"] == "county"), key=lambda a: (a["aqi"] is None, a["aqi"] or 0))
        county_rows = [
            (f"{i}. {a['name'] if lang == 'zh' else a['name_en']}", a["aqi"] if a["aqi"] is not None else "—")
            for i, a in enumerate(ranking, 1)
        ]
        if shown.get("counties") != county_rows:
            rows(county_box, county_rows)
            shown["counties"] = county_rows
        online = sum(1 for s in f["stations"] if s["status"] == "online")
        set_text("stations_online", f"{online} / {len(f['stations'])}")
        kinds = f["findings_by_kind"]
        set_text("findings_total", sum(kinds.values()))
        kind_rows = [(KIND_NAMES.get(k, (k, k))[idx], n) for k, n in sorted(kinds.items(), key=lambda x: -x[1])]
        if shown.get("kinds") != kind_rows:
            rows(kind_box, kind_rows)
            shown["kinds"] = kind_rows
        states = f["tasks_by_state"]
        set_text("tasks_total", sum(states.values()))
        state_rows = [(STATE_NAMES[s][idx], states[s]) for s in STATES if s in states]
        if shown.get("states") != state_rows:
            rows(state_box, state_rows)
            shown["states"] = state_rows
        set_text("tasks_overdue", f["tasks_overdue"])
        names = {a["code"]: (a["name"] if lang == "zh" else a["name_en"]) for a in areas}
        warn_rows = [
            (names.get(w["area_code"], w["area_code"]), f"{w['level']} {w['start_date'][5:]}–{w['end_date'][5:]}")
            for w in f["warnings"]
        ] or [(T["no_warning"], "")]
        if shown.get("warnings") != warn_rows:
            rows(warning_box, warn_rows)
            shown["warnings"] = warn_rows
        share = f["non_site"]
        set_text("non_site", f"{share['share_pct']} %" if share.get("share_pct") is not None else "—")
        set_text("updated", f["generated_at"].astimezone(BEIJING).strftime("%H:%M:%S"))

    panels(figs)

    await ui.context.client.connected()
    counties = [(r, g) for r, g in outlines(store) if r.kind == "county" and ctx.who.sees(r.id)]
    geojson = json.dumps(region_geojson(counties, lang), ensure_ascii=False)
    await ui.run_javascript(
        f"const {{ echarts }} = await import('nicegui-echart'); echarts.registerMap({json.dumps(MAP_NAME)}, {geojson});"
        "return true;",
        timeout=20,
    )
    map_box.clear()
    with map_box:
        chart = ui.echart(chart_options(store, figs, lang, on)).classes("w-full bs-map").style("height: 100%")

    def open_detail(e: Any) -> None:
        link = (e.data or {}).get("link") if isinstance(e.data, dict) else None
        if link:
            ui.navigate.to(link)

    chart.on_point_click(open_detail)

    def push_layers(f: dict[str, Any]) -> None:
        changed = False
        for i, name in enumerate(SERIES):
            if name in ("grid", "outline"):
                continue
            data = layer_data(f, name, lang) if on[name] else []
            if chart.options["series"][i]["data"] != data:
                chart.options["series"][i]["data"] = data
                changed = True
        if changed:  # only changes travel over the websocket
            chart.update()

    def toggle(layer: str, value: bool) -> None:
        on[layer] = value
        if layer == "grid":
            chart.options["series"][0]["data"] = (
                [{"coords": p} for p in grid_paths(visible_cells(store, ctx.who))] if value else []
            )
            chart.update()
        else:
            push_layers(shared_figures(store))

    for layer, sw in switches.items():
        sw.on_value_change(lambda e, layer=layer: toggle(layer, bool(e.value)))

    async def refresh() -> None:
        # the queries run off the event loop, so a slow database never stalls the websocket of other screens
        f = await run.io_bound(shared_figures, store)
        if f is None:
            return
        panels(f)
        push_layers(f)

    ui.timer(REFRESH_S, refresh)
    return None
