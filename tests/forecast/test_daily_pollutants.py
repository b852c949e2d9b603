"""The operational daily sets read the issue day's daily means of the other pollutants, as the Dongsi protocol's
daily models do (forecast.md §3.4 "daily aggregates of the same"); the bundle records which, so that a refresh
builds the same columns and a bundle trained before keeps its own."""

from __future__ import annotations

from datetime import date
from functools import partial

import numpy as np
import pytest

from bogda.forecast import operational as op
from bogda.forecast.features import Panel
from bogda.forecast.models import FAST

SMALL = FAST.__class__("test", learning_rate=0.2, rounds_mean=10, rounds_quantile=5, max_rows=3000)


def _panel(days: int = 200, seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    n, hours = 3, days * 24
    pm = rng.lognormal(4.0, 0.4, (n, hours))
    data = {"a34004": pm, "a34002": pm * 1.5, "a21004": rng.lognormal(3.0, 0.3, (n, hours))}
    coords = {f"S{i}": (44.0, 87.0 + 0.1 * i) for i in range(n)}
    return Panel(date(2024, 1, 1), tuple(coords), data, coords)


def test_the_daily_sets_read_the_other_pollutants_and_the_bundle_records_them(monkeypatch: pytest.MonkeyPatch) -> None:
    panel = _panel()
    fit = partial(op.train_operational, min_days=120, profile=SMALL, blocks=((1, 72),), horizons=(1,), train_end=179)
    bundle, _ = fit(panel)
    assert bundle is not None and bundle.daily_pollutants == ("a34004", "a34002", "a21004")
    names = bundle.items["a34004"].daily[1].feature_names
    assert "PM10_day0" in names and "NO2_day0" in names and "PM2.5_day0" not in names  # the target is yd_lag0
    # a refresh on a panel whose NO2 analyser is down (the store's column all empty) still answers
    bare = Panel(panel.first_day, panel.stations, dict(panel.data), panel.coords)
    bare.data["a21004"] = np.full_like(panel.data["a21004"], np.nan)
    fc = op.forecast_daily(bare, "a34004", 185 * 24 + 17, horizons=(1,), models=bundle)
    assert fc.primary == "lgbm_none" and np.isfinite(fc.methods["lgbm_none"]).all()
    # a bundle trained before the field existed (its own series only) keeps its features at refresh
    monkeypatch.setattr(op, "daily_pollutants", lambda panel: ())
    old, _ = fit(panel)
    assert old is not None and old.daily_pollutants == ()
    assert not any(n.endswith("_day0") for n in old.items["a34004"].daily[1].feature_names)
    fc = op.forecast_daily(panel, "a34004", 185 * 24 + 17, horizons=(1,), models=old)
    assert fc.primary == "lgbm_none" and np.isfinite(fc.methods["lgbm_none"]).all()


def test_the_cache_puts_the_items_own_series_first_and_keeps_it() -> None:
    panel = _panel(days=3)
    own = np.full((3, 3), 7.0)
    dc = op.daily_cache(panel, "a34002", own, ("a34004", "a34002", "a05024"), ())
    assert list(dc.mean) == ["a34002", "a34004"]  # the panel holds no O3
    assert (dc.mean["a34002"] == 7.0).all() and dc.mean["a34004"].shape == (3, 3)
