"""Console page ``/tracing/apportionment`` (源解析（PMF）): the stored ESAT PMF runs (governance.md §3.11,
:mod:`bogda.tracing.runs`) and the adoption of a run's PM2.5 shares as the bureau's source shares.

A table of the runs for every reader; selecting one (or ``?run=<id>``) shows its species (S/N and category), PM2.5
by factor in every group of samples (all, heating, non-heating, heavy days) with the suggested label and the marker
species it rests on, and the checks (Q/Q(expected), scaled residuals within ±3 per species, bootstrap mapping).
Issuers (the ``admin`` role or the ``warning_issuer`` capability, the rule of the hand entry on
``/forecast/source-shares``) submit new runs (新建源解析: the two matrices, factors, models, seed, bootstrap runs, area,
site, category overrides) through the same path as ``POST /api/v1/tracing/apportionment``
(:func:`bogda.web.api.tracing.submit`: checked at once, queued; the scheduler's ``tracing.apportion`` job runs ESAT in
its own environment, never this process), and label every factor and adopt the shares through the same path as
``POST /api/v1/tracing/apportionment/{id}/adopt`` (:func:`bogda.web.api.tracing.adopt`); a refusal is shown under the
field it names. While a run is queued or running the page polls the runs and updates the table. Texts
``tracing.*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import events, ui
from nicegui import run as background

from bogda.tracing import apportionment as ap
from bogda.tracing import runs
from bogda.web.api import tracing as api
from bogda.web.api.common import ApiError, stamp
from bogda.web.i18n import t, t_or
from bogda.web.ui.forecast_shares import area_options, share_error
from bogda.web.ui.layout import Ctx, begin, frame

PATH = "/tracing/apportionment"
GROUPS = ("all", "heating", "non_heating", "heavy")
"""The groups of samples of the mass table, in the order of ``source_share``'s seasons."""
MIN_SAMPLES = runs.MIN_GROUP_SAMPLES
RESIDUAL_OK = ap.RESIDUAL_SHARE_MIN
HEAVY_BASIS = {
    "daily AQI > 200": "heavy_basis.aqi",
    "sample PM2.5 > 150 µg/m³ (IAQI 200)": "heavy_basis.sample",
}
BORDER = "border-top: 1px solid #e0e0e0"
PENDING = ("queued", "running")
POLL_S = 5.0
"""How often the page looks at the runs while one is queued or running."""


def label_text(label: str, lang: str) -> str:
    """A factor label in words (二次硫酸盐 …; the code itself in English)."""
    return ap.LABEL_ZH.get(label, label) if lang == "zh" else label


def _num(v: Any, spec: str = ".2f") -> str:
    return format(v, spec) if isinstance(v, int | float) and not isinstance(v, bool) else "—"


def _pct(v: Any) -> str:
    return f"{100 * v:.1f}%" if isinstance(v, int | float) and not isinstance(v, bool) else "—"


def _when(ts: Any) -> str:
    return (stamp(ts) or {}).get("local", "")[:16].replace("T", " ")


def q_text(run: Mapping[str, Any]) -> str:
    """``Q(true) / Q(expected)（ratio）``, e.g. ``11170.5 / 3708（3.01）``; ``—`` for a failed run.

    >>> q_text({"q_true": 11170.486, "q_expected": 3708.0})
    '11170.5 / 3708（3.01）'
    """
    q, qexp = run.get("q_true"), run.get("q_expected")
    if q is None:
        return "—"
    ratio = f"（{q / qexp:.2f}）" if qexp else ""
    return f"{q:.1f} / {_num(qexp, '.0f')}{ratio}"


def status_text(run: Mapping[str, Any], lang: str) -> str:
    """完成, 排队中, 运行中, or 失败 with the reason."""
    if run["status"] in ("done", "queued", "running"):
        return t(f"tracing.status.{run['status']}", lang)
    return t("tracing.status.failed", lang, error=(run.get("error") or "")[:120])


