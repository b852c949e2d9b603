from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bogda.store import connect
from grid.region import Region, build_region


@pytest.fixture(scope="session")
def region_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Region]:
    """The test region built once in a SQLite file (migrations and argon2 are slow); tests get copies."""
    folder = tmp_path_factory.mktemp("grid_region")
    st = connect(f"sqlite:///{folder / 'region.db'}")
    reg = build_region(st, folder / "data")
    st.dispose()
    return folder / "region.db", reg


def _reset_pg(st: Any) -> None:
    from bogda.store.schema import metadata

    with st.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def region(request: pytest.FixtureRequest, tmp_path: Path, region_template: tuple[Path, Region]) -> Iterator[Region]:
    """The test region on SQLite (a copy of the session template) and on PostgreSQL (built fresh)."""
    if request.param == "sqlite":
        path, tpl = region_template
        shutil.copyfile(path, tmp_path / "region.db")
        st = connect(f"sqlite:///{tmp_path / 'region.db'}", migrate=False)
        from bogda.grid.tasks import GridConfig, GridService

        reg = Region(
            st,
            GridService(st, GridConfig(data_dir=tmp_path / "data")),
            dict(tpl.places),
            dict(tpl.enterprises),
            dict(tpl.users),
        )
    else:
        st = connect(request.getfixturevalue("pg_database"))
        _reset_pg(st)
        reg = build_region(st, tmp_path / "data")
    yield reg
    st.dispose()
