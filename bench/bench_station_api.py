"""Benchmark: ``GET /api/v1/stations/status`` under 50 concurrent clients (monitoring.md §6: p99 < 100 ms).

A SQLite store with 100 stations (7 counties) and 3 days of hourly data and AQI is served by uvicorn in a child
process on 127.0.0.1. The load comes from Debian's ``wrk`` (C, epoll) in another process — 50 keep-alive
connections on 2 threads for a bounded time — so the figures are the server's, not a Python load generator's.
Runs, all in the same process of the server and the same run:

* ``cached``: the endpoint as a browser asks (``Accept-Encoding: gzip``), the snapshot kept by
  :class:`bogda.monitoring.status.StatusCache` (pre-serialised, gzipped, tagged once per data version);
* ``identity``: the same without compression;
* ``revalidate``: clients that hold the answer and send ``If-None-Match`` (304);
* ``polling``: as ``cached, gzip`` but each client waits ``--poll-ms`` after each answer, as an open map does;
* ``baseline``: the same answer computed per request (``/bench/uncached``: :func:`stations_status` and the
  serialisation on every request, a route only this script's server has) — the ratio is against it.

CPU seconds of the server (its ``/proc`` counters) and of ``wrk`` are printed with each run, and the load average.

Usage: ``.venv/bin/python bench/bench_station_api.py [--clients 50] [--seconds 20] [--stations 100] [--poll-ms 1000]``
(needs ``wrk``: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

LOGIN = ("bench", "bench-pass-12345")
WRK_THREADS = int(os.environ.get("BOGDA_WRK_THREADS", "2"))
PIN = os.environ.get("BOGDA_BENCH_PIN", "1") == "1" and len(os.sched_getaffinity(0)) >= 2
"""Server on the first CPU, load generator (and this script) on the others (``BOGDA_BENCH_PIN=0`` lets the
scheduler place them): on a 2-CPU machine the two otherwise share cores and each run's tail depends on where the
scheduler happened to put them."""


def cpus() -> tuple[set[int], set[int]]:
    """(server CPUs, load-generator CPUs) when pinning, else all CPUs twice."""
    allowed = sorted(os.sched_getaffinity(0))
    return ({allowed[0]}, set(allowed[1:])) if PIN else (set(allowed), set(allowed))


def pinning() -> str:
    srv, load = cpus()
    return f"server on CPU {sorted(srv)}, wrk and this script on CPU {sorted(load)}" if PIN else "no CPU pinning"


"""Threads of the load generator (each drives its share of the connections with epoll)."""
AUTH = "Basic " + base64.b64encode(f"{LOGIN[0]}:{LOGIN[1]}".encode()).decode()

SERVER = """
import json, sys, uvicorn
from pathlib import Path
from fastapi import Depends, Response
from bogda.config import Settings, WebSettings
from bogda.monitoring.status import stations_status
from bogda.store import connect
from bogda.web.app import create_app
from bogda.web.auth import require_user
db, folder, port = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = connect(f"sqlite:///{db}")
app = create_app(Settings(database_url=store.url, data_dir=folder, web=WebSettings(secret_key="bench-secret-key",
                 login_attempts_per_minute=100000)), store, console=False)

