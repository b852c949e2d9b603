"""Run the whole rule catalogue over many outlets and meters (enforcement.md §4, §8).

Pure orchestration over in-memory frames: CEMS hourly frame (wide, see :mod:`.cems`) and meter frame
(``meter_id, ts_utc, p_kw``). Sequence rules run before statistical ones; a failing rule stops only itself for
that subject and is recorded; a missing registry item yields ``not_evaluable(CONFIG_MISSING:<item>)``.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from bogda.enforcement import cems, detectors, operations, plans, power
from bogda.enforcement.cems import FLOW_CODE, O2_CODE, POLLUTANTS, TEMP_CODE, Outlet
from bogda.enforcement.detectors import Subject
from bogda.enforcement.plans import PlanSet
from bogda.enforcement.power import Meter, MeterPair
from bogda.enforcement.rules import Hit, NotEvaluable, Params, resolve_params

SHAPE_CHANNELS = (*POLLUTANTS, "a21005", O2_CODE, FLOW_CODE)
"""Channels tested for flat lines, linear fills and copied blocks (never the load channel)."""
BYPASS_PREFIX = "g116"
HEAT_INPUT = "heat_input"


@dataclass
class CatalogueRun:
    """Everything one run produced: hits, not-evaluable records, failures, and per-subject context."""

    hits: list[Hit] = field(default_factory=list)
    not_evaluable: list[NotEvaluable] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (rule_id, subject_id, message)
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    states: dict[str, np.ndarray] = field(default_factory=dict)
    thresholds: dict[str, power.Threshold] = field(default_factory=dict)
    derived: dict[str, dict[str, str]] = field(default_factory=dict)
    evaluated: set[tuple[str, str]] = field(default_factory=set)  # (rule_id, subject_id) pairs that ran
    # evidence tables of subjects without an hourly frame (P02 daily pushes, P03 gate records), by (rule, subject,
    # channel)
    evidence: dict[tuple[str, str, str | None], pl.DataFrame] = field(default_factory=dict)

    def frame_for(self, hit: Hit) -> pl.DataFrame | None:
        """The rows a hit's ``i0``/``i1`` index: its evidence table, else its subject's frame."""
        got = self.evidence.get((hit.rule_id, hit.subject_id, hit.channel))
        return got if got is not None else self.frames.get(hit.subject_id)


def _guard(run: CatalogueRun, rule_id: str, subject_id: str, fn: Callable[[], list[Hit]]) -> None:
    """Call ``fn`` now and keep its hits; an exception is recorded against (rule, subject) and swallowed.

    ``fn`` runs immediately, so closures over loop variables are safe (hence the B023 silencers below).
    """
    run.evaluated.add((rule_id, subject_id))
    try:
        run.hits.extend(fn())
    except Exception as exc:  # a failing rule stops only itself (enforcement.md §7)
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        run.errors.append((rule_id, subject_id, last))


def regrid(df: pl.DataFrame, step_s: int) -> pl.DataFrame:
    """Sort by ``ts_utc`` and insert missing intervals as null rows (duplicates: first kept)."""
    if df.height >= 2:
        t_us = df["ts_utc"].dt.epoch("us").to_numpy()
        d = np.diff(t_us)
        if (d == step_s * 1_000_000).all():
            return df  # already sorted, unique and complete: the common case, no copy
    df = df.sort("ts_utc").unique("ts_utc", keep="first", maintain_order=True)
    if df.height < 2:
        return df
    t = df["ts_utc"]
    span = int((t[-1] - t[0]).total_seconds() // step_s) + 1
    if span == df.height:
        return df
    grid = pl.DataFrame(
        {"ts_utc": pl.datetime_range(t[0], t[-1], timedelta(seconds=step_s), eager=True, time_zone="UTC")}
    )
    return grid.join(df.with_columns(pl.col("ts_utc").dt.convert_time_zone("UTC")), on="ts_utc", how="left")


def _ts(df: pl.DataFrame) -> np.ndarray:
    col = df["ts_utc"]
    if isinstance(col.dtype, pl.Datetime) and col.dtype.time_zone is not None:
        col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return col.cast(pl.Datetime("us")).to_numpy().astype("datetime64[us]")


def _f(df: pl.DataFrame, col: str) -> np.ndarray | None:
    if col not in df.columns:
        return None
    return df[col].cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _flags(df: pl.DataFrame, col: str) -> np.ndarray | None:
    name = f"{col}_flag"
    if name not in df.columns:
        return None
    return df[name].fill_null("").to_numpy().astype(object)


def align(ts_src: np.ndarray, values: np.ndarray, ts_dst: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """Values of a series at the instants ``ts_dst`` (exact match on interval start, ``fill`` elsewhere)."""
    pos = np.searchsorted(ts_src, ts_dst)
    posc = np.minimum(pos, len(ts_src) - 1)
    ok = (pos < len(ts_src)) & (ts_src[posc] == ts_dst) if len(ts_src) else np.zeros(len(ts_dst), bool)
    out = np.full(len(ts_dst), fill, dtype=np.float64)
    out[ok] = np.asarray(values, dtype=np.float64)[posc[ok]]
    return out


def hourly_on(ts: np.ndarray, state: np.ndarray, ts_hours: np.ndarray) -> np.ndarray:
    """ON for at least half of each hour starting at ``ts_hours`` (meter state → outlet hour)."""
    hour = ts.astype("datetime64[h]").astype("datetime64[us]")
    on = (state == power.ON).astype(np.float64)
    keys, inv = np.unique(hour, return_inverse=True)
    frac = np.bincount(inv, weights=on) / np.bincount(inv)
    return align(keys, frac, ts_hours, fill=0.0) >= 0.5


# -------------------------------------------------------------------------------------------- outlets
def run_outlet(
    run: CatalogueRun,
    outlet: Outlet,
    df: pl.DataFrame,
    params: Params,
    *,
    marks: list[cems.Mark] | None = None,
    production_on: np.ndarray | None = None,
) -> None:
    """All CEMS rules for one outlet's hourly frame (already on a complete hourly grid)."""
    oid = outlet.outlet_id
    ts = _ts(df)
    subj = Subject(oid, outlet.enterprise_id, ts, 3600, "outlet")
    load = _f(df, outlet.load_channel) if outlet.load_channel else None
    if outlet.load_channel and load is None:
        run.not_evaluable.append(NotEvaluable("C11", oid, f"CONFIG_MISSING:load_channel:{outlet.load_channel}"))
    o2 = _f(df, O2_CODE)
    marks = [m for m in (marks or []) if m.target_id == oid]
    marked = cems.exempt_mask(ts, marks, oid, params) if marks else None
    pollutants = [c for c in POLLUTANTS if c in df.columns]
    numeric = [
        c
        for c, t in df.schema.items()
        if t.is_numeric() and c not in ("frame_uid",) and not c.endswith(("_zs", "_n", "_o2"))
    ]
    cols = {c: _f(df, c) for c in numeric}
    base = tuple(c for c in (outlet.load_channel, FLOW_CODE, HEAT_INPUT) if c)
    derived = detectors.derived_channels(
        {c: v for c, v in cols.items() if c != O2_CODE and v is not None}, params, base=base
    )
    run.derived[oid] = derived

    # sequence rules first -------------------------------------------------------------------------
    for code in pollutants:
        lim = outlet.limits.get(code)
        flags = _flags(df, code)
        if lim is None:
            run.not_evaluable.append(NotEvaluable("C01", oid, f"CONFIG_MISSING:limit:{code}"))
            jf = None
        elif outlet.o2_ref_pct is None and not outlet.converted:
            run.not_evaluable.append(NotEvaluable("C01", oid, "CONFIG_MISSING:o2_ref_pct"))
            jf = None
        else:
            jf = cems.judge_factor(
                outlet, code, cols[code], params=params, flags=flags, o2=o2, load=load, marked=marked
            )
            _guard(run, "C01", oid, lambda jf=jf: cems.exceedance_hits(outlet, jf, params, ts))
            _guard(run, "C02", oid, lambda jf=jf: cems.daily_exceedance_hits(outlet, jf, params, ts))
            _guard(run, "C03", oid, lambda jf=jf: cems.monthly_rate_hits(outlet, jf, params, ts))
            valid = jf.status == cems.VALID
            _guard(run, "C17", oid, lambda v=valid, c=code: cems.completeness_hits(outlet, v, params, ts, c))
            _guard(run, "C17", oid, lambda v=valid, c=code: cems.quarterly_completeness_hits(outlet, v, params, ts, c))
        if flags is not None:
            _guard(run, "C15", oid, lambda f=flags, c=code: operations.flag_abuse(f, load, subj, params, c))
            if outlet.calibration_hours is not None:
                _guard(
                    run,
                    "C15",
                    oid,
                    lambda f=flags, c=code: operations.calibration_off_schedule(
                        f, subj, params, c, schedule_hours=outlet.calibration_hours
                    ),
                )
            if production_on is not None:
                _guard(
                    run,
                    "C16",
                    oid,
                    lambda f=flags, c=code: operations.stop_flag_vs_power(f, production_on, subj, params, c),
                )
        missing = np.isnan(cols[code]) if flags is None else (np.isnan(cols[code]) | (flags == ""))
        _guard(run, "C14", oid, lambda m=missing, c=code: operations.missing_pattern(m, load, subj, params, c))
        if code in outlet.span or code in outlet.lod:
            _guard(
                run,
                "C09",
                oid,
                lambda c=code: detectors.narrow_band(
                    cols[c], load, subj, params, c, span=outlet.span.get(c), lod=outlet.lod.get(c)
                ),
            )
        zs = _f(df, f"{code}_zs")
        if zs is not None and jf is not None:
            _guard(run, "C21", oid, lambda z=zs, j=jf, c=code: operations.logger_mismatch(z, j.c_ref, subj, params, c))
    for ch in SHAPE_CHANNELS:
        x = cols.get(ch)
        if x is None:
            continue
        _guard(run, "C07", oid, lambda x=x, ch=ch: detectors.flat_line(x, load, subj, params, ch))
        _guard(run, "C08", oid, lambda x=x, ch=ch: detectors.linear_fill(x, subj, params, ch, span=outlet.span.get(ch)))
        if ch != O2_CODE:
            _guard(run, "C12", oid, lambda x=x, ch=ch: detectors.copied_block(x, subj, params, ch))
    if o2 is not None:
        _guard(
            run,
            "C05",
            oid,
            lambda: operations.o2_high(o2, load, subj, params, guard_pct=outlet.guard(params), band=outlet.o2_band),
        )
        if outlet.o2_band is not None:
            for code in pollutants:
                _guard(
                    run,
                    "C06",
                    oid,
                    lambda c=code: operations.o2_low(o2, cols[c], subj, params, band=outlet.o2_band, channel=c),
                )
    # rejected or withdrawn marks are no claim of the enterprise any more: neither audited nor compared
    claimed = [m for m in marks if m.status in ("accepted", "pending")]
    _guard(run, "C04", oid, lambda: operations.mark_audit(claimed, load, production_on, subj, params))
    if production_on is not None and claimed:
        _guard(run, "C16", oid, lambda: operations.stopped_mark_vs_power(claimed, production_on, subj, params))
    temp = cols.get(TEMP_CODE) if outlet.wet_fgd else None
    bypass_cols = [c for c in numeric if c.startswith(BYPASS_PREFIX)]
    bypass = np.nanmax(np.column_stack([cols[c] for c in bypass_cols]), axis=1) if bypass_cols else None
    if temp is not None or bypass is not None:
        _guard(run, "C18", oid, lambda: operations.wet_fgd(temp, bypass, load, subj, params))
    if outlet.furnace_channel:
        ft = cols.get(outlet.furnace_channel)
        if ft is None:
            run.not_evaluable.append(NotEvaluable("C22", oid, f"CONFIG_MISSING:{outlet.furnace_channel}"))
        else:
            _guard(run, "C22", oid, lambda: operations.furnace_temperature(ft, subj, params, outlet.furnace_channel))
    stale_cols = [c for c in numeric if cols.get(c) is not None]
    if len(stale_cols) >= 3:
        mat = np.column_stack([cols[c] for c in stale_cols])
        _guard(run, "C19", oid, lambda: detectors.stale_records(mat, subj, params, stale_cols))
    flow = cols.get(FLOW_CODE) if FLOW_CODE in cols else cols.get(HEAT_INPUT)
    flow_name = FLOW_CODE if FLOW_CODE in cols else HEAT_INPUT
    if flow is not None and load is not None and flow_name not in derived:
        _guard(run, "C20", oid, lambda: detectors.flow_load_break(flow, load, subj, params, flow_name))

    # statistical rules ----------------------------------------------------------------------------
    for code in pollutants:
        lim = outlet.limits.get(code, (None, None))[0]
        x = cols[code]
        if outlet.converted or outlet.o2_ref_pct is None:
            xr = x
        else:
            xr, _ = cems.convert_o2(
                x, o2 if o2 is not None else np.full(len(x), np.nan), outlet.o2_ref_pct, outlet.guard(params)
            )
        if lim is not None:
            _guard(
                run,
                "C10",
                oid,
                lambda xr=xr, c=code, lim=lim: detectors.pinned_below_limit(xr, load, lim, subj, params, c),
            )
        if load is not None:
            _guard(run, "C11", oid, lambda c=code: detectors.step_drop(cols[c], load, subj, params, c))
        if code in derived:
            continue
        feats = {
            c: cols[c]
            for c in (outlet.load_channel, O2_CODE, FLOW_CODE, TEMP_CODE)
            if c and c in cols and c not in derived
        }
        _guard(run, "C13", oid, lambda c=code, feats=feats: detectors.residual_break(cols[c], feats, subj, params, c))
        if load is not None:
            _guard(run, "C13", oid, lambda c=code: detectors.load_correlation_drop(cols[c], load, subj, params, c))


