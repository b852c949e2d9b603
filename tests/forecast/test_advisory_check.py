"""Advisory verification and local threshold tuning (forecast.md §3.8, :mod:`bogda.forecast.advisory_check`): the
observed events, the daily weather of the decided days, TS/POD/FAR/ETS, the ETS tuning with its tie rule, the noisy
proxy, the whole check on a synthetic dataset and the Beijing PRSA run (slow)."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bogda.forecast import advisories as adv
from bogda.forecast import advisory_check as ac
from sharedata import require_shared

NAN = float("nan")


def _bj_midnight(d: date) -> datetime:
    """UTC instant of 00:00 Beijing on ``d`` (UTC+8)."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC) - timedelta(hours=8)


def _hours(loc: str, d: date, **cols: object) -> pl.DataFrame:
    """The 24 hourly rows of Beijing day ``d`` at ``loc``; each column a scalar (every hour) or 24 values."""
    t0 = _bj_midnight(d)
    data: dict[str, object] = {
        "location_id": [loc] * 24,
        "ts": pl.Series([t0 + timedelta(hours=k) for k in range(24)], dtype=pl.Datetime("us", "UTC")),
    }
    for c, v in cols.items():
        data[c] = pl.Series(c, list(v) if isinstance(v, list) else [v] * 24, dtype=pl.Float64)
    return pl.DataFrame(data)


def _by_day(ev: pl.DataFrame) -> dict[tuple[str, date], dict]:
    return {(r["location_id"], r["day"]): r for r in ev.to_dicts()}


# --- observed events ----------------------------------------------------------------------------------------------


def test_dust_event_needs_one_dust_hour_and_18_valid_hours_to_say_no() -> None:
    d1, d2, d3, d4, d5 = (date(2016, 4, k) for k in range(1, 6))
    pm10, pm25 = [100.0] * 24, [50.0] * 24
    # d1: a dust hour at 00:00 Beijing (16:00 UTC of the day before): PM10 400, ratio 0.25
    dust10, dust25 = pm10.copy(), pm25.copy()
    dust10[0], dust25[0] = 400.0, 100.0
    # d2: near misses only: ratio 0.4 at PM10 400, and PM10 exactly 300 at ratio 0.2
    near10, near25 = pm10.copy(), pm25.copy()
    near10[3], near25[3] = 400.0, 160.0
    near10[4], near25[4] = 300.0, 60.0
    # d3: exactly 18 hours with both values (NaN is missing) -> decided "no"
    d3_10 = [NAN] * 6 + [100.0] * 18
    # d4: 17 hours with both: 4 PM10 NaN, 3 PM2.5 null -> undecided (24 rows, not 24 valid hours)
    d4_10 = [NAN] * 4 + [100.0] * 20
    d4_25 = [50.0] * 4 + [None] * 3 + [50.0] * 17
    # d5: only 10 valid hours, but one of them is a dust hour -> dust
    d5_10 = [NAN] * 14 + [100.0] * 9 + [500.0]
    d5_25 = [NAN] * 14 + [50.0] * 9 + [100.0]
    h = pl.concat(
        [
            _hours("A", d1, c_pm10=dust10, c_pm25=dust25),
            _hours("A", d2, c_pm10=near10, c_pm25=near25),
            _hours("A", d3, c_pm10=d3_10, c_pm25=pm25),
            _hours("A", d4, c_pm10=d4_10, c_pm25=d4_25),
            _hours("A", d5, c_pm10=d5_10, c_pm25=d5_25),
            _hours("B", d1, c_pm10=pm10, c_pm25=pm25),
        ]
    )
    ev = ac.observed_events(h)
    assert ev.select("location_id", "day").rows() == [("A", d) for d in (d1, d2, d3, d4, d5)] + [("B", d1)]
    assert ev["dust"].to_list() == [True, False, False, None, True, False]
    # no O3 and no rain here: the other kinds are undecided, not False
    assert ev["ozone"].null_count() == ev.height
    assert ev["precip"].null_count() == ev.height


