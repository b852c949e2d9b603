"""Sand/dust days (沙尘天气) for assessments with dust exclusion (monitoring.md §3.6, standards.md, governance.md §3.8).

Two kinds of ``dust_day`` rows, one per place and Beijing day:

``official``
    The national deduction decision (环办监测〔2016〕120号): CNEMC determines from satellite remote sensing, the
    sand-storm network and meteorological dust reports which periods a city was affected; the bureau records its
    list (:func:`record_official`, :func:`read_official_list`, ``bogda monitoring dust record|import``). Only
    official days drop their PM10/PM2.5 values and leave the good-day numerator and denominator in the
    ``dust_excluded`` assessments (governance.md §3.8).
``candidate``
    The observational rule of forecast.md §3.8: an hour whose **area** concentrations show PM10 > 300 µg/m³ with
    PM2.5/PM10 < 0.35 (coarse particles dominate: dust, not combustion smog) marks the place's Beijing day as a
    candidate (:func:`dust_candidates`, :func:`mark_candidates`, ``bogda monitoring dust mark``, a daily job).
    Candidates are shown beside the assessments, never excluded (d); the exact day-level deduction rule of the
    standard is still open (standards.md [R]), so the thresholds are parameters.

An official row is never replaced by a candidate; recording an official day over a candidate upgrades it and keeps
the candidate's evidence.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select

from bogda.monitoring.ingest import FileRefused, Rejection, decode_text
from bogda.store import Store
from bogda.timeutil import BEIJING_NAME, beijing_date, day_start_utc

STATUSES = ("official", "candidate")

DEFAULTS: dict[str, float] = {"pm10_min": 300.0, "ratio_max": 0.35, "min_hours": 1}
"""Candidate rule (forecast.md §3.8, all (d)): PM10 above ``pm10_min`` [µg/m³] with PM2.5/PM10 below
``ratio_max`` in at least ``min_hours`` hours of the Beijing day."""

AREA_TARGETS = ("county", "park", "prefecture")


# --- pure ---------------------------------------------------------------------------------------------------------


def dust_candidates(
    hourly: pl.DataFrame,
    *,
    pm10_min: float = DEFAULTS["pm10_min"],
    ratio_max: float = DEFAULTS["ratio_max"],
    min_hours: int = int(DEFAULTS["min_hours"]),
) -> pl.DataFrame:
    """Candidate dust days from hourly concentrations (forecast.md §3.8).

    Parameters
    ----------
    hourly : pl.DataFrame
        ``target_code, ts`` (UTC interval start), ``c_pm10``, ``c_pm25`` [µg/m³] — area hourly means (or any
        target's hourly values).
    pm10_min : float
        PM10 above this [µg/m³] …
    ratio_max : float
        … with PM2.5/PM10 below this marks a dust hour.
    min_hours : int
        Dust hours needed in a Beijing day.

    Returns
    -------
    pl.DataFrame
        ``place_code, day, dust_hours, max_pm10, min_ratio, first_hour_utc`` per candidate day.
    """
    h = hourly.filter(pl.col("c_pm10").is_not_null() & pl.col("c_pm25").is_not_null() & (pl.col("c_pm10") > 0))
    dusty = h.with_columns((pl.col("c_pm25") / pl.col("c_pm10")).alias("ratio")).filter(
        (pl.col("c_pm10") > pm10_min) & (pl.col("ratio") < ratio_max)
    )
    days = (
        dusty.with_columns(pl.col("ts").dt.convert_time_zone(BEIJING_NAME).dt.date().alias("day"))
        .group_by("target_code", "day")
        .agg(
            pl.len().alias("dust_hours"),
            pl.col("c_pm10").max().alias("max_pm10"),
            pl.col("ratio").min().round(3).alias("min_ratio"),
            pl.col("ts").min().alias("first_hour_utc"),
        )
        .filter(pl.col("dust_hours") >= min_hours)
        .rename({"target_code": "place_code"})
        .sort("place_code", "day")
    )
    return days.with_columns(pl.col("dust_hours").cast(pl.Int64))


def read_official_list(src: str | Path | bytes, *, name: str | None = None) -> tuple[pl.DataFrame, list[Rejection]]:
    """Read the bureau's list of official dust days: CSV with ``place_code`` (or ``place``), ``date``
    (YYYY-MM-DD or YYYYMMDD), optional ``source`` and ``note``.

    Returns the rows (``place_code, day, source, note, line``) and the rejected lines with their reasons.

    Raises
    ------
    FileRefused
        No ``place_code``/``place`` and ``date`` header.
    """
    file = name or (str(src) if not isinstance(src, bytes) else "<bytes>")
    data = src if isinstance(src, bytes) else Path(src).read_bytes()
    text, _ = decode_text(data)
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    col_place = "place_code" if "place_code" in header else ("place" if "place" in header else None)
    if col_place is None or "date" not in header:
        raise FileRefused(file, f"not a dust-day list (need columns place_code and date; found {header})")
    idx = {h: i for i, h in enumerate(header)}
    rows, rejected = [], []
    for line, rec in enumerate(reader, start=2):
        if not any(c.strip() for c in rec):
            continue

        def cell(col: str, rec: list[str] = rec) -> str:
            i = idx.get(col)
            return rec[i].strip() if i is not None and i < len(rec) else ""

        place, raw_day = cell(col_place), cell("date")
        if not place:
            rejected.append(Rejection(file, line, col_place, "place code empty", ",".join(rec)))
            continue
        day = _parse_day(raw_day)
        if day is None:
            rejected.append(Rejection(file, line, "date", f"bad date '{raw_day}'", ",".join(rec)))
            continue
        rows.append((place, day, cell("source"), cell("note"), line))
    frame = pl.DataFrame(
        rows,
        schema={"place_code": pl.String, "day": pl.Date, "source": pl.String, "note": pl.String, "line": pl.Int64},
        orient="row",
    )
    return frame, rejected


def _parse_day(text: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


# --- service ------------------------------------------------------------------------------------------------------


@dataclass
class DustReport:
    """What a dust-day write did."""

    written: int = 0
    upgraded: int = 0
    kept_official: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def _place_codes(store: Store) -> set[str]:
    from bogda.store.schema import place

    with store.engine.connect() as conn:
        return set(conn.execute(select(place.c.code)).scalars())


def _upsert(store: Store, rows: Sequence[dict[str, Any]], report: DustReport) -> None:
    from bogda.store.schema import dust_day

    if not rows:
        return
    with store.begin() as conn:
        have = {
            (p, d): (s, e or {})
            for p, d, s, e in conn.execute(
                select(dust_day.c.place_code, dust_day.c.day, dust_day.c.status, dust_day.c.evidence).where(
                    dust_day.c.place_code.in_(sorted({r["place_code"] for r in rows})),
                    dust_day.c.day >= min(r["day"] for r in rows),
                    dust_day.c.day <= max(r["day"] for r in rows),
                )
            ).all()
        }
        for r in rows:
            key = (r["place_code"], r["day"])
            cur = have.get(key)
            if cur is None:
                conn.execute(dust_day.insert().values(**r))
                report.written += 1
                continue
            status, evidence = cur
            if status == "official" and r["status"] == "candidate":
                report.kept_official += 1  # a candidate never replaces an official day
                continue
            if status == "candidate" and r["status"] == "official":
                merged = {**r["evidence"], "candidate": evidence}
                report.upgraded += 1
            elif evidence == r["evidence"]:
                report.unchanged += 1
                continue
            else:
                merged = r["evidence"]
                report.written += 1
            conn.execute(
                dust_day.update()
                .where(dust_day.c.place_code == key[0], dust_day.c.day == key[1])
                .values(status=r["status"], source=r["source"], evidence=merged)
            )


def record_official(
    store: Store,
    place_code: str,
    days: Iterable[date],
    *,
    source: str,
    note: str | None = None,
    by: str = "system",
) -> DustReport:
    """Record official dust days of a place (the national deduction list as received by the bureau).

    ``source`` names the document (e.g. the CNEMC notice); an unknown place code raises ``ValueError``.
    """
    if not source.strip():
        raise ValueError("an official dust day needs its source (the notice or list it comes from)")
    if place_code not in _place_codes(store):
        raise ValueError(f"unknown place code {place_code!r}: import the places first (bogda registry import)")
    report = DustReport()
    rows = [
        {
            "place_code": place_code,
            "day": d,
            "status": "official",
            "source": source[:64],
            "evidence": {"recorded_by": by, "note": note} if note else {"recorded_by": by},
        }
        for d in sorted(set(days))
    ]
    _upsert(store, rows, report)
    return report


def import_official(
    store: Store, path: str | Path | bytes, *, by: str = "system", name: str | None = None
) -> DustReport:
    """``bogda monitoring dust import FILE``: record every row of the bureau's list; rows of unknown places or
    with bad dates are rejected with their line and reason, the rest load."""
    frame, rejected = read_official_list(path, name=name)
    file = name or (str(path) if not isinstance(path, bytes) else "<bytes>")
    known = _place_codes(store)
    report = DustReport(rejected=list(rejected))
    rows = []
    for place_code, day, source, note, line in frame.iter_rows():
        if place_code not in known:
            report.rejected.append(Rejection(file, line, "place_code", f"unknown place code '{place_code}'"))
            continue
        evidence: dict[str, Any] = {"recorded_by": by, "list": file, "line": line}
        if note:
            evidence["note"] = note
        rows.append(
            {
                "place_code": place_code,
                "day": day,
                "status": "official",
                "source": (source or Path(file).name)[:64],
                "evidence": evidence,
            }
        )
    _upsert(store, rows, report)
    return report


def mark_candidates(
    store: Store,
    *,
    start: datetime,
    end: datetime,
    pm10_min: float = DEFAULTS["pm10_min"],
    ratio_max: float = DEFAULTS["ratio_max"],
    min_hours: int = int(DEFAULTS["min_hours"]),
) -> DustReport:
    """Mark candidate dust days of every county, park and the prefecture over [start, end) (whole Beijing days)
    from the area hourly concentrations in ``aqi_hourly`` (run :func:`~bogda.monitoring.aqi_tables.update_aqi`
    first). Idempotent; official days are left as they are."""
    from bogda.store.schema import aqi_hourly

    lo = day_start_utc(beijing_date(start))
    hi = day_start_utc(beijing_date(end - timedelta(microseconds=1))) + timedelta(days=1)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(aqi_hourly.c.target_code, aqi_hourly.c.ts, aqi_hourly.c.c_pm10, aqi_hourly.c.c_pm25).where(
                aqi_hourly.c.target_kind.in_(AREA_TARGETS),
                aqi_hourly.c.ts >= int(lo.timestamp()),
                aqi_hourly.c.ts < int(hi.timestamp()),
            )
        ).all()
    hourly = pl.DataFrame(
        rows,
        schema={"target_code": pl.String, "ts": pl.Int64, "c_pm10": pl.Float64, "c_pm25": pl.Float64},
        orient="row",
    ).with_columns(pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC"))
    found = dust_candidates(hourly, pm10_min=pm10_min, ratio_max=ratio_max, min_hours=min_hours)
    rule = {"pm10_min": pm10_min, "ratio_max": ratio_max, "min_hours": min_hours}
    recs = [
        {
            "place_code": r["place_code"],
            "day": r["day"],
            "status": "candidate",
            "source": "rule:pm10_ratio",
            "evidence": {
                "rule": rule,
                "dust_hours": r["dust_hours"],
                "max_pm10": r["max_pm10"],
                "min_ratio": r["min_ratio"],
                "first_hour_utc": r["first_hour_utc"].isoformat(),
            },
        }
        for r in found.iter_rows(named=True)
    ]
    report = DustReport()
    _upsert(store, recs, report)
    return report


def candidate_job(store: Store, now: datetime) -> int:
    """Scheduled daily: candidate dust days of yesterday and today (Beijing)."""
    today = beijing_date(now)
    rep = mark_candidates(store, start=day_start_utc(today - timedelta(days=1)), end=now)
    return rep.written + rep.upgraded


def list_dust_days(store: Store, *, start: date | None = None, end: date | None = None) -> pl.DataFrame:
    """``place_code, day, status, source, evidence`` (evidence as JSON text), ordered by day and place."""
    import json

    from bogda.store.schema import dust_day

    q = select(dust_day).order_by(dust_day.c.day, dust_day.c.place_code)
    if start:
        q = q.where(dust_day.c.day >= start)
    if end:
        q = q.where(dust_day.c.day < end)
    with store.engine.connect() as conn:
        rows = [
            (r.place_code, r.day, r.status, r.source, json.dumps(r.evidence or {}, ensure_ascii=False))
            for r in conn.execute(q).all()
        ]
    return pl.DataFrame(
        rows,
        schema={
            "place_code": pl.String,
            "day": pl.Date,
            "status": pl.String,
            "source": pl.String,
            "evidence": pl.String,
        },
        orient="row",
    )


__all__ = [
    "DEFAULTS",
    "STATUSES",
    "DustReport",
    "candidate_job",
    "dust_candidates",
    "import_official",
    "list_dust_days",
    "mark_candidates",
    "read_official_list",
    "record_official",
]
