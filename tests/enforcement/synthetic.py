"""Seeded synthetic CEMS and meter data with injected anomalies, written into a demo store (all simulated).

Period: 20 days from 2026-01-01 00:00 Beijing. Injections (what the service must find):

* ``ZD-PW1-DA001`` NOx (limit 50 mg/m³ at 6 % O2): converted 80 mg/m³ on 2026-01-10 10:00–13:59 Beijing → C01 S1;
  those four hours carry ``source_id`` → ``raw_frame`` rows.
* ``ZD-PW1-DA002`` SO2 flat at 18.2 for 10 h from 2026-01-12 02:00 while load varies → C07 S2.
* ``FK-CM1`` meters: treatment OFF 2026-01-12 10:00–11:59 while production ON → E01 S2.
* ``FK-CM1`` (cement, grade B) red order 2026-01-14 00:00 → 2026-01-17 00:00 (ramp 24 h) with production running
  → E04 S1 (days 15 and 16).
* ``CJ-CM1`` stagger window 2026-01-05 → 2026-01-09 with production running → P01.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import select

from bogda.store import Store, series
from bogda.store.schema import raw_frame, site
from bogda.timeutil import BEIJING

START = datetime(2026, 1, 1, tzinfo=BEIJING).astimezone(UTC)
DAYS = 20
HOURS = DAYS * 24


def bj(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """UTC instant of 2026-01-<day> <hour>:<minute> Beijing."""
    return datetime(2026, 1, day, hour, minute, tzinfo=BEIJING).astimezone(UTC)


def ids(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {c: i for i, c in conn.execute(select(site.c.id, site.c.code))}


def outlet_frame(site_id: int, rng: np.random.Generator, *, nox_level: float = 30.0) -> pl.DataFrame:
    """Long hourly frame of one outlet: NOx, SO2, PM, O2, load, flow (all flags N)."""
    t = np.arange(HOURS)
    ts = [START + timedelta(hours=int(h)) for h in t]
    bj_hour = (t + 0) % 24  # START is 00:00 Beijing
    load = 75 + 12 * np.sin((bj_hour - 6) / 24 * 2 * np.pi) + rng.normal(0, 2.5, HOURS)
    o2 = 7.5 + rng.normal(0, 0.3, HOURS)
    chans = {
        "a21002": nox_level * (load / 75) * np.exp(rng.normal(0, 0.08, HOURS)),
        "a21026": 20 * np.exp(rng.normal(0, 0.1, HOURS)),
        "a34013": 5 * np.exp(rng.normal(0, 0.1, HOURS)),
        "a19001": o2,
        "i33400": load,
        "a00000": 300 * load / 75 * np.exp(rng.normal(0, 0.03, HOURS)),
    }
    # measured values are at the measured O2; convert the targets back from the reference (6 %)
    for code in ("a21002", "a21026", "a34013"):
        chans[code] = chans[code] * (21 - o2) / (21 - 6.0)
    frames = [
        pl.DataFrame({"site_id": site_id, "parameter": code, "ts": ts, "value": np.round(v, 3), "flag": "N"})
        for code, v in chans.items()
    ]
    return pl.concat(frames).with_columns(
        pl.col("ts").dt.cast_time_unit("us"), pl.lit(None, pl.Int64).alias("source_id")
    )


def meter_frame(site_id: int, on_kw: float, off_kw: float, rng: np.random.Generator) -> pl.DataFrame:
    """15-min power of a meter ON 06:00–22:00 Beijing every day (``p_kw``)."""
    n = DAYS * 96
    t = np.arange(n)
    hour = (t // 4) % 24
    on = (hour >= 6) & (hour < 22)
    p = np.where(on, on_kw, off_kw) * np.exp(rng.normal(0, 0.05, n))
    ts = [START + timedelta(minutes=15 * int(k)) for k in t]
    return pl.DataFrame({"site_id": site_id, "parameter": "p_kw", "ts": ts, "value": np.round(p, 2), "flag": "N"})


@dataclass
class Injected:
    site: dict[str, int]
    frame_ids: list[int]


def write_demo_data(store: Store, *, seed: int = 11) -> Injected:
    """Write the synthetic data and injections of the module docstring into a demo store."""
    rng = np.random.default_rng(seed)
    site_ids = ids(store)
    parts = []
    for code in ("ZD-PW1-DA001", "ZD-PW1-DA002", "FK-CM1-DA001", "CJ-CM1-DA001"):
        df = outlet_frame(site_ids[code], rng)
        if code == "ZD-PW1-DA001":
            hours = [bj(10, h) for h in range(10, 14)]
            o2 = df.filter(pl.col("parameter") == "a19001", pl.col("ts").is_in(hours))["value"].to_numpy()
            meas = np.round(80.0 * (21 - o2) / 15.0, 3)
            with store.begin() as conn:
                fids = [
                    int(
                        conn.execute(
                            raw_frame.insert()
                            .values(
                                received_at=h + timedelta(minutes=1),
                                mn="65231000000001",
                                cn="2061",
                                qn=h.strftime("%Y%m%d%H%M%S000"),
                                crc="ok",
                                status="parsed",
                                text=f"##0100QN=...;ST=31;CN=2061;DataTime=...;a21002-Avg={m:.3f},a21002-Flag=N",
                            )
                            .returning(raw_frame.c.id)
                        ).scalar_one()
                    )
                    for h, m in zip(hours, meas, strict=True)
                ]
            upd = pl.DataFrame({"ts": hours, "nv": meas, "src": fids}).with_columns(
                pl.col("ts").dt.cast_time_unit("us")
            )
            df = (
                df.join(upd, on="ts", how="left")
                .with_columns(
                    pl.when(pl.col("parameter") == "a21002")
                    .then(pl.coalesce("nv", "value"))
                    .otherwise("value")
                    .alias("value"),
                    pl.when(pl.col("parameter") == "a21002")
                    .then(pl.col("src"))
                    .otherwise(pl.col("source_id"))
                    .alias("source_id"),
                )
                .drop("nv", "src")
            )
            frame_ids = fids
        if code == "ZD-PW1-DA002":
            flat = [bj(12, 2) + timedelta(hours=k) for k in range(10)]
            df = df.with_columns(
                pl.when((pl.col("parameter") == "a21026") & pl.col("ts").is_in(flat))
                .then(18.2)
                .otherwise(pl.col("value"))
                .alias("value")
            )
        parts.append(df)
    series.write_long(store, pl.concat(parts), resolution="hour")
    meters = []
    for ent, on_kw in (("FK-CM1", 2500.0), ("CJ-CM1", 1800.0), ("ZD-PW1", 4000.0)):
        meters.append(meter_frame(site_ids[f"{ent}-M1"], on_kw, 40.0, rng))
        tr = meter_frame(site_ids[f"{ent}-M2"], on_kw * 0.15, 5.0, rng)
        if ent == "FK-CM1":
            off = (pl.col("ts") >= bj(12, 10)) & (pl.col("ts") < bj(12, 12))
            tr = tr.with_columns(pl.when(off).then(4.0).otherwise(pl.col("value")).alias("value"))
        meters.append(tr)
    series.write_long(store, pl.concat(meters).with_columns(pl.col("ts").dt.cast_time_unit("us")), resolution="min")
    return Injected(site_ids, frame_ids)
