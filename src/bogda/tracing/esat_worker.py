"""ESAT PMF worker: runs in ESAT's own virtual environment, never inside the platform (governance.md §3.11).

``esat`` 2025.0.1 pins exact versions of numpy, pandas, scipy and numba that the platform does not share, so it
lives in its own venv (``make esat``: ``.esat-venv``) and this file is run there as a script::

    .esat-venv/bin/python esat_worker.py JOB_DIR

It imports nothing from ``bogda`` (the ESAT venv does not have it): the contract is the job folder.

In ``JOB_DIR``:

- ``conc.csv`` and ``unc.csv``: samples × species, first column the sample label, the same shape and order, the
  matrices exactly as the platform prepared them (``bogda.tracing.apportionment.prepare``): missing cells already
  replaced, no bad species removed (the worker sets the categories, so ESAT's own processing applies: ``bad``
  dropped, ``weak`` uncertainty × 3, zeros → the smallest float, float32);
- ``job.json``: ``categories`` {species: strong|weak|bad}, ``factors``, ``models``, ``method``, ``seed``,
  ``max_iter``, ``converge_delta``, ``converge_n``, ``cores`` (optional), ``bootstrap_n`` (0 = none),
  ``bootstrap_threshold``, ``bootstrap_block``.

Written back: ``profiles.csv`` (H: factors × kept species), ``contributions.csv`` (W: samples × factors),
``residuals.csv`` (uncertainty-scaled residuals (V − WH)/U of the best model), ``run.json`` (version, Q of every
model, the best model, seconds, bootstrap mapping). Exit code 0 on success; 2 on a bad job; 3 when training fails.
The caller captures stdout and stderr: ``BatchSA.train`` clears the screen and prints ANSI codes whatever
``verbose`` says.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _fail(code: int, message: str) -> None:
    print(f"esat_worker: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(job_dir: str) -> int:
    import importlib.metadata

    import numpy as np
    import pandas as pd
    from esat.data.datahandler import DataHandler
    from esat.model.batch_sa import BatchSA

    folder = Path(job_dir)
    try:
        job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
        conc = pd.read_csv(folder / "conc.csv", index_col=0)
        unc = pd.read_csv(folder / "unc.csv", index_col=0)
    except (OSError, ValueError) as exc:
        _fail(2, f"cannot read the job in {folder}: {exc}")
    if list(conc.columns) != list(unc.columns) or conc.shape != unc.shape:
        _fail(2, f"conc.csv {conc.shape} and unc.csv {unc.shape} differ in shape or species order")

    handler = DataHandler.load_dataframe(conc, unc)
    for species, category in job["categories"].items():
        if species not in conc.columns:
            _fail(2, f"category given for species {species!r}, which is not a column of conc.csv")
        handler.set_category(species, category)
    V, U = handler.get_data()
    features = [str(f) for f in handler.features]

    t0 = time.time()
    batch = BatchSA(
        V=V,
        U=U,
        factors=int(job["factors"]),
        models=int(job["models"]),
        method=str(job.get("method", "ls-nmf")),
        seed=int(job["seed"]),
        max_iter=int(job["max_iter"]),
        converge_delta=float(job["converge_delta"]),
        converge_n=int(job["converge_n"]),
        parallel=bool(job.get("parallel", True)),
        cores=job.get("cores"),
        verbose=False,
    )
    ok, message = batch.train()
    train_seconds = time.time() - t0
    if not ok or batch.best_model is None or batch.best_model < 0:
        _fail(3, f"ESAT training failed: {message or 'no best model'}")
    best = batch.results[batch.best_model]

    factors = [f"F{k + 1}" for k in range(best.H.shape[0])]
    pd.DataFrame(best.H, index=factors, columns=features).to_csv(folder / "profiles.csv")
    pd.DataFrame(best.W, index=conc.index, columns=factors).to_csv(folder / "contributions.csv")
    scaled = (V - best.W @ best.H) / U
    pd.DataFrame(scaled, index=conc.index, columns=features).to_csv(folder / "residuals.csv")

    bootstrap: dict[str, object] | None = None
    n_boot = int(job.get("bootstrap_n", 0) or 0)
    if n_boot > 0:
        from esat.error.bootstrap import Bootstrap

        t1 = time.time()
        boot = Bootstrap(
            sa=best,
            feature_labels=features,
            model_selected=batch.best_model,
            bootstrap_n=n_boot,
            block_size=int(job.get("bootstrap_block") or handler.optimal_block or 10),
            threshold=float(job.get("bootstrap_threshold", 0.6)),
            seed=int(job["seed"]),
            parallel=bool(job.get("parallel", True)),
        )
        boot.run()
        # Per base factor: in how many bootstrap runs some bootstrap factor mapped to it (EPA PMF 5.0's reading of
        # the mapping table; a base factor mapped in fewer than 80 % of runs is not a stable source).
        mapped = [0] * len(factors)
        for result in boot.bs_results.values():
            hit = {m["match"] for m in result["mapping"].values() if m["mapped"]}
            for k in hit:
                mapped[int(k)] += 1
        bootstrap = {
            "runs": n_boot,
            "threshold": float(job.get("bootstrap_threshold", 0.6)),
            "mapped_runs": mapped,
            "seconds": round(time.time() - t1, 2),
        }

    models = [
        {
            "model": i,
            "Qtrue": float(r.Qtrue),
            "Qrobust": float(r.Qrobust),
            "converged": bool(r.converged),
            "steps": int(r.converge_steps),
        }
        for i, r in enumerate(batch.results)
        if r is not None
    ]
    run = {
        "esat_version": importlib.metadata.version("esat"),
        "numpy_version": np.__version__,
        "features": features,
        "samples": int(V.shape[0]),
        "best_model": int(batch.best_model),
        "Qtrue": float(best.Qtrue),
        "Qrobust": float(best.Qrobust),
        "converged": bool(best.converged),
        "models": models,
        "cores": int(batch.cores),
        "train_seconds": round(train_seconds, 2),
        "bootstrap": bootstrap,
    }
    (folder / "run.json").write_text(json.dumps(run, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        _fail(2, "usage: esat_worker.py JOB_DIR")
    raise SystemExit(main(sys.argv[1]))
