"""Non-site supervision API: clue inbox, clue detail with evidence and plot, confirm / dismiss, enterprise page,
compliance string, non-site case share KPI, on-demand run (enforcement.md §5).

Scopes: staff see clues whose finding lies in their places (:attr:`Principal.places`); an enterprise user sees only
clues of their own enterprise (``user.scope_enterprise_id``). Confirming, dismissing and running need the
``enforcement_officer`` or ``admin`` role. An out-of-scope clue answers 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bogda.enforcement import casework, exports, inbox, recordbook, service
from bogda.enforcement.clues import echarts_option, render_svg
from bogda.enforcement.inbox import CLUE_STATUS_ZH
from bogda.enforcement.rules import RULES
from bogda.store.schema import site
from bogda.timeutil import BEIJING, now_utc
from bogda.web.api.common import ApiError, Paging, envelope, paging, stamp, store_of
from bogda.web.auth import Principal, require_user

router = APIRouter(tags=["enforcement"])
ACTORS = ("admin", "enforcement_officer")
"""Roles that may confirm, dismiss and run."""


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return stamp(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and v != v:
        return None
    return v


def enterprise_only(who: Principal) -> int | None:
    """The enterprise an enterprise user is limited to (``None`` for staff)."""
    staff = set(who.user.roles) - {"enterprise_user"}
    if "enterprise_user" in who.user.roles and not staff:
        return who.user.scope_enterprise_id if who.user.scope_enterprise_id is not None else -1
    return None


def scope_args(who: Principal) -> dict[str, Any]:
    ent = enterprise_only(who)
    if ent is not None:
        return {"enterprise_ids": [ent], "place_ids": None}
    return {"enterprise_ids": None, "place_ids": None if who.places is None else sorted(who.places)}


def _require_actor(who: Principal) -> None:
    if not set(who.user.roles) & set(ACTORS):
        raise ApiError(403, "role", f"needs one of the roles {', '.join(ACTORS)}", "header")


def _visible_clue(request: Request, who: Principal, finding_id: int) -> dict[str, Any]:
    rows, _ = inbox.list_clues(store_of(request), finding_id=finding_id, limit=1, **scope_args(who))
    if not rows:
        raise ApiError(404, "finding_id", f"no clue {finding_id}", "path")
    return rows[0]


def _visible_enterprise(request: Request, who: Principal, enterprise_id: int) -> None:
    ent = enterprise_only(who)
    with store_of(request).engine.connect() as conn:
        row = conn.execute(
            select(site.c.place_id).where(site.c.id == enterprise_id, site.c.kind == "enterprise")
        ).first()
    if row is None or (ent is not None and ent != enterprise_id) or (ent is None and not who.sees(row.place_id)):
        raise ApiError(404, "enterprise_id", f"no enterprise {enterprise_id}", "path")


def clue_json(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "finding_id": r["finding_id"],
        "clue_id": r["clue_id"],
        "rule_id": r["rule_id"],
        "rule_name": r["rule_name"],
        "severity": r["severity"],
        "severity_zh": r["severity_zh"],
        "status": r["status"],
        "status_zh": r["status_zh"],
        "finding_status": r["finding_status"],
        "title": r["title"],
        "enterprise": {"id": r["enterprise_id"], "code": r["enterprise_code"], "name": r["enterprise_name"]},
        "subject": {"id": r["subject_site_id"], "code": r["subject_code"], "name": r["subject_name"]},
        "channel": r["channel"],
        "window_start": stamp(r["window_start"]),
        "window_end": stamp(r["window_end"]),
        "metrics": _jsonable(r["metrics"]),
        "version": r["version"],
        "bundle_sha256": r["bundle_sha256"],
        "place_id": r["place_id"],
        "count": r["count"],
    }


@router.get("/clues", summary="Clue inbox (violation clues of non-site supervision)")
def clues(
    request: Request,
    page: Annotated[Paging, Depends(paging)],
    who: Annotated[Principal, Depends(require_user)],
    status: Annotated[list[str] | None, Query(description="Clue status, repeatable (NEW, CASE_FILED …).")] = None,
    rule: Annotated[str | None, Query(description="Rule id, e.g. C01.")] = None,
    severity: Annotated[str | None, Query(description="S1, S2 or S3.")] = None,
    enterprise: Annotated[int | None, Query(description="Enterprise site id.")] = None,
) -> dict[str, Any]:
    for s in status or []:
        if s not in CLUE_STATUS_ZH:
            raise ApiError(422, "status", f"unknown clue status {s!r}; expected one of {', '.join(CLUE_STATUS_ZH)}")
    if rule is not None and rule not in RULES:
        raise ApiError(422, "rule", f"unknown rule {rule!r}")
    if severity is not None and severity not in ("S1", "S2", "S3"):
        raise ApiError(422, "severity", "expected S1, S2 or S3")
    rows, found = inbox.list_clues(
        store_of(request),
        status=status,
        rule_id=rule,
        severity=severity,
        enterprise=enterprise,
        limit=page.limit,
        offset=page.offset,
        **scope_args(who),
    )
    return envelope([clue_json(r) for r in rows], page, found)


@router.get("/clues/export", summary="Clues as flat CSV or JSON with the field dictionary")
def clues_export(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    fmt: Annotated[Literal["csv", "json", "fields"], Query(alias="format")] = "csv",
    rule: Annotated[str | None, Query(max_length=8)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The clues in the caller's scope; ``format=fields`` answers the field dictionary as CSV."""
    rows = exports.clue_rows(store_of(request), rule_id=rule, status=status, **scope_args(who))
    if fmt == "json":
        return Response(exports.to_json(rows, "clues"), media_type="application/json")
    data, fields = exports.to_csv(rows, "clues")
    name = "clues.fields.csv" if fmt == "fields" else "clues.csv"
    return Response(
        fields if fmt == "fields" else data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/clues/{finding_id}", summary="One clue with its evidence bundle")
def clue(
    request: Request, finding_id: Annotated[int, Path(ge=1)], who: Annotated[Principal, Depends(require_user)]
) -> dict[str, Any]:
    _visible_clue(request, who, finding_id)
    d = inbox.clue_detail(store_of(request), finding_id)
    assert d is not None
    out = clue_json(d)
    ev = d["evidence"]
    out |= {
        "rule_version": d["rule_version"],
        "param_version": d["param_version"],
        "param_sha256": d["param_sha256"],
        "params": d["params"],
        "legal_basis": d["legal_basis"],
        "limit_source": d["limit_source"],
        "meter_ids": d["meter_ids"],
        "supersedes": d["supersedes"],
        "feedback": d["feedback"],
        "evidence": _jsonable({k: v for k, v in ev.items() if k != "plots"}),
        "plot": echarts_option(d["plots"][0]) if d["plots"] else None,
        "case": _jsonable(d["case"]) if d["case"] else None,
    }
    return out


@router.get("/clues/{finding_id}/plot.svg", summary="The clue's evidence plot as SVG")
def clue_plot_svg(
    request: Request, finding_id: Annotated[int, Path(ge=1)], who: Annotated[Principal, Depends(require_user)]
) -> Response:
    _visible_clue(request, who, finding_id)
    d = inbox.clue_detail(store_of(request), finding_id)
    if not d or not d["plots"]:
        raise ApiError(404, "finding_id", f"clue {finding_id} has no plot", "path")
    return Response(render_svg(d["plots"][0]), media_type="image/svg+xml")


class ConfirmBody(BaseModel):
    open_case: bool = Field(True, description="Register a case (立案) from the clue.")
    case_no: str | None = Field(None, max_length=64, description="Case number; default FXC-<year>-<nnnn>.")
    note: str | None = Field(None, max_length=2000)


class DismissBody(BaseModel):
    verdict: Literal["FALSE_POSITIVE", "EXCUSED"] = "FALSE_POSITIVE"
    reason: str = Field(..., min_length=1, max_length=2000)


@router.post("/clues/{finding_id}/confirm", summary="Confirm a clue (and open a case)")
def confirm(
    request: Request,
    finding_id: Annotated[int, Path(ge=1)],
    who: Annotated[Principal, Depends(require_user)],
    body: Annotated[ConfirmBody, Body()] = ConfirmBody(),
) -> dict[str, Any]:
    _require_actor(who)
    _visible_clue(request, who, finding_id)
    try:
        return casework.confirm_clue(
            store_of(request),
            finding_id,
            by=who.user.login,
            user_id=who.user.id,
            open_case=body.open_case,
            case_no=body.case_no,
            note=body.note,
        )
    except ValueError as exc:
        raise ApiError(409, "finding_id", str(exc), "path") from exc


@router.post("/clues/{finding_id}/dismiss", summary="Dismiss a clue with a reason")
def dismiss(
    request: Request,
    finding_id: Annotated[int, Path(ge=1)],
    who: Annotated[Principal, Depends(require_user)],
    body: Annotated[DismissBody, Body()],
) -> dict[str, Any]:
    _require_actor(who)
    _visible_clue(request, who, finding_id)
    if not body.reason.strip():
        raise ApiError(422, "reason", "a reason is required", "body")
    try:
        return casework.dismiss_clue(
            store_of(request),
            finding_id,
            reason=body.reason,
            by=who.user.login,
            verdict=body.verdict,
            user_id=who.user.id,
        )
    except ValueError as exc:
        raise ApiError(409, "finding_id", str(exc), "path") from exc


@router.get("/enforcement/enterprises/{enterprise_id}", summary="Enterprise page: outlets, meters, plans, clues")
def enterprise_page(
    request: Request, enterprise_id: Annotated[int, Path(ge=1)], who: Annotated[Principal, Depends(require_user)]
) -> dict[str, Any]:
    _visible_enterprise(request, who, enterprise_id)
    d = inbox.enterprise_detail(store_of(request), enterprise_id)
    assert d is not None
    d["clues"] = [clue_json(r) for r in d["clues"]]
    return _jsonable(d)


class MarkBody(BaseModel):
    """A CEMS data mark (标记) entered through the platform (MEE marking rules; enforcement.md §2 "Marks")."""

    target: str = Field(description="Outlet code (or production-facility meter code) of the enterprise.")
    mark_type: Literal["startup", "shutdown", "stopped", "fault_accident", "maintenance", "calibration", "other"]
    start: datetime = Field(description="Start, with a time zone offset.")
    end: datetime = Field(description="End (exclusive), with a time zone offset.")
    reason: str = ""


@router.get("/enforcement/enterprises/{enterprise_id}/marks", summary="CEMS data marks of an enterprise")
def enterprise_marks(
    request: Request,
    enterprise_id: Annotated[int, Path(ge=1)],
    who: Annotated[Principal, Depends(require_user)],
    start: Annotated[datetime | None, Query(description="Marks ending after this time.")] = None,
    end: Annotated[datetime | None, Query(description="Marks starting before this time.")] = None,
) -> dict[str, Any]:
    _visible_enterprise(request, who, enterprise_id)
    rows = recordbook.list_marks(store_of(request), enterprise_id=enterprise_id, start=start, end=end)
    return {"items": _jsonable(rows), "count": len(rows)}


@router.post("/enforcement/marks", summary="Enter a CEMS data mark (enterprise user: own outlets only)")
def add_mark(
    request: Request, who: Annotated[Principal, Depends(require_user)], body: Annotated[MarkBody, Body()]
) -> dict[str, Any]:
    """An enterprise user marks its own outlets; officers and admins any. ``entered_at`` is now (C04 audits marks
    entered more than 24 h after their start)."""
    ent = enterprise_only(who)
    if ent is None:
        _require_actor(who)
    for name, t in (("start", body.start), ("end", body.end)):
        if t.tzinfo is None:
            raise ApiError(422, name, "give a time zone offset (e.g. 2026-01-01T08:00:00+08:00)")
    store = store_of(request)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(site.c.parent_id, site.c.place_id).where(
                site.c.code == body.target, site.c.kind.in_(("outlet", "meter"))
            )
        ).first()
    if row is None or (ent is not None and row.parent_id != ent) or (ent is None and not who.sees(row.place_id)):
        raise ApiError(404, "target", f"no outlet or meter {body.target!r}", "body")
    try:
        with store.begin() as conn:
            mark_id = recordbook.add_mark(
                conn,
                target=body.target,
                mark_type=body.mark_type,
                start=body.start,
                end=body.end,
                entered_by=who.user.login,
                reason=body.reason,
            )
    except ValueError as exc:
        raise ApiError(422, "body", str(exc), "body") from exc
    except IntegrityError as exc:
        raise ApiError(409, "start", "a mark of this type already starts then on this target", "body") from exc
    return {"mark_id": mark_id, "enterprise_id": row.parent_id}


