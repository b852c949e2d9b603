"""The annual duty report: generated from one call, figures from records, each with its provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from bogda.reports import service
from bogda.reports.duty_report import build
from reports.conftest import ARTIFACTS, need
from reports.helpers import cjk_runs_without_east_asia, compact, docx_text, pdf_fonts, pdf_png, pdf_text

pytestmark = pytest.mark.slow

SEED_TEXT = [
    # the seed report's figures as they must read in the generated text
    "到期整改任务25件",
    "按期完成销号24件",
    "按期销号率96.0%",
    "共交办信访件103件",
    "已办结90件",
    "办结率87.4%",
    "受理生态环境信访件181件",
    "办结181件",
    "作出行政处罚决定151件",
    "罚没款1378.00万元",
    "查处案件28件",
    "非现场执法案件占比18.5%",
    "审批环评文件296件",
    "排污许可证523件",
]


def _plain(text: str) -> str:
    import re

    return re.sub(r"\[\d+\]", "", compact(text))  # drop the reference marks


@pytest.fixture(scope="module")
def generated(report_year_template: Path, tmp_path_factory: pytest.TempPathFactory):
    from bogda.store import connect

    st = connect(f"sqlite:///{report_year_template}", migrate=False)
    out = tmp_path_factory.mktemp("annual")
    try:
        yield service.annual(st, 2025, out), st
    finally:
        st.dispose()


def test_docx_has_seed_figures_and_cjk_fonts(generated) -> None:
    g, _ = generated
    text = _plain(docx_text(g.docx))
    assert "关于2025年度生态环境保护职责履行情况的报告" in text
    for phrase in SEED_TEXT:
        assert phrase in text, phrase
    for head in ("一、工作开展情况", "二、存在的问题", "三、下一步工作计划", "附件：数据来源"):
        assert head in text
    assert cjk_runs_without_east_asia(g.docx) == []


def test_every_figure_has_provenance(generated) -> None:
    g, st = generated
    assert g.figures, "the report used no figures"
    for f in g.figures:
        assert f["query"], f
        if f["value"] is not None and f["key"] not in ("petition.batch1.name",):
            assert f["count"] > 0, f"{f['key']} names no records"
    # the report row keeps the figures and the hashes
    from sqlalchemy import select

    from bogda.store.schema import report

    with st.engine.connect() as conn:
        row = conn.execute(select(report).where(report.c.id == g.report_id)).mappings().one()
    assert row["kind"] == "annual" and len(row["docx_sha256"]) == 64 and len(row["pdf_sha256"]) == 64
    assert [f["key"] for f in row["figures"]] == [f["key"] for f in g.figures]


def test_pdf_text_fonts_and_page_image(generated) -> None:
    need("pdftotext")
    need("pdftoppm")
    g, _ = generated
    text = _plain(pdf_text(g.pdf))
    for phrase in ("生态环境保护职责履行情况", "昌吉市", "木垒哈萨克自治县", *SEED_TEXT):
        assert phrase in text, phrase
    fonts = pdf_fonts(g.pdf)
    assert "bogda-body" in fonts and " yes " in fonts  # the CJK faces are embedded
    pngs = pdf_png(g.pdf, ARTIFACTS / "reports" / "duty-report-2025", pages=(1, 2))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)


def test_template_edit_and_missing_figure(report_store, tmp_path: Path) -> None:
    tpl = tmp_path / "t.md.j2"
    tpl.write_text(
        "# 关于{{ year }}年度的简报\n\n全年处罚案件{{ f('case.count') }}，另有{{ f('no.such.key') }}。\n",
        encoding="utf-8",
    )
    r = build(report_store, 2025, template=tpl)
    text = r.document.plain_text()
    assert "关于2025年度的简报" in text and "151件" in text and "—" in text
    assert any("no.such.key" in w for w in r.sources.warnings)
