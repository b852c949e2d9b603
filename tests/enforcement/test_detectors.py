"""Shape detectors: labelled synthetic cases and the located anomalies of the real files (enforcement.md §9)."""

from __future__ import annotations

import numpy as np
import pytest

from bogda.enforcement import detectors as d
from bogda.enforcement.detectors import Subject

RNG = np.random.default_rng(7)


def _noise(n: int, level: float = 80.0, sd: float = 3.0) -> np.ndarray:
    return np.round(level + RNG.normal(0, sd, n), 3)


# ------------------------------------------------------------------ synthetic labelled cases
@pytest.mark.parametrize(
    ("run_len", "load_var", "expected"),
    [(6, True, [(100, 105, "S2")]), (5, True, []), (12, False, [(100, 111, "S3")])],
)
def test_flat_line_labelled(params, run_len, load_var, expected):
    x = _noise(300)
    x[100 : 100 + run_len] = 61.25
    load = 100 + (RNG.normal(0, 10, 300) if load_var else np.zeros(300))
    hits = d.flat_line(x, load, Subject("o"), params, "a21002")
    assert [(h.i0, h.i1, h.severity) for h in hits] == expected


def test_flat_line_ignores_unit_off(params):
    x = _noise(50)
    x[10:30] = 0.0
    load = np.full(50, 80.0)
    load[10:30] = 0.0
    assert d.flat_line(x, load, Subject("o"), params, "a21002") == []


def test_linear_fill_labelled(params):
    x = _noise(400)
    x[200:210] = np.linspace(70, 90, 10)
    hits = d.linear_fill(x, Subject("o"), params, "a21002")
    assert [(h.i0, h.i1) for h in hits] == [(200, 209)]
    x[200:210] = _noise(10)
    assert d.linear_fill(x, Subject("o"), params, "a21002") == []


def test_copied_block_labelled(params):
    x = _noise(24 * 20)
    x[24 * 10 : 24 * 11] = x[24 * 7 : 24 * 8]  # day 10 copies day 7
    (hit,) = d.copied_block(x, Subject("o"), params, "a21002")
    assert (hit.i0, hit.i1, hit.metrics["lag_days"]) == (240, 263, 3.0)
    x[24 * 10 : 24 * 11] = 55.0  # constant block: C07's business, not C12's
    assert d.copied_block(x, Subject("o"), params, "a21002") == []


def test_copied_block_beyond_14_days_is_clear(params):
    x = _noise(24 * 40)
    x[24 * 30 : 24 * 31] = x[24 * 10 : 24 * 11]
    assert d.copied_block(x, Subject("o"), params, "a21002") == []


def test_pinned_below_limit_labelled(params):
    n = 24 * 10
    load = 60 + 20 * np.sin(np.arange(n) / 5)
    x = np.round(40 + 0.4 * load + RNG.normal(0, 2, n), 2)
    x[100:130] = np.round(48.5 + RNG.normal(0, 0.5, 30), 2).clip(45.1, 49.9)
    hits = d.pinned_below_limit(x, load, 50.0, Subject("o"), params, "a21002")
    assert len(hits) == 1 and hits[0].i0 >= 100 - 5 and hits[0].i1 <= 130 + 5
    assert d.pinned_below_limit(x, load, 80.0, Subject("o"), params, "a21002") == []


def test_step_drop_labelled(params):
    n = 24 * 60
    load = 100 + 20 * np.sin(np.arange(n) / 7)
    x = load * 0.8 * np.exp(RNG.normal(0, 0.05, n))
    clean = d.step_drop(x, load, Subject("o"), params, "a21002")
    x[24 * 40 : 24 * 43] *= 0.3
    (hit,) = d.step_drop(x, load, Subject("o"), params, "a21002")
    assert clean == [] and (hit.i0, hit.i1) == (24 * 40, 24 * 43 - 1)
    assert hit.metrics["drop_factor"] == pytest.approx(0.3, abs=0.05)
    excused = np.zeros(n, dtype=bool)
    excused[24 * 41] = True
    assert d.step_drop(x, load, Subject("o"), params, "a21002", excused=excused) == []


