"""Days-avoided §8 acceptance check 5: the Beijing protocol on the PRSA files (forecast.md §8), for the spec's
single-pollutant event (daily PM2.5 > 150) and, on the same files and splits, the AQI heavy day (§3.9 step 1)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

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
    Check,
    calibration_check,
    injection_test,
    placebo_check,
    sensitivity_check,
    space_not_run,
)
from bogda.forecast.avoided.counterfactual import Counterfactual, Estimate, estimate, fit_counterfactual
from bogda.forecast.avoided.evaluation import sensitivity
from bogda.forecast.avoided.inputs import FeatureTable, feature_table, tables_between
from bogda.forecast.avoided.params import LABEL_WEATHER_ONLY, AvoidedParams
from bogda.forecast.avoided.records import InterventionResult, result_record

CHECK5_SPLITS: tuple[tuple[tuple[date, date], tuple[date, date]], ...] = (
    ((date(2013, 3, 1), date(2015, 2, 28)), (date(2015, 3, 1), date(2016, 2, 29))),
    ((date(2013, 3, 1), date(2016, 2, 29)), (date(2016, 3, 1), date(2017, 2, 28))),
)
"""(train, test) day spans of §8 check 5."""


CHECK5_TARGET = "Dongsi"


CHECK5_CONTROL = "Dingling"


@dataclass(frozen=True)
class Check5Row:
    """One split × feature set of check 5."""

    features: str  # weather_calendar | with_control
    train: tuple[date, date]
    test: tuple[date, date]
    estimate: Estimate
    checks: tuple[Check, ...]
    result: InterventionResult


def _prsa(data_dir: Path, station: str) -> pl.DataFrame:
    from bogda.forecast.observations import read_prsa_frame

    files = sorted((data_dir / "beijing").glob(f"PRSA_Data_{station}_*.csv.gz"))
    if not files:
        raise FileNotFoundError(f"no PRSA file of {station} in {data_dir / 'beijing'}")
    return read_prsa_frame(files[0])


@dataclass(frozen=True)
class _Event:
    """How check 5 fits, estimates, injection-tests and records one kind of event (§3.9 steps 1–5), so that the
    single-pollutant event and the AQI events run through the same split loop (:func:`_check5_rows`).

    ``fit(train_part, test_part)`` returns the counterfactual (:func:`fit_counterfactual` or
    :func:`fit_aqi_counterfactual`), ``run`` its :class:`Estimate`, ``inject`` the injection check; ``extra`` adds
    entries to the record's ``placebo`` part (the AQI events: the dust-affected days, counted apart).
    """

    fit: Callable[[Any, Any], Counterfactual | AqiCounterfactual]
    run: Callable[[Any], Estimate]
    inject: Callable[[Any], Check]
    label: str = "check5"
    pollutant: str = "a34004"
    event: str | None = None  # None: ``daily>threshold`` (result_record's default)
    extra: Callable[[Any], dict[str, Any]] = field(default=lambda cf: {})


def _single_event(params: AvoidedParams) -> _Event:
    """The spec's check-5 event: the daily mean of one pollutant above ``params.threshold`` (§8 check 5)."""
    return _Event(
        fit=lambda r, w: fit_counterfactual(r, w, params),
        run=lambda cf: estimate(cf, params),
        inject=lambda cf: injection_test(cf, params),
    )


def _aqi_event(params: AvoidedParams, event: str) -> _Event:
    """An AQI event of §3.9 step 1 (heavy day ``aqi>200``, ozone day); dust-affected days by the PM2.5/PM10 rule (the
    PRSA files carry no official dust flag), left out of the counts and reported in ``placebo["dust"]``."""
    name = {EVENT_HEAVY: "heavy", EVENT_OZONE: "ozone"}.get(event)
    if name is None:
        raise ValueError(f"unknown AQI event {event!r}; expected {EVENT_HEAVY!r} or {EVENT_OZONE!r}")
    return _Event(
        fit=lambda r, w: fit_aqi_counterfactual(r, w, params, event=event),
        run=lambda cf: estimate_aqi(cf, params),
        inject=lambda cf: injection_test_aqi(cf, params),
        label=f"check5:{name}",
        pollutant="O3_8h" if event == EVENT_OZONE else "AQI",
        event=event,
        extra=lambda cf: {"dust": dust_summary(cf)},
    )


def evaluate_split(
    table: FeatureTable,
    train: tuple[date, date],
    test: tuple[date, date],
    params: AvoidedParams,
    *,
    inject: bool,
) -> tuple[Estimate, tuple[Check, ...]]:
    """Fit on ``train``, evaluate ``test`` as a placebo year (no intervention there) with the calibration check,
    and the injection test when ``inject``."""
    est, checks, _ = _fit_split(table, train, test, params, _single_event(params), inject=inject)
    return est, checks


