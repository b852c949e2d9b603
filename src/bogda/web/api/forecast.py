"""``/api/v1/forecast``: the latest forecast run, the 7-day AQI strip per area, station/area series against
observations, verification scores, warnings (with decisions), emergency lists (with the Excel download) and the
hand-entered emission-control events (forecast.md §2, :mod:`bogda.forecast.control`), the days-avoided
evaluations (forecast.md §3.9, ``intervention_eval``) and the bureau's source-apportionment shares behind each
list's emission-based estimate (§3.9 step 6, :mod:`bogda.forecast.source_share`).

A face (architecture rule 4): parses input, calls :mod:`bogda.forecast.service` / :mod:`bogda.forecast.emergency`,
renders the answer. Issuing, changing or lifting a warning needs the ``admin`` role or the ``warning_issuer``
capability (governance.md §5); decisions are audited in ``warning_event``. Entering or deleting a control event
needs the same, and so does entering or deleting a source-apportionment share.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import numpy as np
import polars as pl
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from bogda.forecast import avoided as av
from bogda.forecast import control as ctl
from bogda.forecast import emergency as em
from bogda.forecast import service as sv
from bogda.forecast import source_share as ss
from bogda.store import Store
from bogda.store.schema import emergency_list, user_capability
from bogda.timeutil import beijing_date, now_utc
from bogda.web.api.common import ApiError, Paging, envelope, paging, stamp, store_of
from bogda.web.auth import Principal, require_user

router = APIRouter(prefix="/forecast", tags=["forecast"])
DECISIONS = {"issue": "issued", "reject": "rejected", "change": "changed", "lift": "lifted"}


def _num(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


STALE_AFTER = timedelta(hours=2)
"""A forecast issued longer ago than this is marked stale (refreshes run hourly, d; forecast.md §6)."""


def latest(store: Store, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The latest run that wrote a forecast, with its age, whether it is stale, and the newest failed refresh since
    (forecast.md §6: a failed refresh leaves the last forecast visible, marked stale with its age)."""
    run = sv.latest_run(store)
    failed = sv.failed_since(store, run["id"] if run else None)
    if run is None:
        return None
    issued = run["issue_time"] if run["issue_time"].tzinfo else run["issue_time"].replace(tzinfo=UTC)
    age = (now or now_utc()) - issued
    return {
        "age_h": round(age.total_seconds() / 3600, 1),
        "stale": age > STALE_AFTER,
        "last_failure": (
            {"at": stamp(failed["created_at"]), "reasons": failed["reasons"]} if failed is not None else None
        ),
        "id": run["id"],
        "issue_time": stamp(run["issue_time"]),
        "status": run["status"],
        "reasons": run["reasons"],
        "profile": run["profile"],
        "model_version": run["model_version"],
        "weather_mode": run["weather_mode"],
        "nwp_source": run.get("nwp_source"),
        "nwp_run_time": stamp(run.get("nwp_run_time")),
        "observed_weather": run.get("observed_weather"),
        "n_values": run["n_values"],
        "duration_ms": run["duration_ms"],
    }


def strip_rows(store: Store, *, kinds: tuple[str, ...] = ("county", "prefecture")) -> list[dict[str, Any]]:
    """Daily AQI D+1..D+7 (mean, p10, p90, level, primary) per area of the latest run, and under ``today`` the
    run's AQI of today (observed hours and the hourly forecast of the rest, :data:`bogda.forecast.service.TODAY_METHOD`;
    ``None`` for runs stored before it was kept), the value the warning proposal counted for today."""
    run = sv.latest_run(store)
    if run is None:
        return []
    vals = sv.run_values(store, run["id"], items=["AQI"], resolution="day")
    if vals.height == 0:
        return []
    reg = sv.registry(store)
    names = {t.code: t.name for t in reg.targets}
    out = []
    for (code,), g in vals.filter(pl.col("target_kind").is_in(list(kinds))).group_by(["target_code"]):
        g = g.sort("lead")
        today = g.filter(pl.col("method") == sv.TODAY_METHOD)
        t = today.row(0, named=True) if today.height else None
        out.append(
            {
                "code": code,
                "name": names.get(code, code),
                "kind": g["target_kind"][0],
                "today": None
                if t is None
                else {
                    "date": beijing_date(t["valid_start"]).isoformat(),
                    "aqi": _num(t["mean"]),
                    "level": t["level"],
                    "primary": t["primary_pollutant"],
                    "observed_hours": (t["prob"] or {}).get("observed_hours"),
                },
                "days": [
                    {
                        "date": beijing_date(r["valid_start"]).isoformat(),
                        "lead": r["lead"],
                        "aqi": _num(r["mean"]),
                        "p10": _num(r["p10"]),
                        "p90": _num(r["p90"]),
                        "level": r["level"],
                        "primary": r["primary_pollutant"],
                        "prob": r["prob"],
                    }
                    for r in g.filter(pl.col("method") != sv.TODAY_METHOD).iter_rows(named=True)
                ],
            }
        )
    return sorted(out, key=lambda r: (r["kind"] != "prefecture", r["code"]))


