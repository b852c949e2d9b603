"""IAQI / AQI of HJ 633-2012 and HJ 633-2026: breakpoint edges, special rules, exactness, properties."""

from __future__ import annotations

import csv
import itertools
import math
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bogda.standards import aqi as A
from bogda.standards._data import table

ROWS = [(r["standard"], r["code"], r["averaging"]) for r in table("hj633_iaqi_breakpoints")]


def oracle(conc: str, code: str, averaging: str, standard: str) -> int | None:
    """Independent scalar IAQI with Fraction arithmetic, straight from the package table."""
    row = next(
        r
        for r in table("hj633_iaqi_breakpoints")
        if (r["standard"], r["code"], r["averaging"]) == (standard, code, averaging)
    )
    bps = [(Fraction(row[f"iaqi_{v}"]), v) for v in A.IAQI_LEVELS if row[f"iaqi_{v}"]]
    c = Fraction(conc)
    if c < 0:
        return None
    if c > bps[-1][0]:
        return {"": 500, "fixed_200": 200, "fixed_300": 300, "not_computed": None}[row["above_table"]]
    for (c_lo, i_lo), (c_hi, i_hi) in itertools.pairwise(bps):
        if c <= c_hi:
            return math.ceil(i_lo + Fraction(i_hi - i_lo) * (c - c_lo) / (c_hi - c_lo))
    raise AssertionError


def _edge_cases() -> list[tuple[str, str, str, str]]:
    cases = []
    for std, code, avg in ROWS:
        bp = A.breakpoints(code, avg, std)
        for c in bp.concentrations:
            for d in (Fraction(-1, 10), Fraction(0), Fraction(1, 10)):
                cases.append((std, code, avg, str(float(c + d))))
        cases += [(std, code, avg, v) for v in ("0", "-0.1", "-5", str(float(bp.top) * 3))]
    return cases


@pytest.mark.parametrize(("standard", "code", "averaging", "conc"), _edge_cases())
def test_iaqi_edges_match_fraction_oracle(standard: str, code: str, averaging: str, conc: str) -> None:
    expected = oracle(conc, code, averaging, standard)
    got = A.iaqi([float(conc)], code, averaging, standard)[0]
    if expected is None:
        assert np.isnan(got)
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("conc", "pollutant", "averaging", "standard", "expected"),
    [
        (52, "PM2.5", "24h", "2026", 84),  # standards.md §1.2: 50 + 2·17
        (52, "PM2.5", "24h", "2012", 72),  # 71.25 → 72
        (60, "PM2.5", "24h", "2026", 100),
        (75, "PM2.5", "24h", "2012", 100),
        (75, "PM2.5", "24h", "2026", 114),  # 100 + (15 / 55)·50 = 113.6
        (120, "PM10", "24h", "2026", 100),
        (150, "PM10", "24h", "2026", 112),  # 100 + 30/130·50 = 111.5
        (2.2, "CO", "24h", "2012", 55),  # a float formula gives 56
        (2.2, "CO", "24h", "2026", 55),
        (65.4, "CO", "1h", "2012", 218),  # a float formula gives 219
        (800, "SO2", "1h", "2026", 200),
        (801, "SO2", "1h", "2026", 200),  # HJ 633-2026 Table 3 note: SO2 1 h > 800 → 200
        (800, "O3", "8h", "2026", 300),
        (5000, "O3", "8h", "2026", 300),  # HJ 633-2026: O3 8 h > 800 → 300
        (600, "PM10", "1h", "2026", 500),  # 1 h PM reads the 24 h row
        (601, "PM10", "24h", "2012", 500),  # cap above the table
        (1200, "O3", "1h", "2012", 500),
        (1e9, "NO2", "1h", "2026", 500),
        (0, "CO", "1h", "2026", 0),
    ],
)
def test_iaqi_table(conc: float, pollutant: str, averaging: str, standard: str, expected: int) -> None:
    assert A.iaqi([conc], pollutant, averaging, standard)[0] == expected


@pytest.mark.parametrize(("pollutant", "averaging"), [("SO2", "1h"), ("O3", "8h")])
def test_2012_not_computed_above_800(pollutant: str, averaging: str) -> None:
    assert np.isnan(A.iaqi([800.5], pollutant, averaging, "2012")[0])
    assert A.iaqi([800], pollutant, averaging, "2012")[0] == (200 if pollutant == "SO2" else 300)


def test_float_formula_is_off_by_one_but_kernel_is_not() -> None:
    x = 2.2
    naive = math.ceil((100 - 50) / (4.0 - 2.0) * (x - 2.0) + 50)
    assert naive == 56
    assert A.iaqi([x], "CO", "24h", "2026")[0] == 55


def test_missing_and_negative_give_nan() -> None:
    out = A.iaqi(pl.Series([None, -0.1, 10.0]), "NO2", "24h", "2026")
    assert np.isnan(out[0]) and np.isnan(out[1]) and out[2] == 13


