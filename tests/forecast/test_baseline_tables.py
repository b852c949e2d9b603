"""The baselines' training climatologies (forecast.md §3.3): fitted by the nightly training whatever the history's
length, read by every refresh, with the refresh's own history where they hold nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from bogda.forecast import operational as op
from bogda.forecast import service as sv
from bogda.forecast.features import Panel, beijing_calendar, panel_from_frame
from bogda.forecast.synthetic import synthetic_frame
from bogda.store import Store

ITEM = "a34004"


@pytest.fixture(scope="module")
def two_years() -> Panel:
    frame, coords = synthetic_frame(3, 730, seed=11)
    return panel_from_frame(frame, list(op.HOURLY_ITEMS), coords=coords)


def _window(panel: Panel, first: int, days: int) -> Panel:
    """Days [first, first + days) of ``panel`` as a panel of its own, as a refresh reads its last 35 days."""
    return Panel(
        panel.day_of(first),
        panel.stations,
        {k: v[:, first * 24 : (first + days) * 24] for k, v in panel.data.items()},
        panel.coords,
    )


def test_tables_hold_the_training_means_and_fitted_damping(two_years: Panel) -> None:
    tables = op.fit_baselines(two_years, train_end=599)
    assert (tables.first_day, tables.last_day) == (two_years.day_of(0), two_years.day_of(599))
    h = tables.hourly[ITEM]
    assert h.codes == two_years.stations and h.month_hour.shape == (3, 12, 24) and h.knots == op.FIT_LEADS
    # the (January, 08 h) cell is the plain mean of the window's January 08 h values of the station
    t = np.arange(600 * 24)
    cal = beijing_calendar(two_years, t)
    sel = (cal["month"] == 1) & (t % 24 == 8)
    x = two_years.data[ITEM][1, t[sel]]
    assert h.month_hour[1, 0, 8] == pytest.approx(np.nanmean(x))
    # the synthetic anomalies are AR(1) with φ ≈ 0.9–0.97 (hourly): a falls with lead, from near 1 at 1 h
    a1, a72 = h.a[:, 0], h.a[:, -1]
    assert (a1 > 0.85).all() and (a1 < 1.0).all() and (a72 < a1 - 0.3).all()
    assert (h.sigma[:, -1] > h.sigma[:, 0]).all()  # the spread grows with lead
    d = tables.daily[ITEM]
    assert d.doy.shape == (3, 367) and d.a.shape == (3, op.BASELINE_LAGS_D)
    assert (d.a[:, 0] > d.a[:, 6]).all() and (d.a[:, 0] != op.reference_damping_daily(1)).all()
    assert set(tables.daily) == set(op.DAILY_ITEMS) and set(tables.hourly) == set(op.HOURLY_ITEMS)


def test_training_climatology_beats_the_recent_mean_in_autumn(two_years: Panel) -> None:
    """The point of §3.3's training climatology: 35 days of history lag the season. Over the autumn after the
    window, damped persistence at D+7 is closer to what happened with the tables than with the recent mean."""
    tables = op.fit_baselines(two_years, train_end=599)
    err_tab, err_own = [], []
    for issue_day in range(640, 700):
        win = _window(two_years, issue_day - 35, 35 + 8)
        t_issue = 35 * 24 + 15
        obs = op.daily_item(win, ITEM)[:, 35 + 7]
        with_tab = op.forecast_daily(win, ITEM, t_issue, horizons=(7,), baselines=tables)
        own = op.forecast_daily(win, ITEM, t_issue, horizons=(7,))
        assert "climatology_doy15" in with_tab.methods and "climatology_mean" in own.methods
        err_tab.append(with_tab.methods["damped_persistence"][:, 0] - obs)
        err_own.append(own.methods["damped_persistence"][:, 0] - obs)
    rmse_tab = float(np.sqrt(np.nanmean(np.square(err_tab))))
    rmse_own = float(np.sqrt(np.nanmean(np.square(err_own))))
    assert rmse_tab < 0.93 * rmse_own, (rmse_tab, rmse_own)


def test_hourly_baselines_read_the_table_and_fall_back_per_row_and_cell(two_years: Panel) -> None:
    tables = op.fit_baselines(two_years, train_end=599)
    win = _window(two_years, 640, 40)
    t_issue = 35 * 24 + 15
    leads = np.arange(1, 73)
    own, s_own = op.hourly_baselines(win, ITEM, t_issue, leads)
    tab, s_tab = op.hourly_baselines(win, ITEM, t_issue, leads, table=tables.hourly[ITEM])
    # the climatology of lead 10 is the table's cell at the target's (month, Beijing hour)
    tgt = t_issue + 10
    cal = beijing_calendar(win, np.array([tgt]))
    cell = tables.hourly[ITEM].month_hour[:, int(cal["month"][0]) - 1, tgt % 24]
    np.testing.assert_allclose(tab["climatology_month_hour"][:, 9], cell)
    assert not np.allclose(own["climatology_hour"][:, 9], cell)
    # σ interpolated from the table's knots
    np.testing.assert_allclose(s_tab[:, 0], tables.hourly[ITEM].sigma[:, 0])
    # a station the table does not hold, and a month it never saw, take the refresh's own history
    h = tables.hourly[ITEM]
    partial = op.HourlyBaseline(h.codes[:2], h.month_hour[:2].copy(), h.knots, h.a[:2], h.sigma[:2])
    partial.month_hour[0, int(cal["month"][0]) - 1, :] = np.nan
    mixed, s_mixed = op.hourly_baselines(win, ITEM, t_issue, leads, table=partial)
    np.testing.assert_allclose(mixed["damped_persistence"][2], own["damped_persistence"][2])
    np.testing.assert_allclose(s_mixed[2], s_own[2])
    np.testing.assert_allclose(mixed["climatology_month_hour"][0, 9], own["climatology_hour"][0, 9])
    np.testing.assert_allclose(mixed["climatology_month_hour"][1, 9], cell[1])


def test_daily_baselines_use_the_day_of_year_climatology_and_the_fitted_lag(two_years: Panel) -> None:
    tables = op.fit_baselines(two_years, train_end=599)
    d = tables.daily[ITEM]
    win = _window(two_years, 640, 43)
    today = 35
    obs = op.daily_item(win, ITEM)
    hz = np.arange(1, 8)
    methods, sig = op.daily_baselines(obs, today, hz, table=d, panel=win)
    doy = beijing_calendar(win, np.array([(today + 3) * 24]))["doy"].astype(int)[0]
    np.testing.assert_allclose(methods["climatology_doy15"][:, 2], d.doy[:, doy])
    # persistence is today's mean (valid): lag k, so D+3 uses a and σ of lag 3
    assert np.isfinite(obs[:, today]).all()
    pers = obs[:, today]
    doy0 = beijing_calendar(win, np.array([today * 24]))["doy"].astype(int)[0]
    expect = d.doy[:, doy] + d.a[:, 2] * (pers - d.doy[:, doy0])
    np.testing.assert_allclose(methods["damped_persistence"][:, 2], expect)
    np.testing.assert_allclose(sig[:, 2], d.sigma[:, 2])
    with pytest.raises(ValueError, match="needs the panel"):
        op.daily_baselines(obs, today, hz, table=d)


def test_a_short_history_still_gets_tables_and_stations_borrow_the_area_climatology(two_years: Panel) -> None:
    """Weeks of data: the months never seen stay empty (the refresh falls back there); a station with fewer than
    365 days takes its area's tables (§3.2), recorded in ``borrowed``."""
    short = _window(two_years, 100, 60)
    tables = op.fit_baselines(short)
    mh = tables.hourly[ITEM].month_hour
    assert np.isnan(mh[:, 11]).all() and np.isfinite(mh[:, short.day_of(10).month - 1]).all()
    assert not tables.borrowed
    # S002 lost all but 100 days: it borrows S000's tables (as if S000 were its county)
    data = {k: v.copy() for k, v in two_years.data.items()}
    data[ITEM][2, : 600 * 24] = np.nan
    p = Panel(two_years.first_day, two_years.stations, data, two_years.coords)
    tables = op.fit_baselines(p, areas_of={"S002": ["S000"]})
    assert f"{ITEM}: S002←S000" in tables.borrowed
    np.testing.assert_array_equal(tables.hourly[ITEM].month_hour[2], tables.hourly[ITEM].month_hour[0])
    np.testing.assert_array_equal(tables.daily[ITEM].doy[2], tables.daily[ITEM].doy[0])


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    from bogda.config import get_settings

    monkeypatch.setenv("BOGDA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_training_writes_tables_without_models_and_the_refresh_reads_them(demo_store: Store, data_dir: Path) -> None:
    """The demo's weeks of data train no model (< 365 days) but give the baselines their training tables; the
    installation's refresh reads them, an explicit ``models=`` refresh does not, an unreadable file is a reason."""
    notes: list[str] = []
    n, verdict = sv.train_gated(demo_store, items=("a34004",), skipped=notes)
    assert n == 0 and verdict is None and any("< 365" in s for s in notes)
    assert notes[0].startswith("baselines: training climatologies of ") and notes[0].endswith(" fitted")
    path = sv.baselines_path()
    assert path == data_dir / "forecast" / "baselines.pkl" and path.is_file()
    tables = sv.load_baselines(path)
    assert tables is not None and set(tables.daily) == set(op.DAILY_ITEMS)
    assert tables.last_day - tables.first_day > timedelta(days=20)
    res = sv.refresh(demo_store, write=False)
    assert res.status == "degraded" and not any("climatologies" in r for r in res.reasons)
    assert res.daily_aqi  # a full run on the tables
    methods = _daily_methods(demo_store, models="auto")
    assert "climatology_doy15" in methods and "climatology_mean" not in methods
    assert "climatology_mean" in _daily_methods(demo_store, models=None)
    path.write_bytes(b"not a pickle")
    res = sv.refresh(demo_store, write=False)
    assert any("baseline climatologies unreadable" in r for r in res.reasons)


def _daily_methods(store: Store, **kw: object) -> set[str]:
    import polars as pl

    res = sv.refresh(store, **kw)  # type: ignore[arg-type]
    vals = sv.run_values(store, res.run_id)
    return set(vals.filter(pl.col("resolution") == "day")["method"].unique())


def test_carbon_monoxide_spread_is_fitted_above_its_own_floor() -> None:
    """CO in mg/m³ (0.3–1.5): σ of the damped-persistence residuals is fitted in logs floored at 0.1 mg/m³, the
    item's published resolution; floored at 1, most pairs compared 1 with 1 and σ fell to the 0.05 minimum."""
    from bogda.forecast.baselines import fit_damping_series
    from bogda.forecast.scenarios import concentration_floor

    rng = np.random.default_rng(3)
    x = np.exp(rng.normal(np.log(0.6), 0.5, size=(1, 400)))
    clim = np.full_like(x, float(np.mean(x)))
    origins = np.arange(399)
    floor = concentration_floor("a21005")
    a, sig = fit_damping_series(x, clim, origins, 1, 0.5, 0.3, min_pairs=30, floor=floor)
    f = clim[0, 1:] + a[0] * (x[0, :-1] - clim[0, :-1])
    want = np.std(np.log(np.maximum(x[0, 1:], floor)) - np.log(np.maximum(f, floor)))
    assert sig[0] == pytest.approx(want) and sig[0] > 0.4
    old = fit_damping_series(x, clim, origins, 1, 0.5, 0.3, min_pairs=30)[1]
    assert old[0] < 0.25  # the old floor hid most of the spread
