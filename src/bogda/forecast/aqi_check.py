"""Daily AQI and primary-pollutant verification (forecast.md §3.9 metrics, §8 item 4 "primary pollutant D+1 ≥ 70 %;
O3 8 h > 160 CSI ≥ 0.5").

The PM2.5 protocol scores one pollutant. The AQI a bureau publishes, its level and its primary pollutant come from
every item of the daily AQI (HJ 633-2012 5.1: the 24 h means of SO2, NO2, CO, PM10 and PM2.5, the O3 daily maximum
8 h mean and, on 2012-rule dates, the O3 daily maximum 1 h value). Here each item is forecast by the same protocol
as PM2.5 (:func:`bogda.forecast.backtest.run_protocol` with ``ProtocolConfig.target`` set to the item: the same
profile, monthly refit, neighbours and weather modes — nothing tuned per item), the items' daily forecasts are
joined per (station, target day), and the daily AQI, level and primary pollutant(s) of each method's forecasts are
computed by :func:`bogda.standards.aqi.aqi_daily` exactly as those of the observations (standard chosen by the
day). Every method is scored on the same days: the model and the baselines (persistence, damped persistence) item
by item.

Scores (:func:`aqi_scores`):

- ``AQI_RMSE``, ``AQI_MAE``, ``AQI_bias`` on the integer daily AQI;
- ``level_acc`` / ``level_acc_pm1``: the six AQI levels, exact and within one level;
- ``range_acc`` / ``level_range_acc``: CNEMC-style accuracy of the forecast published as an AQI range
  (:func:`bogda.forecast.verify.published_range`: centred on the forecast AQI, 20/30/50/100 wide by its level (d)):
  the share of days whose observed AQI lies in the range, and whose observed level is one of the levels it spans
  (forecast.md §3.9: "reported separately" from the level accuracy);
- ``primary_acc``: over the days whose observed AQI is above 50 (the days that have a primary pollutant, HJ 633
  5.3 [2012] / 4.3 [2026]), the share on which the forecast names one of the observed primary pollutants — the
  forecast's AQI must be above 50 too. The spec does not define the score; this is the usual rule of the provincial
  forecast-evaluation codes (with several primary pollutants, any one named counts) (d);
- ``TS_AQI_gt100`` / ``TS_AQI_gt200`` (POD, FAR): polluted and heavily polluted days;
- ``TS_O3_8h_gt160`` (POD, FAR): the O3 daily maximum 8 h mean above 160 µg/m³ (GB 3095-2012 grade II), the
  spec's "O3 8 h > 160 CSI" (the critical success index is the threat score).

The goals are stated "with NWP" (§8 item 4); with no archive of real runs for the Beijing years they are checked in
weather mode ``noisy_proxy``, as the daily PM2.5 goals are (docs/forecast.md §3.3), and the mode ``none`` is reported
beside them. Command: ``bogda forecast backtest --protocol beijing --aqi [--modes none,noisy_proxy]``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from bogda.forecast import confidence, verify
from bogda.forecast.backtest import (
    BEIJING_TEST,
    BEIJING_TRAIN,
    Goal,
    ProtocolConfig,
    ProtocolResult,
    beijing_config,
    load_beijing,
    run_protocol,
)
from bogda.forecast.operational import AQI_LABEL, DAILY_ITEMS
from bogda.standards.aqi import aqi_daily

ITEMS: tuple[str, ...] = DAILY_ITEMS
"""The daily AQI items forecast (HJ 212 codes, ``O3_8h_max``, ``O3_1h_max``); the O3 1 h item enters the AQI on
2012-rule dates only."""

O3_8H_EVENT = 160.0
"""O3 daily maximum 8 h event threshold [µg/m³]: GB 3095-2012 grade II, IAQI 100 (forecast.md §8 item 4)."""

AQI_EVENTS: tuple[int, ...] = (100, 200)
"""Daily AQI events: polluted (> 100) and heavily polluted (> 200) days."""

AQI_METRICS: tuple[str, ...] = (
    "AQI_RMSE",
    "AQI_MAE",
    "AQI_bias",
    "level_acc",
    "level_acc_pm1",
    "range_acc",
    "level_range_acc",
    "primary_acc",
    *(f"{s}_AQI_gt{t}" for t in AQI_EVENTS for s in ("TS", "POD", "FAR")),
    *(f"{s}_O3_8h_gt{O3_8H_EVENT:g}" for s in ("TS", "POD", "FAR")),
    *(
        f"{m}_{end}"
        for m in (
            "AQI_RMSE",
            "level_acc",
            "primary_acc",
            *(f"TS_AQI_gt{t}" for t in AQI_EVENTS),
            f"TS_O3_8h_gt{O3_8H_EVENT:g}",
        )
        for end in ("lo", "hi")
    ),
)
"""The figures of :func:`aqi_scores` kept per row (stored in ``backtest_score`` under the item ``daily_AQI``), the
last their 90 % intervals (:func:`aqi_intervals`)."""

AQI_GOALS: tuple[tuple[str, str, float], ...] = (("D+1", "primary_acc", 0.70), ("D+1", "TS_O3_8h_gt160", 0.50))
"""(horizon, score, goal) of forecast.md §8 item 4; both higher-is-better, checked in mode ``noisy_proxy``."""


def item_results(
    frames: pl.DataFrame | Sequence[pl.DataFrame],
    train: tuple[date, date],
    test: tuple[date, date],
    mode: str,
    *,
    config: ProtocolConfig,
    coords: Mapping[str, tuple[float, float]] | None = None,
    items: Sequence[str] = ITEMS,
) -> dict[str, ProtocolResult]:
    """Run the daily protocol once per item (``config`` with ``target`` = the item and no hourly leads)."""
    daily_only = replace(config, hourly_leads=())
    return {
        item: run_protocol(frames, train, test, mode, config=replace(daily_only, target=item), coords=coords)
        for item in items
    }


def joined_days(results: Mapping[str, ProtocolResult], horizon: str, method: str) -> pl.DataFrame:
    """One row per (station, target day) on which every item has an observation and a ``method`` forecast.

    Columns ``station``, ``day`` (Beijing date), ``obs_<label>`` and ``fc_<label>`` per AQI label (``PM2.5``,
    ``O3_8h``, …). A method missing for an item (e.g. no model was trained) gives an empty table.
    """
    tables = []
    for item, res in results.items():
        pairs = res.pairs.get(("daily", horizon))
        if pairs is None or pairs.target is None or method not in pairs.methods or res.first_day is None:
            return pl.DataFrame()
        label = AQI_LABEL[item]
        f = pairs.methods[method]
        keep = np.isfinite(pairs.obs) & np.isfinite(f)
        tables.append(
            pl.DataFrame(
                {
                    "station": np.asarray(res.stations, dtype=object)[pairs.station[keep]].astype(str),
                    "day": [res.first_day + timedelta(days=int(d)) for d in pairs.target[keep]],
                    f"obs_{label}": pairs.obs[keep],
                    f"fc_{label}": f[keep],
                },
                schema_overrides={"day": pl.Date},
            )
        )
    if not tables:
        return pl.DataFrame()
    out = tables[0]
    for t in tables[1:]:
        out = out.join(t, on=["station", "day"], how="inner")
    return out.sort("station", "day")


def primary_hits(fc_mask: np.ndarray, obs_mask: np.ndarray, obs_aqi: np.ndarray) -> np.ndarray:
    """Whether the forecast names one of the observed primary pollutants, on the days with one (observed AQI > 50).

    ``fc_mask`` / ``obs_mask`` are the primary-pollutant bit masks of :class:`bogda.standards.aqi.AqiResult` over
    the same item labels (a forecast AQI ≤ 50 has an empty mask, so it misses).

    >>> primary_hits(np.array([1, 2, 0, 3]), np.array([1, 1, 2, 0]), np.array([80, 90, 60, 40])).tolist()
    [True, False, False]
    """
    days = np.asarray(obs_aqi) > 50
    return (np.asarray(fc_mask)[days] & np.asarray(obs_mask)[days]) != 0


def _events(prefix: str, f: np.ndarray, o: np.ndarray, threshold: float) -> dict[str, float | None]:
    t = verify.contingency(f, o, threshold)
    name = f"{prefix}_gt{threshold:g}"
    return {f"TS_{name}": verify.threat_score(t), f"POD_{name}": verify.pod(t), f"FAR_{name}": verify.far(t)}


def aqi_scores(table: pl.DataFrame) -> dict[str, float | int | None]:
    """Scores of the forecast AQI against the observed one on the rows of :func:`joined_days` (module doc)."""
    labels = [c.removeprefix("obs_") for c in table.columns if c.startswith("obs_")]
    if table.height == 0 or not labels:
        return {"n": 0}
    days = table["day"].to_list()
    obs = aqi_daily({k: table[f"obs_{k}"].to_numpy() for k in labels}, ts=days)
    fc = aqi_daily({k: table[f"fc_{k}"].to_numpy() for k in labels}, ts=days)
    assert not isinstance(obs, pl.DataFrame) and not isinstance(fc, pl.DataFrame)
    o, f = obs.aqi.astype(float), fc.aqi.astype(float)
    lo, lf = np.asarray(obs.level, dtype=int), np.asarray(fc.level, dtype=int)
    hits = primary_hits(fc.primary_mask, obs.primary_mask, obs.aqi_int)
    scores: dict[str, float | int | None] = {
        "n": table.height,
        "AQI_RMSE": verify.rmse(f, o),
        "AQI_MAE": verify.mae(f, o),
        "AQI_bias": verify.bias(f, o),
        "level_acc": float(np.mean(lf == lo)),
        "level_acc_pm1": float(np.mean(np.abs(lf - lo) <= 1)),
        "range_acc": verify.range_accuracy(f, o),
        "level_range_acc": verify.level_range_accuracy(f, o),
        "n_primary_days": int(hits.size),
        "primary_acc": float(hits.mean()) if hits.size else None,
    }
    for thr in AQI_EVENTS:
        scores |= _events("AQI", f, o, thr)
    if "O3_8h" in labels:
        scores |= _events("O3_8h", table["fc_O3_8h"].to_numpy(), table["obs_O3_8h"].to_numpy(), O3_8H_EVENT)
    return scores | aqi_intervals(table, f, o, lf == lo, hits)


def aqi_intervals(
    table: pl.DataFrame, f: np.ndarray, o: np.ndarray, same_level: np.ndarray, hits: np.ndarray
) -> dict[str, float | None]:
    """90 % bootstrap intervals (:mod:`bogda.forecast.confidence`) of the AQI RMSE, the level and primary-pollutant
    accuracies and the heavy-day and O3 8 h threat scores, as ``<score>_lo`` / ``_hi``; the O3 figures are drawn
    on the same days as the AQI's (one seed, one set of days)."""
    day = np.array([d.toordinal() for d in table["day"].to_list()])
    primary = np.full(o.size, np.nan)
    primary[o > 50] = hits  # primary_hits' order: the days with an observed AQI > 50
    ci = confidence.score_intervals(
        f, o, day, thresholds=AQI_EVENTS, shares={"level_acc": same_level, "primary_acc": primary}
    )
    out = {
        "AQI_RMSE": ci["RMSE"],
        "level_acc": ci["level_acc"],
        "primary_acc": ci["primary_acc"],
        **{f"TS_AQI_gt{t}": ci[f"TS_gt{t:g}"] for t in AQI_EVENTS},
    }
    if "obs_O3_8h" in table.columns:
        o3 = confidence.score_intervals(
            table["fc_O3_8h"].to_numpy(), table["obs_O3_8h"].to_numpy(), day, thresholds=(O3_8H_EVENT,)
        )
        out[f"TS_O3_8h_gt{O3_8H_EVENT:g}"] = o3[f"TS_gt{O3_8H_EVENT:g}"]
    return confidence.flat(out)


