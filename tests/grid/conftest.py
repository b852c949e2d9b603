from __future__ import annotations

from pathlib import Path

import pytest

from bogda.store import Store
from grid.region import Region, build_region


@pytest.fixture
def region(store: Store, tmp_path: Path) -> Region:
    """The test region on SQLite and PostgreSQL."""
    return build_region(store, tmp_path / "data")
