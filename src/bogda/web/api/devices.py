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

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from bogda.registry.places import descendants
from bogda.store import Store
from bogda.store.schema import device, hj212_device_state, raw_frame, site
from bogda.web.api.common import ApiError, Paging, PlaceTree, envelope, paging, place_ref, stamp, store_of
from bogda.web.auth import Principal, client_ip, record_audit, require_user

router = APIRouter(tags=["devices"])

REJECTED_STATUSES = ("rejected", "unknown_mn", "pw_mismatch", "scanner", "ip_refused")
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
                  s.last_status, s.last_error, s.frames_in, s.frames_rejected, s.frames_out, s.ip_refused,
                  s.last_refused_peer, s.last_refused_at)  # fmt: skip
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
                "ip_refused": m["ip_refused"] or 0,
                "last_refused_peer": m["last_refused_peer"],
                "last_refused_at": stamp(m["last_refused_at"]),
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


# --- commands (hj212.md §3.6) and unknown devices awaiting approval (§3.4) -------------------------------------------
COMMAND_ROLES = ("admin", "prefecture_operator", "county_operator")
"""Who may queue or cancel commands (for loggers they can see); approving unknown devices is ``admin`` only."""


def _require(who: Principal, roles: tuple[str, ...]) -> None:
    if not set(who.user.roles) & set(roles):
        raise ApiError(403, "role", f"needs one of the roles {', '.join(roles)}", "header")


def _visible_mns(store: Store, who: Principal) -> list[str] | None:
    """MNs ``who`` may see (``None``: all)."""
    if who.places is None:
        return None
    rows, _ = device_rows(store, who, DevicesQuery(registered=True))
    return [d["mn"] for d in rows]


