"""The network now: station status for the map and table, completeness (有效率) per station and day.

Service layer over the store (monitoring.md §3.2, §3.7 ``/stations/status``, ``/completeness``).

:func:`stations_status` answers the map: every air station with its online state (``online`` / ``offline``
(grey) / ``unknown`` (the feed is down) / ``never_reported``), its newest hourly AQI, level, colour and primary
pollutant. It reads only the ``latest`` table and the last day of ``aqi_hourly`` and keeps the answer in a small
in-process cache (:class:`StatusCache`) that is refreshed when new data arrive or after ``ttl`` seconds — the
endpoint must answer in < 100 ms at p99 under 50 concurrent clients.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import delete, func, select

from bogda.monitoring.ingest import POLLUTANTS
from bogda.monitoring.qa import DEFAULT_CONFIG, QAConfig, completeness, station_completeness, station_status
from bogda.monitoring.stations import station_county, station_sites
from bogda.standards import categories
from bogda.store import Store
from bogda.store.schema import aqi_hourly, completeness_day, latest, series
from bogda.timeutil import epoch_seconds, now_utc

GREY = "#BFBFBF"
"""Colour of an offline / unknown / never-reported station on the map."""


def _colours() -> dict[int, tuple[str, str, str]]:
    out = {}
    for c in categories():
        out[c.level] = (c.hex, c.name_zh, c.name_en)
    return out


def stations_status(store: Store, *, now: datetime | None = None, config: QAConfig = DEFAULT_CONFIG) -> pl.DataFrame:
    """One row per air station: ``site_id, code, name, lon, lat, county_code, county_name, network, evaluation,
    status, last_ts, silent_hours, aqi, aqi_ts, level, category_zh, category_en, colour, primary_pollutant,
    pm25`` (colour grey unless ``online``)."""
    now = now or now_utc()
    sites = station_sites(store)
    with store.engine.connect() as conn:
        last = conn.execute(
            select(series.c.site_id, func.max(latest.c.ts))
            .join(latest, latest.c.series_id == series.c.id)
            .where(series.c.parameter.in_(POLLUTANTS), series.c.resolution == "hour")
            .group_by(series.c.site_id)
        ).all()
        lo = epoch_seconds(now - timedelta(hours=24))
        aq = conn.execute(
            select(
                aqi_hourly.c.target_code,
                aqi_hourly.c.ts,
                aqi_hourly.c.aqi,
                aqi_hourly.c.level,
                aqi_hourly.c.primary_pollutant,
                aqi_hourly.c.c_pm25,
            ).where(aqi_hourly.c.target_kind == "station", aqi_hourly.c.ts >= lo, aqi_hourly.c.ts <= epoch_seconds(now))
        ).all()
    code_of = dict(zip(sites["site_id"].to_list(), sites["code"].to_list(), strict=True))
    frame = pl.DataFrame(
        [(code_of.get(s), t) for s, t in last if s in code_of],
        schema={"site_code": pl.String, "ts": pl.Int64},
        orient="row",
    ).with_columns(
        pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC"),
        pl.lit("a34004").alias("parameter"),
        pl.lit("hour").alias("resolution"),
        pl.lit(0.0).alias("value"),
    )
    st = station_status(frame, now=now, sites=sites["code"].to_list(), config=config)
    aqi = (
        pl.DataFrame(
            aq,
            schema={
                "code": pl.String,
                "ts": pl.Int64,
                "aqi": pl.Int64,
                "level": pl.Int64,
                "primary_pollutant": pl.String,
                "pm25": pl.Float64,
            },
            orient="row",
        )
        .sort("ts")
        .group_by("code")
        .last()
        .with_columns(pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("aqi_ts"))
        .drop("ts")
    )
    county = station_county(store)
    cols = _colours()
    out = (
        sites.join(st.rename({"site_code": "code"}), on="code", how="left")
        .join(aqi, on="code", how="left")
        .with_columns(
            pl.col("site_id")
            .replace_strict({k: v[0] for k, v in county.items()}, default=None, return_dtype=pl.String)
            .alias("county_code"),
            pl.col("site_id")
            .replace_strict({k: v[1] for k, v in county.items()}, default=None, return_dtype=pl.String)
            .alias("county_name"),
            pl.col("level")
            .replace_strict({k: v[1] for k, v in cols.items()}, default=None, return_dtype=pl.String)
            .alias("category_zh"),
            pl.col("level")
            .replace_strict({k: v[2] for k, v in cols.items()}, default=None, return_dtype=pl.String)
            .alias("category_en"),
        )
        .with_columns(
            pl.when(pl.col("status") == "online")
            .then(
                pl.col("level").replace_strict({k: v[0] for k, v in cols.items()}, default=GREY, return_dtype=pl.String)
            )
            .otherwise(pl.lit(GREY))
            .alias("colour")
        )
    )
    return out.select(
        "site_id",
        "code",
        "name",
        "lon",
        "lat",
        "county_code",
        "county_name",
        "network",
        "evaluation",
        "status",
        "last_ts",
        "silent_hours",
        "feed_down",
        "aqi",
        "aqi_ts",
        "level",
        "category_zh",
        "category_en",
        "colour",
        "primary_pollutant",
        "pm25",
    ).sort("code")


@dataclass
class StatusCache:
    """In-process cache of :func:`stations_status` rendered as JSON-ready records.

    The answer is recomputed when ``ttl`` seconds have passed or the newest write (``latest.received_at`` or the
    newest ``aqi_hourly`` hour) changed, checked at most every ``check`` seconds; concurrent requests share one
    recomputation.
    """

    ttl: float = 60.0
    check: float = 2.0
    _records: list[dict[str, Any]] = field(default_factory=list)
    _meta: dict[str, Any] = field(default_factory=dict)
    _stamp: tuple[Any, ...] = ()
    _computed: float = 0.0
    _checked: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _version(self, store: Store) -> tuple[Any, ...]:
        with store.engine.connect() as conn:
            a = conn.execute(select(func.max(latest.c.received_at))).scalar()
            b = conn.execute(select(func.max(aqi_hourly.c.ts)).where(aqi_hourly.c.target_kind == "station")).scalar()
        return (a, b)

    def get(self, store: Store, *, now: datetime | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        t = time.monotonic()
        if self._records and t - self._checked < self.check and t - self._computed < self.ttl:
            return self._records, self._meta
        with self._lock:
            t = time.monotonic()
            if self._records and t - self._checked < self.check and t - self._computed < self.ttl:
                return self._records, self._meta
            version = self._version(store)
            self._checked = t
            if self._records and version == self._stamp and t - self._computed < self.ttl:
                return self._records, self._meta
            frame = stations_status(store, now=now)
            recs = frame.with_columns(
                pl.col("last_ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), pl.col("aqi_ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            ).to_dicts()
            counts = frame.group_by("status").len()
            self._records = recs
            self._meta = {
                "generated_at": (now or now_utc()).isoformat(),
                "counts": dict(zip(counts["status"].to_list(), counts["len"].to_list(), strict=True)),
                "interval": "start, [start, end), UTC",
            }
            self._stamp = version
            self._computed = time.monotonic()
            return self._records, self._meta


def completeness_report(
    store: Store,
    *,
    start: datetime,
    end: datetime,
    sites: Sequence[int] | None = None,
    write: bool = True,
    config: QAConfig = DEFAULT_CONFIG,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Completeness per station × pollutant × Beijing day over [start, end) (stored in ``completeness_day``) and
    per station over the window (rate, valid/expected hours, offline days, never_reported).

    Silent stations (registered, no value) are included and show 0 %.
    """
    from bogda.monitoring.load import read_qa

    st = station_sites(store)
    if sites is not None:
        st = st.filter(pl.col("site_id").is_in(list(sites)))
    code_of = dict(zip(st["site_id"].to_list(), st["code"].to_list(), strict=True))
    obs = read_qa(store, sites=list(code_of), start=start, end=end)
    qa = obs.select(
        pl.col("site_id").replace_strict(code_of, return_dtype=pl.String).alias("site_code"),
        "ts",
        "parameter",
        "value",
        pl.lit("hour").alias("resolution"),
        "flag",
    )
    comp = completeness(qa, sites=list(code_of.values()), start=start, end=end, config=config)
    summary = station_completeness(comp, by_day=False)
    if write and comp.height:
        id_of = {v: k for k, v in code_of.items()}
        rows = comp.with_columns(
            pl.col("site_code").replace_strict(id_of, return_dtype=pl.Int64).alias("site_id")
        ).select(
            "site_id",
            "parameter",
            "day",
            "expected",
            "valid",
            "invalid",
            "maintenance",
            "feed_gap",
            "no_data",
            "rate",
            "day_status",
        )
        days = rows["day"].unique().to_list()
        with store.begin() as conn:
            for i in range(0, len(days), 200):
                conn.execute(
                    delete(completeness_day).where(
                        completeness_day.c.day.in_(days[i : i + 200]),
                        completeness_day.c.site_id.in_(list(code_of)),
                    )
                )
            conn.execute(completeness_day.insert(), rows.to_dicts())
    return comp, summary


__all__ = ["GREY", "StatusCache", "completeness_report", "stations_status"]
