"""Login, sessions, rate limiting, logout, password change and their audit rows.

- The session is a cookie signed with ``Settings.secret_key()`` (Starlette's ``SessionMiddleware``, itsdangerous
  timestamp signature) that expires after ``web.session_hours``; it holds the user id and the chosen language.
  The console (NiceGUI, which reuses this cookie) and the REST API read the same session.
- Scripts call the API with HTTP Basic instead.
- Login attempts are limited per client IP and per login name to ``web.login_attempts_per_minute`` in any 60 s
  window (every form login counts; for HTTP Basic only failures count, so a working script is never throttled).
  The limiter lives in the process's memory: it protects one server process.
- Every login, failed login, throttled login, logout and password change is appended to the ``audit`` table.

Scopes (governance §3.12): a user sees their scope place and everything below it
(:func:`bogda.registry.places.descendants`); an administrator without a scope place sees everything; any other
user without a scope place sees nothing.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bogda.config import Settings
from bogda.registry.people import UserRecord, authenticate, change_password, get_user
from bogda.registry.places import descendants
from bogda.store import Store
from bogda.store.schema import audit
from bogda.timeutil import now_utc
from bogda.web.api.common import ApiError
from bogda.web.i18n import normalise

SESSION_COOKIE = "bogda_session"
WINDOW_S = 60.0


class RateLimiter:
    """At most ``limit`` hits per key in any ``window`` seconds (sliding window, in memory)."""

    def __init__(self, limit: int, window: float = WINDOW_S, clock: Any = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        q = self._hits[key]
        cutoff = self.clock() - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        """Whether any of ``keys`` has used up its attempts."""
        return any(len(self._recent(k)) >= self.limit for k in keys)

    def hit(self, *keys: str) -> None:
        now = self.clock()
        for k in keys:
            self._recent(k).append(now)
        if len(self._hits) > 10_000:  # forget idle keys so the table cannot grow without bound
            for k in [k for k, q in self._hits.items() if not q]:
                del self._hits[k]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limiter_keys(ip: str, login: str) -> tuple[str, str]:
    return f"ip:{ip}", f"login:{login.strip().lower()}"


def record_audit(
    store: Store,
    action: str,
    *,
    login: str | None,
    user_id: int | None = None,
    peer: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one row to the audit log (architecture §4: append-only log of every write by a person)."""
    with store.begin() as conn:
        conn.execute(
            audit.insert().values(
                at=now_utc(),
                user_id=user_id,
                login=(login or "")[:64] or None,
                action=action,
                target=target,
                detail=detail or {},
                peer=peer,
            )
        )


# --- who is asking -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """A logged-in user and the places they may see (``None`` = all)."""

    user: UserRecord
    places: frozenset[int] | None

    def sees(self, place_id: int | None) -> bool:
        return self.places is None or (place_id is not None and place_id in self.places)


def scope_of(store: Store, user: UserRecord) -> frozenset[int] | None:
    """Place ids visible to ``user`` (see the module docstring); ``None`` means every place."""
    if user.scope_place_id is None:
        return None if "admin" in user.roles else frozenset()
    return frozenset(descendants(store, user.scope_place_id))


def session_user(request: Request) -> UserRecord | None:
    """The active user of the request's session, if any."""
    uid = request.session.get("uid") if "session" in request.scope else None
    if not isinstance(uid, int):
        return None
    store: Store = request.app.state.store
    with store.engine.connect() as conn:
        user = get_user(conn, user_id=uid)
    return user if user is not None and user.active else None


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        login, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(401, "Authorization", "malformed HTTP Basic credentials", "header") from exc
    if not sep:
        raise ApiError(401, "Authorization", "malformed HTTP Basic credentials", "header")
    return login, password


class CredentialCache:
    """Recently verified HTTP Basic credentials → user id, for ``ttl`` seconds.

    argon2 verification costs about half a second of CPU on purpose; a script making many calls should not pay
    it every time. Entries are keyed by an HMAC of login and password (no plain password is kept), the user is
    re-read (still active?) on every hit, and a password change in this process empties the cache; a change made
    by another process takes effect here after at most ``ttl`` seconds.
    """

    def __init__(self, secret: str, ttl: float = 60.0, clock: Any = time.monotonic) -> None:
        self._secret = secret.encode()
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[bytes, tuple[float, int]] = {}

    def _key(self, login: str, password: str) -> bytes:
        return hmac.digest(self._secret, f"{login}\0{password}".encode(), "sha256")

    def get(self, login: str, password: str) -> int | None:
        hit = self._entries.get(self._key(login, password))
        if hit is None or hit[0] < self.clock():
            return None
        return hit[1]

    def put(self, login: str, password: str, user_id: int) -> None:
        if len(self._entries) > 1000:
            self._entries.clear()
        self._entries[self._key(login, password)] = (self.clock() + self.ttl, user_id)

    def clear(self) -> None:
        self._entries.clear()


