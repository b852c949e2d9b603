"""Source tracing: stored ESAT PMF runs (governance.md §3.11 "Store").

``apportionment_run`` keeps each run's settings, species, S/N, ESAT version, Q values and its result (H, W,
fingerprints, PM2.5 by factor), failed runs with their error, and the analyst's factor labels once the run's shares
are adopted as ``source_share`` rows; runs submitted from the console wait as ``queued`` for the scheduler.

Revision ID: 0018_tracing_apportionment
Revises: 0017_advisory_thresholds
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_tracing_apportionment"
down_revision = "0017_advisory_thresholds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apportionment_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=64), nullable=True),
        sa.Column("site", sa.String(length=100), server_default="", nullable=False),
        sa.Column("dataset", sa.String(length=300), server_default="", nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("job_dir", sa.String(length=500), nullable=True),
        sa.Column("factors", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("esat_version", sa.String(length=16), nullable=True),
        sa.Column("q_true", sa.Float(), nullable=True),
        sa.Column("q_robust", sa.Float(), nullable=True),
        sa.Column("q_expected", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=True),
        sa.Column("adopted_doc", sa.String(length=300), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued','running','done','failed')", name=op.f("ck_apportionment_run_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apportionment_run")),
    )
    op.create_index(op.f("ix_apportionment_run_area_code"), "apportionment_run", ["area_code"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_apportionment_run_area_code"), table_name="apportionment_run")
    op.drop_table("apportionment_run")
