"""Days-avoided §8 acceptance check 5: the Beijing protocol on the PRSA files (forecast.md §8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from bogda.forecast.avoided.checks import Check, calibration_check, injection_test, placebo_check, space_not_run
from bogda.forecast.avoided.counterfactual import Counterfactual, Estimate, estimate, fit_counterfactual
from bogda.forecast.avoided.evaluation import sensitivity
from bogda.forecast.avoided.inputs import FeatureTable, feature_table
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
    est, checks, _ = _fit_split(table, train, test, params, inject=inject)
    return est, checks


def _fit_split(
    table: FeatureTable,
    train: tuple[date, date],
    test: tuple[date, date],
    params: AvoidedParams,
    *,
    inject: bool,
) -> tuple[Estimate, tuple[Check, ...], Counterfactual]:
    """:func:`evaluate_split`, also returning the fitted counterfactual (reused by the sensitivity report)."""
    cf = fit_counterfactual(table.between(*train), table.between(*test), params)
    est = estimate(cf, params)
    checks = [placebo_check(est, params), calibration_check(est, params)]
    if inject:
        checks.append(injection_test(cf, params))
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
    out; the main fit reused, 2 more ensemble fits per split) in ``result.placebo["sensitivity"]``, as the stored
    evaluations do. Reported, not judged: the table and the verdicts do not change. The control-left-out variant is
    the weather-only model fitted on the days the control reports (the weather-only rows keep the days it misses),
    so it equals the ``weather_calendar`` row's estimate only when the control misses no day the target has.
    """
    p = params or AvoidedParams(threshold=150.0)
    code_t = str(target["station_code"][0])
    code_c = str(control["station_code"][0])
    rows: list[Check5Row] = []
    for features, ctrls in (("weather_calendar", ()), ("with_control", (control,))):
        table = feature_table(target, ctrls, heating=p.heating)
        runs = []
        for i, (tr, te) in enumerate(splits):
            runs.append((tr, te, *_fit_split(table, tr, te, p, inject=i == len(splits) - 1)))
        # placebo in time needs every non-intervention year: share the placebo checks across the splits
        placebos = [
            replace(c, name=f"placebo_time_{te[0].year}")
            for _, te, _, cs, _ in runs
            for c in cs
            if c.name == "placebo_time"
        ]
        for tr, te, est, cs, cf in runs:
            checks = (*placebos, *(c for c in cs if c.name != "placebo_time"))
            rec = result_record(
                est,
                checks,
                label=f"check5:{features}" + ("" if ctrls else f":{LABEL_WEATHER_ONLY}"),
                targets=[code_t],
                controls=[code_c] if ctrls else [],
                window=te,
                params=p,
            )
            rec = replace(rec, placebo=space_not_run(rec.placebo, False))  # one control: none to play the target
            if with_sensitivity and ctrls:  # §3.9 step 5: reported, not judged
                sens = sensitivity(table, te, tr, p, controls=[code_c], cf=cf)
                rec = replace(rec, placebo={**rec.placebo, "sensitivity": sens})
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
