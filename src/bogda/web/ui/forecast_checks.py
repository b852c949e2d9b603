"""Forecast sub-page ``/forecast/interventions/{id}``: the validation checks of one days-avoided evaluation
(forecast.md §3.9 step 5) — placebo in time and space, injection, calibration with its reliability table, dust days,
sensitivity — under the same presentation rule as the evaluations' table on ``/forecast``
(:func:`avoided.presentation`): the checks' figures always, the avoided days and the sensitivity variants only where
the rule allows them. Reads the same payload as ``GET /api/v1/forecast/interventions/{id}``; the event and the
verdict are worded by :mod:`bogda.web.ui.forecast` as in that table. Texts ``forecast.checks.*``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.forecast import avoided as av
from bogda.web.api import forecast as api
from bogda.web.i18n import t
from bogda.web.ui.forecast import check_name, event_text, signed_days, verdict_text
from bogda.web.ui.layout import begin, frame


def _num_text(v: Any, spec: str = ".2f") -> str:
    return format(v, spec) if isinstance(v, int | float) and not isinstance(v, bool) else "—"


def _day_text(v: Any) -> str:
    return signed_days(v) if isinstance(v, int | float) and not isinstance(v, bool) else "—"


def _interval(ci: Any) -> tuple[str, str]:
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return _day_text(ci[0]), _day_text(ci[1])
    return "—", "—"


def _list_sep(lang: str) -> str:
    return "、" if lang == "zh" else ", "


def _judged(check: dict[str, Any]) -> str:
    passed = check.get("passed")
    return "passed" if passed is True else "failed" if passed is False else "not_run"


_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"too few complete days at the control"), "forecast.checks.reason.control_days"),
    (re.compile(r"(?P<n>\d+) placebo year\(s\), need ≥ 2"), "forecast.checks.reason.placebo_years"),
)
"""The reasons :mod:`bogda.forecast.avoided.checks` stores (in English), with their texts; any other stays as stored."""


def _reason_text(reason: str, lang: str) -> str:
    for pattern, key in _REASONS:
        if m := pattern.fullmatch(reason):
            return t(key, lang, **m.groupdict())
    return reason


def _placebo_figures(check: dict[str, Any], lang: str) -> list[str]:
    out = []
    if "avoided" in check:
        lo, hi = _interval(check.get("ci90"))
        out.append(t("forecast.checks.fig.placebo", lang, avoided=_day_text(check["avoided"]), lo=lo, hi=hi))
    if check.get("n_days") is not None:
        out.append(t("forecast.checks.fig.n_days", lang, n=check["n_days"]))
    if check.get("reason"):
        out.append(t("forecast.checks.fig.reason", lang, reason=_reason_text(str(check["reason"]), lang)))
    return out


def _variant_label(name: str, lang: str) -> str:
    """A judged variant's name (:func:`avoided.sensitivity_variants`: ``window:<trim>``, ``trend_on``,
    ``without <code>``) in words."""
    if name.startswith("window:"):
        trim = name.removeprefix("window:")
        return t("forecast.checks.sens.window", lang, trim=trim, days=trim)
    if name == "trend_on":
        return t("forecast.checks.sens.trend", lang)
    return t("forecast.checks.sens.without", lang, code=name.removeprefix("without "))


def _sensitivity_figures(sens: dict[str, Any], show: bool, lang: str) -> list[str]:
    """The variants' avoided days only where the evaluation's own figure may be shown: they estimate the same
    quantity, so listing them would show a refused figure by another name. The spreads (differences), the rule it
    is judged by and the names of the variants outside the interval stay."""
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
    if "passed" in sens:  # judged (rows stored before the check was judged carry the report only)
        out.append(t("forecast.checks.sens.rule", lang))
        outside = [_variant_label(str(n), lang) for n in sens.get("outside") or []]
        if outside:
            out.append(t("forecast.checks.sens.outside", lang, names=_list_sep(lang).join(outside)))
    return out


def check_rows(detail: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The validation checks of one evaluation (:func:`api.intervention_row` with ``detail=True``) as display rows.

    Each row: ``key`` (the stored name), ``name``, ``figures`` (lines of text), ``result`` (``passed`` | ``failed``
    | ``not_run`` | ``reported``) and, for a calibration, its ``reliability`` table. Order: placebo in time, placebo
    in space, injection, calibration, any other judged check, dust days, sensitivity (judged; ``reported`` on rows
    stored before it was). The checks' figures are
    shown whatever the verdict (they are why a figure is refused); the evaluation's own avoided days are not, and
    the sensitivity variants follow the evaluation's rule (``display.show_figure``).
    """
    show = bool(detail["display"]["show_figure"])
    placebo: dict[str, Any] = {k: v for k, v in (detail.get("placebo") or {}).items() if isinstance(v, dict)}
    groups: dict[str, list[dict[str, Any]]] = {"time": [], "space": [], "inj": [], "cal": [], "other": []}
    for key in sorted(placebo):
        check = placebo[key]
        name = check_name(key, lang)
        if key.startswith("placebo_time"):
            groups["time"].append(
                {"key": key, "name": name, "figures": _placebo_figures(check, lang), "result": _judged(check)}
            )
        elif key == "placebo_space":
            figures = [t("forecast.checks.fig.space_not_run", lang)] if check.get("not_run") else []
            groups["space"].append({"key": key, "name": name, "figures": figures, "result": _judged(check)})
        elif key.startswith("placebo_space_"):
            groups["space"].append(
                {"key": key, "name": name, "figures": _placebo_figures(check, lang), "result": _judged(check)}
            )
        elif key.startswith("calibration"):
            groups["cal"].append(
                {
                    "key": key,
                    "name": name,
                    "figures": [t("forecast.checks.fig.calibration", lang, bss=_num_text(check.get("bss")))],
                    "result": _judged(check),
                    "reliability": check.get("reliability") or [],
                }
            )
        elif "passed" in check and key != "sensitivity":  # a check this page does not know yet: by its stored name
            figures = [f"{k} = {v}" for k, v in check.items() if k != "passed"]
            groups["other"].append({"key": key, "name": name, "figures": figures, "result": _judged(check)})
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
        groups["inj"].append(
            {"key": "injection", "name": check_name("injection", lang), "figures": figures, "result": _judged(inj)}
        )
    rows = [*groups["time"], *groups["space"], *groups["inj"], *groups["cal"], *groups["other"]]
    dust = placebo.get("dust")
    if dust is not None:
        figures = [t("forecast.checks.fig.dust", lang, days=dust.get("days", 0), event_days=dust.get("event_days", 0))]
        dates = [str(d) for d in dust.get("dates") or []]
        if dates:
            more = "…" if len(dates) > 30 else ""
            figures.append(t("forecast.checks.fig.dates", lang, dates=_list_sep(lang).join(dates[:30]) + more))
        rows.append({"key": "dust", "name": check_name("dust", lang), "figures": figures, "result": "reported"})
    sens = placebo.get("sensitivity")
    if sens is not None:
        rows.append(
            {
                "key": "sensitivity",
                "name": check_name("sensitivity", lang),
                "figures": _sensitivity_figures(sens, show, lang),
                "result": _judged(sens) if "passed" in sens else "reported",
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
