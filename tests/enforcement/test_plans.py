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


@pytest.mark.parametrize(
    ("industry", "grade", "level", "actions"),
    [("cement_clinker", "引领性", "red", []), ("cement_clinker", "leading", "orange", []),
     ("cement_clinker", "B-", "yellow", [("transport_ban", None), ("cap_ratio", 0.9)]),
     ("cement_clinker", "B－", "orange", [("cap_ratio", 0.7)]), ("cement_clinker", "B-", "red", [("stop", None)]),
     ("cement_clinker", "非引领性", "yellow", [("stop_lines", 0.5)]),
     ("cement_clinker", "非引领性", "red", [("stop", None)]),
     ("cement_clinker", "未分级", "red", [("stop", None), ("transport_ban", None)]),
     ("cement_clinker", "E", "red", []),
     ("cement", "B", "orange", [("cap_ratio", 0.8)]), ("cement", "非引领性", "orange", [("stop", None)]),
     (" Cement ", "C", "orange", [("stop", None)]), ("水泥", "A级", "red", []), ("steel", "D", "red", [])],
)  # fmt: skip
def test_grade_names_and_industry_names_select_the_table_rows(industry, grade, level, actions):
    """Grades as the registry and the ledger write them (引领性, 非引领性, B－) and the ledger's industry "cement"."""
    ps = pl_.PlanSet(grades=[pl_.EnterpriseGrade("E1", industry, grade)])
    assert [(m.action, m.value) for m in pl_.measures_for(ps, "E1", level, date(2025, 1, 1))] == actions


def test_cement_table_agrees_with_the_emergency_list_template():
    """Enforcement checks what the emergency list told the enterprise: same rows for every cement grade and level."""
    from bogda.forecast import emergency as em

    template: dict[tuple[str, str], list[tuple[str, float | None]]] = {}
    for r in em.default_templates():
        if r.sector == "cement" and not r.subsector:
            acts = template.setdefault((r.grade, r.level), [])
            if r.action != "none":
                acts.append((r.action, r.value))
    assert {k: list(v) for k, v in pl_.CEMENT_CLINKER.items()} == template
    assert pl_.UNRATED_AS == em.UNRATED_AS
    assert pl_.INDUSTRY_TABLES["cement"] is pl_.INDUSTRY_TABLES["cement_clinker"]  # one table, two names


def test_each_order_reads_only_its_own_list():
    """A list's measures bind under the order it was frozen for; a listed enterprise with no action gets none."""
    t = datetime(2026, 1, 10, tzinfo=UTC)
    x, y, z = (pl_.Order("orange", t, t.replace(day=12), key=k) for k in ("1", "2", "3"))
    ps = pl_.PlanSet(
        grades=[pl_.EnterpriseGrade("E1", "cement_clinker", "B")],
        orders=[x, y, z],
        measures=[pl_.Measure("E1", "orange", "stop", order_key="1")],
        listed={("1", "E1"), ("3", "E1")},  # on order 3's list with 自主减排 only
    )
    got = [(o.key, m.action, m.value) for o, m in pl_.active_measures(ps, "E1")]
    assert got == [("1", "stop", None), ("2", "cap_ratio", 0.8)]
    # without an order no list is read: the grade table
    assert [m.action for m in pl_.measures_for(ps, "E1", "orange", t.date())] == ["cap_ratio"]


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
    gsubj = Subject("E1", "E1", gate_ts, 1, "enterprise")
    (hit,) = pl_.transport_ban(gate_ts, stages, gsubj, params, order=order)  # one hit per day with banned entries
    assert (hit.i0, hit.i1, hit.metrics["entries"], hit.metrics["stages"]) == (3, 4, 2, ["III", "IV"])


def _pusher_minutes(days: int, pushes_per_day: int, seed: int = 3):
    """1-min power of a pusher machine: idle ≈ 6 kW, each push 2–4 min at ≈ 110 kW, spread over the day; one
    25-min travel run a day (not a push)."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    p = 6 + rng.normal(0, 0.5, n)
    starts = []
    for d in range(days):
        slots = np.linspace(0, 1380, pushes_per_day, endpoint=False).astype(int) + 3  # the last hour: travel
        for s in slots:
            k = d * 1440 + int(s)
            p[k : k + int(rng.integers(2, 5))] = 110 + rng.normal(0, 3, 1)
            starts.append(k)
        p[d * 1440 + 1405 : d * 1440 + 1430] = 95  # travel / maintenance: too long for a push
    return p, starts


def test_pushes_from_power(params, hourly_ts):
    p, starts = _pusher_minutes(2, 60)
    ts = hourly_ts(len(p), step_s=60)
    got = pl_.pushes_from_power(ts, p, 50.0, 60, params)
    assert got.tolist() == ts[starts].tolist()  # every push, not the 25-min run


def test_p02_from_the_pusher_signature(params, hourly_ts):
    from datetime import UTC, datetime

    import polars as pl

    from bogda.enforcement import catalogue as cat
    from bogda.enforcement.power import Meter

    days = 16
    p, _ = _pusher_minutes(days, 60)
    ts = hourly_ts(len(p), start=datetime(2025, 12, 31, 16, tzinfo=UTC), step_s=60)  # 2026-01-01 00:00 Beijing
    mf = pl.DataFrame({"meter_id": "PUSH", "ts_utc": ts, "p_kw": p}).with_columns(
        pl.col("ts_utc").dt.replace_time_zone("UTC")
    )
    bat = pl_.CokeBattery("E1", "1", 55, chamber_height_m=6.5, coking_h=20.0, pusher_meter="PUSH")
    order = pl_.Order("orange", datetime(2026, 1, 13, 16, tzinfo=UTC), datetime(2026, 1, 15, 16, tzinfo=UTC), "o")
    plans = pl_.PlanSet(orders=[order], measures=[pl_.Measure("E1", "orange", "extend_coking_h")])
    meters = [Meter("PUSH", "E1", "production", interval_s=60)]
    run = cat.run_catalogue_full(None, mf, [], meters, plans, params, coke=[bat])
    (hit,) = [h for h in run.hits if h.rule_id == "P02"]
    # 60 pushes/day: design 55 × 24 / 20 = 66 allowed (clear); under the order 55 × 24 / 28 = 47.1 → the two days
    assert hit.metrics["push_source"] == "signature" and hit.metrics["pushes"] == [60.0, 60.0]
    assert (hit.start, hit.end) == (order.issued_at, order.lifted_at)
    # without a usable pusher series the rule says so instead of staying silent
    run = cat.run_catalogue_full(
        None, mf, [], meters, plans, params, coke=[bat.__class__("E1", "1", 55, pusher_meter="X")]
    )
    assert any(ne.rule_id == "P02" and "pusher_meter_series:X" in ne.reason for ne in run.not_evaluable)
