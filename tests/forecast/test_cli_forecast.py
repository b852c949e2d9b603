"""``bogda forecast run | warn | emergency-list`` on the demo region with a heavy episode."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bogda.cli import app
from bogda.store import Store


def test_run_warn_issue_and_export(episode_store: Store, tmp_path: Path) -> None:
    url = episode_store.engine.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["forecast", "run", "--database-url", url])
    assert r.exit_code == 0, r.output
    assert "degraded" in r.output and "652323" in r.output and "red" in r.output
    r = CliRunner().invoke(app, ["forecast", "warn", "--database-url", url])
    assert "652323" in r.output and "proposed" in r.output
    r = CliRunner().invoke(app, ["forecast", "warn", "1", "--action", "lift", "--database-url", url])
    assert r.exit_code == 1 and "cannot go from proposed to lifted" in r.output
    r = CliRunner().invoke(app, ["forecast", "warn", "1", "--action", "issue", "--by", "duty", "--database-url", url])
    assert r.exit_code == 0 and "issued" in r.output and "emergency list" in r.output
    out = tmp_path / "list.xlsx"
    r = CliRunner().invoke(app, ["forecast", "emergency-list", "1", "--xlsx", str(out), "--database-url", url])
    assert r.exit_code == 0 and out.exists() and "HT-BL1" not in r.output and "boiler" in r.output