def markers_text(label: Mapping[str, Any] | None) -> str:
    """The marker species of a suggestion with their fingerprints, e.g. ``SO4 0.71、NH4 0.51``."""
    return "、".join(f"{m['species']} {_num(m['fingerprint'])}" for m in (label or {}).get("markers") or [])


def adopt_error(field: str, message: str, lang: str) -> str:
    """The text shown for a refused adoption: what the field needs, then the service's own words."""
    if field in ("labels", "run_id"):
        what = t(f"tracing.err.{field}", lang)
        return f"{what}（{message}）" if lang == "zh" else f"{what} ({message})"
    return share_error(field, message, lang)


def _header(cols: list[str], lang: str) -> None:
    with ui.element("tr"):
        for c in cols:
            with ui.element("th").classes("q-pa-xs text-left"):
                ui.label(t(f"tracing.col.{c}", lang))


def runs_table(
    ctx: Ctx, rows: list[dict[str, Any]], areas: dict[str, str], selected: int | None, on_select: Any
) -> None:
    """The stored runs, newest first; a click selects one."""
    cols = ["id", "when", "site", "area", "factors", "status", "q", "adopted"]
    with ui.element("table").classes("w-full bogda-pmf-runs").style("border-collapse: collapse"):
        _header(cols, ctx.lang)
        for r in rows:
            cells = {
                "id": f"#{r['id']}",
                "when": _when(r["created_at"]),
                "site": r["site"] or "—",
                "area": areas.get(r["area_code"], r["area_code"]) if r["area_code"] else "—",
                "factors": str(r["factors"]),
                "status": status_text(r, ctx.lang),
                "q": q_text(r),
                "adopted": r["adopted_doc"] or "—",
            }
            row = ui.element("tr").classes("bogda-pmf-run cursor-pointer").props(f'data-run-id="{r["id"]}"')
            if r["id"] == selected:
                row.classes("bg-blue-1 bogda-pmf-run-selected")
            row.on("click", lambda _, rid=r["id"]: on_select(rid))
            with row:
                for c in cols:
                    with ui.element("td").classes(f"q-pa-xs bogda-pmf-run-{c}").style(BORDER):
                        lab = ui.label(cells[c])
                        if c == "status" and r["status"] == "failed":
                            lab.classes("text-negative")


def species_table(result: Mapping[str, Any], lang: str) -> None:
    ui.label(t("tracing.species.title", lang)).classes("text-subtitle1")
    with ui.element("table").classes("bogda-pmf-species").style("border-collapse: collapse"):
        _header(["species", "sn", "category"], lang)
        for s in result.get("species") or []:
            with ui.element("tr").classes("bogda-pmf-species-row").props(f'data-species="{s["species"]}"'):
                for text in (s["species"], _num(s.get("sn")), t(f"tracing.category.{s['category']}", lang)):
                    with ui.element("td").classes("q-pa-xs").style(BORDER):
                        ui.label(text)


