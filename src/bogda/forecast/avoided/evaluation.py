"""Days-avoided evaluations: estimate plus validation for one pollutant or an AQI event, the sensitivity report,
and the evaluations read from the stored observations (forecast.md §3.9 steps 4–5)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from bogda.forecast.avoided.aqi import (
    AQI_ITEMS,
    EVENT_HEAVY,
    EVENT_OZONE,
    OPTIONAL_AQI_ITEMS,
    AqiCounterfactual,
    dust_summary,
    estimate_aqi,
    fit_aqi_counterfactual,
    injection_test_aqi,
)
from bogda.forecast.avoided.checks import (
    MIN_REFERENCE_DAYS,
    Check,
    as_targets,
    injection_test,
    placebo_space_checks,
    placebo_time_checks,
    sensitivity_check,
    space_not_run,
)
from bogda.forecast.avoided.counterfactual import Counterfactual, Estimate, estimate, fit_counterfactual
from bogda.forecast.avoided.inputs import (
    FeatureTable,
    feature_table,
    hourly_from_store,
    join_nwp,
    n_complete,
    nwp_record,
    stored_nwp,
    tables_between,
)
from bogda.forecast.avoided.params import LABEL_WEATHER_ONLY, AvoidedParams
from bogda.forecast.avoided.records import InterventionResult, result_record

if TYPE_CHECKING:
    from bogda.store import Store


def _outside(table: FeatureTable, span: tuple[date, date]) -> FeatureTable:
    d = table.dates
    return table.select((d < np.datetime64(span[0], "D")) | (d > np.datetime64(span[1], "D")))


def evaluate_intervention(
    table: FeatureTable,
    window: tuple[date, date],
    reference: tuple[date, date],
    placebo_windows: Sequence[tuple[date, date]],
    params: AvoidedParams,
    *,
    control_tables: Mapping[str, FeatureTable] | None = None,
    targets: Sequence[str] = (),
    controls: Sequence[str] = (),
    label: str = "",
    pollutant: str = "a34004",
    with_sensitivity: bool = False,
) -> tuple[Estimate, tuple[Check, ...], InterventionResult]:
    """Days avoided by an intervention over ``window``, validated before it is shown (§3.9 steps 2–5).

    Parameters
    ----------
    table
        The target's daily inputs (:func:`feature_table`).
    window
        The intervention's days (inclusive).
    reference
        The reference window the counterfactual is fitted on (no intervention in it; the same season of the
        previous 2–3 years, or non-intervention days).
    placebo_windows
        ≥ 2 non-intervention years. Each is evaluated by a model fitted on the reference days outside it; each
        must pass the placebo criteria and the calibration (BSS ≥ 0.6). The injection test runs on the last.
        Fewer than 2 → the placebo in time fails (the method cannot be validated).
    control_tables
        Placebo in space: each control station as target (its table built with the other controls), evaluated
        over ``window`` with the same criteria. None or empty → not run (recorded as such).
    with_sensitivity
        Also compute the :func:`sensitivity` report (3 windows, trend on, each control left out), judge it by
        :func:`sensitivity_check` (a check like the others: a failure fails the method) and store it in
        ``placebo["sensitivity"]``. Costs 1 + len(controls) more ensemble fits. Without it the check is not run
        and not recorded.

    Returns
    -------
    The estimate over ``window``, the checks, and the ``intervention_eval`` record (verdict
    ``method_failed_validation`` when any check failed).
    """
    ref = table.between(*reference)
    target = table.between(*window)
    for what, t, need in (("reference", ref, MIN_REFERENCE_DAYS), ("window", target, 1)):
        if len(t.dates) < need:
            raise ValueError(f"{len(t.dates)} complete day(s) in the {what}; need ≥ {need} (§5 minimum history)")
    main_cf = fit_counterfactual(ref, target, params)
    est = estimate(main_cf, params)
    checks = placebo_time_checks(
        placebo_windows,
        params,
        cut=lambda span: (_outside(ref, span), table.between(*span)),
        fit=lambda r, w: fit_counterfactual(r, w, params),
        run=lambda cf: estimate(cf, params),
        inject=lambda cf: injection_test(cf, params),
    )
    checks += placebo_space_checks(
        control_tables or {}, reference, window, params, lambda r, w: estimate(fit_counterfactual(r, w, params), params)
    )
    if with_sensitivity:
        checks.append(
            sensitivity_check(est, sensitivity(table, window, reference, params, controls=controls, cf=main_cf))
        )
    rec = result_record(
        est,
        checks,
        label=label if table.label != LABEL_WEATHER_ONLY else f"{label}:{LABEL_WEATHER_ONLY}".lstrip(":"),
        targets=targets,
        controls=controls,
        window=window,
        params=params,
        pollutant=pollutant,
    )
    rec = replace(rec, placebo=space_not_run(rec.placebo, bool(control_tables)))
    return est, tuple(checks), rec


def evaluate_aqi_intervention(
    tables: Mapping[str, FeatureTable],
    window: tuple[date, date],
    reference: tuple[date, date],
    placebo_windows: Sequence[tuple[date, date]],
    params: AvoidedParams,
    *,
    event: str = EVENT_HEAVY,
    dust: Mapping[Any, bool] | None = None,
    control_tables: Mapping[str, Mapping[str, FeatureTable]] | None = None,
    targets: Sequence[str] = (),
    controls: Sequence[str] = (),
    label: str = "",
    with_sensitivity: bool = False,
) -> tuple[Estimate, tuple[Check, ...], InterventionResult]:
    """:func:`evaluate_intervention` for the AQI events of §3.9 step 1 (heavy day, ozone day), with dust-affected
    days excluded from the counts and reported apart (``placebo["dust"]``).

    Validation as for one pollutant: placebo in time on ≥ 2 non-intervention years (each with its calibration),
    the injection on the last of them, and placebo in space (:func:`placebo_space_checks`, the same code as for one
    pollutant): ``control_tables`` maps each control station to its tables per AQI item (built with the other
    controls as its controls), and each control is evaluated as the target over ``window`` with the same event,
    dust rule and criteria. None or empty → recorded as not run.

    ``with_sensitivity`` adds the :func:`sensitivity` report (the same code as for one pollutant: each window,
    trend on, each control left out of every item's inputs), judged by :func:`sensitivity_check`, in
    ``placebo["sensitivity"]``. Costs 1 + len(controls) more AQI ensemble fits.
    """

    def part(span: tuple[date, date], outside: tuple[date, date] | None = None) -> dict[str, FeatureTable]:
        out = {}
        for k, t in tables.items():
            out[k] = _outside(t.between(*reference), outside) if outside else t.between(*span)
        return out

    ref = {k: t.between(*reference) for k, t in tables.items()}
    if n_complete(ref) < MIN_REFERENCE_DAYS:
        raise ValueError(
            f"{n_complete(ref)} complete day(s) in the reference; need ≥ {MIN_REFERENCE_DAYS} (§5 minimum history)"
        )

    def fit(r: Mapping[str, FeatureTable], w: Mapping[str, FeatureTable]) -> AqiCounterfactual:
        # the official dust flags are regional (any place), so they hold at the controls too
        return fit_aqi_counterfactual(r, w, params, event=event, dust=dust)

    cf = fit(ref, part(window))
    est = estimate_aqi(cf, params)
    checks = placebo_time_checks(
        placebo_windows,
        params,
        cut=lambda span: (part(span, span), part(span)),
        fit=fit,
        run=lambda c: estimate_aqi(c, params),
        inject=lambda c: injection_test_aqi(c, params),
    )
    checks += placebo_space_checks(
        control_tables or {}, reference, window, params, lambda r, w: estimate_aqi(fit(r, w), params)
    )
    if with_sensitivity:
        report = sensitivity(tables, window, reference, params, controls=controls, cf=cf, fit=fit)
        checks.append(sensitivity_check(est, report))
    weather_only = next(iter(tables.values())).label == LABEL_WEATHER_ONLY
    rec = result_record(
        est,
        checks,
        label=f"{label}:{LABEL_WEATHER_ONLY}".lstrip(":") if weather_only else label,
        targets=targets,
        controls=controls,
        window=window,
        params=params,
        pollutant="O3_8h" if event == EVENT_OZONE else "AQI",
        event=event,
    )
    placebo = {**space_not_run(rec.placebo, bool(control_tables)), "dust": dust_summary(cf)}
    return est, tuple(checks), replace(rec, placebo=placebo)


# --------------------------------------------------------------------------------------------------------------
# Sensitivity (§3.9 step 5 "sensitivity (spread over windows, trend on/off, control sets)")
# --------------------------------------------------------------------------------------------------------------


def _tables_map(tables: Any, f: Callable[[FeatureTable], FeatureTable]) -> Any:
    """``f`` applied to one table, or to each AQI item's table."""
    if isinstance(tables, FeatureTable):
        return f(tables)
    return {k: f(t) for k, t in tables.items()}


def _has_control(tables: FeatureTable | Mapping[str, FeatureTable], index: int) -> bool:
    """Whether control ``index`` is an input (of any AQI item's table)."""
    group = [tables] if isinstance(tables, FeatureTable) else list(tables.values())
    return any(n.startswith(f"control{index}_") for t in group for n in t.names)


def _members_slice(cf: Counterfactual | AqiCounterfactual, sl: slice) -> Counterfactual | AqiCounterfactual:
    """``cf`` with the ensemble members ``sl`` only (of every AQI item: the same member index for all items)."""
    if isinstance(cf, AqiCounterfactual):
        return replace(cf, members={k: m[sl] for k, m in cf.members.items()})
    return replace(cf, members=cf.members[sl])


def _estimate_any(cf: Counterfactual | AqiCounterfactual, params: AvoidedParams) -> Estimate:
    return estimate_aqi(cf, params) if isinstance(cf, AqiCounterfactual) else estimate(cf, params)


def window_estimates(cf: Counterfactual | AqiCounterfactual, params: AvoidedParams) -> dict[str, float]:
    """Avoided days (Monte Carlo median) of each reference-window variant alone, keyed by its trim in days.

    The ensemble rows are window-major (``windows`` × ``seeds``, :func:`fit_counterfactual`,
    :func:`fit_aqi_counterfactual`), so each window's members are a contiguous slice; the residual model is shared.
    An AQI counterfactual is estimated by :func:`estimate_aqi` (its event, its dust days), one pollutant's by
    :func:`estimate`.
    """
    k = len(params.seeds)
    out = {}
    for i, trim in enumerate(params.windows):
        out[str(trim)] = _estimate_any(_members_slice(cf, slice(i * k, (i + 1) * k)), params).avoided_median
    return out


def without_control(table: FeatureTable, index: int) -> FeatureTable:
    """``table`` without the inputs of control ``index`` (its log concentration and, for O3, its lag)."""
    keep = [j for j, n in enumerate(table.names) if not n.startswith(f"control{index}_")]
    names = tuple(table.names[j] for j in keep)
    has_control = any(n.startswith("control") for n in names)
    return replace(table, x=table.x[:, keep], names=names, label=table.label if has_control else LABEL_WEATHER_ONLY)


def with_trend(table: FeatureTable) -> FeatureTable:
    """``table`` with a linear trend input (days since 2000-01-01): the "trend on" variant; off is the default (d)."""
    days = (table.dates - np.datetime64("2000-01-01", "D")).astype(float)
    return replace(table, x=np.column_stack([table.x, days]), names=(*table.names, "trend_days"))


def sensitivity(
    table: FeatureTable | Mapping[str, FeatureTable],
    window: tuple[date, date],
    reference: tuple[date, date],
    params: AvoidedParams,
    *,
    controls: Sequence[str] = (),
    cf: Counterfactual | AqiCounterfactual | None = None,
    fit: Callable[[Any, Any], Counterfactual | AqiCounterfactual] | None = None,
) -> dict[str, Any]:
    """The §3.9 step 5 sensitivity report of one evaluation: avoided days (Monte Carlo median) per reference
    window, with the trend input on, and with each control left out; ``spread`` = max − min over all variants.

    One code path for every event, as :func:`placebo_space_checks`: ``table`` is one pollutant's
    :class:`FeatureTable` or the tables per AQI item (each variant — trend input, a control left out — is applied
    to every item's table), ``fit(reference_part, window_part)`` fits that kind of counterfactual (default
    :func:`fit_counterfactual`; the AQI events pass :func:`fit_aqi_counterfactual` with their event and dust
    flags), and ``cf`` is the main evaluation's counterfactual when already fitted. ``weather_only`` names the
    control-set variants left without any control (reported, not judged). Judged by
    :func:`~bogda.forecast.avoided.checks.sensitivity_check`.
    """
    fit = fit or (lambda r, w: fit_counterfactual(r, w, params))
    ref, target = tables_between(table, reference), tables_between(table, window)
    base = cf or fit(ref, target)
    windows = window_estimates(base, params)
    trend_cf = fit(_tables_map(ref, with_trend), _tables_map(target, with_trend))
    out: dict[str, Any] = {
        "windows": windows,
        "window_spread": max(windows.values()) - min(windows.values()),
        "trend_on": _estimate_any(trend_cf, params).avoided_median,
        "control_sets": {},
        "weather_only": [],
    }
    for i, code in enumerate(controls):
        if not _has_control(table, i):
            continue
        drop = lambda t, i=i: without_control(t, i)  # noqa: E731 - bound per control
        dropped = _tables_map(ref, drop)
        variant = fit(dropped, _tables_map(target, drop))
        out["control_sets"][f"without {code}"] = _estimate_any(variant, params).avoided_median
        group = [dropped] if isinstance(dropped, FeatureTable) else list(dropped.values())
        if all(t.label == LABEL_WEATHER_ONLY for t in group):  # without_control labels a table left with none
            out["weather_only"].append(f"without {code}")
    values = [*windows.values(), out["trend_on"], *out["control_sets"].values()]
    out["spread"] = max(values) - min(values)
    return out


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def evaluate_stored(
    store: Store,
    target: str,
    controls: Sequence[str],
    window: tuple[date, date],
    params: AvoidedParams,
    *,
    pollutant: str = "a34004",
    reference_years: int = 3,
    placebo_years: int = 2,
    tz: str = "Asia/Shanghai",
    with_sensitivity: bool = True,
) -> tuple[Estimate, tuple[Check, ...], InterventionResult]:
    """:func:`evaluate_intervention` on stored observations (§3.9 step 2 "reference window: the same season of the
    previous 2–3 years").

    The reference window is the ``reference_years`` before ``window``; the placebo years are the same calendar
    window 1..``placebo_years`` years earlier. With ≥ 2 controls each control also plays the target (its inputs
    use the other controls): placebo in space. Days are local dates in ``tz``; the heating flag of every table
    follows ``params.heating``. Each station's stored NWP ``blh``, ``ssrd``, ``tcc`` join its weather when they
    cover the reference and the window (:func:`stored_nwp`); what was used or left out, and why, is recorded in
    ``placebo["nwp"]``.
    """
    from bogda.timeutil import as_utc

    reference = (_years_before(window[0], reference_years), window[0] - timedelta(days=1))
    placebos = [(_years_before(window[0], k), _years_before(window[1], k)) for k in range(placebo_years, 0, -1)]

    def utc(d: date) -> datetime:
        return as_utc(datetime(d.year, d.month, d.day), naive="beijing" if tz == "Asia/Shanghai" else "utc")

    lo, hi = utc(reference[0] - timedelta(days=3)), utc(window[1] + timedelta(days=2))  # margins: zone, lags
    nwp = stored_nwp(store, (target, *controls), {"reference": reference, "window": window}, lo, hi, tz=tz)
    frames = {c: join_nwp(hourly_from_store(store, c, lo, hi, pollutant), nwp[c][0]) for c in (target, *controls)}
    table = feature_table(
        frames[target], [frames[c] for c in controls], pollutant=pollutant, heating=params.heating, tz=tz
    )
    ctabs = {
        c: feature_table(frames[c], [frames[o] for o in others], pollutant=pollutant, heating=params.heating, tz=tz)
        for c, others in as_targets(controls)
    }
    est, checks, rec = evaluate_intervention(
        table,
        window,
        reference,
        placebos,
        params,
        control_tables=ctabs,
        targets=[target],
        controls=list(controls),
        label=f"{target} {window[0]}..{window[1]}",
        pollutant=pollutant,
        with_sensitivity=with_sensitivity,
    )
    return est, checks, replace(rec, placebo={**rec.placebo, "nwp": nwp_record({c: i for c, (_, i) in nwp.items()})})


def evaluate_stored_aqi(
    store: Store,
    target: str,
    controls: Sequence[str],
    window: tuple[date, date],
    params: AvoidedParams,
    *,
    event: str = EVENT_HEAVY,
    reference_years: int = 3,
    placebo_years: int = 2,
    tz: str = "Asia/Shanghai",
    with_sensitivity: bool = True,
) -> tuple[Estimate, tuple[Check, ...], InterventionResult]:
    """:func:`evaluate_aqi_intervention` on stored observations (windows and placebo in space as
    :func:`evaluate_stored`: with ≥ 2 controls each control plays the target, the others as its controls).

    Each AQI item is read and modelled on its own (its control input is the controls' same item; O3 adds the
    controls' O3 of the day before). SO2 or CO never stored at the target is left out of the AQI (they seldom set
    it); the other items are required. Official dust days (``dust_day`` rows with status ``official``, any place:
    a dust episode is regional) override the PM2.5/PM10 rule on their dates. Stored NWP BLH, radiation and cloud
    as in :func:`evaluate_stored` (``placebo["nwp"]``).
    """
    from bogda.monitoring.assessment import read_dust
    from bogda.timeutil import as_utc

    reference = (_years_before(window[0], reference_years), window[0] - timedelta(days=1))
    placebos = [(_years_before(window[0], k), _years_before(window[1], k)) for k in range(placebo_years, 0, -1)]

    def utc(d: date) -> datetime:
        return as_utc(datetime(d.year, d.month, d.day), naive="beijing" if tz == "Asia/Shanghai" else "utc")

    lo, hi = utc(reference[0] - timedelta(days=3)), utc(window[1] + timedelta(days=2))
    nwp = stored_nwp(store, (target, *controls), {"reference": reference, "window": window}, lo, hi, tz=tz)
    tables: dict[str, FeatureTable] = {}
    ctabs: dict[str, dict[str, FeatureTable]] = {c: {} for c, _ in as_targets(controls)}
    for code, item in AQI_ITEMS.items():
        frames = {c: join_nwp(hourly_from_store(store, c, lo, hi, code), nwp[c][0]) for c in (target, *controls)}
        if code not in frames[target].columns or frames[target][code].is_nan().all():
            if item in OPTIONAL_AQI_ITEMS:
                continue
            raise ValueError(f"no {item} ({code}) stored at {target}: the AQI cannot be modelled")
        tables[item] = feature_table(
            frames[target], [frames[c] for c in controls], pollutant=code, heating=params.heating, tz=tz
        )
        # every control has this item (feature_table refuses a control without it), so each can play the target
        # with the target's items
        for c, others in as_targets(controls):
            ctabs[c][item] = feature_table(
                frames[c], [frames[o] for o in others], pollutant=code, heating=params.heating, tz=tz
            )
    dust = read_dust(store, start=reference[0], end=window[1]).filter(pl.col("status") == "official")
    est, checks, rec = evaluate_aqi_intervention(
        tables,
        window,
        reference,
        placebos,
        params,
        event=event,
        dust=dict.fromkeys(dust["day"].to_list(), True),
        control_tables=ctabs,
        targets=[target],
        controls=list(controls),
        label=f"{target} {window[0]}..{window[1]}",
        with_sensitivity=with_sensitivity,
    )
    return est, checks, replace(rec, placebo={**rec.placebo, "nwp": nwp_record({c: i for c, (_, i) in nwp.items()})})
