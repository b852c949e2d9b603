"""LightGBM direct multi-horizon models with quantiles (forecast.md §3.4).

Direct, never recursive: one *model set* per daily horizon D+k and per hourly lead block (a block ``(lo, hi)``
with ``lo == hi`` is a single-lead model; wider blocks draw one random lead per (station, origin) row and carry
the lead as a feature). A set = ``mean`` (L2) + quantiles α 0.1/0.5/0.9, pooled over stations (the station index
is a categorical feature). Every set records which inputs it used (weather mode, neighbours, feature names),
so a forecast can say whether it ran with or without NWP.

Training is single-threaded and deterministic (``num_threads=1``, ``deterministic=True``, fixed seeds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from bogda.forecast.features import (
    DailyCache,
    FeatureContext,
    SeriesCache,
    daily_features,
    daily_issue_features,
    hourly_features,
)

WEATHER_MODES: tuple[str, ...] = ("none", "observed_proxy", "noisy_proxy", "nwp")
"""``none``: observations up to issue time only; ``observed_proxy``: observed weather at the target time as a
perfect forecast (an upper bound, never operational skill); ``noisy_proxy``: observed daily weather with an assumed
forecast error (daily models only, :mod:`bogda.forecast.weather_proxy`); ``nwp``: archived or live NWP
(forecast.md §3.9)."""

HOURLY_BLOCKS: tuple[tuple[int, int], ...] = ((1, 1), (2, 6), (7, 24), (25, 48), (49, 72))
"""Hourly lead blocks [h] (forecast.md §5, default)."""

QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)

SEAM_HOURS = 6
"""Leads [h] after a border between hourly blocks over which the earlier block's forecast fades out
(:func:`seam_weights`; bogda's choice, d): the direct block models disagree where one block ends and the next
begins, and an hourly curve that jumps by a third of its level from 48 h to 49 h (measured on the demo) is a seam
of the method, not a forecast."""


@dataclass(frozen=True)
class Profile:
    """LightGBM settings (forecast.md §3.4). ``early_stopping`` > 0 selects the rounds on a time-ordered
    validation tail of the training rows (``valid_fraction``), then refits on all rows with max(50, 1.1·best).
    """

    name: str
    learning_rate: float
    num_leaves: int = 31
    min_child_samples: int = 40
    bagging_fraction: float = 0.8
    feature_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_bin: int = 63
    rounds_mean: int = 200
    rounds_quantile: int = 120
    max_rows: int = 40_000
    early_stopping: int = 0
    valid_fraction: float = 1 / 6
    n_seeds: int = 1
    half_life_days: float | None = None
    """Recency weights of the ``mean`` booster's rows, 0.5^(age / half-life) with the age counted back from the
    latest training target [d] (PM2.5 falls year on year, so older years describe a dirtier regime); None: equal
    weights. Quantile boosters and the early-stopping tail stay unweighted."""
    tail_weight: float = 1.0
    """Weight factor of the ``mean`` booster's rows whose target is at or above the ``tail_quantile`` of the
    training targets (cost-sensitive learning for the rare high days that the warnings are about; an L2 model fitted
    with equal weights is pulled towards the bulk and under-forecasts them). Multiplies any recency weight; the
    weights are normalised to mean 1. 1.0: off."""
    tail_quantile: float = 0.85
    """Quantile of the training targets above which ``tail_weight`` applies (0.85: about Beijing's share of daily
    PM2.5 > 150 µg/m³ in 2013–16; a quantile, not a level, so that it holds for every pollutant and AQI)."""
    transform: str = "none"
    """``log``: the ``mean`` booster learns log(1 + y) and its forecast is back-transformed with Duan's smearing
    factor, mean(exp(residual)) on the early-stopping tail (out of sample), so it estimates E[y], not the median;
    ``none``: it learns y."""
    base: str = "none"
    """``damped``: the ``mean`` booster learns the residual of damped persistence computed from the row's own
    features (clim_tgt + a·(last value − clim_now), a fitted on the training rows), passed as LightGBM
    ``init_score``; trees approximate that near-linear relation poorly on their own. ``none``: boost from the
    mean."""
    objective: str = "regression"
    """Loss of the ``mean`` booster: ``regression`` (L2) or ``tweedie`` (LightGBM's Tweedie deviance with a log link,
    variance power 1.5: a mean model for skewed non-negative targets, multiplicative in its features, with no
    back-transform to correct, unlike ``transform="log"``); its rounds are still chosen on the tail's L2."""

    def mean_params(self, seed: int) -> dict[str, object]:
        """Parameters of the ``mean`` booster (:attr:`objective`; the early-stopping metric stays L2)."""
        if self.objective == "regression":
            return self.params("regression", seed=seed)
        if self.objective != "tweedie" or self.base != "none" or self.transform != "none":
            raise ValueError(f"objective {self.objective!r}: expected regression, or tweedie without base/transform")
        return {**self.params("tweedie", seed=seed), "metric": "l2"}

    def params(self, objective: str, alpha: float | None = None, seed: int = 0) -> dict[str, object]:
        p: dict[str, object] = {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "num_threads": 1,
            "deterministic": True,
            "force_row_wise": True,
            "seed": seed,
            "verbosity": -1,
        }
        if alpha is not None:
            p["alpha"] = alpha
        return p


FAST = Profile("fast", learning_rate=0.05)
"""Production profile (forecast.md §3.4, defaults)."""

REFERENCE = Profile(
    "reference",
    learning_rate=0.03,
    lambda_l2=0.0,
    max_bin=255,
    rounds_mean=4000,
    rounds_quantile=120,
    max_rows=400_000,
    early_stopping=200,
)
"""Benchmark profile, the settings of the reference file's LightGBM rows (forecast_benchmarks/SOURCES.md): lr 0.03,
31 leaves, ≥ 40 rows per leaf, bagging and feature fraction 0.8, LightGBM's defaults otherwise (no L2 penalty,
255 bins), every training row, ≤ 4000 rounds with patience 200 on the last sixth of training (≈ 6 of 36 months).
Until the eighteenth session it sampled 80 000 rows, with λ2 = 1 and 63 bins — not the file's settings; check 3
(:mod:`bogda.forecast.reference_check`) found its 1 h rows 3–6 % worse than the file's, and the profile was set to the
file's stated settings, adopted whatever they scored (docs/forecast.md §3.5). Quantile models keep the ``fast`` round
budget (they do not enter the point scores)."""

PROTOCOL = Profile(
    "protocol",
    learning_rate=0.03,
    num_leaves=15,
    min_child_samples=100,
    lambda_l2=10.0,
    rounds_mean=4000,
    rounds_quantile=120,
    max_rows=400_000,
    early_stopping=200,
    n_seeds=3,
    half_life_days=365.0,
)
"""``reference`` with smaller, better-supported, more regularised trees (15 leaves, ≥ 100 rows per leaf, λ2 = 10), every
training row (``max_rows``, below), recency weights and the mean of 3 bagging seeds. Chosen on the Beijing *training*
period only, never on the test year: the early-stopping tail 2015-09..2016-02 (hourly 24 h validation RMSE
90.6 → 88.4, daily D+1 55.6 → 52.4) and an inner protocol (train 2013-03..2015-08, test 2015-09..2016-02, 8 stations:
hourly 24 h RMSE / damped persistence 0.982 → 0.975). ``max_rows`` 400 000 exceeds the rows of 8 stations × 3 years
(≈ 210 000 hourly rows), so every training row is used; the former cap of 120 000 sampled the hourly sets. Chosen on
the two inner folds before the test year was scored with it (docs/forecast.md §2): hourly 24 h RMSE / damped
persistence, mean of 8 stations, fold A 0.951 → 0.944 (fold B's 1.5 years stay under either cap: unchanged); the
daily sets are far below either cap. ``half_life_days`` 365 (one value set in advance, not a grid: a year's weight
halves with each year back, as Beijing's PM2.5 fell year on year), chosen on the same folds before the test year was
scored with it: better on both folds and both goal horizons — hourly 24 h 0.944 → 0.943 (A), 1.006 → 1.001 (B); daily
D+1 0.688 → 0.681 (A), 0.776 → 0.770 (B); D+1 TS > 150 0.51 → 0.53 (A), 0.30 → 0.31 (B)."""

PROFILES = {"fast": FAST, "reference": REFERENCE, "protocol": PROTOCOL}


@dataclass
class ModelSet:
    """One horizon's models: ``mean`` + quantiles, and the record of the inputs they used."""

    horizon: str
    boosters: dict[str, list[lgb.Booster]]
    feature_names: list[str]
    inputs: dict[str, object] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=dict)
    base: DampedBase | None = None
    smearing: float | None = None
    """Duan's factor of a ``mean`` learnt in log(1 + y) (Profile.transform ``log``); None: learnt in y."""

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``mean``, ``p10``, ``p50``, ``p90``: quantiles sorted if crossing (forecast.md §3.1), the outer two
        widened to hold the ``mean``, and everything clipped at 0.

        The ``mean`` (L2) and the quantiles are separate boosters and disagree now and then: on the demo's trained
        hourly sets the mean lay above p90 on 2.8 % of the rows and below p10 on 1.7 % (mostly O3). A forecast
        whose issued value lies outside its own 10–90 % range reads as an error on the console and in a published
        range, so the range is stretched to the mean (p10 = min(p10, mean), p90 = max(p90, mean)); p50 stays
        between them. The interval only grows, on those rows."""
        out = {k: np.mean([b.predict(x, num_threads=1) for b in bs], axis=0) for k, bs in self.boosters.items()}
        if self.base is not None:
            out["mean"] = out["mean"] + self.base.value(x, self.feature_names)
        if self.smearing is not None:
            out["mean"] = np.exp(out["mean"]) * self.smearing - 1.0
        for k, c in self.calibration.items():
            out[k] = np.expm1(np.log1p(np.maximum(out[k], 0.0)) + c)
        qs = [k for k in ("p10", "p50", "p90") if k in out]
        if qs:
            stacked = np.sort(np.column_stack([out[k] for k in qs]), axis=1)
            for i, k in enumerate(qs):
                out[k] = stacked[:, i]
        if "mean" in out and "p10" in out and "p90" in out:
            out["p10"], out["p90"] = range_holding(out["mean"], out["p10"], out["p90"])
        return {k: np.maximum(v, 0.0) for k, v in out.items()}


def range_holding(mean: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) stretched to hold ``mean`` where all three are known; elsewhere as given (a missing bound stays
    missing: no range is made up from the mean alone).

    >>> [v.tolist() for v in range_holding(np.array([5.0, 50.0, np.nan]), np.array([10.0, 40.0, 1.0]),
    ...                                    np.array([30.0, 45.0, 2.0]))]
    [[5.0, 40.0, 1.0], [30.0, 50.0, 2.0]]
    """
    m, lo, hi = (np.asarray(v, dtype=float) for v in (mean, lo, hi))
    known = np.isfinite(m)
    return np.where(known, np.minimum(lo, m), lo), np.where(known, np.maximum(hi, m), hi)


