"""Live ESAT runs through the worker in its own environment (``make esat``; governance.md §3.11, §8 check 4).

The ESAT environment is built by ``make test`` (it depends on ``make esat``); without it these tests skip with
the reason, except under ``CI=true``, where a missing environment is a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bogda.tracing import apportionment as ap
from bogda.tracing import esat
from bogda.tracing.apportionment import ApportionmentError
from sharedata import ROOT, require_shared

ESAT_PYTHON = ROOT / ".esat-venv" / "bin" / "python"


@pytest.fixture(scope="module")
def esat_python() -> Path:
    if not ESAT_PYTHON.is_file():
        reason = f"no ESAT environment at {ESAT_PYTHON} (make esat)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required under CI=true)")
        pytest.skip(reason)
    return ESAT_PYTHON


def _stlouis() -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = require_shared("source_apportionment", "esat_examples")
    return ap.read_matrix(folder / "Dataset-StLouis-con.csv"), ap.read_matrix(folder / "Dataset-StLouis-unc.csv")


@pytest.mark.slow
def test_stlouis_smoke_same_q_twice(esat_python: Path, tmp_path: Path) -> None:
    # governance.md §8 check 4, CI smoke test: St. Louis 418 × 13, 5 factors, 4 models: seconds, same Q twice
    conc, unc = _stlouis()
    assert conc.shape == (418, 13)
    settings = ap.Settings(factors=5, models=4, bootstrap_n=4)
    first = esat.apportion(conc, unc, settings, python=esat_python, job_dir=tmp_path / "job")
    second = esat.apportion(conc, unc, settings, python=esat_python)
    assert first["q_true"] == second["q_true"] and first["q_robust"] == second["q_robust"]
    assert first["esat"]["esat_version"] == esat.ESAT_VERSION
    assert len(first["esat"]["models"]) == 4
    assert first["mass_species"] == "Mass"
    assert {r["factor"] for r in first["mass"]} == {"F1", "F2", "F3", "F4", "F5"}
    assert [b["factor"] for b in first["bootstrap"]] == ["F1", "F2", "F3", "F4", "F5"]
    assert all(0 <= b["mapped"] <= 4 for b in first["bootstrap"])
    # the job folder keeps what went in and came out, and the log of ESAT's screen output
    for name in ("conc.csv", "unc.csv", "job.json", "run.json", "profiles.csv", "contributions.csv", "esat.log"):
        assert (tmp_path / "job" / name).is_file(), name
    w = pd.read_csv(tmp_path / "job" / "contributions.csv", index_col=0)
    h = pd.read_csv(tmp_path / "job" / "profiles.csv", index_col=0)
    assert w.shape == (418, 5) and h.shape[0] == 5
    assert np.all(w.to_numpy() >= 0) and np.all(h.to_numpy() >= 0)  # non-negative factorisation


@pytest.mark.slow
def test_baltimore_reproduces_the_reference_run(esat_python: Path) -> None:
    # governance.md §8 check 4: its settings give Q_true 11170.49, Q_robust 10060.25, best model 4 (0-based),
    # 10 models 11,170.49–13,926.04; other CPUs ±0.5 % on Q, factors matched by cosine similarity to the profiles
    ref_dir = require_shared("source_apportionment", "reference_run")
    ref = json.loads((ref_dir / "baltimore_6f_run.json").read_text(encoding="utf-8"))
    folder = require_shared("source_apportionment", "esat_examples")
    conc = ap.read_matrix(folder / "Dataset-Baltimore_con.txt")
    unc = ap.read_matrix(folder / "Dataset-Baltimore_unc.txt")
    rec = esat.apportion(conc, unc, ap.Settings(factors=6, models=10, bootstrap_n=0), python=esat_python)
    assert rec["q_true"] == pytest.approx(11170.49, rel=0.005)
    assert rec["q_robust"] == pytest.approx(10060.25, rel=0.005)
    qs = [m["Qtrue"] for m in rec["esat"]["models"]]
    assert min(qs) == pytest.approx(11170.49, rel=0.005) and max(qs) == pytest.approx(13926.04, rel=0.005)
    profiles = esat.frame_of(rec["profiles"])
    reference = pd.read_csv(ref_dir / "baltimore_6f_profiles.csv", index_col=0)
    assert list(profiles.columns) == ref["features"] == list(reference.columns)
    a = profiles.to_numpy() / np.linalg.norm(profiles.to_numpy(), axis=1, keepdims=True)
    b = reference.to_numpy() / np.linalg.norm(reference.to_numpy(), axis=1, keepdims=True)
    cos = a @ b.T
    match = cos.argmax(axis=1)
    assert sorted(match) == list(range(6)) and cos.max(axis=1).min() > 0.99
    mass = {r["factor"]: r["mass"] for r in rec["mass"] if r["group"] == "all"}
    for k, value in enumerate((0.48, 4.32, 0.13, 1.99, 1.46, 5.69)):
        own = profiles.index[list(match).index(k)]
        assert mass[own] == pytest.approx(value, abs=0.05), own


def test_a_bad_job_fails_with_the_worker_message(esat_python: Path, tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text("{}", encoding="utf-8")
    pd.DataFrame({"a": [1.0]}, index=["s"]).to_csv(tmp_path / "conc.csv")
    pd.DataFrame({"a": [1.0], "b": [1.0]}, index=["s"]).to_csv(tmp_path / "unc.csv")
    with pytest.raises(ApportionmentError, match=r"exited with code 2 .*differ in shape or species order"):
        esat.run_worker(tmp_path, esat_python)


def test_no_esat_environment_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ApportionmentError, match="run `make esat`"):
        esat.esat_python(tmp_path / "nowhere" / "python")


@pytest.mark.slow
def test_cli_apportion_store_and_adopt(esat_python: Path, tmp_path: Path) -> None:
    from bogda.cli import app
    from bogda.store import connect
    from bogda.store.schema import place

    url = f"sqlite:///{tmp_path / 'b.db'}"
    st = connect(url)
    with st.begin() as conn:
        conn.execute(place.insert().values(code="652300", name="昌吉州", level=1, kind="prefecture"))
    folder = require_shared("source_apportionment", "esat_examples")
    runner = CliRunner()
    args = ["tracing", "apportion", str(folder / "Dataset-StLouis-con.csv"), str(folder / "Dataset-StLouis-unc.csv")]
    opts = ["--factors", "5", "--models", "4", "--bootstrap", "0", "--area", "652300", "--site", "St. Louis"]
    res = runner.invoke(app, [*args, *opts, "--esat-python", str(esat_python), "--database-url", url])
    assert res.exit_code == 0, res.output
    assert "stored as run #1" in res.output and "Q(expected)" in res.output
    res = runner.invoke(app, ["tracing", "runs", "--database-url", url])
    assert res.exit_code == 0 and "St. Louis" in res.output
    labels = ["--label", "F1=sulfate", "--label", "F2=nitrate", "--label", "F3=traffic", "--label", "F4=coal"]
    res = runner.invoke(app, ["tracing", "adopt", "1", *labels, "--database-url", url])
    assert res.exit_code == 1 and "factors without a label: F5" in res.output
    res = runner.invoke(app, ["tracing", "adopt", "1", *labels, "--label", "F5=industry", "--database-url", url])
    assert res.exit_code == 0, res.output
    assert "source shares stored" in res.output
    # a failed run is stored too, with its reason
    res = runner.invoke(
        app, [*args, "--factors", "30", "--esat-python", str(esat_python), "--database-url", url, "--site", "bad"]
    )
    assert res.exit_code == 1 and "choose 4–9" in res.output and "failed run stored as #2" in res.output
    st.dispose()


@pytest.mark.slow
def test_a_submitted_run_is_run_by_the_job(esat_python: Path, tmp_path: Path) -> None:
    from bogda.store import connect
    from bogda.timeutil import now_utc
    from bogda.tracing import runs

    st = connect(f"sqlite:///{tmp_path / 'b.db'}")
    conc, unc = _stlouis()
    rid = runs.submit_run(
        st, conc, unc, ap.Settings(factors=5, models=4, bootstrap_n=0), site="St. Louis", data_dir=tmp_path
    )
    assert runs.queued_job(st, now_utc(), python=esat_python) == 1
    run = runs.get_run(st, rid)
    assert run["status"] == "done", run["error"]
    assert run["q_true"] == run["result"]["q_true"] and run["started_at"] <= run["finished_at"]
    assert run["result"]["heavy_basis"].startswith("sample PM2.5")  # no area, no stored AQI
    assert (Path(run["job_dir"]) / "job" / "esat.log").is_file()
    assert runs.queued_job(st, now_utc(), python=esat_python) == 0
    st.dispose()
