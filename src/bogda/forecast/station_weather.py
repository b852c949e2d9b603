"""Observed station weather from the store as forecast inputs (forecast.md §2 "Observations", §3.2, §3.4).

Air stations that measure weather store it beside the pollutants: HJ 212 codes a01001 (temperature), a01002 (RH),
a01006 (pressure), a01007 / a01008 (wind speed and direction); dew point and rain, which HJ 212-2017 gives no code,
under the names the monitoring ingest writes (``dewpoint``, ``precipitation``). This module turns those stored values
into the forecast's weather variables (:data:`bogda.forecast.features.WEATHER`, the names and units of the NWP
adapters): °C, °C, %, m/s, m/s, m/s, hPa, mm.

- Units come from each series' declared unit and are converted (K → °C, Pa or kPa → hPa: HJ 212 writes pressure in
  kPa, the PRSA files in hPa); a unit that does not fit the variable leaves the series out with a note, never a
  guess (forecast.md §6).
- Physically impossible values (:data:`PLAUSIBLE`) are left out with a count: the monitoring QA rules cover the
  pollutants only, and one broken sensor must not become a model input.
- Wind becomes u = −ws·sin(dir), v = −ws·cos(dir); a calm hour (ws = 0) is zero wind whatever the direction says.
  RH comes from T and Td by Magnus where the station stores no RH (forecast.md §2).

Everything here is pure except :func:`read_weather`, which reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import polars as pl

from bogda.forecast.features import WEATHER, relative_humidity, wind_components
from bogda.forecast.weather import convert_unit

STORE_WEATHER: dict[str, str] = {
    "a01001": "t2m",
    "dewpoint": "td2m",
    "a01002": "rh2m",
    "a01006": "psfc",
    "a01007": "ws10",
    "a01008": "wd10",
    "precipitation": "precip",
}
"""Stored station weather (HJ 212 codes; dew point and rain have none, monitoring ingest names them) → columns."""

PLAUSIBLE: dict[str, tuple[float, float]] = {
    "t2m": (-60.0, 60.0),
    "td2m": (-80.0, 45.0),
    "rh2m": (0.0, 100.0),
    "psfc": (400.0, 1100.0),
    "ws10": (0.0, 75.0),
    "wd10": (0.0, 360.0),
    "precip": (0.0, 300.0),
}
"""Physical limits of each column in its canonical unit (inclusive; d): outside them a value is left out. Surface
pressure 400 hPa is higher than any station (about 7 km), 300 mm/h beyond any recorded hourly rain."""

_DIRECTION_UNITS = frozenset({"°", "deg", "degree", "degrees", ""})


def to_canonical(values: np.ndarray, column: str, unit: str) -> np.ndarray:
    """Values of stored weather ``column`` (a :data:`STORE_WEATHER` column) in its canonical unit.

    Raises
    ------
    ValueError
        when ``unit`` does not fit the column (e.g. a pressure in °C), naming both.

    Examples
    --------
    >>> to_canonical(np.array([95.2]), "psfc", "kPa").tolist()
    [952.0]
    >>> to_canonical(np.array([273.15]), "t2m", "K").tolist()
    [0.0]
    >>> to_canonical(np.array([90.0]), "wd10", "°").tolist()
    [90.0]
    """
    if column == "wd10":
        if unit.strip().lower() not in _DIRECTION_UNITS:
            raise ValueError(f"unit {unit!r} does not fit wind direction (expected °)")
        return values
    if not unit.strip():  # series written before units were recorded carry the canonical one
        return values
    # a linear map (offset, factor) read off the scalar converter of the NWP adapters: one conversion table
    offset = convert_unit(column, 0.0, unit)
    factor = convert_unit(column, 1.0, unit) - offset
    return values * factor + offset


def canonical_frame(obs: pl.DataFrame, units: Mapping[tuple[int, str], str]) -> tuple[pl.DataFrame, list[str]]:
    """Stored weather rows in canonical units, without implausible values, and notes on what was left out.

    Parameters
    ----------
    obs : pl.DataFrame
        ``site_id, parameter, ts, value`` rows of :data:`STORE_WEATHER` parameters (usable rows only: the source
        flag and any QA verdict already applied).
    units : mapping
        (site_id, parameter) → the series' declared unit.

    Returns
    -------
    (pl.DataFrame, list of str)
        ``site_id, column, ts, value`` with ``column`` the :data:`STORE_WEATHER` name; one note per series whose
        unit does not fit and one per column with values outside :data:`PLAUSIBLE`.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = datetime(2025, 1, 1, tzinfo=UTC)
    >>> f = pl.DataFrame({"site_id": [1, 1, 2], "parameter": ["a01006", "a01001", "a01001"], "ts": [t] * 3,
    ...                   "value": [95.0, -12.0, 99.0]})
    >>> rows, notes = canonical_frame(f, {(1, "a01006"): "kPa", (1, "a01001"): "°C", (2, "a01001"): "°C"})
    >>> rows.sort("site_id", "column")["value"].to_list(), notes
    ([950.0, -12.0], ['1 t2m values outside -60…60 left out (station weather)'])
    """
    notes = []
    # one (offset, factor) per series, from its unit; the values are then converted in one pass
    maps = []
    for site_id, parameter in obs.select("site_id", "parameter").unique().sort("site_id", "parameter").iter_rows():
        column = STORE_WEATHER[str(parameter)]
        unit = units.get((int(site_id), str(parameter)), "")
        try:
            offset, one = to_canonical(np.array([0.0, 1.0]), column, unit).tolist()
        except ValueError as exc:
            notes.append(f"site {site_id} {parameter}: {exc}; left out (station weather)")
            continue
        maps.append((int(site_id), str(parameter), column, offset, one - offset))
    table = pl.DataFrame(
        maps,
        schema={"site_id": pl.Int64, "parameter": pl.Utf8, "column": pl.Utf8, "_o": pl.Float64, "_f": pl.Float64},
        orient="row",
    )
    rows = obs.with_columns(pl.col("site_id").cast(pl.Int64)).join(table, on=["site_id", "parameter"], how="inner")
    rows = rows.select(
        "site_id", "column", "ts", (pl.col("value").cast(pl.Float64) * pl.col("_f") + pl.col("_o")).alias("value")
    )
    lo = pl.col("column").replace_strict({k: v[0] for k, v in PLAUSIBLE.items()}, return_dtype=pl.Float64)
    hi = pl.col("column").replace_strict({k: v[1] for k, v in PLAUSIBLE.items()}, return_dtype=pl.Float64)
    ok = pl.col("value").is_between(lo, hi)
    bad = rows.filter(~ok | pl.col("value").is_null())
    for column, n in bad.group_by("column").len().sort("column").iter_rows():
        a, b = PLAUSIBLE[column]
        notes.append(f"{n} {column} values outside {a:g}…{b:g} left out (station weather)")
    return rows.filter(ok), notes


def weather_arrays(columns: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The forecast's weather variables (:data:`~bogda.forecast.features.WEATHER`) from canonical columns.

    ``columns``: :data:`STORE_WEATHER` column → array of ``shape`` (absent columns are all NaN). RH is the stored
    one where present, else Magnus from T and Td, hour by hour; a calm hour has zero u and v.

    >>> out = weather_arrays({"t2m": np.array([10.0]), "td2m": np.array([10.0]), "ws10": np.array([0.0, 2.0])[:1],
    ...                       "wd10": np.array([90.0])}, (1,))
    >>> sorted(out), float(out["rh2m"][0]), float(out["u10"][0])
    (['precip', 'psfc', 'rh2m', 't2m', 'td2m', 'u10', 'v10', 'ws10'], 100.0, 0.0)
    """
    nan = np.full(shape, np.nan)

    def col(name: str) -> np.ndarray:
        return np.asarray(columns[name], dtype=float) if name in columns else nan.copy()

    t, td, ws, wd, rh = col("t2m"), col("td2m"), col("ws10"), col("wd10"), col("rh2m")
    with np.errstate(all="ignore"):
        rh = np.where(np.isfinite(rh), rh, relative_humidity(t, td))
    u, v = wind_components(ws, wd)
    calm = ws == 0
    out = {
        "t2m": t,
        "td2m": td,
        "rh2m": rh,
        "ws10": ws,
        "u10": np.where(calm, 0.0, u),
        "v10": np.where(calm, 0.0, v),
        "psfc": col("psfc"),
        "precip": col("precip"),
    }
    return {k: out[k] for k in WEATHER}


