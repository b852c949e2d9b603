"""``/api/v1/forecast/publication``: the published daily forecast (预报发布, :mod:`bogda.forecast.publication`).

Every user reads the draft, the publication in force, today's duty (published, due by 20:00, overdue) and the
published ranges' scores against the observed daily AQI. Publishing needs the ``admin`` role or the ``forecaster``
capability (the duty forecaster, governance.md §5); a publication is never edited, a correction is a new one that
supersedes it and keeps it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from bogda.forecast import publication as pb
from bogda.store import Store
from bogda.store.schema import user_capability
from bogda.timeutil import beijing_date, now_utc
from bogda.web.api.common import ApiError, stamp, store_of
from bogda.web.auth import Principal, require_user

router = APIRouter(prefix="/forecast/publication", tags=["forecast"])

CAPABILITY = "forecaster"
"""The capability that may publish the daily forecast (besides the ``admin`` role)."""


class DayIn(BaseModel):
    """One area and day of a publication."""

    area_code: str
    day: date
    aqi_lo: int = Field(ge=0, le=500)
    aqi_hi: int = Field(ge=0, le=500)
    primary: str | None = Field(None, description="PM2.5, PM10, O3 (8 h), NO2, SO2, CO; several joined by ','")


def can_publish(store: Store, who: Principal) -> bool:
    """Admin, or the ``forecaster`` capability."""
    if "admin" in who.user.roles:
        return True
    with store.engine.connect() as conn:
        caps = set(
            conn.execute(select(user_capability.c.capability).where(user_capability.c.user_id == who.user.id)).scalars()
        )
    return CAPABILITY in caps


def entry_out(e: pb.DayEntry | dict[str, Any]) -> dict[str, Any]:
    """A draft entry or a stored day, in the API's shape."""
    if isinstance(e, pb.DayEntry):
        return {
            "area_code": e.area_code,
            "day": e.day.isoformat(),
            "aqi_lo": e.aqi_lo,
            "aqi_hi": e.aqi_hi,
            "primary": e.primary,
            "model_aqi": e.model_aqi,
            "model_primary": e.model_primary,
        }
    return {
        "area_code": e["area_code"],
        "day": e["day"].isoformat(),
        "lead": e["lead"],
        "aqi_lo": e["aqi_lo"],
        "aqi_hi": e["aqi_hi"],
        "primary": e["primary_pollutant"],
        "model_aqi": e["model_aqi"],
        "model_primary": e["model_primary"],
        "corrected": e["corrected"],
    }


def publication_out(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p["id"],
        "issue_date": p["issue_date"].isoformat(),
        "run_id": p["run_id"],
        "published_by": p["published_by"],
        "published_at": stamp(p["published_at"]),
        "note": p["note"],
        "supersedes": p["supersedes"],
        "days": [entry_out(d) for d in p["days"]],
    }


def status_out(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "issue_date": s["issue_date"].isoformat(),
        "deadline": stamp(s["deadline"]),
        "published": s["published"],
        "published_at": stamp(s["published_at"]),
        "published_by": s["published_by"],
        "late": s["late"],
        "overdue": s["overdue"],
        "finding_id": s["finding_id"],
    }


@router.get("/draft", summary="Today's publication drafted from the latest run (AQI ranges and primary pollutants)")
def get_draft(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    store = store_of(request)
    today = beijing_date(now_utc())
    run_id, entries = pb.draft(store, today)
    return {"issue_date": today.isoformat(), "run_id": run_id, "days": [entry_out(e) for e in entries]}


@router.get("/status", summary="Today's duty: published by 20:00 Beijing (HJ 633-2026), late or overdue")
def get_status(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    return status_out(pb.status(store_of(request)))


@router.get("/scores", summary="Published AQI ranges against the observed daily AQI, beside the model's drafts")
def get_scores(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    start: Annotated[date | None, Query(description="first issue date (default: 30 days ago)")] = None,
    end: Annotated[date | None, Query(description="last issue date (default: yesterday)")] = None,
) -> dict[str, Any]:
    today = beijing_date(now_utc())
    end = end or today - timedelta(days=1)
    start = start or end - timedelta(days=29)
    if start > end:
        raise ApiError(422, "start", f"start {start} is after end {end}", "query")
    return {"start": start.isoformat(), "end": end.isoformat(), "results": pb.scores(store_of(request), start, end)}


@router.get("", summary="The publication in force for an issue date (default today)")
def get_publication(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    issue_date: Annotated[date | None, Query(alias="date")] = None,
) -> dict[str, Any]:
    day = issue_date or beijing_date(now_utc())
    pub = pb.current(store_of(request), day)
    if pub is None:
        raise ApiError(404, "date", f"no forecast published for {day}", "query")
    return publication_out(pub)


@router.post("", status_code=201, summary="Publish today's forecast (supersedes an earlier publication of today)")
def post_publication(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    days: Annotated[list[DayIn], Body(embed=True)],
    note: Annotated[str, Body(embed=True)] = "",
    run_id: Annotated[int | None, Body(embed=True, description="the run it was drafted from")] = None,
) -> dict[str, Any]:
    store = store_of(request)
    if not can_publish(store, who):
        raise ApiError(403, "user", f"publishing the forecast needs the {CAPABILITY} capability or admin", "header")
    entries = []
    for i, d in enumerate(days):
        try:
            primary = pb.primary_label(d.primary)
        except ValueError as exc:
            raise ApiError(422, f"days[{i}].primary", str(exc), "body") from exc
        entries.append(pb.DayEntry(d.area_code, d.day, d.aqi_lo, d.aqi_hi, primary))
    today = beijing_date(now_utc())
    try:
        pb.publish(store, entries, by=who.user.login, issue_date=today, run_id=run_id, note=note)
    except ValueError as exc:
        raise ApiError(422, "days", str(exc), "body") from exc
    except LookupError as exc:
        raise ApiError(422, "run_id", str(exc), "body") from exc
    pub = pb.current(store, today)
    if pub is None:  # cannot happen: the publication was just committed
        raise ApiError(500, "days", "the publication was not stored", "body")
    return publication_out(pub)
