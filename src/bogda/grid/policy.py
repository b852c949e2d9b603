"""Who may do what, where: the role × action matrix of governance.md §3.12 as versioned data.

Cells are scope codes: ``S`` the user's place subtree (an escalated task is also in scope of its supervising
place), ``G`` tasks owned by the user's grid places (and below) or created by the user, ``E`` objects whose subject
is the user's enterprise, ``A`` all, ``r`` read only (everything), ``-`` refused. Footnotes are suffixes:
``S2`` only tasks owned by the county office itself, ``S3`` only enforcement categories, ``E1`` only tasks a
dispatcher marked ``visible_to_enterprise`` (never petitions), ``Gp`` patrol findings only, ``Gc`` with the
``chief`` capability, ``Sw`` with ``warning_issuer``, ``Sl`` with ``ledger_clerk``. Review is never allowed on a
task whose feedback the same user submitted (four-eyes, footnote 4) — checked in :func:`decide`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

POLICY_VERSION = "2026.1"
ROLE_ORDER = (
    "prefecture_operator",
    "county_operator",
    "grid_member",
    "enforcement_officer",
    "enterprise_user",
    "viewer",
    "admin",
)

MATRIX: dict[str, tuple[str, ...]] = {
    # action:          pref  county grid   enf   ent   viewer admin
    "view": ("S", "S", "G", "S", "E1", "S", "r"),
    "create_finding": ("S", "S", "Gp", "S", "-", "-", "-"),
    "dispatch": ("S", "S", "-", "-", "-", "-", "-"),
    "return": ("-", "S", "G", "-", "-", "-", "-"),
    "work": ("-", "S2", "G", "S3", "-", "-", "-"),
    "respond": ("-", "-", "-", "-", "E1", "-", "-"),
    "defer": ("S", "S", "Gc", "-", "-", "-", "-"),
    "review": ("S", "S", "Gc", "S3", "-", "-", "-"),
    "supervise": ("S", "S", "-", "-", "-", "-", "-"),
    "clues": ("r", "r", "-", "S", "-", "r", "-"),
    "ledgers": ("Sl", "Sl", "-", "S", "-", "r", "-"),
    "view_cems": ("S", "S", "-", "S", "E", "S", "r"),
    "cems_marks": ("-", "-", "-", "-", "E", "-", "-"),
    "warnings": ("Sw", "-", "-", "-", "-", "-", "-"),
    "sla_config": ("S", "-", "-", "-", "-", "-", "A"),
    "monitoring_export": ("S", "S", "G", "S", "E", "S", "A"),
    "users": ("-", "-", "-", "-", "-", "-", "A"),
    "audit_log": ("r", "r", "-", "-", "-", "-", "A"),
}
"""governance §3.12, row by row (version :data:`POLICY_VERSION`)."""

ACTIONS = tuple(MATRIX)
TASK_ACTIONS = ("view", "dispatch", "return", "work", "respond", "defer", "review", "supervise")
ENFORCEMENT_SOURCES = frozenset({"online_monitoring"})
ENFORCEMENT_CATEGORIES = frozenset({"emission", "power", "emergency", "online_monitoring"})
CAPABILITIES = ("chief", "ledger_clerk", "warning_issuer")


def cell(role: str, action: str) -> str:
    """The matrix cell for ``role`` × ``action`` (``-`` for an unknown role).

    >>> cell("grid_member", "review"), cell("admin", "dispatch")
    ('Gc', '-')
    """
    if action not in MATRIX:
        raise KeyError(f"unknown action {action!r}; expected one of {ACTIONS}")
    return MATRIX[action][ROLE_ORDER.index(role)] if role in ROLE_ORDER else "-"


@dataclass(frozen=True)
class Actor:
    """A person acting: their roles and what their scopes resolve to (``places`` None = every place)."""

    user_id: int | None
    login: str
    roles: tuple[str, ...]
    scope_place_id: int | None = None
    places: frozenset[int] | None = frozenset()
    grid_places: frozenset[int] = frozenset()
    enterprise_id: int | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)
    sees_unplaced: bool = False  # scoped at a top-level place: also tasks outside every place (§6)


@dataclass(frozen=True)
class Target:
    """What an action applies to: a task (or a place where a finding is filed)."""

    place_id: int | None = None
    supervising_place_id: int | None = None
    created_by: int | None = None
    enterprise_id: int | None = None
    visible_to_enterprise: bool = False
    source: str | None = None
    category: str | None = None
    feedback_by: int | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    cell: str = "-"


def _in(places: frozenset[int] | None, pid: int | None) -> bool:
    return places is None or (pid is not None and pid in places)


def _check_cell(code: str, actor: Actor, action: str, t: Target) -> str | None:
    """``None`` when ``code`` admits the target, else why not."""
    letter, note = code[:1], code[1:]
    if letter == "-":
        return "not allowed for this role"
    if letter in ("A", "r"):
        return None
    if note == "c" and "chief" not in actor.capabilities:
        return "needs the grid chief (网格长) capability"
    if note == "w" and "warning_issuer" not in actor.capabilities:
        return "needs the warning issuer capability"
    if note == "l" and "ledger_clerk" not in actor.capabilities:
        return "needs the ledger clerk capability"
    if note == "p" and t.source not in (None, "patrol"):
        return "grid members may only report patrol findings"
    if letter == "S":
        if t.place_id is None and t.supervising_place_id is None and actor.sees_unplaced:
            return None if note not in ("2", "3") else "task has no place"
        if not (
            _in(actor.places, t.place_id)
            or (t.supervising_place_id is not None and _in(actor.places, t.supervising_place_id))
        ):
            return "outside the user's place scope"
        if note == "2" and t.place_id != actor.scope_place_id:
            return "county operators work only tasks owned by the county office itself"
        if note == "3" and not (t.source in ENFORCEMENT_SOURCES or t.category in ENFORCEMENT_CATEGORIES):
            return "enforcement officers work only enforcement categories (online monitoring, power, emergency)"
        return None
    if letter == "G":
        if t.created_by is not None and t.created_by == actor.user_id:
            return None
        if t.place_id is not None and t.place_id in actor.grid_places:
            return None
        return "task not owned by the user's grid"
    if letter == "E":
        if actor.enterprise_id is None or t.enterprise_id != actor.enterprise_id:
            return "not about the user's enterprise"
        if note == "1" and (not t.visible_to_enterprise or t.source == "petition"):
            return "task not released to the enterprise"
        return None
    return f"unknown scope code {code!r}"


def decide(actor: Actor, action: str, target: Target | None = None) -> Decision:
    """May ``actor`` do ``action`` on ``target``? Any of the actor's roles may grant it.

    ``target`` None asks whether the role may do the action anywhere (menus, list endpoints).
    """
    t = target or Target()
    reasons: list[str] = []
    for role in actor.roles:
        code = cell(role, action)
        if code == "-":
            reasons.append(f"{role}: not allowed for this role")
            continue
        if target is None:
            why = None if code[1:] != "c" or "chief" in actor.capabilities else "needs the grid chief capability"
        else:
            why = _check_cell(code, actor, action, t)
        if (
            why is None
            and action == "review"
            and target is not None
            and t.feedback_by is not None
            and t.feedback_by == actor.user_id
        ):
            why = "four-eyes: the user submitted this task's feedback"
        if why is None:
            return Decision(True, "ok", code)
        reasons.append(f"{role}: {why}")
    return Decision(False, f"{action} refused: " + "; ".join(reasons or ["user has no role"]))


def readable_roles(roles: Iterable[str]) -> tuple[str, ...]:
    return tuple(r for r in roles if r in ROLE_ORDER)
