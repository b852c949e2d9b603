"""Alerts with repeat suppression and escalation, finding drafts for the findings store (fire.md §3.7, §3.8).

Fire creates findings, never tasks (architecture rules 2–3): :func:`plan_alerts` decides per cluster whether to
attach, suppress, create or escalate and returns :class:`FindingDraft` records; the findings store (not imported
here) records them and the grid routes each ``fire`` finding as a ``fire_verification`` task.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from scipy.spatial import cKDTree

from bogda.fire.config import FireConfig
from bogda.geo import chord_for_km, haversine_km, unit_vectors, wgs84_to_gcj02
from bogda.timeutil import BEIJING

# --------------------------------------------------------------------------------------------------------------
# §3.7 alerts and finding drafts


@dataclass(frozen=True)
class OpenFinding:
    """A fire finding the findings store already holds (passed in by the service layer)."""

    dedupe_key: str
    lon: float
    lat: float
    status: str = "open"  # open / acknowledged / dispatched count as open; resolved / dismissed do not
    event_id: str | None = None
    first_n_pixels: int = 0
    first_sum_frp: float = 0.0
    escalated: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in ("open", "acknowledged", "dispatched")


@dataclass(frozen=True)
class PastAlert:
    """An alert already raised (for repeat suppression)."""

    alert_id: str
    created_at: datetime
    lon: float
    lat: float
    dedupe_key: str | None = None


@dataclass(frozen=True)
class FindingDraft:
    """What the fire analysis asks the findings store to record (architecture rule 3). ``action``: ``new`` (a new
    finding), ``attach`` (still detected: add evidence to the open finding with this ``dedupe_key``) or ``escalate``
    (raise the severity of that finding)."""

    action: str
    kind: str
    severity: str
    detected_at: datetime
    lon: float
    lat: float
    title: str
    evidence: dict[str, Any]
    dedupe_key: str
    place_code: str | None = None


@dataclass(frozen=True)
class Alert:
    """A fire_alert row (fire.md §4): kind new | still_detected | suppressed | escalated."""

    alert_id: str
    kind: str
    event_id: str
    cluster_id: int
    created_at: datetime
    lon: float
    lat: float
    dedupe_key: str | None = None
    suppressed_by: str | None = None


@dataclass
class AlertPlan:
    """Outcome of :func:`plan_alerts`.

    ``frame`` holds one row per alert (alert_id, kind, event_id, cluster_id, created_at, lon, lat, dedupe_key,
    suppressed_by, action, severity) with the cluster's evidence columns; :attr:`alerts` and :attr:`drafts` turn it
    into records (built on access: a whole-globe run has tens of thousands).
    """

    frame: pl.DataFrame = field(default_factory=pl.DataFrame)
    county_names: Mapping[str, str] = field(default_factory=dict)
    nearest_source: Mapping[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def alerts(self) -> list[Alert]:
        if self.frame.height == 0:
            return []
        cols = ["alert_id", "kind", "event_id", "cluster_id", "created_at", "lon", "lat", "dedupe_key", "suppressed_by"]
        return [Alert(*r) for r in self.frame.select(cols).iter_rows()]

    @property
    def drafts(self) -> list[FindingDraft]:
        if self.frame.height == 0:
            return []
        rows = self.frame.filter(pl.col("action").is_not_null())
        rows = rows.select(c for c in _DRAFT_COLUMNS if c in rows.columns)  # rows as dicts cost per column
        return [
            _draft(
                r["action"],
                r["severity"],
                r,
                _evidence(r, self.county_names, self.nearest_source.get(r["cluster_id"])),
                r["dedupe_key"],
            )
            for r in rows.iter_rows(named=True)
        ]

    def n(self, kind: str) -> int:
        """Number of alerts of a kind (new, still_detected, suppressed, escalated)."""
        return 0 if self.frame.height == 0 else int((self.frame["kind"] == kind).sum())


_DRAFT_COLUMNS = (
    "action",
    "severity",
    "dedupe_key",
    "event_id",
    "cluster_id",
    "acq_time_utc",
    "_bjt_iso",
    "_title",
    "alarm_lon",
    "alarm_lat",
    "_glon",
    "_glat",
    "county_code",
    "satellite",
    "sensor",
    "max_frp",
    "confidence",
    "n_pixels",
    "detection_keys",
)
"""The plan's columns that :func:`_evidence` and :func:`_draft` read."""


