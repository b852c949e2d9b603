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
    Date,
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
    sqlite_with_rowid=False,
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
"""Read cache of sealed time blocks of one series, packed column-wise (both engines; see ``store/blocks.py``)."""

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

# --- grid: closed-loop tasks (governance.md §3.1–§3.6, §4; migration 0002) -------------------------------------

TASK_STATES = ("NEW", "DISPATCHED", "ACCEPTED", "HANDLING", "REVIEW", "SUSPENDED", "CLOSED", "REOPENED", "CANCELLED")

task = Table(
    "task",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False, index=True),
    Column("category", String(32), nullable=False),
    Column("severity", String(4), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("place_id", Integer, ForeignKey("place.id"), index=True),  # owner grid
    Column("routed_place_id", Integer, ForeignKey("place.id")),  # what routing chose (override is logged)
    Column("supervising_place_id", Integer, ForeignKey("place.id")),  # 提级督办: the place that supervises
    Column("finding_id", Integer, ForeignKey("finding.id")),  # the original finding
    Column("enterprise_id", Integer, ForeignKey("site.id"), index=True),
    Column("lon", Float),
    Column("lat", Float),
    Column("title", String(300), nullable=False),
    Column("measures", Text),
    Column("verdict", String(16)),  # confirmed | not_confirmed
    Column("resume_state", String(16)),  # where SUSPENDED resumes to
    Column("repeat_of", Integer, ForeignKey("task.id")),
    Column("repeat_count", Integer, nullable=False, server_default="0"),
    Column("rework_count", Integer, nullable=False, server_default="0"),
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    Column("card", String(8), nullable=False, server_default="none"),
    Column("overdue", Boolean, nullable=False, server_default="0"),
    Column("outside_jurisdiction", Boolean, nullable=False, server_default="0"),
    Column("visible_to_enterprise", Boolean, nullable=False, server_default="0"),
    Column("sla_key", String(64)),
    Column("created_by", Integer, ForeignKey("user.id")),
    Column("created_at", TS, nullable=False),
    Column("started_at", TS),  # start of the SLA clock (first dispatch of the current cycle)
    Column("dispatched_at", TS),
    Column("signed_at", TS),
    Column("confirmed_at", TS),
    Column("feedback_at", TS),
    Column("feedback_by", Integer, ForeignKey("user.id")),
    Column("reviewed_at", TS),
    Column("closed_at", TS),
    Column("cancelled_at", TS),
    Column("sign_due", TS),
    Column("site_due", TS),
    Column("feedback_due", TS),
    Column("close_due", TS, index=True),
    Column("case_id", String(64)),
    Column("petition_id", String(64)),
    Column("updated_at", TS, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint(
        "state IN ('NEW','DISPATCHED','ACCEPTED','HANDLING','REVIEW','SUSPENDED','CLOSED','REOPENED','CANCELLED')",
        name="state",
    ),
    CheckConstraint("severity IN ('P1','P2','P3','P4')", name="severity"),
    CheckConstraint("card IN ('none','blue','yellow','red')", name="card"),
)

task_event = Table(
    "task_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, ForeignKey("task.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("event", String(32), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("actor_id", Integer, ForeignKey("user.id")),
    Column("actor_login", String(64)),  # "system" for the scheduler
    Column("at", TS, nullable=False, index=True),
    Column("comment", Text),
    Column("attachments", JSON, nullable=False, default=list),  # evidence ids
    Column("detail", JSON, nullable=False, default=dict),  # due times, severity, counters … for replay
    UniqueConstraint("task_id", "seq"),
)
"""Append-only: state and KPIs are rebuilt from it as of any date (governance §3.2)."""

task_finding = Table(
    "task_finding",
    metadata,
    Column("task_id", Integer, ForeignKey("task.id", ondelete="CASCADE"), nullable=False),
    Column("finding_id", Integer, ForeignKey("finding.id"), nullable=False, index=True),
    Column("attached_at", TS, nullable=False),
    Column("role", String(16), nullable=False),  # original | duplicate | relapse
    PrimaryKeyConstraint("task_id", "finding_id"),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, ForeignKey("task.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("stage", String(16), nullable=False),  # site | before | after
    Column("content_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("path", String(300), nullable=False),  # relative to the data directory
    Column("original_name", String(200)),
    Column("taken_at", TS),
    Column("lon", Float),  # WGS-84 after conversion
    Column("lat", Float),
    Column("coord_sys", String(8)),  # what the photo said: wgs84 | gcj02 | bd09
    Column("device", String(128)),
    Column("flags", JSON, nullable=False, default=list),
    Column("passed", Boolean, nullable=False),
    Column("uploader_id", Integer, ForeignKey("user.id")),
    Column("uploaded_at", TS, nullable=False),
)

sla_rule = Table(
    "sla_rule",
    metadata,
    Column("source", String(32), nullable=False),  # or "*"
    Column("severity", String(4), nullable=False),  # or "*"
    Column("spec", JSON, nullable=False),
    Column("updated_by", String(64)),
    Column("updated_at", TS, nullable=False),
    PrimaryKeyConstraint("source", "severity"),
)
"""Overrides of the default SLA table (``bogda.grid.sla.DEFAULT_RULES``), per source × severity."""

holiday = Table(
    "holiday",
    metadata,
    Column("day", Date, primary_key=True),
    Column("kind", String(8), nullable=False),  # off | work (调休 working weekend)
    Column("name", String(64), nullable=False, server_default=""),
    CheckConstraint("kind IN ('off','work')", name="kind"),
)
"""Edits of the shipped holiday table (``bogda/data/holidays_cn.csv``, :mod:`bogda.holidays`); a row here wins for
its day."""

user_capability = Table(
    "user_capability",
    metadata,
    Column("user_id", Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    Column("capability", String(32), nullable=False),  # chief | ledger_clerk | warning_issuer
    PrimaryKeyConstraint("user_id", "capability"),
)

user_place = Table(
    "user_place",
    metadata,
    Column("user_id", Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    Column("place_id", Integer, ForeignKey("place.id"), nullable=False),
    PrimaryKeyConstraint("user_id", "place_id"),
)
"""Further grid places of a grid member (besides ``user.scope_place_id``), governance §3.12."""

# --- monitoring: QA flags, AQI tables, completeness, alarms, dust days, assessments, exports -------------------
# (monitoring.md §4, forecast.md §3.7; migration 0003). ``ts`` columns are Unix seconds UTC of the interval start,
# as in ``observation``; derived tables are recomputable from observations for any window.

qa_flag = Table(
    "qa_flag",
    metadata,
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("severity", String(16), nullable=False),  # suspect | invalid | maintenance | valid (a person's override)
    Column("rule", String(200), nullable=False),  # comma-separated QA rules, or "manual"
    Column("param_version", String(32), nullable=False, server_default="default"),
    Column("set_by", String(64), nullable=False, server_default="qa"),  # "qa" or the login of a person
    Column("reason", Text),
    Column("set_at", TS, nullable=False),
    PrimaryKeyConstraint("series_id", "ts"),
)
"""QA verdict of flagged observations only (valid values have no row); rows set by a person win over QA re-runs."""


def _aqi_columns() -> list[Column]:
    items = ("so2", "no2", "co", "o3", "o3_8h", "pm10", "pm25")
    return [
        Column("target_kind", String(16), nullable=False),  # station | county | park | prefecture | special
        Column("target_code", String(64), nullable=False),
        Column("ts", BigInteger, nullable=False),
        Column("standard", String(4), nullable=False),  # 2012 | 2026
        Column("aqi", Integer),
        Column("level", Integer, nullable=False, server_default="0"),
        Column("primary_pollutant", String(64)),
        *[Column(f"iaqi_{i}", Integer) for i in items],
        *[Column(f"c_{i}", Float) for i in items],
        Column("missing_items", String(64)),
        Column("n_members", Integer, nullable=False, server_default="1"),
        Column("status", String(16), nullable=False),  # complete | partial | publishable | no_data | no_station
        Column("aqi_published", Integer),
        Column("published_match", Boolean),
        Column("inputs_hash", String(16), nullable=False),
        PrimaryKeyConstraint("target_kind", "target_code", "ts", "standard"),
    ]


aqi_hourly = Table("aqi_hourly", metadata, *_aqi_columns())
"""Real-time AQI per station and area (HJ 633 real-time rules), monitoring.md §3.3."""

aqi_daily = Table("aqi_daily", metadata, *_aqi_columns())
"""Daily AQI per station and area (HJ 633 daily rules; ts = 00:00 Beijing of the day), monitoring.md §3.3."""

aqi_dirty = Table(
    "aqi_dirty",
    metadata,
    Column("site_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
    Column("day_ts", BigInteger, nullable=False),  # 00:00 Beijing of the dirty day, Unix s
    Column("marked_at", TS, nullable=False),
    PrimaryKeyConstraint("site_id", "day_ts"),
)
"""Station-days whose AQI (and their areas') must be recomputed: written by loads, emptied by ``update_aqi``."""

completeness_day = Table(
    "completeness_day",
    metadata,
    Column("site_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
    Column("parameter", String(32), nullable=False),
    Column("day", Date, nullable=False),  # Beijing date
    Column("expected", Integer, nullable=False),
    Column("valid", Integer, nullable=False),
    Column("invalid", Integer, nullable=False),
    Column("maintenance", Integer, nullable=False),
    Column("feed_gap", Integer, nullable=False),
    Column("no_data", Integer, nullable=False),
    Column("rate", Float, nullable=False),
    Column("day_status", String(16), nullable=False),  # reporting | offline | feed_down | never_reported
    PrimaryKeyConstraint("site_id", "parameter", "day"),
)

alarm_rule = Table(
    "alarm_rule",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(16), nullable=False),  # station | county | prefecture | global
    Column("scope_code", String(64), nullable=False, server_default="*"),
    Column("rule", String(32), nullable=False),
    Column("params", JSON, nullable=False, default=dict),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("quiet_hours", JSON),  # {"start": "22:00", "end": "07:00", "enabled": true}
    Column("valid_from", TS, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_by", String(64)),
    CheckConstraint("scope IN ('station','county','prefecture','global')", name="scope"),
    Index("ix_alarm_rule_scope", "scope", "scope_code", "rule"),
)

alarm = Table(
    "alarm",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("finding_id", Integer, ForeignKey("finding.id"), index=True),
    Column("dedupe_key", String(200), nullable=False, index=True),
    Column("rule", String(32), nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("target_code", String(64), nullable=False),
    Column("pollutant", String(32), nullable=False, server_default="-"),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),  # open | acknowledged | dispatched | resolved | closed
    Column("opened_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
    Column("last_value", Float),
    Column("peak_value", Float),
    Column("peak_time", TS),
    Column("threshold", Float),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("below_hours", Integer, nullable=False, server_default="0"),
    Column("notified_severity", String(16)),
    Column("held", Boolean, nullable=False, server_default="0"),  # notification held for the quiet-hours digest
    Column("parent_id", Integer, ForeignKey("alarm.id")),  # the county_episode this alarm is a child of
    Column("ack_by", String(64)),
    Column("ack_at", TS),
    Column("closed_at", TS),
    Column("param_version", String(64)),
)
"""Detail row of an ``alarm`` finding (forecast.md §4); the finding is the problem-list entry."""

dust_day = Table(
    "dust_day",
    metadata,
    Column("place_code", String(64), nullable=False),
    Column("day", Date, nullable=False),  # Beijing date
    Column("status", String(16), nullable=False),  # official | candidate
    Column("source", String(64), nullable=False, server_default=""),
    Column("evidence", JSON, nullable=False, default=dict),
    PrimaryKeyConstraint("place_code", "day"),
    CheckConstraint("status IN ('official','candidate')", name="status"),
)

assessment = Table(
    "assessment",
    metadata,
    Column("target_kind", String(16), nullable=False),
    Column("target_code", String(64), nullable=False),
    Column("period", String(32), nullable=False),  # 2019 | 2019-01 | 2019-01-01 | 2019Q1 | custom:<from>..<to>
    Column("dust_mode", String(16), nullable=False),  # with_dust | dust_excluded
    Column("metric", String(48), nullable=False),
    Column("value", Float),
    Column("numerator", Float),
    Column("denominator", Float),
    Column("rank", Integer),
    Column("limits_version", String(8), nullable=False),
    Column("computed_at", TS, nullable=False),
    PrimaryKeyConstraint("target_kind", "target_code", "period", "dust_mode", "metric"),
)

export_job = Table(
    "export_job",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("state", String(16), nullable=False),  # queued | running | done | failed | expired
    Column("progress", Float, nullable=False, server_default="0"),
    Column("fmt", String(8), nullable=False),
    Column("query", JSON, nullable=False, default=dict),
    Column("rows", Integer),
    Column("path", String(400)),
    Column("error", Text),
    Column("created_by", String(64)),
    Column("created_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("link_expires_at", TS),
    Column("delete_after", TS),
)

# --- enforcement: clue details, rule evaluations, tuning overrides, cases, production plans -------------------
# (enforcement.md §2, §5; migration 0004). A clue is a ``finding`` of kind ``clue``; ``clue`` holds its detail
# record and immutable evidence bundle.

clue = Table(
    "clue",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("finding_id", Integer, ForeignKey("finding.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("dedupe_key", String(200), nullable=False, index=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("supersedes", String(64)),  # bundle_sha256 of the version this one replaced
    Column("rule_id", String(8), nullable=False, index=True),
    Column("rule_version", String(16), nullable=False),
    Column("param_version", String(64), nullable=False),
    Column("param_sha256", String(64), nullable=False),
    Column("params", JSON, nullable=False, default=dict),
    Column("severity", String(4), nullable=False),
    Column("enterprise_id", Integer, ForeignKey("site.id"), index=True),
    Column("subject_site_id", Integer, ForeignKey("site.id")),  # outlet or (production) meter
    Column("meter_ids", JSON, nullable=False, default=list),
    Column("channel", String(32)),
    Column("window_start", TS),
    Column("window_end", TS),
    Column("metrics", JSON, nullable=False, default=dict),
    Column("limit_source", String(32)),
    Column("legal_basis", String(200), nullable=False, server_default=""),
    Column("status", String(16), nullable=False, server_default="NEW"),  # enforcement.md §5 clue status
    Column("evidence", JSON, nullable=False, default=dict),
    Column("bundle_sha256", String(64), nullable=False),
    Column("feedback", JSON, nullable=False, default=list),  # verdicts: [{verdict, reason, by, at}]
    Column("run_id", Integer, ForeignKey("job_run.id")),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)
"""Detail record of a ``clue`` finding (enforcement.md §5): rule, parameter version, window, metrics, evidence."""

clue_eval = Table(
    "clue_eval",
    metadata,
    Column("rule_id", String(8), nullable=False),
    Column("site_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),  # Beijing date
    Column("state", String(16), nullable=False),  # fired | clear | not_evaluable
    Column("reason", String(200)),
    Column("run_id", Integer, ForeignKey("job_run.id")),
    PrimaryKeyConstraint("rule_id", "site_id", "day"),
    CheckConstraint("state IN ('fired','clear','not_evaluable')", name="state"),
)
"""Per (rule, subject, Beijing day): ``fired | clear | not_evaluable(reason)`` (enforcement.md §5)."""

rule_override = Table(
    "rule_override",
    metadata,
    Column("enterprise_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
    Column("rule_id", String(8), nullable=False),
    Column("key", String(64), nullable=False),
    Column("value", JSON, nullable=False),
    Column("param_version", String(64), nullable=False),
    Column("source", String(16), nullable=False),  # tuning | manual
    Column("basis", JSON, nullable=False, default=dict),  # e.g. {"false_positives": 6}
    Column("updated_by", String(64)),
    Column("updated_at", TS, nullable=False),
    PrimaryKeyConstraint("enterprise_id", "key"),
)
"""Per-enterprise parameter overrides; dismissal tuning writes ``source='tuning'`` rows (enforcement.md §5)."""

case = Table(
    "case",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_no", String(64), nullable=False, unique=True),
    Column("enterprise_id", Integer, ForeignKey("site.id"), index=True),
    Column("finding_id", Integer, ForeignKey("finding.id"), index=True),  # the originating clue, if any
    Column("clue_source", String(32)),  # 在线监测 | 用电监控 | 卫星 | 走航 | 视频 | 现场检查 | 信访 …
    Column("non_site", Boolean, nullable=False, server_default="0"),  # non_site_clue: found without an inspector
    Column("non_site_evidence", Boolean, nullable=False, server_default="0"),  # decisive evidence is remote data
    Column("opened_at", TS, nullable=False, index=True),  # registered (立案)
    Column("decided_at", TS),
    Column("status", String(16), nullable=False, server_default="open"),  # open | decided | closed | withdrawn
    Column("decision", String(32)),  # penalty | no_penalty | transferred …
    Column("fine", Float),  # [yuan]
    Column("note", Text),
    Column("created_by", String(64)),
)
"""Enforcement cases (立案), minimal: the ledger issue extends it (governance.md §3.7; enforcement.md §5 KPI)."""

plan = Table(
    "plan",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False, index=True),  # stagger_window | measure | order | grade | baseline
    Column("enterprise_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), index=True),
    Column("sector", String(64)),  # stagger windows per sector apply to every enterprise of it
    Column("target", String(64), nullable=False, server_default=""),  # meter code or line id ("" = enterprise)
    Column("level", String(8)),  # yellow | orange | red
    Column("grade", String(8)),
    Column("industry", String(32)),
    Column("action", String(24)),  # stop | cap_ratio | stop_lines | extend_coking_h | transport_ban
    Column("value", Float),
    Column("unit", String(16)),
    Column("start", TS),
    Column("end", TS),
    Column("doc_id", String(128), nullable=False, server_default=""),
    Column("source", String(16), nullable=False, server_default="manual"),  # manual | warning
    Column("attrs", JSON, nullable=False, default=dict),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_by", String(64)),
    Column("created_at", TS, nullable=False),
    CheckConstraint("kind IN ('stagger_window','measure','order','grade','baseline')", name="kind"),
)
"""Production plans (architecture §4 ``plan``; enforcement.md §2 "Plans"): one row per plan record."""

# enforcement inputs (migration 0012_enforcement_inputs): CEMS data marks, coke-oven batteries and pushes, gate log.
cems_mark = Table(
    "cems_mark",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("enterprise_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("target_site_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),  # outlet | meter
    Column("mark_type", String(16), nullable=False),
    Column("start", TS, nullable=False),
    Column("end", TS, nullable=False),  # exclusive
    Column("entered_at", TS),  # when the enterprise entered it (C04 late entry); unknown → NULL
    Column("entered_by", String(64)),
    Column("reason", Text, nullable=False, server_default=""),
    Column("attachments", JSON, nullable=False, default=list),
    Column("status", String(16), nullable=False, server_default="accepted"),  # accepted | pending | rejected
    Column("source", String(200), nullable=False, server_default=""),  # file:line or api
    Column("created_at", TS, nullable=False),
    UniqueConstraint("target_site_id", "mark_type", "start"),
    Index("ix_cems_mark_target_site_id_start", "target_site_id", "start"),
    CheckConstraint(
        "mark_type IN ('startup','shutdown','stopped','fault_accident','maintenance','calibration','other')",
        name="mark_type",
    ),
    CheckConstraint("status IN ('accepted','pending','rejected','withdrawn')", name="status"),
)
"""CEMS data marks (MEE marking rules; enforcement.md §2 "Marks"): per outlet (or production facility meter)."""

coke_battery = Table(
    "coke_battery",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("enterprise_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
    Column("battery", String(32), nullable=False),
    Column("ovens", Integer, nullable=False),
    Column("chamber_height_m", Float),
    Column("coking_h", Float),  # design coking time; NULL → 28 h (chamber ≥ 6 m) or 36 h
    Column("dedust_meter", String(64)),  # meter code of the pushing dust-collection station (推焦除尘地面站)
    Column("updated_at", TS, nullable=False),
    Column("pusher_meter", String(64)),  # meter code of the pusher machine: pushes from its power (migration 0014)
    UniqueConstraint("enterprise_id", "battery"),
)
"""Coke-oven batteries of an enterprise (P02 inputs: oven count, coking time, dust-collection meter)."""

coke_push = Table(
    "coke_push",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("enterprise_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
    Column("battery", String(32), nullable=False),
    Column("oven", String(16), nullable=False),
    Column("pushed_at", TS, nullable=False),
    Column("source", String(200), nullable=False, server_default=""),  # file:line
    UniqueConstraint("enterprise_id", "battery", "oven", "pushed_at"),
    Index("ix_coke_push_enterprise_id_pushed_at", "enterprise_id", "pushed_at"),
)
"""Oven pushes (推焦记录) from the pusher schedule or DCS log (P02)."""

gate_record = Table(
    "gate_record",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("enterprise_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
    Column("passed_at", TS, nullable=False),
    Column("plate", String(16), nullable=False),
    Column("direction", String(4), nullable=False, server_default="in"),  # in | out
    Column("vehicle_class", String(8), nullable=False),  # heavy | medium | light | other
    Column("emission_stage", String(4), nullable=False),  # 0, I … VI (China vehicle emission stage)
    Column("fuel", String(16), nullable=False, server_default=""),  # diesel | gas | electric | …
    Column("gate", String(64), nullable=False, server_default=""),
    Column("source", String(200), nullable=False, server_default=""),  # file:line
    UniqueConstraint("enterprise_id", "plate", "passed_at", "direction"),
    Index("ix_gate_record_enterprise_id_passed_at", "enterprise_id", "passed_at"),
)
"""Gate (门禁) records of vehicles entering and leaving an enterprise (P03 transport ban)."""

enf_param_set = Table(
    "enf_param_set",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", String(64), nullable=False, unique=True),
    Column("values", JSON, nullable=False),  # the resolved parameter set (every key)
    Column("sha256", String(64), nullable=False),
    Column("source", String(200), nullable=False, server_default=""),  # file name
    Column("activated_at", TS, nullable=False),
    Column("activated_by", String(64)),
)
"""Activated rule-parameter files (enforcement.md §6, §7; migration 0013_enforcement_params): the newest is in force."""

# --- hj212: gateway write-ahead log loading, device sessions (hj212.md §3.9, §4.2; migration 0005) --------------
# raw_frame gains the write-ahead-log identity of each record: (gateway_id, seq) is unique, so loading a log segment
# twice inserts nothing new. ``data`` holds the exact bytes (``text`` is their decoded form for reading).
raw_frame.append_column(Column("gateway_id", String(32)))
raw_frame.append_column(Column("seq", BigInteger))
raw_frame.append_column(Column("conn_id", BigInteger))
raw_frame.append_column(Column("direction", String(8)))  # in | out | junk
raw_frame.append_column(Column("data", LargeBinary))
raw_frame.append_column(Column("warnings", Text))
Index("uq_raw_frame_gateway_id_seq", raw_frame.c.gateway_id, raw_frame.c.seq, unique=True)
Index("ix_raw_frame_qn", raw_frame.c.qn)

hj212_wal_checkpoint = Table(
    "hj212_wal_checkpoint",
    metadata,
    Column("gateway_id", String(32), primary_key=True),
    Column("segment", BigInteger, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", TS, nullable=False),
)
"""Position up to which the loader has stored a gateway's write-ahead log (same transaction as the rows)."""

hj212_device_state = Table(
    "hj212_device_state",
    metadata,
    Column("mn", String(32), primary_key=True),
    Column("registered", Boolean, nullable=False, server_default="1"),
    Column("gateway_id", String(32)),
    Column("online", Boolean, nullable=False, server_default="0"),
    Column("peer", String(64)),
    Column("connected_at", TS),
    Column("disconnected_at", TS),
    Column("disconnect_reason", String(32)),
    Column("last_frame_at", TS),
    Column("last_cn", String(8)),
    Column("last_status", String(16)),
    Column("last_error", Text),
    Column("frames_in", BigInteger, nullable=False, server_default="0"),
    Column("frames_rejected", BigInteger, nullable=False, server_default="0"),
    Column("frames_out", BigInteger, nullable=False, server_default="0"),
)
"""Per-MN connection state and frame counters, kept by the loader from the gateway's log (console page)."""

# hj212 migration 0005b: authentication refusals by address, persisted commands, unknown devices awaiting approval
hj212_device_state.append_column(Column("ip_refused", BigInteger, nullable=False, server_default="0"))
hj212_device_state.append_column(Column("last_refused_peer", String(64)))
hj212_device_state.append_column(Column("last_refused_at", TS))

hj212_command = Table(
    "hj212_command",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mn", String(32), nullable=False, index=True),
    Column("cn", String(8), nullable=False),
    Column("params", JSON, nullable=False, default=dict),  # BeginTime/EndTime (ISO, UTC) or CP fields
    Column("source", String(16), nullable=False, server_default="operator"),
    Column("requested_by", String(64)),
    Column("gateway_id", String(32)),  # the gateway that took it (NULL: any gateway may)
    Column("state", String(16), nullable=False, index=True),
    Column("error", String(64)),
    Column("qn", String(24)),
    Column("qn_rtn", Integer),
    Column("exe_rtn", Integer),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("data_frames", Integer, nullable=False, server_default="0"),
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS),
    Column("answered_at", TS),
    Column("finished_at", TS),
    Column("updated_at", TS, nullable=False),
    CheckConstraint(
        "state IN ('queued','sent','accepted','done','failed','timed_out','expired','cancelled')", name="state"
    ),
)
"""Platform commands to data loggers and their state (hj212.md §3.6): queued by operators, the API or the gap scan,
sent by the gateway holding the device's connection, kept across restarts."""

hj212_pending_device = Table(
    "hj212_pending_device",
    metadata,
    Column("mn", String(32), primary_key=True),
    Column("status", String(16), nullable=False, server_default="pending"),  # pending | approved | rejected
    Column("first_seen", TS, nullable=False),
    Column("last_seen", TS, nullable=False),
    Column("peer", String(64)),
    Column("st", String(4)),
    Column("protocol", String(8)),
    Column("pw_hash", String(200)),  # argon2 of the PW the device presented (approval registers it)
    Column("frames", BigInteger, nullable=False, server_default="0"),
    Column("site_id", Integer, ForeignKey("site.id", ondelete="SET NULL")),
    Column("decided_by", String(64)),
    Column("decided_at", TS),
    Column("note", Text),
)
"""Unknown MNs seen under ``unknown_mn_policy = pending`` (hj212.md §3.4), waiting for an operator's approval."""

# --- fire: satellite fire points (fire.md §4; migration 0006) ------------------------------------------------
# A detection is stored once per de-duplication key ``dkey`` = processing|satellite|acq_time|lat4|lon4 (fire.md
# §3.1), so re-ingesting an overlapping download inserts nothing new. Flags are columns plus ``flag_reasons``:
# masked rows are kept and labelled, never dropped. A fire event becomes a ``finding`` of kind ``fire``.

fire_source_file = Table(
    "fire_source_file",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("provider", String(32), nullable=False, server_default="file"),  # file | folder | firms_api | url
    Column("product", String(32)),
    Column("request", Text),  # URL with the MAP_KEY redacted, or the path
    Column("received_at", TS, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("raw_ref", String(500)),
    Column("status", String(16), nullable=False),  # ok | file_error
    Column("error", Text),
    Column("n_rows", Integer, nullable=False, server_default="0"),
    Column("n_ok", Integer, nullable=False, server_default="0"),
    Column("n_bad", Integer, nullable=False, server_default="0"),
    Column("n_duplicate", Integer, nullable=False, server_default="0"),
    Column("n_stored", Integer, nullable=False, server_default="0"),
    Column("n_outside_bbox", Integer, nullable=False, server_default="0"),
    Column("rejected", JSON, nullable=False, default=list),  # [{line, field, reason, raw}]
    Column("unmapped", JSON, nullable=False, default=list),
    Column("warnings", JSON, nullable=False, default=list),
    Column("run_id", Integer, ForeignKey("job_run.id")),
)
"""Every file received (fire.md §4 ``fire_source_file``): counts, rejected rows with reasons, raw file reference."""

fire_detection = Table(
    "fire_detection",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dkey", String(96), nullable=False, unique=True),
    Column("source_file_id", Integer, ForeignKey("fire_source_file.id"), index=True),
    Column("source_file", String(300)),
    Column("line_no", Integer),
    Column("product", String(32)),
    Column("sensor", String(8)),
    Column("satellite", String(32)),
    Column("satellite_raw", String(32)),
    Column("acq_time_utc", TS, nullable=False, index=True),
    Column("date_bjt", Date, nullable=False, index=True),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("scan_km", Float),
    Column("track_km", Float),
    Column("pixel_area_km2", Float),
    Column("bt_mir_k", Float),
    Column("bt_tir_k", Float),
    Column("frp_mw", Float),
    Column("frp_raw", Float),
    Column("frp_unit", String(16)),
    Column("confidence_raw", String(16)),
    Column("confidence_class", String(8)),
    Column("daynight", String(1)),
    Column("version", String(16)),
    Column("processing", String(4)),
    Column("firms_type", Integer),
    Column("persistent_anomaly", Integer),
    Column("hot_group", BigInteger),
    Column("qf", Integer),
    Column("extra", Text),
    Column("county_code", String(12), index=True),
    Column("place_id", Integer, ForeignKey("place.id")),  # lowest place (grid cell) containing the pixel
    Column("in_bbox", Boolean, nullable=False, server_default="1"),
    Column("in_area", Boolean, nullable=False, server_default="0"),
    Column("spurious", Boolean, nullable=False, server_default="0"),
    Column("masked_registry", Boolean, nullable=False, server_default="0"),
    Column("masked_registry_ref", String(64)),
    Column("masked_learned", Boolean, nullable=False, server_default="0"),
    Column("masked_learned_ref", String(64)),
    Column("masked_external", Boolean, nullable=False, server_default="0"),
    Column("low_confidence", Boolean, nullable=False, server_default="0"),
    Column("outside_area", Boolean, nullable=False, server_default="0"),
    Column("masked", Boolean, nullable=False, server_default="0"),
    Column("screened", Boolean, nullable=False, server_default="0"),
    Column("verified_false", Boolean, nullable=False, server_default="0"),
    Column("flag_reasons", JSON, nullable=False, default=list),
    Column("cluster_key", String(64)),  # satellite|time of its overpass cluster's alarm pixel (run-independent)
    Column("event_id", String(32), index=True),
    Column("run_id", Integer, ForeignKey("job_run.id")),
    Column("ingested_at", TS, nullable=False),
)
"""Normalised detections (fire.md §2.1) with region, flags (§3.3) and event link (§3.5)."""

fire_event = Table(
    "fire_event",
    metadata,
    Column("event_id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # open | sleeping | closed | merged
    Column("merged_into", String(32)),
    Column("first_seen_utc", TS, nullable=False, index=True),
    Column("last_seen_utc", TS),
    Column("lat", Float),
    Column("lon", Float),
    Column("n_detections", Integer),
    Column("n_clusters", Integer),
    Column("satellites", JSON, nullable=False, default=list),
    Column("max_frp", Float),
    Column("county_code", String(12), index=True),
    Column("place_id", Integer, ForeignKey("place.id")),
    Column("class", String(24), nullable=False, server_default="unknown"),
    Column("finding_id", Integer, ForeignKey("finding.id")),
    Column("verdict", String(16)),
    Column("outcome", String(24)),  # confirmed_burning | industrial | false | not_found
    Column("verified_at", TS),
    Column("task_id", Integer),
    Column("updated_at", TS, nullable=False),
)
"""Fire events over days (fire.md §3.5) with the verification write-back (§3.7)."""

fire_alert = Table(
    "fire_alert",
    metadata,
    Column("alert_id", String(48), primary_key=True),
    Column("kind", String(16), nullable=False),  # new | still_detected | suppressed | escalated
    Column("event_id", String(32), index=True),
    Column("created_at", TS, nullable=False, index=True),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("dedupe_key", String(200)),
    Column("suppressed_by", String(48)),
    Column("finding_id", Integer, ForeignKey("finding.id")),
    Column("run_id", Integer, ForeignKey("job_run.id")),
)
"""Alerts with repeat suppression (fire.md §3.7)."""

fire_mask_site = Table(
    "fire_mask_site",
    metadata,
    Column("source_id", String(64), primary_key=True),
    Column("name", String(200)),
    Column("kind", String(24), nullable=False),
    Column("enterprise_id", Integer, ForeignKey("site.id")),
    Column("lon", Float, nullable=False),  # WGS-84 (converted on entry from the stated datum)
    Column("lat", Float, nullable=False),
    Column("datum_in", String(8)),  # datum the coordinates were given in
    Column("radius_km", Float, nullable=False, server_default="0"),
    Column("buffer_km", Float),
    Column("origin", String(24), nullable=False),  # registry|learned|external|verified_industrial|verified_false
    Column("status", String(16), nullable=False),  # active | candidate | retired
    Column("stats", JSON, nullable=False, default=dict),  # learned-site statistics (fire.md §3.9)
    Column("note", Text),
    Column("valid_from", TS),
    Column("valid_to", TS),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("edited_by", String(64)),  # a person's edit: the nightly learning no longer changes the status
    CheckConstraint("status IN ('active','candidate','retired')", name="status"),
)
"""Heat sources that mask detections (fire.md §4 ``heat_source``): registry plants, learned sites, candidates."""

fire_verification = Table(
    "fire_verification",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", String(32), ForeignKey("fire_event.event_id"), nullable=False, index=True),
    Column("verdict", String(16), nullable=False),  # straw | garbage | wildland | other_fire | industrial | false | …
    Column("outcome", String(24), nullable=False),
    Column("task_id", Integer),
    Column("finding_id", Integer, ForeignKey("finding.id")),
    Column("verified_at", TS, nullable=False),
    Column("verified_by", String(64)),
    Column("lon", Float),
    Column("lat", Float),
    Column("note", Text),
    Column("recorded_at", TS, nullable=False),
    UniqueConstraint("event_id", "task_id", "verdict", "verified_at"),
)
"""Verification verdicts (fire.md §3.7): they flow back to the event, its detections and the masks."""

bulletin_fire_point = Table(
    "bulletin_fire_point",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("bulletin_id", String(64), nullable=False),  # SHA-256 of the imported list (re-import adds nothing)
    Column("source_file", String(300), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("date_bjt", Date, nullable=False, index=True),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("province", String(64)),
    Column("city", String(64)),
    Column("county", String(64)),
    Column("township", String(64)),
    Column("satellite_text", String(64)),
    Column("county_code", String(12), index=True),  # by point-in-polygon on the jurisdiction's counties
    Column("matched_detection_id", Integer, ForeignKey("fire_detection.id")),
    Column("match_km", Float),
    Column("imported_at", TS, nullable=False),
    UniqueConstraint("bulletin_id", "line_no"),
)
"""Points of the MEE/provincial straw-burning bulletins (fire.md §3.8, §4), matched to screened detections."""

# --- ledger: the bureau's ledgers (台账), ledger events, generated reports (governance.md §3.7, §3.9, §4; 0007) ---
# One table per ledger. Every row carries the common columns of governance §3.7 (org, county GB/T 2260 code, place,
# status, 文号, attachments by SHA-256, audit fields, ``simulated``); its append-only history is ``ledger_event``.
# Enforcement cases live in ``case`` (enforcement, 0004): ``case_ledger`` holds the ledger's further fields of a case.
# Performance grades live in ``plan`` (kind ``grade``, enforcement reads them): the grade ledger is their history.


def _ledger_common() -> list[Column]:
    return [
        Column("id", Integer, primary_key=True),
        Column("org_id", String(64), nullable=False, server_default=""),
        Column("county_code", String(12), index=True),
        Column("place_id", Integer, ForeignKey("place.id")),
        Column("status", String(32), nullable=False, server_default=""),
        Column("source_doc", String(200), nullable=False, server_default=""),
        Column("attachments", JSON, nullable=False, default=list),
        Column("extra", JSON, nullable=False, default=dict),
        Column("simulated", Boolean, nullable=False, server_default="0"),
        Column("created_by", String(64)),
        Column("created_at", TS, nullable=False),
        Column("updated_by", String(64)),
        Column("updated_at", TS, nullable=False),
        Column("version", Integer, nullable=False, server_default="1"),
    ]


rectification = Table(
    "rectification",
    metadata,
    *_ledger_common(),
    Column("batch", String(128), nullable=False),
    Column("task_no", String(64), nullable=False, unique=True),
    Column("problem", Text, nullable=False),
    Column("target", Text, nullable=False, server_default=""),
    Column("measures", JSON, nullable=False, default=list),
    Column("lead_unit", String(128), nullable=False, server_default=""),
    Column("co_units", JSON, nullable=False, default=list),
    Column("responsible", String(64), nullable=False, server_default=""),
    Column("deadline", Date, nullable=False, index=True),
    Column("term", String(16), nullable=False),
    Column("milestones", JSON, nullable=False, default=list),
    Column("progress_pct", Float, nullable=False, server_default="0"),
    Column("acceptance_level", String(8)),
    Column("acceptance_date", Date),
    Column("cancel_date", Date),
    Column("card", String(8), nullable=False, server_default="none"),
)
"""督察整改任务 (governance §3.7): 按期销号 = cancel_date ≤ deadline among tasks due."""

petition = Table(
    "petition",
    metadata,
    *_ledger_common(),
    Column("petition_no", String(64), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),
    Column("received_at", TS, nullable=False, index=True),
    Column("accepted", Boolean, nullable=False, server_default="1"),
    Column("accept_decided_at", TS),
    Column("category", String(16), nullable=False),
    Column("subject_name", String(200), nullable=False, server_default=""),
    Column("subject_uscc", String(18)),
    Column("location", String(300), nullable=False, server_default=""),
    Column("assigned_at", TS),
    Column("due_at", TS),
    Column("extended_to", TS),
    Column("finding", String(8)),  # 属实 | 部分属实 | 不属实
    Column("actions", JSON, nullable=False, default=list),
    Column("closed_at", TS),
    Column("reply_at", TS),
    Column("satisfaction", String(8)),
    Column("repeat_of", String(64)),
    Column("inspection_batch", String(128)),
    Column("task_id", Integer),
)
"""信访件 (governance §3.7): 办结率 = closed / assigned per batch (``inspection_batch``; empty = routine)."""

case_ledger = Table(
    "case_ledger",
    metadata,
    *_ledger_common(),
    Column("case_id", Integer, ForeignKey("case.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("party", String(200), nullable=False),
    Column("uscc", String(18)),
    Column("violation_type", String(64), nullable=False, server_default=""),
    Column("legal_basis", String(200), nullable=False, server_default=""),
    Column("confiscation_yuan", Float),
    Column("five_types", JSON, nullable=False, default=list),
    Column("paid_at", TS),
    Column("published_at", TS),
    Column("clue_ids", JSON, nullable=False, default=list),
    Column("task_ids", JSON, nullable=False, default=list),
    Column("finding_ids", JSON, nullable=False, default=list),
)
"""Ledger fields of an enforcement ``case`` (governance §3.7): party, basis, five types, origin links."""

permit = Table(
    "permit",
    metadata,
    *_ledger_common(),
    Column("permit_no", String(64), nullable=False),
    Column("unit", String(200), nullable=False),
    Column("uscc", String(18)),
    Column("management_class", String(8), nullable=False),
    Column("apply_type", String(8), nullable=False),
    Column("accepted_at", Date, nullable=False),
    Column("site_check", Boolean, nullable=False, server_default="0"),
    Column("decided_at", Date, index=True),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("permitted_t", JSON, nullable=False, default=dict),
    UniqueConstraint("permit_no", "apply_type", "accepted_at"),
)
"""排污许可 decisions (governance §3.7); processing days = decided − accepted (calendar [D])."""

eia = Table(
    "eia",
    metadata,
    *_ledger_common(),
    Column("approval_no", String(64), nullable=False, unique=True),
    Column("project", String(300), nullable=False),
    Column("doc_type", String(8), nullable=False),
    Column("approval_level", String(8), nullable=False),
    Column("accepted_at", Date, nullable=False),
    Column("excluded_days", Integer, nullable=False, server_default="0"),
    Column("decided_at", Date, index=True),
    Column("decision", String(8)),
    Column("quota_allocation_id", Integer),
)
"""环评审批 (governance §3.7): processing days = decided − accepted − excluded (technical review, hearings)."""

quota_credit = Table(
    "quota_credit",
    metadata,
    *_ledger_common(),
    Column("credit_no", String(64), nullable=False, unique=True),
    Column("pollutant", String(8), nullable=False),
    Column("amount", Float, nullable=False),  # [t/a]
    Column("type", String(16), nullable=False),
    Column("enterprise", String(200), nullable=False, server_default=""),
    Column("verified_at", Date),
    Column("doc_no", String(128), nullable=False, server_default=""),
    CheckConstraint("amount > 0", name="amount"),
)
"""总量指标 credits (governance §3.7): usable only once verified."""

quota_allocation = Table(
    "quota_allocation",
    metadata,
    *_ledger_common(),
    Column("allocation_no", String(64), nullable=False, unique=True),
    Column("pollutant", String(8), nullable=False),
    Column("project", String(300), nullable=False),
    Column("eia_approval_no", String(64)),
    Column("project_emission", Float, nullable=False),  # [t/a]
    Column("ratio", Float, nullable=False, server_default="1"),
    Column("required", Float, nullable=False),  # project_emission × ratio [t/a]
    Column("sources", JSON, nullable=False, default=list),  # [{credit_no, amount}]
    Column("allocated_at", Date, nullable=False),
    CheckConstraint("project_emission >= 0", name="project_emission"),
)
"""总量指标 allocations to projects; balance per pollutant and county never goes negative."""

hw_unit = Table(
    "hw_unit",
    metadata,
    *_ledger_common(),
    Column("unit", String(200), nullable=False),
    Column("uscc", String(18)),
    Column("year", Integer, nullable=False),
    Column("hw_codes", JSON, nullable=False, default=list),
    Column("generated_t", Float, nullable=False),
    Column("stock_start_t", Float, nullable=False, server_default="0"),
    Column("stock_end_t", Float, nullable=False, server_default="0"),
    Column("self_utilised_t", Float, nullable=False, server_default="0"),
    Column("self_disposed_t", Float, nullable=False, server_default="0"),
    Column("transferred_t", Float, nullable=False, server_default="0"),
    Column("transferred_licensed_t", Float, nullable=False, server_default="0"),
    Column("manifest_ids", JSON, nullable=False, default=list),
    Column("receiver_licence_no", String(64)),
    UniqueConstraint("unit", "year"),
)
"""危险废物重点单位 (governance §3.7): safe-disposal rate [D]."""

carbon_compliance = Table(
    "carbon_compliance",
    metadata,
    *_ledger_common(),
    Column("entity", String(200), nullable=False),
    Column("uscc", String(18)),
    Column("year", Integer, nullable=False),
    Column("verified_emissions_t", Float, nullable=False),
    Column("allocated", Float, nullable=False),
    Column("surrendered", Float, nullable=False, server_default="0"),
    Column("offsets", Float, nullable=False, server_default="0"),
    Column("deadline", Date, nullable=False),
    Column("surrendered_at", Date),
    UniqueConstraint("entity", "year"),
)
"""碳排放配额清缴 (governance §3.7): 履约率 = fully surrendered by the deadline / obliged entities."""

vehicle_elimination = Table(
    "vehicle_elimination",
    metadata,
    *_ledger_common(),
    Column("plate_no", String(16), nullable=False, unique=True),
    Column("vehicle_type", String(32), nullable=False),
    Column("emission_stage", String(16), nullable=False),
    Column("owner", String(200), nullable=False, server_default=""),
    Column("eliminated_at", Date),
    Column("method", String(16)),
)
"""老旧车辆淘汰 (governance §3.7): 淘汰任务完成率 = eliminated / target (``ledger_target``)."""

ledger_target = Table(
    "ledger_target",
    metadata,
    Column("ledger", String(32), nullable=False),
    Column("county_code", String(12), nullable=False),  # "" = the whole jurisdiction
    Column("year", Integer, nullable=False),
    Column("metric", String(32), nullable=False),
    Column("value", Float, nullable=False),
    Column("source_doc", String(200), nullable=False, server_default=""),
    PrimaryKeyConstraint("ledger", "county_code", "year", "metric"),
)
"""Annual task targets a ledger KPI is measured against (e.g. vehicles to eliminate)."""

ledger_event = Table(
    "ledger_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ledger", String(32), nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("event", String(32), nullable=False),  # created | updated | imported | deleted
    Column("actor", String(64)),
    Column("at", TS, nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
    Index("ix_ledger_event_record", "ledger", "record_id"),
)
"""Append-only history of every ledger row (governance §3.7 ``events[]``)."""

report = Table(
    "report",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # annual | monthly | shift
    Column("period", String(16), nullable=False),
    Column("as_of", TS, nullable=False),
    Column("docx_sha256", String(64)),
    Column("pdf_sha256", String(64)),
    Column("template_version", String(64), nullable=False, server_default=""),
    Column("figures", JSON, nullable=False, default=list),  # provenance of every figure
    Column("created_by", String(64)),
    Column("created_at", TS, nullable=False),
)
"""Generated documents (governance §4 ``report``) with the provenance of their figures."""

# --- forecast: runs, values, warnings, advisories, emergency lists, NWP values, scores (forecast.md §4; 0008) -----

forecast_run = Table(
    "forecast_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_time", TS, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # operational | backtest | manual
    Column("profile", String(16), nullable=False, server_default="fast"),
    Column("model_version", String(64), nullable=False, server_default=""),
    # none | nwp | observed_proxy | noisy_proxy
    Column("weather_mode", String(16), nullable=False, server_default="none"),
    Column("nwp_source", String(64)),
    Column("nwp_run_time", TS),
    # the observed station weather the models read (forecast.md §3.4); null for runs stored before it was kept
    Column("observed_weather", JSON),
    Column("status", String(16), nullable=False),  # ok | degraded | failed
    Column("reasons", JSON, nullable=False, default=list),
    Column("duration_ms", Integer),
    Column("n_values", Integer, nullable=False, server_default="0"),
    Column("created_at", TS, nullable=False),
    CheckConstraint("status IN ('ok','degraded','failed')", name="status"),
)
"""One forecast refresh (forecast.md §4 ``forecast_run``)."""

forecast = Table(
    "forecast",
    metadata,
    Column("run_id", Integer, ForeignKey("forecast_run.id", ondelete="CASCADE"), nullable=False),
    Column("target_code", String(64), nullable=False),
    Column("target_kind", String(16), nullable=False),  # station | county | prefecture
    Column("item", String(16), nullable=False),  # pollutant code | O3_8h_max | AQI
    Column("resolution", String(8), nullable=False),  # hour | day
    Column("valid_start", TS, nullable=False),
    Column("valid_end", TS, nullable=False),
    Column("lead", Integer, nullable=False),  # hours (hourly) or days (daily)
    Column("method", String(32), nullable=False),
    Column("mean", Float),
    Column("p10", Float),
    Column("p50", Float),
    Column("p90", Float),
    Column("unit", String(8), nullable=False, server_default=""),
    Column("level", Integer),
    Column("primary_pollutant", String(32)),
    Column("prob", JSON),
    PrimaryKeyConstraint("run_id", "target_code", "item", "resolution", "valid_start", "method"),
    Index("ix_forecast_target_valid", "target_code", "item", "valid_start"),
)
"""Forecast values (forecast.md §4 ``forecast``); baselines are rows of their own ``method``."""

forecast_publication = Table(
    "forecast_publication",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_date", Date, nullable=False, index=True),  # Beijing date; day k of the forecast = issue_date + k
    Column("run_id", Integer, ForeignKey("forecast_run.id", ondelete="SET NULL")),  # the run it was drafted from
    Column("published_by", String(64), nullable=False),
    Column("published_at", TS, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("supersedes", Integer, ForeignKey("forecast_publication.id", ondelete="SET NULL")),
)
"""A published daily forecast (预报发布, HJ 633-2026 5.x: ≥ 3 days ahead, before 20:00): the duty forecaster's
AQI ranges per area and day, drafted from a run; a correction of the same day supersedes the earlier one, which is
kept."""

forecast_publication_day = Table(
    "forecast_publication_day",
    metadata,
    Column("publication_id", Integer, ForeignKey("forecast_publication.id", ondelete="CASCADE"), nullable=False),
    Column("area_code", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("lead", Integer, nullable=False),  # days after issue_date, 1..7
    Column("aqi_lo", Integer, nullable=False),
    Column("aqi_hi", Integer, nullable=False),
    Column("primary_pollutant", String(32)),  # AQI labels joined by "," (PM2.5, O3_8h, …); None when AQI ≤ 50
    Column("model_aqi", Float),  # the run's forecast AQI of the day, as drafted
    Column("model_primary", String(32)),
    Column("corrected", Boolean, nullable=False),  # the forecaster changed the drafted range or primary pollutant
    PrimaryKeyConstraint("publication_id", "area_code", "day"),
    CheckConstraint("aqi_lo >= 0 AND aqi_lo <= aqi_hi AND aqi_hi <= 500", name="aqi_range"),
)
"""One area and day of a :data:`forecast_publication`."""

warning = Table(
    "warning",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("area_code", String(64), nullable=False, index=True),
    Column("rule_set", String(8), nullable=False),
    Column("level", String(8), nullable=False),  # blue | yellow | orange | red
    Column("cause", String(16)),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("probability", Float),
    Column("run_id", Integer, ForeignKey("forecast_run.id", ondelete="SET NULL")),
    Column("state", String(16), nullable=False),  # proposed | issued | changed | lifted | rejected
    Column("finding_id", Integer),
    Column("doc_no", String(128), nullable=False, server_default=""),
    Column("decided_by", String(64)),
    Column("decided_at", TS),
    Column("note", Text),
    Column("evidence", JSON, nullable=False, default=dict),
    Column("pending_lower", Integer, nullable=False, server_default="0"),  # runs agreeing on a downgrade / lift
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    CheckConstraint("state IN ('proposed','issued','changed','lifted','rejected')", name="state"),
)
"""Heavy-pollution warnings (forecast.md §3.6, §4): proposals and their human decisions."""

warning_event = Table(
    "warning_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("warning_id", Integer, ForeignKey("warning.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", TS, nullable=False),
    Column("by", String(64), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("level", String(8)),
    Column("note", Text),
)
"""Every warning transition (who, when, note), append-only (forecast.md §3.6)."""

advisory = Table(
    "advisory",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("area_code", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # dust | ozone | stagnant
    Column("date", Date, nullable=False),
    Column("conditions", JSON, nullable=False, default=dict),
    Column("run_id", Integer, ForeignKey("forecast_run.id", ondelete="SET NULL")),
    Column("measures", JSON, nullable=False, default=list),
    Column("finding_id", Integer),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("area_code", "kind", "date"),
)
"""Adverse-weather advisories (forecast.md §3.8, §4)."""

advisory_threshold_set = Table(
    "advisory_threshold_set",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("area_code", String(64), nullable=False, server_default="*"),  # an area, or * for every area
    Column("version", String(64), nullable=False),
    Column("values", JSON, nullable=False),  # every advisories.Thresholds field
    Column("evidence", JSON),  # the local check that chose them (spans, scores before and after)
    Column("source", String(200), nullable=False, server_default=""),
    Column("activated_at", TS, nullable=False),
    Column("activated_by", String(64)),
    UniqueConstraint("area_code", "version"),
)
"""Advisory thresholds tuned on local backtests (forecast.md §3.8; migration 0017): per area the newest set is in
force, else the newest ``*`` set, else the defaults of :class:`bogda.forecast.advisories.Thresholds`."""

emergency_list = Table(
    "emergency_list",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("warning_id", Integer, ForeignKey("warning.id", ondelete="CASCADE"), index=True),
    Column("version", Integer, nullable=False),
    Column("area_code", String(64), nullable=False),
    Column("level", String(8), nullable=False),
    Column("doc_no", String(128), nullable=False, server_default=""),
    Column("rule_set", String(8), nullable=False, server_default=""),
    Column("template_version", String(32), nullable=False),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("totals", JSON, nullable=False, default=dict),
    Column("created_at", TS, nullable=False),
    Column("ended_at", TS),
    UniqueConstraint("warning_id", "version"),
)
"""A frozen, versioned emergency-reduction list (forecast.md §3.10)."""

emergency_list_item = Table(
    "emergency_list_item",
    metadata,
    Column("list_id", Integer, ForeignKey("emergency_list.id", ondelete="CASCADE"), nullable=False),
    Column("enterprise_id", Integer, ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
    Column("county", String(64)),
    Column("sector", String(64), nullable=False),
    Column("grade", String(16), nullable=False),
    Column("measures", JSON, nullable=False, default=list),
    Column("allowed_ratio", Float),
    Column("lines_to_stop", Float),
    Column("transport_ban", Boolean, nullable=False, server_default="0"),
    Column("baseline_source", String(32), nullable=False, server_default="none"),
    Column("reduction_t_per_day", JSON, nullable=False, default=dict),
    Column("order_id", Integer),
    PrimaryKeyConstraint("list_id", "enterprise_id"),
)
"""One enterprise on an emergency-reduction list with its measures and required reductions."""

nwp_value = Table(
    "nwp_value",
    metadata,
    Column("source", String(64), nullable=False),
    Column("run_time", TS, nullable=False),
    Column("valid_start", TS, nullable=False),
    Column("valid_end", TS, nullable=False),
    Column("location_id", String(64), nullable=False),  # station or area code
    Column("variable", String(16), nullable=False),
    Column("value", Float),
    PrimaryKeyConstraint("source", "run_time", "location_id", "variable", "valid_start"),
    Index("ix_nwp_value_location_valid", "location_id", "valid_start"),
)
"""NWP forecasts interpolated to stations and areas (forecast.md §2, all adapters write here)."""

nwp_run = Table(
    "nwp_run",
    metadata,
    Column("source", String(64), nullable=False),
    Column("run_time", TS, nullable=False),
    Column("arrived_at", TS),  # null: not recorded (a back-load): run_time + latency applies
    Column("skipped_messages", Integer, nullable=False, server_default="0"),
    Column("notes", JSON, nullable=False, default=list),  # the load's notes and rejections, as text lines
    Column("loaded_at", TS, nullable=False),
    PrimaryKeyConstraint("source", "run_time"),
    CheckConstraint("skipped_messages >= 0", name="skipped_messages"),
)
"""One row per loaded NWP run (forecast.md §2 "the recorded arrival time", §6 "the run is degraded"), written by
:func:`bogda.forecast.nwp.load_nwp`: when it first arrived, the corrupt GRIB messages its latest load skipped (> 0:
``degraded``), that load's notes and errors, and when it was last loaded."""

backtest_score = Table(
    "backtest_score",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("config_hash", String(64), nullable=False, index=True),
    Column("protocol", String(32), nullable=False),
    Column("target_code", String(64), nullable=False),
    Column("item", String(16), nullable=False),
    Column("horizon", String(8), nullable=False),
    Column("method", String(48), nullable=False),
    Column("weather_mode", String(16), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("value", Float),
    Column("n", Integer),
    Column("period", String(32), nullable=False, server_default=""),
    Column("created_at", TS, nullable=False),
    Column("config", Text, nullable=False, server_default=""),  # the text config_hash is taken of
)
"""Verification scores of backtests (forecast.md §4 ``backtest_score``)."""

control_event = Table(
    "control_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("area_code", String(64), nullable=False, index=True),
    Column("start", TS, nullable=False),
    Column("end", TS, nullable=False),
    Column("kind", String(24), nullable=False),  # emergency_response | staggered_production | special_event
    Column("level", Integer, nullable=False, server_default="0"),  # 0-4: none, blue, yellow, orange, red
    Column("doc_no", String(128), nullable=False, server_default=""),
    Column("note", Text),
    Column("entered_by", String(64)),
    Column("created_at", TS, nullable=False),
    CheckConstraint("kind IN ('emergency_response','staggered_production','special_event')", name="kind"),
    CheckConstraint("level >= 0 AND level <= 4", name="level"),
)
"""Hand-entered emission-control events (forecast.md §2): special events and responses no other record holds.
Issued warnings and production plans are read from ``warning`` and ``plan``, never copied here."""

intervention_eval = Table(
    "intervention_eval",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("label", String(200), nullable=False, server_default=""),
    Column("targets", JSON, nullable=False),
    Column("controls", JSON, nullable=False),
    Column("pollutant", String(16), nullable=False),
    Column("event", String(32), nullable=False),
    Column("window_start", Date, nullable=False),
    Column("window_end", Date, nullable=False),
    Column("n_obs", Integer),
    Column("cf_expected", Float),
    Column("avoided_median", Float),
    Column("ci90", JSON),
    Column("mde_days", Float),
    Column("mde_pct", Float),
    Column("placebo", JSON),
    Column("injection", JSON),
    Column("params", JSON),
    Column("verdict", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
    CheckConstraint("verdict IN ('effect_detected','no_detectable_effect','method_failed_validation')", name="verdict"),
)
"""Days-avoided evaluations of interventions (forecast.md §3.9, §4 ``intervention_eval``)."""

source_share = Table(
    "source_share",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("area_code", String(64), nullable=False, index=True),  # place code (county or prefecture)
    Column("pollutant", String(16), nullable=False, server_default="PM2.5"),  # PM2.5 | PM10 | SO2 | NO2
    Column("source", String(24), nullable=False),  # industry | coal | traffic | dust | … | local (total)
    Column("season", String(16), nullable=False, server_default="all"),  # heating | non_heating | heavy | all
    Column("share", Float, nullable=False),  # 0..1 of the concentration
    Column("share_low", Float),
    Column("share_high", Float),
    Column("source_doc", String(300), nullable=False),  # the bureau's source-apportionment study (源解析)
    Column("study_year", Integer),
    Column("note", Text),
    Column("entered_by", String(64)),
    Column("entered_at", TS, nullable=False),
    CheckConstraint("share >= 0 AND share <= 1", name="share"),
    CheckConstraint("share_low IS NULL OR (share_low >= 0 AND share_low <= share)", name="share_low"),
    CheckConstraint("share_high IS NULL OR (share_high >= share AND share_high <= 1)", name="share_high"),
    CheckConstraint("season IN ('heating','non_heating','heavy','all')", name="season"),
    CheckConstraint("source_doc <> ''", name="source_doc"),
)
"""Shares of a pollutant's concentration by source category, entered by the bureau from its own source-apportionment
study (forecast.md §3.9 step 6: the emission-based estimate of emergency lists; governance.md §3.11). Never a figure
from code."""

# --- source tracing: PMF source apportionment (governance.md §3.11; migration 0018) ------------------------------

apportionment_run = Table(
    "apportionment_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("area_code", String(64), index=True),  # the place the receptor stands for (needed to adopt shares)
    Column("site", String(100), nullable=False, server_default=""),  # receptor: station code or name
    Column("dataset", String(300), nullable=False, server_default=""),  # the input files or their description
    Column("status", String(12), nullable=False),  # queued | running | done | failed
    Column("error", Text),  # why a failed run failed (the worker's exit code and log tail)
    Column("request", JSON),  # a queued run's settings and category overrides (bogda.tracing.runs.submit_run)
    Column("job_dir", String(500)),  # its folder under data_dir: input/, job/ with esat.log
    Column("factors", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("esat_version", String(16)),
    Column("q_true", Float),
    Column("q_robust", Float),
    Column("q_expected", Float),
    Column("result", JSON),  # bogda.tracing.esat.summarise: species, H, W, fingerprints, mass by factor, checks
    Column("labels", JSON),  # the analyst's factor labels {F1: biomass, …} once shares are adopted
    Column("adopted_doc", String(300)),  # source_doc of the source_share rows adopted from this run
    Column("seconds", Float),
    Column("created_by", String(64)),
    Column("created_at", TS, nullable=False),
    Column("started_at", TS),
    Column("finished_at", TS),
    CheckConstraint("status IN ('queued','running','done','failed')", name="status"),
)
"""One ESAT PMF run (governance.md §3.11 "Store"): settings, species with category and S/N, seed, ESAT version,
H, W, fingerprints and PM2.5 by factor (all, by season, heavy days) in ``result``; failed runs are kept with their
error. Runs submitted from the console wait as ``queued`` for the ``tracing.apportion`` job. Adopting a run's
shares writes ``source_share`` rows whose ``source_doc`` names the run."""

# --- command centre: annual air-quality targets (governance.md §3.8 "Annual targets"; issue 11; 0011) -----------

air_target = Table(
    "air_target",
    metadata,
    Column("place_code", String(12), nullable=False),  # adcode of the prefecture or a county
    Column("year", Integer, nullable=False),
    Column("metric", String(24), nullable=False),  # pm25_mean | good_day_ratio | heavy_day_ratio | composite_index
    Column("comparison", String(2), nullable=False),  # <= | >=
    Column("value", Float, nullable=False),  # absolute: the target; relative: the change [%] against base_year
    Column("kind", String(8), nullable=False, server_default="absolute"),  # absolute | relative
    Column("base_year", Integer),
    Column("standard_version", String(4), nullable=False, server_default="2012"),
    Column("dust_excluded", Boolean, nullable=False, server_default="1"),
    Column("source_doc", String(200), nullable=False, server_default=""),
    Column("entered_by", String(64)),
    Column("entered_at", TS),
    PrimaryKeyConstraint("place_code", "year", "metric"),
    CheckConstraint("comparison IN ('<=','>=')", name="comparison"),
    CheckConstraint("kind IN ('absolute','relative')", name="kind"),
)
"""Annual air-quality targets shown on the big screen against the month- and year-to-date figures."""