def test_ozone_event_is_the_daily_max_8h_mean_above_160() -> None:
    d1, d2, d3, d4 = (date(2016, 7, k) for k in range(1, 5))

    def o3(peak: float, n: int) -> list[float]:
        v = [100.0] * 24
        v[10 : 10 + n] = [peak] * n  # 10:00 … Beijing
        return v

    h = pl.concat(
        [
            _hours("A", d1, c_o3=o3(200.0, 8)),  # 8 h at 200 -> MDA8 200
            _hours("A", d2, c_o3=o3(160.0, 8)),  # MDA8 exactly 160: not above the limit
            _hours("A", d3, c_o3=o3(200.0, 4)),  # best window (4·200 + 4·100)/8 = 150
            _hours("A", d4, c_o3=[None] * 24),  # no O3 that day
        ]
    )
    ev = _by_day(ac.observed_events(h))
    assert [ev["A", d]["o3_8h"] for d in (d1, d2, d3)] == [200.0, 160.0, 150.0]
    assert [ev["A", d]["ozone"] for d in (d1, d2, d3, d4)] == [True, False, False, None]
    assert ev["A", d4]["o3_8h"] is None
    # a frame without an O3 column decides nothing
    no_o3 = ac.observed_events(_hours("A", d1, c_pm25=50.0, c_pm10=80.0))
    assert no_o3["ozone"].to_list() == [None] and no_o3["o3_8h"].to_list() == [None]


def test_stagnant_event_is_pollution_without_rain() -> None:
    days = [date(2016, 1, k) for k in range(1, 11)]
    one_h = [0.0] * 23 + [1.0]  # 1.0 mm in the day: rain
    light = [0.0] * 23 + [0.9]  # 0.9 mm: dry
    part_rain = [None] * 7 + [0.0] * 17  # 17 hours of rain gauge: unknown
    cases = [
        (100.0, 0.0, True),  # polluted and dry
        (100.0, one_h, False),  # polluted with ≥ 1 mm: washout, not stagnation
        (100.0, light, True),
        (60.0, 0.0, False),
        (60.0, 10.0, False),  # ≤ 75 with rain
        (75.0, 0.0, False),  # exactly 75 is not above the limit
        (100.0, part_rain, None),  # polluted, rain unknown
        ([NAN] * 5 + [100.0] * 19, 0.0, None),  # 19 PM2.5 hours: no daily mean
        ([NAN] * 4 + [100.0] * 20, 0.0, True),  # 20 hours: a daily mean
        (60.0, part_rain, False),  # clean: the rain does not matter
    ]
    h = pl.concat([_hours("A", d, c_pm25=pm, precip=rain) for d, (pm, rain, _) in zip(days, cases, strict=True)])
    ev = ac.observed_events(h)
    assert ev["stagnant"].to_list() == [c[2] for c in cases]
    assert ev["pm25"].to_list() == [100.0, 100.0, 100.0, 60.0, 60.0, 75.0, 100.0, None, 100.0, 60.0]
    assert ev["precip"].to_list() == pytest.approx([0.0, 1.0, 0.9, 0.0, 240.0, 0.0, None, 0.0, 0.0, None])
    # without a precipitation column a polluted day is undecided, a clean one is not stagnant
    no_rain = pl.concat([_hours("A", days[0], c_pm25=100.0), _hours("A", days[1], c_pm25=50.0)])
    assert ac.observed_events(no_rain)["stagnant"].to_list() == [None, False]
    # without the rain clause (no rain observed) a polluted day is the event whatever the rain
    dry_rule = ac.observed_events(h, rain=False)["stagnant"].to_list()
    assert dry_rule == [True, True, True, False, False, False, True, None, True, False]


# --- weather days -------------------------------------------------------------------------------------------------


