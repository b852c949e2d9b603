"""CRC of HJ 212 frames and the vendor variants met in the field.

HJ 212-2017 Appendix A (same in HJ/T 212-2005) defines a 16-bit check over the data segment (``SEG``)
only, printed as 4 hex digits, high byte first. Its table is the reflected polynomial 0xA001 (the Modbus
table), but the update is ``reg = T[(reg >> 8) ^ b]``: unlike CRC-16/MODBUS the low byte of the register is
discarded at every step, so the running state is only 8 bits wide and just 256 outputs exist. It is a framing
check, never a dedup key (spec hj212.md §2.2).

Vendor variants recognised in lenient mode (names are the spec's ``crc_variant_detected`` vocabulary):

* ``modbus_be`` - CRC-16/MODBUS printed high byte first;
* ``modbus_byteswapped`` - CRC-16/MODBUS printed low byte first (the Modbus wire order).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CRC_MODES",
    "CRC_VARIANTS",
    "TABLE",
    "VariantPinner",
    "crc_hex",
    "crc_hj212",
    "crc_hj212_bitwise",
    "crc_matches",
    "crc_modbus",
    "detect_variant",
    "variant_crc_hex",
]

CRC_VARIANTS: tuple[str, ...] = ("hj212", "modbus_be", "modbus_byteswapped")
"""Algorithms a received CRC may be checked against."""

CRC_MODES: tuple[str, ...] = ("hj212", "modbus_be", "modbus_byteswapped", "auto", "off")
"""Per-device ``crc_mode`` settings (spec §3.3)."""


def _make_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        r = i
        for _ in range(8):
            r = (r >> 1) ^ 0xA001 if r & 1 else r >> 1
        table.append(r)
    return tuple(table)


TABLE: tuple[int, ...] = _make_table()
"""HJ 212-2017 Appendix A table (reflected polynomial 0xA001)."""

_HIGH: tuple[int, ...] = tuple(t >> 8 for t in TABLE)
# The state carried between bytes is only the high byte of the register, so the hot loop works on it.


def _powers() -> tuple[tuple[int, ...], ...]:
    out = [tuple(range(256))]
    for _ in range(7):
        out.append(tuple(_HIGH[v] for v in out[-1]))
    assert tuple(_HIGH[v] for v in out[-1]) == out[0], "H^8 must be the identity"
    return tuple(out)


_POW: tuple[tuple[int, ...], ...] = _powers()
"""``_POW[r][v]`` = H applied r times to v, where H(v) = TABLE[v] >> 8.

