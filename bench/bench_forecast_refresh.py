"""Benchmark: a full forecast refresh of a prefecture, database included (forecast.md §7 "Refresh < 10 s").

Synthetic prefecture: 1 prefecture, 7 counties, ``n`` stations (default 100) with 35 days of hourly data of the six
pollutants in a fresh SQLite store. One refresh = read the series, build station + county + prefecture series,
forecast six pollutants hourly to 72 h and seven daily items D+1..D+7 with baselines, AQI (hourly and daily) with
exceedance probabilities, warning proposals, advisories (none: no NWP), write ``forecast_run`` + ``forecast``.
Served with baselines only (no trained bundle), as an installation with < 365 days does; the model path adds the
prediction time measured by ``bench_forecast.py`` (0.7 s for 50 stations). The baselines read their training
climatologies (forecast.md §3.3, ``operational.fit_baselines``), as every refresh after the first nightly training
does: fitted before timing on a synthetic 400-day panel of the same station, county and prefecture codes.

With ``archive_days`` > 0 the store first receives that many operational runs, one per past Beijing date at the
current hour of day (made by ``refresh`` itself, not timed), so the timed refresh reads a PIT archive and draws
archive scenarios (forecast.md §3.5) instead of comonotone ones; 24 dates clear the 20-date minimum for both the
daily and the hourly archive (the newest date's daily leads are not yet observed).

With ``models`` as the third argument the timed refresh serves a trained bundle, as the spec's target reads ("with
models loaded"): before timing, the bundle is trained (not timed) on that synthetic panel, every item the nightly
job trains, with the production profile ``fast`` (200 / 120 rounds, so the trees are as many as in production) on
at most 3 000 rows per set (the row count changes the training time, not the size of the trees the refresh
evaluates).

With ``weather`` among the trailing arguments every station also stores its own weather (a01001 T, a01002 RH,
a01006 p in kPa, a01007 / a01008 wind: HJ 212's units), which the timed refresh reads and converts
(:mod:`bogda.forecast.station_weather`); with ``models`` too, the bundle learns from the same variables (synthetic
weather on its panel), so the refresh builds the observed-weather features as well (forecast.md §3.4).

Prints wall and CPU seconds and the ratio against the 10 s target. Run:
``.venv/bin/python bench/bench_forecast_refresh.py [n_stations] [archive_days] [models] [weather]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.store import connect, series
from bogda.store.schema import place, site
from bogda.timeutil import floor_to, now_utc

TARGET_S = 10.0


STATION_WEATHER = (("a01001", "°C"), ("a01002", "%"), ("a01006", "kPa"), ("a01007", "m/s"), ("a01008", "°"))


def weather_values(rng: np.random.Generator, hours: int) -> dict[str, np.ndarray]:
    """An hourly weather series of one station (a diurnal temperature wave, wind and pressure), HJ 212 units."""
    t = np.arange(hours)
    return {
        "a01001": np.round(-8 + 6 * np.sin(2 * np.pi * (t - 9) / 24) + rng.normal(0, 1, hours), 1),
        "a01002": np.round(np.clip(70 - 15 * np.sin(2 * np.pi * (t - 9) / 24) + rng.normal(0, 5, hours), 5, 100)),
        "a01006": np.round(94 + 0.5 * np.sin(2 * np.pi * t / 120) + rng.normal(0, 0.05, hours), 2),
        "a01007": np.round(rng.gamma(2.0, 1.2, hours), 1),
        "a01008": np.round(rng.uniform(0, 360, hours)),
    }


def build(path: Path, n: int, weather: bool = False) -> object:
    st = connect(f"sqlite:///{path}")
    now = floor_to(now_utc(), "hour")
    with st.begin() as conn:
        pref = conn.execute(
            place.insert()
            .values(code="652300", name="昌吉州", level=1, kind="prefecture", attrs={})
            .returning(place.c.id)
        ).scalar_one()
        counties = [
            conn.execute(
                place.insert()
                .values(code=f"65230{k}", name=f"县{k}", level=2, kind="county", parent_id=pref, attrs={})
                .returning(place.c.id)
            ).scalar_one()
            for k in range(1, 8)
        ]
        ids = [
            conn.execute(
                site.insert()
                .values(
                    kind="air_station",
                    code=f"B{i:03d}",
                    name=f"站{i}",
                    lon=87 + 0.03 * i,
                    lat=44 + 0.01 * (i % 9),
                    place_id=counties[i % 7],
                    attrs={},
                )
                .returning(site.c.id)
            ).scalar_one()
            for i in range(n)
        ]
    rng = np.random.default_rng(0)
    hours = 35 * 24
    ts = [now - timedelta(hours=h) for h in range(hours, 0, -1)]
    frames = []
    for sid in ids:
        pm = np.exp(4 + np.cumsum(rng.normal(0, 0.05, hours)) * 0.3)
        for code, f, unit in (
            ("a34004", 1, "ug/m3"),
            ("a34002", 1.6, "ug/m3"),
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
                        "value": np.round(pm * f, 3),
                        "flag": "N",
                        "unit": unit,
                    }
                )
            )
        if weather:
            for (code, unit), values in zip(STATION_WEATHER, weather_values(rng, hours).values(), strict=True):
                frames.append(
                    pl.DataFrame(
                        {
                            "site_id": np.full(hours, sid),
                            "parameter": code,
                            "ts": ts,
                            "value": values,
                            "flag": "N",
                            "unit": unit,
                        }
                    )
                )
    df = pl.concat(frames).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    series.write_long(st, df, resolution="hour", reason="bench")
    return st


def seed_archive(st: object, days: int) -> None:
    """``days`` past operational runs at the current hour of day, made by the refresh itself (setup, not timed)."""
    now = floor_to(now_utc(), "hour")
    for k in range(days, 0, -1):
        sv.refresh(st, now - timedelta(days=k), models=None)


def scenario_dates(st: object, run_id: int) -> dict[str, object]:
    """``scenario_dates`` of the prefecture's lead-1 AQI rows by resolution (0 = comonotone, None = analytic)."""
    from sqlalchemy import select

    from bogda.store.schema import forecast

    with st.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            select(forecast.c.resolution, forecast.c.prob).where(
                forecast.c.run_id == run_id,
                forecast.c.item == "AQI",
                forecast.c.target_code == "652300",
                forecast.c.lead == 1,
            )
        ).all()
    return {r.resolution: (r.prob or {}).get("scenario_dates") for r in rows}


