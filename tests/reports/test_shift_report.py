"""The shift report (交接班报告) in a scripted scenario with a controllable clock (governance.md §8 check 13): the
counts of a shift equal hand-computed values, every count names its records, a past shift is rebuilt as of its end,
and the DOCX renders with CJK fonts (every CJK run carries an ``eastAsia`` font)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from bogda.findings import FindingDraft, raise_finding, set_status
from bogda.grid.tasks import GridConfig, GridService
from bogda.reports import shift_report as sr
from bogda.store import Store
from bogda.store.schema import finding, fire_event, report, task, user

DAY = date(2025, 6, 10)
SHIFT = sr.shift_of(DAY)
START, END = SHIFT.start, SHIFT.end
S, E = START, END


def test_shift_windows_are_beijing_08_30() -> None:
    assert SHIFT.start == datetime(2025, 6, 10, 0, 30, tzinfo=UTC)
    assert SHIFT.end - SHIFT.start == timedelta(hours=24)
    assert sr.shift_at(datetime(2025, 6, 10, 0, 29, tzinfo=UTC)) == sr.shift_of(date(2025, 6, 9))
    assert sr.shift_at(datetime(2025, 6, 10, 0, 30, tzinfo=UTC)) == SHIFT
    assert sr.parse_shift("2025-06-10") == SHIFT
    night = sr.parse_shift("2025-06-10T20:00", hours=12)
    assert night.start == datetime(2025, 6, 10, 12, 0, tzinfo=UTC) and night.end - night.start == timedelta(hours=12)
    assert SHIFT.period == "2025-06-10T08:30"
    with pytest.raises(ValueError, match="2025-13-01"):
        sr.parse_shift("2025-13-01")
    with pytest.raises(ValueError, match="1 … 48"):
        sr.shift_of(DAY, hours=0)
    assert sr.shift_of(DAY, start=time(20, 0)).start == datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


def _finding(store: Store, key: str, at: datetime, severity: str = "high", kind: str = "incident") -> int:
    with store.begin() as conn:
        out = raise_finding(
            conn,
            FindingDraft(
                kind=kind,
                severity=severity,
                title=f"交接班测试 {key}",
                dedupe_key=f"shift-{key}",
                detected_at=at,
                lon=87.30,
                lat=44.01,
            ),
            now=at,
        )
    return out.finding_id


@pytest.fixture
def scenario(demo_store: Store) -> tuple[Store, dict[str, int]]:
    """Before, during and after the shift of 2025-06-10 08:30 (Beijing), with the clock set for each step."""
    st = demo_store
    svc = GridService(st, GridConfig(dedupe=False))  # each finding its own task
    with st.engine.connect() as conn:
        op = conn.execute(select(user.c.id).where(user.c.login == "operator")).scalar_one()
    actor = svc.actor(op)
    ids: dict[str, int] = {}
    h = timedelta(hours=1)
    ids["before"] = _finding(st, "before", S - 2 * h)  # waits through the whole shift
    ids["old"] = _finding(st, "old", S - 30 * h)  # its task was made and dispatched before the shift
    old = svc.route_finding(ids["old"], now=S - 29 * h, actor=actor)
    svc.transition(old.task_id, "dispatch", actor, now=S - 29 * h)
    ids["dispatched"] = _finding(st, "dispatched", S + 1 * h)
    made = svc.route_finding(ids["dispatched"], now=S + 2 * h, actor=actor)
    svc.transition(made.task_id, "dispatch", actor, now=S + 2 * h)
    ids["created_only"] = _finding(st, "created-only", S + 3 * h, severity="medium")
    only = svc.route_finding(ids["created_only"], now=S + 4 * h, actor=actor)
    ids["dismissed"] = _finding(st, "dismissed", S + 5 * h, severity="low")
    with st.begin() as conn:
        set_status(conn, ids["dismissed"], "dismissed", by="operator", reason="核实无问题", now=S + 6 * h)
    ids["waiting"] = _finding(st, "waiting", S + 7 * h, severity="critical")
    ids["after"] = _finding(st, "after", E + 1 * h)  # the next shift's
    # deadlines: the old task ran out before the shift, the dispatched one during it; the created-only one later
    with st.begin() as conn:
        conn.execute(update(task).where(task.c.id == old.task_id).values(close_due=S - 5 * h))
        conn.execute(update(task).where(task.c.id == made.task_id).values(close_due=S + 10 * h))
        conn.execute(update(task).where(task.c.id == only.task_id).values(close_due=E + 48 * h))
        for eid, first in (("FE-SHIFT-IN", S + 8 * h), ("FE-SHIFT-OUT", S - 8 * h)):
            conn.execute(
                fire_event.insert().values(
                    event_id=eid,
                    status="open",
                    first_seen_utc=first,
                    last_seen_utc=first,
                    lat=44.0,
                    lon=87.3,
                    n_detections=1,
                    n_clusters=1,
                    satellites=[],
                    updated_at=first,
                )
            )
    ids.update(old_task=old.task_id, task=made.task_id, created_task=only.task_id)
    return st, ids


def test_counts_equal_hand_computed_values(scenario: tuple[Store, dict[str, int]]) -> None:
    st, ids = scenario
    r = sr.build(st, SHIFT, officer="张三", handover_to="李四", now=E + timedelta(hours=30))
    f = r.figures
    new = {ids[k] for k in ("dispatched", "created_only", "dismissed", "waiting")}
    assert f["findings_new"].value == 4
    assert set(f["findings_new"].refs) == {f"finding:{i}" for i in new}
    assert f["findings_new.incident"].value == 4
    assert [f[f"findings_sev.{s}"].value for s in ("critical", "high", "medium", "low")] == [1, 1, 1, 1]
    assert f["tasks_created"].refs == (f"task:{ids['task']}", f"task:{ids['created_task']}")
    assert f["tasks_dispatched"].refs == (f"task:{ids['task']}",)
    # waiting at the shift end: the one from before the shift and the critical one; the next shift's is not there
    assert set(f["undispatched"].refs) == {f"finding:{ids['before']}", f"finding:{ids['waiting']}"}
    ages = {w["id"]: w["age_h"] for w in r.lists["undispatched"]}
    assert ages == {ids["before"]: 26.0, ids["waiting"]: 17.0}
    # overdue at the end: the old task (ran out before) and the dispatched one (ran out during: an SLA breach)
    assert set(f["overdue"].refs) == {f"task:{ids['old_task']}", f"task:{ids['task']}"}
    assert f["sla_breaches"].refs == (f"task:{ids['task']}",)
    assert f["fires_new"].refs == ("fire_event:FE-SHIFT-IN",)
    assert f["alarms_opened"].value == 0 and f["petitions"].value == 0 and f["clues_s12"].value == 0
    assert f["stations_offline"].denominator == f["stations_offline"].numerator  # no data in 2025: all offline


def test_a_past_shift_is_rebuilt_as_of_its_end(scenario: tuple[Store, dict[str, int]]) -> None:
    st, ids = scenario
    before = sr.build(st, SHIFT, now=E + timedelta(hours=30)).figures
    # later events (the waiting finding dispatched, the dispatched task closed) do not change the past shift
    svc = GridService(st, GridConfig(dedupe=False))
    with st.engine.connect() as conn:
        op = conn.execute(select(user.c.id).where(user.c.login == "operator")).scalar_one()
    later = svc.route_finding(ids["waiting"], now=E + 2 * timedelta(hours=1), actor=svc.actor(op))
    assert later.task_id is not None
    with st.begin() as conn:
        conn.execute(update(task).where(task.c.id == ids["task"]).values(closed_at=E + timedelta(hours=3)))
    after = sr.build(st, SHIFT, now=E + timedelta(hours=30)).figures
    for key in ("findings_new", "tasks_created", "tasks_dispatched", "undispatched", "overdue", "sla_breaches"):
        assert after[key].refs == before[key].refs, key
    # while the next shift sees the change
    nxt = sr.build(st, sr.shift_of(DAY + timedelta(days=1)), now=E + timedelta(hours=30)).figures
    assert f"finding:{ids['waiting']}" not in nxt["undispatched"].refs
    assert f"task:{later.task_id}" in nxt["tasks_created"].refs


def test_docx_renders_with_cjk_fonts_and_is_recorded(scenario: tuple[Store, dict[str, int]], tmp_path) -> None:
    st, _ = scenario
    path, rid, r = sr.generate(
        st,
        SHIFT,
        tmp_path,
        officer="张三",
        handover_to="李四",
        notes="夜间巡查正常。",
        handover_items="跟进玛纳斯县异味投诉。",
        actor="operator",
        now=E + timedelta(hours=30),
    )
    data = path.read_bytes()
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    assert "交接班报告" in xml and "跟进玛纳斯县异味投诉" in xml and "附件：数据来源" in xml
    assert 'w:eastAsia="Noto' in xml
    text = r.document.plain_text()
    assert "新增问题4件" in text
    with st.engine.connect() as conn:
        row = conn.execute(select(report).where(report.c.id == rid)).mappings().one()
    assert row["docx_sha256"] == hashlib.sha256(data).hexdigest()
    assert row["kind"] == "shift" and row["period"] == "2025-06-10T08:30" and row["created_by"] == "operator"
    keys = {x["key"] for x in row["figures"]}
    assert {"findings_new", "undispatched", "overdue", "tasks_dispatched"} <= keys
    html = sr.printable_html(r)
    assert "file://" not in html and "交接班报告" in html


def test_an_unfinished_shift_says_so(demo_store: Store) -> None:
    r = sr.build(demo_store, SHIFT, now=S + timedelta(hours=3))
    assert "本班尚未结束" in r.document.plain_text()
    with demo_store.engine.connect() as conn:
        assert conn.execute(select(finding.c.id).where(finding.c.detected_at >= E)).first() is None


# --- the editable template (docs/reports.md) -------------------------------------------------------------------

SECTIONS = [
    "一、空气质量现状",
    "二、本班新增情况",
    "三、派单情况",
    "四、超期情况",
    "五、值班记事与交接事项",
    "六、签字",
]


def test_the_default_template_keeps_every_section_and_count(scenario: tuple[Store, dict[str, int]]) -> None:
    st, _ = scenario
    r = sr.build(st, SHIFT, officer="张三", handover_to="李四", now=E + timedelta(hours=30))
    blocks = r.document.blocks
    assert [b.text for b in blocks if b.kind == "h1"] == [*SECTIONS, "附件：数据来源"]
    assert [b.text for b in blocks if b.kind == "h2"] == ["（一）交接事项"]
    captions = [b.caption for b in blocks if b.kind == "table"]
    assert captions[:4] == ["", "各地最新小时AQI与当日AQI", "新增问题清单", "本班派发的任务"]
    assert captions[4:6] == ["尚未派单的问题（按等待时长）", "超期任务（按县市）"]
    assert "暂无预报。" in [b.text for b in blocks]  # no forecast run in the scenario
    text = r.document.plain_text()
    for phrase in ("新增问题4件", "其中突发事件4件", "紧急1件", "派发任务1件", "尚有2件", "超期任务2件", "昌吉市2件"):
        assert phrase in text, phrase
    assert "交班时全州空气站15个" in text and "离线15个" in text
    # every count printed has its reference mark and its row in the appendix, and nothing else is there
    printed = {f.key for f in r.sources.figures}
    assert printed == set(r.figures) and not r.sources.warnings
    assert r.template_version == hashlib.sha256(sr.default_template().encode()).hexdigest()[:12]


CUSTOM = """# 昌吉州生态环境局值班日报