Why this works: the register after a byte is ``TABLE[(reg >> 8) ^ b]``, so the state carried from byte to byte is
the index s, with s' = H(s) ^ b. H is linear over GF(2) (a CRC table is) and H^8 is the identity, so the final index
is H^(n-1)(0xFF) ^ XOR over j of H^((n-j) mod 8)(b_j): only the XOR of every 8th byte matters. That XOR is the
XOR-fold of the segment read as 64-bit words, which Python's big integers do in C (a handful of shifts instead of
one interpreted step per byte)."""
_FOLD_MASKS: dict[int, int] = {}
_LOOP_MAX = 24  # below this many bytes the plain table loop is cheaper than the fold


def _crc_loop(data: bytes | bytearray | memoryview) -> int:
    """The table loop of Appendix A over the carried high byte (reference for short segments and tests)."""
    n = len(data)
    if n == 0:
        return 0xFFFF
    h = 0xFF
    high = _HIGH
    for b in data[: n - 1]:
        h = high[h ^ b]
    return TABLE[h ^ data[n - 1]]


def crc_hj212(data: bytes | bytearray | memoryview) -> int:
    """HJ 212 CRC of a data segment, table-driven (HJ 212-2017 Appendix A).

    Computed with the table of Appendix A through the identity documented at ``_POW`` (same result as the byte loop
    for every input; the tests compare both with the bit-by-bit oracle).

    Parameters
    ----------
    data : bytes
        The data segment ``SEG`` exactly as sent (bytes, not characters).

    Returns
    -------
    int
        16-bit CRC; format it with ``"%04X"``. An empty segment gives ``0xFFFF``.

    >>> "%04X" % crc_hj212(b"QN=20160801085857223;ST=32;CN=1062;PW=100000;"
    ...                    b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&")
    '1C80'
    """
    n = len(data)
    if n < _LOOP_MAX:
        return _crc_loop(data)
    x = int.from_bytes(data, "big")  # byte j sits at bit 8 (n - j): its residue (n - j) mod 8 is its byte in a word
    width = 64
    while width < 8 * n:
        width <<= 1
    masks = _FOLD_MASKS
    while width > 64:
        width >>= 1
        mask = masks.get(width)
        if mask is None:
            mask = masks[width] = (1 << width) - 1
        x = (x >> width) ^ (x & mask)
    p = _POW
    s = (
        p[(n - 1) & 7][0xFF]
        ^ (x & 0xFF)
        ^ p[1][(x >> 8) & 0xFF]
        ^ p[2][(x >> 16) & 0xFF]
        ^ p[3][(x >> 24) & 0xFF]
        ^ p[4][(x >> 32) & 0xFF]
        ^ p[5][(x >> 40) & 0xFF]
        ^ p[6][(x >> 48) & 0xFF]
        ^ p[7][x >> 56]
    )
    return TABLE[s]


def crc_hj212_bitwise(data: bytes | bytearray) -> int:
    """Bit-by-bit form of the Appendix A algorithm: the test oracle (about 15x slower than the table)."""
    reg = 0xFFFF
    for b in data:
        reg = (reg >> 8) ^ b
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
    return reg


def crc_modbus(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MODBUS (init 0xFFFF, reflected 0xA001), the value some loggers send instead.

    >>> "%04X" % crc_modbus(b"123456789")
    '4B37'
    """
    crc = 0xFFFF
    table = TABLE
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def _swap(v: int) -> int:
    return ((v & 0xFF) << 8) | (v >> 8)


def crc_hex(data: bytes | bytearray | memoryview) -> str:
    """HJ 212 CRC as the 4 upper-case hex digits a frame carries."""
    return f"{crc_hj212(data):04X}"


def variant_crc_hex(data: bytes | bytearray | memoryview, variant: str) -> str:
    """The CRC field that ``variant`` would print for ``data`` (upper case)."""
    if variant == "hj212":
        return crc_hex(data)
    m = crc_modbus(data)
    if variant == "modbus_be":
        return f"{m:04X}"
    if variant == "modbus_byteswapped":
        return f"{_swap(m):04X}"
    raise ValueError(f"unknown CRC variant {variant!r}; expected one of {CRC_VARIANTS}")


def detect_variant(data: bytes | bytearray | memoryview, given: str) -> str | None:
    """Name of the Modbus variant that explains a CRC field which is not the HJ 212 CRC (spec §2.2).

    Returns ``"modbus_be"``, ``"modbus_byteswapped"`` or ``None``.
    """
    g = given.upper()
    m = crc_modbus(data)
    if g == f"{m:04X}":
        return "modbus_be"
    if g == f"{_swap(m):04X}":
        return "modbus_byteswapped"
    return None


def crc_matches(data: bytes | bytearray | memoryview, given: str, variants: Iterable[str] = CRC_VARIANTS) -> str | None:
    """First of ``variants`` under which ``given`` (any letter case) is the CRC of ``data``, else ``None``."""
    g = given.upper()
    modbus: int | None = None
    for v in variants:
        if v == "hj212":
            if g == crc_hex(data):
                return v
            continue
        if modbus is None:
            modbus = crc_modbus(data)
        if v == "modbus_be" and g == f"{modbus:04X}":
            return v
        if v == "modbus_byteswapped" and g == f"{_swap(modbus):04X}":
            return v
    return None


class VariantPinner:
    """Decide when a device in ``crc_mode = auto`` has shown its CRC variant often enough to pin it (spec §3.3).

    Feed the algorithm under which each accepted frame's CRC verified (``ParseResult.crc_algorithm``); after
    ``pin_frames`` consecutive frames with the same Modbus variant, :meth:`observe` returns that variant once,
    for the caller to store as the device's ``crc_mode`` and report. A standard CRC resets the count.

    >>> p = VariantPinner(pin_frames=3)
    >>> [p.observe(a) for a in ("modbus_byteswapped", "modbus_byteswapped", "hj212", "modbus_byteswapped",
    ...                         "modbus_byteswapped", "modbus_byteswapped")]
    [None, None, None, None, None, 'modbus_byteswapped']
    """

    __slots__ = ("count", "pin_frames", "pinned", "variant")

    def __init__(self, pin_frames: int = 3) -> None:
        self.pin_frames = pin_frames
        self.variant: str | None = None
        self.count = 0
        self.pinned: str | None = None

    def observe(self, algorithm: str | None) -> str | None:
        if self.pinned is not None or algorithm not in ("modbus_be", "modbus_byteswapped"):
            if algorithm == "hj212":
                self.variant, self.count = None, 0
            return None
        if algorithm == self.variant:
            self.count += 1
        else:
            self.variant, self.count = algorithm, 1
        if self.count >= self.pin_frames:
            self.pinned = algorithm
            return algorithm
        return None