def mass_table(run: Mapping[str, Any], result: Mapping[str, Any], lang: str) -> None:
    """PM2.5 by factor (µg/m³ and share of the modelled total) per group, with the suggested label and its markers."""
    mass_name = result.get("mass_species") or "PM2.5"
    ui.label(t("tracing.mass.title", lang, mass=mass_name)).classes("text-subtitle1")
    rows = result.get("mass") or []
    if not rows:
        ui.label(t("tracing.mass.none", lang)).classes("text-grey-7 bogda-pmf-mass-none")
        return
    by: dict[tuple[str, str], dict[str, Any]] = {(str(r["group"]), str(r["factor"])): r for r in rows}
    totals: dict[str, dict[str, Any]] = {str(r["group"]): r for r in rows}
    groups = [g for g in GROUPS if g in totals] + sorted(g for g in totals if g not in GROUPS)
    suggested = result.get("labels") or {}
    adopted = run.get("labels") or {}
    cols = ["factor", "suggested", "markers"] + (["adopted_label"] if adopted else [])
    with ui.element("table").classes("bogda-pmf-mass").style("border-collapse: collapse"):
        with ui.element("tr"):
            for c in cols:
                with ui.element("th").classes("q-pa-xs text-left"):
                    ui.label(t(f"tracing.col.{c}", lang))
            for g in groups:
                with ui.element("th").classes(f"q-pa-xs text-left bogda-pmf-group-{g}"):
                    ui.label(t(f"tracing.group.{g}", lang))
                    n = totals[g]["samples"]
                    note = t("tracing.mass.samples", lang, n=n)
                    if n < MIN_SAMPLES:
                        note += t("tracing.mass.too_few", lang, n=MIN_SAMPLES)
                    ui.label(note).classes("text-caption text-grey-7")
        for factor in api.factors_of(run):
            label = suggested.get(factor) or {}
            with ui.element("tr").classes("bogda-pmf-mass-row").props(f'data-factor="{factor}"'):
                cells = [
                    factor,
                    label_text(label.get("label", "other"), lang) if label else "—",
                    markers_text(label),
                ]
                if adopted:
                    cells.append(label_text(adopted[factor], lang) if factor in adopted else "—")
                for c, text in zip(cols, cells, strict=True):
                    with ui.element("td").classes(f"q-pa-xs bogda-pmf-mass-{c}").style(BORDER):
                        ui.label(text)
                for g in groups:
                    r = by.get((g, factor))
                    text = "—" if r is None else f"{_num(r['mass'])}（{_pct(r['share'])}）"
                    with ui.element("td").classes(f"q-pa-xs bogda-pmf-mass-{g}").style(BORDER):
                        ui.label(text)
        with ui.element("tr").classes("bogda-pmf-mass-total"):
            with ui.element("td").classes("q-pa-xs text-weight-medium").props(f'colspan="{len(cols)}"').style(BORDER):
                ui.label(t("tracing.mass.total", lang, mass=mass_name))
            for g in groups:
                r = totals[g]
                with ui.element("td").classes("q-pa-xs").style(BORDER):
                    ui.label(f"{_num(r.get('modelled_total'))} / {_num(r.get('observed_mean'))}")
    if "heavy" not in totals:
        ui.label(t("tracing.mass.no_heavy", lang)).classes("text-caption text-grey-7 bogda-pmf-no-heavy")
    basis = result.get("heavy_basis")
    if basis:
        text = t(f"tracing.{HEAVY_BASIS[basis]}", lang) if basis in HEAVY_BASIS else basis
        ui.label(t("tracing.mass.heavy_basis", lang, basis=text)).classes("text-caption text-grey-7")
    ui.label(t("tracing.mass.note", lang)).classes("text-caption text-grey-7")


def _cells(texts: tuple[str, ...], flagged: bool) -> None:
    """A check's cells; the last one, the judgement, in red when the check flags the row."""
    for i, text in enumerate(texts):
        with ui.element("td").classes("q-pa-xs").style(BORDER):
            lab = ui.label(text)
            if flagged and i == len(texts) - 1:
                lab.classes("text-negative bogda-pmf-flag")


