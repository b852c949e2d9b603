"""Flat exports of clues and evaluations with their field dictionary (enforcement.md §5 "Exports")."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from bogda.cli import app
from bogda.enforcement import exports, service
from bogda.store import Store
from enforcement.synthetic import bj, write_demo_data


def test_clue_and_evaluation_exports(demo_store: Store, tmp_path: Path) -> None:
    write_demo_data(demo_store)
    service.run_clues(demo_store, since=bj(9), until=bj(13), enterprises=["ZD-PW1"])
    rows = exports.clue_rows(demo_store)
    c01 = [r for r in rows if r["rule_id"] == "C01"]
    assert len(c01) == 1 and c01[0]["window_start_local"] == "2026-01-10 10:00"
    assert c01[0]["limit"] == 50.0 and c01[0]["exceed_pct"] > 50 and len(c01[0]["frame_ids"]) == 4
    assert c01[0]["rule_name"] == "小时均值超标" and c01[0]["enterprise_code"] == "ZD-PW1"
    data, fields = exports.to_csv(rows, "clues")
    assert data.startswith("\ufeff".encode())  # Excel reads the BOM as UTF-8
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(table) == len(rows) and list(table[0]) == [f.name for f in exports.CLUE_FIELDS]
    one = next(t for t in table if t["rule_id"] == "C01")
    assert json.loads(one["metrics"])["limit"] == 50.0 and one["bundle_sha256"] == c01[0]["bundle_sha256"]
    dic = list(csv.DictReader(io.StringIO(fields.decode("utf-8-sig"))))
    assert [d["field"] for d in dic] == list(table[0]) and all(d["说明"] and d["description"] for d in dic)
    doc = json.loads(exports.to_json(rows, "clues"))
    assert doc["dataset"] == "clues" and len(doc["rows"]) == len(rows) and doc["fields"][0]["name"] == "finding_id"
    ev = exports.evaluation_rows(demo_store, rule_id="C01")
    states = {(r["subject_code"], r["day"].isoformat()): r["state"] for r in ev}
    assert states[("ZD-PW1-DA001", "2026-01-10")] == "fired" and states[("ZD-PW1-DA001", "2026-01-11")] == "clear"
    # the CLI writes the data and its dictionary
    runner = CliRunner()
    out = tmp_path / "clues.csv"
    res = runner.invoke(app, ["clues", "export", str(out), "--rule", "C01", "--database-url", demo_store.url])
    assert res.exit_code == 0, res.output
    assert len(list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))) == 1
    assert (tmp_path / "clues.fields.csv").exists()
    res = runner.invoke(
        app, ["clues", "export", str(tmp_path / "e.json"), "--dataset", "evaluations", "--format", "json",
              "--database-url", demo_store.url],
    )  # fmt: skip
    assert res.exit_code == 0 and json.loads((tmp_path / "e.json").read_text())["dataset"] == "evaluations"
    bad = runner.invoke(app, ["clues", "export", str(out), "--dataset", "x", "--database-url", demo_store.url])
    assert bad.exit_code == 2


def test_config_gaps_report_and_future_data(demo_store: Store) -> None:
    from bogda.store.schema import outlet, site

    write_demo_data(demo_store)
    with demo_store.begin() as conn:
        da2 = conn.execute(select(site.c.id).where(site.c.code == "ZD-PW1-DA002")).scalar_one()
        conn.execute(outlet.update().where(outlet.c.site_id == da2).values(limits={}))
    # "now" inside the injected exceedance (10th, 10:00–13:59): later hours are future stamps, not judged
    service.run_clues(demo_store, since=bj(9), until=bj(11), enterprises=["ZD-PW1"], now=bj(10, 12))
    c01 = [r for r in exports.clue_rows(demo_store) if r["rule_id"] == "C01"]
    assert [(r["window_start_utc"], r["window_end_utc"]) for r in c01] == [(bj(10, 10), bj(10, 13))]
    gaps = service.config_gaps(demo_store)
    got = {(g["subject_code"], g["rule_id"], g["missing"]) for g in gaps}
    assert ("ZD-PW1-DA002", "C01", "limit:a21026") in got
    assert all(g["subject_code"] == "ZD-PW1-DA002" for g in gaps) and gaps[0]["days"] == 2
    res = CliRunner().invoke(app, ["clues", "gaps", "--database-url", demo_store.url])
    assert res.exit_code == 0 and "limit:a21026" in res.output
