"""Days avoided: counterfactual evaluation of an intervention (forecast.md §3.9 "Days avoided", §4, §8 check 5).

The question "how many heavy days did the measures save?" is answered against a counterfactual: a model of the
daily concentration from weather, calendar and **control stations outside the footprint**, fitted on a reference
window without the intervention and with **no lagged target** and **no trend term** (§3.9 step 2), so that the
intervention cannot leak into its own baseline. The counterfactual count of event days is compared with the
observed count (step 4) and the result is shown only after the method passed its validation (step 5): placebo in
time and in space (the method must find nothing), injection (an artificial cut must be recovered) and calibration
(heavy-day Brier skill score ≥ 0.6).

All pure functions except the LightGBM fits (deterministic: one thread, fixed seeds), in one module per part:

- :mod:`.params`: ``AvoidedParams`` and the names shared by the others (weather columns, labels, verdicts);
- :mod:`.inputs`: ``feature_table`` and the daily weather, the heating season, ``hourly_from_store`` (stored
  observations) and ``stored_nwp`` (BLH, radiation and cloud of the stored NWP runs);
- :mod:`.counterfactual`: ``fit_counterfactual`` → ``estimate`` (ensemble of 3 windows × 3 seeds, out-of-fold
  residuals over 5 contiguous blocks → σ, event probabilities, analytic count, Monte Carlo avoided with a 7-day
  moving-block bootstrap);
- :mod:`.checks`: ``placebo_check`` / ``placebo_space_checks`` / ``placebo_time_checks`` / ``calibration_check`` /
  ``injection_test`` / ``sensitivity_check`` → ``verdict``;
- :mod:`.records`: ``InterventionResult``, ``store_result`` (table ``intervention_eval``), ``read_results``,
  ``presentation``;
- :mod:`.aqi`: the AQI events (heavy day, ozone day) with dust-affected days apart;
- :mod:`.evaluation`: ``evaluate_intervention`` / ``evaluate_aqi_intervention`` (one window with its placebo years
  and control stations), ``sensitivity``, ``evaluate_stored`` / ``evaluate_stored_aqi`` (from the store);
- :mod:`.check5`: ``check5``, the §8 acceptance protocol on the Beijing files, and ``check5_aqi``, the same protocol
  for the heavy-day AQI event.

Units: concentrations µg/m³ (CO mg/m³); residuals and σ in natural-log units; counts in days.
"""

from bogda.forecast.avoided.aqi import (
    AQI_ITEMS,
    DUST_PM10_MIN,
    DUST_RATIO_MAX,
    EVENT_HEAVY,
    EVENT_OZONE,
    EVENTS,
    AqiCounterfactual,
    aqi_draws,
    aqi_event_matrix,
    dust_days,
    dust_summary,
    estimate_aqi,
    fit_aqi_counterfactual,
    injection_test_aqi,
)
from bogda.forecast.avoided.check5 import (
    CHECK5_CONTROL,
    CHECK5_SPLITS,
    CHECK5_TARGET,
    Check5Row,
    check5,
    check5_aqi,
    check5_aqi_frames,
    check5_table,
    evaluate_split,
)
from bogda.forecast.avoided.checks import (
    MIN_REFERENCE_DAYS,
    Check,
    as_targets,
    calibration_check,
    injection_days,
    injection_test,
    placebo_check,
    placebo_space_checks,
    placebo_time_checks,
    sensitivity_check,
    sensitivity_variants,
    verdict,
)
from bogda.forecast.avoided.counterfactual import (
    Counterfactual,
    Estimate,
    analytic_count,
    block_bootstrap,
    contiguous_blocks,
    estimate,
    event_probability,
    fit_counterfactual,
    fit_ensemble,
    fit_predict,
    lag1_autocorrelation,
    lgb_params,
    log_target,
    mde_log,
    monte_carlo_counts,
    n_effective,
    oof_residuals,
    reliability_table,
)
from bogda.forecast.avoided.evaluation import (
    evaluate_aqi_intervention,
    evaluate_intervention,
    evaluate_stored,
    evaluate_stored_aqi,
    sensitivity,
    window_estimates,
    with_trend,
    without_control,
)
from bogda.forecast.avoided.inputs import (
    NWP_MAX_LEAD_H,
    NWP_MIN_COVERAGE,
    NWP_MIN_HOURS,
    O3_CODE,
    STORE_WEATHER,
    FeatureTable,
    daily_item,
    daily_max_8h,
    daily_mean,
    daily_weather,
    feature_table,
    format_heating_season,
    heating_flag,
    hourly_from_store,
    nwp_analysis_hourly,
    nwp_coverage,
    nwp_from_store,
    nwp_inputs,
    optional_weather,
    parse_heating_season,
    stored_nwp,
)
from bogda.forecast.avoided.params import (
    BEIJING_HEATING,
    DAY_HOURS,
    LABEL_CONTROLLED,
    LABEL_WEATHER_ONLY,
    LAG_VARS,
    NIGHT_HOURS,
    OPTIONAL_VARS,
    VERDICTS,
    WEATHER_VARS,
    AvoidedParams,
)
from bogda.forecast.avoided.records import (
    InterventionResult,
    presentation,
    read_result,
    read_results,
    result_record,
    store_result,
)
from bogda.forecast.resample import block_indices