def checks_view(result: Mapping[str, Any], lang: str) -> None:
    """Q/Q(expected), scaled residuals within ±3 per species (flagged < 95 %), bootstrap mapping (flagged < 80 %)."""
    ui.label(t("tracing.checks.title", lang)).classes("text-subtitle1")
    ui.label(
        t(
            "tracing.checks.q",
            lang,
            ratio=_num(result.get("q_ratio")),
            q_true=_num(result.get("q_true"), ".1f"),
            q_robust=_num(result.get("q_robust"), ".1f"),
            q_expected=_num(result.get("q_expected"), ".0f"),
        )
    ).classes("bogda-pmf-check-q")
    ui.label(t("tracing.checks.q_hint", lang)).classes("text-caption text-grey-7")

    residuals = result.get("residuals") or []
    poor = [r for r in residuals if (r.get("within") or 0.0) < RESIDUAL_OK]
    ui.label(t("tracing.checks.residuals", lang, n=len(poor), total=len(residuals))).classes(
        "text-body2 q-mt-sm bogda-pmf-check-residuals"
    )
    with ui.element("table").classes("bogda-pmf-residuals").style("border-collapse: collapse"):
        _header(["species", "within", "max_abs", "judgement"], lang)
        for r in residuals:
            bad = (r.get("within") or 0.0) < RESIDUAL_OK
            row = ui.element("tr").classes("bogda-pmf-residual").props(f'data-species="{r["species"]}"')
            if bad:
                row.classes("bogda-pmf-flagged")
            with row:
                judgement = t("tracing.checks.residual_low" if bad else "tracing.checks.ok", lang)
                _cells((r["species"], _pct(r.get("within")), _num(r.get("max_abs")), judgement), bad)

    boot = result.get("bootstrap")
    if not boot:
        ui.label(t("tracing.checks.no_bootstrap", lang)).classes("text-body2 q-mt-sm bogda-pmf-no-bootstrap")
        return
    ui.label(t("tracing.checks.bootstrap", lang)).classes("text-body2 q-mt-sm")
    with ui.element("table").classes("bogda-pmf-bootstrap").style("border-collapse: collapse"):
        _header(["factor", "mapped", "share", "judgement"], lang)
        for b in boot:
            ok = bool(b.get("ok"))
            row = ui.element("tr").classes("bogda-pmf-boot").props(f'data-factor="{b["factor"]}"')
            if not ok:
                row.classes("bogda-pmf-flagged")
            with row:
                judgement = t("tracing.checks.ok" if ok else "tracing.checks.unstable", lang)
                _cells((b["factor"], str(b.get("mapped")), _pct(b.get("share")), judgement), not ok)


def adopt_form(ctx: Ctx, run: Mapping[str, Any], areas: dict[str, str], done: Any) -> None:
    """One label select per factor (the suggestion preselected), the area, the study year and the button; the
    adoption goes through :func:`api.adopt` (:func:`runs.adopt_shares`), a refusal shown under the field it names."""
    lang = ctx.lang
    result = run.get("result") or {}
    suggested = result.get("labels") or {}
    options = {label: label_text(label, lang) for label in ap.SOURCE_OF_LABEL}
    selects: dict[str, Any] = {}
    with ui.card().classes("w-full bogda-adopt-form"):
        ui.label(t("tracing.adopt.title", lang)).classes("text-subtitle1")
        ui.label(t("tracing.adopt.hint", lang)).classes("text-caption text-grey-7")
        with ui.row().classes("items-start gap-3"):
            for factor in api.factors_of(run):
                guess = (suggested.get(factor) or {}).get("label")
                name = t("tracing.adopt.factor", lang, factor=factor, label=label_text(guess, lang) if guess else "—")
                selects[factor] = (
                    ui.select(options, value=guess if guess in options else None, label=name)
                    .classes(f"w-48 bogda-adopt-label bogda-adopt-label-{factor}")
                    .props("hide-bottom-space")
                )
        labels_error = ui.label("").classes("text-negative text-caption bogda-adopt-error-labels")
        labels_error.set_visibility(False)
        with ui.row().classes("items-start gap-3"):
            area_value = run.get("area_code") if run.get("area_code") in areas else None
            area = ui.select(areas, value=area_value, label=t("tracing.adopt.area", lang)).classes(
                "w-64 bogda-adopt-field bogda-adopt-field-area_code"
            )
            year = ui.number(t("tracing.adopt.year", lang), precision=0).classes(
                "w-48 bogda-adopt-field bogda-adopt-field-study_year"
            )
            for el in (area, year):
                el.props("hide-bottom-space")
        general = ui.label("").classes("text-negative bogda-adopt-error")
        general.set_visibility(False)

        def show(field: str, message: str) -> None:
            text = adopt_error(field, message, lang)
            target = {"area_code": area, "study_year": year}.get(field)
            if target is not None:
                target.error = text
            elif field == "labels":
                labels_error.text = text
                labels_error.set_visibility(True)
            else:  # the run (adopted meanwhile) or a field the form does not have: say it with its name
                general.text = text
                general.set_visibility(True)

        def save() -> None:
            for el in (*selects.values(), area, year):
                el.error = None
            labels_error.set_visibility(False)
            general.set_visibility(False)
            if not api.can_adopt(ctx.store, ctx.who):
                ui.notify(t("tracing.adopt.not_allowed", lang), type="negative")
                return
            missing = [f for f, el in selects.items() if not el.value]
            for f in missing:
                selects[f].error = t("tracing.adopt.pick", lang)
            if missing:
                return
            labels = {f: str(el.value) for f, el in selects.items()}
            y = year.value
            try:
                out = api.adopt(
                    ctx.store,
                    int(run["id"]),
                    labels,
                    area_code=area.value or None,
                    study_year=None if y is None else int(y),
                    by=ctx.user.login,
                )
            except ApiError as exc:
                show(exc.field, str(exc.detail))
                return
            ui.notify(t("tracing.adopt.saved", lang, n=len(out["share_ids"])), type="positive")
            done(int(run["id"]), len(out["share_ids"]))

        ui.button(t("tracing.adopt.save", lang), on_click=save).props("color=primary").classes("bogda-adopt-save")


