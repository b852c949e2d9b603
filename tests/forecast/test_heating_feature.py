"""The heating-season flag as a forecast feature (forecast.md §2 "Calendar": "A heating-season flag from
per-prefecture dates (configuration, no default)"): the shared calendar function, the ``tgt_heating`` column of the
hourly and daily features, the backtest's ``ProtocolConfig.heating`` / ``--heating-season``, the
``[forecast] heating_season`` setting, and the operational bundle that records its season for the refresh."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import avoided as av
from bogda.forecast import backtest as bt
from bogda.forecast import calendar as cal
from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast.features import DailyCache, FeatureContext, Panel, daily_features, hourly_features
from bogda.forecast.models import FAST
from bogda.forecast.synthetic import synthetic_frame
from bogda.store import Store
from forecast.episode import mini_region

CHANGJI = ((10, 15), (4, 15))
NEW_YEAR = ((12, 31), (1, 2))  # a season of three days across the new year


def _days(*iso: str) -> np.ndarray:
    return np.array(iso, dtype="datetime64[D]")


# --------------------------------------------------------------------------------------------------------------
# the flag
# --------------------------------------------------------------------------------------------------------------


def test_the_flag_crosses_the_new_year_and_keeps_both_bounds() -> None:
    d = _days("2025-10-14", "2025-10-15", "2025-12-31", "2026-01-01", "2026-04-15", "2026-04-16", "2026-07-01")
    assert cal.heating_flag(d, CHANGJI).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    d = _days("2025-12-30", "2025-12-31", "2026-01-01", "2026-01-02", "2026-01-03")
    assert cal.heating_flag(d, NEW_YEAR).tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    # a season inside one year, and a one-day season
    assert cal.heating_flag(
        _days("2026-04-15", "2026-04-16", "2026-10-14", "2026-10-15"), ((4, 16), (10, 14))
    ).tolist() == [
        0.0,
        1.0,
        1.0,
        0.0,
    ]
    assert cal.heating_flag(_days("2026-03-01", "2026-03-02"), ((3, 1), (3, 1))).tolist() == [1.0, 0.0]
    # 29 February as a bound: in a leap year the day itself, in another year the season ends on 28 February
    assert cal.heating_flag(
        _days("2024-02-29", "2024-03-01", "2025-02-28", "2025-03-01"), ((11, 15), (2, 29))
    ).tolist() == [
        1.0,
        0.0,
        1.0,
        0.0,
    ]
    assert np.isnan(cal.heating_flag(np.array(["NaT", "2026-01-01"], dtype="datetime64[D]"), CHANGJI)[0])


def test_the_shared_flag_is_the_days_avoided_flag_day_for_day() -> None:
    """The avoided package's former loop over (month, day) pairs, kept here as the reference: the vectorised
    shared function gives the same flag on every day of 31 years, for seasons across and inside the year."""

    def former(dates: np.ndarray, season: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
        (m0, d0), (m1, d1) = season
        md = [(d.month, d.day) for d in dates.astype(object)]
        if (m0, d0) <= (m1, d1):
            return np.asarray([(m0, d0) <= x <= (m1, d1) for x in md], dtype=float)
        return np.asarray([x >= (m0, d0) or x <= (m1, d1) for x in md], dtype=float)

    days = np.arange(np.datetime64("2000-01-01"), np.datetime64("2031-01-01"))
    for season in (av.BEIJING_HEATING, CHANGJI, NEW_YEAR, ((2, 29), (3, 1)), ((3, 1), (2, 29)), ((1, 1), (12, 31))):
        np.testing.assert_array_equal(cal.heating_flag(days, season), former(days, season))
    # the package's names still work, with Beijing's season as its default
    assert av.parse_heating_season is cal.parse_heating_season and av.format_heating_season is cal.format_heating_season
    d = _days("2015-11-14", "2015-11-15", "2016-03-15", "2016-03-16")
    assert av.heating_flag(d).tolist() == [0.0, 1.0, 1.0, 0.0]
    assert av.heating_flag(d, CHANGJI).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_a_season_as_text_or_as_pairs_is_checked() -> None:
    assert cal.parse_heating_season("10-15:04-15") == CHANGJI
    assert cal.format_heating_season(cal.parse_heating_season(" 2-29:3-1 ")) == "02-29:03-01"
    for bad in ("10-15", "10-15:04-31", "13-01:04-15", "winter"):
        with pytest.raises(ValueError, match=bad):
            cal.parse_heating_season(bad)
    assert cal.check_heating_season([[10, 15], [4, 15]]) == CHANGJI
    for bad_pair in (((2, 30), (3, 1)), ((10, 15),), "10-15:04-15", None):
        with pytest.raises(ValueError, match="heating season"):
            cal.check_heating_season(bad_pair)


# --------------------------------------------------------------------------------------------------------------
# the features
# --------------------------------------------------------------------------------------------------------------


def _panel() -> Panel:
    """Two stations, 28 Dec 2025 .. 6 Jan 2026 (Beijing days; position 0 is 00:00 Beijing of 28 December)."""
    rng = np.random.default_rng(3)
    data = {"a34004": 50 + 10 * rng.standard_normal((2, 24 * 10))}
    return Panel(date(2025, 12, 28), ("X", "Y"), data)


def test_without_a_season_the_features_are_those_of_before() -> None:
    panel = _panel()
    s, t, lead = np.zeros(4, int), np.full(4, 34), np.array([37, 38, 109, 110])
    dc = DailyCache(panel, ["a34004"], ())
    plain = FeatureContext(panel, "a34004")
    none = FeatureContext(panel, "a34004", heating=None)
    x0, n0 = hourly_features(plain, s, t, lead)
    x1, n1 = hourly_features(none, s, t, lead)
    assert n1 == n0 and not any("heating" in n for n in n0)
    np.testing.assert_array_equal(x1, x0)
    d0, dn0 = daily_features(plain, dc, s, np.array([1, 2, 4, 5]), 1)
    d1, dn1 = daily_features(none, dc, s, np.array([1, 2, 4, 5]), 1)
    assert dn1 == dn0 and not any("heating" in n for n in dn0)
    np.testing.assert_array_equal(d1, d0)
    # with a season, one column more and the others unchanged, in their order and values
    with_season = FeatureContext(panel, "a34004", heating=NEW_YEAR)
    x2, n2 = hourly_features(with_season, s, t, lead)
    assert [n for n in n2 if n != "tgt_heating"] == n0 and n2.count("tgt_heating") == 1
    np.testing.assert_array_equal(np.delete(x2, n2.index("tgt_heating"), axis=1), x0)
    d2, dn2 = daily_features(with_season, dc, s, np.array([1, 2, 4, 5]), 1)
    assert [n for n in dn2 if n != "tgt_heating"] == dn0
    np.testing.assert_array_equal(np.delete(d2, dn2.index("tgt_heating"), axis=1), d0)
    # next to the other target-day calendar features, as the holiday ones are
    assert n2.index("tgt_heating") == n2.index("tgt_doy_cos") + 1
    assert dn2.index("tgt_heating") == dn2.index("tgt_doy_cos") + 1


def test_the_column_flags_the_target_hours_and_days_in_season() -> None:
    panel = _panel()
    ctx = FeatureContext(panel, "a34004", heating=NEW_YEAR)
    # issued 29 Dec 10:00 Beijing; targets 30 Dec 23:00, 31 Dec 00:00, 2 Jan 23:00, 3 Jan 00:00 (Beijing)
    x, names = hourly_features(ctx, np.zeros(4, int), np.full(4, 34), np.array([37, 38, 109, 110]))
    assert x[:, names.index("tgt_heating")].tolist() == [0.0, 1.0, 1.0, 0.0]
    # daily D+1 of days 29 Dec, 30 Dec, 1 Jan, 2 Jan: target days 30 Dec, 31 Dec, 2 Jan, 3 Jan
    dc = DailyCache(panel, ["a34004"], ())
    xd, names_d = daily_features(ctx, dc, np.array([0, 1, 0, 1]), np.array([1, 2, 4, 5]), 1)
    assert xd[:, names_d.index("tgt_heating")].tolist() == [0.0, 1.0, 1.0, 0.0]
    xd3, _ = daily_features(ctx, dc, np.array([0]), np.array([1]), 3)  # 29 Dec + 3 = 1 Jan
    assert xd3[0, names_d.index("tgt_heating")] == 1.0
    with pytest.raises(ValueError, match="heating season"):
        FeatureContext(panel, "a34004", heating=((13, 1), (4, 15)))


# --------------------------------------------------------------------------------------------------------------
# the backtest
# --------------------------------------------------------------------------------------------------------------


def test_protocol_config_checks_the_season_and_the_models_learn_the_flag() -> None:
    assert bt.ProtocolConfig().heating is None
    assert bt.ProtocolConfig(heating=[[10, 15], [4, 15]]).heating == CHANGJI  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(2, 30\)"):
        bt.ProtocolConfig(heating=((2, 30), (3, 1)))
    frame, coords = synthetic_frame(n_stations=3, n_days=480, seed=11)
    cfg = bt.ProtocolConfig(
        profile=replace(FAST, rounds_mean=10, rounds_quantile=5, max_rows=1500),
        hourly_leads=(24,),
        daily_horizons=(1,),
        quantiles=(),
        climatology="short",
        min_train_days=200,
        heating=CHANGJI,
    )
    span = (date(2016, 1, 1), date(2016, 12, 31)), (date(2017, 1, 1), date(2017, 2, 28))
    res = bt.run_protocol(frame, *span, False, config=cfg, coords=coords)
    for key in ("hourly_24h", "daily_D+1"):
        assert "tgt_heating" in res.model_inputs[key]["features"], key  # type: ignore[index]


@pytest.mark.parametrize("bad", ["13-01:04-15", "11-31:03-15", "winter"])
def test_a_bad_season_is_a_usage_error_naming_the_option(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bt.main(["--heating-season", bad, "--data", "/nonexistent"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--heating-season" in err and bad in err, err
    r = CliRunner().invoke(app, ["forecast", "backtest", "--heating-season", bad, "--data", "/nonexistent"])
    said = " ".join(r.output.split())
    assert r.exit_code == 2, r.output  # before any data is read
    assert "--heating-season" in said and bad in said, said


def test_the_command_passes_the_season_to_the_protocol(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[bt.ProtocolConfig] = []

    def fake(data_dir: Path, *, config: bt.ProtocolConfig) -> bt.ProtocolResult:
        seen.append(config)
        return bt.ProtocolResult(pl.DataFrame({"station": ["S1"], "horizon": ["D+1"], "method": ["m"], "RMSE": [1.0]}))

    monkeypatch.setattr(bt, "xinjiang2019_protocol", fake)
    out = tmp_path / "out"
    for extra, want in (([], None), (["--heating-season", "11-15:3-15"], ((11, 15), (3, 15)))):
        assert bt.main(["--protocol", "xinjiang2019", "--out", str(out), *extra]) == 0
        assert seen[-1].heating == want
    with pytest.raises(SystemExit) as exc:
        bt.main(["--check-reference", "--heating-season", "11-15:03-15"])
    assert exc.value.code == 2
    r = CliRunner().invoke(app, ["forecast", "backtest", "--check-reference", "--heating-season", "11-15:03-15"])
    assert r.exit_code == 2 and "--heating-season" in " ".join(r.output.split()), r.output


# --------------------------------------------------------------------------------------------------------------
# the setting
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """The installation's settings re-read from the environment (``get_settings`` is cached)."""
    from bogda.config import get_settings

    monkeypatch.setenv("BOGDA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BOGDA_FORECAST__HEATING_SEASON", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_the_setting_is_checked_and_has_no_default(fresh_settings: pytest.MonkeyPatch) -> None:
    from bogda.config import ForecastSettings, Settings, get_settings

    assert ForecastSettings().heating_season is None and ForecastSettings().heating() is None
    assert sv.heating_setting() is None
    fs = ForecastSettings(heating_season=" 10-15:4-15 ")
    assert fs.heating_season == "10-15:04-15" and fs.heating() == CHANGJI  # stored in full
    assert ForecastSettings(heating_season="").heating_season is None  # an empty environment value: no season
    for bad in ("13-01:04-15", "10-15", "winter"):
        with pytest.raises(ValueError, match=r"forecast\.heating_season") as exc:
            Settings(forecast={"heating_season": bad})
        assert bad in str(exc.value)
    fresh_settings.setenv("BOGDA_FORECAST__HEATING_SEASON", "10-15:04-15")
    get_settings.cache_clear()
    assert sv.heating_setting() == CHANGJI


# --------------------------------------------------------------------------------------------------------------
# training and refresh
# --------------------------------------------------------------------------------------------------------------


def test_old_bundles_without_the_field_load_with_no_season() -> None:
    bundle = op.OperationalModels({}, (), "none", "fast", 16, datetime(2026, 1, 1, tzinfo=UTC))
    del bundle.__dict__["heating"]  # as pickled before the field existed
    old = pickle.loads(pickle.dumps(bundle))
    assert "heating" not in old.__dict__ and old.heating is None


def test_a_bundle_trained_with_a_season_uses_it_at_refresh(
    sqlite_store: Store, tmp_path: Path, fresh_settings: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bogda.config import get_settings

    mini_region(sqlite_store, days=40)
    small = FAST.__class__("test", learning_rate=0.2, rounds_mean=10, rounds_quantile=5, max_rows=3000)
    fit = partial(op.train_operational, min_days=5, profile=small, blocks=((1, 72),), horizons=(1, 2))
    calls: list[dict[str, Any]] = []

    def spy_fit(*args: Any, **kw: Any) -> Any:
        calls.append(kw)
        return fit(*args, **kw)

    # no season configured: the training passes none and the bundle records none
    n, _ = sv.train_gated(sqlite_store, items=("a34004",), path=tmp_path / "plain.pkl", gated=False, fit_with=spy_fit)
    assert n == 1 and "heating" not in calls[-1]
    plain = sv.load_models(tmp_path / "plain.pkl")
    assert plain.heating is None and "tgt_heating" not in plain.items["a34004"].daily[1].feature_names
    # the installation's season reaches the training and the bundle
    fresh_settings.setenv("BOGDA_FORECAST__HEATING_SEASON", "10-15:04-15")
    get_settings.cache_clear()
    path = tmp_path / "models.pkl"
    n, _ = sv.train_gated(sqlite_store, items=("a34004",), path=path, gated=False, fit_with=spy_fit)
    assert n == 1 and calls[-1]["heating"] == CHANGJI
    bundle = sv.load_models(path)
    assert bundle.heating == CHANGJI
    assert "tgt_heating" in bundle.items["a34004"].hourly[(1, 72)].feature_names
    assert "tgt_heating" in bundle.items["a34004"].daily[1].feature_names
    # the setting changed since: the refresh builds the bundle's features and says so
    fresh_settings.setenv("BOGDA_FORECAST__HEATING_SEASON", "11-15:03-15")
    get_settings.cache_clear()
    seen: list[object] = []
    real = op._context

    def spy(*args: Any, **kw: Any) -> FeatureContext:
        ctx = real(*args, **kw)
        seen.append(ctx.heating)
        return ctx

    fresh_settings.setattr(op, "_context", spy)
    with caplog.at_level(logging.INFO, logger="bogda.forecast.service"):
        res = sv.refresh(sqlite_store, models=bundle, write=False)
    assert seen and all(h == CHANGJI for h in seen)
    assert "trained with heating season 10-15:04-15, configured 11-15:03-15" in caplog.text
    assert res.daily_aqi and not any("no model for a34004" in r for r in res.reasons)
    # the bundle without a season refreshes without the column, whatever the setting (a mismatch would raise)
    seen.clear()
    sv.refresh(sqlite_store, models=plain, write=False)
    assert seen and all(h is None for h in seen)
