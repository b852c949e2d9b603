"""Command centre (issue 11): the ``air_target`` table (governance.md §3.8 annual targets).

A branch of its own off the core revision. The table is written out here as it stood at this revision (not read
from :mod:`bogda.store.schema`), so a later change to the schema module cannot alter what this revision creates:
such a change needs a migration of its own, and ``tests/store/test_migrations.py`` fails until the two agree.

Revision ID: 0011_bigscreen
Revises: 0001
Create Date: 2026-11-29 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_bigscreen"
down_revision = "0001"
branch_labels = ("bigscreen",)
depends_on = None

TS = sa.DateTime(timezone=True)  # bogda.store.schema.UtcDateTime stores through this type on both engines


def upgrade() -> None:
    op.create_table(
        "air_target",
        sa.Column("place_code", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("comparison", sa.String(length=2), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=8), server_default="absolute", nullable=False),
        sa.Column("base_year", sa.Integer(), nullable=True),
        sa.Column("standard_version", sa.String(length=4), server_default="2012", nullable=False),
        sa.Column("dust_excluded", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("source_doc", sa.String(length=200), server_default="", nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=True),
        sa.Column("entered_at", TS, nullable=True),
        sa.CheckConstraint("comparison IN ('<=','>=')", name=op.f("ck_air_target_comparison")),
        sa.CheckConstraint("kind IN ('absolute','relative')", name=op.f("ck_air_target_kind")),
        sa.PrimaryKeyConstraint("place_code", "year", "metric", name=op.f("pk_air_target")),
    )


def downgrade() -> None:
    op.drop_table("air_target")
