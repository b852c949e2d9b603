"""Monitoring tables: QA flags, hourly and daily AQI, dirty station-days, completeness, alarm rules and alarms,
sand/dust days, assessments and export jobs (monitoring.md §4, forecast.md §3.7, §4).

A branch of its own off the core revision (the runner upgrades to every head).

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = ("monitoring",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alarm_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_code", sa.String(length=64), server_default="*", nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("quiet_hours", sa.JSON(), nullable=True),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint("scope IN ('station','county','prefecture','global')", name=op.f("ck_alarm_rule_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_rule")),
    )
    op.create_index("ix_alarm_rule_scope", "alarm_rule", ["scope", "scope_code", "rule"], unique=False)
    op.create_table(
        "aqi_daily",
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_code", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("standard", sa.String(length=4), nullable=False),
        sa.Column("aqi", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("primary_pollutant", sa.String(length=64), nullable=True),
        sa.Column("iaqi_so2", sa.Integer(), nullable=True),
        sa.Column("iaqi_no2", sa.Integer(), nullable=True),
        sa.Column("iaqi_co", sa.Integer(), nullable=True),
        sa.Column("iaqi_o3", sa.Integer(), nullable=True),
        sa.Column("iaqi_o3_8h", sa.Integer(), nullable=True),
        sa.Column("iaqi_pm10", sa.Integer(), nullable=True),
        sa.Column("iaqi_pm25", sa.Integer(), nullable=True),
        sa.Column("c_so2", sa.Float(), nullable=True),
        sa.Column("c_no2", sa.Float(), nullable=True),
        sa.Column("c_co", sa.Float(), nullable=True),
        sa.Column("c_o3", sa.Float(), nullable=True),
        sa.Column("c_o3_8h", sa.Float(), nullable=True),
        sa.Column("c_pm10", sa.Float(), nullable=True),
        sa.Column("c_pm25", sa.Float(), nullable=True),
        sa.Column("missing_items", sa.String(length=64), nullable=True),
        sa.Column("n_members", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("aqi_published", sa.Integer(), nullable=True),
        sa.Column("published_match", sa.Boolean(), nullable=True),
        sa.Column("inputs_hash", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("target_kind", "target_code", "ts", "standard", name=op.f("pk_aqi_daily")),
    )
    op.create_table(
        "aqi_hourly",
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_code", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("standard", sa.String(length=4), nullable=False),
        sa.Column("aqi", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("primary_pollutant", sa.String(length=64), nullable=True),
        sa.Column("iaqi_so2", sa.Integer(), nullable=True),
        sa.Column("iaqi_no2", sa.Integer(), nullable=True),
        sa.Column("iaqi_co", sa.Integer(), nullable=True),
        sa.Column("iaqi_o3", sa.Integer(), nullable=True),
        sa.Column("iaqi_o3_8h", sa.Integer(), nullable=True),
        sa.Column("iaqi_pm10", sa.Integer(), nullable=True),
        sa.Column("iaqi_pm25", sa.Integer(), nullable=True),
        sa.Column("c_so2", sa.Float(), nullable=True),
        sa.Column("c_no2", sa.Float(), nullable=True),
        sa.Column("c_co", sa.Float(), nullable=True),
        sa.Column("c_o3", sa.Float(), nullable=True),
        sa.Column("c_o3_8h", sa.Float(), nullable=True),
        sa.Column("c_pm10", sa.Float(), nullable=True),
        sa.Column("c_pm25", sa.Float(), nullable=True),
        sa.Column("missing_items", sa.String(length=64), nullable=True),
        sa.Column("n_members", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("aqi_published", sa.Integer(), nullable=True),
        sa.Column("published_match", sa.Boolean(), nullable=True),
        sa.Column("inputs_hash", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("target_kind", "target_code", "ts", "standard", name=op.f("pk_aqi_hourly")),
    )
    op.create_table(
        "assessment",
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_code", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("dust_mode", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("limits_version", sa.String(length=8), nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint(
            "target_kind", "target_code", "period", "dust_mode", "metric", name=op.f("pk_assessment")
        ),
    )
    op.create_table(
        "dust_day",
        sa.Column("place_code", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), server_default="", nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.CheckConstraint("status IN ('official','candidate')", name=op.f("ck_dust_day_status")),
        sa.PrimaryKeyConstraint("place_code", "day", name=op.f("pk_dust_day")),
    )
    op.create_table(
        "export_job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), server_default="0", nullable=False),
        sa.Column("fmt", sa.String(length=8), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=400), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("link_expires_at", TS, nullable=True),
        sa.Column("delete_after", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_job")),
    )
    op.create_table(
        "aqi_dirty",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day_ts", sa.BigInteger(), nullable=False),
        sa.Column("marked_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_aqi_dirty_site_id_site"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "day_ts", name=op.f("pk_aqi_dirty")),
    )
    op.create_table(
        "completeness_day",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("valid", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("maintenance", sa.Integer(), nullable=False),
        sa.Column("feed_gap", sa.Integer(), nullable=False),
        sa.Column("no_data", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("day_status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_completeness_day_site_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("site_id", "parameter", "day", name=op.f("pk_completeness_day")),
    )
    op.create_table(
        "alarm",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_code", sa.String(length=64), nullable=False),
        sa.Column("pollutant", sa.String(length=32), server_default="-", nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("peak_value", sa.Float(), nullable=True),
        sa.Column("peak_time", TS, nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("below_hours", sa.Integer(), server_default="0", nullable=False),
        sa.Column("notified_severity", sa.String(length=16), nullable=True),
        sa.Column("held", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("ack_by", sa.String(length=64), nullable=True),
        sa.Column("ack_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("param_version", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"], name=op.f("fk_alarm_finding_id_finding")),
        sa.ForeignKeyConstraint(["parent_id"], ["alarm.id"], name=op.f("fk_alarm_parent_id_alarm")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm")),
    )
    op.create_index(op.f("ix_alarm_dedupe_key"), "alarm", ["dedupe_key"], unique=False)
    op.create_index(op.f("ix_alarm_finding_id"), "alarm", ["finding_id"], unique=False)
    op.create_table(
        "qa_flag",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("param_version", sa.String(length=32), server_default="default", nullable=False),
        sa.Column("set_by", sa.String(length=64), server_default="qa", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("set_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_qa_flag_series_id_series"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("series_id", "ts", name=op.f("pk_qa_flag")),
    )


def downgrade() -> None:
    op.drop_table("qa_flag")
    op.drop_index(op.f("ix_alarm_finding_id"), table_name="alarm")
    op.drop_index(op.f("ix_alarm_dedupe_key"), table_name="alarm")
    op.drop_table("alarm")
    op.drop_table("completeness_day")
    op.drop_table("aqi_dirty")
    op.drop_table("export_job")
    op.drop_table("dust_day")
    op.drop_table("assessment")
    op.drop_table("aqi_hourly")
    op.drop_table("aqi_daily")
    op.drop_index("ix_alarm_rule_scope", table_name="alarm_rule")
    op.drop_table("alarm_rule")
