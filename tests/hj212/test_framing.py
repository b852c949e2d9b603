"""Stream framer: chunking, separators, junk, scanners, buffer caps, partial frames (spec hj212.md §3.1, §9.4)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bogda.hj212.codec import build_frame, parse_frame
from bogda.hj212.framing import SCANNER_SIGNATURES, FrameReader, StreamItem

FIXTURE_OK = [HealthCheck.function_scoped_fixture]
TLS_CLIENT_HELLO = bytes.fromhex("160301020001000100fc0303") + bytes(range(32)) + b"\x00\x20\x13\x01\x13\x02"
JUNK = [
    b"GET / HTTP/1.1\r\nHost: 10.0.0.1\r\nUser-Agent: zgrab/0.x\r\n\r\n",
    TLS_CLIENT_HELLO,
    b"SSH-2.0-Go\r\n",
    b"\x00\x00\x00\x00",
    b"###",
    b"##abcd",
    b"##1234",
    b"##0000",
]


def run(stream: bytes, chunks: list[int] | None = None, reader: FrameReader | None = None) -> tuple[list, FrameReader]:
    reader = reader or FrameReader()
    items: list[StreamItem] = []
    i = 0
    for size in chunks or [len(stream)]:
        items += reader.feed(stream[i : i + size])
        i += size
    items += reader.feed(stream[i:])
    items += reader.close()
    return items, reader


def frames_of(items: list[StreamItem]) -> list[bytes]:
    return [it.data for it in items if it.kind == "frame"]


def random_chunks(rng: random.Random, total: int, lo: int = 1, hi: int = 1500) -> list[int]:
    sizes = []
    while sum(sizes) < total:
        sizes.append(rng.randint(lo, hi))
    return sizes


@pytest.mark.parametrize("sep", [b"\r\n", b"\n", b""], ids=["crlf", "lf", "none"])
def test_public_frames_any_chunking(public, sep):
    """Spec §9.4: the 103 frames joined by CRLF, LF or nothing, 1-1500-byte chunks, 30 seeds."""
    frames = [p.frame for p in public.values()]
    stream = sep.join(frames) + sep
    for seed in range(30):
        items, reader = run(stream, random_chunks(random.Random(seed), len(stream)))
        assert frames_of(items) == frames, seed
        assert reader.stats.junk_bytes == 0 and reader.stats.scanner is None
        # Only the frames with a wrong LEN had to be cut at a delimiter (P052, P059, P060).
        assert [it.data[:30] for it in items if it.delimited] == [
            public[pid].frame[:30] for pid in ("P052", "P059", "P060")
        ]


def test_public_frames_with_junk(public):
    """Spec §9.4: junk after CRLF-terminated frames -> exactly the frames, junk counted, no exception."""
    frames = [p.frame for p in public.values()]
    for seed in range(30):
        rng = random.Random(seed)
        stream = b"".join(f + b"\r\n" + (rng.choice(JUNK) if rng.random() < 0.5 else b"") for f in frames)
        items, reader = run(stream, random_chunks(rng, len(stream)))
        assert frames_of(items) == frames, seed
        assert reader.stats.junk_bytes > 0 and reader.stats.scanner is None
        junk = b"".join(it.data for it in items if it.kind == "junk")
        assert b"SSH-2.0-Go" in junk or b"GET /" in junk or b"##" in junk


@pytest.mark.parametrize("signature", list(SCANNER_SIGNATURES))
def test_scanner_first_bytes(signature):
    stream = signature + b"/ HTTP/1.1\r\nHost: x\r\n\r\n" + b"A" * 300
    for split in (1, 2, len(signature), len(stream)):
        reader = FrameReader()
        items = reader.feed(stream[:split]) + reader.feed(stream[split:])
        assert [it.kind for it in items] == ["scanner"]
        # The bytes seen so far, at most 256, are kept as evidence.
        seen = len(stream) if split < len(signature) else split
        assert items[0].data == stream[: min(256, seen)]
        assert reader.closed and reader.stats.scanner == SCANNER_SIGNATURES[signature]
        assert reader.feed(b"##0087") == []


def test_scanner_not_after_first_frame(public):
    items, reader = run(public["P001"].frame + b"\r\nGET / HTTP/1.1\r\n\r\n" + public["P002"].frame)
    assert frames_of(items) == [public["P001"].frame, public["P002"].frame]
    assert reader.stats.scanner is None


def test_junk_before_first_frame_limit(public):
    reader = FrameReader(max_junk_before_first_frame=100)
    items = reader.feed(b"x" * 60) + reader.feed(b"y" * 60)
    assert items[-1].kind == "scanner" and reader.stats.scanner == "junk_before_first_frame"
    # Whitespace does not count.
    reader = FrameReader(max_junk_before_first_frame=100)
    items = reader.feed(b"\r\n" * 200 + public["P001"].frame + b"\r\n")
    assert frames_of(items) == [public["P001"].frame]


def test_buffer_cap_with_huge_length_field():
    reader = FrameReader(max_segment_len=4096, max_junk_before_first_frame=0)
    reader.feed(b"##9999")
    for _ in range(50):
        reader.feed(b"x" * 1000)
        assert reader.buffered <= 6 + 4096 + 6 + 1000
    assert reader.stats.frames == 0 and reader.stats.junk_bytes > 40_000
    # The reader resynchronises on the next frame.
    items = reader.feed(b"##0087QN=20201015123632010;ST=91;CN=9014;PW=123456;MN=410183160889201000212505;Flag=4;"
                        b"CP=&&&&f001\r\n")  # fmt: skip
    assert [it.kind for it in items] == ["frame"]


def test_buffer_cap_with_plausible_length_and_no_delimiter():
    reader = FrameReader(max_segment_len=4096, max_junk_before_first_frame=0)
    reader.feed(b"##4000QN=1;")
    for _ in range(30):
        reader.feed(b"a" * 1000)
        assert reader.buffered <= 6 + 4096 + 6 + 1000


def test_partial_frame_flush_after_idle(public):
    """A frame with a wrong LEN and no terminator comes out after partial_frame_flush_s (spec §3.1 step 6)."""
    frame = public["P059"].frame  # LEN 90 for 81 bytes
    reader = FrameReader(partial_frame_flush_s=5.0)
    assert reader.feed(frame, now=100.0) == []
    assert reader.poll(104.0) == []
    items = reader.poll(105.5)
    assert [(it.kind, it.data, it.delimited) for it in items] == [("frame", frame, True)]
    assert not reader.closed and reader.buffered == 0


def test_frame_without_terminator_is_emitted_when_confirmed(public):
    """A correct frame needs no CR LF: its closing && or CRC confirms LEN."""
    reader = FrameReader()
    assert frames_of(reader.feed(public["P052"].frame[:50])) == []
    assert frames_of(reader.feed(public["P001"].frame[:0])) == []
    reader = FrameReader()
    assert frames_of(reader.feed(public["P001"].frame)) == [public["P001"].frame]


def test_wrong_len_frame_glued_to_junk_keeps_junk_out(public):
    """Step 4: a delimited candidate is cut after its last verifying &&+CRC; the rest is junk."""
    frame = public["P059"].frame
    items, _ = run(frame + b"GARBAGE-NOISE\r\n" + public["P001"].frame + b"\r\n")
    assert frames_of(items) == [frame, public["P001"].frame]
    assert [it.data for it in items if it.kind == "junk"] == [b"GARBAGE-NOISE\r\n"]


def test_short_candidates_are_junk():
    items, reader = run(b"##1234\r\n##0000\r\n")
    assert frames_of(items) == []
    assert reader.stats.short_candidates == 2


# ------------------------------------------------------------------------------------ property tests
@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.data())
def test_fuzz_random_chunking_and_separators(public, data):
    ids = data.draw(st.lists(st.sampled_from(sorted(public)), min_size=1, max_size=25))
    frames = [public[i].frame for i in ids]
    seps = data.draw(st.lists(st.sampled_from([b"\r\n", b"\n", b""]), min_size=len(frames), max_size=len(frames)))
    stream = b"".join(f + s for f, s in zip(frames, seps, strict=True))
    chunks = data.draw(st.lists(st.integers(1, 700), max_size=40))
    items, reader = run(stream, chunks)
    assert frames_of(items) == frames
    assert reader.buffered == 0


@settings(max_examples=120, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.data())
def test_fuzz_byte_flips(public, data):
    """Flipped bytes never raise, and every frame whose bytes and CR LF are untouched is recovered."""
    ids = data.draw(st.lists(st.sampled_from(sorted(public)), min_size=1, max_size=15))
    spans, stream = [], bytearray()
    for i in ids:
        spans.append((len(stream), len(stream) + len(public[i].frame)))
        stream += public[i].frame + b"\r\n"
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(stream) - 1), st.integers(0, 255)), max_size=6))
    for pos, value in flips:
        stream[pos] = value
    chunks = data.draw(st.lists(st.integers(1, 500), max_size=30))
    items, _ = run(bytes(stream), chunks)
    got = frames_of(items)
    for (a, b), i in zip(spans, ids, strict=True):
        if not any(a - 2 <= pos < b + 2 for pos, _ in flips):
            assert public[i].frame in got
    for frame in got:
        parse_frame(frame)


@settings(max_examples=100, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.data())
def test_fuzz_truncation(public, data):
    ids = data.draw(st.lists(st.sampled_from(sorted(public)), min_size=1, max_size=10))
    stream = b"".join(public[i].frame + b"\r\n" for i in ids)
    cut = data.draw(st.integers(0, len(stream)))
    items, _ = run(stream[:cut], data.draw(st.lists(st.integers(1, 400), max_size=20)))
    got = frames_of(items)
    end = 0
    complete = []
    for i in ids:
        end += len(public[i].frame)
        if end <= cut:
            complete.append(public[i].frame)
        end += 2
    assert got[: len(complete)] == complete
    assert len(got) <= len(complete) + 1


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(1, 600), max_size=20))
def test_fuzz_arbitrary_bytes(stream, chunks):
    items, reader = run(stream, chunks, FrameReader(detect_scanners=False, max_junk_before_first_frame=0))
    total = sum(len(it.data) for it in items)
    assert total <= len(stream)
    assert reader.buffered == 0


def test_built_frames_survive_any_chunking():
    frames = [build_frame(f"ST=32;CN=2011;MN=m{i};CP=&&DataTime=20260101000000;a-Rtd={i}&&", crlf=False)
              for i in range(200)]  # fmt: skip
    stream = b"\r\n".join(frames)
    items, _ = run(stream, [1] * 500 + [7] * 300 + [3000] * 20)
    assert frames_of(items) == frames
