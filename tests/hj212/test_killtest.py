"""Kill -9 test (spec hj212.md §3.9 proof 2, §9.7): SIGKILL the gateway subprocess under simulator load, restart,
drain; every acknowledged frame is stored, none twice. The full-size run is ``bench/bench_hj212_gateway.py kill``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_hj212_gateway.py"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_loses_no_acked_frame(backend: str, request: pytest.FixtureRequest) -> None:
    spec = importlib.util.spec_from_file_location("bench_hj212_gateway", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    pg = None
    if backend == "postgres":
        request.getfixturevalue("pg_database")  # skips (or fails under CI) when PostgreSQL is absent
        from conftest import PG_ADMIN_URL

        pg = PG_ADMIN_URL
    out = bench.kill_test(pg, devices=20, rate=500, hours=1.0, kills=2, window_s=8.0, seed=3)
    assert out["acked"] > 0
    assert out["acked_missing"] == 0
    assert out["stored_twice"] == 0
    assert out["observations"] == out["observations_expected"]
