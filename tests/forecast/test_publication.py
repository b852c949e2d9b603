"""The published daily forecast (预报发布, HJ 633-2026: ≥ 3 days ahead, before 20:00): the draft from the latest run,
the checks a publication must pass, publishing with the forecaster capability, corrections that supersede, the
duty's deadline, and the published ranges scored against the observed daily AQI beside the model's drafts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bogda.config import Settings, WebSettings
from bogda.findings import set_status
from bogda.forecast import publication as pb
from bogda.forecast import service as sv
from bogda.forecast import verify
from bogda.grid.tasks import GridService
from bogda.store import Store, connect
from bogda.store.schema import finding, forecast_publication, place, task
from bogda.timeutil import beijing_date, day_start_utc, now_utc
from bogda.web.app import create_app
from bogda.web.ui.forecast_publication import duty_line
from console_users import add_issuer_and_reader
from forecast.episode import publication_days, set_daily_aqi, set_pm

FORECASTER = ("duty", "duty-pass-123")
READER = ("reader", "reader-pass-123")


def test_cells_read_back_and_name_what_is_wrong() -> None:
    e = pb.DayEntry("652300", date(2026, 12, 1), 135, 165, "PM2.5")
    assert pb.parse_cell(pb.cell_text(e)) == (135, 165, "PM2.5")
    with pytest.raises(ValueError, match=r"60-80 PM2\.5"):
        pb.parse_cell("about 70")
    with pytest.raises(ValueError, match="unknown primary pollutant 'PM1'"):
        pb.parse_cell("60-80 PM1")


def test_check_entries_names_area_day_and_field() -> None:
    d0 = date(2026, 11, 30)

    def days(code: str, n: int, lo: int = 60, hi: int = 80, primary: str | None = "PM2.5") -> list[pb.DayEntry]:
        return [pb.DayEntry(code, d0 + timedelta(days=k), lo, hi, primary) for k in range(1, n + 1)]

    ok = days("652300", 3) + days("652301", 7)
    assert pb.check_entries(ok, d0, ["652300", "652301"]) == []
    problems = pb.check_entries(days("652300", 2), d0, ["652300", "652301"])
    assert "652300: 2 day(s) published, HJ 633-2026 asks for 3 to 7" in problems
    assert "652301: no days published" in problems
    gap = [e for e in days("652300", 4) if e.day != d0 + timedelta(days=2)]
    assert any("without gaps" in p for p in pb.check_entries(gap, d0, ["652300"]))
    wide = days("652300", 3, lo=60, hi=100)  # 40 wide where 20 is the span at AQI 80
    assert (
        pb.check_entries(wide, d0, ["652300"])[0]
        == "652300 2026-12-01: AQI range 60-100 is wider than 20 at that level"
    )
    clean = days("652300", 3, lo=20, hi=40)  # no primary pollutant at AQI ≤ 50, and one must be named above
    assert "no primary pollutant at AQI ≤ 50" in pb.check_entries(clean, d0, ["652300"])[0]
    assert pb.check_entries(days("652300", 3, lo=20, hi=40, primary=None), d0, ["652300"]) == []
    assert "names its primary pollutant" in pb.check_entries(days("652300", 3, primary=None), d0, ["652300"])[0]
    assert "not an area" in pb.check_entries(ok + days("999999", 3), d0, ["652300", "652301"])[-1]


@pytest.fixture
def episode(demo_store: Store) -> Store:
    set_pm(demo_store, ["CJ-HT01"], 260.0)
    sv.refresh(demo_store, models=None)
    return demo_store


def test_draft_is_the_runs_daily_aqi_as_published_ranges(episode: Store) -> None:
    today = beijing_date(now_utc())
    run_id, entries = pb.draft(episode, today)
    run = sv.latest_run(episode)
    assert run is not None and run_id == run["id"]
    areas = {t.code for t in sv.registry(episode).areas}
    assert {e.area_code for e in entries} == areas
    for e in entries:
        lo, hi = verify.published_range([e.model_aqi])
        assert (e.aqi_lo, e.aqi_hi) == (int(lo[0]), int(hi[0])) and e.aqi_lo <= e.model_aqi <= e.aqi_hi
        assert 1 <= (e.day - today).days <= 7
    ht = [e for e in entries if e.area_code == "652323"]
    assert ht[0].aqi_lo > 200 and ht[0].primary == "PM2.5"  # 呼图壁 in its 260 µg/m³ episode
    assert pb.check_entries(entries, today, areas) == []  # a draft may be published as it is


def test_publish_supersede_and_status(episode: Store) -> None:
    now = now_utc()
    today = beijing_date(now)
    run_id, entries = pb.draft(episode, today)
    first = pb.publish(episode, entries, by="duty", issue_date=today, now=now)
    pub = pb.current(episode, today)
    assert pub is not None and pub["id"] == first and pub["run_id"] == run_id and pub["supersedes"] is None
    assert len(pub["days"]) == len(entries) and not any(d["corrected"] for d in pub["days"])
    # the forecaster corrects 呼图壁's first day; the correction supersedes the first publication, which is kept
    e0 = next(e for e in entries if e.area_code == "652323")
    fixed = [
        pb.DayEntry(e.area_code, e.day, 180, 210, "PM2.5")
        if e == e0
        else pb.DayEntry(e.area_code, e.day, e.aqi_lo, e.aqi_hi, e.primary)
        for e in entries
    ]
    second = pb.publish(episode, fixed, by="duty", issue_date=today, note="人工订正：冷空气提前", now=now)
    pub = pb.current(episode, today)
    assert (
        pub is not None and pub["id"] == second and pub["supersedes"] == first and pub["note"] == "人工订正：冷空气提前"
    )
    corrected = [(d["area_code"], d["day"]) for d in pub["days"] if d["corrected"]]
    assert corrected == [("652323", e0.day)]
    day = next(d for d in pub["days"] if d["area_code"] == "652323" and d["day"] == e0.day)
    assert (day["aqi_lo"], day["aqi_hi"], day["model_aqi"]) == (180, 210, pytest.approx(e0.model_aqi))
    with episode.engine.connect() as conn:
        assert conn.execute(select(forecast_publication.c.id).order_by(forecast_publication.c.id)).scalars().all() == [
            first,
            second,
        ]
    # a publication that fails a check stores nothing and names every problem
    with pytest.raises(ValueError, match="652300: no days published"):
        pb.publish(episode, [e for e in entries if e.area_code != "652300"], by="duty", issue_date=today, now=now)
    assert pb.current(episode, today)["id"] == second  # type: ignore[index]
    # the duty: due by 20:00 Beijing; overdue after it without a publication; late when published after it
    d = date(2026, 1, 10)
    before = day_start_utc(d) + timedelta(hours=19, minutes=59)
    after = day_start_utc(d) + timedelta(hours=20, minutes=1)
    assert pb.status(episode, before)["overdue"] is False and pb.status(episode, after)["overdue"] is True
    assert pb.status(episode, after)["deadline"] == datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    d_entries = [pb.DayEntry(e.area_code, d + (e.day - today), e.aqi_lo, e.aqi_hi, e.primary) for e in entries]
    pb.publish(episode, d_entries, by="duty", issue_date=d, now=after)
    st = pb.status(episode, after + timedelta(minutes=5))
    assert st["published"] and st["late"] and not st["overdue"] and st["published_by"] == "duty"
    # a day published in time and corrected after 20:00 was not published late
    d2 = date(2026, 1, 11)
    d2_entries = [pb.DayEntry(e.area_code, d2 + (e.day - today), e.aqi_lo, e.aqi_hi, e.primary) for e in entries]
    on_time = day_start_utc(d2) + timedelta(hours=19)
    pb.publish(episode, d2_entries, by="duty", issue_date=d2, now=on_time)
    pb.publish(episode, d2_entries, by="night", issue_date=d2, now=on_time + timedelta(hours=2))
    st = pb.status(episode, on_time + timedelta(hours=3))
    assert not st["late"] and st["published_by"] == "night"


def _lapses(store: Store, day: date) -> list[dict]:
    with store.engine.connect() as conn:
        q = select(finding).where(finding.c.dedupe_key == pb.overdue_key(day)).order_by(finding.c.id)
        return [dict(r) for r in conn.execute(q).mappings()]


def test_a_missed_deadline_goes_on_the_problem_list_until_published(episode: Store) -> None:
    """20:00 passed unpublished → one ``incident`` finding for the day on the prefecture (the job repeats without
    adding one); routed, it is a prefecture task of source upper_dispatch, not a field problem; publishing resolves
    it in the same transaction and the job then stays quiet."""
    today = beijing_date(now_utc())
    _, entries = pb.draft(episode, today)
    d = date(2026, 1, 12)
    at = day_start_utc(d)
    assert pb.duty_job(episode, at + timedelta(hours=19, minutes=59)) == 0 and _lapses(episode, d) == []
    assert pb.duty_job(episode, at + timedelta(hours=20, minutes=10)) == 1
    assert pb.duty_job(episode, at + timedelta(hours=20, minutes=20)) == 0
    (lapse,) = _lapses(episode, d)
    with episode.engine.connect() as conn:
        prefecture = conn.execute(select(place.c.id).where(place.c.kind == "prefecture")).scalar_one()
    assert (lapse["kind"], lapse["status"], lapse["count"], lapse["place_id"]) == ("incident", "open", 2, prefecture)
    assert lapse["evidence"]["rule"] == pb.OVERDUE_RULE and lapse["evidence"]["issue_date"] == "2026-01-12"
    assert lapse["detected_at"].replace(tzinfo=UTC) == datetime(2026, 1, 12, 12, 0, tzinfo=UTC)  # 20:00 Beijing
    st = pb.status(episode, at + timedelta(hours=20, minutes=30))
    assert st["overdue"] and st["finding_id"] == lapse["id"]
    assert f"#{lapse['id']}" in duty_line(st, "zh") and "问题清单" in duty_line(st, "zh")
    out = GridService(episode).route_finding(lapse["id"], now=at + timedelta(hours=20, minutes=31))
    with episode.engine.connect() as conn:
        t = conn.execute(select(task).where(task.c.id == out.task_id)).mappings().one()
    assert (t["source"], t["category"], t["place_id"]) == ("upper_dispatch", "other", prefecture)
    # published late: the finding is resolved by the publication, the duty says late, the job stays quiet
    late = at + timedelta(hours=21)
    pid = pb.publish(
        episode,
        [pb.DayEntry(e.area_code, d + (e.day - today), e.aqi_lo, e.aqi_hi, e.primary) for e in entries],
        by="duty",
        issue_date=d,
        now=late,
    )
    (lapse,) = _lapses(episode, d)
    assert lapse["status"] == "resolved" and lapse["status_by"] == "duty" and f"#{pid}" in lapse["status_reason"]
    st = pb.status(episode, late + timedelta(minutes=5))
    assert st["late"] and st["finding_id"] is None
    assert pb.duty_job(episode, late + timedelta(minutes=10)) == 0 and len(_lapses(episode, d)) == 1


def test_a_lapse_closed_by_a_person_is_not_raised_again_that_day(episode: Store) -> None:
    d = date(2026, 1, 13)
    at = day_start_utc(d)
    assert pb.duty_job(episode, at + timedelta(hours=20, minutes=5)) == 1
    (lapse,) = _lapses(episode, d)
    with episode.begin() as conn:
        set_status(
            conn,
            lapse["id"],
            "dismissed",
            by="desk",
            reason="预报员病假，已报告",
            now=at + timedelta(hours=20, minutes=7),
        )
    assert pb.duty_job(episode, at + timedelta(hours=23, minutes=50)) == 0
    assert [r["status"] for r in _lapses(episode, d)] == ["dismissed"]


def test_nothing_is_due_without_an_operational_run(demo_store: Store) -> None:
    assert sv.latest_run(demo_store) is None
    d = date(2026, 1, 14)
    assert pb.duty_job(demo_store, day_start_utc(d) + timedelta(hours=21)) == 0 and _lapses(demo_store, d) == []


def test_scores_compare_published_ranges_with_the_models(demo_store: Store) -> None:
    """Two issue dates of one county, leads 1–3; observed AQI 70 (PM2.5) on every target day. The forecaster
    published 60–80 PM2.5 on each (all inside), the model's drafts were 100 ± 10 (120–150 wide 30: never inside, and
    轻度 where 良 was observed), so the published ranges score 1.0 and the model's 0.0 on the same six days."""
    d0 = date(2020, 6, 1)  # long before the demo's own days (the last 7 before the clock)
    areas = [t.code for t in sv.registry(demo_store).areas]
    for k in range(1, 6):
        set_daily_aqi(demo_store, "652301", d0 + timedelta(days=k), 70, "PM2.5")
    for issue in (d0, d0 + timedelta(days=1)):
        entries = [
            pb.DayEntry(code, issue + timedelta(days=k), 60, 80, "PM2.5", model_aqi=135.0, model_primary="PM10")
            for code in areas
            for k in (1, 2, 3)
        ]
        pb.publish(demo_store, entries, by="duty", issue_date=issue, now=day_start_utc(issue) + timedelta(hours=18))
    rows = pb.scores(demo_store, d0, d0 + timedelta(days=1))
    ht = [r for r in rows if r["area_code"] == "652301"]
    assert [r["lead"] for r in ht] == [1, 2, 3]
    for r in ht:
        assert (r["n_published"], r["n_corrected"], r["published_n"]) == (2, 2, 2)
        assert (r["published_range_acc"], r["published_level_range_acc"], r["published_primary_acc"]) == (1.0, 1.0, 1.0)
        assert (r["model_range_acc"], r["model_level_range_acc"], r["model_primary_acc"]) == (0.0, 0.0, 0.0)
        # the corrections gained every day; two issue dates are far too few for an interval
        assert (r["range_acc_gain"], r["range_acc_gain_lo"], r["range_acc_gain_hi"]) == (1.0, None, None)
    # all areas pooled per lead: only 652301 has observations on those days, the others are not scored
    pooled = [r for r in rows if r["area_code"] == "*"]
    assert [(r["lead"], r["published_n"]) for r in pooled] == [(1, 2), (2, 2), (3, 2)]