def score_table(results: Mapping[str, ProtocolResult], mode: str, horizons: Sequence[int] = (1,)) -> pl.DataFrame:
    """One row per (station, horizon, method) with :func:`aqi_scores`; methods: ``lgbm_<mode>``, persistence and
    damped persistence (each item forecast by that method)."""
    rows = []
    for k in horizons:
        for method in (f"lgbm_{mode}", "persistence", "damped_persistence"):
            table = joined_days(results, f"D+{k}", method)
            if table.height == 0:
                continue
            for (station,), part in table.group_by("station", maintain_order=True):
                rows.append(
                    {"station": station, "weather_mode": mode, "horizon": f"D+{k}", "method": method} | aqi_scores(part)
                )
    return pl.DataFrame(rows, infer_schema_length=None)


def aqi_goals(scores: pl.DataFrame, station: str = "1003A", mode: str = "noisy_proxy") -> list[Goal]:
    """The §8 item 4 goals (:data:`AQI_GOALS`) read from :func:`score_table` rows of the model in ``mode``."""
    goals = []
    for horizon, metric, goal in AQI_GOALS:
        name = f"{horizon} {metric}, {mode}"
        row = (
            scores.filter(
                (pl.col("station") == station)
                & (pl.col("weather_mode") == mode)
                & (pl.col("horizon") == horizon)
                & (pl.col("method") == f"lgbm_{mode}")
            )
            if scores.height
            else scores
        )
        value, lo, hi = (
            None if row.height == 0 or m not in row.columns or row[m][0] is None else float(row[m][0])
            for m in (metric, f"{metric}_lo", f"{metric}_hi")
        )
        goals.append(Goal(name, goal, value, True, (lo, hi)))
    return goals


