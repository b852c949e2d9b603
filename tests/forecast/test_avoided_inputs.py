"""Days avoided: the prefecture's heating season (``--heating-season``) and the optional BLH, radiation and cloud
inputs (forecast.md §3.9 step 2 "heating flag", "BLH, radiation and cloud when available", "O3 adds ... radiation")."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import avoided as av
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

    monkeypatch.setattr(av, "evaluate_intervention", fake)
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
    monkeypatch.setattr(av, "check5", lambda data, params=None: got.append(params) or [])
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
