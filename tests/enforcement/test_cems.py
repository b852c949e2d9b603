from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bogda.enforcement import cems
from bogda.enforcement.cems import STATUS_NAMES, Mark, Outlet


@pytest.mark.parametrize(
    ("c", "o2", "ref", "expected"),
    [(30.0, 9.0, 6.0, 37.5), (40.0, 8.0, 3.5, 53.85), (8.0, 12.0, 6.0, 13.33)],  # enforcement.md §9.1
)
def test_o2_conversion(c, o2, ref, expected):
    c_ref, st = cems.convert_o2(np.array([c]), np.array([o2]), ref)
    assert round(float(c_ref[0]), 2) == expected and STATUS_NAMES[st[0]] == "VALID"


@pytest.mark.parametrize(
    ("o2", "status"),
    [(19.0, "O2_HIGH"), (20.5, "O2_HIGH"), (21.0, "O2_INVALID"), (-0.1, "O2_INVALID"), (np.nan, "O2_INVALID"),
     (18.99, "VALID")],
)  # fmt: skip
def test_o2_guard_never_clamps(o2, status):
    c_ref, st = cems.convert_o2(np.array([5.0]), np.array([o2]), 6.0)
    assert STATUS_NAMES[st[0]] == status
    assert (status == "VALID") == bool(np.isfinite(c_ref[0]))


@pytest.mark.parametrize(("o2", "factor"), [(15, 2.5), (18, 5), (19, 7.5), (20, 15), (20.9, 150)])
def test_factor_table(o2, factor):
    assert cems.o2_factor(np.array([o2]), 6.0)[0] == pytest.approx(factor)


@pytest.mark.parametrize(("value", "limit", "exceeds"), [(35.0, 35, False), (35.000001, 35, True), (34.99, 35, False)])
def test_strict_exceedance(value, limit, exceeds):
    assert bool(cems.exceeds(np.array([value]), limit)[0]) is exceeds


def test_decimal_comparison_on_value_strings():
    assert not cems.exceeds_decimal("35.000", 35)
    assert cems.exceeds_decimal("35.001", "35")
    assert not cems.exceeds_decimal("abc", 35)


def test_wet_to_dry():
    assert float(cems.wet_to_dry(90.0, 0.1)) == pytest.approx(100.0)
    assert np.isnan(cems.wet_to_dry(90.0, 1.0))


def test_sector_table_lookup():
    row = cems.sector_limit("GB 4915-2013", "cement_kiln")
    assert (row.o2_ref_pct, row.pm, row.so2, row.nox) == (10.0, 30, 200, 400)
    assert cems.sector_limit("GB 18485-2014", "incinerator").daily_limit("a21026") == 80
    with pytest.raises(KeyError, match="no sector limit"):
        cems.sector_limit("GB 0", "x")


def _outlet(**kw) -> Outlet:
    base = dict(outlet_id="O1", enterprise_id="E1", o2_ref_pct=6.0, limits={"a21002": (50.0, 40.0)},
                span={"a21002": 200.0})  # fmt: skip
    return Outlet(**(base | kw))


