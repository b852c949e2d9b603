from __future__ import annotations

import pytest

from bogda.grid.policy import MATRIX, ROLE_ORDER, Actor, Target, cell, decide

SPEC_ROWS = {  # governance §3.12, as printed (footnotes folded into the codes documented in bogda.grid.policy)
    "dispatch": "S S - - - - -",
    "return": "- S G - - - -",
    "review": "S S Gc S3 - - -",
    "users": "- - - - - - A",
    "audit_log": "r r - - - - A",
    "sla_config": "S - - - - - A",
}


@pytest.mark.parametrize(("action", "row"), SPEC_ROWS.items())
def test_matrix_rows(action: str, row: str) -> None:
    assert " ".join(MATRIX[action]) == row


def test_every_row_has_every_role() -> None:
    assert all(len(v) == len(ROLE_ORDER) for v in MATRIX.values())
    with pytest.raises(KeyError):
        cell("admin", "fly")


def test_unknown_role_refused_with_reason() -> None:
    d = decide(Actor(1, "x", ("pilot",)), "view", Target(place_id=1))
    assert not d.allowed and "pilot" in d.reason


def test_supervising_place_brings_escalated_task_into_scope() -> None:
    a = Actor(1, "c", ("county_operator",), scope_place_id=2, places=frozenset({2, 3}))
    assert not decide(a, "review", Target(place_id=9)).allowed
    assert decide(a, "review", Target(place_id=9, supervising_place_id=2)).allowed
