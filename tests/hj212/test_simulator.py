"""Simulator: determinism, value models, faults with the verdicts they imply, answers, loopback client
(spec hj212.md §3.8, §3.10, §9.9)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bogda.hj212 import codes
from bogda.hj212.codec import (
    build_command,
    data_response,
    make_qn,
    parse_frame,
    recall_command,
    time_sync_command,
)
from bogda.hj212.crc import variant_crc_hex
from bogda.hj212.framing import FrameReader
from bogda.hj212.simulator import (
    FAULT_NAMES,
    AnswerConfig,
    FaultConfig,
    Simulator,
    make_fleet,
    run_devices,
)

START = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)  # 08:00 Beijing, heating season


def fleet(n=3, **kw):
    return make_fleet(n, kinds="cems:1,wastewater:1,air:1", seed=7, **kw)


def test_same_seed_same_bytes_and_manifest():
    runs = []
    for _ in range(2):
        sim = Simulator(fleet(), faults=FaultConfig.parse("crc=0.1,glued=0.1,split=0.1,junk=0.1"), seed=7)
        frames = list(sim.frames(START, START + timedelta(minutes=30)))
        runs.append(([f.manifest_record() for f in frames], list(sim.writes(frames))))
    assert runs[0][0] == runs[1][0]
    assert [w[1] for w in runs[0][1]] == [w[1] for w in runs[1][1]]
    other = Simulator(make_fleet(3, kinds="cems:1,wastewater:1,air:1", seed=8), seed=8)
    assert [f.data for f in other.frames(START, START + timedelta(minutes=5))] != [
        f.data for f in Simulator(fleet(), seed=7).frames(START, START + timedelta(minutes=5))
    ]


def test_fleet_shares_and_identities():
    devices = make_fleet(100, kinds="cems:60,wastewater:30,air:10", version="mix", seed=1)
    assert Counter(d.kind for d in devices) == {"cems": 60, "wastewater": 30, "air": 10}
    assert len({d.mn for d in devices}) == 100
    for d in devices:
        assert len(d.mn) == (24 if d.version else 14) and len(d.pw) == 6
    assert {d.version for d in devices} == {0, 1, 2}
    with pytest.raises(ValueError, match="device kind"):
        make_fleet(3, kinds="boiler:1")
    with pytest.raises(ValueError, match="outside"):
        make_fleet(0)


def test_schedule_one_hour():
    d = fleet(1)[0]
    events = list(d.schedule(START, START + timedelta(hours=1, seconds=1)))
    counts = Counter(cn for _, cn, _ in events)
    assert counts == {"2011": 121, "2051": 7, "2061": 2}  # both ends of the hour included
    minute = [(t, dt) for t, cn, dt in events if cn == "2051"]
    assert all(t - dt == timedelta(minutes=10) for t, dt in minute)  # DataTime = interval start
    day = list(d.schedule(START, START + timedelta(days=1)))
    [(t_day, _, dt_day)] = [e for e in day if e[1] == "2031"]
    assert t_day.astimezone(codes_beijing()).hour == 0 and t_day - dt_day == timedelta(days=1)


def codes_beijing():
    from bogda.timeutil import BEIJING

    return BEIJING


def test_frames_parse_valid_with_realistic_values():
    sim = Simulator(fleet(), seed=7)
    frames = list(sim.frames(START, START + timedelta(hours=2)))
    o2_load = []
    for f in frames:
        r = parse_frame(f.data)
        assert r.valid and r.accepted and not r.warnings, f.data[:80]
        assert f.mn == r.MN and f.qn == r.QN and r.ack_requested
        for code, values in r.pollutants.items():
            assert values["Flag"] in codes.FLAGS_2017, code
            if "Min" in values:
                assert Decimal(values["Min"]) <= Decimal(values["Avg"]) <= Decimal(values["Max"])
        if r.ST == "32" and r.CN == "2011":
            assert Decimal("6.5") <= Decimal(r.pollutants["w01001"]["Rtd"]) <= Decimal("8.5")
        if r.ST == "31" and r.CN == "2011" and r.pollutants["i33400"]["Flag"] == "N":
            o2_load.append((float(r.pollutants["a19001"]["Rtd"]), float(r.pollutants["i33400"]["Rtd"])))
            assert float(r.pollutants["a21026"]["ZsRtd"]) > float(r.pollutants["a21026"]["Rtd"])  # O2 > 6 %
        if r.ST == "22" and r.CN == "2011":
            assert 0 <= float(r.pollutants["a34004"]["Rtd"]) <= float(r.pollutants["a34002"]["Rtd"]) < 2000
    # O2 falls as the load rises (CEMS model).
    n = len(o2_load)
    mo, ml = sum(o for o, _ in o2_load) / n, sum(load for _, load in o2_load) / n
    assert sum((o - mo) * (load - ml) for o, load in o2_load) < 0


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_each_fault_shows_in_the_parse(fault):
    sim = Simulator(fleet(), faults=FaultConfig({fault: 1.0}), seed=7)
    frames = list(sim.frames(START, START + timedelta(minutes=11)))
    assert frames
    for f in frames:
        r = parse_frame(f.data)
        assert r.valid is f.strict_valid and r.accepted is f.lenient_accepted, (fault, r.errors)
        if fault in f.faults:
            check_fault(fault, f, r)


def check_fault(fault, f, r):
    expectations = {
        "crc": lambda: r.errors == ["crc_mismatch"] and r.crc_variant_detected is None,
        "modbus_crc": lambda: r.crc_variant_detected == "modbus_be",
        # (a Modbus CRC with two equal bytes reads the same both ways and is reported as modbus_be)
        "modbus_swapped": lambda: (
            r.crc_variant_detected in ("modbus_byteswapped", "modbus_be")
            and variant_crc_hex(f.data[6:-6], "modbus_byteswapped") == r.crc_given
        ),
        "lowercase_crc": lambda: r.valid and (r.crc_note == "lowercase_hex") == (r.crc_given != r.crc_given.upper()),
        "wrong_len": lambda: r.errors == ["length_mismatch"],
        "no_crlf": lambda: not f.data.endswith(b"\r\n") and r.valid,
        "no_flag": lambda: "no_Flag" in r.warnings and not f.ack_expected,
        "no_qn": lambda: "no_QN" in r.warnings,
        "oversize": lambda: "length_over_1024" in r.errors and r.accepted,
        "gbk": lambda: "decoded_gb18030" in r.notes and r.pollutants["i11001"]["Info"] == "//设备运行正常//",
        "alias": lambda: not set(r.pollutants) & set(codes.VENDOR_ALIASES["common"].values()),
        "codes2005": lambda: not set(r.pollutants) & set(codes.CODE_2017_TO_2005),
        "wrong_pw": lambda: r.PW == "000000" and not f.ack_expected,
    }
    assert expectations.get(fault, lambda: r.valid)(), (fault, r.to_dict())


def test_stream_faults_recovered_by_the_framer():
    sim = Simulator(fleet(), faults=FaultConfig.parse("glued=0.3,split=0.3,junk=0.3,no_crlf=0.2,duplicate=0.1"), seed=7)
    frames = list(sim.frames(START, START + timedelta(minutes=30)))
    for device in sim.devices:
        mine = [f for f in frames if f.mn == device.mn]
        reader = FrameReader()
        got = []
        for mn, data, _ in sim.writes(mine):
            assert mn == device.mn
            got += [it.data for it in reader.feed(data) if it.kind == "frame"]
        got += [it.data for it in reader.close() if it.kind == "frame"]
        expected = []
        for f in mine:
            expected += [f.data.removesuffix(b"\r\n")] * (2 if "duplicate" in f.faults else 1)
        assert got == expected


def test_faults_parse_rejects_unknown():
    with pytest.raises(ValueError, match="unknown fault"):
        FaultConfig.parse("teleport=0.1")
    with pytest.raises(ValueError, match="outside"):
        FaultConfig.parse("crc=2")
    assert AnswerConfig.parse("qnrtn=2,silent=0.5") == AnswerConfig(qnrtn=2, silent=0.5)
    drift = FaultConfig.parse("crc=0.1,clock_drift_s=300")
    assert drift.clock_drift_s == 300 and drift.probabilities == {"crc": 0.1}
    devices = fleet()
    Simulator(devices, faults=drift, seed=1)
    assert all(0 < abs(d.clock_offset_s) <= 300 for d in devices)


# ------------------------------------------------------------------------------------ answers
def command_for(device, cn, **kw):
    qn = make_qn(START + timedelta(hours=5, seconds=-1))
    if cn == "1012":
        frame = time_sync_command(st=device.st, mn=device.mn, pw=device.pw, qn=qn, system_time=kw["system_time"])
    elif cn in codes.RECALL_CN:
        frame = recall_command(cn, st=device.st, mn=device.mn, pw=device.pw, qn=qn, begin=kw["begin"], end=kw["end"])
    else:
        frame = build_command(cn, st=device.st, mn=device.mn, pw=device.pw, qn=qn)
    return parse_frame(frame)


def test_time_sync_answer_sets_the_clock():
    device = fleet(1, clock_drift_s=300)[0]
    assert device.clock_offset_s != 0
    now = START + timedelta(hours=5)
    answers = [parse_frame(a) for a in device.answer(command_for(device, "1012", system_time=now), now)]
    assert [(a.CN, a.cp_fields) for a in answers] == [("9011", {"QnRtn": "1"}), ("9012", {"ExeRtn": "1"})]
    assert all(a.valid and make_qn(now - timedelta(seconds=1)) == a.QN for a in answers)
    assert device.clock_offset_s == 0


def test_recall_resends_the_first_values():
    sim = Simulator(fleet(1), seed=7)
    device = sim.devices[0]
    first = {
        f.data_time: parse_frame(f.data)
        for f in sim.frames(START, START + timedelta(hours=4, seconds=1))
        if f.cn == "2061"
    }
    begin, end = START + timedelta(hours=1), START + timedelta(hours=3)
    cmd = command_for(device, "2061", begin=begin, end=end)
    answers = [parse_frame(a) for a in device.answer(cmd, START + timedelta(hours=5))]
    assert [a.CN for a in answers] == ["9011", "2061", "2061", "2061", "9012"]
    assert answers[-1].cp_fields == {"ExeRtn": "1"}
    for a in answers[1:-1]:
        assert a.valid and a.QN != cmd.QN
        assert a.pollutants == first[a.data_time].pollutants
    empty = command_for(device, "2061", begin=START + timedelta(days=3), end=START + timedelta(days=3))
    assert parse_frame(device.answer(empty, START + timedelta(hours=5))[-1]).cp_fields == {"ExeRtn": "100"}


@pytest.mark.parametrize(
    ("cn", "config", "expected"),
    [
        ("1012", AnswerConfig(qnrtn=2), [("9011", "QnRtn", "2")]),
        ("1012", AnswerConfig(silent=1.0), []),
        ("1012", AnswerConfig(missing_9011=1.0), [("9012", "ExeRtn", "1")]),
        ("1012", AnswerConfig(exe=5), [("9011", "QnRtn", "1"), ("9012", "ExeRtn", "5")]),
        ("2012", AnswerConfig(), [("9013", None, None)]),
        ("3011", AnswerConfig(), [("9011", "QnRtn", "2")]),
        ("1011", AnswerConfig(), [("9011", "QnRtn", "1"), ("1011", "SystemTime", "20260115130000"),
                                  ("9012", "ExeRtn", "1")]),
    ],
)  # fmt: skip
def test_answer_options(cn, config, expected):
    device = fleet(1)[0]
    now = START + timedelta(hours=5)
    cmd = command_for(device, cn, system_time=now)
    got = []
    for a in map(parse_frame, device.answer(cmd, now, config)):
        assert a.valid
        key = next(iter(a.cp_fields), None)
        got.append((a.CN, key, a.cp_fields.get(key) if key else None))
    assert got == expected


# ------------------------------------------------------------------------------------ loopback client
async def test_run_devices_against_a_minimal_acker():
    """A tiny 9014 server stands in for the gateway: every A = 1 upload is acked, one recall answered."""
    received: list[bytes] = []
    commands_sent = asyncio.Event()

    async def handle(reader, writer):
        framer = FrameReader()
        sent_command = False
        while chunk := await reader.read(65536):
            for item in framer.feed(chunk):
                r = parse_frame(item.data)
                received.append(item.data)
                if r.accepted and r.role == "upload" and r.ack_requested:
                    writer.write(data_response(r))
                    if not sent_command and r.CN == "2011":
                        sent_command = True
                        writer.write(build_command("1011", st=r.ST, mn=r.MN, pw=r.PW, qn="20260115130000001"))
                        commands_sent.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    devices = fleet()
    async with server:
        report = await run_devices(
            "127.0.0.1", port, devices, start=START, end=START + timedelta(minutes=20),
            faults=FaultConfig.parse("split=0.2,glued=0.2,crc=0.05"), seed=7, timeout_s=20, over_time_s=0.3,
            re_count=1,
        )  # fmt: skip
    expected_acks = sum(1 for _ in report.manifest)  # every frame is an upload asking for an ack ...
    bad_crc = sum("crc" in m["faults"] for m in report.manifest)  # ... except those with a broken CRC
    assert report.sent == expected_acks
    assert report.acked == expected_acks - bad_crc and report.unacked == bad_crc
    assert report.resent == bad_crc  # re_count = 1: each unanswered frame is re-sent once
    assert report.missing_acks == 0 and report.unexpected_acks == 0
    assert {(a["mn"], a["qn"]) for a in report.acked_log} <= {(m["mn"], m["qn"]) for m in report.manifest}
    assert commands_sent.is_set() and report.commands == len(devices)
    answered = [parse_frame(f) for f in received if parse_frame(f).CN in ("9011", "9012", "1011")]
    assert Counter(a.CN for a in answered) == {"9011": 3, "1011": 3, "9012": 3}


async def test_run_devices_reconnects_after_drop_conn():
    async def handle(reader, writer):
        framer = FrameReader()
        while chunk := await reader.read(65536):
            for item in framer.feed(chunk):
                r = parse_frame(item.data)
                if r.accepted and r.ack_requested:
                    writer.write(data_response(r))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        report = await run_devices(
            "127.0.0.1", port, fleet(2), start=START, end=START + timedelta(minutes=10),
            faults=FaultConfig.parse("drop_conn=0.2,clock_drift_s=120"), seed=3, timeout_s=20, linger_s=0.05,
        )  # fmt: skip
    drops = sum("drop_conn" in m["faults"] for m in report.manifest)
    assert drops > 0 and report.connections == 2 + drops
    assert report.sent == report.acked == len(report.manifest) and report.missing_acks == 0


async def test_run_devices_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        await run_devices("10.0.0.1", 20212, fleet(1), start=START, end=START)


@pytest.mark.parametrize(
    ("version", "flag", "warnings"),
    [
        ("2005", None, ["no_QN", "no_Flag", "MN_not_24_hex (2017 EPC-96 form)"]),  # 2005 uploads: no QN, no Flag
        ("2025", "9", []),
    ],
)
def test_versions(version, flag, warnings):
    sim = Simulator(make_fleet(3, kinds="cems:1,wastewater:1,air:1", version=version, seed=2), seed=2)
    for f in sim.frames(START, START + timedelta(minutes=2)):
        r = parse_frame(f.data)
        assert r.valid and r.Flag == flag and r.warnings == warnings
        assert f.ack_expected is (version != "2005")
        if f.ack_expected:
            assert parse_frame(data_response(r)).Flag == "8"


@pytest.mark.parametrize(
    ("cn", "begin", "end", "count"),
    [
        ("2051", START, START + timedelta(hours=1), 7),  # every 10 min, both ends included
        ("2031", START - timedelta(hours=8), START + timedelta(days=1, hours=-8), 2),  # Beijing midnights
        ("2041", START - timedelta(hours=8), START + timedelta(days=1, hours=-8), 2),
    ],
)
def test_recall_slot_counts(cn, begin, end, count):
    device = fleet(1)[0]
    now = START + timedelta(days=3)
    answers = [parse_frame(a) for a in device.answer(command_for(device, cn, begin=begin, end=end), now)]
    assert [a.CN for a in answers] == ["9011", *[cn] * count, "9012"]
    assert all(a.valid for a in answers)
    if cn == "2041":
        assert all(float(a.pollutants["SB1"]["RT"]) <= 24 for a in answers[1:-1])
    assert [a.data_time for a in answers[1:-1]] == [begin + i * (end - begin) / (count - 1) for i in range(count)]
