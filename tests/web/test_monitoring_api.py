"""Monitoring and export API over Changji January 2019: station status, observations, AQI, completeness,
assessments, rankings, alarms (+ acknowledge), QA flags, exports; place scopes apply."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from bogda.config import Settings, WebSettings
from bogda.monitoring.aqi_tables import update_aqi
from bogda.monitoring.ingest import read_cnemc
from bogda.monitoring.load import load_result
from bogda.registry.people import add_user
from bogda.registry.places import load_prefecture
from bogda.store import connect
from bogda.web.app import create_app
from sharedata import require_shared

OPERATOR = ("operator", "operator-pass-1")
FUKANG = ("fukang", "fukang-pass-1")
JAN = {"from": "2019-01-01", "to": "2019-02-01"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = require_shared("xinjiang", "cnemc_xinjiang_sites_2019_dev.csv.gz")
    stations = require_shared("stations", "cnemc_stations_xinjiang.csv")
    folder = tmp_path_factory.mktemp("mon_api")
    store = connect(f"sqlite:///{folder / 'b.db'}")
    ids = load_prefecture(store, "652300")
    res = read_cnemc(path)
    lo, hi = datetime(2018, 12, 31, 16, tzinfo=UTC), datetime(2019, 1, 31, 16, tzinfo=UTC)
    codes = ("2690A", "2691A", "2692A", "1495A")
    frame = res.frame.filter(pl.col("site_code").is_in(codes) & pl.col("ts").is_between(lo, hi, closed="left"))
    from dataclasses import replace

    load_result(store, replace(res, frame=frame, sites=codes, rejected=[]), station_list=stations)
    update_aqi(store)
    with store.begin() as conn:
        add_user(
            conn, login=OPERATOR[0], password=OPERATOR[1], roles=["prefecture_operator"], scope_place_id=ids["652300"]
        )
        add_user(conn, login=FUKANG[0], password=FUKANG[1], roles=["prefecture_operator"], scope_place_id=ids["652302"])
    settings = Settings(database_url=store.url, data_dir=folder, web=WebSettings(secret_key="test-secret-key"))
    with TestClient(create_app(settings, store, console=False)) as c:
        yield c
    store.dispose()


def test_status_needs_login_and_respects_scope(client: TestClient) -> None:
    assert client.get("/api/v1/stations/status").status_code == 401
    body = client.get("/api/v1/stations/status", auth=OPERATOR).json()
    codes = {r["code"]: r for r in body["results"]}
    assert {"2690A", "2691A", "2692A"} <= set(codes)  # 1495A (Urumqi) lies outside the operator's prefecture
    assert body["meta"]["interval"] == "start, [start, end), UTC"
    fk = client.get("/api/v1/stations/status", auth=FUKANG).json()["results"]
    assert [r["code"] for r in fk] == ["2690A"]


def test_daily_aqi_and_observations(client: TestClient) -> None:
    r = client.get("/api/v1/aqi/daily", params={**JAN, "code": "2691A", "limit": 1}, auth=OPERATOR).json()
    first = r["results"][0]
    assert (first["aqi"], first["primary"], first["standard"], r["meta"]["found"]) == (216, "PM2.5", "HJ 633-2012", 31)
    assert first["interval_start_utc"] == "2018-12-31T16:00:00Z"
    county = client.get("/api/v1/aqi/daily", params={**JAN, "kind": "county", "code": "652301"}, auth=OPERATOR).json()
    assert county["meta"]["found"] == 31
    obs = client.get(
        "/api/v1/observations", params={**JAN, "station": "2691A", "parameter": "a34004", "limit": 24}, auth=OPERATOR
    ).json()
    assert obs["meta"]["found"] == 738 and len(obs["results"]) == 24  # 31 × 24 hours less 6 without a value
    assert client.get("/api/v1/observations", params={**JAN, "station": "ZZZZ"}, auth=OPERATOR).status_code == 404
    bad = client.get("/api/v1/aqi/daily", params={"from": "yesterday"}, auth=OPERATOR)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"


def test_assessment_and_rankings(client: TestClient) -> None:
    r = client.get(
        "/api/v1/assessments", params={**JAN, "kind": "county", "dust_mode": "with_dust", "limit": 1000}, auth=OPERATOR
    ).json()
    fig = {(x["target_code"], x["metric"]): x["value"] for x in r["results"]}
    assert fig[("652301", "mean_pm25")] == 153 and fig[("652301", "valid_days")] == 31
    rk = client.get("/api/v1/rankings", params=JAN, auth=OPERATOR).json()["results"]
    assert {x["target_code"] for x in rk} == {"652301"}


def test_completeness_shows_the_silent_station_for_a_wide_scope(client: TestClient) -> None:
    r = client.get("/api/v1/completeness", params=JAN, auth=OPERATOR).json()
    rows = {x["site_code"]: x for x in r["results"]}
    assert rows["2691A"]["rate"] > 90 and "1495A" not in rows


def test_alarms_ack_and_qa_flag(client: TestClient) -> None:
    from bogda.monitoring.alarms import run_alarms

    store = client.app.state.store
    run = run_alarms(store, at=datetime(2019, 1, 1, 6, tzinfo=UTC), now=datetime(2019, 1, 1, 7, 5, tzinfo=UTC))
    assert run.created
    lst = client.get("/api/v1/alarms", params={"state": "open"}, auth=OPERATOR).json()
    aid = lst["results"][0]["id"]
    ok = client.post(f"/api/v1/alarms/{aid}/ack", json={"note": "seen"}, auth=OPERATOR)
    assert ok.status_code == 200 and ok.json()["state"] == "acknowledged"
    assert client.post(f"/api/v1/alarms/{aid}/ack", json={}, auth=OPERATOR).status_code == 409
    assert client.post("/api/v1/alarms/999999/ack", json={}, auth=OPERATOR).status_code == 404
    body = {
        "station": "2691A",
        "parameter": "a34004",
        "ts": "2019-01-01T00:00:00+08:00",
        "severity": "invalid",
        "reason": "pump failure",
    }
    assert client.post("/api/v1/qa/flags", json=body, auth=OPERATOR).status_code == 200
    assert client.post("/api/v1/qa/flags", json={**body, "severity": "odd"}, auth=OPERATOR).status_code == 422
    assert client.post("/api/v1/qa/flags", json=body, auth=FUKANG).status_code == 404


def test_exports_small_and_job(client: TestClient, tmp_path: Path) -> None:
    r = client.post(
        "/api/v1/exports",
        json={"kind": "aqi_daily", "start": "2019-01-01", "end": "2019-02-01", "format": "csv", "sites": ["2691A"]},
        auth=OPERATOR,
    )
    assert r.status_code == 200 and r.json()["state"] == "done"
    f = client.get(r.json()["file"], auth=OPERATOR)
    assert f.status_code == 200 and f.content[:3] == b"\xef\xbb\xbf"
    big = client.post(
        "/api/v1/exports",
        json={"kind": "series", "start": "2019-01-01", "end": "2019-02-01", "format": "parquet"},
        auth=OPERATOR,
    )
    assert big.status_code == 202
    jid = big.json()["id"]
    import time

    for _ in range(200):
        st = client.get(f"/api/v1/exports/{jid}", auth=OPERATOR).json()
        if st["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert st["state"] == "done" and st["rows"] > 0
    assert client.get(f"/api/v1/exports/{jid}/file", auth=OPERATOR).status_code == 200
    assert (
        client.post(
            "/api/v1/exports", json={"kind": "x", "start": "2019-01-01", "end": "2019-01-02"}, auth=OPERATOR
        ).status_code
        == 422
    )
