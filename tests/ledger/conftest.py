from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bogda.store import Store
from ledger.yearfixture import build_template, copy_store


@pytest.fixture(scope="session")
def ledger_year_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("ledger_year"))


@pytest.fixture
def year_store(ledger_year_template: Path, tmp_path: Path) -> Iterator[Store]:
    st = copy_store(ledger_year_template, tmp_path)
    yield st
    st.dispose()
