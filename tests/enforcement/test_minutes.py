"""Minute-level rules wired in the catalogue: C23 minute excursions, C21 logger hour vs recomputed hour, and
minute-only outlets judged on recomputed hours; C13 correlation-drop clause; C17 quarterly completeness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bogda.enforcement import cems, detectors
from bogda.enforcement.catalogue import CatalogueRun, evaluation_records, run_catalogue_full
from bogda.enforcement.cems import Outlet
from bogda.enforcement.detectors import Subject
from bogda.enforcement.rules import Params

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _outlet(oid: str) -> Outlet:
    return Outlet(oid, "E1", o2_ref_pct=None, limits={"a21002": (50.0, None)}, converted=True, load_channel=None)


def _minutes(oid: str, hours: int, rng: np.random.Generator) -> pl.DataFrame:
    n = hours * 60
    x = 30 + rng.normal(0, 1.0, n)
    return pl.DataFrame(
        {
            "outlet_id": oid,
            "ts_utc": [T0 + timedelta(minutes=k) for k in range(n)],
            "a21002": x,
            "a21002_flag": ["N"] * n,
        }
    ).with_columns(pl.col("ts_utc").dt.cast_time_unit("us"))


def _hourly_logger(minutes: pl.DataFrame) -> pl.DataFrame:
    return (
        minutes.group_by("outlet_id", pl.col("ts_utc").dt.truncate("1h"))
        .agg(pl.col("a21002").mean())
        .sort("ts_utc")
        .with_columns(pl.lit("N").alias("a21002_flag"))
    )


@pytest.fixture
def frames(params: Params) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(5)
    m = _minutes("O1", 48, rng)
    # hour 10: four of six consecutive minutes at 80 (hour mean stays ≈ 33 ≤ 50) → C23
    m = m.with_columns(
        pl.when(pl.int_range(pl.len()).is_in([600 + 20, 600 + 21, 600 + 23, 600 + 24]))
        .then(80.0)
        .otherwise(pl.col("a21002"))
        .alias("a21002")
    )
    # hour 30: two high minutes only → no C23
    m = m.with_columns(
        pl.when(pl.int_range(pl.len()).is_in([1800 + 5, 1800 + 30]))
        .then(80.0)
        .otherwise(pl.col("a21002"))
        .alias("a21002")
    )
    h = _hourly_logger(m)
    # logger hours 20–23 report 5 % more than the minutes give → C21; hours 40–43 only 1 % more → clear
    h = h.with_columns(
        pl.when(pl.int_range(pl.len()).is_between(20, 23))
        .then(pl.col("a21002") * 1.05)
        .when(pl.int_range(pl.len()).is_between(40, 43))
        .then(pl.col("a21002") * 1.01)
        .otherwise(pl.col("a21002"))
        .alias("a21002")
    )
    return h, m


def test_c23_and_c21_from_minutes(frames: tuple[pl.DataFrame, pl.DataFrame], params: Params) -> None:
    h, m = frames
    run = run_catalogue_full(h, None, [_outlet("O1")], [], params=params, minute_frame=m)
    c23 = [x for x in run.hits if x.rule_id == "C23"]
    assert [(x.i0, x.start) for x in c23] == [(10, T0 + timedelta(hours=10))]
    assert c23[0].metrics["minutes_over"] == 4 and c23[0].severity == "S3"
    c21 = [x for x in run.hits if x.rule_id == "C21"]
    assert [(x.i0, x.i1) for x in c21] == [(20, 23)]
    assert c21[0].metrics["max_rel_diff"] == pytest.approx(0.05, abs=1e-6)
    # without minutes neither rule runs
    plain = run_catalogue_full(h, None, [_outlet("O1")], [], params=params)
    assert not [x for x in plain.hits if x.rule_id in ("C21", "C23")]
    assert ("C23", "O1") not in plain.evaluated and ("C23", "O1") in run.evaluated


def test_minute_only_outlet_judged_on_recomputed_hours(params: Params) -> None:
    rng = np.random.default_rng(6)
    m = _minutes("O2", 24, rng)
    # hour 5 entirely at 60 → hourly exceedance; hour 8 has only 40 valid minutes (20 flagged D) → not judged
    idx = pl.int_range(pl.len())
    m = m.with_columns(
        pl.when(idx.is_between(300, 359))
        .then(60.0)
        .when(idx.is_between(480, 539))
        .then(90.0)
        .otherwise(pl.col("a21002"))
        .alias("a21002"),
        pl.when(idx.is_between(480, 499)).then(pl.lit("D")).otherwise(pl.col("a21002_flag")).alias("a21002_flag"),
    )
    run = run_catalogue_full(None, None, [_outlet("O2")], [], params=params, minute_frame=m)
    c01 = [x for x in run.hits if x.rule_id == "C01"]
    assert [(x.i0, x.i1) for x in c01] == [(5, 5)]
    assert c01[0].metrics["max"] == pytest.approx(60.0)
    assert run.frames["O2"]["a21002_flag"][8] == "H"


def test_c13_load_correlation_drop(params: Params) -> None:
    rng = np.random.default_rng(3)
    n = 50 * 24
    ts = np.datetime64("2026-01-01T00:00", "us") + np.arange(n) * np.timedelta64(3600, "s") - np.timedelta64(8, "h")
    load = 70 + 15 * np.sin(np.arange(n) / 24 * 2 * np.pi) + rng.normal(0, 3, n)
    y = 0.5 * load + rng.normal(0, 1.5, n)
    subj = Subject("O", "E", ts, 3600)
    assert detectors.load_correlation_drop(y, load, subj, params, "a21002") == []
    broken = y.copy()
    broken[40 * 24 :] = 35 + rng.normal(0, 3, n - 40 * 24)  # decoupled from load for the last 10 days
    hits = detectors.load_correlation_drop(broken, load, subj, params, "a21002")
    assert len(hits) == 1
    h = hits[0]
    assert h.metrics["rho_prior"] > 0.9 and h.metrics["rho_recent"] < 0.3 and h.severity == "S3"
    assert h.end == datetime(2026, 2, 20, tzinfo=UTC) - timedelta(hours=8)  # through the last day


@pytest.mark.parametrize(("valid_share", "fires"), [(0.85, True), (0.95, False)])
def test_c17_quarterly_completeness(params: Params, valid_share: float, fires: bool) -> None:
    ts = np.datetime64("2025-03-31T16:00", "us") + np.arange(91 * 24) * np.timedelta64(3600, "s")  # 2025 Q2
    valid = np.arange(len(ts)) < int(valid_share * len(ts))
    hits = cems.quarterly_completeness_hits(_outlet("O"), valid, params, ts, "a21002")
    assert bool(hits) is fires
    if fires:
        assert hits[0].metrics["quarter"] == "2025Q2" and hits[0].metrics["valid_share"] == pytest.approx(0.85, 1e-3)


def test_evaluation_records_states(params: Params, frames: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    h, m = frames
    missing = Outlet("O9", "E1", o2_ref_pct=None, limits={}, converted=True, load_channel=None)
    h9 = h.with_columns(pl.lit("O9").alias("outlet_id"))
    run = run_catalogue_full(pl.concat([h, h9]), None, [_outlet("O1"), missing], [], params=params, minute_frame=m)
    days = [T0.date(), (T0 + timedelta(days=1)).date()]
    ev = evaluation_records(run, days)
    get = {(r, s, d): (st, why) for r, s, d, st, why in ev.iter_rows()}
    assert get[("C23", "O1", days[0])] == ("fired", None)
    assert get[("C23", "O1", days[1])] == ("clear", None)
    assert get[("C01", "O9", days[0])] == ("not_evaluable", "CONFIG_MISSING:limit:a21002")
    failing = CatalogueRun(evaluated={("C07", "O1")}, errors=[("C07", "O1", "ZeroDivisionError")])
    assert evaluation_records(failing, days[:1]).row(0) == (
        "C07",
        "O1",
        days[0],
        "not_evaluable",
        "ERROR:ZeroDivisionError",
    )


@pytest.mark.parametrize(
    ("c_hours", "expected"),
    [
        ([2, 26, 50], []),  # the scheduled 02:00 Beijing check every day: clear
        ([2, 14, 15, 26], [(14, 15)]),  # an extra calibration at 14–15 h under load: off schedule
        ([], []),
    ],
)
def test_c15_calibration_off_schedule(params: Params, c_hours: list[int], expected: list[tuple[int, int]]) -> None:
    from bogda.enforcement import operations

    ts = np.datetime64("2025-12-31T16:00", "us") + np.arange(72) * np.timedelta64(3600, "s")  # 00:00 Beijing
    flags = np.array(["N"] * 72, dtype=object)
    flags[c_hours] = "C"
    subj = Subject("O", "E", ts, 3600)
    hits = operations.calibration_off_schedule(flags, subj, params, "a21002", schedule_hours=(2,))
    assert [(h.i0, h.i1) for h in hits] == expected
    assert all(h.severity == "S3" and h.metrics["reason"] == "calibration_off_schedule" for h in hits)
    # wired: an outlet with a calibration schedule gets the clause, one without does not
    frame = pl.DataFrame(
        {"outlet_id": "O", "ts_utc": ts, "a21002": np.full(72, 30.0) + np.arange(72) % 5, "a21002_flag": flags}
    ).with_columns(pl.col("ts_utc").dt.replace_time_zone("UTC"))
    on = run_catalogue_full(
        frame,
        None,
        [Outlet("O", "E", converted=True, load_channel=None, calibration_hours=(2,), limits={"a21002": (50.0, None)})],
        [],
        params=params,
    )
    got = [
        (h.i0, h.i1) for h in on.hits if h.rule_id == "C15" and h.metrics.get("reason") == "calibration_off_schedule"
    ]
    assert got == expected


def test_stop_lines_measure_wired(params: Params) -> None:
    """Grade C cement under a yellow order must stop half of its lines (cement clinker table): two production
    meters both running → E05 ``lines_on``; with one line stopped → clear."""
    from bogda.enforcement.plans import EnterpriseGrade, Order, PlanSet
    from bogda.enforcement.power import Meter

    n = 20 * 96
    ts = [T0 + timedelta(minutes=15 * k) for k in range(n)]
    hour = (np.arange(n) // 4) % 24
    on = np.where((hour >= 6) & (hour < 22), 900.0, 20.0)
    order = Order("yellow", T0 + timedelta(days=15), T0 + timedelta(days=16), "预警-黄")
    ps = PlanSet(grades=[EnterpriseGrade("E", "cement_clinker", "C")], orders=[order])
    meters = [Meter("L1", "E", "production"), Meter("L2", "E", "production")]

    def frame(second: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame(
            {"meter_id": ["L1"] * n + ["L2"] * n, "ts_utc": ts + ts, "p_kw": np.r_[on, second]}
        ).with_columns(pl.col("ts_utc").dt.cast_time_unit("us"))

    both = run_catalogue_full(None, frame(on), [], meters, ps, params)
    e05 = [h for h in both.hits if h.rule_id == "E05"]
    assert len(e05) == 1 and e05[0].metrics["reason"] == "lines_on" and e05[0].metrics["allowed"] == 1
    assert e05[0].subject_id == "E" and e05[0].metrics["max_lines_on"] == 2
    one = on.copy()
    one[15 * 96 : 16 * 96] = 20.0  # the second line stopped for the order
    assert not [h for h in run_catalogue_full(None, frame(one), [], meters, ps, params).hits if h.rule_id == "E05"]
