"""A demo year (2025) of grid tasks, driven through the real task service (:class:`bogda.grid.tasks.GridService`)
with a controllable clock and a fixed seed, so the reports' grid KPIs (governance.md §3.6) are counted from
task records and their event log, never typed in.

Everything is simulated and marked so: the findings' titles end in 「（模拟）」 and carry ``evidence.simulated``;
the demo users' logins start with ``demo-`` (random passwords, never printed: an administrator resets one to log
in as a grid member). The year is a discrete-event simulation: each finding arrives at its time; what people do
next (dispatch, sign, confirm or 查否, feedback with site photos, review, rework) is drawn from the seed as a
delay or a choice and applied at its time through :meth:`GridService.transition`, in time order over all tasks;
the scheduler's overdue sweep (:meth:`GridService.escalate_overdue`) runs every morning and just after every
deadline a plan is going to miss, so late tasks become overdue, escalate (提级) and get cards as they would in
production. Some tasks are reworked (返工), some not confirmed, a few cancelled as duplicates, a few stall and
stay open past their deadline at the year end; repeats at the same place attach or reopen (relapse) by the
service's own dedupe rules.

Photos are stub JPEGs with EXIF time and GPS (:func:`bogda.grid.exif.write_jpeg`) taken at the task's point
after it was signed, so they pass the evidence checks of governance §3.5.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from bogda.findings import FindingDraft
from bogda.grid.exif import write_jpeg
from bogda.grid.policy import Actor
from bogda.grid.service_base import SYSTEM, GridError, add_grid_place, grant_capability
from bogda.grid.tasks import GridConfig, GridService
from bogda.registry.people import add_user, generate_password
from bogda.store import Store
from bogda.store.schema import place, site, task, user
from bogda.timeutil import BEIJING

log = logging.getLogger(__name__)

YEAR = 2025
DEMO_PREFIX = "demo-"
TITLE_MARK = "（模拟）"
ZHUNDONG_BOX = (88.55, 44.55, 90.35, 45.25)  # special grid (park) overlay: demo points stay outside it

# kind → (share of arrivals, finding kind, severity, evidence, titles)
KINDS: dict[str, tuple[float, str, str, dict[str, Any], tuple[str, ...]]] = {
    "alarm": (0.30, "alarm", "medium", {}, ("PM2.5小时浓度超标报警", "PM10小时浓度异常偏高", "站点浓度显著高于周边")),
    "petition": (
        0.25,
        "petition",
        "low",
        {"channel": "12369"},
        ("群众举报夜间施工噪声扰民", "群众反映企业异味扰民", "群众举报露天焚烧垃圾", "群众反映污水直排"),
    ),
    "patrol": (
        0.30,
        "patrol",
        "P3",
        {"category": "dust"},
        ("巡查发现工地裸土未苫盖", "巡查发现道路扬尘", "巡查发现物料堆场未覆盖"),
    ),
    "fire": (0.15, "fire", "high", {}, ("卫星遥感火点", "秸秆焚烧疑似火点")),
}
FIRE_MONTHS = (3, 4, 5, 9, 10, 11)  # straw and weed burning seasons of northern Xinjiang


@dataclass
class GridYear:
    """What :func:`build_grid_year` did."""

    arrivals: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)
    tasks: int = 0

    def summary(self) -> dict[str, int]:
        return {"findings": self.arrivals, "tasks": self.tasks, **dict(self.outcomes), **dict(self.steps)}


@dataclass
class _Plan:
    """One arrival and the behaviour drawn for the people who handle its task."""

    i: int
    kind: str
    at: datetime
    lon: float
    lat: float
    county: str
    title: str
    cancel: bool
    late_sign: bool
    not_confirmed: bool
    late_feedback: bool
    rework: bool
    stall: bool
    review_by_chief: bool
    task_id: int | None = None
    reworked: bool = False


@dataclass
class _People:
    dispatcher: int
    member: int
    chief: int


def _bj(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=BEIJING).astimezone(UTC)


def _hotspots(store: Store, rng: np.random.Generator, per_county: int) -> dict[str, list[tuple[float, float]]]:
    """``per_county`` fixed points inside each county's outline (outside the Zhundong park), plus the county's
    air stations (where station alarms happen)."""
    with store.engine.connect() as conn:
        counties = conn.execute(
            select(place.c.id, place.c.code, place.c.geometry).where(place.c.kind == "county").order_by(place.c.code)
        ).all()
        stations = conn.execute(
            select(site.c.lon, site.c.lat, site.c.place_id).where(site.c.kind == "air_station")
        ).all()
        parent = dict(conn.execute(select(place.c.id, place.c.parent_id)).all())
    if not counties or any(c.geometry is None for c in counties):
        raise ValueError("the demo grid year needs the region's county outlines: run the demo region first")
    zx0, zy0, zx1, zy1 = ZHUNDONG_BOX
    out: dict[str, list[tuple[float, float]]] = {}
    for c in counties:
        poly = shape(c.geometry)
        x0, y0, x1, y1 = poly.bounds
        pts: list[tuple[float, float]] = []
        while len(pts) < per_county:
            x, y = float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))
            if zx0 <= x <= zx1 and zy0 <= y <= zy1:
                continue
            if poly.contains(Point(x, y)):
                pts.append((round(x, 5), round(y, 5)))
        out[c.code] = pts
    by_id = {c.id: c.code for c in counties}
    for s in stations:
        pid = s.place_id
        while pid is not None and pid not in by_id:
            pid = parent.get(pid)
        if pid is not None and not (zx0 <= s.lon <= zx1 and zy0 <= s.lat <= zy1):
            out[by_id[pid]].append((float(s.lon), float(s.lat)))
    return out


def _people(store: Store, now: datetime) -> _People:
    """The demo users: the prefecture's dispatcher (州网格办, who also reviews), a grid member and a grid chief.

    Member and chief answer for the cells the year's findings fall in (``user_place`` rows added as findings
    arrive), so tasks route to those cells. Three users only: each password is an argon2 hash, the costliest
    part of a demo start-up.
    """
    with store.begin() as conn:
        pref = conn.execute(select(place.c.id).where(place.c.kind == "prefecture").order_by(place.c.id)).scalar()
        have = dict(conn.execute(select(user.c.login, user.c.id).where(user.c.login.like(f"{DEMO_PREFIX}%"))).all())

        def ensure(login: str, roles: list[str], name: str) -> int:
            if login in have:
                return int(have[login])
            uid = add_user(
                conn, login=login, password=generate_password(), roles=roles, display_name=name, scope_place_id=pref
            )
            if login.endswith("chief"):
                grant_capability(conn, uid, "chief", by=SYSTEM, now=now)
            have[login] = uid
            return uid

        return _People(
            ensure(f"{DEMO_PREFIX}dispatcher", ["prefecture_operator"], f"州网格办调度员{TITLE_MARK}"),
            ensure(f"{DEMO_PREFIX}member", ["grid_member"], f"网格员{TITLE_MARK}"),
            ensure(f"{DEMO_PREFIX}chief", ["grid_member"], f"网格长{TITLE_MARK}"),
        )


def _arrivals(
    rng: np.random.Generator, spots: dict[str, list[tuple[float, float]]], year: int, per_month: int
) -> list[_Plan]:
    """The year's findings and the drawn behaviour of their handlers (all from ``rng``)."""
    plans: list[_Plan] = []
    codes = sorted(spots)
    kinds = list(KINDS)
    shares = np.array([KINDS[k][0] for k in kinds])
    for month in range(1, 13):
        first = date(year, month, 1)
        ndays = ((date(year + (month == 12), month % 12 + 1, 1)) - first).days
        winter = month in (1, 2, 11, 12)
        n = int(rng.poisson(per_month * (1.2 if winter else 0.9)))
        for _ in range(n):
            p = shares.copy()
            if month not in FIRE_MONTHS:
                p[kinds.index("fire")] = 0.0
            if winter:
                p[kinds.index("alarm")] *= 1.8
            kind = str(rng.choice(kinds, p=p / p.sum()))
            county = str(rng.choice(codes))
            pts = spots[county]
            x, y = pts[int(rng.integers(0, len(pts)))]
            if kind != "alarm":  # within ~2 km of the hotspot; alarms stay at the station
                x, y = x + float(rng.normal(0, 0.012)), y + float(rng.normal(0, 0.009))
            day = first + timedelta(days=int(rng.integers(0, ndays)))
            at = _bj(day, int(rng.integers(8, 20)), int(rng.integers(0, 60)))
            titles = KINDS[kind][4]
            plans.append(
                _Plan(
                    i=len(plans),
                    kind=kind,
                    at=at,
                    lon=round(x, 5),
                    lat=round(y, 5),
                    county=county,
                    title=f"{titles[int(rng.integers(0, len(titles)))]}{TITLE_MARK}",
                    cancel=bool(rng.random() < 0.03),
                    late_sign=bool(rng.random() < 0.10),
                    not_confirmed=bool(rng.random() < (0.30 if kind == "petition" else 0.12)),
                    late_feedback=bool(rng.random() < 0.10),
                    rework=bool(rng.random() < 0.12),
                    stall=bool(rng.random() < 0.03),
                    review_by_chief=bool(rng.random() < 0.6),
                )
            )
    plans.sort(key=lambda p: p.at)
    for k, p in enumerate(plans):
        p.i = k
    return plans


