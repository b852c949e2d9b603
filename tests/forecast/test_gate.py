"""The deployment gate (forecast.md §3.4): a new model set replaces the one in service only if it is not worse."""

from __future__ import annotations

import json
from dataclasses import replace
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


def _horizons(
    worse: dict[tuple[str, int], float], *, n: int = 200, inside: dict[tuple[str, int], float] | None = None
) -> pl.DataFrame:
    """Pairs at every gate horizon of item a34004: the set in service errs by exactly ±10 (RMSE = MAE = 10), the
    candidate by ±10 × ``worse[horizon]`` (1 where not given), so that its RMSE and MAE ratio is that factor; the
    candidate's band holds the observation in the share ``inside[horizon]`` of the rows (0.8 where not given)."""
    frames = []
    for k, (res, lead) in enumerate(gate.HORIZONS):
        f = _pairs(n, new_err=10.0 * worse.get((res, lead), 1.0), cur_err=10.0, band=0.0, seed=k)
        share = (inside or {}).get((res, lead), 0.8)
        hold = np.arange(n) < round(share * n)  # rows whose band is wide enough to hold the observation
        width = np.where(hold, 100.0, 0.5 * 10.0 * worse.get((res, lead), 1.0))
        frames.append(
            f.with_columns(
                pl.lit(res).alias("resolution"),
                pl.lit(lead, dtype=pl.Int64).alias("lead"),
                (pl.col("new_mean") - width).alias("new_p10"),
                (pl.col("new_mean") + width).alias("new_p90"),
            )
        )
    return pl.concat(frames)


def _verdict(pairs: pl.DataFrame) -> tuple[bool, str, list[gate.Check], list[gate.Pooled]]:
    checks = gate.judge(pairs)
    pooled = gate.pool(pairs, checks)
    return (*gate.decide(checks, has_current=True, pooled=pooled), checks, pooled)


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


def test_default_horizons_cover_every_block_and_daily_horizon() -> None:
    # one lead inside every hourly block of the bundle, every daily horizon, and the goal horizons among them
    from bogda.forecast.models import HOURLY_BLOCKS

    hours = [k for r, k in gate.HORIZONS if r == "hour"]
    assert all(sum(a <= h <= b for h in hours) == 1 for a, b in HOURLY_BLOCKS)
    assert [k for r, k in gate.HORIZONS if r == "day"] == list(range(1, 8))
    assert set(gate.GOAL_HORIZONS) <= set(gate.HORIZONS)


def test_pooled_tolerance_edges() -> None:
    # D+2..D+7 each 1.1 % worse (under the 5 % backstop, D+1 even): the daily mean ratio 6 × 1.011 / 7 = 1.0094
    ok, reason, checks, pooled = _verdict(_horizons({("day", k): 1.011 for k in range(2, 8)}))
    day = next(p for p in pooled if p.resolution == "day")
    assert ok and day.passed and day.rmse_ratio == pytest.approx(1 + 6 * 0.011 / 7) and len(day.leads) == 7
    assert len(checks) == len(gate.HORIZONS) and all(c.passed for c in checks)
    assert f"RMSE ×{day.rmse_ratio:.3f}" in reason  # the pooled figures are in the reason the CLI prints
    # each 1.3 % worse: the mean 1.0111 is past the 1 %, though no single horizon fails
    ok, reason, checks, pooled = _verdict(_horizons({("day", k): 1.013 for k in range(2, 8)}))
    day = next(p for p in pooled if p.resolution == "day")
    assert not ok and not day.passed and all(c.passed for c in checks)
    assert "a34004 daily pooled failed" in reason and "mean RMSE ratio 1.011 > 1.01" in day.reason
    assert next(p for p in pooled if p.resolution == "hour").passed


