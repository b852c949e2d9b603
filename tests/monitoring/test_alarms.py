"""Same-day alarms on synthetic series (forecast.md §3.7, §8.8): one open alarm per key, cool-down, escalation
bypassing it, a missing hour never closing an alarm, auto-resolve, quiet hours, offline, county episodes,
per-place thresholds — and findings only, never tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import func, select

from bogda.monitoring.alarms import (
    DEFAULT_RULES,
    acknowledge,
    add_rule,
    dedupe_key,
    digest,
    in_quiet,
    list_alarms,
    resolve_params,
    run_alarms,
    triggers,
)
from bogda.monitoring.aqi_tables import update_aqi
from bogda.registry.places import upsert_place
from bogda.registry.sites import SiteInput, add_site
from bogda.store import Store
from bogda.store import series as S
from bogda.store.schema import alarm, finding, site, task

H0 = datetime(2019, 3, 1, 2, tzinfo=UTC)  # 10:00 Beijing: outside the quiet hours


def _setup(store: Store, codes: tuple[str, ...] = ("A", "B", "C")) -> dict[str, int]:
    with store.begin() as conn:
        pref = upsert_place(conn, code="P1", name="州", level=1, kind="prefecture")
        county = upsert_place(conn, code="C1", name="县", level=2, kind="county", parent_id=pref)
        return {
            c: add_site(conn, SiteInput("air_station", c, f"站{c}", place_id=county, attrs={"evaluation": True}))
            for c in codes
        }


def _hour(store: Store, ids: dict[str, int], t: datetime, pm25: dict[str, float | None]) -> None:
    rows = [(ids[c], "a34004", t, v) for c, v in pm25.items() if v is not None]
    if rows:
        S.write_long(
            store,
            pl.DataFrame(
                rows,
                schema={
                    "site_id": pl.Int64,
                    "parameter": pl.String,
                    "ts": pl.Datetime("us", "UTC"),
                    "value": pl.Float64,
                },
                orient="row",
            ),
            resolution="hour",
        )
        update_aqi(store, start=t, end=t + timedelta(hours=1))


def _run(store: Store, t: datetime):
    return run_alarms(store, at=t, now=t + timedelta(hours=1, minutes=5))


def _alarms(store: Store) -> pl.DataFrame:
    return list_alarms(store)


# PM2.5 1 h on the 24 h breakpoints (HJ 633-2012): 200 µg/m³ → IAQI 250 (aqi_high), 130 → 169 (elevated), 20 → 29
HIGH, ELEVATED, LOW = 200.0, 130.0, 20.0


def test_one_open_alarm_per_key_and_updates(store: Store) -> None:
    ids = _setup(store)
    for i in range(4):
        t = H0 + timedelta(hours=i)
        _hour(store, ids, t, {"A": HIGH, "B": LOW, "C": LOW})
        _run(store, t)
    a = _alarms(store)
    high = a.filter(pl.col("rule") == "aqi_high")
    assert high.height == 1 and high["count"][0] == 4 and high["state"][0] == "open"
    assert high["dedupe_key"][0] == dedupe_key("station", "A", "AQI", "aqi_high")
    assert a.filter(pl.col("rule") == "aqi_elevated").height == 1  # a different rule is a different key
    with store.engine.connect() as conn:
        n_findings = conn.execute(select(func.count()).select_from(finding).where(finding.c.kind == "alarm")).scalar()
        counts = conn.execute(select(finding.c.count).where(finding.c.dedupe_key == high["dedupe_key"][0])).scalar()
        assert conn.execute(select(func.count()).select_from(task)).scalar() == 0  # findings only
    assert n_findings == 2 and counts == 4


def test_missing_hours_never_close_an_alarm(store: Store) -> None:
    ids = _setup(store)
    _hour(store, ids, H0, {"A": HIGH, "B": LOW, "C": LOW})
    _run(store, H0)
    for i in range(1, 4):  # A silent, the others deliver
        t = H0 + timedelta(hours=i)
        _hour(store, ids, t, {"B": LOW, "C": LOW})
        run = _run(store, t)
        assert dedupe_key("station", "A", "AQI", "aqi_high") not in run.resolved
    a = _alarms(store)
    assert a.filter(pl.col("rule") == "aqi_high")["state"].to_list() == ["open"]
    # after 3 silent hours while the feed delivers others: station_offline (low)
    off = a.filter(pl.col("rule") == "station_offline")
    assert off.height == 1 and off["severity"][0] == "low" and off["target_code"][0] == "A"


def test_auto_resolve_then_cooldown_then_reopen(store: Store) -> None:
    ids = _setup(store)
    seq = [HIGH, LOW, LOW, HIGH, LOW, LOW, LOW, HIGH]
    runs = []
    for i, v in enumerate(seq):
        t = H0 + timedelta(hours=i)
        _hour(store, ids, t, {"A": v, "B": LOW, "C": LOW})
        runs.append(_run(store, t))
    key = dedupe_key("station", "A", "AQI", "aqi_high")
    assert key in runs[2].resolved  # 2 h below 90 % of the threshold
    assert key in runs[3].suppressed  # 1 h after closing: inside the 3 h cool-down
    assert key in runs[7].created  # 5 h after closing: a new alarm
    high = _alarms(store).filter(pl.col("rule") == "aqi_high").sort("id")
    assert high["state"].to_list() == ["resolved", "open"]
    with store.engine.connect() as conn:
        fid = high["finding_id"][0]
        assert conn.execute(select(finding.c.status).where(finding.c.id == fid)).scalar() in ("resolved", "open")


def test_escalation_bypasses_the_cooldown(store: Store) -> None:
    ids = _setup(store)
    for i, v in enumerate([HIGH, LOW, LOW]):
        t = H0 + timedelta(hours=i)
        _hour(store, ids, t, {"A": v, "B": LOW, "C": LOW})
        _run(store, t)
    add_rule(store, scope="station", scope_code="A", rule="aqi_high", params={"severity": "critical"}, valid_from=H0)
    t = H0 + timedelta(hours=3)
    _hour(store, ids, t, {"A": HIGH, "B": LOW, "C": LOW})
    run = _run(store, t)
    key = dedupe_key("station", "A", "AQI", "aqi_high")
    assert key in run.created and key in run.notify
    new = _alarms(store).filter((pl.col("rule") == "aqi_high") & (pl.col("state") == "open"))
    assert new["severity"].to_list() == ["critical"]
    assert new["param_version"][0] == "station:A:v1"


def test_per_place_threshold(store: Store) -> None:
    ids = _setup(store)
    add_rule(store, scope="county", scope_code="C1", rule="aqi_high", params={"threshold": 100}, valid_from=H0)
    _hour(store, ids, H0, {"A": 100.0, "B": LOW, "C": LOW})  # 100 µg/m³ → IAQI 134
    run = _run(store, H0)
    assert run.created == [dedupe_key("station", "A", "AQI", "aqi_high")]
    row = _alarms(store).row(0, named=True)
    assert (row["threshold"], row["param_version"]) == (100.0, "county:C1:v1")


def test_quiet_hours_hold_notifications_below_high(store: Store) -> None:
    ids = _setup(store)
    night = datetime(2019, 3, 1, 15, tzinfo=UTC)  # 23:00 Beijing
    for i in range(2):
        t = night + timedelta(hours=i)
        _hour(store, ids, t, {"A": ELEVATED, "B": HIGH, "C": LOW})
        run = _run(store, t)
    a = _alarms(store)
    elevated_a = a.filter((pl.col("rule") == "aqi_elevated") & (pl.col("target_code") == "A"))
    high_b = a.filter((pl.col("rule") == "aqi_high") & (pl.col("target_code") == "B"))
    assert elevated_a["held"].to_list() == [True]  # medium at night: held for the digest
    assert high_b["held"].to_list() == [False]  # high notifies at once
    held = digest(store)
    assert {r["target_code"] for r in held} >= {"A"}
    assert not digest(store)  # released once
    assert run is not None


@pytest.mark.slow
def test_offline_escalates_after_a_day_and_resolves_when_data_return(store: Store) -> None:
    ids = _setup(store, ("A", "B"))
    _hour(store, ids, H0, {"A": LOW, "B": LOW})
    for i in range(1, 27):
        t = H0 + timedelta(hours=i)
        _hour(store, ids, t, {"B": LOW})
        _run(store, t)
    off = _alarms(store).filter(pl.col("rule") == "station_offline")
    assert off.height == 1 and off["severity"][0] == "medium"  # escalated after 24 h silent
    t = H0 + timedelta(hours=27)
    _hour(store, ids, t, {"A": LOW, "B": LOW})
    run = _run(store, t)
    assert dedupe_key("station", "A", "-", "station_offline") in run.resolved


def test_feed_down_raises_no_offline_alarm(store: Store) -> None:
    ids = _setup(store, ("A", "B"))
    _hour(store, ids, H0, {"A": LOW, "B": LOW})
    run = _run(store, H0 + timedelta(hours=5))  # nobody delivered for 5 h
    assert run.feed_down and not run.created


def test_county_episode_links_its_member_alarms(store: Store) -> None:
    ids = _setup(store, ("A", "B", "C"))
    with store.begin() as conn:  # one station with coordinates (the others have none: no neighbour rule fires)
        conn.execute(site.update().where(site.c.id == ids["A"]).values(lon=87.3, lat=44.0))
    _hour(store, ids, H0, {"A": HIGH, "B": HIGH, "C": LOW})
    run = _run(store, H0)
    key = dedupe_key("county", "C1", "AQI", "county_episode")
    assert key in run.created and key in run.notify
    a = _alarms(store)
    parent = a.filter(pl.col("dedupe_key") == key)["id"][0]
    children = a.filter((pl.col("rule") == "aqi_high") & (pl.col("target_kind") == "station"))
    assert set(children["parent_id"].to_list()) == {parent}
    # the findings say where: the area by its name and place, each station at its coordinates and place (the grid
    # routes a finding by its place, so an unlocated alarm went to the prefecture's desk)
    with store.engine.connect() as conn:
        county = conn.execute(select(finding.c.title, finding.c.place_id).where(finding.c.dedupe_key == key)).one()
        station = conn.execute(
            select(finding.c.title, finding.c.place_id, finding.c.lon, finding.c.lat).where(
                finding.c.subject_site_id == ids["A"]
            )
        ).one()
        county_id = conn.execute(select(site.c.place_id).where(site.c.id == ids["A"])).scalar_one()
    assert county.title == "县（C1） 区域性污染过程" and county.place_id == county_id
    assert station.title.startswith("站A（A） 小时AQI ") and station.place_id == county_id
    assert (station.lon, station.lat) == (87.3, 44.0)


def test_acknowledge(store: Store) -> None:
    ids = _setup(store)
    _hour(store, ids, H0, {"A": HIGH, "B": LOW, "C": LOW})
    _run(store, H0)
    aid = _alarms(store).filter(pl.col("rule") == "aqi_high")["id"][0]
    acknowledge(store, aid, by="duty", note="seen")
    with store.engine.connect() as conn:
        row = conn.execute(select(alarm.c.state, alarm.c.ack_by, alarm.c.finding_id).where(alarm.c.id == aid)).first()
        assert (row.state, row.ack_by) == ("acknowledged", "duty")
        assert conn.execute(select(finding.c.status).where(finding.c.id == row.finding_id)).scalar() == "acknowledged"
    with pytest.raises(ValueError):
        acknowledge(store, aid, by="duty")


@pytest.mark.parametrize(
    ("aqi", "pm", "expected"),
    [
        ([190, 210], [100, 160], {"aqi_high", "aqi_elevated", "rate_of_rise"}),
        ([190, 210], [150, 160], {"aqi_high", "aqi_elevated"}),
        ([160, 170], [100, 130], {"aqi_elevated"}),
        ([None, 170], [None, 130], set()),  # a missing hour breaks the run
        ([60, 90], [40, 95], {"rate_of_rise"}),  # +55 in 1 h above 75
        ([60, 90], [60, 95], set()),  # +35: no
    ],
)
def test_triggers_table(aqi: list[int | None], pm: list[float | None], expected: set[str]) -> None:
    ts = [H0, H0 + timedelta(hours=1)]
    rows = pl.DataFrame(
        {"target_kind": "station", "target_code": "A", "ts": ts, "aqi": aqi, "c_pm25": pm},
        schema_overrides={"aqi": pl.Int64, "c_pm25": pl.Float64},
    )
    got = {t.rule for t in triggers(rows.drop_nulls("aqi"), at=ts[1])}
    assert got == expected


def test_rule_resolution_most_specific_wins() -> None:
    rules = [
        {"scope": "global", "scope_code": "*", "rule": "aqi_high", "params": {"threshold": 250}, "version": 1},
        {"scope": "county", "scope_code": "C1", "rule": "aqi_high", "params": {"threshold": 180}, "version": 2},
        {"scope": "station", "scope_code": "B", "rule": "aqi_high", "params": {}, "enabled": False, "version": 1},
    ]
    pa, va = resolve_params(rules, station="A", county="C1")
    pb, _ = resolve_params(rules, station="B", county="C1")
    pz, _ = resolve_params(rules, station="Z", county="C9")
    assert (pa["aqi_high"]["threshold"], va["aqi_high"]) == (180, "county:C1:v2")
    assert pb["aqi_high"]["enabled"] is False
    assert pz["aqi_high"]["threshold"] == 250
    assert DEFAULT_RULES["aqi_high"]["threshold"] == 200


@pytest.mark.parametrize(("utc_hour", "quiet"), [(13, False), (14, True), (22, True), (23, False), (3, False)])
def test_quiet_hours_window(utc_hour: int, quiet: bool) -> None:
    # 22:00–07:00 Beijing = 14:00–23:00 UTC
    assert in_quiet(datetime(2019, 3, 1, utc_hour, tzinfo=UTC)) is quiet
