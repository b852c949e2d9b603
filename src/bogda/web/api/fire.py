"""``/api/v1/fire``: satellite fire detections (GeoJSON), events, mask sites (editable), verdicts, statistics.

A face (architecture rule 4): every route parses its input, calls :mod:`bogda.fire` and renders the answer.
Detections and events are shown only inside the user's place scope; edits (masks, verdicts) need an operator role
and are audited by the fire services.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from sqlalchemy import select

from bogda.fire import mask_sites
from bogda.fire.events import VERDICT_OUTCOME
from bogda.fire.service import stats
from bogda.fire.verification import record_verdict
from bogda.store import Store
from bogda.store.schema import fire_detection, fire_event
from bogda.timeutil import beijing_date, day_start_utc, now_utc
from bogda.web.api.common import ApiError, Paging, PlaceTree, envelope, paging, stamp, store_of
from bogda.web.auth import Principal, client_ip, require_user

router = APIRouter(prefix="/fire", tags=["fire"])
EDIT_ROLES = ("admin", "prefecture_operator", "county_operator")
MAX_DAYS = 366

DETECTION_PROPS = (
    "id",
    "satellite",
    "sensor",
    "confidence_raw",
    "confidence_class",
    "frp_mw",
    "daynight",
    "county_code",
    "in_area",
    "masked",
    "masked_registry_ref",
    "masked_learned_ref",
    "low_confidence",
    "spurious",
    "screened",
    "verified_false",
    "event_id",
    "flag_reasons",
    "place_id",
)


def _range(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or beijing_date(now_utc())  # Beijing days, whatever the server's own time zone
    start = start or end
    if start > end:
        raise ApiError(422, "start", "start is after end")
    if (end - start).days > MAX_DAYS:
        raise ApiError(422, "end", f"at most {MAX_DAYS} days at once")
    return start, end


def detection_features(store: Store, who: Principal, start: date, end: date) -> dict[str, Any]:
    """Detections of Beijing dates ``start..end`` as a GeoJSON FeatureCollection (WGS-84), scoped to ``who``."""
    cols = [fire_detection.c[c] for c in DETECTION_PROPS]
    q = (
        select(*cols, fire_detection.c.lon, fire_detection.c.lat, fire_detection.c.acq_time_utc)
        .where(fire_detection.c.date_bjt >= start, fire_detection.c.date_bjt <= end)
        .order_by(fire_detection.c.acq_time_utc)
    )
    feats = []
    with store.engine.connect() as conn:
        for r in conn.execute(q):
            m = r._mapping
            if who.places is not None and not who.sees(m["place_id"]):
                continue
            props = {k: m[k] for k in DETECTION_PROPS}
            props["acq_time"] = stamp(m["acq_time_utc"])
            props["state"] = detection_state(props)
            feats.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [m["lon"], m["lat"]]},
                    "properties": props,
                }
            )
    return {"type": "FeatureCollection", "features": feats}


def detection_state(p: dict[str, Any]) -> str:
    """One display state per detection: verified_false, masked, spurious, outside_area, low_confidence, screened."""
    if p.get("verified_false"):
        return "verified_false"
    if p.get("masked"):
        return "masked"
    if p.get("spurious"):
        return "spurious"
    if not p.get("in_area"):
        return "outside_area"
    if p.get("low_confidence"):
        return "low_confidence"
    return "screened"


def event_rows(store: Store, who: Principal, *, status: str | None = None, since: date | None = None) -> list[dict]:
    """Fire events (newest first) with verification state, scoped by county."""
    tree = PlaceTree(store) if who.places is not None else None
    q = select(fire_event).order_by(fire_event.c.last_seen_utc.desc())
    if status:
        q = q.where(fire_event.c.status == status)
    if since:
        q = q.where(fire_event.c.last_seen_utc >= day_start_utc(since))
    out = []
    with store.engine.connect() as conn:
        for r in conn.execute(q):
            m = dict(r._mapping)
            if tree is not None:
                pid = tree.by_code.get(m["county_code"] or "")
                if not who.sees(pid):
                    continue
            out.append(
                {
                    "event_id": m["event_id"],
                    "status": m["status"],
                    "merged_into": m["merged_into"],
                    "first_seen": stamp(m["first_seen_utc"]),
                    "last_seen": stamp(m["last_seen_utc"]),
                    "lon": m["lon"],
                    "lat": m["lat"],
                    "n_detections": m["n_detections"],
                    "satellites": m["satellites"],
                    "max_frp": m["max_frp"],
                    "county_code": m["county_code"],
                    "class": m["class"],
                    "finding_id": m["finding_id"],
                    "verdict": m["verdict"],
                    "outcome": m["outcome"],
                    "verified_at": stamp(m["verified_at"]),
                    "task_id": m["task_id"],
                    "verification": "verified"
                    if m["verdict"]
                    else ("pending" if m["finding_id"] else "not_dispatched"),
                }
            )
    return out


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (stamp(v) if hasattr(v, "tzinfo") and hasattr(v, "hour") else v) for k, v in row.items()}


def _editor(who: Principal) -> None:
    if not set(who.user.roles) & set(EDIT_ROLES):
        raise ApiError(403, "role", f"needs one of the roles {', '.join(EDIT_ROLES)}", "header")


@router.get("/detections", summary="Fire detections of Beijing dates start..end as GeoJSON (WGS-84)")
def detections(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    start: Annotated[date | None, Query(description="First Beijing date (default: end).")] = None,
    end: Annotated[date | None, Query(description="Last Beijing date (default: today).")] = None,
) -> dict[str, Any]:
    s, e = _range(start, end)
    return detection_features(store_of(request), who, s, e)


@router.get("/events", summary="Fire events with their verification state")
def events(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    status: Annotated[str | None, Query(description="open, sleeping, closed or merged.")] = None,
    since: Annotated[date | None, Query(description="Events seen on or after this Beijing date.")] = None,
) -> dict[str, Any]:
    rows = event_rows(store_of(request), who, status=status, since=since)
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.post("/events/{event_id}/verdict", summary="Record a verification verdict (audited)")
def verdict(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    event_id: Annotated[str, Path()],
    body: Annotated[dict[str, Any], Body(examples=[{"verdict": "straw", "note": "现场核实为秸秆焚烧"}])],
) -> dict[str, Any]:
    _editor(who)
    v = body.get("verdict")
    if v not in VERDICT_OUTCOME:
        raise ApiError(422, "verdict", f"expected one of {', '.join(VERDICT_OUTCOME)}", "body")
    try:
        out = record_verdict(
            store_of(request),
            event_id,
            v,
            by=who.user.login,
            user_id=who.user.id,
            note=body.get("note"),
            task_id=body.get("task_id"),
            peer=client_ip(request),
        )
    except LookupError as exc:
        raise ApiError(404, "event_id", str(exc), "path") from exc
    return {
        "event_id": out.event_id,
        "verdict": out.verdict,
        "outcome": out.outcome,
        "candidates": list(out.candidates),
    }


@router.get("/masks", summary="Heat-source mask sites (registry, learned, candidates)")
def masks(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    origin: Annotated[str | None, Query(description="registry, learned, external, verified_industrial …")] = None,
    status: Annotated[str | None, Query(description="active, candidate or retired.")] = None,
) -> dict[str, Any]:
    rows = [_plain(r) for r in mask_sites.list_sites(store_of(request), origin=origin, status=status)]
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.post("/masks", summary="Add a heat source (datum required; audited)", status_code=201)
def add_mask(
    request: Request, who: Annotated[Principal, Depends(require_user)], body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    _editor(who)
    try:
        sid = mask_sites.add_site(store_of(request), body, by=who.user.login, user_id=who.user.id)
    except (ValueError, KeyError) as exc:
        raise ApiError(422, "body", str(exc), "body") from exc
    return {"source_id": sid}


@router.patch("/masks/{source_id}", summary="Edit a heat source: approve, retire, resize (audited)")
def edit_mask(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    source_id: Annotated[str, Path()],
    body: Annotated[dict[str, Any], Body(examples=[{"status": "active"}])],
) -> dict[str, Any]:
    _editor(who)
    try:
        row = mask_sites.update_site(store_of(request), source_id, body, by=who.user.login, user_id=who.user.id)
    except LookupError as exc:
        raise ApiError(404, "source_id", str(exc), "path") from exc
    except ValueError as exc:
        raise ApiError(422, "body", str(exc), "body") from exc
    return _plain(row)


@router.get("/stats", summary="Fire points per county and Beijing day or month (pixels, as the bulletins count)")
def fire_stats(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    by: Annotated[str, Query(pattern="^(day|month)$", description="day or month")] = "day",
    county: Annotated[str | None, Query(description="County adcode.")] = None,
    start: Annotated[date | None, Query(description="First Beijing date.")] = None,
    end: Annotated[date | None, Query(description="Last Beijing date.")] = None,
) -> dict[str, Any]:
    if start is None and end is None and by == "day":
        start = beijing_date(now_utc()) - timedelta(days=30)
    out = stats(store_of(request), start=start, end=end, by=by, county=county)
    rows = [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in r.items()} for r in out.iter_rows(named=True)]
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))
