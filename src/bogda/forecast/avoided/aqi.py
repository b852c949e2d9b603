"""Days-avoided AQI events: heavy and ozone days from the AQI of all items, with dust-affected days apart
(forecast.md §3.9 steps 1 and 3)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bogda.forecast import verify
from bogda.forecast.avoided.checks import Check, injection_days
from bogda.forecast.avoided.counterfactual import (
    Counterfactual,
    Estimate,
    analytic_count,
    bootstrap_indices,
    drawn_residuals,
    fit_ensemble,
    lag1_autocorrelation,
    log_target,
    mde_log,
    n_effective,
    reliability_table,
)
from bogda.forecast.avoided.inputs import O3_CODE, FeatureTable, common_dates
from bogda.forecast.avoided.params import AvoidedParams
from bogda.forecast.scenarios import concentration_floor

AQI_ITEMS: dict[str, str] = {
    "a21026": "SO2",
    "a21004": "NO2",
    "a21005": "CO",
    "a34002": "PM10",
    "a34004": "PM2.5",
    O3_CODE: "O3_8h",
}
"""HJ 212 code → the daily AQI item label of ``bogda.standards.aqi.aqi_daily`` (O3 is its MDA8)."""

OPTIONAL_AQI_ITEMS: tuple[str, ...] = ("SO2", "CO")
"""AQI items that may be left out when a station never reports them: they rarely set the daily AQI. The others must
be modelled."""


EVENT_HEAVY = "aqi>200"


EVENT_OZONE = "o3_8h_primary_aqi>100"


EVENTS: dict[str, str] = {"heavy": EVENT_HEAVY, "ozone": EVENT_OZONE}
"""The §3.9 step 1 AQI events by CLI name → the ``event`` column of ``intervention_eval``."""


DUST_PM10_MIN = 150.0
"""[µg/m³] "high PM10" of the dust rule (d): the 24 h grade-II limit of GB 3095-2012, configurable."""


DUST_RATIO_MAX = 0.35
"""PM2.5/PM10 below this on a high-PM10 day → dust-affected (§3.9 step 1, (d))."""


def dust_days(
    pm25: np.ndarray,
    pm10: np.ndarray,
    official: np.ndarray | None = None,
    *,
    pm10_min: float = DUST_PM10_MIN,
    ratio_max: float = DUST_RATIO_MAX,
) -> np.ndarray:
    """Dust-affected days (§3.9 step 1): the official flag where it is given (not NaN), else
    PM10 > ``pm10_min`` and PM2.5/PM10 < ``ratio_max`` (coarse dust, not combustion haze).

    >>> dust_days(np.array([60.0, 120.0, 60.0]), np.array([400.0, 300.0, 400.0]), np.array([np.nan, np.nan, 0.0]))
    array([ True, False, False])
    """
    pm25, pm10 = np.asarray(pm25, dtype=float), np.asarray(pm10, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rule = (pm10 > pm10_min) & (pm25 / pm10 < ratio_max)
    if official is None:
        return rule
    off = np.asarray(official, dtype=float)
    return np.where(np.isfinite(off), off > 0, rule)


def _standards(dates: np.ndarray) -> np.ndarray:
    from bogda.standards.versions import standard_for

    return np.array([standard_for(d) for d in np.asarray(dates).astype("datetime64[D]").astype(object)])


def aqi_event_matrix(conc: Mapping[str, np.ndarray], dates: np.ndarray, event: str) -> np.ndarray:
    """Event flags of daily concentrations by the standards module's daily AQI (§3.9 step 1).

    Parameters
    ----------
    conc
        AQI item label (``PM2.5``, ``O3_8h``, …) → daily values of shape (n,) or (draws, n) [µg/m³; CO mg/m³].
    dates
        The n local dates; each picks the AQI standard in force (HJ 633-2012 / 2026).
    event
        ``aqi>200`` (heavy day) or ``o3_8h_primary_aqi>100`` (ozone day: AQI > 100 with O3 8 h among the primary
        pollutants).

    Returns
    -------
    Bool array of the shape of the inputs. The AQI is never computed here: ``aqi_daily`` does it.
    """
    from bogda.standards.aqi import aqi_daily

    first = np.asarray(next(iter(conc.values())), dtype=float)
    shape = first.shape
    stds = _standards(dates)
    out = np.zeros(shape, dtype=bool)
    for std in np.unique(stds):
        cols = stds == std
        data = {k: np.asarray(v, dtype=float)[..., cols].reshape(-1) for k, v in conc.items()}
        # the O3 1 h maximum of HJ 633-2012 is not modelled: the AQI is read from the six daily items
        res = aqi_daily(data, str(std), not_monitored=("O3_1h",))
        aqi = res.aqi
        if event == EVENT_HEAVY:
            hit = aqi > 200
        elif event == EVENT_OZONE:
            bit = np.uint16(1 << res.labels.index("O3_8h"))
            hit = (aqi > 100) & ((res.primary_mask & bit) > 0)
        else:
            raise ValueError(f"unknown AQI event {event!r}; expected one of {sorted(EVENTS.values())}")
        out[..., cols] = hit.reshape(*shape[:-1], int(cols.sum()))
    return out


@dataclass(frozen=True)
class AqiCounterfactual:
    """Counterfactual of every AQI item over the evaluation days (§3.9 step 3 "for AQI, resample whole-day
    residual vectors across pollutants").

    ``members[label]`` are the ensemble predictions (members, n) [ln units], the same ensemble member index for
    every item; ``residuals`` (training days, items) the centred out-of-fold residuals of the days complete for
    every item, columns in the order of ``items``; ``residual_dates`` their dates (the season-matched bootstrap,
    ``AvoidedParams.season_days``).
    """

    dates: np.ndarray
    items: tuple[str, ...]
    observed: dict[str, np.ndarray]
    members: dict[str, np.ndarray]
    residuals: np.ndarray
    sigma: dict[str, float]
    base_rate: float
    dust: np.ndarray  # dust-affected evaluation days (excluded from every count)
    event: str
    label: str
    residual_dates: np.ndarray | None = None  # dates of the residual rows; None when unknown

    @property
    def key_item(self) -> str:
        """The item whose σ and autocorrelation give the MDE: O3 8 h for ozone days, else PM2.5."""
        return "O3_8h" if self.event == EVENT_OZONE else "PM2.5"


def _on(table: FeatureTable, dates: np.ndarray) -> FeatureTable:
    return table.select(np.isin(table.dates, dates))


def _dust_on(dust: Mapping[Any, bool] | None, dates: np.ndarray, tables: Mapping[str, FeatureTable]) -> np.ndarray:
    """Dust flags of ``dates``: the given flags where present, else the PM2.5/PM10 rule on the observed means."""
    off = np.full(len(dates), np.nan)
    if dust:
        by = {np.datetime64(k, "D"): v for k, v in dust.items()}
        off = np.array([float(by[d]) if d in by else np.nan for d in dates])
    if "PM2.5" in tables and "PM10" in tables:
        pm25, pm10 = _on(tables["PM2.5"], dates).conc, _on(tables["PM10"], dates).conc
        return dust_days(pm25, pm10, off)
    return np.isfinite(off) & (off > 0)


def fit_aqi_counterfactual(
    train: Mapping[str, FeatureTable],
    evaluation: Mapping[str, FeatureTable],
    params: AvoidedParams,
    *,
    event: str = EVENT_HEAVY,
    dust: Mapping[Any, bool] | None = None,
) -> AqiCounterfactual:
    """One counterfactual model per AQI item (§3.9 steps 2–3), on the days complete for every item.

    ``train`` / ``evaluation`` map an AQI item label to its :class:`FeatureTable` (built with
    :func:`feature_table` and the item's code; O3's includes the control's O3 of the day before). ``dust`` are
    official dust flags by date (missing dates use the PM2.5/PM10 rule). Dust-affected training days do not
    count in the base rate, as they do not count in the evaluation (§3.9 step 1 "counted separately").
    """
    missing = set(AQI_ITEMS.values()) - set(train)
    if missing - set(OPTIONAL_AQI_ITEMS):
        raise ValueError(f"AQI counterfactual needs PM2.5, PM10, NO2 and O3_8h; missing {sorted(missing)}")
    items = tuple(train)
    tdates, edates = common_dates(train), common_dates(evaluation)
    members: dict[str, np.ndarray] = {}
    res_cols, sigma = [], {}
    for it in items:
        members[it], r = fit_ensemble(
            _on(train[it], tdates), _on(evaluation[it], edates), params, concentration_floor(it)
        )
        res_cols.append(r)
        sigma[it] = float(np.std(r, ddof=1))
    obs_train = {it: _on(train[it], tdates).conc for it in items}
    train_event = aqi_event_matrix(obs_train, tdates, event) & ~_dust_on(dust, tdates, train)
    return AqiCounterfactual(
        dates=edates,
        items=items,
        observed={it: _on(evaluation[it], edates).conc for it in items},
        members=members,
        residuals=np.column_stack(res_cols),
        sigma=sigma,
        base_rate=float(np.mean(train_event)),
        dust=_dust_on(dust, edates, evaluation),
        event=event,
        label=next(iter(train.values())).label,
        residual_dates=_on(train[items[0]], tdates).dates,  # the rows of every item's residual column
    )


def aqi_draws(cf: AqiCounterfactual, params: AvoidedParams, rng: np.random.Generator) -> np.ndarray:
    """Counterfactual event flags (draws, n) (§3.9 steps 3–4): each draw takes one ensemble member for all items and
    one moving-block bootstrap of the **whole-day residual vectors**, so the pollutants of a day keep their joint
    error; the day's AQI comes from the drawn concentrations through ``aqi_daily``. The bootstrap is the one of the
    single-pollutant Monte Carlo (:func:`bootstrap_indices`), season-matched when ``params.season_days`` is set."""
    n = len(cf.dates)
    m = rng.integers(0, next(iter(cf.members.values())).shape[0], size=params.draws)
    idx = bootstrap_indices(cf.residuals.shape[0], n, params, rng, dates=cf.dates, residual_dates=cf.residual_dates)
    res = drawn_residuals(cf.residuals, params, cf.residual_dates)
    conc = {it: np.exp(cf.members[it][m] + res[idx, j]) for j, it in enumerate(cf.items)}
    return aqi_event_matrix(conc, cf.dates, cf.event)


def estimate_aqi(
    cf: AqiCounterfactual, params: AvoidedParams, *, observed: Mapping[str, np.ndarray] | None = None
) -> Estimate:
    """Days avoided of an AQI event (§3.9 steps 3–4); dust-affected days are left out of both counts.

    The event probability of a day is the share of Monte Carlo draws with the event (no closed form for the AQI);
    the analytic count and the BSS use it. ``observed`` replaces the observations (injection).
    """
    obs = cf.observed if observed is None else observed
    keep = ~cf.dust
    event = aqi_event_matrix(obs, cf.dates, cf.event) & keep
    n_obs = int(event.sum())
    draws = aqi_draws(cf, params, np.random.default_rng(params.rng_seed)) & keep[None, :]
    counts = draws.sum(axis=1).astype(float)
    p = draws.mean(axis=0)
    e, lo, hi = analytic_count(p[keep], params.analytic_z)
    av_ = counts - n_obs
    q0, q1 = (float(v) for v in np.percentile(av_, params.interval))
    j = cf.items.index(cf.key_item)
    rho = lag1_autocorrelation(cf.residuals[:, j])
    n_eff = n_effective(int(keep.sum()), rho)
    sig = cf.sigma[cf.key_item]
    m = mde_log(sig, n_eff)
    ev = event[keep].astype(float)
    return Estimate(
        n_days=int(keep.sum()),
        n_obs=n_obs,
        expected=e,
        expected_ci=(lo, hi),
        cf_median=float(np.median(counts)),
        avoided_median=float(np.median(av_)),
        ci90=(q0, q1),
        bss=verify.brier_skill_score(p[keep], ev, cf.base_rate),
        reliability=reliability_table(p[keep], ev, params.reliability_bins),
        sigma=sig,
        rho1=rho,
        n_eff=n_eff,
        mde_log=m,
        mde_pct=100.0 * (1.0 - math.exp(-m)),
        mde_days=(q1 - q0) / 2.0,
    )


def dust_summary(cf: AqiCounterfactual) -> dict[str, Any]:
    """Dust-affected days of the window, counted apart (§3.9 step 1): how many, and how many were observed events."""
    ev = aqi_event_matrix(cf.observed, cf.dates, cf.event)
    return {
        "days": int(cf.dust.sum()),
        "event_days": int((ev & cf.dust).sum()),
        "dates": [str(d) for d in cf.dates[cf.dust]],
    }


def injection_test_aqi(cf: AqiCounterfactual, params: AvoidedParams) -> Check:
    """Injection for an AQI event (§3.9 step 5): every item's observation × (1 − r) on the chosen days (observed
    events first, winter days first), judged as :func:`injection_test` (days ±1, r ±5 points, truth inside the
    injected run's 90 % interval)."""
    key = cf.observed[cf.key_item]
    ev = aqi_event_matrix(cf.observed, cf.dates, cf.event) & ~cf.dust
    # a stand-in single-item counterfactual lets injection_days pick event days first with the same rule
    proxy = Counterfactual(
        cf.dates, np.where(ev, np.inf, 0.0), cf.members[cf.key_item], cf.residuals[:, 0], 0.0, 0.0, ""
    )
    idx = injection_days(proxy, replace(params, threshold=1.0))
    r = params.injection_r
    injected = {it: v.copy() for it, v in cf.observed.items()}
    for v in injected.values():
        v[idx] = v[idx] * (1.0 - r)
    base, inj = estimate_aqi(cf, params), estimate_aqi(cf, params, observed=injected)
    true_days = base.n_obs - inj.n_obs
    recovered = inj.avoided_median - base.avoided_median
    r_hat = 1.0 - math.exp(float(np.mean(log_target(injected[cf.key_item][idx]) - log_target(key[idx]))))
    ok = (
        abs(recovered - true_days) <= params.injection_tol_days
        and abs(r_hat - r) <= params.injection_tol_r
        and inj.ci90[0] <= true_days <= inj.ci90[1]
    )
    return Check(
        "injection",
        bool(ok),
        {
            "r": r,
            "r_recovered": r_hat,
            "days": [str(d) for d in cf.dates[idx]],
            "true_days": true_days,
            "recovered_days": recovered,
            "truth": float(true_days),
            "ci90": list(inj.ci90),
        },
    )