def test_pm_1h_uses_24h_breakpoints() -> None:
    assert A.breakpoints("PM2.5", "1h", "2026") == A.breakpoints("PM2.5", "24h", "2026")


def test_unknown_inputs_are_rejected_with_names() -> None:
    with pytest.raises(KeyError, match="unknown pollutant"):
        A.iaqi([1], "H2S", "1h", "2026")
    with pytest.raises(ValueError, match="2012' or '2026"):
        A.iaqi([1], "SO2", "1h", "2020")
    with pytest.raises(ValueError, match="no 8h"):
        A.breakpoints("SO2", "8h", "2026")
    with pytest.raises(ValueError, match="give the standard"):
        A.iaqi([1], "SO2", "1h")


def test_daily_frame_mixed_versions() -> None:
    frame = pl.DataFrame(
        {
            "ts": [datetime(2026, 2, 27, 16, tzinfo=UTC), datetime(2026, 2, 28, 16, tzinfo=UTC)],
            "a34004": [52.0, 52.0],
            "a34002": [40.0, 40.0],
            "a21026": [5.0, 5.0],
            "a21004": [20.0, 20.0],
            "a21005": [0.5, 0.5],
            "O3_8h": [60.0, 60.0],
            "O3_1h": [90.0, 90.0],
        }
    )
    out = A.aqi_daily(frame)
    assert out["aqi"].to_list() == [72, 84]
    assert out["primary_pollutant"].to_list() == ["PM2.5", "PM2.5"]
    assert out["level"].to_list() == [2, 2]
    assert out["publishable"].to_list() == [True, True]


# --- AQI, primary pollutant, missing items -----------------------------------------------------------


def test_primary_pollutant_ties_and_threshold() -> None:
    r = A.aqi_daily(
        {
            "PM10": [120, 40, 50],
            "PM2.5": [60, 20, 35],
            "O3_8h": [50, 100, 100],
            "SO2": [1] * 3,
            "NO2": [1] * 3,
            "CO": [0.1] * 3,
        },
        "2026",
    )
    assert r.aqi.tolist() == [100, 50, 50]
    assert r.primary.tolist() == ["PM10,PM2.5", None, None]  # AQI ≤ 50: no primary pollutant


def test_missing_item_rule_2026_5_3_1() -> None:
    base = {"SO2": [5, 5], "NO2": [20, 20], "CO": [0.5, 0.5], "PM10": [40, 200], "O3_8h": [60, 60]}
    r = A.aqi_daily({**base, "PM2.5": [np.nan, np.nan]}, "2026")
    assert r.missing.tolist() == [1, 1]
    assert r.aqi.tolist() == [40, 131]
    assert r.publishable.tolist() == [False, True]  # published only when AQI > 100
    r = A.aqi_daily(base, "2026", not_monitored=["PM2.5"])  # not in the plan (5.3.2)
    assert r.missing.tolist() == [0, 0] and r.publishable.all()


def test_exceeding_pollutant_only_in_2012() -> None:
    d = {"SO2": [5], "NO2": [20], "CO": [0.5], "PM10": [200], "PM2.5": [80], "O3_8h": [60], "O3_1h": [90]}
    assert A.aqi_daily(d, "2012").exceeding.tolist() == ["PM10,PM2.5"]
    assert A.aqi_daily(d, "2026").exceeding.tolist() == [None]


def test_2012_so2_above_800_falls_back_to_24h() -> None:
    d = {"SO2": [900, 900], "NO2": [20, 20], "CO": [0.5, 0.5], "O3": [50, 50], "PM10": [30, 30], "PM2.5": [20, 20]}
    r = A.aqi_hourly(d, "2012", so2_24h=[500, np.nan])
    assert r.iaqi["SO2"][0] == A.iaqi([500], "SO2", "24h", "2012")[0] == 154
    assert np.isnan(r.iaqi["SO2"][1])
    assert A.aqi_hourly(d, "2026").iaqi["SO2"].tolist() == [200, 200]


def test_aqi_all_missing_is_nan() -> None:
    r = A.aqi_hourly({"PM2.5": [np.nan], "PM10": [np.nan]}, "2026")
    assert np.isnan(r.aqi[0]) and r.level[0] == 0 and not r.publishable[0]


def test_to_polars_types() -> None:
    r = A.aqi_hourly({"PM2.5": [100.0, np.nan]}, "2026").to_polars()
    assert r.schema["aqi"] == pl.Int16 and r["aqi"].to_list() == [137, None]  # 100 + 40·50/55 = 136.4


def test_package_breakpoints_equal_shared_transcription(shared_data: Path) -> None:
    """The package table must carry the same numbers as the independently typed shared table."""
    path = shared_data / "standards" / "hj633_iaqi_breakpoints.csv"
    with path.open(encoding="utf-8") as f:
        shared = list(csv.DictReader(f))
    for r in shared:
        std = r["standard"][-4:]
        bp = A.breakpoints(r["pollutant"], r["averaging"], std)
        expected = [Fraction(r[f"iaqi_{v}"]) for v in A.IAQI_LEVELS if r[f"iaqi_{v}"]]
        assert list(bp.concentrations) == expected, r


