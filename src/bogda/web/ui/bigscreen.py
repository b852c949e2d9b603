"""Command-centre big screen (issue 11 §1–2): ``/bigscreen``, a dark full-screen NiceGUI page for a 1920×1080 (or
3840×2160) video wall.

The centre is the ECharts ``geo`` map of the counties (registered over the websocket, as on ``/map``; no tiles,
no external request) with switchable layers — stations coloured by their newest hourly AQI (grey when offline),
the 3 km grid, open findings by kind, open fire events, open tasks and wind. Side panels show the headline area's
AQI now, each county's AQI, stations online, month- and year-to-date good-day ratio and PM2.5 against last year and
the annual targets, open findings by kind, open tasks by state and overdue, active warnings and the year-to-date
non-site case share; under the map the 7-day forecast strip with its p10–p90 range and the replay bar.

Live: a ``ui.timer`` re-reads :func:`bogda.web.api.bigscreen.shared_figures` every :data:`REFRESH_S` seconds and
pushes the changed numbers and layer data over the websocket (no page reload); one computation serves every screen
of the same area for a few seconds. Everything is restricted to the user's area (:class:`ScreenScope`): a county
user sees only their county, as in the API.

Replay: the slider scrubs back through the last 72 hours at hourly steps (station AQI, wind, findings, fire events,
tasks as they stood at the end of each hour); play/pause steps through them; 「实时」 returns to the live picture.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import run, ui

from bogda.forecast.warnings import LEVEL_ZH
from bogda.grid.states import STATE_NAMES, STATES
from bogda.standards.levels import categories
from bogda.store import Store
from bogda.timeutil import BEIJING
from bogda.web.api.bigscreen import (
    MAX_POINTS,
    REPLAY_HOURS,
    replay_bundle,
    replay_frame,
    scope_for,
    shared_figures,
)
from bogda.web.api.bigscreen_progress import forecast_strip, shared_progress
from bogda.web.ui.bigscreen_chart import (
    ACCENT,
    BG,
    KIND_NAMES,
    LAYERS,
    PANEL,
    SERIES,
    STATUS_COLOURS,
    TEXT,
    chart_options,
    layer_data,
    progress_rows,
    warning_regions,
)
from bogda.web.ui.layout import CJK_FONTS, begin
from bogda.web.ui.map_data import MAP_NAME, grid_paths, outlines, region_geojson, visible_cells

__all__ = ["MAX_POINTS", "chart_options", "layer_data", "screen_figures", "shared_figures", "warning_regions"]

REFRESH_S = 3.0
"""Push interval of the live figures [s]."""
PLAY_STEP_S = 1.0
"""Replay speed: one hour per this many seconds."""
BUNDLE_TTL_S = 300.0
"""A loaded replay window is reused this long before it is read again [s]."""


def screen_figures(store: Store, *, now: datetime | None = None) -> dict[str, Any]:
    """The unrestricted figures (kept for callers of the first increment)."""
    from bogda.web.api.bigscreen import screen_figures as figures

    return figures(store, now=now)


def _css() -> None:
    ui.add_css(
        f"""
        body, .q-page, .nicegui-content {{ background: {BG} !important; color: #e2e8f0; font-family: {CJK_FONTS}; }}
        .nicegui-content {{ padding: 0 !important; }}
        .bs-panel {{ background: {PANEL}; border: 1px solid #1e3a5f; border-radius: 6px; padding: 10px 14px; }}
        .bs-h {{ color: {ACCENT}; font-size: 1.05rem; font-weight: 600; letter-spacing: .05em; }}
        .bs-big {{ font-size: 4.2rem; font-weight: 700; line-height: 1; }}
        .bs-num {{ font-size: 2.0rem; font-weight: 700; color: #f8fafc; }}
        .bs-row {{ display: flex; justify-content: space-between; font-size: 1.0rem; padding: 1px 0; }}
        .bs-row .text-weight-bold {{ color: #f8fafc; }}
        .bs-muted {{ color: #94a3b8; }}
        .bs-layers .q-toggle__label {{ color: #e2e8f0; }}
        .bs-table {{ width: 100%; border-collapse: collapse; font-size: .92rem; }}
        .bs-table td, .bs-table th {{ padding: 2px 4px; text-align: right; }}
        .bs-table td:first-child, .bs-table th:first-child {{ text-align: left; }}
        .bs-table th {{ color: #94a3b8; font-weight: 500; }}
        .bs-day {{ flex: 1; text-align: center; border-radius: 4px; padding: 4px 2px; background: #10253f; }}
        .bs-day .bs-day-aqi {{ font-size: 1.6rem; font-weight: 700; line-height: 1.1; }}
        .bs-replay-bar .q-slider__track-container {{ background: #1e3a5f; }}
        """
    )


@ui.page("/bigscreen", response_timeout=60)  # a loaded server still builds the wall
async def bigscreen(request: Request) -> Response | None:
    ctx = begin(request, "/bigscreen")
    if isinstance(ctx, Response):
        return ctx
    lang, store = ctx.lang, ctx.store
    T = TEXT[lang]
    idx = 0 if lang == "zh" else 1
    ui.page_title(f"{T['title']} · bogda")
    ui.dark_mode(True)
    _css()
    ui.query("html").props(f'lang="{"zh-CN" if lang == "zh" else "en"}"')
    scope = await run.io_bound(scope_for, store, ctx.who.places)
    figs = await run.io_bound(shared_figures, store, scope)
    on = {"stations": True, "grid": False, "findings": True, "fire": True, "tasks": True, "wind": False}
    labels: dict[str, ui.label] = {}
    replay: dict[str, Any] = {"active": False, "bundle": None, "loaded": 0.0, "step": REPLAY_HOURS, "playing": False}

    def num(key: str, classes: str = "bs-num") -> ui.label:
        labels[key] = ui.label("—").classes(f"{classes} bs-{key.replace('_', '-')}")
        return labels[key]

    with ui.column().classes("w-full gap-2 q-pa-sm").style("height: 100vh; min-height: 100vh"):
        with ui.row().classes("w-full items-center no-wrap"):
            ui.label(T["title"]).classes("text-h4 text-weight-bold").style(f"color: {ACCENT}")
            if not scope.unrestricted:
                ui.label(T["county_only"]).classes("bs-muted q-ml-md bs-scope-note")
            ui.space()
            with ui.row().classes("items-center gap-2 bs-layers"):
                ui.label(T["layers"]).classes("bs-muted")
                switches = {
                    layer: ui.switch(T[f"l_{layer}"], value=on[layer]).classes(f"bs-layer-{layer}") for layer in LAYERS
                }
            ui.label(T["updated"]).classes("bs-muted q-ml-lg")
            num("updated", "text-h6")
            ui.link(T["duty"], "/duty").classes("q-ml-md").style(f"color: {ACCENT}")
            ui.link(T["back"], "/map").classes("q-ml-md").style(f"color: {ACCENT}")
        with ui.row().classes("w-full no-wrap gap-2").style("flex: 1; min-height: 0"):
            with ui.column().classes("gap-2").style("width: 25rem; flex: none"):
                with ui.column().classes("bs-panel w-full gap-1"):
                    num("pref_name", "bs-h")
                    with ui.row().classes("items-end gap-3"):
                        num("pref_aqi", "bs-big")
                        num("pref_cat", "text-h5")
                    num("pref_primary", "bs-muted")
                    with ui.row().classes("items-center gap-2"):
                        ui.label(T["today"]).classes("bs-muted")
                        num("today", "text-subtitle1 text-weight-bold")
                with ui.column().classes("bs-panel w-full gap-0"):
                    ui.label(T["counties"]).classes("bs-h")
                    county_box = ui.column().classes("w-full gap-0 bs-county-ranking")
                with ui.column().classes("bs-panel w-full gap-0"):
                    ui.label(T["stations_online"]).classes("bs-h")
                    num("stations_online")
                with ui.column().classes("bs-panel w-full gap-1"):
                    ui.label(T["progress"]).classes("bs-h")
                    progress_box = ui.column().classes("w-full gap-0 bs-progress")
            with ui.column().classes("gap-2").style("flex: 1; min-width: 0; height: 100%"):
                map_box = ui.column().classes("bs-panel w-full").style("flex: 1; min-height: 0")
                with map_box:
                    ui.spinner(size="xl").classes("q-ma-xl")
                with ui.row().classes("bs-panel w-full items-center no-wrap gap-3 bs-replay-bar"):
                    ui.label(T["replay"]).classes("bs-h")
                    play = ui.button(T["play"], icon="play_arrow").props("dense flat color=light-blue-3")
                    play.classes("bs-replay-play")
                    slider = (
                        ui.slider(min=0, max=REPLAY_HOURS, step=1, value=REPLAY_HOURS)
                        .props("dense label color=light-blue-4")
                        .classes("bs-replay-slider q-mx-md")
                        .style("flex: 1; min-width: 0")
                    )
                    num("replay_time", "text-subtitle1 text-weight-bold").style("white-space: nowrap; flex: none")
                    labels["replay_time"].set_text(T["live_now"])
                    num("replay_counts", "bs-muted").style("white-space: nowrap; flex: none").set_text("")
                    live_btn = ui.button(T["live"], icon="sensors").props("dense outline color=light-blue-3")
                    live_btn.classes("bs-replay-live")
                with ui.column().classes("bs-panel w-full gap-1"):
                    ui.label(T["forecast"]).classes("bs-h")
                    forecast_box = ui.row().classes("w-full no-wrap gap-1 bs-forecast")
            with ui.column().classes("gap-2").style("width: 24rem; flex: none"):
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
    cats = {c.level: c for c in categories()}

    def panels(f: dict[str, Any]) -> None:
        areas = f["areas"]
        head = next((a for a in areas if a["code"] == f["headline"]), None) or next(
            (a for a in areas if a["kind"] == "prefecture"), None
        )
        set_text("pref_name", f"{(head or {}).get('name' if lang == 'zh' else 'name_en') or ''} {T['prefecture']}")
        set_text("pref_aqi", head["aqi"] if head and head["aqi"] is not None else "—")
        labels["pref_aqi"].style(f"color: {(head or {}).get('colour') or '#94a3b8'}")
        cat = cats.get(head["level"]) if head and head.get("level") else None
        set_text("pref_cat", (cat.name_zh if lang == "zh" else cat.name_en) if cat else T["no_data"])
        set_text("pref_primary", (head or {}).get("primary_pollutant") or "")
        today = f.get("today", {}).get((head or {}).get("code") or "")
        if today and today["aqi"] is not None:
            set_text("today", f"{today['aqi']} · {T['good_day'] if today['good'] else T['not_good_day']}")
        else:
            set_text("today", "—")
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
            (
                names.get(w["area_code"], w["area_code"]),
                f"{LEVEL_ZH.get(w['level'], w['level']) if lang == 'zh' else w['level']}"
                f" {w['start_date'][5:]}–{w['end_date'][5:]}",
            )
            for w in f["warnings"]
        ] or [(T["no_warning"], "")]
        if shown.get("warnings") != warn_rows:
            rows(warning_box, warn_rows)
            shown["warnings"] = warn_rows
        share = f["non_site"]
        set_text("non_site", f"{share['share_pct']} %" if share and share.get("share_pct") is not None else "—")
        set_text("updated", f["generated_at"].astimezone(BEIJING).strftime("%H:%M:%S"))

    def show_progress(p: dict[str, Any] | None) -> None:
        table = progress_rows(p, lang)
        if shown.get("progress") == table:
            return
        shown["progress"] = table
        progress_box.clear()
        with progress_box:
            if not table:
                ui.label(T["no_data"]).classes("bs-muted")
                return
            head = [T["metric"], T["mtd"], T["ytd"], T["last_year"], T["target"], T["projected"], T["status"]]
            # rows built from labels, never from HTML: the values come from the database
            with (
                ui.grid(columns=7)
                .classes("w-full gap-x-2 gap-y-0 bs-progress-grid")
                .style("font-size: .9rem; grid-template-columns: 7.5rem repeat(6, minmax(0, 1fr))")
            ):
                for h in head:
                    ui.label(h).classes("bs-muted")
                for r in table:
                    key = "good" if r[0] == T["good_ratio"] else "pm25"
                    for j, cell in enumerate(r[:7]):
                        lab = ui.label(cell).classes(f"bs-progress-{key}-{j}")
                        if j == 6:
                            lab.style(f"color: {STATUS_COLOURS[r[7]]}; font-weight: 600")

    def show_forecast(strip: list[dict[str, Any]]) -> None:
        row = next((r for r in strip if r["code"] == scope.headline), None) or (strip[0] if strip else None)
        days, seen = [], set()
        for d in [] if row is None else row["days"]:
            if d["date"] not in seen and len(days) < 7:  # one value a day (the strip's first method)
                seen.add(d["date"])
                days.append(d)
        cells = [(d["date"][5:], d["aqi"], d["p10"], d["p90"], d["level"]) for d in days]
        if shown.get("forecast") == cells:
            return
        shown["forecast"] = cells
        forecast_box.clear()
        with forecast_box:
            if not cells:
                ui.label(T["no_forecast"]).classes("bs-muted bs-forecast-empty")
                return
            for day, aqi, p10, p90, level in cells:
                cat = cats.get(level) if level else None
                with ui.column().classes("bs-day gap-0 bs-forecast-day"):
                    ui.label(day).classes("bs-muted")
                    ui.label("—" if aqi is None else f"{aqi:.0f}").classes("bs-day-aqi").style(
                        f"color: {cat.hex if cat else '#94a3b8'}"
                    )
                    ui.label("" if p10 is None or p90 is None else f"{p10:.0f}–{p90:.0f}").classes("bs-muted")

    panels(figs)

    await ui.context.client.connected()
    counties = [(r, g) for r, g in outlines(store) if r.kind == "county" and ctx.who.sees(r.id)]
    geojson = json.dumps(region_geojson(counties, lang), ensure_ascii=False)
    await ui.run_javascript(
        f"const {{ echarts }} = await import('nicegui-echart'); echarts.registerMap({json.dumps(MAP_NAME)}, {geojson});"
        "return true;",
        timeout=60,  # a loaded wall PC or server: registering the outlines must not give up early
    )
    map_box.clear()
    with map_box:
        chart = ui.echart(chart_options(store, figs, lang, on, scope=scope)).classes("w-full bs-map")
        # a floor, not Tailwind's w-full alone: see map_page.map_style
        chart.style("width: 100%; height: 100%; min-width: 16rem; min-height: 12rem")

    def open_detail(e: Any) -> None:
        link = (e.data or {}).get("link") if isinstance(e.data, dict) else None
        if link:
            ui.navigate.to(link)

    chart.on_point_click(open_detail)

    def push_regions(f: dict[str, Any]) -> None:
        regions = warning_regions(f, lang)
        if chart.options["geo"].get("regions") != regions:
            chart.options["geo"]["regions"] = regions
            chart.update()

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

    def current() -> dict[str, Any]:
        if replay["active"] and replay["bundle"] is not None:
            return replay_frame(replay["bundle"], replay["step"])
        return shared_figures(store, scope)

    def toggle(layer: str, value: bool) -> None:
        on[layer] = value
        if layer == "grid":
            chart.options["series"][0]["data"] = (
                [{"coords": p} for p in grid_paths(visible_cells(store, ctx.who))] if value else []
            )
            chart.update()
        else:
            push_layers(current())

    for layer, sw in switches.items():
        sw.on_value_change(lambda e, layer=layer: toggle(layer, bool(e.value)))

    # --- replay ---------------------------------------------------------------------------------------------

    def show_frame() -> None:
        frame = replay_frame(replay["bundle"], replay["step"])
        at = datetime.fromtimestamp(frame["at"], UTC).astimezone(BEIJING)
        set_text("replay_time", f"{T['replaying']} {at:%m-%d %H:00}")
        head = next((a for a in frame["areas"] if a["code"] == scope.headline), None)
        aqi = head["aqi"] if head and head["aqi"] is not None else "—"
        set_text(
            "replay_counts",
            f"AQI {aqi} · {T['r_findings']} {frame['findings_open']} · {T['r_tasks']} {frame['tasks_open']}"
            f" · {T['r_fires']} {frame['fires_burning']}",
        )
        push_layers(frame)

    async def load_bundle() -> None:
        if replay["bundle"] is None or time.monotonic() - replay["loaded"] > BUNDLE_TTL_S:
            replay["bundle"] = await run.io_bound(replay_bundle, store, scope)
            replay["loaded"] = time.monotonic()

    async def scrub(e: Any) -> None:
        step = int(e.value)
        if not replay["active"] and step == REPLAY_HOURS:
            return  # "now" while live (also the echo of go_live moving the slider back)
        await load_bundle()
        replay["active"] = True
        replay["step"] = max(0, min(REPLAY_HOURS, step))
        show_frame()

    def set_playing(value: bool) -> None:
        replay["playing"] = value
        ticker.active = value
        play.set_text(T["pause"] if value else T["play"])
        play.props(f"icon={'pause' if value else 'play_arrow'}")

    async def toggle_play() -> None:
        if replay["playing"]:
            set_playing(False)
            return
        await load_bundle()
        if not replay["active"] or replay["step"] >= REPLAY_HOURS:
            replay["step"] = 0
        replay["active"] = True
        slider.set_value(replay["step"])
        show_frame()
        set_playing(True)

    def advance() -> None:
        if not replay["active"] or replay["bundle"] is None:
            set_playing(False)
            return
        if replay["step"] >= REPLAY_HOURS:
            set_playing(False)
            return
        replay["step"] += 1
        slider.set_value(replay["step"])  # fires scrub, which draws the frame

    def go_live() -> None:
        set_playing(False)
        replay["active"] = False
        replay["step"] = REPLAY_HOURS
        slider.set_value(REPLAY_HOURS)
        set_text("replay_time", T["live_now"])
        set_text("replay_counts", "")
        push_layers(shared_figures(store, scope))

    ticker = ui.timer(PLAY_STEP_S, advance, active=False)
    slider.on_value_change(scrub)
    play.on_click(toggle_play)
    live_btn.on_click(go_live)

    async def refresh() -> None:
        # the queries run off the event loop, so a slow database never stalls the websocket of other screens
        f = await run.io_bound(shared_figures, store, scope)
        if f is None:
            return
        panels(f)
        push_regions(f)
        if not replay["active"]:
            push_layers(f)
        shown_at = shown.get("slow_at", 0.0)
        if time.monotonic() - shown_at > 60:
            shown["slow_at"] = time.monotonic()
            show_progress(await run.io_bound(shared_progress, store, scope))
            show_forecast(await run.io_bound(forecast_strip, store, scope))

    ui.timer(REFRESH_S, refresh)
    # the slower figures (a year of daily rows, the forecast run) come after the map is up
    shown["slow_at"] = time.monotonic()
    show_progress(await run.io_bound(shared_progress, store, scope))
    show_forecast(await run.io_bound(forecast_strip, store, scope))
    return None
