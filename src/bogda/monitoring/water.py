"""Water stations (monitoring.md §3.5): water-quality class per sample and per section, drinking-source compliance.

Pure core: :func:`read_water_samples` parses the water-samples CSV (``section_code, sampled_at, item, value,
unit, below_dl, dl``), :func:`sample_classes` and :func:`section_classes` classify by GB 3838-2002 through
:mod:`bogda.standards.water` (below DL → ½ DL; TN and fecal coliform reported apart for rivers; lake TP limits for
lakes and reservoirs; pH outside 0–14 or negative values → invalid, left out). Service: :func:`load_water_samples`
writes samples as observations of ``water_station`` sites (resolution ``rt``: the sampling moment; flag ``N``, or
``BDL`` below the detection limit), :func:`water_overview` classifies every section for a period.

Site attributes used: ``water_body`` (river | lake | reservoir), ``target_class`` (1–5), ``drinking_source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from bogda.monitoring.formats.common import _table, convert_unit
from bogda.monitoring.ingest import ReadResult, Rejection
from bogda.standards.water import CLASS_LABELS, STATUS, drinking_source_compliant, half_detection_limit, section_class
from bogda.store import Store
from bogda.timeutil import parse_time

ITEM_CODES: dict[str, str] = {
    "w01001": "pH",
    "w01009": "DO",
    "w01019": "CODMn",
    "w01018": "COD",
    "w01017": "BOD5",
    "w21003": "NH3_N",
    "w21011": "TP",
    "w21001": "TN",
    "w20111": "Hg",
    "w20115": "Cd",
    "w20117": "Cr6",
    "w20119": "As",
    "w20120": "Pb",
    "w20122": "Cu",
    "w20123": "Zn",
    "w21017": "F",
    "w20128": "Se",
    "w21016": "CN",
    "w23002": "phenol",
    "w22001": "petroleum",
    "w19002": "LAS",
    "w21019": "sulfide",
    "w02003": "fecal_coliform",
    "w21038": "sulfate",
    "w21022": "chloride",
    "w21007": "nitrate_N",
    "w20125": "Fe",
    "w20124": "Mn",
}
"""HJ 212 water code → GB 3838-2002 item key of :mod:`bogda.standards.water` (codes beyond the HJ 212-2017
table's first page are bogda's mapping [R]; extend as stations report more items)."""

UNIT_FACTORS = {"mg/L": 1.0, "µg/L": 1e-3, "ug/L": 1e-3, "μg/L": 1e-3, "1": 1.0, "": 1.0, "个/L": 1.0, "count/L": 1.0}
"""Sample unit → factor to the standard's unit (mg/L; pH dimensionless; coliform count/L)."""

WATERBODY = {"river": "river", "lake": "lake", "reservoir": "lake"}


