"""The forecast page's words (forecast.md §3.3, §3.4): method names, weather modes and the reasons of a degraded run
are shown in the page's language, while the records keep their codes and English reasons."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bogda.forecast import service
from bogda.web.ui.forecast import method_label, mode_label, reason_text, series_options

SERVICE = Path(service.__file__)


def _written_reasons() -> list[str]:
    """Every reason :func:`bogda.forecast.service.refresh` can write, with its placeholders filled in."""
    src = SERVICE.read_text(encoding="utf-8")
    literals = re.findall(r'reasons\.append\(\s*f?"((?:[^"\\]|\\.)*)"\s*\)', src)
    assert len(literals) >= 9, literals  # the reasons of the run record, as of this test
    return [re.sub(r"\{[^{}]*\}", "X", s) for s in literals]


@pytest.mark.parametrize("reason", _written_reasons())
def test_every_reason_the_service_writes_is_translated(reason: str) -> None:
    zh = reason_text(reason, "zh")
    assert zh != reason, f"no Chinese text for the run reason {reason!r}: add a pattern to REASONS"
    assert not re.search(r"[A-Za-z]{4,}", zh.replace("LightGBM", "").replace("PIT", "").replace("AQI", "")), zh
    assert reason_text(reason, "en")  # and an English text


def test_reason_fields_are_kept() -> None:
    text = reason_text("stale (no PM2.5 in 24 h), climatology used: CJ-ZD03, CJ-ZD04", "zh")
    assert text.endswith("CJ-ZD03, CJ-ZD04")
    assert reason_text("no model for a05024, a21005: damped persistence", "zh").startswith("a05024, a21005 ")


@pytest.mark.parametrize(
    ("method", "zh", "en"),
    [
        ("damped_persistence", "阻尼持续性", "damped persistence"),
        ("climatology_month_hour", "气候态（按月、小时）", "climatology (month, hour)"),
        ("lgbm_none", "LightGBM（气象输入：无预报气象）", "LightGBM (weather input: no weather forecast)"),
        ("lgbm_nwp", "LightGBM（气象输入：数值预报）", "LightGBM (weather input: NWP)"),
        ("lgbm_noisy_proxy_raw", "LightGBM（气象输入：带误差的观测气象，未后处理）", None),
        ("lgbm_observed_proxy_next24h", "LightGBM（气象输入：观测气象代替预报，未来 24 小时均值模型）", None),
        ("someday_new", "someday_new", "someday_new"),
    ],
)
def test_method_labels(method: str, zh: str, en: str | None) -> None:
    assert method_label(method, "zh") == zh
    if en is not None:
        assert method_label(method, "en") == en


def test_mode_labels() -> None:
    labels = (mode_label("none", "zh"), mode_label("nwp", "zh"), mode_label("foggy", "zh"))
    assert labels == ("无预报气象", "数值预报", "foggy")


def test_series_legend_names_the_methods_and_hides_the_band_floor() -> None:
    at = {"utc": "2026-11-30T06:00:00Z", "local": "2026-11-30T14:00:00+08:00"}
    pt = {"t": at, "mean": 10.04, "p10": 5.0, "p90": 20.0}
    payload = {
        "item": "a34004",
        "primary": "lgbm_none",
        "forecast": {"lgbm_none": [pt], "damped_persistence": [pt], "climatology_hour": [pt]},
        "observed": [{"t": {"utc": "2026-11-30T05:00:00Z", "local": "2026-11-30T13:00:00+08:00"}, "value": 9.0}],
    }
    zh = series_options(payload, "zh")
    assert zh["legend"]["data"] == [
        "实况",
        {"name": "10%–90% 区间", "icon": "rect"},
        "LightGBM（气象输入：无预报气象）",
        "阻尼持续性",
        "气候态（按小时）",
    ]
    assert "p10" in [s["name"] for s in zh["series"]]  # the band still stacks on its floor
    band = next(s for s in zh["series"] if s["name"] == "10%–90% 区间")
    # Beijing wall clock on a UTC axis: 14:00 in any browser's time zone, values as the tables round them
    wall = int(datetime(2026, 11, 30, 14, tzinfo=UTC).timestamp() * 1000)
    assert zh["useUTC"] is True
    assert band["data"] == [[wall, 15.0]]
    assert zh["series"][0]["data"] == [[wall - 3_600_000, 9.0]]
    assert next(s for s in zh["series"] if s["name"] == "阻尼持续性")["data"] == [[wall, 10.0]]
    # each line has a colour of its own (the palette's followed the series order and gave the forecast the
    # observed line's navy once the band had its own colour)
    colours = {s["name"]: s.get("itemStyle", {}).get("color") for s in zh["series"] if s["name"] != "p10"}
    assert colours["LightGBM（气象输入：无预报气象）"] == "#ef6c00" and colours["10%–90% 区间"] == "#90caf9"
    assert len({c for c in colours.values() if c}) == len([c for c in colours.values() if c]) == 4
    en = series_options(payload, "en")
    assert en["legend"]["data"] == [
        "observed",
        {"name": "p10–p90", "icon": "rect"},
        "LightGBM (weather input: no weather forecast)",
        "damped persistence",
        "climatology (hour)",
    ]
