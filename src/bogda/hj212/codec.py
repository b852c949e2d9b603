"""HJ 212 frame codec: parse one frame into a :class:`ParseResult`, build frames, answers and commands.

Covers HJ/T 212-2005, HJ 212-2017 and HJ 212-2025 (same frame format, version in Flag bits 2-7). Pure: no I/O,
no clock (times are arguments). The reason codes and their canonical order are those of spec hj212.md §3.2 and
of ``expected_public.jsonl``; :meth:`ParseResult.to_dict` produces exactly that schema (spec §4.1).

Frame [HJ 212-2017 §6.3.1]: ``"##" LEN SEG CRC [CR LF]`` with ``LEN`` the byte length of ``SEG`` in 4 digits and
``CRC`` the Appendix A check over ``SEG`` (:mod:`bogda.hj212.crc`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from bogda.hj212 import codes
from bogda.hj212.answers import (
    build_answer,
    build_command,
    build_frame,
    build_segment,
    build_upload,
    data_response,
    execution_response,
    format_cp,
    format_n14,
    make_qn,
    notify_response,
    recall_command,
    request_response,
    system_time_frame,
    time_sync_command,
)
from bogda.hj212.crc import CRC_MODES, crc_hex, detect_variant
from bogda.timeutil import parse_time

__all__ = [
    "ERRORS",
    "MAX_SEGMENT_LEN",
    "NOTES",
    "STANDARD_SEGMENT_LEN",
    "WARNINGS",
    "FlagInfo",
    "Measurement",
    "ParseResult",
    "build_answer",
    "build_command",
    "build_frame",
    "build_segment",
    "build_upload",
    "data_response",
    "execution_response",
    "format_cp",
    "format_n14",
    "make_qn",
    "measurements",
    "message_role",
    "notify_response",
    "parse_decimal",
    "parse_frame",
    "recall_command",
    "request_response",
    "system_time_frame",
    "time_sync_command",
]

STANDARD_SEGMENT_LEN = 1024
"""Largest data segment the standard allows [bytes] (HJ 212-2017 §6.3.1)."""
MAX_SEGMENT_LEN = 4096
"""Default ``max_segment_len`` of lenient mode [bytes]: real VOC stations send 1025 and 1623 (spec §6)."""

# Vocabulary (spec §3.2), in canonical order.
BAD_HEADER = "bad_header_or_length_field"
LENGTH_MISMATCH = "length_mismatch"
LENGTH_OVER_1024 = "length_over_1024"
CRC_NOT_HEX = "crc_field_not_hex"
CRC_MISMATCH = "crc_mismatch"
MISSING_CP = "missing_CP"
CP_NOT_CLOSED = "cp_not_closed"
GARBAGE_AFTER_CP = "garbage_after_cp"
ERRORS: tuple[str, ...] = (
    BAD_HEADER,
    LENGTH_MISMATCH,
    LENGTH_OVER_1024,
    CRC_NOT_HEX,
    CRC_MISMATCH,
    MISSING_CP,
    CP_NOT_CLOSED,
    GARBAGE_AFTER_CP,
)
NO_QN = "no_QN"
QN_NOT_17 = "QN_not_17_digits"
NO_FLAG = "no_Flag"
ST_UNKNOWN = "ST_not_in_2017_table"
CN_UNKNOWN = "CN_not_in_2017_or_2005_table"
DATATIME_NOT_14 = "DataTime_not_14_digits"
MN_NOT_24_HEX = "MN_not_24_hex (2017 EPC-96 form)"
WARNINGS: tuple[str, ...] = (NO_QN, QN_NOT_17, NO_FLAG, ST_UNKNOWN, CN_UNKNOWN, DATATIME_NOT_14, MN_NOT_24_HEX)
NOTES: tuple[str, ...] = (
    "flag_not_integer",
    "unknown_version",
    "d_without_pnum",
    "decoded_gb18030",
    "duplicate_key",
    "item_without_equals",
)
"""Diagnostics that are neither errors nor warnings (not compared by the public-vector tests)."""

_HEX = b"0123456789abcdefABCDEF"
_HEX_STR = frozenset("0123456789abcdefABCDEF")
_CRC_MODE_VARIANTS: dict[str, tuple[str, ...]] = {
    "hj212": ("hj212",),
    "modbus_be": ("hj212", "modbus_be"),
    "modbus_byteswapped": ("hj212", "modbus_byteswapped"),
    "auto": ("hj212", "modbus_be", "modbus_byteswapped"),
}
_DATA_FIELDS = frozenset({"DataTime", "SystemTime", "RtdInterval", "MinInterval"})


def _digits(s: str, n: int) -> bool:
    return len(s) == n and s.isascii() and s.isdigit()


@dataclass(frozen=True, slots=True)
class FlagInfo:
    """Decoded ``Flag`` [HJ 212-2017 Table 3]: bit 0 ``A`` (answer required), bit 1 ``D`` (packetised),
    bits 2-7 the protocol version (0 = 2005, 1 = 2017, 2 = 2025)."""

    raw: int
    version: int
    packetised_D: bool
    ack_A: bool

    @classmethod
    def from_int(cls, raw: int) -> FlagInfo:
        return cls(raw, raw >> 2, bool(raw & 2), bool(raw & 1))

    def to_dict(self) -> dict[str, object]:
        return {"raw": self.raw, "version": self.version, "packetised_D": self.packetised_D, "ack_A": self.ack_A}


_UNREAD = object()


@dataclass(slots=True)
class ParseResult:
    """Everything one frame says, and what is wrong with it (spec §4.1).

    Header values are verbatim strings (``None`` when absent, ``""`` when empty). ``pollutants`` is
    ``{code: {suffix: value}}`` as sent (codes not normalised; see :func:`measurements`).
    """

    raw: bytes
    errors: list[str]
    warnings: list[str]
    notes: list[str]
    header: dict[str, str]
    cp: str | None
    pollutants: dict[str, dict[str, str]]
    cp_fields: dict[str, str]
    declared_len: int | None
    seg_len_bytes: int
    crc_given: str
    crc_computed: str
    crc_note: str | None = None
    crc_variant_detected: str | None = None
    flag: FlagInfo | None = None
    version: int = 0
    mode: str = "lenient"
    accepted: bool = False
    accepted_with: list[str] = field(default_factory=list)
    crc_algorithm: str | None = None
    """Algorithm under which the CRC verified (``hj212``, ``modbus_be``, ``modbus_byteswapped``), else None."""
    _data_time: object = field(default=_UNREAD, init=False, repr=False, compare=False)

    @property
    def valid(self) -> bool:
        """Strict verdict: no errors (warnings never reject)."""
        return not self.errors

    @property
    def crc_ok(self) -> bool:
        """The CRC verified under some algorithm this parse allowed (the standard one, or the Modbus variant that
        lenient ``crc_mode`` accepted)."""
        return self.crc_algorithm is not None

    @property
    def ST(self) -> str | None:
        return self.header.get("ST")

    @property
    def CN(self) -> str | None:
        return self.header.get("CN")

    @property
    def MN(self) -> str | None:
        return self.header.get("MN")

    @property
    def PW(self) -> str | None:
        return self.header.get("PW")

    @property
    def QN(self) -> str | None:
        """Header QN only."""
        return self.header.get("QN")

    @property
    def Flag(self) -> str | None:
        return self.header.get("Flag")

    @property
    def PNUM(self) -> str | None:
        return self.header.get("PNUM")

    @property
    def PNO(self) -> str | None:
        return self.header.get("PNO")

    @property
    def DataTime(self) -> str | None:
        return self.cp_fields.get("DataTime")

    @property
    def request_qn(self) -> str | None:
        """QN that identifies the exchange: the header's, else the one a 2005 answer carries inside CP."""
        qn = self.header.get("QN")
        return qn if qn is not None else self.cp_fields.get("QN")

    @property
    def ack_requested(self) -> bool | None:
        """Flag bit A; ``None`` when Flag is absent or not an integer (A unknown)."""
        return None if self.flag is None else self.flag.ack_A

    @property
    def packetised(self) -> bool:
        """D = 1 with PNUM and PNO present (D without them is not packetised: P019, P044)."""
        return self.flag is not None and self.flag.packetised_D and "PNUM" in self.header and "PNO" in self.header

    @property
    def data_time(self) -> datetime | None:
        """CP DataTime as aware UTC (the protocol writes Beijing time); 17 digits keep the first 14.

        ``None`` when absent or unreadable (the ingest rejects such data frames with note ``bad_datatime``).
        """
        dt = self._data_time
        if dt is _UNREAD:  # read once: the gateway and the loader ask several times per frame
            dt = self._data_time = _n14_to_utc(self.cp_fields.get("DataTime"))
        return dt  # type: ignore[return-value]

    @property
    def role(self) -> str:
        """See :func:`message_role`."""
        return message_role(self)

    def to_dict(self) -> dict[str, object]:
        """The schema of ``expected_public.jsonl`` without ``id``/``kind`` (spec §4.1)."""
        h = self.header
        d: dict[str, object] = {
            "valid": self.valid,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "ST": h.get("ST"),
            "CN": h.get("CN"),
            "MN": h.get("MN"),
            "QN": h.get("QN"),
            "Flag": h.get("Flag"),
            "PNUM": h.get("PNUM"),
            "PNO": h.get("PNO"),
            "DataTime": self.cp_fields.get("DataTime"),
            "declared_len": self.declared_len,
            "seg_len_bytes": self.seg_len_bytes,
            "crc_given": self.crc_given,
            "crc_computed": self.crc_computed,
            "header": dict(h),
            "pollutants": {k: dict(v) for k, v in self.pollutants.items()},
            "cp_fields": dict(self.cp_fields),
        }
        if self.flag is not None:
            d["flag"] = self.flag.to_dict()
        if self.crc_note is not None:
            d["crc_note"] = self.crc_note
        if self.crc_variant_detected is not None:
            d["crc_variant_detected"] = self.crc_variant_detected
        return d


