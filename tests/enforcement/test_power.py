"""Meter states and the E rules: labelled cases and the steel plant's real 15-min load (enforcement.md §9.8, §9.11)."""

from __future__ import annotations

import numpy as np
import pytest

from bogda.enforcement import power as pw
from bogda.enforcement.detectors import Subject
from bogda.enforcement.power import NODATA, OFF, ON, STANDBY, MeterPair, Threshold

PAIR = MeterPair("P", "T", "E1")


def _steel_states(steel, params):
    p = steel["p_kw"].to_numpy()
    thr = pw.learn_threshold(p, 900, params)
    return p, thr, pw.detect_state(p, thr, 900, params)


def _subject(steel, hourly_ts, name="P"):
    ts = steel["ts_utc"].dt.replace_time_zone(None).to_numpy().astype("datetime64[us]")
    return Subject(name, "E1", ts, 900, "meter")


def test_interval_energy_and_cumulative():
    assert pw.interval_kwh_to_kw(np.array([25.0, -1.0]), 900).tolist()[0] == 100.0
    assert np.isnan(pw.interval_kwh_to_kw(np.array([-1.0]), 900)[0])
    d = pw.cumulative_to_interval_kwh(np.array([10.0, 12.0, 11.0, 15.0]))
    assert np.isnan(d[0]) and d[1] == 2.0 and np.isnan(d[2]) and d[3] == 4.0  # negative delta → NODATA


def test_hysteresis_debounce_nodata(params):
    thr = Threshold(100.0, "test")
    p = np.array([10, 150, 150, 90, 90, 70, 70, np.nan, 150, 150, 10, 10, 150, 10, 10], dtype=float)
    st = pw.detect_state(p, thr, 900, params)
    # 90 is in the hysteresis band (80–100): ON holds; 70 < 80 → OFF; NaN → NODATA; lone 150 debounced
    assert st.tolist() == [OFF, ON, ON, ON, ON, OFF, OFF, NODATA, ON, ON, OFF, OFF, OFF, OFF, OFF]


def test_standby_between_off_p95_and_t_on(params):
    thr = Threshold(100.0, "test", off_p95=20.0)
    st = pw.detect_state(np.array([5.0, 5, 50, 50, 150, 150]), thr, 900, params, has_standby=True)
    assert st.tolist() == [OFF, OFF, STANDBY, STANDBY, ON, ON]


def test_fallback_threshold(params):
    p = np.full(96 * 5, 42.0)  # 5 days, unimodal
    thr = pw.learn_threshold(p, 900, params, rated=300.0)
    assert (thr.source, thr.t_on) == ("fallback", pytest.approx(30.0))
    assert pw.learn_threshold(p, 900, params).source == "none"
    assert (pw.detect_state(p, pw.learn_threshold(p, 900, params), 900, params) == NODATA).all()