def test_the_command_scores_the_last_30_days_with_the_gain(demo_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """``bogda forecast publish --scores``: one row per area and lead, the gain in the last column."""
    from typer.testing import CliRunner

    from bogda import cli
    from bogda.cli import app

    today = beijing_date(now_utc())
    issue = today - timedelta(days=5)
    areas = [t.code for t in sv.registry(demo_store).areas]
    for k in (1, 2, 3):
        set_daily_aqi(demo_store, "652301", issue + timedelta(days=k), 70, "PM2.5")
    entries = [
        pb.DayEntry(c, issue + timedelta(days=k), 60, 80, "PM2.5", 135.0, "PM10") for c in areas for k in (1, 2, 3)
    ]
    pb.publish(demo_store, entries, by="duty", issue_date=issue, now=day_start_utc(issue) + timedelta(hours=18))
    monkeypatch.setattr(cli.console, "size", (240, 50))  # a wide table whatever TERM and COLUMNS say
    r = CliRunner().invoke(app, ["forecast", "publish", "--scores", "--database-url", demo_store.url])
    assert r.exit_code == 0, r.output
    assert "range gain" in r.output and "+1.00 (—)" in r.output, r.output


def test_correction_gain_says_whether_corrections_beat_chance() -> None:
    """60 target days: the model's drafted range holds the observation on 30; the forecaster's corrections fix 12 of
    the 30 misses and spoil 2 hits. The gain, +10 days of 60, is beyond chance; corrections that fix as many days
    as they spoil are not."""
    days = [date(2026, 1, 1) + timedelta(days=k) for k in range(60)]
    model = np.tile([1.0, 0.0], 30)
    published = model.copy()
    published[np.flatnonzero(model == 0)[:12]] = 1.0
    published[np.flatnonzero(model == 1)[:2]] = 0.0
    g = pb.correction_gain(days, published, model)
    assert g["range_acc_gain"] == pytest.approx(10 / 60)
    assert 0 < g["range_acc_gain_lo"] < g["range_acc_gain"] < g["range_acc_gain_hi"]
    even = model.copy()
    even[np.flatnonzero(model == 0)[:6]] = 1.0
    even[np.flatnonzero(model == 1)[:6]] = 0.0
    g = pb.correction_gain(days, even, model)
    assert g["range_acc_gain"] == 0.0 and g["range_acc_gain_lo"] < 0 < g["range_acc_gain_hi"]


@pytest.fixture
def client(demo_template: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Store]]:
    shutil.copyfile(demo_template, tmp_path / "demo.db")
    st = connect(f"sqlite:///{tmp_path / 'demo.db'}")
    set_pm(st, ["CJ-HT01"], 260.0)
    sv.refresh(st, models=None)
    with st.begin() as conn:
        add_issuer_and_reader(conn, FORECASTER, READER, capability="forecaster")
    settings = Settings(database_url=st.url, data_dir=tmp_path, web=WebSettings(secret_key="k" * 32))
    with TestClient(create_app(settings, st, console=False)) as c:
        yield c, st
    st.dispose()


