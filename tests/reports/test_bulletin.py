"""The monthly air-quality bulletin from the stored daily AQI rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bogda.reports import service
from bogda.reports.bulletin import tally
from reports.conftest import ARTIFACTS, need
from reports.helpers import cjk_runs_without_east_asia, compact, docx_text, pdf_png, pdf_text


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"a": Decimal("-3.2"), "b": Decimal("0.04"), "c": Decimal("5")}, (1, 1, 1)),
        ({"a": Decimal("-0.05"), "b": Decimal("-0.04")}, (1, 1, 0)),  # -0.05 rounds half-up to -0.1: 降
        ({"a": None, "b": Decimal("2")}, (0, 0, 1)),
    ],
)
def test_tally(changes, expected) -> None:
    assert tally(changes) == expected


@pytest.mark.slow
def test_monthly_bulletin(report_store, tmp_path: Path) -> None:
    g = service.monthly(report_store, 2025, 12, tmp_path)
    text = compact(docx_text(g.docx))
    for phrase in (
        "环境空气质量月报",
        "（2025年12月）",
        "一、空气质量状况",
        "二、主要污染物浓度",
        "三、首要污染物",
        "四、各县市环境空气质量排名",
        "（说明：扣除沙尘影响后评价。）",
        "昌吉市",
        "木垒哈萨克自治县",
    ):
        assert phrase in text, phrase
    assert cjk_runs_without_east_asia(g.docx) == []
    by_key = {f["key"]: f for f in g.figures}
    # the figures the text shows are those computed, each naming the 31 day rows behind it
    valid = by_key["month.valid_days"]
    assert valid["display"] == "31天" and valid["count"] == 31
    assert f"优良天数比例为{by_key['month.good_day_ratio']['display']}" in text.replace("[5]", "")
    assert all(f["query"] for f in g.figures)
    need("pdftotext")
    need("pdftoppm")
    pdf = compact(pdf_text(g.pdf))
    for phrase in ("昌吉市", "木垒哈萨克自治县", "环境空气质量月报", by_key["month.composite_index"]["display"]):
        assert phrase in pdf, phrase
    pngs = pdf_png(g.pdf, ARTIFACTS / "reports" / "bulletin-2025-12", pages=(1, 2))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)


def test_bulletin_without_data(sqlite_store, tmp_path: Path) -> None:
    g = service.monthly(sqlite_store, 2025, 12, tmp_path, pdf=False)
    assert "无可用的逐日空气质量数据" in docx_text(g.docx)
    assert g.warnings
