"""``/api/v1/duty``: the duty officer's desk (值班台, issue 11 §3) — the open-findings inbox, one-click dispatch into
the grid, and the shift report (交接班报告) as JSON, a printable page and DOCX.

A face (architecture rule 4): the inbox reads the problem list, dispatch calls the grid service
(:meth:`bogda.grid.tasks.GridService.route_finding` then the ``dispatch`` transition, with the grid's own
permission checks and audit), the report is :mod:`bogda.reports.shift_report`.

The inbox and dispatch follow the user's area (a county user sees and dispatches only their county's findings);
the shift report covers the whole jurisdiction, so only users who see every place may generate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import case, func, select

from bogda.findings import SEVERITY_RANK
from bogda.grid.service_base import GridError
from bogda.grid.tasks import GridService
from bogda.reports import shift_report as sr
from bogda.store import Store
from bogda.store.schema import finding, place, task_finding
from bogda.timeutil import now_utc
from bogda.web.api.bigscreen import ScreenScope, scope_for
from bogda.web.api.common import ApiError, stamp, store_of
from bogda.web.api.tasks import api_error, clock, grid_service
from bogda.web.auth import Principal, client_ip, require_user

router = APIRouter(prefix="/duty", tags=["duty"])

INBOX_STATES = ("open", "acknowledged")
"""Findings waiting for the duty officer (``dispatched`` ones already have a task)."""
INBOX_LIMIT = 500


# --- the inbox ------------------------------------------------------------------------------------------------


def inbox(store: Store, scope: ScreenScope, *, now: datetime | None = None, limit: int = INBOX_LIMIT) -> dict[str, Any]:
    """Open findings of every kind in ``scope`` without a task, most severe first, then oldest first.

    Returns ``{"total", "rows": [{id, kind, severity, title, detected_at, age_h, place, count, lon, lat}]}``
    (``total`` counts all of them, ``rows`` holds at most ``limit``).
    """
    now = now or now_utc()
    rank = case(SEVERITY_RANK, value=finding.c.severity, else_=0)
    has_task = select(task_finding.c.task_id).where(task_finding.c.finding_id == finding.c.id).exists()
    where = [finding.c.status.in_(INBOX_STATES), ~has_task]
    if scope.places is not None:
        where.append(finding.c.place_id.in_(sorted(scope.places)))
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).where(*where)).scalar_one()
        rows = conn.execute(
            select(
                finding.c.id,
                finding.c.kind,
                finding.c.severity,
                finding.c.title,
                finding.c.detected_at,
                finding.c.count,
                finding.c.status,
                finding.c.lon,
                finding.c.lat,
                place.c.name.label("place"),
            )
            .select_from(finding.outerjoin(place, place.c.id == finding.c.place_id))
            .where(*where)
            .order_by(rank.desc(), finding.c.detected_at.asc(), finding.c.id.asc())
            .limit(limit)
        ).all()
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["age_h"] = round((now - d["detected_at"]).total_seconds() / 3600, 1)
        out.append(d)
    return {"total": int(total), "rows": out}


# --- one-click dispatch -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dispatched:
    finding_id: int
    task_id: int | None
    outcome: str  # created | attached | reopened | severity_raised | unchanged
    state: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"finding_id": self.finding_id, "task_id": self.task_id, "outcome": self.outcome, "state": self.state}


def dispatch_finding(
    svc: GridService,
    scope: ScreenScope,
    finding_id: int,
    user_id: int,
    *,
    now: datetime,
    place_id: int | None = None,
    peer: str | None = None,
) -> Dispatched:
    """Turn a finding into a task on the grid and dispatch it to its owner (or to ``place_id``) in one step.

    The finding must be in the user's area; the grid service checks the user may dispatch and does both steps in
    one transaction (:meth:`GridService.route_and_dispatch`). Raises :class:`LookupError` (unknown or out-of-area
    finding), :class:`ValueError` (the finding is resolved or dismissed) or the grid's errors (403/409/422).
    """
    with svc.store.engine.connect() as conn:
        f = conn.execute(select(finding.c.id, finding.c.place_id, finding.c.status).where(finding.c.id == finding_id))
        row = f.first()
    if row is None or (scope.places is not None and row.place_id not in scope.places):
        raise LookupError(f"finding {finding_id} does not exist in your area")
    if row.status not in ("open", "acknowledged", "dispatched"):
        raise ValueError(f"finding {finding_id} is {row.status}: a closed finding is not dispatched")
    out, state = svc.route_and_dispatch(finding_id, now=now, actor=svc.actor(user_id), place_id=place_id, peer=peer)
    return Dispatched(finding_id, out.task_id, out.action, state)


# --- the API --------------------------------------------------------------------------------------------------


def _scope(request: Request, who: Principal) -> ScreenScope:
    return scope_for(store_of(request), who.places)


@router.get("/inbox", summary="Open findings without a task in the user's area, most severe and oldest first")
def get_inbox(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    limit: Annotated[int, Query(ge=1, le=1000)] = INBOX_LIMIT,
) -> dict[str, Any]:
    res = inbox(store_of(request), _scope(request, who), now=clock(request), limit=limit)
    return {
        "total": res["total"],
        "results": [{**r, "detected_at": stamp(r["detected_at"])} for r in res["rows"]],
    }


@router.post("/dispatch/{finding_id}", summary="Make the finding's task and dispatch it (one click)")
def post_dispatch(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    finding_id: Annotated[int, Path(ge=1)],
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, Any]:
    """Optional body ``{"place_id": …}``: the grid place to dispatch to (needed for a finding outside the
    jurisdiction; otherwise routing chooses)."""
    place_id = (body or {}).get("place_id")
    if place_id is not None and (not isinstance(place_id, int) or isinstance(place_id, bool)):
        raise ApiError(422, "place_id", "place_id must be a place id (integer)", "body")
    try:
        out = dispatch_finding(
            grid_service(request),
            _scope(request, who),
            finding_id,
            who.user.id,
            now=clock(request),
            place_id=place_id,
            peer=client_ip(request),
        )
    except LookupError as exc:
        raise ApiError(404, "finding_id", str(exc), "path") from exc
    except ValueError as exc:
        raise ApiError(409, "finding_id", str(exc), "path") from exc
    except GridError as exc:
        raise api_error(exc) from exc
    return out.as_dict()


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return stamp(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _shift(text: str | None, request: Request) -> sr.Shift:
    if not text:
        return sr.shift_at(clock(request))
    try:
        return sr.parse_shift(text)
    except ValueError as exc:
        raise ApiError(422, "shift", str(exc)) from exc


def _template(request: Request) -> Any:
    """The bureau's shift-report template (setting ``reports.shift_template``), ``None`` for the packaged one."""
    return request.app.state.settings.reports.shift_template


