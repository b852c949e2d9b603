"""Backtest protocols: readers, unit check, baselines against the reference figures, the Dongsi release targets
(forecast.md §6, §8)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from bogda.forecast import verify
from bogda.forecast.backtest import (
    BEIJING_TEST,
    BEIJING_TRAIN,
    ProtocolConfig,
    ProtocolResult,
    beijing_protocol,
    dongsi_goals,
    load_beijing,
    run_protocol,
)
from bogda.forecast.models import FAST
from bogda.forecast.observations import UnitError, check_co_unit, read_cnemc_frame, read_prsa_frame
from bogda.forecast.synthetic import synthetic_frame
from sharedata import require_shared

DONGSI = "PRSA_Data_Dongsi_20130301-20170228.csv.gz"


def test_co_unit_error_names_the_station():
    check_co_unit(np.array([0.5, 1.2, np.nan]), "1003A")
    with pytest.raises(UnitError, match="1003A"):
        check_co_unit(np.array([300.0, 1200.0]), "1003A")


@pytest.fixture(scope="module")
def beijing():
    path = require_shared("beijing")
    return load_beijing(path.parent)


def test_prsa_reader_counts_and_units(beijing):
    frames, coords = beijing
    dongsi = next(f for f in frames if f["station_code"][0] == "1003A")
    assert dongsi.height == 35064
    # hour 0 of 2013-03-01 Beijing is 16:00 UTC the day before (label = interval start)
    assert str(dongsi["ts"][0]) == "2013-02-28 16:00:00+00:00"
    assert dongsi["a21005"].median() < 5  # CO now mg/m³
    assert len(coords) == 8


def test_loading_co_without_unit_declaration_raises():
    """forecast.md §8 item 1: the monitoring reader leaves an undeclared CO column out; that is the §6 unit error."""
    path = require_shared("beijing", DONGSI)
    with pytest.raises(UnitError, match=r"station 1003A: CO not loaded \(undeclared unit"):
        read_prsa_frame(path, co_unit=None)


def test_co_declared_in_the_wrong_unit_trips_the_median_check():
    path = require_shared("beijing", DONGSI)
    with pytest.raises(UnitError, match="station 1003A: CO median"):
        read_prsa_frame(path, co_unit="mg/m3")
    with pytest.raises(UnitError, match=r"1003A.*cannot be converted"):
        read_prsa_frame(path, co_unit="ppm")


_PRSA_HEAD = "No,year,month,day,hour,PM2.5,PM10,SO2,NO2,CO,O3,TEMP,PRES,DEWP,RAIN,wd,WSPM,station\n"


def test_prsa_frame_columns_calm_hours_and_missing_values(tmp_path):
    path = tmp_path / "PRSA_Data_Dongsi_x.csv"
    path.write_text(
        _PRSA_HEAD
        + '1,2016,3,1,0,10,20,3,40,1200,50,2.0,1020.0,-8.0,0.0,"N",0.0,"Dongsi"\n'
        + '2,2016,3,1,1,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,"Dongsi"\n'
        + '3,2016,3,1,2,12,22,3,41,NA,52,1.0,1021.0,-9.0,0.1,NA,2.0,"Dongsi"\n'
        + '4,2016,3,1,3,14,24,3,42,1000,54,1.0,1021.0,-9.0,0.0,"E",2.0,"Dongsi"\n'
    )
    f = read_prsa_frame(path)
    assert f.columns == [
        "station_code", "a34004", "a34002", "a21026", "a21004", "a05024", "a21005",
        "t2m", "td2m", "rh2m", "ws10", "u10", "v10", "psfc", "precip", "ts",
    ]  # fmt: skip
    assert f["station_code"].to_list() == ["1003A"] * 4  # the all-NA hour keeps its row
    assert [str(t) for t in f["ts"]] == [f"2016-02-29 {h}:00:00+00:00" for h in (16, 17, 18, 19)]  # label = start
    assert f["a21005"].to_list()[0] == pytest.approx(1.2)  # µg/m³ → mg/m³
    assert np.isnan(f["a21005"][2]) and f["a34004"][1] is None  # numpy columns NaN, the others null
    assert (f["u10"][0], f["v10"][0]) == (0.0, 0.0)  # calm: no direction, no wind
    assert np.isnan(f["u10"][2])  # wind without a direction stays unknown
    assert f["u10"][3] == pytest.approx(-2.0) and f["v10"][3] == pytest.approx(0.0, abs=1e-12)


def test_cnemc_frame_hour_labels_and_silent_stations(tmp_path):
    path = tmp_path / "cnemc.csv"
    rows = ["date,hour,type,1490A,1491A", "20190101,0,PM2.5,30,", "20190101,0,CO,1.5,", "20190101,0,AQI,40,"]
    rows += ["date,hour,type,1490A,1491A", "20190101,1,PM2.5,,", "20190101,1,PM2.5_24h,33,"]
    path.write_text("\n".join(rows) + "\n")
    f = read_cnemc_frame(path)
    assert f.columns == ["station_code", "a34004", "a34002", "a21026", "a21004", "a05024", "a21005", "ts"]
    # hour 0 of 2019-01-01 is 23:00-24:00 Beijing of 2018-12-31 (label = end): 15:00 UTC
    assert [(c, str(t)) for c, t in f.select("station_code", "ts").rows()] == [
        ("1490A", "2018-12-31 15:00:00+00:00"),
        ("1490A", "2018-12-31 16:00:00+00:00"),
        ("1491A", "2018-12-31 15:00:00+00:00"),
        ("1491A", "2018-12-31 16:00:00+00:00"),
    ]
    assert f["a34004"].to_list() == [30.0, None, None, None]
    assert f["a21005"].to_list() == [1.5, None, None, None]


REFERENCE_CSV = ("forecast_benchmarks", "dongsi_pm25_baselines.csv")


@pytest.fixture(scope="module")
def baseline_scores(beijing):
    frames, coords = beijing
    cfg = ProtocolConfig(model=False, stations_to_score=("1003A",), neighbour_km=80.0)
    return run_protocol(frames, BEIJING_TRAIN, BEIJING_TEST, "none", config=cfg, coords=coords).scores


def _reference_rows() -> list[dict[str, object]]:
    ref = pl.read_csv(require_shared(*REFERENCE_CSV))
    return ref.filter(~pl.col("method").str.starts_with("lgbm")).to_dicts()


@pytest.mark.parametrize("ref", _reference_rows(), ids=lambda r: f"{r['horizon']}-{r['method']}")
def test_baselines_match_reference_figures(baseline_scores, ref):
    """forecast.md §8.2: RMSE and MAE within ±0.05 (damped hourly: ±0.1, see note), scores within ±0.005."""
    row = baseline_scores.filter((pl.col("horizon") == ref["horizon"]) & (pl.col("method") == ref["method"])).to_dicts()
    assert row, f"method {ref['method']} at {ref['horizon']} missing"
    got = row[0]
    assert got["n"] == ref["n"]
    # The reference file notes the damped fit depends slightly on which early training rows are used.
    tol = 0.1 if ref["method"] == "damped_persistence" and ref["horizon"].endswith("h") else 0.05
    for k in ("RMSE", "MAE"):
        assert got[k] == pytest.approx(ref[k], abs=tol), k
    for k in ("level_acc", "level_acc_pm1", "TS_gt75", "TS_gt150", "POD_gt150", "FAR_gt150"):
        if ref[k] is not None:
            assert got[k] == pytest.approx(ref[k], abs=0.005), k
        elif k in got:
            assert got[k] is None, k


def test_protocol_on_synthetic_data_reports_skill_and_skips_empty_stations():
    frame, coords = synthetic_frame(n_stations=3, n_days=500, seed=5)
    empty = frame.filter(pl.col("station_code") == "S000").with_columns(
        pl.lit("S999").alias("station_code"), pl.lit(None, pl.Float64).alias("a34004")
    )
    coords["S999"] = coords["S000"]
    from datetime import date

    cfg = ProtocolConfig(
        profile=replace(FAST, rounds_mean=60, rounds_quantile=30, max_rows=6000),
        hourly_leads=(1, 24),
        daily_horizons=(1,),
        climatology="short",
        min_train_days=200,
    )
    res = run_protocol(
        pl.concat([frame, empty]),
        (date(2016, 1, 1), date(2016, 12, 31)),
        (date(2017, 1, 1), date(2017, 5, 10)),
        False,
        config=cfg,
        coords=coords,
    )
    assert res.skipped == {"S999": "no data"}
    sc = res.scores
    assert set(sc["station"]) == {"S000", "S001", "S002"}
    one = sc.filter((pl.col("horizon") == "1h") & (pl.col("method") == "lgbm_none"))
    assert (one["SS_clim"] > 0.3).all()
    assert one["coverage_p10_p90"].is_not_null().all()
    d1 = sc.filter((pl.col("horizon") == "D+1") & (pl.col("method") == "lgbm_none"))
    assert {"Brier_gt150", "BSS_gt75", "TS_gt150", "level_acc"} <= set(d1.columns)
    # identical pairs for every method of a horizon
    assert sc.filter(pl.col("horizon") == "24h").group_by("station").agg(pl.col("n").n_unique())["n"].max() == 1
    assert res.model_inputs["hourly_24h"]["weather_mode"] == "none"


@pytest.fixture(scope="module")
def dongsi_daily_goals():
    data = require_shared("beijing").parent
    cfg = ProtocolConfig(hourly_leads=(), daily_horizons=(1,), quantiles=())
    res = beijing_protocol(data, ("Dongsi",), modes=("none",), config=cfg)
    return {g.name: g for g in dongsi_goals(res)}


_NOT_YET_24H = (
    "measured 77.35 against the goal 76.86 (gap +0.49; the unprocessed model 76.23): the 24 h post-processing "
    "chosen on the training-period folds makes the test year worse; the goal is inside the figure's 90 % interval "
    "74.71–80.22 (skill against damped persistence 0.044, 0.009–0.077); docs/forecast.md §3.2, §3.6"
)
_NOT_YET_TS = (
    "measured 0.536 against the goal 0.55 (gap −0.014) with recency weights and the daily tail weight chosen on the "
    "inner folds; the goal is inside the figure's 90 % interval 0.418–0.630; docs/forecast.md §3.2, §3.6"
)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first goal pays the fixture (the daily models alone: 151 s on an idle core)
@pytest.mark.parametrize(
    "goal",
    [
        "daily D+1 RMSE, none",
        pytest.param("daily D+1 TS>150, none", marks=pytest.mark.xfail(reason=_NOT_YET_TS, strict=False)),
    ],
)
def test_dongsi_release_targets(dongsi_daily_goals, goal):
    """forecast.md §8.10 on the Dongsi protocol without weather: D+1 RMSE ≤ 49 and TS>150 ≥ 0.55 (the
    observed-weather goal is in test_dongsi_observed.py, a file of its own so that the two long runs go to different
    test workers; the hourly 24 h goal is the ``release`` test below)."""
    g = dongsi_daily_goals[goal]
    assert g.met, f"{g.name}: {g.value:.3f} vs {g.threshold:.3f} (gap {g.gap:+.3f})"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_dongsi_goals_carry_their_intervals(dongsi_daily_goals):
    """Each D+1 goal reports the 90 % bootstrap interval of its figure over the 342 test days (confidence.py):
    it holds the figure, and a threat score resting on about 55 heavy days is uncertain by several hits."""
    for g in dongsi_daily_goals.values():
        if g.value is None:
            continue
        lo, hi = g.interval
        assert lo is not None and hi is not None and lo <= g.value <= hi, g
    lo, hi = dongsi_daily_goals["daily D+1 TS>150, none"].interval
    assert hi - lo > 0.05


@pytest.mark.slow
@pytest.mark.release
@pytest.mark.timeout(3600)
@pytest.mark.xfail(reason=_NOT_YET_24H, strict=False)
def test_dongsi_hourly_24h_goal():
    """forecast.md §8.10: hourly 24 h RMSE at least 5 % below damped persistence on the Dongsi protocol without
    weather. A release measurement (``make test-release``), not part of ``make test``: its 12 monthly refits of the
    hourly model on every training row take about 11 min of one core on the CI machine, which the suite's 30 min
    budget on two cores cannot carry beside the rest, and the goal is known not met (the reason above)."""
    data = require_shared("beijing").parent
    cfg = ProtocolConfig(hourly_leads=(24,), daily_horizons=(), quantiles=())
    res = beijing_protocol(data, ("Dongsi",), modes=("none",), config=cfg)
    (g,) = [g for g in dongsi_goals(res) if g.name.startswith("hourly 24h RMSE ≤ 0.95")]
    assert g.met, f"{g.name}: {g.value:.3f} vs {g.threshold:.3f} (gap {g.gap:+.3f})"


@pytest.mark.slow
@pytest.mark.release
@pytest.mark.timeout(3600)
def test_dongsi_hourly_1h_goal():
    """forecast.md §8 item 4: hourly 1 h RMSE ≤ 19.5 without weather (reference 19.78; measured 19.12 on
    2026-11-30, 12 monthly refits of the 1 h model: 35 min of one core beside another run)."""
    data = require_shared("beijing").parent
    cfg = ProtocolConfig(hourly_leads=(1,), daily_horizons=(), quantiles=())
    res = beijing_protocol(data, ("Dongsi",), modes=("none",), config=cfg)
    (g,) = [g for g in dongsi_goals(res) if g.name == "hourly 1h RMSE ≤ 19.5, none"]
    assert g.value is not None and g.met, f"{g.name}: {g.value} vs {g.threshold} (gap {g.gap})"


def test_item4_hourly_goals_read_their_modes():
    """forecast.md §8 item 4: 1 h ≤ 19.5 and 24 h ≤ 78 without weather; 24 / 48 / 72 h ≤ 60 / 65 / 70 with observed
    weather; a lead not run is "not measured" (no value, never met)."""

    def table(mode: str, figures: dict[str, float]) -> ProtocolResult:
        rows = [{"station": "1003A", "horizon": h, "method": f"lgbm_{mode}", "RMSE": v} for h, v in figures.items()]
        return ProtocolResult(pl.DataFrame(rows))

    res = {"none": table("none", {"1h": 19.6, "24h": 77.4}), "observed_proxy": table("observed_proxy", {"24h": 47.0})}
    goals = {g.name: g for g in dongsi_goals(res)}
    assert not goals["hourly 1h RMSE ≤ 19.5, none"].met
    assert goals["hourly 1h RMSE ≤ 19.5, none"].gap == pytest.approx(0.1)
    assert goals["hourly 24h RMSE ≤ 78, none"].met
    assert goals["hourly 24h RMSE ≤ 60, observed_proxy"].met
    assert goals["hourly 48h RMSE ≤ 65, observed_proxy"].value is None
    assert not goals["hourly 72h RMSE ≤ 70, observed_proxy"].met


def _three_stations(max_rows: int = 3000, **changes):
    """Three synthetic stations over 480 days, a small protocol and its (train, test) spans, for the tests of the
    protocol's options (``changes`` replace fields of the config)."""
    from datetime import date

    frame, coords = synthetic_frame(n_stations=3, n_days=480, seed=11)
    cfg = ProtocolConfig(
        profile=replace(FAST, rounds_mean=30, rounds_quantile=10, max_rows=max_rows),
        hourly_leads=(24,),
        daily_horizons=(1,),
        quantiles=(),
        climatology="short",
        min_train_days=200,
    )
    span = (date(2016, 1, 1), date(2016, 12, 31)), (date(2017, 1, 1), date(2017, 3, 31))
    return frame, coords, replace(cfg, **changes), span


