"""Same-day alarm rules, pure (forecast.md §3.7): defaults, per-place parameter resolution, quiet hours and the
trigger functions over hourly AQI rows and station status. The service (state, findings) is
:mod:`bogda.monitoring.alarms`."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import polars as pl

from bogda.timeutil import to_beijing

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}

DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "aqi_high": {"threshold": 200, "severity": "high"},
    "aqi_elevated": {"threshold": 150, "hours": 2, "severity": "medium"},
    "rate_of_rise": {"rise_1h": 50, "rise_3h": 100, "floor": 75, "severity": "medium"},
    "station_offline": {"hours": 3, "escalate_hours": 24, "severity": "low", "escalated_severity": "medium"},
    "county_episode": {"min_stations": 2, "share": 0.5, "area_aqi": 200, "resolve_hours": 2, "severity": "high"},
    "neighbour_excess": {
        "item": "aqi",
        "radius_km": 10.0,
        "factor": 2.0,
        "margin": 50.0,
        "hours": 2,
        "min_neighbours": 1,
        "severity": "medium",
    },
    "imminent": {"threshold": 200, "within_hours": 6, "max_run_age_hours": 3, "severity": "medium"},
    "_engine": {"resolve_share": 0.9, "resolve_hours": 2, "cooldown_hours": 3},
}
"""Rule parameters (all (d), forecast.md §3.7 and §5)."""

DEFAULT_QUIET = {"enabled": True, "start": "22:00", "end": "07:00"}
"""Quiet hours in Beijing time (d); the duty officer can switch them off."""

POLLUTANT_OF = {
    "aqi_high": "AQI",
    "aqi_elevated": "AQI",
    "rate_of_rise": "a34004",
    "station_offline": "-",
    "county_episode": "AQI",
    "neighbour_excess": "AQI",
    "imminent": "AQI",
}

NEIGHBOUR_ITEMS = {"aqi": "AQI", "c_pm25": "a34004", "c_pm10": "a34002", "c_so2": "a21026", "c_no2": "a21004"}
"""Hourly columns ``neighbour_excess`` may compare (``item`` parameter) → the pollutant of its dedupe key."""


@dataclass(frozen=True)
class Trigger:
    """A rule that fired at ``ts`` for a target."""

    rule: str
    target_kind: str
    target_code: str
    pollutant: str
    severity: str
    value: float | None
    threshold: float | None
    ts: datetime
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return dedupe_key(self.target_kind, self.target_code, self.pollutant, self.rule)


def dedupe_key(target_kind: str, target_code: str, pollutant: str, rule: str) -> str:
    """``alarm:<kind>:<code>:<pollutant>:<rule>`` (forecast.md §3.7)."""
    return f"alarm:{target_kind}:{target_code}:{pollutant}:{rule}"


def resolve_params(
    rules: Sequence[Mapping[str, Any]],
    *,
    station: str | None = None,
    county: str | None = None,
    prefecture: str | None = None,
    at: datetime | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Parameters per rule for one target: defaults overlaid by the most specific enabled ``alarm_rule`` row
    (station → county → prefecture → global) valid at ``at``; returns (params, version per rule).

    A row with ``enabled`` false switches its rule off for the scope (``params["enabled"] = False``).
    """
    params = copy.deepcopy(DEFAULT_RULES)
    versions = dict.fromkeys(params, "default")
    order = {"global": 0, "prefecture": 1, "county": 2, "station": 3}
    codes = {"global": "*", "prefecture": prefecture, "county": county, "station": station}
    best: dict[str, Mapping[str, Any]] = {}
    for r in rules:
        scope = r["scope"]
        if codes.get(scope) is None or (scope != "global" and r["scope_code"] != codes[scope]):
            continue
        if at is not None and r.get("valid_from") is not None and r["valid_from"] > at:
            continue
        cur = best.get(r["rule"])
        if cur is None or (order[scope], r.get("version", 1)) > (order[cur["scope"]], cur.get("version", 1)):
            best[r["rule"]] = r
    for name, r in best.items():
        params.setdefault(name, {}).update(r.get("params") or {})
        params[name]["enabled"] = bool(r.get("enabled", True))
        versions[name] = f"{r['scope']}:{r['scope_code']}:v{r.get('version', 1)}"
    return params, versions


