"""Core tables of bogda (architecture.md §4), in SQLAlchemy 2 Core.

The same metadata serves SQLite (embedded default) and PostgreSQL 15 (production). Alembic migrations in
``store/migrations`` create them; ``metadata`` here is the reference the migrations are checked against.

Deliberate departure from architecture §4, recorded here: ``observation.ts`` (and ``latest.ts``,
``observation_revision.ts``) is **integer Unix seconds, UTC** rather than a timestamp column. It is exact and
timezone-free, 8 bytes, the fastest key on both engines for the hot write and read paths (a year of hourly data for
100 stations × 6 parameters reads into a frame in well under 3 s), and on PostgreSQL it still range-partitions by
month and carries a BRIN index. The series API converts to and from aware UTC datetimes at its boundary, so no
caller sees epoch numbers. Every other time column is a timezone-aware timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

naming = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=naming)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both engines.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are stored as naive UTC text and made
    aware again on the way out. A naive datetime is refused on the way in: it is ambiguous (Beijing or UTC?).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware UTC times (bogda.timeutil.as_utc)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UtcDateTime()

# --- registry -----------------------------------------------------------------------------------------------

grid_level = Table(
    "grid_level",
    metadata,
    Column("level_no", Integer, primary_key=True, autoincrement=False),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("name_en", String(64), nullable=False, server_default=""),
    Column("has_geometry", Boolean, nullable=False, server_default="1"),
)

place = Table(
    "place",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("name_en", String(128)),
    Column("level", Integer, nullable=False),
    Column("parent_id", Integer, ForeignKey("place.id", ondelete="RESTRICT"), index=True),
    Column("kind", String(32), nullable=False),
    Column("geometry", JSON),
    Column("lon", Float),
    Column("lat", Float),
    Column("attrs", JSON, nullable=False, default=dict),
    CheckConstraint(
        "kind IN ('prefecture','county','township','park','grid_cell','hotspot_cell','special')", name="kind"
    ),
)

site = Table(
    "site",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("lon", Float),
    Column("lat", Float),
    Column("place_id", Integer, ForeignKey("place.id"), index=True),
    Column("parent_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), index=True),
    Column("simulated", Boolean, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("attrs", JSON, nullable=False, default=dict),
    UniqueConstraint("kind", "code"),
)

enterprise = Table(
    "enterprise",
    metadata,
    Column("site_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
    Column("credit_code", String(18), nullable=False, unique=True),
    Column("sector", String(64), nullable=False),
    Column("grade", String(8)),
    Column("key_unit", Boolean, nullable=False, server_default="0"),
)

outlet = Table(
    "outlet",
    metadata,
    Column("site_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
    Column("medium", String(8), nullable=False),  # gas | water
    Column("limits", JSON, nullable=False, default=dict),  # {parameter: {"limit": v, "unit": u, "basis": …}}
    Column("o2_reference", Float),
    Column("height_m", Float),
    CheckConstraint("medium IN ('gas','water')", name="medium"),
)

device = Table(
    "device",
    metadata,
    Column("site_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
    Column("mn", String(32), nullable=False, unique=True),
    Column("pw_hash", String(200), nullable=False),
    Column("protocol", String(8), nullable=False, server_default="2017"),
    Column("st", String(4)),
    Column("units", JSON, nullable=False, default=dict),  # {parameter: unit}: the protocol carries none
)

meter = Table(
    "meter",
    metadata,
    Column("site_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("equipment", String(128), nullable=False, server_default=""),
    Column("paired_site_id", Integer, ForeignKey("site.id", ondelete="SET NULL")),
    Column("rated_kw", Float),
    CheckConstraint("role IN ('production','treatment','total')", name="role"),
)

person = Table(
    "person",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("phone", String(32)),
    Column("duty", String(32), nullable=False),  # grid_member, grid_chief, dispatcher, enforcement_officer …
    Column("place_id", Integer, ForeignKey("place.id"), index=True),
    Column("attrs", JSON, nullable=False, default=dict),
)

user = Table(
    "user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("pw_hash", String(200), nullable=False),
    Column("display_name", String(64), nullable=False, server_default=""),
    Column("roles", JSON, nullable=False, default=list),
    Column("scope_place_id", Integer, ForeignKey("place.id")),
    Column("scope_enterprise_id", Integer, ForeignKey("site.id")),
    Column("person_id", Integer, ForeignKey("person.id")),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("must_change_password", Boolean, nullable=False, server_default="0"),
    Column("created_at", TS, nullable=False),
    Column("password_changed_at", TS),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", TS, nullable=False, index=True),
    Column("user_id", Integer, ForeignKey("user.id")),
    Column("login", String(64)),
    Column("action", String(64), nullable=False),
    Column("target", String(128)),
    Column("detail", JSON, nullable=False, default=dict),
    Column("peer", String(64)),
)

# --- series ---------------------------------------------------------------------------------------------------

series = Table(
    "series",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
    Column("parameter", String(32), nullable=False),
    Column("resolution", String(8), nullable=False),
    Column("unit", String(16), nullable=False, server_default=""),
    UniqueConstraint("site_id", "parameter", "resolution"),
    CheckConstraint("resolution IN ('rt','min','hour','day')", name="resolution"),
)

observation = Table(
    "observation",
    metadata,
    Column("series_id", Integer, nullable=False),
    Column("ts", BigInteger, nullable=False),  # Unix seconds UTC, interval start (see module docstring)
    Column("value", Float),
    Column("flag", String(4), nullable=False, server_default="N"),
    Column("source_id", BigInteger),
    PrimaryKeyConstraint("series_id", "ts"),
    postgresql_partition_by="RANGE (ts)",
)

observation_revision = Table(
    "observation_revision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("series_id", Integer, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float),
    Column("flag", String(4), nullable=False),
    Column("source_id", BigInteger),
    Column("replaced_at", TS, nullable=False),
    Column("reason", String(200), nullable=False),
    Index("ix_observation_revision_series_ts", "series_id", "ts"),
)

observation_block = Table(
    "observation_block",
    metadata,
    Column("series_id", Integer, nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("series_id", "block"),
)
"""Read cache of sealed time blocks of one series, packed column-wise (SQLite only; see ``store/blocks.py``)."""

latest = Table(
    "latest",
    metadata,
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("first_ts", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float),
    Column("flag", String(4), nullable=False),
    Column("received_at", TS, nullable=False),
)

raw_frame = Table(
    "raw_frame",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("received_at", TS, nullable=False, index=True),
    Column("peer", String(64)),
    Column("mn", String(32), index=True),
    Column("cn", String(8)),
    Column("qn", String(24)),
    Column("crc", String(16)),  # ok | bad | vendor:<name> | missing
    Column("status", String(16), nullable=False),  # parsed | rejected | refused
    Column("error", Text),
    Column("text", Text, nullable=False),
)

# --- problem list ---------------------------------------------------------------------------------------------

finding = Table(
    "finding",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False, index=True),
    Column("severity", String(16), nullable=False),
    Column("detected_at", TS, nullable=False, index=True),
    Column("first_seen", TS, nullable=False),
    Column("last_seen", TS, nullable=False),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("place_id", Integer, ForeignKey("place.id"), index=True),
    Column("lon", Float),
    Column("lat", Float),
    Column("subject_site_id", Integer, ForeignKey("site.id")),
    Column("title", String(300), nullable=False),
    Column("evidence", JSON, nullable=False, default=dict),
    Column("dedupe_key", String(200), nullable=False, index=True),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("status_reason", Text),
    Column("status_by", String(64)),
    Column("status_at", TS),
    Column("cooldown_until", TS),
    Column("updated_at", TS, nullable=False),
    CheckConstraint("status IN ('open','acknowledged','dispatched','resolved','dismissed')", name="status"),
    Index("ix_finding_kind_status", "kind", "status"),
)

job_run = Table(
    "job_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(64), nullable=False, index=True),
    Column("scheduled_at", TS),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("status", String(16), nullable=False),  # running | ok | failed
    Column("rows", Integer),
    Column("error", Text),
)
