"""QA rules, completeness and offline detection (monitoring.md §3.1, §3.2, §7.5, §7.6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from bogda.monitoring.ingest import LONG_SCHEMA, POLLUTANT_UNITS, POLLUTANTS, ReadResult
from bogda.monitoring.qa import (
    FLAGS,
    QAConfig,
    apply_qa,
    completeness,
    flag_runs,
    qa_summary,
    silences,
    station_completeness,
    station_status,
    with_config,
)

WINDOW_2019 = (datetime(2018, 12, 31, 15, tzinfo=UTC), datetime(2019, 11, 14, 15, tzinfo=UTC))
"""Interval starts of rows 2019-01-01 H 0 … 2019-11-14 H 23 (7 632 hours), monitoring.md §7."""
T0 = datetime(2019, 1, 1, 4, tzinfo=UTC)  # 12:00 Beijing
H = timedelta(hours=1)


def frame(rows: list[tuple], *, resolution: str = "hour") -> pl.DataFrame:
    """Rows (site, hour offset from T0, parameter, value[, source_flag]) → long frame."""
    out = []
    for row in rows:
        site, k, param, value, *flag = row
        unit = POLLUTANT_UNITS.get(param, "1")
        out.append((site, T0 + k * H, param, float(value), resolution, unit, flag[0] if flag else None))
    return pl.DataFrame(out, schema=list(LONG_SCHEMA.items()), orient="row")


def series(values: list[float | None], param: str = "a34004", site: str = "S1") -> list[tuple]:
    return [(site, k, param, v) for k, v in enumerate(values) if v is not None]


def result(qa: pl.DataFrame, param: str = "a34004", site: str = "S1") -> list[tuple[str, str | None]]:
    sel = qa.filter((pl.col("parameter") == param) & (pl.col("site_code") == site)).sort("ts")
    return list(zip(sel["flag"], sel["qa_reason"], strict=True))


# ------------------------------------------------------------------------------------------ value rules


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("a34004", -1, ("invalid", "negative")),
        ("a34004", 0, ("valid", None)),
        ("a21005", -0.1, ("invalid", "negative")),
        ("a34004", 5001, ("invalid", "out_of_range")),
        ("a34002", 10001, ("invalid", "out_of_range")),
        ("a21005", 150.5, ("invalid", "out_of_range")),
        ("a21005", 150, ("suspect", "high_review")),
        ("a34004", 1001, ("suspect", "high_review")),
        ("a34004", 998, ("valid", None)),
        ("a34002", 2999, ("valid", None)),  # below the PM10 review level and no instrument ceiling
        ("a34002", 3001, ("suspect", "high_review")),
        ("a05024", 601, ("suspect", "high_review")),
        ("a21004", 501, ("suspect", "high_review")),
        ("a21026", 1001, ("suspect", "high_review")),
        ("a34002", 999, ("suspect", "at_ceiling")),
        ("a34002", 1000, ("suspect", "at_ceiling")),
        ("a34004", 5000, ("suspect", "high_review,at_ceiling")),
        ("a21005", 10, ("valid", None)),  # CO has no ceiling values
        ("aqi_pub", -5, ("valid", None)),  # published AQI is not QA'd
    ],
)
def test_value_rules(param: str, value: float, expected: tuple[str, str | None]) -> None:
    qa = apply_qa(frame([("S1", 0, param, value)]))
    assert result(qa, param) == [expected]


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("N", ("valid", None)),
        ("3", ("valid", None)),
        ("M", ("maintenance", "source_flag_M")),
        ("C", ("maintenance", "source_flag_C")),
        ("0", ("maintenance", "source_flag_0")),
        ("T", ("suspect", "source_flag_T,at_ceiling")),
        ("D", ("invalid", "source_flag_D")),
        ("F", ("invalid", "source_flag_F")),
        ("2", ("invalid", "source_flag_2")),
    ],
)
def test_source_flags(flag: str, expected: tuple[str, str | None]) -> None:
    qa = apply_qa(frame([("S1", 0, "a34004", 50, flag), ("S1", 0, "aqi_pub", 70, flag)]))
    assert result(qa) == [expected]
    assert result(qa, "aqi_pub") == [expected]


def test_maintenance_wins_over_invalid() -> None:
    qa = apply_qa(frame([("S1", 0, "a34004", -3, "M")]))
    assert result(qa) == [("maintenance", "source_flag_M,negative")]


# ------------------------------------------------------------------------------------ time-series rules


@pytest.mark.parametrize(
    ("values", "flags"),
    [
        ([50] * 8, ["suspect"] * 8),  # flat: 8 h above the floor
        ([50] * 7, ["valid"] * 7),  # 7 h is not yet flat
        ([10] * 8, ["valid"] * 8),  # at the PM2.5 floor: clean air repeats
        ([1000] * 8, ["suspect"] * 8),  # ceiling: at_ceiling only, never flat
        ([50] * 4 + [None] + [50] * 4, ["valid"] * 8),  # a missing hour breaks the run
        ([50] * 23, ["suspect"] * 23),  # still flat
        ([50] * 24, ["invalid"] * 24),  # stuck
        ([40] + [50] * 8 + [40], ["valid"] + ["suspect"] * 8 + ["valid"]),
    ],
)
def test_flat_and_stuck(values: list[float | None], flags: list[str]) -> None:
    qa = apply_qa(frame(series(values)))
    got = result(qa)
    assert [f for f, _ in got] == flags
    reasons = {r for _, r in got}
    if "invalid" in flags:
        assert reasons == {"flat,stuck"}
    elif flags.count("suspect") == len(flags) and values[0] == 1000:
        assert reasons == {"at_ceiling"}


def test_flat_floor_is_per_parameter() -> None:
    qa = apply_qa(frame(series([1.1] * 8, "a21005") + series([0.9] * 8, "a21005", "S2")))
    assert {f for f, _ in result(qa, "a21005")} == {"suspect"}
    assert {f for f, _ in result(qa, "a21005", "S2")} == {"valid"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([20, 200, 20], [("valid", None), ("suspect", "spike"), ("valid", None)]),
        ([20, 110, 20], [("valid", None)] * 3),  # rise 90 ≤ 100
        ([70, 200, 70], [("valid", None)] * 3),  # 200 < 3 × 70
        ([20, 200], [("valid", None)] * 2),  # provisional: hour t+1 not yet here
        ([20, 200, None, 20], [("valid", None)] * 3),
    ],
)
def test_spike(values: list[float | None], expected: list[tuple[str, str | None]]) -> None:
    assert result(apply_qa(frame(series(values)))) == expected


def test_spike_threshold_is_per_parameter() -> None:
    qa = apply_qa(frame(series([0.5, 4.0, 0.5], "a21005")))
    assert result(qa, "a21005")[1] == ("suspect", "spike")


@pytest.mark.parametrize(
    ("pm25", "pm10", "hit"),
    [(60, 40, True), (45, 40, False), (120, 100, True), (110, 100, False), (30, 25, False), (300, 250, True)],
)
def test_pm_ratio(pm25: float, pm10: float, hit: bool) -> None:
    qa = apply_qa(frame([("S1", 0, "a34004", pm25), ("S1", 0, "a34002", pm10)]))
    want = ("suspect", "pm_ratio") if hit else ("valid", None)
    assert result(qa, "a34004") == [want]
    assert result(qa, "a34002") == [want]


def record(k: int, values: tuple[float, ...], site: str = "S1") -> list[tuple]:
    return [(site, k, p, v) for p, v in zip(POLLUTANTS, values, strict=True)]


def test_stale_record() -> None:
    base = (30.0, 60.0, 8.0, 25.0, 50.0, 0.9)
    rows = record(0, base) + record(1, base) + record(2, base) + record(3, (31.0, *base[1:]))
    qa = apply_qa(frame(rows))
    for p in POLLUTANTS:
        assert result(qa, p) == [
            ("valid", None),
            ("suspect", "stale_record"),
            ("invalid", "stale_record"),
            ("valid", None),
        ]


@pytest.mark.parametrize(
    "second",
    [
        (30.0, 60.0, 8.0, 25.0, 50.0, 1.0),  # one pollutant differs
        None,  # a missing pollutant
    ],
)
def test_stale_record_negative(second: tuple[float, ...] | None) -> None:
    base = (30.0, 60.0, 8.0, 25.0, 50.0, 0.9)
    rows = record(0, base)
    rows += record(1, second) if second else [r for r in record(1, base) if r[2] != "a21005"]
    qa = apply_qa(frame(rows))
    assert qa.filter(pl.col("qa_reason").is_not_null()).height == 0


def test_time_rules_skip_daily_values() -> None:
    qa = apply_qa(frame(series([50] * 30), resolution="day"))
    assert set(qa["flag"]) == {"valid"}


def test_site_overrides_and_config() -> None:
    rows = series([50] * 8) + series([50] * 8, site="S2")
    qa = apply_qa(frame(rows), site_overrides={"S2": with_config(flat_hours=9, stuck_hours=30)})
    assert {f for f, _ in result(qa)} == {"suspect"}
    assert {f for f, _ in result(qa, site="S2")} == {"valid"}
    with pytest.raises(ValueError):
        QAConfig(suspect_policy="drop")
    with pytest.raises(ValueError):
        QAConfig(flat_hours=30, stuck_hours=24)


def test_flags_never_delete() -> None:
    rows = series([-1, 50, 500, 50, 6000])
    qa = apply_qa(frame([*rows, ("S1", 0, "aqi_pub", 77)]))
    assert qa.height == 6
    assert set(qa["flag"]) <= set(FLAGS)


def test_flag_runs_split_on_value() -> None:
    qa = apply_qa(frame(series([50] * 8 + [60] * 8)))
    runs = flag_runs(qa, "flat")
    assert runs.select("hours", "value_min").rows() == [(8, 50.0), (8, 60.0)]
    assert runs["start"].to_list() == [T0, T0 + 8 * H]


# -------------------------------------------------------------------------------------- completeness


def test_completeness_reasons() -> None:
    """Beijing day 2019-01-02 = UTC 2019-01-01 16:00 … 2019-01-02 16:00."""
    day_start = datetime(2019, 1, 1, 16, tzinfo=UTC)
    k0 = int((day_start - T0) / H)
    rows = []
    for k in range(24):
        if k == 5:
            continue  # feed gap: no station has PM2.5 at 05
        rows.append(("A", k0 + k, "a34004", 40.0 + k % 3, "M" if k == 7 else None))
        if k < 12:
            rows.append(("B", k0 + k, "a34004", -1.0 if k == 0 else 30.0 + k % 2))
    maint = pl.DataFrame(
        {"site_code": ["B"], "start": [day_start + 20 * H], "end": [day_start + 22 * H]},
        schema={"site_code": pl.String, "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")},
    )
    qa = apply_qa(frame(rows))
    comp = completeness(
        qa, sites=["A", "B", "C"], start=day_start, end=day_start + 24 * H, maintenance=maint,
        config=with_config(completeness_parameters=("a34004",)),
    )  # fmt: skip
    got = {r["site_code"]: r for r in comp.iter_rows(named=True)}
    assert {s: got[s]["day"] for s in got} == {"A": date(2019, 1, 2), "B": date(2019, 1, 2), "C": date(2019, 1, 2)}
    a, b, c = got["A"], got["B"], got["C"]
    assert (a["expected"], a["received"], a["valid"], a["maintenance"], a["feed_gap"], a["no_data"]) == (
        24, 23, 22, 1, 1, 0,
    )  # fmt: skip
    assert a["rate"] == 91.7 and a["day_status"] == "reporting"
    assert (b["received"], b["valid"], b["invalid"], b["maintenance"], b["feed_gap"], b["no_data"]) == (
        11, 10, 1, 2, 1, 10,
    )  # fmt: skip
    assert b["rate"] == 41.7
    assert (c["valid"], c["no_data"], c["feed_gap"], c["rate"], c["day_status"]) == (0, 23, 1, 0.0, "never_reported")
    for r in got.values():
        assert r["valid"] + r["invalid"] + r["maintenance"] + r["feed_gap"] + r["no_data"] == r["expected"]


def test_completeness_suspect_policy_and_offline_day() -> None:
    rows = series([50] * 8, site="A") + series([20.0, 21.0], site="B")  # A flat → suspect; B only 2 h
    rows += [("B", 30, "a34004", 20.0)]  # next Beijing day: A silent → offline
    qa = apply_qa(frame(rows))
    cfg = with_config(completeness_parameters=("a34004",))
    start, end = T0 - 12 * H, T0 + 36 * H  # Beijing 2019-01-01 00:00 … 2019-01-03 00:00
    inc = completeness(qa, start=start, end=end, config=cfg)
    exc = completeness(qa, start=start, end=end, config=with_config(cfg, suspect_policy="exclude"))
    a_inc = inc.filter(pl.col("site_code") == "A").sort("day")
    a_exc = exc.filter(pl.col("site_code") == "A").sort("day")
    assert a_inc["valid"].to_list() == [8, 0] and a_exc["valid"].to_list() == [0, 0]
    assert a_exc["invalid"].to_list() == [8, 0]
    assert a_inc["day_status"].to_list() == ["reporting", "offline"]
    st = station_completeness(inc)
    assert st.filter(pl.col("site_code") == "A")["rate"].to_list() == [33.3, 0.0]


def test_station_status() -> None:
    rows = series([10, 11, 12, 13], site="A") + series([10, 11], site="B")
    f = frame(rows)
    # A's last hour starts T0+3h and ends T0+4h
    st = station_status(f, now=T0 + 5 * H, sites=["A", "B", "C"], config=with_config(feed_down_hours=2))
    got = {r["site_code"]: (r["status"], r["silent_hours"]) for r in st.iter_rows(named=True)}
    assert got == {"A": ("online", 1.0), "B": ("online", 3.0), "C": ("never_reported", None)}  # 3 h is not > 3 h
    st = station_status(f, now=T0 + 5 * H + 30 * timedelta(minutes=1), sites=["A", "B", "C"])
    assert dict(st.select("site_code", "status").iter_rows())["B"] == "offline"  # 3.5 h > 3 h
    down = station_status(f, now=T0 + 7 * H, sites=["A", "B", "C"])
    assert dict(down.select("site_code", "status").iter_rows()) == {
        "A": "unknown", "B": "unknown", "C": "never_reported",
    }  # fmt: skip
    assert down["feed_down"].all()
    past = station_status(f, now=T0 + 2 * H, sites=["A"])  # values after `now` do not count
    assert past.row(0, named=True)["last_ts"] == T0 + H


# ------------------------------------------------------------------------------------- real data 2019


@pytest.fixture(scope="module")
def qa_2019(cnemc_2019: ReadResult) -> pl.DataFrame:
    return apply_qa(cnemc_2019.frame)


@pytest.mark.slow
def test_qa_2019_rule_counts(qa_2019: pl.DataFrame) -> None:
    """monitoring.md §7.6: QA defaults on the whole 2019 file."""
    summary = {(p, r): n for p, r, n in qa_summary(qa_2019).iter_rows()}
    count = lambda p, r: summary.get((p, r), 0)  # noqa: E731
    pm25, pm10, so2, no2, o3, co = POLLUTANTS
    assert sum(count(p, "negative") for p in POLLUTANTS) == 0
    assert sum(count(p, "out_of_range") for p in POLLUTANTS) == 0
    assert (count(pm25, "high_review"), count(pm10, "high_review")) == (164, 175)
    assert (count(pm25, "at_ceiling"), count(pm10, "at_ceiling")) == (4, 48)
    assert [count(p, "spike") for p in POLLUTANTS] == [16, 50, 24, 3, 2, 9]
    pm_hours = qa_2019.filter(pl.col("qa_reason").str.contains("pm_ratio")).select("site_code", "ts").n_unique()
    assert pm_hours == 944
    flat = flag_runs(qa_2019, "flat").filter(pl.col("hours") < 24)
    assert dict(flat.group_by("parameter").len().iter_rows()) == {pm25: 10, pm10: 21, so2: 19, no2: 4, o3: 7, co: 53}
    stuck = flag_runs(qa_2019, "stuck").sort("site_code", "start")
    assert stuck.select("site_code", "parameter", "hours", "value_min").rows() == [
        ("2692A", pm10, 27, 206.0),
        ("2696A", pm10, 24, 97.0),
        ("2707A", co, 28, 1.5),
        ("2707A", co, 24, 1.4),
    ]
    assert stuck["start"][0] == datetime(2019, 1, 27, 9, tzinfo=UTC)  # row 2019-01-27 H 18
    ceiling = flag_runs(qa_2019.filter(pl.col("site_code") == "2698A"), "at_ceiling", split_on_value=True)
    top = ceiling.sort("hours", descending=True).row(0, named=True)
    assert (top["parameter"], top["hours"], top["value_min"], top["start"].month) == (pm10, 23, 1000.0, 3)
    stale = qa_2019.filter(pl.col("qa_reason").str.contains("stale_record")).select("site_code", "ts").unique()
    assert stale.height == 29
    stale_invalid = qa_2019.filter(
        pl.col("qa_reason").str.contains("stale_record") & (pl.col("flag") == "invalid")
    ).select("site_code", "ts").unique()  # fmt: skip
    assert stale_invalid.height == 3  # 3 runs of ≥ 2 repeats, each of exactly 2


@pytest.mark.slow
def test_completeness_2019(qa_2019: pl.DataFrame, cnemc_2019: ReadResult) -> None:
    """monitoring.md §7.5: 1495A never reported (0 %); 2691A PM2.5 reasons; feed gaps; 2690A offline days."""
    comp = completeness(qa_2019, sites=cnemc_2019.sites, start=WINDOW_2019[0], end=WINDOW_2019[1], feed=cnemc_2019.feed)
    totals = comp.group_by("site_code", "parameter").agg(
        pl.col("expected", "valid", "invalid", "maintenance", "no_data", "feed_gap").sum()
    )
    pm = totals.filter((pl.col("site_code") == "2691A") & (pl.col("parameter") == "a34004")).row(0, named=True)
    assert (pm["expected"], pm["valid"], pm["invalid"], pm["no_data"], pm["feed_gap"]) == (7632, 7053, 3, 285, 291)
    gaps = dict(totals.group_by("parameter").agg(pl.col("feed_gap").unique()).iter_rows())
    assert gaps == {
        "a34004": [291],
        "a34002": [291],
        "a21026": [292],
        "a21004": [292],
        "a05024": [292],
        "a21005": [292],
    }
    days_2691 = comp.filter((pl.col("site_code") == "2691A") & (pl.col("parameter") == "a34004"))
    assert days_2691.filter(pl.col("valid") >= 20).height == 284

    stations = station_completeness(comp, by_day=False)
    urumqi_74 = stations.filter(pl.col("site_code") == "1495A").row(0, named=True)
    assert urumqi_74["rate"] == 0.0 and urumqi_74["never_reported"] is True
    assert set(comp.filter(pl.col("site_code") == "1495A")["day_status"]) == {"never_reported"}
    status = station_status(qa_2019, now=WINDOW_2019[1], sites=cnemc_2019.sites)
    assert dict(status.select("site_code", "status").iter_rows())["1495A"] == "never_reported"

    offline_2690 = comp.filter(
        (pl.col("site_code") == "2690A") & (pl.col("day_status") == "offline") & (pl.col("day") >= date(2019, 1, 1))
    )
    assert offline_2690.select("day").n_unique() == 10
    longest = silences(qa_2019, sites=["2690A"], start=WINDOW_2019[0], end=WINDOW_2019[1]).row(0, named=True)
    assert longest["hours"] == 137 and longest["start"] == datetime(2019, 5, 13, 10, tzinfo=UTC)  # row 05-13 H 19

    any_1490 = qa_2019.filter((pl.col("site_code") == "1490A") & pl.col("parameter").is_in(POLLUTANTS))
    assert round(any_1490.select("ts").n_unique() / 7632 * 100, 1) == 94.2


def test_qa_is_idempotent_and_handles_empty_frames() -> None:
    f = frame(series([20, 200, 20, 50, 50, 50, 50, 50, 50, 50, 50]))
    once = apply_qa(f)
    twice = apply_qa(once)
    assert once.equals(twice)
    empty = apply_qa(f.clear())
    assert empty.height == 0 and {"flag", "qa_reason"} <= set(empty.columns)


def test_silences() -> None:
    rows = series([10, None, None, None, 12, 13], site="A") + series([5, 5, None, 5, 5, 5], "a21026", site="B")
    qa = apply_qa(frame(rows))
    got = silences(qa, sites=["A", "B", "C"], start=T0, end=T0 + 6 * H)
    assert got.select("site_code", "start", "hours", "feed_gap_hours").rows() == [
        ("A", T0 + H, 3, 1),  # at T0+2h no station sent anything
        ("B", T0 + 2 * H, 1, 1),
        ("C", T0, 6, 1),
    ]
    assert silences(qa, sites=["A", "B"], start=T0, end=T0 + 6 * H, min_hours=2)["site_code"].to_list() == ["A"]
