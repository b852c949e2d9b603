"""REST API under ``/api/v1`` (architecture §3): small routers with OpenAQ-style query classes."""

from __future__ import annotations

from fastapi import APIRouter

PREFIX = "/api/v1"


def api_router() -> APIRouter:
    """All API routes, to be included under :data:`PREFIX`."""
    # imported here: the routers depend on bogda.web.auth, which itself uses bogda.web.api.common
    from bogda.web.api import exports, findings, health, monitoring, places, sites, tasks

    router = APIRouter()
    for module in (health, places, sites, findings, tasks, monitoring, exports):
        router.include_router(module.router)
    return router
