"""Feed helpers: FIRMS requests, redaction, folder scanning, feed health (fire.md §3.1, §6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bogda.fire.feed import PollOutcome, feed_down, firms_area_url, poll_bbox, redact, scan_folder

NOW = datetime(2026, 9, 17, 12, 0, tzinfo=UTC)


def test_area_url_and_redaction() -> None:
    bbox = poll_bbox((85.58, 43.10, 91.57, 45.49), 50)
    url = firms_area_url("SECRETKEY", "VIIRS_NOAA20_NRT", bbox, 1, date(2026, 9, 17))
    assert url == (
        "https://firms.modaps.eosdis.nasa.gov/api/area/csv/SECRETKEY/VIIRS_NOAA20_NRT/"
        "84.93,42.65,92.22,45.94/1/2026-09-17"
    )
    assert "SECRETKEY" not in redact(url, "SECRETKEY")
    with pytest.raises(ValueError, match="DAYS"):
        firms_area_url("K", "MODIS_NRT", bbox, 11)


@pytest.mark.parametrize(
    ("pattern", "down"),
    [
        ([True, False, False], None),
        ([True, False, False, False], "3 failed polls in a row"),
        ([True], None),
    ],
)
def test_feed_down_failures(pattern: list[bool], down: str | None) -> None:
    polls = [PollOutcome(NOW - timedelta(minutes=15 * (len(pattern) - k)), ok) for k, ok in enumerate(pattern)]
    assert feed_down(polls, NOW) == down


def test_feed_down_quiet() -> None:
    polls = [PollOutcome(NOW - timedelta(hours=3), True), PollOutcome(NOW - timedelta(minutes=10), False)]
    assert (feed_down(polls, NOW) or "").startswith("no good poll since")


def test_scan_folder(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("latitude,longitude\n")
    (tmp_path / "b.csv").write_text("latitude,longitude\n")  # same bytes: one file
    (tmp_path / "c.kml").write_text("<kml/>")
    first = scan_folder(tmp_path, [])
    assert len(first) == 1
    assert scan_folder(tmp_path, [first[0][1]]) == []
