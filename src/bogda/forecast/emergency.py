"""Emergency-reduction lists (应急减排清单) activated by issued warnings or hand-entered orders (forecast.md §3.10).

Measures are data: ``data/emergency_measures.csv`` (``emergency_measure_template``: sector, grade, level →
actions), see ``data/README.md`` for its sources (cement rows from the MEE performance-grade guidance as transcribed
in enforcement.md §3.6; every other row a documented default to be replaced by the prefecture's plan). Per-enterprise
overrides, in this order (forecast.md §3.10 "override → template"): the enterprise's own ``plan`` rows of kind
``measure`` for the level (origin ``override``), else the ``alert_measures`` of its active performance grading
(``plan`` rows of kind ``grade`` written by the grading ledger, governance.md §3.7; origin ``ledger``, format in
:func:`parse_alert_measures`), else the template (origin ``template``). A stored override that does not validate
is skipped with its reason on the list (item notes, summary ``notes``), never a crash.

Grades arrive as the registry and the ledger write them (A/B/B-/C/D, 引领性/非引领性); :func:`normalise_grade`
maps them to the template's grade codes. Baselines [t/d]: :func:`_baselines` (plan → permit → 30-day CEMS mean →
registry → none).

Pure core: :func:`normalise_grade`, :func:`parse_alert_measures`, :func:`pick_overrides`, :func:`resolve_measures`,
:func:`allowed_ratio`, :func:`reductions`, :func:`current_permit`, :func:`cems_baseline`, :func:`summarise`. Store
side: :func:`activate` (a warning issued or changed) and :func:`activate_for_order` (a hand-entered ``order``), both
through one path that freezes a versioned list, links the enforcement ``order`` and raises inspection findings for
orange and red; :func:`end_lists` (warning lifted), :func:`end_order_lists` (hand order lifted), :func:`export_xlsx`
(its 汇总 sheet carries the emission-based estimate of :mod:`bogda.forecast.source_share`, forecast.md §3.9 step 6).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select

from bogda.findings import FindingDraft, raise_finding
from bogda.forecast import source_share
from bogda.forecast.warnings import LEVEL_ZH
from bogda.registry.grades import normalise_grade
from bogda.registry.places import PlaceIndex, counties_of, in_bounds, list_places
from bogda.registry.sites import SECTORS
from bogda.store import Store
from bogda.store import series as series_io
from bogda.store.schema import emergency_list, emergency_list_item, enterprise, place, plan, site
from bogda.store.schema import permit as permit_table
from bogda.store.schema import warning as warning_table
from bogda.timeutil import beijing_date, beijing_day_column, day_start_utc, now_utc

LEVELS = ("yellow", "orange", "red")
ACTIONS = ("none", "stop", "cap_ratio", "stop_lines", "extend_coking_h", "transport_ban")
GRADES = ("A", "B", "B-", "C", "D", "leading", "non_leading", "unrated")
POLLUTANTS = ("SO2", "NOx", "PM", "VOCs")

TARGET_SHARE: dict[str, float] = {"yellow": 0.10, "orange": 0.20, "red": 0.30}
"""Area reduction target as a share of the baseline per level (forecast.md §3.10, d: recalled practice)."""

UNRATED_AS = "D"
"""Grade whose rows an ungraded enterprise uses (forecast.md §3.10, d)."""

BASE_COKING_H = 24.0
"""Normal coking time [h] against which an extended coking time is a production ratio (d)."""

INSPECTION_LEVELS = ("orange", "red")
"""Levels at which each listed enterprise gets an ``inspection`` finding (forecast.md §3.10, d)."""

ACTION_ZH = {
    "none": "自主减排",
    "stop": "停产",
    "cap_ratio": "限产",
    "stop_lines": "停产生产线",
    "extend_coking_h": "延长结焦时间",
    "transport_ban": "运输管控",
}

_POLLUTANT_KEYS = {
    "so2": "SO2",
    "a21026": "SO2",
    "二氧化硫": "SO2",
    "nox": "NOx",
    "a21002": "NOx",
    "氮氧化物": "NOx",
    "pm": "PM",
    "a34013": "PM",
    "颗粒物": "PM",
    "烟尘": "PM",
    "vocs": "VOCs",
    "voc": "VOCs",
    "挥发性有机物": "VOCs",
}

_LEVEL_ALIASES = {"yellow": "yellow", "黄色": "yellow", "黄": "yellow", "orange": "orange", "橙色": "orange",
                  "橙": "orange", "red": "red", "红色": "red", "红": "red"}  # fmt: skip
_ACTION_ALIASES = {a: a for a in ACTIONS} | {zh: a for a, zh in ACTION_ZH.items()}
_VALUE_ACTIONS = ("cap_ratio", "stop_lines", "extend_coking_h")
"""Actions that need a value: allowed production ratio, share of lines stopped, coking time [h]."""
_ITEM_KEYS = ("action", "value", "note_zh", "note")


def measure_problem(action: Any, value: Any) -> str | None:
    """Why ``(action, value)`` is not a usable measure, else ``None`` (forecast.md §3.10 actions).

    ``cap_ratio`` = allowed production ratio and ``stop_lines`` = share of lines stopped, both in 0..1;
    ``extend_coking_h`` = coking time in hours (> 0); the other actions take no value.

    >>> measure_problem("cap_ratio", 0.8), measure_problem("stop", None)
    (None, None)
    >>> measure_problem("cap_ratio", 80)
    'cap_ratio value 80 outside 0..1 (allowed production ratio)'
    >>> measure_problem("stopp", None)
    "unknown action 'stopp' (expected one of none, stop, cap_ratio, stop_lines, extend_coking_h, transport_ban)"
    """
    if action not in ACTIONS:
        return f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})"
    if action not in _VALUE_ACTIONS:
        return None
    if value is None or isinstance(value, bool):
        return f"{action} needs a numeric value"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return f"{action} value {value!r} is not a number"
    if not math.isfinite(v):
        return f"{action} value {value!r} is not a finite number"
    if action == "cap_ratio" and not 0.0 <= v <= 1.0:
        return f"cap_ratio value {v:g} outside 0..1 (allowed production ratio)"
    if action == "stop_lines" and not 0.0 <= v <= 1.0:
        return f"stop_lines value {v:g} outside 0..1 (share of lines stopped)"
    if action == "extend_coking_h" and v <= 0:
        return f"extend_coking_h value {v:g} must be > 0 (coking time in hours)"
    return None


def parse_alert_measures(value: Any) -> tuple[dict[str, list[dict[str, Any]]], list[tuple[str, str]]]:
    """The grading ledger's ``alert_measures`` (governance.md §3.7) in canonical form, and what is wrong with it.

    Canonical form: a JSON object keyed by level (``yellow``, ``orange``, ``red``; 黄色/橙色/红色 accepted), each a
    list of actions ``{"action": …, "value": …, "note_zh": …}`` with ``action`` one of :data:`ACTIONS` (or its
    Chinese name in :data:`ACTION_ZH`) and ``value`` as :func:`measure_problem` requires, e.g.
    ``{"orange": [{"action": "cap_ratio", "value": 0.8, "note_zh": "限产20%"}]}``. Shorthand: per level an object
    ``{action: value}``, e.g. ``{"orange": {"cap_ratio": 0.8, "transport_ban": null}}``; a single action object is
    read as a list of one. A missing level, ``null`` or ``[]`` means "no ledger measures at this level" (the
    template applies); "no cut" is written ``[{"action": "none"}]``.

    Problems are ``(level, message)``: ``level`` is the level the problem belongs to (the key as written for an
    unknown level, ``""`` for the whole value) and the message names the place (``orange[0]``,
    ``orange.cap_ratio``) and what is wrong. A level with a problem is left out of the result.

    >>> parse_alert_measures({"橙色": {"cap_ratio": 0.8, "transport_ban": None}})[0]["orange"][0]
    {'action': 'cap_ratio', 'value': 0.8, 'note_zh': ''}
    >>> for p in parse_alert_measures({"red": [{"action": "stop_lines", "value": 1.5}], "blue": []})[1]:
    ...     print(p)
    ('red', 'red[0]: stop_lines value 1.5 outside 0..1 (share of lines stopped)')
    ('blue', "unknown level 'blue' (expected yellow, orange or red)")
    """
    if value is None or value == "" or value == {}:
        return {}, []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            return {}, [("", f"not valid JSON: {exc.msg}")]
    if not isinstance(value, Mapping):
        return {}, [("", f"expected a JSON object keyed by level (yellow/orange/red), got {type(value).__name__}")]
    out: dict[str, list[dict[str, Any]]] = {}
    problems: list[tuple[str, str]] = []
    for key, spec in value.items():
        level = _LEVEL_ALIASES.get(str(key).strip().lower())
        if level is None:
            problems.append((str(key), f"unknown level {key!r} (expected yellow, orange or red)"))
            continue
        if level in out or any(lv == level for lv, _ in problems):
            problems.append((level, f"level {level} given twice"))
            out.pop(level, None)
            continue
        if spec is None:
            entries: list[tuple[str, Any]] = []
        elif isinstance(spec, Mapping) and "action" in spec:
            entries = [(f"{level}[0]", spec)]
        elif isinstance(spec, Mapping):  # shorthand {action: value}
            entries = [(f"{level}.{a}", {"action": a, "value": v}) for a, v in spec.items()]
        elif isinstance(spec, list):
            entries = [(f"{level}[{i}]", it) for i, it in enumerate(spec)]
        else:
            problems.append((level, f"{level}: expected a list of actions or an {{action: value}} object"))
            continue
        found = [(where, why) for where, why in (_alert_item_problem(where, it) for where, it in entries) if why]
        if found:
            problems += [(level, f"{where}: {why}") for where, why in found]
            continue
        out[level] = [_alert_item(it) for _, it in entries]
    return out, problems


def _alert_item_problem(where: str, item: Any) -> tuple[str, str | None]:
    """``(where, why)`` for one action of ``alert_measures``; ``why`` is ``None`` when it is usable."""
    if not isinstance(item, Mapping):
        return where, 'expected an object like {"action": "cap_ratio", "value": 0.8}'
    extra = sorted(str(k) for k in item if k not in _ITEM_KEYS)
    if extra:
        return where, f"unknown key(s) {', '.join(extra)} (expected action, value, note_zh)"
    return where, measure_problem(_alert_action(item.get("action")), _alert_value(item.get("value")))


def _alert_action(raw: Any) -> Any:
    return _ACTION_ALIASES.get(str(raw).strip(), raw) if raw is not None else None


def _alert_value(v: Any) -> Any:
    """A value as typed in Excel JSON: blank text is no value, numeric text a number (anything else stays, to be
    refused by :func:`measure_problem`)."""
    if isinstance(v, str):
        if not v.strip():
            return None
        try:
            return float(v)
        except ValueError:
            return v
    return v


def _alert_item(item: Mapping[str, Any]) -> dict[str, Any]:
    action = _alert_action(item.get("action"))
    value = _alert_value(item.get("value"))
    note = item.get("note_zh", item.get("note")) or ""
    return {"action": action, "value": float(value) if action in _VALUE_ACTIONS else None, "note_zh": str(note)}


@dataclass(frozen=True)
class MeasureRow:
    """One action of the template: (sector, grade, level) → action and value."""

    sector: str
    subsector: str
    grade: str
    level: str
    action: str
    value: float | None
    note_zh: str
    source_doc: str
    status: str
    version: str


def read_templates(text: str, *, name: str = "emergency_measures.csv") -> tuple[MeasureRow, ...]:
    """Parse a template CSV; a bad row raises ``ValueError`` naming file, line and field."""
    out = []
    for line, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        if r.get("level") not in LEVELS:
            raise ValueError(f"{name}:{line}: level {r.get('level')!r} not in {LEVELS}")
        if r.get("action") not in ACTIONS:
            raise ValueError(f"{name}:{line}: action {r.get('action')!r} not in {ACTIONS}")
        if r.get("grade") not in GRADES:
            raise ValueError(f"{name}:{line}: grade {r.get('grade')!r} not in {GRADES}")
        try:
            value = float(r["value"]) if (r.get("value") or "").strip() else None
        except ValueError:
            raise ValueError(f"{name}:{line}: value {r['value']!r} is not a number") from None
        why = measure_problem(r["action"], value) if r["action"] in _VALUE_ACTIONS else None
        if why:  # e.g. a cap written as a percentage (80) would otherwise cut nothing
            raise ValueError(f"{name}:{line}: value: {why}")
        out.append(
            MeasureRow(
                r["sector"].strip(),
                (r.get("subsector") or "").strip(),
                r["grade"],
                r["level"],
                r["action"],
                value,
                r.get("note_zh", ""),
                r.get("source_doc", ""),
                r.get("status", ""),
                r.get("version", ""),
            )
        )
    return tuple(out)


@cache
def default_templates() -> tuple[MeasureRow, ...]:
    """The packaged template table."""
    text = (resources.files("bogda.forecast") / "data" / "emergency_measures.csv").read_text(encoding="utf-8")
    return read_templates(text)


def template_version(rows: Sequence[MeasureRow]) -> str:
    return ",".join(sorted({r.version for r in rows})) or "unversioned"


ORIGINS = ("override", "ledger", "template")
"""Where a resolved measure came from: the enterprise's own ``plan`` measure rows, the grading ledger's
``alert_measures``, the template (forecast.md §3.10)."""

ORIGIN_ZH = {"override": "企业个别措施", "ledger": "绩效分级台账", "template": "措施模板"}


@dataclass(frozen=True)
class Measure:
    """A resolved action for one enterprise."""

    action: str
    value: float | None
    note_zh: str
    origin: str  # one of ORIGINS
    status: str = ""


def pick_overrides(tiers: Sequence[tuple[str, Sequence[Measure], Sequence[str]]]) -> tuple[list[Measure], list[str]]:
    """The first override tier that has measures and no problems, and the notes of the tiers skipped for problems.

    ``tiers`` are ``(origin, measures, problems)`` in precedence order (forecast.md §3.10: the enterprise's own
    measure rows, then the grading ledger's ``alert_measures``). A tier whose stored values do not validate is
    not used at all (a partial set could be weaker than intended) and the next one applies; an empty result means
    the template applies.

    >>> bad = ("override", [Measure("cap_ratio", 0.6, "", "override")], ["plan 7: cap_ratio value 8 outside 0..1"])
    >>> ok = ("ledger", [Measure("stop", None, "停产", "ledger")], [])
    >>> ms, notes = pick_overrides([bad, ok])
    >>> [m.origin for m in ms], notes
    (['ledger'], ['企业个别措施未采用：plan 7: cap_ratio value 8 outside 0..1'])
    >>> pick_overrides([("override", [], []), ("ledger", [], [])])
    ([], [])
    """
    notes: list[str] = []
    for origin, measures, problems in tiers:
        if problems:
            notes.append(f"{ORIGIN_ZH.get(origin, origin)}未采用：{'；'.join(problems)}")
            continue
        if measures:
            return list(measures), notes
    return [], notes


def resolve_measures(
    sector: str,
    grade: str | None,
    level: str,
    templates: Sequence[MeasureRow] | None = None,
    overrides: Sequence[Measure] = (),
) -> list[Measure]:
    """Measures of an enterprise: its overrides (see :func:`pick_overrides`), else the template rows (sector, grade,
    level) (forecast.md §3.10).

    ``grade`` as stored (A … D, 引领性/非引领性, or the template codes) goes through :func:`normalise_grade`; an
    unrecognised or missing grade is ``unrated``. Rows are looked up as (the sector's own rows, then the ``*`` rows)
    for the grade; ``unrated`` uses ``unrated`` rows where the template has them, else grade D (d), own sector
    first. A (sector, grade) without rows at this level falls through to the next candidate; a deliberate "no
    measure" is a ``none`` row.

    >>> [m.action for m in resolve_measures("cement", "B", "orange")]
    ['cap_ratio']
    >>> [(m.action, m.value) for m in resolve_measures("cement", "C", "yellow")]
    [('stop_lines', 0.5)]
    >>> [m.action for m in resolve_measures("cement", None, "yellow")]
    ['stop', 'transport_ban']
    >>> [m.action for m in resolve_measures("power", "A", "red")], resolve_measures("boiler", "B", "red")[0].value
    (['none'], 0.7)
    >>> [m.action for m in resolve_measures("cement", "引领性", "red")]
    ['none']
    >>> resolve_measures("boiler", "B−", "red")[0].value
    0.6
    """
    if level not in LEVELS:
        raise ValueError(f"level {level!r} not in {LEVELS}")
    if overrides:
        return list(overrides)
    rows = templates if templates is not None else default_templates()
    g = normalise_grade(grade) or "unrated"
    grades = ("unrated", UNRATED_AS) if g == "unrated" else (g,)
    for pool_sector in (sector, "*"):
        for cand in grades:
            chosen = [r for r in rows if r.sector == pool_sector and r.grade == cand and r.level == level]
            if chosen:
                return [Measure(r.action, r.value, r.note_zh, "template", r.status) for r in chosen]
    return []


def allowed_ratio(measures: Sequence[Measure]) -> float:
    """Allowed production as a share of the baseline: the strictest of the measures (1 = no cut).

    ``stop`` → 0; ``cap_ratio`` v → v; ``stop_lines`` f (share of lines stopped) → 1 − f; ``extend_coking_h`` h →
    24/h (d); ``transport_ban`` and ``none`` do not cut production.

    >>> allowed_ratio([Measure("stop_lines", 0.5, "", "t"), Measure("cap_ratio", 0.8, "", "t")])
    0.5
    >>> allowed_ratio([Measure("extend_coking_h", 48, "", "t")])
    0.5
    >>> allowed_ratio([Measure("transport_ban", None, "", "t")])
    1.0
    """
    r = 1.0
    for m in measures:
        if m.action == "stop":
            r = min(r, 0.0)
        elif m.action == "cap_ratio" and m.value is not None:
            r = min(r, float(m.value))
        elif m.action == "stop_lines" and m.value is not None:
            r = min(r, 1.0 - float(m.value))
        elif m.action == "extend_coking_h" and m.value:
            r = min(r, BASE_COKING_H / float(m.value))
    return max(0.0, r)


def reductions(baseline_t_per_day: Mapping[str, float], ratio: float) -> dict[str, float]:
    """Required reduction per pollutant [t/d] = baseline × (1 − allowed ratio) (forecast.md §3.10).

    >>> reductions({"SO2": 2.0, "NOx": 4.0}, 0.8)
    {'SO2': 0.4, 'NOx': 0.8}
    """
    return {p: round(float(v) * (1.0 - ratio), 6) for p, v in baseline_t_per_day.items()}


def normalise_pollutants(values: Mapping[str, Any]) -> dict[str, float]:
    """Map pollutant keys of permits and plans (SO2, a21026, 氮氧化物 …) to SO2/NOx/PM/VOCs; drop the rest."""
    out: dict[str, float] = {}
    for k, v in values.items():
        key = _POLLUTANT_KEYS.get(str(k).strip().lower()) or _POLLUTANT_KEYS.get(str(k).strip())
        if key is None:
            continue
        try:
            out[key] = out.get(key, 0.0) + float(v)
        except (TypeError, ValueError):
            continue
    return out


@dataclass
class ListItem:
    """One enterprise on a list."""

    enterprise_id: int
    code: str
    name: str
    credit_code: str
    county: str | None
    county_name: str | None
    sector: str
    grade: str
    measures: list[Measure]
    allowed_ratio: float
    lines_to_stop: float | None
    transport_ban: bool
    baseline_t_per_day: dict[str, float]
    baseline_source: str
    reduction_t_per_day: dict[str, float]
    notes: list[str] = field(default_factory=list)
    """Why a stored override, grade or baseline was not used as is (Chinese, shown in the workbook's 汇总)."""


@dataclass
class ListSummary:
    """Totals per county and sector against the area's target share."""

    level: str
    target_share: float
    baseline: dict[str, float]
    reduction: dict[str, float]
    share: dict[str, float | None]
    shortfall: list[str]
    by_county: dict[str, dict[str, float]] = field(default_factory=dict)
    by_sector: dict[str, dict[str, float]] = field(default_factory=dict)
    missing_baseline: list[str] = field(default_factory=list)
    baseline_by_sector: dict[str, dict[str, float]] = field(default_factory=dict)
    """Baselines [t/d] per sector: the denominators of the emission-based estimate's cuts (§3.9 step 6)."""
    notes: dict[str, list[str]] = field(default_factory=dict)
    """Enterprise code → the notes of its item (skipped overrides, unrecognised grade, partial CEMS baseline)."""

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarise(items: Sequence[ListItem], level: str) -> ListSummary:
    """Sum reductions per county and sector; flag pollutants whose share of the baseline is below the target.

    >>> it = ListItem(1, "E", "e", "", "652301", "", "cement", "B", [], 0.8, None, False, {"SO2": 10.0}, "permit",
    ...               {"SO2": 2.0})
    >>> s = summarise([it], "orange"); s.share["SO2"], s.shortfall
    (0.2, [])
    >>> summarise([it], "red").shortfall, s.baseline_by_sector
    (['SO2'], {'cement': {'SO2': 10.0}})
    """
    base: dict[str, float] = {}
    red: dict[str, float] = {}
    by_county: dict[str, dict[str, float]] = {}
    by_sector: dict[str, dict[str, float]] = {}
    base_sector: dict[str, dict[str, float]] = {}
    for it in items:
        for p, v in it.baseline_t_per_day.items():
            base[p] = base.get(p, 0.0) + v
            bs = base_sector.setdefault(it.sector, {})
            bs[p] = bs.get(p, 0.0) + v
        for p, v in it.reduction_t_per_day.items():
            red[p] = red.get(p, 0.0) + v
            c = by_county.setdefault(it.county or "", {})
            c[p] = c.get(p, 0.0) + v
            s = by_sector.setdefault(it.sector, {})
            s[p] = s.get(p, 0.0) + v
    target = TARGET_SHARE[level]
    share = {p: (round(red.get(p, 0.0) / b, 6) if b > 0 else None) for p, b in base.items()}
    shortfall = sorted(p for p, s in share.items() if s is not None and s + 1e-9 < target)
    missing = sorted(it.code for it in items if it.baseline_source == "none")
    notes = {it.code: list(it.notes) for it in items if it.notes}
    return ListSummary(level, target, base, red, share, shortfall, by_county, by_sector, missing, base_sector, notes)


BASELINE_SOURCES = ("plan", "permit", "cems_30d", "registry", "none")
"""Baseline sources in precedence order (:func:`_baselines`; forecast.md §3.10 "permit, else the 30-day CEMS mean")."""

CEMS_CODES = {"a21026": "SO2", "a21002": "NOx", "a34013": "PM", "a24088": "VOCs"}
"""HJ 212-2017 factors whose hourly ``-Cou`` (emission mass per interval) make the CEMS baseline; VOCs are
represented by non-methane hydrocarbons (a24088), as VOCs outlets report them."""
CEMS_DAYS = 30
"""Days before the list's start day whose CEMS data make the baseline (forecast.md §3.10)."""
CEMS_MIN_VALID_HOURS = 20
"""Valid hours a day needs (HJ 75-2017 valid day, enforcement.md §3.1)."""
CEMS_MIN_VALID_DAYS = 7
"""Valid days an outlet's pollutant needs in the window for its mean to count (d): fewer is too thin a sample."""
MASS_UNIT_T = {"t": 1.0, "吨": 1.0, "kg": 1e-3, "千克": 1e-3, "g": 1e-6, "克": 1e-6}
"""Mass units of a ``-Cou`` series → tonnes; any other unit is refused, never guessed."""


def current_permit(rows: Sequence[Mapping[str, Any]], on: date) -> Mapping[str, Any] | None:
    """The permit decision in force on ``on`` among one enterprise's permit-ledger rows (forecast.md §3.10 "permit").

    Per permit number the decisions made by ``on`` are read newest first: a cancellation (注销) ends the number; the
    first one whose validity (``valid_from``..``valid_to``, open when blank) covers ``on`` is the one in force (a
    renewal decided before the old permit lapses takes over on its ``valid_from``). Among the permit numbers in
    force the newest decision wins. Undecided applications never count.

    >>> a = {"id": 1, "permit_no": "P", "apply_type": "new", "decided_at": date(2020, 1, 1)}
    >>> a["valid_to"] = date(2025, 1, 1)
    >>> b = a | {"id": 2, "apply_type": "延续", "decided_at": date(2024, 12, 1), "valid_to": date(2030, 1, 1)}
    >>> current_permit([a, b], date(2026, 1, 1))["id"], current_permit([a], date(2026, 1, 1))
    (2, None)
    >>> current_permit([a, b, b | {"id": 3, "apply_type": "注销", "decided_at": date(2025, 6, 1)}], date(2026, 1, 1))
    """
    by_no: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if r.get("decided_at") is not None and r["decided_at"] <= on:
            by_no.setdefault(str(r.get("permit_no") or f"id-{r['id']}"), []).append(r)
    live = []
    for decisions in by_no.values():
        for r in sorted(decisions, key=lambda r: (r["decided_at"], r["id"]), reverse=True):
            if r.get("apply_type") == "注销":
                break
            if (r.get("valid_from") is None or r["valid_from"] <= on) and (
                r.get("valid_to") is None or on <= r["valid_to"]
            ):
                live.append(r)
                break
    return max(live, key=lambda r: (r["decided_at"], r["id"]), default=None)


def cems_baseline(
    frame: pl.DataFrame, *, min_hours: int = CEMS_MIN_VALID_HOURS, min_days: int = CEMS_MIN_VALID_DAYS
) -> tuple[dict[str, float], list[str]]:
    """Baseline daily emission [t/d] per pollutant of one enterprise from CEMS hourly emission masses
    (forecast.md §3.10 "the 30-day CEMS mean"), and notes on what was left out.

    ``frame``: ``outlet`` (code), ``pollutant`` (SO2/NOx/PM/VOCs), ``ts`` (aware UTC hour start), ``value_t``
    (tonnes emitted in the hour), ``flag`` (HJ 212), already restricted to the window. A valid hour has flag ``N``
    and a finite mass ≥ 0 (stopped, maintenance or fault hours describe no normal production); a valid Beijing day
    has at least ``min_hours`` valid hours and its mass is their sum × 24 / their number (the few missing hours
    taken as the day's mean). Per outlet and pollutant the mean over valid days counts when there are at least
    ``min_days`` of them (d); the enterprise's figure is the sum over its outlets that count. An outlet left out is
    named in the notes, so a partial figure is visible on the list.
    """
    if frame.height == 0:
        return {}, []
    seen = frame.select("outlet", "pollutant").unique()
    valid = frame.filter(
        (pl.col("flag") == "N")
        & pl.col("value_t").is_not_null()
        & pl.col("value_t").is_finite()
        & (pl.col("value_t") >= 0)
    )
    days = (
        valid.group_by("outlet", "pollutant", beijing_day_column(pl.col("ts")).alias("day"))
        .agg(n=pl.len(), mass=pl.col("value_t").sum())
        .filter(pl.col("n") >= min_hours)
        .with_columns(day_t=pl.col("mass") * 24.0 / pl.col("n"))
    )
    per = days.group_by("outlet", "pollutant").agg(valid_days=pl.len(), mean_t=pl.col("day_t").mean())
    per = seen.join(per, on=["outlet", "pollutant"], how="left").sort("pollutant", "outlet")
    out: dict[str, float] = {}
    notes: list[str] = []
    for outlet, pollutant, n_days, mean_t in per.iter_rows():
        n_days = int(n_days or 0)
        if n_days < min_days:
            notes.append(
                f"排放口{outlet} {pollutant}：在线监测有效日 {n_days} 天"
                f"（需 ≥ {min_days} 天，每天 ≥ {min_hours} 个有效小时），未计入在线监测基准"
            )
            continue
        out[pollutant] = out.get(pollutant, 0.0) + float(mean_t)
    return {p: round(v, 6) for p, v in sorted(out.items())}, notes


# --------------------------------------------------------------------------------------------------------------
# Store side
# --------------------------------------------------------------------------------------------------------------


def _places_under(conn: Any, area_code: str) -> tuple[set[int], str]:
    """Ids of the area's place and every place below it, and the area's kind; ``LookupError`` for an unknown area."""
    rows = conn.execute(select(place.c.id, place.c.parent_id, place.c.code, place.c.kind)).all()
    root = next((r for r in rows if r.code == area_code), None)
    if root is None:
        raise LookupError(f"area {area_code!r} is not a place of the registry")
    children: dict[int | None, list[int]] = {}
    for r in rows:
        children.setdefault(r.parent_id, []).append(r.id)
    inside: set[int] = set()
    stack = [root.id]
    while stack:
        pid = stack.pop()
        if pid not in inside:
            inside.add(pid)
            stack.extend(children.get(pid, ()))
    return inside, root.kind


def park_codes(
    conn: Any, sites: Sequence[tuple[Any, int | None, float | None, float | None]]
) -> dict[Any, frozenset[str]]:
    """The industrial parks (place kind ``park``) holding each site: ``{key: park codes}``, sites in no park left out.

    ``sites`` are ``(key, place_id, lon, lat)`` rows (``key`` is the caller's: a site id or code). Parks overlay the
    prefecture → county → township → grid cell tree (governance.md §2.1, :class:`bogda.registry.places.PlaceIndex`),
    so the registry never places a site *in* a park when it locates it: a site belongs to a park when its WGS-84
    position lies inside the park's outline (point in polygon by :meth:`PlaceIndex.overlays_at`), or when its place
    is the park or lies below it (a site placed on the park by hand, or a park with uploaded sub-areas). Where the
    spec is silent, the outline decides for a located site (a site near a park but outside its outline is not a
    member); a site without a position, or with an implausible one, is a member only through its place. A site keeps
    its county either way (forecast.md §3.10: emergency lists and orders may be issued for a park).
    """
    rows = conn.execute(select(place.c.id, place.c.parent_id, place.c.kind, place.c.code)).all()
    park_of = {r.id: r.code for r in rows if r.kind == "park"}
    if not park_of:
        return {}
    parent = {r.id: r.parent_id for r in rows}
    index = PlaceIndex(list_places(conn, kinds=["park"]))
    out: dict[Any, frozenset[str]] = {}
    for key, place_id, lon, lat in sites:
        codes: set[str] = set()
        cur, seen = place_id, set()
        while cur is not None and cur not in seen:  # the place and its ancestors; ``seen`` guards a cyclic table
            seen.add(cur)
            if cur in park_of:
                codes.add(park_of[cur])
            cur = parent.get(cur)
        if lon is not None and lat is not None and in_bounds(lon, lat):
            codes.update(park_of[i] for i in index.overlays_at(lon, lat) if i in park_of)
        if codes:
            out[key] = frozenset(codes)
    return out


def _area_members(conn: Any, area_code: str, rows: Sequence[Any]) -> set[int]:
    """Site ids of the enterprise ``rows`` (``id, place_id, lon, lat``) that lie in the area ``area_code``.

    A county, township or grid cell holds the enterprises whose place is the area or lies below it; the prefecture
    also holds the enterprises without a place (somewhere in the prefecture, no county known); an industrial park,
    which overlays the tree, holds the enterprises inside its outline (:func:`park_codes`). ``LookupError`` for an
    unknown area code.
    """
    inside, kind = _places_under(conn, area_code)
    if kind == "park":
        parks = park_codes(conn, [(r.id, r.place_id, r.lon, r.lat) for r in rows])
        return {r.id for r in rows if area_code in parks.get(r.id, ())}
    return {r.id for r in rows if (r.place_id in inside if r.place_id is not None else kind == "prefecture")}


def enterprises_of_area(store: Store, area_code: str) -> list[dict[str, Any]]:
    """Active enterprises (registry ``enterprise``) in an area with their sector, grade and county.

    An enterprise is in the area when its place is the area or lies below it; an enterprise without a place counts
    for a prefecture only (it is somewhere in the prefecture, no county known). An industrial park (place kind
    ``park``, e.g. 准东经济技术开发区) lies outside the place tree: its enterprises are those whose site lies inside
    its outline (:func:`_area_members`), each still shown with its own county. ``grade`` is the registry's text as
    stored (``unrated`` when blank); :func:`normalise_grade` reads it. ``LookupError`` for an unknown area code.
    """
    with store.engine.connect() as conn:
        county_of = counties_of(conn)
        rows = conn.execute(
            select(
                site.c.id,
                site.c.code,
                site.c.name,
                site.c.place_id,
                site.c.lon,
                site.c.lat,
                site.c.attrs,
                site.c.active,
                enterprise.c.credit_code,
                enterprise.c.sector,
                enterprise.c.grade,
            ).join(enterprise, enterprise.c.site_id == site.c.id)
        ).all()
        rows = [r for r in rows if r.active]
        members = _area_members(conn, area_code, rows)
    out = []
    for r in rows:
        if r.id not in members:
            continue
        county, cname = county_of.get(r.place_id, (None, None)) if r.place_id is not None else (None, None)
        out.append(
            {
                "id": r.id,
                "code": r.code,
                "name": r.name,
                "credit_code": r.credit_code,
                "sector": r.sector,
                "grade": r.grade if r.grade and r.grade.strip() else "unrated",
                "county": county,
                "county_name": cname,
                "attrs": r.attrs or {},
            }
        )
    return out


def _baselines(
    store: Store, ents: Sequence[dict[str, Any]], on: date
) -> dict[int, tuple[dict[str, float], str, list[str]]]:
    """Baseline daily emissions [t/d] per enterprise, their source and notes (forecast.md §3.10), first found of:

    ``plan`` — active ``plan`` rows of kind ``baseline`` in t/d with a pollutant in ``attrs``; ``permit`` — the
    permit in force on ``on`` (:func:`current_permit`), permitted tonnage per year / 365 (d); ``cems_30d`` — the
    mean daily CEMS emission mass of the :data:`CEMS_DAYS` days before ``on`` (:func:`cems_baseline`);
    ``registry`` — the registry attribute ``baseline_t_per_day``; else ``none``. Per pollutant (spec: "per enterprise
    and pollutant … baseline daily emission (permit, else the 30-day CEMS mean, source stored)"): a permit without
    VOCs leaves VOCs to the CEMS mean or the registry (:func:`combine_baselines`); the source is stored as the
    sources used, joined by ``+``, and the notes say which pollutant came from where when there are several.
    """
    out: dict[int, tuple[dict[str, float], str, list[str]]] = {}
    by_uscc = {e["credit_code"]: e["id"] for e in ents}
    ids = [e["id"] for e in ents]
    with store.engine.connect() as conn:
        plans = conn.execute(
            select(plan.c.enterprise_id, plan.c.value, plan.c.unit, plan.c.attrs).where(
                plan.c.kind == "baseline", plan.c.active.is_(True), plan.c.enterprise_id.in_(ids)
            )
        ).all()
        permits = (
            conn.execute(
                select(
                    permit_table.c.id,
                    permit_table.c.uscc,
                    permit_table.c.permit_no,
                    permit_table.c.apply_type,
                    permit_table.c.permitted_t,
                    permit_table.c.decided_at,
                    permit_table.c.valid_from,
                    permit_table.c.valid_to,
                ).where(permit_table.c.uscc.in_(list(by_uscc)), permit_table.c.decided_at.is_not(None))
            )
            .mappings()
            .all()
        )
    planned: dict[int, dict[str, float]] = {}
    for eid, value, unit, attrs in plans:
        pol = normalise_pollutants({(attrs or {}).get("pollutant", ""): value})
        if pol and (unit or "t/d") in ("t/d", "t/day"):
            planned.setdefault(eid, {}).update(pol)
    permitted: dict[int, dict[str, float]] = {}
    per_uscc: dict[str, list[Mapping[str, Any]]] = {}
    for r in permits:
        per_uscc.setdefault(r["uscc"], []).append(r)
    for uscc, rows in per_uscc.items():
        eid = by_uscc.get(uscc)
        p = current_permit(rows, on)
        if eid is not None and p is not None:
            vals = normalise_pollutants(p["permitted_t"] or {})
            permitted[eid] = {k: round(v / 365.0, 6) for k, v in vals.items()}
    # the CEMS mean is read only for enterprises the plan and permit leave a pollutant short of
    short = [e["id"] for e in ents if set(POLLUTANTS) - {*planned.get(e["id"], {}), *permitted.get(e["id"], {})}]
    cems = _cems_baselines(store, short, on)
    for e in ents:
        cems_vals, notes = cems.get(e["id"], ({}, []))
        registry = normalise_pollutants(e["attrs"].get("baseline_t_per_day") or {})
        vals, label, by_pollutant = combine_baselines(
            [
                ("plan", planned.get(e["id"], {})),
                ("permit", permitted.get(e["id"], {})),
                ("cems_30d", cems_vals),
                ("registry", registry),
            ]
        )
        if "+" in label:
            notes = [*notes, baseline_source_note(by_pollutant)]
        out[e["id"]] = (vals, label, notes)
    return out


def combine_baselines(
    candidates: Sequence[tuple[str, Mapping[str, float]]],
) -> tuple[dict[str, float], str, dict[str, str]]:
    """Per pollutant the figure of the first source that has one (forecast.md §3.10: per enterprise and pollutant).

    Returns the baseline [t/d], the sources used in order joined by ``+`` (``none`` without any) and pollutant →
    source.

    >>> combine_baselines([("permit", {"SO2": 1.0, "NOx": 2.0}), ("cems_30d", {"NOx": 9.0, "VOCs": 0.5})])
    ({'SO2': 1.0, 'NOx': 2.0, 'VOCs': 0.5}, 'permit+cems_30d', {'SO2': 'permit', 'NOx': 'permit', 'VOCs': 'cems_30d'})
    >>> combine_baselines([("permit", {}), ("registry", {})])[1]
    'none'
    """
    vals: dict[str, float] = {}
    source: dict[str, str] = {}
    for name, figures in candidates:
        for pollutant, value in figures.items():
            if pollutant not in vals:
                vals[pollutant], source[pollutant] = float(value), name
    used = [name for name, _ in candidates if name in source.values()]
    return vals, "+".join(used) or "none", source


def baseline_source_words(source: str, lang: str = "zh") -> str:
    """A stored ``baseline_source`` (one source or several joined by ``+``) in words.

    >>> baseline_source_words("permit+cems_30d"), baseline_source_words("permit+cems_30d", "en")
    ('排污许可量、在线监测近30日均值', 'permit + cems_30d')
    """
    parts = source.split("+")
    if lang != "zh":
        return " + ".join(parts)
    return "、".join(BASELINE_SOURCE_ZH.get(x, x) for x in parts)


def baseline_source_note(by_pollutant: Mapping[str, str]) -> str:
    """Which pollutant's baseline came from where, for a list item whose figures come from several sources.

    >>> baseline_source_note({"SO2": "permit", "NOx": "permit", "VOCs": "cems_30d"})
    '基准来源：SO2、NOx 排污许可量；VOCs 在线监测近30日均值'
    """
    groups: dict[str, list[str]] = {}
    for pollutant in POLLUTANTS:
        if pollutant in by_pollutant:
            groups.setdefault(by_pollutant[pollutant], []).append(pollutant)
    return "基准来源：" + "；".join(f"{'、'.join(ps)} {BASELINE_SOURCE_ZH.get(s, s)}" for s, ps in groups.items())


def _cems_baselines(store: Store, ids: Sequence[int], on: date) -> dict[int, tuple[dict[str, float], list[str]]]:
    """:func:`cems_baseline` of each enterprise from the hourly ``-Cou`` series of its active outlets."""
    if not ids:
        return {}
    with store.engine.connect() as conn:
        outlets = conn.execute(
            select(site.c.id, site.c.parent_id, site.c.code).where(
                site.c.kind == "outlet", site.c.parent_id.in_(list(ids)), site.c.active.is_(True)
            )
        ).all()
    if not outlets:
        return {}
    owner = {o.id: (o.parent_id, o.code) for o in outlets}
    params = [f"{c}-Cou" for c in CEMS_CODES]
    found = series_io.find_series(store, sites=list(owner), parameters=params, resolution="hour")
    notes: dict[int, list[str]] = {}
    factors = []
    for sid, parameter, unit in found.select("site_id", "parameter", "unit").iter_rows():
        f = MASS_UNIT_T.get((unit or "").strip().lower())
        if f is None:  # a mass per hour whose unit is unknown cannot be summed into tonnes
            eid, code = owner[sid]
            notes.setdefault(eid, []).append(
                f"排放口{code} {parameter} 单位“{unit}”不是质量单位（t/kg/g），未计入在线监测基准"
            )
            continue
        factors.append((sid, parameter, f))
    out: dict[int, tuple[dict[str, float], list[str]]] = {eid: ({}, n) for eid, n in notes.items()}
    if not factors:
        return out
    obs = series_io.read(
        store,
        sites=sorted({s for s, _, _ in factors}),
        parameters=sorted({p for _, p, _ in factors}),
        start=day_start_utc(on - timedelta(days=CEMS_DAYS)),
        end=day_start_utc(on),
        resolution="hour",
    )
    if obs.height == 0:
        return out
    meta = pl.DataFrame(
        {
            "site_id": [s for s, _, _ in factors],
            "parameter": [p for _, p, _ in factors],
            "factor": [f for _, _, f in factors],
            "enterprise_id": [owner[s][0] for s, _, _ in factors],
            "outlet": [owner[s][1] for s, _, _ in factors],
            "pollutant": [CEMS_CODES[p.removesuffix("-Cou")] for _, p, _ in factors],
        },
        schema={"site_id": pl.Int64, "parameter": pl.Utf8, "factor": pl.Float64, "enterprise_id": pl.Int64,
                "outlet": pl.Utf8, "pollutant": pl.Utf8},
    )  # fmt: skip
    frame = obs.join(meta, on=["site_id", "parameter"], how="inner").with_columns(
        value_t=pl.col("value") * pl.col("factor")
    )
    for (eid,), g in frame.group_by(["enterprise_id"]):
        vals, n = cems_baseline(g.select("outlet", "pollutant", "ts", "value_t", "flag"))
        out[int(eid)] = (vals, [*notes.get(int(eid), []), *n])
    return out


def _overrides(
    store: Store, ids: Sequence[int], level: str, ref: datetime
) -> dict[int, tuple[list[Measure], list[str]]]:
    """Per enterprise the override measures for ``level`` and the notes on stored overrides that were not used.

    Tiers (forecast.md §3.10; :func:`pick_overrides`): the enterprise's active ``plan`` rows of kind ``measure``
    at the level (origin ``override``), then the ``alert_measures`` at the level of its active ``grade`` rows
    (the grading ledger, origin ``ledger``; several industries' gradings add up). A grading whose validity ended
    by ``ref`` (the list's start) no longer applies and is noted.
    """
    ids = list(ids)
    with store.engine.connect() as conn:
        own_rows = conn.execute(
            select(plan.c.id, plan.c.enterprise_id, plan.c.action, plan.c.value, plan.c.attrs).where(
                plan.c.kind == "measure",
                plan.c.active.is_(True),
                plan.c.level == level,
                plan.c.enterprise_id.in_(ids),
            )
        ).all()
        grade_rows = conn.execute(
            select(plan.c.id, plan.c.enterprise_id, plan.c.end, plan.c.attrs)
            .where(plan.c.kind == "grade", plan.c.active.is_(True), plan.c.enterprise_id.in_(ids))
            .order_by(plan.c.id)
        ).all()
    own: dict[int, tuple[list[Measure], list[str]]] = {}
    for r in own_rows:
        ms, problems = own.setdefault(r.enterprise_id, ([], []))
        why = measure_problem(r.action, r.value)
        if why:
            problems.append(f"plan {r.id}: {why}")
            continue
        value = float(r.value) if r.action in _VALUE_ACTIONS else None
        ms.append(Measure(r.action, value, (r.attrs or {}).get("note_zh", "") or "", "override"))
    ledger: dict[int, tuple[list[Measure], list[str]]] = {}
    expired: dict[int, list[str]] = {}
    for r in grade_rows:
        attrs = r.attrs or {}
        name = attrs.get("grading_no") or f"plan {r.id}"
        parsed, problems = parse_alert_measures(attrs.get("alert_measures"))
        mine = [msg for lv, msg in problems if lv in ("", level)]
        if r.end is not None and r.end <= ref:
            if parsed.get(level) or mine:
                expired.setdefault(r.enterprise_id, []).append(
                    f"绩效评定{name}已于{beijing_date(r.end - timedelta(seconds=1))}到期，其预警减排措施未采用"
                )
            continue
        ms, bad = ledger.setdefault(r.enterprise_id, ([], []))
        if mine:
            bad.append(f"评定{name} alert_measures: {'; '.join(mine)}")
            continue
        ms += [Measure(it["action"], it["value"], it["note_zh"], "ledger") for it in parsed.get(level, [])]
    out: dict[int, tuple[list[Measure], list[str]]] = {}
    for eid in set(own) | set(ledger) | set(expired):
        o, lg = own.get(eid, ([], [])), ledger.get(eid, ([], []))
        ms, notes = pick_overrides([("override", o[0], o[1]), ("ledger", lg[0], lg[1])])
        out[eid] = (ms, [*notes, *expired.get(eid, [])])
    return out


def build_items(
    store: Store,
    area_code: str,
    level: str,
    templates: Sequence[MeasureRow] | None = None,
    *,
    on: date | None = None,
) -> list[ListItem]:
    """Resolve every enterprise of the area for a level (no writes).

    ``on`` is the list's start day (Beijing; default today): the CEMS baseline window ends there and gradings
    expired by then no longer give measures. An item keeps the grade as stored for display; an unrecognised one is
    resolved as ``unrated`` with a note.
    """
    on = on or beijing_date(now_utc())
    ents = enterprises_of_area(store, area_code)
    base = _baselines(store, ents, on)
    over = _overrides(store, [e["id"] for e in ents], level, day_start_utc(on))
    items = []
    for e in ents:
        notes: list[str] = []
        if normalise_grade(e["grade"]) is None:
            notes.append(f"绩效等级“{e['grade']}”无法识别，按未分级处理")
        chosen, over_notes = over.get(e["id"], ([], []))
        ms = resolve_measures(e["sector"], e["grade"], level, templates, chosen)
        ratio = allowed_ratio(ms)
        b, src, base_notes = base[e["id"]]
        lines = next((m.value for m in ms if m.action == "stop_lines"), None)
        items.append(
            ListItem(
                e["id"],
                e["code"],
                e["name"],
                e["credit_code"],
                e["county"],
                e["county_name"],
                e["sector"],
                e["grade"],
                ms,
                ratio,
                lines,
                any(m.action == "transport_ban" for m in ms),
                b,
                src,
                reductions(b, ratio),
                [*notes, *over_notes, *base_notes],
            )
        )
    items.sort(key=lambda i: (i.county or "", i.sector, i.code))
    return items


@dataclass(frozen=True)
class _Activation:
    """What a list is frozen for: a warning (its enforcement ``order`` is written here) or an existing
    hand-entered ``order`` (``order_id``)."""

    area_code: str
    level: str
    on: date
    start: datetime
    end: datetime
    doc_no: str
    rule_set: str
    warning_id: int | None = None
    order_id: int | None = None


def activate(
    store: Store,
    warning_id: int,
    *,
    by: str = "system",
    templates: Sequence[MeasureRow] | None = None,
    now: datetime | None = None,
) -> int:
    """Freeze a new version of the warning's emergency list, write its enforcement ``order`` and findings.

    Called when a warning is issued or changed; an earlier active version and its order are ended. Returns the list
    id (forecast.md §3.10 "Activation").
    """
    now = now or now_utc()
    with store.engine.connect() as conn:
        w = conn.execute(select(warning_table).where(warning_table.c.id == warning_id)).mappings().first()
    if w is None:
        raise LookupError(f"warning {warning_id} does not exist")
    if w["level"] not in LEVELS:
        raise ValueError(f"warning {warning_id}: level {w['level']!r} has no emergency measures (only {LEVELS})")
    start = max(now, day_start_utc(w["start_date"]))
    end = max(day_start_utc(w["end_date"] + timedelta(days=1)), start + timedelta(hours=1))
    act = _Activation(
        w["area_code"], w["level"], w["start_date"], start, end, w["doc_no"] or "", w["rule_set"], warning_id=warning_id
    )
    return _freeze(store, act, by=by, templates=templates, now=now)


def activate_for_order(
    store: Store,
    order_plan_id: int,
    area_code: str | None = None,
    *,
    by: str = "system",
    templates: Sequence[MeasureRow] | None = None,
    now: datetime | None = None,
) -> int:
    """Freeze a new version of the emergency list of a hand-entered order (forecast.md §3.10: "A list can also be
    built for a hand-entered order"; enforcement.md §2 ``order``). Returns the list id.

    The order is an existing ``plan`` row of kind ``order`` (level, ``start`` = issued, ``end`` = lifted,
    ``doc_id``); the area is ``area_code``, else the order's ``attrs.area_code``, else — an order without an area
    binds every enterprise in enforcement (``enforcement.plans.order_scope``) — the prefecture when the place table
    has exactly one. The same path as a warning's list
    is used, except that no order is written (enforcement already verifies the hand-entered one, which every item
    links to) and the list has no ``warning_id`` (its ``totals.order_id`` names the order). Building again makes a
    new version and ends the previous one; :func:`end_order_lists` ends it when the order is lifted. Inspection
    findings are keyed (order, enterprise).

    Refused with ``LookupError`` (no such row or area) or ``ValueError`` naming the field: not an order, an order
    written for a warning (its list follows the warning), an order lifted (inactive) or already over, a level
    without measures, no start/end, no area, an ``area_code`` other than the order's own.
    """
    now = now or now_utc()
    with store.engine.connect() as conn:
        o = conn.execute(select(plan).where(plan.c.id == order_plan_id)).mappings().first()
    if o is None:
        raise LookupError(f"plan {order_plan_id} does not exist")
    attrs = o["attrs"] or {}
    if o["kind"] != "order":
        raise ValueError(f"plan {order_plan_id}: kind is {o['kind']!r}, not 'order'")
    if o["source"] == "warning" or attrs.get("warning_id") is not None:
        raise ValueError(
            f"plan {order_plan_id}: the order of warning {attrs.get('warning_id')}; its list follows the warning"
        )
    if not o["active"]:
        raise ValueError(f"plan {order_plan_id}: the order is no longer active (lifted)")
    if o["level"] not in LEVELS:
        raise ValueError(f"plan {order_plan_id}: level {o['level']!r} has no emergency measures (only {LEVELS})")
    if o["start"] is None or o["end"] is None:
        raise ValueError(f"plan {order_plan_id}: an order needs start (issued) and end (lifted)")
    if o["end"] <= now:
        raise ValueError(f"plan {order_plan_id}: end {o['end'].isoformat()} has passed; the order is over")
    own_area = str(attrs.get("area_code") or "").strip()
    if area_code and own_area and area_code != own_area:
        raise ValueError(
            f"plan {order_plan_id}: area_code {area_code!r} differs from the order's attrs.area_code {own_area!r}"
        )
    area = area_code or own_area or _only_prefecture(store)
    if not area:
        raise ValueError(f"plan {order_plan_id}: area_code: pass one or set attrs.area_code on the order")
    act = _Activation(
        str(area), o["level"], beijing_date(o["start"]), o["start"], o["end"], o["doc_id"] or "", "",
        order_id=order_plan_id,
    )  # fmt: skip
    return _freeze(store, act, by=by, templates=templates, now=now)


def _only_prefecture(store: Store) -> str | None:
    """The code of the place table's prefecture when there is exactly one."""
    with store.engine.connect() as conn:
        codes = conn.execute(select(place.c.code).where(place.c.kind == "prefecture")).scalars().all()
    return codes[0] if len(codes) == 1 else None


def _freeze(store: Store, act: _Activation, *, by: str, templates: Sequence[MeasureRow] | None, now: datetime) -> int:
    """The one path of :func:`activate` and :func:`activate_for_order`: resolve, version, write list, items, order
    link and inspection findings in one transaction."""
    rows = templates if templates is not None else default_templates()
    items = build_items(store, act.area_code, act.level, rows, on=act.on)
    summary = summarise(items, act.level)
    level_zh = _level_zh(act.level)
    with store.begin() as conn:
        if act.warning_id is not None:
            prev = conn.execute(
                select(emergency_list.c.version)
                .where(emergency_list.c.warning_id == act.warning_id)
                .order_by(emergency_list.c.version.desc())
            ).scalar()
            _end(conn, act.warning_id, now)
            version = (prev or 0) + 1
            order_id = conn.execute(
                plan.insert()
                .values(
                    kind="order",
                    level=act.level,
                    start=act.start,
                    end=act.end,
                    doc_id=act.doc_no or f"warning-{act.warning_id}-v{version}",
                    source="warning",
                    attrs={"warning_id": act.warning_id, "area_code": act.area_code, "version": version},
                    active=True,
                    created_by=by,
                    created_at=now,
                )
                .returning(plan.c.id)
            ).scalar_one()
            key, what = f"{act.warning_id}", f"{level_zh}预警"
        else:
            assert act.order_id is not None
            prev_lists = _order_lists(conn, act.order_id)
            _end_lists(conn, [r.id for r in prev_lists if r.active], now)
            version = max((r.version for r in prev_lists), default=0) + 1
            order_id = act.order_id
            key, what = f"order-{order_id}", f"{level_zh}应急减排指令"
        list_id = conn.execute(
            emergency_list.insert()
            .values(
                warning_id=act.warning_id,
                version=version,
                area_code=act.area_code,
                level=act.level,
                doc_no=act.doc_no,
                rule_set=act.rule_set,
                template_version=template_version(rows),
                active=True,
                totals=summary.as_json()
                | {
                    "n_enterprises": len(items),
                    "order_id": order_id,
                    "origin": "warning" if act.warning_id is not None else "order",
                },
                created_at=now,
            )
            .returning(emergency_list.c.id)
        ).scalar_one()
        if items:
            conn.execute(
                emergency_list_item.insert(),
                [
                    {
                        "list_id": list_id,
                        "enterprise_id": it.enterprise_id,
                        "county": it.county,
                        "sector": it.sector,
                        "grade": it.grade,
                        "measures": [m.__dict__ for m in it.measures],
                        "allowed_ratio": it.allowed_ratio,
                        "lines_to_stop": it.lines_to_stop,
                        "transport_ban": it.transport_ban,
                        "baseline_source": it.baseline_source,
                        "reduction_t_per_day": it.reduction_t_per_day,
                        "order_id": order_id,
                    }
                    for it in items
                ],
            )
        if act.level in INSPECTION_LEVELS:
            for it in items:
                if all(m.action == "none" for m in it.measures):
                    continue
                raise_finding(
                    conn,
                    FindingDraft(
                        kind="inspection",
                        severity="high" if act.level == "red" else "medium",
                        title=f"应急减排措施核查：{it.name}（{what}）",
                        dedupe_key=f"emergency_measure_check:{key}:{it.enterprise_id}",
                        detected_at=now,
                        subject_site_id=it.enterprise_id,
                        evidence={
                            "category": "emergency_measure_check",
                            "warning_id": act.warning_id,
                            "order_id": order_id,
                            "list_id": list_id,
                            "level": act.level,
                            "measures": [m.__dict__ for m in it.measures],
                            "allowed_ratio": it.allowed_ratio,
                        },
                    ),
                    now=now,
                )
    return int(list_id)


def _level_zh(level: str) -> str:
    return LEVEL_ZH.get(level, level)


def _end_lists(conn: Any, list_ids: Sequence[int], now: datetime) -> None:
    for lid in list_ids:
        conn.execute(emergency_list.update().where(emergency_list.c.id == lid).values(active=False, ended_at=now))


def _end(conn: Any, warning_id: int, now: datetime) -> None:
    """End the warning's active lists and the orders written for them."""
    active = [
        lid
        for (lid,) in conn.execute(
            select(emergency_list.c.id).where(
                emergency_list.c.warning_id == warning_id, emergency_list.c.active.is_(True)
            )
        )
    ]
    _end_lists(conn, active, now)
    for lid in active:
        order_ids = {
            r.order_id
            for r in conn.execute(select(emergency_list_item.c.order_id).where(emergency_list_item.c.list_id == lid))
            if r.order_id is not None
        }
        for oid in order_ids:
            conn.execute(plan.update().where(plan.c.id == oid).values(end=now, active=False))
    # orders of lists without items
    for r in conn.execute(select(plan.c.id, plan.c.attrs).where(plan.c.kind == "order", plan.c.active.is_(True))):
        if (r.attrs or {}).get("warning_id") == warning_id:
            conn.execute(plan.update().where(plan.c.id == r.id).values(end=now, active=False))


def _order_lists(conn: Any, order_id: int) -> list[Any]:
    """The lists (id, version, active) built for a hand-entered order: no warning, ``totals.order_id``."""
    rows = conn.execute(
        select(emergency_list.c.id, emergency_list.c.version, emergency_list.c.active, emergency_list.c.totals).where(
            emergency_list.c.warning_id.is_(None)
        )
    ).all()
    return [r for r in rows if (r.totals or {}).get("order_id") == order_id]


def end_lists(store: Store, warning_id: int, *, now: datetime | None = None) -> None:
    """Lift: end the warning's active list and its orders."""
    with store.begin() as conn:
        _end(conn, warning_id, now or now_utc())


def end_order_lists(store: Store, order_plan_id: int, *, now: datetime | None = None) -> int:
    """A hand-entered order lifted: end its active lists (the order row itself is the caller's). Returns how many."""
    with store.begin() as conn:
        return end_order_lists_on(conn, order_plan_id, now=now)


def end_order_lists_on(conn: Any, order_plan_id: int, *, now: datetime | None = None) -> int:
    """:func:`end_order_lists` inside the caller's transaction (withdrawing the order in the same one)."""
    active = [r.id for r in _order_lists(conn, order_plan_id) if r.active]
    _end_lists(conn, active, now or now_utc())
    return len(active)


def list_rows(store: Store, list_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A list header and its items joined with the enterprise names and credit codes."""
    with store.engine.connect() as conn:
        head = conn.execute(select(emergency_list).where(emergency_list.c.id == list_id)).mappings().first()
        if head is None:
            raise LookupError(f"emergency list {list_id} does not exist")
        items = (
            conn.execute(
                select(emergency_list_item, site.c.code, site.c.name, enterprise.c.credit_code)
                .join(site, site.c.id == emergency_list_item.c.enterprise_id)
                .join(enterprise, enterprise.c.site_id == site.c.id)
                .where(emergency_list_item.c.list_id == list_id)
                .order_by(emergency_list_item.c.county, emergency_list_item.c.sector, site.c.code)
            )
            .mappings()
            .all()
        )
        county_names = {r.code: r.name for r in conn.execute(select(place.c.code, place.c.name))}
    out = []
    for r in items:
        d = dict(r)
        d["county_name"] = county_names.get(d["county"] or "", d["county"])
        out.append(d)
    return dict(head), out


def active_list(store: Store, *, area_code: str | None = None) -> list[dict[str, Any]]:
    """Active lists (newest first)."""
    q = select(emergency_list).where(emergency_list.c.active.is_(True)).order_by(emergency_list.c.id.desc())
    if area_code:
        q = q.where(emergency_list.c.area_code == area_code)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


HEADER_ZH = (
    "序号",
    "县市",
    "企业名称",
    "统一社会信用代码",
    "行业",
    "绩效等级",
    "预警级别",
    "减排措施",
    "限产比例",
    "停产生产线",
    "运输管控",
    "SO2减排量(t/d)",
    "NOx减排量(t/d)",
    "颗粒物减排量(t/d)",
    "VOCs减排量(t/d)",
    "基准来源",
    "核查方式",
)

BASELINE_SOURCE_ZH: dict[str, str] = {
    "plan": "核定基准",
    "permit": "排污许可量",
    "cems_30d": "在线监测近30日均值",
    "registry": "登记库",
    "none": "无基准",
}
"""Where an enterprise's baseline emissions [t/d] came from (:func:`_baselines`, :data:`BASELINE_SOURCES`): the
baseline rows of its production plan, its permit, its CEMS emission masses, the registry, or none."""

CHECK_METHOD = {
    "stop": "用电监控（生产设施处于停机区间）+ 在线监测",
    "cap_ratio": "用电监控（日用电量 ≤ 允许比例 × 基准）",
    "stop_lines": "用电监控（运行生产线数）",
    "extend_coking_h": "推焦计划与用电监控",
    "transport_ban": "门禁与运输台账",
    "none": "自主减排（抽查）",
}


def export_xlsx(store: Store, list_id: int, path: str | Path | None = None) -> bytes:
    """The list as an Excel workbook (sheets 清单, 汇总, 说明; forecast.md §3.10); written to ``path`` if given."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    head, items = list_rows(store, list_id)
    wb = Workbook()
    ws = wb.active
    ws.title = "清单"
    ws.append(HEADER_ZH)
    for c in ws[1]:
        c.font = Font(bold=True)
    level_zh = _level_zh(head["level"])
    for i, it in enumerate(items, start=1):
        ms = it["measures"] or []
        red = it["reduction_t_per_day"] or {}
        ws.append(
            [
                i,
                it["county_name"],
                it["name"],
                it["credit_code"],
                SECTORS.get(it["sector"], it["sector"]),
                it["grade"],
                level_zh,
                "；".join(m.get("note_zh") or ACTION_ZH.get(m["action"], m["action"]) for m in ms),
                None if it["allowed_ratio"] is None else round(1.0 - it["allowed_ratio"], 4),
                it["lines_to_stop"],
                "是" if it["transport_ban"] else "否",
                *[red.get(p) for p in POLLUTANTS],
                baseline_source_words(it["baseline_source"]),
                "；".join(sorted({CHECK_METHOD.get(m["action"], "") for m in ms})),
            ]
        )
    tot = head["totals"] or {}
    ws2 = wb.create_sheet("汇总")
    ws2.append(["范围", "名称", *[f"{p}减排量(t/d)" for p in POLLUTANTS]])
    for county, vals in sorted((tot.get("by_county") or {}).items()):
        ws2.append(["县市", county, *[vals.get(p) for p in POLLUTANTS]])
    for sector, vals in sorted((tot.get("by_sector") or {}).items()):
        ws2.append(["行业", SECTORS.get(sector, sector), *[vals.get(p) for p in POLLUTANTS]])
    ws2.append(["合计", "减排量", *[(tot.get("reduction") or {}).get(p) for p in POLLUTANTS]])
    ws2.append(["合计", "基准排放量", *[(tot.get("baseline") or {}).get(p) for p in POLLUTANTS]])
    ws2.append(["合计", "减排比例", *[(tot.get("share") or {}).get(p) for p in POLLUTANTS]])
    ws2.append(["目标", f"{level_zh}预警减排比例 ≥ {tot.get('target_share')}", *[None] * len(POLLUTANTS)])
    ws2.append(["未达目标", "、".join(tot.get("shortfall") or []) or "无", *[None] * len(POLLUTANTS)])
    ws2.append(["缺少基准", "、".join(tot.get("missing_baseline") or []) or "无", *[None] * len(POLLUTANTS)])
    # why a stored override, grade or baseline was not used as is: each enterprise's reasons, one row per reason
    for code, reasons in sorted((tot.get("notes") or {}).items()):
        for reason in reasons:
            ws2.append(["说明", f"{code}：{reason}", *[None] * len(POLLUTANTS)])
    # the emission-based estimate (forecast.md §3.9 step 6): the figure with its study, or why there is none
    for line in source_share.estimate_text(source_share.list_estimate(store, list_id, items), label=False):
        ws2.append([source_share.LABEL_ZH, line, *[None] * len(POLLUTANTS)])
    ws3 = wb.create_sheet("说明")
    for k, v in (
        ("预警文号" if head["warning_id"] is not None else "指令文号", head["doc_no"] or "—"),
        (
            "清单来源",
            f"预警 #{head['warning_id']}" if head["warning_id"] is not None else f"人工录入指令 #{tot.get('order_id')}",
        ),
        ("预警级别", level_zh),
        ("区域", head["area_code"]),
        ("规则", head["rule_set"]),
        ("措施模板版本", head["template_version"]),
        ("清单版本", head["version"]),
        ("生成时间（UTC）", head["created_at"].isoformat() if head["created_at"] else ""),
        ("说明", "措施模板中 status=documented_default 的行为默认值，须以本州应急减排清单替换。"),
    ):
        ws3.append([k, v])
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data
