"""Data loggers page: HJ 212 devices with online/offline state, last frame and frame counts, and the frames the
gateway refused with their reasons. Reads through :mod:`bogda.web.api.devices` (the same scoping as the REST API).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.web.api.common import Paging
from bogda.web.api.devices import device_rows, rejected_rows
from bogda.web.ui.layout import begin, frame

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "devices.title": "数采仪接入状态",
        "devices.summary": "共 {n} 台，在线 {online} 台，离线 {offline} 台",
        "devices.rejected": "被拒报文（最近 {n} 条）",
        "devices.note": "被拒报文不应答、不入库，原始字节存档；设备会在超时后重发。",
        "devices.online": "在线",
        "devices.offline": "离线",
        "devices.unregistered": "未登记",
        "col.mn": "MN",
        "col.site": "站点/排口",
        "col.state": "状态",
        "col.last_frame": "最后报文",
        "col.last_cn": "最后 CN",
        "col.frames_in": "上行报文",
        "col.frames_rejected": "被拒",
        "col.frames_out": "下行报文",
        "col.last_error": "最近错误",
        "col.time": "时间",
        "col.status": "处理结果",
        "col.reasons": "原因",
        "col.peer": "来源地址",
        "col.text": "报文",
    },
    "en": {
        "devices.title": "Data loggers (HJ 212)",
        "devices.summary": "{n} loggers: {online} online, {offline} offline",
        "devices.rejected": "Rejected frames (latest {n})",
        "devices.note": "Rejected frames are not acknowledged and not stored; their bytes are archived and the "
        "device re-sends after its timeout.",
        "devices.online": "online",
        "devices.offline": "offline",
        "devices.unregistered": "not registered",
        "col.mn": "MN",
        "col.site": "Station / outlet",
        "col.state": "State",
        "col.last_frame": "Last frame",
        "col.last_cn": "Last CN",
        "col.frames_in": "Frames in",
        "col.frames_rejected": "Rejected",
        "col.frames_out": "Frames out",
        "col.last_error": "Last error",
        "col.time": "Time",
        "col.status": "Status",
        "col.reasons": "Reasons",
        "col.peer": "Peer",
        "col.text": "Frame",
    },
}

REJECTED_SHOWN = 200


def tx(lang: str, key: str, **kw: Any) -> str:
    text = TEXTS.get(lang, TEXTS["zh"]).get(key, key)
    return text.format(**kw) if kw else text


def _local(st: dict[str, str] | None) -> str:
    return st["local"][:19].replace("T", " ") if st else ""


def _columns(lang: str, names: list[str]) -> list[dict[str, Any]]:
    return [{"name": c, "label": tx(lang, f"col.{c}"), "field": c, "sortable": True, "align": "left"} for c in names]


@ui.page("/devices")
async def devices_page(request: Request) -> Response | None:
    ctx = begin(request, "/devices")
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    ui.page_title(f"{tx(lang, 'devices.title')} · bogda")
    frame(ctx)
    devices, n = device_rows(ctx.store, ctx.who)
    rejected, _ = rejected_rows(ctx.store, ctx.who, page=Paging(1, REJECTED_SHOWN))
    online = sum(d["online"] for d in devices)
    with ui.column().classes("w-full q-pa-md gap-2"):
        ui.label(tx(lang, "devices.title")).classes("text-h6")
        ui.label(tx(lang, "devices.summary", n=n, online=online, offline=n - online)).classes("text-grey-8")
        cols = ["mn", "site", "state", "last_frame", "last_cn", "frames_in", "frames_rejected", "frames_out",
                "last_error"]  # fmt: skip
        rows = [
            {
                "mn": d["mn"],
                "site": d["site"]["name"] if d["site"] else tx(lang, "devices.unregistered"),
                "state": tx(lang, "devices.online" if d["online"] else "devices.offline"),
                "last_frame": _local(d["last_frame_at"]),
                "last_cn": d["last_cn"] or "",
                "frames_in": d["frames_in"],
                "frames_rejected": d["frames_rejected"],
                "frames_out": d["frames_out"],
                "last_error": d["last_error"] or "",
            }
            for d in devices
        ]
        ui.table(columns=_columns(lang, cols), rows=rows, row_key="mn", pagination={"rowsPerPage": 50}).classes(
            "w-full bogda-devices"
        ).props("dense flat bordered")
        ui.label(tx(lang, "devices.rejected", n=len(rejected))).classes("text-subtitle1")
        ui.label(tx(lang, "devices.note")).classes("text-caption text-grey-7")
        rcols = ["time", "mn", "status", "reasons", "peer", "text"]
        rrows = [
            {
                "id": f["id"],
                "time": _local(f["received_at"]),
                "mn": f["mn"] or "",
                "status": f["status"],
                "reasons": ", ".join(f["reasons"]),
                "peer": f["peer"] or "",
                "text": f["text"][:120],
            }
            for f in rejected
        ]
        ui.table(columns=_columns(lang, rcols), rows=rrows, row_key="id", pagination={"rowsPerPage": 20}).classes(
            "w-full bogda-rejected"
        ).props("dense flat bordered")
    return None
