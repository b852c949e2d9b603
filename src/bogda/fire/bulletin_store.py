"""Straw-burning bulletin points in the store (fire.md §3.8, §4 ``bulletin_fire_point``).

:func:`import_bulletin` reads a bulletin list (:func:`~bogda.fire.bulletins.read_bulletin`), attributes each point to
a county of the jurisdiction by point-in-polygon (the listed county name is kept as written), stores it once per
list (the list's SHA-256 and line number), and :func:`match_bulletins` matches the points to screened detections of
the same Beijing date within ``bulletin_match_km`` (1.5 km). The monthly statistics
(:func:`bogda.fire.service.stats`) count imported and matched points per county; the unmatched lists both ways
come from :func:`unmatched`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import bindparam, select

from bogda.fire.bulletins import read_bulletin
from bogda.fire.config import FireConfig
from bogda.fire.feed import sha256_bytes
from bogda.fire.region import assign_region
from bogda.fire.stats import match_bulletin
from bogda.fire.storage import insert_frame
from bogda.store import Store
from bogda.store.schema import bulletin_fire_point, finding, fire_detection
from bogda.timeutil import now_utc


@dataclass
class BulletinReport:
    """What one import did."""

    name: str
    bulletin_id: str
    n_rows: int = 0
    n_new: int = 0
    n_known: int = 0  # already imported from the same list
    n_in_area: int = 0
    n_matched: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def import_bulletin(
    store: Store, path: str | Path, *, prefecture: str | None = None, config: FireConfig | None = None
) -> BulletinReport:
    """Store the points of a bulletin list and match them to the stored detections.

    Parameters
    ----------
    path : str or Path
        xlsx or CSV with 时间, 中心经度, 中心纬度, 省, 市, 县 (fire.md §2.4); WGS-84 coordinates.
    prefecture : str, optional
        Adcode of the jurisdiction whose counties attribute the points (default: the registry's prefecture); points
        outside it are stored with a null ``county_code``.

    Raises
    ------
    FireFormatError
        The list lacks date or coordinates (from :func:`~bogda.fire.bulletins.read_bulletin`).
    """
    from bogda.fire.service import load_region  # the service layer owns the registry reading

    p = Path(path)
    frame, rejected = read_bulletin(p)
    bid = sha256_bytes(p.read_bytes())
    report = BulletinReport(p.name, bid, n_rows=frame.height + len(rejected))
    report.rejected = [{"line": r.line, "field": r.field, "reason": r.reason, "raw": r.raw[:500]} for r in rejected]
    region = load_region(store, prefecture)
    if region is not None and frame.height:
        codes = assign_region(frame.select("lon", "lat"), region.counties, area=region.area)
        frame = frame.with_columns(county_code=codes["county_code"].cast(pl.String))
    else:
        frame = frame.with_columns(county_code=pl.lit(None, pl.String))
    with store.begin() as conn:
        known = set(
            conn.execute(
                select(bulletin_fire_point.c.line_no).where(bulletin_fire_point.c.bulletin_id == bid)
            ).scalars()
        )
        new = frame.filter(~pl.col("line_no").is_in(list(known)))
        report.n_known = frame.height - new.height
        report.n_new = new.height
        report.n_in_area = int(frame["county_code"].is_not_null().sum()) if frame.height else 0
        cols = ["source_file", "line_no", "date_bjt", "lat", "lon", "province", "city", "county", "township"]
        insert_frame(
            conn,
            bulletin_fire_point,
            new.select(
                *cols,
                pl.col("satellite_text").str.slice(0, 64),
                "county_code",
                bulletin_id=pl.lit(bid),
                imported_at=pl.lit(now_utc(), pl.Datetime("us", "UTC")),
            ),
        )
    if frame.height:
        report.n_matched = match_bulletins(store, frame["date_bjt"].min(), frame["date_bjt"].max(), config=config)
    return report


def match_bulletins(store: Store, start: date, end: date, *, config: FireConfig | None = None) -> int:
    """(Re-)match the stored bulletin points of Beijing dates ``start..end`` to screened detections (same date,
    ≤ ``bulletin_match_km``); returns how many are matched. Run again after new detections arrive."""
    with store.begin() as conn:
        pts = pl.DataFrame(
            conn.execute(
                select(
                    bulletin_fire_point.c.id,
                    bulletin_fire_point.c.date_bjt,
                    bulletin_fire_point.c.lat,
                    bulletin_fire_point.c.lon,
                ).where(bulletin_fire_point.c.date_bjt.between(start, end))
            ).all(),
            schema={"id": pl.Int64, "date_bjt": pl.Date, "lat": pl.Float64, "lon": pl.Float64},
            orient="row",
        )
        if pts.height == 0:
            return 0
        det = pl.DataFrame(
            conn.execute(
                select(
                    fire_detection.c.id,
                    fire_detection.c.date_bjt,
                    fire_detection.c.lat,
                    fire_detection.c.lon,
                    fire_detection.c.screened,
                ).where(fire_detection.c.date_bjt.between(start, end), fire_detection.c.screened)
            ).all(),
            schema={"id": pl.Int64, "date_bjt": pl.Date, "lat": pl.Float64, "lon": pl.Float64, "screened": pl.Boolean},
            orient="row",
        )
        m = match_bulletin(pts, det, config)
        det_ids = det["id"].to_list()
        rows = [
            {"b": int(b), "d": None if r is None else int(det_ids[r]), "km": km}
            for b, r, km in m.select("id", "matched_row", "match_km").iter_rows()
        ]
        conn.execute(
            bulletin_fire_point.update()
            .where(bulletin_fire_point.c.id == bindparam("b"))
            .values(matched_detection_id=bindparam("d"), match_km=bindparam("km")),
            rows,
        )
    return sum(r["d"] is not None for r in rows)


def bulletin_points(store: Store, start: date | None = None, end: date | None = None) -> pl.DataFrame:
    """Stored bulletin points (county_code, date_bjt, matched …) for the monthly statistics."""
    q = select(
        bulletin_fire_point.c.id,
        bulletin_fire_point.c.county_code,
        bulletin_fire_point.c.date_bjt,
        bulletin_fire_point.c.lat,
        bulletin_fire_point.c.lon,
        bulletin_fire_point.c.county,
        bulletin_fire_point.c.matched_detection_id,
    )
    if start is not None:
        q = q.where(bulletin_fire_point.c.date_bjt >= start)
    if end is not None:
        q = q.where(bulletin_fire_point.c.date_bjt <= end)
    with store.engine.connect() as conn:
        rows = conn.execute(q.order_by(bulletin_fire_point.c.id)).all()
    return pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64,
            "county_code": pl.String,
            "date_bjt": pl.Date,
            "lat": pl.Float64,
            "lon": pl.Float64,
            "county": pl.String,
            "matched_detection_id": pl.Int64,
        },
        orient="row",
    ).with_columns(matched=pl.col("matched_detection_id").is_not_null())


def unmatched(store: Store, start: date, end: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both unmatched lists of fire.md §3.8 for Beijing dates ``start..end`` inside the jurisdiction: bulletin points
    without a screened detection, and screened in-area detections no bulletin point matched."""
    pts = bulletin_points(store, start, end).filter(pl.col("county_code").is_not_null())
    with store.engine.connect() as conn:
        det = pl.DataFrame(
            conn.execute(
                select(
                    fire_detection.c.id,
                    fire_detection.c.date_bjt,
                    fire_detection.c.lat,
                    fire_detection.c.lon,
                    fire_detection.c.county_code,
                ).where(
                    fire_detection.c.date_bjt.between(start, end), fire_detection.c.screened, fire_detection.c.in_area
                )
            ).all(),
            schema={
                "id": pl.Int64,
                "date_bjt": pl.Date,
                "lat": pl.Float64,
                "lon": pl.Float64,
                "county_code": pl.String,
            },
            orient="row",
        )
    matched_ids = pts["matched_detection_id"].drop_nulls().to_list()
    return pts.filter(~pl.col("matched")), det.filter(~pl.col("id").is_in(matched_ids))


def bulletin_findings(store: Store, start: date, end: date) -> list[int]:
    """File a fire finding (evidence ``source: bulletin``) for each bulletin point of Beijing dates ``start..end``
    inside the jurisdiction that no screened detection matched (fire.md §3.8: "unmatched bulletin points may become
    findings"); the grid routes them like satellite fire findings. A point whose finding exists already (any status)
    is not filed again. Returns the ids of the findings created."""
    from bogda import findings as F
    from bogda.fire.alerts import bulletin_drafts
    from bogda.fire.service import place_index  # the service layer owns the registry reading
    from bogda.registry.places import list_places

    pts = bulletin_points(store, start, end).filter(pl.col("county_code").is_not_null() & ~pl.col("matched"))
    if pts.height == 0:
        return []
    names = {p.code: p.name for p in list_places(store, kinds=["county"], with_geometry=False)}
    drafts = bulletin_drafts(pts.with_columns(matched_row=pl.lit(None, pl.Int64)), names)
    keys = [d.dedupe_key for d in drafts]
    index = place_index(store)
    with store.begin() as conn:
        have: set[str] = set()
        q = select(finding.c.dedupe_key).where(finding.c.dedupe_key.in_(bindparam("keys", expanding=True)))
        for k in range(0, len(keys), 500):
            have |= set(conn.execute(q, {"keys": keys[k : k + 500]}).scalars())
        todo = [
            F.FindingDraft(
                kind="fire",
                severity=d.severity,
                title=d.title,
                dedupe_key=d.dedupe_key,
                detected_at=d.detected_at,
                lon=d.lon,
                lat=d.lat,
                evidence={**d.evidence, "bulletin_point_id": int(pid)},
            )
            for d, pid in zip(drafts, pts["id"], strict=True)
            if d.dedupe_key not in have
        ]
        outcomes = F.raise_findings_bulk(conn, todo, index=index)
    return [o.finding_id for o in outcomes if o.action == "created"]
