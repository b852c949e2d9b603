"""The PMF runs page ``/tracing/apportionment`` (源解析（PMF）) in a real browser, on the stored Baltimore reference run
(no ESAT needed): the runs table, a selected run's species, PM2.5 by factor with the suggested labels (F6 二次硫酸盐 …)
and checks; an issuer adopts the shares through the form (one label select per factor, the area, the study year)
and finds them on ``/forecast/source-shares``; a refusal is shown under the field it names; a reader sees no form.
An issuer submits a run through 新建源解析 (the Baltimore pair uploaded): queued; the ``tracing.apportion`` job, without
an ESAT environment, fails it and the page shows why (``make esat``). ESAT itself never runs here."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from console_users import add_issuer_and_reader
from e2e.harness import ARTIFACTS, chromium, outside, running_server, signed_in

pytestmark = pytest.mark.browser
ISSUER = ("pmfpageissuer", "pmfpageissuer-pass-1")
PLAIN = ("pmfpageplain", "pmfpageplain-pass-1")
PATH = "/tracing/apportionment"
FAILURE = "ESAT worker exited with 1 (out of memory)"


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:

    from bogda.store import connect
    from bogda.tracing import runs
    from tracing_reference import REFERENCE_SETTINGS, baltimore_pair, baltimore_record

    record = baltimore_record()
    folder = tmp_path_factory.mktemp("tracing_console")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    with st.begin() as conn:
        add_issuer_and_reader(conn, ISSUER, PLAIN)
    dataset = "Dataset-Baltimore_con.txt + Dataset-Baltimore_unc.txt"
    ids = {
        "queued": runs.submit_run(st, *baltimore_pair(), REFERENCE_SETTINGS, area_code="652323", data_dir=folder),
        "refused": runs.store_run(st, record, area_code="652323", site="Baltimore", dataset=dataset),
        "adopted": runs.store_run(st, record, area_code="652323", site="Baltimore", dataset=dataset),
        "failed": runs.store_failure(st, REFERENCE_SETTINGS, FAILURE, area_code="652301", site="CJ-01"),
    }
    st.dispose()
    with running_server(db, folder) as base:
        yield base, {"ids": ids, "record": record, "db": db, "data_dir": folder / "data"}


def _run_row(pg: Any, rid: int) -> Any:
    return pg.locator(f'.bogda-pmf-run[data-run-id="{rid}"]')


def _select_run(pg: Any, rid: int) -> None:
    _run_row(pg, rid).click()
    pg.locator(f'.bogda-pmf-detail[data-run-id="{rid}"]').wait_for()


def _choose(pg: Any, selector: str, option: str) -> None:
    pg.locator(selector).click()
    pg.get_by_role("option", name=option, exact=True).click()
    expect(pg.locator(selector)).to_contain_text(option)
    pg.locator(".q-menu").wait_for(state="detached")


def _cells(row: Any) -> list[str]:
    row.wait_for()  # .all() reads what is there now: a row still being drawn would give no cells
    return [c.inner_text().strip() for c in row.locator("td").all()]


def _mass_row(pg: Any, factor: str) -> list[str]:
    """The cells of a factor's row: factor, suggested label, markers, [adopted label,] one per group."""
    return _cells(pg.locator(f'.bogda-pmf-mass-row[data-factor="{factor}"]'))


