"""``/api/v1/tracing``: the stored PM2.5 source-apportionment runs (ESAT PMF, governance.md §3.11,
:mod:`bogda.tracing.runs`) and the adoption of a run's shares as the bureau's source shares (``source_share``, the
basis of the emergency lists' emission-based estimate, forecast.md §3.9 step 6).

A face (architecture rule 4): parses input, calls :mod:`bogda.tracing.runs`, renders the answer. Every signed-in
user reads the runs; submitting a run and adopting its shares need the ``admin`` role or the ``warning_issuer``
capability, as entering a share by hand does (:mod:`bogda.web.api.forecast`); both are audited by
:mod:`bogda.tracing.runs`. A submitted run (``POST /apportionment``, a concentration and an uncertainty matrix) is
checked at once and queued (:func:`runs.submit_run`); ESAT never runs in a web worker: the scheduler's
``tracing.apportion`` job runs it in its own environment, as ``bogda tracing apportion`` does from the shell.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from bogda.forecast import source_share as ss
from bogda.store import Store
from bogda.store.schema import place, user_capability
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


def check_labels(run: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    """:class:`ApiError` 422 naming ``labels`` when a factor is unlabelled, unknown or given an unknown label."""
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
    refused = runs.refusal(run)
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


# --------------------------------------------------------------------------------------------------------------
# Submitting a run: the API's POST and the console's form share :func:`submit`
# --------------------------------------------------------------------------------------------------------------

MAX_UPLOAD = 20 * 1024 * 1024
"""Largest matrix file accepted (bytes); the Baltimore pair is ~0.1 MB each."""
SUFFIXES = (".csv", ".txt", ".tsv")
"""Comma-separated ``.csv``; tab-separated ``.txt``/``.tsv`` (:func:`bogda.tracing.apportionment.read_matrix`)."""
LIMITS = {"factors": (2, 20), "models": (1, 100), "seed": (0, 2**31 - 1), "bootstrap": (0, 100)}
"""Accepted range of each number of a submitted run (factors 4–9 usual; ESAT accepts 2–20)."""
FILES = {"conc": "concentration", "unc": "uncertainty"}
CONC_HELP = (
    "concentration matrix, samples × species, first column the sample date; .csv or tab-separated .txt/.tsv, ≤ 20 MB"
)
CATEGORIES_HELP = "category overrides, e.g. `OM=bad, Lead=weak` (strong | weak | bad; comma, semicolon or line apart)"


@dataclass(frozen=True)
class Upload:
    """An uploaded matrix: the file's own name and its bytes."""

    name: str
    data: bytes


def parse_categories(text: str | None) -> dict[str, str]:
    """:func:`bogda.tracing.apportionment.parse_categories`; :class:`ApiError` 422 naming ``categories``.

    >>> parse_categories("OM=bad, Lead = weak；Sulfate=强")
    {'OM': 'bad', 'Lead': 'weak', 'Sulfate': 'strong'}
    """
    try:
        return ap.parse_categories(text)
    except ap.ApportionmentError as exc:
        raise ApiError(422, "categories", str(exc), "body") from exc


def _number(field: str, value: Any, default: int) -> int:
    """A whole number within :data:`LIMITS`; :class:`ApiError` 422 naming the field."""
    lo, hi = LIMITS[field]
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number != int(number) or not lo <= number <= hi:
        hint = " (4–9 usual)" if field == "factors" else ""
        raise ApiError(422, field, f"{field} = {value!r}: expected a whole number {lo}–{hi}{hint}", "body")
    return int(number)


def file_name(field: str, upload: Upload) -> str:
    """The uploaded file's own name, without any folder (``conc.csv`` when it came without one)."""
    return FilePath(upload.name or "").name or f"{field}.csv"


def read_upload(field: str, upload: Upload, folder: FilePath) -> Any:
    """Read one uploaded matrix (:func:`ap.read_matrix`) from a file keeping its suffix (``.txt``/``.tsv`` are
    tab-separated); :class:`ApiError` naming the field (``conc``/``unc``): 413 too large, 422 unreadable."""
    name = file_name(field, upload)
    what = f"{FILES[field]} file {name!r}"
    if len(upload.data) > MAX_UPLOAD:
        raise ApiError(413, field, f"{what} is larger than {MAX_UPLOAD // 2**20} MB", "body")
    suffix = FilePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise ApiError(422, field, f"{what}: expected CSV (.csv) or tab-separated text (.txt, .tsv)", "body")
    if not upload.data.strip():
        raise ApiError(422, field, f"{what} is empty", "body")
    path = folder / field / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(upload.data)
    try:
        return ap.read_matrix(path)
    except ValueError as exc:  # ApportionmentError naming line and species, or pandas' own (no columns)
        message = str(exc).replace(str(path), name)
        raise ApiError(422, field, message if name in message else f"{what}: {message}", "body") from exc


