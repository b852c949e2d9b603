"""The US Embassy benchmark (forecast.md §8 check 6): Beijing PM2.5 2010–2014, persistence and the model beside it.

``../shared/data/beijing_pm25_usembassy/`` holds the UCI "Beijing PM2.5 Data" (the US Embassy monitor, weather from
the capital airport), the "toy" benchmark that many tutorials forecast 1 h ahead on, training on the first year and
testing on the other four. Its widely copied LSTM tutorial fills missing PM2.5 with 0, and under that protocol plain
persistence scores the same as the tutorial's network (RMSE 26.56). Check 6 pins the persistence figures:

- tutorial: PM2.5 NaN → 0, first 24 rows dropped, pairs (x[t−1], x[t]), the first 8760 pairs for training, the other
  35 039 scored: RMSE 26.56, MAE 13.02;
- honest: same span, missing targets not scored, the input the last valid value (at or before t−1): 23.66 / 12.64;
- 24-h persistence, same framing with pairs (x[t−24], x[t]): 101.10 / 69.15.

:func:`persistence_scores` computes them (pure), :func:`read_frame` reads the file into the backtest's frame and
:func:`protocol` scores bogda's models beside persistence on the same test span (train 2010, test 2011–2014;
"always report persistence beside any model", SOURCES.md), through :func:`bogda.forecast.backtest.run_protocol`.

The file's layout is its own (one station, ``cbwd`` wind sectors, cumulated ``Iws``), so it is read here rather
than by a monitoring reader: nothing in it is ever loaded into a store.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from bogda.forecast.backtest import ProtocolConfig, ProtocolResult, run_protocol
from bogda.forecast.baselines import daily_persistence as last_valid_value
from bogda.forecast.features import relative_humidity, wind_components
from bogda.timeutil import BEIJING

FILE = Path("beijing_pm25_usembassy") / "PRSA_data_2010.1.1-2014.12.31.csv.gz"
"""The benchmark file, relative to the shared data folder."""

STATION = "USEMB"
"""Station code given to the US Embassy monitor in the backtest frame (it has no CNEMC code)."""

DROPPED_ROWS = 24
"""Rows dropped at the start by the tutorial protocol (PM2.5 missing for the first day)."""

TRAIN_PAIRS = 8760
"""Pairs of the tutorial protocol used for training: the first year."""

REFERENCE: dict[str, tuple[int | None, float, float]] = {
    "tutorial_1h": (35039, 26.56, 13.02),
    "valid_1h": (None, 23.66, 12.64),
    "valid_24h": (None, 101.10, 69.15),
}
"""Check 6's figures: (n scored or None, RMSE, MAE) [µg/m³]."""

TRAIN = (date(2010, 1, 1), date(2010, 12, 31))
TEST = (date(2011, 1, 1), date(2014, 12, 31))
"""The model's split in Beijing dates: the tutorial's first year for training, the other four scored."""

SECTORS: dict[str, float | None] = {"NE": 45.0, "NW": 315.0, "SE": 135.0, "cv": None}
"""``cbwd`` → direction the wind comes from [degrees]; ``cv`` (calm or variable) has none."""

COLUMNS = ("year", "month", "day", "hour", "pm2.5", "DEWP", "TEMP", "PRES", "cbwd", "Iws")


@dataclass(frozen=True)
class Score:
    """One persistence figure: pairs scored, RMSE and MAE [µg/m³]."""

    n: int
    rmse: float
    mae: float


def persistence_scores(pm25: np.ndarray, lag: int = 1, *, tutorial: bool = False) -> Score:
    """Persistence at ``lag`` hours under check 6's framing (module docstring).

    Parameters
    ----------
    pm25 : hourly PM2.5 of the whole file in time order, NaN where missing [µg/m³]
    lag : hours between the input and the target
    tutorial : fill missing PM2.5 with 0 and score every pair (the tutorial's protocol); otherwise missing targets
        are not scored and the input is the last valid value at or before t − ``lag``

    The pairs are (x[t − lag], x[t]) over the rows after the first :data:`DROPPED_ROWS`; the first
    :data:`TRAIN_PAIRS` are the training year and the rest are scored.

    >>> x = np.arange(DROPPED_ROWS + TRAIN_PAIRS + 4, dtype=float)
    >>> persistence_scores(x, 1, tutorial=True)
    Score(n=3, rmse=1.0, mae=1.0)
    """
    pm = np.asarray(pm25, dtype=float)
    first = DROPPED_ROWS + lag + TRAIN_PAIRS  # the first scored target
    if pm.size <= first:
        raise ValueError(f"{pm.size} hours: check 6 needs more than {first} (the dropped day and the training year)")
    if tutorial:
        x = np.nan_to_num(pm, nan=0.0)
        fc, ob = x[first - lag : pm.size - lag], x[first:]
    else:
        # the last valid value at or before t − lag: the baselines' persistence, on the one series
        at = np.arange(first - lag, pm.size - lag)
        fc, ob = last_valid_value(pm[None, :], np.zeros(at.size, dtype=int), at), pm[first:]
        ok = np.isfinite(fc) & np.isfinite(ob)
        fc, ob = fc[ok], ob[ok]
    err = fc - ob
    return Score(int(err.size), float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err))))


