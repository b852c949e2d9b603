"""Daily AQI and primary-pollutant verification (forecast.md §3.9, §8 item 4): every daily AQI item forecast by the
protocol, the forecast AQI and primary pollutant scored against the observed ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from bogda.forecast import aqi_check
from bogda.forecast.backtest import TARGET_NAMES, ProtocolConfig, main, run_protocol
from bogda.forecast.models import FAST
from bogda.forecast.synthetic import synthetic_frame
from bogda.timeutil import day_start_utc
from sharedata import require_shared

TRAIN = (date(2016, 1, 1), date(2016, 12, 31))
TEST = (date(2017, 1, 1), date(2017, 3, 31))
SMALL = ProtocolConfig(
    profile=replace(FAST, rounds_mean=40, rounds_quantile=20, max_rows=5000),
    daily_horizons=(1,),
    climatology="short",
    min_train_days=200,
)


@pytest.fixture(scope="module")
def synthetic():
    frame, coords = synthetic_frame(n_stations=3, n_days=460, seed=7)
    return frame, coords, aqi_check.item_results(frame, TRAIN, TEST, "none", config=SMALL, coords=coords)


def _mda8(frame: pl.DataFrame, station: str, day: date) -> float:
    """O3 daily maximum 8 h mean the long way: the 17 windows starting at 00..16 h of the Beijing day, each the mean
    of 8 hourly values (HJ 633-2012 5.1; every hour present on the days used here)."""
    t0 = day_start_utc(day)
    o3 = (
        frame.filter((pl.col("station_code") == station) & (pl.col("ts") >= t0))
        .sort("ts")
        .head(24)["a05024"]
        .to_numpy()
    )
    assert np.isfinite(o3).all()
    return max(float(o3[j : j + 8].mean()) for j in range(17))


def test_every_daily_item_is_a_protocol_target_with_its_own_scale(synthetic):
    frame, _, res = synthetic
    assert set(res) == set(aqi_check.ITEMS)
    names = {item: r.scores["target"].unique().to_list() for item, r in res.items()}
    assert names["a34004"] == ["daily_mean_PM2.5"] and names["O3_8h_max"] == ["daily_max_8h_O3"]
    assert names["O3_1h_max"] == ["daily_max_1h_O3"] and names["a21005"] == ["daily_mean_CO"]
    # the daily items have no hourly leads of their own, and each is scored with its IAQI 100 / 200 thresholds
    assert set(res["O3_8h_max"].scores["horizon"]) == {"D+1"}
    assert {"TS_gt160", "TS_gt265"} <= set(res["O3_8h_max"].scores.columns)
    assert {"TS_gt4", "TS_gt24"} <= set(res["a21005"].scores.columns)
    assert {"TS_gt75", "TS_gt150"} <= set(res["a34004"].scores.columns)
    # the O3 8 h target is the daily maximum of the 8-hour means, checked on days with every hour present
    pairs = res["O3_8h_max"].pairs[("daily", "D+1")]
    first, stations = res["O3_8h_max"].first_day, res["O3_8h_max"].stations
    assert first is not None
    checked = 0
    for i in range(0, pairs.obs.size, 7):
        station, day = stations[pairs.station[i]], first + timedelta(days=int(pairs.target[i]))
        rows = frame.filter((pl.col("station_code") == station) & (pl.col("ts") >= day_start_utc(day))).head(24)
        if rows["a05024"].is_null().any() or rows["a05024"].is_nan().any():
            continue
        assert pairs.obs[i] == pytest.approx(_mda8(frame, station, day), rel=1e-9)
        checked += 1
    assert checked >= 10


def test_unknown_target_is_refused_by_name():
    frame, coords = synthetic_frame(n_stations=2, n_days=60, seed=1)
    with pytest.raises(ValueError, match="target 'PM25'"):
        run_protocol(frame, TRAIN, TEST, "none", config=replace(SMALL, target="PM25"), coords=coords)


def test_joined_days_hold_every_item_and_the_observations_score_perfectly(synthetic):
    _, _, res = synthetic
    table = aqi_check.joined_days(res, "D+1", "lgbm_none")
    labels = ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3_8h", "O3_1h"]
    assert [c for c in table.columns if c.startswith("obs_")] == [f"obs_{k}" for k in labels]
    assert table.height > 200 and table.select(pl.all().is_null().any()).row(0) == (False,) * table.width
    # the observations as a forecast: the scoring itself cannot be what makes a method look good or bad
    perfect = table.with_columns(pl.col(f"obs_{k}").alias(f"fc_{k}") for k in labels)
    s = aqi_check.aqi_scores(perfect)
    assert s["AQI_RMSE"] == 0 and s["level_acc"] == 1 and s["primary_acc"] == 1
    assert s["range_acc"] == 1 and s["level_range_acc"] == 1
    assert s["n"] == table.height and 0 < s["n_primary_days"] <= table.height
    # a method missing for an item gives no rows rather than a partial AQI
    assert aqi_check.joined_days(res, "D+1", "no_such_method").height == 0


def test_primary_pollutant_and_o3_scores_on_a_worked_example():
    """Four days under HJ 633-2012 (items in µg/m³, CO mg/m³):

    1. PM2.5 80 (IAQI 107) primary in both → hit;
    2. observed PM10 primary (PM10 250, IAQI 150), forecast PM2.5 (PM2.5 120 → IAQI 158) → miss;
    3. observed AQI 35 (no primary pollutant): not counted;
    4. observed O3 8 h 180 (IAQI 118) primary, forecast O3 8 h 170 (IAQI 109) primary → hit; O3 > 160 hit.
    Day 2's forecast O3 8 h 165 is a false alarm of O3 > 160; no O3 miss. So primary 2 / 3, O3 CSI 1 / 2.
    """
    base = {"SO2": 5.0, "NO2": 20.0, "CO": 0.5, "O3_1h": 60.0}
    obs = [
        base | {"PM2.5": 80.0, "PM10": 90.0, "O3_8h": 50.0},
        base | {"PM2.5": 60.0, "PM10": 250.0, "O3_8h": 50.0},
        base | {"PM2.5": 20.0, "PM10": 30.0, "O3_8h": 40.0},
        base | {"PM2.5": 20.0, "PM10": 30.0, "O3_8h": 180.0, "O3_1h": 200.0},
    ]
    fc = [
        base | {"PM2.5": 78.0, "PM10": 90.0, "O3_8h": 60.0},
        base | {"PM2.5": 120.0, "PM10": 180.0, "O3_8h": 165.0},
        base | {"PM2.5": 30.0, "PM10": 40.0, "O3_8h": 40.0},
        base | {"PM2.5": 20.0, "PM10": 30.0, "O3_8h": 170.0, "O3_1h": 190.0},
    ]
    cols: dict[str, object] = {"station": ["X"] * 4, "day": [date(2016, 6, d) for d in (1, 2, 3, 4)]}
    for k in obs[0]:
        cols[f"obs_{k}"] = [o[k] for o in obs]
        cols[f"fc_{k}"] = [f[k] for f in fc]
    s = aqi_check.aqi_scores(pl.DataFrame(cols))
    assert s["n"] == 4 and s["n_primary_days"] == 3
    assert s["primary_acc"] == pytest.approx(2 / 3)
    assert (s["TS_O3_8h_gt160"], s["POD_O3_8h_gt160"], s["FAR_O3_8h_gt160"]) == (0.5, 1.0, 0.5)
    # AQI > 100: observed on days 1, 2 and 4; forecast on 1, 2 (158) and 4 → all hits
    assert s["TS_AQI_gt100"] == 1.0 and s["TS_AQI_gt200"] is None
    # published ranges (forecast AQI ≤ 100: 20 wide, ≤ 200: 30 wide; observed AQI 107, 150, 30, 119): 104 → 89–119
    # and 158 → 143–173 and 110 → 95–125 hold theirs; 43 → 33–53 misses the observed 30 (优) in AQI, but spans
    # 优至良, so its level holds: range 3 / 4, level range 4 / 4 (exact level: 3 / 4, day 2 is 中度 against 轻度)
    assert s["range_acc"] == pytest.approx(3 / 4) and s["level_range_acc"] == 1.0 and s["level_acc"] == 0.75
    # four days are too few to resample: no interval is claimed for them
    assert s["primary_acc_lo"] is None and s["TS_O3_8h_gt160_hi"] is None


def test_score_table_puts_the_baselines_beside_the_model(synthetic):
    _, _, res = synthetic
    sc = aqi_check.score_table(res, "none")
    assert set(sc["method"]) == {"lgbm_none", "persistence", "damped_persistence"}
    assert sc.group_by("station").agg(pl.col("n").n_unique())["n"].max() == 1  # the same days for every method
    row = sc.filter((pl.col("station") == "S000") & (pl.col("method") == "lgbm_none")).row(0, named=True)
    assert row["level_acc_lo"] <= row["level_acc"] <= row["level_acc_hi"]
    assert row["AQI_RMSE_lo"] < row["AQI_RMSE"] < row["AQI_RMSE_hi"]
    goals = aqi_check.aqi_goals(sc, station="S000", mode="none")
    assert [g.name for g in goals] == ["D+1 primary_acc, none", "D+1 TS_O3_8h_gt160, none"]
    # the synthetic O3 never exceeds 160: the goal has no value (reported "not measured"), never a made-up 0
    assert goals[0].value is not None and goals[1].value is None
    lo, hi = goals[0].interval
    assert lo is not None and hi is not None and lo <= goals[0].value <= hi


def test_aqi_option_only_with_the_beijing_protocol(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--protocol", "xinjiang2019", "--aqi"])
    assert e.value.code == 2
    assert "--aqi: only with --protocol beijing" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["none", "noisy_proxy"])
def test_aqi_command_writes_both_tables_and_judges_the_goals_in_the_noisy_proxy_only(
    synthetic, mode, monkeypatch, tmp_path, capsys
):
    """``backtest --aqi`` end to end with the Beijing run replaced by the synthetic one (the real one takes an hour)."""
    _, _, res = synthetic
    scores = aqi_check.score_table(res, "none")
    items = pl.concat([r.scores for r in res.values()], how="diagonal_relaxed").with_columns(
        pl.lit(mode).alias("weather_mode")
    )
    if mode == "noisy_proxy":  # the synthetic runs were made without weather: relabel them as the mode asked for
        scores = scores.with_columns(
            pl.lit(mode).alias("weather_mode"), pl.col("method").str.replace("lgbm_none", "lgbm_noisy_proxy")
        )
    calls = []

    def fake(data, modes, *, stations, config):
        calls.append((tuple(modes), tuple(stations)))
        return scores, items, 1.0

    monkeypatch.setattr(aqi_check, "beijing_aqi_check", fake)
    argv = ["--protocol", "beijing", "--aqi", "--modes", mode, "--stations", "Dongsi", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert calls == [((mode,), ("1003A",))]
    if mode == "none":
        assert "checked in mode noisy_proxy, which was not run" in out and "→" not in out
    else:
        assert "D+1 primary_acc, noisy_proxy: " in out and "D+1 TS_O3_8h_gt160, noisy_proxy: not measured" in out
    written = pl.read_csv(tmp_path / "verification.csv", infer_schema_length=None)
    assert set(written["target"]) == {*TARGET_NAMES.values(), "daily_AQI"}
    assert pl.read_csv(tmp_path / "aqi_scores.csv")["primary_acc"].null_count() == 0


AQI_NOT_MET: dict[str, str] = {}
"""Goals measured and not met on Dongsi: none (2026-11-30: primary 0.759, O3 8 h CSI 0.565; docs/forecast.md §3.4)."""


@pytest.fixture(scope="module")
def dongsi_aqi():
    data = require_shared("beijing").parent
    scores, _, _ = aqi_check.beijing_aqi_check(data, ("noisy_proxy",))
    return {g.name: g for g in aqi_check.aqi_goals(scores)}


@pytest.mark.slow
@pytest.mark.release  # make test-release: 7 items × 12 monthly refits of the D+1 models
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(
    "goal",
    [
        pytest.param(
            name, marks=[pytest.mark.xfail(reason=AQI_NOT_MET[name], strict=False)] if name in AQI_NOT_MET else []
        )
        for name in ("D+1 primary_acc, noisy_proxy", "D+1 TS_O3_8h_gt160, noisy_proxy")
    ],
)
def test_dongsi_aqi_goal(dongsi_aqi, goal):
    g = dongsi_aqi[goal]
    assert g.value is not None and g.met, f"{g.name}: {g.value} vs {g.threshold} (gap {g.gap})"
