"""``GET /api/v1/sites``: sites with position, place, county and simulated flag; stations also carry their latest
hourly values, the real-time AQI of that hour and whether they are online.

:class:`SitesQuery` is also what the console's map and station table call (faces share one query, no HTTP hop).
Its "latest values + online" part is a read model over ``series``/``latest`` that belongs to a lower floor
(monitoring) once one offers it; it lives here until then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import numpy as np
import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from bogda.registry.places import descendants
from bogda.registry.sites import SITE_KINDS
from bogda.standards import aqi as aqi_std
from bogda.standards.pollutants import POLLUTANTS
from bogda.store import Store, series
from bogda.store.schema import site
from bogda.timeutil import now_utc
from bogda.web.api.common import Paging, PlaceTree, envelope, paging, place_ref, stamp, store_of
from bogda.web.auth import Principal, require_user

STATION_KINDS = ("air_station", "water_station")
AQI_CODES = tuple(POLLUTANTS)
"""HJ 212-2017 codes of the six AQI pollutants."""

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
        status = station_status(store, stations, offline_after_hours=offline_after_hours, now=now or now_utc())
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
                item.update(status.get(r.id, {"online": False, "latest": None, "aqi": None}))
            out.append(item)
        return out, found


def station_status(
    store: Store, site_ids: list[int], *, offline_after_hours: float, now: datetime
) -> dict[int, dict[str, Any]]:
    """Latest hour of each station, its values, real-time AQI and online flag.

    A station is online when its newest hourly value starts at most ``offline_after_hours`` before ``now``. The
    AQI is the real-time (hourly) AQI of the values of that newest hour (HJ 633-2026 4.2.4 / HJ 633-2012 5.2,
    version by the hour's date) computed by :func:`bogda.standards.aqi.aqi_hourly`.
    """
    if not site_ids:
        return {}
    df = series.read_latest(store, sites=site_ids, resolution="hour")
    out: dict[int, dict[str, Any]] = {}
    if df.is_empty():
        return out
    newest = df.group_by("site_id").agg(pl.col("ts").max().alias("newest"))
    df = df.join(newest, on="site_id").filter(pl.col("ts") == pl.col("newest"))
    order = sorted(set(df["site_id"].to_list()))
    pos = {sid: i for i, sid in enumerate(order)}
    hours: list[datetime] = [now] * len(order)
    values: list[dict[str, float | None]] = [{} for _ in order]
    for sid, par, ts, val in df.select("site_id", "parameter", "ts", "value").iter_rows():
        i = pos[sid]
        hours[i] = ts
        values[i][par] = None if val is None or math.isnan(val) else float(val)
    conc = {code: np.array([_num(v.get(code)) for v in values], dtype=float) for code in AQI_CODES}
    has_aqi_items = any(np.isfinite(a).any() for a in conc.values())
    result = aqi_std.aqi_hourly(conc, ts=pl.Series(hours)) if has_aqi_items else None
    cats = aqi_std.categories()
    for sid, i in pos.items():
        latest_ts = hours[i]
        entry: dict[str, Any] = {
            "online": (now - latest_ts) <= timedelta(hours=offline_after_hours),
            "latest": {"datetime": stamp(latest_ts), "values": values[i]},
            "aqi": None,
        }
        if result is not None and result.aqi_int[i] >= 0:
            level = int(result.level[i])
            cat = cats[level - 1]
            entry["aqi"] = {
                "value": int(result.aqi_int[i]),
                "level": level,
                "category": cat.name_zh,
                "category_en": cat.name_en,
                "color": cat.hex,
                "primary_pollutant": result.primary[i],
                "standard": aqi_std.standard_for(latest_ts),
            }
        out[sid] = entry
    return out


def _num(v: float | None) -> float:
    return np.nan if v is None else v


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