def _bjt(t: datetime) -> datetime:
    return t.astimezone(BEIJING)


def finding_title(county_name: str | None, t: datetime, satellites: Sequence[str], n_pixels: int) -> str:
    """Chinese title of a fire finding, e.g. ``卫星火点：吉木萨尔县 11月18日 11:49（Terra，1个像元）``."""
    place = county_name or "辖区"
    b = _bjt(t)
    return f"卫星火点：{place} {b.month}月{b.day}日 {b:%H:%M}（{'/'.join(satellites)}，{n_pixels}个像元）"


def plan_alerts(
    clusters: pl.DataFrame,
    cluster_events: pl.DataFrame,
    *,
    open_findings: Iterable[OpenFinding] = (),
    past_alerts: Iterable[PastAlert] = (),
    county_names: Mapping[str, str] | None = None,
    nearest_source: Mapping[int, dict[str, Any]] | None = None,
    config: FireConfig | None = None,
) -> AlertPlan:
    """Decide, cluster by cluster in time order, whether to attach, suppress, create or escalate (fire.md §3.7).

    1. an open fire finding within ``attach_km`` → ``still_detected``: the cluster is attached as evidence
       (draft ``attach``); when the event's overpass n_pixels or FRP sum reaches ``escalation_factor`` × its value at
       the first alert → ``escalated`` (draft ``escalate``, severity high), once;
    2. else an alert within ``suppress_km`` in the last ``suppress_window`` → ``suppressed`` (linked to it);
    3. else → ``new`` alert and a new finding (draft ``new``).

    Findings created in this run stay open while their event is not closed (``event_sleep + event_close`` after
    their last detection); findings passed in are open as their status says.

    Parameters
    ----------
    clusters : DataFrame
        Cluster summaries with ``dispatchable`` (inside the prefecture, not masked/spurious/low-confidence),
        ``county_code`` and ``confidence`` columns; non-dispatchable clusters are skipped (shown, not dispatched).
    cluster_events : DataFrame
        cluster_id → event_id.
    open_findings, past_alerts
        The store's current fire findings and recent alerts.
    nearest_source : mapping cluster_id → {source_id, name, kind, distance_km}, optional
        Nearest registry heat source within 3 km, for the task payload.
    """
    cfg = config or FireConfig()
    names = dict(county_names or {})
    plan = AlertPlan(county_names=names, nearest_source=dict(nearest_source or {}))
    cl = clusters.join(cluster_events, on="cluster_id").sort("acq_time_utc", "cluster_id")
    if "dispatchable" in cl.columns:
        cl = cl.filter(pl.col("dispatchable"))
    if cl.height == 0:
        return plan
    for col in ("county_code", "confidence", "detection_keys", "max_frp"):
        if col not in cl.columns:
            cl = cl.with_columns(pl.lit(None).alias(col))
    totals = cl.group_by("event_id", "overpass_id").agg(_n=pl.col("n_pixels").sum(), _frp=pl.col("sum_frp").sum())
    cl = cl.join(totals, on=["event_id", "overpass_id"], how="left")
    glon, glat = wgs84_to_gcj02(cl["alarm_lon"].to_numpy(), cl["alarm_lat"].to_numpy())
    cl = cl.with_columns(
        _glon=pl.Series(glon).round(6),
        _glat=pl.Series(glat).round(6),
        _bjt=pl.col("acq_time_utc").dt.convert_time_zone("Asia/Shanghai"),
    )
    cl = cl.with_columns(
        _bjt_iso=pl.col("_bjt").dt.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        _title=pl.format(
            "卫星火点：{} {}月{}日 {}（{}，{}个像元）",
            pl.col("county_code").replace_strict(names, default="辖区", return_dtype=pl.String).fill_null("辖区"),
            pl.col("_bjt").dt.month(),
            pl.col("_bjt").dt.day(),
            pl.col("_bjt").dt.strftime("%H:%M"),
            pl.col("satellite"),
            pl.col("n_pixels"),
        ),
    )
    # clusters with nothing (other cluster, finding, alert) within reach are decided without the sequential index
    findings = list(open_findings)
    alerts = list(past_alerts)
    reach = max(cfg.attach_km, cfg.suppress_km)
    lon_all = np.concatenate([cl["alarm_lon"].to_numpy(), [f.lon for f in findings], [a.lon for a in alerts]])
    lat_all = np.concatenate([cl["alarm_lat"].to_numpy(), [f.lat for f in findings], [a.lat for a in alerts]])
    crowded = np.zeros(len(lon_all), dtype=bool)
    if len(lon_all) > 1:
        tree = cKDTree(unit_vectors(lon_all, lat_all))
        pairs = tree.query_pairs(float(chord_for_km(reach)) * 1.0001, output_type="ndarray")
        crowded[pairs.ravel()] = True
    crowded = crowded[: cl.height].tolist()

    f_index = _PointIndex(reach)
    f_last: list[datetime | None] = []
    for f in findings:
        f_index.add(f.lon, f.lat)
        f_last.append(None)
    a_index = _PointIndex(reach)
    for pa in alerts:
        a_index.add(pa.lon, pa.lat)
    life = cfg.event_sleep + cfg.event_close
    cl = cl.with_columns(
        _key=pl.format("fire:{}:{}", pl.col("event_id"), pl.col("acq_time_utc").dt.strftime("%Y%m%d%H%M"))
    )
    times = cl["acq_time_utc"].to_list()
    lons = cl["alarm_lon"].to_list()
    lats = cl["alarm_lat"].to_list()
    evs = cl["event_id"].to_list()
    keys = cl["_key"].to_list()
    cids = cl["cluster_id"].to_list()
    n_tot = cl["_n"].to_list()
    frp_tot = cl["_frp"].fill_null(0.0).to_list()
    # decisions: (row, kind, dedupe_key, suppressed_by, action, severity); uncrowded rows are plain "new"
    out: list[tuple[int, str, str | None, str | None, str | None, str | None]] = []
    for k in (i for i, busy in enumerate(crowded) if busy):
        t, lon, lat = times[k], lons[k], lats[k]

        def is_open(m: int, t: datetime = t) -> bool:
            last = f_last[m]
            return findings[m].is_open and (last is None or t - last <= life)

        near = _nearest_in(f_index, is_open, lon, lat, cfg.attach_km)
        if near is not None:
            f = findings[near]
            if f_last[near] is not None:
                f_last[near] = t
            out.append((k, "still_detected", f.dedupe_key, None, "attach", "medium"))
            grown = (f.first_n_pixels and n_tot[k] >= cfg.escalation_factor * f.first_n_pixels) or (
                f.first_sum_frp and frp_tot[k] >= cfg.escalation_factor * f.first_sum_frp
            )
            if grown and not f.escalated:
                findings[near] = replace(f, escalated=True)
                out.append((k, "escalated", f.dedupe_key, None, "escalate", "high"))
            continue

        def recent(m: int, t: datetime = t) -> bool:
            return timedelta(0) <= t - alerts[m].created_at <= cfg.suppress_window

        prev = _nearest_in(a_index, recent, lon, lat, cfg.suppress_km)
        if prev is not None:
            by = alerts[prev]
            out.append((k, "suppressed", by.dedupe_key, by.alert_id, None, None))
            continue
        out.append((k, "new", keys[k], None, "new", "medium"))
        alerts.append(PastAlert(_alert_id(t, cids[k]), t, lon, lat, keys[k]))
        a_index.add(lon, lat)
        findings.append(OpenFinding(keys[k], lon, lat, "open", evs[k], int(n_tot[k]), float(frp_tot[k])))
        f_last.append(t)
        f_index.add(lon, lat)
    dec_schema = {
        "_r": pl.Int64,
        "kind": pl.String,
        "dedupe_key": pl.String,
        "suppressed_by": pl.String,
        "action": pl.String,
        "severity": pl.String,
        "_seq": pl.Int64,
    }
    busy_dec = pl.DataFrame([(*d, n) for n, d in enumerate(out, start=1)], schema=dec_schema, orient="row")
    quiet = (
        cl.with_row_index("_r")
        .filter(~pl.Series(crowded))
        .select(
            pl.col("_r").cast(pl.Int64),
            kind=pl.lit("new"),
            dedupe_key="_key",
            suppressed_by=pl.lit(None, dtype=pl.String),
            action=pl.lit("new"),
            severity=pl.lit("medium"),
            _seq=pl.lit(0, dtype=pl.Int64),
        )
    )
    dec = pl.concat([busy_dec, quiet]).sort("_r", "_seq")
    frame = dec.join(cl.with_row_index("_r").with_columns(pl.col("_r").cast(pl.Int64)), on="_r", how="left")
    frame = frame.with_columns(
        alert_id=pl.format(
            "FA{}-{}{}",  # = _alert_id(), plus "e" for the escalation of the same cluster
            pl.col("acq_time_utc").dt.strftime("%Y%m%d%H%M"),
            pl.col("cluster_id"),
            pl.when(pl.col("kind") == "escalated").then(pl.lit("e")).otherwise(pl.lit("")),
        ),
        created_at="acq_time_utc",
        lon="alarm_lon",
        lat="alarm_lat",
    )
    plan.frame = frame.drop("_r", "_seq")
    return plan


