"""The bogda web application: REST API under ``/api/v1`` and the NiceGUI operator console on one FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

import bogda
from bogda.config import Settings, get_settings
from bogda.store import Store, connect
from bogda.web import auth
from bogda.web.api import PREFIX, api_router
from bogda.web.api.common import JSON, http_error, validation_error

API_DESCRIPTION = """\
REST API of bogda. Lists answer `{"meta": {...}, "results": [...]}` (OpenAQ-style) with `page`/`limit`
(limit ≤ 1000); `/places` answers GeoJSON (WGS-84). Errors answer `{"detail", "errors": [{"field", "in",
"reason"}]}`. Log in with the console's session cookie or HTTP Basic; `/health` is public.
"""


def create_app(settings: Settings | None = None, store: Store | None = None, *, console: bool = True) -> FastAPI:
    """Build the web application.

    Parameters
    ----------
    settings : Settings, optional
        Default: the process settings (:func:`bogda.config.get_settings`).
    store : Store, optional
        Default: the store at ``settings.database_url`` (migrated).
    console : bool
        Mount the NiceGUI console (NiceGUI keeps process-wide state, so one console per process; API tests
        build the app without it).
    """
    settings = settings or get_settings()
    store = store or connect(settings.database_url)
    app = FastAPI(
        title="bogda",
        version=bogda.__version__,
        description=API_DESCRIPTION,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI loads its scripts from a CDN; bureaus run on closed networks
        redoc_url=None,
        default_response_class=JSON,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.login_limiter = auth.RateLimiter(settings.web.login_attempts_per_minute)
    app.state.credential_cache = auth.CredentialCache(settings.secret_key())
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key(),
        session_cookie=auth.SESSION_COOKIE,
        max_age=settings.web.session_hours * 3600,
        same_site="lax",
        https_only=False,
    )
    app.include_router(api_router(), prefix=PREFIX)
    app.include_router(auth.router)
    from bogda.web.api import enforcement as enforcement_api

    app.include_router(enforcement_api.router, prefix=PREFIX)
    from bogda.web.api import fire as fire_api

    app.include_router(fire_api.router, prefix=PREFIX)
    from bogda.web.api import forecast as forecast_api

    app.include_router(forecast_api.router, prefix=PREFIX)
    from bogda.web.api import forecast_publication as forecast_publication_api

    app.include_router(forecast_publication_api.router, prefix=PREFIX)  # the duty forecaster's daily publication
    from bogda.web.api import ledger as ledger_api

    app.include_router(ledger_api.router, prefix=PREFIX)
    from bogda.web.api import devices as devices_api

    app.include_router(devices_api.router, prefix=PREFIX)
    from bogda.web.api import bigscreen as bigscreen_api
    from bogda.web.api import bigscreen_progress as bigscreen_progress_api

    app.include_router(bigscreen_api.router, prefix=PREFIX)  # the big screen's figures, by the user's area
    app.include_router(bigscreen_progress_api.router, prefix=PREFIX)
    from bogda.web.api import duty as duty_api

    app.include_router(duty_api.router, prefix=PREFIX)  # the duty officer's desk: inbox, dispatch, shift report
    from bogda.web.api import tracing as tracing_api

    app.include_router(tracing_api.router, prefix=PREFIX)  # PMF source-apportionment runs and their adoption
    from bogda.web import public

    app.include_router(public.router)  # the public AQI page: no login, no console session
    app.add_middleware(public.CachedAnswers, store=store)  # polled answers from memory, before routing
    if console:
        from bogda.web.ui import bigscreen as _bigscreen  # noqa: F401  (registers the big screen)
        from bogda.web.ui import devices as _devices_page  # noqa: F401  (registers the data loggers page)
        from bogda.web.ui import duty as _duty_page  # noqa: F401  (registers the duty officer's desk)
        from bogda.web.ui import enforcement as _enforcement_pages  # noqa: F401  (registers the clue pages)
        from bogda.web.ui import fire as _fire_page  # noqa: F401  (registers the fire page)
        from bogda.web.ui import forecast as _forecast_page  # noqa: F401  (registers the forecast page)
        from bogda.web.ui import forecast_checks as _forecast_checks  # noqa: F401  (registers an evaluation's checks)
        from bogda.web.ui import forecast_shares as _forecast_shares  # noqa: F401  (registers the source shares)
        from bogda.web.ui import ledger as _ledger_pages  # noqa: F401  (registers the ledger pages)
        from bogda.web.ui import mount_console
        from bogda.web.ui import tracing_page as _tracing_page  # noqa: F401  (registers the PMF runs page)

        mount_console(app, settings, store)
    return app
