"""Stations with fewer than 365 days take their area's climatology (forecast.md §3.2)."""

from __future__ import annotations

import numpy as np

from bogda.forecast import operational as op
from bogda.forecast.features import panel_from_frame
from bogda.forecast.models import FAST
from bogda.forecast.synthetic import synthetic_frame


def test_a_short_station_serves_and_learns_from_its_county_climatology() -> None:
    frame, coords = synthetic_frame(4, 420, seed=5)
    panel = panel_from_frame(frame, list(op.HOURLY_ITEMS), coords=coords)
    short = panel.stations[3]
    panel.data["a34004"][3, : 320 * 24] = np.nan  # a station installed 100 days ago
    county = op.Target("C1", "county", members=tuple(panel.stations))
    panel = op.with_areas(panel, [county])
    small = FAST.__class__("test", learning_rate=0.1, rounds_mean=20, rounds_quantile=10, max_rows=3000)
    kw = dict(profile=small, blocks=((1, 1),), horizons=(1,), train_end=panel.n_days - 2)
    own, _ = op.train_operational(panel, ["a34004"], **kw)
    lent, _ = op.train_operational(panel, ["a34004"], areas_of={short: ["C1"], panel.stations[0]: ["C1"]}, **kw)
    assert own is not None and lent is not None
    m_own, m_lent = own.items["a34004"], lent.items["a34004"]
    # the short station's own tables are built from 100 days (most months empty); with the county's they are full
    assert np.isnan(m_own.clim_month_hour[short]).any()
    np.testing.assert_array_equal(m_lent.clim_month_hour[short], m_lent.clim_month_hour["C1"])
    np.testing.assert_array_equal(m_lent.clim_doy[short][1:], m_lent.clim_doy["C1"][1:])
    # a station with a full year keeps its own climatology even when it has an area
    first = panel.stations[0]
    np.testing.assert_array_equal(m_lent.clim_month_hour[first], m_own.clim_month_hour[first])
    assert not np.array_equal(m_lent.clim_month_hour[first], m_lent.clim_month_hour["C1"])
