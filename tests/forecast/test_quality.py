"""The forecast uses only observations QA lets it use (forecast.md §6): bogda.forecast.quality and load_panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import select

from bogda.forecast import service as sv
from bogda.forecast.quality import usable
from bogda.monitoring.load import requalify, set_flag
from bogda.store import Store, connect, series
from bogda.store.schema import site
from bogda.timeutil import floor_to, now_utc

from .episode import mini_region

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _frame(param: str, values: list[float], flags: list[str], reasons: list[str | None], src: str = "N"):
    n = len(values)
    return pl.DataFrame(
        {
            "site_id": [7] * n,
            "parameter": [param] * n,
            "ts": [T0 + timedelta(hours=h) for h in range(n)],
            "value": values,
            "source_flag": [src] * n,
            "flag": flags,
            "qa_reason": reasons,
        }
    )


def test_caps_apply_where_monitoring_review_level_is_higher_unless_a_person_confirmed() -> None:
    # PM10 1500 is valid for the monitoring statistics (review level 3000, Xinjiang dust) but above the forecast cap
    f = _frame("a34002", [1500.0, 1500.0, 80.0], ["valid", "valid", "valid"], [None, "manual", None])
    rows, why, _ = usable(f)
    assert rows["value"].to_list() == [1500.0, 80.0]  # the confirmed one stays
    assert why == ["1 values above the forecast caps (PM 1000, O3 1000 µg/m³) left out until confirmed"]
    # NO2 has no forecast cap
    assert usable(_frame("a21004", [1500.0], ["valid"], [None]))[0].height == 1


def test_source_flags_and_co_in_the_wrong_unit_are_left_out_with_the_station_named() -> None:
    rows, why, _ = usable(_frame("a21004", [40.0], ["valid"], [None], src="D"))
    assert rows.height == 0 and "source flag" in why[0]
    co = _frame("a21005", [800.0, 900.0, 1000.0], ["valid"] * 3, [None] * 3)
    ok = _frame("a21005", [0.8, 0.9], ["valid"] * 2, [None] * 2).with_columns(pl.lit(8).alias("site_id"))
    rows, why, errors = usable(pl.concat([co, ok], how="vertical_relaxed"), names={7: "1001A"})
    assert rows["site_id"].to_list() == [8, 8] and why == []
    assert len(errors) == 1 and "1001A" in errors[0] and "CO median 900" in errors[0]


def test_load_panel_keeps_qa_rejected_values_out_of_the_forecast(tmp_path, caplog) -> None:
    store: Store = connect(f"sqlite:///{tmp_path / 'q.db'}")
    codes = mini_region(store, n=4, days=3)
    now = floor_to(now_utc(), "hour")
    with store.engine.connect() as conn:
        sid = conn.execute(select(site.c.id).where(site.c.code == codes[0])).scalar_one()
    ts = [now - timedelta(hours=h) for h in (6, 5, 4)]
    bad = pl.DataFrame(
        {
            "site_id": [sid] * 3,
            "parameter": ["a34004"] * 3,
            "ts": ts,
            "value": [-5.0, 1500.0, 1200.0],
            "flag": ["N"] * 3,
            "unit": ["ug/m3"] * 3,
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    series.write_long(store, bad, resolution="hour", reason="test")
    requalify(store, bad.select("site_id", "parameter", "ts", "value", "flag"))
    set_flag(store, site_id=sid, parameter="a34004", ts=ts[2], severity="valid", by="duty", reason="checked: real")
    reg = sv.registry(store)
    notes: list[str] = []
    with caplog.at_level("INFO", logger="bogda.forecast.service"):
        panel = sv.load_panel(store, reg, now, days=2, notes=notes)
    row, pos = panel.stations.index(codes[0]), panel.position(ts[0])
    got = panel.data["a34004"][row, pos : pos + 3]
    assert np.isnan(got[0]) and np.isnan(got[1])  # negative (invalid) and 1500 (suspect, above the cap)
    assert got[2] == 1200.0  # above the cap, but a person confirmed it
    assert notes == []  # routine QA exclusions are logged, not reasons to degrade a run
    assert "1 invalid or maintenance values left out" in caplog.text
    assert "suspect values left out until confirmed" in caplog.text
