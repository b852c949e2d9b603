from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bogda.store import Store
from ledger.yearfixture import build_template, copy_store

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(f"{tool} (poppler-utils) not installed")


@pytest.fixture(scope="session")
def report_year_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("report_year"))


@pytest.fixture
def report_store(report_year_template: Path, tmp_path: Path) -> Iterator[Store]:
    st = copy_store(report_year_template, tmp_path)
    yield st
    st.dispose()
