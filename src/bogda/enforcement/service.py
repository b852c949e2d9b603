"""Service layer of non-site supervision: store → catalogue → clues on the problem list (enforcement.md §2, §5).

Thin by design: it reads the registry (outlets with limits and O2 reference, meters and their pairs), the CEMS
hourly series of gas outlets and the meter series, the plans and the per-enterprise overrides, runs the pure
catalogue (:func:`bogda.enforcement.catalogue.run_catalogue_full`), files each hit as a finding of kind ``clue``
with its detail row in ``clue`` (evidence bundle with raw values and the ``raw_frame`` ids behind them), writes
the per (rule, subject, day) evaluation table and logs the run in ``job_run``.

Store conventions read here
---------------------------
* CEMS: series of ``outlet`` sites (medium ``gas``) at resolution ``hour``; parameters are HJ 212-2017 codes
  (a21026 SO2, a21002 NOx, a34013 PM, a19001 O2, a00000 flow, a01012 temperature, i33400 load, g116xx bypass …);
  the observation flag is the HJ 212 flag; ``observation.source_id`` is the ``raw_frame`` row of the value.
* Meters: series of ``meter`` sites, parameter ``p_kw`` (mean active power of the interval [kW]) or ``kwh``
  (energy of the interval [kWh]), resolution ``min`` (15-min or 1-min spacing) or ``hour``; a flag other than
  ``N`` makes the interval NODATA.
* Outlet options in ``site.attrs`` (all optional): ``source_type``, ``o2_band`` [lo, hi], ``span`` / ``lod``
  {code: value}, ``wet_fgd``, ``load_channel`` (default i33400), ``production_meter`` (meter code),
  ``calibration_ok``, ``comparison_ok``, ``monthly_rate``, ``furnace_channel``, ``o2_guard_pct``, ``converted``,
  ``calibration_hours`` (Beijing hours of the scheduled calibration, C15).
  A limit's daily value is ``limits[code]["daily"]``.

Idempotency: the dedupe key of a clue is stable per rule + subject + channel + episode start (P01: + window
start); re-running a window whose data did not change changes nothing (same bundle SHA-256 → skipped), a changed
bundle (late data, a growing episode) becomes a new version of the same clue.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, and_, delete, func, select

from bogda import findings as F
from bogda.enforcement import clues as CL
from bogda.enforcement import planbook, recordbook
from bogda.enforcement import plans as plans_mod
from bogda.enforcement.catalogue import CatalogueRun, evaluation_records, run_catalogue_full
from bogda.enforcement.cems import LOAD_CODE, Mark, Outlet
from bogda.enforcement.power import Meter, MeterPair
from bogda.enforcement.rules import DEFAULT_PARAMS, RULES, Hit, ParamError, Params, parse_param_file, resolve_params
from bogda.store import Store, series
from bogda.store.schema import (
    clue,
    clue_eval,
    enf_param_set,
    enterprise,
    job_run,
    meter,
    observation,
    outlet,
    raw_frame,
    rule_override,
    site,
)
from bogda.store.schema import series as series_t
from bogda.timeutil import beijing_date, epoch_seconds, floor_to, from_epoch, now_utc

JOB = "clues.run"
JOB_SCHEDULED = "clues.scheduled"
METER_PARAMETERS = ("p_kw", "kwh")
SECTOR_SOURCE = {
    "power": "coal_unit",
    "cement": "cement_kiln",
    "coking": "coke_oven_chimney",
    "boiler": "coal_boiler",
    "coal_chemical": "coal_boiler",
    "steel": "sinter_head",
}
"""Registry sector → default ``source_type`` of its gas outlets (O2 guard, limits table)."""
MAX_RAW_ROWS = 2000
"""Raw items of the hit kept in the bundle (long episodes, e.g. a staggered-production season, are cut)."""
FUTURE_TOLERANCE = timedelta(minutes=10)
"""Data stamped later than now + this are not judged (enforcement.md §7 ``time_suspect``)."""
LATE_DATA_H = 72
"""Scheduled runs re-read this many hours before now (late data, enforcement.md §6 ``late_data_h``)."""


# --------------------------------------------------------------------------------------------- registry
@dataclass
class Registry:
    """What the catalogue needs from the registry, keyed by site code (outlet, meter and enterprise codes)."""

    outlets: list[Outlet] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)
    pairs: list[MeterPair] = field(default_factory=list)
    sites: dict[str, int] = field(default_factory=dict)  # code → site id
    info: dict[int, dict[str, Any]] = field(default_factory=dict)  # site id → kind, code, name, place, lon, lat …

    def site_id(self, code: str | None) -> int | None:
        return None if code is None else self.sites.get(code)

    def enterprise_codes(self) -> dict[int, str]:
        """``{site id: code}`` of the registry's enterprises."""
        return {
            i: info["code"]
            for i, info in self.info.items()
            if info["kind"] == "enterprise" and info["code"] in self.sites
        }


