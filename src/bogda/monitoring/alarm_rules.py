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
}


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


__all__ = [
    "DEFAULT_QUIET",
    "DEFAULT_RULES",
    "POLLUTANT_OF",
    "SEVERITY_RANK",
    "Trigger",
    "dedupe_key",
    "episode_triggers",
    "in_quiet",
    "resolve_params",
    "triggers",
]
