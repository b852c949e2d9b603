"""A small, pure reader (and test writer) of the EXIF fields evidence needs: time, offset, GPS, camera.

JPEG APP1 ``Exif\\0\\0`` → TIFF header (``II``/``MM``) → IFD0 (Make 0x010F, Model 0x0110, DateTime 0x0132,
Exif IFD pointer 0x8769, GPS IFD pointer 0x8825) → Exif IFD (DateTimeOriginal 0x9003, OffsetTimeOriginal 0x9011)
and GPS IFD (LatitudeRef 1, Latitude 2, LongitudeRef 3, Longitude 4 as three RATIONALs degrees/minutes/seconds,
MapDatum 18). Exif 2.32 (CIPA DC-008-2019) §4.6. Malformed input never raises: what cannot be read stays None
and ``error`` says why.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}


@dataclass(frozen=True)
class ExifInfo:
    taken_at: datetime | None = None  # aware; offset from OffsetTimeOriginal, else the default (UTC+8)
    offset_given: bool = False
    lon: float | None = None
    lat: float | None = None
    datum: str | None = None
    make: str | None = None
    model: str | None = None
    error: str | None = None


def _app1_tiff(data: bytes) -> bytes | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no metadata after this
            return None
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 2 if marker != 0xFF else 1
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        seg = data[i + 4 : i + 2 + length]
        if marker == 0xE1 and seg.startswith(b"Exif\x00\x00"):
            return seg[6:]
        i += 2 + length
    return None


class _Tiff:
    def __init__(self, buf: bytes) -> None:
        if buf[:2] == b"II":
            self.e = "<"
        elif buf[:2] == b"MM":
            self.e = ">"
        else:
            raise ValueError("TIFF header has no byte order")
        if struct.unpack(self.e + "H", buf[2:4])[0] != 42:
            raise ValueError("TIFF magic is not 42")
        self.buf = buf
        self.ifd0 = struct.unpack(self.e + "I", buf[4:8])[0]

    def ifd(self, offset: int) -> dict[int, object]:
        buf, e = self.buf, self.e
        if offset + 2 > len(buf):
            raise ValueError(f"IFD offset {offset} beyond the segment")
        (n,) = struct.unpack(e + "H", buf[offset : offset + 2])
        out: dict[int, object] = {}
        for k in range(min(n, 512)):
            p = offset + 2 + 12 * k
            if p + 12 > len(buf):
                break
            tag, typ, count = struct.unpack(e + "HHI", buf[p : p + 8])
            size = _TYPE_SIZE.get(typ)
            if size is None or count > 1 << 16:
                continue
            total = size * count
            if total <= 4:
                raw = buf[p + 8 : p + 8 + total]
            else:
                (vo,) = struct.unpack(e + "I", buf[p + 8 : p + 12])
                if vo + total > len(buf):
                    continue
                raw = buf[vo : vo + total]
            out[tag] = self._value(typ, count, raw)
        return out

    def _value(self, typ: int, count: int, raw: bytes) -> object:
        e = self.e
        if typ == 2:
            return raw.split(b"\x00", 1)[0].decode("ascii", "replace").strip()
        if typ in (1, 7):
            return raw
        if typ == 3:
            return struct.unpack(e + "H" * count, raw)
        if typ == 4:
            return struct.unpack(e + "I" * count, raw)
        if typ == 9:
            return struct.unpack(e + "i" * count, raw)
        fmt = "I" if typ == 5 else "i"
        vals = struct.unpack(e + fmt * (2 * count), raw)
        return tuple(vals[j] / vals[j + 1] if vals[j + 1] else float("nan") for j in range(0, len(vals), 2))


def _dms(value: object, ref: object, neg: str) -> float | None:
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    d, m, s = (float(v) for v in value)
    deg = d + m / 60 + s / 3600
    if deg != deg:  # NaN from a zero denominator
        return None
    return -deg if str(ref or "").upper().startswith(neg) else deg


def _offset(text: object) -> timezone | None:
    if not isinstance(text, str) or len(text) < 6 or text[0] not in "+-":
        return None
    try:
        h, m = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    delta = timedelta(hours=h, minutes=m)
    return timezone(delta if text[0] == "+" else -delta)


def read_exif(data: bytes, *, default_offset: timezone = timezone(timedelta(hours=8))) -> ExifInfo:
    """The evidence fields of a JPEG's EXIF block; times without OffsetTimeOriginal are read as UTC+8 [D]."""
    tiff = _app1_tiff(data)
    if tiff is None:
        return ExifInfo(error="no EXIF block")
    try:
        t = _Tiff(tiff)
        ifd0 = t.ifd(t.ifd0)
        exif = t.ifd(int(ifd0[0x8769][0])) if 0x8769 in ifd0 else {}  # type: ignore[index]
        gps = t.ifd(int(ifd0[0x8825][0])) if 0x8825 in ifd0 else {}  # type: ignore[index]
    except (ValueError, struct.error, IndexError, TypeError) as exc:
        return ExifInfo(error=f"EXIF unreadable: {exc}")
    taken = None
    off = _offset(exif.get(0x9011))
    text = exif.get(0x9003) or ifd0.get(0x0132)
    if isinstance(text, str):
        try:
            taken = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").replace(tzinfo=off or default_offset)
        except ValueError:
            taken = None
    lat = _dms(gps.get(2), gps.get(1), "S")
    lon = _dms(gps.get(4), gps.get(3), "W")
    if lat is None or lon is None:
        lat = lon = None
    datum = gps.get(18) if isinstance(gps.get(18), str) else None
    make = ifd0.get(0x010F) if isinstance(ifd0.get(0x010F), str) else None
    model = ifd0.get(0x0110) if isinstance(ifd0.get(0x0110), str) else None
    return ExifInfo(taken, off is not None, lon, lat, datum, make, model)