def series_payload(store: Store, target: str, item: str, *, hours_back: int = 72) -> dict[str, Any]:
    """Hourly forecast of the latest run (primary + stored baselines) and the observations of the last hours."""
    run = sv.latest_run(store)
    if run is None:
        raise ApiError(404, "run", "no forecast run yet")
    vals = sv.run_values(store, run["id"], targets=[target], items=[item], resolution="hour")
    if vals.height == 0:
        raise ApiError(404, "target", f"no forecast of {item} for {target} in run {run['id']}")
    methods: dict[str, list[dict[str, Any]]] = {}
    for (method,), g in vals.group_by(["method"]):
        methods[str(method)] = [
            {"t": stamp(r["valid_start"]), "lead": r["lead"], "mean": r["mean"], "p10": r["p10"], "p90": r["p90"]}
            for r in g.sort("valid_start").iter_rows(named=True)
        ]
    reg = sv.registry(store)
    panel = sv.load_panel(store, reg, run["issue_time"], days=max(1, math.ceil(hours_back / 24)) + 1)
    obs: list[dict[str, Any]] = []
    if target in panel.stations and item in panel.data:
        i = panel.stations.index(target)
        t_end = panel.position(run["issue_time"])
        for t in range(max(0, t_end - hours_back), t_end):
            v = panel.data[item][i, t]
            obs.append({"t": stamp(panel.start_utc + timedelta(hours=t)), "value": None if np.isnan(v) else float(v)})
    primary = next((m for m in methods if m.startswith("lgbm")), "damped_persistence")
    return {
        "run": latest(store),
        "target": target,
        "item": item,
        "primary": primary,
        "forecast": methods,
        "observed": obs,
    }


def _issuer(store: Store, who: Principal) -> None:
    if "admin" in who.user.roles:
        return
    with store.engine.connect() as conn:
        caps = set(
            conn.execute(select(user_capability.c.capability).where(user_capability.c.user_id == who.user.id)).scalars()
        )
    if "warning_issuer" not in caps:
        raise ApiError(403, "user", "issuing warnings needs the warning_issuer capability", "header")


def warning_rows(store: Store, who: Principal) -> list[dict[str, Any]]:
    tree_codes = None
    if who.places is not None:
        from bogda.web.api.common import PlaceTree

        tree = PlaceTree(store)
        tree_codes = {code for code, pid in tree.by_code.items() if who.sees(pid)}
    out = []
    for w in sv.warnings(store):
        if tree_codes is not None and w["area_code"] not in tree_codes:
            continue
        out.append(
            {
                "id": w["id"],
                "area_code": w["area_code"],
                "rule_set": w["rule_set"],
                "level": w["level"],
                "cause": w["cause"],
                "start_date": str(w["start_date"]),
                "end_date": str(w["end_date"]),
                "state": w["state"],
                "doc_no": w["doc_no"],
                "decided_by": w["decided_by"],
                "decided_at": stamp(w["decided_at"]),
                "finding_id": w["finding_id"],
                "proposal": (w["evidence"] or {}).get("proposal"),
                "emergency_list": (w["evidence"] or {}).get("emergency_list", {}).get("id"),
            }
        )
    return out


