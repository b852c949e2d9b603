"""Month-to-date and year-to-date air quality against the annual targets, and the 7-day forecast strip, for the big
screen (issue 11 §1; governance.md §3.8 "Annual targets").

The figures come from the monitoring package: :func:`bogda.monitoring.assessment.assess` over the stored daily AQI
rows (``aqi_daily``) of one area, dust days excluded (扣除沙尘) — the basis the targets are set on — and the
forecast package's latest run (:func:`bogda.web.api.forecast.strip_rows`). Nothing is estimated here except the
projection the governance spec defines.

Definitions (governance.md §3.8)
--------------------------------
* MTD: the Beijing days of this month up to now; YTD: of this year. The same period last year ends on the same
  calendar day one year earlier.
* ``good_day_ratio`` [%] = good days / valid days; ``pm25_mean`` [µg/m³] = mean of the valid daily PM2.5 means.
* Projection of the annual value = last year's annual value × (YTD / last year's same-period value) [D] — PM2.5 in
  Xinjiang is winter-heavy, so a raw YTD misleads early in the year.
* Status against a target: ``met`` when the judged value (the projection, else YTD) satisfies the target by more
  than :data:`AT_RISK_PCT` of the target, ``at_risk`` when it satisfies it within that margin, ``not_met``
  otherwise.
* A relative target (e.g. PM2.5 −20 % against 2020) resolves to base-year value × (1 + change / 100), the base year
  assessed on the same basis.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path as PathLib
from pathlib import PurePath
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Body, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bogda.monitoring.assessment import SWITCH, assess, read_daily, read_dust
from bogda.registry.importers import ImportRejected
from bogda.store import Store
from bogda.store.schema import air_target, place
from bogda.timeutil import beijing_date, day_start_utc, now_utc
from bogda.web.api.bigscreen import ScreenScope, scope_of_user
from bogda.web.api.common import ApiError, store_of
from bogda.web.api.targets_io import (
    COMPARISONS,
    export_targets,
    import_targets,
    place_problem,
    target_places,
    target_problems,
    target_row,
    upsert_target,
)
from bogda.web.auth import Principal, record_audit, require_user

router = APIRouter(prefix="/bigscreen", tags=["bigscreen"])

AT_RISK_PCT = 5.0
"""Margin [% of the target] within which a met target is ``at_risk`` (governance.md §5 ``target_at_risk``)."""
METRICS = {"pm25_mean": "mean_pm25", "good_day_ratio": "good_day_ratio", "heavy_day_ratio": "heavy_day_ratio"}
"""Target metric → assessment metric. (``composite_index`` targets need a full year of six pollutants and are
listed but not judged here.)"""
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DUST_MODE = "dust_excluded"
PROGRESS_TTL_S = 300.0
FORECAST_TTL_S = 60.0


# --- pure calculations ----------------------------------------------------------------------------------------


def projection(ytd: float | None, last_same: float | None, last_annual: float | None) -> float | None:
    """Projected annual value = ``last_annual`` × ``ytd`` / ``last_same`` (governance.md §3.8 [D]).

    >>> round(projection(40.0, 50.0, 35.0), 1)
    28.0
    >>> projection(40.0, 0.0, 35.0) is None
    True
    """
    if ytd is None or last_same is None or last_annual is None or last_same == 0:
        return None
    return last_annual * ytd / last_same


def resolve_target(kind: str, value: float, base_value: float | None) -> float | None:
    """The absolute target: ``value`` itself, or for a relative target ``base_value`` × (1 + ``value`` / 100).

    >>> resolve_target("relative", -20.0, 50.0)
    40.0
    >>> resolve_target("absolute", 33.0, None)
    33.0
    """
    if kind == "absolute":
        return value
    if kind != "relative":
        raise ValueError(f"target kind must be 'absolute' or 'relative', not {kind!r}")
    return None if base_value is None else base_value * (1 + value / 100)


def target_status(value: float | None, target: float | None, comparison: str, at_risk_pct: float = AT_RISK_PCT) -> str:
    """``met``, ``at_risk``, ``not_met`` or ``unknown`` (no value or no target); see the module docstring.

    >>> target_status(30.0, 33.0, "<="), target_status(32.0, 33.0, "<="), target_status(34.0, 33.0, "<=")
    ('met', 'at_risk', 'not_met')
    >>> target_status(80.0, 75.5, ">="), target_status(76.0, 75.5, ">=")
    ('met', 'at_risk')
    """
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {COMPARISONS}, not {comparison!r}")
    if value is None or target is None:
        return "unknown"
    margin = abs(target) * at_risk_pct / 100
    if comparison == "<=":
        return "not_met" if value > target else ("at_risk" if value > target - margin else "met")
    return "not_met" if value < target else ("at_risk" if value < target + margin else "met")


def same_day_last_year(d: date) -> date:
    """The same calendar day a year earlier (29 February → 28 February)."""
    try:
        return d.replace(year=d.year - 1)
    except ValueError:
        return d.replace(year=d.year - 1, day=28)


# --- the service ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Beijing days ``first..last`` inclusive."""

    name: str
    first: date
    last: date


