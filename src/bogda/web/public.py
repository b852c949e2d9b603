"""The public AQI page (issue 11 §4): a stateless, read-only page for citizens, apart from the console.

``/public`` serves one static HTML page (``static/public``) whose script calls ``/public/api/v1/stations`` and
``/public/api/v1/outlines`` and draws the station map with the ECharts build that NiceGUI bundles (served from
``/public/vendor/echarts``, never a CDN). No login and no NiceGUI session: a visitor costs cached bytes.

The stations answer (:func:`public_snapshot`) holds every air station's newest hourly AQI (grey when offline, from
:func:`bogda.monitoring.status.stations_status`), the health advice for each level shown (HJ 633 information
table, :func:`bogda.standards.aqi.health_advice`), the prefecture's and each county's newest hourly AQI and the
active heavy-pollution warnings. The county outlines (GeoJSON, simplified for the screen) are a separate answer that
changes only with the registry, built once per process. Both are serialised, gzipped and tagged (ETag, 304 on
``If-None-Match``) once per data version (:class:`PublicCache`), so the endpoint answers at p99 < 100 ms under 200
concurrent clients (issue 11 §5).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from sqlalchemy import func, select
from starlette.types import ASGIApp, Receive, Scope, Send

from bogda.monitoring.status import Rendered, StatusCache
from bogda.standards.aqi import categories, health_advice
from bogda.store import Store
from bogda.store.schema import aqi_hourly, forecast_publication, forecast_run, place, warning
from bogda.timeutil import beijing_date, epoch_seconds, now_utc

router = APIRouter(prefix="/public", tags=["public"])

STATIC = Path(__file__).resolve().parent / "static" / "public"
ECHARTS_DIST = Path(__import__("nicegui").__file__).resolve().parent / "elements" / "echart" / "dist"
"""NiceGUI's bundled ECharts (ES modules); the public page imports ``index.js`` from here."""
ACTIVE_WARNING_STATES = ("issued", "changed")
"""Warning states in force (forecast.md §3.6); ``proposed`` ones are not yet decided and are not published."""
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.(js|css|html|svg|png)$")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


def _iso(ts: Any) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, int | float):
        ts = datetime.fromtimestamp(ts, tz=now_utc().tzinfo)
    return ts.isoformat().replace("+00:00", "Z")


def _category(level: int) -> Any:
    return next(c for c in categories() if c.level == int(level))


def _level_advice(level: int) -> dict[str, Any]:
    cat = _category(level)
    adv = health_advice(level)
    return {
        "level": level,
        "category_zh": cat.name_zh,
        "category_en": cat.name_en,
        "colour": cat.hex,
        "effect_zh": adv["effect_zh"],
        "effect_en": adv["effect_en"],
        "advice_zh": adv["advice_zh"],
        "advice_en": adv["advice_en"],
    }


