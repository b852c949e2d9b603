"""Fire service layer: files → store → events, masks, findings (kind fire) → grid tasks; verdicts flow back."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from bogda import audit
from bogda import findings as F
from bogda.config import FireSettings
from bogda.fire import mask_sites
from bogda.fire.poll import poll
from bogda.fire.service import ingest_files, load_detections, stats
from bogda.fire.verification import record_verdict, sync_task_verdicts, verdict_from_text
from bogda.store import Store, connect
from bogda.store.schema import fire_alert, fire_detection, fire_event, fire_mask_site, fire_source_file, job_run

GLOBAL_FILES = (
    "firms_modis_c61_global_24h_2022-02-27.csv",
    "firms_modis_c61_global_24h_2023-03-10.csv",
    "firms_modis_c61_global_24h_2023-08-01.csv",
    "firms_modis_c61_global_24h_2025-11-18.csv",
    "firms_modis_c61_global_24h_2025-11-23.csv",
)
HIMAWARI = "H09_20251209_1900_L2WLF010_FLDK.06001_06001.csv"

JIMSAR = (89.20444, 44.91296)  # the one Jimsar detection (fire.md §8 check 5), WGS-84
QITAI = ("652325", "652327")
HEADER = (
    "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight"
)


def _csv(path: Path, rows: list[tuple[float, float, str, str, str, int, float]]) -> Path:
    """A FIRMS MODIS 24 h CSV: (lat, lon, date, time, satellite, confidence, frp) per row."""
    lines = [HEADER] + [
        f"{lat},{lon},330.5,1.0,1.0,{d},{t},{sat},{conf},6.1NRT,290.1,{frp},D"
        for lat, lon, d, t, sat, conf, frp in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _count(st: Store, table) -> int:
    with st.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture(scope="module")
def ingested(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, object]]:
    """The demo region with the five global MODIS files and the Himawari file ingested once."""
    from sharedata import require_shared

    fire = require_shared("fire")
    path = tmp_path_factory.mktemp("fire_demo") / "demo.db"
    shutil.copyfile(demo_template, path)
    st = connect(f"sqlite:///{path}")
    report = ingest_files(st, [fire / f for f in (*GLOBAL_FILES, HIMAWARI)])
    yield st, report
    st.dispose()


def test_changji_detections_stored_and_flagged(ingested: tuple[Store, object]) -> None:
    st, report = ingested
    assert report.file_errors == [] and report.n_bad == 0
    with st.engine.connect() as conn:
        det = load_detections(
            conn, extra=("id", "county_code", "in_area", "outside_area", "low_confidence", "event_id")
        )
    inside = det.filter("in_area")
    # fire.md §8 check 5: 3 in Qitai (652325), 1 in Jimsar (652327)
    assert sorted(inside["county_code"].to_list()) == ["652325", "652325", "652325", "652327"]
    # Urumqi's detection is in the bbox + margin: stored, outside the area, low confidence, never dispatched
    urumqi = det.filter((pl.col("lon") == 87.51575) & (pl.col("lat") == 43.3578))
    assert urumqi.select("outside_area", "low_confidence").row(0) == (True, True)
    # every file is accounted for: rows = stored + outside bbox + duplicates
    for f in report.files:
        assert f.n_rows == f.n_ok + f.n_bad
        assert f.n_ok == f.n_stored + f.n_outside_bbox + f.n_duplicate
    assert report.n_stored == det.height == _count(st, fire_detection)
    assert _count(st, fire_source_file) == len(GLOBAL_FILES) + 1
    with st.engine.connect() as conn:
        run = conn.execute(select(job_run).where(job_run.c.id == report.run_id)).first()
    assert (run.job, run.status, run.rows) == ("fire.ingest", "ok", report.n_stored)


def test_events_become_fire_findings_with_evidence(ingested: tuple[Store, object]) -> None:
    st, report = ingested
    rows, total = F.query(st, kinds=["fire"])
    assert total == 3 == report.findings["created"]  # Qitai 2022, Qitai 2023, Jimsar 2025
    assert report.findings.get("updated") == 1  # the Aqua pass 109 min after Terra is attached ("still detected")
    by_title = {r["title"]: r for r in rows}
    jimsar = by_title["卫星火点：吉木萨尔县 11月18日 11:49（Terra，1个像元）"]
    ev = jimsar["evidence"]
    assert ev["county_code"] == "652327" and ev["max_frp_mw"] == pytest.approx(50.79)
    assert [d["detection_id"] is not None for d in ev["detections"]] == [True]
    assert ev["gcj02"] != ev["wgs84"]  # phone map apps get GCJ-02 as well
    assert jimsar["place_id"] is not None  # located in a grid cell of the registry
    qitai = [r for r in rows if r["evidence"]["county_code"] == "652325"]
    assert sum(len(r["evidence"].get("still_detected", [])) for r in qitai) == 1
    with st.engine.connect() as conn:
        linked = conn.execute(select(fire_event.c.finding_id).where(fire_event.c.finding_id.is_not(None))).scalars()
        assert sorted(linked) == sorted(r["id"] for r in rows)
        kinds = dict(conn.execute(select(fire_alert.c.kind, func.count()).group_by(fire_alert.c.kind)).all())
    assert kinds == {"new": 3, "still_detected": 1}


def test_reingest_is_idempotent(ingested: tuple[Store, object], shared_data: Path) -> None:
    st, _ = ingested
    before = (_count(st, fire_detection), _count(st, fire_event), F.query(st, kinds=["fire"])[1])
    again = ingest_files(st, [shared_data / "fire" / GLOBAL_FILES[3], shared_data / "fire" / GLOBAL_FILES[0]])
    assert again.n_stored == 0
    assert [f.n_duplicate for f in again.files] == [2, 4]  # the in-bbox rows of each file, all already stored
    after = (_count(st, fire_detection), _count(st, fire_event), F.query(st, kinds=["fire"])[1])
    assert after == before
    assert again.findings == {}


def test_stats_per_county_day_and_month(ingested: tuple[Store, object]) -> None:
    st, _ = ingested
    daily = stats(st, county="652325")
    per_day = {(r["date_bjt"], r["sensor"]): r["points_all"] for r in daily.iter_rows(named=True)}
    assert sum(v for (d, _), v in per_day.items() if d.year == 2022) == 2
    assert sum(v for (d, _), v in per_day.items() if d.year == 2023) == 1
    monthly = stats(st, by="month", county="652325").filter(pl.col("sensor") == "all")
    m = {r["month"]: r for r in monthly.iter_rows(named=True)}
    # fire.md §8 check 13: 652325 2022-02: 2 points, both in points_dedup (Terra and Aqua 109 min apart); 2023-03: 1
    assert (m["2022-02"]["points_all"], m["2022-02"]["points_dedup"]) == (2, 2)
    assert m["2023-03"]["points_dedup"] == 1
    assert m["2022-02"]["events_new"] == 1
    whole = stats(st, by="month", start=date(2025, 11, 1), end=date(2025, 11, 30), county="652327")
    assert whole.filter(pl.col("sensor") == "all")["points_screened"].to_list() == [1]


def test_registry_plant_masks_label_not_drop(demo_store: Store, shared_data: Path) -> None:
    """fire.md §8 check 6 through the service: a registry entry at the Jimsar point (given in GCJ-02) masks it."""
    sid = mask_sites.add_site(
        demo_store,
        {
            "source_id": "HS-JM1",
            "name": "吉木萨尔测试热源",
            "kind": "coal_chemical",
            "lon": 89.20735,
            "lat": 44.91405,
            "datum": "GCJ02",
        },
        by="admin",
    )
    report = ingest_files(demo_store, [shared_data / "fire" / GLOBAL_FILES[3]])
    with demo_store.engine.connect() as conn:
        row = conn.execute(select(fire_detection).where(fire_detection.c.county_code == "652327")).first()
        ent = conn.execute(
            select(func.count()).select_from(fire_mask_site).where(fire_mask_site.c.origin == "registry")
        ).scalar_one()
    assert row is not None  # kept …
    assert (row.masked_registry, row.masked_registry_ref, row.screened) == (True, sid, False)  # … and labelled
    assert row.flag_reasons == [f"masked_registry: {sid}"]
    assert report.n_masked == 1 and F.query(demo_store, kinds=["fire"])[1] == 0
    # the demo's power (3), coal-chemical (3), coking (2) and cement (3) enterprises become registry sources;
    # its boilers do not
    assert ent == 1 + 11
    assert [e["action"] for e in audit.entries(demo_store, action_prefix="fire.mask")] == ["fire.mask.add"]


def test_mask_edits_are_audited_and_retire_stops_masking(demo_store: Store, shared_data: Path) -> None:
    sid = mask_sites.add_site(
        demo_store,
        {"source_id": "HS-JM1", "kind": "power", "lon": JIMSAR[0], "lat": JIMSAR[1], "datum": "WGS84"},
        by="admin",
    )
    with pytest.raises(ValueError, match="datum"):
        mask_sites.add_site(demo_store, {"kind": "power", "lon": 89.0, "lat": 44.0}, by="admin")
    changed = mask_sites.update_site(demo_store, sid, {"status": "retired"}, by="admin")
    assert (changed["status"], changed["edited_by"]) == ("retired", "admin")
    ingest_files(demo_store, [shared_data / "fire" / GLOBAL_FILES[3]])
    with demo_store.engine.connect() as conn:
        row = conn.execute(select(fire_detection).where(fire_detection.c.county_code == "652327")).first()
    assert (row.masked_registry, row.screened) == (False, True)
    assert F.query(demo_store, kinds=["fire"])[1] == 1
    assert audit.entries(demo_store, action_prefix="fire.mask")[0]["detail"]["after"] == {"status": "retired"}


def test_verdicts_flow_back_to_event_detections_and_masks(demo_store: Store, shared_data: Path) -> None:
    ingest_files(demo_store, [shared_data / "fire" / f for f in GLOBAL_FILES[:2]])  # Qitai 2022-02 and 2023-03
    with demo_store.engine.connect() as conn:
        events = conn.execute(
            select(fire_event.c.event_id, fire_event.c.first_seen_utc)
            .where(fire_event.c.county_code == "652325")
            .order_by(fire_event.c.first_seen_utc)
        ).all()
    assert len(events) == 2
    first, second = (e.event_id for e in events)
    out = record_verdict(demo_store, first, "false", by="grid01", note="彩钢屋顶")
    assert (out.outcome, out.candidates) == ("false", ())
    with demo_store.engine.connect() as conn:
        ev = conn.execute(select(fire_event).where(fire_event.c.event_id == first)).first()
        flags = (
            conn.execute(select(fire_detection.c.verified_false).where(fire_detection.c.event_id == first))
            .scalars()
            .all()
        )
    assert (ev.verdict, ev.outcome, ev._mapping["class"]) == ("false", "false", "false_alarm")
    assert flags and all(flags)
    # a second false verdict within 1 km (365 days) → one false_alarm_site candidate, never an active mask
    out2 = record_verdict(demo_store, second, "false", by="grid01")
    assert len(out2.candidates) == 1
    cand = mask_sites.list_sites(demo_store, origin="verified_false")
    assert [(c["kind"], c["status"]) for c in cand] == [("false_alarm_site", "candidate")]
    # the same verdict again changes nothing; an unknown verdict is refused
    assert (
        record_verdict(demo_store, second, "false", verified_at=out2_time(demo_store, second)).verification_id is None
    )
    with pytest.raises(ValueError, match="unknown verdict"):
        record_verdict(demo_store, first, "maybe")
    assert [e["action"] for e in audit.entries(demo_store, action_prefix="fire.verdict")] == ["fire.verdict"] * 2
    monthly = stats(demo_store, by="month", county="652325").filter(pl.col("sensor") == "all")
    assert monthly["verdict_false"].drop_nulls().sum() == 2


def out2_time(st: Store, event_id: str) -> datetime:
    with st.engine.connect() as conn:
        return conn.execute(select(fire_event.c.verified_at).where(fire_event.c.event_id == event_id)).scalar_one()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("verdict: industrial", "industrial"),
        ("核查结论：秸秆焚烧", "straw"),
        ("结论=未发现火情", "not_found"),
        ("已处理", None),
    ],
)
def test_verdict_from_feedback_text(text: str, expected: str | None) -> None:
    assert verdict_from_text(text) == expected


def test_synthetic_ingest_on_both_engines(store: Store, tmp_path: Path) -> None:
    """Without places the whole globe is the area; same results on SQLite and PostgreSQL; idempotent."""
    t0 = datetime(2026, 5, 3, 5, 10, tzinfo=UTC)
    rows = [
        (44.0, 88.0, t0.strftime("%Y-%m-%d"), t0.strftime("%H%M"), "T", 70, 12.5),
        (44.004, 88.004, t0.strftime("%Y-%m-%d"), t0.strftime("%H%M"), "T", 75, 20.0),  # same cluster
        (45.0, 90.0, t0.strftime("%Y-%m-%d"), t0.strftime("%H%M"), "T", 20, 3.0),  # low confidence: no finding
    ]
    a = _csv(tmp_path / "a.csv", rows)
    r1 = ingest_files(store, [a])
    assert (r1.n_stored, r1.findings) == (3, {"created": 1})
    t1 = t0 + timedelta(hours=2)
    b = _csv(tmp_path / "b.csv", [*rows, (44.001, 88.001, t1.strftime("%Y-%m-%d"), t1.strftime("%H%M"), "A", 80, 9.0)])
    r2 = ingest_files(store, [b])
    assert (r2.n_stored, r2.n_duplicate) == (1, 3)
    assert r2.findings == {"updated": 1} and r2.alerts == {"still_detected": 1}
    rows_, total = F.query(store, kinds=["fire"])
    assert total == 1 and rows_[0]["count"] == 2
    with store.engine.connect() as conn:
        n_events = conn.execute(select(func.count()).select_from(fire_event)).scalar_one()
    assert n_events == 2  # the fire (Terra + Aqua) and the low-confidence pixel
    bad = tmp_path / "bad.kml"
    bad.write_text("<kml/>")
    r3 = ingest_files(store, [bad])
    assert [f.status for f in r3.files] == ["file_error"] and "supported" in r3.files[0].error


def test_poll_folder_and_fake_url(store: Store, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    t0 = datetime(2026, 5, 3, 5, 10, tzinfo=UTC)
    _csv(inbox / "drop.csv", [(44.0, 88.0, t0.strftime("%Y-%m-%d"), t0.strftime("%H%M"), "T", 70, 12.5)])
    body = (HEADER + "\n" + f"43.0,87.0,330,1,1,{t0:%Y-%m-%d},{t0:%H%M},A,90,6.1NRT,290,30.0,D\n").encode()
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return body

    settings = FireSettings(inbox=inbox, url="http://fires.example/latest.csv")
    rep = poll(store, settings, fetch=fetch, spool=tmp_path / "spool")
    assert calls == ["http://fires.example/latest.csv"]
    assert rep.ingest is not None and rep.ingest.n_stored == 2 and rep.feed_down is None
    assert len(list((tmp_path / "spool" / "raw").iterdir())) == 2  # raw files kept by SHA-256

    def broken(url: str) -> bytes:
        raise OSError("network unreachable")

    for _ in range(3):
        rep = poll(store, settings, fetch=broken, spool=tmp_path / "spool")
    assert rep.ingest is None  # the dropped file was already ingested
    assert rep.feed_down == "3 failed polls in a row"
    key = FireSettings(map_key="SECRETKEY123", sources=("MODIS_NRT",))
    with pytest.raises(ValueError, match="prefecture"):
        poll(store, key, fetch=broken, spool=tmp_path / "spool")
    with store.engine.connect() as conn:
        requests = conn.execute(select(fire_source_file.c.request)).scalars().all()
    assert not any("SECRETKEY123" in (r or "") for r in requests)


def test_fire_finding_routes_to_grid_task(ingested: tuple[Store, object], tmp_path: Path) -> None:
    """The grid's normal routing turns a fire finding into a task (fire never imports grid: the test does)."""
    tasks = pytest.importorskip("bogda.grid.tasks")
    if not hasattr(tasks, "GridService"):
        pytest.skip("bogda.grid exposes no routing entry point")
    st, _ = ingested
    rows, _ = F.query(st, kinds=["fire"])
    jimsar = next(r for r in rows if r["evidence"]["county_code"] == "652327")
    grid = tasks.GridService(st, tasks.GridConfig(data_dir=tmp_path))
    out = grid.route_finding(jimsar["id"], now=datetime.now(UTC))
    assert out.action == "created" and out.task_id is not None
    from bogda.store.schema import task

    with st.engine.connect() as conn:
        t = conn.execute(select(task).where(task.c.id == out.task_id)).first()
    assert (t.source, t.severity, t.finding_id) == ("fire_point", "P1", jimsar["id"])
    assert F.get(st, jimsar["id"])["status"] in ("open", "dispatched")
    # the task closes with a verdict in its feedback → the verdict flows back to the event
    from bogda.store.schema import task_event

    now = datetime.now(UTC)
    with st.begin() as conn:
        conn.execute(task.update().where(task.c.id == t.id).values(state="CLOSED", verdict="confirmed", closed_at=now))
        conn.execute(
            task_event.insert().values(
                task_id=t.id,
                seq=99,
                event="confirm",
                from_state="HANDLING",
                to_state="REVIEW",
                at=now,
                comment="核查结论：秸秆",
                attachments=[],
                detail={},
            )
        )
    synced = sync_task_verdicts(st)
    assert [(s.verdict, s.outcome) for s in synced] == [("straw", "confirmed_burning")]
    with st.engine.connect() as conn:
        ev = conn.execute(select(fire_event).where(fire_event.c.finding_id == jimsar["id"])).first()
    assert (ev.verdict, ev.task_id, ev._mapping["class"]) == ("straw", t.id, "suspected_straw")
    assert sync_task_verdicts(st) == []  # once only
