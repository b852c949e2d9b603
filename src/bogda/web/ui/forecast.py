"""Forecast page (预报预警): the 7-day AQI strip per county with p10–p90, a station/area forecast against the observed
hours, verification scores, warning issuance, the active emergency lists with their Excel download and their
emission-based estimate (基于排放的估算, §3.9 step 6: the figure with its source-apportionment study, or
未配置源解析结果 when the bureau has entered none), and the days-avoided evaluations with their verdicts
(forecast.md §3.9; the figure only with its interval and a passed placebo test, §1).

Two sub-pages live in their own modules: :mod:`bogda.web.ui.forecast_shares` (``/forecast/source-shares``, the
bureau's source-apportionment shares the estimate rests on) and :mod:`bogda.web.ui.forecast_checks`
(``/forecast/interventions/{id}``, one evaluation's validation checks); the latter uses this module's
:func:`event_text` and :func:`verdict_text`.

Reads through :mod:`bogda.web.api.forecast` (the same data as the REST API); decisions go through
:func:`bogda.forecast.service.decide_warning` (audited) and need the ``admin`` role or the ``warning_issuer``
capability.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

import polars as pl
from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.forecast import advisories as adv
from bogda.forecast import avoided as av
from bogda.forecast import emergency as em
from bogda.forecast import service as sv
from bogda.forecast import source_share as ss
from bogda.forecast import warnings as wn
from bogda.registry.sites import SECTORS
from bogda.standards.levels import categories
from bogda.timeutil import beijing_wall_ms
from bogda.web.api import forecast as api
from bogda.web.i18n import t, t_or
from bogda.web.ui import forecast_publication as fp
from bogda.web.ui.layout import Ctx, begin, frame, text_on

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bogda.forecast.operational import Target

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "空气质量预报与重污染天气预警",
        "run": "最新预报：{time}（北京时间） 状态 {status} 气象输入 {mode}",
        "strip": "未来 7 天空气质量指数（AQI）预报（AQI 下为首要污染物；括号内为 10%–90% 区间；"
        "P>200 为情景法给出的重污染概率；“今日”为今日已观测小时与其余小时预报合成的日 AQI，预警建议计入今日）",
        "area": "区域",
        "today": "今日",
        "today_made": "实测 {hours} 时 + 预报",
        "series": "站点预报与实况",
        "target": "站点 / 区域",
        "item": "污染物",
        "observed": "实况",
        "band": "10%–90% 区间",
        "scores": "预报检验（回测）",
        "no_scores": "尚无回测结果（运行 bogda forecast backtest）。",
        "scores_ci": "“90 % 区间”为按检验日（连续 7 天为一段）重抽样的自助法区间："
        "落在区间内的差别属于检验期的抽样误差。",
        "warnings": "重污染天气预警",
        "no_warnings": "当前无预警建议。",
        "issue": "发布",
        "reject": "不发布",
        "lift": "解除",
        "change": "变更级别",
        "to": "新级别",
        "pick_level": "请先选择新的预警级别",
        "advice": "最新预报建议：{what}",
        "advice_upgrade": "升级为{level}",
        "advice_downgrade": "降级为{level}（已经连续 2 次预报确认）",
        "advice_downgrade_pending": "降级为{level}（待下一次预报确认）",
        "advice_lift": "解除（已经连续 2 次预报确认）",
        "advice_lift_pending": "解除（待下一次预报确认）",
        "lists": "应急减排清单（生效中）",
        "no_lists": "当前无生效的应急减排清单。",
        "download": "下载 Excel",
        "no_run": "尚无预报（运行 bogda forecast run 或等待定时任务）。",
        "stale": "预报已过时：发布于 {age} 小时前。",
        "failed": " 最近一次刷新失败（{at}）：{why}",
        "done": "已记录：{state}",
        "not_allowed": "需要预警发布权限（warning_issuer）",
    },
    "en": {
        "title": "Air-quality forecast and heavy-pollution warnings",
        "run": "Latest forecast: {time} (Beijing) status {status}, weather input {mode}",
        "strip": "7-day AQI forecast (primary pollutant under the AQI; p10–p90 in brackets; "
        "P>200 = probability of heavy pollution, from scenarios; today is today's daily AQI from the observed "
        "hours and the forecast of the rest, which the warning proposals count)",
        "area": "Area",
        "today": "Today",
        "today_made": "{hours} h observed + forecast",
        "series": "Station forecast and observations",
        "target": "Station / area",
        "item": "Pollutant",
        "observed": "observed",
        "band": "p10–p90",
        "scores": "Verification (backtest)",
        "no_scores": "No backtest scores yet (run bogda forecast backtest).",
        "scores_ci": "The 90 % intervals resample the test days in runs of 7: a difference inside them is sampling "
        "noise of the test period.",
        "warnings": "Heavy-pollution warnings",
        "no_warnings": "No warning proposals.",
        "issue": "Issue",
        "reject": "Reject",
        "lift": "Lift",
        "change": "Change level",
        "to": "New level",
        "pick_level": "Pick the new warning level first",
        "advice": "The newest run proposes: {what}",
        "advice_upgrade": "upgrade to {level}",
        "advice_downgrade": "downgrade to {level} (confirmed by 2 runs)",
        "advice_downgrade_pending": "downgrade to {level} (awaiting the next run's confirmation)",
        "advice_lift": "lift (confirmed by 2 runs)",
        "advice_lift_pending": "lift (awaiting the next run's confirmation)",
        "lists": "Active emergency-reduction lists",
        "no_lists": "No active emergency list.",
        "download": "Download Excel",
        "no_run": "No forecast yet (run bogda forecast run or wait for the scheduled job).",
        "stale": "Stale forecast: issued {age} h ago.",
        "failed": " The last refresh failed ({at}): {why}",
        "done": "Recorded: {state}",
        "not_allowed": "Issuing warnings needs the warning_issuer capability",
    },
}

ITEMS = {"a34004": "PM2.5", "a34002": "PM10", "a05024": "O3", "a21004": "NO2", "a21026": "SO2", "a21005": "CO"}


def tx(lang: str, key: str, **values: object) -> str:
    text = TEXTS.get(lang, TEXTS["zh"]).get(key) or TEXTS["zh"].get(key, key)
    return text.format(**values) if values else text


REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"^model bundle unreadable: (?P<exc>.+)$", "bundle_unreadable"),
        (r"^baseline climatologies unreadable \((?P<exc>[^)]+)\): recent history used$", "baselines_unreadable"),
        (r"^NWP runs unreadable \((?P<exc>.+)\): models without NWP$", "nwp_unreadable"),
        (r"^no NWP run usable at the issue time .*: models without NWP$", "nwp_missing"),
        (r"^hourly PIT archive unreadable \((?P<exc>[^)]+)\): comonotone AQI scenarios$", "pit_hourly_unreadable"),
        (r"^PIT archive unreadable \((?P<exc>[^)]+)\): comonotone AQI scenarios$", "pit_unreadable"),
        (r"^no trained model set: baselines only \(damped persistence\).*$", "no_models"),
        (r"^no model for (?P<items>.+): damped persistence$", "no_model_for"),
        (r"^stale \(no PM2\.5 in 24 h\), climatology used: (?P<codes>.+)$", "stale"),
        (r"^advisories failed: (?P<exc>.+)$", "advisories_failed"),
        (r"^rolling 24-h AQI failed \((?P<exc>.+)\): warnings in calendar mode$", "rolling_failed"),
        (r"^warning proposal for (?P<codes>\S+) failed: (?P<exc>.+)$", "proposal_failed"),
        (r"^station (?P<codes>\S+): CO median (?P<median>\d+) > 50 mg/m³ .*$", "co_unit"),
        (r"^NWP run (?P<run>\S+) \((?P<source>[^)]+)\) degraded: (?P<n>\d+) corrupt GRIB .*$", "nwp_corrupt"),
        (r"^no observed station weather in (?P<hours>\S+) h: (?P<vars>.+)$", "weather_missing"),
    )
)
"""The forecast run's reasons (English in the run record, :func:`bogda.forecast.service.refresh`) → text keys of
``forecast.reason.*``; a reason without a pattern is shown as recorded."""


def reason_text(reason: str, lang: str, names: dict[str, str] | None = None) -> str:
    """One reason of a degraded run in the page's language; ``names`` (code → name) names the stations.

    >>> reason_text("stale (no PM2.5 in 24 h), climatology used: CJ-ZD03, X1", "zh", {"CJ-ZD03": "准东"})
    '24 小时内无 PM2.5 实测，使用气候态：准东（CJ-ZD03）, X1'
    >>> reason_text("something new", "zh")
    'something new'
    """
    for pattern, key in REASONS:
        m = pattern.match(reason)
        if m:
            fields = m.groupdict()
            if "codes" in fields and names:
                codes = fields["codes"].split(", ")
                fields["codes"] = ", ".join(f"{names[c]}（{c}）" if names.get(c) else c for c in codes)
            if "vars" in fields:
                fields["vars"] = weather_names(fields["vars"].split(", "), lang)
            return t(f"forecast.reason.{key}", lang, **fields)
    return reason


def weather_names(variables: Sequence[str], lang: str) -> str:
    """Observed weather variables (:data:`bogda.forecast.features.WEATHER`) in words, wind once for its speed and
    components; an unknown variable as it is.

    >>> weather_names(["t2m", "rh2m", "ws10", "u10", "v10", "psfc"], "zh")
    '气温、相对湿度、风、气压'
    >>> weather_names(["t2m", "precip"], "en")
    'temperature, precipitation'
    """
    words: list[str] = []
    for v in variables:
        key = "forecast.wvar." + ("wind" if v in ("ws10", "u10", "v10", "wd10") else v)
        word = t_or(key, v, lang)
        if word not in words:
            words.append(word)
    return ("、" if lang == "zh" else ", ").join(words)


def inputs_label(run: dict[str, object], lang: str) -> str:
    """What a run's models read besides the pollutants (forecast.md §3.4 "says which it used"): the stations'
    observed weather and the NWP run, or none.

    >>> inputs_label({"weather_mode": "none", "observed_weather": ["t2m", "ws10", "u10"]}, "zh")
    '测站实测（气温、风）'
    >>> inputs_label({"weather_mode": "nwp", "observed_weather": None, "nwp_run_time": {"local": "2026-01-05T08:00"}},
    ...              "en")
    'NWP 2026-01-05T08:00'
    >>> inputs_label({"weather_mode": "none"}, "zh")
    '无（仅污染物历史）'
    """
    parts = []
    observed = run.get("observed_weather") or []
    if observed:
        names = weather_names(list(observed), lang)  # type: ignore[call-overload]
        parts.append(t("forecast.mode.observed", lang) + (f"（{names}）" if lang == "zh" else f" ({names})"))
    if run.get("weather_mode") == "nwp":
        nwp = mode_label("nwp", lang)
        at = run.get("nwp_run_time")
        parts.append(f"{nwp} {at['local'][:16]}" if isinstance(at, dict) and at.get("local") else nwp)
    return ("；" if lang == "zh" else "; ").join(parts) or t("forecast.inputs.none", lang)


def mode_label(mode: str, lang: str) -> str:
    """A weather mode (forecast.md §3.9) in words; an unknown mode as it is."""
    return t_or(f"forecast.mode.{mode}", mode, lang)


def method_label(method: str, lang: str) -> str:
    """A forecast method in words: the baselines (forecast.md §3.3) and ``lgbm_<weather mode>[_raw|_next24h]``.

    >>> method_label("damped_persistence", "zh"), method_label("lgbm_none_raw", "zh")
    ('阻尼持续性', 'LightGBM（气象输入：无预报气象，未后处理）')
    """
    m = re.fullmatch(r"lgbm_(?P<mode>[a-z_]+?)(?:_(?P<variant>raw|next24h))?", method)
    if m:
        detail = mode_label(m["mode"], lang)
        if m["variant"]:
            detail = t(f"forecast.method.variant.{m['variant']}", lang, mode=detail)
        return t("forecast.method.lgbm", lang, detail=detail)
    return t_or(f"forecast.method.{method}", method, lang)


def in_words(chinese: dict[str, str], code: str, lang: str) -> str:
    """A code in Chinese words (a domain table such as ``warnings.LEVEL_ZH`` or ``registry.sites.SECTORS``) on a
    Chinese page, the code itself on an English one (the code is the English name).

    >>> in_words({"red": "红色"}, "red", "zh"), in_words({"red": "红色"}, "red", "en"), in_words({}, "x", "zh")
    ('红色', 'red', 'x')
    """
    return chinese.get(code, code) if lang == "zh" else code


def level_colour(level: int | None) -> str:
    cats = {c.level: c.hex for c in categories()}
    return cats.get(level or 0, "#e0e0e0")


def series_options(payload: dict[str, Any], lang: str) -> dict[str, Any]:
    """ECharts options: observed line, the primary forecast with its p10–p90 band, damped persistence.

    The time axis reads Beijing time in any browser (architecture.md §4; a machine in Xinjiang may run on Urumqi
    time), and the values are rounded as the tables show them (0.1 µg/m³, CO 0.01 mg/m³).
    """
    digits = 2 if payload["item"] == "a21005" else 1

    def pt(point: dict[str, Any], value: float | None) -> list[Any]:
        return [beijing_wall_ms(point["t"]["utc"]), None if value is None else round(value, digits)]

    def band(p: dict[str, Any]) -> float | None:
        return None if p["p90"] is None or p["p10"] is None else p["p90"] - p["p10"]

    obs = [pt(o, o["value"]) for o in payload["observed"]]
    prim = payload["forecast"].get(payload["primary"], [])
    series: list[dict[str, Any]] = [
        {"name": tx(lang, "observed"), "type": "line", "data": obs, "showSymbol": False, "lineStyle": {"width": 2}},
        {
            "name": "p10",  # the band's invisible floor: not in the legend
            "type": "line",
            "stack": "band",
            "data": [pt(p, p["p10"]) for p in prim],
            "lineStyle": {"opacity": 0},
            "showSymbol": False,
        },
        {
            "name": tx(lang, "band"),
            "type": "line",
            "stack": "band",
            "data": [pt(p, band(p)) for p in prim],
            "lineStyle": {"opacity": 0},
            "areaStyle": {"color": "#90caf9", "opacity": 0.4},
            "itemStyle": {"color": "#90caf9"},  # the legend's swatch: the band's own colour
            "showSymbol": False,
        },
        {
            "name": method_label(payload["primary"], lang),
            "type": "line",
            "data": [pt(p, p["mean"]) for p in prim],
            # a colour of its own, apart from the observed blue and the band (the palette's would follow the series)
            "lineStyle": {"width": 2, "color": "#ef6c00"},
            "itemStyle": {"color": "#ef6c00"},
            "showSymbol": False,
        },
    ]
    for name, pts in payload["forecast"].items():
        if name != payload["primary"]:
            series.append(
                {
                    "name": method_label(name, lang),
                    "type": "line",
                    "data": [pt(p, p["mean"]) for p in pts],
                    "lineStyle": {"type": "dashed", **_colour(name)},
                    "itemStyle": _colour(name),
                    "showSymbol": False,
                }
            )
    return {
        "animation": False,
        "useUTC": True,  # the times are Beijing wall clock (beijing_wall_ms), whatever the browser's own zone
        "tooltip": {"trigger": "axis", ":formatter": _tooltip_js(tx(lang, "band"), digits)},
        "legend": {"bottom": 0, "data": [_legend_entry(x["name"], lang) for x in series if x["name"] != "p10"]},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "name": "µg/m³" if payload["item"] != "a21005" else "mg/m³"},
        "grid": {"left": 50, "right": 20, "top": 20, "bottom": 60},
        "series": series,
    }


COMPARISON_COLOURS: dict[str, str] = {
    "damped_persistence": "#8e24aa",
    "persistence": "#00897b",
    "climatology": "#757575",
}
"""Dashed comparison lines, by method (prefix): apart from the observed blue and the forecast's orange."""


