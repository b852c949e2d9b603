"""A small test region for the grid: two prefectures, counties, a township, three 3 km cells, two enterprises and
one user per role (importable as ``grid.region`` from tests; ``tests`` is on the pythonpath)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shapely.geometry import box
from sqlalchemy import select

from bogda.grid.policy import Actor
from bogda.grid.service_base import grant_capability
from bogda.grid.tasks import GridConfig, GridService
from bogda.registry import places as P
from bogda.registry.people import add_user
from bogda.registry.sites import SiteInput, add_enterprise
from bogda.store import Store
from bogda.store.schema import user

T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # Monday 2025-03-03 10:00 Beijing
A = (87.01, 44.01)  # a point in cell GA (county C1, township T1)
B = (87.70, 44.20)  # a point in cell GB (county C2)
C = (95.01, 40.01)  # a point in cell GC (the other prefecture)
PW = "grid-pass-1"


def cell_of(lon: float, lat: float) -> tuple[str, object, int, int]:
    col, row = P.cell_index([lon], [lat])
    c, r = int(col[0]), int(row[0])
    return P.cell_code(c, r), P.cell_polygon(c, r), c, r


@dataclass
class Region:
    store: Store
    service: GridService
    places: dict[str, int]
    enterprises: dict[str, int]
    users: dict[str, int] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        return self.service.actor(self.users[name])


USERS = {
    # name: (roles, scope place key, enterprise key, capability, extra grid place)
    "pref": (["prefecture_operator"], "P", None, None),
    "county": (["county_operator"], "C1", None, None),
    "county2": (["county_operator"], "C2", None, None),
    "member": (["grid_member"], "GA", None, None),
    "chief": (["grid_member"], "GA", None, "chief"),
    "member_b": (["grid_member"], "GB", None, None),
    "chief_b": (["grid_member"], "GB", None, "chief"),
    "member_c": (["grid_member"], "GC", None, None),
    "enforcer": (["enforcement_officer"], "C1", None, None),
    "ent": (["enterprise_user"], "P", "E1", None),
    "ent2": (["enterprise_user"], "P2", "E2", None),
    "viewer": (["viewer"], "C1", None, None),
    "admin": (["admin"], None, None, None),
}


def build_region(store: Store, data_dir: Path, **config: object) -> Region:
    ids: dict[str, int] = {}
    ents: dict[str, int] = {}
    with store.begin() as conn:
        P.seed_levels(conn)
        ids["P"] = P.upsert_place(
            conn, code="652300", name="测试州", level=1, kind="prefecture", geometry=box(86.0, 43.0, 90.0, 46.0)
        )
        ids["C1"] = P.upsert_place(
            conn,
            code="652301",
            name="一县",
            level=2,
            kind="county",
            parent_id=ids["P"],
            geometry=box(87.0, 43.9, 87.5, 44.5),
        )
        ids["C2"] = P.upsert_place(
            conn,
            code="652302",
            name="二县",
            level=2,
            kind="county",
            parent_id=ids["P"],
            geometry=box(87.5, 43.9, 88.0, 44.5),
        )
        ids["T1"] = P.upsert_place(
            conn,
            code="652301100000",
            name="一镇",
            level=3,
            kind="township",
            parent_id=ids["C1"],
            geometry=box(87.0, 43.9, 87.25, 44.25),
        )
        ids["P2"] = P.upsert_place(
            conn, code="659000", name="他州", level=1, kind="prefecture", geometry=box(94.0, 39.0, 96.0, 41.0)
        )
        ids["C9"] = P.upsert_place(
            conn,
            code="659001",
            name="他县",
            level=2,
            kind="county",
            parent_id=ids["P2"],
            geometry=box(94.0, 39.0, 96.0, 41.0),
        )
        for key, (lon, lat), parent in (("GA", A, "T1"), ("GB", B, "C2"), ("GC", C, "C9")):
            code, poly, c, r = cell_of(lon, lat)
            ids[key] = P.upsert_place(
                conn,
                code=code,
                name=f"网格{key}",
                level=4,
                kind="grid_cell",
                parent_id=ids[parent],
                geometry=poly,
                attrs={"col": c, "row": r, "size_m": 3000},
            )
    index = P.PlaceIndex.from_store(store)
    with store.begin() as conn:
        ents["E1"] = add_enterprise(
            conn,
            SiteInput("enterprise", "E1", "一号企业", A[0] + 0.001, A[1] + 0.001),
            credit_code="X",
            sector="power",
            index=index,
            check_credit=False,
        )
        ents["E2"] = add_enterprise(
            conn,
            SiteInput("enterprise", "E2", "二号企业", C[0] + 0.001, C[1] + 0.001),
            credit_code="Y",
            sector="power",
            index=index,
            check_credit=False,
        )
    svc = GridService(store, GridConfig(data_dir=data_dir, **config), index=index)  # type: ignore[arg-type]
    region = Region(store, svc, ids, ents)
    boss = Actor(None, "setup", ("admin",), places=None)
    with store.begin() as conn:
        pw_hash = None
        for name, (roles, pkey, ekey, cap) in USERS.items():
            if pw_hash is None:  # argon2 is slow on purpose: hash once, reuse for the other test users
                uid = add_user(
                    conn,
                    login=name,
                    password=PW,
                    roles=roles,
                    scope_place_id=ids[pkey] if pkey else None,
                    scope_enterprise_id=ents[ekey] if ekey else None,
                )
                pw_hash = conn.execute(select(user.c.pw_hash).where(user.c.id == uid)).scalar_one()
            else:
                uid = conn.execute(
                    user.insert()
                    .values(
                        login=name,
                        pw_hash=pw_hash,
                        display_name=name,
                        roles=roles,
                        scope_place_id=ids[pkey] if pkey else None,
                        scope_enterprise_id=ents[ekey] if ekey else None,
                        created_at=T0,
                    )
                    .returning(user.c.id)
                ).scalar_one()
            region.users[name] = uid
            if cap:
                grant_capability(conn, uid, cap, by=boss, now=T0)
    return region


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
