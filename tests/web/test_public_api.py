"""The public AQI API and page over a copy of the demo region: no login, figures equal the services' figures,
health advice from the HJ 633 table, active warnings only, the page and the bundled ECharts served locally."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bogda.config import Settings, WebSettings
from bogda.monitoring.aqi_tables import update_aqi
from bogda.monitoring.exports import aqi_frame
from bogda.monitoring.status import stations_status
from bogda.standards.aqi import health_advice
from bogda.store import Store, connect
from bogda.store.schema import warning
from bogda.timeutil import beijing_date, floor_to, now_utc
from bogda.web.app import create_app
from bogda.web.public import PublicCache
from forecast_rows import add_daily_aqi_run


@pytest.fixture(scope="module")
def store(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("public")
    shutil.copyfile(demo_template, folder / "demo.db")
    st = connect(f"sqlite:///{folder / 'demo.db'}")
    end = floor_to(now_utc(), "hour")
    update_aqi(st, start=end - timedelta(days=2), end=end)
    yield st
    st.dispose()


@pytest.fixture(scope="module")
def client(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("public_app")
    settings = Settings(database_url=store.url, data_dir=folder, web=WebSettings(secret_key="test-secret-key"))
    with TestClient(create_app(settings, store, console=False)) as c:
        yield c


def _add_warning(store: Store, area: str, level: str, state: str, start: date, end: date) -> None:
    now = now_utc()
    with store.begin() as conn:
        conn.execute(
            warning.insert().values(
                area_code=area,
                rule_set="2024",
                level=level,
                cause="pm25",
                start_date=start,
                end_date=end,
                state=state,
                evidence={},
                created_at=now,
                updated_at=now,
            )
        )


def test_public_answer_needs_no_login_and_equals_the_status_service(client: TestClient, store: Store) -> None:
    r = client.get("/public/api/v1/stations")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    status = {row["code"]: row for row in stations_status(store).to_dicts()}
    assert {s["code"] for s in body["stations"]} == {c for c, row in status.items() if row["lon"] is not None}
    for s in body["stations"]:
        row = status[s["code"]]
        assert s["online"] == (row["status"] == "online")
        assert s["colour"] == row["colour"]
        assert s["aqi"] == (row["aqi"] if row["status"] == "online" else None)
    assert body["meta"]["stations"] == len(body["stations"])
    assert body["meta"]["online"] == sum(1 for s in body["stations"] if s["online"])
    assert any(s["aqi"] is not None for s in body["stations"]), "the demo has hourly AQI after update_aqi"
    assert any(not s["online"] and s["colour"] == "#BFBFBF" for s in body["stations"])  # the demo's silent one


def test_area_aqi_is_the_newest_hourly_row_of_each_area(client: TestClient, store: Store) -> None:
    body = client.get("/public/api/v1/stations").json()
    end = now_utc()
    frame = aqi_frame(store, table="hourly", start=end - timedelta(hours=24), end=end + timedelta(seconds=1))
    for area in body["areas"]:
        rows = frame.filter(
            (frame["target_kind"] == area["kind"]) & (frame["target_code"] == area["code"]) & frame["aqi"].is_not_null()
        ).sort("interval_start_utc")
        if rows.height == 0:
            assert area["aqi"] is None
        else:
            assert area["aqi"] == rows["aqi"][-1]
            assert area["level"] == rows["level"][-1]
    kinds = [a["kind"] for a in body["areas"]]
    assert kinds[0] == "prefecture" and kinds.count("county") == 7
    assert body["areas"][0]["aqi"] is not None


def test_health_advice_is_the_hj633_table_for_every_level_shown(client: TestClient) -> None:
    body = client.get("/public/api/v1/stations").json()
    days = [d for a in (body["forecast"] or {}).get("areas", []) for d in a["days"]]
    levels = {a["level"] for a in [*body["stations"], *body["areas"], *days] if a["level"]}
    assert levels and {int(k) for k in body["advice"]} == levels
    for level in levels:
        expected = health_advice(level)
        got = body["advice"][str(level)]
        assert got["advice_zh"] == expected["advice_zh"] and got["advice_en"] == expected["advice_en"]
        assert got["effect_zh"] == expected["effect_zh"]


@pytest.mark.parametrize(
    ("state", "days", "shown"),
    [
        ("issued", (-1, 1), True),
        ("changed", (0, 0), True),
        ("proposed", (-1, 1), False),  # not decided yet: never published
        ("lifted", (-1, 1), False),
        ("issued", (-5, -2), False),  # over
    ],
)
def test_only_warnings_in_force_are_published(
    store: Store, state: str, days: tuple[int, int], shown: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bogda.web import public

    now = now_utc()  # "in force today" for the test and the answer alike, also across Beijing midnight
    monkeypatch.setattr(public, "now_utc", lambda: now)
    cache = PublicCache(check=0.0)
    before = cache.body(store)
    today = beijing_date(now)
    area = f"T{state}{days[0]}{days[1]}"
    _add_warning(store, area, "orange", state, today + timedelta(days=days[0]), today + timedelta(days=days[1]))
    after = json.loads(cache.body(store))
    assert any(w["area_code"] == area for w in after["warnings"]) is shown
    assert after != json.loads(before) or not shown


def test_forecast_of_the_latest_fresh_run_is_published(store: Store) -> None:
    from bogda.web.public import public_forecast

    cache = PublicCache(check=0.0)
    before = json.loads(cache.body(store))
    now = now_utc()
    today = beijing_date(now)
    means = [(42.0, 30.0, 55.0), (88.0, 60.0, 120.0), (160.0, 110.0, 210.0)]
    add_daily_aqi_run(store, means, now=now)
    after = json.loads(cache.body(store))  # a new run is a new data version: the answer is rebuilt
    assert after["forecast"] != before.get("forecast")
    pref = next(a for a in after["forecast"]["areas"] if a["kind"] == "prefecture")
    assert [(d["date"], d["aqi"], d["p10"], d["p90"], d["level"]) for d in pref["days"]] == [
        ((today + timedelta(days=i + 1)).isoformat(), m, lo, hi, 1 if m <= 50 else 2 if m <= 100 else 4)
        for i, (m, lo, hi) in enumerate(means)
    ]
    assert {"1", "2", "4"} <= set(after["advice"])  # the page colours forecast days from the same table
    assert public_forecast(store, now=now + timedelta(hours=37)) is None  # stale: published as no forecast


def test_cached_answer_is_reused_until_data_change(store: Store) -> None:
    cache = PublicCache(check=60.0)
    first = cache.body(store)
    assert cache.body(store) is first  # inside the check interval: the same rendered bytes


def test_page_and_echarts_are_served_from_this_server(client: TestClient) -> None:
    page = client.get("/public")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/public/assets/public.js" in page.text and "http" not in page.text.replace("http-equiv", "")
    js = client.get("/public/assets/public.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "/public/vendor/echarts/index.js" in js.text and "https://" not in js.text
    lib = client.get("/public/vendor/echarts/index.js")
    assert lib.status_code == 200 and "echarts" in lib.text
    outlines = client.get("/public/api/v1/outlines").json()
    assert len(outlines["features"]) == 7
    for bad in ("..%2F..%2Fapp.py", "public.py", "index.js.map"):
        assert client.get(f"/public/assets/{bad}").status_code == 404


def _settled(client: TestClient, path: str = "/public/api/v1/stations") -> str:
    """The ETag once the answer stopped changing: a check due (data written by an earlier test) rebuilds it in the
    background while the current bytes are still served (stale-while-revalidate)."""
    etag = ""
    for _ in range(100):
        now = client.get(path).headers["etag"]
        if now == etag:
            return etag
        etag = now
        time.sleep(0.05)
    raise AssertionError(f"{path}: the answer kept changing")


def test_answer_is_compressed_and_tagged_for_polling_clients(client: TestClient) -> None:
    _settled(client)
    plain = client.get("/public/api/v1/stations", headers={"Accept-Encoding": "identity"})
    zipped = client.get("/public/api/v1/stations", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers and zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == plain.json()  # httpx decodes the gzip body
    etag = plain.headers["etag"]
    again = client.get("/public/api/v1/stations", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and not again.content
    stale = client.get("/public/api/v1/stations", headers={"If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200 and stale.json() == plain.json()


def test_rebuild_with_unchanged_content_keeps_the_etag(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild after ``ttl`` that only moves the build time keeps the bytes (stop 14's CI: a 304 test got 200
    because the minute-old answer had been rebuilt with a new ``generated_at`` between two requests)."""
    from bogda.web import public

    clock = [datetime(2026, 11, 29, 10, 0, tzinfo=UTC)]
    monkeypatch.setattr(public, "now_utc", lambda: clock[0])
    cache = PublicCache(ttl=0.0, check=0.0)
    first = cache.current(store)
    clock[0] += timedelta(minutes=5)
    again = cache.current(store)
    assert cache.builds == 2 and again.etag == first.etag and again.body == first.body


