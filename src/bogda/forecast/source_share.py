"""The emission-based estimate of an emergency-reduction list (基于排放的估算; forecast.md §3.9 step 6, §3.10).

"For A/B/C/D emergency lists also show the emission-based estimate: Δconc ≈ local share (source apportionment) ×
emission cut." The local shares are data the bureau enters from its own source-apportionment study (源解析,
``source_share``), typed in from the bureau's study or adopted by an analyst from a stored ESAT PMF run
(:mod:`bogda.tracing.runs`, governance.md §3.11): bogda holds no share of its own, and an area without one says so
(未配置源解析结果) instead of showing a number.

Pure core: :func:`season_order`, :func:`choose_study`, :func:`source_cuts`, :func:`emission_estimate`,
:func:`estimate_text`. Store side: :func:`add_source_share`, :func:`list_source_shares`,
:func:`delete_source_share`, :func:`episode_concentration`, :func:`list_estimate`.

Sector → source category (:data:`SECTOR_SOURCE`, a documented default): the registry's sectors (``SECTORS`` of
:mod:`bogda.registry.sites`) are put in the category whose PM2.5 a source-apportionment study would assign their
emissions to — power plants and heating boilers burn coal for energy (燃煤源); coal chemistry, coking, cement,
steel, non-ferrous, chemical and building-material plants emit mainly from their processes (工业源); the rest is
``other``. Studies differ (some put coking under coal combustion): the mapping follows the categories of the study
entered, so a bureau whose study groups differently enters its shares accordingly. Traffic, dust, biomass and
secondary shares have no listed enterprise: their cut is 0 (transport bans do not cut a factory's stack emissions,
and secondary formation is not modelled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bogda import audit
from bogda.store import Store
from bogda.store.schema import aqi_daily, emergency_list, emergency_list_item, forecast, place, source_share
from bogda.store.schema import warning as warning_table
from bogda.timeutil import beijing_date, day_start_utc, epoch_seconds, now_utc

SOURCES = ("industry", "coal", "traffic", "dust", "biomass", "secondary", "other", "local")
"""Source categories of a study; ``local`` is the total local share (本地排放贡献) when the study gives no split."""

SOURCE_ZH = {
    "industry": "工业源",
    "coal": "燃煤源",
    "traffic": "移动源",
    "dust": "扬尘源",
    "biomass": "生物质燃烧",
    "secondary": "二次生成",
    "other": "其他",
    "local": "本地排放合计",
}

SEASONS = ("heating", "non_heating", "heavy", "all")
SEASON_ZH = {"heating": "采暖季", "non_heating": "非采暖季", "heavy": "重污染过程", "all": "全年"}

POLLUTANTS = ("PM2.5", "PM10", "SO2", "NO2")
"""Concentrations an estimate can be made for. O3 is not one: its response to NOx and VOCs cuts is non-linear."""

EMISSION_OF = {"PM2.5": "PM", "PM10": "PM", "SO2": "SO2", "NO2": "NOx"}
"""The list's emission pollutant (SO2, NOx, PM, VOCs; forecast.md §3.10) that forms each concentration directly:
PM2.5 and PM10 take the primary particulate (颗粒物) cut; the precursors' secondary PM is not modelled."""

CONC_ITEM = {"PM2.5": "a34004", "PM10": "a34002", "SO2": "a21026", "NO2": "a21004"}
"""HJ 212 code of each concentration in the ``forecast`` table."""

_DAILY_COLUMN = {"PM2.5": "c_pm25", "PM10": "c_pm10", "SO2": "c_so2", "NO2": "c_no2"}

SECTOR_SOURCE: dict[str, str] = {
    "power": "coal",
    "boiler": "coal",
    "coal_chemical": "industry",
    "coking": "industry",
    "cement": "industry",
    "steel": "industry",
    "nonferrous": "industry",
    "chemical": "industry",
    "building_materials": "industry",
    "wastewater": "other",
    "other": "other",
}
"""Enterprise sector → source category (documented default, see the module docstring); unknown sectors → other."""

PERFORMANCE_GRADES = ("A", "B", "B-", "C", "D")
"""The performance grades (环保绩效分级) that make a list an "A/B/C/D list" (forecast.md §3.9 step 6)."""

