"""Benchmark: is the command-centre big screen fluid with 500 stations, 2,000+ grid cells and 1,000 open objects
(issue 11 §5)?

Scene: the Changji demo region (real county outlines, the 3 km grid) completed to ``--stations`` air stations spread
over the counties with ``--days`` of simulated hourly data and their AQI, plus ``--objects`` open objects on the map
(60 % findings, 20 % tasks, 20 % fire events). The bogda server (``bogda.web.server.serve``) runs in a child
process on 127.0.0.1; Debian Chromium, driven by Playwright, opens ``/bigscreen`` at 1920×1080 as the prefecture
operator. Every request outside this machine is aborted and counted (must be 0).

Measured, each in two phases of the same run —
* **baseline**: the map alone (every layer switched off);
* **full**: stations, grid, findings, fire events, tasks and wind switched on —
1. frame intervals while idle with live updates arriving (a ``requestAnimationFrame`` loop in the page for
   ``--seconds``): p50/p95/p99 [ms], frames per second, share of long frames (> 50 ms);
2. frame intervals while the map is dragged with the mouse (roam) — the costliest interaction;
3. update latency: a finding written into the database → the panel's count changes in the page (clock of this
   machine on both sides; the page pushes every 3 s, so about 1.5 s on average is the refresh interval itself);
4. replay scrub latency: a click on the replay slider → the hour is shown (and drawn, when layers are on).
Printed: the figures of both phases, the ratios full / baseline, wall and CPU time of the server and of Chromium,
and the load average (the machine is shared).

Usage: ``.venv/bin/python bench/bench_bigscreen.py [--stations 500] [--objects 1000] [--seconds 8] [--days 3]``
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

import numpy as np

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
LOGIN = ("bench-operator", "bench-operator-pass-1")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the scene -------------------------------------------------------------------------------------------------


def build(folder: Path, n_stations: int, n_objects: int, days: int) -> tuple[Path, dict[str, int]]:
    """The demo region with ``n_stations`` stations, their data and AQI, and ``n_objects`` open objects."""
    from shapely.geometry import Point, shape
    from sqlalchemy import func, select

    from bogda.demo.region import build_demo_region
    from bogda.demo.simulate import load_recent
    from bogda.findings import FindingDraft, raise_finding
    from bogda.grid.tasks import GridConfig, GridService
    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.registry.people import add_user
    from bogda.registry.places import PlaceIndex
    from bogda.registry.sites import SiteInput, add_site
    from bogda.store import connect
    from bogda.store.schema import fire_event, place
    from bogda.timeutil import floor_to, now_utc

    db = folder / "bigscreen.db"
    st = connect(f"sqlite:///{db}")
    region = build_demo_region(st)
    rng = np.random.default_rng(11)
    with st.engine.connect() as conn:
        counties = conn.execute(select(place.c.id, place.c.code, place.c.geometry).where(place.c.kind == "county"))
        shapes = [(pid, code, shape(g)) for pid, code, g in counties]
        pref = conn.execute(select(place.c.id).where(place.c.kind == "prefecture")).scalar_one()
    index = PlaceIndex.from_store(st)

    def point_in(poly) -> tuple[float, float]:
        x0, y0, x1, y1 = poly.bounds
        while True:
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if poly.contains(Point(x, y)):
                return round(float(x), 5), round(float(y), 5)

    stations = dict(region.stations)
    with st.begin() as conn:
        add_user(conn, login=LOGIN[0], password=LOGIN[1], roles=["prefecture_operator"], scope_place_id=pref)
        for i in range(max(0, n_stations - len(stations))):
            _pid, _code, poly = shapes[i % len(shapes)]
            lon, lat = point_in(poly)
            code = f"BS{i:04d}"
            stations[code] = add_site(
                conn, SiteInput("air_station", code, f"测试站{i}", lon, lat, simulated=True), index
            )
    now = now_utc()
    load_recent(st, stations, days=days, now=now)
    end = floor_to(now, "hour")
    update_aqi(st, start=end - timedelta(days=days), end=end)
    n_fire = n_objects // 5
    n_task = n_objects // 5
    n_find = n_objects - n_fire - n_task
    with st.begin() as conn:
        for i in range(n_find + n_task):
            _pid, _code, poly = shapes[i % len(shapes)]
            lon, lat = point_in(poly)
            raise_finding(
                conn,
                FindingDraft(
                    kind=("incident", "patrol", "alarm", "hotspot")[i % 4] if i >= n_task else "incident",
                    severity=("low", "medium", "high", "critical")[i % 4],
                    title=f"大屏基准对象 {i}",
                    dedupe_key=f"bench-bigscreen-{i}",
                    detected_at=now - timedelta(minutes=int(rng.integers(10, 60 * 24 * days))),
                    lon=lon,
                    lat=lat,
                ),
                index=index,
                now=now,
            )
        for i in range(n_fire):
            _pid, code, poly = shapes[i % len(shapes)]
            lon, lat = point_in(poly)
            first = now - timedelta(hours=int(rng.integers(1, 24 * days)))
            conn.execute(
                fire_event.insert().values(
                    event_id=f"FE-BENCH-{i:05d}",
                    status="open",
                    first_seen_utc=first,
                    last_seen_utc=first + timedelta(hours=2),
                    lat=lat,
                    lon=lon,
                    n_detections=2,
                    n_clusters=1,
                    satellites=["NOAA-20"],
                    max_frp=float(rng.uniform(2, 60)),
                    county_code=code,
                    updated_at=now,
                )
            )
    # the tasks: the first n_task findings routed onto the grid (each its own task)
    from bogda.store.schema import finding

    with st.engine.connect() as conn:
        fids = (
            conn.execute(
                select(finding.c.id).where(finding.c.title.like("大屏基准对象 %")).order_by(finding.c.id).limit(n_task)
            )
            .scalars()
            .all()
        )
    svc = GridService(st, GridConfig(data_dir=folder, dedupe=False))
    for fid in fids:
        svc.route_finding(fid, now=now)
    with st.engine.connect() as conn:
        cells = conn.execute(select(func.count()).where(place.c.kind == "grid_cell")).scalar_one()
    st.dispose()
    return db, {
        "stations": len(stations),
        "grid_cells": int(cells),
        "findings": n_find + n_task,
        "tasks": n_task,
        "fires": n_fire,
    }


# --- processes -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants [s] (from /proc)."""
    children: dict[int, list[int]] = {}
    stat: dict[int, float] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            text = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        ppid, ut, stt = int(fields[1]), int(fields[11]), int(fields[12])
        children.setdefault(ppid, []).append(int(d))
        stat[int(d)] = (ut + stt) / CLK_TCK
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stat.get(p, 0.0)
        todo.extend(children.get(p, []))
    return total


