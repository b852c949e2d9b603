"""REST API against the demo region: health, places GeoJSON, sites envelope and paging, login, errors, scopes,
rate limiting and the audit log."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import bogda
from bogda.config import Settings, WebSettings
from bogda.findings import FindingDraft, raise_findings
from bogda.registry.people import add_user
from bogda.registry.places import CHANGJI_COUNTIES, descendants
from bogda.standards import aqi as aqi_std
from bogda.store import Store, connect
from bogda.store.schema import audit, place, site
from bogda.web.app import create_app
from bogda.web.auth import RateLimiter

OPERATOR = ("operator", "operator-pass-1")
COUNTY_USER = ("fukang", "fukang-pass-1")
CHANGJI_BOX = (85.0, 42.5, 92.0, 46.0)
"""Generous WGS-84 box around Changji prefecture (lon0, lat0, lon1, lat1)."""


def make_client(store: Store, tmp_path: Path, *, attempts: int = 10, ip: str = "10.0.0.1") -> TestClient:
    settings = Settings(
        database_url=store.url,
        data_dir=tmp_path,
        web=WebSettings(secret_key="test-secret-key", login_attempts_per_minute=attempts),
    )
    return TestClient(create_app(settings, store, console=False), client=(ip, 50000), follow_redirects=False)


@pytest.fixture(scope="module")
def ro_client(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One client over one copy of the demo region for the tests that only read (faster than a copy each)."""
    folder = tmp_path_factory.mktemp("web_ro")
    shutil.copyfile(demo_template, folder / "demo.db")
    store = connect(f"sqlite:///{folder / 'demo.db'}")
    with make_client(store, folder) as c:
        yield c
    store.dispose()


@pytest.fixture
def client(demo_store: Store, tmp_path: Path) -> Iterator[TestClient]:
    """A client over a private copy, for tests that write (users, findings, sessions, audit rows)."""
    with make_client(demo_store, tmp_path) as c:
        yield c


def place_id(store: Store, code: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(place.c.id).where(place.c.code == code)).scalar_one())


def audit_actions(store: Store) -> list[tuple[str, str | None]]:
    with store.engine.connect() as conn:
        return [(r.action, r.login) for r in conn.execute(select(audit.c.action, audit.c.login).order_by(audit.c.id))]


def coords(geometry: dict) -> np.ndarray:
    return np.array(
        [
            pt
            for poly in (geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]])
            for ring in poly
            for pt in ring
        ]
    )


# --- health -------------------------------------------------------------------------------------------------


def test_health_is_public_and_reports_database_version_time(ro_client: TestClient) -> None:
    r = ro_client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == {"dialect": "sqlite", "reachable": True}
    assert body["version"] == bogda.__version__
    utc = datetime.fromisoformat(body["time"]["utc"].replace("Z", "+00:00"))
    assert abs(utc - datetime.now(UTC)) < timedelta(minutes=1)
    assert body["time"]["local"].endswith("+08:00")


# --- places -------------------------------------------------------------------------------------------------


