"""The duty report's "days avoided" (forecast.md §1: shown only with an interval and a passed placebo test; §3.9):
the figure with its 90 % interval when validated, else the verdict sentence, nothing without an evaluation, and the
evaluation traced in the 「数据来源」 appendix like every other figure."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from bogda.forecast import avoided as av
from bogda.reports.duty_report import avoided_sentence, build
from bogda.store import Store


def record(
    verdict: str,
    *,
    window: tuple[date, date] = (date(2025, 1, 1), date(2025, 12, 31)),
    avoided: float = 6.0,
    ci90: tuple[float, float] = (2.0, 11.0),
    placebo_ok: bool = True,
    event: str = av.EVENT_HEAVY,
    label: str = "州 2025 应急减排",
) -> av.InterventionResult:
    placebo: dict[str, Any] = {
        "placebo_time_20230101": {"passed": True, "avoided": 1.0, "ci90": [-4.0, 6.0]},
        "placebo_time_20240101": {"passed": placebo_ok, "avoided": 1.0 if placebo_ok else 8.0, "ci90": [-3.0, 9.0]},
        "calibration_20240101": {"passed": True, "bss": 0.7},
        "placebo_space": {"passed": None, "not_run": True},
    }
    return av.InterventionResult(
        label=label,
        targets=("652300",),
        controls=("C1", "C2"),
        pollutant="AQI",
        event=event,
        window_start=window[0],
        window_end=window[1],
        n_obs=14,
        cf_expected=20.0,
        avoided_median=avoided,
        ci90=ci90,
        mde_days=(ci90[1] - ci90[0]) / 2,
        mde_pct=9.5,
        placebo=placebo,
        injection={"passed": True},
        params={},
        verdict=verdict,
    )


def _text(store: Store) -> tuple[str, Any]:
    r = build(store, 2025)
    return r.document.plain_text(), r


def _paragraph(text: str) -> str:
    m = re.search(r"四是评估应急减排成效。[^\n]*", text)
    return m.group(0) if m else ""


@pytest.fixture
def store(report_store: Store) -> Store:
    return report_store


def test_no_evaluation_prints_nothing(store: Store) -> None:
    # an evaluation of another year does not count for 2025
    av.store_result(store, record("effect_detected", window=(date(2024, 1, 1), date(2024, 12, 31))))
    text, r = _text(store)
    assert _paragraph(text) == "" and "减排措施避免" not in text
    assert r.figures["avoided.evaluated"].value == 0 and "avoided.result" not in r.figures
    assert not any("avoided" in w for w in r.sources.warnings)


def test_validated_effect_with_interval_and_its_source(store: Store) -> None:
    av.store_result(store, record("effect_detected", event=av.EVENT_OZONE, label="臭氧"))  # heavy-day evaluations win
    i = av.store_result(store, record("effect_detected"))
    text, r = _text(store)
    para = re.sub(r"\[\d+\]", "", _paragraph(text))
    assert "2025年减排措施避免重污染天（AQI>200）6天（90%区间2～11天）。" in para
    fig = r.figures["avoided.result"]
    assert fig.refs == (f"intervention_eval:{i}",) and f"第{i}号评估" in fig.query and "时间安慰剂检验通过" in fig.query
    # the appendix lists the evaluation as the record behind the figure
    assert fig in r.sources.figures
    appendix = text[text.index("附件：数据来源") :]
    assert f"intervention_eval:{i}" in appendix and "减排措施避免的重污染天数" in appendix


def test_failed_placebo_prints_the_verdict_not_the_figure(store: Store) -> None:
    i = av.store_result(store, record("method_failed_validation", placebo_ok=False, avoided=9.0, ci90=(4.0, 15.0)))
    text, r = _text(store)
    para = re.sub(r"\[\d+\]", "", _paragraph(text))
    assert "2025年减排措施的评估未通过安慰剂等检验，不给出避免天数。" in para
    assert "9天" not in para and "区间" not in para
    assert "时间安慰剂检验未通过" in r.figures["avoided.result"].query
    assert f"intervention_eval:{i}" in text[text.index("附件：数据来源") :]


def test_no_detectable_effect_gives_the_mde() -> None:
    row = record("no_detectable_effect", ci90=(-3.0, 8.0), avoided=2.0).row(created_at=None)  # type: ignore[arg-type]
    assert avoided_sentence(row) == "未检出减少重污染天（AQI>200）的效果（最小可检测效应±5.5天）"
    # an effect verdict stored without its interval is not printed as a number
    row = record("effect_detected").row(created_at=None)  # type: ignore[arg-type]
    row["ci90"] = None
    assert "天（90%" not in avoided_sentence(row)
    row = record("effect_detected", event="daily>150").row(created_at=None)  # type: ignore[arg-type]
    assert avoided_sentence(row) == "避免日均浓度超过150的天数6天（90%区间2～11天）"
