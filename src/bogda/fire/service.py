"""Fire service layer: files → store → :func:`~bogda.fire.pipeline.process_detections` → events, masks, findings.

Thin orchestration (architecture rule 2): it reads the jurisdiction (prefecture and county polygons, WGS-84) and the
industrial plants from the registry, the recent detections, mask sites, open fire findings and recent alerts from
the store, runs the pure pipeline, and writes back detections (flagged, never dropped), events, alerts, learned
mask sites and finding drafts (kind ``fire``) through :mod:`bogda.findings`. The grid turns each ``fire`` finding
into a verification task; this module never imports ``grid``. Every run is logged in ``job_run``.

Idempotent: a detection is stored once per de-duplication key (processing, satellite, acquisition time, lat and
lon rounded to 4 decimals; fire.md §3.1), events keep their ids (derived from their first cluster) and finding
drafts carry de-duplication keys, so ingesting an overlapping download again adds nothing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from shapely.geometry import shape
from sqlalchemy import Connection, bindparam, select

from bogda import findings as F
from bogda.fire.alerts import OpenFinding, PastAlert
from bogda.fire.config import FireConfig
from bogda.fire.feed import sha256_bytes
from bogda.fire.formats import read_fire_file
from bogda.fire.masks import HEAT_SOURCE_SCHEMA, learn_sites
from bogda.fire.pipeline import FireResult, Region, process_detections
from bogda.fire.records import DETECTION_SCHEMA, FireFormatError, ReadResult
from bogda.fire.region import Boundary
from bogda.fire.storage import insert_frame
from bogda.registry.places import PlaceIndex, list_places
from bogda.store import Store
from bogda.store.schema import (
    enterprise,
    finding,
    fire_alert,
    fire_detection,
    fire_event,
    fire_mask_site,
    fire_source_file,
    job_run,
    site,
)
from bogda.timeutil import BEIJING, now_utc

SECTOR_KIND = {
    "coal_chemical": "coal_chemical",
    "power": "power",
    "steel": "steel",
    "coking": "coke",
    "cement": "cement",
    "refinery": "refinery",
    "flare": "flare",
}
"""Registry sector → heat-source kind (fire.md §2.6)."""
DEFAULT_SECTORS = ("coal_chemical", "power", "steel", "coking", "cement", "refinery", "flare")

_FLAG_COLUMNS = (
    "in_bbox",
    "in_area",
    "spurious",
    "masked_registry",
    "masked_learned",
    "masked_external",
    "low_confidence",
    "outside_area",
    "masked",
    "screened",
)


def dkey_expr() -> pl.Expr:
    """The stored de-duplication key ``processing|satellite|epoch µs|lat4|lon4`` (fire.md §3.1)."""
    return pl.format(
        "{}|{}|{}|{}|{}",
        pl.col("processing").fill_null(""),
        pl.col("satellite").fill_null("").str.slice(0, 32),
        pl.col("acq_time_utc").dt.epoch("us"),
        pl.col("lat").round(4),
        pl.col("lon").round(4),
    )


@dataclass
class FileReport:
    """What happened to one file (fire.md §6: n_rows = n_ok + n_bad; duplicates counted at storage)."""

    name: str
    status: str  # ok | file_error
    error: str | None = None
    product: str | None = None
    n_rows: int = 0
    n_ok: int = 0
    n_bad: int = 0
    n_duplicate: int = 0
    n_stored: int = 0
    n_outside_bbox: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    source_file_id: int | None = None
    sha256: str = ""
    raw_ref: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """Outcome of one ingest run."""

    run_id: int
    files: list[FileReport]
    n_stored: int = 0
    n_duplicate: int = 0
    n_masked: int = 0
    events_new: int = 0
    events_total: int = 0
    alerts: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    finding_ids: list[int] = field(default_factory=list)
    learned_sites: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per phase
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of this process per phase

    @property
    def n_bad(self) -> int:
        return sum(f.n_bad for f in self.files)

    @property
    def file_errors(self) -> list[FileReport]:
        return [f for f in self.files if f.status != "ok"]


class PhaseClock:
    """Wall and CPU seconds per named phase (the benchmark reports both: the machine is shared)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - w
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c


# --------------------------------------------------------------------------------------------------------------
# reading the context from the registry and the store


def load_region(store: Store | Connection, prefecture: str | None = None) -> Region | None:
    """The jurisdiction from the registry: the prefecture outline and its counties (WGS-84 as stored).

    ``prefecture`` is an adcode (default: the only prefecture). None when the registry has no places (then the
    pipeline treats the whole globe as the area).
    """
    rows = list_places(store, kinds=["prefecture", "county"])
    prefs = [r for r in rows if r.kind == "prefecture" and r.geometry]
    if prefecture is not None:
        prefs = [r for r in prefs if r.code == prefecture]
    if not prefs:
        return None
    pref = prefs[0]
    counties = [
        Boundary(r.code, r.name, shape(r.geometry))
        for r in rows
        if r.kind == "county" and r.parent_id == pref.id and r.geometry
    ]
    return Region(counties, shape(pref.geometry), {r.code: r.name for r in rows if r.kind == "county"})


