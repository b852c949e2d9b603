"""The loader in a process of its own: drains a gateway's write-ahead log into the store (spec hj212.md §3.9).

Why a process: the loader parses every frame again and builds database rows; in the gateway's process it shared
the interpreter lock with the event loop that frames, parses and acknowledges, so a backlog slowed the acks. Run
apart, the two only share the log folder:

- the gateway writes ``durable.seq`` (:data:`bogda.hj212.wal.DURABLE_MARKER`) after every group sync; the loader
  reads records only up to it, so it never stores a record whose sync had not returned (a record the machine could
  still lose would otherwise be in the store while the log starts again below it);
- the loader writes ``loaded.seq`` (:data:`bogda.hj212.wal.LOADED_MARKER`) after every committed batch; the
  gateway reads it to delete old segments (it keeps the log's size accounting) and to report the loader's position;
- ``loader.lock`` (an exclusive ``flock``) makes sure one loader at most works on a log: a loader started while an
  old one is still finishing its batch waits for it. The lock is released by the kernel when a process dies, even
  by SIGKILL.

The kill -9 guarantees do not depend on the process split: a batch's rows and its checkpoint commit in one
transaction (:class:`bogda.hj212.ingest.Loader`), so a loader killed at any moment leaves either the whole batch or
none of it, and the next loader resumes at the checkpoint.

``bogda gateway`` starts the loader as a child (:class:`LoaderSupervisor`: restarted with back-off when it exits,
SIGTERM on shutdown, and on Linux the kernel sends it SIGTERM when the gateway dies). ``bogda hj212 loader`` runs
one standalone (for example on another host that mounts the log folder, or to drain a log after a crash).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bogda.hj212.auth import DeviceInfo
from bogda.hj212.wal import DURABLE_MARKER, LOADED_MARKER, SeqMarker

__all__ = ["LOCK_FILE", "LoaderOptions", "LoaderSupervisor", "LockTimeout", "SignalStop", "run_loader"]

log = logging.getLogger("bogda.hj212.loader")
LOCK_FILE = "loader.lock"


@dataclass
class LoaderOptions:
    """Settings of a loader process (spec §6 writer batch; the gateway passes its own)."""

    wal_dir: Path
    gateway_id: str = "gw1"
    batch: int = 5000
    interval_s: float = 0.2
    registry_refresh_s: float = 30.0
    max_backoff_s: float = 30.0
    wait_for_durable: bool = True
    """Read only up to ``durable.seq`` (a gateway writes it). Off for draining a log whose gateway is gone."""
    parent_pid: int | None = None
    """Exit once this process is gone (the gateway that started us)."""
    exit_when_idle: bool = False
    """Stop after the first batch that finds nothing new (``bogda hj212 loader --once``)."""
    lock_timeout_s: float | None = None
    """Give up (:class:`LockTimeout`) when another loader holds the log this long; ``None`` waits as long as it
    takes (the gateway's child: the old one is finishing its batch). A drain after a crash sets it, so that a
    loader that never lets go is reported instead of waited for forever."""


class StopSignal(Protocol):
    """What the loop needs of a stop request: :class:`threading.Event` or :class:`SignalStop`."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class SignalStop:
    """A stop request that a signal handler may set.

    :meth:`threading.Event.set` takes the event's lock. A handler runs in the main thread between two bytecodes,
    so a second SIGTERM arriving while the first handler is inside ``Event.set`` re-enters it and waits for a lock
    its own thread holds: the process hangs for ever, holding the log's lock and an open transaction (seen in the
    kill -9 test: a loader child hung this way, and the drain after it waited on its lock). Setting an attribute
    takes no lock; :meth:`wait` polls it in short sleeps.
    """

    POLL_S = 0.05

    def __init__(self) -> None:
        self.flag = False

    def set(self) -> None:
        self.flag = True

    def is_set(self) -> bool:
        return self.flag

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.flag:
            left = self.POLL_S if end is None else end - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, self.POLL_S))
        return self.flag


class LockTimeout(RuntimeError):
    """Another loader held the log's lock longer than :attr:`LoaderOptions.lock_timeout_s`."""


