"""The demo year in a store, built once per test session (ledgers + two years of daily AQI + demo enterprises).

Shared by tests/ledger and tests/reports. Only the registry's enterprises are needed (grades name them), so the
region's places and grid cells are not built: that keeps the template quick.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from bogda.store import Store, connect


def add_demo_enterprises(store: Store) -> list[str]:
    from bogda.demo.region import ENTERPRISES
    from bogda.registry.sites import SiteInput, add_enterprise, with_check_digit

    rng = np.random.default_rng(2026)
    codes = []
    with store.begin() as conn:
        for i, (code, name, sector, grade, lon, lat, _o2, _lim) in enumerate(ENTERPRISES):
            credit = with_check_digit(f"91652300MA7{i:02d}{'ABCDEFGH'[i % 8]}{rng.integers(100, 999)}")
            add_enterprise(
                conn,
                SiteInput("enterprise", code, name, lon, lat, simulated=True),
                credit_code=credit,
                sector=sector,
                grade=grade,
            )
            codes.append(code)
    return codes


def add_places(store: Store) -> None:
    """The prefecture and its seven counties (names only, no geometry) for the air sections."""
    from bogda.demo.ledger_year import COUNTIES, PREFECTURE
    from bogda.registry.places import upsert_place

    with store.begin() as conn:
        pid = upsert_place(conn, code=PREFECTURE, name="昌吉回族自治州", level=1, kind="prefecture", parent_id=None)
        for code, name in COUNTIES.items():
            upsert_place(conn, code=code, name=name, level=2, kind="county", parent_id=pid)


def build_template(folder: Path) -> Path:
    from bogda.demo.ledger_year import build_ledger_year

    path = folder / "ledger_year.db"
    st = connect(f"sqlite:///{path}")
    add_places(st)
    add_demo_enterprises(st)
    build_ledger_year(st)
    st.dispose()
    return path


def copy_store(template: Path, tmp: Path) -> Store:
    path = tmp / "year.db"
    shutil.copyfile(template, path)
    return connect(f"sqlite:///{path}")
