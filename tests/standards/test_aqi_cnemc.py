"""Reproduce CNEMC's officially published 2019 hourly AQI for 42 Xinjiang stations.

Source: ../shared/data/xinjiang/cnemc_xinjiang_sites_2019_dev.csv.gz (CNEMC real-time releases via the
quotsoft archive; development and tests only, never copied into the repository). Rule: HJ 633-2012 real-time
AQI from the six 1 h averages, PM 1 h values read against the 24 h breakpoints, SO2 1 h > 800 → SO2 24 h IAQI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from bogda.standards.aqi import aqi_hourly

ITEMS = ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3"]


@pytest.fixture(scope="module")
def cnemc(shared_data: Path) -> pl.DataFrame:
    path = shared_data / "xinjiang" / "cnemc_xinjiang_sites_2019_dev.csv.gz"
    if not path.exists():
        pytest.skip(f"missing {path}")
    raw = pl.read_csv(path, infer_schema=False)  # every cell kept as its original string
    long = raw.unpivot(index=["date", "hour", "type"], variable_name="site").drop_nulls("value")
    wide = long.pivot(on="type", index=["date", "hour", "site"], values="value")
    numeric = [c for c in wide.columns if c not in ("date", "hour", "site")]
    return wide.with_columns(pl.col(numeric).cast(pl.Float64))


def test_published_hourly_aqi_reproduced_on_every_complete_row(cnemc: pl.DataFrame) -> None:
    complete = cnemc.drop_nulls(["AQI", *ITEMS])
    assert complete.height > 250_000  # the file has ~259k complete station-hours
    so2_24h = complete["SO2_24h"] if "SO2_24h" in complete.columns else None
    result = aqi_hourly({k: complete[k] for k in ITEMS}, "2012", so2_24h=so2_24h)
    checked = complete.with_columns(computed=pl.Series(result.aqi), primary=pl.Series(result.primary))
    bad = checked.filter(pl.col("computed") != pl.col("AQI"))
    report = "\n".join(
        f"{r['date']} h{r['hour']} {r['site']}: published {r['AQI']} computed {r['computed']} "
        f"(inputs {', '.join(f'{k}={r[k]}' for k in ITEMS)}; SO2 1h > 800: {r['SO2'] > 800})"
        for r in bad.head(50).iter_rows(named=True)
    )
    print(
        f"CNEMC 2019 reproduction: {checked.height} complete station-hours checked, "
        f"{checked.height - bad.height} matched"
    )
    assert bad.height == 0, f"{bad.height} of {checked.height} rows differ:\n{report}"


def test_rows_with_missing_items_use_the_available_items(cnemc: pl.DataFrame) -> None:
    """Rows where CNEMC published an AQI although an item was missing: AQI from the other items."""
    partial = cnemc.filter(pl.col("AQI").is_not_null() & pl.any_horizontal([pl.col(k).is_null() for k in ITEMS]))
    partial = partial.filter(pl.any_horizontal([pl.col(k).is_not_null() for k in ITEMS]))
    result = aqi_hourly({k: partial[k] for k in ITEMS}, "2012")
    match = np.asarray(result.aqi == partial["AQI"].to_numpy())
    # The archive lost some items of a few hours (e.g. 2019-04-24 23:00) whose AQI CNEMC computed from the full
    # set (2019: 33 of 23,251 partial rows); every other partial row agrees.
    print(f"CNEMC 2019 partial rows: {len(match)} checked, {int(match.sum())} matched")
    assert match.mean() > 0.995, f"only {match.sum()} of {len(match)} partial rows agree"