def _colour(method: str) -> dict[str, str]:
    colour = next((c for k, c in COMPARISON_COLOURS.items() if method == k or method.startswith(k + "_")), None)
    return {"color": colour} if colour else {}


def _legend_entry(name: str, lang: str) -> str | dict[str, str]:
    """A legend entry: the band as a filled square (a line's circle read as a missing line), the lines by name."""
    return {"name": name, "icon": "rect"} if name == tx(lang, "band") else name


def _tooltip_js(band: str, digits: int) -> str:
    """The series tooltip (a JavaScript function for ECharts, NiceGUI's ``:formatter``): the hour, then each line's
    value, and the band as its range p10–p90 (the chart stacks it as p10 plus the width, which is no figure to
    read)."""
    scale = 10**digits
    return (
        "(ps) => { let lo = null; const rows = [ps[0].axisValueLabel];"
        " for (const p of ps) { const v = p.value[1];"
        " if (p.seriesName === 'p10') { lo = v; continue; }"
        " if (v === null || v === undefined) continue;"
        f" if (p.seriesName === {json.dumps(band)}) {{ if (lo !== null)"
        f" rows.push(p.marker + p.seriesName + ' ' + lo + '–' + Math.round((lo + v) * {scale}) / {scale}); continue; }}"
        " rows.push(p.marker + p.seriesName + ' ' + v); }"
        " return rows.join('<br/>'); }"
    )


