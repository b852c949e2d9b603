"""HJ 212 gateway: write-ahead-log identity and exact bytes on raw_frame, the loader's checkpoint, device sessions
(hj212.md §3.9, §4.2).

A branch of its own off the core revision (the runner upgrades to every head).

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-29 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = ("hj212",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("raw_frame", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gateway_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("conn_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("direction", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("warnings", sa.Text(), nullable=True))
        batch_op.create_index("uq_raw_frame_gateway_id_seq", ["gateway_id", "seq"], unique=True)
        batch_op.create_index("ix_raw_frame_qn", ["qn"], unique=False)
    op.create_table(
        "hj212_wal_checkpoint",
        sa.Column("gateway_id", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("gateway_id", name=op.f("pk_hj212_wal_checkpoint")),
    )
    op.create_table(
        "hj212_device_state",
        sa.Column("mn", sa.String(length=32), nullable=False),
        sa.Column("registered", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("gateway_id", sa.String(length=32), nullable=True),
        sa.Column("online", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=True),
        sa.Column("connected_at", TS, nullable=True),
        sa.Column("disconnected_at", TS, nullable=True),
        sa.Column("disconnect_reason", sa.String(length=32), nullable=True),
        sa.Column("last_frame_at", TS, nullable=True),
        sa.Column("last_cn", sa.String(length=8), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("frames_in", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("frames_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("frames_out", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("mn", name=op.f("pk_hj212_device_state")),
    )


def downgrade() -> None:
    op.drop_table("hj212_device_state")
    op.drop_table("hj212_wal_checkpoint")
    with op.batch_alter_table("raw_frame", schema=None) as batch_op:
        batch_op.drop_index("ix_raw_frame_qn")
        batch_op.drop_index("uq_raw_frame_gateway_id_seq")
        for name in ("warnings", "data", "direction", "conn_id", "seq", "gateway_id"):
            batch_op.drop_column(name)
