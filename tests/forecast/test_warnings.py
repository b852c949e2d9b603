"""Warning proposals (forecast.md §3.6): labelled AQI sequences per rule set, causes, upgrade/downgrade logic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from bogda.forecast import warnings as wn
from bogda.standards.aqi import aqi_daily
from bogda.timeutil import day_start_utc

DAYS = [date(2026, 1, 10) + timedelta(days=k) for k in range(7)]


@pytest.mark.parametrize(
    ("aqi", "rule", "expected"),
    [
        # 2024 rule (环大气〔2024〕6号): yellow > 200 ≥ 24 h or > 150 ≥ 48 h
        ([120, 210, 140], "2024", "yellow"),
        ([160, 170, 120], "2024", "yellow"),
        ([160, 120, 170], "2024", None),  # > 150 not consecutive for 48 h
        # orange > 200 ≥ 48 h or > 150 ≥ 72 h
        ([210, 220, 120], "2024", "orange"),
        ([160, 170, 180], "2024", "orange"),
        # red > 200 ≥ 72 h and > 300 ≥ 24 h
        ([220, 310, 250], "2024", "red"),
        ([220, 290, 250], "2024", "orange"),
        # nothing above 150 / exactly at a threshold (strict ">")
        ([90, 140, 120], "2024", None),
        ([150, 150, 150], "2024", None),
        ([200, 120, 100], "2024", None),
        # 2018 rule (环办大气函〔2018〕875号): blue > 200 for 24 h
        ([210, 120, 100], "2018", "blue"),
        ([210, 220, 120], "2018", "yellow"),
        ([220, 310, 250], "2018", "orange"),
        ([220, 310, 250], "2017", "orange"),  # the spec's name of the same rule set
        # the day above 300 must lie inside the 72 h above 200 (forecast.md §3.6)
        ([210, 220, 230, 90, 310], "2024", "orange"),
        ([210, 320, 250], "2024", "red"),
    ],
)
def test_proposed_level(aqi: list[float], rule: str, expected: str | None) -> None:
    p = wn.propose("652301", DAYS[: len(aqi)], aqi, ["PM2.5"] * len(aqi), rule=rule)
    assert p.level == expected
    if expected is not None:
        assert p.start_date is not None and p.end_date is not None and p.start_date <= p.end_date
        assert p.cause == "PM2.5"


def test_dust_episode_gets_no_warning() -> None:
    p = wn.propose("652301", DAYS[:3], [260, 280, 240], ["PM10"] * 3, dust=True)
    assert p.level is None and p.cause == "dust"


def test_probability_mode_needs_half() -> None:
    d = DAYS[:3]
    hold = {150.0: [0.7, 0.8, 0.6], 200.0: [0.6, 0.55, 0.2], 300.0: [0.1, 0.1, 0.0]}
    weak = {150.0: [0.4, 0.45, 0.3], 200.0: [0.3, 0.2, 0.1], 300.0: [0.0, 0.0, 0.0]}
    p = wn.propose("652301", d, [190, 195, 160], prob_over=hold)
    assert p.level == "orange" and p.probability == pytest.approx(0.6)
    assert wn.propose("652301", d, [190, 195, 160], prob_over=weak).level is None


@pytest.mark.parametrize(
    ("primaries", "expected"),
    [(["PM2.5", "PM2.5", "PM10"], "PM2.5"), (["O3_8h", "O3_8h"], "O3"), (["PM10", "NO2"], "other"), ([None], None)],
)
def test_cause(primaries: list[str | None], expected: str | None) -> None:
    assert wn.cause_of(primaries) == expected


@pytest.mark.parametrize(
    ("current", "pending", "proposed", "action", "level"),
    [
        (None, 0, None, "none", None),
        (None, 0, "orange", "propose", "orange"),
        ("yellow", 0, "red", "upgrade", "red"),
        ("orange", 0, "orange", "keep", "orange"),
        ("orange", 0, "yellow", "pending_downgrade", "orange"),
        ("orange", 1, "yellow", "downgrade", "yellow"),
        ("orange", 0, None, "pending_downgrade", "orange"),
        ("orange", 1, None, "lift", None),
    ],
)
def test_decide(current: str | None, pending: int, proposed: str | None, action: str, level: str | None) -> None:
    d = wn.decide(current, pending, proposed)
    assert (d.action, d.level) == (action, level)


def test_window_includes_today_during_episode() -> None:
    assert wn.forecast_window(DAYS[0], 180.0)[0] == DAYS[0]
    assert wn.forecast_window(DAYS[0], 120.0)[0] == DAYS[1]
    assert len(wn.forecast_window(DAYS[0], float("nan"))) == wn.WARNING_DAYS


# --- sand/dust days ---------------------------------------------------------------------------------------------


def test_a_dust_day_is_left_out_not_the_whole_warning() -> None:
    """A windy day ending a PM2.5 episode: the episode keeps its warning, the dust day counts toward nothing."""
    d = DAYS[:3]
    p = wn.propose("652301", d, [210, 220, 320], ["PM2.5", "PM2.5", "PM10"], dust={d[2]})
    assert p.level == "orange"  # red only with the dust day's 320
    assert (p.start_date, p.end_date, p.dust_days, p.cause) == (d[0], d[1], (d[2],), "PM2.5")
    assert "sand/dust days left out: 01-12" in p.reason
    assert wn.propose("652301", d, [210, 220, 320], ["PM2.5"] * 3).level == "red"


def test_a_dust_day_breaks_a_run() -> None:
    d = DAYS[:3]
    assert wn.propose("652301", d, [210, 260, 220]).level == "orange"
    assert wn.propose("652301", d, [210, 260, 220], dust=[False, True, False]).level == "yellow"


def test_a_level_held_only_by_dust_days_is_not_proposed() -> None:
    d = DAYS[:3]
    p = wn.propose("652301", d, [120, 260, 130], ["PM2.5", "PM10", "PM2.5"], dust={d[1]})
    assert (p.level, p.cause, p.dust_days) == (None, "dust", (d[1],))
    assert "only with the sand/dust days 01-11" in p.reason
    # a dust day outside the episode changes nothing
    q = wn.propose("652301", d, [210, 230, 90], ["PM2.5"] * 3, dust={d[2]})
    assert (q.level, q.cause, q.end_date) == ("orange", "PM2.5", d[1])


def test_dust_days_given_as_dates_mask_or_bool() -> None:
    d = DAYS[:3]
    assert wn.dust_mask(d, {d[0], date(2030, 1, 1)}).tolist() == [True, False, False]
    assert wn.dust_mask(d, True).all() and not wn.dust_mask(d, ()).any()
    with pytest.raises(ValueError, match="dust mask has 2 values for 3 days"):
        wn.dust_mask(d, [True, False])
    with pytest.raises(ValueError, match="dust days must be dates"):
        wn.dust_mask(d, ["2026-01-10"])


def test_scenario_probability_leaves_out_dust_days() -> None:
    seqs = np.array([[210, 220, 320], [210, 220, 120]])
    assert wn.scenario_probability(seqs, wn.LEVEL_RANK["red"]) == 0.5
    assert wn.scenario_probability(seqs, wn.LEVEL_RANK["red"], excluded=[False, False, True]) == 0.0
    assert wn.scenario_probability(seqs, wn.LEVEL_RANK["orange"], excluded=[False, False, True]) == 1.0


# --- rolling mode -----------------------------------------------------------------------------------------------


def test_rolling_24h_aqi_grades_each_window_like_a_day() -> None:
    rng = np.random.default_rng(3)
    hours = 72
    conc = {
        "PM2.5": rng.uniform(20, 300, hours),
        "PM10": rng.uniform(40, 400, hours),
        "SO2": rng.uniform(5, 40, hours),
        "NO2": rng.uniform(10, 80, hours),
        "CO": rng.uniform(0.3, 3, hours),
        "O3": rng.uniform(10, 200, hours),
    }
    start = day_start_utc(date(2026, 12, 1))
    got = wn.rolling_24h_aqi(conc, start)
    assert got.shape == (hours - 23,)
    for i in (0, 7, 24, 48):  # window i: the day's statistics of hours i..i+23 (HJ 633-2026: no O3 1-h item)
        win = {k: v[i : i + 24] for k, v in conc.items()}
        o3_8h = max(win["O3"][j : j + 8].mean() for j in range(17))
        day = {k: [win[k].mean()] for k in ("PM2.5", "PM10", "SO2", "NO2", "CO")} | {"O3_8h": [o3_8h]}
        assert got[i] == aqi_daily(day, "2026").aqi[0]
    # several targets at once, and missing hours: < 20 valid hours leave an item out of a window
    two = wn.rolling_24h_aqi({"PM2.5": np.vstack([conc["PM2.5"], conc["PM2.5"]])}, start)
    assert two.shape == (2, hours - 23) and np.array_equal(two[0], two[1])
    holes = conc["PM2.5"].copy()
    holes[:5] = np.nan
    r = wn.rolling_24h_aqi({"PM2.5": holes}, start)
    assert np.isnan(r[0]) and np.isfinite(r[1])
    assert wn.rolling_24h_aqi({"PM2.5": [50.0] * 10}, start).shape == (0,)
    with pytest.raises(ValueError, match="one shape"):
        wn.rolling_24h_aqi({"PM2.5": [1.0] * 30, "PM10": [1.0] * 31}, start)


def _episode_from_14h() -> tuple[list[date], list[float], wn.RollingAqi]:
    """PM2.5 200 µg/m³ (IAQI 250) from 14:00 on day 1 to 14:00 on day 3, 50 otherwise (Beijing days)."""
    days = [date(2026, 12, 1) + timedelta(days=k) for k in range(3)]
    pm = np.full(72, 50.0)
    pm[14:62] = 200.0
    start = day_start_utc(days[0])
    rolling = wn.RollingAqi(start, tuple(wn.rolling_24h_aqi({"PM2.5": pm}, start).tolist()))
    daily = [float(wn.rolling_24h_aqi({"PM2.5": pm[24 * k : 24 * k + 24]}, start)[0]) for k in range(3)]
    return days, daily, rolling


def test_rolling_mode_sees_an_episode_across_midnight() -> None:
    days, daily, rolling = _episode_from_14h()
    assert daily[1] == 250 and daily[0] < 150 and 150 < daily[2] < 200
    cal = wn.propose("652301", days, daily, ["PM2.5"] * 3)
    rol = wn.propose("652301", days, daily, ["PM2.5"] * 3, mode="rolling", rolling=rolling)
    assert (cal.level, cal.mode) == ("yellow", "calendar")
    assert (rol.level, rol.mode, rol.cause) == ("orange", "rolling", "PM2.5")  # 48 h of windows above 200
    assert "24-h windows from 07:00" in rol.reason  # the first start hour whose windows hold (07:00..21:00 do)
    assert (rol.start_date, rol.end_date) == (days[0], days[2])


def test_rolling_mode_leaves_out_windows_touching_a_dust_day() -> None:
    days, daily, rolling = _episode_from_14h()
    p = wn.propose("652301", days, daily, mode="rolling", rolling=rolling, dust={days[2]})
    # every window reaching into day 3 is out: one window above 200 is left, from 14:00 on day 1 to day 2
    assert (p.level, p.dust_days, p.end_date) == ("yellow", (days[2],), days[1])


def test_rolling_mode_arguments() -> None:
    days, daily, rolling = _episode_from_14h()
    with pytest.raises(ValueError, match="needs the rolling 24-h AQI"):
        wn.propose("652301", days, daily, mode="rolling")
    with pytest.raises(ValueError, match="probability mode needs mode 'calendar'"):
        wn.propose("652301", days, daily, mode="rolling", rolling=rolling, prob_over={150.0: [1.0] * 3})
    with pytest.raises(ValueError, match="3 days but 2 AQI values"):
        wn.propose("652301", days, daily[:2])
    assert rolling.window_days()[0][0] == days[0] and rolling.window_days()[1][0] == days[0]
    assert rolling.window_days()[1][1] == days[1]  # the window from 01:00 ends at 00:59 on day 2


def test_probability_mode_basis_and_length_check() -> None:
    d = DAYS[:3]
    p = wn.propose("652301", d, [190, 195, 160], prob_over={150.0: [0.7, 0.8, 0.6], 200.0: [0.6, 0.55, 0.2]})
    assert (p.level, p.basis) == ("orange", "probability")
    assert wn.propose("652301", d, [190, 195, 160]).basis == "mean"
    with pytest.raises(ValueError, match=r"P\(AQI > 150\) has 2 values for 3 days"):
        wn.propose("652301", d, [190, 195, 160], prob_over={150.0: [0.7, 0.8]})


# --- episode merge ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "start", "gap", "merged"),
    [
        (date(2026, 1, 11), date(2026, 1, 12), 0.0, True),  # the next day
        (date(2026, 1, 11), date(2026, 1, 13), 24.0, True),  # one clean day between
        (date(2026, 1, 11), date(2026, 1, 14), 48.0, False),  # two clean days: a new episode
        (date(2026, 1, 11), date(2026, 1, 9), -72.0, True),  # overlapping
    ],
)
def test_merge_gap(end: date, start: date, gap: float, merged: bool) -> None:
    assert wn.episode_gap_hours(end, start) == gap
    assert wn.merges(end, start) is merged


def test_merge_gap_is_configurable_and_takes_instants() -> None:
    assert not wn.merges(date(2026, 1, 11), date(2026, 1, 13), gap_hours=12)
    t_end = datetime(2026, 1, 11, 10, tzinfo=UTC)
    assert wn.episode_gap_hours(t_end, datetime(2026, 1, 12, 22, tzinfo=UTC)) == 36.0
    assert wn.merges(t_end, datetime(2026, 1, 12, 22, tzinfo=UTC))
    assert not wn.merges(t_end, datetime(2026, 1, 12, 23, tzinfo=UTC))