def area_aqi(store: Store, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Newest hourly AQI (last 24 h) of the prefecture and each county: ``kind, code, name, name_en, aqi, level,
    colour, primary_pollutant, ts`` — counties without a value are listed with ``aqi`` None."""
    now = now or now_utc()
    lo, hi = epoch_seconds(now - timedelta(hours=24)), epoch_seconds(now)
    with store.engine.connect() as conn:
        places = conn.execute(
            select(place.c.kind, place.c.code, place.c.name, place.c.name_en).where(
                place.c.kind.in_(["prefecture", "county"])
            )
        ).all()
        newest = (
            select(aqi_hourly.c.target_kind, aqi_hourly.c.target_code, func.max(aqi_hourly.c.ts).label("ts"))
            .where(
                aqi_hourly.c.target_kind.in_(["prefecture", "county"]),
                aqi_hourly.c.ts >= lo,
                aqi_hourly.c.ts <= hi,
                aqi_hourly.c.aqi.is_not(None),
            )
            .group_by(aqi_hourly.c.target_kind, aqi_hourly.c.target_code)
            .subquery()
        )
        rows = conn.execute(
            select(
                aqi_hourly.c.target_kind,
                aqi_hourly.c.target_code,
                aqi_hourly.c.ts,
                aqi_hourly.c.aqi,
                aqi_hourly.c.level,
                aqi_hourly.c.primary_pollutant,
            ).join(
                newest,
                (newest.c.target_kind == aqi_hourly.c.target_kind)
                & (newest.c.target_code == aqi_hourly.c.target_code)
                & (newest.c.ts == aqi_hourly.c.ts),
            )
        ).all()
    by_code = {(k, c): (ts, a, lv, pp) for k, c, ts, a, lv, pp in rows}
    out = []
    for kind, code, name, name_en in sorted(places, key=lambda p: (p.kind != "prefecture", p.code)):
        ts, value, level, primary = by_code.get((kind, code), (None, None, None, None))
        out.append(
            {
                "kind": kind,
                "code": code,
                "name": name,
                "name_en": name_en or name,
                "aqi": value,
                "level": level,
                "colour": _category(level).hex if level else None,
                "primary_pollutant": primary,
                "ts": _iso(ts),
            }
        )
    return out


def active_warnings(store: Store, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Heavy-pollution warnings in force today (Beijing day): ``area_code, level, cause, start_date, end_date``."""
    today = beijing_date(now or now_utc())
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(warning.c.area_code, warning.c.level, warning.c.cause, warning.c.start_date, warning.c.end_date)
            .where(
                warning.c.state.in_(ACTIVE_WARNING_STATES),
                warning.c.start_date <= today,
                warning.c.end_date >= today,
            )
            .order_by(warning.c.start_date)
        ).all()
    return [
        {"area_code": a, "level": lv, "cause": c, "start_date": s.isoformat(), "end_date": e.isoformat()}
        for a, lv, c, s, e in rows
    ]


FORECAST_MAX_AGE = timedelta(hours=36)
"""A forecast older than this is not published: the public sees no forecast rather than a stale one."""


