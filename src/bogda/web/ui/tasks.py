"""The dispatcher's task board (filters, map, bulk dispatch) and the review page (approve / return for rework).

Both read and write through :class:`bogda.grid.tasks.GridService` with the logged-in user's scopes, exactly as
the REST API does; a refusal shows its reason.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.grid.policy import decide
from bogda.grid.routing import RANK, SOURCES
from bogda.grid.service_base import GridError
from bogda.grid.states import STATES
from bogda.registry.places import list_places
from bogda.web.api.common import PlaceTree
from bogda.web.api.tasks import actor_of, clock, grid_service
from bogda.web.ui.grid_texts import source_name, state_name, tx
from bogda.web.ui.layout import Ctx, begin, frame

SEVERITY_COLOURS = {"P1": "#c62828", "P2": "#ef6c00", "P3": "#1565c0", "P4": "#607d8b"}


def beijing(ts: Any) -> str:
    from bogda.timeutil import to_beijing

    return "" if ts is None else to_beijing(ts).strftime("%m-%d %H:%M")


def flags_text(r: dict[str, Any]) -> str:
    out = []
    if r["overdue"]:
        out.append(tx("flag.overdue"))
    if r["escalation_level"]:
        out.append(tx("flag.escalated", n=r["escalation_level"]))
    if r["card"] != "none":
        out.append(tx(f"card.{r['card']}"))
    if r["rework_count"]:
        out.append(tx("flag.rework", n=r["rework_count"]))
    if r["repeat_count"]:
        out.append(tx("flag.repeat", n=r["repeat_count"]))
    return " · ".join(out)


def table_rows(rows: list[dict[str, Any]], tree: PlaceTree) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        node = tree.nodes.get(r["place_id"]) if r["place_id"] is not None else None
        county = tree.up_to(r["place_id"], "county")
        out.append(
            {
                "id": r["id"],
                "title": r["title"],
                "severity": r["severity"],
                "state": state_name(r["state"]),
                "source": source_name(r["source"]),
                "place": node.name if node else "—",
                "county": county.name if county else "—",
                "due": beijing(r["close_due"]),
                "flags": flags_text(r),
            }
        )
    return out


def map_options(ctx: Ctx, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A plain lon/lat chart: county outlines as lines and tasks coloured by class (no tiles, offline)."""
    lines = []
    for p in list_places(ctx.store, kinds=["county"]):
        if not ctx.who.sees(p.id) or not p.geometry:
            continue
        polys = p.geometry["coordinates"] if p.geometry["type"] == "MultiPolygon" else [p.geometry["coordinates"]]
        for poly in polys:
            ring = poly[0]
            step = max(1, len(ring) // 400)
            lines.append({"coords": [*ring[::step], ring[0]]})
    series: list[dict[str, Any]] = [
        {
            "type": "lines",
            "coordinateSystem": "cartesian2d",
            "polyline": True,
            "silent": True,
            "lineStyle": {"color": "#455a64", "width": 1},
            "data": lines,
        }
    ]
    for sev, colour in SEVERITY_COLOURS.items():
        pts = [[r["lon"], r["lat"], r["id"], r["title"]] for r in rows if r["severity"] == sev and r["lon"] is not None]
        series.append({"type": "scatter", "name": sev, "data": pts, "symbolSize": 9, "itemStyle": {"color": colour}})
    xs = [c[0] for line in lines for c in line["coords"]] + [r["lon"] for r in rows if r["lon"] is not None]
    ys = [c[1] for line in lines for c in line["coords"]] + [r["lat"] for r in rows if r["lat"] is not None]
    bounds: tuple[dict[str, float], dict[str, float]] = ({}, {})
    if xs and ys:
        bounds = (
            {"min": round(min(xs) - 0.1, 1), "max": round(max(xs) + 0.1, 1)},
            {"min": round(min(ys) - 0.1, 1), "max": round(max(ys) + 0.1, 1)},
        )
    return {
        "animation": False,
        "legend": {"top": 0},
        "tooltip": {"trigger": "item"},
        "grid": {"left": 40, "right": 10, "top": 30, "bottom": 30},
        "xAxis": {"type": "value", "name": "lon", "splitLine": {"show": False}, **bounds[0]},
        "yAxis": {"type": "value", "name": "lat", "splitLine": {"show": False}, **bounds[1]},
        "series": series,
    }


@ui.page("/tasks")
def board_page(
    request: Request, state: str = "", source: str = "", severity: str = "", overdue: str = ""
) -> Response | None:
    ctx = begin(request, "/tasks")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{tx('board.title')} · bogda")
    frame(ctx)
    svc = grid_service(request)
    actor = actor_of(request, ctx.who)
    tree = PlaceTree(ctx.store)
    rows, found = svc.list_tasks(
        actor,
        states=[state] if state in STATES else None,
        sources=[source] if source in SOURCES else None,
        severities=[severity] if severity in RANK else None,
        overdue=True if overdue == "1" else None,
        limit=1000,
    )
    can_dispatch = decide(actor, "dispatch").allowed

    def apply(**changes: str) -> None:
        q = {"state": state, "source": source, "severity": severity, "overdue": overdue, **changes}
        ui.navigate.to("/tasks?" + urlencode({k: v for k, v in q.items() if v}))

    with ui.column().classes("w-full q-pa-md gap-3"):
        with ui.row().classes("items-end gap-4"):
            ui.label(tx("board.title")).classes("text-h6")
            ui.label(tx("board.found", n=found)).classes("text-grey-8 bogda-task-count")
        with ui.row().classes("items-center gap-3"):
            ui.select(
                {"": "—", **{s: state_name(s) for s in STATES}},
                value=state,
                label=tx("board.state"),
                on_change=lambda e: apply(state=e.value or ""),
            ).classes("w-40 bogda-filter-state")
            ui.select(
                {"": "—", **{s: source_name(s) for s in SOURCES}},
                value=source,
                label=tx("board.source"),
                on_change=lambda e: apply(source=e.value or ""),
            ).classes("w-40")
            ui.select(
                {"": "—", **{s: s for s in RANK}},
                value=severity,
                label=tx("board.severity"),
                on_change=lambda e: apply(severity=e.value or ""),
            ).classes("w-28")
            ui.checkbox(
                tx("board.overdue"), value=overdue == "1", on_change=lambda e: apply(overdue="1" if e.value else "")
            )
        columns = [
            {"name": k, "label": tx(f"col.{k}"), "field": k, "sortable": True, "align": "left"}
            for k in ("id", "severity", "title", "state", "source", "place", "county", "due", "flags")
        ]
        table = (
            ui.table(
                columns=columns,
                rows=table_rows(rows, tree),
                row_key="id",
                selection="multiple" if can_dispatch else None,
                pagination={"rowsPerPage": 20},
            )
            .classes("w-full bogda-task-table")
            .props("dense flat bordered")
        )
        if can_dispatch:

            def dispatch() -> None:
                ids = [int(r["id"]) for r in table.selected]
                if not ids:
                    ui.notify(tx("board.none_selected"), type="warning")
                    return
                res = svc.bulk_dispatch(ids, actor, now=clock(request), peer=ctx.peer)
                ok = sum(1 for v in res.values() if v == "ok")
                ui.notify(tx("board.dispatched", ok=ok, bad=len(res) - ok), type="positive" if ok else "warning")
                apply()

            ui.button(tx("board.dispatch"), icon="send", on_click=dispatch).classes("bogda-bulk-dispatch")
        ui.label(tx("board.map")).classes("text-subtitle1")
        ui.echart(map_options(ctx, rows)).classes("w-full bogda-task-map").style("height: 480px")
    return None


@ui.page("/review")
def review_page(request: Request) -> Response | None:
    ctx = begin(request, "/review")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{tx('review.title')} · bogda")
    frame(ctx)
    svc = grid_service(request)
    actor = actor_of(request, ctx.who)
    tree = PlaceTree(ctx.store)
    rows, _ = svc.list_tasks(actor, states=["REVIEW"], limit=200)
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(tx("review.title")).classes("text-h6")
        if not rows:
            ui.label(tx("review.empty")).classes("text-grey-7 bogda-review-empty")
        for r in rows:
            node = tree.nodes.get(r["place_id"]) if r["place_id"] is not None else None
            with ui.card().classes("w-full bogda-review-card"):
                ui.label(f"#{r['id']} {r['title']}").classes("text-subtitle1")
                ui.label(
                    f"{source_name(r['source'])} · {r['severity']} · {node.name if node else '—'} · "
                    f"{tx('col.due')} {beijing(r['close_due'])} {flags_text(r)}"
                ).classes("text-caption")
                if r["verdict"]:
                    ui.label(f"{tx('review.verdict')}: {tx('verdict.' + r['verdict'])}")
                if r["measures"]:
                    ui.label(f"{tx('review.measures')}: {r['measures']}")
                comment = ui.input(tx("review.comment")).classes("w-full")

                def act(event: str, tid: int = r["id"], box: Any = comment) -> None:
                    try:
                        svc.transition(tid, event, actor, now=clock(request), comment=box.value, peer=ctx.peer)
                    except GridError as exc:
                        ui.notify(tx("error", reason=exc.reason), type="negative", multi_line=True)
                        return
                    ui.notify(tx("m.done"), type="positive")
                    ui.navigate.to("/review")

                with ui.row():
                    ui.button(tx("review.approve"), icon="check", on_click=lambda t=r["id"]: act("approve", t)).props(
                        "color=positive"
                    )
                    ui.button(tx("review.reject"), icon="undo", on_click=lambda t=r["id"]: act("reject", t)).props(
                        "color=warning"
                    )
    return None
