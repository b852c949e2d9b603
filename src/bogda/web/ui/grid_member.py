"""The grid member's phone view: my tasks, accept (签收), site photos, confirm / not confirm, feedback.

Built for a phone (one column, large buttons, the camera as the upload source) with its own slim header instead
of the console's drawer.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import events, ui

from bogda.grid.service_base import GridError
from bogda.grid.states import OPEN_STATES
from bogda.web.api.common import PlaceTree
from bogda.web.api.tasks import actor_of, clock, grid_service
from bogda.web.ui.grid_texts import source_name, state_name, tx
from bogda.web.ui.layout import CJK_FONTS, Ctx, begin
from bogda.web.ui.tasks import beijing, flags_text

STATE_COLOURS = {
    "DISPATCHED": "orange-8",
    "ACCEPTED": "blue-8",
    "HANDLING": "indigo-8",
    "REVIEW": "teal-8",
    "CLOSED": "green-8",
    "REOPENED": "red-8",
}


def phone_header(ctx: Ctx, title: str) -> None:
    ui.add_css(f"body {{ font-family: {CJK_FONTS}; }} .q-btn {{ min-height: 44px; }}")
    ui.add_head_html('<meta name="viewport" content="width=device-width, initial-scale=1">')
    with ui.header(elevated=True).classes("items-center bg-blue-9 text-white q-px-sm"):
        ui.label(title).classes("text-subtitle1 text-weight-medium")
        ui.space()
        ui.label(ctx.user.display_name).classes("text-caption")
        ui.link(tx("m.logout"), "/logout").classes("text-white q-ml-sm no-underline")


@ui.page("/m")
def my_tasks(request: Request) -> Response | None:
    ctx = begin(request, "/m")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{tx('m.title')} · bogda")
    phone_header(ctx, tx("m.title"))
    svc = grid_service(request)
    actor = actor_of(request, ctx.who)
    tree = PlaceTree(ctx.store)
    rows, _ = svc.list_tasks(actor, states=sorted(OPEN_STATES - {"NEW"}), limit=200)
    with ui.column().classes("w-full q-pa-sm gap-2 bogda-my-tasks"):
        if not rows:
            ui.label(tx("m.empty")).classes("text-grey-7 q-pa-md")
        for r in rows:
            node = tree.nodes.get(r["place_id"]) if r["place_id"] is not None else None
            with (
                ui.card()
                .classes("w-full bogda-task-card cursor-pointer")
                .on("click", lambda tid=r["id"]: ui.navigate.to(f"/m/task/{tid}"))
            ):
                with ui.row().classes("w-full items-center no-wrap"):
                    ui.badge(r["severity"]).props("color=red-8" if r["severity"] == "P1" else "color=grey-8")
                    ui.label(r["title"]).classes("text-subtitle2 ellipsis")
                    ui.space()
                    ui.badge(state_name(r["state"])).props(f"color={STATE_COLOURS.get(r['state'], 'grey-7')}")
                ui.label(f"{source_name(r['source'])} · {node.name if node else '—'}").classes("text-caption")
                ui.label(f"{tx('m.due')} {beijing(r['close_due'])} {flags_text(r)}").classes("text-caption text-grey-8")
    return None


@ui.page("/m/task/{task_id}")
def my_task(request: Request, task_id: int) -> Response | None:
    ctx = begin(request, f"/m/task/{task_id}")
    if isinstance(ctx, Response):
        return ctx
    svc = grid_service(request)
    actor = actor_of(request, ctx.who)
    ui.page_title(f"#{task_id} · bogda")
    phone_header(ctx, f"{tx('m.title')} #{task_id}")
    try:
        task = svc.get_task(actor, task_id, now=clock(request), peer=ctx.peer)
    except GridError as exc:
        ui.label(tx("error", reason=exc.reason)).classes("q-pa-md text-negative")
        ui.link(tx("m.back"), "/m")
        return None
    tree = PlaceTree(ctx.store)
    node = tree.nodes.get(task["place_id"]) if task["place_id"] is not None else None
    here = f"/m/task/{task_id}"
    cycle_start = task["signed_at"]
    photos = [e for e in task["evidence"] if cycle_start is None or e["uploaded_at"] >= cycle_start]

    def run(
        event: str, *, comment: str | None = None, params: dict[str, Any] | None = None, attach: bool = False
    ) -> None:
        ids = [e["id"] for e in photos] if attach else []
        try:
            svc.transition(
                task_id,
                event,
                actor,
                now=clock(request),
                comment=comment,
                attachments=ids,
                params=params or {},
                peer=ctx.peer,
            )
        except GridError as exc:
            ui.notify(tx("error", reason=exc.reason), type="negative", multi_line=True)
            return
        ui.notify(tx("m.done"), type="positive")
        ui.navigate.to(here)

    async def upload(e: events.UploadEventArguments, stage: str) -> None:
        data = await e.file.read()
        try:
            ev = svc.add_evidence(
                task_id,
                actor,
                data,
                e.file.content_type,
                now=clock(request),
                stage=stage,
                filename=e.file.name,
                peer=ctx.peer,
            )
        except GridError as exc:
            ui.notify(tx("error", reason=exc.reason), type="negative", multi_line=True)
            return
        ok = tx("m.photo_ok") if ev["passed"] else ", ".join(ev["flags"])
        ui.notify(ok, type="positive" if ev["passed"] else "warning")
        ui.navigate.to(here)

    with ui.column().classes("w-full q-pa-sm gap-2 bogda-task-detail"):
        ui.link(f"‹ {tx('m.back')}", "/m").classes("text-body2")
        with ui.card().classes("w-full"):
            ui.label(task["title"]).classes("text-h6")
            ui.label(state_name(task["state"])).classes("text-subtitle1 text-weight-bold bogda-task-state")
            ui.label(f"{task['severity']} · {source_name(task['source'])} · {node.name if node else '—'}")
            ui.label(f"{tx('m.due')}: {beijing(task['close_due'])} {flags_text(task)}").classes("text-caption")
            if task["measures"]:
                ui.label(f"{tx('m.measures')}: {task['measures']}").classes("text-body2")
        if photos:
            ui.label(tx("m.photos")).classes("text-subtitle2")
            with ui.row().classes("gap-2 bogda-photos"):
                for e in photos:
                    mark = "✓" if e["passed"] else "✗ " + ", ".join(e["flags"])
                    ui.label(f"{tx('stage.' + e['stage'])} {beijing(e['taken_at'])} {mark}").classes(
                        "text-caption bogda-photo " + ("text-positive" if e["passed"] else "text-negative")
                    )
        state = task["state"]
        if state == "DISPATCHED":
            ui.button(tx("m.sign"), icon="how_to_reg", on_click=lambda: run("sign")).classes("w-full bogda-sign").props(
                "color=primary size=lg"
            )
            reason = ui.input(tx("m.return_reason")).classes("w-full")
            ui.button(tx("m.return"), on_click=lambda: run("return", comment=reason.value)).classes("w-full").props(
                "flat color=grey-8"
            )
        if state in ("ACCEPTED", "HANDLING"):
            stage = "site" if state == "ACCEPTED" else "after"
            label = tx("m.photo") if state == "ACCEPTED" else tx("m.photo_after")
            ui.upload(
                label=label, auto_upload=True, max_file_size=10 * 1024 * 1024, on_upload=lambda e, s=stage: upload(e, s)
            ).props('accept="image/jpeg,image/png" capture="environment" flat bordered').classes(
                f"w-full bogda-upload-{stage}"
            )
        if state == "ACCEPTED":
            ui.button(tx("m.confirm"), icon="task_alt", on_click=lambda: run("confirm", attach=True)).classes(
                "w-full bogda-confirm"
            ).props("color=positive size=lg")
            note = ui.textarea(tx("m.note")).classes("w-full bogda-note")
            ui.button(
                tx("m.not_confirm"), on_click=lambda: run("not_confirm", comment=note.value, attach=True)
            ).classes("w-full").props("outline color=grey-9")
        if state == "HANDLING":
            measures = ui.textarea(tx("m.measures")).classes("w-full bogda-measures")
            ui.button(
                tx("m.feedback"),
                icon="send",
                on_click=lambda: run("feedback", params={"measures": measures.value}, attach=True),
            ).classes("w-full bogda-feedback").props("color=primary size=lg")
        if state == "REVIEW":
            ui.label(tx("m.waiting")).classes("text-teal-9 text-subtitle1 bogda-waiting")
    return None
