"""A demo year (2025) of ledgers and air-quality days, simulated and marked so (``simulated = true``, names ending in
「（模拟）」), built so that the generated 2025 duty report reproduces the seed report's own figures from records:

* 25 inspection rectification tasks due in 2025, 24 of them cancelled (销号) on time, the last one accepted at the
  autonomous-region level and waiting to be cancelled;
* 181 petitions received in 2025, all closed; 103 petitions assigned by the inspection batch, 90 closed;
* 151 penalty cases decided in 2025, fines of 13.78 million yuan, 28 of them with remote data as decisive evidence
  (18.5 %), each linked to its (simulated) clue;
* 296 EIA reports approved; 523 emission permits decided.

Nothing here is a constant of the report: the seed figures are the number of records written, and the report
counts them back. The air-quality days (2024 and 2025, prefecture and its 7 counties, HJ 633-2012 daily AQI from
simulated daily concentrations) feed the monthly bulletin and the annual report's air section.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from bogda.ledger import LEDGERS
from bogda.ledger.base import normalise, write
from bogda.ledger.kpi import set_target
from bogda.store import Store
from bogda.store.schema import aqi_daily, clue, finding, site
from bogda.timeutil import BEIJING, day_start_utc, epoch_seconds

YEAR = 2025
COUNTIES: dict[str, str] = {
    "652301": "昌吉市",
    "652302": "阜康市",
    "652323": "呼图壁县",
    "652324": "玛纳斯县",
    "652325": "奇台县",
    "652327": "吉木萨尔县",
    "652328": "木垒哈萨克自治县",
}
PREFECTURE = "652300"
SEED = {
    "rect_due": 25,
    "rect_on_time": 24,
    "petitions_routine": 181,
    "petitions_batch_assigned": 103,
    "petitions_batch_closed": 90,
    "cases": 151,
    "fines_yuan": 13_780_000,
    "non_site": 28,
    "eia": 296,
    "permits": 523,
}
"""The seed report's figures the demo year is built to (record counts written, not report constants)."""
ACTOR = "demo"
INSPECTION_BATCH = "第三轮中央生态环境保护督察（模拟）"


@dataclass
class DemoYear:
    written: dict[str, int]


def _bj(d: date, hour: int = 10) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=BEIJING).astimezone(UTC)


def _day(rng: np.random.Generator, first: date, last: date) -> date:
    return first + timedelta(days=int(rng.integers(0, (last - first).days + 1)))


def _add(conn: Any, kind: str, raw: dict[str, Any]) -> int:
    lg = LEDGERS[kind]
    rec, problems = normalise(lg, {**raw, "simulated": True, "org_id": raw.get("org_id", "昌吉州生态环境局")})
    if problems:
        raise ValueError(f"demo {kind} record refused: {problems}")
    return write(conn, lg, rec, actor=ACTOR, event="imported", new=True)


def _counties(rng: np.random.Generator) -> str:
    return str(rng.choice(list(COUNTIES)))