def outlet_marks(reg: Registry, marks: list[Mark]) -> list[Mark]:
    """Marks as the catalogue reads them (``target_id`` = outlet code): an outlet's own marks, and a mark on a
    production-facility meter copied to every outlet whose production meter it is (a stopped kiln stops its
    stack's data too)."""
    by_meter: dict[str, list[str]] = {}
    for o in reg.outlets:
        if o.production_meter_id:
            by_meter.setdefault(o.production_meter_id, []).append(o.outlet_id)
    outlets = {o.outlet_id for o in reg.outlets}
    out: list[Mark] = []
    for mk in marks:
        if mk.target_id in outlets:
            out.append(mk)
        for oid in by_meter.get(mk.target_id, []):
            out.append(replace(mk, target_id=oid))
    return out


def _documents(marks: list[Mark], plans: Any) -> Callable[[Hit], list[dict[str, Any]]]:
    """The bundle's ``documents[]`` of a hit: the mark it names (C04, C16) or the orders behind a plan rule."""
    by_id = {mk.mark_id: mk for mk in marks}

    def docs(h: Hit) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        mk = by_id.get(str(h.metrics.get("mark_id", "")))
        if mk is not None:
            out.append(
                {
                    "kind": "mark",
                    "mark_id": mk.mark_id,
                    "mark_type": mk.mark_type,
                    "target": mk.target_id,
                    "start": mk.start.isoformat(),
                    "end": mk.end.isoformat(),
                    "entered_at": mk.entered_at.isoformat() if mk.entered_at else None,
                    "status": mk.status,
                    "reason": mk.reason,
                }
            )
        if h.rule_id in ("E04", "E05", "P02", "P03") and h.start is not None:
            for o in plans_mod.orders_for(plans, h.enterprise_id):
                if o.issued_at < h.end and o.lifted_at > h.start:
                    out.append(
                        {
                            "kind": "order",
                            "level": o.level,
                            "doc_id": o.doc_id,
                            "issued_at": o.issued_at.isoformat(),
                            "lifted_at": o.lifted_at.isoformat(),
                            "source": o.source,
                        }
                    )
        return out

    return docs


def load_registry(store: Store, enterprises: Sequence[str] | None = None) -> Registry:
    """Gas outlets, meters and meter pairs of ``enterprises`` (codes; ``None`` = all), with their sites."""
    reg = Registry()
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(site).where(site.c.kind.in_(("enterprise", "outlet", "meter")), site.c.active.is_(True))
        ).mappings()
        for r in rows:
            reg.info[r["id"]] = dict(r)
        ents = {r.site_id: r for r in conn.execute(select(enterprise))}
        outs = conn.execute(select(outlet)).mappings().all()
        mets = conn.execute(select(meter)).mappings().all()
    wanted = None if enterprises is None else set(enterprises)
    ent_code = {sid: i["code"] for sid, i in reg.info.items() if i["kind"] == "enterprise"}
    for sid, code in ent_code.items():
        if wanted is None or code in wanted:
            reg.sites[code] = sid
            reg.info[sid]["sector"] = ents[sid].sector if sid in ents else None
    prod_meter: dict[int, str] = {}
    for m in mets:
        info = reg.info.get(m["site_id"])
        if info is None or info["parent_id"] not in ent_code or ent_code[info["parent_id"]] not in reg.sites:
            continue
        attrs = info["attrs"] or {}
        ent = ent_code[info["parent_id"]]
        reg.sites[info["code"]] = m["site_id"]
        reg.meters.append(
            Meter(
                meter_id=info["code"],
                enterprise_id=ent,
                role=m["role"],
                facility_id=m["equipment"] or "",
                rated_kw=m["rated_kw"],
                rated_current_a=attrs.get("rated_current_a"),
                has_standby=bool(attrs.get("has_standby", False)),
                mn=str(attrs.get("mn", "")),
            )
        )
        if m["role"] == "production":
            prod_meter.setdefault(info["parent_id"], info["code"])
            paired = reg.info.get(m["paired_site_id"]) if m["paired_site_id"] else None
            if paired is not None:
                reg.pairs.append(MeterPair(info["code"], paired["code"], ent))
    for o in outs:
        info = reg.info.get(o["site_id"])
        if o["medium"] != "gas" or info is None or info["parent_id"] not in ent_code:
            continue
        ent = ent_code[info["parent_id"]]
        if ent not in reg.sites:
            continue
        reg.sites[info["code"]] = o["site_id"]
        reg.outlets.append(
            outlet_from_registry(
                info, o, ent, reg.info[info["parent_id"]].get("sector"), prod_meter.get(info["parent_id"])
            )
        )
    return reg


