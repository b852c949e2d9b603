from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bogda.grid.exif import read_exif, write_jpeg


@pytest.mark.parametrize("little", [True, False])
@pytest.mark.parametrize(("lon", "lat"), [(87.3095, 44.0142), (-73.9857, 40.7484), (151.2093, -33.8688)])
def test_roundtrip(little: bool, lon: float, lat: float) -> None:
    t = datetime(2025, 6, 1, 3, 4, 5, tzinfo=UTC)
    info = read_exif(write_jpeg(taken_at=t, lon=lon, lat=lat, little_endian=little, make="Huawei", model="P60"))
    assert info.error is None
    assert info.taken_at == t and info.offset_given
    assert info.lon == pytest.approx(lon, abs=1e-6) and info.lat == pytest.approx(lat, abs=1e-6)
    assert (info.make, info.model, info.datum) == ("Huawei", "P60", "WGS-84")


def test_missing_fields_are_none() -> None:
    info = read_exif(write_jpeg())
    assert (info.taken_at, info.lon, info.lat, info.error) == (None, None, None, None)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff\xd8\xff\xd9", "no EXIF block"),
        (b"\x89PNG\r\n\x1a\n....", "no EXIF block"),
        (b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00XX\x2a\x00\x08\x00\x00\x00", "EXIF unreadable"),
        (b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II\x2a\x00\xff\xff\x00\x00", "EXIF unreadable"),
    ],
)
def test_malformed_never_raises(data: bytes, error: str) -> None:
    assert (read_exif(data).error or "").startswith(error)


def test_truncated_file_never_raises() -> None:
    data = write_jpeg(taken_at=datetime(2025, 1, 1, tzinfo=UTC), lon=87.0, lat=44.0)
    for cut in range(0, len(data), 7):
        read_exif(data[:cut])  # must not raise
