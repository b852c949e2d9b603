"""Operational alerts of the HJ 212 gateway, filed on the problem list as ``incident`` findings (spec hj212.md §3.4,
§3.6, §3.9, §6: ``pw_fail_alert``, ``reject_alert_ratio``, ``packet_complete_timeout``, log above 80 %).

The loader sees every record of the gateway's log in order, so it keeps the counters here and files the findings
in the same transaction as the batch (a batch that rolls back files nothing; :meth:`OpsWatch.snapshot` and
:meth:`OpsWatch.restore` undo the counters too):

- ``pw_fail_alert``: an MN whose password was refused this many times in a row (no accepted frame in between);
- ``reject_alert_ratio``: more than this share of an MN's inbound frames in one clock hour refused (rejected,
  wrong password, address refused), once it sent at least ``reject_min_frames`` that hour;
- events the gateway logs: a packetised message still incomplete after ``packet_complete_timeout``
  (``packet_incomplete``), the write-ahead log above 80 % of ``wal_max_bytes`` (``wal_usage``).

Repeats update the live finding of the same de-duplication key (count, last seen) instead of adding rows.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bogda.findings import FindingDraft

__all__ = ["OpsWatch"]

_REFUSED = ("rejected", "pw_mismatch", "ip_refused")


@dataclass
class OpsWatch:
    """Counters across loader batches (module docstring)."""

    pw_fail_alert: int = 3
    reject_alert_ratio: float = 0.10
    reject_min_frames: int = 20
    gateway_id: str = "gw1"
    pw_streak: dict[str, int] = field(default_factory=dict)
    hour: dict[str, list[int]] = field(default_factory=dict)  # mn -> [hour, frames, refused, alerted]

    def snapshot(self) -> tuple[dict[str, int], dict[str, list[int]]]:
        return copy.deepcopy((self.pw_streak, self.hour))

    def restore(self, snap: tuple[dict[str, int], dict[str, list[int]]]) -> None:
        self.pw_streak, self.hour = snap

    def frame(self, mn: str, status: str, at: datetime, peer: str, site_id: int | None) -> list[FindingDraft]:
        """One inbound frame of ``mn`` with its log status; the findings it triggers."""
        out: list[FindingDraft] = []
        if status == "pw_mismatch":
            n = self.pw_streak[mn] = self.pw_streak.get(mn, 0) + 1
            if n == self.pw_fail_alert:
                out.append(
                    FindingDraft(
                        kind="incident", severity="medium", detected_at=at, subject_site_id=site_id,
                        title=f"数采仪 {mn} 连续 {n} 次密码错误 / data logger {mn}: {n} wrong passwords in a row",
                        dedupe_key=f"hj212:pw_fail:{mn}",
                        evidence={"mn": mn, "peer": peer, "in_a_row": n, "gateway_id": self.gateway_id,
                                  "rule": "hj212.pw_fail_alert"},
                    )
                )  # fmt: skip
        elif status in ("accepted", "accepted_lenient", "duplicate"):
            self.pw_streak.pop(mn, None)
        h = int(at.timestamp()) // 3600
        cur = self.hour.get(mn)
        if cur is None or cur[0] != h:
            cur = self.hour[mn] = [h, 0, 0, 0]
        cur[1] += 1
        if status in _REFUSED:
            cur[2] += 1
        if not cur[3] and cur[1] >= self.reject_min_frames and cur[2] > self.reject_alert_ratio * cur[1]:
            cur[3] = 1
            share = cur[2] / cur[1]
            out.append(
                FindingDraft(
                    kind="incident", severity="low", detected_at=at, subject_site_id=site_id,
                    title=f"数采仪 {mn} 本小时 {share:.0%} 报文被拒 / data logger {mn}: {share:.0%} of frames refused "
                          f"this hour",
                    dedupe_key=f"hj212:reject_ratio:{mn}",
                    evidence={"mn": mn, "frames": cur[1], "refused": cur[2], "hour_start_utc": h * 3600,
                              "threshold": self.reject_alert_ratio, "gateway_id": self.gateway_id,
                              "rule": "hj212.reject_alert_ratio"},
                )
            )  # fmt: skip
        return out

    def event(self, ev: dict[str, Any], at: datetime) -> list[FindingDraft]:
        """A gateway event from the log; the findings it triggers."""
        if ev.get("e") == "packet_incomplete":
            mn = str(ev.get("mn") or "")
            return [
                FindingDraft(
                    kind="incident", severity="low", detected_at=at,
                    title=f"数采仪 {mn} 分包报文不完整 / data logger {mn}: packetised message incomplete",
                    dedupe_key=f"hj212:packet_incomplete:{mn}",
                    evidence={**ev, "gateway_id": self.gateway_id, "rule": "hj212.packet_complete_timeout"},
                )
            ]  # fmt: skip
        if ev.get("e") == "wal_usage":
            share = float(ev.get("ratio", 0.0))
            return [
                FindingDraft(
                    kind="incident", severity="high", detected_at=at,
                    title=f"HJ 212 网关 {self.gateway_id} 预写日志已用 {share:.0%} / write-ahead log {share:.0%} full",
                    dedupe_key=f"hj212:wal_usage:{self.gateway_id}",
                    evidence={**ev, "gateway_id": self.gateway_id, "rule": "hj212.wal_80_percent"},
                )
            ]  # fmt: skip
        return []