def primary_words(labels: str | None, lang: str) -> str:
    """Primary pollutant label(s) of the AQI (``"PM2.5,O3_8h"``) as a forecaster writes them: O3 without its
    averaging time (one is the primary item of the day), several joined with 、 (zh) or ", " (en); none → "".

    >>> primary_words("PM2.5,O3_8h", "zh"), primary_words("O3_8h,O3_1h", "en"), primary_words(None, "zh")
    ('PM2.5、O3', 'O3', '')
    """
    names = [lab.split("_")[0] for lab in (labels or "").split(",") if lab]
    return ("、" if lang == "zh" else ", ").join(dict.fromkeys(names))


def strip_cell(colour: str) -> Any:
    """A strip cell coloured by its AQI level (HJ 633 colours), text in the colour that reads on it."""
    return (
        ui.element("td")
        .classes("q-pa-xs text-center")
        .style(f"background: {colour}; color: {text_on(colour)}; min-width: 84px; border: 1px solid #fff")
    )


def strip_view(ctx: Ctx) -> None:
    rows = api.strip_rows(ctx.store)
    if not rows:
        ui.label(tx(ctx.lang, "no_run")).classes("text-grey-7")
        return
    with_today = any(r.get("today") for r in rows)
    with ui.element("table").classes("bogda-forecast-strip").style("border-collapse: collapse"):
        with ui.element("tr"):
            with ui.element("th").classes("q-pa-xs text-left"):
                ui.label(tx(ctx.lang, "area"))
            if with_today:
                first = next(r["today"] for r in rows if r.get("today"))
                with ui.element("th").classes("q-pa-xs bogda-today"):
                    ui.label(f"{tx(ctx.lang, 'today')} {first['date'][5:]}")
            for d in rows[0]["days"]:
                with ui.element("th").classes("q-pa-xs"):
                    ui.label(d["date"][5:])
        for r in rows:
            with ui.element("tr"):
                with ui.element("td").classes("q-pa-xs text-weight-medium"):
                    ui.label(r["name"])
                if with_today:
                    t = r.get("today") or {}
                    with strip_cell(level_colour(t.get("level"))).classes("bogda-today"):
                        ui.label("—" if t.get("aqi") is None else f"{t['aqi']:.0f}").classes("text-weight-bold")
                        if primary := primary_words(t.get("primary"), ctx.lang):
                            ui.label(primary).classes("text-caption bogda-primary")
                        if t.get("observed_hours") is not None:
                            ui.label(tx(ctx.lang, "today_made", hours=t["observed_hours"])).classes("text-caption")
                for d in r["days"]:
                    with strip_cell(level_colour(d["level"])):
                        aqi = "—" if d["aqi"] is None else f"{d['aqi']:.0f}"
                        ui.label(aqi).classes("text-weight-bold")
                        if primary := primary_words(d.get("primary"), ctx.lang):
                            ui.label(primary).classes("text-caption bogda-primary")
                        if d["p10"] is not None and d["p90"] is not None:
                            ui.label(f"({d['p10']:.0f}–{d['p90']:.0f})").classes("text-caption")
                        heavy = (d.get("prob") or {}).get("AQI>200")
                        if heavy is not None:
                            ui.label(f"P>200 {100 * heavy:.0f}%").classes("text-caption bogda-prob")