def _alert_id(t: datetime, cluster_id: int) -> str:
    return f"FA{t:%Y%m%d%H%M}-{cluster_id}"


class _PointIndex:
    """Incremental spatial hash on unit-sphere cubes of side ``cell_km``: neighbours within ``cell_km`` are in the
    27 surrounding cubes."""

    def __init__(self, cell_km: float) -> None:
        self.inv_cell = 6371.0088 / cell_km
        self.buckets: dict[tuple[int, int, int], list[int]] = {}
        self.lon: list[float] = []
        self.lat: list[float] = []

    def _key(self, lon: float, lat: float) -> tuple[int, int, int]:
        la, lo = math.radians(lat), math.radians(lon)
        c = math.cos(la) * self.inv_cell
        return (math.floor(c * math.cos(lo)), math.floor(c * math.sin(lo)), math.floor(math.sin(la) * self.inv_cell))

    def add(self, lon: float, lat: float) -> int:
        k = len(self.lon)
        self.lon.append(lon)
        self.lat.append(lat)
        self.buckets.setdefault(self._key(lon, lat), []).append(k)
        return k

    def near(self, lon: float, lat: float) -> list[int]:
        x, y, z = self._key(lon, lat)
        out: list[int] = []
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dz in (-1, 0, 1):
                    out.extend(self.buckets.get((x + dx, y + dy, z + dz), ()))
        return out


