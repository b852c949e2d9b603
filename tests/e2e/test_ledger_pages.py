"""Ledger and report console pages in a real browser (Chromium + Playwright) over the demo region with the ledgers'
demo year: log in as a ledger clerk, open the ledgers, filter, import an Excel file with an error and see it named
by line and column (nothing written), export, generate the monthly bulletin and download it. No request may
leave this machine; screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from e2e.harness import ARTIFACTS, chromium, outside, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLERK, PASSWORD = "clerk", "clerk-pass-1"


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from bogda.demo.ledger_year import build_ledger_year
    from bogda.grid.service_base import SYSTEM, grant_capability
    from bogda.registry.people import add_user
    from bogda.store import connect
    from bogda.store.schema import place
    from bogda.timeutil import now_utc

    folder = tmp_path_factory.mktemp("ledger_console")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    build_ledger_year(st)
    with st.begin() as conn:
        pref = conn.execute(place.select().where(place.c.kind == "prefecture")).first().id
        uid = add_user(
            conn,
            login=CLERK,
            password=PASSWORD,
            roles=["prefecture_operator"],
            scope_place_id=pref,
            display_name="台账管理员",
        )
        grant_capability(conn, uid, "ledger_clerk", by=SYSTEM, now=now_utc())
    st.dispose()
    with running_server(db, folder, start_timeout_s=300) as base:  # the shared machine is often loaded
        yield base, db


@pytest.fixture(scope="module")
def session(server: tuple[str, Path]) -> Iterator[tuple[Any, list[str]]]:
    base, _ = server
    with chromium() as b:
        ctx = b.new_context(viewport={"width": 1500, "height": 950}, locale="zh-CN", accept_downloads=True)
        pg = ctx.new_page()
        urls: list[str] = []
        pg.on("request", lambda r: urls.append(r.url))
        pg.goto(f"{base}/ledgers")
        pg.fill("#login", CLERK)
        pg.fill("#password", PASSWORD)
        pg.click("button[type=submit]")
        pg.wait_for_url("**/ledgers")
        yield pg, urls
        ctx.close()


def _petition_count(db: Path) -> int:
    from sqlalchemy import func, select

    from bogda.store import connect
    from bogda.store.schema import petition

    st = connect(f"sqlite:///{db}", migrate=False)
    try:
        with st.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(petition)).scalar() or 0)
    finally:
        st.dispose()


def test_ledger_list_filter_import_error_and_export(session: tuple[Any, list[str]], server: tuple[str, Path], tmp_path):
    from openpyxl import Workbook, load_workbook

    pg, urls = session
    base, db = server
    ARTIFACTS.mkdir(exist_ok=True)
    pg.goto(f"{base}/ledgers")
    pg.get_by_text("信访件台账").first.wait_for()
    assert pg.get_by_text("284 条记录").first.is_visible()  # 181 routine + 103 inspection-batch petitions
    pg.screenshot(path=str(ARTIFACTS / "ledgers_index.png"))

    pg.goto(f"{base}/ledgers/petition")
    table = pg.locator(".bogda-ledger-table")
    table.wait_for(timeout=30_000)
    assert table.locator("tbody tr").count() == 50  # the first page of 284
    pg.locator(".bogda-ledger-filter input").fill("DCJB2025-0007")
    pg.wait_for_function("() => document.querySelectorAll('.bogda-ledger-table tbody tr').length === 1", timeout=10_000)
    assert "DCJB2025-0007" in table.locator("tbody tr").first.inner_text()
    pg.screenshot(path=str(ARTIFACTS / "ledger_petition_filtered.png"))

    # an import with one bad row: rejected whole, the error names the line and the column
    before = _petition_count(db)
    wb = Workbook()
    ws = wb.active
    ws.append(["信访编号", "来源渠道", "受理时间", "问题类别", "被反映对象"])
    ws.append(["E2E-0001", "12369", "2025-12-01 09:00", "涉气", "测试对象（模拟）"])
    ws.append(["E2E-0002", "12369", "2025-12-02 09:00", "空气", "测试对象（模拟）"])
    xlsx = tmp_path / "信访导入.xlsx"
    buf = BytesIO()
    wb.save(buf)
    xlsx.write_bytes(buf.getvalue())
    pg.locator(".bogda-ledger-upload input[type=file]").set_input_files(str(xlsx))
    err = pg.locator(".bogda-import-errors")
    err.get_by_text("信访导入.xlsx:3 [问题类别]").first.wait_for(timeout=30_000)
    assert "空气" in err.inner_text()
    assert _petition_count(db) == before  # all or nothing: the good row 2 was not written either
    pg.screenshot(path=str(ARTIFACTS / "ledger_import_error.png"))

    # export: the button downloads the ledger as .xlsx with every record
    with pg.expect_download(timeout=60_000) as dl:
        pg.locator(".bogda-ledger-export").click()
    path = tmp_path / "export.xlsx"
    dl.value.save_as(path)
    sheet = load_workbook(path).active
    assert sheet.cell(1, 1).value == "信访编号" and sheet.max_row == 1 + before
    assert outside(urls) == []


def test_generate_and_download_monthly_report(session: tuple[Any, list[str]], server: tuple[str, Path]) -> None:
    pg, urls = session
    base, _ = server
    pg.goto(f"{base}/ledgers-reports")
    pg.get_by_role("button", name="生成月报").wait_for(timeout=30_000)
    pg.get_by_label("YYYY-MM").fill("2025-12")
    pg.get_by_role("button", name="生成月报").click()
    pg.get_by_text("monthly 2025-12").first.wait_for(timeout=180_000)
    pg.screenshot(path=str(ARTIFACTS / "ledger_reports_generated.png"))
    got = {}
    for fmt in ("DOCX", "PDF"):
        href = pg.get_by_role("link", name=fmt).first.get_attribute("href")
        assert href and href.startswith("/api/v1/reports/")
        r = pg.request.get(f"{base}{href}")  # the browser's session cookie goes with it
        assert r.status == 200, (fmt, r.status)
        got[fmt] = r.body()
    assert got["DOCX"][:2] == b"PK" and got["PDF"][:5] == b"%PDF-"
    assert outside(urls) == []
