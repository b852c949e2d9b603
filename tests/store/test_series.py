from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import func, select, text

from bogda.store import Store, blocks, series
from bogda.store.schema import observation_revision, site

T0 = datetime(2026, 1, 31, 22, tzinfo=UTC)  # batch crosses a month edge: two PostgreSQL partitions


def _site(store: Store, code: str = "2691A") -> int:
    with store.begin() as conn:
        return conn.execute(
            site.insert().values(kind="air_station", code=code, name="州监测站", attrs={}).returning(site.c.id)
        ).scalar_one()


def _frame(site_id: int, values: list[float | None], *, param: str = "a34004", flag: str = "N") -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "site_id": [site_id] * n,
            "parameter": [param] * n,
            "ts": [T0 + timedelta(hours=i) for i in range(n)],
            "value": values,
            "flag": [flag] * n,
            "unit": ["ug/m3"] * n,
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


def test_write_is_idempotent(store: Store) -> None:
    sid = _site(store)
    first = series.write_long(store, _frame(sid, [10.0, 20.0, None, 40.0]), resolution="hour")
    assert (first.inserted, first.corrected, first.unchanged) == (4, 0, 0)
    again = series.write_long(store, _frame(sid, [10.0, 20.0, None, 40.0]), resolution="hour")
    assert (again.inserted, again.corrected, again.unchanged) == (0, 0, 4)
    got = series.read(store, sites=[sid])
    assert got.height == 4
    assert got["value"].to_list() == [10.0, 20.0, None, 40.0]
    assert got["ts"].to_list()[0] == T0
    assert got.schema["ts"] == pl.Datetime("us", "UTC")


def test_changed_value_is_kept_as_correction(store: Store) -> None:
    sid = _site(store)
    series.write_long(store, _frame(sid, [10.0, 20.0, 30.0]), resolution="hour")
    res = series.write_long(store, _frame(sid, [10.0, 25.0, 30.0]), resolution="hour", reason="late data re-polled")
    assert (res.inserted, res.corrected, res.unchanged) == (0, 1, 2)
    assert series.read(store, sites=[sid])["value"].to_list() == [10.0, 25.0, 30.0]
    with store.engine.connect() as conn:
        rows = conn.execute(select(observation_revision.c.value, observation_revision.c.reason)).all()
    assert [tuple(r) for r in rows] == [(20.0, "late data re-polled")]
    # a flag change alone is also a correction
    flagged = series.write_long(store, _frame(sid, [10.0, 25.0, 30.0], flag="D"), resolution="hour")
    assert flagged.corrected == 3
    assert series.read(store, sites=[sid], valid_only=True).height == 0


def test_latest_follows_newest_ts(store: Store) -> None:
    sid = _site(store)
    series.write_long(store, _frame(sid, [1.0, 2.0, 3.0]), resolution="hour")
    late = _frame(sid, [9.0])  # an old hour arriving late must not move latest backwards
    series.write_long(store, late, resolution="hour")
    lat = series.read_latest(store, sites=[sid])
    assert lat.height == 1
    assert lat["value"][0] == 3.0
    assert lat["ts"][0] == T0 + timedelta(hours=2)


