"""Annual air-quality targets (``air_target``): the one validator, Excel import/export and the seed rows
(governance.md §3.8 "Annual targets", §8 item 12).

The targets are data entered by the bureau, "with Excel import/export like the ledgers": export writes one sheet
with Chinese column names (地区代码, 年份, 指标, 比较, 目标值, 类型, 基准年, 标准版本, 扣除沙尘, 依据文件), import reads
the same layout back (Chinese or English column names, .xlsx or CSV in UTF-8/GB18030) through the ledgers' reading
machinery (:func:`bogda.registry.importers.read_rows`, :func:`bogda.ledger.base.normalise`,
:func:`bogda.ledger.io.export_rows`). Import is all-or-nothing: every row is checked by :func:`target_problems` (the
validator the ``PUT /bigscreen/targets/…`` route uses too) and against the registry (:func:`place_problem`); any
rejected row rejects the file with :class:`~bogda.registry.importers.ImportRejected` naming file, line, column and
reason, and nothing is written. Rows are upserted by their key ``(place_code, year, metric)`` with ``entered_by`` /
``entered_at`` set, so an exported file edited and imported again round-trips.

The seed (:data:`SEED`, a UTF-8 CSV in the import layout) holds the Xinjiang 2025 plan (新政办发〔2024〕58号) as
governance.md §3.8 gives it: the region (650000) good-day ratio ≥ 75.5 %, heavy-pollution days ≤ 1.1 %, PM2.5 ≤ 33
µg/m³; the 乌—昌—石 zone's PM2.5 −20 % against 2020 and heavy days ≤ 5 %, entered for Changji prefecture (652300),
the zone's only member in the registry. It loads through :func:`import_targets`.

A relative target stores the change [%] and its base year; the value it resolves to is computed when read, from the
base year's assessment on the target's basis (:func:`bogda.web.api.bigscreen_progress.resolve_target`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from bogda import audit
from bogda.ledger.base import Field, Ledger, normalise
from bogda.ledger.io import export_rows
from bogda.registry.importers import ImportRejected, ImportReport, RowError, accepted, read_rows
from bogda.store import Store
from bogda.store.schema import air_target, place
from bogda.timeutil import now_utc

TARGET_METRICS = ("pm25_mean", "good_day_ratio", "heavy_day_ratio", "composite_index")
"""The metrics of governance.md §3.8: PM2.5 annual mean [µg/m³], good-day and heavy-pollution-day ratios [%], the
composite index [-]."""
COMPARISONS = ("<=", ">=")
KINDS = ("absolute", "relative")
STANDARD_VERSIONS = ("2012", "2026")
ABSOLUTE_RANGE: dict[str, tuple[float, float]] = {
    "pm25_mean": (0.0, 500.0),  # µg/m³; 500 is the top of the PM2.5 24-h IAQI table (HJ 633)
    "good_day_ratio": (0.0, 100.0),  # %
    "heavy_day_ratio": (0.0, 100.0),  # %
    "composite_index": (0.0, 50.0),  # Σ C/S over six pollutants: 6 at the Class 2 limits; 50 catches unit slips
}
"""Inclusive bounds of an absolute target value per metric."""
RELATIVE_RANGE = (-100.0, 100.0)
"""A relative target is a change [%] against the base year: above −100 (which would be zero) and at most +100."""
KEY = ("place_code", "year", "metric")
SOURCE_DOC_MAX = 200
SEED = Path(__file__).with_name("data") / "air_targets_seed.csv"
"""The seed rows of the Xinjiang 2025 plan (governance.md §3.8 [P], 新政办发〔2024〕58号)."""

FIELDS: tuple[Field, ...] = (
    Field("place_code", "地区代码", required=True, aliases=("行政区划代码", "code")),
    Field("year", "年份", "int", required=True),
    Field("metric", "指标", required=True),
    Field("comparison", "比较", required=True, aliases=("比较符",)),
    Field("value", "目标值", "float", required=True),
    Field("kind", "类型", default="absolute", aliases=("目标类型",)),
    Field("base_year", "基准年", "int"),
    Field("standard_version", "标准版本", default="2012", aliases=("standard",)),
    Field("dust_excluded", "扣除沙尘", "bool", default=True),
    Field("source_doc", "依据文件", default="", aliases=("文号", "依据")),
)
"""The sheet's columns: Chinese name first, the English key and aliases accepted on import."""