def test_issuer_reads_a_run_and_adopts_its_shares(server) -> None:
    base, data = server
    ids, record = data["ids"], data["record"]
    with chromium() as b:
        pg, urls = signed_in(b, base, ISSUER, "/forecast/source-shares")
        pg.locator(".bogda-pmf-link").click()
        pg.wait_for_url(f"**{PATH}")
        pg.wait_for_selector(".bogda-pmf-runs")
        assert pg.locator(".bogda-pmf-run").count() == 4
        # newest first, and the newest (the failed run) is selected with its error
        assert [r.get_attribute("data-run-id") for r in pg.locator(".bogda-pmf-run").all()] == [
            str(ids["failed"]),
            str(ids["adopted"]),
            str(ids["refused"]),
            str(ids["queued"]),
        ]
        assert _cells(_run_row(pg, ids["queued"]))[5:] == ["排队中", "—", "—"]
        failed = _run_row(pg, ids["failed"]).inner_text()
        assert f"失败：{FAILURE}" in failed and "昌吉市 (652301)" in failed
        assert FAILURE in pg.locator(".bogda-pmf-failed").inner_text()
        row = _run_row(pg, ids["adopted"]).inner_text()
        for text in (f"#{ids['adopted']}", "Baltimore", "呼图壁县 (652323)", "完成", "11170.5 / 3708（3.01）"):
            assert text in row

        _select_run(pg, ids["adopted"])
        assert "630 个样品（12/14/2000–7/5/2007）" in pg.locator(".bogda-pmf-meta").inner_text()
        species = {r.get_attribute("data-species"): _cells(r) for r in pg.locator(".bogda-pmf-species-row").all()}
        assert len(species) == 26
        assert species["PM2.5"] == ["PM2.5", "9.00", "弱"]
        assert species["Ammonium Ion"][2] == "强" and species["Aluminum"][2] == "剔除"
        # the six factors with their suggested labels and the markers they rest on
        for factor, label, marker in (
            ("F1", "生物质燃烧", "K 0.95"),
            ("F2", "机动车", "OC 0.44"),
            ("F3", "工业", "Zn 0.87"),
            ("F4", "二次硝酸盐", "NO3 0.72"),
            ("F5", "扬尘", "Fe 0.80"),
            ("F6", "二次硫酸盐", "SO4 0.71"),
        ):
            cells = _mass_row(pg, factor)
            assert cells[1] == label and cells[2].startswith(marker), (factor, cells)
        assert _mass_row(pg, "F6")[3] == "5.69（40.4%）"  # all samples: 5.69 µg/m³, 40.4 % of the modelled total
        header = pg.locator(".bogda-pmf-mass tr").first.inner_text()
        for text in ("全部样品", "630 个样品", "采暖季", "261 个样品", "非采暖季", "267 个样品"):
            assert text in header
        assert pg.locator(".bogda-pmf-no-heavy").count() == 1  # no Baltimore sample above 150 µg/m³
        assert "3.01" in pg.locator(".bogda-pmf-check-q").inner_text()
        low = {r["species"] for r in record["residuals"] if r["within"] < 0.95}
        assert {r.get_attribute("data-species") for r in pg.locator(".bogda-pmf-residual.bogda-pmf-flagged").all()} == (
            low
        )
        assert pg.locator(".bogda-pmf-no-bootstrap").count() == 1

        # the form: one select per factor, the suggestion preselected; the analyst calls F3 coal instead
        form = pg.locator(".bogda-adopt-form")
        assert form.locator(".bogda-adopt-label").count() == 6
        expect(pg.locator(".bogda-adopt-label-F6")).to_contain_text("二次硫酸盐")
        expect(pg.locator(".bogda-adopt-field-area_code")).to_contain_text("呼图壁县 (652323)")
        year = pg.locator(".bogda-adopt-field-study_year input")
        year.fill("2007")
        expect(year).to_have_value("2007")
        _choose(pg, ".bogda-adopt-label-F3", "燃煤")
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "tracing_apportionment.png"), full_page=True)
        pg.locator(".bogda-adopt-save").click()
        pg.locator(".bogda-adopt-done").get_by_text("已写入 15 条源解析份额").wait_for()
        assert pg.locator(".bogda-adopt-form").count() == 0
        doc = f"ESAT PMF 源解析 #{ids['adopted']} Baltimore"
        assert doc in _run_row(pg, ids["adopted"]).inner_text()
        assert _mass_row(pg, "F3")[1:4] == ["工业", "Zn 0.87、Fe 0.11、Pb 0.10、NO3 0.07", "燃煤"]  # adopted beside

        pg.locator(".bogda-adopt-shares-link").click()
        pg.wait_for_url("**/forecast/source-shares")
        pg.wait_for_selector(".bogda-share-row")
        mine = [r for r in pg.locator(".bogda-share-row").all_inner_texts() if doc in r]
        assert len(mine) == 15
        assert all("呼图壁县 (652323)" in r and "PM2.5" in r and "2007" in r for r in mine)
        assert sum("燃煤源" in r for r in mine) == 3 and not any("工业源" in r for r in mine)
        assert outside(urls) == []


def test_a_refused_adoption_shows_the_error_under_the_field(server) -> None:
    base, data = server
    rid = data["ids"]["refused"]
    with chromium() as b:
        pg, urls = signed_in(b, base, ISSUER, f"{PATH}?run={rid}")
        pg.wait_for_selector(f'.bogda-pmf-detail[data-run-id="{rid}"] .bogda-adopt-form')
        year = pg.locator(".bogda-adopt-field-study_year input")
        year.fill("1800")
        expect(year).to_have_value("1800")
        pg.locator(".bogda-adopt-save").click()
        message = pg.locator(".bogda-adopt-field-study_year .q-field__messages")
        message.get_by_text("研究年份不合理").wait_for()
        assert "1800" in message.inner_text()  # the service's own words name the value
        assert pg.locator(".bogda-adopt-field.q-field--error").count() == 1
        assert pg.locator(".bogda-adopt-form").count() == 1  # nothing adopted
        assert _run_row(pg, rid).locator(".bogda-pmf-run-adopted").inner_text() == "—"
        assert outside(urls) == []