def warnings_view(ctx: Ctx, names: dict[str, str]) -> None:
    rows = api.warning_rows(ctx.store, ctx.who)
    if not rows:
        ui.label(tx(ctx.lang, "no_warnings")).classes("text-grey-7")
        return
    for w in rows:
        with ui.row().classes("items-center gap-2 bogda-warning"):
            level, state = in_words(wn.LEVEL_ZH, w["level"], ctx.lang), in_words(wn.STATE_ZH, w["state"], ctx.lang)
            area = names.get(w["area_code"]) or w["area_code"]
            ui.badge(level, color={"yellow": "amber", "orange": "orange", "red": "red"}.get(w["level"]))
            ui.label(f"#{w['id']} {area} {w['start_date']}–{w['end_date']} · {state}")
            if w["state"] == "proposed":
                ui.button(tx(ctx.lang, "issue"), on_click=lambda _, i=w["id"]: _decide(ctx, i, "issued")).props("dense")
                ui.button(tx(ctx.lang, "reject"), on_click=lambda _, i=w["id"]: _decide(ctx, i, "rejected")).props(
                    "dense flat"
                )
            elif w["state"] in ("issued", "changed"):
                # a change of level is the issuer's decision (forecast.md §3.6: issued → changed); it re-resolves
                # the emergency list as a new version
                levels = [lv for lv in LEVEL_COLOURS if lv != "blue" or w["rule_set"] != "2024"]  # 2024: no blue
                others = [lv for lv in levels if lv != w["level"]]
                pick = ui.select({lv: in_words(wn.LEVEL_ZH, lv, ctx.lang) for lv in others}, label=tx(ctx.lang, "to"))
                pick.props("dense outlined").classes("w-28 bogda-change-level")
                ui.button(
                    tx(ctx.lang, "change"),
                    on_click=lambda _, i=w["id"], sel=pick: _decide(ctx, i, "changed", level=sel.value),
                ).props("dense flat")
                ui.button(tx(ctx.lang, "lift"), on_click=lambda _, i=w["id"]: _decide(ctx, i, "lifted")).props("dense")
        advice = run_advice(w, ctx.lang)
        if advice:
            ui.label(advice).classes("text-caption text-warning bogda-warning-advice")
        if w.get("proposal"):
            ui.label(proposal_basis(w["proposal"], ctx.lang)).classes("text-caption text-grey-8 bogda-warning-basis")


LEVEL_COLOURS = {"blue": "blue", "yellow": "amber", "orange": "orange", "red": "red"}


def run_advice(w: dict[str, Any], lang: str) -> str:
    """What the newest run proposes for an issued warning, for the issuer to decide (forecast.md §3.6: upgrades are
    proposed at once; a downgrade or lift needs 2 agreeing runs, and is still the issuer's decision).

    >>> w = {"state": "issued", "level": "yellow", "proposal": {"level": "orange", "action": "upgrade"}}
    >>> run_advice(w, "zh")
    '最新预报建议：升级为橙色'
    >>> run_advice(w | {"proposal": {"level": None, "action": "lift"}}, "en")
    'The newest run proposes: lift (confirmed by 2 runs)'
    >>> run_advice(w | {"proposal": {"level": "yellow", "action": "keep"}}, "zh")
    ''
    """
    prop = w.get("proposal") or {}
    if w.get("state") not in ("issued", "changed") or prop.get("action") in (None, "keep", "none"):
        return ""
    level, action = prop.get("level"), prop["action"]
    words = in_words(wn.LEVEL_ZH, level, lang) if level else ""
    if action == "upgrade" and level:
        what = tx(lang, "advice_upgrade", level=words)
    elif action == "downgrade" and level:
        what = tx(lang, "advice_downgrade", level=words)
    elif action == "pending_downgrade" and level:
        what = tx(lang, "advice_downgrade_pending", level=words)
    elif action == "lift" or (action == "pending_downgrade" and not level):
        what = tx(lang, "advice_lift" if action == "lift" else "advice_lift_pending")
    else:
        return ""
    return tx(lang, "advice", what=what)


