"""A figure with its provenance: the value shown in a report and the query and records behind it.

Every number in a ledger KPI, a bulletin or the duty report is a :class:`Figure`. It keeps the exact numerator and
denominator (rounding only for display, half-up [D], governance.md §3.6), the query in words, and the ids of the
records counted, so a reviewer can follow any figure to its records. A missing value shows "—" (governance §6).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

MISSING = "—"


def round_half_up(value: Decimal | float | int, dp: int) -> Decimal:
    """Half-up rounding on the decimal value (governance §3.6 [D]).

    >>> [str(round_half_up(Decimal(n) * 100 / d, 1)) for n, d in ((24, 25), (90, 103), (28, 151))]
    ['96.0', '87.4', '18.5']
    """
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP)


def round_gbt8170(value: Decimal | float | int, dp: int) -> Decimal:
    """GB/T 8170 (half to even) on the decimal value, for concentrations (standards.md §1.2)."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Figure:
    """One figure.

    Parameters
    ----------
    key : str
        Stable identifier, e.g. ``petition.batch_closure_rate``.
    label : str
        What it is, in Chinese (the document's language).
    value : Decimal | int | None
        Exact value (a percentage already × 100); ``None`` when not computable (denominator 0, no data).
    unit : str
        ``%``, ``件``, ``万元``, ``天``, ``t`` … (shown after the value).
    dp : int
        Decimals shown.
    query : str
        The query in words: ledger, conditions, period.
    refs : tuple of str
        Records behind it, ``"<table>:<id>"``.
    numerator, denominator
        For ratios, the exact parts.
    """

    key: str
    label: str
    value: Decimal | int | None
    unit: str = ""
    dp: int = 0
    query: str = ""
    refs: tuple[str, ...] = ()
    numerator: Decimal | int | None = None
    denominator: int | None = None
    rounding: str = "half_up"
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def count(self) -> int:
        """Number of records behind the figure."""
        return len(self.refs)

    def text(self) -> str:
        """The value as printed (no unit): ``96.0``, ``1378.00``, ``151``; "—" when missing; a text figure's text."""
        if "text" in self.detail:
            return str(self.detail["text"])
        if self.value is None:
            return MISSING
        if isinstance(self.value, int) and self.dp == 0:
            return str(self.value)
        rounder = round_gbt8170 if self.rounding == "half_even" else round_half_up
        return str(rounder(self.value, self.dp))

    def display(self) -> str:
        """Value with unit: ``96.0%``, ``151件``."""
        t = self.text()
        return t if t == MISSING or "text" in self.detail else f"{t}{self.unit}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "value": None if self.value is None else str(self.value),
            "display": self.display(),
            "unit": self.unit,
            "numerator": None if self.numerator is None else str(self.numerator),
            "denominator": self.denominator,
            "query": self.query,
            "count": self.count,
            "refs": list(self.refs),
        }


def refs(table: str, rows: Iterable[dict[str, Any]] | Iterable[int]) -> tuple[str, ...]:
    """``("table:id", …)`` of rows (dicts with ``id``) or ids, sorted by id."""
    ids = sorted(int(r["id"]) if isinstance(r, dict) else int(r) for r in rows)
    return tuple(f"{table}:{i}" for i in ids)


def count(key: str, label: str, table: str, rows: list[dict[str, Any]], query: str, unit: str = "件") -> Figure:
    """A count of records."""
    return Figure(key, label, len(rows), unit, 0, query, refs(table, rows))


def ratio(
    key: str,
    label: str,
    table: str,
    num: list[dict[str, Any]],
    den: list[dict[str, Any]],
    query: str,
    dp: int = 1,
) -> Figure:
    """A percentage ``len(num)/len(den)`` × 100 (``None`` when ``den`` is empty); refs are the denominator's."""
    value = None if not den else Decimal(len(num)) * 100 / Decimal(len(den))
    return Figure(key, label, value, "%", dp, query, refs(table, den), numerator=len(num), denominator=len(den))


def total(
    key: str,
    label: str,
    table: str,
    rows: list[dict[str, Any]],
    values: Iterable[float | None],
    query: str,
    unit: str,
    dp: int,
    scale: Decimal = Decimal(1),
) -> Figure:
    """A sum of ``values`` over ``rows`` divided by ``scale`` (e.g. 10000 for 万元)."""
    s = sum((Decimal(str(v)) for v in values if v is not None), Decimal(0))
    return Figure(key, label, s / scale, unit, dp, query, refs(table, rows), numerator=s)


def mean(
    key: str,
    label: str,
    table: str,
    rows: list[dict[str, Any]],
    values: list[float | int],
    query: str,
    unit: str = "天",
    dp: int = 1,
) -> Figure:
    """Mean of ``values`` (one per row); ``None`` when there are no rows."""
    if not values:
        return Figure(key, label, None, unit, dp, query, ())
    s = sum((Decimal(str(v)) for v in values), Decimal(0))
    return Figure(key, label, s / len(values), unit, dp, query, refs(table, rows), numerator=s, denominator=len(values))
