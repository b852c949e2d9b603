"""Enforcement inputs: CEMS data marks (C04, C16), coke-oven batteries and pushes (P02), gate records (P03)
(enforcement.md §2 "Marks", §3.6, §4).

Continues the enforcement branch after ``0004``.

Revision ID: 0012_enforcement_inputs
Revises: 0004
Create Date: 2026-11-29 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_enforcement_inputs"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cems_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("target_site_id", sa.Integer(), nullable=False),
        sa.Column("mark_type", sa.String(length=16), nullable=False),
        sa.Column("start", TS, nullable=False),
        sa.Column("end", TS, nullable=False),
        sa.Column("entered_at", TS, nullable=True),
        sa.Column("entered_by", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="accepted", nullable=False),
        sa.Column("source", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "mark_type IN ('startup','shutdown','stopped','fault_accident','maintenance','calibration','other')",
            name=op.f("ck_cems_mark_mark_type"),
        ),
        sa.CheckConstraint("status IN ('accepted','pending','rejected','withdrawn')", name=op.f("ck_cems_mark_status")),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["site.id"], name=op.f("fk_cems_mark_enterprise_id_site"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_site_id"], ["site.id"], name=op.f("fk_cems_mark_target_site_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cems_mark")),
        sa.UniqueConstraint(
            "target_site_id", "mark_type", "start", name=op.f("uq_cems_mark_target_site_id_mark_type_start")
        ),
    )
    op.create_index(op.f("ix_cems_mark_enterprise_id"), "cems_mark", ["enterprise_id"], unique=False)
    op.create_index("ix_cems_mark_target_site_id_start", "cems_mark", ["target_site_id", "start"], unique=False)
    op.create_table(
        "coke_battery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("battery", sa.String(length=32), nullable=False),
        sa.Column("ovens", sa.Integer(), nullable=False),
        sa.Column("chamber_height_m", sa.Float(), nullable=True),
        sa.Column("coking_h", sa.Float(), nullable=True),
        sa.Column("dedust_meter", sa.String(length=64), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["site.id"], name=op.f("fk_coke_battery_enterprise_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coke_battery")),
        sa.UniqueConstraint("enterprise_id", "battery", name=op.f("uq_coke_battery_enterprise_id_battery")),
    )
    op.create_table(
        "coke_push",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("battery", sa.String(length=32), nullable=False),
        sa.Column("oven", sa.String(length=16), nullable=False),
        sa.Column("pushed_at", TS, nullable=False),
        sa.Column("source", sa.String(length=200), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["site.id"], name=op.f("fk_coke_push_enterprise_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coke_push")),
        sa.UniqueConstraint(
            "enterprise_id",
            "battery",
            "oven",
            "pushed_at",
            name=op.f("uq_coke_push_enterprise_id_battery_oven_pushed_at"),
        ),
    )
    op.create_index("ix_coke_push_enterprise_id_pushed_at", "coke_push", ["enterprise_id", "pushed_at"], unique=False)
    op.create_table(
        "gate_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("passed_at", TS, nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=4), server_default="in", nullable=False),
        sa.Column("vehicle_class", sa.String(length=8), nullable=False),
        sa.Column("emission_stage", sa.String(length=4), nullable=False),
        sa.Column("fuel", sa.String(length=16), server_default="", nullable=False),
        sa.Column("gate", sa.String(length=64), server_default="", nullable=False),
        sa.Column("source", sa.String(length=200), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["site.id"], name=op.f("fk_gate_record_enterprise_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_record")),
        sa.UniqueConstraint(
            "enterprise_id",
            "plate",
            "passed_at",
            "direction",
            name=op.f("uq_gate_record_enterprise_id_plate_passed_at_direction"),
        ),
    )
    op.create_index(
        "ix_gate_record_enterprise_id_passed_at", "gate_record", ["enterprise_id", "passed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_gate_record_enterprise_id_passed_at", table_name="gate_record")
    op.drop_table("gate_record")
    op.drop_index("ix_coke_push_enterprise_id_pushed_at", table_name="coke_push")
    op.drop_table("coke_push")
    op.drop_table("coke_battery")
    op.drop_index("ix_cems_mark_target_site_id_start", table_name="cems_mark")
    op.drop_index(op.f("ix_cems_mark_enterprise_id"), table_name="cems_mark")
    op.drop_table("cems_mark")