def outlet_from_registry(
    info: dict[str, Any], row: Any, enterprise_code: str, sector: str | None, production_meter: str | None
) -> Outlet:
    """The catalogue's :class:`Outlet` from a ``site`` + ``outlet`` row (options in ``site.attrs``)."""
    attrs = info.get("attrs") or {}
    limits: dict[str, tuple[float | None, float | None]] = {}
    basis = "permit"
    for code, spec in (row["limits"] or {}).items():
        if isinstance(spec, dict):
            limits[code] = (spec.get("limit"), spec.get("daily"))
            basis = spec.get("basis", basis)
    band = attrs.get("o2_band")
    return Outlet(
        outlet_id=info["code"],
        enterprise_id=enterprise_code,
        source_type=attrs.get("source_type") or SECTOR_SOURCE.get(sector or "", "coal_boiler"),
        o2_ref_pct=row["o2_reference"],
        o2_band=(float(band[0]), float(band[1])) if band else None,
        limits=limits,
        limit_source=basis,
        span={k: float(v) for k, v in (attrs.get("span") or {}).items()},
        lod={k: float(v) for k, v in (attrs.get("lod") or {}).items()},
        wet_fgd=bool(attrs.get("wet_fgd", False)),
        load_channel=attrs.get("load_channel", LOAD_CODE),
        production_meter_id=attrs.get("production_meter", production_meter),
        calibration_ok=bool(attrs.get("calibration_ok", True)),
        comparison_ok=bool(attrs.get("comparison_ok", True)),
        monthly_rate=bool(attrs.get("monthly_rate", False)),
        furnace_channel=attrs.get("furnace_channel"),
        o2_guard_pct=attrs.get("o2_guard_pct"),
        converted=bool(attrs.get("converted", False)),
        calibration_hours=tuple(int(h) for h in attrs["calibration_hours"]) if "calibration_hours" in attrs else None,
    )


# ------------------------------------------------------------------------------------------- parameters
def active_params(store: Store) -> Params:
    """The parameter set in force: the newest activated file (:func:`activate_params`), else the defaults."""
    with store.engine.connect() as conn:
        row = conn.execute(select(enf_param_set).order_by(enf_param_set.c.id.desc()).limit(1)).mappings().first()
    if row is None:
        return resolve_params()
    p = resolve_params(
        {k: v for k, v in row["values"].items() if k in DEFAULT_PARAMS and v != DEFAULT_PARAMS[k]},
        version=row["version"],
    )
    if p.sha256 != row["sha256"]:  # a default changed in code since activation: the stored set still rules
        p = Params(values={**p.values, **row["values"]}, version=row["version"], sha256=row["sha256"])
    return p


def activate_params(
    store: Store, text: str, *, name: str = "params", by: str | None = None, now: datetime | None = None
) -> Params:
    """Validate a parameter file and make it the set in force. An invalid file raises :class:`ParamError` naming
    the key and reason and changes nothing (the last valid version stays active); a version name already used for
    different values is refused (versions are immutable)."""
    p = parse_param_file(text, name)
    with store.begin() as conn:
        old = conn.execute(select(enf_param_set).where(enf_param_set.c.version == p.version)).mappings().first()
        if old is not None:
            if old["sha256"] != p.sha256:
                raise ParamError(f"{name}: version: {p.version!r} already names a different parameter set")
            # re-activating a version makes its row the newest again
            conn.execute(enf_param_set.delete().where(enf_param_set.c.id == old["id"]))
        conn.execute(
            enf_param_set.insert().values(
                version=p.version,
                values=dict(p.values),
                sha256=p.sha256,
                source=name[:200],
                activated_at=now or now_utc(),
                activated_by=by,
            )
        )
    return p