def test_places_geojson_has_the_seven_counties_in_chinese_with_wgs84_coordinates(ro_client: TestClient) -> None:
    r = ro_client.get("/api/v1/places", params={"kind": "county"}, auth=OPERATOR)
    assert r.status_code == 200
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    names = {f["properties"]["code"]: f["properties"]["name"] for f in fc["features"]}
    assert names == {code: zh for code, (zh, _) in CHANGJI_COUNTIES.items()}
    lon0, lat0, lon1, lat1 = CHANGJI_BOX
    for f in fc["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        xy = coords(f["geometry"])
        assert (xy[:, 0] > lon0).all() and (xy[:, 0] < lon1).all(), f["properties"]["name"]
        assert (xy[:, 1] > lat0).all() and (xy[:, 1] < lat1).all(), f["properties"]["name"]
        assert lon0 < f["properties"]["label_lon"] < lon1 and lat0 < f["properties"]["label_lat"] < lat1


def test_places_simplify_thins_outlines_and_filters_combine(ro_client: TestClient) -> None:
    full = ro_client.get("/api/v1/places", params={"kind": "county"}, auth=OPERATOR).json()
    thin = ro_client.get("/api/v1/places", params={"kind": "county", "simplify": 0.01}, auth=OPERATOR).json()
    for a, b in zip(full["features"], thin["features"], strict=True):
        assert a["properties"]["code"] == b["properties"]["code"]
        assert 4 <= len(coords(b["geometry"])) < len(coords(a["geometry"]))
    under = ro_client.get("/api/v1/places", params={"parent": "652300", "kind": "county"}, auth=OPERATOR).json()
    assert len(under["features"]) == 7
    top = ro_client.get("/api/v1/places", params={"level": 1}, auth=OPERATOR).json()
    assert [f["properties"]["name"] for f in top["features"]] == ["昌吉回族自治州"]


# --- sites --------------------------------------------------------------------------------------------------


def test_sites_envelope_and_paging_cover_every_station_once(ro_client: TestClient) -> None:
    store = ro_client.app.state.store
    with store.engine.connect() as conn:
        n_stations = len(conn.execute(select(site.c.id).where(site.c.kind == "air_station")).all())
    seen: list[int] = []
    for page in (1, 2, 3, 4):
        r = ro_client.get("/api/v1/sites", params={"kind": "air_station", "limit": 4, "page": page}, auth=OPERATOR)
        assert r.status_code == 200
        body = r.json()
        assert body["meta"] == {"name": "bogda", "website": "/", "page": page, "limit": 4, "found": n_stations}
        assert len(body["results"]) == min(4, max(0, n_stations - 4 * (page - 1)))
        seen += [s["id"] for s in body["results"]]
    assert len(seen) == len(set(seen)) == n_stations


def test_station_latest_values_aqi_and_online_flag(ro_client: TestClient) -> None:
    body = ro_client.get("/api/v1/sites", params={"kind": "air_station", "limit": 1000}, auth=OPERATOR).json()
    by_code = {s["code"]: s for s in body["results"]}
    # the demo stops CJ-ZD03 30 h before the end of its data; everything else reports up to the last full hour
    assert by_code["CJ-ZD03"]["online"] is False
    assert all(s["online"] for code, s in by_code.items() if code != "CJ-ZD03")
    assert by_code["2691A"]["simulated"] is False and by_code["CJ-FK01"]["simulated"] is True
    for s in body["results"]:
        assert s["county"]["code"] in CHANGJI_COUNTIES
        values = s["latest"]["values"]
        weather = {"a01001", "a01002", "a01006", "a01007", "a01008"} if s["simulated"] else set()  # township stations
        assert set(values) == {"a34004", "a34002", "a21026", "a21004", "a21005", "a05024"} | weather
        values = {k: v for k, v in values.items() if k not in weather}
        hour = datetime.fromisoformat(s["latest"]["datetime"]["utc"].replace("Z", "+00:00"))
        expected = aqi_std.aqi_hourly({k: [v] for k, v in values.items()}, ts=hour)
        assert s["aqi"]["value"] == int(expected.aqi[0])
        assert s["aqi"]["color"] == aqi_std.categories()[int(expected.level[0]) - 1].hex


def test_sites_place_filter_by_code(ro_client: TestClient) -> None:
    body = ro_client.get("/api/v1/sites", params={"place": "652323", "limit": 1000}, auth=OPERATOR).json()
    assert body["meta"]["found"] == len(body["results"]) > 0
    assert {s["county"]["name"] for s in body["results"]} == {"呼图壁县"}


# --- authentication and errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/places", "/api/v1/sites", "/api/v1/findings", "/api/v1/findings/1"])
def test_everything_but_health_needs_a_login(ro_client: TestClient, path: str) -> None:
    r = ro_client.get(path)
    assert r.status_code == 401
    assert r.json()["errors"][0]["field"] == "Authorization"
    assert r.headers["www-authenticate"].startswith("Basic")
    assert ro_client.get(path, auth=("operator", "wrong-password-1")).status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/api/v1/sites", {"limit": 5000}, 422, "limit"),
        ("/api/v1/sites", {"limit": 0}, 422, "limit"),
        ("/api/v1/sites", {"page": "abc"}, 422, "page"),
        ("/api/v1/sites", {"kind": "volcano"}, 422, "kind"),
        ("/api/v1/sites", {"place": "999999"}, 404, "place"),
        ("/api/v1/places", {"simplify": -1}, 422, "simplify"),
        ("/api/v1/places", {"kind": "country"}, 422, "kind"),
        ("/api/v1/places", {"parent": "nowhere"}, 404, "parent"),
        ("/api/v1/findings", {"status": "closed"}, 422, "status"),
        ("/api/v1/findings", {"since": "2026-03-01T08:00:00"}, 422, "since"),
        ("/api/v1/findings", {"since": "yesterday"}, 422, "since"),
        ("/api/v1/findings/0", {}, 422, "finding_id"),
    ],
)
def test_bad_parameters_get_a_4xx_json_body_naming_them(
    ro_client: TestClient, path: str, params: dict, status: int, field: str
) -> None:
    r = ro_client.get(path, params=params, auth=OPERATOR)
    assert r.status_code == status
    body = r.json()
    assert field in [e["field"] for e in body["errors"]]
    assert all(e["reason"] for e in body["errors"])