@dataclass(frozen=True)
class DampedBase:
    """Damped persistence from a row's features, the starting point of the ``mean`` booster (Profile.base).

    base = clim_tgt + a·(last − clim_now) where the last value is known, else clim_tgt, else ``fallback``.
    """

    a: float
    fallback: float
    clim_tgt: str
    clim_now: str
    last: str

    @classmethod
    def for_names(cls, names: Sequence[str]) -> tuple[str, str, str] | None:
        for cols in (("clim_tgt", "clim_now", "y_last"), ("climd_tgt", "climd_now", "yd_lag0")):
            if all(c in names for c in cols):
                return cols
        return None

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, names: Sequence[str]) -> DampedBase | None:
        cols = cls.for_names(names)
        if cols is None:
            return None
        ct, cn, last = (x[:, list(names).index(c)] for c in cols)
        anom, resp = last - cn, y - ct
        ok = np.isfinite(anom) & np.isfinite(resp)
        den = float(np.sum(anom[ok] ** 2))
        a = float(np.sum(anom[ok] * resp[ok]) / den) if den > 0 else 0.0  # least squares through the origin
        return cls(a, float(np.mean(y)), *cols)

    def value(self, x: np.ndarray, names: Sequence[str]) -> np.ndarray:
        n = list(names)
        ct, cn, last = x[:, n.index(self.clim_tgt)], x[:, n.index(self.clim_now)], x[:, n.index(self.last)]
        d = ct + self.a * (last - cn)
        return np.where(np.isfinite(d), d, np.where(np.isfinite(ct), ct, self.fallback))


