"""PNUM/PNO reassembly (spec hj212.md §3.6 Packetised)."""

from __future__ import annotations

import pytest

from bogda.hj212.codec import build_upload, parse_frame
from bogda.hj212.reassembly import PacketAssembler, part_numbers


def part(n: int, total: int = 3, *, mn: str = "MN1", data_time: str = "20160801080000", qn_suffix: int = 0):
    return parse_frame(
        build_upload(
            "2061", st="32", mn=mn, pw="123456", qn=f"20160801085857{n + qn_suffix:03d}", data_time=data_time,
            pollutants={f"w0100{n}": {"Avg": str(n), "Flag": "N"}}, pnum=total, pno=n,
        )
    )  # fmt: skip


def test_public_two_part_message(public):
    """P014/P015: Table C.50 hourly upload in 2 parts (same DataTime, own QNs)."""
    asm = PacketAssembler()
    assert asm.add(parse_frame(public["P014"].frame), now=0.0) is None
    msg = asm.add(parse_frame(public["P015"].frame), now=2.0)
    assert msg is not None and msg.complete and msg.missing == []
    assert msg.key == ("010000A8900016F000169DC0", "2061", "20160801080000")
    assert sorted(msg.pollutants) == ["w00000", "w01001", "w01018"]
    assert len(asm) == 0


@pytest.mark.parametrize("order", [(1, 2, 3), (3, 1, 2), (2, 3, 1)])
def test_any_order(order):
    asm = PacketAssembler()
    results = [asm.add(part(n), now=float(i)) for i, n in enumerate(order)]
    assert results[:2] == [None, None]
    assert results[2] is not None and sorted(results[2].parts) == [1, 2, 3]


def test_not_packetised_passes_through(public):
    asm = PacketAssembler()
    for pid in ("P008", "P019", "P044"):  # P019/P044: D = 1 without PNUM/PNO
        msg = asm.add(parse_frame(public[pid].frame), now=0.0)
        assert msg is not None and msg.complete and msg.pnum == 1
    msg = asm.add(parse_frame(public["P025"].frame), now=0.0)  # 2005: PNUM=1;PNO=1 without Flag
    assert msg is not None and msg.complete and part_numbers(parse_frame(public["P025"].frame)) == (1, 1)


def test_timeout_with_explicit_clock():
    asm = PacketAssembler(timeout_s=600.0)
    asm.add(part(1), now=100.0)
    asm.add(part(3), now=200.0)
    assert asm.expire(now=699.0) == []
    [msg] = asm.expire(now=700.0)
    assert not msg.complete and msg.missing == [2] and len(asm) == 0


def test_separate_keys_and_duplicates():
    asm = PacketAssembler()
    assert asm.add(part(1, 2, mn="A"), now=0) is None
    assert asm.add(part(1, 2, mn="B"), now=0) is None
    assert asm.add(part(1, 2, mn="A", qn_suffix=50), now=1) is None  # resent part
    msg = asm.add(part(2, 2, mn="A"), now=2)
    assert msg is not None and msg.key[0] == "A" and "duplicate_part" in msg.notes
    assert len(asm) == 1


def test_max_groups_gives_up_oldest():
    asm = PacketAssembler(max_groups=2)
    for i in range(3):
        asm.add(part(1, 2, data_time=f"2016080108{i:02d}00"), now=float(i))
    assert len(asm) == 2
    [oldest] = asm.expire(now=3.0)
    assert oldest.key[2] == "20160801080000"


def test_bad_part_numbers_are_noted():
    r = parse_frame(build_upload("2061", st="32", mn="M", pw="1", qn="1", pnum=2, pno=5))
    assert part_numbers(r) is None
    msg = PacketAssembler().add(r, now=0)
    assert msg is not None and msg.notes == ["bad_part_numbers"]
