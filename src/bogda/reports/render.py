"""A small document model and its two renderings: DOCX (python-docx) and PDF (WeasyPrint from HTML).

Layout follows GB/T 9704-2012 (party and government documents) as far as free fonts allow: A4, top margin 37 mm,
left 28 mm, text block 156 × 225 mm, body 16 pt (三号) in a 仿宋-style face, 22 lines of 28 characters, title 22 pt
(二号) 小标宋-style, "一、" headings 黑体, "（一）" headings 楷体, page number 14 pt "— 1 —" (governance.md §3.9).

Fonts: no free FangSong/XiaoBiaoSong/KaiTi font is packaged by Debian, so the body and title use **Noto Serif CJK
SC** (``fonts-noto-cjk``), "一、" headings **Noto Sans CJK SC** (黑体-style) and "（一）" headings AR PL UKai CN (楷体)
when ``fonts-arphic-ukai`` is installed, else Noto Serif CJK SC bold. python-docx only sets the ASCII/hAnsi font, so
every style and run with Chinese text also gets ``w:eastAsia`` (governance §3.10). The PDF embeds the fonts
found by fontconfig (``fc-match``); a missing CJK font fails the render naming the font (governance §6).
"""

from __future__ import annotations

import hashlib
import html
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from pathlib import Path

FONT_BODY = "Noto Serif CJK SC"
FONT_HEI = "Noto Sans CJK SC"
FONT_KAI = "AR PL UKai CN"
CJK_HINTS = ("CJK", "UKai", "UMing", "WenQuanYi", "Droid Sans Fallback", "Source Han")


class FontMissing(RuntimeError):
    """A CJK font the document needs is not installed."""


# --- the document model ---------------------------------------------------------------------------------------


@dataclass
class Run:
    text: str
    bold: bool = False
    sup: bool = False  # a reference mark


@dataclass
class Block:
    """``kind``: title, subtitle, h1 (一、), h2 （一）, para, table, image, note, pagebreak, signature."""

    kind: str
    runs: list[Run] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""
    image: bytes = b""
    width_mm: float = 150.0
    widths: list[float] = field(default_factory=list)
    small: bool = False

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


def para(*parts: str | Run, kind: str = "para") -> Block:
    return Block(kind, [p if isinstance(p, Run) else Run(p) for p in parts])


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)
    header_note: str = ""  # e.g. 模拟数据 marking

    def add(self, block: Block) -> Block:
        self.blocks.append(block)
        return block

    def plain_text(self) -> str:
        out = [self.title]
        for b in self.blocks:
            out.append(b.text or b.caption)
            out.extend(" ".join(r) for r in ([b.header] if b.header else []) + b.rows)
        return "\n".join(out)


# --- fonts ----------------------------------------------------------------------------------------------------


@cache
def font_file(family: str) -> tuple[str, str] | None:
    """``(file, family)`` fontconfig resolves ``family`` to, or ``None`` when fontconfig is absent."""
    if shutil.which("fc-match") is None:
        return None
    out = subprocess.run(
        ["fc-match", "-f", "%{file}|%{family}", family], capture_output=True, text=True, timeout=20, check=False
    ).stdout
    if "|" not in out:
        return None
    path, fam = out.split("|", 1)
    return path, fam.split(",")[0]


def require_cjk(family: str) -> str:
    """The font file of ``family`` if it is a CJK font; :class:`FontMissing` naming the font otherwise."""
    hit = font_file(family)
    if hit is None:
        raise FontMissing(f"fontconfig (fc-match) not available: cannot find the CJK font {family!r}")
    path, fam = hit
    if not any(h.lower() in (path + fam).lower() for h in CJK_HINTS):
        raise FontMissing(
            f"CJK font {family!r} is not installed (fontconfig falls back to {fam!r}, {path}); "
            "install fonts-noto-cjk (apt-get install fonts-noto-cjk)"
        )
    return path


def kai_family() -> str:
    """楷体-style family: AR PL UKai CN when installed, else the body face."""
    hit = font_file(FONT_KAI)
    return FONT_KAI if hit and "ukai" in hit[0].lower() else FONT_BODY


# --- DOCX -----------------------------------------------------------------------------------------------------


def _set_font(run_or_style, family: str, size_pt: float | None = None, bold: bool | None = None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    font = run_or_style.font
    font.name = family
    if size_pt is not None:
        font.size = Pt(size_pt)
    if bold is not None:
        font.bold = bold
    el = run_or_style.element if hasattr(run_or_style, "element") else run_or_style._element
    rpr = el.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), family)