def serve(db: Path, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "BOGDA_DATABASE_URL": f"sqlite:///{db}",
        "BOGDA_DATA_DIR": str(folder / "data"),
        "BOGDA_GATEWAY__HOST": "127.0.0.1",
        "BOGDA_GATEWAY__PORT": "0",
        "NICEGUI_STORAGE_PATH": str(folder / "nicegui"),
    }
    code = (
        f"from bogda.config import Settings; from bogda.web.server import serve; serve(Settings(), '127.0.0.1', {port})"
    )
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urlopen(f"{base}/api/v1/health", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except (URLError, ConnectionError, TimeoutError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start: {(folder / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)


# --- measurements in the page ----------------------------------------------------------------------------------

FRAMES = """(ms) => new Promise(done => {
  const out = []; let last = performance.now(); const end = last + ms;
  function tick(t) { out.push(t - last); last = t; if (t < end) requestAnimationFrame(tick); else done(out); }
  requestAnimationFrame(tick);
})"""

HOOK = """async () => {
  const { echarts } = await import('nicegui-echart');
  const chart = echarts.getInstanceByDom(document.querySelector('.bs-map'));
  window.__finished = [];
  chart.on('finished', () => window.__finished.push(Date.now()));
  window.__changes = [];
  const el = document.querySelector('.bs-findings-total');
  new MutationObserver(() => window.__changes.push([Date.now(), el.innerText])).observe(
    el, {childList: true, subtree: true, characterData: true});
  window.__replay = [];
  const rt = document.querySelector('.bs-replay-time');
  new MutationObserver(() => window.__replay.push([Date.now(), rt.innerText])).observe(
    rt, {childList: true, subtree: true, characterData: true});
  return true;
}"""

POINTS = """async () => {
  const { echarts } = await import('nicegui-echart');
  const o = echarts.getInstanceByDom(document.querySelector('.bs-map')).getOption();
  return Object.fromEntries(o.series.map(s => [s.name, s.data.length]));
}"""


def frame_stats(intervals: list[float]) -> dict[str, float]:
    a = np.array(intervals[1:]) if len(intervals) > 1 else np.array([np.nan])
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "p99": float(np.percentile(a, 99)),
        "fps": float(1000 / a.mean()),
        "long": float((a > 50).mean() * 100),
    }


def set_layers(page, want: dict[str, bool]) -> None:
    for layer, value in want.items():
        sw = page.locator(f".bs-layer-{layer}")
        on = sw.get_attribute("aria-checked") == "true"
        if on != value:
            sw.click()
            page.wait_for_timeout(300)


def wait_points(page, predicate, timeout_s: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    pts = page.evaluate(POINTS)
    while not predicate(pts) and time.monotonic() < deadline:
        page.wait_for_timeout(300)
        pts = page.evaluate(POINTS)
    return pts


def drag_frames(page, seconds: float) -> list[float]:
    box = page.locator(".bs-map").bounding_box()
    cx, cy = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.55  # over a county (not the gap)
    handle = page.evaluate_handle(f"({FRAMES})({int(seconds * 1000)})")
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 10, cy + 5, steps=3)
    t_end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < t_end:
        k += 1
        dx = 120 * np.sin(k / 6)
        page.mouse.move(cx + dx, cy + dx / 2, steps=2)
    page.mouse.move(cx + 80, cy + 40, steps=4)  # end 80 × 40 px from the start: the map must have moved that much
    page.mouse.up()
    return handle.json_value()


def update_latency(page, db: Path, n: int) -> list[float]:
    """Write a finding, read when the page's count changed (both clocks are this machine's) [ms]."""
    from bogda.findings import FindingDraft, raise_finding
    from bogda.store import connect

    st = connect(f"sqlite:///{db}")
    out = []
    try:
        for i in range(n):
            seen = len(page.evaluate("() => window.__changes"))
            t0 = time.time() * 1000
            with st.begin() as conn:
                raise_finding(
                    conn,
                    FindingDraft(
                        kind="incident",
                        severity="high",
                        title=f"更新延迟 {i} {t0}",
                        dedupe_key=f"bench-latency-{t0}",
                        lon=87.3,
                        lat=44.0,
                    ),
                )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                changes = page.evaluate("() => window.__changes")
                if len(changes) > seen:
                    out.append(changes[-1][0] - t0)
                    break
                page.wait_for_timeout(20)
            page.wait_for_timeout(int(np.random.default_rng(i).uniform(200, 1500)))  # not in step with the timer
    finally:
        st.dispose()
    return out


def scrub_latency(page, n: int) -> list[float]:
    """Clicks on the replay slider (hours 0 … 25, the left part: the bar's labels sit on its right) → the page shows
    the hour (replay label changed) and, when any layer is on, ECharts has finished drawing it [ms]."""
    slider = page.locator(".bs-replay-slider")
    box = slider.bounding_box()
    out = []
    for i in range(n):
        before = len(page.evaluate("() => window.__finished"))
        seen = len(page.evaluate("() => window.__replay"))
        x = box["width"] * (0.01 + 0.35 * i / max(1, n - 1))
        t0 = page.evaluate("() => Date.now()")
        slider.click(position={"x": x, "y": box["height"] / 2})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(page.evaluate("() => window.__replay")) <= seen:
            page.wait_for_timeout(20)
        page.wait_for_timeout(500)  # a redraw after the label, if the map changed
        stamps = [page.evaluate("() => window.__replay")[-1][0]]
        fin = page.evaluate("() => window.__finished")
        if len(fin) > before:
            stamps.append(fin[-1])
        out.append(max(stamps) - t0)
    page.locator(".bs-replay-live").click()
    page.wait_for_timeout(1000)
    return out


def geo_center(page) -> list[float]:
    return page.evaluate(
        """async () => { const { echarts } = await import('nicegui-echart');
        const c = echarts.getInstanceByDom(document.querySelector('.bs-map'));
        const p = c.convertToPixel({geoIndex: 0}, [88.5, 44.5]);
        return [p[0], p[1]]; }"""
    )


def _median_max(v: list[float]) -> tuple[float, float]:
    return (float(np.median(v)), float(np.max(v))) if v else (float("nan"), float("nan"))


def phase(page, db: Path, name: str, seconds: float, latencies: int) -> dict[str, object]:
    idle = frame_stats(page.evaluate(f"({FRAMES})({int(seconds * 1000)})"))
    c0 = geo_center(page)
    drag = frame_stats(drag_frames(page, seconds))
    c1 = geo_center(page)
    drag["moved"] = float(np.hypot(c1[0] - c0[0], c1[1] - c0[1]))  # [px]: the drag really roamed the map
    upd = update_latency(page, db, latencies)
    scrub = scrub_latency(page, latencies)
    return {
        "name": name,
        "idle": idle,
        "drag": drag,
        "update_ms": (float(np.median(upd)) if upd else float("nan"), float(np.max(upd)) if upd else float("nan")),
        "scrub_ms": (
            float(np.median(scrub)) if scrub else float("nan"),
            float(np.max(scrub)) if scrub else float("nan"),
        ),
    }


def show(r: dict[str, object]) -> None:
    idle, drag = r["idle"], r["drag"]
    print(
        f"  {r['name']:<9} idle frames p50 {idle['p50']:6.1f} p95 {idle['p95']:6.1f} p99 {idle['p99']:6.1f} ms, "
        f"{idle['fps']:5.1f} fps, long {idle['long']:4.1f} %"
    )
    print(
        f"  {'':<9} drag frames p50 {drag['p50']:6.1f} p95 {drag['p95']:6.1f} p99 {drag['p99']:6.1f} ms, "
        f"{drag['fps']:5.1f} fps, long {drag['long']:4.1f} % (map moved {drag['moved']:.0f} px)"
    )
    print(
        f"  {'':<9} update latency median {r['update_ms'][0]:6.0f} ms (max {r['update_ms'][1]:.0f}); "
        f"replay scrub median {r['scrub_ms'][0]:5.0f} ms (max {r['scrub_ms'][1]:.0f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=500)
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0, help="per frame-time measurement")
    ap.add_argument("--latencies", type=int, default=6, help="update and scrub samples per phase")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0, c0 = time.perf_counter(), time.process_time()
        db, scene = build(folder, args.stations, args.objects, args.days)
        print(f"scene built in {time.perf_counter() - t0:.0f} s (CPU {time.process_time() - c0:.0f} s): {scene}")
        proc, base = serve(db, folder)
        outside: list[str] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")

                def route(r) -> None:
                    host = urlsplit(r.request.url.removeprefix("blob:")).hostname
                    if r.request.url.startswith("data:") or host in ("127.0.0.1", "localhost"):
                        r.continue_()
                    else:
                        outside.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
                page.goto(f"{base}/login")
                page.fill("#login", LOGIN[0])
                page.fill("#password", LOGIN[1])
                page.click("button[type=submit]")
                page.wait_for_load_state()
                w0 = time.perf_counter()
                s0, b0 = cpu_seconds(proc.pid), cpu_seconds(os.getpid()) - time.process_time()
                page.goto(f"{base}/bigscreen")
                try:
                    page.wait_for_selector(".bs-map", timeout=180_000)
                except Exception:
                    log = (folder / "server.log").read_text()[-3000:]
                    raise SystemExit(f"no map on {page.url}; server log:\n{log}") from None
                wait_points(page, lambda p: p.get("stations", 0) > 0)
                print(f"page ready in {time.perf_counter() - w0:.1f} s")
                page.evaluate(HOOK)

                results = []
                set_layers(page, {k: False for k in ("stations", "grid", "findings", "fire", "tasks", "wind")})
                pts = wait_points(page, lambda p: sum(v for k, v in p.items() if k != "outline") == 0)
                print(f"baseline: points drawn {pts}")
                results.append(phase(page, db, "baseline", args.seconds, args.latencies))
                set_layers(page, {k: True for k in ("stations", "grid", "findings", "fire", "tasks", "wind")})
                pts = wait_points(page, lambda p: p.get("grid", 0) > 0 and p.get("findings", 0) > 0)
                print(f"full: series data drawn {pts} (grid = polylines over {scene['grid_cells']} cells)")
                results.append(phase(page, db, "full", args.seconds, args.latencies))
                shot = Path(__file__).resolve().parents[1] / "test-artifacts" / "bench_bigscreen_full.png"
                shot.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(shot))
                wall = time.perf_counter() - w0
                server_cpu = cpu_seconds(proc.pid) - s0
                browser_cpu = cpu_seconds(os.getpid()) - time.process_time() - b0
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print("results (1920×1080, headless Chromium, software rendering):")
    for r in results:
        show(r)
    base_r, full = results
    print(
        "ratios full / baseline: idle p95 frame "
        f"{full['idle']['p95'] / base_r['idle']['p95']:.2f}, "
        f"drag p95 frame {full['drag']['p95'] / base_r['drag']['p95']:.2f}, "
        f"update latency {full['update_ms'][0] / base_r['update_ms'][0]:.2f}, "
        f"scrub {full['scrub_ms'][0] / base_r['scrub_ms'][0]:.2f}"
    )
    print(
        f"wall {wall:.0f} s in the page; CPU: server {server_cpu:.0f} s, Chromium + Playwright {browser_cpu:.0f} s; "
        f"load average now {os.getloadavg()[0]:.1f}"
    )
    print(f"requests outside this machine: {len(outside)}")
    if outside:
        raise SystemExit(f"the page asked hosts other than this machine: {outside[:5]}")


if __name__ == "__main__":
    main()