def public_forecast(store: Store, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The daily AQI forecast of the prefecture and counties (forecast.md §3), or ``None`` when there is none.

    Today's publication by the duty forecaster (:mod:`bogda.forecast.publication`, ``source`` ``published``) when
    there is one: per day the published range ``aqi_lo``–``aqi_hi``, the level of its centre and the primary
    pollutant. Otherwise the latest operational run issued within :data:`FORECAST_MAX_AGE` (``source`` ``model``):
    per day the forecast ``aqi``, its ``p10``–``p90`` and level. Both give ``issued_at`` and per area ``code``,
    ``name``, ``kind`` and ``days`` (``date``, ``aqi``, ``p10``, ``p90``, ``level``, ``primary``)."""
    from bogda.forecast import publication as pb
    from bogda.forecast.service import latest_run, registry
    from bogda.standards.levels import category
    from bogda.web.api.forecast import strip_rows

    now = now or now_utc()
    pub = pb.current(store, beijing_date(now))
    if pub is not None:
        areas_of = registry(store).areas
        names = {t.code: t.name for t in areas_of}
        kinds = {t.code: t.kind for t in areas_of}
        by_area: dict[str, list[dict[str, Any]]] = {}
        for d in pub["days"]:
            centre = (d["aqi_lo"] + d["aqi_hi"]) / 2
            by_area.setdefault(d["area_code"], []).append(
                {
                    "date": d["day"].isoformat(),
                    "aqi": centre,
                    "aqi_lo": d["aqi_lo"],
                    "aqi_hi": d["aqi_hi"],
                    "p10": None,
                    "p90": None,
                    "level": int(category([centre])[0]),
                    "primary": d["primary_pollutant"],
                }
            )
        areas = [
            {"code": c, "name": names.get(c, c), "kind": kinds.get(c, "county"), "days": by_area[c]}
            for c in sorted(by_area, key=lambda c: (kinds.get(c) != "prefecture", c))
        ]
        return {"issued_at": _iso(pub["published_at"]), "source": "published", "areas": areas}
    run = latest_run(store)
    if run is None or run["status"] == "failed":
        return None
    issued = run["issue_time"] if run["issue_time"].tzinfo else run["issue_time"].replace(tzinfo=UTC)
    if now - issued > FORECAST_MAX_AGE:
        return None
    keep = ("date", "aqi", "p10", "p90", "level", "primary")
    areas = [
        {"code": r["code"], "name": r["name"], "kind": r["kind"], "days": [{k: d[k] for k in keep} for d in r["days"]]}
        for r in strip_rows(store)
    ]
    return {"issued_at": _iso(issued), "source": "model", "areas": areas} if areas else None


def county_outlines(store: Store) -> dict[str, Any]:
    """The counties as a GeoJSON FeatureCollection for ``echarts.registerMap`` (screen-simplified)."""
    from bogda.web.ui.map_data import outlines

    feats = [
        {
            "type": "Feature",
            "properties": {"name": r.name, "name_en": r.name_en or r.name, "code": r.code},
            "geometry": g,
        }
        for r, g in outlines(store)
        if r.kind == "county"
    ]
    return {"type": "FeatureCollection", "features": feats}


def public_snapshot(store: Store, status: StatusCache, *, now: datetime | None = None) -> dict[str, Any]:
    """The whole public answer: ``meta``, ``stations``, ``areas``, ``advice`` (per level shown), ``warnings``,
    ``forecast`` (:func:`public_forecast`, may be ``None``)."""
    now = now or now_utc()
    records, meta = status.get(store)
    stations = [
        {
            "code": r["code"],
            "name": r["name"],
            "lon": r["lon"],
            "lat": r["lat"],
            "county_code": r["county_code"],
            "county_name": r["county_name"],
            "online": r["status"] == "online",
            "aqi": r["aqi"] if r["status"] == "online" else None,
            "level": r["level"] if r["status"] == "online" else None,
            "colour": r["colour"],
            "primary_pollutant": r["primary_pollutant"] if r["status"] == "online" else None,
            "pm25": r["pm25"] if r["status"] == "online" else None,
            "ts": r["aqi_ts"],
        }
        for r in records
        if r["lon"] is not None
    ]
    areas = area_aqi(store, now=now)
    outlook = public_forecast(store, now=now)
    days = [d for a in (outlook or {}).get("areas", []) for d in a["days"]]
    levels = sorted({int(x["level"]) for x in [*stations, *areas, *days] if x.get("level")})
    return {
        "meta": {
            "generated_at": _iso(now),
            "interval": "start, [start, end), UTC",
            "online": sum(1 for s in stations if s["online"]),
            "stations": len(stations),
            "basis": meta.get("generated_at"),
        },
        "stations": stations,
        "areas": areas,
        "advice": {str(lv): _level_advice(lv) for lv in levels},
        "warnings": active_warnings(store, now=now),
        "forecast": outlook,
    }


@dataclass
class PublicCache:
    """The public answer, serialised, gzipped and tagged once per data version.

    Rebuilt when the data changed (:meth:`bogda.monitoring.status.StatusCache.version` — new values, the AQI job
    having run — or a warning changed; checked at most every ``check`` seconds), when a station's state flips with
    time, or after ``ttl`` seconds; a rebuild whose content is unchanged keeps the bytes, their ETag and their
    ``meta.generated_at`` (which thus says since when the answer is what it is). While an answer exists no request
    waits: one thread checks or rebuilds, the others are served the current bytes.
    """

    ttl: float = 60.0
    check: float = 2.0
    status: StatusCache = field(default_factory=lambda: StatusCache(ttl=60.0, check=0.0))
    _out: Rendered | None = None
    _content: dict[str, Any] = field(default_factory=dict)
    _stamp: tuple[Any, ...] = ()
    _expires: float = 0.0
    _checked: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _background: threading.Thread | None = None
    builds: int = 0
    """How many times the answer was rebuilt (for tests and benchmarks)."""

    @staticmethod
    def version(store: Store) -> tuple[Any, ...]:
        with store.engine.connect() as conn:
            w = conn.execute(select(func.max(warning.c.updated_at), func.count(warning.c.id))).one()
            run = conn.execute(select(func.max(forecast_run.c.id))).scalar()
            pub = conn.execute(select(func.max(forecast_publication.c.id))).scalar()
        return (*StatusCache.version(store), *w, run, pub)

    def fresh(self) -> bool:
        """Whether :meth:`current` would answer from memory without touching the database."""
        t = time.monotonic()
        return self._out is not None and t - self._checked < self.check and t < self._expires

    def current(self, store: Store) -> Rendered:
        """The current rendering, checked (and rebuilt) first when due."""
        out = self._out
        if self.fresh() and out is not None:
            return out
        if out is not None and not self._lock.acquire(blocking=False):
            return out  # another request is checking or rebuilding: serve the current bytes meanwhile
        if out is None:
            self._lock.acquire()
        try:
            if not self.fresh():
                self._refresh(store)
            assert self._out is not None
            return self._out
        finally:
            self._lock.release()

    def serve(self, store: Store) -> Rendered | None:
        """The current rendering without touching the database, for an event loop: when it is due for a check the
        check runs in a background thread and the current bytes are returned meanwhile; ``None`` before the first
        build."""
        out = self._out
        if out is not None and not self.fresh():
            bg = self._background
            if not (bg is not None and bg.is_alive()) and not self._lock.locked():
                bg = threading.Thread(target=self.current, args=(store,), name="bogda-public-revalidate", daemon=True)
                self._background = bg
                bg.start()
        return out

    def body(self, store: Store) -> bytes:
        """The uncompressed JSON bytes of :meth:`current`."""
        return self.current(store).body

    def _refresh(self, store: Store) -> None:
        t = time.monotonic()
        version = self.version(store)
        self._checked = t
        if self._out is not None and version == self._stamp and t < self._expires:
            return
        doc = public_snapshot(store, self.status)
        content = _content(doc)
        if self._out is None or content != self._content:
            # only a change of what is published makes new bytes: a rebuild that differs in its build times alone
            # keeps the ETag, so polling clients go on getting 304s (RFC 9110 §8.8.3)
            body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
            self._out = Rendered.of(body)
            self._content = content
        self._stamp = version
        built = time.monotonic()
        self._expires = built + min(self.ttl, max(1.0, self.status.expires_in()))
        self.builds += 1


def _content(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without its build times (``meta.generated_at``, ``meta.basis``): what the public is told."""
    meta = {k: v for k, v in doc["meta"].items() if k not in ("generated_at", "basis")}
    return {**doc, "meta": meta}


_caches: dict[int, PublicCache] = {}
_outlines: dict[int, Rendered] = {}


def _store(request: Request) -> Store:
    return request.app.state.store


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    """The public page (static HTML; the language switch is client-side)."""
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


@router.get("/assets/{name}", include_in_schema=False)
def asset(name: str) -> Response:
    return _file(STATIC, name, max_age=300)


@router.get("/vendor/echarts/{name}", include_in_schema=False)
def echarts_module(name: str) -> Response:
    """NiceGUI's ECharts bundle (ES modules that import each other relatively), served from this server."""
    return _file(ECHARTS_DIST, name, max_age=86400)


def _file(folder: Path, name: str, *, max_age: int) -> Response:
    path = folder / name
    if not _SAFE_NAME.match(name) or not path.is_file():
        return Response(status_code=404)
    media = _TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"Cache-Control": f"public, max-age={max_age}"})


