"""Orders bind the enterprises of their area only (forecast.md §3.10 "Activation"; enforcement.md §3.6).

A county's heavy-pollution warning writes an ``order`` with ``attrs.area_code``; before orders carried an area, every
order was checked against every enterprise of the prefecture, so a cement plant of another county fell back to the
cement grade table and got false E04/E05/P02/P03 clues.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bogda.enforcement import planbook
from bogda.enforcement import plans as P
from bogda.enforcement.planbook import PlanInput
from bogda.registry.places import upsert_place
from bogda.registry.sites import SiteInput, add_enterprise, with_check_digit
from bogda.store import Store
from bogda.store.schema import plan, site, warning
from bogda.timeutil import BEIJING

T0 = datetime(2026, 1, 10, tzinfo=BEIJING)
HUTUBI, FUKANG = "652323", "652302"


def _order(area: frozenset[str] | None, doc: str = "o") -> P.Order:
    return P.Order("orange", T0, T0 + timedelta(days=2), doc, "warning", area)


def _cement_pair(*orders: P.Order) -> P.PlanSet:
    """Two grade-C cement plants (orange → stop by the cement table), one in each county."""
    return P.PlanSet(
        grades=[P.EnterpriseGrade("HT", "cement_clinker", "C"), P.EnterpriseGrade("FK", "cement_clinker", "C")],
        orders=list(orders),
        county={"HT": HUTUBI, "FK": FUKANG},
    )


# ------------------------------------------------------------------------------------------------ pure core
def test_county_order_binds_its_county_only() -> None:
    ps = _cement_pair(_order(frozenset({HUTUBI})))
    assert [m.action for _, m in P.active_measures(ps, "HT")] == ["stop"]
    assert P.active_measures(ps, "FK") == []  # other county: no stop check from the grade table


def test_prefecture_wide_order_binds_every_county() -> None:
    ps = _cement_pair(_order(None))
    assert [m.action for _, m in P.active_measures(ps, "HT")] == ["stop"]
    assert [m.action for _, m in P.active_measures(ps, "FK")] == ["stop"]


def test_order_without_area_binds_everyone_back_compat() -> None:
    # an Order built as before (no area argument) and an enterprise whose county is unknown
    o = P.Order("orange", T0, T0 + timedelta(days=1), "手工")
    ps = P.PlanSet(grades=[P.EnterpriseGrade("X", "cement_clinker", "C")], orders=[o])
    assert o.area_codes is None
    assert [(oo.doc_id, m.action) for oo, m in P.active_measures(ps, "X")] == [("手工", "stop")]


def test_clue_documents_name_only_the_orders_binding_the_enterprise() -> None:
    from bogda.enforcement.rules import Hit
    from bogda.enforcement.service import _documents

    orders = _order(frozenset({HUTUBI}), "呼图壁令"), _order(frozenset({FUKANG}), "阜康令"), _order(None, "州令")
    ps = _cement_pair(*orders)
    hit = Hit("E04", "S2", "meter", "M1", 0, 5, start=T0, end=T0 + timedelta(hours=6), enterprise_id="HT")
    docs = [d["doc_id"] for d in _documents([], ps)(hit) if d["kind"] == "order"]
    assert docs == ["呼图壁令", "州令"]


def test_county_order_skips_enterprise_of_unknown_county() -> None:
    ps = _cement_pair(_order(frozenset({HUTUBI})), _order(None, "全州"))
    ps.county.pop("FK")
    assert [o.doc_id for o in P.orders_for(ps, "FK")] == ["全州"]
    assert [o.doc_id for o in P.orders_for(ps, "HT")] == ["o", "全州"]


@pytest.mark.parametrize(
    ("code", "scope"),
    [
        (None, None),
        ("", None),
        ("652300", None),  # the prefecture
        ("659999", None),  # unknown: the emergency list took the whole prefecture, so does the order
        (HUTUBI, frozenset({HUTUBI})),
        ("652323100000", frozenset({"652323100000"})),  # township: no enterprise's county, as its list is empty
    ],
)
def test_order_scope(code: str | None, scope: frozenset[str] | None) -> None:
    kinds = {"652300": "prefecture", HUTUBI: "county", "652323100000": "township"}
    assert P.order_scope(code, kinds) == scope


# ------------------------------------------------------------------------------------------------ store side
def _places(store: Store) -> dict[str, int]:
    """Prefecture → two counties; 呼图壁县 → a township → a grid cell (sites sit on the lowest place)."""
    with store.begin() as conn:
        pref = upsert_place(conn, code="652300", name="昌吉回族自治州", level=0, kind="prefecture")
        ht = upsert_place(conn, code=HUTUBI, name="呼图壁县", level=1, kind="county", parent_id=pref)
        fk = upsert_place(conn, code=FUKANG, name="阜康市", level=1, kind="county", parent_id=pref)
        town = upsert_place(conn, code="652323100000", name="呼图壁镇", level=2, kind="township", parent_id=ht)
        cell = upsert_place(conn, code="G3K_1_1", name="网格", level=4, kind="grid_cell", parent_id=town)
    return {"pref": pref, "ht": ht, "fk": fk, "town": town, "cell": cell}


def _enterprise(store: Store, code: str, place_id: int | None, n: int) -> None:
    with store.begin() as conn:
        add_enterprise(
            conn,
            SiteInput("enterprise", code, f"{code} 模拟水泥", place_id=place_id),
            credit_code=with_check_digit(f"91652300MA78AB{n:03d}"),
            sector="cement",
            grade="C",
        )


def test_plan_set_scopes_orders_by_area(store: Store) -> None:
    pl = _places(store)
    _enterprise(store, "T-HT", pl["cell"], 1)  # a grid cell of 呼图壁县's township
    _enterprise(store, "T-FK", pl["fk"], 2)  # 阜康市 itself
    _enterprise(store, "T-NP", None, 3)  # no place
    end = T0 + timedelta(days=2)
    with store.begin() as conn:
        for doc, area in (("县令", HUTUBI), ("州令", "652300"), ("无区域", None)):
            planbook.add_plan(conn, PlanInput("order", level="orange", start=T0, end=end, doc_id=doc, area_code=area))
        # as bogda.forecast.emergency.activate writes a county warning's order
        conn.execute(
            plan.insert().values(
                kind="order",
                level="red",
                start=T0,
                end=end,
                doc_id="预警",
                source="warning",
                attrs={"warning_id": 1, "area_code": HUTUBI, "version": 1},
                active=True,
                created_at=T0,
            )
        )
        stored = conn.execute(select(plan.c.doc_id, plan.c.attrs).where(plan.c.kind == "order")).all()
    assert {d: (a or {}).get("area_code") for d, a in stored} == {
        "县令": HUTUBI,
        "州令": "652300",
        "无区域": None,
        "预警": HUTUBI,
    }
    ps = planbook.plan_set(store)
    assert ps.county == {"T-HT": HUTUBI, "T-FK": FUKANG}
    assert {o.doc_id: o.area_codes for o in ps.orders} == {
        "县令": frozenset({HUTUBI}),
        "州令": None,
        "无区域": None,
        "预警": frozenset({HUTUBI}),
    }

    def docs(ent: str) -> set[str]:
        return {o.doc_id for o, m in P.active_measures(ps, ent) if m.action == "stop"}

    assert docs("T-HT") == {"县令", "州令", "无区域", "预警"}
    assert docs("T-FK") == {"州令", "无区域"}  # before: 县令 and 预警 too → false E04 clues
    assert docs("T-NP") == {"州令", "无区域"}


def test_hand_entered_order_area_is_checked(store: Store) -> None:
    _places(store)
    _enterprise(store, "T-HT", None, 1)
    end = T0 + timedelta(days=1)
    with store.begin() as conn:
        for bad, msg in (
            (PlanInput("order", level="red", start=T0, end=end, area_code="659999"), "'659999' is not in the place"),
            (PlanInput("order", level="red", start=T0, end=end, area_code="652323100000"), "is a township"),
            (PlanInput("measure", enterprise="T-HT", level="red", action="stop", area_code=HUTUBI), "orders only"),
            (
                PlanInput("order", level="red", start=T0, end=end, area_code=HUTUBI, attrs={"area_code": FUKANG}),
                "differs from attrs.area_code",
            ),
        ):
            with pytest.raises(ValueError, match=msg):
                planbook.add_plan(conn, bad)
        # the area may also come in attrs (as a warning's order carries it), padded text is trimmed
        pid = planbook.add_plan(
            conn, PlanInput("order", level="red", start=T0, end=end, attrs={"area_code": f" {FUKANG} "})
        )
        assert conn.execute(select(plan.c.attrs).where(plan.c.id == pid)).scalar()["area_code"] == FUKANG


def test_county_warning_order_skips_other_counties(demo_store: Store) -> None:
    """The audit case end to end: a red warning for 呼图壁县 issued through the emergency list."""
    from bogda.forecast import emergency as em

    with demo_store.begin() as conn:
        wid = conn.execute(
            warning.insert()
            .values(
                area_code=HUTUBI,
                rule_set="2024",
                level="red",
                start_date=date(2026, 1, 10),
                end_date=date(2026, 1, 11),
                state="issued",
                doc_no="呼环预警〔2026〕1号",
                created_at=T0,
                updated_at=T0,
            )
            .returning(warning.c.id)
        ).scalar_one()
    em.activate(demo_store, wid, now=T0.astimezone(UTC))
    ps = planbook.plan_set(demo_store)
    assert [(o.doc_id, o.area_codes) for o in ps.orders] == [("呼环预警〔2026〕1号", frozenset({HUTUBI}))]
    assert ps.county["HT-BL1"] == HUTUBI and ps.county["FK-CM1"] == FUKANG
    assert P.active_measures(ps, "HT-BL1")  # the listed boiler of 呼图壁县 is checked
    # 阜康's grade-B cement plant would fall back to the cement table (red → stop) without the area
    assert [m.action for m in P.measures_for(ps, "FK-CM1", "red", date(2026, 1, 10))] == ["stop"]
    assert P.active_measures(ps, "FK-CM1") == []
    # the enterprise page lists the order for the enterprise it binds, not for the other county's
    from bogda.enforcement.inbox import enterprise_detail

    with demo_store.engine.connect() as conn:
        ids = dict(conn.execute(select(site.c.code, site.c.id).where(site.c.code.in_(["HT-BL1", "FK-CM1"]))).all())
    docs = {
        c: [p["doc_id"] for p in enterprise_detail(demo_store, i)["plans"] if p["kind"] == "order"]
        for c, i in ids.items()
    }
    assert docs == {"HT-BL1": ["呼环预警〔2026〕1号"], "FK-CM1": []}


# ------------------------------------------------------------------------------------------------ industrial parks
ZHUNDONG = "652300-ZD"


def test_park_order_binds_park_enterprises_of_any_county() -> None:
    park = _order(frozenset({ZHUNDONG}), "准东令")
    ps = _cement_pair(park, _order(frozenset({FUKANG}), "阜康令"))
    ps.county["ZD"] = "652327"
    ps.grades.append(P.EnterpriseGrade("ZD", "cement_clinker", "C"))
    ps.parks = {"ZD": frozenset({ZHUNDONG})}
    assert [o.doc_id for o in P.orders_for(ps, "ZD")] == ["准东令"]
    assert [m.action for _, m in P.active_measures(ps, "ZD")] == ["stop"]
    assert [o.doc_id for o in P.orders_for(ps, "FK")] == ["阜康令"]  # outside the park: its county's order only
    assert P.orders_for(ps, "HT") == []
    assert P.order_applies(park, None, frozenset({ZHUNDONG}))  # county unknown, but inside the park


def test_park_order_binds_zhundong_not_fukang(demo_store: Store) -> None:
    """A hand-entered order for 准东 is accepted, its emergency list holds the park's enterprises, and enforcement
    binds a Zhundong enterprise with it and not 阜康's cement plant (FK-CM1, which the cement table would stop)."""
    from bogda.forecast import emergency as em

    now = T0.astimezone(UTC)
    with demo_store.begin() as conn:
        oid = planbook.add_plan(
            conn,
            PlanInput("order", level="red", start=T0, end=T0 + timedelta(days=2), doc_id="准东令", area_code=ZHUNDONG),
        )
    lid = em.activate_for_order(demo_store, oid, now=now)
    _, items = em.list_rows(demo_store, lid)
    assert {i["code"] for i in items} == {"ZD-CC1", "ZD-CC2", "ZD-CC3", "ZD-PW1", "ZD-PW2", "ZD-PW3"}
    ps = planbook.plan_set(demo_store)
    assert [(o.doc_id, o.area_codes) for o in ps.orders] == [("准东令", frozenset({ZHUNDONG}))]
    assert ps.parks["ZD-CC1"] == frozenset({ZHUNDONG}) and "FK-CM1" not in ps.parks
    assert [o.doc_id for o in P.orders_for(ps, "ZD-CC1")] == ["准东令"]
    assert P.orders_for(ps, "FK-CM1") == [] and P.active_measures(ps, "FK-CM1") == []
    assert [m.action for m in P.measures_for(ps, "FK-CM1", "red", date(2026, 1, 10))] == ["stop"]  # would, unscoped
    # the enterprise page's filter: by the site's position inside the outline
    rows = [r for r in planbook.list_plans(demo_store) if r["kind"] == "order"]
    with demo_store.engine.connect() as conn:
        at = {
            c: (p, lo, la)
            for c, p, lo, la in conn.execute(
                select(site.c.code, site.c.place_id, site.c.lon, site.c.lat).where(
                    site.c.code.in_(["ZD-CC1", "FK-CM1"])
                )
            ).all()
        }
    docs = {
        c: [r["doc_id"] for r in planbook.binding(demo_store, rows, p, lon=lo, lat=la)] for c, (p, lo, la) in at.items()
    }
    assert docs == {"ZD-CC1": ["准东令"], "FK-CM1": []}


def test_hand_entered_order_for_a_park_is_accepted(store: Store) -> None:
    pl = _places(store)
    square = {"type": "Polygon", "coordinates": [[[89, 44], [90, 44], [90, 45], [89, 45], [89, 44]]]}
    from shapely.geometry import shape

    with store.begin() as conn:
        upsert_place(
            conn, code=ZHUNDONG, name="准东", level=2, kind="park", parent_id=pl["pref"], geometry=shape(square)
        )
        pid = planbook.add_plan(
            conn, PlanInput("order", level="red", start=T0, end=T0 + timedelta(days=1), area_code=ZHUNDONG)
        )
        assert conn.execute(select(plan.c.attrs).where(plan.c.id == pid)).scalar()["area_code"] == ZHUNDONG
        with pytest.raises(ValueError, match="is a township; expected a county, a park or the prefecture"):
            planbook.add_plan(
                conn, PlanInput("order", level="red", start=T0, end=T0 + timedelta(days=1), area_code="652323100000")
            )