SHEET = Ledger(
    kind="air_target",
    zh="年度目标",
    en="Annual air-quality targets",
    table=air_target,
    key="place_code",
    fields=FIELDS,
)
# the targets carry none of the ledgers' common fields (县区代码, 文号, 状态 …): the sheet is its own columns only
SHEET.all_fields = FIELDS

_METRIC_NAMES = {
    "pm25": "pm25_mean",
    "pm2.5": "pm25_mean",
    "pm2.5浓度": "pm25_mean",
    "pm2.5平均浓度": "pm25_mean",
    "细颗粒物": "pm25_mean",
    "优良天数比例": "good_day_ratio",
    "优良天数比率": "good_day_ratio",
    "重污染天数比例": "heavy_day_ratio",
    "重度及以上污染天数比例": "heavy_day_ratio",
    "综合指数": "composite_index",
}
_KIND_NAMES = {"绝对": "absolute", "绝对值": "absolute", "相对": "relative", "相对值": "relative", "比例": "relative"}
_COMPARISON_NAMES = {"≤": "<=", "≥": ">=", "=<": "<=", "=>": ">="}


# --- validation (one validator for PUT and import) ------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def target_problems(rec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, reason)`` for everything wrong with target record ``rec`` on its own (governance.md §3.8).

    ``rec`` holds typed values: ``place_code`` (str), ``year`` (int), ``metric``, ``comparison`` (``<=``/``>=``),
    ``value`` (number), ``kind`` (``absolute``/``relative``), ``base_year`` (int, relative targets only),
    ``standard_version`` (``2012``/``2026``), ``dust_excluded`` (bool), ``source_doc`` (str). Whether the place
    exists is :func:`place_problem`'s question.

    >>> target_problems({"place_code": "652300", "year": 2025, "metric": "pm25_mean", "comparison": "<=",
    ...                  "value": -20.0, "kind": "relative", "base_year": 2020})
    []
    >>> target_problems({"place_code": "652300", "year": 2025, "metric": "good_day_ratio", "comparison": ">=",
    ...                  "value": 175.5})
    [('value', 'a good_day_ratio target must lie within 0–100 %, not 175.5')]
    """
    out: list[tuple[str, str]] = []
    code = rec.get("place_code")
    if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
        out.append(("place_code", f"place_code must be a 6-digit GB/T 2260 code, not {code!r}"))
    year = rec.get("year")
    year_ok = isinstance(year, int) and not isinstance(year, bool) and 2000 <= year <= 2100
    if not year_ok:
        out.append(("year", f"year must be a whole number within 2000–2100, not {year!r}"))
    metric = rec.get("metric")
    if metric not in TARGET_METRICS:
        out.append(("metric", f"metric must be one of {', '.join(TARGET_METRICS)}, not {metric!r}"))
    if rec.get("comparison") not in COMPARISONS:
        out.append(("comparison", f"comparison must be <= or >=, not {rec.get('comparison')!r}"))
    kind = rec.get("kind", "absolute")
    if kind not in KINDS:
        out.append(("kind", f"kind must be 'absolute' or 'relative', not {kind!r}"))
    value = rec.get("value")
    if not _is_number(value):
        out.append(("value", f"value must be a finite number, not {value!r}"))
    elif kind == "relative":
        lo, hi = RELATIVE_RANGE
        if not lo < value <= hi:
            out.append(("value", f"a relative target is a change in % above {lo:g} and at most {hi:g}, not {value:g}"))
    elif metric in ABSOLUTE_RANGE:
        lo, hi = ABSOLUTE_RANGE[metric]
        unit = "µg/m³" if metric == "pm25_mean" else ("%" if metric.endswith("ratio") else "")
        if not lo <= value <= hi:
            out.append(
                ("value", f"a {metric} target must lie within {lo:g}–{hi:g} {unit}".rstrip() + f", not {value:g}")
            )
    base_year = rec.get("base_year")
    if kind == "relative":
        ok = isinstance(base_year, int) and not isinstance(base_year, bool) and base_year >= 2000
        if not ok or (year_ok and base_year >= year):
            out.append(("base_year", "a relative target needs a base_year (2000 or later) before the target year"))
    elif base_year is not None and kind == "absolute":
        out.append(("base_year", "base_year applies to a relative target only (kind is absolute)"))
    version = rec.get("standard_version", "2012")
    if version not in STANDARD_VERSIONS:
        out.append(("standard_version", f"standard_version must be 2012 or 2026, not {version!r}"))
    if not isinstance(rec.get("dust_excluded", True), bool):
        out.append(("dust_excluded", "dust_excluded must be true or false"))
    doc = rec.get("source_doc", "")
    if not isinstance(doc, str) or len(doc) > SOURCE_DOC_MAX:
        out.append(("source_doc", f"source_doc must be text of at most {SOURCE_DOC_MAX} characters"))
    return out


def target_places(conn: Connection) -> set[str]:
    """Codes a target may name: every place of the registry, and the province of each prefecture (e.g. 650000 for
    652300), whose region-wide plan targets are shown beside the prefecture's (governance.md §3.8 seed)."""
    rows = conn.execute(select(place.c.code, place.c.kind)).all()
    codes = {c for c, _ in rows}
    codes |= {f"{c[:2]}0000" for c, k in rows if k == "prefecture" and len(c) == 6 and c.isdigit()}
    return codes