def test_monthly_refit_moves_the_model_not_the_baselines():
    """forecast.md §3.9 rolling origin: ``refit="month"`` refits the model at each test month on the window moved
    forward (so its forecasts change), while climatology and damping stay on the training period (the baselines
    are those of one fit, as the reference figures are); an unknown refit is refused."""
    frame, coords, cfg, span = _three_stations()
    once = run_protocol(frame, *span, False, config=replace(cfg, refit="once"), coords=coords).scores
    month = run_protocol(frame, *span, False, config=replace(cfg, refit="month"), coords=coords).scores
    key = ["station", "horizon", "method"]
    joined = once.join(month, on=key, suffix="_m")
    base = joined.filter(pl.col("method") != "lgbm_none")
    assert base.height >= 6
    assert (base["RMSE"] - base["RMSE_m"]).abs().max() < 1e-9
    model = joined.filter(pl.col("method") == "lgbm_none")
    assert (model["RMSE"] - model["RMSE_m"]).abs().max() > 1e-6
    assert (model["n"] == model["n_m"]).all()
    with pytest.raises(ValueError, match="refit"):
        run_protocol(frame, *span, False, config=replace(cfg, refit="weekly"), coords=coords)


def test_expanding_window_keeps_the_training_start():
    """ProtocolConfig.window: a monthly refit trains on the training period's length moved forward (``moving``)
    or on every target from the training period's start (``expanding``): the last month's daily model then has
    the earlier rows too; the baselines are the same either way; an unknown window is refused."""
    frame, coords, cfg, span = _three_stations(50_000, hourly_leads=(), refit="month")
    moving = run_protocol(frame, *span, False, config=cfg, coords=coords)
    expanding = run_protocol(frame, *span, False, config=replace(cfg, window="expanding"), coords=coords)
    rows_moving = moving.model_inputs["daily_D+1"]["n_rows"]
    rows_expanding = expanding.model_inputs["daily_D+1"]["n_rows"]
    # March 2017: the moving window starts on 2016-03-01, the expanding one on 2016-01-01 (60 days × 3 stations)
    assert rows_expanding - rows_moving == pytest.approx(60 * 3, abs=6)
    key = ["station", "horizon", "method"]
    joined = moving.scores.join(expanding.scores, on=key, suffix="_e").filter(pl.col("method") != "lgbm_none")
    assert joined.height >= 3 and (joined["RMSE"] - joined["RMSE_e"]).abs().max() < 1e-9
    with pytest.raises(ValueError, match="window"):
        run_protocol(frame, *span, False, config=replace(cfg, window="growing"), coords=coords)


