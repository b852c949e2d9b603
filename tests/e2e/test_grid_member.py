"""The grid member's path on a phone-sized viewport (390 × 844) in Debian Chromium driven by Playwright: log in,
open "my tasks", accept the dispatched task, upload a site photo (JPEG with EXIF time and GPS), confirm it,
upload the after photo, submit the feedback — and the task waits for review. The browser must never ask for
anything beyond this server. Screenshots go to ``test-artifacts/grid_member_*.png``. A second test opens the
dispatcher's board, the review page and the KPI dashboard as the prefecture operator.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from e2e.harness import ARTIFACTS, chromium, outside, running_server

pytestmark = pytest.mark.browser

POINT = (87.3010, 44.0120)  # beside the 州监测站 (2691A), Changji City
MEMBER = ("wangwu", "wangwu-pass-1")


def _prepare(db: Path, data_dir: Path) -> int:
    """A grid member on the cell of POINT and a dispatched station-alarm task there; returns the task id."""
    from bogda.findings import FindingDraft
    from bogda.grid.tasks import GridConfig, GridService
    from bogda.registry.people import add_user
    from bogda.store import connect
    from bogda.store.schema import user

    st = connect(f"sqlite:///{db}")
    svc = GridService(st, GridConfig(data_dir=data_dir))
    cell = svc.index.locate(*POINT)
    assert cell is not None
    with st.begin() as conn:
        add_user(
            conn, login=MEMBER[0], password=MEMBER[1], roles=["grid_member"], scope_place_id=cell, display_name="王五"
        )
        operator = conn.execute(select(user.c.id).where(user.c.login == "operator")).scalar_one()
    now = datetime.now(UTC)
    out = svc.file_finding(
        FindingDraft(
            kind="alarm",
            severity="medium",
            title="PM2.5 小时浓度超标",
            dedupe_key="e2e:alarm",
            detected_at=now,
            lon=POINT[0],
            lat=POINT[1],
        ),
        now=now,
    )
    assert out.task_id is not None
    svc.transition(out.task_id, "dispatch", svc.actor(operator), now=now)
    st.dispose()
    return out.task_id


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    folder = tmp_path_factory.mktemp("grid_member")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    task_id = _prepare(db, folder / "data")
    with running_server(db, folder) as base:
        yield base, db, task_id


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def _photo(folder: Path, name: str) -> Path:
    from bogda.grid.exif import write_jpeg

    path = folder / name
    path.write_bytes(
        write_jpeg(
            taken_at=datetime.now(UTC), lon=POINT[0], lat=POINT[1], make="HUAWEI", model="phone", payload=name.encode()
        )
    )
    return path


def test_grid_member_path_on_a_phone(server: tuple[str, Path, int], browser: object, tmp_path: Path) -> None:
    base, db, task_id = server
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/m")
    assert "/login" in page.url
    page.fill("#login", MEMBER[0])
    page.fill("#password", MEMBER[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/m")
    card = page.locator(".bogda-task-card")
    card.first.wait_for(timeout=30_000)
    assert card.count() == 1  # the member's grid holds exactly this task
    assert page.get_by_text("PM2.5 小时浓度超标").is_visible()
    assert page.get_by_text("已派单").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "grid_member_list.png"))
    card.first.click()
    page.wait_for_url(f"**/m/task/{task_id}")

    page.locator(".bogda-sign").click()
    page.locator(".bogda-task-state", has_text="已签收").wait_for(timeout=15_000)

    page.locator(".bogda-upload-site input[type=file]").set_input_files(str(_photo(tmp_path, "site.jpg")))
    page.locator(".bogda-photo.text-positive").first.wait_for(timeout=15_000)
    page.locator(".bogda-confirm").click()
    page.locator(".bogda-task-state", has_text="处置中").wait_for(timeout=15_000)

    page.locator(".bogda-upload-after input[type=file]").set_input_files(str(_photo(tmp_path, "after.jpg")))
    page.wait_for_function("document.querySelectorAll('.bogda-photo.text-positive').length >= 2", timeout=15_000)
    page.locator(".bogda-measures textarea").fill("已督促停止露天焚烧并清理现场")
    page.locator(".bogda-feedback").click()
    page.locator(".bogda-waiting").wait_for(timeout=15_000)
    assert page.get_by_text("待审核").first.is_visible()
    # one column: nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "grid_member_feedback.png"), full_page=True)

    assert not errors, errors
    # blob: URLs are the uploader's own previews of the chosen files: local when their origin is
    assert requests and not outside(requests), f"requests left the server: {outside(requests)}"
    context.close()

    from bogda.store import connect
    from bogda.store.schema import evidence, task, task_event

    st = connect(f"sqlite:///{db}", migrate=False)
    with st.engine.connect() as conn:
        row = conn.execute(select(task).where(task.c.id == task_id)).first()
        photos = conn.execute(select(evidence).where(evidence.c.task_id == task_id)).all()
        events = [
            e.event
            for e in conn.execute(select(task_event).where(task_event.c.task_id == task_id).order_by(task_event.c.seq))
        ]
    st.dispose()
    assert (row.state, row.verdict, row.measures) == ("REVIEW", "confirmed", "已督促停止露天焚烧并清理现场")
    assert [(p.stage, p.passed) for p in photos] == [("site", True), ("after", True)]
    assert events == ["create", "dispatch", "sign", "evidence", "confirm", "evidence", "feedback"]


def test_operator_pages_render(server: tuple[str, Path, int], browser: object) -> None:
    base, _, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/tasks")
    page.fill("#login", "operator")
    page.fill("#password", "operator-pass-1")
    page.click("button[type=submit]")
    page.wait_for_url("**/tasks")
    page.locator(".bogda-task-table").wait_for(timeout=30_000)
    assert page.locator(".bogda-task-table tbody tr").count() >= 1
    assert page.get_by_text("任务调度台").is_visible()
    page.locator(".bogda-task-map").wait_for()
    page.wait_for_timeout(800)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "grid_task_board.png"))
    page.goto(f"{base}/review")
    page.get_by_text("待审核任务").wait_for(timeout=15_000)
    page.goto(f"{base}/kpi")
    page.locator(".bogda-kpi-table").wait_for(timeout=15_000)
    assert page.get_by_text("按期办结率").first.is_visible()
    assert page.get_by_text("合计").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "grid_kpi.png"))
    assert not errors, errors
    page.close()
