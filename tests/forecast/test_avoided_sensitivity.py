"""Days avoided: the sensitivity check of forecast.md §3.9 step 5 (spread over the reference windows, trend on,
control sets), judged like the other checks, stored in ``placebo["sensitivity"]`` and printed by
``bogda forecast avoided``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from importlib import import_module

import numpy as np
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import avoided as av
from bogda.forecast.avoided import evaluation
from forecast.test_avoided import FAST, synthetic_days

REPORT = {
    "windows": {"0": 1.0, "91": -2.0},
    "window_spread": 3.0,
    "trend_on": 0.5,
    "control_sets": {"without C1": 4.0},
    "weather_only": ["without C1"],
    "spread": 6.0,
}
"""A hand-made report: one control, so leaving it out is the weather-only variant."""


def _est(ci90: tuple[float, float], median: float = 0.0) -> av.Estimate:
    table, first, _ = synthetic_days(n_train=400, n_test=60)
    cut = np.datetime64(first, "D")
    est = av.estimate(
        av.fit_counterfactual(table.select(table.dates < cut), table.select(table.dates >= cut), FAST), FAST
    )
    return replace(est, ci90=ci90, avoided_median=median)


def test_the_sensitivity_check_judges_every_variant_but_the_weather_only_one_against_the_main_interval() -> None:
    est = _est((-2.0, 3.0))
    ok = av.sensitivity_check(est, REPORT)  # windows +1, −2 (on the bound), trend +0.5; without C1 +4 not judged
    assert ok.name == "sensitivity" and ok.passed
    assert ok.detail["judged"] == ["window:0", "window:91", "trend_on"] and ok.detail["outside"] == []
    assert ok.detail["ci90"] == [-2.0, 3.0] and {k: ok.detail[k] for k in REPORT} == REPORT
    bad = av.sensitivity_check(est, {**REPORT, "trend_on": 3.5, "windows": {"0": -2.5, "91": 0.0}})
    assert not bad.passed and bad.detail["outside"] == ["window:0", "trend_on"]
    # with two controls, leaving one out keeps the other: a judged variant
    two = {**REPORT, "control_sets": {"without C1": 4.0, "without C2": 1.0}, "weather_only": []}
    judged = av.sensitivity_check(est, two)
    assert not judged.passed and judged.detail["outside"] == ["without C1"]
    assert "without C2" in judged.detail["judged"]
    # a failed sensitivity check fails the method like any other (§3.9 step 5 "any failure")
    assert av.verdict(est, [ok]) == "no_detectable_effect" and av.verdict(est, [bad]) == "method_failed_validation"


def test_window_estimates_take_each_windows_members() -> None:
    params = replace(FAST, windows=(0, 91), seeds=(0, 1), draws=100)
    n = 50
    high = np.zeros(n)
    high[:8] = np.log(200.0)  # window 0: 8 event days in the counterfactual
    low = np.zeros(n)
    low[:3] = np.log(200.0)  # window 91: 3
    members = np.vstack([high, high, low, low])  # window-major: (window 0 × 2 seeds, window 91 × 2 seeds)
    cf = av.Counterfactual(
        dates=np.datetime64("2016-01-01") + np.arange(n),
        observed=np.full(n, 10.0),  # nothing observed above 80
        members=members,
        residuals=np.zeros(20),
        sigma=0.3,
        base_rate=0.1,
        label="controlled",
    )
    assert av.window_estimates(cf, params) == {"0": 8.0, "91": 3.0}


def test_control_and_trend_variants_of_a_table() -> None:
    table, _, _ = synthetic_days(n_train=40, n_test=10)
    two = replace(table, x=np.column_stack([table.x, table.x[:, 2]]), names=(*table.names, "control1_ln"))
    one = av.without_control(two, 0)
    assert one.names == ("ws", "rh", "doy_sin", "doy_cos", "control1_ln") and one.label == "controlled"
    assert np.array_equal(one.x[:, -1], two.x[:, -1])
    none = av.without_control(one, 1)
    assert not any(n.startswith("control") for n in none.names) and none.label == av.LABEL_WEATHER_ONLY
    tr = av.with_trend(table)
    assert tr.names[-1] == "trend_days" and np.array_equal(np.diff(tr.x[:, -1]), np.ones(len(table.dates) - 1))


def test_sensitivity_is_judged_stored_and_part_of_the_verdict(monkeypatch) -> None:
    table, _, _ = synthetic_days(n_train=3 * 365 + 1, n_test=365, seed=10, sigma=0.1)
    window = (date(2016, 3, 1), date(2017, 2, 28))
    reference = (date(2013, 3, 1), date(2016, 2, 29))
    years = [(date(2014, 3, 1), date(2015, 2, 28)), (date(2015, 3, 1), date(2016, 2, 29))]
    kw = {"targets": ["T"], "controls": ["C1"], "label": "x"}
    est, checks, rec = av.evaluate_intervention(table, window, reference, years, FAST, with_sensitivity=True, **kw)
    _, plain_checks, plain = av.evaluate_intervention(table, window, reference, years, FAST, **kw)
    sens = rec.placebo["sensitivity"]
    assert "sensitivity" not in plain.placebo and all(c.name != "sensitivity" for c in plain_checks)
    assert [c.name for c in checks] == [*(c.name for c in plain_checks), "sensitivity"]
    assert sens["passed"] is checks[-1].passed and sens["ci90"] == list(est.ci90)
    assert rec.verdict == av.verdict(est, checks)
    assert list(sens["windows"]) == [str(w) for w in FAST.windows]
    assert list(sens["control_sets"]) == ["without C1"] and sens["weather_only"] == ["without C1"]
    values = [*sens["windows"].values(), sens["trend_on"], *sens["control_sets"].values()]
    assert sens["spread"] == max(values) - min(values) >= sens["window_spread"] >= 0
    # no trend in the synthetic series: the trend-on and per-window variants stay near the main estimate (the
    # weather-only variant, without the only control, is reported but not bounded here)
    assert abs(sens["trend_on"] - est.avoided_median) <= 3.0
    assert all(abs(v - est.avoided_median) <= 3.0 for v in sens["windows"].values())
    assert sens["passed"] and rec.verdict == plain.verdict
    # a variant outside the main interval fails the method, and the stored row names the failed check
    far = {**REPORT, "trend_on": est.ci90[1] + 5.0, "windows": {"0": est.avoided_median}}
    monkeypatch.setattr(evaluation, "sensitivity", lambda *a, **k: far)
    _, _, failed = av.evaluate_intervention(table, window, reference, years, FAST, with_sensitivity=True, **kw)
    assert failed.verdict == "method_failed_validation" and failed.placebo["sensitivity"]["outside"] == ["trend_on"]
    shown = av.presentation(failed.row(created_at=None))  # type: ignore[arg-type]
    assert "sensitivity" in shown["failed_checks"] and not shown["show_figure"]


def test_the_command_prints_the_sensitivity(monkeypatch, sqlite_store) -> None:
    est = _est((-1.0, 3.0))
    first = date(2016, 1, 1)
    check = av.sensitivity_check(est, REPORT)
    rec = av.result_record(est, (check,), label="T", targets=["T"], controls=["C1"], window=(first, first), params=FAST)
    seen: list[bool] = []

    def fake(*a, **kw):
        seen.append(kw["with_sensitivity"])
        return est, (), rec

    monkeypatch.setattr(av, "evaluate_stored", fake)
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    args = ["forecast", "avoided", "--target", "T", "--control", "C1", "--start", "2016-01-01", "--end", "2016-01-31"]
    r = CliRunner().invoke(app, [*args, "--no-store", "--database-url", url])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert (
        "windows trimmed 0 d: +1.0, 91 d: -2.0; trend on +0.5; control sets without C1: +4.0; spread 6.0 d; "
        "judged against the main 90 % interval -1…+3: FAILED, outside: window:91" in said
    ), said
    assert "verdict: method_failed_validation" in said
    r = CliRunner().invoke(app, [*args, "--no-store", "--no-sensitivity", "--database-url", url])
    assert r.exit_code == 0 and seen == [True, False]


# --- AQI events (heavy, ozone): the same report through the same code --------------------------------------------


def test_window_estimates_of_an_aqi_counterfactual_take_each_windows_members_of_every_item() -> None:
    from forecast.test_avoided_events import _cf

    params = replace(FAST, windows=(0, 91), seeds=(0, 1), draws=100)
    n = 40
    cf = _cf(n, np.zeros(n, dtype=bool), np.full(n, 20.0), np.zeros(n, dtype=bool))  # nothing observed heavy
    high, low = np.log(np.full(n, 20.0)), np.log(np.full(n, 20.0))
    high[:8] = np.log(300.0)  # window 0: PM2.5 300 µg/m³ (IAQI > 200) on 8 days
    low[:3] = np.log(300.0)  # window 91: on 3 days
    members = {k: np.vstack([m, m]) for k, m in cf.members.items()}  # 4 members of every item
    members["PM2.5"] = np.vstack([high, high, low, low])  # window-major: window 0 × 2 seeds, window 91 × 2 seeds
    assert av.window_estimates(replace(cf, members=members), params) == {"0": 8.0, "91": 3.0}


def test_aqi_sensitivity_is_judged_stored_and_applies_each_variant_to_every_item(monkeypatch) -> None:
    from forecast.test_avoided_events import synthetic_items

    quick = replace(FAST, threshold=150.0, rounds=80, learning_rate=0.1, draws=300)
    n_train = 3 * 365 + 1
    tables, _, _ = synthetic_items(n_train + 365, seed=3, cut_from=n_train)
    window = (date(2016, 3, 1), date(2017, 2, 28))
    reference = (date(2013, 3, 1), date(2016, 2, 29))
    years = [(date(2014, 3, 1), date(2015, 2, 28)), (date(2015, 3, 1), date(2016, 2, 29))]
    kw = {"targets": ["T"], "controls": ["C"], "label": "x"}
    _, plain_checks, plain = av.evaluate_aqi_intervention(tables, window, reference, years, quick, **kw)
    fitted: list[set[tuple[str, ...]]] = []
    real_fit = av.fit_aqi_counterfactual

    def spy(train, evaluation, params, **k):  # the inputs of every AQI fit, as one set of name tuples
        fitted.append({t.names for t in train.values()} | {t.names for t in evaluation.values()})
        return real_fit(train, evaluation, params, **k)

    monkeypatch.setattr(evaluation, "fit_aqi_counterfactual", spy)
    est, checks, rec = av.evaluate_aqi_intervention(
        tables, window, reference, years, quick, with_sensitivity=True, **kw
    )
    sens = rec.placebo["sensitivity"]
    assert "sensitivity" not in plain.placebo
    assert [(c.name, c.passed) for c in checks[:-1]] == [(c.name, c.passed) for c in plain_checks]
    assert checks[-1].name == "sensitivity" and sens["passed"] is checks[-1].passed
    assert rec.verdict == av.verdict(est, checks) and sens["weather_only"] == ["without C"]
    assert list(sens["windows"]) == [str(w) for w in quick.windows] and list(sens["control_sets"]) == ["without C"]
    values = [*sens["windows"].values(), sens["trend_on"], *sens["control_sets"].values()]
    assert sens["spread"] == max(values) - min(values) >= sens["window_spread"] >= 0
    # main, 2 placebo years, then the sensitivity: trend on (every item), control C left out (of every item)
    trend, no_control = fitted[-2], fitted[-1]
    assert len(fitted) == 5 and all(n[-1] == "trend_days" for n in trend) and len(trend) == 1
    assert all(not any(x.startswith("control") for x in n) for n in no_control)
    # no trend in the synthetic series: the trend-on and per-window variants stay near the main estimate
    assert abs(sens["trend_on"] - est.avoided_median) <= 4.0
    assert all(abs(v - est.avoided_median) <= 4.0 for v in sens["windows"].values())
    assert sens["outside"] == [
        n for n, v in av.sensitivity_variants(sens).items() if not est.ci90[0] <= v <= est.ci90[1]
    ]


def test_the_command_prints_the_sensitivity_of_an_aqi_event(monkeypatch, sqlite_store) -> None:
    from forecast.test_avoided_events import _store_aqi_stations

    quick = replace(FAST, threshold=150.0, rounds=40, learning_rate=0.1, draws=200, windows=(0,), seeds=(0,))
    _store_aqi_stations(sqlite_store, days=2 * 365 + 40)
    seen: list[bool] = []
    real = av.evaluate_stored_aqi

    def run(st, t, c, w, p, **kw):
        seen.append(kw["with_sensitivity"])
        return real(st, t, c, w, quick, **kw)

    monkeypatch.setattr(av, "evaluate_stored_aqi", run)
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    args = ["forecast", "avoided", "--target", "T", "--control", "C1", "--start", "2016-01-01", "--end", "2016-01-31"]
    args += ["--event", "heavy", "--reference-years", "2", "--database-url", url]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    stored = av.read_results(sqlite_store)[0]["placebo"]["sensitivity"]
    said = " ".join(r.output.split())
    wins = ", ".join(f"{k} d: {v:+.1f}" for k, v in stored["windows"].items())
    assert f"windows trimmed {wins}; trend on {stored['trend_on']:+.1f}; control sets without C1: " in said, said
    r = CliRunner().invoke(app, [*args, "--no-sensitivity", "--no-store"])
    assert r.exit_code == 0 and "sensitivity" not in r.output and seen == [True, False]


# --- §8 check 5 (--protocol beijing): the same report on each split with a control --------------------------------


def test_check5_judges_the_sensitivity_of_each_split_with_a_control(monkeypatch) -> None:
    from bogda.forecast.avoided.check5 import check5_frames
    from forecast.test_avoided import _hourly

    # 400 days from 2 Nov 2015; the control reports every hour, so the control table keeps the weather-only days
    target, control = _hourly(400, 0, "T"), _hourly(400, 1, "C")
    splits = (((date(2015, 11, 1), date(2016, 8, 31)), (date(2016, 9, 1), date(2016, 12, 5))),)
    quick = replace(FAST, rounds=60, learning_rate=0.1, draws=300)
    rows = check5_frames(target, control, quick, splits=splits)
    plain = check5_frames(target, control, quick, splits=splits, with_sensitivity=False)
    assert [(r.features, r.test) for r in rows] == [("weather_calendar", splits[0][1]), ("with_control", splits[0][1])]
    weather, controlled = rows
    assert "sensitivity" not in weather.result.placebo
    assert all("sensitivity" not in r.result.placebo for r in plain)
    sens = controlled.result.placebo["sensitivity"]
    assert set(sens) == {
        "passed", "windows", "window_spread", "trend_on", "control_sets", "weather_only", "spread", "ci90", "judged",
        "outside",
    }  # fmt: skip
    assert sens["weather_only"] == ["without C"] and sens["judged"] == [
        *(f"window:{w}" for w in quick.windows),
        "trend_on",
    ]
    assert list(sens["windows"]) == [str(w) for w in quick.windows] and list(sens["control_sets"]) == ["without C"]
    values = [*sens["windows"].values(), sens["trend_on"], *sens["control_sets"].values()]
    assert sens["spread"] == max(values) - min(values) >= sens["window_spread"] >= 0
    # the same days and the same inputs in the same order: leaving the control out is the weather-only row exactly
    assert sens["control_sets"]["without C"] == weather.estimate.avoided_median
    # judged: the figures are the ones without the report, the row gains the check and its verdict counts it
    assert [c.name for c in controlled.checks] == [*(c.name for c in plain[1].checks), "sensitivity"]
    assert controlled.checks[-1].passed is sens["passed"]
    assert controlled.result.verdict == av.verdict(controlled.estimate, controlled.checks)
    figures = [c for c in av.check5_table(plain).columns if c not in ("checks", "verdict")]
    assert av.check5_table(rows).select(figures).equals(av.check5_table(plain).select(figures))
    far = {k: sens[k] for k in REPORT} | {"trend_on": controlled.estimate.ci90[1] + 1.0}
    check5_module = import_module("bogda.forecast.avoided.check5")  # the package's ``check5`` is the function
    monkeypatch.setattr(check5_module, "sensitivity", lambda *a, **k: far)
    forced = check5_frames(target, control, quick, splits=splits)[1]
    assert (
        forced.result.verdict == "method_failed_validation"
        and "sensitivity:FAIL" in av.check5_table([forced])["checks"][0]
    )


def test_the_check5_command_prints_the_sensitivity_under_the_table(monkeypatch) -> None:
    table, first, last = synthetic_days(n_train=400, n_test=60)
    cut = np.datetime64(first, "D")
    est = av.estimate(
        av.fit_counterfactual(table.select(table.dates < cut), table.select(table.dates >= cut), FAST), FAST
    )
    report = {**REPORT, "control_sets": {"without 1002A": 4.0}, "weather_only": ["without 1002A"]}
    check = av.sensitivity_check(replace(est, ci90=(-3.0, 3.0)), report)
    sens = {"passed": check.passed, **check.detail}
    train, test = (date(2013, 3, 1), date(2015, 2, 28)), (first, last)
    rec = av.result_record(
        est, (), label="check5:with_control", targets=["T"], controls=["1002A"], window=test, params=FAST
    )
    wo = av.result_record(est, (), label="check5:w", targets=["T"], controls=[], window=test, params=FAST)
    rows = [
        av.Check5Row("weather_calendar", train, test, replace(est, avoided_median=7.0), (), wo),
        av.Check5Row("with_control", train, test, est, (), replace(rec, placebo={**rec.placebo, "sensitivity": sens})),
    ]
    seen: list[bool] = []

    def fake(data, params=None, *, with_sensitivity):
        seen.append(with_sensitivity)
        return rows if with_sensitivity else [rows[0], replace(rows[1], result=rec)]

    monkeypatch.setattr(av, "check5", fake)
    args = ["forecast", "avoided", "--protocol", "beijing", "--no-store"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert (
        f"sensitivity with_control {first:%Y} (avoided, MC median; main {est.avoided_median:+.1f}, weather_calendar "
        "row +7.0): windows trimmed 0 d: +1.0, 91 d: -2.0; trend on +0.5; control sets without 1002A: +4.0; "
        "spread 6.0 d; judged against the main 90 % interval -3…+3: passed" in said
    ), said
    assert said.index(f"with_control {first:%Y}: ") < said.index("sensitivity with_control")  # under the table
    r = CliRunner().invoke(app, [*args, "--no-sensitivity"])
    assert r.exit_code == 0 and "sensitivity" not in r.output and seen == [True, False]


def test_the_checks_page_words_the_judged_sensitivity_and_keeps_older_rows_as_reported() -> None:
    from bogda.web.ui.forecast_checks import check_rows

    judged = av.sensitivity_check(_est((-2.0, 0.5)), REPORT)  # window 0 (+1) is outside
    stored = {"passed": judged.passed, **judged.detail}

    def row(sens: dict, show: bool) -> dict:
        return check_rows({"display": {"show_figure": show}, "placebo": {"sensitivity": sens}}, "en")[-1]

    shown = row(stored, True)
    assert shown["key"] == "sensitivity" and shown["result"] == "failed"
    assert "Variants outside the interval: Reference window 0 alone (shifted by 0 days)" in shown["figures"]
    assert any(
        f.startswith("Judged: every variant") for f in shown["figures"]
    ) and "With a linear trend: +0.5" in " ".join(shown["figures"])
    hidden = row(stored, False)  # a refused figure: the names outside stay, the variants' days do not
    assert hidden["result"] == "failed" and not any("+0.5" in f for f in hidden["figures"])
    assert any("outside the interval" in f for f in hidden["figures"])
    older = row(REPORT, True)  # stored before the check was judged: the report only
    assert older["result"] == "reported" and not any(f.startswith("Judged") for f in older["figures"])
