"""Forecast page (预报预警): the 7-day AQI strip per county with p10–p90, a station/area forecast against the observed
hours, verification scores, warning issuance, the active emergency lists with their Excel download and their
emission-based estimate (基于排放的估算, §3.9 step 6: the figure with its source-apportionment study, or
未配置源解析结果 when the bureau has entered none), and the days-avoided evaluations with their verdicts
(forecast.md §3.9; the figure only with its interval and a passed placebo test, §1).

Two sub-pages: ``/forecast/source-shares`` lists the bureau's source-apportionment shares (源解析结果) that the
estimate rests on and lets issuers enter or delete one (validated by :func:`source_share.add_source_share`, whose
error names the field it is shown next to); ``/forecast/interventions/{id}`` lists one evaluation's validation
checks (placebo in time and space, injection, calibration with its reliability table, dust days, sensitivity)
under the same presentation rule as the table (:func:`avoided.presentation`).

Reads through :mod:`bogda.web.api.forecast` (the same data as the REST API); decisions go through
:func:`bogda.forecast.service.decide_warning` (audited) and need the ``admin`` role or the ``warning_issuer``
capability, as do entering and deleting source-apportionment shares (audited in :mod:`bogda.forecast.source_share`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.forecast import avoided as av
from bogda.forecast import emergency as em
from bogda.forecast import service as sv
from bogda.forecast import source_share as ss
from bogda.standards.levels import categories
from bogda.web.api import forecast as api
from bogda.web.api.common import ApiError, PlaceTree, stamp
from bogda.web.i18n import t
from bogda.web.ui.layout import Ctx, begin, frame

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "空气质量预报与重污染天气预警",
        "run": "最新预报：{time}（北京时间） 状态 {status} 气象输入 {mode}",
        "strip": "未来 7 天空气质量指数（AQI）预报（括号内为 10%–90% 区间；P>200 为情景法给出的重污染概率）",
        "area": "区域",
        "series": "站点预报与实况",
        "target": "站点 / 区域",
        "item": "污染物",
        "observed": "实况",
        "band": "10%–90% 区间",
        "scores": "预报检验（回测）",
        "no_scores": "尚无回测结果（运行 bogda forecast backtest）。",
        "warnings": "重污染天气预警",
        "no_warnings": "当前无预警建议。",
        "issue": "发布",
        "reject": "不发布",
        "lift": "解除",
        "lists": "应急减排清单（生效中）",
        "no_lists": "当前无生效的应急减排清单。",
        "download": "下载 Excel",
        "no_run": "尚无预报（运行 bogda forecast run 或等待定时任务）。",
        "done": "已记录：{state}",
        "not_allowed": "需要预警发布权限（warning_issuer）",
    },
    "en": {
        "title": "Air-quality forecast and heavy-pollution warnings",
        "run": "Latest forecast: {time} (Beijing) status {status}, weather input {mode}",
        "strip": "7-day AQI forecast (p10–p90 in brackets; P>200 = probability of heavy pollution, from scenarios)",
        "area": "Area",
        "series": "Station forecast and observations",
        "target": "Station / area",
        "item": "Pollutant",
        "observed": "observed",
        "band": "p10–p90",
        "scores": "Verification (backtest)",
        "no_scores": "No backtest scores yet (run bogda forecast backtest).",
        "warnings": "Heavy-pollution warnings",
        "no_warnings": "No warning proposals.",
        "issue": "Issue",
        "reject": "Reject",
        "lift": "Lift",
        "lists": "Active emergency-reduction lists",
        "no_lists": "No active emergency list.",
        "download": "Download Excel",
        "no_run": "No forecast yet (run bogda forecast run or wait for the scheduled job).",
        "done": "Recorded: {state}",
        "not_allowed": "Issuing warnings needs the warning_issuer capability",
    },
}

ITEMS = {"a34004": "PM2.5", "a34002": "PM10", "a05024": "O3", "a21004": "NO2", "a21026": "SO2", "a21005": "CO"}


def tx(lang: str, key: str, **values: object) -> str:
    text = TEXTS.get(lang, TEXTS["zh"]).get(key) or TEXTS["zh"].get(key, key)
    return text.format(**values) if values else text


def level_colour(level: int | None) -> str:
    cats = {c.level: c.hex for c in categories()}
    return cats.get(level or 0, "#e0e0e0")


def series_options(payload: dict[str, Any], lang: str) -> dict[str, Any]:
    """ECharts options: observed line, the primary forecast with its p10–p90 band, damped persistence."""
    obs = [[o["t"]["local"], o["value"]] for o in payload["observed"]]
    prim = payload["forecast"].get(payload["primary"], [])
    series: list[dict[str, Any]] = [
        {"name": tx(lang, "observed"), "type": "line", "data": obs, "showSymbol": False, "lineStyle": {"width": 2}},
        {
            "name": "p10",
            "type": "line",
            "stack": "band",
            "data": [[p["t"]["local"], p["p10"]] for p in prim],
            "lineStyle": {"opacity": 0},
            "showSymbol": False,
        },
        {
            "name": tx(lang, "band"),
            "type": "line",
            "stack": "band",
            "data": [
                [p["t"]["local"], None if p["p90"] is None or p["p10"] is None else p["p90"] - p["p10"]] for p in prim
            ],
            "lineStyle": {"opacity": 0},
            "areaStyle": {"color": "#90caf9", "opacity": 0.4},
            "showSymbol": False,
        },
        {"name": payload["primary"], "type": "line", "data": [[p["t"]["local"], p["mean"]] for p in prim]},
    ]
    for name, pts in payload["forecast"].items():
        if name != payload["primary"]:
            series.append(
                {
                    "name": name,
                    "type": "line",
                    "data": [[p["t"]["local"], p["mean"]] for p in pts],
                    "lineStyle": {"type": "dashed"},
                }
            )
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "name": "µg/m³" if payload["item"] != "a21005" else "mg/m³"},
        "grid": {"left": 50, "right": 20, "top": 20, "bottom": 60},
        "series": series,
    }


def strip_view(ctx: Ctx) -> None:
    rows = api.strip_rows(ctx.store)
    if not rows:
        ui.label(tx(ctx.lang, "no_run")).classes("text-grey-7")
        return
    with ui.element("table").classes("bogda-forecast-strip").style("border-collapse: collapse"):
        with ui.element("tr"):
            with ui.element("th").classes("q-pa-xs text-left"):
                ui.label(tx(ctx.lang, "area"))
            for d in rows[0]["days"]:
                with ui.element("th").classes("q-pa-xs"):
                    ui.label(d["date"][5:])
        for r in rows:
            with ui.element("tr"):
                with ui.element("td").classes("q-pa-xs text-weight-medium"):
                    ui.label(r["name"])
                for d in r["days"]:
                    colour = level_colour(d["level"])
                    fg = "#ffffff" if (d["level"] or 0) >= 4 else "#000000"
                    with (
                        ui.element("td")
                        .classes("q-pa-xs text-center")
                        .style(f"background: {colour}; color: {fg}; min-width: 84px; border: 1px solid #fff")
                    ):
                        aqi = "—" if d["aqi"] is None else f"{d['aqi']:.0f}"
                        ui.label(aqi).classes("text-weight-bold")
                        if d["p10"] is not None and d["p90"] is not None:
                            ui.label(f"({d['p10']:.0f}–{d['p90']:.0f})").classes("text-caption")
                        heavy = (d.get("prob") or {}).get("AQI>200")
                        if heavy is not None:
                            ui.label(f"P>200 {100 * heavy:.0f}%").classes("text-caption bogda-prob")


def warnings_view(ctx: Ctx) -> None:
    rows = api.warning_rows(ctx.store, ctx.who)
    if not rows:
        ui.label(tx(ctx.lang, "no_warnings")).classes("text-grey-7")
        return
    for w in rows:
        with ui.row().classes("items-center gap-2 bogda-warning"):
            ui.badge(f"{w['level']}", color={"yellow": "amber", "orange": "orange", "red": "red"}.get(w["level"]))
            ui.label(f"#{w['id']} {w['area_code']} {w['start_date']}–{w['end_date']} · {w['state']}")
            if w["state"] == "proposed":
                ui.button(tx(ctx.lang, "issue"), on_click=lambda _, i=w["id"]: _decide(ctx, i, "issued")).props("dense")
                ui.button(tx(ctx.lang, "reject"), on_click=lambda _, i=w["id"]: _decide(ctx, i, "rejected")).props(
                    "dense flat"
                )
            elif w["state"] in ("issued", "changed"):
                ui.button(tx(ctx.lang, "lift"), on_click=lambda _, i=w["id"]: _decide(ctx, i, "lifted")).props("dense")


def _decide(ctx: Ctx, warning_id: int, to_state: str) -> None:
    try:
        api._issuer(ctx.store, ctx.who)
    except Exception:
        ui.notify(tx(ctx.lang, "not_allowed"), type="negative")
        return
    try:
        w = sv.decide_warning(ctx.store, warning_id, to_state, by=ctx.user.login)
    except (LookupError, ValueError) as exc:
        ui.notify(str(exc), type="negative")
        return
    ui.notify(tx(ctx.lang, "done", state=w["state"]))
    ui.navigate.to("/forecast")


def lists_view(ctx: Ctx) -> None:
    # the estimates below rest on the shares the bureau entered: their table (and form) is one click away
    n_shares = len(ss.list_source_shares(ctx.store))
    ui.link(t("forecast.shares.link", ctx.lang, n=n_shares), "/forecast/source-shares").classes(
        "bogda-source-shares-link"
    )
    lists = em.active_list(ctx.store)
    if not lists:
        ui.label(tx(ctx.lang, "no_lists")).classes("text-grey-7")
        return
    for lst in lists:
        _, items = em.list_rows(ctx.store, lst["id"])
        with ui.row().classes("items-center gap-2"):
            ui.label(f"#{lst['id']} {lst['area_code']} · {lst['level']} · v{lst['version']} · {lst['doc_no']}")
            ui.link(tx(ctx.lang, "download"), f"/api/v1/forecast/emergency/{lst['id']}/xlsx").classes("bogda-xlsx-link")
        # Δconc ≈ local share × emission cut, always with its study and limits, or why there is no figure
        for line in ss.estimate_text(ss.list_estimate(ctx.store, lst["id"], items), ctx.lang):
            ui.label(line).classes("text-body2 bogda-emission-estimate")
        cols = ["county_name", "name", "sector", "grade", "allowed_ratio", "transport_ban", "baseline_source"]
        ui.table(
            columns=[{"name": c, "label": c, "field": c, "align": "left"} for c in cols],
            rows=[{c: it[c] for c in cols} | {"key": it["enterprise_id"]} for it in items],
            row_key="key",
            pagination={"rowsPerPage": 20},
        ).classes("w-full").props("dense flat bordered")


def scores_view(ctx: Ctx) -> None:
    t = sv.scores(ctx.store)
    if t.height == 0:
        ui.label(tx(ctx.lang, "no_scores")).classes("text-grey-7")
        return
    cols = [
        c
        for c in (
            "protocol",
            "target_code",
            "horizon",
            "method",
            "weather_mode",
            "n",
            "RMSE",
            "MAE",
            "SS_clim",
            "SS_damped",
        )
        if c in t.columns
    ]
    rows = [
        {c: (round(v, 3) if isinstance(v, float) else v) for c, v in r.items() if c in cols} | {"k": i}
        for i, r in enumerate(t.iter_rows(named=True))
    ]
    ui.table(
        columns=[{"name": c, "label": c, "field": c, "sortable": True, "align": "left"} for c in cols],
        rows=rows,
        row_key="k",
        pagination={"rowsPerPage": 15},
    ).classes("w-full bogda-scores").props("dense flat bordered")


def _days(v: float) -> str:
    return f"{v:+.0f}" if float(v).is_integer() else f"{v:+.1f}"


def event_text(event: str, lang: str) -> str:
    """The event of an evaluation in words (``aqi>200``, ``o3_8h_primary_aqi>100`` or ``daily>150``)."""
    if event == av.EVENT_HEAVY:
        return t("forecast.avoided.event.heavy", lang)
    if event == av.EVENT_OZONE:
        return t("forecast.avoided.event.ozone", lang)
    return event


def verdict_text(display: dict[str, Any], lang: str) -> str:
    """The result cell of one evaluation (forecast.md §1, §3.9 steps 4–5): the avoided days only with their 90 %
    interval and a passed placebo test (:func:`avoided.presentation`), else the verdict with the MDE."""
    if display["show_figure"]:
        lo, hi = display["ci90"]
        text = t("forecast.avoided.effect", lang, avoided=_days(display["avoided"]), lo=_days(lo), hi=_days(hi))
    elif display["verdict"] == "no_detectable_effect":
        mde, pct = display.get("mde_days"), display.get("mde_pct")
        text = t(
            "forecast.avoided.no_effect",
            lang,
            mde="—" if mde is None else f"{mde:.1f}",
            pct="—" if pct is None else f"{pct:.0f}",
        )
    else:
        text = t("forecast.avoided.failed", lang, checks=", ".join(display["failed_checks"]) or "—")
    if display.get("unvalidated"):
        text += ("；" if lang == "zh" else "; ") + t("forecast.avoided.unvalidated", lang)
    return text


def interventions_view(ctx: Ctx) -> None:
    """The stored days-avoided evaluations, newest first, with their verdicts (``intervention_eval``)."""
    rows = [api.intervention_row(r) for r in av.read_results(ctx.store)]
    if not rows:
        ui.label(t("forecast.avoided.none", ctx.lang)).classes("text-grey-7 bogda-interventions-empty")
        return
    cols = ("label", "window", "event", "observed", "result", "detail")
    table_rows = [
        {
            "k": r["id"],
            "label": r["label"] or f"#{r['id']}",
            "window": f"{r['window_start']}…{r['window_end']}",
            "event": event_text(r["event"], ctx.lang),
            "observed": r["n_obs"],
            "result": verdict_text(r["display"], ctx.lang),
            "detail": t("forecast.checks.link", ctx.lang),
        }
        for r in rows
    ]
    table = (
        ui.table(
            columns=[
                {"name": c, "label": t(f"forecast.avoided.col.{c}", ctx.lang), "field": c, "align": "left"}
                for c in cols
            ],
            rows=table_rows,
            row_key="k",
            pagination={"rowsPerPage": 10},
        )
        .classes("w-full bogda-interventions")
        .props("dense flat bordered wrap-cells")
    )
    # the checks behind each verdict on their own page (a plain link: it works in a new tab and in the history)
    table.add_slot(
        "body-cell-detail",
        """<q-td :props="props"><a class="bogda-intervention-detail-link"
            :href="'/forecast/interventions/' + props.row.k">{{ props.value }}</a></q-td>""",
    )


@ui.page("/forecast")
async def forecast_page(request: Request, target: str | None = None, item: str = "a34004") -> Response | None:
    ctx = begin(request, "/forecast")
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    ui.page_title(f"{tx(lang, 'title')} · bogda")
    frame(ctx)
    run = api.latest(ctx.store)
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.label(tx(lang, "title")).classes("text-h6")
        if run is None:
            ui.label(tx(lang, "no_run")).classes("text-grey-7")
            return None
        # say whether the models used NWP, and which run (forecast.md §3.4)
        mode = run.get("weather_mode") or "none"
        if mode == "nwp" and run.get("nwp_run_time"):
            mode = f"nwp {run['nwp_run_time']['local'][:16]}"
        ui.label(tx(lang, "run", time=run["issue_time"]["local"][:16], status=run["status"], mode=mode)).classes(
            "bogda-run-status"
        )
        for r in run["reasons"] or []:
            ui.label(f"· {r}").classes("text-caption text-grey-7")
        ui.label(tx(lang, "strip")).classes("text-subtitle1")
        strip_view(ctx)
        ui.label(tx(lang, "warnings")).classes("text-subtitle1")
        warnings_view(ctx)
        ui.label(tx(lang, "lists")).classes("text-subtitle1")
        lists_view(ctx)
        ui.label(tx(lang, "series")).classes("text-subtitle1")
        reg = sv.registry(ctx.store)
        options = {t.code: f"{t.name or t.code} ({t.code})" for t in reg.targets}
        chosen = target if target in options else next(iter(options))
        with ui.row().classes("items-center gap-2"):
            ui.select(
                options,
                value=chosen,
                label=tx(lang, "target"),
                on_change=lambda e: ui.navigate.to(f"/forecast?target={e.value}&item={item}"),
            ).classes("min-w-[240px]")
            ui.select(
                ITEMS,
                value=item if item in ITEMS else "a34004",
                label=tx(lang, "item"),
                on_change=lambda e: ui.navigate.to(f"/forecast?target={chosen}&item={e.value}"),
            )
        try:
            payload = api.series_payload(ctx.store, chosen, item if item in ITEMS else "a34004")
            ui.echart(series_options(payload, lang)).classes("w-full bogda-series").style("height: 360px")
        except Exception as exc:
            ui.label(str(exc)).classes("text-grey-7")
        ui.label(tx(lang, "scores")).classes("text-subtitle1")
        scores_view(ctx)
        ui.label(t("forecast.avoided.title", lang)).classes("text-subtitle1")
        interventions_view(ctx)
    return None


# --------------------------------------------------------------------------------------------------------------
# /forecast/source-shares: the bureau's source-apportionment shares (源解析结果, forecast.md §3.9 step 6)
# --------------------------------------------------------------------------------------------------------------

SHARE_FIELDS = (
    "area_code",
    "pollutant",
    "source",
    "season",
    "share",
    "share_low",
    "share_high",
    "source_doc",
    "study_year",
    "note",
)
"""The form's fields, named as :func:`source_share.add_source_share` names them in its errors."""

