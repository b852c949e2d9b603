"""Which stored observations the forecast may use (forecast.md §6 "Bad input and failure handling").

The store keeps every value with its source flag, and the monitoring QA writes its verdicts beside them
(``qa_flag``, read by :func:`bogda.monitoring.load.read_qa`). The monitoring statistics count ``suspect`` values by
policy; the forecast is stricter, because a model trained on a wrong value repeats it and persistence serves it:

- negative values are QA ``invalid`` (rule ``negative``) and are never used;
- ``invalid`` and ``maintenance`` values are never used; ``suspect`` values are excluded from training and from the
  refresh's inputs **until a person confirms them** (``set_flag(..., severity="valid")``, QA reason ``manual``);
- above the forecast caps (PM 1000 µg/m³, O3 1 h 1000 µg/m³, forecast.md §6 (d)) a value is treated as suspect even
  where the monitoring review level is higher (PM10 3000 µg/m³ keeps Xinjiang dust valid in the statistics,
  monitoring.md §3.1), again until a person confirms it;
- a station whose CO median exceeds 50 mg/m³ holds µg/m³ values under a mg/m³ declaration: its CO is left out, and
  the reason names the station (never converted silently, forecast.md §6).

:func:`usable` is pure: it takes the frame of :func:`~bogda.monitoring.load.read_qa` and returns the rows to use and
the reasons for what it left out, which the refresh reports as ``degraded`` reasons.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from bogda.forecast.observations import CO_MEDIAN_CAP

FORECAST_CAPS: dict[str, float] = {"a34004": 1000.0, "a34002": 1000.0, "a05024": 1000.0}
"""Values above these [µg/m³] are kept out of the forecast until confirmed: PM2.5, PM10 and O3 1 h (forecast.md §6,
d: "PM 1000, O3 1 h 1000")."""

CO = "a21005"


def usable(
    obs: pl.DataFrame,
    *,
    names: Mapping[int, str] | None = None,
    caps: Mapping[str, float] = FORECAST_CAPS,
) -> tuple[pl.DataFrame, list[str], list[str]]:
    """Rows of ``obs`` the forecast may use, what QA left out, and the stations whose CO is in the wrong unit.

    Parameters
    ----------
    obs : pl.DataFrame
        ``site_id, parameter, ts, value, source_flag, flag, qa_reason`` as :func:`bogda.monitoring.load.read_qa`
        returns them (``flag`` ∈ valid, suspect, invalid, maintenance; ``qa_reason`` ``manual`` for a person's
        verdict).
    names : mapping, optional
        ``site_id`` → station code for the reasons (default: the id).
    caps : mapping
        Parameter code → forecast cap [µg/m³] (:data:`FORECAST_CAPS`).

    Returns
    -------
    (pl.DataFrame, list of str, list of str)
        The usable rows (``site_id, parameter, ts, value``); one note per kind of exclusion, with counts (routine
        data quality: logged); one unit error per station whose CO was left out (a fault to fix: the refresh is
        ``degraded`` with it).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = datetime(2025, 1, 1, tzinfo=UTC)
    >>> f = pl.DataFrame({"site_id": [1, 1, 1, 1], "parameter": ["a34004"] * 4, "ts": [t] * 4,
    ...                   "value": [50.0, -5.0, 1500.0, 1200.0], "source_flag": ["N"] * 4,
    ...                   "flag": ["valid", "invalid", "suspect", "valid"], "qa_reason": [None, "negative",
    ...                   "high_review", "manual"]})
    >>> rows, why, unit_errors = usable(f, names={1: "S1"})
    >>> rows["value"].to_list(), unit_errors
    ([50.0, 1200.0], [])
    >>> why
    ['1 invalid or maintenance values left out (QA)', '1 suspect values left out until confirmed (QA)']
    """
    names = names or {}
    confirmed = (pl.col("flag") == "valid") & (pl.col("qa_reason") == "manual")
    cap = pl.col("parameter").replace_strict(dict(caps), default=None, return_dtype=pl.Float64)
    present = obs.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
    marked = present.with_columns(
        pl.when(confirmed)
        .then(pl.lit("ok"))
        .when(pl.col("flag").is_in(["invalid", "maintenance"]) | (pl.col("value") < 0))
        .then(pl.lit("invalid"))
        .when(pl.col("source_flag") != "N")
        .then(pl.lit("source"))
        .when(pl.col("flag") == "suspect")
        .then(pl.lit("suspect"))
        .when(cap.is_not_null() & (pl.col("value") > cap))
        .then(pl.lit("cap"))
        .otherwise(pl.lit("ok"))
        .alias("_use")
    )
    counts = dict(marked.group_by("_use").len().iter_rows())
    notes = []
    labels = {
        "invalid": "invalid or maintenance values left out (QA)",
        "source": "values with a source flag other than N left out",
        "suspect": "suspect values left out until confirmed (QA)",
        "cap": "values above the forecast caps (PM 1000, O3 1000 µg/m³) left out until confirmed",
    }
    for key, label in labels.items():
        if counts.get(key):
            notes.append(f"{counts[key]} {label}")
    rows = marked.filter(pl.col("_use") == "ok").select("site_id", "parameter", "ts", "value")
    co = rows.filter(pl.col("parameter") == CO).group_by("site_id").agg(pl.col("value").median().alias("m"))
    errors = []
    wrong = sorted(int(s) for s, m in co.iter_rows() if m is not None and m > CO_MEDIAN_CAP)
    if wrong:
        rows = rows.filter(~((pl.col("parameter") == CO) & pl.col("site_id").is_in(wrong)))
        for s in wrong:
            m = float(co.filter(pl.col("site_id") == s)["m"][0])
            errors.append(
                f"station {names.get(s, s)}: CO median {m:.0f} > {CO_MEDIAN_CAP:g} mg/m³ — the values look like µg/m³; "
                "its CO is left out until the unit is corrected (forecast.md §6)"
            )
    return rows, notes, errors
