"""Grid tasks over REST (governance.md §3.1–§3.6, §3.12): list and detail in the user's scope, transitions,
flags, bulk dispatch, evidence upload and download, hand-made findings, KPIs as JSON and Excel.

Refusals answer ``{"detail", "errors": [{"field", "in", "reason"}]}``: 403 out of scope or role (audited), 409 a
transition the state table does not allow (with the current state), 413/415 a refused upload (audited), 422 bad
input, 404 unknown ids. The service clock is ``app.state.clock`` when set (tests), else the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from bogda.findings import FindingDraft
from bogda.grid import routing
from bogda.grid.kpi import KPI_NAMES, to_excel
from bogda.grid.kpi_report import LEVEL_KINDS, kpi_rows, ratio_json
from bogda.grid.policy import Actor
from bogda.grid.service_base import GridError
from bogda.grid.states import EVENTS, STATES
from bogda.grid.tasks import GridConfig, GridService
from bogda.timeutil import BEIJING, now_utc
from bogda.web.api.common import ApiError, Paging, PlaceTree, envelope, paging, place_ref, stamp, store_of
from bogda.web.auth import Principal, client_ip, require_user

router = APIRouter(tags=["tasks"])

HAND_KINDS = {"patrol": "patrol", "petition": "petition", "upper_dispatch": "warning"}
"""Findings a person may file by hand (§3.12) → finding kind (an upper dispatch is filed as kind ``warning``
with ``evidence.source = upper_dispatch``)."""


def grid_service(request: Request) -> GridService:
    """The app's task service (made on first use; data under ``settings.data_dir``)."""
    svc = getattr(request.app.state, "grid", None)
    if svc is None:
        settings = request.app.state.settings
        svc = GridService(store_of(request), GridConfig(data_dir=settings.data_dir))
        request.app.state.grid = svc
    return svc


def clock(request: Request) -> datetime:
    fn: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return fn() if fn is not None else now_utc()


def actor_of(request: Request, who: Principal) -> Actor:
    return grid_service(request).actor(who.user.id)


def api_error(exc: GridError, where: str = "body") -> ApiError:
    err = ApiError(exc.status, exc.field or "task", exc.reason, where)
    return err


def _call(fn: Callable[[], Any], where: str = "body") -> Any:
    try:
        return fn()
    except GridError as exc:
        raise api_error(exc, where) from exc


def task_json(r: dict[str, Any], tree: PlaceTree) -> dict[str, Any]:
    node = tree.nodes.get(r["place_id"]) if r.get("place_id") is not None else None
    sup = tree.nodes.get(r["supervising_place_id"]) if r.get("supervising_place_id") is not None else None
    out = {
        k: r[k]
        for k in (
            "id",
            "source",
            "category",
            "severity",
            "state",
            "title",
            "measures",
            "verdict",
            "lon",
            "lat",
            "finding_id",
            "enterprise_id",
            "repeat_of",
            "repeat_count",
            "rework_count",
            "escalation_level",
            "card",
            "overdue",
            "outside_jurisdiction",
            "visible_to_enterprise",
            "sla_key",
        )
    }
    out["place"] = place_ref(node)
    out["county"] = place_ref(tree.up_to(r.get("place_id"), "county"))
    out["supervising_place"] = place_ref(sup)
    for k in (
        "created_at",
        "dispatched_at",
        "signed_at",
        "confirmed_at",
        "feedback_at",
        "reviewed_at",
        "closed_at",
        "sign_due",
        "site_due",
        "feedback_due",
        "close_due",
    ):
        out[k] = stamp(r.get(k))
    return out


def evidence_json(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": e["id"],
        "sha256": e["sha256"],
        "stage": e["stage"],
        "content_type": e["content_type"],
        "size": e["size"],
        "taken_at": stamp(e["taken_at"]),
        "lon": e["lon"],
        "lat": e["lat"],
        "coord_sys": e["coord_sys"],
        "device": e["device"],
        "flags": e["flags"],
        "passed": e["passed"],
        "uploaded_at": stamp(e["uploaded_at"]),
        "url": f"/api/v1/evidence/{e['id']}",
    }