def _page_number(paragraph) -> None:
    """Footer "— PAGE —" with a PAGE field."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def add(text: str | None = None, fld: str | None = None) -> None:
        run = paragraph.add_run(text or "")
        _set_font(run, FONT_BODY, 14)
        if fld is not None:
            for kind in ("begin", None, "end"):
                if kind is None:
                    instr = OxmlElement("w:instrText")
                    instr.set(qn("xml:space"), "preserve")
                    instr.text = fld
                    run._r.append(instr)
                else:
                    f = OxmlElement("w:fldChar")
                    f.set(qn("w:fldCharType"), kind)
                    run._r.append(f)

    add("— ")
    add(fld="PAGE")
    add(" —")


def to_docx(doc: Document) -> bytes:
    """The document as DOCX bytes (GB/T 9704 page set-up; every CJK run carries ``w:eastAsia``)."""
    from docx import Document as Docx
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.shared import Mm, Pt

    d = Docx()
    sec = d.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(37), Mm(35), Mm(28), Mm(26)
    sec.footer_distance = Mm(20)
    normal = d.styles["Normal"]
    _set_font(normal, FONT_BODY, 16)
    pf = normal.paragraph_format
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = Pt(28.9)  # 225 mm / 22 lines
    pf.space_before = pf.space_after = Pt(0)
    kai = kai_family()
    fp = sec.footer.paragraphs[0]
    fp.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_number(fp)

    def paragraph(b: Block, family: str, size: float, *, bold: bool = False, center: bool = False, indent: bool = True):
        p = d.add_paragraph()
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif indent:
            p.paragraph_format.first_line_indent = Pt(size * 2)
        for r in b.runs:
            run = p.add_run(r.text)
            _set_font(run, family, size * (0.6 if r.sup else 1), bold or r.bold)
            if r.sup:
                run.font.superscript = True
        return p

    for b in doc.blocks:
        if b.kind == "title":
            p = paragraph(b, FONT_BODY, 22, bold=True, center=True)
            p.paragraph_format.line_spacing = Pt(36)
        elif b.kind == "subtitle":
            paragraph(b, kai, 16, center=True)
        elif b.kind == "h1":
            paragraph(b, FONT_HEI, 16)
        elif b.kind == "h2":
            paragraph(b, kai, 16, bold=kai == FONT_BODY)
        elif b.kind in ("para", "signature"):
            p = paragraph(b, FONT_BODY, 16, indent=b.kind == "para")
            if b.kind == "signature":
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        elif b.kind == "note":
            p = paragraph(b, FONT_BODY, 12, indent=False)
            p.paragraph_format.line_spacing = Pt(18)
        elif b.kind == "pagebreak":
            d.add_page_break()
        elif b.kind == "image":
            d.add_picture(BytesIO(b.image), width=Mm(min(b.width_mm, 156)))
            d.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            if b.caption:
                cp = paragraph(Block("para", [Run(b.caption)]), FONT_HEI, 12, center=True)
                cp.paragraph_format.line_spacing = Pt(20)
        elif b.kind == "table":
            size = 10.5 if b.small else 12
            if b.caption:
                cp = paragraph(Block("para", [Run(b.caption)]), FONT_HEI, 12, center=True)
                cp.paragraph_format.line_spacing = Pt(22)
            t = d.add_table(rows=1 + len(b.rows), cols=len(b.header))
            t.style = "Table Grid"
            t.alignment = WD_TABLE_ALIGNMENT.CENTER
            # one pass over rows and their cells: python-docx's table.cell(i, j) rescans the grid on every call
            for i, (values, row) in enumerate(zip([b.header, *b.rows], t.rows, strict=True)):
                for j, (text, cell) in enumerate(zip(values, row.cells, strict=False)):
                    if b.widths and j < len(b.widths):
                        cell.width = Mm(b.widths[j])
                    cp = cell.paragraphs[0]
                    cp.alignment = WD_ALIGN_PARAGRAPH.CENTER
                    cp.paragraph_format.line_spacing = Pt(size * 1.4)
                    run = cp.add_run(str(text))
                    _set_font(run, FONT_HEI if i == 0 else FONT_BODY, size, i == 0)
    buf = BytesIO()
    d.save(buf)
    return buf.getvalue()


# --- HTML / PDF -----------------------------------------------------------------------------------------------


def _font_faces() -> str:
    rules = []
    for alias, family in (("bogda-body", FONT_BODY), ("bogda-hei", FONT_HEI), ("bogda-kai", kai_family())):
        path = require_cjk(family)
        rules.append(
            f'@font-face {{ font-family: "{alias}"; font-weight: normal; '
            f'src: local("{family}"), url("{Path(path).as_uri()}"); }}'
        )
        bold = font_file(f"{family}:bold")
        if bold and "bold" in bold[0].lower():  # a real bold face (lead phrases 一是…), not a synthesized one
            rules.append(
                f'@font-face {{ font-family: "{alias}"; font-weight: bold; '
                f'src: local("{family} Bold"), url("{Path(bold[0]).as_uri()}"); }}'
            )
    return "\n".join(rules)


CSS = """
@page { size: A4; margin: 37mm 26mm 35mm 28mm;
  @bottom-center { content: "— " counter(page) " —"; font-family: "bogda-body", "Noto Serif CJK SC", serif;
                   font-size: 14pt; } }