def test_judge_statuses_and_precedence(params):
    c = np.array([40.0, 40, 40, 40, 40, 250, np.nan, 40])
    o2 = np.array([9.0, 19.5, 9, 9, 9, 9, 9, 21])
    flags = np.array(["N", "N", "F", "M", "N", "T", "N", "N"], dtype=object)
    load = np.array([80.0, 80, 80, 80, 0, 80, 80, 80])
    marked = np.array([0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    jf = cems.judge_factor(_outlet(), "a21002", c, params=params, flags=flags, o2=o2, load=load, marked=marked)
    assert [STATUS_NAMES[s] for s in jf.status] == [
        "VALID", "O2_HIGH", "STOPPED", "INSUFFICIENT", "UNIT_OFF", "LOWER_BOUND", "INSUFFICIENT", "O2_INVALID",
    ]  # fmt: skip
    assert jf.c_ref[0] == pytest.approx(50.0)  # 40 × 15/12
    assert jf.lower_bound[5] == pytest.approx(250 * 15 / 12)  # T flag: max(value, span) converted


def test_c01_merges_and_grades(params, hourly_ts):
    n = 12
    c = np.full(n, 30.0)
    c[[2, 3, 5]] = 60.0  # hours 2-3 and 5: gap of one hour merges
    c[10] = 70.0
    o2 = np.full(n, 6.0)
    ts = hourly_ts(n)
    jf = cems.judge_factor(_outlet(), "a21002", c, params=params, o2=o2)
    hits = cems.exceedance_hits(_outlet(), jf, params, ts)
    assert [(h.i0, h.i1, h.severity) for h in hits] == [(2, 5, "S1"), (10, 10, "S1")]
    assert hits[0].metrics["exceed_pct"] == pytest.approx(20.0)
    assert hits[0].start == datetime(2011, 1, 1, 2, tzinfo=UTC)
    no_cal = _outlet(calibration_ok=False)
    assert {h.severity for h in cems.exceedance_hits(no_cal, jf, params, ts)} == {"S2"}


def test_c01_lower_bound_only_is_s2(params, hourly_ts):
    c = np.array([30.0, 190.0, 30.0])
    flags = np.array(["N", "T", "N"], dtype=object)
    jf = cems.judge_factor(_outlet(), "a21002", c, params=params, flags=flags, o2=np.full(3, 6.0))
    (hit,) = cems.exceedance_hits(_outlet(), jf, params, hourly_ts(3))
    assert (hit.i0, hit.severity, hit.metrics["lower_bound_hours"]) == (1, "S2", 1)


def test_marked_hours_are_not_judged(params, hourly_ts):
    ts = hourly_ts(6)
    start = datetime(2011, 1, 1, 1, tzinfo=UTC)
    mk = Mark("m1", "E1", "O1", "startup", start, start + timedelta(hours=3))
    marked = cems.mark_mask(ts, [mk], "O1")
    assert marked.tolist() == [False, True, True, True, False, False]
    jf = cems.judge_factor(_outlet(), "a21002", np.full(6, 90.0), params=params, o2=np.full(6, 6.0), marked=marked)
    hits = cems.exceedance_hits(_outlet(), jf, params, ts)
    assert [(h.i0, h.i1) for h in hits] == [(0, 0), (4, 5)]


def test_c02_daily_needs_20_valid_hours(params, hourly_ts):
    ts = hourly_ts(48, datetime(2025, 1, 1, 16, tzinfo=UTC))  # two Beijing days
    c = np.full(48, 45.0)
    flags = np.array(["N"] * 48, dtype=object)
    flags[24:29] = "D"  # day 2 keeps 19 valid hours → not judged
    jf = cems.judge_factor(_outlet(), "a21002", c, params=params, flags=flags, o2=np.full(48, 6.0))
    hits = cems.daily_exceedance_hits(_outlet(), jf, params, ts)
    assert [(h.i0, h.i1) for h in hits] == [(0, 23)]
    assert hits[0].metrics["n_hours"] == 24


def test_c03_monthly_rate(params, hourly_ts):
    ts = hourly_ts(24 * 31, datetime(2025, 2, 28, 16, tzinfo=UTC))  # March 2025, Beijing
    c = np.full(len(ts), 40.0)
    c[: int(0.06 * len(ts))] = 60.0
    outlet = _outlet(monthly_rate=True)
    jf = cems.judge_factor(outlet, "a21002", c, params=params, o2=np.full(len(ts), 6.0))
    (hit,) = cems.monthly_rate_hits(outlet, jf, params, ts)
    assert hit.metrics["compliant_share"] < 0.95
    c[: int(0.06 * len(ts))] = 40.0
    jf = cems.judge_factor(outlet, "a21002", c, params=params, o2=np.full(len(ts), 6.0))
    assert cems.monthly_rate_hits(outlet, jf, params, ts) == []


def test_hourly_from_minutes_45_minute_rule(params):
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    ts = [t0 + timedelta(minutes=i) for i in range(120)]
    no2 = [10.0] * 120
    flags = ["N"] * 120
    o2 = [6.0] * 60 + [12.0] * 60
    for i in range(60, 76):  # hour 2: 16 invalid minutes → 44 valid → INSUFFICIENT
        flags[i] = "M"
    o2[60:76] = [20.0] * 16  # O2 of invalid minutes must not enter the hour's O2
    df = pl.DataFrame({"outlet_id": ["O1"] * 120, "ts_utc": ts, "a21002": no2, "a21002_flag": flags, "a19001": o2})
    out = cems.hourly_from_minutes(df, ["a21002"], params)
    assert out["a21002_n"].to_list() == [60, 44]
    assert out["a21002_ok"].to_list() == [True, False]
    assert out["a21002_o2"].to_list() == [6.0, 12.0]


def test_c17_completeness(params, hourly_ts):
    ts = hourly_ts(72, datetime(2025, 1, 1, 16, tzinfo=UTC))
    valid = np.ones(72, dtype=bool)
    valid[24:30] = False  # day 2: 18 valid hours
    (hit,) = cems.completeness_hits(_outlet(), valid, params, ts, "a21002")
    assert (hit.i0, hit.i1, hit.severity) == (24, 47, "S3")


def test_c23_minute_excursions(params):
    minutes = np.full((2, 60), 30.0)
    minutes[0, 10:13] = 80.0  # 3 of 6 consecutive minutes above 50 while the hour complies
    minutes[1, 10:12] = 80.0
    hits = cems.minute_excursion_hits(_outlet(converted=True), "a21002", minutes, minutes.mean(axis=1), params)
    assert [h.i0 for h in hits] == [0]


def test_marks_exempt_only_within_their_caps(params, hourly_ts):
    from datetime import UTC, datetime, timedelta

    from bogda.enforcement.cems import Mark, exempt_mask

    ts = hourly_ts(24 * 40)
    t0 = datetime(2011, 1, 1, tzinfo=UTC)

    def mk(i: int, kind: str, start_h: int, hours: int, status: str = "accepted") -> Mark:
        s = t0 + timedelta(hours=start_h)
        return Mark(str(i), "E", "O", kind, s, s + timedelta(hours=hours), status=status)

    # a 10-h startup exempts its first 4 h only; maintenance its whole span; a pending mark nothing
    m = exempt_mask(ts, [mk(1, "startup", 10, 10), mk(2, "maintenance", 30, 6), mk(3, "stopped", 50, 3, "pending")],
                    "O", params)  # fmt: skip
    assert np.flatnonzero(m).tolist() == [10, 11, 12, 13, *range(30, 36)]
    # the annual startup/shutdown budget (60 h): 16 marks of 4 h → the 16th gets nothing (15 × 4 = 60)
    many = [mk(i, "shutdown", 48 * i, 4) for i in range(16)]
    m = exempt_mask(ts, many, "O", params)
    assert m.sum() == 60 and not m[48 * 15 : 48 * 15 + 4].any()
    # fault marks: 60 h a year in total (a 70-h fault exempts 60 h), and another target is untouched
    m = exempt_mask(ts, [mk(1, "fault_accident", 0, 70)], "O", params)
    assert m.sum() == 60 and m[:60].all()
    assert not exempt_mask(ts, [mk(1, "maintenance", 0, 5)], "other", params).any()