def _km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def _nearest_in(
    index: _PointIndex, keep: Callable[[int], bool], lon: float, lat: float, within_km: float
) -> int | None:
    best, best_d = None, within_km
    for k in index.near(lon, lat):
        if not keep(k):
            continue
        d = _km(index.lon[k], index.lat[k], lon, lat)
        if d <= best_d:
            best, best_d = k, d
    return best


def _evidence(row: Mapping[str, Any], names: Mapping[str, str], source: dict[str, Any] | None) -> dict[str, Any]:
    code = row.get("county_code")
    return {
        "event_id": row["event_id"],
        "cluster_id": int(row["cluster_id"]),
        "alarm_time_bjt": row["_bjt_iso"],
        "wgs84": [round(float(row["alarm_lon"]), 6), round(float(row["alarm_lat"]), 6)],
        "gcj02": [row["_glon"], row["_glat"]],
        "county_code": code,
        "county_name": names.get(code) if code else None,
        "satellites": [row["satellite"]],
        "sensor": row["sensor"],
        "max_frp_mw": row.get("max_frp"),
        "confidence": row.get("confidence"),
        "n_pixels": int(row["n_pixels"]),
        "detection_keys": row.get("detection_keys"),
        "nearest_source": source,
        "map_link": f"https://uri.amap.com/marker?position={row['_glon']:.6f},{row['_glat']:.6f}",
    }


