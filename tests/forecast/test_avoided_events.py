"""Days avoided for AQI events: heavy day, ozone day, dust-affected days (forecast.md §3.9 steps 1 and 3)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bogda.forecast import avoided as av
from bogda.forecast.avoided import evaluation
from bogda.standards.aqi import aqi_daily, concentration_at

FAST = av.AvoidedParams(rounds=150, learning_rate=0.06, windows=(0, 91), seeds=(0, 1), draws=400)
DAYS_2025 = np.datetime64("2025-01-01") + np.arange(4)  # HJ 633-2012 in force


def _clean(n: int) -> dict[str, np.ndarray]:
    """Six daily AQI items at a level where none is above IAQI 50."""
    return {
        "SO2": np.full(n, 5.0),
        "NO2": np.full(n, 20.0),
        "CO": np.full(n, 0.4),
        "PM10": np.full(n, 30.0),
        "PM2.5": np.full(n, 20.0),
        "O3_8h": np.full(n, 60.0),
    }


# --- events by the standards module ------------------------------------------------------------------------------


def test_heavy_and_ozone_events_follow_the_standards_aqi():
    pm_200 = float(concentration_at(200, "a34004", "24h", "2012"))  # PM2.5 at IAQI 200 (150 µg/m³)
    o3_100 = float(concentration_at(100, "a05024", "8h", "2012"))  # O3 8 h at IAQI 100 (160 µg/m³)
    d = _clean(4)
    d["PM2.5"] = np.array([pm_200 + 5.0, pm_200, 100.0, 20.0])  # heavy; exactly 200 (not > 200); AQI > 100; clean
    d["O3_8h"] = np.array([60.0, 60.0, o3_100 + 20.0, o3_100 + 20.0])
    heavy = av.aqi_event_matrix(d, DAYS_2025, av.EVENT_HEAVY)
    ozone = av.aqi_event_matrix(d, DAYS_2025, av.EVENT_OZONE)
    r = aqi_daily(d, "2012", not_monitored=("O3_1h",))
    assert heavy.tolist() == (r.aqi > 200).tolist() == [True, False, False, False]
    # day 3: AQI > 100 but PM2.5 (100 µg/m³, IAQI 133) outranks O3 (IAQI 118); day 4: O3 alone is primary
    assert r.primary[2] == "PM2.5" and r.primary[3] == "O3_8h"
    assert ozone.tolist() == [False, False, False, True]


def test_event_matrix_handles_draws_and_the_standard_change():
    d = _clean(2)
    d["PM2.5"] = np.array([160.0, 160.0])
    dates = np.array(["2026-02-28", "2026-03-01"], dtype="datetime64[D]")  # HJ 633-2012, then HJ 633-2026
    stacked = {k: np.vstack([v, v * 0.5]) for k, v in d.items()}  # (2 draws, 2 days)
    m = av.aqi_event_matrix(stacked, dates, av.EVENT_HEAVY)
    assert m.shape == (2, 2)
    for std, j in (("2012", 0), ("2026", 1)):
        r = aqi_daily({k: v[:, j] for k, v in stacked.items()}, std, not_monitored=("O3_1h",))
        assert m[:, j].tolist() == (r.aqi > 200).tolist()
    with pytest.raises(ValueError, match="unknown AQI event"):
        av.aqi_event_matrix(d, dates, "pm25>75")


def test_dust_days_use_the_official_flag_else_the_ratio_rule():
    pm25 = np.array([60.0, 120.0, 60.0, 60.0, 40.0])
    pm10 = np.array([400.0, 300.0, 400.0, 100.0, 200.0])
    official = np.array([np.nan, np.nan, 0.0, 1.0, np.nan])
    # ratio 0.15 (dust); 0.40 (haze); flag says no; flag says yes despite low PM10; 0.2 with PM10 > 150
    assert av.dust_days(pm25, pm10, official).tolist() == [True, False, False, True, True]
    assert av.dust_days(pm25, pm10, pm10_min=250.0).tolist() == [True, False, True, False, False]


# --- Monte Carlo with whole-day vectors: exact answers when the residuals are zero -------------------------------


def _cf(n: int, heavy_cf: np.ndarray, observed_pm25: np.ndarray, dust: np.ndarray) -> av.AqiCounterfactual:
    items = tuple(_clean(1))
    base = _clean(n)
    pm25_cf = np.where(heavy_cf, 200.0, 20.0)
    members = {k: np.log(np.vstack([v, v])) for k, v in base.items()}
    members["PM2.5"] = np.log(np.vstack([pm25_cf, pm25_cf]))
    observed = {k: v.copy() for k, v in base.items()}
    observed["PM2.5"] = observed_pm25
    return av.AqiCounterfactual(
        dates=np.datetime64("2025-01-01") + np.arange(n),
        items=items,
        observed=observed,
        members=members,
        residuals=np.zeros((30, len(items))),
        sigma=dict.fromkeys(items, 0.3),
        base_rate=0.1,
        dust=dust,
        event=av.EVENT_HEAVY,
        label="controlled",
    )


def test_aqi_estimate_counts_known_avoided_days_and_leaves_dust_days_out():
    n = 60
    heavy_cf = np.zeros(n, dtype=bool)
    heavy_cf[:10] = True  # the counterfactual has 10 heavy days
    obs = np.where(heavy_cf, 200.0, 20.0)
    obs[:6] = 100.0  # the measures cut 6 of them below AQI 200 → 6 avoided
    est = av.estimate_aqi(_cf(n, heavy_cf, obs, np.zeros(n, dtype=bool)), FAST)
    assert (est.n_obs, est.cf_median, est.avoided_median, est.ci90) == (4, 10.0, 6.0, (6.0, 6.0))
    # a dust-affected day is out of both counts: one of the avoided days and one of the observed heavy days
    dust = np.zeros(n, dtype=bool)
    dust[[0, 8]] = True
    cf = _cf(n, heavy_cf, obs, dust)
    est_d = av.estimate_aqi(cf, FAST)
    assert (est_d.n_days, est_d.n_obs, est_d.cf_median, est_d.avoided_median) == (n - 2, 3, 8.0, 5.0)
    assert av.dust_summary(cf) == {"days": 2, "event_days": 1, "dates": ["2025-01-01", "2025-01-09"]}


def test_aqi_draws_resample_whole_days_across_pollutants():
    # residuals that are large on the same days for PM2.5 and PM10: a joint draw keeps them together
    n = 40
    cf = _cf(n, np.zeros(n, dtype=bool), np.full(n, 20.0), np.zeros(n, dtype=bool))
    res = np.zeros((200, len(cf.items)))
    j25, j10 = cf.items.index("PM2.5"), cf.items.index("PM10")
    res[::10, j25] = res[::10, j10] = 2.5
    cf = replace(cf, residuals=res, members={k: np.zeros((2, n)) + v.mean() for k, v in cf.members.items()})
    rng = np.random.default_rng(0)
    idx = av.block_indices(res.shape[0], n, 50, 7, rng)
    pm25 = np.exp(cf.members["PM2.5"][0] + res[idx, j25])
    pm10 = np.exp(cf.members["PM10"][0] + res[idx, j10])
    assert np.array_equal(pm25 > 100.0, pm10 > 100.0)  # the same days are high for both items
    assert av.aqi_draws(cf, replace(FAST, draws=50), np.random.default_rng(0)).shape == (50, n)


# --- O3 inputs ---------------------------------------------------------------------------------------------------


def _hourly_o3(days: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = days * 24
    ts = [datetime(2024, 6, 30, 16, tzinfo=UTC) + timedelta(hours=h) for h in range(n)]  # 00 h Beijing, 1 Jul
    hour = np.arange(n) % 24
    return pl.DataFrame(
        {
            "ts": pl.Series(ts, dtype=pl.Datetime("us", "UTC")),
            "a05024": 60.0 + 80.0 * np.exp(-(((hour - 14) / 3.0) ** 2)) + rng.normal(0, 5, n),
            "t2m": 25.0 + 6.0 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 1, n),
            "td2m": rng.normal(15.0, 2.0, n),
            "rh2m": rng.uniform(40.0, 90.0, n),
            "ws10": rng.gamma(2.0, 1.0, n),
            "u10": rng.normal(0.0, 2.0, n),
            "v10": rng.normal(0.0, 2.0, n),
            "psfc": rng.normal(1005.0, 3.0, n),
            "precip": np.zeros(n),
        }
    )


def test_o3_target_is_the_daily_max_8h_and_adds_tmax_and_the_controls_o3_of_the_day_before():
    target, control = _hourly_o3(10, 0), _hourly_o3(10, 1)
    tab = av.feature_table(target, [control], pollutant="a05024")
    assert {"t2m_max", "control0_ln", "control0_ln_lag1"} <= set(tab.names)
    # the target of day 3 is the maximum 8 h mean of its local hours, as in the standards module
    local = target.with_columns(pl.col("ts").dt.convert_time_zone("Asia/Shanghai").dt.date().alias("d"))
    day = local.filter(pl.col("d") == date(2024, 7, 5))["a05024"].to_numpy()
    best = max(day[s : s + 8].mean() for s in range(17))
    i, j = (int(np.flatnonzero(tab.dates == np.datetime64(d))[0]) for d in ("2024-07-05", "2024-07-04"))
    assert tab.conc[i] == pytest.approx(best, abs=0.05)
    # the lag column of day D is the control's value of D − 1
    ci, li = tab.names.index("control0_ln"), tab.names.index("control0_ln_lag1")
    assert tab.x[i, li] == pytest.approx(tab.x[j, ci])


# --- end to end on synthetic tables with a known counterfactual --------------------------------------------------


def synthetic_items(n: int, seed: int, *, cut_from: int | None = None, cut: float = 0.6):
    """Daily tables of the six items, driven by shared weather and a shared day-to-day noise (so their errors are
    joint), plus dust days (high PM10, low PM2.5/PM10). Returns the tables, the uncut concentrations and the dust
    flags; the winter days from ``cut_from`` on have PM2.5, PM10, NO2 and CO multiplied by ``cut``."""
    rng = np.random.default_rng(seed)
    dates = np.datetime64("2013-03-01") + np.arange(n)
    doy = np.array([d.timetuple().tm_yday for d in dates.astype(object)], dtype=float)
    ang = 2.0 * np.pi * doy / 365.25
    winter = np.cos(2.0 * np.pi * (doy - 15.0) / 365.25)
    ws, rh = rng.gamma(2.0, 1.0, n), rng.uniform(20.0, 90.0, n)
    common = np.empty(n)
    common[0] = 0.0
    for i in range(1, n):  # AR(1) shared by every item: the whole-day residual vector
        common[i] = 0.3 * common[i - 1] + rng.normal(0.0, 0.12)
    base = {"SO2": 2.3, "NO2": 3.5, "CO": -0.1, "PM10": 4.3, "PM2.5": 3.85, "O3_8h": 4.4}
    season = {"SO2": 0.5, "NO2": 0.3, "CO": 0.4, "PM10": 0.5, "PM2.5": 0.7, "O3_8h": -0.6}
    tables, truth = {}, {}
    ctrl_pm10 = base["PM10"] + season["PM10"] * winter + rng.normal(0.0, 0.4, n)
    for it in base:
        ctrl = base[it] + season[it] * winter + rng.normal(0.0, 0.4, n)
        if it == "PM2.5":  # PM2.5/PM10 ≈ 0.5–0.7 outside dust days, as in combustion haze
            ctrl = ctrl_pm10 - 0.45 + 0.2 * winter + rng.normal(0.0, 0.03, n)
        elif it == "PM10":
            ctrl = ctrl_pm10
        sign = -1.0 if it == "O3_8h" else 1.0
        ln = ctrl - sign * 0.2 * (ws - 2.0) + sign * 0.01 * (rh - 50.0) + common + rng.normal(0.0, 0.05, n)
        truth[it] = np.exp(ln)
        conc = truth[it].copy()
        if cut_from is not None and it in ("PM2.5", "PM10", "NO2", "CO"):
            hit = (np.arange(n) >= cut_from) & (winter > 0.5)
            conc = np.where(hit, conc * cut, conc)
        x = np.column_stack([ws, rh, ctrl, np.sin(ang), np.cos(ang)])
        tables[it] = av.FeatureTable(dates, conc, x, ("ws", "rh", "control0_ln", "doy_sin", "doy_cos"), "controlled")
    dust = np.zeros(n, dtype=bool)
    dust[rng.choice(n, 12, replace=False)] = True
    for which in (tables, truth):
        pm10 = which["PM10"].conc if which is tables else which["PM10"]
        pm25 = which["PM2.5"].conc if which is tables else which["PM2.5"]
        new10 = np.where(dust, np.maximum(pm10, 400.0), pm10)
        new25 = np.where(dust, np.minimum(pm25, 0.2 * new10), pm25)
        if which is tables:
            tables["PM10"] = replace(tables["PM10"], conc=new10)
            tables["PM2.5"] = replace(tables["PM2.5"], conc=new25)
        else:
            truth["PM10"], truth["PM2.5"] = new10, new25
    return tables, truth, dust


def test_heavy_day_counterfactual_recovers_a_known_cut_and_counts_dust_apart():
    n_train = 3 * 365 + 1
    tables, truth, dust = synthetic_items(n_train + 365, seed=3, cut_from=n_train)
    dates = tables["PM2.5"].dates
    window = (date(2016, 3, 1), date(2017, 2, 28))
    reference = (date(2013, 3, 1), date(2016, 2, 29))
    years = [(date(2014, 3, 1), date(2015, 2, 28)), (date(2015, 3, 1), date(2016, 2, 29))]
    est, checks, rec = av.evaluate_aqi_intervention(
        tables, window, reference, years, FAST, targets=["T"], controls=["C"], label="synthetic heavy"
    )
    w = (dates >= np.datetime64(window[0])) & (dates <= np.datetime64(window[1]))
    # the evaluation finds the dust days by the PM2.5/PM10 rule: exactly the synthetic ones
    assert np.array_equal(av.dust_days(tables["PM2.5"].conc, tables["PM10"].conc), dust)
    keep = ~dust[w]
    items_w = {k: v[w] for k, v in truth.items()}
    heavy_true = av.aqi_event_matrix(items_w, dates[w], av.EVENT_HEAVY) & keep
    obs_w = {k: t.conc[w] for k, t in tables.items()}
    heavy_obs = av.aqi_event_matrix(obs_w, dates[w], av.EVENT_HEAVY) & keep
    true_avoided = int(heavy_true.sum() - heavy_obs.sum())
    assert true_avoided >= 5  # the cut is large enough to be found
    assert est.n_obs == int(heavy_obs.sum())
    assert est.ci90[0] <= true_avoided <= est.ci90[1]
    assert abs(est.avoided_median - true_avoided) <= max(3.0, 0.3 * true_avoided)
    assert [c.name for c in checks] == [
        "placebo_time_20140301", "calibration_20140301", "placebo_time_20150301", "calibration_20150301",
        "injection",
    ]  # fmt: skip
    assert rec.event == av.EVENT_HEAVY and rec.pollutant == "AQI"
    assert rec.placebo["dust"]["days"] == int(dust[w].sum())
    assert rec.placebo["placebo_space"] == {"passed": None, "not_run": True}
    # the seeded series passes every check (placebo years, calibration, injection): the effect is claimed
    assert all(c.passed for c in checks), [(c.name, c.detail) for c in checks if not c.passed]
    assert est.ci90[0] > 0 and rec.verdict == "effect_detected"


def test_aqi_placebo_in_space_fails_the_method_when_a_control_finds_an_effect():
    """Placebo in space for an AQI event (§3.9 step 5, same criteria as in time): each control station is evaluated
    as the target over the intervention window. A clean control finds nothing; a control that had the same cut (a
    "control" inside the footprint) finds avoided days, and the method is refused although the target's own
    estimate and every other check are fine."""
    n_train = 3 * 365 + 1
    tables, _, _ = synthetic_items(n_train + 365, seed=3, cut_from=n_train)  # the target: passes every other check
    clean, _, _ = synthetic_items(n_train + 365, seed=7)
    inside, _, _ = synthetic_items(n_train + 365, seed=6, cut_from=n_train)
    window = (date(2016, 3, 1), date(2017, 2, 28))
    reference = (date(2013, 3, 1), date(2016, 2, 29))
    years = [(date(2014, 3, 1), date(2015, 2, 28)), (date(2015, 3, 1), date(2016, 2, 29))]
    est, checks, rec = av.evaluate_aqi_intervention(
        tables, window, reference, years, FAST, control_tables={"C1": clean, "C2": inside}, targets=["T"],
        controls=["C1", "C2"], label="synthetic heavy",
    )  # fmt: skip
    by = {c.name: c for c in checks}
    assert [c.name for c in checks][-3:] == ["injection", "placebo_space_C1", "placebo_space_C2"]
    assert all(c.passed for n, c in by.items() if n != "placebo_space_C2"), [
        (c.name, c.detail) for c in checks if not c.passed
    ]
    c1, c2 = by["placebo_space_C1"].detail, by["placebo_space_C2"].detail
    assert c1["ci90"][0] <= 0.0 <= c1["ci90"][1] and abs(c1["avoided"]) <= FAST.placebo_max_days
    assert not by["placebo_space_C2"].passed and c2["avoided"] > FAST.placebo_max_days and c2["ci90"][0] > 0
    assert est.ci90[0] > 0 and rec.verdict == "method_failed_validation"
    # stored with the result: one entry per control, and no "not run" marker
    assert rec.placebo["placebo_space_C1"]["passed"] is True and rec.placebo["placebo_space_C2"]["passed"] is False
    assert "placebo_space" not in rec.placebo
    shown = av.presentation(rec.row(created_at=None))  # type: ignore[arg-type]
    assert not shown["show_figure"] and "placebo_space_C2" in shown["failed_checks"]


def test_a_control_without_enough_complete_days_fails_the_placebo_in_space():
    tables, _, _ = synthetic_items(300, seed=1)  # 2013-03-01 .. 2013-12-25: no full reference year
    reference, window = (date(2013, 3, 1), date(2013, 11, 30)), (date(2013, 12, 1), date(2013, 12, 25))

    def never(r, w):
        raise AssertionError("a control that cannot be judged is not evaluated")

    (check,) = av.placebo_space_checks({"C9": tables}, reference, window, FAST, never)
    assert check.name == "placebo_space_C9" and not check.passed and "too few complete days" in check.detail["reason"]


def test_ozone_day_placebo_without_intervention_finds_nothing():
    n_train = 3 * 365 + 1
    tables, _, _ = synthetic_items(n_train + 365, seed=5)  # no cut anywhere
    window = (date(2016, 3, 1), date(2017, 2, 28))
    reference = (date(2013, 3, 1), date(2016, 2, 29))
    ref = {k: t.between(*reference) for k, t in tables.items()}
    cf = av.fit_aqi_counterfactual(ref, {k: t.between(*window) for k, t in tables.items()}, FAST, event=av.EVENT_OZONE)
    est = av.estimate_aqi(cf, FAST)
    assert cf.key_item == "O3_8h" and est.sigma == pytest.approx(cf.sigma["O3_8h"])
    assert est.n_obs > 0  # the synthetic summers have ozone days
    assert est.ci90[0] <= 0.0 <= est.ci90[1]
    assert abs(est.avoided_median) <= av.AvoidedParams().placebo_max_days + math.sqrt(est.n_obs)


# --- stored observations and the command ---------------------------------------------------------------------------


def _store_aqi_stations(store, days: int, seed: int = 0, codes: tuple[str, ...] = ("T", "C1")) -> None:
    """Target T and controls (C1 by default) with hourly values of the six AQI items and some weather; the daily level
    of every item follows a shared regional signal, so a control explains the target; 3 Jan 2016 is an official dust
    day."""
    from bogda.store import series
    from bogda.store.schema import dust_day, site

    rng = np.random.default_rng(seed)
    t0 = datetime(2013, 12, 31, 16, tzinfo=UTC)  # 00 h Beijing, 1 Jan 2014
    region = rng.normal(0.0, 0.5, days)
    ts = [t0 + timedelta(hours=h) for h in range(days * 24)]
    levels = {"a21026": 2.3, "a21004": 3.5, "a21005": -0.1, "a34002": 4.6, "a34004": 4.3, "a05024": 4.0}
    with store.begin() as conn:
        ids = [
            conn.execute(
                site.insert().values(kind="air_station", code=c, name=c, attrs={}).returning(site.c.id)
            ).scalar_one()
            for c in codes
        ]
        conn.execute(dust_day.insert().values(place_code="110000", day=date(2016, 1, 3), status="official"))
    rows = []
    for sid in ids:
        ws_d = rng.gamma(2.0, 1.0, days)
        hourly = {
            code: np.repeat(np.exp(lv + region - 0.2 * ws_d + rng.normal(0.0, 0.1, days)), 24)
            * rng.lognormal(0.0, 0.1, days * 24)
            for code, lv in levels.items()
        }
        hourly |= {
            "a01001": rng.normal(5.0, 4.0, days * 24),
            "a01006": rng.normal(1015.0, 5.0, days * 24),
            "a01007": np.repeat(ws_d, 24),
            "a01008": rng.uniform(0.0, 360.0, days * 24),
        }
        for param, values in hourly.items():
            rows.append(pl.DataFrame({"site_id": sid, "parameter": param, "ts": ts, "value": values}))
    frame = pl.concat(rows).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")), pl.lit("N").alias("flag"))
    series.write_long(store, frame, resolution="hour")


def test_evaluate_stored_aqi_and_the_cli_event_option(sqlite_store, monkeypatch):
    from typer.testing import CliRunner

    from bogda.cli import app

    quick = replace(FAST, rounds=40, learning_rate=0.1, draws=200, windows=(0,), seeds=(0,))  # mechanics only
    _store_aqi_stations(sqlite_store, days=2 * 365 + 40)
    window = (date(2016, 1, 1), date(2016, 1, 31))
    est, checks, rec = av.evaluate_stored_aqi(sqlite_store, "T", ["C1"], window, quick, reference_years=2)
    assert rec.event == av.EVENT_HEAVY and rec.pollutant == "AQI" and rec.controls == ("C1",)
    assert "2016-01-03" in rec.placebo["dust"]["dates"]  # the official flag, whatever the PM ratio says
    assert est.n_days == 31 - rec.placebo["dust"]["days"]
    assert [c.name for c in checks][:2] == ["placebo_time_20140101", "calibration_20140101"]
    assert not any(c.name.startswith("placebo_space") for c in checks)  # one control: none to play the target
    assert rec.placebo["placebo_space"] == {"passed": None, "not_run": True}
    real = av.evaluate_stored_aqi
    monkeypatch.setattr(av, "evaluate_stored_aqi", lambda st, t, c, w, p, **kw: real(st, t, c, w, quick, **kw))
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    args = ["forecast", "avoided", "--target", "T", "--control", "C1", "--start", "2016-01-01", "--end", "2016-01-31"]
    r = CliRunner().invoke(app, [*args, "--event", "ozone", "--reference-years", "2", "--database-url", url])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "dust-affected days left out" in said and "verdict:" in said
    assert av.read_results(sqlite_store)[0]["event"] == av.EVENT_OZONE
    r = CliRunner().invoke(app, [*args, "--event", "pm10", "--database-url", url])
    assert r.exit_code != 0


def test_stored_aqi_runs_the_placebo_in_space_with_two_controls_and_the_command_prints_it(sqlite_store, monkeypatch):
    from typer.testing import CliRunner

    from bogda.cli import app

    quick = replace(FAST, rounds=40, learning_rate=0.1, draws=200, windows=(0,), seeds=(0,))  # mechanics only
    _store_aqi_stations(sqlite_store, days=2 * 365 + 40, seed=1, codes=("T", "C1", "C2"))
    window = (date(2016, 1, 1), date(2016, 1, 31))
    seen: list[dict] = []
    real_eval = av.evaluate_aqi_intervention

    def spy(tables, *a, **kw):  # keep what the stored path hands over, then run the real evaluation
        seen.append(kw["control_tables"])
        return real_eval(tables, *a, **kw)

    monkeypatch.setattr(evaluation, "evaluate_aqi_intervention", spy)
    _, checks, rec = av.evaluate_stored_aqi(sqlite_store, "T", ["C1", "C2"], window, quick, reference_years=2)
    ctabs = seen[0]
    assert list(ctabs) == ["C1", "C2"] and set(ctabs["C1"]) == set(av.AQI_ITEMS.values())
    # each control plays the target with the other control as its own: one control input per item, O3 with its lag
    assert [n for n in ctabs["C1"]["PM2.5"].names if n.startswith("control")] == ["control0_ln"]
    assert [n for n in ctabs["C2"]["O3_8h"].names if n.startswith("control")] == ["control0_ln", "control0_ln_lag1"]
    names = [c.name for c in checks]
    assert names[-3:] == ["placebo_space_C1", "placebo_space_C2", "sensitivity"] and names[-4] == "injection"
    for code in ("C1", "C2"):
        got = rec.placebo[f"placebo_space_{code}"]
        assert set(got) >= {"passed", "avoided", "ci90", "n_days"} and got["n_days"] > 0
    assert "placebo_space" not in rec.placebo
    failed = [c for c in checks if not c.passed]
    assert (rec.verdict == "method_failed_validation") == bool(failed)

    real = av.evaluate_stored_aqi
    monkeypatch.setattr(av, "evaluate_stored_aqi", lambda st, t, c, w, p, **kw: real(st, t, c, w, quick, **kw))
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    args = ["forecast", "avoided", "--target", "T", "--control", "C1", "--control", "C2"]
    args += ["--start", "2016-01-01", "--end", "2016-01-31", "--event", "heavy", "--reference-years", "2"]
    r = CliRunner().invoke(app, [*args, "--database-url", url])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    for code in ("C1", "C2"):
        verdict = "passed" if rec.placebo[f"placebo_space_{code}"]["passed"] else "FAILED"
        assert f"placebo_space_{code}: {verdict}" in said, said
    stored = av.read_results(sqlite_store)[0]
    assert stored["placebo"]["placebo_space_C2"] == rec.placebo["placebo_space_C2"]
