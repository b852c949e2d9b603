"""Air-quality figures for the bulletin and the duty report, from the monitoring assessments.

The assessments are :func:`bogda.monitoring.assessment.assess` over the stored daily AQI rows (``aqi_daily``) of the
prefecture and its counties, dust days excluded (扣除沙尘, governance.md §3.8). Each figure names its query (target,
days, metric, dust mode) and the day rows behind it (``aqi_daily:<kind>:<code>:<date>``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import select

from bogda.ledger.figures import Figure
from bogda.ledger.period import Period
from bogda.monitoring.assessment import assess, rankings, read_daily, read_dust
from bogda.store import Store
from bogda.store.schema import place

DUST_MODE = "dust_excluded"
POLLUTANTS = (
    # metric, label, unit, decimals (concentrations integer, CO 1 dp: governance §3.9)
    ("mean_so2", "SO₂平均浓度", "μg/m³", 0),
    ("mean_no2", "NO₂平均浓度", "μg/m³", 0),
    ("mean_pm10", "PM₁₀平均浓度", "μg/m³", 0),
    ("mean_pm25", "PM₂.₅平均浓度", "μg/m³", 0),
    ("mean_co", "CO日均值平均浓度", "mg/m³", 1),
    ("p95_co", "CO日均值第95百分位数", "mg/m³", 1),
    ("mean_o3_8h", "O₃日最大8小时平均浓度", "μg/m³", 0),
    ("p90_o3_8h", "O₃日最大8小时第90百分位数", "μg/m³", 0),
)
PRIMARY_NAMES = {"PM2.5": "PM₂.₅", "PM10": "PM₁₀", "O3_8h": "O₃", "O3": "O₃", "NO2": "NO₂", "SO2": "SO₂", "CO": "CO"}


@dataclass
class Areas:
    prefecture: tuple[str, str]
    counties: list[tuple[str, str]]


def areas(store: Store) -> Areas:
    """The prefecture (code, name) and its counties from the place registry (codes only when not registered)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(place.c.id, place.c.code, place.c.name, place.c.kind, place.c.parent_id)).all()
    prefs = [r for r in rows if r.kind == "prefecture"]
    if prefs:
        p = prefs[0]
        counties = sorted((r.code, r.name) for r in rows if r.kind == "county" and r.parent_id == p.id)
        return Areas((p.code, p.name), counties)
    with store.engine.connect() as conn:
        from bogda.store.schema import aqi_daily

        codes = conn.execute(select(aqi_daily.c.target_kind, aqi_daily.c.target_code).distinct()).all()
    pref = next((c for k, c in codes if k == "prefecture"), "")
    return Areas((pref, pref), sorted((c, c) for k, c in codes if k == "county"))


@dataclass
class AirPeriod:
    """Assessment of one period: long metrics, rankings and the daily rows behind them."""

    period: Period
    metrics: pl.DataFrame
    ranks: pl.DataFrame
    daily: pl.DataFrame
    areas: Areas

    def value(self, code: str, metric: str) -> float | None:
        if self.metrics.height == 0:
            return None
        m = self.metrics.filter(
            (pl.col("target_code") == code) & (pl.col("metric") == metric) & (pl.col("dust_mode") == DUST_MODE)
        )
        if m.height == 0:
            return None
        v = m["value"][0]
        return None if v is None or v != v else float(v)

    def day_refs(self, code: str) -> tuple[str, ...]:
        if self.daily.height == 0:
            return ()
        d = self.daily.filter(pl.col("target_code") == code).sort("date")
        return tuple(f"aqi_daily:{k}:{c}:{dt}" for k, c, dt in d.select("target_kind", "target_code", "date").rows())

    def days(self, code: str) -> pl.DataFrame:
        return self.daily.filter(pl.col("target_code") == code).sort("date")


def assess_period(store: Store, period: Period, kind: str) -> AirPeriod:
    """Assess ``period`` (``kind`` month or year) for the prefecture and its counties."""
    ar = areas(store)
    codes = [ar.prefecture[0], *(c for c, _ in ar.counties)]
    daily = read_daily(store, start=period.start, end=period.end, kinds=("prefecture", "county"), codes=codes)
    if daily.height == 0:
        return AirPeriod(period, pl.DataFrame(), pl.DataFrame(), daily, ar)
    anc = {c: [ar.prefecture[0]] for c, _ in ar.counties}
    metrics = assess(daily, period=kind, dust=read_dust(store, start=period.first, end=period.last), ancestors=anc)
    return AirPeriod(period, metrics, rankings(metrics), daily, ar)


def _q(ap: AirPeriod, code: str, name: str, what: str) -> str:
    return f"空气质量评价：{name}（{code}）{ap.period.words}逐日AQI（aqi_daily，HJ 633），扣除沙尘影响，{what}"


def fig(ap: AirPeriod, key: str, label: str, code: str, name: str, metric: str, unit: str, dp: int) -> Figure:
    """One assessment metric of ``code`` as a figure with its day rows."""
    v = ap.value(code, metric)
    return Figure(
        key,
        label,
        None if v is None else Decimal(str(v)),
        unit,
        dp,
        _q(ap, code, name, f"指标 {metric}"),
        ap.day_refs(code),
        rounding="half_even" if metric.startswith(("mean_", "p9")) else "half_up",
    )


