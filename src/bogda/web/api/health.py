"""``GET /api/v1/health``: is the database reachable; version; server time (public)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

import bogda
from bogda.timeutil import now_utc
from bogda.web.api.common import JSON, stamp, store_of

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service health (no login needed)")
def health(request: Request) -> JSON:
    store = store_of(request)
    db: dict[str, Any] = {"dialect": store.dialect}
    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
        db["reachable"] = True
    except Exception as exc:  # any driver error means "not reachable"; say which
        db.update(reachable=False, error=f"{exc.__class__.__name__}: {exc}"[:300])
    body = {
        "status": "ok" if db["reachable"] else "degraded",
        "name": "bogda",
        "version": bogda.__version__,
        "time": stamp(now_utc()),
        "database": db,
    }
    return JSON(body, status_code=200 if db["reachable"] else 503)
