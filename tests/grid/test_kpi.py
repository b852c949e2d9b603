from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest

from bogda.grid.kpi import KPI_NAMES, Ratio, TaskFacts, compute, county_score, round_display, to_excel

T = datetime(2025, 3, 10, tzinfo=UTC)
START, END = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("num", "den", "dp", "mode", "expected"),
    [
        (24, 25, 1, "half_up", "96.0 %"),  # governance §3.6 examples
        (90, 103, 1, "half_up", "87.4 %"),
        (28, 151, 1, "half_up", "18.5 %"),
        (1, 8, 1, "half_up", "12.5 %"),
        (1, 3, 2, "half_up", "33.33 %"),
        (2, 3, 1, "half_up", "66.7 %"),
        (2, 3, 1, "truncate", "66.6 %"),
        (1, 0, 1, "half_up", "NA"),
    ],
)
def test_display(num: int, den: int, dp: int, mode: str, expected: str) -> None:
    assert Ratio("x", Decimal(num), den, dp, True).display(mode) == expected


def test_half_even_vs_half_up() -> None:
    assert str(round_display(Decimal("12.25"), 1, "half_even")) == "12.2"
    assert str(round_display(Decimal("12.25"), 1, "half_up")) == "12.3"
    with pytest.raises(ValueError, match="rounding"):
        round_display(Decimal(1), 1, "banker")


def _f(i: int, **kw: object) -> TaskFacts:
    base = {"created_at": T, "source": "station_alarm", "state": "CLOSED"}
    base.update(kw)
    return TaskFacts(i, **base)  # type: ignore[arg-type]


def test_on_time_denominator_is_due_not_closed() -> None:
    """按期办结率 = closed ≤ due / due in period (not / closed)."""
    facts = [
        _f(1, close_due=T, closed_at=T - timedelta(hours=1)),
        _f(2, close_due=T, closed_at=T + timedelta(hours=1)),
        _f(3, close_due=T, state="HANDLING"),
        _f(4, close_due=END + timedelta(days=1), closed_at=T),  # due outside the period: not counted
        _f(5, close_due=T, state="CANCELLED"),  # cancelled: excluded
    ]
    k = compute(facts, START, END)
    assert (int(k["closure"].numerator), k["closure"].denominator) == (2, 3)
    assert (int(k["closure_on_time"].numerator), k["closure_on_time"].denominator) == (1, 3)
    assert k["closure_on_time"].ids == (1, 2, 3)


def test_confirmation_excludes_cancelled() -> None:
    facts = [
        _f(1, verdict="confirmed", verdict_at=T),
        _f(2, verdict="not_confirmed", verdict_at=T),
        _f(3, verdict="confirmed", verdict_at=T, state="CANCELLED"),
    ]
    assert compute(facts, START, END)["confirmed"].display() == "50.0 %"


def test_county_score() -> None:
    k = {
        "closure_on_time": Ratio("closure_on_time", Decimal(9), 10, 2, True),
        "confirmed": Ratio("confirmed", Decimal(8), 10, 1, True),
        "repeat": Ratio("repeat", Decimal(1), 10, 1, True),
        "sign_timely": Ratio("sign_timely", Decimal(10), 10, 1, True),
        "patrol_frequency": Ratio("patrol_frequency", Decimal(1), 2, 1, True),
    }
    # 40·0.9 + 20·0.8 + 20·0.9 + 10·1 + 10·0.5 − 1 (yellow) = 84.0
    assert county_score(k, ["yellow", "none"]) == (Decimal("84.0"), "良好", [])
    k["patrol_frequency"] = Ratio("patrol_frequency", Decimal(0), 0, 1, True)
    assert county_score(k, [])[2] == ["patrol_frequency"]


def test_excel_export() -> None:
    from openpyxl import load_workbook

    k = compute([_f(1, close_due=T, closed_at=T)], START, END)
    data = to_excel([{"place": "一县", "kpis": k, "overdue": []}], title="2025年3月")
    ws = load_workbook(BytesIO(data)).active
    assert ws["A1"].value == "2025年3月"
    assert ws.cell(2, 2).value == "签收及时率"
    head = [c.value for c in ws[2]]
    row = {h: c.value for h, c in zip(head, ws[3], strict=True)}
    assert row["区域"] == "一县" and row["办结率"] == "100.00 %" and row["办结率 分母"] == 1
    assert len(head) == 1 + 3 * len(KPI_NAMES) + 1
