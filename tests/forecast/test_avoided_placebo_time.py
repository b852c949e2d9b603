"""Days avoided: the one placebo-in-time loop of forecast.md §3.9 step 5 (``avoided.placebo_time_checks``), shared by
the single-pollutant and the AQI evaluations."""

from __future__ import annotations

from datetime import date

from bogda.forecast import avoided as av

YEARS = [(date(2014, 3, 1), date(2015, 2, 28)), (date(2015, 3, 1), date(2016, 2, 29))]


def _estimate(avoided: float, bss: float) -> av.Estimate:
    return av.Estimate(
        n_days=365, n_obs=10, expected=10.0 + avoided, expected_ci=(8.0, 12.0), cf_median=10.0 + avoided,
        avoided_median=avoided, ci90=(avoided - 4.0, avoided + 4.0), bss=bss, reliability=[], sigma=0.3, rho1=0.0,
        n_eff=365.0, mde_log=0.03, mde_pct=3.0, mde_days=4.0,
    )  # fmt: skip


def test_each_year_is_cut_fitted_judged_and_the_last_one_injected() -> None:
    cut_calls, fitted, injected = [], [], []
    # the first year finds +5 days (fails: > 3), the second 0 with a poor BSS (calibration fails)
    results = {YEARS[0][0]: _estimate(5.0, 0.7), YEARS[1][0]: _estimate(0.0, 0.4)}

    def cut(span):
        cut_calls.append(span)
        return ("train", span[0]), ("eval", span[0])

    def fit(train, evaluation):
        assert train[1] == evaluation[1]  # the year's own cut reaches the fit
        fitted.append(evaluation[1])
        return evaluation[1]

    def inject(cf):
        injected.append(cf)
        return av.Check("injection", True, {"on": str(cf)})

    checks = av.placebo_time_checks(
        YEARS, av.AvoidedParams(), cut=cut, fit=fit, run=lambda cf: results[cf], inject=inject
    )
    assert cut_calls == YEARS and fitted == [YEARS[0][0], YEARS[1][0]]
    assert injected == [YEARS[1][0]]  # the injection runs once, on the last year's counterfactual
    assert [c.name for c in checks] == [
        "placebo_time_20140301", "calibration_20140301", "placebo_time_20150301", "calibration_20150301", "injection"
    ]  # fmt: skip
    assert [c.passed for c in checks] == [False, True, True, False, True]
    assert checks[0].detail["avoided"] == 5.0 and checks[3].detail["bss"] == 0.4


def test_fewer_than_two_years_fail_the_placebo_in_time() -> None:
    def fit(train, evaluation):
        return evaluation

    def run(cf):
        return _estimate(0.0, 0.9)

    one = av.placebo_time_checks(
        YEARS[:1], av.AvoidedParams(), cut=lambda s: (s, s), fit=fit, run=run,
        inject=lambda cf: av.Check("injection", True),
    )  # fmt: skip
    assert one[0].name == "placebo_time" and not one[0].passed and "1 placebo year" in one[0].detail["reason"]
    assert [c.passed for c in one[1:]] == [True, True, True]
    none = av.placebo_time_checks(
        [], av.AvoidedParams(), cut=lambda s: (s, s), fit=fit, run=run, inject=lambda cf: av.Check("injection", True)
    )
    assert [c.name for c in none] == ["placebo_time"]  # nothing to inject into without a placebo year
