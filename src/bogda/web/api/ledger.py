"""Ledger API (governance.md §3.7, §3.12): list, read, create, update, Excel import/export per ledger, the KPI
figures of a period, and report generation/download.

Permissions (§3.12 "ledgers"): prefecture and county operators and enforcement officers read and export, viewers
read; editing and importing need the ``ledger_clerk`` capability (operators) or, for cases, the enforcement role.
County-level users see and write only records of counties in their scope. Refusals answer 403 with the reason and
are audited.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bogda import audit
from bogda.ledger import LEDGERS, LedgerError, add, events, records, update
from bogda.ledger.base import Ledger
from bogda.ledger.io import error_file, export_file, import_file, read_file
from bogda.ledger.kpi import ledger_figures
from bogda.ledger.period import Period
from bogda.registry.importers import ImportRejected
from bogda.store import Store
from bogda.store.schema import report, user_capability
from bogda.web.api.common import ApiError, Paging, PlaceTree, envelope, paging, store_of
from bogda.web.auth import Principal, require_user

router = APIRouter(tags=["ledgers"])

READ_ROLES = ("prefecture_operator", "county_operator", "enforcement_officer", "viewer")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _deny(store: Store, who: Principal, reason: str, target: str) -> ApiError:
    with store.begin() as conn:
        audit.record(
            conn,
            action="access.denied",
            user_id=who.user.id,
            login=who.user.login,
            target=target,
            detail={"reason": reason},
        )
    return ApiError(403, "ledger", reason, "path")


def _ledger(kind: str) -> Ledger:
    if kind not in LEDGERS:
        raise ApiError(404, "kind", f"unknown ledger {kind!r}; expected one of {', '.join(LEDGERS)}", "path")
    return LEDGERS[kind]


def can_read(who: Principal) -> bool:
    return any(r in READ_ROLES for r in who.user.roles)


def can_write(store: Store, who: Principal, kind: str) -> bool:
    roles = set(who.user.roles)
    if kind == "case" and "enforcement_officer" in roles:
        return True
    if not roles & {"prefecture_operator", "county_operator"}:
        return False
    with store.engine.connect() as conn:
        caps = set(
            conn.execute(select(user_capability.c.capability).where(user_capability.c.user_id == who.user.id)).scalars()
        )
    return "ledger_clerk" in caps


def county_codes(store: Store, who: Principal) -> set[str] | None:
    """County codes in the user's scope (``None`` = all)."""
    if who.places is None:
        return None
    tree = PlaceTree(store)
    nodes = [tree.nodes[i] for i in who.places if i in tree.nodes]
    codes = {n.code for n in nodes}
    if any(n.kind == "prefecture" for n in nodes):
        codes.add("")  # records without a county are the prefecture's own
    return codes


def _in_scope(row: dict[str, Any], codes: set[str] | None) -> bool:
    return codes is None or (row.get("county_code") or "") in codes


def jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def _reader(request: Request, who: Principal, target: str) -> Store:
    store = store_of(request)
    if not can_read(who):
        raise _deny(store, who, "your role may not read ledgers", target)
    return store


