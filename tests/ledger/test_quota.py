from __future__ import annotations

from decimal import Decimal

import pytest

from bogda.ledger import LEDGERS, LedgerError, add, records
from bogda.ledger.quota import balances

CREDIT = {
    "credit_no": "C-1",
    "pollutant": "NOx",
    "amount": "10",
    "type": "工程减排",
    "verified_at": "2025-01-05",
    "county_code": "652301",
}


def _alloc(no: str, emission: str, sources: str, **kw: str) -> dict:
    return {
        "allocation_no": no,
        "pollutant": "NOx",
        "project": f"项目{no}",
        "project_emission": emission,
        "sources": sources,
        "allocated_at": "2025-03-01",
        "county_code": "652301",
        **kw,
    }


def test_overdraw_refused_and_balance(sqlite_store) -> None:
    add(sqlite_store, LEDGERS["quota_credit"], CREDIT, actor="t")
    add(sqlite_store, LEDGERS["quota_allocation"], _alloc("A1", "3", "C-1:6", ratio="2"), actor="t")
    with pytest.raises(LedgerError, match="overdraw: credit C-1 has 4"):
        add(sqlite_store, LEDGERS["quota_allocation"], _alloc("A2", "5", "C-1:5"), actor="t")
    assert len(records(sqlite_store, LEDGERS["quota_allocation"])) == 1
    add(sqlite_store, LEDGERS["quota_allocation"], _alloc("A3", "4", "C-1:4"), actor="t")  # exactly the rest
    (b,) = balances(records(sqlite_store, LEDGERS["quota_credit"]), records(sqlite_store, LEDGERS["quota_allocation"]))
    assert (b["verified"], b["used"], b["remaining"]) == (Decimal("10"), Decimal("10"), Decimal("0"))


@pytest.mark.parametrize(
    ("credit", "alloc", "reason"),
    [
        ({}, {"sources": "C-9:1", "project_emission": "1"}, "does not exist"),
        ({"verified_at": ""}, {"sources": "C-1:1", "project_emission": "1"}, "not verified"),
        ({"verified_at": "2025-06-01"}, {"sources": "C-1:1", "project_emission": "1"}, "not verified"),
        ({"pollutant": "SO2"}, {"sources": "C-1:1", "project_emission": "1"}, "is SO2"),
        ({"county_code": "652302"}, {"sources": "C-1:1", "project_emission": "1"}, "belongs to county"),
    ],
)
def test_allocation_refusals(sqlite_store, credit: dict, alloc: dict, reason: str) -> None:
    add(sqlite_store, LEDGERS["quota_credit"], {**CREDIT, **credit}, actor="t")
    with pytest.raises(LedgerError, match=reason):
        add(
            sqlite_store,
            LEDGERS["quota_allocation"],
            _alloc("A1", alloc["project_emission"], alloc["sources"]),
            actor="t",
        )


def test_pending_credit_shown_apart(sqlite_store) -> None:
    add(sqlite_store, LEDGERS["quota_credit"], {**CREDIT, "verified_at": ""}, actor="t")
    (b,) = balances(records(sqlite_store, LEDGERS["quota_credit"]), [])
    assert (b["verified"], b["pending"], b["remaining"]) == (0, Decimal("10"), 0)
