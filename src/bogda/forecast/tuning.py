"""Choosing a protocol's post-processing on inner folds of its training period, never on its test year.

The Beijing protocol post-processes the model's mean at its two goal horizons (hourly 24 h, daily D+1;
:func:`bogda.forecast.backtest.post_process`): a blend with damped persistence (weight w on the model) and an
inflation λ of the anomaly about the climatology, because the L2 model is under-dispersed. (λ, w) is chosen here:
each inner fold is run once with the protocol's own settings (profile, refit) and no post-processing, then the grid
λ ∈ {1.0, 1.1, …, 2.0} × w ∈ {0.5, 0.6, …, 1.0} is scored on the stored pairs and the pair minimising the mean,
over the folds, of the mean over the stations of RMSE(post) / RMSE(damped persistence) is taken. The folds lie in
the training period 2013-03..2016-02 (docs/forecast.md §2), so the test year 2016-03..2017-02 is never seen.

Command line: ``python -m bogda.forecast.tuning --data ../shared/data`` (about 8 min on one core) prints the grid's
best rows per horizon and the choice, to be written into :data:`bogda.forecast.backtest.PROTOCOL_POST`. With
``--tail-weights 1,2,3,4,6`` it runs the folds' daily D+1 once per tail weight of the daily models (about 3 min each)
and prints :func:`choose_tail_weight`'s table and choice, to be written into
:data:`bogda.forecast.backtest.PROTOCOL_DAILY_TAIL_WEIGHT`; ``--tail-weights 1,3 --post-for-threat 3`` adds
:func:`choose_post_for_threat`'s D+1 pair for the threat score within the same RMSE budget.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from bogda.forecast import verify
from bogda.forecast.backtest import (
    Pairs,
    ProtocolConfig,
    beijing_config,
    load_beijing,
    post_process,
    run_protocol,
)
from bogda.forecast.models import PROTOCOL
from bogda.timeutil import HeatingSeason, parse_heating_season

INNER_FOLDS: dict[str, tuple[tuple[date, date], tuple[date, date]]] = {
    "A": ((date(2013, 3, 1), date(2015, 8, 31)), (date(2015, 9, 1), date(2016, 2, 29))),
    "B": ((date(2013, 3, 1), date(2014, 8, 31)), (date(2014, 9, 1), date(2015, 2, 28))),
}
"""The Beijing protocol's inner folds: (train, test) in Beijing dates, both inside its training period."""

INFLATIONS: tuple[float, ...] = tuple(round(1.0 + 0.1 * i, 1) for i in range(11))
WEIGHTS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
HORIZONS: dict[str, str] = {"24h": "hourly", "D+1": "daily"}
"""The goal horizons post-processed, with their target kind."""


def post_grid(
    pairs: Pairs,
    mode: str = "none",
    *,
    inflations: Sequence[float] = INFLATIONS,
    weights: Sequence[float] = WEIGHTS,
    threshold: float = 150.0,
) -> pl.DataFrame:
    """Score every (λ, w) of the grid on one fold's pairs of one horizon.

    Parameters
    ----------
    pairs : one (kind, horizon)'s pairs from a run without post-processing (``lgbm_<mode>`` is the raw model)
    threshold : the event threshold reported beside the ratio [µg/m³] (heavy pollution, PM2.5 > 150)

    Returns
    -------
    One row per (λ, w): ``inflation``, ``weight``, ``ratio`` (mean over stations of RMSE(post) / RMSE(damped
    persistence)) and ``TS`` (threat score of the post-processed forecast for > ``threshold``, all stations pooled;
    reported, not optimised).
    """
    model = pairs.methods[f"lgbm_{mode}"]
    damped = pairs.methods["damped_persistence"]
    clim = next(v for k, v in pairs.methods.items() if k.startswith("climatology"))
    stations = np.unique(pairs.station)
    ref = {s: verify.rmse(damped[pairs.station == s], pairs.obs[pairs.station == s]) for s in stations}
    rows = []
    for lam in inflations:
        for w in weights:
            f = post_process(model, damped, clim, lam, w)
            ratios = [
                _ratio(verify.rmse(f[sel], pairs.obs[sel]), ref[s]) for s in stations for sel in [pairs.station == s]
            ]
            ts = verify.point_scores(f, pairs.obs, thresholds=(threshold,)).get(f"TS_gt{threshold:g}")
            rows.append({"inflation": lam, "weight": w, "ratio": float(np.nanmean(ratios)), "TS": ts})
    return pl.DataFrame(rows, schema_overrides={"TS": pl.Float64})


