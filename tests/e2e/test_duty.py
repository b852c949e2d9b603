"""The duty officer's desk (``/duty``) in a real browser (Debian Chromium driven by Playwright) over a copy of the
demo region: the inbox lists the open findings most severe first, one click dispatches a finding into the grid
(the task exists afterwards and the row leaves the inbox), the printable shift report opens, and the DOCX downloads
and is recorded. Every request outside this machine is aborted and fails the test. Screenshot:
``test-artifacts/duty.png``.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from e2e.harness import ARTIFACTS, LOCAL_HOSTS, chromium, running_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from bogda.findings import FindingDraft, raise_finding
    from bogda.store import connect
    from bogda.timeutil import now_utc

    folder = tmp_path_factory.mktemp("duty")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    now = now_utc()
    with st.begin() as conn:
        for key, sev, hours, lon, lat in (
            ("low", "low", 20, 87.31, 44.02),
            ("critical", "critical", 1, 87.30, 44.00),
            ("high", "high", 5, 87.99, 44.15),
        ):
            raise_finding(
                conn,
                FindingDraft(
                    kind="incident",
                    severity=sev,
                    title=f"值班台浏览器测试 {key}",
                    dedupe_key=f"duty-e2e-{key}",
                    detected_at=now - timedelta(hours=hours),
                    lon=lon,
                    lat=lat,
                ),
                now=now - timedelta(hours=hours),
            )
    st.dispose()
    with running_server(db, folder) as base:
        yield base, db


def _tasks_of(db: Path, key: str) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT t.id, t.state FROM task t JOIN task_finding tf ON tf.task_id = t.id "
            "JOIN finding f ON f.id = tf.finding_id WHERE f.dedupe_key = ?",
            (f"duty-e2e-{key}",),
        ).fetchall()


def _wait(page: object, predicate, timeout_s: float = 20.0) -> object:
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(300)  # type: ignore[attr-defined]
    return value


def test_inbox_dispatch_and_shift_report(server: tuple[str, Path], tmp_path: Path) -> None:
    from urllib.parse import urlsplit

    base, db = server
    with chromium() as browser:
        ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN", accept_downloads=True)
        page = ctx.new_page()
        outside: list[str] = []
        errors: list[str] = []

        def route(r: object) -> None:
            url = r.request.url  # type: ignore[attr-defined]
            if url.startswith("data:") or urlsplit(url.removeprefix("blob:")).hostname in LOCAL_HOSTS:
                r.continue_()  # type: ignore[attr-defined]
            else:
                outside.append(url)
                r.abort()  # type: ignore[attr-defined]

        ctx.route("**/*", route)
        page.on("pageerror", lambda e: errors.append(str(e)))

        page.goto(f"{base}/duty")
        assert "/login" in page.url
        page.fill("#login", "operator")
        page.fill("#password", "operator-pass-1")
        page.click("button[type=submit]")
        page.goto(f"{base}/duty")
        page.wait_for_selector(".duty-inbox .duty-title", timeout=30_000)
        titles = [t.strip() for t in page.locator(".duty-title").all_inner_texts() if "浏览器测试" in t]
        assert titles == ["值班台浏览器测试 critical", "值班台浏览器测试 high", "值班台浏览器测试 low"]
        assert page.locator(".duty-shift").inner_text().startswith("班次")

        # one click: the critical finding becomes a dispatched task and leaves the inbox
        assert _tasks_of(db, "critical") == []
        waiting = int(page.locator(".duty-fig-undispatched").inner_text().removesuffix("件"))
        assert waiting >= 3
        with sqlite3.connect(db) as conn:
            fid = conn.execute("SELECT id FROM finding WHERE dedupe_key='duty-e2e-critical'").fetchone()[0]
        page.locator(f".duty-dispatch-{fid}").click()
        assert _wait(page, lambda: _tasks_of(db, "critical"))
        (tid, state), *_ = _tasks_of(db, "critical")
        assert state == "DISPATCHED"
        assert _wait(page, lambda: page.locator(f".duty-dispatch-{fid}").count() == 0)
        # the notification names the task (it renders after the list has refreshed: wait for it, as above)
        assert _wait(page, lambda: page.get_by_text(f"任务 {tid}").count() >= 1)
        # the shift summary follows: one finding fewer waiting, one task more dispatched
        fewer = f"{waiting - 1}件"
        assert _wait(page, lambda: page.locator(".duty-fig-undispatched").inner_text() == fewer)
        assert page.locator(".duty-fig-tasks-dispatched").inner_text() == "1件"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "duty.png"), full_page=True)

        # the DOCX downloads and is recorded
        page.locator(".duty-notes textarea").fill("夜间平稳。")
        with page.expect_download(timeout=60_000) as dl:
            page.locator(".duty-docx").click()
        path = tmp_path / "shift.docx"
        dl.value.save_as(path)
        xml = zipfile.ZipFile(io.BytesIO(path.read_bytes())).read("word/document.xml").decode()
        assert "交接班报告" in xml and "夜间平稳" in xml
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM report WHERE kind='shift'").fetchone()[0] == 1

        # the printable page
        href = page.locator(".duty-print").get_attribute("href")
        assert href and href.startswith("/api/v1/duty/shift-report?")
        page.goto(f"{base}{href}")
        assert "交接班报告" in page.locator("h1.title").inner_text()
        assert page.locator("table").count() >= 2

        assert not errors, errors
        assert not outside, f"requests left the server: {outside}"
        ctx.close()