@router.get("/tasks", summary="Tasks in the user's scope")
def list_tasks(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    state: Annotated[list[str] | None, Query(description=f"Repeatable: {', '.join(STATES)}.")] = None,
    source: Annotated[list[str] | None, Query(description="Repeatable task source.")] = None,
    severity: Annotated[list[str] | None, Query(description="Repeatable: P1 … P4.")] = None,
    place: Annotated[str | None, Query(description="Only tasks owned by this place or below (id or code).")] = None,
    overdue: Annotated[bool | None, Query()] = None,
) -> dict[str, Any]:
    for s in state or []:
        if s not in STATES:
            raise ApiError(422, "state", f"unknown state {s!r}; expected one of {', '.join(STATES)}")
    for s in source or []:
        if s not in routing.SOURCES:
            raise ApiError(422, "source", f"unknown source {s!r}; expected one of {', '.join(routing.SOURCES)}")
    for s in severity or []:
        if s not in routing.RANK:
            raise ApiError(422, "severity", f"unknown severity {s!r}; expected P1, P2, P3 or P4")
    store = store_of(request)
    tree = PlaceTree(store)
    svc = grid_service(request)
    rows, found = svc.list_tasks(
        actor_of(request, who),
        states=state,
        sources=source,
        severities=severity,
        place_ids=[tree.resolve(place)] if place else None,
        overdue=overdue,
        limit=page.limit,
        offset=page.offset,
    )
    return envelope([task_json(r, tree) for r in rows], page, found)


@router.get("/tasks/{task_id}", summary="One task with its events, findings and evidence")
def get_task(
    request: Request, task_id: Annotated[int, Path(ge=1)], who: Annotated[Principal, Depends(require_user)]
) -> dict[str, Any]:
    svc = grid_service(request)
    row = _call(
        lambda: svc.get_task(actor_of(request, who), task_id, now=clock(request), peer=client_ip(request)), "path"
    )
    out = task_json(row, PlaceTree(store_of(request)))
    out["events"] = [
        {
            "seq": e["seq"],
            "event": e["event"],
            "from": e["from_state"],
            "to": e["to_state"],
            "actor": e["actor_login"],
            "at": stamp(e["at"]),
            "comment": e["comment"],
            "attachments": e["attachments"],
            "detail": {k: v for k, v in (e["detail"] or {}).items() if k != "snap"},
        }
        for e in row["events"]
    ]
    out["evidence"] = [evidence_json(e) for e in row["evidence"]]
    out["findings"] = [
        {"finding_id": f["finding_id"], "role": f["role"], "attached_at": stamp(f["attached_at"])}
        for f in row["findings"]
    ]
    return out


class EventIn(BaseModel):
    event: str = Field(
        description=f"One of {', '.join(EVENTS)}; or a flag: escalate, reset_deadline, "
        "lower_severity, respond, visible."
    )
    comment: str | None = None
    attachments: list[int] = Field(default_factory=list, description="Evidence ids of this task.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="place_id, reason, measures, due, severity, visible …"
    )


FLAGS = ("escalate", "reset_deadline", "lower_severity", "respond", "visible")


@router.post("/tasks/{task_id}/events", summary="Apply a transition or a flag event")
def post_event(
    request: Request,
    task_id: Annotated[int, Path(ge=1)],
    body: EventIn,
    who: Annotated[Principal, Depends(require_user)],
) -> dict[str, Any]:
    svc = grid_service(request)
    actor = actor_of(request, who)
    now, peer = clock(request), client_ip(request)
    if body.event in FLAGS:
        row = _call(
            lambda: svc.flag(
                task_id,
                body.event,
                actor,
                now=now,
                comment=body.comment,
                attachments=body.attachments,
                params=body.params,
                peer=peer,
            )
        )
    else:
        row = _call(
            lambda: svc.transition(
                task_id,
                body.event,
                actor,
                now=now,
                comment=body.comment,
                attachments=body.attachments,
                params=body.params,
                peer=peer,
            )
        )
    return task_json(row, PlaceTree(store_of(request)))


class DispatchIn(BaseModel):
    task_ids: list[int] = Field(min_length=1, max_length=1000)
    place_id: int | None = None


@router.post("/tasks/dispatch", summary="Bulk dispatch: each task succeeds or fails on its own")
def bulk_dispatch(
    request: Request, body: DispatchIn, who: Annotated[Principal, Depends(require_user)]
) -> dict[str, Any]:
    svc = grid_service(request)
    out = svc.bulk_dispatch(
        body.task_ids, actor_of(request, who), now=clock(request), place_id=body.place_id, peer=client_ip(request)
    )
    return {"results": [{"task_id": k, "result": v} for k, v in out.items()]}