def test_models_can_be_trained_on_the_scored_stations_alone():
    """ProtocolConfig.train_on: ``"scored"`` trains every model on the scored stations' rows only (the reference
    file's own-station models, check 3), a third of the pooled rows for one station of three, while the baselines
    (climatology and damping, fitted on every station) do not move; an unknown value is refused."""
    frame, coords, cfg, span = _three_stations(50_000, refit="once")
    first = frame["station_code"].unique().sort()[0]
    cfg = replace(cfg, stations_to_score=(first,))
    pooled = run_protocol(frame, *span, False, config=cfg, coords=coords)
    own = run_protocol(frame, *span, False, config=replace(cfg, train_on="scored"), coords=coords)
    for key in ("hourly_24h", "daily_D+1"):
        assert own.model_inputs[key]["n_rows"] == pytest.approx(pooled.model_inputs[key]["n_rows"] / 3, rel=0.05)
    assert set(own.scores["station"]) == {first}
    joined = pooled.scores.join(own.scores, on=["station", "horizon", "method"], suffix="_own")
    base = joined.filter(~pl.col("method").str.starts_with("lgbm"))
    assert base.height >= 6 and (base["RMSE"] - base["RMSE_own"]).abs().max() < 1e-9
    model = joined.filter(pl.col("method") == "lgbm_none")
    assert model.height == 2 and (model["RMSE"] - model["RMSE_own"]).abs().max() > 1e-6
    with pytest.raises(ValueError, match="train_on"):
        run_protocol(frame, *span, False, config=replace(cfg, train_on="mine"), coords=coords)