def _station_categorical(names: Sequence[str]) -> list[int]:
    return [i for i, n in enumerate(names) if n == "station"]


def row_weights(y: np.ndarray, order: np.ndarray, profile: Profile, days_per_order: float = 1.0) -> np.ndarray | None:
    """Weights of the ``mean`` booster's training rows: recency 0.5^(age / half-life), age counted back from the
    latest row [d], times ``tail_weight`` for targets at or above the ``tail_quantile`` of ``y``; normalised to
    mean 1 so that the L2 leaf regularisation (a hessian sum) keeps its strength. None when both are off.

    >>> p = Profile("t", learning_rate=0.1, tail_weight=3.0, tail_quantile=0.5)
    >>> row_weights(np.array([10.0, 20.0, 30.0, 40.0]), np.arange(4.0), p).round(2).tolist()
    [0.5, 0.5, 1.5, 1.5]
    >>> recent = Profile("t", learning_rate=0.1, half_life_days=1.0)
    >>> row_weights(np.array([1.0, 2.0]), np.arange(2.0), recent).round(3).tolist()
    [0.667, 1.333]
    >>> row_weights(np.array([1.0, 2.0]), np.arange(2.0), Profile("t", learning_rate=0.1)) is None
    True
    """
    if not profile.half_life_days and profile.tail_weight == 1.0:
        return None
    weight = np.ones(y.size)
    if profile.half_life_days:
        weight *= 0.5 ** ((order.max() - order) * days_per_order / profile.half_life_days)
    if profile.tail_weight != 1.0:
        if not 0.0 < profile.tail_quantile < 1.0 or profile.tail_weight <= 0.0:
            raise ValueError(
                f"tail weight {profile.tail_weight} above quantile {profile.tail_quantile}: expected a weight > 0 "
                "and a quantile in (0, 1)"
            )
        weight *= np.where(y >= np.quantile(y, profile.tail_quantile), profile.tail_weight, 1.0)
    return weight / weight.mean()


@dataclass(frozen=True)
class _MeanTarget:
    """What the ``mean`` booster learns besides the features (Profile.transform, base, half_life_days, tail_weight)."""

    label: np.ndarray
    """y, or log(1 + y) (quantile boosters always learn y)."""
    base: DampedBase | None
    init: np.ndarray | None
    """Starting scores (the damped-persistence base of every row), or None."""
    weight: np.ndarray | None
    own_data: bool
    """The label, starting scores or weights differ from the quantile boosters': it needs a Dataset of its own."""


def _mean_target(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    profile: Profile,
    order: np.ndarray,
    tr: np.ndarray,
    days_per_order: float,
) -> _MeanTarget:
    """The ``mean`` booster's label, base (fitted on the learning rows ``tr`` when there are any) and weights."""
    base = None
    if profile.transform not in ("none", "log"):
        raise ValueError(f"transform {profile.transform!r}: expected 'none' or 'log'")
    if profile.base == "damped":
        if profile.transform != "none":
            raise ValueError("a damped-persistence base is a value in µg/m³: it cannot start a log-target booster")
        base = DampedBase.fit(x[tr], y[tr], names) if tr.any() else DampedBase.fit(x, y, names)
    init = base.value(x, names) if base is not None else None
    label = np.log1p(np.maximum(y, 0.0)) if profile.transform == "log" else y
    weight = row_weights(y, order, profile, days_per_order)
    return _MeanTarget(label, base, init, weight, init is not None or profile.transform != "none" or weight is not None)


