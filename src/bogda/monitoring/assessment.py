"""Assessments (monitoring.md §3.6; governance.md §3.8): day counts, means, percentiles, composite index, rankings.

Pure core over the daily AQI rows of :mod:`bogda.monitoring.aqi_tables` (``target_kind, target_code, ts, aqi,
level, status, c_*``), station → county → prefecture alike (area rows are computed from area hourly series, never
from averaged station figures). Output is long: one row per (target, period, dust mode, metric) with ``value``,
``numerator`` and ``denominator``.

Definitions
-----------
* ``valid_days`` — days with a complete daily AQI (status ``complete``, or ``publishable`` under 2026);
  ``good_days`` AQI ≤ 100; ``good_day_ratio`` = good / valid × 100 [%]; ``days_level_1..6``; ``heavy_days``
  AQI > 200, ``severe_days`` AQI > 300, ``heavy_day_ratio``.
* ``mean_<item>`` (SO2, NO2, PM10, PM2.5) of the valid daily means; ``p98_so2``, ``p98_no2``, ``p95_pm10``,
  ``p95_pm25``, ``p95_co`` (24 h), ``p90_o3_8h`` (daily max 8 h); also ``mean_co`` and ``mean_o3_8h`` for the
  bulletin. ``numerator`` = number of daily values, ``denominator`` = the GB 3095 minimum (27 a month, February
  25, 324 a year): a statistic with numerator < denominator is *insufficient* (still shown, flagged).
  Statistics via :func:`bogda.standards.evaluation.period_statistics` (GB/T 8170 rounding).
* ``composite_index`` and ``index_<code>`` (:func:`bogda.standards.composite.composite_from_statistics`), scheme
  by period end (``limits_version`` 2012 before 2026-03-01, else 2026).
* ``dust_mode``: ``with_dust`` and ``dust_excluded`` — official dust days drop their PM10/PM2.5 values and leave
  the good-day numerator and denominator (governance.md §3.8); candidate days are shown, not excluded (d).
* Rankings (:func:`rankings`): composite index ascending; good-day ratio descending; equal values tie (1-2-2-4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from bogda.standards.composite import composite_from_statistics, rank
from bogda.standards.evaluation import MIN_DAYS_FEBRUARY, MIN_DAYS_MONTH, MIN_DAYS_YEAR, period_statistics
from bogda.store import Store
from bogda.timeutil import BEIJING_NAME

PERIODS = ("day", "month", "quarter", "year", "custom")
DUST_MODES = ("with_dust", "dust_excluded")
SWITCH = date(2026, 3, 1)

_STAT_NAME = {
    ("a21026", "mean"): "mean_so2",
    ("a21004", "mean"): "mean_no2",
    ("a34002", "mean"): "mean_pm10",
    ("a34004", "mean"): "mean_pm25",
    ("a21026", "percentile"): "p98_so2",
    ("a21004", "percentile"): "p98_no2",
    ("a34002", "percentile"): "p95_pm10",
    ("a34004", "percentile"): "p95_pm25",
    ("a21005", "percentile"): "p95_co",
    ("O3_8h", "percentile"): "p90_o3_8h",
}
_DAILY_COL = {
    "c_so2": "a21026",
    "c_no2": "a21004",
    "c_co": "a21005",
    "c_pm10": "a34002",
    "c_pm25": "a34004",
    "c_o3_8h": "O3_8h",
}
METRICS = (
    "valid_days",
    "good_days",
    "good_day_ratio",
    *[f"days_level_{i}" for i in range(1, 7)],
    "heavy_days",
    "severe_days",
    "heavy_day_ratio",
    *_STAT_NAME.values(),
    "mean_co",
    "mean_o3_8h",
    "composite_index",
)


def limits_version(period_end: date) -> str:
    """Limits / composite scheme by the period's last day (governance.md §3.8)."""
    return "2026" if period_end >= SWITCH else "2012"


def with_dates(daily: pl.DataFrame) -> pl.DataFrame:
    """Add the Beijing ``date`` of each daily row (``ts`` = 00:00 Beijing as aware UTC or Unix seconds)."""
    ts = pl.col("ts")
    if daily.schema["ts"].is_integer():
        ts = pl.from_epoch("ts", "s").dt.replace_time_zone("UTC")
    return daily.with_columns(ts.dt.convert_time_zone(BEIJING_NAME).dt.date().alias("date"))


