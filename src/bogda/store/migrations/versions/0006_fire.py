"""Satellite fire points: source files, detections with flags, events, alerts, mask sites, verifications
(fire.md §4).

A branch of its own off the core revision (the runner upgrades to every head).

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-29 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0001"
branch_labels = ("fire",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fire_source_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("provider", sa.String(length=32), server_default="file", nullable=False),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("request", sa.Text(), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("raw_ref", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("n_rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_ok", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_bad", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_duplicate", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_stored", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_outside_bbox", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.JSON(), nullable=False),
        sa.Column("unmapped", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["job_run.id"], name=op.f("fk_fire_source_file_run_id_job_run")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fire_source_file")),
    )
    op.create_index(op.f("ix_fire_source_file_sha256"), "fire_source_file", ["sha256"], unique=False)
    op.create_table(
        "fire_detection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dkey", sa.String(length=96), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=True),
        sa.Column("source_file", sa.String(length=300), nullable=True),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("sensor", sa.String(length=8), nullable=True),
        sa.Column("satellite", sa.String(length=32), nullable=True),
        sa.Column("satellite_raw", sa.String(length=32), nullable=True),
        sa.Column("acq_time_utc", TS, nullable=False),
        sa.Column("date_bjt", sa.Date(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("scan_km", sa.Float(), nullable=True),
        sa.Column("track_km", sa.Float(), nullable=True),
        sa.Column("pixel_area_km2", sa.Float(), nullable=True),
        sa.Column("bt_mir_k", sa.Float(), nullable=True),
        sa.Column("bt_tir_k", sa.Float(), nullable=True),
        sa.Column("frp_mw", sa.Float(), nullable=True),
        sa.Column("frp_raw", sa.Float(), nullable=True),
        sa.Column("frp_unit", sa.String(length=16), nullable=True),
        sa.Column("confidence_raw", sa.String(length=16), nullable=True),
        sa.Column("confidence_class", sa.String(length=8), nullable=True),
        sa.Column("daynight", sa.String(length=1), nullable=True),
        sa.Column("version", sa.String(length=16), nullable=True),
        sa.Column("processing", sa.String(length=4), nullable=True),
        sa.Column("firms_type", sa.Integer(), nullable=True),
        sa.Column("persistent_anomaly", sa.Integer(), nullable=True),
        sa.Column("hot_group", sa.BigInteger(), nullable=True),
        sa.Column("qf", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("county_code", sa.String(length=12), nullable=True),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("in_bbox", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("in_area", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("spurious", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("masked_registry", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("masked_registry_ref", sa.String(length=64), nullable=True),
        sa.Column("masked_learned", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("masked_learned_ref", sa.String(length=64), nullable=True),
        sa.Column("masked_external", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("low_confidence", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("outside_area", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("masked", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("screened", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("verified_false", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("flag_reasons", sa.JSON(), nullable=False),
        sa.Column("cluster_key", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("ingested_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["place_id"], ["place.id"], name=op.f("fk_fire_detection_place_id_place")),
        sa.ForeignKeyConstraint(["run_id"], ["job_run.id"], name=op.f("fk_fire_detection_run_id_job_run")),
        sa.ForeignKeyConstraint(
            ["source_file_id"], ["fire_source_file.id"], name=op.f("fk_fire_detection_source_file_id_fire_source_file")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fire_detection")),
        sa.UniqueConstraint("dkey", name=op.f("uq_fire_detection_dkey")),
    )
    op.create_index(op.f("ix_fire_detection_acq_time_utc"), "fire_detection", ["acq_time_utc"], unique=False)
    op.create_index(op.f("ix_fire_detection_county_code"), "fire_detection", ["county_code"], unique=False)
    op.create_index(op.f("ix_fire_detection_date_bjt"), "fire_detection", ["date_bjt"], unique=False)
    op.create_index(op.f("ix_fire_detection_event_id"), "fire_detection", ["event_id"], unique=False)
    op.create_index(op.f("ix_fire_detection_source_file_id"), "fire_detection", ["source_file_id"], unique=False)
    op.create_table(
        "fire_mask_site",
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("datum_in", sa.String(length=8), nullable=True),
        sa.Column("radius_km", sa.Float(), server_default="0", nullable=False),
        sa.Column("buffer_km", sa.Float(), nullable=True),
        sa.Column("origin", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("valid_from", TS, nullable=True),
        sa.Column("valid_to", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("edited_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint("status IN ('active','candidate','retired')", name=op.f("ck_fire_mask_site_status")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["site.id"], name=op.f("fk_fire_mask_site_enterprise_id_site")),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_fire_mask_site")),
    )
    op.create_table(
        "fire_alert",
        sa.Column("alert_id", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("suppressed_by", sa.String(length=48), nullable=True),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"], name=op.f("fk_fire_alert_finding_id_finding")),
        sa.ForeignKeyConstraint(["run_id"], ["job_run.id"], name=op.f("fk_fire_alert_run_id_job_run")),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_fire_alert")),
    )
    op.create_index(op.f("ix_fire_alert_created_at"), "fire_alert", ["created_at"], unique=False)
    op.create_index(op.f("ix_fire_alert_event_id"), "fire_alert", ["event_id"], unique=False)
    op.create_table(
        "fire_event",
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("merged_into", sa.String(length=32), nullable=True),
        sa.Column("first_seen_utc", TS, nullable=False),
        sa.Column("last_seen_utc", TS, nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("n_detections", sa.Integer(), nullable=True),
        sa.Column("n_clusters", sa.Integer(), nullable=True),
        sa.Column("satellites", sa.JSON(), nullable=False),
        sa.Column("max_frp", sa.Float(), nullable=True),
        sa.Column("county_code", sa.String(length=12), nullable=True),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("class", sa.String(length=24), server_default="unknown", nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("verified_at", TS, nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"], name=op.f("fk_fire_event_finding_id_finding")),
        sa.ForeignKeyConstraint(["place_id"], ["place.id"], name=op.f("fk_fire_event_place_id_place")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_fire_event")),
    )
    op.create_index(op.f("ix_fire_event_county_code"), "fire_event", ["county_code"], unique=False)
    op.create_index(op.f("ix_fire_event_first_seen_utc"), "fire_event", ["first_seen_utc"], unique=False)
    op.create_table(
        "fire_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", TS, nullable=False),
        sa.Column("verified_by", sa.String(length=64), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["fire_event.event_id"], name=op.f("fk_fire_verification_event_id_fire_event")
        ),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"], name=op.f("fk_fire_verification_finding_id_finding")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fire_verification")),
        sa.UniqueConstraint(
            "event_id",
            "task_id",
            "verdict",
            "verified_at",
            name=op.f("uq_fire_verification_event_id_task_id_verdict_verified_at"),
        ),
    )
    op.create_index(op.f("ix_fire_verification_event_id"), "fire_verification", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_table("fire_verification")
    op.drop_table("fire_event")
    op.drop_table("fire_alert")
    op.drop_table("fire_mask_site")
    op.drop_table("fire_detection")
    op.drop_table("fire_source_file")