HEATING_MONTHS = (11, 12, 1, 2, 3)
NON_HEATING_MONTHS = (5, 6, 7, 8, 9)
"""Months inside / outside every northern heating season (d): no prefecture heating-season dates are configured
(forecast.md §2 "Calendar": configuration, no default), so April and October episodes use only ``heavy`` and
``all`` rows."""

ENTRY_FIELDS = (
    "area_code",
    "pollutant",
    "source",
    "season",
    "share",
    "share_low",
    "share_high",
    "source_doc",
    "study_year",
    "note",
)
"""The fields a user enters for one share, named as :func:`add_source_share` names them (also in its errors)."""

LABEL_ZH = "基于排放的估算"
NOT_CONFIGURED_ZH = "未配置源解析结果"
LIMITS_ZH = "线性近似；仅计本地源解析份额；假定清单企业即该类源的全部本地排放（偏上限）；未模拟前体物的二次生成"
LIMITS_EN = (
    "linear approximation; local shares only; assumes the listed enterprises are the whole local emission of their "
    "source category (an upper bound); secondary formation from precursors not modelled"
)


# --------------------------------------------------------------------------------------------------------------
# Pure core
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """One source category's share of a concentration, with its optional interval (all 0..1)."""

    source: str
    share: float
    share_low: float | None = None
    share_high: float | None = None


@dataclass(frozen=True)
class Cut:
    """The list's fractional emission cut of the listed enterprises of one source category."""

    source: str
    reduction: float  # [t/d]
    baseline: float  # [t/d]
    sectors: tuple[str, ...]

    @property
    def fraction(self) -> float | None:
        """reduction / baseline, or None without a baseline."""
        return self.reduction / self.baseline if self.baseline > 0 else None


@dataclass
class Estimate:
    """Δconc ≈ C × Σ share × cut for one concentration (forecast.md §3.9 step 6)."""

    pollutant: str
    emission_pollutant: str
    basis: str  # sources | local
    relative: float | None  # Σ share × cut: the share of the concentration removed
    relative_low: float | None
    relative_high: float | None
    concentration: float | None  # C [µg/m³]
    delta: float | None  # [µg/m³]
    delta_low: float | None
    delta_high: float | None
    terms: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"  # ok | no_baseline

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def season_order(days: Sequence[date]) -> tuple[str, ...]:
    """Seasons whose study rows fit an episode, best first.

    A warning's list is for a heavy-pollution episode, so a study of heavy-pollution days (``heavy``) fits best,
    then the whole-year result (``all``), then the episode's season when every day of it is unambiguously in or out
    of the heating season (:data:`HEATING_MONTHS`, (d)).

    >>> season_order([date(2026, 12, 30), date(2027, 1, 2)])
    ('heavy', 'all', 'heating')
    >>> season_order([date(2026, 7, 1)]), season_order([date(2026, 10, 31), date(2026, 11, 1)])
    (('heavy', 'all', 'non_heating'), ('heavy', 'all'))
    """
    out: tuple[str, ...] = ("heavy", "all")
    months = {d.month for d in days}
    if months and months <= set(HEATING_MONTHS):
        out += ("heating",)
    elif months and months <= set(NON_HEATING_MONTHS):
        out += ("non_heating",)
    return out