def _period_key(period: str) -> pl.Expr:
    d = pl.col("date")
    if period == "day":
        return d.dt.strftime("%Y-%m-%d")
    if period == "month":
        return d.dt.strftime("%Y-%m")
    if period == "quarter":
        return pl.format("{}Q{}", d.dt.year(), d.dt.quarter())
    if period == "year":
        return d.dt.year().cast(pl.String)
    raise ValueError(f"period must be one of {PERIODS}, not {period!r}")


def _min_days(period: str, key: str) -> int | None:
    if period == "year":
        return MIN_DAYS_YEAR
    if period == "month":
        return MIN_DAYS_FEBRUARY if key.endswith("-02") else MIN_DAYS_MONTH
    return None


def dust_flags(
    daily: pl.DataFrame, dust: pl.DataFrame | None, ancestors: Mapping[str, Iterable[str]] | None = None
) -> pl.DataFrame:
    """Add ``dust_affected`` (official dust day of the target or of an area containing it) and ``dust_candidate``.

    ``dust``: ``place_code, day, status`` (official | candidate); ``ancestors``: target code → codes of the areas
    containing it (its county, its prefecture).
    """
    if dust is None or dust.height == 0:
        return daily.with_columns(pl.lit(False).alias("dust_affected"), pl.lit(False).alias("dust_candidate"))
    pairs = [(t, t) for t in daily["target_code"].unique().to_list()]
    for t, codes in (ancestors or {}).items():
        pairs += [(t, c) for c in codes]
    amap = pl.DataFrame(pairs, schema={"target_code": pl.String, "place_code": pl.String}, orient="row").unique()
    hits = (
        amap.join(dust.select("place_code", pl.col("day").alias("date"), "status"), on="place_code")
        .group_by("target_code", "date")
        .agg(
            (pl.col("status") == "official").any().alias("dust_affected"),
            (pl.col("status") == "candidate").any().alias("dust_candidate"),
        )
    )
    return daily.join(hits, on=["target_code", "date"], how="left").with_columns(
        pl.col("dust_affected").fill_null(False), pl.col("dust_candidate").fill_null(False)
    )


