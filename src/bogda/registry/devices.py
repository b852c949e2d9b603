"""Devices: HJ 212 data loggers identified by MN and authenticated by password (hj212.md, architecture §4).

The registry keeps only an argon2 hash of each device password. The gateway verifies the password a device
presents when it connects and keeps that plaintext in memory for the connection's life, to sign the commands it
sends back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, select

from bogda.registry.sites import SiteInput, add_site
from bogda.store.schema import device, site

PROTOCOLS = ("2005", "2017", "2025")
_MN = re.compile(r"^[0-9A-Za-z\-]{1,24}$")
_hasher = PasswordHasher()


def mn_problem(mn: str) -> str | None:
    """Why ``mn`` is not a usable device id (HJ 212-2017 §6.3.2: up to 24 characters), or ``None``.

    >>> mn_problem("88888880000001"), mn_problem("bad mn")
    (None, 'MN must be 1–24 letters, digits or hyphens')
    """
    return None if _MN.match(mn) else "MN must be 1–24 letters, digits or hyphens"


def hash_password(password: str) -> str:
    """argon2id hash of a password (devices and people alike)."""
    return _hasher.hash(password)


def verify_password(pw_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``pw_hash``; never raises on a wrong or malformed hash."""
    try:
        return _hasher.verify(pw_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class DeviceRecord:
    site_id: int
    mn: str
    pw_hash: str
    protocol: str
    st: str | None
    parent_id: int | None
    units: dict[str, str]


def add_device(
    conn: Connection,
    *,
    mn: str,
    password: str,
    parent_id: int,
    protocol: str = "2017",
    st: str | None = None,
    units: dict[str, str] | None = None,
    name: str | None = None,
    simulated: bool = False,
) -> int:
    """Register a data logger reporting for station/outlet ``parent_id``; returns the device's site id.

    ``units`` maps parameter codes to the unit the device sends (the protocol carries none, hj212.md).
    """
    if problem := mn_problem(mn):
        raise ValueError(f"device {mn!r}: {problem}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"device {mn}: protocol must be one of {PROTOCOLS}, not {protocol!r}")
    if not password:
        raise ValueError(f"device {mn}: password is required")
    if conn.execute(select(device.c.site_id).where(device.c.mn == mn)).scalar() is not None:
        raise ValueError(f"device {mn} already registered")
    parent = conn.execute(select(site.c.lon, site.c.lat, site.c.place_id).where(site.c.id == parent_id)).first()
    if parent is None:
        raise ValueError(f"device {mn}: parent site {parent_id} does not exist")
    sid = add_site(
        conn,
        SiteInput(
            kind="device",
            code=mn,
            name=name or f"数采仪 {mn}",
            lon=parent.lon,
            lat=parent.lat,
            place_id=parent.place_id,
            parent_id=parent_id,
            simulated=simulated,
        ),
    )
    conn.execute(
        device.insert().values(
            site_id=sid, mn=mn, pw_hash=hash_password(password), protocol=protocol, st=st, units=units or {}
        )
    )
    return sid


def get_device(conn: Connection, mn: str) -> DeviceRecord | None:
    row = conn.execute(
        select(device, site.c.parent_id).join(site, site.c.id == device.c.site_id).where(device.c.mn == mn)
    ).first()
    if row is None:
        return None
    return DeviceRecord(row.site_id, row.mn, row.pw_hash, row.protocol, row.st, row.parent_id, row.units or {})


def set_device_password(conn: Connection, mn: str, password: str) -> None:
    if not password:
        raise ValueError(f"device {mn}: password is required")
    n = conn.execute(device.update().where(device.c.mn == mn).values(pw_hash=hash_password(password))).rowcount
    if not n:
        raise ValueError(f"device {mn} is not registered")