def synthetic_panel(st: object, n: int, weather: bool = False) -> object:
    """A synthetic 400-day panel of stations ``B000``… and the store's counties and prefecture (setup, not timed):
    what the nightly training fits the baselines' tables and the bundle on; with ``weather``, the stations' weather
    too, converted as the refresh converts the stored one."""
    from bogda.forecast.features import panel_from_frame
    from bogda.forecast.synthetic import synthetic_frame

    frame, coords = synthetic_frame(n, 400, seed=1)
    frame = frame.with_columns(pl.col("station_code").str.replace("^S", "B"))
    coords = {"B" + c[1:]: v for c, v in coords.items()}
    panel = panel_from_frame(frame, list(op.HOURLY_ITEMS), coords=coords)
    if weather:
        from bogda.forecast.station_weather import STORE_WEATHER, panel_weather, to_canonical

        rng = np.random.default_rng(2)
        per_station = [weather_values(rng, panel.n_hours) for _ in panel.stations]
        columns = {
            STORE_WEATHER[code]: to_canonical(np.stack([w[code] for w in per_station]), STORE_WEATHER[code], unit)
            for code, unit in STATION_WEATHER
        }
        panel.data.update(panel_weather(columns, (len(panel.stations), panel.n_hours)))  # type: ignore[arg-type]
    return op.with_areas(panel, sv.registry(st).areas)  # type: ignore[arg-type]


def trained_bundle(panel: object) -> object:
    """A bundle of every nightly item (setup, not timed; see the module docstring)."""
    from dataclasses import replace

    from bogda.forecast.models import FAST

    models, reasons = op.train_operational(panel, sv.TRAIN_ITEMS, profile=replace(FAST, max_rows=3000))  # type: ignore[arg-type]
    if models is None:
        raise SystemExit(f"bundle not trained: {reasons}")
    return models


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    archive_days = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    with_models = "models" in sys.argv[3:]
    weather = "weather" in sys.argv[3:]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        st = build(Path(tmp) / "bench.db", n, weather)
        t_build = time.perf_counter() - t0
        a0 = time.perf_counter()
        seed_archive(st, archive_days)
        t_archive = time.perf_counter() - a0
        m0 = time.perf_counter()
        panel = synthetic_panel(st, n, weather)
        tables = op.fit_baselines(panel, areas_of=sv.areas_of(sv.registry(st)))  # type: ignore[arg-type]
        t_tables = time.perf_counter() - m0
        m0 = time.perf_counter()
        bundle = trained_bundle(panel) if with_models else None
        t_models = time.perf_counter() - m0
        w0, c0 = time.perf_counter(), time.process_time()
        res = sv.refresh(st, models=bundle, baselines=tables)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        w1 = time.perf_counter()
        res2 = sv.refresh(st, models=bundle, baselines=tables)
        wall2 = time.perf_counter() - w1
        dates = scenario_dates(st, res.run_id)
    print(f"baseline tables: fitted on the synthetic 400-day panel in {t_tables:.1f} s (setup, not timed)")
    if with_models:
        print(f"bundle: {len(sv.TRAIN_ITEMS)} items trained on a synthetic 400-day panel in {t_models:.1f} s (setup)")
        print(f"bundle's observed station weather: {', '.join(bundle.weather_vars) or 'none'}")  # type: ignore[attr-defined]
    what = "6 pollutants + 5 weather parameters" if weather else "6 pollutants"
    print(f"store: {n} stations × 35 days × {what} written in {t_build:.1f} s (setup, not timed)")
    print(f"targets: {n} stations + 7 counties + 1 prefecture; values written per run: {res.n_values}")
    if archive_days:
        print(f"archive: {archive_days} past runs seeded in {t_archive:.1f} s (setup, not timed)")
    print(f"reasons: {res.reasons}")
    print(f"AQI scenario_dates (0 = comonotone scenarios, None = analytic band): {dates}")
    print(
        f"REFRESH wall {wall:.2f} s, CPU {cpu:.2f} s   target {TARGET_S:.0f} s   ratio {wall / TARGET_S:.2f} "
        f"({'met' if wall < TARGET_S else 'NOT met'}); second run {wall2:.2f} s (status {res2.status})"
    )


if __name__ == "__main__":
    main()