def _ratio(a: float | None, b: float | None) -> float:
    return a / b if a is not None and b else float("nan")  # a station without pairs or with a perfect reference


def choose_post(grids: Mapping[str, pl.DataFrame]) -> tuple[float, float, pl.DataFrame]:
    """(λ, w) with the lowest mean ``ratio`` over the folds' grids (:func:`post_grid`), and the joined table
    (one ``ratio_<fold>`` and ``TS_<fold>`` column per fold, ``mean_ratio``) sorted best first. Ties go to the
    smaller λ, then the larger w (the lighter touch)."""
    table: pl.DataFrame | None = None
    for name, g in grids.items():
        g = g.rename({"ratio": f"ratio_{name}", "TS": f"TS_{name}"})
        table = g if table is None else table.join(g, on=["inflation", "weight"])
    if table is None:
        raise ValueError("no fold to choose from")
    table = table.with_columns(pl.mean_horizontal([f"ratio_{n}" for n in grids]).alias("mean_ratio")).sort(
        ["mean_ratio", "inflation", "weight"], descending=[False, False, True]
    )
    best = table.row(0, named=True)
    return float(best["inflation"]), float(best["weight"]), table


TAIL_RATIO_SLACK = 0.01
"""How much worse (in RMSE / damped persistence, mean of the folds) a tail weight may make D+1 and still be chosen
for its threat score."""


def choose_tail_weight(results: Mapping[float, Mapping[str, pl.DataFrame]]) -> tuple[float, pl.DataFrame]:
    """The daily models' tail weight, chosen on the inner folds for the D+1 heavy-pollution threat score.

    For each weight the D+1 post-processing (λ, w) is chosen as :func:`choose_post` does (lowest mean RMSE ratio);
    at that choice the folds' mean TS > 150 is read. The weight with the highest mean TS is taken among those whose
    mean ratio is at most the unweighted one (weight 1.0, which must be present) plus :data:`TAIL_RATIO_SLACK`; ties
    go to the smaller weight.

    Parameters
    ----------
    results : per tail weight, the D+1 :func:`post_grid` table of each fold

    Returns
    -------
    The chosen weight and one row per weight: ``tail_weight``, ``inflation``, ``weight``, ``mean_ratio``,
    ``mean_TS`` and the folds' ``ratio_<fold>`` / ``TS_<fold>``, best first.
    """
    if 1.0 not in results:
        raise ValueError("the unweighted run (tail weight 1.0) is the reference: it must be among the results")
    rows = []
    for tw, grids in results.items():
        lam, w, table = choose_post(grids)
        best = table.row(0, named=True)
        ts = [best[f"TS_{f}"] for f in grids]
        rows.append(
            {
                "tail_weight": float(tw),
                "inflation": lam,
                "weight": w,
                "mean_ratio": float(best["mean_ratio"]),
                "mean_TS": float(np.mean([t if t is not None else np.nan for t in ts])),
                **{f"ratio_{f}": float(best[f"ratio_{f}"]) for f in grids},
                **{f"TS_{f}": best[f"TS_{f}"] for f in grids},
            }
        )
    table = pl.DataFrame(rows)
    limit = table.filter(pl.col("tail_weight") == 1.0)["mean_ratio"][0] + TAIL_RATIO_SLACK
    table = table.with_columns((pl.col("mean_ratio") <= limit).alias("eligible")).sort(
        ["eligible", "mean_TS", "tail_weight"], descending=[True, True, False], nulls_last=True
    )
    return float(table["tail_weight"][0]), table


THREAT_POST_MIN_GAIN = 0.02
"""The smallest rise of the folds' mean D+1 TS > 150 for which :func:`choose_post_for_threat` gives up the
RMSE-chosen post-processing (the gain the Tweedie and advection rules asked for, docs/forecast.md §2)."""


