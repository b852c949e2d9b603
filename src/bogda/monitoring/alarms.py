"""Same-day alarms (当日报警), forecast.md §3.7: rules over QA'd hourly data, written as findings only.

Pure core
---------
:func:`triggers` evaluates the per-target rules at one hour from the hourly AQI rows (stations and areas) and the
station status; :func:`episode_triggers` the county-wide episodes from the alarms open after that; :func:`in_quiet`
the quiet hours. Every threshold is a parameter (:data:`DEFAULT_RULES`), overridable per place through the
``alarm_rule`` table (station → county → prefecture → global; the most specific wins, its version goes into the
alarm's evidence).

=================  ===========================================================================  ===========
rule               trigger (defaults)                                                           severity
=================  ===========================================================================  ===========
``aqi_high``       hourly AQI > 200                                                             high
``aqi_elevated``   hourly AQI > 150 for ≥ 2 consecutive valid hours                             medium
``rate_of_rise``   PM2.5 +50 in 1 h or +100 in 3 h, and PM2.5 > 75 [µg/m³]                      medium
``station_offline`` no value for ≥ 3 h while the feed delivers other stations                   low; medium
                   (none when the whole feed is down; none for never-reported stations)        after 24 h
``county_episode`` ≥ 2 evaluation stations and ≥ 50 % of an area's members with an open          high
                   ``aqi_high``/``aqi_elevated`` alarm, or the area hourly AQI > 200
``neighbour_excess`` hourly AQI > max(2 × median of the stations within 10 km, median + 50)       medium
                   for ≥ 2 consecutive hours (a grid-task candidate: evidence names the neighbours)
``imminent``       the newest hourly forecast (``forecast`` table, issued ≤ 3 h ago) has a mean   medium
                   AQI > 200 within the next 6 h, for a station, county or the prefecture
=================  ===========================================================================  ===========

Service
-------
:func:`run_alarms` (HH:05 and after each batch): de-duplication key ``(target, pollutant, rule)``; while open a
repeat updates the alarm (last value, peak, count) and notifies only on escalation; auto-resolve after 2 h below
90 % of the threshold; a missing hour never closes an alarm; cool-down 3 h per key after closing, which a higher
severity bypasses; quiet hours (22:00–07:00 Beijing (d)) hold notifications below ``high`` for a digest
(``high``, escalations and ``county_episode`` notify at once). The engine writes ``finding`` (kind ``alarm``) and
its ``alarm`` detail row — never a task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection

from bogda.monitoring.alarm_rules import (
    DEFAULT_QUIET,
    DEFAULT_RULES,
    NEIGHBOUR_ITEMS,
    SEVERITY_RANK,
    Trigger,
    dedupe_key,
    episode_triggers,
    imminent_triggers,
    in_quiet,
    neighbour_triggers,
    resolve_params,
    triggers,
)
from bogda.monitoring.ingest import TS_DTYPE
from bogda.store import Store
from bogda.timeutil import as_utc

# --- service ---------------------------------------------------------------------------------------------------


@dataclass
class AlarmRun:
    """What :func:`run_alarms` did at ``at``."""

    at: datetime
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    feed_down: bool = False


def _rules_rows(conn: Connection) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from bogda.store.schema import alarm_rule

    return [dict(r._mapping) for r in conn.execute(select(alarm_rule)).all()]


def add_rule(
    store: Store,
    *,
    scope: str,
    rule: str,
    params: Mapping[str, Any],
    scope_code: str = "*",
    enabled: bool = True,
    quiet_hours: Mapping[str, Any] | None = None,
    by: str = "system",
    valid_from: datetime | None = None,
) -> int:
    """Add a new version of a per-place rule (``alarm_rule``); earlier versions stay for the record."""
    from sqlalchemy import func, select

    from bogda.store.schema import alarm_rule
    from bogda.timeutil import now_utc

    if scope not in ("station", "county", "prefecture", "global"):
        raise ValueError(f"scope must be station, county, prefecture or global, not {scope!r}")
    if rule not in DEFAULT_RULES and rule != "quiet_hours":
        raise ValueError(f"unknown alarm rule {rule!r}; known: {sorted(DEFAULT_RULES)}")
    with store.begin() as conn:
        ver = conn.execute(
            select(func.max(alarm_rule.c.version)).where(
                alarm_rule.c.scope == scope, alarm_rule.c.scope_code == scope_code, alarm_rule.c.rule == rule
            )
        ).scalar()
        return int(
            conn.execute(
                alarm_rule.insert()
                .values(
                    scope=scope,
                    scope_code=scope_code,
                    rule=rule,
                    params=dict(params),
                    enabled=enabled,
                    quiet_hours=dict(quiet_hours) if quiet_hours else None,
                    valid_from=valid_from or now_utc(),
                    version=(ver or 0) + 1,
                    updated_by=by,
                )
                .returning(alarm_rule.c.id)
            ).scalar_one()
        )


def _longest(rules: Sequence[Mapping[str, Any]], rule: str, key: str) -> float:
    """The largest value of parameter ``key`` of ``rule`` over the default and every place's row."""
    vals = [float(DEFAULT_RULES[rule][key])]
    vals += [float((r.get("params") or {})[key]) for r in rules if r["rule"] == rule and key in (r.get("params") or {})]
    return max(vals)


