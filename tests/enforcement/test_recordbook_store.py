"""The input-record tables on both engines (SQLite and PostgreSQL): marks, batteries, pushes, gate records and
parameter sets round-trip with aware UTC times, and re-imports insert nothing new."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bogda.enforcement import recordbook, service
from bogda.registry.sites import SiteInput, add_enterprise, add_meter, add_outlet
from bogda.store import Store
from enforcement.synthetic import bj


def _registry(store: Store) -> dict[int, str]:
    with store.begin() as conn:
        ent = add_enterprise(
            conn,
            SiteInput("enterprise", "E1", "测试焦化（模拟）"),
            credit_code="X",
            sector="coking",
            check_credit=False,
        )
        add_outlet(conn, SiteInput("outlet", "E1-DA001", "1号排口", parent_id=ent), enterprise_id=ent, medium="gas",
                   limits={"a21002": {"limit": 150.0}})  # fmt: skip
        add_meter(conn, SiteInput("meter", "E1-M3", "推焦除尘电表", parent_id=ent), enterprise_id=ent,
                  role="treatment", equipment="推焦除尘")  # fmt: skip
    return {ent: "E1"}


def test_records_round_trip(store: Store, tmp_path: Path) -> None:
    ents = _registry(store)
    marks = tmp_path / "m.csv"
    marks.write_text("target,mark_type,start,end\nE1-DA001,故障,2026-01-08 10:00,2026-01-08 13:30\n", encoding="utf-8")
    assert recordbook.import_marks(store, marks).inserted == 1
    with store.begin() as conn:
        recordbook.add_mark(conn, target="E1-M3", mark_type="maintenance", start=bj(9, 8), end=bj(9, 9), now=bj(9, 8))
        recordbook.set_battery(
            conn, "E1", "1", ovens=50, chamber_height_m=5.5, dedust_meter="E1-M3", pusher_meter="E1-M3"
        )
    (m1, m2) = recordbook.read_marks(store, bj(1), bj(20), ents)
    assert (m1.target_id, m1.mark_type, m1.start, m1.end, m1.entered_at) == (
        "E1-DA001", "fault_accident", bj(8, 10), bj(8, 13, 30), None
    )  # fmt: skip
    assert (m2.target_id, m2.entered_at) == ("E1-M3", bj(9, 8))
    pushes = tmp_path / "p.csv"
    pushes.write_text("炉组,炭化室号,推焦时间\n1,7,2026-01-08 10:00\n1,8,2026-01-08 10:12\n", encoding="utf-8")
    assert recordbook.import_pushes(store, pushes, enterprise="E1").inserted == 2
    assert recordbook.import_pushes(store, pushes, enterprise="E1").inserted == 0
    (bat,) = recordbook.read_batteries(store, bj(1), bj(20), ents)
    assert (bat.ovens, bat.chamber_height_m, bat.coking_h, bat.dedust_meter) == (50, 5.5, None, "E1-M3")
    assert (bat.pusher_meter, bat.push_source) == ("E1-M3", "records")
    assert bat.push_ts.tolist() == [np.datetime64("2026-01-08T02:00:00"), np.datetime64("2026-01-08T02:12:00")]
    gate = tmp_path / "g.csv"
    gate.write_text("passed_at,plate,vehicle_class,emission_stage,direction\n2026-01-08 10:00,新B12345,heavy,国三,出\n",
                    encoding="utf-8")  # fmt: skip
    assert recordbook.import_gate(store, gate, enterprise="E1").inserted == 1
    assert recordbook.import_gate(store, gate, enterprise="E1").inserted == 0
    (log,) = recordbook.read_gate(store, bj(1), bj(20), ents)
    assert (log.stage.tolist(), log.direction.tolist()) == (["III"], ["out"])
    p = service.activate_params(store, "version: v-test\nparams:\n  p02.min_undedusted: 3\n", name="t.yaml")
    assert service.active_params(store).sha256 == p.sha256 and service.active_params(store)["p02.min_undedusted"] == 3
