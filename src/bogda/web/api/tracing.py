"""``/api/v1/tracing``: the stored PM2.5 source-apportionment runs (ESAT PMF, governance.md §3.11,
:mod:`bogda.tracing.runs`) and the adoption of a run's shares as the bureau's source shares (``source_share``, the
basis of the emergency lists' emission-based estimate, forecast.md §3.9 step 6).

A face (architecture rule 4): parses input, calls :mod:`bogda.tracing.runs`, renders the answer. Every signed-in
user reads the runs; adopting needs the ``admin`` role or the ``warning_issuer`` capability, as entering a share by
hand does (:mod:`bogda.web.api.forecast`); the adoption is audited by :func:`runs.adopt_shares`. Running ESAT is not
offered here: it uses multiprocessing, never inside a web worker, and runs from ``bogda tracing apportion``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from sqlalchemy import select

from bogda.forecast import source_share as ss
from bogda.store import Store
from bogda.store.schema import user_capability
from bogda.tracing import apportionment as ap
from bogda.tracing import runs
from bogda.web.api.common import ApiError, Paging, envelope, paging, stamp, store_of
from bogda.web.auth import Principal, require_user

router = APIRouter(prefix="/tracing", tags=["tracing"])

LABELS_HELP = f"every factor's label, e.g. {{'F1': 'sulfate', …}}: {' | '.join(ap.SOURCE_OF_LABEL)}"


def clean(v: Any) -> Any:
    """``v`` with every non-finite float replaced by ``None`` (the API answers strict JSON).

    >>> clean({"a": [1.0, float("nan")], "b": {"c": float("inf")}})
    {'a': [1.0, None], 'b': {'c': None}}
    """
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Mapping):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [clean(x) for x in v]
    return v


def summary(r: Mapping[str, Any]) -> dict[str, Any]:
    """A run's row of the list (no result matrices; times as ``{utc, local}``)."""
    row = {c: r.get(c) for c in runs.SUMMARY_COLUMNS}
    return clean({c: stamp(v) if isinstance(v, datetime) else v for c, v in row.items()})


def detail(r: Mapping[str, Any]) -> dict[str, Any]:
    """A run with its result (:func:`bogda.tracing.esat.summarise`)."""
    return summary(r) | {"result": clean(r.get("result"))}


def can_adopt(store: Store, who: Principal) -> bool:
    """Admin or capability ``warning_issuer``: who may write source shares (the rule of the hand entry)."""
    if "admin" in who.user.roles:
        return True
    with store.engine.connect() as conn:
        caps = set(
            conn.execute(select(user_capability.c.capability).where(user_capability.c.user_id == who.user.id)).scalars()
        )
    return "warning_issuer" in caps


def factors_of(run: Mapping[str, Any]) -> list[str]:
    """The run's factors (F1, F2, …) in order."""
    result = run.get("result") or {}
    names = [str(r["factor"]) for r in result.get("mass") or []]
    names += list((result.get("labels") or {}).keys())
    return sorted(set(names), key=lambda f: (len(f), f))


def adoptable(run: Mapping[str, Any]) -> str | None:
    """Why a run's shares cannot be adopted (not run yet, failed, already adopted, no mass species), or ``None``."""
    if run["status"] in ("queued", "running"):
        return f"run {run['id']} is {run['status']}: it has no result yet"
    if run["status"] != "done":
        return f"run {run['id']} failed ({run.get('error')}): it has no shares to adopt"
    if run.get("adopted_doc"):
        return f"run {run['id']}'s shares were already adopted as {run['adopted_doc']!r}"
    if not (run.get("result") or {}).get("mass"):
        return f"run {run['id']} has no total-mass species: no shares in mass to adopt"
    return None


def check_labels(run: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    """:class:`ApiError` 422 naming ``labels`` when a factor is unlabelled, unknown or given an unknown label."""
    factors = factors_of(run)
    extra = sorted(set(labels) - set(factors))
    if extra:
        raise ApiError(
            422, "labels", f"run {run['id']} has no factor {', '.join(extra)} (factors {', '.join(factors)})", "body"
        )
    try:
        ap.proposed_shares(run["result"]["mass"], labels)
    except ap.ApportionmentError as exc:
        raise ApiError(422, "labels", str(exc), "body") from exc


def adopt(
    store: Store,
    run_id: int,
    labels: Mapping[str, str],
    *,
    area_code: str | None = None,
    study_year: int | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """Adopt a run's PM2.5 shares (:func:`runs.adopt_shares`); :class:`ApiError` 404 (``run_id``), 409 (the run
    has not run yet, failed, was adopted already or has no shares), 422 naming ``labels`` or the share's field."""
    try:
        run = runs.get_run(store, run_id)
    except LookupError as exc:
        raise ApiError(404, "run_id", str(exc), "path") from exc
    refused = adoptable(run)
    if refused:
        raise ApiError(409, "run_id", refused, "path")
    check_labels(run, labels)
    try:
        ids = runs.adopt_shares(store, run_id, labels, area_code=area_code or None, study_year=study_year, by=by)
    except ss.SourceShareError as exc:
        raise ApiError(422, exc.field, str(exc), "body") from exc
    except ap.ApportionmentError as exc:  # adopted meanwhile in another session, or no season with enough samples
        raise ApiError(409, "run_id", str(exc), "path") from exc
    return {"run_id": run_id, "share_ids": ids, "source_doc": runs.run_doc(run)}


@router.get("/apportionment", summary="Stored PMF source-apportionment runs (ESAT), newest first")
def list_runs(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    page: Annotated[Paging, Depends(paging)],
    area_code: Annotated[str | None, Query(description="only the runs of this place code")] = None,
) -> dict[str, Any]:
    rows = [summary(r) for r in runs.list_runs(store_of(request), area_code=area_code)]
    return envelope(rows[page.offset : page.offset + page.limit], page, len(rows))


@router.get(
    "/apportionment/{run_id}",
    summary="One PMF run with its result: species, Q, profiles, contributions, PM2.5 by factor, checks, labels",
)
def get_run(
    request: Request, who: Annotated[Principal, Depends(require_user)], run_id: Annotated[int, Path()]
) -> dict[str, Any]:
    try:
        run = runs.get_run(store_of(request), run_id)
    except LookupError as exc:
        raise ApiError(404, "run_id", str(exc), "path") from exc
    return detail(run)


@router.post(
    "/apportionment/{run_id}/adopt",
    status_code=201,
    summary="Adopt a run's PM2.5 shares by season as the area's source shares (audited)",
)
def adopt_run(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    run_id: Annotated[int, Path()],
    labels: Annotated[dict[str, str], Body(embed=True, description=LABELS_HELP)],
    area_code: Annotated[str | None, Body(embed=True, description="place code (default: the run's area)")] = None,
    study_year: Annotated[int | None, Body(embed=True)] = None,
) -> dict[str, Any]:
    store = store_of(request)
    if not can_adopt(store, who):
        raise ApiError(403, "user", "adopting source shares needs the warning_issuer capability or admin", "header")
    return adopt(store, run_id, labels, area_code=area_code, study_year=study_year, by=who.user.login)