def read_forecast_aqi(store: Store, *, at: datetime, within_hours: float = 6) -> pl.DataFrame:
    """Hourly AQI forecast rows of the newest usable run issued by the end of hour ``at``, for the hours starting
    after ``at`` up to ``at + within_hours``: ``target_kind, target_code, valid_start, mean, run_id, issue_time``.

    Reads the ``forecast`` / ``forecast_run`` tables only (the forecast capability writes them; monitoring does not
    import it). A ``failed`` run is never used; no run → an empty frame (``imminent`` stays silent).
    """
    from sqlalchemy import select

    from bogda.store.schema import forecast, forecast_run

    schema = {
        "target_kind": pl.String,
        "target_code": pl.String,
        "valid_start": TS_DTYPE,
        "mean": pl.Float64,
        "run_id": pl.Int64,
        "issue_time": TS_DTYPE,
    }
    end = at + timedelta(hours=1)
    with store.engine.connect() as conn:
        run = conn.execute(
            select(forecast_run.c.id, forecast_run.c.issue_time)
            .where(
                forecast_run.c.issue_time <= end,
                forecast_run.c.status != "failed",
                forecast_run.c.kind != "backtest",
                forecast_run.c.id.in_(
                    select(forecast.c.run_id).where(forecast.c.item == "AQI", forecast.c.resolution == "hour")
                ),
            )
            .order_by(forecast_run.c.issue_time.desc(), forecast_run.c.id.desc())
            .limit(1)
        ).first()
        if run is None:
            return pl.DataFrame(schema=schema)
        rows = conn.execute(
            select(forecast.c.target_kind, forecast.c.target_code, forecast.c.valid_start, forecast.c.mean).where(
                forecast.c.run_id == run.id,
                forecast.c.item == "AQI",
                forecast.c.resolution == "hour",
                forecast.c.valid_start > at,
                forecast.c.valid_start <= at + timedelta(hours=within_hours),
            )
        ).all()
    issued = as_utc(run.issue_time, naive="utc")
    return pl.DataFrame(
        [(k, c, as_utc(v, naive="utc"), m, run.id, issued) for k, c, v, m in rows], schema=schema, orient="row"
    )