def test_a_reader_sees_the_runs_without_the_form(server) -> None:
    base, data = server
    rid = data["ids"]["refused"]
    with chromium() as b:
        pg, urls = signed_in(b, base, PLAIN, PATH)
        pg.wait_for_selector(".bogda-pmf-runs")
        _select_run(pg, rid)
        assert _mass_row(pg, "F6")[1] == "二次硫酸盐"
        assert "warning_issuer" in pg.locator(".bogda-pmf-detail").inner_text()
        assert pg.locator(".bogda-adopt-form").count() == 0
        assert pg.locator(".bogda-adopt-save").count() == 0
        assert pg.locator(".bogda-pmf-submit").count() == 0  # nor the submission form
        assert "bogda tracing apportion" in pg.get_by_text("ESAT PMF 受体模型源解析").inner_text()
        pg.goto(f"{base}{PATH}?run={data['ids']['queued']}")
        pending = pg.locator(".bogda-pmf-pending")
        pending.wait_for()
        assert pending.inner_text().startswith("排队中：由调度任务 tracing.apportion 运行")
        assert outside(urls) == []


def test_an_issuer_submits_a_run_and_sees_the_job_fail_it_without_esat(server, tmp_path: Path) -> None:
    """Runs only its own queued run, so the fixture's queued run stays queued whatever the order."""
    from bogda.store import connect
    from bogda.tracing import runs
    from sharedata import require_shared

    base, data = server
    examples = require_shared("source_apportionment", "esat_examples")
    with chromium() as b:
        pg, urls = signed_in(b, base, ISSUER, PATH)
        pg.wait_for_selector(".bogda-pmf-runs")
        # the page is in the navigation drawer, beside the forecast
        drawer = [x.split("\n")[-1].strip() for x in pg.locator(".q-drawer .q-item").all_inner_texts()]  # icon, text
        assert drawer.index("源解析") == drawer.index("预报预警") + 1
        before = pg.locator(".bogda-pmf-run").count()
        pg.locator(".bogda-pmf-submit").get_by_text("新建源解析").click()
        hint = pg.locator(".bogda-pmf-submit").get_by_text("制表符分隔")
        hint.wait_for()
        assert "第一列为采样日期" in hint.inner_text()
        for field, name in (("conc", "Dataset-Baltimore_con.txt"), ("unc", "Dataset-Baltimore_unc.txt")):
            pg.locator(f".bogda-pmf-upload-{field} input[type=file]").set_input_files(str(examples / name))
            expect(pg.locator(f".bogda-pmf-chosen-{field}")).to_have_text(f"已上传：{name}")
        expect(pg.locator(".bogda-pmf-field-factors input")).to_have_value("6")
        _choose(pg, ".bogda-pmf-field-area_code", "呼图壁县 (652323)")
        pg.locator(".bogda-pmf-field-site input").fill("Baltimore 网页")
        categories = pg.locator(".bogda-pmf-field-categories input")
        categories.fill("OM:bad")
        expect(categories).to_have_value("OM:bad")

        # a malformed override is refused under its field, nothing queued
        pg.locator(".bogda-pmf-submit-save").click()
        message = pg.locator(".bogda-pmf-field-categories .q-field__messages")
        message.get_by_text("物种类别调整有误").wait_for()
        assert "OM:bad" in message.inner_text()
        assert pg.locator(".bogda-pmf-run").count() == before

        categories.fill("OM=bad, Lead=weak")
        expect(categories).to_have_value("OM=bad, Lead=weak")
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "tracing_submit.png"), full_page=True)
        pg.locator(".bogda-pmf-submit-save").click()
        done = pg.locator(".bogda-pmf-submitted")
        done.wait_for()
        rid = int(done.inner_text().removeprefix("已提交，排队中（编号 ").removesuffix("）"))
        assert done.inner_text() == f"已提交，排队中（编号 {rid}）"
        expect(pg.locator(".bogda-pmf-run")).to_have_count(before + 1)
        row = _cells(_run_row(pg, rid))
        assert row[2:6] == ["Baltimore 网页", "呼图壁县 (652323)", "6", "排队中"], row
        assert (
            pg.locator(f'.bogda-pmf-detail[data-run-id="{rid}"] .bogda-pmf-pending').inner_text().startswith("排队中")
        )
        assert (data["data_dir"] / "apportionment" / f"run-{rid}" / "input" / "conc.csv").is_file()

        # the scheduler's job runs it (this run only: the fixture's own queued run stays queued for the other
        # tests, whatever their order); without an ESAT environment the run fails with the reason
        st = connect(f"sqlite:///{data['db']}")
        try:
            assert runs.run_queued(st, rid, python=tmp_path / "no-esat" / "bin" / "python") == "failed"
            stored = runs.get_run(st, rid)
        finally:
            st.dispose()
        assert stored["status"] == "failed" and "make esat" in stored["error"]
        assert stored["request"]["overrides"] == {"OM": "bad", "Lead": "weak"}
        # the page sees it by itself (it polls while a run is queued), and after a reload
        expect(_run_row(pg, rid).locator(".bogda-pmf-run-status")).to_contain_text("失败", timeout=20_000)
        pg.reload()
        assert _cells(_run_row(pg, rid))[5].startswith("失败：")
        failed = pg.locator(f'.bogda-pmf-detail[data-run-id="{rid}"] .bogda-pmf-failed')  # the newest, selected
        assert "make esat" in failed.inner_text()
        assert outside(urls) == []
