"""Password change page (forced after login while ``must_change_password`` is set)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from bogda.registry.people import password_problem
from bogda.web.auth import change_own_password
from bogda.web.i18n import t
from bogda.web.ui.layout import begin, frame


@ui.page("/password")
def password_page(request: Request) -> Response | None:
    ctx = begin(request, "/password")
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    ui.page_title(f"{t('password.title')} · bogda")
    frame(ctx)
    with ui.card().classes("q-ma-lg bogda-password").style("width: 26rem"):
        ui.label(t("password.title")).classes("text-h6")
        if ctx.user.must_change_password:
            ui.label(t("password.forced")).classes("text-orange-10 bogda-password-forced")
        old = ui.input(t("password.old"), password=True, password_toggle_button=True).classes("w-full")
        new = ui.input(t("password.new"), password=True, password_toggle_button=True).classes("w-full")
        again = ui.input(t("password.again"), password=True, password_toggle_button=True).classes("w-full")
        ui.label(t("password.rules")).classes("text-caption text-grey-7")
        message = ui.label("").classes("text-negative bogda-password-error")

        def submit() -> None:
            message.set_text("")
            if new.value != again.value:
                message.set_text(t("password.mismatch", lang))
                return
            if password_problem(new.value or ""):
                message.set_text(t("password.weak", lang))
                return
            try:
                change_own_password(
                    ctx.store,
                    ctx.user,
                    old.value or "",
                    new.value or "",
                    peer=ctx.peer,
                    cache=request.app.state.credential_cache,
                )
            except ValueError as exc:
                key = "password.wrong_old" if "current password" in str(exc) else "password.rejected"
                message.set_text(t(key, lang, reason=str(exc)))
                return
            ui.notify(t("password.done", lang), type="positive")
            ui.navigate.to("/map")

        ui.button(t("password.submit"), on_click=submit).props("color=primary unelevated").classes("q-mt-sm")
    return None