def sync_registry_plants(conn: Connection, sectors: Sequence[str] = DEFAULT_SECTORS, *, now: datetime) -> int:
    """Copy the registry's industrial enterprises (coal chemical, power, steel, coking, cement, …) into
    ``fire_mask_site`` as active registry sources (``ENT{site_id}``); returns how many were added.

    Position and name follow the registry; a status a person set (``edited_by``) is kept.
    """
    ents = conn.execute(
        select(site.c.id, site.c.name, site.c.lon, site.c.lat, site.c.active, enterprise.c.sector)
        .join(enterprise, enterprise.c.site_id == site.c.id)
        .where(enterprise.c.sector.in_(list(sectors)), site.c.lon.is_not(None), site.c.lat.is_not(None))
    ).all()
    have = {r.source_id: r for r in conn.execute(select(fire_mask_site).where(fire_mask_site.c.origin == "registry"))}
    added = 0
    for e in ents:
        sid = f"ENT{e.id}"
        values = {
            "name": e.name,
            "kind": SECTOR_KIND.get(e.sector, "other"),
            "enterprise_id": e.id,
            "lon": float(e.lon),
            "lat": float(e.lat),
            "updated_at": now,
        }
        old = have.get(sid)
        if old is None:
            conn.execute(
                fire_mask_site.insert().values(
                    source_id=sid,
                    datum_in="WGS84",
                    origin="registry",
                    status="active" if e.active else "retired",
                    stats={},
                    note="enterprise registry",
                    created_at=now,
                    **values,
                )
            )
            added += 1
        elif (old.lon, old.lat, old.name, old.kind) != (values["lon"], values["lat"], values["name"], values["kind"]):
            if old.edited_by is None and not e.active:
                values["status"] = "retired"
            conn.execute(fire_mask_site.update().where(fire_mask_site.c.source_id == sid).values(**values))
    return added


def mask_sources(conn: Connection, *, learned: bool) -> pl.DataFrame:
    """Mask sites as a heat-source frame (:data:`~bogda.fire.masks.HEAT_SOURCE_SCHEMA`): learned ones, or all
    others (registry, external, verified)."""
    cond = fire_mask_site.c.origin == "learned" if learned else fire_mask_site.c.origin != "learned"
    rows = conn.execute(select(fire_mask_site).where(cond).order_by(fire_mask_site.c.source_id)).all()
    return pl.DataFrame(
        [
            {
                "source_id": r.source_id,
                "name": r.name,
                "kind": r.kind,
                "enterprise_id": None if r.enterprise_id is None else str(r.enterprise_id),
                "lon": r.lon,
                "lat": r.lat,
                "radius_km": r.radius_km or 0.0,
                "buffer_km": r.buffer_km,
                "origin": r.origin,
                "status": r.status,
                "note": r.note,
            }
            for r in rows
        ],
        schema=HEAT_SOURCE_SCHEMA,
    )


_DET_COLUMNS = tuple(DETECTION_SCHEMA)


def load_detections(
    conn: Connection, start: datetime | None = None, end: datetime | None = None, *, extra: Sequence[str] = ()
) -> pl.DataFrame:
    """Stored detections with ``start <= acq_time_utc <= end`` as a detection frame (plus ``extra`` columns)."""
    cols = [fire_detection.c[c] for c in (*_DET_COLUMNS, *extra)]
    q = select(*cols)
    if start is not None:
        q = q.where(fire_detection.c.acq_time_utc >= start)
    if end is not None:
        q = q.where(fire_detection.c.acq_time_utc <= end)
    rows = conn.execute(q.order_by(fire_detection.c.id)).all()
    schema = dict(DETECTION_SCHEMA)
    for c in extra:
        schema[c] = _EXTRA_TYPES.get(c, pl.String())
    return pl.DataFrame(rows, schema=schema, orient="row")


_EXTRA_TYPES: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "county_code": pl.String(),
    "event_id": pl.String(),
    "place_id": pl.Int64(),
    "verified_false": pl.Boolean(),
    "masked_registry_ref": pl.String(),
    "masked_learned_ref": pl.String(),
    **{c: pl.Boolean() for c in _FLAG_COLUMNS},
}


def place_index(store: Store) -> PlaceIndex:
    """Point → place lookup; grid cells are located by arithmetic, so their polygons are not loaded."""
    cells = list_places(store, kinds=["grid_cell"], with_geometry=False)
    others = list_places(store, kinds=["prefecture", "county", "township", "park", "special"])
    return PlaceIndex([*others, *cells])