def escalate_pinned(hits: list[Hit]) -> list[Hit]:
    """C10 becomes S2 when C05/C06/C11 fire on the same outlet within 7 days (enforcement.md §4)."""
    from dataclasses import replace

    support: dict[str, list[tuple]] = defaultdict(list)
    for h in hits:
        if h.rule_id in ("C05", "C06", "C11") and h.start is not None:
            support[h.subject_id].append((h.start, h.end))
    week = timedelta(days=7)
    out = []
    for h in hits:
        if (
            h.rule_id == "C10"
            and h.start is not None
            and any(s - week <= h.end and h.start <= e + week for s, e in support.get(h.subject_id, []))
        ):
            h = replace(h, severity="S2", related=("C05/C06/C11",))
        out.append(h)
    return out


# --------------------------------------------------------------------------------------------- meters
def run_meters(
    run: CatalogueRun,
    meter_frame: pl.DataFrame,
    meters: list[Meter],
    pairs: list[MeterPair],
    plan_set: PlanSet | None,
    params: Params,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """States, E rules and plan verification. Returns ``{meter_id: (ts, state)}`` for the CEMS rules (C16)."""
    by_id = {m.meter_id: m for m in meters}
    parts = meter_frame.partition_by("meter_id", as_dict=True) if meter_frame.height else {}
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for key, df in parts.items():
        mid = key[0] if isinstance(key, tuple) else key
        m = by_id.get(mid)
        if m is None:
            run.not_evaluable.append(NotEvaluable("E01", str(mid), "CONFIG_MISSING:meter_registry"))
            continue
        df = regrid(df, m.interval_s)
        run.frames[mid] = df
        ts = _ts(df)
        p = _f(df, "p_kw")
        if p is None and "kwh" in df.columns:
            p = power.interval_kwh_to_kw(_f(df, "kwh"), m.interval_s)
        if p is None:
            run.not_evaluable.append(NotEvaluable("E01", mid, "CONFIG_MISSING:p_kw"))
            continue
        thr = power.learn_threshold(p, m.interval_s, params, rated=m.rated_kw)
        st = power.detect_state(p, thr, m.interval_s, params, has_standby=m.has_standby)
        run.thresholds[mid], run.states[mid] = thr, st
        series[mid] = (ts, p, st)
        subj = Subject(mid, m.enterprise_id, ts, m.interval_s, "meter")
        _guard(run, "E06", mid, lambda p=p, subj=subj, mid=mid: power.night_day(p, subj, params, meter_id=mid))
    for pair in pairs:
        if pair.production_id not in series or pair.treatment_id not in series:
            run.not_evaluable.append(
                NotEvaluable("E01", f"{pair.production_id}|{pair.treatment_id}", "CONFIG_MISSING:meter_series")
            )
            continue
        ts, pp, sp = series[pair.production_id]
        ts_t, pt_raw, st_raw = series[pair.treatment_id]
        pt = align(ts_t, pt_raw, ts)
        st = align(ts_t, st_raw.astype(np.float64), ts, fill=power.NODATA).astype(np.int8)
        step = by_id[pair.production_id].interval_s
        subj = Subject(pair.production_id, pair.enterprise_id, ts, step, "meter_pair")
        _guard(run, "E01", pair.production_id, lambda: power.treatment_off(sp, st, subj, params, pair=pair))  # noqa: B023
        _guard(run, "E02", pair.production_id, lambda: power.late_early(sp, st, subj, params, pair=pair))  # noqa: B023
        _guard(run, "E03", pair.production_id, lambda: power.under_loaded(pp, pt, sp, st, subj, params, pair=pair))  # noqa: B023
        _guard(run, "E07", pair.production_id, lambda: power.meter_offline(pp, pt, subj, params, pair=pair))  # noqa: B023
    # E08: total meters against the sum of the enterprise's production meters
    prod_by_ent: dict[str, list[str]] = defaultdict(list)
    for m in meters:
        if m.role == "production" and m.meter_id in series:
            prod_by_ent[m.enterprise_id].append(m.meter_id)
    for m in meters:
        if m.role != "total" or m.meter_id not in series or not prod_by_ent.get(m.enterprise_id):
            continue
        ts, p, st = series[m.meter_id]
        psum = np.sum(
            [np.nan_to_num(align(series[q][0], series[q][1], ts)) for q in prod_by_ent[m.enterprise_id]], axis=0
        )
        idle = power.idle_band_hi(p, st, params)
        subj = Subject(m.meter_id, m.enterprise_id, ts, m.interval_s, "meter")
        _guard(run, "E08", m.meter_id, lambda: power.bypass_wiring(psum, p, idle, subj, params, meter_id=m.meter_id))  # noqa: B023
    if plan_set is not None:
        _run_plans(run, plan_set, meters, series, params)
    return {k: (v[0], v[2]) for k, v in series.items()}


def _run_plans(
    run: CatalogueRun,
    plan_set: PlanSet,
    meters: list[Meter],
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    params: Params,
) -> None:
    prod = [m for m in meters if m.role == "production" and m.meter_id in series]
    enterprises = sorted({m.enterprise_id for m in prod})
    for ent in enterprises:
        ent_meters = [m for m in prod if m.enterprise_id == ent]
        for order, measure in plans.active_measures(plan_set, ent):
            targets = [m for m in ent_meters if not measure.target or measure.target == m.meter_id]
            for m in targets:
                ts, p, st = series[m.meter_id]
                subj = Subject(m.meter_id, ent, ts, m.interval_s, "meter")
                if measure.action == "stop":
                    ramp = plan_set.ramp_h.get(m.meter_id, plan_set.ramp_h.get(ent, params["ramp_h.mill"]))
                    idle = power.idle_band_hi(p, st, params)
                    _guard(
                        run,
                        "E04",
                        m.meter_id,
                        lambda p=p, st=st, subj=subj, idle=idle, ramp=ramp, o=order: plans.stop_breach(
                            p, st, idle, subj, params, order=o, ramp_h=ramp
                        ),
                    )
                elif measure.action == "cap_ratio":
                    base = plan_set.baselines.get(measure.baseline_id or m.meter_id) or plan_set.baselines.get(ent)
                    if base is None or measure.value is None:
                        run.not_evaluable.append(NotEvaluable("E05", m.meter_id, "CONFIG_MISSING:baseline"))
                        continue
                    _guard(
                        run,
                        "E05",
                        m.meter_id,
                        lambda p=p, subj=subj, o=order, v=measure.value, b=base: plans.cap_breach(
                            p, subj, params, order=o, allowed_ratio=v, baseline=b
                        ),
                    )
            if measure.action == "stop_lines" and targets:
                # every production meter of the enterprise is one line; the share in ``value`` must stop
                ts0 = series[targets[0].meter_id][0]
                states = {
                    m.meter_id: align(
                        series[m.meter_id][0], series[m.meter_id][2].astype(np.float64), ts0, fill=power.NODATA
                    ).astype(np.int8)
                    for m in targets
                }
                allowed = int(len(states) * (1.0 - (measure.value if measure.value is not None else 0.5)))
                subj = Subject(ent, ent, ts0, targets[0].interval_s, "enterprise")
                _guard(
                    run,
                    "E05",
                    ent,
                    lambda st=states, subj=subj, o=order, a=allowed: plans.lines_breach(
                        st, subj, params, order=o, allowed=a
                    ),
                )
        for w in plan_set.windows:
            targets = [m for m in ent_meters if w.target_id in (ent, m.meter_id)]
            for m in targets:
                ts, p, st = series[m.meter_id]
                subj = Subject(m.meter_id, ent, ts, m.interval_s, "meter")
                _guard(
                    run,
                    "P01",
                    m.meter_id,
                    lambda st=st, subj=subj, w=w: plans.staggered_production(st, subj, params, window=w),
                )


# ---------------------------------------------------------------------------------------- coking / gate
def _enterprise_params(params: Params, overrides: dict[str, dict[str, object]] | None, ent: str) -> Params:
    if overrides and ent in overrides:
        return params.with_overrides(overrides[ent])
    return params


def _day_axis(ts: np.ndarray) -> np.ndarray:
    """Beijing-day starts (UTC, ``datetime64[us]``) covering the instants ``ts``."""
    us = np.asarray(ts).astype("datetime64[us]").astype(np.int64)
    day = 86_400_000_000
    shift = 8 * 3_600_000_000
    d0, d1 = (us.min() + shift) // day, (us.max() + shift) // day
    return (np.arange(d0, d1 + 1) * day - shift).astype("datetime64[us]")


def _pushes_from_signature(
    run: CatalogueRun,
    bat: plans.CokeBattery,
    meter_frame: pl.DataFrame | None,
    steps: dict[str, int],
    params: Params,
) -> plans.CokeBattery:
    """A battery without push records gets its pushes from its pusher meter's power (``push_source`` signature)."""
    from dataclasses import replace

    mid = bat.pusher_meter or ""
    thr = run.thresholds.get(mid)
    if meter_frame is None or thr is None or not np.isfinite(thr.t_on):
        run.not_evaluable.append(NotEvaluable("P02", bat.enterprise_id, f"CONFIG_MISSING:pusher_meter_series:{mid}"))
        return bat
    step = steps.get(mid, 60)
    df = regrid(meter_frame.filter(pl.col("meter_id") == mid), step)
    ts = _ts(df)
    pushes = plans.pushes_from_power(ts, _f(df, "p_kw"), thr.t_on, step, params)  # type: ignore[arg-type]
    return replace(
        bat,
        push_source="signature",
        push_ts=pushes,
        push_ids=np.full(len(pushes), -1, dtype=np.int64),
        push_ovens=np.full(len(pushes), "", dtype=object),
    )


def run_coking(
    run: CatalogueRun,
    bat: plans.CokeBattery,
    plan_set: PlanSet | None,
    params: Params,
    *,
    dedust: tuple[np.ndarray, np.ndarray] | None = None,
    steps: dict[str, int] | None = None,
) -> None:
    """P02 for one battery: pushes per Beijing day against the capacity of its (design or extended) coking time,
    and pushes while the pushing dust-collection meter is OFF. The evidence table is the daily push count."""
    ent = bat.enterprise_id
    if len(bat.push_ts) == 0:
        run.evaluated.add(("P02", ent))
        return
    days = _day_axis(bat.push_ts)
    extended: list[tuple[datetime, datetime, float]] = []
    if plan_set is not None:
        for order, m in plans.active_measures(plan_set, ent):
            if m.action == "extend_coking_h" and (not m.target or m.target == bat.battery):
                extended.append((order.issued_at, order.lifted_at, plans.extended_coking_h(bat, m.value, params)))
    if bat.coking_h is None and not extended:
        run.not_evaluable.append(NotEvaluable("P02", ent, "CONFIG_MISSING:coking_h"))
    day_of = np.searchsorted(days, bat.push_ts, side="right") - 1
    pushes = np.bincount(day_of, minlength=len(days)).astype(np.float64)
    allowed = plans.push_capacity(days, bat.ovens, bat.coking_h, extended)
    subj = Subject(ent, ent, days, 86400, "enterprise")
    run.evidence[("P02", ent, bat.battery)] = pl.DataFrame(
        {
            "ts_utc": pl.Series(days).dt.replace_time_zone("UTC"),
            "pushes": pushes,
            "allowed": allowed,
        }
    )
    _guard(
        run,
        "P02",
        ent,
        lambda: plans.coking_time(
            pushes,
            subj,
            params,
            ovens=bat.ovens,
            coking_h=bat.coking_h,
            allowed=allowed,
            battery=bat.battery,
            push_source=bat.push_source,
        ),
    )
    if bat.dedust_meter:
        if dedust is None:
            run.not_evaluable.append(NotEvaluable("P02", ent, f"CONFIG_MISSING:dedust_meter_series:{bat.dedust_meter}"))
            return
        mts, mst = dedust
        step = (steps or {}).get(bat.dedust_meter, 900)
        _guard(
            run,
            "P02",
            ent,
            lambda: plans.pushes_without_dedust(
                bat.push_ts, mts, mst, step, subj, params, battery=bat.battery, meter_id=bat.dedust_meter or ""
            ),
        )


def run_gate(run: CatalogueRun, log: plans.GateLog, plan_set: PlanSet | None, params: Params) -> None:
    """P03 for one enterprise's gate log: banned-stage heavy trucks entering under an order whose measures for the
    enterprise include ``transport_ban``. The evidence table is the gate log itself."""
    ent = log.enterprise_id
    run.evaluated.add(("P03", ent))
    if plan_set is None or len(log.ts) == 0:
        return
    banned = plans.banned_entries(log, params)
    subj = Subject(ent, ent, log.ts, 1, "enterprise")
    run.evidence[("P03", ent, "gate")] = pl.DataFrame(
        {
            "ts_utc": pl.Series(log.ts).dt.replace_time_zone("UTC"),
            "plate": log.plate.astype(str),
            "emission_stage": log.stage.astype(str),
            "vehicle_class": log.vehicle_class.astype(str),
            "fuel": log.fuel.astype(str),
            "direction": log.direction.astype(str),
            "record_id": log.record_ids,
        }
    )
    seen: set[tuple] = set()
    for order, m in plans.active_measures(plan_set, ent):
        key = (order.issued_at, order.lifted_at, order.doc_id)
        if m.action != "transport_ban" or key in seen:
            continue
        seen.add(key)
        _guard(
            run,
            "P03",
            ent,
            lambda o=order: plans.transport_ban(
                log.ts, log.stage, subj, params, order=o, banned=banned, plates=log.plate
            ),
        )


# -------------------------------------------------------------------------------------------- minutes
def hours_from_minutes(minutes: pl.DataFrame, params: Params) -> pl.DataFrame:
    """Hourly frame in the catalogue's layout from minute data (HJ 75-2017 valid hour: ≥ 45 valid minutes).

    A channel's hour is its mean over valid minutes with flag ``N``; an hour short of valid minutes is null with
    flag ``H`` (insufficient — never judged). Used for outlets that send minutes only (CN 2051).
    """
    chans = [c for c, t in minutes.schema.items() if t.is_numeric() and c not in ("frame_uid",)]
    out = cems.hourly_from_minutes(minutes, chans, params)
    exprs = []
    for ch in chans:
        ok = pl.col(f"{ch}_ok")
        exprs += [
            pl.when(ok).then(pl.col(ch)).alias(ch),
            pl.when(ok).then(pl.lit("N")).otherwise(pl.lit("H")).alias(f"{ch}_flag"),
        ]
    return out.with_columns(exprs).select("outlet_id", "ts_utc", *[c for ch in chans for c in (ch, f"{ch}_flag")])


def _minute_matrix(ts_hours: np.ndarray, ts_min: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(hours, 60) matrix of minute values placed by their hour (exact hour starts of ``ts_hours``) and minute."""
    m = np.full((len(ts_hours), 60), np.nan)
    hour = ts_min.astype("datetime64[h]").astype("datetime64[us]")
    minute = ((ts_min - hour) // np.timedelta64(1, "m")).astype(np.int64)
    pos = np.searchsorted(ts_hours, hour)
    posc = np.minimum(pos, max(len(ts_hours) - 1, 0))
    ok = (pos < len(ts_hours)) & (ts_hours[posc] == hour) & (minute >= 0) & (minute < 60) if len(ts_hours) else pos < 0
    m[posc[ok], minute[ok]] = values[ok]
    return m


def run_minutes(run: CatalogueRun, outlet: Outlet, hourly: pl.DataFrame, minutes: pl.DataFrame, params: Params) -> None:
    """Minute-level rules of one outlet: C23 minute excursions in complying hours, C21 logger hour vs the hour
    recomputed from minutes (enforcement.md §3.1 "with minutes too, recompute and compare")."""
    oid = outlet.outlet_id
    ts_h = _ts(hourly)
    subj = Subject(oid, outlet.enterprise_id, ts_h, 3600, "outlet")
    minutes = minutes.sort("ts_utc")
    ts_m = _ts(minutes)
    chans = [c for c in POLLUTANTS if c in minutes.columns]
    recomputed = cems.hourly_from_minutes(minutes, chans, params)
    o2_m = _f(minutes, O2_CODE)
    o2_h = _f(hourly, O2_CODE)
    for code in chans:
        lim = outlet.limits.get(code, (None, None))[0]
        x = _f(minutes, code)
        flags = _flags(minutes, code)
        valid = ~np.isnan(x) & (x >= 0) & (cems.flag_valid(flags, len(x)) if flags is not None else True)
        xh = _f(hourly, code)
        if outlet.converted or outlet.o2_ref_pct is None:
            ref_m, ref_h = x, xh
        else:
            guard = outlet.guard(params)
            nan = np.full(len(x), np.nan)
            ref_m, _ = cems.convert_o2(x, o2_m if o2_m is not None else nan, outlet.o2_ref_pct, guard)
            ref_h = (
                None
                if xh is None
                else cems.convert_o2(
                    xh, o2_h if o2_h is not None else np.full(len(xh), np.nan), outlet.o2_ref_pct, guard
                )[0]
            )
        if lim is not None and ref_h is not None:
            mat = _minute_matrix(ts_h, ts_m, np.where(valid, ref_m, np.nan))
            _guard(
                run,
                "C23",
                oid,
                lambda mat=mat, rh=ref_h, c=code: cems.minute_excursion_hits(outlet, c, mat, rh, params, ts_hours=ts_h),
            )
        if xh is not None:
            rc = recomputed.filter(pl.col(f"{code}_ok"))
            r_vals = (
                align(_ts(rc), rc[code].cast(pl.Float64).to_numpy(), ts_h) if rc.height else np.full(len(ts_h), np.nan)
            )
            _guard(run, "C21", oid, lambda xh=xh, r=r_vals, c=code: operations.logger_mismatch(xh, r, subj, params, c))


# ------------------------------------------------------------------------------------------- entry point
def run_catalogue_full(
    cems_frame: pl.DataFrame | None,
    meter_frame: pl.DataFrame | None,
    outlets: list[Outlet],
    meters: list[Meter],
    plan_set: PlanSet | None = None,
    params: Params | None = None,
    *,
    pairs: list[MeterPair] | None = None,
    marks: list[cems.Mark] | None = None,
    overrides: dict[str, dict[str, object]] | None = None,
    minute_frame: pl.DataFrame | None = None,
    coke: list[plans.CokeBattery] | None = None,
    gates: list[plans.GateLog] | None = None,
) -> CatalogueRun:
    """The whole catalogue; ``overrides`` are per-enterprise parameter overrides (from dismissal tuning).

    ``minute_frame`` (optional, same wide layout at 1-min spacing) adds the minute rules C21/C23 for outlets that
    have both; an outlet with minutes but no hourly rows is judged on hours recomputed from its minutes.
    ``marks`` (CEMS data marks, ``target_id`` = outlet code) exempt marked hours from judgement and feed C04 / C16;
    ``coke`` (batteries with their pushes) feeds P02, ``gates`` (gate logs) P03, both against ``plan_set``'s orders.
    """
    params = params or resolve_params()
    run = CatalogueRun()
    minutes_by: dict[str, pl.DataFrame] = {}
    if minute_frame is not None and minute_frame.height:
        minutes_by = {
            (k[0] if isinstance(k, tuple) else k): v
            for k, v in minute_frame.partition_by("outlet_id", as_dict=True).items()
        }
        have = set() if cems_frame is None or not cems_frame.height else set(cems_frame["outlet_id"].unique())
        only = [hours_from_minutes(v, params) for k, v in minutes_by.items() if k not in have]
        if only:
            cems_frame = pl.concat(
                [f for f in (cems_frame, *only) if f is not None and f.height], how="diagonal_relaxed"
            )
    meter_states: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if meter_frame is not None and meters:
        meter_states = run_meters(run, meter_frame, meters, pairs or [], plan_set, params)
    steps = {m.meter_id: m.interval_s for m in meters}
    coke = [
        _pushes_from_signature(run, b, meter_frame, steps, params) if len(b.push_ts) == 0 and b.pusher_meter else b
        for b in coke or []
    ]
    for bat in coke:
        p_ent = _enterprise_params(params, overrides, bat.enterprise_id)
        run_coking(run, bat, plan_set, p_ent, dedust=meter_states.get(bat.dedust_meter or ""), steps=steps)
    for log in gates or []:
        run_gate(run, log, plan_set, _enterprise_params(params, overrides, log.enterprise_id))
    if cems_frame is not None and cems_frame.height:
        by_id = {o.outlet_id: o for o in outlets}
        marks_by: dict[str, list[cems.Mark]] = defaultdict(list)
        for mk in marks or []:
            marks_by[mk.target_id].append(mk)
        tuned: dict[str, Params] = {}
        for key, df in cems_frame.partition_by("outlet_id", as_dict=True).items():
            oid = key[0] if isinstance(key, tuple) else key
            outlet = by_id.get(oid)
            if outlet is None:
                run.not_evaluable.append(NotEvaluable("C01", str(oid), "CONFIG_MISSING:outlet_registry"))
                continue
            p_ent = params
            if overrides and outlet.enterprise_id in overrides:
                if outlet.enterprise_id not in tuned:
                    tuned[outlet.enterprise_id] = params.with_overrides(overrides[outlet.enterprise_id])
                p_ent = tuned[outlet.enterprise_id]
            df = regrid(df, 3600)
            run.frames[oid] = df
            prod_on = None
            if outlet.production_meter_id:
                if outlet.production_meter_id in meter_states:
                    mts, mst = meter_states[outlet.production_meter_id]
                    prod_on = hourly_on(mts, mst, _ts(df))
                else:
                    run.not_evaluable.append(NotEvaluable("C16", oid, "CONFIG_MISSING:production_meter_series"))
            run_outlet(run, outlet, df, p_ent, marks=marks_by.get(oid), production_on=prod_on)
            if oid in minutes_by:
                run_minutes(run, outlet, df, minutes_by[oid], p_ent)
    run.hits = escalate_pinned(run.hits)
    return run


def run_catalogue(
    cems_frame: pl.DataFrame | None,
    meter_frame: pl.DataFrame | None,
    outlets: list[Outlet],
    meters: list[Meter],
    plans: PlanSet | None = None,
    params: Params | None = None,
    **kw: object,
) -> list[Hit]:
    """Hits of the whole catalogue (see :func:`run_catalogue_full` for not-evaluable records and errors)."""
    return run_catalogue_full(cems_frame, meter_frame, outlets, meters, plans, params, **kw).hits  # type: ignore[arg-type]


def severity_counts(hits: list[Hit]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for h in hits:
        out[h.severity] += 1
    return dict(out)


def _beijing_day(ts: datetime) -> date:
    return (ts.astimezone(UTC) + timedelta(hours=8)).date()


def evaluation_records(run: CatalogueRun, days: list[date]) -> pl.DataFrame:
    """Per (rule, subject, Beijing day) ``fired | clear | not_evaluable(reason)`` (enforcement.md §5).

    A rule that ran for a subject is ``clear`` on every day of ``days`` that none of its hits touches; a rule
    recorded as not evaluable (missing configuration) or failing for the subject is ``not_evaluable`` with the
    reason (``ERROR:<message>`` for a failure) — never ``clear``. A hit counts on every day its window touches.
    """
    fired: dict[tuple[str, str], set[date]] = defaultdict(set)
    for h in run.hits:
        if h.start is None or h.end is None:
            continue
        d, last = _beijing_day(h.start), _beijing_day(h.end - timedelta(microseconds=1))
        while d <= last:
            fired[(h.rule_id, h.subject_id)].add(d)
            d += timedelta(days=1)
    reasons: dict[tuple[str, str], str] = {}
    for ne in run.not_evaluable:
        reasons.setdefault((ne.rule_id, ne.subject_id), ne.reason)
    for rule_id, subject_id, message in run.errors:
        reasons[(rule_id, subject_id)] = f"ERROR:{message}"[:200]
    keys = sorted(run.evaluated | set(reasons) | set(fired))
    rows: dict[str, list] = {"rule_id": [], "subject_id": [], "day": [], "state": [], "reason": []}
    for key in keys:
        hit_days = fired.get(key, set())
        reason = reasons.get(key)
        for d in days:
            if d in hit_days:
                state, why = "fired", None
            elif reason is not None:
                state, why = "not_evaluable", reason
            else:
                state, why = "clear", None
            rows["rule_id"].append(key[0])
            rows["subject_id"].append(key[1])
            rows["day"].append(d)
            rows["state"].append(state)
            rows["reason"].append(why)
    return pl.DataFrame(
        rows,
        schema={"rule_id": pl.Utf8, "subject_id": pl.Utf8, "day": pl.Date, "state": pl.Utf8, "reason": pl.Utf8},
    )
