"""Device authentication for the gateway: registry snapshot, cached password checks, per-peer failure limits
(spec hj212.md §3.4; architecture §4 devices).

The registry keeps an argon2 hash per device; verifying one costs ~50 ms of CPU, so 10,000 devices reconnecting
after a network blip would cost minutes. :class:`Credentials` verifies a (MN, password) pair once, in a worker
thread, and remembers the success under a keyed BLAKE2 digest of the password (never the password itself); the
cache entry is dropped when the device's hash changes in the registry. Failures are never cached (a device may be
fixed), but :class:`FailureLimiter` refuses a peer address after too many failures in a window.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Credentials", "DeviceInfo", "FailureLimiter"]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the gateway and the loader need of a registered device."""

    mn: str
    pw_hash: str
    site_id: int
    parent_id: int | None
    protocol: str
    st: str | None
    units: dict[str, str]
    mode: str = "lenient"
    crc_mode: str = "auto"
    pw_check: bool = True
    code_scheme: str = "2017"


class Credentials:
    """Registry snapshot plus a cache of successful password verifications.

    Parameters
    ----------
    load : callable
        ``load() -> {mn: DeviceInfo}``: reads the registry (called in a worker thread by the gateway).
    verify : callable
        ``verify(pw_hash, password) -> bool`` (argon2, :func:`bogda.registry.devices.verify_password`).
    """

    def __init__(
        self,
        load: Callable[[], dict[str, DeviceInfo]],
        verify: Callable[[str, str], bool],
    ) -> None:
        self._load = load
        self._verify = verify
        self._key = secrets.token_bytes(32)
        self.devices: dict[str, DeviceInfo] = {}
        self._ok: dict[str, tuple[str, bytes]] = {}  # mn -> (pw_hash, digest of the password verified)
        self.loaded_at = 0.0
        self.verifications = 0

    def refresh(self) -> None:
        """Reload the registry (blocking); cached verifications survive only if the hash is unchanged."""
        devices = self._load()
        self._ok = {mn: v for mn, v in self._ok.items() if mn in devices and devices[mn].pw_hash == v[0]}
        self.devices = devices
        self.loaded_at = time.monotonic()

    def _digest(self, password: str) -> bytes:
        return hashlib.blake2b(password.encode("utf-8"), key=self._key, digest_size=16).digest()

    def cached(self, mn: str, password: str) -> bool | None:
        """``True`` when this pair verified before (no argon2 needed), ``None`` when it must be verified."""
        dev = self.devices.get(mn)
        hit = self._ok.get(mn)
        if dev is None or hit is None or hit[0] != dev.pw_hash:
            return None
        return True if secrets.compare_digest(hit[1], self._digest(password)) else None

    def verify(self, mn: str, password: str) -> bool:
        """Blocking argon2 check (run it in a worker thread); remembers a success."""
        dev = self.devices.get(mn)
        if dev is None:
            return False
        self.verifications += 1
        ok = self._verify(dev.pw_hash, password)
        if ok:
            self._ok[mn] = (dev.pw_hash, self._digest(password))
        return ok


class FailureLimiter:
    """At most ``max_failures`` authentication failures per peer address in ``window_s``; beyond that the peer is
    refused until its failures age out (spec §3.4, ``max_conn_per_ip_per_min`` in the same spirit)."""

    def __init__(self, max_failures: int = 5, window_s: float = 60.0, exempt: tuple[str, ...] = ()) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.exempt = frozenset(exempt)
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, ip: str, now: float) -> deque[float] | None:
        q = self._fails.get(ip)
        if q is None:
            return None
        while q and now - q[0] > self.window_s:
            q.popleft()
        if not q:
            del self._fails[ip]
            return None
        return q

    def blocked(self, ip: str, now: float | None = None) -> bool:
        if ip in self.exempt:
            return False
        q = self._recent(ip, time.monotonic() if now is None else now)
        return q is not None and len(q) >= self.max_failures

    def fail(self, ip: str, now: float | None = None) -> bool:
        """Count one failure; returns whether the peer is now blocked."""
        now = time.monotonic() if now is None else now
        self._fails.setdefault(ip, deque()).append(now)
        return self.blocked(ip, now)


class ConnectionRate:
    """At most ``per_minute`` new connections per peer address (spec §3.1 ``max_conn_per_ip_per_min``)."""

    def __init__(self, per_minute: int = 30, exempt: tuple[str, ...] = ()) -> None:
        self.per_minute = per_minute
        self.exempt = frozenset(exempt)
        self._seen: dict[str, deque[float]] = {}

    def allow(self, ip: str, now: float | None = None) -> bool:
        if ip in self.exempt or self.per_minute <= 0:
            return True
        now = time.monotonic() if now is None else now
        q = self._seen.setdefault(ip, deque())
        while q and now - q[0] > 60.0:
            q.popleft()
        if len(q) >= self.per_minute:
            return False
        q.append(now)
        return True