def command_rows(
    store: Store,
    who: Principal,
    *,
    mn: str | None = None,
    state: str | None = None,
    source: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Commands visible to ``who``, newest first (console page and ``GET /devices/commands``)."""
    from bogda.hj212.command_store import ACTIVE_STATES, FINAL_STATES, list_commands

    if state is not None and state not in ACTIVE_STATES + FINAL_STATES:
        raise ApiError(
            422, "state", f"unknown state {state!r}; expected one of {', '.join(ACTIVE_STATES + FINAL_STATES)}"
        )
    visible = _visible_mns(store, who)
    mns = [mn] if mn else None
    if visible is not None:
        mns = [m for m in (mns or visible) if m in set(visible)]
    with store.engine.connect() as conn:
        rows = list_commands(conn, mns=mns, states=[state] if state else None, source=source, limit=limit)
    out = []
    for r in rows:
        out.append(
            {
                "id": r["id"], "mn": r["mn"], "cn": r["cn"], "params": r["params"], "source": r["source"],
                "requested_by": r["requested_by"], "gateway_id": r["gateway_id"], "state": r["state"],
                "error": r["error"], "qn": r["qn"], "qn_rtn": r["qn_rtn"], "exe_rtn": r["exe_rtn"],
                "attempts": r["attempts"], "retries": max(0, (r["attempts"] or 0) - 1),
                "data_frames": r["data_frames"], "created_at": stamp(r["created_at"]), "sent_at": stamp(r["sent_at"]),
                "answered_at": stamp(r["answered_at"]), "finished_at": stamp(r["finished_at"]),
            }
        )  # fmt: skip
    return out


class CommandBody(BaseModel):
    cn: str = Field(..., min_length=4, max_length=4, description="1012 time sync, 2051/2061/2031 recall, 1000 …")
    begin: str | None = Field(None, description="Recall: first interval start (ISO; Beijing time if no zone).")
    end: str | None = Field(None, description="Recall: last interval start.")
    fields: dict[str, str] | None = Field(None, description='CP fields, e.g. {"RtdInterval": "60"}.')


def queue_command(store: Store, who: Principal, mn: str, body: CommandBody, peer: str | None = None) -> dict[str, Any]:
    """Queue a command for a visible logger (audited); the gateway holding its connection sends it."""
    from bogda.hj212.command_store import enqueue_command
    from bogda.timeutil import parse_time

    _require(who, COMMAND_ROLES)
    visible = _visible_mns(store, who)
    with store.engine.connect() as conn:
        registered = conn.execute(select(device.c.mn).where(device.c.mn == mn)).first() is not None
    if not registered or (visible is not None and mn not in visible):
        raise ApiError(404, "mn", f"no registered data logger {mn}", "path")
    params: dict[str, Any] = {}
    try:
        if body.begin or body.end:
            if not (body.begin and body.end):
                raise ValueError("a recall needs both begin and end")
            params = {"begin": parse_time(body.begin).isoformat(), "end": parse_time(body.end).isoformat()}
        if body.fields:
            params["fields"] = body.fields
        with store.begin() as conn:
            cid = enqueue_command(conn, mn, body.cn, params, source="operator", requested_by=who.user.login)
    except ValueError as exc:
        raise ApiError(422, "cn", str(exc), "body") from exc
    record_audit(store, "hj212.command", login=who.user.login, user_id=who.user.id, peer=peer,
                 target=f"device:{mn}", detail={"id": cid, "cn": body.cn, **params})  # fmt: skip
    return command_rows(store, who, mn=mn, limit=1)[0]


@router.get("/devices/commands", summary="Commands sent to HJ 212 data loggers and their state")
def commands(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    mn: Annotated[str | None, Query(max_length=32, description="Only this MN.")] = None,
    state: Annotated[str | None, Query(description="queued, sent, accepted, done, failed, timed_out …")] = None,
    source: Annotated[str | None, Query(max_length=16, description="operator, gap_scan, connect, api …")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    rows = command_rows(store_of(request), who, mn=mn, state=state, source=source, limit=limit)
    return envelope(rows, Paging(1, limit), len(rows))


@router.post("/devices/{mn}/commands", summary="Queue a command (time sync, recall, intervals) for a data logger")
def post_command(
    request: Request,
    mn: Annotated[str, Path(max_length=32)],
    body: Annotated[CommandBody, Body()],
    who: Annotated[Principal, Depends(require_user)],
) -> dict[str, Any]:
    return queue_command(store_of(request), who, mn, body, client_ip(request))


@router.post("/devices/commands/{command_id}/cancel", summary="Cancel a command that has not been sent yet")
def cancel(
    request: Request, command_id: Annotated[int, Path(ge=1)], who: Annotated[Principal, Depends(require_user)]
) -> dict[str, Any]:
    from bogda.hj212.command_store import cancel_command

    _require(who, COMMAND_ROLES)
    store = store_of(request)
    visible = _visible_mns(store, who)
    rows = [r for r in command_rows(store, who, limit=1000) if r["id"] == command_id]
    if not rows or (visible is not None and rows[0]["mn"] not in visible):
        raise ApiError(404, "command_id", f"no command {command_id}", "path")
    with store.begin() as conn:
        ok = cancel_command(conn, command_id, by=who.user.login)
    if not ok:
        raise ApiError(
            409, "command_id", f"command {command_id} is {rows[0]['state']}: only a queued one can be cancelled", "path"
        )
    record_audit(store, "hj212.command_cancel", login=who.user.login, user_id=who.user.id, peer=client_ip(request),
                 target=f"device:{rows[0]['mn']}", detail={"id": command_id})  # fmt: skip
    return {"id": command_id, "state": "cancelled"}


@router.get("/devices/pending", summary="Unknown data loggers waiting for approval (policy pending)")
def pending(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    from bogda.hj212.pending import list_pending

    if who.places is not None:  # unknown MNs carry no place: unscoped users only
        return envelope([], Paging(1, 100), 0)
    with store_of(request).engine.connect() as conn:
        rows = list_pending(conn)
    for r in rows:
        for k in ("first_seen", "last_seen", "decided_at"):
            r[k] = stamp(r[k])
    return envelope(rows, Paging(1, max(1, len(rows))), len(rows))


class ApproveBody(BaseModel):
    site_id: int = Field(..., ge=1, description="Station or outlet the logger reports for.")


@router.post("/devices/pending/{mn}/approve", summary="Register a pending logger with the PW it presented")
def approve(
    request: Request,
    mn: Annotated[str, Path(max_length=32)],
    body: Annotated[ApproveBody, Body()],
    who: Annotated[Principal, Depends(require_user)],
) -> dict[str, Any]:
    from bogda.hj212.pending import approve_pending

    _require(who, ("admin",))
    store = store_of(request)
    try:
        with store.begin() as conn:
            sid = approve_pending(conn, mn, body.site_id, by=who.user.login)
    except ValueError as exc:
        raise ApiError(409, "mn", str(exc), "path") from exc
    record_audit(store, "hj212.device_approve", login=who.user.login, user_id=who.user.id, peer=client_ip(request),
                 target=f"device:{mn}", detail={"site_id": body.site_id, "device_site_id": sid})  # fmt: skip
    return {"mn": mn, "status": "approved", "device_site_id": sid}


@router.post("/devices/pending/{mn}/reject", summary="Reject a pending logger (its frames stay archived only)")
def reject(
    request: Request, mn: Annotated[str, Path(max_length=32)], who: Annotated[Principal, Depends(require_user)]
) -> dict[str, Any]:
    from bogda.hj212.pending import reject_pending

    _require(who, ("admin",))
    store = store_of(request)
    try:
        with store.begin() as conn:
            reject_pending(conn, mn, by=who.user.login)
    except ValueError as exc:
        raise ApiError(409, "mn", str(exc), "path") from exc
    record_audit(store, "hj212.device_reject", login=who.user.login, user_id=who.user.id, peer=client_ip(request),
                 target=f"device:{mn}")  # fmt: skip
    return {"mn": mn, "status": "rejected"}