@router.get("/ledgers")
def list_ledgers(who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    """The ledgers with their fields (key, Chinese column name, type, required, choices)."""
    out = []
    for lg in LEDGERS.values():
        out.append(
            {
                "kind": lg.kind,
                "name": lg.zh,
                "name_en": lg.en,
                "key": lg.key,
                "fields": [
                    {"key": f.key, "name": f.zh, "type": f.kind, "required": f.required, "choices": list(f.choices)}
                    for f in lg.all_fields
                ],
            }
        )
    return envelope(out, Paging(1, len(out)), len(out))


@router.get("/ledgers/{kind}/records")
def list_records(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    kind: Annotated[str, PathParam(description="Ledger kind.")],
    county: Annotated[str | None, Query(description="Only this county code.")] = None,
) -> dict[str, Any]:
    """Records of a ledger in the user's scope."""
    lg = _ledger(kind)
    store = _reader(request, who, f"ledger:{kind}")
    codes = county_codes(store, who)
    rows = [r for r in records(store, lg) if _in_scope(r, codes) and (county is None or r.get("county_code") == county)]
    return envelope([jsonable(r) for r in rows[page.offset : page.offset + page.limit]], page, len(rows))


@router.get("/ledgers/{kind}/records/{record_id}")
def get_record(
    request: Request, who: Annotated[Principal, Depends(require_user)], kind: str, record_id: int
) -> dict[str, Any]:
    """One record with its append-only history."""
    lg = _ledger(kind)
    store = _reader(request, who, f"{kind}:{record_id}")
    rows = [r for r in records(store, lg) if r["id"] == record_id]
    if not rows or not _in_scope(rows[0], county_codes(store, who)):
        raise ApiError(404, "record_id", f"no {kind} record {record_id} in your scope", "path")
    return jsonable({**rows[0], "events": events(store, lg, record_id)})


def _write_guard(request: Request, who: Principal, kind: str, raw: dict[str, Any] | None) -> Store:
    store = store_of(request)
    if not can_write(store, who, kind):
        raise _deny(
            store,
            who,
            "editing ledgers needs the ledger_clerk capability (cases: enforcement officers)",
            f"ledger:{kind}",
        )
    codes = county_codes(store, who)
    if raw is not None and not _in_scope(raw, codes):
        raise _deny(store, who, "县区代码 (county_code) outside your scope", f"ledger:{kind}")
    return store


def _refused(exc: LedgerError) -> ApiError:
    err = ApiError(422, exc.problems[0][0] if exc.problems else "body", str(exc), "body")
    return err


@router.post("/ledgers/{kind}/records", status_code=201)
def create_record(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    kind: str,
    raw: Annotated[dict[str, Any], Body(description="Field key → value (see /ledgers).")],
) -> dict[str, Any]:
    """Add a record (or update the one with the same key); 422 naming the field at fault."""
    lg = _ledger(kind)
    store = _write_guard(request, who, kind, raw)
    try:
        rid = add(store, lg, raw, actor=who.user.login, user_id=who.user.id)
    except LedgerError as exc:
        raise _refused(exc) from None
    return {"id": rid}


@router.patch("/ledgers/{kind}/records/{record_id}")
def patch_record(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    kind: str,
    record_id: int,
    changes: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Change fields of a record (the whole record is validated again)."""
    lg = _ledger(kind)
    current = [r for r in records(store_of(request), lg) if r["id"] == record_id]
    if not current:
        raise ApiError(404, "record_id", f"no {kind} record {record_id}", "path")
    store = _write_guard(request, who, kind, {**current[0], **changes})
    try:
        update(store, lg, record_id, changes, actor=who.user.login, user_id=who.user.id)
    except LedgerError as exc:
        raise _refused(exc) from None
    return {"id": record_id}


@router.get("/ledgers/{kind}/export")
def export_ledger(request: Request, who: Annotated[Principal, Depends(require_user)], kind: str) -> Response:
    """All records of the ledger as .xlsx (the import layout)."""
    _ledger(kind)
    store = _reader(request, who, f"ledger:{kind}")
    return Response(
        export_file(store, kind),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{kind}.xlsx"'},
    )


@router.post("/ledgers/{kind}/import")
async def import_ledger(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    kind: str,
    file: Annotated[UploadFile, File(description=".xlsx or .csv in the export layout")],
    errors_as: Annotated[str, Query(description="json (default) or xlsx: the rejected rows as a file")] = "json",
) -> Any:
    """Import a file, all rows or none; 422 listing every rejected row (or the error file with ``errors_as=xlsx``)."""
    _ledger(kind)
    store = _write_guard(request, who, kind, None)
    suffix = Path(file.filename or "upload.xlsx").suffix or ".xlsx"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{Path(file.filename or 'upload').stem}{suffix}"
        path.write_bytes(await file.read())

        def run_import() -> Any:
            codes = county_codes(store, who)
            if codes is not None:
                outside = [line for line, rec in read_file(kind, path) if not _in_scope(rec, codes)]
                if outside:
                    raise _deny(store, who, f"rows {outside[:10]} name counties outside your scope", f"ledger:{kind}")
            return import_file(store, kind, path, actor=who.user.login, user_id=who.user.id)

        try:
            rep = await run_in_threadpool(run_import)  # validation and writes block: keep them off the event loop
        except ImportRejected as exc:
            if errors_as == "xlsx":
                return Response(
                    error_file(exc.errors),
                    status_code=422,
                    media_type=XLSX,
                    headers={"Content-Disposition": 'attachment; filename="errors.xlsx"'},
                )
            from fastapi.responses import JSONResponse

            return JSONResponse(
                {
                    "detail": f"import rejected, nothing written ({len(exc.errors)} error(s))",
                    "errors": [
                        {"field": e.column, "in": "file", "line": e.line, "reason": e.reason} for e in exc.errors
                    ],
                },
                status_code=422,
            )
    return {"written": rep.written}


@router.get("/ledgers/kpi")
def kpis(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    year: Annotated[int, Query(ge=2000, le=2100)],
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
) -> dict[str, Any]:
    """The ledger figures of a year (or month): value, numerator/denominator, query, record count and refs."""
    store = _reader(request, who, "ledger:kpi")
    period = Period.month(year, month) if month else Period.year(year)
    figs = [f.as_dict() for f in ledger_figures(store, period).values()]
    return envelope(figs, Paging(1, max(len(figs), 1)), len(figs))


@router.post("/reports/{kind}", status_code=201)
def generate_report(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    kind: Annotated[str, PathParam(description="monthly or annual")],
    period: Annotated[str, Query(description="YYYY-MM (monthly) or YYYY (annual)")],
) -> dict[str, Any]:
    """Generate a document now; answers its id (download with /reports/{id}/docx or /pdf)."""
    from bogda.reports import service

    store = _reader(request, who, f"report:{kind}")
    out = request.app.state.settings.data_dir / "reports"
    try:
        if kind == "monthly":
            y, m = (int(x) for x in period.split("-"))
            g = service.monthly(store, y, m, out, actor=who.user.login)
        elif kind == "annual":
            g = service.annual(store, int(period), out, actor=who.user.login)
        else:
            raise ApiError(404, "kind", "expected monthly or annual", "path")
    except ValueError:
        raise ApiError(422, "period", "expected YYYY-MM (monthly) or YYYY (annual)") from None
    return {"id": g.report_id, "warnings": g.warnings, "figures": len(g.figures)}


@router.get("/reports/{report_id}/{fmt}")
def download_report(
    request: Request, who: Annotated[Principal, Depends(require_user)], report_id: int, fmt: str
) -> Any:
    """The generated DOCX or PDF of a report; ``figures`` answers its provenance."""
    store = _reader(request, who, f"report:{report_id}")
    with store.engine.connect() as conn:
        row = conn.execute(select(report).where(report.c.id == report_id)).mappings().first()
    if row is None:
        raise ApiError(404, "report_id", f"no report {report_id}", "path")
    if fmt == "figures":
        return envelope(row["figures"], Paging(1, max(len(row["figures"]), 1)), len(row["figures"]))
    stem = "bulletin-" + row["period"] if row["kind"] == "monthly" else f"duty-report-{row['period']}"
    path = request.app.state.settings.data_dir / "reports" / f"{stem}.{fmt}"
    if fmt not in ("docx", "pdf") or not path.is_file():
        raise ApiError(404, "fmt", f"no {fmt} file for report {report_id}", "path")
    return FileResponse(path, filename=path.name)
