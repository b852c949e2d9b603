"""Importers for the registry: CSV, XLSX and GeoJSON files of places, stations, enterprises, outlets, meters,
devices and townships.

Every row is validated and every rejected row is reported with its file, line, column and reason. A file imports
whole or not at all: if any row is rejected nothing is written, and a database conflict while writing (a duplicate
code, say) rolls the whole file back and is reported against the row that caused it.

Column names are matched case-insensitively, in English or Chinese (e.g. ``code`` / ``编码``, ``lon`` / ``经度``).
CSV files may be UTF-8 (with or without BOM) or GB18030, the two encodings bureaus' spreadsheets export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import shape
from sqlalchemy import Connection, select

from bogda.registry import places as P
from bogda.registry.devices import PROTOCOLS, add_device, mn_problem
from bogda.registry.sites import (
    GRADES,
    SECTORS,
    SiteInput,
    add_enterprise,
    add_meter,
    add_outlet,
    add_site,
    credit_code_problem,
    pair_meters,
    site_id_by_code,
)
from bogda.store import Store
from bogda.store.schema import place


@dataclass(frozen=True)
class RowError:
    """One rejected row (or file-level problem when ``line`` is 0)."""

    file: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} [{self.column}] {self.reason}" if self.column else f"{where} {self.reason}"


class ImportRejected(ValueError):
    """The file was not imported; ``errors`` lists every rejected row."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        head = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"import rejected, nothing written: {head}{more}")


@dataclass
class ImportReport:
    file: str
    entity: str
    written: int = 0
    warnings: list[str] = field(default_factory=list)


# --- reading tables -------------------------------------------------------------------------------------------


def accepted(
    rows: list[tuple[int, dict[str, Any]]], errors: list[RowError], file: str
) -> list[tuple[int, dict[str, Any]]]:
    """The parsed rows of a file when none was rejected (all-or-nothing); otherwise :class:`ImportRejected` with
    every error. A file without data rows is rejected too."""
    if not rows and not errors:
        errors.append(RowError(file, 0, "", "file holds no data rows"))
    if errors:
        raise ImportRejected(errors)
    return rows


def decode(data: bytes, *, name: str) -> str:
    """Text of a CSV file: UTF-8 (BOM allowed) or GB18030."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ImportRejected([RowError(name, 0, "", "file is neither UTF-8 nor GB18030 text")])


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header and ``(line, row)`` pairs of a CSV or XLSX file; blank rows are skipped."""
    name = path.name
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise ImportRejected([RowError(name, 0, "", f"not a readable Excel file: {exc}")]) from None
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = [str(c).strip() if c is not None else "" for c in next(it, ())]

        def xrows() -> Iterator[tuple[int, dict[str, str]]]:
            for i, row in enumerate(it, start=2):
                cells = ["" if c is None else str(c).strip() for c in row]
                if any(cells):
                    yield i, dict(zip(header, cells, strict=False))
            wb.close()

        return header, xrows()
    if suffix in (".csv", ".txt"):
        text = decode(path.read_bytes(), name=name)
        reader = csv.reader(io.StringIO(text))
        header = [h.strip() for h in next(reader, [])]

        def crows() -> Iterator[tuple[int, dict[str, str]]]:
            for row in reader:
                cells = [c.strip() for c in row]
                if any(cells):
                    yield reader.line_num, dict(zip(header, cells, strict=False))

        return header, crows()
    raise ImportRejected([RowError(name, 0, "", f"unsupported file type {suffix!r}; use .csv, .xlsx or .geojson")])


# --- column specs ---------------------------------------------------------------------------------------------

Parser = Callable[[str], Any]


def _float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not a finite number")
    return v


def _lon(text: str) -> float:
    v = _float(text)
    if not -180 <= v <= 180:
        raise ValueError(f"longitude {v} outside -180..180")
    return v


def _lat(text: str) -> float:
    v = _float(text)
    if not -90 <= v <= 90:
        raise ValueError(f"latitude {v} outside -90..90")
    return v


def _elevation(text: str) -> float:
    v = _float(text)
    if not -500 <= v <= 9000:
        raise ValueError(f"elevation {v} m outside -500..9000")
    return v


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "y", "是", "t"):
        return True
    if t in ("0", "false", "no", "n", "否", "f", ""):
        return False
    raise ValueError(f"{text!r} is not yes/no")


