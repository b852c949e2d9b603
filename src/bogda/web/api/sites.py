"""``GET /api/v1/sites``: sites with position, place, county and simulated flag; stations also carry their latest
hourly values, the AQI of that hour and whether they are online.

:class:`SitesQuery` is also what the console's map and station table call (faces share one query, no HTTP hop).
The "online + latest values + AQI" part is :func:`bogda.monitoring.status.station_now`, the one read model the
station-status API, the monitoring page, the big screen and the public page use as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from bogda.monitoring.qa import DEFAULT_CONFIG, with_config
from bogda.monitoring.status import STATION_KINDS, StationNow, station_now
from bogda.registry.places import descendants
from bogda.registry.sites import SITE_KINDS
from bogda.standards import aqi as aqi_std
from bogda.store import Store
from bogda.store.schema import site
from bogda.timeutil import now_utc
from bogda.web.api.common import Paging, PlaceTree, envelope, paging, place_ref, stamp, store_of
from bogda.web.auth import Principal, require_user

router = APIRouter(tags=["sites"])


@dataclass
class SitesQuery:
    """Filters of ``/sites``: ``kind`` (repeatable), ``place`` (id or code: that place and below), ``simulated``."""

    kind: list[str] | None = None
    place: str | None = None
    simulated: bool | None = None

    @classmethod
    def depends(
        cls,
        kind: Annotated[list[str] | None, Query(description=f"Site kind, repeatable: {', '.join(SITE_KINDS)}.")] = None,
        place: Annotated[str | None, Query(description="Only sites in this place or below it (id or code).")] = None,
        simulated: Annotated[
            bool | None, Query(description="Only simulated (true) or only real (false) sites.")
        ] = None,
    ) -> SitesQuery:
        from bogda.web.api.common import ApiError

        for k in kind or []:
            if k not in SITE_KINDS:
                raise ApiError(422, "kind", f"unknown site kind {k!r}; expected one of {', '.join(SITE_KINDS)}")
        return cls(kind, place, simulated)

    def run(
        self,
        store: Store,
        who: Principal,
        page: Paging,
        *,
        offline_after_hours: float,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of matching sites visible to ``who`` and the number found."""
        tree = PlaceTree(store)
        allowed = who.places
        if self.place is not None:
            under = descendants(store, tree.resolve(self.place, "place"))
            allowed = frozenset(under) if allowed is None else allowed & under
        q = select(
            site.c.id, site.c.kind, site.c.code, site.c.name, site.c.lon, site.c.lat, site.c.place_id, site.c.simulated
        ).where(site.c.active.is_(True))
        if self.kind:
            q = q.where(site.c.kind.in_(self.kind))
        if self.simulated is not None:
            q = q.where(site.c.simulated.is_(self.simulated))
        with store.engine.connect() as conn:
            rows = conn.execute(q.order_by(site.c.kind, site.c.code)).all()
        if allowed is not None:
            rows = [r for r in rows if r.place_id in allowed]
        found = len(rows)
        rows = rows[page.offset : page.offset + page.limit]
        stations = [r.id for r in rows if r.kind in STATION_KINDS]
        config = with_config(DEFAULT_CONFIG, offline_hours=float(offline_after_hours))
        status = station_now(store, stations, now=now or now_utc(), config=config)
        out = []
        for r in rows:
            item: dict[str, Any] = {
                "id": r.id,
                "kind": r.kind,
                "code": r.code,
                "name": r.name,
                "lon": r.lon,
                "lat": r.lat,
                "simulated": bool(r.simulated),
                "place": place_ref(tree.nodes.get(r.place_id)) if r.place_id is not None else None,
                "county": place_ref(tree.up_to(r.place_id, "county")),
            }
            if r.kind in STATION_KINDS:
                item.update(station_entry(status.get(r.id)))
            out.append(item)
        return out, found


def station_entry(now_state: StationNow | None) -> dict[str, Any]:
    """The ``online``, ``latest`` and ``aqi`` members of a station in ``/sites`` from its
    :class:`bogda.monitoring.status.StationNow`."""
    if now_state is None or now_state.hour is None:
        return {"online": bool(now_state and now_state.online), "latest": None, "aqi": None}
    entry: dict[str, Any] = {
        "online": now_state.online,
        "latest": {"datetime": stamp(now_state.hour), "values": dict(now_state.values)},
        "aqi": None,
    }
    if now_state.aqi is not None and now_state.level:
        cat = aqi_std.categories()[now_state.level - 1]
        entry["aqi"] = {
            "value": now_state.aqi,
            "level": now_state.level,
            "category": cat.name_zh,
            "category_en": cat.name_en,
            "color": cat.hex,
            "primary_pollutant": now_state.primary_pollutant,
            "standard": now_state.standard,
        }
    return entry


@router.get("/sites", summary="Sites; stations with latest values, AQI and online flag")
def sites(
    request: Request,
    q: Annotated[SitesQuery, Depends(SitesQuery.depends)],
    page: Annotated[Paging, Depends(paging)],
    who: Annotated[Principal, Depends(require_user)],
) -> dict[str, Any]:
    settings = request.app.state.settings
    results, found = q.run(store_of(request), who, page, offline_after_hours=settings.offline_after_hours)
    return envelope(results, page, found)