_N14_CACHE: dict[str, datetime | None] = {}
_N14_CACHE_MAX = 8192


def _n14_to_utc(text: str | None) -> datetime | None:
    """N14 (or 17-digit) Beijing time → aware UTC (spec §2.4), memoised: every device of a fleet reports the same
    DataTime slots, so the same few strings come back thousands of times a minute."""
    if text is None:
        return None
    hit = _N14_CACHE.get(text, _N14_CACHE)
    if hit is not _N14_CACHE:
        return hit  # type: ignore[return-value]
    value: datetime | None = None
    if text.isascii() and text.isdigit() and len(text) in (14, 17):
        try:
            value = parse_time(text[:14])
        except ValueError:
            value = None
    if len(_N14_CACHE) >= _N14_CACHE_MAX:
        _N14_CACHE.clear()
    _N14_CACHE[text] = value
    return value


def parse_frame(
    frame: bytes | bytearray | memoryview,
    *,
    mode: str = "lenient",
    crc_mode: str = "auto",
    max_segment_len: int = MAX_SEGMENT_LEN,
    encoding: str = "utf-8",
) -> ParseResult:
    """Parse one HJ 212 frame (spec §3.2, §3.3).

    Never raises on bad input: every defect becomes an error or warning code.

    Parameters
    ----------
    frame : bytes
        ``##`` through the 4 CRC digits; a trailing CR LF is ignored.
    mode : {"lenient", "strict"}
        Sets ``accepted`` only; errors and warnings are the same in both modes.
    crc_mode : {"hj212", "modbus_be", "modbus_byteswapped", "auto", "off"}
        CRC algorithms lenient mode accepts besides the standard one.
    max_segment_len : int
        Largest segment lenient mode accepts [bytes].
    encoding : str
        Device text encoding (UTF-8 [std]); GB18030 is the fallback (note ``decoded_gb18030``).

    Returns
    -------
    ParseResult
    """
    if mode not in ("lenient", "strict"):
        raise ValueError(f"mode must be 'lenient' or 'strict', not {mode!r}")
    if crc_mode not in CRC_MODES:
        raise ValueError(f"crc_mode must be one of {CRC_MODES}, not {crc_mode!r}")
    raw = bytes(frame)
    data = raw[:-2] if raw.endswith(b"\r\n") else raw
    n = len(data)
    errors: list[str] = []
    notes: list[str] = []
    declared: int | None = None
    len_field = data[2:6]
    if n < 10 or data[:2] != b"##" or len(len_field) != 4 or not len_field.isdigit():
        errors.append(BAD_HEADER)
    else:
        declared = int(len_field)
    if n >= 10:
        seg = data[6:-4]
        crc_field = data[-4:]
    else:
        seg = b""
        crc_field = b""
    seg_len = len(seg)
    if declared is not None:
        if declared != seg_len:
            errors.append(LENGTH_MISMATCH)
        if seg_len > STANDARD_SEGMENT_LEN:
            errors.append(LENGTH_OVER_1024)

    crc_computed = crc_hex(seg)
    crc_given = crc_field.decode("latin-1")
    crc_note = None
    variant = None
    crc_algorithm = None
    crc_is_hex = len(crc_field) == 4 and not crc_field.translate(None, _HEX)
    if not crc_is_hex:
        errors.append(CRC_NOT_HEX)
    elif crc_given == crc_computed:
        crc_algorithm = "hj212"
    elif crc_given.upper() == crc_computed:
        crc_note = "lowercase_hex"
        crc_algorithm = "hj212"
    else:
        errors.append(CRC_MISMATCH)
        variant = detect_variant(seg, crc_given)

    try:
        text = seg.decode(encoding)
    except UnicodeDecodeError:
        text = seg.decode("gb18030", errors="replace")
        notes.append("decoded_gb18030")

    header: dict[str, str] = {}
    pollutants: dict[str, dict[str, str]] = {}
    cp_fields: dict[str, str] = {}
    k = text.find("CP=&&")
    cp: str | None
    if k < 0:
        errors.append(MISSING_CP)
        head = text
        cp = None
    else:
        head = text[:k]
        rest = text[k + 5 :]
        e = rest.rfind("&&")
        if e < 0:
            errors.append(CP_NOT_CLOSED)
            cp = rest
        else:
            cp = rest[:e]
            if e + 2 < len(rest):
                errors.append(GARBAGE_AFTER_CP)

    for item in head.split(";"):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq:
            notes.append("item_without_equals")
        if key in header:
            notes.append("duplicate_key")
        header[key] = value

    if cp:
        for item in cp.replace(",", ";").split(";"):
            if not item:
                continue
            key, eq, value = item.partition("=")
            if not eq:
                notes.append("item_without_equals")
            code, dash, suffix = key.rpartition("-")
            if dash:
                group = pollutants.get(code)
                if group is None:
                    pollutants[code] = {suffix: value}
                else:
                    if suffix in group:
                        notes.append("duplicate_key")
                    group[suffix] = value
            else:
                if key in cp_fields:
                    notes.append("duplicate_key")
                cp_fields[key] = value

    warnings: list[str] = []
    qn = header.get("QN")
    if qn is None:
        qn = cp_fields.get("QN")
    if qn is None:
        warnings.append(NO_QN)
    elif not _digits(qn, 17):
        warnings.append(QN_NOT_17)
    flag_text = header.get("Flag")
    if flag_text is None:
        warnings.append(NO_FLAG)
    st = header.get("ST")
    if st is not None and st not in codes.ST_2017:
        warnings.append(ST_UNKNOWN)
    cn = header.get("CN")
    if cn is not None and cn not in codes.KNOWN_CN:
        warnings.append(CN_UNKNOWN)
    dt = cp_fields.get("DataTime")
    if dt is not None and not _digits(dt, 14):
        warnings.append(DATATIME_NOT_14)
    mn = header.get("MN")
    if mn is not None and (len(mn) != 24 or not _HEX_STR.issuperset(mn)):
        warnings.append(MN_NOT_24_HEX)

    flag = None
    version = 0
    if flag_text is not None:
        if flag_text.isascii() and flag_text.isdigit():
            flag = FlagInfo.from_int(int(flag_text))
            version = flag.version
            if version > 2:
                notes.append("unknown_version")
                version = 2
            if flag.packetised_D and ("PNUM" not in header or "PNO" not in header):
                notes.append("d_without_pnum")
        else:
            notes.append("flag_not_integer")

    if mode == "strict":
        accepted = not errors
    else:
        if crc_mode == "off" or crc_algorithm is not None:
            crc_ok = True
        else:
            crc_ok = variant is not None and variant in _CRC_MODE_VARIANTS[crc_mode]
            if crc_ok:
                crc_algorithm = variant
        accepted = declared is not None and cp is not None and seg_len <= max_segment_len and crc_ok
    return ParseResult(
        raw=raw,
        errors=errors,
        warnings=warnings,
        notes=notes,
        header=header,
        cp=cp,
        pollutants=pollutants,
        cp_fields=cp_fields,
        declared_len=declared,
        seg_len_bytes=seg_len,
        crc_given=crc_given,
        crc_computed=crc_computed,
        crc_note=crc_note,
        crc_variant_detected=variant,
        flag=flag,
        version=version,
        mode=mode,
        accepted=accepted,
        accepted_with=list(errors) if accepted else [],
        crc_algorithm=crc_algorithm,
    )


