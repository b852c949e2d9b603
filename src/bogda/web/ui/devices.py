"""Data loggers page: HJ 212 devices with online/offline state, last frame, frame counts and address refusals; the
frames the gateway refused with their reasons; platform commands (time sync, recalls …) with their state, and a form
to queue one; unknown loggers waiting for approval (administrators). Reads and writes through
:mod:`bogda.web.api.devices` (the same scoping, roles and audit as the REST API).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.web.api.common import ApiError, Paging
from bogda.web.api.devices import (
    COMMAND_ROLES,
    CommandBody,
    command_rows,
    device_rows,
    queue_command,
    rejected_rows,
)
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
        "col.ip_refused": "地址拒绝",
        "col.id": "编号",
        "col.cn": "命令",
        "col.source": "来源",
        "col.cmd_state": "状态",
        "col.error": "原因",
        "col.retries": "重发",
        "col.created": "创建",
        "col.finished": "结束",
        "col.first_seen": "首次出现",
        "col.frames": "报文数",
        "devices.commands": "平台命令（最近 {n} 条）",
        "devices.queue": "下发命令",
        "devices.begin": "开始时间（北京时间）",
        "devices.end": "结束时间（北京时间）",
        "devices.send": "加入队列",
        "devices.queued": "命令 {id} 已加入队列",
        "devices.pending": "待审核的未登记数采仪",
        "devices.pending_note": "批准后按其上报的密码登记到所选站点/排口；拒绝后只存档。",
        "devices.site_id": "站点/排口编号",
        "devices.approve": "批准",
        "devices.reject": "拒绝",
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
        "col.ip_refused": "Address refusals",
        "col.id": "No.",
        "col.cn": "Command",
        "col.source": "Source",
        "col.cmd_state": "State",
        "col.error": "Reason",
        "col.retries": "Re-sends",
        "col.created": "Created",
        "col.finished": "Finished",
        "col.first_seen": "First seen",
        "col.frames": "Frames",
        "devices.commands": "Platform commands (latest {n})",
        "devices.queue": "Send a command",
        "devices.begin": "Begin (Beijing time)",
        "devices.end": "End (Beijing time)",
        "devices.send": "Queue",
        "devices.queued": "Command {id} queued",
        "devices.pending": "Unknown loggers waiting for approval",
        "devices.pending_note": "Approving registers the MN with the password it presented, under the chosen "
        "station/outlet; rejected ones stay archived only.",
        "devices.site_id": "Station/outlet id",
        "devices.approve": "Approve",
        "devices.reject": "Reject",
    },
}

REJECTED_SHOWN = 200
COMMANDS_SHOWN = 200
COMMAND_CHOICES = {"1012": "1012 校时/time sync", "2051": "2051 分钟数据补调/minute recall",
                   "2061": "2061 小时数据补调/hour recall", "2031": "2031 日数据补调/day recall"}  # fmt: skip


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
                "ip_refused", "last_error"]  # fmt: skip
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
                "ip_refused": d["ip_refused"],
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
        _commands_section(ctx, [d["mn"] for d in devices if d["registered"]])
        if ctx.who.places is None and "admin" in ctx.user.roles:
            _pending_section(ctx)
    return None


def _command_rows(ctx: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": c["id"], "mn": c["mn"], "cn": c["cn"], "source": c["source"], "cmd_state": c["state"],
            "error": c["error"] or "", "retries": c["retries"], "created": _local(c["created_at"]),
            "finished": _local(c["finished_at"]),
        }
        for c in command_rows(ctx.store, ctx.who, limit=COMMANDS_SHOWN)
    ]  # fmt: skip


def _commands_section(ctx: Any, mns: list[str]) -> None:
    lang = ctx.lang
    rows = _command_rows(ctx)
    ui.label(tx(lang, "devices.commands", n=len(rows))).classes("text-subtitle1")
    ccols = ["id", "mn", "cn", "source", "cmd_state", "error", "retries", "created", "finished"]
    table = ui.table(columns=_columns(lang, ccols), rows=rows, row_key="id", pagination={"rowsPerPage": 20})
    table.classes("w-full bogda-commands").props("dense flat bordered")
    if not mns or not set(ctx.user.roles) & set(COMMAND_ROLES):
        return
    with ui.row().classes("items-end gap-2 bogda-command-form"):
        ui.label(tx(lang, "devices.queue")).classes("text-subtitle2")
        mn = ui.select(mns, value=mns[0], label="MN").classes("w-64")
        cn = ui.select(COMMAND_CHOICES, value="1012", label=tx(lang, "col.cn")).classes("w-56")
        begin = ui.input(tx(lang, "devices.begin"), placeholder="2026-01-15 08:00").classes("w-48")
        end = ui.input(tx(lang, "devices.end"), placeholder="2026-01-15 10:00").classes("w-48")

        def send() -> None:
            body = CommandBody(cn=cn.value, begin=begin.value or None, end=end.value or None)
            try:
                cmd = queue_command(ctx.store, ctx.who, mn.value, body, ctx.peer)
            except ApiError as exc:
                ui.notify(str(exc.detail), type="negative")
                return
            ui.notify(tx(lang, "devices.queued", id=cmd["id"]), type="positive")
            table.rows = _command_rows(ctx)
            table.update()

        ui.button(tx(lang, "devices.send"), on_click=send).classes("bogda-command-send")


def _pending_section(ctx: Any) -> None:
    from bogda.hj212.pending import approve_pending, list_pending, reject_pending
    from bogda.web.auth import record_audit

    lang = ctx.lang
    with ctx.store.engine.connect() as conn:
        pending = list_pending(conn)
    ui.label(tx(lang, "devices.pending")).classes("text-subtitle1")
    ui.label(tx(lang, "devices.pending_note")).classes("text-caption text-grey-7")
    with ui.column().classes("w-full bogda-pending gap-1"):
        for p in pending:
            with ui.row().classes("items-center gap-2"):
                ui.label(f"{p['mn']}  ST={p['st'] or ''}  {p['protocol'] or ''}  {p['peer'] or ''}  "
                         f"{tx(lang, 'col.frames')} {p['frames']}")  # fmt: skip
                site_id = ui.number(tx(lang, "devices.site_id"), format="%d").classes("w-40")

                def decide(mn: str = p["mn"], approve: bool = True, site_box: Any = site_id) -> None:
                    try:
                        with ctx.store.begin() as conn:
                            if approve:
                                if not site_box.value:
                                    raise ValueError(tx(lang, "devices.site_id"))
                                approve_pending(conn, mn, int(site_box.value), by=ctx.user.login)
                            else:
                                reject_pending(conn, mn, by=ctx.user.login)
                    except ValueError as exc:
                        ui.notify(str(exc), type="negative")
                        return
                    record_audit(ctx.store, "hj212.device_approve" if approve else "hj212.device_reject",
                                 login=ctx.user.login, user_id=ctx.user.id, peer=ctx.peer, target=f"device:{mn}",
                                 detail={"site_id": site_box.value} if approve else {})  # fmt: skip
                    ui.notify(f"{mn}: {tx(lang, 'devices.approve' if approve else 'devices.reject')}")

                ui.button(tx(lang, "devices.approve"), on_click=lambda m=p["mn"]: decide(m, True))
                ui.button(tx(lang, "devices.reject"), on_click=lambda m=p["mn"]: decide(m, False)).props("flat")
