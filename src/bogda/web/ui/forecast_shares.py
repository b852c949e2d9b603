"""Forecast sub-page ``/forecast/source-shares``: the bureau's source-apportionment shares (源解析结果,
forecast.md §3.9 step 6) that the emergency lists' emission-based estimate on ``/forecast`` rests on. A table for
every reader; issuers (the ``admin`` role or the ``warning_issuer`` capability) enter a share in the form below it,
validated by :func:`source_share.add_source_share`, whose error names the field it is shown next to, or delete one.
Entering and deleting are audited in :mod:`bogda.forecast.source_share`. Texts ``forecast.shares.*``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.forecast import source_share as ss
from bogda.web.api import forecast as api
from bogda.web.api.common import ApiError, PlaceTree, stamp
from bogda.web.i18n import t
from bogda.web.ui.layout import Ctx, begin, frame

SHARE_FIELDS = ss.ENTRY_FIELDS
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
        ui.link(t("tracing.link", lang), "/tracing/apportionment").classes("bogda-pmf-link")
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
