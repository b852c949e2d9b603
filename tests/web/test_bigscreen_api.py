"""The big screen's API over a copy of the demo region: live figures equal the store's counts, a county user sees
only their county (in the API, not only on the page), the 72-hour replay cuts the state at each hour from the
records' open and close times, and targets are entered by administrators only."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bogda.config import Settings, WebSettings
from bogda.findings import LIVE, FindingDraft, raise_finding, set_status
from bogda.monitoring.aqi_tables import update_aqi
from bogda.registry.people import add_user
from bogda.store import Store, connect
from bogda.store.schema import aqi_hourly, finding, fire_event, place, site
from bogda.timeutil import beijing_date, epoch_seconds, floor_to, now_utc
from bogda.web.api.bigscreen import ScreenScope, replay_bundle, replay_frame, scope_for, screen_figures
from bogda.web.app import create_app

CHANGJI_CITY, FUKANG = "652301", "652302"
PASSWORD = "county-pass-123"


@pytest.fixture(scope="module")
def store(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("bigscreen_api")
    shutil.copyfile(demo_template, folder / "demo.db")
    st = connect(f"sqlite:///{folder / 'demo.db'}")
    end = floor_to(now_utc(), "hour")
    update_aqi(st, start=end - timedelta(days=3), end=end)
    ids = _places(st)
    now = now_utc()
    with st.begin() as conn:
        add_user(
            conn,
            login="county1",
            password=PASSWORD,
            roles=["county_operator"],
            scope_place_id=ids[CHANGJI_CITY],
            display_name="昌吉市值班员",
        )
        # one finding in each of two counties, one resolved 10 h ago, one fire event in each county
        for code, lon, lat, key in ((CHANGJI_CITY, 87.30, 44.01, "a"), (FUKANG, 87.98, 44.16, "b")):
            raise_finding(
                conn,
                FindingDraft(
                    kind="incident",
                    severity="high",
                    title=f"大屏接口测试 {code}",
                    dedupe_key=f"bs-api-{key}",
                    detected_at=now - timedelta(hours=30),
                    lon=lon,
                    lat=lat,
                    place_id=ids[code],
                ),
            )
            conn.execute(
                fire_event.insert().values(
                    event_id=f"FE-TEST-{key}",
                    status="open",
                    first_seen_utc=now - timedelta(hours=20),
                    last_seen_utc=now - timedelta(hours=2),
                    lat=lat,
                    lon=lon,
                    n_detections=2,
                    n_clusters=1,
                    satellites=["NOAA-20"],
                    max_frp=12.5,
                    county_code=code,
                    place_id=ids[code],
                    updated_at=now,
                )
            )
        raise_finding(
            conn,
            FindingDraft(
                kind="incident",
                severity="medium",
                title="大屏接口测试 已处理",
                dedupe_key="bs-api-c",
                detected_at=now - timedelta(hours=40),
                lon=87.31,
                lat=44.02,
                place_id=ids[CHANGJI_CITY],
            ),
        )
    fid = _finding_id(st, "bs-api-c")
    with st.begin() as conn:
        set_status(conn, fid, "dismissed", by="tester", reason="测试：已核实无问题", now=now - timedelta(hours=10))
    yield st
    st.dispose()


def _places(st: Store) -> dict[str, int]:
    with st.engine.connect() as conn:
        rows = conn.execute(select(place.c.code, place.c.id).where(place.c.kind.in_(["county", "prefecture"]))).all()
    return {code: pid for code, pid in rows}


def _finding_id(st: Store, key: str) -> int:
    with st.engine.connect() as conn:
        return conn.execute(select(finding.c.id).where(finding.c.dedupe_key == key)).scalar_one()


@pytest.fixture(scope="module")
def client(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("bigscreen_app")
    settings = Settings(database_url=store.url, data_dir=folder, web=WebSettings(secret_key="test-secret-key"))
    with TestClient(create_app(settings, store, console=False)) as c:
        yield c


OPERATOR = ("operator", "operator-pass-1")
COUNTY = ("county1", PASSWORD)


def test_figures_need_a_login(client: TestClient) -> None:
    r = client.get("/api/v1/bigscreen/figures")
    assert r.status_code == 401
    assert r.json()["errors"][0]["field"] == "Authorization"


def test_prefecture_figures_equal_the_store(client: TestClient, store: Store) -> None:
    body = client.get("/api/v1/bigscreen/figures", auth=OPERATOR).json()
    with store.engine.connect() as conn:
        live = conn.execute(select(func.count()).where(finding.c.status.in_(LIVE))).scalar_one()
        stations = conn.execute(select(func.count()).where(site.c.kind == "air_station")).scalar_one()
    assert sum(body["findings_by_kind"].values()) == live
    assert len(body["stations"]) == stations
    assert body["headline"] == "652300"
    assert {a["code"] for a in body["areas"]} >= {"652300", CHANGJI_CITY, FUKANG}
    assert {e["event_id"] for e in body["fires"]} >= {"FE-TEST-a", "FE-TEST-b"}
    assert body["non_site"] is not None


def test_today_and_warning_regions(client: TestClient, store: Store) -> None:
    from bogda.store.schema import aqi_daily
    from bogda.timeutil import day_start_utc
    from bogda.web.ui.bigscreen import warning_regions

    body = client.get("/api/v1/bigscreen/figures", auth=OPERATOR).json()
    # "today" is the Beijing day of the answer (shared by screens for 2 s), not of a later clock read: at Beijing
    # midnight the two differ
    day = date.fromisoformat(body["generated_at"]["local"][:10])
    assert day == beijing_date(datetime.fromisoformat(body["generated_at"]["utc"]))
    ts = epoch_seconds(day_start_utc(day))
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(aqi_daily.c.target_code, aqi_daily.c.aqi).where(
                aqi_daily.c.target_kind.in_(("prefecture", "county")), aqi_daily.c.ts == ts
            )
        ).all()
    assert {c: v["aqi"] for c, v in body["today"].items()} == {c: a for c, a in rows}
    assert all(v["good"] == (v["aqi"] <= 100) for v in body["today"].values() if v["aqi"] is not None)
    county = client.get("/api/v1/bigscreen/figures", auth=COUNTY).json()
    assert set(county["today"]) <= {CHANGJI_CITY}
    areas = [
        {"kind": "prefecture", "code": "652300", "name": "昌吉州", "name_en": "Changji"},
        {"kind": "county", "code": CHANGJI_CITY, "name": "昌吉市", "name_en": "Changji City"},
        {"kind": "county", "code": FUKANG, "name": "阜康市", "name_en": "Fukang"},
    ]
    one = {"areas": areas, "warnings": [{"area_code": FUKANG, "level": "yellow"}]}
    assert [r["name"] for r in warning_regions(one, "zh")] == ["阜康市"]
    both = {
        "areas": areas,
        "warnings": [{"area_code": FUKANG, "level": "red"}, {"area_code": "652300", "level": "blue"}],
    }
    regions = {r["name"]: r["itemStyle"]["areaColor"] for r in warning_regions(both, "en")}
    assert set(regions) == {"Changji City", "Fukang"}
    assert regions["Fukang"].startswith("rgba(220,38,38") and regions["Changji City"].startswith("rgba(59,130,246")


def test_county_user_sees_only_their_county(client: TestClient, store: Store) -> None:
    ids = _places(store)
    scope = scope_for(store, None)
    assert scope.unrestricted
    body = client.get("/api/v1/bigscreen/figures", auth=COUNTY).json()
    assert body["headline"] == CHANGJI_CITY
    assert [a["code"] for a in body["areas"]] == [CHANGJI_CITY]
    assert body["stations"] and {s["county_code"] for s in body["stations"]} == {CHANGJI_CITY}
    titles = {f["title"] for f in body["findings"]}
    assert f"大屏接口测试 {CHANGJI_CITY}" in titles and f"大屏接口测试 {FUKANG}" not in titles
    assert {e["event_id"] for e in body["fires"]} == {"FE-TEST-a"}
    assert body["non_site"] is None  # cases carry no area: not shown to a county
    # the counts are the county's, not the prefecture's
    from bogda.registry.places import descendants

    sub = descendants(store, ids[CHANGJI_CITY])
    with store.engine.connect() as conn:
        n = conn.execute(
            select(func.count()).where(finding.c.status.in_(LIVE), finding.c.place_id.in_(sorted(sub)))
        ).scalar_one()
    assert sum(body["findings_by_kind"].values()) == n
    everything = client.get("/api/v1/bigscreen/figures", auth=OPERATOR).json()
    assert sum(everything["findings_by_kind"].values()) > n


def test_county_replay_is_restricted_too(client: TestClient) -> None:
    body = client.get("/api/v1/bigscreen/replay", auth=COUNTY).json()
    assert [a["code"] for a in body["areas"]] == [CHANGJI_CITY]
    assert all(f["title"] != f"大屏接口测试 {FUKANG}" for f in body["findings"])
    assert {e["event_id"] for e in body["fires"]} == {"FE-TEST-a"}


def test_replay_steps_follow_the_records(store: Store) -> None:
    end = floor_to(now_utc(), "hour")
    bundle = replay_bundle(store, end=end)
    assert len(bundle["steps"]) == 73
    assert bundle["steps"][-1] == epoch_seconds(end)
    assert bundle["steps"][1] - bundle["steps"][0] == 3600
    # station AQI at a step equals the aqi_hourly row of that hour
    code, step = bundle["stations"][0]["code"], 60
    with store.engine.connect() as conn:
        want = conn.execute(
            select(aqi_hourly.c.aqi).where(
                aqi_hourly.c.target_kind == "station",
                aqi_hourly.c.target_code == code,
                aqi_hourly.c.ts == bundle["steps"][step],
            )
        ).scalar()
    assert bundle["stations"][0]["aqi"][step] == want
    frame = replay_frame(bundle, step)
    st = next(s for s in frame["stations"] if s["code"] == code)
    assert st["aqi"] == want and (st["colour"] != "#BFBFBF") == (want is not None)

    def titles(i: int) -> set[str]:
        return {f["title"] for f in replay_frame(bundle, i)["finding_points"]}

    # detected 30 h before now: absent 40 h back, present 20 h back and now
    assert f"大屏接口测试 {FUKANG}" not in titles(72 - 40)
    assert f"大屏接口测试 {FUKANG}" in titles(72 - 20)
    assert f"大屏接口测试 {FUKANG}" in titles(72)
    # opened 40 h back, dismissed 10 h back
    assert "大屏接口测试 已处理" not in titles(72 - 45)
    assert "大屏接口测试 已处理" in titles(72 - 20)
    assert "大屏接口测试 已处理" not in titles(72 - 5)
    # fire events first seen 20 h back, last seen 2 h back (+ the linger)
    fires = lambda i: {e["event_id"] for e in replay_frame(bundle, i)["fire_points"]}  # noqa: E731
    assert "FE-TEST-a" not in fires(72 - 30)
    assert "FE-TEST-a" in fires(72 - 10)
    assert frame["findings_open"] == len(frame["finding_points"])
    with pytest.raises(ValueError, match="step must be"):
        replay_frame(bundle, 73)


def test_replay_step_parameter(client: TestClient) -> None:
    r = client.get("/api/v1/bigscreen/replay", params={"step": 72}, auth=OPERATOR)
    assert r.status_code == 200
    assert set(r.json()) >= {"at", "stations", "finding_points", "findings_open"}
    bad = client.get("/api/v1/bigscreen/replay", params={"step": 80}, auth=OPERATOR)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "step"
    bad = client.get("/api/v1/bigscreen/replay", params={"hours": 0}, auth=OPERATOR)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "hours"


def test_scope_of_an_empty_place_set_shows_nothing(store: Store) -> None:
    scope = scope_for(store, frozenset())
    assert scope == ScreenScope(frozenset(), frozenset(), frozenset(), None)
    figs = screen_figures(store, scope)
    assert figs["stations"] == [] and figs["areas"] == [] and figs["finding_points"] == []
    assert figs["findings_by_kind"] == {} and figs["warnings"] == []


def test_targets_are_entered_by_administrators(
    client: TestClient, demo_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bogda.web.api import bigscreen_progress

    # progress shows the targets of the current Beijing year: the target is entered for that year (a fixed 2026
    # failed from 2027 on), with the progress clock pinned so that a New Year between the calls cannot split them
    now = now_utc()
    monkeypatch.setattr(bigscreen_progress, "now_utc", lambda: now)
    url = f"/api/v1/bigscreen/targets/652300/{beijing_date(now).year}/pm25_mean"
    body = {"comparison": "<=", "value": 33, "source_doc": "新政办发〔2024〕58号"}
    r = client.put(url, json=body, auth=OPERATOR)
    assert r.status_code == 403
    admin = ("admin", demo_template.with_name("admin_password").read_text())
    bad = client.put(url, json={**body, "comparison": "<"}, auth=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "comparison"
    bad = client.put(url.replace("652300", "999999"), json=body, auth=admin)
    assert bad.status_code == 404 and bad.json()["errors"][0]["field"] == "place_code"
    bad = client.put(url, json={**body, "kind": "relative"}, auth=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "base_year"
    ok = client.put(url, json=body, auth=admin)
    assert ok.status_code == 200
    listed = client.get("/api/v1/bigscreen/targets", auth=OPERATOR).json()["results"]
    assert [(t["place_code"], t["metric"], t["value"]) for t in listed] == [("652300", "pm25_mean", 33.0)]
    assert client.get("/api/v1/bigscreen/targets", auth=COUNTY).json()["results"] == []
    prog = client.get("/api/v1/bigscreen/progress", auth=OPERATOR).json()
    assert prog["code"] == "652300"
    assert [t["metric"] for t in prog["targets"]] == ["pm25_mean"]
    assert prog["targets"][0]["target"] == 33.0
    county = client.get("/api/v1/bigscreen/progress", auth=COUNTY).json()
    assert county["code"] == CHANGJI_CITY and county["targets"] == []


def test_layer_points_link_to_detail_pages_and_escape_text() -> None:
    from bogda.web.ui.bigscreen import layer_data

    figs = {
        "stations": [
            {
                "code": "1001A",
                "name": "<b>站</b>",
                "lon": 87.3,
                "lat": 44.0,
                "aqi": 80,
                "status": "online",
                "colour": "#FFFF00",
                "category_zh": "良",
                "category_en": "Moderate",
            },
        ],
        "finding_points": [
            {"id": 7, "kind": "clue", "severity": "high", "title": "<script>x</script>", "lon": 87.3, "lat": 44.0},
            {"id": 8, "kind": "alarm", "severity": "low", "title": "报警", "lon": 87.3, "lat": 44.0},
        ],
        "fire_points": [{"event_id": "FE-1", "lon": 87.3, "lat": 44.0, "max_frp": 5.0}],
        "task_points": [
            {"id": 3, "state": "HANDLING", "title": "任务", "lon": 87.3, "lat": 44.0, "overdue": True},
            {"id": 4, "state": "DISPATCHED", "title": "任务", "lon": 87.3, "lat": 44.0, "overdue": False},
        ],
        "wind": [{"code": "1001A", "name": "站", "lon": 87.3, "lat": 44.0, "ws": 4.0, "wd": 90.0}],
    }
    st = layer_data(figs, "stations", "zh")[0]
    assert st["link"] == "/monitoring/station/1001A" and "<b>站</b>" not in st["tip"] and "&lt;b&gt;" in st["tip"]
    clue, alarm = layer_data(figs, "findings", "zh")
    assert clue["link"] == "/clues/7" and alarm["link"] == "/findings" and "<script>" not in clue["tip"]
    assert layer_data(figs, "fire", "en")[0]["link"] == "/fire"
    late, ok = layer_data(figs, "tasks", "zh")
    assert late["link"] == "/tasks?overdue=1" and ok["link"] == "/tasks?state=DISPATCHED"
    wind = layer_data(figs, "wind", "zh")[0]
    assert wind["symbolRotate"] == -270.0  # from the east: the arrow points west
    with pytest.raises(ValueError, match="unknown layer"):
        layer_data(figs, "cars", "zh")
