"""Public HJ 212 test vectors from ../shared/data/hj212 (never copied into the repository)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from sharedata import require_shared

PUBLIC_IDS = [f"P{i:03d}" for i in range(1, 104)]
"""The 103 frames of packets_public.txt (spec hj212.md §9.1)."""


@dataclass(frozen=True)
class Packet:
    id: str
    frame: bytes
    expected: dict


def load_public() -> dict[str, Packet]:
    folder = require_shared("hj212")
    frames: dict[str, bytes] = {}
    current = None
    for line in (folder / "packets_public.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("# ["):
            current = line[3 : line.index("]")]
        elif line.startswith("##"):
            assert current is not None and current not in frames, f"frame line without its own id: {line[:40]}"
            frames[current] = line.encode("utf-8")
    packets = {}
    for line in (folder / "expected_public.jsonl").read_text(encoding="utf-8").splitlines():
        exp = json.loads(line)
        packets[exp["id"]] = Packet(exp["id"], frames[exp["id"]], exp)
    assert sorted(packets) == PUBLIC_IDS
    return packets


@pytest.fixture(scope="session")
def public() -> dict[str, Packet]:
    """id -> Packet for the 103 public frames (skips, or fails under CI=true, when the data is absent)."""
    return load_public()
