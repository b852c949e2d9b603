"""Ledger REST API: roles and capabilities (governance §3.12 "ledgers"), validation errors, Excel in/out, KPIs."""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select

from bogda.config import Settings, WebSettings
from bogda.registry.people import add_user
from bogda.store import Store
from bogda.store.schema import audit, user, user_capability
from bogda.web.app import create_app
from ledger.samples import SAMPLES

USERS = {
    # login: (roles, capabilities)
    "clerk": (["prefecture_operator"], ["ledger_clerk"]),
    "operator": (["prefecture_operator"], []),
    "officer": (["enforcement_officer"], []),
    "viewer": (["viewer"], []),
    "member": (["grid_member"], []),
}


@pytest.fixture(scope="module")
def api_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    from bogda.registry.places import upsert_place
    from bogda.store import connect

    st = connect(f"sqlite:///{tmp_path_factory.mktemp('ledger_api') / 'api.db'}")
    with st.begin() as conn:
        pref = upsert_place(conn, code="652300", name="昌吉回族自治州", level=1, kind="prefecture")
        upsert_place(conn, code="652301", name="昌吉市", level=2, kind="county", parent_id=pref)
        for login, (roles, caps) in USERS.items():
            add_user(
                conn,
                login=login,
                password=f"{login}-pass-1",
                roles=roles,
                display_name=login,
                must_change_password=False,
                scope_place_id=pref,
            )
            uid = conn.execute(select(user.c.id).where(user.c.login == login)).scalar_one()
            for c in caps:
                conn.execute(user_capability.insert().values(user_id=uid, capability=c))
    yield st
    st.dispose()


@pytest.fixture(scope="module")
def client(api_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        database_url=api_store.url,
        data_dir=tmp_path_factory.mktemp("ledger_api_data"),
        web=WebSettings(secret_key="test-secret-key", login_attempts_per_minute=1000),
    )
    with TestClient(create_app(settings, api_store, console=False)) as c:
        yield c


def auth(login: str) -> tuple[str, str]:
    return (login, f"{login}-pass-1")


@pytest.mark.parametrize(
    ("login", "kind", "status"),
    [
        ("clerk", "petition", 201),
        ("operator", "petition", 403),  # no ledger_clerk capability
        ("officer", "case", 201),  # enforcement officers keep the case ledger
        ("officer", "petition", 403),
        ("viewer", "petition", 403),
        ("member", "petition", 403),
    ],
)
def test_write_permissions(client: TestClient, api_store: Store, login: str, kind: str, status: int) -> None:
    r = client.post(f"/api/v1/ledgers/{kind}/records", json=SAMPLES[kind][0], auth=auth(login))
    assert r.status_code == status, r.text
    if status == 403:
        with api_store.engine.connect() as conn:
            acts = conn.execute(select(audit.c.action).where(audit.c.login == login)).scalars().all()
        assert "access.denied" in acts


@pytest.mark.parametrize(("login", "status"), [("clerk", 200), ("viewer", 200), ("officer", 200), ("member", 403)])
def test_read_permissions(client: TestClient, login: str, status: int) -> None:
    assert client.get("/api/v1/ledgers/petition/records", auth=auth(login)).status_code == status


def test_validation_error_names_field(client: TestClient) -> None:
    bad = {**SAMPLES["petition"][0], "category": "涉土"}
    r = client.post("/api/v1/ledgers/petition/records", json=bad, auth=auth("clerk"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "category"


def test_import_export_and_kpi(client: TestClient) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["号牌号码", "车辆类型", "排放阶段", "淘汰日期", "淘汰方式"])
    ws.append(["新B1", "柴油客车", "国三", "2025-03-01", "报废"])
    ws.append(["新B2", "柴油客车", "国九", "", ""])  # line 3: bad emission stage
    buf = BytesIO()
    wb.save(buf)
    files = {"file": ("v.xlsx", buf.getvalue())}
    r = client.post("/api/v1/ledgers/vehicle/import", files=files, auth=auth("clerk"))
    assert r.status_code == 422 and r.json()["errors"][0]["line"] == 3
    r = client.post("/api/v1/ledgers/vehicle/import?errors_as=xlsx", files=files, auth=auth("clerk"))
    assert r.status_code == 422 and r.content[:2] == b"PK"  # the downloadable error file
    assert client.get("/api/v1/ledgers/vehicle/records", auth=auth("clerk")).json()["meta"]["found"] == 0
    ws.delete_rows(3)
    buf = BytesIO()
    wb.save(buf)
    r = client.post("/api/v1/ledgers/vehicle/import", files={"file": ("v.xlsx", buf.getvalue())}, auth=auth("clerk"))
    assert r.json() == {"written": 1}
    r = client.get("/api/v1/ledgers/vehicle/export", auth=auth("viewer"))
    assert r.status_code == 200 and r.content[:2] == b"PK"
    figs = {f["key"]: f for f in client.get("/api/v1/ledgers/kpi?year=2025", auth=auth("viewer")).json()["results"]}
    assert figs["vehicle.eliminated"]["display"] == "1辆" and figs["vehicle.eliminated"]["refs"] == [
        "vehicle_elimination:1"
    ]
