"""Page guard and the common frame of console pages: header (title, user, language, logout) and navigation."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from nicegui import ui

from bogda.config import Settings
from bogda.registry.people import ROLES, UserRecord
from bogda.store import Store
from bogda.web.auth import Principal, client_ip, language_of, login_redirect, scope_of, session_user
from bogda.web.i18n import LANGUAGES, t, use_language
from bogda.web.ui import TITLE

NAV: tuple[tuple[str, str, str], ...] = (
    ("/map", "nav.map", "map"),
    ("/stations", "nav.stations", "sensors"),
    ("/monitoring", "nav.monitoring", "air"),
    ("/forecast", "nav.forecast", "cloud"),
    ("/tracing/apportionment", "nav.tracing", "pie_chart"),
    ("/findings", "nav.findings", "report_problem"),
    ("/tasks", "nav.tasks", "assignment"),
    ("/review", "nav.review", "fact_check"),
    ("/m", "nav.my_tasks", "smartphone"),
    ("/kpi", "nav.kpi", "leaderboard"),
    ("/fire", "nav.fire", "local_fire_department"),
    ("/clues", "nav.clues", "gavel"),
    ("/enforcement/kpi", "nav.non_site", "insights"),
    ("/devices", "nav.devices", "router"),
    ("/ledgers", "nav.ledgers", "menu_book"),
    ("/ledgers-reports", "nav.reports", "description"),
    ("/bigscreen", "nav.bigscreen", "tv"),
    ("/duty", "nav.duty", "support_agent"),
)
"""Console pages in the navigation drawer: (path, text key, Material icon). Only pages that exist."""

CJK_FONTS = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'


@dataclass
class Ctx:
    """What a page build knows: who, in which language, where."""

    request: Request
    settings: Settings
    store: Store
    user: UserRecord
    who: Principal
    lang: str
    path: str
    peer: str


def begin(request: Request, path: str) -> Ctx | Response:
    """Check the session for a console page: a redirect to login (or to the forced password change), or the context."""
    user = session_user(request)
    if user is None:
        return login_redirect(request)
    if user.must_change_password and path != "/password":
        return RedirectResponse("/password", status_code=303)
    lang = use_language(language_of(request))
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    return Ctx(request, settings, store, user, Principal(user, scope_of(store, user)), lang, path, client_ip(request))


def role_names(user: UserRecord, lang: str) -> str:
    idx = 0 if lang == "zh" else 1
    return "、".join(ROLES[r][idx] if r in ROLES else r for r in user.roles)


def frame(ctx: Ctx) -> None:
    """Header and navigation drawer of a console page."""
    ui.add_css(f"body {{ font-family: {CJK_FONTS}; }} .bogda-title {{ letter-spacing: 0.02em; }}")
    ui.query("html").props(f'lang="{"zh-CN" if ctx.lang == "zh" else "en"}"')
    with ui.header(elevated=True).classes("items-center bg-blue-9 text-white q-px-md"):
        ui.button(icon="menu", on_click=lambda: drawer.toggle()).props("flat round dense color=white").props(
            f'aria-label="{t("nav.menu")}"'
        )
        ui.label(TITLE).classes("bogda-title text-h6 text-weight-medium")
        ui.space()
        with ui.row().classes("items-center gap-1"):
            for code, name in LANGUAGES.items():
                target = f"/lang/{code}?next={quote(ctx.path, safe='/')}"
                link = ui.link(name, target).classes("text-white q-px-xs no-underline")
                if code == ctx.lang:
                    link.classes("text-weight-bold").props('aria-current="true"')
        ui.separator().props("vertical dark").classes("q-mx-sm")
        ui.icon("account_circle")
        ui.label(f"{ctx.user.display_name} · {role_names(ctx.user, ctx.lang)}").classes("bogda-user")
        ui.link(t("nav.password"), "/password").classes("text-white q-ml-md no-underline")
        ui.link(t("nav.logout"), "/logout").classes("text-white q-ml-md no-underline")
    drawer = ui.left_drawer(value=True, bordered=True).classes("bg-grey-1 q-pa-none").props("width=200")
    with drawer, ui.list().props("padding").classes("w-full"):
        for path, key, icon in NAV:
            with ui.item(on_click=lambda p=path: ui.navigate.to(p)).props(
                f'clickable {"active" if path == ctx.path else ""} active-class="bg-blue-1 text-blue-9"'
            ):
                with ui.item_section().props("avatar"):
                    ui.icon(icon)
                with ui.item_section():
                    ui.item_label(t(key))
    if without_area(ctx):
        with ui.row().classes("w-full items-center bg-red-1 text-red-10 q-pa-sm rounded-borders bogda-no-scope"):
            ui.icon("block")
            ui.label(t("banner.no_scope")).classes("text-weight-medium")


def without_area(ctx: Ctx) -> bool:
    """A console user who sees no place: not an administrator and no scope place set (auth.scope_of gives them the
    empty set, so every page is empty; the banner says why instead of leaving them to guess)."""
    return ctx.who.places is not None and not ctx.who.places and "enterprise_user" not in ctx.user.roles


def text_on(background: str) -> str:
    """Black or white, whichever contrasts more with the ``#RRGGBB`` background (WCAG 2.1 relative luminance): black
    on the AQI colours up to red, white on purple and maroon (重度、严重污染), where black text was unreadable.

    >>> [text_on(c) for c in ("#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#99004C", "#7E0023", "#BDBDBD")]
    ['#000000', '#000000', '#000000', '#000000', '#ffffff', '#ffffff', '#000000']
    """
    rgb = [int(background.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def simulated_banner(show: bool) -> None:
    """The 「演示数据为模拟数据」 notice when any site shown is simulated."""
    if show:
        with ui.row().classes("w-full items-center bg-amber-2 text-amber-10 q-pa-sm rounded-borders bogda-simulated"):
            ui.icon("science")
            ui.label(t("banner.simulated")).classes("text-weight-medium")


def root_page() -> None:
    @ui.page("/")
    def index(request: Request) -> Response:
        user = session_user(request)
        return RedirectResponse("/map" if user is not None else "/login", status_code=303)
