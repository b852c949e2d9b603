from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bogda.cli import app

runner = CliRunner()


def test_help_lists_commands() -> None:
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    for cmd in ("init", "demo", "serve", "registry", "user"):
        assert cmd in out.output


def test_init_import_and_user(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert runner.invoke(app, ["init", "--database-url", url]).exit_code == 0
    bad = tmp_path / "stations.csv"
    bad.write_text("code,name,lon,lat\nS1,站一,87.3,44.0\nS2,站二,999,44.0\n", encoding="utf-8")
    out = runner.invoke(app, ["registry", "import", "stations", str(bad), "--database-url", url])
    assert out.exit_code == 1
    assert "stations.csv:3 [lon] longitude 999.0 outside -180..180" in out.output
    good = tmp_path / "ok.csv"
    good.write_text("code,name,lon,lat\nS1,站一,87.3,44.0\n", encoding="utf-8")
    out = runner.invoke(app, ["registry", "import", "stations", str(good), "--database-url", url])
    assert out.exit_code == 0 and "imported 1 stations" in out.output
    listed = runner.invoke(app, ["registry", "sites", "--database-url", url])
    assert "S1" in listed.output
    out = runner.invoke(app, ["user", "add", "op1", "--role", "viewer", "--database-url", url])
    assert out.exit_code == 0 and "one-time password" in out.output
    out = runner.invoke(app, ["user", "add", "op2", "--role", "viewer", "--place", "999", "--database-url", url])
    assert out.exit_code == 2 and "place 999 is not in the registry" in out.output
