"""CEMS validity, O2 reference conversion and exceedance judgement (enforcement.md §2, §3.1–§3.3).

Frames
------
*Minute* or *hourly* CEMS frames are wide: one row per ``(outlet_id, ts_utc)``; one float column per HJ 212 factor
code (``a21002`` NOx, ``a19001`` O2, ``i33400`` load …), optional ``<code>_flag`` (HJ 212 flag letter),
``<code>_zs`` (the logger's converted value) and ``<code>_raw`` (value string as received), and optional
``frame_uid`` (id of the ``raw_frame`` row the values came from). ``ts_utc`` is the interval start, UTC.

Every constant here is a default [std] read second-hand (enforcement.md, "Numbers"); check the official text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

import numpy as np
import polars as pl

from bogda.enforcement import runs as rk
from bogda.enforcement.rules import Hit, Params, make_hit

# --------------------------------------------------------------------------------------------- hour status
STATUS_NAMES = (
    "VALID",
    "INSUFFICIENT",
    "MARKED",
    "STOPPED",
    "UNIT_OFF",
    "O2_HIGH",
    "O2_INVALID",
    "LOWER_BOUND",
)
"""Hour status vocabulary of enforcement.md §3.1; arrays hold the index into this tuple."""
VALID, INSUFFICIENT, MARKED, STOPPED, UNIT_OFF, O2_HIGH, O2_INVALID, LOWER_BOUND = range(8)

FLAGS = {
    "N": "normal",
    "F": "instrument stopped",
    "M": "maintenance",
    "C": "calibration",
    "S": "manually set value",
    "D": "fault",
    "T": "above upper range",
    "B": "analyser-logger communication failure",
}
"""HJ 212-2017 data flags (enforcement.md §2); anything else is invalid and logged."""

O2_CODE = "a19001"
LOAD_CODE = "i33400"
FLOW_CODE = "a00000"
TEMP_CODE = "a01012"
POLLUTANTS = ("a21026", "a21002", "a34013")
"""SO2, NOx, particulate matter: the factors judged against limits."""

GUARD_BY_SOURCE: dict[str, float] = {"sinter_head": 20.0, "pellet": 20.0, "brick_kiln": 20.0}
"""O2 guard for high-reference sectors (open question, enforcement.md §10): above the reference, below 21 %."""


# ------------------------------------------------------------------------------------------ sector limits
@dataclass(frozen=True)
class SectorLimit:
    """Default hourly limits [mg/m³] and O2 reference [%] of one sector row (enforcement.md §3.2 table, [std])."""

    standard: str
    facility: str
    variant: str
    o2_ref_pct: float
    pm: float | None
    so2: float | None
    nox: float | None
    daily: tuple[float | None, float | None, float | None] | None = None

    def limit(self, code: str) -> float | None:
        """Hourly limit for factor ``code`` (a34013, a21026, a21002)."""
        return {"a34013": self.pm, "a21026": self.so2, "a21002": self.nox}.get(code)

    def daily_limit(self, code: str) -> float | None:
        if self.daily is None:
            return None
        return dict(zip(("a34013", "a21026", "a21002"), self.daily, strict=True)).get(code)


SECTOR_LIMITS: tuple[SectorLimit, ...] = (
    SectorLimit("GB 13223-2011", "coal_boiler", "new", 6.0, 30, 100, 100),
    SectorLimit("GB 13223-2011", "coal_boiler", "in_use", 6.0, 30, 200, 200),
    SectorLimit("GB 13223-2011", "coal_boiler", "key_region", 6.0, 20, 100, 100),
    SectorLimit("GB 13223-2011", "gas_boiler", "", 3.0, 5, 35, 100),
    SectorLimit("GB 13223-2011", "gas_turbine", "", 15.0, 5, 35, 50),
    SectorLimit("ultra-low power", "coal_unit", "", 6.0, 10, 35, 50),
    SectorLimit("GB 13271-2014", "coal_boiler", "in_use", 9.0, 80, 400, 400),
    SectorLimit("GB 13271-2014", "coal_boiler", "new", 9.0, 50, 300, 300),
    SectorLimit("GB 13271-2014", "coal_boiler", "special", 9.0, 30, 200, 200),
    SectorLimit("GB 13271-2014", "oil_boiler", "in_use", 3.5, 60, 300, 400),
    SectorLimit("GB 13271-2014", "oil_boiler", "new", 3.5, 30, 200, 250),
    SectorLimit("GB 13271-2014", "oil_boiler", "special", 3.5, 30, 100, 200),
    SectorLimit("GB 13271-2014", "gas_boiler", "in_use", 3.5, 30, 100, 400),
    SectorLimit("GB 13271-2014", "gas_boiler", "new", 3.5, 20, 50, 200),
    SectorLimit("GB 13271-2014", "gas_boiler", "special", 3.5, 20, 50, 150),
    SectorLimit("GB 4915-2013", "cement_kiln", "", 10.0, 30, 200, 400),
    SectorLimit("GB 4915-2013", "cement_kiln", "special", 10.0, 20, 100, 320),
    SectorLimit("GB 28662-2012", "sinter_head", "", 16.0, 50, 200, 300),
    SectorLimit("GB 28662-2012", "sinter_head", "special", 16.0, 40, 180, 300),
    SectorLimit("GB 28662-2012", "pellet", "", 18.0, 50, 200, 300),
    SectorLimit("GB 28662-2012", "pellet", "special", 18.0, 40, 180, 300),
    SectorLimit("steel ultra-low", "sinter_head", "", 16.0, 10, 35, 50),
    SectorLimit("GB 16171-2012", "coke_oven_chimney", "", 8.0, 30, 50, 500),
    SectorLimit("GB 16171-2012", "coke_oven_chimney", "special", 8.0, 15, 30, 150),
    SectorLimit("GB 26453-2011", "flat_glass_furnace", "", 8.0, 50, 400, 700),
    SectorLimit("GB 29620-2013", "brick_kiln", "", 18.0, 30, 300, 200),
    SectorLimit("GB 18485-2014", "incinerator", "", 11.0, 30, 100, 300, daily=(20, 80, 250)),
)
"""Default sector table of enforcement.md §3.2 [std] (permit values override it per outlet)."""


def sector_limit(standard: str, facility: str, variant: str = "") -> SectorLimit:
    """Look up a row of :data:`SECTOR_LIMITS`; ``KeyError`` naming the key when absent."""
    for row in SECTOR_LIMITS:
        if (row.standard, row.facility, row.variant) == (standard, facility, variant):
            return row
    raise KeyError(f"no sector limit for {standard!r} / {facility!r} / {variant!r}")


# --------------------------------------------------------------------------------------------- O2
def o2_factor(o2_meas: np.ndarray | float, o2_ref: float) -> np.ndarray:
    """Conversion factor (21 − O2_ref)/(21 − O2_meas) (GB 13223-2011 §5.2 formula; enforcement.md §3.2).

    NaN where O2_meas is outside [0, 21): the factor is never clamped.

    >>> [round(float(f), 2) for f in o2_factor(np.array([15.0, 18, 19, 20, 20.9]), 6.0)]
    [2.5, 5.0, 7.5, 15.0, 150.0]
    """
    o2 = np.asarray(o2_meas, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (21.0 - o2_ref) / (21.0 - o2)
    return np.where((o2 >= 0) & (o2 < 21.0), f, np.nan)


def wet_to_dry(c_wet: np.ndarray | float, x_sw: np.ndarray | float) -> np.ndarray:
    """Dry-basis concentration C_dry = C_wet / (1 − X_sw); ``x_sw`` the flue-gas moisture fraction [−].

    >>> float(wet_to_dry(90.0, 0.1))
    100.0
    """
    x = np.asarray(x_sw, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((x >= 0) & (x < 1), np.asarray(c_wet, dtype=np.float64) / (1.0 - x), np.nan)


def convert_o2(
    c_meas: np.ndarray, o2_meas: np.ndarray, o2_ref: float, guard_pct: float = 19.0
) -> tuple[np.ndarray, np.ndarray]:
    """O2-reference concentration and per-hour status (enforcement.md §3.2).

    Parameters
    ----------
    c_meas : array [mg/m³, dry, 273.15 K, 101.325 kPa]
    o2_meas : array [%] measured O2 of the *same* hours (never another hour's)
    o2_ref : float [%]
    guard_pct : float [%]
        At or above it the hour is ``O2_HIGH`` and not converted (conversion factor ≥ 7.5 at O2_ref 6 %).

    Returns
    -------
    c_ref : array [mg/m³] (NaN where not converted)
    status : int8 array (``VALID``, ``O2_HIGH`` or ``O2_INVALID``)

    >>> c, s = convert_o2(np.array([30.0, 8.0, 5.0, 5.0]), np.array([9.0, 12.0, 19.0, 21.0]), 6.0)
    >>> [round(float(v), 2) for v in c[:2]], [STATUS_NAMES[i] for i in s]
    ([37.5, 13.33], ['VALID', 'VALID', 'O2_HIGH', 'O2_INVALID'])
    """
    c = np.asarray(c_meas, dtype=np.float64)
    o2 = np.asarray(o2_meas, dtype=np.float64)
    invalid = ~((o2 >= 0) & (o2 < 21.0))  # NaN compares False, so a missing O2 is invalid too
    high = ~invalid & (o2 >= guard_pct)
    status = np.full(c.shape, VALID, dtype=np.int8)
    status[high] = O2_HIGH
    status[invalid] = O2_INVALID
    f = o2_factor(o2, o2_ref)
    c_ref = np.where(status == VALID, c * f, np.nan)
    return c_ref, status


# ------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Outlet:
    """The registry items one outlet's rules need (enforcement.md §2, "Registry per outlet").

    ``limits`` maps a factor code to ``(hourly, daily)`` limits [mg/m³] (permit values override the sector
    table); ``converted`` means the input concentrations are already at the O2 reference (e.g. ``ZsAvg``).
    """

    outlet_id: str
    enterprise_id: str
    source_type: str = "coal_boiler"
    o2_ref_pct: float | None = None
    o2_band: tuple[float, float] | None = None
    limits: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    limit_source: str = "permit"
    span: dict[str, float] = field(default_factory=dict)
    lod: dict[str, float] = field(default_factory=dict)
    wet_fgd: bool = False
    load_channel: str | None = LOAD_CODE
    production_meter_id: str | None = None
    calibration_ok: bool = True
    comparison_ok: bool = True
    monthly_rate: bool = False
    furnace_channel: str | None = None
    o2_guard_pct: float | None = None
    converted: bool = False
    calibration_hours: tuple[int, ...] | None = None  # Beijing hours of the scheduled calibration (C15)

    def guard(self, params: Params) -> float:
        if self.o2_guard_pct is not None:
            return self.o2_guard_pct
        return GUARD_BY_SOURCE.get(self.source_type, params["o2.guard_pct"])


@dataclass(frozen=True)
class Mark:
    """A marking-rule entry (MEE marking rules [std]; enforcement.md §2). Times are UTC, ``end`` exclusive."""

    mark_id: str
    enterprise_id: str
    target_id: str
    mark_type: str
    start: datetime
    end: datetime
    entered_at: datetime | None = None
    status: str = "accepted"
    reason: str = ""


# --------------------------------------------------------------------------------------------- validity
def flag_valid(flags: np.ndarray | None, n: int) -> np.ndarray:
    """True where the HJ 212 flag is ``N`` (missing flag column: all valid); unknown flags are invalid."""
    if flags is None:
        return np.ones(n, dtype=bool)
    f = np.asarray(flags, dtype=object)
    return f == "N"


def hourly_from_minutes(
    minutes: pl.DataFrame, channels: list[str], params: Params, o2_channel: str = O2_CODE
) -> pl.DataFrame:
    """Valid hours from minute data (HJ 75-2017 [std]; enforcement.md §3.1).

    A minute of a factor is valid when its flag is ``N``, its value parsed and non-negative, and (for O2) in
    [0, 21). The hour mean uses the valid minutes; the O2 mean used with a factor is taken over the **same**
    minutes (columns ``<code>_o2``). ``<code>_n`` counts them; ``<code>_ok`` is ``n ≥ valid_hour.min_minutes``.
    """
    need = params["valid_hour.min_minutes"]
    df = minutes.with_columns(pl.col("ts_utc").dt.truncate("1h").alias("_hour"))
    has_o2 = o2_channel in df.columns
    o2_ok = pl.lit(True)
    if has_o2:
        o2_ok = (pl.col(o2_channel) >= 0) & (pl.col(o2_channel) < 21)
        if f"{o2_channel}_flag" in df.columns:
            o2_ok = o2_ok & (pl.col(f"{o2_channel}_flag") == "N")
    aggs: list[pl.Expr] = []
    for ch in channels:
        ok = pl.col(ch).is_not_null() & pl.col(ch).is_not_nan() & (pl.col(ch) >= 0)
        if f"{ch}_flag" in df.columns:
            ok = ok & (pl.col(f"{ch}_flag") == "N")
        if ch == o2_channel:
            ok = ok & (pl.col(ch) < 21)
        aggs += [pl.col(ch).filter(ok).mean().alias(ch), ok.sum().alias(f"{ch}_n")]
        if has_o2 and ch != o2_channel:
            aggs.append(pl.col(o2_channel).filter(ok & o2_ok).mean().alias(f"{ch}_o2"))
    out = (
        df.group_by("outlet_id", "_hour")
        .agg(aggs)
        .rename({"_hour": "ts_utc"})
        .sort("outlet_id", "ts_utc")
        .with_columns([(pl.col(f"{ch}_n") >= need).alias(f"{ch}_ok") for ch in channels])
    )
    return out


def mark_mask(ts: np.ndarray, marks: list[Mark], target_id: str, types: tuple[str, ...] | None = None) -> np.ndarray:
    """True for hours whose start lies in an accepted mark of ``target_id`` (optionally of ``types``)."""
    t = np.asarray(ts).astype("datetime64[us]")
    m = np.zeros(len(t), dtype=bool)
    for mk in marks:
        if mk.target_id != target_id or mk.status != "accepted":
            continue
        if types is not None and mk.mark_type not in types:
            continue
        a = np.datetime64(mk.start.replace(tzinfo=None) if mk.start.tzinfo is None else _naive_utc(mk.start), "us")
        b = np.datetime64(mk.end.replace(tzinfo=None) if mk.end.tzinfo is None else _naive_utc(mk.end), "us")
        m |= (t >= a) & (t < b)
    return m


def exempt_mask(ts: np.ndarray, marks: list[Mark], target_id: str, params: Params) -> np.ndarray:
    """Hours exempt from exceedance judgement: those under an accepted mark **within its caps** (enforcement.md
    §3.3 "not under an accepted mark within caps"; §6 marks caps).

    A startup or shutdown mark exempts at most its first ``marks.startup_cap_h`` hours, and startup + shutdown
    marks together at most ``marks.annual_cap_h`` hours a (UTC) year; fault marks at most
    ``marks.fault_annual_cap_h`` hours a year; the budget is spent in time order. Other mark types (stopped,
    maintenance, calibration, other) exempt their whole span; C04 audits them all. Hours past a cap are judged.
    """
    t = np.asarray(ts).astype("datetime64[us]")
    m = np.zeros(len(t), dtype=bool)
    used: dict[tuple[int, str], float] = {}
    hour = np.timedelta64(3600, "s")
    for mk in sorted(marks, key=lambda x: x.start):
        if mk.target_id != target_id or mk.status != "accepted":
            continue
        a = np.datetime64(_naive_utc(mk.start) if mk.start.tzinfo else mk.start, "us")
        b = np.datetime64(_naive_utc(mk.end) if mk.end.tzinfo else mk.end, "us")
        budget = None
        if mk.mark_type in ("startup", "shutdown"):
            key = (mk.start.year, "startup_shutdown")
            budget = min(params["marks.startup_cap_h"], params["marks.annual_cap_h"] - used.get(key, 0.0))
        elif mk.mark_type == "fault_accident":
            key = (mk.start.year, "fault")
            budget = params["marks.fault_annual_cap_h"] - used.get(key, 0.0)
        if budget is not None:
            budget = max(0.0, float(budget))
            dur_h = float((b - a) / hour)
            used[key] = used.get(key, 0.0) + min(dur_h, budget)
            b = min(b, a + np.timedelta64(round(budget * 3600), "s"))
        if b > a:
            m |= (t >= a) & (t < b)
    return m


def _naive_utc(ts: datetime) -> datetime:
    from datetime import UTC

    return ts.astimezone(UTC).replace(tzinfo=None)


@dataclass
class JudgedFactor:
    """Per-hour judgement of one factor at one outlet."""

    code: str
    c_meas: np.ndarray
    c_ref: np.ndarray
    status: np.ndarray
    judgeable: np.ndarray
    lower_bound: np.ndarray


def judge_factor(
    outlet: Outlet,
    code: str,
    c_meas: np.ndarray,
    *,
    params: Params,
    flags: np.ndarray | None = None,
    o2: np.ndarray | None = None,
    load: np.ndarray | None = None,
    running: np.ndarray | None = None,
    marked: np.ndarray | None = None,
) -> JudgedFactor:
    """Hour status, converted concentration and judgeability (enforcement.md §3.1–§3.3).

    Precedence of statuses: MARKED > STOPPED > INSUFFICIENT > UNIT_OFF > O2_INVALID > O2_HIGH > LOWER_BOUND >
    VALID. A ``T`` hour's lower bound is max(value, span) (the analyser saturated), converted like a value.
    """
    c = np.asarray(c_meas, dtype=np.float64)
    n = len(c)
    st = np.full(n, VALID, dtype=np.int8)
    lb = np.full(n, np.nan)
    if outlet.converted or outlet.o2_ref_pct is None:
        c_ref = c.copy()
        o2_st = np.full(n, VALID, dtype=np.int8)
        factor = np.ones(n)
    else:
        if o2 is None:
            o2 = np.full(n, np.nan)
        c_ref, o2_st = convert_o2(c, o2, outlet.o2_ref_pct, outlet.guard(params))
        factor = o2_factor(o2, outlet.o2_ref_pct)
    st[o2_st == O2_HIGH] = O2_HIGH
    st[o2_st == O2_INVALID] = O2_INVALID
    if flags is not None:
        f = np.asarray(flags, dtype=object)
        t_flag = (f == "T") & (st == VALID)
        span = outlet.span.get(code, np.nan)
        lb = np.where(t_flag, np.fmax(c, span) * factor, np.nan)
        st[t_flag] = LOWER_BOUND
    if load is not None:
        st[~(np.asarray(load, dtype=np.float64) > 0)] = UNIT_OFF
    if running is not None:
        st[~np.asarray(running, dtype=bool)] = UNIT_OFF
    bad_value = np.isnan(c) | (c < 0)
    st[bad_value] = INSUFFICIENT
    if flags is not None:
        f = np.asarray(flags, dtype=object)
        st[(f != "N") & (f != "T")] = INSUFFICIENT
        st[f == "F"] = STOPPED
    if marked is not None:
        st[np.asarray(marked, dtype=bool)] = MARKED
    c_ref = np.where(st == VALID, c_ref, np.nan)
    judgeable = st == VALID
    return JudgedFactor(code, c, c_ref, st, judgeable, np.where(st == LOWER_BOUND, lb, np.nan))


def exceeds(c_ref: np.ndarray, limit: float) -> np.ndarray:
    """Strict exceedance C_ref > L (equal complies; enforcement.md §3.3).

    Values are compared after removing binary floating-point noise (9 decimals), never after rounding to the
    reporting precision: 35.0 against 35 complies, 35.01 exceeds.

    >>> exceeds(np.array([35.0, 35.01, np.nan]), 35).tolist()
    [False, True, False]
    """
    c = np.round(np.asarray(c_ref, dtype=np.float64), 9)
    with np.errstate(invalid="ignore"):
        return c > limit


def exceeds_decimal(value: str, limit: str | float) -> bool:
    """Strict comparison on the value string as received (no float at all); ``False`` if unparsable."""
    try:
        return Decimal(value.strip()) > Decimal(str(limit))
    except (InvalidOperation, AttributeError):
        return False


def exceedance_hits(outlet: Outlet, jf: JudgedFactor, params: Params, ts: np.ndarray | None = None) -> list[Hit]:
    """C01 hourly exceedance events, consecutive hours merged (gap ≤ ``exceed.merge_gap_h``).

    S1 needs an in-date calibration and a passing comparison test, else S2; an event made only of
    ``LOWER_BOUND`` hours (analyser over range) is S2.
    """
    limit = outlet.limits.get(jf.code, (None, None))[0]
    if limit is None:
        return []
    exc = exceeds(jf.c_ref, limit) & jf.judgeable
    lb_exc = exceeds(jf.lower_bound, limit)
    mask = exc | lb_exc
    if not mask.any():
        return []
    s, e = rk.runs(mask)
    s, e = rk.merge_runs(s, e, params["exceed.merge_gap_h"])
    hits = []
    for a, b in zip(s, e, strict=True):
        seg = slice(a, b + 1)
        vals = np.where(exc[seg], jf.c_ref[seg], np.where(lb_exc[seg], jf.lower_bound[seg], np.nan))
        vmax = float(np.nanmax(vals))
        evidence_grade = bool(exc[seg].any()) and outlet.calibration_ok and outlet.comparison_ok
        hits.append(
            make_hit(
                "C01",
                params,
                subject_id=outlet.outlet_id,
                enterprise_id=outlet.enterprise_id,
                i0=a,
                i1=b,
                channel=jf.code,
                ts=ts,
                severity="S1" if evidence_grade else "S2",
                metrics={
                    "max": vmax,
                    "limit": limit,
                    "exceed_pct": (vmax - limit) / limit * 100.0,
                    "n_hours": int(mask[seg].sum()),
                    "duration_h": int(b - a + 1),
                    "lower_bound_hours": int(lb_exc[seg].sum()),
                    "limit_source": outlet.limit_source,
                    "o2_ref_pct": outlet.o2_ref_pct,
                },
            )
        )
    return hits


def day_index(ts: np.ndarray) -> np.ndarray:
    """Beijing calendar day number (days since 1970-01-01, Beijing) of each UTC instant."""
    us = np.asarray(ts).astype("datetime64[us]").astype(np.int64)
    return (us + 8 * 3600 * 1_000_000) // (86400 * 1_000_000)


def beijing_hour(ts: np.ndarray) -> np.ndarray:
    """Beijing hour of day (0–23) of each UTC instant."""
    us = np.asarray(ts).astype("datetime64[us]").astype(np.int64)
    return ((us // 3_600_000_000) + 8) % 24


def _group_bounds(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and inclusive end positions of each group of equal consecutive keys."""
    if len(keys) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    new = np.ones(len(keys), dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    s = np.flatnonzero(new)
    e = np.concatenate((s[1:] - 1, [len(keys) - 1]))
    return s, e


def daily_exceedance_hits(
    outlet: Outlet, jf: JudgedFactor, params: Params, ts: np.ndarray, days: np.ndarray | None = None
) -> list[Hit]:
    """C02: daily mean of valid C_ref above the daily limit, on days with ≥ ``valid_day.min_hours`` hours."""
    limit = outlet.limits.get(jf.code, (None, None))[1]
    if limit is None:
        return []
    days = day_index(ts) if days is None else days
    s, e = _group_bounds(days)
    v = np.where(jf.judgeable, jf.c_ref, 0.0)
    cs = np.concatenate(([0.0], np.cumsum(v)))
    cn = np.concatenate(([0], np.cumsum(jf.judgeable.astype(np.int64))))
    n = cn[e + 1] - cn[s]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (cs[e + 1] - cs[s]) / n
    fire = (n >= params["valid_day.min_hours"]) & exceeds(mean, limit)
    return [
        make_hit(
            "C02",
            params,
            subject_id=outlet.outlet_id,
            enterprise_id=outlet.enterprise_id,
            i0=s[k],
            i1=e[k],
            channel=jf.code,
            ts=ts,
            metrics={
                "daily_mean": mean[k],
                "limit": limit,
                "exceed_pct": (mean[k] - limit) / limit * 100,
                "n_hours": n[k],
            },
        )
        for k in np.flatnonzero(fire)
    ]


def month_index(ts: np.ndarray) -> np.ndarray:
    """Beijing calendar month number (year*12 + month − 1) of each UTC instant."""
    t = (np.asarray(ts).astype("datetime64[us]") + np.timedelta64(8, "h")).astype("datetime64[M]")
    return t.astype(np.int64)


def monthly_rate_hits(outlet: Outlet, jf: JudgedFactor, params: Params, ts: np.ndarray) -> list[Hit]:
    """C03: share of compliant judgeable hours in a Beijing month below 95 % (steel ultra-low [std])."""
    limit = outlet.limits.get(jf.code, (None, None))[0]
    if limit is None or not outlet.monthly_rate:
        return []
    months = month_index(ts)
    s, e = _group_bounds(months)
    ok = jf.judgeable & ~exceeds(jf.c_ref, limit)
    cj = np.concatenate(([0], np.cumsum(jf.judgeable)))
    co = np.concatenate(([0], np.cumsum(ok)))
    nj = cj[e + 1] - cj[s]
    share = np.where(nj > 0, (co[e + 1] - co[s]) / np.maximum(nj, 1), np.nan)
    fire = (nj > 0) & (share < params["monthly.min_compliant_share"])
    return [
        make_hit(
            "C03",
            params,
            subject_id=outlet.outlet_id,
            enterprise_id=outlet.enterprise_id,
            i0=s[k],
            i1=e[k],
            channel=jf.code,
            ts=ts,
            metrics={"compliant_share": share[k], "judgeable_hours": nj[k], "limit": limit},
        )
        for k in np.flatnonzero(fire)
    ]


def completeness_hits(outlet: Outlet, valid: np.ndarray, params: Params, ts: np.ndarray, channel: str) -> list[Hit]:
    """C17: Beijing days with fewer than ``valid_day.min_hours`` valid hours (consecutive days merged).

    ``valid`` must be on a complete hourly grid (a missing hour is a row with ``False``).
    """
    days = day_index(ts)
    s, e = _group_bounds(days)
    cv = np.concatenate(([0], np.cumsum(np.asarray(valid, dtype=np.int64))))
    n = cv[e + 1] - cv[s]
    # a partial first/last day of the series is judged on its own length, not on 24 h
    expected = np.minimum(24, e - s + 1)
    short = n < np.minimum(params["valid_day.min_hours"], expected * params["valid_day.min_hours"] / 24)
    hits = []
    ds, de = rk.runs(short)
    for a, b in zip(ds, de, strict=True):
        hits.append(
            make_hit(
                "C17",
                params,
                subject_id=outlet.outlet_id,
                enterprise_id=outlet.enterprise_id,
                i0=s[a],
                i1=e[b],
                channel=channel,
                ts=ts,
                metrics={
                    "days": int(b - a + 1),
                    "valid_hours": int(n[a : b + 1].sum()),
                    "min_valid_hours_per_day": params["valid_day.min_hours"],
                },
            )
        )
    return hits


def quarter_index(ts: np.ndarray) -> np.ndarray:
    """Beijing calendar quarter number (year × 4 + quarter − 1) of each UTC instant."""
    us = np.asarray(ts).astype("datetime64[us]").astype(np.int64) + 8 * 3600 * 1_000_000
    months = us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return (months // 12 + 1970) * 4 + (months % 12) // 3


def quarterly_completeness_hits(
    outlet: Outlet, valid: np.ndarray, params: Params, ts: np.ndarray, channel: str, *, min_days: int = 30
) -> list[Hit]:
    """C17 (quarterly clause): valid hours < ``complete.quarter_share`` (90 %) of the quarter's hours.

    The required hours are those of the quarter that the series covers (its first and last hours bound it), and
    a quarter covered for fewer than ``min_days`` days is not judged: a partial quarter is no basis for a rate.
    ``valid`` must be on a complete hourly grid.
    """
    q = quarter_index(ts)
    s, e = _group_bounds(q)
    cv = np.concatenate(([0], np.cumsum(np.asarray(valid, dtype=np.int64))))
    n = cv[e + 1] - cv[s]
    expected = e - s + 1
    share = n / np.maximum(expected, 1)
    bad = (expected >= min_days * 24) & (share < params["complete.quarter_share"])
    return [
        make_hit(
            "C17",
            params,
            subject_id=outlet.outlet_id,
            enterprise_id=outlet.enterprise_id,
            i0=int(s[k]),
            i1=int(e[k]),
            channel=channel,
            ts=ts,
            metrics={
                "period": "quarter",
                "quarter": f"{int(q[s[k]]) // 4}Q{int(q[s[k]]) % 4 + 1}",
                "valid_hours": int(n[k]),
                "required_hours": int(expected[k]),
                "valid_share": float(share[k]),
                "min_share": params["complete.quarter_share"],
            },
        )
        for k in np.flatnonzero(bad)
    ]


def minute_excursion_hits(
    outlet: Outlet,
    code: str,
    minute_ref: np.ndarray,
    hour_ref: np.ndarray,
    params: Params,
    ts_hours: np.ndarray | None = None,
) -> list[Hit]:
    """C23: an hour complying while ≥ 3 of 6 consecutive minute values exceed the limit.

    ``minute_ref`` is a (hours, 60) array of converted minute values aligned with ``hour_ref``; ``ts_hours`` the
    hours' starts (UTC) to stamp the hits with.
    """
    limit = outlet.limits.get(code, (None, None))[0]
    if limit is None:
        return []
    m = np.asarray(minute_ref, dtype=np.float64)
    w = params["minute.window"]
    exc = exceeds(m, limit).astype(np.int64)
    c = np.concatenate((np.zeros((m.shape[0], 1), dtype=np.int64), np.cumsum(exc, axis=1)), axis=1)
    roll = c[:, w:] - c[:, :-w]
    hour_ok = ~exceeds(hour_ref, limit) & ~np.isnan(hour_ref)
    fire = (roll.max(axis=1) >= params["minute.exceed_count"]) & hour_ok
    return [
        make_hit(
            "C23",
            params,
            subject_id=outlet.outlet_id,
            enterprise_id=outlet.enterprise_id,
            i0=k,
            i1=k,
            channel=code,
            ts=ts_hours,
            metrics={"minutes_over": int(exc[k].sum()), "hour_value": hour_ref[k], "limit": limit},
        )
        for k in np.flatnonzero(fire)
    ]