def test_answers_come_from_memory_before_routing(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from bogda.web import public

    _settled(client)  # built: from now on CachedAnswers answers without the route

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the route answered")

    monkeypatch.setattr(public, "send_answer", boom)
    r = client.get("/public/api/v1/stations", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip" and r.json()["stations"]
    assert r.headers["cache-control"] == public.STATIONS_CACHE_CONTROL and r.headers["vary"] == "Accept-Encoding"
    with pytest.raises(AssertionError, match="the route answered"):
        client.get("/public/api/v1/stations?lang=en")  # a query string always goes to the route


def test_outlines_are_a_separate_long_lived_tagged_answer(client: TestClient) -> None:
    first = client.get("/public/api/v1/outlines", headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip" and "max-age=86400" in first.headers["cache-control"]
    assert {f["properties"]["code"] for f in first.json()["features"]} >= {"652301", "652302"}
    again = client.get("/public/api/v1/outlines", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and not again.content
    stations = client.get("/public/api/v1/stations").json()
    assert "features" not in stations and "outlines" not in stations  # the polled answer carries no geometry


def test_todays_publication_is_shown_instead_of_the_model(demo_store: Store) -> None:
    """Once the duty forecaster has published today's forecast (预报发布), the public sees its AQI ranges, the level
    of each range's centre and its primary pollutant; before that, the model's run (source ``model``)."""
    from bogda.forecast import publication as pb
    from bogda.forecast.service import registry
    from bogda.web.public import public_forecast

    now = now_utc()
    today = beijing_date(now)
    add_daily_aqi_run(demo_store, [(42.0, 30.0, 55.0), (88.0, 60.0, 120.0), (160.0, 110.0, 210.0)], now=now)
    assert public_forecast(demo_store, now=now)["source"] == "model"  # type: ignore[index]
    ranges = [(30, 50, None), (75, 95, "PM10"), (140, 170, "PM2.5")]
    entries = [
        pb.DayEntry(t.code, today + timedelta(days=k), lo, hi, p)
        for t in registry(demo_store).areas
        for k, (lo, hi, p) in enumerate(ranges, 1)
    ]
    pb.publish(demo_store, entries, by="duty", issue_date=today, now=now)
    body = public_forecast(demo_store, now=now)
    assert body is not None and body["source"] == "published"
    pref = body["areas"][0]
    assert pref["kind"] == "prefecture" and [a["kind"] for a in body["areas"]].count("county") == 7
    assert [(d["aqi_lo"], d["aqi_hi"], d["level"], d["primary"]) for d in pref["days"]] == [
        (30, 50, 1, None),
        (75, 95, 2, "PM10"),
        (140, 170, 4, "PM2.5"),  # centre 155: 中度污染
    ]
    assert pref["days"][0]["date"] == (today + timedelta(days=1)).isoformat()
