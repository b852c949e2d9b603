"""Emission-control state (forecast.md §2): intervals from warnings, plans and control events, merging, the 20-day
feature rule, the feature columns across a Beijing midnight, and training/refresh with and without the columns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from bogda.forecast import control as ctl
from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast.features import CONTROL_COLUMNS, DailyCache, FeatureContext, Panel, daily_features, hourly_features
from bogda.forecast.models import FAST
from bogda.store import Store
from bogda.store.schema import enterprise, place, plan, site, warning, warning_event
from bogda.timeutil import beijing_date, day_start_utc, now_utc
from forecast.episode import mini_region

T0 = datetime(2026, 1, 10, tzinfo=UTC)
WINDOW = (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
TARGETS = ["652300", "652301", "652323", "M0", "M1"]  # M0 in 652301, M1 in 652323 (mini_region: i % 2)


def h(n: float) -> datetime:
    return T0 + timedelta(hours=n)


@pytest.fixture
def region(sqlite_store: Store) -> Store:
    mini_region(sqlite_store, days=1)
    return sqlite_store


def add_warning(
    store: Store,
    area: str,
    state: str,
    level: str,
    first: date,
    last: date,
    *,
    events: list[tuple[datetime, str, str]] = (),  # type: ignore[assignment]
    decided_at: datetime | None = None,
    doc_no: str = "",
) -> int:
    now = now_utc()
    with store.begin() as conn:
        wid = conn.execute(
            warning.insert()
            .values(
                area_code=area,
                rule_set="2024",
                level=level,
                start_date=first,
                end_date=last,
                state=state,
                doc_no=doc_no,
                decided_at=decided_at,
                created_at=now,
                updated_at=now,
            )
            .returning(warning.c.id)
        ).scalar_one()
        for at, to_state, lev in events:
            conn.execute(warning_event.insert().values(warning_id=wid, at=at, by="t", to_state=to_state, level=lev))
    return int(wid)


def by_area(states: list[ctl.ControlState], kind: str = "emergency_response") -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for s in states:
        if s.kind == kind:
            out.setdefault(s.area_code, []).append((s.start, s.end, s.level))
    return out


# --------------------------------------------------------------------------------------------------------------
# merging
# --------------------------------------------------------------------------------------------------------------


def test_merge_takes_the_highest_level_and_joins_touching_pieces() -> None:
    states = [
        ctl.ControlState("X", h(0), h(10), "emergency_response", 2, "A"),
        ctl.ControlState("X", h(4), h(6), "emergency_response", 4, "B"),
        ctl.ControlState("X", h(10), h(12), "emergency_response", 2, "A"),  # touches the first: one piece
        ctl.ControlState("X", h(0), h(3), "special_event", 0, "E"),
        ctl.ControlState("X", h(2), h(5), "special_event", 0, "E"),
        ctl.ControlState("Y", h(0), h(1), "emergency_response", 1, "C"),
        ctl.ControlState("X", h(5), h(5), "staggered_production", 0, "empty"),  # empty interval dropped
    ]
    got = [(s.area_code, s.kind, s.start, s.end, s.level, s.doc_no) for s in ctl.merge_states(states)]
    assert got == [
        ("X", "emergency_response", h(0), h(4), 2, "A"),
        ("X", "emergency_response", h(4), h(6), 4, "B"),
        ("X", "emergency_response", h(6), h(12), 2, "A"),
        ("X", "special_event", h(0), h(5), 0, "E"),
        ("Y", "emergency_response", h(0), h(1), 1, "C"),
    ]


# --------------------------------------------------------------------------------------------------------------
# warnings
# --------------------------------------------------------------------------------------------------------------


def test_only_issued_changed_and_lifted_warnings_count(region: Store) -> None:
    d = date(2026, 1, 5)
    add_warning(region, "652300", "proposed", "red", d, d + timedelta(days=2))
    add_warning(region, "652300", "rejected", "red", d, d + timedelta(days=2))
    add_warning(region, "652301", "issued", "orange", d, d + timedelta(days=1), doc_no="昌州环〔2026〕1号")
    add_warning(region, "652323", "changed", "yellow", d + timedelta(days=3), d + timedelta(days=3))
    add_warning(region, "652323", "lifted", "blue", d + timedelta(days=10), d + timedelta(days=11))  # no lift time
    got = by_area(ctl.control_states(region, TARGETS, *WINDOW))
    issued = (day_start_utc(d), day_start_utc(d + timedelta(days=2)), 3)
    changed = (day_start_utc(d + timedelta(days=3)), day_start_utc(d + timedelta(days=4)), 2)
    lifted = (day_start_utc(d + timedelta(days=10)), day_start_utc(d + timedelta(days=12)), 1)
    # a county's response reaches the county, its stations and the prefecture, never the other county
    assert got["652301"] == [issued] and got["M0"] == [issued]
    assert got["652323"] == [changed, lifted] and got["M1"] == [changed, lifted]
    assert got["652300"] == [issued, changed, lifted]  # red proposals and rejections never count
    docs = {s.doc_no for s in ctl.control_states(region, ["652301"], *WINDOW)}
    assert docs == {"昌州环〔2026〕1号"}


def test_lifted_warning_ends_at_its_lift_and_starts_at_its_issue(region: Store) -> None:
    d = date(2026, 1, 10)
    issued_at = day_start_utc(d) + timedelta(hours=9, minutes=30)  # issued during its first day
    lifted_at = day_start_utc(d + timedelta(days=1)) + timedelta(hours=6)
    add_warning(
        region,
        "652300",
        "lifted",
        "orange",
        d,
        d + timedelta(days=3),
        events=[(issued_at, "issued", "orange"), (lifted_at, "lifted", "orange")],
        decided_at=lifted_at,
    )
    got = by_area(ctl.control_states(region, ["652300"], *WINDOW))
    assert got == {"652300": [(issued_at, lifted_at, 3)]}
    # a window ending before the lift clips the interval
    clipped = ctl.control_states(region, ["652300"], WINDOW[0], lifted_at - timedelta(hours=2))
    assert [(s.start, s.end) for s in clipped] == [(issued_at, lifted_at - timedelta(hours=2))]


def test_changed_warning_keeps_the_level_of_each_decision(region: Store) -> None:
    d = date(2026, 1, 10)
    issued_at = day_start_utc(d) - timedelta(hours=8)  # issued the evening before: in force from 00:00 Beijing
    changed_at = day_start_utc(d + timedelta(days=1)) + timedelta(hours=12)
    add_warning(
        region,
        "652300",
        "changed",
        "red",
        d,
        d + timedelta(days=2),
        events=[(issued_at, "issued", "yellow"), (changed_at, "changed", "red")],
    )
    got = by_area(ctl.control_states(region, ["652301"], *WINDOW))
    assert got == {"652301": [(day_start_utc(d), changed_at, 2), (changed_at, day_start_utc(d + timedelta(days=3)), 4)]}


# --------------------------------------------------------------------------------------------------------------
# plans
# --------------------------------------------------------------------------------------------------------------


def _enterprise(store: Store, code: str, county: str | None, sector: str) -> int:
    with store.begin() as conn:
        pid = None if county is None else conn.execute(select(place.c.id).where(place.c.code == county)).scalar_one()
        sid = conn.execute(
            site.insert().values(kind="enterprise", code=code, name=code, place_id=pid, attrs={}).returning(site.c.id)
        ).scalar_one()
        conn.execute(enterprise.insert().values(site_id=sid, credit_code=f"91{code:0>16}", sector=sector))
    return int(sid)


def _plan(store: Store, **values: object) -> int:
    row = {"target": "", "doc_id": "", "source": "manual", "attrs": {}, "active": True, "created_at": now_utc()}
    with store.begin() as conn:
        return int(conn.execute(plan.insert().values(**(row | values)).returning(plan.c.id)).scalar_one())


def test_stagger_windows_reach_the_counties_of_their_enterprises(region: Store) -> None:
    e1 = _enterprise(region, "E1", "652323", "steel")
    _enterprise(region, "E2", "652323", "cement")
    _enterprise(region, "E3", None, "glass")  # no place: counts at the prefecture
    _plan(region, kind="stagger_window", enterprise_id=e1, start=h(0), end=h(24), doc_id="DOC-E1")
    _plan(region, kind="stagger_window", sector="cement", start=h(48), end=h(72), doc_id="DOC-CEM")
    _plan(region, kind="stagger_window", sector="glass", start=h(100), end=h(110), doc_id="DOC-GLASS")
    _plan(region, kind="stagger_window", sector="paper", start=h(200), end=h(210))  # no such enterprise: nowhere
    _plan(region, kind="stagger_window", enterprise_id=e1, start=h(300), end=h(310), active=False)  # withdrawn
    got = by_area(ctl.control_states(region, TARGETS, *WINDOW), "staggered_production")
    county = [(h(0), h(24), 0), (h(48), h(72), 0)]
    unplaced = [(h(100), h(110), 0)]  # counted at the prefecture, which holds every county
    assert got["652323"] == got["M1"] == got["652300"] == [*county, *unplaced]
    assert got["652301"] == got["M0"] == unplaced  # the other county only sees the enterprise without a place


def test_hand_entered_orders_count_and_orders_from_warnings_are_not_read_twice(region: Store) -> None:
    _plan(region, kind="order", level="orange", start=h(0), end=h(10), doc_id="令1")  # no area: the prefecture
    _plan(region, kind="order", level="red", start=h(20), end=h(30), attrs={"area_code": "652323"})
    _plan(region, kind="order", level="red", start=h(40), end=h(50), source="warning", attrs={"warning_id": 1})
    got = by_area(ctl.control_states(region, TARGETS, *WINDOW))
    assert got["652301"] == [(h(0), h(10), 3)]
    assert got["M1"] == [(h(0), h(10), 3), (h(20), h(30), 4)]
    assert got["652300"] == [(h(0), h(10), 3), (h(20), h(30), 4)]


# --------------------------------------------------------------------------------------------------------------
# control events
# --------------------------------------------------------------------------------------------------------------


def test_control_events_add_list_delete_and_reach(region: Store) -> None:
    a = ctl.add_control_event(region, "652301", h(0), h(5), "special_event", doc_no="亚博会", by="op")
    b = ctl.add_control_event(region, "M1", h(10), h(12), "emergency_response", level=4)
    assert [e["id"] for e in ctl.list_control_events(region)] == [b, a]  # newest start first
    assert [e["id"] for e in ctl.list_control_events(region, area_code="652301")] == [a]
    assert [e["id"] for e in ctl.list_control_events(region, start=h(6), end=h(20))] == [b]
    states = ctl.control_states(region, TARGETS, *WINDOW)
    special = by_area(states, "special_event")
    assert special == {"652301": [(h(0), h(5), 0)], "652300": [(h(0), h(5), 0)], "M0": [(h(0), h(5), 0)]}
    # a station's event reaches the station and the areas holding it
    assert by_area(states) == {c: [(h(10), h(12), 4)] for c in ("M1", "652323", "652300")}
    ctl.delete_control_event(region, a)
    assert [e["id"] for e in ctl.list_control_events(region)] == [b]
    with pytest.raises(LookupError):
        ctl.delete_control_event(region, a)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "parade"}, "kind"),
        ({"start": datetime(2026, 1, 10)}, "start"),  # naive: Beijing or UTC?
        ({"end": h(0)}, "end"),
        ({"level": 5}, "level"),
        ({"level": 0, "kind": "emergency_response"}, "level"),
        ({"level": 2, "kind": "special_event"}, "level"),
        ({"area_code": "999999"}, "area_code"),
    ],
)
def test_control_event_validation_names_the_field(region: Store, kwargs: dict, field: str) -> None:
    args = {"area_code": "652300", "start": h(0), "end": h(5), "kind": "emergency_response", "level": 2} | kwargs
    with pytest.raises(ctl.ControlEventError) as err:
        ctl.add_control_event(
            region, args.pop("area_code"), args.pop("start"), args.pop("end"), args.pop("kind"), **args
        )
    assert err.value.field == field and str(err.value).startswith(f"{field}:")
    assert ctl.list_control_events(region) == []


# --------------------------------------------------------------------------------------------------------------
# the 20-day rule and the feature columns
# --------------------------------------------------------------------------------------------------------------


def _days(first: date, n: int, level: int = 2, kind: str = "emergency_response") -> ctl.ControlState:
    return ctl.ControlState("X", day_start_utc(first), day_start_utc(first + timedelta(days=n)), kind, level)


@pytest.mark.parametrize(("n", "used"), [(19, False), (20, True), (21, True)])
def test_feature_rule_on_both_sides_of_twenty_response_days(n: int, used: bool) -> None:
    first = date(2026, 1, 1)
    states = [
        _days(first, n),
        _days(first, 60, 0, "staggered_production"),  # staggering is not a response day
        _days(first, 60, 0, "special_event"),
    ]
    days = ctl.response_days(states, first - timedelta(days=5), first + timedelta(days=100))
    assert days == n
    assert ctl.control_is_feature(days) is used
    # the window bounds the count, and the threshold is a parameter
    assert ctl.response_days(states, first + timedelta(days=10), first + timedelta(days=100)) == n - 10
    assert ctl.control_is_feature(days, threshold=n + 1) is False


def test_columns_across_a_beijing_midnight() -> None:
    # an orange response from 00:00 Beijing of 10 January (16:00 UTC on the 9th) to 02:00 Beijing on the 11th
    start = day_start_utc(date(2026, 1, 10))
    assert start == datetime(2026, 1, 9, 16, tzinfo=UTC)
    states = [
        ctl.ControlState("X", start, start + timedelta(hours=26), "emergency_response", 3),
        ctl.ControlState("X", start + timedelta(hours=1), start + timedelta(hours=2), "emergency_response", 4),
        ctl.ControlState("X", start - timedelta(minutes=30), start, "special_event"),
    ]
    hours = np.arange("2026-01-09T14", "2026-01-09T19", dtype="datetime64[h]")  # 22:00–02:00 Beijing
    cols = ctl.control_columns(states, hours)
    assert cols["control_level"].tolist() == [0, 0, 3, 4, 3]
    assert cols["special_event"].tolist() == [0, 1, 0, 0, 0] and cols["staggered"].sum() == 0
    daily = ctl.daily_control_columns(states, np.array(["2026-01-09", "2026-01-10", "2026-01-11"], "datetime64[D]"))
    assert daily["control_level"].tolist() == [0, 4, 3]  # Beijing dates, not UTC ones
    assert daily["special_event"].tolist() == [1, 0, 0]
    # the panel layout: position 0 is 00:00 Beijing of first_day
    arr = ctl.control_arrays(states, ["Y", "X"], date(2026, 1, 9), 72)
    assert arr["control_level"][0].sum() == 0
    assert np.flatnonzero(arr["control_level"][1]).tolist() == list(range(24, 50))
    assert arr["control_level"][1, 25] == 4 and arr["special_event"][1].tolist().index(1.0) == 23


def _panel(n_days: int = 20) -> Panel:
    rng = np.random.default_rng(0)
    data = {"a34004": 50 + 10 * rng.standard_normal((2, 24 * n_days))}
    return Panel(date(2026, 1, 1), ("X", "Y"), data)


def test_features_add_the_columns_only_with_a_control_panel() -> None:
    panel = _panel()
    ctx = FeatureContext(panel, "a34004")
    s, t = np.array([0, 1]), np.array([24 * 5 + 10, 24 * 5 + 10])
    _, plain = hourly_features(ctx, s, t, np.array([3, 3]))
    dc = DailyCache(panel, ["a34004"], ())
    _, plain_d = daily_features(ctx, dc, s, np.array([5, 5]), 1)
    assert not any("control" in n for n in plain + plain_d)
    states = [
        ctl.ControlState("X", day_start_utc(date(2026, 1, 7)), day_start_utc(date(2026, 1, 8)), "emergency_response", 2)
    ]
    panel.control = ctl.control_arrays(states, panel.stations, panel.first_day, panel.n_hours)
    x, names = hourly_features(ctx, s, t, np.array([14, 14]))  # 00:00 Beijing of 7 January
    assert names[: len(plain)] == plain  # appended, the others keep their place
    assert set(names) - set(plain) == {f"tgt_{c}" for c in CONTROL_COLUMNS}
    assert x[:, names.index("tgt_control_level")].tolist() == [2.0, 0.0]
    xd, names_d = daily_features(ctx, dc, s, np.array([5, 5]), 1)  # target day 7 January
    assert xd[:, names_d.index("tgt_control_level")].tolist() == [2.0, 0.0]
    far = hourly_features(ctx, s, np.array([panel.n_hours - 1] * 2), np.array([5, 5]))
    assert np.isnan(far[0][:, far[1].index("tgt_control_level")]).all()  # beyond the columns: unknown


def test_bundle_without_models_does_not_use_control() -> None:
    assert ctl.bundle_uses_control(None) is False


# --------------------------------------------------------------------------------------------------------------
# training and refresh
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_days", "used"), [(20, True), (19, False)])
def test_training_uses_the_columns_only_with_twenty_response_days(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n_days: int, used: bool
) -> None:
    mini_region(sqlite_store, days=40)
    first = beijing_date(now_utc()) - timedelta(days=30)
    add_warning(sqlite_store, "652300", "issued", "orange", first, first + timedelta(days=n_days - 1))
    small = FAST.__class__("test", learning_rate=0.2, rounds_mean=10, rounds_quantile=5, max_rows=3000)
    fit = partial(op.train_operational, min_days=5, profile=small, blocks=((1, 72),), horizons=(1, 2))
    path = tmp_path / "models.pkl"
    n, _ = sv.train_gated(sqlite_store, items=("a34004",), path=path, gated=False, fit_with=fit)
    assert n == 1
    bundle = sv.load_models(path)
    assert ctl.bundle_uses_control(bundle) is used
    names = bundle.items["a34004"].hourly[(1, 72)].feature_names
    assert ("tgt_control_level" in names) is used
    assert ("tgt_control_level" in bundle.items["a34004"].daily[1].feature_names) is used
    # the refresh builds the same columns (a mismatch would raise: features differ from the trained ones)
    seen: list[bool] = []
    real = ctl.attach_for_refresh

    def spy(store: Store, panel: Panel, models: object, **kw: object) -> bool:
        out = real(store, panel, models, **kw)  # type: ignore[arg-type]
        seen.append(panel.control is not None)
        if panel.control is not None:
            i = panel.stations.index("M0")
            level = panel.control["control_level"][i]
            d0 = panel.day_position(first)
            assert level[d0 * 24 : (d0 + n_days) * 24].min() == 3 and level[(d0 + n_days) * 24 :].max() == 0
            assert level.size >= panel.n_hours + 24 * ctl.REFRESH_PAD_DAYS
        return out

    monkeypatch.setattr(ctl, "attach_for_refresh", spy)
    res = sv.refresh(sqlite_store, models=bundle, write=False)
    assert seen == [used]
    assert res.daily_aqi and not any("no model for a34004" in r for r in res.reasons)


# --------------------------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------------------------


def test_control_events_api(demo_store: Store, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from bogda.config import Settings, WebSettings
    from bogda.registry.people import add_user
    from bogda.store.schema import user_capability
    from bogda.web.app import create_app

    with demo_store.begin() as conn:
        pref = conn.execute(select(place.c.id).where(place.c.code == "652300")).scalar_one()
        uid = add_user(
            conn, login="issuer", password="issuer-pass-1", roles=["prefecture_operator"], scope_place_id=pref
        )
        conn.execute(user_capability.insert().values(user_id=uid, capability="warning_issuer"))
        add_user(conn, login="plainop", password="plainop-pass-1", roles=["prefecture_operator"], scope_place_id=pref)
    issuer, plain = ("issuer", "issuer-pass-1"), ("plainop", "plainop-pass-1")
    settings = Settings(database_url=demo_store.url, data_dir=tmp_path, web=WebSettings(secret_key="k" * 32))
    body = {
        "area_code": "652300",
        "start": "2026-09-01T00:00:00+08:00",
        "end": "2026-09-06T00:00:00+08:00",
        "kind": "special_event",
        "doc_no": "亚欧博览会",
    }
    url = "/api/v1/forecast/control-events"
    with TestClient(create_app(settings, demo_store, console=False)) as c:
        assert c.post(url, json=body, auth=plain).status_code == 403
        bad = c.post(url, json=body | {"level": 3}, auth=issuer)
        assert bad.status_code == 422 and "level" in bad.text
        assert c.post(url, json=body | {"area_code": "nowhere"}, auth=issuer).status_code == 422
        r = c.post(url, json=body, auth=issuer)
        assert r.status_code == 201
        ev = r.json()
        assert ev["start"]["utc"] == "2026-08-31T16:00:00Z" and ev["entered_by"] == "issuer"
        rows = c.get(url, auth=plain).json()["results"]
        assert [x["id"] for x in rows] == [ev["id"]]
        assert c.get(url, params={"start": "2026-09-06T00:00:00+08:00"}, auth=plain).json()["results"] == []
        assert c.get(url, params={"start": "2026-09-06T00:00:00"}, auth=plain).status_code == 422
        states = ctl.control_states(demo_store, ["652301"], h(0), h(24 * 365))
        assert [(s.kind, s.doc_no) for s in states] == [("special_event", "亚欧博览会")]
        assert c.delete(f"{url}/{ev['id']}", auth=plain).status_code == 403
        assert c.delete(f"{url}/{ev['id']}", auth=issuer).json() == {"id": ev["id"], "deleted": True}
        assert c.delete(f"{url}/{ev['id']}", auth=issuer).status_code == 404
        assert c.get(url, auth=plain).json()["results"] == []
