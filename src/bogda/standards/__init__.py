"""Chinese air- and water-quality standards (floor 1, pure: no I/O but the package's own tables, no clock).

Modules
-------
versions
    Which version applies when (:func:`standard_for`, :func:`is_2026`).
aqi
    IAQI / AQI of HJ 633-2012 and HJ 633-2026, primary pollutants, missing items, inverse.
levels
    The six AQI levels: names (zh/en), official colours, health advice.
cube
    Dense hourly cube and the array kernels of the data-validity rules (daily means, O3 8 h, MDA8).
evaluation
    HJ 663 / GB 3095 statistics over frames: daily values, period statistics, compliance, day counts, areas.
limits
    GB 3095-2012 / GB 3095-2026 (transitional and 2031) concentration limits, exceedance.
composite
    Composite index (综合指数), year-on-year change, ranking.
warning_levels
    Heavy-pollution warning levels as a rule table (the 2024 and 2017 rule sets; 2018 is an alias of 2017).
water
    GB 3838-2002 surface-water classes, drinking-water sources, trophic index; GB/T 14848-2017 groundwater [R].
rounding
    GB/T 8170 rounding.
pollutants
    HJ 212-2017 pollutant codes and aliases.

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
    wide_from_long,
)
from bogda.standards.composite import composite_from_statistics, composite_index, rank, year_on_year
from bogda.standards.evaluation import (
    aggregate_sites,
    annual_evaluation,
    annual_evaluation_arrays,
    area_daily_concentrations,
    compliance,
    daily_concentrations,
    daily_means,
    day_counts,
    good_day_ratio,
    o3_8h,
    percentile,
    period_statistics,
)
from bogda.standards.limits import exceedance_multiple, exceeds, limit, stage_for
from bogda.standards.pollutants import POLLUTANTS, pollutant_code
from bogda.standards.rounding import round_half_even
from bogda.standards.warning_levels import warning_level, warning_rules
from bogda.standards.water import (
    drinking_source_compliant,
    groundwater_class,
    item_class,
    section_class,
    trophic_index,
    water_class,
)

__all__ = [
    "POLLUTANTS",
    "AqiResult",
    "aggregate_sites",
    "annual_evaluation",
    "annual_evaluation_arrays",
    "aqi_daily",
    "aqi_hourly",
    "area_daily_concentrations",
    "breakpoints",
    "categories",
    "category",
    "category_labels",
    "compliance",
    "composite_from_statistics",
    "composite_index",
    "concentration_at",
    "concentration_range",
    "daily_concentrations",
    "daily_means",
    "day_counts",
    "drinking_source_compliant",
    "exceedance_multiple",
    "exceeds",
    "good_day_ratio",
    "groundwater_class",
    "health_advice",
    "iaqi",
    "is_2026",
    "item_class",
    "limit",
    "o3_8h",
    "percentile",
    "period_statistics",
    "pollutant_code",
    "primary_pollutants",
    "rank",
    "round_half_even",
    "section_class",
    "stage_for",
    "standard_for",
    "trophic_index",
    "warning_level",
    "warning_rules",
    "water_class",
    "wide_from_long",
    "year_on_year",
]