# --- inverse -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("standard", "code", "averaging"), ROWS)
def test_inverse_every_integer_iaqi(standard: str, code: str, averaging: str) -> None:
    bp = A.breakpoints(code, averaging, standard)
    n = np.arange(0, int(bp.iaqi[-1]) + 1)
    lo, hi = A.concentration_range(n, code, averaging, standard)
    assert (A.iaqi(hi[np.isfinite(hi)], code, averaging, standard) == n[np.isfinite(hi)]).all()
    assert (A.iaqi(lo[1:], code, averaging, standard) == n[1:] - 1).all()
    eps = 1e-6
    assert (A.iaqi(lo[1:] + eps, code, averaging, standard) == n[1:]).all()


# --- properties --------------------------------------------------------------------------------------

_row = st.sampled_from(ROWS)


@settings(max_examples=300, deadline=None)
@given(_row, st.integers(0, 30_000_000), st.integers(0, 30_000_000))
def test_iaqi_monotone(row: tuple[str, str, str], a: int, b: int) -> None:
    std, code, avg = row
    x, y = sorted((a / 1000, b / 1000))
    ia, ib = A.iaqi([x, y], code, avg, std)
    if np.isnan(ib):  # 2012 'not computed' above 800
        assert A.breakpoints(code, avg, std).above_table == "not_computed" and y > 800
        return
    assert ia <= ib


@settings(max_examples=300, deadline=None)
@given(_row, st.integers(0, 3_840_000))
def test_iaqi_matches_oracle_and_is_continuous(row: tuple[str, str, str], milli: int) -> None:
    std, code, avg = row
    conc = Fraction(milli, 1000)
    got = A.iaqi([float(conc)], code, avg, std)[0]
    exp = oracle(str(float(conc)), code, avg, std)
    assert (np.isnan(got) and exp is None) or got == exp
    # continuity: one micro-unit apart never differs by more than one IAQI step inside the table
    bp = A.breakpoints(code, avg, std)
    if conc < bp.top:
        nxt = A.iaqi([float(conc + Fraction(1, 10**6))], code, avg, std)[0]
        assert 0 <= nxt - got <= 1


@settings(max_examples=200, deadline=None)
@given(_row, st.integers(1, 500))
def test_inverse_roundtrip(row: tuple[str, str, str], n: int) -> None:
    std, code, avg = row
    bp = A.breakpoints(code, avg, std)
    if n > int(bp.iaqi[-1]):
        return
    c = A.concentration_at(n, code, avg, std)
    assert A.iaqi([float(c)], code, avg, std)[0] == n
    assert A.iaqi([float(A.concentration_at(n - Fraction(1, 2), code, avg, std))], code, avg, std)[0] == n


def test_2012_o3_8h_above_800_is_not_missing() -> None:
    d = {"SO2": [5], "NO2": [20], "CO": [0.5], "PM10": [40], "PM2.5": [20], "O3_8h": [850], "O3_1h": [900]}
    r = A.aqi_daily(d, "2012")
    assert np.isnan(r.iaqi["O3_8h"][0])  # not computed: the O3 IAQI comes from the 1 h value
    assert r.aqi.tolist() == [350] and r.primary.tolist() == ["O3_1h"]  # 300 + 100·100/200
    assert r.missing.tolist() == [0] and r.publishable.tolist() == [True]


@pytest.mark.parametrize(("standard", "code", "averaging"), ROWS)
def test_exhaustive_published_grid(standard: str, code: str, averaging: str) -> None:
    """Every concentration on the published grid (integers; CO 0.1 mg/m³) up to 10 % above the top."""
    bp = A.breakpoints(code, averaging, standard)
    step = Fraction(1, 10) if code == "a21005" else Fraction(1)
    n = int(bp.top * Fraction(11, 10) / step) + 1
    grid = [step * k for k in range(n)]
    got = A.iaqi(np.array([float(c) for c in grid]), code, averaging, standard)
    expected = [oracle(str(c), code, averaging, standard) for c in grid]
    exp = np.array([np.nan if e is None else e for e in expected], dtype=float)
    np.testing.assert_array_equal(got, exp)


def test_long_frame_input_is_pivoted_and_versions_follow_ts() -> None:
    t = [datetime(2026, 2, 28, 15, tzinfo=UTC), datetime(2026, 2, 28, 16, tzinfo=UTC)]
    long = pl.DataFrame(
        {
            "site": ["A"] * 4,
            "ts": [t[0], t[0], t[1], t[1]],
            "parameter": ["a34004", "a34002", "a34004", "a34002"],
            "value": [52.0, 40.0, 52.0, 40.0],
        }
    )
    out = A.aqi_hourly(long)
    assert out["aqi"].to_list() == [72, 84]
    assert out["missing"].to_list() == [4, 4] and not out["publishable"].any()  # AQI ≤ 100 with missing items
    with pytest.raises(ValueError, match="duplicate"):
        A.aqi_hourly(pl.concat([long, long]))