def test_stale_records_labelled(params):
    m = RNG.normal(0, 1, (50, 10))
    m[21:25] = m[20]
    m[31:33] = m[30]  # only two repeats
    hits = d.stale_records(m, Subject("o"), params)
    assert [(h.i0, h.i1) for h in hits] == [(20, 24)]


def test_flow_load_break_labelled(params):
    n = 24 * 40
    load = 70 + 20 * np.sin(np.arange(n) / 9)
    flow = load * 3.0 * np.exp(RNG.normal(0, 0.02, n))
    assert d.flow_load_break(flow, load, Subject("o"), params, "a00000") == []
    flow[24 * 35 : 24 * 35 + 8] *= 0.3
    (hit,) = d.flow_load_break(flow, load, Subject("o"), params, "a00000")
    assert (hit.i0, hit.i1, hit.metrics["reason"]) == (840, 847, "ratio")


def test_residual_break_labelled(params):
    n = 2000
    load = 60 + 30 * RNG.random(n)
    o2 = 6 + RNG.normal(0, 0.5, n)
    y = 2 * load + 5 * o2 + RNG.normal(0, 2, n)
    assert d.residual_break(y, {"load": load, "o2": o2}, Subject("o"), params, "a21002") == []
    y[500:510] += 60
    (hit,) = d.residual_break(y, {"load": load, "o2": o2}, Subject("o"), params, "a21002")
    assert (hit.i0, hit.i1) == (500, 509)


def test_narrow_band_labelled(params):
    n = 24 * 3
    x = _noise(n, 30, 3)
    x[24:48] = 30 + RNG.random(24) * 1.0  # 1 mg/m³ range on a 200 span
    hits = d.narrow_band(x, None, Subject("o"), params, "a21002", span=200.0, lod=None)
    assert [(h.i0, h.i1) for h in hits] == [(24, 47)]


def test_change_point():
    assert d.change_point_l2(np.r_[np.ones(10), np.zeros(5)]) == 10


# ------------------------------------------------------------------ real data (enforcement.md §9)
def _flat(gas_turbine, params, year, ch):
    df = gas_turbine(year)
    return d.flat_line(df[ch].to_numpy(), df["TEY"].to_numpy(), Subject(f"gt{year}"), params, ch)


def test_frozen_nox_2011_is_one_s2_event(gas_turbine, params):
    (hit,) = _flat(gas_turbine, params, 2011, "NOX")
    assert (hit.i0, hit.i1, hit.n_rows, hit.severity) == (1336, 1437, 102, "S2")
    assert hit.metrics["value"] == 60.38
    assert hit.metrics["load_cv"] == pytest.approx(0.099, abs=0.002)
    assert (hit.metrics["load_min"], hit.metrics["load_max"]) == (124.17, 169.72)


@pytest.mark.parametrize(
    ("year", "ch", "expected"),
    [
        (2011, "CO", []),
        (2012, "NOX", []), (2012, "CO", []), (2013, "NOX", []), (2013, "CO", []),
        (2014, "NOX", [(4206, 4211, "S3")]),
        (2014, "CO", [(60, 71, "S3"), (4206, 4211, "S3")]),
    ],
)  # fmt: skip
def test_flat_line_real(gas_turbine, params, year, ch, expected):
    assert [(h.i0, h.i1, h.severity) for h in _flat(gas_turbine, params, year, ch)] == expected


def test_load_plateaus_are_not_tested(gas_turbine, params):
    """TEY plateaus of 7 h (2011 rows 4862–4868, 5006–5012) exist but load channels are never flat-line tested;
    applied to TEY anyway the rule would see them, which is why the catalogue excludes load."""
    df = gas_turbine(2011)
    hits = d.flat_line(df["TEY"].to_numpy(), None, Subject("gt"), params, "TEY")
    assert {(4862, 4868), (5006, 5012)} <= {(h.i0, h.i1) for h in hits}


