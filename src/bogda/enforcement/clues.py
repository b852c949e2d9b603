"""Clue drafts: rule hits → finding drafts with an evidence bundle; tuning; compliance strings (enforcement.md §5).

A :class:`FindingDraft` is a plain record of kind ``clue`` that the service layer hands to ``findings`` (not
imported here). The evidence bundle carries the raw values with their flags and ``frame_uid``, the rule id and
parameter version, derived values with their formula, and a deterministic plot spec (rendered to SVG here when
asked; PNG would need matplotlib). ``bundle_sha256`` = SHA-256 of the canonical JSON of the bundle without plots.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from bogda.enforcement.rules import RULES, Hit, Params, canonical_json
from bogda.timeutil import BEIJING

CHANNEL_ZH = {
    "a21026": "二氧化硫", "a21002": "氮氧化物", "a34013": "颗粒物", "a19001": "氧含量", "a00000": "烟气流量",
    "a01012": "烟气温度", "i33400": "负荷", "NOX": "氮氧化物", "CO": "一氧化碳", "a21005": "一氧化碳",
}  # fmt: skip
SEVERITY_ZH = {"S1": "证据级", "S2": "强线索", "S3": "数据质量/关注"}
LEGAL_BASIS = {
    "C01": "《大气污染防治法》第九十九条",
    "C02": "《大气污染防治法》第九十九条",
    "C07": "《大气污染防治法》第一百条；《环境保护法》第六十三条",
    "C08": "《大气污染防治法》第一百条",
    "C12": "《大气污染防治法》第一百条",
    "C16": "《大气污染防治法》第一百条",
    "E01": "《大气污染防治法》第九十九条；《环境保护法》第六十三条",
    "E04": "《大气污染防治法》第一百零八条（重污染天气应急）",
    "P01": "错峰生产方案",
    "P02": "重污染天气应急减排清单（延长结焦时间）",
    "P03": "重污染天气应急减排清单（运输管控）",
}
"""Default legal basis per rule (configuration; shown to officers, not interpreted by code)."""


@dataclass
class FindingDraft:
    """A finding of kind ``clue`` before it is stored (architecture §4 ``finding`` + enforcement.md §5 ``clue``)."""

    kind: str
    severity: str
    rule_id: str
    rule_version: str
    param_version: str
    param_sha256: str
    subject: dict[str, Any]
    title: str
    window_start: datetime | None
    window_end: datetime | None
    metrics: dict[str, Any]
    evidence: dict[str, Any]
    bundle_sha256: str
    dedupe_key: str
    legal_basis: str = ""
    status: str = "NEW"
    plots: list[dict[str, Any]] = field(default_factory=list)


def _fmt_local(ts: datetime | None) -> str:
    return "" if ts is None else ts.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _iso(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat()
    return v


def bundle_sha256(evidence: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, compact, UTF-8) of the bundle without its plots."""
    core = {k: v for k, v in evidence.items() if k != "plots"}
    return hashlib.sha256(canonical_json(core).encode("utf-8")).hexdigest()