def _choice(options: tuple[str, ...] | list[str]) -> Parser:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"{text!r} is not one of {', '.join(options)}")
        return text

    return parse


def _credit(text: str) -> str:
    if problem := credit_code_problem(text.upper()):
        raise ValueError(f"credit code {text}: {problem}")
    return text.upper()


def _mn(text: str) -> str:
    if problem := mn_problem(text):
        raise ValueError(problem)
    return text


@dataclass(frozen=True)
class Col:
    key: str
    aliases: tuple[str, ...]
    parse: Parser = str
    required: bool = True


ENTITIES: dict[str, tuple[Col, ...]] = {
    "stations": (
        Col("code", ("编码", "站点编码", "station_code")),
        Col("name", ("名称", "站点名称")),
        Col("lon", ("经度", "longitude"), _lon),
        Col("lat", ("纬度", "latitude"), _lat),
        Col("kind", ("类型",), _choice(("air_station", "water_station")), required=False),
        Col("network", ("网络", "级别"), required=False),
        Col("control_station", ("对照点",), _bool, required=False),
        Col("elevation_m", ("海拔", "海拔高度", "elevation"), _elevation, required=False),
    ),
    "enterprises": (
        Col("code", ("编码", "企业编码")),
        Col("name", ("名称", "企业名称")),
        Col("credit_code", ("统一社会信用代码", "信用代码"), _credit),
        Col("sector", ("行业",), _choice(tuple(SECTORS))),
        Col("grade", ("绩效分级", "等级"), _choice(GRADES), required=False),
        Col("lon", ("经度", "longitude"), _lon),
        Col("lat", ("纬度", "latitude"), _lat),
        Col("key_unit", ("重点排污单位",), _bool, required=False),
    ),
    "outlets": (
        Col("enterprise_code", ("企业编码",)),
        Col("code", ("编码", "排放口编码")),
        Col("name", ("名称", "排放口名称")),
        Col("medium", ("介质", "类型"), _choice(("gas", "water"))),
        Col("lon", ("经度",), _lon, required=False),
        Col("lat", ("纬度",), _lat, required=False),
        Col("o2_reference", ("基准氧含量",), _float, required=False),
        Col("height_m", ("高度",), _float, required=False),
    ),
    "meters": (
        Col("enterprise_code", ("企业编码",)),
        Col("code", ("编码", "电表编码")),
        Col("name", ("名称",)),
        Col("role", ("角色", "类型"), _choice(("production", "treatment", "total"))),
        Col("equipment", ("设备", "设施"), required=False),
        Col("paired_code", ("配对电表",), required=False),
        Col("rated_kw", ("额定功率",), _float, required=False),
    ),
    "devices": (
        Col("mn", ("MN", "设备编码"), _mn),
        Col(
            "password",
            ("密码", "pw"),
        ),
        Col("site_kind", ("站点类型",), _choice(("air_station", "water_station", "outlet"))),
        Col("site_code", ("站点编码", "排放口编码")),
        Col("protocol", ("协议版本",), _choice(PROTOCOLS), required=False),
    ),
    "townships": (
        Col("code", ("ext_id", "编码", "统计用区划代码")),
        Col("name", ("ext_name", "名称")),
        Col("county_code", ("pid", "县编码", "上级编码")),
    ),
}
"""Columns of each importable entity (first name English, then accepted aliases)."""

LIMIT_PREFIX = "limit_"
"""Outlet files carry one ``limit_<parameter>`` column per limited pollutant, e.g. ``limit_a21026`` [mg/m³]."""


def _resolve_header(entity: str, header: list[str], file: str) -> tuple[dict[str, str], list[RowError]]:
    cols = ENTITIES[entity]
    lower = {h.lower(): h for h in header}
    found: dict[str, str] = {}
    errors: list[RowError] = []
    for c in cols:
        for name in (c.key, *c.aliases):
            if name.lower() in lower:
                found[c.key] = lower[name.lower()]
                break
        else:
            if c.required:
                errors.append(
                    RowError(
                        file, 1, c.key, f"required column missing (accepted names: {c.key}, {', '.join(c.aliases)})"
                    )
                )
    return found, errors


