"""Forecast: the bureau's source-apportionment shares (源解析结果) behind the emission-based estimate of emergency
lists (forecast.md §3.9 step 6, §3.10; governance.md §3.11).

``source_share`` holds, per area, pollutant, season and study, the share of the concentration attributed to each
source category (or the local total); the bureau enters them from its own study, nothing is seeded. The table is
written out as it stood at this revision (see ``0011_bigscreen``).

Revision ID: 0016_forecast_source_share
Revises: 0015_forecast_interventions
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_forecast_source_share"
down_revision = "0015_forecast_interventions"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "source_share",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=64), nullable=False),
        sa.Column("pollutant", sa.String(length=16), server_default="PM2.5", nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("season", sa.String(length=16), server_default="all", nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("share_low", sa.Float(), nullable=True),
        sa.Column("share_high", sa.Float(), nullable=True),
        sa.Column("source_doc", sa.String(length=300), nullable=False),
        sa.Column("study_year", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("entered_by", sa.String(length=64), nullable=True),
        sa.Column("entered_at", TS, nullable=False),
        sa.CheckConstraint("share >= 0 AND share <= 1", name=op.f("ck_source_share_share")),
        sa.CheckConstraint(
            "share_low IS NULL OR (share_low >= 0 AND share_low <= share)", name=op.f("ck_source_share_share_low")
        ),
        sa.CheckConstraint(
            "share_high IS NULL OR (share_high >= share AND share_high <= 1)", name=op.f("ck_source_share_share_high")
        ),
        sa.CheckConstraint("season IN ('heating','non_heating','heavy','all')", name=op.f("ck_source_share_season")),
        sa.CheckConstraint("source_doc <> ''", name=op.f("ck_source_share_source_doc")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_share")),
    )
    op.create_index(op.f("ix_source_share_area_code"), "source_share", ["area_code"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_source_share_area_code"), table_name="source_share")
    op.drop_table("source_share")