def submit(
    store: Store,
    conc: Upload,
    unc: Upload,
    *,
    factors: Any = 6,
    models: Any = 20,
    seed: Any = 42,
    bootstrap: Any = 20,
    area_code: str | None = None,
    site: str | None = None,
    categories: str | None = None,
    by: str | None = None,
    data_dir: FilePath | None = None,
) -> dict[str, Any]:
    """Check a matrix pair and queue its run (:func:`runs.submit_run`); ``{"run_id", "status": "queued"}``.

    :class:`ApiError` naming the field, nothing queued: ``conc``/``unc`` (413 too large; 422 a file that cannot be
    read, saying which), ``factors``/``models``/``seed``/``bootstrap`` (not a whole number in :data:`LIMITS`),
    ``categories`` (malformed, or a species the data does not have), ``area_code`` (not a place), ``site`` (too
    long), else ``conc`` with the check's own message (pair mismatch, too few samples, too few species kept …).
    """
    settings = ap.Settings(
        factors=_number("factors", factors, 6),
        models=_number("models", models, 20),
        seed=_number("seed", seed, 42),
        bootstrap_n=_number("bootstrap", bootstrap, 20),
    )
    overrides = parse_categories(categories)
    area = (area_code or "").strip() or None
    if area is not None:
        with store.engine.connect() as conn:
            if conn.execute(select(place.c.id).where(place.c.code == area)).first() is None:
                raise ApiError(422, "area_code", f"{area!r} is not a place of the registry", "body")
    site = (site or "").strip()
    if len(site) > 100:
        raise ApiError(422, "site", f"site name of {len(site)} characters: at most 100", "body")
    with tempfile.TemporaryDirectory(prefix="bogda-pmf-upload-") as tmp:
        conc_m = read_upload("conc", conc, FilePath(tmp))
        unc_m = read_upload("unc", unc, FilePath(tmp))
    unknown = [s for s in overrides if s not in conc_m.columns]
    if unknown:
        raise ApiError(
            422,
            "categories",
            f"{', '.join(map(repr, unknown))}: not a species of the data ({len(conc_m.columns)} species)",
            "body",
        )
    dataset = f"{file_name('conc', conc)} + {file_name('unc', unc)}"
    try:
        rid = runs.submit_run(
            store,
            conc_m,
            unc_m,
            settings,
            overrides=overrides or None,
            area_code=area,
            site=site,
            dataset=dataset,
            by=by,
            data_dir=data_dir,
        )
    except ap.ApportionmentError as exc:
        raise ApiError(422, "conc", str(exc), "body") from exc
    return {"run_id": rid, "status": "queued"}


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


@router.post(
    "/apportionment",
    status_code=202,
    summary="Submit a PMF run (concentration and uncertainty matrices): checked at once, queued for the scheduler",
)
async def submit_new(
    request: Request,
    who: Annotated[Principal, Depends(require_user)],
    conc: Annotated[UploadFile, File(description=CONC_HELP)],
    unc: Annotated[UploadFile, File(description="uncertainty matrix, the same samples and species")],
    factors: Annotated[int, Form(description="number of factors (4–9 usual, 2–20 accepted)")] = 6,
    models: Annotated[int, Form(description="models from different random starts (1–100)")] = 20,
    seed: Annotated[int, Form()] = 42,
    bootstrap: Annotated[int, Form(description="block-bootstrap runs for the mapping check (0 = none, ≤ 100)")] = 20,
    area_code: Annotated[str | None, Form(description="place code the receptor stands for")] = None,
    site: Annotated[str | None, Form(description="receptor: station code or name")] = None,
    categories: Annotated[str | None, Form(description=CATEGORIES_HELP)] = None,
) -> dict[str, Any]:
    store = store_of(request)
    if not can_adopt(store, who):
        raise ApiError(403, "user", "submitting a PMF run needs the warning_issuer capability or admin", "header")
    uploads = {}
    for field, f in (("conc", conc), ("unc", unc)):
        uploads[field] = Upload(f.filename or "", await f.read(MAX_UPLOAD + 1))
    return await run_in_threadpool(
        lambda: submit(
            store,
            uploads["conc"],
            uploads["unc"],
            factors=factors,
            models=models,
            seed=seed,
            bootstrap=bootstrap,
            area_code=area_code,
            site=site,
            categories=categories,
            by=who.user.login,
            data_dir=request.app.state.settings.data_dir,
        )
    )