def _split_datasets(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    cat: list[int],
    tr: np.ndarray,
    va: np.ndarray,
    mt: _MeanTarget,
) -> tuple[lgb.Dataset, lgb.Dataset, lgb.Dataset]:
    """(learning rows for the quantile boosters, learning rows for ``mean``, validation rows for ``mean``) of a
    time-ordered split: ``tr`` the earlier rows, ``va`` the later ones (forecast.md §3.4, never a random split)."""
    dtr = lgb.Dataset(x[tr], y[tr], feature_name=names, categorical_feature=cat, free_raw_data=False)
    if not mt.own_data:
        return dtr, dtr, lgb.Dataset(x[va], y[va], reference=dtr)
    init = mt.init
    dtr_m = lgb.Dataset(
        x[tr],
        mt.label[tr],
        feature_name=names,
        categorical_feature=cat,
        free_raw_data=False,
        init_score=None if init is None else init[tr],
        weight=None if mt.weight is None else mt.weight[tr],
    )
    dva = lgb.Dataset(x[va], mt.label[va], reference=dtr_m, init_score=None if init is None else init[va])
    return dtr, dtr_m, dva


def early_stopped(
    params: dict[str, object], train: lgb.Dataset, valid: lgb.Dataset, max_rounds: int, patience: int
) -> tuple[lgb.Booster, int]:
    """Boost up to ``max_rounds``, stopping once the metric on ``valid`` (the latest rows, forecast.md §3.4) has not
    improved for ``patience`` rounds; returns the booster and its best iteration (≥ 1)."""
    b = lgb.train(
        params,
        train,
        num_boost_round=max_rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )
    return b, int(b.best_iteration or max_rounds)


@dataclass(frozen=True)
class TunedSet:
    """Best iterations of one model set's boosters found by :func:`tune_model_set`."""

    horizon: str
    best: dict[str, int]
    """Booster (``mean``, ``p10``, ``p50``, ``p90``) → best iteration; empty when a side had too few rows."""
    n_train: int
    n_valid: int


TUNE_MIN_ROWS = 100
"""Rows each side of the split needs before rounds are tuned on it (d); a set with fewer keeps the profile's rounds."""


def tune_model_set(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    profile: Profile,
    *,
    horizon: str,
    order: np.ndarray,
    valid_from: float,
    patience: int,
    days_per_order: float = 1.0,
    quantiles: Sequence[float] = QUANTILES,
    seed: int = 0,
    min_rows: int = TUNE_MIN_ROWS,
    inputs: dict[str, object] | None = None,
    x_calibrate: np.ndarray | None = None,
) -> TunedSet:
    """Best iterations of a set's ``mean`` and quantile boosters by time-ordered early stopping (forecast.md §3.4,
    the quarterly tuning run): they learn on the rows whose ``order`` is before ``valid_from`` and stop on the rows
    from it on, never a random split, with the labels, base, weights and parameters of :func:`fit_model_set` and at
    most the profile's rounds (``rounds_mean``, ``rounds_quantile``).

    Its keywords are those :func:`train_hourly` and :func:`train_daily` pass to ``fit_set``, so that it can stand in
    for :func:`fit_model_set` there and tune on exactly the rows the nightly training samples; ``inputs`` and
    ``x_calibrate`` are ignored (the quantiles are tuned on the inputs they learn from).
    """
    ok = np.isfinite(y)
    x, y, order = x[ok], y[ok], order[ok]
    tr, va = order < valid_from, order >= valid_from
    n_tr, n_va = int(tr.sum()), int(va.sum())
    if n_tr < min_rows or n_va < min_rows:
        return TunedSet(horizon, {}, n_tr, n_va)
    cat = _station_categorical(names)
    mt = _mean_target(x, y, names, profile, order, tr, days_per_order)
    dtr, dtr_m, dva = _split_datasets(x, y, names, cat, tr, va, mt)
    best = {"mean": early_stopped(profile.mean_params(seed), dtr_m, dva, profile.rounds_mean, patience)[1]}
    for q in quantiles:
        dq = lgb.Dataset(x[va], y[va], reference=dtr)
        params = profile.params("quantile", alpha=q, seed=seed)
        best[f"p{round(q * 100):d}"] = early_stopped(params, dtr, dq, profile.rounds_quantile, patience)[1]
    return TunedSet(horizon, best, n_tr, n_va)


