"""Users of the console tests: a prefecture operator who may issue warnings and one who may not."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bogda.registry.people import add_user
from bogda.store.schema import place, user_capability


def add_issuer_and_reader(
    conn: Any,
    issuer: tuple[str, str],
    reader: tuple[str, str],
    place_code: str = "652300",
    *,
    capability: str = "warning_issuer",
) -> None:
    """Two prefecture operators scoped to ``place_code``: ``issuer`` with ``capability`` (``warning_issuer`` also
    allows entering source shares and adopting PMF runs; ``forecaster`` publishes the daily forecast), ``reader``
    without it; each a (login, password)."""
    pref = conn.execute(select(place.c.id).where(place.c.code == place_code)).scalar_one()
    uid = add_user(conn, login=issuer[0], password=issuer[1], roles=["prefecture_operator"], scope_place_id=pref)
    conn.execute(user_capability.insert().values(user_id=uid, capability=capability))
    add_user(conn, login=reader[0], password=reader[1], roles=["prefecture_operator"], scope_place_id=pref)
