"""Reassembly of packetised HJ 212 messages (Flag bit D, ``PNUM``/``PNO``; HJ 212-2017 Table 3, Table C.50).

Each part is a complete frame with its own QN and CP and the same DataTime (P014/P015): the gateway acks and stores
every part on its own (spec hj212.md §3.6). This class only tells when all parts of a message (MN, CN, DataTime)
have arrived, merges them for consumers that want one record, and reports messages still incomplete after
``packet_complete_timeout`` (an ops event). Pure: time is an explicit argument (monotonic seconds).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from bogda.hj212.codec import ParseResult

__all__ = ["AssembledMessage", "PacketAssembler", "part_numbers"]

PACKET_COMPLETE_TIMEOUT_S = 600.0
"""Default ``packet_complete_timeout`` [s] (spec §6)."""

MessageKey = tuple[str | None, str | None, str | None]


def part_numbers(result: ParseResult) -> tuple[int, int] | None:
    """``(PNUM, PNO)`` when both are integers with 1 <= PNO <= PNUM, else ``None``.

    The D bit is not required: 2005 frames carry PNUM/PNO without any Flag (P025). D without PNUM/PNO is not
    packetised (P019, P044).
    """
    pnum, pno = result.header.get("PNUM"), result.header.get("PNO")
    if pnum is None or pno is None or not (pnum.isascii() and pnum.isdigit() and pno.isascii() and pno.isdigit()):
        return None
    total, number = int(pnum), int(pno)
    if not 1 <= number <= total:
        return None
    return total, number


@dataclass(slots=True)
class AssembledMessage:
    """The parts of one message, complete or (after a timeout) not."""

    key: MessageKey
    pnum: int
    parts: dict[int, ParseResult]
    first_seen: float
    last_seen: float
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.parts) == self.pnum

    @property
    def missing(self) -> list[int]:
        """Part numbers not received."""
        return [n for n in range(1, self.pnum + 1) if n not in self.parts]

    @property
    def pollutants(self) -> dict[str, dict[str, str]]:
        """Factors of all parts merged in PNO order (a later part's suffix wins)."""
        merged: dict[str, dict[str, str]] = {}
        for n in sorted(self.parts):
            for code, values in self.parts[n].pollutants.items():
                merged.setdefault(code, {}).update(values)
        return merged

    @property
    def cp_fields(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for n in sorted(self.parts):
            merged.update(self.parts[n].cp_fields)
        return merged


class PacketAssembler:
    """Collect parts by (MN, CN, DataTime) until PNUM of them are there.

    Parameters
    ----------
    timeout_s : float
        ``packet_complete_timeout`` [s], counted from the first part.
    max_groups : int
        Open messages kept at most; beyond it the oldest is given up (returned by :meth:`expire`).

    Examples
    --------
    >>> from bogda.hj212.codec import build_upload, parse_frame
    >>> def part(n):
    ...     return parse_frame(build_upload("2061", st="32", mn="M", pw="1", qn=f"2016080108585753{n}",
    ...                                     data_time="20160801080000", pollutants={f"w0{n}": {"Avg": "1"}},
    ...                                     pnum=2, pno=n))
    >>> asm = PacketAssembler()
    >>> asm.add(part(1), now=0.0) is None
    True
    >>> msg = asm.add(part(2), now=1.0)
    >>> msg.complete, sorted(msg.pollutants)
    (True, ['w01', 'w02'])
    """

    def __init__(self, *, timeout_s: float = PACKET_COMPLETE_TIMEOUT_S, max_groups: int = 10_000) -> None:
        self.timeout_s = timeout_s
        self.max_groups = max_groups
        self._open: OrderedDict[MessageKey, AssembledMessage] = OrderedDict()
        self._given_up: list[AssembledMessage] = []

    def __len__(self) -> int:
        return len(self._open)

    def add(self, result: ParseResult, now: float) -> AssembledMessage | None:
        """Add one accepted frame; return its message when this part completes it.

        A frame that is not packetised is returned at once as a one-part message.
        """
        key: MessageKey = (result.header.get("MN"), result.header.get("CN"), result.cp_fields.get("DataTime"))
        numbers = part_numbers(result)
        if numbers is None:
            msg = AssembledMessage(key, 1, {1: result}, now, now)
            if result.header.get("PNUM") is not None or result.header.get("PNO") is not None:
                msg.notes.append("bad_part_numbers")
            return msg
        total, number = numbers
        msg = self._open.get(key)
        if msg is None:
            msg = AssembledMessage(key, total, {}, now, now)
            self._open[key] = msg
            while len(self._open) > self.max_groups:
                self._given_up.append(self._open.popitem(last=False)[1])
        if total != msg.pnum:
            msg.notes.append("pnum_changed")
            msg.pnum = max(msg.pnum, total)
        if number in msg.parts:
            msg.notes.append("duplicate_part")
        msg.parts[number] = result
        msg.last_seen = now
        if msg.complete:
            del self._open[key]
            return msg
        return None

    def expire(self, now: float) -> list[AssembledMessage]:
        """Remove and return messages still incomplete ``timeout_s`` after their first part."""
        out, self._given_up = self._given_up, []
        for key in [k for k, m in self._open.items() if now - m.first_seen >= self.timeout_s]:
            out.append(self._open.pop(key))
        return out
