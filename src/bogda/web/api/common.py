"""Shared pieces of the REST API: the OpenAQ-style envelope, paging, error bodies, time stamps, the place tree.

Every non-GeoJSON list answers ``{"meta": {"name", "website", "page", "limit", "found"}, "results": [...]}``
(the shape of the OpenAQ API v2). Every error answers ``{"detail": <summary>, "errors": [{"field", "in",
"reason"}]}`` so a script can tell which parameter was wrong and why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException

from bogda.store import Store
from bogda.store.schema import place
from bogda.timeutil import to_beijing

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class JSON(JSONResponse):
    """JSON with Chinese text left readable (UTF-8, not ``\\uXXXX`` escapes)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


class ApiError(HTTPException):
    """An HTTP error naming the field at fault (``in`` is ``query``, ``path``, ``header``, ``body`` …)."""

    def __init__(self, status: int, field: str, reason: str, where: str = "query", **kwargs: Any) -> None:
        super().__init__(status, detail=reason, **kwargs)
        self.field = field
        self.where = where


@dataclass
class Paging:
    """``page`` (from 1) and ``limit`` (1 … 1000) query parameters."""

    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def paging(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Results per page (at most 1000).")] = DEFAULT_LIMIT,
) -> Paging:
    return Paging(page, limit)


def envelope(results: Sequence[Any], paging: Paging, found: int) -> dict[str, Any]:
    """The OpenAQ-style answer of a list endpoint."""
    return {
        "meta": {"name": "bogda", "website": "/", "page": paging.page, "limit": paging.limit, "found": found},
        "results": list(results),
    }


def stamp(ts: datetime | None) -> dict[str, str] | None:
    """A time as ``{"utc": ISO 8601 with Z, "local": Beijing ISO 8601}`` (OpenAQ's datetime object)."""
    if ts is None:
        return None
    return {"utc": ts.isoformat().replace("+00:00", "Z"), "local": to_beijing(ts).isoformat()}


def store_of(request: Request) -> Store:
    return request.app.state.store


# --- the place tree ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceNode:
    id: int
    code: str
    name: str
    name_en: str | None
    kind: str
    level: int
    parent_id: int | None


class PlaceTree:
    """The place hierarchy without geometry (ids, codes, names, parents), read once per request.

    Used to name a site's county and to resolve ``place`` parameters given as an id or a code.
    """

    def __init__(self, store: Store) -> None:
        cols = (place.c.id, place.c.code, place.c.name, place.c.name_en, place.c.kind, place.c.level)
        with store.engine.connect() as conn:
            rows = conn.execute(select(*cols, place.c.parent_id)).all()
        self.nodes: dict[int, PlaceNode] = {r.id: PlaceNode(*r) for r in rows}
        self.by_code: dict[str, int] = {n.code: n.id for n in self.nodes.values()}

    def resolve(self, ref: str, field: str = "place") -> int:
        """The id of the place given by id or code; :class:`ApiError` 404 naming ``field`` otherwise."""
        if ref.isdigit() and int(ref) in self.nodes:
            return int(ref)
        if ref in self.by_code:
            return self.by_code[ref]
        raise ApiError(404, field, f"no place with id or code {ref!r}")

    def up_to(self, place_id: int | None, kind: str) -> PlaceNode | None:
        """The first place of ``kind`` at or above ``place_id``."""
        seen: set[int] = set()
        while place_id is not None and place_id not in seen:
            seen.add(place_id)
            node = self.nodes.get(place_id)
            if node is None:
                return None
            if node.kind == kind:
                return node
            place_id = node.parent_id
        return None


def place_ref(node: PlaceNode | None) -> dict[str, Any] | None:
    if node is None:
        return None
    return {"id": node.id, "code": node.code, "name": node.name, "name_en": node.name_en, "kind": node.kind}


# --- error bodies ------------------------------------------------------------------------------------------


def _loc_field(loc: Sequence[Any]) -> tuple[str, str]:
    where = str(loc[0]) if loc else "body"
    rest = [str(x) for x in loc[1:]]
    return (".".join(rest) or where), where


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming each bad parameter (replaces FastAPI's default validation body)."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        field, where = _loc_field(err.get("loc", ()))
        item = {"field": field, "in": where, "reason": err.get("msg", "invalid")}
        if "input" in err and isinstance(err["input"], str | int | float):
            item["input"] = err["input"]
        errors.append(item)
    names = ", ".join(e["field"] for e in errors)
    return JSON({"detail": f"invalid parameter: {names}", "errors": errors}, status_code=422)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Any HTTP error as ``{"detail", "errors"}``; :class:`ApiError` names its field."""
    assert isinstance(exc, StarletteHTTPException)
    reason = str(exc.detail)
    if isinstance(exc, ApiError):
        errors = [{"field": exc.field, "in": exc.where, "reason": reason}]
    else:
        errors = [{"field": None, "in": None, "reason": reason}]
    return JSON({"detail": reason, "errors": errors}, status_code=exc.status_code, headers=exc.headers)
