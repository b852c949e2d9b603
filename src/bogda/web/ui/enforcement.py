"""Console pages of non-site supervision: clue inbox, clue evidence view, enterprise page, non-site KPI.

Reads through the same scoped queries as the REST API (:mod:`bogda.web.api.enforcement`); confirming and
dismissing call :mod:`bogda.enforcement.casework` and are audited there. Texts are Chinese by default, English
when chosen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.enforcement import casework, inbox
from bogda.enforcement.clues import echarts_option
from bogda.timeutil import BEIJING, now_utc, to_beijing
from bogda.web.api.enforcement import ACTORS, enterprise_only, scope_args
from bogda.web.ui.layout import Ctx, begin, frame, simulated_banner

TEXTS: dict[str, dict[str, str]] = {
    "inbox": {"zh": "违法线索", "en": "Violation clues"},
    "inbox_hint": {
        "zh": "非现场监管规则命中形成的线索；点击一行查看证据。",
        "en": "Rule hits of non-site supervision; click a row for its evidence.",
    },
    "empty": {"zh": "暂无线索", "en": "No clues"},
    "sev": {"zh": "级别", "en": "Severity"},
    "rule": {"zh": "规则", "en": "Rule"},
    "enterprise": {"zh": "企业", "en": "Enterprise"},
    "subject": {"zh": "排放口/电表", "en": "Outlet / meter"},
    "window": {"zh": "时段（北京时间）", "en": "Window (Beijing time)"},
    "status": {"zh": "状态", "en": "Status"},
    "evidence": {"zh": "证据", "en": "Evidence"},
    "raw": {"zh": "原始数据（按收到的字符串）", "en": "Raw values (as received)"},
    "frames": {"zh": "HJ 212 原始报文", "en": "HJ 212 raw frames"},
    "params": {"zh": "规则与参数", "en": "Rule and parameters"},
    "confirm": {"zh": "确认并立案", "en": "Confirm and open a case"},
    "dismiss": {"zh": "排除（误报/有正当理由）", "en": "Dismiss"},
    "reason": {"zh": "原因（必填）", "en": "Reason (required)"},
    "false_positive": {"zh": "误报", "en": "False positive"},
    "excused": {"zh": "有正当理由", "en": "Excused"},
    "done": {"zh": "已处理", "en": "Done"},
    "outlets": {"zh": "排放口、限值与最新数据", "en": "Outlets, limits and latest data"},
    "meters": {"zh": "用电监测（分表计电）", "en": "Electricity meters"},
    "plans": {"zh": "错峰生产与应急减排", "en": "Production plans"},
    "history": {"zh": "线索记录", "en": "Clue history"},
    "marks": {"zh": "自动监测数据标记", "en": "CEMS data marks"},
    "batteries": {"zh": "焦炉（结焦时间核查）", "en": "Coke-oven batteries"},
    "gate": {"zh": "门禁记录（最近50条）", "en": "Gate records (latest 50)"},
    "cases": {"zh": "立案记录", "en": "Cases"},
    "compliance": {"zh": "合规记录（近12个季度，旧→新）", "en": "Compliance (last 12 quarters, oldest → newest)"},
    "legend": {
        "zh": "S 确认的证据级线索或已立案 · V 其他确认线索 · U 数据不足 · _ 无",
        "en": "S confirmed S1 clue or case · V other confirmed clue · U insufficient data · _ none",
    },
    "kpi": {"zh": "非现场执法占比", "en": "Non-site case share"},
    "discovery": {
        "zh": "发现口径：线索来自非现场渠道的立案数 / 立案总数（目标 ≥ 40%）",
        "en": "Discovery basis: cases from non-site clues / all cases registered (goal ≥ 40 %)",
    },
    "evidence_basis": {
        "zh": "证据口径：关键证据为远程数据的处罚案件 / 处罚案件总数",
        "en": "Evidence basis: penalty cases decided on remote evidence / all penalty cases",
    },
    "no_access": {"zh": "无权查看或不存在", "en": "Not found or not in your scope"},
}


def tx(ctx: Ctx, key: str) -> str:
    return TEXTS[key]["en" if ctx.lang == "en" else "zh"]


def _local(ts: datetime | None) -> str:
    return "" if ts is None else to_beijing(ts).strftime("%Y-%m-%d %H:%M")


def _nav(ctx: Ctx) -> None:
    with ui.row().classes("gap-4 q-px-md q-pt-sm"):
        ui.link(tx(ctx, "inbox"), "/clues")
        if enterprise_only(ctx.who) is None:
            ui.link(tx(ctx, "kpi"), "/enforcement/kpi")


@ui.page("/clues")
def clue_inbox(request: Request) -> Response | None:
    ctx = begin(request, "/clues")
    if isinstance(ctx, Response):
        return ctx
    ui.page_title(f"{tx(ctx, 'inbox')} · bogda")
    frame(ctx)
    _nav(ctx)
    rows, found = inbox.list_clues(ctx.store, limit=1000, **scope_args(ctx.who))
    simulated_banner(bool(rows))
    table_rows = [
        {
            "id": r["finding_id"],
            "severity": r["severity"],
            "rule": f"{r['rule_id']} {r['rule_name']}",
            "enterprise": r["enterprise_name"] or "",
            "subject": r["subject_code"] or "",
            "window": r["window_local"],
            "status": r["status_zh"] if ctx.lang != "en" else r["status"],
        }
        for r in rows
    ]
    columns = [
        {"name": "id", "label": "#", "field": "id", "sortable": True, "align": "right"},
        {"name": "severity", "label": tx(ctx, "sev"), "field": "severity", "sortable": True, "align": "center"},
        {"name": "rule", "label": tx(ctx, "rule"), "field": "rule", "sortable": True, "align": "left"},
        {
            "name": "enterprise",
            "label": tx(ctx, "enterprise"),
            "field": "enterprise",
            "sortable": True,
            "align": "left",
        },
        {"name": "subject", "label": tx(ctx, "subject"), "field": "subject", "align": "left"},
        {"name": "window", "label": tx(ctx, "window"), "field": "window", "sortable": True, "align": "left"},
        {"name": "status", "label": tx(ctx, "status"), "field": "status", "sortable": True, "align": "center"},
    ]
    with ui.column().classes("w-full q-pa-md gap-2"):
        with ui.row().classes("items-baseline gap-4"):
            ui.label(tx(ctx, "inbox")).classes("text-h6")
            ui.label(f"{len(rows)} / {found}").classes("text-grey-8 bogda-clue-count")
        ui.label(tx(ctx, "inbox_hint")).classes("text-caption text-grey-7")
        table = ui.table(columns=columns, rows=table_rows, row_key="id", pagination={"rowsPerPage": 50})
        table.classes("w-full bogda-clue-table").props(f'dense flat bordered no-data-label="{tx(ctx, "empty")}"')
        table.on("rowClick", lambda e: ui.navigate.to(f"/clues/{e.args[1]['id']}"))
    return None


def _raw_table(ev: dict[str, Any]) -> None:
    raws = [r for r in ev.get("raw", []) if r.get("in_hit")][:500]
    rows = [
        {
            "k": i,
            "ts": r.get("ts_utc") and _local(datetime.fromisoformat(r["ts_utc"])),
            "channel": r.get("channel"),
            "value": r.get("value"),
            "flag": r.get("flag") or "",
            "frame": r.get("frame_uid") or "",
        }
        for i, r in enumerate(raws)
    ]
    cols = [{"name": c, "label": c, "field": c, "align": "left"} for c in ("ts", "channel", "value", "flag", "frame")]
    ui.table(columns=cols, rows=rows, row_key="k", pagination={"rowsPerPage": 24}).classes("w-full").props(
        "dense flat bordered"
    )


@ui.page("/clues/{finding_id}")
def clue_view(request: Request, finding_id: int) -> Response | None:
    ctx = begin(request, f"/clues/{finding_id}")
    if isinstance(ctx, Response):
        return ctx
    frame(ctx)
    _nav(ctx)
    head, _ = inbox.list_clues(ctx.store, finding_id=finding_id, limit=1, **scope_args(ctx.who))
    if not head:
        ui.label(tx(ctx, "no_access")).classes("q-pa-md text-negative")
        return None
    d = inbox.clue_detail(ctx.store, finding_id)
    assert d is not None
    ui.page_title(f"{d['rule_id']} · bogda")
    simulated_banner(True)
    ev = d["evidence"]
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(d["title"]).classes("text-h6 bogda-clue-title")
        with ui.row().classes("gap-6"):
            ui.label(f"{tx(ctx, 'sev')}: {d['severity']} {d['severity_zh']}")
            ui.label(f"{tx(ctx, 'status')}: {d['status_zh']}").classes("bogda-clue-status")
            ui.link(d["enterprise_name"] or "", f"/enforcement/enterprises/{d['enterprise_id']}")
            ui.label(f"{tx(ctx, 'window')}: {d['window_local']}")
        if d["plots"]:
            ui.echart(echarts_option(d["plots"][0])).classes("w-full bogda-clue-plot").style("height: 340px")
        with ui.expansion(tx(ctx, "params"), value=True).classes("w-full"):
            ui.label(
                f"{d['rule_id']} {d['rule_name']} · v{d['rule_version']} · {d['param_version']} "
                f"(sha256 {d['param_sha256'][:12]}…)"
            )
            ui.label(f"metrics: {d['metrics']}").classes("text-caption")
            if d["legal_basis"]:
                ui.label(d["legal_basis"]).classes("text-caption")
            ui.label(f"bundle_sha256: {d['bundle_sha256']} · v{d['version']}").classes("text-caption text-grey-7")
        with ui.expansion(tx(ctx, "raw"), value=True).classes("w-full"):
            _raw_table(ev)
        with ui.expansion(tx(ctx, "frames")).classes("w-full"):
            for f in ev.get("frames", [])[:200]:
                ui.label(
                    f"#{f.get('frame_uid')} MN={f.get('mn')} CN={f.get('cn')} QN={f.get('qn')} "
                    f"sha256={str(f.get('sha256', ''))[:16]}…"
                ).classes("text-caption")
        if set(ctx.user.roles) & set(ACTORS) and d["status"] not in casework.CLOSED_CLUE:
            _actions(ctx, finding_id)
        for fb in d["feedback"] or []:
            ui.label(
                f"{fb.get('at', '')[:16]} {fb.get('by')}: {fb.get('verdict')} {fb.get('reason') or ''} "
                f"{fb.get('case_no') or ''}"
            ).classes("text-caption")
    return None


def _actions(ctx: Ctx, finding_id: int) -> None:
    user = ctx.user
    store = ctx.store
    with ui.row().classes("gap-3 items-end bogda-clue-actions"):
        reason = ui.input(tx(ctx, "reason")).classes("w-96")
        verdict = ui.select(
            {"FALSE_POSITIVE": tx(ctx, "false_positive"), "EXCUSED": tx(ctx, "excused")}, value="FALSE_POSITIVE"
        )

        def do_confirm() -> None:
            out = casework.confirm_clue(store, finding_id, by=user.login, user_id=user.id, note=reason.value or None)
            ui.notify(f"{tx(ctx, 'done')}: {out['case_no']}")
            ui.navigate.reload()

        def do_dismiss() -> None:
            if not (reason.value or "").strip():
                ui.notify(tx(ctx, "reason"), type="warning")
                return
            casework.dismiss_clue(
                store, finding_id, reason=reason.value, by=user.login, user_id=user.id, verdict=verdict.value
            )
            ui.notify(tx(ctx, "done"))
            ui.navigate.reload()

        ui.button(tx(ctx, "confirm"), on_click=do_confirm).props("color=negative")
        ui.button(tx(ctx, "dismiss"), on_click=do_dismiss).props("outline")


def _simple_table(rows: list[dict[str, Any]], cols: list[str], css: str = "") -> None:
    data = [{"k": i} | {c: ("" if r.get(c) is None else str(r.get(c))) for c in cols} for i, r in enumerate(rows)]
    ui.table(
        columns=[{"name": c, "label": c, "field": c, "align": "left"} for c in cols], rows=data, row_key="k"
    ).classes(f"w-full {css}".strip()).props("dense flat bordered")


COMPLIANCE_COLOURS = {"S": "bg-red-7 text-white", "V": "bg-orange-6 text-white", "U": "bg-grey-5", "_": "bg-green-1"}


@ui.page("/enforcement/enterprises/{enterprise_id}")
def enterprise_view(request: Request, enterprise_id: int) -> Response | None:
    ctx = begin(request, f"/enforcement/enterprises/{enterprise_id}")
    if isinstance(ctx, Response):
        return ctx
    frame(ctx)
    _nav(ctx)
    d = inbox.enterprise_detail(ctx.store, enterprise_id)
    ent = enterprise_only(ctx.who)
    if (
        d is None
        or (ent is not None and ent != enterprise_id)
        or (ent is None and not ctx.who.sees(d["enterprise"]["place_id"]))
    ):
        ui.label(tx(ctx, "no_access")).classes("q-pa-md text-negative")
        return None
    e = d["enterprise"]
    ui.page_title(f"{e['name']} · bogda")
    simulated_banner(bool(e.get("simulated")))
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(e["name"]).classes("text-h6 bogda-enterprise-name")
        ui.label(f"{e['code']} · {e['credit_code']} · {e['sector']} · {e['grade'] or ''}").classes("text-grey-8")
        comp = d["compliance"]["quarters"]
        ui.label(tx(ctx, "compliance")).classes("text-subtitle1")
        with ui.row().classes("gap-1 bogda-compliance"):
            for ch, per in zip(comp["string"], comp["periods"], strict=True):
                ui.label(ch).classes(f"q-px-sm text-mono {COMPLIANCE_COLOURS[ch]}").tooltip(per)
        ui.label(tx(ctx, "legend")).classes("text-caption text-grey-7")
        ui.label(tx(ctx, "outlets")).classes("text-subtitle1")
        outs = []
        for o in d["outlets"]:
            lim = ", ".join(f"{k} {v.get('limit')}" for k, v in (o["limits"] or {}).items())
            last = ", ".join(
                f"{k} {v['value']}{'' if v['flag'] == 'N' else ' ' + v['flag']} ({v['local']})"
                for k, v in o["latest"].items()
            )
            outs.append(
                {"code": o["code"], "name": o["name"], "O2_ref": o["o2_reference"], "limits": lim, "latest": last}
            )
        _simple_table(outs, ["code", "name", "O2_ref", "limits", "latest"])
        ui.label(tx(ctx, "meters")).classes("text-subtitle1")
        mets = [
            {
                "code": m["code"],
                "role": m["role"],
                "equipment": m["equipment"],
                "paired": m["paired"],
                "rated_kw": m["rated_kw"],
                "latest": ", ".join(f"{k} {v['value']} ({v['local']})" for k, v in m["latest"].items()),
            }
            for m in d["meters"]
        ]
        _simple_table(mets, ["code", "role", "equipment", "paired", "rated_kw", "latest"])
        ui.label(tx(ctx, "plans")).classes("text-subtitle1")
        plans = [p | {"start": _local(p["start"]), "end": _local(p["end"])} for p in d["plans"]]
        _simple_table(plans, ["kind", "level", "action", "value", "start", "end", "doc_id"])
        ui.label(tx(ctx, "marks")).classes("text-subtitle1")
        marks = [m | {"start": _local(m["start"]), "end": _local(m["end"]), "entered_at": _local(m["entered_at"])}
                 for m in d.get("marks", [])]  # fmt: skip
        _simple_table(marks, ["target", "mark_type", "start", "end", "entered_at", "status", "reason"], "bogda-marks")
        if d.get("batteries"):
            ui.label(tx(ctx, "batteries")).classes("text-subtitle1")
            _simple_table(d["batteries"], ["battery", "ovens", "chamber_height_m", "coking_h", "dedust_meter"])
        if d.get("gate_records"):
            ui.label(tx(ctx, "gate")).classes("text-subtitle1")
            gate = [g | {"passed_at": _local(g["passed_at"])} for g in d["gate_records"]]
            cols = ["passed_at", "plate", "direction", "vehicle_class", "emission_stage", "fuel"]
            _simple_table(gate, cols, "bogda-gate")
        ui.label(tx(ctx, "history")).classes("text-subtitle1")
        hist = [
            {
                "id": r["finding_id"],
                "sev": r["severity"],
                "rule": f"{r['rule_id']} {r['rule_name']}",
                "window": r["window_local"],
                "status": r["status_zh"],
            }
            for r in d["clues"]
        ]
        _simple_table(hist, ["id", "sev", "rule", "window", "status"])
        ui.label(tx(ctx, "cases")).classes("text-subtitle1")
        cases = [c | {"opened_at": _local(c["opened_at"])} for c in d["cases"]]
        _simple_table(cases, ["case_no", "opened_at", "clue_source", "non_site", "status", "decision", "fine"])
    return None


@ui.page("/enforcement/kpi")
def kpi_view(request: Request) -> Response | None:
    ctx = begin(request, "/enforcement/kpi")
    if isinstance(ctx, Response):
        return ctx
    frame(ctx)
    _nav(ctx)
    ui.page_title(f"{tx(ctx, 'kpi')} · bogda")
    if enterprise_only(ctx.who) is not None:
        ui.label(tx(ctx, "no_access")).classes("q-pa-md text-negative")
        return None
    year = now_utc().astimezone(BEIJING).year
    k = casework.non_site_kpi(ctx.store, datetime(year, 1, 1, tzinfo=BEIJING), datetime(year + 1, 1, 1, tzinfo=BEIJING))
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(f"{tx(ctx, 'kpi')} · {year}").classes("text-h6")
        for key, label in (("discovery", "discovery"), ("evidence", "evidence_basis")):
            f = k[key]
            pct = "—" if f["share_pct"] is None else f"{f['share_pct']} %"
            with ui.card().classes(f"w-full bogda-kpi-{key}"):
                ui.label(tx(ctx, label)).classes("text-subtitle2")
                ui.label(f"{pct}  ({f['numerator']} / {f['denominator']})").classes("text-h5")
                if f["goal"] is not None:
                    share = f["share"] or 0.0
                    ui.linear_progress(value=min(1.0, share / f["goal"]), show_value=False).props(
                        f"color={'positive' if share >= f['goal'] else 'warning'}"
                    )
    return None
