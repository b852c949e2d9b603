"""Push demo stations into a pollution episode (shared by the forecast service, CLI and API tests)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import select

from bogda.store import Store, series
from bogda.store.schema import aqi_daily, site
from bogda.timeutil import day_start_utc, floor_to, now_utc


def set_pm(store: Store, codes: list[str], value: float, *, days: int = 36, now: datetime | None = None) -> int:
    """Overwrite PM2.5 (and PM10 = 1.2 × PM2.5) of stations ``codes`` with ``value`` for the last ``days``."""
    end = floor_to(now or now_utc(), "hour")
    ts = [end - timedelta(hours=h) for h in range(1, days * 24 + 1)]
    with store.engine.connect() as conn:
        ids = [
            r.id for r in conn.execute(select(site.c.id).where(site.c.kind == "air_station", site.c.code.in_(codes)))
        ]
    rows = []
    for sid in ids:
        for code, factor, unit in (("a34004", 1.0, "ug/m3"), ("a34002", 1.2, "ug/m3")):
            rows.append(
                pl.DataFrame(
                    {
                        "site_id": np.full(len(ts), sid),
                        "parameter": code,
                        "ts": ts,
                        "value": np.full(len(ts), value * factor),
                        "flag": "N",
                        "unit": unit,
                    }
                )
            )
    df = pl.concat(rows).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    return series.write_long(store, df, resolution="hour", reason="test episode").written


def mini_region(store: Store, *, n: int = 4, days: int = 10, pm: float = 60.0) -> list[str]:
    """A prefecture with two counties and ``n`` stations holding ``days`` of hourly data of the six pollutants
    (PM2.5 ``pm`` with a diurnal wave); returns the station codes."""
    from bogda.store.schema import place

    now = floor_to(now_utc(), "hour")
    with store.begin() as conn:
        pref = conn.execute(
            place.insert()
            .values(code="652300", name="昌吉州", level=1, kind="prefecture", attrs={})
            .returning(place.c.id)
        ).scalar_one()
        counties = [
            conn.execute(
                place.insert()
                .values(code=code, name=code, level=2, kind="county", parent_id=pref, attrs={})
                .returning(place.c.id)
            ).scalar_one()
            for code in ("652301", "652323")
        ]
        ids = {
            f"M{i}": conn.execute(
                site.insert()
                .values(
                    kind="air_station",
                    code=f"M{i}",
                    name=f"M{i}",
                    lon=87.0 + 0.05 * i,
                    lat=44.0,
                    place_id=counties[i % 2],
                    attrs={},
                )
                .returning(site.c.id)
            ).scalar_one()
            for i in range(n)
        }
    hours = days * 24
    ts = [now - timedelta(hours=h) for h in range(hours, 0, -1)]
    wave = 1 + 0.2 * np.sin(np.arange(hours) / 24 * 2 * np.pi)
    frames = []
    for sid in ids.values():
        for code, f, unit in (
            ("a34004", 1, "ug/m3"),
            ("a34002", 1.5, "ug/m3"),
            ("a21026", 0.1, "ug/m3"),
            ("a21004", 0.4, "ug/m3"),
            ("a21005", 0.01, "mg/m3"),
            ("a05024", 0.5, "ug/m3"),
        ):
            frames.append(
                pl.DataFrame(
                    {
                        "site_id": np.full(hours, sid),
                        "parameter": code,
                        "ts": ts,
                        "value": np.round(pm * f * wave, 3),
                        "flag": "N",
                        "unit": unit,
                    }
                )
            )
    df = pl.concat(frames).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    series.write_long(store, df, resolution="hour", reason="test")
    return list(ids)


def issued_hutubi_list(store: Store, doc_no: str) -> None:
    """A red-warning emergency list of 呼图壁县 (652323) with an emission baseline, for the pages' estimate line.

    PM2.5 of CJ-HT01 is set to 260 µg/m³, HT-BL1 (the county's one enterprise, a grade C boiler, cut to half on
    red) gets 2 t/d of primary PM as its baseline, the forecast is refreshed and the county's warning issued.
    """
    from bogda.forecast import service as sv
    from bogda.store.schema import plan

    set_pm(store, ["CJ-HT01"], 260.0)
    with store.begin() as conn:
        eid = conn.execute(select(site.c.id).where(site.c.code == "HT-BL1")).scalar_one()
        conn.execute(
            plan.insert().values(
                kind="baseline", enterprise_id=eid, value=2.0, unit="t/d", attrs={"pollutant": "PM"},
                active=True, created_at=now_utc(),
            )
        )  # fmt: skip
    sv.refresh(store, models=None)
    w = next(x for x in sv.warnings(store) if x["area_code"] == "652323")
    sv.decide_warning(store, w["id"], "issued", by="duty", doc_no=doc_no)


def set_daily_aqi(store: Store, code: str, day: date, aqi: int, primary: str | None) -> None:
    """An area's observed daily AQI of ``day`` under both standards (what the publication scores read)."""
    with store.begin() as conn:
        ts = int(day_start_utc(day).timestamp())
        conn.execute(aqi_daily.delete().where(aqi_daily.c.target_code == code, aqi_daily.c.ts == ts))
        for std in ("2012", "2026"):
            conn.execute(
                aqi_daily.insert().values(
                    target_kind="county",
                    target_code=code,
                    ts=ts,
                    standard=std,
                    aqi=aqi,
                    level=0,
                    primary_pollutant=primary,
                    status="complete",
                    inputs_hash="t",
                )
            )


def publication_days(store: Store) -> int:
    """How many days of today's publication (D+1..D+7 from today's Beijing date) the newest run forecasts: 7, but 6
    in the hour after Beijing midnight, when the newest run is the one issued at 00:00 from the last hour of
    yesterday (its D+1 is today, so today's D+7 lies beyond its D+7)."""
    from datetime import UTC

    from bogda.forecast import service as sv
    from bogda.timeutil import beijing_date

    run = sv.latest_run(store)
    assert run is not None, "no forecast run"
    issued = run["issue_time"] if run["issue_time"].tzinfo else run["issue_time"].replace(tzinfo=UTC)
    return 7 - (beijing_date(now_utc()) - beijing_date(issued - timedelta(hours=1))).days
