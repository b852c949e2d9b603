"""Non-site supervision API: clue inbox and evidence, confirm / dismiss, enterprise page, KPI, scopes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bogda.config import Settings, WebSettings
from bogda.enforcement import service
from bogda.registry.people import add_user
from bogda.store import Store, connect
from bogda.store.schema import clue, place, site
from bogda.web.app import create_app
from enforcement.synthetic import START, write_demo_data

OFFICER = ("officer", "officer-pass-1")
OTHER_COUNTY = ("county", "county-pass-1")
ENT_USER = ("entuser", "entuser-pass-1")
VIEWER = ("viewer1", "viewer-pass-1")


@pytest.fixture(scope="module")
def api(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Store, dict]]:
    """One seeded copy of the demo region for the module (tests that write run last, in file order)."""
    tmp_path = tmp_path_factory.mktemp("enf_api")
    shutil.copyfile(demo_template, tmp_path / "demo.db")
    demo_store = connect(f"sqlite:///{tmp_path / 'demo.db'}")
    inj = write_demo_data(demo_store)
    service.run_clues(
        demo_store, since=START + timedelta(days=5), until=START + timedelta(days=20), enterprises=["ZD-PW1", "FK-CM1"]
    )
    with demo_store.begin() as conn:
        pref = conn.execute(select(place.c.id).where(place.c.code == "652300")).scalar_one()
        zd_place = conn.execute(select(site.c.place_id).where(site.c.id == inj.site["ZD-PW1"])).scalar_one()
        counties = dict(conn.execute(select(place.c.code, place.c.id).where(place.c.kind == "county")).all())
        from bogda.registry.places import descendants

        other = next(pid for pid in counties.values() if zd_place not in descendants(demo_store, pid))
        add_user(conn, login=OFFICER[0], password=OFFICER[1], roles=["enforcement_officer"], scope_place_id=pref)
        add_user(
            conn, login=OTHER_COUNTY[0], password=OTHER_COUNTY[1], roles=["enforcement_officer"], scope_place_id=other
        )
        add_user(
            conn,
            login=ENT_USER[0],
            password=ENT_USER[1],
            roles=["enterprise_user"],
            scope_enterprise_id=inj.site["ZD-PW1"],
        )
        add_user(conn, login=VIEWER[0], password=VIEWER[1], roles=["viewer"], scope_place_id=pref)
    settings = Settings(database_url=demo_store.url, data_dir=tmp_path, web=WebSettings(secret_key="k" * 32))
    with TestClient(create_app(settings, demo_store, console=False)) as c:
        yield c, demo_store, inj.site
    demo_store.dispose()


def _ids(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {f"{r.rule_id}:{r.channel or ''}": r.finding_id for r in conn.execute(select(clue))}


def test_inbox_scopes(api: tuple[TestClient, Store, dict[str, int]]) -> None:
    c, store, sites = api
    r = c.get("/api/v1/clues", auth=OFFICER)
    assert r.status_code == 200
    body = r.json()
    assert body["meta"]["found"] == len(_ids(store)) == len(body["results"]) > 0
    sev = [x["severity"] for x in body["results"]]
    assert sev == sorted(sev)  # S1 first
    assert {x["enterprise"]["code"] for x in body["results"]} == {"ZD-PW1", "FK-CM1"}
    own = c.get("/api/v1/clues", auth=ENT_USER).json()
    assert own["results"] and {x["enterprise"]["id"] for x in own["results"]} == {sites["ZD-PW1"]}
    other = c.get("/api/v1/clues", auth=OTHER_COUNTY).json()
    assert all(x["enterprise"]["code"] != "ZD-PW1" for x in other["results"])
    assert c.get("/api/v1/clues", params={"rule": "C01"}, auth=OFFICER).json()["meta"]["found"] == 1
    bad = c.get("/api/v1/clues", params={"status": "MAYBE"}, auth=OFFICER)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    assert c.get("/api/v1/clues").status_code == 401


def test_detail_evidence_and_plot(api: tuple[TestClient, Store, dict[str, int]]) -> None:
    c, store, _ = api
    fid = _ids(store)["C01:a21002"]
    d = c.get(f"/api/v1/clues/{fid}", auth=OFFICER).json()
    assert d["rule_id"] == "C01" and d["severity"] == "S1" and d["param_version"]
    raw = [x for x in d["evidence"]["raw"] if x["in_hit"] and x["channel"] == "a21002-Avg"]
    assert len(raw) == 4 and all(x["frame_uid"] for x in raw)
    assert len(d["evidence"]["frames"]) == 4
    plot = d["plot"]
    assert plot["series"][0]["markArea"]["data"] and plot["xAxis"]["data"]
    svg = c.get(f"/api/v1/clues/{fid}/plot.svg", auth=OFFICER)
    assert svg.status_code == 200 and svg.text.startswith("<svg")
    assert c.get(f"/api/v1/clues/{fid}", auth=OTHER_COUNTY).status_code == 404
    assert c.get(f"/api/v1/clues/{fid}", auth=ENT_USER).status_code == 200


def test_export_in_scope(api: tuple[TestClient, Store, dict[str, int]]) -> None:
    c, store, _ = api
    r = c.get("/api/v1/clues/export", auth=OFFICER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("finding_id,clue_id,rule_id") and len(lines) == 1 + len(_ids(store))
    own = c.get("/api/v1/clues/export", params={"format": "json"}, auth=ENT_USER).json()
    assert own["rows"] and {x["enterprise_code"] for x in own["rows"]} == {"ZD-PW1"}
    fields = c.get("/api/v1/clues/export", params={"format": "fields"}, auth=OFFICER)
    assert fields.content.decode("utf-8-sig").splitlines()[0] == "field,type,说明,description"
    gaps = c.get("/api/v1/enforcement/config-gaps", auth=OFFICER)
    assert gaps.status_code == 200 and gaps.json()["count"] == len(gaps.json()["items"])
    assert c.get("/api/v1/enforcement/config-gaps", auth=ENT_USER).status_code == 403


def test_enterprise_page(api: tuple[TestClient, Store, dict[str, int]]) -> None:
    c, _, sites = api
    ent = sites["ZD-PW1"]
    d = c.get(f"/api/v1/enforcement/enterprises/{ent}", auth=OFFICER).json()
    assert d["enterprise"]["code"] == "ZD-PW1"
    assert [o["code"] for o in d["outlets"]] == ["ZD-PW1-DA001", "ZD-PW1-DA002"]
    assert d["outlets"][0]["limits"]["a21002"]["limit"] == 50.0 and d["outlets"][0]["latest"]["a21002"]["value"]
    assert {m["role"] for m in d["meters"]} == {"production", "treatment"}
    assert d["clues"] and len(d["compliance"]["quarters"]["string"]) == 12
    comp = c.get(f"/api/v1/enforcement/enterprises/{ent}/compliance", auth=ENT_USER)
    assert comp.status_code == 200 and len(comp.json()["months"]["string"]) == 12
    assert c.get(f"/api/v1/enforcement/enterprises/{sites['FK-CM1']}", auth=ENT_USER).status_code == 404
    assert c.get(f"/api/v1/enforcement/enterprises/{ent}", auth=OTHER_COUNTY).status_code == 404


def test_confirm_dismiss_and_kpi(api: tuple[TestClient, Store, dict[str, int]]) -> None:
    c, store, _ = api
    ids = _ids(store)
    fid = ids["C01:a21002"]
    assert c.post(f"/api/v1/clues/{fid}/confirm", auth=VIEWER).status_code == 403
    assert c.post(f"/api/v1/clues/{fid}/confirm", auth=ENT_USER).status_code == 403
    r = c.post(f"/api/v1/clues/{fid}/confirm", json={"note": "核实"}, auth=OFFICER)
    assert r.status_code == 200 and r.json()["case_no"].startswith("FXC-")
    assert c.post(f"/api/v1/clues/{fid}/confirm", auth=OFFICER).status_code == 409
    d = c.get(f"/api/v1/clues/{fid}", auth=OFFICER).json()
    assert d["status"] == "CASE_FILED" and d["case"]["non_site"] is True
    e01 = ids["E01:"]
    miss = c.post(f"/api/v1/clues/{e01}/dismiss", json={"reason": ""}, auth=OFFICER)
    assert miss.status_code == 422
    ok = c.post(f"/api/v1/clues/{e01}/dismiss", json={"reason": "检修报备", "verdict": "EXCUSED"}, auth=OFFICER)
    assert ok.status_code == 200 and ok.json()["status"] == "EXCUSED"
    kpi = c.get("/api/v1/enforcement/kpi/non-site", params={"start": "2020-01-01T00:00:00+08:00"}, auth=OFFICER)
    assert kpi.status_code == 200
    disc = kpi.json()["discovery"]
    assert (disc["numerator"], disc["denominator"], disc["share_pct"], disc["goal"]) == (1, 1, 100.0, 0.4)
    assert c.get("/api/v1/enforcement/kpi/non-site", auth=ENT_USER).status_code == 403


def test_run_on_demand_is_idempotent(api: tuple[TestClient, Store, dict[str, int]]) -> None:
    c, store, _ = api
    body = {
        "since": (START + timedelta(days=5)).isoformat(),
        "until": (START + timedelta(days=20)).isoformat(),
        "enterprises": ["ZD-PW1", "FK-CM1"],
    }
    assert c.post("/api/v1/clues/run", json=body, auth=VIEWER).status_code == 403
    r = c.post("/api/v1/clues/run", json=body, auth=OFFICER)
    assert r.status_code == 200 and r.json()["created"] == 0 and r.json()["unchanged"] == len(_ids(store))


def test_marks_entered_by_the_enterprise(api: tuple[TestClient, Store, dict[str, int]]) -> None:
    c, _, sites = api
    ent = sites["ZD-PW1"]
    body = {
        "target": "ZD-PW1-DA002",
        "mark_type": "maintenance",
        "start": "2026-01-18T08:00:00+08:00",
        "end": "2026-01-18T10:00:00+08:00",
        "reason": "更换取样探头",
    }
    r = c.post("/api/v1/enforcement/marks", json=body, auth=ENT_USER)
    assert r.status_code == 200 and r.json()["enterprise_id"] == ent
    assert c.post("/api/v1/enforcement/marks", json=body, auth=ENT_USER).status_code == 409  # same mark twice
    other = c.post("/api/v1/enforcement/marks", json=body | {"target": "FK-CM1-DA001"}, auth=ENT_USER)
    assert other.status_code == 404  # not its own outlet
    assert c.post("/api/v1/enforcement/marks", json=body, auth=VIEWER).status_code == 403
    back = c.post("/api/v1/enforcement/marks", json=body | {"end": "2026-01-18T07:00:00+08:00"}, auth=OFFICER)
    assert back.status_code == 422
    listed = c.get(f"/api/v1/enforcement/enterprises/{ent}/marks", auth=OFFICER).json()
    assert listed["count"] == 1 and listed["items"][0]["target"] == "ZD-PW1-DA002"
    assert listed["items"][0]["entered_by"] == ENT_USER[0] and listed["items"][0]["reason"] == "更换取样探头"
    page = c.get(f"/api/v1/enforcement/enterprises/{ent}", auth=ENT_USER).json()
    assert [m["mark_type"] for m in page["marks"]] == ["maintenance"] and page["batteries"] == []
