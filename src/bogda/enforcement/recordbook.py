"""Enforcement input records in the store: CEMS data marks, coke-oven batteries and pushes, gate records
(enforcement.md §2 "Marks", §3.6, §4 C04 / C16 / P02 / P03).

Each kind has an importer of CSV / XLSX files (all-or-nothing, see :mod:`.tabular`: a file with one bad row loads
nothing and every fault is named ``file:line: column: reason``), a reader that hands the catalogue plain records,
and a listing for faces. Re-importing a file changes nothing (natural keys are unique; a mark's later version
updates it in place).

File columns (English name or Chinese alias; naive times are Beijing time)
--------------------------------------------------------------------------
marks       ``target`` (outlet or production-facility meter code; 排放口编码), ``mark_type`` (startup 启炉/开机,
            shutdown 停炉/停机, stopped 停运/停产, fault_accident 故障/事故, maintenance 维护/检修, calibration
            校准/标定, other 其他), ``start``, ``end`` (exclusive), optional ``entered_at`` (录入时间; unknown →
            the late-entry clause of C04 is not judged), ``entered_by``, ``reason``, ``status`` (accepted /
            pending / rejected / withdrawn; default accepted)
pushes      ``battery`` (炉组), ``oven`` (炭化室号), ``pushed_at`` (推焦时间); the battery must be registered
            (``bogda plans coke-battery``)
gate        ``passed_at`` (通过时间), ``plate`` (车牌号), ``vehicle_class`` (heavy 重型 / medium 中型 / light 轻型 /
            other), ``emission_stage`` (国0 … 国六, 0 … 6, I … VI), optional ``direction`` (in 进 / out 出;
            default in), ``fuel`` (diesel 柴油, gas 天然气, petrol 汽油, electric 纯电/新能源, hybrid 混动), ``gate``
A file for one enterprise is loaded with ``enterprise=<code>``; otherwise an ``enterprise`` column names it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, select

from bogda.enforcement import plans as P
from bogda.enforcement.cems import Mark
from bogda.enforcement.tabular import Field, RecordFileError, fault, read_records
from bogda.store import Store
from bogda.store.schema import cems_mark, coke_battery, coke_push, gate_record, site
from bogda.timeutil import now_utc

MARK_TYPES = ("startup", "shutdown", "stopped", "fault_accident", "maintenance", "calibration", "other")
MARK_STATUSES = ("accepted", "pending", "rejected", "withdrawn")
MARK_TYPE_NAMES: dict[str, str] = {
    **{t: t for t in MARK_TYPES},
    "fault": "fault_accident", "accident": "fault_accident",
    "启炉": "startup", "开炉": "startup", "开机": "startup", "启动": "startup", "点火": "startup",
    "停炉": "shutdown", "停机": "shutdown",
    "停运": "stopped", "停产": "stopped",
    "故障": "fault_accident", "事故": "fault_accident", "故障事故": "fault_accident",
    "维护": "maintenance", "检修": "maintenance", "维修": "maintenance",
    "校准": "calibration", "标定": "calibration", "校验": "calibration",
    "其他": "other",
}  # fmt: skip
"""Accepted spellings of the marking rules' types (MEE marking rules [std]; enforcement.md §2)."""
MARK_STATUS_NAMES = {**{s: s for s in MARK_STATUSES}, "已确认": "accepted", "待审核": "pending", "驳回": "rejected"}
VEHICLE_CLASSES = {
    "heavy": "heavy", "重型": "heavy", "重型货车": "heavy", "重型车": "heavy", "n3": "heavy",
    "medium": "medium", "中型": "medium", "中型货车": "medium", "n2": "medium",
    "light": "light", "轻型": "light", "轻型货车": "light", "小型": "light", "n1": "light",
    "other": "other", "其他": "other",
}  # fmt: skip
DIRECTIONS = {"in": "in", "进": "in", "入": "in", "进厂": "in", "入厂": "in",
              "out": "out", "出": "out", "出厂": "out"}  # fmt: skip