_CLAUSE = re.compile(r"AQI (?P<op>>=|>) (?P<thr>[\d.]+) for ≥ (?P<h>[\d.]+) h")


def proposal_basis(proposal: dict[str, Any], lang: str) -> str:
    """Why a warning was proposed, for the issuer: the run's daily AQI forecast of the days it looked at and the clause
    of the rule table that was met, with the document it comes from (forecast.md §3.6; the evidence keeps the rule's
    English wording, :func:`bogda.standards.warning_levels.warning_level`).

    >>> prop = {"days": ["2026-11-30", "2026-12-01"], "aqi": [216.0, 128.0],
    ...         "reason": "AQI > 200 for ≥ 24 h (环大气〔2024〕6号 (news reprint): forecast daily AQI > 200)"}
    >>> proposal_basis(prop, "zh")
    '日均 AQI 预报 11-30 216 · 12-01 128；依据：AQI > 200 持续 ≥ 24 小时（环大气〔2024〕6号）'
    >>> proposal_basis(prop, "en")
    'daily AQI forecast 11-30 216 · 12-01 128; basis: AQI > 200 for ≥ 24 h (环大气〔2024〕6号)'
    >>> proposal_basis(prop | {"today": "2026-11-30"}, "zh").split("；")[0]
    '日均 AQI 预报 今日 11-30 216 · 12-01 128'
    """
    today = proposal.get("today")
    seq = " · ".join(
        f"{tx(lang, 'today') + ' ' if str(d) == today else ''}{str(d)[5:]} {'—' if a is None else f'{a:.0f}'}"
        for d, a in zip(proposal.get("days") or [], proposal.get("aqi") or [], strict=False)
    )
    reason = str(proposal.get("reason") or "")
    clause, _, source = reason.partition(" (")
    document = source.split(" (")[0].rstrip(")")  # the document number, without the table's notes on it
    if lang == "zh":
        clause = _CLAUSE.sub(lambda m: f"AQI {m['op']} {m['thr']} 持续 ≥ {m['h']} 小时", clause).replace(" and ", "且")
    return t("forecast.warning.basis", lang, days=seq, clause=clause, document=document)


def _decide(ctx: Ctx, warning_id: int, to_state: str, *, level: str | None = None) -> None:
    try:
        api._issuer(ctx.store, ctx.who)
    except Exception:
        ui.notify(tx(ctx.lang, "not_allowed"), type="negative")
        return
    if to_state == "changed" and not level:
        ui.notify(tx(ctx.lang, "pick_level"), type="warning")
        return
    try:
        w = sv.decide_warning(ctx.store, warning_id, to_state, by=ctx.user.login, level=level)
    except (LookupError, ValueError) as exc:
        ui.notify(str(exc), type="negative")
        return
    ui.notify(tx(ctx.lang, "done", state=in_words(wn.STATE_ZH, w["state"], ctx.lang)))
    ui.navigate.to("/forecast")


def source_shares_link(ctx: Ctx) -> None:
    """The link to ``/forecast/source-shares`` with the number of shares entered (on top of the emergency lists,
    and under the no-forecast line: the shares can be entered before the first run)."""
    n_shares = len(ss.list_source_shares(ctx.store))
    ui.link(t("forecast.shares.link", ctx.lang, n=n_shares), "/forecast/source-shares").classes(
        "bogda-source-shares-link"
    )


def lists_view(ctx: Ctx, names: dict[str, str]) -> None:
    # the estimates below rest on the shares the bureau entered: their table (and form) is one click away
    source_shares_link(ctx)
    lists = em.active_list(ctx.store)
    if not lists:
        ui.label(tx(ctx.lang, "no_lists")).classes("text-grey-7")
        return
    for lst in lists:
        _, items = em.list_rows(ctx.store, lst["id"])
        with ui.row().classes("items-center gap-2"):
            ui.label(list_title(lst, names, ctx.lang)).classes("bogda-list-title")
            ui.link(tx(ctx.lang, "download"), f"/api/v1/forecast/emergency/{lst['id']}/xlsx").classes("bogda-xlsx-link")
        # Δconc ≈ local share × emission cut, always with its study and limits, or why there is no figure
        for line in ss.estimate_text(ss.list_estimate(ctx.store, lst["id"], items), ctx.lang):
            ui.label(line).classes("text-body2 bogda-emission-estimate")
        ui.label(list_totals(lst, ctx.lang)).classes("text-body2 bogda-list-totals")
        cols = ["county_name", "name", "sector", "grade", "allowed_ratio", "transport_ban", "baseline_source"]
        cuts = [f"cut_{p}" for p in em.POLLUTANTS]
        ui.table(
            columns=[
                {"name": c, "label": t(f"forecast.list.col.{c}", ctx.lang), "field": c, "align": "left"} for c in cols
            ]
            + [
                {"name": c, "label": t("forecast.list.col.reduction", ctx.lang, p=p), "field": c, "align": "right"}
                for c, p in zip(cuts, em.POLLUTANTS, strict=True)
            ],
            rows=[list_row(it, ctx.lang) | {"key": it["enterprise_id"]} for it in items],
            row_key="key",
            pagination={"rowsPerPage": 20},
        ).classes("w-full").props("dense flat bordered")


