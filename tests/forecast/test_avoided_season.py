"""Season-matched moving-block bootstrap of the days-avoided Monte Carlo (forecast.md §3.9 steps 3–4,
``AvoidedParams.season_days``)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from bogda.forecast import avoided as av
from bogda.forecast.avoided import counterfactual as cfm
from bogda.forecast.baselines import circular_doy_distance

SMALL = av.AvoidedParams(draws=300)


def _old_block_indices(size: int, n: int, draws: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """The moving-block index matrix as it was before the season option (commit 37f8c7d), kept verbatim as the
    reference of the unmatched path."""
    b = max(1, min(block, size))
    n_blocks = -(-n // b)
    starts = rng.integers(0, size - b + 1, size=(draws, n_blocks))
    return (starts[:, :, None] + np.arange(b)[None, None, :]).reshape(draws, n_blocks * b)[:, :n]


def _days(first: str, n: int, *, drop_every: int = 0) -> np.ndarray:
    d = np.datetime64(first, "D") + np.arange(n)
    return d[np.arange(n) % drop_every != 0] if drop_every else d


def _season_idx(rdates: np.ndarray, dates: np.ndarray, p: av.AvoidedParams, seed: int) -> np.ndarray:
    return cfm.bootstrap_indices(
        rdates.size, dates.size, p, np.random.default_rng(seed), dates=dates, residual_dates=rdates
    )


# --- (a) season_days=None: the draws of before, index for index ----------------------------------------------


@pytest.mark.parametrize(("size", "n", "block"), [(730, 365, 7), (50, 23, 7), (5, 12, 7), (100, 40, 1)])
def test_unmatched_indices_are_those_of_the_old_code(size: int, n: int, block: int):
    old = _old_block_indices(size, n, 200, block, np.random.default_rng(11))
    new = av.block_indices(size, n, 200, block, np.random.default_rng(11))
    assert np.array_equal(old, new)
    # the one dispatcher too, with or without dates (they are ignored without season_days)
    p = replace(SMALL, draws=200, block_days=block)
    dates, rdates = _days("2016-03-01", n), _days("2013-03-01", size)
    for kw in ({}, {"dates": dates, "residual_dates": rdates}):
        assert np.array_equal(old, cfm.bootstrap_indices(size, n, p, np.random.default_rng(11), **kw))


def test_unmatched_monte_carlo_counts_are_unchanged():
    rng = np.random.default_rng(0)
    members = rng.normal(4.5, 0.4, size=(4, 120))
    res = rng.normal(0.0, 0.3, size=400)
    p = replace(SMALL, draws=500)
    # the old Monte Carlo: member draw, then the moving-block bootstrap, from one stream
    r_old = np.random.default_rng(p.rng_seed)
    m = r_old.integers(0, members.shape[0], size=p.draws)
    e = res[_old_block_indices(res.size, members.shape[1], p.draws, p.block_days, r_old)]
    old = np.sum(members[m] + e > math.log(100.0), axis=1).astype(float)
    new = av.monte_carlo_counts(members, res, 100.0, p, np.random.default_rng(p.rng_seed))
    assert np.array_equal(old, new)
    dated = av.monte_carlo_counts(
        members,
        res,
        100.0,
        p,
        np.random.default_rng(p.rng_seed),
        dates=_days("2016-03-01", 120),
        residual_dates=_days("2014-01-01", 400),
    )
    assert np.array_equal(old, dated)


# --- (b) season_days set: every residual day in season, blocks contiguous --------------------------------------


@pytest.mark.parametrize("season_days", [10, 30, 45])
def test_season_matched_draws_stay_in_season_and_keep_blocks_whole(season_days: int):
    # residuals over 3 years with gaps (every 11th day missing), targets over one year with gaps (every 5th day)
    rdates = _days("2013-03-01", 3 * 365, drop_every=11)
    dates = _days("2016-03-01", 365, drop_every=5)
    p = replace(SMALL, draws=400, season_days=season_days)
    idx = _season_idx(rdates, dates, p, 3)
    assert idx.shape == (400, dates.size)
    dist = circular_doy_distance(cfm.day_of_year(rdates)[idx], cfm.day_of_year(dates)[None, :])
    assert int(dist.max()) <= season_days
    # whole 7-row runs of the residual series: within a block each index is its predecessor + 1
    b = p.block_days
    step = np.diff(idx, axis=1)
    inside = (np.arange(1, dates.size) % b) != 0
    assert (step[:, inside] == 1).all()
    # and the season is used, not a single run: many distinct starts per block, from more than one year
    starts = idx[:, ::b]
    assert min(len(np.unique(starts[:, k])) for k in range(starts.shape[1])) >= 10
    years = rdates[idx[:, 0]].astype("datetime64[Y]")
    assert len(np.unique(years)) >= 2


def test_season_matched_draws_wrap_the_new_year():
    # late-December targets may take early-January residuals: the distance is circular
    rdates = _days("2014-01-01", 2 * 365)
    dates = _days("2016-12-20", 14)
    p = replace(SMALL, draws=2000, season_days=15)
    idx = _season_idx(rdates, dates, p, 5)
    doy = cfm.day_of_year(rdates)[idx]
    assert int(circular_doy_distance(doy, cfm.day_of_year(dates)[None, :]).max()) <= 15
    assert (doy[:, 0] < 20).any() and (doy[:, 0] > 340).any()


def test_season_matched_falls_back_to_all_days_when_too_few_qualify():
    # residuals only in winter; summer targets find no qualifying start → every start may be drawn
    rdates = _days("2014-12-01", 90)
    dates = _days("2016-07-01", 14)
    p = replace(SMALL, draws=3000, season_days=20)
    idx = _season_idx(rdates, dates, p, 1)
    assert set(np.unique(idx[:, 0]).tolist()) == set(range(rdates.size - p.block_days + 1))


def test_season_matched_needs_dates():
    p = replace(SMALL, season_days=30)
    with pytest.raises(ValueError, match="residual_dates"):
        cfm.bootstrap_indices(100, 10, p, np.random.default_rng(0), dates=_days("2016-01-01", 10))
    with pytest.raises(ValueError, match="day of year"):
        av.block_indices(100, 10, 5, 7, np.random.default_rng(0), season_days=30)


def test_fit_counterfactual_records_the_residual_dates():
    rng = np.random.default_rng(0)
    dates = _days("2014-01-01", 500, drop_every=9)
    x = rng.normal(size=(dates.size, 3))
    conc = np.exp(4.0 + 0.5 * x[:, 0] + rng.normal(0.0, 0.2, dates.size))
    table = av.FeatureTable(dates, conc, x, ("a", "b", "c"), "controlled")
    p = av.AvoidedParams(threshold=100.0, rounds=20, windows=(0,), seeds=(0,), draws=100, season_days=30)
    cut = np.datetime64("2015-01-01")
    train, test = table.select(dates < cut), table.select(dates >= cut)
    cf = av.fit_counterfactual(train, test, p)
    assert cf.residual_dates is not None and np.array_equal(cf.residual_dates, train.dates)
    assert cf.residuals.shape == cf.residual_dates.shape
    est = av.estimate(cf, p)  # the season-matched Monte Carlo runs on a fitted counterfactual
    assert est.n_days == test.dates.size


# --- (c) AQI: winter O3 residuals applied to summer maxima make false heavy days -------------------------------


def _aqi_cf(seed: int = 0) -> av.AqiCounterfactual:
    """Two training years whose O3 log-residuals are wide in winter (s.d. 0.8: winter O3 is low, so its log error
    is large) and narrow in summer (0.05); the other items have small residuals. The evaluation summer has O3 8 h
    ≈ 200 µg/m³ (IAQI ≈ 150), far below the heavy-day 265 µg/m³ unless a winter residual is added."""
    rng = np.random.default_rng(seed)
    rdates = _days("2014-01-01", 730)
    month = rdates.astype("datetime64[M]").astype(int) % 12 + 1
    winter = np.isin(month, (11, 12, 1, 2, 3))
    items = ("PM2.5", "PM10", "NO2", "O3_8h")
    res = rng.normal(0.0, 0.05, size=(rdates.size, len(items)))
    res[winter, 3] = rng.normal(0.0, 0.8, size=int(winter.sum()))
    res -= res.mean(axis=0)
    dates = _days("2016-06-01", 92)  # June–August
    level = {"PM2.5": 40.0, "PM10": 70.0, "NO2": 30.0, "O3_8h": 200.0}
    members = {k: np.full((3, dates.size), math.log(v)) for k, v in level.items()}
    return av.AqiCounterfactual(
        dates=dates,
        items=items,
        observed={k: np.full(dates.size, v) for k, v in level.items()},
        members=members,
        residuals=res,
        sigma={k: float(np.std(res[:, j], ddof=1)) for j, k in enumerate(items)},
        base_rate=0.05,
        dust=np.zeros(dates.size, dtype=bool),
        event=av.EVENT_HEAVY,
        label="controlled",
        residual_dates=rdates,
    )


def test_season_matched_aqi_draws_make_far_fewer_false_summer_events():
    cf = _aqi_cf()
    p = replace(SMALL, draws=300)
    unmatched = av.aqi_draws(cf, p, np.random.default_rng(p.rng_seed)).sum(axis=1)
    matched = av.aqi_draws(cf, replace(p, season_days=45), np.random.default_rng(p.rng_seed)).sum(axis=1)
    # no observed event: every counted day is a false one; winter residuals (~30 % of rows) push O3 over 265
    assert float(np.mean(unmatched)) > 5.0
    assert float(np.mean(matched)) < 0.5
    assert float(np.mean(matched)) <= float(np.mean(unmatched)) / 20.0
    # the estimate follows: the placebo summer shows no avoided days only when the seasons are matched
    e_un, e_m = av.estimate_aqi(cf, p), av.estimate_aqi(cf, replace(p, season_days=45))
    assert e_un.avoided_median > p.placebo_max_days
    assert abs(e_m.avoided_median) <= p.placebo_max_days and e_m.ci90[0] <= 0.0 <= e_m.ci90[1]


def test_aqi_draws_unmatched_are_unchanged_and_season_needs_dates():
    cf = _aqi_cf(1)
    p = replace(SMALL, draws=100)
    # without season_days the residual dates are not used: the same draws as a record without them
    a = av.aqi_draws(cf, p, np.random.default_rng(2))
    b = av.aqi_draws(replace(cf, residual_dates=None), p, np.random.default_rng(2))
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="residual_dates"):
        av.aqi_draws(replace(cf, residual_dates=None), replace(p, season_days=45), np.random.default_rng(2))


# --- (c) season-matched draws take residuals centred per season --------------------------------------------------


def test_season_matched_draws_are_centred_per_season_so_a_seasonal_mean_adds_no_events():
    """Residuals centred as a whole but high in winter and low in summer (as out-of-fold residuals run, docs §14):
    matched draws of the raw residuals would add winter events that nothing explains; the Monte Carlo draws them
    centred per season (``season_centred``), keeping the season's spread, so a winter day on the threshold is an
    event in about half of the draws, as with whole-year draws. Whole-year draws take the residuals as they are."""
    rng = np.random.default_rng(3)
    rdates = _days("2013-03-01", 3 * 365)
    doy = cfm.day_of_year(rdates)
    season = 0.25 * np.cos(2.0 * np.pi * (doy - 15) / 365.25)  # +0.25 in mid-January, −0.25 in mid-July
    res = season + rng.normal(0.0, 0.2, rdates.size)
    res -= res.mean()
    dates = _days("2016-12-15", 60)  # mid-December to mid-February: every evaluation day on the threshold
    members = np.full((2, dates.size), math.log(150.0))
    p = replace(SMALL, draws=2000, season_days=45)
    centred = cfm.season_centred(res, rdates, 45)
    near = circular_doy_distance(doy[:, None], doy[None, :]) <= 45
    winter = near[np.flatnonzero(doy == 15)[0]]
    assert res[winter].mean() > 0.15 and abs(centred[winter].mean()) < 0.02  # the season's mean is gone
    assert max(abs(centred[near[i]].mean()) for i in range(0, rdates.size, 29)) < 0.03
    assert np.std(centred[winter]) == pytest.approx(np.std(res[winter]), rel=0.25)  # the spread is kept
    kw = {"dates": dates, "residual_dates": rdates}
    matched = av.monte_carlo_counts(members, res, 150.0, p, np.random.default_rng(1), **kw)
    whole = av.monte_carlo_counts(members, res, 150.0, replace(p, season_days=None), np.random.default_rng(1))
    raw = np.sum(res[cfm.bootstrap_indices(res.size, dates.size, p, np.random.default_rng(1), **kw)] > 0, axis=1)
    assert float(np.median(matched)) == pytest.approx(30.0, abs=3.0)
    assert float(np.median(whole)) == pytest.approx(30.0, abs=8.0)  # the whole year's mix, centred as a whole
    assert float(np.median(raw)) > 45.0  # the raw winter residuals: about 80 % of the days over the threshold
    # whole-year draws are unchanged by the season's mean
    assert np.array_equal(cfm.drawn_residuals(res, replace(p, season_days=None), rdates), res)
