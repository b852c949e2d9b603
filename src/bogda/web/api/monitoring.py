"""Monitoring API (monitoring.md §3.7): station status, observations, AQI tables, completeness, assessments,
rankings, water classes, alarms (+ acknowledge) and QA flag overrides. Thin: parse, call bogda.monitoring, render.

Times in queries are ISO 8601 with an offset (a bare date is a Beijing day); every series answer states the
interval convention (``start, [start, end), UTC``). Lists use the OpenAQ-style envelope.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from bogda.monitoring import alarms as A
from bogda.monitoring.assessment import assess_store, rankings
from bogda.monitoring.exports import aqi_frame
from bogda.monitoring.load import read_qa, set_flag
from bogda.monitoring.stations import station_sites
from bogda.monitoring.status import StatusCache, completeness_report
from bogda.monitoring.water import water_overview
from bogda.store import Store
from bogda.store.schema import alarm, site
from bogda.timeutil import parse_time
from bogda.web.api.common import ApiError, Paging, envelope, paging, store_of
from bogda.web.auth import Principal, client_ip, record_audit, require_user
from bogda.web.public import Answer, send_answer

router = APIRouter(tags=["monitoring"])
INTERVAL = "start, [start, end), UTC"
_caches: dict[int, StatusCache] = {}


def _time(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ApiError(422, field, f"unreadable time {text!r}: give ISO 8601 with an offset, or a date") from exc


def _window(start: str | None, end: str | None, default_days: int = 1) -> tuple[datetime, datetime]:
    e = _time(end, "to")
    s = _time(start, "from")
    if e is None:
        from bogda.timeutil import now_utc

        e = now_utc()
    if s is None:
        s = e - timedelta(days=default_days)
    if s >= e:
        raise ApiError(422, "from", "'from' must be before 'to'")
    return s, e


def _visible_codes(store: Store, who: Principal) -> set[str] | None:
    if who.places is None:
        return None
    st = station_sites(store)
    return {c for c, p in st.select("code", "place_id").iter_rows() if p in who.places}


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dicts():
        for k, v in rec.items():
            if isinstance(v, datetime):
                rec[k] = v.isoformat().replace("+00:00", "Z")
            elif isinstance(v, float) and math.isnan(v):
                rec[k] = None
            elif hasattr(v, "isoformat"):
                rec[k] = v.isoformat()
        out.append(rec)
    return out


From = Annotated[str | None, Query(alias="from", description="Start (ISO 8601 with offset, or a Beijing date).")]
To = Annotated[str | None, Query(alias="to", description="End, exclusive.")]


class _Principals:
    """Principals of recently verified credentials (HTTP Basic header or session cookie).

    ``/stations/status`` is polled by every open map; verifying the same credentials on every poll (a user read,
    and an argon2 hash of about half a second whenever the credential cache of :mod:`bogda.web.auth` expires) would
    be the only work left in it. A principal verified less than ``fresh`` seconds ago is used as is (also by the
    memory answers, :func:`stations_status_answer`); an older one, up to ``keep`` seconds, is still used while one
    re-verification runs in a worker thread (a failure drops it: the next request gets the 401); beyond that the
    request waits for the verification — one per credentials however many requests arrive together. Keyed by a
    BLAKE2 digest of the store and the raw headers (no secret is kept); a deactivated user or a changed password is
    refused within ``fresh`` seconds plus one verification.
    """

    def __init__(self, fresh: float = 5.0, keep: float = 60.0, size: int = 1024) -> None:
        self.fresh, self.keep, self.size = fresh, keep, size
        self._hits: dict[bytes, tuple[float, Principal]] = {}
        self._inflight: dict[bytes, asyncio.Future[Principal]] = {}

    @staticmethod
    def key(store: Store, headers: Mapping[str, str]) -> bytes | None:
        """Digest of the store (one process may serve several) and the raw ``Authorization`` and ``Cookie`` headers;
        ``None`` when neither header is sent."""
        auth, cookie = headers.get("authorization", ""), headers.get("cookie", "")
        if not auth and not cookie:
            return None
        return hashlib.blake2b(f"{id(store)}\0{auth}\0{cookie}".encode(), digest_size=16).digest()

    def get(self, key: bytes | None) -> Principal | None:
        """The principal verified less than ``fresh`` seconds ago, else ``None``."""
        hit = self._hits.get(key) if key is not None else None
        return hit[1] if hit is not None and time.monotonic() - hit[0] < self.fresh else None

    async def resolve(self, request: Request, store: Store) -> Principal:
        """The principal of ``request`` (see the class); raises the 401/429 of :func:`require_user`."""
        key = self.key(store, request.headers)
        if key is None:
            return await run_in_threadpool(require_user, request)
        hit = self._hits.get(key)
        age = time.monotonic() - hit[0] if hit is not None else math.inf
        if hit is not None and age < self.fresh:
            return hit[1]
        verifying = self._verify(key, request)
        if hit is not None and age < self.keep:
            return hit[1]  # re-verified in the background meanwhile
        return await asyncio.shield(verifying)

    def _verify(self, key: bytes, request: Request) -> asyncio.Future[Principal]:
        fut = self._inflight.get(key)
        if fut is None:
            fut = asyncio.get_running_loop().run_in_executor(None, require_user, request)
            self._inflight[key] = fut
            fut.add_done_callback(lambda f: self._done(key, f))
        return fut

    def _done(self, key: bytes, fut: asyncio.Future[Principal]) -> None:
        self._inflight.pop(key, None)
        if fut.cancelled() or fut.exception() is not None:
            self._hits.pop(key, None)
            return
        if len(self._hits) >= self.size:
            self._hits.clear()
        self._hits[key] = (time.monotonic(), fut.result())


_principals = _Principals()


@router.get(
    "/stations/status",
    summary="Every air station now: online state, newest hourly AQI, colour",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 304: {"description": "Not modified (ETag)"}},
)
async def stations_status(request: Request) -> Response:
    """Answered from :class:`bogda.monitoring.status.StatusCache`: serialised, gzipped and tagged once per data
    version and scope; a request only copies bytes (or answers 304 to a client that holds them). Database work
    (a check, a rebuild, a login) runs in a worker thread, never on the event loop."""
    store = store_of(request)
    cache = _caches.setdefault(id(store), StatusCache())
    who = await _principals.resolve(request, store)
    out = cache.serve(store, who.places)  # a check due runs in the background; these bytes are served meanwhile
    if out is None:

        def render(records: list[dict[str, Any]], meta: dict[str, Any]) -> bytes:
            if who.places is not None:
                ids = _visible_ids(store, who)
                records = [r for r in records if r["site_id"] in ids]
            doc = envelope(records, Paging(1, max(1, len(records))), len(records))
            doc["meta"].update(meta)
            return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")

        out = await run_in_threadpool(cache.rendered, store, who.places, render)
    return send_answer(request, Answer(out, "application/json", STATUS_CACHE_CONTROL, STATUS_VARY))


STATUS_CACHE_CONTROL = "private, no-cache"
STATUS_VARY = "Accept-Encoding, Authorization, Cookie"


def stations_status_answer(store: Store, headers: Mapping[str, str]) -> Answer | None:
    """``/stations/status`` from memory for :class:`bogda.web.public.CachedAnswers`: only for credentials verified in
    the last seconds and a scope already rendered; anything else goes on to :func:`stations_status`."""
    who = _principals.get(_principals.key(store, headers))
    cache = _caches.get(id(store))
    if who is None or cache is None:
        return None
    out = cache.serve(store, who.places)
    return None if out is None else Answer(out, "application/json", STATUS_CACHE_CONTROL, STATUS_VARY)


def _visible_ids(store: Store, who: Principal) -> set[int]:
    st = station_sites(store)
    return {i for i, p in st.select("site_id", "place_id").iter_rows() if who.places is None or p in who.places}


@router.get("/observations", summary="Hourly values with their QA verdict")
def observations(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    station: Annotated[list[str], Query(description="Station code, repeatable.")],
    parameter: Annotated[
        list[str] | None, Query(description="HJ 212 code, repeatable (default: six pollutants).")
    ] = None,
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    store = store_of(request)
    s, e = _window(start, end)
    st = station_sites(store).filter(pl.col("code").is_in(station))
    if st.height == 0:
        raise ApiError(404, "station", f"no station {', '.join(station)}")
    ids = [i for i in st["site_id"].to_list() if i in _visible_ids(store, who)]
    codes = dict(zip(st["site_id"].to_list(), st["code"].to_list(), strict=True))
    kwargs = {"parameters": parameter} if parameter else {}
    df = read_qa(store, sites=ids, start=s, end=e, **kwargs)
    df = df.with_columns(pl.col("site_id").replace_strict(codes, return_dtype=pl.String).alias("station")).drop(
        "site_id"
    )
    rows = _records(df.slice(page.offset, page.limit))
    body = envelope(rows, page, df.height)
    body["meta"]["interval"] = INTERVAL
    return body


def _aqi(
    request: Request,
    who: Principal,
    page: Paging,
    table: str,
    kind: str | None,
    code: list[str] | None,
    start: str | None,
    end: str | None,
) -> dict[str, Any]:
    store = store_of(request)
    s, e = _window(start, end, 1 if table == "hourly" else 31)
    df = aqi_frame(store, table=table, target_kind=kind, codes=code, start=s, end=e)
    vis = _visible_codes(store, who)
    if vis is not None:
        df = df.filter((pl.col("target_kind") != "station") | pl.col("target_code").is_in(list(vis)))
    body = envelope(_records(df.slice(page.offset, page.limit)), page, df.height)
    body["meta"]["interval"] = INTERVAL
    return body


@router.get("/aqi/hourly", summary="Real-time AQI of stations and areas")
def aqi_hourly(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    kind: Annotated[str | None, Query(description="station, county, park or prefecture.")] = None,
    code: Annotated[list[str] | None, Query(description="Station or place code, repeatable.")] = None,
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    return _aqi(request, who, page, "hourly", kind, code, start, end)


@router.get("/aqi/daily", summary="Daily AQI of stations and areas")
def aqi_daily(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    kind: Annotated[str | None, Query(description="station, county, park or prefecture.")] = None,
    code: Annotated[list[str] | None, Query(description="Station or place code, repeatable.")] = None,
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    return _aqi(request, who, page, "daily", kind, code, start, end)


@router.get("/completeness", summary="Completeness (有效率) per station over a window")
def completeness(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    start: From = None,
    end: To = None,
    by_day: Annotated[bool, Query(description="Per station × pollutant × day instead of per station.")] = False,
) -> dict[str, Any]:
    store = store_of(request)
    s, e = _window(start, end, 1)
    comp, summary = completeness_report(store, start=s, end=e, sites=sorted(_visible_ids(store, who)), write=False)
    df = comp if by_day else summary
    return envelope(_records(df.slice(page.offset, page.limit)), page, df.height)


@router.get("/assessments", summary="Assessment figures of stations, counties and the prefecture")
def assessments(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    period: Annotated[str, Query(description="day, month, quarter, year or custom.")] = "month",
    start: From = None,
    end: To = None,
    kind: Annotated[str | None, Query(description="station, county or prefecture.")] = None,
    dust_mode: Annotated[str | None, Query(description="with_dust or dust_excluded.")] = None,
) -> dict[str, Any]:
    store = store_of(request)
    s, e = _window(start, end, 31)
    try:
        df = assess_store(store, start=s, end=e, period=period, write=False)
    except ValueError as exc:
        raise ApiError(422, "period", str(exc)) from exc
    if kind:
        df = df.filter(pl.col("target_kind") == kind)
    if dust_mode:
        df = df.filter(pl.col("dust_mode") == dust_mode)
    vis = _visible_codes(store, who)
    if vis is not None:
        df = df.filter((pl.col("target_kind") != "station") | pl.col("target_code").is_in(list(vis)))
    return envelope(_records(df.slice(page.offset, page.limit)), page, df.height)


@router.get("/rankings", summary="County rankings: composite index and good-day ratio")
def county_rankings(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    period: Annotated[str, Query(description="month, quarter or year.")] = "month",
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    store = store_of(request)
    s, e = _window(start, end, 31)
    df = rankings(assess_store(store, start=s, end=e, period=period, write=False))
    page = Paging(1, max(1, df.height))
    return envelope(_records(df), page, df.height)


@router.get("/water/classes", summary="Water-quality class per section and period (GB 3838-2002)")
def water_classes(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    period: Annotated[str, Query(description="day, month or year.")] = "month",
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    store = store_of(request)
    s, e = _window(start, end, 31)
    df = water_overview(store, start=s, end=e, period=period)
    page = Paging(1, max(1, df.height))
    return envelope(_records(df), page, df.height)


@router.get("/alarms", summary="Same-day alarms (detail rows of alarm findings)")
def alarms(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    state: Annotated[list[str] | None, Query(description="open, acknowledged, resolved … (repeatable).")] = None,
) -> dict[str, Any]:
    store = store_of(request)
    df = A.list_alarms(store, states=state, limit=10_000)
    vis = _visible_codes(store, who)
    if vis is not None and df.height:
        df = df.filter((pl.col("target_kind") != "station") | pl.col("target_code").is_in(list(vis)))
    return envelope(_records(df.slice(page.offset, page.limit)), page, df.height)


@router.post("/alarms/{alarm_id}/ack", summary="Acknowledge an alarm")
def ack(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    alarm_id: Annotated[int, Path(ge=1)],
    note: Annotated[str | None, Body(embed=True)] = None,
) -> dict[str, Any]:
    store = store_of(request)
    with store.engine.connect() as conn:
        row = conn.execute(select(alarm.c.target_kind, alarm.c.target_code).where(alarm.c.id == alarm_id)).first()
    if row is None:
        raise ApiError(404, "alarm_id", f"no alarm {alarm_id}", "path")
    vis = _visible_codes(store, who)
    if vis is not None and row.target_kind == "station" and row.target_code not in vis:
        raise ApiError(404, "alarm_id", f"no alarm {alarm_id}", "path")
    try:
        A.acknowledge(store, alarm_id, by=who.user.login, note=note)
    except ValueError as exc:
        raise ApiError(409, "alarm_id", str(exc), "path") from exc
    record_audit(
        store,
        "alarm.ack",
        login=who.user.login,
        user_id=who.user.id,
        peer=client_ip(request),
        target=f"alarm:{alarm_id}",
        detail={"note": note},
    )
    return {"id": alarm_id, "state": "acknowledged", "by": who.user.login}


@router.post("/qa/flags", summary="Confirm or override the QA verdict of one hourly value (audited)")
def qa_flag(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    station: Annotated[str, Body()],
    parameter: Annotated[str, Body()],
    ts: Annotated[str, Body(description="Interval start, ISO 8601 with offset.")],
    severity: Annotated[str, Body(description="valid, suspect, invalid or maintenance.")],
    reason: Annotated[str, Body()],
) -> dict[str, Any]:
    store = store_of(request)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(site.c.id, site.c.place_id).where(site.c.kind == "air_station", site.c.code == station)
        ).first()
    if row is None or not who.sees(row.place_id):
        raise ApiError(404, "station", f"no station {station}", "body")
    try:
        set_flag(
            store,
            site_id=row.id,
            parameter=parameter,
            ts=_time(ts, "ts"),
            severity=severity,
            by=who.user.login,
            reason=reason,
        )
    except (ValueError, LookupError) as exc:
        raise ApiError(422, "severity" if "severity" in str(exc) else "parameter", str(exc), "body") from exc
    record_audit(
        store,
        "qa.flag",
        login=who.user.login,
        user_id=who.user.id,
        peer=client_ip(request),
        target=f"{station}/{parameter}/{ts}",
        detail={"severity": severity, "reason": reason},
    )
    return {"station": station, "parameter": parameter, "ts": ts, "severity": severity}