def test_steel_state_detection(steel, params, hourly_ts):
    p, thr, st = _steel_states(steel, params)
    assert thr.source == "otsu" and 40 < thr.t_on < 70 and thr.t_on == pytest.approx(57, abs=2)
    assert 0.40 <= (st == ON).mean() <= 0.41
    subj = _subject(steel, hourly_ts)
    days = subj.days(len(p))
    hod = ((subj.ts.astype(np.int64) // 3_600_000_000) + 8) % 24
    dow = (days + 3) % 7
    day_ids = np.unique(days)
    on_h = np.array([(st[days == k] == ON).sum() / 4 for k in day_ids])
    ddow = (day_ids + 3) % 7
    assert np.median(on_h[ddow < 5]) == 12 and np.median(on_h[ddow == 6]) == 0
    lunch = (st[hod == 12] == ON).mean()
    around = (st[(hod == 11) | (hod == 13)] == ON).mean()
    assert lunch == pytest.approx(0.11, abs=0.02) and around == pytest.approx(0.81, abs=0.02)
    assert dow is not None


@pytest.mark.parametrize("t_on", [45.0, 57.0, 70.0])
def test_steel_on_share_stable(steel, params, t_on):
    st = pw.detect_state(steel["p_kw"].to_numpy(), Threshold(t_on, "test"), 900, params)
    assert 0.40 <= (st == ON).mean() <= 0.415


def test_steel_night_day_no_week_fires(steel, params, hourly_ts):
    p = steel["p_kw"].to_numpy()
    assert pw.night_day(p, _subject(steel, hourly_ts), params, meter_id="steel") == []


def test_night_day_labelled(params, hourly_ts):
    n = 96 * 14
    ts = hourly_ts(n, step_s=900)
    subj = Subject("m", "E1", ts, 900, "meter")
    hod = ((ts.astype(np.int64) // 3_600_000_000) + 8) % 24
    night = (hod >= 22) | (hod < 6)
    p = np.where(night, 500.0, 20.0)  # a plant running at night only
    hits = pw.night_day(p, subj, params, meter_id="m")
    assert len(hits) >= 2 and all(h.metrics["days_over"] >= 3 for h in hits)
    assert pw.night_day(np.where(night, 20.0, 500.0), subj, params, meter_id="m") == []


# ----------------------------------------------------------- two-meter series built from the steel file
def _pair(steel, params):
    p, _thr, sp = _steel_states(steel, params)
    pt = np.where(sp == ON, 0.3 * p, 3.0)  # a fan following production
    tthr = pw.learn_threshold(pt, 900, params)
    return p, sp, pt, tthr


def test_pair_original_is_clear(steel, params, hourly_ts):
    p, sp, pt, tthr = _pair(steel, params)
    st = pw.detect_state(pt, tthr, 900, params)
    subj = _subject(steel, hourly_ts)
    assert pw.treatment_off(sp, st, subj, params, pair=PAIR) == []
    assert pw.late_early(sp, st, subj, params, pair=PAIR) == []
    assert pw.meter_offline(p, pt, subj, params, pair=PAIR) == []
    assert pw.under_loaded(p, pt, sp, st, subj, params, pair=PAIR) == []


def test_treatment_off_injection(steel, params, hourly_ts):
    _p, sp, pt, tthr = _pair(steel, params)
    on_idx = np.flatnonzero(sp == ON)
    k0 = on_idx[5000]
    a = k0 - (k0 - np.flatnonzero(sp[:k0] != ON)[-1]) + 1  # start of that production run
    mid = a + 8  # two hours into the run, away from its edges
    pt2 = pt.copy()
    pt2[mid : mid + 4] = 3.0  # treatment off for one hour
    st = pw.detect_state(pt2, tthr, 900, params)
    hits = pw.treatment_off(sp, st, _subject(steel, hourly_ts), params, pair=PAIR)
    assert [(h.i0, h.i1) for h in hits] == [(mid, mid + 3)]
    assert hits[0].metrics["minutes"] == 60.0


def test_late_start_injection(steel, params, hourly_ts):
    _p, sp, pt, tthr = _pair(steel, params)
    starts, _ = pw._edges(sp)
    a = starts[starts > 5000][0]
    pt2 = pt.copy()
    pt2[a : a + 3] = 3.0  # treatment starts 45 min after production
    st = pw.detect_state(pt2, tthr, 900, params)
    subj = _subject(steel, hourly_ts)
    hits = pw.late_early(sp, st, subj, params, pair=PAIR)
    assert [(h.i0, h.metrics["reason"], h.metrics["minutes"]) for h in hits] == [(a, "late_start", 50.0)]
    assert hits[0].severity == "S3"
    assert pw.treatment_off(sp, st, subj, params, pair=PAIR) == []  # edge stretch belongs to E02


def test_treatment_meter_offline(steel, params, hourly_ts):
    p, sp, pt, tthr = _pair(steel, params)
    pt2 = pt.copy()
    pt2[2000:2004] = np.nan
    st = pw.detect_state(pt2, tthr, 900, params)
    subj = _subject(steel, hourly_ts)
    (hit,) = pw.meter_offline(p, pt2, subj, params, pair=PAIR)
    assert (hit.i0, hit.i1, hit.severity) == (2000, 2003, "S3")
    assert pw.treatment_off(sp, st, subj, params, pair=PAIR) == []  # NODATA is never OFF


def test_under_loaded_injection(steel, params, hourly_ts):
    p, sp, pt, tthr = _pair(steel, params)
    pt2 = pt.copy()
    on = np.flatnonzero(sp == ON)
    seg = on[(on > 10000) & (on < 10400)][:6]
    pt2[seg] = np.maximum(0.3 * p[seg] * 0.3, tthr.t_on * 1.01)  # running, far below its own level
    st = pw.detect_state(pt2, tthr, 900, params)
    hits = pw.under_loaded(p, pt2, sp, st, _subject(steel, hourly_ts), params, pair=PAIR)
    assert any(h.metrics["reason"] == "below_own_median" and h.i0 <= seg[0] <= h.i1 for h in hits)


def test_bypass_wiring(params, hourly_ts):
    n = 96 * 3
    subj = Subject("tot", "E1", hourly_ts(n, step_s=900), 900, "meter")
    total = np.full(n, 400.0)
    prod = np.full(n, 350.0)
    assert pw.bypass_wiring(prod, total, 50.0, subj, params, meter_id="tot") == []
    prod[96:192] = 100.0
    (hit,) = pw.bypass_wiring(prod, total, 50.0, subj, params, meter_id="tot")
    assert hit.i0 % 96 == 0 or hit.i1 - hit.i0 == 95
