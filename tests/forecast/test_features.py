"""Regular time index, explicit gaps, time-offset lags and weather arithmetic (forecast.md §2, §3.2, §3.4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bogda.forecast.features import (
    FeatureContext,
    Panel,
    SeriesCache,
    TimeIndexError,
    beijing_calendar,
    daily_means,
    hourly_features,
    interpolate_gaps,
    neighbour_table,
    panel_from_frame,
    relative_humidity,
    state_features,
    wind_components,
)


def _frame(times: list[datetime], values: list[float], station: str = "1003A") -> pl.DataFrame:
    return pl.DataFrame(
        {"station_code": [station] * len(times), "ts": times, "a34004": values},
        schema={"station_code": pl.Utf8, "ts": pl.Datetime("us", "UTC"), "a34004": pl.Float64},
    )


T0 = datetime(2019, 1, 1, 16, tzinfo=UTC)  # 2019-01-02 00:00 Beijing


def test_missing_rows_become_explicit_nan_and_lags_are_time_offsets():
    hours = [0, 1, 2, 5, 6]  # hours 3 and 4 are absent rows
    p = panel_from_frame(_frame([T0 + timedelta(hours=h) for h in hours], [10, 11, 12, 15, 16]), ["a34004"])
    assert p.first_day == date(2019, 1, 2)
    assert p.n_hours == 24  # widened to the whole Beijing day
    x = p.data["a34004"][0]
    assert x[:7].tolist()[:3] == [10, 11, 12] and np.isnan(x[3]) and np.isnan(x[4]) and x[5] == 15
    c = SeriesCache(p)
    # lag 3 at hour 6 is hour 3 (missing) — not the row three rows back (value 11)
    assert np.isnan(c.at("a34004", np.array([0]), np.array([6 - 3]))[0])
    val, age = c.last_valid("a34004", np.array([0]), np.array([4]))
    assert (val[0], age[0]) == (12.0, 2.0)
    [gap] = p.gap_reports()
    assert (gap.n_expected, gap.n_valid, gap.longest_gap_h) == (24, 5, 17)


def test_panel_aligns_to_beijing_day_and_reads_other_offsets():
    bj = datetime(2019, 1, 2, 10, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    f = _frame([bj], [1.0]).with_columns(pl.col("ts").dt.convert_time_zone("Asia/Shanghai"))
    p = panel_from_frame(f, ["a34004"])
    assert p.position(datetime(2019, 1, 2, 10, tzinfo=UTC)) == 18  # 18:00 Beijing
    assert p.data["a34004"][0, 18] == 1.0


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pl.DataFrame({"station_code": ["A"], "ts": [datetime(2019, 1, 1)], "a34004": [1.0]}),
            "time-zone-aware",
        ),
        (_frame([T0 + timedelta(minutes=30)], [1.0]), "whole hour"),
        (_frame([T0, T0], [1.0, 2.0]), "conflicting duplicate"),
    ],
)
def test_bad_time_index_is_rejected(frame, message):
    with pytest.raises(TimeIndexError, match=message):
        panel_from_frame(frame, ["a34004"])


def test_identical_duplicates_are_harmless():
    p = panel_from_frame(_frame([T0, T0], [3.0, 3.0]), ["a34004"])
    assert p.data["a34004"][0, 0] == 3.0


def test_daily_mean_needs_20_valid_hours():
    x = np.full((1, 48), 50.0)
    x[0, :5] = np.nan  # 19 valid hours on day 0
    x[0, 24:28] = np.nan  # 20 valid hours on day 1
    d = daily_means(x)
    assert np.isnan(d[0, 0]) and d[0, 1] == 50.0


def test_weather_gaps_interpolated_up_to_three_hours_only():
    x = np.array([0.0, np.nan, np.nan, np.nan, 4.0, np.nan, np.nan, np.nan, np.nan, 9.0, np.nan])
    y = interpolate_gaps(x, 3)
    assert y[:5].tolist() == [0, 1, 2, 3, 4]
    assert np.isnan(y[5:9]).all() and np.isnan(y[10])  # 4-h gap and trailing gap stay missing


@pytest.mark.parametrize(("t", "td", "rh"), [(20.0, 20.0, 100.0), (25.0, 10.0, 38.78), (-10.0, -20.0, 43.86)])
def test_relative_humidity_magnus(t, td, rh):
    # by hand: 100·exp(17.625·Td/(243.04+Td) − 17.625·T/(243.04+T)), e.g. 25/10 → 100·exp(−0.94735)
    assert relative_humidity(np.array([t]), np.array([td]))[0] == pytest.approx(rh, abs=0.01)


@pytest.mark.parametrize(
    ("ws", "deg", "u", "v"), [(2.0, 0.0, 0.0, -2.0), (2.0, 90.0, -2.0, 0.0), (3.0, 225.0, 2.1213, 2.1213)]
)
def test_wind_components_from_meteorological_direction(ws, deg, u, v):
    uu, vv = wind_components(np.array([ws]), np.array([deg]))
    assert uu[0] == pytest.approx(u, abs=1e-4) and vv[0] == pytest.approx(v, abs=1e-4)


def test_calendar_in_beijing_time():
    p = Panel(date(2019, 12, 31), ("A",), {"a34004": np.zeros((1, 48))})
    cal = beijing_calendar(p, np.array([0, 23, 24]))
    assert cal["hour"].tolist() == [0, 23, 0]
    assert cal["month"].tolist() == [12, 12, 1]
    assert cal["doy"].tolist() == [365, 365, 1]
    assert cal["weekday"].tolist() == [1, 1, 2]  # 2019-12-31 was a Tuesday


def test_neighbours_within_radius_nearest_first():
    coords = {"A": (40.0, 116.0), "B": (40.0, 116.1), "C": (40.0, 116.3), "D": (41.0, 116.0)}
    nb = neighbour_table(("A", "B", "C", "D"), coords, max_km=50, k=3)
    assert nb[0].tolist() == [1, 2, -1]  # D is 111 km away
    assert nb[3].tolist() == [-1, -1, -1]


def test_features_use_only_inputs_up_to_issue_time():
    n = 24 * 10
    rng = np.random.default_rng(1)
    y = rng.gamma(2.0, 30.0, size=(2, n))
    p = Panel(date(2019, 1, 1), ("A", "B"), {"a34004": y.copy()}, {"A": (40.0, 116.0), "B": (40.0, 116.1)})
    ctx = FeatureContext(p, "a34004", neighbour_table(p.stations, p.coords))
    s, t = np.array([0]), np.array([200])
    x1, names = hourly_features(ctx, s, t, np.array([24]))
    p.data["a34004"][:, 201:] = -999.0  # the future changes: features at t must not move
    ctx2 = FeatureContext(p, "a34004", ctx.neighbours)
    x2, _ = hourly_features(ctx2, s, t, np.array([24]))
    np.testing.assert_array_equal(x1, x2)
    f = state_features(ctx, s, t)
    assert f["y_lag0"][0] == y[0, 200] and f["y_lag23"][0] == y[0, 177]
    assert f["y_mean24"][0] == pytest.approx(y[0, 177:201].mean())
    assert f["nb1_now"][0] == y[1, 200]
    assert "lead" in names and "tgt_hour" in names


def test_stagnation_signs_of_the_daily_models():
    """FeatureContext.stagnation adds, at the daily issue hour, the dew-point depression, the fall from the day's
    maximum temperature and the day's PM2.5 minus its neighbours'; without the flag the features are as before."""
    from bogda.forecast.features import DailyCache, daily_issue_features

    n = 24 * 6
    rng = np.random.default_rng(4)
    y = rng.gamma(2.0, 30.0, size=(2, n))
    t2m = np.tile(10.0 + 8.0 * np.sin(np.arange(n) * 2 * np.pi / 24), (2, 1))
    td2m = t2m - 6.0
    data = {"a34004": y, "t2m": t2m, "td2m": td2m}
    p = Panel(date(2019, 1, 1), ("A", "B"), data, {"A": (40.0, 116.0), "B": (40.0, 116.1)})
    nb = neighbour_table(p.stations, p.coords)
    s, day = np.array([0]), np.array([3])
    plain = daily_issue_features(
        FeatureContext(p, "a34004", nb, weather_vars=("t2m", "td2m")),
        DailyCache(p, ["a34004"], ("t2m", "td2m")),
        s,
        day,
    )
    ctx = FeatureContext(p, "a34004", nb, weather_vars=("t2m", "td2m"), stagnation=True)
    f = daily_issue_features(ctx, DailyCache(p, ["a34004"], ("t2m", "td2m")), s, day)
    added = set(f) - set(plain)
    assert added == {"obs_dewpoint_depression", "obs_t2m_below_max", "yd_minus_nbd"}
    t = 3 * 24 + 23
    assert f["obs_dewpoint_depression"][0] == pytest.approx(6.0)
    assert f["obs_t2m_below_max"][0] == pytest.approx(t2m[0, 72:96].max() - t2m[0, t])
    assert f["yd_minus_nbd"][0] == pytest.approx(y[0, 72:96].mean() - y[1, 72:96].mean())


def test_advection_features_of_the_daily_models():
    """FeatureContext.advection adds, at the daily issue hour, the target's gradient across the station and its
    neighbours and the advective tendency −(u·∂C/∂x + v·∂C/∂y) of the station's 6-hour mean wind; none without
    wind, and NaN with fewer than 3 neighbours reporting."""
    from bogda.forecast.features import DailyCache, advection_features, daily_issue_features, plane_gradient

    n = 24 * 6
    coords = {"A": (40.0, 116.0), "E": (40.0, 116.1), "N": (40.1, 116.0), "W": (40.0, 115.9), "S": (39.9, 116.0)}
    stations = tuple(coords)
    kx = 111.32 * np.cos(np.radians(40.0))
    east = np.array([(coords[c][1] - 116.0) * kx for c in stations])  # km east of A
    north = np.array([(coords[c][0] - 40.0) * 110.57 for c in stations])
    # a plane rising 3 µg/m³ per km to the east and falling 1 per km to the north, over a level of 100
    field = 100.0 + 3.0 * east - 1.0 * north
    y = np.tile(field[:, None], (1, n))
    wind = {"u10": np.full((5, n), 2.0), "v10": np.full((5, n), -1.0)}  # from the north-west... blowing to the SE
    p = Panel(date(2019, 1, 1), stations, {"a34004": y, **wind}, coords)
    nb = neighbour_table(p.stations, p.coords)
    static = {"lat": np.array([coords[c][0] for c in stations]), "lon": np.array([coords[c][1] for c in stations])}
    ctx = FeatureContext(p, "a34004", nb, weather_vars=("u10", "v10"), static=static, advection=True)
    s, day = np.array([0]), np.array([3])
    f = daily_issue_features(ctx, DailyCache(p, ["a34004"], ("u10", "v10")), s, day)
    assert f["adv_grad_x10"][0] == pytest.approx(30.0, rel=1e-3) and f["adv_grad_y10"][0] == pytest.approx(
        -10.0, rel=1e-3
    )
    # the wind carries the field from the west and north: −(2·3 + (−1)·(−1)) µg/m³ per km·m/s × 3.6 km/h per m/s
    assert f["adv_tendency"][0] == pytest.approx(-3.6 * (2.0 * 3.0 + (-1.0) * (-1.0)), rel=1e-3)
    plain = daily_issue_features(
        FeatureContext(p, "a34004", nb, weather_vars=("u10", "v10"), static=static),
        DailyCache(p, ["a34004"], ("u10", "v10")),
        s,
        day,
    )
    assert set(f) - set(plain) == {"adv_grad_x10", "adv_grad_y10", "adv_tendency"}
    no_wind = FeatureContext(p, "a34004", nb, static=static, advection=True)
    assert advection_features(no_wind, s, np.array([95])) == {}
    # two neighbours reporting: too few points for a plane
    p.data["a34004"][2:4, :] = np.nan  # N and W silent (a new context: the cache holds the old sums)
    ctx = FeatureContext(p, "a34004", nb, weather_vars=("u10", "v10"), static=static, advection=True)
    few = advection_features(ctx, s, np.array([95]))
    assert np.isnan(few["adv_grad_x10"][0]) and np.isnan(few["adv_tendency"][0])
    # points on one line: singular
    gx, _ = plane_gradient(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 2.0, 3.0]]))
    assert np.isnan(gx[0])
