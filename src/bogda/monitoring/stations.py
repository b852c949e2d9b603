"""Station registration from data and the station → area map (monitoring.md §2.4, §3.3).

Service layer: reads and writes the registry. A CNEMC code becomes an ``air_station`` site with the name and
position of the station list when the list knows it (place by :class:`~bogda.registry.places.PlaceIndex`); codes
outside the national scheme are first-class sites (``network`` set); an unknown code becomes a placeholder only on
request (``network = unregistered``, no place, so outside every area until placed).

Area membership: the evaluation stations (``attrs.evaluation`` not false, not a control site) whose place lies in
the subtree of a county or prefecture place. A placeholder or a station without a place belongs to no area.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import select

from bogda.monitoring.ingest import NATIONAL_CODE, read_stations
from bogda.registry.places import PlaceIndex, list_places, upsert_place
from bogda.registry.sites import SiteInput, add_site
from bogda.store import Store
from bogda.store.schema import place, site

AREA_KINDS = ("county", "prefecture", "park")
"""Place kinds that get area AQI and assessments."""


@dataclass
class Registration:
    """What :func:`ensure_stations` did: ``ids`` code → site id; ``created``, ``placeholders`` and ``rejected``
    (code, reason) lists."""

    ids: dict[str, int]
    created: list[str]
    placeholders: list[str]
    rejected: list[tuple[str, str]]


def _station_attrs(row: dict, source: str) -> dict:
    control = bool(row.get("is_control"))
    return {
        "network": "national" if row.get("national") else "provincial",
        "evaluation": not control,
        "control_station": control,
        "city": row.get("city"),
        "decommissioned": row.get("decommissioned"),
        "source": source,
    }


CITY_NETWORK = "city"
"""``network`` of a city-level published feed (aqistudy): a site holding a city's published daily series, not a
monitoring station — never on the station map, in area membership or in alarms (``station_sites(feeds=True)``
lists them)."""

CITY_PLACES: dict[str, tuple[str, str, str]] = {
    "652300": ("昌吉回族自治州", "Changji Hui Autonomous Prefecture", "prefecture"),
    "650100": ("乌鲁木齐市", "Urumqi", "special"),
    "659001": ("石河子市", "Shihezi", "special"),
    "659004": ("五家渠市", "Wujiaqu", "special"),
}
"""Places of the aqistudy cities (monitoring.md §2.3): Changji is the prefecture; the neighbouring cities are
external ``kind=special`` places, created when a file names them."""


def station_sites(store: Store, *, kind: str = "air_station", feeds: bool = False) -> pl.DataFrame:
    """Every station site: ``site_id, code, name, lon, lat, place_id, network, evaluation``.

    City-level published feeds (``network = city``) are left out unless ``feeds``.
    """
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(site.c.id, site.c.code, site.c.name, site.c.lon, site.c.lat, site.c.place_id, site.c.attrs).where(
                site.c.kind == kind
            )
        ).all()
    recs = []
    for sid, code, name, lon, lat, pid, attrs in rows:
        attrs = attrs or {}
        if not feeds and attrs.get("network") == CITY_NETWORK:
            continue
        evaluation = attrs.get("evaluation", not attrs.get("control_station", False))
        recs.append((sid, code, name, lon, lat, pid, attrs.get("network"), bool(evaluation)))
    return pl.DataFrame(
        recs,
        schema={
            "site_id": pl.Int64,
            "code": pl.String,
            "name": pl.String,
            "lon": pl.Float64,
            "lat": pl.Float64,
            "place_id": pl.Int64,
            "network": pl.String,
            "evaluation": pl.Boolean,
        },
        orient="row",
    )


def ensure_stations(
    store: Store,
    codes: Iterable[str],
    *,
    station_list: pl.DataFrame | str | Path | None = None,
    register_unknown: bool = False,
    kind: str = "air_station",
    source: str = "cnemc",
) -> Registration:
    """Site ids of ``codes``, registering those the station list knows (and, on request, placeholders).

    Parameters
    ----------
    codes : iterable of str
        Station codes named by a file (e.g. ``ReadResult.sites``).
    station_list : frame or path, optional
        A :func:`~bogda.monitoring.ingest.read_stations` frame or file: name, lon/lat, control flag.
    register_unknown : bool
        Register codes the list does not know as placeholders (monitoring.md §2.4 ``--register-unknown``).
    """
    wanted = list(dict.fromkeys(codes))
    existing = station_sites(store, kind=kind, feeds=True)
    ids = {c: int(i) for c, i in existing.select("code", "site_id").iter_rows() if c in set(wanted)}
    missing = [c for c in wanted if c not in ids]
    reg = Registration(ids, [], [], [])
    if not missing:
        return reg
    if isinstance(station_list, str | Path):
        station_list = read_stations(station_list)
    known: dict[str, dict] = {}
    if station_list is not None:
        usable = station_list.filter(pl.col("problem").is_null() & pl.col("station_code").is_in(missing))
        known = {r["station_code"]: r for r in usable.iter_rows(named=True)}
    index = PlaceIndex(list_places(store)) if known else None
    with store.begin() as conn:
        for code in missing:
            row = known.get(code)
            if row is not None:
                lon, lat = row.get("longitude"), row.get("latitude")
                if lon is None or lat is None:
                    lon = lat = None
                sid = add_site(
                    conn,
                    SiteInput(kind, code, row["station_name"], lon, lat, attrs=_station_attrs(row, source)),
                    index,
                )
                reg.created.append(code)
            elif register_unknown:
                attrs = {
                    "network": "national" if NATIONAL_CODE.match(code) else "unregistered",
                    "evaluation": False,
                    "position": "unknown",
                    "note": "registered from data; place it to include it in area figures",
                    "source": source,
                }
                sid = add_site(conn, SiteInput(kind, code, code, attrs=attrs))
                reg.placeholders.append(code)
            else:
                reg.rejected.append((code, "unknown station code (not registered; use --register-unknown)"))
                continue
            reg.ids[code] = sid
    return reg


def ensure_city_feeds(store: Store, codes: Iterable[str], *, source: str = "aqistudy") -> dict[str, int]:
    """Site ids of the city feeds ``codes`` (place codes, :data:`CITY_PLACES`), creating the place (when the
    registry lacks it) and the feed site (``network = city``, placed in its city, ``evaluation`` false).

    An unknown city code raises ``ValueError`` naming it (the reader maps only known cities).
    """
    wanted = list(dict.fromkeys(codes))
    unknown = [c for c in wanted if c not in CITY_PLACES]
    if unknown:
        raise ValueError(f"no place known for city feed code(s) {unknown}; known: {sorted(CITY_PLACES)}")
    have = station_sites(store, feeds=True)
    ids = {c: int(i) for c, i, n in have.select("code", "site_id", "network").iter_rows() if n == CITY_NETWORK}
    with store.begin() as conn:
        for code in wanted:
            if code in ids:
                continue
            name, name_en, kind = CITY_PLACES[code]
            pid = conn.execute(select(place.c.id).where(place.c.code == code)).scalar()
            if pid is None:
                pid = upsert_place(
                    conn,
                    code=code,
                    name=name,
                    name_en=name_en,
                    level=1,
                    kind=kind,
                    attrs={"note": f"created for the {source} city feed", "external": kind == "special"},
                )
            attrs = {"network": CITY_NETWORK, "evaluation": False, "source": source, "place_code": code}
            ids[code] = add_site(conn, SiteInput("air_station", code, f"{name}（城市发布）", place_id=pid, attrs=attrs))
    return ids


def register_station_list(
    store: Store, station_list: pl.DataFrame | str | Path, *, source: str = "station_list"
) -> int:
    """Register every usable station of a list (idempotent); returns the number created."""
    if isinstance(station_list, str | Path):
        station_list = read_stations(station_list)
    codes = station_list.filter(pl.col("problem").is_null())["station_code"].to_list()
    return len(ensure_stations(store, codes, station_list=station_list, source=source).created)


def place_tree(store: Store) -> pl.DataFrame:
    """``place_id, code, name, name_en, kind, level, parent_id`` of every place except grid cells' geometry."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                place.c.id, place.c.code, place.c.name, place.c.name_en, place.c.kind, place.c.level, place.c.parent_id
            )
        ).all()
    return pl.DataFrame(
        rows,
        schema={
            "place_id": pl.Int64,
            "code": pl.String,
            "name": pl.String,
            "name_en": pl.String,
            "kind": pl.String,
            "level": pl.Int64,
            "parent_id": pl.Int64,
        },
        orient="row",
    )