def _rectification(conn: Any, rng: np.random.Generator) -> int:
    n = 0
    problems = (
        "工业园区挥发性有机物无组织排放问题突出",
        "部分燃煤锅炉超低排放改造滞后",
        "城区建筑工地扬尘管控不到位",
        "危险废物规范化管理存在短板",
        "部分乡镇污水处理设施运行不正常",
        "矿山生态修复进度滞后",
        "重点行业企业自动监测数据异常",
        "秸秆露天焚烧管控不严",
    )
    for i in range(SEED["rect_due"]):
        deadline = _day(rng, date(YEAR, 2, 1), date(YEAR, 11, 30))
        late = i == SEED["rect_due"] - 1
        accept = deadline - timedelta(days=int(rng.integers(5, 30))) if not late else deadline + timedelta(days=20)
        rec = {
            "batch": "第三轮中央生态环境保护督察反馈问题（模拟）",
            "task_no": f"DC3-{i + 1:03d}",
            "problem": f"{problems[i % len(problems)]}（模拟）",
            "target": "完成整改并通过验收销号",
            "measures": ["制定整改方案", "开展专项排查", "建立长效机制"],
            "lead_unit": "昌吉州生态环境局",
            "co_units": ["相关县市人民政府"],
            "responsible": "分管副局长",
            "deadline": deadline,
            "term": "短期" if i % 3 else "中期",
            "progress_pct": 100.0,
            "acceptance_level": "自治区" if late else str(rng.choice(["县", "州"])),
            "acceptance_date": accept,
            "cancel_date": None if late else accept + timedelta(days=int(rng.integers(0, 4))),
            "status": "已验收待销号" if late else "已销号",
            "county_code": _counties(rng),
        }
        _add(conn, "rectification", rec)
        n += 1
    for i in range(4):  # long-term tasks, due after the year: not counted as due
        _add(
            conn,
            "rectification",
            {
                "batch": "第三轮中央生态环境保护督察反馈问题（模拟）",
                "task_no": f"DC3-L{i + 1:02d}",
                "problem": "区域大气环境质量持续改善（长期坚持，模拟）",
                "deadline": date(YEAR + 2, 12, 31),
                "term": "长期",
                "progress_pct": 60.0,
                "status": "长期坚持",
                "county_code": _counties(rng),
            },
        )
        n += 1
    return n


def _petitions(conn: Any, rng: np.random.Generator) -> int:
    n = 0
    cats = ["涉气"] * 5 + ["噪声"] * 3 + ["涉水", "固废", "建设项目", "生态", "其他"]
    for i in range(SEED["petitions_routine"]):
        got = _day(rng, date(YEAR, 1, 2), date(YEAR, 11, 20))
        closed = got + timedelta(days=int(rng.integers(3, 40)))
        finding_ = str(rng.choice(["属实", "部分属实", "不属实"], p=[0.45, 0.25, 0.30]))
        _add(
            conn,
            "petition",
            {
                "petition_no": f"XF{YEAR}-{i + 1:04d}",
                "channel": str(rng.choice(["12369", "12345", "来信", "来访", "网络"])),
                "received_at": _bj(got, 9),
                "accepted": True,
                "accept_decided_at": _bj(got, 16),
                "category": str(rng.choice(cats)),
                "subject_name": f"某企业{i % 40 + 1}（模拟）",
                "location": f"{COUNTIES[_counties(rng)]}（模拟地址）",
                "assigned_at": _bj(got + timedelta(days=1), 10),
                "finding": finding_,
                "actions": ["现场调查", "责令整改"] if finding_ != "不属实" else ["现场调查"],
                "closed_at": _bj(closed, 17),
                "reply_at": _bj(closed, 18),
                "satisfaction": str(rng.choice(["满意", "基本满意", "不满意"], p=[0.7, 0.25, 0.05])),
                "county_code": _counties(rng),
            },
        )
        n += 1
    for i in range(SEED["petitions_batch_assigned"]):
        got = _day(rng, date(YEAR, 6, 10), date(YEAR, 7, 10))
        done = i < SEED["petitions_batch_closed"]
        closed = got + timedelta(days=int(rng.integers(10, 120)))
        _add(
            conn,
            "petition",
            {
                "petition_no": f"DCJB{YEAR}-{i + 1:04d}",
                "channel": "督察交办",
                "received_at": _bj(got, 9),
                "category": str(rng.choice(cats)),
                "subject_name": f"督察交办对象{i + 1}（模拟）",
                "assigned_at": _bj(got, 15),
                "finding": str(rng.choice(["属实", "部分属实", "不属实"])) if done else None,
                "closed_at": _bj(min(closed, date(YEAR, 12, 20)), 17) if done else None,
                "inspection_batch": INSPECTION_BATCH,
                "status": "已办结" if done else "办理中",
                "county_code": _counties(rng),
            },
        )
        n += 1
    return n