def test_console_login_sets_a_session_the_api_accepts_and_logout_ends_it(client: TestClient, demo_store: Store) -> None:
    assert client.get("/api/v1/sites").status_code == 401
    r = client.post("/login", data={"login": "operator", "password": "operator-pass-1", "next": "/stations"})
    assert r.status_code == 303 and r.headers["location"] == "/stations"
    assert client.get("/api/v1/sites", params={"limit": 1}).status_code == 200
    assert client.get("/logout").status_code == 303
    assert client.get("/api/v1/sites").status_code == 401
    assert [a for a, _ in audit_actions(demo_store)] == ["login", "logout"]


def test_login_never_redirects_off_site(client: TestClient) -> None:
    r = client.post("/login", data={"login": "operator", "password": "operator-pass-1", "next": "//evil.example/"})
    assert r.headers["location"] == "/"


def test_forced_password_change_after_login(client: TestClient, demo_store: Store) -> None:
    with demo_store.begin() as conn:
        add_user(
            conn,
            login="newbie",
            password="first-pass-1",
            roles=["viewer"],
            must_change_password=True,
            scope_place_id=place_id(demo_store, "652300"),
        )
    r = client.post("/login", data={"login": "newbie", "password": "first-pass-1", "next": "/map"})
    assert r.headers["location"] == "/password"


# --- scopes -------------------------------------------------------------------------------------------------


@pytest.fixture
def county_user(demo_store: Store) -> int:
    fukang = place_id(demo_store, "652302")
    with demo_store.begin() as conn:
        add_user(conn, login=COUNTY_USER[0], password=COUNTY_USER[1], roles=["county_operator"], scope_place_id=fukang)
    return fukang


def test_county_user_sees_only_its_county(client: TestClient, demo_store: Store, county_user: int) -> None:
    allowed = descendants(demo_store, county_user)
    mine = client.get("/api/v1/sites", params={"limit": 1000}, auth=COUNTY_USER).json()
    every = client.get("/api/v1/sites", params={"limit": 1000}, auth=OPERATOR).json()
    expected = [s["id"] for s in every["results"] if s["place"] and s["place"]["id"] in allowed]
    assert [s["id"] for s in mine["results"]] == expected
    assert 0 < mine["meta"]["found"] < every["meta"]["found"]
    assert {s["county"]["code"] for s in mine["results"]} == {"652302"}
    counties = client.get("/api/v1/places", params={"kind": "county"}, auth=COUNTY_USER).json()
    assert [f["properties"]["name"] for f in counties["features"]] == ["阜康市"]
    assert client.get("/api/v1/places", params={"kind": "prefecture"}, auth=COUNTY_USER).json()["features"] == []
    assert client.get("/api/v1/sites", params={"place": "652301"}, auth=COUNTY_USER).json()["meta"]["found"] == 0


def test_findings_are_scoped_and_filtered(client: TestClient, demo_store: Store, county_user: int) -> None:
    changji_city = place_id(demo_store, "652301")
    drafts = [
        FindingDraft("alarm", "high", "阜康市 PM2.5 超标", "t:1", place_id=county_user),
        FindingDraft("fire", "P1", "昌吉市 火点", "t:2", place_id=changji_city),
    ]
    ids = [o.finding_id for o in raise_findings(demo_store, drafts)]
    every = client.get("/api/v1/findings", auth=OPERATOR).json()
    assert every["meta"]["found"] == 2 and {f["id"] for f in every["results"]} == set(ids)
    fires = client.get("/api/v1/findings", params={"kind": "fire"}, auth=OPERATOR).json()
    assert [f["title"] for f in fires["results"]] == ["昌吉市 火点"]
    assert fires["results"][0]["county"]["name"] == "昌吉市"
    mine = client.get("/api/v1/findings", auth=COUNTY_USER).json()
    assert [f["id"] for f in mine["results"]] == [ids[0]]
    assert client.get(f"/api/v1/findings/{ids[0]}", auth=COUNTY_USER).status_code == 200
    assert client.get(f"/api/v1/findings/{ids[1]}", auth=COUNTY_USER).status_code == 404