def place_problem(code: str, known: Collection[str]) -> str | None:
    """Why ``code`` cannot carry a target (not in ``known``, see :func:`target_places`), or ``None``."""
    if code in known:
        return None
    return f"no place with code {code!r} (a place of the registry or the province of a prefecture)"


def target_row(rec: Mapping[str, Any], *, actor: str, at: datetime | None = None) -> dict[str, Any]:
    """The ``air_target`` row of a valid record: defaults filled, ``entered_by``/``entered_at`` set."""
    kind = rec.get("kind") or "absolute"
    return {
        "place_code": rec["place_code"],
        "year": rec["year"],
        "metric": rec["metric"],
        "comparison": rec["comparison"],
        "value": float(rec["value"]),
        "kind": kind,
        "base_year": rec.get("base_year") if kind == "relative" else None,
        "standard_version": rec.get("standard_version") or "2012",
        "dust_excluded": bool(rec.get("dust_excluded", True)),
        "source_doc": rec.get("source_doc") or "",
        "entered_by": actor[:64],
        "entered_at": at or now_utc(),
    }


def upsert_target(conn: Connection, row: Mapping[str, Any]) -> None:
    """Write ``row``, replacing the target of the same ``(place_code, year, metric)``."""
    conn.execute(
        air_target.delete().where(
            air_target.c.place_code == row["place_code"],
            air_target.c.year == row["year"],
            air_target.c.metric == row["metric"],
        )
    )
    conn.execute(air_target.insert().values(**row))


# --- import ---------------------------------------------------------------------------------------------------


def _header_map(header: list[str], file: str) -> tuple[dict[str, str], list[RowError]]:
    lower = {h.strip().lower(): h for h in header if h}
    found: dict[str, str] = {}
    errors: list[RowError] = []
    for f in FIELDS:
        name = next((n for n in f.names if n.lower() in lower), None)
        if name is not None:
            found[f.key] = lower[name.lower()]
        elif f.required:
            errors.append(RowError(file, 1, f.zh, f"required column missing (accepted names: {', '.join(f.names)})"))
    return found, errors


def _canonical(raw: dict[str, Any]) -> dict[str, Any]:
    """Chinese spellings of metric, kind and comparison as their codes (``优良天数比例`` → ``good_day_ratio``)."""
    out = dict(raw)
    m = str(out.get("metric", "")).strip()
    out["metric"] = _METRIC_NAMES.get(m.lower().replace(" ", ""), m)
    k = str(out.get("kind", "")).strip()
    out["kind"] = _KIND_NAMES.get(k, k.lower())
    c = str(out.get("comparison", "")).strip()
    out["comparison"] = _COMPARISON_NAMES.get(c, c)
    return out


