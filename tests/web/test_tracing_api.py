"""``/api/v1/tracing/apportionment``: the stored PMF runs (the Baltimore reference run, no ESAT needed) for every
signed-in user, and the adoption of a run's PM2.5 shares as source shares — issuers only, every refusal naming its
field (``labels``, ``area_code``, ``study_year``, ``run_id``) with nothing stored, a second adoption refused.
Submitting a run (the Baltimore pair uploaded as multipart): issuers only, 202 queued with its input under the data
dir; a refusal names its field (``conc``/``unc``, the numbers, ``categories``, ``area_code``), nothing queued."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bogda.config import Settings, WebSettings
from bogda.store import Store, connect
from bogda.store.schema import apportionment_run, audit, source_share
from bogda.tracing import apportionment as ap
from bogda.tracing import runs
from bogda.web.api import tracing as tracing_api
from bogda.web.app import create_app
from console_users import add_issuer_and_reader
from sharedata import require_shared
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
        add_issuer_and_reader(conn, ISSUER, PLAIN)
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


CONC = "Dataset-Baltimore_con.txt"
UNC = "Dataset-Baltimore_unc.txt"


@pytest.fixture(scope="module")
def pair() -> dict[str, bytes]:
    folder = require_shared("source_apportionment", "esat_examples")
    return {"conc": (folder / CONC).read_bytes(), "unc": (folder / UNC).read_bytes()}


def _files(
    pair: dict[str, bytes], conc: bytes | None = None, unc: bytes | None = None, names: tuple[str, str] = (CONC, UNC)
) -> dict[str, tuple[str, bytes, str]]:
    return {
        "conc": (names[0], pair["conc"] if conc is None else conc, "text/plain"),
        "unc": (names[1], pair["unc"] if unc is None else unc, "text/plain"),
    }


def _n_runs(st: Store) -> int:
    with st.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(apportionment_run)).scalar_one())


def _replace_cell(data: bytes, line: int, column: int, value: str) -> bytes:
    """``data`` with the cell at 1-based ``line`` (1 the header) and 0-based ``column`` set to ``value``."""
    lines = data.decode().split("\n")
    cells = lines[line - 1].split("\t")
    cells[column] = value
    lines[line - 1] = "\t".join(cells)
    return "\n".join(lines).encode()


def test_submit_queues_a_run_with_its_input(api: tuple[TestClient, Store], pair: dict[str, bytes]) -> None:
    c, st = api
    form = {"factors": "6", "models": "10", "seed": "7", "bootstrap": "0", "area_code": AREA, "site": "Baltimore"}
    form["categories"] = "OM=bad, Lead=weak"
    r = c.post(URL, files=_files(pair), data=form, auth=ISSUER)
    assert r.status_code == 202, r.json()
    out = r.json()
    assert out["status"] == "queued" and set(out) == {"run_id", "status"}
    run = runs.get_run(st, out["run_id"])
    assert (run["status"], run["area_code"], run["site"], run["factors"], run["seed"]) == (
        "queued",
        AREA,
        "Baltimore",
        6,
        7,
    )
    assert (run["dataset"], run["created_by"]) == (f"{CONC} + {UNC}", ISSUER[0])
    assert run["request"]["overrides"] == {"OM": "bad", "Lead": "weak"}
    assert {k: run["request"]["settings"][k] for k in ("models", "bootstrap_n")} == {"models": 10, "bootstrap_n": 0}
    data_dir = c.app.state.settings.data_dir
    folder = Path(run["job_dir"])
    assert folder == data_dir / "apportionment" / f"run-{out['run_id']}"
    conc, unc = baltimore_pair()
    kept = ap.read_matrix(folder / "input" / "conc.csv")
    assert kept.shape == conc.shape == (630, 26) and list(kept.columns) == list(conc.columns)
    assert ap.read_matrix(folder / "input" / "unc.csv").to_numpy() == pytest.approx(unc.to_numpy(), nan_ok=True)
    listed = next(x for x in c.get(URL, auth=PLAIN).json()["results"] if x["id"] == out["run_id"])
    assert (listed["status"], listed["started_at"]) == ("queued", None)
    with st.engine.connect() as conn:
        target = f"apportionment_run:{out['run_id']}"
        assert "apportionment.submit" in set(
            conn.execute(select(audit.c.action).where(audit.c.target == target)).scalars()
        )

    # the defaults: 6 factors, 20 models, seed 42, 20 bootstrap runs; a CSV pair is read comma-separated
    csv = {k: v.decode().replace("\t", ",").encode() for k, v in pair.items()}
    r = c.post(URL, files=_files(csv, names=("b.csv", "b_unc.csv")), auth=ISSUER)
    assert r.status_code == 202, r.json()
    run = runs.get_run(st, r.json()["run_id"])
    assert (run["factors"], run["seed"], run["area_code"], run["dataset"]) == (6, 42, None, "b.csv + b_unc.csv")
    assert run["request"]["settings"]["models"] == 20 and run["request"]["settings"]["bootstrap_n"] == 20


def test_submit_needs_an_issuer(api: tuple[TestClient, Store], pair: dict[str, bytes]) -> None:
    c, st = api
    before = _n_runs(st)
    assert c.post(URL, files=_files(pair)).status_code == 401
    r = c.post(URL, files=_files(pair), auth=PLAIN)
    assert r.status_code == 403 and _fields(r) == ["user"]
    assert _n_runs(st) == before


def _head(data: bytes, lines: int) -> bytes:
    return b"\n".join(data.split(b"\n")[:lines]) + b"\n"


@pytest.mark.parametrize(
    ("case", "status", "field", "named"),
    [
        ("conc_cell", 422, "conc", f"{CONC}: line 5, species 'Lead': 'n/a' is not a number"),
        ("unc_cell", 422, "unc", f"{UNC}: line 3, species 'PM2.5'"),
        ("few", 422, "conc", "50 samples: PMF needs at least 100"),
        ("mismatch", 422, "conc", "differ in their samples"),
        ("xlsx", 422, "conc", "book.xlsx"),
        ("empty", 422, "unc", "empty"),
        ("large", 413, "unc", UNC),
        ("categories", 422, "categories", "'OM:bad'"),
        ("category", 422, "categories", "'OM=gone'"),
        ("category_species", 422, "categories", "'Volcanic Ash'"),
        ("factors", 422, "factors", "4–9"),
        ("factors_text", 422, "factors", "factors"),
        ("models", 422, "models", "1–100"),
        ("bootstrap", 422, "bootstrap", "-1"),
        ("area", 422, "area_code", "nowhere"),
    ],
)
def test_a_refused_submission_names_the_field_and_queues_nothing(
    api: tuple[TestClient, Store],
    pair: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    status: int,
    field: str,
    named: str,
) -> None:
    c, st = api
    files, form = _files(pair), {}
    if case == "conc_cell":
        col = pair["conc"].split(b"\n")[0].decode().split("\t").index("Lead")
        files = _files(pair, conc=_replace_cell(pair["conc"], 5, col, "n/a"))
    elif case == "unc_cell":
        files = _files(pair, unc=_replace_cell(pair["unc"], 3, 1, "abc"))
    elif case == "few":
        files = _files(pair, conc=_head(pair["conc"], 51), unc=_head(pair["unc"], 51))
    elif case == "mismatch":
        files = _files(pair, unc=_head(pair["unc"], 300))
    elif case == "xlsx":
        files = _files(pair, names=("book.xlsx", UNC))
    elif case == "empty":
        files = _files(pair, unc=b"")
    elif case == "large":
        monkeypatch.setattr(tracing_api, "MAX_UPLOAD", len(pair["conc"]) + 10)
        files = _files(pair, unc=pair["unc"] + b"\n" * (len(pair["conc"]) + 20))
    elif case == "categories":
        form = {"categories": "Lead=weak, OM:bad"}
    elif case == "category":
        form = {"categories": "OM=gone"}
    elif case == "category_species":
        form = {"categories": "OM=bad, Volcanic Ash=weak"}
    elif case == "factors":
        form = {"factors": "30"}
    elif case == "factors_text":
        form = {"factors": "six"}
    elif case == "models":
        form = {"models": "0"}
    elif case == "bootstrap":
        form = {"bootstrap": "-1"}
    elif case == "area":
        form = {"area_code": "nowhere"}
    before = _n_runs(st)
    r = c.post(URL, files=files, data=form, auth=ISSUER)
    assert r.status_code == status and _fields(r) == [field], r.json()
    assert named in r.json()["detail"] or named in str(r.json()["errors"]), r.json()
    assert _n_runs(st) == before