def _long(loc: str, d: date, variable: str, values: list[float | None], hours: range | None = None) -> pl.DataFrame:
    t0 = _bj_midnight(d)
    hours = hours if hours is not None else range(len(values))
    return pl.DataFrame(
        {
            "location_id": [loc] * len(values),
            "valid_start": pl.Series([t0 + timedelta(hours=k) for k in hours], dtype=pl.Datetime("us", "UTC")),
            "variable": [variable] * len(values),
            "value": pl.Series(values, dtype=pl.Float64),
        }
    )


def test_weather_days_keep_days_with_18_hours_of_wind_and_humidity() -> None:
    d1, d2, d3, d4, d5 = (date(2016, 5, k) for k in range(1, 6))
    ws = [float(k % 6) for k in range(24)]  # 0..5 repeated
    ws_nan = ws.copy()
    ws_nan[7] = NAN  # one NaN hour: 23 valid hours, mean of those
    rh = [80.0 - 2 * k for k in range(24)]  # 80 … 34
    t2m = [10.0 + k for k in range(24)]  # max 33 at 23:00 Beijing
    precip = [0.0] * 20 + [0.5] * 4
    full = [
        _long("A", d1, "ws10", ws_nan),
        _long("A", d1, "rh2m", rh),
        _long("A", d1, "t2m", t2m),
        _long("A", d1, "precip", precip),
    ]
    frames = [
        *full,
        _long("A", d2, "ws10", ws[:17]),  # 17 hours of wind: dropped
        _long("A", d2, "rh2m", rh),
        _long("A", d3, "ws10", ws),
        _long("A", d3, "rh2m", rh[:18]),  # 18 hours of humidity: kept
        _long("A", d4, "ws10", [NAN] * 7 + ws[7:]),  # 24 rows, 17 valid: dropped
        _long("A", d4, "rh2m", rh),
        _long("A", d5, "ws10", ws),  # no humidity at all: dropped
        _long("B", d1, "ws10", ws),
        _long("B", d1, "rh2m", rh),
    ]
    out = ac.weather_days(pl.concat(frames))
    assert out.select("location_id", "day").rows() == [("A", d1), ("A", d3), ("B", d1)]
    r = out.row(0, named=True)
    valid_ws = [v for k, v in enumerate(ws) if k != 7]
    assert r["ws_max"] == 5.0
    assert r["ws_mean"] == pytest.approx(sum(valid_ws) / 23)  # NaN left out, not propagated
    assert r["rh_min"] == 34.0 and r["rh_mean"] == pytest.approx(57.0)
    assert r["rh_day"] == pytest.approx(sum(rh[10:18]) / 8)  # 10:00–18:00 Beijing: 60 … 46
    assert r["t_max"] == 33.0 and r["precip"] == pytest.approx(2.0)
    assert out.row(1, named=True)["rh_min"] == 46.0  # d3: hours 0..17 only
    assert out.row(2, named=True)["t_max"] is None and out.row(2, named=True)["precip"] is None


# --- ETS and scores -----------------------------------------------------------------------------------------------


def test_ets_by_hand() -> None:
    # a_r = (3 + 1)(3 + 2)/10 = 2; (3 − 2)/(3 + 1 + 2 − 2) = 0.25
    assert ac.ets(3, 1, 2, 10) == pytest.approx(0.25)
    # a_r = 30·30/60 = 15; (20 − 15)/(40 − 15) = 0.2
    assert ac.ets(20, 10, 10, 60) == pytest.approx(0.2)
    # worse than random: a_r = 5·5/20 = 1.25; −1.25/8.75
    assert ac.ets(0, 5, 5, 20) == pytest.approx(-1.25 / 8.75)
    # zero denominators
    assert ac.ets(0, 0, 0, 100) is None
    assert ac.ets(5, 0, 0, 5) is None  # every day advised and observed: a_r = 5, denominator 5 − 5
    assert ac.ets(1, 0, 0, 0) is None