def windows(today: date) -> list[Window]:
    """MTD and YTD of ``today``'s year and the same periods last year, and last year in full."""
    ly = same_day_last_year(today)
    return [
        Window("mtd", today.replace(day=1), today),
        Window("ytd", today.replace(month=1, day=1), today),
        Window("mtd_last_year", ly.replace(day=1), ly),
        Window("ytd_last_year", ly.replace(month=1, day=1), ly),
        Window("last_year", date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    ]


def one_per_day(daily: pl.DataFrame, prefer: str | None = None) -> pl.DataFrame:
    """One daily row per target and day: the row on the ``prefer`` basis (``"2012"``/``"2026"``) when stored, else
    the row on the standard in force that day (``aqi_daily`` may hold both after a recomputation)."""
    if daily.height == 0 or "standard" not in daily.columns:
        return daily
    in_force = pl.when(pl.col("date") >= SWITCH).then(pl.lit("2026")).otherwise(pl.lit("2012"))
    rank = pl.when(pl.col("standard") == (prefer or in_force)).then(0).otherwise(1)
    return (
        daily.with_columns(rank.alias("_rank"))
        .sort("target_kind", "target_code", "date", "_rank")
        .unique(subset=["target_kind", "target_code", "date"], keep="first", maintain_order=True)
        .drop("_rank")
    )


def _metric_values(
    daily: pl.DataFrame, dust: pl.DataFrame, anc: dict[str, list[str]], w: Window, prefer: str | None = None
) -> dict[str, Any]:
    part = one_per_day(daily.filter(pl.col("date").is_between(w.first, w.last)), prefer)
    out: dict[str, Any] = {"first": w.first.isoformat(), "last": w.last.isoformat()}
    if part.height == 0:
        return out | {m: None for m in ("good_day_ratio", "mean_pm25", "heavy_day_ratio", "good_days", "valid_days")}
    res = assess(part, period="custom", custom=(w.first, w.last), dust=dust, ancestors=anc, dust_modes=(DUST_MODE,))
    vals = {m: v for m, v in res.select("metric", "value").iter_rows()}

    def num(m: str) -> float | None:
        v = vals.get(m)
        return None if v is None or v != v else float(v)

    return out | {
        "good_day_ratio": num("good_day_ratio"),
        "mean_pm25": num("mean_pm25"),
        "heavy_day_ratio": num("heavy_day_ratio"),
        "good_days": num("good_days"),
        "valid_days": num("valid_days"),
        "standards": sorted(set(part["standard"].drop_nulls().to_list())) if "standard" in part.columns else [],
    }


def area_progress(store: Store, code: str, *, now: datetime | None = None) -> dict[str, Any]:
    """MTD/YTD good-day ratio and PM2.5 of area ``code`` with last year's values, targets, gaps and projections.

    Returns
    -------
    dict
        ``code, name, today, windows{mtd, ytd, mtd_last_year, ytd_last_year, last_year: {first, last,
        good_day_ratio, mean_pm25, heavy_day_ratio, good_days, valid_days, standards}}, targets[{metric,
        comparison, target, kind, base_year, base_value, standard_version, ytd, projected, judged, gap, status,
        source_doc, basis_note}]``. ``gap`` = judged value − target (negative is better for ``<=`` targets).
    """
    now = now or now_utc()
    today = beijing_date(now)
    ws = windows(today)
    with store.engine.connect() as conn:
        p = conn.execute(select(place.c.name, place.c.kind, place.c.parent_id).where(place.c.code == code)).first()
        if p is None:
            raise LookupError(f"no area with code {code!r}")
        parent = (
            conn.execute(select(place.c.code).where(place.c.id == p.parent_id)).scalar()
            if p.parent_id is not None
            else None
        )
        trows = conn.execute(
            select(air_target).where(air_target.c.place_code == code, air_target.c.year == today.year)
        ).all()
    base_years = sorted({t.base_year for t in trows if t.kind == "relative" and t.base_year is not None})
    first = date(min([today.year - 1, *base_years]), 1, 1)
    daily = read_daily(store, start=day_start_utc(first), end=now, codes=[code])
    daily = daily.filter(pl.col("target_kind") == p.kind) if daily.height else daily
    dust = read_dust(store, start=first, end=today)
    anc = {code: [parent]} if parent else {}
    figures = {w.name: _metric_values(daily, dust, anc, w) for w in ws}
    targets = []
    for t in trows:
        metric = METRICS.get(t.metric)
        base_value = None
        if t.kind == "relative" and t.base_year is not None and metric is not None:
            base = Window("base", date(t.base_year, 1, 1), date(t.base_year, 12, 31))
            base_value = _metric_values(daily, dust, anc, base, t.standard_version).get(metric)
        target = resolve_target(t.kind, t.value, base_value)
        # judged on the target's basis (standard version): rows of that basis are used where stored
        on_basis = {w.name: _metric_values(daily, dust, anc, w, t.standard_version) for w in ws[1:]}
        ytd = on_basis["ytd"].get(metric) if metric else None
        proj = (
            projection(ytd, on_basis["ytd_last_year"].get(metric), on_basis["last_year"].get(metric))
            if metric
            else None
        )
        judged = proj if proj is not None else ytd
        used = set(on_basis["ytd"].get("standards") or [])
        note = (
            f"target set on the {t.standard_version} basis; this year's daily AQI is on {', '.join(sorted(used))}"
            if used and used != {t.standard_version}
            else ""
        )
        targets.append(
            {
                "metric": t.metric,
                "comparison": t.comparison,
                "target": target,
                "kind": t.kind,
                "value": t.value,
                "base_year": t.base_year,
                "base_value": base_value,
                "standard_version": t.standard_version,
                "dust_excluded": t.dust_excluded,
                "ytd": ytd,
                "projected": proj,
                "judged": judged,
                "gap": None if judged is None or target is None else judged - target,
                "status": target_status(judged, target, t.comparison) if metric else "unknown",
                "source_doc": t.source_doc,
                "basis_note": note,
            }
        )
    return {"code": code, "name": p.name, "today": today.isoformat(), "windows": figures, "targets": targets}


_cache: dict[tuple[int, str, str], tuple[float, Any]] = {}
_lock = threading.Lock()


def _cached(key: tuple[int, str, str], ttl: float, make: Any) -> Any:
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < ttl:
        return hit[1]
    with _lock:
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        value = make()
        _cache[key] = (time.monotonic(), value)
        return value


def forget(store: Store) -> None:
    """Drop the cached progress and forecast of ``store`` (after a target changes)."""
    for k in [k for k in _cache if k[0] == id(store)]:
        _cache.pop(k, None)


def shared_progress(store: Store, scope: ScreenScope) -> dict[str, Any] | None:
    """:func:`area_progress` of the scope's headline area, cached for :data:`PROGRESS_TTL_S`."""
    if scope.headline is None:
        return None
    return _cached(
        (id(store), "progress", scope.headline), PROGRESS_TTL_S, lambda: area_progress(store, scope.headline)
    )


def forecast_strip(store: Store, scope: ScreenScope) -> list[dict[str, Any]]:
    """The 7-day AQI strip (mean, p10–p90, level) of the latest forecast run for the areas in scope."""
    from bogda.web.api.forecast import strip_rows

    rows = _cached((id(store), "forecast", ""), FORECAST_TTL_S, lambda: strip_rows(store))
    return [r for r in rows if scope.sees_area(r["code"])]


# --- the API --------------------------------------------------------------------------------------------------


@router.get("/progress", summary="Month- and year-to-date good-day ratio and PM2.5 against the annual targets")
def progress(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    store = store_of(request)
    scope = scope_of_user(store, who)
    out = shared_progress(store, scope)
    if out is None:
        raise ApiError(404, "user", "your scope contains no prefecture or county", "header")
    return out


@router.get("/forecast", summary="The 7-day AQI forecast strip of the areas in the user's scope")
def forecast(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    store = store_of(request)
    return {"results": forecast_strip(store, scope_of_user(store, who))}


@router.get("/targets", summary="Annual air-quality targets of the areas in the user's scope")
def list_targets(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    store = store_of(request)
    scope = scope_of_user(store, who)
    with store.engine.connect() as conn:
        rows = conn.execute(select(air_target).order_by(air_target.c.year, air_target.c.place_code)).mappings().all()
    out = []
    for r in rows:
        if scope.sees_area(r["place_code"]):
            item = dict(r)
            item["entered_at"] = item["entered_at"].isoformat() if item["entered_at"] else None
            out.append(item)
    return {"results": out}


def _admin_only(store: Store, who: Principal, target: str) -> None:
    """403 (audited) unless ``who`` is an administrator: targets are entered by administrators (§3.12)."""
    if "admin" in who.user.roles:
        return
    reason = "annual targets are entered by an administrator (governance.md §3.12)"
    record_audit(
        store, "access.denied", login=who.user.login, user_id=who.user.id, target=target, detail={"reason": reason}
    )
    raise ApiError(403, "user", reason, "header")


@router.put("/targets/{place_code}/{year}/{metric}", summary="Enter or replace an annual target (administrators)")
def put_target(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    place_code: Annotated[str, Path(max_length=12)],
    year: Annotated[int, Path(ge=2000, le=2100)],
    metric: Annotated[str, Path()],
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Body: ``comparison`` (``<=``/``>=``), ``value``, optional ``kind`` (absolute|relative), ``base_year`` (for
    relative), ``standard_version`` (2012|2026), ``dust_excluded`` (default true), ``source_doc``. Checked by
    :func:`bogda.web.api.targets_io.target_problems`, the validator the Excel import uses."""
    store = store_of(request)
    _admin_only(store, who, f"air_target:{place_code}:{year}:{metric}")
    rec = {
        "place_code": place_code,
        "year": year,
        "metric": metric,
        "comparison": body.get("comparison"),
        "value": body.get("value"),
        "kind": body.get("kind", "absolute"),
        "base_year": body.get("base_year"),
        "standard_version": str(body.get("standard_version", "2012")),
        "dust_excluded": body.get("dust_excluded", True),
        "source_doc": body.get("source_doc", ""),
    }
    problems = target_problems(rec)
    if problems:
        field, reason = problems[0]
        raise ApiError(422, field, reason, "path" if field in ("place_code", "metric") else "body")
    with store.engine.connect() as conn:
        missing = place_problem(place_code, target_places(conn))
    if missing:
        raise ApiError(404, "place_code", missing, "path")
    row = target_row(rec, actor=who.user.login)
    with store.begin() as conn:
        upsert_target(conn, row)
    record_audit(
        store,
        "air_target.set",
        login=who.user.login,
        user_id=who.user.id,
        target=f"air_target:{place_code}:{year}:{metric}",
        detail={k: v for k, v in row.items() if k != "entered_at"},
    )
    forget(store)
    return {**row, "entered_at": row["entered_at"].isoformat()}


@router.get("/targets.xlsx", summary="The annual targets in the user's scope as Excel (the import layout)")
def export_targets_xlsx(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    store = store_of(request)
    scope = scope_of_user(store, who)
    data = export_targets(store, year, codes=scope.codes)
    name = f"air_targets_{year}.xlsx" if year else "air_targets.xlsx"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/targets/import", summary="Import annual targets from Excel/CSV, all rows or none (administrators)")
async def import_targets_file(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    file: Annotated[UploadFile, File(description=".xlsx or .csv in the export layout")],
) -> Any:
    """Upsert the file's targets by (place_code, year, metric); 422 listing every rejected row, nothing written."""
    store = store_of(request)
    _admin_only(store, who, "air_target:import")
    name = PurePath(file.filename or "upload.xlsx").name
    suffix = PurePath(name).suffix or ".xlsx"
    with tempfile.TemporaryDirectory() as tmp:
        path = PathLib(tmp) / f"{PurePath(name).stem}{suffix}"
        path.write_bytes(await file.read())
        try:  # validation and writes block: keep them off the event loop
            rep = await run_in_threadpool(import_targets, store, path, who.user.login, user_id=who.user.id)
        except ImportRejected as exc:
            return JSONResponse(
                {
                    "detail": f"import rejected, nothing written ({len(exc.errors)} error(s))",
                    "errors": [
                        {"field": e.column, "in": "file", "line": e.line, "reason": e.reason} for e in exc.errors
                    ],
                },
                status_code=422,
            )
    forget(store)
    return {"written": rep.written}
