"""``/api/v1/forecast``: latest run, AQI strip, series against observations, warnings with decisions (issuer
capability), emergency list and its Excel download, stored scores."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from bogda.config import Settings, WebSettings
from bogda.forecast import service as sv
from bogda.store import Store, connect
from bogda.web.app import create_app
from console_users import add_issuer_and_reader
from forecast.episode import set_pm

ISSUER = ("issuer", "issuer-pass-1")
PLAIN = ("plainop", "plainop-pass-1")


@pytest.fixture(scope="module")
def api(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Store]]:
    tmp_path = tmp_path_factory.mktemp("fc_api")
    shutil.copyfile(demo_template, tmp_path / "demo.db")
    st = connect(f"sqlite:///{tmp_path / 'demo.db'}")
    set_pm(st, ["CJ-HT01"], 260.0)
    sv.refresh(st, models=None)
    sv.store_scores(
        st,
        pl.DataFrame(
            {
                "station": ["1003A"],
                "target": ["daily_mean_PM2.5"],
                "horizon": ["D+1"],
                "method": ["lgbm_none"],
                "protocol": ["beijing"],
                "weather_mode": ["none"],
                "n": [342],
                "RMSE": [45.71],
                "MAE": [30.0],
                "RMSE_lo": [40.2],
                "RMSE_hi": [51.9],
            }
        ),
        config="test",
    )
    with st.begin() as conn:
        add_issuer_and_reader(conn, ISSUER, PLAIN)
    settings = Settings(database_url=st.url, data_dir=tmp_path, web=WebSettings(secret_key="k" * 32))
    with TestClient(create_app(settings, st, console=False)) as c:
        yield c, st
    st.dispose()


def test_run_strip_and_series(api: tuple[TestClient, Store]) -> None:
    c, _ = api
    run = c.get("/api/v1/forecast/runs/latest", auth=ISSUER).json()["results"][0]
    assert run["status"] == "degraded" and run["weather_mode"] == "none" and run["nwp_run_time"] is None
    strip = c.get("/api/v1/forecast/strip", auth=ISSUER).json()["results"]
    assert strip[0]["code"] == "652300" and len(strip) == 8
    ht = next(r for r in strip if r["code"] == "652323")
    assert len(ht["days"]) == 7 and ht["days"][0]["aqi"] > 300 and ht["days"][0]["level"] == 6
    assert ht["days"][0]["p10"] <= ht["days"][0]["aqi"] <= ht["days"][0]["p90"]
    # scenario probabilities (forecast.md §3.5) with the number of archived dates used (0: comonotone)
    prob = ht["days"][0]["prob"]
    assert prob["AQI>200"] > 0.5 and prob["level>=6"] > 0.5 and prob["scenario_dates"] == 0
    s = c.get("/api/v1/forecast/series/CJ-HT01?item=a34004", auth=ISSUER).json()
    assert len(s["forecast"]["damped_persistence"]) == 72 and len(s["observed"]) == 72
    assert s["observed"][-1]["value"] == 260.0
    assert c.get("/api/v1/forecast/series/NOPE", auth=ISSUER).status_code == 404
    assert c.get("/api/v1/forecast/strip").status_code == 401


def test_scores(api: tuple[TestClient, Store]) -> None:
    c, st = api
    rows = c.get("/api/v1/forecast/scores?protocol=beijing", auth=ISSUER).json()["results"]
    assert rows[0]["target_code"] == "1003A" and rows[0]["RMSE"] == pytest.approx(45.71)
    assert (rows[0]["RMSE_lo"], rows[0]["RMSE_hi"]) == pytest.approx((40.2, 51.9))  # the 90 % interval by default
    # the daily AQI check (bogda forecast backtest --aqi) by its item, with its own figures
    aqi = {"station": ["1003A"], "target": ["daily_AQI"], "horizon": ["D+1"], "method": ["lgbm_noisy_proxy"]}
    aqi |= {"protocol": ["beijing"], "weather_mode": ["noisy_proxy"], "n": [330], "primary_acc": [0.759]}
    sv.store_scores(st, pl.DataFrame(aqi | {"TS_O3_8h_gt160": [0.565], "RMSE": [None]}), config="api aqi")
    rows = c.get("/api/v1/forecast/scores?item=daily_AQI", auth=ISSUER).json()["results"]
    assert [(r["item"], r["primary_acc"], r["TS_O3_8h_gt160"]) for r in rows] == [("daily_AQI", 0.759, 0.565)]
    rows = c.get("/api/v1/forecast/scores?protocol=beijing", auth=ISSUER).json()["results"]
    assert all(r["item"] != "daily_AQI" for r in rows)  # no RMSE of its own: not a row of the default view
    rows = c.get("/api/v1/forecast/scores?item=daily_AQI&metrics=primary_acc", auth=ISSUER).json()["results"]
    assert set(rows[0]) >= {"primary_acc"} and "TS_O3_8h_gt160" not in rows[0]


def test_checks(api: tuple[TestClient, Store]) -> None:
    c, st = api
    assert c.get("/api/v1/forecast/checks", auth=ISSUER).json()["results"] == []
    row = {"category": "≥ yellow", "method": "issued", "weather": "operational", "n": 3, "pod": 2 / 3, "far": 0.0}
    sv.store_checks(st, [row | {"lead_h_median": 30.0}], item="warning", protocol="local", period="2026-01", config="t")
    adv = {"category": "dust", "method": "tuned", "weather": "observed", "n": 90, "ts": 0.1, "ets": 0.05}
    sv.store_checks(st, [adv], item="advisory", protocol="local", period="test 2026-01", config="t")
    rows = c.get("/api/v1/forecast/checks?item=warning", auth=ISSUER).json()["results"]
    assert [(r["horizon"], r["method"], r["n"]) for r in rows] == [("≥ yellow", "issued", 3)]
    assert rows[0]["POD"] == pytest.approx(2 / 3) and rows[0]["lead_h_median"] == 30.0 and rows[0]["TS"] is None
    assert len(c.get("/api/v1/forecast/checks", auth=ISSUER).json()["results"]) == 2
    assert c.get("/api/v1/forecast/checks").status_code == 401


def test_issue_needs_capability_then_list_and_excel(api: tuple[TestClient, Store]) -> None:
    c, _ = api
    ws = c.get("/api/v1/forecast/warnings", auth=ISSUER).json()["results"]
    w = next(x for x in ws if x["area_code"] == "652323")
    assert w["state"] == "proposed" and w["level"] == "red"
    url = f"/api/v1/forecast/warnings/{w['id']}/decision"
    assert c.post(url, json={"action": "issue"}, auth=PLAIN).status_code == 403
    assert c.post(url, json={"action": "explode"}, auth=ISSUER).status_code == 422
    assert c.post(url, json={"action": "lift"}, auth=ISSUER).status_code == 409
    r = c.post(url, json={"action": "issue", "doc_no": "昌环应急〔2026〕2号"}, auth=ISSUER).json()
    assert r["state"] == "issued" and r["emergency_list"]
    lists = c.get("/api/v1/forecast/emergency", auth=ISSUER).json()["results"]
    assert [x["warning_id"] for x in lists] == [w["id"]]
    detail = c.get(f"/api/v1/forecast/emergency/{lists[0]['id']}", auth=ISSUER).json()
    assert [i["code"] for i in detail["items"]] == ["HT-BL1"]
    x = c.get(f"/api/v1/forecast/emergency/{lists[0]['id']}/xlsx", auth=ISSUER)
    assert x.status_code == 200 and "spreadsheetml" in x.headers["content-type"]
    wb = load_workbook(io.BytesIO(x.content))
    assert wb["说明"]["B1"].value == "昌环应急〔2026〕2号"
    assert c.get("/api/v1/forecast/emergency/999/xlsx", auth=ISSUER).status_code == 404
