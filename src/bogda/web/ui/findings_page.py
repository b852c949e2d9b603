"""Findings page: the problem list in the user's scope, read only."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.web.api.common import MAX_LIMIT, Paging
from bogda.web.api.findings import FindingsQuery
from bogda.web.i18n import t
from bogda.web.ui.layout import begin, frame
from bogda.web.ui.stations_page import to_beijing_text

SCALE = ("low", "medium", "high", "critical")


@ui.page("/findings")
def findings_page(request: Request) -> Response | None:
    ctx = begin(request, "/findings")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{t('nav.findings')} · bogda")
    frame(ctx)
    items, found = FindingsQuery().run(ctx.store, ctx.who, Paging(1, MAX_LIMIT))
    rows = []
    for f in items:
        county = f.get("county") or {}
        rows.append(
            {
                "id": f["id"],
                # the alarm scale in words; clue grades S1–S3 and task priorities P1–P4 are the bureau's own labels
                "severity": t(f"severity.{f['severity']}") if f["severity"] in SCALE else f["severity"],
                "kind": t(f"kind.{f['kind']}"),
                "title": f["title"],
                "county": (county.get("name_en") if ctx.lang != "zh" else None) or county.get("name", ""),
                "status": t(f"finding_status.{f['status']}"),
                "count": f["count"],
                "detected": to_beijing_text(f["detected_at"]["utc"]) if f.get("detected_at") else "",
                "last_seen": to_beijing_text(f["last_seen"]["utc"]) if f.get("last_seen") else "",
            }
        )
    columns = [
        {"name": "id", "label": "#", "field": "id", "sortable": True, "align": "right"},
        {"name": "severity", "label": t("col.severity"), "field": "severity", "sortable": True, "align": "center"},
        {"name": "kind", "label": t("col.kind"), "field": "kind", "sortable": True, "align": "left"},
        {"name": "title", "label": t("col.title"), "field": "title", "align": "left"},
        {"name": "county", "label": t("col.county"), "field": "county", "sortable": True, "align": "left"},
        {"name": "status", "label": t("col.status"), "field": "status", "sortable": True, "align": "center"},
        {"name": "count", "label": t("col.count"), "field": "count", "sortable": True, "align": "right"},
        {"name": "detected", "label": t("col.detected"), "field": "detected", "sortable": True, "align": "left"},
        {"name": "last_seen", "label": t("col.last_seen"), "field": "last_seen", "sortable": True, "align": "left"},
    ]
    with ui.column().classes("w-full q-pa-md gap-3"):
        with ui.row().classes("items-baseline gap-4"):
            ui.label(t("findings.title")).classes("text-h6")
            shown = t("findings.shown", shown=len(rows), found=found)
            ui.label(shown).classes("text-grey-8 bogda-findings-summary")
        ui.label(t("findings.read_only")).classes("text-caption text-grey-7")
        ui.table(columns=columns, rows=rows, row_key="id", pagination={"rowsPerPage": 50}).classes(
            "w-full bogda-findings-table"
        ).props(f'dense flat bordered no-data-label="{t("findings.empty")}"')
    return None
