"""Forecast: the loaded NWP runs (forecast.md §2 "the recorded arrival time", §6 "the run is degraded").

``nwp_run`` holds one row per (source, run_time) loaded into ``nwp_value``: the recorded arrival (null for a
back-load: run_time + latency applies), the corrupt GRIB messages the latest load skipped (> 0: the run is
``degraded``), that load's notes and errors, and when it was last loaded.

Revision ID: 0020_nwp_run
Revises: 0019_forecast_publication
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_nwp_run"
down_revision = "0019_forecast_publication"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "nwp_run",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("run_time", TS, nullable=False),
        sa.Column("arrived_at", TS, nullable=True),
        sa.Column("skipped_messages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
        sa.CheckConstraint("skipped_messages >= 0", name=op.f("ck_nwp_run_skipped_messages")),
        sa.PrimaryKeyConstraint("source", "run_time", name=op.f("pk_nwp_run")),
    )


def downgrade() -> None:
    op.drop_table("nwp_run")
