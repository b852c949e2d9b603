"""One valid record per ledger (raw values as a form or an Excel cell would give them)."""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, list[dict[str, Any]]] = {
    "rectification": [
        {
            "batch": "第三轮督察",
            "task_no": "T-1",
            "problem": "扬尘管控不到位",
            "deadline": "2025-06-30",
            "term": "短期",
            "acceptance_level": "州",
            "acceptance_date": "2025-06-10",
            "cancel_date": "2025-06-12",
            "status": "已销号",
            "measures": "排查;整改",
            "county_code": "652301",
        },
        {
            "batch": "第三轮督察",
            "task_no": "T-2",
            "problem": "锅炉改造滞后",
            "deadline": "2025/9/30",
            "term": "中期",
            "status": "推进中",
            "progress_pct": "50",
        },
    ],
    "petition": [
        {
            "petition_no": "XF-1",
            "channel": "12369",
            "received_at": "2025-03-01 09:00",
            "category": "涉气",
            "finding": "属实",
            "closed_at": "2025-03-20 17:00",
            "satisfaction": "满意",
        },
        {
            "petition_no": "XF-2",
            "channel": "来信",
            "received_at": "2025-04-01 09:00",
            "category": "噪声",
            "inspection_batch": "督察批次一",
            "assigned_at": "2025-04-01 10:00",
        },
    ],
    "case": [
        {
            "case_no": "CASE-1",
            "party": "某公司",
            "clue_source": "现场",
            "registered_at": "2025-02-01 10:00",
            "decided_at": "2025-03-01 10:00",
            "decision": "处罚",
            "fine_yuan": "120000",
            "five_types": "查封扣押",
        },
    ],
    "permit": [
        {
            "permit_no": "P-1",
            "unit": "某公司",
            "management_class": "重点",
            "apply_type": "首次",
            "accepted_at": "2025-01-02",
            "decided_at": "2025-01-20",
            "permitted_t": '{"SO2": 12.5}',
        },
    ],
    "eia": [
        {
            "approval_no": "EIA-1",
            "project": "某项目",
            "doc_type": "报告书",
            "approval_level": "州",
            "accepted_at": "2025-01-02",
            "excluded_days": "10",
            "decided_at": "2025-02-20",
            "decision": "批准",
        },
    ],
    "quota_credit": [
        {
            "credit_no": "C-1",
            "pollutant": "SO2",
            "amount": "10",
            "type": "工程减排",
            "verified_at": "2025-01-05",
            "county_code": "652301",
        },
    ],
    "quota_allocation": [
        {
            "allocation_no": "A-1",
            "pollutant": "SO2",
            "project": "某项目",
            "project_emission": "2",
            "ratio": "2",
            "sources": "C-1:4",
            "allocated_at": "2025-02-01",
            "county_code": "652301",
        },
    ],
    "grade": [
        {
            "grading_no": "G-1",
            "enterprise_code": "E-1",
            "industry": "cement",
            "grade": "B",
            "graded_at": "2025-10-01",
            "valid_until": "2026-09-30",
            "checks": '[{"date": "2025-01-10", "compliant": true}]',
        },
    ],
    "hw_unit": [
        {
            "unit": "某危废单位",
            "year": "2025",
            "generated_t": "100",
            "self_utilised_t": "30",
            "self_disposed_t": "20",
            "transferred_t": "50",
            "transferred_licensed_t": "50",
            "hw_codes": "HW08;HW49",
        },
    ],
    "carbon": [
        {
            "entity": "某电厂",
            "year": "2024",
            "verified_emissions_t": "1000000",
            "allocated": "980000",
            "surrendered": "1000000",
            "deadline": "2025-12-31",
            "surrendered_at": "2025-12-01",
        },
    ],
    "vehicle": [
        {
            "plate_no": "新B00001",
            "vehicle_type": "重型柴油货车",
            "emission_stage": "国三",
            "eliminated_at": "2025-05-01",
            "method": "报废",
        },
    ],
}


def prerequisites(store, kind: str) -> None:
    """Records a sample needs (credits for an allocation, an enterprise for a grade)."""
    from bogda.ledger import LEDGERS, add

    if kind == "quota_allocation":
        for raw in SAMPLES["quota_credit"]:
            add(store, LEDGERS["quota_credit"], raw, actor="test")
    if kind == "grade":
        from bogda.registry.sites import SiteInput, add_enterprise, with_check_digit

        with store.begin() as conn:
            add_enterprise(
                conn,
                SiteInput("enterprise", "E-1", "测试企业", 87.3, 44.0),
                credit_code=with_check_digit("91652300MA7000AB1"),
                sector="cement",
                grade="C",
            )