@router.get("/runs/latest", summary="The latest operational forecast run (status, reasons, weather mode)")
def runs_latest(request: Request, who: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    run = latest(store_of(request))
    return envelope([run] if run else [], Paging(1, 1), 1 if run else 0)


@router.get("/strip", summary="7-day daily AQI per county and the prefecture with p10–p90")
def strip(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
) -> dict[str, Any]:
    rows = strip_rows(store_of(request))
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.get("/series/{target}", summary="Hourly forecast (model and baselines) against the observed hours")
def series(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    target: Annotated[str, Path(description="Station or area code")],
    item: Annotated[str, Query(description="Pollutant code, e.g. a34004")] = "a34004",
) -> dict[str, Any]:
    return series_payload(store_of(request), target, item)


@router.get("/scores", summary="Stored verification scores (RMSE, MAE, skill vs climatology and damped persistence)")
def verification(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    protocol: Annotated[str | None, Query()] = None,
    target: Annotated[str | None, Query()] = None,
    item: Annotated[
        str | None, Query(description="one forecast item, e.g. daily_mean_PM2.5, daily_max_8h_O3 or daily_AQI")
    ] = None,
    metrics: Annotated[
        str | None,
        Query(
            description="comma-separated figures (default RMSE, MAE, SS_clim, SS_damped; for item daily_AQI the "
            "AQI check's: AQI_RMSE, level_acc, primary_acc, TS_O3_8h_gt160, …)"
        ),
    ] = None,
) -> dict[str, Any]:
    from bogda.forecast.aqi_check import AQI_METRICS

    wanted = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else []
    if not wanted:
        wanted = list(AQI_METRICS if item == "daily_AQI" else sv.SCORE_METRICS)
    t = sv.scores(store_of(request), protocol=protocol, target=target, item=item, metrics=wanted)
    rows = [{k: _num(v) for k, v in r.items()} for r in t.iter_rows(named=True)] if t.height else []
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.get(
    "/checks", summary="Stored warning and advisory checks (POD, FAR, TS, ETS, lead time; forecast.md §3.8, §3.9)"
)
def checks(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    item: Annotated[str | None, Query(description="warning or advisory")] = None,
) -> dict[str, Any]:
    t = sv.check_scores(store_of(request))
    if item is not None and t.height:
        t = t.filter(t["item"] == item)
    rows = [{k: _num(v) for k, v in r.items()} for r in t.iter_rows(named=True)] if t.height else []
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.get("/warnings", summary="Warnings (proposed, issued, changed, lifted, rejected)")
def list_warnings(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
) -> dict[str, Any]:
    rows = warning_rows(store_of(request), who)
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.post("/warnings/{warning_id}/decision", summary="Issue, reject, change or lift a warning (audited)")
def decide(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    warning_id: Annotated[int, Path()],
    action: Annotated[str, Body(embed=True, description="issue | reject | change | lift")],
    level: Annotated[str | None, Body(embed=True)] = None,
    doc_no: Annotated[str | None, Body(embed=True)] = None,
    note: Annotated[str | None, Body(embed=True)] = None,
) -> dict[str, Any]:
    store = store_of(request)
    _issuer(store, who)
    if action not in DECISIONS:
        raise ApiError(422, "action", f"action must be one of {sorted(DECISIONS)}", "body")
    try:
        w = sv.decide_warning(
            store, warning_id, DECISIONS[action], by=who.user.login, level=level, doc_no=doc_no, note=note
        )
    except LookupError as exc:
        raise ApiError(404, "warning_id", str(exc), "path") from exc
    except ValueError as exc:
        raise ApiError(409, "action", str(exc), "body") from exc
    return {"id": warning_id, "state": w["state"], "level": w["level"], "emergency_list": w.get("list_id")}


@router.get("/emergency", summary="Active emergency-reduction lists with their totals")
def emergency_lists(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
) -> dict[str, Any]:
    store = store_of(request)
    rows = [
        {
            "id": r["id"],
            "warning_id": r["warning_id"],
            "version": r["version"],
            "area_code": r["area_code"],
            "level": r["level"],
            "doc_no": r["doc_no"],
            "template_version": r["template_version"],
            "totals": r["totals"],
            # Δconc ≈ local share × emission cut, or why there is none (forecast.md §3.9 step 6)
            "emission_estimate": ss.list_estimate(store, r["id"]),
            "created_at": stamp(r["created_at"]),
        }
        for r in em.active_list(store)
    ]
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.get("/emergency/{list_id}", summary="One emergency list with its enterprises and required reductions")
def emergency_detail(
    request: Request, who: Annotated[Principal, Depends(require_user)], list_id: Annotated[int, Path()]
) -> dict[str, Any]:
    store = store_of(request)
    try:
        head, items = em.list_rows(store, list_id)
    except LookupError as exc:
        raise ApiError(404, "list_id", str(exc), "path") from exc
    head["created_at"] = stamp(head["created_at"])
    head["ended_at"] = stamp(head["ended_at"])
    head["emission_estimate"] = ss.list_estimate(store, list_id, items)
    return {"list": head, "items": items}


@router.get("/emergency/{list_id}/xlsx", summary="The emergency list as an Excel workbook (清单, 汇总, 说明)")
def emergency_xlsx(
    request: Request, who: Annotated[Principal, Depends(require_user)], list_id: Annotated[int, Path()]
) -> Response:
    store = store_of(request)
    with store.engine.connect() as conn:
        exists = conn.execute(select(emergency_list.c.id).where(emergency_list.c.id == list_id)).scalar()
    if exists is None:
        raise ApiError(404, "list_id", f"emergency list {list_id} does not exist", "path")
    data = em.export_xlsx(store, list_id)
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="emergency_list_{list_id}.xlsx"'},
    )


