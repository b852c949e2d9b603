"""From a finding to a task: source, severity class, category, dedupe match (governance.md §2.2, §3.1).

Pure functions over plain values; :mod:`bogda.grid.tasks` reads the store and applies them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bogda.geo import haversine_km

SOURCES = (
    "fire_point",
    "camera_alert",
    "station_alarm",
    "hotspot_grid",
    "mobile_hotspot",
    "online_monitoring",
    "petition",
    "patrol",
    "upper_dispatch",
    "inspection",
)
SOURCE_NAMES = {
    "fire_point": ("火点", "fire point"),
    "camera_alert": ("视频告警", "camera alert"),
    "station_alarm": ("站点报警", "station alarm"),
    "hotspot_grid": ("热点网格", "hotspot cell"),
    "mobile_hotspot": ("走航热点", "mobile hotspot"),
    "online_monitoring": ("在线监测", "online monitoring"),
    "petition": ("信访举报", "petition"),
    "patrol": ("巡查发现", "patrol"),
    "upper_dispatch": ("上级交办", "upper dispatch"),
    "inspection": ("督察交办", "inspection"),
}
SOURCE_OF_KIND = {
    "fire": "fire_point",
    "alarm": "station_alarm",
    "clue": "online_monitoring",
    "hotspot": "mobile_hotspot",
    "mobile_hotspot": "mobile_hotspot",
    "petition": "petition",
    "patrol": "patrol",
    "inspection": "inspection",
    "warning": "upper_dispatch",
    "advisory": "upper_dispatch",
    "incident": "camera_alert",
}
"""Finding kind → task source (§2.2); ``evidence.source`` on the finding overrides it."""

DEFAULT_SEVERITY = {
    "fire_point": "P1",
    "camera_alert": "P1",
    "station_alarm": "P2",
    "hotspot_grid": "P2",
    "mobile_hotspot": "P2",
    "online_monitoring": "P2",
    "petition": "P3",
    "patrol": "P3",
    "upper_dispatch": "P3",
    "inspection": "P4",
}
SEVERITY_MAP: dict[str, dict[str, str]] = {
    "alarm": {"critical": "P1", "high": "P1", "medium": "P2", "low": "P3"},
    "clue": {"S1": "P1", "S2": "P2", "S3": "P3"},
    "fire": {"critical": "P1", "high": "P1", "medium": "P1", "low": "P2"},
}
"""Finding kind → its own severity → class [D]; explicit P1–P4 pass through; else the source's default."""

DEFAULT_CATEGORY = {
    "fire_point": "burning",
    "camera_alert": "burning",
    "station_alarm": "air",
    "hotspot_grid": "air",
    "mobile_hotspot": "air",
    "online_monitoring": "emission",
    "petition": "other",
    "patrol": "other",
    "upper_dispatch": "other",
    "inspection": "other",
}
CATEGORIES = (
    "burning",
    "air",
    "dust",
    "emission",
    "power",
    "emergency",
    "water",
    "noise",
    "solid_waste",
    "radiation",
    "construction",
    "ecology",
    "other",
)
"""涉气/涉水/噪声/固废/辐射/建设项目/生态/其他 plus the monitoring categories."""

RANK = {"P4": 1, "P3": 2, "P2": 3, "P1": 4}
RELAPSE_DAYS = {"petition": 90}
RELAPSE_DEFAULT_DAYS = 30
MATCH_RADIUS_M = {"fire_point": 1000.0}
MATCH_DEFAULT_M = 500.0


def source_of(kind: str, evidence: Mapping[str, Any] | None = None) -> str:
    """The task source of a finding.

    >>> source_of("alarm"), source_of("hotspot", {"source": "hotspot_grid"})
    ('station_alarm', 'hotspot_grid')
    """
    src = (evidence or {}).get("source")
    if isinstance(src, str) and src in SOURCES:
        return src
    if kind not in SOURCE_OF_KIND:
        raise ValueError(f"finding kind {kind!r} has no task source; known kinds: {sorted(SOURCE_OF_KIND)}")
    return SOURCE_OF_KIND[kind]


def severity_class(kind: str, severity: str, source: str, table: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The class P1–P4 of a finding (§2.2).

    >>> severity_class("alarm", "medium", "station_alarm"), severity_class("alarm", "high", "station_alarm")
    ('P2', 'P1')
    >>> severity_class("petition", "low", "petition")
    'P3'
    """
    if severity in RANK:
        return severity
    mapped = (table or SEVERITY_MAP).get(kind, {}).get(severity)
    return mapped or DEFAULT_SEVERITY[source]


def category_of(source: str, evidence: Mapping[str, Any] | None = None) -> str:
    cat = (evidence or {}).get("category")
    if isinstance(cat, str) and cat in CATEGORIES:
        return cat
    return DEFAULT_CATEGORY[source]


def relapse_window(source: str) -> timedelta:
    """30 d patrol/fire/dust, 90 d petitions [D] (§3.1)."""
    return timedelta(days=RELAPSE_DAYS.get(source, RELAPSE_DEFAULT_DAYS))


@dataclass(frozen=True)
class Candidate:
    """An existing task as dedupe sees it."""

    id: int
    state: str
    source: str
    category: str
    enterprise_id: int | None
    place_id: int | None
    place_is_cell: bool
    lon: float | None
    lat: float | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Probe:
    """The new finding as dedupe sees it."""

    source: str
    category: str
    enterprise_id: int | None
    place_id: int | None
    place_is_cell: bool
    lon: float | None
    lat: float | None


def same_subject(p: Probe, c: Candidate, *, across_sources: bool = False) -> bool:
    """§3.1: same category (and source unless ``across_sources``) and same enterprise, same cell or near."""
    if p.category != c.category or (not across_sources and p.source != c.source):
        return False
    if p.enterprise_id is not None and c.enterprise_id is not None:
        return p.enterprise_id == c.enterprise_id
    if p.place_is_cell and c.place_is_cell and p.place_id is not None and p.place_id == c.place_id:
        return True
    if None not in (p.lon, p.lat, c.lon, c.lat):
        radius = MATCH_RADIUS_M.get(p.source, MATCH_DEFAULT_M)
        return float(haversine_km(p.lon, p.lat, c.lon, c.lat)) * 1000.0 <= radius
    return False


@dataclass(frozen=True)
class Match:
    kind: str  # open | relapse | repeat_of | none
    task_id: int | None = None


def match(p: Probe, candidates: Sequence[Candidate], now: datetime, *, across_sources: bool = False) -> Match:
    """What the finding means for existing tasks (§3.1): attach to an open one, reopen a recently closed one,
    or make a new task that names the earlier one in ``repeat_of``. Newest candidates win."""
    hits = sorted((c for c in candidates if same_subject(p, c, across_sources=across_sources)), key=lambda c: -c.id)
    for c in hits:
        if c.state not in ("CLOSED", "CANCELLED"):
            return Match("open", c.id)
    for c in hits:
        if c.state == "CLOSED" and c.closed_at is not None and now - c.closed_at <= relapse_window(c.source):
            return Match("relapse", c.id)
    if hits:
        return Match("repeat_of", hits[0].id)
    return Match("none")
