"""Benchmark: ``GET /api/v1/stations/status`` under 50 concurrent clients (monitoring.md §6: p99 < 100 ms).

A SQLite store with 100 stations (7 counties) and 3 days of hourly data and AQI is served by uvicorn in a child
process on 127.0.0.1; 50 client threads with keep-alive connections send a bounded number of requests each (and stop
at a time limit). Baseline in the same run: the same load on ``GET /api/v1/sites?kind=air_station&limit=1000``,
which recomputes the stations' latest values and AQI on every request (a naive per-request query).

Usage: ``.venv/bin/python bench/bench_station_api.py [--clients 50] [--requests 40] [--seconds 60]``
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

LOGIN = ("bench", "bench-pass-12345")

SERVER = """
import sys, uvicorn
from pathlib import Path
from bogda.config import Settings, WebSettings
from bogda.store import connect
from bogda.web.app import create_app
db, folder, port = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = connect(f"sqlite:///{db}")
app = create_app(Settings(database_url=store.url, data_dir=folder, web=WebSettings(secret_key="bench-secret-key",
                 login_attempts_per_minute=100000)), store, console=False)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def build(folder: Path, n: int) -> Path:
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


def load(
    port: int, path: str, clients: int, per_client: int, seconds: float, interval: float = 0.0
) -> tuple[np.ndarray, int]:
    auth = "Basic " + base64.b64encode(f"{LOGIN[0]}:{LOGIN[1]}".encode()).decode()
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    barrier = threading.Barrier(clients)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        barrier.wait()
        for _ in range(per_client):
            if time.monotonic() > deadline:
                break
            t = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Authorization": auth})
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except OSError:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t)
            if interval:
                time.sleep(max(0.0, interval - (time.perf_counter() - t)))
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


def report(name: str, ms: np.ndarray, errors: int) -> float:
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    print(f"{name}: {len(ms)} requests, {errors} errors, p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ms.max():.1f} ms")
    return float(p99)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=40, help="per client")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0, help="polling period of the paced run [s]")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = build(folder, args.stations)
        port = free_port()
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
            auth = "Basic " + base64.b64encode(f"{LOGIN[0]}:{LOGIN[1]}".encode()).decode()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("GET", "/api/v1/stations/status", headers={"Authorization": auth})
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise SystemExit(f"stations/status answered {r.status}: {body[:300]!r}")
            load(port, "/api/v1/stations/status", 2, 3, 30)  # warm-up: first answer fills the cache
            load(port, "/api/v1/sites?kind=air_station&limit=1000", 2, 3, 30)
            p99 = report(
                "stations/status", *load(port, "/api/v1/stations/status", args.clients, args.requests, args.seconds)
            )
            paced = report(
                f"stations/status, each client polling every {args.interval} s",
                *load(port, "/api/v1/stations/status", args.clients, args.requests // 2, args.seconds, args.interval),
            )
            base = report(
                "baseline /sites (recomputed per request)",
                *load(
                    port,
                    "/api/v1/sites?kind=air_station&limit=1000",
                    args.clients,
                    max(4, args.requests // 4),
                    args.seconds,
                ),
            )
            print(
                f"ratio p99 status / baseline: {p99 / base:.3f}; target p99 < 100 ms: "
                f"{'met' if p99 < 100 else 'NOT met'} (back-to-back), {'met' if paced < 100 else 'NOT met'} (polling)"
            )
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