SOURCE_EN = {"local": "local total"}
SEASON_EN = {"non_heating": "non-heating", "heavy": "heavy-pollution episodes", "all": "whole year"}


def source_label(source: str, lang: str) -> str:
    """A source category in words (工业源 …; the code itself in English, except the local total)."""
    return ss.SOURCE_ZH.get(source, source) if lang == "zh" else SOURCE_EN.get(source, source)


def season_label(season: str, lang: str) -> str:
    return ss.SEASON_ZH.get(season, season) if lang == "zh" else SEASON_EN.get(season, season)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def share_text(row: dict[str, Any], lang: str) -> str:
    """A share with its interval when one was entered, e.g. ``30.0%（20.0%–40.0%）``.

    >>> share_text({"share": 0.3, "share_low": 0.2, "share_high": None}, "zh")
    '30.0%（20.0%–—）'
    """
    text = _pct(row["share"])
    if row.get("share_low") is not None or row.get("share_high") is not None:
        rng = f"{_pct(row.get('share_low'))}–{_pct(row.get('share_high'))}"
        text += f"（{rng}）" if lang == "zh" else f" ({rng})"
    return text


def can_write_shares(ctx: Ctx) -> bool:
    """Admin or capability ``warning_issuer``: the API's rule for writing shares (:func:`api._issuer`)."""
    try:
        api._issuer(ctx.store, ctx.who)
    except ApiError:
        return False
    return True


