"""Fixtures of the forecast service tests: a demo county in a heavy-pollution episode."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bogda.store import Store
from forecast.episode import set_pm as _set_pm


@pytest.fixture(autouse=True)
def own_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each forecast test has a data directory of its own: the nightly training writes the baselines' tables and the
    bundle there (``forecast train`` with no bundle still fits the tables), and a later refresh in the same process
    would otherwise read them (``models="auto"``) and forecast from another test's climatology."""
    from bogda.config import get_settings

    monkeypatch.setenv("BOGDA_DATA_DIR", str(tmp_path_factory.mktemp("var")))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def episode_store(demo_store: Store) -> Store:
    """The demo region with 呼图壁县 (652323, station CJ-HT01) at PM2.5 260 µg/m³ (IAQI 310) for 36 days."""
    _set_pm(demo_store, ["CJ-HT01"], 260.0)
    return demo_store


@pytest.fixture
def set_pm() -> Callable[..., int]:
    """The :func:`forecast.episode.set_pm` helper."""
    return _set_pm
