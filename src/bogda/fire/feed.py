"""Helpers for the scheduled fire feed (fire.md §3.1, §6): FIRMS area-API requests, folder scanning, feed health.

The scheduler and the HTTP client live in the service/jobs layer; these functions only build requests, find new
files and decide when the feed is down. The MAP_KEY comes from configuration and must never be logged: use
:func:`redact` on anything that may contain it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from bogda.geo import EARTH_RADIUS_KM

FIRMS_BASE = "https://firms.modaps.eosdis.nasa.gov"
FIRMS_NRT_SOURCES = ("VIIRS_SNPP_NRT", "VIIRS_NOAA20_NRT", "VIIRS_NOAA21_NRT", "MODIS_NRT")
"""The four sources polled every 15 min (fire.md §3.1); ``*_SP`` for history."""

FILE_PATTERNS = ("*.csv", "*.json", "*.txt", "*.zip", "*.dbf", "*.xlsx", "*.TXT")
FILE_PATTERNS += ("*.HDF", "*.hdf", "*.NC", "*.nc", "*.h5")  # FY-3D / FY-4 HDF5 products


def poll_bbox(bounds: Sequence[float], margin_km: float = 50.0) -> tuple[float, float, float, float]:
    """Prefecture bounds (W, S, E, N) widened by ``margin_km`` [km], rounded outwards to 0.01°.

    >>> poll_bbox((85.58, 43.10, 91.57, 45.49), 50)
    (84.93, 42.65, 92.22, 45.94)
    """
    w, s, e, n = bounds
    dlat = float(np.degrees(margin_km / EARTH_RADIUS_KM))
    dlon = dlat / float(np.cos(np.radians(max(abs(s), abs(n)))))
    return (
        float(np.floor((w - dlon) * 100) / 100),
        float(np.floor((s - dlat) * 100) / 100),
        float(np.ceil((e + dlon) * 100) / 100),
        float(np.ceil((n + dlat) * 100) / 100),
    )


def firms_area_url(
    map_key: str,
    source: str,
    bbox: Sequence[float],
    days: int = 1,
    day: date | None = None,
    *,
    base: str = FIRMS_BASE,
) -> str:
    """FIRMS area-API CSV URL ``api/area/csv/{MAP_KEY}/{SOURCE}/{W,S,E,N}/{DAYS}[/{DATE}]`` (fire.md §2.4)."""
    if not 1 <= days <= 10:
        raise ValueError(f"FIRMS DAYS must be 1–10, not {days}")
    area = ",".join(f"{v:g}" for v in bbox)
    url = f"{base}/api/area/csv/{map_key}/{source}/{area}/{days}"
    return url + (f"/{day.isoformat()}" if day else "")


def redact(text: str, map_key: str) -> str:
    """Replace the MAP_KEY in a URL or message before it is logged or stored."""
    return text.replace(map_key, "***") if map_key else text


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of a raw file (the raw file is stored first, keyed by it: fire.md §3.1)."""
    return hashlib.sha256(data).hexdigest()


def scan_folder(
    folder: str | Path, seen: Iterable[str], patterns: Sequence[str] = FILE_PATTERNS
) -> list[tuple[Path, str]]:
    """Files in ``folder`` whose SHA-256 is not in ``seen`` (oldest first), for a polled drop folder.

    Returns
    -------
    list of (path, sha256)
    """
    known = set(seen)
    out: list[tuple[Path, str]] = []
    paths = {p for pattern in patterns for p in Path(folder).glob(pattern) if p.is_file()}
    for p in sorted(paths, key=lambda q: (q.stat().st_mtime, q.name)):
        digest = sha256_bytes(p.read_bytes())
        if digest not in known:
            known.add(digest)
            out.append((p, digest))
    return out


@dataclass(frozen=True)
class PollOutcome:
    """One poll of one source: when, and whether it returned a usable body."""

    at: datetime
    ok: bool


def feed_down(
    polls: Sequence[PollOutcome],
    now: datetime,
    *,
    max_failures: int = 3,
    max_quiet: timedelta = timedelta(hours=2),
) -> str | None:
    """Reason for a ``fire_feed_down`` alert, or None (fire.md §6: 3 failures in a row or no good poll for 2 h)."""
    ordered = sorted(polls, key=lambda p: p.at)
    run = 0
    for p in reversed(ordered):
        if p.ok:
            break
        run += 1
    if run >= max_failures:
        return f"{run} failed polls in a row"
    good = [p.at for p in ordered if p.ok]
    if not good:
        return "no successful poll yet" if ordered and now - ordered[0].at >= max_quiet else None
    if now - good[-1] >= max_quiet:
        return f"no good poll since {good[-1].isoformat()}"
    return None
