"""Benchmark: parse rate of the whole 2019 CNEMC Xinjiang file (monitoring.md §6: a year, 42 stations, < 30 s).

Runs :func:`bogda.monitoring.ingest.read_cnemc` and a naive baseline in the same process — the csv module, one
``float()`` and one ``datetime`` per cell, appending (site, ts, parameter, value) tuples — and prints both rates and
their ratio. Also prints the rate of :func:`bogda.monitoring.qa.apply_qa` on the result, for information.

Usage: ``.venv/bin/python bench/bench_monitoring_ingest.py [PATH] [--repeat N]``
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bogda.monitoring.ingest import CNEMC_TYPES, read_cnemc
from bogda.monitoring.qa import apply_qa

DEFAULT = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "xinjiang" / "cnemc_xinjiang_sites_2019_dev.csv.gz"
)


def naive_read(path: Path) -> list[tuple[str, datetime, str, float]]:
    """The straightforward way: csv module, a Python object per cell."""
    out: list[tuple[str, datetime, str, float]] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        sites = header[3:]
        for row in reader:
            if row[0] == "date":
                continue
            label = datetime.strptime(row[0], "%Y%m%d").replace(tzinfo=UTC) + timedelta(hours=int(row[1]) - 9)
            param = CNEMC_TYPES[row[2]][0]
            for site, cell in zip(sites, row[3:], strict=False):
                if cell:
                    out.append((site, label, param, float(cell)))
    return out


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path: Path = args.path.resolve()
    if not path.exists():
        print(f"skipped: {path} not found (the shared data folder is needed)")
        return 0
    size = len(gzip.decompress(path.read_bytes()))
    t_fast, res = best_of(lambda: read_cnemc(path), args.repeat)
    t_naive, rows = best_of(lambda: naive_read(path), args.repeat)
    n = res.frame.height  # type: ignore[union-attr]
    assert n == len(rows), f"value counts differ: {n} vs {len(rows)}"  # type: ignore[arg-type]
    t_qa, _ = best_of(lambda: apply_qa(res.frame), 1)  # type: ignore[union-attr]

    rows_read = res.stats["rows"]  # type: ignore[union-attr]
    print(f"file            {path.name}  ({size / 1e6:.1f} MB uncompressed, {rows_read:.0f} rows)")
    print(f"values          {n:,}  rejected {len(res.rejected)}")  # type: ignore[union-attr]
    print(f"read_cnemc      {t_fast:7.2f} s   {n / t_fast / 1e6:6.2f} M values/s   {size / t_fast / 1e6:6.1f} MB/s")
    print(f"naive csv       {t_naive:7.2f} s   {n / t_naive / 1e6:6.2f} M values/s")
    print(f"ratio           {t_naive / t_fast:7.1f}x faster than the naive baseline (best of {args.repeat})")
    print(f"apply_qa        {t_qa:7.2f} s   {n / t_qa / 1e6:6.2f} M values/s (information)")
    print(f"budget          ingest of a 42-station year < 30 s: parse uses {t_fast / 30 * 100:.1f} % of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
