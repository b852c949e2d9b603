"""Build HJ 212 frames: uploads, answers (9011-9014), platform commands (recall, time sync) (spec hj212.md §3.5,
§3.6, §3.8).

Split from :mod:`bogda.hj212.codec` (which parses and re-exports these names). Pure: times are arguments. The
answer builders take a parsed request (a :class:`bogda.hj212.codec.ParseResult`) and read only its header, version
and request QN, so this module needs nothing from the parser.

Frame [HJ 212-2017 §6.3.1]: ``"##" LEN SEG CRC CR LF`` with the Appendix A CRC over ``SEG``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from bogda.hj212 import codes
from bogda.hj212.crc import variant_crc_hex
from bogda.timeutil import BEIJING, as_utc

if TYPE_CHECKING:
    from bogda.hj212.codec import ParseResult

__all__ = [
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
    "notify_response",
    "recall_command",
    "request_response",
    "system_time_frame",
    "time_sync_command",
]


def build_frame(
    segment: str | bytes,
    *,
    crlf: bool = True,
    crc_variant: str = "hj212",
    lowercase_crc: bool = False,
    declared_len: int | None = None,
    encoding: str = "utf-8",
) -> bytes:
    """Wrap a data segment into a frame: ``##`` + LEN + SEG + CRC (+ CR LF).

    ``crc_variant``, ``lowercase_crc`` and ``declared_len`` exist to reproduce vendor faults (simulator, tests).

    >>> build_frame("QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    ...             "CP=&&RtdInterval=30&&", crlf=False)[-8:]
    b'30&&1C80'
    """
    seg = segment.encode(encoding) if isinstance(segment, str) else bytes(segment)
    n = len(seg) if declared_len is None else declared_len
    if not 0 <= n <= 9999:
        raise ValueError(f"segment length {n} does not fit the 4-digit LEN field")
    crc = variant_crc_hex(seg, crc_variant)
    if lowercase_crc:
        crc = crc.lower()
    return b"##%04d%b%b%b" % (n, seg, crc.encode("ascii"), b"\r\n" if crlf else b"")


def build_segment(header: Iterable[tuple[str, str | None]] | Mapping[str, str | None], cp: str) -> str:
    """``k=v;`` for each header item whose value is not None, then ``CP=&&<cp>&&``."""
    items = header.items() if isinstance(header, Mapping) else header
    parts = [f"{k}={v};" for k, v in items if v is not None]
    parts.append(f"CP=&&{cp}&&")
    return "".join(parts)


def format_cp(
    fields: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    pollutants: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """CP text: plain fields joined by ``;``, then one ``;``-group per factor with its items joined by ``,``
    (HJ 212-2017 §6.3.3 and Appendix C layout).

    >>> format_cp({"DataTime": "20160801085857"}, {"w01001": {"Rtd": "7.1", "Flag": "N"}})
    'DataTime=20160801085857;w01001-Rtd=7.1,w01001-Flag=N'
    """
    groups: list[str] = []
    if fields:
        items = fields.items() if isinstance(fields, Mapping) else fields
        groups.extend(f"{k}={v}" for k, v in items)
    if pollutants:
        for code, values in pollutants.items():
            groups.append(",".join(f"{code}-{s}={v}" for s, v in values.items()))
    return ";".join(groups)


def format_n14(at: datetime) -> str:
    """``YYYYMMDDhhmmss`` in Beijing time (protocol times carry no zone; a naive ``at`` is taken as UTC)."""
    return as_utc(at, naive="utc").astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def make_qn(at: datetime) -> str:
    """Request id ``YYYYMMDDhhmmsszzz`` in Beijing time [HJ 212-2017 Table 3]; the caller keeps it unique per MN
    (e.g. by bumping ``at`` one millisecond on collision).

    >>> from datetime import UTC
    >>> make_qn(datetime(2016, 8, 1, 0, 58, 57, 223000, tzinfo=UTC))
    '20160801085857223'
    """
    b = as_utc(at, naive="utc").astimezone(BEIJING)
    return f"{b:%Y%m%d%H%M%S}{b.microsecond // 1000:03d}"


def _flag(version: int, ack: bool, packetised: bool = False) -> str:
    return str((version << 2) | (2 if packetised else 0) | (1 if ack else 0))


def build_upload(
    cn: str,
    *,
    st: str,
    mn: str,
    pw: str,
    qn: str | None,
    data_time: datetime | str | None = None,
    pollutants: Mapping[str, Mapping[str, str]] | None = None,
    fields: Mapping[str, str] | None = None,
    version: int = 1,
    ack: bool = True,
    pnum: int | None = None,
    pno: int | None = None,
    crlf: bool = True,
) -> bytes:
    """A device data frame (2011, 2051, 2061, 2031, 2021, 1011 answer data ...) [HJ 212-2017 Appendix C].

    Version 0 frames follow the 2005 examples (QN kept when given, Flag omitted when ``ack`` is False).
    """
    cp_fields: dict[str, str] = {}
    if data_time is not None:
        cp_fields["DataTime"] = data_time if isinstance(data_time, str) else format_n14(data_time)
    if fields:
        cp_fields.update(fields)
    packetised = pnum is not None and pno is not None
    flag: str | None = _flag(version, ack, packetised)
    if version == 0 and not ack and not packetised:
        flag = None
    header = [
        ("QN", qn),
        ("ST", st),
        ("CN", cn),
        ("PW", pw),
        ("MN", mn),
        ("Flag", flag),
        ("PNUM", None if pnum is None else str(pnum)),
        ("PNO", None if pno is None else str(pno)),
    ]
    return build_frame(build_segment(header, format_cp(cp_fields, pollutants)), crlf=crlf)


def build_answer(
    cn: str,
    *,
    qn: str | None,
    version: int,
    pw: str | None = None,
    mn: str | None = None,
    st: str = "91",
    fields: Mapping[str, str] | None = None,
    request_cn: str | None = None,
    flag: int | None = None,
    crlf: bool = True,
) -> bytes:
    """An answer frame (9011/9012/9013/9014) [HJ 212-2017 §6.5, Appendix C; HJ/T 212-2005 Appendix C].

    Version >= 1: ``QN=<qn>;ST=91;CN=<cn>;PW=..;MN=..;Flag=<version << 2>;CP=&&<fields>&&``.
    Version 0 puts the QN inside CP (``CP=&&QN=<qn>;...&&``, P020) and, for 9013/9014, the answered CN too and no
    PW/MN/Flag (P024: ``ST=91;CN=9014;CP=&&QN=..;CN=2051&&``).
    """
    cp: dict[str, str] = {}
    if version == 0:
        if qn is not None:
            cp["QN"] = qn
        if cn in ("9013", "9014"):
            if request_cn is not None:
                cp["CN"] = request_cn
            header = [("ST", st), ("CN", cn)]
        else:
            header = [("ST", st), ("CN", cn), ("PW", pw), ("MN", mn), ("Flag", str(flag if flag is not None else 0))]
    else:
        header = [
            ("QN", qn),
            ("ST", st),
            ("CN", cn),
            ("PW", pw),
            ("MN", mn),
            ("Flag", str(flag if flag is not None else version << 2)),
        ]
    if fields:
        cp.update(fields)
    return build_frame(build_segment(header, format_cp(cp)), crlf=crlf)


def _answer_to(request: ParseResult, cn: str, fields: Mapping[str, str] | None, style: str) -> bytes:
    if style not in ("standard", "echo"):
        raise ValueError(f"style must be 'standard' or 'echo', not {style!r}")
    echo = style == "echo"
    return build_answer(
        cn,
        qn=request.request_qn,
        version=request.version,
        pw=request.header.get("PW"),
        mn=request.header.get("MN"),
        st=(request.header.get("ST") or "91") if echo else "91",
        fields=fields,
        request_cn=request.header.get("CN"),
        flag=5 if echo else None,
    )


def data_response(upload: ParseResult, *, style: str = "standard") -> bytes:
    """9014 data answer to an upload: same QN, ``ST=91``, the device's PW/MN, Flag = version << 2,
    ``CP=&&&&`` (spec §3.5; ``style="echo"`` copies the device ST and sends Flag=5 as some platforms do).

    >>> from bogda.hj212.codec import parse_frame
    >>> up = parse_frame(b"##0087QN=20201015123632010;ST=80;CN=2011;PW=123456;MN=410183160889201000212505;"
    ...                  b"Flag=5;CP=&&&&2080")
    >>> data_response(up)
    b'##0087QN=20201015123632010;ST=91;CN=9014;PW=123456;MN=410183160889201000212505;Flag=4;CP=&&&&F001\\r\\n'
    """
    return _answer_to(upload, "9014", None, style)


def notify_response(notice: ParseResult, *, style: str = "standard") -> bytes:
    """9013 notification answer (to 1013, 2072), same QN (HJ 212-2017 Table C.4)."""
    return _answer_to(notice, "9013", None, style)


def request_response(request: ParseResult, qn_rtn: int) -> bytes:
    """9011 request answer with ``QnRtn`` [HJ 212-2017 Table 6] (spec §3.8)."""
    return _answer_to(request, "9011", {"QnRtn": str(qn_rtn)}, "standard")


def execution_response(request: ParseResult, exe_rtn: int) -> bytes:
    """9012 execution result with ``ExeRtn`` [HJ 212-2017 Table 7] (spec §3.8)."""
    return _answer_to(request, "9012", {"ExeRtn": str(exe_rtn)}, "standard")


def system_time_frame(request: ParseResult, now: datetime, *, qn: str | None = None) -> bytes:
    """The 1011 data frame that serves an inbound 1011 request (spec §3.5, §3.8): ``SystemTime`` = ``now`` in
    Beijing time, the request's ST/PW/MN, Flag = version << 2 (no answer wanted); ``qn`` defaults to the request's.
    """
    header = [
        ("QN", qn if qn is not None else request.request_qn),
        ("ST", request.header.get("ST")),
        ("CN", "1011"),
        ("PW", request.header.get("PW")),
        ("MN", request.header.get("MN")),
        ("Flag", str(request.version << 2)),
    ]
    return build_frame(build_segment(header, f"SystemTime={format_n14(now)}"))


def build_command(
    cn: str,
    *,
    st: str,
    mn: str,
    pw: str,
    qn: str,
    version: int = 1,
    fields: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    separator: str = ";",
    crlf: bool = True,
) -> bytes:
    """A platform request to a device: device ST/PW/MN, QN, Flag = (version << 2) | 1 (spec §3.6)."""
    items = list(fields.items() if isinstance(fields, Mapping) else fields or [])
    cp = separator.join(f"{k}={v}" for k, v in items)
    header = [("QN", qn), ("ST", st), ("CN", cn), ("PW", pw), ("MN", mn), ("Flag", _flag(version, True))]
    return build_frame(build_segment(header, cp), crlf=crlf)


def recall_command(
    cn: str,
    *,
    st: str,
    mn: str,
    pw: str,
    qn: str,
    begin: datetime,
    end: datetime,
    version: int = 1,
) -> bytes:
    """History recall 2031/2041/2051/2061 with ``BeginTime;EndTime`` (``,`` for version 0), Beijing N14.

    ``begin``/``end`` are the interval starts of the first and last slot wanted (aware; naive = UTC).
    """
    if cn not in codes.RECALL_CN:
        raise ValueError(f"CN {cn} is not a recall command; expected one of {sorted(codes.RECALL_CN)}")
    if end < begin:
        raise ValueError(f"recall EndTime {end} is before BeginTime {begin}")
    fields = [("BeginTime", format_n14(begin)), ("EndTime", format_n14(end))]
    return build_command(
        cn, st=st, mn=mn, pw=pw, qn=qn, version=version, fields=fields, separator="," if version == 0 else ";"
    )


def time_sync_command(
    *,
    st: str,
    mn: str,
    pw: str,
    qn: str,
    system_time: datetime,
    pol_id: str | None = None,
    version: int = 1,
) -> bytes:
    """1012 set logger time, ``SystemTime`` in Beijing time (``PolId`` optional) [HJ 212-2017 Table C.3]."""
    fields: list[tuple[str, str]] = []
    if pol_id is not None:
        fields.append(("PolId", pol_id))
    fields.append(("SystemTime", format_n14(system_time)))
    return build_command("1012", st=st, mn=mn, pw=pw, qn=qn, version=version, fields=fields)