def in_quiet(ts: datetime, quiet: Mapping[str, Any] = DEFAULT_QUIET) -> bool:
    """Whether ``ts`` falls inside the quiet hours (Beijing time; a period may wrap midnight).

    >>> from datetime import UTC
    >>> in_quiet(datetime(2019, 1, 1, 15, tzinfo=UTC)), in_quiet(datetime(2019, 1, 1, 3, tzinfo=UTC))
    (True, False)
    """
    if not quiet or not quiet.get("enabled", True):
        return False
    start = time.fromisoformat(str(quiet.get("start", "22:00")))
    end = time.fromisoformat(str(quiet.get("end", "07:00")))
    t = to_beijing(ts).time()
    return (start <= t or t < end) if start > end else (start <= t < end)


def triggers(
    hourly: pl.DataFrame,
    *,
    at: datetime,
    params: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    status: pl.DataFrame | None = None,
) -> list[Trigger]:
    """Per-target rules at hour ``at`` (the start of the newest complete hour).

    Parameters
    ----------
    hourly : pl.DataFrame
        Hourly AQI rows of the last few hours: ``target_kind, target_code, ts, aqi, c_pm25``.
    params : mapping target_code → rule params, optional
        From :func:`resolve_params`; default :data:`DEFAULT_RULES` for every target.
    status : pl.DataFrame, optional
        Station status at the end of hour ``at`` (:func:`bogda.monitoring.qa.station_status`:
        ``site_code, silent_hours, status, feed_down``).
    """
    out: list[Trigger] = []
    by_target = hourly.sort("ts").partition_by(["target_kind", "target_code"], as_dict=True)
    for (kind, code), rows in by_target.items():
        p = (params or {}).get(code, DEFAULT_RULES)
        series = {t: (a, c) for t, a, c in rows.select("ts", "aqi", "c_pm25").iter_rows()}
        now = series.get(at)
        if now is None:
            continue  # a missing hour triggers nothing (and closes nothing)
        aqi, pm = now
        r = p["aqi_high"]
        if r.get("enabled", True) and aqi is not None and aqi > r["threshold"]:
            out.append(Trigger("aqi_high", kind, code, "AQI", r["severity"], aqi, r["threshold"], at))
        r = p["aqi_elevated"]
        if r.get("enabled", True) and aqi is not None:
            hours = [series.get(at - timedelta(hours=i), (None, None))[0] for i in range(int(r["hours"]))]
            if all(h is not None and h > r["threshold"] for h in hours):
                out.append(
                    Trigger("aqi_elevated", kind, code, "AQI", r["severity"], aqi, r["threshold"], at, {"hours": hours})
                )
        r = p["rate_of_rise"]
        if r.get("enabled", True) and pm is not None and pm > r["floor"]:
            p1 = series.get(at - timedelta(hours=1), (None, None))[1]
            p3 = series.get(at - timedelta(hours=3), (None, None))[1]
            rise1 = pm - p1 if p1 is not None else None
            rise3 = pm - p3 if p3 is not None else None
            if (rise1 is not None and rise1 >= r["rise_1h"]) or (rise3 is not None and rise3 >= r["rise_3h"]):
                out.append(
                    Trigger(
                        "rate_of_rise",
                        kind,
                        code,
                        "a34004",
                        r["severity"],
                        pm,
                        r["floor"],
                        at,
                        {"rise_1h": rise1, "rise_3h": rise3},
                    )
                )
    if status is not None and status.height:
        for code, silent, st, feed_down in status.select(
            "site_code", "silent_hours", "status", "feed_down"
        ).iter_rows():
            p = (params or {}).get(code, DEFAULT_RULES)["station_offline"]
            if not p.get("enabled", True) or feed_down or st != "offline" or silent is None:
                continue
            if silent < p["hours"]:
                continue
            sev = p["escalated_severity"] if silent >= p["escalate_hours"] else p["severity"]
            out.append(Trigger("station_offline", "station", code, "-", sev, float(silent), float(p["hours"]), at))
    return out


