"""Days-avoided validation: placebo in time and in space, calibration, injection and the verdict (forecast.md §3.9
step 5)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from bogda.forecast.avoided.counterfactual import Counterfactual, Estimate, estimate, log_target
from bogda.forecast.avoided.inputs import FeatureTable, n_complete, tables_between
from bogda.forecast.avoided.params import AvoidedParams


@dataclass(frozen=True)
class Check:
    """One validation check: passed or not, with the numbers it was judged on."""

    name: str
    passed: bool
    detail: dict[str, Any] = field(default_factory=dict)


def placebo_check(est: Estimate, params: AvoidedParams, name: str = "placebo_time") -> Check:
    """Placebo on a window without intervention: |avoided| ≤ 3 days per year and 0 inside the 90 % interval.

    The allowance scales with the window's length in years (a year = 365 days, at least one).
    """
    years = max(1.0, est.n_days / 365.0)
    ok = abs(est.avoided_median) <= params.placebo_max_days * years and est.ci90[0] <= 0.0 <= est.ci90[1]
    return Check(name, bool(ok), {"avoided": est.avoided_median, "ci90": list(est.ci90), "n_days": est.n_days})


MIN_REFERENCE_DAYS = 365
"""Complete days a reference window needs (forecast.md §5 minimum history): the target's, and a control's to play
the target in the placebo in space."""


def placebo_space_checks(
    control_tables: Mapping[str, FeatureTable] | Mapping[str, Mapping[str, FeatureTable]],
    reference: tuple[date, date],
    window: tuple[date, date],
    params: AvoidedParams,
    run: Callable[[Any, Any], Estimate],
) -> list[Check]:
    """Placebo in space (§3.9 step 5 "placebo in space on control stations (same criteria)"): each control station
    treated as if it were the target — fitted on the reference window, evaluated over the intervention window —
    and judged by :func:`placebo_check` (|avoided| ≤ 3 days per year, 0 inside the 90 % interval).

    One code path for every event: ``control_tables`` maps a control's code to its :class:`FeatureTable` (one
    pollutant) or to its tables per AQI item, and ``run(reference_part, window_part)`` fits that kind of
    counterfactual and returns its :class:`Estimate`. The measures act inside the footprint only, so a control must
    find nothing; one that does (a control inside the footprint, or a model that invents effects) fails the
    method. A control with fewer than :data:`MIN_REFERENCE_DAYS` complete reference days or none in the window
    fails as well: it cannot be judged, and an unjudged control must not pass for a clean one.

    Returns
    -------
    One check ``placebo_space_<code>`` per control, in the order given.
    """
    checks = []
    for code, tables in control_tables.items():
        name = f"placebo_space_{code}"
        cref, cwin = tables_between(tables, reference), tables_between(tables, window)
        if n_complete(cref) < MIN_REFERENCE_DAYS or not n_complete(cwin):
            checks.append(Check(name, False, {"reason": "too few complete days at the control"}))
            continue
        checks.append(placebo_check(run(cref, cwin), params, name))
    return checks


def placebo_time_checks(
    placebo_windows: Sequence[tuple[date, date]],
    params: AvoidedParams,
    *,
    cut: Callable[[tuple[date, date]], tuple[Any, Any]],
    fit: Callable[[Any, Any], Any],
    run: Callable[[Any], Estimate],
    inject: Callable[[Any], Check],
) -> list[Check]:
    """Placebo in time (§3.9 step 5 "placebo in time on ≥ 2 non-intervention years", with the calibration of each
    year and the injection on the last): one loop for one pollutant and for the AQI events.

    Each placebo year is cut out by ``cut(span) -> (train, evaluation)`` (the reference days outside the year, and
    the year's own days), fitted by ``fit(train, evaluation)`` into a counterfactual, estimated by ``run(cf)`` and
    judged by :func:`placebo_check` (|avoided| ≤ 3 days per year, 0 inside the 90 % interval) and
    :func:`calibration_check` (BSS ≥ 0.6). ``inject(cf)`` is the injection test of that kind of counterfactual
    (:func:`injection_test` or :func:`injection_test_aqi`), run on the last year's. Fewer than 2 years → a failed
    ``placebo_time`` check first: the method cannot be validated in time.

    Returns
    -------
    ``placebo_time_<YYYYMMDD>`` and ``calibration_<YYYYMMDD>`` per year in the order given, then ``injection``.
    """
    checks: list[Check] = []
    if len(placebo_windows) < 2:
        checks.append(Check("placebo_time", False, {"reason": f"{len(placebo_windows)} placebo year(s), need ≥ 2"}))
    last = None
    for span in placebo_windows:
        cf = fit(*cut(span))
        pe = run(cf)
        checks.append(placebo_check(pe, params, f"placebo_time_{span[0]:%Y%m%d}"))
        checks.append(replace(calibration_check(pe, params), name=f"calibration_{span[0]:%Y%m%d}"))
        last = cf
    if last is not None:
        checks.append(inject(last))
    return checks


def space_not_run(placebo: Mapping[str, Any], ran: bool) -> dict[str, Any]:
    """The record's placebo part, marked ``placebo_space: not run`` when there was no control to play the target
    (a single control, or none), so that a reader tells "not run" from "passed"."""
    return dict(placebo) if ran else {**placebo, "placebo_space": {"passed": None, "not_run": True}}


def as_targets(controls: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Each control with the other controls as its own, for the placebo in space; none below 2 controls (a lone
    control would play the target without any control of its own: a weather-only model, not the same method).

    >>> as_targets(["C1", "C2", "C3"])[1]
    ('C2', ['C1', 'C3'])
    >>> as_targets(["C1"])
    []
    """
    if len(controls) < 2:
        return []
    return [(c, [o for o in controls if o != c]) for c in controls]


def sensitivity_variants(report: Mapping[str, Any]) -> dict[str, float]:
    """The judged variants of a :func:`~bogda.forecast.avoided.evaluation.sensitivity` report, by name
    (``window:<trim>``, ``trend_on``, ``without <code>``): every reference window alone, the trend input on, and
    each control set that keeps at least one control. A variant that leaves the last control out is a weather-only
    model (``report["weather_only"]``): another method with its own label, whose bias the placebo in time already
    shows (§8 check 5: +16 and +7 days without Dingling), so it is reported, not judged.

    >>> sensitivity_variants({"windows": {"0": 1.0}, "trend_on": 2.0,
    ...                       "control_sets": {"without A": 3.0, "without B": 9.0}, "weather_only": ["without B"]})
    {'window:0': 1.0, 'trend_on': 2.0, 'without A': 3.0}
    """
    out = {f"window:{trim}": float(v) for trim, v in report["windows"].items()}
    out["trend_on"] = float(report["trend_on"])
    skip = set(report.get("weather_only", ()))
    out.update({name: float(v) for name, v in report["control_sets"].items() if name not in skip})
    return out


def sensitivity_check(est: Estimate, report: Mapping[str, Any]) -> Check:
    """§3.9 step 5 "sensitivity (spread over windows, trend on/off, control sets)", judged (d): every variant's
    avoided days (Monte Carlo median, :func:`sensitivity_variants`) must lie inside the main estimate's 90 %
    interval, bounds included. A reasonable other choice of window, trend or controls must not give an answer the
    main evaluation itself calls implausible; when one does, the figure depends on that choice more than on the
    data, and the method fails (§3.9 step 5 "any failure → ``method_failed_validation``").

    The check's detail is the report itself plus ``ci90`` (the interval judged against), ``judged`` (the variants'
    names) and ``outside`` (those outside it), so that ``placebo["sensitivity"]`` keeps every figure it had.
    """
    lo, hi = (float(v) for v in est.ci90)
    variants = sensitivity_variants(report)
    outside = [name for name, v in variants.items() if not lo <= v <= hi]
    detail = {**report, "ci90": [lo, hi], "judged": list(variants), "outside": outside}
    return Check("sensitivity", not outside, detail)


def calibration_check(est: Estimate, params: AvoidedParams) -> Check:
    """Heavy-day Brier skill score ≥ ``params.min_bss`` (0.6); the reliability table is kept for display."""
    ok = est.bss is not None and est.bss >= params.min_bss
    return Check("calibration", bool(ok), {"bss": est.bss, "reliability": est.reliability})


def injection_days(cf: Counterfactual, params: AvoidedParams, seed: int | None = None) -> np.ndarray:
    """Indices of ``params.injection_days`` winter days (months ``injection_months``) drawn at random, sorted.

    Event days are drawn first: a cut on a clean day cannot avoid an event, so injecting only there would test
    nothing. Other winter days fill up when there are too few event days.

    >>> cf = Counterfactual(np.arange(np.datetime64("2016-11-25"), np.datetime64("2016-12-05")),
    ...     np.array([200.0, 50, 50, 50, 50, 50, 50, 160, 50, 50]), np.zeros((1, 10)), np.zeros(5), 0.3, 0.1, "")
    >>> injection_days(cf, AvoidedParams(injection_days=3))[:2].tolist()  # the December event day comes first
    [6, 7]
    """
    months = np.array([d.month for d in cf.dates.astype(object)])
    winter = np.isin(months, params.injection_months)
    event = cf.observed > params.threshold
    rng = np.random.default_rng(params.rng_seed + 1 if seed is None else seed)
    # a window without enough winter days (a summer episode) is filled with its other days, events first
    order = [rng.permutation(np.flatnonzero(m)) for m in (winter & event, winter & ~event, ~winter & event)]
    order.append(rng.permutation(np.flatnonzero(~winter & ~event)))
    return np.sort(np.concatenate(order)[: params.injection_days])


def injection_test(cf: Counterfactual, params: AvoidedParams, days: np.ndarray | None = None) -> Check:
    """Injection (§3.9 step 5): multiply the observations by (1 − r) on chosen days and recover the effect.

    Against the uninjected run, the recovered days (difference of the avoided medians) must be within
    ±``injection_tol_days`` of the true change in event days and the recovered r (1 − exp of the mean change of the
    log residual on the injected days) within ±``injection_tol_r``. These two are exact unless the counterfactual
    depends on the target's own observations (a lagged target would leak the cut into the baseline). The window
    is one without intervention, so the truth of the injected run is the injected change alone: it must lie inside
    the injected run's 90 % interval, which fails when the counterfactual is biased.
    """
    idx = injection_days(cf, params) if days is None else np.asarray(days)
    r = params.injection_r
    injected = cf.observed.copy()
    injected[idx] = injected[idx] * (1.0 - r)
    base = estimate(cf, params)
    inj = estimate(cf, params, observed=injected)
    true_days = base.n_obs - inj.n_obs
    recovered = inj.avoided_median - base.avoided_median
    mu = cf.mu[idx]
    r_hat = 1.0 - math.exp(float(np.mean((log_target(injected[idx]) - mu) - (log_target(cf.observed[idx]) - mu))))
    truth = float(true_days)
    ok_days = abs(recovered - true_days) <= params.injection_tol_days
    ok_r = abs(r_hat - r) <= params.injection_tol_r
    ok_ci = inj.ci90[0] <= truth <= inj.ci90[1]
    return Check(
        "injection",
        bool(ok_days and ok_r and ok_ci),
        {
            "r": r,
            "r_recovered": r_hat,
            "days": [str(d) for d in cf.dates[idx]],
            "true_days": true_days,
            "recovered_days": recovered,
            "truth": truth,
            "ci90": list(inj.ci90),
        },
    )


def verdict(est: Estimate, checks: Sequence[Check]) -> str:
    """``method_failed_validation`` if any check failed; else ``effect_detected`` only when the 5 % bound of
    avoided days is above 0, otherwise ``no_detectable_effect`` (§3.9 steps 4–5).

    A weather-only run (no control) can still carry a verdict but keeps its ``weather_only_unvalidated`` label.
    """
    if any(not c.passed for c in checks):
        return "method_failed_validation"
    return "effect_detected" if est.ci90[0] > 0.0 else "no_detectable_effect"
