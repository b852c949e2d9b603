"""Push demo stations into a pollution episode (shared by the forecast service, CLI and API tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import select

from bogda.store import Store, series
from bogda.store.schema import site
from bogda.timeutil import floor_to, now_utc


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
