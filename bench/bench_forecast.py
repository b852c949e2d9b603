"""Benchmark: training all horizons for 50 stations, and a forecast refresh (forecast.md §7).

Synthetic data of the stated size: 50 stations × 3 years hourly, one pollutant (PM2.5) with the other five and
weather as inputs; profile ``fast``, one thread, feature building included; 5 hourly lead blocks + D+1..D+7,
each ``mean`` + 3 quantiles. Prints the figures and the ratio against the 120 s target, and against scikit-learn's
HistGradientBoostingRegressor doing the same four fits for one set on the same rows (extrapolated to 12 sets).

Times are process CPU seconds (one thread), robust to other jobs sharing the machine; the wall time is printed
at the end. Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_forecast.py [n_stations] [n_days]``
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from bogda.forecast import baselines as bl
from bogda.forecast.features import (
    POLLUTANTS,
    WEATHER,
    DailyCache,
    FeatureContext,
    hourly_features,
    neighbour_table,
    panel_from_frame,
)
from bogda.forecast.models import (
    FAST,
    HOURLY_BLOCKS,
    hourly_training_rows,
    predict_daily,
    predict_hourly,
    train_daily,
    train_hourly,
)
from bogda.forecast.synthetic import synthetic_frame

TARGET_S = 120.0


def _clock() -> float:
    # CPU time of this single-threaded process: on a shared machine it is what an idle core would take.
    return time.process_time()


REFRESH_TARGET_S = 10.0


def main() -> None:
    wall0 = time.perf_counter()
    n_st = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    n_days = int(sys.argv[2]) if len(sys.argv) > 2 else 3 * 365
    t0 = _clock()
    frame, coords = synthetic_frame(n_stations=n_st, n_days=n_days, seed=0)
    t_gen = _clock() - t0

    t0 = _clock()
    panel = panel_from_frame(frame, [*POLLUTANTS, *WEATHER], coords=coords)
    y = panel.data["a34004"]
    train = np.ones(panel.n_hours, bool)
    d_train = np.ones(panel.n_days, bool)
    clim_h = bl.hourly_clim_array(panel, bl.climatology_month_hour(panel, y, train))
    dm = DailyCache(panel, list(POLLUTANTS), WEATHER)
    clim_d = bl.daily_clim_array(panel, bl.climatology_doy(panel, dm.mean["a34004"], d_train))
    nb = neighbour_table(panel.stations, coords)
    ctx = FeatureContext(panel, "a34004", nb, clim_h, clim_d, WEATHER)
    t_prep = _clock() - t0

    t0 = _clock()
    hourly = train_hourly(ctx, train_start=0, train_end=panel.n_hours - 1, blocks=HOURLY_BLOCKS, profile=FAST)
    t_hourly = _clock() - t0
    t0 = _clock()
    daily = train_daily(ctx, dm, train_start_day=0, train_end_day=panel.n_days - 1, profile=FAST)
    t_daily = _clock() - t0
    total = t_prep + t_hourly + t_daily

    # Refresh: every station, leads 1..72 h and D+1..D+7 from the last hour (models loaded).
    t0 = _clock()
    s = np.arange(n_st)
    issue = np.full(n_st, panel.n_hours - 1)
    n_values = 0
    for lead in range(1, 73):
        out = predict_hourly(hourly, ctx, s, issue, lead)
        n_values += out["mean"].size * 4
    for k in range(1, 8):
        out = predict_daily(daily, ctx, dm, s, np.full(n_st, panel.n_days - 1), k)
        n_values += out["mean"].size * 4
    t_refresh = _clock() - t0

    # Baseline: scikit-learn HistGradientBoosting, same rows and rounds, one set (mean + 3 quantiles).
    t_skl = float("nan")
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor

        ss, tt, ll = hourly_training_rows(
            ctx, HOURLY_BLOCKS[2], train_start=0, train_end=panel.n_hours - 1, max_rows=FAST.max_rows
        )
        x, _ = hourly_features(ctx, ss, tt, ll)
        yy = ctx.cache.at("a34004", ss, tt + ll)
        ok = np.isfinite(yy)
        # scikit-learn's binning needs two distinct finite values per column
        cols = [j for j in range(x.shape[1]) if np.unique(x[ok, j][np.isfinite(x[ok, j])]).size > 1]
        x = x[:, cols]
        t0 = _clock()
        common = dict(
            learning_rate=FAST.learning_rate,
            max_leaf_nodes=FAST.num_leaves,
            max_bins=FAST.max_bin,
            min_samples_leaf=FAST.min_child_samples,
            l2_regularization=FAST.lambda_l2,
            early_stopping=False,
            random_state=0,
        )
        HistGradientBoostingRegressor(max_iter=FAST.rounds_mean, **common).fit(x[ok], yy[ok])
        for q in (0.1, 0.5, 0.9):
            HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=FAST.rounds_quantile, **common).fit(
                x[ok], yy[ok]
            )
        t_skl = (_clock() - t0) * (len(HOURLY_BLOCKS) + 7) + t_prep
    except ImportError:
        pass

    rows = next(iter(hourly.values())).inputs["n_rows"]
    n_feat = len(next(iter(hourly.values())).feature_names)
    print(f"data: {n_st} stations × {n_days} days hourly ({panel.n_hours} h), generated in {t_gen:.1f} s")
    print(
        f"sets: {len(hourly)} hourly blocks + {len(daily)} daily horizons, each mean + 3 quantiles; "
        f"≤ {rows} rows × {n_feat} features per hourly set"
    )
    print(f"prepare (index, climatology, neighbours): {t_prep:6.1f} s")
    print(f"train hourly blocks:                       {t_hourly:6.1f} s")
    print(f"train daily D+1..D+7:                      {t_daily:6.1f} s")
    print(
        f"TRAIN TOTAL:                               {total:6.1f} s   target {TARGET_S:.0f} s   "
        f"ratio {total / TARGET_S:.2f} ({'met' if total < TARGET_S else 'NOT met'})"
    )
    print(
        f"REFRESH ({n_values} values, 72 h + 7 d):     {t_refresh:6.2f} s   target {REFRESH_TARGET_S:.0f} s   "
        f"ratio {t_refresh / REFRESH_TARGET_S:.3f}"
    )
    if np.isfinite(t_skl):
        print(
            f"baseline sklearn HistGradientBoosting, same sets (extrapolated): {t_skl:6.1f} s   "
            f"LightGBM speed-up ×{t_skl / total:.2f}"
        )

    print(f"wall time of the whole script: {time.perf_counter() - wall0:.1f} s")


if __name__ == "__main__":
    main()