def message_role(result: ParseResult) -> str:
    """What a frame is, for the gateway's answer logic (spec §3.5).

    Returns one of ``answer`` (9011-9014), ``heartbeat`` (9021 vendor, 9015 [2025]), ``notify`` (1013, 2072),
    ``request`` (a platform-to-device request CN whose CP carries no data; set commands always),
    ``upload`` (data uploads and unknown/vendor CNs), ``unknown`` (no CN).
    """
    cn = result.header.get("CN")
    if cn is None:
        return "unknown"
    if cn in codes.ANSWER_CN:
        return "answer"
    if cn in codes.HEARTBEAT_CN:
        return "heartbeat"
    if cn in codes.NOTIFY_CN:
        return "notify"
    if cn in codes.REQUEST_CN:
        if cn not in codes.UPLOAD_CN:
            return "request"
        carries_data = bool(result.pollutants) or not _DATA_FIELDS.isdisjoint(result.cp_fields)
        return "upload" if carries_data else "request"
    return "upload"


# ------------------------------------------------------------------------------------------------ values
def parse_decimal(value: str | None) -> Decimal | None:
    """A protocol number (``Nx.y``: signed, leading zeros, long fractions) as ``Decimal``; ``None`` if it is not
    a finite plain number (HJ 212-2017 §6.3.3 data types).

    >>> parse_decimal("09.676"), parse_decimal("-271.755"), parse_decimal("N"), parse_decimal("1_0")
    (Decimal('9.676'), Decimal('-271.755'), None, None)
    """
    if not value or "_" in value or value.strip() != value:
        return None
    try:
        d = Decimal(value)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