def read_water_samples(src: str | Path | bytes, *, name: str | None = None) -> ReadResult:
    """Read the water-samples CSV (monitoring.md §2.3): one row per section, time and item.

    ``sampled_at`` is ISO 8601 with a zone (a zone-less time is read as Beijing time); ``item`` is an HJ 212
    w-code (:data:`ITEM_CODES`) or a GB 3838 item key; ``below_dl`` true → the value used is ½ ``dl``. Unknown
    items, bad numbers, unknown units, negative values and pH outside 0–14 are rejected with their reason.
    """
    table, file = _table(src, name)
    need = ("section_code", "sampled_at", "item", "value")
    missing = [c for c in need if c not in table.header]
    if missing:
        from bogda.monitoring.ingest import FileRefused

        raise FileRefused(file, f"no {', '.join(missing)} column (found {table.header[:8]})")
    df = table.frame
    for c in ("unit", "below_dl", "dl"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias(c))
    keys = set(ITEM_CODES.values())
    times = {}
    for text in df["sampled_at"].unique().to_list():
        try:
            times[text] = parse_time(text) if text else None
        except ValueError:
            times[text] = None
    df = df.with_columns(
        pl.col("sampled_at").replace_strict(times, default=None, return_dtype=pl.Datetime("us", "UTC")).alias("ts")
    )
    df = df.with_columns(
        pl.col("item").replace_strict(ITEM_CODES, default=pl.col("item"), return_dtype=pl.String).alias("_key"),
        pl.col("value").cast(pl.Float64, strict=False).alias("_v"),
        pl.col("dl").cast(pl.Float64, strict=False).alias("_dl"),
        pl.col("below_dl")
        .str.to_lowercase()
        .is_in(["1", "true", "yes", "y", "是", "<dl", "nd"])
        .fill_null(False)
        .alias("_bdl"),
        pl.col("unit")
        .fill_null("mg/L")
        .replace_strict(UNIT_FACTORS, default=None, return_dtype=pl.Float64)
        .alias("_f"),
    )
    reason = (
        pl.when(~pl.col("_key").is_in(list(keys)))
        .then(pl.format("unknown item '{}'", pl.col("item").fill_null("")))
        .when(pl.col("ts").is_null())
        .then(pl.format("bad sampled_at '{}'", pl.col("sampled_at").fill_null("")))
        .when(pl.col("_f").is_null())
        .then(pl.format("unknown unit '{}'", pl.col("unit").fill_null("")))
        .when(pl.col("_bdl") & pl.col("_dl").is_null())
        .then(pl.lit("below_dl without a detection limit"))
        .when(~pl.col("_bdl") & pl.col("_v").is_null())
        .then(pl.format("non-numeric value '{}'", pl.col("value").fill_null("")))
        .when(~pl.col("_bdl") & (pl.col("_v") < 0))
        .then(pl.lit("negative value"))
        .when((pl.col("_key") == "pH") & ~pl.col("_v").is_between(0, 14))
        .then(pl.lit("pH outside 0–14"))
    )
    df = df.with_columns(reason.alias("_reason"))
    rejected = list(table.rejected) + [
        Rejection(file, line, "item", why, None)
        for line, why in df.filter(pl.col("_reason").is_not_null()).select("_line", "_reason").iter_rows()
    ]
    good = df.filter(pl.col("_reason").is_null())
    value = half_detection_limit(
        good["_v"].fill_null(np.nan).to_numpy(), good["_bdl"].to_numpy(), good["_dl"].fill_null(np.nan).to_numpy()
    )
    frame = good.select(
        pl.col("section_code").alias("site_code"),
        "ts",
        pl.col("_key").alias("parameter"),
        convert_unit(pl.lit(pl.Series(value)), pl.col("_f")).alias("value"),
        pl.lit("rt").alias("resolution"),
        pl.col("_key")
        .replace_strict({"pH": "1", "fecal_coliform": "count/L"}, default="mg/L", return_dtype=pl.String)
        .alias("unit"),
        pl.when(pl.col("_bdl")).then(pl.lit("BDL")).otherwise(pl.lit("N")).alias("source_flag"),
    )
    stats = {"rows": float(df.height), "values": float(frame.height), "rejected": float(len(rejected))}
    sites = tuple(sorted(frame["site_code"].unique().to_list()))
    return ReadResult(frame, rejected, "water_samples", file, "start", sites, None, None, stats)


def sample_classes(samples: pl.DataFrame, *, waterbody: str = "river") -> pl.DataFrame:
    """Class of each sample (one section and time): ``site_code, ts, water_class, label, status_zh, main_pollutants,
    class_<item>…`` (GB 3838-2002 single-factor method on the items present)."""
    wide = samples.pivot(on="parameter", index=["site_code", "ts"], values="value", aggregate_function="mean")
    return _classify(wide, ["site_code", "ts"], waterbody)


def _classify(wide: pl.DataFrame, index: Sequence[str], waterbody: str) -> pl.DataFrame:
    items = [c for c in wide.columns if c not in index]
    values = {k: wide[k].fill_null(np.nan).to_numpy() for k in items}
    res = section_class(values, WATERBODY.get(waterbody, "river"))
    drink = drinking_source_compliant(values, WATERBODY.get(waterbody, "river"))
    cols = [
        pl.Series("water_class", res.water_class.astype(np.int64)),
        pl.Series("label", np.array(CLASS_LABELS, dtype=object)[res.water_class], dtype=pl.String),
        pl.Series("status_zh", [STATUS[c][0] if c else None for c in res.water_class.tolist()], dtype=pl.String),
        pl.Series("main_pollutants", res.main_pollutants.tolist(), dtype=pl.String),
        pl.Series("drinking_compliant", drink),
    ]
    cols += [pl.Series(f"class_{k}", v.astype(np.int64)) for k, v in res.item_classes.items()]
    return wide.select(*index).with_columns(cols)