def _clue(conn: Any, i: int, when: datetime, ent: int | None) -> int:
    key = f"demo-ledger-clue-{i}"
    fid = conn.execute(
        finding.insert()
        .values(
            kind="clue",
            severity="S2",
            detected_at=when,
            first_seen=when,
            last_seen=when,
            subject_site_id=ent,
            title=f"在线监测数据异常线索（模拟）#{i}",
            evidence={"simulated": True},
            dedupe_key=key,
            status="acknowledged",
            updated_at=when,
        )
        .returning(finding.c.id)
    ).scalar_one()
    sha = hashlib.sha256(key.encode()).hexdigest()
    return int(
        conn.execute(
            clue.insert()
            .values(
                finding_id=fid,
                dedupe_key=key,
                rule_id="C01" if i % 2 else "P01",
                rule_version="1",
                param_version="demo",
                param_sha256=sha,
                params={},
                severity="S2",
                enterprise_id=ent,
                meter_ids=[],
                metrics={},
                status="CASE_FILED",
                evidence={"simulated": True},
                bundle_sha256=sha,
                feedback=[],
                created_at=when,
                updated_at=when,
            )
            .returning(clue.c.id)
        ).scalar_one()
    )


def _split(rng: np.random.Generator, total: int, n: int, step: int = 1000) -> list[int]:
    """``n`` positive amounts (multiples of ``step``) summing exactly to ``total``."""
    w = rng.gamma(1.5, 1.0, n)
    units = np.maximum(1, np.floor(w / w.sum() * (total // step))).astype(int)
    units[int(np.argmax(units))] += total // step - int(units.sum())
    return [int(u) * step for u in units]


def _cases(conn: Any, rng: np.random.Generator) -> int:
    ents = [r.code for r in conn.execute(select(site.c.code).where(site.c.kind == "enterprise").order_by(site.c.id))]
    ent_ids = dict(conn.execute(select(site.c.code, site.c.id).where(site.c.kind == "enterprise")).all())
    fines = _split(rng, SEED["fines_yuan"], SEED["cases"])
    violations = ("超标排放", "未批先建", "未按证排污", "逃避监管排放", "危废管理不规范", "扬尘污染防治不到位")
    n = 0
    for i in range(SEED["cases"]):
        reg = _day(rng, date(YEAR - 1, 12, 1), date(YEAR, 10, 31))
        dec = min(reg + timedelta(days=int(rng.integers(20, 85))), date(YEAR, 12, 25))
        if dec < date(YEAR, 1, 1):
            dec = date(YEAR, 1, 1) + timedelta(days=int(rng.integers(0, 30)))
        non_site = i < SEED["non_site"]
        ent = ents[i % len(ents)] if ents and i % 3 == 0 else None
        rec: dict[str, Any] = {
            "case_no": f"昌环罚〔{YEAR}〕{i + 1}号（模拟）",
            "party": f"{'某' if ent is None else ''}违法单位{i + 1}（模拟）",
            "enterprise_code": ent,
            "violation_type": str(rng.choice(violations)),
            "legal_basis": "《中华人民共和国大气污染防治法》",
            "clue_source": str(rng.choice(["在线监测", "用电监控"]))
            if non_site
            else str(rng.choice(["现场", "双随机", "信访", "督察", "移送"])),
            "non_site_evidence": non_site,
            "registered_at": _bj(reg, 11),
            "decided_at": _bj(dec, 15),
            "decision": "处罚",
            "fine_yuan": float(fines[i]),
            "five_types": ["按日连续处罚"] if i % 37 == 5 else [],
            "county_code": _counties(rng),
        }
        if non_site:
            rec["clue_ids"] = [str(_clue(conn, i, _bj(reg - timedelta(days=3), 8), ent_ids.get(ent)))]
        _add(conn, "case", rec)
        n += 1
    for i in range(5):  # registered late in the year, not decided yet; and two without a penalty
        reg = date(YEAR, 12, 1) + timedelta(days=i * 4)
        _add(
            conn,
            "case",
            {
                "case_no": f"昌环立〔{YEAR}〕{i + 1}号（模拟）",
                "party": f"待决定单位{i + 1}（模拟）",
                "clue_source": "现场",
                "registered_at": _bj(reg, 11),
                "decision": "不予处罚" if i < 2 else None,
                "decided_at": _bj(reg + timedelta(days=10), 11) if i < 2 else None,
                "county_code": _counties(rng),
            },
        )
        n += 1
    return n


PERMITTED_T: dict[str, dict[str, float]] = {
    "power": {"SO2": 1400.0, "NOx": 2000.0, "颗粒物": 280.0},
    "coal_chemical": {"SO2": 900.0, "NOx": 1200.0, "颗粒物": 300.0, "VOCs": 600.0},
    "coking": {"SO2": 300.0, "NOx": 900.0, "颗粒物": 250.0, "VOCs": 400.0},
    "cement": {"SO2": 150.0, "NOx": 800.0, "颗粒物": 200.0},
    "boiler": {"SO2": 120.0, "NOx": 250.0, "颗粒物": 40.0},
}
"""Simulated permitted tonnage [t/a] of the demo enterprises by sector (a 2×660 MW ultra-low-emission unit, a coal
chemical plant, a coke plant, a 5000 t/d clinker line, a heating station): their permits are the emergency lists'
baselines (permitted t/a ÷ 365, forecast.md §3.10)."""


def _permitted_t(cls: str, own: Any, rng: np.random.Generator) -> dict[str, float]:
    if cls != "重点":
        return {}
    so2 = round(float(rng.uniform(0.5, 80)), 2)  # drawn for every key-class permit, so the random stream is unchanged
    return dict(PERMITTED_T[own.sector]) if own is not None else {"SO2": so2}


def _permits(conn: Any, rng: np.random.Generator) -> int:
    from bogda.store.schema import enterprise

    # the first decided key-class permits are the demo enterprises' own (the random stream stays the same)
    ents = conn.execute(
        select(site.c.name, enterprise.c.sector, enterprise.c.credit_code)
        .join(enterprise, enterprise.c.site_id == site.c.id)
        .order_by(site.c.id)
    ).all()
    ents = [e for e in ents if e.sector in PERMITTED_T][::-1]
    n = 0
    for i in range(SEED["permits"] + 12):
        cls = str(rng.choice(["重点", "简化", "登记"], p=[0.25, 0.45, 0.30]))
        acc = _day(rng, date(YEAR - 1, 12, 1), date(YEAR, 12, 10))
        check = cls == "重点" and bool(rng.random() < 0.3)
        lim = 45 if check else 30 if cls == "重点" else 20
        days = int(rng.integers(3, lim + 1)) if rng.random() > 0.02 else lim + 3
        dec = acc + timedelta(days=days)
        decided = i < SEED["permits"]
        if decided and not (date(YEAR, 1, 1) <= dec <= date(YEAR, 12, 31)):
            acc = date(YEAR, 6, 1) + timedelta(days=i % 150)
            dec = acc + timedelta(days=days)
        own = ents.pop() if cls == "重点" and decided and ents else None
        _add(
            conn,
            "permit",
            {
                "permit_no": f"91652300PX{i:06d}001（模拟）",
                "unit": own.name if own else f"排污单位{i + 1}（模拟）",
                "uscc": own.credit_code if own else None,
                "management_class": cls,
                "apply_type": str(rng.choice(["首次", "延续", "变更", "重新申请"], p=[0.35, 0.4, 0.2, 0.05])),
                "accepted_at": acc if decided else date(YEAR, 12, 20),
                "site_check": check,
                "decided_at": dec if decided else None,
                "valid_from": dec if decided else None,
                "valid_to": dec + timedelta(days=5 * 365) if decided else None,
                "permitted_t": _permitted_t(cls, own, rng),
                "county_code": _counties(rng),
            },
        )
        n += 1
    return n


def _eia(conn: Any, rng: np.random.Generator) -> list[tuple[str, str, str]]:
    out = []
    for i in range(SEED["eia"] + 8):
        doc = "报告书" if rng.random() < 0.15 else "报告表"
        lim = 60 if doc == "报告书" else 30
        acc = _day(rng, date(YEAR, 1, 5), date(YEAR, 11, 15))
        excl = int(rng.integers(5, 25)) if doc == "报告书" else int(rng.integers(0, 8))
        dec = acc + timedelta(days=excl + int(rng.integers(5, lim + 1)))
        if dec.year > YEAR:  # decided within the year
            acc -= dec - date(YEAR, 12, 31)
            dec = date(YEAR, 12, 31)
        approved = i < SEED["eia"]
        county = _counties(rng)
        no = f"昌环评审〔{YEAR}〕{i + 1}号（模拟）"
        _add(
            conn,
            "eia",
            {
                "approval_no": no,
                "project": f"建设项目{i + 1}（模拟）",
                "doc_type": doc,
                "approval_level": "州" if doc == "报告书" or rng.random() < 0.4 else "县",
                "accepted_at": acc,
                "excluded_days": excl,
                "decided_at": dec if approved else None,
                "decision": "批准" if approved else None,
                "county_code": county,
            },
        )
        out.append((no, f"建设项目{i + 1}（模拟）", county))
    return out


def _quota(conn: Any, rng: np.random.Generator, projects: list[tuple[str, str, str]]) -> int:
    n = 0
    for j, county in enumerate(COUNTIES):
        for pol in ("SO2", "NOx", "PM", "VOCs"):
            for k in range(2):
                _add(
                    conn,
                    "quota_credit",
                    {
                        "credit_no": f"ZL-{county}-{pol}-{k + 1}",
                        "pollutant": pol,
                        "amount": round(float(rng.uniform(40, 160)), 2),
                        "type": "工程减排" if k == 0 else "结构减排",
                        "enterprise": f"减排单位{j + 1}-{k + 1}（模拟）",
                        "verified_at": date(YEAR, 3, 1) if k == 0 else date(YEAR, 9, 1),
                        "doc_no": f"昌环总量〔{YEAR}〕{j * 10 + k + 1}号",
                        "county_code": county,
                    },
                )
                n += 1
    for i, (no, project, county) in enumerate(projects[:40]):
        pol = ("SO2", "NOx", "PM", "VOCs")[i % 4]
        emission = round(float(rng.uniform(1, 12)), 2)
        ratio = 2.0 if pol == "PM" else 1.0
        _add(
            conn,
            "quota_allocation",
            {
                "allocation_no": f"FP{YEAR}-{i + 1:03d}",
                "pollutant": pol,
                "project": project,
                "eia_approval_no": no,
                "project_emission": emission,
                "ratio": ratio,
                "sources": [f"ZL-{county}-{pol}-1:{emission * ratio:.2f}"],
                "allocated_at": date(YEAR, 4, 1) + timedelta(days=i * 5),
                "county_code": county,
            },
        )
        n += 1
    return n


def _grades(conn: Any, rng: np.random.Generator) -> int:
    from bogda.store.schema import enterprise

    n = 0
    rows = conn.execute(
        select(site.c.code, enterprise.c.grade, enterprise.c.sector, enterprise.c.credit_code).join(
            enterprise, enterprise.c.site_id == site.c.id
        )
    ).all()
    for i, r in enumerate(rows):
        first = r.grade or "C"
        _add(
            conn,
            "grade",
            {
                "grading_no": f"JX{YEAR - 1}-{i + 1:03d}",
                "enterprise_code": r.code,
                "uscc": r.credit_code,
                "industry": r.sector,
                "grade": "C" if first in ("A", "B") else first,
                "graded_at": date(YEAR - 1, 10, 15),
                "valid_until": date(YEAR, 10, 14),
            },
        )
        _add(
            conn,
            "grade",
            {
                "grading_no": f"JX{YEAR}-{i + 1:03d}",
                "enterprise_code": r.code,
                "uscc": r.credit_code,
                "industry": r.sector,
                "grade": first,
                "graded_at": date(YEAR, 10, 15),
                "valid_until": date(YEAR + 1, 10, 14),
                "staggered_production": r.sector in ("cement", "coking"),
                "checks": [{"date": f"{YEAR}-01-{10 + k}", "compliant": bool(rng.random() > 0.08)} for k in range(3)],
            },
        )
        n += 2
    return n


def _small_ledgers(conn: Any, rng: np.random.Generator) -> int:
    n = 0
    for i in range(12):
        gen = round(float(rng.uniform(50, 900)), 1)
        s0 = round(float(rng.uniform(0, 30)), 1)
        s1 = round(float(rng.uniform(0, 30)), 1)
        avail = gen + s0 - s1
        util = round(avail * 0.3, 1)
        disp = round(avail * 0.2, 1)
        tr = round(avail - util - disp, 1)
        _add(
            conn,
            "hw_unit",
            {
                "unit": f"危废产生单位{i + 1}（模拟）",
                "year": YEAR,
                "hw_codes": ["HW08", "HW49"] if i % 2 else ["HW11"],
                "generated_t": gen,
                "stock_start_t": s0,
                "stock_end_t": s1,
                "self_utilised_t": util,
                "self_disposed_t": disp,
                "transferred_t": tr,
                "transferred_licensed_t": tr if i != 7 else round(tr * 0.9, 1),
                "manifest_ids": [f"LD{YEAR}{i:04d}"],
                "county_code": _counties(rng),
            },
        )
        n += 1
    for i in range(9):
        ver = round(float(rng.uniform(2e5, 4e6)))
        ok = i != 4
        _add(
            conn,
            "carbon",
            {
                "entity": f"发电企业{i + 1}（模拟）",
                "year": YEAR - 1,
                "verified_emissions_t": ver,
                "allocated": round(ver * float(rng.uniform(0.9, 1.05))),
                "surrendered": ver if ok else round(ver * 0.8),
                "offsets": 0,
                "deadline": date(YEAR, 12, 31),
                "surrendered_at": date(YEAR, 12, 10),
                "county_code": _counties(rng),
            },
        )
        n += 1
    for i in range(330):
        done = i < 312
        _add(
            conn,
            "vehicle",
            {
                "plate_no": f"新B{i:05d}（模拟）",
                "vehicle_type": str(rng.choice(["重型柴油货车", "中型柴油货车", "轻型柴油货车", "柴油客车"])),
                "emission_stage": str(rng.choice(["国三", "国四"], p=[0.6, 0.4])),
                "eliminated_at": _day(rng, date(YEAR, 2, 1), date(YEAR, 12, 20)) if done else None,
                "method": "报废" if done else None,
                "county_code": _counties(rng),
            },
        )
        n += 1
    return n


# --- air quality days ----------------------------------------------------------------------------------------


def daily_air_rows(first: date, last: date, *, seed: int = 2025) -> list[dict[str, Any]]:
    """Simulated daily concentrations and HJ 633-2012 daily AQI of the prefecture and its counties.

    Winter-heavy particulate matter (Xinjiang's heating season), a county factor, and 2025 a little cleaner than
    2024. Values as published (GB/T 8170 integers; CO 1 dp).
    """
    from bogda.standards.aqi import aqi_daily as aqi_of

    rng = np.random.default_rng(seed)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    doy = np.array([d.timetuple().tm_yday for d in days], dtype=float)
    winter = 0.5 + 0.5 * np.cos(2 * np.pi * (doy - 15) / 365.25)  # 1 in mid-January, 0 in July
    year_factor = np.array([1.0 if d.year < YEAR else 0.93 for d in days])
    county_factor = {c: f for c, f in zip(COUNTIES, (1.12, 1.18, 0.95, 0.92, 0.85, 0.9, 0.72), strict=True)}
    rows: list[dict[str, Any]] = []
    per_county: dict[str, dict[str, np.ndarray]] = {}
    for code, f in county_factor.items():
        noise = rng.lognormal(0, 0.35, len(days))
        pm25 = (18 + 85 * winter**2) * f * year_factor * noise
        conc = {
            "PM2.5": pm25,
            "PM10": pm25 * rng.uniform(1.5, 2.1, len(days)) + 25 * (1 - winter) * rng.lognormal(0, 0.4, len(days)),
            "SO2": (6 + 14 * winter) * f * rng.lognormal(0, 0.25, len(days)),
            "NO2": (20 + 28 * winter) * f * rng.lognormal(0, 0.25, len(days)),
            "CO": (0.5 + 1.6 * winter) * f * rng.lognormal(0, 0.2, len(days)),
            "O3_8h": (55 + 85 * (1 - winter)) * rng.lognormal(0, 0.18, len(days)) / max(f, 0.8),
        }
        per_county[code] = conc
    pref = {k: np.mean([per_county[c][k] for c in COUNTIES], axis=0) for k in per_county["652301"]}
    for kind, code, conc in [("prefecture", PREFECTURE, pref)] + [("county", c, per_county[c]) for c in COUNTIES]:
        pub = {k: (np.round(v, 1) if k == "CO" else np.round(v)) for k, v in conc.items()}
        pub["O3_1h"] = np.round(pub["O3_8h"] * 1.15)
        res = aqi_of(pub, "2012")
        iq = res.iaqi
        for i, d in enumerate(days):
            rows.append(
                {
                    "target_kind": kind,
                    "target_code": code,
                    "ts": epoch_seconds(day_start_utc(d)),
                    "standard": "2012",
                    "aqi": int(res.aqi[i]),
                    "level": int(res.level[i]),
                    "primary_pollutant": res.primary[i],
                    "iaqi_so2": int(iq["SO2"][i]),
                    "iaqi_no2": int(iq["NO2"][i]),
                    "iaqi_co": int(iq["CO"][i]),
                    "iaqi_o3_8h": int(iq["O3_8h"][i]),
                    "iaqi_pm10": int(iq["PM10"][i]),
                    "iaqi_pm25": int(iq["PM2.5"][i]),
                    "c_so2": float(pub["SO2"][i]),
                    "c_no2": float(pub["NO2"][i]),
                    "c_co": float(pub["CO"][i]),
                    "c_o3": float(pub["O3_1h"][i]),
                    "c_o3_8h": float(pub["O3_8h"][i]),
                    "c_pm10": float(pub["PM10"][i]),
                    "c_pm25": float(pub["PM2.5"][i]),
                    "n_members": 1,
                    "status": "complete",
                    "inputs_hash": "demo-simulated",
                }
            )
    return rows


def load_air_days(store: Store, first: date = date(YEAR - 1, 1, 1), last: date = date(YEAR, 12, 31)) -> int:
    """Replace the prefecture's and counties' daily AQI rows of ``first..last`` with the simulated ones."""
    rows = daily_air_rows(first, last)
    codes = [PREFECTURE, *COUNTIES]
    lo, hi = epoch_seconds(day_start_utc(first)), epoch_seconds(day_start_utc(last + timedelta(days=1)))
    with store.begin() as conn:
        conn.execute(
            delete(aqi_daily).where(aqi_daily.c.target_code.in_(codes), aqi_daily.c.ts >= lo, aqi_daily.c.ts < hi)
        )
        for k in range(0, len(rows), 2000):
            conn.execute(aqi_daily.insert(), rows[k : k + 2000])
    return len(rows)


def build_ledger_year(store: Store, *, seed: int = 2025, air: bool = True) -> DemoYear:
    """Fill the ledgers (and, with ``air``, the daily AQI of 2024–2025) with the demo year. Run once per store."""
    rng = np.random.default_rng(seed)
    written: dict[str, int] = {}
    with store.begin() as conn:
        written["rectification"] = _rectification(conn, rng)
        written["petition"] = _petitions(conn, rng)
        written["case"] = _cases(conn, rng)
        written["permit"] = _permits(conn, rng)
        projects = _eia(conn, rng)
        written["eia"] = len(projects)
        written["quota"] = _quota(conn, rng, projects)
        written["grade"] = _grades(conn, rng)
        written["other"] = _small_ledgers(conn, rng)
    set_target(store, "vehicle", YEAR, "eliminate", 300, doc="昌吉州老旧车辆淘汰年度任务（模拟）")
    if air:
        written["aqi_daily"] = load_air_days(store)
    return DemoYear(written)
