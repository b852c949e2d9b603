"""Console texts in Chinese (default) and English.

Texts live in ``zh.json`` and ``en.json`` next to this module, one flat ``key → text`` table each. The language of
a request is the user's choice kept in the session (``session["lang"]``), else ``Settings.language``; pages set it
with :func:`use_language` before building, so :func:`t` needs only the key.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from functools import cache
from importlib import resources

LANGUAGES: dict[str, str] = {"zh": "中文", "en": "English"}
"""Selectable languages (code → name shown in the switch)."""
DEFAULT_LANGUAGE = "zh"

_current: ContextVar[str] = ContextVar("bogda_language", default=DEFAULT_LANGUAGE)


@cache
def table(lang: str) -> dict[str, str]:
    """The text table of ``lang`` (``KeyError`` for an unknown language)."""
    if lang not in LANGUAGES:
        raise KeyError(f"unknown language {lang!r}; expected one of {sorted(LANGUAGES)}")
    text = (resources.files("bogda.web.i18n") / f"{lang}.json").read_text(encoding="utf-8")
    return json.loads(text)


def normalise(lang: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """A supported language code for ``lang`` (``zh-CN`` → ``zh``), else ``default``."""
    if lang:
        code = lang.split("-")[0].split("_")[0].lower()
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else DEFAULT_LANGUAGE


def use_language(lang: str | None) -> str:
    """Make ``lang`` the language of the current context (a page build or an event handler); returns it."""
    code = normalise(lang)
    _current.set(code)
    return code


def current_language() -> str:
    return _current.get()


def t(key: str, lang: str | None = None, **values: object) -> str:
    """The text of ``key`` in ``lang`` (default: the current context's language), formatted with ``values``.

    A key missing from the language falls back to Chinese, then to the key itself, so a missing text shows up
    on screen instead of breaking the page.

    >>> t("nav.map", "zh"), t("nav.map", "en")
    ('地图', 'Map')
    """
    code = normalise(lang) if lang else _current.get()
    text = table(code).get(key) or table(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**values) if values else text


def t_or(key: str, default: str, lang: str | None = None) -> str:
    """The text of ``key`` as :func:`t` gives it, or ``default`` where no language has the key (a code the tables do
    not know yet, such as a new weather mode, shows as it is rather than as its key).

    >>> t_or("nav.map", "map", "en"), t_or("forecast.mode.later", "later", "zh")
    ('Map', 'later')
    """
    text = t(key, lang)
    return default if text == key else text