def list_title(lst: dict[str, Any], names: dict[str, str], lang: str) -> str:
    """The head line of an emergency list: number, area by name, level, version and the warning's document number.

    >>> head = {"id": 1, "area_code": "652323", "level": "red", "version": 2, "doc_no": None}
    >>> list_title(head, {"652323": "呼图壁县"}, "zh")
    '#1 呼图壁县 · 红色预警 · 第 2 版'
    """
    area = names.get(lst["area_code"]) or lst["area_code"]
    if lang == "zh":
        parts = [
            f"#{lst['id']} {area}",
            f"{in_words(wn.LEVEL_ZH, lst['level'], lang)}预警",
            f"第 {lst['version']} 版",
        ]
    else:
        parts = [f"#{lst['id']} {area}", f"{lst['level']} warning", f"version {lst['version']}"]
    return " · ".join([*parts, *([lst["doc_no"]] if lst.get("doc_no") else [])])


def list_totals(lst: dict[str, Any], lang: str) -> str:
    """The list's totals in one line (forecast.md §3.10, as the Excel sheet 汇总): the cut per pollutant with its share
    of the baseline, the level's target share, the pollutants short of it and the enterprises without a baseline.

    >>> head = {"level": "orange", "totals": {"reduction": {"SO2": 1.234, "NOx": 0.5}, "share": {"SO2": 0.25,
    ...         "NOx": 0.1}, "target_share": 0.2, "shortfall": ["NOx"], "missing_baseline": []}}
    >>> list_totals(head, "en").split("; ")[0]
    'Total cut (t/d, share of the baseline in brackets): SO2 1.23 (25%), NOx 0.50 (10%)'
    >>> for part in list_totals(head, "zh").split("；"):
    ...     print(part)
    合计减排（t/d，括号内为占基准的比例）：SO2 1.23（25%）、NOx 0.50（10%）
    橙色预警目标 ≥ 20%
    未达目标：NOx
    缺少基准：无
    """
    tot = lst.get("totals") or {}
    share = tot.get("share") or {}
    cut = tot.get("reduction") or {}
    none = t("forecast.list.none", lang)
    sep, lb, rb = ("、", "（", "）") if lang == "zh" else (", ", " (", ")")
    cuts = sep.join(
        f"{p} {cut[p]:.2f}" + (f"{lb}{100 * share[p]:.0f}%{rb}" if share.get(p) is not None else "")
        for p in em.POLLUTANTS
        if p in cut
    )
    level = in_words(wn.LEVEL_ZH, lst["level"], lang) if lang == "zh" else lst["level"]
    return t(
        "forecast.list.totals",
        lang,
        cuts=cuts or none,
        level=level,
        target=f"{100 * (tot.get('target_share') or 0):.0f}%",
        short=sep.join(tot.get("shortfall") or []) or none,
        missing=sep.join(tot.get("missing_baseline") or []) or none,
    )


def list_row(item: dict[str, Any], lang: str) -> dict[str, Any]:
    """One enterprise of an emergency list as the page shows it: sector and baseline source in words, the allowed
    production as a percentage, the transport ban as yes / no, the required cut per pollutant [t/d]."""
    ratio = item["allowed_ratio"]
    source = item["baseline_source"]
    cut = item.get("reduction_t_per_day") or {}
    return {
        "county_name": item["county_name"],
        "name": item["name"],
        "sector": in_words(SECTORS, item["sector"], lang),
        "grade": item["grade"],
        "allowed_ratio": "—" if ratio is None else f"{100 * ratio:.0f}%",
        "transport_ban": t("forecast.list.yes" if item["transport_ban"] else "forecast.list.no", lang),
        "baseline_source": em.baseline_source_words(source, lang) if source else "—",
        **{f"cut_{p}": "—" if cut.get(p) is None else f"{cut[p]:.2f}" for p in em.POLLUTANTS},
    }


def item_label(item: str, lang: str) -> str:
    """A score table's forecast item (``backtest.TARGET_NAMES``, ``hourly_<label>``, ``daily_AQI``) in words.

    >>> item_label("daily_mean_PM2.5", "zh"), item_label("daily_max_8h_O3", "en"), item_label("daily_AQI", "zh")
    ('PM2.5 日均', 'O3 daily max 8 h', '日 AQI')
    """
    m = re.fullmatch(r"(?P<kind>hourly|daily_mean|daily_max_8h|daily_max_1h)_(?P<label>.+)", item or "")
    if item == "daily_AQI" or not m:
        return t_or(f"forecast.scores.item.{item}", item, lang)
    return t(f"forecast.scores.item.{m['kind']}", lang, label=m["label"])


def _cells(tbl: pl.DataFrame, cols: list[str], lang: str) -> list[dict[str, Any]]:
    words = {"method": method_label, "weather_mode": mode_label, "item": item_label}
    return [
        {
            c: (round(v, 3) if isinstance(v, float) else words[c](v, lang) if c in words and v else v)
            for c, v in r.items()
            if c in cols
        }
        | {"k": i}
        for i, r in enumerate(tbl.iter_rows(named=True))
    ]


def interval_text(lo: float | None, hi: float | None, digits: int = 2) -> str:
    """A score's bootstrap interval as one cell; "—" where it was not computed (an older backtest) or is undefined.

    >>> interval_text(75.104, 79.6), interval_text(0.012, 0.061, 3), interval_text(None, 1.0)
    ('75.10–79.60', '0.012–0.061', '—')
    """
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "—"
    return f"{lo:.{digits}f}–{hi:.{digits}f}"


def scores_view(ctx: Ctx) -> None:
    """The stored backtest scores, with the 90 % intervals of RMSE and of the skill against damped persistence
    (:mod:`bogda.forecast.confidence`): a difference inside them is sampling noise of the test period."""
    tbl = sv.scores(ctx.store)
    if tbl.height == 0:
        ui.label(tx(ctx.lang, "no_scores")).classes("text-grey-7")
        return
    for name, digits in (("RMSE", 2), ("SS_damped", 3)):
        lo, hi = f"{name}_lo", f"{name}_hi"
        values = (
            zip(tbl[lo].to_list(), tbl[hi].to_list(), strict=True)
            if lo in tbl.columns and hi in tbl.columns
            else [(None, None)] * tbl.height
        )
        tbl = tbl.with_columns(pl.Series(f"{name}_ci", [interval_text(a, b, digits) for a, b in values]))
    cols = [
        c
        for c in (
            "protocol",
            "target_code",
            "item",
            "horizon",
            "method",
            "weather_mode",
            "n",
            "RMSE",
            "RMSE_ci",
            "MAE",
            "SS_clim",
            "SS_damped",
            "SS_damped_ci",
        )
        if c in tbl.columns
    ]
    _score_table(cols, _cells(tbl, cols, ctx.lang), "forecast.scores.col", "bogda-scores", ctx.lang)
    if "RMSE_lo" in tbl.columns:
        ui.label(tx(ctx.lang, "scores_ci")).classes("text-caption text-grey-7")


