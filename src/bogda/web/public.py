"""The public AQI page (issue 11 §4): a stateless, read-only page for citizens, apart from the console.

``/public`` serves one static HTML page (``static/public``) whose script calls ``/public/api/v1/stations`` and draws
the station map with the ECharts build that NiceGUI bundles (served from ``/public/vendor/echarts``, never a CDN).
No login and no NiceGUI session: a visitor costs one cached JSON answer.

The JSON answer (:func:`public_snapshot`) holds every air station's newest hourly AQI (grey when offline, from
:func:`bogda.monitoring.status.stations_status`), the health advice for each level shown (HJ 633 information
table, :func:`bogda.standards.aqi.health_advice`), the prefecture's and each county's newest hourly AQI, the active
heavy-pollution warnings and the county outlines (GeoJSON, simplified for the screen). :class:`PublicCache`
renders it once per data change so the endpoint answers at p99 < 100 ms under 200 concurrent clients.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from sqlalchemy import func, select

from bogda.monitoring.status import StatusCache
from bogda.standards.aqi import categories, health_advice
from bogda.store import Store
from bogda.store.schema import aqi_hourly, latest, place, warning
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
    """The whole public answer: ``meta``, ``stations``, ``areas``, ``advice`` (per level shown), ``warnings``."""
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
    levels = sorted({int(x["level"]) for x in [*stations, *areas] if x.get("level")})
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
    }


@dataclass
class PublicCache:
    """The rendered public answer, rebuilt when the data changed (newest ``latest.received_at``, newest hourly
    AQI, newest warning change — checked at most every ``check`` seconds) or after ``ttl`` seconds."""

    ttl: float = 60.0
    check: float = 2.0
    status: StatusCache = field(default_factory=lambda: StatusCache(ttl=60.0, check=0.0))
    _body: bytes = b""
    _gzip: bytes = b""
    _etag: str = ""
    _stamp: tuple[Any, ...] = ()
    _built: float = 0.0
    _checked: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _version(self, store: Store) -> tuple[Any, ...]:
        with store.engine.connect() as conn:
            a = conn.execute(select(func.max(latest.c.received_at))).scalar()
            b = conn.execute(select(func.max(aqi_hourly.c.ts))).scalar()
            c = conn.execute(select(func.max(warning.c.updated_at), func.count(warning.c.id))).one()
        return (a, b, *c)

    def _fresh(self, t: float) -> bool:
        return bool(self._body) and t - self._checked < self.check and t - self._built < self.ttl

    def fresh(self) -> bool:
        """Whether :meth:`body` would answer from memory without touching the database."""
        return self._fresh(time.monotonic())

    def body(self, store: Store) -> bytes:
        if self._fresh(time.monotonic()):
            return self._body
        with self._lock:  # concurrent requests share one rebuild
            t = time.monotonic()
            if self._fresh(t):
                return self._body
            version = self._version(store)
            self._checked = t
            if self._body and version == self._stamp and t - self._built < self.ttl:
                return self._body
            doc = public_snapshot(store, self.status)
            body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
            # compressed and tagged once per rebuild, so each request only copies bytes
            self._gzip = gzip.compress(body, compresslevel=6, mtime=0)
            self._etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
            self._body = body
            self._stamp = version
            self._built = time.monotonic()
            return self._body


_caches: dict[int, PublicCache] = {}
_outlines: dict[int, bytes] = {}


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
    if not cache.fresh():  # the database is read in a worker thread; a fresh answer is served on the event loop
        await run_in_threadpool(cache.body, store)
    headers = {"Cache-Control": "max-age=10", "ETag": cache._etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == cache._etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(cache._gzip, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(cache._body, media_type="application/json", headers=headers)


@router.get("/api/v1/outlines", summary="Public: county outlines (GeoJSON, screen-simplified)")
def outlines_geojson(request: Request) -> Response:
    store = _store(request)
    body = _outlines.get(id(store))
    if body is None:  # outlines change only with the registry: built once per process
        body = json.dumps(county_outlines(store), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        _outlines[id(store)] = body
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "max-age=300"})


__all__ = ["PublicCache", "active_warnings", "area_aqi", "county_outlines", "public_snapshot", "router"]
