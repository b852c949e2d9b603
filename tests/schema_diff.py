"""Test helper: reading the differences :func:`alembic.autogenerate.compare_metadata` reports."""

from __future__ import annotations

from typing import Any


def flat(diffs: list[Any]) -> list[tuple[Any, ...]]:
    """The entries of ``compare_metadata``, with its grouped (list) entries unpacked."""
    return [d for group in diffs for d in (group if isinstance(group, list) else [group])]


def table_of(diff: tuple[Any, ...]) -> str | None:
    """The table an entry of ``compare_metadata`` is about."""
    op = diff[0]
    if op in ("add_table", "remove_table"):
        return str(diff[1].name)
    if op in ("add_column", "remove_column") or op.startswith("modify_"):
        return str(diff[2])
    owner = getattr(diff[1], "table", None)
    if owner is None:
        owner = getattr(diff[1], "parent", None)
    return None if owner is None else str(owner.name)
