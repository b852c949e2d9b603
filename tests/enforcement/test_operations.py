from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bogda.enforcement import operations as op
from bogda.enforcement.cems import Mark
from bogda.enforcement.detectors import Subject

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _subj(hourly_ts, n):
    return Subject("O1", "E1", hourly_ts(n, T0), 3600, "outlet")


@pytest.mark.parametrize(
    ("o2_run", "load_run", "expected"),
    [(19.2, 80.0, 1), (13.5, 80.0, 1), (19.2, 20.0, 0), (11.0, 80.0, 0)],  # band 6–10 %: hi + 3 = 13
)
def test_c05_o2_high(params, hourly_ts, o2_run, load_run, expected):
    n = 48
    o2 = np.full(n, 8.0)
    load = np.full(n, 80.0)
    o2[10:14], load[10:14] = o2_run, load_run
    hits = op.o2_high(o2, load, _subj(hourly_ts, n), params, guard_pct=19.0, band=(6.0, 10.0))
    assert len(hits) == expected
    if hits:
        assert (hits[0].i0, hits[0].i1) == (10, 13)


def test_c06_o2_low_with_pollutant_drop(params, hourly_ts):
    n = 24 * 20
    rng = np.random.default_rng(1)
    o2 = np.full(n, 8.0)
    c = 80 + rng.normal(0, 3, n)
    o2[400:405] = 2.0
    c[400:405] = 20.0
    hits = op.o2_low(o2, c, _subj(hourly_ts, n), params, band=(6.0, 10.0), channel="a21002")
    assert [(h.i0, h.i1) for h in hits] == [(400, 404)]
    c[400:405] = 80.0  # O2 low but no pollutant drop: no clue
    assert op.o2_low(o2, c, _subj(hourly_ts, n), params, band=(6.0, 10.0), channel="a21002") == []


def test_c14_missing_nights(params, hourly_ts):
    n = 24 * 28
    subj = _subj(hourly_ts, n)
    hod = ((subj.ts.astype(np.int64) // 3_600_000_000) + 8) % 24
    miss = np.zeros(n, dtype=bool)
    assert op.missing_pattern(miss, None, subj, params, "a21002") == []
    miss[(hod >= 23) | (hod < 3)] = True  # 4 night hours every night
    hits = op.missing_pattern(miss, None, subj, params, "a21002")
    assert hits and hits[0].metrics["reason"] == "night"
    miss[(hod >= 10) & (hod < 13)] = True  # day gaps too: no longer a night pattern
    assert [h for h in op.missing_pattern(miss, None, subj, params, "a21002") if h.metrics["reason"] == "night"] == []


def test_c15_flags(params, hourly_ts):
    n = 24 * 12
    flags = np.array(["N"] * n, dtype=object)
    load = np.tile(np.r_[np.full(12, 40.0), np.full(12, 95.0)], 12)
    assert op.flag_abuse(flags, load, _subj(hourly_ts, n), params, "a21002") == []
    flags[5] = "S"
    hits = op.flag_abuse(flags, load, _subj(hourly_ts, n), params, "a21002")
    assert [(h.metrics["reason"], h.severity) for h in hits] == [("S_flag", "S2")]
    flags[5] = "N"
    flags[np.flatnonzero(load > 90)[:20]] = "M"  # 20 of 288 h (6.9 %) and all at top load
    reasons = {h.metrics["reason"]: h.severity for h in op.flag_abuse(flags, load, _subj(hourly_ts, n), params, "a")}
    assert reasons == {"mc_share": "S3", "mc_at_high_load": "S2"}


def test_c16_f_flag_while_production_on(params, hourly_ts):
    flags = np.array(["N", "F", "F", "N", "F"], dtype=object)
    on = np.array([True, True, True, True, False])
    hits = op.stop_flag_vs_power(flags, on, _subj(hourly_ts, 5), params, "a21002")
    assert [(h.i0, h.i1) for h in hits] == [(1, 2)]
    mk = Mark("m", "E1", "O1", "stopped", T0, T0 + timedelta(hours=3))
    (hit,) = op.stopped_mark_vs_power([mk], on, _subj(hourly_ts, 5), params)
    assert hit.metrics["on_hours"] == 3.0


def test_c04_mark_audit(params, hourly_ts):
    n = 48
    load = np.full(n, 90.0)
    marks = [
        Mark("a", "E1", "O1", "startup", T0, T0 + timedelta(hours=6), entered_at=T0 + timedelta(hours=30)),
        Mark("b", "E1", "O1", "maintenance", T0 + timedelta(hours=10), T0 + timedelta(hours=12),
             entered_at=T0 + timedelta(hours=11)),
    ]  # fmt: skip
    (hit,) = op.mark_audit(marks, load, None, _subj(hourly_ts, n), params)
    assert hit.metrics["mark_id"] == "a"
    assert set(hit.metrics["reasons"].split(",")) == {"startup_over_4h", "entered_late", "steady_high_load"}


def test_c18_and_c22_and_c21(params, hourly_ts):
    n = 48
    subj = _subj(hourly_ts, n)
    temp = np.full(n, 50.0)
    temp[5:9] = 80.0
    bypass = np.zeros(n)
    bypass[20] = 15.0
    load = np.full(n, 70.0)
    hits = op.wet_fgd(temp, bypass, load, subj, params)
    assert sorted((h.metrics["reason"], h.i0, h.i1) for h in hits) == [("bypass_open", 20, 20), ("temperature", 5, 8)]
    furnace = np.full(n, 900.0)
    furnace[2:8] = 800.0  # 6 h < 850 °C on one Beijing day
    (hit,) = op.furnace_temperature(furnace, subj, params, "furnace")
    assert hit.metrics["hours_below"] == 6.0
    furnace[7] = 900.0
    assert op.furnace_temperature(furnace, subj, params, "furnace") == []
    rec = np.full(n, 50.0)
    zs = rec.copy()
    zs[10:13] = 52.0  # 4 % off for 3 h
    assert [(h.i0, h.i1) for h in op.logger_mismatch(zs, rec, subj, params, "a21002")] == [(10, 12)]