@pytest.mark.parametrize("year", [2011, 2012, 2013, 2014])
def test_stale_records_real(gas_turbine, params, year):
    df = gas_turbine(year)
    m = df.drop("row").to_numpy()
    hits = d.stale_records(m, Subject("gt"), params)
    expected = [(4207, 4211), (5197, 5200)] if year == 2014 else []
    assert [(h.i0, h.i1) for h in hits] == expected


@pytest.mark.parametrize(
    ("year", "ch", "expected"),
    [
        (2014, "NOX", [(58, 78), (84, 90), (95, 101), (5905, 5928)]),
        (2014, "CO", [(5905, 5928)]),
        (2011, "NOX", []), (2011, "CO", []), (2012, "NOX", []), (2012, "CO", []), (2013, "NOX", []), (2013, "CO", []),
    ],
)  # fmt: skip
def test_linear_fill_real(gas_turbine, params, year, ch, expected):
    df = gas_turbine(year)
    hits = d.linear_fill(df[ch].to_numpy(), Subject("gt"), params, ch)
    assert [(h.i0, h.i1) for h in hits] == expected


@pytest.mark.parametrize("year", [2011, 2012, 2013, 2014])
@pytest.mark.parametrize("ch", ["NOX", "CO"])
def test_no_copied_block_real(gas_turbine, params, year, ch):
    df = gas_turbine(year)
    assert d.copied_block(df[ch].to_numpy(), Subject("gt"), params, ch) == []


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2011, []), (2012, []), (2013, []),
     (2014, [(3298, 3322), (3376, 3402), (4269, 4300), (4401, 4428), (4895, 4937)])],
)  # fmt: skip
def test_pinned_below_limit_reference(gas_turbine, params, year, expected):
    df = gas_turbine(year)
    hits = d.pinned_below_limit(df["NOX"].to_numpy(), df["TEY"].to_numpy(), 50.0, Subject("gt"), params, "NOX")
    assert [(h.i0, h.i1) for h in hits] == expected
    assert all(h.severity == "S3" for h in hits)


@pytest.mark.parametrize("year", [2011, 2012, 2013, 2014])
def test_step_drop_real(gas_turbine, params, year):
    df = gas_turbine(year)
    ld = df["TEY"].to_numpy()
    assert d.step_drop(df["NOX"].to_numpy(), ld, Subject("gt"), params, "NOX") == []
    co = d.step_drop(df["CO"].to_numpy(), ld, Subject("gt"), params, "CO")
    assert len(co) <= 1
    if co:  # the one CO event found: 2012 from row 456 (CO/load falls to ~0.2 of its 30-day level for days)
        assert (year, co[0].i0) == (2012, 456) and co[0].metrics["drop_factor"] < 0.3


def test_campd_co2_is_derived_and_heat_rate_clear(campd, params):
    cols = {
        "so2": campd["SO2 Mass (lbs)"].to_numpy().astype(float),
        "co2": campd["CO2 Mass (short tons)"].to_numpy().astype(float),
        "nox": campd["NOx Mass (lbs)"].to_numpy().astype(float),
        "heat_input": campd["Heat Input (mmBtu)"].to_numpy().astype(float),
        "load": campd["Gross Load (MW)"].to_numpy().astype(float),
    }
    derived = d.derived_channels(cols, params, base=("heat_input", "load"))
    assert derived == {"co2": "heat_input"}
    ratio = cols["co2"] / cols["heat_input"]
    assert np.round(ratio, 4).min() == np.round(ratio, 4).max() == 0.1026
    hr = cols["heat_input"] / cols["load"]
    assert hr.min() > 8.9 and hr.max() < 10.1
    subj = Subject("bowen")
    assert d.flow_load_break(cols["heat_input"], cols["load"], subj, params, "heat_input") == []
