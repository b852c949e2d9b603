"""The big screen's texts, map layers and panel rows (issue 11 §1–2): pure functions from the figures of
:mod:`bogda.web.api.bigscreen` to ECharts options and label rows, used by the page :mod:`bogda.web.ui.bigscreen`.

Every point carries ``link`` (its detail page) and ``tip`` (HTML-escaped: titles and names come from the database).
"""

from __future__ import annotations

import html
from typing import Any

from bogda.findings import SEVERITY_RANK
from bogda.grid.states import STATE_NAMES
from bogda.store import Store
from bogda.web.api.bigscreen import ScreenScope
from bogda.web.ui.layout import CJK_FONTS
from bogda.web.ui.map_data import MAP_NAME, line_paths, outlines
from bogda.web.ui.map_page import ASPECT_SCALE

BG = "#07111f"
PANEL = "#0d1b2e"
ACCENT = "#38bdf8"

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "昌吉州生态环境监管指挥中心",
        "prefecture": "空气质量指数",
        "counties": "各县市 AQI 排名",
        "stations_online": "站点在线",
        "findings": "待处置问题",
        "tasks": "在办任务",
        "overdue": "超期任务",
        "warnings": "生效预警",
        "no_warning": "无生效预警",
        "non_site": "非现场执法案件占比（本年）",
        "progress": "优良天数与 PM₂.₅ 目标进度",
        "metric": "指标",
        "mtd": "本月",
        "ytd": "本年",
        "last_year": "去年同期",
        "target": "目标",
        "projected": "预计全年",
        "status": "状态",
        "good_ratio": "优良天数比例 %",
        "pm25": "PM₂.₅ µg/m³",
        "met": "达标",
        "at_risk": "临界",
        "not_met": "未达标",
        "unknown": "—",
        "forecast": "未来 7 天 AQI 预报（p10–p90）",
        "no_forecast": "暂无预报",
        "layers": "图层",
        "l_stations": "监测站点",
        "l_grid": "网格",
        "l_findings": "问题线索",
        "l_fire": "火点",
        "l_tasks": "任务",
        "l_wind": "风场",
        "updated": "数据更新",
        "no_data": "无数据",
        "back": "返回控制台",
        "duty": "值班台",
        "replay": "回放",
        "live": "实时",
        "play": "播放",
        "pause": "暂停",
        "live_now": "实时画面",
        "replaying": "回放",
        "r_findings": "问题",
        "r_tasks": "任务",
        "r_fires": "火点",
        "county_only": "仅显示本辖区",
        "today": "今日 AQI（截至目前）",
        "good_day": "优良",
        "not_good_day": "非优良",
    },
    "en": {
        "title": "Changji Environmental Command Centre",
        "prefecture": "AQI now",
        "counties": "County AQI ranking",
        "stations_online": "Stations online",
        "findings": "Open findings",
        "tasks": "Open tasks",
        "overdue": "Overdue tasks",
        "warnings": "Warnings in force",
        "no_warning": "No warning in force",
        "non_site": "Non-site case share (year to date)",
        "progress": "Good days and PM₂.₅ against targets",
        "metric": "Metric",
        "mtd": "Month",
        "ytd": "Year",
        "last_year": "Last year",
        "target": "Target",
        "projected": "Projected",
        "status": "Status",
        "good_ratio": "Good-day ratio %",
        "pm25": "PM₂.₅ µg/m³",
        "met": "met",
        "at_risk": "at risk",
        "not_met": "not met",
        "unknown": "—",
        "forecast": "7-day AQI forecast (p10–p90)",
        "no_forecast": "no forecast yet",
        "layers": "Layers",
        "l_stations": "Stations",
        "l_grid": "Grid",
        "l_findings": "Findings",
        "l_fire": "Fire events",
        "l_tasks": "Tasks",
        "l_wind": "Wind",
        "updated": "Updated",
        "no_data": "no data",
        "back": "Console",
        "duty": "Duty desk",
        "replay": "Replay",
        "live": "Live",
        "play": "Play",
        "pause": "Pause",
        "live_now": "live",
        "replaying": "Replay",
        "r_findings": "findings",
        "r_tasks": "tasks",
        "r_fires": "fires",
        "county_only": "your area only",
        "today": "Today's AQI so far",
        "good_day": "good day",
        "not_good_day": "not a good day",
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
WARNING_COLOURS = {
    "blue": "rgba(59,130,246,0.45)",
    "yellow": "rgba(234,179,8,0.45)",
    "orange": "rgba(249,115,22,0.5)",
    "red": "rgba(220,38,38,0.55)",
}
"""County fill on the map while a heavy-pollution warning of that level is in force."""
WARNING_ORDER = ("blue", "yellow", "orange", "red")
STATUS_COLOURS = {"met": "#4ade80", "at_risk": "#facc15", "not_met": "#f87171", "unknown": "#94a3b8"}
LAYERS = ("stations", "grid", "findings", "fire", "tasks", "wind")
SERIES = ("grid", "outline", "stations", "findings", "fire", "tasks", "wind")
"""Order of the map series (a layer switched off keeps its slot with empty data, so updates merge)."""


def layer_data(figs: dict[str, Any], layer: str, lang: str) -> list[dict[str, Any]]:
    """ECharts data of one point layer; each point carries ``link`` (its detail page) and ``tip``."""
    if layer == "stations":
        out = []
        for s in figs["stations"]:
            if s["lon"] is None:
                continue
            cat = s.get("category_zh") if lang == "zh" else s.get("category_en")
            aqi = s["aqi"] if s["status"] == "online" else None
            out.append(
                {
                    "name": s["name"],
                    "value": [s["lon"], s["lat"], aqi],
                    "itemStyle": {"color": s["colour"]},
                    "link": f"/monitoring/station/{s['code']}",
                    "tip": f"<b>{html.escape(s['name'])}</b><br>AQI {aqi if aqi is not None else '—'} "
                    f"{html.escape(cat or '')}<br>{s['status']}",
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
                f"{html.escape(str(f['severity']))}<br>{html.escape(f['title'])}",
            }
            for f in figs["finding_points"]
        ]
    if layer == "fire":
        return [
            {
                "name": e["event_id"],
                "value": [e["lon"], e["lat"]],
                "link": "/fire",
                "tip": f"<b>{html.escape(e['event_id'])}</b><br>FRP {e['max_frp'] or '—'} MW",
            }
            for e in figs["fire_points"]
        ]
    if layer == "tasks":
        idx = 0 if lang == "zh" else 1
        return [
            {
                "name": k["title"],
                "value": [k["lon"], k["lat"]],
                "itemStyle": {"color": "#ef4444" if k["overdue"] else "#a78bfa"},
                # the board filtered to the task's state (the console has no page of one task)
                "link": "/tasks?overdue=1"
                if k["overdue"]
                else (f"/tasks?state={k['state']}" if k.get("state") else "/tasks"),
                "tip": f"<b>#{k['id']}</b> {STATE_NAMES[k['state']][idx] if k.get('state') in STATE_NAMES else ''}"
                f"<br>{html.escape(k['title'])}",
            }
            for k in figs["task_points"]
        ]
    if layer == "wind":
        # an arrow pointing where the wind blows to (the direction is where it comes from, clockwise from north;
        # ECharts rotates counter-clockwise)
        return [
            {
                "name": w["name"],
                "value": [w["lon"], w["lat"], w["ws"]],
                "symbolRotate": -((w["wd"] + 180.0) % 360.0),
                "symbolSize": 8 + min(float(w["ws"]), 15.0) * 1.6,
                "link": f"/monitoring/station/{w['code']}",
                "tip": f"<b>{html.escape(w['name'])}</b><br>{w['ws']:.1f} m/s · {w['wd']:.0f}°",
            }
            for w in figs.get("wind", [])
        ]
    raise ValueError(f"unknown layer {layer!r}")


def chart_options(
    store: Store, figs: dict[str, Any], lang: str, on: dict[str, bool], *, scope: ScreenScope | None = None
) -> dict[str, Any]:
    restricted = scope is not None and not scope.unrestricted
    prefecture = [] if restricted else [g for r, g in outlines(store) if r.kind == "prefecture"]

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
        points("wind", "arrow", 12, "#e2e8f0", 9),
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
            "regions": warning_regions(figs, lang) if "areas" in figs and "warnings" in figs else [],
        },
        "series": series,
    }


