"""The NiceGUI operator console: login, map, stations, findings, password change.

NiceGUI keeps one global application per process; :func:`mount_console` gives it bogda's settings and store and
mounts it on the FastAPI app, after the API and login routes. The console reads the same signed session cookie
as the API (see :mod:`bogda.web.auth`).
"""

from __future__ import annotations

from fastapi import FastAPI

from bogda.config import Settings
from bogda.store import Store

TITLE = "bogda 生态环境监管指挥调度平台"
_mounted: list[FastAPI] = []


def mount_console(app: FastAPI, settings: Settings, store: Store) -> None:
    """Register the console pages and mount NiceGUI on ``app`` (once per process)."""
    if _mounted:
        raise RuntimeError("the NiceGUI console can be mounted once per process (NiceGUI state is global)")
    from nicegui import app as nicegui_app
    from nicegui import ui
    from nicegui.storage import Storage

    # console pages run inside NiceGUI's own FastAPI app: give it what the auth helpers read from request.app
    nicegui_app.state.settings = settings
    nicegui_app.state.store = store
    nicegui_app.state.login_limiter = app.state.login_limiter
    nicegui_app.state.credential_cache = app.state.credential_cache
    Storage.path = (settings.data_dir / "nicegui").resolve()

    from bogda.web.ui import (  # noqa: F401  (registers pages)
        findings_page,
        grid_member,
        kpi,
        map_page,
        monitoring,
        password_page,
        stations_page,
        tasks,
    )

    ui.run_with(
        app,
        title=TITLE,
        storage_secret=settings.secret_key(),
        language="zh-CN",
        show_welcome_message=False,
        reconnect_timeout=10.0,
    )
    _mounted.append(app)