def _open_findings(conn: Connection) -> list[OpenFinding]:
    """The live fire findings with the evidence fields alerting needs, extracted by the database (the evidence of a
    finding holds its detections: parsing tens of thousands of them costs seconds)."""
    ev = finding.c.evidence
    rows = conn.execute(
        select(
            finding.c.dedupe_key,
            finding.c.lon,
            finding.c.lat,
            finding.c.status,
            finding.c.severity,
            ev["event_id"].as_string(),
            ev["first_n_pixels"].as_integer(),
            ev["n_pixels"].as_integer(),
            ev["first_sum_frp"].as_float(),
            ev["escalated"].as_boolean(),
        ).where(finding.c.kind == "fire", finding.c.status.in_(F.LIVE), finding.c.lon.is_not(None))
    ).all()
    return [
        OpenFinding(
            key,
            float(lon),
            float(lat),
            status,
            event_id,
            int(first_n or n or 0),
            float(first_frp or 0.0),
            bool(escalated) or F.SEVERITY_RANK.get(severity, 0) >= 3,
        )
        for key, lon, lat, status, severity, event_id, first_n, n, first_frp, escalated in rows
    ]


def _past_alerts(conn: Connection, since: datetime) -> list[PastAlert]:
    rows = conn.execute(select(fire_alert).where(fire_alert.c.kind == "new", fire_alert.c.created_at >= since)).all()
    return [PastAlert(r.alert_id, r.created_at, r.lon, r.lat, r.dedupe_key) for r in rows]


# --------------------------------------------------------------------------------------------------------------
# job_run


def start_run(store: Store, job: str, *, now: datetime | None = None) -> int:
    with store.begin() as conn:
        return int(
            conn.execute(
                job_run.insert().values(job=job, started_at=now or now_utc(), status="running").returning(job_run.c.id)
            ).scalar_one()
        )


def finish_run(store: Store, run_id: int, *, status: str, rows: int | None = None, error: str | None = None) -> None:
    with store.begin() as conn:
        conn.execute(
            job_run.update()
            .where(job_run.c.id == run_id)
            .values(finished_at=now_utc(), status=status, rows=rows, error=error)
        )


# --------------------------------------------------------------------------------------------------------------
# ingest


def read_files(
    paths: Iterable[str | Path], config: FireConfig | None = None
) -> list[tuple[Path, bytes, ReadResult | None, str | None]]:
    """Read each file: (path, raw bytes, result or None, file error or None). One bad file does not stop others."""
    out = []
    for p in paths:
        path = Path(p)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            out.append((path, b"", None, f"cannot read {path}: {exc}"))
            continue
        try:
            out.append((path, raw, read_fire_file(path, config=config), None))
        except (FireFormatError, ValueError, OSError) as exc:
            out.append((path, raw, None, str(exc)))
    return out


