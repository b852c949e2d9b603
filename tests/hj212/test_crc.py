"""CRC of HJ 212-2017 Appendix A and the Modbus variants (spec hj212.md §2.2, §9.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bogda.hj212.crc import (
    TABLE,
    VariantPinner,
    crc_hex,
    crc_hj212,
    crc_hj212_bitwise,
    crc_matches,
    crc_modbus,
    detect_variant,
    variant_crc_hex,
)

P001_SEG = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"


def test_table_is_the_appendix_a_table():
    # Table entries of the reflected 0xA001 polynomial published with the standard's C example.
    assert TABLE[:4] == (0x0000, 0xC0C1, 0xC181, 0x0140)
    assert TABLE[255] == 0x4040
    assert len(set(TABLE)) == 256


@pytest.mark.parametrize(
    ("segment", "hj212", "modbus"),
    [
        (P001_SEG, "1C80", "0759"),  # the standard's worked example (its prose says 1C08: a typo)
        (b"", "FFFF", "FFFF"),
        (b"123456789", None, "4B37"),  # CRC-16/MODBUS check value
    ],
)
def test_known_values(segment, hj212, modbus):
    if hj212 is not None:
        assert crc_hex(segment) == hj212
    assert f"{crc_modbus(segment):04X}" == modbus


def test_public_segments_table_equals_bitwise(public):
    for p in public.values():
        seg = p.frame[6:-4]
        assert crc_hj212(seg) == crc_hj212_bitwise(seg), p.id
        assert crc_hex(seg) == p.expected["crc_computed"], p.id


def test_p018_gbk_segment(public):
    """Encoding changes the bytes and so the CRC: UTF-8 9741, GBK DEC1 (spec §2.5)."""
    seg = public["P018"].frame[6:-4]
    assert crc_hex(seg) == "9741"
    assert crc_hex(seg.decode("utf-8").encode("gbk")) == "DEC1"


def test_p055_byteswapped_modbus(public):
    seg = public["P055"].frame[6:-4]
    assert detect_variant(seg, "A6EC") == "modbus_byteswapped"
    assert detect_variant(seg, "ECA6") == "modbus_be"
    assert detect_variant(seg, "a6ec") == "modbus_byteswapped"
    assert crc_matches(seg, "A6EC", ("hj212", "modbus_be")) is None
    assert crc_matches(seg, "A6EC") == "modbus_byteswapped"


@given(st.binary(max_size=300))
def test_bitwise_oracle_and_256_outputs(data):
    value = crc_hj212(data)
    assert value == crc_hj212_bitwise(data)
    # The register keeps only its high byte between steps, so every output is a table entry (or FFFF).
    assert value in TABLE or (data == b"" and value == 0xFFFF)


@given(st.binary(max_size=200), st.sampled_from(["hj212", "modbus_be", "modbus_byteswapped"]))
def test_variant_round_trip(data, variant):
    printed = variant_crc_hex(data, variant)
    assert crc_matches(data, printed, (variant,)) == variant
    assert crc_matches(data, printed.lower(), (variant,)) == variant


def test_variant_pinning(public):
    """P055 (byte-swapped Modbus) three times in a row pins the variant; a standard CRC resets the count."""
    from bogda.hj212.codec import parse_frame

    p055 = parse_frame(public["P055"].frame, crc_mode="auto")
    p001 = parse_frame(public["P001"].frame, crc_mode="auto")
    pinner = VariantPinner(pin_frames=3)
    seq = [p055, p055, p001, p055, p055, p055, p055]
    assert [pinner.observe(r.crc_algorithm) for r in seq] == [None, None, None, None, None, "modbus_byteswapped", None]
    assert pinner.pinned == "modbus_byteswapped"


@given(st.binary(min_size=0, max_size=5000))
def test_folded_crc_equals_the_byte_loop_and_the_bitwise_oracle(data):
    from bogda.hj212.crc import _crc_loop

    assert crc_hj212(data) == _crc_loop(data) == crc_hj212_bitwise(data)


@pytest.mark.parametrize("n", [23, 24, 25, 63, 64, 65, 127, 128, 129, 1024, 1025, 4096])
def test_folded_crc_at_word_boundaries(n):
    from bogda.hj212.crc import _crc_loop

    data = bytes((i * 37 + 11) % 256 for i in range(n))
    assert crc_hj212(data) == _crc_loop(data) == crc_hj212_bitwise(data)
    # one flipped byte changes the CRC (the fold keeps every byte's position)
    flipped = bytes([data[0] ^ 0x01]) + data[1:]
    assert crc_hj212(flipped) == crc_hj212_bitwise(flipped) != crc_hj212(data)
