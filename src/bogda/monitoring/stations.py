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
from bogda.registry.places import PlaceIndex, list_places
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


def station_sites(store: Store, *, kind: str = "air_station") -> pl.DataFrame:
    """Every station site: ``site_id, code, name, lon, lat, place_id, network, evaluation, active``."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(site.c.id, site.c.code, site.c.name, site.c.lon, site.c.lat, site.c.place_id, site.c.attrs).where(
                site.c.kind == kind
            )
        ).all()
    recs = []
    for sid, code, name, lon, lat, pid, attrs in rows:
        attrs = attrs or {}
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
    existing = station_sites(store, kind=kind)
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
    """
    tree = place_tree(store)
    parent = dict(zip(tree["place_id"].to_list(), tree["parent_id"].to_list(), strict=True))
    info = {r[0]: r[1:] for r in tree.select("place_id", "kind", "code", "name").iter_rows()}
    rows = []
    for sid, code, pid, evaluation in (
        station_sites(store).select("site_id", "code", "place_id", "evaluation").iter_rows()
    ):
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


def station_county(store: Store) -> dict[int, tuple[str | None, str | None]]:
    """site id → (county code, county name) of every station with a place (control sites included)."""
    members = area_members(store, kinds=("county",), include_control=True)
    return {sid: (c, n) for sid, c, n in members.select("site_id", "area_code", "area_name").iter_rows()}


__all__ = [
    "AREA_KINDS",
    "Registration",
    "area_members",
    "ensure_stations",
    "place_tree",
    "register_station_list",
    "station_county",
    "station_sites",
]