def _acquire_lock(path: Path, stop: StopSignal, timeout_s: float | None = None) -> int | None:
    """Exclusive ``flock`` on ``path``, waiting while another loader holds it; the fd, or ``None`` if stopped.

    Raises :class:`LockTimeout` after ``timeout_s`` (None: no limit)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    announced = False
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while not stop.is_set():
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if not announced:
                log.info("another loader holds %s: waiting for it to finish", path)
                announced = True
            if deadline is not None and time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout(f"another loader has held {path} for more than {timeout_s:g} s") from None
            stop.wait(0.2)
    os.close(fd)
    return None


def _registry(store: Any, refresh_s: float) -> Callable[[], dict[str, DeviceInfo]]:
    """``devices()`` that re-reads the registry every ``refresh_s`` (new devices, changed units or aliases)."""
    from bogda.hj212.ingest import load_devices

    state: dict[str, Any] = {"at": 0.0, "devices": {}}

    def devices() -> dict[str, DeviceInfo]:
        now = time.monotonic()
        if now - state["at"] >= refresh_s:
            try:
                state["devices"] = load_devices(store)
                state["at"] = now
            except Exception as exc:  # keep the last snapshot; the batch itself will report a dead database
                log.warning("loader: registry not read (%s); using the previous snapshot", exc)
        return state["devices"]

    return devices


def run_loader(store: Any, options: LoaderOptions, stop: StopSignal | None = None) -> Any:
    """Drain the log of ``options.gateway_id`` into ``store`` until ``stop`` is set (or the parent is gone, or,
    with ``exit_when_idle``, the log is exhausted); returns the :class:`~bogda.hj212.ingest.LoadStats`.

    Database errors roll the batch back and are retried with exponential back-off (the gateway keeps acking into
    its log meanwhile).
    """
    from bogda.hj212.ingest import Loader

    stop = stop or threading.Event()
    wal_dir = Path(options.wal_dir)
    wal_dir.mkdir(parents=True, exist_ok=True)
    lock_fd = _acquire_lock(wal_dir / LOCK_FILE, stop, options.lock_timeout_s)
    if lock_fd is None:
        from bogda.hj212.ingest import LoadStats

        return LoadStats()
    durable = SeqMarker(wal_dir / DURABLE_MARKER) if options.wait_for_durable else None
    loaded = SeqMarker(wal_dir / LOADED_MARKER)
    backoff = options.interval_s
    loader = None
    try:
        while not stop.is_set():
            if options.parent_pid is not None and os.getppid() != options.parent_pid:
                log.warning("loader: gateway %d is gone; stopping", options.parent_pid)
                break
            try:
                if loader is None:
                    loader = Loader(
                        store,
                        wal_dir,
                        options.gateway_id,
                        devices=_registry(store, options.registry_refresh_s),
                        batch=options.batch,
                    )
                    loaded.write(loader.checkpoint_seq)
                max_seq = durable.read() if durable is not None else None
                # no durable marker yet: no gateway has synced anything into this folder
                n = 0 if durable is not None and max_seq is None else loader.load(max_seq)
                backoff = options.interval_s
            except Exception as exc:  # database down, locked or slow: retry; nothing was half-stored
                log.warning("loader: %s; retrying in %.1f s", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, options.max_backoff_s)
                continue
            if n:
                loaded.write(loader.checkpoint_seq)
            if n < options.batch:
                if options.exit_when_idle and n == 0:
                    break
                stop.wait(options.interval_s)
    finally:
        loaded.close()
        if durable is not None:
            durable.close()
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)
    if loader is None:
        from bogda.hj212.ingest import LoadStats

        return LoadStats()
    return loader.stats


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGTERM to this child when its parent (the gateway) dies (``prctl``)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def main_child(store: Any, options: LoaderOptions) -> Any:
    """Entry point of the ``bogda hj212 loader`` command: SIGTERM/SIGINT finish the current batch, then exit."""
    stop = SignalStop()  # not threading.Event: its set() takes a lock, and a second signal would deadlock on it

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if options.parent_pid is not None:
        _die_with_parent()
        if os.getppid() != options.parent_pid:  # the parent died before prctl took effect
            return None
    return run_loader(store, options, stop)


class LoaderSupervisor:
    """Starts ``bogda hj212 loader`` as a child of the gateway and restarts it when it exits (back-off 1 s … 60 s).

    Parameters
    ----------
    database_url : str
        Passed to the child in its environment (``BOGDA_DATABASE_URL``), not on its command line.
    options : LoaderOptions
    """

    def __init__(self, database_url: str, options: LoaderOptions) -> None:
        self.database_url = database_url
        self.options = options
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.started_at = 0.0
        self._backoff = 1.0
        self._next_start = 0.0
        self.stopping = False

    def command(self) -> list[str]:
        o = self.options
        return [
            sys.executable, "-m", "bogda", "hj212", "loader",
            "--wal-dir", str(o.wal_dir), "--gateway-id", o.gateway_id,
            "--batch", str(o.batch), "--interval", str(o.interval_s),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip

    def start(self) -> None:
        env = dict(os.environ, BOGDA_DATABASE_URL=self.database_url)
        self.proc = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL)
        self.started_at = time.monotonic()
        log.info("loader process %d started for %s", self.proc.pid, self.options.wal_dir)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def check(self) -> bool:
        """Called periodically: restart the child if it exited; True when it is running."""
        if self.stopping:
            return False
        if self.proc is not None and self.proc.poll() is None:
            if time.monotonic() - self.started_at > 60:
                self._backoff = 1.0  # it has been running a while: a later crash restarts quickly again
            return True
        now = time.monotonic()
        if self.proc is not None and self._next_start == 0.0:
            log.warning("loader process exited with status %s; restarting in %.0f s", self.proc.returncode,
                        self._backoff)  # fmt: skip
            self._next_start = now + self._backoff
            self._backoff = min(self._backoff * 2, 60.0)
            return False
        if now >= self._next_start:
            self._next_start = 0.0
            if self.proc is not None:
                self.restarts += 1
            self.start()
            return True
        return False

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, then wait for the current batch to commit (SIGKILL after ``timeout``); the exit status."""
        self.stopping = True
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
