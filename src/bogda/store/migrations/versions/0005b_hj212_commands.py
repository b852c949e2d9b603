"""HJ 212 gateway: persisted platform commands, unknown devices awaiting approval, refusals by address on the device
state (hj212.md §3.4, §3.6).

Revision ID: 0005b_hj212
Revises: 0005
Create Date: 2026-11-29 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005b_hj212"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("hj212_device_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip_refused", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_refused_peer", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_refused_at", TS, nullable=True))
    op.create_table(
        "hj212_command",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mn", sa.String(length=32), nullable=False),
        sa.Column("cn", sa.String(length=8), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), server_default="operator", nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("gateway_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("qn", sa.String(length=24), nullable=True),
        sa.Column("qn_rtn", sa.Integer(), nullable=True),
        sa.Column("exe_rtn", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("data_frames", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "state IN ('queued','sent','accepted','done','failed','timed_out','expired','cancelled')",
            name=op.f("ck_hj212_command_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hj212_command")),
    )
    op.create_index(op.f("ix_hj212_command_mn"), "hj212_command", ["mn"], unique=False)
    op.create_index(op.f("ix_hj212_command_state"), "hj212_command", ["state"], unique=False)
    op.create_table(
        "hj212_pending_device",
        sa.Column("mn", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=True),
        sa.Column("st", sa.String(length=4), nullable=True),
        sa.Column("protocol", sa.String(length=8), nullable=True),
        sa.Column("pw_hash", sa.String(length=200), nullable=True),
        sa.Column("frames", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_hj212_pending_device_site_id_site"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("mn", name=op.f("pk_hj212_pending_device")),
    )


def downgrade() -> None:
    op.drop_table("hj212_pending_device")
    op.drop_index(op.f("ix_hj212_command_state"), table_name="hj212_command")
    op.drop_index(op.f("ix_hj212_command_mn"), table_name="hj212_command")
    op.drop_table("hj212_command")
    with op.batch_alter_table("hj212_device_state", schema=None) as batch_op:
        for name in ("last_refused_at", "last_refused_peer", "ip_refused"):
            batch_op.drop_column(name)
