"""Chinese air- and water-quality standards (floor 1, pure: no I/O but the package's own tables, no clock).

Modules
-------
aqi
    IAQI / AQI of HJ 633-2012 and HJ 633-2026, categories, inverse, version selection (:func:`standard_for`).
evaluation
    HJ 663 / GB 3095 data-validity rules and statistics: daily means, O3 8 h, period evaluation, good-day ratio.
limits
    GB 3095-2012 / GB 3095-2026 (transitional and 2031) concentration limits, exceedance.
composite
    Composite index (综合指数), year-on-year change, ranking.
warning_levels
    Heavy-pollution warning levels as a rule table (2024 and 2018 rules).
water
    GB 3838-2002 surface-water classes, drinking-water sources, trophic index; GB/T 14848-2017 groundwater [R].
rounding
    GB/T 8170 rounding.

Units: µg/m³ for every air pollutant except CO [mg/m³]; water items mg/L unless stated.
"""

from __future__ import annotations

from bogda.standards.aqi import (
    AqiResult,
    aqi_daily,
    aqi_hourly,
    breakpoints,
    categories,
    category,
    category_labels,
    concentration_at,
    concentration_range,
    health_advice,
    iaqi,
    is_2026,
    primary_pollutants,
    standard_for,
)
from bogda.standards.pollutants import POLLUTANTS, pollutant_code
from bogda.standards.rounding import round_half_even

__all__ = [
    "POLLUTANTS",
    "AqiResult",
    "aqi_daily",
    "aqi_hourly",
    "breakpoints",
    "categories",
    "category",
    "category_labels",
    "concentration_at",
    "concentration_range",
    "health_advice",
    "iaqi",
    "is_2026",
    "pollutant_code",
    "primary_pollutants",
    "round_half_even",
    "standard_for",
]
