"""``GET /api/v1/findings``: the problem list (read only), filtered and scoped; ``/findings/{id}`` one finding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from bogda import findings as F
from bogda.registry.places import descendants
from bogda.store import Store
from bogda.web.api.common import ApiError, Paging, PlaceTree, envelope, paging, place_ref, stamp, store_of
from bogda.web.auth import Principal, require_user

router = APIRouter(tags=["findings"])


@dataclass
class FindingsQuery:
    """Filters of ``/findings``: ``kind``, ``status`` (repeatable), ``place`` (id or code, and below), ``since``."""

    kind: list[str] | None = None
    status: list[str] | None = None
    place: str | None = None
    since: datetime | None = None

    @classmethod
    def depends(
        cls,
        kind: Annotated[list[str] | None, Query(description=f"Finding kind, repeatable: {', '.join(F.KINDS)}.")] = None,
        status: Annotated[list[str] | None, Query(description=f"Status, repeatable: {', '.join(F.STATUSES)}.")] = None,
        place: Annotated[str | None, Query(description="Only findings in this place or below (id or code).")] = None,
        since: Annotated[
            datetime | None, Query(description="Only findings seen at or after this time (ISO 8601 with offset).")
        ] = None,
    ) -> FindingsQuery:
        for k in kind or []:
            if k not in F.KINDS:
                raise ApiError(422, "kind", f"unknown finding kind {k!r}; expected one of {', '.join(F.KINDS)}")
        for s in status or []:
            if s not in F.STATUSES:
                raise ApiError(422, "status", f"unknown status {s!r}; expected one of {', '.join(F.STATUSES)}")
        if since is not None and since.tzinfo is None:
            raise ApiError(422, "since", "give a time zone offset (e.g. 2026-03-01T08:00:00+08:00 or …Z)")
        return cls(kind, status, place, since)

    def run(self, store: Store, who: Principal, page: Paging) -> tuple[list[dict[str, Any]], int]:
        tree = PlaceTree(store)
        allowed = who.places
        if self.place is not None:
            under = frozenset(descendants(store, tree.resolve(self.place, "place")))
            allowed = under if allowed is None else allowed & under
        rows, found = F.query(
            store,
            kinds=self.kind,
            statuses=self.status,
            place_ids=sorted(allowed) if allowed is not None else None,
            since=self.since,
            limit=page.limit,
            offset=page.offset,
        )
        return [finding_json(r, tree) for r in rows], found


def finding_json(r: dict[str, Any], tree: PlaceTree) -> dict[str, Any]:
    node = tree.nodes.get(r["place_id"]) if r.get("place_id") is not None else None
    return {
        "id": r["id"],
        "kind": r["kind"],
        "severity": r["severity"],
        "status": r["status"],
        "title": r["title"],
        "detected_at": stamp(r["detected_at"]),
        "first_seen": stamp(r["first_seen"]),
        "last_seen": stamp(r["last_seen"]),
        "count": r["count"],
        "place": place_ref(node),
        "county": place_ref(tree.up_to(r.get("place_id"), "county")),
        "lon": r["lon"],
        "lat": r["lat"],
        "subject_site_id": r["subject_site_id"],
        "evidence": r["evidence"],
        "status_reason": r["status_reason"],
        "status_by": r["status_by"],
        "status_at": stamp(r["status_at"]),
    }


@router.get("/findings", summary="The problem list (read only)")
def findings(
    request: Request,
    q: Annotated[FindingsQuery, Depends(FindingsQuery.depends)],
    page: Annotated[Paging, Depends(paging)],
    who: Annotated[Principal, Depends(require_user)],
) -> dict[str, Any]:
    results, found = q.run(store_of(request), who, page)
    return envelope(results, page, found)


@router.get("/findings/{finding_id}", summary="One finding")
def finding(
    request: Request,
    finding_id: Annotated[int, Path(ge=1)],
    who: Annotated[Principal, Depends(require_user)],
) -> dict[str, Any]:
    store = store_of(request)
    row = F.get(store, finding_id)
    if row is None or not who.sees(row.get("place_id")):  # out of scope looks the same as missing
        raise ApiError(404, "finding_id", f"no finding {finding_id}", "path")
    return finding_json(row, PlaceTree(store))
