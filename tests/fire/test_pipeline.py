"""process_detections end to end on real files (fire.md §3, checks 4, 6, 13)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import polars as pl

from bogda.fire.config import FireConfig
from bogda.fire.pipeline import Region, process_detections
from bogda.fire.region import Boundary

URUMQI_POINT = (87.51575, 43.3578)


def test_urumqi_low_confidence_shown_not_dispatched(
    global5: pl.DataFrame, urumqi: tuple[list[Boundary], Boundary]
) -> None:
    counties, outline = urumqi
    r = process_detections(global5, Region(counties, outline.geometry, {"650121": "乌鲁木齐县"}))
    inside = r.detections.filter("in_area")
    assert inside.height == 1
    row = inside.row(0, named=True)
    assert (row["county_code"], row["low_confidence"], row["screened"]) == ("650121", True, False)
    assert row["flag_reasons"] == ["low_confidence: 24"]
    assert row["event_id"] is not None  # shown as an event …
    assert [d for d in r.drafts if d.place_code == "650121"] == []  # … but not dispatched


def test_changji_jurisdiction(global5: pl.DataFrame, changji: tuple[list[Boundary], Boundary]) -> None:
    counties, pref = changji
    names = {"652325": "奇台县", "652327": "吉木萨尔县"}
    r = process_detections(global5, Region(counties, pref.geometry, names))
    assert r.n_duplicate == 0
    assert r.detections.height == global5.height  # nothing dropped
    uq = r.detections.filter((pl.col("lon") == URUMQI_POINT[0]) & (pl.col("lat") == URUMQI_POINT[1]))
    assert uq["outside_area"].to_list() == [True]
    new = [d for d in r.drafts if d.action == "new"]
    assert sorted(d.place_code for d in new) == ["652325", "652325", "652327"]
    jimsar = next(d for d in new if d.place_code == "652327")
    assert jimsar.title == "卫星火点：吉木萨尔县 11月18日 11:49（Terra，1个像元）"
    assert jimsar.kind == "fire" and jimsar.evidence["county_name"] == "吉木萨尔县"
    # the Aqua pass 109 min after Terra at Qitai is attached to the same finding
    assert sum(d.action == "attach" for d in r.drafts) == 1


def test_history_dedup_and_learned_mask(make_detections: Callable) -> None:
    """History keys de-duplicate the batch; a site persistent in the history masks the new detection."""
    t0 = datetime(2025, 1, 2, 20, 0, tzinfo=UTC)  # night, outside the crop windows
    hist = make_detections(
        [{"acq_time_utc": t0 + timedelta(days=k), "lon": 88.0, "lat": 44.0, "daynight": "N"} for k in range(4)]
    )
    batch = pl.concat(
        [hist.tail(1), make_detections([{"acq_time_utc": t0 + timedelta(days=10), "lon": 88.0, "lat": 44.0}])]
    )
    r = process_detections(batch, None, history=hist, config=FireConfig(learned_lookback=None))
    assert r.n_duplicate == 1
    new = r.detections.filter("is_new")
    assert new.height == 1 and new["masked_learned"].to_list() == [True]
    assert r.heat_stream.height == 1
    assert r.drafts == []
    assert r.learned.filter(pl.col("status") == "active").height == 1
