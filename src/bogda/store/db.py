"""Engine, pragmas and migrations for SQLite (embedded default) and PostgreSQL 15.

SQLite runs in WAL mode so the gateway, the scheduler and the web process can share one file: readers never
block the writer. ``synchronous=NORMAL`` is durable across process crashes in WAL mode (only a power loss can
drop the last transactions); ``busy_timeout`` lets concurrent writers queue instead of failing.
PostgreSQL gets ``observation`` range-partitioned by month on ``ts`` (partitions created on demand by
:meth:`Store.ensure_partitions`) with a BRIN index on ``ts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from bogda.store import schema

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
    "PRAGMA mmap_size=268435456",
)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN in ways that break SAVEPOINT; let SQLAlchemy emit it.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cur.execute(pragma)
    cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE): a deferred transaction that reads and then writes can
    # fail at once with SQLITE_BUSY_SNAPSHOT when another process committed in between; IMMEDIATE waits instead.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def create(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with bogda's settings for that dialect.

    ``sqlite:///relative/path.db`` paths are made absolute and their folder created. PostgreSQL URLs without a
    driver use psycopg 3.
    """
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            path = Path(u.database).expanduser().resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            u = u.set(database=str(path))
        engine = create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if u.get_backend_name() == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(u, **kwargs)


def month_edges(first: int, last: int) -> list[tuple[int, int, str]]:
    """Monthly (UTC calendar) partitions covering Unix seconds ``first..last``: ``(start, end, suffix)``.

    >>> month_edges(1735689600, 1738368000)
    [(1735689600, 1738368000, '2025_01'), (1738368000, 1740787200, '2025_02')]
    """
    start = datetime.fromtimestamp(first, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    out: list[tuple[int, int, str]] = []
    while int(start.timestamp()) <= last:
        nxt = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        out.append((int(start.timestamp()), int(nxt.timestamp()), f"{start.year:04d}_{start.month:02d}"))
        start = nxt
    return out


@dataclass
class Store:
    """A database: the engine plus what the store knows about it (dialect, existing partitions)."""

    engine: Engine
    _partitions: set[str] = field(default_factory=set)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on error (``BEGIN IMMEDIATE`` on SQLite)."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from bogda.store.migrations import upgrade

        upgrade(self.engine)

    def ensure_partitions(self, conn: Any, first: int, last: int) -> None:
        """Create the monthly ``observation`` partitions that ``first..last`` (Unix seconds) need (PostgreSQL)."""
        if self.dialect != "postgresql":
            return
        for lo, hi, suffix in month_edges(first, last):
            name = f"observation_{suffix}"
            if name in self._partitions:
                continue
            conn.execute(
                text(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF observation FOR VALUES FROM ({lo}) TO ({hi})")
            )
            self._partitions.add(name)

    def dispose(self) -> None:
        self.engine.dispose()


def connect(url: str | None = None, *, migrate: bool = True, **kwargs: Any) -> Store:
    """Open the store at ``url`` (default: the configured ``database_url``) and migrate it."""
    if url is None:
        from bogda.config import get_settings

        url = get_settings().database_url
    store = Store(create(url, **kwargs))
    if migrate:
        store.migrate()
    return store


__all__ = ["Store", "connect", "create", "month_edges", "schema"]
