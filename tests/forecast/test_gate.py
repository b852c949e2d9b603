"""The deployment gate (forecast.md §3.4): a new model set replaces the one in service only if it is not worse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from bogda.forecast import gate
from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast.features import panel_from_frame
from bogda.forecast.models import FAST
from bogda.forecast.synthetic import synthetic_frame
from bogda.store import Store
from bogda.store.schema import forecast, forecast_run


def _pairs(n: int, *, new_err: float, cur_err: float | None, band: float, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    obs = rng.gamma(2.0, 30.0, n)
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)  # errors of exactly ±err: RMSE = MAE = err
    new = obs + new_err * sign
    return pl.DataFrame(
        {
            "item": ["a34004"] * n,
            "resolution": ["hour"] * n,
            "lead": [24] * n,
            "obs": obs,
            "new_mean": new,
            "new_p10": new - band,
            "new_p90": new + band,
            "current_mean": None if cur_err is None else obs - cur_err * sign,
        },
        schema_overrides={"current_mean": pl.Float64},
    )


def test_judge_allows_one_percent_and_checks_coverage() -> None:
    # 1 % worse: inside the tolerance (coverage not judged here: every observation lies inside the band)
    (ok,) = gate.judge(_pairs(200, new_err=10.1, cur_err=10.0, band=20.0), coverage=(0.0, 1.0))
    assert ok.passed and ok.n == 200 and ok.rmse_new == pytest.approx(10.1) and ok.mae_current == pytest.approx(10.0)
    (worse,) = gate.judge(_pairs(200, new_err=10.3, cur_err=10.0, band=20.0), coverage=(0.0, 1.0))
    assert not worse.passed and "RMSE 10.30 > 1.01 × 10.00" in worse.reason and "MAE" in worse.reason
    # every observation inside the band: coverage 1.0, outside 75–85 %
    (wide,) = gate.judge(_pairs(200, new_err=5.0, cur_err=10.0, band=50.0))
    assert not wide.passed and wide.coverage_new == 1.0 and "coverage 1.000 outside 0.75–0.85" in wide.reason
    # errors of ±10 against a band of ±9.5 around the forecast: every observation outside
    (narrow,) = gate.judge(_pairs(200, new_err=10.0, cur_err=10.0, band=9.5))
    assert not narrow.passed and narrow.coverage_new == 0.0


def test_judge_without_enough_record_checks_coverage_only() -> None:
    frame = _pairs(200, new_err=10.0, cur_err=None, band=20.0)
    (c,) = gate.judge(frame, coverage=(0.0, 1.0))
    assert c.passed and c.n == 0 and c.rmse_current is None and "0 pairs with the record (< 100)" in c.reason


def test_decide() -> None:
    good = gate.Check("a34004", "hour", 24, 200, 10.0, 10.0, 8.0, 8.0, 0.8, True, "")
    bad = gate.Check("a34004", "day", 1, 200, 12.0, 10.0, 8.0, 8.0, 0.8, False, "RMSE")
    assert gate.decide([good, bad], has_current=True) == (False, "rejected: a34004 1d failed")
    assert gate.decide([good], has_current=True)[0]
    assert gate.decide([bad], has_current=False)[0]  # the first set: nothing to keep
    assert not gate.decide([], has_current=True)[0]


@pytest.fixture(scope="module")
def trained() -> tuple[object, op.OperationalModels, op.OperationalModels]:
    frame, coords = synthetic_frame(4, 420, seed=5)
    panel = panel_from_frame(frame, list(op.HOURLY_ITEMS), coords=coords)
    small = FAST.__class__("test", learning_rate=0.1, rounds_mean=30, rounds_quantile=20, max_rows=4000)
    kw = {"profile": small, "blocks": ((1, 1), (2, 24)), "horizons": (1,), "min_days": 200}
    candidate, _ = op.train_operational(panel, ["a34004"], **kw)
    probe, _ = op.train_operational(panel, ["a34004"], train_end=panel.n_days - 2 - 30, **kw)
    assert candidate is not None and probe is not None
    return panel, candidate, probe


def _write_record(store: Store, pairs: pl.DataFrame, mean: np.ndarray) -> None:
    """An operational run per issue time holding the served method (with p10/p90) and a baseline beside it."""
    with store.begin() as conn:
        for (issue,), g in pairs.group_by("issue_time", maintain_order=True):
            run_id = conn.execute(
                forecast_run.insert()
                .values(issue_time=issue, kind="operational", status="ok", created_at=issue)
                .returning(forecast_run.c.id)
            ).scalar_one()
            rows = []
            for r, m in zip(g.iter_rows(named=True), mean[g["__row"].to_numpy()], strict=True):
                lead = timedelta(hours=r["lead"]) if r["resolution"] == "hour" else timedelta(days=r["lead"])
                start = issue + lead
                base = {
                    "run_id": run_id,
                    "target_code": r["target_code"],
                    "target_kind": "station",
                    "item": r["item"],
                    "resolution": r["resolution"],
                    "valid_start": start,
                    "valid_end": start + timedelta(hours=1),
                    "lead": r["lead"],
                }
                rows.append({**base, "method": "lgbm_none", "mean": float(m), "p10": 0.0, "p90": 999.0})
                rows.append({**base, "method": "persistence", "mean": -1000.0, "p10": None, "p90": None})
            conn.execute(forecast.insert(), rows)


@pytest.mark.parametrize("record", ["perfect", "poor"])
def test_probe_against_the_record_of_the_set_in_service(store: Store, trained, record: str) -> None:
    panel, candidate, probe = trained
    first = panel.n_days - 2 - 30 + 1
    positions = gate.issue_positions(panel, first, panel.n_days - 2, candidate.issue_hour)
    new = gate.probe_pairs(panel, probe, ["a34004"], positions).with_row_index("__row")
    assert set(new["resolution"]) == {"hour", "day"} and new["issue_time"].n_unique() == len(positions)
    obs = new["obs"].to_numpy()
    # the record: perfect (the observations themselves) or poor (the probe's own forecast, 30 % too high)
    mean = np.nan_to_num(obs, nan=50.0) if record == "perfect" else new["new_mean"].to_numpy() * 1.3
    _write_record(store, new, mean)
    current = op.OperationalModels({}, (), "none", "fast", 16, datetime(2020, 1, 1, tzinfo=UTC), version="old")
    v = gate.evaluate(store, panel, candidate, probe, current, window_days=30, coverage=(0.0, 1.0), min_pairs=50)
    assert {(c.resolution, c.lead) for c in v.checks} == {("hour", 24), ("day", 1)}
    assert all(c.n >= 50 for c in v.checks)  # matched with the record (the baseline rows beside it are not read)
    if record == "perfect":
        assert not v.accept and all(c.rmse_current == pytest.approx(0.0) for c in v.checks)
    else:
        assert v.accept and all(c.rmse_new < c.rmse_current for c in v.checks), v
    assert v.window is not None and v.candidate == candidate.version and v.current == "old"


def _bundle(version: str) -> op.OperationalModels:
    return op.OperationalModels({}, (), "none", "fast", 16, datetime(2026, 1, 1, tzinfo=UTC), version=version)


def test_training_keeps_old_sets_and_rejected_ones(demo_store: Store, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "forecast" / "models.pkl"
    versions = iter(["v1", "v2", "v3"])

    def fit(panel, items, *, now=None, nwp=None, train_end=None):
        return (_bundle("probe") if train_end is not None else _bundle(next(versions))), []

    n, v = sv.train_gated(demo_store, path=path, fit_with=fit)
    assert n == 0 and v is not None and v.accept and "first" in v.reason  # an empty bundle: 0 items
    assert sv.load_models(path).version == "v1"
    verdicts = iter([gate.Verdict(True, "accepted: test"), gate.Verdict(False, "rejected: test")])
    monkeypatch.setattr(gate, "evaluate", lambda *a, **k: next(verdicts))
    sv.train_gated(demo_store, path=path, fit_with=fit)
    assert sv.load_models(path).version == "v2" and (path.parent / "archive" / "models-v1.pkl").is_file()
    n, v = sv.train_gated(demo_store, path=path, fit_with=fit)
    assert n == 0 and not v.accept
    assert sv.load_models(path).version == "v2" and (path.parent / "rejected" / "models-v3.pkl").is_file()
    reasons = [x["reason"] for x in gate.read_verdicts(path.parent / "gate.jsonl")]  # newest first
    assert reasons[:2] == ["rejected: test", "accepted: test"] and "first" in reasons[2] and len(reasons) == 3
