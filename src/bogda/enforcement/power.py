"""Electricity-use monitoring (分表计电): state detection and the E rules (enforcement.md §3.5, §4 E01–E08).

Meter series are arrays on a regular grid of ``interval_s`` seconds (15-min or 1-min), ``p_kw`` the mean active
power of each interval [kW] (``P = kWh · 3600 / interval_s``), NaN where no data arrived. States: ``NODATA``
(never OFF), ``OFF``, ``STANDBY``, ``ON``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bogda.enforcement import runs as rk
from bogda.enforcement.detectors import Subject, _bounds, day_matrix
from bogda.enforcement.rules import Hit, Params

NODATA, OFF, STANDBY, ON = 0, 1, 2, 3
STATE_NAMES = ("NODATA", "OFF", "STANDBY", "ON")


@dataclass(frozen=True)
class Meter:
    """Registry record of one meter (enforcement.md §2, "Meters")."""

    meter_id: str
    enterprise_id: str
    role: str  # production | treatment | total
    facility_id: str = ""
    interval_s: int = 900
    rated_current_a: float | None = None
    rated_kw: float | None = None
    has_standby: bool = False
    mn: str = ""


@dataclass(frozen=True)
class MeterPair:
    """A ``facility_link``: treatment meter serving a production meter."""

    production_id: str
    treatment_id: str
    enterprise_id: str


@dataclass(frozen=True)
class Threshold:
    """A learned (or fallback) ON threshold [kW, or A when learned on current] and where it came from."""

    t_on: float
    source: str  # otsu | fallback | none
    off_p95: float = float("nan")
    separability: float = float("nan")


def interval_kwh_to_kw(kwh: np.ndarray, interval_s: int) -> np.ndarray:
    """Mean power of an interval from its energy: P = kWh · 3600 / interval_s [kW]; negative energy → NaN."""
    e = np.asarray(kwh, dtype=np.float64)
    return np.where(e >= 0, e * 3600.0 / interval_s, np.nan)


def cumulative_to_interval_kwh(kwh_cum: np.ndarray) -> np.ndarray:
    """Interval energy from a cumulative register; a negative delta (reset, swap) is NODATA (NaN)."""
    c = np.asarray(kwh_cum, dtype=np.float64)
    d = np.diff(c, prepend=np.nan)
    return np.where(d >= 0, d, np.nan)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> tuple[float, float]:
    """Otsu's split of ``values``; returns (threshold, separability η = σ_B²/σ_T² in [0, 1]).

    >>> t, eta = otsu_threshold(np.r_[np.full(50, 1.0), np.full(50, 2.0)])
    >>> 1.0 < t < 2.0, round(eta, 2)
    (True, 1.0)
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) < 2 or v.min() == v.max():
        return float("nan"), 0.0
    hist, edges = np.histogram(v, bins=bins)
    p = hist / hist.sum()
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m = np.cumsum(p * centers)
    mt = m[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        sb = (mt * w0 - m) ** 2 / (w0 * (1 - w0))
    sb = np.where(np.isfinite(sb), sb, 0.0)
    # an empty valley gives a plateau of equal σ_B²: take its middle, not its lower edge
    best = np.flatnonzero(sb >= sb.max() * (1 - 1e-9))
    k = int(best[len(best) // 2])
    var_t = float(np.sum(p * (centers - mt) ** 2))
    return float(edges[k + 1]), float(sb[k] / var_t) if var_t > 0 else 0.0


def learn_threshold(
    p_kw: np.ndarray,
    interval_s: int,
    params: Params,
    *,
    rated: float | None = None,
    min_separability: float = 0.6,
) -> Threshold:
    """T_on from ≥ 14 days: Otsu split of log10(P) over P > 0 (enforcement.md §3.5).

    Fallback (unimodal, η < ``min_separability``, or < 14 days): ``state.fallback_current_frac`` × ``rated``
    (rated current or power), ``source="fallback"``; without a rating ``source="none"`` (states become NODATA).
    """
    p = np.asarray(p_kw, dtype=np.float64)
    have = (~np.isnan(p)).sum() * interval_s / 86400
    pos = p[p > 0]
    t_log, eta = otsu_threshold(np.log10(pos)) if len(pos) > 10 else (float("nan"), 0.0)
    lows = pos[np.log10(pos) < t_log] if not math.isnan(t_log) else pos
    if have >= params["state.learn_days"] and eta >= min_separability and not math.isnan(t_log):
        t_on = 10**t_log
        off = p[(p >= 0) & (p < params["state.hysteresis"] * t_on)]
        return Threshold(t_on, "otsu", float(np.percentile(off, 95)) if len(off) else float("nan"), eta)
    if rated:
        t_on = params["state.fallback_current_frac"] * rated
        return Threshold(t_on, "fallback", float(np.percentile(lows, 95)) if len(lows) else float("nan"), eta)
    return Threshold(float("nan"), "none", float("nan"), eta)


def detect_state(
    p_kw: np.ndarray, thr: Threshold, interval_s: int, params: Params, *, has_standby: bool = False
) -> np.ndarray:
    """Per-interval state with hysteresis and debounce (enforcement.md §3.5).

    ON at P ≥ T_on, OFF below ``state.hysteresis`` · T_on, in between the previous state holds. Runs shorter than
    the debounce (3 min at 1-min data, 2 intervals at 15-min) take the previous run's state. NaN is NODATA —
    never OFF. With ``has_standby``, OFF intervals between the OFF cluster's P95 and T_on are STANDBY.
    """
    p = np.asarray(p_kw, dtype=np.float64)
    n = len(p)
    st = np.full(n, NODATA, dtype=np.int8)
    if math.isnan(thr.t_on) or n == 0:
        return st
    data = ~np.isnan(p)
    on_d = data & (p >= thr.t_on)
    off_d = data & (p < params["state.hysteresis"] * thr.t_on)
    last = rk.ffill_index(on_d | off_d)
    is_on = np.where(last >= 0, on_d[np.maximum(last, 0)], False)
    st[data] = np.where(is_on[data], ON, OFF)
    # debounce: short ON/OFF runs (between data) take the previous run's state
    deb = (
        params["state.debounce_intervals"]
        if interval_s >= 300
        else max(1, math.ceil(params["state.debounce_min"] * 60 / interval_s))
    )
    if deb > 1 and n > 1:
        change = np.flatnonzero(st[1:] != st[:-1]) + 1
        starts = np.concatenate(([0], change))
        ends = np.concatenate((change, [n]))
        vals = st[starts].copy()
        lens = ends - starts
        short = (lens < deb) & (vals != NODATA)
        short[0] = False
        prev_ok = np.concatenate(([False], vals[:-1] != NODATA))
        flip = short & prev_ok
        if flip.any():
            # a short run inherits from the nearest earlier run that is not itself flipped
            src = rk.ffill_index(~flip)
            vals = vals[np.maximum(src, 0)]
            st = np.repeat(vals, lens).astype(np.int8)
    if has_standby and not math.isnan(thr.off_p95):
        st[(st == OFF) & (p > thr.off_p95) & (p < thr.t_on)] = STANDBY
    return st


def idle_band_hi(p_kw: np.ndarray, state: np.ndarray, params: Params) -> float:
    """Upper edge of the learned idle band: P95 of OFF/STANDBY power (stopped plants keep residual load)."""
    p = np.asarray(p_kw, dtype=np.float64)
    idle = p[((state == OFF) | (state == STANDBY)) & ~np.isnan(p)]
    return float(np.percentile(idle, 100 * params["e04.idle_quantile"])) if len(idle) else float("nan")


# ------------------------------------------------------------------------------------------- E01 / E02
def _edges(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and inclusive ends of ON runs."""
    return rk.runs(state == ON)


def treatment_off(sp: np.ndarray, st: np.ndarray, subj: Subject, params: Params, *, pair: MeterPair) -> list[Hit]:
    """E01: production ON while treatment OFF (data present on both) for ≥ 15 min and ≥ 2 intervals.

    Stretches no longer than ``e01.edge_minutes`` that touch a production start or stop are left to E02.
    """
    cond = (sp == ON) & ((st == OFF) | (st == STANDBY))
    min_n = max(params["e01.min_intervals"], math.ceil(params["e01.min_minutes"] * 60 / subj.step_s))
    ps, pe = _edges(sp)
    start_set = np.zeros(len(sp) + 1, dtype=bool)
    start_set[ps] = True
    end_set = np.zeros(len(sp) + 1, dtype=bool)
    end_set[pe] = True
    edge_n = params["e01.edge_minutes"] * 60 // subj.step_s
    hits = []
    for a, b in zip(*rk.long_runs(cond, min_n), strict=True):
        n = b - a + 1
        if n <= edge_n and (start_set[a] or end_set[b]):
            continue
        hits.append(
            subj.hit(
                "E01",
                params,
                int(a),
                int(b),
                subject_kind="meter_pair",
                metrics={
                    "production_meter": pair.production_id,
                    "treatment_meter": pair.treatment_id,
                    "minutes": float(n * subj.step_s / 60),
                },
            )
        )
    return hits


def late_early(sp: np.ndarray, st: np.ndarray, subj: Subject, params: Params, *, pair: MeterPair) -> list[Hit]:
    """E02: treatment ON later than production start − 5 min, or OFF earlier than production stop + 10 min, by
    ≥ 15 min. S2 from ``e02.s2_minutes`` (60) on, else S3. Production runs without any treatment ON are E01."""
    step_min = subj.step_s / 60
    ps, pe = _edges(sp)
    ts_, te_ = _edges(st)
    t_on = st == ON
    hits = []
    if len(ps) == 0 or len(ts_) == 0:
        return hits
    lead, lag, need = params["e02.lead_minutes"], params["e02.lag_minutes"], params["e02.min_minutes"]
    # late start: first treatment ON start at/after the production start, if treatment was not already ON
    j = np.searchsorted(ts_, ps)
    ok = (~t_on[ps]) & (j < len(ts_))
    jj = np.minimum(j, len(ts_) - 1)
    ok &= ts_[jj] <= pe
    delay = (ts_[jj] - ps) * step_min + lead
    for k in np.flatnonzero(ok & (delay >= need)):
        sev = "S2" if delay[k] >= params["e02.s2_minutes"] else "S3"
        hits.append(
            subj.hit(
                "E02",
                params,
                int(ps[k]),
                int(ts_[jj[k]]) - 1,
                subject_kind="meter_pair",
                severity=sev,
                metrics={
                    "reason": "late_start",
                    "minutes": float(delay[k]),
                    "production_meter": pair.production_id,
                    "treatment_meter": pair.treatment_id,
                },
            )
        )
    # early stop: last treatment ON end at/before the production end, if treatment is not ON at the end
    j = np.searchsorted(te_, pe, side="right") - 1
    ok = (~t_on[pe]) & (j >= 0)
    jj = np.maximum(j, 0)
    ok &= te_[jj] >= ps
    early = (pe - te_[jj]) * step_min + lag
    for k in np.flatnonzero(ok & (early >= need)):
        sev = "S2" if early[k] >= params["e02.s2_minutes"] else "S3"
        hits.append(
            subj.hit(
                "E02",
                params,
                int(te_[jj[k]]) + 1,
                int(pe[k]),
                subject_kind="meter_pair",
                severity=sev,
                metrics={
                    "reason": "early_stop",
                    "minutes": float(early[k]),
                    "production_meter": pair.production_id,
                    "treatment_meter": pair.treatment_id,
                },
            )
        )
    return hits


# ------------------------------------------------------------------------------------------------ E03
def under_loaded(
    pp: np.ndarray,
    pt: np.ndarray,
    sp: np.ndarray,
    st: np.ndarray,
    subj: Subject,
    params: Params,
    *,
    pair: MeterPair,
) -> list[Hit]:
    """E03: both ON and P_t < 50 % of its own trailing 7-day median ON power for ≥ 30 min while production runs at
    ≥ 50 % of its own 7-day median (so a treatment load that follows a light production load is not a clue); or the
    day's P_t/P_p (energy while both ON) < 50 % of its trailing 30-day median."""
    both = (sp == ON) & (st == ON)
    days = subj.days(len(pt))
    ds, de = _bounds(days)
    pd_ = subj.per_day
    day_pos = np.searchsorted(ds, np.arange(len(pt)), side="right") - 1

    def own_median(x: np.ndarray) -> np.ndarray:
        dm = day_matrix(np.where(both, x, np.nan), ds, pd_)
        cnt = (~np.isnan(dm)).sum(axis=1)
        with np.errstate(invalid="ignore"):
            daily_med = np.where(cnt > 0, rk.nanmedian_rows(dm), np.nan)
        return _trailing_median(daily_med, params["e03.median_days"], 3)[day_pos]

    med7, med7_p = own_median(pt), own_median(pp)
    with np.errstate(invalid="ignore"):
        # treatment idles while production runs at its usual level (a fan following a light load is not a clue)
        low = both & (pt < params["e03.ratio"] * med7) & (pp >= params["e03.ratio"] * med7_p)
    hits = []
    min_n = max(1, math.ceil(params["e03.min_minutes"] * 60 / subj.step_s))
    for a, b in zip(*rk.long_runs(low, min_n), strict=True):
        hits.append(
            subj.hit(
                "E03",
                params,
                int(a),
                int(b),
                subject_kind="meter_pair",
                metrics={
                    "reason": "below_own_median",
                    "median_7d_kw": med7[day_pos[a]],
                    "mean_kw": float(np.nanmean(pt[a : b + 1])),
                    "production_meter": pair.production_id,
                    "treatment_meter": pair.treatment_id,
                },
            )
        )
    ep = np.add.reduceat(np.where(both, np.nan_to_num(pp), 0.0), ds) if len(ds) else np.zeros(0)
    et = np.add.reduceat(np.where(both, np.nan_to_num(pt), 0.0), ds) if len(ds) else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(ep > 0, et / ep, np.nan)
    med30 = _trailing_median(ratio, params["e03.pair_days"], 7)
    with np.errstate(invalid="ignore"):
        fire = ratio < params["e03.ratio"] * med30
    for k in np.flatnonzero(fire):
        hits.append(
            subj.hit(
                "E03",
                params,
                int(ds[k]),
                int(de[k]),
                subject_kind="meter_pair",
                metrics={
                    "reason": "pair_ratio",
                    "ratio": ratio[k],
                    "median_30d": med30[k],
                    "production_meter": pair.production_id,
                    "treatment_meter": pair.treatment_id,
                },
            )
        )
    return hits


def _trailing_median(daily: np.ndarray, days: int, min_days: int) -> np.ndarray:
    nd = len(daily)
    if nd == 0:
        return daily
    pad = np.concatenate((np.full(days, np.nan), daily))
    view = np.lib.stride_tricks.sliding_window_view(pad, days)[:nd]
    cnt = (~np.isnan(view)).sum(axis=1)
    out = np.full(nd, np.nan)
    ok = cnt >= min_days
    if ok.any():
        out[ok] = rk.nanmedian_rows(view[ok])
    return out


# ------------------------------------------------------------------------------------------------ E06–E08
def night_day(p: np.ndarray, subj: Subject, params: Params, *, meter_id: str) -> list[Hit]:
    """E06: night energy (22–06 Beijing) > 1.5 × day energy on ≥ 3 days of a Monday-started week.

    The night of a day is the hours 00–06 and 22–24 of that calendar day (no data: the day is not judged).
    """
    e = np.asarray(p, dtype=np.float64)
    n = len(e)
    hod = _hour_of_day(subj, n)
    night = (hod >= params["night.start_h"]) | (hod < params["night.end_h"])
    days = subj.days(n)
    ds, de = _bounds(days)
    ez = np.nan_to_num(e)
    en = np.add.reduceat(np.where(night, ez, 0.0), ds)
    ed = np.add.reduceat(np.where(~night, ez, 0.0), ds)
    complete = np.add.reduceat((~np.isnan(e)).astype(np.int64), ds) == (de - ds + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        over = complete & (en > params["e06.ratio"] * ed)
    week = (days[ds] + 3) // 7  # 1970-01-01 was a Thursday; +3 makes weeks start on Monday
    ws, we = _bounds(week)
    c = np.concatenate(([0], np.cumsum(over)))
    cnt = c[we + 1] - c[ws]
    return [
        subj.hit(
            "E06",
            params,
            int(ds[ws[k]]),
            int(de[we[k]]),
            subject_kind="meter",
            metrics={"meter": meter_id, "days_over": int(cnt[k]), "ratio": params["e06.ratio"]},
        )
        for k in np.flatnonzero(cnt >= params["e06.min_days"])
    ]


def _hour_of_day(subj: Subject, n: int) -> np.ndarray:
    if subj.ts is not None:
        us = np.asarray(subj.ts).astype("datetime64[us]").astype(np.int64)
        return ((us // 3_600_000_000) + 8) % 24
    return (np.arange(n) * subj.step_s // 3600) % 24


def meter_offline(pp: np.ndarray, pt: np.ndarray, subj: Subject, params: Params, *, pair: MeterPair) -> list[Hit]:
    """E07: treatment meter NODATA while the production meter reports, ≥ 30 min (S3, never a violation)."""
    cond = np.isnan(np.asarray(pt, dtype=np.float64)) & ~np.isnan(np.asarray(pp, dtype=np.float64))
    min_n = max(1, math.ceil(params["e07.min_minutes"] * 60 / subj.step_s))
    return [
        subj.hit(
            "E07",
            params,
            int(a),
            int(b),
            subject_kind="meter_pair",
            metrics={"treatment_meter": pair.treatment_id, "minutes": float((b - a + 1) * subj.step_s / 60)},
        )
        for a, b in zip(*rk.long_runs(cond, min_n), strict=True)
    ]


def bypass_wiring(
    production_sum: np.ndarray,
    total: np.ndarray,
    total_idle_hi: float,
    subj: Subject,
    params: Params,
    *,
    meter_id: str,
) -> list[Hit]:
    """E08: Σ production energy < 50 % of the total meter's on a day while the total is above its idle band."""
    tp = np.asarray(production_sum, dtype=np.float64)
    tt = np.asarray(total, dtype=np.float64)
    days = subj.days(len(tt))
    ds, de = _bounds(days)
    ep = np.add.reduceat(np.nan_to_num(tp), ds)
    et = np.add.reduceat(np.nan_to_num(tt), ds)
    busy = np.add.reduceat((tt > total_idle_hi).astype(np.int64), ds) > 0
    fire = busy & (ep < params["e08.share"] * et)
    return [
        subj.hit(
            "E08",
            params,
            int(ds[k]),
            int(de[k]),
            subject_kind="meter",
            metrics={
                "total_meter": meter_id,
                "production_kwh": ep[k] * subj.step_s / 3600,
                "total_kwh": et[k] * subj.step_s / 3600,
            },
        )
        for k in np.flatnonzero(fire)
    ]
