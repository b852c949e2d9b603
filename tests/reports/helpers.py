"""Reading generated documents back: DOCX text and eastAsia fonts, PDF text, fonts and page images."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

CJK = re.compile(r"[\u4e00-\u9fff]")


def docx_text(path: Path) -> str:
    from docx import Document

    d = Document(str(path))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def cjk_runs_without_east_asia(path: Path) -> list[str]:
    """Texts of runs with CJK characters whose run (or style) sets no ``w:eastAsia`` font."""
    from lxml import etree

    ns = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
    xml = zipfile.ZipFile(path).read("word/document.xml")
    root = etree.fromstring(xml)
    bad = []
    for r in root.iterfind(".//w:r", ns):
        text = "".join(t.text or "" for t in r.iterfind("w:t", ns))
        if CJK.search(text):
            fonts = r.find("w:rPr/w:rFonts", ns)
            if fonts is None or not fonts.get(f"{{{ns['w']}}}eastAsia"):
                bad.append(text)
    return bad


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def pdf_fonts(path: Path) -> str:
    return subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout


def pdf_png(path: Path, out_prefix: Path, pages: tuple[int, int] = (1, 1), dpi: int = 60) -> list[Path]:
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(dpi), "-f", str(pages[0]), "-l", str(pages[1]), str(path), str(out_prefix)],
        check=True,
    )
    return sorted(out_prefix.parent.glob(out_prefix.name + "*.png"))


def compact(text: str) -> str:
    """pdftotext breaks lines inside sentences: compare without whitespace."""
    return re.sub(r"\s+", "", text)
