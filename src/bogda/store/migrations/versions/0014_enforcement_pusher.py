"""Enforcement: the pusher-machine meter of a coke-oven battery (P02 pushes from the pusher's power signature).

Continues the enforcement branch after ``0013_enforcement_params``.

Revision ID: 0014_enforcement_pusher
Revises: 0013_enforcement_params
Create Date: 2026-11-29 04:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_enforcement_pusher"
down_revision = "0013_enforcement_params"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("coke_battery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pusher_meter", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("coke_battery", schema=None) as batch_op:
        batch_op.drop_column("pusher_meter")