FUELS = {
    "diesel": "diesel", "柴油": "diesel", "gas": "gas", "天然气": "gas", "燃气": "gas", "lng": "gas", "cng": "gas",
    "petrol": "petrol", "汽油": "petrol", "electric": "electric", "纯电": "electric", "电动": "electric",
    "新能源": "electric", "氢能": "electric", "hybrid": "hybrid", "混动": "hybrid", "混合动力": "hybrid",
}  # fmt: skip
_ROMAN = {"0": "0", "零": "0", "1": "I", "一": "I", "i": "I", "Ⅰ": "I", "2": "II", "二": "II", "ii": "II",
          "Ⅱ": "II", "3": "III", "三": "III", "iii": "III", "Ⅲ": "III", "4": "IV", "四": "IV", "iv": "IV",
          "Ⅳ": "IV", "5": "V", "五": "V", "v": "V", "Ⅴ": "V", "6": "VI", "六": "VI", "vi": "VI", "Ⅵ": "VI"}  # fmt: skip


def emission_stage(text: str) -> str:
    """A China vehicle emission stage as ``0``, ``I`` … ``VI`` from 国四 / 国IV / 国Ⅳ / IV / 4 / China IV / 国六b.

    Raises
    ------
    ValueError
        naming the text that is not a stage.
    """
    s = str(text).strip()
    core = re.sub(r"^(国|china\s*|national\s*|stage\s*)", "", s, flags=re.IGNORECASE).strip()
    core = re.sub(r"[abAB]$", "", core).strip()  # 国六a / 国六b
    got = _ROMAN.get(core) or _ROMAN.get(core.lower())
    if got is None:
        raise ValueError(f"{s!r} is not an emission stage (国0 … 国六, 0 … 6, I … VI)")
    return got


def _enterprise_field(required: bool) -> Field:
    return Field("enterprise", required=required, aliases=("企业编码", "enterprise_code", "企业"))


def _enterprises(conn: Connection) -> dict[str, int]:
    return {c: i for c, i in conn.execute(select(site.c.code, site.c.id).where(site.c.kind == "enterprise"))}


@dataclass
class ImportResult:
    """What an import did."""

    path: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


# ------------------------------------------------------------------------------------------------ marks
MARK_FIELDS = (
    Field("target", aliases=("outlet", "facility", "排放口编码", "排口编码", "监测点编码", "设施编码")),
    Field("mark_type", "choice", aliases=("type", "标记类型", "类型"), choices=MARK_TYPE_NAMES),
    Field("start", "time", aliases=("开始时间", "start_time")),
    Field("end", "time", aliases=("结束时间", "end_time")),
    Field("entered_at", "time", required=False, aliases=("录入时间", "标记时间", "entered")),
    Field("entered_by", required=False, default="", aliases=("录入人", "标记人")),
    Field("reason", required=False, default="", aliases=("原因", "说明", "备注")),
    Field("status", "choice", required=False, default="accepted", aliases=("状态",), choices=MARK_STATUS_NAMES),
)


