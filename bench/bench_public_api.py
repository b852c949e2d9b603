"""Benchmark: ``GET /public/api/v1/stations`` (the public AQI page's API, issue 11 §5: p99 < 100 ms under 200
concurrent clients).

A SQLite store with 500 stations (7 counties) and 3 days of hourly data and AQI (built by
``bench_station_api.build``) is served by uvicorn in a child process on 127.0.0.1; 200 client threads with keep-alive
connections send a bounded number of requests each (and stop at a time limit). Baseline in the same run: the same
answer computed per request without the cache (``/bench/uncached``, a route added only by this script's server).
Clients ask as a browser does (``Accept-Encoding: gzip``); the uncompressed answer is measured too. The load
generator runs on the same CPUs as the server, so its own thread scheduling is part of the figures.

Usage: ``.venv/bin/python bench/bench_public_api.py [--clients 200] [--requests 25] [--seconds 60] [--stations 500]``
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location("bench_station_api", Path(__file__).with_name("bench_station_api.py"))
assert _spec and _spec.loader
station_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(station_bench)  # reuse its store builder and load generator

SERVER = """
import json, sys, uvicorn
from pathlib import Path
from fastapi import Response
from bogda.config import Settings, WebSettings
from bogda.monitoring.status import StatusCache
from bogda.store import connect
from bogda.web.app import create_app
from bogda.web.public import public_snapshot
db, folder, port = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = connect(f"sqlite:///{db}")
app = create_app(Settings(database_url=store.url, data_dir=folder, web=WebSettings(secret_key="bench-secret-key")),
                 store, console=False)

@app.get("/bench/uncached")
def uncached() -> Response:
    doc = public_snapshot(store, StatusCache(ttl=0.0, check=0.0))
    return Response(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode(),
                    media_type="application/json")

uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def load(port: int, path: str, clients: int, per_client: int, seconds: float) -> tuple[np.ndarray, int]:
    """Like ``bench_station_api.load`` but as a browser asks: ``Accept-Encoding: gzip``, body decompressed."""
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    barrier = threading.Barrier(clients)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()  # keep-alive clients: connection set-up is not part of an answer's latency
        mine = []
        barrier.wait()
        for _ in range(per_client):
            if time.monotonic() > deadline:
                break
            t = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
                r = conn.getresponse()
                data = r.read()
                if r.getheader("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                ok = r.status == 200 and data[:1] == b"{"
            except OSError:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return np.array(lat) * 1000, errors[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--requests", type=int, default=25, help="per client")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--stations", type=int, default=500)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.stations} stations")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        db = station_bench.build(folder, args.stations)
        print(f"store built in {time.perf_counter() - t0:.1f} s")
        port = station_bench.free_port()
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(db), str(folder), str(port)])
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    c.request("GET", "/api/v1/health")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.5)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("GET", "/public/api/v1/stations")
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise SystemExit(f"/public/api/v1/stations answered {r.status}: {body[:300]!r}")
            print(f"answer: {len(body) / 1024:.0f} KiB")
            station_bench.load(port, "/public/api/v1/stations", 2, 3, 30)  # warm-up
            station_bench.load(port, "/bench/uncached", 2, 2, 30)
            p99 = station_bench.report(
                "public/api/v1/stations (cached, gzip as browsers ask)",
                *load(port, "/public/api/v1/stations", args.clients, args.requests, args.seconds),
            )
            station_bench.report(
                "public/api/v1/stations (cached, identity encoding)",
                *station_bench.load(port, "/public/api/v1/stations", args.clients, args.requests, args.seconds),
            )
            base = station_bench.report(
                "baseline: same answer computed per request",
                *station_bench.load(port, "/bench/uncached", args.clients, 1, args.seconds),
            )
            print(
                f"ratio p99 cached / baseline: {p99 / base:.3f}; target p99 < 100 ms at {args.clients} clients: "
                f"{'met' if p99 < 100 else 'NOT met'}"
            )
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