def test_post_processing_is_scored_beside_the_raw_model():
    """ProtocolConfig.post: blend with damped persistence and anomaly inflation, only at the listed horizon and
    weather mode, with the unprocessed model scored beside it (lgbm_none_raw)."""
    from datetime import date

    from bogda.forecast.backtest import post_process

    frame, _ = synthetic_frame(n_stations=3, n_days=420, seed=3)
    cfg = ProtocolConfig(
        profile=replace(FAST, rounds_mean=40, rounds_quantile=10, max_rows=4000),
        hourly_leads=(24,),
        daily_horizons=(1,),
        climatology="short",
        min_train_days=200,
        post=(("24h", 1.5, 0.5),),
    )
    res = run_protocol(
        frame, (date(2016, 1, 1), date(2016, 11, 30)), (date(2016, 12, 1), date(2017, 2, 20)), False, config=cfg
    )
    sc = res.scores
    h24 = sc.filter(pl.col("horizon") == "24h")
    assert {"lgbm_none", "lgbm_none_raw"} <= set(h24["method"])
    assert set(sc.filter(pl.col("horizon") == "D+1")["method"]).isdisjoint({"lgbm_none_raw"})
    rm = {r["method"]: r["RMSE"] for r in h24.filter(pl.col("station") == "S000").to_dicts()}
    assert rm["lgbm_none"] != rm["lgbm_none_raw"]
    assert res.model_inputs["post_24h"] == {"inflation": 1.5, "model_weight": 0.5}
    # the scored pairs come back with the result: the post-processed mean is the formula on the raw model's
    pairs = res.pairs[("hourly", "24h")]
    m = pairs.methods
    again = post_process(m["lgbm_none_raw"], m["damped_persistence"], m["climatology_hour"], 1.5, 0.5)
    assert np.allclose(again, m["lgbm_none"], equal_nan=True)
    s0 = pairs.station == 0
    assert verify.rmse(m["lgbm_none"][s0], pairs.obs[s0]) == pytest.approx(rm["lgbm_none"])
    # the formula: w·model + (1 − w)·damped, anomaly about climatology × λ, clipped at 0; gaps skip a step
    out = post_process(np.array([100.0, 0.0, 80.0]), np.array([60.0, 20.0, np.nan]), np.array([50.0] * 3), 2.0, 0.5)
    assert out.tolist() == [110.0, 0.0, 110.0]


