"""Benchmark: the ESAT Baltimore reference run through the platform (governance.md §3.11 / §7: "ESAT Baltimore
reference ≤ 90 s (measured 55–61 s), background").

The EPA PMF 5.0 Baltimore example (630 samples × 17 species kept, 6 factors, 10 models, seed 42) runs once through
``bogda.tracing.esat.apportion`` — S/N and categories, job folder, the worker subprocess in ``.esat-venv``, reading
and summarising the outputs — and once as the bare worker on the same job folder (the ESAT training alone), so
the platform's overhead is the difference. Prints wall seconds, Q(true) against the reference 11170.49, and the
ratios against the 90 s target and against the reference file's own 2-core time (55.2 s). A second run with 20
block-bootstrap runs (the §3.11 default) gives the full default job's time. Run (after ``make esat``):
``.venv/bin/python bench/bench_apportionment.py [--no-bootstrap]``
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bogda.tracing import apportionment as ap
from bogda.tracing import esat

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "source_apportionment"
TARGET_S = 90.0
REFERENCE_Q = 11170.49
REFERENCE_S = 55.2  # the reference run's own time (baltimore_6f_run.json, 2 cores)


def main() -> None:
    py = esat.esat_python(ROOT / ".esat-venv" / "bin" / "python")
    conc = ap.read_matrix(DATA / "esat_examples" / "Dataset-Baltimore_con.txt")
    unc = ap.read_matrix(DATA / "esat_examples" / "Dataset-Baltimore_unc.txt")
    settings = ap.Settings(factors=6, models=10, bootstrap_n=0)
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp) / "job"
        t0 = time.perf_counter()
        rec = esat.apportion(conc, unc, settings, python=py, job_dir=job)
        platform_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        run = esat.run_worker(job, py)
        worker_s = time.perf_counter() - t0
    print(f"Baltimore 630 × {len(esat.frame_of(rec['profiles']).columns)} species, 6 factors, 10 models, seed 42")
    print(f"  platform path (prepare + worker + summarise): {platform_s:6.1f} s   Q(true) {rec['q_true']:.2f}")
    print(f"  bare worker on the same job folder:          {worker_s:6.1f} s   Q(true) {run['Qtrue']:.2f}")
    print(f"  ESAT training inside the worker:             {run['train_seconds']:6.1f} s")
    print(f"  Q(true) / reference {REFERENCE_Q}: {rec['q_true'] / REFERENCE_Q:.5f}")
    print(f"  overhead platform / bare worker: {platform_s / worker_s:.3f}")
    print(f"  ratio to the {TARGET_S:.0f} s target: {platform_s / TARGET_S:.3f}")
    print(f"  ratio to the reference file's {REFERENCE_S} s: {platform_s / REFERENCE_S:.3f}")
    if "--no-bootstrap" not in sys.argv:
        t0 = time.perf_counter()
        boot = esat.apportion(conc, unc, ap.Settings(factors=6, models=10, bootstrap_n=20), python=py)
        boot_s = time.perf_counter() - t0
        mapped = ", ".join(f"{b['factor']} {b['share']:.0%}" for b in boot["bootstrap"])
        print(f"  with 20 bootstrap runs: {boot_s:6.1f} s (ratio to target {boot_s / TARGET_S:.3f}); mapped {mapped}")
    print(json.dumps({"platform_s": round(platform_s, 2), "worker_s": round(worker_s, 2), "target_s": TARGET_S}))


if __name__ == "__main__":
    main()
