"""Sites: monitoring stations, enterprises, outlets and electricity meters (architecture.md §4).

A *site* row holds what every site has (kind, code, name, position, place); ``enterprise``, ``outlet``, ``meter``
and ``device`` extend it. Outlets and meters hang under their enterprise through ``site.parent_id``; a device
(data logger, MN) hangs under the station or outlet it reports for. The place is derived from lon/lat when not
given. Sites created by the demo carry ``simulated = true``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from bogda.registry.places import PlaceIndex, in_bounds
from bogda.store.schema import enterprise, meter, outlet, site

SITE_KINDS = ("air_station", "water_station", "enterprise", "outlet", "meter", "device", "camera")
GRADES = ("A", "B", "B-", "C", "D", "引领性", "非引领性")
"""Environmental performance grades (环保绩效分级) [glossary: grade], as the grading ledger writes them
(``bogda.ledger.grades.GRADES``): a downgrade from 引领性 to 非引领性 is a grade the registry must hold."""

SECTORS: dict[str, str] = {
    "coal_chemical": "煤化工",
    "power": "火电",
    "cement": "水泥",
    "coking": "焦化",
    "boiler": "锅炉",
    "steel": "钢铁",
    "nonferrous": "有色金属",
    "chemical": "化工",
    "wastewater": "污水处理",
    "building_materials": "建材",
    "other": "其他",
}
"""Sector codes and their Chinese names (extend as the registry grows)."""

_CREDIT = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{2}\d{6}[0-9A-HJ-NP-RTUW-Y]{10}$")
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code (GB 32100-2015), or ``None`` if it is.

    The 18th character is a check digit over the first 17 (weights 3^i mod 31, GB 32100-2015 §5).

    >>> credit_code_problem("91652300MA7XXXXXX0") is not None
    True
    >>> credit_code_problem(with_check_digit("91652300MA78ABCD1"))
    """
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    if not _CREDIT.match(code):
        return "contains characters outside GB 32100 (no I, O, S, V, Z)"
    if code[17] != _check_char(code[:17]):
        return f"check character should be {_check_char(code[:17])}"
    return None


def _check_char(first17: str) -> str:
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def with_check_digit(first17: str) -> str:
    """Complete a 17-character prefix into a valid credit code (used to make simulated enterprises)."""
    return first17 + _check_char(first17)


@dataclass
class SiteInput:
    """A site to create; ``place_id`` is looked up from lon/lat when ``None``."""

    kind: str
    code: str
    name: str
    lon: float | None = None
    lat: float | None = None
    place_id: int | None = None
    parent_id: int | None = None
    simulated: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)


def add_site(conn: Connection, s: SiteInput, index: PlaceIndex | None = None) -> int:
    """Insert a site and return its id. Raises ``ValueError`` naming the problem."""
    if s.kind not in SITE_KINDS:
        raise ValueError(f"site {s.code}: unknown kind {s.kind!r}; expected one of {SITE_KINDS}")
    if not s.code or not s.name:
        raise ValueError(f"site {s.code!r}: code and name are required")
    if (s.lon is None) != (s.lat is None):
        raise ValueError(f"site {s.code}: give both lon and lat or neither")
    if s.lon is not None and not in_bounds(s.lon, s.lat):  # type: ignore[arg-type]
        raise ValueError(f"site {s.code}: lon/lat {s.lon},{s.lat} out of range")
    place_id = s.place_id
    if place_id is None and s.lon is not None and index is not None:
        place_id = index.locate(s.lon, s.lat)  # type: ignore[arg-type]
    dup = conn.execute(select(site.c.id).where(site.c.kind == s.kind, site.c.code == s.code)).scalar()
    if dup is not None:
        raise ValueError(f"site {s.kind} {s.code} already exists (id {dup})")
    return int(
        conn.execute(
            site.insert()
            .values(
                kind=s.kind,
                code=s.code,
                name=s.name,
                lon=s.lon,
                lat=s.lat,
                place_id=place_id,
                parent_id=s.parent_id,
                simulated=s.simulated,
                attrs=s.attrs,
            )
            .returning(site.c.id)
        ).scalar_one()
    )


