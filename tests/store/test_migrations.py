"""The Alembic migrations build exactly the schema module's tables, on SQLite and PostgreSQL.

Every capability adds its tables to ``bogda.store.schema`` *and* a migration; this is the check that the two never
drift apart (a table, column, type, index or constraint present on one side only is a difference).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String

from bogda.store import Store, series
from bogda.store.schema import metadata, site
from schema_diff import flat, table_of

# created at run time by the store itself, not by migrations
_RUNTIME = {"alembic_version"}
# made by migration 0001 on PostgreSQL only (a BRIN index has no portable form in the schema module)
_PG_ONLY_INDEXES = {"ix_observation_ts_brin"}


_PARTITION = re.compile(r"observation_\d{4}_\d{2}")


def _diffs(store: Store, target: MetaData) -> list:  # type: ignore[type-arg]
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        out = flat(compare_metadata(ctx, target))

    def runtime(d: tuple) -> bool:  # type: ignore[type-arg]
        if d[0] == "remove_index" and d[1].name in _PG_ONLY_INDEXES:
            return True
        table = table_of(d)
        # PostgreSQL's monthly observation partitions (observation_YYYY_MM) and their indexes are made on demand
        return table in _RUNTIME or bool(table and _PARTITION.fullmatch(table))

    return [d for d in out if not runtime(d)]


def test_migrations_build_the_schema_module(store: Store) -> None:
    # a stored observation makes PostgreSQL's store create a monthly partition: run-time tables are not differences
    with store.begin() as conn:
        sid = conn.execute(
            site.insert().values(kind="air_station", code="MIG1", name="m", attrs={}).returning(site.c.id)
        ).scalar_one()
    frame = pl.DataFrame(
        {"site_id": [sid], "parameter": ["a34004"], "ts": [datetime(2016, 7, 1, tzinfo=UTC)], "value": [1.0]},
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    series.write_long(store, frame, resolution="hour")
    assert _diffs(store, metadata) == []


def test_the_check_sees_a_difference(store: Store) -> None:
    changed = MetaData(naming_convention=metadata.naming_convention)
    for t in metadata.sorted_tables:
        t.to_metadata(changed)
    changed.tables["site"].append_column(Column("not_migrated", String(8)))
    diffs = _diffs(store, changed)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "site", "not_migrated")]
