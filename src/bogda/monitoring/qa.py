"""QA of station values, completeness (有效率) and offline detection (monitoring.md §3.1, §3.2).

Pure functions over the long frame of :mod:`bogda.monitoring.ingest` (``site_code, ts, parameter, value,
resolution, unit, source_flag``). Values are **flagged, never deleted**.

Flag vocabulary (column ``flag``)
---------------------------------
==============  ===============================================================================================
``valid``       no rule fired and the source flag is normal (HJ 212 ``N``; 2005 air station ``3``) or absent
``suspect``     counted in statistics unless ``suspect_policy = "exclude"``; a person may confirm or override
``invalid``     leaves all statistics
``maintenance`` source flag ``M`` / ``C`` (2005 air ``0``): leaves statistics, completeness reason ``maintenance``
==============  ===============================================================================================

When several apply the order is maintenance > invalid > suspect > valid. ``qa_reason`` lists every rule that fired,
comma-separated in the order of :data:`RULES` (null when none).

Rules (thresholds in :class:`QAConfig`, defaults from monitoring.md §3.1; units µg/m³, CO mg/m³)
-----------------------------------------------------------------------------------------------
``negative`` value < 0 → invalid · ``out_of_range`` above the analyser range → invalid · ``high_review`` above the
review level → suspect · ``at_ceiling`` equal to an instrument ceiling or source flag ``T`` → suspect (a lower
bound) · ``flat`` ≥ 8 consecutive hours of one value above a floor (ceiling values excluded) → suspect · ``stuck``
such a run ≥ 24 h → invalid · ``stale_record`` all six pollutants equal to the previous hour's → the first repeat
suspect, from the second consecutive repeat invalid · ``spike`` both neighbouring hours present,
v − max(neighbours) > A and v > 3·max(neighbours) → suspect (provisional until hour t+1 arrives) · ``pm_ratio``
PM2.5 − PM10 > max(10, 0.1·PM10) → both suspect · ``source_flag_X`` any other HJ 212 flag (F, D, S, B, P, 2005
air ``1``/``2`` …) → invalid.

Value rules apply to the parameters of ``QAConfig.out_of_range`` at any resolution; the time-series rules (flat,
stuck, stale_record, spike) to hourly values only. Other parameters (published AQI, rolling means, weather) get
only their source flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import polars as pl

from bogda.monitoring.ingest import POLLUTANTS, TS_DTYPE
from bogda.timeutil import as_utc, beijing_day_column

FLAGS: tuple[str, ...] = ("valid", "suspect", "invalid", "maintenance")
"""The ``flag`` vocabulary."""

RULES: tuple[str, ...] = (
    "source_flag",
    "negative",
    "out_of_range",
    "high_review",
    "at_ceiling",
    "flat",
    "stuck",
    "stale_record",
    "spike",
    "pm_ratio",
)
"""Rule names as they appear in ``qa_reason`` (``source_flag`` appears as ``source_flag_<flag>``)."""

GAP_REASONS: tuple[str, ...] = ("no_data", "feed_gap", "invalid", "maintenance")
"""Why an expected hour is not valid (monitoring.md §3.2)."""

SOURCE_NORMAL: frozenset[str] = frozenset({"N", "3"})
SOURCE_MAINTENANCE: frozenset[str] = frozenset({"M", "C", "0"})
SOURCE_CEILING: frozenset[str] = frozenset({"T"})

_HOUR = timedelta(hours=1)


def _per_pollutant(pm25: float, pm10: float, so2: float, no2: float, o3: float, co: float) -> dict[str, float]:
    return dict(zip(POLLUTANTS, (pm25, pm10, so2, no2, o3, co), strict=True))


@dataclass(frozen=True)
class QAConfig:
    """QA, completeness and offline thresholds; every default is monitoring.md §3.1–3.2 "(d)".

    Attributes
    ----------
    out_of_range : mapping parameter → float
        Analyser range [µg/m³, CO mg/m³]; above it → invalid. Its keys are the parameters the value rules apply to.
    high_review : mapping parameter → float
        Review level; above it → suspect (chosen so that real Xinjiang dust stays valid, §7.6).
    ceilings : mapping parameter → tuple of float
        Instrument ceilings; a value equal to one is suspect, a lower bound. None for CO.
    flat_hours, stuck_hours : int
        Run length [h] of one repeated value that is suspect (flat) / invalid (stuck).
    flat_floor : mapping parameter → float
        Runs only count above this value (low clean-air values legitimately repeat).
    spike_abs, spike_factor
        A spike rises more than ``spike_abs`` above and more than ``spike_factor`` times its larger neighbour.
    pm_ratio_abs, pm_ratio_rel
        PM2.5 − PM10 above ``max(pm_ratio_abs, pm_ratio_rel · PM10)`` flags both.
    stale_parameters : tuple of str
        The record compared hour to hour by ``stale_record``.
    suspect_policy : {"include", "exclude"}
        Whether suspect values count as valid in completeness and statistics.
    offline_hours : float
        A station with no value for longer than this [h] while the feed delivers others is ``offline``.
    feed_down_hours : float
        The whole feed silent this long [h] → every station ``unknown`` (one ``feed_down`` event, no station alarms).
    completeness_parameters : tuple of str
        Pollutants of the station completeness figure (mean of their rates).
    """

    out_of_range: Mapping[str, float] = field(
        default_factory=lambda: _per_pollutant(5000, 10000, 5000, 2000, 2000, 150)
    )
    high_review: Mapping[str, float] = field(default_factory=lambda: _per_pollutant(1000, 3000, 1000, 500, 600, 30))
    ceilings: Mapping[str, tuple[float, ...]] = field(
        default_factory=lambda: {p: (999.0, 1000.0, 2000.0, 5000.0, 10000.0) for p in POLLUTANTS if p != "a21005"}
    )
    flat_hours: int = 8
    stuck_hours: int = 24
    flat_floor: Mapping[str, float] = field(default_factory=lambda: _per_pollutant(10, 20, 10, 10, 20, 1.0))
    spike_abs: Mapping[str, float] = field(default_factory=lambda: _per_pollutant(100, 200, 100, 100, 100, 3))
    spike_factor: float = 3.0
    pm_ratio_abs: float = 10.0
    pm_ratio_rel: float = 0.1
    stale_parameters: tuple[str, ...] = POLLUTANTS
    suspect_policy: str = "include"
    offline_hours: float = 3.0
    feed_down_hours: float = 2.0
    completeness_parameters: tuple[str, ...] = POLLUTANTS

    def __post_init__(self) -> None:
        if self.suspect_policy not in ("include", "exclude"):
            raise ValueError(f"suspect_policy must be 'include' or 'exclude', not {self.suspect_policy!r}")
        if not 1 <= self.flat_hours <= self.stuck_hours:
            raise ValueError("need 1 <= flat_hours <= stuck_hours")


DEFAULT_CONFIG = QAConfig()


def _param_map(mapping: Mapping[str, float], default: float | None = None) -> pl.Expr:
    values = {k: float(x) for k, x in mapping.items()}
    return pl.col("parameter").replace_strict(values, default=default, return_dtype=pl.Float64)


def apply_qa(
    frame: pl.DataFrame,
    config: QAConfig = DEFAULT_CONFIG,
    *,
    site_overrides: Mapping[str, QAConfig] | None = None,
) -> pl.DataFrame:
    """Flag every value of a long frame (monitoring.md §3.1); nothing is removed.

    Parameters
    ----------
    frame : pl.DataFrame
        Long frame (``site_code, ts, parameter, value, resolution`` and optionally ``source_flag``).
    config : QAConfig
        Thresholds (defaults from the spec).
    site_overrides : mapping site_code → QAConfig, optional
        Per-station thresholds.

    Returns
    -------
    pl.DataFrame
        The input rows with ``flag`` (:data:`FLAGS`) and ``qa_reason`` (comma-separated :data:`RULES`, null if
        none): the rows of ruled parameters first, sorted by site, parameter, resolution and time, then the others
        in input order (sorting millions of rows costs more than the QA itself).
    """
    frame = frame.drop("flag", "qa_reason", strict=False)  # re-running QA replaces earlier flags
    if "source_flag" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("source_flag"))
    if site_overrides:
        special = list(site_overrides)
        parts = [apply_qa(frame.filter(~pl.col("site_code").is_in(special)), config)]
        parts += [apply_qa(frame.filter(pl.col("site_code") == s), c) for s, c in site_overrides.items()]
        return pl.concat(parts)
    return _apply(frame, config)


def _apply(frame: pl.DataFrame, cfg: QAConfig) -> pl.DataFrame:
    ruled = pl.col("parameter").is_in(list(cfg.out_of_range))
    # parameters without rules (published AQI, rolling means, weather) only carry their source flag
    df = frame.filter(ruled).sort("site_code", "parameter", "resolution", "ts")
    hourly = pl.col("resolution") == "hour"
    v = pl.col("value")

    ceiling_values = pl.lit(False)
    for param, values in cfg.ceilings.items():
        ceiling_values = ceiling_values | ((pl.col("parameter") == param) & v.is_in(list(values)))

    # the frame is sorted, so plain shifts within one series id replace slower window expressions
    df = df.with_columns(pl.struct("site_code", "parameter", "resolution").rle_id().alias("_gid"))
    gid, ts = pl.col("_gid"), pl.col("ts")
    prev_v = pl.when(gid.shift(1) == gid).then(v.shift(1))
    next_v = pl.when(gid.shift(-1) == gid).then(v.shift(-1))
    prev_adj = (gid.shift(1) == gid) & ((ts - ts.shift(1)) == _HOUR)
    next_adj = (gid.shift(-1) == gid) & ((ts.shift(-1) - ts) == _HOUR)
    df = df.with_columns(
        ceiling_values.alias("_ceil_v"),
        (prev_adj & (v == prev_v)).fill_null(False).alias("_same_prev"),
        pl.max_horizontal(prev_v, next_v).alias("_nb"),
        (prev_adj & next_adj).fill_null(False).alias("_both_nb"),
    )
    # run of one repeated value over consecutive hours
    df = df.with_columns((~pl.col("_same_prev")).cum_sum().alias("_run"))
    df = df.with_columns(pl.len().over("_run").alias("_run_len"))
    long_run = hourly & ~pl.col("_ceil_v") & (v > _param_map(cfg.flat_floor, float("inf")))
    ruled = pl.lit(True)

    src = pl.col("source_flag")
    rule_exprs: dict[str, pl.Expr] = {
        "negative": ruled & (v < 0),
        "out_of_range": ruled & (v > _param_map(cfg.out_of_range)),
        "high_review": ruled & (v > _param_map(cfg.high_review, float("inf"))) & ~(v > _param_map(cfg.out_of_range)),
        "at_ceiling": (ruled & pl.col("_ceil_v")) | src.is_in(list(SOURCE_CEILING)),
        "flat": long_run & (pl.col("_run_len") >= cfg.flat_hours),
        "stuck": long_run & (pl.col("_run_len") >= cfg.stuck_hours),
        "spike": hourly
        & pl.col("_both_nb")
        & (v - pl.col("_nb") > _param_map(cfg.spike_abs, float("inf")))
        & (v > cfg.spike_factor * pl.col("_nb")),
    }
    df = df.with_columns(*[e.fill_null(False).alias(f"_r_{k}") for k, e in rule_exprs.items()])
    df = _mark_stale(df, cfg)
    df = _mark_pm_ratio(df, cfg)

    src_bad = src.is_not_null() & ~src.is_in(list(SOURCE_NORMAL | SOURCE_MAINTENANCE | SOURCE_CEILING))
    maint = src.is_in(list(SOURCE_MAINTENANCE)).fill_null(False)
    invalid = (
        pl.col("_r_negative")
        | pl.col("_r_out_of_range")
        | pl.col("_r_stuck")
        | pl.col("_r_stale_invalid")
        | src_bad.fill_null(False)
    )
    suspect = (
        pl.col("_r_high_review")
        | pl.col("_r_at_ceiling")
        | pl.col("_r_flat")
        | pl.col("_r_stale_suspect")
        | pl.col("_r_spike")
        | pl.col("_r_pm_ratio")
    )
    reasons = [
        pl.when(src.is_not_null() & ~src.is_in(list(SOURCE_NORMAL))).then(pl.format("source_flag_{}", src)),
        *[
            pl.when(pl.col(f"_r_{name}")).then(pl.lit(name))
            for name in ("negative", "out_of_range", "high_review", "at_ceiling", "flat", "stuck")
        ],
        pl.when(pl.col("_r_stale_suspect") | pl.col("_r_stale_invalid")).then(pl.lit("stale_record")),
        pl.when(pl.col("_r_spike")).then(pl.lit("spike")),
        pl.when(pl.col("_r_pm_ratio")).then(pl.lit("pm_ratio")),
    ]
    df = df.with_columns(
        pl.when(maint)
        .then(pl.lit("maintenance"))
        .when(invalid)
        .then(pl.lit("invalid"))
        .when(suspect)
        .then(pl.lit("suspect"))
        .otherwise(pl.lit("valid"))
        .alias("flag"),
        pl.concat_str(reasons, separator=",", ignore_nulls=True).replace("", None).alias("qa_reason"),
    )
    rest = frame.filter(~pl.col("parameter").is_in(list(cfg.out_of_range)))
    rest = rest.with_columns(
        pl.when(maint)
        .then(pl.lit("maintenance"))
        .when(src_bad.fill_null(False))
        .then(pl.lit("invalid"))
        .when(src.is_in(list(SOURCE_CEILING)).fill_null(False))
        .then(pl.lit("suspect"))
        .otherwise(pl.lit("valid"))
        .alias("flag"),
        pl.when(src.is_in(list(SOURCE_CEILING)))
        .then(pl.lit("source_flag_T,at_ceiling"))
        .when(src.is_not_null() & ~src.is_in(list(SOURCE_NORMAL)))
        .then(pl.format("source_flag_{}", src))
        .alias("qa_reason"),
    )
    cols = [*frame.columns, "flag", "qa_reason"]
    return pl.concat([df.select(cols), rest.select(cols)])


def _mark_stale(df: pl.DataFrame, cfg: QAConfig) -> pl.DataFrame:
    """``stale_record``: the whole record of ``stale_parameters`` repeats the previous hour's.

    Uses ``_same_prev`` (value equal to the same series one hour earlier): a record is stale when every one of
    its parameters is present and repeats. The k-th consecutive stale hour has ``k``.
    """
    params = list(cfg.stale_parameters)
    in_record = pl.col("parameter").is_in(params) & (pl.col("resolution") == "hour")
    records = (
        df.filter(in_record & pl.col("_same_prev"))
        .group_by("site_code", "ts")
        .agg(pl.col("parameter").n_unique().alias("_n"))
        .filter(pl.col("_n") == len(params))
        .sort("site_code", "ts")
    )
    chain = (
        (pl.col("site_code") != pl.col("site_code").shift(1)) | ((pl.col("ts") - pl.col("ts").shift(1)) != _HOUR)
    ).fill_null(True)
    records = records.with_columns(chain.cum_sum().alias("_chain"))
    hits = records.select(
        "site_code",
        "ts",
        (pl.int_range(pl.len()).over("_chain") + 1).alias("_k"),
    )
    df = df.join(hits, on=["site_code", "ts"], how="left", maintain_order="left")
    k = pl.when(in_record).then(pl.col("_k"))
    return df.with_columns(
        (k == 1).fill_null(False).alias("_r_stale_suspect"),
        (k >= 2).fill_null(False).alias("_r_stale_invalid"),
    ).drop("_k")


def _mark_pm_ratio(df: pl.DataFrame, cfg: QAConfig) -> pl.DataFrame:
    """``pm_ratio``: PM2.5 − PM10 > max(abs, rel · PM10) at the same station and interval flags both."""
    key = ["site_code", "ts", "resolution"]
    pm25 = df.filter(pl.col("parameter") == "a34004").select(*key, pl.col("value").alias("_pm25"))
    pm10 = df.filter(pl.col("parameter") == "a34002").select(*key, pl.col("value").alias("_pm10"))
    pairs = pm25.join(pm10, on=key, how="inner")
    limit = pl.max_horizontal(pl.lit(cfg.pm_ratio_abs), cfg.pm_ratio_rel * pl.col("_pm10"))
    hits = pairs.filter(pl.col("_pm25") - pl.col("_pm10") > limit).select(*key, pl.lit(True).alias("_pm_hit"))
    hits = hits.unique(subset=key)
    df = df.join(hits, on=key, how="left", maintain_order="left")
    return df.with_columns(
        (pl.col("_pm_hit").fill_null(False) & pl.col("parameter").is_in(["a34004", "a34002"])).alias("_r_pm_ratio")
    ).drop("_pm_hit")


# ----------------------------------------------------------------------------------------------- runs


def flag_runs(qa: pl.DataFrame, rule: str, *, split_on_value: bool | None = None) -> pl.DataFrame:
    """Runs of consecutive hours of one station and parameter where ``rule`` fired.

    ``split_on_value`` (default: true for ``flat`` and ``stuck``) starts a new run where the value changes, so two
    adjacent flat runs at different values count as two.

    Returns
    -------
    pl.DataFrame
        ``site_code, parameter, start (ts of the first hour), end (exclusive), hours, value_min, value_max`` —
        e.g. the ``flat`` and ``stuck`` runs, or runs of ``stale_record``.
    """
    if split_on_value is None:
        split_on_value = rule in ("flat", "stuck")
    hit = qa.filter(pl.col("qa_reason").str.split(",").list.contains(rule)).sort("site_code", "parameter", "ts")
    new = (
        (pl.col("site_code") != pl.col("site_code").shift(1))
        | (pl.col("parameter") != pl.col("parameter").shift(1))
        | ((pl.col("ts") - pl.col("ts").shift(1)) != _HOUR)
        | (split_on_value & (pl.col("value") != pl.col("value").shift(1)))
    ).fill_null(True)
    return (
        hit.with_columns(new.cum_sum().alias("_run"))
        .group_by("_run", maintain_order=True)
        .agg(
            pl.col("site_code").first(),
            pl.col("parameter").first(),
            pl.col("ts").first().alias("start"),
            (pl.col("ts").last() + _HOUR).alias("end"),
            pl.len().alias("hours"),
            pl.col("value").min().alias("value_min"),
            pl.col("value").max().alias("value_max"),
        )
        .drop("_run")
    )


def qa_summary(qa: pl.DataFrame) -> pl.DataFrame:
    """Count of values per parameter and rule (one value may count under several rules)."""
    return (
        qa.filter(pl.col("qa_reason").is_not_null())
        .select("parameter", pl.col("qa_reason").str.split(",").alias("rule"))
        .explode("rule")
        .group_by("parameter", "rule")
        .len()
        .sort("parameter", "rule")
    )


# ------------------------------------------------------------------------------------------ completeness


def _hour_grid(start: datetime, end: datetime) -> pl.Series:
    start_utc, end_utc = as_utc(start, naive="utc"), as_utc(end, naive="utc")
    if end_utc <= start_utc:
        return pl.Series("ts", [], dtype=TS_DTYPE)
    return pl.datetime_range(start_utc, end_utc - _HOUR, interval="1h", eager=True, time_unit="us").alias("ts")


def completeness(
    qa: pl.DataFrame,
    *,
    sites: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    maintenance: pl.DataFrame | None = None,
    feed: pl.DataFrame | None = None,
    config: QAConfig = DEFAULT_CONFIG,
) -> pl.DataFrame:
    """Completeness (有效率) per station × pollutant × Beijing day, with a reason for every missing hour.

    monitoring.md §3.2. Each expected hour of the window is exactly one of: valid (suspect counts as valid unless
    ``suspect_policy = "exclude"``, then it is ``invalid``), ``maintenance`` (flag maintenance, or no value inside
    a maintenance record), ``invalid``, ``feed_gap`` (no row of that hour and parameter for any station of the
    frame), ``no_data``.

    Parameters
    ----------
    qa : pl.DataFrame
        Output of :func:`apply_qa`; only hourly values of ``config.completeness_parameters`` are used.
    sites : sequence of str, optional
        Stations to report; include silent ones (e.g. ``ReadResult.sites``) so they show as 0 %. Default: the
        stations in ``qa``.
    start, end : datetime, optional
        Window of interval starts [start, end) (aware, or naive UTC). Default: first to last hour in ``qa``.
    maintenance : pl.DataFrame, optional
        Maintenance records ``site_code, start, end`` (UTC, end exclusive).
    feed : pl.DataFrame, optional
        ``ts, parameter`` the source delivered a row for (``ReadResult.feed``); default: those with at least one
        value in ``qa``. With it, an hour whose row came with every station empty is ``no_data``, not ``feed_gap``.

    Returns
    -------
    pl.DataFrame
        ``site_code, parameter, day`` (Beijing date), ``expected, received, valid, invalid, maintenance,
        feed_gap, no_data`` [h], ``rate`` = valid / expected × 100 [%, 1 dp], ``day_status``: ``reporting``;
        ``offline`` (nothing from the station that day while the feed had ≥ 1 hour); ``feed_down`` (the feed had
        no hour); ``never_reported`` (the station never sent a value in ``qa``).
    """
    params = list(config.completeness_parameters)
    obs = qa.filter((pl.col("resolution") == "hour") & pl.col("parameter").is_in(params))
    if start is None or end is None:
        if obs.height == 0:
            raise ValueError("empty frame: give start and end")
        start = start or obs["ts"].min()  # type: ignore[assignment]
        end = end or obs["ts"].max() + _HOUR  # type: ignore[operator]
    grid_ts = _hour_grid(start, end)  # type: ignore[arg-type]
    site_list = list(sites) if sites is not None else sorted(obs["site_code"].unique().to_list())
    obs = obs.filter(pl.col("ts").is_between(grid_ts.min(), grid_ts.max())) if grid_ts.len() else obs.clear()
    heard = set(qa.filter(pl.col("parameter").is_in(params))["site_code"].unique().to_list())

    delivered = obs.select("ts", "parameter") if feed is None else feed.select("ts", "parameter")
    delivered = delivered.filter(pl.col("parameter").is_in(params)).unique()
    feed_any = delivered.select("ts").unique().with_columns(pl.lit(True).alias("_feed_any"))
    feed = delivered.with_columns(pl.lit(True).alias("_feed"))
    cell = (
        obs.group_by("site_code", "ts", "parameter")
        .agg(pl.col("flag").first())  # readers deliver one value per key; duplicates would be a reader bug
        .with_columns(pl.lit(True).alias("_got"))
    )
    grid = (
        pl.DataFrame({"site_code": site_list}, schema={"site_code": pl.String})
        .join(pl.DataFrame({"ts": grid_ts}), how="cross")
        .join(pl.DataFrame({"parameter": params}, schema={"parameter": pl.String}), how="cross")
    )
    grid = (
        grid.join(cell, on=["site_code", "ts", "parameter"], how="left")
        .join(feed, on=["ts", "parameter"], how="left")
        .join(feed_any, on="ts", how="left")
    )
    in_maint = pl.lit(False)
    if maintenance is not None and maintenance.height:
        windows = maintenance.select(
            "site_code", pl.col("start").cast(TS_DTYPE).alias("_ms"), pl.col("end").cast(TS_DTYPE).alias("_me")
        )
        hits = (
            grid.select("site_code", "ts")
            .unique()
            .join(windows, on="site_code", how="inner")
            .filter((pl.col("ts") >= pl.col("_ms")) & (pl.col("ts") < pl.col("_me")))
            .select("site_code", "ts")
            .unique()
            .with_columns(pl.lit(True).alias("_maint"))
        )
        grid = grid.join(hits, on=["site_code", "ts"], how="left")
        in_maint = pl.col("_maint").fill_null(False)
    flag = pl.col("flag")
    ok = flag.is_in(["valid", "suspect"]) if config.suspect_policy == "include" else flag == "valid"
    got = pl.col("_got").fill_null(False)
    state = (
        pl.when(got & ok)
        .then(pl.lit("valid"))
        .when(got & (flag == "maintenance"))
        .then(pl.lit("maintenance"))
        .when(got)
        .then(pl.lit("invalid"))
        .when(in_maint)
        .then(pl.lit("maintenance"))
        .when(pl.col("_feed").is_null())
        .then(pl.lit("feed_gap"))
        .otherwise(pl.lit("no_data"))
    )
    grid = grid.with_columns(state.alias("_state"), beijing_day_column(pl.col("ts")).alias("day"))
    out = (
        grid.group_by("site_code", "parameter", "day")
        .agg(
            pl.len().cast(pl.Int64).alias("expected"),
            got.sum().cast(pl.Int64).alias("received"),
            *[(pl.col("_state") == s).sum().cast(pl.Int64).alias(s) for s in ("valid", *GAP_REASONS)],
        )
        .with_columns((pl.col("valid") / pl.col("expected") * 100).round(1).alias("rate"))
    )
    # station-day status from all its pollutants
    day = grid.group_by("site_code", "day").agg(
        got.any().alias("_any"), pl.col("_feed_any").fill_null(False).any().alias("_feed_day")
    )
    day = day.with_columns(
        pl.when(~pl.col("site_code").is_in(list(heard)))
        .then(pl.lit("never_reported"))
        .when(~pl.col("_feed_day"))
        .then(pl.lit("feed_down"))
        .when(~pl.col("_any"))
        .then(pl.lit("offline"))
        .otherwise(pl.lit("reporting"))
        .alias("day_status")
    ).select("site_code", "day", "day_status")
    return out.join(day, on=["site_code", "day"], how="left").sort("site_code", "parameter", "day")


def station_completeness(comp: pl.DataFrame, *, by_day: bool = True) -> pl.DataFrame:
    """Station figure: the mean of its pollutants' rates (monitoring.md §3.2 (d)).

    Parameters
    ----------
    comp : pl.DataFrame
        Output of :func:`completeness`.
    by_day : bool
        Per station and day (with ``day_status``), or per station over the whole window (rates from the summed
        hours of each pollutant, then averaged).
    """
    if by_day:
        return (
            comp.group_by("site_code", "day")
            .agg(
                pl.col("rate").mean().round(1).alias("rate"),
                pl.col("valid").sum(),
                pl.col("expected").sum(),
                pl.col("day_status").first(),
            )
            .sort("site_code", "day")
        )
    per_param = comp.group_by("site_code", "parameter").agg(pl.col("expected", "received", "valid", *GAP_REASONS).sum())
    per_param = per_param.with_columns((pl.col("valid") / pl.col("expected") * 100).alias("_rate"))
    status = comp.group_by("site_code").agg(
        (pl.col("day_status") == "offline").sum().alias("offline_days_x_params"),
        (pl.col("day_status") == "never_reported").all().alias("never_reported"),
    )
    days = comp.select("site_code", "day", "day_status").unique()
    offline_days = days.group_by("site_code").agg((pl.col("day_status") == "offline").sum().alias("offline_days"))
    return (
        per_param.group_by("site_code")
        .agg(pl.col("_rate").mean().round(1).alias("rate"), pl.col("expected", "valid").sum())
        .join(status.drop("offline_days_x_params"), on="site_code")
        .join(offline_days, on="site_code")
        .sort("site_code")
    )


def silences(
    qa: pl.DataFrame,
    *,
    sites: Sequence[str],
    start: datetime,
    end: datetime,
    min_hours: int = 1,
    parameters: Sequence[str] = POLLUTANTS,
) -> pl.DataFrame:
    """Runs of consecutive hours in [start, end) in which a station sent no value of ``parameters``.

    Returns ``site_code, start, end (exclusive), hours, feed_gap_hours`` (hours of the run in which no station sent
    anything), longest first within each station; runs shorter than ``min_hours`` are left out.
    """
    grid_ts = _hour_grid(start, end)
    obs = qa.filter((pl.col("resolution") == "hour") & pl.col("parameter").is_in(list(parameters)))
    got = obs.select("site_code", "ts").unique().with_columns(pl.lit(True).alias("_got"))
    feed = obs.select("ts").unique().with_columns(pl.lit(True).alias("_feed"))
    grid = (
        pl.DataFrame({"site_code": list(sites)}, schema={"site_code": pl.String})
        .join(pl.DataFrame({"ts": grid_ts}), how="cross")
        .join(got, on=["site_code", "ts"], how="left")
        .join(feed, on="ts", how="left")
        .sort("site_code", "ts")
    )
    silent = pl.col("_got").is_null()
    new = (silent != silent.shift(1)) | (pl.col("site_code") != pl.col("site_code").shift(1))
    return (
        grid.with_columns(new.fill_null(True).cum_sum().alias("_run"))
        .filter(silent)
        .group_by("_run")
        .agg(
            pl.col("site_code").first(),
            pl.col("ts").min().alias("start"),
            (pl.col("ts").max() + _HOUR).alias("end"),
            pl.len().alias("hours"),
            pl.col("_feed").is_null().sum().alias("feed_gap_hours"),
        )
        .filter(pl.col("hours") >= min_hours)
        .drop("_run")
        .sort(["site_code", "hours"], descending=[False, True])
    )


# ------------------------------------------------------------------------------------------------ offline


def station_status(
    frame: pl.DataFrame,
    *,
    now: datetime,
    sites: Sequence[str] | None = None,
    parameters: Sequence[str] = POLLUTANTS,
    config: QAConfig = DEFAULT_CONFIG,
) -> pl.DataFrame:
    """Online / offline state of each station at ``now`` (monitoring.md §3.2).

    A value counts from the end of its interval (``ts + 1 h`` for hourly values; ``ts`` for real-time samples);
    values after ``now`` are ignored, so a past state can be replayed. The station is ``offline`` when its last value
    is more than ``offline_hours`` old while the feed delivered another station within ``feed_down_hours``;
    when the whole feed is silent that long every heard-from station is ``unknown`` (``feed_down`` true: one ops
    event, no station alarms); a station with no value at all is ``never_reported``.

    Parameters
    ----------
    frame : pl.DataFrame
        Long frame (QA'd or not): only ``parameters`` count.
    now : datetime
        The reference time (aware, or naive UTC); never read from the clock here.
    sites : sequence of str, optional
        Stations to report (include silent ones); default those in ``frame``.

    Returns
    -------
    pl.DataFrame
        ``site_code, last_ts (start of the last interval with a value), silent_hours [h], status, feed_down``.
    """
    now_utc = as_utc(now, naive="utc")
    rows = frame.filter(pl.col("parameter").is_in(list(parameters)))
    step = (
        pl.when(pl.col("resolution") == "hour")
        .then(pl.duration(hours=1))
        .when(pl.col("resolution") == "min")
        .then(pl.duration(minutes=1))
        .when(pl.col("resolution") == "day")
        .then(pl.duration(days=1))
        .otherwise(pl.duration(hours=0))
    )
    rows = rows.with_columns((pl.col("ts") + step).alias("_end")).filter(pl.col("_end") <= now_utc)
    last = rows.group_by("site_code").agg(pl.col("ts").max().alias("last_ts"), pl.col("_end").max().alias("_end"))
    site_list = list(sites) if sites is not None else sorted(frame["site_code"].unique().to_list())
    out = pl.DataFrame({"site_code": site_list}, schema={"site_code": pl.String}).join(last, on="site_code", how="left")
    feed_end = last["_end"].max() if last.height else None
    feed_silent = (now_utc - feed_end).total_seconds() / 3600 if feed_end is not None else float("inf")
    feed_down = feed_silent >= config.feed_down_hours
    silent = ((pl.lit(now_utc) - pl.col("_end")).dt.total_seconds() / 3600).alias("silent_hours")
    out = out.with_columns(silent)
    status = (
        pl.when(pl.col("last_ts").is_null())
        .then(pl.lit("never_reported"))
        .when(pl.lit(feed_down))
        .then(pl.lit("unknown"))
        .when(pl.col("silent_hours") > config.offline_hours)
        .then(pl.lit("offline"))
        .otherwise(pl.lit("online"))
    )
    return out.with_columns(status.alias("status"), pl.lit(feed_down).alias("feed_down")).select(
        "site_code", "last_ts", "silent_hours", "status", "feed_down"
    )


def with_config(config: QAConfig = DEFAULT_CONFIG, **changes: object) -> QAConfig:
    """A copy of ``config`` with some thresholds changed (dataclasses.replace, validated)."""
    return replace(config, **changes)  # type: ignore[arg-type]


__all__ = [
    "DEFAULT_CONFIG",
    "FLAGS",
    "GAP_REASONS",
    "RULES",
    "QAConfig",
    "apply_qa",
    "completeness",
    "flag_runs",
    "qa_summary",
    "silences",
    "station_completeness",
    "station_status",
    "with_config",
]