def fit_model_set(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    profile: Profile,
    *,
    horizon: str,
    order: np.ndarray | None = None,
    days_per_order: float = 1.0,
    quantiles: Sequence[float] = QUANTILES,
    seed: int = 0,
    inputs: dict[str, object] | None = None,
    x_calibrate: np.ndarray | None = None,
) -> ModelSet:
    """Fit ``mean`` (L2) and quantile boosters on rows with a finite target.

    ``order`` (e.g. target time) orders rows for the time-ordered early-stopping split of the ``reference``
    profile; it is never a random split (forecast.md §3.4). ``x_calibrate`` (same rows and columns as ``x``): the
    inputs the quantiles are calibrated on, when the forecasts will be issued from other inputs than the model
    learnt on (weather forecasts with their error instead of the observed weather, forecast.md §3.9); None: ``x``.
    """
    if x_calibrate is not None and x_calibrate.shape != x.shape:
        raise ValueError(f"x_calibrate has shape {x_calibrate.shape}, x {x.shape}: they must be the same rows")
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    xc = x if x_calibrate is None else x_calibrate[ok]
    order = order[ok] if order is not None else np.arange(y.size, dtype=float)
    cat = _station_categorical(names)
    rounds = profile.rounds_mean
    best = valid_rmse = None
    cut = np.quantile(order, 1 - profile.valid_fraction) if y.size > 200 else np.inf
    tr, va = order < cut, order >= cut
    mt = _mean_target(x, y, names, profile, order, tr, days_per_order)
    base, init, ym, weight, own_mean_data = mt.base, mt.init, mt.label, mt.weight, mt.own_data
    dtr = None
    smearing = None
    if profile.early_stopping and va.any():
        dtr, dtr_m, dva = _split_datasets(x, y, names, cat, tr, va, mt)
        b, best = early_stopped(profile.mean_params(seed), dtr_m, dva, profile.rounds_mean, profile.early_stopping)
        valid_rmse = float(b.best_score["valid_0"]["l2"]) ** 0.5
        rounds = max(50, round(1.1 * best))
        if profile.transform == "log":
            smearing = float(np.mean(np.exp(ym[va] - b.predict(x[va], num_iteration=best, num_threads=1))))
    if base is not None:
        base = DampedBase.fit(x, y, names)  # refit a on all rows, like the boosters
        init = base.value(x, names) if base is not None else None
    data = lgb.Dataset(
        x, ym, feature_name=names, categorical_feature=cat, free_raw_data=False, init_score=init, weight=weight
    )
    boosters: dict[str, list[lgb.Booster]] = {
        "mean": [lgb.train(profile.mean_params(seed + i), data, num_boost_round=rounds) for i in range(profile.n_seeds)]
    }
    if profile.transform == "log" and smearing is None:  # no out-of-sample tail: the training residuals
        fit = np.mean([b.predict(x, num_threads=1) for b in boosters["mean"]], axis=0)
        smearing = float(np.mean(np.exp(ym - fit)))
    # Quantile models learn on the earlier rows and are calibrated on the later ones (split conformal, in log
    # space): raw GBM quantiles are too narrow out of sample. Without an early-stopping split the earlier rows
    # are a subset of the binned ``data`` (one binning pass per set, not two).
    if dtr is not None:
        qdata = dtr
    elif own_mean_data:
        rows = np.flatnonzero(tr) if va.any() else np.arange(y.size)
        qdata = lgb.Dataset(x[rows], y[rows], feature_name=names, categorical_feature=cat, free_raw_data=False)
    elif not va.any():
        qdata = data
    else:
        qdata = data.subset(np.flatnonzero(tr))
    calibration: dict[str, float] = {}
    for q in quantiles:
        key = f"p{round(q * 100):d}"
        b = lgb.train(profile.params("quantile", alpha=q, seed=seed), qdata, num_boost_round=profile.rounds_quantile)
        boosters[key] = [b]
        if va.any() and tr.any():
            pred = np.maximum(b.predict(xc[va], num_threads=1), 0.0)
            calibration[key] = float(np.quantile(np.log1p(np.maximum(y[va], 0.0)) - np.log1p(pred), q))
    rec = dict(inputs or {})
    rec.update(
        {
            "n_rows": int(y.size),
            "rounds_mean": rounds,
            "best_iteration": best,
            "valid_rmse": valid_rmse,
            "profile": profile.name,
            "quantile_calibration": calibration,
        }
    )
    rec["damped_base_a"] = base.a if base is not None else None
    rec["transform"] = profile.transform
    rec["smearing"] = smearing
    return ModelSet(horizon, boosters, list(names), rec, calibration, base, smearing)


def _with_station(x: np.ndarray, names: list[str], s: np.ndarray) -> tuple[np.ndarray, list[str]]:
    return np.column_stack([x, s.astype(float)]), [*names, "station"]


def _sample(rng: np.random.Generator, n: int, cap: int) -> np.ndarray:
    return np.sort(rng.choice(n, size=cap, replace=False)) if n > cap else np.arange(n)


def _inputs(ctx: FeatureContext, weather_mode: str, names: list[str]) -> dict[str, object]:
    return {
        "weather_mode": weather_mode,
        "neighbours": bool(ctx.neighbours is not None and (ctx.neighbours >= 0).any()),
        "observed_weather": list(ctx.weather_vars),
        "features": names,
    }


# --------------------------------------------------------------------------------------------------------------
# Hourly
# --------------------------------------------------------------------------------------------------------------


