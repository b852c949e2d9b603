from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from bogda.enforcement import plans as pl_
from bogda.enforcement import power as pw
from bogda.enforcement.detectors import Subject
from bogda.timeutil import BEIJING


@pytest.fixture(scope="module")
def steel_state(steel, params):
    p = steel["p_kw"].to_numpy()
    thr = pw.learn_threshold(p, 900, params)
    st = pw.detect_state(p, thr, 900, params)
    ts = steel["ts_utc"].dt.replace_time_zone(None).to_numpy().astype("datetime64[us]")
    return p, st, Subject("steel", "E1", ts, 900, "meter")


def _bj(*a):
    return datetime(*a, tzinfo=BEIJING)


@pytest.mark.parametrize(
    ("grade", "level", "actions"),
    [("A", "red", []), ("B", "yellow", [("transport_ban", None)]), ("B", "orange", [("cap_ratio", 0.8)]),
     ("B", "red", [("stop", None)]), ("C", "yellow", [("stop_lines", 0.5)]), ("C", "orange", [("stop", None)]),
     ("D", "yellow", [("stop", None), ("transport_ban", None)])],
)  # fmt: skip
def test_cement_measures_by_grade_and_level(grade, level, actions):
    ps = pl_.PlanSet(grades=[pl_.EnterpriseGrade("E1", "cement_clinker", grade)])
    got = [(m.action, m.value) for m in pl_.measures_for(ps, "E1", level, date(2025, 1, 1))]
    assert got == actions


def test_own_list_overrides_industry_table():
    ps = pl_.PlanSet(grades=[pl_.EnterpriseGrade("E1", "cement_clinker", "B")],
                     measures=[pl_.Measure("E1", "orange", "cap_ratio", 0.6)])  # fmt: skip
    assert [(m.action, m.value) for m in pl_.measures_for(ps, "E1", "orange", date(2025, 1, 1))] == [("cap_ratio", 0.6)]


def test_xinjiang_cement_window():
    w = pl_.xinjiang_cement_window(2025, "E1")
    assert w.start == datetime(2025, 10, 31, 16, tzinfo=UTC) and w.end == datetime(2026, 3, 31, 16, tzinfo=UTC)


def test_baseline_is_the_minimum_with_derivation():
    b = pl_.baseline_from("b1", eia_daily=5000, permit_daily=4500, prev_year_daily_mean=4200, kwh_per_unit=100)
    assert (b.value, b.unit) == (420000, "kWh/d") and "prev_year 4200" in b.derivation
    with pytest.raises(ValueError, match="b2"):
        pl_.baseline_from("b2", eia_daily=None, permit_daily=None, prev_year_daily_mean=None)


def test_stop_order_breach_on_steel(steel_state, params):
    p, st, subj = steel_state
    idle = pw.idle_band_hi(p, st, params)
    order = pl_.Order("red", _bj(2018, 3, 6), _bj(2018, 3, 8), "doc-1")
    hits = pl_.stop_breach(p, st, idle, subj, params, order=order)
    assert [h.metrics["on_hours"] for h in hits] == [13.25, pytest.approx(9.5, abs=0.5)]
    assert {h.severity for h in hits} == {"S1"}
    sunday = pl_.Order("orange", _bj(2018, 3, 4), _bj(2018, 3, 5), "doc-2")
    assert pl_.stop_breach(p, st, idle, subj, params, order=sunday) == []


def test_ramp_excludes_the_first_hours(steel_state, params):
    p, st, subj = steel_state
    idle = pw.idle_band_hi(p, st, params)
    order = pl_.Order("red", _bj(2018, 3, 6), _bj(2018, 3, 7), "doc-1")
    assert pl_.stop_breach(p, st, idle, subj, params, order=order, ramp_h=24.0) == []


@pytest.mark.parametrize(("end", "running", "of"), [((2018, 4, 1), 79, 90), ((2018, 10, 1), 231, 273)])
def test_staggered_production_on_steel(steel_state, params, end, running, of):
    _, st, subj = steel_state
    w = pl_.StaggerWindow("steel", _bj(2018, 1, 1), _bj(*end), "stagger-doc")
    (hit,) = pl_.staggered_production(st, subj, params, window=w)
    assert (hit.metrics["running_days"], hit.metrics["window_days"]) == (running, of)


@pytest.mark.parametrize("t_on", [45.0, 70.0])
def test_staggered_count_stable_over_threshold(steel, steel_state, params, t_on):
    p, _, subj = steel_state
    st = pw.detect_state(p, pw.Threshold(t_on, "test"), 900, params)
    w = pl_.StaggerWindow("steel", _bj(2018, 1, 1), _bj(2018, 4, 1))
    assert pl_.staggered_production(st, subj, params, window=w)[0].metrics["running_days"] == 79


def test_cap_breach(steel_state, params):
    p, _, subj = steel_state
    order = pl_.Order("orange", _bj(2018, 3, 5), _bj(2018, 3, 12), "doc-3")
    daily = [float(np.sum(p[(subj.days(len(p)) == d)]) / 4) for d in np.unique(subj.days(len(p)))[63:70]]
    base = pl_.Baseline("b", float(np.median(daily)), "kWh/d", "production_kwh", "test")
    hits = pl_.cap_breach(p, subj, params, order=order, allowed_ratio=0.8, baseline=base)
    over = [x for x in daily if x > 0.8 * base.value * 1.05]
    assert len(hits) == len(over) > 0
    assert pl_.cap_breach(p, subj, params, order=order, allowed_ratio=10.0, baseline=base) == []


def test_coking_and_transport(params, hourly_ts):
    subj = Subject("coke", "E1", hourly_ts(3), 86400, "enterprise")
    hits = pl_.coking_time(np.array([60, 70, 58]), subj, params, ovens=70, coking_h=28)
    assert [h.i0 for h in hits] == [1]  # 70 × 24 / 28 = 60 pushes allowed
    order = pl_.Order("orange", datetime(2011, 1, 1, 2, tzinfo=UTC), datetime(2011, 1, 1, 5, tzinfo=UTC))
    gate_ts = hourly_ts(6)
    stages = np.array(["VI", "IV", "V", "III", "IV", "VI"], dtype=object)
    assert [h.i0 for h in pl_.transport_ban(gate_ts, stages, subj, params, order=order)] == [3, 4]
