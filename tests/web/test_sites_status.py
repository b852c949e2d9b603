"""``/sites`` and ``/stations/status`` over a copy of the demo region: one read model behind both (they agree on
every station), the status answer tagged and compressed, served from memory before routing yet never across
scopes or to unknown credentials, and changed when new data arrive."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bogda.config import Settings, WebSettings
from bogda.monitoring.aqi_tables import update_aqi
from bogda.monitoring.status import station_now
from bogda.registry.people import add_user
from bogda.registry.places import descendants
from bogda.store import Store, connect
from bogda.store import series as S
from bogda.store.schema import place, site
from bogda.timeutil import floor_to, now_utc
from bogda.web.app import create_app

OPERATOR = ("operator", "operator-pass-1")
FUKANG = ("fukang2", "fukang-pass-2")
STATUS = "/api/v1/stations/status"


@pytest.fixture(scope="module")
def store(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("sites_status")
    shutil.copyfile(demo_template, folder / "demo.db")
    st = connect(f"sqlite:///{folder / 'demo.db'}")
    end = floor_to(now_utc(), "hour")
    update_aqi(st, start=end - timedelta(days=1), end=end)
    with st.begin() as conn:
        fukang = conn.execute(select(place.c.id).where(place.c.code == "652302")).scalar_one()
        add_user(conn, login=FUKANG[0], password=FUKANG[1], roles=["prefecture_operator"], scope_place_id=fukang)
    yield st
    st.dispose()


@pytest.fixture(scope="module")
def client(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("sites_status_app")
    settings = Settings(database_url=store.url, data_dir=folder, web=WebSettings(secret_key="test-secret-key"))
    with TestClient(create_app(settings, store, console=False)) as c:
        yield c


def _settled(client: TestClient, auth: tuple[str, str]) -> str:
    """The status ETag once it stopped changing (a due check rebuilds in the background meanwhile)."""
    etag = ""
    for _ in range(100):
        now = client.get(STATUS, auth=auth).headers["etag"]
        if now == etag:
            return etag
        etag = now
        time.sleep(0.05)
    raise AssertionError("the status answer kept changing")


def test_sites_and_status_tell_the_same_station_state(client: TestClient, store: Store) -> None:
    sites = client.get("/api/v1/sites", params={"kind": "air_station", "limit": 1000}, auth=OPERATOR).json()
    status = {r["code"]: r for r in client.get(STATUS, auth=OPERATOR).json()["results"]}
    assert set(status) == {s["code"] for s in sites["results"]}
    now = station_now(store, [s["id"] for s in sites["results"]])
    for s in sites["results"]:
        row, ref = status[s["code"]], now[s["id"]]
        assert s["online"] is (row["status"] == "online") is ref.online
        assert (s["aqi"] or {}).get("value") == row["aqi"] == ref.aqi
        assert s["latest"]["datetime"]["utc"] == ref.hour.isoformat().replace("+00:00", "Z")
        if s["online"] and s["aqi"]:
            assert s["aqi"]["color"] == row["colour"]
    assert any(not s["online"] for s in sites["results"]) and any(s["aqi"] for s in sites["results"])


def test_status_is_tagged_compressed_and_revalidated(client: TestClient) -> None:
    etag = _settled(client, OPERATOR)
    plain = client.get(STATUS, auth=OPERATOR, headers={"Accept-Encoding": "identity"})
    zipped = client.get(STATUS, auth=OPERATOR, headers={"Accept-Encoding": "gzip"})
    assert plain.headers["etag"] == zipped.headers["etag"] == etag
    assert "content-encoding" not in plain.headers and zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == plain.json() and plain.json()["meta"]["interval"] == "start, [start, end), UTC"
    again = client.get(STATUS, auth=OPERATOR, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content and again.headers["etag"] == etag


def test_served_from_memory_before_routing(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from bogda.web.api import monitoring as api

    _settled(client, OPERATOR)  # logged in and rendered: the next ones are answered by CachedAnswers

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the route answered")

    monkeypatch.setattr(api, "send_answer", boom)
    r = client.get(STATUS, auth=OPERATOR)
    assert r.status_code == 200 and r.json()["results"]
    with pytest.raises(AssertionError, match="the route answered"):
        client.get(STATUS + "?x=1", auth=OPERATOR)  # a query string always goes to the route


def test_memory_answers_keep_scopes_and_credentials(client: TestClient, store: Store) -> None:
    _settled(client, OPERATOR)
    fk = client.get(STATUS, auth=FUKANG).json()["results"]
    with store.engine.connect() as conn:
        fukang = conn.execute(select(place.c.id).where(place.c.code == "652302")).scalar_one()
        mine = set(
            conn.execute(
                select(site.c.code).where(site.c.kind == "air_station", site.c.place_id.in_(descendants(store, fukang)))
            ).scalars()
        )
    assert mine and {r["code"] for r in fk} == mine
    assert len(client.get(STATUS, auth=OPERATOR).json()["results"]) > len(fk)
    assert client.get(STATUS, auth=(OPERATOR[0], "wrong-guess-1")).status_code == 401
    assert client.get(STATUS).status_code == 401


def test_new_data_reach_the_status_answer(client: TestClient, store: Store) -> None:
    before = _settled(client, OPERATOR)
    rows = client.get(STATUS, auth=OPERATOR).json()["results"]
    silent = next(r for r in rows if r["status"] != "online")
    hour = floor_to(now_utc(), "hour") - timedelta(hours=1)
    values = {"a34004": 180.0, "a34002": 260.0, "a21026": 9.0, "a21004": 35.0, "a21005": 1.2, "a05024": 40.0}
    S.write_long(
        store,
        pl.DataFrame(
            {"site_id": silent["site_id"], "parameter": list(values), "ts": [hour] * 6, "value": list(values.values())}
        ).with_columns(pl.col("ts").dt.cast_time_unit("us")),
        resolution="hour",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = client.get(STATUS, auth=OPERATOR)
        if r.headers["etag"] != before:
            row = next(x for x in r.json()["results"] if x["site_id"] == silent["site_id"])
            if row["status"] == "online":
                assert row["aqi"] is not None and row["colour"] != "#BFBFBF"
                return
        time.sleep(0.2)
    raise AssertionError(f"{silent['code']} still not online in the status answer 30 s after its new data")


def test_a_deactivated_user_is_refused_within_seconds(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bogda.store.schema import user
    from bogda.web.api import monitoring as api

    login = ("shortlived", "short-pass-3")
    with store.begin() as conn:
        add_user(conn, login=login[0], password=login[1], roles=["prefecture_operator"])
    assert client.get(STATUS, auth=login).status_code == 200
    monkeypatch.setattr(api._principals, "fresh", 0.0)  # every request re-verifies (in the background)
    with store.begin() as conn:
        conn.execute(user.update().where(user.c.login == login[0]).values(active=False))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = client.get(STATUS, auth=login)
        if r.status_code == 401:
            break
        assert r.status_code == 200  # the previous principal, while its re-verification runs
        time.sleep(0.1)
    else:
        raise AssertionError("a deactivated user still got the station status 20 s later")
    assert client.get(STATUS, auth=OPERATOR).status_code == 200  # others are not affected