def test_api_draft_publish_and_read(client: tuple[TestClient, Store]) -> None:
    c, store = client
    base = "/api/v1/forecast/publication"
    assert c.get(f"{base}/status").status_code == 401
    st = c.get(f"{base}/status", auth=READER).json()
    assert st["published"] is False and st["deadline"]["local"].endswith("T20:00:00+08:00")
    assert c.get(base, auth=READER).status_code == 404
    draft = c.get(f"{base}/draft", auth=READER).json()
    n = 8 * publication_days(store)  # the prefecture and 7 counties, D+1..D+7 (D+6 in the hour after midnight)
    assert draft["run_id"] and len(draft["days"]) == n
    days = [{k: d[k] for k in ("area_code", "day", "aqi_lo", "aqi_hi", "primary")} for d in draft["days"]]
    body = {"days": days, "note": "", "run_id": draft["run_id"]}
    r = c.post(base, json=body, auth=READER)
    assert r.status_code == 403 and "forecaster" in r.json()["errors"][0]["reason"]
    # the forecaster writes the primary pollutant as forecasters do ("O3" is the 8 h item)
    days[0] = days[0] | {"aqi_lo": 40, "aqi_hi": 60, "primary": "O3"}
    pub = c.post(base, json=body, auth=FORECASTER)
    assert pub.status_code == 201, pub.text
    out = pub.json()
    assert out["published_by"] == "duty" and out["run_id"] == draft["run_id"] and len(out["days"]) == n
    first = next(d for d in out["days"] if (d["area_code"], d["day"]) == (days[0]["area_code"], days[0]["day"]))
    assert (first["aqi_lo"], first["aqi_hi"], first["primary"], first["corrected"]) == (40, 60, "O3_8h", True)
    assert sum(d["corrected"] for d in out["days"]) == 1
    assert c.get(base, auth=READER).json()["id"] == out["id"]
    assert c.get(f"{base}/status", auth=READER).json()["published"] is True
    # bad input: every problem named, nothing stored
    days[1] = days[1] | {"aqi_lo": 60, "aqi_hi": 200}
    bad = c.post(base, json=body, auth=FORECASTER)
    assert bad.status_code == 422 and "is wider than" in bad.json()["errors"][0]["reason"]
    days[1] = days[1] | {"aqi_lo": 60, "aqi_hi": 80, "primary": "dust"}
    bad = c.post(base, json=body, auth=FORECASTER)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "days[1].primary"
    days[1] = days[1] | {"primary": "PM2.5"}
    bad = c.post(base, json=body | {"run_id": 99999}, auth=FORECASTER)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "run_id"
    assert c.get(base, auth=READER).json()["id"] == out["id"]
    assert c.get(f"{base}/scores?start=2026-02-02&end=2026-02-01", auth=READER).status_code == 422
    assert c.get(f"{base}/scores", auth=READER).json()["results"] == []  # nothing published before today


def test_every_drafted_range_passes_the_width_check() -> None:
    """A forecast just above a span's edge (100.3 → 85–115, 30 wide) is drafted wider than the span at the range's
    centre (20 at AQI 100): the check judges the width by the range's top, so no draft is refused by it."""
    f = np.concatenate([np.linspace(0.0, 500.0, 5001), [100.3, 200.2, 300.4, 49.9, 50.1]])
    lo, hi = verify.published_range(f)
    bad = [(x, a, b) for x, a, b in zip(f, lo, hi, strict=True) if b - a > pb.max_span(int(a), int(b))]
    assert bad == []
    assert pb.max_span(60, 100) == 20  # a forecaster's 40-wide range at AQI 60–100 is still too wide