def area_options(ctx: Ctx) -> dict[str, str]:
    """The prefecture and its counties (code → "name (code)"): the areas a study covers and a list is made for."""
    tree = PlaceTree(ctx.store)
    nodes = sorted(
        (n for n in tree.nodes.values() if n.kind in ("prefecture", "county")),
        key=lambda n: (n.kind != "prefecture", n.code),
    )
    return {n.code: f"{(n.name_en or n.name) if ctx.lang == 'en' else n.name} ({n.code})" for n in nodes}


def share_error(field: str, message: str, lang: str) -> str:
    """The text shown under a field the service refused: what the field needs in the user's language, then the
    service's own message, which names the value."""
    what = t(f"forecast.shares.err.{field}", lang)
    return f"{what}（{message}）" if lang == "zh" else f"{what} ({message})"


def shares_table(ctx: Ctx, areas: dict[str, str], writer: bool, on_delete: Any) -> None:
    """The stored shares, one row each (``source_share``), with a delete button for writers."""
    rows = ss.list_source_shares(ctx.store)
    if not rows:
        ui.label(t("forecast.shares.none", ctx.lang)).classes("text-grey-7 bogda-source-shares-empty")
        return
    cols = ["area", "pollutant", "source", "season", "share", "source_doc", "study_year", "entered"]
    if writer:
        cols.append("action")
    with ui.element("table").classes("bogda-source-shares").style("border-collapse: collapse"):
        with ui.element("tr"):
            for c in cols:
                with ui.element("th").classes("q-pa-xs text-left"):
                    ui.label(t(f"forecast.shares.col.{c}", ctx.lang))
        for r in rows:
            entered = r["entered_at"]
            when = (stamp(entered) or {}).get("local", "")[:16].replace("T", " ")
            cells = {
                "area": areas.get(r["area_code"], r["area_code"]),
                "pollutant": r["pollutant"],
                "source": source_label(r["source"], ctx.lang),
                "season": season_label(r["season"], ctx.lang),
                "share": share_text(r, ctx.lang),
                "source_doc": r["source_doc"],
                "study_year": "" if r["study_year"] is None else str(r["study_year"]),
                "entered": f"{r['entered_by'] or '—'} {when}",
            }
            with ui.element("tr").classes("bogda-share-row").props(f'data-share-id="{r["id"]}"'):
                for c in cols:
                    with ui.element("td").classes(f"q-pa-xs bogda-share-{c}").style("border-top: 1px solid #e0e0e0"):
                        if c == "action":
                            ui.button(
                                t("forecast.shares.delete", ctx.lang), on_click=lambda _, row=r: on_delete(row)
                            ).props("dense flat color=negative").classes("bogda-share-delete")
                        else:
                            ui.label(cells[c])


