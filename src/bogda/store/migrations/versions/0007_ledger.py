"""Ledger tables (governance.md §3.7, §4): rectification, petition, case_ledger, permit, eia, quota_credit,
quota_allocation, hw_unit, carbon_compliance, vehicle_elimination, ledger_target, ledger_event, report.

A branch of its own off the core revision; it depends on the enforcement branch (``case_ledger`` extends ``case``).
The tables are created from their definitions in :mod:`bogda.store.schema` as they stood at this revision; a later
change to one of them needs a migration of its own.

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-29 01:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = ("ledger",)
depends_on = ("0004",)

TABLES = (
    "rectification",
    "petition",
    "case_ledger",
    "permit",
    "eia",
    "quota_credit",
    "quota_allocation",
    "hw_unit",
    "carbon_compliance",
    "vehicle_elimination",
    "ledger_target",
    "ledger_event",
    "report",
)


def upgrade() -> None:
    from bogda.store.schema import metadata

    bind = op.get_bind()
    for name in TABLES:
        metadata.tables[name].create(bind=bind, checkfirst=False)


def downgrade() -> None:
    from bogda.store.schema import metadata

    bind = op.get_bind()
    for name in reversed(TABLES):
        metadata.tables[name].drop(bind=bind, checkfirst=True)
