"""Late data: re-fetch diffs and polling windows (monitoring.md §2.5)."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from bogda.timeutil import as_utc, to_beijing

# ------------------------------------------------------------------------------------------- revisions


def diff_refetch(stored: pl.DataFrame, fetched: pl.DataFrame, *, complete: pl.DataFrame | None = None) -> pl.DataFrame:
    """Compare a re-fetch of late data with what is stored (monitoring.md §2.5).

    Parameters
    ----------
    stored, fetched : pl.DataFrame
        Long frames (``site_code, ts, parameter, value, resolution``) of the same window.
    complete : pl.DataFrame, optional
        ``ts, parameter`` rows the re-fetch delivered completely (e.g. ``ReadResult.feed``). A stored value absent
        from a complete re-fetch of its hour and parameter is ``withdrawn`` (flagged, never deleted); without
        ``complete`` nothing is withdrawn.

    Returns
    -------
    pl.DataFrame
        ``site_code, ts, parameter, resolution, old_value, new_value, change`` with ``change`` ∈ ``new``,
        ``unchanged``, ``changed`` (a correction version), ``withdrawn``.
    """
    key = ["site_code", "ts", "parameter", "resolution"]
    old = stored.select(*key, pl.col("value").alias("old_value"))
    new = fetched.select(*key, pl.col("value").alias("new_value"))
    both = old.join(new, on=key, how="full", coalesce=True)
    if complete is not None:
        done = complete.select("ts", "parameter").unique().with_columns(pl.lit(True).alias("_complete"))
        both = both.join(done, on=["ts", "parameter"], how="left")
    else:
        both = both.with_columns(pl.lit(None, dtype=pl.Boolean).alias("_complete"))
    change = (
        pl.when(pl.col("old_value").is_null())
        .then(pl.lit("new"))
        .when(pl.col("new_value").is_null())
        .then(pl.when(pl.col("_complete").fill_null(False)).then(pl.lit("withdrawn")).otherwise(pl.lit("unchanged")))
        .when(pl.col("old_value") == pl.col("new_value"))
        .then(pl.lit("unchanged"))
        .otherwise(pl.lit("changed"))
    )
    return both.with_columns(change.alias("change")).drop("_complete").sort(key)


# --------------------------------------------------------------------------------------------- polling


def poll_windows(now: datetime, *, lookback_hours: int = 3) -> list[tuple[str, datetime, datetime]]:
    """Windows of late data to (re-)fetch at ``now`` (monitoring.md §2.5 defaults).

    Every hour at HH:25 the last ``lookback_hours``; daily at 02:30 Beijing the last 72 h; weekly (Monday 02:30
    Beijing) the last 30 days. Returns ``(kind, start, end)`` in UTC, hour-aligned, ``end`` exclusive.

    >>> from datetime import UTC
    >>> [(k, s.isoformat()) for k, s, _ in poll_windows(datetime(2019, 1, 2, 2, 30, tzinfo=UTC))]
    [('hourly', '2019-01-01T23:00:00+00:00')]
    """
    now = as_utc(now, naive="utc")
    end = now.replace(minute=0, second=0, microsecond=0)  # intervals starting before it are complete
    out = [("hourly", end - timedelta(hours=lookback_hours), end)]
    local = to_beijing(now)
    if local.hour == 2 and local.minute >= 30:
        out.append(("daily", end - timedelta(hours=72), end))
        if local.weekday() == 0:
            out.append(("weekly", end - timedelta(days=30), end))
    return out