# ------------------------------------------------------------------------------------------------ data
def _wide(long: pl.DataFrame, id_name: str, codes: dict[int, str]) -> pl.DataFrame:
    """Long ``site_id, parameter, ts, value, flag`` → wide: one value and one ``<code>_flag`` column per code."""
    values = long.pivot(on="parameter", index=["site_id", "ts"], values="value", aggregate_function="first")
    flags = long.pivot(on="parameter", index=["site_id", "ts"], values="flag", aggregate_function="first")
    flags = flags.rename({c: f"{c}_flag" for c in flags.columns if c not in ("site_id", "ts")})
    df = values.join(flags, on=["site_id", "ts"], how="left")
    return (
        df.with_columns(
            pl.col("site_id").replace_strict(codes, return_dtype=pl.Utf8).alias(id_name),
            pl.col("ts").alias("ts_utc"),
        )
        .drop("site_id", "ts")
        .sort(id_name, "ts_utc")
    )


def read_cems(
    store: Store, reg: Registry, start: datetime, end: datetime, *, resolution: str = "hour"
) -> pl.DataFrame | None:
    """Wide CEMS frame (``outlet_id, ts_utc, <code>, <code>_flag``) of the registry's outlets (hourly, or minute
    data with ``resolution="min"``)."""
    ids = {reg.sites[o.outlet_id]: o.outlet_id for o in reg.outlets}
    if not ids:
        return None
    long = series.read(store, sites=list(ids), start=start, end=end, resolution=resolution)
    if long.height == 0:
        return None
    return _wide(long, "outlet_id", ids)


def read_meters(store: Store, reg: Registry, start: datetime, end: datetime) -> tuple[pl.DataFrame | None, list[Meter]]:
    """Meter frame (``meter_id, ts_utc, p_kw``) and the meters with their interval learned from the data.

    Minute-resolution series win over hourly ones for the same meter; ``kwh`` is turned into mean power;
    a value whose flag is not ``N`` is NODATA.
    """
    ids = {reg.sites[m.meter_id]: m.meter_id for m in reg.meters}
    if not ids:
        return None, []
    parts: list[pl.DataFrame] = []
    seen: set[int] = set()
    for res in ("min", "hour"):
        long = series.read(
            store, sites=list(ids), parameters=list(METER_PARAMETERS), start=start, end=end, resolution=res
        )
        long = long.filter(~pl.col("site_id").is_in(list(seen)))
        if long.height == 0:
            continue
        seen |= set(long["site_id"].unique().to_list())
        long = long.with_columns(pl.when(pl.col("flag") == "N").then(pl.col("value")).alias("value"))
        parts.append(_wide(long, "meter_id", ids))
    if not parts:
        return None, []
    df = pl.concat(parts, how="diagonal_relaxed")
    for col in METER_PARAMETERS:
        if col not in df.columns:
            df = df.with_columns(pl.lit(None, pl.Float64).alias(col))
    step = (
        df.group_by("meter_id")
        .agg(pl.col("ts_utc").diff().dt.total_seconds().median().alias("step"))
        .filter(pl.col("step").is_not_null())
    )
    steps = {r[0]: int(r[1]) for r in step.iter_rows()}
    meters = [replace(m, interval_s=steps.get(m.meter_id, m.interval_s)) for m in reg.meters if m.meter_id in steps]
    df = df.with_columns(pl.col("meter_id").replace_strict(steps, default=900, return_dtype=pl.Int64).alias("_s"))
    df = df.with_columns(pl.coalesce("p_kw", pl.col("kwh") * 3600.0 / pl.col("_s")).alias("p_kw")).select(
        "meter_id", "ts_utc", "p_kw"
    )
    return df.sort("meter_id", "ts_utc"), meters


def load_overrides(store: Store, enterprises: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per-enterprise parameter overrides ``{enterprise code: {key: value}}`` (tuning and manual rows)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(site.c.code, rule_override.c.key, rule_override.c.value).join(
                site, site.c.id == rule_override.c.enterprise_id
            )
        ).all()
    out: dict[str, dict[str, Any]] = {}
    for code, key, value in rows:
        if enterprises is None or code in enterprises:
            out.setdefault(code, {})[key] = value
    return out


