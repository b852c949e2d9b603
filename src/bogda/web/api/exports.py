"""Export API (monitoring.md §3.7): ``POST /exports`` answers the finished job (small exports) or 202 + id (above
200 000 rows (d): a background job); ``GET /exports/{id}`` its state and progress; ``GET /exports/{id}/file`` the
file while its link is valid (24 h; files kept 7 days)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import FileResponse, JSONResponse

from bogda.monitoring import exports as X
from bogda.timeutil import parse_time
from bogda.web.api.common import ApiError, store_of
from bogda.web.auth import Principal, require_user

router = APIRouter(tags=["exports"])
KINDS = ("series", "aqi_hourly", "aqi_daily", "completeness", "assessment")


def _estimate(query: dict[str, Any]) -> int:
    """Rough row count of an export (hours × stations × parameters for series)."""
    hours = (parse_time(str(query["end"])) - parse_time(str(query["start"]))).total_seconds() / 3600
    n_sites = len(query.get("sites") or []) or 100
    if query["kind"] == "series":
        return int(hours * n_sites * len(query.get("parameters") or [1] * 6))
    if query["kind"] == "aqi_hourly":
        return int(hours * n_sites)
    return int(hours / 24 * n_sites)


def _state(job: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in job.items() if k != "path"}
    if job["state"] == "done":
        out["file"] = f"/api/v1/exports/{job['id']}/file"
    return out


@router.post("/exports", summary="Export a series, AQI table, completeness or assessment")
def create_export(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    kind: Annotated[str, Body(description=", ".join(KINDS))],
    start: Annotated[str, Body(description="ISO 8601 with offset, or a Beijing date.")],
    end: Annotated[str, Body(description="End, exclusive.")],
    fmt: Annotated[str, Body(alias="format", description="csv, xlsx or parquet.")] = "csv",
    sites: Annotated[list[str] | None, Body()] = None,
    parameters: Annotated[list[str] | None, Body()] = None,
    wide: Annotated[bool, Body()] = False,
    encoding: Annotated[str, Body(description="CSV: utf-8-sig (default) or gb18030.")] = "utf-8-sig",
) -> JSONResponse:
    if kind not in KINDS:
        raise ApiError(422, "kind", f"unknown export kind {kind!r}; expected one of {', '.join(KINDS)}", "body")
    if fmt not in X.FORMATS:
        raise ApiError(422, "format", f"format must be one of {', '.join(X.FORMATS)}", "body")
    for name, value in (("start", start), ("end", end)):
        try:
            parse_time(value)
        except ValueError as exc:
            raise ApiError(422, name, f"unreadable time {value!r}", "body") from exc
    store = store_of(request)
    query = {
        "kind": kind,
        "start": start,
        "end": end,
        "sites": sites,
        "parameters": parameters,
        "wide": wide,
        "encoding": encoding,
    }
    folder = request.app.state.settings.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    big = _estimate(query) > X.JOB_THRESHOLD
    job_id = X.submit_job(store, query, fmt, folder, by=who.user.login, run=big)
    if big:
        return JSONResponse(_state(X.job_state(store, job_id) or {"id": job_id, "state": "queued"}), status_code=202)
    X.run_job(store, job_id, folder)
    return JSONResponse(_state(X.job_state(store, job_id) or {}), status_code=200)


@router.get("/exports/{job_id}", summary="State and progress of an export job")
def export_state(
    request: Request, who: Annotated[Principal, Depends(require_user)], job_id: Annotated[str, Path()]
) -> dict[str, Any]:
    job = X.job_state(store_of(request), job_id)
    if job is None:
        raise ApiError(404, "job_id", f"no export {job_id}", "path")
    return _state(job)


@router.get("/exports/{job_id}/file", summary="Download a finished export")
def export_file(
    request: Request, who: Annotated[Principal, Depends(require_user)], job_id: Annotated[str, Path()]
) -> FileResponse:
    job = X.job_state(store_of(request), job_id)
    if job is None:
        raise ApiError(404, "job_id", f"no export {job_id}", "path")
    if job["state"] != "done" or not job.get("path"):
        raise ApiError(
            409 if job["state"] in ("queued", "running") else 410, "job_id", f"export is {job['state']}", "path"
        )
    path = job["path"]
    media = {
        "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "parquet": "application/vnd.apache.parquet",
    }[job["fmt"]]
    return FileResponse(path, media_type=media, filename=f"bogda_{job['query'].get('kind')}_{job_id[:8]}.{job['fmt']}")
