"""The demo year's permit ledger holds the demo enterprises' own permits, and the emergency lists read their baselines
from them (forecast.md §3.10: permitted t/a ÷ 365)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bogda.demo.ledger_year import PERMITTED_T, SEED
from bogda.forecast import emergency as em
from bogda.store import Store
from bogda.store.schema import enterprise, permit


def test_each_demo_enterprise_has_a_decided_key_class_permit(year_store: Store) -> None:
    with year_store.engine.connect() as conn:
        ents = conn.execute(select(enterprise.c.credit_code, enterprise.c.sector)).all()
        rows = conn.execute(select(permit.c.uscc, permit.c.management_class, permit.c.decided_at)).all()
    own = {r.uscc: r for r in rows if r.uscc}
    assert set(own) == {e.credit_code for e in ents} and len(ents) == 16
    assert all(r.management_class == "重点" and r.decided_at is not None for r in own.values())
    assert sum(r.decided_at is not None for r in rows) == SEED["permits"]  # the seed's 523 stays


def test_emergency_list_reductions_come_from_the_permits(year_store: Store) -> None:
    items = {i.code: i for i in em.build_items(year_store, "652300", "orange")}
    cement_b = items["FK-CM1"]  # cement, grade B: orange caps production at 80 %
    assert cement_b.baseline_source == "permit"
    assert cement_b.baseline_t_per_day["NOx"] == pytest.approx(PERMITTED_T["cement"]["NOx"] / 365, abs=1e-6)
    assert cement_b.reduction_t_per_day["NOx"] == pytest.approx(0.2 * 800 / 365, abs=1e-5)
    summary = em.summarise(list(items.values()), "orange")
    assert summary.missing_baseline == []
