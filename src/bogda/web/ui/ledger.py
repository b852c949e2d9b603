"""Console pages of the ledgers (governance.md §3.7): one page per ledger (table, Excel import and export), the KPI
page (every figure with its query and record count) and the report page (generate and download the bulletin and
the duty report). Permissions are those of :mod:`bogda.web.api.ledger`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response
from nicegui import events, run, ui

from bogda.ledger import LEDGERS, records
from bogda.ledger.base import format_value
from bogda.ledger.io import import_file
from bogda.ledger.kpi import ledger_figures
from bogda.ledger.period import Period
from bogda.registry.importers import ImportRejected
from bogda.web.api.ledger import _in_scope, can_read, can_write, county_codes
from bogda.web.ui.layout import begin, frame

TEXT = {
    "zh": {
        "ledgers": "台账",
        "export": "导出Excel",
        "import": "导入Excel（全部校验通过才写入）",
        "imported": "已导入 {n} 条",
        "rejected": "导入被拒绝，未写入任何记录：",
        "denied": "当前账号无权查看台账",
        "readonly": "只读：编辑和导入需要“台账管理员”权限",
        "kpi": "台账指标",
        "reports": "报告生成",
        "year": "年度",
        "monthly": "生成月报",
        "annual": "生成年度报告",
        "records": "条记录",
        "figure": "指标",
        "value": "数值",
        "query": "查询口径",
        "count": "记录数",
        "filter": "筛选（任意列）",
        "working": "正在生成（DOCX 和 PDF）…",
    },
    "en": {
        "ledgers": "Ledgers",
        "export": "Export Excel",
        "import": "Import Excel (written only if every row passes)",
        "imported": "{n} record(s) imported",
        "rejected": "Import rejected, nothing written:",
        "denied": "Your account may not read ledgers",
        "readonly": "Read only: editing and importing need the ledger clerk capability",
        "kpi": "Ledger KPIs",
        "reports": "Reports",
        "year": "Year",
        "monthly": "Generate bulletin",
        "annual": "Generate annual report",
        "records": "records",
        "figure": "Figure",
        "value": "Value",
        "query": "Query",
        "count": "Records",
        "filter": "Filter (any column)",
        "working": "Generating (DOCX and PDF)…",
    },
}


def _tx(lang: str, key: str, **kw: object) -> str:
    return TEXT.get(lang, TEXT["zh"])[key].format(**kw)


def _nav(lang: str) -> None:
    with ui.row().classes("gap-2 flex-wrap"):
        for kind, lg in LEDGERS.items():
            ui.link(lg.zh if lang == "zh" else lg.en, f"/ledgers/{kind}").classes("text-body2")
        ui.link(_tx(lang, "kpi"), "/ledgers-kpi").classes("text-body2 text-weight-bold")
        ui.link(_tx(lang, "reports"), "/ledgers-reports").classes("text-body2 text-weight-bold")


@ui.page("/ledgers")
def ledgers_page(request: Request) -> Response | None:
    ctx = begin(request, "/ledgers")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{_tx(ctx.lang, 'ledgers')} · bogda")
    frame(ctx)
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(_tx(ctx.lang, "ledgers")).classes("text-h6")
        if not can_read(ctx.who):
            ui.label(_tx(ctx.lang, "denied")).classes("text-negative")
            return None
        codes = county_codes(ctx.store, ctx.who)
        for kind, lg in LEDGERS.items():
            n = sum(1 for r in records(ctx.store, lg) if _in_scope(r, codes))
            with ui.row().classes("items-baseline gap-3"):
                ui.link(lg.zh if ctx.lang == "zh" else lg.en, f"/ledgers/{kind}").classes("text-subtitle1")
                ui.label(f"{n} {_tx(ctx.lang, 'records')}").classes("text-grey-7")
        _nav(ctx.lang)
    return None


@ui.page("/ledgers/{kind}")
def ledger_page(request: Request, kind: str) -> Response | None:
    ctx = begin(request, f"/ledgers/{kind}")
    if isinstance(ctx, Response):
        return ctx
    lg = LEDGERS.get(kind)
    frame(ctx)
    with ui.column().classes("w-full q-pa-md gap-3"):
        if lg is None:
            ui.label(f"unknown ledger {kind!r}").classes("text-negative")
            return None
        ui.page_title(f"{lg.zh} · bogda")
        ui.label(lg.zh if ctx.lang == "zh" else lg.en).classes("text-h6")
        _nav(ctx.lang)
        if not can_read(ctx.who):
            ui.label(_tx(ctx.lang, "denied")).classes("text-negative")
            return None
        codes = county_codes(ctx.store, ctx.who)
        rows = [r for r in records(ctx.store, lg) if _in_scope(r, codes)]
        fields = lg.all_fields
        columns = [{"name": "id", "label": "#", "field": "id", "sortable": True}] + [
            {"name": f.key, "label": f.zh, "field": f.key, "sortable": True, "align": "left"} for f in fields
        ]
        table_rows = [{"id": r["id"], **{f.key: str(format_value(f, r.get(f.key))) for f in fields}} for r in rows]
        with ui.row().classes("gap-3 items-center"):
            ui.button(
                _tx(ctx.lang, "export"),
                icon="download",
                on_click=lambda: ui.download(f"/api/v1/ledgers/{kind}/export", f"{lg.zh}.xlsx"),
            ).props("outline").classes("bogda-ledger-export")
            ui.label(f"{len(rows)} {_tx(ctx.lang, 'records')}").classes("text-grey-7")
            search = (
                ui.input(_tx(ctx.lang, "filter"))
                .props("dense clearable debounce=300")
                .classes("w-64 bogda-ledger-filter")
            )
        if can_write(ctx.store, ctx.who, kind):
            errors = ui.column().classes("bogda-import-errors")

            async def on_upload(e: events.UploadEventArguments) -> None:
                data = await e.file.read()
                errors.clear()
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / (e.file.name or "upload.xlsx")
                    path.write_bytes(data)
                    try:
                        rep = await run.io_bound(
                            import_file, ctx.store, kind, path, actor=ctx.user.login, user_id=ctx.user.id
                        )
                    except ImportRejected as exc:
                        with errors:
                            ui.label(_tx(ctx.lang, "rejected")).classes("text-negative")
                            for err in exc.errors[:50]:
                                ui.label(str(err)).classes("text-caption text-negative")
                        return
                ui.notify(_tx(ctx.lang, "imported", n=rep.written), type="positive")

            ui.upload(label=_tx(ctx.lang, "import"), auto_upload=True, on_upload=on_upload).props(
                'accept=".xlsx,.csv" flat bordered'
            ).classes("bogda-ledger-upload")
        else:
            ui.label(_tx(ctx.lang, "readonly")).classes("text-caption text-grey-7")
        table = (
            ui.table(columns=columns, rows=table_rows, row_key="id", pagination={"rowsPerPage": 50})
            .classes("w-full bogda-ledger-table")
            .props("dense flat bordered")
        )
        search.bind_value(table, "filter")  # Quasar filters every column's text as one types
    return None


@ui.page("/ledgers-kpi")
def kpi_page(request: Request, year: int = 2025) -> Response | None:
    ctx = begin(request, "/ledgers-kpi")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{_tx(ctx.lang, 'kpi')} · bogda")
    frame(ctx)
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(f"{_tx(ctx.lang, 'kpi')} · {year}").classes("text-h6")
        _nav(ctx.lang)
        if not can_read(ctx.who):
            ui.label(_tx(ctx.lang, "denied")).classes("text-negative")
            return None
        figs = ledger_figures(ctx.store, Period.year(year))
        rows = [
            {
                "key": k,
                "label": f.label,
                "value": f.display(),
                "parts": f"{f.numerator}/{f.denominator}" if f.denominator is not None else "",
                "query": f.query,
                "count": f.count,
            }
            for k, f in figs.items()
        ]
        columns = [
            {"name": "label", "label": _tx(ctx.lang, "figure"), "field": "label", "align": "left"},
            {"name": "value", "label": _tx(ctx.lang, "value"), "field": "value", "align": "right"},
            {"name": "parts", "label": "n/N", "field": "parts", "align": "right"},
            {"name": "query", "label": _tx(ctx.lang, "query"), "field": "query", "align": "left"},
            {"name": "count", "label": _tx(ctx.lang, "count"), "field": "count", "align": "right"},
        ]
        ui.table(columns=columns, rows=rows, row_key="key", pagination={"rowsPerPage": 100}).classes(
            "w-full bogda-ledger-kpi"
        ).props("dense flat bordered wrap-cells")
    return None


@ui.page("/ledgers-reports")
def reports_page(request: Request) -> Response | None:
    ctx = begin(request, "/ledgers-reports")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{_tx(ctx.lang, 'reports')} · bogda")
    frame(ctx)
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(_tx(ctx.lang, "reports")).classes("text-h6")
        _nav(ctx.lang)
        if not can_read(ctx.who):
            ui.label(_tx(ctx.lang, "denied")).classes("text-negative")
            return None
        out = ctx.settings.data_dir / "reports"
        links = ui.column()

        async def generate(kind: str, period: str) -> None:
            from bogda.reports import service

            def build() -> service.Generated:
                if kind == "monthly":
                    y, m = (int(x) for x in period.split("-"))
                    return service.monthly(ctx.store, y, m, out, actor=ctx.user.login)
                return service.annual(ctx.store, int(period), out, actor=ctx.user.login)

            busy = ui.notification(_tx(ctx.lang, "working"), spinner=True, timeout=None)
            try:
                # DOCX + PDF take seconds: off the event loop, so the page keeps its connection meanwhile
                g = await run.io_bound(build)
            except (ValueError, RuntimeError) as exc:
                ui.notify(str(exc), type="negative", multi_line=True)
                return
            finally:
                busy.dismiss()
            with links, ui.row().classes("gap-3"):
                ui.label(f"#{g.report_id} {kind} {period}")
                for fmt in ("docx", "pdf", "figures"):
                    ui.link(fmt.upper(), f"/api/v1/reports/{g.report_id}/{fmt}", new_tab=True)
            for w in g.warnings:
                ui.notify(w, type="warning")

        with ui.row().classes("items-end gap-3"):
            month = ui.input("YYYY-MM", value="2025-12").classes("w-32")
            ui.button(_tx(ctx.lang, "monthly"), on_click=lambda: generate("monthly", month.value)).props("outline")
            year = ui.input(_tx(ctx.lang, "year"), value="2025").classes("w-24")
            ui.button(_tx(ctx.lang, "annual"), on_click=lambda: generate("annual", year.value)).props("outline")
    return None
