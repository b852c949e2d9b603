"""Days avoided: the prefecture's heating season (``--heating-season``) and the optional BLH, radiation and cloud
inputs (forecast.md §3.9 step 2 "heating flag", "BLH, radiation and cloud when available", "O3 adds ... radiation")."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import avoided as av
from bogda.forecast.avoided import evaluation
from forecast.test_avoided import FAST, _estimate, _hourly, _store_stations

CHANGJI = ((10, 15), (4, 15))

# --- heating season ------------------------------------------------------------------------------------------------


def test_heating_season_text_round_trip_and_errors():
    assert av.parse_heating_season("10-15:04-15") == CHANGJI
    assert av.parse_heating_season(" 11-15:03-15 ") == av.BEIJING_HEATING == av.AvoidedParams().heating
    assert av.parse_heating_season(av.format_heating_season(CHANGJI)) == CHANGJI
    assert av.parse_heating_season("2-29:3-1") == ((2, 29), (3, 1))  # a leap day is a valid bound
    for bad, why in (
        ("10-15-04-15", "is not MM-DD:MM-DD"),
        ("10-15:04-15:05-01", "is not MM-DD:MM-DD"),
        ("Oct-15:04-15", "'Oct-15' is not MM-DD"),
        ("13-01:04-15", "'13-01' is not a calendar day"),
        ("10-15:04-31", "'04-31' is not a calendar day"),
    ):
        with pytest.raises(ValueError, match=why) as exc:
            av.parse_heating_season(bad)
        assert repr(bad) in str(exc.value)  # the message names the bad text


def test_the_heating_season_changes_the_heating_flag_of_the_features():
    h = _hourly(30, 0, "T")  # 2 Nov – 1 Dec 2015
    beijing, changji = av.feature_table(h), av.feature_table(h, heating=CHANGJI)
    assert beijing.names == changji.names and np.array_equal(beijing.dates, changji.dates)
    j = beijing.names.index("heating")
    days = [str(d) for d in beijing.dates]
    # Changji heats from 15 Oct: every day here; Beijing from 15 Nov
    assert changji.x[:, j].tolist() == [1.0] * len(days)
    assert beijing.x[:, j].tolist() == [float(d >= "2015-11-15") for d in days]
    other = [k for k in range(len(beijing.names)) if k != j]
    assert np.array_equal(beijing.x[:, other], changji.x[:, other])  # nothing else moves


def _capture_tables(monkeypatch) -> list[av.FeatureTable]:
    """Replace the evaluation behind ``evaluate_stored`` by one that keeps the target's feature table: the real
    stored-data path (read, daily features, heating flag) runs, the model does not."""
    seen: list[av.FeatureTable] = []

    def fake(table, window, reference, placebo_windows, params, **kw):
        seen.append(table)
        est = _estimate(0.0, -1.0, 1.0)
        rec = av.result_record(est, (), label="x", targets=["T"], controls=["C1"], window=window, params=params)
        return est, (), rec

    monkeypatch.setattr(evaluation, "evaluate_intervention", fake)
    return seen


def test_the_command_carries_the_heating_season_into_the_features(sqlite_store, monkeypatch):
    _store_stations(sqlite_store, days=400)  # 2014-01-01 .. 2015-02-04
    seen = _capture_tables(monkeypatch)
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    args = ["forecast", "avoided", "--target", "T", "--control", "C1", "--start", "2015-01-01", "--end", "2015-01-31"]
    args += ["--reference-years", "1", "--no-store", "--no-sensitivity", "--database-url", url]
    for extra in ([], ["--heating-season", "10-15:04-15"]):
        r = CliRunner().invoke(app, [*args, *extra])
        assert r.exit_code == 0, r.output
    beijing, changji = seen
    assert np.array_equal(beijing.dates, changji.dates)
    md = [(d.month, d.day) for d in beijing.dates.astype(object)]
    f_bj, f_cj = (t.x[:, t.names.index("heating")] for t in (beijing, changji))
    # the two seasons differ exactly on 15 Oct – 14 Nov and 16 Mar – 15 Apr
    differ = np.array([(10, 15) <= x <= (11, 14) or (3, 16) <= x <= (4, 15) for x in md])
    assert differ.any() and (~differ).any()
    assert np.array_equal(f_bj != f_cj, differ)
    assert (f_cj[differ] == 1.0).all()


@pytest.mark.parametrize("bad", ["10-15-04-15", "13-01:04-15", "winter"])
def test_a_malformed_heating_season_fails_with_the_option_and_the_value(bad, sqlite_store, monkeypatch):
    called: list[bool] = []
    monkeypatch.setattr(av, "check5", lambda *a, **kw: called.append(True) or [])
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["forecast", "avoided", "--heating-season", bad, "--database-url", url])
    said = " ".join(r.output.split())
    assert r.exit_code == 2, r.output  # a usage error, before any data is read
    assert "--heating-season" in said and bad in said, said
    assert called == []


def test_the_protocol_passes_the_heating_season_on(sqlite_store, monkeypatch):
    got: list[av.AvoidedParams | None] = []
    monkeypatch.setattr(av, "check5", lambda data, params=None, **kw: got.append(params) or [])
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    for extra in ([], ["--heating-season", "10-15:04-15"]):
        r = CliRunner().invoke(app, ["forecast", "avoided", "--no-store", "--database-url", url, *extra])
        assert r.exit_code == 0, r.output
    # the default is exactly the check-5 settings (threshold 150, Beijing's season)
    assert got[0] == av.AvoidedParams(threshold=150.0)
    assert got[1] is not None and got[1].heating == CHANGJI


def test_the_heating_season_is_stored_with_the_parameters(sqlite_store):
    est = _estimate(0.0, -1.0, 1.0)
    p = av.AvoidedParams(heating=CHANGJI)
    rec = av.result_record(est, (), label="h", targets=["T"], controls=[], window=(date(2016, 1, 1),) * 2, params=p)
    av.store_result(sqlite_store, rec)
    assert av.read_results(sqlite_store, label="h")[0]["params"]["heating"] == [[10, 15], [4, 15]]
    assert FAST.heating == av.BEIJING_HEATING


# --- BLH, radiation and cloud when available -------------------------------------------------------------------------

OPTIONAL_NAMES = {"blh_mean", "night_blh", "day_blh", "blh_mean_lag1", "blh_mean_lag2", "ssrd_mean", "tcc_mean"}


def _with_optional(h: pl.DataFrame, seed: int = 7) -> pl.DataFrame:
    """``h`` with NWP/ERA5-style hourly BLH [m], shortwave radiation [W/m²] and cloud cover [0–1]: a deep layer and
    sunshine in the local afternoon, a shallow layer and darkness at night."""
    rng = np.random.default_rng(seed)
    hour = h["ts"].dt.convert_time_zone("Asia/Shanghai").dt.hour().to_numpy()
    sun = np.clip(np.sin(np.pi * (hour - 7) / 11), 0.0, None)  # 07–18 h
    n = h.height
    return h.with_columns(
        pl.Series("blh", 150.0 + 900.0 * sun + rng.gamma(2.0, 30.0, n)),
        pl.Series("ssrd", 450.0 * sun * rng.uniform(0.5, 1.0, n)),
        pl.Series("tcc", rng.uniform(0.0, 1.0, n)),
    )


def _local_hours(h: pl.DataFrame, day: str) -> pl.DataFrame:
    lt = pl.col("ts").dt.convert_time_zone("Asia/Shanghai")
    return h.with_columns(lt.dt.hour().alias("hour")).filter(lt.dt.date() == date.fromisoformat(day))


def test_blh_radiation_and_cloud_are_inputs_when_the_frame_has_them():
    h = _hourly(30, 0, "T")
    full = _with_optional(h)
    plain, rich = av.feature_table(h), av.feature_table(full)
    assert not OPTIONAL_NAMES & set(plain.names) and "ssrd_day" not in rich.names  # O3 only
    assert set(rich.names) - set(plain.names) == OPTIONAL_NAMES
    # the other inputs are untouched: same days, same values, same order
    assert np.array_equal(plain.dates, rich.dates) and np.array_equal(plain.conc, rich.conc)
    assert [n for n in rich.names if n in plain.names] == list(plain.names)
    for j, name in enumerate(plain.names):
        assert np.array_equal(plain.x[:, j], rich.x[:, rich.names.index(name)]), name
    # the daily values are the means of the local day, its night (20–05 h) and its daytime (10–18 h)
    i = int(np.flatnonzero(rich.dates == np.datetime64("2015-11-20"))[0])
    day = _local_hours(full, "2015-11-20")
    prev = _local_hours(full, "2015-11-19")
    night = day.filter(pl.col("hour").is_in([20, 21, 22, 23, 0, 1, 2, 3, 4, 5]))
    daytime = day.filter(pl.col("hour").is_between(10, 17))
    expect = {
        "blh_mean": day["blh"].mean(),
        "night_blh": night["blh"].mean(),
        "day_blh": daytime["blh"].mean(),
        "blh_mean_lag1": prev["blh"].mean(),
        "ssrd_mean": day["ssrd"].mean(),
        "tcc_mean": day["tcc"].mean(),
    }
    for name, value in expect.items():
        assert rich.x[i, rich.names.index(name)] == pytest.approx(value), name
    assert rich.x[i, rich.names.index("day_blh")] > rich.x[i, rich.names.index("night_blh")]


def test_ozone_adds_the_daytime_radiation():
    from forecast.test_avoided_events import _hourly_o3

    h = _hourly_o3(12, 0)
    control = _hourly_o3(12, 1)
    plain = av.feature_table(h, [control], pollutant="a05024")
    rich = av.feature_table(_with_optional(h), [control], pollutant="a05024")
    assert set(rich.names) - set(plain.names) == OPTIONAL_NAMES | {"ssrd_day"}
    assert "t2m_max" in plain.names  # Tmax is an input of every model
    i = int(np.flatnonzero(rich.dates == np.datetime64("2024-07-06"))[0])
    day = _local_hours(_with_optional(h), "2024-07-06")
    assert rich.x[i, rich.names.index("ssrd_day")] == pytest.approx(
        day.filter(pl.col("hour").is_between(10, 17))["ssrd"].mean()
    )


def test_optional_inputs_without_data_are_left_out_and_a_gap_drops_its_days():
    h = _hourly(30, 0, "T")
    plain = av.feature_table(h)
    # columns that exist but were never filled (an adapter without that variable) are not inputs
    empty = h.with_columns(*[pl.lit(None, dtype=pl.Float64).alias(v) for v in av.OPTIONAL_VARS])
    same = av.feature_table(empty)
    assert same.names == plain.names and np.array_equal(same.x, plain.x) and np.array_equal(same.dates, plain.dates)
    # a day without BLH is dropped, and so are the 2 days whose lags need it, as for any other input
    full = _with_optional(h)
    lt = pl.col("ts").dt.convert_time_zone("Asia/Shanghai").dt.date()
    gap = full.with_columns(pl.when(lt == date(2015, 11, 20)).then(None).otherwise(pl.col("blh")).alias("blh"))
    days = {str(d) for d in av.feature_table(gap).dates}
    assert {str(d) for d in plain.dates} - days == {"2015-11-20", "2015-11-21", "2015-11-22"}