# ------------------------------------------------------------------------------------------- evidence
def _frame_sources(conn: Connection, site_id: int, start: datetime, end: datetime) -> dict[tuple[str, str], int]:
    """``{(ts ISO, parameter): raw_frame id}`` of the subject's observations in ``[start, end)``."""
    rows = conn.execute(
        select(series_t.c.parameter, observation.c.ts, observation.c.source_id)
        .join(observation, observation.c.series_id == series_t.c.id)
        .where(
            series_t.c.site_id == site_id,
            observation.c.ts >= epoch_seconds(start),
            observation.c.ts < epoch_seconds(end),
            observation.c.source_id.is_not(None),
        )
    ).all()
    return {(from_epoch(ts).isoformat(), par): int(src) for par, ts, src in rows}


def _frames(conn: Connection, ids: set[int]) -> list[dict[str, Any]]:
    """``frames[]`` of a bundle: the raw HJ 212 frames with MN, CN, QN, time received and SHA-256 of the text."""
    out = []
    for chunk in [sorted(ids)[i : i + 500] for i in range(0, len(ids), 500)]:
        for r in conn.execute(
            select(
                raw_frame.c.id,
                raw_frame.c.mn,
                raw_frame.c.cn,
                raw_frame.c.qn,
                raw_frame.c.received_at,
                raw_frame.c.text,
            ).where(raw_frame.c.id.in_(chunk))
        ):
            out.append(
                {
                    "frame_uid": int(r.id),
                    "mn": r.mn,
                    "cn": r.cn,
                    "qn": r.qn,
                    "received_at": r.received_at.isoformat() if r.received_at else None,
                    "sha256": hashlib.sha256(r.text.encode("utf-8")).hexdigest(),
                }
            )
    return out


def attach_frames(conn: Connection, draft: CL.FindingDraft, site_id: int | None) -> None:
    """Fill ``frame_uid`` of the bundle's raw items from ``observation.source_id``, list the frames, cut very
    long raw lists, and re-seal the bundle (``bundle_sha256``)."""
    ev = draft.evidence
    raws = ev.get("raw", [])
    if site_id is not None and raws and draft.window_start is not None:
        stamps = [r["ts_utc"] for r in raws if isinstance(r.get("ts_utc"), str)]
        if stamps:
            lo = datetime.fromisoformat(min(stamps))
            hi = datetime.fromisoformat(max(stamps)) + timedelta(hours=1)
            src = _frame_sources(conn, site_id, lo, hi)
            for r in raws:
                if r.get("frame_uid") is None:
                    par = str(r.get("channel", "")).removesuffix("-Avg")
                    r["frame_uid"] = src.get((r.get("ts_utc"), par))
    in_hit = [r for r in raws if r.get("in_hit")]
    if len(in_hit) > MAX_RAW_ROWS:
        ev["raw_truncated"] = {"kept": MAX_RAW_ROWS, "total": len(in_hit)}
        ev["raw"] = raws = in_hit[:MAX_RAW_ROWS]
    ids = {int(r["frame_uid"]) for r in raws if r.get("frame_uid") is not None}
    ev["frames"] = _frames(conn, ids) if ids else []
    draft.bundle_sha256 = CL.bundle_sha256(ev)


# ----------------------------------------------------------------------------------------------- runs
@dataclass
class RunReport:
    """What one run did (also logged in ``job_run``)."""

    run_id: int | None
    since: datetime
    until: datetime
    hits: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    rejected: list[str] = field(default_factory=list)
    not_evaluable: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    finding_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0
    by_rule: dict[str, int] = field(default_factory=dict)


def dedupe_key(hit: Hit, draft: CL.FindingDraft) -> str:
    """Stable per rule + subject + channel + episode start; a staggered-production season by its window."""
    if hit.rule_id == "P01" and hit.metrics.get("window_start"):
        return f"clue:P01:{hit.subject_id}:{hit.metrics['window_start']}"
    return f"clue:{draft.dedupe_key}"


def _overlaps(h: Hit, since: datetime, until: datetime) -> bool:
    return h.start is not None and h.end is not None and h.end > since and h.start < until


def _job_start(store: Store, job: str, now: datetime) -> int:
    with store.begin() as conn:
        return int(
            conn.execute(
                job_run.insert()
                .values(job=job, scheduled_at=now, started_at=now_utc(), status="running")
                .returning(job_run.c.id)
            ).scalar_one()
        )


