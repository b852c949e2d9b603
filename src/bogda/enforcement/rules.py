"""The rule catalogue as data: ids, versions, severities and the versioned parameter set (enforcement.md §4, §6).

Every threshold is a **default, configurable** value (enforcement.md, "Numbers"): a bureau overrides it with a
parameter file; :func:`resolve_params` validates the overrides and stamps the result with a version and the
SHA-256 of its canonical JSON, both copied into every hit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PARAM_VERSION = "enf-params-2025.2"

DEFAULT_PARAMS: dict[str, Any] = {
    # §3.1 validity (HJ 75-2017 [std])
    "valid_hour.min_minutes": 45,
    "valid_day.min_hours": 20,
    # §3.2 O2
    "o2.guard_pct": 19.0,
    # §3.3 exceedance
    "exceed.strict": True,
    "exceed.merge_gap_h": 1,
    "monthly.min_compliant_share": 0.95,
    # C04 marks
    "marks.late_entry_h": 24.0,
    "marks.startup_cap_h": 4.0,
    "marks.annual_cap_h": 60.0,
    "marks.fault_annual_cap_h": 60.0,
    "marks.steady_load_pct": 80.0,
    # C05/C06
    "o2.band_margin_pp": 3.0,
    "o2.min_hours": 3,
    "o2.min_load_pct": 30.0,
    "o2.drop_ratio": 0.55,
    # C07
    "flat.min_hours": 6,
    "flat.min_minutes": 30,
    "flat.load_cv": 0.02,
    # C08
    "linear.min_points": 6,
    "linear.tol_frac": 1e-3,
    # C09
    "narrow.range_frac": 0.02,
    "narrow.lod_share": 0.8,
    "narrow.lod_factor": 1.5,
    "narrow.min_load_pct": 30.0,
    # C10
    "pinned.window_h": 24,
    "pinned.share": 0.8,
    "pinned.band_lo": 0.9,
    "pinned.cv": 0.04,
    "pinned.rho": 0.3,
    # C11
    "drop.ratio": 0.55,
    "drop.base_days": 30,
    "drop.gate_mad": 0.25,
    "drop.min_history_days": 10,
    # C12
    "copy.block_h": 24,
    "copy.min_distinct": 3,
    "copy.max_lag_days": 14,
    # C13
    "resid.z": 4.0,
    "resid.min_hours": 6,
    "resid.ridge_alpha": 1.0,
    "resid.rho_drop": 0.5,
    "resid.rho_min_prior": 0.7,
    # C14
    "missing.window_days": 14,
    "missing.night_hours": 24,
    "missing.day_share": 0.10,
    "night.start_h": 22,
    "night.end_h": 6,
    # C15
    "flags.mc_share": 0.05,
    "flags.window_days": 10,
    "flags.top_load_share": 0.6,
    "flags.top_load_quantile": 0.6,
    # C16
    "fstop.min_hours": 1,
    # C17
    "complete.hour_share": 0.75,
    "complete.quarter_share": 0.90,
    # C18
    "fgd.max_temp_c": 65.0,
    "fgd.min_hours": 3,
    # C19
    "stale.channel_share": 0.9,
    "stale.min_records": 3,
    # C20
    "flow.ratio": 0.5,
    "flow.min_hours": 6,
    "flow.base_days": 30,
    # C21
    "logger.rel_diff": 0.02,
    "logger.min_hours": 3,
    # C22
    "furnace.min_temp_c": 850.0,
    "furnace.max_hours": 5.0,
    # C23
    "minute.exceed_count": 3,
    "minute.window": 6,
    # derived series
    "derived.cv": 0.001,
    "derived.window_h": 168,
    # §3.5 electricity state
    "state.learn_days": 14,
    "state.hysteresis": 0.8,
    "state.debounce_min": 3,
    "state.debounce_intervals": 2,
    "state.fallback_current_frac": 0.10,
    # E01..E08
    "e01.min_minutes": 15,
    "e01.min_intervals": 2,
    "e01.edge_minutes": 60,
    "e02.lead_minutes": 5,
    "e02.lag_minutes": 10,
    "e02.min_minutes": 15,
    "e02.s2_minutes": 60,
    "e03.ratio": 0.5,
    "e03.min_minutes": 30,
    "e03.median_days": 7,
    "e03.pair_days": 30,
    "e04.min_hours": 1.0,
    "e04.idle_quantile": 0.95,
    "e04.idle_days": 30,
    "cap.tolerance": 0.05,
    "ramp_h.kiln": 24.0,
    "ramp_h.mill": 0.0,
    "e06.ratio": 1.5,
    "e06.min_days": 3,
    "e07.min_minutes": 30,
    "e08.share": 0.5,
    "p01.min_on_hours": 1.0,
    # P02 coking time: extended coking time under a warning by chamber height (local example), pushes without
    # the pushing dust-collection station running
    "p02.extend_h_tall": 28.0,
    "p02.extend_h_short": 36.0,
    "p02.tall_chamber_m": 6.0,
    "p02.min_undedusted": 2,
    # P02 pushes from the pusher machine's power: one push = one run at or above T_on lasting 1–20 min
    "p02.push_min_minutes": 1.0,
    "p02.push_max_minutes": 20.0,
    # P03 transport ban: China vehicle emission stages banned under a warning (0 … 4 = National IV or older)
    "p03.max_banned_stage": 4,
    # C11 change point: PELT penalty factor on the daily medians (× variance × ln n, BIC-like)
    "pelt.penalty_factor": 2.0,
}
"""Defaults of enforcement.md §6 and the thresholds of §4."""


class ParamError(ValueError):
    """An invalid parameter file: names the key and the reason (enforcement.md §7)."""


@dataclass(frozen=True)
class Params:
    """A resolved, versioned parameter set (immutable)."""

    values: dict[str, Any]
    version: str = PARAM_VERSION
    sha256: str = ""

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def with_overrides(self, overrides: dict[str, Any], version: str | None = None) -> Params:
        """A new set with ``overrides`` applied (validated), e.g. per-enterprise tuning."""
        return resolve_params({**self.values, **overrides}, version=version or self.version)


def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, compact separators, UTF-8 text (enforcement.md §5)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def resolve_params(overrides: dict[str, Any] | None = None, *, version: str = PARAM_VERSION) -> Params:
    """Validate ``overrides`` against :data:`DEFAULT_PARAMS` and return the resolved set.

    Raises
    ------
    ParamError
        Unknown key, or a value whose type does not match the default (bools are not numbers here), or a
        negative threshold.
    """
    values = dict(DEFAULT_PARAMS)
    for key, val in (overrides or {}).items():
        if key not in DEFAULT_PARAMS:
            raise ParamError(f"{key}: unknown parameter")
        default = DEFAULT_PARAMS[key]
        if isinstance(default, bool):
            if not isinstance(val, bool):
                raise ParamError(f"{key}: expected true/false, got {val!r}")
        elif isinstance(default, int | float):
            if isinstance(val, bool) or not isinstance(val, int | float):
                raise ParamError(f"{key}: expected a number, got {val!r}")
            if val < 0:
                raise ParamError(f"{key}: must not be negative, got {val!r}")
            if isinstance(default, int) and not isinstance(default, bool) and float(val) != int(val):
                raise ParamError(f"{key}: expected an integer, got {val!r}")
            val = type(default)(val)
        values[key] = val
    digest = hashlib.sha256(canonical_json(values).encode("utf-8")).hexdigest()
    return Params(values=values, version=version, sha256=digest)


def parse_param_file(text: str, name: str = "params") -> Params:
    """A versioned parameter file → resolved :class:`Params` (enforcement.md §6; §7 "invalid parameter file → run
    refused naming key and reason").

    The file is YAML or JSON::

        version: changji-2026.1        # required, names the set in every clue
        params:                        # only the keys that differ from the defaults
          flat.min_hours: 8
          o2.guard_pct: 19.5

    Raises
    ------
    ParamError
        ``<name>: <key>: <reason>`` — unreadable text, a missing or empty version, ``params`` not a mapping, an
        unknown key, a value of the wrong type or a negative threshold.
    """
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            import yaml  # PyYAML; JSON files need nothing
        except ImportError:  # pragma: no cover - PyYAML ships with the platform's environment
            raise ParamError(f"{name}: not JSON, and YAML support (PyYAML) is not installed") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ParamError(f"{name}: not valid YAML or JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ParamError(f"{name}: expected a mapping with 'version' and 'params'")
    unknown = set(doc) - {"version", "params", "note"}
    if unknown:
        raise ParamError(f"{name}: {sorted(unknown)[0]}: unknown top-level key (expected version, params, note)")
    version = doc.get("version")
    if not isinstance(version, str) or not version.strip() or len(version) > 64:
        raise ParamError(f"{name}: version: required, a name of at most 64 characters")
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        raise ParamError(f"{name}: params: expected a mapping of parameter keys to values")
    try:
        return resolve_params(params, version=version.strip())
    except ParamError as exc:
        raise ParamError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class Rule:
    """One catalogue entry (enforcement.md §4)."""

    rule_id: str
    name_en: str
    name_zh: str
    severity: str
    inputs: str
    params: tuple[str, ...]
    version: str = "1"
    family: str = "cems"


def _r(rid: str, en: str, zh: str, sev: str, inputs: str, params: str, family: str = "cems") -> Rule:
    return Rule(rid, en, zh, sev, inputs, tuple(p for p in params.split() if p), family=family)


RULES: dict[str, Rule] = {
    r.rule_id: r
    for r in [
        _r("C01", "hourly exceedance", "小时均值超标", "S1", "H O2 marks L", "o2.guard_pct exceed.merge_gap_h"),
        _r("C02", "daily exceedance", "日均值超标", "S1", "H", "valid_day.min_hours"),
        _r("C03", "monthly compliance rate", "月达标率不足", "S2", "H", "monthly.min_compliant_share"),
        _r(
            "C04",
            "mark audit",
            "标记异常",
            "S2",
            "marks ld Pp",
            "marks.late_entry_h marks.startup_cap_h marks.annual_cap_h marks.fault_annual_cap_h marks.steady_load_pct",
        ),
        _r("C05", "O2 high (air dilution)", "氧含量偏高（疑似空气稀释）", "S2", "O2 ld", "o2.guard_pct o2.min_hours"),
        _r("C06", "O2 low (N2 dilution)", "氧含量偏低（疑似氮气稀释）", "S2", "O2 H", "o2.band_margin_pp"),
        _r("C07", "flat line", "数据恒值", "S2", "H|M", "flat.min_hours flat.load_cv"),
        _r("C08", "linear fill", "数据线性填补", "S2", "H", "linear.min_points linear.tol_frac"),
        _r("C09", "narrow band / LOD", "数据窄幅波动或贴近检出限", "S3", "M span lod", "narrow.range_frac"),
        _r("C10", "pinned below limit", "数据贴限（略低于标准限值）", "S3", "H ld", "pinned.share pinned.cv"),
        _r(
            "C11", "step drop vs load", "浓度相对负荷骤降", "S2", "H ld", "drop.ratio drop.gate_mad pelt.penalty_factor"
        ),
        _r("C12", "copied block", "数据整段复制", "S2", "H", "copy.block_h copy.max_lag_days"),
        _r("C13", "correlation break", "多参数相关性异常", "S3", "H O2 flow ld", "resid.z resid.min_hours"),
        _r("C14", "missingness pattern", "数据缺失规律异常", "S2", "flags", "missing.night_hours"),
        _r("C15", "flag abuse", "数据标记滥用", "S2", "flags ld", "flags.mc_share flags.top_load_share"),
        _r("C16", "stop flag vs electricity", "停运标记与用电不符", "S2", "flags marks Pp", "fstop.min_hours"),
        _r("C17", "completeness", "数据有效率不足", "S3", "H", "valid_day.min_hours complete.quarter_share"),
        _r(
            "C18",
            "wet-FGD temperature / bypass",
            "湿法脱硫出口温度异常或旁路开启",
            "S2",
            "temp g116 ld",
            "fgd.max_temp_c",
        ),
        _r("C19", "stale record", "整条记录重复", "S3", "all", "stale.channel_share stale.min_records"),
        _r("C20", "flow-load break", "烟气流量与负荷不匹配", "S2", "flow ld", "flow.ratio flow.min_hours"),
        _r("C21", "logger mismatch", "数采仪折算值与复算值不符", "S3", "ZsAvg", "logger.rel_diff"),
        _r("C22", "incinerator furnace temperature", "焚烧炉膛温度低于850℃", "S2", "furnace", "furnace.max_hours"),
        _r("C23", "minute excursions", "分钟值超标", "S3", "M", "minute.exceed_count"),
        _r("E01", "treatment off", "治污设施停运（生产运行）", "S2", "Pp Pt", "e01.min_minutes", "power"),
        _r("E02", "late start / early stop", "治污设施晚开早关", "S2", "Pp Pt", "e02.min_minutes", "power"),
        _r("E03", "treatment under-loaded", "治污设施低负荷运行", "S2", "Pp Pt", "e03.ratio", "power"),
        _r("E04", "stop-order breach", "停产令期间违规生产", "S1", "proxy order", "e04.min_hours", "power"),
        _r("E05", "cap breach", "超出限产比例", "S2", "proxy baseline", "cap.tolerance", "power"),
        _r("E06", "night/day ratio", "夜间用电异常偏高", "S3", "meters", "e06.ratio e06.min_days", "power"),
        _r("E07", "meter offline", "治污设施电表离线", "S3", "meters", "e07.min_minutes", "power"),
        _r("E08", "bypass wiring", "疑似电表旁路接线", "S3", "Pp total", "e08.share", "power"),
        _r("P01", "staggered production", "错峰生产期间生产", "S1", "window proxy", "p01.min_on_hours", "plan"),
        _r(
            "P02",
            "coking time",
            "焦化结焦时间不足",
            "S2",
            "pushes order battery dedust",
            "p02.extend_h_tall p02.extend_h_short p02.tall_chamber_m p02.min_undedusted p02.push_max_minutes",
            "plan",
        ),
        _r("P03", "transport ban", "预警期间违规运输", "S2", "gate order", "p03.max_banned_stage", "plan"),
    ]
}
"""The catalogue of enforcement.md §4 (default severities; rules may raise or lower per hit)."""

SEVERITIES = ("S1", "S2", "S3")


@dataclass(frozen=True)
class Hit:
    """One rule hit over a contiguous stretch of one subject's series.

    ``i0``/``i1`` are inclusive row positions in the subject's sorted series (the evidence bundle slices raw
    values by them); ``start``/``end`` are UTC interval bounds (``end`` exclusive) when timestamps exist.
    """

    rule_id: str
    severity: str
    subject_kind: str
    subject_id: str
    i0: int
    i1: int
    channel: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    enterprise_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    rule_version: str = "1"
    param_version: str = PARAM_VERSION
    param_sha256: str = ""
    related: tuple[str, ...] = ()

    @property
    def n_rows(self) -> int:
        return self.i1 - self.i0 + 1


@dataclass(frozen=True)
class NotEvaluable:
    """A rule that could not run for one subject, with its reason (``CONFIG_MISSING:<item>`` …); never "clear"."""

    rule_id: str
    subject_id: str
    reason: str


def make_hit(
    rule_id: str,
    params: Params,
    *,
    subject_id: str,
    i0: int,
    i1: int,
    severity: str | None = None,
    subject_kind: str = "outlet",
    channel: str | None = None,
    ts: Any = None,
    step_s: int = 3600,
    enterprise_id: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> Hit:
    """Build a :class:`Hit` stamped with the rule and parameter versions; ``ts`` is the subject's time axis."""
    rule = RULES[rule_id]
    start = end = None
    if ts is not None and len(ts) > i1:
        start = _as_dt(ts[i0])
        last = _as_dt(ts[i1])
        if last is not None:
            from datetime import timedelta

            end = last + timedelta(seconds=step_s)
    return Hit(
        rule_id=rule_id,
        severity=severity or rule.severity,
        subject_kind=subject_kind,
        subject_id=subject_id,
        i0=int(i0),
        i1=int(i1),
        channel=channel,
        start=start,
        end=end,
        enterprise_id=enterprise_id,
        metrics={k: _plain(v) for k, v in (metrics or {}).items()},
        rule_version=rule.version,
        param_version=params.version,
        param_sha256=params.sha256,
    )


def _as_dt(v: Any) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v
    import numpy as np

    if isinstance(v, np.datetime64):
        from datetime import UTC, timedelta

        us = int(v.astype("datetime64[us]").astype(np.int64))
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    return None


def _plain(v: Any) -> Any:
    """NumPy scalars → Python scalars, rounded floats (metrics are shown to people and hashed)."""
    import numpy as np

    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | float):
        f = float(v)
        return None if f != f else round(f, 6)
    if isinstance(v, np.bool_):
        return bool(v)
    return v
