"""Photo evidence of grid tasks (governance.md §3.5): type and size checks, EXIF time and GPS, location and
time checks against the task, SHA-256 content addressing, storage under the data directory.

Photos are kept immutable, content-addressed by SHA-256. A photo that fails a check is kept with flags
``no_exif_time, no_gps, outside_area, before_sign, hash_reused`` (plus ``after_upload``: a capture time later than
the upload, i.e. a forged clock); a transition needing evidence is blocked only if no photo passes [D]. A file
whose bytes are not the declared type, or too large, is refused outright (it is not a photo).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from bogda.geo import gcj02_to_wgs84, haversine_km
from bogda.grid.exif import ExifInfo, read_exif

MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}
EXTENSION = {"image/jpeg": "jpg", "image/png": "png"}
STAGES = ("site", "before", "after")
COORD_SYSTEMS = ("wgs84", "gcj02", "bd09")
FAIL_FLAGS = ("no_exif_time", "no_gps", "outside_area", "before_sign", "hash_reused", "after_upload")


@dataclass(frozen=True)
class EvidenceLimits:
    """[D] limits: bytes, accepted types, distance and clock skew."""

    max_bytes: int = 10 * 1024 * 1024
    min_bytes: int = 64
    types: tuple[str, ...] = ("image/jpeg", "image/png")
    radius_m: float = 500.0
    skew: timedelta = timedelta(minutes=10)


class UploadRefused(ValueError):
    """Not accepted as evidence at all; ``status`` is the HTTP status (413 too large, 415 wrong type)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are, by magic number.

    >>> sniff(b"\\xff\\xd8\\xff\\xe0rest"), sniff(b"GIF89a")
    ('image/jpeg', None)
    """
    for ctype, magics in MAGIC.items():
        if any(data.startswith(m) for m in magics):
            return ctype
    return None


def check_bytes(data: bytes, declared: str, limits: EvidenceLimits) -> str:
    """Refuse oversize, empty or mistyped uploads; returns the content type."""
    declared = (declared or "").split(";")[0].strip().lower()
    if len(data) > limits.max_bytes:
        raise UploadRefused(413, f"file of {len(data)} bytes exceeds the limit of {limits.max_bytes} bytes")
    if len(data) < limits.min_bytes:
        raise UploadRefused(422, f"file of {len(data)} bytes is too small to be a photo")
    if declared not in limits.types:
        raise UploadRefused(415, f"type {declared or 'none'!r} not accepted; expected one of {limits.types}")
    real = sniff(data)
    if real != declared:
        raise UploadRefused(415, f"declared {declared} but the bytes are {real or 'not an accepted image'} (forged?)")
    return declared


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Baidu BD-09 → GCJ-02 (the published inverse of Baidu's offset)."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * math.pi * 3000 / 180)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * math.pi * 3000 / 180)
    return z * math.cos(theta), z * math.sin(theta)


def to_wgs84(lon: float, lat: float, coord_sys: str) -> tuple[float, float]:
    """Photo coordinates in WGS-84 (phone SDKs often give GCJ-02 or BD-09)."""
    if coord_sys == "wgs84":
        return lon, lat
    if coord_sys == "bd09":
        lon, lat = bd09_to_gcj02(lon, lat)
    elif coord_sys != "gcj02":
        raise ValueError(f"coord_sys {coord_sys!r}; expected one of {COORD_SYSTEMS}")
    x, y = gcj02_to_wgs84(lon, lat)
    return float(x), float(y)


def distance_to_area_m(
    lon: float, lat: float, point: tuple[float, float] | None, geometry: dict[str, Any] | None
) -> float | None:
    """Metres from the photo to the task: the nearer of the task point and the grid polygon (0 inside)."""
    best: float | None = None
    if point is not None:
        best = float(haversine_km(lon, lat, point[0], point[1])) * 1000.0
    if geometry:
        geom = shape(geometry)
        p = shapely.points(lon, lat)
        if geom.contains(p):
            return 0.0
        near = shapely.shortest_line(p, geom).coords[-1]
        d = float(haversine_km(lon, lat, near[0], near[1])) * 1000.0
        best = d if best is None else min(best, d)
    return best


@dataclass
class PhotoCheck:
    """What the checks found on one photo (WGS-84 coordinates)."""

    taken_at: datetime | None
    lon: float | None
    lat: float | None
    coord_sys: str | None
    device: str | None
    flags: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f in FAIL_FLAGS for f in self.flags)


def check_photo(
    info: ExifInfo,
    *,
    uploaded_at: datetime,
    signed_at: datetime | None,
    task_point: tuple[float, float] | None,
    task_geometry: dict[str, Any] | None,
    hash_on_other_task: bool,
    limits: EvidenceLimits,
    stamp: dict[str, Any] | None = None,
) -> PhotoCheck:
    """Flags of a photo per §3.5; ``stamp`` is the app's own time/GPS stamp used where EXIF lacks them."""
    stamp = stamp or {}
    flags: list[str] = []
    taken = info.taken_at or stamp.get("taken_at")
    lon, lat, cs = info.lon, info.lat, "wgs84"
    if info.datum and "GCJ" in info.datum.upper():
        cs = "gcj02"
    if lon is None and stamp.get("lon") is not None and stamp.get("lat") is not None:
        lon, lat, cs = float(stamp["lon"]), float(stamp["lat"]), str(stamp.get("coord_sys") or "wgs84")
    if taken is None:
        flags.append("no_exif_time")
    else:
        if signed_at is not None and taken < signed_at - limits.skew:
            flags.append("before_sign")
        if taken > uploaded_at + limits.skew:
            flags.append("after_upload")
    if lon is None or lat is None:
        flags.append("no_gps")
    else:
        lon, lat = to_wgs84(lon, lat, cs)
        d = distance_to_area_m(lon, lat, task_point, task_geometry)
        if d is not None and d > limits.radius_m:
            flags.append("outside_area")
    if hash_on_other_task:
        flags.append("hash_reused")
    device = " ".join(x for x in (info.make, info.model) if x) or stamp.get("device")
    return PhotoCheck(taken, lon, lat, cs if lon is not None else None, device, flags)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_file(data_dir: Path, digest: str, content_type: str, data: bytes) -> str:
    """Write the bytes once under ``data_dir/evidence/ab/<sha256>.<ext>``; returns the relative path."""
    rel = Path("evidence") / digest[:2] / f"{digest}.{EXTENSION[content_type]}"
    path = Path(data_dir) / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return rel.as_posix()


def read_photo(data: bytes) -> ExifInfo:
    """EXIF of a JPEG; PNGs carry none here (their time/GPS must come from the app stamp)."""
    return read_exif(data) if data.startswith(b"\xff\xd8") else ExifInfo(error="no EXIF block")
