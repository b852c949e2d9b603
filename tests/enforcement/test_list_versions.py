"""Enforcement reads, for each order, the measures of that order's own emergency list (its newest version); the
ledger's industry name "cement" selects the cement table; withdrawing a hand-entered order ends its lists."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from bogda.enforcement import planbook
from bogda.enforcement import plans as P
from bogda.enforcement.planbook import PlanInput
from bogda.forecast import emergency as em
from bogda.store import Store
from bogda.timeutil import now_utc

FUKANG = "652302"


def _order(store: Store, level: str = "orange", area: str | None = FUKANG, doc: str = "昌环应急〔2026〕5号") -> int:
    now = now_utc()
    p = PlanInput("order", level=level, start=now - timedelta(hours=1), end=now + timedelta(days=2), doc_id=doc)
    with store.begin() as conn:
        return planbook.add_plan(conn, dataclasses.replace(p, area_code=area), by="duty")


def _templates(cement_b_orange: tuple[str, float | None]) -> tuple[em.MeasureRow, ...]:
    """The packaged template with the cement grade-B orange row replaced."""
    rows = [r for r in em.default_templates() if (r.sector, r.grade, r.level) != ("cement", "B", "orange")]
    model = next(r for r in em.default_templates() if (r.sector, r.grade, r.level) == ("cement", "B", "orange"))
    action, value = cement_b_orange
    return (*rows, dataclasses.replace(model, action=action, value=value))


def _measures(ps: P.PlanSet, code: str) -> set[tuple[str, str, float | None]]:
    return {(o.key, m.action, m.value) for o, m in P.active_measures(ps, code)}


def test_an_order_reads_its_newest_list_version_only(demo_store: Store) -> None:
    x = _order(demo_store)
    em.activate_for_order(demo_store, x, templates=_templates(("stop", None)))  # version 1: FK-CM1 (B) stops
    lid2 = em.activate_for_order(demo_store, x, templates=_templates(("cap_ratio", 0.6)))  # version 2: 60 %
    assert em.list_rows(demo_store, lid2)[0]["version"] == 2
    y = _order(demo_store, doc="昌环应急〔2026〕6号")  # same level, no list of its own
    ps = planbook.plan_set(demo_store)
    # order x: version 2 only (version 1's stop no longer applies); order y: the grade table, not x's list
    assert _measures(ps, "FK-CM1") == {(str(x), "cap_ratio", 0.6), (str(y), "cap_ratio", 0.8)}
    # a listed enterprise whose list says 自主减排 gets no measure under that order (the table does not overrule it)
    em.activate_for_order(demo_store, y, templates=_templates(("none", None)))
    assert _measures(planbook.plan_set(demo_store), "FK-CM1") == {(str(x), "cap_ratio", 0.6)}


def test_own_measure_rows_still_come_first(demo_store: Store) -> None:
    x = _order(demo_store)
    em.activate_for_order(demo_store, x, templates=_templates(("stop", None)))
    with demo_store.begin() as conn:
        planbook.add_plan(
            conn, PlanInput("measure", enterprise="FK-CM1", level="orange", action="cap_ratio", value=0.5)
        )
    assert _measures(planbook.plan_set(demo_store), "FK-CM1") == {(str(x), "cap_ratio", 0.5)}


def test_ledger_industry_cement_and_chinese_grades_get_the_cement_table(demo_store: Store) -> None:
    # as the grading ledger writes a grading: industry = the sector code, grade in Chinese (bogda.ledger.grades)
    with demo_store.begin() as conn:
        for code, grade in (("FK-CM1", "非引领性"), ("JM-CM1", "B-"), ("CJ-CM1", "引领性")):
            planbook.add_plan(conn, PlanInput("grade", enterprise=code, industry="cement", grade=grade))
    red = _order(demo_store, level="red", area=None)
    ps = planbook.plan_set(demo_store)
    assert _measures(ps, "FK-CM1") == {(str(red), "stop", None)}
    assert _measures(ps, "JM-CM1") == {(str(red), "stop", None)}
    assert _measures(ps, "CJ-CM1") == set()
    assert [(m.action, m.value) for m in P.measures_for(ps, "JM-CM1", "yellow", date(2026, 1, 10))] == [
        ("transport_ban", None),
        ("cap_ratio", 0.9),
    ]


def test_withdrawing_a_hand_order_ends_its_lists(demo_store: Store) -> None:
    x = _order(demo_store)
    other = _order(demo_store, doc="昌环应急〔2026〕6号")
    em.activate_for_order(demo_store, x)
    kept = em.activate_for_order(demo_store, other)
    with demo_store.begin() as conn:
        assert planbook.deactivate_plan(conn, x) == 1
    assert [r["id"] for r in em.active_list(demo_store)] == [kept]
    with demo_store.begin() as conn:
        mid = planbook.add_plan(conn, PlanInput("measure", enterprise="FK-CM1", level="red", action="stop"))
        assert planbook.deactivate_plan(conn, mid) == 0
    assert [r["id"] for r in em.active_list(demo_store)] == [kept]
    # the withdrawn order and its list's measures are gone from enforcement
    assert {k for k, _, _ in _measures(planbook.plan_set(demo_store), "FK-CM1")} == {str(other)}
