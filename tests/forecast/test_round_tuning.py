"""Quarterly round tuning for the nightly training (forecast.md §3.4): "Retraining is nightly and reuses the round
counts from a quarterly tuning run (time-ordered early stopping; never a random split)"."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from bogda import jobs
from bogda.forecast import models
from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast.features import panel_from_frame
from bogda.forecast.models import FAST
from bogda.forecast.synthetic import synthetic_frame
from bogda.store import Store
from bogda.timeutil import now_utc
from forecast.episode import mini_region

SMALL = replace(FAST, name="test", learning_rate=0.1, rounds_mean=60, rounds_quantile=40, max_rows=4000)
TUNE = {"min_days": 100, "valid_days": 40, "patience": 10, "floor": 5, "blocks": ((1, 1), (2, 72)), "horizons": (1, 2)}


@pytest.fixture(scope="module")
def panel():
    frame, coords = synthetic_frame(4, 200, seed=3)
    return panel_from_frame(frame, list(op.HOURLY_ITEMS), coords=coords)


def test_rounds_from_best_clips_to_floor_and_cap() -> None:
    assert [op.rounds_from_best(b, 200) for b in (1, 18, 19, 100, 181, 182, 400)] == [20, 20, 21, 110, 200, 200, 200]
    assert op.rounds_from_best(1, 120, floor=5) == 5 and op.rounds_from_best(50, 30, floor=40) == 30  # cap wins
    with pytest.raises(ValueError, match="best iteration 0"):
        op.rounds_from_best(0, 200)


def test_tuned_counts_are_within_floor_and_caps(panel) -> None:
    tuned, reasons = op.tune_operational(panel, ["a34004"], profile=SMALL, now=datetime(2026, 3, 1, tzinfo=UTC), **TUNE)
    assert tuned is not None and not reasons
    assert set(tuned.sets) == {f"a34004/{h}/none" for h in ("1-1h", "2-72h", "D+1", "D+2")}
    assert tuned.caps == {"mean": 60, "quantile": 40} and tuned.floor == 5 and tuned.profile == "test"
    for key, counts in tuned.sets.items():
        best = tuned.best[key]
        assert set(best) == {"mean", "p10", "p50", "p90"}
        assert 5 <= counts["mean"] <= 60 and 5 <= counts["quantile"] <= 40
        assert counts["mean"] == op.rounds_from_best(best["mean"], 60, 5)
        assert counts["quantile"] == op.rounds_from_best(max(best["p10"], best["p50"], best["p90"]), 40, 5)
    # early stopping actually stopped somewhere: not every booster ran to its cap
    assert any(c["mean"] < 60 for c in tuned.sets.values())
    last = panel.day_of(panel.n_days - 1)
    assert tuned.window == {
        "first": panel.day_of(0).isoformat(),
        "valid_from": (last - timedelta(days=39)).isoformat(),
        "last": last.isoformat(),
    }
    # a round trip through JSON keeps everything
    assert op.TunedRounds.from_json(json.loads(json.dumps(tuned.to_json()))) == tuned


def test_early_stopping_learns_before_the_tail_and_stops_on_it(panel, monkeypatch) -> None:
    """The boosters never learn from the last ``valid_days``: their targets, and the climatology features, come from
    the days before; the validation rows are exactly the tail's (here every tail value is raised by 10 000)."""
    shifted = replace(panel, data={k: v.copy() for k, v in panel.data.items()})
    cut_day = panel.n_days - TUNE["valid_days"]
    shifted.data["a34004"][:, cut_day * 24 :] += 10_000.0
    seen: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    real = models.early_stopped

    def spy(params, train, valid, max_rounds, patience):
        clim = [i for i, n in enumerate(train.feature_name) if "clim" in n]
        assert clim  # the climatology features exist and are checked below
        seen.append((str(params["objective"]), train.get_label(), valid.get_label(), np.asarray(train.data)[:, clim]))
        return real(params, train, valid, max_rounds, patience)

    monkeypatch.setattr(models, "early_stopped", spy)
    tuned, _ = op.tune_operational(shifted, ["a34004"], profile=SMALL, **TUNE)
    assert tuned is not None and len(seen) == 4 * 4  # 4 sets × (mean + 3 quantiles)
    for _objective, learn, valid, clim in seen:
        assert learn.size > 100 and valid.size > 100
        assert learn.max() < 5_000 and valid.min() >= 10_000
        assert np.nanmax(clim) < 5_000  # the tail's level never reached the climatology of the learning rows
    assert {o for o, *_ in seen} == {"regression", "quantile"}


