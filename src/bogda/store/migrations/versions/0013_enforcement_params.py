"""Enforcement: activated rule-parameter files (enforcement.md §6 versioned parameters, §7 invalid file refused).

Continues the enforcement branch after ``0012_enforcement_inputs``.

Revision ID: 0013_enforcement_params
Revises: 0012_enforcement_inputs
Create Date: 2026-11-29 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_enforcement_params"
down_revision = "0012_enforcement_inputs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enf_param_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), server_default="", nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enf_param_set")),
        sa.UniqueConstraint("version", name=op.f("uq_enf_param_set_version")),
    )


def downgrade() -> None:
    op.drop_table("enf_param_set")
