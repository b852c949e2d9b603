"""Forecast tables (forecast.md §4): forecast_run, forecast, warning, warning_event, advisory, emergency_list,
emergency_list_item, nwp_value, backtest_score.

A branch of its own off the core revision. The tables are created from their definitions in
:mod:`bogda.store.schema` as they stood at this revision; a later change to one of them needs a migration of its own.

Revision ID: 0008
Revises: 0001
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0001"
branch_labels = ("forecast",)
depends_on = None

TABLES = (
    "forecast_run",
    "forecast",
    "warning",
    "warning_event",
    "advisory",
    "emergency_list",
    "emergency_list_item",
    "nwp_value",
    "backtest_score",
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