def test_training_uses_the_tuned_counts_per_set(panel) -> None:
    rounds = {"a34004/1-1h/none": {"mean": 7, "quantile": 9}, "a34004/D+1/none": {"mean": 500, "quantile": 500}}
    bundle, _ = op.train_operational(
        panel, ["a34004"], profile=SMALL, min_days=100, blocks=((1, 1), (2, 72)), horizons=(1, 2), rounds=rounds
    )
    m = bundle.items["a34004"]

    def trees(ms: models.ModelSet) -> tuple[int, int, str]:
        return (
            ms.boosters["mean"][0].current_iteration(),
            ms.boosters["p90"][0].current_iteration(),
            ms.inputs["rounds_source"],
        )

    assert trees(m.hourly[(1, 1)]) == (7, 9, "tuned")
    assert trees(m.daily[1]) == (60, 40, "tuned")  # never above the profile's rounds (forecast.md §7)
    assert trees(m.hourly[(2, 72)]) == (60, 40, "profile") and trees(m.daily[2]) == (60, 40, "profile")
    assert sv.rounds_in_use(bundle) == (2, 4)


def _tuned(now: datetime, *, profile: str = "fast", days_ago: float = 10) -> op.TunedRounds:
    return op.TunedRounds(
        now - timedelta(days=days_ago),
        profile,
        {"mean": 200, "quantile": 120},
        20,
        30,
        {"first": "2023-01-01", "valid_from": "2025-07-01", "last": "2025-12-31"},
        {"a34004/1-1h/none": {"mean": 80, "quantile": 60}},
        {"a34004/1-1h/none": {"mean": 72, "p10": 50, "p50": 54, "p90": 40}},
    )


def _spy_fit(calls: list[dict]):
    def fit(panel, items, *, now=None, nwp=None, train_end=None, **kw):
        calls.append(kw)
        return op.OperationalModels({}, (), "none", "fast", 16, now, version=f"v{len(calls)}"), []

    return fit


def _train(store: Store, path: Path) -> tuple[list[dict], list[str]]:
    calls: list[dict] = []
    notes: list[str] = []
    sv.train_gated(store, path=path, gated=False, fit_with=_spy_fit(calls), skipped=notes)
    return calls, [n for n in notes if n.startswith("rounds:")]