__all__ = [
    "AQI_ITEMS",
    "BEIJING_HEATING",
    "CHECK5_CONTROL",
    "CHECK5_SPLITS",
    "CHECK5_TARGET",
    "DAY_HOURS",
    "DUST_PM10_MIN",
    "DUST_RATIO_MAX",
    "EVENTS",
    "EVENT_HEAVY",
    "EVENT_OZONE",
    "LABEL_CONTROLLED",
    "LABEL_WEATHER_ONLY",
    "LAG_VARS",
    "MIN_REFERENCE_DAYS",
    "NIGHT_HOURS",
    "NWP_MAX_LEAD_H",
    "NWP_MIN_COVERAGE",
    "NWP_MIN_HOURS",
    "O3_CODE",
    "OPTIONAL_VARS",
    "STORE_WEATHER",
    "VERDICTS",
    "WEATHER_VARS",
    "AqiCounterfactual",
    "AvoidedParams",
    "Check",
    "Check5Row",
    "Counterfactual",
    "Estimate",
    "FeatureTable",
    "InterventionResult",
    "analytic_count",
    "aqi_draws",
    "aqi_event_matrix",
    "as_targets",
    "block_bootstrap",
    "block_indices",
    "calibration_check",
    "check5",
    "check5_aqi",
    "check5_aqi_frames",
    "check5_table",
    "contiguous_blocks",
    "daily_item",
    "daily_max_8h",
    "daily_mean",
    "daily_weather",
    "dust_days",
    "dust_summary",
    "estimate",
    "estimate_aqi",
    "evaluate_aqi_intervention",
    "evaluate_intervention",
    "evaluate_split",
    "evaluate_stored",
    "evaluate_stored_aqi",
    "event_probability",
    "feature_table",
    "fit_aqi_counterfactual",
    "fit_counterfactual",
    "fit_ensemble",
    "fit_predict",
    "format_heating_season",
    "heating_flag",
    "hourly_from_store",
    "injection_days",
    "injection_test",
    "injection_test_aqi",
    "lag1_autocorrelation",
    "lgb_params",
    "log_target",
    "mde_log",
    "monte_carlo_counts",
    "n_effective",
    "nwp_analysis_hourly",
    "nwp_coverage",
    "nwp_from_store",
    "nwp_inputs",
    "oof_residuals",
    "optional_weather",
    "parse_heating_season",
    "placebo_check",
    "placebo_space_checks",
    "placebo_time_checks",
    "presentation",
    "read_result",
    "read_results",
    "reliability_table",
    "result_record",
    "sensitivity",
    "sensitivity_check",
    "sensitivity_variants",
    "store_result",
    "stored_nwp",
    "verdict",
    "window_estimates",
    "with_trend",
    "without_control",
]
