"""Test helper: an operational forecast run with the prefecture's daily AQI, written straight into the store.

Used by the big-screen, public-page and replay tests, which show forecasts but do not test how they are made.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bogda.standards.levels import category
from bogda.store import Store
from bogda.store.schema import forecast, forecast_run
from bogda.timeutil import beijing_date, day_start_utc, now_utc


def add_daily_aqi_run(
    store: Store, days: Sequence[tuple[float, float, float]], *, area: str = "652300", now: datetime | None = None
) -> int:
    """Insert a run issued at ``now`` with ``(mean, p10, p90)`` AQI for D+1, D+2, … of ``area``; returns its id.

    The level of each day is the HJ 633 category of its mean (:func:`bogda.standards.levels.category`).
    """
    now = now or now_utc()
    today = beijing_date(now)
    with store.begin() as conn:
        run = conn.execute(
            forecast_run.insert()
            .values(issue_time=now, kind="operational", status="ok", created_at=now, n_values=len(days))
            .returning(forecast_run.c.id)
        ).scalar_one()
        for lead, (mean, p10, p90) in enumerate(days, 1):
            start = day_start_utc(today + timedelta(days=lead))
            conn.execute(
                forecast.insert().values(
                    run_id=run,
                    target_code=area,
                    target_kind="prefecture" if area.endswith("00") else "county",
                    item="AQI",
                    resolution="day",
                    valid_start=start,
                    valid_end=start + timedelta(days=1),
                    lead=lead,
                    method="lgbm",
                    mean=mean,
                    p10=p10,
                    p90=p90,
                    level=int(category([mean])[0]),
                )
            )
    return int(run)
