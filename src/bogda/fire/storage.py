"""Frames into the fire tables in bulk (fire.md §7: 10⁵ detections written "in test mode" inside the 5 s budget).

SQLAlchemy Core spends ~30 µs per row and column set on parameter processing — more than the whole pipeline for a
global batch — so on SQLite the frame is converted column-wise with Polars to the storage format SQLAlchemy itself
uses there (UTC timestamps as naive ``YYYY-MM-DD HH:MM:SS.ffffff`` text, dates as ISO text, booleans as 0/1, JSON
as text) and handed to the DB-API ``executemany`` in one call. Elsewhere (PostgreSQL) the rows go through Core in
chunks, so types are bound exactly as by every other writer.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import JSON, Boolean, Connection, Date, Table
from sqlalchemy.types import TypeDecorator

from bogda.store.schema import UtcDateTime

SQLITE_TS = "%Y-%m-%d %H:%M:%S%.6f"
"""SQLAlchemy's default SQLite DATETIME storage format (microseconds always written)."""


def _impl(col_type: Any) -> Any:
    return col_type.impl if isinstance(col_type, TypeDecorator) and not isinstance(col_type, UtcDateTime) else col_type


def sqlite_column(name: str, col_type: Any, dtype: pl.DataType, table: str) -> pl.Expr:
    """The expression giving column ``name`` of a frame in SQLite storage form for a column of ``col_type``.

    Raises ``ValueError`` naming the table and column for a naive timestamp (ambiguous: Beijing or UTC?), as
    :class:`~bogda.store.schema.UtcDateTime` does row by row.
    """
    c = pl.col(name)
    t = _impl(col_type)
    if isinstance(t, UtcDateTime):
        if dtype == pl.Null:
            return c.cast(pl.String)
        if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
            raise ValueError(f"{table}.{name}: column of {dtype} is not a timezone-aware timestamp")
        return c.dt.convert_time_zone("UTC").dt.strftime(SQLITE_TS)
    if isinstance(t, Date) and isinstance(dtype, pl.Date):
        return c.dt.strftime("%Y-%m-%d")
    if isinstance(t, Boolean):
        return c.cast(pl.Int8)
    if isinstance(t, JSON):
        if dtype == pl.Null:
            return pl.lit("null", pl.String).alias(name)
        return pl.struct(c.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}").alias(name)
    return c


def insert_frame(conn: Connection, table: Table, frame: pl.DataFrame, *, chunk: int = 5000) -> int:
    """Insert every row of ``frame`` (columns named as in ``table``) inside the caller's transaction.

    Returns the number of rows. A frame column the table lacks is a ``KeyError`` naming both.
    """
    if frame.height == 0:
        return 0
    missing = [c for c in frame.columns if c not in table.c]
    if missing:
        raise KeyError(f"{table.name} has no column(s) {missing}")
    if conn.dialect.name == "sqlite":
        f = frame.select(sqlite_column(c, table.c[c].type, frame.schema[c], table.name).alias(c) for c in frame.columns)
        q = conn.dialect.identifier_preparer.quote
        sql = (
            f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in f.columns)}) "
            f"VALUES ({', '.join('?' * len(f.columns))})"
        )
        conn.exec_driver_sql(sql, f.rows())
        return frame.height
    rows = frame.to_dicts()
    for k in range(0, len(rows), chunk):
        conn.execute(table.insert(), rows[k : k + chunk])
    return frame.height
