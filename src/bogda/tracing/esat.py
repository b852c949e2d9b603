"""Run an ESAT PMF job from the platform (governance.md §3.11): job folder in, subprocess, results out.

ESAT pins its own numpy, pandas, scipy and numba, so it is never imported here. :func:`apportion` prepares the
species (S/N, categories), writes ``conc.csv``, ``unc.csv`` and ``job.json`` to a job folder, runs
:mod:`bogda.tracing.esat_worker` with the ESAT environment's python (:func:`esat_python`) as a subprocess with
its output captured to ``esat.log`` (``BatchSA.train`` clears the screen and prints ANSI codes), and reads
``profiles.csv``, ``contributions.csv``, ``residuals.csv`` and ``run.json`` back into one JSON-ready record.

ESAT trains its models with ``multiprocessing`` (max(int(0.75·cores), 1) workers), so it runs in its own process,
never inside a forking web worker: the CLI (``bogda tracing apportion``) or a background job calls this.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bogda.tracing import apportionment as ap
from bogda.tracing.apportionment import ApportionmentError, Settings

ESAT_VERSION = "2025.0.1"
"""The ``esat`` release the worker is written and checked against (``esat-requirements.txt``)."""

WORKER = Path(__file__).with_name("esat_worker.py")
TIMEOUT_S = 3600.0
"""A run is killed after an hour (d): the Baltimore reference (630 × 17, 6 factors, 10 models) takes about 20 s."""


def esat_python(explicit: str | Path | None = None) -> Path:
    """The ESAT environment's python: ``explicit``, else the setting ``esat_python`` (``BOGDA_ESAT_PYTHON``), else
    ``.esat-venv/bin/python`` in the working directory (``make esat`` creates it). Raises
    :class:`ApportionmentError` saying how to install it when there is none."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    else:
        env = os.environ.get("BOGDA_ESAT_PYTHON")
        if env:
            candidates.append(Path(env))
        else:
            from bogda.config import get_settings

            configured = get_settings().esat_python
            if configured:
                candidates.append(Path(configured))
            candidates.append(Path.cwd() / ".esat-venv" / "bin" / "python")
    for c in candidates:
        if c.is_file():
            return c
    raise ApportionmentError(
        f"no ESAT environment at {', '.join(map(str, candidates))}: run `make esat` (installs esat {ESAT_VERSION} "
        "into .esat-venv from esat-requirements.txt) or set BOGDA_ESAT_PYTHON"
    )