@router.get("/enforcement/enterprises/{enterprise_id}/compliance", summary="Compliance strings (12 quarters)")
def enterprise_compliance(
    request: Request, enterprise_id: Annotated[int, Path(ge=1)], who: Annotated[Principal, Depends(require_user)]
) -> dict[str, Any]:
    _visible_enterprise(request, who, enterprise_id)
    return casework.compliance(store_of(request), enterprise_id)


def _year_bounds(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    for name, t in (("start", start), ("end", end)):
        if t is not None and t.tzinfo is None:
            raise ApiError(422, name, "give a time zone offset (e.g. 2026-01-01T00:00:00+08:00)")
    year = now_utc().astimezone(BEIJING).year
    a = start or datetime(year, 1, 1, tzinfo=BEIJING)
    b = end or datetime(year + 1, 1, 1, tzinfo=BEIJING)
    if b <= a:
        raise ApiError(422, "end", "end must be after start")
    return a, b


@router.get("/enforcement/config-gaps", summary="Rules not evaluable for a missing registry item (config gaps)")
def config_gaps(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    if enterprise_only(who) is not None:
        raise ApiError(403, "role", "the config-gaps report is for bureau staff", "header")
    rows = [r for r in service.config_gaps(store_of(request)) if who.sees(r["place_id"])]
    return {"items": _jsonable(rows), "count": len(rows)}


@router.get("/enforcement/kpi/non-site", summary="Non-site case share (非现场执法占比), both bases")
def kpi_non_site(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    start: Annotated[datetime | None, Query(description="Period start (default: 1 Jan this year, Beijing).")] = None,
    end: Annotated[datetime | None, Query(description="Period end, exclusive (default: 1 Jan next year).")] = None,
) -> dict[str, Any]:
    if enterprise_only(who) is not None:
        raise ApiError(403, "role", "the KPI is for bureau staff", "header")
    a, b = _year_bounds(start, end)
    return casework.non_site_kpi(store_of(request), a, b)


class RunBody(BaseModel):
    since: datetime
    until: datetime
    enterprises: list[str] | None = None


@router.post("/clues/run", summary="Run the rule catalogue now over a window (idempotent)")
def run_now(
    request: Request, who: Annotated[Principal, Depends(require_user)], body: Annotated[RunBody, Body()]
) -> dict[str, Any]:
    _require_actor(who)
    if body.since.tzinfo is None or body.until.tzinfo is None or body.until <= body.since:
        raise ApiError(422, "since", "give aware times with until after since", "body")
    rep = service.run_clues(
        store_of(request), since=body.since, until=body.until, enterprises=body.enterprises, job="clues.api"
    )
    return {
        "run_id": rep.run_id,
        "hits": rep.hits,
        "created": rep.created,
        "updated": rep.updated,
        "unchanged": rep.unchanged,
        "not_evaluable": rep.not_evaluable,
        "errors": len(rep.errors),
        "by_rule": rep.by_rule,
    }
