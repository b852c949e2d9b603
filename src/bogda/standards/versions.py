"""Which standard version applies: HJ 633-2026 / GB 3095-2026 from 2026-03-01 00:00 Beijing time.

Every AQI and evaluation function takes ``standard`` (``"2012"`` or ``"2026"``); when it is omitted the version
follows the data's timestamps (the interval **start**, architecture.md §4) through :func:`standard_for` (scalars)
or :func:`is_2026` (columns). See docs/standards.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt
import polars as pl

STANDARDS = ("2012", "2026")
"""AQI technical regulation versions: HJ 633-2012 and HJ 633-2026."""

SWITCH_DATE = date(2026, 3, 1)
"""First Beijing calendar day on which HJ 633-2026 (and GB 3095-2026) apply."""

SWITCH_UTC = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
"""2026-03-01 00:00 Beijing time, in UTC."""

# --------------------------------------------------------------------------------------------------
# version selection
# --------------------------------------------------------------------------------------------------


def _check_standard(standard: str) -> str:
    s = str(standard).strip()
    s = {"HJ 633-2012": "2012", "HJ 633-2026": "2026"}.get(s, s)
    if s not in STANDARDS:
        raise ValueError(f"standard must be '2012' or '2026', not {standard!r}")
    return s


def standard_for(ts: datetime | date | str) -> str:
    """AQI standard version in force at ``ts``: ``"2026"`` from 2026-03-01 Beijing time, else ``"2012"``.

    ``ts`` is an aware datetime (a naive one is read as UTC, the storage convention), a Beijing calendar
    ``date``, or an ISO string. Use the interval **start** of the observation (architecture.md §4).

    >>> standard_for(datetime(2026, 2, 28, 15, 59, tzinfo=UTC)), standard_for(datetime(2026, 2, 28, 16, tzinfo=UTC))
    ('2012', '2026')
    >>> standard_for(date(2025, 12, 31)), standard_for("2026-03-01")
    ('2012', '2026')
    """
    if isinstance(ts, str):
        ts = date.fromisoformat(ts) if len(ts.strip()) == 10 else datetime.fromisoformat(ts)
    if isinstance(ts, datetime):
        aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
        return "2026" if aware >= SWITCH_UTC else "2012"
    return "2026" if ts >= SWITCH_DATE else "2012"


def is_2026(ts: npt.ArrayLike | pl.Series) -> np.ndarray:
    """Vectorised :func:`standard_for`: boolean array, True where HJ 633-2026 applies.

    ``ts``: Polars datetime/date series (a naive datetime column is read as UTC), a NumPy ``datetime64``
    array (UTC) or a NumPy ``date``-like array.

    >>> is_2026(pl.Series([datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 2, 28, 15, tzinfo=UTC)])).tolist()
    [True, False]
    """
    if isinstance(ts, pl.Series):
        if ts.dtype == pl.Date:
            return (ts >= SWITCH_DATE).fill_null(False).to_numpy()
        s = ts if getattr(ts.dtype, "time_zone", None) else ts.dt.replace_time_zone("UTC")
        return (s.dt.convert_time_zone("UTC") >= SWITCH_UTC).fill_null(False).to_numpy()
    arr = np.asarray(ts)
    if arr.dtype.kind == "M":
        if arr.dtype == np.dtype("datetime64[D]"):
            return arr >= np.datetime64(SWITCH_DATE.isoformat(), "D")
        return arr >= np.datetime64("2026-02-28T16:00", "m")
    return np.array([standard_for(t) == "2026" for t in arr.ravel()], dtype=bool).reshape(arr.shape)


def _resolve(standard: str | None, ts: object, n: int) -> str | np.ndarray:
    """A single version string, or a boolean 'is 2026' array of length ``n`` when derived from ``ts``."""
    if standard is not None:
        return _check_standard(standard)
    if ts is None:
        raise ValueError("give the standard version ('2012' or '2026') or the data's timestamps (ts=...)")
    if isinstance(ts, datetime | date | str):
        return standard_for(ts)
    mask = is_2026(ts)
    if mask.shape != (n,):
        raise ValueError(f"ts has shape {mask.shape}, the data has {n} values")
    if mask.all():
        return "2026"
    if not mask.any():
        return "2012"
    return mask