def submit_error(field: str, message: str, lang: str) -> str:
    """The text shown for a refused submission: what the field needs, then the service's own words."""
    what = t_or(f"tracing.submit.err.{field}", field, lang)  # a field without its own text: name it
    return f"{what}（{message}）" if lang == "zh" else f"{what} ({message})"


def submit_form(ctx: Ctx, areas: dict[str, str], submitted: Any, *, opened: bool = False) -> None:
    """新建源解析: the two matrices, the run's numbers, the area, the site and category overrides. The submission goes
    through :func:`api.submit` (the API's path): checked at once, queued; a refusal is shown under the field it names;
    on success ``submitted(run_id)``."""
    lang = ctx.lang
    files: dict[str, api.Upload] = {}
    with (
        ui.expansion(t("tracing.submit.title", lang), icon="add_circle", value=opened)
        .classes("w-full bogda-pmf-submit")
        .props("header-class=text-subtitle1 dense-toggle")
    ):
        ui.label(t("tracing.submit.hint", lang)).classes("text-caption text-grey-8")
        chosen: dict[str, Any] = {}
        file_errors: dict[str, Any] = {}
        with ui.row().classes("items-start gap-4"):
            for field in ("conc", "unc"):
                with ui.column().classes("gap-1"):

                    async def on_upload(e: events.UploadEventArguments, field: str = field) -> None:
                        files[field] = api.Upload(e.file.name or "", await e.file.read())
                        chosen[field].text = t("tracing.submit.chosen", lang, name=e.file.name)
                        chosen[field].set_visibility(True)
                        file_errors[field].set_visibility(False)

                    ui.upload(
                        label=t(f"tracing.submit.{field}", lang),
                        auto_upload=True,
                        max_file_size=api.MAX_UPLOAD,
                        on_upload=on_upload,
                        on_rejected=lambda: ui.notify(t("tracing.submit.too_large", lang), type="negative"),
                    ).props(f'accept="{",".join(api.SUFFIXES)}" flat bordered').classes(
                        f"w-72 bogda-pmf-upload bogda-pmf-upload-{field}"
                    )
                    chosen[field] = ui.label("").classes(f"text-caption bogda-pmf-chosen-{field}")
                    chosen[field].set_visibility(False)
                    file_errors[field] = (
                        ui.label("")
                        .classes(f"text-negative text-caption bogda-pmf-submit-error-{field}")
                        .style("max-width: 18rem; white-space: pre-wrap")
                    )
                    file_errors[field].set_visibility(False)
        fields: dict[str, Any] = {}
        with ui.row().classes("items-start gap-3"):
            for name, default in (("factors", 6), ("models", 20), ("seed", 42), ("bootstrap", 20)):
                fields[name] = ui.number(t(f"tracing.submit.{name}", lang), value=default, precision=0).classes(
                    f"w-44 bogda-pmf-field bogda-pmf-field-{name}"
                )
        with ui.row().classes("items-start gap-3"):
            fields["area_code"] = (
                ui.select(areas, value=None, label=t("tracing.submit.area", lang))
                .props("clearable")
                .classes("w-64 bogda-pmf-field bogda-pmf-field-area_code")
            )
            fields["site"] = ui.input(t("tracing.submit.site", lang)).classes(
                "w-48 bogda-pmf-field bogda-pmf-field-site"
            )
            fields["categories"] = (
                ui.input(t("tracing.submit.categories", lang))
                .props(f'hint="{t("tracing.submit.categories_hint", lang)}"')
                .classes("w-96 bogda-pmf-field bogda-pmf-field-categories")
            )
        for el in fields.values():
            el.props("hide-bottom-space")
        general = ui.label("").classes("text-negative bogda-pmf-submit-error")
        general.set_visibility(False)
        done = ui.label("").classes("text-positive text-weight-medium bogda-pmf-submitted")
        done.set_visibility(False)

        def show(field: str, message: str) -> None:
            text = submit_error(field, message, lang)
            if field in file_errors:
                file_errors[field].text = text
                file_errors[field].set_visibility(True)
            elif field in fields:
                fields[field].error = text
            else:  # the rights, or a field the form does not have: say it with its name
                general.text = text
                general.set_visibility(True)

        async def save() -> None:
            for el in fields.values():
                el.error = None
            for el in (*file_errors.values(), general, done):
                el.set_visibility(False)
            if not api.can_adopt(ctx.store, ctx.who):
                show("user", t("tracing.submit.not_allowed", lang))
                return
            missing = [f for f in ("conc", "unc") if f not in files]
            for f in missing:
                file_errors[f].text = t("tracing.submit.missing", lang, what=t(f"tracing.submit.{f}", lang))
                file_errors[f].set_visibility(True)
            if missing:
                return
            values = {name: fields[name].value for name in ("factors", "models", "seed", "bootstrap")}
            try:
                out = await background.io_bound(
                    api.submit,
                    ctx.store,
                    files["conc"],
                    files["unc"],
                    **values,
                    area_code=fields["area_code"].value or None,
                    site=fields["site"].value or "",
                    categories=fields["categories"].value or None,
                    by=ctx.user.login,
                    data_dir=ctx.settings.data_dir,
                )
            except ApiError as exc:
                show(exc.field, str(exc.detail))
                return
            done.text = t("tracing.submit.done", lang, id=out["run_id"])
            done.set_visibility(True)
            ui.notify(done.text, type="positive")
            submitted(int(out["run_id"]))

        ui.button(t("tracing.submit.save", lang), icon="send", on_click=save).props("color=primary").classes(
            "bogda-pmf-submit-save"
        )


