"""The active emergency list on the forecast page in a real browser carries its emission-based estimate
(基于排放的估算, forecast.md §3.9 step 6): 未配置源解析结果 until the bureau enters its source-apportionment study,
then the figure with its interval and the study's name."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.harness import ARTIFACTS, chromium, running_server
from forecast.episode import issued_hutubi_list

pytestmark = pytest.mark.browser
ADMIN = ("listadmin", "listadmin-pass-1")
DOC = "昌吉州PM2.5来源解析（页面测试）"


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from bogda.registry.people import add_user
    from bogda.store import connect

    folder = tmp_path_factory.mktemp("emergency_page")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    with st.begin() as conn:
        add_user(conn, login=ADMIN[0], password=ADMIN[1], roles=["admin"])
    issued_hutubi_list(st, "昌环应急〔2026〕7号")
    st.dispose()
    with running_server(db, folder) as base:
        yield base, db


def _estimate_lines(base: str) -> list[str]:
    with chromium() as b:
        pg = b.new_page(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
        pg.goto(f"{base}/forecast")
        pg.fill("#login", ADMIN[0])
        pg.fill("#password", ADMIN[1])
        pg.click("button[type=submit]")
        pg.wait_for_url("**/forecast")
        pg.wait_for_selector(".bogda-emission-estimate")
        lines = pg.locator(".bogda-emission-estimate").all_inner_texts()
        pg.locator(".bogda-emission-estimate").first.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "forecast_emission_estimate.png"), full_page=True)
    return lines


def test_list_shows_unconfigured_then_the_estimate_with_its_study(server: tuple[str, Path]) -> None:
    from bogda.forecast import source_share as ss
    from bogda.store import connect

    base, db = server
    assert _estimate_lines(base) == ["基于排放的估算：未配置源解析结果（呼图壁县）"]
    st = connect(f"sqlite:///{db}")
    try:
        ss.add_source_share(st, "652323", "coal", 0.3, share_low=0.2, share_high=0.4, source_doc=DOC, season="heavy")
    finally:
        st.dispose()
    (line,) = _estimate_lines(base)
    # 260 µg/m³ × 0.3 × (1.0 / 2.0) = 39; the interval from 0.2 and 0.4: 26–52
    assert line.startswith("基于排放的估算：ΔPM2.5 ≈ −39.0 (26.0–52.0) µg/m³")
    assert DOC in line and "重污染过程" in line and "线性近似" in line
