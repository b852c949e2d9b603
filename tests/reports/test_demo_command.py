"""``bogda demo`` fills the ledgers and the grid year (so the reports have records from the first start), and a
second run keeps them instead of writing them twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bogda.cli import app
from bogda.store import connect
from bogda.store.schema import case_ledger, evidence, petition, rectification, task

pytestmark = pytest.mark.slow


def _counts(url: str) -> dict[str, int]:
    st = connect(url)
    try:
        with st.engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                for t in (rectification, petition, case_ledger, task)
            }
    finally:
        st.dispose()


def test_demo_fills_the_ledgers_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOGDA_DATA_DIR", str(tmp_path / "var"))
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    res = runner.invoke(app, ["demo", "--no-serve", "--days", "1", "--database-url", url])
    assert res.exit_code == 0, res.output
    first = _counts(url)
    assert first["rectification"] == 29 and first["petition"] == 284 and first["case_ledger"] == 156
    assert first["task"] > 100
    assert "demo year 演示年度 grid tasks" in res.output
    st = connect(url)
    with st.engine.connect() as conn:
        shas = set(conn.execute(select(evidence.c.sha256)).scalars())
    st.dispose()
    stored = {p.stem for p in (tmp_path / "var" / "evidence").rglob("*.jpg")}
    assert shas and stored == shas  # every photo of the grid year is in the data folder

    again = runner.invoke(app, ["demo", "--no-serve", "--days", "1", "--database-url", url])
    assert again.exit_code == 0, again.output
    assert _counts(url) == first
    assert "kept ledgers" in again.output and "kept grid tasks" in again.output