def change(now: float | None, before: float | None) -> Decimal | None:
    """Relative change [%] (governance §3.8: ΔI = (I − I_last)/I_last × 100 %, negative = better)."""
    if now is None or before is None or before == 0:
        return None
    return (Decimal(str(now)) - Decimal(str(before))) * 100 / Decimal(str(before))


def primary_days(ap: AirPeriod, code: str) -> list[tuple[str, int]]:
    """Days each pollutant was primary (a day with two primary pollutants counts for both)."""
    c: Counter[str] = Counter()
    for p in ap.days(code)["primary_pollutant"].to_list():
        for item in (p or "").split(","):
            if item:
                c[PRIMARY_NAMES.get(item, item)] += 1
    return c.most_common()


def air_figures(now: AirPeriod, before: AirPeriod, prefix: str) -> dict[str, Any]:
    """The prefecture's headline figures of ``now`` with the change against ``before``."""
    code, name = now.areas.prefecture
    out: dict[str, Figure] = {}
    for metric, label, unit in (
        ("valid_days", "有效监测天数", "天"),
        ("good_days", "优良天数", "天"),
        ("days_level_1", "优级天数", "天"),
        ("days_level_2", "良级天数", "天"),
        ("heavy_days", "重污染天数", "天"),
    ):
        out[f"{prefix}.{metric}"] = fig(now, f"{prefix}.{metric}", label, code, name, metric, unit, 0)
    out[f"{prefix}.good_day_ratio"] = fig(
        now, f"{prefix}.good_day_ratio", "优良天数比例", code, name, "good_day_ratio", "%", 1
    )
    out[f"{prefix}.composite_index"] = fig(
        now, f"{prefix}.composite_index", "环境空气质量综合指数", code, name, "composite_index", "", 2
    )
    for metric, label, unit, dp in POLLUTANTS:
        out[f"{prefix}.{metric}"] = fig(now, f"{prefix}.{metric}", label, code, name, metric, unit, dp)
    ci = change(now.value(code, "composite_index"), before.value(code, "composite_index"))
    out[f"{prefix}.composite_change"] = Figure(
        f"{prefix}.composite_change",
        "综合指数同比变化",
        ci,
        "%",
        1,
        _q(now, code, name, f"综合指数，与{before.period.words}同比：(I−I上年)/I上年"),
        now.day_refs(code) + before.day_refs(code),
    )
    g_now, g_before = now.value(code, "good_days"), before.value(code, "good_days")
    out[f"{prefix}.good_days_change"] = Figure(
        f"{prefix}.good_days_change",
        "优良天数同比增减",
        None if g_now is None or g_before is None else int(g_now - g_before),
        "天",
        0,
        _q(now, code, name, f"优良天数，与{before.period.words}之差"),
        now.day_refs(code) + before.day_refs(code),
    )
    r_now, r_before = now.value(code, "mean_pm25"), before.value(code, "mean_pm25")
    out[f"{prefix}.pm25_change"] = Figure(
        f"{prefix}.pm25_change",
        "PM₂.₅浓度同比变化",
        change(r_now, r_before),
        "%",
        1,
        _q(now, code, name, f"PM₂.₅平均浓度，与{before.period.words}同比"),
        now.day_refs(code) + before.day_refs(code),
    )
    gr_now, gr_before = now.value(code, "good_day_ratio"), before.value(code, "good_day_ratio")
    out[f"{prefix}.good_ratio_change"] = Figure(
        f"{prefix}.good_ratio_change",
        "优良天数比例同比变化（百分点）",
        None if gr_now is None or gr_before is None else Decimal(str(gr_now)) - Decimal(str(gr_before)),
        "个百分点",
        1,
        _q(now, code, name, f"优良天数比例之差，与{before.period.words}比"),
        now.day_refs(code) + before.day_refs(code),
    )
    return out


def county_rows(now: AirPeriod, before: AirPeriod) -> list[dict[str, Any]]:
    """Counties ranked by composite index (ascending, ties share a rank), with good-day ratio, PM2.5 and ΔI."""
    rows = []
    ranks = {}
    if now.ranks.height:
        r = now.ranks.filter(pl.col("dust_mode") == DUST_MODE)
        ranks = {c: (rk, rg) for c, rk, rg in r.select("target_code", "rank_composite", "rank_good_day_ratio").rows()}
    for code, name in now.areas.counties:
        ci = now.value(code, "composite_index")
        rows.append(
            {
                "code": code,
                "name": name,
                "composite_index": ci,
                "rank": ranks.get(code, (None, None))[0],
                "good_day_ratio": now.value(code, "good_day_ratio"),
                "rank_good": ranks.get(code, (None, None))[1],
                "pm25": now.value(code, "mean_pm25"),
                "change": change(ci, before.value(code, "composite_index")),
                "refs": now.day_refs(code),
            }
        )
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))
