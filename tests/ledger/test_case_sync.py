"""Cases filed by enforcement (a clue confirmed into a case) appear in the cases ledger with their origin links, and a
ledger import of the same case number completes that case instead of adding another (governance §3.7, §8.11)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bogda.demo.ledger_year import _clue
from bogda.enforcement.casework import confirm_clue
from bogda.ledger import LEDGERS
from bogda.ledger.base import add, records
from bogda.ledger.io import export_file
from bogda.registry.sites import SiteInput, add_enterprise, with_check_digit
from bogda.store import Store
from bogda.store.schema import case, case_ledger, clue, ledger_event

USCC = with_check_digit("91652300MA7AB1234")


def test_enforcement_case_enters_the_ledger(store: Store, tmp_path) -> None:
    when = datetime(2025, 5, 6, 2, 0, tzinfo=UTC)
    with store.begin() as conn:
        ent = add_enterprise(
            conn,
            SiteInput("enterprise", "E-SYNC", "同步测试企业（模拟）", 87.3, 44.0, simulated=True),
            credit_code=USCC,
            sector="cement",
        )
        clue_id = _clue(conn, 1, when, ent)
        fid = conn.execute(select(clue.c.finding_id).where(clue.c.id == clue_id)).scalar_one()
        conn.execute(clue.update().where(clue.c.id == clue_id).values(status="NEW"))
    got = confirm_clue(store, fid, by="officer", case_no="昌环立〔2025〕S1号", now=when)
    assert got["status"] == "CASE_FILED"

    lg = LEDGERS["case"]
    rows = [r for r in records(store, lg) if r["case_no"] == "昌环立〔2025〕S1号"]
    assert len(rows) == 1
    r = rows[0]
    assert (r["party"], r["uscc"], r["clue_ids"], r["finding_ids"]) == (
        "同步测试企业（模拟）",
        USCC,
        [str(clue_id)],
        [str(fid)],
    )
    assert r["non_site_clue"] is True and r["enterprise_code"] == "E-SYNC"
    records(store, lg)  # a second read adds nothing
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(case_ledger)).scalar() == 1
        ev = conn.execute(select(ledger_event.c.event).where(ledger_event.c.record_id == r["id"])).scalars().all()
    assert ev == ["synced"]

    # the clerk completes the case from the ledger: same case, decided, no second row
    add(
        store,
        lg,
        {
            "case_no": "昌环立〔2025〕S1号",
            "party": "同步测试企业（模拟）",
            "clue_source": "在线监测",
            "clue_ids": str(clue_id),
            "non_site_evidence": "是",
            "registered_at": "2025-05-06 10:00",
            "decided_at": "2025-06-20 10:00",
            "decision": "处罚",
            "fine_yuan": "120000",
            "legal_basis": "《中华人民共和国大气污染防治法》第九十九条",
        },
        actor="clerk",
    )
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(case)).scalar() == 1
        c = conn.execute(select(case)).first()
    assert (c.decision, c.fine, c.status) == ("penalty", 120000.0, "decided")
    data = export_file(store, "case", tmp_path / "cases.xlsx")
    assert data[:2] == b"PK"
