from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from bogda.enforcement import clues
from bogda.enforcement.clues import ClueRecord, Dismissal
from bogda.enforcement.rules import Hit, make_hit


def _frame(n=30):
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    return pl.DataFrame({
        "ts_utc": [t0 + timedelta(hours=i) for i in range(n)],
        "a21002": [60.38 if 10 <= i < 20 else 50.0 + i for i in range(n)],
        "a21002_flag": ["N"] * n, "i33400": [70.0 + i for i in range(n)],
        "frame_uid": [f"f{i:03d}" for i in range(n)],
    })  # fmt: skip


def _hit(params, frame):
    ts = frame["ts_utc"].dt.replace_time_zone(None).to_numpy()
    return make_hit("C07", params, subject_id="O1", enterprise_id="E1", i0=10, i1=19, channel="a21002", ts=ts,
                    severity="S2", metrics={"value": 60.38, "n": 10})  # fmt: skip


def test_draft_carries_evidence(params):
    frame = _frame()
    draft = clues.draft_from_hit(_hit(params, frame), frame, params=params)
    assert draft.kind == "clue" and draft.severity == "S2" and draft.rule_id == "C07"
    assert draft.title.startswith("【C07 数据恒值】O1 氮氧化物 2025-03-01 18:00")
    ev = draft.evidence
    assert ev["param_version"] == params.version and ev["params"]["flat.min_hours"] == 6
    in_hit = [r for r in ev["raw"] if r["in_hit"] and r["channel"] == "a21002-Avg"]
    assert [r["value"] for r in in_hit] == ["60.38"] * 10
    uids = {f["frame_uid"] for f in ev["frames"]}
    assert all(r["frame_uid"] in uids for r in ev["raw"])  # every raw item resolves to a frame
    assert draft.plots and draft.plots[0]["mark"] == [10, 19]


def test_bundle_hash_recomputes_and_ignores_plots(params):
    frame = _frame()
    draft = clues.draft_from_hit(_hit(params, frame), frame, params=params)
    assert clues.bundle_sha256(draft.evidence) == draft.bundle_sha256
    again = clues.draft_from_hit(_hit(params, frame), frame, params=params, with_plot=False)
    assert again.bundle_sha256 == draft.bundle_sha256
    ev = json.loads(json.dumps(draft.evidence, default=str))
    ev["raw"][0]["value"] = "0"
    assert clues.bundle_sha256(ev) != draft.bundle_sha256


def test_svg_render(params):
    frame = _frame()
    draft = clues.draft_from_hit(_hit(params, frame), frame, params=params)
    svg = clues.render_svg(draft.plots[0])
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "polyline" in svg and "数据恒值" in svg


def test_tuning_from_dismissals(params):
    now = datetime(2025, 6, 1, tzinfo=UTC)
    ds = [Dismissal("E1", "C07", "FALSE_POSITIVE", "load on cap", now - timedelta(days=i)) for i in range(7)]
    ds += [Dismissal("E2", "C01", "FALSE_POSITIVE", "x", now)] * 9  # legal threshold: never tuned
    ds += [Dismissal("E3", "C07", "EXCUSED", "maintenance", now)] * 9  # excused: real event, no tuning
    ds += [Dismissal("E4", "C07", "FALSE_POSITIVE", "old", now - timedelta(days=400))] * 9
    out = clues.tune_from_dismissals(ds, params, as_of=now)
    assert out == {"E1": {"flat.min_hours": 14}}  # 7 // 3 = 2 steps: 6 × 1.5² = 13.5 → 14
    tuned = params.with_overrides(out["E1"])
    assert tuned["flat.min_hours"] == 14 and tuned.sha256 != params.sha256


BJ_Q1_END = datetime(2025, 3, 31, 15, 30, tzinfo=UTC)  # 2025-03-31 23:30 Beijing


def test_compliance_string_quarters():
    as_of = datetime(2026, 1, 15, tzinfo=UTC)
    per = clues.periods(as_of)
    assert per[0] == (2023, 2) and per[-1] == (2026, 1) and len(per) == 12
    recs = [ClueRecord("E1", "S1", "CONFIRMED", BJ_Q1_END),
            ClueRecord("E1", "S2", "CONFIRMED", datetime(2024, 8, 1, tzinfo=UTC)),
            ClueRecord("E1", "S2", "NEW", datetime(2024, 1, 5, tzinfo=UTC)),
            ClueRecord("E2", "S1", "CONFIRMED", datetime(2024, 1, 5, tzinfo=UTC))]  # fmt: skip
    s = clues.compliance_string(recs, "E1", as_of=as_of, coverage={(2025, 3): 0.70})
    assert len(s) == 12
    assert s[per.index((2025, 1))] == "S"  # 23:30 Beijing on 31 March is still Q1
    assert s[per.index((2024, 3))] == "V"
    assert s[per.index((2025, 3))] == "U"
    assert s[per.index((2024, 1))] == "_"  # unconfirmed clue does not count
    assert s == "_____V_S_U__"


def test_compliance_string_months_and_precedence():
    as_of = datetime(2026, 1, 15, tzinfo=UTC)
    per = clues.periods(as_of, months=True)
    assert per[0] == (2025, 2) and per[-1] == (2026, 1)
    recs = [ClueRecord("E1", "S2", "CASE_FILED", datetime(2025, 5, 3, tzinfo=UTC)),
            ClueRecord("E1", "S2", "CONFIRMED", datetime(2025, 5, 4, tzinfo=UTC))]  # fmt: skip
    s = clues.compliance_string(recs, "E1", as_of=as_of, months=True, coverage={(2025, 5): 0.1})
    assert s[per.index((2025, 5))] == "S"  # S > V > U


@pytest.mark.parametrize("rule", ["C01", "E04", "P01"])
def test_legal_basis_present_for_evidence_rules(rule):
    assert clues.LEGAL_BASIS[rule]


def test_draft_without_frame(params):
    h = Hit("E06", "S3", "meter", "m1", 0, 95, metrics={"days_over": 3})
    d = clues.draft_from_hit(h)
    assert d.evidence["raw"] == [] and d.title.startswith("【E06 夜间用电异常偏高】m1")