def _event(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "area_code": r["area_code"],
        "start": stamp(r["start"]),
        "end": stamp(r["end"]),
        "kind": r["kind"],
        "level": r["level"],
        "doc_no": r["doc_no"],
        "note": r["note"],
        "entered_by": r["entered_by"],
        "created_at": stamp(r["created_at"]),
    }


@router.get("/control-events", summary="Hand-entered emission-control events (special events, responses)")
def list_control_events(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    area_code: Annotated[str | None, Query()] = None,
    start: Annotated[datetime | None, Query(description="overlapping from (aware ISO time)")] = None,
    end: Annotated[datetime | None, Query(description="overlapping until (aware ISO time)")] = None,
) -> dict[str, Any]:
    for name, ts in (("start", start), ("end", end)):
        if ts is not None and ts.tzinfo is None:
            raise ApiError(422, name, f"{name} needs a time zone (Z or +08:00)", "query")
    rows = [_event(r) for r in ctl.list_control_events(store_of(request), area_code=area_code, start=start, end=end)]
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.post("/control-events", status_code=201, summary="Enter an emission-control event (forecast.md §2)")
def add_control_event(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    area_code: Annotated[str, Body(embed=True)],
    start: Annotated[datetime, Body(embed=True, description="aware ISO time")],
    end: Annotated[datetime, Body(embed=True, description="aware ISO time, after start")],
    kind: Annotated[str, Body(embed=True, description="special_event | emergency_response | staggered_production")],
    level: Annotated[int, Body(embed=True, description="0–4; 1–4 for emergency_response, else 0")] = 0,
    doc_no: Annotated[str, Body(embed=True)] = "",
    note: Annotated[str | None, Body(embed=True)] = None,
) -> dict[str, Any]:
    store = store_of(request)
    _issuer(store, who)
    try:
        eid = ctl.add_control_event(
            store, area_code, start, end, kind, level=level, doc_no=doc_no, note=note, by=who.user.login
        )
    except ctl.ControlEventError as exc:
        raise ApiError(422, exc.field, str(exc), "body") from exc
    row = next(r for r in ctl.list_control_events(store, area_code=area_code) if r["id"] == eid)
    return _event(row)


@router.delete("/control-events/{event_id}", summary="Delete a control event entered by mistake")
def delete_control_event(
    request: Request, who: Annotated[Principal, Depends(require_user)], event_id: Annotated[int, Path()]
) -> dict[str, Any]:
    store = store_of(request)
    _issuer(store, who)
    try:
        ctl.delete_control_event(store, event_id)
    except LookupError as exc:
        raise ApiError(404, "event_id", str(exc), "path") from exc
    return {"id": event_id, "deleted": True}


SOURCE_HELP = "industry | coal | traffic | dust | biomass | secondary | other | local (the total local share)"


def _share(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("id", *ss.ENTRY_FIELDS, "entered_by")} | {"entered_at": stamp(r["entered_at"])}


