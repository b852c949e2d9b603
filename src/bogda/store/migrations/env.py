"""Alembic environment: uses the connection handed over by :func:`bogda.store.migrations.upgrade`."""

from __future__ import annotations

from alembic import context

from bogda.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    from bogda.store.db import create

    connection = create(config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
