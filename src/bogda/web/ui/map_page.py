"""Map page: the prefecture, its counties (labelled in Chinese), the Zhundong park, the 3 km grid (toggle) and the
air stations coloured by real-time AQI category — an ECharts ``geo`` map over the stored boundaries, drawn
entirely from this server (no tiles, no CDN).

The boundary GeoJSON is registered with ``echarts.registerMap`` in the browser (over the page's websocket) before
the chart is created; NiceGUI's ``ui.echart`` then refers to it by name. Beside the chart an HTML list names the
counties and a legend explains the colours, so what the canvas shows is also readable as text.
"""

from __future__ import annotations

import json
from typing import Any

import shapely
from fastapi import Request
from fastapi.responses import Response
from nicegui import ui
from shapely.geometry import shape

from bogda.standards import aqi as aqi_std
from bogda.web.i18n import t
from bogda.web.ui.layout import CJK_FONTS, Ctx, begin, frame, root_page, simulated_banner
from bogda.web.ui.map_data import (
    MAP_NAME,
    NO_DATA_COLOR,
    OFFLINE_COLOR,
    grid_paths,
    line_paths,
    outlines,
    region_geojson,
    station_color,
    visible_cells,
)
from bogda.web.ui.stations_page import county_name, load_stations

root_page()

ASPECT_SCALE = 0.72
"""Horizontal squeeze of the longitude/latitude map: cos(44°), the prefecture's mid latitude."""
GRID_SERIES = 0
"""Index of the grid series (kept in place, emptied when hidden, so toggling merges instead of resetting)."""


def _station_tip(s: dict[str, Any], lang: str) -> str:
    aqi = s.get("aqi")
    values = (s.get("latest") or {}).get("values") or {}
    pm25 = values.get("a34004")
    lines = [f"<b>{s['name']}</b> ({s['code']})", county_name(s, lang)]
    if aqi:
        cat = aqi["category"] if lang == "zh" else aqi["category_en"]
        lines.append(f"AQI {aqi['value']} · {cat}")
    if pm25 is not None:
        lines.append(f"PM2.5 {pm25:.0f} µg/m³")
    lines.append(t("status.online" if s.get("online") else "status.offline"))
    if s.get("simulated"):
        lines.append(t("badge.simulated"))
    return "<br>".join(x for x in lines if x)


def _top_centre(geom: dict[str, Any]) -> list[float]:
    """Middle of the top edge of an outline's bounding box (where an outline's own label goes)."""
    x0, _, x1, y1 = shape(geom).bounds
    return [round((x0 + x1) / 2, 5), round(y1, 5)]


def map_aspect(geoms: list[dict[str, Any]]) -> float:
    """Width / height of the drawn map (bounding box of the outlines, longitudes squeezed by ASPECT_SCALE)."""
    if not geoms:
        return 1.6
    x0, y0, x1, y1 = shapely.total_bounds([shape(g) for g in geoms])
    return max(0.5, min(4.0, (x1 - x0) * ASPECT_SCALE / max(y1 - y0, 1e-6)))


def map_style(aspect: float) -> str:
    """The inline size of a map chart: the full width, the outlines' own aspect ratio, at most 80 % of the viewport,
    and never narrower than 16rem.

    Inline, and with a floor, because NiceGUI generates Tailwind's CSS in the browser: on a loaded machine it can
    arrive after ECharts has set the chart up. A chart sized by ``w-full`` alone inside a column (``align-items:
    flex-start``) is then 0 × 0, ECharts' ``geo`` layout inverts a singular matrix ("Cannot read properties of null
    (reading '0')") and the map never draws. With the floor it draws small and grows when the CSS comes.
    """
    return f"width: 100%; min-width: 16rem; height: auto; aspect-ratio: {aspect:.3f}; max-height: 80vh"