!table shift

## 一、派单与超期

本班派发任务{{ f("tasks_dispatched") }}，超期任务{{ f("overdue") }}；另有{{ f("no_such_figure") }}。

!table overdue

## 二、新增问题

新增问题{{ f("findings_new") }}。

## 三、记事

!text notes 无。
"""


def test_a_custom_template_renders_into_the_docx(scenario: tuple[Store, dict[str, int]], tmp_path) -> None:
    st, _ = scenario
    tpl = tmp_path / "我局值班日报.md.j2"
    tpl.write_text(CUSTOM, encoding="utf-8")
    path, rid, r = sr.generate(
        st, SHIFT, tmp_path, officer="张三", notes="平稳。", now=E + timedelta(hours=30), template=tpl
    )
    xml = zipfile.ZipFile(io.BytesIO(path.read_bytes())).read("word/document.xml").decode()
    assert "昌吉州生态环境局值班日报" in xml and "一、派单与超期" in xml and "平稳。" in xml
    assert "超期任务（按县市）" in xml  # the table kept
    assert "新增问题清单" not in xml and "空气质量现状" not in xml  # the table and the section dropped
    text = r.document.plain_text()
    # the figure moved: the dispatched tasks now come first and carry mark [1]
    assert text.index("本班派发任务1件[1]") < text.index("新增问题4件")
    assert "另有—" in text and any("no_such_figure" in w for w in r.sources.warnings)
    assert [f.key for f in r.sources.figures] == ["tasks_dispatched", "overdue", "no_such_figure", "findings_new"]
    with st.engine.connect() as conn:
        version = conn.execute(select(report.c.template_version).where(report.c.id == rid)).scalar_one()
    assert version == hashlib.sha256(CUSTOM.encode()).hexdigest()[:12] == r.template_version


def test_the_duty_desk_uses_the_configured_template(demo_store: Store, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from bogda.config import ReportSettings, Settings, WebSettings
    from bogda.web.app import create_app

    tpl = tmp_path / "shift.md.j2"
    tpl.write_text(CUSTOM, encoding="utf-8")
    settings = Settings(
        database_url=demo_store.url,
        data_dir=tmp_path,
        web=WebSettings(secret_key="test-secret-key"),
        reports=ReportSettings(shift_template=tpl),
    )
    auth = ("operator", "operator-pass-1")
    with TestClient(create_app(settings, demo_store, console=False)) as client:
        docx = client.post("/api/v1/duty/shift-report", json={"notes": "平稳"}, auth=auth)
        assert docx.status_code == 200, docx.text
        xml = zipfile.ZipFile(io.BytesIO(docx.content)).read("word/document.xml").decode()
        assert "昌吉州生态环境局值班日报" in xml and "空气质量现状" not in xml
        body = client.get("/api/v1/duty/shift-report", auth=auth).json()
        assert any("no_such_figure" in w for w in body["warnings"])
        tpl.write_text("# 坏模板\n\n{% if %}\n", encoding="utf-8")
        bad = client.get("/api/v1/duty/shift-report", params={"format": "html"}, auth=auth)
        assert bad.status_code == 500 and "line 3" in bad.text and "shift.md.j2" in bad.text


def test_the_forecast_table_shows_the_published_range(demo_store: Store) -> None:
    """The 3-day forecast of the shift report: the run's AQI and p10–p90 and, beside them, the range the duty
    forecaster published for the prefecture (the publication in force at the shift end, 预报发布)."""
    from bogda.forecast import publication as pb
    from bogda.forecast.service import registry
    from bogda.timeutil import beijing_date
    from forecast_rows import add_daily_aqi_run

    at = E - timedelta(hours=2)
    today = beijing_date(at)
    add_daily_aqi_run(demo_store, [(42.0, 30.0, 55.0), (88.0, 60.0, 120.0), (160.0, 110.0, 210.0)], now=at)
    _, lists, _ = sr.collect(demo_store, SHIFT)
    assert [f["published"] for f in lists["forecast"]] == [None, None, None]
    ranges = [(35, 55, "PM2.5"), (80, 100, "PM2.5"), (145, 175, "PM2.5")]
    entries = [
        pb.DayEntry(t.code, today + timedelta(days=k), lo, hi, p)
        for t in registry(demo_store).areas
        for k, (lo, hi, p) in enumerate(ranges, 1)
    ]
    pid = pb.publish(demo_store, entries, by="duty", issue_date=today, now=at + timedelta(minutes=30))
    _, lists, meta = sr.collect(demo_store, SHIFT)
    assert [(f["aqi"], f["published"]) for f in lists["forecast"]] == [
        (42.0, "35–55"),
        (88.0, "80–100"),
        (160.0, "145–175"),
    ]
    assert meta["forecast_publication"] == pid
    text = sr.build(demo_store, SHIFT, now=E + timedelta(hours=1)).document.plain_text()
    assert "145–175" in text and "预报员发布的范围" in text
    # a publication made after the shift end is not the one in force at its end
    later = sr.collect(demo_store, sr.shift_of(DAY - timedelta(days=1)))[1]["forecast"]
    assert all(f["published"] is None for f in later)