JULY = [date(2016, 7, k) for k in range(1, 8)]
WEATHER = {
    "ws_max": 5.0,
    "ws_mean": 1.5,
    "gust_max": None,
    "rh_min": 30.0,
    "rh_day": 40.0,
    "tcc_day": None,
    "blh_max": None,
    "precip": 0.0,
}
"""Calm, dry, no dust wind; daytime RH 40 %: ozone decided by Tmax, stagnation by the RH mean."""


def _daily(rows: list[tuple[str, date, float, float]]) -> pl.DataFrame:
    """Daily weather rows (location, day, t_max, rh_mean); the rest of :data:`WEATHER`."""
    return pl.DataFrame(
        [{"location_id": loc, "day": d, "t_max": t, "rh_mean": rh} | WEATHER for loc, d, t, rh in rows],
        infer_schema_length=None,
    )


def _events(rows: list[tuple[str, date, bool | None, bool | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"location_id": loc, "day": d, "dust": None, "ozone": o, "stagnant": s} for loc, d, o, s in rows],
        schema={
            "location_id": pl.Utf8,
            "day": pl.Date,
            "dust": pl.Boolean,
            "ozone": pl.Boolean,
            "stagnant": pl.Boolean,
        },
    )


@pytest.fixture
def small_case() -> tuple[pl.DataFrame, pl.DataFrame]:
    """X on 1–6 July and Y on 1–2 July. Ozone advised (default Tmax ≥ 30) on X1, X2, X5, Y1; stagnant weather (RH
    mean ≥ 60, wind 1.5, dry) on X2 and X3 only, a run of two days."""
    x1, x2, x3, x4, x5, x6, x7 = JULY
    daily = _daily(
        [
            ("X", x1, 33.0, 40.0),
            ("X", x2, 33.0, 70.0),
            ("X", x3, 25.0, 70.0),
            ("X", x4, 25.0, 40.0),
            ("X", x5, 33.0, 40.0),
            ("X", x6, 25.0, 40.0),
            ("Y", x1, 33.0, 40.0),
            ("Y", x2, 25.0, 40.0),
        ]
    )
    events = _events(
        [
            ("X", x1, True, False),
            ("X", x2, False, False),
            ("X", x3, True, True),
            ("X", x4, False, False),
            ("X", x5, None, False),  # undecided ozone: not scored although advised
            ("X", x6, True, False),
            ("X", x7, True, True),  # no weather that day: not a miss
            ("Y", x1, True, False),
            ("Y", x2, False, False),
            ("Z", x1, True, True),  # a location without weather
        ]
    )
    return daily, events


