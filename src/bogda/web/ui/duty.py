"""The duty officer's desk (值班台, issue 11 §3): ``/duty``.

Left: the open-findings inbox across every kind (findings without a task, in the user's area), most severe first,
then oldest — each row with a one-click 「派单」 that makes the task on the grid and dispatches it to its owner
(:func:`bogda.web.api.duty.dispatch_finding`; the grid checks the permission and audits). The inbox refreshes
itself every :data:`REFRESH_S` seconds.

Right: the shift report (交接班报告) of a shift — the current one by default — with the officer, the handover
officer, notes and handover items; 「打印预览」 opens the printable page, 「下载 DOCX」 generates the document and
records it (``report`` kind ``shift``). The report covers the whole jurisdiction, so county users see the inbox only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from nicegui import run, ui

from bogda.grid.service_base import GridError
from bogda.reports import shift_report as sr
from bogda.timeutil import BEIJING, now_utc
from bogda.web.api.bigscreen import scope_for
from bogda.web.api.duty import dispatch_finding, inbox
from bogda.web.ui.layout import begin, frame

REFRESH_S = 10.0
KIND = {
    "alarm": ("报警", "alarm"),
    "fire": ("火点", "fire"),
    "clue": ("线索", "clue"),
    "warning": ("预警/交办", "warning"),
    "advisory": ("提示", "advisory"),
    "hotspot": ("走航热点", "hotspot"),
    "petition": ("信访", "petition"),
    "inspection": ("检查", "inspection"),
    "incident": ("事件", "incident"),
    "patrol": ("巡查", "patrol"),
}
SEVERITY = {"critical": ("紧急", "critical"), "high": ("高", "high"), "medium": ("中", "medium"), "low": ("低", "low")}
TEXT = {
    "zh": {
        "title": "值班台",
        "inbox": "待派单问题",
        "total": "共 {n} 条",
        "dispatch": "派单",
        "empty": "没有待派单的问题",
        "sent": "问题 {f} 已派单：任务 {t}（{state}）",
        "attached": "问题 {f} 已并入在办任务 {t}",
        "failed": "派单失败：{reason}",
        "report": "交接班报告",
        "shift": "班次",
        "officer": "值班员",
        "handover_to": "接班人",
        "notes": "值班记事",
        "items": "交接事项",
        "print": "打印预览",
        "docx": "下载 DOCX",
        "whole_only": "交接班报告涵盖全州，仅州级值班员可生成。",
        "bigscreen": "指挥大屏",
        "cols": ("严重程度", "类别", "标题", "地点", "发现时间", "已等待（小时）", ""),
        "prev": "上一班",
        "next": "下一班",
        "saved": "已生成并登记：报告 {rid}",
    },
    "en": {
        "title": "Duty desk",
        "inbox": "Findings waiting for dispatch",
        "total": "{n} in all",
        "dispatch": "Dispatch",
        "empty": "Nothing waiting for dispatch",
        "sent": "Finding {f} dispatched: task {t} ({state})",
        "attached": "Finding {f} attached to open task {t}",
        "failed": "Dispatch failed: {reason}",
        "report": "Shift report",
        "shift": "Shift",
        "officer": "Officer",
        "handover_to": "Handing over to",
        "notes": "Notes",
        "items": "Handover items",
        "print": "Printable page",
        "docx": "Download DOCX",
        "whole_only": "The shift report covers the whole prefecture: prefecture duty officers only.",
        "bigscreen": "Big screen",
        "cols": ("Severity", "Kind", "Title", "Place", "Detected", "Waiting (h)", ""),
        "prev": "Previous shift",
        "next": "Next shift",
        "saved": "Generated and recorded: report {rid}",
    },
}


@ui.page("/duty", response_timeout=60)  # the first reads run off the event loop
async def duty_page(request: Request) -> Response | None:
    ctx = begin(request, "/duty")
    if isinstance(ctx, Response):
        return ctx
    lang, store = ctx.lang, ctx.store
    T = TEXT[lang]
    idx = 0 if lang == "zh" else 1
    ui.page_title(f"{T['title']} · bogda")
    frame(ctx)
    scope = await run.io_bound(scope_for, store, ctx.who.places)
    settings = ctx.settings
    state: dict[str, Any] = {"shift": sr.shift_at(now_utc())}

    def svc() -> Any:
        from bogda.grid.tasks import GridConfig, GridService

        g = getattr(request.app.state, "grid", None)
        if g is None:
            g = GridService(store, GridConfig(data_dir=settings.data_dir))
            request.app.state.grid = g
        return g

    with ui.row().classes("w-full no-wrap q-pa-md gap-4 items-start"):
        with ui.column().classes("gap-2").style("flex: 3; min-width: 0"):
            with ui.row().classes("items-baseline gap-4 w-full"):
                ui.label(T["inbox"]).classes("text-h6")
                total = ui.label("").classes("text-grey-8 duty-total")
                ui.space()
                ui.link(T["bigscreen"], "/bigscreen")
            table_box = ui.column().classes("w-full gap-0 duty-inbox")
        with ui.column().classes("gap-2").style("flex: 2; min-width: 22rem"):
            ui.label(T["report"]).classes("text-h6")
            if not scope.unrestricted:
                ui.label(T["whole_only"]).classes("text-grey-8 duty-whole-only")
            else:
                with ui.row().classes("items-center gap-2 w-full"):
                    ui.button(icon="chevron_left", on_click=lambda: move(-1)).props("flat dense").props(
                        f'aria-label="{T["prev"]}"'
                    )
                    shift_label = ui.label("").classes("text-subtitle1 duty-shift")
                    ui.button(icon="chevron_right", on_click=lambda: move(1)).props("flat dense").props(
                        f'aria-label="{T["next"]}"'
                    )
                officer = ui.input(T["officer"], value=ctx.user.display_name or ctx.user.login).classes("w-full")
                handover = ui.input(T["handover_to"]).classes("w-full duty-handover")
                notes = ui.textarea(T["notes"]).classes("w-full duty-notes").props("autogrow")
                items = ui.textarea(T["items"]).classes("w-full duty-items").props("autogrow")
                with ui.row().classes("gap-2"):
                    print_link = ui.link(T["print"], "#", new_tab=True).classes("duty-print q-btn q-pa-sm")
                    ui.button(T["docx"], icon="download", on_click=lambda: download()).classes("duty-docx")
                summary = ui.column().classes("w-full gap-0 duty-summary")

    shown: dict[str, Any] = {}

    async def render_inbox() -> None:
        res = await run.io_bound(inbox, store, scope, now=now_utc())
        total.set_text(T["total"].format(n=res["total"]))
        key = [(r["id"], r["severity"], int(r["age_h"])) for r in res["rows"]]
        if shown.get("rows") == key:
            return
        shown["rows"] = key
        table_box.clear()
        with table_box:
            if not res["rows"]:
                ui.label(T["empty"]).classes("text-grey-7 duty-empty")
                return
            with (
                ui.grid(columns=7)
                .classes("w-full gap-x-3 gap-y-1 items-center")
                .style("grid-template-columns: 4rem 5rem minmax(10rem, 1fr) 7rem 7rem 5rem 5rem")
            ):
                for c in T["cols"]:
                    ui.label(c).classes("text-weight-medium text-grey-8")
                for r in res["rows"]:
                    sev = SEVERITY.get(r["severity"], (r["severity"],) * 2)[idx]
                    colour = {"critical": "red-9", "high": "deep-orange-8", "medium": "amber-9"}.get(
                        r["severity"], "blue-grey-7"
                    )
                    ui.label(sev).classes(f"text-{colour} text-weight-bold duty-sev")
                    ui.label(KIND.get(r["kind"], (r["kind"],) * 2)[idx])
                    ui.label(r["title"]).classes("duty-title").style("overflow-wrap: anywhere")
                    ui.label(r["place"] or "—")
                    ui.label(r["detected_at"].astimezone(BEIJING).strftime("%m-%d %H:%M"))
                    ui.label(f"{r['age_h']:.1f}").classes("text-right")
                    ui.button(T["dispatch"], on_click=lambda _e, fid=r["id"]: send(fid)).props(
                        "dense unelevated color=primary"
                    ).classes(f"duty-dispatch duty-dispatch-{r['id']}")

    async def send(fid: int) -> None:
        try:
            out = await run.io_bound(dispatch_finding, svc(), scope, fid, ctx.user.id, now=now_utc(), peer=ctx.peer)
        except (GridError, LookupError, ValueError) as exc:
            ui.notify(T["failed"].format(reason=getattr(exc, "reason", str(exc))), type="negative")
        else:
            key = "sent" if out.outcome == "created" else "attached"
            ui.notify(T[key].format(f=fid, t=out.task_id, state=out.state), type="positive")
        await render_inbox()
        if scope.unrestricted:
            await show_shift()

    async def show_shift() -> None:
        sh: sr.Shift = state["shift"]
        shift_label.set_text(f"{T['shift']}：{sh.label}")
        q = urlencode({"shift": f"{sh.start.astimezone(BEIJING):%Y-%m-%dT%H:%M}", "format": "html"})
        print_link.props(f'href="/api/v1/duty/shift-report?{q}"')
        r = await run.io_bound(
            lambda: sr.build(store, sh, now=now_utc(), template=settings.reports.shift_template)
        )  # as of now while the shift runs
        summary.clear()
        with summary:
            for key in ("findings_new", "tasks_created", "tasks_dispatched", "undispatched", "overdue"):
                f = r.figures[key]
                with ui.row().classes("w-full justify-between"):
                    ui.label(f.label)
                    ui.label(f.display()).classes(f"text-weight-bold duty-fig-{key.replace('_', '-')}")

    async def move(days: int) -> None:
        sh: sr.Shift = state["shift"]
        state["shift"] = sr.Shift(sh.start + timedelta(days=days), sh.end + timedelta(days=days))
        await show_shift()

    async def download() -> None:
        sh: sr.Shift = state["shift"]
        path, rid, _ = await run.io_bound(
            lambda: sr.generate(
                store,
                sh,
                settings.data_dir / "reports" / "shift",
                officer=officer.value or "",
                handover_to=handover.value or "",
                notes=notes.value or "",
                template=settings.reports.shift_template,
                handover_items=items.value or "",
                actor=ctx.user.login,
            )
        )
        ui.download.content(path.read_bytes(), path.name)
        ui.notify(T["saved"].format(rid=rid), type="positive")

    await render_inbox()
    if scope.unrestricted:
        await show_shift()
    ui.timer(REFRESH_S, render_inbox)
    return None