def run_worker(job_dir: Path, python: Path, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """Run the worker on a prepared job folder; returns its ``run.json``. A non-zero exit or a timeout raises
    :class:`ApportionmentError` with the exit code and the last lines of ``esat.log``."""
    log = job_dir / "esat.log"
    # -I (isolated): the worker's own folder must not be on sys.path, or this module (esat.py) would shadow the
    # ``esat`` package; it also ignores PYTHON* variables of the platform's environment.
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    with log.open("wb") as out:
        try:
            proc = subprocess.run(
                [str(python), "-I", "-u", str(WORKER), str(job_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                env=env,
                cwd=job_dir,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ApportionmentError(f"ESAT run in {job_dir} timed out after {timeout:.0f} s (log: {log})") from exc
        except OSError as exc:
            raise ApportionmentError(f"cannot start the ESAT worker with {python}: {exc}") from exc
    if proc.returncode != 0:
        tail = _log_tail(log)
        raise ApportionmentError(f"ESAT worker exited with code {proc.returncode} (log: {log}): {tail}")
    try:
        return json.loads((job_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ApportionmentError(f"ESAT worker wrote no readable run.json in {job_dir}: {exc}") from exc


def _log_tail(log: Path, lines: int = 5) -> str:
    text = log.read_bytes().decode("utf-8", errors="replace")
    # Drop ANSI escape sequences and blank lines: BatchSA clears the screen around training.
    clean = [ln for ln in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).splitlines() if ln.strip()]
    return " | ".join(clean[-lines:]) or "(no output)"


def prepare(
    conc: pd.DataFrame,
    unc: pd.DataFrame,
    settings: Settings,
    *,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Check the pair, fill missing cells, compute S/N and categories; the species table and messages of a run.

    Raises :class:`ApportionmentError` for a bad pair, fewer than ``settings.min_samples`` samples, a factor count
    outside 2–20 or fewer species kept than factors.
    """
    ap.check_pair(conc, unc)
    if len(conc) < settings.min_samples:
        raise ApportionmentError(f"{len(conc)} samples: PMF needs at least {settings.min_samples} (governance §3.11)")
    if not 2 <= settings.factors <= 20:
        raise ApportionmentError(f"factors = {settings.factors}: choose 4–9 (2–20 accepted)")
    c, u, messages = ap.fill_missing(conc, unc)
    sn = ap.signal_to_noise(c, u)
    mass = ap.mass_column(list(c.columns))
    categories = ap.categorize(sn, mass=mass, overrides=overrides)
    kept = [s for s, cat in categories.items() if cat != "bad"]
    if len(kept) <= settings.factors:
        raise ApportionmentError(f"{len(kept)} species kept (S/N ≥ 0.5) for {settings.factors} factors: too few")
    if mass is None:
        messages.append("no total-mass column (PM2.5 or Mass): factor shares cannot be given in mass")
    species = [{"species": s, "category": categories[s], "sn": float(sn[s])} for s in c.columns]
    return {"conc": c, "unc": u, "categories": categories, "species": species, "mass": mass, "messages": messages}


def apportion(
    conc: pd.DataFrame,
    unc: pd.DataFrame,
    settings: Settings | None = None,
    *,
    overrides: Mapping[str, str] | None = None,
    heavy_days: set[Any] | None = None,
    python: str | Path | None = None,
    job_dir: str | Path | None = None,
    timeout: float = TIMEOUT_S,
) -> dict[str, Any]:
    """One PMF run from a concentration and an uncertainty matrix; the JSON-ready record stored by
    :func:`bogda.tracing.runs.store_run` (governance.md §3.11 "Store").

    Keys: ``settings``, ``species`` (category, S/N), ``messages``, ``esat`` (version, Q of every model, best
    model, seconds), ``q_true``, ``q_robust``, ``q_expected``, ``q_ratio`` (Q_true / Q_expected), ``profiles`` (H),
    ``contributions`` (W, per sample), ``fingerprints``, ``mass`` (PM2.5 by factor and share; groups ``all``,
    ``heating``, ``non_heating``, ``heavy``), ``heavy_basis``, ``residuals`` (share within ±3 per species),
    ``bootstrap`` (mapping per factor) and ``labels`` (suggested from the marker species).
    """
    settings = settings or Settings()
    prep = prepare(conc, unc, settings, overrides=overrides)
    py = esat_python(python)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bogda-esat-") as tmp:
        folder = Path(job_dir) if job_dir else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        prep["conc"].to_csv(folder / "conc.csv")
        prep["unc"].to_csv(folder / "unc.csv")
        (folder / "job.json").write_text(json.dumps(settings.job(prep["categories"]), indent=1), encoding="utf-8")
        run = run_worker(folder, py, timeout)
        profiles = pd.read_csv(folder / "profiles.csv", index_col=0)
        contributions = pd.read_csv(folder / "contributions.csv", index_col=0)
        scaled = pd.read_csv(folder / "residuals.csv", index_col=0)
    return summarise(prep, settings, run, profiles, contributions, scaled, heavy_days, time.time() - started)


def summarise(
    prep: Mapping[str, Any],
    settings: Settings,
    run: Mapping[str, Any],
    profiles: pd.DataFrame,
    contributions: pd.DataFrame,
    scaled: pd.DataFrame | None = None,
    heavy_days: set[Any] | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """The record of a finished run from the worker's outputs (pure: also used on stored reference outputs).

    Without the worker's ``scaled`` residuals they are computed here, (V − WH)/U with the weak species'
    uncertainty × 3, as ESAT weighs them."""
    samples = list(prep["conc"].index)
    if scaled is None:
        kept = list(profiles.columns)
        u = prep["unc"][kept] * [3.0 if prep["categories"][s] == "weak" else 1.0 for s in kept]
        fit = contributions.to_numpy(dtype=float) @ profiles.to_numpy(dtype=float)
        scaled = (prep["conc"][kept] - fit) / u.to_numpy()
    mass = prep["mass"]
    groups: dict[str, np.ndarray] = dict(ap.season_groups(samples))
    observed = prep["conc"][mass] if mass else None
    heavy_basis = None
    if mass is not None:
        groups["heavy"] = ap.heavy_mask(samples, prep["conc"][mass].to_numpy(), heavy_days)
        heavy_basis = "daily AQI > 200" if heavy_days is not None else "sample PM2.5 > 150 µg/m³ (IAQI 200)"
    prints = ap.fingerprints(profiles)
    mass_rows = ap.factor_mass(contributions, profiles, mass, groups, observed) if mass in profiles.columns else []
    boot = run.get("bootstrap")
    q_exp = ap.q_expected(prep["categories"], len(samples), int(profiles.shape[0]))
    return {
        "settings": {k: v for k, v in settings.job({}).items() if k != "categories"},
        "samples": len(samples),
        "first_sample": str(samples[0]),
        "last_sample": str(samples[-1]),
        "species": prep["species"],
        "mass_species": mass,
        "messages": list(prep["messages"]),
        "esat": {k: run.get(k) for k in ("esat_version", "best_model", "models", "cores", "train_seconds")},
        "q_true": float(run["Qtrue"]),
        "q_robust": float(run["Qrobust"]),
        "q_expected": q_exp,
        "q_ratio": float(run["Qtrue"]) / q_exp if q_exp > 0 else None,
        "profiles": _frame_json(profiles),
        "contributions": _frame_json(contributions),
        "fingerprints": _frame_json(prints),
        "mass": mass_rows,
        "heavy_basis": heavy_basis,
        "residuals": ap.residual_check(scaled),
        "bootstrap": None if not boot else ap.bootstrap_check(boot["mapped_runs"], int(boot["runs"])),
        "labels": ap.suggest_labels(prints),
        "seconds": None if seconds is None else round(float(seconds), 2),
    }


def _frame_json(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "index": [str(i) for i in frame.index],
        "columns": [str(c) for c in frame.columns],
        "data": np.round(frame.to_numpy(dtype=float), 8).tolist(),
    }


def frame_of(payload: Mapping[str, Any]) -> pd.DataFrame:
    """Inverse of the stored ``profiles`` / ``contributions`` / ``fingerprints`` records."""
    return pd.DataFrame(payload["data"], index=payload["index"], columns=payload["columns"])