def read_weather(store: object, sites: Sequence[int], start: datetime, end: datetime) -> tuple[pl.DataFrame, list[str]]:
    """Usable stored weather of ``sites`` in ``[start, end)``: ``site_id, column, ts, value`` in canonical units and
    notes on what was left out (:func:`canonical_frame`).

    Values count when their source flag is N and no QA verdict or person marked them invalid, maintenance or
    suspect (the monitoring QA leaves weather unruled, so a person's verdict is the only one there can be).
    """
    from bogda.monitoring.load import read_qa
    from bogda.store import series as store_series

    params = list(STORE_WEATHER)
    checked = read_qa(store, sites=list(sites), parameters=params, start=start, end=end)  # type: ignore[arg-type]
    good = (pl.col("source_flag") == "N") & (
        pl.col("flag").is_null() | ~pl.col("flag").is_in(["invalid", "maintenance", "suspect"])
    )
    present = checked.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
    usable = present.filter(good).select("site_id", "parameter", "ts", "value")
    notes = []
    if present.height > usable.height:
        notes.append(f"{present.height - usable.height} station-weather values flagged by the source or QA left out")
    ser = store_series.find_series(store, sites=list(sites), parameters=params)  # type: ignore[arg-type]
    units = {(int(s), str(p)): str(u or "") for s, p, u in ser.select("site_id", "parameter", "unit").iter_rows()}
    rows, more = canonical_frame(usable, units)
    return rows, notes + more


