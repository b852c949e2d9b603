"""``raise_findings_bulk`` gives the same outcomes and rows as ``raise_finding`` called draft by draft."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bogda import findings as F
from bogda.registry import places as P
from bogda.store import Store
from bogda.store.schema import finding

T = datetime(2026, 1, 10, 8, tzinfo=UTC)
SEVS = ("low", "medium", "high", "P2", "P1")


def _draft(key: str, n: int, rng: random.Random, **kw: Any) -> F.FindingDraft:
    base: dict[str, Any] = dict(
        kind="fire",
        severity=rng.choice(SEVS),
        title=f"火点 {key.split(':')[-1]} #{n}",
        dedupe_key=key,
        lon=87.2997 + rng.random() * 0.01,
        lat=44.0114 + rng.random() * 0.01,
        detected_at=T + timedelta(minutes=n),
        evidence={"n": n, "key": key},
    )
    base.update(kw)
    return F.FindingDraft(**base)


def _prepare(store: Store, prefix: str) -> None:
    """Same starting state for both namespaces: a live finding, one cooling down, one whose cool-down is over."""
    with store.begin() as conn:
        for key, status, cool in (("live", None, None), ("quiet", "dismissed", 6), ("cold", "resolved", -1)):
            fid = F.raise_finding(conn, _draft(f"{prefix}{key}", 0, random.Random(0), severity="medium"), now=T)
            if status:
                F.set_status(conn, fid.finding_id, status, by="op", reason="测试", now=T)
                conn.execute(
                    finding.update()
                    .where(finding.c.id == fid.finding_id)
                    .values(cooldown_until=T + timedelta(hours=cool))
                )


def _rows(store: Store, prefix: str) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                finding.c.dedupe_key,
                finding.c.count,
                finding.c.severity,
                finding.c.first_seen,
                finding.c.last_seen,
                finding.c.evidence,
                finding.c.status,
                finding.c.title,
                finding.c.place_id,
            )
            .where(finding.c.dedupe_key.like(f"{prefix}%"))
            .order_by(finding.c.id)
        ).all()
    return [(r[0].removeprefix(prefix), *r[1:]) for r in rows]


def test_bulk_equals_one_by_one(store: Store) -> None:
    P.load_prefecture(store, "652300")
    index = P.PlaceIndex.from_store(store)
    now = T + timedelta(hours=1)
    rng = random.Random(7)
    plan = [rng.choice(["live", "quiet", "cold", "new1", "new2", "new3", "bad"]) for _ in range(60)]
    for prefix in ("seq:", "bulk:"):
        _prepare(store, prefix)
    seeds = [rng.random() for _ in plan]

    def drafts(prefix: str) -> list[F.FindingDraft]:
        out = []
        for n, (k, s) in enumerate(zip(plan, seeds, strict=True), start=1):
            r = random.Random(s)
            out.append(_draft(f"{prefix}{k}", n, r, kind="gossip") if k == "bad" else _draft(f"{prefix}{k}", n, r))
        return out

    seq: list[F.Outcome] = []
    with store.begin() as conn:
        for d in drafts("seq:"):
            try:
                seq.append(F.raise_finding(conn, d, index=index, now=now))
            except ValueError as exc:
                seq.append(F.Outcome(f"rejected: {exc}", -1))
    bulk = F.raise_findings(store, drafts("bulk:"), index=index, now=now)

    assert [o.action for o in bulk] == [o.action for o in seq]
    # ids differ between namespaces but repeat the same pattern
    pattern = {o.finding_id: n for n, o in enumerate(seq)}
    bpattern = {o.finding_id: n for n, o in enumerate(bulk)}
    assert [pattern.get(o.finding_id) for o in seq] == [bpattern.get(o.finding_id) for o in bulk]
    got, want = _rows(store, "bulk:"), _rows(store, "seq:")
    strip = [(r[0], *r[1:5], {k: v for k, v in r[5].items() if k != "key"}, *r[6:8]) for r in got]
    strip_w = [(r[0], *r[1:5], {k: v for k, v in r[5].items() if k != "key"}, *r[6:8]) for r in want]
    assert strip == strip_w
    assert [r[8] for r in got] == [r[8] for r in want]
    assert all(r[8] is not None for r in got if r[0].startswith("new"))  # located through the index
    # the mix exercised every path
    assert {o.action.split(":")[0] for o in bulk} == {"created", "updated", "suppressed", "rejected"}


def test_bulk_folds_repeats_of_a_new_key(store: Store) -> None:
    rng = random.Random(1)
    out = F.raise_findings(
        store,
        [
            _draft("k", 1, rng, severity="medium", evidence={"v": 1}),
            _draft("k", 2, rng, severity="low", evidence={"v": 2}),
            _draft("k", 3, rng, severity="high", evidence={"v": 3}),
        ],
        now=T,
    )
    assert [o.action for o in out] == ["created", "updated", "updated"]
    assert len({o.finding_id for o in out}) == 1
    row = F.get(store, out[0].finding_id)
    assert (row["count"], row["severity"], row["evidence"]) == (3, "high", {"v": 3})
    assert row["first_seen"] == T + timedelta(minutes=1) and row["last_seen"] == T + timedelta(minutes=3)
    assert row["title"] == "火点 k #1"


def test_bulk_inside_callers_transaction_rolls_back(store: Store) -> None:
    rng = random.Random(2)
    try:
        with store.begin() as conn:
            F.raise_findings_bulk(conn, [_draft("x", 1, rng), _draft("y", 2, rng)], now=T)
            raise RuntimeError("later step failed")
    except RuntimeError:
        pass
    assert F.query(store)[1] == 0
