"""Noisy-proxy weather forecasts for the backtest (forecast.md §3.9, weather mode ``noisy_proxy``).

No archive of real NWP runs exists for the Beijing protocol years, so the release goals stated "with NWP"
(forecast.md §8 item 4: D+1..D+7 RMSE, level accuracy, TS) are checked on Dongsi in the *noisy proxy*: the daily
weather aggregates the daily models read for the target day and the day before are the observed ones plus Gaussian
noise of s.d. f_k × the aggregate's training s.d., with f = 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85 for a day k = 1..7
days after the issue day (f_0 = 0: the issue day itself is observed at issue time). It is an assumed error model,
not a measured one (§9: real NWP error at D+4..D+7 is probably larger).

Design choices where the spec is silent, each with its reason:

- **One noisy "run" per (station, issue day)**: the error of day D+j issued on day D is one draw, whether the
  D+j model reads it as its target day or the D+(j+1) model as its previous day, as an NWP run gives one value
  per valid day. Draws are independent across stations, variables, issue days and lead days.
- **Trained on observed weather, scored on noisy weather**, as the reference figures of
  ``forecast_benchmarks/dongsi_pm25_baselines.csv`` were made ("the test period's future weather gets Gaussian
  noise"): the model is the observed-weather model run on forecasts, the usual case when a model trained on
  analyses is fed NWP. ``ProtocolConfig(noisy_training=True)`` trains on the noisy runs too, as mode ``nwp``
  trains on archived runs as issued (docs/forecast.md §3.3 has both measured).
- **Intervals calibrated on the runs**: a model trained on observed weather has quantiles as narrow as observed
  weather allows; its split-conformal offsets are therefore computed on the noisy runs of the held-out training
  tail (``ProtocolConfig.noisy_calibration``, on by default; ``models.fit_model_set(x_calibrate=...)``), so that
  the p10–p90 interval carries the error the forecasts are issued with. The ``mean`` is untouched.
- **Bounds**: non-negative aggregates (wind speed, precipitation, relative humidity) are clipped at 0 as the spec
  says, and relative humidity also at 100 %, its physical bound.
- **Training s.d.**: of the daily aggregate over the training period's days, pooled over the training stations.
- **Deterministic**: the draws come from one seeded generator over the whole panel, so every monthly refit of a
  backtest sees the same runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

NOISE_FRACTIONS: tuple[float, ...] = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85)
"""f_k for a day k = 0..7 days after the issue day (forecast.md §3.9 ``noisy_proxy``; f_0: the issue day, observed)."""

NON_NEGATIVE: frozenset[str] = frozenset({"ws10_mean", "ws10_max", "precip_sum", "rh2m_mean", "rh2m_min"})
"""Daily aggregates clipped at 0 after the noise (forecast.md §3.9: "non-negative variables clipped at 0")."""

UPPER_BOUND: Mapping[str, float] = {"rh2m_mean": 100.0, "rh2m_min": 100.0}
"""Physical upper bounds [%] applied after the noise."""

NOISE_SEED: int = 7919
"""Added to the protocol's seed, so that the weather noise does not share a stream with the model's sampling."""


def noise_fraction(lead_days: int) -> float:
    """The noise s.d. as a fraction of the training s.d. for a valid day ``lead_days`` after the issue day.

    >>> noise_fraction(0), noise_fraction(1), noise_fraction(7)
    (0.0, 0.3, 0.85)

    Raises
    ------
    ValueError
        for a lead below 0 or beyond D+7, where the spec gives no fraction.
    """
    if not 0 <= lead_days < len(NOISE_FRACTIONS):
        raise ValueError(f"noisy_proxy: no noise fraction for lead {lead_days} d (the spec gives D+0..D+7)")
    return NOISE_FRACTIONS[lead_days]


def training_sd(weather: Mapping[str, np.ndarray], stations: Sequence[int], days: tuple[int, int]) -> dict[str, float]:
    """S.d. of each daily aggregate (n_stations, n_days) over ``days`` (first, last; inclusive) of ``stations``.

    >>> training_sd({"t2m_mean": np.array([[1.0, 3.0, np.nan]])}, [0], (0, 2))
    {'t2m_mean': 1.0}
    """
    out = {}
    for name, arr in weather.items():
        v = arr[np.asarray(stations)][:, days[0] : days[1] + 1]
        v = v[np.isfinite(v)]
        out[name] = float(v.std()) if v.size > 1 else float("nan")
    return out


def apply_bounds(name: str, values: np.ndarray) -> np.ndarray:
    """Clip ``values`` of the aggregate ``name`` to its physical range (NaN stays NaN).

    >>> apply_bounds("rh2m_mean", np.array([-3.0, 50.0, 104.0, np.nan])).tolist()
    [0.0, 50.0, 100.0, nan]
    >>> apply_bounds("t2m_mean", np.array([-3.0])).tolist()
    [-3.0]
    """
    if name in NON_NEGATIVE:
        values = np.where(values < 0, 0.0, values)
    if name in UPPER_BOUND:
        values = np.where(values > UPPER_BOUND[name], UPPER_BOUND[name], values)
    return values


@dataclass
class NoisyDailyWeather:
    """Observed daily weather aggregates with the noisy proxy's forecast error (a ``future`` of the daily models).

    ``weather`` holds the observed aggregates (``DailyCache.weather``: name → (n_stations, n_days)) and gives the
    daily models the same input names as mode ``observed_proxy``; :meth:`perturb` adds the error of the run issued
    on a given day. ``z``: the standard-normal draws, name → (n_stations, n_days, 8), lead day last.
    """

    weather: dict[str, np.ndarray]
    sd: dict[str, float]
    z: dict[str, np.ndarray]

    @classmethod
    def from_observed(
        cls, weather: Mapping[str, np.ndarray], stations: Sequence[int], train_days: tuple[int, int], *, seed: int = 0
    ) -> NoisyDailyWeather:
        """Draw the runs for every (station, issue day) of the panel; s.d. from ``train_days`` of ``stations``."""
        rng = np.random.default_rng(seed + NOISE_SEED)
        z = {name: rng.standard_normal((*arr.shape, len(NOISE_FRACTIONS))) for name, arr in sorted(weather.items())}
        return cls(dict(weather), training_sd(weather, stations, train_days), z)

    def perturb(
        self, name: str, values: np.ndarray, s: np.ndarray, issue_day: np.ndarray, lead_days: int
    ) -> np.ndarray:
        """``values`` (observed, of day ``issue_day + lead_days`` at stations ``s``) as the run issued on
        ``issue_day`` forecasts them: + f_lead × s.d. × z, then clipped to the physical range."""
        f = noise_fraction(lead_days)
        if f == 0.0:
            return values
        z = self.z[name]
        d = np.clip(issue_day, 0, z.shape[1] - 1)
        return apply_bounds(name, values + f * self.sd[name] * z[s, d, lead_days])
