"""Cut an HJ 212 TCP byte stream into frames (spec hj212.md §3.1).

Devices send ``##LEN SEG CRC CR LF`` frames over long-lived TCP connections, but real streams also carry
glued frames, frames split across reads, missing or LF-only terminators, wrong length fields, junk and
internet scanners. :class:`FrameReader` resynchronises on ``##``, trusts ``LEN`` only when the bytes at the
announced end confirm it (CR LF, the next ``##``, the closing ``&&`` or a verifying CRC) and otherwise cuts at the
next delimiter. Correct frames come out byte-exact for any chunking.

Pure and synchronous: the gateway's ``asyncio.Protocol`` feeds it bytes (and, for the partial-frame timeout,
the time from its own clock).
"""

from __future__ import annotations

from dataclasses import dataclass

from bogda.hj212.codec import MAX_SEGMENT_LEN
from bogda.hj212.crc import crc_matches

__all__ = ["SCANNER_SIGNATURES", "FrameReader", "FramerStats", "StreamItem", "scanner_signature"]

SCANNER_SIGNATURES: dict[bytes, str] = {
    b"GET ": "http",
    b"POST ": "http",
    b"HEAD ": "http",
    b"CONNECT ": "http",
    b"PRI ": "http2",
    b"SSH-": "ssh",
    b"\x16\x03": "tls",
}
"""First bytes of a connection that mark a scanner, not a data logger (spec §3.1)."""
_SIG_MAX = max(len(s) for s in SCANNER_SIGNATURES)
_WHITESPACE = b"\r\n \t\x00"
_HEX = b"0123456789abcdefABCDEF"
_ARCHIVE_BYTES = 256


