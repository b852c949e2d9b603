"""Enforcement tables: clue details, per-(rule, subject, day) evaluations, per-enterprise rule overrides,
cases and production plans (enforcement.md §2, §5).

A branch of its own off the core revision (the runner upgrades to every head).

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = ("enforcement",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("supersedes", sa.String(length=64), nullable=True),
        sa.Column("rule_id", sa.String(length=8), nullable=False),
        sa.Column("rule_version", sa.String(length=16), nullable=False),
        sa.Column("param_version", sa.String(length=64), nullable=False),
        sa.Column("param_sha256", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("subject_site_id", sa.Integer(), nullable=True),
        sa.Column("meter_ids", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("window_start", TS, nullable=True),
        sa.Column("window_end", TS, nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("limit_source", sa.String(length=32), nullable=True),
        sa.Column("legal_basis", sa.String(length=200), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="NEW", nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("bundle_sha256", sa.String(length=64), nullable=False),
        sa.Column("feedback", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["finding.id"], name=op.f("fk_clue_finding_id_finding"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["enterprise_id"], ["site.id"], name=op.f("fk_clue_enterprise_id_site")),
        sa.ForeignKeyConstraint(["subject_site_id"], ["site.id"], name=op.f("fk_clue_subject_site_id_site")),
        sa.ForeignKeyConstraint(["run_id"], ["job_run.id"], name=op.f("fk_clue_run_id_job_run")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clue")),
        sa.UniqueConstraint("finding_id", name=op.f("uq_clue_finding_id")),
    )
    op.create_index(op.f("ix_clue_dedupe_key"), "clue", ["dedupe_key"], unique=False)
    op.create_index(op.f("ix_clue_rule_id"), "clue", ["rule_id"], unique=False)
    op.create_index(op.f("ix_clue_enterprise_id"), "clue", ["enterprise_id"], unique=False)
    op.create_table(
        "clue_eval",
        sa.Column("rule_id", sa.String(length=8), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('fired','clear','not_evaluable')", name=op.f("ck_clue_eval_state")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_clue_eval_site_id_site"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["job_run.id"], name=op.f("fk_clue_eval_run_id_job_run")),
        sa.PrimaryKeyConstraint("rule_id", "site_id", "day", name=op.f("pk_clue_eval")),
    )
    op.create_table(
        "rule_override",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("param_version", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["site.id"], name=op.f("fk_rule_override_enterprise_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("enterprise_id", "key", name=op.f("pk_rule_override")),
    )
    op.create_table(
        "case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("clue_source", sa.String(length=32), nullable=True),
        sa.Column("non_site", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("non_site_evidence", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=True),
        sa.Column("fine", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["site.id"], name=op.f("fk_case_enterprise_id_site")),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"], name=op.f("fk_case_finding_id_finding")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case")),
        sa.UniqueConstraint("case_no", name=op.f("uq_case_case_no")),
    )
    op.create_index(op.f("ix_case_enterprise_id"), "case", ["enterprise_id"], unique=False)
    op.create_index(op.f("ix_case_finding_id"), "case", ["finding_id"], unique=False)
    op.create_index(op.f("ix_case_opened_at"), "case", ["opened_at"], unique=False)
    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("sector", sa.String(length=64), nullable=True),
        sa.Column("target", sa.String(length=64), server_default="", nullable=False),
        sa.Column("level", sa.String(length=8), nullable=True),
        sa.Column("grade", sa.String(length=8), nullable=True),
        sa.Column("industry", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("start", TS, nullable=True),
        sa.Column("end", TS, nullable=True),
        sa.Column("doc_id", sa.String(length=128), server_default="", nullable=False),
        sa.Column("source", sa.String(length=16), server_default="manual", nullable=False),
        sa.Column("attrs", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "kind IN ('stagger_window','measure','order','grade','baseline')", name=op.f("ck_plan_kind")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["site.id"], name=op.f("fk_plan_enterprise_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
    )
    op.create_index(op.f("ix_plan_kind"), "plan", ["kind"], unique=False)
    op.create_index(op.f("ix_plan_enterprise_id"), "plan", ["enterprise_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_plan_enterprise_id"), table_name="plan")
    op.drop_index(op.f("ix_plan_kind"), table_name="plan")
    op.drop_table("plan")
    op.drop_index(op.f("ix_case_opened_at"), table_name="case")
    op.drop_index(op.f("ix_case_finding_id"), table_name="case")
    op.drop_index(op.f("ix_case_enterprise_id"), table_name="case")
    op.drop_table("case")
    op.drop_table("rule_override")
    op.drop_table("clue_eval")
    op.drop_index(op.f("ix_clue_enterprise_id"), table_name="clue")
    op.drop_index(op.f("ix_clue_rule_id"), table_name="clue")
    op.drop_index(op.f("ix_clue_dedupe_key"), table_name="clue")
    op.drop_table("clue")
