"""Joint AQI scenarios (forecast.md §3.5): quantile function, PIT, archive draws, AQI probabilities."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast.scenarios import (
    draw_scenarios,
    fill_pit,
    pit,
    quantile_function,
    scenario_aqi,
)
from bogda.store import Store
from bogda.store.schema import forecast
from bogda.timeutil import UTC, beijing_date, now_utc

DAYS = [datetime(2025, 1, 10, 16, tzinfo=UTC) + timedelta(days=k) for k in range(2)]


def test_pit_inverts_the_quantile_function() -> None:
    u = np.linspace(0.01, 0.99, 41)
    c = quantile_function(40.0, 80.0, 200.0, u)
    assert np.all(np.diff(c) > 0)
    np.testing.assert_allclose(pit(40.0, 80.0, 200.0, c), u, atol=1e-9)
    assert np.isnan(pit(40.0, 80.0, 200.0, np.nan))


def _two_items(p_exceed: float) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """PM2.5 and PM10 bands whose P(C > C(AQI 200)) equals ``p_exceed`` each (daily, HJ 633-2012: 150 / 350 µg/m³)."""
    from scipy.special import ndtri

    out = {}
    for label, c200 in (("PM2.5", 150.0), ("PM10", 350.0)):
        sigma = 0.5
        q50 = c200 / np.exp(sigma * ndtri(1 - p_exceed))
        band = (q50 * np.exp(-1.2816 * sigma), q50, q50 * np.exp(1.2816 * sigma))
        out[label] = tuple(np.full((1, 2), v) for v in band)
    return out


def test_independent_archive_raises_heavy_probability_above_comonotone() -> None:
    q = _two_items(0.3)
    como = scenario_aqi(q, draw_scenarios(None, (2, 1, 2), n=400), DAYS)
    assert como.method == "comonotone"
    np.testing.assert_allclose(como.prob["AQI>200"], 0.3, atol=0.02)
    rng = np.random.default_rng(1)
    archive = rng.uniform(size=(300, 2, 1, 2))  # the two pollutants independent on every past date
    ind = scenario_aqi(q, draw_scenarios(archive, (2, 1, 2), n=2000, seed=3), DAYS)
    assert ind.method == "archive"
    # P(max of two independent exceedances) = 1 − 0.7² = 0.51
    np.testing.assert_allclose(ind.prob["AQI>200"], 0.51, atol=0.05)
    assert np.all(ind.prob["level>=5"] == ind.prob["AQI>200"])
    assert np.all(ind.p10 <= ind.p50) and np.all(ind.p50 <= ind.p90)


def test_archive_keeps_cross_day_correlation() -> None:
    q = _two_items(0.3)
    rng = np.random.default_rng(2)
    u = rng.uniform(size=(200, 1, 1, 1))
    archive = np.broadcast_to(u, (200, 2, 1, 2)).copy()  # one PIT per date for both pollutants and both days
    sc = draw_scenarios(archive, (2, 1, 2), n=1000, seed=5)
    assert np.all(sc.u[:, :, :, 0] == sc.u[:, :, :, 1])
    res = scenario_aqi(q, sc, DAYS)
    np.testing.assert_allclose(res.prob["AQI>200"][0, 0], res.prob["AQI>200"][0, 1])


def test_gaps_are_filled_from_the_same_date_and_lead() -> None:
    a = np.full((2, 2, 3, 1), np.nan)
    a[0, 0, 0, 0] = 0.9
    a[0, 1, 2, 0] = 0.9
    out = fill_pit(a, seed=0)
    np.testing.assert_allclose(out[0], 0.9)
    assert np.all((out[1] > 0) & (out[1] < 1))  # a date without any value: independent draws
    with pytest.raises(ValueError, match="does not match"):
        draw_scenarios(np.zeros((30, 2, 3, 1)), (2, 3, 2))


def test_daily_aqi_forecast_uses_scenarios_and_says_how(demo_store: Store) -> None:
    now = now_utc()
    reg = sv.registry(demo_store)
    panel = sv.load_panel(demo_store, reg, now)
    t_issue = op.issue_position(panel, now)
    daily = {it: op.forecast_daily(panel, it, t_issue) for it in op.DAILY_ITEMS}
    a = op.aqi_forecast(daily, "day")
    assert a.prob_method == "comonotone" and a.n_archive_dates == 0
    assert {"AQI>200", "level>=4", "level>=6"} <= set(a.prob)
    ok = np.isfinite(a.p50)
    assert ok.any() and np.all(a.p10[ok] <= a.p90[ok])
    hourly = op.aqi_forecast({it: op.forecast_hourly(panel, it, t_issue, max_lead=6) for it in op.HOURLY_ITEMS}, "hour")
    assert hourly.prob_method == "comonotone_analytic"


def test_pit_archive_from_stored_runs(episode_store: Store) -> None:
    now = now_utc()
    past = now - timedelta(days=3)
    res = sv.refresh(episode_store, past, models=None)
    # the warning proposal's probability is the share of joint scenarios reaching its level
    prop = next(w for w in res.warnings if w.area_code == "652323")
    assert prop.level is not None and prop.probability is not None and 0.5 <= prop.probability <= 1.0
    reg = sv.registry(episode_store)
    panel = sv.load_panel(episode_store, reg, now)
    t_issue = op.issue_position(panel, now)
    arc, dates = sv.pit_archive(episode_store, reg, panel, t_issue)
    assert arc is not None and len(dates) == 1
    rows = {c: i for i, c in enumerate(panel.stations)}
    cty = rows["652323"]
    pm = op.DAILY_ITEMS.index("a34004")
    # leads whose target day is complete before today have a PIT; today and later have none. The target day of a
    # lead is read from the stored run, not counted from its issue date: a run issued in the hour after Beijing
    # midnight forecasts from the day before, so its D+1 is its issue date (this test failed 16:00-16:59 UTC)
    with episode_store.engine.connect() as conn:
        starts = dict(
            conn.execute(
                select(forecast.c.lead, forecast.c.valid_start).where(
                    forecast.c.run_id == res.run_id,
                    forecast.c.target_code == "652323",
                    forecast.c.item == "a34004",
                    forecast.c.resolution == "day",
                )
            ).all()
        )
    assert sorted(starts) == list(range(1, 8))
    done = [k for k in range(1, 8) if panel.day_position(beijing_date(starts[k])) < t_issue // 24]
    assert done and np.isfinite(arc[0, pm, cty, [k - 1 for k in done]]).all()
    assert np.isnan(arc[0, pm, cty, [k - 1 for k in range(1, 8) if k not in done]]).all()
    # a member station takes its county's PIT
    np.testing.assert_array_equal(arc[0, :, rows["CJ-HT01"]], arc[0, :, cty])
