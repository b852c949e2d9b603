"""Errors, actors and small store helpers shared by the grid services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, select

from bogda import audit
from bogda.grid.policy import Actor
from bogda.registry.people import ROLES
from bogda.store import Store
from bogda.store.schema import place, user, user_capability, user_place

T = TypeVar("T")

SYSTEM = Actor(user_id=None, login="system", roles=("system",), places=None)
"""The scheduler and routing: no permission checks, events carry actor ``system``."""


class GridError(Exception):
    """A refused request: ``status`` is the HTTP status, ``field`` the input at fault."""

    status = 400
    audit_action = "task.refused"

    def __init__(self, reason: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.extra = extra


class Forbidden(GridError):
    status = 403
    audit_action = "access.denied"


class Conflict(GridError):
    status = 409
    audit_action = "task.conflict"


class Invalid(GridError):
    status = 422
    audit_action = "task.invalid"


class NotFound(GridError):
    status = 404
    audit_action = "task.not_found"


class Refused(GridError):
    """An upload refused outright (413 / 415 / 422)."""

    audit_action = "evidence.refused"

    def __init__(self, reason: str, status: int, **extra: Any) -> None:
        super().__init__(reason, field="file", **extra)
        self.status = status


def run_audited(
    store: Store,
    actor: Actor,
    what: str,
    target: str,
    now: datetime,
    fn: Callable[[Connection], T],
    *,
    peer: str | None = None,
) -> T:
    """Run ``fn`` in one write transaction; a :class:`GridError` rolls it back and is audited on its own."""
    try:
        with store.begin() as conn:
            return fn(conn)
    except GridError as exc:
        if actor.user_id is not None or actor.login != "system":
            with store.begin() as conn:
                audit.record(
                    conn,
                    action=exc.audit_action,
                    user_id=actor.user_id,
                    login=actor.login,
                    target=target,
                    detail={"what": what, "reason": exc.reason, "status": exc.status, **_plain(exc.extra)},
                    peer=peer,
                    at=now,
                )
        raise


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()}


class PlaceTree:
    """Parent links and kinds of every place (read once; call :meth:`refresh` after registry edits)."""

    def __init__(self, conn: Connection) -> None:
        rows = conn.execute(select(place.c.id, place.c.parent_id, place.c.kind, place.c.level)).all()
        self.parent: dict[int, int | None] = {r.id: r.parent_id for r in rows}
        self.kind: dict[int, str] = {r.id: r.kind for r in rows}
        self.level: dict[int, int] = {r.id: r.level for r in rows}
        self.children: dict[int, list[int]] = {}
        for pid, par in self.parent.items():
            if par is not None:
                self.children.setdefault(par, []).append(pid)

    def chain(self, place_id: int | None) -> list[int]:
        """``place_id`` and its ancestors, lowest first."""
        out: list[int] = []
        while place_id is not None and place_id not in out:
            out.append(place_id)
            place_id = self.parent.get(place_id)
        return out

    def subtree(self, place_id: int) -> set[int]:
        out, stack = set(), [place_id]
        while stack:
            p = stack.pop()
            if p not in out:
                out.add(p)
                stack.extend(self.children.get(p, ()))
        return out

    def up_to_kind(self, place_id: int | None, kind: str) -> int | None:
        for p in self.chain(place_id):
            if self.kind.get(p) == kind:
                return p
        return None


def actor_for(conn: Connection, user_id: int, tree: PlaceTree | None = None) -> Actor:
    """The :class:`Actor` of a user: roles, place subtree, grid places (with descendants), capabilities."""
    row = conn.execute(select(user).where(user.c.id == user_id)).first()
    if row is None or not row.active:
        raise Forbidden(f"user {user_id} does not exist or is inactive")
    tree = tree or PlaceTree(conn)
    roles = tuple(r for r in (row.roles or ()) if r in ROLES)
    caps = frozenset(
        conn.execute(select(user_capability.c.capability).where(user_capability.c.user_id == user_id)).scalars()
    )
    places: frozenset[int] | None
    if row.scope_place_id is None:
        places = None if "admin" in roles else frozenset()
    else:
        places = frozenset(tree.subtree(row.scope_place_id))
    grid: set[int] = set()
    if "grid_member" in roles:
        extra = conn.execute(select(user_place.c.place_id).where(user_place.c.user_id == user_id)).scalars()
        for p in [row.scope_place_id, *extra]:
            if p is not None:
                grid |= tree.subtree(p)
    return Actor(
        user_id=row.id,
        login=row.login,
        roles=roles,
        scope_place_id=row.scope_place_id,
        places=places,
        grid_places=frozenset(grid),
        enterprise_id=row.scope_enterprise_id,
        capabilities=caps,
        sees_unplaced=places is None or tree.parent.get(row.scope_place_id or -1, -1) is None,
    )


def grant_capability(conn: Connection, user_id: int, capability: str, *, by: Actor, now: datetime) -> None:
    from bogda.grid.policy import CAPABILITIES

    if capability not in CAPABILITIES:
        raise Invalid(f"capability {capability!r}; expected one of {CAPABILITIES}", field="capability")
    conn.execute(user_capability.insert().values(user_id=user_id, capability=capability))
    audit.record(
        conn,
        action="user.capability",
        user_id=by.user_id,
        login=by.login,
        target=f"user:{user_id}",
        detail={"capability": capability},
        at=now,
    )


def add_grid_place(conn: Connection, user_id: int, place_id: int, *, by: Actor, now: datetime) -> None:
    conn.execute(user_place.insert().values(user_id=user_id, place_id=place_id))
    audit.record(
        conn,
        action="user.grid_place",
        user_id=by.user_id,
        login=by.login,
        target=f"user:{user_id}",
        detail={"place_id": place_id},
        at=now,
    )
