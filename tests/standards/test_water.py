"""GB 3838-2002 surface-water classes (package table checked against the shared transcription)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from bogda.standards import water as W

ITEMS = [k for k, v in W.surface_items().items() if v.table == "1" and v.comparison == "<="]


def test_package_table_equals_shared_transcription(shared_data: Path) -> None:
    with (shared_data / "standards" / "gb3838_2002_table1_limits.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["comparison"] != "<=":
                continue
            it = W.surface_items()[r["item"]]
            assert it.limits == tuple(float(r[f"class_{c}"]) for c in ("I", "II", "III", "IV", "V"))
            assert it.counts_for_class == (r["in_2011_class_evaluation"] == "yes")


@pytest.mark.parametrize("item", ITEMS)
def test_every_limit_edge(item: str) -> None:
    lims = W.surface_items()[item].limits  # equal limits resolve to the better class: lims.index
    key = "TP" if item.startswith("TP_") else item
    wb = "lake" if item == "TP_lake" else "river"
    above = [math.nextafter(x, math.inf) for x in lims]
    got = W.item_class(key, list(lims) + above, wb).tolist()
    expected = [lims.index(x) + 1 for x in lims] + [
        next((j + 1 for j, y in enumerate(lims) if x <= y), 6) for x in above
    ]
    assert got == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(7.5, 1), (7.49, 2), (6.0, 2), (5.0, 3), (3.0, 4), (2.0, 5), (1.99, 6), (np.nan, 0)]
)
def test_dissolved_oxygen(value: float, expected: int) -> None:
    assert W.item_class("DO", [value]).tolist() == [expected]


@pytest.mark.parametrize(("value", "expected"), [(5.99, 6), (6.0, 1), (9.0, 1), (9.01, 6)])
def test_ph(value: float, expected: int) -> None:
    assert W.item_class("pH", [value]).tolist() == [expected]


def test_section_excludes_tn_and_fecal_coliform_and_uses_lake_tp() -> None:
    vals = {"DO": [8.0], "NH3_N": [0.1], "TP": [0.04], "TN": [3.0], "fecal_coliform": [90000.0]}
    river = W.section_class(vals, "river")
    lake = W.section_class(vals, "lake")
    assert river.water_class.tolist() == [2]  # TP 0.04 river → Ⅱ; TN, coliform do not count
    assert lake.water_class.tolist() == [3]  # TP 0.04 lake → Ⅲ
    assert river.item_classes["TN"].tolist() == [6] and river.item_classes["fecal_coliform"].tolist() == [6]


def test_main_pollutants_order_and_limit() -> None:
    vals = {"CODMn": [12.0], "NH3_N": [1.9], "TP": [0.5], "COD": [35.0], "DO": [2.5]}
    r = W.section_class(vals)
    assert r.labels.tolist() == ["劣Ⅴ"]
    # TP 0.5 (劣Ⅴ) first; then Ⅴ items by multiple: CODMn (12−6)/6 = 1.0, NH3_N 0.9, COD 0.75, DO none
    assert r.main_pollutants.tolist() == ["TP,CODMn,NH3_N"]
    assert W.section_class({"NH3_N": [0.9]}).main_pollutants.tolist() == [None]


def test_drinking_source_and_table2() -> None:
    assert W.drinking_source_compliant({"NH3_N": [1.0, 1.01], "sulfate": [250.0, 100.0]}).tolist() == [True, False]
    assert W.drinking_source_compliant({"sulfate": [250.1]}).tolist() == [False]
    assert W.section_class({"DO": [8.0], "sulfate": [900.0]}).water_class.tolist() == [1]


@pytest.mark.parametrize(
    ("classes", "status"),
    [
        ([1, 2, 3, 3, 3, 3, 3, 3, 3, 3], "优"),
        ([3, 3, 3, 4, 4], "轻度污染"),  # 60 % < 75 %, 劣Ⅴ 0 %
        ([3, 3, 3, 3, 4], "良好"),  # 80 %
        ([3, 3, 4, 5, 6], "中度污染"),  # 40 % good, 20 % 劣Ⅴ
        ([3, 6, 6, 4, 5], "重度污染"),  # 40 % 劣Ⅴ
    ],
)
def test_basin_status(classes: list[int], status: str) -> None:
    assert W.basin_status(classes)[0] == status


def test_trophic_index_formula_and_missing_item() -> None:
    chla, tp = 20.0, 0.1
    t_chla = 10 * (2.5 + 1.086 * math.log(chla))
    t_tp = 10 * (9.436 + 1.624 * math.log(tp))
    expected = (0.2663 * t_chla + 0.1879 * t_tp) / (0.2663 + 0.1879)
    assert W.trophic_index({"chla": [chla], "TP": [tp]})[0] == pytest.approx(expected)
    assert W.trophic_state([expected]).tolist() == [
        "轻度富营养" if 50 < expected <= 60 else W.trophic_state([expected])[0]
    ]


@pytest.mark.parametrize(
    ("item", "value", "expected"),
    [
        ("nitrate_N", 2.0, 1),
        ("nitrate_N", 30.0, 4),
        ("nitrate_N", 30.1, 5),
        ("total_hardness", 450, 3),
        ("TDS", 2000, 4),
        ("TDS", 2001, 5),
        ("pH", 8.5, 1),
        ("pH", 8.6, 4),
        ("pH", 5.4, 5),
    ],
)
def test_groundwater_defaults(item: str, value: float, expected: int) -> None:
    assert W.groundwater_class(item, [value]).tolist() == [expected]
