"""Migration 0007 (the ledger branch) and the schema module agree, on SQLite and PostgreSQL; and 0007 is frozen
(its tables are written out, not read from the schema module)."""

from __future__ import annotations

import ast
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String

import bogda.store.migrations as migrations
from bogda.store import Store
from bogda.store.schema import metadata
from schema_diff import flat, table_of

MIGRATION = Path(migrations.__file__).parent / "versions" / "0007_ledger.py"


def _tables() -> tuple[str, ...]:
    tree = ast.parse(MIGRATION.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "TABLES":
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("0007 has no TABLES")


def _ledger_diffs(store: Store, target: MetaData) -> list[tuple]:  # type: ignore[type-arg]
    tables = _tables()
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, target)
    return [d for d in flat(diffs) if table_of(d) in tables]


def test_0007_agrees_with_the_schema(store: Store) -> None:
    assert set(_tables()) >= {"rectification", "petition", "case_ledger", "quota_allocation", "ledger_event", "report"}
    assert _ledger_diffs(store, metadata) == []


def test_the_check_sees_a_schema_change(store: Store) -> None:
    """A column added to a ledger table in the schema module alone is a difference (the check can fail)."""
    changed = MetaData(naming_convention=metadata.naming_convention)
    for t in metadata.sorted_tables:
        t.to_metadata(changed)
    changed.tables["petition"].append_column(Column("new_field", String(8)))
    diffs = _ledger_diffs(store, changed)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "petition", "new_field")]


def test_0007_creates_its_tables_without_the_schema_module() -> None:
    src = MIGRATION.read_text(encoding="utf-8")
    tree = ast.parse(src)
    imported = {
        a.name if isinstance(n, ast.Import) else (n.module or "")
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in (n.names if isinstance(n, ast.Import) else [n])  # type: ignore[attr-defined]
    }
    assert not any(m.startswith("bogda") for m in imported), imported
    created = [
        n.args[0].value
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "create_table"
    ]
    assert tuple(created) == _tables()
