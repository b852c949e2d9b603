"""Adverse-weather advisories from NWP, D+0..D+3 (forecast.md §3.8; all thresholds are defaults (d)).

Pure core: :func:`daily_weather` aggregates an hourly NWP frame per location and Beijing day; :func:`evaluate`
applies the three rules and returns one :class:`Advisory` per (location, kind, day) that holds, with the conditions
that made it. Advised measures are data (``data/advisory_measures.csv``, ``advisory_measure`` of forecast.md §3.8);
the service names the enterprises of the listed sectors in the area, so every sector of the table must be one of the
registry's (:data:`bogda.registry.sites.SECTORS`), checked when the table is read (:func:`read_measures`).

- **dust** (strong wind): max ws10 ≥ 8 m/s or gust ≥ 12 m/s, with min RH < 30 % and < 1 mm rain in the previous
  72 h (the day and the two before it).
- **ozone** (high temperature, strong sun; April–September): Tmax ≥ 30 °C, daytime RH ≤ 60 %, daytime tcc ≤ 0.5,
  mean ws10 ≤ 3 m/s. Daytime = 10:00–18:00 Beijing (d). Without cloud cover the tcc clause is "not evaluated" and
  does not block (recorded in the conditions).
- **stagnant**: mean ws10 ≤ 2 m/s, mean RH ≥ 60 %, max BLH ≤ 800 m (if available) and precipitation < 1 mm, for
  ≥ 2 consecutive days (every day of the run is advised).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

KINDS = ("dust", "ozone", "stagnant")
KIND_ZH = {"dust": "大风扬沙（沙尘）", "ozone": "高温强日照（臭氧）", "stagnant": "静稳不利扩散"}


@dataclass(frozen=True)
class Thresholds:
    """Rule thresholds (forecast.md §3.8, all d)."""

    dust_ws_max: float = 8.0
    dust_gust_max: float = 12.0
    dust_rh_min_below: float = 30.0
    dust_rain_72h_below: float = 1.0
    ozone_months: tuple[int, ...] = (4, 5, 6, 7, 8, 9)
    ozone_tmax: float = 30.0
    ozone_rh_day_max: float = 60.0
    ozone_tcc_day_max: float = 0.5
    ozone_ws_mean_max: float = 3.0
    stag_ws_mean_max: float = 2.0
    stag_rh_mean_min: float = 60.0
    stag_blh_max: float = 800.0
    stag_rain_below: float = 1.0
    stag_min_days: int = 2
    day_hours: tuple[int, int] = (10, 18)  # Beijing hours [start, end) counted as daytime


DEFAULT = Thresholds()


@dataclass(frozen=True)
class Advisory:
    """One advisory that holds for a location and day."""

    location: str
    kind: str
    day: date
    conditions: dict[str, Any] = field(default_factory=dict)


def daily_weather(frame: pl.DataFrame, *, day_hours: tuple[int, int] = DEFAULT.day_hours) -> pl.DataFrame:
    """Daily aggregates per location and Beijing day from hourly NWP rows.

    ``frame``: ``location_id, valid_start`` (aware UTC), ``variable``, ``value`` (long, as in ``nwp_value``).
    Returns ``location_id, day`` and ``ws_max, ws_mean, gust_max, rh_min, rh_mean, rh_day, t_max, tcc_day,
    blh_max, precip`` (null when the variable is absent).
    """
    f = frame.with_columns(
        pl.col("valid_start").dt.convert_time_zone("Asia/Shanghai").alias("_bj"),
    ).with_columns(pl.col("_bj").dt.date().alias("day"), pl.col("_bj").dt.hour().alias("_h"))
    wide = f.pivot(on="variable", index=["location_id", "day", "_h"], values="value", aggregate_function="mean")
    for v in ("ws10", "gust", "rh2m", "t2m", "tcc", "blh", "precip"):
        if v not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(v))
    lo, hi = day_hours
    daytime = (pl.col("_h") >= lo) & (pl.col("_h") < hi)
    return (
        wide.group_by("location_id", "day")
        .agg(
            pl.col("ws10").max().alias("ws_max"),
            pl.col("ws10").mean().alias("ws_mean"),
            pl.col("gust").max().alias("gust_max"),
            pl.col("rh2m").min().alias("rh_min"),
            pl.col("rh2m").mean().alias("rh_mean"),
            pl.col("rh2m").filter(daytime).mean().alias("rh_day"),
            pl.col("t2m").max().alias("t_max"),
            pl.col("tcc").filter(daytime).mean().alias("tcc_day"),
            pl.col("blh").max().alias("blh_max"),
            pl.when(pl.col("precip").is_not_null().any()).then(pl.col("precip").sum()).alias("precip"),
        )
        .sort("location_id", "day")
    )


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def evaluate(
    daily: pl.DataFrame,
    *,
    days: Sequence[date] | None = None,
    thresholds: Thresholds = DEFAULT,
    kinds: Sequence[str] = KINDS,
) -> list[Advisory]:
    """Advisories of ``kinds`` holding on ``days`` (default: every day of ``daily``) from :func:`daily_weather` rows.

    >>> d = pl.DataFrame({"location_id": ["X"] * 2, "day": [date(2026, 7, 1), date(2026, 7, 2)],
    ...     "ws_max": [9.0, 3.0], "ws_mean": [5.0, 1.5], "gust_max": [None, None], "rh_min": [20.0, 40.0],
    ...     "rh_mean": [25.0, 45.0], "rh_day": [22.0, 40.0], "t_max": [33.0, 34.0], "tcc_day": [0.1, 0.2],
    ...     "blh_max": [None, None], "precip": [0.0, 0.0]})
    >>> [(a.kind, a.day.day) for a in evaluate(d)]
    [('dust', 1), ('ozone', 2)]
    """
    th = thresholds
    out: list[Advisory] = []
    wanted = set(days) if days is not None else None
    for (loc,), g in daily.sort("day").group_by(["location_id"], maintain_order=True):
        rows = g.to_dicts()
        by_day = {r["day"]: r for r in rows}
        stagnant_ok: dict[date, dict[str, Any]] = {}
        for r in rows:
            d = r["day"]
            ws_max, gust = _f(r["ws_max"]), _f(r["gust_max"])
            rh_min, rh_mean, rh_day = _f(r["rh_min"]), _f(r["rh_mean"]), _f(r["rh_day"])
            t_max, tcc, blh, ws_mean = _f(r["t_max"]), _f(r["tcc_day"]), _f(r["blh_max"]), _f(r["ws_mean"])
            # rain of the previous 72 h: this day and the two before it; the day itself must be known, earlier days
            # without values are left out and their number recorded
            rain3 = [by_day.get(d - timedelta(days=k), {}).get("precip") for k in range(3)]
            rain_known = rain3[0] is not None
            rain72 = sum(float(v) for v in rain3 if v is not None)
            windy = (ws_max is not None and ws_max >= th.dust_ws_max) or (gust is not None and gust >= th.dust_gust_max)
            dry = rh_min is not None and rh_min < th.dust_rh_min_below
            if "dust" in kinds and windy and dry and rain_known and rain72 < th.dust_rain_72h_below:
                out.append(
                    Advisory(
                        str(loc),
                        "dust",
                        d,
                        {
                            "ws_max": ws_max,
                            "gust_max": gust,
                            "rh_min": rh_min,
                            "rain_72h_mm": rain72,
                            "rain_days_known": sum(v is not None for v in rain3),
                        },
                    )
                )
            if (
                "ozone" in kinds
                and d.month in th.ozone_months
                and t_max is not None
                and t_max >= th.ozone_tmax
                and rh_day is not None
                and rh_day <= th.ozone_rh_day_max
                and ws_mean is not None
                and ws_mean <= th.ozone_ws_mean_max
                and (tcc is None or tcc <= th.ozone_tcc_day_max)
            ):
                out.append(
                    Advisory(
                        str(loc),
                        "ozone",
                        d,
                        {
                            "t_max": t_max,
                            "rh_day": rh_day,
                            "tcc_day": tcc if tcc is not None else "not evaluated (no cloud cover)",
                            "ws_mean": ws_mean,
                        },
                    )
                )
            rain = _f(r["precip"])
            if (
                "stagnant" in kinds
                and ws_mean is not None
                and ws_mean <= th.stag_ws_mean_max
                and rh_mean is not None
                and rh_mean >= th.stag_rh_mean_min
                and (blh is None or blh <= th.stag_blh_max)
                and rain is not None
                and rain < th.stag_rain_below
            ):
                stagnant_ok[d] = {"ws_mean": ws_mean, "rh_mean": rh_mean, "blh_max": blh, "precip_mm": rain}
        for d, cond in stagnant_ok.items():
            run = 1
            k = 1
            while d - timedelta(days=k) in stagnant_ok:
                run += 1
                k += 1
            k = 1
            while d + timedelta(days=k) in stagnant_ok:
                run += 1
                k += 1
            if run >= th.stag_min_days:
                out.append(Advisory(str(loc), "stagnant", d, cond | {"consecutive_days": run}))
    if wanted is not None:
        out = [a for a in out if a.day in wanted]
    return sorted(out, key=lambda a: (a.location, a.day, KINDS.index(a.kind)))


@dataclass(frozen=True)
class AdvisedMeasure:
    """One advised action (``advisory_measure``): ``target`` is a sector, ``*`` (everyone) or ``public``."""

    kind: str
    target: str
    action_zh: str
    action_en: str
    window: str
    version: str


MEASURE_COLUMNS = ("kind", "target", "action_zh", "action_en", "window", "version")
"""Columns of an advised-measure table (``advisory_measure``, forecast.md §3.8)."""
EVERYONE = ("*", "public")
"""Targets that are not a sector: everyone (``*``) and the public."""
PACKAGED = "bogda/forecast/data/advisory_measures.csv"


class MeasureTableError(ValueError):
    """An advised-measure table that cannot be used, naming file, line and field."""


def read_measures(text: str, source: str) -> tuple[AdvisedMeasure, ...]:
    """Parse and check an advised-measure table (forecast.md §3.8; the packaged defaults or a prefecture's plan).

    Every ``target`` must be a registry sector (:data:`bogda.registry.sites.SECTORS`) or one of :data:`EVERYONE`:
    the service names the area's enterprises by sector, and a sector the registry does not know would silently
    name none. The spec's ozone sectors map onto the registry's (chemicals → ``chemical`` and ``coal_chemical``,
    coking → ``coking``); painting, printing and fuel storage have no registry sector yet, so their measures are
    ``*`` rows whose text names the trades (their enterprises are not listed).

    Raises
    ------
    MeasureTableError
        for a missing column, an unknown kind, a sector the registry does not know, or an empty action, naming
        ``source``, the line and the value.

    >>> head = ",".join(MEASURE_COLUMNS) + "\\n"
    >>> read_measures(head + "ozone,chemical,满负荷运行,Full load,D+0..D+3,1\\n", "plan.csv")[0].target
    'chemical'
    >>> read_measures(head + "ozone,chemicals,满负荷运行,Full load,D+0..D+3,1\\n", "plan.csv")
    Traceback (most recent call last):
    ...
    bogda.forecast.advisories.MeasureTableError: plan.csv:2: sector 'chemicals' of advisory kind 'ozone' is not a ...
    """
    from bogda.registry.sites import SECTORS

    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in MEASURE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise MeasureTableError(f"{source}:1: missing column(s) {', '.join(missing)} (expected {MEASURE_COLUMNS})")
    out = []
    for r in reader:
        line = reader.line_num
        kind, target = (r["kind"] or "").strip(), (r["target"] or "").strip()
        if kind not in KINDS:
            raise MeasureTableError(f"{source}:{line}: kind {kind!r} is not an advisory kind ({', '.join(KINDS)})")
        if target not in EVERYONE and target not in SECTORS:
            raise MeasureTableError(
                f"{source}:{line}: sector {target!r} of advisory kind {kind!r} is not a registry sector "
                f"(registry sectors: {', '.join(SECTORS)}; '*' or 'public' address everyone)"
            )
        if not (r["action_zh"] or "").strip():
            raise MeasureTableError(f"{source}:{line}: empty action_zh")
        out.append(
            AdvisedMeasure(
                kind,
                target,
                r["action_zh"].strip(),
                (r["action_en"] or "").strip(),
                (r["window"] or "").strip(),
                (r["version"] or "").strip(),
            )
        )
    return tuple(out)


@cache
def default_measures() -> tuple[AdvisedMeasure, ...]:
    """The packaged advised-measure table (forecast.md §3.8 defaults, d), checked by :func:`read_measures`."""
    text = (resources.files("bogda.forecast") / "data" / "advisory_measures.csv").read_text(encoding="utf-8")
    return read_measures(text, PACKAGED)


def measures_for(kind: str, table: Sequence[AdvisedMeasure] | None = None) -> list[AdvisedMeasure]:
    """Advised measures of one kind.

    >>> len(measures_for("dust")) >= 4, {m.target for m in measures_for("ozone")} >= {"chemical", "coking"}
    (True, True)
    """
    return [m for m in (table if table is not None else default_measures()) if m.kind == kind]


def verify_advisories(advised: Sequence[tuple[str, date]], observed: Sequence[tuple[str, date]]) -> dict[str, Any]:
    """TS, POD, FAR of advisory days against observed event days (forecast.md §3.8: tune on local backtests).

    >>> verify_advisories([("X", date(2026, 1, 1)), ("X", date(2026, 1, 2))], [("X", date(2026, 1, 2))])
    {'hits': 1, 'false_alarms': 1, 'misses': 0, 'ts': 0.5, 'pod': 1.0, 'far': 0.5}
    """
    a, o = set(advised), set(observed)
    hits, fa, miss = len(a & o), len(a - o), len(o - a)

    def div(x: int, y: int) -> float | None:
        return None if y == 0 else round(x / y, 6)

    return {
        "hits": hits,
        "false_alarms": fa,
        "misses": miss,
        "ts": div(hits, hits + fa + miss),
        "pod": div(hits, hits + miss),
        "far": div(fa, hits + fa),
    }
