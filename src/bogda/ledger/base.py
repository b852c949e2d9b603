"""The ledger engine (governance.md §3.7): field specs, validation, create/update/list with an append-only event log.

Each ledger is a :class:`Ledger` (its table, its fields with Chinese column names, cross-field checks and checks
against other records). Every row also carries the common fields of governance §3.7 (county GB/T 2260 code, org,
status, 文号, attachments by SHA-256, ``simulated``). Writes append a ``ledger_event`` and an ``audit`` row in the
same transaction. Bad input raises :class:`LedgerError` naming every field at fault; nothing is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.exc import IntegrityError

from bogda import audit
from bogda.store import Store
from bogda.store.schema import ledger_event
from bogda.timeutil import as_utc, now_utc, parse_time, to_beijing

Problem = tuple[str, str]
"""(field key, reason)."""


class LedgerError(ValueError):
    """A record was refused; ``problems`` lists ``(field, reason)`` pairs."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{f}: {r}" if f else r for f, r in self.problems))


@dataclass(frozen=True)
class Field:
    """One ledger field.

    ``kind``: ``str``, ``text``, ``int``, ``float`` (``minimum`` applies), ``date`` (Beijing calendar day),
    ``datetime`` (stored aware UTC; a naive text is Beijing time), ``bool``, ``list`` (of strings; ``;`` in Excel),
    ``json`` (a dict; JSON text in Excel).
    """

    key: str
    zh: str
    kind: str = "str"
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    aliases: tuple[str, ...] = ()
    en: str = ""
    default: Any = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.zh, self.key, *self.aliases)


COMMON_FIELDS: tuple[Field, ...] = (
    Field("county_code", "县区代码", aliases=("行政区划代码", "county")),
    Field("org_id", "填报单位", aliases=("单位",)),
    Field("status", "状态"),
    Field("source_doc", "文号", aliases=("来源文号",)),
    Field("attachments", "附件SHA256", "list", aliases=("附件",)),
    Field("simulated", "模拟数据", "bool"),
)


@dataclass
class Ledger:
    """A ledger: its table, fields and checks.

    ``check(rec)`` returns problems found in the record alone; ``check_db(conn, rec, record_id)`` problems found
    against other records (unknown links, a quota overdraw). ``save``/``load`` replace the plain table I/O for
    ledgers whose rows live in other tables (cases, grades); ``sync(conn)`` brings in rows another capability wrote
    there (cases filed by enforcement), run by :func:`synced` before the ledger is read through the store.
    """

    kind: str
    zh: str
    en: str
    table: Table
    key: str
    fields: tuple[Field, ...]
    check: Callable[[dict[str, Any]], list[Problem]] = lambda rec: []
    check_db: Callable[[Connection, dict[str, Any], int | None], list[Problem]] = lambda conn, rec, rid: []
    save: Callable[[Connection, dict[str, Any], int | None], int] | None = None
    load: Callable[[Connection, Mapping[str, Any]], list[dict[str, Any]]] | None = None
    order_by: str = "id"
    derived: Callable[[dict[str, Any]], dict[str, Any]] = lambda rec: {}
    sync: Callable[[Connection], int] | None = None
    all_fields: tuple[Field, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.all_fields = (*self.fields, *COMMON_FIELDS)

    def get_field(self, key: str) -> Field:
        for f in self.all_fields:
            if f.key == key:
                return f
        raise KeyError(key)


# --- parsing -------------------------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "y", "是", "t", "√"}
_FALSE = {"0", "false", "no", "n", "否", "f", ""}


def parse_date(text: str) -> date:
    """A calendar day from ``2025-03-01``, ``2025/3/1``, ``2025年3月1日`` or an Excel ``2025-03-01 00:00:00``."""
    t = text.strip()
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?", t)
    if not m:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date: {exc}") from None


def parse_value(f: Field, value: Any) -> Any:
    """``value`` (text from a file or a form, or an already typed value) as the field's type; ``ValueError``."""
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    if value is None:
        return None
    k = f.kind
    if k in ("str", "text"):
        out: Any = str(value)
        if isinstance(value, float) and value.is_integer():
            out = str(int(value))
        if f.choices and out not in f.choices:
            raise ValueError(f"{out!r} is not one of {'/'.join(f.choices)}")
        return out
    if k == "int":
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a whole number") from None
        if not v.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        out = int(v)
    elif k == "float":
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        if out != out or out in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} is not a finite number")
    elif k == "date":
        if isinstance(value, datetime):
            return to_beijing(as_utc(value)).date() if value.tzinfo else value.date()
        if isinstance(value, date):
            return value
        return parse_date(str(value))
    elif k == "datetime":
        if isinstance(value, datetime):
            return as_utc(value)
        if isinstance(value, date):
            return as_utc(datetime(value.year, value.month, value.day))
        try:
            return parse_time(str(value))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a time: {exc}") from None
    elif k == "bool":
        if isinstance(value, bool):
            return value
        t = str(value).strip().lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        raise ValueError(f"{value!r} is not 是/否")
    elif k == "list":
        if isinstance(value, (list, tuple)):
            return [str(x).strip() for x in value if str(x).strip()]
        return [p.strip() for p in re.split(r"[;；\n]", str(value)) if p.strip()]
    elif k == "json":
        if isinstance(value, (dict, list)):
            return value
        try:
            return json.loads(str(value))
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg}") from None
    else:  # pragma: no cover - a spec error
        raise ValueError(f"unknown field kind {k!r}")
    if f.minimum is not None and out < f.minimum:
        raise ValueError(f"{out} is below the minimum {f.minimum:g}")
    return out


