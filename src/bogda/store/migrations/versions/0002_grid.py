"""Grid tables: closed-loop tasks, their events, finding links, evidence, SLA overrides, holidays, user
capabilities and extra grid places (governance.md §3.1–§3.6, §3.12, §4).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("routed_place_id", sa.Integer(), nullable=True),
        sa.Column("supervising_place_id", sa.Integer(), nullable=True),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("resume_state", sa.String(length=16), nullable=True),
        sa.Column("repeat_of", sa.Integer(), nullable=True),
        sa.Column("repeat_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rework_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("card", sa.String(length=8), server_default="none", nullable=False),
        sa.Column("overdue", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("outside_jurisdiction", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("visible_to_enterprise", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("sla_key", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("dispatched_at", TS, nullable=True),
        sa.Column("signed_at", TS, nullable=True),
        sa.Column("confirmed_at", TS, nullable=True),
        sa.Column("feedback_at", TS, nullable=True),
        sa.Column("feedback_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("sign_due", TS, nullable=True),
        sa.Column("site_due", TS, nullable=True),
        sa.Column("feedback_due", TS, nullable=True),
        sa.Column("close_due", TS, nullable=True),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("petition_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "state IN ('NEW','DISPATCHED','ACCEPTED','HANDLING','REVIEW','SUSPENDED','CLOSED','REOPENED','CANCELLED')",
            name=op.f("ck_task_state"),
        ),
        sa.CheckConstraint("severity IN ('P1','P2','P3','P4')", name=op.f("ck_task_severity")),
        sa.CheckConstraint("card IN ('none','blue','yellow','red')", name=op.f("ck_task_card")),
        sa.ForeignKeyConstraint(["place_id"], ["place.id"], name=op.f("fk_task_place_id_place")),
        sa.ForeignKeyConstraint(["routed_place_id"], ["place.id"], name=op.f("fk_task_routed_place_id_place")),
        sa.ForeignKeyConstraint(
            ["supervising_place_id"], ["place.id"], name=op.f("fk_task_supervising_place_id_place")
        ),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"], name=op.f("fk_task_finding_id_finding")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["site.id"], name=op.f("fk_task_enterprise_id_site")),
        sa.ForeignKeyConstraint(["repeat_of"], ["task.id"], name=op.f("fk_task_repeat_of_task")),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"], name=op.f("fk_task_created_by_user")),
        sa.ForeignKeyConstraint(["feedback_by"], ["user.id"], name=op.f("fk_task_feedback_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_place_id"), ["place_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_enterprise_id"), ["enterprise_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_close_due"), ["close_due"], unique=False)

    op.create_table(
        "task_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_login", sa.String(length=64), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_task_event_task_id_task"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"], name=op.f("fk_task_event_actor_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_event")),
        sa.UniqueConstraint("task_id", "seq", name=op.f("uq_task_event_task_id_seq")),
    )
    with op.batch_alter_table("task_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_event_at"), ["at"], unique=False)

    op.create_table(
        "task_finding",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("attached_at", TS, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_finding_task_id_task"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"], name=op.f("fk_task_finding_finding_id_finding")),
        sa.PrimaryKeyConstraint("task_id", "finding_id", name=op.f("pk_task_finding")),
    )
    with op.batch_alter_table("task_finding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_finding_finding_id"), ["finding_id"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("original_name", sa.String(length=200), nullable=True),
        sa.Column("taken_at", TS, nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("coord_sys", sa.String(length=8), nullable=True),
        sa.Column("device", sa.String(length=128), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("uploader_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_evidence_task_id_task"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["uploader_id"], ["user.id"], name=op.f("fk_evidence_uploader_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_task_id"), ["task_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_sha256"), ["sha256"], unique=False)

    op.create_table(
        "sla_rule",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("source", "severity", name=op.f("pk_sla_rule")),
    )
    op.create_table(
        "holiday",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=64), server_default="", nullable=False),
        sa.CheckConstraint("kind IN ('off','work')", name=op.f("ck_holiday_kind")),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_holiday")),
    )
    op.create_table(
        "user_capability",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("capability", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_user_capability_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "capability", name=op.f("pk_user_capability")),
    )
    op.create_table(
        "user_place",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_user_place_user_id_user"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["place_id"], ["place.id"], name=op.f("fk_user_place_place_id_place")),
        sa.PrimaryKeyConstraint("user_id", "place_id", name=op.f("pk_user_place")),
    )


def downgrade() -> None:
    op.drop_table("user_place")
    op.drop_table("user_capability")
    op.drop_table("holiday")
    op.drop_table("sla_rule")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_sha256"))
        batch_op.drop_index(batch_op.f("ix_evidence_task_id"))
    op.drop_table("evidence")
    with op.batch_alter_table("task_finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_finding_finding_id"))
    op.drop_table("task_finding")
    with op.batch_alter_table("task_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_event_at"))
    op.drop_table("task_event")
    with op.batch_alter_table("task", schema=None) as batch_op:
        for name in ("close_due", "enterprise_id", "place_id", "state", "source"):
            batch_op.drop_index(batch_op.f(f"ix_task_{name}"))
    op.drop_table("task")