def hourly_training_rows(
    ctx: FeatureContext,
    block: tuple[int, int],
    *,
    train_start: int,
    train_end: int,
    max_rows: int,
    seed: int = 0,
    stations: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(station, origin, lead) rows whose target lies in [train_start, train_end] and is valid.

    Origins are sampled with a fixed seed down to ``max_rows`` (forecast.md §3.4).
    """
    rng = np.random.default_rng(seed + 1000 * block[0] + block[1])
    y = ctx.panel.data[ctx.target]
    idx = np.arange(y.shape[0]) if stations is None else np.asarray(stations)
    lo, hi = block
    s_all, t_all = [], []
    for i in idx:
        t = np.arange(max(train_start - lo, 0), train_end - lo + 1)
        s_all.append(np.full(t.size, i))
        t_all.append(t)
    s = np.concatenate(s_all)
    t = np.concatenate(t_all)
    lead = rng.integers(lo, hi + 1, size=t.size)
    tgt = t + lead
    ok = (tgt >= train_start) & (tgt <= train_end) & np.isfinite(y[s, np.clip(tgt, 0, y.shape[1] - 1)])
    s, t, lead = s[ok], t[ok], lead[ok]
    keep = _sample(rng, s.size, max_rows)
    return s[keep], t[keep], lead[keep]


def train_hourly(
    ctx: FeatureContext,
    *,
    train_start: int,
    train_end: int,
    blocks: Sequence[tuple[int, int]] = HOURLY_BLOCKS,
    profile: Profile = FAST,
    weather_mode: str = "none",
    future: SeriesCache | None = None,
    future_vars: Sequence[str] = (),
    quantiles: Sequence[float] = QUANTILES,
    seed: int = 0,
    stations: Sequence[int] | None = None,
    fit_set: Callable[..., Any] | None = None,
) -> dict[tuple[int, int], ModelSet]:
    """Train one model set per lead block on targets in [train_start, train_end] (hour positions).

    ``fit_set`` replaces :func:`fit_model_set` on each block's rows, with its arguments (e.g. its own rounds per set,
    or :func:`tune_model_set` for the quarterly tuning, forecast.md §3.4); the values are then what it returns."""
    _check_mode(weather_mode, future)
    fit = fit_set or fit_model_set
    out = {}
    for block in blocks:
        s, t, lead = hourly_training_rows(
            ctx,
            block,
            train_start=train_start,
            train_end=train_end,
            max_rows=profile.max_rows,
            seed=seed,
            stations=stations,
        )
        x, names = hourly_features(ctx, s, t, lead, future=future, future_vars=future_vars)
        x, names = _with_station(x, names, s)
        y = ctx.cache.at(ctx.target, s, t + lead)
        out[block] = fit(
            x,
            y,
            names,
            profile,
            horizon=f"{block[0]}-{block[1]}h",
            order=t + lead,
            days_per_order=1 / 24,
            quantiles=quantiles,
            seed=seed,
            inputs=_inputs(ctx, weather_mode, names),
        )
    return out


def predict_hourly(
    models: dict[tuple[int, int], ModelSet],
    ctx: FeatureContext,
    s: np.ndarray,
    t: np.ndarray,
    lead: int,
    *,
    future: SeriesCache | None = None,
    future_vars: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """Forecast ``lead`` hours ahead from issue positions ``t`` of stations ``s`` with the covering block."""
    block = next((b for b in models if b[0] <= lead <= b[1]), None)
    if block is None:
        raise KeyError(f"no model block covers lead {lead} h; blocks: {sorted(models)}")
    x, names = hourly_features(ctx, s, t, np.full(t.shape, lead), future=future, future_vars=future_vars)
    x, names = _with_station(x, names, s)
    _check_names(models[block], names)
    return models[block].predict(x)


def seam_weights(
    lead: int, blocks: Sequence[tuple[int, int]], hours: int = SEAM_HOURS
) -> list[tuple[tuple[int, int], float]]:
    """The blocks whose models forecast ``lead`` and their weights: the covering block alone or, in the first
    leads after a border, the covering block faded in from the block before it.

    After the border between A = (a0, b) and B = (b + 1, b1) the first n = min(``hours``, |A|, |B| // 2) leads of
    B blend A's forecast in: lead b + k (k = 1..n) takes B with weight k / (n + 1), so the curve leaves A's last
    lead with a step of 1/(n + 1) of the two sets' difference. Every lead up to b stays A's alone: the block ends
    (6, 24, 48 h) are the deployment gate's horizons and 24 h a goal horizon (forecast.md §3.4, §8), and the later
    set is the weaker one near its start (bench/hourly_seams.py). A single-lead block (1 h) is never faded in. A's
    model forecasts a lead beyond its block with the lead feature past its training range, which its trees read as
    their last lead, and the target hour's own calendar and climatology.

    >>> seam_weights(25, ((7, 24), (25, 48)))
    [((7, 24), 0.8571428571428572), ((25, 48), 0.14285714285714285)]
    >>> seam_weights(24, ((7, 24), (25, 48))), seam_weights(2, ((1, 1), (2, 6)))
    ([((7, 24), 1.0)], [((2, 6), 1.0)])

    Raises
    ------
    KeyError
        when no block covers ``lead``.
    """
    ordered = sorted(blocks)
    i = next((k for k, b in enumerate(ordered) if b[0] <= lead <= b[1]), None)
    if i is None:
        raise KeyError(f"no model block covers lead {lead} h; blocks: {ordered}")
    own = ordered[i]
    if i > 0 and ordered[i - 1][1] + 1 == own[0]:  # a block just before, meeting this one
        before = ordered[i - 1]
        width = before[1] - before[0] + 1
        n = min(hours, width, (own[1] - own[0] + 1) // 2) if width > 1 else 0
        k = lead - before[1]
        if k <= n:
            return [(before, 1.0 - k / (n + 1)), (own, k / (n + 1))]
    return [(own, 1.0)]


def predict_hourly_leads(
    models: dict[tuple[int, int], ModelSet],
    ctx: FeatureContext,
    s: np.ndarray,
    t_issue: int,
    leads: Sequence[int],
    *,
    future: SeriesCache | None = None,
    future_vars: Sequence[str] = (),
    seam_hours: int = 0,
) -> dict[str, np.ndarray]:
    """Forecasts of stations ``s`` from one issue position at every lead of ``leads``: arrays (stations, leads).

    What :func:`predict_hourly` gives lead by lead, with one feature build and one prediction per model block
    instead of one per lead (the state at the issue is the same for every lead; the rows differ only in the lead
    and the target hour's features), so a 72-hour refresh makes 5 LightGBM calls per item, not 72. With
    ``seam_hours`` > 0 the first leads after a border between blocks blend in the earlier block's forecast
    (:func:`seam_weights`; 0: the covering block alone, exactly :func:`predict_hourly`)."""
    leads_a = np.asarray(leads, dtype=int)
    by_block: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for j, lead in enumerate(leads_a):
        for block, weight in seam_weights(int(lead), list(models), seam_hours):
            by_block.setdefault(block, []).append((j, weight))
    acc: dict[str, np.ndarray] = {}
    weights: dict[str, np.ndarray] = {}
    for block, cols_w in by_block.items():
        cols = [j for j, _ in cols_w]
        weight = np.array([w for _, w in cols_w])
        ls = leads_a[cols]
        rows = np.repeat(s, ls.size)  # station-major: row r is station r // n, lead r % n
        x, names = hourly_features(
            ctx, rows, np.full(rows.size, t_issue), np.tile(ls, s.size), future=future, future_vars=future_vars
        )
        x, names = _with_station(x, names, rows)
        _check_names(models[block], names)
        for key, v in models[block].predict(x).items():
            acc.setdefault(key, np.zeros((s.size, leads_a.size)))[:, cols] += v.reshape(s.size, ls.size) * weight
            weights.setdefault(key, np.zeros(leads_a.size))[cols] += weight
    # a lead whose blocks lack an output (a set without quantiles) gets it from the others, or NaN from none
    with np.errstate(invalid="ignore", divide="ignore"):
        return {k: np.where(weights[k] > 0, v / weights[k], np.nan) for k, v in acc.items()}


NEXT_DAY_MIN_HOURS = 20
"""Valid hours a next-24-hour mean needs to be a training target, as a daily mean does (HJ 663: 20 h a day)."""


def train_next_day_mean(
    ctx: FeatureContext,
    *,
    train_start: int,
    train_end: int,
    profile: Profile = FAST,
    weather_mode: str = "none",
    future: SeriesCache | None = None,
    future_vars: Sequence[str] = (),
    seed: int = 0,
    stations: Sequence[int] | None = None,
) -> ModelSet:
    """One ``mean`` booster for the mean of the next 24 hours, (t, t + 24], issued at any hour t.

    Issued at the daily issue hour (23 h Beijing) this is the next day's mean, the daily D+1 target; trained from
    every issue hour it has 24 rows per station-day where the daily D+1 model has one, with the hourly model's
    inputs (state at t, the target hour's calendar and climatology, the issue hour). Rows are targets inside
    [train_start, train_end] (hour positions) with at least :data:`NEXT_DAY_MIN_HOURS` valid hours."""
    _check_mode(weather_mode, future)
    y = ctx.panel.data[ctx.target]
    idx = np.arange(y.shape[0]) if stations is None else np.asarray(stations)
    t_all = np.arange(max(train_start - 1, 0), train_end - 24 + 1)
    s = np.repeat(idx, t_all.size)
    t = np.tile(t_all, idx.size)
    target = ctx.cache.span_stats(ctx.target, s, t, t + 24, NEXT_DAY_MIN_HOURS)[0]
    ok = np.isfinite(target)
    s, t, target = s[ok], t[ok], target[ok]
    keep = _sample(np.random.default_rng(seed + 2424), s.size, profile.max_rows)
    s, t, target = s[keep], t[keep], target[keep]
    lead = np.full(t.shape, 24)
    x, names = hourly_features(ctx, s, t, lead, future=future, future_vars=future_vars)
    x, names = _with_station(x, names, s)
    return fit_model_set(
        x,
        target,
        names,
        profile,
        horizon="next24h",
        order=(t + 24).astype(float),
        days_per_order=1 / 24,
        quantiles=(),
        seed=seed,
        inputs=_inputs(ctx, weather_mode, names),
    )


def predict_next_day_mean(
    model: ModelSet,
    ctx: FeatureContext,
    s: np.ndarray,
    t: np.ndarray,
    *,
    future: SeriesCache | None = None,
    future_vars: Sequence[str] = (),
) -> np.ndarray:
    """Mean of (t, t + 24] from issue positions ``t`` of stations ``s`` (:func:`train_next_day_mean`)."""
    x, names = hourly_features(ctx, s, t, np.full(t.shape, 24), future=future, future_vars=future_vars)
    x, names = _with_station(x, names, s)
    _check_names(model, names)
    return model.predict(x)["mean"]


# --------------------------------------------------------------------------------------------------------------
# Daily
# --------------------------------------------------------------------------------------------------------------


def train_daily(
    ctx: FeatureContext,
    daily: DailyCache,
    *,
    train_start_day: int,
    train_end_day: int,
    horizons: Sequence[int] = tuple(range(1, 8)),
    profile: Profile = FAST,
    weather_mode: str = "none",
    future: DailyCache | None = None,
    issue_hour: int = 23,
    quantiles: Sequence[float] = QUANTILES,
    seed: int = 0,
    stations: Sequence[int] | None = None,
    calibrate_future: DailyCache | None = None,
    fit_set: Callable[..., Any] | None = None,
) -> dict[int, ModelSet]:
    """Train one model set per daily horizon D+k on target days in [train_start_day, train_end_day].

    ``calibrate_future``: the weather the quantiles are calibrated on, when it differs from the weather the models
    learn on (``future``). A model learnt on observed weather and run on forecasts with their error must widen its
    intervals by that error, and split conformal calibration (:func:`fit_model_set`) does so when its held-out
    rows carry the forecasts (forecast.md §3.9, mode ``noisy_proxy``). ``fit_set``: as in :func:`train_hourly`.
    """
    _check_mode(weather_mode, future)
    fit = fit_set or fit_model_set
    ymat = daily.mean[ctx.target]
    idx = np.arange(ymat.shape[0]) if stations is None else np.asarray(stations)
    out = {}
    # The issue-day features do not depend on k: build them once on the (station, issue day) grid of all
    # horizons and let every D+k set take its rows from it.
    g0 = max(train_start_day - max(horizons), 0)
    g1 = train_end_day - min(horizons)
    n_g = max(g1 - g0 + 1, 0)
    grid = daily_issue_features(
        ctx, daily, np.repeat(idx, n_g), np.tile(np.arange(g0, g1 + 1), idx.size), issue_hour=issue_hour
    )
    pos = np.full(ymat.shape[0], -1)
    pos[idx] = np.arange(idx.size)
    for k in horizons:
        rng = np.random.default_rng(seed + 7 * k)
        days = np.arange(max(train_start_day - k, 0), train_end_day - k + 1)
        s = np.repeat(idx, days.size)
        d = np.tile(days, idx.size)
        ok = np.isfinite(ymat[s, d + k])
        s, d = s[ok], d[ok]
        keep = _sample(rng, s.size, profile.max_rows)
        s, d = s[keep], d[keep]
        rows = pos[s] * n_g + (d - g0)
        issue = {name: v[rows] for name, v in grid.items()}
        x, names = daily_features(ctx, daily, s, d, k, issue_hour=issue_hour, future=future, issue=issue)
        x, names = _with_station(x, names, s)
        xc = None
        if calibrate_future is not None:
            xc, _ = daily_features(ctx, daily, s, d, k, issue_hour=issue_hour, future=calibrate_future, issue=issue)
            xc = _with_station(xc, names, s)[0]
        out[k] = fit(
            x,
            ymat[s, d + k],
            names,
            profile,
            horizon=f"D+{k}",
            order=(d + k).astype(float),
            quantiles=quantiles,
            seed=seed,
            inputs=_inputs(ctx, weather_mode, names),
            x_calibrate=xc,
        )
    return out


def predict_daily(
    models: dict[int, ModelSet],
    ctx: FeatureContext,
    daily: DailyCache,
    s: np.ndarray,
    day: np.ndarray,
    k: int,
    *,
    future: DailyCache | None = None,
    issue_hour: int = 23,
) -> dict[str, np.ndarray]:
    """Forecast the daily mean of ``day + k`` issued at ``issue_hour`` (Beijing) of ``day``."""
    x, names = daily_features(ctx, daily, s, day, k, issue_hour=issue_hour, future=future)
    x, names = _with_station(x, names, s)
    _check_names(models[k], names)
    return models[k].predict(x)


def _check_mode(weather_mode: str, future: object) -> None:
    if weather_mode not in WEATHER_MODES:
        raise ValueError(f"weather_mode must be one of {WEATHER_MODES}, not {weather_mode!r}")
    if (weather_mode == "none") != (future is None):
        raise ValueError(f"weather_mode {weather_mode!r} and the future-weather input disagree")


def _check_names(ms: ModelSet, names: list[str]) -> None:
    if names != ms.feature_names:
        raise ValueError(
            f"features differ from those the {ms.horizon} model was trained with "
            f"(weather mode {ms.inputs.get('weather_mode')!r}); retrain or pass the same inputs"
        )


def exceedance_probability(
    p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, threshold: float, floor: float = 1.0
) -> np.ndarray:
    """P(X > threshold) from the lognormal quantile function of forecast.md §3.5.

    q(u) = exp(ln q50 + σ·Φ⁻¹(u)), σ = ln(q90/q50)/1.2816 above the median and ln(q50/q10)/1.2816 below;
    concentrations are floored at ``floor``, the item's :func:`bogda.forecast.scenarios.concentration_floor`
    (1 µg/m³; 0.1 mg/m³ for CO).

    >>> float(exceedance_probability(np.array([50.0]), np.array([100.0]), np.array([200.0]), 100.0)[0])
    0.5
    >>> round(float(exceedance_probability(np.array([50.0]), np.array([100.0]), np.array([200.0]), 200.0)[0]), 3)
    0.1
    """
    from scipy.special import ndtr

    q10, q50, q90 = (np.maximum(np.asarray(v, dtype=float), floor) for v in (p10, p50, p90))
    z_up = np.log(threshold / q50)
    sig = np.where(z_up >= 0, np.log(q90 / q50), np.log(q50 / q10)) / 1.2816
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sig > 0, z_up / np.where(sig > 0, sig, 1.0), np.where(z_up >= 0, np.inf, -np.inf))
    return 1.0 - ndtr(z)
