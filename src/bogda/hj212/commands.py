"""Platform → device commands over the device's own connection: state machine, timeouts, retries
(spec hj212.md §3.6, §3.8).

States ``queued → sent → accepted → done | failed``. ``sent``: wait OverTime for the 9011 (9013 for notifies
2012/2022); on timeout re-send the same frame, after ReCount re-sends ``failed(no_answer)``. 9011 QnRtn 1 →
``accepted``, else ``failed(refused:<n>)``. ``accepted``: wait for the 9012 (``exec_timeout``; a recall waits
``recall_idle_timeout`` since its last data frame, at most ``recall_cap``); ExeRtn 1 → ``done``, 100 →
``done(no_data)``, else ``failed(exe:<n>)``. A 9012 without a prior 9011 completes the command (note
``missing_9011``); a repeated 9011 is ignored. One command in flight per MN; a reconnect re-sends it on the new
connection (the gateway calls :meth:`Command.resend`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bogda.hj212 import codes
from bogda.hj212.codec import ParseResult

__all__ = ["Command", "CommandTimeouts", "run_command"]


@dataclass(frozen=True, slots=True)
class CommandTimeouts:
    """OverTime/ReCount [HJ 212-2017 Table 1] and execution timeouts (spec §6) [s]."""

    over_time_s: float = 10.0
    re_count: int = 3
    exec_timeout_s: float = 60.0
    recall_idle_timeout_s: float = 120.0
    recall_cap_s: float = 1800.0


@dataclass(slots=True)
class Command:
    """One platform request and what became of it."""

    mn: str
    cn: str
    qn: str
    frame: bytes
    state: str = "queued"
    attempts: int = 0
    qn_rtn: int | None = None
    exe_rtn: int | None = None
    error: str | None = None
    data_frames: int = 0
    notes: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    row_id: int | None = None
    """Its ``hj212_command`` row (:mod:`bogda.hj212.command_store`), once written."""
    listener: Callable[[Command, str], None] | None = field(default=None, repr=False)
    """Called with ``"sent"`` (every attempt), ``"accepted"`` and ``"finished"`` (the gateway persists them)."""
    _event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _last_progress: float = field(default_factory=time.monotonic, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def result(self) -> str:
        """``done``, ``done(no_data)``, ``failed(<reason>)`` …"""
        if self.state == "done" and self.exe_rtn == 100:
            return "done(no_data)"
        if self.state == "failed":
            return f"failed({self.error})"
        return self.state

    def _finish(self, state: str, error: str | None = None) -> None:
        if self.finished:
            return
        self.state = state
        self.error = error
        self.finished_at = time.monotonic()
        self._event.set()
        self._notify("finished")

    def _notify(self, what: str) -> None:
        if self.listener is not None:
            self.listener(self, what)

    @property
    def final_state(self) -> str:
        """State as stored: a ``failed`` for want of an answer in time is ``timed_out``."""
        if self.state == "failed" and self.error in ("no_answer", "exec_timeout"):
            return "timed_out"
        return self.state

    # ------------------------------------------------------------------------------------------ answers in
    def on_answer(self, answer: ParseResult) -> None:
        """A 9011/9012/9013 carrying this command's QN."""
        cn = answer.header.get("CN")
        fields = answer.cp_fields
        if cn == "9011":
            if self.state not in ("sent", "queued"):
                self.notes.append("repeated_9011")
                return
            try:
                self.qn_rtn = int(fields.get("QnRtn", "100"))
            except ValueError:
                self.qn_rtn = 100
            if self.qn_rtn == 1:
                self.state = "accepted"
                self._last_progress = time.monotonic()
                self._event.set()
                self._notify("accepted")
            else:
                self._finish("failed", f"refused:{self.qn_rtn}")
        elif cn == "9012":
            if self.state != "accepted":
                self.notes.append("missing_9011")
            try:
                self.exe_rtn = int(fields.get("ExeRtn", "2"))
            except ValueError:
                self.exe_rtn = 2
            if self.exe_rtn in (1, 100):
                self._finish("done")
            else:
                self._finish("failed", f"exe:{self.exe_rtn}")
        elif cn == "9013" and self.cn in codes.NOTIFY_COMMAND_CN:
            self._finish("done")

    def on_data(self) -> None:
        """A data frame answering this request arrived (recall progress)."""
        self.data_frames += 1
        self._last_progress = time.monotonic()


async def _wait(cmd: Command, timeout: float) -> bool:
    cmd._event.clear()
    if timeout <= 0:
        return False
    try:
        await asyncio.wait_for(cmd._event.wait(), timeout)
    except TimeoutError:
        return False
    return True


async def run_command(cmd: Command, send: Callable[[Command], bool], timeouts: CommandTimeouts) -> Command:
    """Drive ``cmd`` to ``done``/``failed``. ``send(cmd)`` writes its frame on the device's current connection and
    returns False when the device is offline."""
    for attempt in range(timeouts.re_count + 1):
        if not send(cmd):
            cmd._finish("failed", "offline")
            return cmd
        cmd.attempts = attempt + 1
        if cmd.state == "queued":
            cmd.state = "sent"
        cmd._notify("sent")
        deadline = time.monotonic() + timeouts.over_time_s
        while cmd.state == "sent" and (left := deadline - time.monotonic()) > 0:
            await _wait(cmd, left)
        if cmd.state != "sent":
            break
    else:
        cmd._finish("failed", "no_answer")
        return cmd
    recall = cmd.cn in codes.RECALL_CN
    started = time.monotonic()
    while not cmd.finished:
        now = time.monotonic()
        if recall:
            left = min(
                cmd._last_progress + timeouts.recall_idle_timeout_s - now,
                started + timeouts.recall_cap_s - now,
            )
        else:
            left = started + timeouts.exec_timeout_s - now
        if left <= 0:
            cmd._finish("failed", "exec_timeout")
            break
        await _wait(cmd, left)
    return cmd
