"""Reading the package's own tables (``bogda/standards/data/*.csv``).

The only I/O the standards package does: each table is read once from the installed package with
:mod:`importlib.resources` and cached. Every table carries a ``source`` (or ``source_status``) column naming the
clause it was typed from.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources


@cache
def table(name: str) -> tuple[dict[str, str], ...]:
    """Rows of ``data/<name>.csv`` as dicts of strings (cached, read-only).

    >>> table("aqi_categories")[0]["category_zh"]
    '优'
    """
    text = resources.files("bogda.standards").joinpath("data").joinpath(f"{name}.csv").read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))