def area_members(store: Store, *, kinds: Sequence[str] = AREA_KINDS, include_control: bool = False) -> pl.DataFrame:
    """Station → area map: ``site_id, code, area_kind, area_code, area_name, evaluation``.

    Each evaluation station is a member of every ``kinds`` place above (or at) its place; with
    ``include_control`` the control sites are listed too (``evaluation`` false) — area figures leave them out.

    Parks (industrial parks such as Zhundong, ``kind=park``) overlay the county tree instead of containing
    counties' places: a station is a member of a park when its position lies inside the park's outline (or when
    it is placed in the park itself), and it stays a member of its county and the prefecture.
    """
    tree = place_tree(store)
    parent = dict(zip(tree["place_id"].to_list(), tree["parent_id"].to_list(), strict=True))
    info = {r[0]: r[1:] for r in tree.select("place_id", "kind", "code", "name").iter_rows()}
    rows = []
    sites = station_sites(store)
    for sid, code, pid, evaluation in sites.select("site_id", "code", "place_id", "evaluation").iter_rows():
        if pid is None or (not evaluation and not include_control):
            continue
        seen: set[int] = set()
        cur = pid
        while cur is not None and cur not in seen:
            seen.add(cur)
            kind, pcode, pname = info.get(cur, (None, None, None))
            if kind in kinds:
                rows.append((sid, code, kind, pcode, pname, bool(evaluation)))
            cur = parent.get(cur)
    if "park" in kinds:
        rows += _park_overlay(store, sites, include_control, {(r[0], r[3]) for r in rows if r[2] == "park"})
    return pl.DataFrame(
        rows,
        schema={
            "site_id": pl.Int64,
            "code": pl.String,
            "area_kind": pl.String,
            "area_code": pl.String,
            "area_name": pl.String,
            "evaluation": pl.Boolean,
        },
        orient="row",
    )


