"""Parser, builders and value extraction against the public vectors and the standard's examples
(spec hj212.md §3.2, §3.3, §3.5, §3.8, §4.1, §9.1, §9.3)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bogda.hj212 import codes
from bogda.hj212.codec import (
    ERRORS,
    WARNINGS,
    build_command,
    build_frame,
    build_upload,
    data_response,
    execution_response,
    make_qn,
    measurements,
    message_role,
    notify_response,
    parse_decimal,
    parse_frame,
    recall_command,
    request_response,
    system_time_frame,
    time_sync_command,
)
from bogda.timeutil import BEIJING

PUBLIC_IDS = [f"P{i:03d}" for i in range(1, 104)]


def _seg(frame: bytes) -> bytes:
    return frame[6:-4]


# ------------------------------------------------------------------------------------ public vectors
@pytest.mark.parametrize("pid", PUBLIC_IDS)
def test_public_frame_matches_expected(public, pid):
    """Every key of expected_public.jsonl except id/kind; optional keys absent when absent (spec §4.1)."""
    p = public[pid]
    expected = {k: v for k, v in p.expected.items() if k not in ("id", "kind")}
    got = parse_frame(p.frame).to_dict()
    assert got == expected
    # Errors and warnings come in the canonical order of spec §3.2.
    assert got["errors"] == sorted(got["errors"], key=ERRORS.index)
    assert got["warnings"] == sorted(got["warnings"], key=WARNINGS.index)


def test_public_totals(public):
    """The totals spec §9.1 lists, independently of the per-frame file."""
    results = {pid: parse_frame(p.frame) for pid, p in public.items()}
    assert sum(r.valid for r in results.values()) == 94
    errors = Counter(e for r in results.values() for e in r.errors)
    assert errors == {"crc_mismatch": 7, "length_mismatch": 3, "cp_not_closed": 1, "length_over_1024": 1}
    warnings = Counter(w for r in results.values() for w in r.warnings)
    assert warnings == {
        "MN_not_24_hex (2017 EPC-96 form)": 75,
        "no_Flag": 41,
        "no_QN": 37,
        "DataTime_not_14_digits": 6,
        "QN_not_17_digits": 6,
        "ST_not_in_2017_table": 3,
        "CN_not_in_2017_or_2005_table": 3,
    }
    variants = {pid: r.crc_variant_detected for pid, r in results.items() if r.crc_variant_detected}
    assert variants == {"P055": "modbus_byteswapped"}
    notes = sorted(pid for pid, r in results.items() if r.crc_note)
    assert notes == ["P028", "P032", "P033", "P037", "P038", "P049"]


def test_frame_with_crlf_parses_the_same(public):
    p = public["P008"]
    assert parse_frame(p.frame + b"\r\n").to_dict() == parse_frame(p.frame).to_dict()


# ------------------------------------------------------------------------------------ lenient / strict
@pytest.mark.parametrize(
    ("pid", "crc_mode", "accepted"),
    [
        ("P052", "auto", True),  # length and cp_not_closed tolerated: CRC over the real bytes right
        ("P059", "auto", True),
        ("P059", "hj212", True),
        ("P029", "auto", False),
        ("P030", "auto", False),
        ("P035", "auto", False),
        ("P036", "auto", False),
        ("P060", "auto", False),
        ("P061", "auto", False),
        ("P055", "hj212", False),
        ("P055", "modbus_be", False),
        ("P055", "modbus_byteswapped", True),
        ("P055", "auto", True),
        ("P029", "off", True),
        ("P008", "hj212", True),
    ],
)
def test_lenient_acceptance(public, pid, crc_mode, accepted):
    r = parse_frame(public[pid].frame, mode="lenient", crc_mode=crc_mode)
    assert r.accepted is accepted
    assert r.accepted_with == (r.errors if accepted else [])
    strict = parse_frame(public[pid].frame, mode="strict", crc_mode=crc_mode)
    assert strict.accepted is strict.valid
    assert strict.errors == r.errors and strict.warnings == r.warnings


def test_lenient_reports_algorithm(public):
    assert parse_frame(public["P055"].frame, crc_mode="auto").crc_algorithm == "modbus_byteswapped"
    assert parse_frame(public["P055"].frame, crc_mode="auto").crc_ok
    assert not parse_frame(public["P055"].frame, crc_mode="hj212").crc_ok
    assert not parse_frame(public["P030"].frame).crc_ok
    assert parse_frame(public["P052"].frame).accepted_with == ["length_mismatch", "cp_not_closed"]
    assert parse_frame(public["P001"].frame).crc_algorithm == "hj212"


def test_lenient_max_segment_len(public):
    frame = build_frame("ST=32;CN=2011;CP=&&" + "a=1;" * 300 + "&&", crlf=False)
    assert parse_frame(frame).errors == ["length_over_1024"]
    assert parse_frame(frame).accepted
    assert not parse_frame(frame, max_segment_len=1024).accepted


# ------------------------------------------------------------------------------------ synthetic defects
GOOD = (
    "QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;"
    "CP=&&DataTime=20160801085857;a21026-Rtd=1&&"
)


@pytest.mark.parametrize(
    ("frame", "errors"),
    [
        (b"", ["bad_header_or_length_field", "crc_field_not_hex", "missing_CP"]),
        (b"##01", ["bad_header_or_length_field", "crc_field_not_hex", "missing_CP"]),
        (b"#" + build_frame(GOOD, crlf=False)[1:].replace(b"#", b"$", 1), ["bad_header_or_length_field"]),
        (b"##01x9" + build_frame(GOOD, crlf=False)[6:], ["bad_header_or_length_field"]),
        (build_frame(GOOD, crlf=False, declared_len=5), ["length_mismatch"]),
        (build_frame(GOOD, crlf=False)[:-4] + b"12G4", ["crc_field_not_hex"]),
        (build_frame(GOOD, crlf=False)[:-4] + b"0000", ["crc_mismatch"]),
        (build_frame(GOOD.replace("CP=&&", "XP=&&"), crlf=False), ["missing_CP"]),
        (build_frame(GOOD[:-2], crlf=False), ["cp_not_closed"]),
        (build_frame(GOOD + "xx", crlf=False), ["garbage_after_cp"]),
    ],
)
def test_error_codes(frame, errors):
    r = parse_frame(frame)
    assert r.errors == errors
    assert not r.valid


@pytest.mark.parametrize(
    ("segment", "warnings", "notes"),
    [
        (GOOD, [], []),
        (GOOD.replace("QN=20160801085857223;", ""), ["no_QN"], []),
        (GOOD.replace("QN=20160801085857223", "QN=2016080108585722"), ["QN_not_17_digits"], []),
        (GOOD.replace("Flag=5;", ""), ["no_Flag"], []),
        (GOOD.replace("Flag=5", "Flag=x"), [], ["flag_not_integer"]),
        (GOOD.replace("Flag=5", "Flag=13"), [], ["unknown_version"]),
        (GOOD.replace("Flag=5", "Flag=7"), [], ["d_without_pnum"]),
        (GOOD.replace("ST=32", "ST=99"), ["ST_not_in_2017_table"], []),
        (GOOD.replace("CN=2011", "CN=9021"), ["CN_not_in_2017_or_2005_table"], []),
        (GOOD.replace("DataTime=20160801085857", "DataTime="), ["DataTime_not_14_digits"], []),
        (GOOD.replace("MN=010000A8900016F000169DC0", "MN=010000A8900016F000169DCG"), [WARNINGS[-1]], []),
        (GOOD.replace("a21026-Rtd=1", "a21026-Rtd=1,a21026-Rtd=2"), [], ["duplicate_key"]),
        (GOOD.replace("a21026-Rtd=1", "a21026-Rtd=1;lonely"), [], ["item_without_equals"]),
    ],
)
def test_warnings_and_notes(segment, warnings, notes):
    r = parse_frame(build_frame(segment, crlf=False))
    assert r.valid
    assert r.warnings == warnings
    assert r.notes == notes


def test_version_and_flag_decoding():
    r = parse_frame(build_frame(GOOD.replace("Flag=5", "Flag=13"), crlf=False))
    assert r.flag is not None and r.flag.version == 3 and r.version == 2  # unknown_version: treated as 2025
    assert parse_frame(build_frame(GOOD.replace("Flag=5;", ""), crlf=False)).version == 0
    assert parse_frame(build_frame(GOOD.replace("Flag=5;", ""), crlf=False)).ack_requested is None


def test_gbk_fallback(public):
    """P018 re-encoded in GBK with its CRC recomputed: valid, note decoded_gb18030 (spec §2.5)."""
    seg = _seg(public["P018"].frame).decode("utf-8").encode("gbk")
    r = parse_frame(build_frame(seg, crlf=False))
    assert r.valid and r.crc_computed == "DEC1"
    assert r.notes == ["decoded_gb18030"]
    assert r.pollutants["i11001"]["Info"] == "//清洗管路//"


def test_header_and_cp_are_not_merged(public):
    r = parse_frame(public["P024"].frame)
    assert r.CN == "9014" and r.cp_fields["CN"] == "2051"
    assert r.QN is None and r.request_qn == "20040516010101001"


@pytest.mark.parametrize(
    ("pid", "utc"),
    [
        ("P008", datetime(2016, 8, 1, 0, 58, 57, tzinfo=UTC)),
        ("P027", datetime(2016, 8, 23, 16, 38, 17, tzinfo=UTC)),  # 17 digits: first 14
        ("P058", None),  # empty DataTime
        ("P001", None),  # no DataTime
    ],
)
def test_data_time_is_aware_utc(public, pid, utc):
    assert parse_frame(public[pid].frame).data_time == utc


# ------------------------------------------------------------------------------------ fuzz
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_parse_never_raises_on_bytes(data):
    r = parse_frame(data)
    assert r.valid is (not r.errors)
    assert set(r.errors) <= set(ERRORS) and set(r.warnings) <= set(WARNINGS)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_parse_never_raises_on_mutated_public(public, data):
    pid = data.draw(st.sampled_from(PUBLIC_IDS))
    frame = bytearray(public[pid].frame)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(frame) - 1))
        frame[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    r = parse_frame(bytes(frame[:cut]))
    assert set(r.errors) <= set(ERRORS)
    r.to_dict()


# ------------------------------------------------------------------------------------ answers and commands
@pytest.mark.parametrize(
    ("request_id", "builder", "answer_id"),
    [
        ("P008", data_response, "P009"),  # Table C.14: 9014 to a real-time upload
        ("P048", data_response, "P049"),  # 9014 as a platform sent it (its CRC printed in lower case)
        ("P025", data_response, "P024"),  # 2005: QN and CN inside CP, no PW/MN
        ("P006", notify_response, "P007"),  # Table C.4: 9013 to a 1013 time-calibration request
        ("P002", lambda r: request_response(r, 1), "P003"),  # Table C.1: 9011 QnRtn=1
        ("P002", lambda r: execution_response(r, 1), "P004"),  # 9012 ExeRtn=1
        ("P019", lambda r: request_response(r, 1), "P020"),  # 2005 9011: QN inside CP, Flag=0
    ],
)
def test_answers_match_the_standard_examples(public, request_id, builder, answer_id):
    built = builder(parse_frame(public[request_id].frame))
    assert built.endswith(b"\r\n")
    assert built[:-2].upper() == public[answer_id].frame.upper()


def test_9014_for_every_acked_upload(public):
    answered = 0
    for p in public.values():
        r = parse_frame(p.frame)
        if not (r.valid and r.role == "upload" and r.ack_requested):
            continue
        answered += 1
        ack = parse_frame(data_response(r))
        assert ack.valid and ack.raw.endswith(b"\r\n"), p.id
        assert (ack.QN, ack.ST, ack.CN, ack.MN, ack.PW) == (r.QN, "91", "9014", r.MN, r.PW), p.id
        assert ack.flag is not None and ack.flag.raw == r.version << 2 and not ack.flag.ack_A, p.id
        echo = parse_frame(data_response(r, style="echo"))
        assert (echo.ST, echo.Flag) == (r.ST, "5"), p.id
    assert answered >= 20


def test_commands_match_the_standard_examples(public):
    beijing = datetime(2016, 8, 1, 8, 58, 57, tzinfo=BEIJING)
    qn = make_qn(beijing.replace(microsecond=223000))
    assert qn == "20160801085857223"
    dev = {"st": "32", "mn": "010000A8900016F000169DC0", "pw": "123456", "qn": qn}
    sync = time_sync_command(**dev, system_time=beijing, pol_id="w01018")
    assert sync == public["P005"].frame + b"\r\n"
    hour = datetime(2016, 8, 1, 8, tzinfo=BEIJING)
    assert recall_command("2061", **dev, begin=hour, end=hour) == public["P013"].frame + b"\r\n"


def test_system_time_frame_serves_an_inbound_1011():
    request = parse_frame(build_command("1011", st="21", mn="DXCBZ000000005", pw="123456", qn="20210409111933000"))
    assert request.role == "request"
    now = datetime(2021, 4, 9, 3, 19, 33, tzinfo=UTC)
    answer = parse_frame(system_time_frame(request, now))
    assert answer.valid and answer.role == "upload" and not answer.ack_requested
    assert (answer.CN, answer.QN, answer.MN, answer.cp_fields) == (
        "1011", "20210409111933000", "DXCBZ000000005", {"SystemTime": "20210409111933"}
    )  # fmt: skip


def test_recall_command_version_0_and_checks():
    t0 = datetime(2004, 5, 6, 3, 10, tzinfo=UTC)
    t1 = datetime(2004, 5, 6, 7, 10, tzinfo=UTC)
    r = parse_frame(
        recall_command("2051", st="32", mn="88888880000001", pw="123456", qn="1", begin=t0, end=t1, version=0)
    )
    assert r.cp == "BeginTime=20040506111000,EndTime=20040506151000"
    assert r.Flag == "1" and r.role == "request"
    with pytest.raises(ValueError, match="not a recall"):
        recall_command("2011", st="32", mn="m", pw="p", qn="1", begin=t0, end=t1)
    with pytest.raises(ValueError, match="before"):
        recall_command("2051", st="32", mn="m", pw="p", qn="1", begin=t1, end=t0)


def test_build_upload_round_trip():
    t = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    frame = build_upload(
        "2051", st="31", mn="010000A8900016F000169DC0", pw="123456", qn=make_qn(t), data_time=t,
        pollutants={"a21026": {"Avg": "12.5", "Flag": "N"}, "a19001": {"Avg": "9.1", "Flag": "N"}},
        pnum=2, pno=1,
    )  # fmt: skip
    r = parse_frame(frame)
    assert r.valid and not r.warnings
    assert r.data_time == t and r.DataTime == "20260301080000"
    assert r.packetised and r.flag is not None and r.flag.raw == 7
    assert r.pollutants == {"a21026": {"Avg": "12.5", "Flag": "N"}, "a19001": {"Avg": "9.1", "Flag": "N"}}


# ------------------------------------------------------------------------------------ roles and values
@pytest.mark.parametrize(
    ("pid", "role"),
    [
        ("P008", "upload"),
        ("P095", "upload"),  # 1011 carrying SystemTime: a device's answer data
        ("P009", "answer"),
        ("P006", "notify"),
        ("P026", "notify"),  # 2005 alarm event
        ("P013", "request"),  # 2061 recall with BeginTime/EndTime
        ("P046", "request"),
        ("P001", "request"),  # 1062 set interval
        ("P102", "heartbeat"),  # vendor 9021
        ("P058", "upload"),  # vendor CN 5015
    ],
)
def test_message_role(public, pid, role):
    assert message_role(parse_frame(public[pid].frame)) == role


def test_measurements_2005_codes_and_units(public):
    ms = {m.code: m for m in measurements(parse_frame(public["P022"].frame), code_scheme="2005")}
    assert set(ms) == {"w00000", "w21011", "102"}
    assert ms["w21011"].code_raw == "101" and ms["w21011"].code_known and ms["w21011"].unit == "mg/L"
    assert not ms["102"].code_known and ms["102"].unit is None
    assert ms["w00000"].number("Rtd") == Decimal("100") and ms["w00000"].kind == "rtd"
    # The same frame under the 2017 scheme keeps the raw codes: never map by pattern.
    assert {m.code for m in measurements(parse_frame(public["P022"].frame))} == {"B01", "101", "102"}


def test_measurements_aliases_and_unit_hook(public):
    r = parse_frame(public["P035"].frame)
    ms = {m.code: m for m in measurements(r, aliases=codes.VENDOR_ALIASES["common"])}
    assert ms["a05024"].code_raw == "O3" and ms["a05024"].values == {"Rtd": "63.400", "Flag": "N"}
    la = {m.code: m for m in measurements(parse_frame(public["P044"].frame),
                                          key_aliases=codes.VENDOR_KEY_ALIASES["common"])}  # fmt: skip
    assert la["LA"].values == {"Rtd": "50.1", "Flag": "N"}
    air = {m.code: m for m in measurements(parse_frame(public["P039"].frame), units={"a21005": "µg/m³"})}
    assert air["a34004"].unit == "µg/m³"  # ST 22: PM in µg/m³, not the 2017 table's ng/m³
    assert air["a21026"].unit == "µg/m³"
    assert air["a21005"].unit == "µg/m³"  # the registry's unit wins
    assert air["a34004"].data_time == datetime(2022, 5, 13, 8, 26, tzinfo=UTC) and air["a34004"].kind == "min"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("09.676", Decimal("9.676")),
        ("-271.755", Decimal("-271.755")),
        ("235.05786874907", Decimal("235.05786874907")),
        ("1e3", Decimal("1e3")),
        ("N", None),
        ("", None),
        (None, None),
        ("NaN", None),
        ("inf", None),
        (" 1", None),
        ("1_000", None),
    ],
)
def test_parse_decimal(text, value):
    assert parse_decimal(text) == value


_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:", min_size=1, max_size=8)


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(
        _TOKEN.filter(lambda c: "-" not in c),
        st.dictionaries(_TOKEN, st.text(alphabet="0123456789.-+NFMSDCTB", max_size=10), min_size=1, max_size=4),
        max_size=12,
    ),
    st.sampled_from(["2011", "2051", "2061", "2031"]),
    st.integers(0, 2),
)
def test_build_parse_round_trip(pollutants, cn, version):
    """Whatever factors a device puts in, the parser gives back exactly (values verbatim)."""
    frame = build_upload(
        cn, st="31", mn="010000A8900016F000169DC0", pw="123456", qn="20260301080000000",
        data_time="20260301080000", pollutants=pollutants, version=version,
    )  # fmt: skip
    for raw in (frame, bytearray(frame), memoryview(frame)):
        r = parse_frame(raw)
        assert r.valid and r.accepted
        assert r.pollutants == pollutants
        assert r.cp_fields == {"DataTime": "20260301080000"}
        assert (r.version, r.CN) == (version, cn)
