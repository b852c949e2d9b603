"""Benchmark: what the deployment gate adds to the nightly training (forecast.md §3.4, docs/forecast.md §6.2).

Synthetic data: 50 stations × (3 years + 92 days) hourly, PM2.5 with the other pollutants and weather as inputs,
profile ``fast``, one thread. Measures the candidate's training (the baseline: what a night costs without the
gate), the probe's training (the same configuration, data ending before the 90-day window) and the probe's
forecasts at the gate horizons (:data:`bogda.forecast.gate.HORIZONS`: hourly 1, 6, 24, 48, 72 h and daily D+1..D+7,
one issue a day over the window), and prints the gate's overhead as a ratio to the training. CPU seconds of this
process. Run:
``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_forecast_gate.py [n_stations]``
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bogda.forecast import gate
from bogda.forecast import operational as op
from bogda.forecast.features import panel_from_frame
from bogda.forecast.synthetic import synthetic_frame


def main() -> None:
    wall0 = time.perf_counter()
    n_st = int(sys.argv[1]) if len(sys.argv) > 1 else 50
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
