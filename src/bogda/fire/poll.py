"""The scheduled fire poll (fire.md §3.1, §6): a drop folder and/or a URL (FIRMS area API), every 15 minutes.

:func:`poll` is what the scheduler calls. It finds files in the configured folder not seen before (by SHA-256
against ``fire_source_file``), fetches the configured URL or the FIRMS area-API sources for the prefecture bbox +
margin, and ingests everything in one run. The network call is a parameter (``fetch``), so tests and closed
networks pass their own; the MAP_KEY is redacted from everything stored or logged. A failed fetch is recorded as a
``fetch_error`` source file; :func:`feed_state` says when the feed is down (3 failures in a row or no good poll
for 2 h).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import shapely
from sqlalchemy import select

from bogda.config import FireSettings
from bogda.fire.config import FireConfig
from bogda.fire.feed import PollOutcome, feed_down, firms_area_url, poll_bbox, redact, scan_folder, sha256_bytes
from bogda.fire.service import IngestReport, ingest_files, load_region
from bogda.store import Store
from bogda.store.schema import fire_source_file
from bogda.timeutil import now_utc

Fetch = Callable[[str], bytes]
"""``fetch(url) -> body``; raises on a network error."""


def urllib_fetch(url: str, timeout: float = 60.0) -> bytes:
    """The default fetcher (standard library; no retries: the next poll is the retry)."""
    from urllib.request import urlopen

    with urlopen(url, timeout=timeout) as resp:
        return resp.read()


@dataclass
class PollReport:
    """One poll: files picked up, fetch errors, the ingest report and the feed state."""

    picked: list[str] = field(default_factory=list)
    fetch_errors: list[str] = field(default_factory=list)
    ingest: IngestReport | None = None
    feed_down: str | None = None


def poll_urls(store: Store, settings: FireSettings) -> list[tuple[str, str]]:
    """(label, URL) pairs to fetch: the configured URL, or one FIRMS area-API URL per source when a MAP_KEY is set."""
    out: list[tuple[str, str]] = []
    if settings.map_key:
        region = load_region(store)
        if region is None:
            raise ValueError("FIRMS polling needs the prefecture in the registry (bogda registry import places)")
        bbox = poll_bbox(shapely.bounds(region.area).tolist(), settings.margin_km)
        for source in settings.sources:
            out.append((source, firms_area_url(settings.map_key, source, bbox, settings.days)))
    elif settings.url:
        out.append(("url", settings.url))
    return out


def poll(
    store: Store,
    settings: FireSettings,
    *,
    fetch: Fetch | None = None,
    spool: Path = Path("var/fire"),
    config: FireConfig | None = None,
    now: datetime | None = None,
) -> PollReport:
    """Pick up new files from ``settings.inbox`` and fetch ``settings.url`` / FIRMS, then ingest them.

    Fetched bodies are written to ``spool/inbox`` (named by time and source) before they are parsed, so the raw
    file is kept even when it is rejected (fire.md §6).
    """
    now = now or now_utc()
    rep = PollReport()
    paths: list[Path] = []
    if settings.inbox is not None and Path(settings.inbox).is_dir():
        with store.engine.connect() as conn:
            seen = set(conn.execute(select(fire_source_file.c.sha256).where(fire_source_file.c.sha256 != "")).scalars())
        for path, _ in scan_folder(settings.inbox, seen):
            paths.append(path)
    urls = poll_urls(store, settings)
    if urls:
        fetch = fetch or urllib_fetch
        inbox = spool / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        for label, url in urls:
            shown = redact(url, settings.map_key)
            try:
                body = fetch(url)
            except Exception as exc:
                msg = redact(f"{type(exc).__name__}: {exc}", settings.map_key)
                rep.fetch_errors.append(f"{label}: {msg}")
                _record_fetch_error(store, label, shown, msg, now)
                continue
            name = f"{now:%Y%m%dT%H%M%S}_{re.sub(r'[^A-Za-z0-9_.-]', '_', label)}_{sha256_bytes(body)[:8]}"
            path = inbox / (name + _suffix(url, body))
            path.write_bytes(body)
            paths.append(path)
    rep.picked = [p.name for p in paths]
    if paths:
        rep.ingest = ingest_files(
            store, paths, config=config, provider="poll", raw_dir=spool / "raw", sectors=settings.plant_sectors
        )
    rep.feed_down = feed_state(store, now=now) if urls else None
    return rep


def _suffix(url: str, body: bytes) -> str:
    tail = url.rsplit("?", 1)[0].rsplit("/", 1)[-1].lower()
    for ext in (".csv", ".json", ".zip", ".txt", ".xlsx", ".dbf", ".hdf", ".nc", ".h5"):
        if tail.endswith(ext):
            return ext
    if body[:8] == b"\x89HDF\r\n\x1a\n":  # FY HDF5 / netCDF-4 without a telling name
        return ".h5"
    return ".json" if body.lstrip()[:1] in (b"[", b"{") else ".csv"


def _record_fetch_error(store: Store, label: str, shown: str, msg: str, now: datetime) -> None:
    with store.begin() as conn:
        conn.execute(
            fire_source_file.insert().values(
                name=label,
                provider="poll",
                request=shown,
                received_at=now,
                sha256="",
                status="fetch_error",
                error=msg,
                rejected=[],
                unmapped=[],
                warnings=[],
            )
        )


def feed_state(store: Store, *, now: datetime | None = None) -> str | None:
    """Reason for a ``fire_feed_down`` alert from the recorded polls, or None (fire.md §6)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(fire_source_file.c.received_at, fire_source_file.c.status)
            .where(fire_source_file.c.provider == "poll")
            .order_by(fire_source_file.c.received_at.desc())
            .limit(50)
        ).all()
    return feed_down([PollOutcome(r.received_at, r.status == "ok") for r in rows], now or now_utc())
