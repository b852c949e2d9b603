"""The tasks REST API (bogda.web.api.tasks) over the test region: scopes, transitions, 403/409/413/415/422
bodies, evidence upload and download, hand-made findings, KPIs as JSON and Excel."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bogda.audit import entries
from bogda.config import Settings, WebSettings
from bogda.findings import FindingDraft
from bogda.grid.exif import write_jpeg
from bogda.store import connect
from bogda.web.app import create_app
from grid.region import PW, T0, A, B, C, Region

API = "/api/v1"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now

    def tick(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def env(region_template: tuple[Path, Region], tmp_path: Path) -> Iterator[tuple[TestClient, Region, Clock]]:
    path, tpl = region_template
    shutil.copyfile(path, tmp_path / "region.db")
    st = connect(f"sqlite:///{tmp_path / 'region.db'}", migrate=False)
    settings = Settings(
        database_url=st.url,
        data_dir=tmp_path / "data",
        web=WebSettings(secret_key="test-secret", login_attempts_per_minute=100),
    )
    app = create_app(settings, st, console=False)
    clock = Clock()
    app.state.clock = clock
    from bogda.web.api.tasks import grid_service

    class _Req:
        def __init__(self, a: object) -> None:
            self.app = a

    svc = grid_service(_Req(app))  # type: ignore[arg-type]
    reg = Region(st, svc, dict(tpl.places), dict(tpl.enterprises), dict(tpl.users))
    with TestClient(app, follow_redirects=False) as client:
        yield client, reg, clock
    st.dispose()


def auth(login: str) -> tuple[str, str]:
    return (login, PW)


def new_task(reg: Region, at: tuple[float, float], key: str, kind: str = "alarm", **kw: object) -> int:
    out = reg.service.file_finding(
        FindingDraft(
            kind=kind,
            severity="medium",
            title=f"测试 {key}",
            dedupe_key=key,
            detected_at=T0,
            lon=at[0],
            lat=at[1],
            **kw,
        ),
        now=T0,
    )  # type: ignore[arg-type]
    assert out.task_id is not None
    return out.task_id


def test_list_is_scoped(env: tuple[TestClient, Region, Clock]) -> None:
    client, reg, _ = env
    ta, tc = new_task(reg, A, "a"), new_task(reg, C, "c")
    r = client.get(f"{API}/tasks", auth=auth("member"))
    assert r.status_code == 200
    assert [t["id"] for t in r.json()["results"]] == [ta]
    assert r.json()["results"][0]["place"]["id"] == reg.places["GA"]
    r = client.get(f"{API}/tasks", auth=auth("member_c"))
    assert [t["id"] for t in r.json()["results"]] == [tc]
    assert r.json()["meta"]["found"] == 1
    r = client.get(f"{API}/tasks", params={"state": "BOGUS"}, auth=auth("pref"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "state"


def test_out_of_scope_detail_is_403_and_audited(env: tuple[TestClient, Region, Clock]) -> None:
    client, reg, _ = env
    tc = new_task(reg, C, "c")
    r = client.get(f"{API}/tasks/{tc}", auth=auth("member"))
    assert r.status_code == 403
    assert "task not owned by the user's grid" in r.json()["detail"]
    denied = entries(reg.store, action_prefix="access.denied")
    assert denied[0]["login"] == "member" and denied[0]["target"] == f"task:{tc}"
    assert client.get(f"{API}/tasks/999999", auth=auth("pref")).status_code == 404


def test_full_path_over_http(env: tuple[TestClient, Region, Clock]) -> None:
    client, reg, clock = env
    tid = new_task(reg, A, "a")

    def post(login: str, event: str, **body: object) -> object:
        clock.tick(5)
        return client.post(f"{API}/tasks/{tid}/events", json={"event": event, **body}, auth=auth(login))

    assert post("member", "dispatch").status_code == 403
    r = post("pref", "dispatch")
    assert r.status_code == 200 and r.json()["state"] == "DISPATCHED" and r.json()["sign_due"] is not None
    r = post("member", "approve")
    assert r.status_code == 403
    r = post("pref", "approve")
    assert r.status_code == 409
    assert "DISPATCHED" in r.json()["detail"] and "allowed: return, sign" in r.json()["detail"]
    assert post("member", "sign").json()["state"] == "ACCEPTED"
    clock.tick(5)
    jpeg = write_jpeg(taken_at=clock.now, lon=A[0], lat=A[1])
    r = client.post(
        f"{API}/tasks/{tid}/evidence",
        files={"file": ("p.jpg", jpeg, "image/jpeg")},
        data={"stage": "site"},
        auth=auth("member"),
    )
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["passed"] and ev["flags"] == [] and ev["taken_at"]["utc"].startswith("2025-03-03T02:")
    got = client.get(ev["url"], auth=auth("member"))
    assert got.status_code == 200 and got.content == jpeg
    assert client.get(ev["url"], auth=auth("member_c")).status_code == 403
    r = post("member", "confirm")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "attachments"
    assert post("member", "confirm", attachments=[ev["id"]]).json()["state"] == "HANDLING"
    r = post("member", "feedback", attachments=[ev["id"]])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "measures"
    r = post("member", "feedback", attachments=[ev["id"]], params={"measures": "已整改"})
    assert r.json()["state"] == "REVIEW"
    r = post("chief", "reject", comment="")
    assert r.status_code == 422
    assert post("chief", "reject", comment="补充照片").json()["rework_count"] == 1
    detail = client.get(f"{API}/tasks/{tid}", auth=auth("chief")).json()
    assert [e["event"] for e in detail["events"]] == [
        "create",
        "dispatch",
        "sign",
        "evidence",
        "confirm",
        "feedback",
        "reject",
    ]
    assert detail["events"][-1]["actor"] == "chief" and detail["events"][-1]["comment"] == "补充照片"
    assert detail["evidence"][0]["sha256"] == ev["sha256"]


@pytest.mark.parametrize(
    ("data", "ctype", "status"),
    [
        (b"<?php system($_GET['c']); ?>" + b" " * 100, "image/jpeg", 415),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/jpeg", 415),
        (b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024 + 10), "image/jpeg", 413),
    ],
)
def test_forged_upload_refused(env: tuple[TestClient, Region, Clock], data: bytes, ctype: str, status: int) -> None:
    client, reg, _ = env
    tid = new_task(reg, A, "f")
    r = client.post(f"{API}/tasks/{tid}/evidence", files={"file": ("x.jpg", data, ctype)}, auth=auth("member"))
    assert r.status_code == status
    assert r.json()["errors"][0]["field"] == "file"
    assert entries(reg.store, action_prefix="evidence.refused")[0]["login"] == "member"


def test_bulk_dispatch_reports_each(env: tuple[TestClient, Region, Clock]) -> None:
    client, reg, _ = env
    t1, t2, t3 = new_task(reg, A, "1"), new_task(reg, B, "2"), new_task(reg, C, "3")
    r = client.post(f"{API}/tasks/dispatch", json={"task_ids": [t1, t2, t3]}, auth=auth("county"))
    res = {x["task_id"]: x["result"] for x in r.json()["results"]}
    assert res[t1] == "ok" and res[t2].startswith("403") and res[t3].startswith("403")


def test_member_files_patrol_not_petition(env: tuple[TestClient, Region, Clock]) -> None:
    client, _reg, _ = env
    body = {"kind": "patrol", "title": "秸秆焚烧", "lon": A[0], "lat": A[1], "category": "burning"}
    r = client.post(f"{API}/tasks", json=body, auth=auth("member"))
    assert r.status_code == 201 and r.json()["action"] == "created"
    r = client.post(f"{API}/tasks", json={**body, "kind": "petition"}, auth=auth("member"))
    assert r.status_code == 403
    r = client.post(f"{API}/tasks", json={**body, "lon": C[0], "lat": C[1]}, auth=auth("member"))
    assert r.status_code == 403
    r = client.post(f"{API}/tasks", json={**body, "kind": "rumour"}, auth=auth("member"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
    r = client.post(f"{API}/tasks", json={**body, "kind": "upper_dispatch"}, auth=auth("pref"))
    assert r.status_code == 201
    t = client.get(f"{API}/tasks/{r.json()['task_id']}", auth=auth("pref")).json()
    assert (t["source"], t["severity"]) == ("upper_dispatch", "P3")


def test_enterprise_sees_released_tasks_only(env: tuple[TestClient, Region, Clock]) -> None:
    client, reg, _ = env
    tid = new_task(reg, A, "e", subject_site_id=reg.enterprises["E1"])
    assert client.get(f"{API}/tasks", auth=auth("ent")).json()["results"] == []
    r = client.post(
        f"{API}/tasks/{tid}/events", json={"event": "visible", "params": {"visible": True}}, auth=auth("pref")
    )
    assert r.status_code == 200 and r.json()["visible_to_enterprise"]
    assert [t["id"] for t in client.get(f"{API}/tasks", auth=auth("ent")).json()["results"]] == [tid]
    assert client.get(f"{API}/tasks", auth=auth("ent2")).json()["results"] == []
    r = client.post(f"{API}/tasks/{tid}/events", json={"event": "respond", "comment": "已停产检修"}, auth=auth("ent"))
    assert r.status_code == 200
    r = client.post(f"{API}/tasks/{tid}/events", json={"event": "dispatch"}, auth=auth("ent"))
    assert r.status_code == 403


def test_kpis_json_and_excel(env: tuple[TestClient, Region, Clock]) -> None:
    from openpyxl import load_workbook

    client, reg, clock = env
    tid = new_task(reg, A, "k")
    reg.service.transition(tid, "dispatch", reg.actor("pref"), now=T0 + timedelta(minutes=1))
    reg.service.transition(tid, "sign", reg.actor("member"), now=T0 + timedelta(minutes=2))
    clock.now = T0 + timedelta(days=1)
    params = {"level": "county", "start": "2025-03-01", "end": "2025-04-01"}
    r = client.get(f"{API}/kpis", params=params, auth=auth("pref"))
    assert r.status_code == 200
    res = {x["place"]: x for x in r.json()["results"]}
    assert res["一县"]["kpis"]["sign_timely"] == {
        "numerator": 1.0,
        "denominator": 1,
        "value": 100.0,
        "display": "100.0 %",
        "dp": 1,
    }
    assert res["合计"]["kpis"]["closure"]["display"] == "NA"  # nothing due yet as of the clock
    r = client.get(f"{API}/kpis.xlsx", params=params, auth=auth("pref"))
    assert r.status_code == 200 and "kpi_county_2025-03-01_2025-03-31.xlsx" in r.headers["content-disposition"]
    ws = load_workbook(BytesIO(r.content)).active
    assert ws.cell(3, 1).value == "一县"
    assert client.get(f"{API}/kpis", params={**params, "level": "planet"}, auth=auth("pref")).status_code == 422
    assert client.get(f"{API}/kpis", params=params, auth=auth("member")).json()["results"][0]["place"] == "一县"


def test_on_the_spot_and_configuration(env: tuple[TestClient, Region, Clock]) -> None:
    client, _reg, clock = env
    jpeg = write_jpeg(taken_at=clock.now, lon=A[0], lat=A[1], payload=b"spot")
    data = {"title": "路边垃圾焚烧", "lon": str(A[0]), "lat": str(A[1]), "measures": "当场扑灭", "category": "burning"}
    r = client.post(
        f"{API}/tasks/on-the-spot", data=data, files=[("files", ("a.jpg", jpeg, "image/jpeg"))], auth=auth("member")
    )
    assert r.status_code == 201, r.text
    t = client.get(f"{API}/tasks/{r.json()['task_id']}", auth=auth("member")).json()
    assert t["state"] == "REVIEW" and t["source"] == "patrol"
    r = client.put(f"{API}/sla-rules/patrol/P3", json={"feedback": "12h", "close": "3d"}, auth=auth("member"))
    assert r.status_code == 403
    r = client.put(f"{API}/sla-rules/patrol/P3", json={"feedback": "12h", "close": "3d"}, auth=auth("admin"))
    assert r.status_code == 200 and r.json()["overrides"]["patrol/P3"]["close"] == "3d"
    r = client.put(f"{API}/holidays/2025-03-08", json={"kind": "work", "name": "调休"}, auth=auth("pref"))
    assert r.status_code == 200
    r = client.put(f"{API}/holidays/2025-03-08", json={"kind": "maybe"}, auth=auth("pref"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
