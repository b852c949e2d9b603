"""Late data: scheduled polling and re-polling of the station feed, corrections and ``withdrawn`` values
(monitoring.md §2.5).

The feed is polled every hour for the last 3 h (d), re-polled daily for the last 72 h (d) and weekly for the last
30 days (d). Each fetch is compared with the store (:func:`~bogda.monitoring.formats.revisions.diff_refetch`):

* an unchanged value does nothing;
* a new value is inserted, a changed one is written as a correction (the old version stays in
  ``observation_revision`` with the reason ``re-poll <kind> <file>``);
* a stored value that a **complete** re-fetch of its hour and type no longer contains (the source delivered the row
  of that hour and type, and the station's cell is empty) is **withdrawn**: never deleted, it is written again with
  the source flag ``W`` (the previous version kept as a revision), which QA turns into ``invalid``
  (``source_flag_W``), so it leaves every statistic. A later fetch that delivers the value again restores it.

Every change re-runs QA around it and marks its station-days dirty for the AQI worker; the job's ``job_run`` row
counts the changes.

Where fetched files come from is a :data:`FeedSource`: a callable ``(start, end) -> list[ReadResult]``. The
scheduled jobs read CNEMC daily files dropped by the collector into ``<data_dir>/monitoring/feed``
(:func:`folder_source`); a network fetcher plugs in the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from bogda.monitoring.formats.revisions import diff_refetch
from bogda.monitoring.ingest import FileRefused, ReadResult, Rejection, read_cnemc
from bogda.monitoring.load import load_result
from bogda.monitoring.stations import station_sites
from bogda.store import Store
from bogda.store import series as S
from bogda.timeutil import as_utc, now_utc

log = logging.getLogger(__name__)

WITHDRAWN_FLAG = "W"
"""Source flag written on a value the source no longer delivers (QA: ``source_flag_W`` → invalid)."""

WINDOWS: dict[str, timedelta] = {
    "hourly": timedelta(hours=3),
    "daily": timedelta(hours=72),
    "weekly": timedelta(days=30),
}
"""Look-back of each poll kind (monitoring.md §2.5 (d))."""

FeedSource = Callable[[datetime, datetime], list[ReadResult]]
"""Fetches the feed for [start, end) (UTC): one :class:`ReadResult` per file or response."""


@dataclass
class RepollReport:
    """Counts of one poll (logged, and their sum is the job's ``rows``)."""

    kind: str
    start: datetime
    end: datetime
    files: list[str] = field(default_factory=list)
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    restored: int = 0
    dirty_days: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return self.new + self.changed + self.withdrawn


def window(now: datetime, kind: str) -> tuple[datetime, datetime]:
    """[start, end) of a poll of ``kind`` at ``now``: whole hours, ``end`` the start of the current hour.

    >>> from datetime import UTC
    >>> [t.isoformat() for t in window(datetime(2019, 1, 2, 2, 25, tzinfo=UTC), "hourly")]
    ['2019-01-01T23:00:00+00:00', '2019-01-02T02:00:00+00:00']
    """
    if kind not in WINDOWS:
        raise ValueError(f"poll kind must be one of {sorted(WINDOWS)}, not {kind!r}")
    end = as_utc(now, naive="utc").replace(minute=0, second=0, microsecond=0)
    return end - WINDOWS[kind], end


def _clip(result: ReadResult, start: datetime, end: datetime) -> ReadResult:
    inside = (pl.col("ts") >= start) & (pl.col("ts") < end)
    feed = result.feed.filter(inside) if result.feed is not None else None
    return replace(result, frame=result.frame.filter(inside), feed=feed)


def repoll(
    store: Store,
    results: Sequence[ReadResult],
    *,
    start: datetime,
    end: datetime,
    kind: str = "manual",
) -> RepollReport:
    """Apply fetched files for the window [start, end): new values, corrections and withdrawals.

    Parameters
    ----------
    results : sequence of ReadResult
        What the source returned for the window (values outside it are ignored). Only stations that a file names
        and hours and types it delivered (``ReadResult.feed``) can be withdrawn by it; a file without ``feed`` (a
        layout that cannot tell a complete hour) withdraws nothing.
    kind : str
        ``hourly``, ``daily``, ``weekly`` or ``manual``; recorded in the revision reason.
    """
    report = RepollReport(kind, start, end)
    sites = station_sites(store)
    id_of = dict(zip(sites["code"].to_list(), sites["site_id"].to_list(), strict=True))
    code_of = {v: k for k, v in id_of.items()}
    for raw in results:
        res = _clip(raw, start, end)
        report.files.append(res.file)
        report.fetched += res.frame.height
        report.rejected += res.rejected
        hourly = res.frame.filter(pl.col("resolution") == "hour")
        named = [c for c in res.sites if c in id_of]
        params = sorted(
            set(hourly["parameter"].to_list()) | set(res.feed["parameter"].to_list() if res.feed is not None else [])
        )
        stored = pl.DataFrame(schema={"site_code": pl.String, "ts": hourly.schema["ts"], "parameter": pl.String})
        if named and params:
            got = S.read(store, sites=[id_of[c] for c in named], parameters=params, start=start, end=end)
            stored = got.select(
                pl.col("site_id").replace_strict(code_of, return_dtype=pl.String).alias("site_code"),
                "ts",
                "parameter",
                "value",
                pl.lit("hour").alias("resolution"),
                "flag",
            )
        else:
            stored = stored.with_columns(
                pl.lit(None, pl.Float64).alias("value"),
                pl.lit("hour").alias("resolution"),
                pl.lit(None, pl.String).alias("flag"),
            )
        diff = diff_refetch(stored, hourly, complete=res.feed)
        was_withdrawn = stored.filter(pl.col("flag") == WITHDRAWN_FLAG).select("site_code", "ts", "parameter")
        back = diff.filter(pl.col("change") != "withdrawn").join(was_withdrawn, on=["site_code", "ts", "parameter"])
        gone = diff.filter(pl.col("change") == "withdrawn").join(
            was_withdrawn, on=["site_code", "ts", "parameter"], how="anti"
        )
        counts = {c: int(n) for c, n in diff.group_by("change").len().iter_rows()}
        # a value returning after a withdrawal is a change even when the number is the same
        back_same = back.filter(pl.col("change") == "unchanged").height
        report.new += counts.get("new", 0)
        report.changed += counts.get("changed", 0) + back_same
        report.unchanged += counts.get("unchanged", 0) - back_same
        report.restored += back.height
        report.withdrawn += gone.height
        if counts.get("new", 0) + counts.get("changed", 0) + back_same + gone.height == 0:
            continue
        frame = res.frame
        if gone.height:
            units = dict(hourly.select("parameter", "unit").unique("parameter").iter_rows())
            withdrawn = gone.select(
                "site_code",
                "ts",
                "parameter",
                pl.col("old_value").alias("value"),
                pl.lit("hour").alias("resolution"),
                pl.col("parameter").replace_strict(units, default="", return_dtype=pl.String).alias("unit"),
                pl.lit(WITHDRAWN_FLAG).alias("source_flag"),
            )
            frame = pl.concat([frame, withdrawn.cast(frame.schema)])
        load = load_result(store, replace(res, frame=frame), reason=f"re-poll {kind} {res.file}"[:200])
        report.dirty_days += load.dirty_days
        report.rejected += [r for r in load.rejected if r not in res.rejected]
    log.info(
        "monitoring re-poll %s %s..%s: %d fetched, %d new, %d changed, %d withdrawn, %d restored",
        kind,
        start.isoformat(),
        end.isoformat(),
        report.fetched,
        report.new,
        report.changed,
        report.withdrawn,
        report.restored,
    )
    return report


def folder_source(folder: Path) -> FeedSource:
    """A :data:`FeedSource` over CNEMC daily files (``*.csv``, ``*.csv.gz``) dropped into ``folder``.

    Codes the registry does not know are rejected by the reader (with their reason), never registered here.
    A file that cannot be read at all is reported and skipped; the other files still count.
    """

    def fetch(start: datetime, end: datetime) -> list[ReadResult]:
        if not folder.is_dir():
            return []
        out: list[ReadResult] = []
        paths = sorted(p for p in folder.iterdir() if p.name.endswith((".csv", ".csv.gz")))
        for path in paths:
            try:
                out.append(read_cnemc(path, known_codes=None))
            except (FileRefused, OSError) as exc:
                log.warning("monitoring feed: %s refused: %s", path, exc)
        return out

    return fetch


def feed_folder() -> Path:
    """``<data_dir>/monitoring/feed``: where the collector drops the fetched CNEMC files."""
    from bogda.config import get_settings

    return get_settings().data_dir / "monitoring" / "feed"


def poll(store: Store, kind: str, *, now: datetime | None = None, source: FeedSource | None = None) -> RepollReport:
    """One poll of ``kind`` (``hourly`` | ``daily`` | ``weekly``) at ``now`` from ``source`` (default: the feed
    folder)."""
    start, end = window(now or now_utc(), kind)
    fetch = source or folder_source(feed_folder())
    return repoll(store, fetch(start, end), start=start, end=end, kind=kind)


def poll_job(store: Store, now: datetime) -> int:
    """Scheduled hourly: the last 3 h of the feed (monitoring.md §2.5)."""
    return poll(store, "hourly", now=now).changes


def repoll_daily_job(store: Store, now: datetime) -> int:
    """Scheduled daily: the last 72 h of the feed again (late and revised values, withdrawals)."""
    return poll(store, "daily", now=now).changes


def repoll_weekly_job(store: Store, now: datetime) -> int:
    """Scheduled weekly: the last 30 days of the feed again."""
    return poll(store, "weekly", now=now).changes


__all__ = [
    "WINDOWS",
    "WITHDRAWN_FLAG",
    "FeedSource",
    "RepollReport",
    "feed_folder",
    "folder_source",
    "poll",
    "poll_job",
    "repoll",
    "repoll_daily_job",
    "repoll_weekly_job",
    "window",
]
