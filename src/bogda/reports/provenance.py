"""Reference marks and the 「数据来源」 appendix: every figure printed in a document gets a number, a superscript
mark beside it, and a row in the appendix naming its query, its record count and the first records behind it
(the full list is kept in the ``report`` row's ``figures``)."""

from __future__ import annotations

import re
from typing import Any

from bogda.ledger.figures import MISSING, Figure
from bogda.reports.render import Block, Run

MARK = re.compile(r"\[\[(\d+)\]\]")
SHOW_REFS = 3


class Sources:
    """The figures a document used, numbered in order of first use."""

    def __init__(self) -> None:
        self.figures: list[Figure] = []
        self._no: dict[str, int] = {}
        self.warnings: list[str] = []

    def number(self, f: Figure) -> int:
        if f.key not in self._no:
            self.figures.append(f)
            self._no[f.key] = len(self.figures)
            if f.text() == MISSING:
                self.warnings.append(f"figure {f.key} ({f.label}) has no value: printed as {MISSING}")
        return self._no[f.key]

    def text(self, f: Figure, *, unit: bool = True) -> str:
        """The figure's text followed by its mark ``[[n]]`` (turned into a superscript by :func:`runs`)."""
        return f"{f.display() if unit else f.text()}[[{self.number(f)}]]"

    def appendix(self) -> list[Block]:
        rows = []
        for i, f in enumerate(self.figures, start=1):
            shown = "；".join(f.refs[:SHOW_REFS]) + (f"；…（共{f.count}条）" if f.count > SHOW_REFS else "")
            parts = (
                f"{_plain_number(f.numerator)}/{f.denominator}"
                if f.denominator is not None and f.numerator is not None
                else ""
            )
            rows.append([str(i), f.label, f.display(), parts, f.query, str(f.count), shown or "—"])
        return [
            Block("h1", [Run("附件：数据来源")]),
            Block(
                "note",
                [
                    Run(
                        "本附件逐项列出正文中每个数据的查询口径与所依据的记录：序号与正文中数据右上角标注一致；"
                        "“记录”列出记录编号（表名:编号），完整清单保存在报告记录中，可在平台“台账”页面逐条查看。"
                    )
                ],
            ),
            Block(
                "table",
                header=["序号", "指标", "数值", "分子/分母", "查询口径", "记录数", "记录（前3条）"],
                rows=rows,
                small=True,
                widths=[9, 22, 18, 14, 47, 10, 36],
            ),
        ]

    def as_json(self) -> list[dict[str, Any]]:
        return [{"no": i, **f.as_dict()} for i, f in enumerate(self.figures, start=1)]


def _plain_number(v: Any) -> str:
    """``13780000.0`` → ``13780000``; other values as they are."""
    s = str(v)
    return s[:-2] if s.endswith(".0") else s


def runs(text: str, *, bold_lead: bool = False) -> list[Run]:
    """Split ``text`` at reference marks; ``**lead**`` spans are bold."""
    out: list[Run] = []
    for j, chunk in enumerate(re.split(r"\*\*", text)):
        bold = j % 2 == 1
        pos = 0
        for m in MARK.finditer(chunk):
            if m.start() > pos:
                out.append(Run(chunk[pos : m.start()], bold=bold))
            out.append(Run(f"[{m.group(1)}]", sup=True))
            pos = m.end()
        if pos < len(chunk):
            out.append(Run(chunk[pos:], bold=bold))
    return out