def beijing_aqi_check(
    data_dir: Path,
    modes: Sequence[str] = ("none", "noisy_proxy"),
    *,
    stations: Sequence[str] | None = ("1003A",),
    horizons: Sequence[int] = (1,),
    config: ProtocolConfig | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, float]:
    """The Dongsi protocol (forecast.md §8) for every daily AQI item and the AQI scores of each mode.

    Returns the :func:`score_table` rows of every mode, the items' own score rows (``target`` names the item,
    ``weather_mode`` the mode) and the run time [s]. The settings are the PM2.5 protocol's
    (:func:`bogda.forecast.backtest.beijing_config`: monthly refit, the daily models' tail weight, no D+1
    post-processing), the 8 PRSA files pooled for training and ``stations`` (codes; None: all) scored.
    """
    t0 = time.perf_counter()
    frames, coords = load_beijing(data_dir)
    codes = None if stations is None else tuple(stations)  # None: every station
    base = replace(config or ProtocolConfig(), stations_to_score=codes, neighbour_km=80.0)
    cfg = beijing_config(replace(base, daily_horizons=tuple(horizons)))
    aqi_tables, item_tables = [], []
    for m in modes:
        results = item_results(frames, BEIJING_TRAIN, BEIJING_TEST, m, config=cfg, coords=coords)
        aqi_tables.append(score_table(results, m, horizons))
        item_tables.extend(r.scores.with_columns(pl.lit(m).alias("weather_mode")) for r in results.values())
    return (
        pl.concat(aqi_tables, how="diagonal_relaxed"),
        pl.concat(item_tables, how="diagonal_relaxed"),
        time.perf_counter() - t0,
    )