RECENT_HOURS = 24
"""A model input counts as used by a refresh when some station holds it in the last this many hours before the
issue (d): the features reach back 24 h (obs_*_d24, the 24 h means), so with nothing in 24 h every one is missing."""


def present_at_issue(
    data: Mapping[str, np.ndarray], variables: Sequence[str], t_issue: int, rows: Sequence[int]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which of the observed weather ``variables`` some station row of ``rows`` holds in the :data:`RECENT_HOURS`
    up to hour index ``t_issue`` (inclusive), and which none does: ``(present, missing)``.

    A refresh says which observed weather its models read (forecast.md §3.4 "says which it used"); a variable no
    station reported in that window is missing to the models (LightGBM routes it as a gap), which degrades the run.

    >>> x = np.full((2, 48), np.nan); x[1, 30] = -5.0
    >>> present_at_issue({"t2m": x, "psfc": x[:, ::-1].copy()}, ("t2m", "psfc", "rh2m"), 47, [0, 1])
    (('t2m',), ('psfc', 'rh2m'))
    """
    lo = max(0, t_issue - RECENT_HOURS + 1)
    present, missing = [], []
    for v in variables:
        x = data.get(v)
        held = x is not None and len(rows) > 0 and bool(np.isfinite(x[list(rows), lo : t_issue + 1]).any())
        (present if held else missing).append(v)
    return tuple(present), tuple(missing)


def panel_weather(columns: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The weather variables a panel gets from canonical station columns: :func:`weather_arrays`, only those with
    at least one value, gaps up to 3 h interpolated along time (forecast.md §3.2, as the Dongsi protocol's panel).

    >>> out = panel_weather({"t2m": np.array([[1.0, np.nan, 3.0]])}, (1, 3))
    >>> sorted(out), out["t2m"].tolist()
    (['t2m'], [[1.0, 2.0, 3.0]])
    """
    from bogda.forecast.features import interpolate_gaps

    arrays = weather_arrays(columns, shape)
    return {k: interpolate_gaps(a) for k, a in arrays.items() if np.isfinite(a).any()}
