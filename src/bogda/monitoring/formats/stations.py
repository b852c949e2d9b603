"""CNEMC station lists (quotsoft 站点列表 format) and matching stations by name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from bogda.monitoring.formats.common import NATIONAL_CODE, STATION_CODE, FileRefused, _table

# ---------------------------------------------------------------------------------------------- stations


_NAME_SUFFIX = re.compile(r"[（(](对照点|[^（()）]*停运[^（()）]*)[）)]")
_STATION_ALIASES = {
    "监测点编码": "station_code",
    "监测点名称": "station_name",
    "城市": "city",
    "经度": "longitude",
    "纬度": "latitude",
    "对照点": "is_control",
    "省级行政区": "province",
    "地级行政区": "prefecture",
}


def station_base_name(name: str) -> str:
    """Station name without "(对照点)" / "(停运YYMMDD)" (half- or full-width brackets), for matching by name.

    >>> station_base_name("天山天池(对照点)")
    '天山天池'
    >>> station_base_name("地区站(停运200629)")
    '地区站'
    """
    return _NAME_SUFFIX.sub("", name).strip()


def read_stations(src: str | Path | bytes, *, name: str | None = None) -> pl.DataFrame:
    """Read a CNEMC station list (quotsoft 站点列表 format, English or original Chinese headers).

    Returns
    -------
    pl.DataFrame
        ``station_code, station_name, base_name, city, longitude [°], latitude [°], is_control (bool),
        decommissioned (the 停运 marker, e.g. "停运200629", "20190222停运", "已停运", or null), national (code
        matches ``^\\d{4}A$``)`` plus every other column of the file as text, ``problem`` (null, or why a row is
        unusable: no code, bad code, bad coordinates, duplicate code) and ``line``. Rows are never dropped.
    """
    table, file = _table(src, name)
    rename = {c: _STATION_ALIASES[c] for c in table.header if c in _STATION_ALIASES}
    df = table.frame.rename(rename)
    if "station_code" not in df.columns or "station_name" not in df.columns:
        raise FileRefused(file, f"no station_code / station_name column (found {table.header[:8]})")
    for c in ("city", "longitude", "latitude", "is_control"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    names = df["station_name"].fill_null("")
    df = df.with_columns(
        pl.Series("base_name", [station_base_name(n) for n in names], dtype=pl.String),
        pl.col("station_name").str.extract(r"[（(]([^（()）]*停运[^（()）]*)[）)]").alias("decommissioned"),
        pl.col("longitude").cast(pl.Float64, strict=False).alias("_lon"),
        pl.col("latitude").cast(pl.Float64, strict=False).alias("_lat"),
    )
    bad_coord = (pl.col("longitude").is_not_null() & pl.col("_lon").is_null()) | (
        pl.col("latitude").is_not_null() & pl.col("_lat").is_null()
    )
    out_of_range = (pl.col("_lon").abs() > 180) | (pl.col("_lat").abs() > 90)
    problem = (
        pl.when(pl.col("station_code").is_null())
        .then(pl.lit("missing station_code"))
        .when(~pl.col("station_code").str.contains(STATION_CODE.pattern))
        .then(pl.lit("station code must match [A-Za-z0-9_.-]{1,32}"))
        .when(pl.col("station_code").is_duplicated())
        .then(pl.lit("duplicate station_code"))
        .when(bad_coord | out_of_range.fill_null(False))
        .then(pl.lit("bad coordinates"))
    )
    df = df.with_columns(
        pl.col("_lon").alias("longitude"),
        pl.col("_lat").alias("latitude"),
        pl.col("is_control").str.to_uppercase().is_in(["Y", "YES", "TRUE", "1", "是"]).alias("is_control"),
        pl.col("station_code").str.contains(NATIONAL_CODE.pattern).fill_null(False).alias("national"),
        problem.alias("problem"),
    ).drop("_lon", "_lat")
    first = [
        "station_code",
        "station_name",
        "base_name",
        "city",
        "longitude",
        "latitude",
        "is_control",
        "decommissioned",
        "national",
    ]
    rest = [c for c in df.columns if c not in first and c != "_line"]
    return df.select(first + rest + ["_line"]).rename({"_line": "line"})


def _name_map(stations: pl.DataFrame | Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """(city, base name) → code; an active station wins over a decommissioned one of the same name."""
    if isinstance(stations, Mapping):
        return {(c, station_base_name(n)): code for (c, n), code in stations.items()}
    out: dict[tuple[str, str], str] = {}
    rows = stations.select(
        "city", "station_name", "station_code", pl.col("station_name").str.contains("停运").alias("_off")
    ).sort("_off", descending=True)  # decommissioned first, so active ones overwrite them
    for city, sname, code, _ in rows.iter_rows():
        if city and sname and code:
            out[(city, station_base_name(sname))] = code
    return out
