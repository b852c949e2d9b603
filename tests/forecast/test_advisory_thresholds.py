"""Advisory thresholds in force per area, the local check on the store and its commands (forecast.md §3.8)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import advisories as adv
from bogda.forecast import advisory_thresholds as at
from bogda.forecast import service as sv
from bogda.store import Store
from bogda.store.schema import advisory, advisory_threshold_set, aqi_hourly, nwp_value
from bogda.timeutil import beijing_date, day_start_utc, floor_to, now_utc


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def test_thresholds_from_names_bad_keys_and_values() -> None:
    th = at.thresholds_from({"dust_ws_max": 6, "stag_min_days": 1, "ozone_months": [5, 6, 7]})
    assert (th.dust_ws_max, th.stag_min_days, th.ozone_months) == (6.0, 1, (5, 6, 7))
    assert th.ozone_tmax == adv.DEFAULT.ozone_tmax  # missing keys keep their defaults
    with pytest.raises(at.ThresholdError, match=r"unknown threshold.*dust_speed"):
        at.thresholds_from({"dust_speed": 6})
    with pytest.raises(at.ThresholdError, match="dust_ws_max: 'fast' is not a float"):
        at.thresholds_from({"dust_ws_max": "fast"})
    with pytest.raises(at.ThresholdError, match=r"stag_min_days: 1\.5 is not a int"):
        at.thresholds_from({"stag_min_days": 1.5})


def test_in_force_per_area_then_every_area_then_defaults(demo_store: Store) -> None:
    per_area, fallback = at.thresholds_in_force(demo_store)
    assert per_area == {} and fallback == (adv.DEFAULT, at.DEFAULT_VERSION)
    at.activate(demo_store, {"dust_ws_max": 6.0}, version="all-v1")
    at.activate(demo_store, {"dust_ws_max": 5.0}, version="ht-v1", area_code="652323")
    at.activate(demo_store, {"dust_ws_max": 7.0}, version="all-v2")
    per_area, fallback = at.thresholds_in_force(demo_store)
    assert fallback[1] == "all-v2" and fallback[0].dust_ws_max == 7.0  # the newest * set
    assert per_area["652323"][1] == "ht-v1" and per_area["652323"][0].dust_ws_max == 5.0
    # re-activating an older version makes it the newest again
    at.activate(demo_store, {"dust_ws_max": 6.0}, version="all-v1")
    assert at.thresholds_in_force(demo_store)[1][1] == "all-v1"
    rows = at.list_sets(demo_store)
    assert [(r["area_code"], r["version"], r["in_force"]) for r in rows] == [
        ("*", "all-v1", True),
        ("*", "all-v2", False),
        ("652323", "ht-v1", True),
    ]


def test_versions_are_immutable_and_bad_sets_change_nothing(demo_store: Store) -> None:
    at.activate(demo_store, {"dust_ws_max": 6.0}, version="v1")
    with pytest.raises(at.ThresholdError, match="'v1' already names other thresholds"):
        at.activate(demo_store, {"dust_ws_max": 5.0}, version="v1")
    with pytest.raises(at.ThresholdError, match="version: 'a b'"):
        at.activate(demo_store, {}, version="a b")
    with pytest.raises(at.ThresholdError, match="unknown threshold"):
        at.activate(demo_store, {"nope": 1}, version="v2")
    with demo_store.engine.connect() as conn:
        assert conn.execute(select(advisory_threshold_set.c.version)).scalars().all() == ["v1"]
    assert at.thresholds_in_force(demo_store)[1][0].dust_ws_max == 6.0


def _write_nwp(store: Store, loc: str, day: date, values: dict[str, float]) -> None:
    run = floor_to(now_utc(), "hour") - timedelta(hours=6)
    rows = [
        {
            "source": "test",
            "run_time": run,
            "valid_start": day_start_utc(day) + timedelta(hours=h),
            "valid_end": day_start_utc(day) + timedelta(hours=h + 1),
            "location_id": loc,
            "variable": var,
            "value": v,
        }
        for h in range(24)
        for var, v in values.items()
    ]
    with store.begin() as conn:
        conn.execute(nwp_value.insert(), rows)


def test_refresh_uses_the_area_set_and_records_its_version(demo_store: Store) -> None:
    now = now_utc()
    today = beijing_date(now)
    windy = {"ws10": 7.0, "rh2m": 20.0, "precip": 0.0}  # below the default 8 m/s
    for area in ("652301", "652323"):
        for k in (-2, -1):
            _write_nwp(demo_store, area, today + timedelta(days=k), {"ws10": 2.0, "rh2m": 40.0, "precip": 0.0})
        _write_nwp(demo_store, area, today + timedelta(days=1), windy)
    reg = sv.registry(demo_store)
    assert sv.evaluate_advisories(demo_store, reg, now) == []
    at.activate(demo_store, {"dust_ws_max": 6.5}, version="ht-local", area_code="652323")
    found = sv.evaluate_advisories(demo_store, reg, now)
    assert [(a.location, a.kind, a.day) for a in found] == [("652323", "dust", today + timedelta(days=1))]
    assert found[0].conditions["thresholds_version"] == "ht-local"
    with demo_store.engine.connect() as conn:
        stored = conn.execute(select(advisory.c.conditions)).scalars().one()
    assert stored["thresholds_version"] == "ht-local"


def test_thresholds_command_lists_and_activates(demo_store: Store, tmp_path: Path) -> None:
    url = _url(demo_store)
    r = CliRunner().invoke(app, ["forecast", "advisories", "thresholds", "--database-url", url])
    assert r.exit_code == 0, r.output
    assert "every area uses the defaults" in r.output
    f = tmp_path / "th.json"
    f.write_text(json.dumps({"stag_ws_mean_max": 2.5, "stag_min_days": 1}), encoding="utf-8")
    r = CliRunner().invoke(
        app, ["forecast", "advisories", "thresholds", str(f), "--version", "cj-2026", "--database-url", url]
    )
    assert r.exit_code == 0, r.output
    assert at.thresholds_in_force(demo_store)[1][0].stag_ws_mean_max == 2.5
    r = CliRunner().invoke(app, ["forecast", "advisories", "thresholds", "--database-url", url])
    assert "cj-2026" in r.output and "stag_ws_mean_max" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"stag_wind": 2}), encoding="utf-8")
    r = CliRunner().invoke(
        app, ["forecast", "advisories", "thresholds", str(bad), "--version", "x", "--database-url", url]
    )
    assert r.exit_code == 1 and "stag_wind" in r.output
    r = CliRunner().invoke(app, ["forecast", "advisories", "thresholds", str(f), "--database-url", url])
    assert r.exit_code == 2 and "--version" in r.output


def _local_archive(store: Store, start: date, n_days: int) -> None:
    """Two areas; polluted calm humid days in runs of one to three, clean windy dry days between them."""
    nwp_rows, aqi_rows = [], []
    run = floor_to(now_utc(), "hour")
    for i in range(n_days):
        day = start + timedelta(days=i)
        for j, area in enumerate(("652301", "652323")):
            polluted = (i + j) % 5 in (0, 1) or (i + j) % 7 == 3
            ws, rh, pm = (1.8, 65.0, 120.0) if polluted else (4.0, 35.0, 30.0)
            for h in range(24):
                ts = day_start_utc(day) + timedelta(hours=h)
                for var, v in (("ws10", ws), ("rh2m", rh), ("precip", 0.0), ("t2m", 10.0)):
                    nwp_rows.append(
                        {
                            "source": "test",
                            "run_time": run,
                            "valid_start": ts,
                            "valid_end": ts + timedelta(hours=1),
                            "location_id": area,
                            "variable": var,
                            "value": v,
                        }
                    )
                aqi_rows.append(
                    {
                        "target_kind": "county",
                        "target_code": area,
                        "ts": int(ts.timestamp()),
                        "standard": "2012",
                        "status": "complete",
                        "inputs_hash": "t",
                        "c_pm25": pm,
                        "c_pm10": pm * 1.5,
                        "c_o3": 60.0,
                    }
                )
    with store.begin() as conn:
        conn.execute(nwp_value.insert(), nwp_rows)
        conn.execute(aqi_hourly.insert(), aqi_rows)


def test_local_check_tunes_on_the_store_and_activates(demo_store: Store, tmp_path: Path) -> None:
    url = _url(demo_store)
    _local_archive(demo_store, date(2026, 1, 1), 60)
    out = tmp_path / "scores.csv"
    args = ["forecast", "advisories", "check", "--protocol", "local", "--train", "2026-01-01..2026-02-09"]
    args += ["--test", "2026-02-10..2026-03-01", "--out", str(out), "--activate", "local-1", "--database-url", url]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "tuned stagnant" in r.output and "no rain observed" in r.output
    import polars as pl

    scores = pl.read_csv(out)
    st = scores.filter((pl.col("kind") == "stagnant") & (pl.col("weather") == "observed"))
    by = {(row["thresholds"], row["period"]): row for row in st.iter_rows(named=True)}
    # single polluted days are missed by the 2-day default rule; the tuned rule (1 day) catches every one
    assert by[("default", "train")]["misses"] > 0
    assert by[("tuned", "train")]["ets"] > by[("default", "train")]["ets"]
    assert by[("tuned", "test")]["ts"] == 1.0
    assert by[("tuned", "train")]["n_days"] == 80 and by[("tuned", "test")]["n_days"] == 40
    (row,) = [r for r in at.list_sets(demo_store) if r["version"] == "local-1"]
    assert row["area_code"] == "*" and row["evidence"]["spans"]["test"] == "2026-02-10..2026-03-01"
    assert row["values"]["stag_min_days"] == 1
    kept = sv.check_scores(demo_store).filter(
        (pl.col("item") == "advisory") & (pl.col("horizon") == "stagnant") & (pl.col("weather_mode") == "observed")
    )
    assert sorted(kept["period"].unique().to_list()) == ["test 2026-02-10..2026-03-01", "train 2026-01-01..2026-02-09"]
    tuned_test = kept.filter((pl.col("method") == "tuned") & pl.col("period").str.starts_with("test")).row(
        0, named=True
    )
    assert (tuned_test["TS"], tuned_test["n"]) == (1.0, 40)


def test_local_check_usage_errors(demo_store: Store) -> None:
    url = _url(demo_store)
    base = ["forecast", "advisories", "check", "--database-url", url]
    r = CliRunner().invoke(app, [*base, "--protocol", "local", "--train", "2026-01-01", "--test", "x"])
    assert r.exit_code == 2 and "FROM..TO" in r.output
    r = CliRunner().invoke(
        app, [*base, "--protocol", "local", "--train", "2026-01-01..2026-01-10", "--test", "2026-01-11..2026-01-20"]
    )
    assert r.exit_code == 1 and "no NWP values" in r.output
    r = CliRunner().invoke(app, [*base, "--protocol", "paris"])
    assert r.exit_code == 2 and "beijing or local" in r.output