@ui.page("/forecast/source-shares")
async def source_shares_page(request: Request) -> Response | None:
    """The shares behind the lists' emission-based estimate; issuers enter and delete them here."""
    ctx = begin(request, "/forecast")
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    ui.page_title(f"{t('forecast.shares.title', lang)} · bogda")
    frame(ctx)
    areas = area_options(ctx)
    writer = can_write_shares(ctx)

    def delete(row: dict[str, Any]) -> None:
        if not can_write_shares(ctx):
            ui.notify(t("forecast.shares.not_allowed", lang), type="negative")
            return
        try:
            ss.delete_source_share(ctx.store, row["id"], by=ctx.user.login)
        except LookupError as exc:  # deleted meanwhile in another tab
            ui.notify(str(exc), type="warning")
        else:
            ui.notify(t("forecast.shares.deleted", lang, id=row["id"]))
        table.refresh()

    def confirm(row: dict[str, Any]) -> None:
        what = f"{areas.get(row['area_code'], row['area_code'])} {row['pollutant']} "
        what += f"{source_label(row['source'], lang)} {share_text(row, lang)}"
        with ui.dialog() as dialog, ui.card().classes("bogda-share-confirm"):
            ui.label(t("forecast.shares.confirm", lang, id=row["id"], what=what))
            with ui.row().classes("gap-2"):
                ui.button(t("forecast.shares.delete", lang), on_click=lambda: (dialog.close(), delete(row))).props(
                    "color=negative"
                ).classes("bogda-share-confirm-delete")
                ui.button(t("forecast.shares.cancel", lang), on_click=dialog.close).props("flat")
        dialog.open()

    @ui.refreshable
    def table() -> None:
        shares_table(ctx, areas, writer, confirm)

    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.link(t("forecast.shares.back", lang), "/forecast")
        ui.label(t("forecast.shares.title", lang)).classes("text-h6")
        ui.label(t("forecast.shares.intro", lang)).classes("text-body2")
        table()
        if not writer:
            # read-only users see the shares, not a form they could not submit
            ui.label(t("forecast.shares.not_allowed", lang)).classes("text-caption text-grey-7")
            return None
        share_form(ctx, areas, table.refresh)
    return None


