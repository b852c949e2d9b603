"""``GET /api/v1/devices`` and ``GET /api/v1/devices/rejected``: HJ 212 data loggers with their connection state,
last frame and frame counts, and the frames the gateway refused with the reasons (spec hj212.md §3.4, §4.2).

The state comes from ``hj212_device_state`` (kept by the gateway's loader: ``online`` from the bind/unbind events
of the log, counters per frame), the refusals from ``raw_frame`` (status ``rejected``, ``unknown_mn``,
``pw_mismatch``, ``scanner``; ``error`` lists the parser's reason codes). Both are scoped like ``/sites``: a user
sees the loggers whose station or outlet lies in their places; loggers not registered (unknown MN) and scanner
probes carry no place and are shown to unscoped users only. :func:`device_rows` and :func:`rejected_rows` are
also what the console page calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select

from bogda.registry.places import descendants
from bogda.store import Store
from bogda.store.schema import device, hj212_device_state, raw_frame, site
from bogda.web.api.common import ApiError, Paging, PlaceTree, envelope, paging, place_ref, stamp, store_of
from bogda.web.auth import Principal, require_user

router = APIRouter(tags=["devices"])

REJECTED_STATUSES = ("rejected", "unknown_mn", "pw_mismatch", "scanner")
"""``raw_frame.status`` values of frames the gateway refused (no ack, no storage; spec §3.4, §7)."""
_TEXT_MAX = 512


@dataclass
class DevicesQuery:
    """Filters of ``/devices``: ``state`` (online/offline), ``place`` (id or code: that place and below), ``mn``
    (substring), ``registered``."""

    state: str | None = None
    place: str | None = None
    mn: str | None = None
    registered: bool | None = None

    @classmethod
    def depends(
        cls,
        state: Annotated[str | None, Query(description="online or offline.")] = None,
        place: Annotated[str | None, Query(description="Only loggers in this place or below it (id or code).")] = None,
        mn: Annotated[str | None, Query(max_length=32, description="MN contains this text.")] = None,
        registered: Annotated[bool | None, Query(description="Only registered (true) or unknown (false) MNs.")] = None,
    ) -> DevicesQuery:
        if state not in (None, "online", "offline"):
            raise ApiError(422, "state", f"unknown state {state!r}; expected online or offline")
        return cls(state, place, mn, registered)


def _allowed(store: Store, who: Principal, place: str | None, tree: PlaceTree) -> frozenset[int] | None:
    allowed = who.places
    if place is not None:
        under = descendants(store, tree.resolve(place, "place"))
        allowed = frozenset(under) if allowed is None else allowed & under
    return allowed


def device_rows(
    store: Store, who: Principal, q: DevicesQuery | None = None, page: Paging | None = None
) -> tuple[list[dict[str, Any]], int]:
    """One page of loggers visible to ``who`` (registered ones first, by MN) and the number found."""
    q = q or DevicesQuery()
    tree = PlaceTree(store)
    allowed = _allowed(store, who, q.place, tree)
    dev_site = site.alias("dev_site")
    parent = site.alias("parent")
    s = hj212_device_state.c
    state_cols = (s.online, s.peer, s.connected_at, s.disconnected_at, s.disconnect_reason, s.last_frame_at, s.last_cn,
                  s.last_status, s.last_error, s.frames_in, s.frames_rejected, s.frames_out)  # fmt: skip
    registered_q = select(
        device.c.mn,
        device.c.protocol,
        device.c.st,
        dev_site.c.simulated,
        func.coalesce(parent.c.place_id, dev_site.c.place_id).label("place_id"),
        parent.c.id.label("site_id"),
        parent.c.code.label("site_code"),
        parent.c.name.label("site_name"),
        parent.c.kind.label("site_kind"),
        *state_cols,
    ).select_from(
        device.join(dev_site, dev_site.c.id == device.c.site_id)
        .outerjoin(parent, parent.c.id == dev_site.c.parent_id)
        .outerjoin(hj212_device_state, s.mn == device.c.mn)
    )
    rows: list[Any] = []
    with store.engine.connect() as conn:
        if q.registered is not False:
            rows.extend(conn.execute(registered_q.order_by(device.c.mn)).all())
        if q.registered is not True and allowed is None:  # unknown MNs have no place: unscoped users only
            unknown = select(s.mn, *state_cols).where(s.registered.is_(False), s.mn.not_in(select(device.c.mn)))
            rows.extend(conn.execute(unknown.order_by(s.mn)).all())
    out = []
    for r in rows:
        m = r._mapping
        reg = "protocol" in m
        place_id = m["place_id"] if reg else None
        if allowed is not None and place_id not in allowed:
            continue
        online = bool(m["online"])
        if q.state is not None and online != (q.state == "online"):
            continue
        if q.mn and q.mn.upper() not in m["mn"].upper():
            continue
        out.append(
            {
                "mn": m["mn"],
                "registered": reg,
                "protocol": m["protocol"] if reg else None,
                "st": m["st"] if reg else None,
                "simulated": bool(m["simulated"]) if reg else None,
                "site": (
                    {"id": m["site_id"], "code": m["site_code"], "name": m["site_name"], "kind": m["site_kind"]}
                    if reg and m["site_id"] is not None
                    else None
                ),
                "county": place_ref(tree.up_to(place_id, "county")) if place_id is not None else None,
                "online": online,
                "peer": m["peer"],
                "connected_at": stamp(m["connected_at"]),
                "disconnected_at": stamp(m["disconnected_at"]),
                "disconnect_reason": m["disconnect_reason"],
                "last_frame_at": stamp(m["last_frame_at"]),
                "last_cn": m["last_cn"],
                "last_status": m["last_status"],
                "last_error": m["last_error"],
                "frames_in": m["frames_in"] or 0,
                "frames_rejected": m["frames_rejected"] or 0,
                "frames_out": m["frames_out"] or 0,
            }
        )
    found = len(out)
    if page is not None:
        out = out[page.offset : page.offset + page.limit]
    return out, found


def rejected_rows(
    store: Store, who: Principal, *, mn: str | None = None, status: str | None = None, page: Paging | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Refused frames visible to ``who``, newest first, with their reasons, and the number found."""
    if status is not None and status not in REJECTED_STATUSES:
        raise ApiError(422, "status", f"unknown status {status!r}; expected one of {', '.join(REJECTED_STATUSES)}")
    t = raw_frame.c
    cond = [t.status.in_([status] if status else REJECTED_STATUSES)]
    if mn:
        cond.append(t.mn == mn)
    if who.places is not None:
        visible, _ = device_rows(store, who, DevicesQuery(registered=True))
        mns = [d["mn"] for d in visible if mn is None or d["mn"] == mn]
        if not mns:
            return [], 0
        cond.append(t.mn.in_(mns))
    base = select(t.id, t.received_at, t.peer, t.direction, t.mn, t.cn, t.qn, t.status, t.error, t.warnings, t.text)
    page = page or Paging(1, 100)
    with store.engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(raw_frame).where(*cond)).scalar() or 0
        rows = conn.execute(base.where(*cond).order_by(t.id.desc()).offset(page.offset).limit(page.limit)).all()
    out = []
    for r in rows:
        text = r.text or ""
        out.append(
            {
                "id": r.id,
                "received_at": stamp(r.received_at),
                "peer": r.peer,
                "direction": r.direction,
                "mn": r.mn,
                "cn": r.cn,
                "qn": r.qn,
                "status": r.status,
                "reasons": [x for x in (r.error or "").split(";") if x] or [r.status],
                "warnings": [x for x in (r.warnings or "").split(";") if x],
                "text": text[:_TEXT_MAX],
                "truncated": len(text) > _TEXT_MAX,
            }
        )
    return out, found


@router.get("/devices", summary="HJ 212 data loggers: online state, last frame, frame counts")
def devices(
    request: Request,
    q: Annotated[DevicesQuery, Depends(DevicesQuery.depends)],
    page: Annotated[Paging, Depends(paging)],
    who: Annotated[Principal, Depends(require_user)],
) -> dict[str, Any]:
    results, found = device_rows(store_of(request), who, q, page)
    return envelope(results, page, found)


@router.get("/devices/rejected", summary="Frames the HJ 212 gateway refused, with the reasons")
def rejected(
    request: Request,
    page: Annotated[Paging, Depends(paging)],
    who: Annotated[Principal, Depends(require_user)],
    mn: Annotated[str | None, Query(max_length=32, description="Only this MN.")] = None,
    status: Annotated[str | None, Query(description=f"One of {', '.join(REJECTED_STATUSES)}.")] = None,
) -> dict[str, Any]:
    results, found = rejected_rows(store_of(request), who, mn=mn, status=status, page=page)
    return envelope(results, page, found)
