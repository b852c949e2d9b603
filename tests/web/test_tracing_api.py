"""``/api/v1/tracing/apportionment``: the stored PMF runs (the Baltimore reference run, no ESAT needed) for every
signed-in user, and the adoption of a run's PM2.5 shares as source shares — issuers only, every refusal naming its
field (``labels``, ``area_code``, ``study_year``, ``run_id``) with nothing stored, a second adoption refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bogda.config import Settings, WebSettings
from bogda.registry.people import add_user
from bogda.store import Store, connect
from bogda.store.schema import audit, place, source_share, user_capability
from bogda.tracing import apportionment as ap
from bogda.tracing import runs
from bogda.web.app import create_app
from tracing_reference import REFERENCE_SETTINGS, baltimore_pair, baltimore_record

ISSUER = ("pmfissuer", "pmfissuer-pass-1")
PLAIN = ("pmfplain", "pmfplain-pass-1")
URL = "/api/v1/tracing/apportionment"
SHARES = "/api/v1/forecast/source-shares"
AREA = "652323"  # 呼图壁县 in the demo region
LABELS = {"F1": "biomass", "F2": "traffic", "F3": "industry", "F4": "nitrate", "F5": "dust", "F6": "sulfate"}


@pytest.fixture(scope="module")
def record() -> dict[str, Any]:
    return baltimore_record()


@pytest.fixture(scope="module")
def api(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Store]]:
    tmp_path = tmp_path_factory.mktemp("tracing_api")
    shutil.copyfile(demo_template, tmp_path / "demo.db")
    st = connect(f"sqlite:///{tmp_path / 'demo.db'}")
    with st.begin() as conn:
        pref = conn.execute(select(place.c.id).where(place.c.code == "652300")).scalar_one()
        uid = add_user(conn, login=ISSUER[0], password=ISSUER[1], roles=["prefecture_operator"], scope_place_id=pref)
        conn.execute(user_capability.insert().values(user_id=uid, capability="warning_issuer"))
        add_user(conn, login=PLAIN[0], password=PLAIN[1], roles=["prefecture_operator"], scope_place_id=pref)
    settings = Settings(database_url=st.url, data_dir=tmp_path, web=WebSettings(secret_key="k" * 32))
    with TestClient(create_app(settings, st, console=False)) as c:
        yield c, st
    st.dispose()


def _store(st: Store, record: dict[str, Any], area: str | None = AREA) -> int:
    return runs.store_run(st, record, area_code=area, site="Baltimore", dataset="Dataset-Baltimore_con.txt + _unc.txt")


def _fields(r: Any) -> list[str]:
    return [e["field"] for e in r.json()["errors"]]


def _n_shares(st: Store) -> int:
    with st.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(source_share)).scalar_one())


def test_list_and_get_for_any_user(api: tuple[TestClient, Store], record: dict[str, Any]) -> None:
    c, st = api
    rid = _store(st, record)
    failed = runs.store_failure(st, REFERENCE_SETTINGS, "worker exited with 1", area_code="652301", site="CJ-01")
    assert c.get(URL).status_code == 401
    rows = c.get(URL, auth=PLAIN).json()["results"]
    ids = [r["id"] for r in rows]
    assert ids.index(failed) < ids.index(rid)  # newest first
    mine = next(r for r in rows if r["id"] == rid)
    assert (mine["status"], mine["factors"], mine["area_code"], mine["adopted_doc"]) == ("done", 6, AREA, None)
    assert mine["q_true"] == pytest.approx(record["q_true"]) and mine["q_expected"] == record["q_expected"]
    assert mine["created_at"]["utc"].endswith("Z") and mine["finished_at"] == mine["created_at"]
    assert "result" not in mine and "job_dir" not in mine
    bad = next(r for r in rows if r["id"] == failed)
    assert (bad["status"], bad["error"], bad["q_true"]) == ("failed", "worker exited with 1", None)
    assert [r["id"] for r in c.get(URL, params={"area_code": "652301"}, auth=PLAIN).json()["results"]] == [failed]

    one = c.get(f"{URL}/{rid}", auth=PLAIN)
    assert one.status_code == 200
    result = one.json()["result"]
    assert result["samples"] == 630 and result["mass_species"] == "PM2.5"
    assert {f: v["label"] for f, v in result["labels"].items()} == LABELS
    assert result["labels"]["F6"]["label_zh"] == "二次硫酸盐"
    assert {r["group"] for r in result["mass"]} == {"all", "heating", "non_heating"}
    assert sum(r["share"] for r in result["mass"] if r["group"] == "all") == pytest.approx(1.0)
    assert len(result["species"]) == 26 and result["residuals"] and result["bootstrap"] is None

    missing = c.get(f"{URL}/999999", auth=PLAIN)
    assert missing.status_code == 404 and _fields(missing) == ["run_id"]


def test_adopt_writes_the_shares_once(api: tuple[TestClient, Store], record: dict[str, Any]) -> None:
    c, st = api
    rid = _store(st, record)
    body = {"labels": LABELS, "study_year": 2007}
    assert c.post(f"{URL}/{rid}/adopt", json=body).status_code == 401
    refused = c.post(f"{URL}/{rid}/adopt", json=body, auth=PLAIN)
    assert refused.status_code == 403 and _fields(refused) == ["user"]
    assert c.get(SHARES, params={"area_code": AREA}, auth=PLAIN).json()["results"] == []

    r = c.post(f"{URL}/{rid}/adopt", json=body, auth=ISSUER)
    assert r.status_code == 201, r.json()
    out = r.json()
    # 3 seasons (no heavy day in Baltimore) × 5 categories (sulfate and nitrate both secondary)
    assert len(out["share_ids"]) == 15 and out["run_id"] == rid
    assert out["source_doc"].startswith(f"ESAT PMF 源解析 #{rid} Baltimore")
    shares = c.get(SHARES, params={"area_code": AREA}, auth=PLAIN).json()["results"]
    assert sorted(s["id"] for s in shares) == sorted(out["share_ids"])
    assert {s["source_doc"] for s in shares} == {out["source_doc"]}
    assert {(s["pollutant"], s["study_year"], s["entered_by"]) for s in shares} == {("PM2.5", 2007, ISSUER[0])}
    whole = {s["source"]: s["share"] for s in shares if s["season"] == "all"}
    expected = {r["source"]: r["share"] for r in ap.proposed_shares(record["mass"], LABELS) if r["season"] == "all"}
    assert whole == expected and set(whole) == {"secondary", "traffic", "dust", "biomass", "industry"}
    assert whole["secondary"] == pytest.approx(0.5461, abs=1e-4)  # F4 14.2 % + F6 40.4 %

    run = next(x for x in c.get(URL, auth=PLAIN).json()["results"] if x["id"] == rid)
    assert (run["adopted_doc"], run["labels"]) == (out["source_doc"], LABELS)
    with st.engine.connect() as conn:
        actions = conn.execute(select(audit.c.action).where(audit.c.target == f"apportionment_run:{rid}")).scalars()
        assert "apportionment.adopt" in set(actions)

    again = c.post(f"{URL}/{rid}/adopt", json=body, auth=ISSUER)
    assert again.status_code == 409 and _fields(again) == ["run_id"]
    assert "already adopted" in again.json()["detail"]
    assert len(c.get(SHARES, params={"area_code": AREA}, auth=PLAIN).json()["results"]) == 15


@pytest.mark.parametrize(
    ("body", "field", "named"),
    [
        ({"labels": {k: v for k, v in LABELS.items() if k != "F3"}}, "labels", "F3"),  # F3 unlabelled
        ({"labels": LABELS | {"F2": "volcano"}}, "labels", "volcano"),
        ({"labels": LABELS | {"F7": "dust"}}, "labels", "F7"),  # no such factor
        ({}, "labels", "labels"),  # no labels at all: FastAPI's own check, the same error shape
        ({"labels": LABELS, "area_code": "nowhere"}, "area_code", "nowhere"),
        ({"labels": LABELS, "study_year": 1800}, "study_year", "1800"),
    ],
)
def test_a_refused_adoption_names_the_field_and_stores_nothing(
    api: tuple[TestClient, Store], record: dict[str, Any], body: dict, field: str, named: str
) -> None:
    c, st = api
    rid = _store(st, record)
    before = _n_shares(st)
    r = c.post(f"{URL}/{rid}/adopt", json=body, auth=ISSUER)
    assert r.status_code == 422 and _fields(r) == [field], r.json()
    assert named in r.json()["detail"]
    assert _n_shares(st) == before
    assert runs.get_run(st, rid)["adopted_doc"] is None


def test_a_run_without_area_needs_one(api: tuple[TestClient, Store], record: dict[str, Any]) -> None:
    c, st = api
    rid = _store(st, record, area=None)
    r = c.post(f"{URL}/{rid}/adopt", json={"labels": LABELS}, auth=ISSUER)
    assert r.status_code == 422 and _fields(r) == ["area_code"]
    r = c.post(f"{URL}/{rid}/adopt", json={"labels": LABELS, "area_code": "652301"}, auth=ISSUER)
    assert r.status_code == 201
    assert runs.get_run(st, rid)["area_code"] == "652301"


def test_failed_queued_and_unknown_runs(api: tuple[TestClient, Store], tmp_path: Path) -> None:
    c, st = api
    failed = runs.store_failure(st, REFERENCE_SETTINGS, "too few samples", area_code=AREA)
    r = c.post(f"{URL}/{failed}/adopt", json={"labels": LABELS}, auth=ISSUER)
    assert r.status_code == 409 and _fields(r) == ["run_id"] and "failed" in r.json()["detail"]
    queued = runs.submit_run(st, *baltimore_pair(), REFERENCE_SETTINGS, area_code=AREA, data_dir=tmp_path)
    row = c.get(f"{URL}/{queued}", auth=PLAIN).json()
    assert (row["status"], row["started_at"], row["result"]) == ("queued", None, None)
    r = c.post(f"{URL}/{queued}/adopt", json={"labels": LABELS}, auth=ISSUER)
    assert r.status_code == 409 and _fields(r) == ["run_id"] and "no result yet" in r.json()["detail"]
    r = c.post(f"{URL}/999999/adopt", json={"labels": LABELS}, auth=ISSUER)
    assert r.status_code == 404 and _fields(r) == ["run_id"]
    # the rights come first: a reader learns nothing about runs they could not adopt
    assert c.post(f"{URL}/999999/adopt", json={"labels": LABELS}, auth=PLAIN).status_code == 403
