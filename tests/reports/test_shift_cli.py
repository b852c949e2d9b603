"""``bogda report shift-template | shift | shift-figures``: the bureau gets the packaged shift-report template to
edit, checks its edit by generating a shift report with it, and lists the figure keys it may use."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from bogda.cli import app
from bogda.reports import shift_report as sr
from bogda.store import Store

runner = CliRunner()


def test_get_edit_and_use_the_template(demo_store: Store, tmp_path: Path) -> None:
    tpl = tmp_path / "值班日报.md.j2"
    out = runner.invoke(app, ["report", "shift-template", str(tpl)])
    assert out.exit_code == 0, out.output
    assert tpl.read_text(encoding="utf-8") == sr.default_template()
    again = runner.invoke(app, ["report", "shift-template", str(tpl)])
    assert again.exit_code == 2 and "--force" in again.output  # an edited copy is never overwritten silently
    tpl.write_text(
        tpl.read_text(encoding="utf-8")
        .replace("## 一、空气质量现状", "## 一、全州空气质量")
        .replace('{{ f("petitions") }}', '{{ f("petition") }}'),
        encoding="utf-8",
    )
    db = ["--database-url", demo_store.url]
    out = runner.invoke(app, ["report", "shift", "2025-06-10", "--out", str(tmp_path), "--template", str(tpl), *db])
    assert out.exit_code == 0, out.output
    assert "'petition'" in out.output  # the mistyped key is a warning, printed as —
    doc = tmp_path / "shift-2025-06-10T0830.docx"
    assert doc.exists()
    xml = zipfile.ZipFile(io.BytesIO(doc.read_bytes())).read("word/document.xml").decode()
    assert "一、全州空气质量" in xml and "一、空气质量现状" not in xml
    tpl.write_text("# 值班日报\n\n{{ f('a') }\n", encoding="utf-8")
    bad = runner.invoke(app, ["report", "shift", "2025-06-10", "--out", str(tmp_path), "--template", str(tpl), *db])
    assert bad.exit_code == 2 and "line 3" in bad.output
    assert runner.invoke(app, ["report", "shift", "yesterday", *db]).exit_code == 2


def test_shift_figures_lists_the_keys(demo_store: Store) -> None:
    out = runner.invoke(app, ["report", "shift-figures", "2025-06-10", "--database-url", demo_store.url])
    assert out.exit_code == 0, out.output
    for key in ("stations_total", "findings_new", "findings_sev.critical", "overdue", "undispatched"):
        assert key in out.output, key
