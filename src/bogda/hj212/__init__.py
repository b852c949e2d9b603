"""HJ 212 (HJ/T 212-2005, HJ 212-2017, HJ 212-2025) protocol core: codec, stream framer, code tables,
packet reassembly and the device simulator's frame generator (spec hj212.md).

Everything here is pure (no sockets, no database, no clock) except :func:`simulator.run_devices`; the gateway
server and the ingest build on it.
"""

from __future__ import annotations

from bogda.hj212.codec import (
    ERRORS,
    MAX_SEGMENT_LEN,
    WARNINGS,
    FlagInfo,
    Measurement,
    ParseResult,
    build_answer,
    build_command,
    build_frame,
    build_upload,
    data_response,
    execution_response,
    make_qn,
    measurements,
    message_role,
    notify_response,
    parse_frame,
    recall_command,
    request_response,
    system_time_frame,
    time_sync_command,
)
from bogda.hj212.crc import VariantPinner, crc_hj212, crc_modbus
from bogda.hj212.framing import FrameReader, FramerStats, StreamItem
from bogda.hj212.reassembly import AssembledMessage, PacketAssembler

__all__ = [
    "ERRORS",
    "MAX_SEGMENT_LEN",
    "WARNINGS",
    "AssembledMessage",
    "FlagInfo",
    "FrameReader",
    "FramerStats",
    "Measurement",
    "PacketAssembler",
    "ParseResult",
    "StreamItem",
    "VariantPinner",
    "build_answer",
    "build_command",
    "build_frame",
    "build_upload",
    "crc_hj212",
    "crc_modbus",
    "data_response",
    "execution_response",
    "make_qn",
    "measurements",
    "message_role",
    "notify_response",
    "parse_frame",
    "recall_command",
    "request_response",
    "system_time_frame",
    "time_sync_command",
]
