"""Water samples: GB 3838-2002 class per sample and per section, ½ DL, rejections, drinking-source compliance."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from bogda.monitoring.water import load_water_samples, read_water_samples, sample_classes, water_overview
from bogda.store import Store
from bogda.store.schema import site

CSV = """section_code,sampled_at,item,value,unit,below_dl,dl
WS01,2026-05-01T08:00:00+08:00,w01001,7.5,,,
WS01,2026-05-01T08:00:00+08:00,w01009,6.5,mg/L,,
WS01,2026-05-01T08:00:00+08:00,w01019,7.0,mg/L,,
WS01,2026-05-01T08:00:00+08:00,w21003,1.6,mg/L,,
WS01,2026-05-01T08:00:00+08:00,w21011,0.12,mg/L,,
WS01,2026-05-01T08:00:00+08:00,w21001,5.0,mg/L,,
WS01,2026-05-01T08:00:00+08:00,w20111,,µg/L,1,0.04
WS01,2026-05-15T08:00:00+08:00,w21003,0.4,mg/L,,
WS01,2026-05-15T08:00:00+08:00,w01019,3.0,mg/L,,
WS01,2026-05-01T08:00:00+08:00,w99999,1,mg/L,,
WS01,2026-05-01T08:00:00+08:00,w01001,15,,,
WS01,2026-05-01T08:00:00+08:00,w21003,-1,mg/L,,
"""


def test_read_rejects_with_reasons_and_halves_the_detection_limit() -> None:
    r = read_water_samples(CSV.encode(), name="s.csv")
    assert [x.reason for x in r.rejected] == ["unknown item 'w99999'", "pH outside 0–14", "negative value"]
    assert [x.line for x in r.rejected] == [11, 12, 13]
    hg = r.frame.filter(pl.col("parameter") == "Hg").row(0, named=True)
    assert hg["value"] == pytest.approx(0.00002) and hg["source_flag"] == "BDL"  # ½ × 0.04 µg/L in mg/L


def test_sample_class_single_factor() -> None:
    r = read_water_samples(CSV.encode(), name="s.csv")
    first = sample_classes(r.frame).sort("ts").row(0, named=True)
    # NH3-N 1.6 → Ⅴ, CODMn 7 → Ⅳ; TN 5 does not count for a river (standards.md §6)
    assert (first["label"], first["main_pollutants"], first["status_zh"]) == ("Ⅴ", "NH3_N,CODMn", "中度污染")
    assert first["class_TN"] == 6 and first["drinking_compliant"] is False


def test_section_month_class_from_period_means(store: Store) -> None:
    load_water_samples(store, CSV.encode(), name="s.csv")
    with store.begin() as conn:
        conn.execute(
            site.update()
            .where(site.c.code == "WS01")
            .values(attrs={"water_body": "river", "target_class": 3, "drinking_source": True})
        )
    ov = water_overview(store, start=datetime(2026, 4, 30, 16, tzinfo=UTC), end=datetime(2026, 5, 31, 16, tzinfo=UTC))
    row = ov.row(0, named=True)
    # May means: NH3-N (1.6 + 0.4)/2 = 1.0 → Ⅲ, CODMn (7 + 3)/2 = 5 → Ⅲ, TP 0.12 → Ⅲ, DO 6.5 → Ⅱ
    assert (row["period"], row["label"], row["target_met"], row["drinking_source"]) == ("2026-05", "Ⅲ", True, True)


def test_microgram_values_are_divided_exactly() -> None:
    """51 µg/L is 0.051 mg/L exactly as written (51 × 1e-3 = 0.051000000000000004 would sit above a 0.051 limit)."""
    csv = "section_code,sampled_at,item,value,unit,below_dl,dl\nWS01,2026-05-01T08:00:00+08:00,w20111,51,µg/L,,\n"
    r = read_water_samples(csv.encode(), name="s.csv")
    assert r.frame["value"].to_list() == [0.051]
