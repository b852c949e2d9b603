"""People and users: grid staff, duty officers, enforcement officers, enterprise staff; roles and place scopes.

Roles are the platform's seven (issue 6, governance §3.12); each user is scoped to a place (and an enterprise for
enterprise users). Passwords are argon2id-hashed. Permission checks themselves belong to the grid and web layers;
the registry only keeps who is who.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, select

from bogda.registry.devices import hash_password, verify_password
from bogda.store.schema import person, place, site, user
from bogda.timeutil import now_utc

ROLES: dict[str, tuple[str, str]] = {
    "admin": ("系统管理员", "administrator"),
    "prefecture_operator": ("州级调度员", "prefecture operator"),
    "county_operator": ("县级调度员", "county operator"),
    "grid_member": ("网格员", "grid member"),
    "enforcement_officer": ("执法人员", "enforcement officer"),
    "enterprise_user": ("企业用户", "enterprise user"),
    "viewer": ("只读用户", "viewer"),
}
DUTIES = (
    "grid_member",
    "grid_chief",
    "dispatcher",
    "specialist",
    "enforcement_officer",
    "leader",
    "clerk",
    "enterprise_staff",
)
_LOGIN = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class UserRecord:
    id: int
    login: str
    display_name: str
    roles: tuple[str, ...]
    scope_place_id: int | None
    scope_enterprise_id: int | None
    active: bool
    must_change_password: bool


def password_problem(password: str) -> str | None:
    """Why a new password is too weak, or ``None``.

    >>> password_problem("short"), password_problem("long enough 1")
    ('password must have at least 8 characters', None)
    """
    if len(password) < MIN_PASSWORD:
        return f"password must have at least {MIN_PASSWORD} characters"
    if password.isdigit() or password.isalpha():
        return "password must mix letters with digits or symbols"
    return None


def generate_password() -> str:
    """A random one-time password (16 characters of letters, digits, ``-`` and ``_``) that passes
    :func:`password_problem`."""
    while True:
        candidate = secrets.token_urlsafe(12)
        if password_problem(candidate) is None:
            return candidate


def add_person(conn: Connection, *, name: str, duty: str, place_id: int | None = None, phone: str | None = None) -> int:
    if duty not in DUTIES:
        raise ValueError(f"person {name}: unknown duty {duty!r}; expected one of {DUTIES}")
    return int(
        conn.execute(
            person.insert()
            .values(name=name, duty=duty, place_id=place_id, phone=phone, attrs={})
            .returning(person.c.id)
        ).scalar_one()
    )


def add_user(
    conn: Connection,
    *,
    login: str,
    password: str,
    roles: list[str],
    display_name: str = "",
    scope_place_id: int | None = None,
    scope_enterprise_id: int | None = None,
    person_id: int | None = None,
    must_change_password: bool = False,
) -> int:
    """Create a user; raises ``ValueError`` naming the field at fault."""
    if not _LOGIN.match(login):
        raise ValueError(f"login {login!r}: 2–64 letters, digits, '_', '.' or '-'")
    if problem := password_problem(password):
        raise ValueError(f"user {login}: {problem}")
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise ValueError(f"user {login}: unknown roles {unknown or roles}; expected some of {sorted(ROLES)}")
    if "enterprise_user" in roles and scope_enterprise_id is None:
        raise ValueError(f"user {login}: an enterprise user needs an enterprise scope")
    if (
        scope_place_id is not None
        and conn.execute(select(place.c.id).where(place.c.id == scope_place_id)).scalar() is None
    ):
        raise ValueError(f"user {login}: scope place {scope_place_id} does not exist")
    if (
        scope_enterprise_id is not None
        and conn.execute(
            select(site.c.id).where(site.c.id == scope_enterprise_id, site.c.kind == "enterprise")
        ).scalar()
        is None
    ):
        raise ValueError(f"user {login}: scope enterprise {scope_enterprise_id} does not exist")
    if conn.execute(select(user.c.id).where(user.c.login == login)).scalar() is not None:
        raise ValueError(f"user {login} already exists")
    now = now_utc()
    return int(
        conn.execute(
            user.insert()
            .values(
                login=login,
                pw_hash=hash_password(password),
                display_name=display_name or login,
                roles=roles,
                scope_place_id=scope_place_id,
                scope_enterprise_id=scope_enterprise_id,
                person_id=person_id,
                must_change_password=must_change_password,
                created_at=now,
                password_changed_at=now,
            )
            .returning(user.c.id)
        ).scalar_one()
    )


def _record(row: object) -> UserRecord:
    return UserRecord(
        row.id,
        row.login,
        row.display_name,
        tuple(row.roles or ()),
        row.scope_place_id,  # type: ignore[attr-defined]
        row.scope_enterprise_id,
        row.active,
        row.must_change_password,
    )  # type: ignore[attr-defined]


def get_user(conn: Connection, *, login: str | None = None, user_id: int | None = None) -> UserRecord | None:
    q = select(user)
    q = q.where(user.c.login == login) if login is not None else q.where(user.c.id == user_id)
    row = conn.execute(q).first()
    return None if row is None else _record(row)


def authenticate(conn: Connection, login: str, password: str) -> UserRecord | None:
    """The active user with this login and password, else ``None`` (same answer for unknown login and wrong
    password, so logins cannot be probed)."""
    row = conn.execute(select(user).where(user.c.login == login)).first()
    if row is None:
        verify_password(_DUMMY, password)  # spend the same time as a real check
        return None
    if not row.active or not verify_password(row.pw_hash, password):
        return None
    return _record(row)


def change_password(conn: Connection, user_id: int, old: str, new: str) -> None:
    row = conn.execute(select(user.c.pw_hash, user.c.login).where(user.c.id == user_id)).first()
    if row is None:
        raise ValueError(f"user {user_id} does not exist")
    if not verify_password(row.pw_hash, old):
        raise ValueError("current password is wrong")
    if problem := password_problem(new):
        raise ValueError(problem)
    if old == new:
        raise ValueError("new password must differ from the current one")
    conn.execute(
        user.update()
        .where(user.c.id == user_id)
        .values(pw_hash=hash_password(new), must_change_password=False, password_changed_at=now_utc())
    )


def reset_password(conn: Connection, login: str, new: str, *, must_change: bool = True) -> None:
    """Set a password by administrator action (the user must change it at next login by default)."""
    if problem := password_problem(new):
        raise ValueError(problem)
    n = conn.execute(
        user.update()
        .where(user.c.login == login)
        .values(pw_hash=hash_password(new), must_change_password=must_change, password_changed_at=now_utc())
    ).rowcount
    if not n:
        raise ValueError(f"user {login} does not exist")


_DUMMY = hash_password("not-a-real-password-0")
