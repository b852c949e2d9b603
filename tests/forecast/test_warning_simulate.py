"""The per-episode warning check's simulated issuance mirrors the service (forecast.md §3.6, §3.9, §5): the 36 h merge
gap of ``service.apply_proposal``, sand/dust days left out of the sequence, modes calendar and rolling, the
confirmation-run count; and the ``--merge-gap-hours`` option of ``bogda forecast warnings-check``."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import warning_check as wc
from bogda.forecast import warnings as wn
from bogda.store import Store
from bogda.timeutil import day_start_utc

JAN = [date(2026, 1, k) for k in range(1, 32)]


def _jan(day: int) -> date:
    return date(2026, 1, day)


def _obs(high: dict[int, float]) -> dict[date, float]:
    """Observed daily AQI of January 2026: 80 but on the given days."""
    return {d: high.get(d.day, 80.0) for d in JAN}


def _fc(high: dict[tuple[int, int], float]) -> dict[tuple[date, int], float]:
    """Forecast daily AQI {(target day, lead)}: 80 but where given — a forecast that sees only what it is told."""
    return {(d, k): high.get((d.day, k), 80.0) for d in JAN for k in (1, 2, 3)}


def _perfect(obs: dict[date, float]) -> dict[tuple[date, int], float]:
    return {(d, k): v for d, v in obs.items() for k in (1, 2, 3)}


def _row(ws: list[wc.IssuedWarning]) -> list[tuple[str, int, int, Any]]:
    return [(w.level, w.start.day, w.end.day, w.issued_at) for w in ws]


def _evening(day: int) -> Any:
    """The issue time of the run of the evening of Jan ``day`` (after hour 23 Beijing)."""
    return day_start_utc(_jan(day + 1))


# Two orange episodes, Jan 10–11 and Jan 13–14, one clean day (Jan 12) between them. The forecast sees each day only
# at D+1, so no run sees both episodes: the run of Jan 12 proposes Jan 13 while the warning in force ends Jan 11
# (24 h apart).
ONE_DAY_APART_OBS = _obs({10: 220, 11: 220, 13: 220, 14: 220})
ONE_DAY_APART_FC = _fc({(10, 1): 220, (11, 1): 220, (13, 1): 220, (14, 1): 220})


def test_episodes_one_clean_day_apart_merge_within_36_h_and_not_with_no_gap() -> None:
    ws = wc.simulate("X", JAN[:20], ONE_DAY_APART_FC, ONE_DAY_APART_OBS)
    assert _row(ws) == [("orange", 10, 14, _evening(9))]
    (w,) = ws
    # the clean day between came under the warning with the run that merged the second episode (the service extends
    # the record's end over it)
    cover = dict(w.cover)
    assert cover[_jan(12)] == cover[_jan(13)] == _evening(12) and cover[_jan(11)] == _evening(10)
    assert wc.simulate("X", JAN[:20], ONE_DAY_APART_FC, ONE_DAY_APART_OBS, merge_gap_hours=36.0) == ws

    apart = wc.simulate("X", JAN[:20], ONE_DAY_APART_FC, ONE_DAY_APART_OBS, merge_gap_hours=0.0)
    # no gap allowed: the proposal of Jan 12 (yellow, Jan 13 alone) opens a warning of its own, raised to orange on
    # Jan 13; the first keeps its days
    assert _row(apart) == [("orange", 10, 11, _evening(9)), ("orange", 13, 14, _evening(12))]
    assert apart[1].raised_at == _evening(13)
    eps = wc.observed_episodes("X", list(ONE_DAY_APART_OBS), list(ONE_DAY_APART_OBS.values()))
    assert [(e.start.day, e.end.day, e.level) for e in eps] == [(10, 11, "orange"), (13, 14, "orange")]
    merged, split = wc.verify(eps, ws)[0], wc.verify(eps, apart)[0]
    assert (merged["hits"], merged["warnings"], merged["warned_days"], merged["day_far"]) == (2, 1, 5, 0.2)
    assert (split["hits"], split["warnings"], split["warned_days"], split["day_far"]) == (2, 2, 4, 0.0)


def test_episodes_two_clean_days_apart_are_two_warnings() -> None:
    obs = _obs({10: 220, 11: 220, 14: 220, 15: 220})
    # the second episode is seen from the run of Jan 12 (D+2, D+3) while the first warning still waits for its
    # second lower run: 48 h after its end, a separate episode
    fc = _fc({(10, 1): 220, (11, 1): 220, (14, 1): 220, (14, 2): 220, (15, 1): 220, (15, 2): 220, (15, 3): 220})
    ws = wc.simulate("X", JAN[:20], fc, obs)
    assert _row(ws) == [("orange", 10, 11, _evening(9)), ("orange", 14, 15, _evening(12))]
    # the second is an orange warning from its first run (not a raise of the first warning)
    assert ws[1].raised_at == _evening(12)
    eps = wc.observed_episodes("X", list(obs), list(obs.values()))
    ge = wc.verify(eps, ws)[0]
    assert (ge["hits"], ge["warnings"], ge["false_alarms"], ge["warned_days"], ge["day_far"]) == (2, 2, 0, 4, 0.0)
    # Jan 10 warned at the end of Jan 9 (0 h ahead), Jan 14 on the evening of Jan 12 (24 h)
    assert (ge["lead_h_min"], ge["lead_h_median"]) == (0.0, 12.0)

    # a gap of 48 h merges them, the two clean days covered from the run of Jan 12
    one = wc.simulate("X", JAN[:20], fc, obs, merge_gap_hours=48.0)
    assert _row(one) == [("orange", 10, 15, _evening(9))]
    assert dict(one[0].cover)[_jan(12)] == _evening(12)


def test_after_a_lift_a_close_episode_is_a_new_warning() -> None:
    # the runs of Jan 9 and Jan 10 no longer see the orange days forecast on Jan 8: the warning is lifted (in the
    # service: rejected, or lifted by a person) and so not in force when Jan 11 turns out polluted after all, 0 h
    # after its end — a new warning, not a merge
    obs = _obs({11: 220})
    fc = _fc({(10, 2): 220, (11, 3): 220, (12, 1): 220})
    ws = wc.simulate("X", JAN[:20], fc, obs)
    assert _row(ws) == [("orange", 10, 10, _evening(8)), ("orange", 11, 12, _evening(11))]


def test_confirm_is_the_number_of_agreeing_runs_for_a_lift() -> None:
    obs = _obs({10: 220})
    fc = _fc({(10, 2): 220, (11, 3): 220, (11, 1): 220})
    # one run without a level (Jan 9) is not yet a lift: the orange warning stays
    assert _row(wc.simulate("X", JAN[:20], fc, obs)) == [("orange", 10, 11, _evening(8))]
    # with confirm=1 it is: the run of Jan 10 then opens a second warning
    assert _row(wc.simulate("X", JAN[:20], fc, obs, confirm=1)) == [
        ("orange", 10, 10, _evening(8)),
        ("orange", 10, 11, _evening(10)),
    ]


def test_a_dust_day_is_left_out_of_the_sequence_not_a_cancelled_warning() -> None:
    obs = _obs({10: 220, 11: 220, 12: 220})
    fc = _perfect(obs)
    assert _row(wc.simulate("X", JAN[:20], fc, obs)) == [("orange", 10, 12, _evening(7))]
    ws = wc.simulate("X", JAN[:20], fc, obs, dust_days={_jan(11)})
    # the dust day breaks the 48 h above 200: yellow, as propose says on the same days — and the warning stays, its
    # days running through the dust day
    assert _row(ws) == [("yellow", 10, 12, _evening(7))]
    direct = wn.propose("X", [_jan(10), _jan(11), _jan(12)], [220.0, 220.0, 220.0], dust={_jan(11)})
    assert (direct.level, direct.start_date, direct.end_date, direct.dust_days) == (
        "yellow",
        _jan(10),
        _jan(12),
        (_jan(11),),
    )
    # dust days outside every window change nothing
    assert wc.simulate("X", JAN[:20], fc, obs, dust_days=[date(2025, 12, 1)]) == wc.simulate("X", JAN[:20], fc, obs)
    # an episode that holds only with its dust days gets an advisory, never a warning (cause dust)
    assert wc.simulate("X", JAN[:20], fc, obs, dust_days={_jan(10), _jan(11), _jan(12)}) == []


def _rolling_day9() -> wn.RollingAqi:
    """Rolling 24-h AQI as the run of Jan 9 computes it from Jan 9 00:00 Beijing: the 24 windows starting on Jan 9
    at 350, the 48 starting on Jan 10–11 at 250, then clean."""
    return wn.RollingAqi(day_start_utc(_jan(9)), tuple([350.0] * 24 + [250.0] * 48 + [80.0] * 24))


def test_rolling_mode_counts_the_24_h_windows_of_the_run() -> None:
    fc = _fc({(10, 1): 160, (11, 2): 160})
    calendar = wc.simulate("X", [_jan(9)], fc, _obs({}))
    assert [(w.level, w.start.day) for w in calendar] == [("yellow", 10)]  # 48 h above 150 on the daily means
    rolling = wc.simulate("X", [_jan(9)], fc, _obs({}), mode="rolling", rolling={_jan(9): _rolling_day9()})
    # two windows above 200 from one start hour: orange; today's windows (350) are not counted, no episode being on
    assert [(w.level, w.start.day) for w in rolling] == [("orange", 10)]
    # during an ongoing episode (today's AQI > 150) today's windows count: > 200 for 72 h with > 300 for 24 h, red
    on = wc.simulate("X", [_jan(9)], fc, _obs({9: 180}), mode="rolling", rolling={_jan(9): _rolling_day9()})
    assert [(w.level, w.start.day) for w in on] == [("red", 9)]


def test_rolling_mode_needs_the_rolling_aqi() -> None:
    fc, obs = _perfect(_obs({10: 220})), _obs({10: 220})
    with pytest.raises(ValueError, match="mode 'rolling' needs the rolling 24-h AQI"):
        wc.simulate("X", JAN[:20], fc, obs, mode="rolling")
    with pytest.raises(ValueError, match=r"no rolling 24-h AQI for 19 issue day\(s\), first 2026-01-02"):
        wc.simulate("X", JAN[:20], fc, obs, mode="rolling", rolling={_jan(1): _rolling_day9()})
    with pytest.raises(ValueError, match="given in mode 'calendar'"):
        wc.simulate("X", JAN[:20], fc, obs, rolling={d: _rolling_day9() for d in JAN[:20]})
    with pytest.raises(ValueError, match="mode must be one of"):
        wc.simulate("X", JAN[:20], fc, obs, mode="hourly")
    with pytest.raises(ValueError, match="merge_gap_hours must be ≥ 0"):
        wc.simulate("X", JAN[:20], fc, obs, merge_gap_hours=-1.0)
    with pytest.raises(ValueError, match="confirm must be ≥ 1"):
        wc.simulate("X", JAN[:20], fc, obs, confirm=0)


def test_command_merge_gap_option(demo_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    url = demo_store.engine.url.render_as_string(hide_password=False)
    base = ["forecast", "warnings-check", "--database-url", url, "--no-store"]
    r = CliRunner().invoke(app, [*base, "--from", "2026-01-01", "--to", "2026-01-31", "--merge-gap-hours", "12"])
    assert r.exit_code == 2 and "only with --protocol beijing" in r.output
    r = CliRunner().invoke(app, [*base, "--protocol", "beijing", "--merge-gap-hours", "-1"])
    assert r.exit_code == 2 and "must be ≥ 0" in r.output

    seen: list[dict[str, Any]] = []

    def fake_beijing(data: Any, **kw: Any) -> dict[str, Any]:
        seen.append(kw)
        return {"none": (wc.verify([], []), [], [])}

    monkeypatch.setattr(wc, "beijing", fake_beijing)
    r = CliRunner().invoke(app, [*base, "--protocol", "beijing"])
    assert r.exit_code == 0, r.output
    assert seen[-1]["merge_gap_hours"] == wn.MERGE_GAP_HOURS and "merge gap 36 h" in r.output
    r = CliRunner().invoke(app, [*base, "--protocol", "beijing", "--merge-gap-hours", "0"])
    assert r.exit_code == 0, r.output
    assert seen[-1]["merge_gap_hours"] == 0.0 and "merge gap 0 h" in r.output


def test_checks_of_one_period_under_two_settings_stay_apart(sqlite_store) -> None:
    """The console's check table keeps a check under another rule or merge gap beside the default one, rather than
    showing the first stored figure for both (``check_scores`` keys on the setting)."""
    from bogda.forecast import service as sv
    from bogda.web.ui.forecast import check_cell

    row = {"category": "≥ yellow", "method": "simulated", "weather": "none", "n": 27, "pod": 1.0, "far": 0.2}
    period = "2016-03-01..2017-02-28"
    sv.store_checks(sqlite_store, [row], item="warning", protocol="beijing", period=period, config="rule 2024")
    other = row | {"far": 0.19}
    sv.store_checks(
        sqlite_store, [other], item="warning", protocol="beijing", period=period, config="rule 2024, merge gap 0 h"
    )
    kept = sv.check_scores(sqlite_store).sort("setting")
    assert kept["setting"].to_list() == ["rule 2024", "rule 2024, merge gap 0 h"]
    assert kept["FAR"].to_list() == [0.2, 0.19]
    assert check_cell("setting", "rule 2024, merge gap 0 h", "warning", "zh") == "2024 规则，合并间隔 0 小时"
