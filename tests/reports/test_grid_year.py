"""The demo grid year (bogda.demo.grid_year) and the reports' grid-KPI paragraphs.

The year is driven through the real task service; the figures the monthly bulletin and the duty report print are
checked against counts computed here by hand from the records (``task`` rows and ``task_event``), independently
of the KPI code that produced them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bogda.ledger.period import Period
from bogda.store import Store, connect
from bogda.store.schema import evidence, task, task_event
from bogda.timeutil import as_utc

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def grid_year_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The Changji demo region with the ledgers' demo year and a (lighter than the demo's) grid year."""
    from bogda.demo.grid_year import build_grid_year
    from bogda.demo.ledger_year import build_ledger_year
    from bogda.demo.region import build_demo_region

    folder = tmp_path_factory.mktemp("grid_year")
    path = folder / "grid_year.db"
    st = connect(f"sqlite:///{path}")
    build_demo_region(st)
    shutil.copyfile(path, folder / "region.db")
    build_ledger_year(st)
    result = build_grid_year(st, per_month=10, data_dir=folder / "var")
    st.dispose()
    return path, result


@pytest.fixture
def grid_store(grid_year_template: tuple[Path, Any], tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "year.db"
    shutil.copyfile(grid_year_template[0], path)
    st = connect(f"sqlite:///{path}")
    yield st
    st.dispose()


def _utc(t: Any) -> datetime | None:
    return None if t is None else as_utc(t)


def hand_counts(store: Store, period: Period) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) per KPI, from the task rows and events; valid as of the simulation's end, which
    is the end of 2025 (the period must end there, so the rows' final state is the state as of the period end)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(task)).all()
        evs = conn.execute(
            select(task_event.c.task_id, task_event.c.seq, task_event.c.event, task_event.c.at).order_by(
                task_event.c.task_id, task_event.c.seq
            )
        ).all()
    inside = period.has_time
    by_task: dict[int, list[Any]] = {}
    for e in evs:
        by_task.setdefault(e.task_id, []).append(e)
    alive = [r for r in rows if r.state != "CANCELLED"]
    made = [r for r in rows if inside(_utc(r.created_at))]
    due = [r for r in alive if inside(_utc(r.close_due))]
    on_time = [r for r in due if r.closed_at is not None and _utc(r.closed_at) <= _utc(r.close_due)]
    sign_den = [r for r in alive if r.dispatched_at is not None and inside(_utc(r.sign_due))]
    sign_num = [r for r in sign_den if r.signed_at is not None and _utc(r.signed_at) <= _utc(r.sign_due)]

    def verdict_at(tid: int) -> datetime | None:
        """The first confirm / not-confirm of the task's current cycle (after its last reopening)."""
        cycle = by_task[tid]
        starts = [i for i, e in enumerate(cycle) if e.event in ("reopen", "relapse")]
        cycle = cycle[starts[-1] + 1 :] if starts else cycle
        return next((_utc(e.at) for e in cycle if e.event in ("confirm", "not_confirm")), None)

    verd = [r for r in alive if r.verdict is not None and inside(verdict_at(r.id))]
    conf = [r for r in verd if r.verdict == "confirmed"]
    reviewed = [r for r in alive if any(e.event in ("approve", "reject") and inside(_utc(e.at)) for e in by_task[r.id])]
    reworked = [r for r in reviewed if r.rework_count >= 1]
    repeated = [r for r in made if r.repeat_count >= 1]
    overdue = [
        r
        for r in rows
        if r.state not in ("CLOSED", "CANCELLED") and r.close_due is not None and _utc(r.close_due) < period.end
    ]
    return {
        "tasks": (len(made), 0),
        "due": (len(due), 0),
        "closed_on_time": (len(on_time), 0),
        "overdue_open": (len(overdue), 0),
        "closure_on_time": (len(on_time), len(due)),
        "sign_timely": (len(sign_num), len(sign_den)),
        "confirmed": (len(conf), len(verd)),
        "rework": (len(reworked), len(reviewed)),
        "repeat": (len(repeated), len(made)),
    }


def pct(num: int, den: int, dp: int) -> str:
    return str((Decimal(num) * 100 / Decimal(den)).quantize(Decimal(1).scaleb(-dp), rounding="ROUND_HALF_UP"))


def test_the_year_ran_through_the_service(grid_year_template: tuple[Path, Any]) -> None:
    path, result = grid_year_template
    assert result.skipped == []
    assert result.outcomes["created"] == result.tasks > 80
    assert result.outcomes["reopened"] >= 1  # relapses at the same place within 30 days
    st = connect(f"sqlite:///{path}")
    try:
        with st.engine.connect() as conn:
            rows = conn.execute(select(task)).all()
            photos = conn.execute(select(evidence.c.passed, evidence.c.flags)).all()
            kinds = {e for (e,) in conn.execute(select(task_event.c.event).distinct())}
    finally:
        st.dispose()
    states = {r.state for r in rows}
    assert {"CLOSED", "CANCELLED"} <= states and states & {"ACCEPTED", "HANDLING", "REVIEW"}
    assert any(r.rework_count >= 1 for r in rows) and any(r.escalation_level >= 1 for r in rows)
    assert any(r.card in ("yellow", "red") for r in rows) and any(r.verdict == "not_confirmed" for r in rows)
    flow = {"dispatch", "sign", "confirm", "not_confirm", "feedback", "reject", "approve", "escalate", "cancel"}
    assert flow <= kinds
    assert photos and all(p.passed for p in photos), [p.flags for p in photos if not p.passed][:3]
    assert {r.source for r in rows} >= {"station_alarm", "petition", "patrol", "fire_point"}
    assert all(r.title.endswith("（模拟）") for r in rows)


def test_seeded_and_deterministic(grid_year_template: tuple[Path, Any], tmp_path: Path) -> None:
    """Two runs of a short year from the same region and seed write the same tasks and events."""
    from bogda.demo.grid_year import build_grid_year
    from bogda.timeutil import BEIJING

    region = grid_year_template[0].parent / "region.db"
    out = []
    for k in range(2):
        p = tmp_path / f"r{k}.db"
        shutil.copyfile(region, p)
        st = connect(f"sqlite:///{p}")
        build_grid_year(st, per_month=6, data_dir=tmp_path / f"var{k}", end=datetime(2025, 3, 1, tzinfo=BEIJING))
        with st.engine.connect() as conn:
            out.append(
                [
                    tuple(r)
                    for r in conn.execute(
                        select(task_event.c.task_id, task_event.c.event, task_event.c.to_state, task_event.c.at)
                    )
                ]
            )
        st.dispose()
    assert out[0] and out[0] == out[1]


def _para(text: str, marker: str) -> str:
    line = next((ln for ln in text.splitlines() if marker in ln), None)
    assert line is not None, f"no paragraph with {marker!r}"
    return re.sub(r"\[\d+\]", "", line)


@pytest.mark.parametrize("kind", ["annual", "monthly"])
def test_grid_paragraph_figures_equal_hand_counts(grid_store: Store, kind: str) -> None:
    from bogda.reports import bulletin, duty_report
    from reports.helpers import docx_text

    if kind == "annual":
        period = Period.year(2025)
        rep = duty_report.build(grid_store, 2025)
        figs, doc = rep.figures, rep.document
        marker = "网格化监管闭环运行"
    else:
        period = Period.month(2025, 12)
        b = bulletin.build(grid_store, 2025, 12)
        figs, doc = b.figures, b.document
        marker = "网格化监管平台新建任务"
    hand = hand_counts(grid_store, period)
    from bogda.reports.render import to_docx

    path = grid_store.engine.url.database + f".{kind}.docx"  # type: ignore[operator]
    Path(path).write_bytes(to_docx(doc))
    para = _para(docx_text(Path(path)), marker)

    for key in ("tasks", "due", "closed_on_time", "overdue_open"):
        f = figs[f"grid.{key}"]
        assert f.value == hand[key][0], key
        assert f.count == hand[key][0]  # one task reference per counted task
    assert hand["tasks"][0] > 0 and hand["due"][0] > 0
    assert f"新建任务{hand['tasks'][0]}件" in para
    assert f"按期办结{hand['closed_on_time'][0]}件" in para
    assert f"超期未办结任务{hand['overdue_open'][0]}件" in para
    for key, dp, word in (
        ("closure_on_time", 2, "按期办结率"),
        ("sign_timely", 1, "签收及时率"),
        ("confirmed", 1, "查实率"),
        ("rework", 1, "返工率"),
    ):
        num, den = hand[key]
        f = figs[f"grid.{key}"]
        assert (int(f.numerator), f.denominator) == (num, den), key
        assert f"{word}{pct(num, den, dp)}%" in para, (key, para)
    if kind == "annual":
        num, den = hand["repeat"]
        assert f"重复率{pct(num, den, 1)}%" in para
        assert hand["overdue_open"][0] > 0  # stalled tasks left open past their deadline
