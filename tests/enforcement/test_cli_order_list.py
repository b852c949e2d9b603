"""``bogda plans order-list`` (the emergency list of a hand-entered order) and ``bogda plans withdraw`` ending it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import emergency as em
from bogda.store import Store
from bogda.timeutil import now_utc

runner = CliRunner()


def test_order_list_build_show_export_and_withdraw(
    demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bogda import cli

    monkeypatch.setattr(cli.console, "width", 240)  # tables unwrapped
    url = ["--database-url", demo_store.url]
    now = now_utc()
    res = runner.invoke(
        app,
        ["plans", "add", "order", "--level", "orange", "--from", (now - timedelta(hours=1)).isoformat(),
         "--to", (now + timedelta(days=2)).isoformat(), "--doc", "昌环应急〔2026〕5号", "--area", "652302", *url],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    oid = int(re.search(r"plan (\d+) added", res.output).group(1))
    out = tmp_path / "order.xlsx"
    res = runner.invoke(app, ["plans", "order-list", str(oid), "--xlsx", str(out), *url])
    assert res.exit_code == 0, res.output
    assert "frozen" in res.output and "阜康模拟水泥有限公司（模拟）" in res.output and f"wrote {out}" in res.output
    assert "昌吉模拟水泥" not in res.output  # another county's enterprise is not on the order's list
    (first,) = em.active_list(demo_store)
    assert first["totals"]["order_id"] == oid and first["area_code"] == "652302"
    notes = dict(r[:2] for r in load_workbook(out)["说明"].iter_rows(values_only=True))
    assert notes["指令文号"] == "昌环应急〔2026〕5号"
    # shown again as frozen (no new version) unless --rebuild
    res = runner.invoke(app, ["plans", "order-list", str(oid), *url])
    assert res.exit_code == 0 and "frozen" not in res.output and "阜康模拟水泥" in res.output
    assert [x["id"] for x in em.active_list(demo_store)] == [first["id"]]
    res = runner.invoke(app, ["plans", "order-list", str(oid), "--rebuild", *url])
    assert res.exit_code == 0 and "frozen" in res.output and " v2 " in res.output
    (second,) = em.active_list(demo_store)
    assert second["version"] == 2
    # an area other than the order's own is refused, naming it
    res = runner.invoke(app, ["plans", "order-list", str(oid), "--area", "652323", *url])
    assert res.exit_code == 2 and "652323" in res.output
    # withdrawing the order ends its list; a withdrawn order gets no new one
    res = runner.invoke(app, ["plans", "withdraw", str(oid), *url])
    assert res.exit_code == 0 and "1 emergency list(s) ended" in res.output
    assert em.active_list(demo_store) == []
    res = runner.invoke(app, ["plans", "order-list", str(oid), *url])
    assert res.exit_code == 2 and "no longer active" in res.output
    res = runner.invoke(app, ["plans", "order-list", "99999", *url])
    assert res.exit_code == 2 and "plan 99999 does not exist" in res.output
