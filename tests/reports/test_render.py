from __future__ import annotations

import pytest

from bogda.reports.provenance import runs
from bogda.reports.render import Block, Document, FontMissing, Run, require_cjk, to_docx, to_html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("共25件[[1]]。", [("共25件", False, False), ("[1]", False, True), ("。", False, False)]),
        (
            "**一是整改。**到期25件[[2]]",
            [("一是整改。", True, False), ("到期25件", False, False), ("[2]", False, True)],
        ),
    ],
)
def test_runs(text: str, expected: list) -> None:
    assert [(r.text, r.bold, r.sup) for r in runs(text)] == expected


def test_missing_cjk_font_names_the_font() -> None:
    with pytest.raises(FontMissing, match="No Such CJK Font"):
        require_cjk("No Such CJK Font")


def test_html_is_offline_and_docx_page_setup() -> None:
    from io import BytesIO

    from docx import Document as Docx
    from docx.shared import Mm

    doc = Document("标题", [Block("title", [Run("标题")]), Block("para", [Run("正文")])])
    html = to_html(doc)
    assert "http://" not in html and "https://" not in html
    d = Docx(BytesIO(to_docx(doc)))
    sec = d.sections[0]
    assert (round(sec.top_margin / Mm(1)), round(sec.left_margin / Mm(1))) == (37, 28)  # GB/T 9704
    assert round(sec.page_width / Mm(1)) == 210