def parse_rows(entity: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Validated rows of ``path`` for ``entity``, or :class:`ImportRejected` listing every bad row."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown entity {entity!r}; expected one of {sorted(ENTITIES)}")
    file = path.name
    if not path.is_file():
        raise ImportRejected([RowError(file, 0, "", "file not found")])
    header, rows = read_rows(path)
    found, errors = _resolve_header(entity, header, file)
    if errors:
        raise ImportRejected(errors)
    cols = {c.key: c for c in ENTITIES[entity]}
    out: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        rec: dict[str, Any] = {}
        for key, src in found.items():
            text = row.get(src, "")
            col = cols[key]
            if text == "":
                if col.required:
                    errors.append(RowError(file, line, src, "value missing"))
                continue
            try:
                rec[key] = col.parse(text)
            except ValueError as exc:
                errors.append(RowError(file, line, src, str(exc)))
        if entity == "outlets":
            limits = {}
            for h in header:
                if h.lower().startswith(LIMIT_PREFIX) and row.get(h, ""):
                    try:
                        v = _float(row[h])
                        if v <= 0:
                            raise ValueError(f"limit {v} must be positive")
                        limits[h[len(LIMIT_PREFIX) :]] = {"limit": v, "unit": "mg/m3", "basis": "permit"}
                    except ValueError as exc:
                        errors.append(RowError(file, line, h, str(exc)))
            rec["limits"] = limits
        ident = rec.get("code") or rec.get("mn")
        if ident is not None:
            if ident in seen:
                errors.append(RowError(file, line, "code", f"{ident} repeats line {seen[ident]}"))
            seen[ident] = line
        out.append((line, rec))
    return accepted(out, errors, file)


# --- writing --------------------------------------------------------------------------------------------------


def _write_row(conn: Connection, entity: str, rec: dict[str, Any], index: P.PlaceIndex) -> None:
    if entity == "stations":
        attrs = {k: rec[k] for k in ("network", "control_station", "elevation_m") if k in rec}
        add_site(
            conn,
            SiteInput(rec.get("kind", "air_station"), rec["code"], rec["name"], rec["lon"], rec["lat"], attrs=attrs),
            index,
        )
    elif entity == "enterprises":
        add_enterprise(
            conn,
            SiteInput("enterprise", rec["code"], rec["name"], rec["lon"], rec["lat"]),
            credit_code=rec["credit_code"],
            sector=rec["sector"],
            grade=rec.get("grade"),
            key_unit=rec.get("key_unit", False),
            index=index,
        )
    elif entity == "outlets":
        ent = _require(conn, "enterprise", rec["enterprise_code"])
        add_outlet(
            conn,
            SiteInput("outlet", rec["code"], rec["name"], rec.get("lon"), rec.get("lat")),
            enterprise_id=ent,
            medium=rec["medium"],
            limits=rec["limits"],
            o2_reference=rec.get("o2_reference"),
            height_m=rec.get("height_m"),
            index=index,
        )
    elif entity == "meters":
        ent = _require(conn, "enterprise", rec["enterprise_code"])
        mid = add_meter(
            conn,
            SiteInput("meter", rec["code"], rec["name"]),
            enterprise_id=ent,
            role=rec["role"],
            equipment=rec.get("equipment", ""),
            rated_kw=rec.get("rated_kw"),
            index=index,
        )
        if rec.get("paired_code"):
            pair_meters(conn, mid, _require(conn, "meter", rec["paired_code"]))
    elif entity == "devices":
        parent = _require(conn, rec["site_kind"], rec["site_code"])
        add_device(conn, mn=rec["mn"], password=rec["password"], parent_id=parent, protocol=rec.get("protocol", "2017"))
    elif entity == "townships":
        county = conn.execute(select(place.c.id).where(place.c.code == rec["county_code"])).scalar()
        if county is None:
            raise ValueError(f"county {rec['county_code']} is not in the registry")
        P.upsert_place(conn, code=rec["code"], name=rec["name"], level=3, kind="township", parent_id=county)