def ingest_files(
    store: Store,
    paths: Iterable[str | Path],
    *,
    config: FireConfig | None = None,
    prefecture: str | None = None,
    sectors: Sequence[str] = DEFAULT_SECTORS,
    provider: str = "file",
    request: str | None = None,
    raw_dir: Path | None = None,
    keep_outside_bbox: bool = False,
    learn: bool = True,
    whole_globe: bool = False,
) -> IngestReport:
    """Ingest fire files into the store and run the pipeline (fire.md §3.1–§3.7).

    Parameters
    ----------
    paths : iterable of path
        Any supported file (:data:`bogda.fire.records.SUPPORTED_FORMATS`).
    prefecture : str, optional
        Adcode of the jurisdiction (default: the registry's prefecture).
    sectors : sequence of str
        Registry sectors whose enterprises mask detections.
    raw_dir : Path, optional
        Keep a copy of every raw file there, named by its SHA-256 (fire.md §6: the raw file is stored first).
    keep_outside_bbox : bool
        Also store rows outside the prefecture bbox + margin (default: they are counted, not stored).
    learn : bool
        Re-learn the persistent heat sources (fire.md §3.9) from the stored history and this batch.
    whole_globe : bool
        Ignore the registry's places (benchmark mode: every row in area).
    """
    cfg = config or FireConfig()
    t0, c0 = time.perf_counter(), time.process_time()
    run_id = start_run(store, "fire.ingest")
    clock = PhaseClock()
    try:
        report = _ingest(
            store,
            list(paths),
            run_id,
            cfg,
            prefecture,
            sectors,
            provider,
            request,
            raw_dir,
            keep_outside_bbox,
            learn,
            whole_globe,
            clock,
        )
    except Exception as exc:
        finish_run(store, run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    report.timings = {**clock.wall, "total": time.perf_counter() - t0}
    report.cpu = {**clock.cpu, "total": time.process_time() - c0}
    errors = "; ".join(f"{f.name}: {f.error}" for f in report.file_errors) or None
    finish_run(store, run_id, status="ok", rows=report.n_stored, error=errors)
    return report


def _ingest(
    store: Store,
    paths: list[str | Path],
    run_id: int,
    cfg: FireConfig,
    prefecture: str | None,
    sectors: Sequence[str],
    provider: str,
    request: str | None,
    raw_dir: Path | None,
    keep_outside_bbox: bool,
    learn: bool,
    whole_globe: bool,
    clock: PhaseClock,
) -> IngestReport:
    now = now_utc()
    with clock.phase("read"):
        files = read_files(paths, cfg)
    reports: list[FileReport] = []
    frames: list[pl.DataFrame] = []
    for path, raw, res, error in files:
        rep = FileReport(path.name, "ok" if res is not None else "file_error", error, sha256=sha256_bytes(raw))
        ref = None
        if raw_dir is not None and raw:
            raw_dir.mkdir(parents=True, exist_ok=True)
            target = raw_dir / f"{sha256_bytes(raw)}{path.suffix}"
            if not target.exists():
                shutil.copyfile(path, target)
            ref = str(target)
        rep.raw_ref = ref or str(path)
        if res is not None:
            rep.warnings = list(res.warnings)
            rep.product = res.product
            rep.n_rows, rep.n_ok, rep.n_bad = res.n_rows, res.detections.height, len(res.rejected)
            rep.rejected = [
                {"line": r.line, "field": r.field, "reason": r.reason, "raw": r.raw[:500]} for r in res.rejected
            ]
            rep.unmapped = list(res.unmapped)
            if res.detections.height:
                frames.append(res.detections.with_columns(_file=pl.lit(len(reports))))
        reports.append(rep)

    region = None if whole_globe else load_region(store, prefecture)
    batch = pl.concat(frames) if frames else pl.DataFrame(schema={**DETECTION_SCHEMA, "_file": pl.Int32})
    batch = batch.with_columns(pl.col("_file").cast(pl.Int32))
    with clock.phase("load"):
        with store.begin() as conn:
            sync_registry_plants(conn, sectors, now=now)
        with store.engine.connect() as conn:
            if batch.height:
                lookback = max(cfg.footprint_recent + cfg.event_close, cfg.learned_lookback or timedelta(0))
                start = batch["acq_time_utc"].min() - lookback
                history = load_detections(conn, start, batch["acq_time_utc"].max(), extra=("dkey", "event_id"))
            else:
                history = pl.DataFrame(schema={**DETECTION_SCHEMA, "dkey": pl.String(), "event_id": pl.String()})
            # the stored event of each history row: only the rows whose event changes are written back
            stored_events = history.select(_dkey="dkey", _stored_event="event_id")
            history = history.drop("dkey", "event_id")
            plants = mask_sources(conn, learned=False)
            open_f = _open_findings(conn)
            past = _past_alerts(conn, batch["acq_time_utc"].min() - cfg.suppress_window) if batch.height else []

    # rows outside bbox + margin are counted per file, stored only on request
    if region is not None and batch.height and not keep_outside_bbox:
        from bogda.fire.region import assign_region

        boxed = assign_region(batch.select("lon", "lat"), region.counties, area=region.area, margin_km=region.margin_km)
        inside = boxed["in_bbox"]
        outside_counts = batch.filter(~inside).group_by("_file").len()
        for f, n in outside_counts.iter_rows():
            reports[f].n_outside_bbox = int(n)
        batch = batch.filter(inside)

    n_learned = 0
    with clock.phase("learn"):
        if learn:
            with store.begin() as conn:
                n_learned = _learn(conn, history, batch, cfg, now)
        with store.engine.connect() as conn:
            learned = mask_sources(conn, learned=True)

    with clock.phase("pipeline"):
        file_of = batch.select(_dkey=dkey_expr(), _file="_file")
        result = process_detections(
            batch.drop("_file"),
            region,
            plants=plants if plants.height else None,
            history=history,
            config=cfg,
            learned=learned if learned.height else None,
            open_findings=open_f,
            past_alerts=past,
        )

    report = IngestReport(run_id, reports)
    _persist(store, result, file_of, stored_events, reports, run_id, now, provider, request, report, clock)
    report.learned_sites = n_learned
    return report


def _learn(conn: Connection, history: pl.DataFrame, batch: pl.DataFrame, cfg: FireConfig, now: datetime) -> int:
    """Re-learn persistent heat sources (fire.md §3.9) and upsert them into ``fire_mask_site`` (origin learned).

    A site a person edited keeps its status; sites no longer found are left as they are (a person retires them).
    Returns the number of active learned sites found.
    """
    frame = pl.concat([history, batch.select(history.columns)]).unique(
        subset=["processing", "satellite", "acq_time_utc", "lat", "lon"], keep="first"
    )
    if frame.height == 0:
        return 0
    sites = learn_sites(frame, asof=frame["acq_time_utc"].max(), config=cfg)
    if sites.height == 0:
        return 0
    have = {
        r.source_id: r
        for r in conn.execute(
            select(fire_mask_site.c.source_id, fire_mask_site.c.edited_by).where(fire_mask_site.c.origin == "learned")
        )
    }
    stat_cols = [c for c in sites.columns if c not in HEAT_SOURCE_SCHEMA]
    for r in sites.iter_rows(named=True):
        stats = {c: (r[c].isoformat() if hasattr(r[c], "isoformat") else r[c]) for c in stat_cols}
        values = {
            "lon": float(r["lon"]),
            "lat": float(r["lat"]),
            "radius_km": float(r["radius_km"] or 0.0),
            "stats": stats,
            "note": r["note"],
            "updated_at": now,
        }
        old = have.get(r["source_id"])
        if old is None:
            conn.execute(
                fire_mask_site.insert().values(
                    source_id=r["source_id"],
                    kind="learned",
                    origin="learned",
                    datum_in="WGS84",
                    status=r["status"],
                    created_at=now,
                    **values,
                )
            )
        else:
            if old.edited_by is None:
                values["status"] = r["status"]
            conn.execute(fire_mask_site.update().where(fire_mask_site.c.source_id == r["source_id"]).values(**values))
    return int((sites["status"] == "active").sum())


def _persist(
    store: Store,
    result: FireResult,
    file_of: pl.DataFrame,
    stored_events: pl.DataFrame,
    reports: list[FileReport],
    run_id: int,
    now: datetime,
    provider: str,
    request: str | None,
    report: IngestReport,
    clock: PhaseClock,
) -> None:
    """Write one run in one transaction: source files, new detections, changed event ids of history rows, findings,
    events (with their first finding) and alerts (with theirs) — each as one bulk statement or ``executemany``."""
    with clock.phase("store_detections"):
        det = result.detections.with_columns(_dkey=dkey_expr())
        new = det.filter(pl.col("is_new")).join(file_of.unique("_dkey"), on="_dkey", how="left")
        ckeys = result.clusters.select(
            "cluster_id",
            cluster_key=pl.format(
                "{}|{}|{}|{}",
                pl.col("satellite").fill_null("").str.slice(0, 16),
                pl.col("acq_time_utc").dt.strftime("%Y%m%d%H%M%S"),
                pl.col("alarm_lat").round(4),
                pl.col("alarm_lon").round(4),
            ),
        )
        new = new.join(ckeys, on="cluster_id", how="left")
        stored = new.group_by("_file").len()
        counts = {int(f): int(n) for f, n in stored.iter_rows() if f is not None}
        for k, rep in enumerate(reports):
            rep.n_stored = counts.get(k, 0)
            rep.n_duplicate = max(rep.n_ok - rep.n_stored - rep.n_outside_bbox, 0)
        report.n_stored = new.height
        report.n_duplicate = sum(r.n_duplicate for r in reports)
        report.n_masked = int(new["masked"].sum()) if new.height else 0

        index = place_index(store)
        place_ids = (
            index.locate_many(new["lon"].to_numpy(), new["lat"].to_numpy())
            if new.height and len(index._poly_ids) + index._cell_keys.size
            else np.full(new.height, -1)
        )
        new = new.with_columns(place_id=pl.Series(place_ids, dtype=pl.Int64).replace(-1, None))
        # history rows whose event changed (merges, or linked to new clusters)
        changed = (
            det.filter(~pl.col("is_new") & pl.col("event_id").is_not_null())
            .select("_dkey", "event_id")
            .join(stored_events, on="_dkey", how="left")
            .filter(pl.col("_stored_event").is_null() | (pl.col("_stored_event") != pl.col("event_id")))
        )

    with store.begin() as conn:
        with clock.phase("store_detections"):
            for rep in reports:
                rep.source_file_id = _insert_source_file(conn, rep, provider, request, run_id, now)
            file_ids = pl.DataFrame(
                {"_file": list(range(len(reports))), "source_file_id": [r.source_file_id for r in reports]},
                schema={"_file": pl.Int32, "source_file_id": pl.Int64},
            )
            new = new.join(file_ids, on="_file", how="left")
            _insert_detections(conn, new, run_id, now)
            if changed.height:
                conn.execute(
                    fire_detection.update()
                    .where(fire_detection.c.dkey == bindparam("k"))
                    .values(event_id=bindparam("e")),
                    [{"k": k, "e": e} for k, e, _ in changed.iter_rows()],
                )
        with clock.phase("store_findings"):
            found = _file_findings(conn, result, det, index, run_id, now, report)
        with clock.phase("store_events"):
            first_finding = {e: f for e, f in reversed(found["events"])}  # the event's first finding
            report.events_new, report.events_total = _upsert_events(conn, result.events, now, first_finding)
        with clock.phase("store_findings"):
            _insert_alerts(conn, result.plan.frame, run_id, found["keys"], report)


def _insert_source_file(
    conn: Connection, rep: FileReport, provider: str, request: str | None, run_id: int, now: datetime
) -> int:
    return int(
        conn.execute(
            fire_source_file.insert()
            .values(
                name=rep.name,
                provider=provider,
                product=rep.product,
                request=request or rep.raw_ref,
                received_at=now,
                sha256=rep.sha256,
                raw_ref=rep.raw_ref,
                status=rep.status,
                error=rep.error,
                n_rows=rep.n_rows,
                n_ok=rep.n_ok,
                n_bad=rep.n_bad,
                n_duplicate=rep.n_duplicate,
                n_stored=rep.n_stored,
                n_outside_bbox=rep.n_outside_bbox,
                rejected=rep.rejected,
                unmapped=rep.unmapped,
                warnings=rep.warnings,
                run_id=run_id,
            )
            .returning(fire_source_file.c.id)
        ).scalar_one()
    )


def _insert_detections(conn: Connection, new: pl.DataFrame, run_id: int, now: datetime) -> None:
    if new.height == 0:
        return
    cols = [
        *(c for c in _DET_COLUMNS),
        "county_code",
        "place_id",
        *_FLAG_COLUMNS,
        "masked_registry_ref",
        "masked_learned_ref",
        "flag_reasons",
        "cluster_key",
        "event_id",
        "source_file_id",
    ]
    frame = new.select(*cols, dkey="_dkey").with_columns(
        pl.col("satellite").str.slice(0, 32),
        pl.col("satellite_raw").str.slice(0, 32),
        pl.col("confidence_raw").str.slice(0, 16),
        pl.col("version").str.slice(0, 16),
        pl.col("frp_unit").str.slice(0, 16),
        run_id=pl.lit(run_id),
        ingested_at=pl.lit(now),
    )
    # in key order: the unique dkey index and the time indexes then grow at their ends instead of splitting pages
    insert_frame(conn, fire_detection, frame.sort("dkey"))


def _upsert_events(
    conn: Connection, events: pl.DataFrame, now: datetime, first_finding: dict[str, int] | None = None
) -> tuple[int, int]:
    """Insert new events (with their first finding) and update known ones; returns (new, total).

    A known event without a finding gets the one ``first_finding`` names; a finding once set is kept."""
    first_finding = first_finding or {}
    if events.height == 0:
        return 0, 0
    ids = events["event_id"].to_list()
    have: set[str] = set()
    known_q = select(fire_event.c.event_id).where(fire_event.c.event_id.in_(bindparam("ids", expanding=True)))
    for k in range(0, len(ids), 900):
        have |= set(conn.execute(known_q, {"ids": ids[k : k + 900]}).scalars())
    cols = ("status", "merged_into", "first_seen_utc", "last_seen_utc", "lat", "lon", "max_frp", "county_code")
    ev = events.select(
        "event_id",
        *(pl.col(c) if c in events.columns else pl.lit(None).alias(c) for c in cols),
        pl.col("n_detections").cast(pl.Int64),
        pl.col("n_clusters").cast(pl.Int64),
        satellites=pl.col("satellites").fill_null([]) if "satellites" in events.columns else pl.lit([]),
        updated_at=pl.lit(now, pl.Datetime("us", "UTC")),
    )
    old = pl.col("event_id").is_in(list(have))
    fresh = ev.filter(~old).with_columns(
        pl.lit("unknown").alias("class"),
        finding_id=pl.col("event_id").replace_strict(first_finding, default=None, return_dtype=pl.Int64),
    )
    insert_frame(conn, fire_event, fresh)
    links = [{"e": e, "f": first_finding[e]} for e in have if e in first_finding]
    if links:
        conn.execute(
            fire_event.update()
            .where(fire_event.c.event_id == bindparam("e"), fire_event.c.finding_id.is_(None))
            .values(finding_id=bindparam("f")),
            links,
        )
    known = ev.filter(old).to_dicts()
    if known:
        stmt = (
            fire_event.update()
            .where(fire_event.c.event_id == bindparam("b_id"))
            .values({k: bindparam(f"b_{k}") for k in known[0] if k != "event_id"})
        )
        conn.execute(stmt, [{f"b_{k}" if k != "event_id" else "b_id": v for k, v in r.items()} for r in known])
    return fresh.height, ev.height


def _insert_alerts(
    conn: Connection, frame: pl.DataFrame, run_id: int, finding_of_key: dict[str, int], report: IngestReport
) -> None:
    """The run's alerts into ``fire_alert`` (ids prefixed ``R{run}:``), each with the finding it created."""
    if frame.height == 0:
        return
    prefix = f"R{run_id}:"
    by = pl.col("suppressed_by")
    alerts = frame.select(
        alert_id=pl.lit(prefix) + pl.col("alert_id"),
        kind="kind",
        event_id="event_id",
        created_at="created_at",
        lon=pl.col("lon").cast(pl.Float64),
        lat=pl.col("lat").cast(pl.Float64),
        dedupe_key="dedupe_key",
        suppressed_by=pl.when(by.is_null() | by.str.contains(":", literal=True))
        .then(by)
        .otherwise(pl.lit(prefix) + by),
        finding_id=pl.when(pl.col("kind") == "new").then(
            pl.col("dedupe_key").replace_strict(finding_of_key, default=None, return_dtype=pl.Int64)
        ),
        run_id=pl.lit(run_id, pl.Int64),
    )
    insert_frame(conn, fire_alert, alerts)
    for kind, n in alerts.group_by("kind").len().iter_rows():
        report.alerts[kind] = report.alerts.get(kind, 0) + int(n)


def _file_findings(
    conn: Connection,
    result: FireResult,
    det: pl.DataFrame,
    index: PlaceIndex,
    run_id: int,
    now: datetime,
    report: IngestReport,
) -> dict[str, Any]:
    """Finding drafts (new / attach / escalate) onto the problem list, set-based.

    One ``IN`` query per 900 detection keys for the evidence ids, one per 900 keys for the evidence of the live
    findings that attaches and escalations extend, and :func:`bogda.findings.raise_findings_bulk` for the drafts.
    Returns the created findings: ``{"keys": {dedupe_key: id}, "events": [(event_id, id), …]}`` in draft order.
    """
    found: dict[str, Any] = {"keys": {}, "events": []}
    drafts = result.drafts
    if not drafts:
        return found
    wanted = {d.evidence["cluster_id"] for d in drafts}
    pixels = det.filter(pl.col("cluster_id").is_in(list(wanted))).select(
        "cluster_id", "_dkey", "satellite", "acq_time_utc", "lat", "lon", "frp_mw", "confidence_raw"
    )
    # this run's rows in one query; pixels stored by earlier runs (an overpass split across downloads) by key
    ids: dict[str, int] = dict(
        conn.execute(select(fire_detection.c.dkey, fire_detection.c.id).where(fire_detection.c.run_id == run_id)).all()
    )
    keys = [k for k in pixels["_dkey"].to_list() if k not in ids]
    by_key = select(fire_detection.c.dkey, fire_detection.c.id).where(
        fire_detection.c.dkey.in_(bindparam("keys", expanding=True))
    )
    for k in range(0, len(keys), 900):
        ids.update(dict(conn.execute(by_key, {"keys": keys[k : k + 900]}).all()))
    by_cluster: dict[int, list[dict[str, Any]]] = {}
    for cid, dkey, sat, t, lat, lon, frp, conf in pixels.iter_rows():
        by_cluster.setdefault(cid, []).append(
            {
                "detection_id": ids.get(dkey),
                "satellite": sat,
                "acq_time_utc": t.isoformat(),
                "lat": lat,
                "lon": lon,
                "frp_mw": frp,
                "confidence": conf,
            }
        )
    sums = result.plan.frame.select("cluster_id", "_n", "_frp")
    totals = {cid: (int(n), float(frp or 0.0)) for cid, n, frp in sums.iter_rows()}
    # the evidence that attaches and escalations extend: the newest live finding of each key, then this batch's
    current: dict[str, dict[str, Any]] = {}
    extend = list({d.dedupe_key for d in drafts if d.action != "new"})
    live_q = (
        select(finding.c.dedupe_key, finding.c.evidence)
        .where(finding.c.dedupe_key.in_(bindparam("keys", expanding=True)), finding.c.status.in_(F.LIVE))
        .order_by(finding.c.id)
    )
    for k in range(0, len(extend), 900):
        for key, ev in conn.execute(live_q, {"keys": extend[k : k + 900]}):
            current[key] = dict(ev or {})
    filed: list[F.FindingDraft] = []
    for d in drafts:
        cid = d.evidence["cluster_id"]
        evidence = {**d.evidence, "detections": by_cluster.get(cid, []), "run_id": run_id}
        if d.action == "new":
            n, frp = totals.get(cid, (d.evidence["n_pixels"], 0.0))
            evidence.update(first_n_pixels=n, first_sum_frp=frp)
        else:
            base = dict(current.get(d.dedupe_key) or {})
            if d.action == "attach":
                seen = list(base.get("still_detected", []))
                seen.append(
                    {
                        k: evidence[k]
                        for k in ("event_id", "alarm_time_bjt", "satellites", "n_pixels", "max_frp_mw", "detections")
                    }
                )
                base["still_detected"] = seen
            else:
                base["escalated"] = True
                base["escalation"] = {"alarm_time_bjt": evidence["alarm_time_bjt"], "n_pixels": evidence["n_pixels"]}
            evidence = base
        current[d.dedupe_key] = evidence
        filed.append(
            F.FindingDraft(
                kind="fire",
                severity=d.severity,
                title=d.title,
                dedupe_key=d.dedupe_key,
                detected_at=d.detected_at,
                lon=d.lon,
                lat=d.lat,
                evidence=evidence,
            )
        )
    outcomes = F.raise_findings_bulk(conn, filed, index=index, now=now)
    for d, out in zip(drafts, outcomes, strict=True):
        action = "rejected" if out.action.startswith("rejected") else out.action
        report.findings[action] = report.findings.get(action, 0) + 1
        if action == "created":
            report.finding_ids.append(out.finding_id)
            found["keys"][d.dedupe_key] = out.finding_id
            found["events"].append((d.evidence["event_id"], out.finding_id))
    return found


# --------------------------------------------------------------------------------------------------------------
# statistics (fire.md §3.8): recomputed from the stored detections, events and verdicts


def stats(
    store: Store,
    *,
    start: date | None = None,
    end: date | None = None,
    by: str = "day",
    county: str | None = None,
    config: FireConfig | None = None,
) -> pl.DataFrame:
    """Bulletin-comparable pixel counts per county (``county_code = "all"``: prefecture) and Beijing day or month.

    Parameters
    ----------
    start, end : date, optional
        Beijing dates, inclusive (months: whole months are best given as first and last day).
    by : {"day", "month"}
        Daily rows (points_all / points_screened / points_dedup by sensor) or monthly rows (also events new and
        active, verdicts by outcome, false-alarm rates, change against the previous month and year).
    county : str, optional
        Only this county's rows (adcode).
    """
    from bogda.fire.stats import daily_stats, monthly_stats
    from bogda.store.schema import fire_verification

    if by not in ("day", "month"):
        raise ValueError(f"by must be 'day' or 'month', not {by!r}")
    cols = [fire_detection.c[c] for c in (*_DET_COLUMNS, "county_code", *_FLAG_COLUMNS)]
    q = select(*cols).where(fire_detection.c.in_area)
    if start is not None:
        q = q.where(fire_detection.c.date_bjt >= start)
    if end is not None:
        q = q.where(fire_detection.c.date_bjt <= end)
    schema = {**DETECTION_SCHEMA, "county_code": pl.String(), **{c: pl.Boolean() for c in _FLAG_COLUMNS}}
    with store.engine.connect() as conn:
        frame = pl.DataFrame(conn.execute(q).all(), schema=schema, orient="row")
        daily = daily_stats(frame, config)
        if by == "month":
            ev_rows = conn.execute(
                select(
                    fire_event.c.event_id,
                    fire_event.c.status,
                    fire_event.c.first_seen_utc,
                    fire_event.c.last_seen_utc,
                    fire_event.c.county_code,
                ).where(fire_event.c.county_code.is_not(None), fire_event.c.status != "merged")
            ).all()
            events = pl.DataFrame(
                ev_rows,
                schema={
                    "event_id": pl.String,
                    "status": pl.String,
                    "first_seen_utc": pl.Datetime("us", "UTC"),
                    "last_seen_utc": pl.Datetime("us", "UTC"),
                    "county_code": pl.String,
                },
                orient="row",
            )
            v_rows = conn.execute(
                select(
                    fire_verification.c.event_id,
                    fire_event.c.county_code,
                    fire_verification.c.verified_at,
                    fire_verification.c.outcome,
                ).join(fire_event, fire_event.c.event_id == fire_verification.c.event_id)
            ).all()
            verdicts = pl.DataFrame(
                v_rows,
                schema={
                    "event_id": pl.String,
                    "county_code": pl.String,
                    "verified_at": pl.Datetime("us", "UTC"),
                    "outcome": pl.String,
                },
                orient="row",
            )
    if by == "month":
        from bogda.fire.bulletin_store import bulletin_points

        out = monthly_stats(
            daily,
            events=events,
            verdicts=verdicts,
            bulletins=bulletin_points(store, start, end),
            asof=now_utc().astimezone(BEIJING).date(),
        )
        if start is not None:
            out = out.filter(pl.col("month") >= start.strftime("%Y-%m"))
        if end is not None:
            out = out.filter(pl.col("month") <= end.strftime("%Y-%m"))
    else:
        out = daily
    if county is not None:
        out = out.filter(pl.col("county_code") == county)
    return out
