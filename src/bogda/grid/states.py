"""The state machine of a grid task (governance.md §3.2) as a table; unlisted transitions are rejected.

``TRANSITIONS[(state, event)]`` gives the next state and the permission action (:mod:`bogda.grid.policy`) that
guards it. ``resume`` returns to the state the task was suspended from. Flag events (escalation, card, severity,
duplicates, enterprise responses) append to the event log without changing the state.
"""

from __future__ import annotations

from dataclasses import dataclass

STATES = ("NEW", "DISPATCHED", "ACCEPTED", "HANDLING", "REVIEW", "SUSPENDED", "CLOSED", "REOPENED", "CANCELLED")
OPEN_STATES = frozenset(STATES) - {"CLOSED", "CANCELLED"}
STATE_NAMES = {
    "NEW": ("新建", "new"),
    "DISPATCHED": ("已派单", "dispatched"),
    "ACCEPTED": ("已签收", "accepted"),
    "HANDLING": ("处置中", "handling"),
    "REVIEW": ("待审核", "in review"),
    "SUSPENDED": ("挂账", "suspended"),
    "CLOSED": ("已办结", "closed"),
    "REOPENED": ("重新启动", "reopened"),
    "CANCELLED": ("已撤销", "cancelled"),
}


@dataclass(frozen=True)
class Edge:
    to: str  # "*resume" = back to the suspended-from state
    action: str  # permission action of bogda.grid.policy
    needs_comment: bool = False


TRANSITIONS: dict[tuple[str, str], Edge] = {
    ("NEW", "dispatch"): Edge("DISPATCHED", "dispatch"),
    ("NEW", "cancel"): Edge("CANCELLED", "dispatch", needs_comment=True),
    ("DISPATCHED", "sign"): Edge("ACCEPTED", "work"),
    ("DISPATCHED", "return"): Edge("NEW", "return", needs_comment=True),
    ("ACCEPTED", "confirm"): Edge("HANDLING", "work"),
    ("ACCEPTED", "not_confirm"): Edge("REVIEW", "work", needs_comment=True),
    ("HANDLING", "feedback"): Edge("REVIEW", "work"),
    ("HANDLING", "defer"): Edge("SUSPENDED", "defer", needs_comment=True),
    ("REVIEW", "defer"): Edge("SUSPENDED", "defer", needs_comment=True),
    ("SUSPENDED", "resume"): Edge("*resume", "defer"),
    ("REVIEW", "approve"): Edge("CLOSED", "review"),
    ("REVIEW", "reject"): Edge("HANDLING", "review", needs_comment=True),
    ("CLOSED", "reopen"): Edge("REOPENED", "supervise", needs_comment=True),
    ("REOPENED", "dispatch"): Edge("DISPATCHED", "dispatch"),
}
"""(from, event) → edge, exactly the table of §3.2 (``reopen`` covers relapse and 回头看)."""

EVENTS = tuple(sorted({e for _, e in TRANSITIONS}))

FLAG_EVENTS = {
    "create": "create",  # the task is made (no permission: routing, or a hand-made finding's own check)
    "duplicate_attached": "create",
    "relapse": "create",
    "severity_raised": "create",
    "escalate": "supervise",  # by hand; the scheduler escalates as "system"
    "reset_deadline": "supervise",
    "lower_severity": "dispatch",
    "override_routing": "dispatch",
    "respond": "respond",
    "card": "supervise",
    "evidence": "work",
}
"""Events that never change the state, and the permission action a person needs for them."""

CANCEL_REASONS = ("duplicate", "outside", "invalid")


class TransitionError(Exception):
    """A (state, event) pair outside the table: HTTP 409 with the current state (§4)."""

    def __init__(self, task_id: int, state: str, event: str) -> None:
        allowed = sorted(e for (s, e) in TRANSITIONS if s == state)
        super().__init__(f"task {task_id} is {state}: '{event}' not allowed (allowed: {', '.join(allowed) or 'none'})")
        self.task_id = task_id
        self.state = state
        self.event = event
        self.allowed = allowed


def next_state(task_id: int, state: str, event: str, resume_state: str | None = None) -> tuple[str, Edge]:
    """The state after ``event`` in ``state``; :class:`TransitionError` when the table has no such edge.

    >>> next_state(1, "REVIEW", "reject")[0]
    'HANDLING'
    >>> next_state(1, "SUSPENDED", "resume", "REVIEW")[0]
    'REVIEW'
    """
    edge = TRANSITIONS.get((state, event))
    if edge is None:
        raise TransitionError(task_id, state, event)
    if edge.to == "*resume":
        return (resume_state or "HANDLING"), edge
    return edge.to, edge
