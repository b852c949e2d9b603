"""Readers of bogda.monitoring.ingest: real files (monitoring.md §7) and labelled synthetic cases."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime

import polars as pl
import pytest

from bogda.monitoring.ingest import (
    AQISTUDY_PLACES,
    CNEMC_TYPES,
    LONG_SCHEMA,
    POLLUTANTS,
    PRSA_STATIONS,
    PRSA_UNITS,
    FileRefused,
    ReadResult,
    decode_text,
    diff_refetch,
    hours_from_minutes,
    poll_windows,
    read_aqistudy,
    read_cnemc,
    read_hj212_values,
    read_pm25in,
    read_prsa,
    read_stations,
    station_base_name,
)
from bogda.timeutil import BEIJING_NAME, interval_start
from sharedata import require_shared

HEADER = "date,hour,type,1490A,2691A,CJ-M001"


def cnemc_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def reasons(result: ReadResult) -> list[tuple[int | None, str | None, str]]:
    return [(r.line, r.column, r.reason) for r in result.rejected]


# ------------------------------------------------------------------------------------------ real: CNEMC


def test_cnemc_2019_counts(cnemc_2019: ReadResult) -> None:
    """monitoring.md §7.1: the whole 2019 file reads, every count as published, nothing rejected."""
    r = cnemc_2019
    assert r.frame.schema == pl.Schema(LONG_SCHEMA)
    assert r.stats["rows"] == 110_105
    assert len(r.sites) == 42
    assert r.stats["labels"] == 7_342
    assert r.stats["nonempty_cells"] == 4_306_603
    assert r.stats["empty_cells"] == 317_807
    assert r.rejected == []
    f = r.frame
    assert f.height == 4_306_603
    assert f.filter(pl.col("parameter").is_in(POLLUTANTS)).height == 1_702_656
    assert f.filter(pl.col("parameter") == "aqi_pub").height == 282_642
    assert set(f["parameter"].unique()) == {p for p, _ in CNEMC_TYPES.values()}
    assert f.filter(pl.col("parameter") == "a21005")["unit"].unique().to_list() == ["mg/m³"]
    assert f.filter(pl.col("parameter") == "a34004")["unit"].unique().to_list() == ["µg/m³"]


def test_cnemc_2019_incomplete_row_sets(cnemc_2019: ReadResult) -> None:
    inc = cnemc_2019.incomplete_row_sets
    assert inc is not None
    got = {(d, h): n for d, h, n in inc.select("date", "hour", "n_types").iter_rows()}
    assert got == {(date(2019, 2, 20), 7): 1, (date(2019, 4, 24), 23): 4}
    assert inc.filter(pl.col("hour") == 7)["types"].to_list() == [["AQI"]]


def test_cnemc_2019_hour_convention(cnemc_2019: ReadResult) -> None:
    """§7.2: row (D, H) is the hour ending at H Beijing time; Beijing day D = rows (D, 1..23) + (D+1, 0)."""
    f = cnemc_2019.frame
    assert f["ts"].min() == utc(2018, 12, 31, 15)
    pm = f.filter((pl.col("site_code") == "2691A") & (pl.col("parameter") == "a34004"))
    day = pm.filter(pl.col("ts").dt.convert_time_zone(BEIJING_NAME).dt.date() == date(2019, 1, 1))
    assert day.height == 24
    assert day["value"].mean() == pytest.approx(166.25)
    published = f.filter(
        (pl.col("site_code") == "2691A") & (pl.col("parameter") == "a34004.r24") & (pl.col("ts") == utc(2019, 1, 1, 15))
    )
    assert published["value"].to_list() == [166.0]  # row 2019-01-02 H 0 closes Beijing day 2019-01-01
    rows_00_23 = pm.filter(pl.col("ts").is_between(utc(2018, 12, 31, 15), utc(2019, 1, 1, 14)))
    assert rows_00_23["value"].mean() == pytest.approx(164.7, abs=0.05)  # the wrong convention
    labels = f.select("ts").unique()
    apr8 = labels.filter(pl.col("ts").dt.convert_time_zone(BEIJING_NAME).dt.date() == date(2019, 4, 8))
    assert apr8.height == 1


def test_cnemc_2019_o3_8h_restarts_at_hour_1(cnemc_2019: ReadResult) -> None:
    """The published O3_8h of row H 1 is the O3 of that single hour: H 0 still belongs to the day before."""
    wide = (
        cnemc_2019.frame.filter(pl.col("parameter").is_in(["a05024", "a05024.r8d"]))
        .pivot(on="parameter", index=["site_code", "ts"], values="value")
        .drop_nulls()
        .with_columns(pl.col("ts").dt.convert_time_zone(BEIJING_NAME).dt.hour().alias("start_hour"))
    )
    share = wide.group_by("start_hour").agg((pl.col("a05024") == pl.col("a05024.r8d")).mean().alias("eq"))
    eq = dict(share.iter_rows())
    assert eq[0] == 1.0  # row H 1 = interval starting 00:00
    assert eq[23] < 0.05 and eq[1] < 0.5


def test_cnemc_2019_silent_station_is_a_site(cnemc_2019: ReadResult) -> None:
    assert "1495A" in cnemc_2019.sites
    assert cnemc_2019.frame.filter(pl.col("site_code") == "1495A").height == 0


def test_cnemc_registered_codes(cnemc_path) -> None:
    stations = read_stations(require_shared("stations", "cnemc_stations_xinjiang.csv"))
    codes = set(stations["station_code"])
    data = gzip.decompress(cnemc_path.read_bytes())
    head = data[: data.rindex(b"\n", 0, 200_000) + 1]  # first ~1 300 whole rows
    assert read_cnemc(head, known_codes=codes).rejected[:1] == []
    r = read_cnemc(head, known_codes=codes - {"2691A"})
    assert [(x.column, x.reason.split(" (")[0]) for x in r.rejected] == [("2691A", "unknown station code")]
    assert "2691A" not in r.sites
    assert "2691A" in read_cnemc(head, known_codes=codes - {"2691A"}, register_unknown=True).sites


# ---------------------------------------------------------------------------------------- real: others


def test_pm25in_real() -> None:
    """§7.9: 2 234 rows, 14 stations mapped by name; 七十四中学 → 1495A always empty."""
    stations = read_stations(require_shared("stations", "cnemc_stations_xinjiang.csv"))
    path = next(require_shared("xinjiang").glob("pm25in_style_hourly_*.csv"))
    r = read_pm25in(path, stations)
    assert r.stats["rows"] == 2_234
    assert r.rejected == []
    assert len(r.sites) == 14 and "1495A" in r.sites and "2690A" in r.sites
    assert r.frame.filter(pl.col("site_code") == "1495A").height == 0
    per_hour = r.frame.filter(pl.col("parameter").is_in(["aqi_pub", *POLLUTANTS])).group_by("site_code", "ts").len()
    assert per_hour.filter(pl.col("len") == 7).height == 1_923  # complete rows (§7.9)
    assert r.attrs is not None and r.attrs.height == 2_234
    multi = r.attrs.filter(pl.col("primary_pollution").str.contains(","))
    assert multi.height > 0 and not multi["primary_pollution"].str.contains("\n").any()
    wide = (
        r.frame.filter(pl.col("parameter").is_in(["a05024", "a05024.r8d"]))
        .pivot(on="parameter", index=["site_code", "ts"], values="value")
        .drop_nulls()
        .filter(pl.col("ts").dt.convert_time_zone(BEIJING_NAME).dt.hour() == 0)
    )
    assert wide.height > 50 and (wide["a05024"] == wide["a05024.r8d"]).all()  # O3_8h restarts at Hour 01


def test_pm25in_without_station_list_rejects_rows() -> None:
    path = next(require_shared("xinjiang").glob("pm25in_style_hourly_*.csv"))
    r = read_pm25in(path, None)
    assert r.frame.height == 0 and len(r.rejected) == 2_234
    assert r.rejected[0].reason == "no station list given to map station names"


def test_aqistudy_real() -> None:
    """§7.8: 3 446 rows (乌鲁木齐 1 157, others 763), daily, ts = Beijing midnight."""
    path = next(require_shared("xinjiang").glob("aqistudy_daily_city_*.csv"))
    r = read_aqistudy(path)
    assert r.rejected == []
    assert r.stats["rows"] == 3_446
    assert r.attrs is not None
    assert dict(r.attrs.group_by("city").len().iter_rows()) == {
        "乌鲁木齐": 1157,
        "昌吉州": 763,
        "石河子": 763,
        "五家渠": 763,
    }
    assert set(r.sites) == set(AQISTUDY_PLACES.values())
    first = r.frame.filter((pl.col("site_code") == "650100") & (pl.col("parameter") == "aqi_pub")).sort("ts").row(0)
    assert first[1] == utc(2013, 12, 1, 16) and first[3] == 176.0 and first[4] == "day"
    assert r.frame.height == 3_446 * 7  # no missing values in this file
    assert r.attrs["rank"].null_count() > 0  # rank 0 = none


def test_prsa_real_all_files() -> None:
    """§7.10: 8 files × 35 064 rows load with CO converted µg/m³ → mg/m³; NA counts as documented."""
    files = sorted(require_shared("beijing").glob("PRSA_Data_*.csv.gz"))
    assert len(files) == 8
    na_pm25 = {"1011A": 925, "1010A": 774, "1002A": 779, "1003A": 750, "1006A": 616, "1012A": 646, "1009A": 953,
               "1005A": 628}  # fmt: skip
    for path in files:
        r = read_prsa(path)
        assert r.rejected == [] and r.stats["rows"] == 35_064
        (site,) = r.sites
        pm = r.frame.filter(pl.col("parameter") == "a34004")
        assert pm.height == 35_064 - na_pm25[site]
        co = r.frame.filter(pl.col("parameter") == "a21005")
        assert co["unit"].unique().to_list() == ["mg/m³"]
        assert co["value"].min() >= 0.1 and co["value"].max() <= 10.0
        assert r.frame["ts"].min() == utc(2013, 2, 28, 16)  # hour_label = start
        assert r.frame["ts"].max() == utc(2017, 2, 28, 15)


def test_prsa_undeclared_co_is_a_unit_error() -> None:
    path = require_shared("beijing", "PRSA_Data_Dongsi_20130301-20170228.csv.gz")
    units = {k: v for k, v in PRSA_UNITS.items() if k != "CO"}
    r = read_prsa(path, units=units)
    assert r.frame.filter(pl.col("parameter") == "a21005").height == 0
    assert [(x.column, x.reason.split(":")[0]) for x in r.rejected] == [("CO", "undeclared unit")]
    assert "31867 values" in r.rejected[0].reason  # 35 064 − 3 197 NA


def test_stations_real() -> None:
    xj = read_stations(require_shared("stations", "cnemc_stations_xinjiang.csv"))
    nat = read_stations(require_shared("stations", "cnemc_stations_national.csv"))
    assert xj.height == 53 and nat.height == 2026
    assert xj["problem"].null_count() == 53
    row = xj.filter(pl.col("station_code") == "2690A").row(0, named=True)
    assert row["base_name"] == "天山天池" and row["is_control"] is True and row["city"] == "昌吉州"
    assert row["longitude"] == pytest.approx(88.1236) and row["pip_county_adcode"] == "652302"
    assert nat.filter(pl.col("decommissioned").is_not_null()).height == 74
    assert nat["is_control"].sum() == 250
    assert set(PRSA_STATIONS.values()) <= set(nat["station_code"])


# ------------------------------------------------------------------------------- synthetic: CNEMC layout


@pytest.mark.parametrize(
    ("day", "hour", "expected"),
    [
        ("20190101", "0", utc(2018, 12, 31, 15)),
        ("20190101", "1", utc(2018, 12, 31, 16)),
        ("20190101", "16", utc(2019, 1, 1, 7)),
        ("20190101", "23", utc(2019, 1, 1, 14)),
        ("20191231", "0", utc(2019, 12, 30, 15)),
    ],
)
def test_cnemc_hour_label_is_the_interval_end(day: str, hour: str, expected: datetime) -> None:
    r = read_cnemc(cnemc_text(f"{day},{hour},PM2.5,1,2,3").encode())
    assert set(r.frame["ts"]) == {expected}
    label = datetime.strptime(day, "%Y%m%d").replace(hour=int(hour))
    assert expected == interval_start(label, "hour", labelled_by="end")


def test_cnemc_encodings_bom_blank_lines_trailing_commas_repeated_headers() -> None:
    body = [
        "20190101,1,PM2.5,10,20,30,",
        "",
        "20190101,1,CO,1.5,,0.4,",
        "   ",
        "\ufeff" + HEADER + ",",
        ",,,,,,",
        "20190101,2,PM2.5,11,,,",
    ]
    text = "\r\n".join([HEADER + ",", *body]) + "\r\n"
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("gb18030")):
        r = read_cnemc(data, name="x.csv")
        assert r.rejected == []
        assert r.stats["repeated_headers"] == 1 and r.stats["blank_lines"] == 3
        assert r.frame.height == 6
        assert r.sites == ("1490A", "2691A", "CJ-M001")  # a non-national code is first-class
        co = r.frame.filter(pl.col("parameter") == "a21005").sort("site_code")
        assert co["value"].to_list() == [1.5, 0.4] and co["unit"].to_list() == ["mg/m³", "mg/m³"]
    assert read_cnemc(gzip.compress(text.encode())).frame.height == 6


def test_decode_text_gb18030() -> None:
    assert decode_text("城市,站点".encode("gb18030")) == ("城市,站点", "gb18030")
    assert decode_text("城市".encode()) == ("城市", "utf-8")


def test_cnemc_bad_rows_are_rejected_with_reasons_and_the_rest_loads() -> None:
    text = cnemc_text(
        "20190101,1,PM2.5,10,20,30",  # line 2: fine
        "2019011,1,PM2.5,10,20,30",  # line 3: bad date
        "20190101,24,PM2.5,10,20,30",  # line 4: bad hour
        "20190101,1,PM1,10,20,30",  # line 5: unknown type
        "20190101,1,PM10,abc,20,-",  # line 6: two non-numeric cells
        "20190101,1,PM10,1,2,3,4",  # line 7: too many fields
        "20190101,1,SO2,1,2",  # line 8: too few fields
        "20190101,1,PM2.5,10,21,",  # line 9: conflicting duplicate (2691A), identical (1490A), empty (CJ-M001)
        "20190101,2,PM2.5,nan,inf,5",  # line 10: non-finite
    )
    r = read_cnemc(text.encode(), name="day.csv")
    assert sorted(reasons(r), key=lambda x: (x[0], x[1] or "")) == [
        (3, "date", "bad date '2019011'"),
        (4, "hour", "bad hour '24'"),
        (5, "type", "unknown type 'PM1'"),
        (6, "1490A", "non-numeric value 'abc'"),
        (6, "CJ-M001", "non-numeric value '-'"),
        (7, None, "7 fields where the header has 6"),
        (8, None, "5 fields where the header has 6"),
        (9, "2691A", "conflicting duplicate of line 2 (20.0 vs 21.0)"),
        (10, "1490A", "non-numeric value 'nan'"),
        (10, "2691A", "non-numeric value 'inf'"),
    ]
    assert all(x.file == "day.csv" for x in r.rejected)
    assert r.stats["identical_duplicates"] == 1
    assert r.frame.sort("ts", "site_code", "parameter").select("site_code", "parameter", "value").rows() == [
        ("1490A", "a34004", 10.0),
        ("2691A", "a34002", 20.0),
        ("2691A", "a34004", 20.0),
        ("CJ-M001", "a34004", 30.0),
        ("CJ-M001", "a34004", 5.0),
    ]


@pytest.mark.parametrize(
    ("header", "column", "reason"),
    [
        ("date,hour,type,1490A,1490A", "1490A#2", "duplicate station column"),
        ("date,hour,type,1490A,站点", "站点", "station code must match [A-Za-z0-9_.-]{1,32}"),
        ("date,hour,type,1490A," + "X" * 33, "X" * 33, "station code must match [A-Za-z0-9_.-]{1,32}"),
    ],
)
def test_cnemc_bad_station_columns(header: str, column: str, reason: str) -> None:
    r = read_cnemc(cnemc_text("20190101,1,PM2.5,1,2", header=header).encode())
    assert reasons(r) == [(1, column, reason)]
    assert r.sites == ("1490A",) and r.frame.height == 1


@pytest.mark.parametrize("text", ["", "\n\n", "a,b,c\n1,2,3\n", "hour,type,1490A\n1,PM2.5,3\n"])
def test_cnemc_without_header_is_refused(text: str) -> None:
    with pytest.raises(FileRefused):
        read_cnemc(text.encode(), name="junk.csv")


def test_cnemc_incomplete_row_set_reported() -> None:
    rows = [f"20190101,1,{t},1,1,1" for t in CNEMC_TYPES] + ["20190101,2,AQI,5,5,5"]
    r = read_cnemc(cnemc_text(*rows).encode())
    assert r.incomplete_row_sets is not None
    assert r.incomplete_row_sets.select("hour", "n_types").rows() == [(2, 1)]
    assert r.feed is not None and r.feed.height == len(CNEMC_TYPES) + 1


# ----------------------------------------------------------------------------------- synthetic: others


def test_pm25in_quoted_fields_with_line_breaks() -> None:
    text = (
        "city,Date,Hour,WatchPoint,AQI,Level,PrimaryPollution,PM2.5,PM10,CO,NO2,O3_1h,O3_8h,SO2\n"
        '昌吉州,20200404,19,州监测站,54,良,"\n   颗粒物(PM10)\n\n   细颗粒物(PM2.5)\n",38,58,0.5,8,118,96,12\n'
        "昌吉州,20200404,20,天山天池,NaN,,,NaN,,,,,,\n"
        "昌吉州,20200404,20,无名站,1,,,1,1,1,1,1,1,1\n"
    )
    mapping = {("昌吉州", "州监测站"): "2691A", ("昌吉州", "天山天池(对照点)"): "2690A"}
    r = read_pm25in(text.encode("gb18030"), mapping, name="p.csv")
    assert reasons(r) == [(8, "WatchPoint", "unknown station '无名站' in '昌吉州'")]  # the quoted row spans 2-6
    assert r.sites == ("2690A", "2691A")
    assert r.frame.height == 8 and set(r.frame["site_code"]) == {"2691A"}
    assert r.frame.filter(pl.col("parameter") == "a21005")["value"].to_list() == [0.5]
    assert r.frame["ts"].unique().to_list() == [utc(2020, 4, 4, 10)]
    assert r.attrs is not None
    assert r.attrs.filter(pl.col("site_code") == "2691A")["primary_pollution"].to_list() == [
        "颗粒物(PM10),细颗粒物(PM2.5)"
    ]


def test_aqistudy_unknown_city_and_bad_values() -> None:
    text = (
        "city,date,aqi,aqi_range,quality_level,pm25,pm10,so2,co,no2,o3,rank\n"
        "昌吉州,2015-01-01,120,80~150,轻度污染,90,120,30,2.5,50,20,0\n"
        "哈密,2015-01-01,50,40~60,优,20,40,5,0.5,20,50,3\n"
        "昌吉州,2015-13-01,1,1~1,优,1,1,1,1,1,1,1\n"
        "昌吉州,2015-01-02,x,,良,30,,,,,,\n"
    )
    r = read_aqistudy(text.encode())
    assert reasons(r) == [
        (3, "city", "unknown city '哈密'"),
        (4, "city", "bad date '2015-13-01'"),
        (5, "aqi", "non-numeric value 'x'"),
    ]
    day1 = r.frame.filter(pl.col("ts") == utc(2014, 12, 31, 16))
    assert dict(day1.select("parameter", "value").iter_rows())["a05024.mda8"] == 20.0
    assert r.attrs is not None and r.attrs["rank"].to_list() == [None, None]


def test_prsa_synthetic_units_compass_and_bad_rows() -> None:
    text = (
        '"No","year","month","day","hour","PM2.5","PM10","SO2","NO2","CO","O3","TEMP","PRES","DEWP","RAIN","wd",'
        '"WSPM","station"\n'
        '1,2014,1,1,0,10,20,3,40,1200,5,-3.5,1020,-20,0,"NNE",2.5,"Dongsi"\n'
        '2,2014,1,1,1,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,"XX",NA,"Dongsi"\n'
        '3,2014,2,30,0,1,1,1,1,1,1,1,1,1,1,"N",1,"Dongsi"\n'
        '4,2014,1,1,2,1,1,1,1,1,1,1,1,1,1,"N",1,"Nowhere"\n'
    )
    r = read_prsa(text.encode())
    assert sorted(reasons(r)) == [
        (3, "wd", "unknown wind direction 'XX'"),
        (4, "station", "bad date/hour '2014-2-30 0'"),
        (5, "station", "unknown station 'Nowhere'"),
    ]
    got = dict(r.frame.select("parameter", "value").iter_rows())
    assert got["a21005"] == pytest.approx(1.2) and got["a01008"] == 22.5 and got["a01001"] == -3.5
    assert r.frame["ts"].unique().to_list() == [utc(2013, 12, 31, 16)]
    assert r.frame.height == 12


def test_read_stations_chinese_headers_gbk_and_problems() -> None:
    text = (
        "监测点编码,监测点名称,城市,经度,纬度,对照点\n"
        "1001A,万寿西宫,北京,116.3621,39.8784,N\n"
        "CJ-M001,昌吉微站(停运200629),昌吉州,abc,44.0,Y\n"
        ",无码站,昌吉州,87.0,44.0,N\n"
        "1001A,重复,北京,116,39,N\n"
    )
    df = read_stations(text.encode("gbk"))
    assert df.select("station_code", "problem").rows() == [
        ("1001A", "duplicate station_code"),
        ("CJ-M001", "bad coordinates"),
        (None, "missing station_code"),
        ("1001A", "duplicate station_code"),
    ]
    assert df["national"].to_list() == [True, False, False, True]
    assert df["decommissioned"].to_list() == [None, "停运200629", None, None]
    assert df["is_control"].to_list() == [False, True, False, False]


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("天山天池(对照点)", "天山天池"),
        ("地区站(停运200629)", "地区站"),
        ("州监测站", "州监测站"),
        ("小东沟（对照点）", "小东沟"),
    ],
)
def test_station_base_name(name: str, base: str) -> None:
    assert station_base_name(name) == base


# ------------------------------------------------------------------------------------------------ HJ 212


def test_hj212_air_and_water_frames() -> None:
    records = [
        {  # air station hour (ST 22, CN 2061): DataTime is the interval start
            "site_code": "CJ-M001",
            "cn": "2061",
            "st": "22",
            "data_time": "20260301080000",
            "values": {
                "a34004": {"Avg": "35.2", "Max": "50", "Flag": "N"},
                "a21005": {"Avg": "0.8", "Flag": "M"},
                "a99999": {"Avg": "1"},  # no unit anywhere → rejected
                "a34002": {"Rtd": "40"},  # no Avg in an hour frame → rejected
            },
        },
        {
            "site_code": "CJ-M001",
            "cn": "2011",
            "data_time": datetime(2026, 3, 1, 8, 0, 30),
            "values": {"a05024": {"Rtd": "61", "Flag": "N"}},
        },
        {
            "site_code": "W-01",
            "cn": "2051",
            "st": "21",
            "data_time": "20260301081000",
            "values": {"w01001": {"Avg": "7.6", "Flag": "N"}, "w21003": {"Avg": "x"}},
        },
        {
            "site_code": "W-01",
            "cn": "2031",
            "st": "21",
            "data_time": "20260301000000",
            "values": {"w01018": {"Avg": "12"}},
        },
        {"site_code": "CJ-M001", "cn": "2021", "data_time": "20260301080000", "values": {}},
        {"site_code": "CJ-M001", "cn": "2061", "data_time": "2026-02-30 08:00", "values": {}},
        {"site_code": "站", "cn": "2061", "data_time": "20260301080000", "values": {}},
    ]
    r = read_hj212_values(records, units={"a21005": "mg/m³"})
    rows = r.frame.sort("site_code", "ts", "parameter").rows()
    assert rows == [
        ("CJ-M001", utc(2026, 3, 1, 0), "a21005", 0.8, "hour", "mg/m³", "M"),
        ("CJ-M001", utc(2026, 3, 1, 0), "a34004", 35.2, "hour", "µg/m³", "N"),
        ("CJ-M001", utc(2026, 3, 1, 0, 0, 30), "a05024", 61.0, "rt", "µg/m³", "N"),
        ("W-01", utc(2026, 2, 28, 16), "w01018", 12.0, "day", "mg/L", None),
        ("W-01", utc(2026, 3, 1, 0, 10), "w01001", 7.6, "min", "1", "N"),
    ]
    assert [(x.line, x.column, x.reason.split(":")[0]) for x in r.rejected] == [
        (1, "a99999", "undeclared unit"),
        (1, "a34002", "no -Avg value for CN 2061"),
        (3, "w21003", "non-numeric value 'x'"),
        (5, "CN", "CN 2021 carries no monitoring values"),
        (6, "DataTime", "bad DataTime"),
        (7, "site_code", "bad site code '站'"),
    ]


def test_poll_windows() -> None:
    # 02:30 Beijing on Monday 2019-01-07 = 18:30 UTC on Sunday
    kinds = {k: (s, e) for k, s, e in poll_windows(utc(2019, 1, 6, 18, 30))}
    assert kinds["hourly"] == (utc(2019, 1, 6, 15), utc(2019, 1, 6, 18))
    assert kinds["daily"][0] == utc(2019, 1, 3, 18)
    assert kinds["weekly"][0] == utc(2018, 12, 7, 18)
    assert [k for k, _, _ in poll_windows(utc(2019, 1, 7, 18, 30))] == ["hourly", "daily"]


# ------------------------------------------------------------------------------ minutes → hours, revisions


def minute_frame(n_valid: int, step: int = 1, flag_bad: int = 0) -> pl.DataFrame:
    """PM2.5 minute values every ``step`` min from 08:00 Beijing; the last ``flag_bad`` carry flag D."""
    records = []
    n = n_valid + flag_bad
    for i in range(n):
        t = datetime(2026, 3, 1, 8, i * step).strftime("%Y%m%d%H%M%S")
        flag = "D" if i >= n_valid else "N"
        records.append(
            {"site_code": "S", "cn": "2051", "data_time": t, "values": {"a34004": {"Avg": str(10 + i), "Flag": flag}}}
        )
    return read_hj212_values(records).frame


@pytest.mark.parametrize(
    ("n_valid", "step", "flag_bad", "expected"),
    [
        (45, 1, 0, 32.0),  # 45 one-minute values: mean of 10..54
        (44, 1, 10, None),  # 44 valid minutes (+ 10 flagged D) is not enough
        (9, 5, 0, 14.0),  # 9 five-minute values cover 45 min
        (8, 5, 0, None),
        (60, 1, 0, 39.5),
    ],
)
def test_hours_from_minutes(n_valid: int, step: int, flag_bad: int, expected: float | None) -> None:
    hours = hours_from_minutes(minute_frame(n_valid, step, flag_bad))
    if expected is None:
        assert hours.height == 0
    else:
        assert hours.rows() == [("S", utc(2026, 3, 1, 0), "a34004", expected, "hour", "µg/m³", "N")]


def test_hours_from_minutes_skips_hours_with_a_2061_value() -> None:
    mins = minute_frame(60)
    have = read_hj212_values(
        [{"site_code": "S", "cn": "2061", "data_time": "20260301080000", "values": {"a34004": {"Avg": "7"}}}]
    ).frame
    assert hours_from_minutes(mins, have).height == 0


def test_diff_refetch() -> None:
    def long(rows: list[tuple[str, int, float]]) -> pl.DataFrame:
        return pl.DataFrame(
            [(s, utc(2019, 1, 1, h), "a34004", v, "hour", "µg/m³", None) for s, h, v in rows],
            schema=list(LONG_SCHEMA.items()),
            orient="row",
        )

    stored = long([("A", 1, 10.0), ("B", 1, 20.0), ("A", 2, 30.0), ("C", 3, 5.0)])
    fetched = long([("A", 1, 10.0), ("B", 1, 21.0), ("A", 4, 1.0)])
    complete = pl.DataFrame({"ts": [utc(2019, 1, 1, 2)], "parameter": ["a34004"]})
    d = diff_refetch(stored, fetched, complete=complete)
    got = {(s, ts.hour): c for s, ts, c in d.select("site_code", "ts", "change").iter_rows()}
    assert got == {("A", 1): "unchanged", ("B", 1): "changed", ("A", 2): "withdrawn", ("C", 3): "unchanged",
                   ("A", 4): "new"}  # fmt: skip
    assert diff_refetch(stored, fetched).filter(pl.col("change") == "withdrawn").height == 0


def test_unit_conversion_is_correctly_rounded() -> None:
    """µg/m³ → mg/m³ must equal x / 1000 bit for bit: x × 1e-3 differs in the last bit for about 1 value in 8
    (e.g. 300 × 1e-3 = 0.30000000000000004), and the forecast's trees split on those bits."""
    from bogda.monitoring.formats.common import convert_unit

    x = pl.Series("x", [float(v) for v in range(100, 20000, 7)])
    df = pl.DataFrame({"x": x, "down": [1e-3] * len(x), "up": [1e3] * len(x)})
    down = df.select(convert_unit(pl.col("x"), pl.col("down"))).to_series().to_list()
    up = df.select(convert_unit(pl.col("x"), pl.col("up"))).to_series().to_list()
    assert down == [v / 1000.0 for v in x]
    assert any(v * 1e-3 != v / 1000.0 for v in x)  # the naive product would not pass the line above
    assert up == [v * 1000.0 for v in x]


def test_prsa_co_is_divided_not_multiplied() -> None:
    text = (
        b"No,year,month,day,hour,PM2.5,PM10,SO2,NO2,CO,O3,TEMP,PRES,DEWP,RAIN,wd,WSPM,station\n"
        b"1,2016,3,1,0,10,20,3,30,300,50,1,1020,-10,0,N,2,Dongsi\n"
        b"2,2016,3,1,1,10,20,3,30,700,50,1,1020,-10,0,N,2,Dongsi\n"
    )
    r = read_prsa(text, name="prsa.csv")
    co = r.frame.filter(pl.col("parameter") == "a21005").sort("ts")["value"].to_list()
    assert co == [300 / 1000.0, 700 / 1000.0]
