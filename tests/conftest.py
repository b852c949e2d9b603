"""Fixtures shared by the whole suite.

``store`` runs a test on SQLite and, marked ``postgres``, on the real PostgreSQL server (``BOGDA_TEST_PG_URL``,
default ``postgresql://postgres@127.0.0.1:5432/test``). Each test session makes its own throwaway PostgreSQL
database and drops it at the end; under ``CI=true`` an unreachable server fails the tests instead of skipping.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg  # noqa: F401  (before any test loads ecCodes: bogda.forecast.nwp._eccodes says why)
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bogda.store import Store, connect
from sharedata import require_shared

PG_ADMIN_URL = os.environ.get("BOGDA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# The installation's data directory (model bundles, baselines' tables, the secret key) of this test process: never
# the working tree's var/, where a developer's own runs leave files that would change what the tests read.
os.environ.setdefault("BOGDA_DATA_DIR", tempfile.mkdtemp(prefix="bogda-test-var-"))

# No test waits two minutes for a lock on purpose: a wait that long is a connection an earlier, failed test left in
# a transaction, and it must fail the waiting test instead of holding the whole run (libpq reads PGOPTIONS).
os.environ.setdefault("PGOPTIONS", "-c lock_timeout=120s")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding a ``slow`` test run first: pytest-xdist (``--dist loadfile``) hands files out in collection
    order, so a long real-data file started last keeps one worker busy while the other idles (seen: 33 min
    against about 28 min of work per worker)."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: the order inside each group stays


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder (skips, or fails under CI=true, when absent)."""
    return require_shared()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"bogda_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        reason = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required under CI=true)")
        pytest.skip(reason)
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset(store: Store) -> None:
    from bogda.store.schema import metadata

    if store.dialect != "postgresql":
        with store.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        return
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    try:
        with store.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    except OperationalError:
        # A connection that an earlier, failed test leaked still holds a lock on this worker's own database:
        # end it, then empty the tables.
        with store.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        with store.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated store on SQLite (a temp file) and on PostgreSQL."""
    if request.param == "sqlite":
        st = connect(f"sqlite:///{tmp_path / 'bogda.db'}")
    else:
        url = request.getfixturevalue("pg_database")
        st = connect(url)
        _reset(st)
    yield st
    st.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated SQLite store only (for tests of SQLite-specific behaviour)."""
    st = connect(f"sqlite:///{tmp_path / 'bogda.db'}")
    yield st
    st.dispose()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the Changji demo region with 7 days of simulated data, built once per session.

    Users: ``admin`` (password in ``demo_template.with_name("admin_password")``) and ``operator`` /
    ``operator-pass-1`` (prefecture operator).
    """
    from bogda.demo.region import build_demo_region
    from bogda.demo.simulate import load_recent
    from bogda.registry.people import add_user

    folder = tmp_path_factory.mktemp("demo")
    path = folder / "demo.db"
    st = connect(f"sqlite:///{path}")
    region = build_demo_region(st)
    load_recent(st, region.stations)
    with st.begin() as conn:
        add_user(
            conn,
            login="operator",
            password="operator-pass-1",
            roles=["prefecture_operator"],
            scope_place_id=region.places["652300"],
            display_name="值班员",
        )
    (folder / "admin_password").write_text(region.admin_password or "")
    st.dispose()
    return path


@pytest.fixture
def demo_store(demo_template: Path, tmp_path: Path) -> Iterator[Store]:
    """A private copy of the demo region (SQLite)."""
    import shutil

    path = tmp_path / "demo.db"
    shutil.copyfile(demo_template, path)
    st = connect(f"sqlite:///{path}")
    yield st
    st.dispose()
