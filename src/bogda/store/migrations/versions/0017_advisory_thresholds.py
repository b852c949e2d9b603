"""Forecast: advisory thresholds tuned on local backtests (forecast.md §3.8 "tune the thresholds on local backtests").

``advisory_threshold_set`` holds each activated threshold set, per area or ``*`` for every area, with the evidence
of the check that chose it.

Revision ID: 0017_advisory_thresholds
Revises: 0016_forecast_source_share
Create Date: 2026-11-30 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_advisory_thresholds"
down_revision = "0016_forecast_source_share"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advisory_threshold_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=64), server_default="*", nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(length=200), server_default="", nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisory_threshold_set")),
        sa.UniqueConstraint("area_code", "version", name=op.f("uq_advisory_threshold_set_area_code_version")),
    )


def downgrade() -> None:
    op.drop_table("advisory_threshold_set")
