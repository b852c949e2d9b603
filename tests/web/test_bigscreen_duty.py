"""The duty officer's desk API (``/api/v1/duty``) over a copy of the demo region: the inbox sorts by severity then
age and follows the user's area, one-click dispatch makes and dispatches the task (and refuses findings outside the
user's area), and the shift report answers as figures, a printable page and a recorded DOCX."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bogda.config import Settings, WebSettings
from bogda.findings import FindingDraft, raise_finding
from bogda.registry.people import add_user
from bogda.store import Store, connect
from bogda.store.schema import finding, place, report, task, task_finding
from bogda.timeutil import now_utc
from bogda.web.app import create_app

OPERATOR = ("operator", "operator-pass-1")
COUNTY = ("county2", "county-pass-456")


@pytest.fixture(scope="module")
def store(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("duty_api")
    shutil.copyfile(demo_template, folder / "demo.db")
    st = connect(f"sqlite:///{folder / 'demo.db'}")
    with st.engine.connect() as conn:
        ids = {c: i for c, i in conn.execute(select(place.c.code, place.c.id).where(place.c.kind == "county")).all()}
    now = now_utc()
    with st.begin() as conn:
        add_user(conn, login="county2", password=COUNTY[1], roles=["county_operator"], scope_place_id=ids["652301"])
        for key, sev, hours, lon, lat, code in (
            ("old-low", "low", 30, 87.31, 44.02, "652301"),
            ("new-high", "high", 2, 87.32, 44.03, "652301"),
            ("old-high", "high", 20, 87.99, 44.15, "652302"),
            ("critical", "critical", 1, 87.30, 44.00, "652301"),
        ):
            raise_finding(
                conn,
                FindingDraft(
                    kind="incident",
                    severity=sev,
                    title=f"值班台测试 {key}",
                    dedupe_key=f"duty-{key}",
                    detected_at=now - timedelta(hours=hours),
                    lon=lon,
                    lat=lat,
                    place_id=ids[code],
                ),
                now=now - timedelta(hours=hours),
            )
    yield st
    st.dispose()


@pytest.fixture(scope="module")
def client(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("duty_app")
    settings = Settings(database_url=store.url, data_dir=folder, web=WebSettings(secret_key="test-secret-key"))
    with TestClient(create_app(settings, store, console=False)) as c:
        yield c


def _titles(body: dict) -> list[str]:
    return [r["title"].removeprefix("值班台测试 ") for r in body["results"] if r["title"].startswith("值班台测试")]


def test_inbox_by_severity_then_age_and_by_area(client: TestClient) -> None:
    body = client.get("/api/v1/duty/inbox", auth=OPERATOR).json()
    assert _titles(body) == ["critical", "old-high", "new-high", "old-low"]
    assert body["total"] >= 4
    rows = {r["title"]: r for r in body["results"]}
    assert 29.5 < rows["值班台测试 old-low"]["age_h"] < 30.5
    county = client.get("/api/v1/duty/inbox", auth=COUNTY).json()
    assert _titles(county) == ["critical", "new-high", "old-low"]  # not Fukang's


def _fid(store: Store, key: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(finding.c.id).where(finding.c.dedupe_key == f"duty-{key}")).scalar_one()


def test_one_click_dispatch(client: TestClient, store: Store) -> None:
    fid = _fid(store, "critical")
    r = client.post(f"/api/v1/duty/dispatch/{fid}", auth=OPERATOR)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["outcome"] == "created" and out["state"] == "DISPATCHED"
    with store.engine.connect() as conn:
        t = conn.execute(select(task.c.state, task.c.finding_id).where(task.c.id == out["task_id"])).one()
        linked = conn.execute(select(task_finding.c.task_id).where(task_finding.c.finding_id == fid)).scalar()
    assert t.state == "DISPATCHED" and t.finding_id == fid and linked == out["task_id"]
    assert "critical" not in _titles(client.get("/api/v1/duty/inbox", auth=OPERATOR).json())
    # outside the county user's area, or unknown: 404 naming the finding
    other = _fid(store, "old-high")
    r = client.post(f"/api/v1/duty/dispatch/{other}", auth=COUNTY)
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "finding_id"
    r = client.post("/api/v1/duty/dispatch/999999", auth=OPERATOR)
    assert r.status_code == 404
    r = client.post(f"/api/v1/duty/dispatch/{other}", json={"place_id": "x"}, auth=OPERATOR)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "place_id"
    # a dismissed finding is not dispatched
    from bogda.findings import set_status

    low = _fid(store, "old-low")
    with store.begin() as conn:
        set_status(conn, low, "dismissed", by="operator", reason="核实无问题")
    r = client.post(f"/api/v1/duty/dispatch/{low}", auth=OPERATOR)
    assert r.status_code == 409 and "dismissed" in r.json()["detail"]
    with store.engine.connect() as conn:
        assert conn.execute(select(task_finding.c.task_id).where(task_finding.c.finding_id == low)).first() is None


def test_refused_dispatch_leaves_no_task(client: TestClient, store: Store) -> None:
    """Routing and dispatch are one transaction: a finding outside the jurisdiction without a place is refused
    (422 naming place_id) and leaves no half-made task; with a place it is dispatched there."""
    now = now_utc()
    with store.begin() as conn:
        fid = raise_finding(
            conn,
            FindingDraft(
                kind="incident",
                severity="high",
                title="值班台测试 outside",
                dedupe_key="duty-outside",
                detected_at=now,
                lon=100.0,
                lat=30.0,
            ),
            now=now,
        ).finding_id
        county = conn.execute(select(place.c.id).where(place.c.code == "652301")).scalar_one()
    r = client.post(f"/api/v1/duty/dispatch/{fid}", auth=OPERATOR)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "place_id", r.text
    with store.engine.connect() as conn:
        assert conn.execute(select(task_finding.c.task_id).where(task_finding.c.finding_id == fid)).first() is None
    assert "outside" in _titles(client.get("/api/v1/duty/inbox", auth=OPERATOR).json())
    r = client.post(f"/api/v1/duty/dispatch/{fid}", json={"place_id": county}, auth=OPERATOR)
    assert r.status_code == 200 and r.json()["state"] == "DISPATCHED", r.text
    with store.engine.connect() as conn:
        assert conn.execute(select(task.c.place_id).where(task.c.id == r.json()["task_id"])).scalar() == county


def test_shift_report_answers(client: TestClient, store: Store) -> None:
    body = client.get("/api/v1/duty/shift-report", auth=OPERATOR).json()
    figs = body["figures"]
    assert {"findings_new", "tasks_dispatched", "undispatched", "overdue"} <= set(figs)
    # every count names its records
    assert int(figs["undispatched"]["value"]) == figs["undispatched"]["count"] == len(figs["undispatched"]["refs"])
    html = client.get("/api/v1/duty/shift-report", params={"format": "html"}, auth=OPERATOR)
    assert html.status_code == 200 and "交接班报告" in html.text and "file://" not in html.text
    docx = client.post(
        "/api/v1/duty/shift-report",
        json={"officer": "张三", "handover_to": "李四", "notes": "平稳", "handover_items": "跟进异味投诉"},
        auth=OPERATOR,
    )
    assert docx.status_code == 200
    assert docx.headers["content-type"].startswith("application/vnd.openxmlformats")
    xml = zipfile.ZipFile(io.BytesIO(docx.content)).read("word/document.xml").decode()
    assert "跟进异味投诉" in xml and "张三" in xml
    rid = int(docx.headers["x-report-id"])
    with store.engine.connect() as conn:
        assert conn.execute(select(report.c.kind).where(report.c.id == rid)).scalar() == "shift"
    assert client.get("/api/v1/duty/shift-report", auth=COUNTY).status_code == 403
    bad = client.get("/api/v1/duty/shift-report", params={"shift": "yesterday"}, auth=OPERATOR)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "shift"
    bad = client.post("/api/v1/duty/shift-report", json={"notes": 5}, auth=OPERATOR)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "notes"