def test_goal_horizons_are_judged_on_their_own() -> None:
    # 2 % worse at 24 h, 1 % better at the other hourly leads: the hourly mean (1.02 + 4 × 0.99) / 5 = 0.996 passes,
    # the goal horizon does not
    worse = {("hour", h): 0.99 for h in gate.HOURLY_LEADS} | {("hour", 24): 1.02}
    ok, reason, checks, pooled = _verdict(_horizons(worse))
    h24 = next(c for c in checks if (c.resolution, c.lead) == ("hour", 24))
    assert not ok and reason.startswith("rejected: a34004 24h failed") and h24.goal and not h24.passed
    assert all(p.passed for p in pooled) and "RMSE 10.20 > 1.01 × 10.00" in h24.reason
    # the same 2 % at a non-goal lead (6 h) is tolerated: under the 5 % backstop, pooled 0.996
    worse = {("hour", h): 0.99 for h in gate.HOURLY_LEADS} | {("hour", 6): 1.02}
    assert _verdict(_horizons(worse))[0]


@pytest.mark.parametrize(
    ("d7", "others", "accepted", "pooled_passed"),
    [
        (1.04, 1.0, True, True),  # pooled (6 + 1.04) / 7 = 1.0057, and under the backstop: tolerated
        (1.08, 1.0, False, False),  # pooled 1.0114 and past the backstop: caught by both
        (1.08, 0.98, False, True),  # pooled (6 × 0.98 + 1.08) / 7 = 0.9943: caught by the backstop alone
    ],
)
def test_candidate_worse_only_at_d7(d7: float, others: float, accepted: bool, pooled_passed: bool) -> None:
    worse = {("day", k): others for k in range(1, 7)} | {("day", 7): d7}
    ok, reason, checks, pooled = _verdict(_horizons(worse))
    d7_check = next(c for c in checks if (c.resolution, c.lead) == ("day", 7))
    day = next(p for p in pooled if p.resolution == "day")
    assert ok is accepted and day.passed is pooled_passed
    assert d7_check.rmse_new == pytest.approx(10.0 * d7) and not d7_check.goal
    assert d7_check.passed is (d7 <= 1 + gate.HORIZON_TOLERANCE)
    assert day.rmse_ratio == pytest.approx((6 * others + d7) / 7)
    if not accepted:
        assert "a34004 7d" in reason and "RMSE 10.80 > 1.05 × 10.00" in d7_check.reason


def test_coverage_pooled_per_resolution_and_at_the_goal_horizons() -> None:
    # one non-goal horizon at 60 %: reported, not judged alone; the daily pool (6 × 0.8 + 0.6) / 7 = 0.771 passes
    ok, _, checks, pooled = _verdict(_horizons({}, inside={("day", 4): 0.6}))
    d4 = next(c for c in checks if (c.resolution, c.lead) == ("day", 4))
    assert ok and d4.passed and d4.coverage_new == pytest.approx(0.6)
    assert next(p for p in pooled if p.resolution == "day").coverage_new == pytest.approx((6 * 0.8 + 0.6) / 7)
    # every non-goal daily horizon at 60 %: the goal D+1 holds 80 %, the pool 0.629 is out
    ok, reason, checks, pooled = _verdict(_horizons({}, inside={("day", k): 0.6 for k in range(2, 8)}))
    day = next(p for p in pooled if p.resolution == "day")
    assert not ok and not day.passed and "coverage 0.629 outside 0.75–0.85" in day.reason
    assert all(c.passed for c in checks)
    # the goal horizon alone out of range fails alone
    ok, reason, checks, _ = _verdict(_horizons({}, inside={("day", 1): 0.9}))
    assert not ok and [c.lead for c in checks if not c.passed] == [1] and "a34004 1d failed" in reason


def test_pooling_skips_horizons_without_enough_record() -> None:
    # D+7 50 % worse, but the record lost half of its D+7 forecasts: 100 matched pairs are left
    pairs = _horizons({("day", 7): 1.5}).with_columns(
        pl.when((pl.col("resolution") == "day") & (pl.col("lead") == 7) & (pl.int_range(pl.len()) % 2 == 0))
        .then(None)
        .otherwise(pl.col("current_mean"))
        .alias("current_mean")
    )
    ok, _, checks, _ = _verdict(pairs)  # 100 pairs are enough at the default minimum: compared, caught
    assert not ok and next(c for c in checks if c.lead == 7 and c.resolution == "day").n == 100
    checks = gate.judge(pairs, min_pairs=101)  # not enough: D+7 is neither compared nor pooled, the rest is
    d7 = next(c for c in checks if (c.resolution, c.lead) == ("day", 7))
    day = next(p for p in gate.pool(pairs, checks) if p.resolution == "day")
    assert d7.passed and d7.rmse_new is None and "100 pairs with the record (< 101)" in d7.reason
    assert day.passed and day.leads == (1, 2, 3, 4, 5, 6) and day.rmse_ratio == pytest.approx(1.0)
    assert gate.decide(checks, has_current=True, pooled=gate.pool(pairs, checks))[0]