def choose_study(rows: Iterable[Mapping[str, Any]], pollutant: str, seasons: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of one study to use: the first season of ``seasons`` with rows, and within it the newest study
    (``study_year``, then ``entered_at``): shares of different studies are never mixed, their sum would mean
    nothing.

    >>> rows = [
    ...     {"id": 1, "pollutant": "PM2.5", "season": "all", "source": "coal", "source_doc": "A", "study_year": 2019},
    ...     {"id": 2, "pollutant": "PM2.5", "season": "all", "source": "coal", "source_doc": "B", "study_year": 2023},
    ...     {"id": 3, "pollutant": "PM2.5", "season": "heating", "source": "coal", "source_doc": "C"},
    ... ]
    >>> [r["id"] for r in choose_study(rows, "PM2.5", ("heavy", "all"))], choose_study(rows, "PM10", ("all",))
    ([2], [])
    """
    pool = [dict(r) for r in rows if r["pollutant"] == pollutant]
    for season in seasons:
        cand = [r for r in pool if r["season"] == season]
        if not cand:
            continue
        newest = max(cand, key=lambda r: (r.get("study_year") or 0, _sortable(r.get("entered_at")), r.get("id") or 0))
        doc = newest["source_doc"]
        return sorted((r for r in cand if r["source_doc"] == doc), key=lambda r: SOURCES.index(r["source"]))
    return []


def _sortable(ts: Any) -> float:
    return ts.timestamp() if isinstance(ts, datetime) else 0.0


def source_cuts(
    reduction_by_sector: Mapping[str, Mapping[str, float]],
    baseline_by_sector: Mapping[str, Mapping[str, float]],
    emission_pollutant: str,
    mapping: Mapping[str, str] = SECTOR_SOURCE,
) -> dict[str, Cut]:
    """Sum a list's required reductions and baselines [t/d] of one emission pollutant per source category.

    >>> cuts = source_cuts({"power": {"PM": 1.0}, "boiler": {"PM": 0.5}, "cement": {"PM": 2.0}},
    ...                    {"power": {"PM": 4.0}, "boiler": {"PM": 1.0}, "cement": {"PM": 4.0}}, "PM")
    >>> cuts["coal"].fraction, cuts["coal"].sectors, cuts["industry"].fraction
    (0.3, ('boiler', 'power'), 0.5)
    """
    red: dict[str, float] = {}
    base: dict[str, float] = {}
    sectors: dict[str, set[str]] = {}
    for sector in set(reduction_by_sector) | set(baseline_by_sector):
        src = mapping.get(sector, "other")
        red[src] = red.get(src, 0.0) + float((reduction_by_sector.get(sector) or {}).get(emission_pollutant, 0.0))
        base[src] = base.get(src, 0.0) + float((baseline_by_sector.get(sector) or {}).get(emission_pollutant, 0.0))
        sectors.setdefault(src, set()).add(sector)
    return {s: Cut(s, red[s], base[s], tuple(sorted(sectors[s]))) for s in red}


def emission_estimate(
    shares: Sequence[Share],
    cuts: Mapping[str, Cut],
    concentration: float | None,
    *,
    pollutant: str = "PM2.5",
) -> Estimate:
    """Δconc ≈ C × Σ_sources share_source × cut_source (forecast.md §3.9 step 6).

    Parameters
    ----------
    shares : sequence of Share
        One study's shares of the concentration by source category (:func:`choose_study`). With category rows,
        the ``local`` row (if any) is not used; with only a ``local`` row the cut is that of all listed
        enterprises together.
    cuts : mapping of source category → Cut
        The list's reductions and baselines of the emission pollutant per category (:func:`source_cuts`).
    concentration : float or None
        C [µg/m³], the forecast (or observed) concentration of the warning's episode; None gives only the
        relative figure.
    pollutant : str
        The concentration (``PM2.5``, ``PM10``, ``SO2``, ``NO2``); its emission pollutant is
        :data:`EMISSION_OF`.

    Returns
    -------
    Estimate
        ``relative`` = Σ share × cut [0..1], ``delta`` = C × relative [µg/m³]; ``*_low`` / ``*_high`` from
        ``share_low`` / ``share_high`` (a row without them contributes its point share to both bounds; no interval
        when no row has one). ``status`` is ``no_baseline`` when the listed enterprises have no baseline of the
        emission pollutant (no cut can be formed).

    Notes
    -----
    What this is not, said plainly:

    - **Linear**: the concentration is taken as proportional to each category's emission, so a cut of x % of a
      category removes x % of its share. Real responses are not linear (chemistry, meteorology, stack heights).
    - **Local share only**: only the shares the study attributes to local source categories respond; regional
      transport is untouched. A category's cut is that of the listed enterprises, as if they were the category's
      whole local emission; unlisted emitters of the category (small boilers, households) make the real cut
      smaller, so the figure is an upper bound of what the list can do.
    - **Primary only**: PM2.5 and PM10 take the primary particulate cut; the secondary PM2.5 formed from SO2, NOx,
      VOCs and NH3 is not modelled (a ``secondary`` share gets cut 0), nor is ozone.
    - It is an estimate from emissions for the list, not a measured effect: the measured effect of interventions
      is the days-avoided evaluation (§3.9 steps 1–5).

    Examples
    --------
    >>> cuts = {"coal": Cut("coal", 1.5, 5.0, ("power",)), "industry": Cut("industry", 2.0, 4.0, ("cement",))}
    >>> e = emission_estimate([Share("coal", 0.3, 0.25, 0.35), Share("industry", 0.2, 0.15, 0.25)], cuts, 200.0)
    >>> round(e.relative, 4), round(e.delta, 2), round(e.delta_low, 2), round(e.delta_high, 2)
    (0.19, 38.0, 30.0, 46.0)
    """
    emission = EMISSION_OF[pollutant]
    categories = [s for s in shares if s.source != "local"]
    basis = "sources" if categories else "local"
    if categories:
        used = [(s, cuts.get(s.source)) for s in categories]
    else:
        # only a local total: the cut of every listed enterprise together
        red = sum(c.reduction for c in cuts.values())
        base = sum(c.baseline for c in cuts.values())
        sectors = tuple(sorted({x for c in cuts.values() for x in c.sectors}))
        used = [(s, Cut("local", red, base, sectors)) for s in shares if s.source == "local"]
    has_baseline = any(c is not None and c.baseline > 0 for _, c in used)
    terms = []
    rel = lo = hi = 0.0
    interval = any(s.share_low is not None or s.share_high is not None for s, _ in used)
    for s, c in used:
        frac = (c.fraction if c is not None else None) or 0.0
        rel += s.share * frac
        lo += (s.share if s.share_low is None else s.share_low) * frac
        hi += (s.share if s.share_high is None else s.share_high) * frac
        terms.append(
            {
                "source": s.source,
                "share": s.share,
                "share_low": s.share_low,
                "share_high": s.share_high,
                "cut": None if c is None else c.fraction,
                "reduction_t_per_day": 0.0 if c is None else round(c.reduction, 6),
                "baseline_t_per_day": 0.0 if c is None else round(c.baseline, 6),
                "sectors": [] if c is None else list(c.sectors),
                "contribution": round(s.share * frac, 6),
            }
        )
    if not has_baseline:
        none = (None, None, None)
        return Estimate(pollutant, emission, basis, *none, concentration, *none, terms, "no_baseline")
    r_lo, r_hi = (lo, hi) if interval else (None, None)

    def times_c(v: float | None) -> float | None:
        return None if v is None or concentration is None else concentration * v

    return Estimate(
        pollutant,
        emission,
        basis,
        rel,
        r_lo,
        r_hi,
        concentration,
        times_c(rel),
        times_c(r_lo),
        times_c(r_hi),
        terms,
    )


_STATUS_TEXT = {
    "not_configured": (NOT_CONFIGURED_ZH, "no source-apportionment result configured"),
    "no_fitting_season": (
        "未配置适用于本次过程季节的源解析结果",
        "no source-apportionment result for this episode's season",
    ),
    "not_applicable": ("清单中无 A/B/C/D 绩效分级企业，不作估算", "no A/B/C/D-graded enterprise on the list"),
    "no_sector_baselines": (
        "清单缺少分行业基准排放量（本功能之前生成），重新生成清单后显示",
        "the list has no per-sector baselines (frozen before this feature); rebuild it",
    ),
}


def estimate_text(payload: Mapping[str, Any], lang: str = "zh", *, label: bool = True) -> list[str]:
    """One line per concentration of a list's estimate (:func:`list_estimate`), for the page and the workbook
    (``label=False`` leaves out the leading 基于排放的估算, for a workbook row that has it in its first cell).

    >>> estimate_text({"status": "not_configured", "area_code": "652323"})
    ['基于排放的估算：未配置源解析结果（652323）']
    >>> estimate_text({"status": "not_configured", "area_code": "652323", "area_name": "呼图壁县"}, label=False)
    ['未配置源解析结果（呼图壁县）']
    """
    zh = lang != "en"
    head = LABEL_ZH if zh else "Emission-based estimate"
    sep, colon = ("；", "：") if zh else ("; ", ": ")
    if not label:
        head, colon = "", ""
    status = payload.get("status")
    if status in _STATUS_TEXT:
        tail = _STATUS_TEXT[status][0 if zh else 1]
        area = payload.get("area_name") or payload.get("area_code")
        where = f"（{area}）" if zh else f" ({area})"
        return [f"{head}{colon}{tail}{where}"]
    out = []
    for e in payload.get("estimates") or []:
        study = e.get("study") or {}
        season = study.get("season", "")
        if zh:
            src = f"源解析：{study.get('source_doc', '')}（{study.get('area_code')}，{SEASON_ZH.get(season, season)}）"
        else:
            src = f"source apportionment: {study.get('source_doc', '')} ({study.get('area_code')}, {season})"
        p = e["pollutant"]
        if e["status"] == "no_baseline":
            msg = (
                "清单企业缺少该污染物的基准排放量，无法估算"
                if zh
                else "the listed enterprises have no baseline emission"
            )
            out.append(f"{head}{colon}{p}{colon if label else ' '}{msg}{sep}{src}")
            continue
        pct = f"{100 * e['relative']:.1f}%"
        if e["relative_low"] is not None:
            pct += f" ({100 * e['relative_low']:.1f}%–{100 * e['relative_high']:.1f}%)"
        if e["delta"] is not None:
            rng = "" if e["delta_low"] is None else f" ({e['delta_low']:.1f}–{e['delta_high']:.1f})"
            origin = e.get("concentration_origin")
            if zh:
                origin = {"forecast": "预报", "observed": "实况"}.get(origin or "", origin)
                d = f"Δ{p} ≈ −{e['delta']:.1f}{rng} µg/m³，约 {pct}（C = {e['concentration']:.0f} µg/m³，{origin}）"
            else:
                d = f"Δ{p} ≈ −{e['delta']:.1f}{rng} µg/m³, about {pct} (C = {e['concentration']:.0f} µg/m³, {origin})"
        else:
            d = f"Δ{p} 约 −{pct}（无过程浓度）" if zh else f"Δ{p} about −{pct} (no episode concentration)"
        out.append(f"{head}{colon}{d}{sep}{src}{sep}{LIMITS_ZH if zh else LIMITS_EN}")
    return out


# --------------------------------------------------------------------------------------------------------------
# Store side: the shares
# --------------------------------------------------------------------------------------------------------------


class SourceShareError(ValueError):
    """A share that cannot be stored; ``field`` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _fraction(name: str, v: Any, *, required: bool) -> float | None:
    if v is None:
        if required:
            raise SourceShareError(name, "is required (a fraction 0–1)")
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise SourceShareError(name, f"must be a number 0–1, got {v!r}")
    f = float(v)
    if not 0.0 <= f <= 1.0:
        raise SourceShareError(name, f"must be a fraction 0–1 (e.g. 0.32 for 32 %), got {f}")
    return f


def add_source_share(store: Store, area_code: str, source: str, share: float, **fields: Any) -> int:
    """Store one share from the bureau's source-apportionment study; returns its id (audited).

    The fields and checks are those of :func:`insert_source_share`, in a transaction of its own.
    """
    with store.begin() as conn:
        return insert_source_share(conn, area_code, source, share, **fields)


def insert_source_share(
    conn: Any,
    area_code: str,
    source: str,
    share: float,
    *,
    source_doc: str,
    pollutant: str = "PM2.5",
    season: str = "all",
    share_low: float | None = None,
    share_high: float | None = None,
    study_year: int | None = None,
    note: str | None = None,
    by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Insert one share on an open connection (several shares of a study in one transaction: all or none).

    :class:`SourceShareError` names the field at fault: unknown area, pollutant, source or season; a share outside
    0–1 or outside its interval; no source document; a second row of the same source in the same study; category
    shares of one study summing above 1.
    """
    if pollutant not in POLLUTANTS:
        raise SourceShareError("pollutant", f"{pollutant!r} unknown; expected one of {', '.join(POLLUTANTS)}")
    if source not in SOURCES:
        raise SourceShareError("source", f"{source!r} unknown; expected one of {', '.join(SOURCES)}")
    if season not in SEASONS:
        raise SourceShareError("season", f"{season!r} unknown; expected one of {', '.join(SEASONS)}")
    s = _fraction("share", share, required=True)
    lo = _fraction("share_low", share_low, required=False)
    hi = _fraction("share_high", share_high, required=False)
    assert s is not None  # _fraction raised when the share is missing
    if lo is not None and lo > s:
        raise SourceShareError("share_low", f"{lo} is above the share {s}")
    if hi is not None and hi < s:
        raise SourceShareError("share_high", f"{hi} is below the share {s}")
    doc = (source_doc or "").strip()
    if not doc:
        raise SourceShareError("source_doc", "name the source-apportionment study the share comes from (源解析报告)")
    if study_year is not None and (isinstance(study_year, bool) or not 1990 <= int(study_year) <= 2100):
        raise SourceShareError("study_year", f"{study_year!r} is not a plausible year")
    now = now or now_utc()
    if conn.execute(select(place.c.id).where(place.c.code == area_code)).first() is None:
        raise SourceShareError("area_code", f"{area_code!r} is not a place of the registry")
    same = conn.execute(
        select(source_share.c.source, source_share.c.share).where(
            source_share.c.area_code == area_code,
            source_share.c.pollutant == pollutant,
            source_share.c.season == season,
            source_share.c.source_doc == doc,
        )
    ).all()
    if any(r.source == source for r in same):
        raise SourceShareError("source", f"this study already has a {source} share for {area_code} {season}")
    total = sum(r.share for r in same if r.source != "local") + (s if source != "local" else 0.0)
    if total > 1.0 + 1e-9:
        raise SourceShareError("share", f"the study's category shares would sum to {total:.3f} > 1")
    sid = conn.execute(
        source_share.insert()
        .values(
            area_code=area_code,
            pollutant=pollutant,
            source=source,
            season=season,
            share=s,
            share_low=lo,
            share_high=hi,
            source_doc=doc,
            study_year=None if study_year is None else int(study_year),
            note=note,
            entered_by=by,
            entered_at=now,
        )
        .returning(source_share.c.id)
    ).scalar_one()
    audit.record(
        conn,
        action="source_share.add",
        login=by,
        target=f"source_share:{sid}",
        detail={"area_code": area_code, "pollutant": pollutant, "source": source, "season": season, "share": s},
        at=now,
    )
    return int(sid)


def list_source_shares(
    store: Store, *, area_code: str | None = None, pollutant: str | None = None
) -> list[dict[str, Any]]:
    """Stored shares, by area, pollutant, season, study and source."""
    q = select(source_share)
    if area_code is not None:
        q = q.where(source_share.c.area_code == area_code)
    if pollutant is not None:
        q = q.where(source_share.c.pollutant == pollutant)
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    return sorted(
        rows, key=lambda r: (r["area_code"], r["pollutant"], r["season"], r["source_doc"], SOURCES.index(r["source"]))
    )


def delete_source_share(store: Store, share_id: int, *, by: str | None = None) -> None:
    """Delete a share entered by mistake (audited); ``LookupError`` when there is none with that id."""
    with store.begin() as conn:
        if not conn.execute(source_share.delete().where(source_share.c.id == share_id)).rowcount:
            raise LookupError(f"source share {share_id} does not exist")
        audit.record(conn, action="source_share.delete", login=by, target=f"source_share:{share_id}")


# --------------------------------------------------------------------------------------------------------------
# Store side: the estimate of a list
# --------------------------------------------------------------------------------------------------------------


def _area_chain(conn: Any, area_code: str) -> list[str]:
    """The area and its ancestors (a county's list may use the prefecture's study)."""
    rows = {r.id: r for r in conn.execute(select(place.c.id, place.c.code, place.c.parent_id))}
    by_code = {r.code: r for r in rows.values()}
    out, cur, seen = [], by_code.get(area_code), set()
    while cur is not None and cur.id not in seen:
        seen.add(cur.id)
        out.append(cur.code)
        cur = rows.get(cur.parent_id) if cur.parent_id is not None else None
    return out or [area_code]


def episode_concentration(
    store: Store, warning: Mapping[str, Any], pollutant: str = "PM2.5"
) -> tuple[float | None, str | None]:
    """C [µg/m³] of the warning's episode and its origin: the mean of the daily forecast ``mean`` of the warning's
    run over the episode days it covers (the primary method: a LightGBM set, else damped persistence, as served),
    else the mean observed daily concentration (``aqi_daily``) of the episode days so far, else (None, None)."""
    days = _days(warning["start_date"], warning["end_date"])
    item = CONC_ITEM[pollutant]
    with store.engine.connect() as conn:
        if warning.get("run_id") is not None:
            rows = conn.execute(
                select(forecast.c.method, forecast.c.valid_start, forecast.c.mean).where(
                    forecast.c.run_id == warning["run_id"],
                    forecast.c.target_code == warning["area_code"],
                    forecast.c.item == item,
                    forecast.c.resolution == "day",
                )
            ).all()
            methods = {r.method for r in rows}
            primary = next((m for m in sorted(methods) if m.startswith("lgbm")), "damped_persistence")
            vals = [
                float(r.mean)
                for r in rows
                if r.method == primary and r.mean is not None and beijing_date(r.valid_start) in days
            ]
            if vals:
                return sum(vals) / len(vals), "forecast"
        col = aqi_daily.c[_DAILY_COLUMN[pollutant]]
        obs = conn.execute(
            select(col).where(
                aqi_daily.c.target_code == warning["area_code"],
                aqi_daily.c.ts >= epoch_seconds(day_start_utc(min(days))),
                aqi_daily.c.ts < epoch_seconds(day_start_utc(max(days) + timedelta(days=1))),
                col.is_not(None),
            )
        ).scalars()
        vals = [float(v) for v in obs]
    if vals:
        return sum(vals) / len(vals), "observed"
    return None, None


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def list_estimate(store: Store, list_id: int, items: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The emission-based estimate of a stored list (forecast.md §3.9 step 6), as JSON for the API, page and workbook.

    ``status``: ``ok`` (``estimates``: one per pollutant the area's study covers), ``not_configured`` (no share
    for the area or its ancestors: 未配置源解析结果), ``no_fitting_season`` (shares, but none of a season that
    fits the episode, :func:`season_order`), ``not_applicable`` (no A/B/C/D-graded enterprise on the
    list), ``no_sector_baselines`` (a list frozen before the per-sector baselines were kept). Computed when shown,
    from the shares stored now, so a study entered after the list was frozen is used.
    """
    with store.engine.connect() as conn:
        head = conn.execute(select(emergency_list).where(emergency_list.c.id == list_id)).mappings().first()
        if head is None:
            raise LookupError(f"emergency list {list_id} does not exist")
        w = conn.execute(select(warning_table).where(warning_table.c.id == head["warning_id"])).mappings().first()
        chain = _area_chain(conn, head["area_code"])
        area_name = conn.execute(select(place.c.name).where(place.c.code == head["area_code"])).scalar()
    if items is None:
        with store.engine.connect() as conn:
            items = [
                dict(r)
                for r in conn.execute(
                    select(emergency_list_item.c.grade).where(emergency_list_item.c.list_id == list_id)
                ).mappings()
            ]
    base: dict[str, Any] = {
        "label_zh": LABEL_ZH,
        "area_code": head["area_code"],
        "area_name": area_name,
        "limits_zh": LIMITS_ZH,
    }
    if not any(i.get("grade") in PERFORMANCE_GRADES for i in items):
        return base | {"status": "not_applicable", "estimates": []}
    rows: list[dict[str, Any]] = []
    share_area = None
    for code in chain:
        rows = list_source_shares(store, area_code=code)
        if rows:
            share_area = code
            break
    if not rows:
        return base | {"status": "not_configured", "estimates": []}
    totals = head["totals"] or {}
    if "baseline_by_sector" not in totals:
        return base | {"status": "no_sector_baselines", "estimates": []}
    days = _days(w["start_date"], w["end_date"]) if w is not None else []
    seasons = season_order(days)
    estimates = []
    for pollutant in POLLUTANTS:
        study = choose_study(rows, pollutant, seasons)
        if not study:
            continue
        cuts = source_cuts(totals.get("by_sector") or {}, totals["baseline_by_sector"], EMISSION_OF[pollutant])
        conc, origin = episode_concentration(store, w, pollutant) if w is not None else (None, None)
        est = emission_estimate(
            [Share(r["source"], r["share"], r["share_low"], r["share_high"]) for r in study],
            cuts,
            conc,
            pollutant=pollutant,
        )
        estimates.append(
            est.as_json()
            | {
                "concentration_origin": origin,
                "unit": "µg/m³",
                "study": {
                    "area_code": share_area,
                    "season": study[0]["season"],
                    "source_doc": study[0]["source_doc"],
                    "study_year": study[0]["study_year"],
                    "share_ids": [r["id"] for r in study],
                },
            }
        )
    if not estimates:
        # shares exist for the area, but none for a season that fits this episode
        return base | {"status": "no_fitting_season", "estimates": [], "seasons_tried": list(seasons)}
    return base | {"status": "ok", "estimates": estimates}


__all__ = [
    "CONC_ITEM",
    "EMISSION_OF",
    "LABEL_ZH",
    "NOT_CONFIGURED_ZH",
    "POLLUTANTS",
    "SEASONS",
    "SECTOR_SOURCE",
    "SOURCES",
    "Cut",
    "Estimate",
    "Share",
    "SourceShareError",
    "add_source_share",
    "choose_study",
    "delete_source_share",
    "emission_estimate",
    "episode_concentration",
    "estimate_text",
    "list_estimate",
    "list_source_shares",
    "season_order",
    "source_cuts",
]