def episode_triggers(
    open_station_alarms: pl.DataFrame,
    members: pl.DataFrame,
    area_hourly: pl.DataFrame,
    *,
    at: datetime,
    params: Mapping[str, Any] | None = None,
) -> list[Trigger]:
    """County-wide episodes: per area, ≥ ``min_stations`` evaluation stations and ≥ ``share`` of its members
    with an open ``aqi_high``/``aqi_elevated`` alarm at ``at``, or the area hourly AQI above ``area_aqi``.

    ``open_station_alarms``: ``target_code`` of stations in alarm; ``members``: ``site_code, area_kind,
    area_code``; ``area_hourly``: ``target_kind, target_code, ts, aqi`` of areas.
    """
    p = dict(DEFAULT_RULES["county_episode"], **(params or {}))
    if not p.get("enabled", True):
        return []
    alarmed = set(open_station_alarms["target_code"].to_list()) if open_station_alarms.height else set()
    out = []
    now_aqi = {
        (k, c): a for k, c, t, a in area_hourly.select("target_kind", "target_code", "ts", "aqi").iter_rows() if t == at
    }
    for (kind, code), part in members.partition_by(["area_kind", "area_code"], as_dict=True).items():
        sites = part["site_code"].unique().to_list()
        hit = sorted(s for s in sites if s in alarmed)
        share = len(hit) / len(sites) if sites else 0.0
        aqi = now_aqi.get((kind, code))
        by_members = len(hit) >= p["min_stations"] and share >= p["share"]
        by_area = aqi is not None and aqi > p["area_aqi"]
        if by_members or by_area:
            out.append(
                Trigger(
                    "county_episode",
                    kind,
                    code,
                    "AQI",
                    p["severity"],
                    aqi,
                    p["area_aqi"],
                    at,
                    {"stations_in_alarm": hit, "members": len(sites), "share": round(share, 3)},
                )
            )
    return out


EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius [km] (IUGG) for great-circle distances between stations."""


def neighbour_pairs(positions: pl.DataFrame, *, radius_km: float) -> pl.DataFrame:
    """Station pairs closer than ``radius_km`` (great circle): ``site_code, neighbour, km``.

    ``positions``: ``site_code, lon, lat`` [degrees, WGS-84]; stations without a position have no neighbours.
    """
    pos = positions.select("site_code", "lon", "lat").drop_nulls()
    pairs = pos.join(pos.rename({"site_code": "neighbour", "lon": "lon2", "lat": "lat2"}), how="cross").filter(
        pl.col("site_code") != pl.col("neighbour")
    )
    rad = 3.141592653589793 / 180.0
    dlat = (pl.col("lat2") - pl.col("lat")) * rad
    dlon = (pl.col("lon2") - pl.col("lon")) * rad
    a = (dlat / 2).sin() ** 2 + (pl.col("lat") * rad).cos() * (pl.col("lat2") * rad).cos() * (dlon / 2).sin() ** 2
    km = 2 * EARTH_RADIUS_KM * a.sqrt().arcsin()
    return (
        pairs.with_columns(km.alias("km"))
        .filter(pl.col("km") <= radius_km)
        .select("site_code", "neighbour", "km")
        .sort("site_code", "neighbour")
    )


def neighbour_excess(
    hourly: pl.DataFrame,
    pairs: pl.DataFrame,
    *,
    item: str = "aqi",
    factor: float = 2.0,
    margin: float = 50.0,
    min_neighbours: int = 1,
) -> pl.DataFrame:
    """Per station and hour, whether the station stands out from its neighbours (forecast.md §3.7
    ``neighbour_excess``): value > max(``factor`` × neighbour median, neighbour median + ``margin``).

    Parameters
    ----------
    hourly : pl.DataFrame
        Station hourly rows ``target_code, ts, <item>`` (``aqi`` [1] or a concentration ``c_*`` [µg/m³]).
    pairs : pl.DataFrame
        :func:`neighbour_pairs` (``site_code, neighbour``).
    min_neighbours : int
        Neighbours with a value that hour needed for a median; fewer → ``excess`` null (no verdict).

    Returns
    -------
    pl.DataFrame
        ``target_code, ts, value, median, n_neighbours, bound, excess`` (``bound`` the threshold of that hour).
    """
    vals = hourly.select("target_code", "ts", pl.col(item).cast(pl.Float64).alias("value")).drop_nulls("value")
    nb = (
        vals.join(pairs.select(pl.col("site_code").alias("target_code"), "neighbour"), on="target_code")
        .join(
            vals.select(pl.col("target_code").alias("neighbour"), "ts", pl.col("value").alias("nv")),
            on=["neighbour", "ts"],
        )
        .group_by("target_code", "ts")
        .agg(pl.col("nv").median().alias("median"), pl.len().alias("n_neighbours"))
    )
    out = vals.join(nb, on=["target_code", "ts"], how="left").with_columns(
        pl.col("n_neighbours").fill_null(0).cast(pl.Int64)
    )
    bound = pl.max_horizontal(pl.col("median") * factor, pl.col("median") + margin)
    return (
        out.with_columns(bound.alias("bound"))
        .with_columns(
            pl.when(pl.col("n_neighbours") >= min_neighbours)
            .then(pl.col("value") > pl.col("bound"))
            .otherwise(None)
            .alias("excess")
        )
        .sort("target_code", "ts")
    )


def neighbour_triggers(
    hourly: pl.DataFrame,
    positions: pl.DataFrame,
    *,
    at: datetime,
    params: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> list[Trigger]:
    """``neighbour_excess`` at hour ``at``: the station exceeds its neighbour bound in each of the last ``hours``
    consecutive hours (a missing hour breaks the run), forecast.md §3.7; medium, a grid-task candidate.

    ``hourly``: station rows ``target_kind, target_code, ts, aqi, c_*``; ``positions``: ``site_code, lon, lat``.
    Each station is judged with its own resolved parameters (``params``, :func:`resolve_params`): its radius, item
    and bound; stations sharing a parameter set are judged in one vectorised pass.
    """
    st = hourly.filter(pl.col("target_kind") == "station") if "target_kind" in hourly.columns else hourly
    if st.height == 0:
        return []
    codes = st["target_code"].unique().to_list()
    # group stations by their resolved parameter set so one vectorised pass serves each group
    groups: dict[tuple, list[str]] = {}
    for code in codes:
        p = dict(DEFAULT_RULES["neighbour_excess"], **((params or {}).get(code, {}).get("neighbour_excess", {})))
        if not p.get("enabled", True):
            continue
        key = tuple(sorted((k, str(v)) for k, v in p.items()))
        groups.setdefault(key, []).append(code)
    out: list[Trigger] = []
    for key, members in groups.items():
        p = dict(key)
        item = str(p["item"])
        if item not in NEIGHBOUR_ITEMS:
            raise ValueError(f"neighbour_excess item must be one of {sorted(NEIGHBOUR_ITEMS)}, not {item!r}")
        if item not in st.columns:
            continue
        hours = int(float(p["hours"]))
        pairs = neighbour_pairs(positions, radius_km=float(p["radius_km"]))
        judged = neighbour_excess(
            st,
            pairs,
            item=item,
            factor=float(p["factor"]),
            margin=float(p["margin"]),
            min_neighbours=int(float(p["min_neighbours"])),
        ).filter(pl.col("target_code").is_in(members))
        window = [at - timedelta(hours=i) for i in range(hours)]
        for code, rows in judged.filter(pl.col("ts").is_in(window)).partition_by("target_code", as_dict=True).items():
            by_ts = {r["ts"]: r for r in rows.iter_rows(named=True)}
            if not all(by_ts.get(t) is not None and by_ts[t]["excess"] for t in window):
                continue
            now = by_ts[at]
            out.append(
                Trigger(
                    "neighbour_excess",
                    "station",
                    code[0],
                    NEIGHBOUR_ITEMS[item],
                    str(p["severity"]),
                    float(now["value"]),
                    round(float(now["bound"]), 1),
                    at,
                    {
                        "item": item,
                        "neighbour_median": float(now["median"]),
                        "n_neighbours": int(now["n_neighbours"]),
                        "radius_km": float(p["radius_km"]),
                        "hours": [float(by_ts[t]["value"]) for t in reversed(window)],
                        "bounds": [round(float(by_ts[t]["bound"]), 1) for t in reversed(window)],
                        "neighbours": pairs.filter(pl.col("site_code") == code[0])["neighbour"].to_list(),
                        "grid_task_candidate": True,
                    },
                )
            )
    return out


def imminent_triggers(
    forecast_rows: pl.DataFrame,
    *,
    at: datetime,
    params: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> list[Trigger]:
    """``imminent``: the hourly forecast ``mean`` AQI above ``threshold`` within ``within_hours`` after hour ``at``
    (forecast.md §3.7; medium).

    ``forecast_rows``: hourly AQI rows of the newest usable run, ``target_kind, target_code, valid_start, mean,
    run_id, issue_time``. The window is the hours starting after ``at`` up to ``at + within_hours`` (inclusive);
    a run issued more than ``max_run_age_hours`` before the end of hour ``at`` is too old to alarm on.
    """
    if forecast_rows.height == 0:
        return []
    out: list[Trigger] = []
    end = at + timedelta(hours=1)
    for (kind, code), rows in forecast_rows.partition_by(["target_kind", "target_code"], as_dict=True).items():
        p = dict(DEFAULT_RULES["imminent"], **((params or {}).get(code, {}).get("imminent", {})))
        if not p.get("enabled", True):
            continue
        horizon = at + timedelta(hours=float(p["within_hours"]))
        fresh = rows.filter(pl.col("issue_time") >= end - timedelta(hours=float(p["max_run_age_hours"])))
        ahead = fresh.filter(
            (pl.col("valid_start") > at) & (pl.col("valid_start") <= horizon) & pl.col("mean").is_not_null()
        ).sort("valid_start")
        hit = ahead.filter(pl.col("mean") > float(p["threshold"]))
        if hit.height == 0:
            continue
        first = hit.row(0, named=True)
        peak = hit.sort("mean", descending=True).row(0, named=True)
        out.append(
            Trigger(
                "imminent",
                str(kind),
                str(code),
                "AQI",
                str(p["severity"]),
                round(float(peak["mean"]), 1),
                float(p["threshold"]),
                at,
                {
                    "run_id": int(first["run_id"]),
                    "issue_time": first["issue_time"].isoformat(),
                    "first_exceedance": first["valid_start"].isoformat(),
                    "peak_at": peak["valid_start"].isoformat(),
                    "hours_above": hit.height,
                    "within_hours": float(p["within_hours"]),
                },
            )
        )
    return out


__all__ = [
    "DEFAULT_QUIET",
    "DEFAULT_RULES",
    "NEIGHBOUR_ITEMS",
    "POLLUTANT_OF",
    "SEVERITY_RANK",
    "Trigger",
    "dedupe_key",
    "episode_triggers",
    "imminent_triggers",
    "in_quiet",
    "neighbour_excess",
    "neighbour_pairs",
    "neighbour_triggers",
    "resolve_params",
    "triggers",
]
