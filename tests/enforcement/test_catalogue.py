"""The whole catalogue: injections into gas_turbine_2012 (enforcement.md §9.11), real files end to end,
plans and meters together, failure isolation and not-evaluable records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bogda.enforcement import catalogue as cat
from bogda.enforcement.cems import Outlet
from bogda.enforcement.plans import Order, PlanSet, StaggerWindow
from bogda.enforcement.power import Meter, MeterPair
from bogda.timeutil import BEIJING


def _gt_frame(df: pl.DataFrame, year: int) -> pl.DataFrame:
    """Gas-turbine rows as an hourly CEMS frame: row = hour index (the files carry no timestamps)."""
    t0 = datetime(year, 1, 1, tzinfo=UTC)
    return df.select(
        pl.lit("GT").alias("outlet_id"),
        pl.Series("ts_utc", [t0 + timedelta(hours=i) for i in range(df.height)]),
        pl.col("NOX").alias("a21002"),
        pl.col("CO").alias("a21005"),
        pl.col("TEY").alias("i33400"),
        pl.col("AT"), pl.col("AP"), pl.col("AH"), pl.col("TIT"), pl.col("TAT"),
    )  # fmt: skip


GT = Outlet("GT", "E-GT", source_type="gas_turbine", converted=True, limits={}, load_channel="i33400")


def _rules(hits, rule, channel=None):
    return [(h.i0, h.i1) for h in hits if h.rule_id == rule and (channel is None or h.channel == channel)]


def test_real_2011_frozen_nox_is_one_clue(gas_turbine, params):
    run = cat.run_catalogue_full(_gt_frame(gas_turbine(2011), 2011), None, [GT], [], params=params)
    assert _rules(run.hits, "C07") == [(1336, 1437)]
    assert run.errors == []
    assert any(ne.reason == "CONFIG_MISSING:limit:a21002" for ne in run.not_evaluable)


def test_real_2014_located_anomalies(gas_turbine, params):
    run = cat.run_catalogue_full(_gt_frame(gas_turbine(2014), 2014), None, [GT], [], params=params)
    assert _rules(run.hits, "C08", "a21002") == [(58, 78), (84, 90), (95, 101), (5905, 5928)]
    assert _rules(run.hits, "C08", "a21005") == [(5905, 5928)]
    assert set(_rules(run.hits, "C07", "a21005")) == {(60, 71), (4206, 4211)}
    assert _rules(run.hits, "C19") == [(4207, 4211), (5197, 5200)]
    assert _rules(run.hits, "C12") == []


INJECTIONS = {
    "C07": lambda x, ld: x.__setitem__(slice(3000, 3010), 55.5),
    "C08": lambda x, ld: x.__setitem__(slice(3000, 3012), np.linspace(60, 80, 12)),
    "C12": lambda x, ld: x.__setitem__(slice(3000, 3024), x[2904:2928]),
    "C11": lambda x, ld: x.__setitem__(slice(3000, 3072), x[3000:3072] * 0.3),
}


@pytest.mark.parametrize("rule", sorted(INJECTIONS))
def test_injection_into_gas_turbine_2012(gas_turbine, params, rule):
    df = gas_turbine(2012)
    base = cat.run_catalogue_full(_gt_frame(df, 2012), None, [GT], [], params=params)
    assert [h for h in base.hits if h.rule_id == rule and h.channel == "a21002"] == []
    x = df["NOX"].to_numpy().copy()
    INJECTIONS[rule](x, df["TEY"].to_numpy())
    frame = _gt_frame(df.with_columns(pl.Series("NOX", x)), 2012)
    run = cat.run_catalogue_full(frame, None, [GT], [], params=params)
    got = [h for h in run.hits if h.rule_id == rule and h.channel == "a21002"]
    assert len(got) == 1 and got[0].i0 <= 3000 + 5 and got[0].i1 >= 3000


def _meter_frame(steel, pt):
    p = steel["p_kw"]
    prod = steel.select(pl.lit("P1").alias("meter_id"), "ts_utc", pl.col("p_kw"))
    treat = steel.select(pl.lit("T1").alias("meter_id"), "ts_utc", pl.Series("p_kw", pt))
    assert len(p) == len(pt)
    return pl.concat([prod, treat])


def test_meters_and_plans_on_steel(steel, params):
    from bogda.enforcement import power as pw

    p = steel["p_kw"].to_numpy()
    sp = pw.detect_state(p, pw.learn_threshold(p, 900, params), 900, params)
    pt = np.where(sp == pw.ON, 40.0 + 0.1 * p, 3.0)  # treatment running whenever production runs
    meters = [Meter("P1", "E1", "production"), Meter("T1", "E1", "treatment")]
    pairs = [MeterPair("P1", "T1", "E1")]
    clean = cat.run_catalogue_full(None, _meter_frame(steel, pt), [], meters, None, params, pairs=pairs)
    assert clean.errors == [] and [h.rule_id for h in clean.hits] == []  # normal operation: no false clue
    plans = PlanSet(
        orders=[Order("red", datetime(2018, 3, 6, tzinfo=BEIJING), datetime(2018, 3, 8, tzinfo=BEIJING), "o-1")],
        measures=[],
        windows=[StaggerWindow("E1", datetime(2018, 1, 1, tzinfo=BEIJING), datetime(2018, 4, 1, tzinfo=BEIJING))],
    )
    from bogda.enforcement.plans import Measure

    plans.measures.append(Measure("E1", "red", "stop"))
    run = cat.run_catalogue_full(None, _meter_frame(steel, pt), [], meters, plans, params, pairs=pairs)
    assert [h.metrics["on_hours"] for h in run.hits if h.rule_id == "E04"] == [13.25, pytest.approx(9.5, abs=0.5)]
    (p01,) = [h for h in run.hits if h.rule_id == "P01"]
    assert p01.metrics["running_days"] == 79


def test_c16_links_outlet_to_production_meter(steel, params):
    p = steel["p_kw"].to_numpy()
    ts = steel["ts_utc"].to_list()[::4]
    n = len(ts)
    flags = ["N"] * n
    on_hours = np.flatnonzero(p[::4] > 100)[:200]
    k = int(on_hours[150])
    for i in range(k, k + 2):
        flags[i] = "F"
    cems = pl.DataFrame(
        {
            "outlet_id": ["O1"] * n,
            "ts_utc": ts,
            "a21002": 30 + np.random.default_rng(0).random(n),
            "a21002_flag": flags,
            "a19001": np.full(n, 6.0) + np.random.default_rng(1).random(n),
        }
    )
    outlet = Outlet("O1", "E1", o2_ref_pct=6.0, limits={"a21002": (50.0, None)}, load_channel=None,
                    production_meter_id="P1")  # fmt: skip
    meters = [Meter("P1", "E1", "production")]
    mf = steel.select(pl.lit("P1").alias("meter_id"), "ts_utc", "p_kw")
    run = cat.run_catalogue_full(cems, mf, [outlet], meters, None, params)
    c16 = [h for h in run.hits if h.rule_id == "C16"]
    assert len(c16) == 1 and c16[0].i0 <= k <= c16[0].i1


def test_stopped_marks_against_the_steel_meter(steel, params):
    """C16 on marks: a ``stopped`` mark over a working morning fires, one over a Sunday (meter OFF) does not, a
    rejected mark is ignored; C04 audits the accepted one (stopped while production ON)."""
    from datetime import UTC, datetime

    from bogda.enforcement.cems import Mark

    ts = steel["ts_utc"].to_list()[::4]
    n = len(ts)
    cems = pl.DataFrame({"outlet_id": ["O1"] * n, "ts_utc": ts, "a21002": 30 + np.random.default_rng(0).random(n)})
    outlet = Outlet("O1", "E1", o2_ref_pct=6.0, limits={"a21002": (50.0, None)}, load_channel=None,
                    production_meter_id="P1", converted=True)  # fmt: skip
    mf = steel.select(pl.lit("P1").alias("meter_id"), "ts_utc", "p_kw")

    def bj(day: int, hour: int) -> datetime:  # 2018-03-<day> <hour>:00 Beijing
        return datetime(2018, 3, day, hour - 8, tzinfo=UTC)

    marks = [
        Mark("work", "E1", "O1", "stopped", bj(6, 9), bj(6, 12)),  # Tuesday morning, plant ON
        Mark("sunday", "E1", "O1", "stopped", bj(4, 9), bj(4, 12)),  # Sunday, plant OFF
        Mark("rejected", "E1", "O1", "stopped", bj(7, 9), bj(7, 12), status="rejected"),
    ]
    run = cat.run_catalogue_full(cems, mf, [outlet], [Meter("P1", "E1", "production")], None, params, marks=marks)
    c16 = [h for h in run.hits if h.rule_id == "C16"]
    assert [h.metrics["mark_id"] for h in c16] == ["work"] and c16[0].metrics["on_hours"] == 3.0
    c04 = [h for h in run.hits if h.rule_id == "C04"]
    assert [h.metrics["mark_id"] for h in c04] == ["work"]
    assert c04[0].metrics["reasons"] == "stopped_while_production_on"


def test_failing_rule_stops_only_itself(params, monkeypatch):
    n = 24 * 5
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame({"outlet_id": ["O1"] * n, "ts_utc": [t0 + timedelta(hours=i) for i in range(n)],
                          "a21002": [55.0] * 10 + [30.0 + i % 7 for i in range(n - 10)], "i33400": [80.0] * n,
                          "a19001": [6.0] * n})  # fmt: skip

    def boom(*a, **k):
        raise RuntimeError("kaput")

    monkeypatch.setattr(cat.detectors, "linear_fill", boom)
    outlet = Outlet("O1", "E1", o2_ref_pct=6.0, limits={"a21002": (50.0, None)})
    run = cat.run_catalogue_full(frame, None, [outlet], [], params=params)
    assert ("C08", "O1", "RuntimeError: kaput") in run.errors
    assert _rules(run.hits, "C01") == [(0, 9)] and _rules(run.hits, "C07")


def test_unknown_outlet_and_gaps(params):
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    ts = [t0 + timedelta(hours=i) for i in range(30) if i not in (5, 6)]
    frame = pl.DataFrame({"outlet_id": ["X"] * len(ts), "ts_utc": ts, "a21002": [1.0] * len(ts)})
    run = cat.run_catalogue_full(frame, None, [], [], params=params)
    assert run.not_evaluable[0].reason == "CONFIG_MISSING:outlet_registry"
    assert cat.regrid(frame, 3600).height == 30
