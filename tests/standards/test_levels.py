"""AQI levels, names, official colours and the health-advice table (HJ 633 Table 1/2; standards.md §1.4.1)."""

from __future__ import annotations

import pytest

from bogda.standards import levels as A
from bogda.standards._data import table


@pytest.mark.parametrize(
    ("aqi", "level", "zh", "en", "hex_"),
    [
        (0, 1, "优", "Excellent", "#00E400"),
        (50, 1, "优", "Excellent", "#00E400"),
        (51, 2, "良", "Good", "#FFFF00"),
        (100, 2, "良", "Good", "#FFFF00"),
        (101, 3, "轻度污染", "Lightly polluted", "#FF7E00"),
        (150, 3, "轻度污染", "Lightly polluted", "#FF7E00"),
        (151, 4, "中度污染", "Moderately polluted", "#FF0000"),
        (200, 4, "中度污染", "Moderately polluted", "#FF0000"),
        (201, 5, "重度污染", "Heavily polluted", "#99004C"),
        (300, 5, "重度污染", "Heavily polluted", "#99004C"),
        (301, 6, "严重污染", "Severely polluted", "#7E0023"),
        (500, 6, "严重污染", "Severely polluted", "#7E0023"),
    ],
)
def test_category(aqi: int, level: int, zh: str, en: str, hex_: str) -> None:
    lv = A.category([aqi])
    assert lv.tolist() == [level]
    assert A.category_labels(lv, "name_zh")[0] == zh
    assert A.category_labels(lv, "name_en")[0] == en
    assert A.category_labels(lv, "hex")[0] == hex_
    c = A.categories()[level - 1]
    assert "#{:02X}{:02X}{:02X}".format(*c.rgb) == hex_


def test_health_advice_table_spec_1_4_1() -> None:
    rows = table("aqi_health_advice")
    keys = [(r["standard"], r["level"]) for r in rows]
    assert sorted(keys) == sorted((s, str(lv)) for s in ("2012", "2026") for lv in range(1, 7))
    for r in rows:
        assert all(r[k].strip() for k in ("effect_zh", "effect_en", "advice_zh", "advice_en"))
    for lv in range(1, 7):
        old, new = A.health_advice(lv, "2012"), A.health_advice(lv, "2026")
        for k in ("effect_zh", "advice_zh"):
            assert new[k] == old[k].replace("儿童", "青少年儿童").replace("心脏病", "心血管系统疾病")