def test_a_perfect_record_is_unboundedly_better() -> None:
    pairs = _horizons({}).with_columns(pl.col("obs").alias("current_mean"))
    checks = gate.judge(pairs)
    pooled = gate.pool(pairs, checks)
    assert all(p.rmse_ratio is None and not p.passed and "unbounded" in p.reason for p in pooled)
    json.dumps(gate.Verdict(False, "x", tuple(checks), pooled=tuple(pooled)).as_dict(), allow_nan=False)


@pytest.fixture(scope="module")
def trained() -> tuple[object, op.OperationalModels, op.OperationalModels]:
    frame, coords = synthetic_frame(4, 420, seed=5)
    panel = panel_from_frame(frame, list(op.HOURLY_ITEMS), coords=coords)
    small = FAST.__class__("test", learning_rate=0.1, rounds_mean=30, rounds_quantile=20, max_rows=4000)
    # blocks covering every gate lead up to 72 h; daily sets at D+1 and D+7 (D+2..D+6 served by the baselines)
    kw = {"profile": small, "blocks": ((1, 1), (2, 24), (25, 72)), "horizons": (1, 7), "min_days": 200}
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
    # the record: perfect (the observations themselves) or poor (the probe's own errors, 30 % larger; where nothing
    # was observed yet the value is not scored)
    fc = new["new_mean"].to_numpy()
    mean = (
        np.nan_to_num(obs, nan=50.0) if record == "perfect" else np.where(np.isfinite(obs), obs + 1.3 * (fc - obs), fc)
    )
    _write_record(store, new, mean)
    current = op.OperationalModels({}, (), "none", "fast", 16, datetime(2020, 1, 1, tzinfo=UTC), version="old")
    v = gate.evaluate(store, panel, candidate, probe, current, window_days=30, coverage=(0.0, 1.0), min_pairs=50)
    assert [(c.resolution, c.lead) for c in v.checks] == list(gate.HORIZONS)
    assert {(p.item, p.resolution) for p in v.pooled} == {("a34004", "hour"), ("a34004", "day")}
    assert all(c.n >= 50 for c in v.checks)  # matched with the record (the baseline rows beside it are not read)
    # the last days of the window have no D+7 observation yet: fewer pairs there than at D+1
    assert next(c.n for c in v.checks if c.lead == 7) < next(
        c.n for c in v.checks if c.lead == 1 and c.resolution == "day"
    )
    if record == "perfect":
        assert not v.accept and all(c.rmse_current == pytest.approx(0.0) for c in v.checks)
        assert all(not p.passed for p in v.pooled)
    else:
        assert v.accept and all(c.rmse_new < c.rmse_current for c in v.checks), v
        assert all(c.rmse_new == pytest.approx(c.rmse_current / 1.3) for c in v.checks)
        assert all(p.rmse_ratio == pytest.approx(1 / 1.3) and len(p.leads) in (5, 7) for p in v.pooled)
    assert v.window is not None and v.candidate == candidate.version and v.current == "old"


