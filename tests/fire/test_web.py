"""Fire REST API and console page over the demo region with a real MODIS file ingested."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bogda.config import Settings, WebSettings
from bogda.fire.service import ingest_files
from bogda.store import Store
from bogda.web.app import create_app

OPERATOR = ("operator", "operator-pass-1")


@pytest.fixture
def client(demo_store: Store, tmp_path: Path, shared_data: Path) -> Iterator[TestClient]:
    ingest_files(demo_store, [shared_data / "fire" / "firms_modis_c61_global_24h_2025-11-18.csv"])
    settings = Settings(database_url=demo_store.url, data_dir=tmp_path, web=WebSettings(secret_key="k" * 32))
    with TestClient(create_app(settings, demo_store, console=False), follow_redirects=False) as c:
        yield c


def test_fire_api(client: TestClient) -> None:
    fc = client.get("/api/v1/fire/detections", params={"start": "2025-11-18", "end": "2025-11-19"}, auth=OPERATOR)
    assert fc.status_code == 200 and fc.json()["type"] == "FeatureCollection"
    states = {f["properties"]["county_code"]: f["properties"]["state"] for f in fc.json()["features"]}
    assert states["652327"] == "screened"
    events = client.get("/api/v1/fire/events", auth=OPERATOR).json()["results"]
    jimsar = next(e for e in events if e["county_code"] == "652327")
    assert jimsar["verification"] == "pending" and jimsar["finding_id"] is not None
    r = client.post(f"/api/v1/fire/events/{jimsar['event_id']}/verdict", json={"verdict": "industrial"}, auth=OPERATOR)
    assert r.status_code == 200 and r.json()["outcome"] == "industrial" and len(r.json()["candidates"]) == 1
    bad = client.post(f"/api/v1/fire/events/{jimsar['event_id']}/verdict", json={"verdict": "x"}, auth=OPERATOR)
    assert bad.status_code == 422
    cands = client.get("/api/v1/fire/masks", params={"status": "candidate"}, auth=OPERATOR).json()["results"]
    assert [c["origin"] for c in cands] == ["verified_industrial"]
    ok = client.patch(f"/api/v1/fire/masks/{cands[0]['source_id']}", json={"status": "active"}, auth=OPERATOR)
    assert ok.status_code == 200 and ok.json()["edited_by"] == "operator"
    assert (
        client.post("/api/v1/fire/masks", json={"kind": "power", "lon": 89, "lat": 44}, auth=OPERATOR).status_code
        == 422
    )
    st = client.get("/api/v1/fire/stats", params={"by": "month", "county": "652327"}, auth=OPERATOR).json()
    row = next(r for r in st["results"] if r["sensor"] == "all" and r["month"] == "2025-11")
    assert row["points_all"] == 1
    # verdicts count in the month they were given (today)
    assert sum(r.get("verdict_industrial") or 0 for r in st["results"] if r["sensor"] == "all") == 1
    assert client.get("/api/v1/fire/events").status_code == 401


def test_default_day_is_the_beijing_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 17:00 UTC it is already the next day in Beijing: the default range is that day, whatever the server's own
    time zone (it used date.today(), the server's local date)."""
    from datetime import UTC, date, datetime

    from bogda.web.api import fire as api

    monkeypatch.setattr(api, "now_utc", lambda: datetime(2026, 11, 29, 17, 0, tzinfo=UTC))
    assert api._range(None, None) == (date(2026, 11, 30), date(2026, 11, 30))
    assert api._range(date(2026, 11, 1), None) == (date(2026, 11, 1), date(2026, 11, 30))
