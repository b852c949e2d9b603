"""Monitoring console pages (monitoring.md §3.3–3.7): the network now (map + table, AQI colours, grey when offline),
station detail (time series of every pollutant with AQI bands, calendar heat map of daily AQI), county ranking,
completeness, and the alarm list with acknowledge. Faces only: each page calls a bogda.monitoring service."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.monitoring import alarms as A
from bogda.monitoring.assessment import assess_store, rankings
from bogda.monitoring.exports import aqi_frame
from bogda.monitoring.load import read_qa
from bogda.monitoring.stations import station_sites
from bogda.monitoring.status import GREY, StatusCache, completeness_report
from bogda.standards import categories
from bogda.timeutil import beijing_wall_ms, day_start_utc, now_utc, to_beijing
from bogda.web.ui.layout import Ctx, begin, frame, text_on

_cache: dict[int, StatusCache] = {}
PARAMS = {"a34004": "PM2.5", "a34002": "PM10", "a21026": "SO2", "a21004": "NO2", "a21005": "CO", "a05024": "O3"}
STATUS_TEXT = {
    "online": ("在线", "online"),
    "offline": ("离线", "offline"),
    "unknown": ("未知（数据源中断）", "unknown (feed down)"),
    "never_reported": ("从未上报", "never reported"),
}


def _t(ctx: Ctx, zh: str, en: str) -> str:
    return zh if ctx.lang == "zh" else en


def _page(request: Request, path: str, title: tuple[str, str]) -> Ctx | Response:
    ctx = begin(request, path)
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{_t(ctx, *title)} · bogda")
    frame(ctx)
    with ui.row().classes("q-px-md q-pt-md gap-4"):
        for link, zh, en in (
            ("/monitoring", "实时", "Now"),
            ("/monitoring/ranking", "县市排名", "County ranking"),
            ("/monitoring/completeness", "有效率", "Completeness"),
            ("/monitoring/alarms", "当日报警", "Alarms"),
        ):
            ui.link(_t(ctx, zh, en), link).classes("text-blue-9")
    return ctx


def _visible(ctx: Ctx, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if ctx.who.places is None:
        return records
    st = station_sites(ctx.store)
    ok = {i for i, p in st.select("site_id", "place_id").iter_rows() if p in ctx.who.places}
    return [r for r in records if r["site_id"] in ok]


def _local(text: str | None) -> str:
    if not text:
        return "—"
    return to_beijing(datetime.fromisoformat(text.replace("Z", "+00:00"))).strftime("%m-%d %H:%M")


def map_options(records: list[dict[str, Any]]) -> dict[str, Any]:
    """ECharts scatter of the stations on lon/lat, coloured by AQI level (grey when not online)."""
    pts = [
        {
            "name": f"{r['name']} {r['code']}",
            "value": [r["lon"], r["lat"], r["aqi"] if r["aqi"] is not None else "—"],
            "itemStyle": {"color": r["colour"], "borderColor": "#333", "borderWidth": 0.5},
        }
        for r in records
        if r["lon"] is not None and r["lat"] is not None
    ]
    return {
        "tooltip": {"trigger": "item"},
        "xAxis": {"type": "value", "scale": True, "name": "经度 lon"},
        "yAxis": {"type": "value", "scale": True, "name": "纬度 lat"},
        "series": [
            {
                "type": "scatter",
                "symbolSize": 14,
                "data": pts,
                "label": {"show": True, "formatter": "{@[2]}", "position": "top", "fontSize": 10},
            }
        ],
        "grid": {"left": 50, "right": 20, "top": 20, "bottom": 40},
    }


@ui.page("/monitoring")
def monitoring_now(request: Request) -> Response | None:
    ctx = _page(request, "/monitoring", ("空气质量实时", "Air quality now"))
    if isinstance(ctx, Response):
        return ctx
    records, meta = _cache.setdefault(id(ctx.store), StatusCache()).get(ctx.store)
    records = _visible(ctx, records)
    rows = [
        {
            "code": r["code"],
            "name": r["name"],
            "county": r["county_name"] or "—",
            "status": STATUS_TEXT.get(r["status"], (r["status"], r["status"]))[0 if ctx.lang == "zh" else 1],
            "aqi": r["aqi"] if r["aqi"] is not None else "—",
            "colour": r["colour"],
            "fg": text_on(r["colour"]),
            "category": (r["category_zh"] if ctx.lang == "zh" else r["category_en"]) or "—",
            "primary": r["primary_pollutant"] or "—",
            "pm25": r["pm25"] if r["pm25"] is not None else "—",
            "time": _local(r["aqi_ts"]),
            "online": r["status"] == "online",
        }
        for r in records
    ]
    with ui.column().classes("w-full q-pa-md gap-3"):
        counts = meta.get("counts", {})
        ui.label(
            _t(
                ctx,
                f"站点 {len(rows)} 个：在线 {counts.get('online', 0)}，离线 {counts.get('offline', 0)}",
                f"{len(rows)} stations: {counts.get('online', 0)} online, {counts.get('offline', 0)} offline",
            )
        )
        ui.echart(map_options(records)).classes("w-full bogda-monitoring-map").style("height: 420px")
        with ui.row().classes("gap-2 bogda-aqi-legend"):
            for c in categories():
                ui.badge(c.name_zh if ctx.lang == "zh" else c.name_en, color=c.hex, text_color=text_on(c.hex))
            ui.badge(_t(ctx, "离线/无数据", "offline / no data"), color=GREY, text_color=text_on(GREY))
        cols = [
            {"name": k, "label": lab, "field": k, "sortable": True, "align": "left"}
            for k, lab in (
                ("code", _t(ctx, "编码", "Code")),
                ("name", _t(ctx, "站点", "Station")),
                ("county", _t(ctx, "县市", "County")),
                ("aqi", "AQI"),
                ("category", _t(ctx, "级别", "Category")),
                ("primary", _t(ctx, "首要污染物", "Primary")),
                ("pm25", "PM2.5"),
                ("time", _t(ctx, "时段（北京时间）", "Hour (Beijing)")),
                ("status", _t(ctx, "状态", "Status")),
            )
        ]
        table = ui.table(columns=cols, rows=rows, row_key="code", pagination={"rowsPerPage": 50})
        table.classes("w-full bogda-monitoring-table").props("dense flat bordered")
        table.add_slot(
            "body-cell-aqi",
            '<q-td :props="props"><q-badge :style="{background: props.row.colour, color: props.row.fg}" '
            ':label="props.value" /></q-td>',
        )
        table.add_slot(
            "body-cell-code",
            '<q-td :props="props"><a :href="\'/monitoring/station/\' + props.value">{{ props.value }}</a></q-td>',
        )
    return None


def series_options(obs: pl.DataFrame, daily: pl.DataFrame) -> dict[str, Any]:
    """Line chart of every pollutant with the AQI level bands behind the PM2.5 axis, in Beijing time in any
    browser (architecture.md §4) and rounded to 0.1 µg/m³ (CO 0.01 mg/m³)."""
    series = []
    for code, label in PARAMS.items():
        part = obs.filter(pl.col("parameter") == code).sort("ts")
        series.append(
            {
                "name": label,
                "type": "line",
                "showSymbol": False,
                "yAxisIndex": 1 if code == "a21005" else 0,
                "data": [
                    [beijing_wall_ms(t), None if v is None else round(v, 2 if code == "a21005" else 1)]
                    for t, v in part.select("ts", "value").iter_rows()
                ],
            }
        )
    bands = [
        [{"yAxis": lo, "itemStyle": {"color": c.hex, "opacity": 0.12}}, {"yAxis": hi}]
        for c, (lo, hi) in zip(
            categories(), ((0, 35), (35, 75), (75, 115), (115, 150), (150, 250), (250, 500)), strict=True
        )
    ]
    if series:
        series[0]["markArea"] = {"silent": True, "data": bands}  # PM2.5 24 h breakpoints (HJ 633-2012)
    return {
        "useUTC": True,  # the times are Beijing wall clock (timeutil.beijing_wall_ms), whatever the browser's zone
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "xAxis": {"type": "time"},
        "yAxis": [{"type": "value", "name": "µg/m³"}, {"type": "value", "name": "CO mg/m³"}],
        "dataZoom": [{"type": "inside"}, {"type": "slider"}],
        "series": series,
        "grid": {"left": 50, "right": 50, "top": 40, "bottom": 60},
    }


def calendar_options(daily: pl.DataFrame, year: int) -> dict[str, Any]:
    pieces = [
        {"min": lo, "max": hi, "color": c.hex}
        for c, (lo, hi) in zip(
            categories(), ((0, 50), (51, 100), (101, 150), (151, 200), (201, 300), (301, 500)), strict=True
        )
    ]
    data = [[d.isoformat(), a] for d, a in daily.select("date", "aqi").iter_rows() if a is not None]
    return {
        "tooltip": {},
        "visualMap": {"type": "piecewise", "pieces": pieces, "orient": "horizontal", "left": "center", "top": 0},
        "calendar": {
            "range": str(year),
            "top": 60,
            "cellSize": ["auto", 14],
            "dayLabel": {"nameMap": "ZH"},
            "monthLabel": {"nameMap": "ZH"},
        },
        "series": [{"type": "heatmap", "coordinateSystem": "calendar", "data": data}],
    }


@ui.page("/monitoring/station/{code}")
def station_detail(request: Request, code: str) -> Response | None:
    ctx = _page(request, "/monitoring", ("站点详情", "Station detail"))
    if isinstance(ctx, Response):
        return ctx
    st = station_sites(ctx.store).filter(pl.col("code") == code)
    if st.height == 0 or (ctx.who.places is not None and st["place_id"][0] not in ctx.who.places):
        ui.label(_t(ctx, f"没有站点 {code}", f"no station {code}")).classes("q-pa-md text-negative")
        return None
    sid, name = int(st["site_id"][0]), st["name"][0]
    latest = read_qa(ctx.store, sites=[sid], start=now_utc() - timedelta(days=3650))
    end = latest["ts"].max() + timedelta(hours=1) if latest.height else now_utc()
    start = end - timedelta(days=14)
    obs = latest.filter((pl.col("ts") >= start) & pl.col("flag").is_in(["valid", "suspect"]))
    year = to_beijing(end - timedelta(hours=1)).year
    y0 = day_start_utc(datetime(year, 1, 1).date())
    daily = aqi_frame(ctx.store, table="daily", codes=[code], start=y0, end=y0 + timedelta(days=366))
    daily = daily.with_columns(pl.col("interval_start_bjt").str.slice(0, 10).str.to_date().alias("date"))
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(f"{name}（{code}）").classes("text-h6")
        ui.label(
            _t(
                ctx,
                "最近 14 天小时值（有效及可疑值；背景为 PM2.5 的 AQI 级别）",
                "Last 14 days of hourly values (valid and suspect; bands: AQI levels of PM2.5)",
            )
        ).classes("text-caption text-grey-7")
        ui.echart(series_options(obs, daily)).classes("w-full bogda-station-series").style("height: 380px")
        ui.label(_t(ctx, f"{year} 年日 AQI 日历", f"Daily AQI calendar {year}")).classes("text-subtitle1")
        ui.echart(calendar_options(daily, year)).classes("w-full bogda-station-calendar").style("height: 220px")
    return None


@ui.page("/monitoring/ranking")
def county_ranking(request: Request, month: str | None = None) -> Response | None:
    ctx = _page(request, "/monitoring/ranking", ("县市排名", "County ranking"))
    if isinstance(ctx, Response):
        return ctx
    today = to_beijing(now_utc()).date()
    first = datetime.strptime(month, "%Y-%m").date() if month else today.replace(day=1)
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    res = assess_store(ctx.store, start=day_start_utc(first), end=day_start_utc(nxt), period="month", write=False)
    rk = rankings(res)
    pm = res.filter((pl.col("metric") == "mean_pm25") & (pl.col("target_kind") == "county")).select(
        "target_code", "dust_mode", pl.col("value").alias("pm25")
    )
    rows = rk.join(pm, on=["target_code", "dust_mode"], how="left").to_dicts() if rk.height else []
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(
            _t(
                ctx,
                f"{first:%Y-%m} 县市空气质量排名（综合指数升序）",
                f"County ranking {first:%Y-%m} (composite index, ascending)",
            )
        ).classes("text-h6")
        cols = [
            {"name": k, "label": k, "field": k, "sortable": True}
            for k in (
                "target_code",
                "dust_mode",
                "composite_index",
                "rank_composite",
                "good_day_ratio",
                "rank_good_day_ratio",
                "pm25",
            )
        ]
        ui.table(columns=cols, rows=rows, row_key="target_code").classes("w-full bogda-ranking").props("dense flat")
        if not rows:
            ui.label(_t(ctx, "本月尚无县市评价数据", "No county figures for this month yet")).classes("text-grey-7")
    return None


@ui.page("/monitoring/completeness")
def completeness_page(request: Request, days: int = 30) -> Response | None:
    ctx = _page(request, "/monitoring/completeness", ("数据有效率", "Completeness"))
    if isinstance(ctx, Response):
        return ctx
    end = day_start_utc(to_beijing(now_utc()).date())
    st = station_sites(ctx.store)
    ids = [i for i, p in st.select("site_id", "place_id").iter_rows() if ctx.who.places is None or p in ctx.who.places]
    _, summary = completeness_report(ctx.store, start=end - timedelta(days=days), end=end, sites=ids, write=False)
    names = dict(zip(st["code"].to_list(), st["name"].to_list(), strict=True))
    rows = [{**r, "name": names.get(r["site_code"], "")} for r in summary.to_dicts()]
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(
            _t(ctx, f"近 {days} 天数据有效率（六项污染物平均）", f"Completeness over {days} days (six pollutants)")
        )
        cols = [
            {"name": k, "label": k, "field": k, "sortable": True}
            for k in ("site_code", "name", "rate", "valid", "expected", "offline_days", "never_reported")
        ]
        ui.table(columns=cols, rows=rows, row_key="site_code", pagination={"rowsPerPage": 50}).classes(
            "w-full bogda-completeness"
        ).props("dense flat bordered")
    return None


@ui.page("/monitoring/alarms")
def alarm_list(request: Request) -> Response | None:
    ctx = _page(request, "/monitoring/alarms", ("当日报警", "Same-day alarms"))
    if isinstance(ctx, Response):
        return ctx
    df = A.list_alarms(ctx.store, limit=500)
    rows = [{k: (str(v) if isinstance(v, datetime) else v) for k, v in r.items()} for r in df.to_dicts()]
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(
            _t(
                ctx,
                "当日报警（问题清单中的 alarm 类问题；派单在网格模块）",
                "Same-day alarms (alarm findings; tasks are made by the grid)",
            )
        ).classes("text-h6")
        cols = [
            {"name": k, "label": k, "field": k, "sortable": True}
            for k in (
                "id",
                "rule",
                "target_code",
                "severity",
                "state",
                "opened_at",
                "last_value",
                "peak_value",
                "count",
            )
        ]
        cols.append({"name": "ack", "label": "", "field": "id"})
        table = ui.table(columns=cols, rows=rows, row_key="id", pagination={"rowsPerPage": 50})
        table.classes("w-full bogda-alarms").props("dense flat bordered")
        label = _t(ctx, "确认", "Acknowledge")
        table.add_slot(
            "body-cell-ack",
            f'<q-td :props="props"><q-btn v-if="props.row.state === \'open\'" dense flat color="primary" '
            f'label="{label}" @click="() => $parent.$emit(\'ack\', props.row)" /></q-td>',
        )

        def on_ack(e: Any) -> None:
            try:
                A.acknowledge(ctx.store, int(e.args["id"]), by=ctx.user.login)
                ui.notify(_t(ctx, "已确认", "acknowledged"))
                ui.navigate.to("/monitoring/alarms")
            except (ValueError, LookupError) as exc:
                ui.notify(str(exc), type="warning")

        table.on("ack", on_ack)
    return None
