"""Benchmark: ``GET /public/api/v1/stations`` (the public AQI page's API, issue 11 §5: p99 < 100 ms under 200
concurrent clients).

A SQLite store with 500 stations (7 counties) and 3 days of hourly data and AQI (built by
``bench_station_api.build``) is served by uvicorn in a child process on 127.0.0.1. The load comes from Debian's
``wrk`` in another process: 200 keep-alive connections on 2 threads for a bounded time. Runs, in the same run:

* ``quiet, gzip``: as a browser asks (``Accept-Encoding: gzip``), no data arriving;
* ``quiet, identity``: the same uncompressed;
* ``revalidate (304)``: clients that hold the answer and send ``If-None-Match``;
* ``polling``: each client waits ``--poll-ms`` after each answer, as open pages do — the load is bounded, which is
  the target's condition (issue 11 §5: "200 concurrent clients (load from 127.0.0.1, bounded)"); ``--poll-ms 25``
  bounds it near the server's capacity;
* ``data arriving``: as ``quiet, gzip`` while this script writes a new hourly value every ``--write-every`` seconds
  (each write changes the data version, so the answer is rebuilt in the background while the old bytes are served);
* ``outlines``: ``/public/api/v1/outlines`` (county GeoJSON, a separate long-lived answer);
* ``floor``: 10 KiB of fixed bytes from a bare ASGI middleware (no cache, no routing, no work) — what this server
  process and this machine give at best under the same load, for reading the others;
* ``baseline``: the same stations answer computed and serialised per request (``/bench/uncached``, a route only
  this script's server has) — the ratios are against it.

CPU seconds of the server and of ``wrk``, the TCP segments the kernel retransmitted and the kernel counters that say
why (tail-loss probes when an ACK is late, retransmission timeouts of ≥ 200 ms, queue drops), and the load average
are printed with each run. ``BOGDA_WRK_THREADS=1`` keeps ``wrk`` to one thread; the server is pinned to the first
CPU and ``wrk`` to the others (``BOGDA_BENCH_PIN=0`` turns that off).

Usage: ``.venv/bin/python bench/bench_public_api.py [--clients 200] [--seconds 20] [--stations 500]
[--poll-ms 1000] [--write-every 1]`` (needs ``wrk``: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

_spec = importlib.util.spec_from_file_location("bench_station_api", Path(__file__).with_name("bench_station_api.py"))
assert _spec and _spec.loader
station_bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_station_api"] = station_bench  # its dataclasses look their module up
_spec.loader.exec_module(station_bench)  # reuse its store builder, server start and wrk runner

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

@app.get("/bench/builds")
def builds() -> dict:
    from bogda.web import public
    return {"builds": sum(c.builds for c in public._caches.values())}

class Floor:  # the server's floor: fixed bytes from a bare ASGI middleware, no cache, no routing, no work
    def __init__(self, app):
        self.app, self.body = app, bytes(10240)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/bench/floor":
            return await self.app(scope, receive, send)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"), (b"content-length", b"10240")]})
        await send({"type": "http.response.body", "body": self.body})

app.add_middleware(Floor)
from bogda.web.server import freeze_startup_heap
freeze_startup_heap()  # as bogda serve does
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


class Writer(threading.Thread):
    """Writes one new hourly PM2.5 value of one station every ``every`` seconds (data arriving) until stopped."""

    def __init__(self, db: Path, every: float) -> None:
        super().__init__(daemon=True)
        self.db, self.every, self.writes = db, every, 0
        self.halt = threading.Event()

    def run(self) -> None:
        import polars as pl

        from bogda.store import connect
        from bogda.store import series as S
        from bogda.timeutil import floor_to, now_utc

        st = connect(f"sqlite:///{self.db}")
        hour = floor_to(now_utc(), "hour")
        while not self.halt.wait(self.every):
            self.writes += 1
            ts = hour + timedelta(hours=self.writes)  # a new hour each time: never a correction
            S.write_long(
                st,
                pl.DataFrame({"site_id": [1], "parameter": ["a34004"], "ts": [ts], "value": [float(self.writes)]}),
                resolution="hour",
            )
        st.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--stations", type=int, default=500)
    ap.add_argument("--poll-ms", type=int, default=1000, help="pause of each client in the polling run [ms]")
    ap.add_argument("--write-every", type=float, default=1.0, help="seconds between writes in the busy run")
    args = ap.parse_args()
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"load average {load} on {os.cpu_count()} CPUs; {args.stations} stations, {args.clients} clients; "
        f"{station_bench.pinning()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        db = station_bench.build(folder, args.stations)
        print(f"store built in {time.perf_counter() - t0:.1f} s")
        proc, port = station_bench.start_server(SERVER, db, folder)
        try:
            path = "/public/api/v1/stations"
            first = station_bench.get(port, path, {"Accept-Encoding": "gzip"})
            if first.status != 200:
                raise SystemExit(f"{path} answered {first.status}: {first.body[:300]!r}")
            plain = gzip.decompress(first.body)
            doc = json.loads(plain)
            etag = first.getheader("ETag") or ""
            outlines = station_bench.get(port, "/public/api/v1/outlines", {"Accept-Encoding": "gzip"})
            print(
                f"answer: {len(doc['stations'])} stations, {len(plain) / 1024:.0f} KiB ({len(first.body) / 1024:.0f} "
                f"KiB gzip), ETag {etag}; outlines {len(outlines.body) / 1024:.0f} KiB gzip (separate answer)"
            )
            station_bench.get(port, "/bench/uncached")  # warm-up
            common = {"clients": args.clients, "seconds": args.seconds, "pid": proc.pid}
            gz = {"Accept-Encoding": "gzip"}
            runs = [
                station_bench.wrk("quiet, gzip", port, path, headers=gz, **common),
                station_bench.wrk("quiet, identity", port, path, headers={}, **common),
                station_bench.wrk("revalidate (304)", port, path, headers={**gz, "If-None-Match": etag}, **common),
                station_bench.wrk(
                    f"polling every {args.poll_ms} ms", port, path, headers=gz, pause_ms=args.poll_ms, **common
                ),
            ]
            before = json.loads(station_bench.get(port, "/bench/builds").body)["builds"]
            writer = Writer(db, args.write_every)
            writer.start()
            try:
                runs.append(station_bench.wrk("data arriving, gzip", port, path, headers=gz, **common))
            finally:
                writer.halt.set()
                writer.join()
            rebuilt = json.loads(station_bench.get(port, "/bench/builds").body)["builds"] - before
            runs.append(station_bench.wrk("outlines, gzip", port, "/public/api/v1/outlines", headers=gz, **common))
            runs.append(station_bench.wrk("floor: fixed 10 KiB, bare ASGI", port, "/bench/floor", headers={}, **common))
            runs.append(
                station_bench.wrk("baseline: computed per request", port, "/bench/uncached", headers={}, **common)
            )
            for r in runs:
                print(r.line())
            print(f"data arriving: {writer.writes} writes, {rebuilt} rebuilds of the answer during the run")
            base = runs[-1]
            print(
                f"ratio p99 / baseline: quiet gzip {runs[0].p99 / base.p99:.4f}, "
                f"identity {runs[1].p99 / base.p99:.4f}, "
                f"data arriving {runs[4].p99 / base.p99:.4f}"
            )
            bounded = runs[3]
            print(
                f"target p99 < 100 ms at {args.clients} clients, load bounded (each client asks again "
                f"{args.poll_ms} ms after its answer: {bounded.rate:.0f} requests/s, server CPU "
                f"{bounded.server_cpu / bounded.wall:.0%}): {'met' if bounded.p99 < 100 else 'NOT met'} "
                f"(p99 {bounded.p99:.1f} ms)"
            )
            print(
                "at saturation (back-to-back, unbounded; server CPU 100 %): "
                + ", ".join(
                    f"{r.name} {'met' if r.p99 < 100 else 'NOT met'}" for i, r in enumerate(runs) if i in (0, 1, 2, 4)
                )
            )
        finally:
            station_bench.stop(proc)


if __name__ == "__main__":
    main()