@router.get("/source-shares", summary="The bureau's source-apportionment shares (源解析结果) by area and source")
def list_source_shares(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    area_code: Annotated[str | None, Query()] = None,
    pollutant: Annotated[str | None, Query(description="PM2.5 | PM10 | SO2 | NO2")] = None,
) -> dict[str, Any]:
    rows = [_share(r) for r in ss.list_source_shares(store_of(request), area_code=area_code, pollutant=pollutant)]
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.post(
    "/source-shares",
    status_code=201,
    summary="Enter a source-apportionment share from the bureau's study (forecast.md §3.9 step 6)",
)
def add_source_share(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    area_code: Annotated[str, Body(embed=True, description="place code (county or prefecture)")],
    source: Annotated[str, Body(embed=True, description=SOURCE_HELP)],
    share: Annotated[float, Body(embed=True, description="fraction 0–1 of the concentration")],
    source_doc: Annotated[str, Body(embed=True, description="the source-apportionment study (源解析报告)")],
    pollutant: Annotated[str, Body(embed=True, description="PM2.5 | PM10 | SO2 | NO2")] = "PM2.5",
    season: Annotated[str, Body(embed=True, description="heating | non_heating | heavy | all")] = "all",
    share_low: Annotated[float | None, Body(embed=True)] = None,
    share_high: Annotated[float | None, Body(embed=True)] = None,
    study_year: Annotated[int | None, Body(embed=True)] = None,
    note: Annotated[str | None, Body(embed=True)] = None,
) -> dict[str, Any]:
    store = store_of(request)
    _issuer(store, who)
    try:
        sid = ss.add_source_share(
            store,
            area_code,
            source,
            share,
            source_doc=source_doc,
            pollutant=pollutant,
            season=season,
            share_low=share_low,
            share_high=share_high,
            study_year=study_year,
            note=note,
            by=who.user.login,
        )
    except ss.SourceShareError as exc:
        raise ApiError(422, exc.field, str(exc), "body") from exc
    return _share(next(r for r in ss.list_source_shares(store, area_code=area_code) if r["id"] == sid))


@router.delete("/source-shares/{share_id}", summary="Delete a source-apportionment share entered by mistake")
def delete_source_share(
    request: Request, who: Annotated[Principal, Depends(require_user)], share_id: Annotated[int, Path()]
) -> dict[str, Any]:
    store = store_of(request)
    _issuer(store, who)
    try:
        ss.delete_source_share(store, share_id, by=who.user.login)
    except LookupError as exc:
        raise ApiError(404, "share_id", str(exc), "path") from exc
    return {"id": share_id, "deleted": True}


def intervention_row(r: dict[str, Any], *, detail: bool = False) -> dict[str, Any]:
    """One ``intervention_eval`` row for the API; ``display`` says what may be shown (:func:`avoided.presentation`:
    the avoided figure only with its interval and a passed placebo test, forecast.md §1, §3.9 step 5)."""
    out = {
        "id": r["id"],
        "label": r["label"],
        "targets": r["targets"],
        "controls": r["controls"],
        "pollutant": r["pollutant"],
        "event": r["event"],
        "window_start": r["window_start"].isoformat(),
        "window_end": r["window_end"].isoformat(),
        "n_obs": r["n_obs"],
        "verdict": r["verdict"],
        "created_at": stamp(r["created_at"]),
        "display": av.presentation(r),
    }
    if detail:
        # the raw figures stay available to the analyst with the checks they were judged on
        out |= {
            "cf_expected": _num(r["cf_expected"]),
            "avoided_median": _num(r["avoided_median"]),
            "ci90": r["ci90"],
            "mde_days": _num(r["mde_days"]),
            "mde_pct": _num(r["mde_pct"]),
            "placebo": r["placebo"],
            "injection": r["injection"],
            "params": r["params"],
        }
    return out


@router.get("/interventions", summary="Days-avoided evaluations (intervention_eval) with their verdicts")
def list_interventions(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    label: Annotated[str | None, Query(description="Only the evaluations with this label")] = None,
) -> dict[str, Any]:
    rows = [intervention_row(r) for r in av.read_results(store_of(request), label=label)]
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.get("/interventions/{eval_id}", summary="One days-avoided evaluation with its placebo and injection checks")
def intervention_detail(
    request: Request, who: Annotated[Principal, Depends(require_user)], eval_id: Annotated[int, Path()]
) -> dict[str, Any]:
    row = av.read_result(store_of(request), eval_id)
    if row is None:
        raise ApiError(404, "eval_id", f"intervention evaluation {eval_id} does not exist", "path")
    return intervention_row(row, detail=True)
