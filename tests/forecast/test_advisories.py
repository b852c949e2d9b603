"""Adverse-weather advisories (forecast.md §3.8): labelled daily cases, NWP aggregation, findings with measures."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import select

from bogda.forecast import advisories as adv
from bogda.forecast import service as sv
from bogda.store import Store
from bogda.store.schema import advisory, finding, nwp_value
from bogda.timeutil import beijing_date, day_start_utc, floor_to, now_utc

BASE = {
    "ws_max": 4.0,
    "ws_mean": 2.5,
    "gust_max": None,
    "rh_min": 40.0,
    "rh_mean": 50.0,
    "rh_day": 45.0,
    "t_max": 20.0,
    "tcc_day": 0.6,
    "blh_max": None,
    "precip": 0.0,
}


def _days(rows: list[dict], start: date = date(2026, 7, 10)) -> pl.DataFrame:
    return pl.DataFrame(
        [{"location_id": "652301", "day": start + timedelta(days=i)} | BASE | r for i, r in enumerate(rows)],
        infer_schema_length=None,
    )


@pytest.mark.parametrize(
    ("rows", "kind", "expected_days"),
    [
        # dust: strong wind (ws ≥ 8 or gust ≥ 12), dry (RH < 30), < 1 mm rain in 72 h
        ([{}, {}, {"ws_max": 9.0, "rh_min": 20.0}], "dust", [2]),
        ([{}, {}, {"gust_max": 13.0, "rh_min": 25.0}], "dust", [2]),
        ([{}, {}, {"ws_max": 7.9, "rh_min": 20.0}], "dust", []),
        ([{}, {}, {"ws_max": 9.0, "rh_min": 35.0}], "dust", []),
        ([{"precip": 2.0}, {}, {"ws_max": 9.0, "rh_min": 20.0}], "dust", []),  # rained in the previous 72 h
        # ozone (April–September): Tmax ≥ 30, day RH ≤ 60, day tcc ≤ 0.5, mean ws ≤ 3
        ([{"t_max": 32.0, "tcc_day": 0.3}], "ozone", [0]),
        ([{"t_max": 29.0, "tcc_day": 0.3}], "ozone", []),
        ([{"t_max": 32.0, "tcc_day": 0.7}], "ozone", []),
        ([{"t_max": 32.0, "tcc_day": 0.3, "rh_day": 70.0}], "ozone", []),
        ([{"t_max": 32.0, "tcc_day": 0.3, "ws_mean": 4.0}], "ozone", []),
        # stagnant: ws ≤ 2, RH ≥ 60, BLH ≤ 800, rain < 1, ≥ 2 consecutive days
        ([{"ws_mean": 1.5, "rh_mean": 70.0}, {"ws_mean": 1.8, "rh_mean": 65.0}], "stagnant", [0, 1]),
        ([{"ws_mean": 1.5, "rh_mean": 70.0}, {}], "stagnant", []),  # one day only
        (
            [{"ws_mean": 1.5, "rh_mean": 70.0, "blh_max": 500.0}, {"ws_mean": 1.5, "rh_mean": 70.0, "blh_max": 1200.0}],
            "stagnant",
            [],
        ),
        ([{"ws_mean": 1.5, "rh_mean": 70.0}, {"ws_mean": 1.5, "rh_mean": 70.0, "precip": 3.0}], "stagnant", []),
    ],
)
def test_labelled_cases(rows: list[dict], kind: str, expected_days: list[int]) -> None:
    d = _days(rows)
    got = [(a.day - date(2026, 7, 10)).days for a in adv.evaluate(d) if a.kind == kind]
    assert got == expected_days


def test_ozone_only_in_season() -> None:
    d = _days([{"t_max": 32.0, "tcc_day": 0.3}], start=date(2026, 11, 10))
    assert [a.kind for a in adv.evaluate(d)] == []


def test_daily_weather_from_hourly_nwp() -> None:
    t0 = day_start_utc(date(2026, 7, 10))
    rows = []
    for h in range(24):
        ts = t0 + timedelta(hours=h)
        rows += [
            ("X", ts, "ws10", 2.0 + (h == 12) * 8),
            ("X", ts, "rh2m", 50.0 - h),
            ("X", ts, "t2m", 20.0 + h / 2),
            ("X", ts, "precip", 0.1),
        ]
    f = pl.DataFrame(
        rows,
        schema={
            "location_id": pl.Utf8,
            "valid_start": pl.Datetime("us", "UTC"),
            "variable": pl.Utf8,
            "value": pl.Float64,
        },
        orient="row",
    )
    d = adv.daily_weather(f).row(0, named=True)
    assert d["day"] == date(2026, 7, 10) and d["ws_max"] == 10.0 and d["rh_min"] == 27.0
    assert d["t_max"] == pytest.approx(31.5) and d["precip"] == pytest.approx(2.4)
    assert d["rh_day"] == pytest.approx(50 - 13.5)  # Beijing 10:00–17:00
    assert d["tcc_day"] is None and d["blh_max"] is None


def test_verify_scores() -> None:
    s = adv.verify_advisories([("X", date(2026, 1, 1))], [("X", date(2026, 1, 2))])
    assert s == {"hits": 0, "false_alarms": 1, "misses": 1, "ts": 0.0, "pod": 0.0, "far": 1.0}


def _write_nwp(store: Store, loc: str, day: date, values: dict[str, float], *, hours: range = range(24)) -> None:
    run = floor_to(now_utc(), "hour") - timedelta(hours=6)
    rows = []
    for h in hours:
        ts = day_start_utc(day) + timedelta(hours=h)
        for var, v in values.items():
            rows.append(
                {
                    "source": "test",
                    "run_time": run,
                    "valid_start": ts,
                    "valid_end": ts + timedelta(hours=1),
                    "location_id": loc,
                    "variable": var,
                    "value": v,
                }
            )
    with store.begin() as conn:
        conn.execute(nwp_value.insert(), rows)


def test_dust_advisory_finding_names_measures(demo_store: Store) -> None:
    now = now_utc()  # one clock read: the days written and the days evaluated agree across Beijing midnight
    today = beijing_date(now)
    for k in (-2, -1):
        _write_nwp(demo_store, "652302", today + timedelta(days=k), {"ws10": 3.0, "rh2m": 40.0, "precip": 0.0})
    _write_nwp(demo_store, "652302", today + timedelta(days=1), {"ws10": 10.0, "rh2m": 18.0, "precip": 0.0})
    _write_nwp(demo_store, "652301", today + timedelta(days=1), {"ws10": 3.0, "rh2m": 50.0, "precip": 0.0})
    reg = sv.registry(demo_store)
    found = sv.evaluate_advisories(demo_store, reg, now)
    assert [(a.location, a.kind, a.day) for a in found] == [("652302", "dust", today + timedelta(days=1))]
    with demo_store.engine.connect() as conn:
        rec = conn.execute(select(advisory)).mappings().one()
        f = conn.execute(select(finding).where(finding.c.id == rec["finding_id"])).mappings().one()
    assert f["kind"] == "advisory" and "大风扬沙" in f["title"]
    assert any("土石方" in m["action_zh"] for m in f["evidence"]["measures"])
    # a second evaluation updates, never duplicates
    sv.evaluate_advisories(demo_store, reg, now)
    with demo_store.engine.connect() as conn:
        assert len(conn.execute(select(advisory)).all()) == 1


def test_stagnation_advisory_names_boilers(demo_store: Store) -> None:
    now = now_utc()
    today = beijing_date(now)
    for k in (1, 2):
        _write_nwp(demo_store, "652323", today + timedelta(days=k), {"ws10": 1.0, "rh2m": 75.0, "precip": 0.0})
    found = sv.evaluate_advisories(demo_store, sv.registry(demo_store), now)
    assert [(a.kind, (a.day - today).days) for a in found] == [("stagnant", 1), ("stagnant", 2)]
    with demo_store.engine.connect() as conn:
        ev = conn.execute(select(finding.c.evidence).where(finding.c.kind == "advisory")).scalars().first()
    assert [e["code"] for e in ev["enterprises"]] == ["HT-BL1"]  # boilers are a listed sector for stagnation


def test_no_nwp_no_advisory(demo_store: Store) -> None:
    assert sv.evaluate_advisories(demo_store, sv.registry(demo_store), datetime.now().astimezone()) == []


# ---- advised measures: sectors are the registry's (forecast.md §3.8) ---------------------------------------------


def test_packaged_measures_use_registry_sectors() -> None:
    from bogda.registry.sites import SECTORS

    table = adv.default_measures()
    assert {m.kind for m in table} == set(adv.KINDS)
    assert {m.target for m in table} <= set(SECTORS) | set(adv.EVERYONE)
    # the spec's ozone sectors that the registry knows: chemicals (化工, 煤化工) and coking
    assert {m.target for m in adv.measures_for("ozone")} - set(adv.EVERYONE) == {"chemical", "coal_chemical", "coking"}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("ozone,chemicals,满负荷运行,Full load,D+0..D+3,1", "plan.csv:3: sector 'chemicals' of advisory kind 'ozone'"),
        ("dust,printing,停工,Stop,D+0..D+3,1", "plan.csv:3: sector 'printing' of advisory kind 'dust'"),
        ("stagnant,boilers,检查,Check,D+0..D+3,1", "plan.csv:3: sector 'boilers' of advisory kind 'stagnant'"),
        ("smog,*,巡查,Patrol,D+0..D+3,1", "plan.csv:3: kind 'smog' is not an advisory kind"),
        ("dust,*,,Nothing,D+0..D+3,1", "plan.csv:3: empty action_zh"),
    ],
)
def test_measure_table_with_an_unknown_sector_is_refused(row: str, message: str) -> None:
    text = ",".join(adv.MEASURE_COLUMNS) + "\nstagnant,boiler,检查锅炉,Check boilers,D+0..D+3,1\n" + row + "\n"
    with pytest.raises(adv.MeasureTableError, match=re.escape(message)):
        adv.read_measures(text, "plan.csv")
    with pytest.raises(adv.MeasureTableError, match=re.escape("plan.csv:1: missing column")):
        adv.read_measures("kind,sector,action_zh\n", "plan.csv")


def test_ozone_advisory_names_chemical_enterprises(demo_store: Store) -> None:
    from bogda.registry.sites import SiteInput, add_enterprise, with_check_digit

    reg = sv.registry(demo_store)
    with demo_store.begin() as conn:
        add_enterprise(
            conn,
            SiteInput("enterprise", "HT-CH1", "呼图壁模拟化工有限公司（模拟）", place_id=reg.place_of["652323"]),
            credit_code=with_check_digit("91652323MA78CHEM1"),
            sector="chemical",
            grade="B",
        )
    issue = day_start_utc(date(2026, 7, 10)) + timedelta(hours=10)  # 10:00 Beijing, in the ozone season
    hot = {"t2m": 33.0, "rh2m": 40.0, "ws10": 2.0, "tcc": 0.2, "precip": 0.0}
    _write_nwp(demo_store, "652323", date(2026, 7, 11), hot)
    found = sv.evaluate_advisories(demo_store, reg, issue)
    assert [(a.location, a.kind, a.day) for a in found] == [("652323", "ozone", date(2026, 7, 11))]
    with demo_store.engine.connect() as conn:
        ev = conn.execute(select(finding.c.evidence).where(finding.c.kind == "advisory")).scalars().one()
    assert [(e["code"], e["sector"]) for e in ev["enterprises"]] == [("HT-CH1", "chemical")]
    assert any(m["target"] == "chemical" for m in ev["measures"])