class _Simulation:
    """Applies the plans in time order (a priority queue of steps)."""

    def __init__(
        self,
        service: GridService,
        people: _People,
        plans: list[_Plan],
        rng: np.random.Generator,
        end: datetime,
        result: GridYear,
    ) -> None:
        self.svc = service
        self.people = people
        self.plans = plans
        self.rng = rng
        self.end = end
        self.result = result
        self.queue: list[tuple[datetime, int, str, int]] = []
        self.seq = 0
        self.actors: dict[int, Actor] = {}
        self.owned: set[int] = set()
        self.signed: dict[int, datetime] = {}
        self.plan_of_task: dict[int, _Plan] = {}

    # --- plumbing ------------------------------------------------------------------------------------------

    def push(self, at: datetime, step: str, key: int) -> None:
        if at < self.end:
            self.seq += 1
            heapq.heappush(self.queue, (at, self.seq, step, key))

    def actor(self, uid: int) -> Actor:
        if uid not in self.actors:
            self.actors[uid] = self.svc.actor(uid)
        return self.actors[uid]

    def minutes(self, lo: float, hi: float) -> timedelta:
        return timedelta(minutes=float(self.rng.uniform(lo, hi)))

    def task(self, tid: int) -> Any:
        with self.svc.store.engine.connect() as conn:
            return conn.execute(select(task).where(task.c.id == tid)).first()

    def before(self, now: datetime, due: datetime | None, late: bool, fallback: timedelta) -> datetime:
        """A moment for the next step: within the running deadline, or after it when the plan is late."""
        if due is None:
            return now + fallback
        if due <= now:  # already missed (an earlier step was late): catch up within hours
            return now + self.minutes(10, 180)
        if late:
            self.push(due + timedelta(minutes=1), "sweep", -1)
            return due + self.minutes(30, 26 * 60)
        room = (due - now).total_seconds() / 60
        return now + self.minutes(min(5.0, room * 0.1), max(room * 0.8, 6.0))

    def own(self, lon: float, lat: float, now: datetime) -> None:
        """The grid member and chief answer for the cell of a new finding (so its task routes to the cell)."""
        cell = self.svc.index.locate(lon, lat)
        if cell is None or cell in self.owned:
            return
        with self.svc.store.begin() as conn:
            for uid in (self.people.member, self.people.chief):
                add_grid_place(conn, uid, cell, by=SYSTEM, now=now)
        # their scope (the prefecture) already covers the cell: the cached actors stay valid
        self.owned.add(cell)

    def photo(self, plan: _Plan, tid: int, now: datetime, stage: str) -> int:
        since = max((now - self.signed[plan.i]).total_seconds() / 60, 1.0)  # taken after signing (§3.5)
        taken = now - self.minutes(min(3.0, since * 0.2), min(20.0, since * 0.8))
        data = write_jpeg(
            taken_at=taken,
            lon=plan.lon + float(self.rng.normal(0, 0.0005)),
            lat=plan.lat + float(self.rng.normal(0, 0.0004)),
            model="demo",
            payload=f"demo-grid-{tid}-{now.isoformat()}-{stage}".encode(),
        )
        ev = self.svc.add_evidence(tid, self.actor(self.people.member), data, "image/jpeg", now=now, stage=stage)
        self.result.steps["photos"] += 1
        return int(ev["id"])

    # --- steps ---------------------------------------------------------------------------------------------

    def run(self) -> None:
        for p in self.plans:
            self.push(p.at, "file", p.i)
        day = self.plans[0].at.astimezone(BEIJING).date() if self.plans else self.end.date()
        while (t := _bj(day, 9)) < self.end:
            self.push(t, "sweep", -1)
            day += timedelta(days=1)
        while self.queue:
            at, _, step, key = heapq.heappop(self.queue)
            try:
                if step == "sweep":
                    self.svc.escalate_overdue(now=at)
                    self.result.steps["sweeps"] += 1
                else:
                    getattr(self, f"_{step}")(self.plans[key], at)
                    self.result.steps[step] += 1
            except GridError as exc:
                # a step the drawn plan made impossible (e.g. the task reopened meanwhile): counted, named
                self.result.skipped.append(f"{step} plan {key} at {at.isoformat()}: {exc}")
                log.info("demo grid step skipped: %s", self.result.skipped[-1])

    def _file(self, p: _Plan, now: datetime) -> None:
        _, kind, severity, evidence, _ = KINDS[p.kind]
        draft = FindingDraft(
            kind=kind,
            severity=severity,
            title=p.title,
            dedupe_key=f"demo-grid-{YEAR}-{p.i}",
            detected_at=now,
            lon=p.lon,
            lat=p.lat,
            evidence={**evidence, "simulated": True},
        )
        self.own(p.lon, p.lat, now)
        who = self.actor(self.people.member) if p.kind == "patrol" else SYSTEM
        out = self.svc.file_finding(draft, now=now, actor=who)
        self.result.arrivals += 1
        self.result.outcomes[out.action] += 1
        if out.action not in ("created", "reopened") or out.task_id is None:
            return  # attached to an open task as a duplicate: that task's own plan goes on
        p.task_id = out.task_id
        previous = self.plan_of_task.get(out.task_id)
        if previous is not None:
            previous.task_id = None  # a relapse: the old plan stops, this one drives the new cycle
        self.plan_of_task[out.task_id] = p
        if p.cancel and out.action == "created":
            self.push(now + self.minutes(5, 40), "cancel", p.i)
        else:
            self.push(now + self.minutes(2, 45 if p.kind in ("alarm", "fire") else 240), "dispatch", p.i)

    def _cancel(self, p: _Plan, now: datetime) -> None:
        if p.task_id is None:
            return
        self.svc.transition(
            p.task_id,
            "cancel",
            self.actor(self.people.dispatcher),
            now=now,
            comment="与已有任务重复（模拟）",
            params={"reason": "duplicate"},
        )

    def _dispatch(self, p: _Plan, now: datetime) -> None:
        if p.task_id is None:
            return
        row = self.svc.transition(p.task_id, "dispatch", self.actor(self.people.dispatcher), now=now)
        self.push(self.before(now, row["sign_due"], p.late_sign, self.minutes(30, 6 * 60)), "sign", p.i)

    def _sign(self, p: _Plan, now: datetime) -> None:
        if p.task_id is None:
            return
        row = self.svc.transition(p.task_id, "sign", self.actor(self.people.member), now=now)
        self.signed[p.i] = now
        site = row["site_due"] or row["feedback_due"] or row["close_due"]
        self.push(self.before(now, site, False, self.minutes(30, 8 * 60)), "verdict", p.i)

    def _verdict(self, p: _Plan, now: datetime) -> None:
        if p.task_id is None:
            return
        member = self.actor(self.people.member)
        shot = self.photo(p, p.task_id, now, "site")
        if p.not_confirmed:
            self.svc.transition(
                p.task_id,
                "not_confirm",
                member,
                now=now,
                attachments=[shot],
                comment="现场核查未发现所反映问题（模拟）",
            )
            self.push(now + self.minutes(60, 30 * 60), "review", p.i)
            return
        row = self.svc.transition(p.task_id, "confirm", member, now=now, attachments=[shot])
        if p.stall:
            return  # never fed back: open and past due at the year end
        due = row["feedback_due"] or row["close_due"]
        self.push(self.before(now, due, p.late_feedback, self.minutes(2 * 60, 3 * 24 * 60)), "feedback", p.i)

    def _feedback(self, p: _Plan, now: datetime) -> None:
        if p.task_id is None:
            return
        shot = self.photo(p, p.task_id, now, "after")
        measures = "已责令整改并复查，问题已解决（模拟）" if not p.reworked else "按审核意见补充整改并复查（模拟）"
        self.svc.transition(
            p.task_id,
            "feedback",
            self.actor(self.people.member),
            now=now,
            attachments=[shot],
            params={"measures": measures},
        )
        self.push(now + self.minutes(30, 40 * 60), "review", p.i)

    def _review(self, p: _Plan, now: datetime) -> None:
        if p.task_id is None:
            return
        who = self.people.chief if p.review_by_chief else self.people.dispatcher
        if p.rework and not p.reworked:
            p.reworked = True
            self.svc.transition(
                p.task_id, "reject", self.actor(who), now=now, comment="整改照片不能反映整改效果，返工（模拟）"
            )
            self.push(now + self.minutes(2 * 60, 48 * 60), "feedback", p.i)
            return
        self.svc.transition(p.task_id, "approve", self.actor(who), now=now, comment="审核通过（模拟）")