def basic_user(request: Request) -> UserRecord | None:
    """The user named by HTTP Basic credentials; ``None`` without credentials; 401/429 when they fail."""
    creds = _basic_credentials(request)
    if creds is None:
        return None
    login, password = creds
    store: Store = request.app.state.store
    cache: CredentialCache = request.app.state.credential_cache
    if (uid := cache.get(login, password)) is not None:
        with store.engine.connect() as conn:
            cached = get_user(conn, user_id=uid)
        if cached is not None and cached.active:
            return cached
    limiter: RateLimiter = request.app.state.login_limiter
    ip = client_ip(request)
    keys = limiter_keys(ip, login)
    if limiter.blocked(*keys):
        record_audit(store, "login_throttled", login=login, peer=ip, detail={"via": "basic"})
        raise ApiError(429, "Authorization", "too many failed logins; wait a minute", "header")
    with store.engine.connect() as conn:
        user = authenticate(conn, login, password)
    if user is None:
        limiter.hit(*keys)
        record_audit(store, "login_failed", login=login, peer=ip, detail={"via": "basic"})
        raise ApiError(401, "Authorization", "wrong login or password", "header", headers=_CHALLENGE)
    cache.put(login, password, user.id)
    return user


_CHALLENGE = {"WWW-Authenticate": 'Basic realm="bogda", charset="UTF-8"'}


def require_user(request: Request) -> Principal:
    """FastAPI dependency: the logged-in user (session cookie or HTTP Basic), else 401."""
    user = session_user(request) or basic_user(request)
    if user is None:
        raise ApiError(
            401, "Authorization", "login required (session cookie or HTTP Basic)", "header", headers=_CHALLENGE
        )
    return Principal(user, scope_of(request.app.state.store, user))


# --- console login / logout / language ---------------------------------------------------------------------


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go to after login (never another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def language_of(request: Request) -> str:
    settings: Settings = request.app.state.settings
    lang = request.session.get("lang") if "session" in request.scope else None
    return normalise(lang, normalise(settings.language))


def login_redirect(request: Request) -> RedirectResponse:
    """Send an anonymous visitor of a console page to the login form, coming back afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    from bogda.web.ui.login import login_page

    if session_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return HTMLResponse(login_page(language_of(request), next_path=safe_next(next)))


@router.post("/login")
def login_submit(
    request: Request,
    login: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    from bogda.web.ui.login import login_page

    store: Store = request.app.state.store
    limiter: RateLimiter = request.app.state.login_limiter
    lang = language_of(request)
    ip = client_ip(request)
    login = login.strip()
    keys = limiter_keys(ip, login)
    if limiter.blocked(*keys):
        record_audit(store, "login_throttled", login=login, peer=ip, detail={"via": "form"})
        page = login_page(lang, next_path=safe_next(next), error="login.throttled", login=login)
        return HTMLResponse(page, status_code=429, headers={"Retry-After": str(int(WINDOW_S))})
    limiter.hit(*keys)
    with store.engine.connect() as conn:
        user = authenticate(conn, login, password) if login and password else None
    if user is None:
        record_audit(store, "login_failed", login=login, peer=ip, detail={"via": "form"})
        page = login_page(lang, next_path=safe_next(next), error="login.failed", login=login)
        return HTMLResponse(page, status_code=401)
    record_audit(store, "login", login=user.login, user_id=user.id, peer=ip, detail={"via": "form"})
    request.session.clear()
    request.session.update({"uid": user.id, "lang": lang, "since": int(time.time())})
    target = "/password" if user.must_change_password else safe_next(next)
    return RedirectResponse(target, status_code=303)


@router.api_route("/logout", methods=["GET", "POST"])
def logout(request: Request) -> Response:
    user = session_user(request)
    lang = language_of(request)
    if user is not None:
        record_audit(request.app.state.store, "logout", login=user.login, user_id=user.id, peer=client_ip(request))
    request.session.clear()
    request.session["lang"] = lang
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> Response:
    """Keep the chosen console language in the session and go back."""
    request.session["lang"] = normalise(code, language_of(request))
    return RedirectResponse(safe_next(next), status_code=303)


def change_own_password(
    store: Store, user: UserRecord, old: str, new: str, *, peer: str | None, cache: CredentialCache | None = None
) -> None:
    """Change ``user``'s password (registry rules) and audit the attempt; ``ValueError`` says why it failed."""
    try:
        with store.begin() as conn:
            change_password(conn, user.id, old, new)
    except ValueError as exc:
        record_audit(
            store, "password_change_failed", login=user.login, user_id=user.id, peer=peer, detail={"reason": str(exc)}
        )
        raise
    if cache is not None:
        cache.clear()
    record_audit(store, "password_change", login=user.login, user_id=user.id, peer=peer)
