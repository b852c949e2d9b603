"""Events over days, alerts and suppression, finding drafts, verdicts (fire.md §3.5–§3.7, checks 8, 11, 16)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.spatial import cKDTree

from bogda.fire.cluster import cluster_detections, summarise_clusters
from bogda.fire.events import OpenFinding, PastAlert, apply_verdicts, track_events, verdict_outcome
from bogda.fire.formats import read_fire_file
from bogda.fire.pipeline import process_detections
from bogda.geo import unit_vectors

T0 = datetime(2025, 11, 18, 3, 49, tzinfo=UTC)
KM_LAT = 1 / 111.195


def _events(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    c = cluster_detections(frame)
    ev, ce = track_events(c, summarise_clusters(c))
    return ev, c.join(ce, on="cluster_id")


def test_cross_satellite_same_event(fire_dir: Path) -> None:
    """Check 8: ≥ 80 % of Aqua pixels whose nearest S-NPP pixel is within ±30 min end in the same event."""
    m = read_fire_file(fire_dir / "firms_legacy_modis_c6_seasia_24h_2019-01-22.csv").detections
    v = read_fire_file(fire_dir / "firms_legacy_viirs_snpp_seasia_24h_2019-01-22.csv").detections
    _, px = _events(pl.concat([m, v]))
    aqua = px.filter(pl.col("satellite") == "Aqua")
    snpp = px.filter(pl.col("satellite") == "S-NPP")
    _, k = cKDTree(unit_vectors(snpp["lon"].to_numpy(), snpp["lat"].to_numpy())).query(
        unit_vectors(aqua["lon"].to_numpy(), aqua["lat"].to_numpy())
    )
    dt = np.abs(aqua["acq_time_utc"].dt.epoch("s").to_numpy() - snpp["acq_time_utc"].dt.epoch("s").to_numpy()[k])
    sel = dt <= 1800
    assert sel.sum() == 709
    same = aqua["event_id"].to_numpy()[sel] == snpp["event_id"].to_numpy()[k[sel]]
    assert same.mean() >= 0.80


@pytest.mark.parametrize(
    ("gap", "offset_km", "same_event"),
    [
        (timedelta(days=1), 0.5, True),
        (timedelta(days=4), 1.2, True),  # MODIS↔MODIS floor 1.5 km
        (timedelta(days=4), 2.0, False),
        (timedelta(days=24), 0.0, True),  # sleeping event re-opens
        (timedelta(days=26), 0.0, False),  # closed after 5 + 20 days: a new event
    ],
)
def test_event_tracking_over_days(
    make_detections: Callable, gap: timedelta, offset_km: float, same_event: bool
) -> None:
    rows = [
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0},
        {"acq_time_utc": T0 + gap, "lon": 88.0, "lat": 44.0 + offset_km * KM_LAT},
    ]
    _, px = _events(make_detections(rows))
    assert (px["event_id"].n_unique() == 1) is same_event


def test_event_merge_into_oldest(make_detections: Callable) -> None:
    """Two events bridged by a later cluster merge into the oldest."""
    rows = [
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0},
        {"acq_time_utc": T0 + timedelta(hours=3), "lon": 88.0, "lat": 44.0 + 2.6 * KM_LAT},
        {"acq_time_utc": T0 + timedelta(hours=6), "lon": 88.0, "lat": 44.0 + 1.3 * KM_LAT},
    ]
    ev, px = _events(make_detections(rows))
    assert px["event_id"].n_unique() == 1
    merged = ev.filter(pl.col("status") == "merged")
    assert merged.height == 1
    survivor = ev.filter(pl.col("status") != "merged").row(0, named=True)
    assert merged["merged_into"][0] == survivor["event_id"]
    assert survivor["first_seen_utc"] == T0 and survivor["n_detections"] == 3


def test_event_location_prefers_finest_sensor(make_detections: Callable) -> None:
    rows = [
        {
            "acq_time_utc": T0,
            "lon": 88.0,
            "lat": 44.0,
            "sensor": "VIIRS",
            "satellite": "S-NPP",
            "scan_km": 0.4,
            "track_km": 0.4,
        },
        {"acq_time_utc": T0 + timedelta(minutes=30), "lon": 88.0, "lat": 44.0 + 0.8 * KM_LAT},
    ]
    ev, _ = _events(make_detections(rows))
    assert ev["lat"][0] == 44.0
    assert ev["satellites"][0].to_list() == ["S-NPP", "Terra"]


def _run(make_detections: Callable, rows: list[dict], **kw: object):
    return process_detections(make_detections(rows), None, **kw)


def test_alerts_attach_suppress_new_escalate(make_detections: Callable) -> None:
    """Check 11 (synthetic)."""
    first = _run(make_detections, [{"acq_time_utc": T0, "lon": 88.0, "lat": 44.0}])
    assert [a.kind for a in first.plan.alerts] == ["new"]
    draft = first.drafts[0]
    assert (draft.action, draft.kind, draft.severity) == ("new", "fire", "medium")
    key = draft.dedupe_key
    past = [PastAlert(first.plan.alerts[0].alert_id, T0, 88.0, 44.0, key)]

    # same point 2 h later, finding open → attached (still detected), no new finding
    f_open = OpenFinding(key, 88.0, 44.0, "dispatched", first_n_pixels=1, first_sum_frp=10.0)
    r = _run(
        make_detections,
        [{"acq_time_utc": T0 + timedelta(hours=2), "lon": 88.0, "lat": 44.0}],
        open_findings=[f_open],
        past_alerts=past,
    )
    assert [a.kind for a in r.plan.alerts] == ["still_detected"]
    assert [(d.action, d.dedupe_key) for d in r.drafts] == [("attach", key)]

    # 7 h later, the finding closed → a new finding
    f_closed = OpenFinding(key, 88.0, 44.0, "resolved")
    r = _run(
        make_detections,
        [{"acq_time_utc": T0 + timedelta(hours=7), "lon": 88.0, "lat": 44.0}],
        open_findings=[f_closed],
        past_alerts=past,
    )
    assert [a.kind for a in r.plan.alerts] == ["new"]
    assert r.drafts[0].dedupe_key != key

    # 0.9 km away within 6 h, no open finding → suppressed, linked to the earlier alert
    r = _run(
        make_detections,
        [{"acq_time_utc": T0 + timedelta(hours=2), "lon": 88.0, "lat": 44.0 + 0.9 * KM_LAT}],
        open_findings=[f_closed],
        past_alerts=past,
    )
    alerts = r.plan.alerts
    assert [a.kind for a in alerts] == ["suppressed"] and alerts[0].suppressed_by == past[0].alert_id
    assert r.drafts == []

    # pixel count doubled → escalation
    two = [
        {"acq_time_utc": T0 + timedelta(hours=3), "lon": 88.0, "lat": 44.0},
        {"acq_time_utc": T0 + timedelta(hours=3), "lon": 88.0, "lat": 44.0 + 1.0 * KM_LAT, "frp_mw": 1.0},
    ]
    r = _run(make_detections, two, open_findings=[f_open], past_alerts=past)
    assert [a.kind for a in r.plan.alerts] == ["still_detected", "escalated"]
    assert [(d.action, d.severity) for d in r.drafts] == [("attach", "medium"), ("escalate", "high")]


def test_alerts_within_one_batch(make_detections: Callable) -> None:
    rows = [
        {"acq_time_utc": T0, "lon": 88.0, "lat": 44.0},
        {"acq_time_utc": T0 + timedelta(hours=2), "lon": 88.0, "lat": 44.0},
        {"acq_time_utc": T0 + timedelta(days=40), "lon": 88.0, "lat": 44.0},  # event closed long ago
    ]
    r = _run(make_detections, rows)
    assert [a.kind for a in r.plan.alerts] == ["new", "still_detected", "new"]


def test_low_confidence_and_outside_not_dispatched(make_detections: Callable) -> None:
    rows = [{"acq_time_utc": T0, "lon": 88.0, "lat": 44.0, "confidence_class": "low", "confidence_raw": "24"}]
    r = _run(make_detections, rows)
    assert r.plan.alerts == [] and r.events.height == 1  # shown, not dispatched


def test_finding_draft_payload(make_detections: Callable) -> None:
    r = _run(
        make_detections,
        [{"acq_time_utc": T0, "lon": 89.20444, "lat": 44.91296, "frp_mw": 50.79, "confidence_raw": "92"}],
    )
    d = r.drafts[0]
    ev = d.evidence
    assert ev["alarm_time_bjt"] == "2025-11-18T11:49:00+08:00"
    assert ev["gcj02"] == pytest.approx([89.207353, 44.914047], abs=1e-6)
    assert (ev["max_frp_mw"], ev["confidence"], ev["n_pixels"]) == (50.79, "92", 1)
    assert d.title == "卫星火点：辖区 11月18日 11:49（Terra，1个像元）"
    assert ev["event_id"] in d.dedupe_key


@pytest.mark.parametrize(
    ("verdict", "outcome", "cls"),
    [
        ("straw", "confirmed_burning", "suspected_straw"),
        ("garbage", "confirmed_burning", "unknown"),
        ("wildland", "confirmed_burning", "wildland"),
        ("other_fire", "confirmed_burning", "unknown"),
        ("industrial", "industrial", "industrial"),
        ("false", "false", "false_alarm"),
        ("not_found", "not_found", "unknown"),
    ],
)
def test_verdict_write_back(make_detections: Callable, verdict: str, outcome: str, cls: str) -> None:
    ev, _ = _events(make_detections([{"acq_time_utc": T0, "lon": 88.0, "lat": 44.0}]))
    v = pl.DataFrame(
        {"event_id": ev["event_id"], "verdict": [verdict], "verified_at": [T0 + timedelta(hours=20)], "task_id": ["T1"]}
    )
    out = apply_verdicts(ev, v).row(0, named=True)
    assert (out["verdict"], out["outcome"], out["class"], out["task_id"]) == (verdict, outcome, cls, "T1")
    assert verdict_outcome(verdict) == outcome


def test_unknown_verdict() -> None:
    with pytest.raises(ValueError, match="unknown verdict"):
        verdict_outcome("maybe")
