"""The network now: station status for the map, table and APIs, completeness (有效率) per station and day.

Service layer over the store (monitoring.md §3.2, §3.7 ``/stations/status``, ``/completeness``).

:func:`station_now` is the one read model of "a station now": its online state (monitoring.md §3.2: ``online`` /
``offline`` (grey) / ``unknown`` (the feed is down) / ``never_reported``), the values of its newest stored hour and
the hourly AQI of that hour. Every face uses it: ``/api/v1/sites`` and the console's station table and map (through
:class:`bogda.web.api.sites.SitesQuery`), and — through :func:`stations_status` and :class:`StatusCache` —
``/api/v1/stations/status``, the monitoring page, the big screen and the public page.

:class:`StatusCache` keeps the answer in memory and renders it once per data version (pre-serialised bytes, gzip,
ETag), so the status endpoints do no per-request database work while nothing changed — they must answer in
< 100 ms at p99 under 50 concurrent clients (monitoring.md §6).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import delete, func, select

from bogda.monitoring.ingest import POLLUTANTS
from bogda.monitoring.qa import DEFAULT_CONFIG, QAConfig, completeness, station_completeness, station_status
from bogda.monitoring.stations import station_county, station_sites
from bogda.standards import aqi as aqi_std
from bogda.standards import categories
from bogda.store import Store
from bogda.store import series as series_api
from bogda.store.schema import aqi_dirty, aqi_hourly, completeness_day, latest, site
from bogda.timeutil import epoch_seconds, now_utc

GREY = "#BFBFBF"
"""Colour of an offline / unknown / never-reported station on the map."""
STATION_KINDS = ("air_station", "water_station")
"""Site kinds that report values and have a state now."""
_log = logging.getLogger(__name__)


def _colours() -> dict[int, tuple[str, str, str]]:
    out = {}
    for c in categories():
        out[c.level] = (c.hex, c.name_zh, c.name_en)
    return out


@dataclass(frozen=True)
class StationNow:
    """One station now (see :func:`station_now`).

    Attributes
    ----------
    status : str
        ``online``, ``offline``, ``unknown`` (its feed is down) or ``never_reported`` (monitoring.md §3.2).
    last_ts, silent_hours, feed_down
        Start of the newest hour that counts for the state (air stations: the six AQI pollutants; water stations:
        any hourly value), hours [h] since that hour ended, and whether the station's whole feed is silent.
    hour, values
        Start of the newest stored hour with any hourly value and the values of that hour by HJ 212 code
        (µg/m³, CO mg/m³; ``None`` for a missing value).
    aqi, level, primary_pollutant, standard, pm25, aqi_source
        Hourly AQI of ``hour`` (HJ 633-2012 5.2 / HJ 633-2026 4.2.4, version by the hour's date): the QA'd row of
        ``aqi_hourly`` once the AQI job has computed that hour (``aqi_source = "aqi_hourly"``), until then the
        real-time AQI of the stored values (``"realtime"``). ``pm25`` is the PM2.5 concentration it used.
    """

    site_id: int
    kind: str
    code: str
    status: str
    last_ts: datetime | None
    silent_hours: float | None
    feed_down: bool
    hour: datetime | None = None
    values: Mapping[str, float | None] = field(default_factory=dict)
    aqi: int | None = None
    level: int | None = None
    primary_pollutant: str | None = None
    standard: str | None = None
    pm25: float | None = None
    aqi_source: str | None = None

    @property
    def online(self) -> bool:
        return self.status == "online"


def station_now(
    store: Store,
    site_ids: Sequence[int] | None = None,
    *,
    kinds: Sequence[str] = ("air_station",),
    now: datetime | None = None,
    config: QAConfig = DEFAULT_CONFIG,
) -> dict[int, StationNow]:
    """State, newest values and hourly AQI of stations now — the one implementation every face uses.

    Parameters
    ----------
    store : Store
    site_ids : sequence of int, optional
        Stations to report (other ids and non-station sites are ignored); default every station of ``kinds``.
    kinds : sequence of str
        Station kinds when ``site_ids`` is not given.
    now : datetime, optional
        Reference time for the state (default: the clock). The ``latest`` table keeps only the newest value of
        each series, so a past ``now`` changes the state (values after it do not count) but not the values shown.
    config : QAConfig
        ``offline_hours`` and ``feed_down_hours`` of monitoring.md §3.2. Each station kind is its own feed.

    Returns
    -------
    dict
        site id → :class:`StationNow`; every requested station is present (``never_reported`` when silent).
    """
    now = now or now_utc()
    q = select(site.c.id, site.c.kind, site.c.code).where(site.c.kind.in_(STATION_KINDS))
    if site_ids is not None:
        ids = [int(i) for i in site_ids]
        if not ids:
            return {}
        q = q.where(site.c.id.in_(ids))
    else:
        q = q.where(site.c.kind.in_(list(kinds)))
    with store.engine.connect() as conn:
        stations = conn.execute(q).all()
    if not stations:
        return {}
    kind_of = {sid: k for sid, k, _ in stations}
    code_of = {sid: c for sid, _, c in stations}
    df = series_api.read_latest(store, sites=list(kind_of), resolution="hour")

    # the state: newest hour of the values that count, per station kind (one feed each)
    counted = df.filter(
        pl.col("parameter").is_in(list(POLLUTANTS))
        | pl.col("site_id").replace_strict(kind_of, default="", return_dtype=pl.String).ne("air_station")
    )
    newest_counted = dict(counted.group_by("site_id").agg(pl.col("ts").max()).iter_rows())
    state: dict[int, tuple[str, datetime | None, float | None, bool]] = {}
    for kind in sorted(set(kind_of.values())):
        members = [sid for sid, k in kind_of.items() if k == kind]
        frame = pl.DataFrame(
            [(str(sid), newest_counted[sid]) for sid in members if sid in newest_counted],
            schema={"site_code": pl.String, "ts": pl.Datetime("us", "UTC")},
            orient="row",
        ).with_columns(pl.lit("_").alias("parameter"), pl.lit("hour").alias("resolution"), pl.lit(0.0).alias("value"))
        st = station_status(frame, now=now, sites=[str(s) for s in members], parameters=("_",), config=config)
        for code, last_ts, silent, status, down in st.iter_rows():
            state[int(code)] = (status, last_ts, None if silent is None else float(silent), bool(down))

    # the values of each station's newest stored hour
    hour_of = dict(df.group_by("site_id").agg(pl.col("ts").max()).iter_rows())
    values: dict[int, dict[str, float | None]] = {sid: {} for sid in hour_of}
    for sid, par, ts, val in df.select("site_id", "parameter", "ts", "value").iter_rows():
        if ts == hour_of[sid]:
            values[sid][par] = None if val is None or math.isnan(val) else float(val)

    aqi = _newest_hour_aqi(store, {sid: (code_of[sid], h) for sid, h in hour_of.items()}, values)
    out = {}
    for sid in kind_of:
        status, last_ts, silent, down = state[sid]
        out[sid] = StationNow(
            site_id=sid,
            kind=kind_of[sid],
            code=code_of[sid],
            status=status,
            last_ts=last_ts,
            silent_hours=silent,
            feed_down=down,
            hour=hour_of.get(sid),
            values=values.get(sid, {}),
            **aqi.get(sid, {}),
        )
    return out


def _newest_hour_aqi(
    store: Store, hours: dict[int, tuple[str, datetime]], values: dict[int, dict[str, float | None]]
) -> dict[int, dict[str, Any]]:
    """AQI of each station's newest hour: the ``aqi_hourly`` row (QA'd) when computed, else the real-time AQI of
    the stored values (HJ 633 real-time rules, :func:`bogda.standards.aqi.aqi_hourly`)."""
    if not hours:
        return {}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                aqi_hourly.c.target_code,
                aqi_hourly.c.ts,
                aqi_hourly.c.standard,
                aqi_hourly.c.aqi,
                aqi_hourly.c.level,
                aqi_hourly.c.primary_pollutant,
                aqi_hourly.c.c_pm25,
            ).where(
                aqi_hourly.c.target_kind == "station",
                aqi_hourly.c.ts.in_(sorted({epoch_seconds(h) for _, h in hours.values()})),
                aqi_hourly.c.target_code.in_(sorted({c for c, _ in hours.values()})),
            )
        ).all()
    table: dict[tuple[str, int], dict[str, Any]] = {}
    for code, ts, std, value, level, primary, pm25 in rows:
        key = (code, int(ts))
        # two versions of one hour (a recompute under the other standard): keep the one in force at that hour
        if key in table and std != aqi_std.standard_for(datetime.fromtimestamp(int(ts), UTC)):
            continue
        ok = value is not None and level
        table[key] = {
            "aqi": int(value) if ok else None,
            "level": int(level) if ok else None,
            "primary_pollutant": primary if ok else None,
            "standard": std,
            "pm25": None if pm25 is None or math.isnan(pm25) else float(pm25),
            "aqi_source": "aqi_hourly",
        }
    out: dict[int, dict[str, Any]] = {}
    rest = []
    for sid, (code, h) in hours.items():
        hit = table.get((code, epoch_seconds(h)))
        if hit is not None:
            out[sid] = hit
        else:
            rest.append(sid)
    items = [c for c in POLLUTANTS if any(values[sid].get(c) is not None for sid in rest)]
    if rest and items:
        conc = {c: np.array([_num(values[sid].get(c)) for sid in rest], dtype=float) for c in POLLUTANTS}
        res = aqi_std.aqi_hourly(conc, ts=pl.Series([hours[sid][1] for sid in rest]))
        for i, sid in enumerate(rest):
            if res.aqi_int[i] < 0:
                continue
            out[sid] = {
                "aqi": int(res.aqi_int[i]),
                "level": int(res.level[i]),
                "primary_pollutant": res.primary[i],
                "standard": aqi_std.standard_for(hours[sid][1]),
                "pm25": values[sid].get("a34004"),
                "aqi_source": "realtime",
            }
    return out


def _num(v: float | None) -> float:
    return np.nan if v is None else v


def stations_status(store: Store, *, now: datetime | None = None, config: QAConfig = DEFAULT_CONFIG) -> pl.DataFrame:
    """One row per air station for the map and table (from :func:`station_now`): ``site_id, code, name, lon, lat,
    county_code, county_name, network, evaluation, status, last_ts, silent_hours, feed_down, aqi, aqi_ts, level,
    category_zh, category_en, colour, primary_pollutant, pm25`` (colour grey unless ``online``; ``aqi_ts`` is the
    start of the hour the AQI belongs to)."""
    now = now or now_utc()
    sites = station_sites(store)
    state = station_now(store, sites["site_id"].to_list(), now=now, config=config)
    county = station_county(store)
    cols = _colours()
    rows = []
    for sid in sites["site_id"].to_list():
        n = state.get(sid)
        if n is None:
            continue
        level = n.level
        hexa, zh, en = cols.get(level, (None, None, None)) if level else (None, None, None)
        c_code, c_name = county.get(sid, (None, None))
        rows.append(
            {
                "site_id": sid,
                "status": n.status,
                "last_ts": n.last_ts,
                "silent_hours": n.silent_hours,
                "feed_down": n.feed_down,
                "aqi": n.aqi,
                "aqi_ts": n.hour if n.aqi is not None else None,
                "level": level,
                "category_zh": zh,
                "category_en": en,
                "colour": hexa if n.online and hexa else GREY,
                "primary_pollutant": n.primary_pollutant,
                "pm25": n.pm25,
                "county_code": c_code,
                "county_name": c_name,
            }
        )
    schema = {
        "site_id": pl.Int64,
        "status": pl.String,
        "last_ts": pl.Datetime("us", "UTC"),
        "silent_hours": pl.Float64,
        "feed_down": pl.Boolean,
        "aqi": pl.Int64,
        "aqi_ts": pl.Datetime("us", "UTC"),
        "level": pl.Int64,
        "category_zh": pl.String,
        "category_en": pl.String,
        "colour": pl.String,
        "primary_pollutant": pl.String,
        "pm25": pl.Float64,
        "county_code": pl.String,
        "county_name": pl.String,
    }
    now_frame = pl.DataFrame(rows, schema=schema, orient="row")
    return (
        sites.join(now_frame, on="site_id", how="left")
        .select(
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
        )
        .sort("code")
    )


def seconds_to_next_change(frame: pl.DataFrame, *, config: QAConfig = DEFAULT_CONFIG) -> float:
    """Seconds until the state of some station in ``frame`` (:func:`stations_status`) changes without new data:
    an online station goes offline after ``offline_hours`` of silence, the whole feed ``unknown`` after
    ``feed_down_hours`` (monitoring.md §3.2); ``inf`` when nothing would change."""
    silent = frame.filter(pl.col("silent_hours").is_not_null())
    if silent.height == 0:
        return math.inf
    waits = []
    on = silent.filter(pl.col("status") == "online")["silent_hours"]
    if on.len():
        waits.append(config.offline_hours - float(on.max()))  # type: ignore[arg-type]
    if not bool(silent["feed_down"].any()):
        waits.append(config.feed_down_hours - float(silent["silent_hours"].min()))  # type: ignore[arg-type]
    # the boundary is inclusive for `offline` (silent > offline_hours): step just past it
    return max(0.0, min(waits, default=math.inf)) * 3600 + 1.0


@dataclass(frozen=True)
class Rendered:
    """One rendering of the status answer: the bytes, their gzip and an ETag (strong, from the bytes)."""

    body: bytes
    gzip: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Rendered:
        # compressed and tagged once per data version, so a request only copies bytes
        return cls(
            body,
            gzip.compress(body, compresslevel=6, mtime=0),
            f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"',
        )


Renderer = Callable[[list[dict[str, Any]], dict[str, Any]], bytes]
"""Serialises ``(records, meta)`` for one face and scope (e.g. the API envelope of a user's stations)."""


@dataclass
class StatusCache:
    """In-process cache of :func:`stations_status` rendered as JSON-ready records, and of their serialisations.

    The answer is recomputed when the data version changed (:meth:`version`: newest ``latest.received_at`` and
    number of ``latest`` rows — both move with every write — and the number of station-days waiting for the AQI
    job, which drops when it has run; checked at most every ``check`` seconds), when some station's state flips
    with time (:func:`seconds_to_next_change`) or after ``ttl`` seconds. (A recompute of the AQI tables over a given
    window, which bypasses the dirty list, is therefore seen within ``ttl``.)

    No request waits for a check once an answer exists: one thread checks (or recomputes) while the others keep
    the current answer (stale-while-revalidate); :meth:`serve` even starts that check in a background thread so an
    event loop never touches the database. Serialisations (:meth:`rendered`) are made once per answer and key, and
    remade for every known key right after a recompute.
    """

    ttl: float = 60.0
    check: float = 2.0
    config: QAConfig = DEFAULT_CONFIG
    _records: list[dict[str, Any]] = field(default_factory=list)
    _meta: dict[str, Any] = field(default_factory=dict)
    _stamp: tuple[Any, ...] = ()
    _checked: float = 0.0
    _expires: float = 0.0
    _built: bool = False
    _rendered: dict[Hashable, Rendered] = field(default_factory=dict)
    _renderers: dict[Hashable, Renderer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _background: threading.Thread | None = None
    refreshes: int = 0
    """How many times the answer was recomputed (for tests and benchmarks)."""

    @staticmethod
    def version(store: Store) -> tuple[Any, ...]:
        """The data version the answer depends on (two cheap queries)."""
        with store.engine.connect() as conn:
            a, n = conn.execute(select(func.max(latest.c.received_at), func.count())).one()
            d = conn.execute(select(func.count()).select_from(aqi_dirty)).scalar_one()
        return (a, n, d)

    def fresh(self) -> bool:
        """Whether :meth:`get` answers from memory without touching the database."""
        t = time.monotonic()
        return self._built and t - self._checked < self.check and t < self._expires

    def expires_in(self) -> float:
        """Seconds until the current answer expires by time (``ttl`` or a station's state flipping)."""
        return self._expires - time.monotonic()

    def get(self, store: Store, *, now: datetime | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The records and ``meta`` (``generated_at``, ``counts`` by status, ``interval``)."""
        if self.fresh():
            return self._records, self._meta
        if self._built and not self._lock.acquire(blocking=False):
            return self._records, self._meta  # another thread is checking: keep the current answer meanwhile
        if not self._built:
            self._lock.acquire()
        try:
            if not self.fresh():
                self._refresh(store, now)
            return self._records, self._meta
        finally:
            self._lock.release()

    def rendered(self, store: Store, key: Hashable, render: Renderer) -> Rendered:
        """The answer serialised by ``render(records, meta)`` for ``key`` (e.g. a user's place scope), made once per
        answer; ``render`` belongs to the face (the envelope of an API, a page's JSON)."""
        records, meta = self.get(store)
        cache = self._rendered
        hit = cache.get(key)
        if hit is None:
            hit = Rendered.of(render(records, meta))
            if cache is self._rendered:  # the answer was not replaced meanwhile
                if len(cache) > 256:
                    cache.clear()
                    self._renderers.clear()
                cache[key] = hit
                self._renderers[key] = render
        return hit

    def peek(self, key: Hashable) -> Rendered | None:
        """The rendering for ``key`` when the answer is fresh and already rendered for it, else ``None``."""
        return self._rendered.get(key) if self.fresh() else None

    def serve(self, store: Store, key: Hashable) -> Rendered | None:
        """The rendering for ``key`` without touching the database, for an event loop: when the answer is due for a
        check, the current rendering is returned and the check runs in a background thread. ``None`` when ``key``
        was never rendered (the caller renders it in a worker thread with :meth:`rendered`)."""
        hit = self._rendered.get(key)
        if hit is not None and not self.fresh():
            self.revalidate(store)
        return hit

    def revalidate(self, store: Store) -> None:
        """Check (and recompute) in a background thread unless one is already at it."""
        bg = self._background
        if (bg is not None and bg.is_alive()) or self._lock.locked():
            return
        bg = threading.Thread(target=self.get, args=(store,), name="bogda-status-revalidate", daemon=True)
        self._background = bg
        bg.start()

    def _refresh(self, store: Store, now: datetime | None) -> None:
        t = time.monotonic()
        version = self.version(store)
        self._checked = t
        if self._built and version == self._stamp and t < self._expires:
            return
        frame = stations_status(store, now=now, config=self.config)
        recs = frame.with_columns(
            pl.col("last_ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), pl.col("aqi_ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        ).to_dicts()
        counts = frame.group_by("status").len()
        meta = {
            "generated_at": (now or now_utc()).isoformat(),
            "counts": dict(zip(counts["status"].to_list(), counts["len"].to_list(), strict=True)),
            "interval": "start, [start, end), UTC",
        }
        # renderings of the keys asked before are remade here, so no request has to wait for one
        rendered: dict[Hashable, Rendered] = {}
        for key, render in list(self._renderers.items()):
            try:
                rendered[key] = Rendered.of(render(recs, meta))
            except Exception:  # a face's renderer failing must not keep the new answer from the others
                _log.exception("status rendering for %r failed; it is remade on its next request", key)
                self._renderers.pop(key, None)
        self._records, self._meta, self._rendered = recs, meta, rendered
        self._stamp = version
        computed = time.monotonic()
        self._expires = computed + min(self.ttl, seconds_to_next_change(frame, config=self.config))
        self._built = True
        self.refreshes += 1


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


__all__ = [
    "GREY",
    "STATION_KINDS",
    "Rendered",
    "Renderer",
    "StationNow",
    "StatusCache",
    "completeness_report",
    "seconds_to_next_change",
    "station_now",
    "stations_status",
]