def test_probe_pairs_beyond_the_panel(trained) -> None:
    # the window's last issue: its 48/72 h and D+2..D+7 targets lie beyond the panel, not observed yet
    panel, _, probe = trained
    (t,) = gate.issue_positions(panel, panel.n_days - 2, panel.n_days - 2, probe.issue_hour)
    pairs = gate.probe_pairs(panel, probe, ["a34004"], [t])
    assert pairs.height == len(panel.stations) * len(gate.HORIZONS) and pairs["new_mean"].is_finite().all()
    beyond = pl.when(pl.col("resolution") == "hour").then(pl.col("lead") + t >= panel.n_hours)
    beyond = beyond.otherwise(pl.col("lead") + t // 24 >= panel.n_days)
    flagged = pairs.with_columns(beyond.alias("beyond"), pl.col("obs").is_nan().alias("nan"))
    assert flagged.filter("beyond")["nan"].all() and flagged["beyond"].any()
    hourly = panel.data["a34004"]
    inside = flagged.filter(~pl.col("beyond") & (pl.col("resolution") == "hour"))
    for r in inside.iter_rows(named=True):  # observed leads carry the panel's value at the target hour
        i = panel.stations.index(r["target_code"])
        assert r["obs"] == pytest.approx(hourly[i, t + r["lead"]], nan_ok=True)
    # such pairs are neither scored nor matched: every check counts only observed targets
    (c,) = gate.judge(flagged.filter(pl.col("lead") == 72).with_columns(pl.lit(50.0).alias("current_mean")))
    assert c.n == 0 and c.coverage_new is None


def test_probe_pairs_only_at_the_leads_the_probe_covers(trained) -> None:
    # a bundle trained without the 25–72 h block cannot forecast 48/72 h: those leads are left out, not raised on
    panel, _, probe = trained
    m = probe.items["a34004"]
    short = replace(probe, items={"a34004": replace(m, hourly={b: s for b, s in m.hourly.items() if b[1] <= 24})})
    pairs = gate.probe_pairs(panel, short, ["a34004"], [panel.n_hours - 24 * 10])
    assert sorted(set(pairs.filter(pl.col("resolution") == "hour")["lead"])) == [1, 6, 24]
    assert sorted(set(pairs.filter(pl.col("resolution") == "day")["lead"])) == list(range(1, 8))


def test_record_pairs_at_several_leads_with_a_rerun(store: Store) -> None:
    t0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
    t1 = t0 + timedelta(days=1)

    def run(issue: datetime, kind: str, offset: float) -> None:
        rows = []
        with store.begin() as conn:
            run_id = conn.execute(
                forecast_run.insert()
                .values(issue_time=issue, kind=kind, status="ok", created_at=issue)
                .returning(forecast_run.c.id)
            ).scalar_one()
            for res, lead in [("hour", h) for h in (1, 2, 6, 7, 24, 48, 72)] + [("day", k) for k in (1, 7, 8)]:
                start = issue + (timedelta(hours=lead) if res == "hour" else timedelta(days=lead))
                base = {
                    "run_id": run_id,
                    "target_code": "S1",
                    "target_kind": "station",
                    "item": "a34004",
                    "resolution": res,
                    "valid_start": start,
                    "valid_end": start + timedelta(hours=1),
                    "lead": lead,
                }
                rows.append({**base, "method": "lgbm_none", "mean": offset + lead, "p10": 0.0, "p90": 999.0})
                rows.append({**base, "method": "persistence", "mean": -1.0, "p10": None, "p90": None})
            conn.execute(forecast.insert(), rows)

    run(t0, "operational", 100.0)
    run(t1, "operational", 100.0)
    run(t0, "operational", 200.0)  # a rerun at the same hour: it counts
    run(t1, "backtest", 300.0)  # not what the set in service issued
    rec = gate.record_pairs(store, ["a34004"], [t0, t1])
    want = {(r, k) for r, k in gate.HORIZONS if (r, k) != ("day", 2)} - {("day", k) for k in range(2, 7)}
    got = {(r["resolution"], r["lead"]) for r in rec.iter_rows(named=True)}
    assert got == want  # hour 2 and 7, D+8 and the baselines are not read; day 7 is, hour 7 is not
    assert rec.height == 2 * len(want)  # one row per issue time and horizon
    by_time = {t: g for (t,), g in rec.group_by("issue_time")}
    assert set(by_time) == {t0, t1}
    assert (by_time[t0]["current_mean"] - by_time[t0]["lead"] == 200.0).all()
    assert (by_time[t1]["current_mean"] - by_time[t1]["lead"] == 100.0).all()
    only = gate.record_pairs(store, ["a34004"], [t0], horizons=(("day", 7),))
    assert only.rows() == [(t0, "S1", "a34004", "day", 7, 207.0)]


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
