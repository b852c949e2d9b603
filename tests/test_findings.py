from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bogda import findings as F
from bogda.registry import places as P
from bogda.store import Store

T = datetime(2026, 1, 10, 8, tzinfo=UTC)


def _draft(**kw: object) -> F.FindingDraft:
    base = dict(
        kind="alarm",
        severity="medium",
        title="PM2.5 超过 150",
        dedupe_key="alarm:2691A:pm25",
        lon=87.2997,
        lat=44.0114,
        detected_at=T,
        evidence={"value": 160},
    )
    base.update(kw)
    return F.FindingDraft(**base)  # type: ignore[arg-type]


def test_place_is_derived_from_position(store: Store) -> None:
    ids = P.load_prefecture(store, "652300")
    index = P.PlaceIndex.from_store(store)
    (out,) = F.raise_findings(store, [_draft()], index=index, now=T)
    assert out.action == "created"
    assert F.get(store, out.finding_id)["place_id"] == ids["652301"]


def test_repeat_updates_live_finding_and_raises_severity(store: Store) -> None:
    first = F.raise_findings(store, [_draft()], now=T)[0]
    again = F.raise_findings(
        store,
        [_draft(severity="high", detected_at=T + timedelta(hours=1), evidence={"value": 260})],
        now=T + timedelta(hours=1),
    )[0]
    assert again == F.Outcome("updated", first.finding_id)
    row = F.get(store, first.finding_id)
    assert (row["count"], row["severity"], row["evidence"]) == (2, "high", {"value": 260})
    assert row["last_seen"] == T + timedelta(hours=1) and row["first_seen"] == T
    # severity never falls automatically
    F.raise_findings(store, [_draft(severity="medium")], now=T + timedelta(hours=2))
    assert F.get(store, first.finding_id)["severity"] == "high"
    rows, total = F.query(store, kinds=["alarm"])
    assert total == 1 and len(rows) == 1


def test_cooldown_after_dismissal(store: Store) -> None:
    fid = F.raise_findings(store, [_draft()], now=T)[0].finding_id
    with store.begin() as conn, pytest.raises(ValueError, match="reason"):
        F.set_status(conn, fid, "dismissed", by="operator")
    with store.begin() as conn:
        F.set_status(conn, fid, "dismissed", by="operator", reason="仪器校准", cooldown=timedelta(hours=6), now=T)
    inside = F.raise_findings(store, [_draft()], now=T + timedelta(hours=5))[0]
    assert inside == F.Outcome("suppressed", fid)
    after = F.raise_findings(store, [_draft()], now=T + timedelta(hours=7))[0]
    assert after.action == "created" and after.finding_id != fid


def test_status_transitions_are_guarded(store: Store) -> None:
    fid = F.raise_findings(store, [_draft()], now=T)[0].finding_id
    with store.begin() as conn:
        F.set_status(conn, fid, "acknowledged", by="op")
        F.set_status(conn, fid, "dispatched", by="grid")
        with pytest.raises(ValueError, match="cannot go from dispatched to acknowledged"):
            F.set_status(conn, fid, "acknowledged", by="op")
        F.set_status(conn, fid, "resolved", by="grid")
    with store.begin() as conn, pytest.raises(LookupError):
        F.set_status(conn, 9999, "resolved", by="x")


def test_invalid_drafts_are_rejected_without_stopping_others(store: Store) -> None:
    out = F.raise_findings(store, [_draft(kind="gossip"), _draft(title=" "), _draft(lat=None), _draft()], now=T)
    assert [o.action.split(":")[0] for o in out] == ["rejected", "rejected", "rejected", "created"]
    assert "kind 'gossip'" in out[0].action


def test_query_orders_by_severity_then_time(store: Store) -> None:
    F.raise_findings(
        store,
        [
            _draft(dedupe_key="a", severity="medium", detected_at=T),
            _draft(dedupe_key="b", severity="high", detected_at=T - timedelta(days=1)),
            _draft(dedupe_key="c", kind="fire", severity="P1", detected_at=T - timedelta(days=2)),
            _draft(dedupe_key="d", severity="medium", detected_at=T + timedelta(hours=1)),
        ],
        now=T,
    )
    rows, total = F.query(store)
    assert total == 4
    assert [r["dedupe_key"] for r in rows] == ["c", "b", "d", "a"]
    rows, total = F.query(store, kinds=["alarm"], limit=2, offset=1)
    assert total == 3 and [r["dedupe_key"] for r in rows] == ["d", "a"]


def test_audit_rows_commit_with_their_write(store: Store) -> None:
    from bogda import audit

    with store.begin() as conn:
        audit.record(conn, action="finding.dismiss", login="op", target="finding:1", detail={"reason": "x"})
    with pytest.raises(RuntimeError), store.begin() as conn:
        audit.record(conn, action="finding.dismiss", login="op", target="finding:2")
        raise RuntimeError("write failed")
    rows = audit.entries(store, action_prefix="finding.")
    assert [r["target"] for r in rows] == ["finding:1"]
    with store.begin() as conn, pytest.raises(ValueError):
        audit.record(conn, action="")