def warning_regions(figs: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """``geo.regions`` colouring each county under a warning in force (the highest level; a prefecture-wide
    warning covers every county)."""
    areas = figs["areas"]
    counties = [a for a in areas if a["kind"] == "county"]
    pref = {a["code"] for a in areas if a["kind"] == "prefecture"}
    level: dict[str, str] = {}
    for w in figs["warnings"]:
        hit = [a for a in counties if a["code"] == w["area_code"] or w["area_code"] in pref]
        for a in hit:
            name = a["name"] if lang == "zh" or not a.get("name_en") else a["name_en"]
            old = level.get(name)
            if w["level"] in WARNING_ORDER and (
                old is None or WARNING_ORDER.index(w["level"]) > WARNING_ORDER.index(old)
            ):
                level[name] = w["level"]
    return [{"name": n, "itemStyle": {"areaColor": WARNING_COLOURS[lv]}} for n, lv in sorted(level.items())]


def _fmt(v: float | None, dp: int) -> str:
    if v is None:
        return "—"
    return f"{v:.{dp}f}"


def progress_rows(progress: dict[str, Any] | None, lang: str) -> list[list[str]]:
    """Rows of the targets panel: metric, MTD, YTD, same period last year, target, projected, status."""
    T = TEXT[lang]
    if not progress:
        return []
    w = progress["windows"]
    targets = {t["metric"]: t for t in progress["targets"]}
    out = []
    for metric, key, label, dp in (
        ("good_day_ratio", "good_day_ratio", T["good_ratio"], 1),
        ("pm25_mean", "mean_pm25", T["pm25"], 0),
    ):
        t = targets.get(metric)
        target = f"{t['comparison'].replace('<=', '≤').replace('>=', '≥')}{_fmt(t['target'], dp)}" if t else "—"
        out.append(
            [
                label,
                _fmt(w["mtd"][key], dp),
                _fmt(w["ytd"][key], dp),
                _fmt(w["ytd_last_year"][key], dp),
                target,
                _fmt(t["projected"], dp) if t else "—",
                T[t["status"]] if t else "—",
                t["status"] if t else "unknown",
            ]
        )
    return out
