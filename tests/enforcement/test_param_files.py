"""Versioned parameter files (enforcement.md §6): validated, activated, used by the run; an invalid file is refused
naming key and reason and the last valid version stays active (§7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bogda.cli import app
from bogda.enforcement import service
from bogda.enforcement.rules import PARAM_VERSION, ParamError, parse_param_file
from bogda.store import Store
from bogda.store.schema import clue
from enforcement.synthetic import bj, write_demo_data


def test_parse_yaml_and_json() -> None:
    p = parse_param_file("version: cj-2026.1\nparams:\n  flat.min_hours: 8\n  o2.guard_pct: 19.5\n", "p.yaml")
    assert (p.version, p["flat.min_hours"], p["o2.guard_pct"], p["linear.min_points"]) == ("cj-2026.1", 8, 19.5, 6)
    q = parse_param_file('{"version": "cj-2026.1", "params": {"flat.min_hours": 8, "o2.guard_pct": 19.5}}')
    assert q.sha256 == p.sha256


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("params: {}\n", "p.yaml: version: required"),
        ("version: v1\nparams:\n  flat.min_hour: 8\n", "p.yaml: flat.min_hour: unknown parameter"),
        ("version: v1\nparams:\n  flat.min_hours: 7.5\n", "p.yaml: flat.min_hours: expected an integer"),
        ("version: v1\nparams:\n  o2.guard_pct: -1\n", "p.yaml: o2.guard_pct: must not be negative"),
        ("version: v1\nparams:\n  exceed.strict: 1\n", "p.yaml: exceed.strict: expected true/false"),
        ("version: v1\nparams: [1, 2]\n", "p.yaml: params: expected a mapping"),
        ("version: v1\nparam: {}\n", "p.yaml: param: unknown top-level key"),
        ("version: [v1\n", "p.yaml: not valid YAML or JSON"),
    ],
)
def test_invalid_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(ParamError, match=message.replace("[", r"\[")):
        parse_param_file(text, "p.yaml")


def test_activation_is_used_and_a_bad_file_changes_nothing(demo_store: Store, tmp_path: Path) -> None:
    write_demo_data(demo_store)
    assert service.active_params(demo_store).version == PARAM_VERSION
    runner = CliRunner()
    url = ["--database-url", demo_store.url]
    good = tmp_path / "cj.yaml"
    good.write_text("version: cj-2026.1\nparams:\n  flat.min_hours: 12\n", encoding="utf-8")
    res = runner.invoke(app, ["clues", "params", str(good), *url])
    assert res.exit_code == 0 and "activated cj-2026.1" in res.output and "flat.min_hours = 12" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: cj-2026.2\nparams:\n  flat.min_hours: -3\n", encoding="utf-8")
    res = runner.invoke(app, ["clues", "params", str(bad), *url])
    assert res.exit_code == 2 and "bad.yaml: flat.min_hours: must not be negative" in res.output
    assert service.active_params(demo_store).version == "cj-2026.1"
    clash = tmp_path / "clash.yaml"
    clash.write_text("version: cj-2026.1\nparams:\n  flat.min_hours: 10\n", encoding="utf-8")
    with pytest.raises(ParamError, match="already names a different parameter set"):
        service.activate_params(demo_store, clash.read_text(), name="clash.yaml")
    # the 10-hour flat SO2 run (C07 at 6 h by default) is below the activated 12 h: no C07 there, and the clues
    # carry the activated version
    service.run_clues(demo_store, since=bj(9), until=bj(13), enterprises=["ZD-PW1"])
    with demo_store.engine.connect() as conn:
        rows = conn.execute(select(clue.c.rule_id, clue.c.channel, clue.c.param_version, clue.c.params)).all()
    assert rows and {r.param_version for r in rows} == {"cj-2026.1"}
    assert not [r for r in rows if r.rule_id == "C07" and r.channel == "a21026"]
    # back to a version equal to the defaults
    service.activate_params(demo_store, "version: default-copy\n", name="d.yaml")
    service.run_clues(demo_store, since=bj(9), until=bj(13), enterprises=["ZD-PW1"])
    with demo_store.engine.connect() as conn:
        c07 = conn.execute(
            select(clue.c.param_version).where(clue.c.rule_id == "C07", clue.c.channel == "a21026")
        ).all()
    assert [r.param_version for r in c07] == ["default-copy"]
