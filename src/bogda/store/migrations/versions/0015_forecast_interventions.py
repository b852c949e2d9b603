"""Forecast: hand-entered control events and intervention evaluations (forecast.md §2 "Emission-control state",
§3.9 "days avoided", §4 ``intervention_eval``).

``control_event`` holds only what no other record says: special events (重大活动保障) and any response a bureau
enters by hand. Emergency responses and staggered production are read from ``warning`` and ``plan`` (never copied).
The tables are written out as they stood at this revision (see ``0011_bigscreen``).

Revision ID: 0015_forecast_interventions
Revises: 0008
Create Date: 2026-11-29 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_forecast_interventions"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "control_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=64), nullable=False),
        sa.Column("start", TS, nullable=False),
        sa.Column("end", TS, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("doc_no", sa.String(length=128), server_default="", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("entered_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "kind IN ('emergency_response','staggered_production','special_event')", name=op.f("ck_control_event_kind")
        ),
        sa.CheckConstraint("level >= 0 AND level <= 4", name=op.f("ck_control_event_level")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_event")),
    )
    op.create_index(op.f("ix_control_event_area_code"), "control_event", ["area_code"], unique=False)
    op.create_table(
        "intervention_eval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), server_default="", nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("controls", sa.JSON(), nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("n_obs", sa.Integer(), nullable=True),
        sa.Column("cf_expected", sa.Float(), nullable=True),
        sa.Column("avoided_median", sa.Float(), nullable=True),
        sa.Column("ci90", sa.JSON(), nullable=True),
        sa.Column("mde_days", sa.Float(), nullable=True),
        sa.Column("mde_pct", sa.Float(), nullable=True),
        sa.Column("placebo", sa.JSON(), nullable=True),
        sa.Column("injection", sa.JSON(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "verdict IN ('effect_detected','no_detectable_effect','method_failed_validation')",
            name=op.f("ck_intervention_eval_verdict"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intervention_eval")),
    )


def downgrade() -> None:
    op.drop_table("intervention_eval")
    op.drop_index(op.f("ix_control_event_area_code"), table_name="control_event")
    op.drop_table("control_event")
