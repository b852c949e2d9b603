"""Forecast: published daily forecasts (预报发布; HJ 633-2026: the next ≥ 3 days, published before 20:00).

``forecast_publication`` holds each publication (issue date, the run it was drafted from, who and when, note, the
publication it corrects); ``forecast_publication_day`` its AQI range and primary pollutant per area and day, beside
the run's own forecast.

Revision ID: 0019_forecast_publication
Revises: 0018_tracing_apportionment
Create Date: 2026-11-30 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_forecast_publication"
down_revision = "0018_tracing_apportionment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("supersedes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["forecast_run.id"],
            name=op.f("fk_forecast_publication_run_id_forecast_run"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["supersedes"],
            ["forecast_publication.id"],
            name=op.f("fk_forecast_publication_supersedes_forecast_publication"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_publication")),
    )
    op.create_index(op.f("ix_forecast_publication_issue_date"), "forecast_publication", ["issue_date"], unique=False)
    op.create_table(
        "forecast_publication_day",
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("lead", sa.Integer(), nullable=False),
        sa.Column("aqi_lo", sa.Integer(), nullable=False),
        sa.Column("aqi_hi", sa.Integer(), nullable=False),
        sa.Column("primary_pollutant", sa.String(length=32), nullable=True),
        sa.Column("model_aqi", sa.Float(), nullable=True),
        sa.Column("model_primary", sa.String(length=32), nullable=True),
        sa.Column("corrected", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "aqi_lo >= 0 AND aqi_lo <= aqi_hi AND aqi_hi <= 500", name=op.f("ck_forecast_publication_day_aqi_range")
        ),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["forecast_publication.id"],
            name=op.f("fk_forecast_publication_day_publication_id_forecast_publication"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("publication_id", "area_code", "day", name=op.f("pk_forecast_publication_day")),
    )


def downgrade() -> None:
    op.drop_table("forecast_publication_day")
    op.drop_index(op.f("ix_forecast_publication_issue_date"), table_name="forecast_publication")
    op.drop_table("forecast_publication")