def _whole(who: Principal, request: Request) -> None:
    if not _scope(request, who).unrestricted:
        raise ApiError(
            403, "user", "the shift report covers the whole jurisdiction: prefecture duty officers only", "header"
        )


@router.get("/shift-report", summary="The shift report: figures (JSON), printable page (html) or DOCX")
def get_shift_report(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    shift: Annotated[
        str | None, Query(description="YYYY-MM-DD (the 08:30 shift of that day) or YYYY-MM-DDTHH:MM, Beijing")
    ] = None,
    format: Annotated[str, Query(pattern="^(json|html|docx)$")] = "json",
    officer: Annotated[str, Query(max_length=64)] = "",
    handover_to: Annotated[str, Query(max_length=64)] = "",
) -> Any:
    _whole(who, request)
    sh = _shift(shift, request)
    store = store_of(request)
    officer = officer or who.user.display_name or who.user.login
    if format == "docx":
        return _docx(request, store, sh, officer, handover_to, "", "", who)
    try:
        r = sr.build(
            store, sh, officer=officer, handover_to=handover_to, now=clock(request), template=_template(request)
        )
    except sr.MarkupError as exc:
        raise ApiError(500, "template", str(exc), "settings") from exc
    if format == "html":
        return HTMLResponse(sr.printable_html(r))
    return {
        "shift": {"start": stamp(sh.start), "end": stamp(sh.end), "label": sh.label},
        "figures": {k: f.as_dict() for k, f in r.figures.items()},
        "lists": {k: [{c: _plain(v) for c, v in row.items()} for row in rows] for k, rows in r.lists.items()},
        "warnings": r.sources.warnings,
    }


@router.post("/shift-report", summary="Generate the shift report DOCX with the officer's notes; recorded")
def post_shift_report(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    """Body: ``shift`` (as the GET), ``officer``, ``handover_to``, ``notes``, ``handover_items`` (text)."""
    _whole(who, request)
    for key in ("shift", "officer", "handover_to", "notes", "handover_items"):
        if key in body and body[key] is not None and not isinstance(body[key], str):
            raise ApiError(422, key, f"{key} must be text", "body")
    sh = _shift(body.get("shift"), request)
    officer = body.get("officer") or who.user.display_name or who.user.login
    return _docx(
        request,
        store_of(request),
        sh,
        officer,
        body.get("handover_to") or "",
        body.get("notes") or "",
        body.get("handover_items") or "",
        who,
    )


def _docx(
    request: Request,
    store: Store,
    sh: sr.Shift,
    officer: str,
    handover_to: str,
    notes: str,
    items: str,
    who: Principal,
) -> Response:
    settings = request.app.state.settings
    try:
        path, rid, _ = sr.generate(
            store,
            sh,
            settings.data_dir / "reports" / "shift",
            officer=officer,
            handover_to=handover_to,
            notes=notes,
            handover_items=items,
            actor=who.user.login,
            now=clock(request),
            template=_template(request),
        )
    except sr.MarkupError as exc:
        raise ApiError(500, "template", str(exc), "settings") from exc
    return Response(
        path.read_bytes(),
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={
            "Content-Disposition": f'attachment; filename="{path.name}"',
            "X-Report-Id": str(rid),
        },
    )