def share_form(ctx: Ctx, areas: dict[str, str], refresh: Any) -> None:
    """The form that enters one share; the service checks it, and its error is shown under the field it names."""
    lang = ctx.lang
    label = {f: t(f"forecast.shares.field.{f}", lang) for f in SHARE_FIELDS}
    fields: dict[str, Any] = {}
    with ui.card().classes("w-full bogda-share-form"):
        ui.label(t("forecast.shares.add", lang)).classes("text-subtitle1")
        ui.label(t("forecast.shares.hint", lang)).classes("text-caption text-grey-7")
        with ui.row().classes("items-start gap-3"):
            fields["area_code"] = ui.select(areas, value=next(iter(areas), None), label=label["area_code"])
            fields["pollutant"] = ui.select(list(ss.POLLUTANTS), value="PM2.5", label=label["pollutant"])
            fields["source"] = ui.select(
                {s: source_label(s, lang) for s in ss.SOURCES}, value="industry", label=label["source"]
            )
            fields["season"] = ui.select(
                {s: season_label(s, lang) for s in ss.SEASONS}, value="all", label=label["season"]
            )
        with ui.row().classes("items-start gap-3"):
            # no min/max here: a number outside 0–1 must reach the service, which names the field and the value
            for f in ("share", "share_low", "share_high"):
                fields[f] = ui.number(label[f], step=0.01)
            fields["study_year"] = ui.number(label["study_year"], precision=0)
        with ui.row().classes("items-start gap-3 w-full"):
            fields["source_doc"] = ui.input(label["source_doc"]).classes("min-w-[360px]")
            fields["note"] = ui.input(label["note"]).classes("min-w-[240px]")
        for f, el in fields.items():
            # hide-bottom-space lets an error message of several lines push the next row down instead of
            # overlapping it (the service's messages name the value and can be long)
            el.classes(f"bogda-share-field bogda-share-field-{f}").props("hide-bottom-space")
            if f not in ("source_doc", "note"):
                el.classes("w-56")

        def save() -> None:
            if not can_write_shares(ctx):
                ui.notify(t("forecast.shares.not_allowed", lang), type="negative")
                return
            for el in fields.values():
                el.error = None
            v = {f: el.value for f, el in fields.items()}
            year = v["study_year"]
            try:
                sid = ss.add_source_share(
                    ctx.store,
                    v["area_code"] or "",
                    v["source"] or "",
                    v["share"],
                    source_doc=v["source_doc"] or "",
                    pollutant=v["pollutant"] or "",
                    season=v["season"] or "",
                    share_low=v["share_low"],
                    share_high=v["share_high"],
                    study_year=None if year is None else int(year),
                    note=(v["note"] or "").strip() or None,
                    by=ctx.user.login,
                )
            except ss.SourceShareError as exc:
                message = str(exc).removeprefix(f"{exc.field}: ")
                target = fields.get(exc.field)
                if target is not None:
                    target.error = share_error(exc.field, message, lang)
                else:  # a field the form does not have: say it anyway, with its name
                    ui.notify(f"{t('forecast.shares.err.form', lang)}：{exc}", type="negative", multi_line=True)
                return
            ui.notify(t("forecast.shares.saved", lang, id=sid), type="positive")
            # keep the study (area, season, document, year) for its next category; clear the figures
            for f in ("share", "share_low", "share_high", "note"):
                fields[f].value = None
            refresh()

        ui.button(t("forecast.shares.save", lang), on_click=save).classes("bogda-share-save")