AQI_SCORE_COLS: tuple[str, ...] = (
    "protocol",
    "target_code",
    "horizon",
    "method",
    "weather_mode",
    "n",
    "AQI_RMSE",
    "level_acc",
    "level_acc_pm1",
    "range_acc",
    "level_range_acc",
    "primary_acc",
    "TS_O3_8h_gt160",
    "TS_AQI_gt200",
)
"""Columns of the daily AQI check (``bogda forecast backtest --aqi``, :mod:`bogda.forecast.aqi_check`)."""


def aqi_scores_view(ctx: Ctx) -> None:
    """The stored daily AQI check: AQI error, level accuracy, primary pollutant, O3 8 h > 160 (forecast.md §8
    item 4); shown only once ``bogda forecast backtest --aqi`` has stored it."""
    tbl = sv.scores(ctx.store, item="daily_AQI", metrics=AQI_SCORE_COLS[6:])
    if tbl.height == 0:
        return
    ui.label(t("forecast.scores.aqi_title", ctx.lang)).classes("text-subtitle1")
    cols = [c for c in AQI_SCORE_COLS if c in tbl.columns]
    _score_table(cols, _cells(tbl, cols, ctx.lang), "forecast.scores.col", "bogda-aqi-scores", ctx.lang)


def _score_table(cols: list[str], rows: list[dict[str, Any]], labels: str, css: str, lang: str) -> None:
    """A sortable, paged table of figures; column ``c`` is labelled by the text ``<labels>.<c>``."""
    ui.table(
        columns=[
            {"name": c, "label": t(f"{labels}.{c}", lang), "field": c, "sortable": True, "align": "left"} for c in cols
        ],
        rows=rows,
        row_key="k",
        pagination={"rowsPerPage": 15},
    ).classes(f"w-full {css}").props("dense flat bordered")


def _verif(key: str, lang: str, **values: object) -> str | None:
    text = t(f"forecast.verif.{key}", lang, **values)
    return None if text == f"forecast.verif.{key}" else text


def setting_text(value: str, lang: str) -> str:
    """A check's setting as stored (``rule 2024``, ``rule 2017, merge gap 0 h``) in the page's language.

    >>> setting_text("rule 2024, merge gap 0 h", "zh"), setting_text("rule 2017", "en")
    ('2024 规则，合并间隔 0 小时', 'rule 2017')
    """
    parts = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        if m := re.fullmatch(r"rule (\S+)", part):
            parts.append(_verif("setting.rule", lang, rule=m.group(1)) or part)
        elif m := re.fullmatch(r"merge gap (\S+) h", part):
            parts.append(_verif("setting.merge_gap", lang, hours=m.group(1)) or part)
        else:
            parts.append(part)
    return ("，" if lang == "zh" else ", ").join(parts)


def check_cell(col: str, value: Any, item: str, lang: str) -> Any:
    """One cell of the warning / advisory check table in words (codes as stored by ``service.store_checks``).

    >>> check_cell("horizon", "≥ yellow", "warning", "zh"), check_cell("horizon", "orange", "warning", "zh")
    ('黄色及以上', '橙色')
    >>> check_cell("weather_mode", "noisy D+2", "advisory", "zh")
    '带误差气象 D+2'
    >>> check_cell("period", "test 2016-03-01..2017-02-28", "advisory", "zh")
    '检验 2016-03-01..2017-02-28'
    >>> check_cell("horizon", "dust", "advisory", "zh"), check_cell("POD", 0.41666, "warning", "zh")
    ('大风扬沙（沙尘）', 0.417)
    """
    if isinstance(value, float):
        return round(value, 3)
    if value is None or not isinstance(value, str):
        return value
    if col == "horizon":
        if value == "≥ yellow":
            return _verif("category.at_least_yellow", lang) or value
        return in_words(wn.LEVEL_ZH if item == "warning" else adv.KIND_ZH, value, lang)
    if col == "setting":
        return setting_text(value, lang)
    if col == "weather_mode":
        if value.startswith("noisy "):
            return _verif("weather.noisy", lang, lead=value.removeprefix("noisy ")) or value
        return _verif(f"weather.{value}", lang) or mode_label(value, lang)
    if col == "period" and " " in value:
        part, span = value.split(" ", 1)
        return _verif(f"period.{part}", lang, span=span) or value
    if col in ("item", "protocol", "method"):
        return _verif(f"{col}.{value}", lang) or value
    return value


def checks_view(ctx: Ctx) -> None:
    """The stored warning and advisory checks (forecast.md §3.8, §3.9; ``bogda forecast warnings-check``,
    ``bogda forecast advisories check``)."""
    tbl = sv.check_scores(ctx.store)
    if tbl.height == 0:
        ui.label(t("forecast.verif.none", ctx.lang)).classes("text-grey-7")
        return
    order = (
        *("item", "protocol", "period", "setting", "horizon", "method", "weather_mode", "n"),
        *("POD", "FAR", "TS", "ETS"),
    )
    cols = [c for c in (*order, "lead_h_median") if c in tbl.columns]
    rows = [
        {c: check_cell(c, r[c], r["item"], ctx.lang) for c in cols} | {"k": i}
        for i, r in enumerate(tbl.iter_rows(named=True))
    ]
    _score_table(cols, rows, "forecast.verif.col", "bogda-checks", ctx.lang)


