"""Forecast: the observed station weather each run's models read (forecast.md §3.4 "says which it used").

Since the models learn from the stations' own weather (twenty-third session) a run's ``weather_mode`` (none | nwp)
no longer tells what they read; ``observed_weather`` lists the variables (null for runs stored before).

Revision ID: 0022_run_observed_weather
Revises: 0021_backtest_score_config
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_run_observed_weather"
down_revision = "0021_backtest_score_config"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0008 creates the forecast tables from the current definitions, so a new database has the column already
    if "observed_weather" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("forecast_run")}:
        return
    with op.batch_alter_table("forecast_run") as batch:
        batch.add_column(sa.Column("observed_weather", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast_run") as batch:
        batch.drop_column("observed_weather")
