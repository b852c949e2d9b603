"""``/api/v1/forecast/interventions``: the stored days-avoided evaluations and the display rule of forecast.md §1
("shown only with an interval and a passed placebo test"), shared with the console (§3.9 steps 4–5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bogda.config import Settings, WebSettings
from bogda.forecast import avoided as av
from bogda.registry.people import add_user
from bogda.store import Store
from bogda.web.app import create_app
from bogda.web.ui.forecast import event_text, verdict_text

ADMIN = ("ivadmin", "ivadmin-pass-1")


def record(
    verdict: str,
    *,
    label: str = "T 2016",
    avoided: float = 6.0,
    ci90: tuple[float, float] = (2.0, 11.0),
    placebo_ok: bool = True,
    event: str = av.EVENT_HEAVY,
) -> av.InterventionResult:
    """An ``intervention_eval`` record as :func:`avoided.result_record` writes it (two placebo years, calibration,
    the bootstrap summary, placebo in space not run)."""
    placebo: dict[str, Any] = {
        "placebo_time_20140301": {"passed": True, "avoided": 1.0, "ci90": [-4.0, 6.0], "n_days": 365},
        "placebo_time_20150301": {"passed": placebo_ok, "avoided": 1.0 if placebo_ok else 7.0, "ci90": [-3.0, 9.0]},
        "calibration_20150301": {"passed": True, "bss": 0.7},
        "bootstrap": {"cf_median": 20.0, "sigma": 0.3},
        "placebo_space": {"passed": None, "not_run": True},
    }
    return av.InterventionResult(
        label=label,
        targets=("T",),
        controls=("C1",),
        pollutant="AQI",
        event=event,
        window_start=date(2016, 3, 1),
        window_end=date(2017, 2, 28),
        n_obs=14,
        cf_expected=20.0,
        avoided_median=avoided,
        ci90=ci90,
        mde_days=(ci90[1] - ci90[0]) / 2,
        mde_pct=9.5,
        placebo=placebo,
        injection={"passed": True, "r": 0.15, "r_recovered": 0.15, "true_days": 2, "recovered_days": 2.0},
        params={"draws": 2000},
        verdict=verdict,
    )


@pytest.fixture
def api(sqlite_store: Store, tmp_path) -> Iterator[tuple[TestClient, Store, dict[str, int]]]:
    ids = {
        "effect": av.store_result(sqlite_store, record("effect_detected")),
        "none": av.store_result(sqlite_store, record("no_detectable_effect", label="C 2016", ci90=(-3.0, 8.0))),
        "failed": av.store_result(
            sqlite_store, record("method_failed_validation", label="T 2016", placebo_ok=False, avoided=9.0)
        ),
    }
    with sqlite_store.begin() as conn:
        add_user(conn, login=ADMIN[0], password=ADMIN[1], roles=["admin"])
    settings = Settings(database_url=sqlite_store.url, data_dir=tmp_path, web=WebSettings(secret_key="k" * 32))
    with TestClient(create_app(settings, sqlite_store, console=False)) as c:
        yield c, sqlite_store, ids


def test_list_filter_and_display_rule(api) -> None:
    c, _, ids = api
    body = c.get("/api/v1/forecast/interventions", auth=ADMIN).json()
    rows = {r["id"]: r for r in body["results"]}
    assert body["meta"]["found"] == 3 and list(rows) == sorted(ids.values(), reverse=True)  # newest first
    eff, none, failed = rows[ids["effect"]], rows[ids["none"]], rows[ids["failed"]]
    # the figure only with its interval and a passed placebo test
    assert eff["display"]["show_figure"] and eff["display"]["avoided"] == 6.0 and eff["display"]["ci90"] == [2, 11]
    assert eff["window_start"] == "2016-03-01" and eff["event"] == av.EVENT_HEAVY
    assert not none["display"]["show_figure"] and none["display"]["avoided"] is None
    assert none["display"]["mde_days"] == pytest.approx(5.5) and none["display"]["placebo_passed"]
    assert not failed["display"]["show_figure"] and failed["display"]["ci90"] is None
    assert failed["display"]["failed_checks"] == ["placebo_time_20150301"] and not failed["display"]["placebo_passed"]
    # the list carries no raw figure: a reader cannot show what the rule hides
    assert "avoided_median" not in failed and "ci90" not in failed
    only = c.get("/api/v1/forecast/interventions", params={"label": "C 2016"}, auth=ADMIN).json()["results"]
    assert [r["id"] for r in only] == [ids["none"]]
    paged = c.get("/api/v1/forecast/interventions", params={"limit": 1}, auth=ADMIN).json()
    assert len(paged["results"]) == 1 and paged["meta"]["found"] == 3
    assert c.get("/api/v1/forecast/interventions").status_code == 401


def test_detail_with_placebo_and_injection(api) -> None:
    c, _, ids = api
    d = c.get(f"/api/v1/forecast/interventions/{ids['failed']}", auth=ADMIN).json()
    assert d["verdict"] == "method_failed_validation" and d["avoided_median"] == 9.0 and d["ci90"] == [2, 11]
    assert d["placebo"]["placebo_time_20150301"]["passed"] is False
    assert d["placebo"]["placebo_space"] == {"passed": None, "not_run": True}
    assert d["injection"]["passed"] is True and d["injection"]["r_recovered"] == 0.15
    assert d["params"] == {"draws": 2000} and not d["display"]["show_figure"]
    assert c.get("/api/v1/forecast/interventions/9999", auth=ADMIN).status_code == 404
    assert c.get(f"/api/v1/forecast/interventions/{ids['failed']}").status_code == 401


def _row(rec: av.InterventionResult) -> dict[str, Any]:
    return rec.row(created_at=None)  # type: ignore[arg-type]


def test_presentation_needs_every_placebo_year_an_interval_and_the_verdict() -> None:
    assert av.presentation(_row(record("effect_detected")))["show_figure"]
    # an effect verdict with a failed check (inconsistent row) is still not shown
    bad = _row(record("effect_detected", placebo_ok=False))
    assert not av.presentation(bad)["show_figure"]
    # no placebo in time run at all → not shown
    row = _row(record("effect_detected"))
    row["placebo"] = {k: v for k, v in row["placebo"].items() if not k.startswith("placebo_time")}
    assert not av.presentation(row)["show_figure"] and not av.presentation(row)["placebo_passed"]
    # no interval → not shown
    row = _row(record("effect_detected"))
    row["ci90"] = None
    assert not av.presentation(row)["show_figure"]
    # a failed injection is a failed check
    row = _row(record("effect_detected"))
    row["injection"] = {"passed": False}
    assert av.presentation(row)["failed_checks"] == ["injection"] and not av.presentation(row)["show_figure"]
    # a weather-only label is carried to the reader
    row = _row(record("effect_detected", label=f"T:{av.LABEL_WEATHER_ONLY}"))
    assert av.presentation(row)["unvalidated"]


def test_console_texts() -> None:
    eff = av.presentation(_row(record("effect_detected")))
    assert verdict_text(eff, "zh") == "避免 +6 天（90% 区间 +2…+11 天）"
    assert verdict_text(eff, "en") == "+6 days avoided (90 % interval +2…+11)"
    none = av.presentation(_row(record("no_detectable_effect", ci90=(-3.0, 8.0))))
    assert verdict_text(none, "zh") == "未检出效果（最小可检测效应 ±5.5 天，浓度约 10%）"
    failed = av.presentation(_row(record("method_failed_validation", placebo_ok=False)))
    assert verdict_text(failed, "zh") == "方法未通过检验（时间安慰剂（2015-03-01 起的无干预时段）），不给出避免天数"
    assert "+9" not in verdict_text(failed, "zh")
    # every kind of stored check is named in the page's language; a key this version does not know stays as stored
    row = _row(record("method_failed_validation", placebo_ok=False))
    row["placebo"] |= {
        "calibration_20150301": {"passed": False},
        "placebo_space_C2": {"passed": False},
        "sensitivity": {"passed": False},
        "novel_check": {"passed": False},
    }
    row["injection"] = {"passed": False}
    assert verdict_text(av.presentation(row), "zh") == (
        "方法未通过检验（校准（2015-03-01 起）、注入检验、novel_check、空间安慰剂（对照站 C2 作目标）、"
        "时间安慰剂（2015-03-01 起的无干预时段）、敏感性），不给出避免天数"
    )
    assert verdict_text(av.presentation(row), "en").startswith("Method failed validation (Calibration")
    wo = av.presentation(_row(record("effect_detected", label=f"T:{av.LABEL_WEATHER_ONLY}")))
    assert verdict_text(wo, "zh").endswith("；无足迹外对照站：仅气象，未经验证")
    assert event_text(av.EVENT_OZONE, "zh") == "臭氧污染天（AQI>100，首要污染物 O3_8h）"
    assert event_text("daily>150", "zh") == "daily>150"


def test_the_checks_page_words_the_stored_reasons() -> None:
    """The reasons the checks store in English are worded in the page's language; an unknown one stays as stored."""
    from bogda.web.ui.forecast_checks import check_rows

    placebo = {
        "placebo_time": {"passed": False, "reason": "1 placebo year(s), need ≥ 2"},
        "placebo_space_C2": {"passed": False, "reason": "too few complete days at the control"},
        "placebo_space_C3": {"passed": False, "reason": "something new"},
    }
    rows = {r["key"]: r for r in check_rows({"display": {"show_figure": False}, "placebo": placebo}, "zh")}
    assert rows["placebo_time"]["figures"] == ["原因：仅有 1 个无干预年，至少需要 2 个"]
    assert rows["placebo_time"]["name"] == "时间安慰剂（无干预时段）"
    assert rows["placebo_space_C2"]["figures"] == ["原因：对照站在参考期或评估期的完整日不足，无法作为目标检验"]
    assert rows["placebo_space_C3"]["figures"] == ["原因：something new"]
    en = check_rows({"display": {"show_figure": False}, "placebo": placebo}, "en")
    assert en[0]["figures"] == ["reason: only 1 placebo year(s); at least 2 are needed"]
