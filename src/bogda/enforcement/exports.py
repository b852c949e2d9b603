"""Flat exports of clues and rule evaluations, CSV or JSON, each with its field dictionary (enforcement.md §5
"Exports: flat CSV/JSON with a field dictionary").

CSV is UTF-8 with a byte-order mark (Excel opens it with the Chinese text intact), one row per clue (or per rule,
subject and Beijing day), nested values (metrics, frame ids) as compact JSON text; the dictionary is written next
to it as ``<name>.fields.csv``. JSON is one document ``{"dataset", "exported_at", "fields": [...], "rows": [...]}``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select, true
from sqlalchemy.orm import aliased

from bogda.enforcement.inbox import list_clues
from bogda.enforcement.rules import RULES
from bogda.store import Store
from bogda.store.schema import clue, clue_eval, site
from bogda.timeutil import BEIJING, now_utc


@dataclass(frozen=True)
class FieldDoc:
    """One column of an export: name, type, meaning (zh, en)."""

    name: str
    type: str
    zh: str
    en: str


CLUE_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("finding_id", "integer", "问题编号（问题清单中的编号）", "finding id (problem list)"),
    FieldDoc("clue_id", "integer", "线索明细编号", "clue detail row id"),
    FieldDoc("rule_id", "text", "规则编号（C01…P03）", "rule id (C01 … P03)"),
    FieldDoc("rule_name", "text", "规则名称", "rule name (Chinese)"),
    FieldDoc("severity", "text", "级别：S1 证据级、S2 强线索、S3 数据质量/关注", "severity S1 / S2 / S3"),
    FieldDoc("status", "text", "线索状态（NEW、CASE_FILED、FALSE_POSITIVE 等）", "clue status"),
    FieldDoc("enterprise_code", "text", "企业编码", "enterprise code"),
    FieldDoc("enterprise_name", "text", "企业名称", "enterprise name"),
    FieldDoc("subject_code", "text", "排放口或电表编码", "outlet or meter code"),
    FieldDoc("channel", "text", "监测因子（HJ 212 编码）、炉组或 gate", "channel (HJ 212 code, battery, gate)"),
    FieldDoc("window_start_utc", "datetime", "线索时段开始（UTC，ISO 8601）", "window start, UTC"),
    FieldDoc("window_end_utc", "datetime", "线索时段结束（UTC，不含）", "window end, UTC, exclusive"),
    FieldDoc("window_start_local", "text", "线索时段开始（北京时间）", "window start, Beijing time"),
    FieldDoc("window_end_local", "text", "线索时段结束（北京时间）", "window end, Beijing time"),
    FieldDoc("max", "number", "时段内最大值（如折算浓度，mg/m³）", "maximum in the window (e.g. C_ref, mg/m³)"),
    FieldDoc("limit", "number", "限值", "limit"),
    FieldDoc("exceed_pct", "number", "超标百分比 (C−L)/L×100", "exceedance (C − L)/L × 100 [%]"),
    FieldDoc("n_hours", "number", "时段小时数", "hours in the window"),
    FieldDoc("metrics", "json", "全部指标（JSON）", "all metrics (JSON)"),
    FieldDoc("version", "integer", "线索版本（迟到数据生成新版本）", "clue version"),
    FieldDoc("bundle_sha256", "text", "证据包 SHA-256（可复算核验）", "evidence bundle SHA-256"),
    FieldDoc("rule_version", "text", "规则版本", "rule version"),
    FieldDoc("param_version", "text", "参数版本", "parameter version"),
    FieldDoc("param_sha256", "text", "参数集 SHA-256", "parameter set SHA-256"),
    FieldDoc("legal_basis", "text", "法律依据（配置）", "legal basis (configuration)"),
    FieldDoc("frame_ids", "json", "证据包引用的 HJ 212 原始报文编号（JSON 数组）", "raw HJ 212 frame ids (JSON)"),
    FieldDoc("detected_at", "datetime", "首次发现时间（UTC）", "first detected, UTC"),
)
EVAL_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("rule_id", "text", "规则编号", "rule id"),
    FieldDoc("rule_name", "text", "规则名称", "rule name (Chinese)"),
    FieldDoc("subject_code", "text", "排放口、电表或企业编码", "outlet, meter or enterprise code"),
    FieldDoc("day", "date", "自然日（北京时间）", "Beijing day"),
    FieldDoc("state", "text", "fired 触发 / clear 未触发 / not_evaluable 无法判定", "fired | clear | not_evaluable"),
    FieldDoc("reason", "text", "无法判定的原因（如 CONFIG_MISSING:limit:a21002）", "reason when not evaluable"),
    FieldDoc("run_id", "integer", "运行编号（job_run）", "run id (job_run)"),
)
DATASETS = {"clues": CLUE_FIELDS, "evaluations": EVAL_FIELDS}


def _local(ts: datetime | None) -> str:
    return "" if ts is None else ts.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def clue_rows(store: Store, *, limit: int = 100_000, **filters: Any) -> list[dict[str, Any]]:
    """Flat clue rows (fields of :data:`CLUE_FIELDS`); ``filters`` as :func:`.inbox.list_clues` (scopes too)."""
    rows, _ = list_clues(store, limit=limit, **filters)
    ids = [r["clue_id"] for r in rows]
    extra: dict[int, Any] = {}
    with store.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            for r in conn.execute(
                select(
                    clue.c.id,
                    clue.c.rule_version,
                    clue.c.param_version,
                    clue.c.param_sha256,
                    clue.c.legal_basis,
                    clue.c.evidence,
                ).where(clue.c.id.in_(ids[i : i + 500]))
            ):
                extra[r.id] = r
    out = []
    for r in rows:
        m = r["metrics"] or {}
        x = extra[r["clue_id"]]
        frames = sorted({f["frame_uid"] for f in (x.evidence or {}).get("frames", []) if f.get("frame_uid")})
        out.append(
            {
                "finding_id": r["finding_id"],
                "clue_id": r["clue_id"],
                "rule_id": r["rule_id"],
                "rule_name": RULES[r["rule_id"]].name_zh if r["rule_id"] in RULES else "",
                "severity": r["severity"],
                "status": r["status"],
                "enterprise_code": r["enterprise_code"],
                "enterprise_name": r["enterprise_name"],
                "subject_code": r["subject_code"],
                "channel": r["channel"],
                "window_start_utc": r["window_start"],
                "window_end_utc": r["window_end"],
                "window_start_local": _local(r["window_start"]),
                "window_end_local": _local(r["window_end"]),
                "max": m.get("max"),
                "limit": m.get("limit"),
                "exceed_pct": m.get("exceed_pct"),
                "n_hours": m.get("n_hours", m.get("duration_h")),
                "metrics": m,
                "version": r["version"],
                "bundle_sha256": r["bundle_sha256"],
                "rule_version": x.rule_version,
                "param_version": x.param_version,
                "param_sha256": x.param_sha256,
                "legal_basis": x.legal_basis,
                "frame_ids": frames,
                "detected_at": r["detected_at"],
            }
        )
    return out


def evaluation_rows(
    store: Store,
    *,
    start: date | None = None,
    end: date | None = None,
    rule_id: str | None = None,
    site_ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Flat ``clue_eval`` rows (fields of :data:`EVAL_FIELDS`) for Beijing days in ``[start, end]``."""
    s = aliased(site)
    conds = []
    if start is not None:
        conds.append(clue_eval.c.day >= start)
    if end is not None:
        conds.append(clue_eval.c.day <= end)
    if rule_id:
        conds.append(clue_eval.c.rule_id == rule_id)
    if site_ids is not None:
        conds.append(clue_eval.c.site_id.in_(list(site_ids)))
    q = (
        select(clue_eval, s.c.code)
        .join(s, s.c.id == clue_eval.c.site_id)
        .where(and_(true(), *conds))
        .order_by(clue_eval.c.day, clue_eval.c.rule_id, s.c.code)
    )
    with store.engine.connect() as conn:
        return [
            {
                "rule_id": r.rule_id,
                "rule_name": RULES[r.rule_id].name_zh if r.rule_id in RULES else "",
                "subject_code": r.code,
                "day": r.day,
                "state": r.state,
                "reason": r.reason,
                "run_id": r.run_id,
            }
            for r in conn.execute(q)
        ]