def format_value(f: Field, value: Any) -> Any:
    """A value as written to Excel (the inverse of :func:`parse_value`)."""
    if value is None:
        return ""
    if f.kind == "datetime":
        return to_beijing(value).strftime("%Y-%m-%d %H:%M:%S")
    if f.kind == "date":
        return value.isoformat()
    if f.kind == "bool":
        return "是" if value else "否"
    if f.kind == "list":
        return ";".join(str(x) for x in value)
    if f.kind == "json":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def normalise(ledger: Ledger, raw: Mapping[str, Any], *, partial: bool = False) -> tuple[dict[str, Any], list[Problem]]:
    """Typed record and problems of ``raw`` (keys are field keys). ``partial``: only the keys given (updates)."""
    rec: dict[str, Any] = {}
    problems: list[Problem] = []
    unknown = set(raw) - {f.key for f in ledger.all_fields} - {"id"}
    for k in sorted(unknown):
        problems.append((k, "unknown field"))
    for f in ledger.all_fields:
        if partial and f.key not in raw:
            continue
        try:
            v = parse_value(f, raw.get(f.key))
        except ValueError as exc:
            problems.append((f.key, str(exc)))
            continue
        if v is None and f.required:
            problems.append((f.key, "value missing"))
        if f.kind == "list" and v is None:
            v = []
        if v is None and f.default is not None:
            v = f.default
        if f.kind == "bool" and v is None:
            v = False
        rec[f.key] = v
    if not partial and not problems:
        problems.extend(ledger.check(rec))
    return rec, problems


# --- storage -------------------------------------------------------------------------------------------------


def _columns(ledger: Ledger) -> set[str]:
    return {c.name for c in ledger.table.columns}


