"""Column-packed read cache of sealed time blocks (SQLite and PostgreSQL).

Why: SQLite hands rows to Python one at a time, so a year of hourly data for 600 series (5.3 M rows) takes ~10 s
to read row-wise, against a target of 3 s; PostgreSQL's binary ``COPY`` through ADBC is column-wise but still
spends ~0.7 s per million rows encoding, sending and decoding tuples (4.75 s for the same year). ``observation``
stays the only source of truth; this cache keeps, per series and fixed time block, the block's rows packed as NumPy
arrays in one BLOB (a year is ~7,800 blobs instead of 5.3 M tuples). A write that touches a block deletes it (inside
the same transaction), and a block is packed again on the next read once it is *sealed* (its end lies more than
:data:`SEAL_AFTER` in the past: open blocks change all the time and are read row-wise).

Blob layout (little-endian): ``uint32 n, uint16 len(vocab)``, the flag vocabulary as ``|``-joined ASCII, then
``int64 ts[n]``, ``float64 value[n]`` (NaN encodes NULL: the write path rejects non-finite values), ``uint8 code[n]``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np

BLOCK_SECONDS = {"rt": 3_600, "min": 86_400, "hour": 2_592_000, "day": 31_536_000}
"""Span of one block per resolution (~720 hourly, 1,440 minute or 365 daily values)."""

SEAL_AFTER = 2 * 86_400
"""Seconds after a block's end before it is cached: late data and re-polls settle within this window."""

_HEAD = struct.Struct("<IH")

BLOCK_SQL = (
    "CASE r.resolution " + " ".join(f"WHEN '{res}' THEN s.ts / {span}" for res, span in BLOCK_SECONDS.items()) + " END"
)
"""SQL expression of the block of staged row ``s`` of series ``r`` (used by the write path to invalidate)."""


MAX_VOCAB = 255
"""Distinct flags one blob can hold (codes are ``uint8``)."""


def pack(ts: np.ndarray, value: np.ndarray, flags: Iterable[str]) -> bytes:
    """Pack one block's rows (sorted by ``ts``)."""
    flag_list = list(flags)
    vocab = sorted(set(flag_list))
    index = {f: i for i, f in enumerate(vocab)}
    codes = np.fromiter((index[f] for f in flag_list), dtype=np.uint8, count=len(flag_list))
    return pack_codes(ts, value, codes, vocab)


def pack_codes(ts: np.ndarray, value: np.ndarray, codes: np.ndarray, vocab: Sequence[str]) -> bytes:
    """Pack one block's rows whose flags are already ``codes`` into ``vocab`` (at most :data:`MAX_VOCAB`)."""
    if len(vocab) > MAX_VOCAB:
        raise ValueError(f"{len(vocab)} distinct flags in one block; a block holds at most {MAX_VOCAB}")
    voc = "|".join(vocab).encode("ascii")
    return b"".join(
        (
            _HEAD.pack(len(ts), len(voc)),
            voc,
            np.ascontiguousarray(ts, dtype="<i8").tobytes(),
            np.ascontiguousarray(value, dtype="<f8").tobytes(),
            np.ascontiguousarray(codes, dtype=np.uint8).tobytes(),
        )
    )


def pack_frame(
    series_id: np.ndarray, ts: np.ndarray, value: np.ndarray, codes: np.ndarray, vocab: Sequence[str], resolution: str
) -> list[tuple[int, int, int, bytes]]:
    """Pack rows of many series into ``(series_id, block, rows, blob)``, one per series and block.

    The rows must be sorted by ``series_id`` then ``ts``; NULL values must already be NaN; flags are given as
    ``codes`` into ``vocab``, which all blobs share, so packing is one vectorised pass plus a slice per block.

    >>> out = pack_frame(np.array([7, 7, 8]), np.array([0, 3600, 0]), np.array([1.0, 2.0, 3.0]),
    ...                  np.array([1, 0, 1]), ["D", "N"], "hour")
    >>> [(s, b, n) for s, b, n, _ in out]
    [(7, 0, 2), (8, 0, 1)]
    >>> ts, v, c, voc = unpack(out[0][3])
    >>> ts.tolist(), [voc[i] for i in c]
    ([0, 3600], ['N', 'D'])
    """
    if len(ts) == 0:
        return []
    block = ts // BLOCK_SECONDS[resolution]
    edges = np.flatnonzero((np.diff(series_id) != 0) | (np.diff(block) != 0)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(ts)]))
    return [
        (int(series_id[a]), int(block[a]), int(b - a), pack_codes(ts[a:b], value[a:b], codes[a:b], vocab))
        for a, b in zip(starts, ends, strict=True)
    ]


def unpack(blob: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``ts, value, codes, vocab`` of a packed block.

    >>> ts, v, c, voc = unpack(pack(np.array([0, 3600]), np.array([1.5, np.nan]), ["N", "D"]))
    >>> ts.tolist(), v[0], [voc[i] for i in c]
    ([0, 3600], np.float64(1.5), ['N', 'D'])
    """
    n, nv = _HEAD.unpack_from(blob, 0)
    off = _HEAD.size
    vocab = blob[off : off + nv].decode("ascii").split("|") if nv else []
    off += nv
    ts = np.frombuffer(blob, dtype="<i8", count=n, offset=off)
    off += 8 * n
    value = np.frombuffer(blob, dtype="<f8", count=n, offset=off)
    off += 8 * n
    codes = np.frombuffer(blob, dtype=np.uint8, count=n, offset=off)
    return ts, value, codes, vocab


def block_range(lo: int, hi: int, resolution: str) -> range:
    """Blocks that overlap ``[lo, hi)`` (Unix seconds)."""
    span = BLOCK_SECONDS[resolution]
    return range(lo // span, (hi - 1) // span + 1)


def is_sealed(block: int, resolution: str, now: int) -> bool:
    """Whether ``block`` ended more than :data:`SEAL_AFTER` before ``now``."""
    return (block + 1) * BLOCK_SECONDS[resolution] + SEAL_AFTER <= now


def first_open_block(resolution: str, now: int) -> int:
    """The oldest block that is not sealed at ``now``: every block before it is sealed.

    >>> span = BLOCK_SECONDS["hour"]
    >>> b = first_open_block("hour", 10 * span + SEAL_AFTER)
    >>> b, is_sealed(b - 1, "hour", 10 * span + SEAL_AFTER), is_sealed(b, "hour", 10 * span + SEAL_AFTER)
    (10, True, False)
    """
    return (now - SEAL_AFTER) // BLOCK_SECONDS[resolution]