def chart_options(ctx: Ctx, stations: list[dict[str, Any]]) -> dict[str, Any]:
    shapes = [(r, g) for r, g in outlines(ctx.store) if ctx.who.sees(r.id)]
    prefecture = [g for r, g in shapes if r.kind == "prefecture"]
    parks = [(r, g) for r, g in shapes if r.kind == "park"]
    counties = [(r, g) for r, g in shapes if r.kind == "county"]
    names = [r.name if ctx.lang == "zh" or not r.name_en else r.name_en for r, _ in counties]
    label_font = {"fontFamily": CJK_FONTS, "fontSize": 13, "color": "#1a2b45", "fontWeight": 500}
    series: list[dict[str, Any]] = [
        {
            "name": t("map.grid"),
            "type": "lines",
            "coordinateSystem": "geo",
            "polyline": True,
            "silent": True,
            "large": True,
            "lineStyle": {"color": "rgba(60, 80, 110, 0.35)", "width": 0.5},
            "data": [],
            "z": 2,
        },
        {
            "name": t("map.prefecture_outline"),
            "type": "lines",
            "coordinateSystem": "geo",
            "polyline": True,
            "silent": True,
            "lineStyle": {"color": "#0d2a52", "width": 2.5},
            "data": [{"coords": p} for g in prefecture for p in line_paths(g)],
            "z": 3,
        },
        {
            "name": t("map.park"),
            "type": "lines",
            "coordinateSystem": "geo",
            "polyline": True,
            "silent": True,
            "lineStyle": {"color": "#7b1fa2", "width": 2, "type": "dashed"},
            "data": [{"coords": p} for _, g in parks for p in line_paths(g)],
            "z": 3,
        },
        {
            "name": t("map.park_label"),
            "type": "scatter",
            "coordinateSystem": "geo",
            "silent": True,
            "symbolSize": 0,
            "label": {
                "show": True,
                "formatter": "{b}",
                "position": "top",
                "color": "#6a1b9a",
                "fontSize": 12,
                "fontFamily": CJK_FONTS,
            },
            "data": [
                {
                    "name": (r.name if ctx.lang == "zh" else r.name_en or r.name)
                    + (t("map.simulated_outline") if r.attrs.get("simulated_outline") else ""),
                    "value": _top_centre(g),
                }
                for r, g in parks
            ],
            "z": 4,
        },
        {
            "name": t("map.stations"),
            "type": "scatter",
            "coordinateSystem": "geo",
            "symbolSize": 13,
            "itemStyle": {
                "borderColor": "#ffffff",
                "borderWidth": 1.5,
                "shadowBlur": 3,
                "shadowColor": "rgba(0,0,0,.4)",
            },
            "data": [
                {
                    "name": s["name"],
                    "value": [s["lon"], s["lat"], (s.get("aqi") or {}).get("value")],
                    "itemStyle": {"color": station_color(s)},
                    "tip": _station_tip(s, ctx.lang),
                }
                for s in stations
                if s.get("lon") is not None
            ],
            "z": 5,
        },
    ]
    return {
        "animation": False,
        "tooltip": {"trigger": "item", ":formatter": "(p) => (p.data && p.data.tip) ? p.data.tip : p.name"},
        "geo": {
            "map": MAP_NAME,
            "roam": True,
            "scaleLimit": {"min": 0.8, "max": 40},
            # the chart box has the map's own aspect ratio (see map_aspect), so equal margins keep shapes true
            "top": "2%",
            "bottom": "2%",
            "left": "2%",
            "right": "2%",
            "aspectScale": ASPECT_SCALE,
            "label": {"show": True, **label_font},
            "itemStyle": {"areaColor": "#e8eef5", "borderColor": "#5a7596", "borderWidth": 1},
            "emphasis": {"label": {"show": True, **label_font}, "itemStyle": {"areaColor": "#cfdcec"}},
            "select": {"disabled": True},
            "regions": [{"name": n, "label": {"show": True}} for n in names],
        },
        "series": series,
    }