# --- rate limiting and audit --------------------------------------------------------------------------------


def test_login_attempts_are_limited_per_ip_and_per_login(demo_store: Store, tmp_path: Path) -> None:
    app_client = make_client(demo_store, tmp_path, attempts=3, ip="10.0.0.7")
    with app_client as c:
        for _ in range(3):
            assert c.post("/login", data={"login": "operator", "password": "nope-nope-1"}).status_code == 401
        # the IP has used its attempts: even the right password is refused, for any login
        assert c.post("/login", data={"login": "operator", "password": "operator-pass-1"}).status_code == 429
        assert c.post("/login", data={"login": "admin", "password": "whatever-1"}).status_code == 429
        # same app (same limiter), another IP: the login "operator" is still locked, another login is not
        other = TestClient(c.app, client=("10.0.0.8", 50000), follow_redirects=False)
        assert other.post("/login", data={"login": "operator", "password": "operator-pass-1"}).status_code == 429
        with demo_store.begin() as conn:
            add_user(
                conn,
                login="second",
                password="second-pass-1",
                roles=["viewer"],
                scope_place_id=place_id(demo_store, "652300"),
            )
        assert other.post("/login", data={"login": "second", "password": "second-pass-1"}).status_code == 303
    actions = audit_actions(demo_store)
    assert actions.count(("login_failed", "operator")) == 3
    assert ("login_throttled", "operator") in actions and ("login", "second") in actions


def test_http_basic_failures_are_limited_too(demo_store: Store, tmp_path: Path) -> None:
    with make_client(demo_store, tmp_path, attempts=2) as c:
        for _ in range(2):
            assert c.get("/api/v1/sites", auth=("operator", "bad-guess-1")).status_code == 401
        r = c.get("/api/v1/sites", auth=OPERATOR)
        assert r.status_code == 429 and r.json()["errors"][0]["field"] == "Authorization"


def test_successful_basic_requests_are_not_throttled(client: TestClient, demo_store: Store, tmp_path: Path) -> None:
    with make_client(demo_store, tmp_path, attempts=2) as c:
        assert all(c.get("/api/v1/sites", params={"limit": 1}, auth=OPERATOR).status_code == 200 for _ in range(4))


def test_rate_limiter_window_slides() -> None:
    now = [0.0]
    lim = RateLimiter(2, window=60, clock=lambda: now[0])
    lim.hit("a")
    now[0] = 30
    lim.hit("a")
    assert lim.blocked("a") and not lim.blocked("b")
    now[0] = 60.5  # the first hit has left the window
    assert not lim.blocked("a")
    lim.hit("a")
    assert lim.blocked("a")


def test_password_change_is_audited_and_ends_cached_basic_logins(client: TestClient, demo_store: Store) -> None:
    from bogda.registry.people import get_user
    from bogda.web.auth import change_own_password

    assert client.get("/api/v1/sites", params={"limit": 1}, auth=OPERATOR).status_code == 200  # now cached
    with demo_store.engine.connect() as conn:
        user = get_user(conn, login="operator")
    assert user is not None
    cache = client.app.state.credential_cache
    with pytest.raises(ValueError, match="current password"):
        change_own_password(demo_store, user, "not-my-password-1", "brand-new-pass-2", peer="10.0.0.9", cache=cache)
    change_own_password(demo_store, user, "operator-pass-1", "brand-new-pass-2", peer="10.0.0.9", cache=cache)
    assert client.get("/api/v1/sites", params={"limit": 1}, auth=OPERATOR).status_code == 401
    assert client.get("/api/v1/sites", params={"limit": 1}, auth=("operator", "brand-new-pass-2")).status_code == 200
    assert audit_actions(demo_store) == [
        ("password_change_failed", "operator"),
        ("password_change", "operator"),
        ("login_failed", "operator"),
    ]