@dataclass(slots=True)
class Measurement:
    """One factor of one frame, codes normalised (spec §3.7, §4.2 observation)."""

    code: str
    code_raw: str
    code_known: bool
    values: dict[str, str]
    unit: str | None
    kind: str | None
    data_time: datetime | None

    @property
    def flag(self) -> str | None:
        return self.values.get("Flag")

    def number(self, suffix: str) -> Decimal | None:
        """Numeric value of ``suffix`` (``Rtd``, ``Avg``, ``ZsRtd`` ...) or ``None``."""
        return parse_decimal(self.values.get(suffix))


def measurements(
    result: ParseResult,
    *,
    code_scheme: str = "2017",
    aliases: Mapping[str, str] | None = None,
    key_aliases: Mapping[str, tuple[str, str]] | None = None,
    units: Mapping[str, str] | None = None,
) -> list[Measurement]:
    """Factors of a parsed frame with canonical 2017 codes and units.

    Parameters
    ----------
    result : ParseResult
    code_scheme : {"2017", "2005", "none"}
        The device's code scheme (2005 codes are mapped only when the device is configured so, spec §3.7).
    aliases : mapping, optional
        Device code -> code aliases (``PM25`` -> ``a34004``), e.g. ``codes.VENDOR_ALIASES["common"]``.
    key_aliases : mapping, optional
        Device key -> (code, suffix) aliases (``LA-td`` -> (``LA``, ``Rtd``)).
    units : mapping, optional
        Canonical code -> unit from the registry for this device; the hook of :func:`codes.unit_for`.

    Returns
    -------
    list of Measurement
        In frame order; when two raw codes map to the same canonical code their suffixes merge, later wins.
    """
    kind = codes.OBSERVATION_KIND.get(result.header.get("CN") or "")
    data_time = result.data_time
    st = result.header.get("ST")
    out: dict[str, Measurement] = {}
    for code_raw, values in result.pollutants.items():
        for suffix, value in values.items():
            target_code, target_suffix = code_raw, suffix
            if key_aliases:
                hit = key_aliases.get(f"{code_raw}-{suffix}")
                if hit is not None:
                    target_code, target_suffix = hit
            code, known = codes.canonical_code(target_code, scheme=code_scheme, aliases=aliases)
            m = out.get(code)
            if m is None:
                m = out[code] = Measurement(
                    code=code,
                    code_raw=code_raw,
                    code_known=known,
                    values={},
                    unit=codes.unit_for(code, st, units),
                    kind=kind,
                    data_time=data_time,
                )
            m.values[target_suffix] = value
    return list(out.values())
