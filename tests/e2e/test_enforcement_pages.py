"""The non-site supervision pages in a real browser: clue inbox, a clue's evidence view, the enterprise page with
its CEMS data marks and gate records (enforcement.md §5, issue 9 item 6)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from e2e.harness import ARTIFACTS, chromium, outside, running_server

pytestmark = pytest.mark.browser
OFFICER = ("officer9", "officer-pass-9")


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    from sqlalchemy import select

    from bogda.enforcement import recordbook, service
    from bogda.registry.people import add_user
    from bogda.store import connect
    from bogda.store.schema import place, site
    from enforcement.synthetic import START, write_demo_data

    folder = tmp_path_factory.mktemp("enforcement_pages")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    write_demo_data(st)
    marks = folder / "marks.csv"
    marks.write_text(
        "target,mark_type,start,end,entered_at\nZD-PW1-DA001,停运,2026-01-08 10:00,2026-01-08 14:00,2026-01-11 09:00\n",
        encoding="utf-8",
    )
    recordbook.import_marks(st, marks)
    gate = folder / "gate.csv"
    gate.write_text("通过时间,车牌号,车辆类型,排放阶段\n2026-01-14 09:00,新B12345,重型,国四\n", encoding="utf-8")
    recordbook.import_gate(st, gate, enterprise="ZD-PW1")
    service.run_clues(st, since=START + timedelta(days=5), until=START + timedelta(days=20), enterprises=["ZD-PW1"])
    with st.begin() as conn:
        pref = conn.execute(select(place.c.id).where(place.c.code == "652300")).scalar_one()
        add_user(conn, login=OFFICER[0], password=OFFICER[1], roles=["enforcement_officer"], scope_place_id=pref)
        ent = conn.execute(select(site.c.id).where(site.c.code == "ZD-PW1")).scalar_one()
    st.dispose()
    with running_server(db, folder) as base:
        yield base, int(ent)


def test_inbox_evidence_and_enterprise_page(server: tuple[str, int]) -> None:
    base, ent = server
    with chromium() as b:
        pg = b.new_page(viewport={"width": 1500, "height": 1000}, locale="zh-CN")
        urls: list[str] = []
        pg.on("request", lambda r: urls.append(r.url))
        pg.goto(f"{base}/clues")
        pg.fill("#login", OFFICER[0])
        pg.fill("#password", OFFICER[1])
        pg.click("button[type=submit]")
        pg.wait_for_url("**/clues")
        pg.wait_for_selector(".bogda-clue-table tbody tr")
        table = pg.locator(".bogda-clue-table").inner_text()
        assert "C16" in table and "C01" in table
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "enforcement_inbox.png"), full_page=True)
        pg.locator(".bogda-clue-table tbody tr", has_text="C16").first.click()
        pg.wait_for_selector(".bogda-clue-title")
        assert "C16" in pg.locator(".bogda-clue-title").inner_text()
        pg.screenshot(path=str(ARTIFACTS / "enforcement_clue.png"), full_page=True)
        pg.goto(f"{base}/enforcement/enterprises/{ent}")
        pg.wait_for_selector(".bogda-enterprise-name")
        marks = pg.locator(".bogda-marks").inner_text()
        assert "ZD-PW1-DA001" in marks and "stopped" in marks and "2026-01-08 10:00" in marks
        assert "新B12345" in pg.locator(".bogda-gate").inner_text()
        pg.screenshot(path=str(ARTIFACTS / "enforcement_enterprise.png"), full_page=True)
        assert outside(urls) == []
