"""``bogda fire bulletin``: the real straw-burning list through the command line (fire.md §2.4, §8.7)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bogda.cli import app
from bogda.registry import places as P
from bogda.store import connect


def _flat(text: str) -> str:
    """The console wraps long lines at the terminal width."""
    return " ".join(text.split())


XLSX = "china_straw_burning_fire_points_2016-08_2017-02.xlsx"


def test_bulletin_command_stores_the_list_once(tmp_path: Path, fire_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    st = connect(url)
    P.load_prefecture(st, "652300")
    st.dispose()
    first = CliRunner().invoke(app, ["fire", "bulletin", str(fire_dir / XLSX), "--database-url", url])
    assert first.exit_code == 0, first.output
    assert "rows 行 2583 · new 新增 2583 · known 已有 0 · in area 辖区内 9" in _flat(first.output)
    again = CliRunner().invoke(app, ["fire", "bulletin", str(fire_dir / XLSX), "--database-url", url])
    assert "new 新增 0 · known 已有 2583" in _flat(again.output)


def test_bulletin_command_names_a_bad_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    bad = tmp_path / "list.csv"
    bad.write_text("名称,备注\nx,y\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["fire", "bulletin", str(bad), "--database-url", url])
    assert out.exit_code == 2
    assert "list.csv" in _flat(out.output)
