"""Fire page: satellite fire points on the county map (ECharts ``geo`` over the stored boundaries, no tiles) with
detections coloured by state, events by verification state and mask sites, plus lists of events, detections and
masks. Reads through :mod:`bogda.web.api.fire` (the same scoping as the REST API).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui
from sqlalchemy import func, select

from bogda.fire import mask_sites
from bogda.fire.events import VERDICT_OUTCOME
from bogda.fire.verification import record_verdict
from bogda.store.schema import fire_detection
from bogda.timeutil import beijing_date, now_utc
from bogda.web.api.fire import EDIT_ROLES, detection_features, event_rows
from bogda.web.ui.layout import Ctx, begin, frame
from bogda.web.ui.map_data import MAP_NAME, line_paths, outlines, region_geojson
from bogda.web.ui.map_page import ASPECT_SCALE, map_aspect, map_style

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "fire.title": "卫星火点",
        "fire.range": "北京日期 {start} 至 {end}",
        "fire.detections": "火点像元",
        "fire.events": "火点事件",
        "fire.masks": "固定热源（掩膜）",
        "fire.note": "像元不等于火：被掩膜的像元只打标签，不删除；低可信度与辖区外像元显示但不派发。云下火点无法探测。",
        "state.screened": "有效火点",
        "state.masked": "已掩膜（热源）",
        "state.low_confidence": "低可信度",
        "state.outside_area": "辖区外",
        "state.spurious": "虚假像元",
        "state.verified_false": "核查为误报",
        "ver.pending": "待核查",
        "ver.verified": "已核查",
        "ver.not_dispatched": "不派发",
        "verdict.title": "录入核查结论",
        "verdict.event": "火点事件",
        "verdict.verdict": "核查结论",
        "verdict.note": "说明（可选）",
        "verdict.save": "保存结论",
        "verdict.saved": "已记录：{event} → {verdict}（{outcome}）",
        "verdict.none": "没有待核查的事件",
        "verdict.pick": "请选择事件和结论",
        "verdict.straw": "秸秆焚烧",
        "verdict.garbage": "垃圾焚烧",
        "verdict.wildland": "野外火（草地/林地）",
        "verdict.other_fire": "其他用火",
        "verdict.industrial": "工业热源",
        "verdict.false": "误报（现场无火无迹）",
        "verdict.not_found": "未发现（未到达或已熄灭无痕迹）",
    },
    "en": {
        "fire.title": "Satellite fire points",
        "fire.range": "Beijing dates {start} to {end}",
        "fire.detections": "Detections",
        "fire.events": "Fire events",
        "fire.masks": "Heat sources (masks)",
        "fire.note": "A pixel is not a fire: masked pixels are labelled, never deleted; low-confidence and "
        "out-of-area pixels are shown, not dispatched. Fires under cloud are missed.",
        "state.screened": "screened",
        "state.masked": "masked (heat source)",
        "state.low_confidence": "low confidence",
        "state.outside_area": "outside the area",
        "state.spurious": "spurious",
        "state.verified_false": "verified false",
        "ver.pending": "awaiting verification",
        "ver.verified": "verified",
        "ver.not_dispatched": "not dispatched",
        "verdict.title": "Record a verification verdict",
        "verdict.event": "Fire event",
        "verdict.verdict": "Verdict",
        "verdict.note": "Note (optional)",
        "verdict.save": "Save verdict",
        "verdict.saved": "Recorded: {event} → {verdict} ({outcome})",
        "verdict.none": "No event awaits verification",
        "verdict.pick": "Choose an event and a verdict",
        "verdict.straw": "straw burning",
        "verdict.garbage": "garbage burning",
        "verdict.wildland": "wildland fire",
        "verdict.other_fire": "other fire",
        "verdict.industrial": "industrial heat source",
        "verdict.false": "false (nothing on site)",
        "verdict.not_found": "not found",
    },
}

STATE_COLORS = {
    "screened": "#e53935",
    "masked": "#6d4c41",
    "low_confidence": "#fb8c00",
    "outside_area": "#9e9e9e",
    "spurious": "#bdbdbd",
    "verified_false": "#1e88e5",
}
VERIFICATION_COLORS = {"pending": "#d50000", "verified": "#2e7d32", "not_dispatched": "#757575"}


def tx(lang: str, key: str, **values: object) -> str:
    text = TEXTS.get(lang, TEXTS["zh"]).get(key) or TEXTS["zh"].get(key, key)
    return text.format(**values) if values else text


def default_range(ctx: Ctx) -> tuple[date, date]:
    """The 30 Beijing days up to the newest stored detection (today when there is none)."""
    with ctx.store.engine.connect() as conn:
        last = conn.execute(select(func.max(fire_detection.c.date_bjt))).scalar()
    end = last or beijing_date(now_utc())
    return end - timedelta(days=29), end


def chart_options(ctx: Ctx, state: dict[str, Any]) -> dict:
    """The map of ``state`` (:func:`lists_state`): outline, masks, detections by state, events by verification."""
    lang = ctx.lang
    fc, events, masks = state["fc"], state["events"], state["masks"]
    shapes = [(r, g) for r, g in outlines(ctx.store) if ctx.who.sees(r.id)]
    pref = [g for r, g in shapes if r.kind == "prefecture"]
    series: list[dict[str, Any]] = [
        {
            "name": "outline",
            "type": "lines",
            "coordinateSystem": "geo",
            "polyline": True,
            "silent": True,
            "lineStyle": {"color": "#0d2a52", "width": 2.5},
            "data": [{"coords": p} for g in pref for p in line_paths(g)],
        },
        {
            "name": tx(lang, "fire.masks"),
            "type": "scatter",
            "coordinateSystem": "geo",
            "symbol": "triangle",
            "symbolSize": 11,
            "itemStyle": {"color": "#795548", "opacity": 0.8},
            "data": [
                {
                    "name": m["name"] or m["source_id"],
                    "value": [m["lon"], m["lat"]],
                    "tip": f"{m['name'] or m['source_id']} · {m['kind']} · {m['origin']} · {m['status']}",
                }
                for m in masks
                if m["status"] != "retired"
            ],
        },
    ]
    for state, color in STATE_COLORS.items():
        pts = [f for f in fc["features"] if f["properties"]["state"] == state]
        series.append(
            {
                "name": tx(lang, f"state.{state}"),
                "type": "scatter",
                "coordinateSystem": "geo",
                "symbolSize": 7,
                "itemStyle": {"color": color},
                "data": [
                    {
                        "value": f["geometry"]["coordinates"],
                        "tip": f"{f['properties']['satellite']} {f['properties']['acq_time']['local'][:16]} · "
                        f"FRP {f['properties']['frp_mw']} · {tx(lang, f'state.{state}')}",
                    }
                    for f in pts
                ],
            }
        )
    series.append(
        {
            "name": tx(lang, "fire.events"),
            "type": "effectScatter",
            "coordinateSystem": "geo",
            "symbolSize": 14,
            "data": [
                {
                    "value": [e["lon"], e["lat"]],
                    "itemStyle": {"color": VERIFICATION_COLORS[e["verification"]]},
                    "tip": f"{e['event_id']} · {tx(lang, 'ver.' + e['verification'])} · {e['verdict'] or ''}",
                }
                for e in events
                if e["lon"] is not None and e["status"] != "merged"
            ],
        }
    )
    return {
        "animation": False,
        "legend": {"bottom": 0},
        "tooltip": {"trigger": "item", ":formatter": "(p) => (p.data && p.data.tip) ? p.data.tip : p.name"},
        "geo": {
            "map": MAP_NAME,
            "roam": True,
            "aspectScale": ASPECT_SCALE,
            "top": "2%",
            "bottom": "8%",
            "left": "2%",
            "right": "2%",
            "label": {"show": True},
            "itemStyle": {"areaColor": "#eef2f6", "borderColor": "#5a7596"},
        },
        "series": series,
    }


def verdict_form(ctx: Ctx, events: list[dict[str, Any]], on_saved: Callable[[], None]) -> None:
    """Verdict of a site visit for an event awaiting verification (fire.md §3.7), recorded as the API does:
    audited, by the signed-in operator; ``on_saved`` then shows the new state in place (the operator keeps the
    map's zoom and pan, and the map is not torn down and rebuilt by a reload)."""
    lang = ctx.lang
    pending = [e for e in events if e["verification"] == "pending" and e["status"] != "merged"]
    with ui.card().classes("w-full bogda-fire-verdict").props("flat bordered"):
        ui.label(tx(lang, "verdict.title")).classes("text-subtitle1")
        if not pending:
            ui.label(tx(lang, "verdict.none")).classes("text-grey-7")
            return
        with ui.row().classes("items-end gap-4 w-full"):
            event = ui.select(
                {e["event_id"]: f"{e['event_id']} · {e['county_code'] or ''}" for e in pending},
                label=tx(lang, "verdict.event"),
            ).classes("min-w-[16rem] bogda-fire-verdict-event")
            verdict = ui.select(
                {v: tx(lang, f"verdict.{v}") for v in VERDICT_OUTCOME}, label=tx(lang, "verdict.verdict")
            ).classes("min-w-[14rem] bogda-fire-verdict-value")
            note = ui.input(tx(lang, "verdict.note")).classes("min-w-[16rem]")

            def save() -> None:
                if not event.value or not verdict.value:
                    ui.notify(tx(lang, "verdict.pick"), type="warning")
                    return
                try:
                    out = record_verdict(
                        ctx.store,
                        event.value,
                        verdict.value,
                        by=ctx.user.login,
                        user_id=ctx.user.id,
                        note=note.value or None,
                        peer=ctx.peer,
                    )
                except (LookupError, ValueError) as exc:
                    ui.notify(str(exc), type="negative")
                    return
                ui.notify(
                    tx(
                        lang,
                        "verdict.saved",
                        event=out.event_id,
                        verdict=tx(lang, f"verdict.{out.verdict}"),
                        outcome=out.outcome,
                    ),
                    type="positive",
                )
                on_saved()

            ui.button(tx(lang, "verdict.save"), on_click=save).props("color=primary").classes("bogda-fire-verdict-save")


def lists_state(ctx: Ctx, start: date, end: date) -> dict[str, Any]:
    """What the map and the lists show: detections (GeoJSON features), events last seen from ``start``, masks."""
    fc = detection_features(ctx.store, ctx.who, start, end)
    events = [
        ev
        for ev in event_rows(ctx.store, ctx.who)
        if ev["last_seen"] and ev["last_seen"]["local"][:10] >= start.isoformat()
    ]
    return {"fc": fc, "events": events, "masks": mask_sites.list_sites(ctx.store)}


def fire_lists(ctx: Ctx, state: dict[str, Any], on_saved: Callable[[], None]) -> None:
    """The events (with the verdict form for editors), detections and masks tables of ``state``
    (:func:`lists_state`)."""
    lang = ctx.lang
    fc, events, masks = state["fc"], state["events"], state["masks"]
    ui.label(tx(lang, "fire.events")).classes("text-subtitle1")
    ev_cols = ["event_id", "status", "county_code", "n_detections", "max_frp", "class", "verification", "verdict"]
    ui.table(
        columns=[{"name": c, "label": c, "field": c, "sortable": True, "align": "left"} for c in ev_cols],
        rows=[{c: (tx(lang, "ver." + ev[c]) if c == "verification" else ev[c]) for c in ev_cols} for ev in events],
        row_key="event_id",
        pagination={"rowsPerPage": 20},
    ).classes("w-full bogda-fire-events").props("dense flat bordered")
    if set(ctx.user.roles) & set(EDIT_ROLES):
        verdict_form(ctx, events, on_saved)
    ui.label(tx(lang, "fire.detections")).classes("text-subtitle1")
    det_cols = ["id", "satellite", "confidence_raw", "frp_mw", "county_code", "state", "event_id"]
    ui.table(
        columns=[{"name": c, "label": c, "field": c, "sortable": True, "align": "left"} for c in det_cols],
        rows=[
            {
                **{c: f["properties"].get(c) for c in det_cols},
                "state": tx(lang, f"state.{f['properties']['state']}"),
            }
            for f in fc["features"]
        ],
        row_key="id",
        pagination={"rowsPerPage": 20},
    ).classes("w-full bogda-fire-detections").props("dense flat bordered")
    ui.label(tx(lang, "fire.masks")).classes("text-subtitle1")
    m_cols = ["source_id", "name", "kind", "origin", "status", "radius_km", "edited_by"]
    ui.table(
        columns=[{"name": c, "label": c, "field": c, "sortable": True, "align": "left"} for c in m_cols],
        rows=[{c: m[c] for c in m_cols} for m in masks],
        row_key="source_id",
        pagination={"rowsPerPage": 20},
    ).classes("w-full bogda-fire-masks").props("dense flat bordered")


@ui.page("/fire")
async def fire_page(request: Request, start: str | None = None, end: str | None = None) -> Response | None:
    ctx = begin(request, "/fire")
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    ui.page_title(f"{tx(lang, 'fire.title')} · bogda")
    frame(ctx)
    s, e = default_range(ctx)
    try:
        s = date.fromisoformat(start) if start else s
        e = date.fromisoformat(end) if end else e
    except ValueError:
        pass
    state = lists_state(ctx, s, e)
    counties = [(r, g) for r, g in outlines(ctx.store) if r.kind == "county" and ctx.who.sees(r.id)]
    charts: list[ui.echart] = []

    def saved() -> None:
        state.update(lists_state(ctx, s, e))
        lists.refresh()
        for chart in charts:
            chart.options.clear()
            chart.options.update(chart_options(ctx, state))
            chart.update()

    @ui.refreshable
    def lists() -> None:
        fire_lists(ctx, state, saved)

    with ui.column().classes("w-full q-pa-md gap-2"):
        ui.label(tx(lang, "fire.title")).classes("text-h6")
        ui.label(tx(lang, "fire.range", start=s.isoformat(), end=e.isoformat())).classes("text-grey-8")
        ui.label(tx(lang, "fire.note")).classes("text-caption text-grey-7")
        chart_box = ui.column().classes("w-full")
        with chart_box:
            ui.spinner(size="lg")
        with ui.column().classes("w-full gap-2"):
            lists()

    await ui.context.client.connected()
    geojson = region_geojson(counties, lang)
    await ui.run_javascript(
        "const { echarts } = await import('nicegui-echart');"
        f"echarts.registerMap({json.dumps(MAP_NAME)}, {json.dumps(geojson, ensure_ascii=False)});"
        "return true;",
        timeout=20,
    )
    chart_box.clear()
    with chart_box:
        aspect = map_aspect([g for _, g in counties])
        charts.append(ui.echart(chart_options(ctx, state)).classes("w-full bogda-fire-map").style(map_style(aspect)))
    return None
