"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from sharedata import require_shared


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder (skips, or fails under CI=true, when absent)."""
    return require_shared()
