"""Floor 2: the store — schema, engine and migrations, series I/O (architecture.md §4)."""

from bogda.store.db import Store, connect

__all__ = ["Store", "connect"]