def test_score_counts_by_hand(small_case: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    daily, events = small_case
    s = ac.score(daily, events, "ozone")
    # scored: X1 X2 X3 X4 X6 Y1 Y2; advised X1 X2 Y1; observed X1 X3 X6 Y1
    assert {k: s[k] for k in ("hits", "false_alarms", "misses", "n_days", "n_events")} == {
        "hits": 2,
        "false_alarms": 1,
        "misses": 2,
        "n_days": 7,
        "n_events": 4,
    }
    assert (s["ts"], s["pod"], s["far"]) == (0.4, 0.5, pytest.approx(1 / 3, abs=1e-6))
    # a_r = 3·4/7; (2 − 12/7)/(5 − 12/7) = 2/23
    assert s["ets"] == pytest.approx(2 / 23)


def test_score_span_restricts_the_days_not_the_rules(small_case: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    daily, events = small_case
    span = (JULY[2], JULY[5])
    oz = ac.score(daily, events, "ozone", span=span)
    # X3 X4 X6 scored (X5 undecided); nothing advised there; X3 and X6 observed
    assert (oz["n_days"], oz["hits"], oz["false_alarms"], oz["misses"]) == (3, 0, 0, 2)
    assert (oz["ts"], oz["pod"], oz["far"], oz["ets"]) == (0.0, 0.0, None, 0.0)
    # stagnant X3 is advised because X2, before the span, makes the run of two days the default asks for
    st = ac.score(daily, events, "stagnant", span=span)
    assert (st["n_days"], st["hits"], st["false_alarms"], st["misses"]) == (4, 1, 0, 0)
    assert st["ets"] == pytest.approx(1.0)  # a_r = 1·1/4; (1 − 0.25)/(1 − 0.25)
    # over all days X2 is a false alarm: the same run
    assert ac.score(daily, events, "stagnant")["false_alarms"] == 1


def test_score_refuses_an_unknown_kind(small_case: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    daily, events = small_case
    with pytest.raises(ValueError, match="'smog'"):
        ac.score(daily, events, "smog")


# --- tuning -------------------------------------------------------------------------------------------------------


def _ozone_case(t_max: list[float], event: list[bool | None]) -> tuple[pl.DataFrame, pl.DataFrame]:
    days = [date(2016, 6, 1) + timedelta(days=k) for k in range(len(t_max))]
    daily = _daily([("X", d, t, 40.0) for d, t in zip(days, t_max, strict=True)])
    events = _events([("X", d, e, None) for d, e in zip(days, event, strict=True)])
    return daily, events


def test_tune_finds_the_event_temperature() -> None:
    t = [20.0 + k / 2 for k in range(32)]  # 20.0 … 35.5 in June, dry and calm
    daily, events = _ozone_case(t, [v >= 28.0 for v in t])
    grid = {"ozone_tmax": ac.GRIDS["ozone"]["ozone_tmax"], "ozone_rh_day_max": (50.0, 60.0, 70.0)}
    th, s = ac.tune(daily, events, "ozone", grid=grid)
    # Tmax 28 is perfect with any humidity limit of the grid (RH 40 everywhere): the default 60 is kept
    assert th == replace(adv.DEFAULT, ozone_tmax=28.0)
    assert (s["hits"], s["false_alarms"], s["misses"], s["ets"]) == (16, 0, 0, 1.0)
    d = ac.score(daily, events, "ozone")
    # default Tmax 30: 12 hits, 4 misses of 32 days; a_r = 12·16/32 = 6; (12 − 6)/(16 − 6)
    assert (d["hits"], d["misses"], d["ets"]) == (12, 4, pytest.approx(0.6))
    assert s["ets"] >= d["ets"]


def test_tune_keeps_the_defaults_unless_beaten() -> None:
    t = [25.0, 35.0] * 10
    daily, events = _ozone_case(t, [v >= 30.0 for v in t])
    # a grid that only worsens the perfect default
    th, s = ac.tune(daily, events, "ozone", grid={"ozone_tmax": (22.0, 26.0)})
    assert th == adv.DEFAULT and s["ets"] == 1.0
    # candidates as good as the default (every Tmax between 25 and 35 is perfect): fewest changes wins
    th, _ = ac.tune(daily, events, "ozone", grid={"ozone_tmax": (26.0, 28.0, 32.0, 34.0)})
    assert th == adv.DEFAULT
    # with a base that advises nothing, the equally good candidates tie on one change each: the first in grid order
    base = replace(adv.DEFAULT, ozone_tmax=36.0)
    th, s = ac.tune(daily, events, "ozone", grid={"ozone_tmax": (34.0, 26.0, 28.0)}, base=base)
    assert th == replace(base, ozone_tmax=34.0) and s["ets"] == 1.0
    # events independent of the weather (the same weather every day): nothing beats random, the defaults stay
    flat, ev = _ozone_case([33.0] * 20, [k % 2 == 0 for k in range(20)])
    th, s = ac.tune(flat, ev, "ozone", grid={"ozone_tmax": (28.0, 34.0), "ozone_rh_day_max": (30.0, 50.0)})
    assert th == adv.DEFAULT and s["ets"] == 0.0


def test_tune_refuses_a_grid_field_outside_thresholds() -> None:
    daily, events = _ozone_case([30.0], [True])
    with pytest.raises(ValueError, match="ozone_bogus") as e:
        ac.tune(daily, events, "ozone", grid={"ozone_tmax": (28.0,), "ozone_bogus": (1.0,)})
    assert "ozone_tmax" not in str(e.value)


# --- noisy proxy --------------------------------------------------------------------------------------------------


@pytest.fixture
def daily_frame() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    n = 2000
    gust = rng.gamma(2.0, 4.0, n)
    return pl.DataFrame(
        {
            "location_id": ["X"] * n,
            "day": [date(2010, 1, 1) + timedelta(days=k) for k in range(n)],
            "ws_max": rng.gamma(2.0, 2.0, n),
            "ws_mean": rng.gamma(2.0, 1.0, n),
            "gust_max": pl.Series([None if k % 10 == 0 else g for k, g in enumerate(gust)], dtype=pl.Float64),
            "rh_min": rng.uniform(5.0, 60.0, n),
            "rh_mean": rng.uniform(20.0, 95.0, n),
            "rh_day": rng.uniform(10.0, 90.0, n),
            "t_max": rng.normal(20.0, 8.0, n),
            "tcc_day": rng.uniform(0.0, 1.0, n),
            "blh_max": rng.uniform(200.0, 2000.0, n),
            "precip": np.where(rng.random(n) < 0.8, 0.0, rng.gamma(1.0, 4.0, n)),
        }
    )


SD = {"ws_max": 2.8, "ws_mean": 1.4, "gust_max": 5.0, "rh_min": 15.0, "rh_mean": 20.0, "rh_day": 20.0, "precip": 3.0}
"""No ``t_max``: it must stay as observed."""


def test_noisy_days_reproducible_and_zero_error_is_identity(daily_frame: pl.DataFrame) -> None:
    a = ac.noisy_days(daily_frame, 0.3, SD, seed=5)
    assert a.equals(ac.noisy_days(daily_frame, 0.3, SD, seed=5))
    assert not a.equals(ac.noisy_days(daily_frame, 0.3, SD, seed=6))
    assert ac.noisy_days(daily_frame, 0.0, SD, seed=5).equals(daily_frame)
    # a missing aggregate stays missing
    assert a["gust_max"].is_null().to_list() == daily_frame["gust_max"].is_null().to_list()


def test_noisy_days_clip_and_leave_other_columns(daily_frame: pl.DataFrame) -> None:
    big = ac.noisy_days(daily_frame, 10.0, SD, seed=1)
    for c in ("rh_min", "rh_mean", "rh_day"):
        assert big[c].min() == 0.0 and big[c].max() == 100.0  # clipped, and clipping happened
    for c in ("ws_max", "ws_mean", "gust_max", "precip"):
        assert big[c].min() == 0.0 and big[c].max() > daily_frame[c].max()
    for c in ("location_id", "day", "t_max", "tcc_day", "blh_max"):
        assert big[c].equals(daily_frame[c]), c  # not in sd, or not a noisy aggregate
    # the error has s.d. f × sd where nothing is clipped
    tx = ac.noisy_days(daily_frame, 0.5, SD | {"t_max": 8.0}, seed=2)
    err = (tx["t_max"] - daily_frame["t_max"]).to_numpy()
    assert err.std() == pytest.approx(4.0, rel=0.08) and abs(err.mean()) < 0.4


# --- the whole check on synthetic data ----------------------------------------------------------------------------

TRAIN = (date(2015, 1, 1), date(2015, 12, 31))
TEST = (date(2016, 1, 1), date(2016, 12, 31))


def _synthetic(seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two stations, 2015–2016 hourly: calm humid dry days are PM2.5-polluted (stagnation at wind < 2.5 m/s and RH >
    45 %, looser than the defaults), hot days (Tmax ≥ 28 °C) have O3 peaks above 160, windy dry days carry a dust
    hour. Returns (weather long, hourly observations)."""
    rng = np.random.default_rng(seed)
    n_days = (TEST[1] - TRAIN[0]).days + 1
    days = np.datetime64(TRAIN[0]) + np.arange(n_days)
    doy = np.array([d.timetuple().tm_yday for d in days.astype(object)], dtype=float)
    hour = np.arange(24)
    diurnal = np.sin(2 * np.pi * (hour - 9) / 24)  # peak at 15:00 Beijing
    t0 = _bj_midnight(TRAIN[0])
    ts = pl.Series([t0 + timedelta(hours=k) for k in range(n_days * 24)], dtype=pl.Datetime("us", "UTC"))
    weather, hourly = [], []
    for loc in ("A", "B"):
        ws_d = rng.gamma(2.0, 1.3, n_days)
        rh_d = rng.uniform(20.0, 90.0, n_days)
        t_d = 12.0 - 14.0 * np.cos(2 * np.pi * (doy - 15) / 365.25) + rng.normal(0.0, 3.0, n_days)
        rain_d = np.where(rng.random(n_days) < 0.2, rng.gamma(1.0, 5.0, n_days), 0.0)
        ws = np.clip(ws_d[:, None] * (1 + 0.4 * diurnal[None, :]), 0.0, None)
        rh = np.clip(rh_d[:, None] - 10.0 * diurnal[None, :], 0.0, 100.0)
        t = t_d[:, None] + 5.0 * diurnal[None, :]
        precip = np.repeat(rain_d[:, None] / 24, 24, axis=1)
        for var, x in (("ws10", ws), ("rh2m", rh), ("t2m", t), ("precip", precip)):
            weather.append(
                pl.DataFrame(
                    {"location_id": [loc] * ts.len(), "valid_start": ts, "variable": [var] * ts.len()}
                ).with_columns(pl.Series("value", x.ravel()))
            )
        dry = rain_d < 1.0
        stag = (ws_d < 2.5) & (rh_d > 45.0) & dry
        pm25 = np.repeat(np.where(stag, 110.0, 40.0) + rng.normal(0.0, 8.0, n_days), 24).reshape(n_days, 24)
        pm10 = pm25 * 1.6
        dust = (ws.max(axis=1) >= 6.5) & (rh.min(axis=1) < 25.0) & dry
        pm10[dust, 14] = 500.0
        pm25[dust, 14] = 80.0
        o3 = np.full((n_days, 24), 60.0)
        o3[:, 11:19] = np.where(t.max(axis=1) >= 28.0, 200.0, 120.0)[:, None]
        hourly.append(
            pl.DataFrame({"location_id": [loc] * ts.len(), "ts": ts}).with_columns(
                pl.Series("c_pm25", pm25.ravel()),
                pl.Series("c_pm10", pm10.ravel()),
                pl.Series("c_o3", o3.ravel()),
                pl.Series("precip", precip.ravel()),
            )
        )
    return pl.concat(weather), pl.concat(hourly)


@pytest.fixture(scope="module")
def synthetic_check() -> ac.CheckResult:
    weather, hourly = _synthetic()
    return weather, hourly, ac.run_check(weather, hourly, TRAIN, TEST)


def test_run_check_has_every_row(synthetic_check: ac.CheckResult) -> None:
    *_, res = synthetic_check
    sc = res.scores
    keys = sc.select("kind", "weather", "thresholds", "period").rows()
    expected = {
        (k, w, th, p)
        for k in adv.KINDS
        for w in ("observed", "noisy D+1", "noisy D+2", "noisy D+3")
        for th in ("default", "tuned")
        for p in ("train", "test")
    }
    assert len(keys) == len(expected) == 48 and set(keys) == expected
    # the error changes the advisories, never the days scored nor the events
    per = sc.group_by("kind", "period").agg(pl.col("n_days").n_unique(), pl.col("n_events").n_unique())
    assert per["n_days"].to_list() == [1] * 6 and per["n_events"].to_list() == [1] * 6
    n = sc.filter((pl.col("weather") == "observed") & (pl.col("thresholds") == "default"))
    assert n.filter(pl.col("period") == "train")["n_days"].to_list() == [730] * 3  # 2 stations × 365 days
    assert n.filter(pl.col("period") == "test")["n_days"].to_list() == [732] * 3  # 2 × 366 (leap year)
    assert res.rain_clause is True


def test_run_check_tuning_never_loses_on_training(synthetic_check: ac.CheckResult) -> None:
    *_, res = synthetic_check
    obs = res.scores.filter((pl.col("weather") == "observed") & (pl.col("period") == "train"))
    for kind in adv.KINDS:
        k = obs.filter(pl.col("kind") == kind)
        d = k.filter(pl.col("thresholds") == "default")["ets"].item()
        t = k.filter(pl.col("thresholds") == "tuned")["ets"].item()
        assert d is not None and t is not None and t >= d, kind
        if kind != "dust":
            assert t > d, kind  # the synthetic events follow looser rules than the defaults
    # the looser stagnation and the lower ozone temperature of the synthetic data are found
    assert res.tuned["ozone"]["ozone_tmax"] == 28.0
    assert res.tuned["stagnant"]["stag_ws_mean_max"] > adv.DEFAULT.stag_ws_mean_max


def test_run_check_tuned_holds_each_kinds_fields(synthetic_check: ac.CheckResult) -> None:
    weather, hourly, res = synthetic_check
    assert res.defaults == {k: ac.kind_params(adv.DEFAULT, k) for k in adv.KINDS}
    prefix = {"dust": "dust_", "ozone": "ozone_", "stagnant": "stag_"}
    fields = set(asdict(adv.DEFAULT))
    for kind in adv.KINDS:
        assert set(res.tuned[kind]) == set(res.defaults[kind])
        assert all(f.startswith(prefix[kind]) and f in fields for f in res.tuned[kind])
    assert res.thresholds == replace(adv.DEFAULT, **{f: v for k in adv.KINDS for f, v in res.tuned[k].items()})
    # the "tuned" rows use the tuned fields of every kind: re-scoring one kind with only its own fields agrees
    daily, events = ac.weather_days(weather), ac.observed_events(hourly)
    for kind in adv.KINDS:
        row = res.scores.filter(
            (pl.col("kind") == kind)
            & (pl.col("weather") == "observed")
            & (pl.col("thresholds") == "tuned")
            & (pl.col("period") == "test")
        ).row(0, named=True)
        s = ac.score(daily, events, kind, thresholds=replace(adv.DEFAULT, **res.tuned[kind]), span=TEST)
        assert {k: row[k] for k in s} == s


# --- Beijing (real data) ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_beijing_tuned_thresholds_and_test_year_skill() -> None:
    """The 8 PRSA stations, tuned on 2013-03..2016-02, scored on 2016-03..2017-02 with observed weather."""
    beijing = require_shared("beijing")
    require_shared("stations", "cnemc_stations_national.csv")
    assert len(list(beijing.glob("PRSA_Data_*.csv.gz"))) == 8
    res = ac.beijing(beijing.parent)
    expected = replace(
        adv.DEFAULT,
        dust_ws_max=7.0,
        dust_rh_min_below=20.0,
        ozone_tmax=28.0,
        ozone_rh_day_max=70.0,
        ozone_ws_mean_max=3.0,
        stag_ws_mean_max=2.5,
        stag_rh_mean_min=40.0,
        stag_min_days=1,
    )
    assert res.tuned == {k: ac.kind_params(expected, k) for k in adv.KINDS}
    test = res.scores.filter((pl.col("weather") == "observed") & (pl.col("period") == "test"))

    def row(kind: str, th: str) -> dict:
        return test.filter((pl.col("kind") == kind) & (pl.col("thresholds") == th)).row(0, named=True)

    for kind, default, tuned in (("ozone", 0.279, 0.424), ("stagnant", 0.201, 0.263)):
        d, t = row(kind, "default")["ets"], row(kind, "tuned")["ets"]
        assert t > d, kind
        assert (d, t) == (pytest.approx(default, abs=1e-3), pytest.approx(tuned, abs=1e-3)), kind
    assert row("ozone", "tuned")["n_events"] == 629
    assert row("stagnant", "tuned")["n_events"] == 990