def signed_days(v: float) -> str:
    """Days with their sign, whole numbers without a decimal.

    >>> signed_days(6.0), signed_days(-1.5)
    ('+6', '-1.5')
    """
    return f"{v:+.0f}" if float(v).is_integer() else f"{v:+.1f}"


def event_text(event: str, lang: str) -> str:
    """The event of an evaluation in words (``aqi>200``, ``o3_8h_primary_aqi>100`` or ``daily>150``)."""
    if event == av.EVENT_HEAVY:
        return t("forecast.avoided.event.heavy", lang)
    if event == av.EVENT_OZONE:
        return t("forecast.avoided.event.ozone", lang)
    return event


def series_targets(targets: Sequence[Target]) -> dict[str, str]:
    """The chart's choices, code → label, in the order a command centre reads them: the prefecture, its counties,
    then the stations, control sites (not in any area) last. The first is the default, so the page opens on the
    whole prefecture rather than on the first station code (in Changji a mountain control site).

    >>> from bogda.forecast.operational import Target
    >>> ts = [Target("2690A", "station", "天山天池"), Target("2691A", "station", "州环境监测站"),
    ...       Target("652301", "county", "昌吉市", members=("2691A",)), Target("652300", "prefecture", "昌吉州",
    ...       members=("2691A",))]
    >>> list(series_targets(ts))
    ['652300', '652301', '2691A', '2690A']
    """
    in_area = {m for x in targets if x.kind != "station" for m in x.members}
    rank = {"prefecture": 0, "county": 1}

    def key(x: Target) -> tuple[int, str]:
        return (rank.get(x.kind, 2 if x.code in in_area else 3), x.code)

    return {x.code: f"{x.name or x.code} ({x.code})" for x in sorted(targets, key=key)}


def _start(suffix: str) -> str:
    """``20140301`` → ``2014-03-01`` (the key suffix of a placebo year); anything else as it is."""
    return f"{suffix[:4]}-{suffix[4:6]}-{suffix[6:]}" if len(suffix) == 8 and suffix.isdigit() else suffix


def check_name(key: str, lang: str) -> str:
    """A stored validation check (a key of ``intervention_eval.placebo``, or ``injection``) in words: the names of
    the checks page and of a refused evaluation's reason. A key this version does not know stays as stored."""
    for prefix in ("placebo_time", "calibration"):  # per placebo year: ``<prefix>_<YYYYMMDD>``, or alone
        rest = key.removeprefix(prefix)
        if key.startswith(prefix) and (not rest or rest.startswith("_")):
            start = _start(rest.lstrip("_"))
            return (
                t(f"forecast.checks.{prefix}", lang, start=start)
                if start
                else t(f"forecast.checks.{prefix}_plain", lang)
            )
    if key == "placebo_space":
        return t("forecast.checks.placebo_space_none", lang)
    if key.startswith("placebo_space_"):
        return t("forecast.checks.placebo_space", lang, code=key.removeprefix("placebo_space_"))
    if key in ("injection", "dust", "sensitivity"):
        return t(f"forecast.checks.{key}", lang)
    return key


def verdict_text(display: dict[str, Any], lang: str) -> str:
    """The result cell of one evaluation (forecast.md §1, §3.9 steps 4–5): the avoided days only with their 90 %
    interval and a passed placebo test (:func:`avoided.presentation`), else the verdict with the MDE."""
    if display["show_figure"]:
        lo, hi = display["ci90"]
        text = t(
            "forecast.avoided.effect",
            lang,
            avoided=signed_days(display["avoided"]),
            lo=signed_days(lo),
            hi=signed_days(hi),
        )
    elif display["verdict"] == "no_detectable_effect":
        mde, pct = display.get("mde_days"), display.get("mde_pct")
        text = t(
            "forecast.avoided.no_effect",
            lang,
            mde="—" if mde is None else f"{mde:.1f}",
            pct="—" if pct is None else f"{pct:.0f}",
        )
    else:
        names = [check_name(k, lang) for k in display["failed_checks"]]
        text = t("forecast.avoided.failed", lang, checks=("、" if lang == "zh" else ", ").join(names) or "—")
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
            source_shares_link(ctx)  # an operator enters the shares before the first run
            return None
        # say which weather the models read: the stations' own, the NWP run, or none (forecast.md §3.4)
        mode = inputs_label(run, lang)
        status = t(f"forecast.status.{run['status']}", lang)
        ui.label(tx(lang, "run", time=run["issue_time"]["local"][:16], status=status, mode=mode)).classes(
            "bogda-run-status"
        )
        if run.get("stale") or run.get("last_failure"):
            # forecast.md §6: the last forecast stays visible, marked stale with its age
            fail = run.get("last_failure")
            text = tx(lang, "stale", age=f"{run['age_h']:.0f}") if run.get("stale") else ""
            if fail:
                text += tx(lang, "failed", at=fail["at"]["local"][:16], why="; ".join(fail["reasons"] or []))
            ui.label(text.strip()).classes("text-negative text-weight-medium bogda-run-stale")
        reg = sv.registry(ctx.store)
        names = {x.code: x.name for x in reg.targets}
        for r in run["reasons"] or []:
            ui.label(f"· {reason_text(r, lang, names)}").classes("text-caption text-grey-7 bogda-run-reason")
        ui.label(tx(lang, "strip")).classes("text-subtitle1")
        strip_view(ctx)
        ui.label(fp.tx(lang, "title")).classes("text-subtitle1")
        fp.publication_view(ctx, names)
        ui.label(tx(lang, "warnings")).classes("text-subtitle1")
        warnings_view(ctx, names)
        ui.label(tx(lang, "lists")).classes("text-subtitle1")
        lists_view(ctx, names)
        ui.label(tx(lang, "series")).classes("text-subtitle1")
        options = series_targets(reg.targets)
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
        aqi_scores_view(ctx)
        ui.label(t("forecast.verif.title", lang)).classes("text-subtitle1")
        checks_view(ctx)
        ui.label(t("forecast.avoided.title", lang)).classes("text-subtitle1")
        interventions_view(ctx)
    return None
