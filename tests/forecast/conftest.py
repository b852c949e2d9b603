"""Fixtures of the forecast service tests: a demo county in a heavy-pollution episode."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bogda.store import Store
from forecast.episode import set_pm as _set_pm


@pytest.fixture
def episode_store(demo_store: Store) -> Store:
    """The demo region with 呼图壁县 (652323, station CJ-HT01) at PM2.5 260 µg/m³ (IAQI 310) for 36 days."""
    _set_pm(demo_store, ["CJ-HT01"], 260.0)
    return demo_store


@pytest.fixture
def set_pm() -> Callable[..., int]:
    """The :func:`forecast.episode.set_pm` helper."""
    return _set_pm
