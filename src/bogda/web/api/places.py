"""``GET /api/v1/places``: places as a GeoJSON FeatureCollection (WGS-84), filtered and scoped.

Filters: ``kind`` (repeatable), ``level`` (repeatable), ``parent`` (id or code). ``simplify`` [degrees] thins
outlines with a topology-preserving Douglas–Peucker tolerance (0 keeps them as stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from shapely.geometry import mapping, shape

from bogda.registry.places import PlaceRow, list_places
from bogda.store import Store
from bogda.web.api.common import ApiError, PlaceTree, store_of
from bogda.web.auth import Principal, require_user

PLACE_KINDS = ("prefecture", "county", "township", "park", "grid_cell", "hotspot_cell", "special")

router = APIRouter(tags=["places"])


@dataclass
class PlacesQuery:
    """The filters of ``/places`` (OpenAQ-style query class: parsed once, run against the store)."""

    kind: list[str] | None = None
    level: list[int] | None = None
    parent: str | None = None
    simplify: float = 0.0

    @classmethod
    def depends(
        cls,
        kind: Annotated[
            list[str] | None, Query(description=f"Place kind, repeatable: {', '.join(PLACE_KINDS)}.")
        ] = None,
        level: Annotated[
            list[Annotated[int, Field(ge=1, le=9)]] | None,
            Query(description="Grid level (1 = prefecture), repeatable."),
        ] = None,
        parent: Annotated[str | None, Query(description="Only children of this place (id or code).")] = None,
        simplify: Annotated[
            float, Query(ge=0.0, le=1.0, description="Outline simplification tolerance [degrees]; 0 = as stored.")
        ] = 0.0,
    ) -> PlacesQuery:
        for k in kind or []:
            if k not in PLACE_KINDS:
                raise ApiError(422, "kind", f"unknown place kind {k!r}; expected one of {', '.join(PLACE_KINDS)}")
        return cls(kind, level, parent, simplify)

    def run(self, store: Store, who: Principal) -> list[PlaceRow]:
        parent_id = PlaceTree(store).resolve(self.parent, "parent") if self.parent is not None else None
        rows = list_places(store, kinds=self.kind, levels=self.level, parent_id=parent_id)
        return [r for r in rows if who.sees(r.id)]


def feature(row: PlaceRow, simplify: float = 0.0) -> dict[str, Any]:
    """A place as a GeoJSON Feature (geometry simplified by ``simplify`` degrees when > 0)."""
    geom = row.geometry
    if geom is not None and simplify > 0:
        geom = mapping(shapely.set_precision(shape(geom).simplify(simplify, preserve_topology=True), 1e-6))
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": geom,
        "properties": {
            "id": row.id,
            "code": row.code,
            "name": row.name,
            "name_en": row.name_en,
            "kind": row.kind,
            "level": row.level,
            "parent_id": row.parent_id,
            "label_lon": row.lon,
            "label_lat": row.lat,
            "simulated_outline": bool(row.attrs.get("simulated_outline", False)),
        },
    }


@router.get("/places", summary="Places as GeoJSON (WGS-84)")
def places(
    request: Request,
    q: Annotated[PlacesQuery, Depends(PlacesQuery.depends)],
    who: Annotated[Principal, Depends(require_user)],
) -> dict[str, Any]:
    rows = q.run(store_of(request), who)
    return {
        "type": "FeatureCollection",
        "meta": {"name": "bogda", "website": "/", "found": len(rows), "crs": "EPSG:4326"},
        "features": [feature(r, q.simplify) for r in rows],
    }
