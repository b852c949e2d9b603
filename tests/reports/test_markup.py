"""The template markup shared by the duty report and the shift report (bogda.reports.markup): directives, figures
with reference marks, unknown keys and tables as warnings, user text never read as markup, errors naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bogda.ledger.figures import Figure
from bogda.reports.markup import MarkupError, load, parse, render_text
from bogda.reports.provenance import Sources
from bogda.reports.render import Block

FIGS = {
    "a": Figure("a", "甲", 3, "件", 0, "q-a", ("t:1", "t:2", "t:3")),
    "part.x": Figure("part.x", "新增X", 2, "件", 0, "q-x", ("t:1", "t:2"), detail={"name": "X类"}),
    "part.y": Figure("part.y", "新增Y", 1, "件", 0, "q-y", ("t:3",)),
}


def test_figures_print_with_marks_and_unknown_keys_warn() -> None:
    src = Sources()
    out = render_text('共{{ f("a") }}，其中{{ each("part") }}；{{ f("nope") }}；{{ each("none") }}', FIGS, src, {})
    assert out == "共3件[[1]]，其中X类2件[[2]]、新增Y1件[[3]]；—[[4]]；无"
    assert [f.key for f in src.figures] == ["a", "part.x", "part.y", "nope"]
    assert any("'nope'" in w for w in src.warnings)


def test_directives() -> None:
    table = Block("table", header=["h"], rows=[["1"]])
    warnings: list[str] = []
    blocks = parse(
        "# 标题\n\n!subtitle 副\n!note 提示\n\n## 一、甲\n\n### （一）乙\n\n第一行\n接第二行[[1]]\n\n"
        "!table t\n!table empty\n!table missing\n\n!text notes 无。\n!text items 无。\n!text other\n\n"
        "@sign 落款\n\n---",
        {"t": table, "empty": None},
        texts={"notes": "# 不是标题 **不加粗** [[9]]\n第二行", "items": "  "},
        warnings=warnings,
    )
    kinds = [b.kind for b in blocks]
    assert kinds == ["title", "subtitle", "note", "h1", "h2", "para", "table", "para", "para", "signature", "pagebreak"]
    assert blocks[5].text == "第一行接第二行[1]" and blocks[5].runs[-1].sup
    # the officer's text is printed as typed: no heading, no bold, no reference mark
    assert blocks[7].text == "# 不是标题 **不加粗** [[9]]\n第二行" and len(blocks[7].runs) == 1
    assert blocks[8].text == "无。"  # empty text: the rest of the line
    assert any("'missing'" in w for w in warnings) and any("'other'" in w for w in warnings)


def test_template_errors_name_the_template_and_line(tmp_path: Path) -> None:
    with pytest.raises(MarkupError, match=r"my\.j2, line 2"):
        render_text("一\n{% if %}\n", FIGS, Sources(), {}, name="my.j2")
    with pytest.raises(MarkupError, match=r"line 3.*undefined"):
        render_text("一\n二\n{{ no_such_variable }}\n", FIGS, Sources(), {})
    with pytest.raises(MarkupError, match="unsafe"):  # the sandbox
        render_text("{{ f.__globals__ }}", FIGS, Sources(), {})
    with pytest.raises(MarkupError, match=str(tmp_path / "missing.j2")):
        load(tmp_path / "missing.j2", "duty_report.md.j2")
    text, name, version = load(None, "shift_report.md.j2")
    assert "## 一、空气质量现状" in text and name == "shift_report.md.j2" and len(version) == 12
