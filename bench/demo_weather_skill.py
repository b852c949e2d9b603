"""Does the demo's observed station weather help its forecasts? (forecast.md §6 "The demo")

Builds the demo region with ``days`` of simulated history (default 400) in a fresh SQLite store, reads the panel as
the nightly training does, and trains two PM2.5 bundles on every day but the last ``holdout`` (default 60), with
the production profile ``fast``: one with the observed weather the rule picks (the township stations' T, RH,
pressure and wind), one with none. Both are issued once a day at the bundle's issue hour over the hold-out, as the
deployment gate scores a probe (:func:`bogda.forecast.gate.probe_pairs`), and scored at the goal horizons, hourly
24 h and daily D+1, on the station rows. Prints each RMSE and the ratio with / without weather.

Run: ``.venv/bin/python bench/demo_weather_skill.py [days] [holdout]`` (about 1 min).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from bogda.demo.region import build_demo_region
from bogda.demo.simulate import load_recent
from bogda.forecast import gate
from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.store import connect
from bogda.timeutil import now_utc


def main(days: int = 400, holdout: int = 60) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = connect(f"sqlite:///{Path(tmp) / 'demo.db'}")
        region = build_demo_region(store)
        now = now_utc()
        load_recent(store, region.stations, days=days, now=now)
        reg = sv.registry(store)
        panel = sv.load_panel(store, reg, now, days=days)
        store.dispose()
    last_day = panel.n_hours // 24 - 1
    train_end = last_day - holdout - 1
    stations = {t.code for t in reg.stations}
    rows = [i for i, c in enumerate(panel.stations) if c in stations]
    horizons = (("hour", 24), ("day", 1))
    scores = {}
    for name, weather in (("with weather", None), ("without", ())):
        t0 = time.process_time()
        bundle, why = op.train_operational(
            panel, ("a34004",), train_end=train_end, min_days=train_end - 30, weather_vars=weather,
            blocks=((7, 24),), horizons=(1,),
        )  # fmt: skip
        if bundle is None:
            raise SystemExit(f"{name}: no bundle ({'; '.join(why)})")
        positions = gate.issue_positions(panel, train_end + 1, last_day - 1, bundle.issue_hour)
        pairs = gate.probe_pairs(panel, bundle, ("a34004",), positions, horizons=horizons)
        pairs = pairs.filter(pl.col("target_code").is_in([panel.stations[i] for i in rows]))
        for res, lead in horizons:
            g = pairs.filter((pl.col("resolution") == res) & (pl.col("lead") == lead)).drop_nulls().drop_nans()
            err = (g["new_mean"] - g["obs"]).to_numpy()
            scores[(name, res, lead)] = (float(np.sqrt(np.mean(err**2))), len(err))
        cpu = time.process_time() - t0
        print(f"{name}: inputs {bundle.weather_vars or 'none'}; trained and scored in {cpu:.0f} s CPU")
    for res, lead in horizons:
        (w, n), (wo, _) = scores[("with weather", res, lead)], scores[("without", res, lead)]
        label = f"hourly {lead} h" if res == "hour" else f"daily D+{lead}"
        print(f"PM2.5 {label}: RMSE with weather {w:.1f}, without {wo:.1f} µg/m³ ({n} pairs); ratio {w / wo:.3f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