def run_detail(ctx: Ctx, run_id: int, areas: dict[str, str], writer: bool, state: dict[str, Any], done: Any) -> None:
    """One run: its settings, species, PM2.5 by factor, checks, and the adoption (form, or what it became)."""
    lang = ctx.lang
    try:
        run = api.detail(runs.get_run(ctx.store, run_id))
    except LookupError:
        ui.label(t("tracing.not_found", lang, id=run_id)).classes("text-grey-7 bogda-pmf-missing")
        return
    result = run.get("result") or {}
    esat = result.get("esat") or {}
    with ui.column().classes("w-full gap-2 bogda-pmf-detail").props(f'data-run-id="{run_id}"'):
        ui.label(t("tracing.detail.title", lang, id=run_id, site=run["site"] or "—")).classes("text-h6")
        if run["status"] in ("queued", "running"):
            ui.label(t("tracing.detail.pending", lang, status=status_text(run, lang))).classes(
                "text-grey-8 bogda-pmf-pending"
            )
            return
        if run["status"] != "done":
            ui.label(t("tracing.detail.failed", lang, error=run.get("error") or "—")).classes(
                "text-negative bogda-pmf-failed"
            ).style("white-space: pre-wrap")
            return
        best = esat.get("best_model")
        ui.label(
            t(
                "tracing.detail.meta",
                lang,
                dataset=run["dataset"] or "—",
                samples=result.get("samples", "—"),
                first=result.get("first_sample", ""),
                last=result.get("last_sample", ""),
                factors=run["factors"],
                seed=run["seed"],
                version=esat.get("esat_version") or "—",
                best="—" if best is None else best + 1,
                models=len(esat.get("models") or []),
            )
        ).classes("text-body2 bogda-pmf-meta")
        for m in result.get("messages") or []:
            ui.label(m).classes("text-caption text-grey-8 bogda-pmf-message")
        with ui.row().classes("w-full items-start gap-8"):
            with ui.column().classes("gap-1"):
                species_table(result, lang)
            with ui.column().classes("gap-1"):
                mass_table(run, result, lang)
                checks_view(result, lang)
        if run.get("adopted_doc"):
            with ui.row().classes("items-center gap-3 bogda-pmf-adopted"):
                if state.get("adopted") and state["adopted"][0] == run_id:
                    ui.label(t("tracing.adopt.done", lang, n=state["adopted"][1])).classes(
                        "text-positive bogda-adopt-done"
                    )
                ui.label(t("tracing.adopt.adopted_as", lang, doc=run["adopted_doc"]))
                ui.link(t("tracing.adopt.shares_link", lang), "/forecast/source-shares").classes(
                    "bogda-adopt-shares-link"
                )
            return
        if not writer:
            # read-only users see the run, not a form they could not submit
            ui.label(t("tracing.adopt.not_allowed", lang)).classes("text-caption text-grey-7")
            return
        refused = runs.refusal(run)
        if refused:
            ui.label(adopt_error("run_id", refused, lang)).classes("text-caption text-grey-7 bogda-adopt-refused")
            return
        adopt_form(ctx, run, areas, done)


