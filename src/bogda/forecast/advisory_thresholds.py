"""Advisory thresholds in force per area, and the local check on the store's own archive (forecast.md §3.8).

The defaults of :class:`bogda.forecast.advisories.Thresholds` are design values (d); the spec asks for them to be
tuned on local backtests. A tuned set is *activated* into ``advisory_threshold_set`` (per area, or ``*`` for every
area) with the evidence of the check that chose it; :func:`thresholds_in_force` resolves, per area, the newest set
of that area, else the newest ``*`` set, else the defaults. Each advisory records the version it was raised under.

:func:`local_inputs` reads the installation's own archive for :func:`bogda.forecast.advisory_check.run_check`: the
NWP values of every area (``nwp_value``, the newest run per hour, as the refresh reads them) and the area hourly
concentrations (``aqi_hourly``). The store holds no observed rain for areas, so the local stagnation event is
"PM2.5 daily mean > 75" without its rain clause (:func:`bogda.forecast.advisory_check.observed_events`
``rain=False``), and the check says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import select

from bogda.forecast import advisories as adv
from bogda.forecast.advisory_check import CheckResult, run_check
from bogda.store import Store
from bogda.store.schema import advisory_threshold_set
from bogda.timeutil import day_start_utc, now_utc

DEFAULT_VERSION = "default"
"""The version name recorded when no activated set applies."""

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ThresholdError(ValueError):
    """A threshold set that cannot be activated; the message names the key and the reason."""


def thresholds_from(values: Mapping[str, Any], *, name: str = "thresholds") -> adv.Thresholds:
    """A :class:`~bogda.forecast.advisories.Thresholds` from stored or entered values (missing keys keep their
    defaults).

    Raises
    ------
    ThresholdError
        An unknown key, or a value of the wrong type, naming it.
    """
    known = {f.name: f for f in fields(adv.Thresholds)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ThresholdError(f"{name}: unknown threshold(s) {', '.join(unknown)}; known: {', '.join(known)}")
    out: dict[str, Any] = {}
    defaults = asdict(adv.DEFAULT)
    for k, v in values.items():
        d = defaults[k]
        try:
            if isinstance(d, tuple):
                out[k] = tuple(int(x) for x in v)
            elif isinstance(d, int):
                if float(v) != int(v):
                    raise ValueError
                out[k] = int(v)
            else:
                out[k] = float(v)
        except (TypeError, ValueError):
            raise ThresholdError(f"{name}: {k}: {v!r} is not a {type(d).__name__}") from None
    return adv.Thresholds(**out)


def activate(
    store: Store,
    values: Mapping[str, Any],
    *,
    version: str,
    area_code: str = "*",
    evidence: Mapping[str, Any] | None = None,
    source: str = "",
    by: str | None = None,
    now: datetime | None = None,
) -> adv.Thresholds:
    """Make a threshold set the one in force for ``area_code`` (``*``: every area without its own set).

    Versions are immutable: re-activating a version with the same values makes it the newest again; the same name
    with other values is refused. An invalid set changes nothing.

    Raises
    ------
    ThresholdError
        A bad version name, an unknown key or value, or a version name already used for other values.
    """
    if not VERSION_RE.match(version):
        raise ThresholdError(f"version: {version!r} must be 1–64 letters, digits, '.', '_' or '-'")
    th = thresholds_from(values, name=f"version {version}")
    stored = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(th).items()}
    t = advisory_threshold_set
    with store.begin() as conn:
        old = conn.execute(
            select(t.c.id, t.c["values"]).where(t.c.area_code == area_code, t.c.version == version)
        ).first()
        if old is not None:
            if dict(old[1]) != stored:
                raise ThresholdError(f"version: {version!r} already names other thresholds for {area_code}")
            conn.execute(t.delete().where(t.c.id == old[0]))
        conn.execute(
            t.insert().values(
                area_code=area_code,
                version=version,
                values=stored,
                evidence=dict(evidence) if evidence is not None else None,
                source=source[:200],
                activated_at=now or now_utc(),
                activated_by=by,
            )
        )
    return th


def thresholds_in_force(store: Store) -> tuple[dict[str, tuple[adv.Thresholds, str]], tuple[adv.Thresholds, str]]:
    """``(per_area, fallback)``: the newest set of each area that has one, and the set for every other area (the
    newest ``*`` set, else the defaults with version :data:`DEFAULT_VERSION`)."""
    t = advisory_threshold_set
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.c.area_code, t.c.version, t.c["values"]).order_by(t.c.id)).all()
    newest: dict[str, tuple[adv.Thresholds, str]] = {}
    for area, version, values in rows:  # in activation order: the last one wins
        newest[area] = (thresholds_from(values, name=f"stored version {version}"), version)
    fallback = newest.pop("*", (adv.DEFAULT, DEFAULT_VERSION))
    return newest, fallback


def list_sets(store: Store) -> list[dict[str, Any]]:
    """Every activated set, newest first, with ``in_force`` marking the one each area uses."""
    t = advisory_threshold_set
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(t).order_by(t.c.id.desc())).mappings()]
    seen: set[str] = set()
    for r in rows:
        r["in_force"] = r["area_code"] not in seen
        seen.add(r["area_code"])
    return rows


def local_inputs(store: Store, areas: list[str], start: datetime, end: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The weather (``nwp_value``, newest run per hour) and the area hourly concentrations (``aqi_hourly``, the
    2012 standard's rows) of ``areas`` over [start, end), as :func:`bogda.forecast.advisory_check.run_check`
    takes them."""
    from bogda.forecast.service import nwp_frame
    from bogda.store.schema import aqi_hourly

    weather = nwp_frame(store, areas, start, end).select("location_id", "valid_start", "variable", "value")
    a = aqi_hourly
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(a.c.target_code, a.c.ts, a.c.c_pm25, a.c.c_pm10, a.c.c_o3).where(
                a.c.target_code.in_(areas),
                a.c.target_kind != "station",
                a.c.standard == "2012",
                a.c.ts >= int(start.timestamp()),
                a.c.ts < int(end.timestamp()),
            )
        ).all()
    hourly = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={
            "location_id": pl.Utf8,
            "ts": pl.Int64,
            "c_pm25": pl.Float64,
            "c_pm10": pl.Float64,
            "c_o3": pl.Float64,
        },
        orient="row",
    ).with_columns(pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC"))
    return weather, hourly


def local_check(store: Store, train: tuple[date, date], test: tuple[date, date]) -> CheckResult:
    """The advisory check on the installation's own archive (:func:`local_inputs` of every area), tuned on
    ``train`` and scored on ``train`` and ``test``; the stagnation event without its rain clause.

    Raises
    ------
    LookupError
        No NWP values or no area observations over the two spans (naming which and the days).
    """
    from bogda.forecast.service import registry

    areas = list(registry(store).place_of)
    lo, hi = min(train[0], test[0]), max(train[1], test[1])
    weather, hourly = local_inputs(store, areas, day_start_utc(lo), day_start_utc(hi) + timedelta(days=1))
    if weather.height == 0 or hourly.height == 0:
        missing = "NWP values" if weather.height == 0 else "area observations"
        raise LookupError(
            f"no {missing} for the areas between {lo} and {hi}: load NWP runs (bogda forecast load-nwp) and "
            "observations first"
        )
    return run_check(weather, hourly, train, test, rain=False)


__all__ = [
    "DEFAULT_VERSION",
    "ThresholdError",
    "activate",
    "list_sets",
    "local_check",
    "local_inputs",
    "thresholds_from",
    "thresholds_in_force",
]