def read_targets(path: str | Path, known: set[str] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """Validated target records of ``path`` as ``(line, record)``, or :class:`ImportRejected` listing every bad
    row. ``known``: the codes a target may name (:func:`target_places`); ``None`` skips that check."""
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise ImportRejected([RowError(file, 0, "", "file not found")])
    header, rows = read_rows(path)
    found, errors = _header_map(header, file)
    if errors:
        raise ImportRejected(errors)
    col = {f.key: found.get(f.key, f.zh) for f in FIELDS}
    out: list[tuple[int, dict[str, Any]]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for line, row in rows:
        raw = _canonical({k: row.get(src, "") for k, src in found.items()})
        rec, problems = normalise(SHEET, raw)
        bad = {k for k, _ in problems}  # a value that did not parse is reported once, not again as "not None"
        problems += [p for p in target_problems(rec) if p[0] not in bad]
        if known is not None and not any(k == "place_code" for k, _ in problems):
            reason = place_problem(rec["place_code"], known)
            problems += [("place_code", reason)] if reason else []
        errors.extend(RowError(file, line, col.get(k, k), reason) for k, reason in problems)
        key = tuple(rec.get(k) for k in KEY)
        if None not in key:
            if key in seen:
                errors.append(
                    RowError(file, line, col["metric"], f"{'/'.join(map(str, key))} repeats line {seen[key]}")
                )
            seen.setdefault(key, line)
        out.append((line, rec))
    return accepted(out, errors, file)


def import_targets(
    store: Store, path: str | Path, actor: str, *, overwrite: bool = True, user_id: int | None = None
) -> ImportReport:
    """Validate and import the targets of ``path``, all rows or none, upserting by ``(place_code, year, metric)``.

    Parameters
    ----------
    overwrite : bool
        ``False`` keeps a target already stored under a row's key (the seed uses this so that a re-run never
        undoes the bureau's entries); the kept keys are listed in the report's ``warnings``.

    Raises
    ------
    ImportRejected
        listing every rejected row (file, line, column, reason); nothing has been written.
    """
    path = Path(path)
    with store.engine.connect() as conn:
        known = target_places(conn)
    rows = read_targets(path, known)
    report = ImportReport(path.name, "air_target")
    at = now_utc()
    errors: list[RowError] = []
    with store.begin() as conn:
        have = set(conn.execute(select(air_target.c.place_code, air_target.c.year, air_target.c.metric)).all())
        for line, rec in rows:
            key = tuple(rec[k] for k in KEY)
            if not overwrite and key in have:
                report.warnings.append(f"line {line}: kept the stored target {'/'.join(map(str, key))}")
                continue
            try:
                with conn.begin_nested():
                    upsert_target(conn, target_row(rec, actor=actor, at=at))
            except Exception as exc:  # a database constraint: report it against the row, roll everything back
                errors.append(RowError(path.name, line, "", f"database refused the row: {exc.__class__.__name__}"))
            else:
                report.written += 1
        if errors:
            raise ImportRejected(errors)
        audit.record(
            conn,
            action="air_target.import",
            user_id=user_id,
            login=actor[:64],
            target=f"air_target:{path.name}",
            detail={"file": path.name, "written": report.written, "kept": len(report.warnings)},
        )
    return report


def seed_targets(store: Store, *, actor: str = "seed", overwrite: bool = False) -> ImportReport:
    """Load :data:`SEED` (the Xinjiang 2025 plan) through :func:`import_targets`; stored targets are kept unless
    ``overwrite``, so running it again changes nothing."""
    return import_targets(store, SEED, actor, overwrite=overwrite)


# --- export ---------------------------------------------------------------------------------------------------


def export_targets(store: Store, year: int | None = None, *, codes: Collection[str] | None = None) -> bytes:
    """The targets (of ``year``, of the places in ``codes`` when given) as .xlsx in the import layout."""
    q = select(air_target).order_by(air_target.c.year, air_target.c.place_code, air_target.c.metric)
    if year is not None:
        q = q.where(air_target.c.year == year)
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    if codes is not None:
        rows = [r for r in rows if r["place_code"] in codes]
    for r in rows:
        r["base_year"] = r["base_year"] if r["kind"] == "relative" else None
    return export_rows(SHEET, rows)