def _park_overlay(
    store: Store, sites: pl.DataFrame, include_control: bool, have: set[tuple[int, str]]
) -> list[tuple[int, str, str, str, str, bool]]:
    """Membership rows of the stations whose position lies inside a park outline (point in polygon, WGS-84)."""
    import numpy as np
    import shapely
    from shapely.geometry import shape

    with store.engine.connect() as conn:
        parks = conn.execute(
            select(place.c.code, place.c.name, place.c.geometry).where(
                place.c.kind == "park", place.c.geometry.is_not(None)
            )
        ).all()
    located = sites.filter(pl.col("lon").is_not_null() & pl.col("lat").is_not_null())
    if not include_control:
        located = located.filter(pl.col("evaluation"))
    if not parks or located.height == 0:
        return []
    lon, lat = located["lon"].to_numpy(), located["lat"].to_numpy()
    out = []
    for pcode, pname, geom in parks:
        inside = np.flatnonzero(shapely.contains_xy(shape(geom), lon, lat))
        for i in inside.tolist():
            sid, code, evaluation = located["site_id"][i], located["code"][i], located["evaluation"][i]
            if (sid, pcode) not in have:
                out.append((int(sid), code, "park", pcode, pname, bool(evaluation)))
    return out


def sites_of_places(store: Store, codes: Sequence[str]) -> list[int]:
    """Site ids of station codes and of every station (control sites included) in the named areas (county, park or
    prefecture codes), e.g. for ``bogda monitoring recompute --place``. An unknown code raises ``LookupError``."""
    sites = station_sites(store)
    by_code = dict(zip(sites["code"].to_list(), sites["site_id"].to_list(), strict=True))
    members = area_members(store, include_control=True)
    out: set[int] = set()
    unknown = []
    for code in codes:
        if code in by_code:
            out.add(int(by_code[code]))
            continue
        hit = members.filter(pl.col("area_code") == code)["site_id"].to_list()
        if not hit:
            unknown.append(code)
        out |= set(hit)
    if unknown:
        raise LookupError(f"no station and no area with stations has the code(s) {unknown}")
    return sorted(out)


def station_county(store: Store) -> dict[int, tuple[str | None, str | None]]:
    """site id → (county code, county name) of every station with a place (control sites included)."""
    members = area_members(store, kinds=("county",), include_control=True)
    return {sid: (c, n) for sid, c, n in members.select("site_id", "area_code", "area_name").iter_rows()}


__all__ = [
    "AREA_KINDS",
    "CITY_NETWORK",
    "CITY_PLACES",
    "Registration",
    "area_members",
    "ensure_city_feeds",
    "ensure_stations",
    "place_tree",
    "register_station_list",
    "sites_of_places",
    "station_county",
    "station_sites",
]
