"""Late data (monitoring.md §2.5): scheduled polls of the feed, corrections kept as versions, values missing from a
complete re-fetch marked ``withdrawn`` (never deleted) and restored when they come back; the jobs in the jobs list.
Files are cut from the real 2019 CNEMC file (Changji stations, 2019-01-02 rows H 1–3)."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from bogda import jobs
from bogda.monitoring.aqi_tables import update_aqi
from bogda.monitoring.ingest import read_cnemc
from bogda.monitoring.load import read_qa
from bogda.monitoring.repoll import WITHDRAWN_FLAG, folder_source, poll, repoll, window
from bogda.monitoring.stations import register_station_list, station_sites
from bogda.store import Store
from bogda.store.schema import aqi_dirty, aqi_hourly, observation, observation_revision

CODES = ["2691A", "2692A"]
# rows (2019-01-02, H 1..3) cover [00:00, 03:00) Beijing = 2019-01-01 16:00..19:00 UTC
START = datetime(2019, 1, 1, 16, tzinfo=UTC)
END = START + timedelta(hours=3)
NOW = END + timedelta(minutes=25)


@pytest.fixture(scope="module")
def rows(cnemc_path: Path) -> list[list[str]]:
    """Header + the 45 type rows of 2019-01-02 H 1..3 for the Changji stations, as text cells."""
    with gzip.open(cnemc_path, "rt", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        idx = [0, 1, 2] + [header.index(c) for c in CODES]
        out = [[header[i] for i in idx]]
        for r in reader:
            if r[0] == "20190102" and r[1] in ("1", "2", "3"):
                out.append([r[i] for i in idx])
            elif r[0] > "20190102":
                break
    assert len(out) == 1 + 3 * 15
    return out


def _file(rows: list[list[str]], name: str = "feed.csv") -> tuple[str, bytes]:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return name, buf.getvalue().encode()


def _read(rows: list[list[str]], name: str = "feed.csv"):
    n, data = _file(rows, name)
    return read_cnemc(data, name=n)


def _edit(rows: list[list[str]], hour: str, typ: str, code: str, value: str | None) -> list[list[str]]:
    """A copy with one cell changed (``None``: the whole type row of that hour dropped)."""
    col = rows[0].index(code)
    out = [rows[0]]
    for r in rows[1:]:
        if r[1] == hour and r[2] == typ:
            if value is None:
                continue
            r = [*r]
            r[col] = value
        out.append(r)
    return out


def _cell(rows: list[list[str]], hour: str, typ: str, code: str) -> str:
    col = rows[0].index(code)
    return next(r[col] for r in rows[1:] if r[1] == hour and r[2] == typ)


@pytest.fixture
def st(store: Store, station_list_path) -> Store:
    register_station_list(store, station_list_path)
    return store


def _obs(store: Store, code: str, parameter: str, ts: datetime) -> tuple[float, str]:
    sid = station_sites(store).filter(pl.col("code") == code)["site_id"][0]
    from bogda.store import series as S

    got = S.read(store, sites=[sid], parameters=[parameter], start=ts, end=ts + timedelta(hours=1))
    assert got.height == 1
    return got["value"][0], got["flag"][0]


def test_poll_windows() -> None:
    assert window(NOW, "hourly") == (START, END)
    assert window(NOW, "daily") == (END - timedelta(hours=72), END)
    assert window(NOW, "weekly") == (END - timedelta(days=30), END)
    with pytest.raises(ValueError, match="poll kind"):
        window(NOW, "monthly")


def test_first_poll_then_unchanged(st: Store, rows: list[list[str]]) -> None:
    first = repoll(st, [_read(rows)], start=START, end=END, kind="hourly")
    nonempty = sum(1 for r in rows[1:] for c in r[3:] if c != "")
    assert first.new == nonempty and first.changed == first.withdrawn == 0
    again = repoll(st, [_read(rows)], start=START, end=END, kind="hourly")
    assert (again.new, again.changed, again.withdrawn, again.changes) == (0, 0, 0, 0)
    assert again.unchanged == nonempty
    with st.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(observation_revision)).scalar() == 0


def test_correction_withdrawal_and_restore(st: Store, rows: list[list[str]]) -> None:
    repoll(st, [_read(rows)], start=START, end=END, kind="hourly")
    update_aqi(st)  # clears the dirty days of the first load
    h2, h3 = START + timedelta(hours=1), START + timedelta(hours=2)
    pm25 = float(_cell(rows, "2", "PM2.5", "2691A"))
    pm10 = float(_cell(rows, "3", "PM10", "2692A"))
    revised = _edit(_edit(rows, "2", "PM2.5", "2691A", str(int(pm25) + 10)), "3", "PM10", "2692A", "")
    rep = repoll(st, [_read(revised, "revised.csv")], start=END - timedelta(hours=72), end=END, kind="daily")
    assert (rep.new, rep.changed, rep.withdrawn) == (0, 1, 1)
    # the correction is the new value, its old version kept with the reason
    assert _obs(st, "2691A", "a34004", h2) == (pm25 + 10, "N")
    # withdrawn: still stored with its value, flagged W, invalid for QA, never deleted
    assert _obs(st, "2692A", "a34002", h3) == (pm10, WITHDRAWN_FLAG)
    with st.engine.connect() as conn:
        revs = conn.execute(select(observation_revision.c.value, observation_revision.c.reason)).all()
        assert sorted(v for v, _ in revs) == sorted([pm25, pm10])
        assert all(r.startswith("re-poll daily revised.csv") for _, r in revs)
        dirty = conn.execute(select(func.count()).select_from(aqi_dirty)).scalar()
    assert dirty >= 1
    qa = read_qa(st, start=START, end=END).join(station_sites(st).select("site_id", pl.col("code")), on="site_id")
    w = qa.filter((pl.col("code") == "2692A") & (pl.col("parameter") == "a34002") & (pl.col("ts") == h3))
    assert w["flag"][0] == "invalid" and "source_flag_W" in w["qa_reason"][0]
    # the withdrawn PM10 leaves the hourly AQI of 2692A at that hour
    update_aqi(st)
    with st.engine.connect() as conn:
        missing = conn.execute(
            select(aqi_hourly.c.missing_items).where(
                aqi_hourly.c.target_code == "2692A", aqi_hourly.c.ts == int(h3.timestamp())
            )
        ).scalar()
    assert missing is not None and "pm10" in missing.lower()
    # a poll whose file lacks the whole PM10 row of H 3 is not a complete re-fetch of it: nothing withdrawn
    partial = _edit(revised, "3", "PM10", "2691A", None)
    rep = repoll(st, [_read(partial, "partial.csv")], start=START, end=END, kind="hourly")
    assert rep.withdrawn == 0 and _obs(st, "2691A", "a34002", h3)[1] == "N"
    # the source delivers the value again: restored (flag N), the W version kept
    back = _edit(revised, "3", "PM10", "2692A", _cell(rows, "3", "PM10", "2692A"))
    rep = repoll(st, [_read(back, "back.csv")], start=START, end=END, kind="hourly")
    assert (rep.restored, rep.changed, rep.withdrawn) == (1, 1, 0)
    assert _obs(st, "2692A", "a34002", h3) == (pm10, "N")
    with st.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(observation_revision).where(observation_revision.c.flag == "W")
            ).scalar()
            == 1
        )
        assert conn.execute(select(func.count()).select_from(observation)).scalar() == sum(
            1 for r in rows[1:] for c in r[3:] if c != ""
        )


def test_values_outside_the_window_are_ignored(st: Store, rows: list[list[str]]) -> None:
    rep = repoll(st, [_read(rows)], start=START + timedelta(hours=2), end=END, kind="hourly")
    assert rep.new == sum(1 for r in rows[1:] if r[1] == "3" for c in r[3:] if c != "")


def test_jobs_poll_the_feed_folder(st: Store, rows: list[list[str]], tmp_path: Path, monkeypatch) -> None:
    from bogda.config import get_settings

    specs = {s.name: s for s in jobs.DEFAULT_JOBS}
    assert {"monitoring.poll", "monitoring.repoll_daily", "monitoring.repoll_weekly"} <= set(specs)
    assert (specs["monitoring.poll"].every_minutes, specs["monitoring.repoll_daily"].every_minutes) == (60, 1440)
    feed = tmp_path / "monitoring" / "feed"
    feed.mkdir(parents=True)
    name, data = _file(rows, "20190102.csv")
    (feed / name).write_bytes(data)
    (feed / "garbage.csv").write_text("no header here\n1,2,3\n")  # refused, the other file still counts
    monkeypatch.setenv("BOGDA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        run = jobs.run_once(st, specs["monitoring.poll"], now=NOW)
        nonempty = sum(1 for r in rows[1:] for c in r[3:] if c != "")
        assert run["status"] == "ok" and run["rows"] == nonempty
        run = jobs.run_once(st, specs["monitoring.repoll_daily"], now=NOW + timedelta(hours=1))
        assert run["status"] == "ok" and run["rows"] == 0  # nothing changed
    finally:
        get_settings.cache_clear()
    # an explicit source: the weekly window sees the same file, still nothing to change
    assert poll(st, "weekly", now=NOW, source=folder_source(feed)).changes == 0
