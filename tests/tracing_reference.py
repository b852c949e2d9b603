"""The Baltimore reference run (shared/data/source_apportionment) as a stored-run record, without ESAT.

ESAT 2025.0.1's outputs on the EPA PMF 5.0 Baltimore example (profiles H, contributions W, Q) are in
``reference_run/``; :func:`baltimore_record` feeds them through the same :func:`bogda.tracing.esat.summarise` a
live run goes through, so tests of storage, adoption, the API and the console need no ESAT environment.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from bogda.tracing import apportionment as ap
from bogda.tracing import esat
from sharedata import require_shared

REFERENCE_SETTINGS = ap.Settings(factors=6, models=10, seed=42, bootstrap_n=0)
"""The reference run's settings (``baltimore_6f_run.json``)."""


def baltimore_pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = require_shared("source_apportionment", "esat_examples")
    return (
        ap.read_matrix(folder / "Dataset-Baltimore_con.txt"),
        ap.read_matrix(folder / "Dataset-Baltimore_unc.txt"),
    )


def baltimore_record() -> dict[str, Any]:
    ref = require_shared("source_apportionment", "reference_run")
    run = json.loads((ref / "baltimore_6f_run.json").read_text(encoding="utf-8"))
    conc, unc = baltimore_pair()
    prep = esat.prepare(conc, unc, REFERENCE_SETTINGS)
    profiles = pd.read_csv(ref / "baltimore_6f_profiles.csv", index_col=0)
    contributions = pd.read_csv(ref / "baltimore_6f_contributions.csv", index_col=0)
    worker = {
        "esat_version": run["esat_version"],
        "best_model": run["best_model"],
        "Qtrue": run["Qtrue"],
        "Qrobust": run["Qrobust"],
        "models": [{"model": i, "Qtrue": q} for i, q in enumerate(run["Q_all"])],
        "cores": 2,
        "train_seconds": run["train_seconds_2cores"],
        "bootstrap": None,
    }
    return esat.summarise(prep, REFERENCE_SETTINGS, worker, profiles, contributions)
