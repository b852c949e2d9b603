"""Forecast: the configuration text of each stored score (forecast.md §4 ``backtest_score``).

Scores were keyed by a hash of their configuration only, so a warning check stored under another rule set or merge
gap could not be told apart from the default one in the console. ``config`` keeps the text the hash is taken of
(empty for rows stored before).

Revision ID: 0021_backtest_score_config
Revises: 0020_nwp_run
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_backtest_score_config"
down_revision = "0020_nwp_run"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0008 creates the forecast tables from the current definitions, so a new database has the column already
    if "config" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("backtest_score")}:
        return
    with op.batch_alter_table("backtest_score") as batch:
        batch.add_column(sa.Column("config", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("backtest_score") as batch:
        batch.drop_column("config")