def _long(frame: pl.DataFrame, metrics: Sequence[str], num: str | None = None, den: str | None = None) -> pl.DataFrame:
    parts = []
    for m in metrics:
        parts.append(
            frame.select(
                "target_kind",
                "target_code",
                "period",
                pl.lit(m).alias("metric"),
                pl.col(m).cast(pl.Float64).alias("value"),
                (pl.col(num).cast(pl.Float64) if num else pl.lit(None, pl.Float64)).alias("numerator"),
                (pl.col(den).cast(pl.Float64) if den else pl.lit(None, pl.Float64)).alias("denominator"),
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame()


def assess(
    daily: pl.DataFrame,
    *,
    period: str = "month",
    dust: pl.DataFrame | None = None,
    ancestors: Mapping[str, Iterable[str]] | None = None,
    dust_modes: Sequence[str] = DUST_MODES,
    custom: tuple[date, date] | None = None,
) -> pl.DataFrame:
    """Assessment metrics of every target and period (see the module docstring for the definitions).

    Parameters
    ----------
    daily : pl.DataFrame
        Daily AQI rows (``target_kind, target_code, ts, aqi, status, c_so2 … c_o3_8h``).
    period : {"day", "month", "quarter", "year", "custom"}
    custom : (first, last) dates, for ``period="custom"`` (inclusive).

    Returns
    -------
    pl.DataFrame
        ``target_kind, target_code, period, dust_mode, metric, value, numerator, denominator, limits_version``.
    """
    d = with_dates(daily) if "date" not in daily.columns else daily
    if period == "custom":
        if custom is None:
            raise ValueError("period 'custom' needs custom=(first, last)")
        d = d.filter(pl.col("date").is_between(custom[0], custom[1])).with_columns(
            pl.lit(f"custom:{custom[0]}..{custom[1]}").alias("period")
        )
    else:
        d = d.with_columns(_period_key(period).alias("period"))
    if "dust_affected" not in d.columns:
        d = dust_flags(d, dust, ancestors)
    out = []
    for mode in dust_modes:
        if mode not in DUST_MODES:
            raise ValueError(f"dust mode must be one of {DUST_MODES}, not {mode!r}")
        out.append(_assess_mode(d, period, mode).with_columns(pl.lit(mode).alias("dust_mode")))
    res = pl.concat(out)
    ends = d.group_by("period").agg(pl.col("date").max().alias("_end"))
    res = res.join(ends, on="period", how="left").with_columns(
        pl.col("_end").map_elements(limits_version, return_dtype=pl.String).alias("limits_version")
    )
    return res.select(
        "target_kind",
        "target_code",
        "period",
        "dust_mode",
        "metric",
        "value",
        "numerator",
        "denominator",
        "limits_version",
    ).sort("target_kind", "target_code", "period", "dust_mode", "metric")


def _assess_mode(d: pl.DataFrame, period: str, mode: str) -> pl.DataFrame:
    excluded = pl.col("dust_affected") if mode == "dust_excluded" else pl.lit(False)
    complete = pl.col("status").is_in(["complete", "publishable"]) & pl.col("aqi").is_not_null()
    counted = d.filter(complete & ~excluded)
    days = (
        counted.group_by("target_kind", "target_code", "period")
        .agg(
            pl.len().alias("valid_days"),
            (pl.col("aqi") <= 100).sum().alias("good_days"),
            (pl.col("aqi") > 200).sum().alias("heavy_days"),
            (pl.col("aqi") > 300).sum().alias("severe_days"),
            *[(pl.col("level") == lv).sum().alias(f"days_level_{lv}") for lv in range(1, 7)],
        )
        .with_columns(
            (pl.col("good_days") / pl.col("valid_days") * 100).alias("good_day_ratio"),
            (pl.col("heavy_days") / pl.col("valid_days") * 100).alias("heavy_day_ratio"),
        )
    )
    counts = _long(days, ["valid_days", *[f"days_level_{i}" for i in range(1, 7)], "heavy_days", "severe_days"])
    ratios = pl.concat(
        [
            _long(days, ["good_day_ratio"], "good_days", "valid_days"),
            _long(days, ["heavy_day_ratio"], "heavy_days", "valid_days"),
            _long(days, ["good_days"], "good_days", "valid_days"),
        ]
    )
    # concentration statistics: dust days drop PM values in dust_excluded mode
    wide = d.select(
        pl.concat_str("target_kind", pl.lit("|"), "target_code").alias("site"),
        "period",
        "date",
        "dust_affected",
        *[pl.col(c).alias(k) for c, k in _DAILY_COL.items()],
    )
    stats_parts = []
    for key, part in wide.partition_by("period", as_dict=True).items():
        st = period_statistics(
            part.drop("period"), period="all", dust_deducted=mode == "dust_excluded", dust="dust_affected"
        )
        if st.height:
            stats_parts.append(st.with_columns(pl.lit(key[0]).alias("period")))
    if not stats_parts:
        return pl.concat([counts, ratios])
    stats = pl.concat(stats_parts, how="diagonal_relaxed")
    means = (
        wide.with_columns(
            pl.when(pl.col("dust_affected") & pl.lit(mode == "dust_excluded"))
            .then(None)
            .otherwise(pl.col("a34002"))
            .alias("a34002")
        )
        .group_by("site", "period")
        .agg(
            pl.col("a21005").mean().alias("mean_co"),
            pl.col("O3_8h").mean().alias("mean_o3_8h"),
            pl.col("a21005").count().alias("n_co"),
            pl.col("O3_8h").count().alias("n_o3"),
        )
    )
    rows = []
    for (param, stat), name in _STAT_NAME.items():
        part = stats.filter(pl.col("parameter") == param).select(
            "site", "period", pl.col(stat).alias("value"), pl.col("n_days").alias("numerator")
        )
        rows.append(part.with_columns(pl.lit(name).alias("metric")))
    for name, n in (("mean_co", "n_co"), ("mean_o3_8h", "n_o3")):
        dec = 1 if name == "mean_co" else 0
        rows.append(
            means.select(
                "site", "period", pl.col(name).round(dec).alias("value"), pl.col(n).alias("numerator")
            ).with_columns(pl.lit(name).alias("metric"))
        )
    st_long = pl.concat([r.with_columns(pl.col("numerator").cast(pl.Float64)) for r in rows])
    mins = (
        st_long.select("period")
        .unique()
        .with_columns(
            pl.col("period").map_elements(lambda k: _min_days(period, k), return_dtype=pl.Int64).alias("denominator")
        )
    )
    st_long = st_long.join(mins, on="period", how="left").with_columns(pl.col("denominator").cast(pl.Float64))
    # composite index (needs all six statistics)
    comp_parts = []
    ends = d.group_by("period").agg(pl.col("date").max().alias("_end"))
    for key, part in stats.partition_by("period", as_dict=True).items():
        end = ends.filter(pl.col("period") == key[0])["_end"][0]
        full = part.group_by("site").agg(pl.col("parameter").n_unique().alias("_n")).filter(pl.col("_n") >= 6)
        sub = part.join(full.select("site"), on="site")
        if sub.height:
            ci = composite_from_statistics(
                sub.select("site", "period", "parameter", "mean", "percentile"), limits_version(end)
            )
            comp_parts.append(
                ci.select("site", "period", pl.col("composite_index").alias("value")).with_columns(
                    pl.lit("composite_index").alias("metric")
                )
            )
    if comp_parts:
        st_long = pl.concat(
            [
                st_long,
                pl.concat(comp_parts).with_columns(
                    pl.lit(None, pl.Float64).alias("numerator"), pl.lit(None, pl.Float64).alias("denominator")
                ),
            ],
            how="diagonal_relaxed",
        )
    st_long = st_long.with_columns(
        pl.col("site").str.split_exact("|", 1).struct.rename_fields(["target_kind", "target_code"]).alias("_t")
    ).unnest("_t")
    st_long = st_long.select("target_kind", "target_code", "period", "metric", "value", "numerator", "denominator")
    return pl.concat([counts, ratios, st_long], how="diagonal_relaxed")


def rankings(metrics: pl.DataFrame, *, kind: str = "county") -> pl.DataFrame:
    """Rank the targets of ``kind`` per period and dust mode: ``rank_composite`` (ascending index, on the value
    rounded to 2 dp) and ``rank_good_day_ratio`` (descending, on the ratio rounded to 1 dp); ties share a rank.

    Returns ``target_code, period, dust_mode, composite_index, rank_composite, good_day_ratio,
    rank_good_day_ratio``.
    """
    sub = metrics.filter(
        (pl.col("target_kind") == kind) & pl.col("metric").is_in(["composite_index", "good_day_ratio"])
    )
    if sub.height == 0:
        return pl.DataFrame()
    wide = sub.pivot(on="metric", index=["target_code", "period", "dust_mode"], values="value")
    for m in ("composite_index", "good_day_ratio"):
        if m not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(m))
    out = []
    for _, part in wide.partition_by(["period", "dust_mode"], as_dict=True).items():
        ci = part["composite_index"].round(2).fill_null(np.nan).to_numpy()
        gr = part["good_day_ratio"].round(1).fill_null(np.nan).to_numpy()
        out.append(
            part.with_columns(
                pl.Series("rank_composite", rank(ci), dtype=pl.Int64),
                pl.Series("rank_good_day_ratio", rank(gr, ascending=False), dtype=pl.Int64),
            )
        )
    return (
        pl.concat(out)
        .select(
            "target_code",
            "period",
            "dust_mode",
            "composite_index",
            "rank_composite",
            "good_day_ratio",
            "rank_good_day_ratio",
        )
        .sort("period", "dust_mode", "rank_composite")
    )


# --- service ---------------------------------------------------------------------------------------------------


def read_daily(
    store: Store,
    *,
    start: datetime,
    end: datetime,
    kinds: Sequence[str] | None = None,
    codes: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Daily AQI rows of [start, end) from ``aqi_daily``."""
    from sqlalchemy import select

    from bogda.store.schema import aqi_daily as T
    from bogda.timeutil import epoch_seconds

    q = select(T).where(T.c.ts >= epoch_seconds(start), T.c.ts < epoch_seconds(end))
    if kinds:
        q = q.where(T.c.target_kind.in_(list(kinds)))
    if codes:
        q = q.where(T.c.target_code.in_(list(codes)))
    with store.engine.connect() as conn:
        # compiled once, fetched through the driver: the rows are plain numbers and text
        compiled = q.compile(conn, compile_kwargs={"literal_binds": True})
        cur = conn.exec_driver_sql(str(compiled))
        rows = cur.fetchall()
        cols = list(cur.keys())
    from bogda.monitoring.aqi_tables import empty_rows

    schema = {c: t for c, t in empty_rows().schema.items()}
    schema["ts"] = pl.Int64()
    frame = pl.DataFrame(rows, schema={c: schema[c] for c in cols}, orient="row")
    return with_dates(frame)


def read_dust(store: Store, *, start: date | None = None, end: date | None = None) -> pl.DataFrame:
    """``place_code, day, status`` of the dust days."""
    from sqlalchemy import select

    from bogda.store.schema import dust_day

    q = select(dust_day.c.place_code, dust_day.c.day, dust_day.c.status)
    if start:
        q = q.where(dust_day.c.day >= start)
    if end:
        q = q.where(dust_day.c.day <= end)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return pl.DataFrame(rows, schema={"place_code": pl.String, "day": pl.Date, "status": pl.String}, orient="row")


def assess_store(
    store: Store,
    *,
    start: datetime,
    end: datetime,
    period: str = "month",
    write: bool = True,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Assess every station and area over [start, end) from ``aqi_daily`` and (optionally) store the result
    (rows of the same targets, periods and modes are replaced; ranks of counties filled in)."""
    from sqlalchemy import delete

    from bogda.monitoring.stations import area_members, place_tree
    from bogda.store.schema import assessment
    from bogda.timeutil import beijing_date, now_utc

    daily = read_daily(store, start=start, end=end)
    members = area_members(store)
    anc: dict[str, list[str]] = {}
    for code, area in members.select("code", "area_code").iter_rows():
        anc.setdefault(code, []).append(area)
    # areas inherit the dust days of the places above them (a prefecture-wide day covers its counties and parks)
    tree = place_tree(store)
    parent = dict(zip(tree["place_id"].to_list(), tree["parent_id"].to_list(), strict=True))
    code_of = dict(zip(tree["place_id"].to_list(), tree["code"].to_list(), strict=True))
    for pid, code in code_of.items():
        cur, seen = parent.get(pid), {pid}
        while cur is not None and cur not in seen:
            seen.add(cur)
            anc.setdefault(code, []).append(code_of[cur])
            cur = parent.get(cur)
    custom = (beijing_date(start), beijing_date(end - timedelta(seconds=1))) if period == "custom" else None
    res = assess(daily, period=period, dust=read_dust(store), ancestors=anc, custom=custom)
    ranks = rankings(res)
    if ranks.height:
        r = ranks.select(
            pl.lit("county").alias("target_kind"),
            "target_code",
            "period",
            "dust_mode",
            pl.lit("composite_index").alias("metric"),
            pl.col("rank_composite").alias("rank"),
        )
        r2 = ranks.select(
            pl.lit("county").alias("target_kind"),
            "target_code",
            "period",
            "dust_mode",
            pl.lit("good_day_ratio").alias("metric"),
            pl.col("rank_good_day_ratio").alias("rank"),
        )
        res = res.join(
            pl.concat([r, r2]), on=["target_kind", "target_code", "period", "dust_mode", "metric"], how="left"
        )
    else:
        res = res.with_columns(pl.lit(None, pl.Int64).alias("rank"))
    if write and res.height:
        stamp = now or now_utc()
        with store.begin() as conn:
            for p in res["period"].unique().to_list():
                conn.execute(delete(assessment).where(assessment.c.period == p))
            recs = res.with_columns(pl.col("value").fill_nan(None))
            cols = [
                "target_kind",
                "target_code",
                "period",
                "dust_mode",
                "metric",
                "value",
                "numerator",
                "denominator",
                "rank",
                "limits_version",
            ]
            if store.dialect == "sqlite":
                # raw executemany: per-row parameter processing of 10⁴-10⁵ figures costs seconds
                when = stamp.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
                marks = ",".join("?" * (len(cols) + 1))
                conn.connection.driver_connection.executemany(
                    f"INSERT INTO assessment ({','.join(cols)}, computed_at) VALUES ({marks})",
                    [(*r, when) for r in recs.select(cols).iter_rows()],
                )
            else:
                conn.execute(assessment.insert(), recs.with_columns(pl.lit(stamp).alias("computed_at")).to_dicts())
    return res


__all__ = [
    "DUST_MODES",
    "METRICS",
    "PERIODS",
    "assess",
    "assess_store",
    "dust_flags",
    "limits_version",
    "rankings",
    "read_daily",
    "read_dust",
    "with_dates",
]
