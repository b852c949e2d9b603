"""Editable heat-source mask sites (fire.md §2.6, §3.3, §3.9): list, add, change status, with provenance.

Registry plants (``ENT{site_id}``, synchronised from the enterprise registry), learned persistent sites (nightly),
external lists and verification candidates all live in ``fire_mask_site``. Every edit by a person is audited and
sets ``edited_by``, after which the nightly learning no longer changes that site's status. Masks label detections,
they never delete them; a retired site stops masking from the next ingest on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from bogda import audit
from bogda.fire.masks import HEAT_SOURCE_KINDS, heat_sources
from bogda.store import Store
from bogda.store.schema import fire_mask_site
from bogda.timeutil import now_utc

STATUSES = ("active", "candidate", "retired")
EDITABLE = ("name", "kind", "status", "radius_km", "buffer_km", "note", "valid_from", "valid_to")


def list_sites(store: Store, *, origin: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Mask sites, optionally filtered by origin (registry, learned, external, verified_*) and status."""
    q = select(fire_mask_site).order_by(fire_mask_site.c.origin, fire_mask_site.c.source_id)
    if origin is not None:
        q = q.where(fire_mask_site.c.origin == origin)
    if status is not None:
        q = q.where(fire_mask_site.c.status == status)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def add_site(store: Store, record: Mapping[str, Any], *, by: str, user_id: int | None = None) -> str:
    """Add a heat source (fire.md §2.6 fields; ``datum`` required: WGS84, GCJ02 or BD09, converted to WGS-84).

    Returns its ``source_id``. ``ValueError`` for a missing datum, an unknown kind or a duplicate id.
    """
    hs = heat_sources([{**record, "origin": record.get("origin") or "registry"}]).row(0, named=True)
    sid = str(record.get("source_id") or f"HS_{hs['lat']:.4f}_{hs['lon']:.4f}")
    now = now_utc()
    with store.begin() as conn:
        if conn.execute(select(fire_mask_site.c.source_id).where(fire_mask_site.c.source_id == sid)).first():
            raise ValueError(f"heat source {sid} already exists")
        conn.execute(
            fire_mask_site.insert().values(
                source_id=sid,
                name=hs["name"],
                kind=hs["kind"],
                enterprise_id=int(record["enterprise_id"]) if record.get("enterprise_id") else None,
                lon=hs["lon"],
                lat=hs["lat"],
                datum_in=str(record.get("datum")).upper(),
                radius_km=hs["radius_km"] or 0.0,
                buffer_km=hs["buffer_km"],
                origin=hs["origin"],
                status=hs["status"],
                stats={},
                note=hs["note"],
                created_at=now,
                updated_at=now,
                edited_by=by,
            )
        )
        audit.record(
            conn,
            action="fire.mask.add",
            user_id=user_id,
            login=by,
            target=f"fire_mask:{sid}",
            detail={k: v for k, v in record.items() if k != "polygon_wkt"},
            at=now,
        )
    return sid


def update_site(
    store: Store, source_id: str, changes: Mapping[str, Any], *, by: str, user_id: int | None = None
) -> dict[str, Any]:
    """Change a site's editable fields (e.g. approve a candidate: ``{"status": "active"}``); audited."""
    bad = sorted(set(changes) - set(EDITABLE))
    if bad:
        raise ValueError(f"cannot change {', '.join(bad)}; editable: {', '.join(EDITABLE)}")
    if "status" in changes and changes["status"] not in STATUSES:
        raise ValueError(f"status {changes['status']!r}; expected one of {STATUSES}")
    if "kind" in changes and changes["kind"] not in HEAT_SOURCE_KINDS:
        raise ValueError(f"kind {changes['kind']!r}; expected one of {HEAT_SOURCE_KINDS}")
    for k in ("radius_km", "buffer_km"):
        if changes.get(k) is not None and float(changes[k]) < 0:
            raise ValueError(f"{k} must be ≥ 0")
    now = now_utc()
    with store.begin() as conn:
        old = conn.execute(select(fire_mask_site).where(fire_mask_site.c.source_id == source_id)).first()
        if old is None:
            raise LookupError(f"heat source {source_id} does not exist")
        conn.execute(
            fire_mask_site.update()
            .where(fire_mask_site.c.source_id == source_id)
            .values(**dict(changes), edited_by=by, updated_at=now)
        )
        before = {k: old._mapping[k] for k in changes}
        audit.record(
            conn,
            action="fire.mask.update",
            user_id=user_id,
            login=by,
            target=f"fire_mask:{source_id}",
            detail={
                "before": {k: _plain(v) for k, v in before.items()},
                "after": {k: _plain(v) for k, v in changes.items()},
            },
            at=now,
        )
        row = conn.execute(select(fire_mask_site).where(fire_mask_site.c.source_id == source_id)).first()
    return dict(row._mapping)


def _plain(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else v
