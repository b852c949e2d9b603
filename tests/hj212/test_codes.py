"""Code tables against spec hj212.md §5 (HJ 212-2017 Tables 5-9, B.1/B.2; HJ/T 212-2005)."""

from __future__ import annotations

import pytest

from bogda.hj212 import codes

SPEC_CN_2017 = [
    "1000",
    "1011",
    "1012",
    "1013",
    "1061",
    "1062",
    "1063",
    "1064",
    "1072",
    "2011",
    "2012",
    "2021",
    "2022",
    "2031",
    "2041",
    "2051",
    "2061",
    "2081",
    "3011",
    "3012",
    "3013",
    "3014",
    "3015",
    "3016",
    "3017",
    "3018",
    "3019",
    "3020",
    "3021",
    "9011",
    "9012",
    "9013",
    "9014",
]
SPEC_CN_2005 = [
    "1000",
    "1001",
    "1011",
    "1012",
    "1021",
    "1022",
    "1031",
    "1032",
    "1041",
    "1042",
    "1061",
    "1062",
    "1072",
    "2011",
    "2012",
    "2021",
    "2022",
    "2031",
    "2041",
    "2051",
    "2061",
    "2071",
    "2072",
    "3011",
    "3012",
    "3013",
    "3014",
    "9011",
    "9012",
    "9013",
    "9014",
]
SPEC_ST = [
    "21",
    "22",
    "23",
    "24",
    "25",
    "26",
    "27",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "41",
    "51",
    "52",
    "91",
]


def test_cn_tables_match_the_spec_lists():
    assert sorted(codes.CN_2017) == sorted(SPEC_CN_2017)
    assert sorted(codes.CN_2005) == sorted(SPEC_CN_2005)
    assert set(SPEC_CN_2017) | set(SPEC_CN_2005) == codes.KNOWN_CN
    for cn in ("9015", "9021", "5015", "5051"):  # 2025 and vendor codes are outside both lists
        assert cn not in codes.KNOWN_CN and codes.cn_name(cn) is not None


def test_st_table():
    assert sorted(codes.ST_2017) == SPEC_ST
    assert codes.st_name("31", "en") == "air pollution source (CEMS)"
    assert codes.st_name("80") is not None and "80" not in codes.ST_2017


@pytest.mark.parametrize(
    ("code_2005", "code_2017"),
    [
        ("02", "a21026"),
        ("04", "a21005"),
        ("03", "a21002"),
        ("01", "a34013"),
        ("08", "a21024"),
        ("06", "a21018"),
        ("05", "a21028"),
        ("10", "a21001"),
        ("31", "a20057"),
        ("37", "a01010"),
        ("B02", "a00000"),
        ("S01", "a19001"),
        ("S02", "a01011"),
        ("S03", "a01012"),
        ("S05", "a01014"),
        ("S07", "a01016"),
        ("S08", "a01013"),
        ("S04", "a01017"),
        ("B03", "LA"),
        ("B01", "w00000"),
        ("001", "w01001"),
        ("011", "w01018"),
        ("060", "w21003"),
        ("101", "w21011"),
        ("065", "w21001"),
        ("003", "w01012"),
        ("010", "w01017"),
        ("020", "w20111"),
        ("022", "w20115"),
        ("023", "w20116"),
        ("024", "w20117"),
        ("026", "w20119"),
        ("027", "w20120"),
    ],
)
def test_2005_to_2017_mapping(code_2005, code_2017):
    """Spec §5.4 table, both directions."""
    assert codes.CODE_2005_TO_2017[code_2005] == code_2017
    assert codes.CODE_2017_TO_2005[code_2017] == code_2005
    assert codes.canonical_code(code_2005, scheme="2005") == (code_2017, True)
    assert codes.canonical_code(code_2005, scheme="2017")[0] == code_2005  # never mapped by pattern


@pytest.mark.parametrize(
    ("code", "st", "registry", "unit"),
    [
        ("a34004", "22", None, "µg/m³"),  # table says ng/m³: wrong in practice
        ("a34002", "31", None, "µg/m³"),
        ("a21026", "22", None, "µg/m³"),
        ("a21026", "31", None, "mg/m³"),
        ("a21004", "22", None, "µg/m³"),
        ("a21005", "22", None, "mg/m³"),
        ("a05024", "22", None, "µg/m³"),
        ("a00000", "31", None, "m³/s"),
        ("a00000", "31", {"a00000": "m³/h"}, "m³/h"),  # many CEMS send m³/h: the registry says so
        ("a21001", "31", None, None),  # NH3: set per device
        ("w01001", "32", None, None),  # pH has no unit
        ("w01018", "32", None, "mg/L"),
        ("w20116", "32", None, "mg/L"),
        ("w20111", "32", None, "µg/L"),
        ("xyz", "32", None, None),
    ],
)
def test_units(code, st, registry, unit):
    assert codes.unit_for(code, st, registry) == unit


