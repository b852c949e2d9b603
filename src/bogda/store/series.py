"""Series I/O: idempotent batch writes with kept corrections, frame reads, the ``latest`` table.

A *series* is one parameter at one site at one resolution (architecture.md §4). Observations are keyed by
``(series_id, ts)`` where ``ts`` is the interval start; writing the same key twice keeps one row. When a write
brings a different value or flag for an existing key, the old row is copied to ``observation_revision`` with the
reason first — nothing is overwritten silently. ``latest`` holds the newest observation of each series.

Frames use aware UTC datetimes (``pl.Datetime("us", "UTC")``); the integer epoch storage of ``ts`` (see
:mod:`bogda.store.schema`) never leaks out of this module.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Connection, and_, select, tuple_

from bogda.store import blocks
from bogda.store.db import Store
from bogda.store.schema import latest, series
from bogda.timeutil import RESOLUTIONS, epoch_seconds, now_utc

FRAME_TS = pl.Datetime("us", "UTC")
MAX_FLAG = 4


@dataclass(frozen=True)
class SeriesKey:
    """Identity of a series."""

    site_id: int
    parameter: str
    resolution: str


@dataclass
class WriteResult:
    """What a batch write did. ``rejected`` holds ``(row_index, reason)`` for rows not written."""

    inserted: int = 0
    corrected: int = 0
    unchanged: int = 0
    duplicates_in_batch: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.inserted + self.corrected


def ensure_series(conn: Connection, keys: Iterable[tuple[int, str, str, str]]) -> dict[SeriesKey, int]:
    """Ids of the series ``(site_id, parameter, resolution, unit)``, creating those that do not exist yet.

    A unit given for an existing series with an empty unit fills it in; a conflicting unit is an error, because
    values in two units must not share a series.
    """
    wanted: dict[SeriesKey, str] = {}
    for site_id, parameter, resolution, unit in keys:
        if resolution not in RESOLUTIONS:
            raise ValueError(f"series {site_id}/{parameter}: unknown resolution {resolution!r}")
        wanted[SeriesKey(int(site_id), str(parameter), resolution)] = unit or ""
    if not wanted:
        return {}
    found: dict[SeriesKey, int] = {}
    units: dict[SeriesKey, str] = {}
    triples = [(k.site_id, k.parameter, k.resolution) for k in wanted]
    for chunk in _chunks(triples, 500):
        rows = conn.execute(
            select(series.c.id, series.c.site_id, series.c.parameter, series.c.resolution, series.c.unit).where(
                tuple_(series.c.site_id, series.c.parameter, series.c.resolution).in_(chunk)
            )
        )
        for sid, site_id, parameter, resolution, unit in rows:
            key = SeriesKey(site_id, parameter, resolution)
            found[key] = sid
            units[key] = unit
    missing = [k for k in wanted if k not in found]
    if missing:
        conn.execute(
            series.insert(),
            [
                {"site_id": k.site_id, "parameter": k.parameter, "resolution": k.resolution, "unit": wanted[k]}
                for k in missing
            ],
        )
        return ensure_series(conn, [(k.site_id, k.parameter, k.resolution, u) for k, u in wanted.items()])
    for key, unit in wanted.items():
        have = units[key]
        if unit and have and unit != have:
            raise ValueError(f"series {key.site_id}/{key.parameter}/{key.resolution} is in {have!r}, not {unit!r}")
        if unit and not have:
            conn.execute(series.update().where(series.c.id == found[key]).values(unit=unit))
    return found


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _to_epoch(col: pl.Series) -> pl.Series:
    if col.dtype == pl.Datetime or isinstance(col.dtype, pl.Datetime):
        if col.dtype.time_zone is None:  # type: ignore[union-attr]
            raise ValueError("column 'ts' is a naive datetime; give aware UTC times (bogda.timeutil.as_utc)")
        return col.dt.epoch("s")
    if col.dtype.is_integer():
        return col.cast(pl.Int64)
    if col.dtype == pl.Object:
        return pl.Series(col.name, [None if t is None else epoch_seconds(t) for t in col], dtype=pl.Int64)
    raise ValueError(f"column 'ts' has type {col.dtype}; expected aware datetimes or Unix seconds")


def prepare_batch(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[tuple[int, str]], int]:
    """Validate a batch and normalise it to ``series_id, ts (Unix s), value, flag, source_id``.

    Returns the clean frame (last occurrence wins within the batch), the rejected rows with reasons, and the number
    of in-batch duplicates dropped.
    """
    for col in ("series_id", "ts", "value"):
        if col not in frame.columns:
            raise ValueError(f"batch has no column {col!r} (columns: {frame.columns})")
    df = frame.select(
        pl.col("series_id").cast(pl.Int64, strict=False),
        pl.Series("ts", _to_epoch(frame["ts"])),
        pl.col("value").cast(pl.Float64, strict=False),
        (pl.col("flag").cast(pl.Utf8) if "flag" in frame.columns else pl.lit("N")).alias("flag"),
        (pl.col("source_id").cast(pl.Int64) if "source_id" in frame.columns else pl.lit(None, pl.Int64)).alias(
            "source_id"
        ),
    ).with_row_index("_row")
    reasons = (
        pl.when(pl.col("series_id").is_null())
        .then(pl.lit("series_id missing"))
        .when(pl.col("ts").is_null())
        .then(pl.lit("ts missing or unreadable"))
        .when(pl.col("value").is_not_null() & ~pl.col("value").is_finite())
        .then(pl.lit("value is not a finite number"))
        .when(pl.col("flag").is_null() | (pl.col("flag").str.len_chars() == 0))
        .then(pl.lit("flag empty"))
        .when(pl.col("flag").str.len_chars() > MAX_FLAG)
        .then(pl.lit(f"flag longer than {MAX_FLAG} characters"))
        .otherwise(None)
    )
    df = df.with_columns(reasons.alias("_reason"))
    bad = df.filter(pl.col("_reason").is_not_null())
    rejected = list(zip(bad["_row"].to_list(), bad["_reason"].to_list(), strict=True))
    good = df.filter(pl.col("_reason").is_null()).drop("_reason")
    before = good.height
    good = good.unique(subset=["series_id", "ts"], keep="last", maintain_order=True).drop("_row")
    return good, rejected, before - good.height


_SQL = {
    "sqlite": {
        "differs": "o.value IS NOT s.value OR o.flag IS NOT s.flag",
        "upsert_where": "observation.value IS NOT excluded.value OR observation.flag IS NOT excluded.flag",
        "least": "MIN",
    },
    "postgresql": {
        "differs": "o.value IS DISTINCT FROM s.value OR o.flag IS DISTINCT FROM s.flag",
        "upsert_where": "observation.value IS DISTINCT FROM excluded.value OR observation.flag IS DISTINCT FROM "
        "excluded.flag",
        "least": "LEAST",
    },
}


def _stage(store: Store, conn: Connection, df: pl.DataFrame) -> None:
    raw = conn.connection.driver_connection
    if store.dialect == "sqlite":
        cur = raw.cursor()
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS obs_stage (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, "
            "value REAL, flag TEXT NOT NULL, source_id INTEGER, PRIMARY KEY (series_id, ts)) WITHOUT ROWID"
        )
        cur.execute("DELETE FROM obs_stage")
        cur.executemany("INSERT INTO obs_stage VALUES (?, ?, ?, ?, ?)", df.iter_rows())
        cur.close()
        return
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS obs_stage (series_id integer NOT NULL, ts bigint NOT NULL, "
            "value double precision, flag varchar(4) NOT NULL, source_id bigint)"
        )
        cur.execute("TRUNCATE obs_stage")
        buf = io.BytesIO()
        df.write_csv(buf, include_header=False, null_value="")
        with cur.copy("COPY obs_stage (series_id, ts, value, flag, source_id) FROM STDIN (FORMAT csv)") as cp:
            cp.write(buf.getvalue())
        cur.execute("ANALYZE obs_stage")


def write_batch(
    store: Store,
    conn: Connection,
    frame: pl.DataFrame,
    *,
    reason: str = "re-ingest with changed value",
    received_at: datetime | None = None,
) -> WriteResult:
    """Write observations idempotently inside the caller's transaction ``conn``.

    Parameters
    ----------
    frame : pl.DataFrame
        Columns ``series_id``, ``ts`` (aware UTC datetime of the interval start, or Unix seconds), ``value``;
        optional ``flag`` (default ``N``) and ``source_id`` (e.g. the ``raw_frame`` id).
    reason : str
        Recorded with every corrected row's previous version in ``observation_revision``.

    Returns
    -------
    WriteResult
        Counts of inserted, corrected and unchanged rows, and rejected rows with reasons.
    """
    df, rejected, dups = prepare_batch(frame)
    result = WriteResult(rejected=rejected, duplicates_in_batch=dups)
    if df.height == 0:
        return result
    now = received_at or now_utc()
    # raw DB-API statements below bypass SQLAlchemy's types: give each driver its own timestamp form
    stamp: Any = now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") if store.dialect == "sqlite" else now
    sql = _SQL[store.dialect]
    store.ensure_partitions(conn, int(df["ts"].min()), int(df["ts"].max()))  # type: ignore[arg-type]
    _stage(store, conn, df)
    raw = conn.connection.driver_connection
    cur = raw.cursor()
    ph = "?" if store.dialect == "sqlite" else "%s"
    cur.execute(
        "INSERT INTO observation_revision (series_id, ts, value, flag, source_id, replaced_at, reason) "
        f"SELECT o.series_id, o.ts, o.value, o.flag, o.source_id, {ph}, {ph} FROM observation o "
        f"JOIN obs_stage s ON o.series_id = s.series_id AND o.ts = s.ts WHERE {sql['differs']}",
        (stamp, reason[:200]),
    )
    result.corrected = max(cur.rowcount, 0)
    cur.execute(
        "INSERT INTO observation (series_id, ts, value, flag, source_id) "
        "SELECT series_id, ts, value, flag, source_id FROM obs_stage WHERE true "
        "ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value, flag = excluded.flag, "
        f"source_id = excluded.source_id WHERE {sql['upsert_where']}"
    )
    changed = max(cur.rowcount, 0)
    result.inserted = changed - result.corrected
    result.unchanged = df.height - changed
    newer = "excluded.ts >= latest.ts"
    cur.execute(
        "INSERT INTO latest (series_id, first_ts, ts, value, flag, received_at) "
        f"SELECT s.series_id, m.fts, s.ts, s.value, s.flag, {ph} FROM obs_stage s "
        "JOIN (SELECT series_id, MIN(ts) AS fts, MAX(ts) AS mts FROM obs_stage GROUP BY series_id) m "
        "ON s.series_id = m.series_id AND s.ts = m.mts WHERE true "
        f"ON CONFLICT (series_id) DO UPDATE SET first_ts = {sql['least']}(latest.first_ts, excluded.first_ts), "
        f"ts = CASE WHEN {newer} THEN excluded.ts ELSE latest.ts END, "
        f"value = CASE WHEN {newer} THEN excluded.value ELSE latest.value END, "
        f"flag = CASE WHEN {newer} THEN excluded.flag ELSE latest.flag END, "
        f"received_at = CASE WHEN {newer} THEN excluded.received_at ELSE latest.received_at END",
        (stamp,),
    )
    if changed:
        cur.execute(
            "DELETE FROM observation_block WHERE (series_id, block) IN "
            f"(SELECT DISTINCT s.series_id, {blocks.BLOCK_SQL} FROM obs_stage s JOIN series r ON r.id = s.series_id)"
        )
    cur.close()
    return result


def write(store: Store, frame: pl.DataFrame, **kwargs: Any) -> WriteResult:
    """:func:`write_batch` in its own transaction."""
    with store.begin() as conn:
        return write_batch(store, conn, frame, **kwargs)


def write_long(
    store: Store,
    frame: pl.DataFrame,
    *,
    resolution: str,
    reason: str = "re-ingest with changed value",
) -> WriteResult:
    """Write a long frame keyed by site instead of series: ``site_id, parameter, ts, value[, flag, unit, source_id]``.

    Series are created as needed (unit from the ``unit`` column when present).
    """
    for col in ("site_id", "parameter"):
        if col not in frame.columns:
            raise ValueError(f"frame has no column {col!r} (columns: {frame.columns})")
    unit = frame["unit"] if "unit" in frame.columns else pl.Series("unit", [""] * frame.height)
    keys = (
        pl.DataFrame({"site_id": frame["site_id"], "parameter": frame["parameter"], "unit": unit})
        .unique(subset=["site_id", "parameter"], keep="first")
        .drop_nulls(["site_id", "parameter"])
    )
    with store.begin() as conn:
        ids = ensure_series(conn, ((s, p, resolution, u or "") for s, p, u in keys.iter_rows()))
        mapping = pl.DataFrame(
            {
                "site_id": [k.site_id for k in ids],
                "parameter": [k.parameter for k in ids],
                "series_id": list(ids.values()),
            },
            schema={"site_id": pl.Int64, "parameter": pl.Utf8, "series_id": pl.Int64},
        )
        joined = frame.with_columns(pl.col("site_id").cast(pl.Int64)).join(
            mapping, on=["site_id", "parameter"], how="left", maintain_order="left"
        )
        return write_batch(store, conn, joined, reason=reason)


# --- reading --------------------------------------------------------------------------------------------------


def find_series(
    store: Store,
    *,
    sites: Sequence[int] | None = None,
    parameters: Sequence[str] | None = None,
    resolution: str | None = "hour",
) -> pl.DataFrame:
    """The series matching the filters: ``series_id, site_id, parameter, resolution, unit``."""
    q = select(series.c.id, series.c.site_id, series.c.parameter, series.c.resolution, series.c.unit)
    conds = []
    if sites is not None:
        conds.append(series.c.site_id.in_([int(s) for s in sites]))
    if parameters is not None:
        conds.append(series.c.parameter.in_(list(parameters)))
    if resolution is not None:
        conds.append(series.c.resolution == resolution)
    if conds:
        q = q.where(and_(*conds))
    with store.engine.connect() as conn:
        rows = conn.execute(q.order_by(series.c.id)).all()
    return pl.DataFrame(
        rows,
        schema={
            "series_id": pl.Int64,
            "site_id": pl.Int64,
            "parameter": pl.Utf8,
            "resolution": pl.Utf8,
            "unit": pl.Utf8,
        },
        orient="row",
    )


def _bound(ts: datetime | int | None, default: int) -> int:
    if ts is None:
        return default
    return ts if isinstance(ts, int) else epoch_seconds(ts)


_OBS_SCHEMA = {"series_id": pl.Int64, "ts": pl.Int64, "value": pl.Float64, "flag": pl.Utf8}


class _Reader:
    """One read's connections: the SQLAlchemy one, and on PostgreSQL an ADBC one for column-wise fetches.

    ADBC streams results (``COPY … BINARY``) into Arrow column by column: no per-row Python objects.
    """

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store = store
        self.raw = conn.connection.driver_connection
        self.adbc: Any = None
        if store.dialect == "postgresql":
            import adbc_driver_postgresql.dbapi as drv

            uri = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.adbc = drv.connect(uri)

    def close(self) -> None:
        if self.adbc is not None:
            self.adbc.close()

    def arrow(self, sql: str) -> pl.DataFrame:
        """Result of ``sql`` (integers inlined, PostgreSQL) as a frame."""
        with self.adbc.cursor() as cur:
            cur.execute(sql)
            return pl.from_arrow(cur.fetch_arrow_table())  # type: ignore[return-value]

    def spans(self, ids: list[int]) -> list[tuple[int, int, int]]:
        """``(series_id, first_ts, last_ts)`` of the series that hold data."""
        out: list[tuple[int, int, int]] = []
        if self.adbc is not None:
            for chunk in _chunks(ids, 5000):
                out += self.arrow(
                    f"SELECT series_id, first_ts, ts FROM latest WHERE series_id IN ({_ints(chunk)})"
                ).rows()
            return out
        for chunk in _chunks(ids, 900):
            out += self.raw.execute(
                f"SELECT series_id, first_ts, ts FROM latest WHERE series_id IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
        return out

    def cached(self, ids: list[int], b0: int, b1: int) -> list[tuple[int, int, bytes]]:
        """Cached blobs ``(series_id, block, data)`` of ``ids`` in blocks ``b0..b1``."""
        out: list[tuple[int, int, bytes]] = []
        if self.adbc is not None:
            for chunk in _chunks(ids, 5000):
                t = self.arrow(
                    f"SELECT series_id, block, data FROM observation_block WHERE series_id IN ({_ints(chunk)}) "
                    f"AND block >= {b0} AND block <= {b1}"
                )
                out += zip(t["series_id"].to_list(), t["block"].to_list(), t["data"].to_list(), strict=True)
            return out
        for chunk in _chunks(ids, 900):
            out += self.raw.execute(
                "SELECT series_id, block, data FROM observation_block "
                f"WHERE series_id IN ({','.join('?' * len(chunk))}) AND block >= ? AND block <= ?",
                (*chunk, b0, b1),
            ).fetchall()
        return out

    def rows(self, ids: list[int], t0: int, t1: int, raw: Any = None) -> pl.DataFrame:
        """Observations of ``ids`` with ``t0 <= ts < t1`` (``raw``: another SQLite connection to read through)."""
        parts = []
        if self.adbc is not None:
            for chunk in _chunks(ids, 5000):
                parts.append(
                    self.arrow(
                        f"SELECT series_id, ts, value, flag FROM observation WHERE series_id IN ({_ints(chunk)}) "
                        f"AND ts >= {t0} AND ts < {t1}"
                    ).cast(_OBS_SCHEMA)  # type: ignore[arg-type]
                )
        else:
            for chunk in _chunks(ids, 900):
                rows = (raw or self.raw).execute(
                    f"SELECT series_id, ts, value, flag FROM observation WHERE series_id IN "
                    f"({','.join('?' * len(chunk))}) AND ts >= ? AND ts < ?",
                    (*chunk, t0, t1),
                )
                parts.append(pl.DataFrame(_rows_to_arrays(rows.fetchall()), schema=_OBS_SCHEMA))
        return pl.concat(parts) if parts else pl.DataFrame(schema=_OBS_SCHEMA)


def _ints(ids: Iterable[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


def _rows_to_arrays(rows: list[tuple[int, int, float | None, str]]) -> dict[str, Any]:
    if not rows:
        return {k: [] for k in _OBS_SCHEMA}
    sid, ts, value, flag = zip(*rows, strict=True)
    return {"series_id": sid, "ts": ts, "value": value, "flag": flag}


def _read_observations(store: Store, ids: list[int], lo: int, hi: int, resolution: str, now: int) -> pl.DataFrame:
    """Observations of series ``ids`` in ``[lo, hi)``: sealed blocks from the packed cache, the rest row-wise.

    Sealed blocks missing from the cache are read, returned, and packed for the next read (:func:`_fill_blocks`).
    """
    span = blocks.BLOCK_SECONDS[resolution]
    cut = blocks.first_open_block(resolution, now) * span  # rows from here on are read row-wise
    frames: list[pl.DataFrame] = []
    with store.engine.connect() as conn:
        reader = _Reader(store, conn)
        try:
            wanted: set[tuple[int, int]] = set()
            open_ids: list[int] = []
            for sid, first, last in reader.spans(ids):
                a, b = max(lo, first), min(hi, last + 1)
                wanted.update((sid, blk) for blk in blocks.block_range(a, min(b, cut), resolution) if a < min(b, cut))
                if max(a, cut) < b:
                    open_ids.append(sid)
            if wanted:
                have = set()
                sid_parts, ts_parts, value_parts, code_parts = [], [], [], []
                vocab: dict[str, int] = {}
                sids = sorted({s for s, _ in wanted})
                found = reader.cached(sids, min(b for _, b in wanted), max(b for _, b in wanted))
                found.sort(key=lambda r: (r[0], r[1]))  # concatenated in series and time order: no sort later
                for sid, blk, data in found:
                    if (sid, blk) not in wanted:
                        continue
                    have.add((sid, blk))
                    ts, value, codes, voc = blocks.unpack(data)
                    if len(ts):
                        remap = np.array([vocab.setdefault(f, len(vocab)) for f in voc], dtype=np.uint32)
                        sid_parts.append(np.full(len(ts), sid, np.int64))
                        ts_parts.append(ts)
                        value_parts.append(value)
                        code_parts.append(remap[codes])
                if ts_parts:
                    flags = pl.Series("flag", list(vocab), dtype=pl.Utf8).gather(np.concatenate(code_parts))
                    frames.append(
                        pl.DataFrame(
                            {
                                "series_id": np.concatenate(sid_parts),
                                "ts": np.concatenate(ts_parts),
                                "value": np.concatenate(value_parts),
                            }
                        ).with_columns(flags, pl.col("value").fill_nan(None))
                    )
                missing = sorted(wanted - have)
                if missing:
                    frames.append(_fill_blocks(store, reader, missing, resolution))
            if open_ids:
                frames.append(reader.rows(open_ids, max(lo, cut), hi))
        finally:
            reader.close()
    if not frames:
        return pl.DataFrame(schema=_OBS_SCHEMA)
    return pl.concat([f.cast(_OBS_SCHEMA) for f in frames]).filter((pl.col("ts") >= lo) & (pl.col("ts") < hi))


def _fill_blocks(store: Store, reader: _Reader, missing: list[tuple[int, int]], resolution: str) -> pl.DataFrame:
    """Rows of the sealed ``(series_id, block)`` pairs in ``missing``; packs them into the cache on the way.

    No write may slip between reading a block's rows and storing its packed copy. On SQLite the read happens under
    the write lock (``BEGIN IMMEDIATE``). On PostgreSQL the ``latest`` rows of the series are locked ``FOR SHARE``
    first: every write upserts ``latest`` of its series before it invalidates their blocks, so a write either
    committed before the lock (and its rows are read) or waits for this transaction and then deletes the packed
    copy. ``SKIP LOCKED`` means a read never waits for a write; series it could not lock are returned, not cached.
    """
    span = blocks.BLOCK_SECONDS[resolution]
    by_block: dict[int, list[int]] = {}
    for sid, blk in missing:
        by_block.setdefault(blk, []).append(sid)
    with store.begin() as wconn:
        wraw = wconn.connection.driver_connection
        if store.dialect == "postgresql":
            with wraw.cursor() as cur:
                cur.execute(
                    "SELECT series_id FROM latest WHERE series_id = ANY(%s) ORDER BY series_id FOR SHARE SKIP LOCKED",
                    (sorted({s for s, _ in missing}),),
                )
                lockable = {r[0] for r in cur.fetchall()}
            parts = [reader.rows(sids, blk * span, (blk + 1) * span) for blk, sids in by_block.items()]
        else:
            lockable = {s for s, _ in missing}
            parts = [reader.rows(sids, blk * span, (blk + 1) * span, raw=wraw) for blk, sids in by_block.items()]
        df = pl.concat(parts).sort("series_id", "ts")
        vocab = sorted(df["flag"].unique().to_list())
        if len(vocab) > blocks.MAX_VOCAB:
            return df  # too many distinct flags to pack: served row-wise every time
        keep = df.filter(pl.col("series_id").is_in(list(lockable)))
        packed = blocks.pack_frame(
            keep["series_id"].to_numpy(),
            keep["ts"].to_numpy(),
            keep["value"].fill_null(np.nan).to_numpy(),
            keep["flag"].cast(pl.Enum(vocab)).to_physical().to_numpy(),
            vocab,
            resolution,
        )
        # pairs without rows are cached empty so that the next read does not look for them again
        done = {(s, b) for s, b, _, _ in packed}
        empty = blocks.pack_codes(np.empty(0, np.int64), np.empty(0), np.empty(0, np.uint8), [])
        packed += [(s, b, 0, empty) for s, b in missing if s in lockable and (s, b) not in done]
        packed.sort(key=lambda r: (r[0], r[1]))  # one lock order for every reader
        if store.dialect == "postgresql":
            with wraw.cursor() as cur:
                cur.executemany(
                    "INSERT INTO observation_block (series_id, block, rows, data) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (series_id, block) DO UPDATE SET rows = excluded.rows, data = excluded.data",
                    packed,
                )
        else:
            wraw.executemany(
                "INSERT OR REPLACE INTO observation_block (series_id, block, rows, data) VALUES (?, ?, ?, ?)", packed
            )
    return df


def read(
    store: Store,
    *,
    sites: Sequence[int] | None = None,
    parameters: Sequence[str] | None = None,
    start: datetime | int | None = None,
    end: datetime | int | None = None,
    resolution: str = "hour",
    valid_only: bool = False,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Observations as a long frame: ``site_id, parameter, ts, value, flag`` sorted by series and time.

    Parameters
    ----------
    sites, parameters : sequences, optional
        Filters; ``None`` means all.
    start, end : datetime, optional
        Half-open range ``[start, end)`` on the interval start, aware datetimes.
    resolution : str
        ``rt``, ``min``, ``hour`` or ``day``.
    valid_only : bool
        Drop rows whose flag is not ``N`` (HJ 212 normal).
    now : datetime, optional
        Clock for deciding which blocks are sealed (read cache, :mod:`bogda.store.blocks`); default the system
        clock.
    """
    ser = find_series(store, sites=sites, parameters=parameters, resolution=resolution)
    empty = pl.DataFrame(
        schema={"site_id": pl.Int64, "parameter": pl.Utf8, "ts": FRAME_TS, "value": pl.Float64, "flag": pl.Utf8}
    )
    if ser.height == 0:
        return empty
    lo, hi = _bound(start, 0), _bound(end, 2**62)
    ids = ser["series_id"].to_list()
    obs = _read_observations(store, ids, lo, hi, resolution, epoch_seconds(now or now_utc()))
    if valid_only:
        obs = obs.filter(pl.col("flag") == "N")
    if obs.height == 0:
        return empty
    sid, ts = obs["series_id"].to_numpy(), obs["ts"].to_numpy()
    d_sid, d_ts = np.diff(sid), np.diff(ts)
    if not np.all((d_sid > 0) | ((d_sid == 0) & (d_ts > 0))):  # cached blocks arrive in order; other rows may not
        obs = obs.sort("series_id", "ts")
        sid = obs["series_id"].to_numpy()
    # series -> site and parameter by position: a join plus re-sort costs seconds on a year of a network
    ser_ids = ser["series_id"].to_numpy()
    lookup = np.zeros(int(ser_ids.max()) + 1, np.int64)
    lookup[ser_ids] = np.arange(len(ser_ids))
    pos = lookup[sid]
    return obs.select(
        pl.Series("site_id", ser["site_id"].to_numpy()[pos], dtype=pl.Int64),
        ser["parameter"].gather(pos).alias("parameter"),
        pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("ts"),
        "value",
        "flag",
    )


def read_latest(
    store: Store,
    *,
    sites: Sequence[int] | None = None,
    parameters: Sequence[str] | None = None,
    resolution: str | None = "hour",
) -> pl.DataFrame:
    """The newest observation of each matching series: ``site_id, parameter, ts, value, flag, received_at``."""
    q = select(
        series.c.site_id, series.c.parameter, latest.c.ts, latest.c.value, latest.c.flag, latest.c.received_at
    ).join(latest, latest.c.series_id == series.c.id)
    if sites is not None:
        q = q.where(series.c.site_id.in_([int(s) for s in sites]))
    if parameters is not None:
        q = q.where(series.c.parameter.in_(list(parameters)))
    if resolution is not None:
        q = q.where(series.c.resolution == resolution)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return pl.DataFrame(
        [(s, p, t, None if v is None or math.isnan(v) else v, f, r) for s, p, t, v, f, r in rows],
        schema={
            "site_id": pl.Int64,
            "parameter": pl.Utf8,
            "ts": pl.Int64,
            "value": pl.Float64,
            "flag": pl.Utf8,
            "received_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    ).with_columns(pl.from_epoch("ts", "s").dt.cast_time_unit("us").dt.replace_time_zone("UTC"))