@router.post("/tasks/{task_id}/evidence", summary="Upload a photo (EXIF time and GPS checked)", status_code=201)
async def upload(
    request: Request,
    task_id: Annotated[int, Path(ge=1)],
    who: Annotated[Principal, Depends(require_user)],
    file: Annotated[UploadFile, File(description="JPEG or PNG, at most 10 MB.")],
    stage: Annotated[str, Form()] = "site",
    lon: Annotated[float | None, Form(description="App stamp, used when EXIF has no GPS.")] = None,
    lat: Annotated[float | None, Form()] = None,
    coord_sys: Annotated[str | None, Form(description="wgs84, gcj02 or bd09 (of the app stamp).")] = None,
    taken_at: Annotated[str | None, Form(description="App stamp time (ISO 8601), used when EXIF has none.")] = None,
) -> dict[str, Any]:
    svc = grid_service(request)
    limit = svc.config.limits.max_bytes
    data = await file.read(limit + 1)
    stamp_: dict[str, Any] = {"lon": lon, "lat": lat, "coord_sys": coord_sys, "taken_at": taken_at}
    row = _call(
        lambda: svc.add_evidence(
            task_id,
            actor_of(request, who),
            data,
            file.content_type or "",
            now=clock(request),
            stage=stage,
            filename=file.filename,
            stamp={k: v for k, v in stamp_.items() if v is not None},
            peer=client_ip(request),
        )
    )
    return evidence_json(row)


@router.get("/evidence/{evidence_id}", summary="An evidence file", response_class=FileResponse)
def evidence_file(
    request: Request, evidence_id: Annotated[int, Path(ge=1)], who: Annotated[Principal, Depends(require_user)]
) -> Response:
    svc = grid_service(request)
    path, ctype = _call(lambda: svc.evidence_file(actor_of(request, who), evidence_id, now=clock(request)), "path")
    if not path.exists():
        raise ApiError(404, "evidence_id", f"file of evidence {evidence_id} is missing on disk", "path")
    return FileResponse(path, media_type=ctype, headers={"Cache-Control": "private, max-age=3600"})


class FindingIn(BaseModel):
    kind: str = Field(description=f"One of {', '.join(HAND_KINDS)}.")
    title: str = Field(min_length=1, max_length=300)
    lon: float | None = None
    lat: float | None = None
    place_id: int | None = None
    severity: str | None = Field(default=None, description="P1 … P4; default per source.")
    category: str | None = Field(default=None, description=f"One of {', '.join(routing.CATEGORIES)}.")
    enterprise_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, description="Channel, document number, address …")


