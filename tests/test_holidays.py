"""The platform's one holiday table (bogda.holidays), read by the forecast and by the grid."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from bogda.forecast.calendar import LUNAR_NEW_YEAR, day_features
from bogda.grid.workdays import WorkCalendar
from bogda.holidays import HolidayTableError, read_holidays


def _rows() -> list[dict[str, str]]:
    text = resources.files("bogda").joinpath("data/holidays_cn.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(ln for ln in text.splitlines() if not ln.startswith("#")))


def test_every_year_2013_2026_with_its_notice() -> None:
    rows = _rows()
    assert all(r["name"] and r["source"] for r in rows)
    by_year: dict[int, set[str]] = {}
    for r in rows:
        if r["kind"] == "holiday":
            by_year.setdefault(date.fromisoformat(r["date"]).year, set()).add(r["name"])
    assert sorted(by_year) == list(range(2013, 2027))
    for year, names in by_year.items():
        assert any("春节" in n for n in names) and any("国庆" in n for n in names), year


def test_breaks_hold_their_festival_and_working_weekends_are_weekends() -> None:
    table = read_holidays()
    for lny in LUNAR_NEW_YEAR:
        if 2013 <= lny.year <= 2026:
            assert table.get(lny) == "holiday", lny  # 正月初一 lies inside the Spring Festival break
    for d, kind in table.items():
        if kind == "adjusted_workday":
            assert d.weekday() >= 5, d
    # 2024 端午: 10 June (Monday) joined to the weekend; 2020: the Spring Festival break extended to 2 February
    assert all(table.get(date(2024, 6, 8) + timedelta(days=i)) == "holiday" for i in range(3))
    assert table.get(date(2020, 2, 2)) == "holiday" and table.get(date(2020, 2, 3)) is None


def test_forecast_and_grid_read_the_same_table() -> None:
    cal = WorkCalendar.default()
    days = [date(2022, 10, 8), date(2022, 10, 10), date(2024, 2, 4), date(2024, 2, 12), date(2021, 9, 18)]
    feats = day_features(np.array([d.isoformat() for d in days], dtype="datetime64[D]"))
    for d, off in zip(days, feats["offday"].tolist(), strict=True):
        assert cal.is_workday(d) is (off == 0.0), d
    assert [cal.is_workday(d) for d in days] == [True, True, True, False, True]
    assert cal.warnings(date(2020, 1, 1), date(2024, 12, 31)) == []


def test_bad_table_names_file_and_row(tmp_path: Path) -> None:
    bad = tmp_path / "h.csv"
    bad.write_text("# comment\ndate,kind,name,source\n2025-01-01,holiday,元旦,x\n2025-02-30,holiday,春节,x\n")
    with pytest.raises(HolidayTableError, match=r"h\.csv: row 3: date '2025-02-30'"):
        read_holidays(bad)
    bad.write_text("date,kind\n2025-01-01,off\n")
    with pytest.raises(HolidayTableError, match="kind 'off'"):
        read_holidays(bad)
