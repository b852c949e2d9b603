"""Satellite fire points: the straw-burning bulletin points (fire.md §3.8, §4 ``bulletin_fire_point``).

Revision ID: 0006b_fire
Revises: 0006
Create Date: 2026-11-29 04:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006b_fire"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bulletin_fire_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulletin_id", sa.String(length=64), nullable=False),
        sa.Column("source_file", sa.String(length=300), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("date_bjt", sa.Date(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("county", sa.String(length=64), nullable=True),
        sa.Column("township", sa.String(length=64), nullable=True),
        sa.Column("satellite_text", sa.String(length=64), nullable=True),
        sa.Column("county_code", sa.String(length=12), nullable=True),
        sa.Column("matched_detection_id", sa.Integer(), nullable=True),
        sa.Column("match_km", sa.Float(), nullable=True),
        sa.Column("imported_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["matched_detection_id"],
            ["fire_detection.id"],
            name=op.f("fk_bulletin_fire_point_matched_detection_id_fire_detection"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletin_fire_point")),
        sa.UniqueConstraint("bulletin_id", "line_no", name=op.f("uq_bulletin_fire_point_bulletin_id_line_no")),
    )
    op.create_index(op.f("ix_bulletin_fire_point_date_bjt"), "bulletin_fire_point", ["date_bjt"], unique=False)
    op.create_index(op.f("ix_bulletin_fire_point_county_code"), "bulletin_fire_point", ["county_code"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bulletin_fire_point_county_code"), table_name="bulletin_fire_point")
    op.drop_index(op.f("ix_bulletin_fire_point_date_bjt"), table_name="bulletin_fire_point")
    op.drop_table("bulletin_fire_point")