def raw_items(
    frame: pl.DataFrame, i0: int, i1: int, channels: list[str], *, context: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``raw[]`` and ``frames[]`` of a bundle from the subject's sorted frame rows ``i0 − context … i1 + context``.

    Values are taken as received (``<ch>_raw`` when present, else the stored number), with the flag and the
    ``frame_uid`` (per channel ``<ch>_frame`` or per row ``frame_uid``) so every item resolves to a stored frame.
    """
    lo, hi = max(0, i0 - context), min(frame.height - 1, i1 + context)
    sl = frame.slice(lo, hi - lo + 1)
    cols = set(sl.columns)
    ts = sl["ts_utc"].to_list() if "ts_utc" in cols else list(range(lo, hi + 1))
    raws: list[dict[str, Any]] = []
    frames: dict[Any, dict[str, Any]] = {}
    recs = sl["record_id"].to_list() if "record_id" in cols else None
    for ch in channels:
        if ch not in cols:
            continue
        vals = sl[f"{ch}_raw"].to_list() if f"{ch}_raw" in cols else sl[ch].to_list()
        flags = sl[f"{ch}_flag"].to_list() if f"{ch}_flag" in cols else [None] * sl.height
        fcol = f"{ch}_frame" if f"{ch}_frame" in cols else ("frame_uid" if "frame_uid" in cols else None)
        fids = sl[fcol].to_list() if fcol else [None] * sl.height
        for k in range(sl.height):
            v = vals[k]
            raws.append({
                "ts_utc": _iso(ts[k]), "row": lo + k, "channel": f"{ch}-Avg",
                "value": None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v),
                "flag": flags[k], "frame_uid": fids[k], "in_hit": i0 <= lo + k <= i1,
            })  # fmt: skip
            if recs is not None:
                raws[-1]["record_id"] = recs[k]  # a stored input record (gate log, push) rather than a frame
            if fids[k] is not None:
                frames.setdefault(fids[k], {"frame_uid": fids[k]})
    if "frame_uid" in cols and {"mn", "cn"} <= cols:
        for row in sl.select("frame_uid", "mn", "cn").unique().iter_rows(named=True):
            if row["frame_uid"] in frames:
                frames[row["frame_uid"]] |= {"mn": row["mn"], "cn": row["cn"]}
    return raws, [frames[k] for k in sorted(frames, key=str)]


def plot_spec(hit: Hit, frame: pl.DataFrame | None, channels: list[str], context: int = 24) -> dict[str, Any]:
    """Deterministic chart spec (ECharts-like): x labels, one series per channel, the hit shaded."""
    if frame is None:
        return {"type": "line", "x": [], "series": [], "mark": [hit.i0, hit.i1]}
    lo, hi = max(0, hit.i0 - context), min(frame.height - 1, hit.i1 + context)
    sl = frame.slice(lo, hi - lo + 1)
    x = [_fmt_local(t) for t in sl["ts_utc"].to_list()] if "ts_utc" in sl.columns else list(range(lo, hi + 1))
    series = []
    for ch in channels:
        if ch in sl.columns and sl[ch].dtype.is_numeric():
            vals = [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
                    for v in sl[ch].to_list()]  # fmt: skip
            series.append({"name": CHANNEL_ZH.get(ch, ch), "channel": ch, "data": vals})
    mark = [hit.i0 - lo, hit.i1 - lo]
    return {"type": "line", "title": RULES[hit.rule_id].name_zh, "x": x, "series": series, "mark": mark}


def render_svg(spec: dict[str, Any], width: int = 640, height: int = 240) -> str:
    """A small standalone SVG of a plot spec (each series scaled to its own range; hit window shaded)."""
    n = max(1, len(spec.get("x", [])))
    pad = 24
    w, h = width - 2 * pad, height - 2 * pad
    colours = ["#c23531", "#2f4554", "#61a0a8", "#d48265", "#91c7ae"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="white"/>']  # fmt: skip
    a, b = spec.get("mark", [0, 0])
    sx = w / max(1, n - 1)
    parts.append(f'<rect x="{pad + a * sx:.1f}" y="{pad}" width="{max(1.0, (b - a) * sx):.1f}" height="{h}" '
                 'fill="#f6d365" fill-opacity="0.35"/>')  # fmt: skip
    for k, s in enumerate(spec.get("series", [])):
        vals = np.array([np.nan if v is None else v for v in s["data"]], dtype=float)
        if np.isnan(vals).all():
            continue
        lo, hi = np.nanmin(vals), np.nanmax(vals)
        span = hi - lo if hi > lo else 1.0
        pts = " ".join(f"{pad + i * sx:.1f},{pad + h - (v - lo) / span * h:.1f}"
                       for i, v in enumerate(vals) if not np.isnan(v))  # fmt: skip
        parts.append(f'<polyline fill="none" stroke="{colours[k % len(colours)]}" stroke-width="1.2" points="{pts}"/>')
        parts.append(f'<text x="{pad + 4}" y="{pad - 6 + 0 * k}" dx="{k * 120}" font-size="11" '
                     f'fill="{colours[k % len(colours)]}">{html.escape(str(s["name"]))}</text>')  # fmt: skip
    title = html.escape(str(spec.get("title", "")))
    parts.append(f'<text x="{width - pad}" y="{height - 6}" font-size="11" text-anchor="end">{title}</text></svg>')
    return "".join(parts)


def _channels_for(hit: Hit, frame: pl.DataFrame | None) -> list[str]:
    chans = [hit.channel] if hit.channel and frame is not None and hit.channel in frame.columns else []
    if frame is not None:
        for extra in ("a19001", "i33400", "p_kw", "TEY", "pushes", "allowed", "plate", "emission_stage"):
            if extra in frame.columns and extra not in chans:
                chans.append(extra)
    return chans


def draft_from_hit(
    hit: Hit,
    frame: pl.DataFrame | None = None,
    *,
    params: Params | None = None,
    context: int = 0,
    with_plot: bool = True,
    documents: list[dict[str, Any]] | None = None,
) -> FindingDraft:
    """Turn a hit into a clue draft with its evidence bundle (enforcement.md §5).

    ``frame`` is the subject's sorted frame (the same rows the rule saw); ``params`` (when given) copies the
    resolved parameters of the rule into the bundle.
    """
    rule = RULES[hit.rule_id]
    chans = _channels_for(hit, frame)
    raws, frames = raw_items(frame, hit.i0, hit.i1, chans, context=context) if frame is not None else ([], [])
    derived = []
    if hit.rule_id == "C01" and hit.metrics.get("o2_ref_pct") is not None:
        derived.append({"name": "C_ref", "formula": "C_ref = C_meas × (21 − O2_ref) / (21 − O2_meas)",
                        "o2_ref_pct": hit.metrics["o2_ref_pct"], "value": hit.metrics.get("max")})  # fmt: skip
    evidence: dict[str, Any] = {
        "rule_id": hit.rule_id,
        "rule_version": hit.rule_version,
        "param_version": hit.param_version,
        "param_sha256": hit.param_sha256,
        "params": {k: params[k] for k in rule.params} if params is not None else {},
        "subject": {"kind": hit.subject_kind, "id": hit.subject_id, "enterprise_id": hit.enterprise_id},
        "rows": [hit.i0, hit.i1],
        "window": [_iso(hit.start), _iso(hit.end)],
        "metrics": hit.metrics,
        "raw": raws,
        "frames": frames,
        "derived": derived,
        "documents": documents or [],
    }
    digest = bundle_sha256(evidence)
    plots = [plot_spec(hit, frame, chans)] if with_plot else []
    if plots:
        evidence["plots"] = plots
    name = CHANNEL_ZH.get(hit.channel or "", hit.channel or "")
    when = f"{_fmt_local(hit.start)}—{_fmt_local(hit.end)}" if hit.start else f"第{hit.i0}–{hit.i1}行"
    title = f"【{hit.rule_id} {rule.name_zh}】{hit.subject_id}{(' ' + name) if name else ''} {when}"
    dedupe = f"{hit.rule_id}:{hit.subject_id}:{hit.channel or ''}:{_iso(hit.start) or hit.i0}"
    return FindingDraft(
        kind="clue",
        severity=hit.severity,
        rule_id=hit.rule_id,
        rule_version=hit.rule_version,
        param_version=hit.param_version,
        param_sha256=hit.param_sha256,
        subject={"kind": hit.subject_kind, "id": hit.subject_id, "enterprise_id": hit.enterprise_id},
        title=title,
        window_start=hit.start,
        window_end=hit.end,
        metrics=hit.metrics,
        evidence=evidence,
        bundle_sha256=digest,
        dedupe_key=dedupe,
        legal_basis=LEGAL_BASIS.get(hit.rule_id, ""),
        plots=plots,
    )


# ------------------------------------------------------------------------------------------------ tuning
@dataclass(frozen=True)
class Dismissal:
    """An officer's verdict on a clue: FALSE_POSITIVE or EXCUSED, with a reason."""

    enterprise_id: str
    rule_id: str
    verdict: str
    reason: str
    decided_at: datetime


TUNABLE: dict[str, tuple[str, float, float]] = {
    "C07": ("flat.min_hours", 1.5, 24),
    "C08": ("linear.min_points", 1.5, 24),
    "C10": ("pinned.share", 1.1, 0.98),
    "C11": ("drop.ratio", 0.8, 0.3),
    "C13": ("resid.z", 1.25, 8.0),
    "C14": ("missing.night_hours", 1.5, 96),
    "C15": ("flags.mc_share", 1.5, 0.2),
    "C19": ("stale.min_records", 1.5, 12),
    "C20": ("flow.ratio", 0.8, 0.2),
    "E02": ("e02.min_minutes", 2.0, 120),
    "E03": ("e03.ratio", 0.8, 0.2),
    "E06": ("e06.ratio", 1.3, 5.0),
}
"""Rule → (parameter, factor per step, bound). Legal-threshold rules (C01, C02, C16, E01, E04, P01) are never tuned."""


def tune_from_dismissals(
    dismissals: list[Dismissal],
    params: Params,
    *,
    as_of: datetime,
    window_days: int = 180,
    per_step: int = 3,
    max_steps: int = 3,
) -> dict[str, dict[str, Any]]:
    """Per-enterprise parameter overrides from FALSE_POSITIVE verdicts (pure; enforcement.md §5 "verdicts feed
    re-tuning").

    Every ``per_step`` false positives of a tunable rule for one enterprise within ``window_days`` move its key
    parameter one step (×factor) towards fewer clues, at most ``max_steps`` steps and never past the bound.
    EXCUSED verdicts (a real event with a lawful excuse) do not tune. Returns ``{enterprise_id: {key: value}}``.
    """
    since = as_of - timedelta(days=window_days)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for d in dismissals:
        if d.verdict == "FALSE_POSITIVE" and since <= d.decided_at <= as_of and d.rule_id in TUNABLE:
            counts[(d.enterprise_id, d.rule_id)] += 1
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for (ent, rid), n in sorted(counts.items()):
        steps = min(max_steps, n // per_step)
        if steps == 0:
            continue
        key, factor, bound = TUNABLE[rid]
        v = params[key] * factor**steps
        v = min(v, bound) if factor > 1 else max(v, bound)
        if isinstance(params[key], int):
            v = math.ceil(v)
        out[ent][key] = v
    return dict(out)


# ---------------------------------------------------------------------------------------- compliance
@dataclass(frozen=True)
class ClueRecord:
    """What the compliance string needs of a stored clue."""

    enterprise_id: str
    severity: str
    status: str  # NEW … CONFIRMED | FALSE_POSITIVE | EXCUSED | CASE_FILED | CLOSED | SUPERSEDED
    window_start: datetime
    confirmed: bool = False


def _quarter(d: date) -> tuple[int, int]:
    return d.year, (d.month - 1) // 3 + 1


def periods(as_of: datetime, *, months: bool = False, n: int = 12) -> list[tuple[int, int]]:
    """The last ``n`` calendar quarters (or months), Beijing time, oldest first, ending with the current one.

    >>> periods(datetime(2026, 1, 15, tzinfo=UTC))[0], periods(datetime(2026, 1, 15, tzinfo=UTC))[-1]
    ((2023, 2), (2026, 1))
    """
    d = as_of.astimezone(BEIJING).date()
    y, k = (d.year, d.month) if months else _quarter(d)
    per_year = 12 if months else 4
    idx = y * per_year + (k - 1)
    return [((i // per_year), (i % per_year) + 1) for i in range(idx - n + 1, idx + 1)]


def period_of(ts: datetime, *, months: bool = False) -> tuple[int, int]:
    d = ts.astimezone(BEIJING).date()
    return (d.year, d.month) if months else _quarter(d)


def compliance_string(
    clues: list[ClueRecord],
    enterprise_id: str,
    *,
    as_of: datetime,
    coverage: dict[tuple[int, int], float] | None = None,
    months: bool = False,
    min_coverage: float = 0.75,
) -> str:
    """ECHO-style 12-character history (enforcement.md §5): per quarter (or month), oldest → newest,
    ``S`` confirmed S1 clue or case filed > ``V`` other confirmed clue > ``U`` insufficient data (coverage of
    required outlet-hours / meter-intervals < 75 %) > ``_`` none. A clue counts in the period of its
    ``window_start`` (Beijing time)."""
    per = periods(as_of, months=months)
    pos = {p: i for i, p in enumerate(per)}
    chars = ["_"] * len(per)
    rank = {"_": 0, "U": 1, "V": 2, "S": 3}
    cov = coverage or {}
    for p, i in pos.items():
        if p in cov and cov[p] < min_coverage:
            chars[i] = "U"
    for c in clues:
        if c.enterprise_id != enterprise_id:
            continue
        i = pos.get(period_of(c.window_start, months=months))
        if i is None:
            continue
        confirmed = c.confirmed or c.status in ("CONFIRMED", "CASE_FILED")
        if not confirmed:
            continue
        ch = "S" if (c.severity == "S1" or c.status == "CASE_FILED") else "V"
        if rank[ch] > rank[chars[i]]:
            chars[i] = ch
    return "".join(chars)


def echarts_option(spec: dict[str, Any]) -> dict[str, Any]:
    """An ECharts option for a plot spec: the rule's channel on the left axis, O2 / load / power on the right,
    the hit window shaded (``markArea``). Deterministic, JSON-ready (the console renders it offline)."""
    x = [str(v) for v in spec.get("x", [])]
    series_in = spec.get("series", [])
    a, b = (spec.get("mark") or [0, 0])[:2]
    out_series = []
    for k, s in enumerate(series_in):
        item: dict[str, Any] = {
            "name": s["name"],
            "type": "line",
            "data": s["data"],
            "showSymbol": False,
            "connectNulls": False,
            "yAxisIndex": 0 if k == 0 else 1,
        }
        if k == 0 and x:
            lo, hi = max(0, min(a, len(x) - 1)), max(0, min(b, len(x) - 1))
            item["markArea"] = {
                "itemStyle": {"color": "rgba(246, 211, 101, 0.35)"},
                "data": [[{"xAxis": x[lo]}, {"xAxis": x[hi]}]],
            }
        out_series.append(item)
    return {
        "title": {"text": spec.get("title", ""), "left": "center", "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [s["name"] for s in series_in], "bottom": 0},
        "grid": {"left": 50, "right": 50, "top": 40, "bottom": 60},
        "xAxis": {"type": "category", "data": x},
        "yAxis": [{"type": "value", "scale": True}, {"type": "value", "scale": True, "splitLine": {"show": False}}],
        "dataZoom": [{"type": "inside"}],
        "series": out_series,
    }
