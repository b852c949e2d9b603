"""The bureau's ledgers (台账, governance.md §3.7): records, validation, Excel import/export, KPI figures.

``LEDGERS`` maps each ledger kind to its :class:`~bogda.ledger.base.Ledger`; :mod:`bogda.ledger.io` reads and
writes their Excel files; :mod:`bogda.ledger.kpi` computes the figures (with provenance) of a period.
"""

from __future__ import annotations

from bogda.ledger import carbon, cases, grades, hazwaste, permits, petitions, quota, rectification, vehicles
from bogda.ledger.base import Field, Ledger, LedgerError, add, events, records, update

LEDGERS: dict[str, Ledger] = {
    lg.kind: lg
    for lg in (
        rectification.LEDGER,
        petitions.LEDGER,
        cases.LEDGER,
        permits.PERMIT,
        permits.EIA,
        quota.CREDIT,
        quota.ALLOCATION,
        grades.LEDGER,
        hazwaste.LEDGER,
        carbon.LEDGER,
        vehicles.LEDGER,
    )
}
"""Ledger kind → ledger."""


def ledger(kind: str) -> Ledger:
    """The ledger of ``kind``; ``KeyError`` naming the known kinds."""
    try:
        return LEDGERS[kind]
    except KeyError:
        raise KeyError(f"unknown ledger {kind!r}; expected one of {', '.join(LEDGERS)}") from None


__all__ = ["LEDGERS", "Field", "Ledger", "LedgerError", "add", "events", "ledger", "records", "update"]
