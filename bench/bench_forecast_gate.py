"""Benchmark: what the deployment gate adds to the nightly training (forecast.md §3.4, docs/forecast.md §6.2).

Synthetic data: 50 stations × (3 years + 92 days) hourly, PM2.5 with the other pollutants and weather as inputs,
profile ``fast``, one thread. Measures the candidate's training (the baseline: what a night costs without the
gate), the probe's training (the same configuration, data ending before the 90-day window) and the probe's
forecasts at the gate horizons (:data:`bogda.forecast.gate.HORIZONS`: hourly 1, 6, 24, 48, 72 h and daily D+1..D+7,
one issue a day over the window), and prints the gate's overhead as a ratio to the training. CPU seconds of this
process. Run:
``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_forecast_gate.py [n_stations]``

With ``--noise`` it measures instead how far the gate's figures move by chance (the ground for the decision rule in
:mod:`bogda.forecast.gate`): two probes of one configuration differing only in the seed, so of equal quality, are
judged against each other over the window, and a bootstrap over whole issue days gives the standard deviation of
every horizon's RMSE ratio and coverage and of the pooled ratios.
``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_forecast_gate.py --noise [n_stations]``
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import polars as pl

from bogda.forecast import gate
from bogda.forecast import operational as op
from bogda.forecast.features import panel_from_frame
from bogda.forecast.synthetic import synthetic_frame

KEYS = ["issue_time", "target_code", "item", "resolution", "lead"]


def noise(n_st: int, reps: int = 200) -> None:
    """Equal-quality sets judged against each other: the gate's figures under sampling noise alone."""
    frame, coords = synthetic_frame(n_stations=n_st, n_days=3 * 365 + 92, seed=0)
    panel = panel_from_frame(frame, list(op.HOURLY_ITEMS), coords=coords)
    end = panel.n_days - 2 - gate.WINDOW_DAYS
    a, _ = op.train_operational(panel, ["a34004"], train_end=end, seed=0)
    b, _ = op.train_operational(panel, ["a34004"], train_end=end, seed=1)
    assert a is not None and b is not None
    last = panel.n_days - 2
    positions = gate.issue_positions(panel, last - gate.WINDOW_DAYS + 1, last, a.issue_hour)
    other = gate.probe_pairs(panel, b, ["a34004"], positions).select(*KEYS, pl.col("new_mean").alias("current_mean"))
    pairs = gate.probe_pairs(panel, a, ["a34004"], positions).join(other, on=KEYS)
    checks = gate.judge(pairs)
    pooled = gate.pool(pairs, checks)
    print(f"stations {n_st}: seed 0 against seed 1 → {gate.decide(checks, has_current=True, pooled=pooled)}")
    for c in checks:
        print(
            f"  {c.resolution} {c.lead}: RMSE ×{c.rmse_new / c.rmse_current:.4f}, "
            f"MAE ×{c.mae_new / c.mae_current:.4f}, coverage {c.coverage_new:.3f}, {'passed' if c.passed else 'failed'}"
        )
    rng = np.random.default_rng(0)
    times = pairs["issue_time"].unique().sort()
    rows = []
    for _ in range(reps):  # whole issue days resampled: keeps the stations' correlation within a day
        pick = pl.DataFrame(
            {"issue_time": times.sample(len(times), with_replacement=True, seed=int(rng.integers(2**31)))}
        )
        bs = pick.join(pairs, on="issue_time")
        cs = gate.judge(bs, min_pairs=1)
        ps = gate.pool(bs, cs, coverage=(0.0, 1.0))
        rows.append(
            [c.rmse_new / c.rmse_current for c in cs] + [p.rmse_ratio for p in ps] + [c.coverage_new for c in cs]
        )
    r = np.array(rows, dtype=float)
    n = len(checks)
    print("bootstrap sd, per-horizon RMSE ratio:", np.round(r[:, :n].std(axis=0), 4).tolist())
    print("bootstrap sd, pooled RMSE ratio (hour, day):", np.round(r[:, n : n + 2].std(axis=0), 4).tolist())
    print("bootstrap sd, per-horizon coverage:", np.round(r[:, n + 2 :].std(axis=0), 4).tolist())


def main() -> None:
    wall0 = time.perf_counter()
    args = [a for a in sys.argv[1:] if a != "--noise"]
    n_st = int(args[0]) if args else 50
    if "--noise" in sys.argv[1:]:
        noise(n_st)
        return
    frame, coords = synthetic_frame(n_stations=n_st, n_days=3 * 365 + 92, seed=0)
    panel = panel_from_frame(frame, list(op.HOURLY_ITEMS), coords=coords)
    c0 = time.process_time()
    candidate, _ = op.train_operational(panel, ["a34004"])
    c_train = time.process_time() - c0
    c0 = time.process_time()
    probe, _ = op.train_operational(panel, ["a34004"], train_end=panel.n_days - 2 - gate.WINDOW_DAYS)
    c_probe = time.process_time() - c0
    assert candidate is not None and probe is not None
    last = panel.n_days - 2
    positions = gate.issue_positions(panel, last - gate.WINDOW_DAYS + 1, last, candidate.issue_hour)
    c0 = time.process_time()
    pairs = gate.probe_pairs(panel, probe, ["a34004"], positions)
    c_score = time.process_time() - c0
    overhead = c_probe + c_score
    print(f"stations {n_st}, issue days {len(positions)}, horizons {len(gate.HORIZONS)}, probe pairs {pairs.height}")
    print(f"candidate training (baseline): {c_train:.1f} s CPU")
    print(f"probe training: {c_probe:.1f} s CPU; probe forecasts over the window: {c_score:.1f} s CPU")
    print(f"gate overhead: {overhead:.1f} s CPU = {overhead / c_train:.2f} × the training")
    print(f"wall {time.perf_counter() - wall0:.1f} s")


if __name__ == "__main__":
    main()