@app.get("/bench/uncached", dependencies=[Depends(require_user)])
def uncached() -> Response:
    frame = stations_status(store)
    recs = frame.with_columns(frame["last_ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              frame["aqi_ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_dicts()
    doc = {"meta": {"found": len(recs)}, "results": recs}
    return Response(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode(),
                    media_type="application/json")

from bogda.web.server import freeze_startup_heap
freeze_startup_heap()  # as bogda serve does
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def build(folder: Path, n: int) -> Path:
    """A SQLite store of ``n`` air stations in 7 counties, 3 days of hourly values and their AQI tables."""
    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.registry.people import add_user
    from bogda.registry.places import upsert_place
    from bogda.registry.sites import SiteInput, add_site
    from bogda.store import connect
    from bogda.store import series as S
    from bogda.timeutil import floor_to, now_utc

    db = folder / "api.db"
    st = connect(f"sqlite:///{db}")
    with st.begin() as conn:
        pref = upsert_place(conn, code="652300", name="昌吉州", level=1, kind="prefecture")
        counties = [
            upsert_place(conn, code=f"65230{i}", name=f"县{i}", level=2, kind="county", parent_id=pref)
            for i in range(1, 8)
        ]
        ids = [
            add_site(
                conn,
                SiteInput(
                    "air_station",
                    f"B{i:03d}",
                    f"站{i}",
                    87 + i / 100,
                    44,
                    place_id=counties[i % 7],
                    attrs={"evaluation": True},
                ),
            )
            for i in range(n)
        ]
        add_user(conn, login=LOGIN[0], password=LOGIN[1], roles=["admin"])
    end = floor_to(now_utc(), "hour")
    start = end - timedelta(days=3)
    ts = pl.datetime_range(start, end - timedelta(hours=1), "1h", eager=True, time_zone="UTC")
    rng = np.random.default_rng(3)
    parts = [
        pl.DataFrame(
            {"site_id": sid, "parameter": p, "ts": ts, "value": np.round(b * np.exp(rng.normal(0, 0.4, len(ts))), 1)}
        )
        for sid in ids[:-5]  # five stations fall silent: offline
        for p, b in {"a34004": 40, "a34002": 80, "a21026": 10, "a21004": 30, "a21005": 0.8, "a05024": 60}.items()
    ]
    S.write_long(st, pl.concat(parts), resolution="hour")
    update_aqi(st, start=start, end=end)
    st.dispose()
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(script: str, db: Path, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The app under uvicorn in a child process; returns it and its port once ``/api/v1/health`` answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", script, str(db), str(folder), str(port)])
    srv, load = cpus()
    os.sched_setaffinity(proc.pid, srv)
    os.sched_setaffinity(0, load)  # this script's writer threads stay off the server's CPU
    deadline = time.monotonic() + 180
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/api/v1/health")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.terminate()
            raise SystemExit("the server did not start")
        time.sleep(0.5)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server (it finishes the requests in flight first) before its store folder is removed."""
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    r.body = r.read()  # type: ignore[attr-defined]
    return r


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process [s] (``/proc/<pid>/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """One ``wrk`` run: latency percentiles [ms], request rate, errors and CPU seconds of server and ``wrk``."""

    name: str
    p50: float
    p99: float
    requests: int
    rate: float
    errors: int
    server_cpu: float
    wrk_cpu: float
    wall: float
    load: float
    retransmits: int = 0
    """TCP segments the kernel retransmitted during the run (all of this machine; on loopback each one is a
    stall of at least the 200 ms minimum retransmission timeout for one connection)."""
    kernel: dict[str, int] = field(default_factory=dict)
    """The kernel's counters that moved during the run and tell why a segment was lost or late (``TcpExt`` in
    /proc/net/netstat, ``softnet_dropped`` from /proc/net/softnet_stat): see :func:`kernel_counters`."""

    def line(self) -> str:
        return (
            f"{self.name}: {self.requests} requests in {self.wall:.1f} s ({self.rate:.0f}/s), {self.errors} errors, "
            f"p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms; CPU server {self.server_cpu:.1f} s, wrk "
            f"{self.wrk_cpu:.1f} s; TCP retransmits {self.retransmits}; load average {self.load:.2f}"
            + ("; kernel " + ", ".join(f"{k} {v}" for k, v in self.kernel.items()) if self.kernel else "")
        )


def tcp_retransmits() -> int:
    """The kernel's count of retransmitted TCP segments (``RetransSegs`` in /proc/net/snmp); -1 where unreadable."""
    try:
        lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines() if ln.startswith("Tcp:")]
        return int(lines[1][lines[0].index("RetransSegs")])
    except (OSError, ValueError, IndexError):
        return -1


KERNEL_COUNTERS = (
    "ListenOverflows",
    "ListenDrops",
    "TCPBacklogDrop",
    "TCPRcvQDrop",
    "TCPTimeouts",
    "TCPSynRetrans",
    "TCPLossProbes",
    "TCPSpuriousRTOs",
    "TCPDelivered",
)
"""``TcpExt`` counters that say where loopback segments were lost or stalled: a full accept queue (Listen*), a
full socket backlog or receive queue while the owner held the lock (TCPBacklogDrop, TCPRcvQDrop), retransmission
timeouts and tail-loss probes."""


def kernel_counters() -> dict[str, int]:
    """:data:`KERNEL_COUNTERS`, ``softnet_dropped`` (packets the per-CPU input queue, ``netdev_max_backlog``
    long, dropped: column 2 of /proc/net/softnet_stat summed over CPUs) and :func:`steal_ms`; empty where
    unreadable."""
    out: dict[str, int] = {}
    try:
        rows = [ln.split() for ln in Path("/proc/net/netstat").read_text().splitlines() if ln.startswith("TcpExt:")]
        names, values = rows[0], rows[1]
        out = {k: int(values[names.index(k)]) for k in KERNEL_COUNTERS if k in names}
        soft = Path("/proc/net/softnet_stat").read_text().split("\n")
        out["softnet_dropped"] = sum(int(ln.split()[1], 16) for ln in soft if ln.strip())
    except (OSError, ValueError, IndexError):
        pass
    return out | steal_ms()


def steal_ms() -> dict[str, int]:
    """Time the hypervisor ran something else while each CPU of this VM wanted to run [ms] (``steal``, the 8th
    value of each ``cpuN`` line of /proc/stat, in clock ticks): a stall no process here can see or cause."""
    out: dict[str, int] = {}
    try:
        tick = 1000 / os.sysconf("SC_CLK_TCK")
        for ln in Path("/proc/stat").read_text().splitlines():
            f = ln.split()
            if f and f[0].startswith("cpu") and f[0] != "cpu":
                out[f"steal_{f[0]}_ms"] = round(int(f[8]) * tick)
    except (OSError, ValueError, IndexError):
        pass
    return out


def counter_change(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The counters that moved (``TCPDelivered`` always, as the scale)."""
    d = {k: after[k] - before.get(k, 0) for k in after}
    return {k: v for k, v in d.items() if v or k == "TCPDelivered"}


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_wrk(out: str) -> tuple[float, float, int, float, int]:
    """p50 and p99 [ms], requests, requests/s and non-2xx/3xx + socket errors from ``wrk --latency`` output."""
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    if set(pct) != {"50", "99"}:
        raise ValueError(f"no latency distribution in the wrk output:\n{out}")
    m = re.search(r"^\s*(\d+) requests in", out, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return _ms(pct["50"]), _ms(pct["99"]), int(m.group(1)) if m else 0, float(rate.group(1)) if rate else 0.0, errors


def wrk(
    name: str,
    port: int,
    path: str,
    *,
    clients: int,
    seconds: float,
    headers: dict[str, str],
    pid: int,
    pause_ms: int = 0,
) -> Run:
    """Load ``path`` with ``wrk`` (``clients`` connections, 2 threads, ``seconds``, 10 s request timeout).

    ``pause_ms`` > 0: each connection waits that long after each answer (clients polling, not back-to-back; the
    pause is not part of the latency).
    """
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    args = [exe, f"-t{WRK_THREADS}", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "10s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    if pause_ms:
        script = Path(tempfile.gettempdir()) / f"bogda_wrk_pause_{pause_ms}.lua"
        script.write_text(f"function delay()\n  return {int(pause_ms)}\nend\n")
        args += ["-s", str(script)]
    before_srv = cpu_seconds(pid)
    before_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_retrans = tcp_retransmits()
    before_kernel = kernel_counters()
    t0 = time.perf_counter()
    out = subprocess.run([*args, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    p50, p99, n, rate, errors = parse_wrk(out)
    return Run(
        name,
        p50,
        p99,
        n,
        rate,
        errors,
        cpu_seconds(pid) - before_srv,
        (kids.ru_utime - before_kids.ru_utime) + (kids.ru_stime - before_kids.ru_stime),
        wall,
        os.getloadavg()[0],
        tcp_retransmits() - before_retrans,
        counter_change(before_kernel, kernel_counters()),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--poll-ms", type=int, default=1000, help="pause of each client in the polling run [ms]")
    args = ap.parse_args()
    print(f"load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; {pinning()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = build(folder, args.stations)
        proc, port = start_server(SERVER, db, folder)
        try:
            path = "/api/v1/stations/status"
            first = get(port, path, {"Authorization": AUTH})
            if first.status != 200:
                raise SystemExit(f"stations/status answered {first.status}: {first.body[:300]!r}")  # type: ignore[attr-defined]
            etag = first.getheader("ETag") or ""
            print(f"answer: {len(first.body) / 1024:.1f} KiB, ETag {etag}")  # type: ignore[attr-defined]
            get(port, "/bench/uncached", {"Authorization": AUTH})  # warm-up
            common = {"clients": args.clients, "seconds": args.seconds, "pid": proc.pid}
            runs = [
                wrk("cached, gzip", port, path, headers={"Authorization": AUTH, "Accept-Encoding": "gzip"}, **common),
                wrk("cached, identity", port, path, headers={"Authorization": AUTH}, **common),
                wrk("revalidate (304)", port, path, headers={"Authorization": AUTH, "If-None-Match": etag}, **common),
                wrk(
                    f"polling every {args.poll_ms} ms, gzip",
                    port,
                    path,
                    headers={"Authorization": AUTH, "Accept-Encoding": "gzip"},
                    pause_ms=args.poll_ms,
                    **common,
                ),
                wrk(
                    "baseline: computed per request", port, "/bench/uncached", headers={"Authorization": AUTH}, **common
                ),
            ]
            for r in runs:
                print(r.line())
            base = runs[-1]
            p99 = max(r.p99 for r in runs[:2])
            polled = runs[3].p99
            print(
                f"ratio p99 cached / baseline: {runs[0].p99 / base.p99:.4f} (gzip), {runs[1].p99 / base.p99:.4f} "
                f"(identity); target p99 < 100 ms at {args.clients} clients: {'met' if p99 < 100 else 'NOT met'} "
                f"(back-to-back), {'met' if polled < 100 else 'NOT met'} (polling)"
            )
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