def _require(conn: Connection, kind: str, code: str) -> int:
    sid = site_id_by_code(conn, kind, code)
    if sid is None:
        raise ValueError(f"{kind} {code} is not in the registry")
    return sid


def import_file(store: Store, entity: str, path: str | Path) -> ImportReport:
    """Validate and import ``path`` as ``entity`` (one of :data:`ENTITIES` or ``places`` for GeoJSON).

    Raises
    ------
    ImportRejected
        with every rejected row; nothing has been written.
    """
    path = Path(path)
    if entity == "places" or path.suffix.lower() in (".geojson", ".json"):
        return import_places_geojson(store, path)
    rows = parse_rows(entity, path)
    index = P.PlaceIndex.from_store(store)
    report = ImportReport(path.name, entity)
    errors: list[RowError] = []
    try:
        with store.begin() as conn:
            for line, rec in rows:
                try:
                    with conn.begin_nested():
                        _write_row(conn, entity, rec, index)
                except ValueError as exc:
                    errors.append(RowError(path.name, line, "", str(exc)))
                except Exception as exc:
                    errors.append(RowError(path.name, line, "", f"database refused the row: {exc.__class__.__name__}"))
            if errors:
                raise ImportRejected(errors)
            report.written = len(rows)
    except ImportRejected:
        raise
    return report


def import_places_geojson(store: Store, path: Path) -> ImportReport:
    """Import a FeatureCollection of places (townships, parks, special grids, uploaded polygons).

    Feature properties: ``code``, ``name``, ``kind`` (township, park, special, hotspot_cell …), optional
    ``level`` (default: the level of ``kind``), ``parent_code``, ``name_en``, ``datum`` (``wgs84`` default or
    ``gcj02``). Broken geometries are repaired or rejected with the reason.
    """
    file = path.name
    try:
        doc = json.loads(decode(path.read_bytes(), name=file))
    except json.JSONDecodeError as exc:
        raise ImportRejected([RowError(file, exc.lineno, "", f"not valid JSON: {exc.msg}")]) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ImportRejected([RowError(file, 0, "", "expected a GeoJSON FeatureCollection")])
    default_level = {
        "prefecture": 1,
        "county": 2,
        "township": 3,
        "park": 2,
        "special": 3,
        "grid_cell": 4,
        "hotspot_cell": 4,
    }
    errors: list[RowError] = []
    recs: list[tuple[int, dict[str, Any]]] = []
    for i, feat in enumerate(doc.get("features") or [], start=1):
        props = (feat or {}).get("properties") or {}
        for key in ("code", "name", "kind"):
            if not props.get(key):
                errors.append(RowError(file, i, key, "property missing"))
        kind = props.get("kind")
        if kind and kind not in default_level:
            errors.append(RowError(file, i, "kind", f"{kind!r} is not one of {', '.join(default_level)}"))
            continue
        try:
            geom = shape(feat["geometry"])
            if props.get("datum", "wgs84").lower() == "gcj02":
                from bogda.geo import geometry_gcj02_to_wgs84

                geom = geometry_gcj02_to_wgs84(geom)
            geom = P.repair(geom, what=f"feature {i}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            errors.append(RowError(file, i, "geometry", str(exc) or "geometry missing or malformed"))
            continue
        recs.append((i, {**props, "geometry": geom, "level": props.get("level") or default_level.get(kind, 3)}))
    if not recs and not errors:
        errors.append(RowError(file, 0, "", "no features"))
    if errors:
        raise ImportRejected(errors)
    with store.begin() as conn:
        codes = {c: i for c, i in conn.execute(select(place.c.code, place.c.id))}
        for i, rec in recs:
            parent = None
            if rec.get("parent_code"):
                parent = codes.get(str(rec["parent_code"]))
                if parent is None:
                    errors.append(RowError(file, i, "parent_code", f"{rec['parent_code']} is not in the registry"))
                    continue
            codes[str(rec["code"])] = P.upsert_place(
                conn,
                code=str(rec["code"]),
                name=str(rec["name"]),
                level=int(rec["level"]),
                kind=str(rec["kind"]),
                parent_id=parent,
                geometry=rec["geometry"],
                name_en=rec.get("name_en"),
            )
        if errors:
            raise ImportRejected(errors)
    return ImportReport(file, "places", written=len(recs))
