"""Flags and heat-source masks (fire.md §3.3, §3.9) and the mask side of verification feedback (§3.7).

In industrial north-west China many detections are plants (coal chemical, power, steel, coking, cement, flares), so
masking them is the most important step. Masks **label, never drop**: every flag is a boolean column plus a reason,
masked rows go to the enterprise heat-source stream and stay out of events, alerts and screened counts.

Two masks are learned from recurrence:

* :func:`learn_sites` — fire.md §3.9: sites are connected components of polar-orbiter pixels under the §3.4
  adjacency ignoring time; a site is persistent by rule **A** (≥ 10 active days over ≥ 3 months) or **B** (≥ 3
  active days and a night detection outside the crop-burning windows). Requiring night or spread over months keeps
  cropland from being masked.
* :func:`recurrence_sites` — the simpler "same place on N of M days" grid mask of issue 8 (cells of
  ``recurrence_cell_deg``), off by default in the pipeline.

Both return heat sources (a frame with :data:`HEAT_SOURCE_SCHEMA`) that are edited like registry entries (status
``active`` masks, ``candidate`` waits for a person, ``retired`` does nothing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist

from bogda.fire.cluster import candidate_pairs, components, footprint_diag_km
from bogda.fire.config import POLAR, CropWindow, FireConfig
from bogda.geo import chord_for_km, gcj02_to_wgs84, haversine_km, unit_vectors

HEAT_SOURCE_KINDS = (
    "steel",
    "coke",
    "power",
    "cement",
    "coal_chemical",
    "refinery",
    "flare",
    "coal_mine",
    "coal_fire",
    "other",
    "false_alarm_site",
    "learned",
)
HEAT_SOURCE_SCHEMA: dict[str, pl.DataType] = {
    "source_id": pl.String(),
    "name": pl.String(),
    "kind": pl.String(),
    "enterprise_id": pl.String(),
    "lon": pl.Float64(),
    "lat": pl.Float64(),
    "radius_km": pl.Float64(),
    "buffer_km": pl.Float64(),
    "origin": pl.String(),  # registry | learned | external | verified_industrial
    "status": pl.String(),  # active | candidate | retired
    "note": pl.String(),
}


def bd09_to_gcj02(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Baidu BD-09 → GCJ-02 (the published inverse of Baidu's rotation-and-shift)."""
    x = np.asarray(lon, dtype=float) - 0.0065
    y = np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * math.pi * 3000.0 / 180.0)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * math.pi * 3000.0 / 180.0)
    return z * np.cos(theta), z * np.sin(theta)


