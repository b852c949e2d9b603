"""The demo year reproduces the seed report's figures from records (issue 10; governance §3.6 examples)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bogda.ledger.kpi import ledger_figures
from bogda.ledger.period import Period
from bogda.store.schema import case, case_ledger, petition, rectification

pytestmark = pytest.mark.slow

SEED = [
    # (figure key, display) — the seed report's own figures
    ("rect.due", "25件"),
    ("rect.on_time", "24件"),
    ("rect.on_time_rate", "96.0%"),
    ("rect.rest_levels", "自治区级"),
    ("petition.received", "181件"),
    ("petition.closed", "181件"),
    ("petition.closure_rate", "100.0%"),
    ("petition.inspection.assigned", "103件"),
    ("petition.inspection.closed", "90件"),
    ("petition.inspection.closure_rate", "87.4%"),
    ("case.count", "151件"),
    ("case.fines_wan", "1378.00万元"),
    ("case.non_site", "28件"),
    ("case.non_site_share", "18.5%"),
    ("eia.count", "296件"),
    ("permit.count", "523件"),
]


@pytest.fixture(scope="module")
def figures(ledger_year_template):
    from bogda.store import connect

    st = connect(f"sqlite:///{ledger_year_template}", migrate=False)
    try:
        yield ledger_figures(st, Period.year(2025)), st
    finally:
        st.dispose()


@pytest.mark.parametrize(("key", "display"), SEED)
def test_seed_figures_from_records(figures, key: str, display: str) -> None:
    figs, _ = figures
    f = figs[key]
    assert f.display() == display
    assert f.query  # every figure names its query
    if f.denominator is not None:
        assert f.count == f.denominator  # the records behind a ratio are its denominator's


def test_figures_trace_to_records(figures) -> None:
    figs, st = figures
    with st.engine.connect() as conn:
        ids = set(conn.execute(select(case_ledger.c.id)).scalars())
        fines = conn.execute(
            select(func.sum(case.c.fine))
            .join(case_ledger, case_ledger.c.case_id == case.c.id)
            .where(case_ledger.c.id.in_([int(r.split(":")[1]) for r in figs["case.fines_wan"].refs]))
        ).scalar_one()
        closed_batch = conn.execute(
            select(func.count())
            .select_from(petition)
            .where(petition.c.inspection_batch.is_not(None), petition.c.closed_at.is_not(None))
        ).scalar_one()
        due = conn.execute(
            select(func.count())
            .select_from(rectification)
            .where(rectification.c.deadline.between(Period.year(2025).first, Period.year(2025).last))
        ).scalar_one()
    assert {int(r.split(":")[1]) for r in figs["case.count"].refs} <= ids
    assert fines == pytest.approx(float(figs["case.fines_wan"].numerator))
    assert closed_batch == figs["petition.inspection.closed"].count
    assert due == figs["rect.due"].count


def test_average_processing_days(figures) -> None:
    figs, _ = figures
    for key in ("eia.avg_days", "permit.avg_days", "petition.avg_days"):
        f = figs[key]
        assert f.value is not None and f.value == f.numerator / f.denominator and f.count == f.denominator