def test_next_day_mean_model_is_blended_into_d1():
    """ProtocolConfig.next_day_mean: a model of the mean of the next 24 hours, trained from every issue hour (about
    24 rows per station-day where the D+1 model has one), scored beside as ``lgbm_none_next24h`` and blended into
    the D+1 mean with weight w (w = 0: the daily model alone; w = 1: the next-24-hour model alone)."""
    from datetime import date

    frame, coords = synthetic_frame(n_stations=3, n_days=420, seed=5)
    cfg = ProtocolConfig(
        profile=replace(FAST, rounds_mean=30, rounds_quantile=10, max_rows=50_000),
        hourly_leads=(),
        daily_horizons=(1, 2),
        quantiles=(),
        climatology="short",
        min_train_days=200,
        refit="once",
    )
    span = (date(2016, 1, 1), date(2016, 11, 30)), (date(2016, 12, 1), date(2017, 2, 20))

    def run(w: float | None) -> ProtocolResult:
        return run_protocol(frame, *span, False, config=replace(cfg, next_day_mean=w), coords=coords)

    alone, zero, one = run(None), run(0.0), run(1.0)
    d1 = ("daily", "D+1")
    assert "lgbm_none_next24h" not in alone.pairs[d1].methods and "next24h" not in alone.model_inputs
    np.testing.assert_array_equal(zero.pairs[d1].methods["lgbm_none"], alone.pairs[d1].methods["lgbm_none"])
    nd = one.pairs[d1].methods["lgbm_none_next24h"]
    np.testing.assert_array_equal(one.pairs[d1].methods["lgbm_none"], nd)
    assert not np.allclose(nd, alone.pairs[d1].methods["lgbm_none"])
    assert "lgbm_none_next24h" not in one.pairs[("daily", "D+2")].methods
    rows_daily = one.model_inputs["daily_D+1"]["n_rows"]
    assert 20 * rows_daily < one.model_inputs["next24h"]["n_rows"] <= 24 * rows_daily + 24 * 3