def _cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return "" if v is None else v


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def dictionary(dataset: str) -> list[dict[str, str]]:
    """The field dictionary of a dataset (``clues`` or ``evaluations``)."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset {dataset!r}; expected one of {sorted(DATASETS)}")
    return [f.__dict__ for f in DATASETS[dataset]]


def to_csv(rows: list[dict[str, Any]], dataset: str) -> tuple[bytes, bytes]:
    """(data CSV, dictionary CSV), both UTF-8 with BOM."""
    fields = DATASETS[dataset]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([f.name for f in fields])
    for r in rows:
        w.writerow([_cell(r.get(f.name)) for f in fields])
    dbuf = io.StringIO()
    dw = csv.writer(dbuf, lineterminator="\r\n")
    dw.writerow(["field", "type", "说明", "description"])
    for f in fields:
        dw.writerow([f.name, f.type, f.zh, f.en])
    return buf.getvalue().encode("utf-8-sig"), dbuf.getvalue().encode("utf-8-sig")


def to_json(rows: list[dict[str, Any]], dataset: str, *, now: datetime | None = None) -> bytes:
    """One JSON document with the dictionary and the rows."""
    doc = {
        "dataset": dataset,
        "exported_at": (now or now_utc()).isoformat(),
        "fields": dictionary(dataset),
        "rows": [{k: _json_value(v) for k, v in r.items()} for r in rows],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, default=str).encode("utf-8")


def write(rows: list[dict[str, Any]], dataset: str, path: str | Path, fmt: str = "csv") -> list[Path]:
    """Write ``rows`` to ``path`` (and the dictionary next to a CSV); returns the files written."""
    p = Path(path)
    if fmt == "json":
        p.write_bytes(to_json(rows, dataset))
        return [p]
    if fmt != "csv":
        raise ValueError(f"format {fmt!r}; expected csv or json")
    data, fields = to_csv(rows, dataset)
    p.write_bytes(data)
    d = p.with_name(p.stem + ".fields.csv")
    d.write_bytes(fields)
    return [p, d]
