"""Air-quality forecasting: features, baselines, LightGBM direct multi-horizon models, backtest, verification
(forecast.md). Pure core over Polars frames and NumPy arrays; the service layer comes with the store."""