def test_bad_rows_are_rejected_with_reasons_and_rest_written(store: Store) -> None:
    sid = _site(store)
    df = pl.DataFrame(
        {
            "series_id": [None, 1, 1, 1],
            "ts": [T0, None, T0, T0 + timedelta(hours=1)],
            "value": [1.0, 2.0, float("inf"), 4.0],
            "flag": ["N", "N", "N", "TOOLONG"],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    series.write_long(store, _frame(sid, [0.0]), resolution="hour")  # creates series 1
    res = series.write(store, df)
    assert res.written == 0
    assert [r for r, _ in res.rejected] == [0, 1, 2, 3]
    reasons = dict(res.rejected)
    assert reasons[0] == "series_id missing"
    assert reasons[1] == "ts missing or unreadable"
    assert reasons[2] == "value is not a finite number"
    assert "flag longer" in reasons[3]


def test_naive_times_refused(store: Store) -> None:
    df = pl.DataFrame({"series_id": [1], "ts": [datetime(2026, 1, 1)], "value": [1.0]})
    with pytest.raises(ValueError, match="naive"):
        series.write(store, df)


def test_duplicate_keys_in_batch_keep_last(store: Store) -> None:
    sid = _site(store)
    df = pl.concat([_frame(sid, [1.0]), _frame(sid, [2.0])])
    res = series.write_long(store, df, resolution="hour")
    assert (res.inserted, res.duplicates_in_batch) == (1, 1)
    assert series.read(store, sites=[sid])["value"].to_list() == [2.0]


def test_read_filters_and_half_open_range(store: Store) -> None:
    a, b = _site(store, "A"), _site(store, "B")
    series.write_long(store, pl.concat([_frame(a, [1, 2, 3]), _frame(b, [4, 5, 6], param="a34002")]), resolution="hour")
    got = series.read(store, parameters=["a34002"], start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    assert got.rows() == [(b, "a34002", T0 + timedelta(hours=1), 5.0, "N")]
    assert series.read(store, sites=[a], resolution="day").height == 0


def test_conflicting_unit_is_refused(store: Store) -> None:
    sid = _site(store)
    series.write_long(store, _frame(sid, [1.0]), resolution="hour")
    with pytest.raises(ValueError, match="ug/m3"):
        series.write_long(store, _frame(sid, [1.0]).with_columns(unit=pl.lit("mg/m3")), resolution="hour")


@pytest.mark.postgres
def test_postgres_partitions_by_month(pg_database: str) -> None:
    from bogda.store import connect

    st = connect(pg_database)
    with st.begin() as conn:
        conn.execute(text("TRUNCATE site, series, observation, latest RESTART IDENTITY CASCADE"))
    sid = _site(st, "P")
    series.write_long(st, _frame(sid, [1.0, 2.0, 3.0]), resolution="hour")  # 2026-01-31 22:00 .. 2026-02-01 00:00
    with st.engine.connect() as conn:
        parts = (
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'observation' ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
        brin = conn.execute(text("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_observation_ts_brin'")).scalar()
        n = conn.execute(select(func.count()).select_from(text("observation_2026_02"))).scalar()
    assert {"observation_2026_01", "observation_2026_02"} <= set(parts)
    assert brin == 1
    assert n == 1
    st.dispose()


def _cached_blocks(st: Store, site_id: int) -> int:
    from bogda.store.schema import observation_block

    ids = series.find_series(st, sites=[site_id])["series_id"].to_list()
    with st.engine.connect() as conn:
        q = select(func.count()).select_from(observation_block).where(observation_block.c.series_id.in_(ids))
        return conn.execute(q).scalar_one()


def test_block_cache_is_invalidated_by_corrections(store: Store) -> None:
    st = store
    sid = _site(st)
    series.write_long(st, _frame(sid, [1.0, 2.0, None]), resolution="hour")
    now = T0 + timedelta(days=120)  # every block of the frame is sealed by then
    first = series.read(st, sites=[sid], now=now)
    span = blocks.BLOCK_SECONDS["hour"]
    assert _cached_blocks(st, sid) == len({int((T0 + timedelta(hours=i)).timestamp()) // span for i in range(3)})
    assert first["value"].to_list() == [1.0, 2.0, None]
    assert series.read(st, sites=[sid], now=now).equals(first)  # served from the cache, same frame
    series.write_long(st, _frame(sid, [1.0, 7.0, None], flag="N"), resolution="hour", reason="audit fix")
    assert _cached_blocks(st, sid) < 2  # the corrected block's packed copy is gone
    assert series.read(st, sites=[sid], now=now)["value"].to_list() == [1.0, 7.0, None]
    # an unsealed block (recent data) is read row-wise and never cached
    fresh = series.read(st, sites=[sid], now=T0 + timedelta(hours=5))
    assert fresh["value"].to_list() == [1.0, 7.0, None]


def test_block_cache_mixes_cached_and_open_blocks(store: Store) -> None:
    sid = _site(store)
    series.write_long(store, _frame(sid, [float(i) for i in range(24 * 40)]), resolution="hour")
    span = blocks.BLOCK_SECONDS["hour"]
    # "now" such that the first block of the frame is sealed and the later ones are open
    first_block = int(T0.timestamp()) // span
    now = datetime.fromtimestamp((first_block + 1) * span + blocks.SEAL_AFTER, UTC)
    got = series.read(store, sites=[sid], now=now)
    assert got["value"].to_list() == [float(i) for i in range(24 * 40)]
    assert _cached_blocks(store, sid) == 1
    part = series.read(store, sites=[sid], start=T0 + timedelta(hours=3), end=T0 + timedelta(days=35), now=now)
    assert part["value"].to_list() == [float(i) for i in range(3, 24 * 35)]


@pytest.mark.postgres
def test_postgres_block_cache_never_caches_under_a_running_write(pg_database: str) -> None:
    """A read racing a write returns committed rows and leaves no stale packed copy behind."""
    from bogda.store import connect

    st = connect(pg_database)
    try:
        sid = _site(st, "RACE1")
        series.write_long(st, _frame(sid, [1.0, 2.0, 3.0]), resolution="hour")
        now = T0 + timedelta(days=120)
        with st.begin() as wconn:  # a write in progress: latest upserted, not yet committed
            series.write_batch(
                st,
                wconn,
                pl.DataFrame(
                    {
                        "series_id": series.find_series(st, sites=[sid])["series_id"].to_list(),
                        "ts": [T0 + timedelta(hours=1)],
                        "value": [9.0],
                    },
                    schema_overrides={"ts": pl.Datetime("us", "UTC")},
                ),
            )
            during = series.read(st, sites=[sid], now=now)
            assert during["value"].to_list() == [1.0, 2.0, 3.0]  # committed rows only, read did not wait
            assert _cached_blocks(st, sid) == 0  # the series was locked by the write: nothing packed
        after = series.read(st, sites=[sid], now=now)
        assert after["value"].to_list() == [1.0, 9.0, 3.0]
        assert _cached_blocks(st, sid) > 0
        assert series.read(st, sites=[sid], now=now)["value"].to_list() == [1.0, 9.0, 3.0]
    finally:
        st.dispose()
