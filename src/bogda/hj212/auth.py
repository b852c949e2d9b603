"""Device authentication for the gateway: registry snapshot, cached password checks, per-peer failure limits
(spec hj212.md §3.4; architecture §4 devices).

The registry keeps an argon2 hash per device; verifying one costs ~50 ms of CPU, so 10,000 devices reconnecting
after a network blip would cost minutes. :class:`Credentials` verifies a (MN, password) pair once, in a worker
thread, and remembers the success under a keyed BLAKE2 digest of the password (never the password itself); the
cache entry is dropped when the device's hash changes in the registry. Failures are never cached (a device may be
fixed), but :class:`FailureLimiter` refuses a peer address after too many failures in a window.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ConnectionRate", "Credentials", "DeviceInfo", "FailureLimiter", "ip_allowed", "parse_networks"]


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
    allowed_ips: tuple[str, ...] | None = None
    """Addresses or CIDR blocks the device may connect from (``attrs.hj212.allowed_ips`` of the device, else of its
    station/outlet, else of the enterprise above it); ``None``: any address."""
    heartbeat_reply: str | None = None
    """Per-device override of the gateway's ``heartbeat_reply`` (``none``, ``9014``, ``echo``)."""
    ack_policy: str = "flag"
    """When an upload gets its 9014 (spec §3.5): ``flag`` (Flag bit A), ``always``, ``never``."""
    on_connect: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    """First-connection commands after the time sync (spec §3.6, HJ 212-2017 §6.7): ``(cn, CP fields)`` in order,
    e.g. 1000 OverTime/ReCount, 1062 RtdInterval, 1064 MinInterval, 2011, 2021."""


log = logging.getLogger("bogda.hj212.auth")


@functools.lru_cache(maxsize=4096)
def parse_networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks of an ``allowed_ips`` list; an entry that is not an address or CIDR block is logged and matches
    nothing (a typo must not open the device to every address)."""
    out = []
    for entry in allowed:
        try:
            out.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            log.warning("allowed_ips entry %r is not an address or CIDR block: it matches nothing", entry)
    return tuple(out)


def ip_allowed(ip: str, allowed: tuple[str, ...] | None) -> bool:
    """Whether a peer address may authenticate as a device restricted to ``allowed`` (spec §3.4 ``allowed_ips``).

    >>> ip_allowed("10.1.2.3", ("10.1.0.0/16",)), ip_allowed("10.2.0.1", ("10.1.0.0/16", "192.168.1.7"))
    (True, False)
    >>> ip_allowed("::ffff:10.1.2.3", ("10.1.0.0/16",)), ip_allowed("1.2.3.4", None)
    (True, True)
    """
    if allowed is None:
        return True
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped  # a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d
    return any(addr.version == net.version and addr in net for net in parse_networks(allowed))


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