# --- writer (tests, demo data) ------------------------------------------------------------------------------------


def _ifd_bytes(entries: list[tuple[int, int, int, bytes]], start: int, e: str) -> bytes:
    """One IFD at absolute TIFF offset ``start``: entries ``(tag, type, count, payload)``; payloads > 4 bytes
    follow the IFD."""
    head = struct.pack(e + "H", len(entries))
    data_off = start + 2 + 12 * len(entries) + 4
    body, extra = b"", b""
    for tag, typ, count, payload in sorted(entries):
        if len(payload) <= 4:
            body += struct.pack(e + "HHI", tag, typ, count) + payload.ljust(4, b"\x00")
        else:
            body += struct.pack(e + "HHI", tag, typ, count) + struct.pack(e + "I", data_off + len(extra))
            extra += payload + (b"\x00" if len(payload) % 2 else b"")
    return head + body + struct.pack(e + "I", 0) + extra


def _rationals(values: tuple[float, ...], e: str, scale: int = 10000) -> bytes:
    return b"".join(struct.pack(e + "II", round(v * scale), scale) for v in values)


def _to_dms(deg: float) -> tuple[float, float, float]:
    deg = abs(deg)
    d = int(deg)
    m = int((deg - d) * 60)
    s = (deg - d - m / 60) * 3600
    return float(d), float(m), round(s, 4)


def write_jpeg(
    *,
    taken_at: datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    make: str = "bogda",
    model: str = "test",
    little_endian: bool = True,
    payload: bytes = b"",
) -> bytes:
    """A JPEG byte string carrying an EXIF block with the given fields (for tests and simulated evidence).

    The image data is a stub: enough for type sniffing and EXIF, not for display.

    >>> from datetime import timezone
    >>> info = read_exif(write_jpeg(taken_at=datetime(2025, 5, 6, 7, 8, 9, tzinfo=timezone.utc), lon=87.3, lat=44.0))
    >>> info.taken_at.isoformat(), round(info.lon, 5), round(info.lat, 5)
    ('2025-05-06T15:08:09+08:00', 87.3, 44.0)
    """
    e = "<" if little_endian else ">"

    def ascii_(s: str) -> bytes:
        return s.encode("ascii") + b"\x00"

    ifd0_start = 8
    ifd0_entries = [(0x010F, 2, len(ascii_(make)), ascii_(make)), (0x0110, 2, len(ascii_(model)), ascii_(model))]
    # pointers are filled after sizes are known
    n0 = len(ifd0_entries) + 2
    extra0 = sum(len(p) + len(p) % 2 for *_, p in ifd0_entries if len(p) > 4)
    exif_start = ifd0_start + 2 + 12 * n0 + 4 + extra0
    exif_entries: list[tuple[int, int, int, bytes]] = []
    if taken_at is not None:
        local = taken_at.astimezone(timezone(timedelta(hours=8)))
        exif_entries.append((0x9003, 2, 20, ascii_(local.strftime("%Y:%m:%d %H:%M:%S"))))
        exif_entries.append((0x9011, 2, 7, ascii_("+08:00")))
    exif_blob = _ifd_bytes(exif_entries, exif_start, e)
    gps_start = exif_start + len(exif_blob)
    gps_entries: list[tuple[int, int, int, bytes]] = []
    if lon is not None and lat is not None:
        gps_entries = [
            (1, 2, 2, ("N" if lat >= 0 else "S").encode() + b"\x00"),
            (2, 5, 3, _rationals(_to_dms(lat), e)),
            (3, 2, 2, ("E" if lon >= 0 else "W").encode() + b"\x00"),
            (4, 5, 3, _rationals(_to_dms(lon), e)),
            (18, 2, 7, ascii_("WGS-84")),
        ]
    gps_blob = _ifd_bytes(gps_entries, gps_start, e)
    ifd0_entries += [
        (0x8769, 4, 1, struct.pack(e + "I", exif_start)),
        (0x8825, 4, 1, struct.pack(e + "I", gps_start)),
    ]
    ifd0 = _ifd_bytes(ifd0_entries, ifd0_start, e)
    assert len(ifd0) == exif_start - ifd0_start, "IFD0 layout"
    tiff = (b"II" if little_endian else b"MM") + struct.pack(e + "HI", 42, ifd0_start) + ifd0 + exif_blob + gps_blob
    app1 = b"Exif\x00\x00" + tiff
    return b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + payload + b"\xff\xd9"