def test_nightly_training_reads_the_stored_counts_and_falls_back_with_a_reason(
    demo_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "forecast" / "models.pkl"
    now = now_utc()
    target = sv.rounds_path(path)
    assert target == tmp_path / "forecast" / "rounds.json"

    calls, notes = _train(demo_store, path)  # no file yet
    assert calls == [{}] and "fixed rounds (200 mean / 120 quantile)" in notes[0] and "no tuned counts" in notes[0]

    sv.save_rounds(_tuned(now), target)
    calls, notes = _train(demo_store, path)
    assert calls == [{"rounds": {"a34004/1-1h/none": {"mean": 80, "quantile": 60}}}]
    assert notes[0].startswith("rounds: tuned") and "0 of 0 sets" in notes[0]

    cases = {
        "outdated": (_tuned(now, days_ago=130), "days ago (> 120)"),
        "other profile": (_tuned(now, profile="reference"), "tuned for profile 'reference'"),
    }
    for tuned, why in cases.values():
        sv.save_rounds(tuned, target)
        calls, notes = _train(demo_store, path)
        assert calls == [{}] and "fixed rounds" in notes[0] and why in notes[0]

    target.write_text("{not json", encoding="utf-8")
    calls, notes = _train(demo_store, path)
    assert calls == [{}] and "unreadable" in notes[0] and "rounds.json" in notes[0]

    bad = _tuned(now).to_json()
    bad["sets"]["a34004/1-1h/none"]["mean"] = -3  # type: ignore[index]
    target.write_text(json.dumps(bad), encoding="utf-8")
    calls, notes = _train(demo_store, path)
    assert calls == [{}] and "'sets.a34004/1-1h/none.mean': expected a positive integer, got -3" in notes[0]


def test_tune_writes_the_counts_beside_the_bundle_and_keeps_fresh_ones(demo_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "forecast" / "models.pkl"
    now = now_utc()
    calls: list[int] = []

    def fake(panel, items, *, now=None, nwp=None):
        calls.append(1)
        return _tuned(now, days_ago=0), ["a21026: at most 3 valid days before the last 182 (< 365)"]

    notes: list[str] = []
    assert sv.tune(demo_store, now, path=path, tune_with=fake, notes=notes) == 1
    stored = sv.read_rounds(sv.rounds_path(path))
    assert stored == _tuned(now, days_ago=0) and calls == [1]
    assert any(n.startswith("not tuned: a21026") for n in notes)
    # the scheduled run a day later leaves fresh counts in place; a forced one tunes again
    notes = []
    assert sv.tune(demo_store, now + timedelta(days=1), path=path, tune_with=fake, notes=notes) == 0
    assert calls == [1] and "kept" in notes[0]
    assert sv.tune(demo_store, now + timedelta(days=1), path=path, tune_with=fake, force=True) == 1 and calls == [1, 1]
    # after a quarter the job tunes again
    assert sv.tune(demo_store, now + timedelta(days=91), path=path, tune_with=fake) == 1 and len(calls) == 3


def test_tune_on_the_demo_returns_at_once_with_not_enough_data(demo_store: Store, tmp_path: Path, monkeypatch) -> None:
    """At ``bogda serve``'s start the demo's 7 days of data must not start a tuning: the job says why and returns
    before it builds any input (no NWP archive, no features)."""

    def boom(*a, **k):
        raise AssertionError("built training inputs on 7 days of data")

    monkeypatch.setattr(sv, "_training_extras", boom)
    monkeypatch.setattr(op, "tune_operational", boom)
    notes: list[str] = []
    path = tmp_path / "forecast" / "models.pkl"
    t0 = time.perf_counter()
    assert sv.tune(demo_store, path=path, notes=notes) == 0
    assert time.perf_counter() - t0 < 30
    assert notes and notes[0].startswith("not enough data") and "(< 365)" in notes[0]
    assert not sv.rounds_path(path).exists()


def test_tune_job_is_registered_quarterly_after_the_refresh_and_the_training() -> None:
    spec = jobs.JOBS["forecast.tune"]
    assert spec.function() is sv.tune and spec.every_minutes == sv.TUNE_EVERY_DAYS * 1440
    order = [s.name for s in jobs.DEFAULT_JOBS]
    assert order.index("forecast.refresh") < order.index("forecast.train") < order.index("forecast.tune")
    assert sv.TUNE_KEEP_DAYS + sv.TUNE_EVERY_DAYS <= op.ROUNDS_MAX_AGE_DAYS


def test_tune_then_train_end_to_end(sqlite_store: Store, tmp_path: Path) -> None:
    """The service writes the counts of a real tuning run and the next training trains its sets with them; sets the
    tuning could not tune (too few daily rows in a 10-day tail) train with the profile's rounds."""
    mini_region(sqlite_store, days=40)
    path = tmp_path / "models.pkl"
    kw = {"blocks": ((1, 72),), "horizons": (1,)}
    tune_with = partial(op.tune_operational, profile=SMALL, min_days=20, valid_days=10, patience=5, floor=3, **kw)
    notes: list[str] = []
    n = sv.tune(sqlite_store, path=path, items=("a34004",), tune_with=tune_with, notes=notes)
    assert n == 1 and any("a34004/D+1/none" in x and "profile rounds" in x for x in notes)
    stored = sv.read_rounds(sv.rounds_path(path))
    counts = stored.sets["a34004/1-72h/none"]
    fit = partial(op.train_operational, profile=SMALL, min_days=5, **kw)
    skipped: list[str] = []
    assert sv.train_gated(
        sqlite_store, items=("a34004",), path=path, gated=False, fit_with=fit, profile=SMALL, skipped=skipped
    ) == (1, None)
    bundle = sv.load_models(path)
    ms = bundle.items["a34004"].hourly[(1, 72)]
    assert ms.inputs["rounds_source"] == "tuned" and ms.inputs["rounds_mean"] == counts["mean"]
    assert ms.boosters["p50"][0].current_iteration() == counts["quantile"]
    assert bundle.items["a34004"].daily[1].inputs["rounds_source"] == "profile"
    assert any(s.startswith("rounds: tuned") and "1 of 2 sets on tuned rounds" in s for s in skipped)
