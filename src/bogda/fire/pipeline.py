"""One pure call for the service layer: de-duplicate, region-filter, flag, cluster, track, alert, count.

:func:`process_detections` takes frames and geometries (no database, no clock) and returns a :class:`FireResult`
the service writes to the store; the finding drafts go to the findings store, which the grid turns into
``fire_verification`` tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
import shapely

from bogda.fire.alerts import AlertPlan, FindingDraft, OpenFinding, PastAlert, nearest_within, plan_alerts
from bogda.fire.cluster import cluster_detections, summarise_clusters
from bogda.fire.config import FireConfig
from bogda.fire.events import track_events
from bogda.fire.formats import deduplicate
from bogda.fire.masks import apply_flags, learn_sites
from bogda.fire.region import Boundary, assign_region
from bogda.fire.stats import daily_stats


@dataclass(frozen=True)
class Region:
    """The jurisdiction: county polygons (WGS-84), the prefecture outline and county names."""

    counties: list[Boundary]
    area: shapely.Geometry | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    margin_km: float = 50.0


@dataclass
class FireResult:
    """Everything one processing run produces."""

    detections: pl.DataFrame  # batch + history, flagged, with overpass/cluster/event ids and ``is_new``
    n_duplicate: int
    clusters: pl.DataFrame
    events: pl.DataFrame
    plan: AlertPlan
    learned: pl.DataFrame
    daily: pl.DataFrame

    @property
    def heat_stream(self) -> pl.DataFrame:
        """Masked detections: the enterprise heat-source stream (fire.md §3.3)."""
        return self.detections.filter(pl.col("masked") & pl.col("is_new"))

    @property
    def drafts(self) -> list[FindingDraft]:
        """Finding drafts (new / attach / escalate) for the findings store."""
        return self.plan.drafts


def process_detections(
    frame: pl.DataFrame,
    region: Region | None,
    plants: pl.DataFrame | None = None,
    history: pl.DataFrame | None = None,
    config: FireConfig | None = None,
    *,
    learned: pl.DataFrame | None = None,
    open_findings: Iterable[OpenFinding] = (),
    past_alerts: Iterable[PastAlert] = (),
    asof: datetime | None = None,
) -> FireResult:
    """Run the fire pipeline on a batch of normalised detections.

    Parameters
    ----------
    frame : DataFrame
        New detections (:data:`bogda.fire.formats.DETECTION_SCHEMA`), possibly from several files.
    region : Region or None
        None = the whole globe (benchmark mode, every row in area).
    plants : DataFrame, optional
        Registry heat sources (:func:`bogda.fire.masks.heat_sources`).
    history : DataFrame, optional
        Earlier detections (same schema): their keys de-duplicate the batch, they give events their recent footprint
        and, when ``learned`` is None, the learned persistence mask is built from them (§3.9).
    learned : DataFrame, optional
        Pre-computed learned sites (the nightly job's output); overrides learning from ``history``.
    open_findings, past_alerts
        The store's current fire findings and recent alerts, for attach / suppress decisions (§3.7).
    asof : datetime, optional
        Evaluation time for event states and the learned lookback (default: latest detection).
    """
    cfg = config or FireConfig()
    batch, n_dup = deduplicate(frame, history)
    parts = [batch.with_columns(is_new=pl.lit(True))]
    if history is not None and history.height:
        parts.insert(0, history.select(batch.columns).with_columns(is_new=pl.lit(False)))
    det = pl.concat(parts)
    if asof is None and det.height:
        asof = det["acq_time_utc"].max()
    if region is not None:
        det = assign_region(det, region.counties, area=region.area, margin_km=region.margin_km)
    else:
        det = det.with_columns(county_code=pl.lit(None, dtype=pl.String), in_bbox=pl.lit(True), in_area=pl.lit(True))
    if learned is None:
        learned = learn_sites(history, asof=asof, config=cfg) if history is not None and history.height else None
    det = apply_flags(det, registry=plants, learned=learned, config=cfg)
    det = det.with_row_index("det_id")

    eligible = det.filter(pl.col("in_bbox") & ~pl.col("spurious") & ~pl.col("masked"))
    eligible = cluster_detections(eligible, cfg)
    clusters = summarise_clusters(eligible)
    cflags = eligible.group_by("cluster_id").agg(
        any_confident=(~pl.col("low_confidence")).any(),
        is_new=pl.col("is_new").all(),
        confidence=pl.col("confidence_raw").sort_by(pl.col("frp_mw").fill_null(-1.0)).last(),
        detection_keys=pl.format(
            "{}|{}|{}|{}", "satellite", pl.col("acq_time_utc").dt.strftime("%Y-%m-%dT%H:%MZ"), "lat", "lon"
        ),
    )
    alarm_flags = eligible.select(
        "cluster_id", alarm_lat="lat", alarm_lon="lon", alarm_in_area="in_area", county_code="county_code"
    ).unique(subset=["cluster_id", "alarm_lat", "alarm_lon"])
    clusters = (
        clusters.join(cflags, on="cluster_id")
        .join(alarm_flags, on=["cluster_id", "alarm_lat", "alarm_lon"], how="left")
        .unique(subset="cluster_id", keep="first", maintain_order=True)
        .with_columns(dispatchable=pl.col("alarm_in_area").fill_null(False) & pl.col("any_confident"))
    )
    events, cluster_events = track_events(eligible, clusters, asof=asof, config=cfg)
    eligible = eligible.join(cluster_events, on="cluster_id", how="left")
    det = det.join(eligible.select("det_id", "overpass_id", "cluster_id", "event_id"), on="det_id", how="left")
    clusters = clusters.join(cluster_events, on="cluster_id", how="left")

    nearest: dict[int, dict] = {}
    new_clusters = clusters.filter(pl.col("is_new") & pl.col("dispatchable"))
    if plants is not None and plants.height and new_clusters.height:
        k, d = nearest_within(
            new_clusters["alarm_lon"].to_numpy(),
            new_clusters["alarm_lat"].to_numpy(),
            plants["lon"].to_numpy(),
            plants["lat"].to_numpy(),
            cfg.nearest_source_km,
        )
        for cid, kk, dd in zip(new_clusters["cluster_id"].to_list(), k, d, strict=True):
            if kk >= 0:
                p = plants.row(int(kk), named=True)
                nearest[cid] = {
                    "source_id": p["source_id"],
                    "name": p["name"],
                    "kind": p["kind"],
                    "distance_km": round(float(dd), 3),
                }
    plan = plan_alerts(
        new_clusters.drop("event_id"),
        cluster_events,
        open_findings=open_findings,
        past_alerts=past_alerts,
        county_names=region.names if region is not None else None,
        nearest_source=nearest,
        config=cfg,
    )
    daily = daily_stats(det.filter(pl.col("is_new")), cfg)
    return FireResult(
        detections=det,
        n_duplicate=n_dup,
        clusters=clusters,
        events=events,
        plan=plan,
        learned=learned if learned is not None else pl.DataFrame(),
        daily=daily,
    )
