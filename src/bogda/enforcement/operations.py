"""Rules on operating context: O2 dilution, flags, marks, missingness, FGD, furnace, logger (enforcement.md §4).

C04 mark audit, C05/C06 O2 high/low, C14 missingness, C15 flag abuse, C16 stop flag vs electricity,
C18 wet-FGD temperature and bypass, C21 logger mismatch, C22 incinerator furnace temperature.
All inputs are hourly arrays of one outlet on a complete hourly grid (a missing hour is NaN / flag ``""``).
"""

from __future__ import annotations

import numpy as np

from bogda.enforcement import runs as rk
from bogda.enforcement.cems import Mark, beijing_hour
from bogda.enforcement.detectors import Subject, _bounds, day_matrix, trailing_daily_baseline
from bogda.enforcement.rules import Hit, Params


def _hours(params: Params, key: str, subj: Subject) -> int:
    return max(1, round(params[key] * 3600 / subj.step_s))


def o2_high(
    o2: np.ndarray,
    load: np.ndarray | None,
    subj: Subject,
    params: Params,
    *,
    guard_pct: float,
    band: tuple[float, float] | None,
) -> list[Hit]:
    """C05 air dilution: O2 ≥ guard or > band high + 3 pp for ≥ 3 h at load > 30 %."""
    o2 = np.asarray(o2, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        cond = o2 >= guard_pct
        if band is not None:
            cond |= o2 > band[1] + params["o2.band_margin_pp"]
        if load is not None:
            cond &= np.asarray(load, dtype=np.float64) > params["o2.min_load_pct"]
        cond &= o2 < 21.0
    return [
        subj.hit(
            "C05",
            params,
            int(a),
            int(b),
            channel="a19001",
            metrics={
                "max_o2": float(np.nanmax(o2[a : b + 1])),
                "guard_pct": guard_pct,
                "band_hi": None if band is None else band[1],
                "n_hours": int(b - a + 1),
            },
        )
        for a, b in zip(*rk.long_runs(cond, _hours(params, "o2.min_hours", subj)), strict=True)
    ]


def o2_low(
    o2: np.ndarray, c_meas: np.ndarray, subj: Subject, params: Params, *, band: tuple[float, float], channel: str
) -> list[Hit]:
    """C06 nitrogen dilution: O2 < band low − 3 pp for ≥ 3 h while the pollutant drops below ``o2.drop_ratio``
    × the trailing 30-day median of its daily medians."""
    o2 = np.asarray(o2, dtype=np.float64)
    c = np.asarray(c_meas, dtype=np.float64)
    days = subj.days(len(c))
    ds, _ = _bounds(days)
    daily = rk.nanmedian_rows(day_matrix(c, ds, subj.per_day))
    med, _ = trailing_daily_baseline(daily, 30, 7)
    day_pos = np.searchsorted(ds, np.arange(len(c)), side="right") - 1
    with np.errstate(invalid="ignore"):
        cond = (o2 >= 0) & (o2 < band[0] - params["o2.band_margin_pp"]) & (c < params["o2.drop_ratio"] * med[day_pos])
    return [
        subj.hit(
            "C06",
            params,
            int(a),
            int(b),
            channel=channel,
            metrics={
                "min_o2": float(np.nanmin(o2[a : b + 1])),
                "band_lo": band[0],
                "median_30d": med[day_pos[a]],
                "mean_in_run": float(np.nanmean(c[a : b + 1])),
            },
        )
        for a, b in zip(*rk.long_runs(cond, _hours(params, "o2.min_hours", subj)), strict=True)
    ]


def missing_pattern(
    missing: np.ndarray, load: np.ndarray | None, subj: Subject, params: Params, channel: str
) -> list[Hit]:
    """C14: in 14-day windows, ≥ 24 missing night hours (22–06 Beijing) while missing day hours ≤ 10 % of that;
    or ≥ 12 missing hours of which ≥ 50 % at top-decile load (the load channel still reporting)."""
    miss = np.asarray(missing, dtype=bool)
    n = len(miss)
    hod = beijing_hour(subj.ts) if subj.ts is not None else np.arange(n) % 24
    ns, ne = params["night.start_h"], params["night.end_h"]
    night = (hod >= ns) | (hod < ne)
    days = subj.days(n)
    ds, de = _bounds(days)
    cn = np.concatenate(([0], np.cumsum(miss & night)))
    cd = np.concatenate(([0], np.cumsum(miss & ~night)))
    dn, dd = cn[de + 1] - cn[ds], cd[de + 1] - cd[ds]
    w = params["missing.window_days"]
    hits: list[Hit] = []
    if len(ds) >= w:
        wn, wd = rk.rolling_sum(dn, w), rk.rolling_sum(dd, w)
        fire = (wn >= params["missing.night_hours"]) & (wd <= params["missing.day_share"] * wn)
        for a, b in zip(*rk.windows_to_rows(np.flatnonzero(fire), w), strict=True):
            hits.append(
                subj.hit(
                    "C14",
                    params,
                    int(ds[a]),
                    int(de[b]),
                    channel=channel,
                    metrics={
                        "reason": "night",
                        "night_missing_h": int(dn[a : b + 1].sum()),
                        "day_missing_h": int(dd[a : b + 1].sum()),
                    },
                )
            )
    if load is not None and miss.any():
        ld = np.asarray(load, dtype=np.float64)
        present = ~np.isnan(ld)
        if present.sum() > 100:
            top = ld >= np.nanpercentile(ld, 90)
            mk = miss & present
            ct = np.concatenate(([0], np.cumsum(mk & top)))
            cm = np.concatenate(([0], np.cumsum(mk)))
            dt, dm = ct[de + 1] - ct[ds], cm[de + 1] - cm[ds]
            if len(ds) >= w:
                wt, wm = rk.rolling_sum(dt, w), rk.rolling_sum(dm, w)
                with np.errstate(invalid="ignore", divide="ignore"):
                    fire = (wm >= 12) & (wt / wm >= 0.5)
                for a, b in zip(*rk.windows_to_rows(np.flatnonzero(fire), w), strict=True):
                    hits.append(
                        subj.hit(
                            "C14",
                            params,
                            int(ds[a]),
                            int(de[b]),
                            channel=channel,
                            metrics={
                                "reason": "top_load",
                                "missing_h": int(dm[a : b + 1].sum()),
                                "missing_top_decile_h": int(dt[a : b + 1].sum()),
                            },
                        )
                    )
    return hits


def flag_abuse(flags: np.ndarray, load: np.ndarray | None, subj: Subject, params: Params, channel: str) -> list[Hit]:
    """C15: any ``S`` (manually set) hour → S2; M+C > 5 % of a 10-day window → S3; ≥ 60 % of M/C hours at the
    top 40 % of load (≥ 6 such hours in the window) → S2."""
    f = np.asarray(flags, dtype=object)
    hits: list[Hit] = []
    s_flag = f == "S"
    for a, b in zip(*rk.merge_runs(*rk.runs(s_flag), subj.per_day), strict=True):
        hits.append(
            subj.hit(
                "C15",
                params,
                int(a),
                int(b),
                channel=channel,
                severity="S2",
                metrics={"reason": "S_flag", "n_hours": int(s_flag[a : b + 1].sum())},
            )
        )
    mc = (f == "M") | (f == "C")
    if not mc.any():
        return hits
    days = subj.days(len(f))
    ds, de = _bounds(days)
    w = params["flags.window_days"]
    if len(ds) < w:
        return hits
    c = np.concatenate(([0], np.cumsum(mc)))
    dmc = c[de + 1] - c[ds]
    rows = de - ds + 1
    wmc, wrows = rk.rolling_sum(dmc, w), rk.rolling_sum(rows, w)
    fire = wmc > params["flags.mc_share"] * wrows
    for a, b in zip(*rk.windows_to_rows(np.flatnonzero(fire), w), strict=True):
        hits.append(
            subj.hit(
                "C15",
                params,
                int(ds[a]),
                int(de[b]),
                channel=channel,
                severity="S3",
                metrics={
                    "reason": "mc_share",
                    "mc_hours": int(dmc[a : b + 1].sum()),
                    "hours": int(rows[a : b + 1].sum()),
                },
            )
        )
    if load is not None:
        ld = np.asarray(load, dtype=np.float64)
        if (~np.isnan(ld)).sum() > 0:
            top = ld >= np.nanpercentile(ld, 100 * params["flags.top_load_quantile"])
            ct = np.concatenate(([0], np.cumsum(mc & top)))
            dt = ct[de + 1] - ct[ds]
            wt = rk.rolling_sum(dt, w)
            with np.errstate(invalid="ignore", divide="ignore"):
                fire = (wmc >= 6) & (wt / wmc >= params["flags.top_load_share"])
            for a, b in zip(*rk.windows_to_rows(np.flatnonzero(fire), w), strict=True):
                hits.append(
                    subj.hit(
                        "C15",
                        params,
                        int(ds[a]),
                        int(de[b]),
                        channel=channel,
                        severity="S2",
                        metrics={
                            "reason": "mc_at_high_load",
                            "mc_hours": int(dmc[a : b + 1].sum()),
                            "mc_top_load_hours": int(dt[a : b + 1].sum()),
                        },
                    )
                )
    return hits


def stop_flag_vs_power(
    flags: np.ndarray, production_on: np.ndarray, subj: Subject, params: Params, channel: str
) -> list[Hit]:
    """C16: ``F`` (instrument stopped) hours while the production meter is ON for ≥ 1 h.

    ``production_on`` is the hourly production state (ON for at least half the hour), aligned with ``flags``.
    """
    cond = (np.asarray(flags, dtype=object) == "F") & np.asarray(production_on, dtype=bool)
    return [
        subj.hit("C16", params, int(a), int(b), channel=channel, metrics={"n_hours": int(b - a + 1)})
        for a, b in zip(*rk.long_runs(cond, _hours(params, "fstop.min_hours", subj)), strict=True)
    ]


def stopped_mark_vs_power(marks: list[Mark], production_on: np.ndarray, subj: Subject, params: Params) -> list[Hit]:
    """C16 for marks: a ``stopped`` mark during which the production meter is ON ≥ 1 h (C04 covers the audit)."""
    if subj.ts is None:
        return []
    t = np.asarray(subj.ts).astype("datetime64[us]")
    on = np.asarray(production_on, dtype=bool)
    hits = []
    for mk in marks:
        if mk.mark_type != "stopped":
            continue
        a = int(np.searchsorted(t, _np_utc(mk.start)))
        b = int(np.searchsorted(t, _np_utc(mk.end))) - 1
        if b < a:
            continue
        inside = on[a : b + 1]
        if inside.sum() * subj.step_s >= params["fstop.min_hours"] * 3600:
            hits.append(
                subj.hit(
                    "C16",
                    params,
                    a,
                    b,
                    metrics={
                        "reason": "stopped_mark",
                        "mark_id": mk.mark_id,
                        "on_hours": float(inside.sum() * subj.step_s / 3600),
                    },
                )
            )
    return hits


def _np_utc(ts: object) -> np.datetime64:
    from datetime import UTC, datetime

    assert isinstance(ts, datetime)
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(ts, "us")


def mark_audit(
    marks: list[Mark],
    load: np.ndarray | None,
    production_on: np.ndarray | None,
    subj: Subject,
    params: Params,
) -> list[Hit]:
    """C04: startup/shutdown marks > 4 h each or > 60 h a year; fault marks > 60 h a year; entered > 24 h late;
    ``stopped`` while production ON; a startup/shutdown mark at steady high load (mean > 80 %, CV < 2 %)."""
    if subj.ts is None:
        return []
    t = np.asarray(subj.ts).astype("datetime64[us]")
    hits: list[Hit] = []
    annual: dict[tuple[int, str], float] = {}
    for mk in sorted(marks, key=lambda m: m.start):
        a = int(np.clip(np.searchsorted(t, _np_utc(mk.start)), 0, max(0, len(t) - 1)))
        b = int(np.clip(np.searchsorted(t, _np_utc(mk.end)) - 1, a, max(0, len(t) - 1)))
        dur_h = (mk.end - mk.start).total_seconds() / 3600
        reasons = []
        if mk.mark_type in ("startup", "shutdown") and dur_h > params["marks.startup_cap_h"]:
            reasons.append(f"{mk.mark_type}_over_{params['marks.startup_cap_h']:g}h")
        if (
            mk.entered_at is not None
            and (mk.entered_at - mk.start).total_seconds() / 3600 > params["marks.late_entry_h"]
        ):
            reasons.append("entered_late")
        if mk.mark_type == "stopped" and production_on is not None and np.asarray(production_on[a : b + 1]).any():
            reasons.append("stopped_while_production_on")
        if mk.mark_type in ("startup", "shutdown") and load is not None and b >= a:
            ld = np.asarray(load[a : b + 1], dtype=np.float64)
            if len(ld) >= 2 and np.nanmean(ld) > params["marks.steady_load_pct"]:
                with np.errstate(invalid="ignore", divide="ignore"):
                    cv = np.nanstd(ld) / np.nanmean(ld)
                if cv < params["flat.load_cv"]:
                    reasons.append("steady_high_load")
        key_type = "fault" if mk.mark_type == "fault_accident" else mk.mark_type
        if key_type in ("startup", "shutdown", "fault"):
            year = (mk.start.year, "startup_shutdown" if key_type != "fault" else "fault")
            before = annual.get(year, 0.0)
            annual[year] = before + dur_h
            cap = params["marks.fault_annual_cap_h" if key_type == "fault" else "marks.annual_cap_h"]
            if before <= cap < annual[year]:
                reasons.append(f"{year[1]}_annual_over_{cap:g}h")
        if reasons:
            hits.append(
                subj.hit(
                    "C04",
                    params,
                    a,
                    b,
                    metrics={
                        "mark_id": mk.mark_id,
                        "mark_type": mk.mark_type,
                        "duration_h": dur_h,
                        "reasons": ",".join(reasons),
                    },
                )
            )
    return hits


def wet_fgd(
    temp: np.ndarray | None,
    bypass: np.ndarray | None,
    load: np.ndarray | None,
    subj: Subject,
    params: Params,
) -> list[Hit]:
    """C18: wet-FGD outlet temperature > 65 °C for ≥ 3 h at load > 30 %; bypass damper opening > 0 % while running."""
    hits: list[Hit] = []
    run = np.ones(len(temp if temp is not None else bypass), dtype=bool)  # type: ignore[arg-type]
    if load is not None:
        run = np.asarray(load, dtype=np.float64) > params["o2.min_load_pct"]
    if temp is not None:
        tt = np.asarray(temp, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            cond = (tt > params["fgd.max_temp_c"]) & run
        for a, b in zip(*rk.long_runs(cond, _hours(params, "fgd.min_hours", subj)), strict=True):
            hits.append(
                subj.hit(
                    "C18",
                    params,
                    int(a),
                    int(b),
                    channel="a01012",
                    metrics={"reason": "temperature", "max_temp_c": float(np.nanmax(tt[a : b + 1]))},
                )
            )
    if bypass is not None:
        bp = np.asarray(bypass, dtype=np.float64)
        running = np.ones(len(bp), dtype=bool) if load is None else np.asarray(load, dtype=np.float64) > 0
        with np.errstate(invalid="ignore"):
            cond = (bp > 0) & running
        for a, b in zip(*rk.runs(cond), strict=True):
            hits.append(
                subj.hit(
                    "C18",
                    params,
                    int(a),
                    int(b),
                    channel="g116",
                    metrics={"reason": "bypass_open", "max_opening_pct": float(np.nanmax(bp[a : b + 1]))},
                )
            )
    return hits


def calibration_off_schedule(
    flags: np.ndarray, subj: Subject, params: Params, channel: str, *, schedule_hours: tuple[int, ...]
) -> list[Hit]:
    """C15 (schedule clause): calibration (``C``) hours outside the outlet's calibration schedule → S3.

    ``schedule_hours`` are the Beijing hours of day at which the registry says the analyser calibrates (e.g. its
    daily zero/span check at 02:00 → ``(2,)``); a C flag at any other hour is off schedule. Consecutive off-schedule
    hours within a day merge into one hit.
    """
    f = np.asarray(flags, dtype=object)
    if subj.ts is None:
        return []
    off = (f == "C") & ~np.isin(beijing_hour(subj.ts), np.asarray(schedule_hours, dtype=np.int64))
    return [
        subj.hit(
            "C15",
            params,
            int(a),
            int(b),
            channel=channel,
            severity="S3",
            metrics={
                "reason": "calibration_off_schedule",
                "n_hours": int(off[a : b + 1].sum()),
                "schedule_hours": list(schedule_hours),
            },
        )
        for a, b in zip(*rk.merge_runs(*rk.runs(off), 1), strict=True)
    ]


def logger_mismatch(
    logger_value: np.ndarray, recomputed: np.ndarray, subj: Subject, params: Params, channel: str
) -> list[Hit]:
    """C21: the logger's converted value (``ZsAvg`` / CN 2061) differs from bogda's recomputation by > 2 % ≥ 3 h."""
    z = np.asarray(logger_value, dtype=np.float64)
    r = np.asarray(recomputed, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(z - r) / np.abs(r)
        cond = rel > params["logger.rel_diff"]
    return [
        subj.hit(
            "C21",
            params,
            int(a),
            int(b),
            channel=channel,
            metrics={"max_rel_diff": float(np.nanmax(rel[a : b + 1])), "n_hours": int(b - a + 1)},
        )
        for a, b in zip(*rk.long_runs(cond, _hours(params, "logger.min_hours", subj)), strict=True)
    ]


def furnace_temperature(temp: np.ndarray, subj: Subject, params: Params, channel: str) -> list[Hit]:
    """C22: incinerator furnace < 850 °C for > 5 h in a natural (Beijing) day (MEE Order No. 10 [std])."""
    tt = np.asarray(temp, dtype=np.float64)
    days = subj.days(len(tt))
    ds, de = _bounds(days)
    with np.errstate(invalid="ignore"):
        low = tt < params["furnace.min_temp_c"]
    c = np.concatenate(([0], np.cumsum(low)))
    hours = (c[de + 1] - c[ds]) * subj.step_s / 3600
    return [
        subj.hit(
            "C22",
            params,
            int(ds[k]),
            int(de[k]),
            channel=channel,
            metrics={"hours_below": float(hours[k]), "min_temp_c": float(np.nanmin(tt[ds[k] : de[k] + 1]))},
        )
        for k in np.flatnonzero(hours > params["furnace.max_hours"])
    ]
