"""Warning verification per episode (forecast.md §3.9): episodes, POD / FAR / lead time, simulated issuance, the
installation's warnings and the command."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import warning_check as wc
from bogda.store import Store
from bogda.store.schema import aqi_daily, warning, warning_event
from bogda.timeutil import day_start_utc
from sharedata import require_shared

D0 = date(2026, 1, 1)


def _days(n: int) -> list[date]:
    return [D0 + timedelta(days=k) for k in range(n)]


def test_episodes_are_runs_above_150_that_warrant_a_level() -> None:
    aqi = [90, 210, 220, 80, 160, 90, 160, 170, 160, np.nan, 310, 250, 260]
    eps = wc.observed_episodes("X", _days(len(aqi)), aqi)
    assert [(e.start.day, e.end.day, e.level, e.peak_aqi) for e in eps] == [
        (2, 3, "orange", 220.0),  # > 200 for 48 h
        (7, 9, "orange", 170.0),  # > 150 for 72 h
        (11, 13, "red", 310.0),  # > 200 for 72 h and > 300 for 24 h
    ]
    # day 5 (one day at 160) warrants nothing under 2024; under 2018 only days > 200 count
    eps18 = wc.observed_episodes("X", _days(len(aqi)), aqi, rule="2018")
    assert [(e.start.day, e.level) for e in eps18] == [(2, "yellow"), (11, "orange")]


def test_a_missing_day_or_a_gap_in_the_dates_ends_a_run() -> None:
    days = [D0, D0 + timedelta(days=1), D0 + timedelta(days=3)]  # 2026-01-03 absent
    assert wc.observed_episodes("X", days, [210, 160, 170]) == [
        wc.Episode("X", D0, D0 + timedelta(days=1), "yellow", 210.0)
    ]
    # unsorted input is sorted first
    shuffled = wc.observed_episodes("X", [days[1], days[0]], [220, 210])
    assert [(e.start, e.level) for e in shuffled] == [(D0, "orange")]
    with pytest.raises(ValueError, match="area X: 2 days but 1 AQI"):
        wc.observed_episodes("X", days[:2], [1.0])


def _w(
    level: str, start: int, end: int, issued: datetime, area: str = "X", raised: datetime | None = None
) -> wc.IssuedWarning:
    return wc.IssuedWarning(area, level, D0 + timedelta(days=start), D0 + timedelta(days=end), issued, raised)


def test_verify_counts_hits_false_alarms_and_lead_times_by_hand() -> None:
    eps = [
        wc.Episode("X", D0 + timedelta(days=4), D0 + timedelta(days=5), "orange", 240.0),
        wc.Episode("X", D0 + timedelta(days=20), D0 + timedelta(days=21), "yellow", 180.0),
        wc.Episode("Y", D0 + timedelta(days=4), D0 + timedelta(days=5), "yellow", 180.0),
    ]
    issued = day_start_utc(D0 + timedelta(days=3)) - timedelta(hours=12)  # 36 h before the X episode
    ws = [
        _w("yellow", 5, 6, issued, raised=None),  # overlaps X's orange episode (≥ yellow hit) but is yellow
        _w("orange", 3, 4, issued + timedelta(hours=6)),  # hits X's orange episode, 30 h ahead
        _w("yellow", 10, 11, issued),  # no episode: false alarm
    ]
    rows = {r["category"]: r for r in wc.verify(eps, ws)}
    ge = rows["≥ yellow"]
    assert (ge["episodes"], ge["hits"], ge["misses"], ge["warnings"], ge["false_alarms"]) == (3, 1, 2, 3, 1)
    assert ge["pod"] == pytest.approx(1 / 3) and ge["far"] == pytest.approx(1 / 3)
    assert ge["lead_h_median"] == 36.0 and ge["hits_lead_ge_24h"] == 1  # the earliest overlapping warning counts
    orange = rows["orange"]
    assert (orange["hits"], orange["false_alarms"], orange["lead_h_median"]) == (1, 0, 30.0)
    yellow = rows["yellow"]  # 2 yellow episodes (X day 20, Y), 2 yellow warnings, none overlapping a yellow episode
    assert (yellow["episodes"], yellow["hits"], yellow["warnings"], yellow["false_alarms"]) == (2, 0, 2, 2)
    assert yellow["pod"] == 0.0 and yellow["far"] == 1.0 and yellow["lead_h_median"] is None
    assert rows["red"]["pod"] is None and rows["red"]["far"] is None  # nothing to score: null, not 0
    assert list(rows) == ["≥ yellow", "yellow", "orange", "red"]


def _perfect(obs: dict[date, float]) -> dict[tuple[date, int], float]:
    return {(d, k): v for d, v in obs.items() for k in (1, 2, 3)}


def test_simulate_raises_one_warning_and_upgrades_it() -> None:
    obs = {d: 80.0 for d in _days(20)}
    for k in (9, 10, 11):  # 2026-01-10..12 above 200
        obs[D0 + timedelta(days=k)] = 220.0
    ws = wc.simulate("X", _days(19), _perfect(obs), obs)
    assert len(ws) == 1
    (w,) = ws
    # D+3 of the evening of Jan 7 sees one day > 200 (yellow); Jan 8 sees two (orange): the same warning, raised
    assert (w.level, w.start, w.end) == ("orange", date(2026, 1, 10), date(2026, 1, 12))
    assert w.issued_at == day_start_utc(date(2026, 1, 8)) and w.raised_at == day_start_utc(date(2026, 1, 9))
    rows = {r["category"]: r for r in wc.verify(wc.observed_episodes("X", list(obs), list(obs.values())), ws)}
    assert rows["≥ yellow"]["lead_h_median"] == 48.0 and rows["orange"]["lead_h_median"] == 24.0
    assert rows["≥ yellow"]["pod"] == 1.0 and rows["≥ yellow"]["far"] == 0.0


def test_simulate_warns_late_for_what_the_forecast_did_not_see() -> None:
    obs = {d: 80.0 for d in _days(30)}
    obs[date(2026, 1, 6)] = 230.0  # one day > 200, forecast: yellow, 48 h ahead
    fc = _perfect(obs)
    obs[date(2026, 1, 21)] = obs[date(2026, 1, 22)] = 260.0  # two days > 200 (orange) that no lead saw
    ws = wc.simulate("X", _days(29), fc, obs)
    # the second warning comes from the ongoing-episode rule (today's observed AQI in front of the window), a day late
    assert [(w.level, w.start.day, w.end.day, w.issued_at) for w in ws] == [
        ("yellow", 6, 6, day_start_utc(date(2026, 1, 4))),
        ("yellow", 21, 22, day_start_utc(date(2026, 1, 22))),
    ]
    eps = wc.observed_episodes("X", list(obs), list(obs.values()))
    assert [(e.start.day, e.level) for e in eps] == [(6, "yellow"), (21, "orange")]
    rows = {r["category"]: r for r in wc.verify(eps, ws)}
    ge = rows["≥ yellow"]
    assert (ge["hits"], ge["lead_h_min"], ge["lead_h_median"], ge["hits_lead_ge_24h"]) == (2, -24.0, 12.0, 1)
    assert (rows["yellow"]["hits"], rows["yellow"]["false_alarms"]) == (1, 1)  # the late yellow is not orange
    assert (rows["orange"]["episodes"], rows["orange"]["misses"]) == (1, 1)
    # a NaN forecast breaks a run instead of counting as clean or polluted
    nan = {k: (np.nan if k[0] == date(2026, 1, 6) else v) for k, v in fc.items()}
    assert wc.simulate("X", _days(5), nan, {d: 80.0 for d in _days(5)}) == []


def _warning(store: Store, area: str, level: str, start: date, end: date, state: str, events: list[tuple]) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with store.begin() as conn:
        wid = conn.execute(
            warning.insert().values(
                area_code=area,
                rule_set="2024",
                level=level,
                start_date=start,
                end_date=end,
                state=state,
                created_at=events[0][0] if events else now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        for at, to_state, lv in events:
            conn.execute(warning_event.insert().values(warning_id=wid, at=at, by="duty", to_state=to_state, level=lv))


def _daily(store: Store, area: str, values: dict[date, int]) -> None:
    with store.begin() as conn:
        conn.execute(
            aqi_daily.insert(),
            [
                {
                    "target_kind": "county",
                    "target_code": area,
                    "ts": int(day_start_utc(d).timestamp()),
                    "standard": "2012",
                    "aqi": v,
                    "status": "complete",
                    "inputs_hash": "t",
                }
                for d, v in values.items()
            ],
        )


def test_local_verification_of_the_installations_warnings(demo_store: Store) -> None:
    days = {D0 + timedelta(days=k): 90 for k in range(31)}
    days.update({date(2026, 1, 10): 230, date(2026, 1, 11): 240, date(2026, 1, 20): 210})
    _daily(demo_store, "652323", days)
    _daily(demo_store, "652301", {d: 80 for d in days})
    t = day_start_utc(date(2026, 1, 8))
    # issued yellow on Jan 8, changed to orange on Jan 9, lifted: one orange warning, 48 h ahead
    _warning(
        demo_store,
        "652323",
        "yellow",
        date(2026, 1, 10),
        date(2026, 1, 11),
        "lifted",
        [
            (t, "proposed", "yellow"),
            (t + timedelta(hours=2), "issued", "yellow"),
            (t + timedelta(days=1), "changed", "orange"),
            (t + timedelta(days=3), "lifted", "yellow"),
        ],
    )
    # a proposal the duty officer rejected (Jan 20 was then missed), and a false alarm issued for 652301
    _warning(
        demo_store,
        "652323",
        "yellow",
        date(2026, 1, 20),
        date(2026, 1, 20),
        "rejected",
        [(t + timedelta(days=10), "proposed", "yellow"), (t + timedelta(days=10, hours=1), "rejected", None)],
    )
    _warning(
        demo_store,
        "652301",
        "yellow",
        date(2026, 1, 25),
        date(2026, 1, 26),
        "issued",
        [(t + timedelta(days=15), "issued", "yellow")],
    )
    rows, eps, ws = wc.verify_local(demo_store, date(2026, 1, 1), date(2026, 1, 31))
    assert [(e.area_code, e.start.day, e.level) for e in eps] == [("652323", 10, "orange"), ("652323", 20, "yellow")]
    assert [(w.area_code, w.level) for w in ws] == [("652323", "orange"), ("652301", "yellow")]
    r = {x["category"]: x for x in rows}
    assert (r["≥ yellow"]["hits"], r["≥ yellow"]["misses"], r["≥ yellow"]["false_alarms"]) == (1, 1, 1)
    assert r["≥ yellow"]["lead_h_median"] == pytest.approx(46.0)  # issued Jan 8 02:00 Beijing … Jan 10 00:00
    assert r["orange"]["lead_h_median"] == pytest.approx(24.0)  # raised to orange on Jan 9 00:00 Beijing
    rows_p, _, ws_p = wc.verify_local(demo_store, date(2026, 1, 1), date(2026, 1, 31), source="proposed")
    assert len(ws_p) == 3
    assert {x["category"]: x for x in rows_p}["≥ yellow"]["hits"] == 2  # the rejected proposal caught Jan 20

    url = demo_store.engine.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(
        app,
        [
            "forecast",
            "warnings-check",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
            "--episodes",
            "--database-url",
            url,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "2 observed episodes, 2 warnings" in res.output
    assert "episode 652323 2026-01-10..2026-01-11 orange" in res.output
    # the figures are kept for the console, one row per category
    from bogda.forecast import service as sv

    kept = sv.check_scores(demo_store)
    assert kept["horizon"].to_list() == ["orange", "red", "yellow", "≥ yellow"]
    ge = kept.filter(kept["horizon"] == "≥ yellow").row(0, named=True)
    assert (ge["item"], ge["method"], ge["weather_mode"], ge["period"]) == (
        "warning",
        "issued",
        "operational",
        "2026-01-01..2026-01-31",
    )
    assert (ge["n"], ge["POD"], ge["FAR"], ge["lead_h_median"]) == (2, 0.5, 0.5, 46.0)
    assert ge["TS"] is None  # not a warning figure: no column value, not 0


def test_sand_and_dust_days_leave_the_observed_episodes(demo_store: Store) -> None:
    """Emergency plans exclude sand and dust (forecast.md §3.6, §3.8): a dust day is no episode day to warn for."""
    from bogda.monitoring import dust as md
    from bogda.store.schema import dust_day

    days = {D0 + timedelta(days=k): 90 for k in range(31)}
    days.update({date(2026, 1, 10): 230, date(2026, 1, 11): 240, date(2026, 1, 15): 260, date(2026, 1, 20): 210})
    _daily(demo_store, "652323", days)
    # the national list names the city (prefecture) on Jan 15; the PM10 rule marked 652323 a candidate on Jan 20
    md.record_official(demo_store, "652300", [date(2026, 1, 15)], source="CNEMC 2026-02 沙尘扣除")
    with demo_store.begin() as conn:
        conn.execute(
            dust_day.insert().values(place_code="652323", day=date(2026, 1, 20), status="candidate", source="rule")
        )
    start, end = date(2026, 1, 1), date(2026, 1, 31)

    def starts(dust: str, notes: list[str] | None = None) -> list[int]:
        _, eps, _ = wc.verify_local(demo_store, start, end, dust=dust, notes=notes)
        return [e.start.day for e in eps if e.area_code == "652323"]

    notes: list[str] = []
    assert starts("none") == [10, 15, 20]
    assert starts("official", notes) == [10, 20]  # the city's official day holds for its counties
    assert starts("all") == [10]
    assert len(notes) == 1 and "652323 2026-01-15" in notes[0]
    with pytest.raises(ValueError, match="dust must be one of"):
        wc.verify_local(demo_store, start, end, dust="some")
    url = demo_store.engine.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(
        app,
        ["forecast", "warnings-check", "--database-url", url, "--from", "2026-01-01", "--to", "2026-01-31",
         "--dust", "all", "--no-store"],
    )  # fmt: skip
    assert r.exit_code == 0 and "sand/dust days (all) left out" in r.output
    r = CliRunner().invoke(app, ["forecast", "warnings-check", "--database-url", url, "--dust", "storm"])
    assert r.exit_code == 2 and "--dust" in r.output


def test_command_usage_errors(demo_store: Store) -> None:
    url = demo_store.engine.url.render_as_string(hide_password=False)
    base = ["forecast", "warnings-check", "--database-url", url]
    r = CliRunner().invoke(app, [*base, "--from", "2026-01-01"])
    assert r.exit_code == 2 and "--from" in r.output
    r = CliRunner().invoke(app, [*base, "--from", "2026-02-01", "--to", "2026-01-01"])
    assert r.exit_code == 2 and "before" in r.output
    r = CliRunner().invoke(app, [*base, "--from", "2026-01-01", "--to", "2026-01-31", "--source", "rumour"])
    assert r.exit_code == 2 and "issued or proposed" in r.output
    r = CliRunner().invoke(app, [*base, "--protocol", "beijing", "--modes", "nwp"])
    assert r.exit_code == 2 and "nwp" in r.output
    r = CliRunner().invoke(app, [*base, "--rule", "2030"])
    assert r.exit_code == 2 and "unknown warning rule" in r.output and "2017" in r.output


def test_lead_time_counts_from_when_the_episode_days_came_under_the_warning() -> None:
    obs = {d: 80.0 for d in _days(20)}
    for day, v in {5: 220, 6: 220, 7: 160, 8: 160, 9: 120, 10: 160, 11: 160, 12: 220, 13: 220}.items():
        obs[date(2026, 1, day)] = float(v)
    ws = wc.simulate("X", _days(19), _perfect(obs), obs)
    # one warning kept in force through the dip of Jan 9 (yellow proposals keep it), lifted after two clean runs
    assert [(w.level, w.start.day, w.end.day, w.issued_at) for w in ws] == [
        ("orange", 5, 13, day_start_utc(date(2026, 1, 3)))
    ]
    eps = wc.observed_episodes("X", list(obs), list(obs.values()))
    assert [(e.start.day, e.end.day, e.level) for e in eps] == [(5, 8, "orange"), (10, 13, "orange")]
    ge = wc.verify(eps, ws)[0]
    # Jan 10 joined the warning on the evening of Jan 7: 48 h ahead, not the 168 h since the first issue
    assert (ge["lead_h_median"], ge["lead_h_min"], ge["hits"], ge["warnings"]) == (48.0, 48.0, 2, 1)
    assert (ge["episode_days"], ge["warned_days"], ge["day_pod"]) == (8, 9, 1.0)
    assert ge["day_far"] == pytest.approx(1 / 9)  # Jan 9, warned between the two episodes


@pytest.mark.slow
@pytest.mark.release  # make test-release: about 9 min of one core (D+1..D+3, 12 monthly refits)
@pytest.mark.timeout(1800)
def test_beijing_warnings_from_the_dongsi_forecasts() -> None:
    """Warnings simulated from the Dongsi protocol's daily forecasts without weather (docs/forecast.md §7.2)."""
    data = require_shared("beijing", "PRSA_Data_Dongsi_20130301-20170228.csv.gz").parents[1]
    notes: list[str] = []
    ((rows, eps, ws),) = wc.beijing(data, modes=("none",), notes=notes).values()
    # the observed side is fixed by the data: 27 episodes that warrant ≥ yellow under the 2024 rule, 71 days
    assert len(eps) == 27 and {e.level for e in eps} == {"yellow", "orange", "red"}
    # two sand/dust days by the PM10 rule, neither above AQI 150: the episodes are those without the rule
    assert notes == ["sand/dust days left out of the observed episodes: 2016-03-05, 2016-04-10; above AQI 150: none"]
    ge = rows[0]
    assert ge["category"] == "≥ yellow" and ge["episode_days"] == 71
    # measured 2026-11-30: POD 1.0, FAR 0.20 (5 of 25), 12 hits warned ≥ 24 h ahead, day POD 0.97, day FAR 0.47
    assert ge["pod"] >= 0.9 and ge["far"] <= 0.3
    assert ge["hits_lead_ge_24h"] >= 10 and ge["day_pod"] >= 0.9
    assert all(w.issued_at.hour == 16 for w in ws)  # every run issues after hour 23 Beijing (16:00 UTC)