def import_marks(
    store: Store, path: str | Path, *, sheet: str | None = None, by: str | None = None, now: datetime | None = None
) -> ImportResult:
    """Load a marks file (see the module docstring); all rows or none. Upsert on (target, type, start)."""
    recs = read_records(path, MARK_FIELDS, sheet=sheet)
    now = now or now_utc()
    res = ImportResult(recs.path, len(recs.rows))
    with store.begin() as conn:
        targets = {
            code: (sid, parent)
            for code, sid, parent in conn.execute(
                select(site.c.code, site.c.id, site.c.parent_id).where(site.c.kind.in_(("outlet", "meter")))
            )
        }
        problems = []
        for r in recs.rows:
            if r["target"] not in targets:
                problems.append(fault(r["_source"], "target", f"{r['target']!r} is not an outlet or meter code"))
            elif targets[r["target"]][1] is None:
                problems.append(fault(r["_source"], "target", f"{r['target']!r} has no enterprise"))
            if r["end"] <= r["start"]:
                problems.append(fault(r["_source"], "end", "must be after start"))
        if problems:
            raise RecordFileError(recs.path, problems)
        for r in recs.rows:
            sid, ent = targets[r["target"]]
            values = {
                "enterprise_id": ent,
                "end": r["end"],
                "entered_at": r["entered_at"],
                "entered_by": r["entered_by"] or by,
                "reason": r["reason"] or "",
                "status": r["status"],
                "source": r["_source"][:200],
            }
            old = (
                conn.execute(
                    select(cems_mark).where(
                        cems_mark.c.target_site_id == sid,
                        cems_mark.c.mark_type == r["mark_type"],
                        cems_mark.c.start == r["start"],
                    )
                )
                .mappings()
                .first()
            )
            if old is None:
                conn.execute(
                    cems_mark.insert().values(
                        target_site_id=sid,
                        mark_type=r["mark_type"],
                        start=r["start"],
                        attachments=[],
                        created_at=now,
                        **values,
                    )
                )
                res.inserted += 1
            elif any(old[k] != v for k, v in values.items() if k != "source"):
                conn.execute(cems_mark.update().where(cems_mark.c.id == old["id"]).values(**values))
                res.updated += 1
            else:
                res.unchanged += 1
    return res


def add_mark(
    conn: Connection,
    *,
    target: str,
    mark_type: str,
    start: datetime,
    end: datetime,
    entered_at: datetime | None = None,
    entered_by: str | None = None,
    reason: str = "",
    status: str = "accepted",
    now: datetime | None = None,
) -> int:
    """Insert one mark (entered by hand or through the API); ``ValueError`` naming the field at fault."""
    if mark_type not in MARK_TYPES:
        raise ValueError(f"mark_type {mark_type!r}; expected one of {MARK_TYPES}")
    if status not in MARK_STATUSES:
        raise ValueError(f"status {status!r}; expected one of {MARK_STATUSES}")
    for name, ts in (("start", start), ("end", end), ("entered_at", entered_at)):
        if ts is not None and ts.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    if end <= start:
        raise ValueError("end must be after start")
    row = conn.execute(
        select(site.c.id, site.c.parent_id).where(site.c.code == target, site.c.kind.in_(("outlet", "meter")))
    ).first()
    if row is None or row.parent_id is None:
        raise ValueError(f"target {target!r} is not an outlet or meter of an enterprise")
    now = now or now_utc()
    return int(
        conn.execute(
            cems_mark.insert()
            .values(
                enterprise_id=row.parent_id,
                target_site_id=row.id,
                mark_type=mark_type,
                start=start,
                end=end,
                entered_at=entered_at or now,
                entered_by=entered_by,
                reason=reason,
                attachments=[],
                status=status,
                source="api",
                created_at=now,
            )
            .returning(cems_mark.c.id)
        ).scalar_one()
    )