def _fit_split(
    tables: FeatureTable | Mapping[str, FeatureTable],
    train: tuple[date, date],
    test: tuple[date, date],
    params: AvoidedParams,
    kind: _Event,
    *,
    inject: bool,
) -> tuple[Estimate, tuple[Check, ...], Counterfactual | AqiCounterfactual]:
    """:func:`evaluate_split` for any event ``kind`` (one table, or the tables per AQI item), also returning the
    fitted counterfactual (reused by the sensitivity report)."""
    cf = kind.fit(tables_between(tables, train), tables_between(tables, test))
    est = kind.run(cf)
    checks = [placebo_check(est, params), calibration_check(est, params)]
    if inject:
        checks.append(kind.inject(cf))
    return est, tuple(checks), cf


def check5(data_dir: Path, params: AvoidedParams | None = None, *, with_sensitivity: bool = True) -> list[Check5Row]:
    """§8 check 5: Dongsi daily PM2.5 > 150, without and with Dingling as control, on both train/test splits.

    Both test years are free of the evaluated intervention, so each is a placebo in time; the injection test runs
    on the last split (2016–17). The verdict of every row is judged on both placebo years together (§3.9 step 5
    "≥ 2 non-intervention years"): one failed placebo fails the feature set. Placebo in space is not run: with a
    single control there is no second station outside the footprint to play the target. ``with_sensitivity``: see
    :func:`check5_frames`.
    """
    target = _prsa(data_dir, CHECK5_TARGET)
    control = _prsa(data_dir, CHECK5_CONTROL)
    return check5_frames(target, control, params, with_sensitivity=with_sensitivity)


def check5_frames(
    target: pl.DataFrame,
    control: pl.DataFrame,
    params: AvoidedParams | None = None,
    *,
    splits: Sequence[tuple[tuple[date, date], tuple[date, date]]] = CHECK5_SPLITS,
    with_sensitivity: bool = True,
) -> list[Check5Row]:
    """:func:`check5` on the hourly frames of the target and the control station, over ``splits`` (train, test).

    ``with_sensitivity``: each ``with_control`` row also carries the §3.9 step 5 sensitivity report of
    :func:`~bogda.forecast.avoided.evaluation.sensitivity` (each reference window alone, trend on, the control left
    out; the main fit reused, 2 more ensemble fits per split) in ``result.placebo["sensitivity"]``, judged by
    :func:`~bogda.forecast.avoided.checks.sensitivity_check` as the stored evaluations are (a failure fails the
    row's verdict). The control-left-out variant is the weather-only model (reported, not judged) fitted on the
    days the control reports (the weather-only rows keep the days it misses), so it equals the ``weather_calendar``
    row's estimate only when the control misses no day the target has.
    """
    p = params or AvoidedParams(threshold=150.0)
    return _check5_rows(
        target,
        control,
        lambda ctrls: feature_table(target, ctrls, heating=p.heating),
        p,
        _single_event(p),
        splits=splits,
        with_sensitivity=with_sensitivity,
    )


def check5_aqi(
    data_dir: Path,
    params: AvoidedParams | None = None,
    *,
    event: str = EVENT_HEAVY,
    with_sensitivity: bool = True,
) -> list[Check5Row]:
    """The AQI heavy day (daily AQI > 200, §3.9 step 1) on the check-5 files and splits: Dongsi, without and with
    Dingling as control (§8 check 5 protocol, §3.9 steps 2–5 for the AQI).

    Not a spec acceptance figure (check 5 is written for PM2.5 > 150): it measures the AQI path — every item
    modelled, whole-day residual vectors, dust days apart — on real data with the criteria of check 5. See
    :func:`check5_aqi_frames`.
    """
    target = _prsa(data_dir, CHECK5_TARGET)
    control = _prsa(data_dir, CHECK5_CONTROL)
    return check5_aqi_frames(target, control, params, event=event, with_sensitivity=with_sensitivity)


