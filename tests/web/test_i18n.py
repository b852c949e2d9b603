"""Console texts: both languages have the same keys, lookup and fallbacks."""

from __future__ import annotations

import re

import pytest

from bogda.web.i18n import LANGUAGES, normalise, t, table, use_language


def test_every_language_has_every_key_and_the_same_placeholders() -> None:
    zh, en = table("zh"), table("en")
    assert set(zh) == set(en)
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key
        assert zh[key].strip() and en[key].strip(), key


@pytest.mark.parametrize(
    ("key", "lang", "values", "expected"),
    [
        ("banner.simulated", "zh", {}, "演示数据为模拟数据"),
        ("banner.simulated", "en", {}, "Demo data are simulated"),
        ("nav.findings", "zh", {}, "问题清单"),
        ("map.n_stations", "zh", {"n": 3}, "3 个站点"),
        ("map.n_stations", "en", {"n": 3}, "3 stations"),
        ("no.such.key", "en", {}, "no.such.key"),
    ],
)
def test_lookup(key: str, lang: str, values: dict, expected: str) -> None:
    assert t(key, lang, **values) == expected


@pytest.mark.parametrize(
    ("given", "expected"), [("zh-CN", "zh"), ("en_US", "en"), ("EN", "en"), ("fr", "zh"), (None, "zh"), ("", "zh")]
)
def test_normalise(given: str | None, expected: str) -> None:
    assert normalise(given) == expected
    assert expected in LANGUAGES


def test_current_language_is_used_without_an_argument() -> None:
    use_language("en")
    try:
        assert t("nav.map") == "Map"
    finally:
        use_language("zh")
    assert t("nav.map") == "地图"