def list_marks(
    store: Store,
    *,
    enterprise_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Marks with their target code, newest first (overlapping ``[start, end)`` when given)."""
    q = select(cems_mark, site.c.code.label("target")).join(site, site.c.id == cems_mark.c.target_site_id)
    if enterprise_id is not None:
        q = q.where(cems_mark.c.enterprise_id == enterprise_id)
    if start is not None:
        q = q.where(cems_mark.c.end > start)
    if end is not None:
        q = q.where(cems_mark.c.start < end)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(cems_mark.c.start.desc()).limit(limit)).mappings()]


def read_marks(store: Store, start: datetime, end: datetime, enterprises: dict[int, str]) -> list[Mark]:
    """Marks overlapping ``[start, end)`` of the enterprises ``{site id: code}`` as catalogue :class:`Mark` records
    (``target_id`` = the outlet or meter code; every status, the catalogue uses the accepted ones for exemption)."""
    if not enterprises:
        return []
    q = (
        select(cems_mark, site.c.code.label("target"))
        .join(site, site.c.id == cems_mark.c.target_site_id)
        .where(and_(cems_mark.c.end > start, cems_mark.c.start < end))
        .where(cems_mark.c.enterprise_id.in_(list(enterprises)))
        .order_by(cems_mark.c.start)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [
        Mark(
            mark_id=str(r["id"]),
            enterprise_id=enterprises[r["enterprise_id"]],
            target_id=r["target"],
            mark_type=r["mark_type"],
            start=r["start"],
            end=r["end"],
            entered_at=r["entered_at"],
            status=r["status"],
            reason=r["reason"] or "",
        )
        for r in rows
    ]


# ------------------------------------------------------------------------------------------- batteries
def set_battery(
    conn: Connection,
    enterprise: str,
    battery: str,
    *,
    ovens: int,
    chamber_height_m: float | None = None,
    coking_h: float | None = None,
    dedust_meter: str | None = None,
    pusher_meter: str | None = None,
    now: datetime | None = None,
) -> int:
    """Register or update a coke-oven battery of an enterprise; ``ValueError`` naming the field at fault.

    ``pusher_meter`` (a meter with minute data on the pusher machine) lets P02 count pushes from its power when no
    push records are imported."""
    ent = _enterprises(conn).get(enterprise)
    if ent is None:
        raise ValueError(f"enterprise {enterprise!r} is not in the registry")
    if not battery.strip():
        raise ValueError("battery must not be empty")
    if ovens <= 0:
        raise ValueError(f"ovens must be positive, got {ovens}")
    if coking_h is not None and not 0 < coking_h < 200:
        raise ValueError(f"coking_h {coking_h} is not a coking time in hours")
    if chamber_height_m is not None and not 0 < chamber_height_m < 15:
        raise ValueError(f"chamber_height_m {chamber_height_m} is not a chamber height in metres")
    for name, code in (("dedust_meter", dedust_meter), ("pusher_meter", pusher_meter)):
        if code is not None:
            m = conn.execute(select(site.c.id).where(site.c.kind == "meter", site.c.code == code)).scalar()
            if m is None:
                raise ValueError(f"{name} {code!r} is not a meter code")
    values = {
        "ovens": ovens,
        "chamber_height_m": chamber_height_m,
        "coking_h": coking_h,
        "dedust_meter": dedust_meter,
        "pusher_meter": pusher_meter,
        "updated_at": now or now_utc(),
    }
    old = conn.execute(
        select(coke_battery.c.id).where(coke_battery.c.enterprise_id == ent, coke_battery.c.battery == battery)
    ).scalar()
    if old is not None:
        conn.execute(coke_battery.update().where(coke_battery.c.id == old).values(**values))
        return int(old)
    return int(
        conn.execute(
            coke_battery.insert().values(enterprise_id=ent, battery=battery, **values).returning(coke_battery.c.id)
        ).scalar_one()
    )


def list_batteries(store: Store, enterprise_id: int | None = None) -> list[dict[str, Any]]:
    q = select(coke_battery, site.c.code.label("enterprise")).join(site, site.c.id == coke_battery.c.enterprise_id)
    if enterprise_id is not None:
        q = q.where(coke_battery.c.enterprise_id == enterprise_id)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(site.c.code, coke_battery.c.battery)).mappings()]


# ---------------------------------------------------------------------------------------------- pushes
PUSH_FIELDS = (
    Field("battery", aliases=("炉组", "焦炉", "焦炉号")),
    Field("oven", aliases=("炭化室号", "炉号", "炉孔号")),
    Field("pushed_at", "time", aliases=("推焦时间", "time", "时间")),
)


def _resolve_enterprise(
    rows: list[dict[str, Any]], enterprise: str | None, ents: dict[str, int], problems: list[str]
) -> None:
    for r in rows:
        code = enterprise or r.get("enterprise")
        if code not in ents:
            problems.append(fault(r["_source"], "enterprise", f"{code!r} is not an enterprise code"))
        r["_ent"] = ents.get(code or "")


def _insert_new(conn: Connection, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> int:
    """Insert the rows whose natural key is not stored yet (duplicates inside the file count once)."""
    by_ent: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_ent[r["enterprise_id"]].append(r)
    n = 0
    for ent, part in by_ent.items():
        times = [r[keys[-1]] for r in part]
        have = {
            tuple(x)
            for x in conn.execute(
                select(*(table.c[k] for k in keys)).where(
                    table.c.enterprise_id == ent, table.c[keys[-1]] >= min(times), table.c[keys[-1]] <= max(times)
                )
            )
        }
        new: dict[tuple, dict[str, Any]] = {}
        for r in part:
            key = tuple(r[k] for k in keys)
            if key not in have and key not in new:
                new[key] = r
        if new:
            rows_ = list(new.values())
            for i in range(0, len(rows_), 5000):
                conn.execute(table.insert(), rows_[i : i + 5000])
            n += len(new)
    return n


def import_pushes(
    store: Store, path: str | Path, *, enterprise: str | None = None, sheet: str | None = None
) -> ImportResult:
    """Load a push-schedule / DCS push log (see the module docstring); all rows or none."""
    recs = read_records(path, (*PUSH_FIELDS, _enterprise_field(enterprise is None)), sheet=sheet)
    res = ImportResult(recs.path, len(recs.rows))
    with store.begin() as conn:
        ents = _enterprises(conn)
        problems: list[str] = []
        _resolve_enterprise(recs.rows, enterprise, ents, problems)
        known = {(e, b) for e, b in conn.execute(select(coke_battery.c.enterprise_id, coke_battery.c.battery))}
        for r in recs.rows:
            if r["_ent"] is not None and (r["_ent"], r["battery"]) not in known:
                problems.append(
                    fault(r["_source"], "battery", f"{r['battery']!r} is not a registered battery of the enterprise")
                )
        if problems:
            raise RecordFileError(recs.path, problems)
        rows = [
            {
                "enterprise_id": r["_ent"],
                "battery": r["battery"],
                "oven": r["oven"],
                "pushed_at": r["pushed_at"],
                "source": r["_source"][:200],
            }
            for r in recs.rows
        ]
        res.inserted = _insert_new(conn, coke_push, rows, ("battery", "oven", "pushed_at"))
    res.unchanged = res.rows - res.inserted
    return res


def read_batteries(store: Store, start: datetime, end: datetime, enterprises: dict[int, str]) -> list[P.CokeBattery]:
    """The enterprises' batteries with their pushes in ``[start, end)`` (sorted)."""
    if not enterprises:
        return []
    with store.engine.connect() as conn:
        bats = (
            conn.execute(select(coke_battery).where(coke_battery.c.enterprise_id.in_(list(enterprises))))
            .mappings()
            .all()
        )
        pushes = conn.execute(
            select(
                coke_push.c.id, coke_push.c.enterprise_id, coke_push.c.battery, coke_push.c.oven, coke_push.c.pushed_at
            )
            .where(
                coke_push.c.enterprise_id.in_(list(enterprises)),
                coke_push.c.pushed_at >= start,
                coke_push.c.pushed_at < end,
            )
            .order_by(coke_push.c.pushed_at)
        ).all()
    by: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for p in pushes:
        by[(p.enterprise_id, p.battery)].append(p)
    out = []
    for b in bats:
        ps = by.get((b["enterprise_id"], b["battery"]), [])
        out.append(
            P.CokeBattery(
                enterprise_id=enterprises[b["enterprise_id"]],
                battery=b["battery"],
                ovens=int(b["ovens"]),
                chamber_height_m=b["chamber_height_m"],
                coking_h=b["coking_h"],
                dedust_meter=b["dedust_meter"],
                pusher_meter=b["pusher_meter"],
                push_ts=_np_times([p.pushed_at for p in ps]),
                push_ids=np.array([p.id for p in ps], dtype=np.int64),
                push_ovens=np.array([p.oven for p in ps], dtype=object),
            )
        )
    return out


def _np_times(values: list[datetime]) -> np.ndarray:
    from datetime import UTC

    return np.array(
        [np.datetime64(v.astimezone(UTC).replace(tzinfo=None), "us") for v in values], dtype="datetime64[us]"
    )


# ------------------------------------------------------------------------------------------------- gate
GATE_FIELDS = (
    Field("passed_at", "time", aliases=("time", "通过时间", "进厂时间", "时间", "entered_at")),
    Field("plate", aliases=("车牌号", "车牌", "plate_no")),
    Field("vehicle_class", "choice", aliases=("车辆类型", "车型"), choices=VEHICLE_CLASSES),
    Field("emission_stage", aliases=("排放阶段", "排放标准"), check=None),
    Field("direction", "choice", required=False, default="in", aliases=("方向", "进出"), choices=DIRECTIONS),
    Field("fuel", "choice", required=False, default="", aliases=("燃料类型", "燃料"), choices=FUELS),
    Field("gate", required=False, default="", aliases=("门岗", "道闸")),
)


def import_gate(
    store: Store, path: str | Path, *, enterprise: str | None = None, sheet: str | None = None
) -> ImportResult:
    """Load a gate log (see the module docstring); all rows or none."""
    recs = read_records(path, (*GATE_FIELDS, _enterprise_field(enterprise is None)), sheet=sheet)
    res = ImportResult(recs.path, len(recs.rows))
    problems: list[str] = []
    for r in recs.rows:
        try:
            r["emission_stage"] = emission_stage(r["emission_stage"])
        except ValueError as exc:
            problems.append(fault(r["_source"], recs.columns.get("emission_stage", "emission_stage"), str(exc)))
        plate = re.sub(r"\s+", "", str(r["plate"])).upper()
        if not 5 <= len(plate) <= 10:
            problems.append(fault(r["_source"], recs.columns.get("plate", "plate"), f"{r['plate']!r} is not a plate"))
        r["plate"] = plate
    with store.begin() as conn:
        _resolve_enterprise(recs.rows, enterprise, _enterprises(conn), problems)
        if problems:
            raise RecordFileError(recs.path, problems)
        rows = [
            {
                "enterprise_id": r["_ent"],
                "passed_at": r["passed_at"],
                "plate": r["plate"],
                "direction": r["direction"],
                "vehicle_class": r["vehicle_class"],
                "emission_stage": r["emission_stage"],
                "fuel": r["fuel"] or "",
                "gate": r["gate"] or "",
                "source": r["_source"][:200],
            }
            for r in recs.rows
        ]
        res.inserted = _insert_new(conn, gate_record, rows, ("plate", "direction", "passed_at"))
    res.unchanged = res.rows - res.inserted
    return res


def read_gate(store: Store, start: datetime, end: datetime, enterprises: dict[int, str]) -> list[P.GateLog]:
    """Gate logs of the enterprises in ``[start, end)``, one per enterprise with records."""
    if not enterprises:
        return []
    with store.engine.connect() as conn:
        rows = (
            conn.execute(
                select(gate_record)
                .where(
                    gate_record.c.enterprise_id.in_(list(enterprises)),
                    gate_record.c.passed_at >= start,
                    gate_record.c.passed_at < end,
                )
                .order_by(gate_record.c.enterprise_id, gate_record.c.passed_at, gate_record.c.id)
            )
            .mappings()
            .all()
        )
    by: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        by[r["enterprise_id"]].append(r)
    return [
        P.GateLog(
            enterprise_id=enterprises[ent],
            ts=_np_times([r["passed_at"] for r in rs]),
            plate=np.array([r["plate"] for r in rs], dtype=object),
            stage=np.array([r["emission_stage"] for r in rs], dtype=object),
            vehicle_class=np.array([r["vehicle_class"] for r in rs], dtype=object),
            fuel=np.array([r["fuel"] for r in rs], dtype=object),
            direction=np.array([r["direction"] for r in rs], dtype=object),
            record_ids=np.array([r["id"] for r in rs], dtype=np.int64),
        )
        for ent, rs in by.items()
    ]


def list_gate(store: Store, enterprise_id: int, *, limit: int = 200) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(gate_record)
                .where(gate_record.c.enterprise_id == enterprise_id)
                .order_by(gate_record.c.passed_at.desc())
                .limit(limit)
            ).mappings()
        ]