def has_grid_year(store: Store) -> bool:
    """Whether the demo grid year is already in ``store`` (its dispatcher exists and tasks were made)."""
    with store.engine.connect() as conn:
        uid = conn.execute(select(user.c.id).where(user.c.login == f"{DEMO_PREFIX}dispatcher")).scalar()
        return uid is not None and bool(conn.execute(select(func.count()).select_from(task)).scalar())


def build_grid_year(
    store: Store,
    *,
    year: int = YEAR,
    seed: int = 2025,
    per_month: int = 20,
    per_county: int = 4,
    data_dir: Path | str = Path("var"),
    end: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> GridYear:
    """Simulate ``year`` of grid tasks in ``store`` (which holds the demo region's places and stations).

    Parameters
    ----------
    per_month : mean findings a month (Poisson; winter months × 1.2, others × 0.9).
    per_county : fixed hotspots per county (plus its air stations); repeats near one attach or reopen.
    data_dir : where the evidence photos are stored (the platform's ``data_dir``).
    end : the clock stops here (default: the year's end, 24:00 Beijing time on 31 December).
    """
    rng = np.random.default_rng(seed)
    end = end or _bj(date(year + 1, 1, 1), 0)
    service = GridService(store, GridConfig(data_dir=Path(data_dir)))
    result = GridYear()
    spots = _hotspots(store, rng, per_county)
    people = _people(store, _bj(date(year, 1, 1), 8))
    plans = _arrivals(rng, spots, year, per_month)
    if progress:
        progress(f"{len(plans)} findings over {year}")
    _Simulation(service, people, plans, rng, end, result).run()
    with store.engine.connect() as conn:
        result.tasks = int(conn.execute(select(func.count()).select_from(task)).scalar() or 0)
    return result
