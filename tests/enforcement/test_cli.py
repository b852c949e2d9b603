"""``bogda ingest cems|meter``, ``bogda clues run|list``, ``bogda plans …`` on a copy of the demo region, and the
CSV readers on the real files' layouts and on bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bogda.cli import app
from bogda.enforcement.cems_csv import read_cems_csv, read_meter_csv
from bogda.store import Store, series
from bogda.store.schema import clue, site

runner = CliRunner()


def _url(store: Store) -> list[str]:
    return ["--database-url", store.url]


def test_generic_csv_rejects_bad_cells_and_keeps_the_rest(tmp_path: Path) -> None:
    f = tmp_path / "cems.csv"
    f.write_text(
        "time,a21002,a21002_flag,a19001\n"
        "2026-01-10 10:00,35.5,N,7.1\n"
        "2026-01-10 11:00,abc,N,7.2\n"
        "2026-01-10 12:00,36.0,Q,7.3\n"
        "not a time,1,N,1\n"
        "2026-01-10T05:00:00Z,37.0,M,\n",
        encoding="utf-8",
    )
    r = read_cems_csv(f)
    assert r.layout == "generic"
    assert [(line, fld) for line, fld, _ in r.rejected] == [(3, "a21002"), (4, "a21002_flag"), (5, "time")]
    got = {(p, t.isoformat(), v, fl) for p, t, v, fl in r.frame.iter_rows()}
    assert ("a21002", "2026-01-10T02:00:00+00:00", 35.5, "N") in got  # naive = Beijing, hour beginning
    assert ("a21002", "2026-01-10T05:00:00+00:00", 37.0, "M") in got
    assert ("a19001", "2026-01-10T04:00:00+00:00", 7.3, "N") in got  # the bad flag rejects only its own cell
    assert all(fld != "a19001" for _, fld, _ in r.rejected)
    end = read_cems_csv(f, labelled_by="end")
    assert ("a21002", "2026-01-10T01:00:00+00:00", 35.5, "N") in {
        (p, t.isoformat(), v, fl) for p, t, v, fl in end.frame.iter_rows()
    }


@pytest.mark.parametrize(
    ("name", "layout", "kw", "rows", "first"),
    [
        (
            "gas_turbine_2011.csv",
            "gas_turbine",
            {"start": datetime(2011, 1, 1, tzinfo=UTC)},
            7411 * 3,
            ("a21002", "2011-01-01T00:00:00+00:00", 81.952),
        ),
        (
            "campd_bowen_facility_hourly_2017-01-01_to_01-10.csv",
            "campd",
            {"utc_offset_h": -5},
            None,
            ("nox_mass_lb", "2017-01-01T05:00:00+00:00", 858.7),
        ),
    ],
)
def test_real_layouts(shared_data: Path, name: str, layout: str, kw: dict, rows: int | None, first: tuple) -> None:
    r = read_cems_csv(shared_data / "cems" / name, **kw)
    assert r.layout == layout and not r.rejected
    if rows is not None:
        assert r.frame.height == rows
    hit = r.frame.filter(pl.col("parameter") == first[0]).sort("ts").row(0)
    assert (hit[0], hit[1].isoformat(), hit[2]) == first


def test_steel_meter_layout(shared_data: Path) -> None:
    r = read_meter_csv(shared_data / "cems" / "steel_plant_15min_2018_jan_sep.csv")
    assert (r.layout, r.resolution, r.frame.height, r.rejected) == ("steel", "min", 26208, [])
    # interval_end 2018-01-01 00:15 Beijing → start 00:00 Beijing = 2017-12-31 16:00 UTC
    assert r.frame["ts"].min() == datetime(2017, 12, 31, 16, tzinfo=UTC)


def test_cli_ingest_run_list_plans(demo_store: Store, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bogda import cli

    monkeypatch.setattr(cli.console, "width", 240)  # tables unwrapped
    url = _url(demo_store)
    gt = shared_data / "cems" / "gas_turbine_2014.csv"
    res = runner.invoke(
        app, ["ingest", "cems", str(gt), "--outlet", "ZD-PW1-DA001", "--start", "2026-01-01T00:00Z", *url]
    )
    assert res.exit_code == 0, res.output
    assert "gas_turbine" in res.output and "21474 new" in res.output
    again = runner.invoke(
        app, ["ingest", "cems", str(gt), "--outlet", "ZD-PW1-DA001", "--start", "2026-01-01T00:00Z", *url]
    )
    assert "0 new" in again.output and "21474 unchanged" in again.output
    bad = runner.invoke(app, ["ingest", "cems", str(gt), "--outlet", "NOPE", *url])
    assert bad.exit_code == 2
    with demo_store.engine.connect() as conn:
        sid = conn.execute(select(site.c.id).where(site.c.code == "ZD-PW1-DA001")).scalar_one()
    back = series.read(demo_store, sites=[sid], parameters=["a21002"], resolution="hour")
    assert back.height == 7158 and back["value"][0] == pytest.approx(68.292)
    # the 2014 linear fills (rows 58–78 …) and the 4206–4211 flat run are found by a CLI run over March–August
    res = runner.invoke(
        app,
        [
            "clues",
            "run",
            "--since",
            "2026-01-03T00:00Z",
            "--until",
            "2026-01-05T00:00Z",
            "--enterprise",
            "ZD-PW1",
            *url,
        ],
    )
    assert res.exit_code == 0, res.output
    with demo_store.engine.connect() as conn:
        rows = conn.execute(select(clue.c.rule_id, clue.c.channel, clue.c.window_start)).all()
    assert ("C08", "a21002") in {(r[0], r[1]) for r in rows}
    res = runner.invoke(app, ["clues", "list", "--rule", "C08", *url])
    assert res.exit_code == 0 and "C08 数据线性填补" in res.output and "(2 of 2)" in res.output
    res = runner.invoke(
        app,
        [
            "plans",
            "add",
            "order",
            "--level",
            "red",
            "--from",
            "2026-01-14 00:00",
            "--to",
            "2026-01-17 00:00",
            "--doc",
            "昌环应急1号",
            *url,
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plans", "add", "order", "--level", "purple", "--from", "2026-01-14", *url])
    assert res.exit_code == 2 and "level" in res.output
    res = runner.invoke(app, ["plans", "stagger-season", "2025", *url])
    assert res.exit_code == 0
    res = runner.invoke(app, ["plans", "list", *url])
    assert "昌环应急1号" in res.output and "stagger_window" in res.output


def test_cli_marks_pushes_gate(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bogda import cli

    monkeypatch.setattr(cli.console, "width", 240)
    monkeypatch.setattr(cli.err, "width", 240)
    url = _url(demo_store)
    marks = tmp_path / "marks.csv"
    marks.write_text(
        "target,mark_type,start,end\nZD-PW1-DA001,维护,2026-01-08 10:00,2026-01-08 12:00\nZD-PW1-DA001,x,bad,\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["ingest", "marks", str(marks), *url])
    assert res.exit_code == 2
    assert "nothing loaded" in res.output and "marks.csv:3: mark_type: 'x' is not one of" in res.output
    assert "marks.csv:3: start:" in res.output and "marks.csv:3: end: empty" in res.output
    marks.write_text(
        "target,mark_type,start,end\nZD-PW1-DA001,维护,2026-01-08 10:00,2026-01-08 12:00\n", encoding="utf-8"
    )
    res = runner.invoke(app, ["ingest", "marks", str(marks), *url])
    assert res.exit_code == 0 and "1 rows, 1 new" in res.output, res.output
    pushes = tmp_path / "push.csv"
    pushes.write_text("battery,oven,pushed_at\n2,1,2026-01-08 10:00\n2,2,2026-01-08 10:12\n", encoding="utf-8")
    res = runner.invoke(app, ["ingest", "pushes", str(pushes), "--enterprise", "FK-CK1", *url])
    assert res.exit_code == 2 and "push.csv:2: battery: '2' is not a registered battery" in res.output
    res = runner.invoke(app, ["plans", "coke-battery", "FK-CK1", "2", "--ovens", "55", "--chamber-height", "5.5", *url])
    assert res.exit_code == 0 and "55 ovens" in res.output, res.output
    res = runner.invoke(app, ["ingest", "pushes", str(pushes), "--enterprise", "FK-CK1", *url])
    assert res.exit_code == 0 and "2 rows, 2 new" in res.output, res.output
    gate = tmp_path / "gate.csv"
    gate.write_text("车牌号,通过时间,车辆类型,排放阶段\n新B12345,2026-01-08 10:00,重型,国五\n", encoding="utf-8")
    res = runner.invoke(app, ["ingest", "gate", str(gate), *url])
    assert res.exit_code == 2 and "column 'enterprise'" in res.output
    res = runner.invoke(app, ["ingest", "gate", str(gate), "--enterprise", "FK-CM1", *url])
    assert res.exit_code == 0 and "1 new" in res.output, res.output
