"""``bogda forecast run | warn | emergency-list`` on the demo region with a heavy episode."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bogda.cli import app
from bogda.store import Store
from forecast.episode import publication_days


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


def test_train_prints_the_gate(demo_store: Store, monkeypatch) -> None:
    from bogda.forecast import gate
    from bogda.forecast import service as sv

    url = demo_store.engine.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["forecast", "train", "--database-url", url])
    assert r.exit_code == 1 and "nothing trained" in r.output  # the demo holds 7 days, not 365
    said = " ".join(r.output.split())
    for item in ("a34004", "a21026", "a21005", "O3_1h_max"):  # every item, each with why it was left out
        assert f"not trained: {item}: at most" in said and "(< 365)" in said
    check = gate.Check("a34004", "hour", 24, 900, 30.4, 30.0, 20.0, 21.0, 0.79, False, "RMSE 30.40 > 1.01 × 30.00")
    verdict = gate.Verdict(False, "rejected: a34004 24h failed", (check,))
    monkeypatch.setattr(sv, "train_gated", lambda store, gated=True, skipped=None: (0, verdict))
    r = CliRunner().invoke(app, ["forecast", "train", "--database-url", url])
    said = " ".join(r.output.split())  # the console wraps long lines at spaces
    assert r.exit_code == 0 and "gate: rejected: a34004 24h failed" in said
    assert "a34004 24 h: RMSE 30.40 / 30.00, MAE 20.00 / 21.00 (new / in service, 900 pairs)" in said
    assert "coverage 0.790 → failed: RMSE 30.40 > 1.01 × 30.00" in said
    assert "0 item(s) put in service" in said


def test_publish_from_a_draft_file(episode_store: Store, tmp_path: Path) -> None:
    """``bogda forecast publish``: the draft written as CSV, edited, published; a bad file refused line by line."""
    from bogda.forecast import service as sv

    url = episode_store.engine.url.render_as_string(hide_password=False)
    sv.refresh(episode_store, models=None)
    r = CliRunner().invoke(app, ["forecast", "publish", "--database-url", url])
    assert r.exit_code == 0 and ("not published yet" in r.output or "OVERDUE" in r.output), r.output
    draft = tmp_path / "draft.csv"
    r = CliRunner().invoke(app, ["forecast", "publish", "--draft-csv", str(draft), "--database-url", url])
    n = 8 * publication_days(episode_store)  # 7 days, 6 in the hour after Beijing midnight
    assert r.exit_code == 0 and f"{n} rows" in r.output, r.output
    lines = draft.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "area_code,day,aqi_lo,aqi_hi,primary" and len(lines) == n + 1
    i = next(k for k, line in enumerate(lines) if line.startswith("652323,"))
    code, day, *_ = lines[i].split(",")
    lines[i] = f"{code},{day},180,210,PM2.5"  # the forecaster's correction
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines[:2], f"{code},{day},180,,PM2.5", *lines[3:]]), encoding="utf-8")
    r = CliRunner().invoke(app, ["forecast", "publish", "--file", str(bad), "--database-url", url])
    said = " ".join(r.output.split())  # rich wraps long lines
    assert r.exit_code == 1 and "not published" in said and "line 3: aqi_hi '' is not a whole number" in said
    edited = tmp_path / "edited.csv"
    edited.write_text("\n".join(lines), encoding="utf-8")
    r = CliRunner().invoke(
        app, ["forecast", "publish", "--file", str(edited), "--by", "duty", "--note", "订正", "--database-url", url]
    )
    assert r.exit_code == 0 and f"{n} area-days" in r.output, r.output
    r = CliRunner().invoke(app, ["forecast", "publish", "--database-url", url])
    assert r.exit_code == 0 and "by duty" in r.output and "180–210" in r.output
    assert r.output.count("yes") == 1  # the one corrected day