# --------------------------------------------------------------------------------------------------------------
# /forecast/interventions/{id}: the checks of one days-avoided evaluation (forecast.md §3.9 step 5)
# --------------------------------------------------------------------------------------------------------------


def _num_text(v: Any, spec: str = ".2f") -> str:
    return format(v, spec) if isinstance(v, int | float) and not isinstance(v, bool) else "—"


def _day_text(v: Any) -> str:
    return _days(v) if isinstance(v, int | float) and not isinstance(v, bool) else "—"


def _interval(ci: Any) -> tuple[str, str]:
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return _day_text(ci[0]), _day_text(ci[1])
    return "—", "—"


def _list_sep(lang: str) -> str:
    return "、" if lang == "zh" else ", "


def _start(suffix: str) -> str:
    """``20140301`` → ``2014-03-01`` (the key suffix of a placebo year); anything else as it is."""
    return f"{suffix[:4]}-{suffix[4:6]}-{suffix[6:]}" if len(suffix) == 8 and suffix.isdigit() else suffix


def _judged(check: dict[str, Any]) -> str:
    passed = check.get("passed")
    return "passed" if passed is True else "failed" if passed is False else "not_run"


def _placebo_figures(check: dict[str, Any], lang: str) -> list[str]:
    out = []
    if "avoided" in check:
        lo, hi = _interval(check.get("ci90"))
        out.append(t("forecast.checks.fig.placebo", lang, avoided=_day_text(check["avoided"]), lo=lo, hi=hi))
    if check.get("n_days") is not None:
        out.append(t("forecast.checks.fig.n_days", lang, n=check["n_days"]))
    if check.get("reason"):
        out.append(t("forecast.checks.fig.reason", lang, reason=check["reason"]))
    return out