@pytest.mark.parametrize(
    ("code", "st", "unit"),
    [("a21026", "31", "kg"), ("w01018", "32", "kg"), ("w20111", "32", "g"), ("a00000", "31", "m³"),
     ("w00000", "32", "m³"), ("w01001", "32", None)],
)  # fmt: skip
def test_cou_units(code, st, unit):
    assert codes.cou_unit(code, st) == unit


@pytest.mark.parametrize(
    ("registered", "cou"),
    [("mg/m3", "kg"), ("mg/m³", "kg"), ("mg/Nm3", "kg"), ("mg/Nm³", "kg"), (" mg / m3 ", "kg"), ("MG/M3", "kg"),
     ("mg/m^3", "kg"), ("毫克/立方米", "kg"), ("mg/L", "kg"), ("mg/l", "kg"), ("ug/m3", "g"), ("µg/m³", "g"),
     ("μg/m³", "g"), ("ng/m3", "g"), ("ug/L", "g"), ("µg/l", "g"), ("ppm", None), ("", None), ("kg/h", None)],
)  # fmt: skip
def test_cou_unit_from_the_registered_spelling(registered, cou):
    """The demo and many registries type "mg/m3": its -Cou series must still be in kg (the CEMS baseline needs it)."""
    assert codes.cou_unit("a21026", "31", {"a21026": registered}) == cou


@pytest.mark.parametrize(
    ("code", "known"),
    [("a21026", True), ("w01018", True), ("e70101", True), ("g11901", True), ("i12001", True), ("LA", True),
     ("a2106", False), ("023", False), ("PM25", False), ("i42001", False), ("SB1", False)],
)  # fmt: skip
def test_known_codes(code, known):
    assert codes.is_known_code(code) is known


def test_aliases_and_schemes():
    common = codes.VENDOR_ALIASES["common"]
    for raw, canonical in [("O3", "a05024"), ("PM25", "a34004"), ("PM10", "a34002"), ("TSP", "a34001"),
                           ("SO2", "a21026"), ("NO2", "a21004"), ("CO", "a21005")]:  # fmt: skip
        assert codes.canonical_code(raw, aliases=common) == (canonical, True)
    assert codes.canonical_code("a2106", aliases={"a2106": "a21026"}) == ("a21026", True)  # truncated code, P033
    with pytest.raises(ValueError, match="code scheme"):
        codes.canonical_code("02", scheme="1999")


def test_return_codes_and_flags():
    assert sorted(codes.QN_RTN) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]
    assert sorted(codes.EXE_RTN) == [1, 2, 3, 4, 5, 6, 100]
    assert set(codes.FLAGS_2017) == set("NFMSDCTB")
    assert set(codes.FLAGS_2005_SOURCE) == set("PFCMTDSN")
    assert set(codes.FLAGS_2005_AIR) == set("0123")
    assert {"N", "3"} == codes.NORMAL_FLAGS
    assert codes.OBSERVATION_KIND["2061"] == "hour"


def test_hourly_upload_of_a_demo_device_gets_kg_cou_series():
    """A CEMS registered as the demo registers it ("mg/m3") stores its -Cou series in kg, not without a unit."""
    from datetime import UTC, datetime

    from bogda.hj212.answers import build_upload
    from bogda.hj212.auth import DeviceInfo
    from bogda.hj212.codec import parse_frame
    from bogda.hj212.ingest import observation_rows

    frame = build_upload(
        "2061", st="31", mn="MN0001", pw="123456", qn="20260110100000000",
        data_time=datetime(2026, 1, 10, 2, tzinfo=UTC),
        pollutants={"a21026": {"Avg": "20.5", "Cou": "1.25", "Flag": "N"}, "a00000": {"Avg": "80", "Cou": "288000"}},
    )  # fmt: skip
    dev = DeviceInfo("MN0001", "", 1, None, "2017", "31", {"a21026": "mg/m3", "a00000": "m3/h"})
    units = {r[0]: r[2] for r in observation_rows(parse_frame(frame), dev)}
    assert units == {"a21026": "mg/m3", "a21026-Cou": "kg", "a00000": "m3/h", "a00000-Cou": "m³"}