def _job_end(store: Store, run_id: int, status: str, rows: int | None, error: str | None = None) -> None:
    with store.begin() as conn:
        conn.execute(
            job_run.update()
            .where(job_run.c.id == run_id)
            .values(finished_at=now_utc(), status=status, rows=rows, error=error)
        )


def run_clues(
    store: Store,
    *,
    since: datetime,
    until: datetime,
    enterprises: Sequence[str] | None = None,
    params: Params | None = None,
    lookback_days: int = 30,
    job: str = JOB,
    now: datetime | None = None,
    write_evaluations: bool = True,
    with_minutes: bool = True,
    log_job: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RunReport:
    """Run the whole catalogue for the hits overlapping ``[since, until)`` and file them as clues.

    Data are read from ``lookback_days`` before ``since`` (trailing baselines, threshold learning); outlets' minute
    series (CN 2051) of the window itself feed C21/C23; only hits touching the window are filed. Logged in
    ``job_run`` (``status`` ok | failed, ``rows`` = clues created or updated). A failure of one rule for one
    subject does not stop the run (it is counted in ``errors``). ``log_job=False`` leaves the ``job_run`` row to
    the caller (the scheduler's :func:`bogda.jobs.run_once` logs its own).
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until must be timezone-aware")
    if until <= since:
        raise ValueError("until must be after since")
    now = now or now_utc()
    t0 = time.perf_counter()
    run_id = _job_start(store, job, now) if log_job else None
    rep = RunReport(run_id, since, until)
    say = progress or (lambda _msg: None)
    try:
        params = params or active_params(store)
        say("registry")
        reg = load_registry(store, enterprises)
        overrides = load_overrides(store, enterprises)
        plans = planbook.plan_set(store, params["ramp_h.kiln"])
        start = since - timedelta(days=lookback_days)
        # values stamped more than FUTURE_TOLERANCE after now are suspect clocks, never judged (spec §7)
        data_end = min(until, now + FUTURE_TOLERANCE)
        say("reading CEMS")
        cems = read_cems(store, reg, start, data_end)
        minutes = read_cems(store, reg, since, data_end, resolution="min") if with_minutes else None
        say("reading meters")
        mframe, meters = read_meters(store, reg, start, data_end)
        say("reading marks, pushes, gate records")
        ents = reg.enterprise_codes()
        marks = outlet_marks(reg, recordbook.read_marks(store, start, until, ents))
        coke = recordbook.read_batteries(store, start, until, ents)
        gates = recordbook.read_gate(store, start, until, ents)
        say("running the catalogue")
        run = run_catalogue_full(
            cems,
            mframe,
            reg.outlets,
            meters,
            plans,
            params,
            pairs=reg.pairs,
            overrides=overrides,
            minute_frame=minutes,
            marks=marks,
            coke=coke,
            gates=gates,
        )
        hits = [h for h in run.hits if _overlaps(h, since, until)]
        rep.hits, rep.not_evaluable, rep.errors = len(hits), len(run.not_evaluable), list(run.errors)
        say(f"filing {len(hits)} clues")
        file_hits(store, reg, run, hits, params, overrides, rep, now=now, documents=_documents(marks, plans))
        if write_evaluations:
            write_evaluation_table(store, reg, run, since, until, run_id)
        if run_id is not None:
            _job_end(store, run_id, "ok", rep.created + rep.updated)
    except Exception as exc:
        if run_id is not None:
            _job_end(store, run_id, "failed", None, f"{type(exc).__name__}: {exc}"[:2000])
        raise
    rep.seconds = time.perf_counter() - t0
    return rep


def file_hits(
    store: Store,
    reg: Registry,
    run: CatalogueRun,
    hits: list[Hit],
    params: Params,
    overrides: dict[str, dict[str, Any]],
    rep: RunReport,
    *,
    now: datetime,
    documents: Callable[[Hit], list[dict[str, Any]]] | None = None,
) -> None:
    """Hits → clue drafts → findings + ``clue`` rows, in one transaction (see the module docstring).

    ``documents(hit)`` lists the records a hit rests on (marks, orders) for the bundle's ``documents[]``."""
    tuned: dict[str, Params] = {}
    with store.begin() as conn:
        for h in hits:
            p = params
            if h.enterprise_id in overrides:
                if h.enterprise_id not in tuned:
                    tuned[h.enterprise_id] = params.with_overrides(overrides[h.enterprise_id])  # type: ignore[index]
                p = tuned[h.enterprise_id]  # type: ignore[index]
            draft = CL.draft_from_hit(
                h, run.frame_for(h), params=p, documents=documents(h) if documents is not None else None
            )
            subject_site = reg.site_id(h.subject_id)
            attach_frames(conn, draft, subject_site)
            key = dedupe_key(h, draft)
            prev = conn.execute(
                select(clue.c.id, clue.c.finding_id, clue.c.bundle_sha256, clue.c.version)
                .where(clue.c.dedupe_key == key)
                .order_by(clue.c.id.desc())
                .limit(1)
            ).first()
            if prev is not None and prev.bundle_sha256 == draft.bundle_sha256:
                rep.unchanged += 1
                rep.finding_ids.append(int(prev.finding_id))
                continue
            ent_site = reg.site_id(h.enterprise_id)
            where = reg.info.get(subject_site or -1) or reg.info.get(ent_site or -1) or {}
            ent_name = (reg.info.get(ent_site or -1) or {}).get("name", h.enterprise_id or "")
            summary = {
                "rule_id": h.rule_id,
                "rule_version": h.rule_version,
                "param_version": h.param_version,
                "param_sha256": h.param_sha256,
                "bundle_sha256": draft.bundle_sha256,
                "window": draft.evidence["window"],
                "metrics": h.metrics,
                "channel": h.channel,
                "subject": {"kind": h.subject_kind, "code": h.subject_id, "site_id": subject_site},
                "frame_ids": sorted({f["frame_uid"] for f in draft.evidence.get("frames", [])})[:200],
            }
            fd = F.FindingDraft(
                kind="clue",
                severity=h.severity,
                title=f"{ent_name} {draft.title}",
                dedupe_key=key,
                detected_at=now,
                lon=where.get("lon"),
                lat=where.get("lat"),
                place_id=where.get("place_id"),
                subject_site_id=ent_site,
                evidence=summary,
                cooldown=timedelta(days=3650),
            )
            try:
                out = F.raise_finding(conn, fd, now=now)
            except ValueError as exc:
                rep.rejected.append(f"{key}: {exc}")
                continue
            if out.action == "suppressed":
                rep.suppressed += 1
                continue
            meter_ids = [h.subject_id] if h.subject_kind in ("meter", "meter_pair") else []
            if h.subject_kind == "meter_pair":
                meter_ids += [p_.treatment_id for p_ in reg.pairs if p_.production_id == h.subject_id]
            values = {
                "dedupe_key": key,
                "rule_id": h.rule_id,
                "rule_version": h.rule_version,
                "param_version": h.param_version,
                "param_sha256": h.param_sha256,
                "params": draft.evidence.get("params", {}),
                "severity": h.severity,
                "enterprise_id": ent_site,
                "subject_site_id": subject_site,
                "meter_ids": meter_ids,
                "channel": h.channel,
                "window_start": h.start,
                "window_end": h.end,
                "metrics": h.metrics,
                "limit_source": next((o.limit_source for o in reg.outlets if o.outlet_id == h.subject_id), None),
                "legal_basis": draft.legal_basis,
                "evidence": draft.evidence,
                "bundle_sha256": draft.bundle_sha256,
                "run_id": rep.run_id,
                "updated_at": now,
            }
            existing = conn.execute(
                select(clue.c.id, clue.c.version, clue.c.bundle_sha256).where(clue.c.finding_id == out.finding_id)
            ).first()
            if existing is not None:
                conn.execute(
                    clue.update()
                    .where(clue.c.id == existing.id)
                    .values(**values, version=existing.version + 1, supersedes=existing.bundle_sha256)
                )
                rep.updated += 1
            else:
                version = 1 if prev is None else prev.version + 1
                conn.execute(
                    clue.insert().values(
                        **values,
                        finding_id=out.finding_id,
                        version=version,
                        supersedes=None if prev is None else prev.bundle_sha256,
                        status="NEW",
                        feedback=[],
                        created_at=now,
                    )
                )
                rep.created += 1
            rep.finding_ids.append(out.finding_id)
            rep.by_rule[h.rule_id] = rep.by_rule.get(h.rule_id, 0) + 1


def _days(since: datetime, until: datetime) -> list[date]:
    d, last = beijing_date(since), beijing_date(until - timedelta(microseconds=1))
    out = []
    while d <= last:
        out.append(d)
        d += timedelta(days=1)
    return out


def write_evaluation_table(
    store: Store, reg: Registry, run: CatalogueRun, since: datetime, until: datetime, run_id: int | None
) -> int:
    """Replace the ``clue_eval`` rows of the run's subjects and Beijing days with this run's verdicts."""
    days = _days(since, until)
    ev = evaluation_records(run, days)
    if ev.height == 0:
        return 0
    ev = ev.with_columns(
        pl.col("subject_id").replace_strict(reg.sites, default=None, return_dtype=pl.Int64).alias("site_id")
    ).filter(pl.col("site_id").is_not_null())
    sites = ev["site_id"].unique().to_list()
    with store.begin() as conn:
        for chunk in [sites[i : i + 500] for i in range(0, len(sites), 500)]:
            conn.execute(
                delete(clue_eval).where(
                    and_(clue_eval.c.site_id.in_(chunk), clue_eval.c.day >= days[0], clue_eval.c.day <= days[-1])
                )
            )
        rows = [
            {"rule_id": r, "site_id": s, "day": d, "state": st, "reason": why, "run_id": run_id}
            for r, s, d, st, why in ev.select("rule_id", "site_id", "day", "state", "reason").iter_rows()
        ]
        rows = list({(x["rule_id"], x["site_id"], x["day"]): x for x in rows}.values())
        for i in range(0, len(rows), 5000):
            conn.execute(clue_eval.insert(), rows[i : i + 5000])
    return len(rows)


def run_scheduled(store: Store, now: datetime | None = None, *, hours: int = LATE_DATA_H) -> RunReport:
    """The scheduler's entry point: the catalogue over the last ``hours`` (default 72 h, the late-data window)
    up to the last full hour. Idempotent: re-running the same window files no duplicate clue."""
    now = now or now_utc()
    until = floor_to(now, "hour")
    return run_clues(store, since=until - timedelta(hours=hours), until=until, job=JOB_SCHEDULED, now=now)


def scheduled_job(store: Store, now: datetime) -> int:
    """The same as :func:`run_scheduled` in the scheduler's job signature (``bogda.jobs``: ``fn(store, now) -> rows``,
    logged by the scheduler): register it as ``JobSpec("clues", "bogda.enforcement.service:scheduled_job", 60, …)``.
    """
    until = floor_to(now, "hour")
    rep = run_clues(store, since=until - timedelta(hours=LATE_DATA_H), until=until, now=now, log_job=False)
    return rep.created + rep.updated


def config_gaps(store: Store, *, since: date | None = None) -> list[dict[str, Any]]:
    """The config-gaps report (enforcement.md §7): every (subject, rule, missing item) judged
    ``not_evaluable(CONFIG_MISSING:<item>)`` in the evaluation table, with the days affected and the last one,
    most recent first — what the registry must supply before those rules can run."""
    q = (
        select(
            site.c.code,
            site.c.name,
            site.c.kind,
            site.c.place_id,
            clue_eval.c.rule_id,
            clue_eval.c.reason,
            func.count().label("days"),
            func.max(clue_eval.c.day).label("last_day"),
        )
        .join(site, site.c.id == clue_eval.c.site_id)
        .where(clue_eval.c.state == "not_evaluable", clue_eval.c.reason.like("CONFIG_MISSING:%"))
        .group_by(site.c.code, site.c.name, site.c.kind, site.c.place_id, clue_eval.c.rule_id, clue_eval.c.reason)
    )
    if since is not None:
        q = q.where(clue_eval.c.day >= since)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    out = [
        {
            "subject_code": r.code,
            "subject_name": r.name,
            "subject_kind": r.kind,
            "place_id": r.place_id,
            "rule_id": r.rule_id,
            "rule_name": RULES[r.rule_id].name_zh if r.rule_id in RULES else "",
            "missing": r.reason.removeprefix("CONFIG_MISSING:"),
            "days": int(r.days),
            "last_day": r.last_day,
        }
        for r in rows
    ]
    return sorted(out, key=lambda x: (x["last_day"], x["subject_code"], x["rule_id"]), reverse=True)


def rule_names() -> dict[str, str]:
    """Rule id → Chinese name (for faces)."""
    return {k: r.name_zh for k, r in RULES.items()}
