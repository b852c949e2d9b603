"""Ledger KPIs of a period, computed from the records, each a :class:`~bogda.ledger.figures.Figure` with its query
and the records behind it (governance.md §3.6, §3.7). Nothing here is typed in: every value is a count, sum or
ratio over ledger rows as of the period end.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bogda.ledger import LEDGERS, carbon, cases, grades, hazwaste, permits, petitions, quota, rectification, vehicles
from bogda.ledger.base import load, synced
from bogda.ledger.figures import Figure
from bogda.ledger.period import Period
from bogda.store import Store
from bogda.store.schema import ledger_target


def all_rows(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every ledger's rows (kind → rows)."""
    for lg in LEDGERS.values():
        synced(store, lg)
    with store.engine.connect() as conn:
        return {kind: load(lg, conn) for kind, lg in LEDGERS.items()}


def target(store: Store, ledger: str, year: int, metric: str, county_code: str = "") -> float | None:
    """An annual target from ``ledger_target`` (``None`` when not entered)."""
    with store.engine.connect() as conn:
        return conn.execute(
            select(ledger_target.c.value).where(
                ledger_target.c.ledger == ledger,
                ledger_target.c.year == year,
                ledger_target.c.metric == metric,
                ledger_target.c.county_code == county_code,
            )
        ).scalar()


def set_target(
    store: Store, ledger: str, year: int, metric: str, value: float, county_code: str = "", doc: str = ""
) -> None:
    """Enter (or replace) an annual target."""
    with store.begin() as conn:
        conn.execute(
            ledger_target.delete().where(
                ledger_target.c.ledger == ledger,
                ledger_target.c.year == year,
                ledger_target.c.metric == metric,
                ledger_target.c.county_code == county_code,
            )
        )
        conn.execute(
            ledger_target.insert().values(
                ledger=ledger, county_code=county_code, year=year, metric=metric, value=value, source_doc=doc
            )
        )


def ledger_figures(
    store: Store, period: Period, rows: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, Figure]:
    """All ledger figures of ``period`` (key → figure)."""
    rows = rows if rows is not None else all_rows(store)
    out: dict[str, Figure] = {}
    out.update(rectification.figures(rows["rectification"], period))
    out.update(petitions.figures(rows["petition"], period))
    out.update(cases.figures(rows["case"], period))
    out.update(permits.permit_figures(rows["permit"], period))
    out.update(permits.eia_figures(rows["eia"], period))
    out.update(quota.figures(rows["quota_credit"], rows["quota_allocation"], period))
    out.update(grades.figures(rows["grade"], period))
    out.update(hazwaste.figures(rows["hw_unit"], period))
    out.update(carbon.figures(rows["carbon"], period))
    t = target(store, "vehicle", period.last.year, "eliminate")
    out.update(vehicles.figures(rows["vehicle"], period, None if t is None else int(t)))
    return out