def add_enterprise(
    conn: Connection,
    s: SiteInput,
    *,
    credit_code: str,
    sector: str,
    grade: str | None = None,
    key_unit: bool = False,
    index: PlaceIndex | None = None,
    check_credit: bool = True,
) -> int:
    """Insert an enterprise (site kind ``enterprise``) with its credit code, sector and performance grade."""
    if check_credit and (problem := credit_code_problem(credit_code)):
        raise ValueError(f"enterprise {s.code}: credit code {credit_code}: {problem}")
    if sector not in SECTORS:
        raise ValueError(f"enterprise {s.code}: unknown sector {sector!r}; expected one of {sorted(SECTORS)}")
    if grade is not None and grade not in GRADES:
        raise ValueError(f"enterprise {s.code}: unknown grade {grade!r}; expected one of {GRADES}")
    s.kind = "enterprise"
    sid = add_site(conn, s, index)
    conn.execute(
        enterprise.insert().values(site_id=sid, credit_code=credit_code, sector=sector, grade=grade, key_unit=key_unit)
    )
    return sid


def add_outlet(
    conn: Connection,
    s: SiteInput,
    *,
    enterprise_id: int,
    medium: str,
    limits: dict[str, dict[str, Any]],
    o2_reference: float | None = None,
    height_m: float | None = None,
    index: PlaceIndex | None = None,
) -> int:
    """Insert a discharge outlet under ``enterprise_id``.

    ``limits`` maps parameter codes to ``{"limit": value, "unit": unit, "basis": "permit" | "ultra_low" | …}``;
    ``o2_reference`` [%] is the reference oxygen content for converted concentrations (gas outlets).
    """
    if medium not in ("gas", "water"):
        raise ValueError(f"outlet {s.code}: medium must be 'gas' or 'water', not {medium!r}")
    for par, lim in limits.items():
        if not isinstance(lim, dict) or not isinstance(lim.get("limit"), int | float) or lim["limit"] <= 0:
            raise ValueError(f"outlet {s.code}: limit of {par} must be a positive number")
    if o2_reference is not None and not 0 <= o2_reference < 21:
        raise ValueError(f"outlet {s.code}: O2 reference {o2_reference} outside 0–21 %")
    s.kind = "outlet"
    s.parent_id = enterprise_id
    sid = add_site(conn, s, index)
    conn.execute(
        outlet.insert().values(site_id=sid, medium=medium, limits=limits, o2_reference=o2_reference, height_m=height_m)
    )
    return sid


def add_meter(
    conn: Connection,
    s: SiteInput,
    *,
    enterprise_id: int,
    role: str,
    equipment: str,
    paired_site_id: int | None = None,
    rated_kw: float | None = None,
    index: PlaceIndex | None = None,
) -> int:
    """Insert an electricity meter (role production / treatment / total) under ``enterprise_id``."""
    if role not in ("production", "treatment", "total"):
        raise ValueError(f"meter {s.code}: role must be production, treatment or total, not {role!r}")
    s.kind = "meter"
    s.parent_id = enterprise_id
    sid = add_site(conn, s, index)
    conn.execute(
        meter.insert().values(
            site_id=sid, role=role, equipment=equipment, paired_site_id=paired_site_id, rated_kw=rated_kw
        )
    )
    return sid


def pair_meters(conn: Connection, production_id: int, treatment_id: int) -> None:
    """Pair a production meter with the treatment meter that must run with it (enforcement.md)."""
    conn.execute(meter.update().where(meter.c.site_id == production_id).values(paired_site_id=treatment_id))
    conn.execute(meter.update().where(meter.c.site_id == treatment_id).values(paired_site_id=production_id))


def site_id_by_code(conn: Connection, kind: str, code: str) -> int | None:
    return conn.execute(select(site.c.id).where(site.c.kind == kind, site.c.code == code)).scalar()
