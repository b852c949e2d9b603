"""Core tables of architecture.md §4 (registry, series, raw frames, findings, users, audit, job runs).

On PostgreSQL ``observation`` is range-partitioned by month on ``ts`` (partitions are created on demand by
``Store.ensure_partitions``) and carries a BRIN index on ``ts``.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 00:43:45.852260
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grid_level",
        sa.Column("level_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=64), server_default="", nullable=False),
        sa.Column("has_geometry", sa.Boolean(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("level_no", name=op.f("pk_grid_level")),
        sa.UniqueConstraint("code", name=op.f("uq_grid_level_code")),
    )
    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
    )
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_run_job"), ["job"], unique=False)

    op.create_table(
        "observation",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("flag", sa.String(length=4), server_default="N", nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("series_id", "ts", name=op.f("pk_observation")),
        postgresql_partition_by="RANGE (ts)",
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_observation_ts_brin ON observation USING brin (ts)")
    op.create_table(
        "observation_block",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "block", name=op.f("pk_observation_block")),
    )
    op.create_table(
        "observation_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("flag", sa.String(length=4), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_revision")),
    )
    with op.batch_alter_table("observation_revision", schema=None) as batch_op:
        batch_op.create_index("ix_observation_revision_series_ts", ["series_id", "ts"], unique=False)

    op.create_table(
        "place",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('prefecture','county','township','park','grid_cell','hotspot_cell','special')",
            name=op.f("ck_place_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["place.id"], name=op.f("fk_place_parent_id_place"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place")),
        sa.UniqueConstraint("code", name=op.f("uq_place_code")),
    )
    with op.batch_alter_table("place", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_place_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "raw_frame",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=True),
        sa.Column("mn", sa.String(length=32), nullable=True),
        sa.Column("cn", sa.String(length=8), nullable=True),
        sa.Column("qn", sa.String(length=24), nullable=True),
        sa.Column("crc", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_frame")),
    )
    with op.batch_alter_table("raw_frame", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_raw_frame_mn"), ["mn"], unique=False)
        batch_op.create_index(batch_op.f("ix_raw_frame_received_at"), ["received_at"], unique=False)

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("duty", sa.String(length=32), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["place_id"], ["place.id"], name=op.f("fk_person_place_id_place")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_place_id"), ["place_id"], unique=False)

    op.create_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("simulated", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("attrs", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["site.id"], name=op.f("fk_site_parent_id_site"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["place_id"], ["place.id"], name=op.f("fk_site_place_id_place")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
        sa.UniqueConstraint("kind", "code", name=op.f("uq_site_kind_code")),
    )
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_site_place_id"), ["place_id"], unique=False)

    op.create_table(
        "device",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("mn", sa.String(length=32), nullable=False),
        sa.Column("pw_hash", sa.String(length=200), nullable=False),
        sa.Column("protocol", sa.String(length=8), server_default="2017", nullable=False),
        sa.Column("st", sa.String(length=4), nullable=True),
        sa.Column("units", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_device_site_id_site"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_device")),
        sa.UniqueConstraint("mn", name=op.f("uq_device_mn")),
    )
    op.create_table(
        "enterprise",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("sector", sa.String(length=64), nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=True),
        sa.Column("key_unit", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_enterprise_site_id_site"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_enterprise")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_enterprise_credit_code")),
    )
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("subject_site_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_by", sa.String(length=64), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open','acknowledged','dispatched','resolved','dismissed')",
            name=op.f("ck_finding_status"),
        ),
        sa.ForeignKeyConstraint(["place_id"], ["place.id"], name=op.f("fk_finding_place_id_place")),
        sa.ForeignKeyConstraint(["subject_site_id"], ["site.id"], name=op.f("fk_finding_subject_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding")),
    )
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding_dedupe_key"), ["dedupe_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_finding_detected_at"), ["detected_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_finding_kind"), ["kind"], unique=False)
        batch_op.create_index("ix_finding_kind_status", ["kind", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_finding_place_id"), ["place_id"], unique=False)

    op.create_table(
        "meter",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("equipment", sa.String(length=128), server_default="", nullable=False),
        sa.Column("paired_site_id", sa.Integer(), nullable=True),
        sa.Column("rated_kw", sa.Float(), nullable=True),
        sa.CheckConstraint("role IN ('production','treatment','total')", name=op.f("ck_meter_role")),
        sa.ForeignKeyConstraint(
            ["paired_site_id"], ["site.id"], name=op.f("fk_meter_paired_site_id_site"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_meter_site_id_site"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_meter")),
    )
    op.create_table(
        "outlet",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("medium", sa.String(length=8), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("o2_reference", sa.Float(), nullable=True),
        sa.Column("height_m", sa.Float(), nullable=True),
        sa.CheckConstraint("medium IN ('gas','water')", name=op.f("ck_outlet_medium")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_outlet_site_id_site"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_outlet")),
    )
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column("resolution", sa.String(length=8), nullable=False),
        sa.Column("unit", sa.String(length=16), server_default="", nullable=False),
        sa.CheckConstraint("resolution IN ('rt','min','hour','day')", name=op.f("ck_series_resolution")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_series_site_id_site"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
        sa.UniqueConstraint("site_id", "parameter", "resolution", name=op.f("uq_series_site_id_parameter_resolution")),
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("pw_hash", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=64), server_default="", nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("scope_place_id", sa.Integer(), nullable=True),
        sa.Column("scope_enterprise_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("must_change_password", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_user_person_id_person")),
        sa.ForeignKeyConstraint(["scope_enterprise_id"], ["site.id"], name=op.f("fk_user_scope_enterprise_id_site")),
        sa.ForeignKeyConstraint(["scope_place_id"], ["place.id"], name=op.f("fk_user_scope_place_id_place")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("login", name=op.f("uq_user_login")),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("login", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_audit_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_at"), ["at"], unique=False)

    op.create_table(
        "latest",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("first_ts", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("flag", sa.String(length=4), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_latest_series_id_series"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("series_id", name=op.f("pk_latest")),
    )


def downgrade() -> None:
    op.drop_table("latest")
    op.drop_table("observation_block")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_at"))

    op.drop_table("audit")
    op.drop_table("user")
    op.drop_table("series")
    op.drop_table("outlet")
    op.drop_table("meter")
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_place_id"))
        batch_op.drop_index("ix_finding_kind_status")
        batch_op.drop_index(batch_op.f("ix_finding_kind"))
        batch_op.drop_index(batch_op.f("ix_finding_detected_at"))
        batch_op.drop_index(batch_op.f("ix_finding_dedupe_key"))

    op.drop_table("finding")
    op.drop_table("enterprise")
    op.drop_table("device")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_place_id"))
        batch_op.drop_index(batch_op.f("ix_site_parent_id"))

    op.drop_table("site")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_place_id"))

    op.drop_table("person")
    with op.batch_alter_table("raw_frame", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_raw_frame_received_at"))
        batch_op.drop_index(batch_op.f("ix_raw_frame_mn"))

    op.drop_table("raw_frame")
    with op.batch_alter_table("place", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_place_parent_id"))

    op.drop_table("place")
    with op.batch_alter_table("observation_revision", schema=None) as batch_op:
        batch_op.drop_index("ix_observation_revision_series_ts")

    op.drop_table("observation_revision")
    op.drop_table("observation")
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_run_job"))

    op.drop_table("job_run")
    op.drop_table("grid_level")