def column_values(table: Table, rec: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``rec`` that are columns of ``table``; an empty value of a NOT NULL column takes its default."""
    cols = {c.name for c in table.columns} - {"id"}
    values = {k: v for k, v in rec.items() if k in cols}
    for k, v in list(values.items()):
        col = table.c[k]
        if v is None and not col.nullable and col.server_default is not None:
            values[k] = col.type.python_type(col.server_default.arg)
    return values


def _plain_save(ledger: Ledger, conn: Connection, rec: dict[str, Any], rid: int | None, actor: str) -> int:
    now = now_utc()
    cols = _columns(ledger)
    values = column_values(ledger.table, rec)
    extra = {k: v for k, v in rec.items() if k not in cols}
    if extra:
        values["extra"] = json.loads(json.dumps(extra, default=str))
    values.update(updated_by=actor, updated_at=now)
    t = ledger.table
    if rid is None:
        values.update(created_by=actor, created_at=now)
        return int(conn.execute(t.insert().values(**values).returning(t.c.id)).scalar_one())
    values["version"] = t.c.version + 1
    conn.execute(t.update().where(t.c.id == rid).values(**values))
    return rid


def _plain_load(ledger: Ledger, conn: Connection, where: Mapping[str, Any]) -> list[dict[str, Any]]:
    t = ledger.table
    q = select(t)
    for k, v in where.items():
        q = q.where(t.c[k] == v)
    rows = conn.execute(q.order_by(t.c[ledger.order_by], t.c.id)).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        d.update(d.pop("extra", None) or {})
        out.append(d)
    return out


def load(ledger: Ledger, conn: Connection, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of ``ledger`` (dicts keyed by field key, plus ``id`` and audit columns)."""
    rows = ledger.load(conn, where or {}) if ledger.load else _plain_load(ledger, conn, where or {})
    for r in rows:
        r.update(ledger.derived(r))
    return rows


def find_id(ledger: Ledger, conn: Connection, key_value: Any) -> int | None:
    """Id of the record whose natural key is ``key_value``."""
    rows = (
        load(ledger, conn, {ledger.key: key_value})
        if not ledger.load
        else [r for r in load(ledger, conn) if r.get(ledger.key) == key_value]
    )
    return int(rows[0]["id"]) if rows else None


def write(
    conn: Connection,
    ledger: Ledger,
    rec: dict[str, Any],
    *,
    actor: str,
    record_id: int | None = None,
    event: str = "created",
    user_id: int | None = None,
    new: bool = False,
) -> int:
    """Check ``rec`` (already normalised) against other records and write it; returns the record id.

    Without ``record_id`` a record with the same natural key is updated, unless ``new`` (the caller knows the key
    is new: bulk loads skip the look-up)."""
    problems = ledger.check_db(conn, rec, record_id)
    if problems:
        raise LedgerError(problems)
    if record_id is None and not new:
        record_id = find_id(ledger, conn, rec.get(ledger.key))
        if record_id is not None:
            event = "updated" if event == "created" else event
    rid = ledger.save(conn, rec, record_id) if ledger.save else _plain_save(ledger, conn, rec, record_id, actor)
    now = now_utc()
    detail = json.loads(json.dumps({k: rec[k] for k in rec if k != "attachments"}, ensure_ascii=False, default=str))
    conn.execute(
        ledger_event.insert().values(ledger=ledger.kind, record_id=rid, event=event, actor=actor, at=now, detail=detail)
    )
    audit.record(
        conn,
        action=f"ledger.{event}",
        user_id=user_id,
        login=actor,
        target=f"{ledger.kind}:{rid}",
        detail={"key": str(rec.get(ledger.key))},
        at=now,
    )
    return rid


def add(store: Store, ledger: Ledger, raw: Mapping[str, Any], *, actor: str, user_id: int | None = None) -> int:
    """Validate and add (or, when its natural key exists, update) one record; :class:`LedgerError` otherwise."""
    rec, problems = normalise(ledger, raw)
    if problems:
        raise LedgerError(problems)
    with store.begin() as conn:
        return write(conn, ledger, rec, actor=actor, user_id=user_id)


def update(
    store: Store, ledger: Ledger, record_id: int, changes: Mapping[str, Any], *, actor: str, user_id: int | None = None
) -> int:
    """Apply ``changes`` to record ``record_id`` (the whole record is re-validated)."""
    with store.begin() as conn:
        rows = [r for r in load(ledger, conn) if r["id"] == record_id]
        if not rows:
            raise LookupError(f"{ledger.kind} {record_id} does not exist")
        current = {f.key: rows[0].get(f.key) for f in ledger.all_fields}
        current.update(changes)
        rec, problems = normalise(ledger, current)
        if problems:
            raise LedgerError(problems)
        return write(conn, ledger, rec, actor=actor, record_id=record_id, event="updated", user_id=user_id)


def synced(store: Store, ledger: Ledger) -> int:
    """Run the ledger's ``sync`` (if any) in its own transaction; returns the rows it brought in."""
    if ledger.sync is None:
        return 0
    try:
        with store.begin() as conn:
            return ledger.sync(conn)
    except IntegrityError:  # a concurrent reader brought the same rows in first (unique key): nothing left to do
        return 0


def records(store: Store, ledger: Ledger, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """All rows of ``ledger`` (optionally equal to ``where``)."""
    synced(store, ledger)
    with store.engine.connect() as conn:
        return load(ledger, conn, where)


def events(store: Store, ledger: Ledger, record_id: int) -> list[dict[str, Any]]:
    """The append-only history of one record."""
    with store.engine.connect() as conn:
        q = (
            select(ledger_event)
            .where(ledger_event.c.ledger == ledger.kind, ledger_event.c.record_id == record_id)
            .order_by(ledger_event.c.id)
        )
        return [dict(r) for r in conn.execute(q).mappings()]


def ids_exist(conn: Connection, table: Table, ids: Iterable[Any]) -> list[str]:
    """Those of ``ids`` that are not ids of ``table`` (as given)."""
    wanted: dict[int, str] = {}
    bad: list[str] = []
    for x in ids:
        try:
            wanted[int(str(x))] = str(x)
        except ValueError:
            bad.append(str(x))
    if wanted:
        have = set(conn.execute(select(table.c.id).where(table.c.id.in_(list(wanted)))).scalars())
        bad.extend(v for k, v in wanted.items() if k not in have)
    return bad