@ui.page(PATH)
async def apportionment_page(request: Request, run: int | None = None) -> Response | None:
    """The PMF runs; a selected run's species, PM2.5 by factor and checks; issuers submit runs and adopt shares."""
    ctx = begin(request, PATH)
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    ui.page_title(f"{t('tracing.title', lang)} · bogda")
    frame(ctx)
    areas = area_options(ctx)
    writer = api.can_adopt(ctx.store, ctx.who)
    rows = runs.list_runs(ctx.store)
    state: dict[str, Any] = {
        "selected": run if run is not None else (rows[0]["id"] if rows else None),
        "statuses": {r["id"]: r["status"] for r in rows},
    }

    @ui.refreshable
    def table_view() -> None:
        current = runs.list_runs(ctx.store)
        state["statuses"] = {r["id"]: r["status"] for r in current}
        poll.active = any(s in PENDING for s in state["statuses"].values())
        if not current:
            ui.label(t("tracing.none", lang)).classes("text-grey-7 bogda-pmf-none")
            return
        runs_table(ctx, current, areas, state["selected"], select)

    @ui.refreshable
    def detail_view() -> None:
        if state["selected"] is not None:
            run_detail(ctx, int(state["selected"]), areas, writer, state, done)

    def refresh() -> None:
        table_view.refresh()
        detail_view.refresh()

    def select(rid: int) -> None:
        state["selected"] = rid
        refresh()

    def done(rid: int, n: int) -> None:
        state["adopted"] = (rid, n)
        refresh()

    def check() -> None:
        """While a run is queued or running: update the table when a status changed, the detail when it is the
        selected run's (an adoption form being filled in stays as it is)."""
        before = state["statuses"]
        now = {r["id"]: r["status"] for r in runs.list_runs(ctx.store)}
        if now == before:
            return
        table_view.refresh()
        if state["selected"] is not None and now.get(state["selected"]) != before.get(state["selected"]):
            detail_view.refresh()

    poll = ui.timer(POLL_S, check, active=False)
    with ui.column().classes("w-full q-pa-md gap-3"):
        ui.link(t("tracing.back", lang), "/forecast/source-shares")
        ui.label(t("tracing.title", lang)).classes("text-h6")
        ui.label(t("tracing.intro", lang)).classes("text-body2")
        if writer:
            submit_form(ctx, areas, select, opened=not rows)
        ui.button(t("tracing.refresh", lang), icon="refresh", on_click=refresh).props("flat dense").classes(
            "bogda-pmf-refresh"
        )
        table_view()
        detail_view()
    return None