def choose_post_for_threat(
    results: Mapping[float, Mapping[str, pl.DataFrame]], tail_weight: float
) -> tuple[float, float, bool, pl.DataFrame]:
    """The D+1 post-processing chosen for the heavy-pollution threat score within the RMSE budget.

    The rule was written down and committed before any fold was scored with it (twenty-sixth session,
    docs/forecast.md §2). The tail weight spent part of an RMSE budget on TS: D+1 may be at most
    :data:`TAIL_RATIO_SLACK` worse (mean fold ratio to damped persistence) than the unweighted model with its own
    RMSE-chosen (λ, w). Here the rest of that budget goes to the anomaly inflation: at ``tail_weight``, among the
    grid pairs whose mean fold ratio stays within the budget, the pair with the highest mean fold TS > 150 is
    taken (ties: smaller λ, then larger w). It replaces the RMSE-chosen pair (:func:`choose_post`) only if its mean
    TS is at least :data:`THREAT_POST_MIN_GAIN` higher and its TS is no lower on any fold.

    Parameters
    ----------
    results : per tail weight, the D+1 :func:`post_grid` table of each fold; 1.0 and ``tail_weight`` must be present
    tail_weight : the daily models' tail weight of the protocol

    Returns
    -------
    (λ, w, adopted, table): the pair to use (the RMSE-chosen one when not adopted), whether the threat-score pair
    was adopted, and the eligible pairs at ``tail_weight``, best TS first, with ``mean_ratio`` and ``mean_TS``.
    """
    for tw in (1.0, tail_weight):
        if tw not in results:
            raise ValueError(f"tail weight {tw:g} is needed: the budget is the unweighted run's, the grid the protocol")
    limit = float(choose_post(results[1.0])[2]["mean_ratio"][0]) + TAIL_RATIO_SLACK
    folds = list(results[tail_weight])
    lam0, w0, table = choose_post(results[tail_weight])
    table = table.with_columns(pl.mean_horizontal([f"TS_{f}" for f in folds]).alias("mean_TS"))
    current = table.row(0, named=True)
    eligible = table.filter(pl.col("mean_ratio") <= limit).sort(
        ["mean_TS", "inflation", "weight"], descending=[True, False, True], nulls_last=True
    )
    if eligible.is_empty():
        return lam0, w0, False, eligible
    best = eligible.row(0, named=True)
    adopted = best["mean_TS"] >= current["mean_TS"] + THREAT_POST_MIN_GAIN and all(
        best[f"TS_{f}"] >= current[f"TS_{f}"] for f in folds
    )
    if not adopted:
        return lam0, w0, False, eligible
    return float(best["inflation"]), float(best["weight"]), True, eligible


