"""Joint AQI scenarios (forecast.md §3.5): quantile function, PIT, archive draws, AQI probabilities."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast.models import exceedance_probability
from bogda.forecast.scenarios import (
    concentration_floor,
    draw_scenarios,
    fill_pit,
    moving_24h,
    nan_quantiles,
    pit,
    quantile_function,
    scenario_aqi,
)
from bogda.standards import aqi as A
from bogda.standards.versions import standard_for
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


def test_carbon_monoxide_is_floored_at_its_own_resolution_not_at_1_mg() -> None:
    """CO is in mg/m³ (typical 0.3–1.5): the floor "at 1" of §3.5 is 1 µg/m³ for the other items and 0.1 mg/m³ (one
    published decimal) for CO. Floored at 1 mg/m³ every CO band collapsed onto 1 and every PIT onto 0.5."""
    lo, mid, hi = 0.3, 0.6, 1.2
    co = concentration_floor("CO")
    assert co == concentration_floor("a21005") == 0.1
    assert concentration_floor("PM2.5") == concentration_floor("O3_8h") == 1.0
    u = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(quantile_function(lo, mid, hi, u, co), [lo, mid, hi], rtol=1e-9)
    np.testing.assert_allclose(pit(lo, mid, hi, np.array([lo, mid, hi]), co), u, atol=1e-9)
    assert exceedance_probability(np.array([lo]), np.array([mid]), np.array([hi]), hi, co)[0] == pytest.approx(
        0.1, abs=1e-4
    )
    # the old floor: a 0.3 mg/m³ observation and a 1.2 one had the same PIT
    assert pit(lo, mid, hi, 0.3) == pit(lo, mid, hi, 0.9)
    # the damped-persistence band of a CO forecast is centred on the forecast
    p10, p50, p90 = op.lognormal_band(np.array([0.6]), 0.5, co)
    assert p10[0] < p50[0] < p90[0] and p50[0] == pytest.approx(0.6)


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
    fcs = {it: op.forecast_hourly(panel, it, t_issue, max_lead=6) for it in op.HOURLY_ITEMS}
    # hourly AQI uses the scenarios too (comonotone without an archive); the analytic band only on request
    hourly = op.aqi_forecast(fcs, "hour")
    assert hourly.prob_method == "comonotone" and hourly.n_archive_dates == 0
    assert hourly.scenarios is not None and hourly.scenarios.shape == (200, len(panel.stations), 6)
    assert op.aqi_forecast(fcs, "hour", scenarios=False).prob_method == "comonotone_analytic"


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
    # a member station has its own PIT: its own stored daily quantiles against its own observed days
    st = rows["CJ-HT01"]
    with episode_store.engine.connect() as conn:
        own = conn.execute(
            select(forecast.c.lead, forecast.c.p10, forecast.c.p50, forecast.c.p90).where(
                forecast.c.run_id == res.run_id,
                forecast.c.target_code == "CJ-HT01",
                forecast.c.item == "a34004",
                forecast.c.resolution == "day",
                forecast.c.p50.is_not(None),  # the primary method's rows (baselines carry no quantiles)
            )
        ).all()
    assert sorted(r.lead for r in own) == list(range(1, 8))
    obs = op.daily_item(panel, "a34004")[st]
    for r in own:
        if r.lead in done:
            want = pit(r.p10, r.p50, r.p90, obs[panel.day_position(beijing_date(starts[r.lead]))])
            np.testing.assert_allclose(arc[0, pm, st, r.lead - 1], want, rtol=1e-9)
        else:
            assert np.isnan(arc[0, pm, st, r.lead - 1])


# --------------------------------------------------------------------------------------------------------------
# Hourly AQI by scenarios (forecast.md §3.5 applied to the 72 hourly leads)
# --------------------------------------------------------------------------------------------------------------

HOURS = [datetime(2025, 1, 10, 16, tzinfo=UTC) + timedelta(hours=h) for h in range(72)]


def _hourly_fc(item: str, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray) -> op.ItemForecast:
    """An hourly forecast of ``item`` for (targets, 72 leads) with the given band (the mean is p50)."""
    return op.ItemForecast(
        item, "hour", np.arange(1, 73), HOURS, "damped_persistence", {"damped_persistence": p50}, p10, p50, p90
    )


def _hourly_band(item: str, thr: int, p_exceed: np.ndarray, sigma: float = 0.5) -> op.ItemForecast:
    """Lognormal bands of ``item`` whose P(1-h concentration above that of hourly AQI ``thr``) is ``p_exceed``."""
    from scipy.special import ndtri

    avg = "24h" if item in ("a34004", "a34002") else "1h"  # PM 1-h values read against 24-h breakpoints
    c = float(A.concentration_at(thr, item, avg, standard_for(HOURS[0])))
    q50 = c / np.exp(sigma * ndtri(1 - p_exceed))
    return _hourly_fc(item, q50 * np.exp(-op.Z90 * sigma), q50, q50 * np.exp(op.Z90 * sigma))


def _pm_no2(p_pm: float, p_no2: float, n: int = 3) -> dict[str, op.ItemForecast]:
    """PM2.5 and NO2 hourly bands over ``n`` targets × 72 leads with the given P(AQI > 200) each."""
    return {
        "a34004": _hourly_band("a34004", 200, np.full((n, 72), p_pm)),
        "a21004": _hourly_band("a21004", 200, np.full((n, 72), p_no2)),
    }


def test_nan_quantiles_match_numpy() -> None:
    rng = np.random.default_rng(4)
    x = rng.gamma(2.0, 50.0, size=(200, 5, 7))
    x[rng.uniform(size=x.shape) < 0.2] = np.nan
    x[:, 0, 0] = np.nan  # a series without any scenario stays NaN
    x[:199, 1, 1] = np.nan  # one scenario: every quantile is that value
    x[199, 1, 1] = 123.0
    got = nan_quantiles(x, [0.1, 0.5, 0.9])
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanquantile(x, [0.1, 0.5, 0.9], axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.isnan(got[:, 0, 0]).all() and np.all(got[:, 1, 1] == x[199, 1, 1])


def test_moving_24h_joins_observed_hours_and_scenario_leads() -> None:
    rng = np.random.default_rng(6)
    hist = rng.uniform(5, 50, size=(2, 23))
    hist[1, :5] = np.nan  # 18 valid observed hours: the first lead has 19 < 20 valid hours
    fut = rng.uniform(5, 900, size=(4, 2, 10))
    got = moving_24h(hist, fut)
    for s in range(4):
        for i in range(2):
            x = np.concatenate([hist[i], fut[s, i]])
            for j in range(10):
                w = x[j : j + 24]
                want = np.nanmean(w) if np.isfinite(w).sum() >= 20 else np.nan
                np.testing.assert_allclose(got[s, i, j], want, rtol=1e-12)
    assert np.isnan(got[:, 1, 0]).all() and np.isfinite(got[:, 1, 1]).all()


def test_hourly_comonotone_archive_reproduces_the_analytic_band() -> None:
    """An archive whose PITs move together (one u per date for every item, target and lead) is the comonotone case:
    the hourly scenario P(AQI > T) must equal the analytic max over pollutants of P(C > C(T)) within Monte Carlo
    error, at every threshold, although the two are computed in entirely different ways."""
    rng = np.random.default_rng(7)
    p_pm = rng.uniform(0.05, 0.6, size=(3, 72))
    fcs = {
        "a34004": _hourly_band("a34004", 150, p_pm),
        "a21004": _hourly_band("a21004", 150, rng.uniform(0.05, 0.6, size=(3, 72))),
    }
    u = (np.arange(400) + 0.5) / 400  # an evenly spread archive: the error left is that of drawing 2000 of 400
    archive = np.broadcast_to(u[:, None, None, None], (400, 2, 3, 72)).copy()
    sc = op.aqi_forecast(fcs, "hour", pit_archive=archive, archive_dates=list(range(400)), n_scenarios=2000, seed=1)
    ana = op.aqi_forecast(fcs, "hour", scenarios=False)
    assert sc.prob_method == "archive" and sc.n_archive_dates == 400 and ana.prob_method == "comonotone_analytic"
    for thr in (100, 150, 200, 300):
        p = ana.prob[f"AQI>{thr}"]
        se = np.sqrt(np.maximum(p * (1 - p), 0.01) / 2000)
        assert np.all(np.abs(sc.prob[f"AQI>{thr}"] - p) <= 4 * se + 1e-9), thr
    assert ana.prob["AQI>150"].max() > 0.3  # the comparison is not between two zeros


def test_hourly_independent_pollutants_give_the_probability_of_a_maximum() -> None:
    """Independent PITs across pollutants: P(AQI > 200) = 1 − (1 − p_PM)(1 − p_NO2), above the comonotone
    max(p_PM, p_NO2) — the correlation the analytic band cannot see."""
    fcs = _pm_no2(0.3, 0.2)
    rng = np.random.default_rng(8)
    archive = rng.uniform(size=(500, 2, 3, 72))
    sc = op.aqi_forecast(fcs, "hour", pit_archive=archive, n_scenarios=4000, seed=2)
    ana = op.aqi_forecast(fcs, "hour", scenarios=False)
    np.testing.assert_allclose(ana.prob["AQI>200"], 0.3, atol=1e-4)  # models.exceedance_probability: z 1.2816
    want = 1 - 0.7 * 0.8
    assert abs(float(sc.prob["AQI>200"].mean()) - want) < 0.03
    assert np.all(sc.prob["AQI>200"] > ana.prob["AQI>200"])


def test_hourly_scenario_probabilities_are_ordered_and_shaped() -> None:
    rng = np.random.default_rng(9)
    n = 4
    fcs = {}
    for item in op.HOURLY_ITEMS:
        fcs[item] = _hourly_band(item, 150, rng.uniform(0.01, 0.7, size=(n, 72)), sigma=float(rng.uniform(0.2, 0.8)))
    # a date's PITs share a regime (a common normal score) plus item noise: a realistic, partly correlated archive
    from scipy.special import ndtr

    zc = rng.normal(size=(60, 1, 1, 72))
    archive = ndtr(0.8 * zc + 0.6 * rng.normal(size=(60, 6, n, 72)))
    archive[3, 2] = np.nan  # a gap: filled from the date's mean normal score
    a = op.aqi_forecast(fcs, "hour", pit_archive=archive, archive_dates=list(range(60)), seed=3)
    assert a.prob_method == "archive" and a.n_archive_dates == 60
    assert a.scenarios is not None and a.scenarios.shape == (200, n, 72)
    assert a.p10.shape == a.p50.shape == a.p90.shape == (n, 72)
    assert np.all(a.p10 <= a.p50) and np.all(a.p50 <= a.p90)
    probs = [a.prob[f"AQI>{t}"] for t in (100, 150, 200, 300)]
    for lo, hi in itertools.pairwise(probs):
        assert np.all(lo >= hi)
    levels = [a.prob[f"level>={lv}"] for lv in (2, 3, 4, 5, 6)]
    for lo, hi in itertools.pairwise(levels):
        assert np.all(lo >= hi)
    # AQI > 100 starts level 3 (HJ 633): the two frequencies of the same scenarios agree
    np.testing.assert_array_equal(a.prob["AQI>100"], a.prob["level>=3"])
    assert 0 < float(a.prob["AQI>150"].mean()) < 1


def test_hourly_comonotone_fallback_without_enough_dates() -> None:
    fcs = _pm_no2(0.3, 0.2, n=2)
    short = np.random.default_rng(10).uniform(size=(19, 2, 2, 72))  # one date short of MIN_ARCHIVE_DATES
    a = op.aqi_forecast(fcs, "hour", pit_archive=short, archive_dates=list(range(19)))
    assert a.prob_method == "comonotone" and a.n_archive_dates == 19
    # comonotone scenarios: the max of the two exceedances is the larger one (within 1/S)
    np.testing.assert_allclose(a.prob["AQI>200"], 0.3, atol=1 / 200 + 1e-9)


def test_hourly_so2_above_800_uses_the_scenario_24h_mean_under_2012() -> None:
    """HJ 633-2012 Table 1 note 2: a 1-h SO2 above 800 has no 1-h IAQI and reports the 24-h IAQI instead; the
    24-h mean of a scenario joins the observed hours before the issue to that scenario's leads."""
    assert standard_for(HOURS[0]) == "2012"
    n = 1
    so2 = np.full((n, 72), 900.0)
    fcs = {"a21026": _hourly_fc("a21026", so2 * 0.999, so2, so2 * 1.001)}
    hist = np.full((n, 23), 40.0)
    with_hist = op.aqi_forecast(fcs, "hour", so2_history=hist)
    without = op.aqi_forecast(fcs, "hour")
    mean24 = moving_24h(hist, so2)
    want = A.aqi_hourly({"SO2": so2.ravel()}, "2012", so2_24h=mean24.ravel()).aqi.reshape(n, 72)
    assert np.isfinite(want).all()
    np.testing.assert_allclose(with_hist.mean, want)
    np.testing.assert_allclose(with_hist.p50, want, atol=1.0)  # 900 ± 0.1 %: the same 24-h IAQI in every scenario
    assert not np.isfinite(without.p50).any()  # no SO2 IAQI at all without the 24-h mean
    assert np.all(np.diff(with_hist.p50[0]) >= 0)  # the 24-h mean climbs as 900s replace the observed 40s


def test_hourly_exceedance_agrees_with_the_per_pollutant_probability() -> None:
    """One pollutant: the scenario P(AQI > T) is P(C > C(T)) of its band (comonotone or not, a maximum of one)."""
    rng = np.random.default_rng(11)
    p = rng.uniform(0.1, 0.9, size=(2, 72))
    fc = _hourly_band("a34004", 200, p)
    arc = rng.uniform(size=(300, 1, 2, 72))
    a = op.aqi_forecast({"a34004": fc}, "hour", pit_archive=arc, n_scenarios=3000, seed=4)
    c = float(A.concentration_at(200, "a34004", "24h", standard_for(HOURS[0])))
    pe = exceedance_probability(fc.p10, fc.p50, fc.p90, c)
    np.testing.assert_allclose(pe, p, atol=1e-4)
    assert float(np.abs(a.prob["AQI>200"] - pe).mean()) < 0.03
