"""Locating the real data in ``../shared/data`` for tests.

Tests that need it call :func:`require_shared` (``from sharedata import require_shared``) or use the
``shared_data`` fixture: they skip with a clear reason when it is absent, except under ``CI=true``, where a missing
folder is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()


def require_shared(*parts: str) -> Path:
    """Path to ``../shared/data/<parts>``; skip (or fail under CI=true) when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"shared data not found: {path}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required under CI=true)")
        pytest.skip(reason)
    return path