def _sensitivity_figures(sens: dict[str, Any], show: bool, lang: str) -> list[str]:
    """The variants' avoided days only where the evaluation's own figure may be shown: they estimate the same
    quantity, so listing them would show a refused figure by another name. The spreads (differences) stay."""
    out = []
    if show:
        for trim, v in (sens.get("windows") or {}).items():
            label = t("forecast.checks.sens.window", lang, trim=trim, days=trim)
            out.append(f"{label}：{_day_text(v)}" if lang == "zh" else f"{label}: {_day_text(v)}")
        if "trend_on" in sens:
            label = t("forecast.checks.sens.trend", lang)
            out.append(
                f"{label}：{_day_text(sens['trend_on'])}" if lang == "zh" else f"{label}: {_day_text(sens['trend_on'])}"
            )
        for name, v in (sens.get("control_sets") or {}).items():
            label = t("forecast.checks.sens.without", lang, code=name.removeprefix("without "))
            out.append(f"{label}：{_day_text(v)}" if lang == "zh" else f"{label}: {_day_text(v)}")
    else:
        out.append(t("forecast.checks.sens.hidden", lang))
    out.append(
        t(
            "forecast.checks.sens.spread",
            lang,
            spread=_num_text(sens.get("spread"), "g"),
            window_spread=_num_text(sens.get("window_spread"), "g"),
        )
    )
    return out