def inner_fold_pairs(
    data_dir: Path,
    config: ProtocolConfig | None = None,
    folds: Sequence[str] = tuple(INNER_FOLDS),
    *,
    daily_only: bool = False,
) -> dict[str, dict[tuple[str, str], Pairs]]:
    """Run each inner fold of the Beijing protocol (all 8 stations scored, weather mode ``none``, the protocol's
    refit, no post-processing) and return its pairs per (kind, horizon): hourly 24 h and daily D+1, or D+1 only."""
    frames, coords = load_beijing(data_dir)
    cfg = replace(
        beijing_config(config or ProtocolConfig()),
        hourly_leads=() if daily_only else (24,),
        daily_horizons=(1,),
        quantiles=(),
        neighbour_km=80.0,
        stations_to_score=None,
        post=(),
    )
    return {f: run_protocol(frames, *INNER_FOLDS[f], "none", config=cfg, coords=coords).pairs for f in folds}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bogda.forecast.tuning", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    ap.add_argument("--refit", choices=["once", "month"], default=None, help="default: the protocol's")
    ap.add_argument("--top", type=int, default=6, help="grid rows printed per horizon")
    ap.add_argument(
        "--tail-weights",
        default=None,
        help="comma-separated daily tail weights (e.g. 1,2,3): choose the daily models' tail weight for the D+1 "
        "threat score instead of the post-processing of both horizons (daily D+1 runs only)",
    )
    ap.add_argument(
        "--tail-quantile",
        type=float,
        default=None,
        help=f"with --tail-weights: the quantile of the training targets above which rows are weighted (default: "
        f"the profile's {PROTOCOL.tail_quantile}, the top 15 %%; 0.90, 0.80 and 0.75 were tried, docs §2)",
    )
    ap.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"bagging seeds averaged per model (default: the protocol's {PROTOCOL.n_seeds}); 9 was tried (docs §2)",
    )
    ap.add_argument(
        "--daily-objective",
        choices=["regression", "tweedie"],
        default=None,
        help="with --tail-weights: the daily mean models' loss (default: the profile's L2; tweedie was tried, docs §2)",
    )
    ap.add_argument(
        "--advection",
        action="store_true",
        help="the daily models' gradient and advective tendency of the target (ProtocolConfig.advection; docs §2)",
    )
    ap.add_argument(
        "--post-for-threat",
        type=float,
        default=None,
        metavar="TAIL_WEIGHT",
        help="with --tail-weights (1 and this weight among them): choose the D+1 post-processing for the threat "
        "score within the RMSE budget at this tail weight (choose_post_for_threat; docs §2)",
    )
    ap.add_argument(
        "--heating-season",
        type=_season,
        default=None,
        help="MM-DD:MM-DD: the models' heating-season flag (ProtocolConfig.heating; Beijing 11-15:03-15, docs §2)",
    )
    args = ap.parse_args(argv)
    if args.tail_weights:
        return _tail_main(args)
    folds = inner_fold_pairs(args.data, _base_config(args))
    chosen = []
    for horizon, kind in HORIZONS.items():
        lam, w, table = choose_post({f: post_grid(p[(kind, horizon)]) for f, p in folds.items()})
        raw = table.filter((pl.col("inflation") == 1.0) & (pl.col("weight") == 1.0))
        with pl.Config(tbl_rows=args.top + 1, tbl_cols=-1, float_precision=4):
            print(f"{horizon}: chosen λ = {lam}, w = {w}\n{table.head(args.top)}\nunprocessed:\n{raw}")
        chosen.append((horizon, lam, w))
    print(f"PROTOCOL_POST = {tuple(chosen)!r}")
    return 0


def _base_config(args: argparse.Namespace) -> ProtocolConfig:
    profile = PROTOCOL if args.seeds is None else replace(PROTOCOL, n_seeds=args.seeds)
    q = getattr(args, "tail_quantile", None)
    if q is not None:
        if not 0.0 < q < 1.0:
            raise SystemExit(f"--tail-quantile {q}: expected a quantile between 0 and 1")
        profile = replace(profile, tail_quantile=q)
    return ProtocolConfig(
        refit=args.refit,
        profile=profile,
        advection=bool(getattr(args, "advection", False)),
        heating=getattr(args, "heating_season", None),
    )


def _season(text: str) -> HeatingSeason:
    """argparse type of ``--heating-season`` (a bad value is a usage error naming it)."""
    try:
        return parse_heating_season(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _tail_main(args: argparse.Namespace) -> int:
    try:
        weights = tuple(float(v) for v in args.tail_weights.split(","))
    except ValueError:
        raise SystemExit(f"--tail-weights {args.tail_weights!r}: expected numbers separated by commas") from None
    base = _base_config(args)
    results = {}
    for tw in weights:
        daily = replace(base.profile, tail_weight=tw)
        if args.daily_objective:
            daily = replace(daily, objective=args.daily_objective)
        cfg = replace(base, daily_profile=daily)
        folds = inner_fold_pairs(args.data, cfg, daily_only=True)
        results[tw] = {f: post_grid(p[("daily", "D+1")]) for f, p in folds.items()}
    chosen, table = choose_tail_weight(results)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, float_precision=4):
        print(table)
        print(f"daily tail_weight = {chosen}")
        if args.post_for_threat is not None:
            lam, w, adopted, eligible = choose_post_for_threat(results, args.post_for_threat)
            print(f"D+1 pairs within the RMSE budget at tail weight {args.post_for_threat:g}:")
            print(eligible.head(args.top))
            print(f"D+1 post-processing for the threat score: λ = {lam}, w = {w} ({'adopted' if adopted else 'kept'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
