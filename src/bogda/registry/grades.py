"""Performance-grade names (环保绩效分级) as stored and typed → the grade codes of the measure tables.

One reading shared by the emergency-reduction lists (``bogda.forecast.emergency``, forecast.md §3.10) and the
enforcement grade tables (``bogda.enforcement.plans``, enforcement.md §3.6), so that an enterprise gets the same
grade row in both. Pure and standard-library only: the enforcement core imports it without loading the forecast
service (its store, findings and source-apportionment modules).
"""

from __future__ import annotations

import re
import unicodedata

_GRADE_ALIASES = {
    "a": "A",
    "b": "B",
    "b-": "B-",
    "c": "C",
    "d": "D",
    "leading": "leading",
    "引领性": "leading",
    "引领": "leading",
    "绩效引领性": "leading",
    "non_leading": "non_leading",
    "non-leading": "non_leading",
    "nonleading": "non_leading",
    "非引领性": "non_leading",
    "非引领": "non_leading",
    "unrated": "unrated",
    "未分级": "unrated",
    "未评级": "unrated",
}
_DASHES = "−‐‑‒–—―﹣－"
"""Minus and dash look-alikes typed for "B-" (B−, B–, B－ …)."""


def normalise_grade(text: str | None) -> str | None:
    """The template grade (A, B, B-, C, D, ``leading``, ``non_leading``, ``unrated``) of a grade as stored or typed,
    ``None`` when not recognised.

    The registry and the grading ledger store Chinese names (A/B/B-/C/D, 引领性/非引领性, governance.md §3.7); the
    template uses ``leading``/``non_leading`` (forecast.md §3.10). Full-width letters, surrounding and inner
    spaces, minus and dash look-alikes and the suffixes 级/企业 are tolerated; blank or missing is ``unrated``.
    The caller keeps the original text for display; an unrecognised grade is treated as ``unrated`` (d).

    >>> normalise_grade("引领性"), normalise_grade(" 非引领性 "), normalise_grade("B−"), normalise_grade("Ｂ－")
    ('leading', 'non_leading', 'B-', 'B-')
    >>> normalise_grade(None), normalise_grade("A级"), normalise_grade("引领性企业"), normalise_grade("E")
    ('unrated', 'A', 'leading', None)
    """
    if text is None:
        return "unrated"
    t = unicodedata.normalize("NFKC", str(text))
    for dash in _DASHES:
        t = t.replace(dash, "-")
    t = re.sub(r"\s+", "", t).lower()
    if not t:
        return "unrated"
    return _GRADE_ALIASES.get(t) or _GRADE_ALIASES.get(t.removesuffix("企业").removesuffix("级"))