def scanner_signature(head: bytes) -> str | None:
    """Scanner kind (``http``, ``http2``, ``ssh``, ``tls``) if ``head`` starts like one, else ``None``."""
    for sig, kind in SCANNER_SIGNATURES.items():
        if head.startswith(sig):
            return kind
    return None


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One thing cut from the stream.

    ``kind`` is ``frame`` (a candidate frame, without its CR LF: parse it with ``parse_frame``), ``junk`` (bytes
    that belong to no frame, to be archived; whitespace-only junk is not reported) or ``scanner`` (the first
    256 bytes of a connection that is not a data logger: close it). ``delimited`` marks a frame cut at a
    delimiter because its LEN field could not be trusted (or flushed at the end of the stream).
    """

    kind: str
    data: bytes
    delimited: bool = False


@dataclass(slots=True)
class FramerStats:
    """Counters of one connection (spec §4.2 metrics)."""

    frames: int = 0
    delimited_frames: int = 0
    junk_bytes: int = 0
    """Junk bytes other than CR, LF, space, tab and NUL (those are dropped silently)."""
    junk_items: int = 0
    short_candidates: int = 0
    """Candidates under 10 bytes (``##1234``, ``##0000``) counted as junk."""
    junk_before_first_frame: int = 0
    scanner: str | None = None


class FrameReader:
    """Per-connection stream framer (spec §3.1).

    Parameters
    ----------
    max_segment_len : int
        Largest segment believed from a LEN field [bytes]; the buffer never holds more than
        ``6 + max_segment_len + 6`` bytes plus one read.
    max_junk_before_first_frame : int
        Junk before the first frame above which the peer is treated as a scanner [bytes]; 0 disables.
    partial_frame_flush_s : float
        Idle time after which :meth:`poll` emits a started frame that never got a terminator [s].
    detect_scanners : bool
        Check the connection's first bytes against :data:`SCANNER_SIGNATURES`.

    Examples
    --------
    >>> r = FrameReader()
    >>> items = r.feed(b"##0087QN=20201015123632010;ST=91;CN=9014;PW=123456;MN=4101831608892010002")
    >>> items += r.feed(b"12505;Flag=4;CP=&&&&f001\\r\\n##0000junk")
    >>> [(i.kind, len(i.data)) for i in items], r.stats.frames
    ([('frame', 97)], 1)
    """

    __slots__ = (
        "_buf",
        "_head",
        "_head_open",
        "_junk",
        "_last_data_at",
        "_max_seg",
        "closed",
        "detect_scanners",
        "max_junk_before_first_frame",
        "partial_frame_flush_s",
        "stats",
    )

    def __init__(
        self,
        *,
        max_segment_len: int = MAX_SEGMENT_LEN,
        max_junk_before_first_frame: int = 4096,
        partial_frame_flush_s: float = 5.0,
        detect_scanners: bool = True,
    ) -> None:
        self._max_seg = max_segment_len
        self.max_junk_before_first_frame = max_junk_before_first_frame
        self.partial_frame_flush_s = partial_frame_flush_s
        self.detect_scanners = detect_scanners
        self._buf = bytearray()
        self._junk = bytearray()
        self._head = b""
        self._head_open = detect_scanners
        self._last_data_at: float | None = None
        self.closed = False
        self.stats = FramerStats()

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    # ------------------------------------------------------------------------------------------ public
    def feed(self, data: bytes | bytearray | memoryview, now: float | None = None) -> list[StreamItem]:
        """Add bytes from one socket read; return the items they complete, in stream order.

        ``now`` (monotonic seconds, optional) is remembered for :meth:`poll`.
        """
        if self.closed:
            return []
        if now is not None:
            self._last_data_at = now
        if not data:
            return []
        out: list[StreamItem] = []
        if self._head_open:
            self._head += bytes(data[: _ARCHIVE_BYTES - len(self._head)])
            kind = scanner_signature(self._head)
            if kind is not None:
                return self._close_as_scanner(kind, out)
            if len(self._head) >= _SIG_MAX or not any(s.startswith(self._head) for s in SCANNER_SIGNATURES):
                self._head_open = False
            else:
                # Could still become a scanner signature: hold the few bytes without judging them.
                self._buf += data
                return out
        self._buf += data
        self._process(out, final=False)
        self._emit_junk(out)
        if (
            self.max_junk_before_first_frame
            and self.stats.frames == 0
            and self.stats.junk_before_first_frame > self.max_junk_before_first_frame
        ):
            return self._close_as_scanner("junk_before_first_frame", out)
        return out

    def poll(self, now: float) -> list[StreamItem]:
        """Emit a started frame that got no new bytes for ``partial_frame_flush_s`` (frames without CR LF at the
        end of a burst); call it from the connection's timer."""
        if (
            self.closed
            or not self._buf.startswith(b"##")
            or self._last_data_at is None
            or now - self._last_data_at < self.partial_frame_flush_s
        ):
            return []
        return self.flush()

    def flush(self) -> list[StreamItem]:
        """Emit everything buffered (the rest of a started frame as a delimited frame); the reader stays open."""
        out: list[StreamItem] = []
        if not self.closed:
            self._process(out, final=True)
            self._emit_junk(out)
        return out

    def close(self) -> list[StreamItem]:
        """End of stream: :meth:`flush`, then refuse further input."""
        out = self.flush()
        self.closed = True
        return out

    # ------------------------------------------------------------------------------------------ internals
    def _close_as_scanner(self, kind: str, out: list[StreamItem]) -> list[StreamItem]:
        self.stats.scanner = kind
        self.closed = True
        self._buf.clear()
        self._junk.clear()
        out.append(StreamItem("scanner", self._head[:_ARCHIVE_BYTES]))
        return out

    def _add_junk(self, chunk: bytes | bytearray) -> None:
        if not chunk:
            return
        self._junk += chunk
        n = len(chunk.translate(None, _WHITESPACE))
        if n:
            self.stats.junk_bytes += n
            if self.stats.frames == 0:
                self.stats.junk_before_first_frame += n

    def _emit_junk(self, out: list[StreamItem]) -> None:
        if self._junk:
            if self._junk.translate(None, _WHITESPACE):
                out.append(StreamItem("junk", bytes(self._junk)))
                self.stats.junk_items += 1
            self._junk.clear()

    def _emit_frame(self, out: list[StreamItem], frame: bytes, delimited: bool) -> None:
        if len(frame) < 10:
            self.stats.short_candidates += 1
            self._add_junk(frame)
            return
        self._emit_junk(out)
        out.append(StreamItem("frame", frame, delimited))
        self.stats.frames += 1
        if delimited:
            self.stats.delimited_frames += 1

    def _process(self, out: list[StreamItem], *, final: bool) -> None:
        buf = self._buf
        max_seg = self._max_seg
        while buf:
            i = buf.find(b"##")
            if i < 0:
                keep = 1 if (buf[-1] == 0x23 and not final) else 0
                self._add_junk(buf[: len(buf) - keep])
                del buf[: len(buf) - keep]
                return
            if i:
                self._add_junk(buf[:i])
                del buf[:i]
            n = len(buf)
            if n < 6:
                if final:
                    self._add_junk(buf)
                    buf.clear()
                return
            if not buf[2:6].isdigit():
                self._add_junk(buf[:1])
                del buf[:1]
                continue
            seg_len = int(buf[2:6])
            end = 10 + seg_len

            # (a) a CR LF or a "##dddd" before the announced end: LEN too large, or junk "##dddd".
            p = buf.find(b"\r\n", 6, end + 1)
            q, q_pending = _find_q(buf, 6, end)
            if p >= 0 or q >= 0:
                cut = p if q < 0 else q if p < 0 else min(p, q)
                self._delimited(out, cut)
                continue
            # (b) the normal case: the bytes at the announced end confirm LEN.
            if q_pending < 0 and seg_len <= max_seg and n >= end:
                crc = buf[end - 4 : end]
                if not crc.translate(None, _HEX):
                    nxt = buf[end : end + 2]
                    if (
                        nxt == b"\r\n"
                        or nxt == b"##"
                        or buf[end - 6 : end - 4] == b"&&"
                        or crc_matches(buf[6 : end - 4], crc.decode("ascii")) is not None
                    ):
                        frame = bytes(buf[:end])
                        del buf[:end]
                        if buf[:2] == b"\r\n":
                            del buf[:2]
                        self._emit_frame(out, frame, False)
                        continue
            # (c) LEN not confirmed: cut at the first delimiter after it, if any.
            if n >= end or seg_len > max_seg:
                p = buf.find(b"\r\n", 6)
                q, q_pending2 = _find_q(buf, 6, n)
                if p >= 0 or q >= 0:
                    cut = p if q < 0 else q if p < 0 else min(p, q)
                    if q_pending2 < 0 or q_pending2 > cut or final:
                        self._delimited(out, cut)
                        continue
                elif n > 6 + max_seg + 6:
                    self._add_junk(buf[:1])
                    del buf[:1]
                    continue
            # (d) wait for more bytes, unless the stream ends here.
            if not final:
                return
            self._delimited(out, len(buf))

    def _delimited(self, out: list[StreamItem], end: int) -> None:
        """Steps 4-5 of spec §3.1 for a candidate ``buf[:end]`` found by a delimiter."""
        buf = self._buf
        frame = bytes(buf[:end]).rstrip(_WHITESPACE)
        consumed = end
        k = frame.find(b"CP=&&")
        if k >= 0:
            best = last = -1
            j = frame.find(b"&&", k + 5)
            while j >= 0:
                crc = frame[j + 2 : j + 6]
                if len(crc) == 4 and not crc.translate(None, _HEX):
                    last = j + 6
                    if crc_matches(frame[6 : j + 2], crc.decode("ascii")) is not None:
                        best = j + 6
                j = frame.find(b"&&", j + 1)
            cut = best if best >= 0 else last
            if 0 <= cut < len(frame):
                frame = frame[:cut]
                consumed = cut
        del buf[:consumed]
        if buf[:2] == b"\r\n":
            del buf[:2]
        self._emit_frame(out, frame, True)


def _find_q(buf: bytearray, start: int, stop: int) -> tuple[int, int]:
    """First ``##dddd`` starting in ``[start, stop)``, and the position of an undecidable ``##d…`` cut off by
    the end of the buffer (it may still become one); -1 when absent."""
    j = buf.find(b"##", start, stop + 1)
    while j >= 0:
        digits = buf[j + 2 : j + 6]
        if len(digits) == 4:
            if digits.isdigit():
                return j, -1
        elif not digits or digits.isdigit():
            return -1, j
        j = buf.find(b"##", j + 1, stop + 1)
    return -1, -1