def _draft(action: str, severity: str, row: Mapping[str, Any], evidence: dict[str, Any], key: str) -> FindingDraft:
    return FindingDraft(
        action=action,
        kind="fire",
        severity=severity,
        detected_at=row["acq_time_utc"],
        lon=float(row["alarm_lon"]),
        lat=float(row["alarm_lat"]),
        title=row["_title"],
        evidence=evidence,
        dedupe_key=key,
        place_code=row.get("county_code"),
    )


def nearest_within(
    lon: np.ndarray, lat: np.ndarray, ref_lon: np.ndarray, ref_lat: np.ndarray, within_km: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest reference point within ``within_km`` (−1 if none) and its distance [km]."""
    idx = np.full(len(lon), -1, dtype=np.int64)
    dist = np.full(len(lon), np.inf)
    if len(ref_lon) == 0 or len(lon) == 0:
        return idx, dist
    tree = cKDTree(unit_vectors(ref_lon, ref_lat))
    d, k = tree.query(unit_vectors(lon, lat), k=1, distance_upper_bound=float(chord_for_km(within_km)) * 1.0001)
    ok = np.isfinite(d)
    idx[ok] = k[ok]
    dist[ok] = haversine_km(lon[ok], lat[ok], ref_lon[k[ok]], ref_lat[k[ok]])
    within = dist <= within_km
    idx[~within] = -1
    dist[~within] = np.inf
    return idx, dist


def bulletin_drafts(matched: pl.DataFrame, county_names: Mapping[str, str] | None = None) -> list[FindingDraft]:
    """Finding drafts for bulletin points no screened detection matched (fire.md §3.8: "unmatched bulletin points
    may become findings, source=bulletin").

    Parameters
    ----------
    matched : DataFrame
        :func:`bogda.fire.stats.match_bulletin` output (date_bjt, lat, lon, matched_row, optional county_code and
        the bulletin's province/city/county names).
    """
    from bogda.timeutil import day_start_utc

    names = county_names or {}
    out: list[FindingDraft] = []
    for r in matched.filter(pl.col("matched_row").is_null()).iter_rows(named=True):
        lon, lat = float(r["lon"]), float(r["lat"])
        glon, glat = wgs84_to_gcj02(lon, lat)
        code = r.get("county_code")
        place = names.get(code) if code else None
        place = place or r.get("county") or "辖区"
        day = r["date_bjt"]
        out.append(
            FindingDraft(
                action="new",
                kind="fire",
                severity="medium",
                detected_at=day_start_utc(day),
                lon=lon,
                lat=lat,
                title=f"通报火点：{place} {day.month}月{day.day}日（未匹配卫星探测）",
                evidence={
                    "source": "bulletin",
                    "date_bjt": day.isoformat(),
                    "wgs84": [round(lon, 6), round(lat, 6)],
                    "gcj02": [round(float(glon), 6), round(float(glat), 6)],
                    "province": r.get("province"),
                    "city": r.get("city"),
                    "county": r.get("county"),
                    "county_code": code,
                },
                dedupe_key=f"fire:bulletin:{day.isoformat()}:{lat:.3f}:{lon:.3f}",
                place_code=code,
            )
        )
    return out