def run_alarms(store: Store, *, at: datetime | None = None, now: datetime | None = None) -> AlarmRun:
    """Evaluate the alarm rules for hour ``at`` (default: the last complete hour before ``now``) and file findings.

    Reads ``aqi_hourly`` (stations and areas, the last 4 h), the station status at the end of the hour and the
    open alarms; writes ``alarm`` rows and ``finding`` rows of kind ``alarm`` only.
    """
    from sqlalchemy import select

    from bogda.findings import FindingDraft, raise_finding, set_status
    from bogda.monitoring.load import read_qa
    from bogda.monitoring.qa import DEFAULT_CONFIG, station_status, with_config
    from bogda.monitoring.stations import area_members, place_tree, station_county, station_sites
    from bogda.store.schema import alarm, aqi_hourly, finding
    from bogda.timeutil import epoch_seconds, floor_to, now_utc

    now = now or now_utc()
    at = at or floor_to(now, "hour") - timedelta(hours=1)
    end = at + timedelta(hours=1)
    run = AlarmRun(at)
    with store.engine.connect() as conn:
        rules = _rules_rows(conn)
    # enough hours for the longest run any rule or place asks for (3 h rate of rise, neighbour runs)
    look = max(
        [3, int(DEFAULT_RULES["neighbour_excess"]["hours"])]
        + [int(float((r.get("params") or {}).get("hours", 0))) for r in rules if r["rule"] == "neighbour_excess"]
    )
    lo = epoch_seconds(at - timedelta(hours=look))
    conc = [c for c in NEIGHBOUR_ITEMS if c != "aqi"]
    with store.engine.connect() as conn:
        res = conn.execute(
            select(
                aqi_hourly.c.target_kind,
                aqi_hourly.c.target_code,
                aqi_hourly.c.ts,
                aqi_hourly.c.aqi,
                *[aqi_hourly.c[c] for c in conc],
            ).where(aqi_hourly.c.ts >= lo, aqi_hourly.c.ts <= epoch_seconds(at))
        ).all()
    hourly = pl.DataFrame(
        res,
        schema={
            "target_kind": pl.String,
            "target_code": pl.String,
            "ts": pl.Int64,
            "aqi": pl.Int64,
            **dict.fromkeys(conc, pl.Float64),
        },
        orient="row",
    ).with_columns(pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC"))
    sites = station_sites(store)
    county = station_county(store)
    members = area_members(store)
    prefecture_of = {
        sid: code
        for sid, kind, code in members.select("site_id", "area_kind", "area_code").iter_rows()
        if kind == "prefecture"
    }
    code_to_id = dict(zip(sites["code"].to_list(), sites["site_id"].to_list(), strict=True))
    # where a finding is: a station at its coordinates and place, an area at its place (the grid routes by it)
    places = place_tree(store)
    names = dict(zip(places["code"].to_list(), places["name"].to_list(), strict=True))
    names |= dict(zip(sites["code"].to_list(), sites["name"].to_list(), strict=True))
    area_place = dict(zip(places["code"].to_list(), places["place_id"].to_list(), strict=True))
    station_at = {r["code"]: (r["place_id"], r["lon"], r["lat"]) for r in sites.iter_rows(named=True)}
    params: dict[str, dict[str, dict[str, Any]]] = {}
    versions: dict[str, dict[str, str]] = {}
    quiet_of: dict[str, Mapping[str, Any]] = {}
    for code, sid in code_to_id.items():
        params[code], versions[code] = resolve_params(
            rules, station=code, county=county.get(sid, (None, None))[0], prefecture=prefecture_of.get(sid), at=at
        )
        quiet_of[code] = params[code].get("quiet_hours", DEFAULT_QUIET) or DEFAULT_QUIET
    for kind, code in members.select("area_kind", "area_code").unique().iter_rows():
        params[code], versions[code] = resolve_params(
            rules, county=code if kind == "county" else None, prefecture=code if kind == "prefecture" else None, at=at
        )
        quiet_of[code] = params[code].get("quiet_hours", DEFAULT_QUIET) or DEFAULT_QUIET
    # station status at the end of the hour, from the last day of values
    obs = read_qa(store, start=end - timedelta(hours=30), end=end, now=now)
    frame = obs.select(
        pl.col("site_id")
        .replace_strict(dict(zip(sites["site_id"], sites["code"], strict=True)), return_dtype=pl.String)
        .alias("site_code"),
        "ts",
        "parameter",
        "value",
        pl.lit("hour").alias("resolution"),
    )
    ever = set()
    with store.engine.connect() as conn:
        from bogda.store.schema import latest, series

        ever = {
            r[0] for r in conn.execute(select(series.c.site_id).join(latest, latest.c.series_id == series.c.id)).all()
        }
    # "no value for ≥ 3 h": QA's offline test is strict (> offline_hours), the alarm's is not
    cfg = with_config(DEFAULT_CONFIG, offline_hours=DEFAULT_RULES["station_offline"]["hours"] - 1e-6)
    status = station_status(frame, now=end, sites=[c for c, i in code_to_id.items() if i in ever], config=cfg)
    run.feed_down = bool(status["feed_down"].any()) if status.height else False
    trig = triggers(hourly, at=at, params=params, status=status)
    # placeholders (network unregistered) have no position and so no neighbours
    positions = sites.select(pl.col("code").alias("site_code"), "lon", "lat")
    trig += neighbour_triggers(hourly, positions, at=at, params=params)
    upcoming = read_forecast_aqi(store, at=at, within_hours=_longest(rules, "imminent", "within_hours"))
    trig += imminent_triggers(upcoming, at=at, params=params)
    forecast_targets = set(upcoming["target_code"].to_list())
    # open alarms
    with store.engine.connect() as conn:
        live = [
            dict(r._mapping)
            for r in conn.execute(select(alarm).where(alarm.c.state.in_(["open", "acknowledged", "dispatched"]))).all()
        ]
    live_by_key = {a["dedupe_key"]: a for a in live}
    st_in_alarm = {t.target_code for t in trig if t.target_kind == "station" and t.rule in ("aqi_high", "aqi_elevated")}
    st_in_alarm |= {
        a["target_code"] for a in live if a["target_kind"] == "station" and a["rule"] in ("aqi_high", "aqi_elevated")
    }
    ep = episode_triggers(
        pl.DataFrame({"target_code": sorted(st_in_alarm)}, schema={"target_code": pl.String}),
        members.select(pl.col("code").alias("site_code"), "area_kind", "area_code"),
        hourly.filter(pl.col("target_kind") != "station"),
        at=at,
        params=DEFAULT_RULES["county_episode"],
    )
    trig += ep
    fired = {t.key: t for t in trig}
    engine = DEFAULT_RULES["_engine"]
    with store.begin() as conn:
        _feed_event(conn, run, status, at=at, now=now)
        for key, t in fired.items():
            sid = code_to_id.get(t.target_code) if t.target_kind == "station" else None
            pid, lon, lat = station_at.get(t.target_code, (None, None, None)) if sid else (None, None, None)
            where = {"place_id": pid if sid else area_place.get(t.target_code), "lon": lon, "lat": lat}
            evidence = {
                "rule": t.rule,
                "value": t.value,
                "threshold": t.threshold,
                "hour": at.isoformat(),
                "param_version": versions.get(t.target_code, {}).get(t.rule, "default"),
                "detail": t.detail,
            }
            cur = live_by_key.get(key)
            if cur is not None:
                peak = cur["peak_value"]
                newpeak = t.value is not None and (peak is None or t.value > peak)
                escalate = SEVERITY_RANK[t.severity] > SEVERITY_RANK.get(cur["severity"], 0)
                conn.execute(
                    alarm.update()
                    .where(alarm.c.id == cur["id"])
                    .values(
                        last_seen_at=at,
                        last_value=t.value,
                        count=cur["count"] + 1,
                        below_hours=0,
                        peak_value=t.value if newpeak else peak,
                        peak_time=at if newpeak else cur["peak_time"],
                        severity=t.severity if escalate else cur["severity"],
                    )
                )
                raise_finding(
                    conn,
                    FindingDraft(
                        "alarm",
                        t.severity if escalate else cur["severity"],
                        _title(t, names),
                        key,
                        detected_at=at,
                        subject_site_id=sid,
                        **where,
                        evidence=evidence,
                        cooldown=timedelta(hours=engine["cooldown_hours"]),
                    ),
                    now=now,
                )
                run.updated.append(key)
                if escalate:
                    run.escalated.append(key)
                    run.notify.append(key)
                continue
            # cool-down of a recently closed alarm with the same key
            last = conn.execute(
                select(alarm)
                .where(alarm.c.dedupe_key == key, alarm.c.state.in_(["resolved", "closed"]))
                .order_by(alarm.c.id.desc())
                .limit(1)
            ).first()
            if last is not None and last.closed_at is not None:
                in_cool = at < last.closed_at + timedelta(hours=engine["cooldown_hours"])
                higher = SEVERITY_RANK[t.severity] > SEVERITY_RANK.get(last.severity, 0)
                if in_cool and not higher:
                    conn.execute(alarm.update().where(alarm.c.id == last.id).values(count=last.count + 1))
                    run.suppressed.append(key)
                    continue
                if in_cool and higher and last.finding_id is not None:
                    fst = conn.execute(select(finding.c.status).where(finding.c.id == last.finding_id)).scalar()
                    if fst in ("resolved", "dismissed"):
                        set_status(
                            conn,
                            last.finding_id,
                            "open",
                            by="alarm-engine",
                            reason=f"escalated to {t.severity} inside the cool-down",
                            now=now,
                        )
            out = raise_finding(
                conn,
                FindingDraft(
                    "alarm",
                    t.severity,
                    _title(t, names),
                    key,
                    detected_at=at,
                    subject_site_id=sid,
                    **where,
                    evidence=evidence,
                    cooldown=timedelta(hours=engine["cooldown_hours"]),
                ),
                now=now,
            )
            quiet = in_quiet(at, quiet_of.get(t.target_code, DEFAULT_QUIET))
            held = quiet and SEVERITY_RANK[t.severity] < SEVERITY_RANK["high"] and t.rule != "county_episode"
            conn.execute(
                alarm.insert().values(
                    finding_id=out.finding_id,
                    dedupe_key=key,
                    rule=t.rule,
                    target_kind=t.target_kind,
                    target_code=t.target_code,
                    pollutant=t.pollutant,
                    severity=t.severity,
                    state="open",
                    opened_at=at,
                    last_seen_at=at,
                    last_value=t.value,
                    peak_value=t.value,
                    peak_time=at,
                    threshold=t.threshold,
                    count=1,
                    below_hours=0,
                    notified_severity=None if held else t.severity,
                    held=held,
                    param_version=evidence["param_version"],
                )
            )
            run.created.append(key)
            (run.held if held else run.notify).append(key)
        # resolution of the alarms that did not fire
        now_vals = {
            (k, c): (a, p)
            for k, c, ts, a, p in hourly.select("target_kind", "target_code", "ts", "aqi", "c_pm25").iter_rows()
            if ts == at
        }
        online = {c for c, s in status.select("site_code", "status").iter_rows() if s == "online"}
        for a in live:
            if a["dedupe_key"] in fired:
                continue
            resolve = False
            if a["rule"] == "station_offline":
                resolve = a["target_code"] in online
            elif a["rule"] in ("neighbour_excess", "imminent"):
                # no fixed threshold to fall below: the rule not firing on an hour with data (a forecast for
                # ``imminent``) counts towards the resolve run; a missing hour still closes nothing
                if a["rule"] == "imminent":
                    seen = a["target_code"] in forecast_targets
                else:
                    seen = (a["target_kind"], a["target_code"]) in now_vals
                if not seen:
                    continue
                hours = a["below_hours"] + 1
                resolve = hours >= engine["resolve_hours"]
                conn.execute(alarm.update().where(alarm.c.id == a["id"]).values(below_hours=hours))
            else:
                v = now_vals.get((a["target_kind"], a["target_code"]))
                if v is None:
                    continue  # a missing hour never closes an alarm
                value = v[1] if a["rule"] == "rate_of_rise" else v[0]
                thr = a["threshold"] or 0
                below = value is not None and value < engine["resolve_share"] * thr
                hours = a["below_hours"] + 1 if below else 0
                resolve = hours >= engine["resolve_hours"]
                conn.execute(alarm.update().where(alarm.c.id == a["id"]).values(below_hours=hours))
            if resolve:
                conn.execute(alarm.update().where(alarm.c.id == a["id"]).values(state="resolved", closed_at=at))
                if a["finding_id"] is not None:
                    fst = conn.execute(select(finding.c.status).where(finding.c.id == a["finding_id"])).scalar()
                    if fst in ("open", "acknowledged", "dispatched"):
                        set_status(
                            conn,
                            a["finding_id"],
                            "resolved",
                            by="alarm-engine",
                            reason="auto-resolved",
                            cooldown=timedelta(hours=engine["cooldown_hours"]),
                            now=now,
                        )
                run.resolved.append(a["dedupe_key"])
        # episode children: hold the member notifications while an episode is open
        for t in sorted(ep, key=lambda e: e.target_kind != "prefecture"):  # the county link wins
            hit = t.detail.get("stations_in_alarm", [])
            if hit:
                parent = conn.execute(
                    select(alarm.c.id).where(alarm.c.dedupe_key == t.key, alarm.c.state == "open")
                ).scalar()
                conn.execute(
                    alarm.update()
                    .where(
                        alarm.c.target_kind == "station",
                        alarm.c.target_code.in_(hit),
                        alarm.c.state.in_(["open", "acknowledged"]),
                        alarm.c.rule.in_(["aqi_high", "aqi_elevated"]),
                    )
                    .values(parent_id=parent)
                )
    return run


FEED_DOWN_KEY = "ops:feed_down:air_stations"
"""Dedupe key of the one ops event raised while the whole station feed is silent (monitoring.md §3.2)."""


def _feed_event(conn: Connection, run: AlarmRun, status: pl.DataFrame, *, at: datetime, now: datetime) -> None:
    """One ``incident`` finding (an ops event, not an alarm) while every station of the feed is silent ≥ 2 h
    (d); station alarms are suppressed meanwhile. Resolved when any station reports again."""
    from sqlalchemy import select

    from bogda.findings import LIVE, FindingDraft, raise_finding, set_status
    from bogda.store.schema import finding

    if run.feed_down:
        silent = status["silent_hours"].drop_nulls()
        hours = float(silent.min()) if silent.len() else None
        raise_finding(
            conn,
            FindingDraft(
                "incident",
                "medium",
                "空气站数据源中断：所有站点均无数据" + (f"（已 {hours:.0f} 小时）" if hours is not None else ""),
                FEED_DOWN_KEY,
                detected_at=at,
                evidence={
                    "rule": "feed_down",
                    "silent_hours": hours,
                    "stations": status.height,
                    "hour": at.isoformat(),
                    "note": "ops event: the source delivered no station; station offline alarms are suppressed",
                },
            ),
            now=now,
        )
        return
    live = conn.execute(
        select(finding.c.id).where(finding.c.dedupe_key == FEED_DOWN_KEY, finding.c.status.in_(LIVE))
    ).scalars()
    for fid in list(live):
        set_status(conn, fid, "resolved", by="alarm-engine", reason="the station feed delivers again", now=now)


def _title(t: Trigger, names: Mapping[str, str]) -> str:
    """The finding's title: the station or area by its name and code, then what happened."""
    name = names.get(t.target_code)
    who = f"{name}（{t.target_code}）" if name and name != t.target_code else t.target_code
    text = {
        "aqi_high": f"{who} 小时AQI {t.value:.0f} 超过 {t.threshold:.0f}",
        "aqi_elevated": f"{who} 小时AQI 连续超过 {t.threshold:.0f}",
        "rate_of_rise": f"{who} PM2.5 快速上升至 {t.value:.0f} µg/m³",
        "station_offline": f"{who} 离线 {t.value:.0f} 小时",
        "county_episode": f"{who} 区域性污染过程",
        "neighbour_excess": f"{who} 明显高于周边站点（{t.value:.0f}，限值 {t.threshold:.0f}）",
        "imminent": f"{who} 预报 {t.detail.get('within_hours', 6):.0f} 小时内 AQI 将超过 {t.threshold:.0f}",
    }
    return text.get(t.rule, f"{who} {t.rule}")


def acknowledge(store: Store, alarm_id: int, *, by: str, note: str | None = None, now: datetime | None = None) -> None:
    """The duty officer acknowledges an alarm (its finding goes to ``acknowledged``)."""
    from sqlalchemy import select

    from bogda.findings import set_status
    from bogda.store.schema import alarm, finding
    from bogda.timeutil import now_utc

    now = now or now_utc()
    with store.begin() as conn:
        row = conn.execute(select(alarm).where(alarm.c.id == alarm_id)).first()
        if row is None:
            raise LookupError(f"alarm {alarm_id} does not exist")
        if row.state != "open":
            raise ValueError(f"alarm {alarm_id} is {row.state}, not open")
        conn.execute(alarm.update().where(alarm.c.id == alarm_id).values(state="acknowledged", ack_by=by, ack_at=now))
        if row.finding_id is not None:
            st = conn.execute(select(finding.c.status).where(finding.c.id == row.finding_id)).scalar()
            if st == "open":
                set_status(conn, row.finding_id, "acknowledged", by=by, reason=note, now=now)


def digest(store: Store, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Alarms whose notification was held during quiet hours: returned once (as the digest) and released."""
    from sqlalchemy import select

    from bogda.store.schema import alarm

    with store.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(alarm).where(alarm.c.held.is_(True))).all()]
        if rows:
            conn.execute(
                alarm.update()
                .where(alarm.c.id.in_([r["id"] for r in rows]))
                .values(held=False, notified_severity=alarm.c.severity)
            )
    return rows


def list_alarms(store: Store, *, states: Sequence[str] | None = None, limit: int = 200) -> pl.DataFrame:
    """Alarm rows, newest first."""
    from sqlalchemy import select

    from bogda.store.schema import alarm

    q = select(alarm).order_by(alarm.c.id.desc()).limit(limit)
    if states:
        q = q.where(alarm.c.state.in_(list(states)))
    with store.engine.connect() as conn:
        res = conn.execute(q)
        return pl.DataFrame([dict(r._mapping) for r in res.all()], infer_schema_length=None)


__all__ = [
    "DEFAULT_QUIET",
    "DEFAULT_RULES",
    "AlarmRun",
    "Trigger",
    "acknowledge",
    "add_rule",
    "dedupe_key",
    "digest",
    "episode_triggers",
    "imminent_triggers",
    "in_quiet",
    "list_alarms",
    "neighbour_triggers",
    "read_forecast_aqi",
    "resolve_params",
    "run_alarms",
    "triggers",
]