def heat_sources(records: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Registry entries → heat-source frame in WGS-84 (fire.md §2.6).

    Each record needs lon, lat and ``datum`` (WGS84 | GCJ02 | BD09); an unknown or missing datum is refused
    (ValueError), because a 300 m error is enough to miss a plant. ``buffer_km`` overrides the sensor buffer.
    """
    rows = []
    for n, rec in enumerate(records, start=1):
        datum = str(rec.get("datum") or "").upper().replace("-", "")
        lon, lat = float(rec["lon"]), float(rec["lat"])
        if datum == "WGS84":
            pass
        elif datum == "GCJ02":
            lon, lat = (float(v) for v in gcj02_to_wgs84(lon, lat))
        elif datum == "BD09":
            g = bd09_to_gcj02(lon, lat)
            lon, lat = (float(v) for v in gcj02_to_wgs84(*g))
        else:
            raise ValueError(
                f"heat source #{n} ({rec.get('name')}): datum {rec.get('datum')!r} is not WGS84/GCJ02/BD09"
            )
        kind = rec.get("kind") or "other"
        if kind not in HEAT_SOURCE_KINDS:
            raise ValueError(f"heat source #{n}: unknown kind {kind!r}; expected one of {HEAT_SOURCE_KINDS}")
        rows.append(
            {
                "source_id": str(rec.get("source_id") or f"HS{n}"),
                "name": rec.get("name"),
                "kind": kind,
                "enterprise_id": rec.get("enterprise_id"),
                "lon": lon,
                "lat": lat,
                "radius_km": float(rec.get("radius_km") or 0.0),
                "buffer_km": None if rec.get("buffer_km") in (None, "") else float(rec["buffer_km"]),
                "origin": rec.get("origin") or "registry",
                "status": rec.get("status") or "active",
                "note": rec.get("note"),
            }
        )
    return pl.DataFrame(rows, schema=HEAT_SOURCE_SCHEMA)


def empty_sources() -> pl.DataFrame:
    return pl.DataFrame(schema=HEAT_SOURCE_SCHEMA)


def match_sources(
    frame: pl.DataFrame, sources: pl.DataFrame, config: FireConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For each detection, the active source whose radius + buffer covers it (nearest wins).

    The buffer is the source's ``buffer_km`` or the sensor's default (VIIRS 1.0, MODIS/MERSI 1.5, AHI/AGRI 3.0 km).

    Returns
    -------
    (source index or −1, distance [km])
    """
    cfg = config or FireConfig()
    n = frame.height
    idx = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    act = sources.filter(pl.col("status") == "active")
    if n == 0 or act.height == 0:
        return idx, dist
    slon = act["lon"].to_numpy()
    slat = act["lat"].to_numpy()
    radius = act["radius_km"].fill_null(0.0).to_numpy()
    own_buf = act["buffer_km"].to_numpy()
    sensors = frame["sensor"].to_numpy()
    sensor_buf = np.array([cfg.buffer_for(s) for s in sensors])
    reach = float(np.nanmax(radius) + max(np.nanmax(np.nan_to_num(own_buf, nan=0.0)), sensor_buf.max()))
    lon = frame["lon"].to_numpy()
    lat = frame["lat"].to_numpy()
    tree = cKDTree(unit_vectors(slon, slat))
    near = tree.query_ball_point(unit_vectors(lon, lat), float(chord_for_km(reach)) * 1.0001)
    det = np.fromiter((k for k, lst in enumerate(near) for _ in lst), dtype=np.int64)
    src = np.fromiter((s for lst in near for s in lst), dtype=np.int64)
    if len(det) == 0:
        return idx, dist
    d = haversine_km(lon[det], lat[det], slon[src], slat[src])
    buf = np.where(np.isnan(own_buf[src].astype(float)), sensor_buf[det], own_buf[src].astype(float))
    ok = d <= radius[src] + buf
    det, src, d = det[ok], src[ok], d[ok]
    order = np.lexsort((d, det))  # nearest first per detection
    det, src, d = det[order], src[order], d[order]
    first = np.ones(len(det), dtype=bool)
    first[1:] = det[1:] != det[:-1]
    act_rows = np.flatnonzero((sources["status"] == "active").to_numpy())
    idx[det[first]] = act_rows[src[first]]
    dist[det[first]] = d[first]
    return idx, dist


def apply_flags(
    frame: pl.DataFrame,
    *,
    registry: pl.DataFrame | None = None,
    learned: pl.DataFrame | None = None,
    config: FireConfig | None = None,
) -> pl.DataFrame:
    """Add the §3.3 flag columns (booleans plus ``*_ref`` ids and a ``flag_reasons`` list). Never drops a row.

    Flags: ``spurious`` (VIIRS bt/frp > 1000 and bt > 310 K), ``masked_registry``, ``masked_learned``,
    ``masked_external`` (FIRMS type 2/3, CSPP persistent anomaly), ``low_confidence`` (VIIRS low, MODIS < 30, AHI
    reliability 1 or QF 2), ``outside_area`` (needs ``in_area`` from the region filter). Derived: ``masked`` (any
    mask) and ``screened`` (in area, not spurious, not masked, not low confidence).
    """
    cfg = config or FireConfig()
    out = frame
    spurious = (
        (pl.col("sensor") == "VIIRS")
        & (pl.col("bt_mir_k") / pl.col("frp_mw") > cfg.spurious_ratio)
        & (pl.col("bt_mir_k") > cfg.spurious_bt_k)
    ).fill_null(False)
    external = (
        (pl.col("firms_type").is_in([2, 3]) | (pl.col("persistent_anomaly").fill_null(0) != 0)).fill_null(False)
        if cfg.use_external_mask
        else pl.lit(False)
    )
    out = out.with_columns(
        spurious=spurious,
        masked_external=external,
        low_confidence=(pl.col("confidence_class") == "low").fill_null(False),
    )
    for name, src in (("masked_registry", registry), ("masked_learned", learned)):
        if src is not None and src.height:
            idx, dist = match_sources(out, src, cfg)
            ids = src["source_id"].to_numpy()
            ref = np.where(idx >= 0, ids[np.maximum(idx, 0)], None)
            out = out.with_columns(
                pl.Series(name, idx >= 0),
                pl.Series(f"{name}_ref", ref.tolist(), dtype=pl.String),
                pl.Series(f"{name}_km", np.where(idx >= 0, dist, np.nan)).fill_nan(None),
            )
        else:
            out = out.with_columns(
                pl.lit(False).alias(name),
                pl.lit(None, dtype=pl.String).alias(f"{name}_ref"),
                pl.lit(None, dtype=pl.Float64).alias(f"{name}_km"),
            )
    in_area = pl.col("in_area") if "in_area" in out.columns else pl.lit(True)
    out = out.with_columns(outside_area=~in_area)
    out = out.with_columns(masked=pl.col("masked_registry") | pl.col("masked_learned") | pl.col("masked_external"))
    out = out.with_columns(
        screened=~pl.col("outside_area") & ~pl.col("spurious") & ~pl.col("masked") & ~pl.col("low_confidence")
    )
    reasons = [
        pl.when(pl.col("spurious")).then(
            pl.lit(f"spurious: VIIRS BT/FRP > {cfg.spurious_ratio:g} and BT > {cfg.spurious_bt_k:g} K")
        ),
        pl.when(pl.col("masked_registry")).then(
            pl.concat_str(pl.lit("masked_registry: "), pl.col("masked_registry_ref"))
        ),
        pl.when(pl.col("masked_learned")).then(pl.concat_str(pl.lit("masked_learned: "), pl.col("masked_learned_ref"))),
        pl.when(pl.col("masked_external")).then(pl.lit("masked_external: FIRMS type 2/3 or persistent anomaly")),
        pl.when(pl.col("low_confidence")).then(pl.concat_str(pl.lit("low_confidence: "), pl.col("confidence_raw"))),
        pl.when(pl.col("outside_area")).then(pl.lit("outside_area")),
    ]
    return out.with_columns(flag_reasons=pl.concat_list(reasons).list.drop_nulls())


def in_crop_window(days: pl.Expr, windows: Iterable[CropWindow]) -> pl.Expr:
    """True where a Beijing date falls inside any crop-burning window (inclusive)."""
    md = days.dt.month().cast(pl.Int32) * 100 + days.dt.day().cast(pl.Int32)
    expr = pl.lit(False)
    for (m0, d0), (m1, d1) in windows:
        lo, hi = m0 * 100 + d0, m1 * 100 + d1
        expr = expr | ((md >= lo) & (md <= hi) if lo <= hi else (md >= lo) | (md <= hi))
    return expr


def learn_sites(
    history: pl.DataFrame, *, asof: datetime | None = None, config: FireConfig | None = None
) -> pl.DataFrame:
    """Learned persistent heat sources from detection history (fire.md §3.9, nightly).

    Parameters
    ----------
    history : DataFrame
        Detections (any sensors; only polar orbiters are used) within bbox + margin.
    asof : datetime, optional
        End of the lookback window (``config.learned_lookback``, 365 days; None = no lookback limit).

    Returns
    -------
    DataFrame
        :data:`HEAT_SOURCE_SCHEMA` plus site statistics: n, active_days, months_active, night_n,
        night_days_outside_crop, first_seen, last_seen, median_frp, rule (A | B | None). ``status`` is
        ``active`` for persistent sites, ``candidate`` for sites with ≥ 2 active days failing both rules; other
        sites are not returned.
    """
    cfg = config or FireConfig()
    h = history.filter(pl.col("sensor").is_in(list(POLAR)))
    if asof is not None and cfg.learned_lookback is not None:
        h = h.filter(pl.col("acq_time_utc") >= asof - cfg.learned_lookback)
    if h.height == 0:
        return empty_sources()
    lon = h["lon"].to_numpy()
    lat = h["lat"].to_numpy()
    diag = footprint_diag_km(h["scan_km"].to_numpy(), h["track_km"].to_numpy())
    i, j = candidate_pairs(lon, lat, float(np.nanmax(diag)) + cfg.footprint_margin_km)
    ok = haversine_km(lon[i], lat[i], lon[j], lat[j]) <= 0.5 * (diag[i] + diag[j]) + cfg.footprint_margin_km
    labels = components(h.height, i[ok], j[ok])
    labels = _split_wide(labels, lon, lat, cfg)
    night = pl.col("daynight") == "N"
    outside_crop = ~in_crop_window(pl.col("date_bjt"), cfg.crop_windows)
    sites = (
        h.with_columns(site=pl.Series(labels), _night_out=(night & outside_crop).fill_null(False))
        .group_by("site")
        .agg(
            n=pl.len(),
            active_days=pl.col("date_bjt").n_unique(),
            months_active=(pl.col("date_bjt").dt.year() * 12 + pl.col("date_bjt").dt.month()).n_unique(),
            night_n=night.fill_null(False).sum(),
            night_days_outside_crop=pl.col("date_bjt").filter(pl.col("_night_out")).n_unique(),
            first_seen=pl.col("acq_time_utc").min(),
            last_seen=pl.col("acq_time_utc").max(),
            median_frp=pl.col("frp_mw").median(),
            lat=pl.col("lat").mean(),
            lon=pl.col("lon").mean(),
            _lats=pl.col("lat"),
            _lons=pl.col("lon"),
        )
    )
    rule_a = (pl.col("active_days") >= cfg.rule_a_days) & (pl.col("months_active") >= cfg.rule_a_months)
    rule_b = (pl.col("active_days") >= cfg.rule_b_days) & (pl.col("night_days_outside_crop") >= 1)
    sites = sites.with_columns(
        rule=pl.when(rule_a).then(pl.lit("A")).when(rule_b).then(pl.lit("B")).otherwise(pl.lit(None, dtype=pl.String))
    ).with_columns(
        status=pl.when(pl.col("rule").is_not_null())
        .then(pl.lit("active"))
        .when(pl.col("active_days") >= cfg.candidate_days)
        .then(pl.lit("candidate"))
    )
    sites = sites.filter(pl.col("status").is_not_null())
    radius = [
        float(haversine_km(np.asarray(lo), np.asarray(la), clo, cla).max())
        for lo, la, clo, cla in zip(
            sites["_lons"].to_list(), sites["_lats"].to_list(), sites["lon"], sites["lat"], strict=True
        )
    ]
    sites = sites.with_columns(radius_km=pl.Series(radius, dtype=pl.Float64)).sort("lat", "lon")
    return sites.with_columns(
        source_id=pl.format("L{}_{}", pl.col("lat").round(3), pl.col("lon").round(3)),
        name=pl.lit(None, dtype=pl.String),
        kind=pl.lit("learned"),
        enterprise_id=pl.lit(None, dtype=pl.String),
        buffer_km=pl.lit(None, dtype=pl.Float64),
        origin=pl.lit("learned"),
        note=pl.format(
            "rule {}, {} detections on {} days", pl.col("rule").fill_null("-"), pl.col("n"), pl.col("active_days")
        ),
    ).select(
        *HEAT_SOURCE_SCHEMA,
        "n",
        "active_days",
        "months_active",
        "night_n",
        "night_days_outside_crop",
        "first_seen",
        "last_seen",
        "median_frp",
        "rule",
    )


def _split_wide(labels: np.ndarray, lon: np.ndarray, lat: np.ndarray, cfg: FireConfig) -> np.ndarray:
    """Split components whose largest pairwise distance exceeds ``split_km`` by grid cell (a square-degree stand-in
    for H3 resolution 7, whose cells are ~5 km²; the h3 package is optional and not installed)."""
    out = labels.copy()
    next_label = int(labels.max()) + 1 if len(labels) else 0
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        la, lo = lat[members], lon[members]
        span = float(haversine_km(lo.min(), la.min(), lo.max(), la.max()))
        if span <= cfg.split_km:
            continue
        if len(members) <= 4000:
            xyz = unit_vectors(lo, la)
            widest = 2 * 6371.0088 * np.arcsin(min(pdist(xyz).max() / 2, 1.0))
            if widest <= cfg.split_km:
                continue
        cells = np.floor(la / cfg.split_cell_deg).astype(np.int64) * 100000 + np.floor(lo / cfg.split_cell_deg).astype(
            np.int64
        )
        _, inv = np.unique(cells, return_inverse=True)
        out[members] = next_label + inv
        next_label += int(inv.max()) + 1
    return out


def recurrence_sites(
    history: pl.DataFrame, *, asof: date | None = None, config: FireConfig | None = None
) -> pl.DataFrame:
    """Grid recurrence mask: cells of ``recurrence_cell_deg`` with detections on ≥ N of the last M Beijing days.

    A coarser, simpler alternative to :func:`learn_sites` (issue 8: "same place on N of M days"). Each cell is
    returned as an active learned source centred on its detections' mean, with a radius covering the cell.
    """
    cfg = config or FireConfig()
    h = history
    if h.height == 0:
        return empty_sources()
    last = asof or h["date_bjt"].max()
    first = last - timedelta(days=cfg.recurrence_m_days - 1)
    h = h.filter((pl.col("date_bjt") >= first) & (pl.col("date_bjt") <= last))
    size = cfg.recurrence_cell_deg
    cells = (
        h.with_columns(
            cy=(pl.col("lat") / size).floor().cast(pl.Int64), cx=(pl.col("lon") / size).floor().cast(pl.Int64)
        )
        .group_by("cy", "cx")
        .agg(days=pl.col("date_bjt").n_unique(), n=pl.len(), lat=pl.col("lat").mean(), lon=pl.col("lon").mean())
        .filter(pl.col("days") >= cfg.recurrence_n_days)
    )
    half_diag_km = size * 111.2 * math.sqrt(2) / 2
    return cells.select(
        source_id=pl.format("R{}_{}", pl.col("cy"), pl.col("cx")),
        name=pl.lit(None, dtype=pl.String),
        kind=pl.lit("learned"),
        enterprise_id=pl.lit(None, dtype=pl.String),
        lon="lon",
        lat="lat",
        radius_km=pl.lit(half_diag_km),
        buffer_km=pl.lit(None, dtype=pl.Float64),
        origin=pl.lit("learned"),
        status=pl.lit("active"),
        note=pl.format("{} of {} days", pl.col("days"), pl.lit(cfg.recurrence_m_days)),
    )


# --------------------------------------------------------------------------------------------------------------
# §3.7 feedback from verification to the masks


def feedback_candidates(verdicts: pl.DataFrame, *, config: FireConfig | None = None) -> pl.DataFrame:
    """Heat-source candidates from verdicts (never active masks: a person approves them).

    * each ``industrial`` verdict → a candidate of origin ``verified_industrial`` at the event point;
    * ``false`` verdicts: ``false_site_count`` (2) within ``false_site_km`` (1.0 km) and ``false_site_window``
      (365 days) → one candidate of kind ``false_alarm_site``.

    Parameters
    ----------
    verdicts : DataFrame
        event_id, verdict, verified_at, lon, lat.
    """
    cfg = config or FireConfig()
    rows: list[dict[str, Any]] = []
    ind = verdicts.filter(pl.col("verdict") == "industrial")
    for r in ind.iter_rows(named=True):
        rows.append(
            {
                "source_id": f"VI_{r['event_id']}",
                "kind": "other",
                "lon": r["lon"],
                "lat": r["lat"],
                "origin": "verified_industrial",
                "status": "candidate",
                "note": f"verified industrial at {r['verified_at']}",
            }
        )
    fal = verdicts.filter(pl.col("verdict") == "false").sort("verified_at")
    if fal.height >= cfg.false_site_count:
        lon = fal["lon"].to_numpy()
        lat = fal["lat"].to_numpy()
        t = fal["verified_at"].to_list()
        i, j = candidate_pairs(lon, lat, cfg.false_site_km)
        keep = np.array([abs(t[a] - t[b]) <= cfg.false_site_window for a, b in zip(i, j, strict=True)], dtype=bool)
        labels = components(fal.height, i[keep] if len(i) else i, j[keep] if len(j) else j)
        for lab in np.unique(labels):
            members = np.flatnonzero(labels == lab)
            if len(members) >= cfg.false_site_count:
                rows.append(
                    {
                        "source_id": f"FS_{fal['event_id'][int(members[0])]}",
                        "kind": "false_alarm_site",
                        "lon": float(lon[members].mean()),
                        "lat": float(lat[members].mean()),
                        "radius_km": float(cfg.false_site_km),
                        "origin": "verified_false",
                        "status": "candidate",
                        "note": f"{len(members)} false verdicts within {cfg.false_site_km:g} km",
                    }
                )
    return pl.DataFrame(rows, schema=HEAT_SOURCE_SCHEMA) if rows else empty_sources()


FLAG_NAMES = ("spurious", "masked_registry", "masked_learned", "masked_external", "low_confidence", "outside_area")


def flag_rows(flagged: pl.DataFrame, id_column: str = "det_id") -> pl.DataFrame:
    """The ``detection_flag`` table (fire.md §4): one row per (detection, flag) with ref_id and reason."""
    parts = []
    for name in FLAG_NAMES:
        ref = pl.col(f"{name}_ref") if f"{name}_ref" in flagged.columns else pl.lit(None, dtype=pl.String)
        reason = pl.col("flag_reasons").list.eval(pl.element().filter(pl.element().str.starts_with(name))).list.first()
        parts.append(
            flagged.filter(pl.col(name)).select(
                pl.col(id_column).alias("detection_id"), flag=pl.lit(name), ref_id=ref, reason=reason
            )
        )
    return pl.concat(parts)