def check5_aqi_frames(
    target: pl.DataFrame,
    control: pl.DataFrame,
    params: AvoidedParams | None = None,
    *,
    event: str = EVENT_HEAVY,
    splits: Sequence[tuple[tuple[date, date], tuple[date, date]]] = CHECK5_SPLITS,
    with_sensitivity: bool = True,
) -> list[Check5Row]:
    """:func:`check5_frames` for an AQI event (default the heavy day ``aqi>200``): one counterfactual per AQI item
    (:func:`fit_aqi_counterfactual`; each item's control input is the control's same item, O3 adds its lag),
    estimated by :func:`estimate_aqi`, injection by :func:`injection_test_aqi`, the same split loop, placebo years,
    verdicts and sensitivity report (:func:`sensitivity` with the AQI fit, each variant applied to every item).

    An item the target frame lacks or never reports is left out when it is SO2 or CO (they seldom set the daily
    AQI; as :func:`evaluate_stored_aqi`); :func:`fit_aqi_counterfactual` refuses the others. Dust-affected days
    (PM2.5/PM10 rule: no official flag in the files) are out of every count and reported in
    ``result.placebo["dust"]``. Costs about 6× the single-pollutant run (one ensemble per item).
    """
    p = params or AvoidedParams()
    kind = _aqi_event(p, event)
    codes = {
        code: item
        for code, item in AQI_ITEMS.items()
        if item not in OPTIONAL_AQI_ITEMS
        or (code in target.columns and not target[code].fill_nan(None).is_null().all())
    }

    def tables(ctrls: Sequence[pl.DataFrame]) -> dict[str, FeatureTable]:
        return {item: feature_table(target, ctrls, pollutant=code, heating=p.heating) for code, item in codes.items()}

    return _check5_rows(target, control, tables, p, kind, splits=splits, with_sensitivity=with_sensitivity)


def _check5_rows(
    target: pl.DataFrame,
    control: pl.DataFrame,
    tables_of: Callable[[Sequence[pl.DataFrame]], FeatureTable | Mapping[str, FeatureTable]],
    p: AvoidedParams,
    kind: _Event,
    *,
    splits: Sequence[tuple[tuple[date, date], tuple[date, date]]],
    with_sensitivity: bool,
) -> list[Check5Row]:
    """The check-5 loop of every event: each feature set (``weather_calendar``, ``with_control``) × split, the
    placebo years shared across the splits, the records and the sensitivity report of the ``with_control`` rows.

    ``tables_of(controls)`` builds the target's inputs with the given control frames (one table, or the tables per
    AQI item); ``kind`` fits and estimates them.
    """
    code_t = str(target["station_code"][0])
    code_c = str(control["station_code"][0])
    rows: list[Check5Row] = []
    for features, ctrls in (("weather_calendar", ()), ("with_control", (control,))):
        table = tables_of(ctrls)
        runs = []
        for i, (tr, te) in enumerate(splits):
            runs.append((tr, te, *_fit_split(table, tr, te, p, kind, inject=i == len(splits) - 1)))
        # placebo in time needs every non-intervention year: share the placebo checks across the splits
        placebos = [
            replace(c, name=f"placebo_time_{te[0].year}")
            for _, te, _, cs, _ in runs
            for c in cs
            if c.name == "placebo_time"
        ]
        for tr, te, est, cs, cf in runs:
            checks = (*placebos, *(c for c in cs if c.name != "placebo_time"))
            if with_sensitivity and ctrls:  # §3.9 step 5, judged like the other checks
                report = sensitivity(table, te, tr, p, controls=[code_c], cf=cf, fit=kind.fit)
                checks = (*checks, sensitivity_check(est, report))
            rec = result_record(
                est,
                checks,
                label=f"{kind.label}:{features}" + ("" if ctrls else f":{LABEL_WEATHER_ONLY}"),
                targets=[code_t],
                controls=[code_c] if ctrls else [],
                window=te,
                params=p,
                pollutant=kind.pollutant,
                event=kind.event,
            )
            # one control: none to play the target in the placebo in space
            rec = replace(rec, placebo={**space_not_run(rec.placebo, False), **kind.extra(cf)})
            rows.append(Check5Row(features, tr, te, est, checks, rec))
    return rows


def check5_table(rows: Sequence[Check5Row]) -> pl.DataFrame:
    """The check-5 figures, one row per split × feature set (counts in days)."""
    out: list[Mapping[str, Any]] = []
    for r in rows:
        e = r.estimate
        a, alo, ahi = e.analytic_avoided
        out.append(
            {
                "features": r.features,
                "test": f"{r.test[0]:%Y-%m}..{r.test[1]:%Y-%m}",
                "n_days": e.n_days,
                "observed": e.n_obs,
                "expected": round(e.expected, 1),
                "avoided": round(a, 1),
                "analytic_lo": round(alo, 1),
                "analytic_hi": round(ahi, 1),
                "cf_median": e.cf_median,
                "mc_avoided": e.avoided_median,
                "mc_lo": e.ci90[0],
                "mc_hi": e.ci90[1],
                "bss": None if e.bss is None else round(e.bss, 3),
                "sigma": round(e.sigma, 3),
                "mde_pct": round(e.mde_pct, 1),
                "checks": " ".join(f"{c.name}:{'ok' if c.passed else 'FAIL'}" for c in r.checks),
                "verdict": r.result.verdict,
            }
        )
    return pl.DataFrame(out)