def test_daily_profile_reaches_only_the_daily_models():
    """ProtocolConfig.daily_profile: the daily models train with it (here a tail weight), the hourly ones keep the
    protocol's profile, and the baselines do not move."""
    from datetime import date

    frame, coords = synthetic_frame(n_stations=3, n_days=420, seed=12)
    cfg = ProtocolConfig(
        profile=replace(FAST, rounds_mean=30, rounds_quantile=10, max_rows=50_000),
        hourly_leads=(24,),
        daily_horizons=(1,),
        quantiles=(),
        climatology="short",
        min_train_days=200,
    )
    span = (date(2016, 1, 1), date(2016, 11, 30)), (date(2016, 12, 1), date(2017, 2, 20))
    plain = run_protocol(frame, *span, False, config=cfg, coords=coords).scores
    tailed = run_protocol(
        frame, *span, False, config=replace(cfg, daily_profile=replace(cfg.profile, tail_weight=4.0)), coords=coords
    ).scores
    joined = plain.join(tailed, on=["station", "horizon", "method"], suffix="_t")
    diff = (joined["RMSE"] - joined["RMSE_t"]).abs()
    moved = joined.filter(diff > 1e-9)
    assert set(moved["method"]) == {"lgbm_none"} and set(moved["horizon"]) == {"D+1"}
    assert moved.height >= 1


def test_beijing_config_fills_only_what_is_left_open():
    from bogda.forecast.backtest import (
        PROTOCOL_DAILY_TAIL_WEIGHT,
        PROTOCOL_POST,
        PROTOCOL_REFIT,
        beijing_config,
    )

    cfg = beijing_config(ProtocolConfig())
    assert (cfg.post, cfg.refit) == (PROTOCOL_POST, PROTOCOL_REFIT)
    assert cfg.daily_profile is not None and cfg.daily_profile.tail_weight == PROTOCOL_DAILY_TAIL_WEIGHT
    assert cfg.profile.tail_weight == 1.0  # the hourly models keep equal weights
    mine = replace(FAST, name="mine")
    kept = beijing_config(ProtocolConfig(post=(), refit="once", daily_profile=mine))
    assert (kept.post, kept.refit, kept.daily_profile) == ((), "once", mine)
