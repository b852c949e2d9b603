"""Daily and monthly fire statistics comparable with the straw-burning bulletins (fire.md §3.8).

Bulletins count **pixels**, not events, per Beijing date. ``points_all`` = in area and not spurious;
``points_screened`` = also unmasked and not low confidence; ``points_dedup`` = screened polar-orbiter pixels,
dropping a pixel when another satellite has a screened pixel within L_ij and 60 min that ranks higher (smaller pixel
area, then earlier, then lower id) — the bulletin-comparable figure. Fires under cloud are missing, so every count
is a lower bound.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from bogda.fire.alerts import nearest_within
from bogda.fire.cluster import candidate_pairs, footprint_diag_km, link_distance_km
from bogda.fire.config import POLAR, FireConfig
from bogda.geo import haversine_km

PREFECTURE = "all"
"""county_code of the prefecture-total rows."""


def dedup_keep(frame: pl.DataFrame, config: FireConfig | None = None) -> np.ndarray:
    """Boolean ``points_dedup`` membership for each row (only screened polar-orbiter rows can be True)."""
    cfg = config or FireConfig()
    n = frame.height
    keep = (frame["screened"] & frame["sensor"].is_in(list(POLAR))).to_numpy().copy()
    cand = np.flatnonzero(keep)
    if len(cand) < 2:
        return keep
    sub = frame[cand]
    lon = sub["lon"].to_numpy()
    lat = sub["lat"].to_numpy()
    diag = footprint_diag_km(sub["scan_km"].to_numpy(), sub["track_km"].to_numpy())
    sensor = sub["sensor"].to_numpy()
    sat = sub["satellite"].to_numpy()
    t = sub["acq_time_utc"].dt.epoch("us").to_numpy()
    area = sub["pixel_area_km2"].to_numpy()
    radius = max(float(np.nanmax(diag)) + cfg.footprint_margin_km, cfg.link_floor_modis_km)
    i, j = candidate_pairs(lon, lat, radius)
    window = int(cfg.dedup_window.total_seconds() * 1e6)
    ok = (sat[i] != sat[j]) & (np.abs(t[i] - t[j]) <= window)
    i, j = i[ok], j[ok]
    ok = haversine_km(lon[i], lat[i], lon[j], lat[j]) <= link_distance_km(diag[i], diag[j], sensor[i], sensor[j], cfg)
    i, j = i[ok], j[ok]
    # rank: smaller pixel area, then earlier, then lower row id
    i_better = (area[i] < area[j]) | ((area[i] == area[j]) & ((t[i] < t[j]) | ((t[i] == t[j]) & (i < j))))
    loser = np.where(i_better, j, i)
    drop = np.zeros(len(cand), dtype=bool)
    drop[loser] = True
    keep[cand[drop]] = False
    _ = n
    return keep


def daily_stats(frame: pl.DataFrame, config: FireConfig | None = None) -> pl.DataFrame:
    """Per county, Beijing date and sensor: points_all, points_screened, points_dedup (plus prefecture totals with
    ``county_code = "all"``).

    Parameters
    ----------
    frame : DataFrame
        Flagged detections (:func:`bogda.fire.masks.apply_flags`) with ``county_code``.
    """
    f = frame.with_columns(_dedup=pl.Series(dedup_keep(frame, config)))
    f = f.filter(pl.col("in_area") if "in_area" in f.columns else pl.lit(True))
    all_ok = ~pl.col("spurious")
    aggs = [
        all_ok.sum().alias("points_all"),
        (all_ok & pl.col("screened")).sum().alias("points_screened"),
        pl.col("_dedup").sum().alias("points_dedup"),
    ]
    by_county = f.group_by("county_code", "date_bjt", "sensor").agg(aggs)
    total = f.group_by("date_bjt", "sensor").agg(aggs).with_columns(county_code=pl.lit(PREFECTURE))
    out = pl.concat([by_county, total.select(by_county.columns)])
    return out.with_columns(pl.col(c).cast(pl.Int64) for c in ("points_all", "points_screened", "points_dedup")).sort(
        "county_code", "date_bjt", "sensor"
    )


def _month(col: str) -> pl.Expr:
    return pl.col(col).dt.strftime("%Y-%m")


def monthly_stats(
    daily: pl.DataFrame,
    *,
    events: pl.DataFrame | None = None,
    verdicts: pl.DataFrame | None = None,
    bulletins: pl.DataFrame | None = None,
    asof: date | None = None,
) -> pl.DataFrame:
    """Beijing-month statistics per county (fire.md §3.8): point counts summed from the daily rows by sensor and
    over all sensors (``sensor = "all"``), days with ≥ 1 screened point, events new (first seen in the month) and
    verdicts by outcome with the false-alarm rates. A month containing ``asof`` is marked ``partial``.

    Parameters
    ----------
    events : DataFrame, optional
        event_id, first_seen_utc, county_code (events are counted once per month).
    verdicts : DataFrame, optional
        event_id, county_code, verified_at, outcome (confirmed_burning | industrial | false | not_found).
    bulletins : DataFrame, optional
        Imported bulletin points: county_code (null outside the jurisdiction), date_bjt, matched (bool) →
        ``bulletin_points``, ``bulletin_matched`` and ``bulletin_matched_share`` on the ``sensor = "all"`` rows.
    """
    d = daily.with_columns(month=_month("date_bjt"))
    per_sensor = d.group_by("county_code", "month", "sensor").agg(
        pl.col("points_all").sum(),
        pl.col("points_screened").sum(),
        pl.col("points_dedup").sum(),
        active_days=pl.col("date_bjt").filter(pl.col("points_screened") > 0).n_unique(),
    )
    all_s = (
        d.group_by("county_code", "month", "date_bjt")
        .agg(pl.col("points_all").sum(), pl.col("points_screened").sum(), pl.col("points_dedup").sum())
        .group_by("county_code", "month")
        .agg(
            pl.col("points_all").sum(),
            pl.col("points_screened").sum(),
            pl.col("points_dedup").sum(),
            active_days=pl.col("date_bjt").filter(pl.col("points_screened") > 0).n_unique(),
        )
        .with_columns(sensor=pl.lit("all"))
    )
    out = pl.concat([per_sensor, all_s.select(per_sensor.columns)])
    if events is not None and events.height:
        bjt = "Asia/Shanghai"
        ev = events.filter(pl.col("status") != "merged").with_columns(
            month=pl.col("first_seen_utc").dt.convert_time_zone(bjt).dt.strftime("%Y-%m"),
            _m0=pl.col("first_seen_utc").dt.convert_time_zone(bjt).dt.month_start().dt.date(),
            _m1=pl.col("last_seen_utc").dt.convert_time_zone(bjt).dt.month_start().dt.date(),
        )
        # an event is active in every Beijing month from its first to its last detection (counted once a month)
        active = ev.select(
            "county_code",
            month=pl.date_ranges("_m0", "_m1", interval="1mo").list.eval(pl.element().dt.strftime("%Y-%m")),
        ).explode("month")
        en = pl.concat(
            [
                ev.group_by("county_code", "month").agg(events_new=pl.len()),
                ev.group_by("month").agg(events_new=pl.len()).with_columns(county_code=pl.lit(PREFECTURE)),
            ],
            how="diagonal",
        )
        ea = pl.concat(
            [
                active.group_by("county_code", "month").agg(events_active=pl.len()),
                active.group_by("month").agg(events_active=pl.len()).with_columns(county_code=pl.lit(PREFECTURE)),
            ],
            how="diagonal",
        )
        en = en.join(ea, on=["county_code", "month"], how="full", coalesce=True).with_columns(sensor=pl.lit("all"))
        out = out.join(en, on=["county_code", "month", "sensor"], how="full", coalesce=True)
    if verdicts is not None and verdicts.height:
        v = verdicts.with_columns(
            month=pl.col("verified_at").dt.convert_time_zone("Asia/Shanghai").dt.strftime("%Y-%m")
        )
        counts = [
            (pl.col("outcome") == o).sum().alias(f"verdict_{o}")
            for o in ("confirmed_burning", "industrial", "false", "not_found")
        ]
        vc = pl.concat(
            [
                v.group_by("county_code", "month").agg(counts, verdicts=pl.len()),
                v.group_by("month").agg(counts, verdicts=pl.len()).with_columns(county_code=pl.lit(PREFECTURE)),
            ],
            how="diagonal",
        ).with_columns(sensor=pl.lit("all"))
        vc = vc.with_columns(
            false_rate=pl.col("verdict_false") / (pl.col("verdicts") - pl.col("verdict_not_found")),
            false_rate_strict=(pl.col("verdict_false") + pl.col("verdict_not_found")) / pl.col("verdicts"),
        )
        out = out.join(vc, on=["county_code", "month", "sensor"], how="full", coalesce=True)
    if bulletins is not None and bulletins.height:
        b = bulletins.filter(pl.col("county_code").is_not_null()).with_columns(month=_month("date_bjt"))
        agg = [pl.len().alias("bulletin_points"), pl.col("matched").sum().cast(pl.Int64).alias("bulletin_matched")]
        bc = pl.concat(
            [
                b.group_by("county_code", "month").agg(agg),
                b.group_by("month").agg(agg).with_columns(county_code=pl.lit(PREFECTURE)),
            ],
            how="diagonal",
        ).with_columns(
            sensor=pl.lit("all"), bulletin_matched_share=pl.col("bulletin_matched") / pl.col("bulletin_points")
        )
        out = out.join(bc, on=["county_code", "month", "sensor"], how="full", coalesce=True)
    partial = pl.lit(False) if asof is None else pl.col("month") == asof.strftime("%Y-%m")
    out = out.with_columns(partial=partial)
    # change of the bulletin-comparable figure against the previous month and the same month a year before
    ym = pl.col("month").str.slice(0, 4).cast(pl.Int32) * 12 + pl.col("month").str.slice(5, 2).cast(pl.Int32) - 1
    out = out.with_columns(_ym=ym)
    for name, lag in (("change_prev_month", 1), ("change_prev_year", 12)):
        prev = out.select("county_code", "sensor", _ym=pl.col("_ym") + lag, _prev=pl.col("points_dedup")).filter(
            pl.col("_prev").is_not_null()
        )
        out = (
            out.join(prev, on=["county_code", "sensor", "_ym"], how="left")
            .with_columns((pl.col("points_dedup") - pl.col("_prev")).alias(name))
            .drop("_prev")
        )
    return out.drop("_ym").sort("county_code", "month", "sensor")


def bulletin_monthly(bulletin: pl.DataFrame, by: tuple[str, ...] = ("province",)) -> pl.DataFrame:
    """Bulletin points per Beijing month (and the given admin columns), e.g. the national straw-burning lists."""
    return (
        bulletin.with_columns(month=_month("date_bjt")).group_by("month", *by).agg(points=pl.len()).sort("month", *by)
    )


def match_bulletin(bulletin: pl.DataFrame, detections: pl.DataFrame, config: FireConfig | None = None) -> pl.DataFrame:
    """Match bulletin points to screened detections of the same Beijing date within ``bulletin_match_km`` (1.5 km).

    Returns the bulletin frame with ``matched_row`` (row index in ``detections`` or null) and ``match_km``.
    """
    cfg = config or FireConfig()
    det = detections.with_row_index("_row").filter(pl.col("screened"))
    b = bulletin.with_row_index("_b")
    rows = np.full(b.height, -1, dtype=np.int64)
    dist = np.full(b.height, np.nan)
    for day in b["date_bjt"].unique().to_list():
        bd = b.filter(pl.col("date_bjt") == day)
        dd = det.filter(pl.col("date_bjt") == day)
        if dd.height == 0:
            continue
        k, d = nearest_within(
            bd["lon"].to_numpy(),
            bd["lat"].to_numpy(),
            dd["lon"].to_numpy(),
            dd["lat"].to_numpy(),
            cfg.bulletin_match_km,
        )
        bi = bd["_b"].to_numpy()
        ok = k >= 0
        rows[bi[ok]] = dd["_row"].to_numpy()[k[ok]]
        dist[bi[ok]] = d[ok]
    return bulletin.with_columns(
        matched_row=pl.Series(np.where(rows >= 0, rows, None).tolist(), dtype=pl.Int64),
        match_km=pl.Series(dist).fill_nan(None),
    )


def prefer_sp(frame: pl.DataFrame) -> pl.DataFrame:
    """History and back-filled statistics use SP rows for a (satellite, Beijing date) when present, else NRT —
    never both (fire.md §3.1)."""
    has_sp = frame.group_by("satellite", "date_bjt").agg(_sp=(pl.col("processing") == "SP").any())
    return (
        frame.join(has_sp, on=["satellite", "date_bjt"], how="left")
        .filter(~pl.col("_sp") | (pl.col("processing") == "SP"))
        .drop("_sp")
    )