def check_rows(detail: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The validation checks of one evaluation (:func:`api.intervention_row` with ``detail=True``) as display rows.

    Each row: ``key`` (the stored name), ``name``, ``figures`` (lines of text), ``result`` (``passed`` | ``failed``
    | ``not_run`` | ``reported``) and, for a calibration, its ``reliability`` table. Order: placebo in time, placebo
    in space, injection, calibration, any other judged check, dust days, sensitivity. The checks' figures are
    shown whatever the verdict (they are why a figure is refused); the evaluation's own avoided days are not, and
    the sensitivity variants follow the evaluation's rule (``display.show_figure``).
    """
    show = bool(detail["display"]["show_figure"])
    placebo: dict[str, Any] = {k: v for k, v in (detail.get("placebo") or {}).items() if isinstance(v, dict)}
    groups: dict[str, list[dict[str, Any]]] = {"time": [], "space": [], "inj": [], "cal": [], "other": []}
    for key in sorted(placebo):
        check = placebo[key]
        if key.startswith("placebo_time"):
            start = _start(key.removeprefix("placebo_time").lstrip("_"))
            name = (
                t("forecast.checks.placebo_time", lang, start=start)
                if start
                else t("forecast.checks.placebo_time_plain", lang)
            )
            groups["time"].append(
                {"key": key, "name": name, "figures": _placebo_figures(check, lang), "result": _judged(check)}
            )
        elif key == "placebo_space":
            figures = [t("forecast.checks.fig.space_not_run", lang)] if check.get("not_run") else []
            name = t("forecast.checks.placebo_space_none", lang)
            groups["space"].append({"key": key, "name": name, "figures": figures, "result": _judged(check)})
        elif key.startswith("placebo_space_"):
            name = t("forecast.checks.placebo_space", lang, code=key.removeprefix("placebo_space_"))
            groups["space"].append(
                {"key": key, "name": name, "figures": _placebo_figures(check, lang), "result": _judged(check)}
            )
        elif key.startswith("calibration"):
            start = _start(key.removeprefix("calibration").lstrip("_"))
            name = (
                t("forecast.checks.calibration", lang, start=start)
                if start
                else t("forecast.checks.calibration_plain", lang)
            )
            groups["cal"].append(
                {
                    "key": key,
                    "name": name,
                    "figures": [t("forecast.checks.fig.calibration", lang, bss=_num_text(check.get("bss")))],
                    "result": _judged(check),
                    "reliability": check.get("reliability") or [],
                }
            )
        elif "passed" in check:  # a check this page does not know yet: shown by its stored name and verdict
            figures = [f"{k} = {v}" for k, v in check.items() if k != "passed"]
            groups["other"].append({"key": key, "name": key, "figures": figures, "result": _judged(check)})
    inj = detail.get("injection") or {}
    if inj:
        figures = []
        if "r" in inj:
            lo, hi = _interval(inj.get("ci90"))
            figures.append(
                t(
                    "forecast.checks.fig.injection",
                    lang,
                    r=_num_text(inj.get("r")),
                    r_hat=_num_text(inj.get("r_recovered"), ".3f"),
                    true_days=_num_text(inj.get("true_days"), "g"),
                    recovered=_day_text(inj.get("recovered_days")),
                    lo=lo,
                    hi=hi,
                    truth=_num_text(inj.get("truth", inj.get("true_days")), "g"),
                )
            )
        if inj.get("days"):
            figures.append(
                t("forecast.checks.fig.injection_days", lang, days=_list_sep(lang).join(map(str, inj["days"])))
            )
        name = t("forecast.checks.injection", lang)
        groups["inj"].append({"key": "injection", "name": name, "figures": figures, "result": _judged(inj)})
    rows = [*groups["time"], *groups["space"], *groups["inj"], *groups["cal"], *groups["other"]]
    dust = placebo.get("dust")
    if dust is not None:
        figures = [t("forecast.checks.fig.dust", lang, days=dust.get("days", 0), event_days=dust.get("event_days", 0))]
        dates = [str(d) for d in dust.get("dates") or []]
        if dates:
            more = "…" if len(dates) > 30 else ""
            figures.append(t("forecast.checks.fig.dates", lang, dates=_list_sep(lang).join(dates[:30]) + more))
        rows.append({"key": "dust", "name": t("forecast.checks.dust", lang), "figures": figures, "result": "reported"})
    sens = placebo.get("sensitivity")
    if sens is not None:
        rows.append(
            {
                "key": "sensitivity",
                "name": t("forecast.checks.sensitivity", lang),
                "figures": _sensitivity_figures(sens, show, lang),
                "result": "reported",
            }
        )
    return rows


RESULT_COLOUR = {"passed": "text-positive", "failed": "text-negative", "not_run": "text-grey-7", "reported": ""}


def reliability_view(table: list[dict[str, Any]], lang: str) -> None:
    """The 10-bin reliability table of a calibration check (forecast probability against observed frequency)."""
    cols = ("bin", "n", "p_mean", "freq")
    with ui.element("table").classes("bogda-reliability text-caption").style("border-collapse: collapse"):
        with ui.element("tr"):
            for c in cols:
                with ui.element("th").classes("q-px-xs text-left"):
                    ui.label(t(f"forecast.checks.rel.{c}", lang))
        for b in table:
            lo = b.get("bin", 0.0)
            cells = (
                f"{lo:.1f}–{lo + 0.1:.1f}",
                _num_text(b.get("n"), ".0f"),
                _num_text(b.get("p_mean")),
                _num_text(b.get("freq")),
            )
            with ui.element("tr"):
                for text in cells:
                    with ui.element("td").classes("q-px-xs"):
                        ui.label(text)


@ui.page("/forecast/interventions/{eval_id}")
async def intervention_page(request: Request, eval_id: int) -> Response | None:
    """One days-avoided evaluation: its result under the presentation rule, then every validation check."""
    ctx = begin(request, "/forecast")
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    frame(ctx)
    row = av.read_result(ctx.store, eval_id)
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.link(t("forecast.checks.back", lang), "/forecast")
        if row is None:
            ui.page_title("bogda")
            ui.label(t("forecast.checks.not_found", lang, id=eval_id)).classes("text-grey-7 bogda-checks-missing")
            return None
        # the same payload as GET /api/v1/forecast/interventions/{id}; only ``display`` decides on the figure
        d = api.intervention_row(row, detail=True)
        title = t("forecast.checks.title", lang, label=d["label"] or f"#{d['id']}")
        ui.page_title(f"{title} · bogda")
        ui.label(title).classes("text-h6")
        ui.label(
            t(
                "forecast.checks.meta",
                lang,
                window=f"{d['window_start']}…{d['window_end']}",
                event=event_text(d["event"], lang),
                targets=_list_sep(lang).join(d["targets"] or []) or "—",
                controls=_list_sep(lang).join(d["controls"] or []) or "—",
                n_obs=d["n_obs"],
            )
        ).classes("bogda-checks-meta")
        ui.label(t("forecast.checks.result", lang, text=verdict_text(d["display"], lang))).classes(
            "text-subtitle1 bogda-checks-result"
        )
        if not d["display"]["show_figure"]:
            ui.label(t("forecast.checks.hidden", lang)).classes("text-body2 text-grey-8 bogda-checks-hidden")
        boot = (d["placebo"] or {}).get("bootstrap") or {}
        if boot:
            ui.label(
                t(
                    "forecast.checks.model",
                    lang,
                    sigma=_num_text(boot.get("sigma")),
                    rho1=_num_text(boot.get("rho1")),
                    n_eff=_num_text(boot.get("n_eff"), ".0f"),
                )
            ).classes("text-caption bogda-checks-model")
        with ui.element("table").classes("w-full bogda-checks").style("border-collapse: collapse"):
            with ui.element("tr"):
                for c in ("check", "figures", "result"):
                    with ui.element("th").classes("q-pa-xs text-left"):
                        ui.label(t(f"forecast.checks.col.{c}", lang))
            for r in check_rows(d, lang):
                with ui.element("tr").classes("bogda-check").props(f'data-check="{r["key"]}"'):
                    with ui.element("td").classes("q-pa-xs text-weight-medium").style("border-top: 1px solid #e0e0e0"):
                        ui.label(r["name"])
                    with ui.element("td").classes("q-pa-xs bogda-check-figures").style("border-top: 1px solid #e0e0e0"):
                        for line in r["figures"]:
                            ui.label(line).classes("text-body2")
                        if r.get("reliability"):
                            ui.label(t("forecast.checks.rel.title", lang)).classes("text-caption q-mt-xs")
                            reliability_view(r["reliability"], lang)
                    with ui.element("td").classes("q-pa-xs").style("border-top: 1px solid #e0e0e0"):
                        ui.label(t(f"forecast.checks.{r['result']}", lang)).classes(
                            f"bogda-check-result {RESULT_COLOUR[r['result']]}"
                        )
        params = d.get("params") or {}
        if params:
            with ui.expansion(t("forecast.checks.params", lang)).classes("w-full bogda-checks-params"):
                ui.label("；".join(f"{k} = {v}" for k, v in sorted(params.items()))).classes("text-caption")
    return None