def legend(lang: str) -> None:
    ui.label(t("map.legend")).classes("text-subtitle2 q-mt-md")
    with ui.column().classes("gap-1 bogda-legend"):
        for cat in aqi_std.categories():
            name = cat.name_zh if lang == "zh" else cat.name_en
            with ui.row().classes("items-center gap-2 no-wrap"):
                ui.element("span").style(
                    f"display:inline-block;width:14px;height:14px;border-radius:50%;background:{cat.hex};"
                    "border:1px solid #999"
                )
                ui.label(f"{cat.level_zh} {name}" if lang == "zh" else name).classes("text-body2")
        for color, key in ((OFFLINE_COLOR, "status.offline"), (NO_DATA_COLOR, "map.no_aqi")):
            with ui.row().classes("items-center gap-2 no-wrap"):
                ui.element("span").style(
                    f"display:inline-block;width:14px;height:14px;border-radius:50%;background:{color};"
                    "border:1px solid #999"
                )
                ui.label(t(key)).classes("text-body2")
        ui.label(t("map.legend_note")).classes("text-caption text-grey-7")


@ui.page("/map")
async def map_page(request: Request) -> Response | None:
    ctx = begin(request, "/map")
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    ui.page_title(f"{t('nav.map')} · bogda")
    frame(ctx)
    stations = load_stations(ctx)
    counties = [(r, g) for r, g in outlines(ctx.store) if r.kind == "county" and ctx.who.sees(r.id)]
    with ui.column().classes("w-full q-pa-md gap-2"):
        simulated_banner(any(s.get("simulated") for s in stations))
        with ui.row().classes("w-full no-wrap items-start gap-4"):
            chart_box = ui.column().classes("grow").style("min-width: 0")
            with chart_box:
                ui.spinner(size="lg").classes("q-ma-xl")
            with ui.column().classes("gap-1 bogda-map-side").style("width: 16rem; flex: none"):
                ui.label(t("map.counties")).classes("text-subtitle2")
                with (
                    ui.list()
                    .props(f'dense bordered separator aria-label="{t("map.counties")}"')
                    .classes("w-full bogda-county-list")
                ):
                    for row, _ in counties:
                        n = sum(1 for s in stations if (s.get("county") or {}).get("id") == row.id)
                        with ui.item():
                            with ui.item_section():
                                ui.item_label(row.name).classes("bogda-county text-body1")
                                if lang != "zh" and row.name_en:
                                    ui.item_label(row.name_en).props("caption")
                            with ui.item_section().props("side"):
                                ui.item_label(t("map.n_stations", n=n)).props("caption")
                online = sum(1 for s in stations if s.get("online"))
                ui.label(
                    t("stations.summary", total=len(stations), online=online, offline=len(stations) - online)
                ).classes("text-body2 q-mt-sm bogda-station-summary")
                grid_switch = ui.switch(t("map.grid"), value=False).classes("bogda-grid-switch")
                legend(lang)

    await ui.context.client.connected()
    if not any(ctx.who.sees(r.id) for r, _ in outlines(ctx.store)):
        # ECharts' geo layout fails on a map without features ("Cannot read properties of null (reading '0')"): a user
        # who sees no outline gets a sentence, not a broken chart
        chart_box.clear()
        with chart_box:
            ui.label(t("map.no_area")).classes("text-body1 q-ma-md bogda-map-empty")
        return None
    geojson = region_geojson(counties, lang)
    await ui.run_javascript(
        "const { echarts } = await import('nicegui-echart');"
        f"echarts.registerMap({json.dumps(MAP_NAME)}, {json.dumps(geojson, ensure_ascii=False)});"
        "return true;",
        timeout=20,
    )
    chart_box.clear()
    with chart_box:
        aspect = map_aspect([g for r, g in outlines(ctx.store) if ctx.who.sees(r.id) and r.kind != "prefecture"])
        chart = ui.echart(chart_options(ctx, stations)).classes("w-full bogda-map")
        chart.style(map_style(aspect))

    def toggle_grid(on: bool) -> None:
        data = [{"coords": p} for p in grid_paths(visible_cells(ctx.store, ctx.who))] if on else []
        chart.options["series"][GRID_SERIES]["data"] = data
        chart.update()

    grid_switch.on_value_change(lambda e: toggle_grid(bool(e.value)))
    return None
