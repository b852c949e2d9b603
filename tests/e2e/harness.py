"""The browser tests' shared harness: a bogda server in a subprocess over a database copy, Debian Chromium driven by
Playwright, and the check that a page asked for nothing beyond this machine (importable as ``e2e.harness``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def need(ok: bool, reason: str) -> None:
    """Skip without ``ok`` — or fail under ``CI=true``, where everything a test needs must be there."""
    if not ok:
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(db: Path, folder: Path, *, start_timeout_s: float = 90) -> Iterator[str]:
    """``bogda.web.server.serve`` in a subprocess over the SQLite file ``db``; yields its base URL.

    The HJ 212 gateway binds an ephemeral loopback port so that servers of parallel test workers never collide;
    the scheduler stays off so that nothing changes the data under the test.
    """
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
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                try:
                    with urlopen(f"{base}/api/v1/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except (URLError, ConnectionError, TimeoutError):
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"server did not start: {log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


EXPECT_TIMEOUT_MS = 20_000
"""How long a page assertion (Playwright's ``expect``) waits for its condition before it fails."""


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian Chromium under Playwright with the workplace's flags; yields the browser."""
    need(CHROMIUM.exists(), f"{CHROMIUM} not installed (apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        need(False, "playwright (Python) is not installed")
    # expect()'s own 5 s is shorter than a server round trip on two cores busy with the other workers' model
    # training (a page test failed under that load and passed alone); locators already wait 30 s
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def signed_in(
    browser: Any,
    base: str,
    user: tuple[str, str],
    path: str,
    *,
    timezone: str | None = None,
    errors: list[str] | None = None,
) -> tuple[Any, list[str]]:
    """A zh-CN page of ``browser`` signed in as ``user`` (login, password) on ``path``, and the URLs it requests (for
    :func:`outside`). ``timezone``: the browser's own zone (IANA name; default the machine's); ``errors``: a list
    that collects the page's uncaught JavaScript errors from the first request on."""
    pg = browser.new_page(viewport={"width": 1500, "height": 1100}, locale="zh-CN", timezone_id=timezone)
    urls: list[str] = []
    pg.on("request", lambda r: urls.append(r.url))
    if errors is not None:
        pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{base}{path}")
    pg.fill("#login", user[0])
    pg.fill("#password", user[1])
    pg.click("button[type=submit]")
    pg.wait_for_url(f"**{path}")
    return pg, urls


def outside(urls: Iterable[str]) -> list[str]:
    """The requested URLs that left this machine (``data:`` URLs stay in the page; ``blob:`` wraps a local one)."""
    return sorted(
        {u for u in urls if not u.startswith("data:") and urlsplit(u.removeprefix("blob:")).hostname not in LOCAL_HOSTS}
    )


_CHART_TIP = """async ([selector, series, index]) => {
  const { echarts } = await import('nicegui-echart');
  const el = document.querySelector(selector);
  const chart = el && echarts.getInstanceByDom(el);
  const n = chart ? chart.getOption().series[series].data.length : 0;
  if (!n) return null;
  chart.dispatchAction({type: 'showTip', seriesIndex: series, dataIndex: index < 0 ? n + index : index});
  await new Promise(r => setTimeout(r, 300));
  const tips = [...el.querySelectorAll('div')].filter(d => d.style.position === 'absolute' && d.innerText.trim());
  return tips.map(d => d.innerText);
}"""


def chart_tooltip(page: Any, selector: str, series: int, index: int) -> list[str]:
    """The lines of the tooltip an ECharts chart (``selector``) shows for point ``index`` of ``series`` (negative:
    from the end), as the reader sees them; waits for the chart to be drawn (it is after its element appears)."""
    page.wait_for_selector(f"{selector} canvas", timeout=30_000)
    for _ in range(20):
        tips = page.evaluate(_CHART_TIP, [selector, series, index])
        if tips:
            return tips[0].splitlines()
        page.wait_for_timeout(500)
    raise AssertionError(f"no tooltip on the chart {selector}")