html { font-family: "bogda-body", "Noto Serif CJK SC", serif; font-size: 16pt; line-height: 28.9pt; color: #000; }
body { margin: 0; }
p { margin: 0; text-align: justify; }
p.para { text-indent: 2em; }
p.signature { text-align: right; }
h1.title { font-family: "bogda-body", "Noto Serif CJK SC", serif; font-size: 22pt; font-weight: bold;
  text-align: center; line-height: 36pt; margin: 0 0 14pt 0; }
p.subtitle { font-family: "bogda-kai", serif; text-align: center; margin-bottom: 14pt; }
h2.h1 { font-family: "bogda-hei", "Noto Sans CJK SC", sans-serif; font-size: 16pt; font-weight: normal;
  margin: 0; text-indent: 2em; }
h3.h2 { font-family: "bogda-kai", "Noto Serif CJK SC", serif; font-size: 16pt; font-weight: KAIWEIGHT;
  margin: 0; text-indent: 2em; }
sup { font-size: 9pt; line-height: 0; color: #444; }
p.note { font-size: 12pt; line-height: 18pt; }
p.caption { font-family: "bogda-hei", sans-serif; font-size: 12pt; text-align: center; line-height: 20pt;
  margin: 6pt 0 4pt 0; }
table { border-collapse: collapse; margin: 4pt auto 10pt auto; font-size: 12pt; line-height: 16pt; }
table.small { font-size: 9pt; line-height: 12pt; }
table.fixed { table-layout: fixed; width: 100%; }
td { overflow-wrap: anywhere; }
th, td { border: 0.75pt solid #000; padding: 2pt 4pt; text-align: center; }
th { font-family: "bogda-hei", sans-serif; font-weight: normal; background: #f2f2f2; }
td.left { text-align: left; }
div.figure { text-align: center; margin: 4pt 0; }
div.pagebreak { break-after: page; }
div.marking { font-size: 10.5pt; line-height: 14pt; color: #a00; text-align: center; margin-bottom: 6pt; }
"""


def to_html(doc: Document) -> str:
    """The document as a self-contained HTML page (images inline as data URIs)."""
    import base64

    def runs(b: Block) -> str:
        out = []
        for r in b.runs:
            t = html.escape(r.text)
            if r.sup:
                t = f"<sup>{t}</sup>"
            elif r.bold:
                t = f"<b>{t}</b>"
            out.append(t)
        return "".join(out)

    parts = []
    if doc.header_note:
        parts.append(f'<div class="marking">{html.escape(doc.header_note)}</div>')
    for b in doc.blocks:
        if b.kind == "title":
            parts.append(f'<h1 class="title">{runs(b)}</h1>')
        elif b.kind == "h1":
            parts.append(f'<h2 class="h1">{runs(b)}</h2>')
        elif b.kind == "h2":
            parts.append(f'<h3 class="h2">{runs(b)}</h3>')
        elif b.kind in ("para", "subtitle", "note", "signature"):
            parts.append(f'<p class="{b.kind}">{runs(b)}</p>')
        elif b.kind == "pagebreak":
            parts.append('<div class="pagebreak"></div>')
        elif b.kind == "image":
            data = base64.b64encode(b.image).decode()
            parts.append(
                f'<div class="figure"><img src="data:image/png;base64,{data}" style="width:{min(b.width_mm, 156)}mm">'
                f'<p class="caption">{html.escape(b.caption)}</p></div>'
            )
        elif b.kind == "table":
            if b.caption:
                parts.append(f'<p class="caption">{html.escape(b.caption)}</p>')
            cls = ' class="small"' if b.small else ""
            if b.widths:
                cls = f' class="{"small " if b.small else ""}fixed"'
            ths = []
            for j, h in enumerate(b.header):
                style = f' style="width:{b.widths[j]}mm"' if b.widths and j < len(b.widths) else ""
                ths.append(f"<th{style}>{html.escape(h)}</th>")
            rows = ["<tr>" + "".join(ths) + "</tr>"]
            for row in b.rows:
                cells = []
                for j, c in enumerate(row):
                    left = ' class="left"' if len(str(c)) > 14 else ""
                    style = f' style="width:{b.widths[j]}mm"' if b.widths and j < len(b.widths) else ""
                    cells.append(f"<td{left}{style}>{html.escape(str(c))}</td>")
                rows.append("<tr>" + "".join(cells) + "</tr>")
            parts.append(f"<table{cls}>" + "".join(rows) + "</table>")
    kai_weight = "normal" if kai_family() != FONT_BODY else "bold"
    css = CSS.replace("KAIWEIGHT", kai_weight)
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(doc.title)}</title><style>{_font_faces()}\n{css}</style></head>"
        f"<body>{''.join(parts)}</body></html>"
    )


def to_pdf(doc: Document) -> bytes:
    """The document as PDF bytes (WeasyPrint; local fonts only, no network)."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # only local fonts and inline images: a closed network must never be touched
    fetcher = URLFetcher(allowed_protocols=("file", "data"), fail_on_errors=True)
    return HTML(string=to_html(doc), url_fetcher=fetcher).write_pdf()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