@router.get("/api/v1/stations", summary="Public: every air station's AQI now, areas, health advice, warnings")
async def stations(request: Request) -> Response:
    store = _store(request)
    cache = _caches.setdefault(id(store), PublicCache())
    # the current bytes are served on the event loop; a check or rebuild reads the database in another thread
    out = cache.serve(store)
    if out is None:
        out = await run_in_threadpool(cache.current, store)
    return send_answer(request, Answer(out, "application/json", STATIONS_CACHE_CONTROL))


@router.get("/api/v1/outlines", summary="Public: county outlines (GeoJSON, screen-simplified)")
def outlines_geojson(request: Request) -> Response:
    store = _store(request)
    out = _outlines.get(id(store))
    if out is None:  # outlines change only with the registry: built once per process, kept apart from the stations
        body = json.dumps(county_outlines(store), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        out = _outlines[id(store)] = Rendered.of(body)
    return send_answer(request, Answer(out, "application/geo+json", OUTLINES_CACHE_CONTROL))


# --- answers from memory, before routing ----------------------------------------------------------------------

STATIONS_CACHE_CONTROL = "public, max-age=10"
OUTLINES_CACHE_CONTROL = "public, max-age=86400"


class Answer(NamedTuple):
    """A rendering ready to send: bytes (plain and gzip) with their ETag, media type, caching headers."""

    out: Rendered
    media: str
    cache_control: str
    vary: str = "Accept-Encoding"


FastAnswer = Callable[[Store, Mapping[str, str]], Answer | None]
"""``(store, request headers (lower-case names)) → Answer`` from memory only, or ``None`` to let the route answer."""


def negotiate(answer: Answer, headers: Mapping[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for ``answer``: 304 when ``If-None-Match`` names its ETag, the gzip bytes when the
    client accepts gzip, else the plain bytes (RFC 9110 §13.1.2, §12.5.3)."""
    out = answer.out
    common = [("etag", out.etag), ("cache-control", answer.cache_control), ("vary", answer.vary)]
    if out.etag in headers.get("if-none-match", ""):
        return 304, common, b""
    typed = [*common, ("content-type", answer.media)]
    if "gzip" in headers.get("accept-encoding", ""):
        return 200, [*typed, ("content-encoding", "gzip")], out.gzip
    return 200, typed, out.body


def send_answer(request: Request, answer: Answer) -> Response:
    status, headers, body = negotiate(answer, request.headers)
    return Response(body, status_code=status, headers=dict(headers))


def public_stations_answer(store: Store, headers: Mapping[str, str]) -> Answer | None:
    """The public stations answer from memory (a check due runs in a background thread)."""
    cache = _caches.get(id(store))
    out = cache.serve(store) if cache is not None else None
    return None if out is None else Answer(out, "application/json", STATIONS_CACHE_CONTROL)


def public_outlines_answer(store: Store, headers: Mapping[str, str]) -> Answer | None:
    out = _outlines.get(id(store))
    return None if out is None else Answer(out, "application/geo+json", OUTLINES_CACHE_CONTROL)


def default_answers() -> dict[str, FastAnswer]:
    """The paths :class:`CachedAnswers` serves: the public answers and ``/api/v1/stations/status``."""
    from bogda.web.api import PREFIX
    from bogda.web.api.monitoring import stations_status_answer

    return {
        "/public/api/v1/stations": public_stations_answer,
        "/public/api/v1/outlines": public_outlines_answer,
        f"{PREFIX}/stations/status": stations_status_answer,
    }


class CachedAnswers:
    """Pure ASGI middleware answering ``GET`` of a few polled paths from in-memory renderings, before the session
    middleware, the router and FastAPI's request handling — about 50 µs of CPU per request instead of about
    500 µs (``bench/bench_public_api.py``), which is what keeps p99 < 100 ms under 200 concurrent clients on two
    busy CPUs (issue 11 §5, monitoring.md §6).

    Each path has a :data:`FastAnswer`; whenever it returns ``None`` (nothing rendered yet, a query string, an
    unknown login) the request goes on to its route unchanged, which renders, checks and logs in as usual and so
    fills what the fast path serves next time.
    """

    def __init__(self, app: ASGIApp, store: Store, answers: Mapping[str, FastAnswer] | None = None) -> None:
        self.app = app
        self.store = store
        self.answers = dict(answers) if answers is not None else default_answers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.answers.get(scope["path"]) if scope["type"] == "http" else None
        if fast is None or scope["method"] != "GET" or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            headers.setdefault(k.decode("latin-1"), v.decode("latin-1"))  # the first of repeated headers, as Starlette
        answer = fast(self.store, headers)
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, out_headers, body = negotiate(answer, headers)
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out_headers]
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


__all__ = [
    "Answer",
    "CachedAnswers",
    "FastAnswer",
    "PublicCache",
    "active_warnings",
    "area_aqi",
    "county_outlines",
    "default_answers",
    "negotiate",
    "public_forecast",
    "public_snapshot",
    "router",
    "send_answer",
]