def section_classes(
    samples: pl.DataFrame,
    sections: pl.DataFrame,
    *,
    period: str = "month",
) -> pl.DataFrame:
    """Class per section and period from the period mean of each item (monitoring.md §3.5).

    Parameters
    ----------
    samples : pl.DataFrame
        ``site_code, ts, parameter, value`` (½ DL already applied).
    sections : pl.DataFrame
        ``site_code, water_body, target_class, drinking_source``.
    period : {"day", "month", "year"}

    Returns
    -------
    pl.DataFrame
        ``site_code, period, water_class, label, status_zh, main_pollutants, drinking_compliant, target_class,
        target_met, drinking_source, class_<item>…``.
    """
    fmt = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[period]
    keyed = samples.with_columns(pl.col("ts").dt.convert_time_zone("Asia/Shanghai").dt.strftime(fmt).alias("period"))
    means = keyed.group_by("site_code", "period", "parameter").agg(pl.col("value").mean())
    out = []
    meta = {r["site_code"]: r for r in sections.iter_rows(named=True)}
    for (code,), part in means.partition_by("site_code", as_dict=True).items():
        wide = part.pivot(on="parameter", index=["site_code", "period"], values="value")
        info = meta.get(code, {})
        cls = _classify(wide, ["site_code", "period"], str(info.get("water_body") or "river"))
        target = info.get("target_class")
        cls = cls.with_columns(
            pl.lit(target, pl.Int64).alias("target_class"),
            (pl.col("water_class") <= target).alias("target_met")
            if target
            else pl.lit(None, pl.Boolean).alias("target_met"),
            pl.lit(bool(info.get("drinking_source", False))).alias("drinking_source"),
        )
        out.append(cls)
    return pl.concat(out, how="diagonal_relaxed").sort("site_code", "period") if out else pl.DataFrame()


# --- service ---------------------------------------------------------------------------------------------------


def load_water_samples(
    store: Store, path: str | Path | bytes, *, register_unknown: bool = True, name: str | None = None
):
    """``bogda ingest water PATH``: read the samples CSV and write them (sections become ``water_station`` sites,
    placeholders with unknown position unless registered before)."""
    from bogda.monitoring.load import load_result

    result = read_water_samples(path, name=name)
    return load_result(store, result, register_unknown=register_unknown, kind="water_station")


def water_overview(store: Store, *, start: datetime, end: datetime, period: str = "month") -> pl.DataFrame:
    """Class of every water section over [start, end) per period, beside the air network."""
    from sqlalchemy import select

    from bogda.store import series as S
    from bogda.store.schema import site

    with store.engine.connect() as conn:
        rows = conn.execute(select(site.c.id, site.c.code, site.c.attrs).where(site.c.kind == "water_station")).all()
    if not rows:
        return pl.DataFrame()
    code_of = {i: c for i, c, _ in rows}
    sections = pl.DataFrame(
        [
            (c, (a or {}).get("water_body", "river"), (a or {}).get("target_class"), (a or {}).get("drinking_source"))
            for _, c, a in rows
        ],
        schema={
            "site_code": pl.String,
            "water_body": pl.String,
            "target_class": pl.Int64,
            "drinking_source": pl.Boolean,
        },
        orient="row",
    )
    obs = S.read(store, sites=list(code_of), start=start, end=end, resolution="rt")
    if obs.height == 0:
        return pl.DataFrame()
    samples = obs.select(
        pl.col("site_id").replace_strict(code_of, return_dtype=pl.String).alias("site_code"), "ts", "parameter", "value"
    )
    return section_classes(samples, sections, period=period)


__all__ = [
    "ITEM_CODES",
    "load_water_samples",
    "read_water_samples",
    "sample_classes",
    "section_classes",
    "water_overview",
]
