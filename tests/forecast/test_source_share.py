"""The emission-based estimate of emergency lists (forecast.md §3.9 step 6, §3.10): the pure Δconc ≈ C × Σ share ×
cut on hand-computed numbers, the ``source_share`` table (migration 0016 on SQLite and PostgreSQL, validation naming
the field), the estimate of a stored list in the API and the Excel export, and 未配置源解析结果 without a study."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from bogda.config import Settings, WebSettings
from bogda.forecast import emergency as em
from bogda.forecast import service as sv
from bogda.forecast import source_share as ss
from bogda.forecast.source_share import Cut, Share
from bogda.store import Store, connect
from bogda.store.migrations import alembic_config
from bogda.store.schema import (
    aqi_daily,
    audit,
    emergency_list,
    enterprise,
    place,
    plan,
    site,
    source_share,
    warning,
)
from bogda.timeutil import day_start_utc, epoch_seconds, now_utc
from bogda.web.app import create_app
from console_users import add_issuer_and_reader
from forecast.episode import set_pm

DOC = "昌吉州环境空气PM2.5来源解析报告（测试）"

# --------------------------------------------------------------------------------------------------------------
# Pure core, hand-computed
# --------------------------------------------------------------------------------------------------------------

# cuts of a list: coal = power + boiler = (1.0 + 0.5) / (4.0 + 1.0) = 0.3; industry = cement 2.0 / 4.0 = 0.5
CUTS = {
    "coal": Cut("coal", 1.5, 5.0, ("boiler", "power")),
    "industry": Cut("industry", 2.0, 4.0, ("cement",)),
}


@pytest.mark.parametrize(
    ("shares", "conc", "relative", "delta", "low", "high", "basis"),
    [
        # 0.3·0.3 + 0.2·0.5 = 0.19; ×200 = 38; low 0.25·0.3 + 0.15·0.5 = 0.15 → 30; high 0.35·0.3 + 0.25·0.5 = 0.23 → 46
        (
            [Share("coal", 0.3, 0.25, 0.35), Share("industry", 0.2, 0.15, 0.25)],
            200.0,
            0.19,
            38.0,
            30.0,
            46.0,
            "sources",
        ),
        # traffic and dust have no listed enterprise (cut 0); no row has an interval → no interval
        (
            [Share("coal", 0.4), Share("traffic", 0.2), Share("dust", 0.1), Share("secondary", 0.2)],
            150.0,
            0.12,
            18.0,
            None,
            None,
            "sources",
        ),
        # one row with an interval, the other contributes its point share to both bounds:
        # low 0.2·0.3 + 0.2·0.5 = 0.16 → 16; high 0.5·0.3 + 0.2·0.5 = 0.25 → 25; point 0.3·0.3 + 0.1 = 0.19 → 19
        ([Share("coal", 0.3, 0.2, 0.5), Share("industry", 0.2)], 100.0, 0.19, 19.0, 16.0, 25.0, "sources"),
        # only the local total: the cut of all listed enterprises, 3.5 / 9.0; 0.6 · 3.5/9 = 0.2333…, × 90 = 21
        ([Share("local", 0.6)], 90.0, 0.6 * 3.5 / 9.0, 21.0, None, None, "local"),
        # with category rows the local total is not used
        ([Share("local", 0.9), Share("industry", 0.4)], 50.0, 0.2, 10.0, None, None, "sources"),
        # no concentration: the relative figure only
        ([Share("industry", 0.4)], None, 0.2, None, None, None, "sources"),
    ],
)
def test_emission_estimate_hand_computed(
    shares: list[Share],
    conc: float | None,
    relative: float,
    delta: float | None,
    low: float | None,
    high: float | None,
    basis: str,
) -> None:
    e = ss.emission_estimate(shares, CUTS, conc)
    assert e.status == "ok" and e.basis == basis and e.emission_pollutant == "PM"
    assert e.relative == pytest.approx(relative)
    assert e.delta == (None if delta is None else pytest.approx(delta))
    assert e.delta_low == (None if low is None else pytest.approx(low))
    assert e.delta_high == (None if high is None else pytest.approx(high))


def test_estimate_terms_say_where_each_part_comes_from() -> None:
    e = ss.emission_estimate([Share("coal", 0.3), Share("traffic", 0.2)], CUTS, 100.0)
    coal, traffic = e.terms
    assert (coal["cut"], coal["sectors"], coal["contribution"]) == (pytest.approx(0.3), ["boiler", "power"], 0.09)
    assert (traffic["cut"], traffic["sectors"], traffic["contribution"]) == (None, [], 0.0)


def test_without_baselines_there_is_no_figure() -> None:
    cuts = {"coal": Cut("coal", 0.0, 0.0, ("boiler",))}
    e = ss.emission_estimate([Share("coal", 0.3, 0.2, 0.4)], cuts, 260.0)
    assert e.status == "no_baseline" and e.relative is None and e.delta is None and e.delta_high is None


@pytest.mark.parametrize(
    ("pollutant", "emission", "cut"),
    [("PM2.5", "PM", 0.25), ("PM10", "PM", 0.25), ("SO2", "SO2", 0.5), ("NO2", "NOx", 0.1)],
)
def test_each_concentration_takes_its_own_emission_cut(pollutant: str, emission: str, cut: float) -> None:
    red = {"power": {"PM": 1.0, "SO2": 2.0, "NOx": 0.5}}
    base = {"power": {"PM": 4.0, "SO2": 4.0, "NOx": 5.0}}
    cuts = ss.source_cuts(red, base, ss.EMISSION_OF[pollutant])
    e = ss.emission_estimate([Share("coal", 0.5)], cuts, 100.0, pollutant=pollutant)
    assert e.emission_pollutant == emission and e.delta == pytest.approx(100.0 * 0.5 * cut)


def test_sector_mapping_and_unknown_sectors() -> None:
    cuts = ss.source_cuts(
        {"coking": {"PM": 1.0}, "boiler": {"PM": 1.0}, "brewery": {"PM": 1.0}},
        {"coking": {"PM": 2.0}, "boiler": {"PM": 4.0}, "brewery": {"PM": 5.0}},
        "PM",
    )
    assert {k: (c.fraction, c.sectors) for k, c in cuts.items()} == {
        "industry": (0.5, ("coking",)),
        "coal": (0.25, ("boiler",)),
        "other": (0.2, ("brewery",)),
    }


@pytest.mark.parametrize(
    ("days", "order"),
    [
        ([date(2026, 12, 30), date(2027, 1, 2)], ("heavy", "all", "heating")),
        ([date(2026, 3, 31)], ("heavy", "all", "heating")),
        ([date(2026, 8, 1), date(2026, 8, 3)], ("heavy", "all", "non_heating")),
        ([date(2026, 4, 10)], ("heavy", "all")),  # shoulder month: no heating-season dates configured
        ([date(2026, 3, 31), date(2026, 4, 1)], ("heavy", "all")),
    ],
)
def test_season_order(days: list[date], order: tuple[str, ...]) -> None:
    assert ss.season_order(days) == order


def test_choose_study_never_mixes_studies() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {"id": 1, "pollutant": "PM2.5", "season": "all", "source": "coal", "source_doc": "old", "study_year": 2019},
        {"id": 2, "pollutant": "PM2.5", "season": "all", "source": "dust", "source_doc": "old", "study_year": 2019},
        {"id": 3, "pollutant": "PM2.5", "season": "all", "source": "coal", "source_doc": "new", "study_year": 2023},
        {"id": 4, "pollutant": "PM2.5", "season": "heating", "source": "coal", "source_doc": "w", "entered_at": t0},
    ]
    assert [r["id"] for r in ss.choose_study(rows, "PM2.5", ("heavy", "all", "heating"))] == [3]
    assert [r["id"] for r in ss.choose_study(rows, "PM2.5", ("heavy", "heating", "all"))] == [4]
    assert ss.choose_study(rows, "PM2.5", ("heavy", "non_heating")) == []


# --------------------------------------------------------------------------------------------------------------
# The table: migration 0016, validation, audit
# --------------------------------------------------------------------------------------------------------------


def test_migration_0016_down_and_up(store: Store) -> None:
    cfg = alembic_config(store.engine)
    assert "source_share" in inspect(store.engine).get_table_names()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015_forecast_interventions")
    names = inspect(store.engine).get_table_names()
    assert "source_share" not in names and "control_event" in names
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    assert "source_share" in inspect(store.engine).get_table_names()


@pytest.mark.parametrize(
    "values",
    [
        {"share": 1.5},
        {"share": 0.3, "share_low": 0.4},
        {"share": 0.3, "share_high": 0.2},
        {"share": 0.3, "season": "winter"},
        {"share": 0.3, "source_doc": ""},
    ],
)
def test_the_database_checks_too(store: Store, values: dict) -> None:
    row = {"area_code": "X", "source": "coal", "source_doc": DOC, "entered_at": now_utc()} | values
    with pytest.raises(IntegrityError), store.begin() as conn:
        conn.execute(source_share.insert().values(**row))


@pytest.fixture
def counties(store: Store) -> Store:
    with store.begin() as conn:
        pref = conn.execute(
            place.insert().values(code="652300", name="昌吉州", level=1, kind="prefecture").returning(place.c.id)
        ).scalar_one()
        conn.execute(place.insert().values(code="652323", name="呼图壁县", level=2, kind="county", parent_id=pref))
    return store


def test_add_list_delete_and_audit(counties: Store) -> None:
    a = ss.add_source_share(counties, "652300", "coal", 0.3, source_doc=DOC, season="heavy", by="clerk")
    b = ss.add_source_share(
        counties, "652300", "industry", 0.25, share_low=0.2, share_high=0.3, source_doc=DOC, season="heavy"
    )
    rows = ss.list_source_shares(counties, area_code="652300")
    assert [(r["id"], r["source"], r["pollutant"]) for r in rows] == [(b, "industry", "PM2.5"), (a, "coal", "PM2.5")]
    assert rows[1]["entered_by"] == "clerk" and rows[0]["share_high"] == 0.3
    ss.delete_source_share(counties, a, by="clerk")
    assert [r["id"] for r in ss.list_source_shares(counties)] == [b]
    with pytest.raises(LookupError):
        ss.delete_source_share(counties, a)
    with counties.engine.connect() as conn:
        acts = conn.execute(select(audit.c.action, audit.c.target).order_by(audit.c.id)).all()
    assert [tuple(x) for x in acts] == [
        ("source_share.add", f"source_share:{a}"),
        ("source_share.add", f"source_share:{b}"),
        ("source_share.delete", f"source_share:{a}"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"area_code": "nowhere"}, "area_code"),
        ({"pollutant": "O3"}, "pollutant"),
        ({"source": "volcano"}, "source"),
        ({"season": "winter"}, "season"),
        ({"share": 32}, "share"),
        ({"share": -0.1}, "share"),
        ({"share": "0.3"}, "share"),
        ({"share_low": 0.4}, "share_low"),
        ({"share_high": 0.2}, "share_high"),
        ({"share_high": 1.2}, "share_high"),
        ({"source_doc": "  "}, "source_doc"),
        ({"study_year": 203}, "study_year"),
    ],
)
def test_validation_names_the_field(counties: Store, kwargs: dict, field: str) -> None:
    args = {"area_code": "652323", "source": "coal", "share": 0.3, "source_doc": DOC} | kwargs
    with pytest.raises(ss.SourceShareError) as err:
        ss.add_source_share(counties, args.pop("area_code"), args.pop("source"), args.pop("share"), **args)
    assert err.value.field == field
    assert ss.list_source_shares(counties) == []


def test_one_study_cannot_exceed_the_whole(counties: Store) -> None:
    ss.add_source_share(counties, "652323", "coal", 0.6, source_doc=DOC)
    ss.add_source_share(counties, "652323", "local", 0.9, source_doc=DOC)  # the local total is not a category
    with pytest.raises(ss.SourceShareError) as err:
        ss.add_source_share(counties, "652323", "industry", 0.5, source_doc=DOC)
    assert err.value.field == "share"
    with pytest.raises(ss.SourceShareError) as dup:
        ss.add_source_share(counties, "652323", "coal", 0.1, source_doc=DOC)
    assert dup.value.field == "source"
    # another study, or another season of the same study, is a whole of its own
    ss.add_source_share(counties, "652323", "industry", 0.5, source_doc="另一项研究")
    ss.add_source_share(counties, "652323", "industry", 0.5, source_doc=DOC, season="heavy")
    assert len(ss.list_source_shares(counties)) == 4


# --------------------------------------------------------------------------------------------------------------
# A stored list: 呼图壁县 in a 260 µg/m³ episode, one grade-C boiler (HT-BL1, red: cap 0.5)
# --------------------------------------------------------------------------------------------------------------

PM_BASE = 2.0  # t/d of primary PM of HT-BL1 (a plan baseline row); red cap 0.5 → 1.0 t/d cut, fraction 0.5


def _baseline(store: Store, code: str, pm: float) -> None:
    with store.begin() as conn:
        eid = conn.execute(select(site.c.id).where(site.c.code == code)).scalar_one()
        for pol, v in (("PM", pm), ("SO2", 2 * pm)):
            conn.execute(
                plan.insert().values(
                    kind="baseline", enterprise_id=eid, value=v, unit="t/d", attrs={"pollutant": pol},
                    active=True, created_at=now_utc(),
                )
            )  # fmt: skip


def _issue(store: Store) -> int:
    sv.refresh(store, models=None)
    w = next(x for x in sv.warnings(store) if x["area_code"] == "652323")
    return int(sv.decide_warning(store, w["id"], "issued", by="duty", doc_no="昌环应急〔2026〕9号")["list_id"])


def _summary_rows(data: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(data))["汇总"].iter_rows(values_only=True))


def test_list_estimate_from_the_prefecture_study(episode_store: Store) -> None:
    _baseline(episode_store, "HT-BL1", PM_BASE)
    lid = _issue(episode_store)
    none = ss.list_estimate(episode_store, lid)
    assert none["status"] == "not_configured"
    lines = [r for r in _summary_rows(em.export_xlsx(episode_store, lid)) if r[0] == "基于排放的估算"]
    assert [r[1] for r in lines] == ["未配置源解析结果（呼图壁县）"]
    # the prefecture's study serves its counties; the heavy-day result beats the whole-year one
    ss.add_source_share(episode_store, "652300", "coal", 0.9, source_doc="全年结果")
    ss.add_source_share(episode_store, "652300", "coal", 0.3, share_low=0.2, share_high=0.4, source_doc=DOC,
                        season="heavy", study_year=2023)  # fmt: skip
    ss.add_source_share(episode_store, "652300", "industry", 0.25, source_doc=DOC, season="heavy")
    est = ss.list_estimate(episode_store, lid)
    assert est["status"] == "ok" and [e["pollutant"] for e in est["estimates"]] == ["PM2.5"]
    pm = est["estimates"][0]
    assert pm["study"]["area_code"] == "652300" and pm["study"]["source_doc"] == DOC
    assert pm["study"]["season"] == "heavy"
    # every hour of the 36 days was 260 µg/m³, so each forecast of the episode days is 260
    assert pm["concentration_origin"] == "forecast" and pm["concentration"] == pytest.approx(260.0)
    # boiler → coal, cut 1.0/2.0 = 0.5; no industry on the list: 0.3 · 0.5 = 0.15 → 39, 0.2 · 0.5 → 26, 0.4 · 0.5 → 52
    assert pm["relative"] == pytest.approx(0.15)
    assert (pm["delta"], pm["delta_low"], pm["delta_high"]) == (
        pytest.approx(39.0),
        pytest.approx(26.0),
        pytest.approx(52.0),
    )
    lines = [r[1] for r in _summary_rows(em.export_xlsx(episode_store, lid)) if r[0] == "基于排放的估算"]
    assert len(lines) == 1 and "ΔPM2.5 ≈ −39.0 (26.0–52.0) µg/m³" in lines[0] and DOC in lines[0]
    assert "线性近似" in lines[0] and "重污染过程" in lines[0]


def test_observed_concentration_when_the_run_has_no_forecast(episode_store: Store) -> None:
    _baseline(episode_store, "HT-BL1", PM_BASE)
    lid = _issue(episode_store)
    ss.add_source_share(episode_store, "652323", "local", 0.5, source_doc=DOC)
    with episode_store.begin() as conn:
        wid = conn.execute(select(emergency_list.c.warning_id).where(emergency_list.c.id == lid)).scalar_one()
        w = conn.execute(select(warning).where(warning.c.id == wid)).mappings().one()
        conn.execute(warning.update().where(warning.c.id == wid).values(run_id=None))
        # two observed episode days (200 and 300 µg/m³) and one day before the episode that must not count
        for day, pm in ((w["start_date"], 200.0), (w["start_date"] + timedelta(days=1), 300.0),
                        (w["start_date"] - timedelta(days=1), 900.0)):  # fmt: skip
            conn.execute(
                aqi_daily.insert().values(
                    target_kind="county", target_code="652323", ts=epoch_seconds(day_start_utc(day)),
                    standard="2012", level=6, status="complete", inputs_hash="t", c_pm25=pm,
                )
            )  # fmt: skip
    pm = ss.list_estimate(episode_store, lid)["estimates"][0]
    # C = (200 + 300) / 2 = 250; local only: 0.5 × (1.0 / 2.0) = 0.25 → 62.5
    assert (pm["concentration_origin"], pm["concentration"], pm["basis"]) == ("observed", 250.0, "local")
    assert pm["delta"] == pytest.approx(62.5) and pm["delta_low"] is None


def test_list_without_graded_enterprises_gets_no_estimate(episode_store: Store) -> None:
    _baseline(episode_store, "HT-BL1", PM_BASE)
    with episode_store.begin() as conn:
        eid = conn.execute(select(site.c.id).where(site.c.code == "HT-BL1")).scalar_one()
        conn.execute(enterprise.update().where(enterprise.c.site_id == eid).values(grade="leading"))
    ss.add_source_share(episode_store, "652323", "coal", 0.3, source_doc=DOC)
    lid = _issue(episode_store)
    assert em.list_rows(episode_store, lid)[1][0]["grade"] == "leading"
    est = ss.list_estimate(episode_store, lid)
    assert est["status"] == "not_applicable" and est["estimates"] == []
    assert "A/B/C/D" in ss.estimate_text(est)[0]


def test_lists_without_baselines_or_frozen_before(episode_store: Store) -> None:
    ss.add_source_share(episode_store, "652323", "coal", 0.3, source_doc=DOC)
    lid = _issue(episode_store)  # the demo enterprises have no baseline
    pm = ss.list_estimate(episode_store, lid)["estimates"][0]
    assert pm["status"] == "no_baseline" and pm["delta"] is None
    # a list frozen before the per-sector baselines were kept
    with episode_store.begin() as conn:
        totals = conn.execute(select(emergency_list.c.totals).where(emergency_list.c.id == lid)).scalar_one()
        totals.pop("baseline_by_sector")
        conn.execute(emergency_list.update().where(emergency_list.c.id == lid).values(totals=totals))
    assert ss.list_estimate(episode_store, lid)["status"] == "no_sector_baselines"


# --------------------------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------------------------

ISSUER = ("issuer", "issuer-pass-1")
PLAIN = ("plainop", "plainop-pass-1")
URL = "/api/v1/forecast/source-shares"


@pytest.fixture(scope="module")
def api(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Store]]:
    tmp_path = tmp_path_factory.mktemp("ss_api")
    shutil.copyfile(demo_template, tmp_path / "demo.db")
    st = connect(f"sqlite:///{tmp_path / 'demo.db'}")
    set_pm(st, ["CJ-HT01"], 260.0)
    _baseline(st, "HT-BL1", PM_BASE)
    with st.begin() as conn:
        add_issuer_and_reader(conn, ISSUER, PLAIN)
    _issue(st)
    settings = Settings(database_url=st.url, data_dir=tmp_path, web=WebSettings(secret_key="k" * 32))
    with TestClient(create_app(settings, st, console=False)) as c:
        yield c, st
    st.dispose()


BODY = {"area_code": "652323", "source": "coal", "share": 0.3, "share_low": 0.2, "share_high": 0.4,
        "source_doc": DOC, "season": "heavy", "study_year": 2023}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"share": 30}, "share"),
        ({"share": "a third"}, "share"),  # not a number: FastAPI's own check, the same error shape
        ({"season": "winter"}, "season"),
        ({"source": "volcano"}, "source"),
        ({"area_code": "nowhere"}, "area_code"),
        ({"source_doc": ""}, "source_doc"),
        ({"share_low": 0.5}, "share_low"),
        ({"pollutant": "O3"}, "pollutant"),
    ],
)
def test_api_validation_names_the_field(api: tuple[TestClient, Store], change: dict, field: str) -> None:
    c, _ = api
    r = c.post(URL, json=BODY | change, auth=ISSUER)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_api_missing_source_doc_is_named(api: tuple[TestClient, Store]) -> None:
    c, _ = api
    body = {k: v for k, v in BODY.items() if k != "source_doc"}
    r = c.post(URL, json=body, auth=ISSUER)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["source_doc"]


def test_api_permissions_and_the_list_summary(api: tuple[TestClient, Store]) -> None:
    c, _ = api
    lists = c.get("/api/v1/forecast/emergency", auth=PLAIN).json()["results"]
    assert [x["emission_estimate"]["status"] for x in lists] == ["not_configured"]
    assert c.post(URL, json=BODY, auth=PLAIN).status_code == 403
    assert c.post(URL, json=BODY).status_code == 401
    r = c.post(URL, json=BODY, auth=ISSUER)
    assert r.status_code == 201
    row = r.json()
    assert (row["entered_by"], row["share"], row["season"], row["pollutant"]) == ("issuer", 0.3, "heavy", "PM2.5")
    assert [x["id"] for x in c.get(URL, params={"area_code": "652323"}, auth=PLAIN).json()["results"]] == [row["id"]]
    assert c.get(URL, params={"area_code": "652301"}, auth=PLAIN).json()["results"] == []
    # the list summary now carries the figure: 260 × 0.3 × (1.0 / 2.0) = 39 µg/m³
    lst = c.get("/api/v1/forecast/emergency", auth=PLAIN).json()["results"][0]
    est = lst["emission_estimate"]
    assert est["status"] == "ok" and est["label_zh"] == "基于排放的估算"
    assert est["estimates"][0]["delta"] == pytest.approx(39.0)
    assert est["estimates"][0]["study"]["source_doc"] == DOC
    detail = c.get(f"/api/v1/forecast/emergency/{lst['id']}", auth=PLAIN).json()
    assert detail["list"]["emission_estimate"]["estimates"][0]["delta_high"] == pytest.approx(52.0)
    x = c.get(f"/api/v1/forecast/emergency/{lst['id']}/xlsx", auth=PLAIN)
    lines = [r[1] for r in _summary_rows(x.content) if r[0] == "基于排放的估算"]
    assert len(lines) == 1 and "−39.0" in lines[0] and DOC in lines[0]
    assert c.delete(f"{URL}/{row['id']}", auth=PLAIN).status_code == 403
    assert c.delete(f"{URL}/{row['id']}", auth=ISSUER).json() == {"id": row["id"], "deleted": True}
    gone = c.delete(f"{URL}/{row['id']}", auth=ISSUER)
    assert gone.status_code == 404 and [e["field"] for e in gone.json()["errors"]] == ["share_id"]
    lst = c.get("/api/v1/forecast/emergency", auth=PLAIN).json()["results"][0]
    assert lst["emission_estimate"]["status"] == "not_configured"
