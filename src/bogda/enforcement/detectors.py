"""Falsification and data-quality detectors on the *shape* of a series (enforcement.md §3.4, §4).

Sequence rules (C07 flat line, C08 linear fill, C12 copied block, C19 stale record, C20 flow–load break) are
exact and run first; statistical ones (C10 pinned below limit, C11 step drop vs load, C13 residual break) add
weaker clues. Each detector is a pure function: arrays of one subject → list of :class:`~bogda.enforcement.rules.Hit`.
Derived series (a constant ratio to another channel) are recognised by :func:`derived_channels` and skipped by
C13/C20.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bogda.enforcement import changepoints
from bogda.enforcement import runs as rk
from bogda.enforcement.rules import Hit, Params, make_hit


@dataclass(frozen=True)
class Subject:
    """One outlet's (or meter's) time axis and identity.

    ``ts`` holds interval starts (``datetime64[us]``, UTC) or ``None`` for index-only data (the gas-turbine files:
    row = hour); ``step_s`` is the interval length [s].
    """

    subject_id: str
    enterprise_id: str | None = None
    ts: np.ndarray | None = None
    step_s: int = 3600
    kind: str = "outlet"

    def days(self, n: int) -> np.ndarray:
        """Beijing day number of each row (``row // rows-per-day`` without timestamps)."""
        if self.ts is None:
            return np.arange(n) // max(1, 86400 // self.step_s)
        us = np.asarray(self.ts).astype("datetime64[us]").astype(np.int64)
        return (us + 8 * 3_600_000_000) // 86_400_000_000

    @property
    def per_day(self) -> int:
        return max(1, 86400 // self.step_s)

    def hit(self, rule_id: str, params: Params, i0: int, i1: int, **kw: object) -> Hit:
        kw.setdefault("subject_kind", self.kind)
        return make_hit(
            rule_id,
            params,
            subject_id=self.subject_id,
            enterprise_id=self.enterprise_id,
            i0=i0,
            i1=i1,
            ts=self.ts,
            step_s=self.step_s,
            **kw,  # type: ignore[arg-type]
        )


def _cv(v: np.ndarray) -> float:
    v = v[~np.isnan(v)]
    if len(v) < 2 or np.mean(v) == 0:
        return float("nan")
    return float(np.std(v) / abs(np.mean(v)))


# ------------------------------------------------------------------------------------------------ C07
def flat_line(
    x: np.ndarray,
    load: np.ndarray | None,
    subj: Subject,
    params: Params,
    channel: str,
    *,
    minutes: bool = False,
    rule_id: str = "C07",
) -> list[Hit]:
    """C07: ≥ ``flat.min_hours`` identical hourly values (≥ ``flat.min_minutes`` minute values).

    One run = one hit (a rolling-window formulation would report every window). S2 if the load varies in the run
    (CV > ``flat.load_cv``) or there is no load channel, else S3. Runs while the unit is off (load ≤ 0 throughout)
    are not clues. Never apply this to a load channel: loads sit on caps legitimately.
    """
    min_len = params["flat.min_minutes"] if minutes else params["flat.min_hours"]
    s, e = rk.equal_runs(x, min_len)
    hits = []
    for a, b in zip(s, e, strict=True):
        ld = None if load is None else np.asarray(load[a : b + 1], dtype=np.float64)
        if ld is not None and np.all(~(ld > 0)):
            continue
        cv = float("nan") if ld is None else _cv(ld)
        sev = "S2" if (ld is None or np.isnan(cv) or cv > params["flat.load_cv"]) else "S3"
        m = {"value": float(x[a]), "n": int(b - a + 1), "load_cv": cv}
        if ld is not None:
            m |= {"load_min": float(np.nanmin(ld)), "load_max": float(np.nanmax(ld))}
        hits.append(subj.hit(rule_id, params, a, b, channel=channel, severity=sev, metrics=m))
    return hits


# ------------------------------------------------------------------------------------------------ C08
def spread(x: np.ndarray) -> float:
    """P95 − P5 of the non-missing values (the scale when no span is registered)."""
    v = x[~np.isnan(x)]
    return float(np.percentile(v, 95) - np.percentile(v, 5)) if len(v) else float("nan")


def linear_fill(x: np.ndarray, subj: Subject, params: Params, channel: str, *, span: float | None = None) -> list[Hit]:
    """C08: ``|Δ²x| ≤ tol`` and ``|Δx| > tol`` over ≥ ``linear.min_points`` points (a gap filled by a line).

    ``tol = linear.tol_frac × span`` (``× (P95 − P5)`` without a span): small enough to tell a line from a natural
    trend, large enough to survive 5-significant-digit rounding.
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 3:
        return []
    tol = params["linear.tol_frac"] * (span if span else spread(x))
    if not tol > 0:
        return []
    d1 = np.diff(x)
    d2 = x[2:] - 2 * x[1:-1] + x[:-2]
    with np.errstate(invalid="ignore"):
        interior = (np.abs(d2) <= tol) & (np.abs(d1[:-1]) > tol) & (np.abs(d1[1:]) > tol)
    s, e = rk.runs(interior)
    hits = []
    for a, b in zip(s, e, strict=True):
        r0, r1 = a, b + 2  # interior position k is row k+1; the line covers its neighbours too
        if r1 - r0 + 1 < params["linear.min_points"]:
            continue
        step = float(np.mean(d1[r0:r1]))
        hits.append(
            subj.hit(
                "C08",
                params,
                r0,
                r1,
                channel=channel,
                metrics={"n": int(r1 - r0 + 1), "step": step, "tol": tol, "from": x[r0], "to": x[r1]},
            )
        )
    return hits


# ------------------------------------------------------------------------------------------------ C09
def narrow_band(
    x: np.ndarray,
    load: np.ndarray | None,
    subj: Subject,
    params: Params,
    channel: str,
    *,
    span: float | None,
    lod: float | None,
) -> list[Hit]:
    """C09: a Beijing day whose range is < 2 % of span, or ≥ 80 % of values ≤ 1.5·LOD at load > 30 %."""
    x = np.asarray(x, dtype=np.float64)
    days = subj.days(len(x))
    s, e = _bounds(days)
    hits = []
    for a, b in zip(s, e, strict=True):
        v = x[a : b + 1]
        ok = ~np.isnan(v)
        if ok.sum() < subj.per_day * 0.75:
            continue
        rng = float(np.nanmax(v) - np.nanmin(v))
        reason = None
        if span and rng < params["narrow.range_frac"] * span and np.unique(v[ok]).size > 1:
            reason = "range"
        if lod and load is not None:
            ld = load[a : b + 1]
            run = ok & (ld > params["narrow.min_load_pct"])
            if run.sum() >= subj.per_day * 0.5:
                share = float(np.mean(v[run] <= params["narrow.lod_factor"] * lod))
                if share >= params["narrow.lod_share"]:
                    reason = "lod"
        if reason:
            hits.append(
                subj.hit(
                    "C09",
                    params,
                    a,
                    b,
                    channel=channel,
                    metrics={"reason": reason, "range": rng, "span": span, "lod": lod},
                )
            )
    return hits


def _bounds(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(keys) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    new = np.ones(len(keys), dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    s = np.flatnonzero(new)
    return s, np.concatenate((s[1:] - 1, [len(keys) - 1]))


# ------------------------------------------------------------------------------------------------ C10
def _rolling_moments(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ok = ~np.isnan(x)
    xz = np.where(ok, x, 0.0)
    n = rk.rolling_count(ok, w).astype(np.float64)
    s1 = rk.rolling_sum(xz, w)
    s2 = rk.rolling_sum(xz * xz, w)
    return n, s1, s2


def pinned_below_limit(
    x: np.ndarray, load: np.ndarray | None, limit: float, subj: Subject, params: Params, channel: str
) -> list[Hit]:
    """C10: 24-h windows (stepped by one row) with ≥ 80 % of values in [0.9 L, L), CV < 4 % and |ρ(load)| < 0.3.

    Overlapping firing windows merge into one hit. S3 on its own (natural operation can sit just under a limit);
    the catalogue raises it to S2 when C05/C06/C11 fire within 7 days.
    """
    x = np.asarray(x, dtype=np.float64)
    w = params["pinned.window_h"] * 3600 // subj.step_s
    if len(x) < w:
        return []
    in_band = (x >= params["pinned.band_lo"] * limit) & (x < limit)
    cnt = rk.rolling_count(in_band, w)
    n, s1, s2 = _rolling_moments(x, w)
    full = n == w
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = np.maximum(s2 / n - mean * mean, 0.0)
        cv = np.sqrt(var) / mean
    fire = full & (cnt >= params["pinned.share"] * w) & (cv < params["pinned.cv"])
    if load is not None and fire.any():
        y = np.asarray(load, dtype=np.float64)
        both = ~np.isnan(x) & ~np.isnan(y)
        xz, yz = np.where(both, x, 0.0), np.where(both, y, 0.0)
        nb = rk.rolling_count(both, w).astype(np.float64)
        sx, sy = rk.rolling_sum(xz, w), rk.rolling_sum(yz, w)
        sxy, syy, sxx = rk.rolling_sum(xz * yz, w), rk.rolling_sum(yz * yz, w), rk.rolling_sum(xz * xz, w)
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = sxy / nb - sx * sy / nb**2
            vx = sxx / nb - (sx / nb) ** 2
            vy = syy / nb - (sy / nb) ** 2
            rho = cov / np.sqrt(np.maximum(vx, 0) * np.maximum(vy, 0))
        rho = np.where(np.isfinite(rho), rho, 0.0)
        fire &= np.abs(rho) < params["pinned.rho"]
    starts = np.flatnonzero(fire)
    s, e = rk.windows_to_rows(starts, w)
    hits = []
    for a, b in zip(s, e, strict=True):
        seg = x[a : b + 1]
        hits.append(
            subj.hit(
                "C10",
                params,
                a,
                b,
                channel=channel,
                metrics={
                    "limit": limit,
                    "mean": float(np.nanmean(seg)),
                    "cv": _cv(seg),
                    "share_in_band": float(np.mean(in_band[a : b + 1])),
                    "n": int(b - a + 1),
                },
            )
        )
    return hits


# ------------------------------------------------------------------------------------------------ C11
def trailing_daily_baseline(daily: np.ndarray, base_days: int, min_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD of the ``base_days`` daily values *before* each day (NaN with < ``min_days`` values)."""
    nd = len(daily)
    pad = np.concatenate((np.full(base_days, np.nan), daily))
    view = np.lib.stride_tricks.sliding_window_view(pad, base_days)[:nd]  # row d = days d-30 .. d-1
    cnt = (~np.isnan(view)).sum(axis=1)
    med = np.full(nd, np.nan)
    mad = np.full(nd, np.nan)
    ok = cnt >= min_days
    if ok.any():
        med[ok] = rk.nanmedian_rows(view[ok])
        mad[ok] = rk.nanmedian_rows(np.abs(view[ok] - med[ok, None]))
    return med, mad


def day_matrix(x: np.ndarray, day_starts: np.ndarray, per_day: int) -> np.ndarray:
    """(days, per_day) matrix of ``x`` with each row's values placed by position in its day (NaN-padded)."""
    n = len(x)
    day_pos = np.searchsorted(day_starts, np.arange(n), side="right") - 1
    offset = np.arange(n) - day_starts[day_pos]
    m = np.full((len(day_starts), per_day), np.nan)
    keep = offset < per_day
    m[day_pos[keep], offset[keep]] = x[keep]
    return m


def trailing_hourly_baseline(
    day_mat: np.ndarray, base_days: int, min_days: int, stride: int = 7
) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD of all values of the ``base_days`` days before each day (NaN with < ``min_days`` days
    holding data). The MAD is over hourly values, so a noisy series (low-level CO) fails the gate.

    The baseline is refreshed every ``stride`` days (day d uses the ``base_days`` days before the first day of
    its stride block): strictly prior data, and 7× fewer sorts of (days × 720) values (enforcement.md §8).
    """
    nd, pd_ = day_mat.shape
    anchors = np.arange(0, nd, stride)
    pad = np.vstack((np.full((base_days, pd_), np.nan), day_mat))
    view = np.lib.stride_tricks.sliding_window_view(pad, base_days, axis=0)[anchors]  # (na, pd_, base_days)
    flat = view.reshape(len(anchors), -1)
    has = (~np.isnan(day_mat)).any(axis=1).astype(np.int64)
    csum = np.concatenate(([0], np.cumsum(has)))
    cnt = csum[anchors] - csum[np.maximum(anchors - base_days, 0)]
    med_a = np.full(len(anchors), np.nan)
    mad_a = np.full(len(anchors), np.nan)
    ok = cnt >= min_days
    if ok.any():
        med_a[ok] = rk.nanmedian_rows(flat[ok])
        mad_a[ok] = rk.nanmedian_rows(np.abs(flat[ok] - med_a[ok, None]))
    idx = np.arange(nd) // stride
    return med_a[idx], mad_a[idx]


def change_point_l2(y: np.ndarray) -> int | None:
    """The strongest change in mean of ``y`` (PELT l2 with a BIC-like penalty; NaN ignored), as the index of the
    first element of the second segment, or ``None`` when PELT finds no change."""
    v = np.asarray(y, dtype=np.float64)
    if (~np.isnan(v)).sum() < 4:
        return None
    cps = changepoints.pelt_nan(v, changepoints.bic_penalty(v))
    if not cps:
        return None
    # the change with the largest jump between the means of its neighbouring segments
    edges = [0, *cps, len(v)]
    means = [np.nanmean(v[edges[i] : edges[i + 1]]) for i in range(len(edges) - 1)]
    k = int(np.argmax(np.abs(np.diff(means))))
    return int(cps[k])


def step_drop(
    x: np.ndarray,
    load: np.ndarray,
    subj: Subject,
    params: Params,
    channel: str,
    *,
    excused: np.ndarray | None = None,
) -> list[Hit]:
    """C11: concentration falls relative to load — a Beijing day's median of ln(C/ld) below the median of the
    trailing 30 days' hourly values + ln(``drop.ratio``), only where the trailing robust spread (1.4826 × MAD of
    the hourly values) ≤ ``drop.gate_mad`` and ≥ 10 days of history. Consecutive days (gap ≤ 1 day) merge; a
    PELT (l2, penalty ``pelt.penalty_factor`` · σ² · ln n, σ from first differences) on the daily medians of the
    event and the 30 days before it locates the step (the change point nearest the event's first day).

    ``excused`` marks rows covered by a maintenance or fuel-change record (no clue then).
    """
    x = np.asarray(x, dtype=np.float64)
    ld = np.asarray(load, dtype=np.float64)
    pd_ = subj.per_day
    if len(x) < pd_ * (params["drop.min_history_days"] + 1):
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where((x > 0) & (ld > 0), np.log(x / ld), np.nan)
    days = subj.days(len(x))
    ds, de = _bounds(days)
    daily = day_matrix(r, ds, pd_)
    med, mad = trailing_hourly_baseline(daily, params["drop.base_days"], params["drop.min_history_days"])
    cnt = (~np.isnan(daily)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        day_med = np.where(cnt >= pd_ // 2, rk.nanmedian_rows(daily), np.nan)
        robust_sd = 1.4826 * mad  # MAD scaled to a standard deviation
        fire = (day_med < med + np.log(params["drop.ratio"])) & (robust_sd <= params["drop.gate_mad"])
    s, e = rk.runs(fire)
    s, e = rk.merge_runs(s, e, 1)
    hits = []
    for a, b in zip(s, e, strict=True):
        r0, r1 = int(ds[a]), int(de[b])
        if excused is not None and np.asarray(excused[r0 : r1 + 1]).any():
            continue
        lo = max(0, int(a) - params["drop.base_days"])
        seg = day_med[lo : int(b) + 1]
        cps = changepoints.pelt_nan(seg, changepoints.bic_penalty(seg, params["pelt.penalty_factor"]))
        cp = min(cps, key=lambda c: abs(c - (int(a) - lo))) if cps else None
        low = float(np.nanmin(day_med[a : b + 1]))
        hits.append(
            subj.hit(
                "C11",
                params,
                r0,
                r1,
                channel=channel,
                metrics={
                    "baseline_ln_ratio": med[a],
                    "robust_sd": robust_sd[a],
                    "min_daily_ln_ratio": low,
                    "drop_factor": float(np.exp(low - med[a])),
                    "days": int(b - a + 1),
                    "change_point_row": None if cp is None else int(ds[lo + cp]),
                    "change_point_rows": [int(ds[lo + c]) for c in cps],
                    "change_point_method": "PELT l2",
                },
            )
        )
    return hits


# ------------------------------------------------------------------------------------------------ C12
_HASH_MULT = np.random.default_rng(20250101).integers(1, 2**63, size=1024, dtype=np.uint64) | np.uint64(1)


def copied_block(x: np.ndarray, subj: Subject, params: Params, channel: str) -> list[Hit]:
    """C12: a block of 24 non-constant values (≥ 3 distinct) equal to the block 1–14 days earlier.

    Windows are hashed (random-multiplier hash over the float bits, vectorised), equal hashes are verified exactly,
    so any lag in [1 day, 14 days] is found in O(n log n).
    """
    x = np.asarray(x, dtype=np.float64)
    w = params["copy.block_h"] * 3600 // subj.step_s
    n = len(x) - w + 1
    if n <= w:
        return []
    bits = x.view(np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    for k in range(w):
        h += bits[k : k + n] * _HASH_MULT[k % len(_HASH_MULT)]
    nan_win = rk.rolling_count(np.isnan(x), w) > 0
    changes = rk.rolling_count(np.concatenate(([False], x[1:] != x[:-1])), w)
    # changes inside the window (the first element's change belongs to the previous window)
    changes = changes - np.concatenate(([False], x[1:] != x[:-1]))[:n].astype(np.int64)
    cand = ~nan_win & (changes >= params["copy.min_distinct"] - 1)
    idx = np.flatnonzero(cand)
    if len(idx) < 2:
        return []
    order = idx[np.argsort(h[idx], kind="stable")]
    hs = h[order]
    same = np.flatnonzero(hs[1:] == hs[:-1])
    lo_lag, hi_lag = w, params["copy.max_lag_days"] * subj.per_day
    pairs: list[tuple[int, int]] = []
    for k in same:
        a, b = sorted((int(order[k]), int(order[k + 1])))
        lag = b - a
        if (
            lo_lag <= lag <= hi_lag
            and np.array_equal(x[a : a + w], x[b : b + w])
            and (np.unique(x[b : b + w]).size >= params["copy.min_distinct"])
        ):
            pairs.append((b, lag))
    if not pairs:
        return []
    pairs.sort()
    hits = []
    # consecutive copied windows with the same lag form one copied block
    arr = np.array(pairs)
    new = np.ones(len(arr), dtype=bool)
    new[1:] = (arr[1:, 0] - arr[:-1, 0] > 1) | (arr[1:, 1] != arr[:-1, 1])
    starts = np.flatnonzero(new)
    ends = np.concatenate((starts[1:] - 1, [len(arr) - 1]))
    for s, e in zip(starts, ends, strict=True):
        b0, lag = int(arr[s, 0]), int(arr[s, 1])
        b1 = int(arr[e, 0]) + w - 1
        hits.append(
            subj.hit(
                "C12",
                params,
                b0,
                b1,
                channel=channel,
                metrics={
                    "lag_rows": lag,
                    "lag_days": lag / subj.per_day,
                    "source_i0": b0 - lag,
                    "source_i1": b1 - lag,
                    "n": b1 - b0 + 1,
                },
            )
        )
    return hits


# ------------------------------------------------------------------------------------------------ C19
def stale_records(matrix: np.ndarray, subj: Subject, params: Params, channels: list[str] | None = None) -> list[Hit]:
    """C19: ≥ 3 consecutive records with ≥ 90 % of channels equal to the previous record.

    ``matrix`` is (rows, channels); the hit spans the reference record and the repeats.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape[0] < 2:
        return []
    present = ~np.isnan(m[1:]) & ~np.isnan(m[:-1])
    eq = (m[1:] == m[:-1]) & present
    npres = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = eq.sum(axis=1) / npres
    rep = (npres >= 3) & (share >= params["stale.channel_share"])
    s, e = rk.long_runs(rep, params["stale.min_records"])
    return [
        subj.hit(
            "C19",
            params,
            int(a),
            int(b + 1),
            channel=None,
            metrics={
                "repeats": int(b - a + 1),
                "channels": m.shape[1],
                "min_share_equal": float(share[a : b + 1].min()),
                "channel_names": ",".join(channels) if channels else None,
            },
        )
        for a, b in zip(s, e, strict=True)
    ]


# ------------------------------------------------------------------------------------------------ C20
def flow_load_break(flow: np.ndarray, load: np.ndarray, subj: Subject, params: Params, channel: str) -> list[Hit]:
    """C20: flow/load < 50 % of its trailing 30-day median for ≥ 6 h, or flow flat while load varies."""
    f = np.asarray(flow, dtype=np.float64)
    ld = np.asarray(load, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where((ld > 0) & (f >= 0), f / ld, np.nan)
    days = subj.days(len(f))
    ds, _de = _bounds(days)
    daily = rk.nanmedian_rows(day_matrix(ratio, ds, subj.per_day))
    med, _ = trailing_daily_baseline(daily, params["flow.base_days"], min(params["flow.base_days"], 7))
    day_pos = np.searchsorted(ds, np.arange(len(f)), side="right") - 1
    with np.errstate(invalid="ignore"):
        low = ratio < params["flow.ratio"] * med[day_pos]
    hits = []
    for a, b in zip(*rk.long_runs(low, params["flow.min_hours"] * 3600 // subj.step_s), strict=True):
        hits.append(
            subj.hit(
                "C20",
                params,
                int(a),
                int(b),
                channel=channel,
                metrics={
                    "reason": "ratio",
                    "min_ratio": float(np.nanmin(ratio[a : b + 1])),
                    "baseline_ratio": med[day_pos[a]],
                },
            )
        )
    for h in flat_line(f, ld, subj, params, channel, rule_id="C20"):
        if h.severity == "S2" and not np.isnan(h.metrics.get("load_cv") or np.nan):
            hits.append(
                subj.hit("C20", params, h.i0, h.i1, channel=channel, metrics={"reason": "flow_flat", **h.metrics})
            )
    return hits


# --------------------------------------------------------------------------------------------- derived
def derived_channels(cols: dict[str, np.ndarray], params: Params, base: tuple[str, ...] = ()) -> dict[str, str]:
    """Channels computed from another: ratio CV < ``derived.cv`` in every 7-day window (enforcement.md §3.4).

    Returns ``{derived: source}``. Of a pair, the channel not in ``base`` (load, flow, heat input …) is the
    derived one; failing that, the later one in ``cols`` order. E.g. CAMPD CO2 mass = 0.1026 × heat input.
    """
    names = list(cols)
    out: dict[str, str] = {}
    w = params["derived.window_h"]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            xa = np.asarray(cols[a], dtype=np.float64)
            xb = np.asarray(cols[b], dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.where((xa > 0) & (xb > 0), xa / xb, np.nan)
            ok = ~np.isnan(r)
            if ok.sum() < min(w, len(r)) * 0.5:
                continue
            ww = min(w, len(r))
            first = r[ok][:ww]  # a derived series is constant in every window, so in the first one too
            if np.std(first) > params["derived.cv"] * abs(np.mean(first)):
                continue
            n, s1, s2 = _rolling_moments(r, ww)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = s1 / n
                cv = np.sqrt(np.maximum(s2 / n - mean * mean, 0)) / mean
            good = n >= ww * 0.5
            if good.any() and np.nanmax(cv[good]) < params["derived.cv"]:
                der, src = (a, b) if (b in base and a not in base) else (b, a)
                if a in base and b not in base:
                    der, src = b, a
                out.setdefault(der, src)
    return out


# ------------------------------------------------------------------------------------------------ C13
def residual_break(
    y: np.ndarray,
    features: dict[str, np.ndarray],
    subj: Subject,
    params: Params,
    channel: str,
    *,
    model_version: str = "ridge-1",
) -> list[Hit]:
    """C13: ridge model of the pollutant on load, O2, flow, temperature; robust residual z > 4 for ≥ 6 h.

    The model is fit on the series itself (closed-form ridge on standardised features); z uses the residuals'
    median and MAD so the anomaly does not hide itself. Derived channels must be removed by the caller.
    """
    y = np.asarray(y, dtype=np.float64)
    if not features:
        return []
    X = np.column_stack([np.asarray(v, dtype=np.float64) for v in features.values()])
    ok = ~np.isnan(y) & ~np.isnan(X).any(axis=1)
    if ok.sum() < 10 * (X.shape[1] + 1):
        return []
    mu, sd = X[ok].mean(axis=0), X[ok].std(axis=0)
    sd[sd == 0] = 1.0
    Z = (X - mu) / sd
    Z = np.column_stack((Z, Z[:, :1] ** 2))  # curvature in the first feature (load) only
    A = np.column_stack((np.ones(ok.sum()), Z[ok]))
    reg = params["resid.ridge_alpha"] * np.eye(A.shape[1])
    reg[0, 0] = 0.0
    coef = np.linalg.solve(A.T @ A + reg, A.T @ y[ok])
    pred = np.full(len(y), np.nan)
    pred[ok] = A @ coef
    res = y - pred
    rv = res[ok]
    med = float(np.median(rv))
    mad = 1.4826 * float(np.median(np.abs(rv - med)))
    if not mad > 0:
        return []
    z = (res - med) / mad
    with np.errstate(invalid="ignore"):
        big = np.abs(z) > params["resid.z"]
    return [
        subj.hit(
            "C13",
            params,
            int(a),
            int(b),
            channel=channel,
            metrics={
                "max_abs_z": float(np.nanmax(np.abs(z[a : b + 1]))),
                "model_version": model_version,
                "features": ",".join(features),
                "n": int(b - a + 1),
            },
        )
        for a, b in zip(*rk.long_runs(big, params["resid.min_hours"] * 3600 // subj.step_s), strict=True)
    ]


def load_correlation_drop(
    y: np.ndarray,
    load: np.ndarray,
    subj: Subject,
    params: Params,
    channel: str,
    *,
    recent_days: int = 7,
    prior_days: int = 30,
    min_recent_h: int = 72,
    min_prior_h: int = 240,
) -> list[Hit]:
    """C13 (correlation clause): Pearson ρ(pollutant, load) over the last 7 days falls by more than
    ``resid.rho_drop`` (0.5) below ρ over the 30 days before them (enforcement.md §4), where that prior ρ shows an
    established coupling (≥ ``resid.rho_min_prior``, 0.7): a pollutant that only loosely follows load (the
    gas-turbine NOx, prior ρ 0.2–0.6) drifts in and out of correlation naturally and must not fire.

    Evaluated at the end of every Beijing day from per-day sums (cumulative sums over days, no loops over hours);
    consecutive firing days merge into one hit. A window with too few paired hours is not judged.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(load, dtype=np.float64)
    ok = ~np.isnan(y) & ~np.isnan(x)
    days = subj.days(len(y))
    ds, de = _bounds(days)
    nd = len(ds)
    if nd < recent_days + prior_days:
        return []
    xv, yv = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    per_day = np.stack(
        [np.add.reduceat(v, ds) for v in (ok.astype(np.float64), xv, yv, xv * xv, yv * yv, xv * yv)], axis=1
    )
    c = np.vstack((np.zeros((1, 6)), np.cumsum(per_day, axis=0)))

    def rho(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, sx, sy, sxx, syy, sxy = (c[hi] - c[lo]).T
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = sxy - sx * sy / n
            vx, vy = sxx - sx * sx / n, syy - sy * sy / n
            r = cov / np.sqrt(vx * vy)
        return np.where((vx > 0) & (vy > 0), r, np.nan), n

    end = np.arange(recent_days + prior_days, nd + 1)  # exclusive day index of the recent window
    r7, n7 = rho(end - recent_days, end)
    r30, n30 = rho(end - recent_days - prior_days, end - recent_days)
    with np.errstate(invalid="ignore"):
        fire = (
            (n7 >= min_recent_h)
            & (n30 >= min_prior_h)
            & (r30 >= params["resid.rho_min_prior"])
            & (r30 - r7 > params["resid.rho_drop"])
        )
    # a firing day flags its whole 7-day window; windows of nearby firing days overlap and merge into one hit
    spans: list[list[int]] = []
    for a, b in zip(*rk.runs(fire), strict=True):
        lo, hi = int(end[a] - recent_days), int(end[b] - 1)
        k = int(np.nanargmax(r30[a : b + 1] - r7[a : b + 1])) + a
        if spans and lo <= spans[-1][1] + 1:
            spans[-1][1] = hi
            if r30[k] - r7[k] > r30[spans[-1][2]] - r7[spans[-1][2]]:
                spans[-1][2] = k
        else:
            spans.append([lo, hi, k])
    hits = []
    for lo, hi, k in spans:
        hits.append(
            subj.hit(
                "C13",
                params,
                int(ds[lo]),
                int(de[hi]),
                channel=channel,
                metrics={
                    "clause": "rho_drop",
                    "rho_recent": float(r7[k]),
                    "rho_prior": float(r30[k]),
                    "drop": float(r30[k] - r7[k]),
                    "recent_days": recent_days,
                    "prior_days": prior_days,
                },
            )
        )
    return hits