@router.post(
    "/tasks", summary="File a finding by hand (patrol, petition, upper dispatch) and route it", status_code=201
)
def create(request: Request, body: FindingIn, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    if body.kind not in HAND_KINDS:
        raise ApiError(422, "kind", f"kind {body.kind!r}; expected one of {', '.join(HAND_KINDS)}", "body")
    if body.category is not None and body.category not in routing.CATEGORIES:
        raise ApiError(422, "category", f"category {body.category!r} unknown", "body")
    if body.severity is not None and body.severity not in routing.RANK:
        raise ApiError(422, "severity", "severity must be P1, P2, P3 or P4", "body")
    if (body.lon is None) != (body.lat is None) or (body.lon is None and body.place_id is None):
        raise ApiError(422, "lon", "give lon and lat, or a place_id", "body")
    now = clock(request)
    kind = HAND_KINDS[body.kind]
    evidence = dict(body.detail)
    evidence["source"] = body.kind
    if body.category:
        evidence["category"] = body.category
    actor = actor_of(request, who)
    draft = FindingDraft(
        kind=kind,
        severity=body.severity or routing.DEFAULT_SEVERITY[body.kind],
        title=body.title,
        dedupe_key=f"hand:{body.kind}:{who.user.login}:{now.isoformat()}",
        detected_at=now,
        lon=body.lon,
        lat=body.lat,
        place_id=body.place_id,
        subject_site_id=body.enterprise_id,
        evidence=evidence,
    )
    svc = grid_service(request)
    out = _call(lambda: svc.file_finding(draft, now=now, actor=actor, peer=client_ip(request)))
    return {"action": out.action, "task_id": out.task_id, "finding_id": out.finding_id}


def _period(start: date | None, end: date | None, now: datetime) -> tuple[datetime, datetime]:
    today = now.astimezone(BEIJING).date()
    start = start or today.replace(day=1)
    end = end or (today + timedelta(days=1))
    if end <= start:
        raise ApiError(422, "end", "end must be after start")
    as_dt = lambda d: datetime.combine(d, time(0), tzinfo=BEIJING)  # noqa: E731
    return as_dt(start), as_dt(end)


@router.get("/kpis", summary="KPIs per place of a level over a period (Beijing dates, end exclusive)")
def kpis(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    level: Annotated[str, Query(description=f"One of {', '.join(LEVEL_KINDS)}.")] = "county",
    start: Annotated[date | None, Query(description="First day (default: the 1st of this month).")] = None,
    end: Annotated[date | None, Query(description="Day after the last (default: tomorrow).")] = None,
) -> dict[str, Any]:
    if level not in LEVEL_KINDS:
        raise ApiError(422, "level", f"level {level!r}; expected one of {', '.join(LEVEL_KINDS)}")
    now = clock(request)
    s, e = _period(start, end, now)
    rows = kpi_rows(grid_service(request), actor_of(request, who), s, e, level=level, as_of=max(s, min(e, now)))
    return {
        "meta": {
            "level": level,
            "start": s.isoformat(),
            "end": e.isoformat(),
            "names": {k: {"zh": v[0], "en": v[1], "dp": v[2]} for k, v in KPI_NAMES.items()},
        },
        "results": [
            {
                "place_id": r["place_id"],
                "place": r["place"],
                "kpis": {k: ratio_json(v) for k, v in r["kpis"].items()},
                "overdue_open": r["overdue"],
                "score": None if r["score"] is None else float(r["score"]),
                "grade": r["grade"],
            }
            for r in rows
        ],
    }


@router.get("/kpis.xlsx", summary="The same KPIs as an Excel workbook")
def kpis_xlsx(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    level: Annotated[str, Query()] = "county",
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
    lang: Annotated[str, Query(pattern="^(zh|en)$")] = "zh",
) -> Response:
    if level not in LEVEL_KINDS:
        raise ApiError(422, "level", f"level {level!r}; expected one of {', '.join(LEVEL_KINDS)}")
    now = clock(request)
    s, e = _period(start, end, now)
    rows = kpi_rows(grid_service(request), actor_of(request, who), s, e, level=level, as_of=max(s, min(e, now)))
    last = (e - timedelta(days=1)).date()
    title = f"网格任务考核指标 {s.date()} — {last}" if lang == "zh" else f"Grid task KPIs {s.date()} — {last}"
    data = to_excel(rows, title=title, language=lang)
    name = f"kpi_{level}_{s.date()}_{last}.xlsx"
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/tasks/on-the-spot", summary="立行立改: a patrol finding fixed at once (one atomic action)", status_code=201
)
async def on_the_spot(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    title: Annotated[str, Form(min_length=1, max_length=300)],
    lon: Annotated[float, Form()],
    lat: Annotated[float, Form()],
    measures: Annotated[str, Form(min_length=1)],
    files: Annotated[list[UploadFile], File(description="Photos taken while fixing (JPEG/PNG).")],
    category: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    if category is not None and category not in routing.CATEGORIES:
        raise ApiError(422, "category", f"category {category!r} unknown", "body")
    svc = grid_service(request)
    now = clock(request)
    photos = [(await f.read(svc.config.limits.max_bytes + 1), f.content_type or "") for f in files]
    evidence: dict[str, Any] = {"source": "patrol", **({"category": category} if category else {})}
    draft = FindingDraft(
        kind="patrol",
        severity="P3",
        title=title,
        dedupe_key=f"spot:{who.user.login}:{now.isoformat()}",
        detected_at=now,
        lon=lon,
        lat=lat,
        evidence=evidence,
    )
    out = _call(
        lambda: svc.on_the_spot(
            draft, actor_of(request, who), now=now, photos=photos, measures=measures, peer=client_ip(request)
        )
    )
    return {"action": out.action, "task_id": out.task_id, "finding_id": out.finding_id}


@router.get("/sla-rules", summary="The SLA table: named defaults, their selection and the overrides")
def sla_rules(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    return grid_service(request).sla_table()


@router.put("/sla-rules/{source}/{severity}", summary="Set (or with null remove) an SLA override")
def put_sla_rule(
    request: Request,
    source: str,
    severity: str,
    who: Annotated[Principal, Depends(require_user)],
    spec: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, Any]:
    svc = grid_service(request)
    _call(
        lambda: svc.set_sla_rule(
            actor_of(request, who), source, severity, spec, now=clock(request), peer=client_ip(request)
        )
    )
    return svc.sla_table()


class HolidayIn(BaseModel):
    kind: str | None = Field(description="off (holiday), work (调休 working weekend) or null (shipped table).")
    name: str = ""


@router.put("/holidays/{day}", summary="Edit one day of the working-day calendar")
def put_holiday(
    request: Request, day: date, body: HolidayIn, who: Annotated[Principal, Depends(require_user)]
) -> dict[str, Any]:
    svc = grid_service(request)
    _call(
        lambda: svc.set_holiday(
            actor_of(request, who), day, body.kind, name=body.name, now=clock(request), peer=client_ip(request)
        )
    )
    return {"day": day.isoformat(), "kind": body.kind, "name": body.name}