def read_frame(path: Path) -> pl.DataFrame:
    """The benchmark file as the backtest's hourly frame.

    Columns ``station_code`` (:data:`STATION`), ``a34004`` (PM2.5 [µg/m³]), ``t2m``, ``td2m`` [°C], ``rh2m`` [%],
    ``psfc`` [hPa], ``ws10``, ``u10``, ``v10`` [m/s], ``ts`` (UTC start of the hour; the file's hours are Beijing
    time). The hourly wind speed is decoded from ``Iws``, the speed summed over consecutive hours of one sector: the
    difference from the hour before while the sector holds, the value itself when it changes. ``cv`` (calm or
    variable) hours have a speed but no direction, so no u, v.

    Raises
    ------
    ValueError
        naming the row (line of the file) and column of a value that is not a number, an unknown wind sector, a
        timestamp that is not a calendar hour, or hours out of order or repeated.
    """
    raw = pl.read_csv(path, infer_schema_length=0, null_values=["NA", ""])
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: columns {', '.join(missing)} missing (expected the UCI Beijing PM2.5 layout)")
    nums = {}
    for c in ("year", "month", "day", "hour", "pm2.5", "DEWP", "TEMP", "PRES", "Iws"):
        col = raw[c].cast(pl.Float64, strict=False)
        bad = raw[c].is_not_null() & col.is_null()
        if bad.any():
            i = int(bad.arg_max())  # type: ignore[arg-type]
            raise ValueError(f"{path} line {i + 2}, column {c}: {raw[c][i]!r} is not a number")
        nums[c] = col.to_numpy()
    sectors = raw["cbwd"].to_list()
    unknown = next((i for i, s in enumerate(sectors) if s not in SECTORS), None)
    if unknown is not None:
        raise ValueError(
            f"{path} line {unknown + 2}, column cbwd: {sectors[unknown]!r} is not a wind sector ({', '.join(SECTORS)})"
        )
    stamps_utc = []
    for i, ymdh in enumerate(zip(*(nums[k] for k in ("year", "month", "day", "hour")), strict=True)):
        try:
            stamps_utc.append(datetime(*(int(v) for v in ymdh), tzinfo=BEIJING).astimezone(UTC))
        except (ValueError, OverflowError):
            when = "-".join(f"{v:g}" for v in ymdh[:3]) + f" {ymdh[3]:g}h"
            raise ValueError(f"{path} line {i + 2}, columns year–hour: {when} is not a calendar hour") from None
    stamps = pl.Series("ts", stamps_utc, dtype=pl.Datetime("us", "UTC"))
    step = stamps.diff().dt.total_seconds()[1:]
    if (step != 3600).any():
        i = int((step != 3600).arg_max()) + 1  # type: ignore[arg-type]
        raise ValueError(f"{path} line {i + 2}: hour {stamps[i]} does not follow {stamps[i - 1]} by one hour")
    iws = nums["Iws"]
    same = np.array([False] + [a == b for a, b in zip(sectors[1:], sectors[:-1], strict=True)])
    ws = np.where(same, iws - np.concatenate([[np.nan], iws[:-1]]), iws)
    ws = np.where(ws < 0, np.nan, ws)  # a cumulated value that fell is not a speed
    deg = np.array([np.nan if SECTORS[s] is None else SECTORS[s] for s in sectors], dtype=float)
    u, v = wind_components(ws, deg)
    t, td = nums["TEMP"], nums["DEWP"]
    return pl.DataFrame(
        {
            "station_code": [STATION] * raw.height,
            "a34004": nums["pm2.5"],
            "t2m": t,
            "td2m": td,
            "rh2m": relative_humidity(t, td),
            "psfc": nums["PRES"],
            "ws10": ws,
            "u10": u,
            "v10": v,
            "ts": stamps,
        }
    ).with_columns(pl.col("a34004").fill_nan(None))


def check6(pm25: np.ndarray) -> dict[str, Score]:
    """The three persistence figures of check 6, keyed as :data:`REFERENCE`."""
    return {
        "tutorial_1h": persistence_scores(pm25, 1, tutorial=True),
        "valid_1h": persistence_scores(pm25, 1),
        "valid_24h": persistence_scores(pm25, 24),
    }


def protocol(
    data_dir: Path, modes: tuple[str, ...] = ("none", "observed_proxy"), *, config: ProtocolConfig | None = None
) -> tuple[dict[str, Score], dict[str, ProtocolResult]]:
    """Check 6 and the model beside it: ``(check6 scores, {mode: ProtocolResult})``.

    The model is the Beijing protocol's LightGBM on this one station (no neighbours), hourly 1 h and 24 h and daily
    D+1, fitted once on 2010 and scored on 2011–2014 (:data:`TRAIN`, :data:`TEST`); the training minimum is lowered
    to 300 valid days because the training year itself is the first of the record (its first day has no PM2.5).
    Its hourly persistence rows are the last valid value, as check 6's "honest" figures, over the backtest's own
    issue hours (every hour with a valid target), so they differ from check 6's pairs by the first test day.
    """
    frame = read_frame(data_dir / FILE)
    scores = check6(frame["a34004"].cast(pl.Float64).fill_null(np.nan).to_numpy())
    cfg = replace(
        config or ProtocolConfig(),
        name="usembassy",
        hourly_leads=(1, 24),
        daily_horizons=(1,),
        refit="once",
        post=(),
        neighbours=False,
        min_train_days=300,
    )
    return scores, {m: run_protocol(frame, TRAIN, TEST, m, config=cfg) for m in modes}
